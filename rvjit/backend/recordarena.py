"""Memory for threaded blocks' records: slots carved out of large buffers, reused by size.

A block's header and records are written straight into their slot (no array object per block,
whose address would cost a ctypes round trip to learn), and a dropped block's slot serves the
next block of the same length.
"""
import numpy as np

from .handlergen import RECORD

CHUNK_BYTES = 1 << 22


class RecordArena:
    def __init__(self):
        self._chunks: list[np.ndarray] = []      # kept alive: generated code reads them
        self._views: list[memoryview] = []
        self._addresses: list[int] = []
        self._used = CHUNK_BYTES                 # bytes used in the last chunk (none yet)
        self._free: dict[int, list[tuple[int, int]]] = {}   # slot size -> [(chunk, offset)]

    def alloc(self, records: int) -> tuple[memoryview, int, int, tuple]:
        """A slot for `records` records: (buffer, offset in it, host address, handle for free)."""
        size = records * RECORD.itemsize
        free = self._free.get(size)
        if free:
            chunk, offset = free.pop()
        else:
            if self._used + size > CHUNK_BYTES:
                buf = np.zeros(max(CHUNK_BYTES, size), dtype=np.uint8)
                self._chunks.append(buf)
                self._views.append(memoryview(buf))
                self._addresses.append(buf.ctypes.data)
                self._used = 0
            chunk, offset = len(self._chunks) - 1, self._used
            self._used += size
        return self._views[chunk], offset, self._addresses[chunk] + offset, (size, chunk, offset)

    def free(self, handle: tuple):
        """Give a slot back; only once no generated code can be running its block."""
        size, chunk, offset = handle
        self._free.setdefault(size, []).append((chunk, offset))

    def view(self, handle: tuple) -> np.ndarray:
        """The slot's header and records as an array (tests, explain)."""
        size, chunk, offset = handle
        return self._chunks[chunk][offset:offset + size].view(RECORD)

    @property
    def bytes_reserved(self) -> int:
        return sum(c.nbytes for c in self._chunks)
