"""The translation cache: guest block -> compiled host code, installed in the native jump cache.

Blocks are keyed by (virtual pc, physical pc). The jump cache (a table generated code indexes by
guest pc) lets blocks chain to each other without Python; it is flushed whenever a mapping or
privilege change could make an entry wrong, and when code pages are written.
"""
import ctypes
import functools
import time
from dataclasses import dataclass, field

import numpy as np

from ..cpu.state import JCACHE_BITS, JCACHE_WORDS
from ..cpu.trap import GuestTrap
from ..frontend.lift import lift_block
from .engine import BLOCK_FN, Engine
from .fptable import fp_table
from .llvmgen import first_tier_module
from .memruntime import memory_runtime_module
from .regiongen import regions_module
from . import threaded
from . import compileserver
from .background import BackgroundCompiler, CompileJob
from .recordarena import RecordArena

PAGE_SHIFT = 12
PAGE = 1 << PAGE_SHIFT
MAX_COUNTERS = 1 << 20
JCACHE_FILLED_LIMIT = (1 << JCACHE_BITS) // 8   # slots remembered per jump cache table
# A first-tier block is recompiled with optimisation after this many runs. Optimised compiling
# costs ~6 ms a block and saves a few ns a run, so only blocks that keep running pay it back.
HOT_THRESHOLD = 50_000
BATCH_BLOCKS = 16           # blocks compiled together when one is missing
# Threaded blocks cost no compiling, so batching saves nothing but the run-loop trip of a later
# miss, while a third of the blocks found ahead never run (Linux boot): only the one asked for.
THREADED_BATCH_BLOCKS = 1
PROMOTE_INTERVAL = 0.01     # seconds between scans of the run counters for hot blocks
MAX_REGION_BLOCKS = 16      # blocks compiled into one hot region (a hot block and its neighbours)
WARM_THRESHOLD = HOT_THRESHOLD // 16   # runs that earn a neighbour a place in a hot region


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
    stage_seconds: dict = field(default_factory=dict)
    data: int = 0                 # threaded block: address of its header and records
    records: tuple | None = None  # ... and their RecordArena slot
    insns: list | None = None     # the decoded instructions (threaded: decoded when needed)
    words: list = field(default_factory=list)   # threaded: the block's instruction words
    region: tuple = ()            # optimised: guest pcs of the blocks compiled into its function
    compiling: bool = False       # part of a region being optimised in the background

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
        self.background_seconds = 0.0   # optimising on the compiler thread (not on the guest's)
        self.first_tier_insns_banked = 0  # run counters zeroed at promotion, as instructions
        self.threaded_blocks = 0
        self.seconds = {"decode+lift": 0.0, "threading": 0.0, "handler-compile": 0.0, "llvm-ir": 0.0,
                        "llvm-compile": 0.0, "optimising hot": 0.0, "fp runtime": 0.0}


class Translator:
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
        self.counter_owner: list[Translation] = []
        self._next_promote_scan = 0.0
        hart.state.counters = self.counters.ctypes.data
        ir_text, names = memory_runtime_module()
        runtime = (self.hot_engine or self.engine).compile(ir_text, names)
        self.mem_table = (ctypes.c_void_p * len(names))(*(runtime.addresses[n] for n in names))
        hart.state.mem_table = ctypes.addressof(self.mem_table)
        self.blocks: dict[tuple[int, int], Translation] = {}
        self.by_page: dict[int, list[tuple[int, int]]] = {}
        # One jump cache per privilege level: a mode switch (every syscall, every SBI call)
        # just selects another table instead of flushing and refilling one through Python.
        self.jcaches = np.zeros((4, 1 << JCACHE_BITS, JCACHE_WORDS), dtype=np.uint64)
        self.jcaches[:, :, 0] = 1
        # every trap and return switches tables: views and addresses made once
        self._jcache_tables = [self.jcaches[p] for p in range(4)]
        self._jcache_addresses = [t.ctypes.data for t in self._jcache_tables]
        self.stale_jcaches: set[int] = set()
        # Virtual pages the U and S jump caches may hold entries for since their last flush:
        # most sfence.vma pages are data pages, and then there is nothing to search.
        self.jcache_vpages: set[int] = set()
        self.jcache = self.jcaches[hart.state.priv]
        self.jcache_priv = hart.state.priv
        # Slots filled since each table was last cleared: clearing just those keeps a flush
        # cheap however large the tables are (a module load flushes hundreds of times).
        self.jcache_filled: list[list[int]] = [[] for _ in range(4)]
        # Records of dropped threaded blocks: native code may still be running one (a store that
        # invalidates its own block), so they are freed only back in the run loop (lookup).
        self._dropped_records: list = []
        self._ram_bytes: memoryview | None = None   # guest RAM, for scanning code in place
        self.records = RecordArena()
        self.jcache[:, 0] = 1                       # odd pc: never matches a real guest pc
        hart.state.jcache = self.jcache.ctypes.data
        hart.state.fp_table = 0          # compiled when the first FP instruction is translated
        hart.mem.on_code_write = self.invalidate_page
        hart.on_flush.append(self.flush_jcache)
        hart.on_flush_page.append(self.flush_jcache_page)
        hart.on_flush_span.append(self.flush_jcache_span)
        hart.on_priv_change.append(self.switch_jcache)
        self.stats = TranslatorStats()

    def flush_jcache(self):
        """Forget every jump cache entry: the current table now, the others when next used."""
        self._clear_jcache(self.jcache_priv)
        self.stale_jcaches = {p for p in range(4) if p != self.hart.state.priv}
        self.jcache_vpages.clear()
        self.hart.sfence_filter.clear_code()

    def flush_jcache_page(self, vaddr: int):
        """Forget jump cache entries for guest pcs on one virtual page."""
        page = (vaddr & ((1 << 64) - 1)) >> PAGE_SHIFT
        if page not in self.jcache_vpages:
            return
        self.jcache_vpages.discard(page)
        slots = PAGE >> 1                       # pc >> 1 indexes the table: 2048 per page
        first = (page * slots) & ((1 << JCACHE_BITS) - 1)
        # M-mode fetches are not translated: only the U and S tables can hold stale entries
        tags = self.jcaches[:2, first:first + slots, 0]
        tags[(tags >> np.uint64(PAGE_SHIFT)) == np.uint64(page)] = 1

    def flush_jcache_span(self, first_vpn: int, pages: int):
        """Forget jump cache entries for guest pcs on pages [first_vpn, first_vpn + pages)."""
        for vpage in [p for p in self.jcache_vpages if first_vpn <= p < first_vpn + pages]:
            self.flush_jcache_page(vpage << PAGE_SHIFT)

    @staticmethod
    def _slot(pc: int) -> int:
        return (pc >> 1) & ((1 << JCACHE_BITS) - 1)

    def _forget(self, t: Translation):
        """Remove one translation's jump cache entries (every table)."""
        entries = self.jcaches[:, self._slot(t.pc)]
        entries[(entries[:, 0] == np.uint64(t.pc)) & (entries[:, 1] == np.uint64(t.address)), 0] = 1

    def _clear_jcache(self, priv: int):
        filled = self.jcache_filled[priv]
        if len(filled) > JCACHE_FILLED_LIMIT:
            self.jcaches[priv, :, 0] = 1
        elif filled:
            self.jcaches[priv, filled, 0] = 1
        filled.clear()

    def switch_jcache(self, priv: int):
        if priv in self.stale_jcaches:
            self.stale_jcaches.discard(priv)
            self._clear_jcache(priv)
        self.jcache, self.jcache_priv = self._jcache_tables[priv], priv
        self.hart.state.jcache = self._jcache_addresses[priv]

    def lookup(self, pc: int) -> Translation:
        """The translation for pc in the current mode; translates on a miss. Raises fetch faults."""
        for handle in self._dropped_records:
            self.records.free(handle)
        self._dropped_records.clear()
        paddr = self.hart.mem.fetch_paddr(pc)
        t = self.blocks.get((pc, paddr))
        if t is None:
            t = self.translate(pc, paddr)
        self._install(t)
        return t

    def _install(self, t: Translation):
        slot = self._slot(t.pc)
        vpage = t.pc >> PAGE_SHIFT
        if vpage not in self.jcache_vpages:
            self.jcache_vpages.add(vpage)
            self.hart.sfence_filter.mark_code_page(vpage)
        filled = self.jcache_filled[self.jcache_priv]
        if len(filled) <= JCACHE_FILLED_LIMIT:       # past it, a flush clears the whole table
            filled.append(slot)
        self.jcache[slot, 0] = t.pc
        self.jcache[slot, 1] = t.address
        self.jcache[slot, 2] = t.data

    def translate(self, pc: int, paddr: int) -> Translation:
        """Translate the block at pc: threaded records when every instruction has a handler,
        else compiled code for it and the not-yet-translated blocks it leads to on the same
        page (one LLVM module for all: compiling in batches is much cheaper per block)."""
        t0 = time.perf_counter()
        if self.library is not None:
            scanned = self._scan_threaded(pc, paddr)
            if scanned is not None:
                return self._translate_threaded(pc, paddr, scanned, t0)
        found = self._discover(pc, paddr)
        t1 = time.perf_counter()
        self.stats.seconds["decode+lift"] += t1 - t0
        if not self.hart.state.fp_table and any(op.name == "fp" for *_, block in found for op in block.ops):
            self._load_fp_runtime()
        done = self._translate_compiled(found)
        for start, *_ in found:
            if start != pc:
                self._install(done[start])
        return done[pc]

    def _load_fp_runtime(self):
        """Once, before the first FP instruction runs (about a second)."""
        t0 = time.perf_counter()
        self.hart.state.fp_table = fp_table(self.hot_engine or self.engine)
        self.stats.seconds["fp runtime"] += time.perf_counter() - t0

    def _scan_threaded(self, pc: int, paddr: int):
        """The block at pc with each instruction's handler, or None if one has none."""
        lib, ram = self.library, self.hart.mem.ram
        page_paddr = paddr & ~(PAGE - 1)
        if ram.contains(page_paddr, PAGE):          # the usual case: straight from guest RAM
            if self._ram_bytes is None or self._ram_bytes.obj is not ram.buf:
                self._ram_bytes = memoryview(ram.buf)
            page_end = page_paddr - ram.base + PAGE
            scanned = threaded.scan_words(lib, self._ram_bytes, paddr - ram.base, page_end, page_end)
            if scanned is None or scanned.complete:
                return scanned
        # code outside RAM, or a last instruction crossing into the next page
        code = threaded.fetch_window(self.hart.mem, pc)
        scanned = threaded.scan_words(lib, code, 0, PAGE - (pc & (PAGE - 1)), len(code))
        return scanned if scanned and scanned.raws else None

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

    def _translate_threaded(self, pc: int, paddr: int, scanned, t0: float) -> Translation:
        """A threaded translation: records naming compiled handlers."""
        s, lib = self.stats.seconds, self.library
        t1 = time.perf_counter()
        s["decode+lift"] += t1 - t0
        if not self.hart.state.fp_table and any(info.fp for info in scanned.infos):
            self._load_fp_runtime()
            t1 = time.perf_counter()
        lib.compile_pending()           # handlers seen for the first time
        t2 = time.perf_counter()
        counter = self._next_counter()
        count = len(scanned.raws)
        buf, offset, address, handle = self.records.alloc(count + 1)
        threaded.write_records(lib, pc, scanned, MAX_COUNTERS if counter is None else counter, buf, offset)
        t = self._add(pc, paddr, scanned.size, count, None, "threaded", lib.executor, counter,
                      fn=self._executor_fn)
        t.insns, t.words, t.data, t.records = None, scanned.raws, address, handle
        t3 = time.perf_counter()
        s["threading"] += t3 - t2
        s["handler-compile"] += t2 - t1
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
        stage = {"llvm-ir": t2 - t1, "llvm-compile": t3 - t2}
        done = {}
        for (start, bpaddr, block), (name, _, counter) in zip(lifted, entries):
            last = block.insns[-1]
            done[start] = self._add(start, bpaddr, last.pc + last.length - start, len(block.insns), block, name,
                                    cm.addresses[name], counter, (t3 - t1) / len(lifted), stage)
            done[start].insns = block.insns
        return done

    def _add(self, pc, paddr, size, count, block, name, address, counter, seconds=0.0, stage=None,
             fn=None) -> Translation:
        """Record a translation of `count` instructions in [pc, pc + size)."""
        ranges = self._code_ranges(pc, paddr, size)
        pages = tuple(p >> PAGE_SHIFT for p, _ in ranges)
        t = Translation(pc, paddr, block, name, "", address, fn or BLOCK_FN(address), pages, 0, counter,
                        seconds, stage or {})
        if counter is not None:
            self.counter_owner.append(t)
            self.counter_lengths[counter] = count
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

    def promote_hot(self, limit: int = 64) -> int:
        """Recompile the hottest first-tier blocks, each with its warm neighbours, as optimised
        regions; on the background compiler when there is one. Returns regions installed."""
        if self.hot_engine is None or not self.counter_owner:
            return 0
        installed = 0
        if self.compiler is not None and self.compiler.in_flight:
            for job in self.compiler.finished():
                installed += self._install_regions(job)
            if self.compiler.in_flight:         # one batch at a time: the hottest code goes first
                return installed
        # The run loop asks after every trip into native code, which can be every few guest
        # instructions (jump cache flushed by mode changes): scanning the counters is then a
        # large share of the time, so look at most every PROMOTE_INTERVAL seconds.
        now = time.perf_counter()
        if now < self._next_promote_scan:
            return installed
        self._next_promote_scan = now + PROMOTE_INTERVAL
        n = len(self.counter_owner)
        hot = np.flatnonzero(self.counters[:n] >= HOT_THRESHOLD)
        if hot.size == 0:
            return installed
        hot = hot[np.argsort(self.counters[hot])[::-1][:limit]]
        chosen = [self.counter_owner[i] for i in hot]
        chosen = [t for t in chosen if t.tier == 0 and not t.compiling and self.blocks.get((t.pc, t.paddr)) is t]
        t0 = time.perf_counter()
        regions, included = [], set()
        for t in chosen:                    # hottest first; a block joins one region per batch
            if id(t) not in included:
                regions.append(self._region(t))
                included.update(id(m) for m in regions[-1])
        self._bank_runs(hot)
        if not regions:
            return installed
        # A module per region: each is installed as soon as it is compiled (the hottest first),
        # and found in the disk cache next run however the regions are batched then.
        jobs = []
        for members in regions:
            name = f"region_{members[0].pc:x}_{members[0].paddr:x}"    # unique, and the same every run
            for t in members:
                t.compiling = True
                if t.counter is not None:
                    self._bank_runs([t.counter])
            jobs.append(CompileJob(None, [name], [(name, members)],
                                   make_ir=functools.partial(regions_module, [(name, [m.block for m in members])])))
        self.stats.seconds["optimising hot"] += time.perf_counter() - t0
        for job in jobs:
            if self.compiler is not None:
                self.compiler.submit(job)
                continue
            t1 = time.perf_counter()
            job.ir_text = job.make_ir()
            job.compiled = self.hot_engine.compile(job.ir_text, job.names)
            self.stats.seconds["optimising hot"] += time.perf_counter() - t1
            installed += self._install_regions(job)
        return installed

    def _bank_runs(self, counters):
        """Zero run counters, keeping the first-tier instructions they stand for."""
        self.stats.first_tier_insns_banked += int(np.dot(self.counters[counters], self.counter_lengths[counters]))
        self.counters[counters] = 0

    def first_tier_insns(self) -> int:
        """Guest instructions run in first-tier code (block runs x block lengths: a run that
        trapped part-way counts whole)."""
        n = len(self.counter_owner)
        return self.stats.first_tier_insns_banked + int(np.dot(self.counters[:n], self.counter_lengths[:n]))

    def finish_background_work(self, timeout: float | None = None):
        """Wait for compiles in flight and install them (tests; reproducible statistics)."""
        if self.compiler is not None:
            for job in self.compiler.wait(timeout):
                self._install_regions(job)

    def _install_regions(self, job) -> int:
        if job.error is not None:
            raise job.error
        self.stats.background_seconds += job.seconds if self.compiler is not None else 0.0
        installed = 0
        for name, members in job.payload:
            for t in members:
                t.compiling = False
            # a member dropped meanwhile (its code was written) makes the whole region stale
            if any(self.blocks.get((t.pc, t.paddr)) is not t for t in members):
                continue
            address = job.compiled.addresses[name]
            for t in members:               # the region function can start at any member
                self._forget(t)             # jump cache entries still naming first-tier code
                t.tier, t.address = 1, address
                t.region = tuple(m.pc for m in members)
                t.fn = BLOCK_FN(address)
                if t.records is not None:     # the run loop is not inside any block: safe to free
                    self.records.free(t.records)
                t.data, t.records = 0, None
            self.stats.promoted += len(members)
            self.stats.promoted_insns += sum(len(t.insns) for t in members)
            installed += 1
        return installed

    def _warm(self, t: Translation) -> bool:
        """Run often enough to be worth compiling into a neighbour's region (cold exits are not)."""
        return t.tier == 1 or (t.counter is not None and self.counters[t.counter] >= WARM_THRESHOLD)

    def _region(self, head: Translation) -> list[Translation]:
        """A hot block and the translated blocks it statically leads to on its guest page (whose
        code lies on the head's physical pages, so invalidating those pages drops the region)."""
        members, todo, seen = [head], [head], {head.pc}
        while todo and len(members) < MAX_REGION_BLOCKS:
            t = todo.pop(0)
            if t.block is None:         # threaded: lifted to IR only now that it is worth it
                t.block = threaded.lift_insns(t.decoded())
            for target in static_successors(t.block):
                if target in seen or target >> PAGE_SHIFT != head.pc >> PAGE_SHIFT:
                    continue
                seen.add(target)
                m = self.blocks.get((target, head.paddr + (target - head.pc)))
                if m is None or not set(m.pages) <= set(head.pages) or len(members) >= MAX_REGION_BLOCKS \
                        or not self._warm(m):
                    continue
                if m.block is None:
                    m.block = threaded.lift_insns(m.decoded())
                members.append(m)
                todo.append(m)
        return members

    def invalidate_page(self, page: int):
        """Guest code wrote to a page holding translated code: forget its translations."""
        for key in self.by_page.pop(page, ()):
            t = self.blocks.pop(key, None)
            if t is not None:
                self.stats.invalidations += 1
                self._forget(t)
                if t.records is not None:
                    self._dropped_records.append(t.records)
                for other in t.pages:
                    if other != page and key in self.by_page.get(other, ()):
                        self.by_page[other].remove(key)
        self.hart.request_stop()


