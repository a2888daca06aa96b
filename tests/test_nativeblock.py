"""New threaded blocks translated by native code (rvjit.backend.nativeblock): blocks on a page
Python already made code are translated without a trip to Python, Python's view of them (its
Translations, run counters, code map) is the same as if it had made them, and code written
after native code translated it never runs stale."""
from rvjit.backend import blockscan, threaded
from rvjit.backend.runloop import run_native
from rvjit.cpu.state import EXIT_MISS
from rvjit.machine import RAM_BASE, make_translator
from test_mmu import A0, A2, A3, A5, RWX, setup

CODE = RAM_BASE + 0x20_0000         # mapped at the same virtual address


def addi(rd, rs1, imm):
    return (imm & 0xFFF) << 20 | rs1 << 15 | rd << 7 | 0x13


def jal(offset, rd=0):
    o = offset & 0x1FFFFF
    return (o >> 20 & 1) << 31 | (o >> 1 & 0x3FF) << 21 | (o >> 11 & 1) << 20 | (o >> 12 & 0xFF) << 12 | rd << 7 | 0x6F


def bne(rs1, rs2, offset):
    o = offset & 0x1FFF
    return (o >> 12 & 1) << 31 | (o >> 5 & 63) << 25 | rs2 << 20 | rs1 << 15 | 1 << 12 | (o >> 1 & 15) << 8 \
        | (o >> 11 & 1) << 7 | 0x63


def sw(rs2, rs1, imm):
    return (imm >> 5 & 127) << 25 | rs2 << 20 | rs1 << 15 | 2 << 12 | (imm & 31) << 7 | 0x23


def _paged_machine(program: dict[int, int]):
    """S-mode with Sv39 paging; program: offset from CODE (two pages) -> instruction word."""
    m, pager = setup()
    pager.map(CODE, CODE, RWX)
    pager.map(CODE + 0x1000, CODE + 0x1000, RWX)
    for offset, word in program.items():
        m.ram.store(CODE + offset, word, 4)
    hart = pager.enable()
    hart.state.pc = CODE
    return m, hart


def _chain(blocks: int) -> dict[int, int]:
    """Blocks 64 bytes apart, each adding 1 to a0 and jumping to the next (the same two words:
    the scanner meets them once); the last jumps back to the first."""
    program = {}
    for k in range(blocks):
        program[64 * k] = addi(A0, A0, 1)
        program[64 * k + 4] = jal(60 if k < blocks - 1 else -64 * k - 4)
    return program


def test_blocks_on_a_code_page_are_translated_natively():
    program = _chain(8)
    m, hart = _paged_machine(program)
    translator = make_translator(m)
    calls = []
    real = translator.lookup
    translator.lookup = lambda pc: calls.append(pc) or real(pc)
    stats = run_native(m, translator, max_insns=16 * 20)
    assert hart.state.x[A0] == 20 * 8
    # Python translated the first block (making the page code), and the last unless its jump
    # is a word the scanner met before (in this process); native
    # code the six between
    assert calls in ([CODE], [CODE, CODE + 64 * 7]) and stats.exits.get(EXIT_MISS, 0) == len(calls) - 1
    assert translator.stats.native_blocks == 8 - len(calls) and translator.stats.blocks == 8
    for k in range(8):
        t = translator.blocks[(CODE + 64 * k, CODE + 64 * k)]
        assert t.code == program[64 * k].to_bytes(4, "little") + program[64 * k + 4].to_bytes(4, "little")
        assert translator.counter_owner[t.counter] is t
        assert translator.counters[t.counter] == 20 and translator.counter_lengths[t.counter] == 2
        assert m.hart.mem.code_pages.touches(CODE + 64 * k, 8)
    assert not m.hart.mem.code_pages.touches(CODE + 16, 48)     # between blocks: no code


def test_a_block_python_learnt_the_words_of_is_made_by_native_code_on_a_code_page(monkeypatch, tmp_path):
    """The last block's jump is a word the scanner has not met: Python learns it, then has
    native code make the block (it never builds records itself), with the same result. A
    library of its own, so that no earlier test or run taught it the word;
    its scanner does not decode natively (which knows jal: see test_nativedecode)."""
    monkeypatch.setenv("RVJIT_CACHE_DIR", str(tmp_path))
    lib = threaded.HandlerLibrary()
    monkeypatch.setattr(threaded, "_library", lib)
    monkeypatch.setitem(blockscan._scanners, id(lib), blockscan.BlockScanner(lib, native_decoding=False))
    program = _chain(8)
    program[64 * 7 + 4] = jal(-64 * 7 - 4, rd=11)           # a word of its own (a1, not a call)
    m, hart = _paged_machine(program)
    translator = make_translator(m)
    made_in_python = []
    real = translator._translate_threaded
    translator._translate_threaded = lambda pc, *a: made_in_python.append(pc) or real(pc, *a)
    run_native(m, translator, max_insns=16 * 20)
    assert hart.state.x[A0] == 20 * 8 and hart.state.x[11] == CODE + 64 * 7 + 8
    assert made_in_python == [CODE]                 # only the block that made the page code
    last = translator.blocks[(CODE + 64 * 7, CODE + 64 * 7)]
    assert translator.counter_owner[last.counter] is last and translator.counters[last.counter] == 20
    assert translator.stats.blocks == 8 and translator.stats.native_blocks <= 6


def test_blocks_run_untranslated_in_m_mode_are_translated_natively_too():
    """No execute TLB in M-mode: the block's RAM offset is its pc's."""
    program = _chain(8)
    m, _ = setup()
    for offset, word in program.items():
        m.ram.store(CODE + offset, word, 4)
    m.hart.state.pc = CODE
    translator = make_translator(m)
    calls = []
    real = translator.lookup
    translator.lookup = lambda pc: calls.append(pc) or real(pc)
    run_native(m, translator, max_insns=16 * 20)
    assert m.hart.state.x[A0] == 20 * 8 and m.hart.state.priv == 3
    assert calls in ([CODE], [CODE, CODE + 64 * 7])
    assert translator.stats.native_blocks == 8 - len(calls)


def test_code_outside_ram_is_left_to_python():
    """An M-mode block outside RAM (the reset ROM of the virt board) must not be scanned from
    pc - RAM base: Python translates it, from the bus."""
    from rvjit.soc.virt import VirtBoard, ROM_BASE
    m = VirtBoard(16 << 20)
    words = [addi(A0, A0, 1), jal(4), addi(A0, A0, 1), jal(-12)]       # two blocks, a loop
    m.rom.data = b"".join(w.to_bytes(4, "little") for w in words).ljust(len(m.rom.data), b"\0")
    translator = make_translator(m)
    calls = []
    real = translator.lookup
    translator.lookup = lambda pc: calls.append(pc) or real(pc)
    m.hart.state.pc = ROM_BASE
    run_native(m, translator, max_insns=40)
    assert m.hart.state.x[A0] == 20
    assert ROM_BASE in calls and ROM_BASE + 8 in calls and translator.stats.native_blocks == 0


def test_a_store_into_a_natively_translated_block_runs_the_new_code():
    """Block B is translated natively, in a 16-byte chunk no other block covers; block C
    rewrites B's addi. Unless native code marked B's chunk, the store would count as data next
    to code and B's stale translation would keep adding 2."""
    new_addi = addi(A0, A0, 100)
    program = {
        0x00: addi(A0, A0, 1), 0x04: addi(A5, A5, -1), 0x08: bne(A5, 0, 0x38),    # A: to B, or
        0x0C: jal(0),                                                              # idle
        0x40: addi(A0, A0, 2), 0x44: jal(0x3C),                                    # B: to C
        0x80: sw(A2, A3, 0x40), 0x84: jal(-0x84),                                  # C: rewrite B
    }
    m, hart = _paged_machine(program)
    hart.state.x[A5], hart.state.x[A2], hart.state.x[A3] = 10, new_addi, CODE
    translator = make_translator(m)
    for word in (program[0x40], program[0x44]):       # B's words, met before: B is native
        translator.scanner.learn(word)
    calls = []
    real = translator.lookup
    translator.lookup = lambda pc: calls.append(pc) or real(pc)
    run_native(m, translator, max_insns=2000)
    # B was translated natively: Python first met it after C's store dropped the page
    assert calls[0] == CODE and CODE + 0x40 not in calls[:calls.index(CODE + 0x84)]
    assert m.ram.load(CODE + 0x40, 4) == new_addi
    assert hart.state.x[A0] == 10 * 1 + 2 + 8 * 100     # ten rounds of A; B old once, new eight times


def test_a_block_ending_past_its_page_is_left_to_python():
    """The last instruction of a block crosses into the next page: Python translates it."""
    m, hart = _paged_machine({0x00: jal(0xFF0), 0xFF0: addi(A0, A0, 1), 0xFF4: addi(A0, A0, 1),
                              0xFF8: addi(A0, A0, 1), 0x1002: jal(0)})
    m.ram.store(CODE + 0xFFC, 0x0001, 2)               # c.nop
    m.ram.store(CODE + 0xFFE, addi(A0, A0, 4), 4)      # its second half on the next page
    translator = make_translator(m)
    calls = []
    real = translator.lookup
    translator.lookup = lambda pc: calls.append(pc) or real(pc)
    run_native(m, translator, max_insns=8)
    assert calls[:2] == [CODE, CODE + 0xFF0] and hart.state.x[A0] == 7
    assert translator.blocks[(CODE + 0xFF0, CODE + 0xFF0)].pages == ((CODE >> 12), (CODE >> 12) + 1)
