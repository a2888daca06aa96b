"""Lowering of the IR's `fp` op: a call into the FP runtime (rvjit.fp.native), with an inline
host-FPU fast path for the double operations where the outcome is certain (see
lower_fp_with_fast_path). A mixin of llvmgen.FunctionWriter."""
from ..cpu.state import OFFSETS
from ..fp import PRIMITIVES
from .llvmconst import c64



# FP primitives with an inline fast path (see lower_fp_with_fast_path): the host operation
FAST_FP = {"add_d": "fadd", "sub_d": "fsub", "mul_d": "fmul", "div_d": "fdiv", "sqrt_d": "sqrt",
           "fma_d": "fma", "eq_d": "cmp", "lt_d": "cmp", "le_d": "cmp"}
DOUBLE_MAGNITUDE = (1 << 63) - 1
DOUBLE_MIN_NORMAL = 1 << 52                 # bits of 2**-1022
DOUBLE_INF = 0x7FF << 52


class FpLowering:
    def call_fp(self, op, a) -> str:
        """Call the FP runtime (rvjit.fp.native): exact results and flags for every case."""
        e = self.emit
        tbl, fpp, fn, rm, r = (self.t() for _ in range(5))
        e(f"{tbl} = load ptr, ptr {self.field_ptr(OFFSETS['fp_table'])}")
        e(f"{fpp} = getelementptr ptr, ptr {tbl}, i64 {PRIMITIVES.index(op.attrs['prim'])}")
        e(f"{fn} = load ptr, ptr {fpp}")
        e(f"{rm} = trunc i64 {a[3]} to i32")
        ffp = self.field_ptr(OFFSETS["fflags"])
        e(f"{r} = call i64 {fn}(i64 {a[0]}, i64 {a[1]}, i64 {a[2]}, i32 {rm}, ptr {ffp})")
        self.field_values.pop("fflags", None)
        return r

    def lower_fp_with_fast_path(self, op, a) -> str:
        """Double arithmetic and compares inline on the host FPU when the outcome is certain to
        raise no flag the guest has not already accrued; otherwise the runtime call.

        Arithmetic: in round-to-nearest-even, a result that is finite and above the smallest
        normal (tininess is detected after rounding) can only have raised inexact: so once
        fflags.NX is set, the host's result and the guest's flags are both right. A NaN, an
        infinity, a zero or a tiny result (invalid, divide-by-zero, overflow, underflow, NaN
        canonicalisation, signed zeros) takes the runtime. Compares: ordered operands raise
        nothing."""
        e = self.emit
        prim = op.attrs["prim"]
        kind = FAST_FP[prim]
        x, y, z = (self.t() for _ in range(3))
        e(f"{x} = bitcast i64 {a[0]} to double")
        e(f"{y} = bitcast i64 {a[1]} to double")
        e(f"{z} = bitcast i64 {a[2]} to double")
        host, ok = self.t(), self.t()
        if kind == "cmp":
            c = self.t()
            e(f"{ok} = fcmp ord double {x}, {y}")
            e(f"{c} = fcmp {prim[:2].replace('eq', 'oeq').replace('lt', 'olt').replace('le', 'ole')} double {x}, {y}")
            e(f"{host} = zext i1 {c} to i64")
        else:
            r = self.t()
            if kind == "sqrt":
                e(f"{r} = call double @llvm.sqrt.f64(double {x})")
            elif kind == "fma":
                e(f"{r} = call double @llvm.fma.f64(double {x}, double {y}, double {z})")
            else:
                e(f"{r} = {kind} double {x}, {y}")
            e(f"{host} = bitcast double {r} to i64")
            mag, span, normal, ffl, nx, rne, both = (self.t() for _ in range(7))
            e(f"{mag} = and i64 {host}, {c64(DOUBLE_MAGNITUDE)}")
            e(f"{span} = sub i64 {mag}, {c64(DOUBLE_MIN_NORMAL + 1)}")
            e(f"{normal} = icmp ult i64 {span}, {c64(DOUBLE_INF - DOUBLE_MIN_NORMAL - 1)}")
            ffl = self.read_field("fflags")
            e(f"{nx} = trunc i64 {ffl} to i1")
            e(f"{rne} = icmp eq i64 {a[3]}, 0")
            e(f"{both} = and i1 {normal}, {nx}")
            e(f"{ok} = and i1 {both}, {rne}")
        flags_before = self.read_field("fflags") if not self.compact else None
        fast, slow, join = self.label("fpfast"), self.label("fpslow"), self.label("fpjoin")
        e(f"br i1 {ok}, label %{fast}, label %{slow}, !prof !1")
        self.start(fast)
        e(f"br label %{join}")
        self.start(slow)
        called = self.call_fp(op, a)
        flags_after = self.read_field("fflags") if not self.compact else None
        slow_end = self.cur_label
        e(f"br label %{join}")
        self.start(join)
        result, flags = self.t(), self.t()
        e(f"{result} = phi i64 [{host}, %{fast}], [{called}, %{slow_end}]")
        if not self.compact:
            e(f"{flags} = phi i64 [{flags_before}, %{fast}], [{flags_after}, %{slow_end}]")
            self.field_values["fflags"] = flags
        return result

