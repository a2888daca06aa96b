"""The CLINT's timer: MTIP follows mtime >= mtimecmp."""
from rvjit.cpu.trap import IRQ_MTI
from rvjit.machine import Machine
from rvjit.soc.clint import Clint, MTIME, MTIMECMP


def test_reading_mtime_past_mtimecmp_raises_mtip_at_once():
    # a guest spinning on mtime (no device poll in between) must see its timer fire
    now = [0]
    m = Machine(1 << 20)
    clint = Clint(m.hart, clock=lambda: now[0])
    clint.write(MTIMECMP, 8, 100)
    assert not m.hart.irq_lines >> IRQ_MTI & 1
    assert clint.read(MTIME, 8) == 0
    assert not m.hart.irq_lines >> IRQ_MTI & 1
    m.hart.state.exit_reason = 0
    now[0] = 100 * 100                       # 100 ticks of the 10 MHz timebase, in ns
    assert clint.read(MTIME, 8) == 100
    assert m.hart.irq_lines >> IRQ_MTI & 1
    assert m.hart.state.exit_reason != 0     # generated code leaves to take it
