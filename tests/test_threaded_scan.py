"""How the threaded tier finds its blocks (rvjit.backend.blockscan): straight from guest
RAM, through the fetch path when the last instruction crosses into the next page, with one
memoised record per instruction word whatever its address, and record slots reused when code
is rewritten. Each program's result is checked against the reference interpreter."""
import struct

from rvjit.backend import translator as translator_module
from rvjit.backend.runloop import run_interpreted, run_native
from rvjit.backend.blockscan import scanner_for
from rvjit.backend.threaded import library
from rvjit.machine import Machine, RAM_BASE

ADDI_X5 = 0x00128293           # addi x5, x5, 1
AUIPC_X6 = 0x00000317          # auipc x6, 0
C_ADDI_X5 = 0x0285             # c.addi x5, 1
MV_X7_X5 = 0x00028393          # addi x7, x5, 0
AUIPC_X28 = 0x00000E17         # auipc x28, 0
JUMP_TO_SELF = 0x0000006F


def assemble(*parts) -> bytes:
    return b"".join(struct.pack("<H" if p < 0x10000 and p & 3 != 3 else "<I", p) for p in parts)


def run(mode, code_at, program, steps, before=None):
    m = Machine(16 << 20)
    m.ram.write(code_at, program)
    st = m.hart.state
    st.pc, st.x[5] = code_at, 100
    if mode == "interp":
        run_interpreted(m, m.hart.instret() + steps)
        return m, None, list(st.x)
    translator = translator_module.Translator(m.hart, background=False)
    if before is not None:
        before(m, translator)
    run_native(m, translator, m.hart.instret() + steps)
    return m, translator, list(st.x)


def test_last_instruction_crossing_a_page_is_in_the_block():
    page_end = RAM_BASE + 0x3000
    code_at = page_end - 0x10
    program = assemble(ADDI_X5, AUIPC_X6, C_ADDI_X5, C_ADDI_X5, C_ADDI_X5, MV_X7_X5, AUIPC_X28, JUMP_TO_SELF)
    assert code_at + len(assemble(ADDI_X5, AUIPC_X6, C_ADDI_X5, C_ADDI_X5, C_ADDI_X5)) == page_end - 2
    *_, want = run("interp", code_at, program, 8)
    _, translator, got = run("threaded", code_at, program, 8)
    assert got == want
    assert got[7] == 104 and got[28] == page_end + 2
    first = translator.blocks[(code_at, code_at)]
    assert first.tier == 0 and first.data != 0
    assert first.pages == ((page_end >> 12) - 1, page_end >> 12)
    assert len(first.words) == 6 and first.words[-1] == MV_X7_X5


def test_one_record_per_word_takes_each_address():
    # the same auipc at two addresses: the memoised word must not carry a pc with it
    program = assemble(AUIPC_X6, AUIPC_X28, AUIPC_X6, JUMP_TO_SELF)
    code_at = RAM_BASE + 0x20000
    *_, want = run("interp", code_at, program, 4)
    _, translator, got = run("threaded", code_at, program, 4)
    assert got == want and got[6] == code_at + 8 and got[28] == code_at + 4
    scanner = scanner_for(library())        # one template for both: learnt or decoded natively
    assert AUIPC_X6 in scanner.words or scanner.decoded(AUIPC_X6) is not None


def test_rewritten_code_runs_anew_in_a_reused_record_slot():
    code_at = RAM_BASE + 0x40000
    first = assemble(ADDI_X5, ADDI_X5, JUMP_TO_SELF)
    second = assemble(MV_X7_X5, AUIPC_X28, JUMP_TO_SELF)
    m, translator, got = run("threaded", code_at, first, 3)
    assert got[5] == 102
    old = translator.blocks[(code_at, code_at)]
    m.hart.mem.write_physical(code_at, second)        # as a DMA write would: drops the block
    assert (code_at, code_at) not in translator.blocks
    m.hart.state.pc = code_at
    run_native(m, translator, m.hart.instret() + 3)
    new = translator.blocks[(code_at, code_at)]
    assert m.hart.state.x[7] == 102 and m.hart.state.x[28] == code_at + 4
    assert new.data == old.data                       # same length: the freed slot again
    assert list(translator.records.view(new.records)["raw"][1:]) == [MV_X7_X5, AUIPC_X28, JUMP_TO_SELF]


SW_X6_8_X10 = 0x00652423       # sw x6, 8(x10)
FENCE_I = 0x0000100F
LI_X7_1 = 0x00100393           # addi x7, x0, 1


def test_code_patched_before_fence_i_runs_patched():
    """fence.i does not leave native code: the store already dropped the stale translation."""
    code_at = RAM_BASE + 0x60000
    program = assemble(SW_X6_8_X10, FENCE_I, LI_X7_1, JUMP_TO_SELF)
    m = Machine(16 << 20)
    m.ram.write(code_at, program)
    translator = translator_module.Translator(m.hart, background=False)
    st = m.hart.state
    results = []
    for value in (1, 55, 77):       # each run patches the li with a new immediate
        st.pc, st.x[10], st.x[6] = code_at, code_at, LI_X7_1 | value << 20
        run_native(m, translator, m.hart.instret() + 4)
        results.append(st.x[7])
    assert results == [1, 55, 77]
    assert translator.stats.invalidations >= 2


def test_a_page_written_before_it_held_code_is_protected_once_it_does():
    """Stores open a page's TLB entry to generated code; when code on that page is translated
    the entry must close again, so a later store to the code is seen (and drops it)."""
    from test_mmu import _encode
    code_at, page = RAM_BASE + 0x70000, RAM_BASE + 0x71000
    add_x7_1, add_x7_100 = 1 << 20 | 7 << 15 | 7 << 7 | 0x13, 100 << 20 | 7 << 15 | 7 << 7 | 0x13
    sw_x8_0_x10, add_x5_m1 = 8 << 20 | 10 << 15 | 2 << 12 | 0x23, 0xFFF28293
    # on the page: x7 += 1; patch that to x7 += 100; x5 -= 1; bnez x5, back; j .
    words = [add_x7_1, sw_x8_0_x10, add_x5_m1, _encode("B", rs1=5, imm=-12), JUMP_TO_SELF, 0]
    writer = [_encode("S", rs1=10, rs2=r, imm=8 * k) for k, r in enumerate((6, 9, 11))] + [10 << 15 | 0x67]
    m = Machine(16 << 20)
    m.ram.write(code_at, b"".join(struct.pack("<I", w) for w in writer))
    st = m.hart.state
    st.pc, st.x[5], st.x[8], st.x[10] = code_at, 2, add_x7_100, page
    st.x[6], st.x[9], st.x[11] = (words[0] | words[1] << 32, words[2] | words[3] << 32, words[4] | words[5] << 32)
    translator = translator_module.Translator(m.hart, background=False)
    run_native(m, translator, 30)
    assert st.x[7] == 101


def test_a_region_never_joins_blocks_on_different_pages():
    """A head whose last instruction crosses into the next page, and a hot block on its first
    page that it jumps to: a write to the second page drops the head only, so the other block
    must not be in its region (it would enter the region's stale copy of the head)."""
    from rvjit.backend import promotion
    page_end = RAM_BASE + 0x6000
    head, member = page_end - 6, page_end - 0x40

    def jal_to(src, dst):
        off = (dst - src) & 0x1FFFFF
        return (off >> 20 & 1) << 31 | (off >> 1 & 0x3FF) << 21 | (off >> 11 & 1) << 20 | (off >> 12 & 0xFF) << 12 | 0x6F
    m = Machine(16 << 20)
    m.ram.write(head, assemble(C_ADDI_X5, C_ADDI_X5) + struct.pack("<I", jal_to(head + 4, member)))
    m.ram.write(member, struct.pack("<II", ADDI_X5, jal_to(member + 4, head)))
    m.hart.state.pc = head
    saved = promotion.HOT_THRESHOLD, promotion.WARM_THRESHOLD
    promotion.HOT_THRESHOLD, promotion.WARM_THRESHOLD = 100, 10
    try:
        translator = translator_module.Translator(m.hart, background=False)
        run_native(m, translator, 2000)
        translator._next_promote_scan = 0.0           # look now, not PROMOTE_INTERVAL later
        translator.promote_hot()
    finally:
        promotion.HOT_THRESHOLD, promotion.WARM_THRESHOLD = saved
    first = translator.blocks[(head, head)]
    other = translator.blocks[(member, member)]
    assert first.pages == ((page_end >> 12) - 1, page_end >> 12) and other.pages == ((page_end >> 12) - 1,)
    assert first.tier == 1 and member not in first.region
    before = m.hart.state.x[5]
    run_native(m, translator, m.hart.instret() + 500)
    assert m.hart.state.x[5] > before
