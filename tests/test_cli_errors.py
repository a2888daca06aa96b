"""Bad input must give a one-line `rvjit: error:` message and status 2, never a traceback."""

from __future__ import annotations

import os
import platform
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rvjit import cli
from rvjit.errors import GuestInputError, RvjitError
from rvjit.soc import loader
from rvjit.soc.loader import check_elf, load_elf, load_flat, parse_mem_size

REPO = Path(__file__).resolve().parents[1]
GCC = shutil.which("riscv64-unknown-elf-gcc")
needs_gcc = pytest.mark.skipif(GCC is None, reason="riscv64-unknown-elf-gcc not installed")

PROGRAM_ASM = """
.text
.globl _start
_start:
    la a0, value
    ld a1, 0(a0)
1:  j 1b
.globl helper
.type helper, @function
helper:
    ret
.size helper, .-helper
.data
value: .dword 0x1122334455667788
.bss
buffer: .space {bss_size}
"""

SMALL_ASM = """
.text
.globl _start
_start:
    li a0, 1
1:  j 1b
"""

# Text and data in separate segments so the test sees two PT_LOADs at known places.
LINKER_SCRIPT = """
ENTRY(_start)
SECTIONS {
  . = 0x80000000;
  .text : { *(.text*) }
  . = 0x80002000;
  .data : { *(.data*) *(.sdata*) }
  .bss : { *(.bss*) *(.sbss*) }
}
"""


def build_elf(directory: Path, name: str, asm: str, *flags: str,
              march: str = "rv64gc", mabi: str = "lp64d") -> Path:
    src = directory / f"{name}.S"
    src.write_text(asm)
    out = directory / f"{name}.elf"
    subprocess.run([GCC, "-nostdlib", f"-march={march}", f"-mabi={mabi}", *flags,
                    "-o", str(out), str(src)], check=True, capture_output=True)
    return out


def build_program(directory: Path, name: str = "prog", bss_size: int = 64) -> Path:
    script = directory / "link.ld"
    script.write_text(LINKER_SCRIPT)
    return build_elf(directory, name, PROGRAM_ASM.format(bss_size=bss_size),
                     f"-Wl,-T,{script}")


@pytest.fixture(scope="module")
def elf_dir(tmp_path_factory) -> Path:
    if GCC is None:
        pytest.skip("riscv64-unknown-elf-gcc not installed")
    return tmp_path_factory.mktemp("elves")


@pytest.fixture(scope="module")
def program(elf_dir) -> Path:
    return build_program(elf_dir)


class FakeRam:
    def __init__(self, size: int = 1 << 20, base: int = 0x8000_0000):
        self.base, self.size = base, size
        self.mem = bytearray(b"\xaa" * size)  # not zero, so bss zeroing is visible

    def write(self, paddr: int, data: bytes) -> None:
        off = paddr - self.base
        assert 0 <= off and off + len(data) <= self.size
        self.mem[off:off + len(data)] = data

    def read(self, paddr: int, n: int) -> bytes:
        return bytes(self.mem[paddr - self.base:paddr - self.base + n])


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "rvjit", *map(str, args)],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=60)


def assert_input_error(result: subprocess.CompletedProcess, *needles: str) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("rvjit: error: "), lines[0]
    for needle in needles:
        assert needle.lower() in lines[0].lower(), (needle, lines[0])
    return lines[0]


def assert_usage_error(result: subprocess.CompletedProcess, needle: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    assert "usage:" in result.stderr
    assert needle.lower() in result.stderr.lower(), result.stderr


# ---- bad files through the command line -------------------------------------------

@pytest.mark.parametrize("command", [["run"], ["disasm"], ["explain", "--pc", "0x80000000"]])
def test_missing_file(tmp_path, command):
    missing = tmp_path / "nope.elf"
    line = assert_input_error(run_cli(*command, missing), "no such")
    assert str(missing) in line


def test_directory(tmp_path):
    assert_input_error(run_cli("run", tmp_path), str(tmp_path), "directory")


def test_empty_file(tmp_path):
    empty = tmp_path / "empty.elf"
    empty.write_bytes(b"")
    assert_input_error(run_cli("run", empty), "empty.elf", "empty")


def test_text_file(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello, I am not a program\n")
    assert_input_error(run_cli("run", text), "notes.txt", "not an ELF")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root can read any file")
def test_unreadable_file(tmp_path):
    secret = tmp_path / "secret.elf"
    secret.write_bytes(b"\x7fELF")
    secret.chmod(0)
    assert_input_error(run_cli("run", secret), "permission denied")


def test_x86_64_elf():
    host = os.path.realpath("/bin/true" if os.path.exists("/bin/true") else sys.executable)
    line = assert_input_error(run_cli("run", host), "not RISC-V")
    if platform.machine() in ("x86_64", "AMD64"):
        assert "x86-64" in line


# Cut inside the ELF header, the program headers, and the text (file offset 0x1000).
@pytest.mark.parametrize("cut", [20, 100, 0x1004])
def test_truncated_elf(program, tmp_path, cut):
    short = tmp_path / "short.elf"
    short.write_bytes(program.read_bytes()[:cut])
    assert_input_error(run_cli("run", short), "short.elf", "truncated")


@needs_gcc
def test_rv32_elf(tmp_path):
    elf = build_elf(tmp_path, "p32", SMALL_ASM, "-Wl,-Ttext=0x80000000",
                    march="rv32imac", mabi="ilp32")
    assert_input_error(run_cli("run", elf), "32-bit RISC-V ELF is not supported")


@needs_gcc
def test_linked_outside_ram(tmp_path):
    elf = build_elf(tmp_path, "low", SMALL_ASM, "-Wl,-Ttext=0x10000000")
    assert_input_error(run_cli("run", elf), "outside guest RAM", "0x80000000")


def test_segment_too_big_for_memory(elf_dir):
    big = build_program(elf_dir, "big", bss_size=2 << 20)
    line = assert_input_error(run_cli("run", big, "-m", "1M"), "big.elf", "outside guest RAM")
    assert "-m" in line and "1 MiB" in line


def test_boot_missing_kernel(program, tmp_path):
    assert_input_error(run_cli("boot", program, "-kernel", tmp_path / "Image"),
                       "Image", "no such kernel image")


def test_boot_missing_firmware(tmp_path):
    assert_input_error(run_cli("boot", tmp_path / "fw.bin"), "fw.bin", "no such")


# ---- bad flags and arguments ------------------------------------------------------

def test_unknown_subcommand():
    assert_usage_error(run_cli("frobnicate"), "invalid choice")


def test_unknown_flag(tmp_path):
    assert_usage_error(run_cli("run", tmp_path / "x.elf", "--turbo"), "--turbo")


def test_no_subcommand():
    result = run_cli()
    assert result.returncode == 2 and "usage:" in result.stderr


@pytest.mark.parametrize("value", ["0", "abc", "-5", "100G", "1.5B"])
def test_bad_memory_size(program, value):
    assert_input_error(run_cli("run", program, "-m", value), "memory size", value)


@pytest.mark.parametrize("value", ["zz", "0xzz", "-1", "1.5"])
def test_bad_pc(program, value):
    assert_usage_error(run_cli("explain", program, "--pc", value), "--pc")


def test_explain_needs_pc_or_symbol(program):
    assert_usage_error(run_cli("explain", program), "--pc")


@pytest.mark.parametrize("command", [[], ["run"], ["explain"], ["disasm"], ["boot"]])
def test_help(command):
    result = run_cli(*command, "--help")
    assert result.returncode == 0 and "usage:" in result.stdout and result.stderr == ""


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("rvjit ")


# ---- status codes of the error paths, in process -----------------------------------

@pytest.mark.parametrize("exc, status", [
    (GuestInputError("x.elf: bad\nthing"), 2),
    (RvjitError("guest blew up"), 1),
    (KeyboardInterrupt(), 130),
])
def test_error_statuses(monkeypatch, capsys, exc, status):
    def fail(*args, **kwargs):
        raise exc
    monkeypatch.setattr(loader, "check_elf", fail)
    assert cli._main(["disasm", "x.elf"]) == status
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if status != 130:
        assert len(err.splitlines()) == 1 and err.startswith("rvjit: error: ")


def test_main_exits_with_status():
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0


# ---- loader units ------------------------------------------------------------------

def test_load_elf_places_segments_and_zeroes_bss(program):
    ram = FakeRam()
    image = load_elf(program, ram)
    assert image.entry == 0x8000_0000
    assert image.segments == [(0x8000_0000, image.segments[0][1]), (0x8000_2000, 8 + 64)]
    assert ram.read(0x8000_2000, 8) == (0x1122334455667788).to_bytes(8, "little")
    assert ram.read(0x8000_2008, 64) == bytes(64)
    assert ram.read(0x8000_2048, 8) == b"\xaa" * 8  # nothing written past memsz
    assert image.symbols["_start"] == 0x8000_0000
    assert image.symbols["value"] == 0x8000_2000
    assert not any(name.startswith("$") for name in image.symbols)


def test_symbol_lookup(program):
    image = load_elf(program, FakeRam())
    helper = image.symbols["helper"]
    assert image.symbol_at(0x8000_0004) == ("_start", 4)
    assert image.symbol_at(helper) == ("helper", 0)
    assert image.symbol_at(0x9000_0000) is None
    assert image.function_range("helper") == (helper, 2)
    assert image.function_range("_start") == (0x8000_0000, helper - 0x8000_0000)
    with pytest.raises(GuestInputError, match="no function named 'helpr'.*helper"):
        image.function_range("helpr")


def test_load_elf_rejects_small_ram(program):
    with pytest.raises(GuestInputError, match="outside guest RAM"):
        load_elf(program, FakeRam(size=0x1000))


def test_load_flat(tmp_path):
    blob = tmp_path / "fw.bin"
    blob.write_bytes(b"\x13\x00\x00\x00" * 4)
    ram = FakeRam()
    image = load_flat(blob, ram, 0x8000_0100)
    assert image.entry == 0x8000_0100 and image.segments == [(0x8000_0100, 16)]
    assert ram.read(0x8000_0100, 16) == blob.read_bytes()
    with pytest.raises(GuestInputError, match="fw.bin.*outside guest RAM.*-m"):
        load_flat(blob, ram, 0x8000_0000 + ram.size - 8)
    with pytest.raises(GuestInputError, match="no such"):
        load_flat(tmp_path / "missing.bin", ram, 0x8000_0000)


def test_every_truncation_is_an_input_error(program, tmp_path):
    data = program.read_bytes()
    short = tmp_path / "cut.elf"
    for cut in list(range(0, 80, 3)) + list(range(80, len(data), 97)):
        short.write_bytes(data[:cut])
        with pytest.raises(GuestInputError):
            check_elf(short)


def test_corrupted_headers_never_crash(program, tmp_path):
    data = program.read_bytes()
    mutant = tmp_path / "mutant.elf"
    rng = random.Random(1234)
    for _ in range(300):
        buf = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            buf[rng.randrange(4, 0x100)] = rng.randrange(256)  # ELF and program headers
        mutant.write_bytes(bytes(buf))
        try:
            load_elf(mutant, FakeRam())
        except GuestInputError:
            pass


@pytest.mark.parametrize("text, size", [
    ("128M", 128 << 20), ("128m", 128 << 20), ("1G", 1 << 30), ("1g", 1 << 30),
    ("512", 512 << 20), ("64MiB", 64 << 20), ("2GiB", 2 << 30), ("64MB", 64 << 20),
    ("4096K", 4 << 20), ("1.5G", 3 << 29), ("4096B", 4096), ("64G", 64 << 30),
])
def test_parse_mem_size(text, size):
    assert parse_mem_size(text) == size


@pytest.mark.parametrize("text", ["0", "0M", "-5", "-1G", "abc", "", "12X", "M",
                                  "65G", "1T", "0.5B", "iB"])
def test_parse_mem_size_rejects(text):
    with pytest.raises(GuestInputError, match="memory size"):
        parse_mem_size(text)


@pytest.mark.parametrize("value", ["0", "big", "1.5G"])
def test_bad_cache_size(program, value):
    result = run_cli("run", program, "--cache-size", value)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--cache-size" in result.stderr and value in result.stderr
