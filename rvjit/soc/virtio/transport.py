"""The virtio-mmio transport, version 2 ("modern", virtio 1.x section 4.2).

One `VirtioMmio` per slot of the board; a slot without a device answers the magic value, the
version and device ID 0, which drivers skip. Registers are 32 bits wide; the device configuration
space starts at 0x100 and may be read with any access size.

Malformed rings and descriptor chains (see virtqueue.py) do not fail single requests: the device
stops, sets DEVICE_NEEDS_RESET in Status and raises a configuration-change interrupt (virtio 1.x
2.1.2), as QEMU does. It stays stopped (notifications and completions are ignored) until the
driver resets it by writing 0 to Status. The first such event of each device is logged on stderr.
"""
from .device import warn
from .guestmem import OutsideRam
from .virtqueue import Virtqueue, VirtqueueError
from ..bus import Device

MAGIC = 0x74726976          # "virt"
VERSION = 2
VENDOR_ID = 0x554D4551      # "QEMU", as on QEMU's virt board

# register offsets
MAGIC_VALUE, VERSION_REG, DEVICE_ID, VENDOR_ID_REG = 0x000, 0x004, 0x008, 0x00C
DEVICE_FEATURES, DEVICE_FEATURES_SEL = 0x010, 0x014
DRIVER_FEATURES, DRIVER_FEATURES_SEL = 0x020, 0x024
QUEUE_SEL, QUEUE_NUM_MAX, QUEUE_NUM, QUEUE_READY, QUEUE_NOTIFY = 0x030, 0x034, 0x038, 0x044, 0x050
INTERRUPT_STATUS, INTERRUPT_ACK, STATUS = 0x060, 0x064, 0x070
QUEUE_DESC_LOW, QUEUE_DESC_HIGH = 0x080, 0x084
QUEUE_DRIVER_LOW, QUEUE_DRIVER_HIGH = 0x090, 0x094
QUEUE_DEVICE_LOW, QUEUE_DEVICE_HIGH = 0x0A0, 0x0A4
SHM_SEL, SHM_LEN_LOW, SHM_LEN_HIGH, SHM_BASE_LOW, SHM_BASE_HIGH = 0x0AC, 0x0B0, 0x0B4, 0x0B8, 0x0BC
CONFIG_GENERATION = 0x0FC
CONFIG = 0x100

# device status bits
ACKNOWLEDGE, DRIVER, DRIVER_OK, FEATURES_OK = 1, 2, 4, 8
DEVICE_NEEDS_RESET, FAILED = 0x40, 0x80

# interrupt status bits
INT_USED_RING, INT_CONFIG = 1, 2

# feature bits every device here offers
F_INDIRECT_DESC, F_EVENT_IDX, F_VERSION_1 = 1 << 28, 1 << 29, 1 << 32
TRANSPORT_FEATURES = F_INDIRECT_DESC | F_EVENT_IDX | F_VERSION_1

_QUEUE_ADDRESSES = {QUEUE_DESC_LOW: "desc_addr", QUEUE_DRIVER_LOW: "driver_addr",
                    QUEUE_DEVICE_LOW: "device_addr"}


class VirtioMmio(Device):
    def __init__(self, base: int, mem=None, irq=None, device=None):
        """`mem`: GuestMemory; `irq`: callable(level) driving the PLIC line; `device`: a
        VirtioDevice, or None for an empty slot."""
        self.base = base
        self.mem = mem
        self.irq = irq or (lambda level: None)
        self.device = device
        self.name = f"{device.name if device else 'virtio-mmio (empty)'}@{base:#x}"
        self.queues = [Virtqueue(mem, n) for n in device.queue_sizes] if device else []
        self.config_generation = 0
        self.generation = 0          # bumped by every reset: completions of older ones are dropped
        self.warned = False
        self._irq_level = False
        if device is not None:
            device.attach(self)
        self._clear()

    def _clear(self):
        self.status = 0
        self.device_features_sel = self.driver_features_sel = 0
        self.driver_features = 0
        self.queue_sel = 0
        self.interrupt_status = 0
        self.broken = False
        for q in self.queues:
            q.reset()
        self._update_irq()

    # --- for devices ---------------------------------------------------------------------------
    @property
    def offered_features(self) -> int:
        return TRANSPORT_FEATURES | self.device.features() if self.device else 0

    @property
    def running(self) -> bool:
        """The driver finished setting up and the device is not stopped by an error."""
        return bool(self.status & DRIVER_OK) and not self.broken

    def used(self, queue: Virtqueue):
        """After a batch of requests was taken and finished: publish how far the device read the
        available ring, and interrupt if the driver asked for it."""
        queue.publish_avail_event()
        if queue.should_interrupt():
            self.interrupt(INT_USED_RING)

    def interrupt(self, bits: int):
        self.interrupt_status |= bits
        self._update_irq()

    def config_changed(self):
        self.config_generation = (self.config_generation + 1) & 0xFFFFFFFF
        if self.status & DRIVER_OK:
            self.interrupt(INT_CONFIG)

    def fail(self, reason: str):
        """The driver broke the rules: stop the device until it is reset."""
        if self.broken:
            return
        self.broken = True
        self.status |= DEVICE_NEEDS_RESET
        if not self.warned:
            self.warned = True
            warn(f"{self.name}: {reason}; device stopped until the guest resets it")
        if self.status & DRIVER_OK:
            self.interrupt(INT_CONFIG)

    def guarded(self, action, *args):
        """Run device work; a ring or descriptor violation stops the device instead of the host."""
        try:
            action(*args)
        except (VirtqueueError, OutsideRam) as e:
            self.fail(str(e))

    def poll(self):
        """The run loop calls this whenever it is in Python: keep the idle case cheap."""
        device = self.device
        if device is not None and device.wants_poll() and self.running:
            self.guarded(device.poll)

    def close(self):
        if self.device is not None:
            self.device.close()

    # --- internals -----------------------------------------------------------------------------
    def _update_irq(self):
        level = self.interrupt_status != 0
        if level != self._irq_level:
            self._irq_level = level
            self.irq(level)

    def _reset(self):
        self.generation += 1
        self._clear()
        self.device.reset()

    def _write_status(self, value: int):
        if value == 0:
            self._reset()
            return
        old = self.status
        value &= 0xFF
        if value & FEATURES_OK and not old & FEATURES_OK:
            # Refuse features the device never offered. A driver that leaves out VERSION_1 is
            # accepted anyway, as QEMU accepts it.
            if self.driver_features & ~self.offered_features:
                value &= ~FEATURES_OK
            else:
                for q in self.queues:
                    q.event_idx = bool(self.driver_features & F_EVENT_IDX)
        self.status = value | (old & DEVICE_NEEDS_RESET)
        if value & DRIVER_OK and not old & DRIVER_OK and not self.broken:
            self.device.driver_ok()
            for index, q in enumerate(self.queues):       # kicks that came before DRIVER_OK
                if q.ready:
                    self.guarded(self.device.notified, index)

    def _selected(self):
        return self.queues[self.queue_sel] if self.queue_sel < len(self.queues) else None

    def _queue_ready(self, q: Virtqueue, ready: bool):
        if not ready:
            q.ready = False
        elif not q.ready:
            try:
                q.check_layout()
            except VirtqueueError as e:
                self.fail(str(e))
                return
            q.ready = True

    # --- registers -----------------------------------------------------------------------------
    def read(self, offset, size):
        if offset >= CONFIG:
            data = self.device.config() if self.device else b""
            start = offset - CONFIG
            return int.from_bytes(data[start:start + size].ljust(size, b"\0"), "little")
        if size == 8:
            return self._read_reg(offset) | (self._read_reg(offset + 4) << 32)
        word = self._read_reg(offset & ~3)
        return (word >> (8 * (offset & 3))) & ((1 << (8 * size)) - 1)

    def _read_reg(self, offset: int) -> int:
        if offset == MAGIC_VALUE:
            return MAGIC
        if offset == VERSION_REG:
            return VERSION
        if offset == VENDOR_ID_REG:
            return VENDOR_ID
        if self.device is None:
            return 0                    # DEVICE_ID 0: nothing here
        if offset == DEVICE_ID:
            return self.device.device_id
        if offset == DEVICE_FEATURES:
            sel = self.device_features_sel
            return (self.offered_features >> (32 * sel)) & 0xFFFFFFFF if sel < 2 else 0
        if offset == QUEUE_NUM_MAX:
            q = self._selected()
            return q.max_size if q else 0
        if offset == QUEUE_READY:
            q = self._selected()
            return int(bool(q and q.ready))
        if offset == INTERRUPT_STATUS:
            return self.interrupt_status
        if offset == STATUS:
            return self.status
        if offset in (SHM_LEN_LOW, SHM_LEN_HIGH, SHM_BASE_LOW, SHM_BASE_HIGH):
            return 0xFFFFFFFF           # no shared memory regions: "length -1"
        if offset == CONFIG_GENERATION:
            return self.config_generation
        return 0

    def write(self, offset, size, value):
        if self.device is None:
            return
        if offset >= CONFIG:
            self.device.write_config(offset - CONFIG, size, value)
            return
        if size == 8:
            self._write_reg(offset, value & 0xFFFFFFFF)
            self._write_reg(offset + 4, value >> 32)
        else:
            self._write_reg(offset & ~3, value & 0xFFFFFFFF)

    def _write_reg(self, offset: int, value: int):
        q = self._selected()
        if offset == DEVICE_FEATURES_SEL:
            self.device_features_sel = value
        elif offset == DRIVER_FEATURES_SEL:
            self.driver_features_sel = value
        elif offset == DRIVER_FEATURES:
            sel = self.driver_features_sel
            if sel < 2 and not self.status & FEATURES_OK:
                mask = 0xFFFFFFFF << (32 * sel)
                self.driver_features = (self.driver_features & ~mask) | (value << (32 * sel))
        elif offset == QUEUE_SEL:
            self.queue_sel = value
        elif offset == QUEUE_NUM:
            if q and not q.ready:
                q.size = value
        elif offset == QUEUE_READY:
            if q:
                self._queue_ready(q, bool(value & 1))
        elif offset == QUEUE_NOTIFY:
            index = value & 0xFFFF
            if index < len(self.queues) and self.running:
                self.guarded(self.device.notified, index)
        elif offset == INTERRUPT_ACK:
            self.interrupt_status &= ~value
            self._update_irq()
        elif offset == STATUS:
            self._write_status(value)
        elif q and not q.ready and (offset & ~4) in _QUEUE_ADDRESSES:
            name = _QUEUE_ADDRESSES[offset & ~4]
            shift = 32 if offset & 4 else 0
            old = getattr(q, name)
            setattr(q, name, (old & ~(0xFFFFFFFF << shift)) | (value << shift))
