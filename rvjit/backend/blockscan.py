"""The threaded tier's block scanner, in native code.

Translating a block for the threaded tier is reading its instruction words and laying down one
record per word. A small native function walks the block's bytes in guest RAM and copies each
word's record template (its handler, operands, length, whether it ends a block) into the
block's records, stopping where a block ends (after a control transfer or a CSR access, at
MAX_BLOCK_INSNS, at the end of the page). It finds the template in a hash table of the words
Python has learnt (threaded.word_info), or else has native code generated from the instruction
table make it (nativedecode); a word neither knows (illegal, with a handler of its own, or of a
definition whose handler is not compiled yet) comes back to Python once, which puts it in the
table. In Python this walk cost ~15 us a block, a third of translating one; natively it costs
well under a microsecond.

Table entry (ENTRY_BYTES): u64 key (word | 1 << 32; 0: empty), u64 meta (length in bits 0-7,
END, USES_FP, NO_HANDLER flags), then the word's 64-byte record template.
"""
from __future__ import annotations

import ctypes
import struct
from typing import NamedTuple

import numpy as np

from ..frontend.lift import MAX_BLOCK_INSNS
from . import nativedecode, objcache, threaded
from .nativedecode import DECODE_FN
from .llvmconst import c64, load_word
from .handlergen import RECORD, HEADER_COUNT, HEADER_COUNTER, HEADER_PC, HEADER_PLACED

SCAN_FN = "rvjit_scan_block"
ENTRY = np.dtype([("key", "<u8"), ("meta", "<u8"), ("record", RECORD)])
ENTRY_BYTES = ENTRY.itemsize
assert (ENTRY.fields["meta"][1], ENTRY.fields["record"][1]) == (nativedecode.ENTRY_META, nativedecode.ENTRY_RECORD)
ENTRY_WORDS = ENTRY_BYTES // 8
END, USES_FP, NO_HANDLER = 1 << 8, 1 << 9, 1 << 10
PRESENT = 1 << 32
_ENTRY_HEAD = struct.Struct("<QQ")
HASH_MULTIPLIER = 0x9E3779B97F4A7C15
HASH_SHIFT = 40
INITIAL_SLOTS = 1 << 12
MAX_SLOTS = 1 << 20          # ~80 MiB: past half of it the table starts again from empty

# Parameter block shared with the native function (i64 each): inputs, then results.
P_CODE, P_START, P_PAGE_END, P_AVAIL_END, P_TABLE, P_MASK, P_OUT, P_PC, P_COUNTER = range(9)
R_STATUS, R_COUNT, R_SIZE, R_WORD, R_FP = range(9, 14)
P_DEFINITIONS, P_COMPRESSED, P_SCRATCH = range(14, 17)     # the native decoder's tables, an entry
PARAMS = 17
# Scan results
COMPLETE, INCOMPLETE, UNKNOWN_WORD, NO_HANDLER_WORD = range(4)


def scanner_ir() -> str:
    """void @rvjit_scan_block(ptr %p): scan the block at code[start] (see the module docstring);
    writes the header and records to out, the results to p[R_*]."""
    rec = RECORD.itemsize

    def result(i, value, tag):
        return (f"  %r{tag}.{i} = getelementptr i64, ptr %p, i64 {i}\n"
                f"  store i64 {value}, ptr %r{tag}.{i}\n")

    def leave(tag, status, count, size, word, fp):
        return (f"{tag}:\n" + result(R_STATUS, status, tag) + result(R_COUNT, count, tag)
                + result(R_SIZE, size, tag) + result(R_WORD, word, tag) + result(R_FP, fp, tag)
                + "  ret void\n")

    def header(tag, count):
        return "".join(f"  %h{tag}.{off} = getelementptr i8, ptr %out, i64 {off}\n"
                       f"  store i64 {v}, ptr %h{tag}.{off}\n"
                       for off, v in ((HEADER_COUNT, count), (HEADER_COUNTER, "%counter"),
                                      (HEADER_PC, "%pc"), (HEADER_PLACED, 0)))

    return f"""declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)

define void @{SCAN_FN}(ptr noalias %p) nounwind {{
entry:
{load_word("%p", P_CODE, "code", "ptr")}{load_word("%p", P_START, "start")}{load_word("%p", P_PAGE_END, "page_end")}{load_word("%p", P_AVAIL_END, "avail")}\
{load_word("%p", P_TABLE, "table", "ptr")}{load_word("%p", P_MASK, "mask")}{load_word("%p", P_OUT, "out", "ptr")}{load_word("%p", P_PC, "pc")}\
{load_word("%p", P_COUNTER, "counter")}{load_word("%p", P_DEFINITIONS, "defs", "ptr")}\
{load_word("%p", P_COMPRESSED, "compressed", "ptr")}{load_word("%p", P_SCRATCH, "scratch", "ptr")}  br label %loop
loop:
  %cur = phi i64 [%start, %entry], [%cur1, %more]
  %n = phi i64 [0, %entry], [%n1, %more]
  %fps = phi i64 [0, %entry], [%fps1, %more]
  %end2 = add i64 %cur, 2
  %short2 = icmp ugt i64 %end2, %avail
  br i1 %short2, label %incomplete, label %half
half:
  %a = getelementptr i8, ptr %code, i64 %cur
  %lo16 = load i16, ptr %a, align 1
  %lo = zext i16 %lo16 to i64
  %quad = and i64 %lo, 3
  %wide = icmp eq i64 %quad, 3
  br i1 %wide, label %upper, label %find
upper:
  %end4 = add i64 %cur, 4
  %short4 = icmp ugt i64 %end4, %avail
  br i1 %short4, label %incomplete, label %upper2
upper2:
  %a2 = getelementptr i8, ptr %a, i64 2
  %hi16 = load i16, ptr %a2, align 1
  %hi = zext i16 %hi16 to i64
  %hish = shl i64 %hi, 16
  %w4 = or i64 %lo, %hish
  br label %find
find:
  %word = phi i64 [%lo, %half], [%w4, %upper2]
  %want = or i64 %word, {PRESENT}
  %mul = mul i64 %word, {c64(HASH_MULTIPLIER)}
  %hsh = lshr i64 %mul, {HASH_SHIFT}
  %slot0 = and i64 %hsh, %mask
  br label %probe
probe:
  %slot = phi i64 [%slot0, %find], [%slotn, %next_slot]
  %eoff = mul i64 %slot, {ENTRY_BYTES}
  %ep = getelementptr i8, ptr %table, i64 %eoff
  %key = load i64, ptr %ep
  %hit = icmp eq i64 %key, %want
  br i1 %hit, label %found, label %miss, !prof !{{!"branch_weights", i32 100, i32 1}}
miss:
  %empty = icmp eq i64 %key, 0
  br i1 %empty, label %decode, label %next_slot
decode:
  %decoded = call i1 @{DECODE_FN}(ptr %scratch, i64 %word, ptr %defs, ptr %compressed)
  br i1 %decoded, label %found, label %unknown
next_slot:
  %slot1 = add i64 %slot, 1
  %slotn = and i64 %slot1, %mask
  br label %probe
found:
  %fe = phi ptr [%ep, %probe], [%scratch, %decode]
  %mp = getelementptr i8, ptr %fe, i64 8
  %meta = load i64, ptr %mp
  %noh = and i64 %meta, {NO_HANDLER}
  %nohb = icmp ne i64 %noh, 0
  br i1 %nohb, label %no_handler, label %copy
copy:
  %n1 = add i64 %n, 1
  %roff = mul i64 %n1, {rec}
  %dst = getelementptr i8, ptr %out, i64 %roff
  %src = getelementptr i8, ptr %fe, i64 16
  call void @llvm.memcpy.p0.p0.i64(ptr align 8 %dst, ptr align 8 %src, i64 {rec}, i1 false)
  %len = and i64 %meta, 255
  %cur1 = add i64 %cur, %len
  %fpb = and i64 %meta, {USES_FP}
  %fps1 = or i64 %fps, %fpb
  %endb = and i64 %meta, {END}
  %ends = icmp ne i64 %endb, 0
  %full = icmp uge i64 %n1, {MAX_BLOCK_INSNS}
  %at_page = icmp uge i64 %cur1, %page_end
  %stop1 = or i1 %ends, %full
  %stop = or i1 %stop1, %at_page
  br i1 %stop, label %complete_hdr, label %more
more:
  br label %loop
complete_hdr:
  %size_c = sub i64 %cur1, %start
{header("c", "%n1")}  br label %complete
incomplete:
  %size_i = sub i64 %cur, %start
{header("i", "%n")}  br label %incomplete_out
{leave("complete", COMPLETE, "%n1", "%size_c", 0, "%fps1")}\
{leave("incomplete_out", INCOMPLETE, "%n", "%size_i", 0, "%fps")}\
{leave("unknown", UNKNOWN_WORD, "%n", 0, "%word", "%fps")}\
{leave("no_handler", NO_HANDLER_WORD, "%n", 0, "%word", "%fps")}}}

{nativedecode.decoder_ir()}"""


def _flags(end, uses_fp: bool) -> int:
    """The meta flags of a word whose handler ends a block (end not None) / calls the FP runtime."""
    return (END if end is not None else 0) | (USES_FP if uses_fp else 0)


class Scan(NamedTuple):
    count: int                    # instructions
    size: int                     # bytes
    complete: bool                # False: ended early, the next instruction's bytes are missing
    uses_fp: bool


class BlockScanner:
    """The native scanner and its table of word templates, for one HandlerLibrary."""

    def __init__(self, lib: threaded.HandlerLibrary, native_decoding: bool = True):
        """native_decoding=False: every word the table lacks is Python's to learn."""
        self.lib = lib
        # keyed by rvjit's source, not by its IR: writing the decoder's IR costs ~10 ms a start
        compiled = lib.engine.compile_described(f"block scanner\0{objcache.source_signature()}",
                                                [SCAN_FN, DECODE_FN], lambda: lib.engine.object_code(scanner_ir()))
        self.function_address = compiled.addresses[SCAN_FN]    # native callers (nativeblock)
        self._decode = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_void_p,
                                        ctypes.c_void_p)(compiled.addresses[DECODE_FN])
        self._scan = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(self.function_address)
        # a ctypes array: item assignment costs a fifth of a numpy array's
        self.params = (ctypes.c_uint64 * PARAMS)()
        self.params_address = ctypes.addressof(self.params)
        # records of the block being scanned (header first); the translator copies them out
        self.out = np.zeros((MAX_BLOCK_INSNS + 1) * RECORD.itemsize, dtype=np.uint8)
        self.out_view = memoryview(self.out)
        self._out_address = self.out.ctypes.data
        self.decoding = nativedecode.DecodeTables(threaded.record_operands, native_decoding)
        self.scratch = np.zeros(1, dtype=ENTRY)      # the entry a natively decoded word fills
        self.params[P_DEFINITIONS] = self.decoding.definitions.ctypes.data
        self.params[P_COMPRESSED] = self.decoding.compressed.ctypes.data
        self.params[P_SCRATCH] = self.scratch.ctypes.data
        self._make_table(INITIAL_SLOTS)

    def _make_table(self, slots: int):
        self.table = np.zeros(slots, dtype=ENTRY)
        self.mask = slots - 1
        self.params[P_TABLE] = self.table.ctypes.data
        self.params[P_MASK] = self.mask
        self.words: set[int] = set()     # words in the table
        self._occupied = bytearray(slots)    # slot in use (probing one word from Python)
        self._table_bytes = memoryview(self.table.view(np.uint8))

    def _slot(self, word: int) -> int:
        return ((word * HASH_MULTIPLIER) & ((1 << 64) - 1)) >> HASH_SHIFT & self.mask

    def _home(self, words: np.ndarray) -> np.ndarray:
        return (words * np.uint64(HASH_MULTIPLIER)) >> np.uint64(HASH_SHIFT) & np.uint64(self.mask)

    def _place(self, entries: np.ndarray, room: int = 0):
        """Insert entries (ENTRY records of words not in the table) all at once. The table is
        laid out again, the words already in it included, in order of home slot: then linear
        probing puts each at max(its home, the slot after the previous one), a running maximum
        (a probe from a word's home meets only occupied slots before its own)."""
        existing = self.table[self.table["key"] != 0]
        wanted = len(self.words) + max(len(entries), room)
        fresh = False                    # a new table is zeros already (touching it costs)
        if 2 * wanted > self.mask + 1:
            fresh = True
            slots = self.mask + 1
            while 2 * wanted > slots:
                slots *= 2
            if slots > MAX_SLOTS:        # past the bound: start again (words are re-learnt)
                slots, existing = self.mask + 1, existing[:0]
                entries = entries[:slots // 2]
            self._make_table(slots)
            self.words.update((existing["key"] & np.uint64(PRESENT - 1)).tolist())
        everything = np.concatenate([existing, entries])
        home = self._home(everything["key"] & np.uint64(PRESENT - 1)).astype(np.int64)
        order = np.argsort(home, kind="stable")
        rank = np.arange(len(order))
        slot = np.maximum.accumulate(home[order] - rank) + rank
        inside = slot <= self.mask
        rows = self.table.view(np.uint64).reshape(len(self.table), ENTRY_WORDS)   # faster than records
        if not fresh:
            rows[:] = 0
        rows[slot[inside]] = everything.view(np.uint64).reshape(len(everything), ENTRY_WORDS)[order[inside]]
        occupied = np.frombuffer(self._occupied, dtype=np.bool_)
        occupied[:] = False
        occupied[slot[inside]] = True
        self.words.update((entries["key"] & np.uint64(PRESENT - 1)).tolist())
        for entry in everything[order[~inside]]:       # past the end: they wrap to the start
            word = int(entry["key"]) & (PRESENT - 1)
            self.words.discard(word)
            self._put(word, int(entry["meta"]), entry["record"].tobytes())

    def _grow(self, more: int):
        """Room for `more` words (the table laid out again, bigger, or started again)."""
        self._place(np.zeros(0, dtype=ENTRY), more)

    def learn(self, word: int):
        """Put a word the table lacks in it (its handler compiled first). Then the native
        decoder gets the handlers compiled meanwhile, and the decoding of the word's
        compressed group."""
        self._learn(word)
        if word & 3 != 3:
            self.decoding.learn_compressed(word)
        self.decoding.refresh(self.lib, self._meta_of)

    def decoded(self, word: int) -> tuple[int, bytes] | None:
        """What native code decodes word to, as it stands: (meta, record template), or None
        (the word is Python's to learn)."""
        entry = np.zeros(1, dtype=ENTRY)
        if not self._decode(entry.ctypes.data, word, self.params[P_DEFINITIONS], self.params[P_COMPRESSED]):
            return None
        return int(entry["meta"][0]), entry["record"].tobytes()

    def _meta_of(self, key) -> int:
        return _flags(self.lib.ends[key], key in self.lib.uses_fp)

    def _learn(self, word: int):
        info = threaded.word_info(self.lib, word)
        if word in self.words:
            return
        if info is None:
            self._put(word, NO_HANDLER, bytes(RECORD.itemsize))
            return
        if self.lib.compiling(info.key):
            if isinstance(info.key, str):
                threaded.lift_code_ahead(self.lib, self._code_near(0, 1024))
            else:
                threaded.lift_csr_words(self.lib, self._code_near(512, 512))
        self.lib.compile_pending()
        meta = info.length | _flags(info.end, info.fp)
        self._put(word, meta, threaded.record_template(self.lib, word, info))

    def _code_near(self, before: int, after: int) -> bytes:
        """Code from `before` bytes before the start of the block being scanned to `after`
        bytes after it, on its page (and within what may be read)."""
        p = self.params
        start = max(p[P_PAGE_END] - 4096, p[P_START] - before, 0)
        end = min(p[P_PAGE_END], p[P_AVAIL_END], p[P_START] + after)
        return ctypes.string_at(p[P_CODE] + start, max(0, end - start))

    def _put(self, word: int, meta: int, template: bytes):
        """Insert one word (the common case once running: probing in Python is cheaper than
        the vectorised _place for a single entry)."""
        if 2 * (len(self.words) + 1) > self.mask + 1:
            self._grow(1)
        slot, occupied = self._slot(word), self._occupied
        while occupied[slot]:
            slot = (slot + 1) & self.mask
        occupied[slot] = 1
        self._table_bytes[slot * ENTRY_BYTES:(slot + 1) * ENTRY_BYTES] = _ENTRY_HEAD.pack(word | PRESENT, meta) + template
        self.words.add(word)

    def scan(self, code_address: int, start: int, page_end: int, avail_end: int, pc: int,
             counter: int) -> Scan | None:
        """Scan the block at code_address + start into self.out (header, then records); None
        if one of its instructions has no handler (it is compiled instead)."""
        p = self.params
        p[P_CODE], p[P_START], p[P_PAGE_END], p[P_AVAIL_END] = code_address, start, page_end, avail_end
        p[P_PC], p[P_COUNTER] = pc, counter
        p[P_OUT] = self._out_address     # native translation (nativeblock) points it elsewhere
        while True:
            self._scan(self.params_address)
            status, count, size, word, fp = p[R_STATUS:R_FP + 1]
            if status == UNKNOWN_WORD:
                self.learn(word)
                continue
            if status == NO_HANDLER_WORD:
                return None
            return Scan(count, size, status == COMPLETE, fp != 0)


_scanners: dict[int, BlockScanner] = {}


def scanner_for(lib: threaded.HandlerLibrary) -> BlockScanner:
    """The scanner of a handler library (its table holds the library's handler addresses)."""
    scanner = _scanners.get(id(lib))
    if scanner is None or scanner.lib is not lib:
        scanner = _scanners[id(lib)] = BlockScanner(lib)
    return scanner
