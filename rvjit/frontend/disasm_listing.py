"""The whole `objdump -d` listing of an ELF file's executable sections: objdump's symbol
lookup for labels, its zero-run elision, data mapping symbols, and its column layout."""
from __future__ import annotations

import bisect
import re

from .disasm import disassemble_word, format_illegal, insn_length
from .disasm_addr import AddressTracker

SKIP_ZEROES = 8             # objdump prints "..." for runs of at least this many zero bytes,
SKIP_ZEROES_AT_END = 3      # or for fewer than this many at the end of a symbol's range
_MAP_INSN, _MAP_DATA = "x", "d"


class _Sym:
    __slots__ = ("name", "value", "shndx", "kind", "bind", "key")

    def __init__(self, name, value, shndx, kind, bind):
        self.name, self.value, self.shndx, self.kind, self.bind = name, value, shndx, kind, bind
        # objdump's order among symbols at one address: functions, then objects, then globals
        # before locals, names starting with "." last, then by name (file-like names after all)
        file_like = len(name) > 2 and name[-2] == "." and name[-1] in "oa"
        self.key = (value, file_like, kind != "STT_FUNC", kind != "STT_OBJECT",
                    bind == "STB_LOCAL", bind != "STB_GLOBAL", name.startswith("."),
                    name.encode())


def _caret(m) -> str:
    c = ord(m.group())
    return "^?" if c == 0x7F else "^" + chr(c + 0x40)


class ElfSymbols:
    """The symbol table the way objdump consults it to label addresses."""

    def __init__(self, elf):
        self.relocatable = elf["e_type"] == "ET_REL"
        self.syms: list[_Sym] = []
        self.mapping: dict[int, list[tuple[int, str]]] = {}     # section -> [(addr, x|d)]
        self.gp = None
        for section in elf.iter_sections():
            if section["sh_type"] not in ("SHT_SYMTAB",):
                continue
            for s in section.iter_symbols():
                name, shndx = s.name, s["st_shndx"]
                kind, bind = s["st_info"]["type"], s["st_info"]["bind"]
                if not name or kind in ("STT_SECTION", "STT_FILE") or shndx in ("SHN_UNDEF", "SHN_COMMON"):
                    continue
                if name == "__global_pointer$":
                    self.gp = s["st_value"]
                if name.startswith(("$x", "$d")):
                    if isinstance(shndx, int):
                        self.mapping.setdefault(shndx, []).append((s["st_value"], name[1]))
                    continue
                if name == ".L0 ":          # the assembler's fake labels: never shown
                    continue
                name = re.sub(r"[\x00-\x1f\x7f]", _caret, name)    # objdump's sanitising
                self.syms.append(_Sym(name, s["st_value"], shndx, kind, bind))
        self.syms.sort(key=lambda s: s.key)
        self.values = [s.value for s in self.syms]
        for marks in self.mapping.values():
            marks.sort()

    def find(self, vma: int, sec_index: int, sec_start: int, sec_end: int, require_sec=False):
        """The symbol objdump names an address after, or None (objdump's rules: the nearest
        symbol at or below the address, preferring the current section; in relocatable files
        only symbols of the current section count for addresses inside it)."""
        syms = self.syms
        if not syms:
            return None
        hi = bisect.bisect_right(self.values, vma)
        place = hi - 1 if hi > 0 else 0
        value = syms[place].value
        while place > 0 and syms[place - 1].value == value:
            place -= 1
        first = place
        i = first
        while i < len(syms) and syms[i].value == value:
            if syms[i].shndx == sec_index:
                return syms[i]
            i += 1
        want_section = require_sec or (self.relocatable and sec_start <= vma < sec_end)
        if want_section and syms[place].shndx != sec_index:
            newplace = None
            for j in range(first - 1, -1, -1):
                if syms[j].shndx == sec_index:
                    if newplace is not None and syms[j].value != syms[newplace].value:
                        break
                    newplace = j
            if newplace is None:
                newplace = next((j for j in range(place + 1, len(syms))
                                 if syms[j].shndx == sec_index), None)
            if newplace is None:
                return None
            place = newplace
        return syms[place]


def _label(vma: int, sym, section_name: str, section_start: int) -> str:
    if sym is None:
        base_name, base = section_name, section_start
    else:
        base_name, base = sym.name, sym.value
    if vma == base:
        return base_name
    if vma < base:
        return f"{base_name}-0x{base - vma:x}"
    return f"{base_name}+0x{vma - base:x}"


def disassemble_elf(path) -> str:
    """The text `riscv64-unknown-elf-objdump -d path` prints for an ELF file."""
    try:
        from elftools.elf.elffile import ELFFile
        from elftools.common.exceptions import ELFError
    except ImportError as e:                                  # pragma: no cover
        raise RuntimeError("disassembly needs pyelftools") from e

    def input_error(msg):
        from ..errors import GuestInputError
        return GuestInputError(f"{path}: {msg}")

    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise input_error(f"cannot read file ({e.strerror or e})") from None
    if data[:4] != b"\x7fELF":
        raise input_error("not an ELF file")
    import io
    try:
        elf = ELFFile(io.BytesIO(data))
        if elf["e_machine"] != "EM_RISCV":
            raise input_error(f"not a RISC-V ELF file (machine {elf['e_machine']})")
        if elf.elfclass != 64 or not elf.little_endian:
            raise input_error("not a 64-bit little-endian RISC-V ELF file")
        symbols = ElfSymbols(elf)
        sections = [(i, s.name, s["sh_addr"], s.data()) for i, s in enumerate(elf.iter_sections())
                    if s["sh_flags"] & 0x4 and s["sh_type"] != "SHT_NOBITS" and s["sh_size"]]
    except (ELFError, ValueError, KeyError, IndexError, OSError) as e:
        raise input_error(f"malformed ELF file ({e})") from None

    out = [f"\n{path}:     file format elf64-littleriscv\n\n"]
    tracker = AddressTracker(symbols.gp)
    state = {"bpc": 0}
    for index, name, start, content in sections:
        out.append(f"\nDisassembly of section {name}:\n")
        _disassemble_section(out, symbols, tracker, state, index, name, start, content)
    return "".join(out)


def _disassemble_section(out, symbols: ElfSymbols, tracker, state, index, name, start, content):
    end = start + len(content)
    # How many leading hex digits of 16 objdump drops from addresses (whole groups of 4 zeros,
    # always leaving at least one zero)
    text = f"{end:016x}"
    zeros = len(text) - len(text.lstrip("0"))
    if zeros == len(text) and start != 0:
        zeros = 0
    skip = (zeros - 1) & ~3 if zeros else 0

    def addr_col(vma):
        s = f"{vma:016x}"[skip:]
        stripped = s.lstrip("0") or "0"
        return " " * (len(s) - len(stripped)) + stripped

    def symbolizer(vma):
        return _label(vma, symbols.find(vma, index, start, end), name, start)

    in_section = [s for s in symbols.syms if s.shndx == index and start <= s.value < end]
    marks = symbols.mapping.get(index, [])
    mark_addrs = [a for a, _ in marks]

    def map_state(vma):
        i = bisect.bisect_right(mark_addrs, vma) - 1
        return marks[i][1] if i >= 0 else _MAP_INSN

    def data_length(vma):
        length = 4
        i = bisect.bisect_right(mark_addrs, vma)
        limit = mark_addrs[i] if i < len(mark_addrs) else end
        length = min(length, limit - vma)
        return 2 if length == 3 else length

    # chunk boundaries: the section start and every symbol address in it
    bounds = sorted({start} | {s.value for s in in_section})
    for n, chunk_start in enumerate(bounds):
        chunk_end = bounds[n + 1] if n + 1 < len(bounds) else end
        sym = symbols.find(chunk_start, index, start, end, require_sec=True)
        out.append(f"\n{chunk_start:016x} <{_label(chunk_start, sym, name, start)}>:\n")
        insns = sym is None or sym.value != chunk_start or sym.kind != "STT_OBJECT"
        vma = chunk_start
        while vma < chunk_end:
            off = vma - start
            # runs of zeros
            z = off
            stop = chunk_end - start
            while z < stop and content[z] == 0:
                z += 1
            run = z - off
            if run >= SKIP_ZEROES or (z == stop and 0 < run < SKIP_ZEROES_AT_END):
                if z != stop:
                    run &= ~3
                out.append("\t...\n")
                vma += run
                continue
            if not insns:
                n_bytes = min(16, chunk_end - vma)
                chunk = content[off:off + n_bytes]
                bpc = state["bpc"] or 1          # chunk size left by the last instruction
                hex_text = "".join(
                    (chunk[j:j + bpc][::-1].hex() if j + bpc <= n_bytes else "") + " "
                    for j in range(0, n_bytes, bpc))
                hex_text += ("  " * bpc + " ") * -(-(16 - n_bytes) // bpc)
                ascii_text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
                out.append(f"{addr_col(vma)}:\t{hex_text}    {ascii_text}\n")
                vma += n_bytes
                continue
            if map_state(vma) == _MAP_DATA:
                length = min(data_length(vma), chunk_end - vma)
                value = int.from_bytes(content[off:off + length], "little")
                directive = {1: ".byte", 2: ".short", 4: ".word", 8: ".dword"}[length]
                raw_text = f"0x{value:0{2 * length}x}"
                state["bpc"] = length
                out.append(f"{addr_col(vma)}:\t{_bytes_col(value, length)}\t{directive}\t{raw_text}\n")
                vma += length
                continue
            low = int.from_bytes(content[off:off + 2], "little") if off + 2 <= len(content) else None
            if low is None:
                length = 1
                value = content[off]
                text = f".byte\t0x{value:02x}"
            else:
                length = insn_length(low)
                if off + length > len(content):
                    length = 2
                value = int.from_bytes(content[off:off + length], "little")
                length, text = disassemble_word(value, vma, symbolizer, tracker) if length <= 4 \
                    else (length, format_illegal(value, length))
            state["bpc"] = 4 if length % 4 == 0 else 2
            out.append(f"{addr_col(vma)}:\t{_bytes_col(value, length)}\t{text}\n")
            vma += length


def _bytes_col(value: int, length: int) -> str:
    """objdump's raw-bytes column: the instruction as 16-bit or 32-bit little-endian chunks,
    padded to the width of 8 bytes."""
    if length == 1:                     # a lone data byte (objdump's own spacing)
        return f"{value & 0xFF:02x}" + " " * 16
    chunk = 4 if length % 4 == 0 else 2
    parts = []
    for i in range(0, length, chunk):
        parts.append(f"{(value >> (8 * i)) & ((1 << (8 * chunk)) - 1):0{2 * chunk}x}")
    text = " ".join(parts) + " "
    pad_chunks = max(0, 8 - length) // chunk
    text += ("  " * chunk + " ") * pad_chunks
    return text
