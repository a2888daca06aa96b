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


@pytest.mark.parametrize("threshold", [1 << 62, 2_000])
def test_per_tier_statistics_account_for_every_instruction(threshold, monkeypatch):
    """--stats splits the instructions run between the tiers: all in first-tier code when
    nothing gets hot; most in optimised regions when hot loops are promoted."""
    from rvjit.backend import promotion, translator as translator_module
    from rvjit.stats import format_run_stats
    monkeypatch.setattr(promotion, "HOT_THRESHOLD", threshold)
    monkeypatch.setattr(promotion, "WARM_THRESHOLD", threshold // 16)
    monkeypatch.setattr(promotion, "PROMOTE_INTERVAL", 0.0)
    machine = Machine(128 << 20, console=io.BytesIO())
    machine.load_elf(str(_PROGRAMS["c/numeric"]))
    translator = translator_module.Translator(machine.hart, background=False)
    rs = run_native(machine, translator)
    assert machine.exit_code == 0
    retired, first = machine.hart.instret(), translator.first_tier_insns()
    if threshold > retired:
        assert translator.stats.promoted == 0
        assert abs(first - retired) <= 64          # a block left early counts whole
    else:
        assert translator.stats.promoted > 0 and 0 < first < retired - 100_000
    report = format_run_stats(machine, translator, rs, 1.0)
    row = next(line for line in report.splitlines() if "first tier (threaded)" in line)
    assert f"{min(first, retired):,}" in row and f"{translator.stats.blocks:,}" in row
    assert _us_per_translated_insn(report, "first tier (threaded)") > 0
    if translator.stats.promoted:
        assert _us_per_translated_insn(report, "optimised regions") > 0


def _us_per_translated_insn(report, tier):
    """The 'us/insn translated' cell of a tier's row in the --stats report."""
    lines = report.splitlines()
    header = next(line for line in lines if "us/insn translated" in line)
    row = next(line for line in lines if tier in line)
    # cells are right-aligned: the column ends where its header ends
    end = header.index("us/insn translated") + len("us/insn translated")
    return float(row[:end].split()[-1])
