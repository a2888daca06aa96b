"""Real Linux boots under `rvjit boot`, driven through the console as a person would.

Images come from guests/linux (Debian packages; cached under ~/.cache/rvjit/linux). All are
marked slow for now: `pytest -m slow tests/test_boot_linux.py`. Known issue: keys typed into the
guest's UART can stall after the first bytes while busybox waits for its cursor-position answer.
"""
import os
import re
import sys
import time

import pytest

from guests.linux import build as lb
from guests.linux.boot import Console, boot_command

RVJIT = f"{sys.executable} -m rvjit boot -m 512M"
BOOT_TIMEOUT = float(os.environ.get("RVJIT_BOOT_TIMEOUT", "1500"))


def _paths(name):
    try:
        return lb.build_image(name, os.environ.get("RVJIT_LINUX_CACHE"))
    except lb.ArchiveUnavailable as e:
        pytest.skip(f"Debian archive not reachable and image {name} not cached: {e}")


def _boot_and_use(name):
    paths = _paths(name)
    con = Console(boot_command(name, paths, RVJIT))
    try:
        seconds = con.wait_for_shell(BOOT_TIMEOUT)
        # Like a person, look at the prompt before typing: busybox's line editor is still
        # waiting for the answer to its cursor-position query, and would take keys typed
        # at once as part of that answer.
        time.sleep(3)
        assert con.run("echo $((6*7))", 300).strip() == "42"
        uname = con.run("uname -a", 300)
        assert "riscv64" in uname and "Linux" in uname
        assert re.search(r"^processor\s*:\s*0", con.run("cat /proc/cpuinfo", 300), re.M)
        assert "cpuinfo" in con.run("ls /proc", 300).split()
        dmesg = con.run("dmesg", 300)
        # No complaints about rvjit's devices in the kernel log.
        for bad in ("Wrong magic value", "ttyS0: ... unable", "plic: failed", "Oops", "BUG:",
                    "Unable to handle", "WARNING:"):
            assert bad not in dmesg, f"kernel log mentions {bad!r}"
        print(f"{name}: shell after {seconds:.1f} s; {uname}")
        assert con.poweroff(300) == 0          # `poweroff -f` ends rvjit with status 0
    except TimeoutError as e:
        pytest.fail(f"{name}: {e}")
    finally:
        con.close()


@pytest.mark.slow   # until the console input stall below is fixed (it can hang a boot test)
def test_single_elf_image_boots_to_shell_in_process():
    """The default suite's real Linux boot: the single-ELF image on the virt board, the shell
    reached and a command typed into the UART, its output read back from the console."""
    import io
    import threading

    from guests.linux.initramfs import PROMPT, READY_MARKER
    from rvjit.backend.runloop import run_native
    from rvjit.board import build_board
    from rvjit.machine import make_translator

    paths = _paths("payload")
    board = build_board(str(paths["firmware"]), append="console=ttyS0 earlycon", console=io.BytesIO())
    board.deadline = time.monotonic() + BOOT_TIMEOUT
    answered = threading.Event()

    def person():
        while PROMPT.encode() not in board.console.getvalue():
            time.sleep(0.5)
        time.sleep(3)
        board.uart.receive(b"echo $((6*7)); poweroff -f\n")
        answered.set()

    threading.Thread(target=person, daemon=True).start()
    run_native(board, make_translator(board))
    out = board.console.getvalue().decode(errors="replace")
    assert READY_MARKER in out
    assert answered.is_set()
    assert re.search(r"^42\r?$", out.split(READY_MARKER)[-1], re.M), out[-500:]
    assert board.exit_code == 0           # poweroff -f through the syscon test device


@pytest.mark.slow
def test_single_elf_image_boots_to_shell():
    # Known issue: through rvjit's pipe console, typed keys stall after the first few bytes
    # (busybox's cursor-position query is pending); the in-process test above types into the UART.
    _boot_and_use("payload")


@pytest.mark.slow
def test_debian_kernel_boots_to_shell():
    _boot_and_use("debian")


@pytest.mark.slow
def test_small_kernel_with_fw_jump_boots_to_shell():
    _boot_and_use("small")


