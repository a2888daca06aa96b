"""The inline fast path of double arithmetic and compares in compiled code (llvmgen FAST_FP).

Each instruction runs on edge-case operands, with fflags.NX clear and set and in several rounding
modes, in threaded code (whose handlers carry the fast path) and in optimised code; the result
and the accrued flags must equal rvjit.fp.softfloat's.
"""
import itertools
import struct

import pytest

from rvjit.backend import translator as translator_module
from rvjit.backend import promotion
from rvjit.backend.runloop import run_native
from rvjit.fp import softfloat
from rvjit.machine import Machine, RAM_BASE

MSTATUS_FS = 3 << 13
JUMP_TO_SELF = 0x0000006F


def d(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


MIN_NORMAL = 1 << 52
VALUES = [0, 1 << 63, d(1.0), d(-1.5), d(3.0), d(1e-300), d(1e300), d(-1e308), MIN_NORMAL,
          MIN_NORMAL + 1, MIN_NORMAL - 1, 1, (1 << 63) | MIN_NORMAL, 0x7FEFFFFFFFFFFFFF,
          0x7FF0000000000000, 0xFFF0000000000000, 0x7FF8000000000000, 0x7FF4000000000000,
          d(2.0 ** -1022 * 1.5), d(2.0 ** -511), d(0.1)]


def r_type(funct7, rs2, rs1, rm, rd, opcode=0x53):
    return funct7 << 25 | rs2 << 20 | rs1 << 15 | rm << 12 | rd << 7 | opcode


def fused(rs3, rs2, rs1, rm, rd, opcode):
    return rs3 << 27 | 1 << 25 | rs2 << 20 | rs1 << 15 | rm << 12 | rd << 7 | opcode


# name -> (encoding with rm, softfloat primitive, operand order, result in x register?)
def encodings(rm):
    return {
        "fadd.d": (r_type(0b0000001, 2, 1, rm, 3), "add_d"),
        "fsub.d": (r_type(0b0000101, 2, 1, rm, 3), "sub_d"),
        "fmul.d": (r_type(0b0001001, 2, 1, rm, 3), "mul_d"),
        "fdiv.d": (r_type(0b0001101, 2, 1, rm, 3), "div_d"),
        "fsqrt.d": (r_type(0b0101101, 0, 1, rm, 3), "sqrt_d"),
        "fmadd.d": (fused(4, 2, 1, rm, 3, 0x43), "fma_d"),
        "fnmsub.d": (fused(4, 2, 1, rm, 3, 0x4B), "fma_d"),
        "feq.d": (r_type(0b1010001, 2, 1, 0b010, 3), "eq_d"),
        "flt.d": (r_type(0b1010001, 2, 1, 0b001, 3), "lt_d"),
        "fle.d": (r_type(0b1010001, 2, 1, 0b000, 3), "le_d"),
    }


NAMES = list(encodings(0))


def expected(name, prim, a, b, c, rm, frm, fflags):
    rm = frm if rm == 7 else rm
    if name == "fnmsub.d":          # -(a*b) + c
        a ^= 1 << 63
    result, flags = softfloat.call(prim, a, b, c if prim == "fma_d" else 0, rm)
    return result, fflags | flags


@pytest.fixture(scope="module", params=["threaded", "optimised"])
def machine(request):
    m = Machine(16 << 20)
    saved = promotion.HOT_THRESHOLD
    promotion.HOT_THRESHOLD = 1 if request.param == "optimised" else 1 << 62
    m.translator = translator_module.Translator(m.hart, background=False)
    m.expected_tier = 1 if request.param == "optimised" else 0
    yield m
    promotion.HOT_THRESHOLD = saved


def run_one(m, name, rm, frm, fflags, a, b, c):
    """Run one instruction at a fresh address (one program per encoding)."""
    raw, prim = encodings(rm)[name]
    slot = RAM_BASE + 0x1000 + 8 * (NAMES.index(name) * 8 + rm)
    m.ram.write(slot, struct.pack("<II", raw, JUMP_TO_SELF))
    st = m.hart.state
    st.pc, st.mstatus, st.frm, st.fflags = slot, MSTATUS_FS, frm, fflags
    st.f[1], st.f[2], st.f[4], st.f[3], st.x[3] = a, b, c, 0, 0
    m.translator._next_promote_scan = 0       # the optimised fixture promotes on the second run
    run_native(m, m.translator, max_insns=m.hart.instret() + 1)
    assert st.pc in (slot + 4, slot)          # ran the instruction (and maybe the jump)
    m.last_tier = m.translator.blocks[(slot, slot)].tier
    return (st.x[3] if prim[:2] in ("eq", "lt", "le") else st.f[3]), st.fflags


@pytest.mark.parametrize("name", NAMES)
def test_fast_path_matches_softfloat(machine, name):
    raw, prim = encodings(0)[name]
    cases = itertools.product(VALUES, VALUES[::3] if prim == "fma_d" else VALUES,
                              [d(0.5), 0x7FF0000000000000] if prim == "fma_d" else [0])
    for (a, b, c), (rm, frm), fflags in itertools.product(cases, [(0, 0), (7, 0), (7, 1), (3, 0)], (0, 1)):
        if prim == "sqrt_d" and b != VALUES[0]:
            continue
        for _ in range(2):                 # the second run is optimised code in that fixture
            got = run_one(machine, name, rm, frm, fflags, a, b, c)
        assert machine.last_tier == machine.expected_tier
        want = expected(name, prim, a, b, c, rm, frm, fflags)
        assert got == want, (name, hex(a), hex(b), hex(c), rm, frm, fflags)
