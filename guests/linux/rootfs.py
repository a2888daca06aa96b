"""The root filesystem disk image: an ext4 file system with busybox and an init
that brings up a shell, written by `mke2fs -d` (e2fsprogs) from a staging
directory, so no mounts or root privileges are needed.

    from guests.linux.rootfs import build_rootfs_image, fresh_copy, debugfs
    build_rootfs_image(Path("busybox"), Path("rootfs.img"))   # pristine image
    disk = fresh_copy(Path("rootfs.img"), tmp_dir)            # boot this one
    debugfs(disk, "cat /root/hello")                          # read a file back

Guests write to their disk, so the built image is kept pristine and every boot
uses a copy of it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from .initramfs import PROFILE, busybox_applets

IMAGE_SIZE_MIB = 128
LABEL = "rvjit-root"
# Fixed so that the same inputs give the same file system bytes.
FS_UUID = uuid.uuid5(uuid.NAMESPACE_URL, "rvjit/guests/linux/rootfs")
FS_TIME = 1_700_000_000           # every inode's timestamps (2023-11-14)

ROOTFS_BANNER = "rvjit-linux: rootfs init"
# Printed by the disk's init right before the shell; distinct from the
# initramfs's "rvjit-linux: shell ready" so that a boot which stayed in the
# initramfs is not taken for one that reached the disk.
ROOTFS_READY_MARKER = "rvjit-linux: rootfs shell ready"

ROOTFS_INIT = f"""#!/bin/sh
# /sbin/init of the rvjit root filesystem disk (guests/linux/rootfs.py).
# Booted through the initramfs (switch_root), /proc, /sys and /dev are already
# mounted; a kernel that mounted root= itself left them to us.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TERM=vt100
[ -e /proc/mounts ] || mount -t proc proc /proc
mounted() {{
    while read -r _dev dir _rest; do
        [ "$dir" = "$1" ] && return 0
    done < /proc/mounts
    return 1
}}
mounted /sys || mount -t sysfs sysfs /sys
mounted /dev || mount -t devtmpfs devtmpfs /dev
root_mount() {{
    while read -r dev dir type opts _rest; do
        [ "$dir" = / ] && {{ rootdev=$dev roottype=$type rootopts=$opts; }}
    done < /proc/mounts
}}
root_mount
# Writable unless the command line asks for `ro`: the kernel mounts root
# read-only by default, and this disk is scratch space.
read -r cmdline < /proc/cmdline
case " $cmdline " in
    *" ro "*) ;;
    *) case ",$rootopts," in *,ro,*) mount -o remount,rw / && root_mount ;; esac ;;
esac
case ",$rootopts," in *,rw,*) rootmode=rw ;; *) rootmode=ro ;; esac
# (no /proc/sys in the small kernel: ask uname there)
read -r release 2>/dev/null < /proc/sys/kernel/osrelease || release=$(uname -r)
echo "{ROOTFS_BANNER}: root $rootdev ($roottype, $rootmode), kernel $release"
echo "{ROOTFS_READY_MARKER}"
# As in the initramfs: PID 1 restarts the shell, on the real console device
# (cttyhack) in a new session, so job control and ^C work.
while true; do
    setsid cttyhack sh -l
done
"""

# (path, type, major, minor, mode): made with debugfs, since mknod needs root.
DEVICE_NODES = (
    ("/dev/console", "c", 5, 1, 0o600),
    ("/dev/null", "c", 1, 3, 0o666),
    ("/dev/ttyS0", "c", 4, 64, 0o600),
)


class RootfsError(RuntimeError):
    pass


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    if shutil.which(cmd[0]) is None:
        raise RootfsError(f"{cmd[0]} not found: apt-get install e2fsprogs")
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RootfsError(f"{' '.join(cmd)} failed ({r.returncode}):\n{(r.stdout + r.stderr)[-3000:]}")
    return r


def stage_tree(busybox: Path, dest: Path) -> list[str]:
    """Lay out the root file system under dest; returns every path in it
    (as /-rooted strings, parents first) for the ownership fix-up."""
    data = Path(busybox).read_bytes()
    dirs = {"bin": 0o755, "sbin": 0o755, "dev": 0o755, "etc": 0o755, "lib": 0o755,
            "mnt": 0o755, "proc": 0o555, "root": 0o700, "run": 0o755, "sys": 0o555,
            "tmp": 0o1777, "usr": 0o755}
    for d, mode in dirs.items():
        (dest / d).mkdir()
    files = {
        "bin/busybox": (data, 0o755),
        "sbin/init": (ROOTFS_INIT.encode(), 0o755),
        "etc/profile": (PROFILE.encode(), 0o644),
        "etc/passwd": (b"root:x:0:0:root:/root:/bin/sh\n", 0o644),
        "etc/group": (b"root:x:0:\n", 0o644),
        "etc/fstab": (b"/dev/vda / ext4 rw 0 1\n", 0o644),
    }
    for rel, (content, mode) in files.items():
        (dest / rel).write_bytes(content)
    for applet in busybox_applets(data):
        # /sbin/init is ours; busybox's own init (and linuxrc) would want an inittab
        if applet not in ("busybox", "init", "linuxrc"):
            (dest / "bin" / applet).symlink_to("busybox")
    (dest / "usr" / "bin").symlink_to("../bin")
    (dest / "usr" / "sbin").symlink_to("../sbin")
    # modes last (chmod after writing: the umask must not matter), times fixed
    for rel, (_, mode) in files.items():
        os.chmod(dest / rel, mode)
    for d, mode in dirs.items():
        os.chmod(dest / d, mode)
    paths = sorted("/" + p.relative_to(dest).as_posix() for p in dest.rglob("*"))
    for p in [dest, *(dest / p[1:] for p in paths)]:
        os.utime(p, (FS_TIME, FS_TIME), follow_symlinks=False)
    return paths


def make_ext4(tree: Path, image: Path, paths: list[str], size_mib: int = IMAGE_SIZE_MIB) -> None:
    """mke2fs -d tree into a new raw image, then device nodes and root ownership
    with debugfs (mke2fs copies the builder's uid/gid)."""
    if image.exists():
        image.unlink()
    env = {**os.environ, "E2FSPROGS_FAKE_TIME": str(FS_TIME)}
    _run(["mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096", "-L", LABEL, "-U", str(FS_UUID),
          # no lazy init: the guest kernel would zero inode tables in the background,
          # disturbing timings; hash_seed fixed for reproducible bytes
          "-E", f"lazy_itable_init=0,lazy_journal_init=0,hash_seed={FS_UUID},root_owner=0:0",
          "-m", "0", "-d", str(tree), str(image), f"{size_mib}M"], env=env)
    script = []
    for p, t, major, minor, _ in DEVICE_NODES:
        # debugfs's mknod takes a name in the current directory, not a path
        parent, name = p.rsplit("/", 1)
        script += [f"cd {parent or '/'}", f"mknod {name} {t} {major} {minor}", "cd /"]
    for p, _t, _ma, _mi, mode in DEVICE_NODES:
        script += [f"sif {p} mode 0{0o020000 | mode:o}"]
    nodes = [d[0] for d in DEVICE_NODES]
    for p in paths + nodes:
        # mke2fs -d stamps ctime with the real time: fix it for reproducible bytes
        script += [f"sif {p} uid 0", f"sif {p} gid 0", f"sif {p} ctime {FS_TIME}"]
    for p in nodes:
        script += [f"sif {p} {field} {FS_TIME}" for field in ("atime", "mtime", "crtime")]
    with tempfile.NamedTemporaryFile("w", suffix=".debugfs") as f:
        f.write("\n".join(script) + "\n")
        f.flush()
        # debugfs exits 0 whatever its requests do; their errors go to stderr
        errors = _run(["debugfs", "-w", "-f", f.name, str(image)], env=env).stderr
    bad = [line for line in errors.splitlines() if line and not line.startswith("debugfs ")]
    if bad:
        raise RootfsError("debugfs fix-up of the root image failed:\n" + "\n".join(bad[:20]))
    _run(["e2fsck", "-f", "-n", str(image)])


def build_rootfs_image(busybox: Path, image: Path, size_mib: int = IMAGE_SIZE_MIB) -> None:
    """Write the pristine root filesystem image (raw ext4) to `image`."""
    image.parent.mkdir(parents=True, exist_ok=True)
    tmp_image = image.with_name(image.name + ".tmp")
    with tempfile.TemporaryDirectory(dir=image.parent) as tmp:
        tree = Path(tmp) / "root"
        tree.mkdir()
        paths = stage_tree(busybox, tree)
        make_ext4(tree, tmp_image, paths, size_mib)
    tmp_image.replace(image)


def fresh_copy(image: Path, dest_dir: Path, name: str = "rootfs.img") -> Path:
    """A writable copy of the pristine image for one boot (guests write to it)."""
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / name
    shutil.copyfile(image, dest)
    return dest


def debugfs(image: Path, request: str) -> str:
    """Run one read-only debugfs request on an image (e.g. "cat /etc/passwd")."""
    return _run(["debugfs", "-R", request, str(image)]).stdout
