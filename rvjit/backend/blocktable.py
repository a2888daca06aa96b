"""Every translated block, in a table generated code can search: a jump cache miss for a block
that is already translated is resolved natively instead of in the run loop.

The jump caches are flushed often (a process switch forgets the user pages' entries, a full
sfence.vma everything) while the translations stay good: a Debian boot leaves native code about
120,000 times only to find an existing block again. On a jump cache miss the dispatcher
(dispatcher.dispatcher_ir) translates the pc through the TLB's execute tag (filled when Python
last fetched from the page in this mode), looks (pc, RAM offset) up here, refills the jump cache
entry and enters the block. Python keeps the table: blocks are added when translated, updated
when promoted, and removed (a tombstone) when their code is written.

Entry: u64 pc, u64 RAM offset of the block's physical address, u64 fn, u64 data. fn 0: empty
(a search stops); a tombstone has fn 1 and a pc no block has.
"""
import numpy as np

from .llvmconst import c64

M64 = (1 << 64) - 1
HASH_MULTIPLIER = 0x9E3779B97F4A7C15
HASH_SHIFT = 32
INITIAL_SLOTS = 1 << 18          # 8 MiB: a Linux boot translates ~75,000 blocks
TOMBSTONE_PC = M64                 # odd: never a block's pc
TOMBSTONE_FN = 1


def slot_hash(pc: int, offset: int) -> int:
    """Must equal the dispatcher's: ((pc * M mod 2^64 ^ offset) * M mod 2^64) >> HASH_SHIFT
    (pc and offset often differ by a constant: mixing one before adding the other spreads them)."""
    return ((((pc * HASH_MULTIPLIER) & M64) ^ offset) * HASH_MULTIPLIER & M64) >> HASH_SHIFT


def slot_ir(pc: str, offset: str, mask: str, out: str) -> str:
    """LLVM IR setting %{out} to slot_hash(pc, offset) & mask (operands are IR values)."""
    m = c64(HASH_MULTIPLIER)
    return (f"  %{out}.a = mul i64 {pc}, {m}\n  %{out}.b = xor i64 %{out}.a, {offset}\n"
            f"  %{out}.c = mul i64 %{out}.b, {m}\n  %{out}.d = lshr i64 %{out}.c, {HASH_SHIFT}\n"
            f"  %{out} = and i64 %{out}.d, {mask}\n")


class BlockTable:
    def __init__(self, state, ram_base: int):
        self.state = state
        self.ram_base = ram_base
        self._make(INITIAL_SLOTS)

    def _make(self, slots: int):
        self.entries = np.zeros((slots, 4), dtype=np.uint64)
        self.words = memoryview(self.entries.reshape(-1))
        self.mask = slots - 1
        self.state.block_table = self.entries.ctypes.data
        self.state.block_mask = self.mask
        self.state.block_used = 0       # live entries and tombstones (native code adds too)

    @property
    def used(self) -> int:
        return self.state.block_used

    def _find(self, pc: int, offset: int) -> int | None:
        """The slot of a block's entry (probing as the dispatcher does), None if absent."""
        mask, words = self.mask, self.words
        slot = slot_hash(pc, offset) & mask
        while words[slot * 4 + 2]:
            if words[slot * 4] == pc and words[slot * 4 + 1] == offset:
                return slot
            slot = (slot + 1) & mask
        return None

    def add(self, pc: int, paddr: int, fn: int, data: int):
        """Enter a block the table does not hold (translated blocks are added once)."""
        if 2 * (self.used + 1) > self.mask + 1:
            self._rebuild()
        offset = (paddr - self.ram_base) & M64
        mask, words = self.mask, self.words
        slot = slot_hash(pc, offset) & mask
        while words[slot * 4 + 2]:
            slot = (slot + 1) & mask
        at = slot * 4
        words[at] = pc
        words[at + 1] = offset
        words[at + 2] = fn
        words[at + 3] = data
        self.state.block_used += 1

    def update(self, pc: int, paddr: int, fn: int, data: int):
        slot = self._find(pc, (paddr - self.ram_base) & M64)
        if slot is not None:
            self.words[slot * 4 + 2] = fn
            self.words[slot * 4 + 3] = data

    def remove(self, pc: int, paddr: int):
        slot = self._find(pc, (paddr - self.ram_base) & M64)
        if slot is not None:
            at = slot * 4
            self.words[at], self.words[at + 1], self.words[at + 2], self.words[at + 3] = \
                TOMBSTONE_PC, 0, TOMBSTONE_FN, 0

    def _rebuild(self):
        """Drop the tombstones, growing the table if live entries fill a quarter of it."""
        e = self.entries
        live = e[(e[:, 2] != 0) & (e[:, 0] != np.uint64(TOMBSTONE_PC))].tolist()
        slots = self.mask + 1
        while 4 * (len(live) + 1) > slots:
            slots *= 2
        self._make(slots)
        for pc, offset, fn, data in live:
            self.add(pc, (offset + self.ram_base) & M64, fn, data)
