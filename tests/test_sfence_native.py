"""sfence.vma of one page carried out by generated code (rvjit.backend.sfencelower): it must leave
the hart exactly as the Python path would (for a page holding translated code, its jump cache
entries gone too), and hand over to Python whenever more than the page can be stale (a superpage
walked before, a full queue, not S-mode)."""
import pytest

from rvjit.backend import translator as translator_module
from rvjit.backend import promotion
from rvjit.backend.runloop import run_native
from rvjit.cpu.sfence import region_slot
from rvjit.cpu.state import ACCESS_LOAD, EXIT_SYS, SFENCE_QUEUE
from rvjit.machine import RAM_BASE
from test_mmu import (A0, A1, A2, A3, A4, A5, A6, A7, DATA, REMAP_INSNS, REMAP_PROGRAM, RW, RWX, VA, _encode,
                      remap_setup, setup)

FULL_FLUSH = 0x12000073
SFENCE_A0 = FULL_FLUSH | A0 << 15               # sfence.vma a0, zero
SFENCE_A1 = FULL_FLUSH | A1 << 15
PAGE_REMAP_PROGRAM = [SFENCE_A0 if w == FULL_FLUSH else w for w in REMAP_PROGRAM]


def run_remap(program, hot):
    """test_mmu's remap program (loads and stores through VA, remap, sfence, again) in S-mode."""
    m, hart, code, old, new = remap_setup(program)
    saved = promotion.HOT_THRESHOLD
    promotion.HOT_THRESHOLD = 10 if hot else 1 << 62
    try:
        translator = translator_module.Translator(hart, background=False)
        run_native(m, translator, max_insns=4 * 20)          # the first loop's block gets hot
        translator._next_promote_scan = 0
        stats = run_native(m, translator, max_insns=REMAP_INSNS)
    finally:
        promotion.HOT_THRESHOLD = saved
    assert translator.blocks[(code, code)].tier == (1 if hot else 0)
    return m, hart, stats, (old, new)


@pytest.mark.parametrize("hot", [False, True], ids=["threaded", "optimised"])
def test_page_sfence_in_generated_code_is_seen_at_once(hot):
    m, hart, stats, (old, new) = run_remap(PAGE_REMAP_PROGRAM, hot)
    x = hart.state.x
    assert (x[A2], x[A3]) == (111, 222)
    assert (m.ram.load(old + 8, 8), m.ram.load(new + 8, 8)) == (0x55, 0x66)
    assert stats.exits.get(EXIT_SYS, 0) == 0                 # no trip to Python for it
    assert hart.mmu.translate(VA, ACCESS_LOAD) == new and hart.state.sfence_count == 0


def test_page_sfence_from_m_mode_or_a_full_flush_goes_to_python():
    _, hart, stats, _ = run_remap(REMAP_PROGRAM, hot=False)
    assert stats.exits.get(EXIT_SYS, 0) == 1
    assert (hart.state.x[A2], hart.state.x[A3]) == (111, 222)


def test_page_sfence_inside_a_walked_superpage_goes_to_python():
    """VA is mapped by a 2 MiB superpage walked before: every page of it must be forgotten."""
    m, p = setup()
    code = RAM_BASE + 0x20_0000
    p.map(code, code, RWX)
    p.map(RAM_BASE, RAM_BASE, RWX, level=2)
    old, new = RAM_BASE + (8 << 20), RAM_BASE + (10 << 20)
    pte = p.map(VA, old, RW, level=1)
    m.ram.store(old + 0x1000, 111, 8)
    m.ram.store(new + 0x1000, 222, 8)
    # load VA+4K (page 2 of the superpage); remap; sfence VA (page 1); load VA+4K again
    program = [_encode("L", A2, A1, imm=0), _encode("S", rs1=A5, rs2=A4, imm=0), SFENCE_A0,
               _encode("L", A3, A1, imm=0), 0x0000006F]
    for k, word in enumerate(program):
        m.ram.store(code + 4 * k, word, 4)
    hart = p.enable()
    x = hart.state.x
    x[A0], x[A1], x[A4], x[A5] = VA, VA + 0x1000, (new >> 2) | RW, pte
    hart.state.pc = code
    stats = run_native(m, translator_module.Translator(hart, background=False), max_insns=10)
    assert (x[A2], x[A3]) == (111, 222)
    assert stats.exits.get(EXIT_SYS, 0) == 1


@pytest.mark.parametrize("hot", [False, True], ids=["threaded", "optimised"])
def test_page_sfence_of_a_code_page_drops_its_jump_cache_entries_natively(hot):
    """The callee's page is remapped to other code and sfenced from the caller: the jump cache
    (which optimised code's indirect jumps look in) must forget the callee, and generated code
    does that itself."""
    m, p = setup()
    # the callee's jump cache slot is not the caller's (pc >> 1 indexes them): else the two
    # keep replacing each other's entry, and a stale one is never found
    caller, callee_va = RAM_BASE + 0x20_0000, 0x5000_4000
    pa1, pa2 = RAM_BASE + 0x30_0000, RAM_BASE + 0x30_1000
    p.map(caller, caller, RWX)
    p.map(RAM_BASE, RAM_BASE, RWX, level=2)
    pte = p.map(callee_va, pa1, RWX)
    jalr_ra_s1, ret = 9 << 15 | 1 << 7 | 0x67, 1 << 15 | 0x67
    # loop: call s1; a6 -= 1; bne a6, zero, loop; remap; sfence s1's page; a6 = 5; loop again
    program = [jalr_ra_s1, _encode("I", A6, A6, imm=-1), _encode("B", rs1=A6, imm=-8),
               _encode("S", rs1=A5, rs2=A4, imm=0), FULL_FLUSH | 9 << 15, _encode("I", A6, 0, imm=5),
               _encode("I", A7, A7, imm=-1), _encode("B", rs1=A7, imm=-28), 0x0000006F]
    for k, word in enumerate(program):
        m.ram.store(caller + 4 * k, word, 4)
    for pa, step in ((pa1, 7), (pa2, 1000)):
        m.ram.store(pa, _encode("I", A0, A0, imm=step), 4)
        m.ram.store(pa + 4, ret, 4)
    hart = p.enable()
    x = hart.state.x
    x[9], x[A6], x[A7], x[A4], x[A5] = callee_va, 20, 2, (pa2 >> 2) | RWX, pte
    hart.state.pc = caller
    saved = promotion.HOT_THRESHOLD
    promotion.HOT_THRESHOLD = 5 if hot else 1 << 62
    try:
        translator = translator_module.Translator(hart, background=False)
        run_native(m, translator, max_insns=5 * 10)         # ten calls: the loop gets hot
        translator._next_promote_scan = 0
        stats = run_native(m, translator, max_insns=400)
    finally:
        promotion.HOT_THRESHOLD = saved
    assert translator.blocks[(caller, caller)].tier == (1 if hot else 0)
    assert x[A0] == 20 * 7 + 5 * 1000
    assert stats.exits.get(EXIT_SYS, 0) == 0


def test_a_full_queue_hands_over_to_python():
    """More single-page sfences than the queue holds, then a remapped page is read."""
    m, p = setup()
    code = RAM_BASE + 0x20_0000
    p.map(code, code, RWX)
    p.map(RAM_BASE, RAM_BASE, RWX, level=2)
    old, new = DATA, DATA + 0x1000
    pte = p.map(VA, old, RW)
    m.ram.store(old, 111, 8)
    m.ram.store(new, 222, 8)
    n = 3 * SFENCE_QUEUE
    # read VA; remap; loop n times: sfence a1 (a1 += 4 KiB, the last one is VA); read VA again
    add_a1_a3 = A3 << 20 | A1 << 15 | A1 << 7 | 0x33
    program = [_encode("L", A2, A0, imm=0), _encode("S", rs1=A5, rs2=A4, imm=0),
               SFENCE_A1, add_a1_a3, _encode("I", A6, A6, imm=-1), _encode("B", rs1=A6, imm=-12),
               _encode("L", A3, A0, imm=0), 0x0000006F]
    for k, word in enumerate(program):
        m.ram.store(code + 4 * k, word, 4)
    hart = p.enable()
    x = hart.state.x
    x[A0], x[A1], x[A3], x[A6] = VA, VA - (n - 1) * 0x1000, 0x1000, n
    x[A4], x[A5] = (new >> 2) | RW, pte
    hart.state.pc = code
    stats = run_native(m, translator_module.Translator(hart, background=False), max_insns=4 * n + 10)
    assert (x[A2], x[A3]) == (111, 222)
    assert 1 <= stats.exits.get(EXIT_SYS, 0) <= n // SFENCE_QUEUE


def test_a_kernel_superpage_does_not_mark_the_user_stack_that_shares_its_low_bits():
    """Sv39: the top 2 MiB of the kernel's half and of the user half have the same low region
    bits; a superpage walked at one must not send the other's page sfences to Python."""
    m, _ = setup()
    sfilter = m.hart.sfence_filter
    kernel_top, stack_top = 0x7FF_FFFF_FE00, 0x3_FFFF_FE00     # first vpns of the two regions
    sfilter.mark_superpage(kernel_top, 512)
    assert sfilter.superpages[region_slot(kernel_top >> 9)] == 1
    assert sfilter.superpages[region_slot(stack_top >> 9)] == 0
    assert sfilter.superpages.sum() == 1
    sfilter.mark_superpage(0x4_0000, 512 * 512)                # a 1 GiB page: its 512 regions
    assert all(sfilter.superpages[region_slot(r)] for r in range(0x4_0000 >> 9, (0x4_0000 >> 9) + 512))
