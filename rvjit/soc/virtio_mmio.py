"""virtio-mmio transport slots (virtio 1.x, section 4.2). For now every slot is empty: it answers
the magic value and version with device ID 0, which drivers skip quietly."""
from .bus import Device

MAGIC = 0x74726976          # "virt"
VERSION = 2                 # modern (virtio 1.x) transport
VENDOR_ID = 0x554D4551      # QEMU's, which some guests check
REG_MAGIC, REG_VERSION, REG_DEVICE_ID, REG_VENDOR_ID = 0x000, 0x004, 0x008, 0x00C


class EmptyVirtioSlot(Device):
    name = "virtio-mmio (empty)"

    def read(self, offset, size):
        return {REG_MAGIC: MAGIC, REG_VERSION: VERSION, REG_DEVICE_ID: 0, REG_VENDOR_ID: VENDOR_ID}.get(offset, 0)
