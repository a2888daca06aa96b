"""Building blocks of the native FP primitives' LLVM IR: an SSA-text function builder, the
per-format facts, and small integer-code "macros" (NaN tests, canonical NaN, flag
accumulation, the rounding-increment decision) that the generators inline."""


class Fn:
    """Accumulates the body of one IR function with fresh SSA names."""

    def __init__(self):
        self.lines = []
        self.n = 0
        self.block = "entry"

    def __call__(self, rhs):
        self.n += 1
        name = f"%v{self.n}"
        self.lines.append(f"  {name} = {rhs}")
        return name

    def do(self, text):
        self.lines.append("  " + text)

    def label(self, name):
        self.lines.append(f"{name}:")
        self.block = name

    def sel(self, cond, ty, x, y):
        return self(f"select i1 {cond}, {ty} {x}, {ty} {y}")


def iconst(v, bits):
    """Integer constant as LLVM IR text (signed decimal, always accepted)."""
    v &= (1 << bits) - 1
    return str(v - (1 << bits) if v >> (bits - 1) else v)


class FloatFmt:
    """Per-format facts used by the generators."""

    def __init__(self, bits):
        self.bits = bits
        self.w = f"i{bits}"
        self.ft = "float" if bits == 32 else "double"
        self.sfx = "f32" if bits == 32 else "f64"
        self.mb = 23 if bits == 32 else 52
        eb = bits - 1 - self.mb
        self.emask = (1 << eb) - 1
        self.bias = (1 << (eb - 1)) - 1
        self.sign = 1 << (bits - 1)
        self.inf = self.emask << self.mb
        self.qbit = 1 << (self.mb - 1)
        self.cnan = self.inf | self.qbit

    def k(self, v):
        return iconst(v, self.bits)


SINGLE, DOUBLE = FloatFmt(32), FloatFmt(64)
FORMATS = {"s": SINGLE, "d": DOUBLE}


def arg_bits(f, F, a):
    """Operand %a as an F-width integer (singles: low 32 bits)."""
    return a if F.bits == 64 else f(f"trunc i64 {a} to i32")


def ret64(f, F, x):
    return x if F.bits == 64 else f(f"zext i32 {x} to i64")


def abs_bits(f, F, x):
    return f(f"and {F.w} {x}, {F.k(F.sign - 1)}")


def is_nan(f, F, x):
    return f(f"icmp ugt {F.w} {abs_bits(f, F, x)}, {F.k(F.inf)}")


def is_snan(f, F, x):
    nan = is_nan(f, F, x)
    q = f(f"and {F.w} {x}, {F.k(F.qbit)}")
    quiet = f(f"icmp ne {F.w} {q}, 0")
    return f(f"select i1 {quiet}, i1 false, i1 {nan}")


def canon(f, F, x):
    """Replace any NaN by the canonical NaN."""
    return f.sel(is_nan(f, F, x), F.w, F.k(F.cnan), x)


def or_flags(f, flags):
    old = f("load i32, ptr %fflags")
    f.do(f"store i32 {f(f'or i32 {old}, {flags}')}, ptr %fflags")


def round_inc(f, rm, neg, odd, rbit, sticky):
    """i1: round the magnitude up, given round bit / sticky / lsb, per rm."""
    any_ = f(f"or i1 {rbit}, {sticky}")
    rne = f(f"and i1 {rbit}, {f(f'or i1 {sticky}, {odd}')}")
    rdn = f(f"and i1 {neg}, {any_}")
    rup = f(f"and i1 {f(f'xor i1 {neg}, true')}, {any_}")
    inc = f.sel(f(f"icmp eq i32 {rm}, 4"), "i1", rbit, "false")
    inc = f.sel(f(f"icmp eq i32 {rm}, 3"), "i1", rup, inc)
    inc = f.sel(f(f"icmp eq i32 {rm}, 2"), "i1", rdn, inc)
    return f.sel(f(f"icmp eq i32 {rm}, 0"), "i1", rne, inc)
