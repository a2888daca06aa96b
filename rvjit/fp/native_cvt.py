"""Native FP conversions float<->int and single->double: exact integer IR (the double->single
narrowing rounds on the SSE unit, see native_arith)."""

from . import NV, NX
from .native_ir import (DOUBLE, SINGLE, Fn, abs_bits, arg_bits, iconst, is_nan, is_snan,
                       or_flags, round_inc)


def gen_f2i(F, width, signed):
    """Exact integer rounding of m*2**e, then RISC-V saturation."""
    f = Fn()
    x = arg_bits(f, F, "%a")
    x = x if F.bits == 64 else f(f"zext i32 {x} to i64")
    neg = f(f"icmp ne i64 {f(f'and i64 {x}, {F.sign}')}, 0")
    E = f(f"and i64 {f(f'lshr i64 {x}, {F.mb}')}, {F.emask}")
    fr = f(f"and i64 {x}, {(1 << F.mb) - 1}")
    norm = f(f"icmp ne i64 {E}, 0")
    m = f.sel(norm, "i64", f(f"or i64 {fr}, {1 << F.mb}"), fr)
    e = f(f"sub i64 {f.sel(norm, 'i64', E, '1')}, {F.bias + F.mb}")
    big = f(f"icmp uge i64 {E}, {F.bias + 64}")     # |x| >= 2**64, inf, NaN
    isnan = f(f"icmp ugt i64 {f(f'and i64 {x}, {F.sign - 1}')}, {F.inf}")
    # e >= 0: exact left shift (clamped only to keep unused lanes defined)
    left = f(f"icmp sge i64 {e}, 0")
    el = f(f"call i64 @llvm.umin.i64(i64 {e}, i64 63)")
    ql = f(f"shl i64 {m}, {f.sel(left, 'i64', el, '0')}")
    # e < 0: shift right by min(-e, 63) (m < 2**53, so 63 acts as infinity)
    sh = f(f"call i64 @llvm.umin.i64(i64 {f(f'sub i64 0, {e}')}, i64 63)")
    sh = f.sel(left, "i64", "1", sh)
    qr = f(f"lshr i64 {m}, {sh}")
    lost = f(f"shl i64 {m}, {f(f'sub i64 64, {sh}')}")  # dropped bits, at top
    rbit = f.sel(left, "i1", "false", f(f"icmp slt i64 {lost}, 0"))
    rest = f(f"icmp ne i64 {f(f'shl i64 {lost}, 1')}, 0")
    sticky = f.sel(left, "i1", "false", rest)
    q = f.sel(left, "i64", ql, qr)
    odd = f(f"trunc i64 {q} to i1")
    inc = round_inc(f, "%rm", neg, odd, rbit, sticky)
    mag = f(f"add i64 {q}, {f(f'zext i1 {inc} to i64')}")
    if signed:
        lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
        lim = f.sel(neg, "i64", iconst(1 << (width - 1), 64), iconst(hi, 64))
    else:
        lo, hi = 0, (1 << width) - 1
        lim = f.sel(neg, "i64", "0", iconst(hi, 64))
    inrange = f(f"icmp ule i64 {mag}, {lim}")
    ok = f(f"and i1 {inrange}, {f(f'xor i1 {big}, true')}")
    val = f.sel(neg, "i64", f(f"sub i64 0, {mag}"), mag)
    sat = f.sel(neg, "i64", iconst(lo, 64), iconst(hi, 64))
    sat = f.sel(isnan, "i64", iconst(hi, 64), sat)
    r = f.sel(ok, "i64", val, sat)
    if width == 32:                     # RV64 writes 32-bit results sign-extended
        r = f(f"sext i32 {f(f'trunc i64 {r} to i32')} to i64")
    inexact = f(f"or i1 {rbit}, {sticky}")
    flags = f.sel(ok, "i32", f.sel(inexact, "i32", NX, 0), NV)
    or_flags(f, flags)
    f.do(f"ret i64 {r}")
    return f, False


def gen_i2f(F, width, signed):
    """Exact: normalise with ctlz, round the dropped bits per rm."""
    f = Fn()
    v = "%a"
    if width == 32:
        ext = "sext" if signed else "zext"
        v = f(f"{ext} i32 {f('trunc i64 %a to i32')} to i64")
    neg = f(f"icmp slt i64 {v}, 0") if signed else "false"
    mag = f.sel(neg, "i64", f(f"sub i64 0, {v}"), v)
    zero = f(f"icmp eq i64 {mag}, 0")
    lz = f(f"call i64 @llvm.ctlz.i64(i64 {mag}, i1 false)")
    lz = f.sel(zero, "i64", "0", lz)
    n = f(f"shl i64 {mag}, {lz}")                  # leading one at bit 63
    p = F.mb + 1
    q = f(f"lshr i64 {n}, {64 - p}")
    lost = f(f"shl i64 {n}, {p}")
    rbit = f(f"icmp slt i64 {lost}, 0")
    sticky = f(f"icmp ne i64 {f(f'shl i64 {lost}, 1')}, 0")
    inc = round_inc(f, "%rm", neg, f(f"trunc i64 {q} to i1"), rbit, sticky)
    q = f(f"add i64 {q}, {f(f'zext i1 {inc} to i64')}")
    # biased exponent of bit 63-lz; adding q (hidden bit included) to
    # (E-1)<<mb lets a rounding carry bump the exponent for free
    e1 = f(f"sub i64 {62 + F.bias}, {lz}")
    bits = f(f"add i64 {f(f'shl i64 {e1}, {F.mb}')}, {q}")
    bits = f(f"or i64 {bits}, {f.sel(neg, 'i64', F.sign, '0')}")
    bits = f.sel(zero, "i64", "0", bits)
    inexact = f(f"or i1 {rbit}, {sticky}")
    or_flags(f, f.sel(inexact, "i32", NX, 0))
    f.do(f"ret i64 {bits}")
    return f, False


def gen_f2f_widen():
    """single -> double, exact in integer code."""
    f = Fn()
    x = f("trunc i64 %a to i32")
    ab = abs_bits(f, SINGLE, x)
    x64 = f(f"zext i32 {x} to i64")
    sign = f(f"shl i64 {f(f'lshr i64 {x64}, 31')}, 63")
    E = f(f"lshr i64 {f(f'and i64 {x64}, 2147483647')}, 23")
    fr = f(f"and i64 {x64}, 8388607")
    exp = f(f"shl i64 {f(f'add i64 {E}, 896')}, 52")   # 896 = 1023 - 127
    normal = f(f"or i64 {exp}, {f(f'shl i64 {fr}, 29')}")
    # subnormal: leading one of fr at bit 63-lz; value fr * 2**-149
    lz = f(f"call i64 @llvm.ctlz.i64(i64 {fr}, i1 false)")
    up = f(f"shl i64 {fr}, {f(f'sub i64 {lz}, 11')}")
    mant = f(f"and i64 {up}, {(1 << 52) - 1}")
    sexp = f(f"shl i64 {f(f'sub i64 {63 + 1023 - 149}, {lz}')}, 52")
    sub = f(f"or i64 {sexp}, {mant}")
    r = f.sel(f(f"icmp eq i64 {E}, 0"), "i64", sub, normal)
    r = f.sel(f(f"icmp eq i32 {ab}, 0"), "i64", "0", r)
    r = f.sel(f(f"icmp eq i32 {ab}, {SINGLE.inf}"), "i64", iconst(DOUBLE.inf, 64), r)
    r = f(f"or i64 {r}, {sign}")
    r = f.sel(is_nan(f, SINGLE, x), "i64", iconst(DOUBLE.cnan, 64), r)
    or_flags(f, f.sel(is_snan(f, SINGLE, x), "i32", NV, 0))
    f.do(f"ret i64 {r}")
    return f, False
