"""Translations kept across address-space switches (rvjit.cpu.mmu, spec 4.2.1): a satp write to
another address space keeps the old one's translations for the way back and the global ones for
everyone; sfence.vma with an ASID forgets exactly that ASID's non-global translations; sfence.vma
of an address forgets it in every address space. A random test checks that, as long as each PTE
change is followed by an sfence.vma the spec says covers it, every access translates as a fresh
walk would, in the MMU and in the TLB generated code uses."""
import random

import pytest

from rvjit.backend.runloop import run_native
from rvjit.cpu.mmu import Mmu, PTE_G, PTE_X
from rvjit.cpu.state import ACCESS_LOAD, ACCESS_STORE, NO_TAG, TLB_ENTRIES
from rvjit.cpu.trap import GuestTrap, PRV_S
from rvjit.machine import RAM_BASE, make_translator
from test_mmu import RW, RWX, VA, DATA, A0, Pager, setup, _encode

ASID_SHIFT = 44


def _space(m, pager_of_first, asid):
    """Another page-table root in the same RAM (allocated after the first pager's pages)."""
    p = Pager.__new__(Pager)
    p.m, p.ram, p.mode, p.levels = m, m.ram, pager_of_first.mode, pager_of_first.levels
    p.next = pager_of_first.next + (64 << 12) * asid
    p.root = p.alloc()
    p.asid = asid
    return p


def _satp(p, asid):
    return p.satp() | asid << ASID_SHIFT


def _write_satp(hart, value):
    hart.csr.access(0x180, value, "rw", False, True)


def _sfence(hart, rs1_value=None, asid=None):
    """sfence.vma with a1 = address and/or a2 = asid (x0 where None)."""
    rs1, rs2 = (11 if rs1_value is not None else 0), (12 if asid is not None else 0)
    if rs1:
        hart.state.x[11] = rs1_value
    if rs2:
        hart.state.x[12] = asid
    hart.do_sys("sfence.vma", hart.state.pc, 0x12000073 | rs1 << 15 | rs2 << 20)


def _native_entry(hart, va):
    e = hart.state.tlb[(va >> 12) % TLB_ENTRIES]
    return e if e.tag_read == (va >> 12) | hart.state.tlb_mode else None


def _two_spaces():
    m, a = setup()
    b = _space(m, a, 2)
    for p in (a, b):
        p.map(RAM_BASE, RAM_BASE, RWX | PTE_G, level=2)          # the "kernel": global
    a.map(VA, DATA, RW)
    b.map(VA, DATA + 0x1000, RW)
    hart = m.hart
    _write_satp(hart, _satp(a, 1))
    hart.set_priv(PRV_S)
    return m, a, b, hart


def test_switching_back_reuses_the_old_translations_and_keeps_global_ones():
    m, a, b, hart = _two_spaces()
    kernel_va = RAM_BASE + 0x5000
    assert hart.mmu.translate(VA, ACCESS_LOAD) == DATA
    hart.mem.load(VA, 8)
    hart.mem.load(kernel_va, 8)
    assert _native_entry(hart, VA) and _native_entry(hart, kernel_va)
    a.map(VA, DATA + 0x2000, RW)                     # a stale change: no sfence.vma yet
    _write_satp(hart, _satp(b, 2))
    assert _native_entry(hart, VA) is None           # A's own entry is gone from the TLB ...
    assert _native_entry(hart, kernel_va)            # ... the global one stays
    assert hart.mmu.translate(VA, ACCESS_LOAD) == DATA + 0x1000
    _write_satp(hart, _satp(a, 1))
    assert hart.mmu.translate(VA, ACCESS_LOAD) == DATA   # allowed: no sfence.vma since the change
    _sfence(hart, asid=1)
    assert hart.mmu.translate(VA, ACCESS_LOAD) == DATA + 0x2000


def test_sfence_with_an_asid_forgets_only_that_address_space():
    m, a, b, hart = _two_spaces()
    hart.mem.load(VA, 8)                             # A (asid 1) remembers VA
    _write_satp(hart, _satp(b, 2))
    hart.mem.load(VA, 8)                             # B (asid 2) too
    a.map(VA, DATA + 0x2000, RW)
    b.map(VA, DATA + 0x3000, RW)
    _sfence(hart, asid=1)                            # while in B, for A only
    assert _native_entry(hart, VA) is not None       # B's entry stays
    assert hart.mmu.translate(VA, ACCESS_LOAD) == DATA + 0x1000
    _write_satp(hart, _satp(a, 1))
    assert hart.mmu.translate(VA, ACCESS_LOAD) == DATA + 0x2000


def test_sfence_with_an_asid_keeps_global_translations():
    m, a, b, hart = _two_spaces()
    kernel_va = RAM_BASE + 0x5000
    hart.mem.load(kernel_va, 8)
    hart.mem.load(VA, 8)
    _sfence(hart, asid=1)
    assert _native_entry(hart, kernel_va) and _native_entry(hart, VA) is None


def test_sfence_of_an_address_reaches_address_spaces_switched_away_from():
    m, a, b, hart = _two_spaces()
    hart.mem.load(VA, 8)
    _write_satp(hart, _satp(b, 2))
    a.map(VA, DATA + 0x2000, RW)
    _sfence(hart, VA)                                # no ASID: every address space
    _write_satp(hart, _satp(a, 1))
    assert hart.mmu.translate(VA, ACCESS_LOAD) == DATA + 0x2000


def test_a_new_mode_forgets_global_translations_too():
    m, a, b, hart = _two_spaces()
    kernel_va = RAM_BASE + 0x5000
    hart.mem.load(kernel_va, 8)
    _write_satp(hart, 0)                             # Bare
    assert _native_entry(hart, kernel_va) is None and not hart.mmu.global_cache


def test_jit_runs_each_address_spaces_own_code_at_the_same_address():
    """The same virtual pc holds different code in two address spaces: switching satp back and
    forth in hot code (no sfence.vma, as Linux with ASIDs) must run the right code each time."""
    m, a = setup()
    b = _space(m, a, 2)
    caller, callee_va = RAM_BASE + 0x20_0000, 0x5000_0000
    off = 0x100
    pa_a, pa_b = RAM_BASE + 0x30_0000, RAM_BASE + 0x30_1000
    for p in (a, b):
        p.map(caller, caller, RWX | PTE_G)
    a.map(callee_va, pa_a, RWX)
    b.map(callee_va, pa_b, RWX)
    csrw_satp = lambda rs: 0x180 << 20 | rs << 15 | 1 << 12 | 0x73    # noqa: E731
    jalr_ra_s1, ret = 9 << 15 | 1 << 7 | 0x67, 1 << 15 | 0x67
    program = [csrw_satp(18), jalr_ra_s1, csrw_satp(19), jalr_ra_s1, 0xFF1FF06F]   # ...; j -16
    for k, word in enumerate(program):
        m.ram.store(caller + 4 * k, word, 4)
    for pa, step in ((pa_a, 7), (pa_b, 1000)):
        m.ram.store(pa + off, _encode("I", A0, A0, imm=step), 4)
        m.ram.store(pa + off + 4, ret, 4)
    hart = m.hart
    _write_satp(hart, _satp(a, 1))
    hart.set_priv(PRV_S)
    x = hart.state.x
    x[9], x[18], x[19] = callee_va + off, _satp(a, 1), _satp(b, 2)
    hart.state.pc = caller
    run_native(m, make_translator(m), max_insns=3000)
    rounds, extra = divmod(x[A0], 1007)              # each round: one call in A, one in B
    assert rounds > 100 and extra in (0, 7)


# --- random page tables: retained translations never outlive a covering sfence.vma --------------
SPACES = 3
PAGES = 24                                    # virtual pages per kind (user / kernel)
USER_BASE, KERNEL_BASE = 0x10_0000, 0x4000_0000


def _random_flags(rng, global_mapping):
    flags = rng.choice([RW, RWX, RW & ~(1 << 7), RW & ~(1 << 6), 0x1 | 0x2 | 0x40, 0x1 | PTE_X | 0x40,
                        0x4 | 0x1, 0])          # dirty/accessed clear, read-only, exec-only, W-only, invalid
    return flags | (PTE_G if global_mapping and flags else 0)


@pytest.mark.parametrize("seed", range(6))
def test_random_tables_translate_as_fresh_walks(seed):
    rng = random.Random(seed)
    m, first = setup()
    spaces = [first] + [_space(m, first, k) for k in range(1, SPACES)]
    for asid, p in enumerate(spaces):
        p.asid = asid + 1
    frames = [RAM_BASE + 0x80_0000 + 0x1000 * k for k in range(64)]   # clear of the tables

    def remap_user(p, page):
        p.map(USER_BASE + page * 4096, rng.choice(frames), _random_flags(rng, False))

    def remap_kernel(page):
        pa, flags = rng.choice(frames), _random_flags(rng, True)
        for p in spaces:                             # global: the same in every address space
            p.map(KERNEL_BASE + page * 4096, pa, flags)

    for p in spaces:
        for page in range(PAGES):
            remap_user(p, page)
    for page in range(PAGES):
        remap_kernel(page)
    hart = m.hart
    current = spaces[0]
    _write_satp(hart, _satp(current, current.asid))
    hart.set_priv(PRV_S)
    fresh = Mmu(hart, m.ram)
    for step in range(3000):
        r = rng.random()
        if r < 0.08:
            current = rng.choice(spaces)
            _write_satp(hart, _satp(current, current.asid))
        elif r < 0.12:                               # remap a user page, then a covering sfence
            p, page = rng.choice(spaces), rng.randrange(PAGES)
            remap_user(p, page)
            how = rng.randrange(3)
            if how == 0:
                _sfence(hart, USER_BASE + page * 4096, asid=rng.choice([None, p.asid]))
            elif how == 1:
                _sfence(hart, asid=p.asid)
            else:
                _sfence(hart)
        elif r < 0.14:                               # remap a kernel page: needs rs1 or sfence x0, x0
            page = rng.randrange(PAGES)
            remap_kernel(page)
            if rng.random() < 0.5:
                _sfence(hart, KERNEL_BASE + page * 4096)
            else:
                _sfence(hart)
        else:
            va = rng.choice([USER_BASE, KERNEL_BASE]) + rng.randrange(PAGES) * 4096 + 8 * rng.randrange(512)
            access = rng.choice([ACCESS_LOAD, ACCESS_STORE, -1])
            fresh.flush()
            try:
                expected = fresh.translate(va, access)   # sets A/D as the hart's walk would
            except GuestTrap as t:
                expected = ("fault", t.cause)
            try:
                got = hart.mmu.translate(va, access)
                if access != -1:                        # through the TLB generated code uses
                    if access == ACCESS_LOAD:
                        hart.mem.load(va, 8)
                    else:
                        hart.mem.store(va, step, 8)
                    e = _native_entry(hart, va)
                    assert e is not None and (va + e.addend + RAM_BASE) % (1 << 64) == got
            except GuestTrap as t:
                got = ("fault", t.cause)
            assert got == expected, (step, hex(va), access)
            for other in (USER_BASE, KERNEL_BASE):      # every valid native entry agrees too
                o = other + rng.randrange(PAGES) * 4096
                e = _native_entry(hart, o)
                if e is not None and e.tag_read != NO_TAG:
                    fresh.flush()
                    assert (o + e.addend + RAM_BASE) % (1 << 64) == fresh.translate(o, ACCESS_LOAD)
