"""The `virt` board (compatible with QEMU's): one memory-map table, devices wired to the PLIC."""
from ..machine import Machine
from .clint import Clint
from .plic import Plic
from .rom import ROM_BASE, ROM_SIZE, Rom
from .rtc import GoldfishRtc
from .syscon import TestDevice
from .uart import Uart16550
from .virtio import ConsoleDevice, GuestMemory, VirtioMmio, make_devices

ISA_STRING = "rv64imafdc_zicsr_zifencei_zba_zbb_zbs"
SSTC = "_sstc"          # appended when the board implements Sstc (VirtBoard(sstc=True))

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
    def __init__(self, mem_size: int = 128 << 20, console=None, virtio=(), sstc: bool = False):
        """`virtio`: what goes into the virtio-mmio slots, in order (virtio.plan_slots). `sstc`:
        the hart implements Sstc (stimecmp), and the device tree says so."""
        self.virtio_plan = list(virtio)
        super().__init__(mem_size, console)
        self.hart.sstc = sstc

    @property
    def isa_string(self) -> str:
        return ISA_STRING + (SSTC if self.hart.sstc else "")

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
        self.uart.serve_natively(hart.mem.native_uart_words(base))
        self.pollers.append(self.uart)
        base, size, irq = MEMORY_MAP["rtc"]
        self.rtc = bus.add(base, size, GoldfishRtc(irq=self.plic.irq_line(irq)))
        self.pollers.append(self.rtc)
        base, size, irq = MEMORY_MAP["virtio"]
        mem = GuestMemory(self.ram, hart.mem.write_physical)
        devices = make_devices(self.virtio_plan, self.wakeup, self.console_write)
        devices += [None] * (VIRTIO_SLOTS - len(devices))
        self.virtio = []
        for n, device in enumerate(devices):
            transport = VirtioMmio(base + n * size, mem, self.plic.irq_line(irq + n), device)
            self.virtio.append(bus.add(base + n * size, size, transport))
            if device is not None:
                self.pollers.append(transport)
        self.virtio_console = next((d for d in devices if isinstance(d, ConsoleDevice)), None)

    def receive_input(self, data: bytes):
        """Keys typed on the terminal (any thread). They go to the UART until the guest has
        written to the virtio console, then to the virtio console: the console the guest talks
        on is the one it listens on (`console=hvc0` or `console=ttyS0`)."""
        hvc = self.virtio_console
        if hvc is not None and hvc.guest_wrote:
            hvc.receive(data)
        else:
            self.uart.receive(data)

    def close(self):
        """Finish the devices' host work: queued disk writes reach the images, which are synced,
        closed and unlocked. Safe to call more than once."""
        for transport in getattr(self, "virtio", ()):
            transport.close()

    def set_reset_vector(self, data: bytes):
        self.rom.data = bytes(data).ljust(ROM_SIZE, b"\0")
        self.hart.state.pc = ROM_BASE
