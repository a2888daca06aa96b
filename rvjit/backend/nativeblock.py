"""New threaded blocks translated in native code, without leaving for Python.

A Linux boot meets ~75,000 new blocks. Translating one in Python (fetch translation, scanning,
records, counters, code-page marks, block table, jump cache) cost ~25 us plus a trip out of
native code and back; the scanning itself is native already (blockscan) and well under a
microsecond. So when the dispatcher's block table misses (dispatcher.dispatcher_ir), it calls
@rvjit_new_block, which does the whole common case natively:

- the pc's page came through the execute TLB (Python fetched from it in this mode, so the fetch
  is allowed) or needs no translation (M-mode, or paging off: then the dispatcher's offset is
  pc - RAM base, checked to lie in RAM here), and its page holds code already (Python made it
  code and write-protected it);
- every word is in the scanner's table with a handler, the block ends on the page, and an FP
  block finds the FP runtime loaded;
- there is room: in the record buffer, the run counters, the block table (under half full) and
  the log.

It scans the block straight into a record slot, takes the next run counter, marks the block's
16-byte chunks in the code map (cpu.codemap), enters the block in the block table and logs it.
Anything else returns null and the dispatcher leaves for Python as before. Python takes the log
over (NativeBlocks.absorb_native_blocks) before anything that needs its view of the blocks: the
run loop after every trip into native code, and a code write before it drops a page's blocks.

Context (u64 words, CTX_*); log entries (LOG_WORDS u64): pc, RAM offset, records' address,
instructions | bytes << 16 | counter << 32.
"""
from __future__ import annotations

import ctypes
import time
import weakref

import numpy as np

from ..cpu.codemap import CODE, chunk_span_ir, chunk_word_ir, flags_ir
from ..cpu.state import OFFSETS
from ..frontend.lift import MAX_BLOCK_INSNS
from .blockscan import (P_CODE, P_START, P_PAGE_END, P_AVAIL_END, P_OUT, P_PC, P_COUNTER,
                        R_STATUS, R_COUNT, R_SIZE, R_FP, COMPLETE)
from .blocktable import slot_ir
from .handlergen import RECORD
from .llvmconst import load_word

NEW_BLOCK_FN = "rvjit_new_block"
(CTX_SCAN_FN, CTX_SCAN_PARAMS, CTX_EXECUTOR, CTX_ARENA_NEXT, CTX_ARENA_END, CTX_COUNTER_NEXT,
 CTX_COUNTER_LIMIT, CTX_COUNTER_LENGTHS, CTX_CODE_FLAGS, CTX_CODE_CHUNKS, CTX_LOG, CTX_LOG_COUNT,
 CTX_LOG_CAPACITY, CTX_RAM_SIZE) = range(14)
CTX_WORDS = 14
LOG_WORDS = 4
LOG_CAPACITY = 8192
SLOT_ROOM = (MAX_BLOCK_INSNS + 1) * RECORD.itemsize    # the largest block's header and records
PAGE_SHIFT = 12
PAGE = 1 << PAGE_SHIFT
# ptr @rvjit_new_block(ptr state, i64 pc, i64 RAM offset), called from Python
NEW_BLOCK_CALL = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64)


def new_block_ir() -> str:
    """ptr @rvjit_new_block(ptr %s, i64 %pc, i64 %off): the block table entry of the threaded
    block just made for pc (at RAM offset off), or null (see the module docstring)."""
    o, rec = OFFSETS, RECORD.itemsize

    def param(i, value):
        return (f"  %pp{i} = getelementptr i64, ptr %params, i64 {i}\n"
                f"  store i64 {value}, ptr %pp{i}\n")

    def result(i, name):
        return (f"  %rp{i} = getelementptr i64, ptr %params, i64 {i}\n"
                f"  %{name} = load i64, ptr %rp{i}\n")

    return f"""define ptr @{NEW_BLOCK_FN}(ptr noalias %s, i64 %pc, i64 %off) nounwind {{
entry:
  %ctxp = getelementptr i8, ptr %s, i64 {o['new_block']}
  %ctx = load ptr, ptr %ctxp
{load_word("%ctx", CTX_LOG_COUNT, "lc")}{load_word("%ctx", CTX_LOG_CAPACITY, "lcap")}  %lroom = icmp ult i64 %lc, %lcap
{load_word("%ctx", CTX_COUNTER_NEXT, "cn")}{load_word("%ctx", CTX_COUNTER_LIMIT, "climit")}  %croom = icmp ult i64 %cn, %climit
{load_word("%ctx", CTX_ARENA_NEXT, "an")}{load_word("%ctx", CTX_ARENA_END, "ae")}  %need = add i64 %an, {SLOT_ROOM}
  %aroom = icmp ule i64 %need, %ae
  %usedp = getelementptr i8, ptr %s, i64 {o['block_used']}
  %used = load i64, ptr %usedp
  %bmp = getelementptr i8, ptr %s, i64 {o['block_mask']}
  %bm = load i64, ptr %bmp
  %used1 = add i64 %used, 1
  %used2 = shl i64 %used1, 1
  %slots = add i64 %bm, 1
  %broom = icmp ule i64 %used2, %slots
{load_word("%ctx", CTX_RAM_SIZE, "ramsize")}  %inram = icmp ult i64 %off, %ramsize
  %ok1 = and i1 %lroom, %croom
  %ok2 = and i1 %aroom, %broom
  %ok3 = and i1 %ok1, %ok2
  %ok4 = and i1 %ok3, %inram
  br i1 %ok4, label %codepage, label %fail
codepage:
{load_word("%ctx", CTX_CODE_FLAGS, "flags", "ptr")}{flags_ir("%flags", "%off", CODE, "iscode")}  br i1 %iscode, label %scan, label %fail
scan:
{load_word("%ctx", CTX_SCAN_PARAMS, "params", "ptr")}{load_word("%ctx", CTX_SCAN_FN, "scanfn", "ptr")}  %ramp = getelementptr i8, ptr %s, i64 {o['ram']}
  %ram = load i64, ptr %ramp
  %pagelast = or i64 %off, 4095
  %pageend = add i64 %pagelast, 1
{param(P_CODE, "%ram")}{param(P_START, "%off")}{param(P_PAGE_END, "%pageend")}{param(P_AVAIL_END, "%pageend")}\
{param(P_OUT, "%an")}{param(P_PC, "%pc")}{param(P_COUNTER, "%cn")}  call void %scanfn(ptr %params)
{result(R_STATUS, "status")}{result(R_COUNT, "count")}{result(R_SIZE, "size")}{result(R_FP, "usesfp")}\
  %complete = icmp eq i64 %status, {COMPLETE}
  %fptp = getelementptr i8, ptr %s, i64 {o['fp_table']}
  %fpt = load i64, ptr %fptp
  %nofpt = icmp eq i64 %fpt, 0
  %hasfp = icmp ne i64 %usesfp, 0
  %fpmissing = and i1 %hasfp, %nofpt
  %fpok = xor i1 %fpmissing, true
  %good = and i1 %complete, %fpok
  br i1 %good, label %commit, label %fail
commit:
  %count1 = add i64 %count, 1
  %slotbytes = mul i64 %count1, {rec}
  %an1 = add i64 %an, %slotbytes
  store i64 %an1, ptr %an.p
  %cn1 = add i64 %cn, 1
  store i64 %cn1, ptr %cn.p
{load_word("%ctx", CTX_COUNTER_LENGTHS, "lengths", "ptr")}  %lenp = getelementptr i64, ptr %lengths, i64 %cn
  store i64 %count, ptr %lenp
{load_word("%ctx", CTX_CODE_CHUNKS, "chunks", "ptr")}  %inpage = and i64 %off, 4095
{chunk_span_ir("%inpage", "%size", "span")}  br label %mark
mark:
  %ci = phi i64 [%span.first, %commit], [%ci1, %mark]
{chunk_word_ir("%chunks", "%iscode.page", "%ci", "cw")}  %w = load i64, ptr %cw.p
  %b = shl i64 1, %cw.bit
  %w1 = or i64 %w, %b
  store i64 %w1, ptr %cw.p
  %ci1 = add i64 %ci, 1
  %marking = icmp ule i64 %ci1, %span.last
  br i1 %marking, label %mark, label %enter
enter:
  %btp = getelementptr i8, ptr %s, i64 {o['block_table']}
  %bt = load ptr, ptr %btp
{slot_ir("%pc", "%off", "%bm", "h0")}  br label %probe
probe:
  %h = phi i64 [%h0, %enter], [%hn, %probe]
  %eoff = shl i64 %h, 5
  %e = getelementptr i8, ptr %bt, i64 %eoff
  %efp = getelementptr i8, ptr %e, i64 16
  %efn = load i64, ptr %efp
  %h1 = add i64 %h, 1
  %hn = and i64 %h1, %bm
  %taken = icmp ne i64 %efn, 0
  br i1 %taken, label %probe, label %place
place:
{load_word("%ctx", CTX_EXECUTOR, "executor")}  store i64 %pc, ptr %e
  %eop = getelementptr i8, ptr %e, i64 8
  store i64 %off, ptr %eop
  store i64 %executor, ptr %efp
  %edp = getelementptr i8, ptr %e, i64 24
  store i64 %an, ptr %edp
  store i64 %used1, ptr %usedp
{load_word("%ctx", CTX_LOG, "log", "ptr")}  %lix = mul i64 %lc, {LOG_WORDS}
  %l0 = getelementptr i64, ptr %log, i64 %lix
  store i64 %pc, ptr %l0
  %l1 = getelementptr i64, ptr %l0, i64 1
  store i64 %off, ptr %l1
  %l2 = getelementptr i64, ptr %l0, i64 2
  store i64 %an, ptr %l2
  %sz16 = shl i64 %size, 16
  %cn32 = shl i64 %cn, 32
  %pk1 = or i64 %count, %sz16
  %pk = or i64 %pk1, %cn32
  %l3 = getelementptr i64, ptr %l0, i64 3
  store i64 %pk, ptr %l3
  %lc1 = add i64 %lc, 1
  store i64 %lc1, ptr %lc.p
  ret ptr %e
fail:
  ret ptr null
}}
"""


class NativeBlockContext:
    """The context @rvjit_new_block reads, and its log, for one translator."""

    def __init__(self):
        self.words = np.zeros(CTX_WORDS, dtype=np.uint64)
        self.view = memoryview(self.words)
        self.log = np.zeros(LOG_CAPACITY * LOG_WORDS, dtype=np.uint64)
        self.view[CTX_LOG] = self.log.ctypes.data
        self.view[CTX_LOG_CAPACITY] = LOG_CAPACITY

    @property
    def address(self) -> int:
        return self.words.ctypes.data


# by engine (weakly: an id() could name a later engine, and code freed with the old one)
_compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def new_block_function(engine) -> int:
    """@rvjit_new_block compiled in an engine (once per engine)."""
    address = _compiled.get(engine)
    if address is None:
        address = _compiled[engine] = engine.compile(new_block_ir(), [NEW_BLOCK_FN]).addresses[NEW_BLOCK_FN]
    return address


class NativeBlocks:
    """The translator's side (a mixin of backend.translator.Translator): setting the context up,
    having native code make blocks Python scanned, and taking over the blocks native code made."""

    def _init_native_blocks(self, enabled: bool):
        """self.native_blocks (a NativeBlockContext) exists already: the record arena shares it."""
        st, mem = self.hart.state, self.hart.mem
        ctx = self.native_blocks.view
        st.new_block = self.native_blocks.address
        st.new_block_fn = 0
        if not enabled:
            return
        scanner = self.scanner
        ctx[CTX_SCAN_FN] = scanner.function_address
        ctx[CTX_SCAN_PARAMS] = scanner.params_address
        ctx[CTX_EXECUTOR] = self.library.executor
        ctx[CTX_COUNTER_LIMIT] = len(self.counters) - 1 if self.hot_engine is not None else 0
        ctx[CTX_COUNTER_LENGTHS] = self.counter_lengths.ctypes.data
        ctx[CTX_CODE_FLAGS] = mem.code_pages.flags.ctypes.data
        ctx[CTX_CODE_CHUNKS] = mem.code_pages.chunks.ctypes.data
        ctx[CTX_RAM_SIZE] = mem.ram.size
        self._sync_native_counter()
        st.new_block_fn = new_block_function(self.library.engine)
        self._new_block_call = NEW_BLOCK_CALL(st.new_block_fn)

    def _sync_native_counter(self):
        self.native_blocks.view[CTX_COUNTER_NEXT] = len(self.counter_owner)

    def _translate_natively(self, pc: int, paddr: int, scan, t0: float):
        """Once Python has learnt a new block's words (Translator.translate's scan), native code
        makes the block as it makes those the dispatcher meets (@rvjit_new_block), which costs a
        fraction of _translate_threaded and _add: a cold Debian boot has ~35,000 such blocks. Only for a
        block on one page that is code already (Python makes a page code); None otherwise, or
        where native code declines."""
        st, mem = self.hart.state, self.hart.mem
        t1 = time.perf_counter()
        if not st.new_block_fn or not scan.complete or (pc & (PAGE - 1)) + scan.size > PAGE \
                or paddr >> PAGE_SHIFT not in mem.code_pages or not mem.ram.contains(paddr, scan.size):
            return None
        if not self._new_block_call(ctypes.addressof(st), pc, paddr - mem.ram.base):
            return None
        natively = self.stats.native_blocks
        self.absorb_native_blocks()
        self.stats.native_blocks = natively          # it was not made without a trip to Python
        t = self.blocks[(pc, paddr)]
        self.stats.seconds["decode+lift"] += t1 - t0
        self.stats.seconds["threading"] += time.perf_counter() - t1
        return t

    def absorb_native_blocks(self):
        """Make Translations of the blocks native code translated since Python last looked."""
        ctx = self.native_blocks.view
        n = ctx[CTX_LOG_COUNT]
        if not n:
            return
        ctx[CTX_LOG_COUNT] = 0
        from .translator import Translation
        entries = self.native_blocks.log[:n * LOG_WORDS].tolist()
        ram = self.hart.mem.ram
        base, code_bytes = ram.base, ram.view
        executor, fn = self.library.executor, self._executor_fn
        blocks, by_page, owners = self.blocks, self.by_page, self.counter_owner
        heads = self.profile_heads
        handle_of = self.records.handle_of
        insns = 0
        for pc, off, data, packed in zip(entries[0::4], entries[1::4], entries[2::4], entries[3::4]):
            count, size = packed & 0xFFFF, packed >> 16 & 0xFFFF
            paddr = base + off
            page = paddr >> 12
            t = Translation(pc, paddr, None, "threaded", "", executor, fn, (page,), 0, packed >> 32, 0.0, data,
                            handle_of(data, count + 1), None, code_bytes[off:off + size].tobytes())
            owners.append(t)
            key = (pc, paddr)
            blocks[key] = t
            keys = by_page.get(page)
            if keys is None:
                by_page[page] = [key]
            else:
                keys.append(key)
            insns += count
            if heads is None or key in heads:
                self.note_translated(t)
                heads = self.profile_heads
        stats = self.stats
        stats.guest_insns_translated += insns
        stats.blocks += n
        stats.threaded_blocks += n
        stats.native_blocks += n
        if len(owners) != ctx[CTX_COUNTER_NEXT]:      # counters are handed out in one order
            raise RuntimeError("native block log out of step with the run counters")
