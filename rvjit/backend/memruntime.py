"""The shared memory-access runtime that compact (first-tier compiled) code calls: one function
per access variant, each the same inline-TLB path FunctionWriter emits, then a plain return."""
from types import SimpleNamespace

from ..cpu.state import ACCESS_KINDS, OFFSETS
from ..ir.ops import Op
from .llvmgen import FunctionWriter, _METADATA
from .memlower import MEM_VARIANTS


class _MemRuntimeWriter(FunctionWriter):
    """Writes one runtime memory function: the same inline TLB path, then a plain return."""

    def call_helper(self, helper, idx, args):
        h, r = self.load_field(OFFSETS[helper], "ptr"), self.t()
        self.emit(f"{r} = call i64 {h}(ptr %s, {args})")
        reason, stop = self.load_field(OFFSETS["exit_reason"], "i32"), self.t()
        self.emit(f"{stop} = icmp ne i32 {reason}, 0")
        return r, stop


def memory_runtime_module() -> tuple[str, list[str]]:
    """LLVM IR for every memory access variant: i64 @rvrt_mem_N(ptr %s, i64 %addr, i64 %value)."""
    parts, names = [], []
    for variant in range(MEM_VARIANTS):
        size, signed, kind = 1 << (variant & 3), bool(variant >> 2 & 1), variant >> 3
        name = f"rvrt_mem_{variant}"
        w = _MemRuntimeWriter(name, SimpleNamespace(ops=[], insns=[]))
        w.emit("%ram = load ptr, ptr " + w.field_ptr(OFFSETS["ram"]))
        if kind == ACCESS_KINDS["store"]:
            w.mem_access(Op("store", (), {"size": size}), 0, "%addr", "%value")
            result = "0"
        else:
            kind_name = next(k for k, v in ACCESS_KINDS.items() if v == kind)
            result = w.mem_access(Op("load", (), {"size": size, "signed": signed, "kind": kind_name}), 0, "%addr")
        w.emit(f"ret i64 {result}")
        body = "\n".join(w.lines)
        parts.append(f"define i64 @{name}(ptr noalias %s, i64 %addr, i64 %value) nounwind {{\nentry:\n{body}\n}}\n")
        names.append(name)
    return "".join(parts) + _METADATA, names


