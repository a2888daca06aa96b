#!/usr/bin/env python3
"""Build the Linux guest images rvjit boots, from Debian packages only.

    python3 -m guests.linux.build [--only NAME ...] [--out DIR] [--force] [--refresh]

    from guests.linux.build import build_image
    paths = build_image("debian")     # {"firmware": .../fw_jump.elf, "kernel": .../Image, ...}

Images (see guests/linux/README.md):

  debian   Debian stable's stock riscv64 kernel (raw `Image`), a busybox-static
           initramfs (initramfs.cpio.gz) and Debian's OpenSBI fw_jump/fw_dynamic.
  small    a small 6.x kernel built from Debian's linux-source with
           guests/linux/small.config, the busybox initramfs built in.
  payload  OpenSBI fw_payload.elf built from Debian's opensbi source package with
           the small kernel as payload: one ELF that boots to a shell.
  rootfs   a root filesystem disk (rootfs.img, raw ext4 by mke2fs -d) with busybox
           and an init that starts a shell; boot debian (initramfs-disk.cpio.gz)
           or small with `root=/dev/vda rw` and the disk as a virtio drive.

Everything goes to $XDG_CACHE_HOME/rvjit/linux (default ~/.cache/rvjit/linux)
or --out DIR.  An image is rebuilt only when its stamp (a hash of the recipe
and of our inputs) no longer matches or an output is missing; a cached image
is reused without touching the network.  --refresh re-reads the Debian archive
and rebuilds what a newer package version changes.

The Debian archive is the one the host's apt sources name (first non-security
`deb` URI; RVJIT_DEBIAN_ARCHIVE overrides it); the suite is the codename of the
archive's `stable` suite (RVJIT_DEBIAN_SUITE overrides; DEFAULT_SUITE if it
cannot be read).  apt runs with its own sources file, lists and cache under
<out>/apt, so the host's apt state and architectures are left alone.
"""

from __future__ import annotations

import argparse
import getpass
import gzip
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import initramfs as ifs
from . import kmods
from . import rootfs as rfs

HERE = Path(__file__).resolve().parent
SMALL_CONFIG = HERE / "small.config"
DEFAULT_SUITE = "trixie"          # Debian 13, stable as of 2026 (used if detection fails)
IMAGES = ("debian", "small", "payload")   # bootable: firmware (+ kernel)
DISKS = ("rootfs",)                         # disk images, booted with a kernel image
CROSS = os.environ.get("RVJIT_LINUX_CROSS", "riscv64-linux-gnu-")
FW_BASE = 0x80000000              # where the virt board's firmware runs
KERNEL_OFFSET = 0x200000          # fw_jump / fw_payload enter the kernel at FW_BASE + this
# Bump an entry to force that image to be rebuilt by everyone.
RECIPE = {"debian": 2, "small": 1, "payload": 1, "rootfs": 1}
# What the Debian kernel needs as modules to mount root on a virtio disk (its
# virtio-mmio, virtio-blk, virtio-rng and ext4 are =m), loaded with their
# dependencies from initramfs-disk.cpio.gz.
DISK_MODULES = ("virtio_mmio", "virtio_blk", "virtio_rng", "ext4")
# Kernel command line for root on the rootfs disk (the first virtio drive).
ROOT_APPEND = "console=ttyS0 earlycon root=/dev/vda rw"
APT_LISTS_MAX_AGE = 24 * 3600


class BuildError(RuntimeError):
    pass


class ArchiveUnavailable(BuildError):
    """The Debian archive (network / apt) cannot be reached."""


class ToolMissing(BuildError):
    """A build tool is not installed (see guests/linux/requirements-apt.txt)."""


def log(msg: str) -> None:
    print(f"[guests.linux] {msg}", file=sys.stderr, flush=True)


def default_out_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rvjit" / "linux"


def sha256_file(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _hash(*parts: object) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(repr(p).encode() if not isinstance(p, bytes) else p)
        h.update(b"\0")
    return h.hexdigest()


def run(cmd: list[str], cwd: Path | None = None, logfile: Path | None = None,
        env: dict | None = None) -> str:
    """Run a command; on failure raise BuildError with the end of its output."""
    if shutil.which(cmd[0]) is None:
        raise ToolMissing(f"{cmd[0]} not found (apt-get install the packages in "
                          "guests/linux/requirements-apt.txt)")
    if logfile is not None:
        with open(logfile, "wb") as f:
            r = subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, env=env)
        if r.returncode != 0:
            tail = logfile.read_text(errors="replace")[-3000:]
            raise BuildError(f"{' '.join(cmd)} failed ({r.returncode}); log {logfile}:\n{tail}")
        return ""
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, env=env)
    if r.returncode != 0:
        out = (r.stdout + r.stderr).decode(errors="replace")[-3000:]
        raise BuildError(f"{' '.join(cmd)} failed ({r.returncode}):\n{out}")
    return r.stdout.decode(errors="replace")


# ---------------------------------------------------------------------------
# The Debian archive through apt, with a private sources file, lists and cache
# ---------------------------------------------------------------------------

def _host_apt_sources() -> list[tuple[list[str], list[str], list[str]]]:
    """(types, uris, suites) of every entry in the host's apt sources."""
    out = []
    d = Path("/etc/apt")
    for f in sorted((d / "sources.list.d").glob("*.sources")):
        for para in re.split(r"\n\s*\n", f.read_text(errors="replace")):
            fields: dict[str, str] = {}
            for line in para.splitlines():
                if line.startswith("#") or ":" not in line or line[0].isspace():
                    continue
                k, v = line.split(":", 1)
                fields[k.strip().lower()] = v.strip()
            if fields.get("enabled", "yes").lower() == "no":
                continue
            if "uris" in fields:
                out.append((fields.get("types", "").split(), fields["uris"].split(),
                            fields.get("suites", "").split()))
    for f in [d / "sources.list", *sorted((d / "sources.list.d").glob("*.list"))]:
        if not f.exists():
            continue
        for line in f.read_text(errors="replace").splitlines():
            line = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()
            if len(line) >= 3 and line[0] in ("deb", "deb-src"):
                out.append(([line[0]], [line[1]], [line[2]]))
    return out


def archive_uri() -> str:
    """The main Debian archive's URI, as the host's apt sources name it."""
    env = os.environ.get("RVJIT_DEBIAN_ARCHIVE")
    if env:
        return env.rstrip("/")
    best = None
    for types, uris, suites in _host_apt_sources():
        if "deb" not in types and "deb-src" not in types:
            continue
        if any(s.endswith(("-security", "/updates")) for s in suites):
            continue
        for u in uris:
            if "security" in u or not u.startswith(("http://", "https://", "file:", "ftp://")):
                continue
            if u.rstrip("/").endswith("/debian"):
                return u.rstrip("/")
            best = best or u.rstrip("/")
    if best:
        return best
    raise ArchiveUnavailable("no Debian archive URI in /etc/apt sources (set RVJIT_DEBIAN_ARCHIVE)")


class Apt:
    """apt-get/apt-cache on riscv64 packages of one Debian suite, fully private."""

    def __init__(self, root: Path, refresh: bool = False) -> None:
        self.root = root
        self.refresh = refresh
        self.ready = False
        self.suite = ""
        self.uri = ""

    def _opts(self) -> list[str]:
        user = getpass.getuser()
        return [
            "-o", f"Dir::Etc::SourceList={self.root / 'sources.list'}",
            "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", f"Dir::State::Lists={self.root / 'lists'}",
            "-o", f"Dir::Cache={self.root / 'cache'}",
            "-o", "Dir::State::status=/dev/null",
            "-o", "APT::Architectures::=riscv64",
            "-o", f"APT::Sandbox::User={user}",
            "-o", "Acquire::Retries=3",
            "-q",
        ]

    def _detect_suite(self) -> str:
        env = os.environ.get("RVJIT_DEBIAN_SUITE")
        if env:
            return env
        rel = self.root / "stable-Release"
        helper = "/usr/lib/apt/apt-helper"
        try:
            run([helper, *self._opts(), "download-file", f"{self.uri}/dists/stable/Release", str(rel)])
            m = re.search(r"^Codename:\s*(\S+)", rel.read_text(errors="replace"), re.M)
            if m:
                return m.group(1)
        except (BuildError, OSError) as e:
            log(f"cannot read the stable suite's codename ({str(e).splitlines()[0]}); using {DEFAULT_SUITE}")
        return DEFAULT_SUITE

    def setup(self) -> None:
        if self.ready:
            return
        if shutil.which("apt-get") is None:
            raise ArchiveUnavailable("apt-get not found (a Debian host is needed)")
        self.uri = archive_uri()
        for d in ("lists/partial", "cache/archives/partial"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        stamp = self.root / "updated"
        fresh = (stamp.exists() and not self.refresh
                 and time.time() - stamp.stat().st_mtime < APT_LISTS_MAX_AGE)
        if fresh:
            self.suite = stamp.read_text().split()[0]
        else:
            self.suite = self._detect_suite()
        key = "/usr/share/keyrings/debian-archive-keyring.gpg"
        signed = f"signed-by={key}" if Path(key).exists() else ""
        (self.root / "sources.list").write_text(
            f"deb [arch=riscv64 {signed}] {self.uri} {self.suite} main\n"
            f"deb-src [{signed}] {self.uri} {self.suite} main\n".replace(" ]", "]").replace("[]", ""))
        if not fresh:
            log(f"apt-get update ({self.suite}, riscv64 + sources)")
            try:
                run(["apt-get", *self._opts(), "update"])
            except BuildError as e:
                raise ArchiveUnavailable(f"apt-get update failed: {e}") from e
            if not list((self.root / "lists").glob("*binary-riscv64_Packages*")):
                raise ArchiveUnavailable(f"no riscv64 package list for {self.suite}")
            stamp.write_text(self.suite + "\n")
        self.ready = True

    def show(self, pkg: str) -> dict[str, str]:
        """The candidate version's control fields of a binary package."""
        self.setup()
        ver = self.candidate(pkg)
        text = run(["apt-cache", *self._opts(), "show", f"{pkg}={ver}"])
        fields: dict[str, str] = {}
        for line in text.split("\n\n")[0].splitlines():
            if line and not line[0].isspace() and ":" in line:
                k, v = line.split(":", 1)
                fields[k] = v.strip()
        return fields

    def candidate(self, pkg: str) -> str:
        self.setup()
        text = run(["apt-cache", *self._opts(), "policy", pkg])
        m = re.search(r"Candidate:\s*(\S+)", text)
        if not m or m.group(1) == "(none)":
            raise BuildError(f"package {pkg} not found in Debian {self.suite} (riscv64)")
        return m.group(1)

    def depends_on(self, pkg: str, pattern: str) -> str:
        """The first dependency of pkg whose name matches pattern."""
        for dep in re.split(r"[,|]", self.show(pkg).get("Depends", "")):
            name = dep.strip().split()[0] if dep.strip() else ""
            if re.fullmatch(pattern, name):
                return name
        raise BuildError(f"{pkg} has no dependency matching {pattern}")

    def download(self, pkg: str, dest: Path) -> tuple[Path, str]:
        """Download a binary package's candidate .deb into dest: (path, version)."""
        ver = self.candidate(pkg)
        dest.mkdir(parents=True, exist_ok=True)
        prefix = f"{pkg}_{ver.replace(':', '%3a')}_"
        have = sorted(dest.glob(prefix + "*.deb"))
        if not have:
            log(f"download {pkg} {ver}")
            run(["apt-get", *self._opts(), "download", f"{pkg}={ver}"], cwd=dest)
            have = sorted(dest.glob(prefix + "*.deb"))
        if not have:
            raise BuildError(f"apt-get download {pkg}={ver} left no .deb in {dest}")
        return have[0], ver

    def source(self, pkg: str, dest: Path) -> tuple[str, list[Path]]:
        """Download a source package's files into dest: (version, files).  Files that
        the archive does not serve are left out (apt-get's error is logged)."""
        self.setup()
        dest.mkdir(parents=True, exist_ok=True)
        text = run(["apt-cache", *self._opts(), "showsrc", pkg])
        para = text.split("\n\n")[0]
        ver = re.search(r"^Version:\s*(\S+)", para, re.M).group(1)
        files = re.findall(r"^ [0-9a-f]{64} \d+ (\S+)$",
                           para.split("Checksums-Sha256:", 1)[1], re.M)
        if not all((dest / f).exists() for f in files):
            log(f"apt-get source --download-only {pkg} {ver}")
            r = subprocess.run(["apt-get", *self._opts(), "source", "--download-only", f"{pkg}={ver}"],
                               cwd=dest, capture_output=True, text=True)
            if r.returncode != 0:
                log(f"apt-get source {pkg}: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")
        return ver, [dest / f for f in files if (dest / f).exists()]


# ---------------------------------------------------------------------------
# Stamps
# ---------------------------------------------------------------------------

def _stamp_ok(out: Path, key: str, outputs: dict[str, Path]) -> dict | None:
    st = out / "stamp.json"
    if not st.exists():
        return None
    try:
        data = json.loads(st.read_text())
    except ValueError:
        return None
    if data.get("key") != key:
        return None
    for name, p in outputs.items():
        if not p.exists() or data.get("sha256", {}).get(name) != sha256_file(p):
            return None
    return data


def _write_stamp(out: Path, key: str, outputs: dict[str, Path], versions: dict[str, str]) -> None:
    data = {"key": key, "versions": versions,
            "sha256": {n: sha256_file(p) for n, p in outputs.items()},
            "sizes": {n: p.stat().st_size for n, p in outputs.items()}}
    (out / "stamp.json").write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


# ---------------------------------------------------------------------------
# ELF helpers
# ---------------------------------------------------------------------------

def elf_load_segments(path: Path) -> tuple[int, int, list[tuple[int, int, int, int]]]:
    """(e_type, e_entry, [(p_vaddr, p_paddr, p_filesz, p_memsz) of every PT_LOAD])."""
    d = path.read_bytes()
    if d[:4] != b"\x7fELF" or d[4] != 2 or d[5] != 1:
        raise BuildError(f"{path} is not a little-endian ELF64 file")
    e_type, = struct.unpack_from("<H", d, 16)
    e_entry, e_phoff = struct.unpack_from("<QQ", d, 24)
    e_phentsize, e_phnum = struct.unpack_from("<HH", d, 54)
    segs = []
    for i in range(e_phnum):
        p_type, _flags, _off, vaddr, paddr, filesz, memsz, _al = struct.unpack_from(
            "<IIQQQQQQ", d, e_phoff + i * e_phentsize)
        if p_type == 1:
            segs.append((vaddr, paddr, filesz, memsz))
    return e_type, e_entry, segs


def rebase_pie_elf(src: Path, dst: Path, base: int) -> None:
    """Copy a position-independent firmware ELF linked at 0 (OpenSBI >= 1.3 built with
    FW_TEXT_START=0, as Debian ships it) so that it loads and starts at `base`: every
    program header's addresses and the entry point move by `base`, the type becomes
    ET_EXEC and the section headers are dropped.  The bytes are those of Debian's
    fw_*.bin, which QEMU runs at 0x80000000; the firmware applies its own
    relocations for the address it runs at, exactly as it does for the .bin."""
    d = bytearray(src.read_bytes())
    e_type, e_entry, segs = elf_load_segments(src)
    if not segs or min(s[1] for s in segs) != 0:
        raise BuildError(f"{src}: not linked at 0")
    e_phoff, = struct.unpack_from("<Q", d, 32)
    e_phentsize, e_phnum = struct.unpack_from("<HH", d, 54)
    struct.pack_into("<H", d, 16, 2)                       # ET_EXEC
    struct.pack_into("<Q", d, 24, e_entry + base)
    struct.pack_into("<Q", d, 40, 0)                       # e_shoff
    struct.pack_into("<HHH", d, 58, 0, 0, 0)               # e_shentsize, e_shnum, e_shstrndx
    for i in range(e_phnum):
        o = e_phoff + i * e_phentsize
        p_type, = struct.unpack_from("<I", d, o)
        if p_type in (0, 6):                               # PT_NULL, PT_PHDR
            continue
        vaddr, paddr = struct.unpack_from("<QQ", d, o + 16)
        struct.pack_into("<QQ", d, o + 16, vaddr + base, paddr + base)
    dst.write_bytes(bytes(d))


def check_riscv_image(data: bytes, what: str) -> None:
    """A RISC-V Linux `Image`: magic "RSC\\x05" at 0x38."""
    if len(data) < 0x40 or data[0x38:0x3C] != b"RSC\x05":
        raise BuildError(f"{what} is not a RISC-V Linux Image (no RSC\\x05 magic)")


def _extract_deb(deb: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    run(["dpkg-deb", "-x", str(deb), str(dest)])


# ---------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------

def _initramfs_key() -> str:
    return sha256_file(Path(ifs.__file__))


def disk_initramfs(busybox: Path, modules_dir: Path, scratch: Path) -> ifs.Initramfs:
    """The busybox initramfs plus DISK_MODULES and their dependencies (decompressed
    into scratch first), which /init loads in order before mounting root=."""
    fs = ifs.busybox_initramfs(busybox)
    scratch.mkdir(parents=True, exist_ok=True)
    for mod in kmods.ModuleTree(modules_dir).load_order(list(DISK_MODULES)):
        ko = scratch / f"{mod.name}.ko"
        ko.write_bytes(mod.data())
        fs.add_module(ko)
    return fs


def build_debian(root: Path, apt: Apt, force: bool = False) -> dict[str, Path]:
    out = root / "debian"
    outputs = {
        "firmware": out / "fw_jump.elf",
        "kernel": out / "Image",
        "initrd": out / "initramfs.cpio.gz",
        "initrd_disk": out / "initramfs-disk.cpio.gz",
        "fw_jump_bin": out / "fw_jump.bin",
        "fw_dynamic": out / "fw_dynamic.elf",
        "fw_dynamic_bin": out / "fw_dynamic.bin",
        "busybox": out / "busybox",
    }
    key = _hash("debian", RECIPE["debian"], _initramfs_key(), sha256_file(Path(kmods.__file__)),
                DISK_MODULES)
    old = None if force else _stamp_ok(out, key, outputs)
    if old and not apt.refresh:
        return outputs
    apt.setup()
    kpkg = apt.depends_on("linux-image-riscv64", r"linux-image-.*-riscv64")
    want = {p: apt.candidate(p) for p in (kpkg, "busybox-static", "opensbi")}
    if old and old.get("versions") == want:
        return outputs
    out.mkdir(parents=True, exist_ok=True)
    dl = root / "downloads"
    versions = {}
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        t = Path(tmp)
        for pkg in want:
            deb, versions[pkg] = apt.download(pkg, dl)
            _extract_deb(deb, t / pkg)
        # kernel: /boot/vmlinux-* (RISC-V Image with an EFI stub header) or a gzip'ed vmlinuz-*
        cands = sorted((t / kpkg / "boot").glob("vmlinu[xz]-*"))
        if not cands:
            raise BuildError(f"{kpkg} has no /boot/vmlinux-* or vmlinuz-*")
        data = cands[0].read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        check_riscv_image(data, cands[0].name)
        (out / "Image").write_bytes(data)
        cfg = sorted((t / kpkg / "boot").glob("config-*"))
        if cfg:
            shutil.copyfile(cfg[0], out / "config")
        bb = next((p for p in (t / "busybox-static" / "bin" / "busybox",
                               t / "busybox-static" / "usr" / "bin" / "busybox") if p.exists()), None)
        if bb is None:
            raise BuildError("busybox-static has no busybox binary")
        shutil.copyfile(bb, out / "busybox")
        (out / "busybox").chmod(0o755)
        fw = t / "opensbi" / "usr/lib/riscv64-linux-gnu/opensbi/generic"
        for n in ("fw_jump", "fw_dynamic"):
            shutil.copyfile(fw / f"{n}.bin", out / f"{n}.bin")
            _, _, segs = elf_load_segments(fw / f"{n}.elf")
            if min(s[1] for s in segs) == 0:
                # QEMU (and rvjit) load an ELF at its physical addresses: move it to 0x80000000
                rebase_pie_elf(fw / f"{n}.elf", out / f"{n}.elf", FW_BASE)
                shutil.copyfile(fw / f"{n}.elf", out / f"{n}.debian-pie.elf")
            else:
                shutil.copyfile(fw / f"{n}.elf", out / f"{n}.elf")
        moddirs = sorted((t / kpkg).glob("lib/modules/*/kernel")) + \
            sorted((t / kpkg).glob("usr/lib/modules/*/kernel"))
        if not moddirs:
            raise BuildError(f"{kpkg} has no lib/modules/<version>/kernel")
        disk_initramfs(out / "busybox", moddirs[0].parent, t / "ko").write(out / "initramfs-disk.cpio.gz")
    ifs.busybox_initramfs(out / "busybox").write(out / "initramfs.cpio.gz")
    _write_stamp(out, key, outputs, versions)
    return outputs


def ensure_linux_source(root: Path, apt: Apt) -> tuple[Path, str]:
    apt.setup()
    spkg = apt.depends_on("linux-source", r"linux-source-[0-9.]+")
    ver = apt.candidate(spkg)
    src = root / "src" / spkg
    stamp = src / ".rvjit-version"
    if stamp.exists() and stamp.read_text().strip() == f"{spkg} {ver}":
        return src, ver
    deb, ver = apt.download(spkg, root / "downloads")
    if src.exists():
        shutil.rmtree(src)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        _extract_deb(deb, Path(tmp))
        tars = sorted(Path(tmp).glob("usr/src/linux-source-*.tar.*"))
        if not tars:
            raise BuildError(f"{deb.name} has no usr/src/linux-source-*.tar.*")
        log(f"unpack {tars[0].name}")
        (root / "src").mkdir(parents=True, exist_ok=True)
        unpack = root / "src" / ".unpack"
        if unpack.exists():
            shutil.rmtree(unpack)
        unpack.mkdir()
        run(["tar", "-xf", str(tars[0]), "-C", str(unpack)])
        top = [p for p in unpack.iterdir() if p.is_dir()]
        if len(top) != 1:
            raise BuildError(f"unexpected layout in {tars[0].name}")
        top[0].rename(src)
        unpack.rmdir()
    stamp.write_text(f"{spkg} {ver}\n")
    return src, ver


def _config_lines(text: str) -> dict[str, str]:
    vals = {}
    for line in text.splitlines():
        m = re.match(r"^(CONFIG_\w+)=(.*)$", line)
        if m:
            vals[m.group(1)] = m.group(2)
        m = re.match(r"^# (CONFIG_\w+) is not set$", line)
        if m:
            vals[m.group(1)] = "n"
    return vals


def build_small(root: Path, apt: Apt, force: bool = False, jobs: int | None = None) -> dict[str, Path]:
    deb = build_debian(root, apt)
    out = root / "small"
    outputs = {"kernel": out / "Image"}
    key = _hash("small", RECIPE["small"], SMALL_CONFIG.read_bytes(), _initramfs_key(),
                sha256_file(deb["busybox"]), CROSS)
    old = None if force else _stamp_ok(out, key, outputs)
    if old and not apt.refresh:
        return {**outputs, "firmware": deb["firmware"]}
    src, ver = ensure_linux_source(root, apt)
    if old and old.get("versions", {}).get("linux-source") == ver:
        return {**outputs, "firmware": deb["firmware"]}
    if shutil.which(CROSS + "gcc") is None:
        raise ToolMissing(f"{CROSS}gcc not found: apt-get install gcc-riscv64-linux-gnu "
                         "(see guests/linux/requirements-apt.txt)")
    build = out / "build"
    build.mkdir(parents=True, exist_ok=True)
    cpio = out / "initramfs.cpio"
    ifs.busybox_initramfs(deb["busybox"]).write(cpio)
    frag = SMALL_CONFIG.read_text()
    allconfig = out / "allconfig"
    allconfig.write_text(frag + f'\nCONFIG_INITRAMFS_SOURCE="{cpio}"\n')
    make = ["make", "-C", str(src), f"O={build}", "ARCH=riscv", f"CROSS_COMPILE={CROSS}"]
    log(f"configure small kernel (allnoconfig + {SMALL_CONFIG.name})")
    run([*make, f"KCONFIG_ALLCONFIG={allconfig}", "allnoconfig"], logfile=out / "config.log")
    got = _config_lines((build / ".config").read_text())
    bad = [f"{k}={v} (got {got.get(k, 'n')})"
           for k, v in _config_lines(allconfig.read_text()).items() if got.get(k, "n") != v]
    if bad:
        raise BuildError("small.config options that did not survive olddefconfig:\n  " + "\n  ".join(bad))
    jobs = jobs or os.cpu_count() or 2
    log(f"make -j{jobs} Image (small kernel; log {out / 'build.log'}; ~15 min on 2 cores from scratch)")
    t0 = time.time()
    run([*make, f"-j{jobs}", "Image"], logfile=out / "build.log")
    log(f"small kernel built in {time.time() - t0:.0f} s")
    img = build / "arch" / "riscv" / "boot" / "Image"
    check_riscv_image(img.read_bytes()[:64], str(img))
    shutil.copyfile(img, out / "Image")
    _write_stamp(out, key, outputs, {"linux-source": ver})
    return {**outputs, "firmware": deb["firmware"]}


def ensure_opensbi_source(root: Path, apt: Apt) -> tuple[Path, str, bool]:
    """Unpacked opensbi source package: (dir, version, debian_patches_applied)."""
    ver, files = apt.source("opensbi", root / "downloads" / "opensbi-src")
    src = root / "src" / "opensbi"
    stamp = src / ".rvjit-version"
    have_debian = any(f.name.endswith(".dsc") for f in files) and any(".debian.tar." in f.name for f in files)
    if stamp.exists():
        sver, how = stamp.read_text().split()[:2]
        if sver == ver and (how == "patched" or not have_debian):
            return src, ver, how == "patched"
    if src.exists():
        shutil.rmtree(src)
    dsc = next((f for f in files if f.name.endswith(".dsc")), None)
    orig = next((f for f in files if ".orig.tar." in f.name), None)
    dtar = next((f for f in files if ".debian.tar." in f.name), None)
    if orig is None:
        raise ArchiveUnavailable(f"opensbi {ver}: the archive served no orig tarball")
    (root / "src").mkdir(parents=True, exist_ok=True)
    patched = False
    if dsc is not None and dtar is not None and shutil.which("dpkg-source"):
        run(["dpkg-source", "-x", str(dsc), str(src)])
        patched = True
    else:
        unpack = root / "src" / ".unpack-opensbi"
        if unpack.exists():
            shutil.rmtree(unpack)
        unpack.mkdir()
        run(["tar", "-xf", str(orig), "-C", str(unpack)])
        top = [p for p in unpack.iterdir() if p.is_dir()]
        top[0].rename(src)
        unpack.rmdir()
        if dtar is not None:
            run(["tar", "-xf", str(dtar), "-C", str(src)])
            series = src / "debian" / "patches" / "series"
            if series.exists():
                for line in series.read_text().splitlines():
                    line = line.split("#", 1)[0].strip()
                    if line:
                        run(["patch", "-p1", "-i", str(src / "debian" / "patches" / line.split()[0])],
                            cwd=src)
            patched = True
        else:
            log(f"opensbi {ver}: the archive did not serve the Debian packaging "
                "(.dsc/.debian.tar); building the upstream orig tarball without Debian's patches")
    stamp.write_text(f"{ver} {'patched' if patched else 'orig-only'}\n")
    return src, ver, patched


def build_payload(root: Path, apt: Apt, force: bool = False) -> dict[str, Path]:
    small = build_small(root, apt)
    out = root / "payload"
    outputs = {"firmware": out / "fw_payload.elf", "firmware_bin": out / "fw_payload.bin"}
    key = _hash("payload", RECIPE["payload"], sha256_file(small["kernel"]), CROSS)
    old = None if force else _stamp_ok(out, key, outputs)
    if old and not apt.refresh:
        return outputs
    src, ver, patched = ensure_opensbi_source(root, apt)
    if old and old.get("versions", {}).get("opensbi") == ver:
        return outputs
    if shutil.which(CROSS + "gcc") is None:
        raise ToolMissing(f"{CROSS}gcc not found (see guests/linux/requirements-apt.txt)")
    build = out / "build"
    if build.exists():
        shutil.rmtree(build)
    build.mkdir(parents=True)
    log(f"build OpenSBI {ver} fw_payload (payload: small Image)")
    # FW_TEXT_START: link at 0x80000000 so the ELF loads where the board runs
    # firmware (OpenSBI's generic platform default is a PIE linked at 0).
    run(["make", "-C", str(src), f"O={build}", "PLATFORM=generic", f"CROSS_COMPILE={CROSS}",
         f"FW_TEXT_START={FW_BASE:#x}", "FW_PAYLOAD=y", f"FW_PAYLOAD_OFFSET={KERNEL_OFFSET:#x}",
         f"FW_PAYLOAD_PATH={small['kernel']}", f"-j{os.cpu_count() or 2}"],
        logfile=out / "build.log")
    fwdir = build / "platform" / "generic" / "firmware"
    for n in ("fw_payload.elf", "fw_payload.bin"):
        shutil.copyfile(fwdir / n, out / n)
    _, entry, segs = elf_load_segments(out / "fw_payload.elf")
    if entry != FW_BASE or min(s[1] for s in segs) != FW_BASE:
        raise BuildError(f"fw_payload.elf loads at {min(s[1] for s in segs):#x}, entry {entry:#x}")
    binary = (out / "fw_payload.bin").read_bytes()
    kernel = small["kernel"].read_bytes()
    if binary[KERNEL_OFFSET:KERNEL_OFFSET + len(kernel)] != kernel:
        raise BuildError(f"fw_payload.bin does not hold the kernel at +{KERNEL_OFFSET:#x}")
    _write_stamp(out, key, outputs, {"opensbi": ver, "debian_patches": str(patched)})
    return outputs


def build_rootfs(root: Path, apt: Apt, force: bool = False) -> dict[str, Path]:
    """The pristine root filesystem image; boot a copy (rootfs.fresh_copy)."""
    deb = build_debian(root, apt)
    out = root / "rootfs"
    outputs = {"disk": out / "rootfs.img"}
    key = _hash("rootfs", RECIPE["rootfs"], sha256_file(Path(rfs.__file__)), _initramfs_key(),
                sha256_file(deb["busybox"]), rfs.IMAGE_SIZE_MIB)
    if not force and _stamp_ok(out, key, outputs):
        return outputs
    out.mkdir(parents=True, exist_ok=True)
    if shutil.which("mke2fs") is None or shutil.which("debugfs") is None:
        raise ToolMissing("mke2fs/debugfs not found: apt-get install e2fsprogs "
                          "(see guests/linux/requirements-apt.txt)")
    log(f"write {outputs['disk']} ({rfs.IMAGE_SIZE_MIB} MiB ext4, mke2fs -d)")
    try:
        rfs.build_rootfs_image(deb["busybox"], outputs["disk"])
    except rfs.RootfsError as e:
        raise BuildError(str(e)) from e
    _write_stamp(out, key, outputs, {})
    return outputs


def disk_boot_paths(kernel_image: str, out: str | Path | None = None) -> dict[str, Path]:
    """The files that boot `kernel_image` ("debian" or "small") with root on the
    rootfs disk: firmware, kernel, initrd (debian: initramfs-disk.cpio.gz, with the
    modules; small: none, its drivers and initramfs are built in) and "disk", the
    pristine rootfs.img, which a boot must not use itself: boot a copy."""
    if kernel_image not in ("debian", "small"):
        raise ValueError(f"no disk boot for image {kernel_image!r}; debian or small")
    paths = dict(build_image(kernel_image, out))
    if kernel_image == "debian":
        paths["initrd"] = paths["initrd_disk"]
    paths = {k: paths[k] for k in ("firmware", "kernel", "initrd") if k in paths}
    paths["disk"] = build_image("rootfs", out)["disk"]
    return paths


BUILDERS = {"debian": build_debian, "small": build_small, "payload": build_payload,
            "rootfs": build_rootfs}


def build_image(name: str, out: str | Path | None = None, force: bool = False,
                refresh: bool = False) -> dict[str, Path]:
    """Build (or reuse from the cache) one image; returns its files.

    Every image of IMAGES has "firmware" (the -bios file); debian and small have
    "kernel"; debian has "initrd" and "initrd_disk".  The rootfs disk has "disk"
    only (see disk_boot_paths).  Raises ArchiveUnavailable when the Debian archive
    is needed but cannot be reached, BuildError for other failures."""
    if name not in BUILDERS:
        raise ValueError(f"unknown image {name!r}; one of {', '.join(IMAGES + DISKS)}")
    root = Path(out) if out else default_out_dir()
    root.mkdir(parents=True, exist_ok=True)
    root = root.resolve()
    return BUILDERS[name](root, Apt(root / "apt", refresh=refresh), force=force)


def drive_args(disk: Path) -> list[str]:
    """A raw disk image as the board's virtio-blk disk on virtio-mmio, plus a
    virtio-rng-device for the guest's entropy.  QEMU's `if=virtio` alone would put
    the disk on PCI, which rvjit's board (virtio-mmio only) and the small kernel
    lack; `rvjit boot` takes the same -drive/-device spelling as QEMU."""
    return ["-drive", f"file={disk},format=raw,if=none,id=rootdisk",
            "-device", "virtio-blk-device,drive=rootdisk", "-device", "virtio-rng-device"]


def qemu_args(name: str, paths: dict[str, Path], append: str = "console=ttyS0 earlycon",
              bios_flag: bool = True, disk: Path | None = None) -> list[str]:
    """QEMU arguments that boot an image, after the machine options.  With
    bios_flag=False the firmware comes first without -bios, as `rvjit boot` takes it.
    disk: a raw image to attach as a virtio drive (a copy, never the pristine one)."""
    args = ["-bios", str(paths["firmware"])] if bios_flag else [str(paths["firmware"])]
    if "kernel" in paths:
        args += ["-kernel", str(paths["kernel"])]
        if "initrd" in paths:
            args += ["-initrd", str(paths["initrd"])]
        args += ["-append", append]
    if disk is not None:
        args += drive_args(disk)
    return args


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m guests.linux.build", description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append", choices=IMAGES + DISKS, metavar="NAME",
                    help=f"build only this image (repeatable; one of {', '.join(IMAGES + DISKS)})")
    ap.add_argument("--out", help=f"output directory (default {default_out_dir()})")
    ap.add_argument("--force", action="store_true", help="rebuild even if the cache is current")
    ap.add_argument("--refresh", action="store_true",
                    help="re-read the Debian archive; rebuild what newer packages change")
    args = ap.parse_args(argv)
    names = args.only or list(IMAGES + DISKS)
    try:
        for name in names:
            paths = build_image(name, args.out, force=args.force, refresh=args.refresh)
            for k, p in paths.items():
                print(f"{name}.{k}: {p}  ({p.stat().st_size} bytes)")
            if name in DISKS:
                boot = disk_boot_paths("debian", args.out)
                cmd = qemu_args("debian", boot, ROOT_APPEND, disk=Path("copy-of-rootfs.img"))
            else:
                cmd = qemu_args(name, paths)
            print(f"{name}.qemu: qemu-system-riscv64 -M virt -m 512M -nographic "
                  + " ".join(f'"{a}"' if " " in a else a for a in cmd))
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
