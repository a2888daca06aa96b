"""The exact core of the pure-Python FP primitives (softfloat): IEEE format constants, NaN
tests, decoding a finite value to m * 2**e, and the one rounding step every result goes
through (round_pack), with RISC-V's tininess-after-rounding and overflow results."""

from . import RNE, RTZ, RDN, RUP, RMM, NV, OF, UF, NX


class Fmt:
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


FMT = {32: Fmt(8, 23), 64: Fmt(11, 52)}


def is_nan(F, x):
    return (x & ~F.sign) > F.inf


def is_snan(F, x):
    return (x & ~F.sign) > F.inf and not x & F.qbit


def is_inf(F, x):
    return (x & ~F.sign) == F.inf


def decode(F, x):
    """Finite x -> (neg, m, e) with |x| = m * 2**e exactly."""
    E = (x >> F.mbits) & F.emask
    f = x & F.fmask
    if E:
        return bool(x & F.sign), f | F.hidden, E - F.bias - F.mbits
    return bool(x & F.sign), f, F.lsb_min


def shift_round(m, sh, sticky, neg, rm):
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


def round_pack(F, neg, m, e, sticky, rm):
    """Round the nonzero value (-1)**neg * (m + t) * 2**e (0 <= t < 1, t > 0
    iff sticky) to format F. m must have >= p+2 bits whenever sticky is set."""
    sign = F.sign if neg else 0
    top = e + m.bit_length() - 1                # exponent of the leading bit
    lsb = top - F.mbits                         # lsb exponent at full precision
    flags = 0
    if lsb < F.lsb_min:
        # Tininess after rounding: round to p bits with unbounded exponent and
        # see whether the magnitude is still below 2**emin.
        q, _ = shift_round(m, lsb - e, sticky, neg, rm)
        tiny = lsb + q.bit_length() - 1 < F.emin
        lsb = F.lsb_min
        q, inexact = shift_round(m, lsb - e, sticky, neg, rm)
        if inexact:
            flags = (UF | NX) if tiny else NX
    else:
        q, inexact = shift_round(m, lsb - e, sticky, neg, rm)
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


def round_sum(F, na, ma, ea, nb, mb, eb, rm):
    """Round the exact sum of two finite signed values m * 2**e."""
    e = ea if ea < eb else eb               # (min/max are primitives here)
    t = ((-ma if na else ma) << (ea - e)) + ((-mb if nb else mb) << (eb - e))
    if t == 0:
        # IEEE 754 6.3: exact zero sum is -0 only for (-0)+(-0) or in RDN.
        neg = na if (ma == 0 and mb == 0 and na == nb) else rm == RDN
        return (F.sign if neg else 0), 0
    return round_pack(F, t < 0, abs(t), e, False, rm)


def nan_result(F, *xs):
    return F.cnan, (NV if any(is_snan(F, x) for x in xs) else 0)
