"""CLINT: machine software interrupt (msip) and timer (mtime, mtimecmp); mtime runs at 10 MHz of host time."""
import ctypes
import time

from .bus import Device
from ..cpu.state import MTIME_NS_PER_TICK
from ..cpu.trap import IRQ_MSI, IRQ_MTI, IRQ_STI

TIMEBASE_HZ = 1_000_000_000 // MTIME_NS_PER_TICK
M64 = (1 << 64) - 1
MSIP, MTIMECMP, MTIME = 0x0, 0x4000, 0xBFF8


def _merge(old, offset_in_reg, size, value):
    """Write `size` bytes of value into a 64-bit register at byte offset_in_reg."""
    shift = 8 * offset_in_reg
    mask = ((1 << (8 * size)) - 1) << shift
    return (old & ~mask) | ((value << shift) & mask)


class Clint(Device):
    name = "clint"

    def __init__(self, hart, clock=time.monotonic_ns):
        """clock: nanoseconds; generated code reads the time CSR itself only off the host's
        monotonic clock (the default), so a test's clock is asked through Python every time."""
        self.hart = hart
        self.clock = clock
        st = hart.state
        st.mtime_t0, st.mtime_offset = clock(), 0
        st.clock_fn = _host_clock_gettime() if clock is time.monotonic_ns else 0
        self.msip = 0
        self.mtimecmp = M64
        hart.mtime = self.mtime
        hart.on_timer_change = self.update

    # mtime's origin lives in the hart state, where generated code reads the time CSR from
    @property
    def mtime_offset(self) -> int:
        return self.hart.state.mtime_offset

    @mtime_offset.setter
    def mtime_offset(self, value: int):
        self.hart.state.mtime_offset = value & M64

    def mtime(self) -> int:
        st = self.hart.state
        return ((self.clock() - st.mtime_t0) // MTIME_NS_PER_TICK + st.mtime_offset) & M64

    def _stimecmp(self) -> int | None:
        """The hart's Sstc compare value while it is in use (menvcfg.STCE): the timer serves
        it as it serves mtimecmp."""
        csr = self.hart.csr
        return csr.stimecmp if csr.stce else None

    def seconds_until_timer(self) -> float:
        stimecmp = self._stimecmp()
        due = self.mtimecmp if stimecmp is None else min(self.mtimecmp, stimecmp)
        return max(0, due - self.mtime()) / TIMEBASE_HZ

    def update(self):
        """Refresh the hart's MSIP and MTIP lines, and STIP under Sstc."""
        h = self.hart
        lines = h.irq_lines & ~((1 << IRQ_MSI) | (1 << IRQ_MTI) | (1 << IRQ_STI))
        if self.msip & 1:
            lines |= 1 << IRQ_MSI
        now = self.mtime()
        if now >= self.mtimecmp:
            lines |= 1 << IRQ_MTI
        stimecmp = self._stimecmp()
        if stimecmp is not None and now >= stimecmp:
            lines |= 1 << IRQ_STI
        h.irq_lines = lines

    def read(self, offset, size):
        if offset < 4:
            return (self.msip >> (8 * offset)) & ((1 << (8 * size)) - 1)
        if MTIMECMP <= offset < MTIMECMP + 8:
            return (self.mtimecmp >> (8 * (offset - MTIMECMP))) & ((1 << (8 * size)) - 1)
        if MTIME <= offset < MTIME + 8:
            now = self.mtime()
            if now >= self.mtimecmp and not self.hart.irq_lines >> IRQ_MTI & 1:
                # a guest spinning on mtime sees its timer fire now, not at the next device poll
                self.update()
                self.hart.request_stop()
            return (now >> (8 * (offset - MTIME))) & ((1 << (8 * size)) - 1)
        return 0

    def write(self, offset, size, value):
        if offset < 4:
            self.msip = _merge(self.msip, offset, size, value) & 1
        elif MTIMECMP <= offset < MTIMECMP + 8:
            self.mtimecmp = _merge(self.mtimecmp, offset - MTIMECMP, size, value)
        elif MTIME <= offset < MTIME + 8:
            new = _merge(self.mtime(), offset - MTIME, size, value)
            self.mtime_offset += new - self.mtime()
        self.update()
        self.hart.request_stop()      # the interrupt picture may have changed


def _host_clock_gettime() -> int:
    return ctypes.cast(ctypes.CDLL(None).clock_gettime, ctypes.c_void_p).value
