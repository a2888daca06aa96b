"""What a virtio device may touch: guest RAM only, by guest physical address, bounds-checked.

Reads come straight from the RAM buffer; writes go through the hart's memory port
(`MemoryPort.write_physical`) so translated code on the written pages is dropped. Nothing here
ever forms a host pointer from a guest value: every access is an offset into `ram.buf`.
"""
import struct

_U16, _U32 = struct.Struct("<H"), struct.Struct("<I")


class OutsideRam(ValueError):
    """A device access would leave guest RAM (the driver handed over a bad address)."""


class GuestMemory:
    def __init__(self, ram, write_physical=None):
        """`write_physical(paddr, data)`: the DMA write path (invalidates code); default: plain RAM."""
        self.ram = ram
        self.base, self.size = ram.base, ram.size
        self.view = memoryview(ram.buf).cast("B")
        self._write = write_physical if write_physical is not None else ram.write

    def contains(self, paddr: int, length: int) -> bool:
        return length >= 0 and self.base <= paddr and paddr + length <= self.base + self.size

    def _offset(self, paddr: int, length: int) -> int:
        if not self.contains(paddr, length):
            raise OutsideRam(f"{length} bytes at {paddr:#x} are outside guest RAM")
        return paddr - self.base

    def read(self, paddr: int, length: int) -> bytes:
        off = self._offset(paddr, length)
        return bytes(self.view[off:off + length])

    def unpack(self, layout: struct.Struct, paddr: int) -> tuple:
        return layout.unpack_from(self.view, self._offset(paddr, layout.size))

    def u16(self, paddr: int) -> int:
        return self.unpack(_U16, paddr)[0]

    def write(self, paddr: int, data: bytes):
        self._offset(paddr, len(data))
        self._write(paddr, data)

    def write_u16(self, paddr: int, value: int):
        self.write(paddr, _U16.pack(value & 0xFFFF))

    def write_u32(self, paddr: int, value: int):
        self.write(paddr, _U32.pack(value & 0xFFFFFFFF))
