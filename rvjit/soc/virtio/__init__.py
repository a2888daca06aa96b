"""virtio devices (blk, console, rng) behind virtio-mmio transports.

    transport.py  the MMIO registers: status, features, queues, interrupts, config space
    virtqueue.py  split rings: descriptor chains (checked), indirect tables, event index
    guestmem.py   the bounds-checked view of guest RAM devices use (DMA writes drop stale code)
    worker.py     the I/O thread that keeps file work off the CPU thread
    blk.py, console.py, rng.py   the devices
    drives.py     `-drive` / `-device` parsing, image files and their locks
"""
from .blk import BlockDevice
from .console import ConsoleDevice
from .drives import Drive, SlotPlan, plan_slots
from .guestmem import GuestMemory
from .rng import RngDevice
from .transport import VirtioMmio

__all__ = ["BlockDevice", "ConsoleDevice", "Drive", "GuestMemory", "RngDevice", "SlotPlan",
           "VirtioMmio", "make_devices", "plan_slots"]


def make_devices(plan: list[SlotPlan], wakeup, console_write) -> list:
    """The devices for the planned slots, in order; opens (and locks) the drive images. If one
    fails to open, those already open are closed again before the error goes up."""
    devices = []
    try:
        for slot in plan:
            if slot.kind == "blk":
                index = sum(isinstance(d, BlockDevice) for d in devices)
                devices.append(BlockDevice(Drive(slot.drive, index), wakeup))
            elif slot.kind == "console":
                devices.append(ConsoleDevice(console_write, wakeup))
            else:
                devices.append(RngDevice())
    except BaseException:
        for device in devices:
            device.close()
        raise
    return devices
