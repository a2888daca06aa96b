"""Lowering of guest memory accesses: the inline software-TLB lookup with a call to the Python
slow path on a miss, or (compact code) a call into the shared memory runtime that memruntime
builds, one function per access variant. A mixin of llvmgen.FunctionWriter."""
from ..cpu.state import OFFSETS, TLB_ENTRIES, TLB_ENTRY_SIZE, TLB_FIELD, EXIT_TRAP, ACCESS_KINDS
from .llvmconst import c64


# --- the shared memory runtime compact code calls (built by memruntime) ---------------------------
def mem_variant(size: int, kind: int, signed: bool) -> int:
    """Index of the runtime memory function for an access (see memory_runtime_module)."""
    return (size.bit_length() - 1) | (signed << 2) | (kind << 3)


MEM_VARIANTS = 32


class MemLowering:
    def tlb_lookup(self, addr: str, size: int, tag_field: str):
        """The entry is chosen by the page of the access's first byte and its tag compared with
        the page of its last: an access crossing into the next page misses (the next page's tag
        is never in this page's slot), with no test of its own."""
        vpn, ix, eo, tag, ok = self.t(), self.t(), self.t(), self.t(), self.t()
        self.emit(f"{vpn} = lshr i64 {addr}, 12")
        self.emit(f"{ix} = and i64 {vpn}, {TLB_ENTRIES - 1}")
        self.emit(f"{eo} = mul i64 {ix}, {TLB_ENTRY_SIZE}")
        ebase = self.t()
        self.emit(f"{ebase} = getelementptr i8, ptr %s, i64 {eo}")
        tp = self.t()
        self.emit(f"{tp} = getelementptr i8, ptr {ebase}, i64 {OFFSETS['tlb'] + TLB_FIELD[tag_field]}")
        self.emit(f"{tag} = load i64, ptr {tp}")
        last_vpn = vpn
        if size > 1:
            last, last_vpn = self.t(), self.t()
            self.emit(f"{last} = add i64 {addr}, {size - 1}")
            self.emit(f"{last_vpn} = lshr i64 {last}, 12")
        mode, want = self.t(), self.t()
        self.emit(f"{mode} = load i64, ptr {self.field_ptr(OFFSETS['tlb_mode'])}")
        self.emit(f"{want} = or i64 {last_vpn}, {mode}")
        self.emit(f"{ok} = icmp eq i64 {tag}, {want}")
        return ok, ebase

    def host_pointer(self, addr: str, ebase: str) -> str:
        ap, ad, off, hp = self.t(), self.t(), self.t(), self.t()
        self.emit(f"{ap} = getelementptr i8, ptr {ebase}, i64 {OFFSETS['tlb'] + TLB_FIELD['addend']}")
        self.emit(f"{ad} = load i64, ptr {ap}")
        self.emit(f"{off} = add i64 {addr}, {ad}")
        self.emit(f"{hp} = getelementptr i8, ptr %ram, i64 {off}")
        return hp

    def call_helper(self, helper: str, idx: int, args: str) -> str:
        """Call a Python slow path; leave at once if it raised a guest trap."""
        insn = self.insns[idx]
        self.store_field(OFFSETS["pc"], c64(insn.pc))
        self.store_budget(idx)
        h, r = self.load_field(OFFSETS[helper], "ptr"), self.t()
        self.emit(f"{r} = call i64 {h}(ptr %s, {args})")
        reason, trapped = self.load_field(OFFSETS["exit_reason"], "i32"), self.t()
        self.emit(f"{trapped} = icmp eq i32 {reason}, {EXIT_TRAP}")
        self.side_exit(trapped, c64(insn.pc), idx, None)
        stop = self.t()
        self.emit(f"{stop} = icmp ne i32 {reason}, 0")
        return r, stop

    def mem_access(self, op, idx, addr, value=None):
        size = op.attrs["size"]
        is_store = op.name == "store"
        kind = ACCESS_KINDS["store" if is_store else op.attrs["kind"]]
        if self.memory_calls:
            signed = not is_store and op.attrs["signed"]
            return self.call_mem_runtime(idx, mem_variant(size, kind, signed), addr, value)
        tag_field = "tag_write" if is_store or kind == ACCESS_KINDS["amo"] else "tag_read"
        bits = 8 * size
        ok, ebase = self.tlb_lookup(addr, size, tag_field)
        fast, slow, join = self.label("fast"), self.label("slow"), self.label("join")
        self.emit(f"br i1 {ok}, label %{fast}, label %{slow}, !prof !1")
        self.start(fast)
        hp = self.host_pointer(addr, ebase)
        if is_store:
            tv = self.t()
            self.emit(f"{tv} = trunc i64 {value} to i{bits}" if bits < 64 else f"{tv} = add i64 {value}, 0")
            self.emit(f"store i{bits} {tv}, ptr {hp}, align 1")
            vf = "0"
        else:
            raw, vf = self.t(), self.t()
            self.emit(f"{raw} = load i{bits}, ptr {hp}, align 1")
            self.emit(f"{vf} = zext i{bits} {raw} to i64" if bits < 64 else f"{vf} = add i64 {raw}, 0")
        self.emit(f"br label %{join}")
        self.start(slow)
        packed = size | (kind << 8)
        vs, stop = self.call_helper("mem_helper", idx, f"i64 {addr}, i64 {value or 0}, i64 {packed}")
        slow_end = self.cur_label
        self.emit(f"br label %{join}")
        self.start(join)
        v, sf = self.t(), self.t()
        self.emit(f"{v} = phi i64 [{vf}, %{fast}], [{vs}, %{slow_end}]")
        self.emit(f"{sf} = phi i1 [false, %{fast}], [{stop}, %{slow_end}]")
        self.stop_flags.append(sf)
        if not is_store and op.attrs["signed"] and bits < 64:
            tr, sx = self.t(), self.t()
            self.emit(f"{tr} = trunc i64 {v} to i{bits}")
            self.emit(f"{sx} = sext i{bits} {tr} to i64")
            v = sx
        return v

    def call_mem_runtime(self, idx, variant, addr, value):
        tbl, fpp, fn, r = self.t(), self.t(), self.t(), self.t()
        self.emit(f"{tbl} = load ptr, ptr {self.field_ptr(OFFSETS['mem_table'])}")
        self.emit(f"{fpp} = getelementptr ptr, ptr {tbl}, i64 {variant}")
        self.emit(f"{fn} = load ptr, ptr {fpp}")
        self.emit(f"{r} = call i64 {fn}(ptr %s, i64 {addr}, i64 {value or 0})")
        reason, trapped, stop = self.load_field(OFFSETS["exit_reason"], "i32"), self.t(), self.t()
        self.emit(f"{trapped} = icmp eq i32 {reason}, {EXIT_TRAP}")
        self.side_exit(trapped, c64(self.insns[idx].pc), idx, None)
        self.emit(f"{stop} = icmp ne i32 {reason}, 0")
        self.stop_flags.append(stop)
        return r
