"""virtio-rng and virtio-console on a test driver, the board's routing of typed keys, and DMA
writes into guest RAM dropping translated code (MemoryPort.write_physical)."""
import threading

from rvjit.soc.virtio import ConsoleDevice, RngDevice
from rvjit.soc.virtio import transport as T

from virtio_driver import RAM_BASE, Driver


def test_rng_fills_buffers():
    d = Driver(RngDevice())
    (q,) = d.start()
    head, (a, b) = q.chain([64, 4000])
    q.submit(head)
    assert q.take_used() == [(head, 4064)]
    assert d.ram.read(a, 64) != bytes(64) and d.ram.read(b, 4000).count(0) < 100
    assert d.ack() == T.INT_USED_RING


def console_driver():
    out = bytearray()
    wakeup = threading.Event()
    device = ConsoleDevice(out.extend, wakeup)
    d = Driver(device, wakeup=wakeup)
    rx, tx = d.start()
    return d, rx, tx, device, out


def test_console_output_reaches_the_terminal():
    d, rx, tx, device, out = console_driver()
    assert not device.guest_wrote
    head, _ = tx.chain([b"hello, ", b"hvc0\n"])
    tx.submit(head)
    assert out == b"hello, hvc0\n" and tx.take_used() == [(head, 0)]
    assert device.guest_wrote and d.ack() == T.INT_USED_RING


def test_console_input_reaches_the_receive_ring():
    d, rx, tx, device, out = console_driver()
    typed = threading.Thread(target=device.receive, args=(b"ls -l\n",))
    typed.start()
    typed.join()
    assert d.wakeup.is_set()
    d.t.poll()
    assert rx.take_used() == []                        # no receive buffers yet: input waits
    heads = [rx.chain([4]) for _ in range(2)]
    for head, _ in heads:
        rx.submit(head)
    used = rx.take_used()
    assert used == [(heads[0][0], 4), (heads[1][0], 2)]
    assert d.ram.read(heads[0][1][0], 4) + d.ram.read(heads[1][1][0], 2) == b"ls -l\n"
    assert d.ack() == T.INT_USED_RING
    device.receive(b"x")
    head, (addr,) = rx.chain([16])
    rx.submit(head, notify=False)
    d.t.poll()                                         # delivered by the run loop's poll
    assert rx.take_used() == [(head, 1)] and d.ram.read(addr, 1) == b"x"


def test_board_routes_keys_to_the_console_the_guest_uses():
    from rvjit.soc.virt import VirtBoard
    from rvjit.soc.virtio import plan_slots
    board = VirtBoard(16 << 20, virtio=plan_slots([], ["virtio-serial-device"]))
    try:
        hvc = board.virtio_console
        board.receive_input(b"a")                     # the guest has not used hvc0: the UART
        board.uart.poll()
        assert list(board.uart.rx_fifo) == [ord("a")]
        hvc.guest_wrote = True
        board.receive_input(b"b")
        assert hvc._input == b"b"
    finally:
        board.close()


# --- DMA writes and translated code ---------------------------------------------------------------

def test_write_physical_invalidates_code_pages():
    from rvjit.cpu.memory import MemoryPort
    from rvjit.soc.bus import Bus, Ram
    ram = Ram(RAM_BASE, 1 << 20)
    port = MemoryPort(None, Bus(ram))
    dropped = []
    port.on_code_write = dropped.append
    code = (RAM_BASE >> 12) + 3
    port.code_pages.mark((code << 12) + 0xA0, 16)      # code only at bytes 0xa0..0xaf of the page
    port.code_pages.mark((code + 1) << 12, 16)
    port.write_physical((code << 12) + 0x200, b"data")          # next to code: kept
    assert dropped == [] and code in port.code_pages
    port.write_physical((code << 12) + 0xFF0, bytes(0x20))      # crosses into the next page's code
    assert dropped == [code + 1] and code + 1 not in port.code_pages
    port.write_physical(code << 12, bytes(4096))
    assert dropped == [code + 1, code] and not port.code_pages and not port.code_pages.chunks.any()
    assert ram.read(code << 12, 4) == bytes(4)


def test_dma_over_translated_code_runs_the_new_code():
    """Run a block, overwrite it by a device write, run again: the new instructions execute."""
    from rvjit.backend.runloop import run_native
    from rvjit.machine import Machine, make_translator
    machine = Machine(1 << 20)
    li = lambda value: ((value << 20) | (10 << 7) | 0x13).to_bytes(4, "little")   # addi a0, x0, v
    loop = (0x6F).to_bytes(4, "little")                                          # j .
    machine.ram.write(RAM_BASE, li(5) + loop)
    hart = machine.hart
    hart.state.pc = RAM_BASE
    translator = make_translator(machine, tiered=False)
    run_native(machine, translator, max_insns=200)
    assert hart.state.x[10] == 5
    hart.mem.write_physical(RAM_BASE, li(7))           # as virtio-blk would, reading from disk
    hart.state.pc = RAM_BASE
    run_native(machine, translator, max_insns=hart.instret() + 200)
    assert hart.state.x[10] == 7
