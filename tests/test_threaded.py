"""The threaded first tier: handlers lifted once per definition with symbolic operands.

The guest programs run with threaded code only (never promoted), and with every block promoted
to optimised code after its first run; the lifting tests check which definitions need a handler
per concrete instruction word (a Python decision on an operand) and which do not.
"""
import io
import time

import pytest

from guests.build import build_all, compiler, expected_stdout
from rvjit.backend import translator as translator_module
from rvjit.backend import promotion, runloop
from rvjit.backend.runloop import run_native
from rvjit.backend.threaded import lift_handler, library
from rvjit.frontend.decode import decode
from rvjit.ir.builder import Builder
from rvjit.ir.ops import SymbolicDecision
from rvjit.isa import BY_NAME, INSTRUCTIONS
from rvjit.machine import Machine

_PROGRAMS = build_all() if compiler() else {}
needs_guests = pytest.mark.skipif(compiler() is None, reason="riscv64-unknown-elf-gcc not installed")


def run_guest(path, threshold, first_tier="threaded", seconds=60.0):
    console = io.BytesIO()
    machine = Machine(128 << 20, console=console)
    machine.load_elf(str(path))
    machine.deadline = time.monotonic() + seconds
    saved = promotion.HOT_THRESHOLD, promotion.PROMOTE_INTERVAL, runloop.POLL_INTERVAL_NS, runloop.SLICE
    promotion.HOT_THRESHOLD = threshold
    if threshold == 1:      # every block promoted after its first run, however short the run
        promotion.PROMOTE_INTERVAL = runloop.POLL_INTERVAL_NS = 0
        runloop.SLICE = 64  # back in the run loop often (new blocks need not bring it there)
    try:
        translator = translator_module.Translator(machine.hart, first_tier=first_tier, background=False)
        run_native(machine, translator)
    finally:
        promotion.HOT_THRESHOLD, promotion.PROMOTE_INTERVAL, runloop.POLL_INTERVAL_NS, runloop.SLICE = saved
    return machine.exit_code, console.getvalue().decode("latin-1"), translator


def _check(name, code, out):
    assert code == 0, f"{name} failed with status {code}: {out[-400:]}"
    expected = expected_stdout(name)
    if expected is not None:
        assert out == expected


@needs_guests
@pytest.mark.parametrize("name", sorted(_PROGRAMS))
def test_guest_on_threaded_code_only(name):
    code, out, translator = run_guest(_PROGRAMS[name], threshold=1 << 62)
    _check(name, code, out)
    assert translator.stats.promoted == 0
    assert translator.stats.threaded_blocks == translator.stats.blocks > 0


# Every block promoted after its first run: the switch from threaded to compiled code, and the
# lazily lifted IR of threaded blocks, for a mix of extensions (all programs would take minutes
# of -O2 compiling; isa/traps also needs its wfi reached within 10 ms of arming the timer).
PROMOTED = ["isa/rv64i", "isa/m", "isa/a", "isa/c", "isa/zb", "isa/zicsr", "isa/zifencei",
            "isa/f_misc", "priv/sintr", "priv/sv39"]


@needs_guests
@pytest.mark.parametrize("name", PROMOTED)
def test_guest_with_promotion(name):
    code, out, translator = run_guest(_PROGRAMS[name], threshold=1)
    _check(name, code, out)
    assert translator.stats.promoted > 0


@needs_guests
@pytest.mark.parametrize("name", ["isa/rv64i", "isa/zicsr", "priv/sv39"])
def test_compiled_first_tier_still_works(name):
    code, out, translator = run_guest(_PROGRAMS[name], threshold=1 << 62, first_tier="compiled")
    _check(name, code, out)
    assert translator.stats.threaded_blocks == 0


# --- lifting with symbolic operands ---------------------------------------------------------------
def _symbolic(name):
    return lift_handler(BY_NAME[name].semantics, {}) is not None


@pytest.mark.parametrize("name", ["csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci",
                                  "fadd.s", "fmul.d", "fmadd.d", "fsqrt.s", "fcvt.w.d", "fcvt.d.l"])
def test_operand_decisions_fall_back_to_specialised_handlers(name):
    assert not _symbolic(name)


@pytest.mark.parametrize("name", ["add", "addi", "slli", "sraiw", "lui", "auipc", "jal", "jalr",
                                  "beq", "bgeu", "lb", "lhu", "ld", "sb", "sd", "mul", "divw",
                                  "lr.d", "sc.w", "amoadd.d", "flw", "fsd", "fsgnj.s", "feq.d",
                                  "fmv.x.w", "ecall", "ebreak", "mret", "fence", "fence.i",
                                  "sh2add", "rori", "bseti", "clzw"])
def test_plain_instructions_lift_symbolically(name):
    assert _symbolic(name)


def test_only_operand_decisions_fall_back():
    """Exactly the CSR instructions and the FP instructions with a rounding-mode field."""
    fallback = {d.name for d in INSTRUCTIONS if not _symbolic(d.name)}
    assert fallback == {d.name for d in INSTRUCTIONS if d.ext == "zicsr" or d.fmt in ("RM", "R1M", "R4")}


def test_decisions_on_run_time_values_are_detected():
    b = Builder(0)
    v = b.field("rd")
    for decide in (lambda: bool(v), lambda: v == 0, lambda: v != 7, lambda: v >= 5, lambda: int(v),
                   lambda: [0, 1][v]):
        with pytest.raises(SymbolicDecision):
            decide()
    c = b.value(5)               # constants fold and behave as before
    assert (c + 2).const == 7 and int(c) == 5


def test_specialised_handler_per_instruction_word():
    lib = library()
    fadd_rne = decode(0x02B50553, 0x1000)                    # fadd.d fa0, fa0, fa1, rne
    fadd_dyn = decode(0x02B57553, 0x1000)                    # ... rm = dyn
    csrr = decode(0xF1402573, 0x1000)                         # csrr a0, mhartid
    addi = decode(0x00150513, 0x1000)                         # addi a0, a0, 1
    assert lib.key(addi) == "addi"
    assert lib.key(fadd_rne) == ("fadd.d", fadd_rne.raw)
    assert lib.key(fadd_dyn) == ("fadd.d", fadd_dyn.raw) != lib.key(fadd_rne)
    assert lib.key(csrr) == ("csrrs", csrr.raw)
    lib.compile_pending()
    for insn in (addi, fadd_rne, fadd_dyn, csrr):
        assert lib.addresses[lib.key(insn)]
