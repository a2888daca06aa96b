"""Lowering of the IR's `sfence` op (sfence.vma): generated code carries out a single-page
sfence.vma itself when rvjit.cpu.sfence's filter says only the page's TLB slot, remembered walk
and jump cache entries can be stale, and leaves native code for the hart to do it otherwise (as
for every other system instruction). A mixin of llvmgen.FunctionWriter.

Linux runs one for every page it maps and unmaps in the kernel (each instruction it patches at
boot is two), so leaving native code for each was about 100 k trips into Python per boot.
"""
from ..cpu.csr import MSTATUS_TVM
from ..cpu.state import (EXIT_SYS, JCACHE_BITS, JCACHE_WORDS, NO_TAG, OFFSETS, SFENCE_CODE_BITS, SFENCE_QUEUE,
                         SFENCE_SUPER_BITS, SFENCE_REGION_HASH, SYS_KINDS,
                         TLB_ENTRIES, TLB_ENTRY_SIZE, TLB_FIELD, ITLB_ENTRIES)
from ..cpu.sfence import REGION_SHIFT
from ..cpu.trap import PRV_S
from .llvmconst import c64

PAGE_SHIFT = 12


def superpage_byte_ir(vpn: str, out: str) -> str:
    """LLVM IR setting {out} to the offset in the sfence filter (rvjit.cpu.sfence) of the byte
    for the 2 MiB region of virtual page {vpn}: past the code bytes, at region_slot's hash."""
    return (f"  {out}.region = lshr i64 {vpn}, {REGION_SHIFT}\n"
            f"  {out}.hashed = mul i64 {out}.region, {c64(SFENCE_REGION_HASH)}\n"
            f"  {out}.slot = lshr i64 {out}.hashed, {64 - SFENCE_SUPER_BITS}\n"
            f"  {out} = add i64 {out}.slot, {1 << SFENCE_CODE_BITS}\n")


class SfenceLowering:
    def lower_sfence(self, a, idx):
        e, t = self.emit, self.t
        rs1, vaddr = a
        vpn = t()
        e(f"{vpn} = lshr i64 {vaddr}, 12")
        # A page (not the whole address space), from S-mode with TVM clear (else it traps)...
        page, smode, tvm, tvm_clear = t(), t(), t(), t()
        e(f"{page} = icmp ne i64 {rs1}, 0")
        e(f"{smode} = icmp eq i64 {self.read_field('priv')}, {PRV_S}")
        e(f"{tvm} = and i64 {self.read_field('mstatus')}, {MSTATUS_TVM}")
        e(f"{tvm_clear} = icmp eq i64 {tvm}, 0")
        # ... in no superpage walked before ...
        filt = self.load_field(OFFSETS["sfence_filter"], "ptr")
        code_i, code_p, code_b = t(), t(), t()
        e(f"{code_i} = and i64 {vpn}, {(1 << SFENCE_CODE_BITS) - 1}")
        e(f"{code_p} = getelementptr i8, ptr {filt}, i64 {code_i}")
        e(f"{code_b} = load i8, ptr {code_p}")
        reg_o, reg_p, reg_b = t(), t(), t()
        e(superpage_byte_ir(vpn, reg_o).rstrip("\n"))
        e(f"{reg_p} = getelementptr i8, ptr {filt}, i64 {reg_o}")
        e(f"{reg_b} = load i8, ptr {reg_p}")
        unmarked = t()
        e(f"{unmarked} = icmp eq i8 {reg_b}, 0")
        # ... with room in the queue of walks for the MMU to forget.
        n, room = self.load_field(OFFSETS["sfence_count"]), t()
        e(f"{room} = icmp ult i64 {n}, {SFENCE_QUEUE}")
        ok1, ok2, ok3, ok, slow = t(), t(), t(), t(), t()
        e(f"{ok1} = and i1 {page}, {smode}")
        e(f"{ok2} = and i1 {ok1}, {tvm_clear}")
        e(f"{ok3} = and i1 {ok2}, {unmarked}")
        e(f"{ok} = and i1 {ok3}, {room}")
        e(f"{slow} = xor i1 {ok}, true")
        self.side_exit(slow, c64(self.insns[idx].pc), idx, EXIT_SYS,
                       [(OFFSETS["exit_sys"], str(SYS_KINDS.index("sfence.vma")), "i32")])
        # The page's TLB slot (shared by every translation mode) forgets it...
        slot, off, base = t(), t(), t()
        e(f"{slot} = and i64 {vpn}, {TLB_ENTRIES - 1}")
        e(f"{off} = mul i64 {slot}, {TLB_ENTRY_SIZE}")
        e(f"{base} = add i64 {off}, {OFFSETS['tlb']}")
        for name in ("tag_read", "tag_write"):
            at, p = t(), t()
            e(f"{at} = add i64 {base}, {TLB_FIELD[name]}")
            e(f"{p} = getelementptr i8, ptr %s, i64 {at}")
            e(f"store i64 {c64(NO_TAG)}, ptr {p}")
        islot, itag = t(), t()                  # and the execute TLB's slot
        itlb = self.load_field(OFFSETS["itlb"], "ptr")
        e(f"{islot} = and i64 {vpn}, {ITLB_ENTRIES - 1}")
        e(f"{itag} = getelementptr [2 x i64], ptr {itlb}, i64 {islot}")
        e(f"store i64 {c64(NO_TAG)}, ptr {itag}")
        # ... and the MMU forgets its walk before it next translates.
        q_off, q_at, q_p, n1 = t(), t(), t(), t()
        e(f"{q_off} = shl i64 {n}, 3")
        e(f"{q_at} = add i64 {q_off}, {OFFSETS['sfence_queue']}")
        e(f"{q_p} = getelementptr i8, ptr %s, i64 {q_at}")
        e(f"store i64 {vaddr}, ptr {q_p}")
        e(f"{n1} = add i64 {n}, 1")
        self.store_field(OFFSETS["sfence_count"], n1)
        self._forget_jcache_page(vpn, code_b)

    def _forget_jcache_page(self, vpn, code_b):
        """On a page that may hold translated code, the U and S jump caches' entries for pcs on
        it go (what JumpCacheMixin.flush_jcache_page does; Python's records of filled slots and
        pages stay a superset): its 2048 slots in each table, pc >> 1 indexing them. Linux
        changes user code pages' mappings (fork, exec, munmap) ~5,000 times a Debian boot."""
        e, t = self.emit, self.t
        code, flush, loop, done = t(), self.label("jcflush"), self.label("jcloop"), self.label("jcdone")
        e(f"{code} = icmp ne i8 {code_b}, 0")
        e(f"br i1 {code}, label %{flush}, label %{done}")
        self.start(flush)
        tables, first0, first = self.load_field(OFFSETS["jcache_tables"], "ptr"), t(), t()
        slots = 1 << (PAGE_SHIFT - 1)
        e(f"{first0} = shl i64 {vpn}, {PAGE_SHIFT - 1}")
        e(f"{first} = and i64 {first0}, {(1 << JCACHE_BITS) - 1}")
        e(f"br label %{loop}")
        self.start(loop)
        i, i1, last = t(), t(), t()
        e(f"{i} = phi i64 [0, %{flush}], [{i1}, %{loop}]")
        slot = t()
        e(f"{slot} = add i64 {first}, {i}")
        for table in (0, 1):                    # U and S: M-mode fetches are not translated
            at, p, pc, page, same, new = t(), t(), t(), t(), t(), t()
            e(f"{at} = add i64 {slot}, {table << JCACHE_BITS}")
            e(f"{p} = getelementptr [{JCACHE_WORDS} x i64], ptr {tables}, i64 {at}")
            e(f"{pc} = load i64, ptr {p}")
            e(f"{page} = lshr i64 {pc}, {PAGE_SHIFT}")
            e(f"{same} = icmp eq i64 {page}, {vpn}")
            e(f"{new} = select i1 {same}, i64 1, i64 {pc}")     # 1: an odd pc, never looked up
            e(f"store i64 {new}, ptr {p}")
        e(f"{i1} = add i64 {i}, 1")
        e(f"{last} = icmp eq i64 {i1}, {slots}")
        e(f"br i1 {last}, label %{done}, label %{loop}")
        self.start(done)
