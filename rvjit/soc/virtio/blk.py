"""virtio-blk (device ID 2, virtio 1.x section 5.2) backed by a raw image file.

A request is a 16-byte header (type, reserved, sector) the device reads, data, and one status
byte the device writes last. The CPU thread parses requests when the driver notifies, copies
write data out of guest RAM and hands the file work to the drive's worker thread; reads come back
as bytes that the CPU thread copies into guest RAM when it finishes the request in `poll()`.

Errors in a request itself (past the end of the disk, a write to a read-only drive, a host I/O
error, an unknown type) fail that request with IOERR or UNSUPP; a request missing its header or
status byte breaks the ring rules and stops the device (see transport.py).
"""
import struct

from .device import VirtioDevice
from .drives import SECTOR
from .virtqueue import VirtqueueError
from .worker import IoWorker

T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WRITE_ZEROES = 0, 1, 4, 8, 11, 13
S_OK, S_IOERR, S_UNSUPP = 0, 1, 2

F_SEG_MAX, F_RO, F_BLK_SIZE, F_FLUSH = 1 << 2, 1 << 5, 1 << 6, 1 << 9
F_DISCARD, F_WRITE_ZEROES = 1 << 13, 1 << 14

QUEUE_SIZE = 256
SEG_MAX = QUEUE_SIZE - 2                 # data buffers per request (header and status need two)
MAX_DATA = 32 << 20                      # bytes in one read or write: bounds host memory per request
MAX_ZERO_SECTORS = 1 << 22               # per discard / write-zeroes segment (2 GiB)
ID_BYTES = 20
WRITE_ZEROES_MAY_UNMAP = 1

HEADER = struct.Struct("<IIQ")
SEGMENT = struct.Struct("<QII")          # sector, number of sectors, flags
CONFIG = struct.Struct("<QII HBB I BBHI BBH III II B3x")   # struct virtio_blk_config, 60 bytes


class BlockDevice(VirtioDevice):
    device_id = 2
    name = "virtio-blk"
    queue_sizes = (QUEUE_SIZE,)

    def __init__(self, drive, wakeup):
        super().__init__()
        self.drive = drive
        self.worker = IoWorker(f"virtio-blk {drive.path}", wakeup)

    def features(self) -> int:
        offered = F_SEG_MAX | F_BLK_SIZE | F_FLUSH
        if self.drive.readonly:
            return offered | F_RO
        offered |= F_WRITE_ZEROES          # holes where the file system can punch them, else zeros
        return offered | F_DISCARD if self.drive.can_punch else offered

    def config(self) -> bytes:
        return CONFIG.pack(
            self.drive.sectors, 0, SEG_MAX,
            0, 0, 0,                                  # geometry (not offered)
            SECTOR,                                   # blk_size
            0, 0, 0, 0,                               # topology (not offered)
            0, 0, 1,                                  # writeback, unused, num_queues
            MAX_ZERO_SECTORS, 1, 1,                   # discard: sectors, segments, alignment
            MAX_ZERO_SECTORS, 1, int(self.drive.can_punch))

    # --- requests --------------------------------------------------------------------------------
    def notified(self, index: int):
        queue = self.transport.queues[0]
        while (chain := queue.pop()) is not None:
            self._start(chain)
        self.transport.used(queue)

    def wants_poll(self) -> bool:
        return self.worker.has_finished()

    def poll(self):
        self.worker.finish()
        self.transport.used(self.transport.queues[0])

    def _start(self, chain):
        if chain.read_len < HEADER.size or chain.write_len < 1:
            raise VirtqueueError("virtio-blk request without its header or status byte")
        kind, _, sector = HEADER.unpack(chain.read(self.transport.mem, 0, HEADER.size))
        out_len, in_len = chain.read_len - HEADER.size, chain.write_len - 1
        drive = self.drive
        offset = sector * SECTOR
        if kind == T_IN:
            if not self._fits(sector, in_len):
                return self._finish(chain, S_IOERR)
            self._submit(chain, lambda: drive.read(offset, in_len))
        elif kind == T_OUT:
            if drive.readonly or not self._fits(sector, out_len):
                return self._finish(chain, S_IOERR)
            data = chain.read(self.transport.mem, HEADER.size, out_len)
            self._submit(chain, lambda: drive.write(offset, data))
        elif kind == T_FLUSH:
            self._submit(chain, drive.flush)
        elif kind == T_GET_ID:
            serial = drive.serial.encode()[:ID_BYTES].ljust(ID_BYTES, b"\0")
            self._finish(chain, S_OK, serial[:in_len])
        elif kind in (T_DISCARD, T_WRITE_ZEROES):
            self._start_zeroing(chain, kind, out_len)
        else:
            self._finish(chain, S_UNSUPP)

    def _start_zeroing(self, chain, kind, out_len):
        drive = self.drive
        if kind == T_DISCARD and not drive.can_punch:
            return self._finish(chain, S_UNSUPP)
        if drive.readonly or out_len == 0 or out_len % SEGMENT.size or out_len > SEGMENT.size * SEG_MAX:
            return self._finish(chain, S_IOERR)
        data = chain.read(self.transport.mem, HEADER.size, out_len)
        ranges = []
        for sector, count, flags in SEGMENT.iter_unpack(data):
            if count > MAX_ZERO_SECTORS or sector + count > drive.sectors:
                return self._finish(chain, S_IOERR)
            if flags & ~WRITE_ZEROES_MAY_UNMAP or (kind == T_DISCARD and flags):
                return self._finish(chain, S_UNSUPP)
            ranges.append((sector * SECTOR, count * SECTOR))
        action = drive.discard if kind == T_DISCARD else drive.write_zeroes

        def job():
            for offset, length in ranges:
                action(offset, length)
        self._submit(chain, job)

    def _fits(self, sector: int, length: int) -> bool:
        return length % SECTOR == 0 and length <= MAX_DATA and sector + length // SECTOR <= self.drive.sectors

    def _submit(self, chain, job):
        transport, generation = self.transport, self.transport.generation

        def done(result):
            if transport.generation != generation or not transport.running or not transport.queues[0].ready:
                return                       # the driver reset the device (or its queue) meanwhile
            if isinstance(result, OSError):
                self._finish(chain, S_IOERR)
            else:
                self._finish(chain, S_OK, result if isinstance(result, bytes) else b"")
        self.worker.submit(job, done)

    def _finish(self, chain, status: int, data: bytes = b""):
        mem = self.transport.mem
        written = chain.write(mem, 0, data) if data else 0
        chain.write(mem, chain.write_len - 1, bytes([status]))
        self.transport.queues[0].push(chain.head, written + 1)

    def close(self):
        self.worker.close()
        self.drive.close()
