"""PLIC: priorities, threshold, claim/complete, level gateway, per-context enables, hart lines."""
import pytest

from rvjit.soc.plic import Plic

MEIP, SEIP = 1 << 11, 1 << 9
PENDING, ENABLE, CONTEXT = 0x1000, 0x2000, 0x200000
M, S = 0, 1


class FakeHart:
    def __init__(self):
        self.irq_lines = 0
        self.stops = 0

    def request_stop(self):
        self.stops += 1


@pytest.fixture
def hart():
    return FakeHart()


@pytest.fixture
def wakes():
    return []


@pytest.fixture
def plic(hart, wakes):
    return Plic(hart, wake=lambda: wakes.append(1))


def set_priority(plic, src, prio):
    plic.write(4 * src, 4, prio)


def enable(plic, ctx, *sources):
    words = {}
    for s in sources:
        words[s // 32] = words.get(s // 32, 0) | 1 << (s % 32)
    for w, bits in words.items():
        plic.write(ENABLE + 0x80 * ctx + 4 * w, 4, bits)


def threshold(plic, ctx, value):
    plic.write(CONTEXT + 0x1000 * ctx, 4, value)


def claim(plic, ctx):
    return plic.read(CONTEXT + 0x1000 * ctx + 4, 4)


def complete(plic, ctx, src):
    plic.write(CONTEXT + 0x1000 * ctx + 4, 4, src)


def test_priority_is_warl_three_bits(plic):
    set_priority(plic, 5, 0xFF)
    assert plic.read(4 * 5, 4) == 7
    set_priority(plic, 0, 3)                    # source 0 does not exist
    assert plic.read(0, 4) == 0
    threshold(plic, M, 0x1F)
    assert plic.read(CONTEXT, 4) == 7


def test_pending_follows_line_and_is_read_only(plic):
    line = plic.irq_line(10)
    line(True)
    assert plic.read(PENDING, 4) == 1 << 10
    plic.write(PENDING, 4, 0)
    assert plic.read(PENDING, 4) == 1 << 10
    line(False)                                 # dropped before a claim: request withdrawn
    assert plic.read(PENDING, 4) == 0


def test_pending_and_enable_words_above_32(plic):
    plic.irq_line(40)(True)
    assert plic.read(PENDING + 4, 4) == 1 << 8
    assert plic.read(PENDING, 8) == 1 << 40
    enable(plic, S, 40, 95)
    assert plic.read(ENABLE + 0x80 + 4, 4) == 1 << 8
    assert plic.read(ENABLE + 0x80 + 8, 4) == 1 << 31
    plic.write(ENABLE, 4, 0xFFFFFFFF)
    assert plic.read(ENABLE, 4) == 0xFFFFFFFE   # source 0 cannot be enabled


def test_delivery_needs_enable_priority_and_threshold(plic, hart, wakes):
    line = plic.irq_line(10)
    line(True)
    assert hart.irq_lines == 0                  # priority 0: never
    set_priority(plic, 10, 1)
    assert hart.irq_lines == 0                  # not enabled anywhere
    enable(plic, S, 10)
    assert hart.irq_lines == SEIP
    assert hart.stops >= 1 and wakes
    threshold(plic, S, 1)                       # priority must exceed the threshold
    assert hart.irq_lines == 0
    threshold(plic, S, 0)
    enable(plic, M, 10)
    assert hart.irq_lines == SEIP | MEIP
    threshold(plic, M, 7)
    assert hart.irq_lines == SEIP


def test_other_hart_lines_are_preserved(plic, hart):
    hart.irq_lines = 1 << 7                     # MTIP from the CLINT
    set_priority(plic, 3, 1)
    enable(plic, M, 3)
    plic.irq_line(3)(True)
    assert hart.irq_lines == (1 << 7) | MEIP
    plic.irq_line(3)(False)
    assert hart.irq_lines == 1 << 7


def test_claim_order_priority_then_lowest_id(plic):
    for src, prio in ((4, 2), (7, 5), (9, 5), (2, 1)):
        set_priority(plic, src, prio)
        plic.irq_line(src)(True)
    enable(plic, M, 2, 4, 7, 9)
    assert [claim(plic, M) for _ in range(5)] == [7, 9, 4, 2, 0]


def test_claim_respects_threshold(plic):
    set_priority(plic, 1, 2)
    set_priority(plic, 2, 4)
    enable(plic, M, 1, 2)
    plic.irq_line(1)(True)
    plic.irq_line(2)(True)
    threshold(plic, M, 2)
    assert claim(plic, M) == 2
    assert claim(plic, M) == 0                  # source 1 is at the threshold, not above


def test_gateway_in_service_until_complete(plic, hart):
    set_priority(plic, 10, 1)
    enable(plic, S, 10)
    line = plic.irq_line(10)
    line(True)
    assert claim(plic, S) == 10
    assert plic.read(PENDING, 4) == 0 and hart.irq_lines == 0
    line(False)
    line(True)                                  # a new edge while in service: not pending
    assert plic.read(PENDING, 4) == 0 and hart.irq_lines == 0
    assert claim(plic, S) == 0
    complete(plic, S, 10)                       # still high: pending again at once
    assert plic.read(PENDING, 4) == 1 << 10 and hart.irq_lines == SEIP
    assert claim(plic, S) == 10
    line(False)
    complete(plic, S, 10)
    assert plic.read(PENDING, 4) == 0 and hart.irq_lines == 0


def test_completion_of_unclaimed_or_disabled_source_is_ignored(plic, hart):
    set_priority(plic, 10, 1)
    enable(plic, S, 10)
    line = plic.irq_line(10)
    complete(plic, S, 10)                       # never claimed
    complete(plic, S, 0)
    complete(plic, S, 500)
    line(True)
    assert claim(plic, S) == 10
    plic.write(ENABLE + 0x80, 4, 0)             # disabled in this context: completion ignored
    complete(plic, S, 10)
    enable(plic, S, 10)
    assert claim(plic, S) == 0                  # still in service
    complete(plic, S, 10)
    assert claim(plic, S) == 10


def test_request_stop_only_when_a_line_rises(plic, hart, wakes):
    set_priority(plic, 1, 1)
    set_priority(plic, 2, 1)
    enable(plic, M, 1, 2)
    plic.irq_line(1)(True)
    stops, n_wakes = hart.stops, len(wakes)
    assert stops == 1 and n_wakes == 1
    plic.irq_line(2)(True)                      # MEIP already up
    assert hart.stops == stops and len(wakes) == n_wakes


def test_irq_line_range(plic):
    with pytest.raises(ValueError):
        plic.irq_line(0)
    with pytest.raises(ValueError):
        plic.irq_line(96)
    plic.irq_line(95)(True)
    assert plic.read(PENDING + 8, 4) == 1 << 31


def test_unknown_context_and_narrow_access(plic):
    assert plic.read(CONTEXT + 0x1000 * 5 + 4, 4) == 0
    plic.write(CONTEXT + 0x1000 * 5, 4, 3)
    set_priority(plic, 6, 0)
    plic.write(4 * 6, 1, 0x5)
    assert plic.read(4 * 6, 1) == 5
