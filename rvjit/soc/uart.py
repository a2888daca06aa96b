"""16550A UART (as `ns16550a` on QEMU's virt board): byte registers, 16-byte receive FIFO, interrupts.

Threading contract
  * `receive(data)` may be called from any thread (the stdin reader). It only appends to a
    host-side input queue under a lock, raises a flag and sets `machine.wakeup` so a hart
    sleeping in wfi wakes. It never touches registers or interrupt lines.
  * Everything else runs on the emulator's main thread: register reads/writes, and `poll()`,
    which the run loop must call whenever it is back in Python (and after every wakeup in wfi).
    `poll()` moves queued bytes into the receive FIFO and updates the IRQ line; the line goes to
    the PLIC, which asks the hart to leave native code. `poll()` costs two attribute tests when
    no input is waiting and the FIFO is empty.
  * Bytes wait in the host queue until the FIFO has room, so pasted text is never lost to
    overrun. Reading RBR refills the FIFO at once, so the guest drains a paste in one interrupt.

Transmit is instantaneous: a byte written to THR goes straight to `machine.console_write`, so THR
and the transmitter are always empty (LSR.THRE and LSR.TEMT stay set).

A console driver printing with interrupts off (Linux's earlycon and printk console) reads LSR and
writes THR for every character. While THR-empty interrupts are off, DLAB is clear, loopback is off
and no line error waits to be read, those two accesses have no effect beyond the byte sent, so
native code serves them itself (serve_natively: the TLB refill walker, backend.tlbrefill): LSR from
a copy kept current here, THR into a buffer whose bytes reach the console before any other access
to the UART and at every poll.

The receiver's character-timeout interrupt is modelled as "one poll() later": once poll() has seen
data sitting in the FIFO below the trigger level, IIR reports a timeout until RBR is read.
"""
import threading
from collections import deque

import numpy as np

from ..cpu.memory import (REFILL_UART_STATE, REFILL_UART_TX, REFILL_UART_TX_COUNT, REFILL_UART_TX_CAPACITY,
                          UART_NATIVE_READY)
from .bus import Device

# register offsets (reg-shift 0, byte-wide on virt)
RBR = THR = DLL = 0
IER = DLM = 1
IIR = FCR = 2
LCR, MCR, LSR, MSR, SCR = 3, 4, 5, 6, 7

IER_ERBFI, IER_ETBEI, IER_ELSI, IER_EDSSI = 0x01, 0x02, 0x04, 0x08

IIR_NO_INT = 0x01
IIR_MODEM, IIR_THRE, IIR_RDA, IIR_RLS, IIR_TIMEOUT = 0x00, 0x02, 0x04, 0x06, 0x0C
IIR_FIFO_ENABLED = 0xC0

FCR_ENABLE, FCR_CLEAR_RX, FCR_CLEAR_TX = 0x01, 0x02, 0x04
TRIGGER_LEVELS = (1, 4, 8, 14)          # FCR bits 7:6

LCR_DLAB = 0x80
MCR_DTR, MCR_RTS, MCR_OUT1, MCR_OUT2, MCR_LOOP = 0x01, 0x02, 0x04, 0x08, 0x10

LSR_DR, LSR_OE, LSR_PE, LSR_FE, LSR_BI = 0x01, 0x02, 0x04, 0x08, 0x10
LSR_THRE, LSR_TEMT = 0x20, 0x40
LSR_ERRORS = LSR_OE | LSR_PE | LSR_FE | LSR_BI

MSR_DCTS, MSR_DDSR, MSR_TERI, MSR_DDCD = 0x01, 0x02, 0x04, 0x08
MSR_CTS, MSR_DSR, MSR_RI, MSR_DCD = 0x10, 0x20, 0x40, 0x80
MSR_DELTAS = MSR_DCTS | MSR_DDSR | MSR_TERI | MSR_DDCD
MSR_NO_MODEM = MSR_DCD | MSR_DSR | MSR_CTS     # no modem attached: lines read as ready (as QEMU)

FIFO_SIZE = 16
NATIVE_TX_BYTES = 4096                  # a full buffer sends the next byte through Python


class Uart16550(Device):
    name = "uart"

    def __init__(self, machine, irq=None):
        """`irq`: callable(level: bool) driving the interrupt line (PLIC source 10 on virt), or None."""
        self.machine = machine
        self.irq = irq
        self._lock = threading.Lock()
        self._host_queue = bytearray()          # guarded by _lock
        self._input_waiting = False             # set by receive(), cleared by poll()
        self._irq_level = False
        self._native = None                     # the native walker's context words, once served
        self.reset()

    # --- native service -------------------------------------------------------------------
    def serve_natively(self, words: memoryview):
        """Let native code serve LSR reads and THR writes while they are plain (module doc):
        words are the refill walker's context, the UART's address in it already."""
        self._native_tx = np.zeros(NATIVE_TX_BYTES, dtype=np.uint8)
        words[REFILL_UART_TX] = self._native_tx.ctypes.data
        words[REFILL_UART_TX_CAPACITY] = NATIVE_TX_BYTES
        words[REFILL_UART_TX_COUNT] = 0
        self._native = words
        self._sync_native()

    def take_native_output(self):
        """Send what native code wrote to THR (before anything else touches the UART)."""
        words = self._native
        if words is not None and words[REFILL_UART_TX_COUNT]:
            n = words[REFILL_UART_TX_COUNT]
            words[REFILL_UART_TX_COUNT] = 0
            self.machine.console_write(self._native_tx[:n].tobytes())
            self.thre_pending = True             # as _transmit leaves it

    def _sync_native(self):
        """Tell native code whether it may serve LSR and THR, and the LSR it would read."""
        words = self._native
        if words is None:
            return
        plain = not (self.ier & IER_ETBEI or self.lcr & LCR_DLAB or self.mcr & MCR_LOOP or self.lsr_errors)
        words[REFILL_UART_STATE] = UART_NATIVE_READY | self.lsr() << 8 if plain else 0

    def reset(self):
        self.rx_fifo: deque[int] = deque()
        self.ier = self.lcr = self.mcr = self.scr = 0
        self.fcr = 0
        self.divisor = 12                        # 9600 baud from 1.8432 MHz; cosmetic here
        self.lsr_errors = 0                      # OE/PE/FE/BI latched until LSR is read
        self.msr = MSR_NO_MODEM
        self.thre_pending = False                # the "THR empty" interrupt condition
        self.rx_timeout = False
        self._update_irq()
        self._sync_native()

    # --- host side (any thread) -----------------------------------------------------------
    def receive(self, data: bytes):
        """Queue input for the guest. Thread-safe; the bytes reach the FIFO at the next poll()."""
        if not data:
            return
        with self._lock:
            self._host_queue += data
            self._input_waiting = True
        self.machine.wakeup.set()

    # --- run loop (main thread) -----------------------------------------------------------
    def poll(self):
        """Move waiting host input into the FIFO and bring the IRQ line up to date (the
        machine's poll has sent native output already: Machine.flush_console)."""
        if self._input_waiting:
            self._refill()
        elif not self.rx_fifo:
            return                               # nothing arrived, nothing waiting: line is current
        if self.rx_fifo and len(self.rx_fifo) < self.trigger_level:
            self.rx_timeout = True
        self._update_irq()
        self._sync_native()

    def _refill(self):
        if self.mcr & MCR_LOOP:
            return                               # in loopback the receiver hears only the transmitter
        room = self.fifo_capacity - len(self.rx_fifo)
        if room <= 0:
            return
        with self._lock:
            chunk = self._host_queue[:room]
            del self._host_queue[:room]
            self._input_waiting = bool(self._host_queue)
        self.rx_fifo.extend(chunk)

    # --- derived state --------------------------------------------------------------------
    @property
    def fifo_enabled(self) -> bool:
        return bool(self.fcr & FCR_ENABLE)

    @property
    def fifo_capacity(self) -> int:
        return FIFO_SIZE if self.fifo_enabled else 1

    @property
    def trigger_level(self) -> int:
        return TRIGGER_LEVELS[self.fcr >> 6] if self.fifo_enabled else 1

    def lsr(self) -> int:
        value = LSR_THRE | LSR_TEMT | self.lsr_errors
        if self.rx_fifo:
            value |= LSR_DR
        return value

    def interrupt_id(self) -> int:
        """IIR bits 3:0 for the highest-priority pending interrupt, or IIR_NO_INT."""
        ier = self.ier
        if ier & IER_ELSI and self.lsr_errors:
            return IIR_RLS
        if ier & IER_ERBFI and self.rx_fifo:
            if len(self.rx_fifo) >= self.trigger_level:
                return IIR_RDA
            if self.rx_timeout:
                return IIR_TIMEOUT
        if ier & IER_ETBEI and self.thre_pending:
            return IIR_THRE
        if ier & IER_EDSSI and self.msr & MSR_DELTAS:
            return IIR_MODEM
        return IIR_NO_INT

    def _update_irq(self):
        level = self.interrupt_id() != IIR_NO_INT
        if level != self._irq_level:
            self._irq_level = level
            if self.irq is not None:
                self.irq(level)

    # --- receiver and transmitter ---------------------------------------------------------
    def _receive_byte(self, byte: int):
        """A character arriving at the receiver (loopback); a full FIFO means overrun."""
        if len(self.rx_fifo) >= self.fifo_capacity:
            self.lsr_errors |= LSR_OE
            if not self.fifo_enabled:            # 16450 mode: the holding register is overwritten
                self.rx_fifo[-1] = byte
            return
        self.rx_fifo.append(byte)

    def _transmit(self, byte: int):
        if self.mcr & MCR_LOOP:
            self._receive_byte(byte)
        else:
            self.machine.console_write(bytes([byte]))
        self.thre_pending = True                 # sent at once: THR is empty again

    def _read_rbr(self) -> int:
        value = self.rx_fifo.popleft() if self.rx_fifo else 0
        self.rx_timeout = False
        if self._input_waiting:
            self._refill()
        return value

    def _set_mcr(self, value: int):
        old_msr = self.msr
        self.mcr = value & 0x1F
        if self.mcr & MCR_LOOP:                  # modem inputs are wired to the modem outputs
            status = ((MSR_CTS if self.mcr & MCR_RTS else 0) | (MSR_DSR if self.mcr & MCR_DTR else 0)
                      | (MSR_RI if self.mcr & MCR_OUT1 else 0) | (MSR_DCD if self.mcr & MCR_OUT2 else 0))
        else:
            status = MSR_NO_MODEM
        deltas = self.msr & MSR_DELTAS
        changed = (old_msr ^ status) & 0xF0
        if changed & MSR_CTS:
            deltas |= MSR_DCTS
        if changed & MSR_DSR:
            deltas |= MSR_DDSR
        if changed & MSR_DCD:
            deltas |= MSR_DDCD
        if old_msr & MSR_RI and not status & MSR_RI:        # trailing edge of ring indicator
            deltas |= MSR_TERI
        self.msr = status | deltas

    def _set_fcr(self, value: int):
        if (value ^ self.fcr) & FCR_ENABLE:      # switching FIFO mode empties both FIFOs
            value |= FCR_CLEAR_RX | FCR_CLEAR_TX
        if value & FCR_CLEAR_RX:
            self.rx_fifo.clear()
            self.rx_timeout = False
        self.fcr = value & (FCR_ENABLE | 0xC8) if value & FCR_ENABLE else 0

    # --- registers ------------------------------------------------------------------------
    def read(self, offset, size):
        self.take_native_output()
        dlab = self.lcr & LCR_DLAB
        if offset == RBR:
            value = self.divisor & 0xFF if dlab else self._read_rbr()
        elif offset == IER:
            value = self.divisor >> 8 if dlab else self.ier
        elif offset == IIR:
            iid = self.interrupt_id()
            if iid == IIR_THRE:                  # reading IIR acknowledges a reported THRE interrupt
                self.thre_pending = False
            value = iid | (IIR_FIFO_ENABLED if self.fifo_enabled else 0)
        elif offset == LCR:
            value = self.lcr
        elif offset == MCR:
            value = self.mcr
        elif offset == LSR:
            value = self.lsr()
            self.lsr_errors = 0
        elif offset == MSR:
            value = self.msr
            self.msr &= ~MSR_DELTAS
        elif offset == SCR:
            value = self.scr
        else:
            return 0
        self._update_irq()
        self._sync_native()
        return value

    def write(self, offset, size, value):
        self.take_native_output()
        value &= 0xFF
        dlab = self.lcr & LCR_DLAB
        if offset == THR:
            if dlab:
                self.divisor = (self.divisor & 0xFF00) | value
            else:
                self.thre_pending = False
                self._transmit(value)
        elif offset == IER:
            if dlab:
                self.divisor = (self.divisor & 0x00FF) | (value << 8)
            else:
                enabling_thre = value & IER_ETBEI and not self.ier & IER_ETBEI
                self.ier = value & 0x0F
                if enabling_thre:                # THR is always empty: enabling ETBEI interrupts
                    self.thre_pending = True
        elif offset == FCR:
            self._set_fcr(value)
        elif offset == LCR:
            self.lcr = value
        elif offset == MCR:
            self._set_mcr(value)
        elif offset == SCR:
            self.scr = value
        else:
            return                               # LSR and MSR are read-only
        self._update_irq()
        self._sync_native()
