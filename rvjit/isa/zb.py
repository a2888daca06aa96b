"""Zba, Zbb, Zbs: the ratified bit-manipulation extensions (RV64 encodings, bitmanip spec 1.0.0)."""
from .spec import insn

OP, OP_IMM, OP_32, OP_IMM_32 = "0110011", "0010011", "0111011", "0011011"


def _reg(name, f7, f3, opcode, fn, ext):
    @insn(name, f"{f7} ..... ..... {f3} ..... {opcode}", "R", "rd, rs1, rs2", ext=ext)
    def sem(b, i):
        b.wx(i.rd, fn(b, b.rx(i.rs1), b.rx(i.rs2)))


def _unary(name, top12, f3, opcode, fn, ext):
    @insn(name, f"{top12} ..... {f3} ..... {opcode}", "R1", "rd, rs1", ext=ext)
    def sem(b, i):
        b.wx(i.rd, fn(b, b.rx(i.rs1)))


def _shamt(name, top, f3, opcode, fn, ext):
    """Immediate forms: 6-bit shamt/index under a 6-bit funct, or 5-bit under 7 bits (W forms)."""
    if len(top) == 6:
        pattern, fmt = f"{top} ...... ..... {f3} ..... {opcode}", "SH"
    else:
        pattern, fmt = f"{top} ..... ..... {f3} ..... {opcode}", "SHW"

    @insn(name, pattern, fmt, "rd, rs1, imm", ext=ext)
    def sem(b, i):
        b.wx(i.rd, fn(b, b.rx(i.rs1), i.imm))


# ---- Zba: address generation -------------------------------------------------------------------
_reg("add.uw", "0000100", "000", OP_32, lambda b, a, c: c + a.zext(32), "zba")
for _n, _f3 in ((1, "010"), (2, "100"), (3, "110")):
    _reg(f"sh{_n}add", "0010000", _f3, OP, lambda b, a, c, n=_n: c + (a << n), "zba")
    _reg(f"sh{_n}add.uw", "0010000", _f3, OP_32, lambda b, a, c, n=_n: c + (a.zext(32) << n), "zba")
_shamt("slli.uw", "000010", "001", OP_IMM_32, lambda b, a, s: a.zext(32) << s, "zba")


# ---- Zbb: basic bit manipulation ---------------------------------------------------------------
def _rol(a, s):
    # shl/lshr take the amount mod 64, so -s shifts by 64-s (and by 0 when s is 0: a | a = a)
    return (a << s) | (a >> -s)


def _ror(a, s):
    return (a >> s) | (a << -s)


def _rolw(a, s):
    # rotate the zero-extended word; a shift by 32 of a 32-bit value gives 0, covering s = 0
    word, s = a.zext(32), s & 31
    return ((word << s) | (word >> (32 - s))).sext(32)


def _rorw(a, s):
    word, s = a.zext(32), s & 31
    return ((word >> s) | (word << (32 - s))).sext(32)


_reg("andn", "0100000", "111", OP, lambda b, a, c: a & ~c, "zbb")
_reg("orn", "0100000", "110", OP, lambda b, a, c: a | ~c, "zbb")
_reg("xnor", "0100000", "100", OP, lambda b, a, c: ~(a ^ c), "zbb")
_reg("max", "0000101", "110", OP, lambda b, a, c: b.select(a.lt(c), c, a), "zbb")
_reg("maxu", "0000101", "111", OP, lambda b, a, c: b.select(a.ltu(c), c, a), "zbb")
_reg("min", "0000101", "100", OP, lambda b, a, c: b.select(a.lt(c), a, c), "zbb")
_reg("minu", "0000101", "101", OP, lambda b, a, c: b.select(a.ltu(c), a, c), "zbb")
_reg("rol", "0110000", "001", OP, lambda b, a, c: _rol(a, c), "zbb")
_reg("ror", "0110000", "101", OP, lambda b, a, c: _ror(a, c), "zbb")
_reg("rolw", "0110000", "001", OP_32, lambda b, a, c: _rolw(a, c), "zbb")
_reg("rorw", "0110000", "101", OP_32, lambda b, a, c: _rorw(a, c), "zbb")
_shamt("rori", "011000", "101", OP_IMM, lambda b, a, s: _ror(a, s), "zbb")
_shamt("roriw", "0110000", "101", OP_IMM_32, lambda b, a, s: _rorw(a, s), "zbb")

_unary("clz", "0110000 00000", "001", OP_IMM, lambda b, a: b.op("clz", a), "zbb")
_unary("ctz", "0110000 00001", "001", OP_IMM, lambda b, a: b.op("ctz", a), "zbb")
_unary("cpop", "0110000 00010", "001", OP_IMM, lambda b, a: b.op("cpop", a), "zbb")
_unary("sext.b", "0110000 00100", "001", OP_IMM, lambda b, a: a.sext(8), "zbb")
_unary("sext.h", "0110000 00101", "001", OP_IMM, lambda b, a: a.sext(16), "zbb")
# the word counts reuse the 64-bit ops: clz of the zero-extended word counts 32 extra zeros,
# and a guard bit at 32 makes ctz of a zero word 32
_unary("clzw", "0110000 00000", "001", OP_IMM_32, lambda b, a: b.op("clz", a.zext(32)) - 32, "zbb")
_unary("ctzw", "0110000 00001", "001", OP_IMM_32, lambda b, a: b.op("ctz", a | (1 << 32)), "zbb")
_unary("cpopw", "0110000 00010", "001", OP_IMM_32, lambda b, a: b.op("cpop", a.zext(32)), "zbb")
# RV64 encodings: zext.h lives in OP-32 (RV32 uses OP), rev8 has shamt field 111000 (RV32: 11000)
_unary("zext.h", "0000100 00000", "100", OP_32, lambda b, a: a.zext(16), "zbb")
_unary("orc.b", "0010100 00111", "101", OP_IMM, lambda b, a: b.op("orcb", a), "zbb")
_unary("rev8", "0110101 11000", "101", OP_IMM, lambda b, a: b.op("bswap", a), "zbb")


# ---- Zbs: single-bit operations (the register index is taken mod 64) ---------------------------
def _bit(b, index):
    return b.value(1) << index


_reg("bclr", "0100100", "001", OP, lambda b, a, c: a & ~_bit(b, c), "zbs")
_reg("bext", "0100100", "101", OP, lambda b, a, c: (a >> c) & 1, "zbs")
_reg("binv", "0110100", "001", OP, lambda b, a, c: a ^ _bit(b, c), "zbs")
_reg("bset", "0010100", "001", OP, lambda b, a, c: a | _bit(b, c), "zbs")
_shamt("bclri", "010010", "001", OP_IMM, lambda b, a, s: a & ~_bit(b, s), "zbs")
_shamt("bexti", "010010", "101", OP_IMM, lambda b, a, s: (a >> s) & 1, "zbs")
_shamt("binvi", "011010", "001", OP_IMM, lambda b, a, s: a ^ _bit(b, s), "zbs")
_shamt("bseti", "001010", "001", OP_IMM, lambda b, a, s: a | _bit(b, s), "zbs")
