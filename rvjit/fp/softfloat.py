"""Pure-Python reference implementation of the RISC-V F/D primitives.

Every result is computed from the exact value of the operation (Python ints
hold the exact sum/product; quotient and square root carry a sticky bit) and
then rounded once by `softfloat_round.round_pack`, so results and fflags follow IEEE 754-2008
with the RISC-V choices: tininess is detected after rounding, every NaN
result is the canonical NaN, and fcvt to integer saturates.

Values are raw bit patterns (unsigned ints); each primitive returns
(result, fflags).

The primitives live by family in softfloat_arith, softfloat_cmp and softfloat_cvt, on the
rounding core of softfloat_round; this module is their uniform entry point, `call`.
"""

from . import PRIMITIVES
from .softfloat_arith import add, div, fma, mul, sqrt, sub
from .softfloat_cmp import classify, eq, le, lt, max, min
from .softfloat_cvt import f2f, f2i, i2f


def _build_table():
    t = {}
    for fmt, s in ((32, "s"), (64, "d")):
        t["add_" + s] = lambda a, b, c, rm, f=fmt: add(f, a, b, rm)
        t["sub_" + s] = lambda a, b, c, rm, f=fmt: sub(f, a, b, rm)
        t["mul_" + s] = lambda a, b, c, rm, f=fmt: mul(f, a, b, rm)
        t["div_" + s] = lambda a, b, c, rm, f=fmt: div(f, a, b, rm)
        t["sqrt_" + s] = lambda a, b, c, rm, f=fmt: sqrt(f, a, rm)
        t["fma_" + s] = lambda a, b, c, rm, f=fmt: fma(f, a, b, c, rm)
        t["min_" + s] = lambda a, b, c, rm, f=fmt: min(f, a, b)
        t["max_" + s] = lambda a, b, c, rm, f=fmt: max(f, a, b)
        t["eq_" + s] = lambda a, b, c, rm, f=fmt: eq(f, a, b)
        t["lt_" + s] = lambda a, b, c, rm, f=fmt: lt(f, a, b)
        t["le_" + s] = lambda a, b, c, rm, f=fmt: le(f, a, b)
        t["class_" + s] = lambda a, b, c, rm, f=fmt: classify(f, a)
        for it, (w, sg) in {"w": (32, True), "wu": (32, False),
                            "l": (64, True), "lu": (64, False)}.items():
            t[f"f2i_{it}_{s}"] = (lambda a, b, c, rm, f=fmt, w=w, sg=sg:
                                  f2i(f, a, w, sg, rm))
            t[f"i2f_{s}_{it}"] = (lambda a, b, c, rm, f=fmt, w=w, sg=sg:
                                  i2f(f, a, w, sg, rm))
    t["f2f_s_d"] = lambda a, b, c, rm: f2f(32, 64, a, rm)
    t["f2f_d_s"] = lambda a, b, c, rm: f2f(64, 32, a, rm)
    assert sorted(t) == sorted(PRIMITIVES)
    return t


_TABLE = _build_table()


def call(name, a, b, c, rm):
    """Uniform entry: primitive `name` (see PRIMITIVES) on operands a, b, c."""
    return _TABLE[name](a, b, c, rm)
