"""Placing firmware, kernel, initrd and device tree in guest memory as QEMU's virt board does."""
import struct
from dataclasses import dataclass

from ..errors import GuestInputError
from .loader import check_file, load_elf, load_flat

KERNEL_OFFSET = 0x200000            # -kernel Image goes 2 MiB into RAM
DTB_ALIGN = 2 << 20
IMAGE_MAGIC2 = b"RSC\x05"           # RISC-V Image header, offset 56


@dataclass
class BootLayout:
    firmware_entry: int
    firmware_range: tuple[int, int]
    kernel_range: tuple[int, int] | None = None
    initrd_range: tuple[int, int] | None = None
    dtb_range: tuple[int, int] | None = None

    def describe(self) -> str:
        rows = [("firmware", self.firmware_range), ("kernel", self.kernel_range),
                ("initrd", self.initrd_range), ("device tree", self.dtb_range)]
        return "\n".join(f"  {name:<12} {r[0]:#012x}-{r[1]:#012x}" for name, r in rows if r)


def _is_elf(path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def _image_size(path, data: bytes) -> int:
    """Memory the kernel needs: the Image header's image_size when it has one, else its file size."""
    if len(data) >= 64 and data[56:60] == IMAGE_MAGIC2:
        size = struct.unpack_from("<Q", data, 16)[0]
        if size:
            return max(size, len(data))
    return len(data)


def _check_overlap(ranges):
    named = [(n, r) for n, r in ranges if r]
    for i, (na, (a0, a1)) in enumerate(named):
        for nb, (b0, b1) in named[i + 1:]:
            if a0 < b1 and b0 < a1:
                raise GuestInputError(f"{na} ({a0:#x}-{a1:#x}) overlaps {nb} ({b0:#x}-{b1:#x})")


def place_images(ram, firmware, kernel=None, initrd=None, dtb_blob_for=None) -> tuple[BootLayout, bytes]:
    """Load everything into RAM. dtb_blob_for(initrd_range) builds the device tree bytes."""
    check_file(firmware, "firmware")
    ram_end = ram.base + ram.size
    if _is_elf(firmware):
        image = load_elf(firmware, ram)
        lo = min(a for a, _ in image.segments)
        hi = max(a + n for a, n in image.segments)
        layout = BootLayout(image.entry, (lo, hi))
    else:
        image = load_flat(firmware, ram, ram.base)
        layout = BootLayout(ram.base, (ram.base, ram.base + image.segments[0][1]))

    kernel_start = ram.base + KERNEL_OFFSET
    if kernel is not None:
        check_file(kernel, "kernel")
        if _is_elf(kernel):
            kimage = load_elf(kernel, ram)
            kernel_start = min(a for a, _ in kimage.segments)
            layout.kernel_range = (kernel_start, max(a + n for a, n in kimage.segments))
        else:
            data = open(kernel, "rb").read()
            need = _image_size(kernel, data)
            if kernel_start + need > ram_end:
                raise GuestInputError(f"{kernel}: kernel needs {need >> 20} MiB at {kernel_start:#x}, "
                                      f"past the end of RAM ({ram_end:#x}); try a larger -m")
            ram.write(kernel_start, data)
            layout.kernel_range = (kernel_start, kernel_start + need)

    if initrd is not None:
        check_file(initrd, "initrd")
        data = open(initrd, "rb").read()
        start = kernel_start + min(ram.size // 2, 128 << 20)
        if start + len(data) > ram_end:
            start = (ram_end - len(data) - DTB_ALIGN) & ~0xFFF   # squeeze it in under the DTB
        if start < (layout.kernel_range or layout.firmware_range)[1] or start + len(data) > ram_end - DTB_ALIGN:
            raise GuestInputError(f"{initrd}: initrd of {len(data) >> 20} MiB does not fit in "
                                  f"{ram.size >> 20} MiB of RAM; try a larger -m")
        ram.write(start, data)
        layout.initrd_range = (start, start + len(data))

    blob = dtb_blob_for(layout.initrd_range)
    dtb_start = (ram_end - len(blob)) & ~(DTB_ALIGN - 1)
    layout.dtb_range = (dtb_start, dtb_start + len(blob))
    _check_overlap([("firmware", layout.firmware_range), ("kernel", layout.kernel_range),
                    ("initrd", layout.initrd_range), ("device tree", layout.dtb_range)])
    ram.write(dtb_start, blob)
    return layout, blob
