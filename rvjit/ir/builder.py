"""The vocabulary instruction semantics are written in.

`Builder` records IR ops for one block. Semantics functions in `rvjit.isa` call its methods
(`rx`, `wx`, `load`, `branch`, ...) and Python operators on the returned values; operations on
constants fold at once, so `addi rd, x0, 5` becomes a plain constant in the IR.
"""
from .ops import EVAL, MASK64, Op, Value, TERMINATORS


def is_symbolic(v) -> bool:
    """A value known only at run time (e.g. an instruction field read from a threaded-code record)."""
    return isinstance(v, Value) and v.const is None

# Exception causes (privileged spec, mcause values)
INSN_MISALIGNED, INSN_ACCESS, ILLEGAL, BREAKPOINT = 0, 1, 2, 3
LOAD_MISALIGNED, LOAD_ACCESS, STORE_MISALIGNED, STORE_ACCESS = 4, 5, 6, 7
ECALL_U = 8


class Builder:
    """Records the IR of one block.

    Convention for semantics: within one instruction, do everything that can trap (loads,
    stores, CSR accesses, trap_if) before writing registers, so a trap leaves them untouched.
    """

    def __init__(self, pc: int = 0):
        self.start_pc = pc
        self.ops: list[Op] = []
        self.insns: list = []
        self.insn = None            # instruction being lifted
        self.ended = False          # a terminator was emitted
        self.ends_block = False     # the current instruction must be the last of its block
        self._next_vid = 0

    # --- building ---------------------------------------------------------------------------
    def begin(self, insn):
        self.insn = insn
        self.insns.append(insn)

    def value(self, v) -> Value:
        if isinstance(v, Value):
            return v
        return Value(self, const=int(v) & MASK64)

    def emit(self, name, /, *args, **attrs) -> Value | None:
        op = Op(name, tuple(self.value(a) for a in args), attrs, insn_index=len(self.insns) - 1)
        if self.ended:          # code after a terminator (e.g. after illegal()) never runs
            return op
        if name in TERMINATORS:
            self.ended = True
        self.ops.append(op)
        return op

    def op(self, name, /, *args, **attrs) -> Value:
        """A pure operation: fold constants, otherwise emit it and return its result."""
        vals = tuple(self.value(a) for a in args)
        if all(v.const is not None for v in vals):
            return self.value(EVAL[name](*(v.const for v in vals), **attrs))
        return self._result(self.emit(name, *vals, **attrs))

    def _result(self, op: Op) -> Value:
        self._next_vid += 1
        op.result = Value(self, op=op, vid=self._next_vid)
        return op.result

    # --- registers and hart fields ----------------------------------------------------------
    # A register number is normally an int; in a handler lifted with symbolic fields it is a
    # run-time Value, and the *_at ops index the register file with it (x0 stays zero there).
    def rx(self, n) -> Value:
        if is_symbolic(n):
            return self._result(self.emit("getx_at", n))
        n = int(n)
        return self.value(0) if n == 0 else self._result(self.emit("getx", reg=n))

    def wx(self, n, v):
        if is_symbolic(n):
            self.emit("setx_at", n, v)
        elif int(n) != 0:
            self.emit("setx", v, reg=int(n))

    def rf(self, n) -> Value:
        if is_symbolic(n):
            return self._result(self.emit("getf_at", n))
        return self._result(self.emit("getf", reg=int(n)))

    def wf(self, n, v):
        if is_symbolic(n):
            self.emit("setf_at", n, v)
        else:
            self.emit("setf", v, reg=int(n))

    def field(self, name: str) -> Value:
        """An operand of the running instruction, read from its threaded-code record."""
        return self._result(self.emit("field", name=name))

    def get(self, field: str) -> Value:
        return self._result(self.emit("get", field=field))

    def set(self, field: str, v):
        self.emit("set", v, field=field)

    # --- helpers that read like the spec -------------------------------------------------
    def select(self, cond, a, b) -> Value:
        return self.op("select", cond, a, b)

    def load(self, addr, size: int, signed: bool = False, kind: str = "load") -> Value:
        """Read `size` bytes; traps (access or page fault) leave the block before any effect."""
        return self._result(self.emit("load", addr, size=size, signed=signed, kind=kind))

    def store(self, addr, value, size: int, cond=1):
        """Write `size` bytes if cond is non-zero (cond lets sc.w/sc.d skip the store)."""
        self.emit("store", addr, value, cond, size=size)

    def csr(self, number: int, value, op: str, read: bool, write: bool) -> Value:
        """CSR access carried out by the hart's CSR file; ends the block (it may change modes)."""
        self.ends_block = True
        return self._result(self.emit("csr", value, csr=number, csrop=op, read=read, write=write,
                                      raw=self.insn.raw))

    def fp(self, name: str, a=0, b=0, c=0, rm=0) -> Value:
        """An IEEE primitive from rvjit.fp (result bits; raised flags accrue into fflags)."""
        return self._result(self.emit("fp", a, b, c, rm, prim=name))

    def trap_if(self, cond, cause, tval=0):
        cond = self.value(cond)
        if cond.const is None:
            self.emit("trap_if", cond, cause, tval)
        elif cond.const:
            self.trap(cause, tval)

    def illegal_if(self, cond):
        self.trap_if(cond, ILLEGAL, self.insn.raw)

    # --- terminators -------------------------------------------------------------------------
    def jump(self, target):
        self.emit("jump", target)

    def branch(self, cond, target):
        fall = self.insn.next_pc
        if is_symbolic(target) or is_symbolic(fall):      # a handler: addresses known at run time
            self.jump(self.select(cond, target, fall))
        else:
            self.emit("branch", cond, target=int(target) & MASK64, fall=int(fall))

    def trap(self, cause, tval=0):
        self.emit("trap", cause, tval)

    def illegal(self):
        self.trap(ILLEGAL, self.insn.raw)

    def sys(self, kind: str):
        """Leave native code so the hart (Python) performs `kind` (mret, wfi, sfence.vma, ...)."""
        self.emit("sys", kind=kind)

    def sfence(self, rs1, vaddr):
        """sfence.vma: of one page (rs1 != 0) generated code may carry it out itself; otherwise,
        like sys, native code is left for the hart to do it (rvjit.cpu.sfence)."""
        self.emit("sfence", rs1, vaddr)

    def goto(self, pc):
        if is_symbolic(pc):
            self.jump(pc)
        else:
            self.emit("goto", target=int(pc))

    def dump(self) -> str:
        lines, last = [], None
        for op in self.ops:
            if op.insn_index != last:
                last = op.insn_index
                i = self.insns[last]
                pc = vars(i).get("pc")      # (reading a handler's i.pc would emit an op)
                where = "pc from record" if pc is None else f"{pc:#x}"
                lines.append(f"  ; {where}: {i.name}")
            lines.append(f"    {op!r}")
        return "\n".join(lines)
