"""The translation cache: guest block -> compiled host code, installed in the native jump cache.

Blocks are keyed by (virtual pc, physical pc). The jump cache (a table generated code indexes by
guest pc) lets blocks chain to each other without Python; it is flushed whenever a mapping or
privilege change could make an entry wrong, and when code pages are written.
"""
import ctypes
import time
from dataclasses import dataclass, field

import numpy as np

from ..cpu.state import JCACHE_BITS
from ..cpu.trap import GuestTrap
from ..frontend.lift import lift_block
from .engine import BLOCK_FN, Engine
from .fptable import fp_table
from .llvmgen import blocks_module, first_tier_module, memory_runtime_module

PAGE_SHIFT = 12
MAX_COUNTERS = 1 << 20
# A first-tier block is recompiled with optimisation after this many runs. Optimised compiling
# costs ~6 ms a block and saves a few ns a run, so only blocks that keep running pay it back.
HOT_THRESHOLD = 50_000
BATCH_BLOCKS = 16           # blocks compiled together when one is missing


def static_successors(block):
    """Guest addresses a block can continue at that are known without running it."""
    last = block.ops[-1] if block.ops else None
    if last is None:
        return []
    if last.name == "branch":
        return [last.attrs["fall"], last.attrs["target"]]
    if last.name == "goto":
        return [last.attrs["target"]]
    succ = []
    if last.name == "jump":
        if last.args[0].const is not None:
            succ.append(last.args[0].const)
        # a call (jal/jalr writing the link register) usually comes back to the next instruction
        if any(op.name == "setx" and op.attrs["reg"] in (1, 5) for op in block.ops[-3:]):
            succ.append(block.insns[-1].next_pc)
    return succ


@dataclass
class Translation:
    pc: int
    paddr: int
    block: object                 # the Builder with the block's instructions and IR
    name: str
    ir_text: str
    address: int
    fn: object                    # ctypes callable entering the block
    pages: tuple = ()
    tier: int = 0
    counter: int | None = None
    compile_seconds: float = 0.0
    stage_seconds: dict = field(default_factory=dict)


class TranslatorStats:
    def __init__(self):
        self.blocks = 0
        self.guest_insns_translated = 0
        self.invalidations = 0
        self.promoted = 0
        self.seconds = {"decode+lift": 0.0, "llvm-ir": 0.0, "llvm-compile": 0.0, "optimising hot": 0.0}


class Translator:
    def __init__(self, hart, opt_level: int = 2, tiered: bool = True):
        self.hart = hart
        # Tier 0: cheap unoptimised code for everything; tier 1: optimised code for hot blocks.
        self.engine = Engine(0 if tiered else opt_level)
        self.hot_engine = Engine(opt_level) if tiered else None
        self.counters = np.zeros(MAX_COUNTERS, dtype=np.uint64)
        self.counter_owner: list[Translation] = []
        hart.state.counters = self.counters.ctypes.data
        ir_text, names = memory_runtime_module()
        runtime = (self.hot_engine or self.engine).compile(ir_text, names)
        self.mem_table = (ctypes.c_void_p * len(names))(*(runtime.addresses[n] for n in names))
        hart.state.mem_table = ctypes.addressof(self.mem_table)
        self.blocks: dict[tuple[int, int], Translation] = {}
        self.by_page: dict[int, list[tuple[int, int]]] = {}
        self.jcache = np.zeros((1 << JCACHE_BITS, 2), dtype=np.uint64)
        self.jcache[:, 0] = 1                       # odd pc: never matches a real guest pc
        hart.state.jcache = self.jcache.ctypes.data
        hart.state.fp_table = 0          # compiled when the first FP instruction is translated
        hart.mem.on_code_write = self.invalidate_page
        hart.on_flush.append(self.flush_jcache)
        self.stats = TranslatorStats()

    def flush_jcache(self):
        self.jcache[:, 0] = 1

    def lookup(self, pc: int) -> Translation:
        """The translation for pc in the current mode; translates on a miss. Raises fetch faults."""
        paddr = self.hart.mem.fetch_paddr(pc)
        t = self.blocks.get((pc, paddr))
        if t is None:
            t = self.translate(pc, paddr)
        self._install(t)
        return t

    def _install(self, t: Translation):
        slot = (t.pc >> 1) & ((1 << JCACHE_BITS) - 1)
        self.jcache[slot, 0] = t.pc
        self.jcache[slot, 1] = t.address

    def lift(self, pc: int):
        return lift_block(self.hart.mem.fetch, pc)

    def translate(self, pc: int, paddr: int) -> Translation:
        """Translate the block at pc, and with it the not-yet-translated blocks it leads to on the
        same page (one LLVM module for all: compiling in batches is much cheaper per block)."""
        s = self.stats.seconds
        t0 = time.perf_counter()
        mem = self.hart.mem
        todo, seen, lifted = [(pc, paddr)], {pc}, []
        while todo and len(lifted) < BATCH_BLOCKS:
            start, start_paddr = todo.pop(0)
            block = lift_block(mem.fetch, start)
            lifted.append((start, start_paddr, block))
            for target in static_successors(block):
                if target in seen:
                    continue
                seen.add(target)
                try:
                    target_paddr = mem.fetch_paddr(target)
                except GuestTrap:
                    continue
                if (target, target_paddr) not in self.blocks:
                    todo.append((target, target_paddr))
        if not self.hart.state.fp_table and any(op.name == "fp" for _, _, b in lifted for op in b.ops):
            self.hart.state.fp_table = fp_table(self.hot_engine or self.engine)
        t1 = time.perf_counter()
        entries = []
        for start, bpaddr, block in lifted:
            counter = None
            if self.hot_engine is not None and len(self.counter_owner) + len(entries) < MAX_COUNTERS:
                counter = len(self.counter_owner) + len(entries)
            entries.append((f"block_{start:x}_{self.stats.blocks + len(entries)}", block, counter))
        ir_text = first_tier_module(entries)
        t2 = time.perf_counter()
        cm = self.engine.compile(ir_text, [e[0] for e in entries])
        t3 = time.perf_counter()
        s["decode+lift"] += t1 - t0
        s["llvm-ir"] += t2 - t1
        s["llvm-compile"] += t3 - t2
        stage = {"decode+lift": t1 - t0, "llvm-ir": t2 - t1, "llvm-compile": t3 - t2}
        result = None
        for (start, bpaddr, block), (name, _, counter) in zip(lifted, entries):
            t = self._add(start, bpaddr, block, name, cm.addresses[name], counter, (t3 - t0) / len(lifted), stage)
            if start != pc:
                self._install(t)
            result = result or t
        return result

    def _add(self, pc, paddr, block, name, address, counter, seconds, stage) -> Translation:
        last = block.insns[-1]
        end_paddr = paddr + (last.pc + last.length - 1 - pc)
        pages = tuple(sorted({paddr >> PAGE_SHIFT, end_paddr >> PAGE_SHIFT}))
        t = Translation(pc, paddr, block, name, "", address, BLOCK_FN(address), pages, 0, counter, seconds, stage)
        if counter is not None:
            self.counter_owner.append(t)
        key = (pc, paddr)
        self.blocks[key] = t
        mem = self.hart.mem
        for page in pages:
            self.by_page.setdefault(page, []).append(key)
            if mem.ram.contains(page << PAGE_SHIFT) and page not in mem.code_pages:
                mem.code_pages.add(page)
                mem.protect_page(page)
        self.stats.blocks += 1
        self.stats.guest_insns_translated += len(block.insns)
        return t

    def promote_hot(self, limit: int = 64) -> int:
        """Recompile the hottest first-tier blocks with optimisation, in one batch."""
        n = len(self.counter_owner)
        if self.hot_engine is None or n == 0:
            return 0
        hot = np.flatnonzero(self.counters[:n] >= HOT_THRESHOLD)
        if hot.size == 0:
            return 0
        hot = hot[np.argsort(self.counters[hot])[::-1][:limit]]
        self.counters[hot] = 0
        chosen = [self.counter_owner[i] for i in hot]
        chosen = [t for t in chosen if t.tier == 0 and self.blocks.get((t.pc, t.paddr)) is t]
        if not chosen:
            return 0
        t0 = time.perf_counter()
        names = [f"{t.name}_hot" for t in chosen]
        cm = self.hot_engine.compile(blocks_module(list(zip(names, (t.block for t in chosen)))), names)
        for t, name in zip(chosen, names):
            t.tier, t.address = 1, cm.addresses[name]
            t.fn = BLOCK_FN(t.address)
            self.counters[t.counter] = 0
            self._install(t)
        self.stats.seconds["optimising hot"] += time.perf_counter() - t0
        self.stats.promoted += len(chosen)
        # Blocks may chain to stale first-tier copies through the jump cache: refill it lazily.
        self.flush_jcache()
        return len(chosen)

    def invalidate_page(self, page: int):
        """Guest code wrote to a page holding translated code: forget its translations."""
        for key in self.by_page.pop(page, ()):
            t = self.blocks.pop(key, None)
            if t is not None:
                self.stats.invalidations += 1
                for other in t.pages:
                    if other != page and key in self.by_page.get(other, ()):
                        self.by_page[other].remove(key)
        self.flush_jcache()
        self.hart.request_stop()


