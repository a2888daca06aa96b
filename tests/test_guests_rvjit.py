"""The project's own guest programs (guests/) pass under rvjit: JIT and reference interpreter."""
import io
import time

import pytest

from guests.build import build_all, compiler, expected_stdout
from rvjit.backend.runloop import run_interpreted, run_native
from rvjit.machine import Machine, make_translator

pytestmark = pytest.mark.skipif(compiler() is None, reason="riscv64-unknown-elf-gcc not installed")

_PROGRAMS = build_all() if compiler() else {}


def run_guest(path, interpret=False, seconds=60.0):
    console = io.BytesIO()
    machine = Machine(128 << 20, console=console)
    machine.load_elf(str(path))
    machine.deadline = time.monotonic() + seconds
    if interpret:
        run_interpreted(machine, max_insns=20_000_000)
    else:
        run_native(machine, make_translator(machine))
    return machine.exit_code, console.getvalue().decode("latin-1")


@pytest.mark.parametrize("name", sorted(_PROGRAMS))
def test_guest_passes_on_jit(name):
    code, out = run_guest(_PROGRAMS[name])
    assert code == 0, f"{name} failed with status {code}: {out[-400:]}"
    expected = expected_stdout(name)
    if expected is not None:
        assert out == expected


@pytest.mark.parametrize("name", sorted(n for n in _PROGRAMS if n.startswith("isa/")))
def test_guest_passes_on_interpreter(name):
    code, out = run_guest(_PROGRAMS[name], interpret=True)
    assert code == 0, f"{name} failed with status {code}: {out[-400:]}"
