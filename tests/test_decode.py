"""Instruction table checks: encodings against GNU binutils, semantics against the spec.

(a) no two definitions can match the same word; (b) an assembler round trip: what
riscv64-unknown-elf-as encodes, we decode to the instruction objdump names, with the operands the
source gave; (c) single instructions run through the reference interpreter on a fake hart and
are compared with results computed here from the spec's definitions.
"""
from __future__ import annotations

import random
import re
import shutil
import subprocess
from itertools import combinations, product

import pytest
from elftools.elf.elffile import ELFFile

from rvjit.frontend.decode import decode
from rvjit.frontend.lift import lift_insn
from rvjit.ir.builder import Builder
from rvjit.ir.interp import run_ops
from rvjit.isa import BY_NAME, COMPRESSED, INSTRUCTIONS
from rvjit.isa.spec import FORMATS

try:
    from rvjit.cpu.trap import GuestTrap
except ImportError:
    class GuestTrap(Exception):
        def __init__(self, cause, tval=0):
            super().__init__(cause, tval)
            self.cause, self.tval = cause, tval

MASK = (1 << 64) - 1
MIN64 = 1 << 63
AS = shutil.which("riscv64-unknown-elf-as")
OBJDUMP = shutil.which("riscv64-unknown-elf-objdump")
needs_binutils = pytest.mark.skipif(AS is None or OBJDUMP is None,
                                    reason="riscv64-unknown-elf binutils not installed")
HAVE_FLD = "fld" in BY_NAME and "fsd" in BY_NAME


# ---- (a) the table is unambiguous ----------------------------------------------------------------
def _overlap(d1, d2):
    """True if some word matches both patterns: no bit fixed in both differs."""
    return (d1.mask & d2.mask) & (d1.match ^ d2.match) == 0


def _nested_in(specific, general):
    """Every word `specific` matches is matched by `general`, which fixes strictly fewer bits."""
    return (specific.mask & general.mask == general.mask and specific.mask != general.mask
            and specific.match & general.mask == general.match)


def test_32bit_definitions_do_not_overlap():
    clashes = [(a.name, b.name) for a, b in combinations(INSTRUCTIONS, 2) if _overlap(a, b)]
    assert clashes == []


# The C extension carves special cases out of general encodings with conditions on whole fields
# (rs2 != 0, rd == 2, ...) that fixed bits cannot express; the decoder tries the more specific
# pattern first. These are the only overlaps allowed, and each must be a strict nesting.
ALLOWED_COMPRESSED_NESTING = {
    ("c.nop", "c.addi"), ("c.addi16sp", "c.lui"), ("c.jr", "c.mv"),
    ("c.ebreak", "c.jalr"), ("c.ebreak", "c.add"), ("c.jalr", "c.add"),
}


def test_compressed_definitions_overlap_only_by_nesting():
    overlaps = set()
    for a, b in combinations(COMPRESSED, 2):
        if _overlap(a, b):
            specific, general = (a, b) if bin(a.mask).count("1") > bin(b.mask).count("1") else (b, a)
            assert _nested_in(specific, general), (a.name, b.name)
            overlaps.add((specific.name, general.name))
    assert overlaps == ALLOWED_COMPRESSED_NESTING


def test_every_definition_is_reachable_and_well_formed():
    for d in INSTRUCTIONS:
        assert d.match & ~d.mask == 0 and d.match & 3 == 3, d.name
        found = decode(d.match, 0)
        assert found is not None and found.name == d.name, d.name
    for d in COMPRESSED:
        assert d.match & ~d.mask == 0 and d.match & 3 != 3, d.name


# ---- assembling ----------------------------------------------------------------------------------
def _assemble(tmp_path, lines):
    """Assemble (source line, compressed?) pairs; returns (raw words, objdump rows) per line."""
    src = [".option norelax"]
    for line, rvc in lines:
        src += [".option rvc" if rvc else ".option norvc", line]
    path = tmp_path / "insns.S"
    path.write_text("\n".join(src) + "\n")
    obj = tmp_path / "insns.o"
    subprocess.run([AS, "-march=rv64gc_zba_zbb_zbs", "-o", str(obj), str(path)],
                   check=True, capture_output=True, text=True)
    with open(obj, "rb") as f:
        text = ELFFile(f).get_section_by_name(".text").data()
    words, offsets, off = [], [], 0
    while off < len(text):
        length = 4 if text[off] & 3 == 3 else 2
        words.append(int.from_bytes(text[off:off + length], "little"))
        offsets.append(off)
        off += length
    assert len(words) == len(lines), "each source line must assemble to exactly one instruction"

    dump = subprocess.run([OBJDUMP, "-d", "-M", "no-aliases,numeric", str(obj)],
                          check=True, capture_output=True, text=True).stdout
    rows = {}
    for m in re.finditer(r"^\s*([0-9a-f]+):\s+([0-9a-f]+)\s+(\S+)[ \t]*(.*)$", dump, re.M):
        rows[int(m.group(1), 16)] = (m.group(3), m.group(4))
    return words, [rows[o] for o in offsets]


# ---- (b) round trip through GNU as ----------------------------------------------------------------
R = lambda rd, rs1, rs2: {"rd": rd, "rs1": rs1, "rs2": rs2}           # noqa: E731
R1 = lambda rd, rs1: {"rd": rd, "rs1": rs1}                            # noqa: E731
I = lambda rd, rs1, imm: {"rd": rd, "rs1": rs1, "imm": imm}            # noqa: E731,E741
S = lambda rs1, rs2, imm: {"rs1": rs1, "rs2": rs2, "imm": imm}         # noqa: E731
A = lambda rd, rs1, rs2, aq=0, rl=0: {"rd": rd, "rs1": rs1, "rs2": rs2, "aq": aq, "rl": rl}  # noqa

CASES_32 = [
    # RV64I
    ("add a0, a1, a2", R(10, 11, 12)), ("sub t0, t1, t2", R(5, 6, 7)),
    ("sll s0, s1, a0", R(8, 9, 10)), ("slt a0, zero, t6", R(10, 0, 31)),
    ("sltu ra, sp, gp", R(1, 2, 3)), ("xor a0, a1, a2", R(10, 11, 12)),
    ("srl a0, a1, a2", R(10, 11, 12)), ("sra a0, a1, a2", R(10, 11, 12)),
    ("or a0, a1, a2", R(10, 11, 12)), ("and a0, a1, a2", R(10, 11, 12)),
    ("addw a0, a1, a2", R(10, 11, 12)), ("subw a0, a1, a2", R(10, 11, 12)),
    ("sllw a0, a1, a2", R(10, 11, 12)), ("srlw a0, a1, a2", R(10, 11, 12)),
    ("sraw a0, a1, a2", R(10, 11, 12)),
    ("addi a0, a1, -2048", I(10, 11, -2048)), ("slti a0, a1, 2047", I(10, 11, 2047)),
    ("sltiu a0, a1, -1", I(10, 11, -1)), ("xori a0, a1, -1", I(10, 11, -1)),
    ("ori a0, a1, 1", I(10, 11, 1)), ("andi a0, a1, 255", I(10, 11, 255)),
    ("addiw a0, a1, -1", I(10, 11, -1)),
    ("slli a0, a1, 63", I(10, 11, 63)), ("srli a0, a1, 32", I(10, 11, 32)),
    ("srai a0, a1, 1", I(10, 11, 1)), ("slliw a0, a1, 31", I(10, 11, 31)),
    ("srliw a0, a1, 0", I(10, 11, 0)), ("sraiw a0, a1, 17", I(10, 11, 17)),
    ("lui a0, 0xfffff", {"rd": 10, "imm": -4096}), ("lui t3, 0x12345", {"rd": 28, "imm": 0x12345000}),
    ("auipc a0, 0x80000", {"rd": 10, "imm": -0x80000000}),
    ("jal ra, .-8", {"rd": 1, "imm": -8}), ("jal zero, .+0xffffe", {"rd": 0, "imm": 0xffffe}),
    ("jalr ra, -4(a5)", I(1, 15, -4)),
    ("beq a0, a1, .+16", S(10, 11, 16)), ("bne a0, a1, .-4096", S(10, 11, -4096)),
    ("blt a0, a1, .+4094", S(10, 11, 4094)), ("bge a0, a1, .-2", S(10, 11, -2)),
    ("bltu a0, a1, .+8", S(10, 11, 8)), ("bgeu a0, a1, .+12", S(10, 11, 12)),
    ("lb a0, -1(a1)", I(10, 11, -1)), ("lh a0, 2(a1)", I(10, 11, 2)),
    ("lw a0, 4(a1)", I(10, 11, 4)), ("ld a0, 2040(sp)", I(10, 2, 2040)),
    ("lbu a0, 0(a1)", I(10, 11, 0)), ("lhu a0, -2048(a1)", I(10, 11, -2048)),
    ("lwu a0, 12(a1)", I(10, 11, 12)),
    ("sb a0, -1(a1)", S(11, 10, -1)), ("sh a0, 2(a1)", S(11, 10, 2)),
    ("sw a0, 2047(a1)", S(11, 10, 2047)), ("sd ra, -2048(sp)", S(2, 1, -2048)),
    ("fence rw, w", {"pred": 3, "succ": 1}), ("fence iorw, iorw", {"pred": 15, "succ": 15}),
    ("fence.i", {}), ("ecall", {}), ("ebreak", {}),
    # Zicsr, privileged
    ("csrrw a0, mstatus, a1", {"rd": 10, "rs1": 11, "csr": 0x300}),
    ("csrrs a0, 0xc00, zero", {"rd": 10, "rs1": 0, "csr": 0xC00}),
    ("csrrc zero, mie, t0", {"rd": 0, "rs1": 5, "csr": 0x304}),
    ("csrrwi a0, mtvec, 31", {"rd": 10, "imm": 31, "csr": 0x305}),
    ("csrrsi a0, sstatus, 1", {"rd": 10, "imm": 1, "csr": 0x100}),
    ("csrrci a0, 0xfff, 0", {"rd": 10, "imm": 0, "csr": 0xFFF}),
    ("mret", {}), ("sret", {}), ("wfi", {}), ("sfence.vma a0, a1", {"rd": 0, "rs1": 10, "rs2": 11}),
    # M
    *[(f"{n} a0, a1, a2", R(10, 11, 12)) for n in
      ("mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu",
       "mulw", "divw", "divuw", "remw", "remuw")],
    ("mul t6, s11, zero", R(31, 27, 0)),
    # A
    ("lr.w a0, (a1)", A(10, 11, 0)), ("lr.d.aq a0, (a1)", A(10, 11, 0, aq=1)),
    ("sc.w.rl a0, a2, (a1)", A(10, 11, 12, rl=1)), ("sc.d.aqrl t0, t1, (t2)", A(5, 7, 6, 1, 1)),
    *[(f"amo{op}.{w}{order} a0, a2, (a1)", A(10, 11, 12, *bits))
      for op in ("swap", "add", "xor", "and", "or", "min", "max", "minu", "maxu")
      for w in ("w", "d")
      for order, bits in (("", (0, 0)), (".aqrl", (1, 1)))],
    # Zba
    ("add.uw a0, a1, a2", R(10, 11, 12)), ("sh1add a0, a1, a2", R(10, 11, 12)),
    ("sh2add a0, a1, a2", R(10, 11, 12)), ("sh3add a0, a1, a2", R(10, 11, 12)),
    ("sh1add.uw a0, a1, a2", R(10, 11, 12)), ("sh2add.uw a0, a1, a2", R(10, 11, 12)),
    ("sh3add.uw a0, a1, a2", R(10, 11, 12)),
    ("slli.uw a0, a1, 63", I(10, 11, 63)), ("slli.uw a0, a1, 0", I(10, 11, 0)),
    # Zbb
    *[(f"{n} a0, a1, a2", R(10, 11, 12)) for n in
      ("andn", "orn", "xnor", "max", "maxu", "min", "minu", "rol", "rolw", "ror", "rorw")],
    *[(f"{n} a0, a1", R1(10, 11)) for n in
      ("clz", "clzw", "ctz", "ctzw", "cpop", "cpopw", "sext.b", "sext.h", "zext.h",
       "orc.b", "rev8")],
    ("rori a0, a1, 63", I(10, 11, 63)), ("rori a0, a1, 32", I(10, 11, 32)),
    ("roriw a0, a1, 31", I(10, 11, 31)),
    # Zbs
    *[(f"{n} a0, a1, a2", R(10, 11, 12)) for n in ("bclr", "bext", "binv", "bset")],
    *[(f"{n} a0, a1, {k}", I(10, 11, k)) for n in ("bclri", "bexti", "binvi", "bseti")
      for k in (0, 31, 32, 63)],
]

CASES_C = [
    ("c.addi4spn a0, sp, 1020", "addi", I(10, 2, 1020)), ("c.addi4spn a5, sp, 4", "addi", I(15, 2, 4)),
    ("c.lw a0, 124(a1)", "lw", I(10, 11, 124)), ("c.lw s0, 4(a5)", "lw", I(8, 15, 4)),
    ("c.ld a0, 248(a1)", "ld", I(10, 11, 248)), ("c.ld s1, 8(s0)", "ld", I(9, 8, 8)),
    ("c.sw a0, 64(a1)", "sw", S(11, 10, 64)), ("c.sw s0, 4(a5)", "sw", S(15, 8, 4)),
    ("c.sd a2, 128(a3)", "sd", S(13, 12, 128)), ("c.sd a5, 248(s0)", "sd", S(8, 15, 248)),
    ("c.nop", "addi", I(0, 0, 0)),
    ("c.addi a0, -32", "addi", I(10, 10, -32)), ("c.addi t0, 31", "addi", I(5, 5, 31)),
    ("c.addiw a0, -1", "addiw", I(10, 10, -1)), ("c.addiw s11, 0", "addiw", I(27, 27, 0)),
    ("c.li a0, -32", "addi", I(10, 0, -32)), ("c.li ra, 31", "addi", I(1, 0, 31)),
    ("c.addi16sp sp, -512", "addi", I(2, 2, -512)), ("c.addi16sp sp, 496", "addi", I(2, 2, 496)),
    ("c.addi16sp sp, 16", "addi", I(2, 2, 16)), ("c.addi16sp sp, 80", "addi", I(2, 2, 80)),
    ("c.lui a0, 0xfffe0", "lui", {"rd": 10, "imm": -0x20000}),
    ("c.lui t0, 1", "lui", {"rd": 5, "imm": 0x1000}),
    ("c.lui s11, 31", "lui", {"rd": 27, "imm": 0x1F000}),
    ("c.lui ra, 0xfffff", "lui", {"rd": 1, "imm": -0x1000}),
    ("c.srli a0, 1", "srli", I(10, 10, 1)), ("c.srli s0, 63", "srli", I(8, 8, 63)),
    ("c.srai a5, 32", "srai", I(15, 15, 32)), ("c.srai a5, 31", "srai", I(15, 15, 31)),
    ("c.andi a0, -32", "andi", I(10, 10, -32)), ("c.andi s1, 31", "andi", I(9, 9, 31)),
    ("c.sub a0, a1", "sub", R(10, 10, 11)), ("c.xor s0, a5", "xor", R(8, 8, 15)),
    ("c.or a0, a1", "or", R(10, 10, 11)), ("c.and a0, a1", "and", R(10, 10, 11)),
    ("c.subw a0, a1", "subw", R(10, 10, 11)), ("c.addw a0, a1", "addw", R(10, 10, 11)),
    ("c.j .+2046", "jal", {"rd": 0, "imm": 2046}), ("c.j .-2048", "jal", {"rd": 0, "imm": -2048}),
    ("c.j .+0x2a", "jal", {"rd": 0, "imm": 0x2A}), ("c.j .-0x556", "jal", {"rd": 0, "imm": -0x556}),
    ("c.beqz a0, .-256", "beq", S(10, 0, -256)), ("c.bnez s1, .+254", "bne", S(9, 0, 254)),
    ("c.beqz s0, .+0x66", "beq", S(8, 0, 0x66)),
    ("c.slli a0, 63", "slli", I(10, 10, 63)), ("c.slli ra, 1", "slli", I(1, 1, 1)),
    ("c.lwsp a0, 252(sp)", "lw", I(10, 2, 252)), ("c.lwsp ra, 4(sp)", "lw", I(1, 2, 4)),
    ("c.ldsp ra, 504(sp)", "ld", I(1, 2, 504)), ("c.ldsp t6, 8(sp)", "ld", I(31, 2, 8)),
    ("c.swsp a0, 252(sp)", "sw", S(2, 10, 252)), ("c.swsp t6, 4(sp)", "sw", S(2, 31, 4)),
    ("c.sdsp s0, 504(sp)", "sd", S(2, 8, 504)), ("c.sdsp ra, 8(sp)", "sd", S(2, 1, 8)),
    ("c.jr ra", "jalr", I(0, 1, 0)), ("c.jr t6", "jalr", I(0, 31, 0)),
    ("c.mv a0, a1", "add", R(10, 0, 11)), ("c.ebreak", "ebreak", {}),
    ("c.jalr a0", "jalr", I(1, 10, 0)), ("c.add a0, a1", "add", R(10, 10, 11)),
    ("c.add sp, t6", "add", R(2, 2, 31)),
]
if HAVE_FLD:
    CASES_C += [
        ("c.fld fs0, 8(a1)", "fld", I(8, 11, 8)), ("c.fsd fa5, 248(s0)", "fsd", S(8, 15, 248)),
        ("c.fldsp fa0, 504(sp)", "fld", I(10, 2, 504)), ("c.fsdsp ft0, 8(sp)", "fsd", S(2, 0, 8)),
    ]

# objdump -M no-aliases prints the canonical nop as the c.addi it is a case of
OBJDUMP_NAME = {"c.nop": "c.addi"}
_REGISTER = re.compile(r"\b[xf](\d+)\b")


@needs_binutils
def test_assembler_round_trip(tmp_path):
    lines = [(line, False) for line, _ in CASES_32] + [(line, True) for line, _, _ in CASES_C]
    words, rows = _assemble(tmp_path, lines)
    expectations = [(None, f) for _, f in CASES_32] + [(n, f) for _, n, f in CASES_C]
    for (line, rvc), raw, (mnemonic, operands), (expanded, fields) in zip(lines, words, rows,
                                                                          expectations):
        insn = decode(raw, 0x1000)
        assert insn is not None, line
        if rvc:
            assert insn.length == 2 and insn.cdef is not None, line
            assert OBJDUMP_NAME.get(insn.cdef.name, insn.cdef.name) == mnemonic, line
            assert insn.name == expanded, line
            assert insn.fields == fields, line
        else:
            assert insn.length == 4 and insn.cdef is None, line
            assert insn.name == re.sub(r"\.(aq|rl|aqrl)$", "", mnemonic), line
            assert set(insn.fields) == {f for f, _ in FORMATS[insn.defn.fmt]}, line
            assert {k: insn.fields[k] for k in fields} == fields, line
            # the asm template names the registers in the order objdump prints them
            template_regs = [insn.fields[t] for t in re.findall(r"\w+", insn.defn.asm)
                             if t in ("rd", "rs1", "rs2", "rs3")]
            assert template_regs == [int(r) for r in _REGISTER.findall(operands)], line


# ---- (c) semantics on a fake hart ----------------------------------------------------------------
class FakeHart:
    """Just enough hart for run_ops: registers, hart fields and a little memory at BASE."""
    BASE = 0x8000_0000

    def __init__(self, size=0x1000, seed=None):
        self.x = [0] * 32
        self.f = [0] * 32
        self.fields = {"resv": MASK, "priv": 3, "frm": 0, "fflags": 0, "mstatus": 0x6000}
        rng = random.Random(seed)
        self.mem = bytearray(rng.randbytes(size) if seed is not None else bytes(size))
        self.fail_stores = False
        self.accesses = []

    def get(self, field):
        return self.fields[field]

    def set(self, field, value):
        self.fields[field] = value

    def _offset(self, addr, size, cause):
        off = addr - self.BASE
        if not 0 <= off <= len(self.mem) - size:
            raise GuestTrap(cause, addr)
        return off

    def load(self, addr, size, kind="load"):
        self.accesses.append((kind, addr, size))
        off = self._offset(addr, size, 7 if kind == "amo" else 5)
        return int.from_bytes(self.mem[off:off + size], "little")

    def store(self, addr, value, size):
        self.accesses.append(("store", addr, size))
        off = self._offset(addr, size, 7)
        if self.fail_stores:
            raise GuestTrap(7, addr)
        self.mem[off:off + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")

    def state(self):
        return self.x[:], self.f[:], dict(self.fields), bytes(self.mem)


def run(hart, raw, pc=0x1000):
    insn = decode(raw, pc)
    assert insn is not None, hex(raw)
    b = Builder(pc)
    lift_insn(b, insn)
    return run_ops(b.ops, b.insns, hart)


_PLACES = {"rd": (7, 5), "rs1": (15, 5), "rs2": (20, 5), "aq": (26, 1), "rl": (25, 1)}
_IMM_PLACE = {"I": (20, 12), "SH": (20, 6), "SHW": (20, 5)}


def encode(name, **fields):
    """Encode a 32-bit instruction from its definition (R, R1, I, SH, SHW and A formats)."""
    d = BY_NAME[name]
    word = d.match
    for key, value in fields.items():
        lo, width = _IMM_PLACE[d.fmt] if key == "imm" else _PLACES[key]
        word |= (value & ((1 << width) - 1)) << lo
    assert word & d.mask == d.match, f"{name}: operand overlaps a fixed bit"
    return word


def s64(v):
    v &= MASK
    return v - (1 << 64) if v >> 63 else v


def sx(v, bits):
    v &= (1 << bits) - 1
    return (v - (1 << bits) if v >> (bits - 1) else v) & MASK


RD, RS1, RS2 = 5, 6, 7


def binop(name, a, c):
    hart = FakeHart()
    hart.x[RS1], hart.x[RS2] = a, c
    exit_ = run(hart, encode(name, rd=RD, rs1=RS1, rs2=RS2))
    assert exit_.kind == "jump" and exit_.pc == 0x1004
    return hart.x[RD]


def unop(name, a, imm=None):
    hart = FakeHart()
    hart.x[RS1] = a
    fields = {"rd": RD, "rs1": RS1} if imm is None else {"rd": RD, "rs1": RS1, "imm": imm}
    run(hart, encode(name, **fields))
    return hart.x[RD]


EDGE = [0, 1, 2, 3, 7, MASK, MASK - 1, MASK - 6, MIN64, MIN64 + 1, MIN64 - 1,
        0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000, 0xFFFF_FFFF_8000_0000,
        0x1_8000_0000, 0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210, 0x00FF_00FF_00FF_00FF]


# -- M --
def _div_spec(a, c, bits, signed):
    """(quotient, remainder) per the M chapter's table, on `bits`-bit operands."""
    m = (1 << bits) - 1
    a, c = a & m, c & m
    if signed:
        a, c = (a - (1 << bits) if a >> (bits - 1) else a), (c - (1 << bits) if c >> (bits - 1) else c)
    if c == 0:
        return -1, a
    if signed and a == -(1 << (bits - 1)) and c == -1:
        return a, 0
    q = abs(a) // abs(c) * (1 if (a < 0) == (c < 0) else -1)
    return q, a - q * c


M_SPEC = {
    "mul": lambda a, c: a * c & MASK,
    "mulh": lambda a, c: (s64(a) * s64(c)) >> 64 & MASK,
    "mulhsu": lambda a, c: (s64(a) * c) >> 64 & MASK,
    "mulhu": lambda a, c: (a * c) >> 64,
    "div": lambda a, c: _div_spec(a, c, 64, True)[0] & MASK,
    "divu": lambda a, c: _div_spec(a, c, 64, False)[0] & MASK,
    "rem": lambda a, c: _div_spec(a, c, 64, True)[1] & MASK,
    "remu": lambda a, c: _div_spec(a, c, 64, False)[1] & MASK,
    "mulw": lambda a, c: sx(a * c, 32),
    "divw": lambda a, c: sx(_div_spec(a, c, 32, True)[0], 32),
    "divuw": lambda a, c: sx(_div_spec(a, c, 32, False)[0], 32),
    "remw": lambda a, c: sx(_div_spec(a, c, 32, True)[1], 32),
    "remuw": lambda a, c: sx(_div_spec(a, c, 32, False)[1], 32),
}


@pytest.mark.parametrize("name", sorted(M_SPEC))
def test_m_matches_spec_on_edge_values(name):
    for a, c in product(EDGE, EDGE):
        assert binop(name, a, c) == M_SPEC[name](a, c), (name, hex(a), hex(c))


def test_m_special_cases_spelled_out():
    assert binop("div", 5, 0) == MASK and binop("divu", 5, 0) == MASK
    assert binop("rem", 5, 0) == 5 and binop("remu", MASK, 0) == MASK
    assert binop("div", MIN64, MASK) == MIN64 and binop("rem", MIN64, MASK) == 0
    assert binop("div", -7 & MASK, 2) == -3 & MASK and binop("rem", -7 & MASK, 2) == -1 & MASK
    assert binop("mulh", MIN64, MIN64) == 1 << 62
    assert binop("mulhu", MASK, MASK) == MASK - 1
    assert binop("mulhsu", MASK, MASK) == MASK          # -1 * (2^64-1): high half is -1
    assert binop("mulhsu", MIN64, MASK) == MIN64
    assert binop("mulw", 0x7FFF_FFFF, 2) == MASK - 1   # 0xfffffffe sign-extended
    assert binop("divw", 0xABCD_0000_8000_0000, MASK) == 0xFFFF_FFFF_8000_0000
    assert binop("remw", 0x8000_0000, MASK) == 0
    assert binop("divw", 0x1_0000_0006, 0x1_0000_0003) == 2    # upper halves ignored
    assert binop("divw", 9, 0) == MASK and binop("divuw", 9, 0) == MASK
    assert binop("remw", 0x1_8000_0001, 0) == 0xFFFF_FFFF_8000_0001
    assert binop("remuw", 0x8000_0000, 0) == 0xFFFF_FFFF_8000_0000
    assert binop("divuw", MASK - 1, 2) == 0x7FFF_FFFF


# -- Zb* --
def _rot(a, s, bits, left):
    m = (1 << bits) - 1
    a, s = a & m, s % bits
    r = ((a << s) | (a >> (bits - s))) if left else ((a >> s) | (a << (bits - s)))
    return r & m


ZB_BINARY = {
    "add.uw": lambda a, c: (c + (a & 0xFFFF_FFFF)) & MASK,
    "sh1add": lambda a, c: (c + (a << 1)) & MASK,
    "sh2add": lambda a, c: (c + (a << 2)) & MASK,
    "sh3add": lambda a, c: (c + (a << 3)) & MASK,
    "sh1add.uw": lambda a, c: (c + ((a & 0xFFFF_FFFF) << 1)) & MASK,
    "sh2add.uw": lambda a, c: (c + ((a & 0xFFFF_FFFF) << 2)) & MASK,
    "sh3add.uw": lambda a, c: (c + ((a & 0xFFFF_FFFF) << 3)) & MASK,
    "andn": lambda a, c: a & ~c & MASK,
    "orn": lambda a, c: (a | ~c) & MASK,
    "xnor": lambda a, c: ~(a ^ c) & MASK,
    "max": lambda a, c: a if s64(a) >= s64(c) else c,
    "maxu": lambda a, c: max(a, c),
    "min": lambda a, c: a if s64(a) <= s64(c) else c,
    "minu": lambda a, c: min(a, c),
    "rol": lambda a, c: _rot(a, c, 64, True),
    "ror": lambda a, c: _rot(a, c, 64, False),
    "rolw": lambda a, c: sx(_rot(a, c & 31, 32, True), 32),
    "rorw": lambda a, c: sx(_rot(a, c & 31, 32, False), 32),
    "bclr": lambda a, c: a & ~(1 << (c & 63)) & MASK,
    "bext": lambda a, c: (a >> (c & 63)) & 1,
    "binv": lambda a, c: a ^ (1 << (c & 63)),
    "bset": lambda a, c: a | (1 << (c & 63)),
}


def _count_trailing(v, bits):
    v &= (1 << bits) - 1
    return bits if v == 0 else (v & -v).bit_length() - 1


ZB_UNARY = {
    "clz": lambda a: 64 - a.bit_length(),
    "clzw": lambda a: 32 - (a & 0xFFFF_FFFF).bit_length(),
    "ctz": lambda a: _count_trailing(a, 64),
    "ctzw": lambda a: _count_trailing(a, 32),
    "cpop": lambda a: bin(a).count("1"),
    "cpopw": lambda a: bin(a & 0xFFFF_FFFF).count("1"),
    "sext.b": lambda a: sx(a, 8),
    "sext.h": lambda a: sx(a, 16),
    "zext.h": lambda a: a & 0xFFFF,
    "orc.b": lambda a: int.from_bytes(bytes(0xFF if b else 0 for b in a.to_bytes(8, "little")),
                                      "little"),
    "rev8": lambda a: int.from_bytes(a.to_bytes(8, "little"), "big"),
}

ZB_IMMEDIATE = {
    "slli.uw": lambda a, s: ((a & 0xFFFF_FFFF) << s) & MASK,
    "rori": lambda a, s: _rot(a, s, 64, False),
    "roriw": lambda a, s: sx(_rot(a, s, 32, False), 32),
    "bclri": ZB_BINARY["bclr"], "bexti": ZB_BINARY["bext"],
    "binvi": ZB_BINARY["binv"], "bseti": ZB_BINARY["bset"],
}

SHIFTS = [0, 1, 7, 31, 32, 33, 63, 64, 65, 95, MASK]


@pytest.mark.parametrize("name", sorted(ZB_BINARY))
def test_zb_register_ops(name):
    for a, c in product(EDGE, EDGE + SHIFTS):
        assert binop(name, a, c) == ZB_BINARY[name](a, c), (name, hex(a), hex(c))


@pytest.mark.parametrize("name", sorted(ZB_UNARY))
def test_zb_unary_ops(name):
    for a in EDGE:
        assert unop(name, a) == ZB_UNARY[name](a), (name, hex(a))


@pytest.mark.parametrize("name", sorted(ZB_IMMEDIATE))
def test_zb_immediate_ops(name):
    amounts = range(32) if name == "roriw" else range(64)
    for a, s in product(EDGE, amounts):
        assert unop(name, a, s) == ZB_IMMEDIATE[name](a, s), (name, hex(a), s)


def test_zb_spelled_out():
    assert unop("clz", 0) == 64 and unop("clzw", 0) == 32 and unop("clzw", 1 << 32) == 32
    assert unop("ctz", 0) == 64 and unop("ctzw", 1 << 32) == 32 and unop("ctz", MIN64) == 63
    assert unop("cpopw", MASK) == 32 and unop("cpop", MASK) == 64
    assert unop("sext.b", 0x80) == MASK - 0x7F and unop("zext.h", MASK) == 0xFFFF
    assert unop("orc.b", 0x0100_0000_0000_8000) == 0xFF00_0000_0000_FF00
    assert unop("rev8", 0x0123_4567_89AB_CDEF) == 0xEFCD_AB89_6745_2301
    assert binop("rolw", 0x8000_0000, 1) == 1 and binop("rorw", 1, 1) == 0xFFFF_FFFF_8000_0000
    assert binop("rol", MIN64, 65) == 1          # amount taken mod 64
    assert unop("roriw", 0x1_0000_0001, 0) == 1  # W form: upper half dropped, result sign-extended
    assert binop("bset", 0, 64) == 1 and binop("bext", MIN64, 127) == 1
    assert unop("bseti", 0, 63) == MIN64 and unop("binvi", MASK, 32) == MASK ^ (1 << 32)
    assert binop("max", MIN64, 0) == 0 and binop("maxu", MIN64, 0) == MIN64
    assert binop("add.uw", MASK, 1) == 0x1_0000_0000
    assert unop("slli.uw", MASK, 63) == MIN64 and unop("slli.uw", MASK, 32) == MASK << 32 & MASK


# -- A --
ADDR_D, ADDR_W = FakeHart.BASE + 0x10, FakeHart.BASE + 0x24


def _amo_spec(op, old, src, bits):
    m = (1 << bits) - 1
    o, s = old & m, src & m
    so, ss = (o - (1 << bits) if o >> (bits - 1) else o), (s - (1 << bits) if s >> (bits - 1) else s)
    return {"swap": s, "add": o + s, "xor": o ^ s, "and": o & s, "or": o | s,
            "min": min(so, ss), "max": max(so, ss), "minu": min(o, s), "maxu": max(o, s)}[op] & m


AMO_OPS = ("swap", "add", "xor", "and", "or", "min", "max", "minu", "maxu")
AMO_VALUES = [0, 1, MASK, MIN64, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1_8000_0000,
              0x1234_5678_9ABC_DEF0]


def _amo(name, addr, old, src, size, rd=RD, **hart_opts):
    hart = FakeHart(seed=1)
    for k, v in hart_opts.items():
        setattr(hart, k, v)
    off = addr - hart.BASE
    hart.mem[off:off + size] = (old & ((1 << 8 * size) - 1)).to_bytes(size, "little")
    hart.x[RS1], hart.x[RS2] = addr, src
    if rd not in (RS1, RS2):
        hart.x[rd] = 0x5A5A
    before = bytes(hart.mem)
    return hart, before, run(hart, encode(name, rd=rd, rs1=RS1, rs2=RS2))


@pytest.mark.parametrize("op", AMO_OPS)
@pytest.mark.parametrize("width", ["w", "d"])
def test_amo_results(op, width):
    size, bits, addr = (4, 32, ADDR_W) if width == "w" else (8, 64, ADDR_D)
    for old, src in product(AMO_VALUES, AMO_VALUES):
        hart, before, exit_ = _amo(f"amo{op}.{width}", addr, old, src, size)
        assert exit_.kind == "jump", exit_
        off = addr - hart.BASE
        new = int.from_bytes(hart.mem[off:off + size], "little")
        assert new == _amo_spec(op, old, src, bits), (op, width, hex(old), hex(src))
        assert hart.x[RD] == sx(old, bits), "rd gets the sign-extended old value"
        assert hart.mem[:off] == before[:off] and hart.mem[off + size:] == before[off + size:]
        assert hart.accesses[0] == ("amo", addr, size)


def test_amo_rd_aliasing_source_registers():
    # rd == rs2: the stored value uses the source read before rd is written
    hart, _, _ = _amo("amoadd.d", ADDR_D, 10, 5, 8, rd=RS2)
    assert hart.x[RS2] == 10 and int.from_bytes(hart.mem[0x10:0x18], "little") == 15


@pytest.mark.parametrize("name", [f"amo{op}.{w}" for op in AMO_OPS for w in "wd"])
def test_faulting_amo_store_leaves_rd_unchanged(name):
    size = 4 if name.endswith(".w") else 8
    addr = ADDR_W if size == 4 else ADDR_D
    hart = FakeHart(seed=1)
    hart.fail_stores = True
    hart.x[RS1], hart.x[RS2], hart.x[RD] = addr, 0x2222, 0x5A5A
    before = bytes(hart.mem)
    with pytest.raises(GuestTrap):
        run(hart, encode(name, rd=RD, rs1=RS1, rs2=RS2))
    assert hart.x[RD] == 0x5A5A and bytes(hart.mem) == before


def test_amo_load_fault_reports_as_store_fault():
    hart = FakeHart()
    hart.x[RS1], hart.x[RD] = 0x10, 0x5A5A          # not in memory
    with pytest.raises(GuestTrap) as info:
        run(hart, encode("amoor.d", rd=RD, rs1=RS1, rs2=RS2))
    assert info.value.cause == 7 and hart.x[RD] == 0x5A5A


@pytest.mark.parametrize("name,cause", [("lr.w", 4), ("lr.d", 4), ("sc.w", 6), ("sc.d", 6),
                                        ("amoswap.w", 6), ("amomaxu.d", 6)])
def test_misaligned_atomics_trap_before_access(name, cause):
    hart = FakeHart(seed=2)
    addr = FakeHart.BASE + (0x12 if name.endswith(".w") else 0x14)
    hart.x[RS1], hart.x[RD] = addr, 0x5A5A
    hart.fields["resv"] = addr
    before = hart.state()
    sources = {"rs1": RS1} if name.startswith("lr") else {"rs1": RS1, "rs2": RS2}
    exit_ = run(hart, encode(name, rd=RD, **sources))
    assert (exit_.kind, exit_.cause, exit_.tval, exit_.pc) == ("trap", cause, addr, 0x1000)
    assert hart.accesses == [] and hart.state() == before


@pytest.mark.parametrize("width,size", [("w", 4), ("d", 8)])
def test_lr_sc(width, size):
    hart = FakeHart()
    addr = ADDR_D
    hart.mem[0x10:0x18] = (0x8000_0000_8765_4321).to_bytes(8, "little")
    hart.x[RS1] = addr
    run(hart, encode(f"lr.{width}", rd=RD, rs1=RS1))
    assert hart.x[RD] == (0xFFFF_FFFF_8765_4321 if size == 4 else 0x8000_0000_8765_4321)
    assert hart.fields["resv"] == addr and hart.accesses == [("lr", addr, size)]

    hart.x[RS2] = 0x1122_3344_5566_7788
    run(hart, encode(f"sc.{width}", rd=10, rs1=RS1, rs2=RS2))           # succeeds
    assert hart.x[10] == 0 and hart.fields["resv"] == MASK
    expect = 0x8000_0000_5566_7788 if size == 4 else 0x1122_3344_5566_7788
    assert int.from_bytes(hart.mem[0x10:0x18], "little") == expect

    hart.x[RS2] = 0
    run(hart, encode(f"sc.{width}", rd=10, rs1=RS1, rs2=RS2))           # no reservation: fails
    assert hart.x[10] == 1 and hart.fields["resv"] == MASK
    assert int.from_bytes(hart.mem[0x10:0x18], "little") == expect

    run(hart, encode(f"lr.{width}", rd=RD, rs1=RS1))
    hart.x[11] = addr + 8
    run(hart, encode(f"sc.{width}", rd=10, rs1=11, rs2=RS2))            # other address: fails
    assert hart.x[10] == 1 and hart.fields["resv"] == MASK
    assert ("store", addr + 8, size) not in hart.accesses


# -- C: expansions behave like the 32-bit instructions the assembler encodes for them --
C_EQUIVALENTS = [
    ("c.addi4spn a0, sp, 1020", "addi a0, sp, 1020"),
    ("c.lw a0, 124(a1)", "lw a0, 124(a1)"), ("c.ld s1, 248(s0)", "ld s1, 248(s0)"),
    ("c.sw a0, 64(a1)", "sw a0, 64(a1)"), ("c.sd a2, 128(a3)", "sd a2, 128(a3)"),
    ("c.nop", "addi zero, zero, 0"), ("c.addi a0, -32", "addi a0, a0, -32"),
    ("c.addiw a0, -1", "addiw a0, a0, -1"), ("c.addiw a4, 0", "addiw a4, a4, 0"),
    ("c.li a1, -32", "addi a1, zero, -32"),
    ("c.addi16sp sp, -512", "addi sp, sp, -512"), ("c.addi16sp sp, 496", "addi sp, sp, 496"),
    ("c.lui a2, 0xfffe0", "lui a2, 0xfffe0"), ("c.lui a2, 31", "lui a2, 31"),
    ("c.srli a0, 63", "srli a0, a0, 63"), ("c.srli s0, 32", "srli s0, s0, 32"),
    ("c.srai a5, 33", "srai a5, a5, 33"), ("c.andi a0, -17", "andi a0, a0, -17"),
    ("c.sub a0, a1", "sub a0, a0, a1"), ("c.xor a0, a1", "xor a0, a0, a1"),
    ("c.or a0, a1", "or a0, a0, a1"), ("c.and a0, a1", "and a0, a0, a1"),
    ("c.subw a0, a1", "subw a0, a0, a1"), ("c.addw a0, a1", "addw a0, a0, a1"),
    ("c.j .-2048", "jal zero, .-2048"), ("c.j .+1000", "jal zero, .+1000"),
    ("c.beqz a0, .+254", "beq a0, zero, .+254"), ("c.bnez a0, .-256", "bne a0, zero, .-256"),
    ("c.beqz a5, .+20", "beq a5, zero, .+20"),
    ("c.slli a0, 63", "slli a0, a0, 63"), ("c.slli t0, 1", "slli t0, t0, 1"),
    ("c.lwsp a0, 252(sp)", "lw a0, 252(sp)"), ("c.ldsp ra, 504(sp)", "ld ra, 504(sp)"),
    ("c.swsp a0, 252(sp)", "sw a0, 252(sp)"), ("c.sdsp s0, 504(sp)", "sd s0, 504(sp)"),
    ("c.jr a0", "jalr zero, 0(a0)"), ("c.jalr a0", "jalr ra, 0(a0)"),
    ("c.jalr ra", "jalr ra, 0(ra)"),
    ("c.mv a0, a1", "add a0, zero, a1"), ("c.add a0, a1", "add a0, a0, a1"),
    ("c.ebreak", "ebreak"),
]
if HAVE_FLD:
    C_EQUIVALENTS += [("c.fld fs0, 8(a1)", "fld fs0, 8(a1)"), ("c.fsd fa5, 248(s0)", "fsd fa5, 248(s0)"),
                      ("c.fldsp fa0, 504(sp)", "fld fa0, 504(sp)"),
                      ("c.fsdsp ft0, 8(sp)", "fsd ft0, 8(sp)")]
POINTER_REGS = {2: 0x400, 8: 0x200, 11: 0x100, 13: 0x300}     # register -> offset into memory


def _random_hart(seed):
    hart = FakeHart(seed=seed)
    rng = random.Random(seed)
    hart.x = [0] + [rng.choice([rng.getrandbits(64), rng.getrandbits(12), MIN64, MASK])
                    for _ in range(31)]
    hart.f = [rng.getrandbits(64) for _ in range(32)]
    for reg, off in POINTER_REGS.items():
        hart.x[reg] = FakeHart.BASE + off
    return hart


@needs_binutils
def test_compressed_expansions_match_32bit_forms(tmp_path):
    lines = [(c, True) for c, _ in C_EQUIVALENTS] + [(w, False) for _, w in C_EQUIVALENTS]
    words, _ = _assemble(tmp_path, lines)
    n = len(C_EQUIVALENTS)
    pc = 0x4000
    for (text, _), half, word in zip(C_EQUIVALENTS, words[:n], words[n:]):
        assert half < 0x10000 and word & 3 == 3, text
        for seed in range(4):
            short, full = _random_hart(seed), _random_hart(seed)
            if seed == 3:       # zero registers: branches taken, shifts of zero
                for h in (short, full):
                    h.x[10] = h.x[15] = 0
            exit_c, exit_w = run(short, half, pc), run(full, word, pc)
            insn = decode(half, pc)
            if insn.name in ("jal", "jalr") and insn.rd != 0:
                assert full.x[insn.rd] == pc + 4
                full.x[insn.rd] = pc + 2            # the link is the next instruction
            assert short.state() == full.state(), (text, seed)
            assert (exit_c.kind, exit_c.cause, exit_c.tval) == (exit_w.kind, exit_w.cause,
                                                                 exit_w.tval), text
            expected_pc = pc + 2 if exit_w.kind == "jump" and exit_w.pc == pc + 4 else exit_w.pc
            assert exit_c.pc == expected_pc, (text, seed)


# Reserved encodings decode as illegal; HINTs decode to their harmless 32-bit forms.
RESERVED_HALFWORDS = {
    0x0000: "all-zero halfword (c.addi4spn, nzuimm=0)",
    0x0004: "c.addi4spn a1, sp, 0",
    0x8000: "quadrant 0, funct3=100",
    0x2005: "c.addiw with rd=0",
    0x6501: "c.lui a0 with nzimm=0",
    0x6001: "c.lui zero with nzimm=0",
    0x6101: "c.addi16sp with nzimm=0",
    0x4002: "c.lwsp with rd=0",
    0x6002: "c.ldsp with rd=0",
    0x8002: "c.jr with rs1=0",
    0x9C41: "funct6=100111, funct2=10 (reserved without Zcb)",
    0x9C61: "funct6=100111, funct2=11 (reserved without Zcb)",
}

HINT_HALFWORDS = {
    0x0005: ("addi", I(0, 0, 1)),            # c.addi zero, 1
    0x0501: ("addi", I(10, 10, 0)),          # c.addi a0, 0
    0x4005: ("addi", I(0, 0, 1)),            # c.li zero, 1
    0x6005: ("lui", {"rd": 0, "imm": 0x1000}),  # c.lui zero, 1
    0x8001: ("srli", I(8, 8, 0)),            # c.srli s0, 0
    0x8401: ("srai", I(8, 8, 0)),            # c.srai s0, 0
    0x0006: ("slli", I(0, 0, 1)),            # c.slli zero, 1
    0x0502: ("slli", I(10, 10, 0)),          # c.slli a0, 0
    0x800A: ("add", R(0, 0, 2)),             # c.mv zero, sp
    0x900A: ("add", R(0, 0, 2)),             # c.add zero, sp
    0x9005: ("srli", I(8, 8, 33)),           # c.srli s0, 33: shamt[5] is valid on RV64
    0x9002: ("ebreak", {}),                  # c.ebreak
    0x0001: ("addi", I(0, 0, 0)),            # c.nop
}


@pytest.mark.parametrize("half", sorted(RESERVED_HALFWORDS))
def test_reserved_compressed_encodings_are_illegal(half):
    assert decode(half, 0) is None, RESERVED_HALFWORDS[half]


@pytest.mark.parametrize("half", sorted(HINT_HALFWORDS))
def test_compressed_hints_and_special_cases(half):
    insn = decode(half, 0)
    name, fields = HINT_HALFWORDS[half]
    assert insn is not None and insn.length == 2
    assert (insn.name, insn.fields) == (name, fields)


def test_compressed_ebreak_traps_like_ebreak():
    hart = FakeHart()
    exit_ = run(hart, 0x9002, pc=0x2000)
    assert (exit_.kind, exit_.cause, exit_.tval) == ("trap", 3, 0x2000)


def test_compressed_set_is_rv64c():
    names = {d.name for d in COMPRESSED}
    assert all(n.startswith("c.") for n in names)
    assert "c.jal" not in names                 # RV32 only; its encoding is c.addiw on RV64
    assert {"c.ld", "c.sd", "c.ldsp", "c.sdsp", "c.addiw", "c.addw", "c.subw"} <= names
