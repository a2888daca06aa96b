"""HTIF, the host-target interface of bare-metal test programs: a mailbox at `tohost` in RAM.

dev 0 with an odd payload ends the run with status payload >> 1; dev 1 cmd 1 prints a byte.
"""
import sys

PAYLOAD_MASK = (1 << 48) - 1


class Htif:
    def __init__(self, machine, tohost: int, fromhost: int | None):
        self.machine = machine
        self.ram = machine.ram
        self.tohost, self.fromhost = tohost, fromhost
        machine.hart.mem.watch(tohost >> 12, self.on_store)

    def on_store(self, paddr, size, value):
        # Act once the whole 64-bit word is written: one sd, or the high half of two sw stores.
        if not (paddr <= self.tohost + 4 < paddr + size):
            return
        word = self.ram.load(self.tohost, 8)
        if word == 0:
            return
        dev, cmd, payload = word >> 56, (word >> 48) & 0xFF, word & PAYLOAD_MASK
        if dev == 0 and payload & 1:
            self.machine.halt(payload >> 1)
        elif dev == 1 and cmd == 1:
            self.machine.console_write(bytes([payload & 0xFF]))
            self._respond(dev, cmd, 0x100 | (payload & 0xFF))
        else:
            print(f"rvjit: unsupported HTIF request dev={dev} cmd={cmd} payload={payload:#x}", file=sys.stderr)
            self._respond(dev, cmd, 0)

    def _respond(self, dev, cmd, response):
        self.ram.store(self.tohost, 0, 8)
        if self.fromhost is not None:
            self.ram.store(self.fromhost, (dev << 56) | (cmd << 48) | response, 8)
