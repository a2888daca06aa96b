"""LLVM text for threaded code: one handler function per instruction, and the executor.

A handler is the IR of one instruction, lifted with its operands read from the instruction's
record at run time, and lowered by the FunctionWriter in compact form (registers written through
to the state, memory through the shared runtime functions):

    i64 @h_<name>(ptr %s, ptr %rec)

It leaves pc and budget bookkeeping to the executor and tells it how to go on:
    CONTINUE (0)  run the next record
    EXIT     (1)  leave at this instruction: a trap or system request (the handler stored
                  exit_reason and trap_cause/trap_tval/exit_sys as compiled blocks do)
    END      (2)  the block ended: the next pc is in state.pc
    STOP     (3)  a helper asked to stop: leave after this instruction (at its next_pc)

The executor `void @rvjit_run_threaded(ptr %s, ptr %data)` is the function of every threaded
block; data is the block's header followed by its records (see rvjit.backend.threaded).
"""
from types import SimpleNamespace

import numpy as np

from ..cpu.state import OFFSETS, EXIT_BUDGET, EXIT_TRAP
from .dispatcher import DISPATCHER, dispatcher_ir
from ..ir.ops import TERMINATORS
from .llvmgen import DECLS, FunctionWriter, _METADATA

CONTINUE, EXIT, END, STOP = 0, 1, 2, 3

# One record per instruction, 64 bytes. Operand fields that do not fit a byte are 64-bit.
RECORD = np.dtype([
    # pc, next_pc and k depend on where the instruction is, the rest only on its word: the
    # translator writes a per-word template, and the executor fills these three in when it
    # first runs the block (Python writing them cost more than the rest of translating).
    ("handler", "<u8"), ("pc", "<u8"), ("next_pc", "<u8"),
    ("k", "<u8"),                 # index of the instruction in its block
    ("imm", "<u8"), ("raw", "<u8"),
    ("rd", "u1"), ("rs1", "u1"), ("rs2", "u1"), ("rs3", "u1"), ("rm", "u1"), ("aq", "u1"),
    ("rl", "u1"), ("pred", "u1"), ("succ", "u1"),
    ("length", "u1"),             # of the instruction in bytes (2 or 4)
    ("csr", "<u2"), ("pad1", "<u4"),
])
assert RECORD.itemsize == 64
RECORD_SHIFT = 6
# The header is one record-sized slot before the records: instruction count, counter index,
# guest pc of the block, and whether the records' pc, next_pc and k are filled in yet.
HEADER_COUNT, HEADER_COUNTER, HEADER_PC, HEADER_PLACED = 0, 8, 16, 24
# Names a handler may read from its record (the operand fields of every format, and pc...)
RECORD_FIELDS = tuple(n for n in RECORD.names if n not in ("handler", "length", "pad1"))
# The one-byte operand fields, in their order (the record's bytes from rd up to length)
BYTE_OPERANDS = ("rd", "rs1", "rs2", "rs3", "rm", "aq", "rl", "pred", "succ")


def field_layout(name: str) -> tuple[int, int]:
    dtype, offset = RECORD.fields[name][:2]
    return offset, dtype.itemsize * 8


class HandlerWriter(FunctionWriter):
    """Lowers the IR of one instruction (a Builder) to a handler function."""

    def __init__(self, name: str, builder):
        # Exits never store a pc (the executor does), so the instruction stand-in needs none.
        block = SimpleNamespace(ops=builder.ops, insns=[SimpleNamespace(pc=0, next_pc=0)])
        super().__init__(name, block, None, compact=True, inline_memory=True)
        self.fields: dict[str, str] = {}

    def record_field(self, name: str) -> str:
        if name not in self.fields:      # loaded once, in the entry block, so it dominates all uses
            offset, bits = field_layout(name)
            p, v = self.t(), self.t()
            self.prologue.append(f"  {p} = getelementptr i8, ptr %rec, i64 {offset}")
            if bits == 64:
                self.prologue.append(f"  {v} = load i64, ptr {p}")
            else:
                raw = self.t()
                self.prologue.append(f"  {raw} = load i{bits}, ptr {p}")
                self.prologue.append(f"  {v} = zext i{bits} {raw} to i64")
            self.fields[name] = v
        return self.fields[name]

    # --- exits: the executor does the pc and budget bookkeeping -------------------------------
    def exit_now(self, pc, retired, reason, extra=()):
        for off, value, ty in extra:
            self.store_field(off, value, ty)
        if reason is not None:
            self.store_field(OFFSETS["exit_reason"], str(reason), "i32")
        self.emit(f"ret i64 {EXIT}")

    def chain(self, next_pc, n):
        self.store_field(OFFSETS["pc"], next_pc)
        self.emit(f"ret i64 {END}")

    def call_helper(self, helper, idx, args):
        """A Python helper (CSR access) sees the exact pc and instruction count, as in blocks."""
        self.store_field(OFFSETS["pc"], self.record_field("pc"))
        b0, b = self.load_field(OFFSETS["budget_entry"]), self.t()
        self.emit(f"{b} = sub i64 {b0}, {self.record_field('k')}")
        self.store_field(OFFSETS["budget"], b)
        h, r = self.load_field(OFFSETS[helper], "ptr"), self.t()
        self.emit(f"{r} = call i64 {h}(ptr %s, {args})")
        reason, trapped = self.load_field(OFFSETS["exit_reason"], "i32"), self.t()
        self.emit(f"{trapped} = icmp eq i32 {reason}, {EXIT_TRAP}")
        self.side_exit(trapped, "0", idx, None)
        stop = self.t()
        self.emit(f"{stop} = icmp ne i32 {reason}, 0")
        return r, stop

    # --- the ops only handlers have --------------------------------------------------------------
    def lower(self, op):
        n = op.name
        if n == "field":
            return self.record_field(op.attrs["name"])
        if n in ("getx_at", "getf_at"):
            return self.load_field_at(n[3], self.val(op.args[0]))
        if n in ("setx_at", "setf_at"):
            kind, index, value = n[3], self.val(op.args[0]), self.val(op.args[1])
            self.regs = {k: v for k, v in self.regs.items() if k[0] != kind}   # may alias any
            p = self.reg_pointer(kind, index)
            self.emit(f"store i64 {value}, ptr {p}")
            if kind == "x":     # x0 is hardwired: writing it through the index is undone at once
                self.store_field(OFFSETS["x"], "0")
            return None
        return super().lower(op)

    def reg_pointer(self, kind: str, index: str) -> str:
        off, p = self.t(), self.t()
        self.emit(f"{off} = shl i64 {index}, 3")
        self.emit(f"{p} = getelementptr i8, ptr %s, i64 {off}")
        q = self.t()
        self.emit(f"{q} = getelementptr i8, ptr {p}, i64 {OFFSETS[kind]}")
        return q

    def load_field_at(self, kind: str, index: str) -> str:
        p, r = self.reg_pointer(kind, index), self.t()
        self.emit(f"{r} = load i64, ptr {p}")
        return r

    def write(self) -> str:
        self.prologue = [f"  %ramp = getelementptr i8, ptr %s, i64 {OFFSETS['ram']}",
                         "  %ram = load ptr, ptr %ramp"]
        for op in self.ops:
            r = self.lower(op)
            if op.result is not None:
                self.values[op.result.vid] = r
        if not self.ops or self.ops[-1].name not in TERMINATORS:
            for flag in self.stop_flags:         # a helper asked to stop: after this instruction
                self.side_exit_code(flag, STOP)
            self.emit(f"ret i64 {CONTINUE}")
        body = "\n".join(self.prologue + self.lines)
        return (f"define i64 @{self.name}(ptr noalias %s, ptr noalias %rec) nounwind {{\n"
                f"entry:\n{body}\n}}\n")

    def side_exit_code(self, cond_i1: str, code: int):
        out, cont = self.label("exit"), self.label("cont")
        self.emit(f"br i1 {cond_i1}, label %{out}, label %{cont}, !prof !0")
        self.start(out)
        self.emit(f"ret i64 {code}")
        self.start(cont)


EXECUTOR = "rvjit_run_threaded"
def executor_ir() -> str:
    """The executor: run the records of a block, then chain to the next block like a block does."""
    o = OFFSETS
    return f"""define void @{EXECUTOR}(ptr noalias %s, ptr %data) nounwind {{
entry:
  %bp = getelementptr i8, ptr %s, i64 {o['budget']}
  %budget0 = load i64, ptr %bp
  %bep = getelementptr i8, ptr %s, i64 {o['budget_entry']}
  store i64 %budget0, ptr %bep
  %np = getelementptr i8, ptr %data, i64 {HEADER_COUNT}
  %n = load i64, ptr %np
  %cip = getelementptr i8, ptr %data, i64 {HEADER_COUNTER}
  %ci = load i64, ptr %cip
  %cbp = getelementptr i8, ptr %s, i64 {o['counters']}
  %cbase = load ptr, ptr %cbp
  %cp = getelementptr i64, ptr %cbase, i64 %ci
  %c = load i64, ptr %cp
  %c1 = add i64 %c, 1
  store i64 %c1, ptr %cp
  %plp = getelementptr i8, ptr %data, i64 {HEADER_PLACED}
  %placed = load i64, ptr %plp
  %unplaced = icmp eq i64 %placed, 0
  br i1 %unplaced, label %place, label %run, !prof !0
run:
  br label %loop
place:
  %ppp = getelementptr i8, ptr %data, i64 {HEADER_PC}
  %pc0 = load i64, ptr %ppp
  br label %placing
placing:
  %pk = phi i64 [0, %place], [%pk1, %placing]
  %ppc = phi i64 [%pc0, %place], [%pnext, %placing]
  %pslot = add i64 %pk, 1
  %poff = shl i64 %pslot, {RECORD_SHIFT}
  %prec = getelementptr i8, ptr %data, i64 %poff
  %plenp = getelementptr i8, ptr %prec, i64 {RECORD.fields['length'][1]}
  %plen8 = load i8, ptr %plenp
  %plen = zext i8 %plen8 to i64
  %pnext = add i64 %ppc, %plen
  %pcf = getelementptr i8, ptr %prec, i64 {RECORD.fields['pc'][1]}
  store i64 %ppc, ptr %pcf
  %npf = getelementptr i8, ptr %prec, i64 {RECORD.fields['next_pc'][1]}
  store i64 %pnext, ptr %npf
  %kf = getelementptr i8, ptr %prec, i64 {RECORD.fields['k'][1]}
  store i64 %pk, ptr %kf
  %pk1 = add i64 %pk, 1
  %pmore = icmp ult i64 %pk1, %n
  br i1 %pmore, label %placing, label %placed_all
placed_all:
  store i64 1, ptr %plp
  br label %run
loop:
  %k = phi i64 [0, %run], [%k1, %next]
  %slot = add i64 %k, 1
  %off = shl i64 %slot, {RECORD_SHIFT}
  %rec = getelementptr i8, ptr %data, i64 %off
  %h = load ptr, ptr %rec
  %code = call i64 %h(ptr %s, ptr %rec)
  switch i64 %code, label %leave [ i64 {CONTINUE}, label %next
                                   i64 {END}, label %end ]
next:
  %k1 = add i64 %k, 1
  %more = icmp ult i64 %k1, %n
  br i1 %more, label %loop, label %fall, !prof !1
fall:
  %fnp = getelementptr i8, ptr %rec, i64 {RECORD.fields['next_pc'][1]}
  %fnext = load i64, ptr %fnp
  %pcp0 = getelementptr i8, ptr %s, i64 {o['pc']}
  store i64 %fnext, ptr %pcp0
  br label %end
end:
  %nb = sub i64 %budget0, %n
  store i64 %nb, ptr %bp
  %erp = getelementptr i8, ptr %s, i64 {o['exit_reason']}
  %er = load i32, ptr %erp
  %stopped = icmp ne i32 %er, 0
  br i1 %stopped, label %out, label %chk, !prof !0
chk:
  %done = icmp sle i64 %nb, 0
  br i1 %done, label %budget_out, label %look, !prof !0
budget_out:
  store i32 {EXIT_BUDGET}, ptr %erp
  ret void
look:
  musttail call void @{DISPATCHER}(ptr %s, ptr %data)
  ret void
leave:
  %trap = icmp eq i64 %code, {EXIT}
  %pco = select i1 %trap, i64 {RECORD.fields['pc'][1]}, i64 {RECORD.fields['next_pc'][1]}
  %lpp = getelementptr i8, ptr %rec, i64 %pco
  %lpc = load i64, ptr %lpp
  %pcp2 = getelementptr i8, ptr %s, i64 {o['pc']}
  store i64 %lpc, ptr %pcp2
  %kk = add i64 %k, 1
  %retired = select i1 %trap, i64 %k, i64 %kk
  %lb = sub i64 %budget0, %retired
  store i64 %lb, ptr %bp
  ret void
out:
  ret void
}}
"""


def handlers_module(named_builders, with_executor: bool = False) -> str:
    """One module holding handlers [(function name, Builder)] and, if asked, the executor."""
    parts = [DECLS]
    parts += [HandlerWriter(name, b).write() for name, b in named_builders]
    if with_executor:
        parts += [dispatcher_ir(), executor_ir()]
    parts.append(_METADATA)
    return "".join(parts)
