"""SiFive PLIC as on QEMU's virt board: 96 sources (1..95 usable), per-context enables and thresholds.

Register map (all registers are 32 bits):
  0x000000 + 4*src        priority of a source (WARL: 3 bits, levels 1..7; 0 = never interrupts)
  0x001000                pending bits, one per source (read-only)
  0x002000 + 0x80*ctx     enable bits of a context
  0x200000 + 0x1000*ctx   priority threshold of a context
  0x200004 + 0x1000*ctx   claim (read) / complete (write)

The gateway is level-triggered. While a source is not in service its pending bit follows its line
(as QEMU does: a line dropped before the claim retracts the request, so the guest sees no spurious
claim). A claim clears the pending bit and puts the source in service; while in service the source
is not pending again, whatever its line does. Completion takes it out of service, and if its line is
still high it is pending again at once. A completion naming a source that is not in service, or not
enabled in the completing context, is ignored (the PLIC specification's rule; Linux relies on it).

Contexts map to hart interrupt lines: on virt, context 0 = hart 0 M-mode (mip.MEIP, bit 11) and
context 1 = hart 0 S-mode (mip.SEIP, bit 9). Everything runs on the emulator's main thread.
"""
from .bus import Device
from ..cpu.trap import IRQ_MEI, IRQ_SEI

NUM_SOURCES = 96            # source 0 is reserved: "no interrupt" in the claim register
PRIORITY_MASK = 0x7         # QEMU virt: 3 priority bits, levels 0..7

PRIORITY_BASE = 0x000000
PENDING_BASE = 0x001000
ENABLE_BASE, ENABLE_STRIDE = 0x002000, 0x80
CONTEXT_BASE, CONTEXT_STRIDE = 0x200000, 0x1000
THRESHOLD, CLAIM = 0x0, 0x4
MMIO_SIZE = 0x600000


class Plic(Device):
    name = "plic"

    def __init__(self, hart, wake=None, contexts=None, num_sources: int = NUM_SOURCES):
        """`contexts`: one (hart, mip bit) per context; default: hart's M-mode then S-mode.
        `wake`: called when an interrupt line to a hart goes up, so a hart sleeping in wfi wakes."""
        self.contexts = list(contexts) if contexts is not None else [(hart, IRQ_MEI), (hart, IRQ_SEI)]
        self.wake = wake or (lambda: None)
        self.num_sources = num_sources
        self.words = (num_sources + 31) // 32
        self.priority = [0] * num_sources
        self.level = 0              # bitmask of lines currently high
        self.pending = 0            # bitmask, bit n = source n
        self.in_service = 0         # claimed and not yet completed
        self.enable = [0] * len(self.contexts)
        self.threshold = [0] * len(self.contexts)
        self._asserted = [False] * len(self.contexts)

    # --- device side ----------------------------------------------------------------------
    def irq_line(self, source: int):
        """A callable(level) that drives one source's interrupt line."""
        if not 0 < source < self.num_sources:
            raise ValueError(f"PLIC source {source} out of range 1..{self.num_sources - 1}")

        def set_level(level: bool):
            self.set_level(source, level)
        return set_level

    def set_level(self, source: int, level: bool):
        bit = 1 << source
        was = self.level & bit
        if level:
            self.level |= bit
        else:
            self.level &= ~bit
        if bool(was) == bool(level):
            return
        if not self.in_service & bit:
            self.pending = (self.pending | bit) if level else (self.pending & ~bit)
        self.update()

    # --- arbitration ----------------------------------------------------------------------
    def _best(self, ctx: int) -> int:
        """Highest-priority pending, enabled source above the context's threshold (lowest ID wins ties), or 0."""
        candidates = self.pending & self.enable[ctx]
        best, best_prio = 0, self.threshold[ctx]
        while candidates:
            low = candidates & -candidates
            src = low.bit_length() - 1
            if self.priority[src] > best_prio:
                best, best_prio = src, self.priority[src]
            candidates ^= low
        return best

    def update(self):
        """Recompute each context's interrupt line and drive the harts' mip bits."""
        raised = False
        for ctx, (hart, irq) in enumerate(self.contexts):
            asserted = self._best(ctx) != 0
            if asserted:
                hart.irq_lines |= 1 << irq
            else:
                hart.irq_lines &= ~(1 << irq)
            if asserted and not self._asserted[ctx]:
                hart.request_stop()     # leave native code so the run loop takes the interrupt
                raised = True
            self._asserted[ctx] = asserted
        if raised:
            self.wake()

    def claim(self, ctx: int) -> int:
        src = self._best(ctx)
        if src:
            self.pending &= ~(1 << src)
            self.in_service |= 1 << src
            self.update()
        return src

    def complete(self, ctx: int, src: int):
        bit = 1 << src if 0 < src < self.num_sources else 0
        if not (bit & self.in_service & self.enable[ctx]):
            return
        self.in_service &= ~bit
        if self.level & bit:
            self.pending |= bit
        self.update()

    # --- registers ------------------------------------------------------------------------
    def _context_of(self, offset: int, base: int, stride: int):
        ctx, within = divmod(offset - base, stride)
        return (ctx, within) if ctx < len(self.contexts) else (None, within)

    def _read_word(self, offset: int) -> int:
        if PRIORITY_BASE <= offset < PRIORITY_BASE + 4 * self.num_sources:
            return self.priority[(offset - PRIORITY_BASE) // 4]
        if PENDING_BASE <= offset < PENDING_BASE + 4 * self.words:
            return (self.pending >> (8 * (offset - PENDING_BASE))) & 0xFFFFFFFF
        if ENABLE_BASE <= offset < CONTEXT_BASE:
            ctx, within = self._context_of(offset, ENABLE_BASE, ENABLE_STRIDE)
            if ctx is not None and within < 4 * self.words:
                return (self.enable[ctx] >> (8 * within)) & 0xFFFFFFFF
            return 0
        if offset >= CONTEXT_BASE:
            ctx, within = self._context_of(offset, CONTEXT_BASE, CONTEXT_STRIDE)
            if ctx is None:
                return 0
            if within == THRESHOLD:
                return self.threshold[ctx]
            if within == CLAIM:
                return self.claim(ctx)
        return 0

    def _write_word(self, offset: int, value: int):
        value &= 0xFFFFFFFF
        if PRIORITY_BASE <= offset < PRIORITY_BASE + 4 * self.num_sources:
            src = (offset - PRIORITY_BASE) // 4
            if src:                                     # source 0 does not exist: hardwired 0
                self.priority[src] = value & PRIORITY_MASK
        elif ENABLE_BASE <= offset < CONTEXT_BASE:
            ctx, within = self._context_of(offset, ENABLE_BASE, ENABLE_STRIDE)
            if ctx is None or within >= 4 * self.words:
                return
            shift = 8 * within
            if within == 0:
                value &= ~1                             # source 0 cannot be enabled
            valid = ((1 << self.num_sources) - 1) >> shift & 0xFFFFFFFF
            word_mask = 0xFFFFFFFF << shift
            self.enable[ctx] = (self.enable[ctx] & ~word_mask) | ((value & valid) << shift)
        elif offset >= CONTEXT_BASE:
            ctx, within = self._context_of(offset, CONTEXT_BASE, CONTEXT_STRIDE)
            if ctx is None:
                return
            if within == THRESHOLD:
                self.threshold[ctx] = value & PRIORITY_MASK
            elif within == CLAIM:
                self.complete(ctx, value)
                return
            else:
                return
        else:
            return                                      # pending bits are read-only
        self.update()

    def read(self, offset, size):
        if size == 8:           # two 32-bit registers, low word first
            return self._read_word(offset) | (self._read_word(offset + 4) << 32)
        word = self._read_word(offset & ~3)
        return (word >> (8 * (offset & 3))) & ((1 << (8 * size)) - 1)

    def write(self, offset, size, value):
        if size == 8:
            self._write_word(offset, value)
            self._write_word(offset + 4, value >> 32)
        elif size == 4 and not offset & 3:
            self._write_word(offset, value)
        else:                   # narrow write: merge into the register (never claim by a narrow read)
            base, shift = offset & ~3, 8 * (offset & 3)
            mask = ((1 << (8 * size)) - 1) << shift
            if base >= CONTEXT_BASE and (base - CONTEXT_BASE) % CONTEXT_STRIDE == CLAIM:
                old = 0
            else:
                old = self._read_word(base)
            self._write_word(base, (old & ~mask) | ((value << shift) & mask))
