"""virtio-rng (device ID 4, virtio 1.x section 5.4): fills the driver's buffers from os.urandom."""
import os

from .device import VirtioDevice

QUEUE_SIZE = 64
MAX_BYTES = 64 << 10                   # per request; the device may return fewer than asked


class RngDevice(VirtioDevice):
    device_id = 4
    name = "virtio-rng"
    queue_sizes = (QUEUE_SIZE,)

    def notified(self, index: int):
        queue, mem = self.transport.queues[0], self.transport.mem
        while (chain := queue.pop()) is not None:
            length = min(chain.write_len, MAX_BYTES)
            written = chain.write(mem, 0, os.urandom(length)) if length else 0
            queue.push(chain.head, written)
        self.transport.used(queue)
