"""Goldfish RTC (`google,goldfish-rtc`, 0x101000, PLIC source 11 on virt).

The time is host wall-clock nanoseconds since the Unix epoch (as QEMU does), plus an offset the
guest sets by writing the time registers. One alarm: when the time reaches it, the interrupt is
raised (if enabled) and stays up until the guest writes CLEAR_INTERRUPT.

Registers (32 bits):
  0x00 TIME_LOW         reading it latches the high half for TIME_HIGH (read low first)
  0x04 TIME_HIGH
  0x08 ALARM_LOW        writing it arms the alarm at (ALARM_HIGH << 32) | value
  0x0c ALARM_HIGH
  0x10 IRQ_ENABLED      bit 0
  0x14 CLEAR_ALARM      any write disarms the alarm
  0x18 ALARM_STATUS     1 while armed
  0x1c CLEAR_INTERRUPT  any write drops the interrupt
Alarms are checked on register accesses and by `poll()`, which the run loop should call with the
other devices; `seconds_until_alarm()` lets a wfi sleep end in time.
"""
import time

from .bus import Device

TIME_LOW, TIME_HIGH, ALARM_LOW, ALARM_HIGH = 0x00, 0x04, 0x08, 0x0C
IRQ_ENABLED, CLEAR_ALARM, ALARM_STATUS, CLEAR_INTERRUPT = 0x10, 0x14, 0x18, 0x1C
MMIO_SIZE = 0x1000
MASK64 = (1 << 64) - 1


class GoldfishRtc(Device):
    name = "rtc"

    def __init__(self, irq=None, clock=time.time_ns):
        """`irq`: callable(level: bool) for the interrupt line, or None. `clock`: ns since the epoch."""
        self.irq = irq
        self.clock = clock
        self.offset = 0                 # guest-set time minus host time, in ns
        self.time_high_latch = 0
        self.alarm_high = 0             # written before ALARM_LOW completes the alarm
        self.alarm: int | None = None
        self.irq_enabled = False
        self.irq_pending = False
        self._irq_level = False

    def now(self) -> int:
        return (self.clock() + self.offset) & MASK64

    def _set_now(self, value: int):
        self.offset += value - self.now()

    # --- alarm ----------------------------------------------------------------------------
    def poll(self):
        if self.alarm is not None and self.now() >= self.alarm:
            self.alarm = None
            self.irq_pending = True
        level = self.irq_pending and self.irq_enabled
        if level != self._irq_level:
            self._irq_level = level
            if self.irq is not None:
                self.irq(level)

    def seconds_until_alarm(self) -> float | None:
        if self.alarm is None:
            return None
        return max(0, self.alarm - self.now()) / 1e9

    # --- registers ------------------------------------------------------------------------
    def read(self, offset, size):
        if offset == TIME_LOW:
            now = self.now()
            self.time_high_latch = now >> 32
            value = now & 0xFFFFFFFF
        elif offset == TIME_HIGH:
            value = self.time_high_latch
        elif offset == ALARM_LOW:
            value = (self.alarm or 0) & 0xFFFFFFFF
        elif offset == ALARM_HIGH:
            value = (self.alarm or 0) >> 32
        elif offset == IRQ_ENABLED:
            value = int(self.irq_enabled)
        elif offset == ALARM_STATUS:
            value = int(self.alarm is not None)
        else:
            value = 0
        self.poll()
        return value

    def write(self, offset, size, value):
        value &= 0xFFFFFFFF
        if offset == TIME_LOW:
            self._set_now((self.now() & ~0xFFFFFFFF) | value)
        elif offset == TIME_HIGH:
            self._set_now((self.now() & 0xFFFFFFFF) | (value << 32))
        elif offset == ALARM_LOW:
            self.alarm = (self.alarm_high << 32) | value     # in the past: fires at the poll() below
        elif offset == ALARM_HIGH:
            self.alarm_high = value
        elif offset == IRQ_ENABLED:
            self.irq_enabled = bool(value & 1)
        elif offset == CLEAR_ALARM:
            self.alarm = None
        elif offset == CLEAR_INTERRUPT:
            self.irq_pending = False
        self.poll()
