"""Linux on rvjit's virtio devices, end to end (slow: `pytest -m slow tests/test_virtio_linux.py`).

The small kernel (virtio-mmio, virtio-blk, virtio-console, virtio-rng and ext4 built in, busybox in
its built-in initramfs) boots under `rvjit boot` with a disk made by mke2fs; a person at the
console mounts it, writes a file, runs a program stored on it, reads the hardware RNG, syncs and
powers off; the host then reads the file back with debugfs.
"""
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from guests.linux import build as lb
from guests.linux.boot import Console

pytestmark = pytest.mark.slow
BOOT_TIMEOUT = float(os.environ.get("RVJIT_BOOT_TIMEOUT", "1500"))
needs_e2fs = pytest.mark.skipif(shutil.which("mke2fs") is None or shutil.which("debugfs") is None,
                                reason="e2fsprogs not installed")


def _small_kernel():
    try:
        paths = lb.build_image("small", os.environ.get("RVJIT_LINUX_CACHE"))
    except lb.ArchiveUnavailable as e:
        pytest.skip(f"small kernel not cached and the Debian archive is not reachable: {e}")
    return paths


def _boot(paths, append, *flags):
    cmd = [sys.executable, "-m", "rvjit", "boot", "-m", "512M", str(paths["firmware"]),
           "-kernel", str(paths["kernel"]), "-append", append, *map(str, flags)]
    con = Console(cmd)
    con.wait_for_shell(BOOT_TIMEOUT)
    time.sleep(3)               # let busybox's line editor settle, as a person would look first
    return con


def _make_disk(tmp_path, files):
    root = tmp_path / "root"
    root.mkdir()
    for name, content in files.items():
        (root / name).write_bytes(content)
        (root / name).chmod(0o755)
    image = tmp_path / "disk.img"
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-d", str(root), str(image), "64M"], check=True)
    return image


@needs_e2fs
def test_disk_and_rng_with_console_on_the_uart(tmp_path):
    paths = _small_kernel()
    files = {"greeting": b"written by the host\n"}
    busybox = lb.default_out_dir() / "debian" / "busybox"       # Debian's static riscv64 busybox
    if busybox.exists():
        files["busybox"] = busybox.read_bytes()
    image = _make_disk(tmp_path, files)
    con = _boot(paths, "console=ttyS0", "-drive", f"file={image},format=raw",
                "-device", "virtio-rng-device")
    try:
        assert con.run("mount /dev/vda /mnt && echo mounted", 300).strip().endswith("mounted")
        assert "written by the host" in con.run("cat /mnt/greeting", 300)
        if "busybox" in files:              # a program read from the disk runs (DMA over old code)
            assert con.run("/mnt/busybox echo ran-from-disk", 300).strip() == "ran-from-disk"
            assert "Usage" in con.run("/mnt/busybox dd --help 2>&1 | head -3", 300)
        con.run("echo hello > /mnt/x; sync; umount /mnt", 300)
        assert con.run("cat /sys/class/misc/hw_random/rng_current", 300).strip() == "virtio_rng.0"
        dump = con.run("dd if=/dev/hwrng bs=16 count=1 2>/dev/null | od -An -tx1", 300)
        assert len(re.findall(r"\b[0-9a-f]{2}\b", dump)) == 16 and dump.split() != ["00"] * 16
        dmesg = con.run("dmesg", 300)
        assert "[vda] 131072 512-byte logical blocks" in dmesg
        for bad in ("Oops", "BUG:", "WARNING:", "I/O error", "EXT4-fs error"):
            assert bad not in dmesg, f"kernel log mentions {bad!r}"
        assert con.poweroff(300) == 0
    finally:
        con.close()
    cat = subprocess.run(["debugfs", "-R", "cat /x", str(image)], capture_output=True, text=True)
    assert cat.stdout == "hello\n"
    fsck = subprocess.run(["e2fsck", "-fn", str(image)], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stdout


def test_interactive_shell_on_hvc0():
    paths = _small_kernel()
    con = _boot(paths, "console=hvc0", "-device", "virtio-serial-device")
    try:
        assert con.run("echo $((6*7))", 300).strip() == "42"
        assert con.run("cat /sys/class/tty/console/active", 300).strip() == "hvc0"
        assert con.poweroff(300) == 0
    finally:
        con.close()
