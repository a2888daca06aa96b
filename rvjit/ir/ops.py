"""rvjit IR: a tiny SSA language of 64-bit integer values.

A translated block is a straight list of `Op`s. Each op names an operation, its argument values and
constant attributes. Every value is a 64-bit integer; comparisons give 0 or 1. Control flow inside a
block is limited to side exits (`trap_if`, a faulting memory access); the last op is a terminator.

`EVAL` gives the meaning of each pure operation on concrete numbers. The reference interpreter and
the builder's constant folder use it; the LLVM backend lowers the same names to LLVM IR.
"""
from dataclasses import dataclass, field

MASK64 = (1 << 64) - 1


def to_signed(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


def sext_bits(v: int, n: int) -> int:
    v &= (1 << n) - 1
    return (v - (1 << n) if v >> (n - 1) else v) & MASK64


class SymbolicDecision(Exception):
    """Semantics made a Python-level decision (if, ==, int()) on a value only known at run time.

    Lifting with symbolic instruction fields (rvjit.backend.threaded) catches this and lifts the
    instruction again with its concrete fields instead: a silent mis-lift is never possible."""


@dataclass(eq=False)
class Value:
    """An SSA value. `op` is the Op that defines it (None for constants)."""
    builder: object
    op: "Op | None" = None
    const: int | None = None
    vid: int = 0

    def __repr__(self):
        return f"{self.const:#x}" if self.const is not None else f"v{self.vid}"

    # Python decisions on run-time values are errors, never silently "true" (an object is truthy)
    # or "not equal" (identity). Constants keep the behaviour they always had.
    __hash__ = object.__hash__

    def _decide(self, what):
        if self.const is None:
            raise SymbolicDecision(f"{what} of a value only known at run time ({self!r})")

    def __bool__(self):
        self._decide("truth value")
        return True

    def __eq__(self, o):
        if isinstance(o, int):
            self._decide("== against a number")
        return NotImplemented

    def __ne__(self, o):
        if isinstance(o, int):
            self._decide("!= against a number")
        return NotImplemented

    def _order(self, o):
        self._decide("ordering")
        return NotImplemented

    __lt__ = __le__ = __gt__ = __ge__ = _order

    def __index__(self):
        self._decide("integer conversion")
        return self.const

    __int__ = __index__

    # Arithmetic reads like Python; every operator emits (or folds) one IR op.
    def _bin(self, name, other, swap=False):
        a, b = (other, self) if swap else (self, other)
        return self.builder.op(name, a, b)

    def __add__(self, o): return self._bin("add", o)
    def __radd__(self, o): return self._bin("add", o, True)
    def __sub__(self, o): return self._bin("sub", o)
    def __rsub__(self, o): return self._bin("sub", o, True)
    def __mul__(self, o): return self._bin("mul", o)
    def __and__(self, o): return self._bin("and", o)
    def __rand__(self, o): return self._bin("and", o, True)
    def __or__(self, o): return self._bin("or", o)
    def __ror__(self, o): return self._bin("or", o, True)
    def __xor__(self, o): return self._bin("xor", o)
    def __rxor__(self, o): return self._bin("xor", o, True)
    def __lshift__(self, o): return self._bin("shl", o)
    def __rshift__(self, o): return self._bin("lshr", o)   # logical; use .sra() for arithmetic
    def __invert__(self): return self._bin("xor", MASK64)
    def __neg__(self): return self.builder.op("sub", 0, self)

    def sra(self, o): return self._bin("ashr", o)
    def eq(self, o): return self._bin("eq", o)
    def ne(self, o): return self._bin("ne", o)
    def lt(self, o): return self._bin("lt", o)
    def ltu(self, o): return self._bin("ltu", o)
    def ge(self, o): return self._bin("ge", o)
    def geu(self, o): return self._bin("geu", o)
    def sext(self, n): return self.builder.op("sext", self, bits=n)
    def zext(self, n): return self.builder.op("zext", self, bits=n)


@dataclass(eq=False)
class Op:
    name: str
    args: tuple
    attrs: dict = field(default_factory=dict)
    result: Value | None = None
    insn_index: int = 0           # which guest instruction of the block emitted it

    def __repr__(self):
        parts = [repr(a) for a in self.args] + [f"{k}={_fmt_attr(v)}" for k, v in self.attrs.items()]
        lhs = f"{self.result!r} = " if self.result is not None else ""
        return f"{lhs}{self.name} {', '.join(parts)}"


def _fmt_attr(v):
    return f"{v:#x}" if isinstance(v, int) and not isinstance(v, bool) and v > 9 else repr(v)


def _div(a, b):
    a, b = to_signed(a), to_signed(b)
    if b == 0:
        return MASK64
    if a == -(1 << 63) and b == -1:
        return a & MASK64
    q = abs(a) // abs(b)
    return (q if (a < 0) == (b < 0) else -q) & MASK64


def _rem(a, b):
    sa, sb = to_signed(a), to_signed(b)
    if sb == 0:
        return a
    if sa == -(1 << 63) and sb == -1:
        return 0
    r = abs(sa) % abs(sb)
    return (-r if sa < 0 else r) & MASK64


def _clz(a):
    return 64 - a.bit_length()


def _ctz(a):
    return 64 if a == 0 else (a & -a).bit_length() - 1


def _orcb(a):
    return sum(0xFF << (8 * i) for i in range(8) if (a >> (8 * i)) & 0xFF)


# Pure operations: name -> function(args..., **attrs) on unsigned 64-bit ints.
# RISC-V defines results for every input (division by zero, over-wide shifts); so must these.
EVAL = {
    "add": lambda a, b: (a + b) & MASK64,
    "sub": lambda a, b: (a - b) & MASK64,
    "mul": lambda a, b: (a * b) & MASK64,
    "mulh": lambda a, b: ((to_signed(a) * to_signed(b)) >> 64) & MASK64,
    "mulhu": lambda a, b: (a * b) >> 64,
    "mulhsu": lambda a, b: ((to_signed(a) * b) >> 64) & MASK64,
    "div": _div,
    "divu": lambda a, b: MASK64 if b == 0 else a // b,
    "rem": _rem,
    "remu": lambda a, b: a if b == 0 else a % b,
    "and": lambda a, b: a & b,
    "or": lambda a, b: a | b,
    "xor": lambda a, b: a ^ b,
    "shl": lambda a, b: (a << (b & 63)) & MASK64,
    "lshr": lambda a, b: a >> (b & 63),
    "ashr": lambda a, b: (to_signed(a) >> (b & 63)) & MASK64,
    "eq": lambda a, b: int(a == b),
    "ne": lambda a, b: int(a != b),
    "lt": lambda a, b: int(to_signed(a) < to_signed(b)),
    "ltu": lambda a, b: int(a < b),
    "ge": lambda a, b: int(to_signed(a) >= to_signed(b)),
    "geu": lambda a, b: int(a >= b),
    "select": lambda c, a, b: a if c else b,
    "sext": lambda a, bits: sext_bits(a, bits),
    "zext": lambda a, bits: a & ((1 << bits) - 1),
    "clz": _clz,
    "ctz": _ctz,
    "cpop": lambda a: bin(a).count("1"),
    "bswap": lambda a: int.from_bytes(a.to_bytes(8, "little"), "big"),
    "orcb": _orcb,
}

# Operations with effects on the hart or memory (not folded, not reordered). The *_at forms take
# the register number as a run-time value, and `field` reads an operand of the instruction being
# run from its record: both appear only in handlers lifted with symbolic fields (threaded code).
EFFECT_OPS = {
    "getx", "setx", "getf", "setf", "get", "set", "load", "store", "csr", "fp", "trap_if",
    "getx_at", "setx_at", "getf_at", "setf_at", "field", "sfence",
}
# Operations that end a block.
TERMINATORS = {"jump", "branch", "trap", "sys", "goto"}

# Hart fields the semantics may read or write directly with get/set.
STATE_FIELDS = ("frm", "fflags", "mstatus", "priv", "resv")
