"""The `virt` board (compatible with QEMU's): one memory-map table, devices wired to the PLIC."""
from ..machine import Machine
from .clint import Clint
from .plic import Plic
from .rom import ROM_BASE, ROM_SIZE, Rom
from .rtc import GoldfishRtc
from .syscon import TestDevice
from .uart import Uart16550
from .virtio_mmio import EmptyVirtioSlot

ISA_STRING = "rv64imafdc_zicsr_zifencei_zba_zbb_zbs"

# name: (base, size, PLIC source or None)
MEMORY_MAP = {
    "test": (0x100000, 0x1000, None),
    "rtc": (0x101000, 0x1000, 11),
    "clint": (0x2000000, 0x10000, None),
    "plic": (0xC000000, 0x600000, None),
    "uart": (0x10000000, 0x100, 10),
    "virtio": (0x10001000, 0x1000, 1),      # 8 transports, 0x1000 apart, IRQs 1..8
}
VIRTIO_SLOTS = 8


class VirtBoard(Machine):
    def add_devices(self):
        bus, hart = self.bus, self.hart
        self.rom = bus.add(ROM_BASE, ROM_SIZE, Rom(b""))
        base, size, _ = MEMORY_MAP["test"]
        bus.add(base, size, TestDevice(self))
        base, size, _ = MEMORY_MAP["clint"]
        self.clint = bus.add(base, size, Clint(hart))
        base, size, _ = MEMORY_MAP["plic"]
        self.plic = bus.add(base, size, Plic(hart, self.wakeup.set))
        base, size, irq = MEMORY_MAP["uart"]
        self.uart = bus.add(base, size, Uart16550(self, irq=self.plic.irq_line(irq)))
        self.pollers.append(self.uart)
        base, size, irq = MEMORY_MAP["rtc"]
        self.rtc = bus.add(base, size, GoldfishRtc(irq=self.plic.irq_line(irq)))
        self.pollers.append(self.rtc)
        base, size, _ = MEMORY_MAP["virtio"]
        self.virtio = [bus.add(base + n * size, size, EmptyVirtioSlot()) for n in range(VIRTIO_SLOTS)]

    def set_reset_vector(self, data: bytes):
        self.rom.data = bytes(data).ljust(ROM_SIZE, b"\0")
        self.hart.state.pc = ROM_BASE
