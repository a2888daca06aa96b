"""Split virtqueues (virtio 1.x section 2.7): the descriptor table, the driver's available ring
and the device's used ring, with indirect descriptors and event-index interrupt suppression.

Every address and length the driver hands over is checked against guest RAM before use, and a
chain is walked with a hard bound on its length, so a broken or hostile driver can neither make
the host touch memory outside guest RAM nor loop forever. Any violation raises `VirtqueueError`;
the transport turns that into DEVICE_NEEDS_RESET (see transport.py).
"""
import struct

DESC = struct.Struct("<QIHH")          # addr, len, flags, next
DESC_SIZE = DESC.size                  # 16
F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4
AVAIL_F_NO_INTERRUPT = 1               # driver asks for no used-buffer interrupts (no event idx)
_RING_HEADER = 4                       # flags, idx (u16 each) before the ring entries
_USED_ELEM = struct.Struct("<II")      # id, len


class VirtqueueError(Exception):
    """The driver broke the ring or descriptor rules: the device must stop and ask for a reset."""


class Chain:
    """One request: the device-readable buffers, then the device-writable ones, as (paddr, len)."""
    __slots__ = ("head", "readable", "writable", "read_len", "write_len")

    def __init__(self, head: int):
        self.head = head
        self.readable: list[tuple[int, int]] = []
        self.writable: list[tuple[int, int]] = []
        self.read_len = self.write_len = 0

    def read(self, mem, offset: int = 0, length: int | None = None) -> bytes:
        """Bytes [offset, offset+length) of the readable buffers taken as one stream."""
        end = self.read_len if length is None else min(self.read_len, offset + length)
        out = bytearray()
        pos = 0
        for addr, n in self.readable:
            lo, hi = max(offset, pos), min(end, pos + n)
            if lo < hi:
                out += mem.read(addr + lo - pos, hi - lo)
            pos += n
            if pos >= end:
                break
        return bytes(out)

    def write(self, mem, offset: int, data: bytes) -> int:
        """Scatter data into the writable buffers from stream position offset; bytes written."""
        end = min(self.write_len, offset + len(data))
        pos = 0
        for addr, n in self.writable:
            lo, hi = max(offset, pos), min(end, pos + n)
            if lo < hi:
                mem.write(addr + lo - pos, data[lo - offset:hi - offset])
            pos += n
            if pos >= end:
                break
        return max(0, end - offset)


class Virtqueue:
    def __init__(self, mem, max_size: int):
        self.mem = mem
        self.max_size = max_size
        self.reset()

    def reset(self):
        self.size = self.max_size
        self.ready = False
        self.desc_addr = self.driver_addr = self.device_addr = 0
        self.last_avail = 0                 # next available-ring slot the device will take
        self.used_idx = 0
        self.signalled_used: int | None = None   # used idx at the last interrupt decision
        self.unsignalled = False            # buffers were used since that decision
        self.event_idx = False              # VIRTIO_F_EVENT_IDX negotiated

    # --- layout ----------------------------------------------------------------------------
    def check_layout(self):
        """Called when the driver sets QueueReady: the size and all three areas must be sane."""
        size = self.size
        if not 0 < size <= self.max_size or size & (size - 1):
            raise VirtqueueError(f"queue size {size} is not a power of two in 1..{self.max_size}")
        areas = (("descriptor table", self.desc_addr, DESC_SIZE * size),
                 ("available ring", self.driver_addr, _RING_HEADER + 2 * size + 2),
                 ("used ring", self.device_addr, _RING_HEADER + _USED_ELEM.size * size + 2))
        for what, addr, length in areas:
            if not self.mem.contains(addr, length):
                raise VirtqueueError(f"{what} at {addr:#x} (+{length:#x}) is outside guest RAM")

    # --- available ring ----------------------------------------------------------------------
    def avail_idx(self) -> int:
        return self.mem.u16(self.driver_addr + 2)

    def has_work(self) -> bool:
        return self.ready and self.avail_idx() != self.last_avail

    def pop(self) -> Chain | None:
        """The next request the driver made available, walked and checked; None if there is none."""
        if not self.ready:
            return None
        avail = self.avail_idx()
        if avail == self.last_avail:
            return None
        if (avail - self.last_avail) & 0xFFFF > self.size:
            raise VirtqueueError(f"available index jumped from {self.last_avail} to {avail}")
        head = self.mem.u16(self.driver_addr + _RING_HEADER + 2 * (self.last_avail % self.size))
        self.last_avail = (self.last_avail + 1) & 0xFFFF
        return self.walk(head)

    def walk(self, head: int) -> Chain:
        """Follow a descriptor chain from head, enforcing every rule that keeps the host safe."""
        mem = self.mem
        if head >= self.size:
            raise VirtqueueError(f"head descriptor {head} is out of range (queue size {self.size})")
        chain = Chain(head)
        table, limit, index = self.desc_addr, self.size, head
        indirect = False
        count = 0
        while True:
            addr, length, flags, nxt = mem.unpack(DESC, table + DESC_SIZE * index)
            if flags & F_INDIRECT:
                if indirect:
                    raise VirtqueueError("indirect descriptor inside an indirect table")
                if count or flags & F_NEXT:
                    raise VirtqueueError("indirect descriptor chained with others")
                if length == 0 or length % DESC_SIZE:
                    raise VirtqueueError(f"indirect table length {length} is not a multiple of {DESC_SIZE}")
                if not mem.contains(addr, length):
                    raise VirtqueueError(f"indirect table at {addr:#x} (+{length:#x}) is outside guest RAM")
                table, limit, index, indirect = addr, length // DESC_SIZE, 0, True
                continue
            count += 1
            if count > limit:
                raise VirtqueueError(f"descriptor chain from {head} is longer than {limit} (a loop?)")
            if length == 0:
                raise VirtqueueError(f"zero-length buffer in the chain from {head}")
            if not mem.contains(addr, length):
                raise VirtqueueError(f"buffer at {addr:#x} (+{length:#x}) is outside guest RAM")
            if flags & F_WRITE:
                chain.writable.append((addr, length))
                chain.write_len += length
            elif chain.writable:
                raise VirtqueueError(f"device-readable buffer after a writable one in the chain from {head}")
            else:
                chain.readable.append((addr, length))
                chain.read_len += length
            if not flags & F_NEXT:
                return chain
            if nxt >= limit:
                raise VirtqueueError(f"next descriptor {nxt} is out of range ({limit} in the table)")
            index = nxt

    # --- used ring ---------------------------------------------------------------------------
    def push(self, head: int, written: int):
        """Hand a finished request back: `written` bytes were stored into its writable buffers."""
        slot = self.device_addr + _RING_HEADER + _USED_ELEM.size * (self.used_idx % self.size)
        self.mem.write(slot, _USED_ELEM.pack(head, written))
        self.used_idx = (self.used_idx + 1) & 0xFFFF
        self.mem.write_u16(self.device_addr + 2, self.used_idx)
        self.unsignalled = True

    def publish_avail_event(self):
        """With event idx: ask the driver to notify again once it adds past what was taken."""
        if self.event_idx and self.ready:
            self.mem.write_u16(self.device_addr + _RING_HEADER + _USED_ELEM.size * self.size, self.last_avail)

    def should_interrupt(self) -> bool:
        """After pushing: does the driver want an interrupt for the buffers used since the last one?"""
        if not self.unsignalled:
            return False
        self.unsignalled = False
        new, old = self.used_idx, self.signalled_used
        self.signalled_used = new
        if not self.event_idx:
            return not self.mem.u16(self.driver_addr) & AVAIL_F_NO_INTERRUPT
        if old is None:
            return True
        used_event = self.mem.u16(self.driver_addr + _RING_HEADER + 2 * self.size)
        # virtio 1.x 2.7.10: interrupt iff used_event lies in [old, new)
        return (new - used_event - 1) & 0xFFFF < (new - old) & 0xFFFF
