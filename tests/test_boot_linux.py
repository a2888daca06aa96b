"""Real Linux boots under `rvjit boot`, driven through the console as a person would.

Images come from guests/linux (Debian packages; cached under ~/.cache/rvjit/linux). The default
suite boots the stock Debian kernel once, in process; the boots through the `rvjit boot` command
line, of every image, are marked slow: `pytest -m slow tests/test_boot_linux.py`.
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


def _boot_in_process(name, command, expect):
    """Boot an image on the virt board in this process, wait for the shell prompt, type a
    command line into the UART as a person would (after looking at the prompt), and return the
    console text after the ready marker once the guest has powered off."""
    import io
    import threading

    from guests.linux.initramfs import PROMPT, READY_MARKER
    from rvjit.backend.runloop import run_native
    from rvjit.board import build_board
    from rvjit.machine import make_translator

    paths = _paths(name)
    if name == "payload":
        board = build_board(str(paths["firmware"]), append="console=ttyS0 earlycon", console=io.BytesIO())
    else:
        board = build_board(str(paths["firmware"]), str(paths["kernel"]),
                            str(paths["initrd"]) if paths.get("initrd") else None,
                            "console=ttyS0 earlycon", 512 << 20, console=io.BytesIO())
    board.deadline = time.monotonic() + BOOT_TIMEOUT
    typed = threading.Event()

    def person():
        while PROMPT.encode() not in board.console.getvalue():
            time.sleep(0.5)
        time.sleep(2)
        board.uart.receive(command.encode() + b"\n")
        typed.set()

    threading.Thread(target=person, daemon=True).start()
    run_native(board, make_translator(board))
    out = board.console.getvalue().decode(errors="replace")
    assert READY_MARKER in out, out[-1500:]
    assert typed.is_set()
    assert board.exit_code == 0           # `poweroff -f` through the syscon test device
    after = out.split(READY_MARKER)[-1]
    for pattern in expect:
        assert re.search(pattern, after, re.M), after[-1500:]
    return after


def test_debian_kernel_boots_to_shell_in_process():
    """The default suite's real Linux boot: Debian's stock kernel and OpenSBI on the virt board,
    the busybox shell reached, commands typed into the UART and their output read back."""
    _boot_in_process("debian", "uname -m; echo $((6*7)); cat /proc/cpuinfo | grep -c processor; poweroff -f",
                     [r"^riscv64\r?$", r"^42\r?$", r"^1\r?$"])


@pytest.mark.slow
def test_single_elf_image_boots_to_shell_in_process():
    _boot_in_process("payload", "echo $((6*7)); poweroff -f", [r"^42\r?$"])


@pytest.mark.slow
def test_single_elf_image_boots_to_shell():
    _boot_and_use("payload")


@pytest.mark.slow
def test_debian_kernel_boots_to_shell():
    _boot_and_use("debian")


@pytest.mark.slow
def test_small_kernel_with_fw_jump_boots_to_shell():
    _boot_and_use("small")


