"""16550A UART through its registers: DLAB, FIFO, IIR priorities, THRE rules, LSR, overrun, input."""
import threading
import time

import pytest

from rvjit.soc.uart import Uart16550

RBR = THR = DLL = 0
IER = DLM = 1
IIR = FCR = 2
LCR, MCR, LSR, MSR, SCR = 3, 4, 5, 6, 7


class FakeMachine:
    def __init__(self):
        self.out = bytearray()
        self.wakeup = threading.Event()

    def console_write(self, data):
        self.out += data


@pytest.fixture
def machine():
    return FakeMachine()


@pytest.fixture
def levels():
    return []


@pytest.fixture
def uart(machine, levels):
    return Uart16550(machine, irq=levels.append)


def rd(uart, reg):
    return uart.read(reg, 1)


def wr(uart, reg, value):
    uart.write(reg, 1, value)


def line(levels):
    return bool(levels) and levels[-1]


def test_bare_constructor_transmits(machine):
    uart = Uart16550(machine)                   # the bare-metal machine: no interrupt line
    for b in b"hi\n":
        wr(uart, THR, b)
    assert machine.out == b"hi\n"
    assert rd(uart, LSR) == 0x60


def test_reset_state(uart, levels):
    assert rd(uart, IIR) == 0x01
    assert rd(uart, LSR) == 0x60                # THRE | TEMT
    assert rd(uart, MSR) & 0xF0 == 0xB0         # DCD, DSR, CTS: no modem attached
    assert not line(levels)


def test_dlab_selects_divisor(uart, machine):
    wr(uart, LCR, 0x83)
    wr(uart, DLL, 0x01)
    wr(uart, DLM, 0x02)
    assert (rd(uart, DLL), rd(uart, DLM)) == (1, 2)
    assert machine.out == b""                   # a DLL write is not a transmit
    wr(uart, LCR, 0x03)
    assert rd(uart, LCR) == 0x03
    assert rd(uart, IER) == 0
    wr(uart, THR, ord("x"))
    assert machine.out == b"x"
    wr(uart, LCR, 0x83)
    assert (rd(uart, DLL), rd(uart, DLM)) == (1, 2)


def test_scratch_register(uart):
    wr(uart, SCR, 0xA5)
    assert rd(uart, SCR) == 0xA5


def test_fifo_bits_in_iir_and_trigger_level(uart, levels):
    wr(uart, FCR, 0x01 | 0x80)                  # FIFO on, trigger 8
    assert rd(uart, IIR) & 0xC0 == 0xC0
    wr(uart, IER, 0x01)
    uart.receive(b"abcdefgh")
    uart.poll()
    assert rd(uart, IIR) == 0xC4                # received data available (trigger reached)
    assert line(levels)
    assert bytes(rd(uart, RBR) for _ in range(8)) == b"abcdefgh"
    assert rd(uart, IIR) == 0xC1 and not line(levels)
    wr(uart, FCR, 0x00)
    assert rd(uart, IIR) & 0xC0 == 0


def test_below_trigger_reports_timeout_after_poll(uart, levels):
    wr(uart, FCR, 0xC1)                         # trigger 14
    wr(uart, IER, 0x01)
    uart.receive(b"ab")
    uart.poll()
    assert rd(uart, IIR) == 0xCC                # character timeout
    assert rd(uart, RBR) == ord("a")
    assert rd(uart, IIR) == 0xC1                # reading RBR restarts the timeout
    uart.poll()
    assert rd(uart, IIR) == 0xCC
    assert rd(uart, RBR) == ord("b")
    assert rd(uart, IIR) == 0xC1 and not line(levels)


def test_fifo_reset_clears_receiver(uart):
    wr(uart, FCR, 0x01)
    uart.receive(b"xyz")
    uart.poll()
    assert rd(uart, LSR) & 0x01
    wr(uart, FCR, 0x03)
    assert not rd(uart, LSR) & 0x01


def test_lsr_data_ready(uart):
    wr(uart, FCR, 0x01)
    assert rd(uart, LSR) == 0x60
    uart.receive(b"q")
    assert rd(uart, LSR) == 0x60                # not in the FIFO until poll()
    uart.poll()
    assert rd(uart, LSR) == 0x61
    assert rd(uart, RBR) == ord("q")
    assert rd(uart, LSR) == 0x60


def test_thre_interrupt_rules(uart, levels, machine):
    wr(uart, IER, 0x02)                         # enabling ETBEI with THR empty interrupts
    assert line(levels)
    assert rd(uart, IIR) == 0x02
    assert not line(levels)                     # reading IIR acknowledged it
    assert rd(uart, IIR) == 0x01
    wr(uart, THR, ord("a"))                     # sent at once: THR empty again, interrupt again
    assert line(levels) and machine.out == b"a"
    assert rd(uart, IIR) == 0x02
    wr(uart, IER, 0x00)
    wr(uart, IER, 0x02)
    assert rd(uart, IIR) == 0x02
    wr(uart, THR, ord("b"))
    wr(uart, IER, 0x00)                         # masked: line drops
    assert not line(levels)


def test_iir_priority_order(uart, levels):
    wr(uart, FCR, 0x01)                         # trigger 1
    wr(uart, MCR, 0x10)                         # loopback: make an overrun
    wr(uart, IER, 0x0F)
    for i in range(17):
        wr(uart, THR, i)
    assert rd(uart, IIR) == 0xC6                # receiver line status first
    assert rd(uart, LSR) & 0x02                 # OE, cleared by reading LSR
    assert not rd(uart, LSR) & 0x02
    assert rd(uart, IIR) == 0xC4                # then received data
    while rd(uart, LSR) & 0x01:
        rd(uart, RBR)
    assert rd(uart, IIR) == 0xC2                # then THR empty (acknowledged by this read)
    wr(uart, MCR, 0x13)                         # RTS/DTR change: modem status delta
    assert rd(uart, IIR) == 0xC0
    assert rd(uart, MSR) & 0x03 == 0x03
    assert rd(uart, IIR) == 0xC1
    assert not line(levels)


def test_loopback(uart, machine):
    wr(uart, FCR, 0x01)
    wr(uart, MCR, 0x10 | 0x0F)
    assert rd(uart, MSR) & 0xF0 == 0xF0         # CTS=RTS, DSR=DTR, RI=OUT1, DCD=OUT2
    for b in b"loop":
        wr(uart, THR, b)
    assert machine.out == b""
    assert bytes(rd(uart, RBR) for _ in range(4)) == b"loop"
    uart.receive(b"host")                       # host input waits while in loopback
    uart.poll()
    assert not rd(uart, LSR) & 0x01
    wr(uart, MCR, 0x00)
    uart.poll()
    assert rd(uart, RBR) == ord("h")


def test_overrun_keeps_fifo_contents(uart):
    wr(uart, FCR, 0x01)
    wr(uart, MCR, 0x10)
    for i in range(20):
        wr(uart, THR, i)
    assert rd(uart, LSR) & 0x03 == 0x03
    assert [rd(uart, RBR) for _ in range(16)] == list(range(16))
    assert rd(uart, LSR) == 0x60


def test_overrun_without_fifo_overwrites_holding_register(uart):
    wr(uart, MCR, 0x10)
    wr(uart, THR, 1)
    wr(uart, THR, 2)
    assert rd(uart, LSR) & 0x03 == 0x03
    assert rd(uart, RBR) == 2


def test_input_beyond_fifo_waits_in_host_queue(uart):
    text = bytes(range(32, 127)) * 3            # a paste much longer than the FIFO
    wr(uart, FCR, 0x01)
    wr(uart, IER, 0x05)
    uart.receive(text)
    uart.poll()
    got = bytearray()
    while rd(uart, LSR) & 0x01:
        got.append(rd(uart, RBR))
        uart.poll()
    assert bytes(got) == text
    assert not rd(uart, LSR) & 0x02             # no overrun


def test_input_without_fifo_is_one_byte_at_a_time(uart):
    uart.receive(b"ab")
    uart.poll()
    assert rd(uart, LSR) & 0x03 == 0x01
    uart.poll()
    assert rd(uart, RBR) == ord("a")
    assert rd(uart, RBR) == ord("b")
    assert rd(uart, LSR) & 0x03 == 0x00


def test_receive_from_another_thread_wakes(uart, machine, levels):
    wr(uart, FCR, 0x01)
    wr(uart, IER, 0x01)
    sender = threading.Thread(target=lambda: (time.sleep(0.05), uart.receive(b"k")))
    sender.start()
    assert machine.wakeup.wait(5)
    sender.join()
    uart.poll()
    assert line(levels)
    assert rd(uart, RBR) == ord("k")


def test_concurrent_receive_loses_nothing(uart):
    wr(uart, FCR, 0x01)
    chunks = [bytes([65 + i % 26]) * 7 for i in range(200)]
    sender = threading.Thread(target=lambda: [uart.receive(c) for c in chunks])
    sender.start()
    got = bytearray()
    deadline = time.monotonic() + 10
    while len(got) < 1400 and time.monotonic() < deadline:
        uart.poll()
        while rd(uart, LSR) & 0x01:
            got.append(rd(uart, RBR))
    sender.join()
    assert bytes(got) == b"".join(chunks)
