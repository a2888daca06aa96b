"""A small reader of ELF64 files: file header, program headers, section headers
and a section's bytes, written from the System V gABI's description of ELF.

It exists so that loading a guest does not import a general ELF library (importing
pyelftools was ~30 ms of start-up).  It reads only the tables it is asked for, with
seek and read, and checks that each one lies inside the file before reading it.  Any
malformed or truncated header or table raises ElfError and nothing else; what the
entries say (a segment's offset and size, say) is the caller's to check.

    with open(path, "rb") as f:
        ident = identify(f)          # class, byte order, type, machine: any ELF
        elf = Elf64(f)               # only an ELFCLASS64 file
        elf.header.e_entry, elf.program_headers(), elf.section_named(".symtab")
"""

from __future__ import annotations

import os
import struct
from collections import namedtuple
from io import BufferedIOBase as BinaryFile  # the type of open(path, "rb") and BytesIO

ELF_MAGIC = b"\x7fELF"
ELFCLASS32, ELFCLASS64 = 1, 2
ELFDATA2LSB, ELFDATA2MSB = 1, 2

# e_type
ET_REL, ET_EXEC, ET_DYN, ET_CORE = 1, 2, 3, 4
# e_machine values this project names (the full list is in the gABI's registry)
EM_386, EM_MIPS, EM_PPC, EM_PPC64, EM_S390 = 3, 8, 20, 21, 22
EM_ARM, EM_SPARCV9, EM_X86_64, EM_AARCH64 = 40, 43, 62, 183
EM_RISCV, EM_LOONGARCH = 243, 258
# p_type
PT_LOAD = 1
# sh_type
SHT_SYMTAB, SHT_STRTAB, SHT_NOBITS = 2, 3, 8
# Special values: a section index of 0 means "none"; counts and indexes too large
# for the 16-bit header fields are kept in section 0 instead (gABI "extended numbering").
SHN_UNDEF = 0
SHN_XINDEX = 0xFFFF
PN_XNUM = 0xFFFF

# e_ident's size, and the whole file header's in each class.
_IDENT_SIZE = 16
_HEADER_SIZES = {ELFCLASS32: 52, ELFCLASS64: 64}

Identity = namedtuple("Identity", ["elf_class", "little_endian", "e_type", "e_machine"])
FileHeader = namedtuple("FileHeader", [
    "e_type", "e_machine", "e_version", "e_entry", "e_phoff", "e_shoff", "e_flags",
    "e_ehsize", "e_phentsize", "e_phnum", "e_shentsize", "e_shnum", "e_shstrndx"])
ProgramHeader = namedtuple("ProgramHeader", [
    "p_type", "p_flags", "p_offset", "p_vaddr", "p_paddr", "p_filesz", "p_memsz", "p_align"])
SectionHeader = namedtuple("SectionHeader", [
    "name", "sh_name", "sh_type", "sh_flags", "sh_addr", "sh_offset", "sh_size",
    "sh_link", "sh_info", "sh_addralign", "sh_entsize"])

# Field layouts after e_ident, without the byte-order prefix.
_FILE_HEADER_LAYOUT = "HHIQQQIHHHHHH"
_PROGRAM_HEADER_LAYOUT = "IIQQQQQQ"
_SECTION_HEADER_LAYOUT = "IIQQQQIIQQ"


class ElfError(ValueError):
    """The file is not a well-formed ELF file (the message says what is wrong)."""


def _file_size(f: BinaryFile) -> int:
    return f.seek(0, os.SEEK_END)


def _read_at(f: BinaryFile, file_size: int, offset: int, size: int, what: str) -> bytes:
    """Exactly size bytes at offset, or ElfError naming `what` if they are not all there."""
    if offset + size > file_size:
        raise ElfError(f"{what} at offset {offset} needs {size} bytes, "
                       f"the file has {max(file_size - offset, 0)} there")
    f.seek(offset)
    data = f.read(size)
    if len(data) != size:  # the file shrank under us
        raise ElfError(f"{what} at offset {offset}: file ended early")
    return data


def identify(f: BinaryFile) -> Identity:
    """What kind of ELF file f is; works for both classes and byte orders.

    The whole file header of the file's class must be present, so a file that is
    cut short is reported as such before anything else is said about it.
    """
    return _read_file_header(f, _file_size(f))[0]


def _read_file_header(f: BinaryFile, file_size: int) -> tuple[Identity, bytes]:
    """The file's identity and its header's bytes after e_ident."""
    ident = _read_at(f, file_size, 0, _IDENT_SIZE, "ELF identification")
    if ident[:4] != ELF_MAGIC:
        raise ElfError("missing the ELF magic bytes")
    elf_class, data_encoding = ident[4], ident[5]
    if elf_class not in _HEADER_SIZES:
        raise ElfError(f"invalid ELF class {elf_class}")
    if data_encoding not in (ELFDATA2LSB, ELFDATA2MSB):
        raise ElfError(f"invalid ELF data encoding {data_encoding}")
    rest = _read_at(f, file_size, _IDENT_SIZE, _HEADER_SIZES[elf_class] - _IDENT_SIZE,
                    "ELF header")
    little_endian = data_encoding == ELFDATA2LSB
    # e_type and e_machine sit at the same offsets in both classes.
    e_type, e_machine = struct.unpack_from("<HH" if little_endian else ">HH", rest)
    identity = Identity(32 if elf_class == ELFCLASS32 else 64, little_endian, e_type, e_machine)
    return identity, rest


class Elf64:
    """The headers of an ELFCLASS64 file (either byte order), read from an open
    binary file; tables are read when first asked for and kept."""

    def __init__(self, f: BinaryFile):
        self._file = f
        self._file_size = _file_size(f)
        ident, header_fields = _read_file_header(f, self._file_size)
        if ident.elf_class != 64:
            raise ElfError(f"{ident.elf_class}-bit ELF file where ELF64 was expected")
        self.little_endian = ident.little_endian
        order = "<" if ident.little_endian else ">"
        self._program_header = struct.Struct(order + _PROGRAM_HEADER_LAYOUT)
        self._section_header = struct.Struct(order + _SECTION_HEADER_LAYOUT)
        self.header = FileHeader._make(struct.unpack(order + _FILE_HEADER_LAYOUT, header_fields))
        self._sections: list[SectionHeader] | None = None

    def _table(self, offset: int, count: int, entry_size: int,
               layout: struct.Struct, what: str) -> list[tuple]:
        """count entries of layout, entry_size bytes apart from offset."""
        if count == 0:
            return []
        # A larger entry size is allowed (later ABI revisions may add fields); a smaller one
        # would make entries overlap.
        if entry_size < layout.size:
            raise ElfError(f"{what} entry size {entry_size} is smaller than {layout.size}")
        data = _read_at(self._file, self._file_size, offset, count * entry_size,
                        f"{what} ({count} entries)")
        return [layout.unpack_from(data, i * entry_size) for i in range(count)]

    def _section_zero(self) -> SectionHeader:
        """Section 0's raw fields, which hold the counts too large for the file header."""
        (fields,) = self._table(self.header.e_shoff, 1, self.header.e_shentsize,
                                self._section_header, "section header table")
        return SectionHeader("", *fields)

    def program_headers(self) -> list[ProgramHeader]:
        """Every program header, in file order (none if the file has no table)."""
        h = self.header
        if h.e_phoff == 0:
            return []
        count = h.e_phnum
        if count == PN_XNUM:
            if h.e_shoff == 0:
                raise ElfError("program header count is in section 0, but there are no sections")
            count = self._section_zero().sh_info
        rows = self._table(h.e_phoff, count, h.e_phentsize, self._program_header,
                           "program header table")
        return [ProgramHeader._make(row) for row in rows]

    def sections(self) -> list[SectionHeader]:
        """Every section header with its name ("" where it has none or it cannot be
        read); none if the file has no section table."""
        if self._sections is None:
            self._sections = self._read_sections()
        return self._sections

    def _read_sections(self) -> list[SectionHeader]:
        h = self.header
        if h.e_shoff == 0:
            return []
        count, names_index = h.e_shnum, h.e_shstrndx
        if count == 0 or names_index == SHN_XINDEX:
            zero = self._section_zero()
            count = count or zero.sh_size
            names_index = zero.sh_link if names_index == SHN_XINDEX else names_index
        rows = self._table(h.e_shoff, count, h.e_shentsize, self._section_header,
                           "section header table")
        names = b""
        if names_index != SHN_UNDEF:
            if names_index >= len(rows):
                raise ElfError(f"section name table index {names_index} is not below "
                               f"the section count {len(rows)}")
            # Like readelf, a name table that is not a string table, or a name offset outside
            # it, leaves sections unnamed rather than the table unreadable.
            name_table = SectionHeader("", *rows[names_index])
            if name_table.sh_type == SHT_STRTAB:
                names = self.section_data(name_table)
        return [SectionHeader(self._name_at(names, row[0]), *row) for row in rows]

    @staticmethod
    def _name_at(names: bytes, offset: int) -> str:
        """The NUL-terminated name at offset in the name table, or "" if there is none."""
        end = names.find(b"\0", offset)
        if end < 0:
            return ""
        return names[offset:end].decode("utf-8", "replace")

    def section(self, index: int) -> SectionHeader:
        """The section header at index; ElfError if there is no such section."""
        sections = self.sections()
        if not 0 <= index < len(sections):
            raise ElfError(f"no section {index}: the file has {len(sections)}")
        return sections[index]

    def section_named(self, name: str) -> SectionHeader | None:
        """The first section called name, or None."""
        for section in self.sections():
            if section.name == name:
                return section
        return None

    def section_data(self, section: SectionHeader) -> bytes:
        """A section's bytes in the file; empty for SHT_NOBITS (.bss takes no file space)."""
        if section.sh_type == SHT_NOBITS:
            return b""
        return _read_at(self._file, self._file_size, section.sh_offset, section.sh_size,
                        f"section '{section.name}'" if section.name else "section")
