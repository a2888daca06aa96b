"""Real Linux boots under `rvjit boot`, driven through the console as a person would.

Images come from guests/linux (Debian packages; cached under ~/.cache/rvjit/linux). The boot of
the single-ELF image (OpenSBI fw_payload with the small kernel) runs in the default suite; the
stock Debian kernel boot is slow and marked so: `pytest -m slow tests/test_boot_linux.py`.
"""
import os
import re
import sys

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


def test_single_elf_image_boots_to_shell():
    _boot_and_use("payload")


@pytest.mark.slow
def test_debian_kernel_boots_to_shell():
    _boot_and_use("debian")


@pytest.mark.slow
def test_small_kernel_with_fw_jump_boots_to_shell():
    _boot_and_use("small")


