"""Build every bare-metal guest program (guests/) and run it on QEMU's spike
machine, which implements HTIF: a program's exit status is what the guest
wrote to tohost (payload >> 1), 0 meaning every case passed.  Programs with
a guests/<kind>/<name>.expected file must print exactly that text.

Skipped when qemu-system-riscv64 or the riscv64-unknown-elf toolchain is
missing.  Set RVJIT_GUEST_CACHE to choose the build directory (default: the
guests.build cache directory).
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from guests import build as gb

QEMU = shutil.which("qemu-system-riscv64")
if QEMU is None:
    pytest.skip("qemu-system-riscv64 not on PATH", allow_module_level=True)
if gb.compiler() is None:
    pytest.skip("riscv64-unknown-elf-gcc not installed", allow_module_level=True)

TIMEOUT = 60  # seconds per QEMU run


def run_qemu(elf: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [QEMU, "-M", "spike", "-bios", "none", "-nographic", "-kernel", str(elf)],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT,
    )


@pytest.fixture(scope="module")
def guest_paths():
    out = os.environ.get("RVJIT_GUEST_CACHE") or gb.default_out_dir()
    return gb.build_all(out)


def test_every_extension_has_a_program():
    names = set(gb.sources())
    for n in ["isa/rv64i", "isa/m", "isa/a", "isa/c", "isa/f_arith", "isa/f_cvt", "isa/f_misc",
              "isa/d_arith", "isa/d_cvt", "isa/d_misc", "isa/zicsr", "isa/zifencei", "isa/zb",
              "isa/traps", "c/hello", "c/numeric"]:
        assert n in names
    assert gb.expected_stdout("c/hello") is not None


@pytest.mark.parametrize("name", sorted(gb.sources()))
def test_guest_passes_on_qemu(guest_paths, name):
    r = run_qemu(guest_paths[name])
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, f"{name}: exit status {r.returncode}\n{out}\n{r.stderr.decode(errors='replace')}"
    expected = gb.expected_stdout(name)
    if expected is not None:
        assert out == expected
    elif name.startswith("isa/"):
        assert "FAIL" not in out and "TRAP" not in out


def test_failure_reports_the_case_number(tmp_path):
    """A deliberately wrong expected value makes the program exit with that
    case's number and print FAIL <n>."""
    src = (gb.ISA_DIR / "m.S").read_text()
    # case 5 is "TEST_RR(5, mul, <expected>, a, b)": flip its expected value
    m = re.search(r"TEST_RR\(5, mul, (0x[0-9a-f]+),", src)
    assert m
    wrong = int(m.group(1), 16) ^ 1
    bad = tmp_path / "m_broken.S"
    bad.write_text(src.replace(m.group(0), f"TEST_RR(5, mul, {wrong:#x},"))
    elf = gb.build_file(bad, tmp_path / "m_broken.elf")
    r = run_qemu(elf)
    assert r.returncode == 5
    assert b"FAIL 5\n" in r.stdout


def test_unexpected_trap_is_a_failure(tmp_path):
    """An instruction that traps without a handler fails the current case."""
    src = tmp_path / "trap.S"
    src.write_text('#include "test_macros.h"\nTEST_BEGIN\n'
                   "    TEST_CASE(3, a0, 1, li a0, 1)\n"
                   "    TESTNUM_SET(4)\n    ecall\nTEST_END\n")
    elf = gb.build_file(src, tmp_path / "trap.elf")
    r = run_qemu(elf)
    assert r.returncode == 4
    assert b"TRAP 11 FAIL 4\n" in r.stdout
