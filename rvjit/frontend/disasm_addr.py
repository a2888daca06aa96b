"""The address comments of objdump's listing: branch/jump target text, and the state that
annotates addresses an instruction forms from a register set up by an earlier lui/auipc."""
from __future__ import annotations

from .asmnames import X_GP, X_TP

MASK64 = (1 << 64) - 1


class AddressTracker:
    """The cross-instruction state objdump keeps to annotate addresses computed in two steps
    (lui/auipc followed by addi, jalr, ...) with a trailing ` # <address> <symbol>` comment.

    Feed one tracker every instruction of a file in listing order (objdump keeps this state
    across the sections of a file and starts afresh per file); `gp` is the value of
    __global_pointer$ when the file defines it (gp-relative addresses are annotated too)."""

    def __init__(self, gp: int | None = None):
        self.gp = gp
        self.hi: dict[int, int] = {}

    def reset(self):
        self.hi.clear()


class InsnText:
    """Accumulates one instruction's text and the address its comment names, if any."""
    __slots__ = ("mnemonic", "operands", "comment_addr")

    def __init__(self):
        self.mnemonic = ""
        self.operands: list[str] = []
        self.comment_addr = None


def target_text(addr: int, symbolizer) -> str:
    addr &= MASK64
    if symbolizer is not None:
        sym = symbolizer(addr)
        if sym:
            return f"{addr:x} <{sym}>"
    return f"{addr:x}"


def note_address(tracker: AddressTracker | None, out: InsnText, base: int, offset: int,
                 wide: bool = False):
    """Record the address an instruction forms from a tracked base register plus offset."""
    if tracker is None:
        return
    if base in tracker.hi:
        high = tracker.hi.pop(base)
        addr = (high if base != 0 else 0) + offset      # "lui zero" is consumed, not used
    elif base == X_GP and tracker.gp is not None:
        addr = tracker.gp + offset
    elif base == X_TP or base == 0:
        addr = offset
    else:
        return
    if wide:
        addr = ((addr & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000
    out.comment_addr = addr & MASK64
