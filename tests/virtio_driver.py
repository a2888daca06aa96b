"""A small virtio driver for tests: sets a transport up through its registers, as Linux does,
and builds split rings and descriptor chains in a real guest `Ram`."""
import struct
import threading
import time

from rvjit.soc.bus import Ram
from rvjit.soc.virtio import GuestMemory, VirtioMmio
from rvjit.soc.virtio import transport as T
from rvjit.soc.virtio.virtqueue import F_INDIRECT, F_NEXT, F_WRITE

RAM_BASE = 0x8000_0000
DESC = struct.Struct("<QIHH")


class Queue:
    def __init__(self, driver, index, size, desc, avail, used):
        self.driver, self.index, self.size = driver, index, size
        self.desc, self.avail, self.used = desc, avail, used
        self.avail_idx = 0
        self.used_seen = 0
        self.next_desc = 0

    def set_desc(self, i, addr, length, flags=0, nxt=0, table=None):
        base = self.desc if table is None else table
        self.driver.ram.write(base + 16 * i, DESC.pack(addr, length, flags, nxt))

    def chain(self, buffers, indirect=False):
        """buffers: list of (bytes to read) or (int: writable length). Returns (head, [addr...])."""
        addrs, descs = [], []
        for b in buffers:
            if isinstance(b, int):
                addr = self.driver.alloc(b)
                descs.append((addr, b, F_WRITE))
            else:
                addr = self.driver.alloc(len(b))
                self.driver.ram.write(addr, b)
                descs.append((addr, len(b), 0))
            addrs.append(addr)
        if indirect:
            table = self.driver.alloc(16 * len(descs))
            for i, (addr, length, flags) in enumerate(descs):
                last = i == len(descs) - 1
                self.set_desc(i, addr, length, flags | (0 if last else F_NEXT), i + 1, table=table)
            head = self.take(1)[0]
            self.set_desc(head, table, 16 * len(descs), F_INDIRECT)
            return head, addrs
        ids = self.take(len(descs))
        for k, (addr, length, flags) in enumerate(descs):
            last = k == len(descs) - 1
            self.set_desc(ids[k], addr, length, flags | (0 if last else F_NEXT), 0 if last else ids[k + 1])
        return ids[0], addrs

    def take(self, n):
        ids = [(self.next_desc + k) % self.size for k in range(n)]
        self.next_desc = (self.next_desc + n) % self.size
        return ids

    def submit(self, head, notify=True):
        ram = self.driver.ram
        ram.store(self.avail + 4 + 2 * (self.avail_idx % self.size), head, 2)
        self.avail_idx = (self.avail_idx + 1) & 0xFFFF
        ram.store(self.avail + 2, self.avail_idx, 2)
        if notify:
            self.driver.wr(T.QUEUE_NOTIFY, self.index)

    def used_idx(self):
        return self.driver.ram.load(self.used + 2, 2)

    def take_used(self):
        """New used elements (id, len) since the last call."""
        out = []
        while self.used_seen != self.used_idx():
            slot = self.used + 4 + 8 * (self.used_seen % self.size)
            out.append(struct.unpack("<II", self.driver.ram.read(slot, 8)))
            self.used_seen = (self.used_seen + 1) & 0xFFFF
        return out

    def set_used_event(self, value):
        self.driver.ram.store(self.avail + 4 + 2 * self.size, value, 2)

    def avail_event(self):
        return self.driver.ram.load(self.used + 4 + 8 * self.size, 2)


class Driver:
    def __init__(self, device=None, ram_size=1 << 20, write_physical=None, wakeup=None):
        self.ram = Ram(RAM_BASE, ram_size)
        self.mem = GuestMemory(self.ram, write_physical)
        self.levels = []
        self.line = False
        self.wakeup = wakeup if wakeup is not None else threading.Event()
        self.t = VirtioMmio(0x1000_1000, self.mem, self._irq, device)
        self.next_free = RAM_BASE + 0x1000
        self.queues = {}

    def _irq(self, level):
        self.levels.append(level)
        self.line = level

    def rd(self, offset, size=4):
        return self.t.read(offset, size)

    def wr(self, offset, value, size=4):
        self.t.write(offset, size, value)

    def alloc(self, n, align=16):
        addr = (self.next_free + align - 1) & ~(align - 1)
        self.next_free = addr + n
        assert self.ram.contains(addr, n)
        return addr

    def device_features(self):
        self.wr(T.DEVICE_FEATURES_SEL, 0)
        low = self.rd(T.DEVICE_FEATURES)
        self.wr(T.DEVICE_FEATURES_SEL, 1)
        return low | self.rd(T.DEVICE_FEATURES) << 32

    def negotiate(self, features=None):
        """ACKNOWLEDGE, DRIVER, features, FEATURES_OK; returns whether the device kept FEATURES_OK."""
        self.wr(T.STATUS, T.ACKNOWLEDGE)
        self.wr(T.STATUS, T.ACKNOWLEDGE | T.DRIVER)
        if features is None:
            features = self.device_features()
        for sel in (0, 1):
            self.wr(T.DRIVER_FEATURES_SEL, sel)
            self.wr(T.DRIVER_FEATURES, (features >> (32 * sel)) & 0xFFFFFFFF)
        self.wr(T.STATUS, T.ACKNOWLEDGE | T.DRIVER | T.FEATURES_OK)
        return bool(self.rd(T.STATUS) & T.FEATURES_OK)

    def setup_queue(self, index, size=8, desc=None, avail=None, used=None):
        self.wr(T.QUEUE_SEL, index)
        assert self.rd(T.QUEUE_NUM_MAX) >= size
        self.wr(T.QUEUE_NUM, size)
        desc = self.alloc(16 * size) if desc is None else desc
        avail = self.alloc(6 + 2 * size, 2) if avail is None else avail
        used = self.alloc(6 + 8 * size, 4) if used is None else used
        for reg, addr in ((T.QUEUE_DESC_LOW, desc), (T.QUEUE_DRIVER_LOW, avail), (T.QUEUE_DEVICE_LOW, used)):
            self.wr(reg, addr & 0xFFFFFFFF)
            self.wr(reg + 4, addr >> 32)
        self.wr(T.QUEUE_READY, 1)
        q = self.queues[index] = Queue(self, index, size, desc, avail, used)
        return q

    def start(self, features=None, queue_size=8):
        assert self.negotiate(features)
        qs = [self.setup_queue(i, min(queue_size, q.max_size)) for i, q in enumerate(self.t.queues)]
        self.wr(T.STATUS, self.rd(T.STATUS) | T.DRIVER_OK)
        return qs

    def ack(self):
        status = self.rd(T.INTERRUPT_STATUS)
        self.wr(T.INTERRUPT_ACK, status)
        return status

    def wait_used(self, q, count=1, timeout=10.0):
        """Poll the transport (as the run loop does) until `count` requests came back."""
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < count:
            self.t.poll()
            got += q.take_used()
            if len(got) >= count:
                break
            assert time.monotonic() < deadline, f"only {len(got)} of {count} requests came back"
            self.wakeup.wait(0.01)
            self.wakeup.clear()
        return got
