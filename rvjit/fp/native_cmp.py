"""Native FP min/max, compares and classify: plain integer IR on the operand bits."""

from . import NV
from .native_ir import Fn, abs_bits, arg_bits, is_nan, is_snan, or_flags, ret64


def gen_minmax(F, is_max):
    f = Fn()
    a, b = arg_bits(f, F, "%a"), arg_bits(f, F, "%b")
    na, nb = is_nan(f, F, a), is_nan(f, F, b)
    snan = f(f"or i1 {is_snan(f, F, a)}, {is_snan(f, F, b)}")
    # Total-order keys (-0 < +0): negatives flip all bits, positives set sign.
    keys = []
    for x in (a, b):
        neg = f(f"icmp slt {F.w} {x}, 0")
        keys.append(f.sel(neg, F.w, f(f"xor {F.w} {x}, -1"),
                          f(f"or {F.w} {x}, {F.k(F.sign)}")))
    cmp = "uge" if is_max else "ule"
    r = f.sel(f(f"icmp {cmp} {F.w} {keys[0]}, {keys[1]}"), F.w, a, b)
    r = f.sel(nb, F.w, a, r)
    r = f.sel(na, F.w, b, r)
    r = f.sel(f(f"and i1 {na}, {nb}"), F.w, F.k(F.cnan), r)
    or_flags(f, f.sel(snan, "i32", NV, 0))
    f.do(f"ret i64 {ret64(f, F, r)}")
    return f, False


def gen_cmp(F, kind):
    f = Fn()
    a, b = arg_bits(f, F, "%a"), arg_bits(f, F, "%b")
    anynan = f(f"or i1 {is_nan(f, F, a)}, {is_nan(f, F, b)}")
    if kind == "eq":                    # quiet: only sNaN signals
        bad = f(f"or i1 {is_snan(f, F, a)}, {is_snan(f, F, b)}")
    else:                               # signalling: any NaN
        bad = anynan
    both0 = f(f"icmp eq {F.w} {abs_bits(f, F, f(f'or {F.w} {a}, {b}'))}, 0")
    if kind == "eq":
        r = f(f"or i1 {f(f'icmp eq {F.w} {a}, {b}')}, {both0}")
    else:
        keys = []
        for x in (a, b):
            neg = f(f"icmp slt {F.w} {x}, 0")
            keys.append(f.sel(neg, F.w, f(f"xor {F.w} {x}, -1"),
                              f(f"or {F.w} {x}, {F.k(F.sign)}")))
        pred = "ult" if kind == "lt" else "ule"
        r = f(f"icmp {pred} {F.w} {keys[0]}, {keys[1]}")
        # keys order -0 below +0, but IEEE compares them equal
        r = f.sel(both0, "i1", "false" if kind == "lt" else "true", r)
    r = f.sel(anynan, "i1", "false", r)
    or_flags(f, f.sel(bad, "i32", NV, 0))
    f.do(f"ret i64 {f(f'zext i1 {r} to i64')}")
    return f, False


def gen_class(F):
    f = Fn()
    a = arg_bits(f, F, "%a")
    ab = abs_bits(f, F, a)
    E = f(f"lshr {F.w} {ab}, {F.mb}")
    k = f.sel(f(f"icmp ne {F.w} {ab}, 0"), F.w, "5", "4")          # +sub / +0
    k = f.sel(f(f"icmp ne {F.w} {E}, 0"), F.w, "6", k)             # +normal
    k = f.sel(f(f"icmp eq {F.w} {ab}, {F.k(F.inf)}"), F.w, "7", k)  # +inf
    k = f.sel(f(f"icmp slt {F.w} {a}, 0"), F.w, f(f"sub {F.w} 7, {k}"), k)
    k = f.sel(is_nan(f, F, a), F.w, f.sel(is_snan(f, F, a), F.w, "8", "9"), k)
    r = f(f"shl {F.w} 1, {k}")
    f.do(f"ret i64 {ret64(f, F, r)}")
    return f, False
