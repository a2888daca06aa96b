"""softfloat conversions: float -> integer (saturating), integer -> float, float -> float."""

from . import NV, NX
from .softfloat_round import FMT, decode, is_inf, is_nan, is_snan, round_pack, shift_round

MASK64 = (1 << 64) - 1


def _sext32(v):
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def f2i(fmt, a, width, signed, rm):
    """Float -> integer, saturating as RISC-V specifies. 32-bit results are
    sign-extended to 64 bits (as fcvt.w[u] writes rd on RV64)."""
    F = FMT[fmt]
    a &= F.mask
    if signed:
        lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    else:
        lo, hi = 0, (1 << width) - 1
    neg = bool(a & F.sign)
    if is_nan(F, a):
        r, flags = hi, NV
    elif is_inf(F, a):
        r, flags = (lo if neg else hi), NV
    else:
        _, m, e = decode(F, a)
        q, inexact = shift_round(m, -e, False, neg, rm)
        v = -q if neg else q
        # Range is judged on the rounded value; out of range gives NV only.
        if v < lo:
            r, flags = lo, NV
        elif v > hi:
            r, flags = hi, NV
        else:
            r, flags = v, (NX if inexact else 0)
    if width == 32:
        r = _sext32(r)
    return r & MASK64, flags


def i2f(fmt, v, width, signed, rm):
    """Integer (low `width` bits of v) -> float."""
    F = FMT[fmt]
    v &= (1 << width) - 1
    if signed and v >> (width - 1):
        v -= 1 << width
    if v == 0:
        return 0, 0
    return round_pack(F, v < 0, abs(v), 0, False, rm)


def f2f(dst_fmt, src_fmt, a, rm):
    S, D = FMT[src_fmt], FMT[dst_fmt]
    a &= S.mask
    if is_nan(S, a):
        return D.cnan, (NV if is_snan(S, a) else 0)
    sign = D.sign if a & S.sign else 0
    if is_inf(S, a):
        return sign | D.inf, 0
    neg, m, e = decode(S, a)
    if m == 0:
        return sign, 0
    return round_pack(D, neg, m, e, False, rm)
