"""The physical address space: guest RAM plus memory-mapped devices, built from one table."""
import struct

import numpy as np

# Little-endian unsigned words by size: the slow memory path and page walks load and store
# through these (a fraction of numpy slicing's cost per access).
_WORDS = {1: struct.Struct("<B"), 2: struct.Struct("<H"), 4: struct.Struct("<I"), 8: struct.Struct("<Q")}


class Ram:
    """Guest RAM: one contiguous host buffer. Generated code reaches it by offset, never by address."""

    def __init__(self, base: int, size: int):
        self.base, self.size = base, size
        self.buf = np.zeros(size, dtype=np.uint8)
        self.host_address = self.buf.ctypes.data
        self.view = memoryview(self.buf)

    def contains(self, paddr: int, size: int = 1) -> bool:
        return self.base <= paddr and paddr + size <= self.base + self.size

    def write(self, paddr: int, data: bytes):
        off = paddr - self.base
        self.buf[off:off + len(data)] = np.frombuffer(bytes(data), dtype=np.uint8)

    def read(self, paddr: int, n: int) -> bytes:
        off = paddr - self.base
        return self.buf[off:off + n].tobytes()

    def load(self, paddr: int, size: int) -> int:
        word = _WORDS.get(size)
        if word is None:
            return int.from_bytes(self.read(paddr, size), "little")
        return word.unpack_from(self.view, paddr - self.base)[0]

    def store(self, paddr: int, value: int, size: int):
        word = _WORDS.get(size)
        if word is None:
            self.write(paddr, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))
        else:
            word.pack_into(self.view, paddr - self.base, value & ((1 << (8 * size)) - 1))


class Device:
    """A memory-mapped device: byte offset reads and writes of 1, 2, 4 or 8 bytes."""
    name = "device"

    def read(self, offset: int, size: int) -> int:
        return 0

    def write(self, offset: int, size: int, value: int):
        pass


class Bus:
    def __init__(self, ram: Ram):
        self.ram = ram
        self.regions: list[tuple[int, int, Device]] = []

    def add(self, base: int, size: int, device: Device):
        for b, s, d in self.regions:
            if base < b + s and b < base + size:
                raise ValueError(f"{device.name} at {base:#x} overlaps {d.name} at {b:#x}")
        self.regions.append((base, size, device))
        return device

    def find(self, paddr: int, size: int):
        """The device covering [paddr, paddr+size) and the offset into it, or None."""
        for base, length, dev in self.regions:
            if base <= paddr and paddr + size <= base + length:
                return dev, paddr - base
        return None
