"""Memory for threaded blocks' records: slots carved out of large buffers, reused by size.

A block's header and records are written straight into their slot (no array object per block,
whose address would cost a ctypes round trip to learn), and a dropped block's slot serves the
next block of the same length. The bump cursor (next free byte and end of the current buffer)
lives in two u64 words native code shares: the native block translator (backend.nativeblock)
carves slots from the same buffer.
"""
import numpy as np

from .handlergen import RECORD

CHUNK_BYTES = 1 << 22


class RecordArena:
    def __init__(self, cursor: memoryview | None = None, next_at: int = 0, end_at: int = 1):
        """cursor: u64 words holding the next free address (cursor[next_at]) and the end of the
        current buffer (cursor[end_at]); a private pair when None."""
        self._chunks: list[np.ndarray] = []      # kept alive: generated code reads them
        self._views: list[memoryview] = []
        self._addresses: list[int] = []
        self._cursor = cursor if cursor is not None else memoryview(np.zeros(2, dtype=np.uint64))
        self._next_at, self._end_at = next_at, end_at
        self._cursor[next_at] = self._cursor[end_at] = 0          # no buffer yet
        self._free: dict[int, list[tuple[int, int]]] = {}   # slot size -> [(chunk, offset)]

    def alloc(self, records: int) -> tuple[memoryview, int, int, tuple]:
        """A slot for `records` records: (buffer, offset in it, host address, handle for free)."""
        size = records * RECORD.itemsize
        free = self._free.get(size)
        if free:
            chunk, offset = free.pop()
        else:
            self.keep_room(size)
            cursor = self._cursor
            address = cursor[self._next_at]
            cursor[self._next_at] = address + size
            chunk = len(self._chunks) - 1
            offset = address - self._addresses[chunk]
        return self._views[chunk], offset, self._addresses[chunk] + offset, (size, chunk, offset)

    def keep_room(self, size: int):
        """Start a new buffer unless the current one has `size` bytes left: native code carves
        slots only from the current buffer, and Python's own allocations may all be served from
        freed slots, which would leave an exhausted buffer in place for good."""
        cursor = self._cursor
        if cursor[self._next_at] + size > cursor[self._end_at]:
            buf = np.zeros(max(CHUNK_BYTES, size), dtype=np.uint8)
            self._chunks.append(buf)
            self._views.append(memoryview(buf))
            self._addresses.append(buf.ctypes.data)
            cursor[self._next_at] = buf.ctypes.data
            cursor[self._end_at] = buf.ctypes.data + buf.nbytes

    def handle_of(self, address: int, records: int) -> tuple:
        """The handle of a slot native code carved from the current buffer."""
        chunk = len(self._chunks) - 1
        return records * RECORD.itemsize, chunk, address - self._addresses[chunk]

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
