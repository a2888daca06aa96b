"""16550A UART (minimal for now): transmit goes to the console, the line is always ready."""
from .bus import Device

THR, LSR = 0, 5
LSR_THRE_TEMT = 0x60


class Uart16550(Device):
    name = "uart"

    def __init__(self, machine):
        self.machine = machine
        self.regs = bytearray(8)

    def read(self, offset, size):
        if offset == LSR:
            return LSR_THRE_TEMT
        if offset == THR:
            return 0
        return self.regs[offset] if offset < 8 else 0

    def write(self, offset, size, value):
        if offset == THR and not self.regs[3] & 0x80:     # not DLAB: a byte to send
            self.machine.console_write(bytes([value & 0xFF]))
        elif offset < 8:
            self.regs[offset] = value & 0xFF
