"""The reference interpreter: runs rvjit IR on concrete numbers, one guest instruction at a time.

This is the teaching path and the oracle the JIT is tested against. It knows nothing about any
instruction; it only evaluates IR ops. The hart it acts on provides:
  x[i], f[i] (lists of 64-bit ints), get(field) / set(field, v),
  load(addr, size, kind) -> zero-extended value, store(addr, value, size),
  csr_access(number, value, op, read, write, raw) -> old value, fp(prim, a, b, c, rm) -> result bits,
and raises rvjit.cpu.trap.GuestTrap (from load/store/csr) for exceptions.
"""
from .ops import EVAL, sext_bits


class Exit:
    """How a block (or single instruction) ended: next pc, or a trap, or a system request."""
    __slots__ = ("kind", "pc", "cause", "tval", "sys")

    def __init__(self, kind, pc, cause=0, tval=0, sys=None):
        self.kind, self.pc, self.cause, self.tval, self.sys = kind, pc, cause, tval, sys

    def __repr__(self):
        return f"Exit({self.kind}, pc={self.pc:#x}, cause={self.cause}, sys={self.sys})"


def _arg(env, v):
    return v.const if v.const is not None else env[v.vid]


def run_ops(ops, insns, hart) -> Exit:
    """Evaluate a lifted op list. Returns the exit; raises GuestTrap from memory/CSR faults."""
    env: dict[int, int] = {}
    for op in ops:
        a = [_arg(env, v) for v in op.args]
        n = op.name
        r = None
        if n in EVAL:
            r = EVAL[n](*a, **op.attrs)
        elif n == "getx":
            r = hart.x[op.attrs["reg"]]
        elif n == "setx":
            hart.x[op.attrs["reg"]] = a[0]
        elif n == "getf":
            r = hart.f[op.attrs["reg"]]
        elif n == "setf":
            hart.f[op.attrs["reg"]] = a[0]
        elif n == "get":
            r = hart.get(op.attrs["field"])
        elif n == "set":
            hart.set(op.attrs["field"], a[0])
        elif n == "load":
            size = op.attrs["size"]
            r = hart.load(a[0], size, op.attrs["kind"])
            if op.attrs["signed"]:
                r = sext_bits(r, size * 8)
        elif n == "store":
            if a[2]:
                hart.store(a[0], a[1], op.attrs["size"])
        elif n == "csr":
            at = op.attrs
            r = hart.csr_access(at["csr"], a[0], at["csrop"], at["read"], at["write"], at["raw"])
        elif n == "fp":
            r = hart.fp(op.attrs["prim"], a[0], a[1], a[2], a[3])
        elif n == "trap_if":
            if a[0]:
                return Exit("trap", insns[op.insn_index].pc, a[1], a[2])
        elif n == "jump":
            return Exit("jump", a[0])
        elif n == "branch":
            return Exit("jump", op.attrs["target"] if a[0] else op.attrs["fall"])
        elif n == "goto":
            return Exit("jump", op.attrs["target"])
        elif n == "trap":
            return Exit("trap", insns[op.insn_index].pc, a[0], a[1])
        elif n == "sys":
            return Exit("sys", insns[op.insn_index].pc, sys=op.attrs["kind"])
        elif n == "sfence":
            return Exit("sys", insns[op.insn_index].pc, sys="sfence.vma")
        else:
            raise NotImplementedError(f"IR op {n}")
        if op.result is not None:
            env[op.result.vid] = r
    return Exit("jump", insns[-1].next_pc)
