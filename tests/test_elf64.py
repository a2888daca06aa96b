"""rvjit.soc.elf64, the loader's own ELF64 reader: it agrees with pyelftools (used here only
as an oracle) on real guests, decodes hand-made headers in both byte orders and with
extended numbering, and answers any cut or corrupted file with ElfError alone."""

from __future__ import annotations

import io
import os
import random
import re
import struct
from pathlib import Path

import pytest

from guests.build import build_one, compiler, default_out_dir
from rvjit.errors import GuestInputError
from rvjit.soc import elf64, loader
from rvjit.soc.elf64 import Elf64, ElfError

PAYLOAD = Path(os.path.expanduser("~/.cache/rvjit/linux/payload/fw_payload.elf"))


@pytest.fixture(scope="module")
def hello() -> Path:
    if compiler() is None:
        pytest.skip("riscv64-unknown-elf-gcc not installed")
    return build_one("c/hello", default_out_dir())


@pytest.fixture(scope="module", params=["c/hello", "fw_payload"])
def guest(request, hello) -> Path:
    """Real RISC-V ELF files: a small C guest, and OpenSBI with a kernel where one is cached."""
    if request.param == "fw_payload":
        if not PAYLOAD.exists():
            pytest.skip("no cached fw_payload.elf (built by tests/test_linux_images.py)")
        return PAYLOAD
    return hello


def open_elf(data: bytes) -> Elf64:
    return Elf64(io.BytesIO(data))


def read_everything(data: bytes) -> None:
    """Every table and every section's bytes, as a caller might ask for them."""
    elf = open_elf(data)
    elf.program_headers()
    for section in elf.sections():
        elf.section_data(section)
    elf.section_named(".symtab")


# ---- agreement with pyelftools on real guests ------------------------------------------

def test_headers_and_sections_match_pyelftools(guest):
    from elftools.elf.elffile import ELFFile

    with open(guest, "rb") as f:
        oracle = ELFFile(f)
        elf = Elf64(f)
        assert elf.header.e_entry == oracle["e_entry"]
        assert elf.header.e_machine == elf64.EM_RISCV and elf.little_endian

        ours = elf.program_headers()
        theirs = [s.header for s in oracle.iter_segments()]
        assert len(ours) == len(theirs) == oracle.num_segments()
        for mine, other in zip(ours, theirs):
            assert (mine.p_type == elf64.PT_LOAD) == (other.p_type == "PT_LOAD")
            assert (mine.p_offset, mine.p_vaddr, mine.p_paddr, mine.p_filesz, mine.p_memsz,
                    mine.p_align) == (other.p_offset, other.p_vaddr, other.p_paddr,
                                      other.p_filesz, other.p_memsz, other.p_align)
        assert sum(p.p_type == elf64.PT_LOAD for p in ours) >= 2

        sections = elf.sections()
        assert [s.name for s in sections] == [s.name for s in oracle.iter_sections()]
        for mine, other in zip(sections, oracle.iter_sections()):
            assert (mine.sh_offset, mine.sh_size, mine.sh_addr, mine.sh_link, mine.sh_info,
                    mine.sh_entsize) == (other["sh_offset"], other["sh_size"], other["sh_addr"],
                                         other["sh_link"], other["sh_info"], other["sh_entsize"])
            if other["sh_type"] != "SHT_NOBITS":
                assert elf.section_data(mine) == other.data(), mine.name


def test_loader_symbols_match_pyelftools(guest):
    from elftools.elf.elffile import ELFFile

    kept = {"STT_FUNC", "STT_OBJECT", "STT_NOTYPE"}
    with open(guest, "rb") as f:
        expected = sorted(
            (sym.name, sym["st_value"], sym["st_size"], sym["st_info"]["type"],
             sym["st_info"]["bind"] != "STB_LOCAL")
            for sym in ELFFile(f).get_section_by_name(".symtab").iter_symbols()
            if sym["st_info"]["type"] in kept and sym["st_shndx"] != "SHN_UNDEF"
            and sym.name and not sym.name.startswith(("$", ".L")))
    entry, segments, symbols = loader._inspect_elf(str(guest))
    assert sorted((s.name, s.addr, s.size, s.kind, s.is_global) for s in symbols) == expected
    assert len(expected) > 20


def test_sections_by_name_and_index(hello):
    elf = open_elf(hello.read_bytes())
    symtab = elf.section_named(".symtab")
    assert symtab.sh_type == elf64.SHT_SYMTAB and symtab.sh_entsize == 24
    strtab = elf.section(symtab.sh_link)
    assert strtab.name == ".strtab" and strtab.sh_type == elf64.SHT_STRTAB
    assert b"\0main\0" in elf.section_data(strtab)
    assert elf.section_data(elf.section_named(".bss")) == b""  # NOBITS: no file bytes
    assert elf.section_named(".no-such-section") is None
    assert elf.section(0).name == "" and elf.section(0).sh_type == 0
    with pytest.raises(ElfError, match="no section"):
        elf.section(len(elf.sections()))
    with pytest.raises(ElfError, match="no section"):
        elf.section(-1)


# ---- cut and corrupted real files ----------------------------------------------------

def test_every_cut_raises_elf_error(hello):
    data = hello.read_bytes()
    header = open_elf(data).header
    # The section header table ends the file, so every cut loses part of something read.
    assert header.e_shoff + header.e_shnum * header.e_shentsize == len(data)
    tables_end = header.e_phoff + header.e_phnum * header.e_phentsize
    cuts = set(range(0, tables_end + 8)) | set(range(header.e_shoff - 8, len(data)))
    cuts |= set(range(tables_end, header.e_shoff, 61))
    for cut in sorted(cuts):
        with pytest.raises(ElfError):
            read_everything(data[:cut])
    read_everything(data)


# Program headers' values are the caller's to check, so corrupting them is never an error here.
@pytest.mark.parametrize("region, can_fail", [
    ("file header", True), ("program headers", False), ("section headers", True)])
def test_corruption_raises_only_elf_error(hello, region, can_fail):
    data = hello.read_bytes()
    h = open_elf(data).header
    start, end = {
        "file header": (4, 64),
        "program headers": (h.e_phoff, h.e_phoff + h.e_phnum * h.e_phentsize),
        "section headers": (h.e_shoff, len(data)),
    }[region]
    rng = random.Random(f"elf64 {region}")
    outcomes = {"read": 0, "ElfError": 0}
    for _ in range(1500):
        buf = bytearray(data)
        for _ in range(rng.randint(1, 6)):
            buf[rng.randrange(start, end)] = rng.choice((0, 0xFF, rng.randrange(256)))
        try:
            read_everything(bytes(buf))
            outcomes["read"] += 1
        except ElfError:
            outcomes["ElfError"] += 1
    # Both kinds of outcome happen where they can, so the mutations reach the checks.
    assert outcomes["read"] and bool(outcomes["ElfError"]) == can_fail, outcomes


# ---- hand-made headers ----------------------------------------------------------------

TEXT = bytes.fromhex("13000000") * 4
NAMES = b"\0.text\0.shstrtab\0"
PHOFF, TEXT_AT, NAMES_AT, SHOFF = 64, 120, 136, 160


def make_elf(order: str = "<", elf_class: int = 2, machine: int = elf64.EM_RISCV,
             e_type: int = elf64.ET_EXEC, extended: bool = False) -> bytes:
    """A three-section ELF64 file with one PT_LOAD; `extended` keeps its counts and name
    table index in section 0 as files with very many sections do."""
    encoding = 1 if order == "<" else 2
    ident = b"\x7fELF" + bytes([elf_class, encoding, 1]) + bytes(9)
    phnum, shnum, shstrndx = (0xFFFF, 0, 0xFFFF) if extended else (1, 3, 2)
    header = ident + struct.pack(order + "HHIQQQIHHHHHH", e_type, machine, 1, 0x8000_0004,
                                 PHOFF, SHOFF, 5, 64, 56, phnum, 64, shnum, shstrndx)
    program_header = struct.pack(order + "IIQQQQQQ", elf64.PT_LOAD, 5, TEXT_AT, 0x8000_0000,
                                 0x8000_0000, len(TEXT), 32, 0x1000)
    section = struct.Struct(order + "IIQQQQIIQQ")
    zero = section.pack(0, 0, 0, 0, 0, 3 if extended else 0, 2 if extended else 0,
                        1 if extended else 0, 0, 0)
    text = section.pack(1, 1, 6, 0x8000_0000, TEXT_AT, len(TEXT), 0, 0, 4, 0)
    names = section.pack(7, elf64.SHT_STRTAB, 0, 0, NAMES_AT, len(NAMES), 0, 0, 1, 0)
    body = header + program_header + TEXT + NAMES
    return body + bytes(SHOFF - len(body)) + zero + text + names


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("extended", [False, True])
def test_hand_made_file(order, extended):
    elf = open_elf(make_elf(order, extended=extended))
    assert elf.little_endian == (order == "<")
    assert elf.header.e_entry == 0x8000_0004 and elf.header.e_flags == 5
    (load,) = elf.program_headers()
    assert load == elf64.ProgramHeader(elf64.PT_LOAD, 5, TEXT_AT, 0x8000_0000, 0x8000_0000,
                                       len(TEXT), 32, 0x1000)
    assert [s.name for s in elf.sections()] == ["", ".text", ".shstrtab"]
    text = elf.section_named(".text")
    assert (text.sh_addr, text.sh_offset, text.sh_size, text.sh_addralign) == (
        0x8000_0000, TEXT_AT, len(TEXT), 4)
    assert elf.section_data(text) == TEXT
    assert elf.section_data(elf.section(2)) == NAMES


def patch(data: bytes, offset: int, fmt: str, *values) -> bytes:
    buf = bytearray(data)
    struct.pack_into(fmt, buf, offset, *values)
    return bytes(buf)


def test_identify_any_class_and_order():
    assert elf64.identify(io.BytesIO(make_elf(">", machine=elf64.EM_PPC64))) == (
        64, False, elf64.ET_EXEC, elf64.EM_PPC64)
    rv32 = make_elf(elf_class=1)[:52]  # the same e_type/e_machine bytes in a 32-bit header
    assert elf64.identify(io.BytesIO(rv32)) == (32, True, elf64.ET_EXEC, elf64.EM_RISCV)
    with pytest.raises(ElfError, match="32-bit"):
        Elf64(io.BytesIO(rv32))
    with pytest.raises(ElfError, match="ELF header"):
        elf64.identify(io.BytesIO(rv32[:51]))


@pytest.mark.parametrize("offset, fmt, value, message", [
    (0, "4s", b"\x7fELG", "magic"),
    (4, "B", 3, "invalid ELF class 3"),
    (5, "B", 0, "invalid ELF data encoding 0"),
    (32, "<Q", 1 << 40, "program header table"),       # e_phoff past the end
    (54, "<H", 40, "entry size 40 is smaller than 56"),  # e_phentsize
    (40, "<Q", 1 << 40, "section header table"),       # e_shoff past the end
    (58, "<H", 63, "entry size 63 is smaller than 64"),  # e_shentsize
    (60, "<H", 4, "section header table"),             # e_shnum beyond the file
    (62, "<H", 3, "section name table index 3"),       # e_shstrndx past the table
    (SHOFF + 64 + 24, "<Q", 1 << 20, "section '.text' at offset 1048576"),  # its sh_offset
    (SHOFF + 128 + 24, "<Q", 1 << 20, "section at offset 1048576"),  # the name table's
])
def test_malformed_file_messages(offset, fmt, value, message):
    with pytest.raises(ElfError, match=message):
        read_everything(patch(make_elf(), offset, fmt, value))


def test_unusable_names_leave_sections_unnamed():
    not_strtab = patch(make_elf(), SHOFF + 128 + 4, "<I", 1)  # .shstrtab typed PROGBITS
    assert [s.name for s in open_elf(not_strtab).sections()] == ["", "", ""]
    bad_offset = patch(make_elf(), SHOFF + 64, "<I", 1000)  # .text's name outside the table
    assert [s.name for s in open_elf(bad_offset).sections()] == ["", "", ".shstrtab"]
    unterminated = patch(make_elf(), SHOFF + 128 + 32, "<Q", len(NAMES) - 1)  # no final NUL
    assert [s.name for s in open_elf(unterminated).sections()] == ["", ".text", ""]
    no_names = patch(make_elf(), 62, "<H", elf64.SHN_UNDEF)
    assert open_elf(no_names).section_named(".text") is None


def test_nobits_section_has_no_file_bytes():
    # .text made SHT_NOBITS and larger than the file: it occupies no file space, so no error.
    bss = patch(make_elf(), SHOFF + 64 + 4, "<I", elf64.SHT_NOBITS)
    bss = patch(bss, SHOFF + 64 + 32, "<Q", 1 << 30)
    elf = open_elf(bss)
    assert elf.section_data(elf.section_named(".text")) == b""


def test_absent_tables_are_empty():
    assert open_elf(patch(make_elf(), 40, "<Q", 0)).sections() == []
    assert open_elf(patch(make_elf(), 32, "<Q", 0)).program_headers() == []


# ---- the loader's checks on hand-made headers -----------------------------------------

@pytest.mark.parametrize("data, message", [pytest.param(*case, id=case[1]) for case in [
    (make_elf(machine=elf64.EM_AARCH64), "for AArch64 (ARM64), not RISC-V"),
    (make_elf(machine=elf64.EM_386, elf_class=1)[:52], "for x86 (i386), not RISC-V"),
    (make_elf(machine=9999), "for machine type 9999, not RISC-V"),
    (make_elf(">"), "big-endian ELF is not supported"),
    (make_elf(e_type=elf64.ET_REL), "relocatable object file"),
    (make_elf(e_type=elf64.ET_CORE), "core dump"),
    (patch(make_elf(), 32, "<Q", 0), "no loadable segments"),
    (make_elf()[:SHOFF + 100], "truncated or corrupt ELF file (section header table"),
]])
def test_loader_messages(tmp_path, data, message):
    path = tmp_path / "made.elf"
    path.write_bytes(data)
    with pytest.raises(GuestInputError, match=re.escape(message)):
        loader.check_elf(path)


def test_loader_accepts_hand_made_file(tmp_path):
    path = tmp_path / "made.elf"
    path.write_bytes(make_elf())
    entry, segments, symbols = loader._inspect_elf(str(path))
    assert entry == 0x8000_0004 and symbols == []
    assert segments == [loader._Segment(0x8000_0000, 32, TEXT_AT, len(TEXT))]
