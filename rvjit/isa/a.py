"""A: atomic memory operations and LR/SC (unprivileged spec chapter 14).

One hart with sequentially consistent memory: aq/rl need no action, and a reservation is just the
reserved address in the hart field "resv" (all ones = no reservation).
"""
from .spec import insn
from ..ir.builder import LOAD_MISALIGNED, STORE_MISALIGNED

EXT = "a"
NO_RESERVATION = 0xFFFF_FFFF_FFFF_FFFF
_WIDTHS = (("w", "010", 4), ("d", "011", 8))


def _check_aligned(b, addr, size, cause):
    # atomics never split an access: a misaligned address traps before touching memory
    b.trap_if((addr & (size - 1)).ne(0), cause, addr)


def _lr(suffix, f3, size):
    @insn(f"lr.{suffix}", f"00010 . . 00000 ..... {f3} ..... 0101111", "A", "rd, (rs1)", ext=EXT)
    def sem(b, i):
        addr = b.rx(i.rs1)
        _check_aligned(b, addr, size, LOAD_MISALIGNED)
        value = b.load(addr, size, signed=True, kind="lr")
        b.set("resv", addr)
        b.wx(i.rd, value)


def _sc(suffix, f3, size):
    @insn(f"sc.{suffix}", f"00011 . . ..... ..... {f3} ..... 0101111", "A", "rd, rs2, (rs1)", ext=EXT)
    def sem(b, i):
        addr = b.rx(i.rs1)
        _check_aligned(b, addr, size, STORE_MISALIGNED)
        success = b.get("resv").eq(addr)
        b.store(addr, b.rx(i.rs2), size, cond=success)
        b.set("resv", NO_RESERVATION)        # any SC ends the reservation, failed or not
        b.wx(i.rd, success ^ 1)


def _amo(name, funct5, compute):
    for suffix, f3, size in _WIDTHS:
        _amo_width(f"{name}.{suffix}", funct5, f3, size, compute)


def _amo_width(name, funct5, f3, size, compute):
    @insn(name, f"{funct5} . . ..... ..... {f3} ..... 0101111", "A", "rd, rs2, (rs1)", ext=EXT)
    def sem(b, i):
        addr = b.rx(i.rs1)
        src = b.rx(i.rs2)
        _check_aligned(b, addr, size, STORE_MISALIGNED)
        old = b.load(addr, size, signed=True, kind="amo")   # .w: old is already sign-extended
        if size == 4:
            src = src.sext(32)                 # compare as 32-bit values; the store keeps 32 bits
        b.store(addr, compute(b, old, src, size), size)
        b.wx(i.rd, old)                        # last: a faulting store leaves rd untouched


def _low(v, size):
    return v.zext(32) if size == 4 else v


_amo("amoswap", "00001", lambda b, old, src, size: src)
_amo("amoadd", "00000", lambda b, old, src, size: old + src)
_amo("amoxor", "00100", lambda b, old, src, size: old ^ src)
_amo("amoand", "01100", lambda b, old, src, size: old & src)
_amo("amoor", "01000", lambda b, old, src, size: old | src)
_amo("amomin", "10000", lambda b, old, src, size: b.select(old.lt(src), old, src))
_amo("amomax", "10100", lambda b, old, src, size: b.select(old.lt(src), src, old))
_amo("amominu", "11000",
     lambda b, old, src, size: b.select(_low(old, size).ltu(_low(src, size)), old, src))
_amo("amomaxu", "11100",
     lambda b, old, src, size: b.select(_low(old, size).ltu(_low(src, size)), src, old))

for _suffix, _f3, _size in _WIDTHS:
    _lr(_suffix, _f3, _size)
    _sc(_suffix, _f3, _size)
