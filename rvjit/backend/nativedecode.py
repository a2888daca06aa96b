"""Decoding instruction words in native code, generated from the instruction table (rvjit.isa).

The block scanner's hash table holds the words Python has worked out (threaded.word_info); a word
it lacked used to come back to Python, ~16 us each, and a kernel boot meets some 90,000. For a
definition whose handler reads its operands from the record, a word's record template is a plain
function of the word: which definition matches first (the decoder's masks, in its order), the
format's fields, and the definition's handler. This module generates that function as IR:

- a 32-bit word is matched against frontend.decode's table, switched on its opcode; its fields
  are bit gathers worked out by probing isa.spec's extractors one bit at a time (not written a
  second time), checked against the extractors on sample words;
- a 16-bit word's expansion is arbitrary Python (isa/c.py), so the Python decoder is run over
  every halfword of its quadrant and funct3 (2,048 words, ~8 ms) the first time Python meets one,
  and the results are a table the generated code reads; each group is kept in the handler
  library (it depends on rvjit alone).

The generated code gives up (and Python learns the word as before) for illegal words, for
definitions whose handler is not compiled yet and for those with handlers of their own per word
(CSR accesses, the FP rounding-mode checks): DecodeTables holds a handler only for a
definition whose handler is symbolic and compiled.
"""
from __future__ import annotations

import random

import numpy as np

from ..frontend.decode import BY_OPCODE32, decode, op16
from ..isa import INSTRUCTIONS
from ..isa.spec import FIELD_EXTRACTORS, FORMATS
from ..ir.ops import MASK64
from . import objcache
from .handlergen import BYTE_OPERANDS, RECORD, field_layout
from .llvmconst import c64

DECODE_FN = "rvjit_decode_word"
DEFINITION_INDEX = {d.name: i for i, d in enumerate(INSTRUCTIONS)}
TAIL_OFFSET = field_layout("rd")[0]            # the record's bytes after raw: operands, length, csr
TAIL_BYTES = RECORD.itemsize - TAIL_OFFSET
# A compressed halfword: its operands as a record tail, its definition's index + 1 (0: Python's)
COMPRESSED = np.dtype([("imm", "<u8"), ("definition", "<u4"), ("pad", "<u4"), ("tail", "u1", (TAIL_BYTES,))])
DEFINITION = np.dtype([("handler", "<u8"), ("meta", "<u8")])
GROUPS = 32                                     # decode.op16: quadrant (2 bits) and funct3 (3 bits)
ENTRY_META, ENTRY_RECORD = 8, 16               # offsets in a scanner table entry (blockscan.ENTRY)


def _group_halfwords(group: int) -> range:
    """The halfwords whose decode.op16 is group."""
    base = (group & 3) | ((group >> 2) << 13)
    return range(base, base + (1 << 13), 4)     # bits 2..12 free


def gather_terms(extract) -> list[tuple[int, int]]:
    """An extractor as (source bit, bits of the 64-bit result it sets): every field of a RISC-V
    word is its bits moved, the top one possibly copied upwards (sign extension)."""
    if extract(0) & MASK64:
        raise ValueError("an extractor of a zero word must give 0")
    terms = [(i, extract(1 << i) & MASK64) for i in range(32)]
    terms = [(i, m) for i, m in terms if m]
    sample = random.Random(1)
    for word in [0xFFFFFFFF] + [sample.getrandbits(32) for _ in range(64)]:
        got = 0
        for i, m in terms:
            if word >> i & 1:
                got |= m
        if got != extract(word) & MASK64:
            raise ValueError("extractor is not a gather of bits")
    return terms


class _Ir:
    """Numbered temporaries and lines of IR."""

    def __init__(self):
        self.lines: list[str] = []
        self.n = 0

    def t(self) -> str:
        self.n += 1
        return f"%t{self.n}"

    def op(self, text: str) -> str:
        name = self.t()
        self.lines.append(f"  {name} = {text}")
        return name

    def emit(self, text: str):
        self.lines.append(text)


def _gather_ir(ir: _Ir, word: str, terms) -> str:
    """IR computing an extractor (gather_terms) of the i64 word: bits moved by the same distance
    are one mask and one shift; a bit copied to several is negated and masked."""
    by_shift: dict[int, int] = {}
    spread = []
    for i, m in terms:
        if m & (m - 1):
            spread.append((i, m))
        else:
            shift = m.bit_length() - 1 - i
            by_shift[shift] = by_shift.get(shift, 0) | 1 << i
    parts = []
    for shift, mask in sorted(by_shift.items()):
        picked = ir.op(f"and i64 {word}, {c64(mask)}")
        if shift:
            picked = ir.op(f"{'shl' if shift > 0 else 'lshr'} i64 {picked}, {abs(shift)}")
        parts.append(picked)
    for i, m in spread:
        bit = ir.op(f"and i64 {ir.op(f'lshr i64 {word}, {i}')}, 1")
        parts.append(ir.op(f"and i64 {ir.op(f'sub i64 0, {bit}')}, {c64(m)}"))
    if not parts:
        return "0"
    value = parts[0]
    for p in parts[1:]:
        value = ir.op(f"or i64 {value}, {p}")
    return value


def _store(ir: _Ir, ty: str, value: str, base: str, offset: int):
    p = ir.op(f"getelementptr i8, ptr {base}, i64 {offset}")
    ir.emit(f"  store {ty} {value}, ptr {p}")


def decoder_ir() -> str:
    """i1 @rvjit_decode_word(ptr %dest, i64 %word, ptr %defs, ptr %compressed): fills the
    scanner table entry at %dest (meta and record template) for %word and returns 1, or
    returns 0 (Python must learn the word)."""
    ir = _Ir()
    rec = ENTRY_RECORD
    off = {name: field_layout(name)[0] for name in RECORD.names}
    terms = {key: gather_terms(fn) for key, fn in FIELD_EXTRACTORS.items()}
    ir.emit("entry:")
    quad = ir.op("and i64 %word, 3")
    wide = ir.op(f"icmp eq i64 {quad}, 3")
    ir.emit(f"  br i1 {wide}, label %wide, label %half")
    # a compressed word: its row of the table
    ir.emit("half:")
    h = ir.op("and i64 %word, 65535")
    row = ir.op(f"getelementptr i8, ptr %compressed, i64 {ir.op(f'mul i64 {h}, {COMPRESSED.itemsize}')}")
    def_p = ir.op(f"getelementptr i8, ptr {row}, i64 {COMPRESSED.fields['definition'][1]}")
    plus1 = ir.op(f"zext i32 {ir.op(f'load i32, ptr {def_p}')} to i64")
    known = ir.op(f"icmp ne i64 {plus1}, 0")
    ir.emit(f"  br i1 {known}, label %half_known, label %fail")
    ir.emit("half_known:")
    half_def = ir.op(f"sub i64 {plus1}, 1")
    half_imm = ir.op(f"load i64, ptr {row}")
    tail_src = ir.op(f"getelementptr i8, ptr {row}, i64 {COMPRESSED.fields['tail'][1]}")
    tail_dst = ir.op(f"getelementptr i8, ptr %dest, i64 {rec + TAIL_OFFSET}")
    ir.emit(f"  call void @llvm.memcpy.p0.p0.i64(ptr {tail_dst}, ptr {tail_src}, i64 {TAIL_BYTES}, i1 false)")
    ir.emit("  br label %have")
    incoming = [(half_def, half_imm, "2", h, "%half_known")]
    # a 32-bit word: its opcode's definitions, most specific first (as frontend.decode)
    ir.emit("wide:")
    w = ir.op("and i64 %word, 4294967295")
    opcode = ir.op(f"and i64 {w}, 127")
    ir.emit(f"  switch i64 {opcode}, label %fail [" + " ".join(
        f"i64 {op}, label %op{op}" for op in sorted(BY_OPCODE32)) + "]")
    formats: dict[str, list[tuple[int, str]]] = {}
    for op in sorted(BY_OPCODE32):
        defs = BY_OPCODE32[op]
        for k, d in enumerate(defs):
            ir.emit(f"op{op}{'' if k == 0 else f'.{k}'}:")
            masked = ir.op(f"and i64 {w}, {d.mask}")
            hit = ir.op(f"icmp eq i64 {masked}, {d.match}")
            miss = f"%op{op}.{k + 1}" if k + 1 < len(defs) else "%fail"
            ir.emit(f"  br i1 {hit}, label %def{DEFINITION_INDEX[d.name]}, label {miss}")
            ir.emit(f"def{DEFINITION_INDEX[d.name]}:")
            ir.emit(f"  br label %fmt.{d.fmt}")
            formats.setdefault(d.fmt, []).append((DEFINITION_INDEX[d.name], f"%def{DEFINITION_INDEX[d.name]}"))
    for fmt, sources in formats.items():
        ir.emit(f"fmt.{fmt}:")
        index = ir.op("phi i64 " + ", ".join(f"[{i}, {label}]" for i, label in sources))
        fields = {name: _gather_ir(ir, w, terms[key]) for name, key in FORMATS[fmt]}
        for name in BYTE_OPERANDS:
            _store(ir, "i8", ir.op(f"trunc i64 {fields[name]} to i8") if name in fields else "0",
                   "%dest", rec + off[name])
        _store(ir, "i16", ir.op(f"trunc i64 {fields['csr']} to i16") if "csr" in fields else "0",
               "%dest", rec + off["csr"])
        _store(ir, "i32", "0", "%dest", rec + off["pad1"])
        ir.emit("  br label %have")
        incoming.append((index, fields.get("imm", "0"), "4", w, f"%fmt.{fmt}"))
    # the definition's handler (none: Python learns the word)
    ir.emit("have:")
    phi = [ir.op(f"phi i64 " + ", ".join(f"[{src[j]}, {src[4]}]" for src in incoming)) for j in range(4)]
    index, imm, length, raw = phi
    dp = ir.op(f"getelementptr i8, ptr %defs, i64 {ir.op(f'mul i64 {index}, {DEFINITION.itemsize}')}")
    handler = ir.op(f"load i64, ptr {dp}")
    ready = ir.op(f"icmp ne i64 {handler}, 0")
    ir.emit(f"  br i1 {ready}, label %fill, label %fail")
    ir.emit("fill:")
    meta = ir.op(f"load i64, ptr {ir.op(f'getelementptr i8, ptr {dp}, i64 8')}")
    _store(ir, "i64", ir.op(f"or i64 {meta}, {length}"), "%dest", ENTRY_META)
    for name, value in (("handler", handler), ("pc", "0"), ("next_pc", "0"), ("k", "0"), ("imm", imm), ("raw", raw)):
        _store(ir, "i64", value, "%dest", rec + off[name])
    _store(ir, "i8", ir.op(f"trunc i64 {length} to i8"), "%dest", rec + off["length"])
    ir.emit("  ret i1 1")
    ir.emit("fail:")
    ir.emit("  ret i1 0")
    return (f"define i1 @{DECODE_FN}(ptr noalias %dest, i64 %word, ptr noalias %defs, "
            f"ptr noalias %compressed) nounwind {{\n" + "\n".join(ir.lines) + "\n}\n")


def compressed_rows(group: int, operands) -> np.ndarray:
    """The table rows of a group's halfwords, from the Python decoder; operands(insn, length) ->
    (record tail bytes, imm) as threaded packs them."""
    halves = _group_halfwords(group)
    rows = np.zeros(len(halves), dtype=COMPRESSED)
    for n, half in enumerate(halves):
        insn = decode(half, 0)
        if insn is None:
            continue                    # illegal: Python's
        tail, imm = operands(insn, 2)
        rows[n]["imm"] = imm
        rows[n]["definition"] = DEFINITION_INDEX[insn.defn.name] + 1
        rows[n]["tail"] = np.frombuffer(tail, dtype=np.uint8)
    return rows


def _signature() -> str:
    return "rvjit compressed decode table 2 " + objcache.source_signature()


class DecodeTables:
    """What the generated decoder reads: a handler and meta per definition, and the compressed
    table, filled a group at a time as Python meets the groups' words (each group kept in the
    handler library once built: a run reads only the groups it needs)."""

    def __init__(self, operands, enabled: bool = True):
        """operands as compressed_rows's; enabled=False: the tables stay empty (every word is
        Python's, as before native decoding)."""
        self.operands, self.enabled = operands, enabled
        self.definitions = np.zeros(len(INSTRUCTIONS), dtype=DEFINITION)
        self.compressed = np.zeros(1 << 16, dtype=COMPRESSED)
        self.groups = 0                 # bit g: group g is in the table
        self.handlers_seen = -1
        self._waiting = dict(DEFINITION_INDEX)     # definitions without a handler in the table
        directory = objcache.library_directory() if enabled else None
        self._cache = objcache.ObjectCache(directory, _signature()) if directory else None

    def learn_compressed(self, half: int) -> bool:
        """Put the group of halfword `half` in the table; False if it was there already."""
        group = op16(half & 0xFFFF)
        if not self.enabled or self.groups >> group & 1:
            return False
        key = self._cache.key(f"compressed decode group {group}") if self._cache is not None else None
        payload = self._cache.load(key) if key is not None else None
        halves = _group_halfwords(group)
        if payload is not None and len(payload) == len(halves) * COMPRESSED.itemsize:
            rows = np.frombuffer(payload, dtype=COMPRESSED)
        else:
            rows = compressed_rows(group, self.operands)
            if key is not None:
                self._cache.store(key, rows.tobytes(), trim=False)
        self.compressed[list(halves)] = rows
        self.groups |= 1 << group
        return True

    def refresh(self, lib, meta_of) -> None:
        """Take the handlers lib has compiled since last asked: a definition's row gets its
        handler once it is symbolic and compiled; meta_of(key) -> its meta bits."""
        if not self.enabled or len(lib.addresses) == self.handlers_seen:
            return
        self.handlers_seen = len(lib.addresses)
        symbolic, addresses = lib.symbolic, lib.addresses
        for name, i in list(self._waiting.items()):
            ok = symbolic.get(name)
            if ok is False:                     # handlers per word: never in the table
                del self._waiting[name]
            elif ok and addresses.get(name):
                self.definitions[i] = (addresses[name], meta_of(name))
                del self._waiting[name]
