"""The virtio-mmio transport through its registers: identification, feature negotiation, queue
setup, status and reset, interrupts, configuration space, and the board's eight slots."""
import struct

import pytest

from rvjit.soc.virtio import RngDevice, VirtioMmio
from rvjit.soc.virtio import transport as T
from rvjit.soc.virtio.device import VirtioDevice

from virtio_driver import Driver


class ConfigDevice(VirtioDevice):
    """A device with a recognisable config space and one device feature bit."""
    device_id = 42
    name = "test-device"
    queue_sizes = (16, 4)

    def __init__(self):
        super().__init__()
        self.writes = []
        self.resets = 0

    def features(self):
        return 1 << 3

    def config(self):
        return struct.pack("<QIH", 0x1122334455667788, 0xAABBCCDD, 0xEEFF)

    def write_config(self, offset, size, value):
        self.writes.append((offset, size, value))

    def reset(self):
        self.resets += 1


def test_identification_registers():
    d = Driver(RngDevice())
    assert d.rd(T.MAGIC_VALUE) == 0x74726976
    assert d.rd(T.VERSION_REG) == 2
    assert d.rd(T.DEVICE_ID) == 4
    assert d.rd(T.VENDOR_ID_REG) == 0x554D4551


def test_empty_slot_answers_device_id_zero_and_ignores_writes():
    d = Driver(None)
    assert (d.rd(T.MAGIC_VALUE), d.rd(T.VERSION_REG), d.rd(T.DEVICE_ID)) == (0x74726976, 2, 0)
    assert d.rd(T.VENDOR_ID_REG) == 0x554D4551
    d.wr(T.STATUS, 0xF)
    assert d.rd(T.STATUS) == 0 and d.rd(T.DEVICE_FEATURES) == 0 and d.rd(0x100) == 0
    d.t.poll()                                        # nothing to do, nothing breaks


def test_device_features_by_select_word():
    d = Driver(ConfigDevice())
    features = d.device_features()
    assert features & (1 << 32)                       # VIRTIO_F_VERSION_1
    assert features & (1 << 28) and features & (1 << 29)   # indirect descriptors, event idx
    assert features & (1 << 3)                        # the device's own
    d.wr(T.DEVICE_FEATURES_SEL, 2)
    assert d.rd(T.DEVICE_FEATURES) == 0


def test_features_ok_refused_for_unoffered_features():
    d = Driver(ConfigDevice())
    assert not d.negotiate(d.device_features() | (1 << 5))
    assert not d.rd(T.STATUS) & T.FEATURES_OK


def test_features_ok_kept_for_a_subset_and_without_version_1():
    d = Driver(ConfigDevice())
    assert d.negotiate(1 << 3)                        # no VERSION_1: accepted, as QEMU does
    assert d.t.driver_features == 1 << 3
    d.wr(T.DRIVER_FEATURES_SEL, 0)
    d.wr(T.DRIVER_FEATURES, 0)                        # after FEATURES_OK: ignored
    assert d.t.driver_features == 1 << 3


def test_queue_registers():
    d = Driver(ConfigDevice())
    d.negotiate()
    d.wr(T.QUEUE_SEL, 0)
    assert d.rd(T.QUEUE_NUM_MAX) == 16
    d.wr(T.QUEUE_SEL, 1)
    assert d.rd(T.QUEUE_NUM_MAX) == 4
    d.wr(T.QUEUE_SEL, 2)
    assert d.rd(T.QUEUE_NUM_MAX) == 0 and d.rd(T.QUEUE_READY) == 0
    q = d.setup_queue(1, 4)
    tq = d.t.queues[1]
    assert (tq.size, tq.desc_addr, tq.driver_addr, tq.device_addr) == (4, q.desc, q.avail, q.used)
    assert d.rd(T.QUEUE_READY) == 1
    d.wr(T.QUEUE_DESC_LOW, 0x1234)                    # ignored while the queue is ready
    assert tq.desc_addr == q.desc
    d.wr(T.QUEUE_DESC_HIGH, 0x1, 4)
    d.wr(T.QUEUE_READY, 0)
    assert d.rd(T.QUEUE_READY) == 0
    d.wr(T.QUEUE_DESC_HIGH, 0x1)
    assert tq.desc_addr == q.desc | (1 << 32)


def test_reset_clears_everything():
    dev = ConfigDevice()
    d = Driver(dev)
    d.start()
    d.t.interrupt(T.INT_USED_RING)
    assert d.line
    generation = d.t.generation
    d.wr(T.STATUS, 0)
    assert d.rd(T.STATUS) == 0 and d.rd(T.INTERRUPT_STATUS) == 0 and not d.line
    assert d.t.driver_features == 0 and dev.resets == 1 and d.t.generation == generation + 1
    for index in (0, 1):
        d.wr(T.QUEUE_SEL, index)
        assert d.rd(T.QUEUE_READY) == 0
        assert d.t.queues[index].desc_addr == 0 and d.t.queues[index].last_avail == 0


def test_interrupt_status_and_ack():
    d = Driver(ConfigDevice())
    d.start()
    d.t.interrupt(T.INT_USED_RING)
    d.t.config_changed()
    assert d.rd(T.INTERRUPT_STATUS) == 3 and d.line
    d.wr(T.INTERRUPT_ACK, 1)
    assert d.rd(T.INTERRUPT_STATUS) == 2 and d.line
    d.wr(T.INTERRUPT_ACK, 2)
    assert d.rd(T.INTERRUPT_STATUS) == 0 and not d.line
    assert d.levels == [True, False]


def test_config_space_reads_any_size_and_generation():
    dev = ConfigDevice()
    d = Driver(dev)
    assert d.rd(0x100, 8) == 0x1122334455667788
    assert d.rd(0x100, 4) == 0x55667788 and d.rd(0x104, 4) == 0x11223344
    assert d.rd(0x108, 4) == 0xAABBCCDD and d.rd(0x10C, 2) == 0xEEFF
    assert d.rd(0x109, 1) == 0xCC
    assert d.rd(0x10E, 4) == 0                        # past the end reads as zero
    d.wr(0x104, 7, 1)
    assert dev.writes == [(4, 1, 7)]
    generation = d.rd(T.CONFIG_GENERATION)
    d.t.config_changed()
    assert d.rd(T.CONFIG_GENERATION) == generation + 1


def test_no_shared_memory_regions():
    d = Driver(ConfigDevice())
    assert d.rd(T.SHM_LEN_LOW) == d.rd(T.SHM_LEN_HIGH) == 0xFFFFFFFF


def test_board_slots_addresses_irqs_and_order(tmp_path):
    from rvjit.soc.virt import VirtBoard
    from rvjit.soc.virtio import plan_slots
    image = tmp_path / "d.img"
    image.write_bytes(bytes(4096))
    plan = plan_slots([f"file={image},format=raw"], ["virtio-rng-device", "virtio-serial-device"])
    board = VirtBoard(16 << 20, virtio=plan)
    try:
        ids = []
        for n in range(8):
            dev, offset = board.bus.find(0x10001000 + n * 0x1000, 4)
            assert isinstance(dev, VirtioMmio) and offset == 0
            ids.append(dev.read(T.DEVICE_ID, 4))
        assert ids == [2, 4, 3, 0, 0, 0, 0, 0]
        board.virtio[1].interrupt(T.INT_USED_RING)    # slot 1 drives PLIC source 2
        assert board.plic.level == 1 << 2
        assert board.virtio_console is board.virtio[2].device
    finally:
        board.close()


def test_device_tree_lists_all_eight_transports():
    from rvjit.soc.devicetree import virt_tree
    tree = virt_tree(0x80000000, 16 << 20, "", None, "rv64imafdc", "riscv,sv39")
    soc = next(n for n in tree.children if n.name == "soc")
    nodes = [n for n in soc.children if n.name.startswith("virtio_mmio@")]
    assert [n.name for n in nodes] == [f"virtio_mmio@{0x10001000 + k * 0x1000:x}" for k in range(8)]
    assert [n.props["interrupts"] for n in nodes] == list(range(1, 9))
