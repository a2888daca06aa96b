"""`-drive` and `-device` as QEMU spells them, and raw disk images opened, locked and sized.

    -drive file=disk.img,format=raw[,readonly=on][,if=virtio][,serial=S][,id=ID]
    -drive file=disk.img,format=raw,if=none,id=hd0 -device virtio-blk-device,drive=hd0
    -device virtio-serial-device          (a virtio console: hvc0 in Linux)
    -device virtio-rng-device

Board order: `if=virtio` drives in command-line order take the first transports, then the
`-device`s in command-line order. An image is locked while in use (an exclusive lock for a
writable drive, a shared one for a read-only drive), so two emulators never write the same disk;
open file description locks are used, which also conflict with QEMU's.
"""
import ctypes
import fcntl
import os
import stat
import struct
from dataclasses import dataclass, field

from ...errors import GuestInputError

SECTOR = 512
SLOTS = 8
DEVICE_NAMES = ("virtio-blk-device", "virtio-serial-device", "virtio-rng-device")
_BOOL = {"on": True, "yes": True, "true": True, "off": False, "no": False, "false": False}
_DRIVE_KEYS = ("file", "format", "readonly", "if", "serial", "id")


@dataclass
class DriveSpec:
    file: str
    readonly: bool = False
    serial: str | None = None
    interface: str = "virtio"
    id: str | None = None


@dataclass
class SlotPlan:
    kind: str                         # "blk", "console" or "rng"
    drive: DriveSpec | None = None
    extra: dict = field(default_factory=dict)


def split_options(text: str) -> list[tuple[str, str | None]]:
    """'a=1,b,file=x,,y' -> [('a', '1'), ('b', None), ('file', 'x,y')] (",," is a literal comma)."""
    parts, current, i = [], "", 0
    while i < len(text):
        if text[i] == ",":
            if text[i + 1:i + 2] == ",":
                current += ","
                i += 2
                continue
            parts.append(current)
            current = ""
        else:
            current += text[i]
        i += 1
    parts.append(current)
    out = []
    for part in parts:
        key, eq, value = part.partition("=")
        out.append((key, value if eq else None))
    return out


def parse_drive(text: str) -> DriveSpec:
    opts = {}
    for key, value in split_options(text):
        if key not in _DRIVE_KEYS:
            raise GuestInputError(f"-drive {text}: unsupported option '{key}' "
                                  f"(rvjit knows {', '.join(_DRIVE_KEYS)})")
        if value is None and key != "readonly":
            raise GuestInputError(f"-drive {text}: option '{key}' needs a value ({key}=...)")
        opts[key] = value
    if not opts.get("file"):
        raise GuestInputError(f"-drive {text}: no image given (file=PATH)")
    fmt = opts.get("format", "raw")
    if fmt != "raw":
        raise GuestInputError(f"-drive {text}: image format '{fmt}' is not supported (only format=raw)")
    interface = opts.get("if", "virtio")
    if interface not in ("virtio", "none"):
        raise GuestInputError(f"-drive {text}: interface if={interface} is not supported "
                              f"(the virt board has if=virtio, or if=none with -device virtio-blk-device)")
    readonly = opts.get("readonly", "off") or "on"        # a bare `readonly` means on
    if readonly not in _BOOL:
        raise GuestInputError(f"-drive {text}: readonly={readonly}: use on or off")
    if interface == "none" and not opts.get("id"):
        raise GuestInputError(f"-drive {text}: if=none needs an id=NAME for -device virtio-blk-device,drive=NAME")
    return DriveSpec(opts["file"], _BOOL[readonly], opts.get("serial"), interface, opts.get("id"))


def plan_slots(drive_args: list[str], device_args: list[str]) -> list[SlotPlan]:
    """What goes into the eight virtio-mmio transports, in order. Raises GuestInputError."""
    drives = [parse_drive(text) for text in drive_args]
    by_id = {d.id: d for d in drives if d.id}
    plan = [SlotPlan("blk", d) for d in drives if d.interface == "virtio"]
    used = set()
    for text in device_args:
        (name, value), *props = split_options(text)
        if value is not None or name not in DEVICE_NAMES:
            raise GuestInputError(f"-device {name}: unknown device (supported: {', '.join(DEVICE_NAMES)})")
        props = dict(props)
        allowed = ("drive", "serial", "id") if name == "virtio-blk-device" else ("id",)
        for key in props:
            if key not in allowed:
                raise GuestInputError(f"-device {text}: unsupported property '{key}'")
        if name == "virtio-blk-device":
            ref = props.get("drive")
            if not ref or ref not in by_id or by_id[ref].interface != "none":
                raise GuestInputError(f"-device {text}: drive={ref or ''} names no -drive ...,if=none,id=NAME")
            if ref in used:
                raise GuestInputError(f"-device {text}: drive {ref} is already in use")
            used.add(ref)
            drive = by_id[ref]
            if props.get("serial"):
                drive.serial = props["serial"]
            plan.append(SlotPlan("blk", drive))
        elif name == "virtio-serial-device":
            if any(p.kind == "console" for p in plan):
                raise GuestInputError("-device virtio-serial-device: rvjit has one virtio console")
            plan.append(SlotPlan("console"))
        else:
            plan.append(SlotPlan("rng"))
    if len(plan) > SLOTS:
        raise GuestInputError(f"{len(plan)} virtio devices do not fit the board's {SLOTS} virtio-mmio slots")
    return plan


# --- open images -------------------------------------------------------------------------------
FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE = 0x01, 0x02


def _fallocate():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.fallocate
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    fn.restype = ctypes.c_int
    return fn


_FALLOCATE = _fallocate()


def _lock(fd: int, exclusive: bool) -> bool:
    """A non-blocking lock on the whole file, held by this open file (not the process)."""
    if hasattr(fcntl, "F_OFD_SETLK"):
        kind = fcntl.F_WRLCK if exclusive else fcntl.F_RDLCK
        flock = struct.pack("hhqqi4x", kind, os.SEEK_SET, 0, 0, 0)    # struct flock, l_len 0 = all
        try:
            fcntl.fcntl(fd, fcntl.F_OFD_SETLK, flock)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


class Drive:
    """A raw image file, open and locked. I/O methods run on the drive's worker thread."""

    def __init__(self, spec: DriveSpec, index: int):
        self.path = spec.file
        self.readonly = spec.readonly
        self.serial = spec.serial if spec.serial is not None else f"rvjit-vd{chr(ord('a') + index)}"
        flags = (os.O_RDONLY if spec.readonly else os.O_RDWR) | getattr(os, "O_CLOEXEC", 0)
        try:
            self.fd = os.open(spec.file, flags)
        except IsADirectoryError:
            raise GuestInputError(f"{spec.file}: cannot use as a drive: is a directory") from None
        except PermissionError:
            hint = "" if spec.readonly else " (readonly=on may help)"
            raise GuestInputError(f"{spec.file}: cannot open drive image: permission denied{hint}") from None
        except FileNotFoundError:
            raise GuestInputError(f"{spec.file}: no such drive image") from None
        except OSError as e:
            raise GuestInputError(f"{spec.file}: cannot open drive image: {e.strerror}") from None
        if stat.S_ISDIR(os.fstat(self.fd).st_mode):          # O_RDONLY opens directories
            os.close(self.fd)
            self.fd = None
            raise GuestInputError(f"{spec.file}: cannot use as a drive: is a directory")
        if not _lock(self.fd, exclusive=not spec.readonly):
            os.close(self.fd)
            self.fd = None
            raise GuestInputError(f"{spec.file}: drive image is in use by another process "
                                  f"(locked; is another rvjit or QEMU running with it?)")
        self.size = os.lseek(self.fd, 0, os.SEEK_END)
        self.sectors = self.size // SECTOR
        self.can_punch = not spec.readonly and self._punch(self.size, 4096)   # beyond EOF: harmless

    def _punch(self, offset: int, length: int) -> bool:
        if _FALLOCATE is None:
            return False
        return _FALLOCATE(self.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length) == 0

    # --- worker thread -----------------------------------------------------------------------
    def read(self, offset: int, length: int) -> bytes:
        data = os.pread(self.fd, length, offset)
        return data.ljust(length, b"\0")

    def write(self, offset: int, data: bytes):
        view = memoryview(data)
        while view:
            n = os.pwrite(self.fd, view, offset)
            view, offset = view[n:], offset + n

    def flush(self):
        os.fsync(self.fd)

    def discard(self, offset: int, length: int):
        if not self._punch(offset, length):
            raise OSError(ctypes.get_errno(), "fallocate(PUNCH_HOLE) failed")

    def write_zeroes(self, offset: int, length: int):
        if self.can_punch and self._punch(offset, length):
            return
        chunk = bytes(min(length, 1 << 20))
        while length > 0:
            n = min(length, len(chunk))
            self.write(offset, chunk[:n])
            offset, length = offset + n, length - n

    def close(self):
        """Flush what was written and release the image (and its lock). Safe to call twice."""
        if self.fd is None:
            return
        try:
            if not self.readonly:
                os.fsync(self.fd)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None
