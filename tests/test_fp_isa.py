"""F and D instruction semantics through the reference interpreter.

Most tests replace the IEEE primitives with a stub that records its calls: what is checked here is
the instruction layer (encodings, mstatus.FS, rounding-mode resolution, NaN-boxing, sign flips),
not the arithmetic. Tests that need real arithmetic use rvjit.fp.softfloat and skip until it exists.
"""
import shutil
import struct
import subprocess
from fractions import Fraction

import pytest

from rvjit.frontend.decode import decode
from rvjit.frontend.lift import lift_insn
from rvjit.ir.builder import Builder, ILLEGAL
from rvjit.ir.interp import run_ops
from rvjit.isa import BY_NAME, INSTRUCTIONS
from rvjit.isa.fpcommon import FP_REGISTER_FIELDS
from rvjit.isa.spec import FORMATS

try:
    from rvjit.fp.softfloat import call as softfloat_call
except ImportError:
    softfloat_call = None

needs_softfloat = pytest.mark.skipif(softfloat_call is None, reason="rvjit.fp.softfloat not written yet")

MASK64 = (1 << 64) - 1
FS_OFF, FS_INITIAL, FS_CLEAN, FS_DIRTY = 0, 1, 2, 3
SD = 1 << 63
BOX = 0xFFFF_FFFF_0000_0000
CANON_S = 0x7FC0_0000
ONE_S, TWO_S, ONE_D, TWO_D = 0x3F80_0000, 0x4000_0000, 0x3FF0_0000_0000_0000, 0x4000_0000_0000_0000
OF, NX = 4, 1        # fflags bits

FD_INSNS = [d for d in INSTRUCTIONS if d.ext in ("f", "d")]
WITH_RM = [d for d in FD_INSNS if "rm" in dict(FORMATS[d.fmt])]
# Instructions that change no FP state: stores, and moves/classify into x registers.
CLEAN_INSNS = {"fsw", "fsd", "fmv.x.w", "fmv.x.d", "fclass.s", "fclass.d"}
STUB_RESULT = 0x1234_5678


class FakeHart:
    """Just enough hart for run_ops: registers, a few fields, 4 KiB of memory at 0, FP primitives
    either real (softfloat) or a stub that records each call."""

    def __init__(self, fs=FS_INITIAL, frm=0, real_fp=False):
        self.x = [0] * 32
        self.f = [0] * 32
        self.fields = {"mstatus": fs << 13, "frm": frm, "fflags": 0, "priv": 3, "resv": MASK64}
        self.mem = bytearray(4096)
        self.real_fp = real_fp
        self.fp_calls = []

    def get(self, name):
        return self.fields[name]

    def set(self, name, value):
        self.fields[name] = value

    def load(self, addr, size, kind):
        return int.from_bytes(self.mem[addr:addr + size], "little")

    def store(self, addr, value, size):
        self.mem[addr:addr + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")

    def csr(self, *args):
        raise AssertionError("F/D instructions do not access CSRs")

    def fp(self, prim, a, b, c, rm):
        self.fp_calls.append((prim, a, b, c, rm))
        if not self.real_fp:
            return STUB_RESULT
        result = softfloat_call(prim, a, b, c, rm)
        if isinstance(result, tuple):            # (bits, raised flags): accrue like the hart does
            result, flags = result
            self.fields["fflags"] |= flags
        return result

    def snapshot(self):
        return list(self.x), list(self.f), dict(self.fields), bytes(self.mem)


def encode(name, rd=0, rs1=0, rs2=0, rs3=0, rm=0, imm=0):
    """An instruction word from its table entry: the fixed bits plus the operand fields it has."""
    d = BY_NAME[name]
    word = d.match
    for field, _ in FORMATS[d.fmt]:
        if field == "imm" and d.fmt == "S":
            word |= ((imm >> 5) & 0x7F) << 25 | (imm & 0x1F) << 7
        elif field == "imm":
            word |= (imm & 0xFFF) << 20
        else:
            shift = {"rd": 7, "rs1": 15, "rs2": 20, "rs3": 27, "rm": 12}[field]
            word |= {"rd": rd, "rs1": rs1, "rs2": rs2, "rs3": rs3, "rm": rm}[field] << shift
    return word


def run(hart, word, pc=0x1000):
    insn = decode(word, pc)
    assert insn is not None, f"{word:#010x} does not decode"
    b = Builder(pc)
    lift_insn(b, insn)
    return run_ops(b.ops, b.insns, hart)


def assert_illegal(hart, word):
    before = hart.snapshot()
    ex = run(hart, word)
    assert (ex.kind, ex.cause, ex.tval) == ("trap", ILLEGAL, word)
    assert hart.snapshot() == before, "a trapping instruction must leave no trace"
    assert hart.fp_calls == []


def f32(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def f64(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def as_double(bits):
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


# --- encodings -------------------------------------------------------------------------------
def test_every_f_and_d_instruction_is_defined():
    names = {d.name for d in FD_INSNS}
    for p, fx in (("s", "w"), ("d", "d")):
        expected = {f"fl{fx}" if p == "s" else "fld", "fsw" if p == "s" else "fsd",
                    f"fmv.x.{fx}", f"fmv.{fx}.x", f"fclass.{p}", f"fsqrt.{p}"}
        expected |= {f"{op}.{p}" for op in ("fmadd", "fmsub", "fnmsub", "fnmadd", "fadd", "fsub",
                                           "fmul", "fdiv", "fsgnj", "fsgnjn", "fsgnjx", "fmin",
                                           "fmax", "feq", "flt", "fle")}
        expected |= {f"fcvt.{i}.{p}" for i in ("w", "wu", "l", "lu")}
        expected |= {f"fcvt.{p}.{i}" for i in ("w", "wu", "l", "lu")}
        assert expected <= names
    assert {"fcvt.s.d", "fcvt.d.s"} <= names
    assert len(names) == 62
    assert set(FP_REGISTER_FIELDS) == names


def _asm_operand(defn, field):
    if field == "imm(rs1)":
        return "-8(a1)"
    number = {"rd": 10, "rs1": 11, "rs2": 12, "rs3": 13}[field]
    return f"fa{number - 10}" if field in FP_REGISTER_FIELDS[defn.name] else f"a{number - 10}"


# gas 2.40 refuses a rounding mode on conversions that are always exact.
EXACT_CONVERSIONS = {"fcvt.d.s", "fcvt.d.w", "fcvt.d.wu"}


@pytest.mark.skipif(shutil.which("riscv64-unknown-elf-as") is None, reason="no RISC-V assembler")
def test_encodings_and_fields_match_the_assembler(tmp_path):
    from elftools.elf.elffile import ELFFile
    lines, expected = [], []
    for d in FD_INSNS:
        ops = [_asm_operand(d, f) for f in d.asm.split(", ")]
        has_rm = d in WITH_RM and d.name not in EXACT_CONVERSIONS
        if has_rm:
            ops.append("rup")
        lines.append(f"{d.name} {', '.join(ops)}")
        fields = {"rd": 10, "rs1": 11, "rs2": 12, "rs3": 13, "imm": -8}
        if d.name in EXACT_CONVERSIONS:
            fields["rm"] = 0                        # gas writes RNE for these
        elif has_rm:
            fields["rm"] = 3
        expected.append((d.name, fields))
    src = tmp_path / "fp.s"
    src.write_text(".option norvc\n" + "\n".join(lines) + "\n")
    obj = tmp_path / "fp.o"
    subprocess.run(["riscv64-unknown-elf-as", "-march=rv64gc", "-mno-relax", "-o", str(obj), str(src)],
                   check=True, capture_output=True)
    with open(obj, "rb") as fh:
        text = ELFFile(fh).get_section_by_name(".text").data()
    assert len(text) == 4 * len(lines), "an instruction was compressed or dropped"
    for n, (name, fields) in enumerate(expected):
        word = int.from_bytes(text[4 * n:4 * n + 4], "little")
        insn = decode(word, 0)
        assert insn is not None and insn.name == name, (lines[n], f"{word:#010x}")
        for field, value in insn.fields.items():
            assert value == fields[field], (lines[n], field)


# --- mstatus.FS --------------------------------------------------------------------------------
@pytest.mark.parametrize("defn", FD_INSNS, ids=lambda d: d.name)
def test_fs_off_makes_every_instruction_illegal(defn):
    hart = FakeHart(fs=FS_OFF)
    hart.f[2] = BOX | ONE_S
    hart.x[11] = 64
    assert_illegal(hart, encode(defn.name, rd=1, rs1=11 if defn.fmt in ("I", "S") else 2, rs2=2,
                                rs3=2, rm=0, imm=8))


@pytest.mark.parametrize("defn", FD_INSNS, ids=lambda d: d.name)
@pytest.mark.parametrize("fs", [FS_INITIAL, FS_CLEAN, FS_DIRTY])
def test_dirty_marking(defn, fs):
    hart = FakeHart(fs=fs)
    other_bits = 1 << 3 | 1 << 7 | 3 << 11       # MIE, MPIE, MPP: must be preserved
    hart.fields["mstatus"] |= other_bits
    hart.x[11] = 64
    ex = run(hart, encode(defn.name, rd=1, rs1=11 if defn.fmt in ("I", "S") else 2, rs2=2, rs3=2,
                          rm=0, imm=8))
    assert ex.kind == "jump" and ex.pc == 0x1004
    if defn.name in CLEAN_INSNS:
        assert hart.fields["mstatus"] == other_bits | fs << 13
    else:
        assert hart.fields["mstatus"] == other_bits | FS_DIRTY << 13 | SD


# --- rounding mode -----------------------------------------------------------------------------
@pytest.mark.parametrize("defn", WITH_RM, ids=lambda d: d.name)
def test_static_rounding_modes(defn):
    for rm in range(5):
        hart = FakeHart(frm=4 - rm)
        assert run(hart, encode(defn.name, rd=1, rs1=2, rs2=3, rs3=4, rm=rm)).kind == "jump"
        assert [call[4] for call in hart.fp_calls] == [rm]
    for rm in (5, 6):                  # reserved, even where rounding cannot matter (fcvt.d.s ...)
        assert_illegal(FakeHart(), encode(defn.name, rd=1, rs1=2, rs2=3, rs3=4, rm=rm))


@pytest.mark.parametrize("defn", WITH_RM, ids=lambda d: d.name)
def test_dynamic_rounding_mode(defn):
    word = encode(defn.name, rd=1, rs1=2, rs2=3, rs3=4, rm=7)
    for frm in range(5):
        hart = FakeHart(frm=frm)
        assert run(hart, word).kind == "jump"
        assert [call[4] for call in hart.fp_calls] == [frm]
    for frm in (5, 6, 7):
        assert_illegal(FakeHart(frm=frm), word)


# --- NaN-boxing --------------------------------------------------------------------------------
@pytest.mark.parametrize("upper", [0xFFFF_FFFF, 0xFFFF_FFFE, 0, 0x7FFF_FFFF])
def test_single_operands_are_unboxed(upper):
    hart = FakeHart()
    hart.f[2] = upper << 32 | ONE_S
    hart.f[3] = BOX | TWO_S
    run(hart, encode("fadd.s", rd=1, rs1=2, rs2=3))
    a = ONE_S if upper == 0xFFFF_FFFF else CANON_S
    assert hart.fp_calls == [("add_s", a, TWO_S, 0, 0)]
    assert hart.f[1] == BOX | STUB_RESULT          # results are boxed


def test_double_operands_are_raw():
    hart = FakeHart()
    hart.f[2], hart.f[3], hart.f[4] = 0xFFFF_FFFF_3F80_0000, ONE_D, TWO_D
    run(hart, encode("fmadd.d", rd=1, rs1=2, rs2=3, rs3=4))
    assert hart.fp_calls == [("fma_d", 0xFFFF_FFFF_3F80_0000, ONE_D, TWO_D, 0)]
    assert hart.f[1] == STUB_RESULT


def test_conversions_between_precisions_box_and_unbox():
    hart = FakeHart()
    hart.f[2] = 0x0000_0001_3F80_0000              # improperly boxed
    run(hart, encode("fcvt.d.s", rd=1, rs1=2))
    run(hart, encode("fcvt.s.d", rd=3, rs1=2))
    assert hart.fp_calls == [("f2f_d_s", CANON_S, 0, 0, 0), ("f2f_s_d", 0x0000_0001_3F80_0000, 0, 0, 0)]
    assert hart.f[1] == STUB_RESULT and hart.f[3] == BOX | STUB_RESULT


def test_integer_conversions_use_x_registers():
    hart = FakeHart()
    hart.x[5] = 0xDEAD_BEEF_0000_0007
    run(hart, encode("fcvt.s.w", rd=1, rs1=5))     # the primitive takes the low 32 bits itself
    run(hart, encode("fcvt.d.lu", rd=2, rs1=5))
    hart.f[3] = BOX | ONE_S
    run(hart, encode("fcvt.wu.s", rd=6, rs1=3))
    assert hart.fp_calls == [("i2f_s_w", 0xDEAD_BEEF_0000_0007, 0, 0, 0),
                             ("i2f_d_lu", 0xDEAD_BEEF_0000_0007, 0, 0, 0),
                             ("f2i_wu_s", ONE_S, 0, 0, 0)]
    assert hart.f[1] == BOX | STUB_RESULT and hart.f[2] == STUB_RESULT and hart.x[6] == STUB_RESULT
    run(hart, encode("fcvt.l.d", rd=0, rs1=3))     # rd = x0 stays zero
    assert hart.x[0] == 0


def test_flw_boxes_and_fsw_stores_raw_low_bits():
    hart = FakeHart()
    hart.x[10] = 0x100
    hart.mem[0x108:0x110] = bytes.fromhex("0000803f55555555")
    run(hart, encode("flw", rd=1, rs1=10, imm=8))
    assert hart.f[1] == BOX | ONE_S
    hart.f[2] = 0x1234_5678_9ABC_DEF0            # not boxed: fsw is a transfer, stores it as-is
    run(hart, encode("fsw", rs1=10, rs2=2, imm=-0x10))
    assert hart.mem[0xF0:0xF8] == bytes.fromhex("f0debc9a00000000")


def test_fld_and_fsd_move_64_bits():
    hart = FakeHart()
    hart.x[10] = 0x100
    hart.mem[0x100:0x108] = (0x0123_4567_89AB_CDEF).to_bytes(8, "little")
    run(hart, encode("fld", rd=1, rs1=10))
    assert hart.f[1] == 0x0123_4567_89AB_CDEF
    run(hart, encode("fsd", rs1=10, rs2=1, imm=24))
    assert hart.mem[0x118:0x120] == hart.mem[0x100:0x108]


# --- sign injection --------------------------------------------------------------------------
NEG_ONE_S, NEG_ONE_D = ONE_S | 1 << 31, ONE_D | 1 << 63


@pytest.mark.parametrize("name, a, c, result", [
    ("fsgnj.s", BOX | ONE_S, BOX | NEG_ONE_S, BOX | NEG_ONE_S),
    ("fsgnj.s", BOX | NEG_ONE_S, BOX | ONE_S, BOX | ONE_S),
    ("fsgnjn.s", BOX | ONE_S, BOX | ONE_S, BOX | NEG_ONE_S),
    ("fsgnjn.s", BOX | ONE_S, BOX | NEG_ONE_S, BOX | ONE_S),
    ("fsgnjx.s", BOX | NEG_ONE_S, BOX | NEG_ONE_S, BOX | ONE_S),
    ("fsgnjx.s", BOX | NEG_ONE_S, BOX | ONE_S, BOX | NEG_ONE_S),
    # An improperly boxed input is the canonical NaN (positive), whose sign then gets injected.
    ("fsgnj.s", ONE_S, BOX | NEG_ONE_S, BOX | CANON_S | 1 << 31),
    ("fsgnjn.s", BOX | ONE_S, NEG_ONE_S, BOX | NEG_ONE_S),     # sign of +NaN, inverted
    ("fsgnjx.s", 0, 0, BOX | CANON_S),
    ("fsgnj.d", ONE_D, NEG_ONE_D, NEG_ONE_D),
    ("fsgnjn.d", NEG_ONE_D, NEG_ONE_D, ONE_D),
    ("fsgnjx.d", NEG_ONE_D, NEG_ONE_D, ONE_D),
    ("fsgnj.d", BOX | ONE_S, SD, BOX | ONE_S),                # D treats every pattern as raw bits
    ("fsgnjn.d", BOX | ONE_S, SD, (BOX | ONE_S) & ~SD),
])
def test_sign_injection(name, a, c, result):
    hart = FakeHart()
    hart.f[2], hart.f[3] = a, c
    run(hart, encode(name, rd=1, rs1=2, rs2=3))
    assert hart.f[1] == result
    assert hart.fp_calls == [] and hart.fields["fflags"] == 0


def test_fmv_s_of_an_unboxed_register_gives_canonical_nan():
    hart = FakeHart()
    hart.f[2] = ONE_S
    run(hart, encode("fsgnj.s", rd=1, rs1=2, rs2=2))     # the "fmv.s" pseudo-instruction
    assert hart.f[1] == BOX | CANON_S


# --- moves ---------------------------------------------------------------------------------
def test_fmv_x_w_sign_extends_low_bits_without_unboxing():
    hart = FakeHart()
    hart.f[2] = 0x0000_0000_8000_0001               # not boxed: still moved as-is
    run(hart, encode("fmv.x.w", rd=5, rs1=2))
    assert hart.x[5] == 0xFFFF_FFFF_8000_0001
    hart.f[2] = BOX | ONE_S
    run(hart, encode("fmv.x.w", rd=5, rs1=2))
    assert hart.x[5] == ONE_S
    assert hart.fp_calls == []


def test_fmv_w_x_boxes():
    hart = FakeHart()
    hart.x[5] = 0x1234_5678_9ABC_DEF0
    run(hart, encode("fmv.w.x", rd=1, rs1=5))
    assert hart.f[1] == BOX | 0x9ABC_DEF0


def test_fmv_d_x_and_fmv_x_d_are_raw():
    hart = FakeHart()
    hart.x[5] = 0x1234_5678_9ABC_DEF0
    run(hart, encode("fmv.d.x", rd=1, rs1=5))
    assert hart.f[1] == 0x1234_5678_9ABC_DEF0
    run(hart, encode("fmv.x.d", rd=6, rs1=1))
    assert hart.x[6] == 0x1234_5678_9ABC_DEF0
    run(hart, encode("fmv.d.x", rd=2, rs1=0))
    assert hart.f[2] == 0


# --- fused multiply-add sign flips ---------------------------------------------------------
@pytest.mark.parametrize("name, flip_a, flip_c", [
    ("fmadd", False, False), ("fmsub", False, True), ("fnmsub", True, False), ("fnmadd", True, True),
])
@pytest.mark.parametrize("p, sign", [("s", 1 << 31), ("d", 1 << 63)])
def test_fused_ops_flip_input_signs(name, flip_a, flip_c, p, sign):
    a, m, c = (0x3FC0_0000, 0x4000_0000, 0xBE80_0000) if p == "s" else (
        0x3FF8 << 48, 0x4000 << 48, 0xBFD0 << 48)
    hart = FakeHart()
    box = BOX if p == "s" else 0
    hart.f[2], hart.f[3], hart.f[4] = box | a, box | m, box | c
    run(hart, encode(f"{name}.{p}", rd=1, rs1=2, rs2=3, rs3=4, rm=1))
    assert hart.fp_calls == [(f"fma_{p}", a ^ (sign if flip_a else 0), m, c ^ (sign if flip_c else 0), 1)]
    assert hart.f[1] == box | STUB_RESULT


def _round_rne(exact: Fraction):
    """exact rounded to double (int / int true division rounds to nearest even); inexact flag."""
    value = exact.numerator / exact.denominator
    return value, Fraction(value) != exact


@needs_softfloat
@pytest.mark.parametrize("name, sign_product, sign_addend", [
    ("fmadd.d", 1, 1), ("fmsub.d", 1, -1), ("fnmsub.d", -1, 1), ("fnmadd.d", -1, -1),
])
@pytest.mark.parametrize("a, m, c", [(1.5, 2.0, 0.25), (1 / 3, 3.0, -1.0), (0.1, 0.2, 0.3),
                                     (2.0 ** 1000, 2.0 ** 1000, 1.0)])
def test_fused_ops_match_direct_computation(name, sign_product, sign_addend, a, m, c):
    hart = FakeHart(real_fp=True)
    hart.f[2], hart.f[3], hart.f[4] = f64(a), f64(m), f64(c)
    run(hart, encode(name, rd=1, rs1=2, rs2=3, rs3=4, rm=0))
    exact = sign_product * Fraction(a) * Fraction(m) + sign_addend * Fraction(c)
    if abs(exact) >= Fraction(2) ** 1024:
        assert hart.f[1] == f64(float("inf") if exact > 0 else float("-inf"))
        assert hart.fields["fflags"] == OF | NX
        return
    value, inexact = _round_rne(exact)
    assert as_double(hart.f[1]) == value and hart.f[1] == f64(value)
    assert hart.fields["fflags"] == (NX if inexact else 0)


@needs_softfloat
def test_fnmadd_of_zeros_is_negative_zero():
    # fnmadd is -(a*b) - c: with a*b = +0 and c = +0 both terms are -0, so the sum is -0.
    hart = FakeHart(real_fp=True)
    hart.f[2], hart.f[3], hart.f[4] = 0, ONE_D, 0
    run(hart, encode("fnmadd.d", rd=1, rs1=2, rs2=3, rs3=4, rm=0))
    assert hart.f[1] == 1 << 63


@needs_softfloat
def test_fused_single_flags_match_the_primitive():
    third, three, one = BOX | f32(1 / 3), BOX | f32(3.0), BOX | f32(1.0)
    hart = FakeHart(real_fp=True)
    hart.f[2], hart.f[3], hart.f[4] = third, three, one
    run(hart, encode("fmsub.s", rd=1, rs1=2, rs2=3, rs3=4, rm=0))
    direct = FakeHart(real_fp=True)
    expected = direct.fp("fma_s", f32(1 / 3), f32(3.0), f32(-1.0), 0)
    assert hart.f[1] == BOX | expected
    assert hart.fields["fflags"] == direct.fields["fflags"]


# --- results in x registers ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["feq.s", "flt.s", "fle.s", "feq.d", "flt.d", "fle.d"])
def test_compares_write_x_registers(name):
    hart = FakeHart()
    hart.f[2], hart.f[3] = BOX | ONE_S, 0x0000_0000_4000_0000     # rs2 unboxed for .s
    f_before = list(hart.f)
    run(hart, encode(name, rd=7, rs1=2, rs2=3))
    p = name[-1]
    expected_b = CANON_S if p == "s" else 0x4000_0000
    expected_a = ONE_S if p == "s" else BOX | ONE_S
    assert hart.fp_calls == [(name[:-2].replace("f", "", 1) + "_" + p, expected_a, expected_b, 0, 0)]
    assert hart.x[7] == STUB_RESULT and hart.f == f_before


@pytest.mark.parametrize("name", ["fclass.s", "fclass.d"])
def test_fclass_writes_an_x_register(name):
    hart = FakeHart()
    hart.f[2] = 0x7FF0_0000_0000_0000
    run(hart, encode(name, rd=7, rs1=2))
    expected = CANON_S if name.endswith("s") else 0x7FF0_0000_0000_0000
    assert hart.fp_calls == [(f"class_{name[-1]}", expected, 0, 0, 0)]
    assert hart.x[7] == STUB_RESULT and hart.f[7] == 0


@needs_softfloat
def test_compare_and_classify_with_real_primitives():
    hart = FakeHart(real_fp=True)
    hart.f[2], hart.f[3] = f64(1.0), f64(2.0)
    hart.f[4] = BOX | 0x7F80_0000                  # +inf single
    run(hart, encode("flt.d", rd=5, rs1=2, rs2=3))
    run(hart, encode("feq.d", rd=6, rs1=2, rs2=3))
    run(hart, encode("fclass.s", rd=7, rs1=4))
    run(hart, encode("fclass.s", rd=8, rs1=2))     # unboxed: canonical (quiet) NaN
    assert (hart.x[5], hart.x[6], hart.x[7], hart.x[8]) == (1, 0, 1 << 7, 1 << 9)
    assert hart.fields["fflags"] == 0
