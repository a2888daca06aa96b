"""The MMU (rvjit.cpu.mmu) on page tables built in a Machine's RAM: walks in Sv39/Sv48/Sv57, every
fault kind, A/D updates, SUM/MXR/MPRV, satp WARL, and that no stale translation survives a remap
followed by sfence.vma (interpreter and JIT), a satp write of the current value, or a privilege /
mstatus change. Address-space switches: tests/test_tlb_asid.py."""
import io
import time

import pytest

from rvjit.backend.runloop import run_interpreted, run_native
from rvjit.cpu.mmu import PTE_V, PTE_R, PTE_W, PTE_X, PTE_U, PTE_A, PTE_D
from rvjit.cpu.state import ACCESS_LOAD, ACCESS_STORE, ACCESS_AMO, ACCESS_LR, NO_TAG, TLB_ENTRIES
from rvjit.cpu.trap import GuestTrap, PRV_M, PRV_S, PRV_U
from rvjit.machine import Machine, RAM_BASE, make_translator

FETCH = -1
MODES = {"sv39": (8, 3), "sv48": (9, 4), "sv57": (10, 5)}
RWX = PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
RW = PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
SUM, MXR, MPRV = 1 << 18, 1 << 19, 1 << 17
PAGE_FAULT = {FETCH: 12, ACCESS_LOAD: 13, ACCESS_LR: 13, ACCESS_STORE: 15, ACCESS_AMO: 15}
ACCESS_FAULT = {FETCH: 1, ACCESS_LOAD: 5, ACCESS_STORE: 7}


class Pager:
    """Page tables in guest RAM, allocated from RAM_BASE + 4 MiB."""

    def __init__(self, machine, mode="sv39"):
        self.m, self.ram = machine, machine.ram
        self.mode, self.levels = MODES[mode]
        self.next = RAM_BASE + (4 << 20)
        self.root = self.alloc()

    def alloc(self):
        page, self.next = self.next, self.next + 4096
        self.ram.write(page, bytes(4096))
        return page

    def map(self, va, pa, flags, level=0):
        """Map va -> pa with a leaf at `level`; returns the PTE's physical address."""
        table = self.root
        for lvl in range(self.levels - 1, level, -1):
            entry = table + 8 * ((va >> (12 + 9 * lvl)) & 511)
            pte = self.ram.load(entry, 8)
            if not pte & PTE_V:
                pte = (self.alloc() >> 2) | PTE_V
                self.ram.store(entry, pte, 8)
            table = (pte >> 10) << 12
        entry = table + 8 * ((va >> (12 + 9 * level)) & 511)
        self.ram.store(entry, (pa >> 2) | flags, 8)
        return entry

    def satp(self):
        return (self.mode << 60) | (self.root >> 12)

    def enable(self, priv=PRV_S):
        hart = self.m.hart
        hart.write_satp(self.satp())
        hart.set_priv(priv)
        return hart


def setup(mode="sv39"):
    m = Machine(16 << 20)
    pager = Pager(m, mode)
    return m, pager


def fault_of(hart, va, access):
    with pytest.raises(GuestTrap) as e:
        hart.mmu.translate(va, access)
    return e.value.cause, e.value.tval


VA = 0x4000_0000
DATA = RAM_BASE + 0x10_0000


# --- walks ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_4k_page_and_superpage_at_every_level(mode):
    m, p = setup(mode)
    p.map(VA, DATA, RW)
    for level in range(1, p.levels):
        shift = 12 + 9 * level
        pa = (RAM_BASE >> shift) << shift
        p.map(5 << shift, pa, RW, level)
    hart = p.enable()
    assert hart.mmu.translate(VA + 0x123, ACCESS_LOAD) == DATA + 0x123
    for level in range(1, p.levels):
        shift = 12 + 9 * level
        pa = (RAM_BASE >> shift) << shift
        off = (DATA - pa) + 0x456
        assert hart.mmu.translate((5 << shift) + off, ACCESS_STORE) == DATA + 0x456


@pytest.mark.parametrize("mode", MODES)
def test_misaligned_superpage_faults(mode):
    m, p = setup(mode)
    for level in range(1, p.levels):
        p.map(6 << (12 + 9 * level), RAM_BASE + 0x1000, RW, level)
    hart = p.enable()
    for level in range(1, p.levels):
        va = 6 << (12 + 9 * level)
        assert fault_of(hart, va, ACCESS_LOAD) == (13, va)


@pytest.mark.parametrize("mode", MODES)
def test_canonical_addresses(mode):
    m, p = setup(mode)
    va_bits = 12 + 9 * p.levels
    high = (1 << 64) - (1 << (va_bits - 1))          # lowest canonical upper-half address
    p.map(high, DATA, RW)
    hart = p.enable()
    assert hart.mmu.translate(high + 8, ACCESS_LOAD) == DATA + 8
    for bad in (1 << (va_bits - 1), high - 4096, 1 << 63, (1 << va_bits) | 0x1000):
        for access in (ACCESS_LOAD, ACCESS_STORE, FETCH):
            assert fault_of(hart, bad, access) == (PAGE_FAULT[access], bad)


@pytest.mark.parametrize("access", [FETCH, ACCESS_LOAD, ACCESS_STORE, ACCESS_AMO, ACCESS_LR])
@pytest.mark.parametrize("bad_pte", ["invalid", "w_without_r", "n_bit", "pbmt", "reserved",
                                     "pointer_at_last_level"])
def test_page_faults(access, bad_pte):
    m, p = setup()
    flags = {"invalid": RWX & ~PTE_V, "w_without_r": PTE_V | PTE_W | PTE_X | PTE_A | PTE_D,
             "n_bit": RWX | 1 << 63, "pbmt": RWX | 1 << 61, "reserved": RWX | 1 << 54,
             "pointer_at_last_level": PTE_V}[bad_pte]
    p.map(VA, DATA, flags)
    hart = p.enable()
    assert fault_of(hart, VA + 4, access) == (PAGE_FAULT[access], VA + 4)


@pytest.mark.parametrize("access,cause", [(ACCESS_LOAD, 13), (ACCESS_LR, 13), (ACCESS_STORE, 15),
                                          (ACCESS_AMO, 15), (FETCH, 12)])
def test_permission_bits(access, cause):
    m, p = setup()
    needed = {FETCH: PTE_X, ACCESS_LOAD: PTE_R, ACCESS_LR: PTE_R, ACCESS_STORE: PTE_W | PTE_R,
              ACCESS_AMO: PTE_W | PTE_R}[access]
    for k, perms in enumerate([PTE_R, PTE_R | PTE_W, PTE_X, PTE_R | PTE_X]):
        p.map(VA + k * 4096, DATA, PTE_V | PTE_A | PTE_D | perms)
    hart = p.enable()
    for k, perms in enumerate([PTE_R, PTE_R | PTE_W, PTE_X, PTE_R | PTE_X]):
        va = VA + k * 4096
        if perms & needed == needed:
            assert hart.mmu.translate(va, access) == DATA
        else:
            assert fault_of(hart, va, access) == (cause, va)


def test_pte_outside_ram_is_an_access_fault():
    m, p = setup()
    hart = m.hart
    hart.write_satp((8 << 60) | (0x1000 >> 12))      # root table at 0x1000: nothing there
    hart.set_priv(PRV_S)
    for access, cause in ACCESS_FAULT.items():
        assert fault_of(hart, VA, access) == (cause, VA)
    assert fault_of(hart, VA, ACCESS_AMO) == (7, VA)


def test_user_pages_sum_and_mxr():
    m, p = setup()
    p.map(VA, DATA, RWX | PTE_U)                     # a user page
    p.map(VA + 4096, DATA, RWX)                      # a supervisor page
    p.map(VA + 8192, DATA, PTE_V | PTE_X | PTE_A)    # execute-only
    hart = p.enable(PRV_S)
    st = hart.state
    assert fault_of(hart, VA, ACCESS_LOAD) == (13, VA)
    assert fault_of(hart, VA, ACCESS_STORE) == (15, VA)
    hart.csr.access(0x100, SUM, "rs", False, True)    # csrs sstatus, SUM
    assert hart.mmu.translate(VA, ACCESS_LOAD) == DATA
    assert hart.mmu.translate(VA, ACCESS_STORE) == DATA
    assert fault_of(hart, VA, FETCH) == (12, VA)      # never, even with SUM
    assert fault_of(hart, VA + 8192, ACCESS_LOAD) == (13, VA + 8192)
    hart.csr.access(0x100, MXR, "rs", False, True)
    assert hart.mmu.translate(VA + 8192, ACCESS_LOAD) == DATA
    assert fault_of(hart, VA + 8192, ACCESS_STORE) == (15, VA + 8192)
    hart.set_priv(PRV_U)
    assert hart.mmu.translate(VA, FETCH) == DATA
    assert hart.mmu.translate(VA, ACCESS_LOAD) == DATA
    assert fault_of(hart, VA + 4096, ACCESS_LOAD) == (13, VA + 4096)
    assert fault_of(hart, VA + 4096, FETCH) == (12, VA + 4096)
    assert st.mstatus & SUM


def test_mprv_uses_mpp_for_loads_and_stores_only():
    m, p = setup()
    p.map(VA, DATA, RW)
    hart = p.enable(PRV_M)
    assert hart.mmu.translate(VA, ACCESS_LOAD) == VA  # M-mode: identity
    assert hart.mem.load(RAM_BASE, 8) == 0            # fills the TLB for page RAM_BASE (identity)
    hart.csr.access(0x300, MPRV | (1 << 11), "rs", False, True)   # MPRV, MPP = S
    assert hart.mmu.translate(VA, ACCESS_LOAD) == DATA
    assert hart.mmu.translate(VA, ACCESS_STORE) == DATA
    assert hart.mmu.translate(VA, FETCH) == VA        # fetches use the current mode
    assert fault_of(hart, RAM_BASE, ACCESS_LOAD) == (13, RAM_BASE)
    # the identity entry filled in M-mode no longer matches: tags carry the translation mode
    assert hart.state.tlb[(RAM_BASE >> 12) % TLB_ENTRIES].tag_read != (RAM_BASE >> 12) | hart.state.tlb_mode
    hart.csr.access(0x300, 3 << 11, "rs", False, True)            # MPP = M: identity again
    assert hart.mmu.translate(VA, ACCESS_LOAD) == VA


def test_accessed_and_dirty_bits_are_set_in_memory():
    m, p = setup()
    entries = [p.map(VA + k * 4096, DATA, PTE_V | PTE_R | PTE_W | PTE_X) for k in range(3)]
    hart = p.enable()
    ram = m.ram
    hart.mem.load(VA, 4)
    assert ram.load(entries[0], 8) & (PTE_A | PTE_D) == PTE_A
    hart.mem.store(VA, 1, 4)
    assert ram.load(entries[0], 8) & (PTE_A | PTE_D) == PTE_A | PTE_D
    hart.mem.load(VA + 4096, 4, ACCESS_AMO)
    assert ram.load(entries[1], 8) & (PTE_A | PTE_D) == PTE_A | PTE_D
    hart.mmu.translate(VA + 8192, FETCH)
    assert ram.load(entries[2], 8) & (PTE_A | PTE_D) == PTE_A


def test_access_fault_reports_the_virtual_address():
    m, p = setup()
    p.map(VA, 0x0800_0000, RW)                       # nothing at that physical address
    hart = p.enable()
    for call, cause in ((lambda: hart.mem.load(VA + 8, 8), 5), (lambda: hart.mem.store(VA + 8, 0, 8), 7)):
        with pytest.raises(GuestTrap) as e:
            call()
        assert (e.value.cause, e.value.tval) == (cause, VA + 8)


def test_fetch_straddling_into_an_unmapped_page_faults_with_its_address():
    m, p = setup()
    p.map(VA, DATA, RWX)
    hart = p.enable()
    m.ram.store(DATA + 0xFFE, 0x0013, 2)             # the low half of a 4-byte instruction
    with pytest.raises(GuestTrap) as e:
        hart.mem.fetch_paddr(VA + 0xFFE)
    assert (e.value.cause, e.value.tval) == (12, VA + 0x1000)
    m.ram.store(DATA + 0xFFE, 0x0001, 2)             # c.nop: needs nothing more
    assert hart.mem.fetch_paddr(VA + 0xFFE) == DATA + 0xFFE


# --- satp -------------------------------------------------------------------------------------------
def test_satp_warl():
    m = Machine(16 << 20)
    hart = m.hart
    read = lambda: hart.csr.access(0x180, 0, "rs", True, False)   # noqa: E731
    good = (9 << 60) | (0xFFFF << 44) | 0x80123
    hart.csr.access(0x180, good, "rw", False, True)
    assert read() == good                           # ASIDLEN = 16
    for mode in (1, 2, 7, 11, 12, 15):
        hart.csr.access(0x180, (mode << 60) | 5, "rw", False, True)
        assert read() == good                       # unsupported mode: the write is ignored
    for mode in (8, 10, 0):
        hart.csr.access(0x180, (mode << 60) | 0x80000, "rw", False, True)
        assert read() == (mode << 60) | 0x80000


def test_satp_access_traps_under_tvm():
    m = Machine(16 << 20)
    hart = m.hart
    hart.state.mstatus |= 1 << 20
    hart.set_priv(PRV_S)
    with pytest.raises(GuestTrap):
        hart.csr.access(0x180, 0, "rs", True, False)


# --- stale translations ---------------------------------------------------------------------------
def _tlb_tags(hart):
    return {(e.tag_read, e.tag_write) for e in hart.state.tlb}


def _event(hart, p, event):
    if event == "sfence":
        hart.do_sys("sfence.vma", hart.state.pc, 0x12000073)
    elif event == "satp":
        hart.csr.access(0x180, p.satp(), "rw", False, True)
    elif event == "priv":
        hart.set_priv(PRV_U)
    elif event == "sum":
        hart.csr.access(0x100, SUM, "rs", False, True)
    else:
        hart.set_priv(PRV_M)
        hart.csr.access(0x300, MPRV | (1 << 11), "rs", False, True)   # MPRV with MPP = S ...
        hart.mem.store(VA, 7, 8)
        hart.csr.mepc = hart.state.pc
        hart.state.mstatus |= 3 << 11                # ... mret to M: MPP becomes U
        hart.do_sys("mret", hart.state.pc, 0x30200073)



@pytest.mark.parametrize("dirty, level", [(True, 0), (False, 0), (True, 1), (False, 1)])
def test_a_load_opens_the_tlb_to_stores_only_through_a_dirty_writable_pte(dirty, level):
    """A load through a writable PTE whose D bit is set lets generated code store to the page
    directly (a store would change nothing); without D the first store must still walk and set D.
    Also for superpages, whose walks serve every page in them."""
    m, p = setup()
    va, pa = (VA, DATA) if level == 0 else (VA + (2 << 20), RAM_BASE + (8 << 20))
    flags = PTE_V | PTE_R | PTE_W | PTE_A | (PTE_D if dirty else 0)
    entry = p.map(va, pa, flags, level)
    hart = p.enable()
    tlb, mode = hart.state.tlb, hart.state.tlb_mode
    for page in range(2 if level else 1):
        vaddr = va + page * 4096
        hart.mem.load(vaddr, 8)
        e = tlb[(vaddr >> 12) % TLB_ENTRIES]
        assert e.tag_read == (vaddr >> 12) | mode
        assert (e.tag_write == (vaddr >> 12) | mode) == dirty
    assert m.ram.load(entry, 8) & PTE_D == (PTE_D if dirty else 0)
    hart.mem.store(va, 5, 8)
    assert m.ram.load(entry, 8) & PTE_D and m.ram.load(pa, 8) == 5
    assert tlb[(va >> 12) % TLB_ENTRIES].tag_write == (va >> 12) | mode


def test_a_load_never_opens_a_read_only_or_code_page_to_stores():
    m, p = setup()
    p.map(VA, DATA, PTE_V | PTE_R | PTE_A | PTE_D)
    p.map(VA + 4096, DATA + 4096, RW)
    hart = p.enable()
    hart.mem.mark_code(DATA + 4096, 16)             # translated code lives there
    for vaddr in (VA, VA + 4096):
        hart.mem.load(vaddr, 8)
        assert hart.state.tlb[(vaddr >> 12) % TLB_ENTRIES].tag_write == NO_TAG


@pytest.mark.parametrize("event", ["priv", "sum", "mret"])
def test_mode_changes_leave_earlier_entries_unmatchable(event):
    """TLB entries carry the mode they were filled in: after a switch they stay (for the way
    back) but cannot match, so no access uses permissions checked for another mode."""
    m, p = setup()
    p.map(VA, DATA, RW)
    hart = p.enable()
    hart.mem.store(VA, 7, 8)
    vpn = VA >> 12
    e = hart.state.tlb[vpn % TLB_ENTRIES]
    filled = e.tag_read
    assert filled == vpn | hart.state.tlb_mode
    _event(hart, p, event)
    assert e.tag_read != vpn | hart.state.tlb_mode and e.tag_write != vpn | hart.state.tlb_mode


def test_user_mode_cannot_use_a_supervisor_entry():
    m, p = setup()
    p.map(VA, DATA, RW)                              # not a U page
    hart = p.enable()
    hart.mem.store(VA, 7, 8)                         # S-mode fills the TLB
    hart.set_priv(PRV_U)
    assert fault_of(hart, VA, ACCESS_LOAD) == (13, VA)


def test_sfence_of_one_page_keeps_the_others():
    m, p = setup()
    p.map(VA, DATA, RW)
    p.map(VA + 0x1000, DATA + 0x1000, RW)
    hart = p.enable()
    hart.mem.store(VA, 7, 8)
    hart.mem.store(VA + 0x1000, 7, 8)
    hart.state.x[10] = VA
    hart.do_sys("sfence.vma", hart.state.pc, 0x12050073)    # sfence.vma a0, zero
    tlb = hart.state.tlb
    assert tlb[(VA >> 12) % TLB_ENTRIES].tag_read == NO_TAG
    assert tlb[((VA >> 12) + 1) % TLB_ENTRIES].tag_read != NO_TAG
    assert VA >> 12 not in hart.mmu.cache and (VA >> 12) + 1 in hart.mmu.cache


@pytest.mark.parametrize("event", ["sfence", "satp"])
def test_events_flush_the_tlb_and_remembered_walks(event):
    m, p = setup()
    p.map(VA, DATA, RW)
    hart = p.enable()
    hart.mem.store(VA, 7, 8)
    assert _tlb_tags(hart) != {(NO_TAG, NO_TAG)} and hart.mmu.cache
    _event(hart, p, event)
    assert _tlb_tags(hart) == {(NO_TAG, NO_TAG)} and not hart.mmu.cache


def _encode(kind, rd=0, rs1=0, rs2=0, imm=0):
    imm &= 0xFFF if kind in "ILS" else 0x1FFF
    if kind == "I":      # addi
        return imm << 20 | rs1 << 15 | rd << 7 | 0x13
    if kind == "L":      # ld
        return imm << 20 | rs1 << 15 | 3 << 12 | rd << 7 | 0x03
    if kind == "S":      # sd
        return (imm >> 5) << 25 | rs2 << 20 | rs1 << 15 | 3 << 12 | (imm & 31) << 7 | 0x23
    # B: bne
    return ((imm >> 12) & 1) << 31 | ((imm >> 5) & 63) << 25 | rs2 << 20 | rs1 << 15 | 1 << 12 \
        | ((imm >> 1) & 15) << 8 | ((imm >> 11) & 1) << 7 | 0x63


A0, A1, A2, A3, A4, A5, A6, A7, T3 = 10, 11, 12, 13, 14, 15, 16, 17, 28
# loop 1: load and store through VA; then remap VA (sd of the new PTE), sfence.vma; loop 2 again
REMAP_PROGRAM = [
    _encode("L", A2, A0, imm=0), _encode("S", rs1=A0, rs2=A7, imm=8), _encode("I", A1, A1, imm=-1),
    _encode("B", rs1=A1, imm=-12),
    _encode("S", rs1=A5, rs2=A4, imm=0), 0x12000073,
    _encode("L", A3, A0, imm=0), _encode("S", rs1=A0, rs2=T3, imm=8), _encode("I", A6, A6, imm=-1),
    _encode("B", rs1=A6, imm=-12),
    0x0000006F,                                        # j . (idle)
]


REMAP_INSNS = 4 * 300 * 2 + 2 + 20                   # both loops and the remap, then idling


def remap_setup(program=REMAP_PROGRAM):
    """A machine in S-mode about to run `program` (REMAP_PROGRAM's registers): VA maps to `old`
    (holding 111) and a5 points at its PTE, a4 is the PTE mapping `new` (holding 222)."""
    m, p = setup()
    code = RAM_BASE + 0x20_0000
    p.map(code, code, RWX)
    p.map(RAM_BASE, RAM_BASE, RWX, level=2)          # RAM identity (the PTE page is written)
    old, new = DATA, DATA + 0x1000
    pte = p.map(VA, old, RW)
    m.ram.store(old, 111, 8)
    m.ram.store(new, 222, 8)
    for k, word in enumerate(program):
        m.ram.store(code + 4 * k, word, 4)
    hart = p.enable()
    x = hart.state.x
    x[A0], x[A1], x[A6], x[A7], x[T3] = VA, 300, 300, 0x55, 0x66
    x[A4], x[A5] = (new >> 2) | RW, pte
    hart.state.pc = code
    return m, hart, code, old, new


@pytest.mark.parametrize("engine", ["interpreter", "jit"])
def test_remap_with_sfence_vma_is_seen_by_hot_code(engine):
    m, hart, code, old, new = remap_setup()
    x = hart.state.x
    insns = REMAP_INSNS
    if engine == "jit":
        run_native(m, make_translator(m), max_insns=insns)
    else:
        run_interpreted(m, max_insns=insns)
    assert hart.state.pc == code + 40
    assert (x[A2], x[A3]) == (111, 222)
    assert (m.ram.load(old + 8, 8), m.ram.load(new + 8, 8)) == (0x55, 0x66)
    e = hart.state.tlb[(VA >> 12) % TLB_ENTRIES]
    assert e.tag_write == (VA >> 12) | hart.state.tlb_mode and (VA + e.addend + RAM_BASE) % (1 << 64) == new


def test_jit_jump_cache_follows_a_remapped_code_page():
    m, p = setup()
    caller, callee_va = RAM_BASE + 0x20_0000, 0x5000_0000
    off = 0x100                                      # caller and callee in distinct jump-cache slots
    pa1, pa2 = RAM_BASE + 0x30_0000, RAM_BASE + 0x30_1000
    p.map(caller, caller, RWX)
    pte = p.map(callee_va, pa1, RWX)
    jalr_ra_s1 = 9 << 15 | 1 << 7 | 0x67
    ret = 1 << 15 | 0x67
    for k, word in enumerate([jalr_ra_s1, 0xFFDFF06F]):          # call s1; j -4
        m.ram.store(caller + 4 * k, word, 4)
    for pa, step in ((pa1, 7), (pa2, 1000)):
        m.ram.store(pa + off, _encode("I", A0, A0, imm=step), 4)
        m.ram.store(pa + off + 4, ret, 4)
    hart = p.enable()
    hart.state.x[9] = callee_va + off
    hart.state.pc = caller
    translator = make_translator(m)
    run_native(m, translator, max_insns=400)
    before = hart.state.x[A0]
    assert before > 0 and before % 7 == 0
    m.ram.store(pte, (pa2 >> 2) | RWX, 8)
    hart.flush_translation_caches()                  # what sfence.vma does
    run_native(m, translator, max_insns=800)
    delta = hart.state.x[A0] - before
    assert delta >= 2000 and delta % 1000 == 0



def test_sfence_of_an_address_in_a_superpage_forgets_the_whole_superpage_only():
    """sfence.vma rs1 inside a 2 MiB superpage: every page of it translates anew (TLB, remembered
    walks, jump cache), pages elsewhere keep their entries; code there is retranslated."""
    m, p = setup()
    sp_va, old_pa, new_pa = 0x4020_0000, RAM_BASE + (8 << 20), RAM_BASE + (10 << 20)
    callee = sp_va + 0x3000                          # code on the superpage's fourth page
    other = RAM_BASE + 0x20_0000                     # a 4 KiB page elsewhere: the caller
    off = 0x100
    p.map(other, other, RWX)
    pte = p.map(sp_va, old_pa, RWX, 1)
    jalr_ra_s1, ret = 9 << 15 | 1 << 7 | 0x67, 1 << 15 | 0x67
    for k, word in enumerate([jalr_ra_s1, 0xFFDFF06F]):          # call s1; j -4
        m.ram.store(other + 4 * k, word, 4)
    for pa, step in ((old_pa, 7), (new_pa, 1000)):
        m.ram.store(pa + 0x3000 + off, _encode("I", A0, A0, imm=step), 4)
        m.ram.store(pa + 0x3000 + off + 4, ret, 4)
    p.map(VA, DATA, RW)                              # a data page elsewhere
    hart = p.enable()
    hart.mem.store(sp_va, 1, 8)                      # data on the superpage's first page
    hart.mem.load(VA, 8)
    hart.state.x[9], hart.state.pc = callee + off, other
    translator = make_translator(m)
    run_native(m, translator, max_insns=400)
    before = hart.state.x[A0]
    assert before > 0 and before % 7 == 0
    tlb, mode = hart.state.tlb, hart.state.tlb_mode
    assert tlb[(sp_va >> 12) % TLB_ENTRIES].tag_read == (sp_va >> 12) | mode
    m.ram.store(pte, (new_pa >> 2) | RWX, 8)         # remap the superpage ...
    hart.state.x[11] = sp_va + 0x1000                # ... and sfence.vma one of its other pages
    hart.do_sys("sfence.vma", hart.state.pc, 0x12058073)      # sfence.vma a1, zero
    assert tlb[(sp_va >> 12) % TLB_ENTRIES].tag_read == NO_TAG
    assert tlb[(VA >> 12) % TLB_ENTRIES].tag_read == (VA >> 12) | mode
    assert hart.mmu.translate(sp_va, ACCESS_LOAD) == new_pa
    run_native(m, translator, max_insns=hart.instret() + 400)
    delta = hart.state.x[A0] - before
    assert delta >= 2000 and delta % 1000 == 0

def test_priv_guests_on_interpreter(tmp_path):
    """The guests/priv programs on the reference interpreter (fewer hot-loop iterations)."""
    from guests.build import PRIV_DIR, build_file, compiler
    if compiler() is None:
        pytest.skip("riscv64-unknown-elf-gcc not installed")
    for mode, (satp_mode, levels) in MODES.items():
        src = tmp_path / f"{mode}.S"
        src.write_text(f"#define SATP_MODE {satp_mode}\n#define LEVELS {levels}\n#define HOT 300\n"
                       f'#include "{PRIV_DIR / "vm_tests.h"}"\n')
        assert _interpret(build_file(src, tmp_path / f"{mode}.elf")) == 0, mode
    assert _interpret(build_file(PRIV_DIR / "sintr.S", tmp_path / "sintr.elf")) == 0


def _interpret(elf):
    m = Machine(128 << 20, console=io.BytesIO())
    m.load_elf(str(elf))
    m.deadline = time.monotonic() + 120
    run_interpreted(m, max_insns=5_000_000)
    return m.exit_code
