"""Hot code: blocks that keep running are recompiled with optimisation, each with its warm
neighbours as one region. A mixin of backend.translator.Translator.

The run counters are scanned every PROMOTE_INTERVAL; each region becomes a job for the
background compiler (backend.background, which optimises in backend.compileserver's child
process) and is installed in place of its blocks' first-tier code when it is ready.
"""
from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING

import numpy as np

from . import objcache, threaded
from .background import CompileJob, compile_described
from .engine import BLOCK_FN
from .regiongen import regions_module

if TYPE_CHECKING:
    from .translator import Translation

PAGE_SHIFT = 12
# A first-tier block is recompiled with optimisation after this many runs. Optimised compiling
# costs ~80 ms a region (on another core) and saves a few ns a run, so only blocks that keep
# running pay it back.
HOT_THRESHOLD = 50_000
PROMOTE_INTERVAL = 0.01     # seconds between scans of the run counters for hot blocks
MAX_REGION_BLOCKS = 16      # blocks compiled into one hot region (a hot block and its neighbours)
WARM_THRESHOLD = HOT_THRESHOLD // 16   # runs that earn a neighbour a place in a hot region
# A region an earlier run optimised (backend.hotprofile) is formed again once its head has run
# this share of HOT_THRESHOLD: it was hot then and its object is on disk, so it costs only
# linking, and the few runs keep code this run hardly uses from being linked at all.
HINTED_SHARE = 1000


def hinted_threshold() -> int:
    return max(1, HOT_THRESHOLD // HINTED_SHARE)


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


class HotPromotion:
    def promote_hot(self, limit: int = 64) -> int:
        """Recompile the hottest first-tier blocks, each with its warm neighbours, as optimised
        regions, and form the regions of the hot profile (hotprofile) whose heads have run a few
        times; on the background compiler when there is one. Returns regions installed."""
        self.absorb_native_blocks()
        if self.hot_engine is None or not self.counter_owner:
            return 0
        installed = 0
        if self.compiler is not None and self.compiler.in_flight:
            for job in self.compiler.finished():
                installed += self._install_regions(job)
        # The run loop asks after every trip into native code, which can be every few guest
        # instructions (jump cache flushed by mode changes): scanning the counters is then a
        # large share of the time, so look at most every PROMOTE_INTERVAL seconds.
        now = time.perf_counter()
        if now < self._next_promote_scan:
            return installed
        self._next_promote_scan = now + PROMOTE_INTERVAL
        installed += self.promote_hinted()
        if self.compiler is not None and self.compiler.optimising:
            return installed                    # one batch at a time: the hottest code goes first
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
        jobs = [self._region_job(members) for members in regions]
        self.stats.seconds["optimising hot"] += time.perf_counter() - t0
        for job in jobs:
            installed += self._run_job(job)
        return installed

    def _region_job(self, members: list[Translation], link_only: bool = False) -> CompileJob:
        """A module per region: each is installed as soon as it is compiled (the hottest first),
        and found in the disk cache next run however the regions are batched then. link_only:
        only if its object is in the disk cache."""
        name = f"region_{members[0].pc:x}_{members[0].paddr:x}"    # unique, and the same every run
        for t in members:
            t.compiling = True
        self._bank_runs([t.counter for t in members if t.counter is not None])
        return CompileJob(None, [name], [(name, members)], make_ir=functools.partial(_region_ir, name, members),
                          link_only=link_only, key_text=_region_description(name, members))

    def _run_job(self, job: CompileJob) -> int:
        """Hand a job to the background compiler, or compile and install it now (returns 1 if
        it was installed)."""
        if self.compiler is not None:
            self.compiler.submit(job)
            return 0
        t1 = time.perf_counter()
        job.compiled = compile_described(self.hot_engine, job, self.hot_engine.object_code)
        self.stats.seconds["optimising hot"] += time.perf_counter() - t1
        return self._install_regions(job)

    def _bank_runs(self, counters):
        """Zero run counters, keeping the first-tier instructions they stand for."""
        self.stats.first_tier_insns_banked += int(np.dot(self.counters[counters], self.counter_lengths[counters]))
        self.counters[counters] = 0

    def first_tier_insns(self) -> int:
        """Guest instructions run in first-tier code (block runs x block lengths: a run that
        trapped part-way counts whole)."""
        self.absorb_native_blocks()
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
            if job.compiled is None:        # a hinted region not in the disk cache: left to the counters
                self.stats.hints_missed += 1
                continue
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
                self.block_table.update(t.pc, t.paddr, address, 0)
            self.stats.promoted += len(members)
            self.stats.promoted_insns += sum(t.insn_count for t in members)
            self.stats.hinted += job.link_only
            self._record_region(members)
            installed += 1
        return installed

    def _warm(self, t: Translation) -> bool:
        """Run often enough to be worth compiling into a neighbour's region (cold exits are not)."""
        return t.tier == 1 or (t.counter is not None and self.counters[t.counter] >= WARM_THRESHOLD)

    def _region(self, head: Translation) -> list[Translation]:
        """A hot block and the translated blocks it statically leads to on its guest page whose
        code lies on exactly the head's physical pages: a write to any of them drops every
        member (a member left behind would still enter the region's stale copy of the others)."""
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
                if m is None or set(m.pages) != set(head.pages) or len(members) >= MAX_REGION_BLOCKS \
                        or not self._warm(m):
                    continue
                if m.block is None:
                    m.block = threaded.lift_insns(m.decoded())
                members.append(m)
                todo.append(m)
        return members


def _region_description(name: str, members) -> str:
    """What a region's IR is made from, its key in the disk cache: the region's name and each
    member's guest pc and instruction bytes (rvjit's own source is in the key too, for what
    it makes of them)."""
    parts = [f"region {objcache.source_signature()} {name}"]
    for t in members:
        code = t.code or b"".join(insn.raw.to_bytes(insn.length, "little") for insn in t.decoded())
        parts.append(f"{t.pc:x}:{code.hex()}")
    return "\n".join(parts)


def _region_ir(name: str, members) -> str:
    """The region's LLVM IR, on the compiler thread: hinted regions' blocks are lifted only here."""
    for t in members:
        if t.block is None:
            t.block = threaded.lift_insns(t.decoded())
    return regions_module([(name, [t.block for t in members])])
