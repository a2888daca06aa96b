"""softfloat min/max, compares and classify."""

from . import NV
from .softfloat_round import FMT, is_nan, is_snan


def _key(F, x):
    """Integer key ordering non-NaN values, with -0 < +0."""
    return (F.mask ^ x) if x & F.sign else (x | F.sign)


def _minmax(fmt, a, b, want_max):
    F = FMT[fmt]
    a &= F.mask
    b &= F.mask
    flags = NV if (is_snan(F, a) or is_snan(F, b)) else 0
    na, nb = is_nan(F, a), is_nan(F, b)
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
    F = FMT[fmt]
    a &= F.mask
    b &= F.mask
    if is_nan(F, a) or is_nan(F, b):
        return 0, (NV if (is_snan(F, a) or is_snan(F, b)) else 0)
    return int(a == b or not (a | b) & ~F.sign), 0


def lt(fmt, a, b):
    """Signalling compare: NV for any NaN."""
    F = FMT[fmt]
    a &= F.mask
    b &= F.mask
    if is_nan(F, a) or is_nan(F, b):
        return 0, NV
    both_zero = not (a | b) & ~F.sign
    return int(not both_zero and _key(F, a) < _key(F, b)), 0


def le(fmt, a, b):
    F = FMT[fmt]
    a &= F.mask
    b &= F.mask
    if is_nan(F, a) or is_nan(F, b):
        return 0, NV
    both_zero = not (a | b) & ~F.sign
    return int(both_zero or _key(F, a) <= _key(F, b)), 0


def classify(fmt, a):
    """fclass mask: bit 0 -inf, 1 -normal, 2 -subnormal, 3 -0, 4 +0,
    5 +subnormal, 6 +normal, 7 +inf, 8 sNaN, 9 qNaN."""
    F = FMT[fmt]
    a &= F.mask
    if is_nan(F, a):
        return (1 << 8) if is_snan(F, a) else (1 << 9), 0
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
