"""Goldfish RTC: wall-clock time through the latched registers, setting the time, the alarm."""
import time

from rvjit.soc.rtc import GoldfishRtc, TIME_LOW, TIME_HIGH, ALARM_LOW, ALARM_HIGH, \
    IRQ_ENABLED, CLEAR_ALARM, ALARM_STATUS, CLEAR_INTERRUPT


def read_time(rtc):
    low = rtc.read(TIME_LOW, 4)
    return (rtc.read(TIME_HIGH, 4) << 32) | low


def test_time_is_wall_clock_and_monotonic():
    rtc = GoldfishRtc()
    before = time.time_ns()
    samples = [read_time(rtc) for _ in range(100)]
    after = time.time_ns()
    assert before <= samples[0] and samples[-1] <= after
    assert samples == sorted(samples)


def test_reading_low_latches_high():
    now = [0x1_FFFF_FFFF]
    rtc = GoldfishRtc(clock=lambda: now[0])
    assert rtc.read(TIME_LOW, 4) == 0xFFFF_FFFF
    now[0] += 1                                 # low half wraps between the two reads
    assert rtc.read(TIME_HIGH, 4) == 1          # still the latched high half
    assert read_time(rtc) == 0x2_0000_0000


def test_guest_sets_time():
    now = [10**18]
    rtc = GoldfishRtc(clock=lambda: now[0])
    target = 0x1234_5678_9ABC_DEF0
    rtc.write(TIME_HIGH, 4, target >> 32)
    rtc.write(TIME_LOW, 4, target & 0xFFFFFFFF)
    assert read_time(rtc) == target
    now[0] += 500
    assert read_time(rtc) == target + 500


def test_alarm_raises_and_clears_interrupt():
    now = [1000]
    levels = []
    rtc = GoldfishRtc(irq=levels.append, clock=lambda: now[0])
    rtc.write(IRQ_ENABLED, 4, 1)
    rtc.write(ALARM_HIGH, 4, 0)
    rtc.write(ALARM_LOW, 4, 2000)
    assert rtc.read(ALARM_STATUS, 4) == 1
    assert rtc.seconds_until_alarm() == 1000 / 1e9
    rtc.poll()
    assert levels == []
    now[0] = 2000
    rtc.poll()
    assert levels == [True]
    assert rtc.read(ALARM_STATUS, 4) == 0
    rtc.write(CLEAR_INTERRUPT, 4, 1)
    assert levels == [True, False]


def test_alarm_in_the_past_fires_at_once_and_clear_alarm_disarms():
    now = [5000]
    levels = []
    rtc = GoldfishRtc(irq=levels.append, clock=lambda: now[0])
    rtc.write(IRQ_ENABLED, 4, 1)
    rtc.write(ALARM_LOW, 4, 10)
    assert levels == [True]
    rtc.write(CLEAR_INTERRUPT, 4, 1)
    rtc.write(ALARM_LOW, 4, 9000)
    rtc.write(CLEAR_ALARM, 4, 1)
    now[0] = 10000
    rtc.poll()
    assert levels == [True, False]
    assert rtc.seconds_until_alarm() is None


def test_unknown_offsets_do_not_crash():
    rtc = GoldfishRtc()
    for off in range(0, 0x40, 4):
        rtc.read(off, 4)
    rtc.write(0x3C, 4, 123)
