"""What every virtio device shares: the interface the transport drives, and one-time warnings."""
import sys


def warn(message: str):
    """One line on stderr (a raw-mode terminal needs the carriage return too)."""
    end = "\r\n" if sys.stderr.isatty() else "\n"
    sys.stderr.write(f"rvjit: warning: {message}{end}")
    sys.stderr.flush()


class VirtioDevice:
    """A device behind a virtio-mmio transport. Everything here runs on the CPU thread, except
    what a subclass documents as thread-safe; the transport is set by `attach`."""
    device_id = 0
    name = "virtio"
    queue_sizes: tuple[int, ...] = ()      # the maximum size of each virtqueue

    def __init__(self):
        self.transport = None

    def attach(self, transport):
        self.transport = transport

    def features(self) -> int:
        """Device-specific feature bits offered (the transport adds its own)."""
        return 0

    def config(self) -> bytes:
        """The device configuration space (read at offset 0x100 of the transport)."""
        return b""

    def write_config(self, offset: int, size: int, value: int):
        pass

    def reset(self):
        """The driver reset the device: forget every request in flight."""

    def driver_ok(self):
        """The driver finished initialisation (DRIVER_OK)."""

    def notified(self, queue: int):
        """The driver made buffers available on `queue`."""

    def wants_poll(self) -> bool:
        """Cheap test, called very often: has background work finished or input arrived?"""
        return False

    def poll(self):
        """Called by the run loop when wants_poll(): finish work done in the background."""

    def close(self):
        """The machine is going away: flush and release host resources."""
