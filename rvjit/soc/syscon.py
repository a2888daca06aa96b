"""The SiFive test device (syscon) at 0x100000: guests write here to power off or report failure."""
from .bus import Device

POWER_OFF, FAIL, RESET = 0x5555, 0x3333, 0x7777


class TestDevice(Device):
    name = "test"

    def __init__(self, machine):
        self.machine = machine

    def write(self, offset, size, value):
        if offset != 0:
            return
        code = value & 0xFFFF
        if code == POWER_OFF:
            self.machine.halt(0)
        elif code == FAIL:
            self.machine.halt((value >> 16) & 0xFFFF)
        elif code == RESET:
            self.machine.reset_request()
