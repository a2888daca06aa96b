"""The translation cache: guest block -> compiled host code, installed in the native jump cache.

Blocks are keyed by (virtual pc, physical pc). The jump cache (a table generated code indexes by
guest pc) lets blocks chain to each other without Python; it is flushed whenever a mapping or
privilege change could make an entry wrong, and when code pages are written.
"""
import ctypes
import time
from dataclasses import dataclass

import numpy as np

from ..cpu.state import JCACHE_BITS, JCACHE_WORDS, JFILL_CAPACITY
from ..cpu.trap import GuestTrap
from ..frontend.lift import lift_block
from .engine import BLOCK_FN, Engine
from .fptable import fp_table
from .llvmgen import first_tier_module
from .memruntime import memory_runtime_module
from . import blockscan, threaded, tlbrefill
from .handlergen import RECORD
from . import compileserver
from .background import BackgroundCompiler
from .hotprofile import ProfileHints
from .jumpcache import JumpCacheMixin
from .promotion import HotPromotion, static_successors
from .blocktable import BlockTable
from .recordarena import RecordArena
from .nativeblock import NativeBlocks, NativeBlockContext, CTX_ARENA_NEXT, CTX_ARENA_END, SLOT_ROOM

PAGE_SHIFT = 12
PAGE = 1 << PAGE_SHIFT
MAX_COUNTERS = 1 << 20
BATCH_BLOCKS = 16           # blocks compiled together when one is missing (compiled first tier)


@dataclass(slots=True)     # tens of thousands per boot: slots make them smaller and cheaper
class Translation:
    pc: int
    paddr: int
    block: object                 # the Builder with the block's IR (threaded: made when promoted)
    name: str
    ir_text: str
    address: int
    fn: object                    # ctypes callable entering the block: fn(state, data)
    pages: tuple = ()
    tier: int = 0
    counter: int | None = None
    compile_seconds: float = 0.0
    data: int = 0                 # threaded block: address of its header and records
    records: tuple | None = None  # ... and their RecordArena slot
    insns: list | None = None     # the decoded instructions (threaded: decoded when needed)
    code: bytes = b""             # threaded: the block's instruction bytes
    region: tuple = ()            # optimised: guest pcs of the blocks compiled into its function
    compiling: bool = False       # part of a region being optimised in the background

    @property
    def words(self) -> list[int]:
        return threaded.words_of(self.code)

    @property
    def insn_count(self) -> int:
        return len(self.insns) if self.insns is not None else len(self.words)

    def decoded(self) -> list:
        if self.insns is None:
            self.insns = threaded.decode_words(self.pc, self.words)
        return self.insns


class TranslatorStats:
    def __init__(self):
        self.blocks = 0
        self.guest_insns_translated = 0
        self.invalidations = 0
        self.promoted = 0
        self.promoted_insns = 0          # guest instructions compiled into optimised regions
        self.hinted = 0                  # regions formed again from the hot profile (linked)
        self.hints_missed = 0            # ... whose object was not in the disk cache
        self.background_seconds = 0.0   # optimising on the compiler thread (not on the guest's)
        self.first_tier_insns_banked = 0  # run counters zeroed at promotion, as instructions
        self.threaded_blocks = 0
        self.native_blocks = 0           # ... of them translated by native code (nativeblock)
        self.seconds = {"decode+lift": 0.0, "threading": 0.0, "handler-compile": 0.0, "llvm-ir": 0.0,
                        "llvm-compile": 0.0, "optimising hot": 0.0, "fp runtime": 0.0}


class Translator(JumpCacheMixin, HotPromotion, ProfileHints, NativeBlocks):
    """Guest blocks to host code: translation (here, and nativeblock for the common case of a
    threaded block, in native code), the jump cache (jumpcache) and hot-code promotion
    (promotion, and hotprofile for the regions earlier runs promoted)."""

    def __init__(self, hart, opt_level: int = 2, tiered: bool = True, first_tier: str = "threaded",
                 background: bool = True):
        if first_tier not in ("threaded", "compiled"):
            raise ValueError(f"first_tier must be 'threaded' or 'compiled', not {first_tier!r}")
        self.hart = hart
        # First tier: threaded code (no compiling per block) or compact compiled code.
        self.library = threaded.library() if tiered and first_tier == "threaded" else None
        self._executor_fn = BLOCK_FN(self.library.executor) if self.library else None
        self.dispatch_fn = BLOCK_FN(self.library.dispatcher) if self.library else None
        # Tier 0: cheap unoptimised code for everything; tier 1: optimised code for hot blocks.
        self.engine = Engine(0 if tiered else opt_level)
        self.hot_engine = Engine(opt_level) if tiered else None
        # Hot regions compile on a second thread unless asked not to (tests wanting promotion
        # at a known moment).
        self.compiler = BackgroundCompiler(self.hot_engine, compileserver.shared(opt_level)) \
            if tiered and background else None
        # one spare counter at the end: threaded blocks without a counter of their own count there
        self.counters = np.zeros(MAX_COUNTERS + 1, dtype=np.uint64)
        self.counter_lengths = np.zeros(MAX_COUNTERS + 1, dtype=np.uint64)   # insns of the block
        self._counter_lengths_words = memoryview(self.counter_lengths)
        self.counter_owner: list[Translation] = []
        self._next_promote_scan = 0.0
        self._init_hints()
        hart.state.counters = self.counters.ctypes.data
        # The memory runtime, the TLB refill walker and the FP runtime are made from rvjit's code
        # alone: compiled in the handler library's engine, whose disk cache a new translation
        # cache does not empty (objcache.library_directory; ~0.2 s of every cold start).
        self.runtime_engine = self.library.engine if self.library else (self.hot_engine or self.engine)
        ir_text, names = memory_runtime_module()
        runtime = self.runtime_engine.compile(ir_text, names)
        self.mem_table = (ctypes.c_void_p * len(names))(*(runtime.addresses[n] for n in names))
        hart.state.mem_table = ctypes.addressof(self.mem_table)
        self.blocks: dict[tuple[int, int], Translation] = {}
        self.by_page: dict[int, list[tuple[int, int]]] = {}
        # One jump cache per privilege level: a mode switch (every syscall, every SBI call)
        # just selects another table instead of flushing and refilling one through Python.
        self.jcaches = np.zeros((4, 1 << JCACHE_BITS, JCACHE_WORDS), dtype=np.uint64)
        # an empty slot has an odd pc, which never matches a real guest pc: set in a table when
        # it is first used (12 MiB each; a bare-metal program uses one)
        self.unmarked_jcaches = set(range(4))
        hart.state.jcache_tables = self.jcaches.ctypes.data     # for sfence.vma (sfencelower)
        # every trap and return switches tables: views and addresses made once
        self._jcache_tables = [self.jcaches[p] for p in range(4)]
        self._jcache_addresses = [t.ctypes.data for t in self._jcache_tables]
        self._jcache_words = [memoryview(t.reshape(-1)) for t in self._jcache_tables]
        self.stale_jcaches: set[int] = set()
        # Virtual pages the U and S jump caches may hold entries for since their last flush:
        # most sfence.vma pages are data pages, and then there is nothing to search.
        self.jcache_vpages: set[int] = set()
        # Slots filled since each table was last cleared: clearing just those keeps a flush
        # cheap however large the tables are (a module load flushes hundreds of times).
        self.jcache_filled: list[list[int]] = [[] for _ in range(4)]
        # Records of dropped threaded blocks: native code may still be running one (a store that
        # invalidates its own block), so they are freed only back in the run loop (lookup).
        self._dropped_records: list = []
        self._ram_bytes: memoryview | None = None   # guest RAM, for scanning code in place
        self.native_blocks = NativeBlockContext()
        self.records = RecordArena(self.native_blocks.view, CTX_ARENA_NEXT, CTX_ARENA_END)
        # jump cache misses for blocks already translated are resolved natively
        self.block_table = BlockTable(hart.state, hart.mem.ram.base)
        self._jfill = np.zeros(JFILL_CAPACITY, dtype=np.uint64)
        hart.state.jfill_buf = self._jfill.ctypes.data
        hart.state.jfill_count = 0
        hart.state.miss_fn = (self.library or threaded.library()).dispatcher
        self.scanner = blockscan.scanner_for(self.library) if self.library is not None else None
        self._window = np.zeros(PAGE + 2, dtype=np.uint8)    # fetched code for the scanner
        self.switch_jcache(hart.state.priv)
        hart.state.fp_table = 0          # compiled when the first FP instruction is translated
        hart.mem.on_code_write = self.invalidate_page
        hart.on_flush.append(self.flush_jcache)
        hart.on_flush_page.append(self.flush_jcache_page)
        hart.on_flush_span.append(self.flush_jcache_span)
        hart.on_priv_change.append(self.switch_jcache)
        self.stats = TranslatorStats()
        self._init_native_blocks(enabled=self.library is not None)
        tlbrefill.install(hart, self.runtime_engine)

    def lookup(self, pc: int) -> Translation:
        """The translation for pc in the current mode; translates on a miss. Raises fetch faults."""
        self.absorb_native_blocks()
        self._absorb_native_fills()
        for handle in self._dropped_records:
            self.records.free(handle)
        self._dropped_records.clear()
        self.records.keep_room(SLOT_ROOM)         # for native translation of the next new blocks
        paddr = self.hart.mem.fetch_paddr(pc)
        t = self.blocks.get((pc, paddr))
        if t is None:
            t = self.translate(pc, paddr)
        self._install(t)
        return t

    def _note_new(self, t: Translation) -> Translation:
        """A translation Python made (absorb_native_blocks notes those native code made)."""
        if self.profile_heads is None or (t.pc, t.paddr) in self.profile_heads:
            self.note_translated(t)
        return t

    def translate(self, pc: int, paddr: int) -> Translation:
        """Translate the block at pc: threaded records when every instruction has a handler,
        else compiled code for it and the not-yet-translated blocks it leads to on the same
        page (one LLVM module for all: compiling in batches is much cheaper per block)."""
        t0 = time.perf_counter()
        if self.library is not None:
            counter = self._next_counter()
            handler_seconds = self.library.compile_seconds
            scanned = self._scan_threaded(pc, paddr, counter)
            if scanned is not None:
                compiling = self.library.compile_seconds - handler_seconds   # handlers met first here
                self.stats.seconds["handler-compile"] += compiling
                made = self._translate_natively(pc, paddr, scanned[0], t0 + compiling)
                if made is not None:
                    return made
                return self._note_new(self._translate_threaded(pc, paddr, *scanned, counter, t0 + compiling))
        found = self._discover(pc, paddr)
        t1 = time.perf_counter()
        self.stats.seconds["decode+lift"] += t1 - t0
        if not self.hart.state.fp_table and any(op.name == "fp" for *_, block in found for op in block.ops):
            self._load_fp_runtime()
        done = self._translate_compiled(found)
        for start, *_ in found:
            if start != pc:
                self._install(done[start])
        return self._note_new(done[pc])

    def _load_fp_runtime(self):
        """Once, before the first FP instruction runs (about a second)."""
        t0 = time.perf_counter()
        self.hart.state.fp_table = fp_table(self.runtime_engine)
        self.stats.seconds["fp runtime"] += time.perf_counter() - t0

    def _scan_threaded(self, pc: int, paddr: int, counter: int | None, ram_only: bool = False):
        """Scan the block at pc into the scanner's buffer: (blockscan.Scan, the block's bytes),
        or None if an instruction has no handler. ram_only: None too unless the block lies in
        RAM on paddr's page (no fetch through the MMU). counter None: the spare counter."""
        scanner, ram = self.scanner, self.hart.mem.ram
        counter = MAX_COUNTERS if counter is None else counter
        page_paddr = paddr & ~(PAGE - 1)
        if ram.contains(page_paddr, PAGE):          # the usual case: straight from guest RAM
            page_end = page_paddr - ram.base + PAGE
            start = paddr - ram.base
            scan = scanner.scan(ram.host_address, start, page_end, page_end, pc, counter)
            if scan is None:
                return None
            if scan.complete:
                if self._ram_bytes is None or self._ram_bytes.obj is not ram.buf:
                    self._ram_bytes = memoryview(ram.buf)
                return scan, bytes(self._ram_bytes[start:start + scan.size])
        if ram_only:
            return None
        # code outside RAM, or a last instruction crossing into the next page
        code = threaded.fetch_window(self.hart.mem, pc)
        window = self._window
        window[:len(code)] = np.frombuffer(code, dtype=np.uint8)
        scan = scanner.scan(window.ctypes.data, 0, PAGE - (pc & (PAGE - 1)), len(code), pc, counter)
        return (scan, code[:scan.size]) if scan and scan.count else None

    def _discover(self, pc: int, paddr: int) -> list:
        """The block at pc and blocks it statically leads to, lifted to IR: [(pc, paddr, block)]."""
        mem = self.hart.mem
        todo, seen, found = [(pc, paddr)], {pc}, []
        # With a threaded first tier, compiled blocks are the rare ones no handler can run:
        # their successors are best left to the threaded tier.
        batch = 1 if self.library is not None else BATCH_BLOCKS
        while todo and len(found) < batch:
            start, start_paddr = todo.pop(0)
            block = lift_block(mem.fetch, start)
            found.append((start, start_paddr, block))
            for target in static_successors(block) if len(found) < batch else ():
                if target in seen:
                    continue
                seen.add(target)
                try:
                    target_paddr = mem.fetch_paddr(target)
                except GuestTrap:
                    continue
                if (target, target_paddr) not in self.blocks:
                    todo.append((target, target_paddr))
        return found

    def _next_counter(self, pending: int = 0) -> int | None:
        if self.hot_engine is not None and len(self.counter_owner) + pending < MAX_COUNTERS:
            return len(self.counter_owner) + pending
        return None

    def _translate_threaded(self, pc: int, paddr: int, scan, code: bytes, counter, t0: float) -> Translation:
        """A threaded translation: the scanner's header and records, naming compiled handlers."""
        s = self.stats.seconds
        t1 = time.perf_counter()
        s["decode+lift"] += t1 - t0
        if not self.hart.state.fp_table and scan.uses_fp:
            self._load_fp_runtime()
        t2 = time.perf_counter()
        count = scan.count
        size = (count + 1) * RECORD.itemsize
        buf, offset, address, handle = self.records.alloc(count + 1)
        buf[offset:offset + size] = self.scanner.out_view[:size]
        t = self._add(pc, paddr, scan.size, count, None, "threaded", self.library.executor, counter,
                      fn=self._executor_fn)
        t.insns, t.code, t.data, t.records = None, code, address, handle
        self._enter_block_table(t)
        t3 = time.perf_counter()
        s["threading"] += t3 - t2
        self.stats.threaded_blocks += 1
        t.compile_seconds = t3 - t1
        return t

    def _translate_compiled(self, lifted) -> dict:
        """Compact compiled code for the blocks, in one LLVM module."""
        s = self.stats.seconds
        t1 = time.perf_counter()
        entries = []
        for start, bpaddr, block in lifted:
            counter = self._next_counter(len(entries))
            entries.append((f"block_{start:x}_{self.stats.blocks + len(entries)}", block, counter))
        ir_text = first_tier_module(entries)
        t2 = time.perf_counter()
        cm = self.engine.compile(ir_text, [e[0] for e in entries])
        t3 = time.perf_counter()
        s["llvm-ir"] += t2 - t1
        s["llvm-compile"] += t3 - t2
        done = {}
        for (start, bpaddr, block), (name, _, counter) in zip(lifted, entries):
            last = block.insns[-1]
            done[start] = self._add(start, bpaddr, last.pc + last.length - start, len(block.insns), block, name,
                                    cm.addresses[name], counter, (t3 - t1) / len(lifted))
            done[start].insns = block.insns
            self._enter_block_table(done[start])
        return done

    def _enter_block_table(self, t: Translation):
        """Let generated code find the block natively (blocks lying on one RAM page: a block
        running onto the next page is found through Python, which checks that page too)."""
        if len(t.pages) == 1 and self.hart.mem.ram.contains(t.paddr):
            self.block_table.add(t.pc, t.paddr, t.address, t.data)

    def _add(self, pc, paddr, size, count, block, name, address, counter, seconds=0.0, fn=None) -> Translation:
        """Record a translation of `count` instructions in [pc, pc + size)."""
        if (pc & (PAGE - 1)) + size <= PAGE:        # the usual case: one page
            ranges, pages = ((paddr, size),), (paddr >> PAGE_SHIFT,)
        else:
            ranges = self._code_ranges(pc, paddr, size)
            pages = tuple(p >> PAGE_SHIFT for p, _ in ranges)
        t = Translation(pc, paddr, block, name, "", address, fn or BLOCK_FN(address), pages, 0, counter, seconds)
        if counter is not None:
            self.counter_owner.append(t)
            self._counter_lengths_words[counter] = count     # a memoryview: numpy item writes cost more
            self._sync_native_counter()
        key = (pc, paddr)
        self.blocks[key] = t
        for page in pages:
            self.by_page.setdefault(page, []).append(key)
        for start, length in ranges:        # stores there invalidate; stores next to it do not
            self.hart.mem.mark_code(start, length)
        self.stats.blocks += 1
        self.stats.guest_insns_translated += count
        return t

    def _code_ranges(self, pc, paddr, size) -> list[tuple[int, int]]:
        """Physical (address, length) of a block's instructions: only its last instruction may
        continue on the next virtual page, which need not be the next physical one."""
        first = min(size, PAGE - (pc & (PAGE - 1)))
        ranges = [(paddr, first)]
        if size > first:
            try:
                ranges.append((self.hart.mem.translate(pc + first, -1), size - first))
            except GuestTrap:           # cannot happen: the instruction was fetched
                ranges.append((paddr + first, size - first))
        return ranges

    def invalidate_page(self, page: int):
        """Guest code wrote to a page holding translated code: forget its translations."""
        self.absorb_native_blocks()
        for key in self.by_page.pop(page, ()):
            t = self.blocks.pop(key, None)
            if t is not None:
                self.block_table.remove(*key)
                self.stats.invalidations += 1
                self._forget(t)
                if t.records is not None:
                    self._dropped_records.append(t.records)
                for other in t.pages:
                    if other != page and key in self.by_page.get(other, ()):
                        self.by_page[other].remove(key)
        self.hart.request_stop()


