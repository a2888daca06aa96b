"""`rvjit boot`: firmware (+ kernel, initrd) on the virt board, with the terminal as its console."""
import os
import sys
import time

from .errors import GuestInputError
from .soc.boot import place_images
from .soc.rom import reset_vector

DEFAULT_MEM = 512 << 20


def _mmu_type(hart) -> str:
    modes = getattr(hart.mmu, "SUPPORTED_MODES", None) or ()
    for name in ("sv57", "sv48", "sv39"):
        if name in modes:
            return f"riscv,{name}"
    return "riscv,sv39"


def firmware_enables_sstc(firmware) -> bool:
    """Whether the firmware sets menvcfg.STCE for the kernel: OpenSBI does; bbl (riscv-pk) does
    not, and a kernel told of Sstc then dies on its first stimecmp write. The default of
    `-cpu rv64,sstc=...`: on for OpenSBI (as QEMU, whose rv64 CPU has Sstc), off otherwise."""
    try:
        with open(firmware, "rb") as f:
            return b"OpenSBI v" in f.read()
    except OSError:
        return False            # place_images reports the real problem


def build_board(firmware, kernel=None, initrd=None, append=None, mem_size=DEFAULT_MEM, dtb=None,
                console=None, virtio=(), sstc: bool | None = None):
    """The board with everything loaded and the hart at the reset vector. `virtio`: the devices
    for the virtio-mmio slots (rvjit.soc.virtio.plan_slots). `sstc`: implement Sstc (None: if
    the firmware is OpenSBI). The caller closes the board."""
    from .soc.virt import VirtBoard
    if sstc is None:
        sstc = firmware_enables_sstc(firmware)
    board = VirtBoard(mem_size, console=console, virtio=virtio, sstc=sstc)
    try:
        _load(board, firmware, kernel, initrd, append, dtb)
    except BaseException:
        board.close()
        raise
    return board


def _load(board, firmware, kernel, initrd, append, dtb):
    from .soc.devicetree import virt_device_tree

    def device_tree(initrd_range):
        if dtb is not None:
            try:
                return open(dtb, "rb").read()
            except OSError as e:
                raise GuestInputError(f"{dtb}: cannot read device tree: {e.strerror}") from None
        return virt_device_tree(board.ram.base, board.ram.size, append or "", initrd_range,
                                board.isa_string, _mmu_type(board.hart), rng_seed=os.urandom(32))

    layout, blob = place_images(board.ram, firmware, kernel, initrd, device_tree)
    next_addr = layout.kernel_range[0] if layout.kernel_range else board.ram.base + 0x200000
    board.set_reset_vector(reset_vector(layout.firmware_entry, layout.dtb_range[0], next_addr))
    board.layout, board.dtb = layout, blob


def boot(firmware, kernel=None, initrd=None, append=None, mem_size=DEFAULT_MEM, dtb=None,
         dump_dtb=None, stats=False, virtio=(), sstc: bool | None = None) -> int:
    from .backend.runloop import run_native
    from .console import Console
    from .machine import make_translator
    t0 = time.perf_counter()
    board = build_board(firmware, kernel, initrd, append, mem_size, dtb, virtio=virtio, sstc=sstc)
    try:
        if dump_dtb is not None:
            with open(dump_dtb, "wb") as f:
                f.write(board.dtb)
            return 0
        translator = make_translator(board)
        with Console(board, board.receive_input):
            rs = run_native(board, translator)
    finally:
        board.close()           # however the run ends, written data reaches the images
    if stats:
        from .stats import format_run_stats
        sys.stderr.write(format_run_stats(board, translator, rs, time.perf_counter() - t0))
    return board.exit_code or 0
