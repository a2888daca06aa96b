"""Lifting: guest instructions -> rvjit IR, by running each instruction's semantics on a Builder."""
from ..ir.builder import Builder, ILLEGAL
from .decode import decode, insn_length

MAX_BLOCK_INSNS = 64
PAGE = 4096


class IllegalInsn:
    """Stands in for an undecodable instruction: its 'semantics' raise illegal-instruction."""
    name = "(illegal)"

    def __init__(self, raw, pc, length):
        self.raw, self.pc, self.length = raw, pc, length
        self.next_pc = pc + length
        self.fields = {}
        self.cdef = None


def lift_insn(b: Builder, insn):
    b.begin(insn)
    if isinstance(insn, IllegalInsn):
        b.trap(ILLEGAL, insn.raw)
    else:
        insn.defn.semantics(b, insn)


def decode_at(fetch, pc):
    """Decode one instruction; fetch(addr, n) returns n bytes or None if not fetchable."""
    low = fetch(pc, 2)
    if low is None:
        return None
    half = int.from_bytes(low, "little")
    length = insn_length(half)
    raw = half
    if length == 4:
        high = fetch(pc + 2, 2)
        if high is None:
            return None
        raw |= int.from_bytes(high, "little") << 16
    return decode(raw, pc) or IllegalInsn(raw, pc, length)


def lift_block(fetch, pc: int, max_insns: int = MAX_BLOCK_INSNS) -> Builder:
    """Lift instructions from pc until a control transfer, a block-ending instruction, the end of
    the page, or max_insns. The caller handles a fetch fault on the first instruction."""
    b = Builder(pc)
    cur = pc
    while True:
        insn = decode_at(fetch, cur)
        if insn is None:                # fetch fault: end before it, the next block traps there
            b.goto(cur)
            break
        lift_insn(b, insn)
        if b.ended:
            break
        cur = insn.next_pc
        # Stay within one page so a block depends on (at most) the page it starts in, plus the
        # next one when its last instruction straddles the boundary.
        if b.ends_block or len(b.insns) >= max_insns or (cur ^ pc) >= PAGE:
            b.goto(cur)
            break
    return b
