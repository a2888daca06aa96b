"""Exact IEEE 754 reference model (RISC-V flavour) used to compute the
expected values in the generated F/D guest tests (guests/tools/gen_fp.py).

Values are handled as exact fractions and rounded once, so results are
correctly rounded in every rounding mode.  RISC-V specifics: NaN results are
always the canonical NaN; tininess is detected after rounding; fmin/fmax
follow IEEE 754-2019 minimumNumber/maximumNumber with -0 < +0; integer
conversions saturate and raise only NV when out of range.
"""

from fractions import Fraction
from math import isqrt

NX, UF, OF, DZ, NV = 1, 2, 4, 8, 16
RNE, RTZ, RDN, RUP, RMM = 0, 1, 2, 3, 4
RM_NAMES = ["rne", "rtz", "rdn", "rup", "rmm"]


class Fmt:
    def __init__(self, ebits, mbits):
        self.ebits, self.mbits = ebits, mbits
        self.bias = (1 << (ebits - 1)) - 1
        self.emin = 1 - self.bias
        self.emax = self.bias
        self.width = 1 + ebits + mbits
        self.qnan = ((1 << ebits) - 1) << mbits | 1 << (mbits - 1)
        self.inf = ((1 << ebits) - 1) << mbits
        self.sign = 1 << (self.width - 1)

    # ---- decoding ----
    def fields(self, b):
        return b >> (self.width - 1), (b >> self.mbits) & ((1 << self.ebits) - 1), b & ((1 << self.mbits) - 1)

    def is_nan(self, b):
        s, e, m = self.fields(b)
        return e == (1 << self.ebits) - 1 and m != 0

    def is_snan(self, b):
        return self.is_nan(b) and not (b >> (self.mbits - 1)) & 1

    def is_inf(self, b):
        s, e, m = self.fields(b)
        return e == (1 << self.ebits) - 1 and m == 0

    def is_zero(self, b):
        return b & ~self.sign == 0

    def neg(self, b):
        return b ^ self.sign

    def value(self, b):
        """Exact value of a finite encoding (Fraction)."""
        s, e, m = self.fields(b)
        if e == 0:
            v = Fraction(m) * Fraction(2) ** (self.emin - self.mbits)
        else:
            v = Fraction(m | 1 << self.mbits) * Fraction(2) ** (e - self.bias - self.mbits)
        return -v if s else v

    def signbit(self, b):
        return b >> (self.width - 1)

    # ---- rounding ----
    def round(self, x, rm, sticky=False):
        """Round exact nonzero Fraction x (sticky: true value is just above |x|)."""
        assert x != 0
        neg = x < 0
        a = -x if neg else x
        # exponent e with 2^e <= a < 2^(e+1)
        e = a.numerator.bit_length() - a.denominator.bit_length()
        if Fraction(2) ** e > a:
            e -= 1
        elif Fraction(2) ** (e + 1) <= a:
            e += 1

        def rnd(q):
            m = a / q
            n = m.numerator // m.denominator
            rem = m - n
            inexact = rem != 0 or sticky
            half = Fraction(1, 2)
            up = False
            if rm == RNE:
                up = rem > half or (rem == half and (sticky or n & 1))
            elif rm == RMM:
                up = rem >= half
            elif rm == RTZ:
                up = False
            elif rm == RDN:
                up = neg and inexact
            elif rm == RUP:
                up = (not neg) and inexact
            return n + (1 if up else 0), inexact

        # tininess after rounding: round with unbounded exponent range
        n_unb, _ = rnd(Fraction(2) ** (e - self.mbits))
        r_unb = n_unb * Fraction(2) ** (e - self.mbits)
        tiny = r_unb < Fraction(2) ** self.emin
        q = Fraction(2) ** (max(e, self.emin) - self.mbits)
        n, inexact = rnd(q)
        r = n * q
        flags = NX if inexact else 0
        if tiny and inexact:
            flags |= UF
        if r >= Fraction(2) ** (self.emax + 1):
            flags |= OF | NX
            to_inf = rm in (RNE, RMM) or (rm == RUP and not neg) or (rm == RDN and neg)
            bits = self.inf if to_inf else self.inf - 1
            return (bits | (self.sign if neg else 0)), flags
        return self.encode(r, neg), flags

    def encode(self, r, neg):
        """Encode an exactly representable magnitude r."""
        if r == 0:
            return self.sign if neg else 0
        e = r.numerator.bit_length() - r.denominator.bit_length()
        if Fraction(2) ** e > r:
            e -= 1
        elif Fraction(2) ** (e + 1) <= r:
            e += 1
        if e < self.emin:
            m = r / Fraction(2) ** (self.emin - self.mbits)
            assert m.denominator == 1
            bits = int(m)
        else:
            m = r / Fraction(2) ** (e - self.mbits)
            assert m.denominator == 1
            bits = (e + self.bias) << self.mbits | (int(m) - (1 << self.mbits))
        return bits | (self.sign if neg else 0)

    def from_value(self, x, rm=RNE):
        """Encoding of x (Fraction/int/float), rounded; zero gives +0."""
        x = Fraction(x)
        if x == 0:
            return 0
        return self.round(x, rm)[0]


F32 = Fmt(8, 23)
F64 = Fmt(11, 52)


def _nan_check(f, *ops):
    """(result, flags) if any operand is NaN, else None."""
    if any(f.is_nan(b) for b in ops):
        return f.qnan, (NV if any(f.is_snan(b) for b in ops) else 0)
    return None


def _sum(f, terms, rm):
    """Exact sum of (value, signbit) terms, where each value may be zero."""
    total = sum(v for v, _ in terms)
    if total == 0:
        if all(v == 0 for v, _ in terms) and len({s for _, s in terms}) == 1:
            return (f.sign if terms[0][1] else 0), 0
        return (f.sign if rm == RDN else 0), 0
    return f.round(total, rm)


def add(f, a, b, rm):
    r = _nan_check(f, a, b)
    if r:
        return r
    if f.is_inf(a) or f.is_inf(b):
        if f.is_inf(a) and f.is_inf(b) and f.signbit(a) != f.signbit(b):
            return f.qnan, NV
        return (a if f.is_inf(a) else b), 0
    return _sum(f, [(f.value(a), f.signbit(a)), (f.value(b), f.signbit(b))], rm)


def sub(f, a, b, rm):
    if f.is_nan(b):
        return _nan_check(f, a, b)
    return add(f, a, f.neg(b), rm)


def mul(f, a, b, rm):
    r = _nan_check(f, a, b)
    if r:
        return r
    s = f.signbit(a) ^ f.signbit(b)
    if f.is_inf(a) or f.is_inf(b):
        if f.is_zero(a) or f.is_zero(b):
            return f.qnan, NV
        return f.inf | (f.sign if s else 0), 0
    p = f.value(a) * f.value(b)
    if p == 0:
        return (f.sign if s else 0), 0
    return f.round(p, rm)


def div(f, a, b, rm):
    r = _nan_check(f, a, b)
    if r:
        return r
    s = f.signbit(a) ^ f.signbit(b)
    sg = f.sign if s else 0
    if f.is_inf(a):
        return (f.qnan, NV) if f.is_inf(b) else (f.inf | sg, 0)
    if f.is_inf(b):
        return sg, 0
    if f.is_zero(b):
        return (f.qnan, NV) if f.is_zero(a) else (f.inf | sg, DZ)
    if f.is_zero(a):
        return sg, 0
    return f.round(f.value(a) / f.value(b), rm)


def sqrt(f, a, rm):
    r = _nan_check(f, a)
    if r:
        return r
    if f.is_zero(a):
        return a, 0
    if f.signbit(a):
        return f.qnan, NV
    if f.is_inf(a):
        return a, 0
    v = f.value(a)
    k = v.denominator.bit_length() // 2 + 200     # plenty of extra bits
    n = v * Fraction(2) ** (2 * k)
    assert n.denominator == 1
    root = isqrt(int(n))
    exact = root * root == int(n)
    return f.round(Fraction(root, 1 << k), rm, sticky=not exact)


def fma(f, a, b, c, rm, neg_prod=False, neg_add=False):
    """(+/-)(a*b) (+/-) c with one rounding."""
    if any(f.is_nan(x) for x in (a, b, c)):
        flags = NV if any(f.is_snan(x) for x in (a, b, c)) else 0
        if (f.is_inf(a) and f.is_zero(b)) or (f.is_zero(a) and f.is_inf(b)):
            flags = NV
        return f.qnan, flags
    ps = f.signbit(a) ^ f.signbit(b) ^ neg_prod
    cs = f.signbit(c) ^ neg_add
    if f.is_inf(a) or f.is_inf(b):
        if f.is_zero(a) or f.is_zero(b):
            return f.qnan, NV
        if f.is_inf(c) and cs != ps:
            return f.qnan, NV
        return f.inf | (f.sign if ps else 0), 0
    if f.is_inf(c):
        return f.inf | (f.sign if cs else 0), 0
    pv = f.value(a) * f.value(b)
    cv = f.value(c)
    pv = -pv if neg_prod else pv
    cv = -cv if neg_add else cv
    return _sum(f, [(pv, ps), (cv, cs)], rm)


def minmax(f, a, b, is_max):
    flags = NV if (f.is_snan(a) or f.is_snan(b)) else 0
    if f.is_nan(a) and f.is_nan(b):
        return f.qnan, flags
    if f.is_nan(a):
        return b, flags
    if f.is_nan(b):
        return a, flags

    def key(x):
        if f.is_inf(x):
            return (Fraction(-1 if f.signbit(x) else 1) * 10 ** 400, 0)
        return (f.value(x), 0 if f.signbit(x) else 1)
    return (max if is_max else min)((a, b), key=key), flags


def compare(f, a, b, op):
    """op: 'eq' (quiet), 'lt', 'le' (signaling)."""
    if f.is_nan(a) or f.is_nan(b):
        if op == "eq":
            return 0, (NV if (f.is_snan(a) or f.is_snan(b)) else 0)
        return 0, NV

    def val(x):
        if f.is_inf(x):
            return Fraction(-1 if f.signbit(x) else 1) * 10 ** 400
        return f.value(x)
    va, vb = val(a), val(b)
    return int({"eq": va == vb, "lt": va < vb, "le": va <= vb}[op]), 0


def fclass(f, a):
    s, e, m = f.fields(a)
    emax = (1 << f.ebits) - 1
    if e == emax:
        if m == 0:
            return 1 << (0 if s else 7)
        return 1 << (8 if f.is_snan(a) else 9)
    if e == 0:
        if m == 0:
            return 1 << (3 if s else 4)
        return 1 << (2 if s else 5)
    return 1 << (1 if s else 6)


def round_int(x, rm):
    """Round Fraction x to an integer; returns (int, inexact)."""
    n = x.numerator // x.denominator      # floor
    rem = x - n
    if rem == 0:
        return n, False
    half = Fraction(1, 2)
    if rm == RNE:
        up = rem > half or (rem == half and n & 1)
    elif rm == RMM:
        up = rem > half or (rem == half and x > 0)
    elif rm == RTZ:
        up = x < 0
    elif rm == RDN:
        up = False
    else:
        up = True
    return n + (1 if up else 0), True


def to_int(f, a, rm, bits, signed):
    """fcvt.{w,wu,l,lu}: returns (64-bit register value, flags)."""
    lo = -(1 << (bits - 1)) if signed else 0
    hi = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
    if f.is_nan(a):
        r = hi
    elif f.is_inf(a):
        r = lo if f.signbit(a) else hi
    else:
        n, inexact = round_int(f.value(a), rm)
        if n < lo or n > hi:
            r = lo if n < lo else hi
        else:
            r = n
            return _sext(r, bits), (NX if inexact else 0)
    return _sext(r, bits), NV


def _sext(v, bits):
    v &= (1 << bits) - 1
    if v >> (bits - 1):
        v -= 1 << bits
    return v & ((1 << 64) - 1)


def from_int(f, v, bits, signed, rm):
    v &= (1 << bits) - 1
    if signed and v >> (bits - 1):
        v -= 1 << bits
    if v == 0:
        return 0, 0
    return f.round(Fraction(v), rm)


def convert(src, dst, a, rm):
    """fcvt between formats."""
    if src.is_nan(a):
        return dst.qnan, (NV if src.is_snan(a) else 0)
    if src.is_inf(a):
        return dst.inf | (dst.sign if src.signbit(a) else 0), 0
    if src.is_zero(a):
        return (dst.sign if src.signbit(a) else 0), 0
    return dst.round(src.value(a), rm)
