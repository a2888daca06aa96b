"""Which guest RAM pages hold translated code, and which 16-byte chunks of each.

A store into a code page must drop the translations made from it, unless it only touches bytes
next to the code (data sharing the page). The map is kept in arrays native code reads and writes
too: the native block translator (backend.nativeblock) marks the chunks of the blocks it makes
on pages that are code already (making a page code is left to Python, which also write-protects
it in the TLB).

flags: u8 per RAM page, CODE: the page holds code, WATCHED: Python must see every store to it
(cpu.memory's watched pages). chunks: four u64 per RAM page, bit i of
the 256: bytes [16 i, 16 i + 16) of the page hold code.
"""
import numpy as np

PAGE_SHIFT = 12
PAGE = 1 << PAGE_SHIFT
CHUNK_SHIFT = 4
CHUNK_WORDS = 4                 # u64 words of chunk bits per page (256 chunks of 16 bytes)
CODE, WATCHED = 1, 2            # page flags


def chunk_mask(paddr: int, size: int) -> int:
    """The chunk bits of the bytes [paddr, paddr + size) of one page."""
    first, last = (paddr & (PAGE - 1)) >> CHUNK_SHIFT, ((paddr + size - 1) & (PAGE - 1)) >> CHUNK_SHIFT
    return ((1 << (last - first + 1)) - 1) << first


def flags_ir(flags: str, offset: str, bits: int, out: str) -> str:
    """LLVM IR setting i1 %{out}: the flags of the page at RAM offset `offset` include one of
    `bits` (`flags`: the flag array's address; both are IR values)."""
    return (f"  %{out}.page = lshr i64 {offset}, {PAGE_SHIFT}\n"
            f"  %{out}.p = getelementptr i8, ptr {flags}, i64 %{out}.page\n"
            f"  %{out}.byte = load i8, ptr %{out}.p\n"
            f"  %{out}.bits = and i8 %{out}.byte, {bits}\n"
            f"  %{out} = icmp ne i8 %{out}.bits, 0\n")


def chunk_span_ir(inpage: str, size: str, out: str) -> str:
    """LLVM IR setting %{out}.first and %{out}.last: the chunks holding bytes
    [inpage, inpage + size) of a page (IR values)."""
    return (f"  %{out}.first = lshr i64 {inpage}, {CHUNK_SHIFT}\n"
            f"  %{out}.end = add i64 {inpage}, {size}\n"
            f"  %{out}.lastbyte = sub i64 %{out}.end, 1\n"
            f"  %{out}.last = lshr i64 %{out}.lastbyte, {CHUNK_SHIFT}\n")


def chunk_word_ir(chunks: str, page: str, chunk: str, out: str) -> str:
    """LLVM IR setting %{out}.p, the address of the u64 holding the bit of chunk `chunk` of the
    page numbered `page` from the start of RAM (`chunks`: the chunk array), and %{out}.bit, the
    bit's number in it (all IR values)."""
    return (f"  %{out}.base = mul i64 {page}, {CHUNK_WORDS}\n"
            f"  %{out}.word = lshr i64 {chunk}, 6\n"
            f"  %{out}.ix = add i64 %{out}.base, %{out}.word\n"
            f"  %{out}.p = getelementptr i64, ptr {chunks}, i64 %{out}.ix\n"
            f"  %{out}.bit = and i64 {chunk}, 63\n")


class CodeMap:
    def __init__(self, ram_base: int, ram_size: int):
        self.first_page = ram_base >> PAGE_SHIFT
        self.pages = ram_size >> PAGE_SHIFT
        self.flags = np.zeros(self.pages, dtype=np.uint8)
        self.chunks = np.zeros(self.pages * CHUNK_WORDS, dtype=np.uint64)
        self._flags = memoryview(self.flags)
        self._chunks = memoryview(self.chunks)
        self.count = 0                  # pages marked

    def _index(self, page: int) -> int | None:
        i = page - self.first_page
        return i if 0 <= i < self.pages else None

    def __contains__(self, page: int) -> bool:
        i = page - self.first_page
        return 0 <= i < self.pages and self._flags[i] & CODE != 0

    def __bool__(self) -> bool:
        return self.count > 0

    def _bits(self, i: int) -> int:
        w = self._chunks
        at = i * CHUNK_WORDS
        return w[at] | w[at + 1] << 64 | w[at + 2] << 128 | w[at + 3] << 192

    def mark(self, paddr: int, size: int) -> bool:
        """Code now covers [paddr, paddr + size) of one page; True if the page was not code."""
        i = self._index(paddr >> PAGE_SHIFT)
        if i is None:
            return False
        bits = chunk_mask(paddr, size)
        w, at = self._chunks, i * CHUNK_WORDS
        for k in range(CHUNK_WORDS):
            part = bits >> (64 * k) & ((1 << 64) - 1)
            if part:
                w[at + k] |= part
        if self._flags[i] & CODE:
            return False
        self._flags[i] |= CODE
        self.count += 1
        return True

    def touches(self, paddr: int, size: int) -> bool:
        """Do the bytes [paddr, paddr + size) of one page overlap its code?"""
        i = self._index(paddr >> PAGE_SHIFT)
        return i is not None and bool(self._bits(i) & chunk_mask(paddr, size))

    def discard(self, page: int):
        """The page's code is gone (it was written)."""
        i = self._index(page)
        if i is None or not self._flags[i] & CODE:
            return
        self._flags[i] &= ~CODE
        self.count -= 1
        w, at = self._chunks, i * CHUNK_WORDS
        w[at] = w[at + 1] = w[at + 2] = w[at + 3] = 0

    def watch(self, page: int):
        """Stores to the page must reach Python."""
        i = self._index(page)
        if i is not None:
            self._flags[i] |= WATCHED
