"""virtio-console (device ID 3, virtio 1.x section 5.3): a single console port, no MULTIPORT.

Linux makes it `hvc0`. Output goes to the same terminal as the UART's; input comes from the same
terminal reader (see VirtBoard.receive_input for which device gets typed keys).

Threading: `receive()` may be called from any thread; it only queues bytes under a lock and sets
the wakeup event. The bytes reach the guest's receive buffers on the CPU thread, in `poll()` or
when the driver posts new buffers.
"""
import struct
import threading

from .device import VirtioDevice

RECEIVEQ, TRANSMITQ = 0, 1
QUEUE_SIZE = 128
MAX_OUTPUT = 1 << 20                   # bytes taken from one transmit request (bounds host memory)
CONFIG = struct.Struct("<HHII")        # cols, rows, max_nr_ports, emerg_wr


class ConsoleDevice(VirtioDevice):
    device_id = 3
    name = "virtio-console"
    queue_sizes = (QUEUE_SIZE, QUEUE_SIZE)

    def __init__(self, output, wakeup):
        """`output(bytes)`: the terminal (machine.console_write); `wakeup`: the machine's event."""
        super().__init__()
        self.output = output
        self.wakeup = wakeup
        self._lock = threading.Lock()
        self._input = bytearray()            # guarded by _lock
        self._input_waiting = False
        self.guest_wrote = False             # the guest has used this console for output

    def config(self) -> bytes:
        return CONFIG.pack(0, 0, 1, 0)

    # --- any thread -------------------------------------------------------------------------------
    def receive(self, data: bytes):
        if not data:
            return
        with self._lock:
            self._input += data
            self._input_waiting = True
        self.wakeup.set()

    # --- CPU thread -------------------------------------------------------------------------------
    def notified(self, index: int):
        if index == TRANSMITQ:
            self._transmit()
        elif self._input_waiting:
            self._deliver()

    def wants_poll(self) -> bool:
        return self._input_waiting

    def poll(self):
        self._deliver()

    def _transmit(self):
        queue, mem = self.transport.queues[TRANSMITQ], self.transport.mem
        while (chain := queue.pop()) is not None:
            data = chain.read(mem, 0, MAX_OUTPUT)
            if data:
                self.guest_wrote = True
                self.output(data)
            queue.push(chain.head, 0)
        self.transport.used(queue)

    def _deliver(self):
        """Fill the guest's receive buffers with waiting input, as far as both go."""
        queue, mem = self.transport.queues[RECEIVEQ], self.transport.mem
        while queue.has_work():
            chain = queue.pop()
            with self._lock:
                data = bytes(self._input[:chain.write_len])
            n = chain.write(mem, 0, data)
            with self._lock:
                del self._input[:n]
                self._input_waiting = bool(self._input)
            queue.push(chain.head, n)
            if not self._input_waiting:
                break
        self.transport.used(queue)
