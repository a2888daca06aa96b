"""Native FP arithmetic run on the SSE unit (add/sub/mul/div/sqrt/fma, double->single): MXCSR
is loaded with the rounding mode around one constrained LLVM op and its status flags mapped to
RISC-V's; RMM is run as RNE and fixed up by the out-of-line tie test (native_tie)."""

from . import RMM, NV, NX
from .native_ir import Fn, abs_bits, arg_bits, canon, or_flags, ret64

_STRICT = 'metadata !"round.dynamic", metadata !"fpexcept.strict"'


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


HW_OPS = {"add": "fadd", "sub": "fsub", "mul": "fmul", "div": "fdiv",
       "sqrt": "sqrt", "fma": "fma"}
NARGS = {"add": 2, "sub": 2, "mul": 2, "div": 2, "sqrt": 1, "fma": 3}


def gen_hw(op, F):
    """add/sub/mul/div/sqrt/fma in format F, or op 'f2f' (double->single)."""
    f = Fn()
    f.do("%save = alloca i32")
    f.do("%tmp = alloca i32")
    if op == "f2f":
        xs = ["%a"]
        vals = [f("bitcast i64 %a to double")]
        call = (f"call float @llvm.experimental.constrained.fptrunc.f32.f64("
                f"double {vals[0]}, {_STRICT}) #0")
    else:
        xs = [arg_bits(f, F, a) for a in ("%a", "%b", "%c")[:NARGS[op]]]
        vals = [f(f"bitcast {F.w} {x} to {F.ft}") for x in xs]
        ins = ", ".join(f"{F.ft} {v}" for v in vals)
        call = (f"call {F.ft} @llvm.experimental.constrained.{HW_OPS[op]}."
                f"{F.sfx}({ins}, {_STRICT}) #0")
    old = _mxcsr_enter(f)
    res = f(call)
    flags = _mxcsr_leave(f, old)
    r = f(f"bitcast {F.ft} {res} to {F.w}")
    if op == "fma":
        # RISC-V: inf*0 raises NV even if the addend is a quiet NaN.
        za, zb = [f(f"icmp eq {F.w} {abs_bits(f, F, x)}, 0") for x in xs[:2]]
        ia, ib = [f(f"icmp eq {F.w} {abs_bits(f, F, x)}, {F.k(F.inf)}") for x in xs[:2]]
        bad = f(f"or i1 {f(f'and i1 {ia}, {zb}')}, {f(f'and i1 {ib}, {za}')}")
        flags = f(f"or i32 {flags}, {f.sel(bad, 'i32', NV, 0)}")
    r = canon(f, F, r)
    if op != "sqrt":                    # sqrt results are never ties
        rmm = f(f"icmp eq i32 %rm, {RMM}")
        inexact = f(f"icmp ne i32 {f(f'and i32 {flags}, {NX}')}, 0")
        finite = f(f"icmp ult {F.w} {abs_bits(f, F, r)}, {F.k(F.inf)}")
        need = f(f"and i1 {f(f'and i1 {rmm}, {inexact}')}, {finite}")
        f.do(f"br i1 {need}, label %tie, label %done")
        pre = f.block
        f.label("tie")
        r64 = ret64(f, F, r)
        tie = f(f"call i1 @rvfp_tie_{op}_{F.bits}(i64 %a, i64 %b, i64 %c, i64 {r64}) #0")
        bumped = f(f"add {F.w} {r}, {f(f'zext i1 {tie} to {F.w}')}")
        f.do("br label %done")
        f.label("done")
        r = f(f"phi {F.w} [ {r}, %{pre} ], [ {bumped}, %tie ]")
    or_flags(f, flags)
    f.do(f"ret i64 {ret64(f, F, r)}")
    return f, True
