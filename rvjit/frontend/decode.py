"""Decoder generated from the instruction table in rvjit.isa."""
from ..isa import INSTRUCTIONS, COMPRESSED, BY_NAME
from ..isa.spec import FIELD_EXTRACTORS, FORMATS, Insn


def _index(defs, key):
    table: dict[int, list] = {}
    for d in defs:
        table.setdefault(key(d.match), []).append(d)
    for group in table.values():   # most specific pattern first
        group.sort(key=lambda d: -bin(d.mask).count("1"))
    return table


def _op32(w): return w & 0x7F
def op16(h): return (h & 3) | ((h >> 11) & 0x1C)   # a halfword's quadrant and funct3


BY_OPCODE32 = _index(INSTRUCTIONS, _op32)   # opcode -> its definitions, in matching order
_TABLE16 = _index(COMPRESSED, op16)


def decode_fields(defn, word: int) -> dict:
    return {name: FIELD_EXTRACTORS[key](word) for name, key in FORMATS[defn.fmt]}


_memo: dict[int, tuple] = {}


def decode(raw: int, pc: int) -> Insn | None:
    """Decode the instruction whose low bits are `raw` (32 bits available). None if illegal."""
    key = raw if raw & 3 == 3 else raw & 0xFFFF
    hit = _memo.get(key)
    if hit is None:
        insn = _decode(raw, pc)
        if len(_memo) < 1 << 18:
            _memo[key] = (insn.defn, insn.raw, insn.length, insn.fields, insn.cdef) if insn else False
        return insn
    if hit is False:
        return None
    defn, raw_bits, length, fields, cdef = hit
    return Insn(defn, raw_bits, pc, length, fields, cdef)


def _decode(raw: int, pc: int) -> Insn | None:
    if raw & 3 != 3:
        half = raw & 0xFFFF
        for d in _TABLE16.get(op16(half), ()):
            if half & d.mask == d.match:
                expanded = d.expand(half)
                if expanded is None:
                    return None
                name, fields = expanded
                return Insn(BY_NAME[name], half, pc, 2, fields, cdef=d)
        return None
    word = raw & 0xFFFFFFFF
    for d in BY_OPCODE32.get(_op32(word), ()):
        if word & d.mask == d.match:
            return Insn(d, word, pc, 4, decode_fields(d, word))
    return None


def insn_length(low_half: int) -> int:
    return 4 if low_half & 3 == 3 else 2
