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

This module puts the IR module together and compiles it; the generators live by family in
native_arith (SSE arithmetic), native_tie (the RMM tie test), native_cmp (min/max, compares,
classify) and native_cvt (conversions), on the IR helpers of native_ir.
"""

import ctypes

from . import PRIMITIVES
from .native_arith import HW_OPS, gen_hw
from .native_cmp import gen_class, gen_cmp, gen_minmax
from .native_cvt import gen_f2f_widen, gen_f2i, gen_i2f
from .native_tie import gen_tie
from .native_ir import DOUBLE, FORMATS, SINGLE


def _generator(name):
    parts = name.split("_")
    op = parts[0]
    if op in HW_OPS:
        return lambda: gen_hw(op, FORMATS[parts[1]])
    if op in ("min", "max"):
        return lambda: gen_minmax(FORMATS[parts[1]], op == "max")
    if op in ("eq", "lt", "le"):
        return lambda: gen_cmp(FORMATS[parts[1]], op)
    if op == "class":
        return lambda: gen_class(FORMATS[parts[1]])
    ity = {"w": (32, True), "wu": (32, False), "l": (64, True), "lu": (64, False)}
    if op == "f2i":
        return lambda: gen_f2i(FORMATS[parts[2]], *ity[parts[1]])
    if op == "i2f":
        return lambda: gen_i2f(FORMATS[parts[1]], *ity[parts[2]])
    if name == "f2f_s_d":
        return lambda: gen_hw("f2f", SINGLE)
    if name == "f2f_d_s":
        return gen_f2f_widen
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
        for F in ((SINGLE,) if op == "f2f" else (SINGLE, DOUBLE)):
            f = gen_tie(op, F)
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
