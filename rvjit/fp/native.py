"""Native (LLVM IR) versions of the RISC-V F/D primitives for the JIT.

runtime_ir() returns one LLVM module defining, for each name N in PRIMITIVES,

    define i64 @rvfp_N(i64 %a, i64 %b, i64 %c, i32 %rm, ptr %fflags)

returning the result bits (single results zero-extended, 32-bit integer
results sign-extended) and OR-ing the raised RISC-V flags into *fflags.

Arithmetic that SSE rounds exactly (add/sub/mul/div/sqrt/fma, double->single)
runs on the hardware: MXCSR is loaded with the rounding mode and cleared
flags around one `llvm.experimental.constrained.*` op, its status is read
back and the caller's MXCSR restored. x86 detects tininess after rounding
like RISC-V, so the x86 flags map one-to-one (DE is ignored). RMM has no x86
mode; since RMM and RNE differ only on exact ties (and raise the same flags)
the op runs in RNE and an exact integer test decides whether the exact
result was the midpoint above the RNE result, in which case it is bumped one
ulp away from zero. Everything else (NaN canonicalisation, min/max,
compares, classify, float<->int conversion, single->double) is plain integer
code, which is exact by construction and needs no MXCSR traffic.

The IR is generated as text by small Python "macros" that inline everything
(only the rare RMM tie test is an out-of-line cold function), so the module
needs no optimisation passes to be fast. ldmxcsr is slow (tens of cycles), so
it is skipped when MXCSR already has the wanted value: callers get the best
speed by running guest code with MXCSR = 0x1F80 (RNE, masked, flags clear).
"""

import ctypes

from . import PRIMITIVES, RMM, NV, NX

# ------------------------------------------------------------ IR emission


class _Fn:
    """Accumulates the body of one IR function with fresh SSA names."""

    def __init__(self):
        self.lines = []
        self.n = 0
        self.block = "entry"

    def __call__(self, rhs):
        self.n += 1
        name = f"%v{self.n}"
        self.lines.append(f"  {name} = {rhs}")
        return name

    def do(self, text):
        self.lines.append("  " + text)

    def label(self, name):
        self.lines.append(f"{name}:")
        self.block = name

    def sel(self, cond, ty, x, y):
        return self(f"select i1 {cond}, {ty} {x}, {ty} {y}")


def _c(v, bits):
    """Integer constant as LLVM IR text (signed decimal, always accepted)."""
    v &= (1 << bits) - 1
    return str(v - (1 << bits) if v >> (bits - 1) else v)


class _NF:
    """Per-format facts used by the generators."""

    def __init__(self, bits):
        self.bits = bits
        self.w = f"i{bits}"
        self.ft = "float" if bits == 32 else "double"
        self.sfx = "f32" if bits == 32 else "f64"
        self.mb = 23 if bits == 32 else 52
        eb = bits - 1 - self.mb
        self.emask = (1 << eb) - 1
        self.bias = (1 << (eb - 1)) - 1
        self.sign = 1 << (bits - 1)
        self.inf = self.emask << self.mb
        self.qbit = 1 << (self.mb - 1)
        self.cnan = self.inf | self.qbit

    def k(self, v):
        return _c(v, self.bits)


_S, _D = _NF(32), _NF(64)
_SD = {"s": _S, "d": _D}


def _arg(f, F, a):
    """Operand %a as an F-width integer (singles: low 32 bits)."""
    return a if F.bits == 64 else f(f"trunc i64 {a} to i32")


def _ret64(f, F, x):
    return x if F.bits == 64 else f(f"zext i32 {x} to i64")


def _abs(f, F, x):
    return f(f"and {F.w} {x}, {F.k(F.sign - 1)}")


def _isnan(f, F, x):
    return f(f"icmp ugt {F.w} {_abs(f, F, x)}, {F.k(F.inf)}")


def _issnan(f, F, x):
    nan = _isnan(f, F, x)
    q = f(f"and {F.w} {x}, {F.k(F.qbit)}")
    quiet = f(f"icmp ne {F.w} {q}, 0")
    return f(f"select i1 {quiet}, i1 false, i1 {nan}")


def _canon(f, F, x):
    """Replace any NaN by the canonical NaN."""
    return f.sel(_isnan(f, F, x), F.w, F.k(F.cnan), x)


def _or_flags(f, flags):
    old = f("load i32, ptr %fflags")
    f.do(f"store i32 {f(f'or i32 {old}, {flags}')}, ptr %fflags")


def _round_inc(f, rm, neg, odd, rbit, sticky):
    """i1: round the magnitude up, given round bit / sticky / lsb, per rm."""
    any_ = f(f"or i1 {rbit}, {sticky}")
    rne = f(f"and i1 {rbit}, {f(f'or i1 {sticky}, {odd}')}")
    rdn = f(f"and i1 {neg}, {any_}")
    rup = f(f"and i1 {f(f'xor i1 {neg}, true')}, {any_}")
    inc = f.sel(f(f"icmp eq i32 {rm}, 4"), "i1", rbit, "false")
    inc = f.sel(f(f"icmp eq i32 {rm}, 3"), "i1", rup, inc)
    inc = f.sel(f(f"icmp eq i32 {rm}, 2"), "i1", rdn, inc)
    return f.sel(f(f"icmp eq i32 {rm}, 0"), "i1", rne, inc)


# ------------------------------------------------- hardware ops via MXCSR

_STRICT = 'metadata !"round.dynamic", metadata !"fpexcept.strict"'
_EXCEPT = 'metadata !"fpexcept.strict"'


def _mxcsr_enter(f):
    """Save the caller's MXCSR; load all-masked, flags clear, FTZ/DAZ off,
    RC from rm. RISC-V rm 0..4 -> x86 RC: RNE 0, RTZ 3, RDN 1, RUP 2, and
    RMM runs as RNE (fixed up afterwards). Table 0x9C packs those 2-bit RCs.
    ldmxcsr costs tens of cycles, so it is skipped when MXCSR already holds
    exactly that value (clean host state, RNE). Returns the saved MXCSR."""
    sh = f("shl i32 %rm, 1")
    rc = f(f"and i32 {f(f'lshr i32 156, {sh}')}, 3")
    mx = f(f"or i32 {f(f'shl i32 {rc}, 13')}, 8064")     # 0x1F80: all masked
    f.do("call void @llvm.x86.sse.stmxcsr(ptr %save) #0")
    old = f("load i32, ptr %save")
    f.do(f"br i1 {f(f'icmp eq i32 {old}, {mx}')}, label %run, label %setmx")
    f.label("setmx")
    f.do(f"store i32 {mx}, ptr %tmp")
    f.do("call void @llvm.x86.sse.ldmxcsr(ptr %tmp) #0")
    f.do("br label %run")
    f.label("run")
    return old


def _mxcsr_leave(f, old):
    """Read the x86 status flags, restore MXCSR (only if it changed), return
    the RISC-V flags (i32)."""
    f.do("call void @llvm.x86.sse.stmxcsr(ptr %tmp) #0")
    st = f("load i32, ptr %tmp")
    f.do(f"br i1 {f(f'icmp eq i32 {st}, {old}')}, label %ran, label %restore")
    f.label("restore")
    f.do("call void @llvm.x86.sse.ldmxcsr(ptr %save) #0")
    f.do("br label %ran")
    f.label("ran")
    # x86 IE(1)->NV(16), ZE(4)->DZ(8), OE(8)->OF(4), UE(16)->UF(2), PE(32)->NX(1)
    nv = f(f"shl i32 {f(f'and i32 {st}, 1')}, 4")
    dz = f(f"shl i32 {f(f'and i32 {st}, 4')}, 1")
    of = f(f"lshr i32 {f(f'and i32 {st}, 8')}, 1")
    uf = f(f"lshr i32 {f(f'and i32 {st}, 16')}, 3")
    nx = f(f"and i32 {f(f'lshr i32 {st}, 5')}, 1")
    acc = nv
    for x in (dz, of, uf, nx):
        acc = f(f"or i32 {acc}, {x}")
    return acc


# ----------------------------------------------------- exact RMM tie test

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
        return [_decomp(f, _D, xs[0]), _neg_midpoint(f, _S, r)]
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


# ------------------------------------------------------------- generators

_HW = {"add": "fadd", "sub": "fsub", "mul": "fmul", "div": "fdiv",
       "sqrt": "sqrt", "fma": "fma"}
_NARGS = {"add": 2, "sub": 2, "mul": 2, "div": 2, "sqrt": 1, "fma": 3}


def _gen_hw(op, F):
    """add/sub/mul/div/sqrt/fma in format F, or op 'f2f' (double->single)."""
    f = _Fn()
    f.do("%save = alloca i32")
    f.do("%tmp = alloca i32")
    if op == "f2f":
        xs = ["%a"]
        vals = [f("bitcast i64 %a to double")]
        call = (f"call float @llvm.experimental.constrained.fptrunc.f32.f64("
                f"double {vals[0]}, {_STRICT}) #0")
    else:
        xs = [_arg(f, F, a) for a in ("%a", "%b", "%c")[:_NARGS[op]]]
        vals = [f(f"bitcast {F.w} {x} to {F.ft}") for x in xs]
        ins = ", ".join(f"{F.ft} {v}" for v in vals)
        call = (f"call {F.ft} @llvm.experimental.constrained.{_HW[op]}."
                f"{F.sfx}({ins}, {_STRICT}) #0")
    old = _mxcsr_enter(f)
    res = f(call)
    flags = _mxcsr_leave(f, old)
    r = f(f"bitcast {F.ft} {res} to {F.w}")
    if op == "fma":
        # RISC-V: inf*0 raises NV even if the addend is a quiet NaN.
        za, zb = [f(f"icmp eq {F.w} {_abs(f, F, x)}, 0") for x in xs[:2]]
        ia, ib = [f(f"icmp eq {F.w} {_abs(f, F, x)}, {F.k(F.inf)}") for x in xs[:2]]
        bad = f(f"or i1 {f(f'and i1 {ia}, {zb}')}, {f(f'and i1 {ib}, {za}')}")
        flags = f(f"or i32 {flags}, {f.sel(bad, 'i32', NV, 0)}")
    r = _canon(f, F, r)
    if op != "sqrt":                    # sqrt results are never ties
        rmm = f(f"icmp eq i32 %rm, {RMM}")
        inexact = f(f"icmp ne i32 {f(f'and i32 {flags}, {NX}')}, 0")
        finite = f(f"icmp ult {F.w} {_abs(f, F, r)}, {F.k(F.inf)}")
        need = f(f"and i1 {f(f'and i1 {rmm}, {inexact}')}, {finite}")
        f.do(f"br i1 {need}, label %tie, label %done")
        pre = f.block
        f.label("tie")
        r64 = _ret64(f, F, r)
        tie = f(f"call i1 @rvfp_tie_{op}_{F.bits}(i64 %a, i64 %b, i64 %c, i64 {r64}) #0")
        bumped = f(f"add {F.w} {r}, {f(f'zext i1 {tie} to {F.w}')}")
        f.do("br label %done")
        f.label("done")
        r = f(f"phi {F.w} [ {r}, %{pre} ], [ {bumped}, %tie ]")
    _or_flags(f, flags)
    f.do(f"ret i64 {_ret64(f, F, r)}")
    return f, True


def _gen_tie(op, F):
    """Cold helper @rvfp_tie_<op>_<bits>(a, b, c, r) -> i1: is the exact
    result of op the midpoint just above the (finite, inexact) RNE result r?
    Kept out of line so the hot path needs no extra registers."""
    f = _Fn()
    r = _arg(f, F, "%r")
    if op == "f2f":
        xs = ["%a"]
    else:
        xs = [_arg(f, F, a) for a in ("%a", "%b", "%c")[:_NARGS[op]]]
    f.do(f"ret i1 {_sum_is_zero(f, _tie_terms(f, op, F, xs, r))}")
    return f



def _gen_minmax(F, is_max):
    f = _Fn()
    a, b = _arg(f, F, "%a"), _arg(f, F, "%b")
    na, nb = _isnan(f, F, a), _isnan(f, F, b)
    snan = f(f"or i1 {_issnan(f, F, a)}, {_issnan(f, F, b)}")
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
    _or_flags(f, f.sel(snan, "i32", NV, 0))
    f.do(f"ret i64 {_ret64(f, F, r)}")
    return f, False


def _gen_cmp(F, kind):
    f = _Fn()
    a, b = _arg(f, F, "%a"), _arg(f, F, "%b")
    anynan = f(f"or i1 {_isnan(f, F, a)}, {_isnan(f, F, b)}")
    if kind == "eq":                    # quiet: only sNaN signals
        bad = f(f"or i1 {_issnan(f, F, a)}, {_issnan(f, F, b)}")
    else:                               # signalling: any NaN
        bad = anynan
    both0 = f(f"icmp eq {F.w} {_abs(f, F, f(f'or {F.w} {a}, {b}'))}, 0")
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
    _or_flags(f, f.sel(bad, "i32", NV, 0))
    f.do(f"ret i64 {f(f'zext i1 {r} to i64')}")
    return f, False


def _gen_class(F):
    f = _Fn()
    a = _arg(f, F, "%a")
    ab = _abs(f, F, a)
    E = f(f"lshr {F.w} {ab}, {F.mb}")
    k = f.sel(f(f"icmp ne {F.w} {ab}, 0"), F.w, "5", "4")          # +sub / +0
    k = f.sel(f(f"icmp ne {F.w} {E}, 0"), F.w, "6", k)             # +normal
    k = f.sel(f(f"icmp eq {F.w} {ab}, {F.k(F.inf)}"), F.w, "7", k)  # +inf
    k = f.sel(f(f"icmp slt {F.w} {a}, 0"), F.w, f(f"sub {F.w} 7, {k}"), k)
    k = f.sel(_isnan(f, F, a), F.w, f.sel(_issnan(f, F, a), F.w, "8", "9"), k)
    r = f(f"shl {F.w} 1, {k}")
    f.do(f"ret i64 {_ret64(f, F, r)}")
    return f, False


def _gen_f2i(F, width, signed):
    """Exact integer rounding of m*2**e, then RISC-V saturation."""
    f = _Fn()
    x = _arg(f, F, "%a")
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
    inc = _round_inc(f, "%rm", neg, odd, rbit, sticky)
    mag = f(f"add i64 {q}, {f(f'zext i1 {inc} to i64')}")
    if signed:
        lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
        lim = f.sel(neg, "i64", _c(1 << (width - 1), 64), _c(hi, 64))
    else:
        lo, hi = 0, (1 << width) - 1
        lim = f.sel(neg, "i64", "0", _c(hi, 64))
    inrange = f(f"icmp ule i64 {mag}, {lim}")
    ok = f(f"and i1 {inrange}, {f(f'xor i1 {big}, true')}")
    val = f.sel(neg, "i64", f(f"sub i64 0, {mag}"), mag)
    sat = f.sel(neg, "i64", _c(lo, 64), _c(hi, 64))
    sat = f.sel(isnan, "i64", _c(hi, 64), sat)
    r = f.sel(ok, "i64", val, sat)
    if width == 32:                     # RV64 writes 32-bit results sign-extended
        r = f(f"sext i32 {f(f'trunc i64 {r} to i32')} to i64")
    inexact = f(f"or i1 {rbit}, {sticky}")
    flags = f.sel(ok, "i32", f.sel(inexact, "i32", NX, 0), NV)
    _or_flags(f, flags)
    f.do(f"ret i64 {r}")
    return f, False


def _gen_i2f(F, width, signed):
    """Exact: normalise with ctlz, round the dropped bits per rm."""
    f = _Fn()
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
    inc = _round_inc(f, "%rm", neg, f(f"trunc i64 {q} to i1"), rbit, sticky)
    q = f(f"add i64 {q}, {f(f'zext i1 {inc} to i64')}")
    # biased exponent of bit 63-lz; adding q (hidden bit included) to
    # (E-1)<<mb lets a rounding carry bump the exponent for free
    e1 = f(f"sub i64 {62 + F.bias}, {lz}")
    bits = f(f"add i64 {f(f'shl i64 {e1}, {F.mb}')}, {q}")
    bits = f(f"or i64 {bits}, {f.sel(neg, 'i64', F.sign, '0')}")
    bits = f.sel(zero, "i64", "0", bits)
    inexact = f(f"or i1 {rbit}, {sticky}")
    _or_flags(f, f.sel(inexact, "i32", NX, 0))
    f.do(f"ret i64 {bits}")
    return f, False


def _gen_f2f_widen():
    """single -> double, exact in integer code."""
    f = _Fn()
    x = f("trunc i64 %a to i32")
    ab = _abs(f, _S, x)
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
    r = f.sel(f(f"icmp eq i32 {ab}, {_S.inf}"), "i64", _c(_D.inf, 64), r)
    r = f(f"or i64 {r}, {sign}")
    r = f.sel(_isnan(f, _S, x), "i64", _c(_D.cnan, 64), r)
    _or_flags(f, f.sel(_issnan(f, _S, x), "i32", NV, 0))
    f.do(f"ret i64 {r}")
    return f, False


def _generator(name):
    parts = name.split("_")
    op = parts[0]
    if op in _HW:
        return lambda: _gen_hw(op, _SD[parts[1]])
    if op in ("min", "max"):
        return lambda: _gen_minmax(_SD[parts[1]], op == "max")
    if op in ("eq", "lt", "le"):
        return lambda: _gen_cmp(_SD[parts[1]], op)
    if op == "class":
        return lambda: _gen_class(_SD[parts[1]])
    ity = {"w": (32, True), "wu": (32, False), "l": (64, True), "lu": (64, False)}
    if op == "f2i":
        return lambda: _gen_f2i(_SD[parts[2]], *ity[parts[1]])
    if op == "i2f":
        return lambda: _gen_i2f(_SD[parts[1]], *ity[parts[2]])
    if name == "f2f_s_d":
        return lambda: _gen_hw("f2f", _S)
    if name == "f2f_d_s":
        return _gen_f2f_widen
    raise ValueError(name)


_DECLS = """\
declare void @llvm.x86.sse.ldmxcsr(ptr)
declare void @llvm.x86.sse.stmxcsr(ptr)
declare i128 @llvm.cttz.i128(i128, i1)
declare i64 @llvm.ctlz.i64(i64, i1)
declare i32 @llvm.smin.i32(i32, i32)
declare i32 @llvm.smax.i32(i32, i32)
declare i32 @llvm.umin.i32(i32, i32)
declare i64 @llvm.umin.i64(i64, i64)
declare float @llvm.experimental.constrained.fptrunc.f32.f64(double, metadata, metadata)
"""

_ATTRS = """
attributes #0 = { strictfp nounwind }
attributes #1 = { nounwind }
attributes #2 = { noinline nounwind cold }
"""


def runtime_ir():
    """LLVM IR text defining @rvfp_<name> for every name in PRIMITIVES."""
    out = [_DECLS]
    for ty, sfx in (("float", "f32"), ("double", "f64")):
        for op, n in (("fadd", 2), ("fsub", 2), ("fmul", 2), ("fdiv", 2),
                      ("sqrt", 1), ("fma", 3)):
            args = ", ".join([ty] * n)
            out.append(f"declare {ty} @llvm.experimental.constrained.{op}."
                       f"{sfx}({args}, metadata, metadata)")
    for op in ("add", "sub", "mul", "div", "fma", "f2f"):
        for F in ((_S,) if op == "f2f" else (_S, _D)):
            f = _gen_tie(op, F)
            out.append(f"\ndefine internal i1 @rvfp_tie_{op}_{F.bits}(i64 %a, i64 %b, "
                       f"i64 %c, i64 %r) #2 {{\nentry:")
            out.extend(f.lines)
            out.append("}")
    for name in PRIMITIVES:
        f, strict = _generator(name)()
        attr = "#0" if strict else "#1"
        out.append(f"\ndefine i64 @rvfp_{name}(i64 %a, i64 %b, i64 %c, i32 %rm, "
                   f"ptr %fflags) {attr} {{\nentry:")
        out.extend(f.lines)
        out.append("}")
    out.append(_ATTRS)
    return "\n".join(out) + "\n"


# --------------------------------------------------------- compile & call

_CFUNC = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64,
                          ctypes.c_uint64, ctypes.c_int32, ctypes.c_void_p)
_cache = {}


def compile_runtime():
    """JIT-compile runtime_ir() once (MCJIT, host CPU) and return a dict
    name -> ctypes function(a, b, c, rm, fflags_ptr) -> result bits."""
    if "fns" in _cache:
        return _cache["fns"]
    import llvmlite.binding as llvm
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    tm = llvm.Target.from_default_triple().create_target_machine(
        opt=2, reloc="pic", cpu=llvm.get_host_cpu_name(),
        features=llvm.get_host_cpu_features().flatten())
    mod = llvm.parse_assembly(runtime_ir())
    mod.verify()
    ee = llvm.create_mcjit_compiler(mod, tm)
    ee.finalize_object()
    fns = {n: _CFUNC(ee.get_function_address("rvfp_" + n)) for n in PRIMITIVES}
    _cache["ee"] = ee                   # keeps the machine code alive
    _cache["fns"] = fns
    return fns


def call(name, a, b, c, rm):
    """Run the native primitive `name`; returns (result, flags) like
    softfloat.call. Convenient for tests; the JIT calls the code directly."""
    flags = ctypes.c_uint32(0)
    r = compile_runtime()[name](a, b, c, rm, ctypes.addressof(flags))
    return r, flags.value
