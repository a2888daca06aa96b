"""Sstc (rvjit.cpu.csr, soc.clint): stimecmp and menvcfg.STCE where the board implements it,
STIP following time >= stimecmp, and the board offering it to firmware that enables it (OpenSBI)
but not to firmware that does not (bbl), unless -cpu says otherwise."""
import pytest

from rvjit import cli
from rvjit.board import build_board
from rvjit.cpu.csr import ENVCFG_STCE, MIP_STIP
from rvjit.cpu.trap import GuestTrap, IRQ_STI, PRV_M, PRV_S, PRV_U, MSTATUS_SIE, pending_interrupt
from rvjit.errors import GuestInputError
from rvjit.machine import Machine
from rvjit.soc.clint import Clint

M64 = (1 << 64) - 1
STIMECMP, MENVCFG, MCOUNTEREN, MIP, MIE, MIDELEG = 0x14D, 0x30A, 0x306, 0x344, 0x304, 0x303


def access(hart, num, value=0, op="rw", write=True):
    return hart.csr.access(num, value, op, True, write)


def illegal(fn) -> bool:
    try:
        fn()
    except GuestTrap as t:
        return t.cause == 2
    return False


def sstc_machine(sstc=True):
    """A hart on a test clock: time is now[0] ns (10 MHz ticks = ns / 100)."""
    now = [0]
    m = Machine(1 << 20)
    m.hart.sstc = sstc
    m.clint = Clint(m.hart, clock=lambda: now[0])
    return m, now


def test_without_sstc_stimecmp_does_not_exist_and_stce_stays_clear():
    m, _ = sstc_machine(sstc=False)
    assert illegal(lambda: access(m.hart, STIMECMP, 5))
    access(m.hart, MENVCFG, M64)
    assert access(m.hart, MENVCFG, write=False) == 1               # FIOM only


@pytest.mark.parametrize("stce, tm, priv, allowed", [
    (0, 0, PRV_M, True), (1, 1, PRV_S, True), (0, 1, PRV_S, False), (1, 0, PRV_S, False),
    (1, 1, PRV_U, False)])
def test_stimecmp_access_rules(stce, tm, priv, allowed):
    m, _ = sstc_machine()
    h = m.hart
    access(h, MENVCFG, ENVCFG_STCE if stce else 0)
    access(h, MCOUNTEREN, 2 if tm else 0)
    h.set_priv(priv)
    assert illegal(lambda: access(h, STIMECMP, 1234)) != allowed
    h.set_priv(PRV_M)
    assert access(h, STIMECMP, write=False) == (1234 if allowed else M64)     # reset: never due


def test_stip_follows_time_against_stimecmp_and_is_not_writable():
    m, now = sstc_machine()
    h = m.hart
    access(h, MENVCFG, ENVCFG_STCE)
    access(h, STIMECMP, 100)
    assert not access(h, MIP, write=False) & MIP_STIP
    now[0] = 100 * 100
    m.clint.update()                                  # what the machine's poll does
    assert access(h, MIP, write=False) & MIP_STIP
    access(h, MIP, 0)                                 # read-only under STCE
    assert access(h, MIP, write=False) & MIP_STIP
    access(h, STIMECMP, 200)                          # a later compare value clears it at once
    assert not access(h, MIP, write=False) & MIP_STIP
    assert m.clint.seconds_until_timer() == pytest.approx(100 / 10_000_000)


def test_without_stce_stip_is_the_software_bit_again():
    m, now = sstc_machine()
    h = m.hart
    access(h, STIMECMP, 0)                            # due, but STCE is clear
    m.clint.update()
    assert not access(h, MIP, write=False) & MIP_STIP
    access(h, MIP, MIP_STIP)
    assert access(h, MIP, write=False) & MIP_STIP
    access(h, MENVCFG, ENVCFG_STCE)                   # now the compare decides: due
    assert access(h, MIP, write=False) & MIP_STIP
    access(h, STIMECMP, M64)
    assert not access(h, MIP, write=False) & MIP_STIP


def test_a_stimecmp_write_in_the_past_makes_the_interrupt_pending_at_once():
    """Linux's timer handler writes the next compare value; one already due must interrupt
    (generated code is asked to leave so that the run loop takes it)."""
    m, now = sstc_machine()
    h = m.hart
    access(h, MENVCFG, ENVCFG_STCE)
    access(h, MCOUNTEREN, 2)
    access(h, MIDELEG, MIP_STIP)
    access(h, MIE, MIP_STIP)
    h.set_priv(PRV_S)
    h.state.mstatus |= MSTATUS_SIE
    now[0] = 5000 * 100
    h.state.exit_reason = 0
    access(h, STIMECMP, 4000)
    assert pending_interrupt(h) == IRQ_STI and h.state.exit_reason != 0


def _firmware(tmp_path, banner: bytes):
    path = tmp_path / "fw.bin"
    path.write_bytes(b"\x13\x00\x00\x00" * 64 + banner + b"\0" * 64)     # nops, then data
    return str(path)


@pytest.mark.parametrize("banner, cpu, offered", [
    (b"OpenSBI v%d.%d", None, True), (b"bbl loader", None, False),
    (b"OpenSBI v%d.%d", False, False), (b"bbl loader", True, True)],
    ids=["opensbi", "other", "opensbi-sstc-off", "other-sstc-on"])
def test_the_board_offers_sstc_to_opensbi(tmp_path, banner, cpu, offered):
    board = build_board(_firmware(tmp_path, banner), append="console=ttyS0", mem_size=64 << 20, sstc=cpu)
    try:
        assert board.hart.sstc == offered
        assert (b"_zbs_sstc\0" in board.dtb) == offered and b"rv64imafdc_zicsr" in board.dtb
    finally:
        board.close()


@pytest.mark.parametrize("spec, sstc", [("rv64", None), ("rv64,sstc=on", True), ("rv64,sstc=off", False)])
def test_cpu_option(spec, sstc):
    assert cli._cpu_sstc(spec) is sstc


@pytest.mark.parametrize("spec", ["rv32", "rv64,sstc=maybe", "rv64,zfh=on"])
def test_bad_cpu_option_is_a_clear_error(spec, tmp_path):
    with pytest.raises(GuestInputError, match="-cpu"):
        cli._cpu_sstc(spec)
    assert cli._main(["boot", _firmware(tmp_path, b""), "-cpu", spec]) == 2
