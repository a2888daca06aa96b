"""Build the Linux guest images (guests/linux, cached under
$XDG_CACHE_HOME/rvjit/linux) and boot each on QEMU's virt machine to the
busybox shell: run `echo $((6*7))`, expect 42, power off with `poweroff -f`;
boot the debian and small kernels with root on (a copy of) the rootfs disk.

The boots are slow (the first build of the small kernel takes ~15 minutes on
2 cores, a boot a few seconds): `pytest -m slow tests/test_linux_images.py`.
The default suite only builds the rootfs disk and the debian image (quick
when cached) and looks inside them: the disk with debugfs, the initramfs with
its virtio/ext4 modules by reading the cpio archive.
Skipped when qemu-system-riscv64 is missing (boots), or when an image is not
cached and the Debian archive cannot be reached or a build tool is missing.
RVJIT_LINUX_CACHE chooses the image directory.
"""

import contextlib
import gzip
import os
import re
import shutil
import stat
import subprocess

import pytest

from guests.linux import build as lb
from guests.linux import kmods
from guests.linux.boot import Console, boot_command
from guests.linux.initramfs import READY_MARKER
from guests.linux.rootfs import ROOTFS_BANNER, ROOTFS_READY_MARKER, debugfs, fresh_copy

QEMU = shutil.which("qemu-system-riscv64")
QEMU_VIRT = f"{QEMU} -M virt -m 512M -nographic"
BOOT_TIMEOUT = 300
# DISK_MODULES of the Debian 6.12 kernel and what they need, in load order.
DEBIAN_DISK_MODULES = ["virtio_mmio", "virtio_blk", "virtio_rng", "crc32c_generic", "jbd2",
                       "mbcache", "crc16", "ext4"]


def _cached(build, what, *args):
    """build(*args), skipping the test when it needs what this machine lacks."""
    try:
        return build(*args, os.environ.get("RVJIT_LINUX_CACHE"))
    except lb.ArchiveUnavailable as e:
        pytest.skip(f"Debian archive not reachable, {what} not cached: {e}")
    except lb.ToolMissing as e:
        pytest.skip(f"build tool missing for {what}: {e}")


def _need_qemu():
    if QEMU is None:
        pytest.skip("qemu-system-riscv64 not on PATH (apt-get install qemu-system-misc)")


def _build(name):
    return _cached(lb.build_image, f"image {name}", name)


def _paths(name):
    _need_qemu()
    return _build(name)


def _disk_paths(kernel_image):
    _need_qemu()
    return _cached(lb.disk_boot_paths, f"{kernel_image} + rootfs", kernel_image)


@contextlib.contextmanager
def _booted(label, cmd):
    """A Console on cmd, closed afterwards; a timeout fails the test with the console tail."""
    con = Console(cmd)
    try:
        yield con
    except TimeoutError as e:
        pytest.fail(f"{label}: {e}")
    finally:
        con.close()


def rootfs_copy(tmp_path):
    """A fresh, writable copy of the pristine rootfs disk image in tmp_path
    (guests write to their disk; the cached image must stay as built)."""
    return fresh_copy(_build("rootfs")["disk"], tmp_path)


def cpio_members(data: bytes) -> dict[str, tuple[int, bytes]]:
    """name -> (mode, data) of a newc cpio archive."""
    out, pos = {}, 0
    while True:
        hdr = data[pos:pos + 110]
        fields = [int(hdr[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name = data[pos + 110:pos + 110 + namesize - 1].decode()
        pos += 110 + namesize
        pos += -pos % 4
        if name == "TRAILER!!!":
            return out
        out[name] = (mode, data[pos:pos + size])
        pos += size
        pos += -pos % 4


def test_softdep_pre_names_stop_at_post():
    m = kmods.Module("x", None, [("softdep", "pre: crypto-crc32c other post: later"),
                                 ("depends", "jbd2,mbcache"), ("depends", "")])
    assert m.softdeps_pre == ["crypto-crc32c", "other"]
    assert m.depends == ["jbd2", "mbcache"]


def test_rootfs_image_holds_busybox_and_init():
    disk = _build("rootfs")["disk"]
    busybox = _build("debian")["busybox"]
    assert disk.stat().st_size == 128 << 20
    header = subprocess.run(["dumpe2fs", "-h", str(disk)], capture_output=True, text=True,
                            check=True).stdout
    assert re.search(r"^Filesystem features:.*\bextent\b", header, re.M)
    assert re.search(r"^Filesystem features:.*\bhas_journal\b", header, re.M)
    assert "clean" in re.search(r"^Filesystem state:(.*)$", header, re.M).group(1)
    init = debugfs(disk, "cat /sbin/init")
    assert init.startswith("#!/bin/sh") and ROOTFS_READY_MARKER in init and "cttyhack" in init
    assert re.search(r"Mode:\s+0755", debugfs(disk, "stat /sbin/init"))
    on_disk = subprocess.run(["debugfs", "-R", "cat /bin/busybox", str(disk)],
                             capture_output=True, check=True).stdout
    assert on_disk == busybox.read_bytes()
    bin_listing = debugfs(disk, "ls -l /bin")
    for applet in ("sh", "mount", "switch_root", "dd", "ts", "poweroff", "cttyhack", "setsid"):
        assert re.search(rf"^\s*\d+\s+120777 .* {re.escape(applet)}\s*$", bin_listing, re.M), applet
    assert not re.search(r" init\s*$", bin_listing, re.M)     # /sbin/init is ours, not busybox's
    root_listing = debugfs(disk, "ls -l /")
    for d in ("bin", "sbin", "dev", "etc", "proc", "sys", "tmp", "mnt", "root"):
        assert re.search(rf"^\s*\d+\s+4[01]\d\d\d .* {d}\s*$", root_listing, re.M), d
    assert re.search(r"^\s*\d+\s+41777 .* tmp\s*$", root_listing, re.M)
    console = debugfs(disk, "stat /dev/console")
    assert "Type: character special" in console and "major/minor number: 05:01" in console
    assert "rvjit# " in debugfs(disk, "cat /etc/profile")


def test_rootfs_copy_is_fresh_and_writable(tmp_path):
    disk = rootfs_copy(tmp_path)
    pristine = _build("rootfs")["disk"]
    assert disk != pristine and disk.read_bytes() == pristine.read_bytes()
    assert os.access(disk, os.W_OK)


def test_disk_initramfs_loads_virtio_and_ext4_modules_in_order():
    deb = _build("debian")
    members = cpio_members(gzip.decompress(deb["initrd_disk"].read_bytes()))
    order = [line.split()[0] for line in members["etc/modules"][1].decode().splitlines()]
    assert order == [f"{m}.ko" for m in DEBIAN_DISK_MODULES]
    loaded = set()
    for ko in order:
        mode, data = members[f"lib/modules/{ko}"]
        assert stat.S_ISREG(mode) and data[:4] == b"\x7fELF"      # decompressed for insmod
        info = kmods.Module(ko[:-3], None, kmods.modinfo(data))
        assert set(info.depends) <= loaded, f"{ko} needs {info.depends}, loaded so far {loaded}"
        loaded.add(info.name)
    init = members["init"][1].decode()
    assert "switch_root" in init and READY_MARKER in init
    # the plain initramfs is unchanged in spirit: no modules to load
    assert "etc/modules" not in cpio_members(gzip.decompress(deb["initrd"].read_bytes()))


@pytest.mark.slow
@pytest.mark.parametrize("name", lb.IMAGES)
def test_image_boots_to_shell_on_qemu(name):
    paths = _paths(name)
    with _booted(name, boot_command(name, paths, QEMU_VIRT)) as con:
        seconds = con.wait_for_shell(BOOT_TIMEOUT)
        assert con.run("echo $((6*7))").strip() == "42"
        uname = con.run("uname -a")
        assert "riscv64" in uname
        print(f"{name}: shell after {seconds:.2f} s; {uname}")
        assert con.poweroff() == 0


@pytest.mark.slow
def test_images_have_expected_shape():
    paths = _paths("payload")       # builds debian and small on the way
    deb = lb.build_image("debian", os.environ.get("RVJIT_LINUX_CACHE"))
    small = lb.build_image("small", os.environ.get("RVJIT_LINUX_CACHE"))
    for k in (deb["kernel"], small["kernel"]):
        lb.check_riscv_image(k.read_bytes()[:64], str(k))
    for fw in (deb["firmware"], deb["fw_dynamic"], paths["firmware"]):
        _, entry, segs = lb.elf_load_segments(fw)
        assert entry == 0x80000000 and min(s[1] for s in segs) == 0x80000000, fw
    assert small["kernel"].stat().st_size < deb["kernel"].stat().st_size


@pytest.mark.slow
@pytest.mark.parametrize("kernel_image", ["debian", "small"])
def test_kernel_boots_to_shell_on_rootfs_disk_on_qemu(kernel_image, tmp_path):
    """root=/dev/vda rw: the initramfs mounts the disk and switch_roots to its init;
    a file written in the guest is on the disk image after poweroff."""
    paths = _disk_paths(kernel_image)
    disk = fresh_copy(paths["disk"], tmp_path)
    with _booted(kernel_image, boot_command(kernel_image, paths, QEMU_VIRT, lb.ROOT_APPEND, disk)) as con:
        seconds = con.wait_for_shell(BOOT_TIMEOUT, ROOTFS_READY_MARKER)
        assert re.search(re.escape(ROOTFS_BANNER) + r": root /dev/vda \(ext4, rw\)", con.text)
        assert "/dev/vda / ext4 rw" in con.run("cat /proc/mounts")
        con.run(f"echo written-on-{kernel_image} > /root/hello; sync")
        assert con.run("cat /root/hello") == f"written-on-{kernel_image}"
        print(f"{kernel_image}: rootfs shell after {seconds:.2f} s")
        assert con.poweroff() == 0
    assert debugfs(disk, "cat /root/hello").strip() == f"written-on-{kernel_image}"
    # the pristine image is untouched
    assert "hello" not in debugfs(paths["disk"], "ls /root")


@pytest.mark.slow
def test_missing_root_device_falls_back_to_initramfs_shell_on_qemu():
    paths = _paths("small")
    cmd = boot_command("small", paths, QEMU_VIRT, "console=ttyS0 root=/dev/vda rootdelay=1")
    with _booted("small", cmd) as con:
        con.wait_for_shell(BOOT_TIMEOUT)
        assert "root device /dev/vda did not appear; staying in the initramfs" in con.text
        assert con.run("echo $((6*7))") == "42"
        assert con.poweroff() == 0


@pytest.mark.slow
def test_disk_init_mounts_proc_sys_dev_itself_when_the_kernel_mounted_root_on_qemu(tmp_path):
    """rdinit= naming no file makes the small kernel skip its initramfs and mount
    root= itself: the disk's init then mounts /proc and /sys on its own."""
    paths = _disk_paths("small")
    disk = fresh_copy(paths["disk"], tmp_path)
    cmd = boot_command("small", paths, QEMU_VIRT, lb.ROOT_APPEND + " rdinit=/no-initramfs", disk)
    with _booted("small", cmd) as con:
        con.wait_for_shell(BOOT_TIMEOUT, ROOTFS_READY_MARKER)
        assert re.search(re.escape(ROOTFS_BANNER) + r": root /dev/root \(ext4, rw\), kernel 6\.", con.text)
        mounts = con.run("cat /proc/mounts")
        assert "proc /proc proc" in mounts and "sysfs /sys sysfs" in mounts
        assert con.poweroff() == 0
