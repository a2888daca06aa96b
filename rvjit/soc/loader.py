"""Loading guest images (ELF programs, raw binaries) into guest RAM.

Everything here treats its input as untrusted: any problem with a file is
reported as a one-line GuestInputError naming the file, never as a parser
traceback.  `check_elf` runs the same checks as `load_elf` without touching
RAM so the CLI can reject bad input before importing the heavy JIT machinery.
"""

from __future__ import annotations

import bisect
import difflib
import os
import re
import struct
from dataclasses import dataclass, field
from fractions import Fraction

from rvjit.errors import GuestInputError
from rvjit.soc import elf64

DEFAULT_RAM_BASE = 0x8000_0000
MAX_MEM_SIZE = 64 << 30

_MiB = 1 << 20

# Friendly names for the machines people most often hand us by mistake.
_MACHINE_NAMES = {
    elf64.EM_X86_64: "x86-64",
    elf64.EM_386: "x86 (i386)",
    elf64.EM_AARCH64: "AArch64 (ARM64)",
    elf64.EM_ARM: "32-bit ARM",
    elf64.EM_MIPS: "MIPS",
    elf64.EM_PPC: "PowerPC",
    elf64.EM_PPC64: "PowerPC64",
    elf64.EM_S390: "IBM S/390",
    elf64.EM_SPARCV9: "SPARC64",
    elf64.EM_LOONGARCH: "LoongArch",
}

# Symbols that label code: asm labels are STT_NOTYPE, C functions STT_FUNC.
_CODE_TYPES = ("STT_FUNC", "STT_NOTYPE")
_KEPT_TYPES = ("STT_FUNC", "STT_OBJECT", "STT_NOTYPE")


@dataclass(frozen=True)
class _Segment:
    paddr: int
    memsz: int
    offset: int
    filesz: int


@dataclass(frozen=True)
class _Symbol:
    addr: int
    size: int
    name: str
    kind: str  # ELF symbol type name, e.g. "STT_FUNC"
    is_global: bool


@dataclass
class LoadedImage:
    """What was loaded and where; symbols are for labels and `explain`."""

    path: str
    entry: int
    symbols: dict[str, int] = field(default_factory=dict)
    segments: list[tuple[int, int]] = field(default_factory=list)
    _code_syms: list[_Symbol] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        # Sorted by address; FUNC and global symbols first at equal addresses so
        # they win over local labels and linker-defined NOTYPE names.
        self._code_syms.sort(
            key=lambda s: (s.addr, s.kind != "STT_FUNC", not s.is_global, s.name))
        self._starts = [s.addr for s in self._code_syms]

    def _segment_of(self, addr: int) -> tuple[int, int] | None:
        for start, size in self.segments:
            if start <= addr < start + size:
                return start, size
        return None

    def symbol_at(self, addr: int) -> tuple[str, int] | None:
        """(name, offset) of the function containing addr, or None.

        A sized symbol must contain addr; a zero-sized asm label covers up to
        the next label in the same loaded segment.
        """
        i = bisect.bisect_right(self._starts, addr)
        seg = self._segment_of(addr)
        for j in range(i - 1, -1, -1):
            sym = self._code_syms[j]
            if sym.size:
                if addr < sym.addr + sym.size:
                    return sym.name, addr - sym.addr
                continue
            if seg is not None and seg[0] <= sym.addr:
                return sym.name, addr - sym.addr
            return None
        return None

    def function_range(self, name: str) -> tuple[int, int]:
        """(start, size) of a named function; asm labels extend to the next label."""
        matches = [s for s in self._code_syms if s.name == name]
        if not matches:
            hint = difflib.get_close_matches(name, sorted(self.symbols), n=3)
            extra = f"; did you mean {', '.join(hint)}?" if hint else ""
            raise GuestInputError(f"{self.path}: no function named '{name}'{extra}")
        sym = min(matches, key=lambda s: (not s.is_global, s.kind != "STT_FUNC"))
        if sym.size:
            return sym.addr, sym.size
        seg = self._segment_of(sym.addr)
        end = seg[0] + seg[1] if seg else sym.addr
        i = bisect.bisect_right(self._starts, sym.addr)
        if i < len(self._starts):
            end = min(end, self._starts[i])
        return sym.addr, max(end - sym.addr, 0)


def parse_mem_size(text: str) -> int:
    """Parse a QEMU-style memory size ("128M", "1G", "64MiB"; bare number = MiB)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*", str(text), re.IGNORECASE)
    if not m or (m.group(3) and not m.group(2) and m.group(3).lower() == "ib"):
        raise GuestInputError(
            f"invalid memory size '{text}' for -m: expected a positive size "
            "such as 128M, 512M or 1G")
    number, unit, bytes_suffix = m.groups()
    if unit:
        scale = 1 << (10 * "kmgt".index(unit.lower()) + 10)
    elif bytes_suffix:
        scale = 1  # "512B": explicit bytes
    else:
        scale = _MiB  # QEMU treats a bare number as MiB
    size = Fraction(number) * scale
    if size <= 0:
        raise GuestInputError(f"invalid memory size '{text}' for -m: it must be more than zero")
    if size.denominator != 1:
        raise GuestInputError(
            f"invalid memory size '{text}' for -m: it is not a whole number of bytes")
    if size > MAX_MEM_SIZE:
        raise GuestInputError(
            f"memory size '{text}' for -m is too large: the maximum is 64G")
    return int(size)


def check_file(path: str | os.PathLike, what: str = "file") -> int:
    """Check that path is a readable, non-empty regular file; return its size."""
    p = os.fspath(path)
    if not os.path.exists(p):
        raise GuestInputError(f"{p}: no such {what}")
    if os.path.isdir(p):
        raise GuestInputError(f"{p}: is a directory, expected a {what}")
    try:
        with open(p, "rb") as f:
            f.read(1)
            size = os.fstat(f.fileno()).st_size
    except PermissionError:
        raise GuestInputError(f"{p}: cannot read {what}: permission denied") from None
    except OSError as e:
        raise GuestInputError(f"{p}: cannot read {what}: {e.strerror or e}") from None
    if size == 0:
        raise GuestInputError(f"{p}: {what} is empty")
    return size


def _fits(start: int, size: int, ram_base: int, ram_size: int) -> bool:
    return ram_base <= start and start + size <= ram_base + ram_size


def _range_error(path: str, what: str, start: int, size: int,
                 ram_base: int, ram_size: int) -> GuestInputError:
    ram_desc = (f"guest RAM 0x{ram_base:x}-0x{ram_base + ram_size - 1:x} "
                f"({_describe_size(ram_size)})")
    where = f"0x{start:x}" if size <= 1 else f"0x{start:x}-0x{start + size - 1:x}"
    if start < ram_base < start + size:
        # Typical of `-Ttext=0x80000000` alone: ld maps the ELF headers in the page below.
        advice = (f"it starts below RAM; link so that all segments are at or above "
                  f"0x{ram_base:x} (e.g. with -Wl,-n or a linker script)")
    elif start < ram_base:
        advice = f"link it at or above 0x{ram_base:x}"
    elif start + size - ram_base <= MAX_MEM_SIZE:
        needed = -(-(start + size - ram_base) // _MiB)
        advice = f"use -m to give the guest more RAM (at least -m {needed}M)"
    else:
        advice = f"it is beyond the largest RAM rvjit supports (-m {MAX_MEM_SIZE >> 30}G)"
    return GuestInputError(f"{path}: {what} at {where} lies outside {ram_desc}; {advice}")


def _describe_size(size: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} bytes"


def _machine_name(machine: int) -> str:
    return _MACHINE_NAMES.get(machine, f"machine type {machine}")


def _inspect_elf(path: str) -> tuple[int, list[_Segment], list[_Symbol]]:
    """Validate an ELF file's headers; return (entry, load segments, symbols)."""
    file_size = check_file(path, "program file")
    with open(path, "rb") as f:
        if f.read(4) != elf64.ELF_MAGIC:
            raise GuestInputError(
                f"{path}: not an ELF file (missing the ELF magic bytes); "
                "expected a RISC-V RV64 ELF program")
        try:
            ident = elf64.identify(f)
            if ident.e_machine != elf64.EM_RISCV:
                raise GuestInputError(
                    f"{path}: is an ELF program for {_machine_name(ident.e_machine)}, "
                    "not RISC-V; rvjit runs RISC-V RV64 programs")
            if ident.elf_class != 64:
                raise GuestInputError(
                    f"{path}: 32-bit RISC-V ELF is not supported; rvjit runs RV64")
            if not ident.little_endian:
                raise GuestInputError(
                    f"{path}: big-endian ELF is not supported; RISC-V guests are little-endian")
            if ident.e_type == elf64.ET_REL:
                raise GuestInputError(
                    f"{path}: is a relocatable object file, not a linked program; link it first")
            if ident.e_type == elf64.ET_CORE:
                raise GuestInputError(f"{path}: is a core dump, not a program")
            elf = elf64.Elf64(f)
            segments = [
                _Segment(seg.p_paddr, seg.p_memsz, seg.p_offset, seg.p_filesz)
                for seg in elf.program_headers()
                if seg.p_type == elf64.PT_LOAD and seg.p_memsz > 0
            ]
            symbols = _read_symbols(elf)
            entry = elf.header.e_entry
        except elf64.ElfError as e:
            raise GuestInputError(f"{path}: truncated or corrupt ELF file ({e})") from None
        except OSError as e:
            raise GuestInputError(
                f"{path}: cannot read program file: {e.strerror or e}") from None
    if not segments:
        raise GuestInputError(f"{path}: ELF file has no loadable segments")
    for seg in segments:
        if seg.offset + seg.filesz > file_size:
            raise GuestInputError(
                f"{path}: truncated or corrupt ELF file (segment at 0x{seg.paddr:x} "
                f"needs file bytes up to {seg.offset + seg.filesz}, file has {file_size})")
        if seg.filesz > seg.memsz:
            raise GuestInputError(
                f"{path}: corrupt ELF file (segment at 0x{seg.paddr:x} has more "
                "file bytes than memory bytes)")
    return entry, segments, symbols


# Symbol types kept, by their ELF numbers (STT_*), and Elf64_Sym's layout (little-endian, since
# _inspect_elf accepts only that): st_name, st_info, st_other, st_shndx, st_value, st_size.
_SYMBOL_TYPES = {0: "STT_NOTYPE", 1: "STT_OBJECT", 2: "STT_FUNC"}
_ELF64_SYM = struct.Struct("<IBBHQQ")
_STB_LOCAL = 0


def _read_symbols(elf: elf64.Elf64) -> list[_Symbol]:
    """The labels of .symtab, unpacked in one pass: a kernel's table is large."""
    table = elf.section_named(".symtab")
    if table is None or table.sh_type != elf64.SHT_SYMTAB or table.sh_entsize != _ELF64_SYM.size:
        return []
    strings = elf.section_data(elf.section(table.sh_link))
    data = elf.section_data(table)
    result = []
    for name_at, info, _, shndx, value, size in _ELF64_SYM.iter_unpack(
            data[:len(data) - len(data) % _ELF64_SYM.size]):
        kind = _SYMBOL_TYPES.get(info & 0xF)
        if kind not in _KEPT_TYPES or shndx == elf64.SHN_UNDEF or not name_at:
            continue
        name = strings[name_at:strings.find(b"\0", name_at)].decode("utf-8", "replace")
        # "$x"/"$d" are RISC-V mapping symbols, not labels anyone wants to see.
        if not name or name.startswith(("$", ".L")):
            continue
        result.append(_Symbol(value, size, name, kind, info >> 4 != _STB_LOCAL))
    return result


def _check_placement(path: str, entry: int, segments: list[_Segment],
                     ram_base: int, ram_size: int) -> None:
    for seg in segments:
        if not _fits(seg.paddr, seg.memsz, ram_base, ram_size):
            raise _range_error(path, "segment", seg.paddr, seg.memsz, ram_base, ram_size)
    if not _fits(entry, 1, ram_base, ram_size):
        raise _range_error(path, "entry point", entry, 1, ram_base, ram_size)


def check_elf(path: str | os.PathLike, ram_size: int | None = None,
              ram_base: int = DEFAULT_RAM_BASE) -> None:
    """Raise the GuestInputError load_elf would, without needing guest RAM.

    The placement check needs a RAM size, so it only runs when one is given.
    """
    p = os.fspath(path)
    entry, segments, _ = _inspect_elf(p)
    if ram_size is not None:
        _check_placement(p, entry, segments, ram_base, ram_size)


def load_elf(path: str | os.PathLike, ram) -> LoadedImage:
    """Copy an RV64 ELF's PT_LOAD segments to their physical addresses in ram."""
    p = os.fspath(path)
    entry, segments, symbols = _inspect_elf(p)
    _check_placement(p, entry, segments, ram.base, ram.size)
    with open(p, "rb") as f:
        for seg in segments:
            f.seek(seg.offset)
            data = f.read(seg.filesz)
            if len(data) != seg.filesz:  # file shrank since we checked it
                raise GuestInputError(f"{p}: truncated ELF file while loading")
            # Zero the bss explicitly: RAM may hold an earlier image.
            ram.write(seg.paddr, data + bytes(seg.memsz - seg.filesz))
    names: dict[str, int] = {}
    for sym in sorted(symbols, key=lambda s: not s.is_global):
        names.setdefault(sym.name, sym.addr)
    return LoadedImage(
        path=p, entry=entry, symbols=names,
        segments=[(s.paddr, s.memsz) for s in segments],
        _code_syms=[s for s in symbols if s.kind in _CODE_TYPES])


def load_flat(path: str | os.PathLike, ram, addr: int) -> LoadedImage:
    """Copy a raw binary into ram at addr; the entry point is addr."""
    p = os.fspath(path)
    size = check_file(p, "image file")
    if not _fits(addr, size, ram.base, ram.size):
        raise _range_error(p, f"image ({size} bytes)", addr, size, ram.base, ram.size)
    try:
        with open(p, "rb") as f:
            data = f.read()
    except OSError as e:
        raise GuestInputError(f"{p}: cannot read image file: {e.strerror or e}") from None
    if len(data) != size:
        raise GuestInputError(f"{p}: file changed size while loading")
    ram.write(addr, data)
    return LoadedImage(path=p, entry=addr, segments=[(addr, size)])
