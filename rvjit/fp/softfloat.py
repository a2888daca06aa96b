"""Pure-Python reference implementation of the RISC-V F/D primitives.

Every result is computed from the exact value of the operation (Python ints
hold the exact sum/product; quotient and square root carry a sticky bit) and
then rounded once by `_round_pack`, so results and fflags follow IEEE 754-2008
with the RISC-V choices: tininess is detected after rounding, every NaN
result is the canonical NaN, and fcvt to integer saturates.

Values are raw bit patterns (unsigned ints); each primitive returns
(result, fflags).
"""

import math

from . import PRIMITIVES, RNE, RTZ, RDN, RUP, RMM, NV, DZ, OF, UF, NX

MASK64 = (1 << 64) - 1


class _Fmt:
    """Constants of one IEEE binary format."""

    def __init__(self, ebits, mbits):
        self.mbits = mbits
        self.p = mbits + 1                      # precision incl. hidden bit
        self.bias = (1 << (ebits - 1)) - 1
        self.emin = 1 - self.bias
        self.emax = self.bias
        self.lsb_min = self.emin - mbits        # exponent of the min subnormal
        self.emask = (1 << ebits) - 1
        self.hidden = 1 << mbits
        self.fmask = self.hidden - 1
        self.sign = 1 << (ebits + mbits)
        self.mask = (self.sign << 1) - 1
        self.inf = self.emask << mbits
        self.qbit = 1 << (mbits - 1)
        self.cnan = self.inf | self.qbit        # RISC-V canonical NaN
        self.maxfin = self.inf - 1


_FMT = {32: _Fmt(8, 23), 64: _Fmt(11, 52)}


def _isnan(F, x):
    return (x & ~F.sign) > F.inf


def _issnan(F, x):
    return (x & ~F.sign) > F.inf and not x & F.qbit


def _isinf(F, x):
    return (x & ~F.sign) == F.inf


def _decode(F, x):
    """Finite x -> (neg, m, e) with |x| = m * 2**e exactly."""
    E = (x >> F.mbits) & F.emask
    f = x & F.fmask
    if E:
        return bool(x & F.sign), f | F.hidden, E - F.bias - F.mbits
    return bool(x & F.sign), f, F.lsb_min


def _shift_round(m, sh, sticky, neg, rm):
    """Round (m + t) / 2**sh to an integer, 0 < t < 1 iff sticky.

    Callers only pass sticky with sh >= 1, so the half bit is always explicit.
    Returns (q, inexact).
    """
    if sh <= 0:
        return m << -sh, False
    q = m >> sh
    half = (m >> (sh - 1)) & 1
    rest = sticky or (m & ((1 << (sh - 1)) - 1)) != 0
    if not (half or rest):
        return q, False
    if rm == RNE:
        up = half and (rest or q & 1)
    elif rm == RTZ:
        up = False
    elif rm == RDN:
        up = neg
    elif rm == RUP:
        up = not neg
    else:                                       # RMM: ties away from zero
        up = half
    return q + (1 if up else 0), True


def _overflow(F, neg, rm):
    to_inf = rm in (RNE, RMM) or (rm == RDN and neg) or (rm == RUP and not neg)
    return (F.sign if neg else 0) | (F.inf if to_inf else F.maxfin), OF | NX


def _round_pack(F, neg, m, e, sticky, rm):
    """Round the nonzero value (-1)**neg * (m + t) * 2**e (0 <= t < 1, t > 0
    iff sticky) to format F. m must have >= p+2 bits whenever sticky is set."""
    sign = F.sign if neg else 0
    top = e + m.bit_length() - 1                # exponent of the leading bit
    lsb = top - F.mbits                         # lsb exponent at full precision
    flags = 0
    if lsb < F.lsb_min:
        # Tininess after rounding: round to p bits with unbounded exponent and
        # see whether the magnitude is still below 2**emin.
        q, _ = _shift_round(m, lsb - e, sticky, neg, rm)
        tiny = lsb + q.bit_length() - 1 < F.emin
        lsb = F.lsb_min
        q, inexact = _shift_round(m, lsb - e, sticky, neg, rm)
        if inexact:
            flags = (UF | NX) if tiny else NX
    else:
        q, inexact = _shift_round(m, lsb - e, sticky, neg, rm)
        if inexact:
            flags = NX
    if q >> F.p:                                # rounding carried out
        q >>= 1
        lsb += 1
    if lsb + F.mbits > F.emax:
        return _overflow(F, neg, rm)
    if q == 0:
        return sign, flags
    # Biased exponent and hidden bit combine by addition (this also turns a
    # subnormal that rounded up to 2**emin into the min normal).
    return sign | (((lsb - F.lsb_min) << F.mbits) + q), flags


def _sum(F, na, ma, ea, nb, mb, eb, rm):
    """Round the exact sum of two finite signed values m * 2**e."""
    e = ea if ea < eb else eb               # (min/max are primitives here)
    t = ((-ma if na else ma) << (ea - e)) + ((-mb if nb else mb) << (eb - e))
    if t == 0:
        # IEEE 754 6.3: exact zero sum is -0 only for (-0)+(-0) or in RDN.
        neg = na if (ma == 0 and mb == 0 and na == nb) else rm == RDN
        return (F.sign if neg else 0), 0
    return _round_pack(F, t < 0, abs(t), e, False, rm)


def _nan_result(F, *xs):
    return F.cnan, (NV if any(_issnan(F, x) for x in xs) else 0)


# ---------------------------------------------------------------- arithmetic

def add(fmt, a, b, rm):
    F = _FMT[fmt]
    a &= F.mask
    b &= F.mask
    if _isnan(F, a) or _isnan(F, b):
        return _nan_result(F, a, b)
    if _isinf(F, a) or _isinf(F, b):
        if _isinf(F, a) and _isinf(F, b) and (a ^ b) & F.sign:
            return F.cnan, NV                   # inf - inf
        return (a if _isinf(F, a) else b), 0
    return _sum(F, *_decode(F, a), *_decode(F, b), rm)


def sub(fmt, a, b, rm):
    # a - b is a + (-b) in every respect (flags, NaNs, zero signs).
    return add(fmt, a, b ^ _FMT[fmt].sign, rm)


def mul(fmt, a, b, rm):
    F = _FMT[fmt]
    a &= F.mask
    b &= F.mask
    if _isnan(F, a) or _isnan(F, b):
        return _nan_result(F, a, b)
    sign = (a ^ b) & F.sign
    za, zb = not a & ~F.sign, not b & ~F.sign
    if _isinf(F, a) or _isinf(F, b):
        if za or zb:
            return F.cnan, NV                   # 0 * inf
        return sign | F.inf, 0
    _, ma, ea = _decode(F, a)
    _, mb, eb = _decode(F, b)
    if ma == 0 or mb == 0:
        return sign, 0
    return _round_pack(F, bool(sign), ma * mb, ea + eb, False, rm)


def div(fmt, a, b, rm):
    F = _FMT[fmt]
    a &= F.mask
    b &= F.mask
    if _isnan(F, a) or _isnan(F, b):
        return _nan_result(F, a, b)
    sign = (a ^ b) & F.sign
    ia, ib = _isinf(F, a), _isinf(F, b)
    za, zb = not a & ~F.sign, not b & ~F.sign
    if (ia and ib) or (za and zb):
        return F.cnan, NV                       # inf/inf, 0/0
    if ia:
        return sign | F.inf, 0
    if ib or za:
        return sign, 0
    if zb:
        return sign | F.inf, DZ
    _, ma, ea = _decode(F, a)
    _, mb, eb = _decode(F, b)
    k = F.p + 2 + mb.bit_length()               # quotient gets >= p+2 bits
    q, r = divmod(ma << k, mb)
    return _round_pack(F, bool(sign), q, ea - eb - k, r != 0, rm)


def sqrt(fmt, a, rm):
    F = _FMT[fmt]
    a &= F.mask
    if _isnan(F, a):
        return _nan_result(F, a)
    if not a & ~F.sign:
        return a, 0                             # sqrt(+-0) = +-0
    if a & F.sign:
        return F.cnan, NV
    if a == F.inf:
        return a, 0
    _, m, e = _decode(F, a)
    if e & 1:
        m <<= 1
        e -= 1
    k = F.p + 3                                 # root gets >= p+3 bits
    x = m << (2 * k)
    r = math.isqrt(x)
    return _round_pack(F, False, r, (e >> 1) - k, r * r != x, rm)


def fma(fmt, a, b, c, rm):
    """a*b + c with a single rounding."""
    F = _FMT[fmt]
    a &= F.mask
    b &= F.mask
    c &= F.mask
    ia, ib, ic = _isinf(F, a), _isinf(F, b), _isinf(F, c)
    za, zb = not a & ~F.sign, not b & ~F.sign
    # RISC-V: inf*0 raises NV even when the addend is a quiet NaN.
    inf_times_zero = (ia and zb) or (ib and za)
    if _isnan(F, a) or _isnan(F, b) or _isnan(F, c) or inf_times_zero:
        flags = NV if inf_times_zero else _nan_result(F, a, b, c)[1]
        return F.cnan, flags
    psign = (a ^ b) & F.sign
    if ia or ib:
        if ic and (c & F.sign) != psign:
            return F.cnan, NV                   # inf - inf
        return psign | F.inf, 0
    if ic:
        return c, 0
    _, ma, ea = _decode(F, a)
    _, mb, eb = _decode(F, b)
    nc, mc, ec = _decode(F, c)
    return _sum(F, bool(psign), ma * mb, ea + eb, nc, mc, ec, rm)


# ------------------------------------------------------- min/max, compares

def _key(F, x):
    """Integer key ordering non-NaN values, with -0 < +0."""
    return (F.mask ^ x) if x & F.sign else (x | F.sign)


def _minmax(fmt, a, b, want_max):
    F = _FMT[fmt]
    a &= F.mask
    b &= F.mask
    flags = NV if (_issnan(F, a) or _issnan(F, b)) else 0
    na, nb = _isnan(F, a), _isnan(F, b)
    if na and nb:
        return F.cnan, flags
    if na:
        return b, flags
    if nb:
        return a, flags
    a_first = _key(F, a) >= _key(F, b) if want_max else _key(F, a) <= _key(F, b)
    return (a if a_first else b), flags


def min(fmt, a, b):
    return _minmax(fmt, a, b, False)


def max(fmt, a, b):
    return _minmax(fmt, a, b, True)


def eq(fmt, a, b):
    """Quiet compare: NV only for signalling NaNs."""
    F = _FMT[fmt]
    a &= F.mask
    b &= F.mask
    if _isnan(F, a) or _isnan(F, b):
        return 0, (NV if (_issnan(F, a) or _issnan(F, b)) else 0)
    return int(a == b or not (a | b) & ~F.sign), 0


def lt(fmt, a, b):
    """Signalling compare: NV for any NaN."""
    F = _FMT[fmt]
    a &= F.mask
    b &= F.mask
    if _isnan(F, a) or _isnan(F, b):
        return 0, NV
    both_zero = not (a | b) & ~F.sign
    return int(not both_zero and _key(F, a) < _key(F, b)), 0


def le(fmt, a, b):
    F = _FMT[fmt]
    a &= F.mask
    b &= F.mask
    if _isnan(F, a) or _isnan(F, b):
        return 0, NV
    both_zero = not (a | b) & ~F.sign
    return int(both_zero or _key(F, a) <= _key(F, b)), 0


def classify(fmt, a):
    """fclass mask: bit 0 -inf, 1 -normal, 2 -subnormal, 3 -0, 4 +0,
    5 +subnormal, 6 +normal, 7 +inf, 8 sNaN, 9 qNaN."""
    F = _FMT[fmt]
    a &= F.mask
    if _isnan(F, a):
        return (1 << 8) if _issnan(F, a) else (1 << 9), 0
    E = (a >> F.mbits) & F.emask
    if E == F.emask:
        k = 7
    elif E:
        k = 6
    elif a & F.fmask:
        k = 5
    else:
        k = 4
    return 1 << ((7 - k) if a & F.sign else k), 0


# ------------------------------------------------------------- conversions

def _sext32(v):
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def f2i(fmt, a, width, signed, rm):
    """Float -> integer, saturating as RISC-V specifies. 32-bit results are
    sign-extended to 64 bits (as fcvt.w[u] writes rd on RV64)."""
    F = _FMT[fmt]
    a &= F.mask
    if signed:
        lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    else:
        lo, hi = 0, (1 << width) - 1
    neg = bool(a & F.sign)
    if _isnan(F, a):
        r, flags = hi, NV
    elif _isinf(F, a):
        r, flags = (lo if neg else hi), NV
    else:
        _, m, e = _decode(F, a)
        q, inexact = _shift_round(m, -e, False, neg, rm)
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
    F = _FMT[fmt]
    v &= (1 << width) - 1
    if signed and v >> (width - 1):
        v -= 1 << width
    if v == 0:
        return 0, 0
    return _round_pack(F, v < 0, abs(v), 0, False, rm)


def f2f(dst_fmt, src_fmt, a, rm):
    S, D = _FMT[src_fmt], _FMT[dst_fmt]
    a &= S.mask
    if _isnan(S, a):
        return D.cnan, (NV if _issnan(S, a) else 0)
    sign = D.sign if a & S.sign else 0
    if _isinf(S, a):
        return sign | D.inf, 0
    neg, m, e = _decode(S, a)
    if m == 0:
        return sign, 0
    return _round_pack(D, neg, m, e, False, rm)


# -------------------------------------------------------------- dispatcher

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
