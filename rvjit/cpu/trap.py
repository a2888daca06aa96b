"""Exceptions and interrupts: causes, and how the hart enters a trap handler (privileged spec 3.1.6-3.1.9)."""
from .state import NO_TAG

PRV_U, PRV_S, PRV_M = 0, 1, 3
INTERRUPT_BIT = 1 << 63

# Exception causes
INSN_MISALIGNED, INSN_ACCESS, ILLEGAL_INSN, BREAKPOINT = 0, 1, 2, 3
LOAD_MISALIGNED, LOAD_ACCESS, STORE_MISALIGNED, STORE_ACCESS = 4, 5, 6, 7
ECALL_U, ECALL_S, ECALL_M = 8, 9, 11
INSN_PAGE_FAULT, LOAD_PAGE_FAULT, STORE_PAGE_FAULT = 12, 13, 15

# Interrupt numbers (bit positions in mip/mie)
IRQ_SSI, IRQ_MSI, IRQ_STI, IRQ_MTI, IRQ_SEI, IRQ_MEI = 1, 3, 5, 7, 9, 11
# Highest priority first (privileged spec 3.1.9)
IRQ_PRIORITY = (IRQ_MEI, IRQ_MSI, IRQ_MTI, IRQ_SEI, IRQ_SSI, IRQ_STI)

# mstatus bits used here
MSTATUS_SIE, MSTATUS_MIE, MSTATUS_SPIE, MSTATUS_MPIE = 1 << 1, 1 << 3, 1 << 5, 1 << 7
MSTATUS_SPP = 1 << 8
MSTATUS_MPP_SHIFT = 11
MSTATUS_MPP = 3 << MSTATUS_MPP_SHIFT
MSTATUS_MPRV = 1 << 17


class GuestTrap(Exception):
    """A synchronous exception raised by the guest (not a host error)."""

    def __init__(self, cause: int, tval: int = 0):
        super().__init__(cause, tval)
        self.cause, self.tval = cause, tval & ((1 << 64) - 1)

    def __repr__(self):
        return f"GuestTrap(cause={self.cause}, tval={self.tval:#x})"


def _set_bit(value, mask, on):
    return value | mask if on else value & ~mask


def enter_trap(hart, cause: int, tval: int, pc: int, interrupt: bool = False):
    """Take a trap at `pc`: choose M or S by delegation, save state, jump to the handler."""
    st = hart.state
    csr = hart.csr
    priv = st.priv
    deleg = csr.mideleg if interrupt else csr.medeleg
    code = cause | (INTERRUPT_BIT if interrupt else 0)
    ms = old_ms = st.mstatus
    if priv <= PRV_S and (deleg >> cause) & 1:
        csr.scause, csr.sepc, csr.stval = code, pc, tval
        ms = _set_bit(ms, MSTATUS_SPIE, ms & MSTATUS_SIE)
        ms = _set_bit(ms, MSTATUS_SPP, priv == PRV_S)
        ms &= ~MSTATUS_SIE
        new_priv, tvec = PRV_S, csr.stvec
    else:
        csr.mcause, csr.mepc, csr.mtval = code, pc, tval
        ms = _set_bit(ms, MSTATUS_MPIE, ms & MSTATUS_MIE)
        ms = (ms & ~MSTATUS_MPP) | (priv << MSTATUS_MPP_SHIFT)
        ms &= ~MSTATUS_MIE
        new_priv, tvec = PRV_M, csr.mtvec
    st.mstatus = ms
    base = tvec & ~3
    st.pc = base + 4 * cause if (interrupt and tvec & 3 == 1) else base
    hart.set_priv(new_priv)
    hart.mstatus_changed(old_ms)      # MPP may change what MPRV loads see without a mode change
    st.resv = NO_TAG


def do_mret(hart):
    st = hart.state
    ms = old_ms = st.mstatus
    mpp = (ms >> MSTATUS_MPP_SHIFT) & 3
    ms = _set_bit(ms, MSTATUS_MIE, ms & MSTATUS_MPIE)
    ms |= MSTATUS_MPIE
    ms &= ~MSTATUS_MPP            # MPP <- least-privileged supported mode (U)
    if mpp != PRV_M:
        ms &= ~MSTATUS_MPRV
    st.mstatus = ms
    st.pc = hart.csr.mepc
    hart.set_priv(mpp)
    hart.mstatus_changed(old_ms)


def do_sret(hart):
    st = hart.state
    ms = old_ms = st.mstatus
    spp = PRV_S if ms & MSTATUS_SPP else PRV_U
    ms = _set_bit(ms, MSTATUS_SIE, ms & MSTATUS_SPIE)
    ms |= MSTATUS_SPIE
    ms &= ~MSTATUS_SPP
    ms &= ~MSTATUS_MPRV           # returning to a mode below M clears MPRV
    st.mstatus = ms
    st.pc = hart.csr.sepc
    hart.set_priv(spp)
    hart.mstatus_changed(old_ms)


def pending_interrupt(hart):
    """The interrupt to take now, or None (privileged spec 3.1.9)."""
    csr = hart.csr
    pending = hart.mip() & csr.mie
    if not pending:
        return None
    st = hart.state
    priv, ms = st.priv, st.mstatus
    m_enabled = priv < PRV_M or ms & MSTATUS_MIE
    s_enabled = priv < PRV_S or (priv == PRV_S and ms & MSTATUS_SIE)
    m_pending = pending & ~csr.mideleg if m_enabled else 0
    s_pending = pending & csr.mideleg if s_enabled else 0
    for pend in (m_pending, s_pending):
        if pend:
            for irq in IRQ_PRIORITY:
                if pend >> irq & 1:
                    return irq
    return None
