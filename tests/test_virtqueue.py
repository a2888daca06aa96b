"""Split virtqueues against well-formed and malformed drivers.

Documented behaviour (rvjit/soc/virtio/transport.py): a malformed ring or descriptor chain stops
the device: Status gets DEVICE_NEEDS_RESET (0x40), a configuration-change interrupt is raised
(once DRIVER_OK is set), one warning line is printed per device, nothing more is used or written,
and a reset brings the device back. The host never touches memory outside guest RAM.
"""
import pytest

from rvjit.soc.virtio import RngDevice
from rvjit.soc.virtio import transport as T
from rvjit.soc.virtio.virtqueue import F_INDIRECT, F_NEXT, F_WRITE

from virtio_driver import RAM_BASE, Driver

OUTSIDE = RAM_BASE + (1 << 20)           # just past the end of the test RAM


def rng_driver(**start):
    d = Driver(RngDevice())
    (q,) = d.start(**start)
    return d, q


def assert_good_chain_works(d, q):
    head, (addr,) = q.chain([32])
    q.submit(head)
    assert q.take_used() == [(head, 32)]
    assert d.ram.read(addr, 32) != bytes(32)


def assert_stopped(d, q, used_before=0):
    assert d.rd(T.STATUS) & T.DEVICE_NEEDS_RESET
    assert d.rd(T.INTERRUPT_STATUS) & T.INT_CONFIG and d.line
    assert q.used_idx() == used_before
    # a stopped device ignores further requests, even good ones
    head, _ = q.chain([16])
    q.submit(head)
    assert q.used_idx() == used_before


def reset_and_restart(d):
    d.wr(T.STATUS, 0)
    assert d.rd(T.STATUS) == 0 and not d.line
    (q,) = d.start()
    return q


# Each case makes the driver hand over one bad request; `q` has 8 descriptors.
def _outside_ram(d, q):
    q.set_desc(0, OUTSIDE - 8, 16, F_WRITE)          # straddles the end of RAM
    return 0


def _far_outside_ram(d, q):
    q.set_desc(0, 0x1000, 16, F_WRITE)                # below RAM (MMIO space)
    return 0


def _huge_length(d, q):
    q.set_desc(0, RAM_BASE + 0x8000, 0xFFFFFFFF, F_WRITE)
    return 0


def _loop(d, q):
    a = d.alloc(16)
    q.set_desc(0, a, 16, F_WRITE | F_NEXT, 1)
    q.set_desc(1, a, 16, F_WRITE | F_NEXT, 0)
    return 0


def _zero_length(d, q):
    a = d.alloc(16)
    q.set_desc(0, a, 16, F_WRITE | F_NEXT, 1)
    q.set_desc(1, a, 0, F_WRITE)
    return 0


def _next_out_of_range(d, q):
    q.set_desc(0, d.alloc(16), 16, F_WRITE | F_NEXT, 8)
    return 0


def _readable_after_writable(d, q):
    q.set_desc(0, d.alloc(16), 16, F_WRITE | F_NEXT, 1)
    q.set_desc(1, d.alloc(16), 16, 0)
    return 0


def _head_out_of_range(d, q):
    return 9


def _nested_indirect(d, q):
    inner = d.alloc(16)
    q.set_desc(0, d.alloc(16), 16, F_WRITE, table=inner)
    outer = d.alloc(16)
    q.set_desc(0, inner, 16, F_INDIRECT, table=outer)
    q.set_desc(0, outer, 16, F_INDIRECT)
    return 0


def _indirect_bad_length(d, q):
    table = d.alloc(32)
    q.set_desc(0, d.alloc(16), 16, F_WRITE, table=table)
    q.set_desc(0, table, 24, F_INDIRECT)
    return 0


def _indirect_zero_length(d, q):
    q.set_desc(0, d.alloc(16), 0, F_INDIRECT)
    return 0


def _indirect_outside_ram(d, q):
    q.set_desc(0, OUTSIDE - 16, 32, F_INDIRECT)
    return 0


def _indirect_loop(d, q):
    table = d.alloc(64)
    a = d.alloc(16)
    for i in range(4):                                # 0 -> 1 -> 2 -> 3 -> 0 ...
        q.set_desc(i, a, 16, F_WRITE | F_NEXT, (i + 1) % 4, table=table)
    q.set_desc(0, table, 64, F_INDIRECT)
    return 0


def _indirect_next_out_of_range(d, q):
    table = d.alloc(32)
    q.set_desc(0, d.alloc(16), 16, F_WRITE | F_NEXT, 2, table=table)
    q.set_desc(0, table, 32, F_INDIRECT)
    return 0


def _indirect_buffer_outside_ram(d, q):
    table = d.alloc(16)
    q.set_desc(0, OUTSIDE, 16, F_WRITE, table=table)
    q.set_desc(0, table, 16, F_INDIRECT)
    return 0


def _indirect_chained(d, q):
    table = d.alloc(16)
    q.set_desc(0, d.alloc(16), 16, F_WRITE, table=table)
    q.set_desc(0, table, 16, F_INDIRECT | F_NEXT, 1)
    q.set_desc(1, d.alloc(16), 16, F_WRITE)
    return 0


MALFORMED = [_outside_ram, _far_outside_ram, _huge_length, _loop, _zero_length, _next_out_of_range,
             _readable_after_writable, _head_out_of_range, _nested_indirect, _indirect_bad_length,
             _indirect_zero_length, _indirect_outside_ram, _indirect_loop, _indirect_next_out_of_range,
             _indirect_buffer_outside_ram, _indirect_chained]


@pytest.mark.parametrize("make", MALFORMED, ids=lambda f: f.__name__.strip("_"))
def test_malformed_chain_needs_reset_and_reset_recovers(make, capsys):
    d, q = rng_driver()
    assert_good_chain_works(d, q)
    d.ack()
    head = make(d, q)
    before = d.ram.buf.copy()
    q.submit(head)
    assert_stopped(d, q, used_before=1)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rvjit: warning: virtio-rng@0x10001000: ")
    assert "reset" in err
    # the failing device wrote nothing at all: only the driver's available ring changed
    changed = (before != d.ram.buf).nonzero()[0] + RAM_BASE
    avail_end = q.avail + 6 + 2 * q.size
    later = d.next_free - 32                          # assert_stopped's own request
    assert all(q.avail <= a < avail_end or a >= later or q.desc <= a < q.desc + 16 * q.size
               for a in changed)
    q2 = reset_and_restart(d)
    assert_good_chain_works(d, q2)
    # a second failure of the same device is not logged again
    q2.submit(make(d, q2))
    assert d.rd(T.STATUS) & T.DEVICE_NEEDS_RESET
    assert capsys.readouterr().err == ""


def test_avail_index_jumping_past_the_queue_size():
    d, q = rng_driver()
    d.ram.store(q.avail + 2, 9, 2)                    # 9 new entries in a ring of 8
    d.wr(T.QUEUE_NOTIFY, 0)
    assert d.rd(T.STATUS) & T.DEVICE_NEEDS_RESET


@pytest.mark.parametrize("area", ["desc", "avail", "used"])
def test_ring_outside_ram_stops_the_device_at_queue_ready(area):
    d = Driver(RngDevice())
    assert d.negotiate()
    where = {"desc": None, "avail": None, "used": None}
    where[area] = OUTSIDE - 8                          # starts in RAM, ends outside
    d.setup_queue(0, 8, **where)
    assert d.rd(T.QUEUE_READY) == 0
    assert d.rd(T.STATUS) & T.DEVICE_NEEDS_RESET
    assert d.rd(T.INTERRUPT_STATUS) == 0              # no DRIVER_OK yet: nothing to interrupt
    q = reset_and_restart(d)
    assert_good_chain_works(d, q)


@pytest.mark.parametrize("size", [0, 3, 128])
def test_bad_queue_size_stops_the_device(size):
    d = Driver(RngDevice())
    d.negotiate()
    d.wr(T.QUEUE_SEL, 0)
    d.wr(T.QUEUE_NUM, size)
    for reg in (T.QUEUE_DESC_LOW, T.QUEUE_DRIVER_LOW, T.QUEUE_DEVICE_LOW):
        d.wr(reg, RAM_BASE + 0x4000 + (reg - T.QUEUE_DESC_LOW) * 0x100)
    d.wr(T.QUEUE_READY, 1)
    assert d.rd(T.STATUS) & T.DEVICE_NEEDS_RESET and d.rd(T.QUEUE_READY) == 0


def test_indirect_descriptors():
    d, q = rng_driver()
    head, addrs = q.chain([16, 48], indirect=True)
    q.submit(head)
    assert q.take_used() == [(head, 64)]
    assert all(d.ram.read(a, 16) != bytes(16) for a in addrs)


def test_without_event_idx_no_interrupt_flag_suppresses():
    d, q = rng_driver(features=1 << 32)
    head, _ = q.chain([8])
    q.submit(head)
    assert d.ack() == T.INT_USED_RING
    d.ram.store(q.avail, 1, 2)                         # VIRTQ_AVAIL_F_NO_INTERRUPT
    head, _ = q.chain([8])
    q.submit(head)
    assert q.take_used() and d.rd(T.INTERRUPT_STATUS) == 0


def test_event_idx_suppresses_interrupts_until_used_event():
    d, q = rng_driver()
    assert d.t.driver_features & T.F_EVENT_IDX
    head, _ = q.chain([8])
    q.submit(head)                                    # used 0 -> 1: the first always interrupts
    assert d.ack() == T.INT_USED_RING
    assert q.avail_event() == 1                       # published: "notify me after entry 1"
    q.set_used_event(3)                               # interrupt when used idx passes 3
    for expected in (0, 0, T.INT_USED_RING):          # used 1->2, 2->3: quiet; 3->4: interrupt
        head, _ = q.chain([8])
        q.submit(head)
        assert d.ack() == expected
    assert q.used_idx() == 4 and q.avail_event() == 4
    d.ram.store(q.avail, 1, 2)                        # NO_INTERRUPT flag is ignored with event idx
    q.set_used_event(4)
    head, _ = q.chain([8])
    q.submit(head)
    assert d.ack() == T.INT_USED_RING


def test_event_idx_batch_crossing_used_event():
    d, q = rng_driver()
    q.submit(q.chain([8])[0])
    q.take_used()
    d.ack()
    q.set_used_event(2)
    heads = [q.chain([8])[0] for _ in range(3)]
    for head in heads:
        q.submit(head, notify=False)
    d.wr(T.QUEUE_NOTIFY, 0)                            # used 1 -> 4 in one batch crosses 2
    assert len(q.take_used()) == 3 and d.ack() == T.INT_USED_RING


def test_notifications_before_driver_ok_wait_for_it():
    d = Driver(RngDevice())
    d.negotiate()
    q = d.setup_queue(0, 8)
    head, _ = q.chain([8])
    q.submit(head)
    assert q.used_idx() == 0
    d.wr(T.STATUS, d.rd(T.STATUS) | T.DRIVER_OK)
    assert q.take_used() == [(head, 8)]
