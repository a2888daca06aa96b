"""A small, deterministic initramfs builder (newc cpio), Python stdlib only.

    from guests.linux.initramfs import Initramfs, busybox_initramfs
    fs = busybox_initramfs(Path("busybox"))        # busybox + applet links + /init
    fs.add_file("/lib/modules/virtio_blk.ko", Path("virtio_blk.ko"))
    fs.add_line("/etc/modules", "virtio_blk.ko")   # /init insmods these in order
    fs.write(Path("initramfs.cpio.gz"))            # gzip'ed when the name ends in .gz

Every entry is owned by root with mtime 0 and numbered inodes, so the same
inputs always give the same bytes (and the same content hash).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import stat
from pathlib import Path, PurePosixPath

# Printed by /init right before it starts the shell; tests wait for it.
READY_MARKER = "rvjit-linux: shell ready"
BANNER_PREFIX = "rvjit-linux: init"
PROMPT = "rvjit# "
# Where /init mounts the root= disk before switch_root.
NEW_ROOT = "/newroot"

INIT_SCRIPT = f"""#!/bin/sh
# /init of the rvjit test initramfs (guests/linux/initramfs.py).  Every
# external command is a fork+exec of busybox: keep them few, boots are timed.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TERM=vt100
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# Kernel modules: /etc/modules lists files under /lib/modules, one a line
# (optionally followed by parameters), loaded in order (Initramfs.add_module).
if [ -f /etc/modules ]; then
    while read -r m args; do
        case "$m" in ''|'#'*) continue ;; esac
        insmod "/lib/modules/$m" $args || echo "{BANNER_PREFIX}: insmod $m failed"
    done < /etc/modules
    # The console may only exist now (console=hvc0 needs the virtio-mmio module): reopen it.
    exec 0<>/dev/console 1>&0 2>&0
fi
# (no /proc/sys in the small kernel: ask uname there)
read -r release 2>/dev/null < /proc/sys/kernel/osrelease || release=$(uname -r)
echo "{BANNER_PREFIX}: kernel $release"
# root=DEVICE on the command line: mount that disk and hand over to its init,
# as the kernel would have done without an initramfs.  Without root= (or if
# the disk cannot be mounted) the shell below runs in the initramfs.
root= rootfstype= rootmode=ro rootdelay=30 newinit=/sbin/init
read -r cmdline < /proc/cmdline
for arg in $cmdline; do
    case "$arg" in
        root=*) root="${{arg#root=}}" ;;
        rootfstype=*) rootfstype="${{arg#rootfstype=}}" ;;
        rootdelay=*) rootdelay="${{arg#rootdelay=}}" ;;
        init=*) newinit="${{arg#init=}}" ;;
        rw|ro) rootmode="$arg" ;;
    esac
done
if [ -n "$root" ]; then
    # Drivers probe asynchronously: give the device node time to appear.
    tries=$((rootdelay * 10))
    while [ ! -b "$root" ] && [ "$tries" -gt 0 ]; do
        usleep 100000
        tries=$((tries - 1))
    done
    if ! [ -b "$root" ]; then
        echo "{BANNER_PREFIX}: root device $root did not appear; staying in the initramfs"
    elif ! mount -o "$rootmode" ${{rootfstype:+-t "$rootfstype"}} "$root" {NEW_ROOT}; then
        echo "{BANNER_PREFIX}: cannot mount $root; staying in the initramfs"
    elif ! [ -x "{NEW_ROOT}$newinit" ]; then
        echo "{BANNER_PREFIX}: $root has no $newinit; staying in the initramfs"
        umount {NEW_ROOT}
    else
        echo "{BANNER_PREFIX}: switching to root $root ($rootmode), running $newinit"
        # The disk's init finds /proc, /sys and /dev already mounted.
        mount -o move /proc {NEW_ROOT}/proc
        mount -o move /sys {NEW_ROOT}/sys
        mount -o move /dev {NEW_ROOT}/dev
        exec switch_root {NEW_ROOT} "$newinit"
    fi
fi
echo "{READY_MARKER}"
# PID 1 never exits: a shell that ends is started again.  cttyhack opens the
# real console device (/sys/class/tty/console/active) as the controlling tty
# of a new session, so job control and ^C work.
while true; do
    setsid cttyhack sh -l
done
"""

PROFILE = f"""export PS1='{PROMPT}'
"""


class Initramfs:
    """An in-memory list of cpio entries, written in the kernel's newc format."""

    def __init__(self) -> None:
        # path -> (mode, data, rdev_major, rdev_minor); insertion ordered
        self.entries: dict[str, tuple[int, bytes, int, int]] = {}

    # -- building -------------------------------------------------------
    @staticmethod
    def _norm(path: str) -> str:
        p = str(PurePosixPath("/") / path).lstrip("/")
        if not p or p.startswith(".."):
            raise ValueError(f"bad initramfs path {path!r}")
        return p

    def _parents(self, p: str) -> None:
        parts = p.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in self.entries:
                self.entries[d] = (stat.S_IFDIR | 0o755, b"", 0, 0)

    def add_dir(self, path: str, mode: int = 0o755) -> None:
        p = self._norm(path)
        self._parents(p)
        self.entries[p] = (stat.S_IFDIR | mode, b"", 0, 0)

    def add_file(self, path: str, content: bytes | str | Path, mode: int = 0o644) -> None:
        if isinstance(content, Path):
            content = content.read_bytes()
        elif isinstance(content, str):
            content = content.encode()
        p = self._norm(path)
        self._parents(p)
        self.entries[p] = (stat.S_IFREG | mode, content, 0, 0)

    def add_line(self, path: str, line: str) -> None:
        """Append a line to a text file (created if needed)."""
        p = self._norm(path)
        old = self.entries.get(p, (stat.S_IFREG | 0o644, b"", 0, 0))[1]
        self.add_file(path, old + line.encode() + b"\n")

    def add_symlink(self, path: str, target: str) -> None:
        p = self._norm(path)
        self._parents(p)
        self.entries[p] = (stat.S_IFLNK | 0o777, target.encode(), 0, 0)

    def add_chardev(self, path: str, major: int, minor: int, mode: int = 0o600) -> None:
        p = self._norm(path)
        self._parents(p)
        self.entries[p] = (stat.S_IFCHR | mode, b"", major, minor)

    def add_tree(self, src: Path, dest: str) -> None:
        """Copy a host directory tree (files, dirs, symlinks) under dest."""
        src = Path(src)
        for f in sorted(src.rglob("*")):
            rel = f.relative_to(src).as_posix()
            target = f"{dest.rstrip('/')}/{rel}"
            if f.is_symlink():
                self.add_symlink(target, str(f.readlink()))
            elif f.is_dir():
                self.add_dir(target)
            else:
                self.add_file(target, f, 0o755 if f.stat().st_mode & 0o111 else 0o644)

    def add_module(self, ko: Path, args: str = "") -> None:
        """Add a kernel module that /init loads with insmod (in the order added)."""
        self.add_file(f"/lib/modules/{ko.name}", ko)
        self.add_line("/etc/modules", f"{ko.name} {args}".rstrip())

    # -- output ---------------------------------------------------------
    def to_cpio(self) -> bytes:
        out = io.BytesIO()

        def put(name: str, mode: int, data: bytes, ino: int, rmaj: int = 0, rmin: int = 0,
                nlink: int = 1) -> None:
            nm = name.encode() + b"\0"
            hdr = "070701" + "".join(f"{v:08x}" for v in (
                ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rmaj, rmin, len(nm), 0))
            out.write(hdr.encode() + nm)
            out.write(b"\0" * (-(110 + len(nm)) % 4))
            out.write(data)
            out.write(b"\0" * (-len(data) % 4))

        # parents first (sorted paths put "a" before "a/b")
        for ino, name in enumerate(sorted(self.entries), start=1):
            mode, data, rmaj, rmin = self.entries[name]
            put(name, mode, data, ino, rmaj, rmin, 2 if stat.S_ISDIR(mode) else 1)
        put("TRAILER!!!", 0, b"", 0)
        n = out.tell()
        out.write(b"\0" * (-n % 512))
        return out.getvalue()

    def write(self, path: Path) -> str:
        """Write the archive (gzip'ed if path ends in .gz); returns its sha256."""
        data = self.to_cpio()
        if str(path).endswith(".gz"):
            data = gzip.compress(data, compresslevel=9, mtime=0)
        tmp = Path(str(path) + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        return hashlib.sha256(data).hexdigest()


def busybox_applets(busybox: bytes) -> list[str]:
    """The applet names compiled into a busybox binary, read from its sorted,
    NUL-separated name table (no need to run the riscv64 binary)."""
    start = busybox.find(b"[\0[[\0")
    if start < 0:
        raise ValueError("busybox applet table not found")
    names: list[str] = []
    i = start
    while True:
        j = busybox.index(b"\0", i)
        s = busybox[i:j]
        if not s:
            break
        name = s.decode("ascii")
        if names and name <= names[-1] or len(names) > 1000:
            raise ValueError(f"busybox applet table looks wrong near {name!r}")
        names.append(name)
        i = j + 1
    if "sh" not in names or "cttyhack" not in names or "poweroff" not in names:
        raise ValueError("busybox lacks sh/cttyhack/poweroff")
    return names


def busybox_initramfs(busybox: Path) -> Initramfs:
    """busybox at /bin/busybox with a /bin/<applet> symlink for every applet
    (/sbin, /usr/bin and /usr/sbin link to /bin), /dev/console, and /init."""
    data = Path(busybox).read_bytes()
    fs = Initramfs()
    for d in ("dev", "proc", "sys", "tmp", "root", "etc", "lib", "mnt", "run", "usr", NEW_ROOT):
        fs.add_dir(d)
    fs.add_dir("tmp", 0o1777)
    fs.add_chardev("/dev/console", 5, 1)
    fs.add_chardev("/dev/null", 1, 3, 0o666)
    fs.add_chardev("/dev/ttyS0", 4, 64, 0o600)
    fs.add_file("/bin/busybox", data, 0o755)
    for applet in busybox_applets(data):
        if applet != "busybox":
            fs.add_symlink(f"/bin/{applet}", "busybox")
    fs.add_symlink("/sbin", "bin")
    fs.add_symlink("/usr/bin", "../bin")
    fs.add_symlink("/usr/sbin", "../bin")
    fs.add_file("/etc/profile", PROFILE)
    fs.add_file("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
    fs.add_file("/etc/group", "root:x:0:\n")
    fs.add_file("/init", INIT_SCRIPT, 0o755)
    return fs
