"""softfloat arithmetic: add, sub, mul, div, sqrt and fused multiply-add, each from the exact
value and rounded once."""

import math

from . import NV, DZ
from .softfloat_round import FMT, decode, is_inf, is_nan, nan_result, round_pack, round_sum


def add(fmt, a, b, rm):
    F = FMT[fmt]
    a &= F.mask
    b &= F.mask
    if is_nan(F, a) or is_nan(F, b):
        return nan_result(F, a, b)
    if is_inf(F, a) or is_inf(F, b):
        if is_inf(F, a) and is_inf(F, b) and (a ^ b) & F.sign:
            return F.cnan, NV                   # inf - inf
        return (a if is_inf(F, a) else b), 0
    return round_sum(F, *decode(F, a), *decode(F, b), rm)


def sub(fmt, a, b, rm):
    # a - b is a + (-b) in every respect (flags, NaNs, zero signs).
    return add(fmt, a, b ^ FMT[fmt].sign, rm)


def mul(fmt, a, b, rm):
    F = FMT[fmt]
    a &= F.mask
    b &= F.mask
    if is_nan(F, a) or is_nan(F, b):
        return nan_result(F, a, b)
    sign = (a ^ b) & F.sign
    za, zb = not a & ~F.sign, not b & ~F.sign
    if is_inf(F, a) or is_inf(F, b):
        if za or zb:
            return F.cnan, NV                   # 0 * inf
        return sign | F.inf, 0
    _, ma, ea = decode(F, a)
    _, mb, eb = decode(F, b)
    if ma == 0 or mb == 0:
        return sign, 0
    return round_pack(F, bool(sign), ma * mb, ea + eb, False, rm)


def div(fmt, a, b, rm):
    F = FMT[fmt]
    a &= F.mask
    b &= F.mask
    if is_nan(F, a) or is_nan(F, b):
        return nan_result(F, a, b)
    sign = (a ^ b) & F.sign
    ia, ib = is_inf(F, a), is_inf(F, b)
    za, zb = not a & ~F.sign, not b & ~F.sign
    if (ia and ib) or (za and zb):
        return F.cnan, NV                       # inf/inf, 0/0
    if ia:
        return sign | F.inf, 0
    if ib or za:
        return sign, 0
    if zb:
        return sign | F.inf, DZ
    _, ma, ea = decode(F, a)
    _, mb, eb = decode(F, b)
    k = F.p + 2 + mb.bit_length()               # quotient gets >= p+2 bits
    q, r = divmod(ma << k, mb)
    return round_pack(F, bool(sign), q, ea - eb - k, r != 0, rm)


def sqrt(fmt, a, rm):
    F = FMT[fmt]
    a &= F.mask
    if is_nan(F, a):
        return nan_result(F, a)
    if not a & ~F.sign:
        return a, 0                             # sqrt(+-0) = +-0
    if a & F.sign:
        return F.cnan, NV
    if a == F.inf:
        return a, 0
    _, m, e = decode(F, a)
    if e & 1:
        m <<= 1
        e -= 1
    k = F.p + 3                                 # root gets >= p+3 bits
    x = m << (2 * k)
    r = math.isqrt(x)
    return round_pack(F, False, r, (e >> 1) - k, r * r != x, rm)


def fma(fmt, a, b, c, rm):
    """a*b + c with a single rounding."""
    F = FMT[fmt]
    a &= F.mask
    b &= F.mask
    c &= F.mask
    ia, ib, ic = is_inf(F, a), is_inf(F, b), is_inf(F, c)
    za, zb = not a & ~F.sign, not b & ~F.sign
    # RISC-V: inf*0 raises NV even when the addend is a quiet NaN.
    inf_times_zero = (ia and zb) or (ib and za)
    if is_nan(F, a) or is_nan(F, b) or is_nan(F, c) or inf_times_zero:
        flags = NV if inf_times_zero else nan_result(F, a, b, c)[1]
        return F.cnan, flags
    psign = (a ^ b) & F.sign
    if ia or ib:
        if ic and (c & F.sign) != psign:
            return F.cnan, NV                   # inf - inf
        return psign | F.inf, 0
    if ic:
        return c, 0
    _, ma, ea = decode(F, a)
    _, mb, eb = decode(F, b)
    nc, mc, ec = decode(F, c)
    return round_sum(F, bool(psign), ma * mb, ea + eb, nc, mc, ec, rm)
