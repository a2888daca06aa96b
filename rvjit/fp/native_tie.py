"""The exact RMM tie test of the native FP arithmetic: is the exact result of an op the
midpoint just above its RNE result? Pure integer IR, emitted as cold out-of-line functions."""

from .native_arith import NARGS
from .native_ir import DOUBLE, SINGLE, Fn, arg_bits


def _decomp(f, F, x):
    """x (finite) -> (P, e): signed i128 significand, i32 exponent,
    x == P * 2**e exactly."""
    E = f(f"and {F.w} {f(f'lshr {F.w} {x}, {F.mb}')}, {F.emask}")
    fr = f(f"and {F.w} {x}, {F.k((1 << F.mb) - 1)}")
    norm = f(f"icmp ne {F.w} {E}, 0")
    m = f.sel(norm, F.w, f(f"or {F.w} {fr}, {F.k(1 << F.mb)}"), fr)
    E = f.sel(norm, F.w, E, "1")
    e = E if F.bits == 32 else f(f"trunc i64 {E} to i32")
    e = f(f"add i32 {e}, {-(F.bias + F.mb)}")
    m = f(f"zext {F.w} {m} to i128")
    neg = f(f"icmp slt {F.w} {x}, 0")
    return f.sel(neg, "i128", f(f"sub i128 0, {m}"), m), e


def _neg_midpoint(f, F, r):
    """Minus the value halfway between r and its neighbour away from zero,
    as (P, e). r == s*2**e gives midpoint (2s +- 1) * 2**(e-1)."""
    P, e = _decomp(f, F, r)
    neg = f(f"icmp slt {F.w} {r}, 0")
    P2 = f(f"shl i128 {P}, 1")
    mid = f(f"add i128 {P2}, {f.sel(neg, 'i128', '-1', '1')}")
    return f(f"sub i128 0, {mid}"), f(f"add i32 {e}, -1")


def _sum_is_zero(f, terms):
    """i1: sum of P*2**e over terms == 0 exactly (|P| < 2**110).

    Each P is made odd first. A zero sum then needs the lowest exponent
    twice, and a third term more than ~110 bits above cannot be cancelled,
    so a span over 140 means nonzero and smaller spans fit an i256 sum."""
    big = 1 << 20
    norm = []
    lo, hi = str(big), str(-big)
    for P, e in terms:
        nz = f(f"icmp ne i128 {P}, 0")
        tz = f(f"call i128 @llvm.cttz.i128(i128 {P}, i1 false)")
        tz = f.sel(nz, "i128", tz, "0")
        P = f(f"ashr i128 {P}, {tz}")
        e = f(f"add i32 {e}, {f(f'trunc i128 {tz} to i32')}")
        lo = f(f"call i32 @llvm.smin.i32(i32 {lo}, i32 {f.sel(nz, 'i32', e, big)})")
        hi = f(f"call i32 @llvm.smax.i32(i32 {hi}, i32 {f.sel(nz, 'i32', e, -big)})")
        norm.append((P, e))
    ok = f(f"icmp sle i32 {f(f'sub i32 {hi}, {lo}')}, 140")
    acc = "0"
    for P, e in norm:
        d = f(f"call i32 @llvm.umin.i32(i32 {f(f'sub i32 {e}, {lo}')}, i32 140)")
        w = f(f"shl i256 {f(f'sext i128 {P} to i256')}, {f(f'zext i32 {d} to i256')}")
        acc = f(f"add i256 {acc}, {w}")
    return f(f"and i1 {ok}, {f(f'icmp eq i256 {acc}, 0')}")


def _signed_neg(f, P):
    return f(f"sub i128 0, {P}")


def _tie_terms(f, op, F, xs, r):
    """Terms whose sum is zero iff the exact result of `op` equals the
    midpoint above the RNE result r."""
    if op == "f2f":                     # double a vs single midpoint
        return [_decomp(f, DOUBLE, xs[0]), _neg_midpoint(f, SINGLE, r)]
    nm = _neg_midpoint(f, F, r)
    ds = [_decomp(f, F, x) for x in xs]
    if op in ("add", "sub"):
        (pa, ea), (pb, eb) = ds
        if op == "sub":
            pb = _signed_neg(f, pb)
        return [(pa, ea), (pb, eb), nm]
    if op in ("mul", "fma"):
        (pa, ea), (pb, eb) = ds[:2]
        prod = (f(f"mul i128 {pa}, {pb}"), f(f"add i32 {ea}, {eb}"))
        return [prod, nm] + ds[2:]
    if op == "div":                     # a/b == M  <=>  M*b - a == 0
        (pa, ea), (pb, eb) = ds
        pm, em = nm                     # -M: so test (-M)*b + a == 0
        return [(f(f"mul i128 {pm}, {pb}"), f(f"add i32 {em}, {eb}")), (pa, ea)]
    raise ValueError(op)


def gen_tie(op, F):
    """Cold helper @rvfp_tie_<op>_<bits>(a, b, c, r) -> i1: is the exact
    result of op the midpoint just above the (finite, inexact) RNE result r?
    Kept out of line so the hot path needs no extra registers."""
    f = Fn()
    r = arg_bits(f, F, "%r")
    if op == "f2f":
        xs = ["%a"]
    else:
        xs = [arg_bits(f, F, a) for a in ("%a", "%b", "%c")[:NARGS[op]]]
    f.do(f"ret i1 {_sum_is_zero(f, _tie_terms(f, op, F, xs, r))}")
    return f
