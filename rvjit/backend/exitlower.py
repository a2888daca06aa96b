"""How a compiled block leaves: write the cached guest registers back and return to the Python
run loop with a reason (exit_now, side exits), or chain straight into the next block's native
code through the jump cache. A mixin of llvmgen.FunctionWriter."""
from ..cpu.state import OFFSETS, JCACHE_BITS, JCACHE_WORDS, EXIT_BUDGET
from .llvmconst import c64


class ExitLowering:
    def write_back(self):
        for key in sorted(self.dirty):
            self.store_field(self.reg_offset(*key), self.regs[key])

    def exit_now(self, pc: str, retired: int, reason: int | None, extra=()):
        """Store everything and return to Python."""
        self.write_back()
        self.store_field(OFFSETS["pc"], pc)
        self.store_budget(retired)
        for off, value, ty in extra:
            self.store_field(off, value, ty)
        if reason is not None:
            self.store_field(OFFSETS["exit_reason"], str(reason), "i32")
        self.emit("ret void")

    def store_budget(self, retired: int):
        b = self.t()
        self.emit(f"{b} = sub i64 {self.budget_base}, {retired}")
        self.store_field(OFFSETS["budget"], b)
        return b

    def side_exit(self, cond_i1: str, pc: str, retired: int, reason: int | None, extra=()):
        out, cont = self.label("exit"), self.label("cont")
        self.emit(f"br i1 {cond_i1}, label %{out}, label %{cont}, !prof !0")
        self.start(out)
        self.exit_now(pc, retired, reason, extra)
        self.start(cont)

    def chain(self, next_pc: str, n: int):
        """Leave the block for guest address next_pc: straight into its native code if we can."""
        self.write_back()
        self.store_field(OFFSETS["pc"], next_pc)
        for flag in self.stop_flags:                    # a helper asked to stop after its insn
            self.side_exit(flag, next_pc, n, None)
        nb = self.store_budget(n)
        done = self.t()
        self.emit(f"{done} = icmp sle i64 {nb}, 0")
        self.side_exit_simple(done, EXIT_BUDGET)
        jc = self.load_field(OFFSETS["jcache"], "ptr")
        idx, ep, tag, hit = self.t(), self.t(), self.t(), self.t()
        self.emit(f"{idx} = lshr i64 {next_pc}, 1")
        idx2 = self.t()
        self.emit(f"{idx2} = and i64 {idx}, {(1 << JCACHE_BITS) - 1}")
        self.emit(f"{ep} = getelementptr [{JCACHE_WORDS} x i64], ptr {jc}, i64 {idx2}")
        self.emit(f"{tag} = load i64, ptr {ep}")
        self.emit(f"{hit} = icmp eq i64 {tag}, {next_pc}")
        go, miss = self.label("go"), self.label("miss")
        self.emit(f"br i1 {hit}, label %{go}, label %{miss}, !prof !1")
        self.start(go)
        fp, fn, dp, data = self.t(), self.t(), self.t(), self.t()
        self.emit(f"{fp} = getelementptr i8, ptr {ep}, i64 8")
        self.emit(f"{fn} = load ptr, ptr {fp}")
        self.emit(f"{dp} = getelementptr i8, ptr {ep}, i64 16")
        self.emit(f"{data} = load ptr, ptr {dp}")
        self.emit(f"musttail call void {fn}(ptr %s, ptr {data})")
        self.emit("ret void")
        self.start(miss)
        # the dispatcher looks the block up natively (backend.blocktable), or leaves
        miss_fn = self.load_field(OFFSETS["miss_fn"], "ptr")
        self.emit(f"musttail call void {miss_fn}(ptr %s, ptr null)")
        self.emit("ret void")

    def side_exit_simple(self, cond_i1: str, reason: int):
        out, cont = self.label("exit"), self.label("cont")
        self.emit(f"br i1 {cond_i1}, label %{out}, label %{cont}, !prof !0")
        self.start(out)
        self.store_field(OFFSETS["exit_reason"], str(reason), "i32")
        self.emit("ret void")
        self.start(cont)

    def lower_branch(self, cond, target, fall, retired):
        c, pc = self.t(), self.t()
        self.emit(f"{c} = icmp ne i64 {cond}, 0")
        self.emit(f"{pc} = select i1 {c}, i64 {c64(target)}, i64 {c64(fall)}")
        self.chain(pc, retired)

    def stop_flags_checkpoint(self, finished_index: int):
        """At the end of an instruction: leave if one of its helpers asked to stop."""
        if finished_index < 0 or not self.stop_flags:
            return
        flags, self.stop_flags = self.stop_flags, []
        nxt = c64(self.insns[finished_index].next_pc)
        for flag in flags:
            self.side_exit(flag, nxt, finished_index + 1, None)
