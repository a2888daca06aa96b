"""CSR accesses that generated code handles itself (rvjit.backend.csrlower): every inline CSR,
every csr instruction form, from each privilege level, in threaded and optimised code, must leave
the same state as the reference interpreter (which goes through rvjit.cpu.csr for everything),
and a status write that unmasks a pending interrupt must let it be taken at once."""
import itertools
import struct

import pytest

from rvjit.backend import translator as translator_module
from rvjit.backend import promotion
from rvjit.backend.runloop import run_interpreted, run_native
from rvjit.cpu.csr import STATE_CSRS, STATUS_VIEWS, ZERO_READ_CSRS
from rvjit.cpu.trap import PRV_M, PRV_S, PRV_U
from rvjit.machine import Machine, RAM_BASE

M64 = (1 << 64) - 1
JUMP_TO_SELF = 0x0000006F
TRAP_VECTOR = RAM_BASE + 0x800
CODE = RAM_BASE + 0x10000      # programs follow each other from here, 16 bytes apart
F3 = {"csrrw": 1, "csrrs": 2, "csrrc": 3, "csrrwi": 5, "csrrsi": 6, "csrrci": 7}
MIE_NUM, SSTATUS, SIE_BIT, STIP = 0x304, 0x100, 1 << 1, 1 << 5
CSRS = sorted(STATE_CSRS) + sorted(STATUS_VIEWS) + [min(ZERO_READ_CSRS), MIE_NUM]


def csr_insn(name, csr, rs1_or_imm, rd):
    return csr << 20 | rs1_or_imm << 15 | F3[name] << 12 | rd << 7 | 0x73


_machines = {}


def machine_for(mode):
    """One machine per mode for the whole module; each program gets a fresh address."""
    if mode not in _machines:
        m = _machines[mode] = Machine(16 << 20)
        if mode != "interp":
            m.translator = translator_module.Translator(m.hart, background=False)
        m.ram.write(TRAP_VECTOR, struct.pack("<I", JUMP_TO_SELF))
        m.next_code = CODE
    return _machines[mode]


def run(mode, insns, setup, code):
    """Run a program at code after setup(hart) and return the state that matters."""
    m = machine_for(mode)
    h, st = m.hart, m.hart.state
    m.ram.write(code, b"".join(struct.pack("<I", i) for i in insns) + struct.pack("<I", JUMP_TO_SELF))
    h.csr.mtvec = h.csr.stvec = TRAP_VECTOR
    steps = len(insns) + 1
    if mode == "interp":
        setup(h, code)
        run_interpreted(m, h.instret() + steps)
    else:
        saved = promotion.HOT_THRESHOLD
        promotion.HOT_THRESHOLD = 1 if mode == "optimised" else 1 << 62
        try:
            # promoted on the second run; the last run finds every block in the jump cache, so
            # nothing but the code under test can make it leave native code
            for _ in range(3 if mode == "optimised" else 2):
                setup(h, code)
                m.translator._next_promote_scan = 0
                m.python_csr_calls = []
                h.csr.access = _counting(m.python_csr_calls, h.csr.access)
                try:
                    run_native(m, m.translator, h.instret() + steps)
                finally:
                    del h.csr.access
        finally:
            promotion.HOT_THRESHOLD = saved
        assert m.translator.blocks[(code, code)].tier == (1 if mode == "optimised" else 0)
    csrs = {num: h.csr.access(num, 0, "rs", True, False) for num in CSRS} if st.priv == PRV_M else {}
    return dict(pc=st.pc, priv=st.priv, x=list(st.x), mstatus=st.mstatus, tlb_mode=st.tlb_mode,
                mcause=h.csr.mcause,
                mepc=h.csr.mepc, scause=h.csr.scause, sepc=h.csr.sepc, csrs=csrs)


def _counting(calls, access):
    """CsrFile.access that notes the CSR numbers generated code asked Python for."""
    def counted(num, *args):
        calls.append(num)
        return access(num, *args)
    return counted


def setup_for(priv, csr, value, operands):
    def setup(h, code):
        st = h.state
        st.pc, st.mstatus = code, 0
        h.set_priv(PRV_M)
        for num in (0x303, MIE_NUM, 0x344):                  # mideleg, mie, mip: nothing pending
            h.csr.access(num, 0, "rw", False, True)
        for num in sorted(STATE_CSRS):
            h.csr.access(num, num * 0x1111, "rw", False, True)
        if csr in STATE_CSRS or csr in STATUS_VIEWS:
            h.csr.access(csr, value, "rw", False, True)
        h.set_priv(priv)
        for k in range(1, 32):
            st.x[k] = 0
        for k, operand in enumerate(operands):
            st.x[5 + k] = operand
    return setup


@pytest.fixture(scope="module", params=["threaded", "optimised"])
def mode(request):
    return request.param


OPERANDS = [M64, 2 << 11, SIE_BIT | (1 << 18)]      # 2 << 11: only the reserved MPP value
_code_slots = itertools.count(CODE, 0x100)


@pytest.mark.parametrize("priv", [PRV_M, PRV_S, PRV_U])
@pytest.mark.parametrize("csr", CSRS, ids=hex)
@pytest.mark.parametrize("value", [0, 0x5A5A_5A5A_A5A5_A5A5 | SIE_BIT], ids=["zero", "pattern"])
def test_inline_csr_matches_the_interpreter(mode, csr, priv, value):
    """Every instruction form on one CSR in one block (x5..x7 hold operands, each result goes
    to its own register), then a final read; x0 as rd (no read) and as rs1 (no write) too."""
    insns, rd = [], 8
    for name in F3:
        for k in range(len(OPERANDS)):
            src = (OPERANDS[k] + 3 * k) & 31 if name.endswith("i") else 5 + k
            insns.append(csr_insn(name, csr, src, rd if k else 0))
            rd += 1 if k else 0
    insns += [csr_insn("csrrs", csr, 0, 31), csr_insn("csrrc", csr, 0, 30)]
    code = next(_code_slots)
    results = [run(m_mode, insns, setup_for(priv, csr, value, OPERANDS), code) for m_mode in ("interp", mode)]
    assert results[1] == results[0], (hex(csr), priv)


@pytest.mark.parametrize("csr, bits, native", [
    (0x300, 2 << 11, False), (0x300, 1 << 20, False), (0x300, 1 << 22, False),
    (0x300, 1 << 17, True), (0x300, 1 << 11, True), (0x100, 1 << 18, True), (0x100, 1 << 19, True),
    (0x100, 1 << 13, True), (0x100, 3 << 13, True)],
    ids=["mpp-reserved", "tvm", "tsr", "mprv", "mpp", "sum", "mxr", "fs-initial", "fs-dirty"])
def test_status_writes_of_translation_and_fp_fields(mode, csr, bits, native):
    """One csrrs setting one field, in a block of its own, must leave the same state as the
    interpreter (SD, the data translation mode in state.tlb_mode): natively for the fields
    Linux changes on every trap and user access, through Python for TVM/TW/TSR and the reserved
    MPP value. MPRV is set from M-mode with MPP = S, so the translation mode does change."""
    insns = [csr_insn("csrrs", csr, 5, 0), csr_insn("csrrs", csr, 0, 31)]
    code = next(_code_slots)
    priv = PRV_M if csr == 0x300 else PRV_S
    value = 1 << 11 if bits == 1 << 17 else 0
    results = [run(m_mode, insns, setup_for(priv, csr, value, [bits]), code) for m_mode in ("interp", mode)]
    assert results[1] == results[0]
    assert (machine_for(mode).python_csr_calls == []) == native


TIME, MCOUNTEREN, SCOUNTEREN = 0xC01, 0x306, 0x106


def time_setup(priv, mcounteren, scounteren):
    def setup(h, code):
        st = h.state
        st.pc, st.mstatus = code, 0
        h.set_priv(PRV_M)
        h.csr.access(MCOUNTEREN, mcounteren, "rw", False, True)
        h.csr.access(SCOUNTEREN, scounteren, "rw", False, True)
        h.set_priv(priv)
        st.x[8] = st.x[9] = 0
    return setup


@pytest.mark.parametrize("priv", [PRV_M, PRV_S, PRV_U])
def test_time_is_read_natively_off_the_host_clock(mode, priv):
    """rdtime twice where the counter enables allow it: both values lie between the CLINT's
    mtime before and after the run, in order, and Python is never asked."""
    insns = [csr_insn("csrrs", TIME, 0, 8), csr_insn("csrrs", TIME, 0, 9)]
    code = next(_code_slots)
    m = machine_for(mode)
    before = m.clint.mtime()
    got = run(mode, insns, time_setup(priv, 2, 2), code)
    after = m.clint.mtime()
    assert got["pc"] == code + 8 and got["priv"] == priv
    assert before <= got["x"][8] <= got["x"][9] <= after
    assert m.python_csr_calls == []


@pytest.mark.parametrize("priv, mcounteren, scounteren", [(PRV_S, 0, 2), (PRV_U, 2, 0), (PRV_U, 0, 2)])
def test_time_the_counter_enables_forbid_traps_as_in_the_interpreter(mode, priv, mcounteren, scounteren):
    insns = [csr_insn("csrrs", TIME, 0, 8)]
    code = next(_code_slots)
    want, got = [run(m_mode, insns, time_setup(priv, mcounteren, scounteren), code) for m_mode in ("interp", mode)]
    assert want["mcause"] == 2 and want["mepc"] == code and want["priv"] == PRV_M
    assert got == want


def test_time_off_a_test_clock_is_asked_of_python(mode):
    """A CLINT on a clock of its own (tests, record/replay) is not the host's: generated code
    calls the CSR file, which reads that clock."""
    m = Machine(16 << 20)
    m.clint.__init__(m.hart, clock=lambda: 123_456_700)
    m.translator = translator_module.Translator(m.hart, background=False)
    m.ram.write(TRAP_VECTOR, struct.pack("<I", JUMP_TO_SELF))
    m.next_code = CODE
    _machines[mode], saved = m, _machines.get(mode)
    try:
        got = run(mode, [csr_insn("csrrs", TIME, 0, 8)], time_setup(PRV_S, 2, 0), CODE)
    finally:
        _machines[mode] = saved
    assert got["x"][8] == 0 and m.python_csr_calls == [TIME]


def test_enabling_interrupts_takes_the_pending_one_at_once(mode):
    """csrsi sstatus, SIE with a supervisor timer interrupt pending: the interrupt is taken
    before the next instruction, as the interpreter does. The program first runs with nothing
    pending, so that the next block is in the jump cache and native code would run on."""
    def setup_with(pending):
        def setup(h, code):
            st = h.state
            st.pc, st.mstatus = code, 0
            h.set_priv(PRV_M)
            h.csr.access(0x303, STIP, "rw", False, True)          # mideleg: STI to S
            h.csr.access(MIE_NUM, STIP, "rw", False, True)
            h.csr.access(0x344, pending, "rw", False, True)       # mip.STIP
            h.set_priv(PRV_S)
            st.x[7] = 0
        return setup

    insns = [csr_insn("csrrsi", SSTATUS, SIE_BIT, 0), 0x00100393]     # csrsi; li t2, 1
    code = next(_code_slots)
    quiet = run(mode, insns, setup_with(0), code)
    assert quiet["x"][7] == 1
    want, got = [run(m_mode, insns, setup_with(STIP), code) for m_mode in ("interp", mode)]
    assert want["scause"] == (1 << 63) | 5 and want["sepc"] == code + 4 and want["x"][7] == 0
    assert got == want
