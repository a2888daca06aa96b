"""Debian's stock kernel on rvjit's virtio devices, in the default suite (what CI shows of issue 4).

One boot under `rvjit boot`, driven over its console as a person would: the root filesystem is a
copy of the rootfs disk image on virtio-blk (modules from the disk initramfs), a second drive is
read-only, entropy comes from virtio-rng and the console is hvc0 (virtio-console). The guest writes
a file, syncs and powers off; the host reads the file out of the image with debugfs and checks
that the read-only image did not change by a byte.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import time

import pytest

from guests.linux import build as lb
from guests.linux.boot import Console
from guests.linux.rootfs import ROOTFS_READY_MARKER, debugfs, fresh_copy

BOOT_TIMEOUT = float(os.environ.get("RVJIT_BOOT_TIMEOUT", "1500"))
pytestmark = pytest.mark.skipif(shutil.which("mke2fs") is None or shutil.which("debugfs") is None,
                                reason="e2fsprogs not installed")


def _sha256(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def _read_only_disk(tmp_path):
    content = tmp_path / "ro"
    content.mkdir()
    (content / "note").write_text("read-only data\n")
    image = tmp_path / "ro.img"
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-d", str(content), str(image), "8M"], check=True)
    return image


def test_debian_root_on_virtio_blk_with_rng_console_and_a_read_only_drive(tmp_path):
    try:
        paths = lb.disk_boot_paths("debian")
    except lb.ArchiveUnavailable as e:
        pytest.skip(f"Debian images not cached and the archive is not reachable: {e}")
    root = fresh_copy(paths["disk"], tmp_path)
    read_only = _read_only_disk(tmp_path)
    before = _sha256(read_only)
    cmd = [sys.executable, "-m", "rvjit", "boot", "-m", "512M", str(paths["firmware"]),
           "-kernel", str(paths["kernel"]), "-initrd", str(paths["initrd"]),
           "-append", "console=hvc0 root=/dev/vda rw",
           "-drive", f"file={root},format=raw,if=virtio",
           "-drive", f"file={read_only},format=raw,if=virtio,readonly=on",
           "-device", "virtio-rng-device", "-device", "virtio-serial-device"]
    con = Console(cmd)
    try:
        con.wait_for_shell(BOOT_TIMEOUT, marker=ROOTFS_READY_MARKER)
        time.sleep(2)                    # look at the prompt before typing, as a person would
        assert con.run("cat /sys/class/tty/console/active").strip() == "hvc0"
        assert con.run("grep ' / ' /proc/mounts").split()[:3] == ["/dev/vda", "/", "ext4"]
        assert con.run("cat /sys/class/misc/hw_random/rng_current").strip().startswith("virtio_rng")
        assert con.run("dd if=/dev/hwrng bs=16 count=1 2>/dev/null | od -An -tx1 | wc -w").strip() == "16"
        assert con.run("cat /sys/block/vdb/ro").strip() == "1"
        # The block layer refuses writes to a read-only disk itself; lifting that makes the write
        # reach the device, which must fail it with an I/O error.
        con.run("blockdev --setrw /dev/vdb")
        out = con.run("dd if=/dev/zero of=/dev/vdb bs=4096 count=1 oflag=direct conv=fsync; echo status=$?")
        assert "status=0" not in out and "error" in out.lower(), out
        con.run("echo written-by-the-guest-$((6*7)) > /root/guest-file; sync")
        status = con.poweroff(120)
    finally:
        con.close()
    assert status == 0
    assert debugfs(root, "cat /root/guest-file").strip() == "written-by-the-guest-42"
    assert _sha256(read_only) == before
