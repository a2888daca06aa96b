"""The translation cache: guest block -> compiled host code, installed in the native jump cache.

Blocks are keyed by (virtual pc, physical pc). The jump cache (a table generated code indexes by
guest pc) lets blocks chain to each other without Python; it is flushed whenever a mapping or
privilege change could make an entry wrong, and when code pages are written.
"""
import time
from dataclasses import dataclass, field

import numpy as np

from ..cpu.state import JCACHE_BITS
from ..frontend.lift import lift_block
from .engine import BLOCK_FN, Engine
from .llvmgen import block_module

PAGE_SHIFT = 12


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
    compile_seconds: float = 0.0
    stage_seconds: dict = field(default_factory=dict)


class TranslatorStats:
    def __init__(self):
        self.blocks = 0
        self.guest_insns_translated = 0
        self.invalidations = 0
        self.seconds = {"decode+lift": 0.0, "llvm-ir": 0.0, "llvm-compile": 0.0}


class Translator:
    def __init__(self, hart, opt_level: int = 2, fp_table_address: int = 0, engine: Engine | None = None):
        self.hart = hart
        self.engine = engine or Engine(opt_level)
        self.blocks: dict[tuple[int, int], Translation] = {}
        self.by_page: dict[int, list[tuple[int, int]]] = {}
        self.jcache = np.zeros((1 << JCACHE_BITS, 2), dtype=np.uint64)
        self.jcache[:, 0] = 1                       # odd pc: never matches a real guest pc
        hart.state.jcache = self.jcache.ctypes.data
        hart.state.fp_table = fp_table_address
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
        s = self.stats.seconds
        t0 = time.perf_counter()
        block = self.lift(pc)
        t1 = time.perf_counter()
        name = f"block_{pc:x}_{len(self.blocks)}"
        ir_text = block_module(name, block)
        t2 = time.perf_counter()
        cm = self.engine.compile(ir_text, [name])
        t3 = time.perf_counter()
        s["decode+lift"] += t1 - t0
        s["llvm-ir"] += t2 - t1
        s["llvm-compile"] += t3 - t2
        address = cm.addresses[name]
        last = block.insns[-1]
        end_paddr = paddr + (last.pc + last.length - 1 - pc)
        pages = tuple(sorted({paddr >> PAGE_SHIFT, end_paddr >> PAGE_SHIFT}))
        t = Translation(pc, paddr, block, name, ir_text, address, BLOCK_FN(address), pages, t3 - t0,
                        {"decode+lift": t1 - t0, "llvm-ir": t2 - t1, "llvm-compile": t3 - t2})
        key = (pc, paddr)
        self.blocks[key] = t
        mem = self.hart.mem
        for page in pages:
            self.by_page.setdefault(page, []).append(key)
            if mem.ram.contains(page << PAGE_SHIFT):
                mem.code_pages.add(page)
                mem.protect_page(page)
        self.stats.blocks += 1
        self.stats.guest_insns_translated += len(block.insns)
        return t

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


