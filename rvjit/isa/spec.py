"""How an instruction is defined: encoding pattern, operand format, assembly syntax and semantics.

Every extension module (rv64i.py, m.py, ...) registers its instructions here with the `insn`
decorator. The decoder, the disassembler, the reference interpreter and the JIT all read this one
table; nothing else knows what an instruction means.
"""
from dataclasses import dataclass, field
from typing import Callable, Optional


def sext(value: int, bits: int) -> int:
    """Sign-extend the low `bits` of value to a Python int."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def bits(word: int, hi: int, lo: int) -> int:
    return (word >> lo) & ((1 << (hi - lo + 1)) - 1)


# Operand formats: how to pull named fields out of a 32-bit instruction word.
def _imm_i(w): return sext(w >> 20, 12)
def _imm_s(w): return sext((bits(w, 31, 25) << 5) | bits(w, 11, 7), 12)
def _imm_b(w): return sext((bits(w, 31, 31) << 12) | (bits(w, 7, 7) << 11) | (bits(w, 30, 25) << 5) | (bits(w, 11, 8) << 1), 13)
def _imm_u(w): return sext(w & 0xFFFFF000, 32)
def _imm_j(w): return sext((bits(w, 31, 31) << 20) | (bits(w, 19, 12) << 12) | (bits(w, 20, 20) << 11) | (bits(w, 30, 21) << 1), 21)


FIELD_EXTRACTORS: dict[str, Callable[[int], int]] = {
    "rd": lambda w: bits(w, 11, 7),
    "rs1": lambda w: bits(w, 19, 15),
    "rs2": lambda w: bits(w, 24, 20),
    "rs3": lambda w: bits(w, 31, 27),
    "rm": lambda w: bits(w, 14, 12),
    "aq": lambda w: bits(w, 26, 26),
    "rl": lambda w: bits(w, 25, 25),
    "imm_i": _imm_i, "imm_s": _imm_s, "imm_b": _imm_b, "imm_u": _imm_u, "imm_j": _imm_j,
    "shamt": lambda w: bits(w, 25, 20),
    "shamtw": lambda w: bits(w, 24, 20),
    "csr": lambda w: bits(w, 31, 20),
    "zimm": lambda w: bits(w, 19, 15),
    "pred": lambda w: bits(w, 27, 24),
    "succ": lambda w: bits(w, 23, 20),
}

# Format name -> (field name in Insn, extractor key)
FORMATS: dict[str, tuple[tuple[str, str], ...]] = {
    "R": (("rd", "rd"), ("rs1", "rs1"), ("rs2", "rs2")),
    "R1": (("rd", "rd"), ("rs1", "rs1")),            # unary register ops (clz, sext.b, fsqrt...)
    "RM": (("rd", "rd"), ("rs1", "rs1"), ("rs2", "rs2"), ("rm", "rm")),
    "R1M": (("rd", "rd"), ("rs1", "rs1"), ("rm", "rm")),
    "R4": (("rd", "rd"), ("rs1", "rs1"), ("rs2", "rs2"), ("rs3", "rs3"), ("rm", "rm")),
    "A": (("rd", "rd"), ("rs1", "rs1"), ("rs2", "rs2"), ("aq", "aq"), ("rl", "rl")),
    "I": (("rd", "rd"), ("rs1", "rs1"), ("imm", "imm_i")),
    "SH": (("rd", "rd"), ("rs1", "rs1"), ("imm", "shamt")),
    "SHW": (("rd", "rd"), ("rs1", "rs1"), ("imm", "shamtw")),
    "S": (("rs1", "rs1"), ("rs2", "rs2"), ("imm", "imm_s")),
    "B": (("rs1", "rs1"), ("rs2", "rs2"), ("imm", "imm_b")),
    "U": (("rd", "rd"), ("imm", "imm_u")),
    "J": (("rd", "rd"), ("imm", "imm_j")),
    "CSR": (("rd", "rd"), ("rs1", "rs1"), ("csr", "csr")),
    "CSRI": (("rd", "rd"), ("imm", "zimm"), ("csr", "csr")),
    "FENCE": (("pred", "pred"), ("succ", "succ")),
    "N": (),
}


@dataclass(frozen=True)
class InsnDef:
    """One instruction: what bits it has, what its operands are called, how it prints, what it does."""
    name: str
    ext: str
    mask: int
    match: int
    fmt: str
    asm: str                      # operand template, e.g. "rd, rs1, imm"; "" for none
    semantics: Callable           # semantics(builder, insn) emits IR through the builder
    length: int = 4
    # compressed instructions: raw halfword -> (name of the 32-bit instruction, fields)
    expand: Optional[Callable] = None


@dataclass
class Insn:
    """A decoded instruction at a known address."""
    defn: InsnDef                 # the 32-bit instruction whose semantics run
    raw: int
    pc: int
    length: int
    fields: dict = field(default_factory=dict)
    cdef: Optional[InsnDef] = None  # the compressed form it was decoded from, if any

    def __getattr__(self, name):
        try:
            return self.__dict__["fields"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def name(self) -> str:
        return self.defn.name

    @property
    def next_pc(self) -> int:
        return (self.pc + self.length) & 0xFFFFFFFFFFFFFFFF


INSTRUCTIONS: list[InsnDef] = []      # 32-bit instructions
COMPRESSED: list[InsnDef] = []        # 16-bit instructions
BY_NAME: dict[str, InsnDef] = {}


def _pattern(pattern: str, width: int) -> tuple[int, int]:
    p = pattern.replace(" ", "").replace("_", "")
    if len(p) != width:
        raise ValueError(f"pattern {pattern!r} has {len(p)} bits, expected {width}")
    mask = match = 0
    for ch in p:
        mask <<= 1
        match <<= 1
        if ch in "01":
            mask |= 1
            match |= ch == "1"
        elif ch != ".":
            raise ValueError(f"bad pattern character {ch!r} in {pattern!r}")
    return mask, match


def insn(name: str, pattern: str, fmt: str, asm: str | None = None, ext: str = ""):
    """Register a 32-bit instruction. `pattern` is 32 characters of 0, 1 or '.' (any), MSB first."""
    mask, match = _pattern(pattern, 32)
    if asm is None:
        asm = ", ".join(f for f, _ in FORMATS[fmt])

    def register(sem):
        d = InsnDef(name, ext, mask, match, fmt, asm, sem)
        if name in BY_NAME:
            raise ValueError(f"instruction {name} defined twice")
        INSTRUCTIONS.append(d)
        BY_NAME[name] = d
        return sem
    return register


def cinsn(name: str, pattern: str, asm: str, ext: str = "c"):
    """Register a compressed instruction as an expansion: expand(halfword) -> (32-bit name, fields).

    The expansion returns None for reserved encodings (they decode as illegal)."""
    mask, match = _pattern(pattern, 16)

    def register(expand):
        d = InsnDef(name, ext, mask, match, "C", asm, None, length=2, expand=expand)
        if name in BY_NAME:
            raise ValueError(f"instruction {name} defined twice")
        COMPRESSED.append(d)
        BY_NAME[name] = d
        return expand
    return register
