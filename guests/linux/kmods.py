"""Pick kernel modules out of an unpacked Debian linux-image package, with their
dependencies, in the order insmod must load them.

    from guests.linux.kmods import ModuleTree
    tree = ModuleTree(Path("unpacked/usr/lib/modules/6.12.117+deb13-riscv64"))
    for m in tree.load_order(["virtio_mmio", "virtio_blk", "ext4"]):
        fs.add_file(f"/lib/modules/{m.name}.ko", m.data())   # decompressed .ko

The .deb carries no modules.dep (depmod runs when the package is installed),
so dependencies come from each module's own `.modinfo` section: `depends=`
(what modpost resolved from symbols, as depmod would) and `softdep=pre:`
(modules the kernel would ask modprobe for, e.g. ext4 wants `crypto-crc32c`;
busybox insmod never asks, so they are loaded explicitly first).
"""

from __future__ import annotations

import gzip
import lzma
import struct
from dataclasses import dataclass
from pathlib import Path

# Where softdep aliases usually live, searched first: finding `crypto-crc32c`
# then costs a few decompressions instead of all ~3,000 modules.
ALIAS_SEARCH_FIRST = ("kernel/crypto", "kernel/lib", "kernel/arch")


def _decompress(path: Path) -> bytes:
    raw = path.read_bytes()
    if path.name.endswith(".xz"):
        return lzma.decompress(raw)
    if path.name.endswith(".gz"):
        return gzip.decompress(raw)
    if path.name.endswith(".zst"):
        raise ValueError(f"{path}: zstd-compressed modules are not supported (no zstd in the stdlib)")
    return raw


def _canonical(name: str) -> str:
    """Module names treat '-' and '_' alike (virtio-rng.ko is module virtio_rng)."""
    return name.replace("-", "_")


def modinfo(elf: bytes) -> list[tuple[str, str]]:
    """The key=value strings of an ELF64 little-endian module's .modinfo section."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        raise ValueError("not a little-endian ELF64 module")
    e_shoff, = struct.unpack_from("<Q", elf, 0x28)
    e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", elf, 0x3A)

    def section(i: int) -> tuple[int, int, int]:
        name, _t, _f, _a, off, size = struct.unpack_from("<IIQQQQ", elf, e_shoff + i * e_shentsize)
        return name, off, size

    _, stroff, _ = section(e_shstrndx)
    for i in range(e_shnum):
        name, off, size = section(i)
        if elf[stroff + name:elf.index(b"\0", stroff + name)] == b".modinfo":
            pairs = []
            for item in elf[off:off + size].split(b"\0"):
                if b"=" in item:
                    k, v = item.decode(errors="replace").split("=", 1)
                    pairs.append((k, v))
            return pairs
    return []


@dataclass
class Module:
    name: str              # canonical module name (underscores)
    path: Path             # the .ko / .ko.xz file in the tree
    info: list[tuple[str, str]]

    def field(self, key: str) -> list[str]:
        return [v for k, v in self.info if k == key]

    @property
    def depends(self) -> list[str]:
        return [_canonical(d) for v in self.field("depends") for d in v.split(",") if d]

    @property
    def softdeps_pre(self) -> list[str]:
        """Names after `pre:` in softdep= (up to a `post:`)."""
        out = []
        for v in self.field("softdep"):
            words = v.split()
            take = False
            for w in words:
                if w.endswith(":"):
                    take = w == "pre:"
                elif take:
                    out.append(w)
        return out

    def data(self) -> bytes:
        """The module decompressed: busybox insmod reads it into memory and calls
        init_module, which needs an uncompressed ELF."""
        return _decompress(self.path)


class ModuleTree:
    """/lib/modules/<version> of an unpacked kernel package."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.files = {}
        for p in sorted(self.root.rglob("*.ko*")):
            base = p.name.split(".ko")[0]
            self.files[_canonical(base)] = p
        self._loaded: dict[str, Module] = {}
        self._builtin_aliases = self._read_builtin_aliases()
        self._builtin = {_canonical(Path(line.strip()).name.split(".ko")[0])
                         for line in self._read_text("modules.builtin").splitlines() if line.strip()}

    def _read_text(self, name: str) -> str:
        p = self.root / name
        return p.read_text(errors="replace") if p.exists() else ""

    def _read_builtin_aliases(self) -> set[str]:
        p = self.root / "modules.builtin.modinfo"
        aliases = set()
        if p.exists():
            for item in p.read_bytes().split(b"\0"):
                key, _, value = item.decode(errors="replace").partition("=")
                if key.endswith(".alias"):
                    aliases.add(value)
        return aliases

    def module(self, name: str) -> Module:
        name = _canonical(name)
        if name not in self._loaded:
            if name not in self.files:
                raise KeyError(f"no module {name} under {self.root}")
            path = self.files[name]
            self._loaded[name] = Module(name, path, modinfo(_decompress(path)))
        return self._loaded[name]

    def resolve(self, wanted: str) -> str | None:
        """The module that provides a name or alias; None when the kernel has it built in."""
        name = _canonical(wanted)
        if name in self.files:
            return name
        if name in self._builtin or wanted in self._builtin_aliases:
            return None
        first = [n for n, p in self.files.items()
                 if p.relative_to(self.root).as_posix().startswith(ALIAS_SEARCH_FIRST)]
        rest = [n for n in self.files if n not in set(first)]
        for n in first + rest:
            if wanted in self.module(n).field("alias"):
                return n
        raise KeyError(f"no module provides {wanted!r} under {self.root}")

    def load_order(self, wanted: list[str]) -> list[Module]:
        """wanted and everything they need, each after what it needs (softdeps
        `pre:` first, then depends=), each once."""
        order: list[Module] = []
        done: set[str] = set()
        visiting: set[str] = set()

        def visit(name: str) -> None:
            if name in done:
                return
            if name in visiting:
                raise ValueError(f"module dependency cycle through {name}")
            visiting.add(name)
            mod = self.module(name)
            for dep in mod.softdeps_pre:
                provider = self.resolve(dep)
                if provider is not None:
                    visit(provider)
            for dep in mod.depends:
                visit(dep)
            visiting.discard(name)
            done.add(name)
            order.append(mod)

        for w in wanted:
            provider = self.resolve(w)
            if provider is not None:
                visit(provider)
        return order
