"""Privileged architecture outside the MMU: CSR WARL fields and views, counter gating, trap entry and
return with delegation, interrupt priorities, ecall causes, WFI/TSR/TVM, fetch faults."""
import pytest

from rvjit.cpu.csr import CSR_NAMES
from rvjit.cpu.trap import GuestTrap, PRV_M, PRV_S, PRV_U, INTERRUPT_BIT, enter_trap
from rvjit.machine import Machine, RAM_BASE

NUM = {name: num for num, name in CSR_NAMES.items()}
M64 = (1 << 64) - 1
MIE, SIE, MPIE, SPIE, SPP = 1 << 3, 1 << 1, 1 << 7, 1 << 5, 1 << 8
MPP = 3 << 11
FS = 3 << 13
SD = 1 << 63


@pytest.fixture
def hart():
    return Machine(16 << 20).hart


def rd(hart, name):
    return hart.csr.access(NUM[name], 0, "rs", True, False)


def wr(hart, name, value, op="rw"):
    hart.csr.access(NUM[name], value & M64, op, False, True)


def illegal(fn):
    with pytest.raises(GuestTrap) as e:
        fn()
    return e.value.cause == 2


# --- CSR fields ------------------------------------------------------------------------------------
def test_mstatus_mpp_reserved_value_is_ignored(hart):
    wr(hart, "mstatus", 1 << 11)
    wr(hart, "mstatus", 2 << 11)
    assert rd(hart, "mstatus") & MPP == 1 << 11
    wr(hart, "mstatus", 3 << 11)
    assert rd(hart, "mstatus") & MPP == MPP


def test_sd_follows_fs_and_xl_fields_are_read_only(hart):
    wr(hart, "mstatus", FS)
    assert rd(hart, "mstatus") & SD
    wr(hart, "mstatus", 1 << 13)
    assert not rd(hart, "mstatus") & SD
    wr(hart, "mstatus", 0)
    assert (rd(hart, "mstatus") >> 32) & 0xF == 0b1010   # UXL = SXL = 64
    assert (rd(hart, "sstatus") >> 32) & 0xF == 0b10     # sstatus shows UXL only


def test_sstatus_is_a_masked_view_of_mstatus(hart):
    wr(hart, "mstatus", MIE | MPIE | (1 << 11))
    wr(hart, "sstatus", M64)
    ms = rd(hart, "mstatus")
    assert ms & (MIE | MPIE) == MIE | MPIE and ms & MPP == 1 << 11     # M fields untouched
    for bit in (SIE, SPIE, SPP, 1 << 18, 1 << 19):                    # S fields set
        assert ms & bit
    ss = rd(hart, "sstatus")
    assert not ss & (MIE | MPIE | MPP | (1 << 17) | (1 << 20) | (1 << 21) | (1 << 22))
    wr(hart, "sstatus", 0)
    assert rd(hart, "mstatus") & (MIE | MPIE) == MIE | MPIE


@pytest.mark.parametrize("name", ["mtvec", "stvec"])
def test_tvec_reserved_modes_are_rejected(name, hart):
    wr(hart, name, RAM_BASE | 1)
    for mode in (2, 3):
        wr(hart, name, 0x1000 | mode)
        assert rd(hart, name) == RAM_BASE | 1
    wr(hart, name, 0x2000)
    assert rd(hart, name) == 0x2000


def test_delegation_registers(hart):
    wr(hart, "medeleg", M64)
    assert not rd(hart, "medeleg") >> 11 & 1                       # ecall from M
    assert rd(hart, "medeleg") & ((1 << 12) | (1 << 13) | (1 << 15) | (1 << 8) | (1 << 9))
    wr(hart, "mideleg", M64)
    assert rd(hart, "mideleg") == (1 << 1) | (1 << 5) | (1 << 9)   # S interrupts only


def test_sie_and_sip_are_views_through_mideleg(hart):
    wr(hart, "sie", M64)
    assert rd(hart, "sie") == 0 and rd(hart, "mie") == 0           # nothing delegated
    wr(hart, "mip", 1 << 1)
    assert rd(hart, "sip") == 0
    wr(hart, "mideleg", 1 << 1)
    assert rd(hart, "sip") == 1 << 1
    wr(hart, "sie", M64)
    assert rd(hart, "sie") == 1 << 1 and rd(hart, "mie") == 1 << 1
    wr(hart, "sip", 0)
    assert rd(hart, "mip") & (1 << 1) == 0
    wr(hart, "mip", 1 << 5)                                        # STIP: M may write it
    wr(hart, "mideleg", (1 << 1) | (1 << 5))
    wr(hart, "sip", 0)                                             # ... S may not clear it
    assert rd(hart, "sip") == 1 << 5


@pytest.mark.parametrize("counter,bit", [("cycle", 0), ("time", 1), ("instret", 2), ("hpmcounter3", 3)])
def test_counters_are_gated_by_counteren(counter, bit, hart):
    hart.set_priv(PRV_S)
    assert illegal(lambda: rd(hart, counter))
    hart.set_priv(PRV_M)
    wr(hart, "mcounteren", 1 << bit)
    hart.set_priv(PRV_S)
    rd(hart, counter)
    hart.set_priv(PRV_U)
    assert illegal(lambda: rd(hart, counter))
    hart.set_priv(PRV_S)
    wr(hart, "scounteren", 1 << bit)
    hart.set_priv(PRV_U)
    rd(hart, counter)
    hart.set_priv(PRV_M)
    wr(hart, "mcounteren", 0)
    hart.set_priv(PRV_U)
    assert illegal(lambda: rd(hart, counter))


def test_read_only_zero_csrs(hart):
    assert rd(hart, "mconfigptr") == 0
    assert illegal(lambda: wr(hart, "mconfigptr", 1))
    wr(hart, "menvcfg", M64)
    assert rd(hart, "menvcfg") >> 63 == 0                          # no Sstc: STCE stays 0
    wr(hart, "pmpaddr0", M64)                                      # no PMP regions: accepted, ignored
    wr(hart, "pmpcfg0", 0x1F)
    assert rd(hart, "pmpaddr0") == 0 and rd(hart, "pmpcfg0") == 0


def test_m_csrs_are_out_of_reach_from_s(hart):
    hart.set_priv(PRV_S)
    assert illegal(lambda: rd(hart, "mstatus"))
    rd(hart, "sstatus")
    hart.set_priv(PRV_U)
    assert illegal(lambda: rd(hart, "sstatus"))


# --- traps ---------------------------------------------------------------------------------------------
def test_delegated_exception_enters_s(hart):
    wr(hart, "medeleg", 1 << 8)
    wr(hart, "stvec", 0x8000_1000)
    wr(hart, "mtvec", 0x8000_2000)
    hart.state.mstatus |= SIE
    hart.set_priv(PRV_U)
    enter_trap(hart, 8, 0, 0x1234)
    st = hart.state
    assert (st.priv, st.pc) == (PRV_S, 0x8000_1000)
    assert (rd(hart, "scause"), rd(hart, "sepc"), rd(hart, "stval")) == (8, 0x1234, 0)
    ms = st.mstatus
    assert ms & SPIE and not ms & SIE and not ms & SPP
    hart.csr.sepc = 0x2000
    hart.do_sys("sret", st.pc)
    assert (st.priv, st.pc) == (PRV_U, 0x2000) and st.mstatus & SIE and st.mstatus & SPIE


def test_delegation_never_lowers_the_privilege(hart):
    wr(hart, "medeleg", 1 << 2)
    wr(hart, "mtvec", 0x8000_2000)
    enter_trap(hart, 2, 0x13, 0x4000)               # from M: stays in M
    assert hart.state.priv == PRV_M and rd(hart, "mcause") == 2 and rd(hart, "mtval") == 0x13
    assert hart.state.mstatus & MPP == MPP


def test_undelegated_trap_from_s_and_mret(hart):
    wr(hart, "mtvec", 0x8000_2000)
    hart.state.mstatus |= MIE
    hart.set_priv(PRV_S)
    enter_trap(hart, 9, 0, 0x5000)
    st = hart.state
    assert st.priv == PRV_M and st.mstatus & MPP == 1 << 11 and st.mstatus & MPIE and not st.mstatus & MIE
    hart.csr.mepc = 0x6000
    st.mstatus |= 1 << 17                            # MPRV: cleared by an mret to S
    hart.do_sys("mret", st.pc)
    assert (st.priv, st.pc) == (PRV_S, 0x6000)
    assert st.mstatus & MIE and not st.mstatus & MPP and not st.mstatus & (1 << 17)


@pytest.mark.parametrize("priv,cause", [(PRV_U, 8), (PRV_S, 9), (PRV_M, 11)])
def test_ecall_cause_by_mode(priv, cause, hart):
    hart.mem.store(RAM_BASE, 0x00000073, 4)
    wr(hart, "mtvec", RAM_BASE + 0x100)
    hart.state.pc = RAM_BASE
    hart.set_priv(priv)
    hart.step()
    assert rd(hart, "mcause") == cause and rd(hart, "mepc") == RAM_BASE


@pytest.mark.parametrize("insn,priv,status,traps", [
    (0x10500073, PRV_U, 0, True),            # wfi in U: illegal (like QEMU)
    (0x10500073, PRV_S, 0, False),
    (0x10500073, PRV_S, 1 << 21, True),      # TW
    (0x10200073, PRV_S, 1 << 22, True),      # sret with TSR
    (0x12000073, PRV_S, 1 << 20, True),      # sfence.vma with TVM
    (0x12000073, PRV_U, 0, True),
    (0x30200073, PRV_S, 0, True),            # mret from S
])
def test_privileged_instruction_gating(insn, priv, status, traps, hart):
    hart.mem.store(RAM_BASE, insn, 4)
    wr(hart, "mtvec", RAM_BASE + 0x100)
    hart.state.mstatus |= status
    hart.state.pc = RAM_BASE
    hart.set_priv(priv)
    hart.step()
    trapped = hart.state.priv == PRV_M and hart.state.pc == RAM_BASE + 0x100
    assert trapped == traps
    if traps:
        assert rd(hart, "mcause") == 2 and rd(hart, "mtval") == insn


def test_fetch_page_fault_is_delegated_to_s(hart):
    wr(hart, "medeleg", 1 << 12)
    wr(hart, "stvec", RAM_BASE + 0x200)
    root = RAM_BASE + 0x10000                       # an empty Sv39 root: nothing mapped
    wr(hart, "satp", (8 << 60) | (root >> 12))
    hart.state.pc = 0x4000_0000
    hart.set_priv(PRV_S)
    hart.step()
    assert (rd(hart, "scause"), rd(hart, "sepc"), rd(hart, "stval")) == (12, 0x4000_0000, 0x4000_0000)
    assert hart.state.pc == RAM_BASE + 0x200 and hart.state.priv == PRV_S


# --- interrupts ------------------------------------------------------------------------------------------
ORDER = (11, 3, 7, 9, 1, 5)          # MEI, MSI, MTI, SEI, SSI, STI


def test_interrupt_priority_order(hart):
    wr(hart, "mie", M64)
    hart.state.mstatus |= MIE
    pending = sum(1 << i for i in ORDER)
    hart.irq_lines = pending & ~0x222
    wr(hart, "mip", pending & 0x222)
    wr(hart, "mtvec", RAM_BASE)
    seen = []
    for _ in ORDER:
        assert hart.take_pending_interrupt()
        cause = rd(hart, "mcause")
        assert cause & INTERRUPT_BIT
        seen.append(cause & 0xFF)
        hart.irq_lines &= ~(1 << seen[-1])
        wr(hart, "mip", 1 << seen[-1], "rc")
        hart.state.mstatus |= MIE
    assert tuple(seen) == ORDER
    assert not hart.take_pending_interrupt()


def test_m_interrupts_before_delegated_ones_and_enables(hart):
    wr(hart, "mideleg", 1 << 9)
    wr(hart, "mie", (1 << 9) | (1 << 7))
    hart.irq_lines = (1 << 9) | (1 << 7)            # SEI delegated, MTI not
    wr(hart, "stvec", RAM_BASE + 0x1000)
    wr(hart, "mtvec", RAM_BASE + 0x2000)
    hart.set_priv(PRV_M)
    assert not hart.take_pending_interrupt()        # MIE = 0; SEI is never taken in M
    hart.set_priv(PRV_S)                            # in S: M interrupts always enabled
    assert hart.take_pending_interrupt() and rd(hart, "mcause") == INTERRUPT_BIT | 7
    hart.irq_lines = 1 << 9
    hart.set_priv(PRV_S)
    assert not hart.take_pending_interrupt()        # SIE = 0 in S
    hart.set_priv(PRV_U)                            # ... but always enabled in U
    assert hart.take_pending_interrupt() and rd(hart, "scause") == INTERRUPT_BIT | 9
    assert hart.state.priv == PRV_S


def test_vectored_stvec_for_interrupts_only(hart):
    wr(hart, "mideleg", 1 << 1)
    wr(hart, "medeleg", 1 << 8)
    wr(hart, "sie", 1 << 1)
    wr(hart, "stvec", RAM_BASE | 1)
    wr(hart, "mip", 1 << 1)
    hart.set_priv(PRV_U)
    assert hart.take_pending_interrupt()
    assert hart.state.pc == RAM_BASE + 4
    hart.set_priv(PRV_U)
    enter_trap(hart, 8, 0, 0x100)
    assert hart.state.pc == RAM_BASE


def test_mip_read_modify_write_ignores_the_plic_seip_line(hart):
    """csrc mip (as OpenSBI does for STIP) while the PLIC holds SEIP high must not latch SEIP
    into the software bit: once the line drops, SEIP must read clear again."""
    wr(hart, "mip", 1 << 5)                                        # STIP set by M-mode
    hart.irq_lines |= 1 << 9                                       # PLIC raises SEIP
    assert rd(hart, "mip") & (1 << 9)                              # reads show the line
    wr(hart, "mip", 1 << 5, "rc")                                  # clear STIP
    wr(hart, "mip", 1 << 1, "rs")                                  # set SSIP
    hart.irq_lines &= ~(1 << 9)                                    # the PLIC drops the line
    assert rd(hart, "mip") == 1 << 1
    wr(hart, "mip", 1 << 9, "rs")                                  # the software bit itself works
    assert rd(hart, "mip") & (1 << 9)
