"""TLB refills walked in native code (rvjit.backend.tlbrefill): the common case needs no Python,
every other case still reaches Python with the same outcome (A/D updates, faults), and what the
walker filled is forgotten exactly when Python's own fills would be (a remapped superpage after
sfence.vma of one of its pages, private entries on an address-space switch)."""
import pytest

from rvjit.backend import tlbrefill
from rvjit.backend.runloop import run_native
from rvjit.cpu.mmu import PTE_V, PTE_R, PTE_W, PTE_X, PTE_U, PTE_G, PTE_A, PTE_D
from rvjit.cpu.trap import PRV_S
from rvjit.machine import RAM_BASE, make_translator
from test_mmu import A0, A1, A2, A3, A4, A5, RWX, Pager, _encode, setup

CODE = RAM_BASE + 0x20_0000
DATA_VA = 0x4000_0000
DATA_PA = RAM_BASE + 0xA0_0000         # past the page tables (from RAM_BASE + 4 MiB)
IDLE = 0x0000006F                      # j .
SFENCE_A0 = 0x12050073                 # sfence.vma a0, zero
JUMP_NEXT = 0x0040006F                 # j .+4
NOP = 0x00000013
RW = PTE_V | PTE_R | PTE_W | PTE_A | PTE_D


def add(rd, rs1, rs2):
    return rs2 << 20 | rs1 << 15 | rd << 7 | 0x33


def _machine(program: list[int]):
    """S-mode with Sv39; the program at CODE (mapped identically), stvec at an idle loop."""
    m, pager = setup()
    pager.map(CODE, CODE, RWX)
    for k, word in enumerate(program + [IDLE]):
        m.ram.store(CODE + 4 * k, word, 4)
    m.ram.store(CODE + 0x800, IDLE, 4)
    m.hart.csr.stvec = CODE + 0x800
    m.hart.csr.medeleg = 1 << 12 | 1 << 13 | 1 << 15     # page faults go to S-mode
    return m, pager


def _start(m, pager):
    hart = pager.enable(PRV_S)
    hart.state.pc = CODE
    return hart


def _python_accesses(m) -> list:
    """Loads and stores that reach Python's slow path, recorded as (kind, address)."""
    calls, mem = [], m.hart.mem
    load, store = mem.load, mem.store
    mem.load = lambda vaddr, size, access=0: calls.append(("load", vaddr)) or load(vaddr, size, access)
    mem.store = lambda vaddr, value, size, access=1: calls.append(("store", vaddr)) or store(vaddr, value, size, access)
    return calls


PAGES = 64
STRIDE_LOOP = [                        # for each page: store a4, load it back, sum; next page
    _encode("S", rs1=A0, rs2=A4, imm=0), _encode("L", A2, A0, imm=0), add(A5, A5, A2), add(A0, A0, A1),
    _encode("I", A3, A3, imm=-1), _encode("B", rs1=A3, imm=-20),
]


def _stride_machine():
    m, pager = _machine(STRIDE_LOOP)
    for k in range(PAGES):
        pager.map(DATA_VA + 4096 * k, DATA_PA + 4096 * k, RW)
    hart = _start(m, pager)
    hart.state.x[A0], hart.state.x[A1], hart.state.x[A3], hart.state.x[A4] = DATA_VA, 4096, PAGES, 0x1234
    return m, hart


def test_first_touches_of_pages_are_walked_natively():
    m, hart = _stride_machine()
    translator = make_translator(m)
    calls = _python_accesses(m)
    run_native(m, translator, max_insns=6 * PAGES + 1)
    assert hart.state.x[A5] == 0x1234 * PAGES
    assert all(m.ram.load(DATA_PA + 4096 * k, 8) == 0x1234 for k in range(PAGES))
    assert calls == []                  # every page's first store was filled natively


def test_without_the_walker_each_first_touch_reaches_python():
    m, hart = _stride_machine()
    translator = make_translator(m)
    tlbrefill.uninstall(m.hart)
    calls = _python_accesses(m)
    run_native(m, translator, max_insns=6 * PAGES + 1)
    assert hart.state.x[A5] == 0x1234 * PAGES
    assert len(calls) == PAGES and all(kind == "store" for kind, _ in calls)


def test_stores_next_to_code_are_made_natively_and_stores_into_it_reach_python():
    """Data sharing a page with translated code: stores beside the code (one of them across
    the boundary of the code map's 64-chunk words) are made by the walker, the page stays code
    and its block translated; a store into the code still reaches Python, which drops it."""
    program = [_encode("S", rs1=A0, rs2=A4, imm=0), _encode("S", rs1=A0, rs2=A4, imm=0x200),
               JUMP_NEXT, _encode("S", rs1=A1, rs2=A4, imm=0)]         # a block each
    m, pager = _machine(program)
    hart = _start(m, pager)
    hart.state.x[A0], hart.state.x[A1], hart.state.x[A4] = CODE + 0x3FC, CODE, 0x1122334455667788
    translator = make_translator(m)
    calls = _python_accesses(m)
    run_native(m, translator, max_insns=3)
    assert calls == [] and CODE >> 12 in m.hart.mem.code_pages
    assert m.ram.load(CODE + 0x3FC, 8) == m.ram.load(CODE + 0x5FC, 8) == 0x1122334455667788
    assert (CODE, CODE) in translator.blocks
    run_native(m, translator, max_insns=4)
    assert calls == [("store", CODE)] and (CODE, CODE) not in translator.blocks
    assert m.ram.load(CODE, 8) == 0x1122334455667788


@pytest.mark.parametrize("block", [0x400, 0x3F0], ids=["ending-in-code", "starting-in-code"])
def test_a_store_partly_in_code_reaches_python(block):
    """A store across the code map's word boundary (chunks 63 and 64) with code in only one of
    its chunks is a code write."""
    m, pager = _machine([(block & 0x7FE) << 20 | 0x6F])   # j CODE + block
    for k, word in enumerate([NOP] * ((0x3F8 - block) // 4) + [_encode("S", rs1=A0, rs2=A4, imm=0), IDLE]):
        m.ram.store(CODE + block + 4 * k, word, 4)
    hart = _start(m, pager)
    hart.state.x[A0], hart.state.x[A4] = CODE + 0x3FC, 0x1122334455667788
    translator = make_translator(m)
    calls = _python_accesses(m)
    run_native(m, translator, max_insns=4)
    assert calls[0] == ("store", CODE + 0x3FC) and (CODE + block, CODE + block) not in translator.blocks


def test_accessed_and_dirty_bits_are_left_to_python():
    m, pager = _machine([_encode("S", rs1=A0, rs2=A4, imm=0), _encode("L", A2, A0, imm=8)])
    pte = pager.map(DATA_VA, DATA_PA, PTE_V | PTE_R | PTE_W)            # A and D clear
    hart = _start(m, pager)
    hart.state.x[A0], hart.state.x[A4] = DATA_VA, 77
    translator = make_translator(m)
    calls = _python_accesses(m)
    run_native(m, translator, max_insns=3)
    assert calls == [("store", DATA_VA)]          # Python set A and D; the load then hit the TLB
    assert m.ram.load(pte, 8) & (PTE_A | PTE_D) == PTE_A | PTE_D
    assert m.ram.load(DATA_PA, 8) == 77


def test_a_user_page_faults_in_supervisor_mode_without_sum():
    m, pager = _machine([_encode("L", A2, A0, imm=0)])
    pager.map(DATA_VA, DATA_PA, RW | PTE_U)
    hart = _start(m, pager)
    hart.state.x[A0] = DATA_VA
    run_native(m, make_translator(m), max_insns=2)
    assert (hart.state.scause, hart.state.stval, hart.state.sepc) == (13, DATA_VA, CODE)


def test_a_remapped_superpage_is_forgotten_after_sfence_of_one_of_its_pages():
    """Two pages of a global 2 MiB page are filled natively; the guest remaps the superpage and
    fences the first page only: the second must translate afresh too (spec: the fence covers
    the leaf PTE, which maps the whole superpage)."""
    first, second = DATA_VA, DATA_VA + 0x1000
    old_pa, new_pa = RAM_BASE + 0x60_0000, RAM_BASE + 0x80_0000
    m, pager = _machine([_encode("L", A2, A0, imm=0), _encode("L", A3, A1, imm=0), SFENCE_A0,
                         _encode("L", A4, A1, imm=0)])
    pte = pager.map(first, old_pa, RW | PTE_G, level=1)
    for base, tag in ((old_pa, 1), (new_pa, 2)):
        m.ram.store(base, 10 * tag, 8)
        m.ram.store(base + 0x1000, 10 * tag + 1, 8)
    hart = _start(m, pager)
    hart.state.x[A0], hart.state.x[A1] = first, second
    translator = make_translator(m)
    calls = _python_accesses(m)
    run_native(m, translator, max_insns=2)
    assert (hart.state.x[A2], hart.state.x[A3]) == (10, 11) and calls == []
    m.ram.store(pte, (new_pa >> 2) | RW | PTE_G, 8)       # remap, then the fence
    run_native(m, translator, max_insns=hart.instret() + 2)
    assert hart.state.x[A4] == 21


def test_private_entries_filled_natively_go_on_an_address_space_switch():
    m, pager = _machine([_encode("L", A2, A0, imm=0)])
    pager.map(DATA_VA, DATA_PA, RW)
    other = Pager.__new__(Pager)                       # a second address space: same code,
    other.m, other.ram, other.mode, other.levels = m, m.ram, pager.mode, pager.levels
    other.next = pager.next + 0x10_0000                # its tables past the first's
    other.root = other.alloc()
    other.map(CODE, CODE, RWX)
    other.map(DATA_VA, DATA_PA + 0x1000, RW)
    m.ram.store(DATA_PA, 5, 8)
    m.ram.store(DATA_PA + 0x1000, 6, 8)
    hart = _start(m, pager)
    hart.state.x[A0] = DATA_VA
    translator = make_translator(m)
    calls = _python_accesses(m)
    run_native(m, translator, max_insns=1)
    assert hart.state.x[A2] == 5 and calls == []
    hart.write_satp(other.satp() | 1 << 44)            # another ASID
    hart.state.pc = CODE
    run_native(m, translator, max_insns=hart.instret() + 1)
    assert hart.state.x[A2] == 6


# sd a4 and ld a2 at a0, sum a2 into a5, a3 times: a0 is 4 bytes short of a page's end
CROSSING_LOOP = [_encode("S", rs1=A0, rs2=A4, imm=0), _encode("L", A2, A0, imm=0), add(A5, A5, A2),
                 _encode("I", A3, A3, imm=-1), _encode("B", rs1=A3, imm=-16)]


@pytest.mark.parametrize("tier", ["threaded", "optimised"])
def test_accesses_across_a_page_boundary_reach_both_pages(tier, monkeypatch):
    """The inline TLB lookup compares the tag of the first byte's page slot with the last
    byte's page: an access crossing into a page mapped elsewhere must take the slow path, which
    splits it (the fast path would reach past the first page's frame)."""
    from rvjit.backend import promotion, translator as translator_module
    monkeypatch.setattr(promotion, "HOT_THRESHOLD", 50 if tier == "optimised" else 1 << 62)
    first, second = DATA_PA + 0x3000, DATA_PA            # the next virtual page lies lower
    m, pager = _machine(CROSSING_LOOP)
    pager.map(DATA_VA, first, RW)
    pager.map(DATA_VA + 4096, second, RW)
    m.ram.store(first + 4096, 0xAAAA_AAAA, 4)             # what a fast path would touch instead
    hart = _start(m, pager)
    runs, value = 2000, 0x1122_3344_5566_7788
    hart.state.x[A0], hart.state.x[A3], hart.state.x[A4] = DATA_VA + 4092, runs, value
    translator = translator_module.Translator(m.hart, background=False)
    run_native(m, translator, max_insns=5 * runs)
    assert hart.state.x[A3] == 0 and hart.state.x[A5] == value * runs % (1 << 64)
    assert m.ram.load(first + 4092, 4) == 0x5566_7788 and m.ram.load(second, 4) == 0x1122_3344
    assert m.ram.load(first + 4096, 4) == 0xAAAA_AAAA
    assert translator.blocks[(CODE, CODE)].tier == (1 if tier == "optimised" else 0)
