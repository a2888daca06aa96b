"""The console UART served by native code (soc.uart.Uart16550.serve_natively, backend.tlbrefill):
a driver polling LSR and writing THR with THR interrupts off never reaches Python, in S-mode
through the page tables or in M-mode; the bytes arrive in order however native and Python
writes mix; whenever an access has an effect beyond the byte sent, Python serves it."""
import pytest

from rvjit.backend.runloop import run_native
from rvjit.cpu.mmu import PTE_V, PTE_R, PTE_W, PTE_A, PTE_D
from rvjit.cpu.trap import PRV_S
from rvjit.machine import RAM_BASE, UART_BASE, make_translator
from rvjit.soc import uart as uart_module
from rvjit.soc.uart import IER, LSR, LSR_DR, THR, IER_ETBEI
from test_mmu import A0, A1, A2, A3, RWX, _encode, setup

CODE = RAM_BASE + 0x20_0000
TEXT = RAM_BASE + 0xA0_0000
UART_VA = 0x5000_0000
TEXT_VA = 0x4000_0000
RW = PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
T0, T1 = 5, 6


def lbu(rd, rs1, imm):
    return imm << 20 | rs1 << 15 | 4 << 12 | rd << 7 | 0x03


def andi(rd, rs1, imm):
    return imm << 20 | rs1 << 15 | 7 << 12 | rd << 7 | 0x13


def sb(rs2, rs1, imm):
    return (imm >> 5) << 25 | rs2 << 20 | rs1 << 15 | (imm & 31) << 7 | 0x23


def beqz(rs1, offset):
    return _encode("B", rs1=rs1, imm=offset) & ~(7 << 12)      # bne with funct3 0: beq


# print a2 bytes from a1 to the UART at a0, waiting for LSR.THRE before each (as earlycon does)
PRINT = [
    lbu(T0, A0, LSR), andi(T0, T0, 0x20), beqz(T0, -8),
    lbu(T1, A1, 0), sb(T1, A0, THR), _encode("I", A1, A1, imm=1), _encode("I", A2, A2, imm=-1),
    _encode("B", rs1=A2, imm=-28),
]
IDLE = 0x0000006F                                      # j .


def _machine(program, text: bytes, paging: bool):
    """The program at CODE with text at TEXT: in S-mode through page tables, or in M-mode."""
    m, pager = setup()
    for k, word in enumerate(program + [IDLE]):
        m.ram.store(CODE + 4 * k, word, 4)
    m.ram.write(TEXT, text)
    hart = m.hart
    uart_at, text_at = UART_BASE, TEXT
    if paging:
        pager.map(CODE, CODE, RWX)
        pager.map(UART_VA, UART_BASE, RW)
        for k in range(0, len(text) + 4096, 4096):
            pager.map(TEXT_VA + k, TEXT + k, RW)
        hart = pager.enable(PRV_S)
        uart_at, text_at = UART_VA, TEXT_VA
    hart.state.pc = CODE
    hart.state.x[A0], hart.state.x[A1], hart.state.x[A2] = uart_at, text_at, len(text)
    m.console = Captured()
    return m


class Captured:
    def __init__(self):
        self.data = bytearray()

    def write(self, data):
        self.data += data

    def flush(self):
        pass


@pytest.fixture
def python_accesses(monkeypatch):
    """(read|write, register) of every UART access Python serves."""
    seen = []
    read, write = uart_module.Uart16550.read, uart_module.Uart16550.write
    monkeypatch.setattr(uart_module.Uart16550, "read",
                        lambda self, offset, size: seen.append(("read", offset)) or read(self, offset, size))
    monkeypatch.setattr(uart_module.Uart16550, "write",
                        lambda self, offset, size, value: seen.append(("write", offset)) or write(self, offset, size, value))
    return seen


def _run(m, insns):
    run_native(m, make_translator(m), max_insns=insns)
    m.flush_console()


TEXT_BYTES = b"Linux version 6.1, printed with interrupts off\n"


@pytest.mark.parametrize("paging", [True, False], ids=["S-mode-sv39", "M-mode"])
def test_a_polling_console_driver_never_reaches_python(python_accesses, paging):
    m = _machine(PRINT, TEXT_BYTES, paging)
    _run(m, 8 * len(TEXT_BYTES) + 50)
    assert bytes(m.console.data) == TEXT_BYTES
    assert python_accesses == []


def test_with_thr_interrupts_on_every_write_goes_to_python(python_accesses):
    m = _machine(PRINT, TEXT_BYTES, paging=True)
    m.uart.write(IER, 1, IER_ETBEI)          # sending then raises THRE interrupts: Python's job
    python_accesses.clear()
    _run(m, 8 * len(TEXT_BYTES) + 50)
    assert bytes(m.console.data) == TEXT_BYTES
    assert python_accesses.count(("write", THR)) == len(TEXT_BYTES)
    assert python_accesses.count(("read", LSR)) == len(TEXT_BYTES)
    assert m.uart.thre_pending


def test_bytes_keep_their_order_past_a_full_buffer(python_accesses):
    text = bytes(range(32, 127)) * 60                   # more than the native buffer holds
    assert len(text) > uart_module.NATIVE_TX_BYTES
    m = _machine(PRINT, text, paging=True)
    _run(m, 8 * len(text) + 50)
    assert bytes(m.console.data) == text
    # the byte after a full buffer went through Python, which sent the buffer first
    assert 0 < python_accesses.count(("write", THR)) < len(text) // 4


def test_native_service_resumes_after_python_serves_an_access(python_accesses):
    # print the first half, switch THR interrupts on and off (Python), print the rest
    half = len(TEXT_BYTES) // 2
    program = PRINT + [
        _encode("I", A2, 0, imm=len(TEXT_BYTES) - half), _encode("I", A3, 0, imm=IER_ETBEI),
        sb(A3, A0, IER), sb(0, A0, IER),
    ] + PRINT
    m = _machine(program, TEXT_BYTES, paging=True)
    m.hart.state.x[A2] = half
    _run(m, 16 * len(TEXT_BYTES) + 50)
    assert bytes(m.console.data) == TEXT_BYTES
    assert python_accesses == [("write", IER), ("write", IER)]


def test_lsr_read_natively_shows_waiting_input(python_accesses):
    m = _machine([lbu(A3, A0, LSR)], b"", paging=True)
    m.uart.receive(b"k")
    m.uart.poll()                                       # the byte reaches the FIFO
    _run(m, 5)
    assert m.hart.state.x[A3] & LSR_DR
    assert python_accesses == []
