"""Translated blocks found natively when the jump cache misses (rvjit.backend.blocktable and the
dispatcher): the table's probing, and in running guests that a flushed jump cache refills without
Python while code that was rewritten or remapped is never entered through a stale entry."""
import random

from rvjit.backend.blocktable import BlockTable, slot_hash
from rvjit.backend.runloop import run_native
from rvjit.cpu.state import EXIT_MISS, HartState
from rvjit.machine import RAM_BASE, Machine, make_translator
from test_mmu import A0, RWX, _encode, setup

JUMP_NEXT, JUMP_BACK_12 = 0x40006f, 0xFF5FF06F     # j +4, j -12


def test_entries_are_found_past_collisions_and_tombstones_and_after_a_rebuild():
    table = BlockTable(HartState(), RAM_BASE)
    table.mask = 15                            # a tiny table: every block collides
    table.entries = table.entries[:16]
    table.words = memoryview(table.entries.reshape(-1))
    rng = random.Random(3)
    blocks = {(RAM_BASE + 2 * rng.randrange(1 << 20), RAM_BASE + 2 * rng.randrange(1 << 20)): k + 2
              for k in range(7)}
    for (pc, paddr), fn in blocks.items():
        table.add(pc, paddr, fn, fn * 10)
    first = next(iter(blocks))
    table.remove(*first)                       # a tombstone others may have probed past
    for (pc, paddr), fn in list(blocks.items())[1:]:
        slot = table._find(pc, paddr - RAM_BASE)
        assert slot is not None and table.entries[slot, 2] == fn and table.entries[slot, 3] == fn * 10
    assert table._find(first[0], first[1] - RAM_BASE) is None
    table.update(*list(blocks)[1], 99, 0)
    for extra in range(8):                     # past half full: rebuilt bigger, tombstone gone
        table.add(0x1000 + 2 * extra, RAM_BASE + 0x1000, 50, 0)
    assert table.mask + 1 > 16
    second = list(blocks)[1]
    assert table.entries[table._find(second[0], second[1] - RAM_BASE), 2] == 99
    assert table._find(first[0], first[1] - RAM_BASE) is None
    assert slot_hash(1, 2) != slot_hash(2, 1)


def _loop_machine():
    """M-mode (fetches untranslated): a0 += 3 in a loop of two blocks."""
    m = Machine(16 << 20)
    code = RAM_BASE + 0x1000
    words = [_encode("I", A0, A0, imm=1), JUMP_NEXT,           # addi; j +4 (ends the block)
             _encode("I", A0, A0, imm=2), JUMP_BACK_12]        # addi; j -12: back to the first
    for k, w in enumerate(words):
        m.ram.store(code + 4 * k, w, 4)
    m.hart.state.pc = code
    return m, code


def _count_lookups(translator):
    calls = []
    real = translator.lookup
    translator.lookup = lambda pc: calls.append(pc) or real(pc)
    return calls


def test_a_flushed_jump_cache_is_refilled_natively():
    m, code = _loop_machine()
    translator = make_translator(m)
    run_native(m, translator, max_insns=600)
    assert m.hart.state.x[A0] % 3 == 0 and m.hart.state.x[A0] > 300
    translator.flush_jcache()
    calls = _count_lookups(translator)
    stats = run_native(m, translator, max_insns=m.hart.instret() + 600)
    assert len(calls) == 1 and stats.exits.get(EXIT_MISS, 0) == 0    # the run loop enters once
    assert m.hart.state.x[A0] % 3 == 0 and m.hart.state.x[A0] > 700


def test_rewritten_code_is_not_found_through_the_table():
    m, code = _loop_machine()
    translator = make_translator(m)
    run_native(m, translator, max_insns=600)
    m.hart.mem.write_physical(code + 8, _encode("I", A0, A0, imm=100).to_bytes(4, "little"))
    translator.flush_jcache()
    before = m.hart.state.x[A0]
    run_native(m, translator, max_insns=m.hart.instret() + 300)
    grown = m.hart.state.x[A0] - before
    assert grown > 1000 and grown % 101 in (0, 1, 100)          # +1 and +100 a round now


def test_a_remapped_code_page_runs_its_new_code_after_sfence():
    """S-mode with paging: the execute TLB lets the dispatcher find blocks; sfence.vma of the
    callee's page after remapping it must send the next call to the new physical code."""
    m, p = setup()
    caller, callee, off = RAM_BASE + 0x20_0000, 0x5000_0000, 0x100
    old_pa, new_pa = RAM_BASE + 0x30_0000, RAM_BASE + 0x30_1000
    p.map(caller, caller, RWX)
    pte = p.map(callee, old_pa, RWX)
    jalr_ra_s1, ret = 9 << 15 | 1 << 7 | 0x67, 1 << 15 | 0x67
    for k, word in enumerate([jalr_ra_s1, 0xFFDFF06F]):          # call s1; j -4
        m.ram.store(caller + 4 * k, word, 4)
    for pa, step in ((old_pa, 7), (new_pa, 1000)):
        m.ram.store(pa + off, _encode("I", A0, A0, imm=step), 4)
        m.ram.store(pa + off + 4, ret, 4)
    hart = p.enable()
    hart.state.x[9], hart.state.pc = callee + off, caller
    translator = make_translator(m)
    run_native(m, translator, max_insns=500)
    assert hart.state.x[A0] % 7 == 0 and hart.state.x[A0] > 0
    translator.flush_jcache()                                    # the jump cache only
    calls = _count_lookups(translator)
    before = hart.state.x[A0]
    run_native(m, translator, max_insns=hart.instret() + 200)
    assert len(calls) == 1 and (hart.state.x[A0] - before) % 7 == 0 and hart.state.x[A0] > before
    m.ram.store(pte, (new_pa >> 2) | RWX, 8)
    hart.state.x[11] = callee
    hart.do_sys("sfence.vma", hart.state.pc, 0x12058073)        # sfence.vma a1, zero
    hart.state.pc = caller
    before = hart.state.x[A0]
    run_native(m, translator, max_insns=hart.instret() + 200)
    assert (hart.state.x[A0] - before) % 1000 == 0 and hart.state.x[A0] > before
