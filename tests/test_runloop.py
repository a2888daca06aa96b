"""The run loop's instruction slices (rvjit.backend.runloop): a trip into native code that uses
up its budget quickly gets a larger one next time, up to a bound; slow trips keep the first."""
import pytest

from rvjit.backend import runloop
from rvjit.backend import translator as translator_module
from rvjit.cpu.state import EXIT_BUDGET
from rvjit.machine import Machine, RAM_BASE

ADD_LOOP = [0x00150513, 0xFFDFF06F]        # addi a0, a0, 1; j .-4


def budget_exits(monkeypatch, trip_ns: int, slices: int) -> tuple[int, int]:
    monkeypatch.setattr(runloop, "TRIP_NS", trip_ns)
    monkeypatch.setattr(runloop, "SLICE", 1 << 12)
    m = Machine(16 << 20)
    for k, word in enumerate(ADD_LOOP):
        m.ram.store(RAM_BASE + 4 * k, word, 4)
    m.hart.state.pc = RAM_BASE
    translator = translator_module.Translator(m.hart, background=False)
    stats = runloop.run_native(m, translator, max_insns=slices * runloop.SLICE)
    return stats.exits.get(EXIT_BUDGET, 0), m.hart.state.x[10]


@pytest.mark.parametrize("fast", [True, False])
def test_fast_trips_get_larger_slices_up_to_the_bound(monkeypatch, fast):
    slices = 4 * runloop.MAX_SLICE_GROWTH
    exits, a0 = budget_exits(monkeypatch, 10 ** 12 if fast else 0, slices)
    assert a0 == slices * (1 << 12) // 2            # every instruction ran, half of them addi
    if fast:    # 1, 2, 4, ... MAX_SLICE_GROWTH slices, then MAX_SLICE_GROWTH at a time
        growing = runloop.MAX_SLICE_GROWTH.bit_length()     # trips until the bound
        left = slices - (2 * runloop.MAX_SLICE_GROWTH - 1)
        assert exits == growing + left // runloop.MAX_SLICE_GROWTH + (left % runloop.MAX_SLICE_GROWTH > 0)
    else:
        assert exits == slices
