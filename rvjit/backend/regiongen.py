"""Lowering a hot region: several guest blocks of one page compiled into one LLVM function.

A block's optimised code alone must leave through the jump cache at its end, even when it jumps
to itself (every iteration of a loop) or to a neighbour that is also hot. A region is a hot
block plus the warm blocks it leads to on the same guest page; edges between them become plain
branches, so loops stay in one host function with guest registers in host registers. The
function can be entered at any of its blocks (it starts at the one the hart's pc names), so
each member's translation points at it and the loop is not compiled again for every member.

Guest registers are read from stack slots (allocas) that LLVM promotes to SSA values with phis
at the loop headers, and every write also goes straight to the hart state: a region has hundreds
of exits (each memory access and FP instruction can leave), and writing registers back at each
of them made region code several times larger and slower to compile than one store per write.
The instruction budget is checked on every internal edge, so a loop still returns to the run
loop when its slice is used up (timer interrupts, device polling).
"""
from ..cpu.state import EXIT_BUDGET, OFFSETS
from .llvmgen import DECLS, FunctionWriter, _METADATA, c64


class RegionWriter(FunctionWriter):
    def __init__(self, name: str, blocks):
        """blocks: lifted Builders; the first is the entry, all start on one guest page."""
        super().__init__(name, blocks[0])
        self.blocks = blocks
        self.labels = {b.insns[0].pc: f"blk_{b.insns[0].pc:x}" for b in blocks}
        touched = {(op.name[3], op.attrs["reg"]) for b in blocks for op in b.ops
                   if op.name in ("getx", "getf", "setx", "setf")}
        self.slots = {key: f"%slot_{key[0]}{key[1]}" for key in sorted(touched)}
        self.exits: list[tuple] = []        # (from label, pc, budget, reason or -1) into %leave

    # --- registers in stack slots ----------------------------------------------------------------
    def read_reg(self, key):
        r = self.t()
        self.emit(f"{r} = load i64, ptr {self.slots[key]}")
        return r

    def write_reg(self, key, value):
        self.emit(f"store i64 {value}, ptr {self.slots[key]}")
        self.store_field(self.reg_offset(*key), value)

    def write_back(self):
        pass                                # written through already

    def exit_now(self, pc: str, retired: int, reason: int | None, extra=()):
        """Leave through the one shared exit block."""
        for off, value, ty in extra:
            self.store_field(off, value, ty)
        b = self.t()
        self.emit(f"{b} = sub i64 {self.budget_base}, {retired}")
        self.exits.append((self.cur_label, pc, b, -1 if reason is None else reason))
        self.emit("br label %leave")

    def leave_block(self):
        self.start("leave")
        pc, budget, reason = self.t(), self.t(), self.t()
        for name, ty, k in ((pc, "i64", 1), (budget, "i64", 2), (reason, "i32", 3)):
            incoming = ", ".join(f"[{e[k]}, %{e[0]}]" for e in self.exits)
            self.emit(f"{name} = phi {ty} {incoming}")
        self.store_field(OFFSETS["pc"], pc)
        self.store_field(OFFSETS["budget"], budget)
        given, store, done = self.t(), self.label("reason"), self.label("done")
        self.emit(f"{given} = icmp sge i32 {reason}, 0")
        self.emit(f"br i1 {given}, label %{store}, label %{done}")
        self.start(store)
        self.store_field(OFFSETS["exit_reason"], reason, "i32")
        self.emit("ret void")
        self.start(done)
        self.emit("ret void")

    # --- edges -------------------------------------------------------------------------------------
    def chain(self, next_pc: str, n: int):
        target = self._const(next_pc)
        if target in self.labels:
            self.branch_inside(target, n)
        elif target is None and self._return_points():
            self.dispatch(next_pc, n)
        else:
            super().chain(next_pc, n)

    def lower_branch(self, cond, target, fall, retired):
        if target not in self.labels and fall not in self.labels:
            return super().lower_branch(cond, target, fall, retired)
        c, taken, not_taken = self.t(), self.label("taken"), self.label("fall")
        self.emit(f"{c} = icmp ne i64 {cond}, 0")
        self.emit(f"br i1 {c}, label %{taken}, label %{not_taken}")
        flags = list(self.stop_flags)
        for label, pc in ((taken, target), (not_taken, fall)):
            self.start(label)
            self.stop_flags = list(flags)
            self.chain(c64(pc), retired)

    def branch_inside(self, target: int, n: int):
        """An edge to a block of this region: leave only if a helper asked to or the slice is over."""
        pc = c64(target)
        for flag in self.stop_flags:
            self.side_exit(flag, pc, n, None)
        self.stop_flags = []
        nb, over = self.t(), self.t()
        self.emit(f"{nb} = sub i64 {self.budget_base}, {n}")
        self.emit(f"{over} = icmp sle i64 {nb}, 0")
        self.side_exit(over, pc, n, EXIT_BUDGET)
        self.emit(f"store i64 {nb}, ptr %budget_slot")
        self.emit(f"br label %{self.labels[target]}")
        self.start(self.label("dead"))      # anything the lowering emits after the terminator
        self.emit("unreachable")

    def dispatch(self, next_pc: str, n: int):
        """A computed jump (a return, mostly): stay inside when it lands on a region block."""
        outside = self.label("outside")
        cases = {pc: self.label("to") for pc in self._return_points()}
        arms = " ".join(f"i64 {c64(pc)}, label %{lab}" for pc, lab in cases.items())
        self.emit(f"switch i64 {next_pc}, label %{outside} [ {arms} ]")
        flags = list(self.stop_flags)
        for pc, lab in cases.items():
            self.start(lab)
            self.stop_flags = list(flags)
            self.branch_inside(pc, n)
        self.start(outside)
        self.stop_flags = flags
        super().chain(next_pc, n)

    def _return_points(self):
        """Region blocks that follow a call in the region: where its computed jumps go back to."""
        return sorted(pc for pc in self.labels
                      if any(b.insns[-1].next_pc == pc and b.ops[-1].name == "jump" for b in self.blocks))

    @staticmethod
    def _const(value: str):
        try:
            return int(value) & ((1 << 64) - 1)
        except ValueError:
            return None

    # --- the function --------------------------------------------------------------------------------
    def write(self) -> str:
        self.emit("%ram = load ptr, ptr " + self.field_ptr(OFFSETS["ram"]))
        self.emit("%budget_slot = alloca i64")
        for key, slot in self.slots.items():
            self.emit(f"{slot} = alloca i64")
            self.emit(f"store i64 {self.load_field(self.reg_offset(*key))}, ptr {slot}")
        self.emit(f"store i64 {self.load_field(OFFSETS['budget'])}, ptr %budget_slot")
        # Every block of the region enters here (the jump cache maps each of them to this
        # function): start at the one the hart's pc names.
        head, *others = self.labels.items()
        arms = " ".join(f"i64 {c64(pc)}, label %{label}" for pc, label in others)
        self.emit(f"switch i64 {self.load_field(OFFSETS['pc'])}, label %{head[1]} [ {arms} ]")
        for block in self.blocks:
            self.start(self.labels[block.insns[0].pc])
            self.ops, self.insns, self.values, self.stop_flags = block.ops, block.insns, {}, []
            self.field_values = {}          # a block may be entered from several places
            self.budget_base = self.t()
            self.emit(f"{self.budget_base} = load i64, ptr %budget_slot")
            self.lower_ops()
        if self.exits:
            self.leave_block()
        return self.function_text()


def regions_module(named_regions) -> str:
    """One LLVM module holding several regions: [(name, [block, ...])]."""
    return DECLS + "".join(RegionWriter(n, blocks).write() for n, blocks in named_regions) + _METADATA
