"""C: compressed instructions for RV64 (unprivileged spec chapter 16), as expansions.

Each 16-bit form expands to the 32-bit instruction that has the same effect; its semantics are
those of that instruction. An expansion returns None for a reserved encoding (decodes as illegal).
HINT encodings expand to their (effect-free) 32-bit forms. The quadrant-0 funct3=100 slot and the
RV32-only c.jal are not defined here, so those encodings decode as illegal.

`asm` templates name the expanded instruction's fields in the order objdump prints the expansion
(e.g. c.mv a0,a1 prints "mv a0,a1").
"""
from .spec import cinsn, sext, bits

SP, RA = 2, 1


def _rd_prime(h):           # registers x8-x15 in the 3-bit fields
    return 8 + bits(h, 4, 2)


def _rs1_prime(h):
    return 8 + bits(h, 9, 7)


def _imm6(h):               # imm[5] at bit 12, imm[4:0] at bits 6:2
    return (bits(h, 12, 12) << 5) | bits(h, 6, 2)


def _rd(h):
    return bits(h, 11, 7)


def _rs2(h):
    return bits(h, 6, 2)


# Scaled offsets of the loads and stores (names give the field layout's element size)
def _uimm_ld_prime(h):      # c.ld/c.sd/c.fld/c.fsd: uimm[5:3] at 12:10, uimm[7:6] at 6:5
    return (bits(h, 12, 10) << 3) | (bits(h, 6, 5) << 6)


def _uimm_lw_prime(h):      # c.lw/c.sw: uimm[5:3] at 12:10, uimm[2] at 6, uimm[6] at 5
    return (bits(h, 12, 10) << 3) | (bits(h, 6, 6) << 2) | (bits(h, 5, 5) << 6)


def _uimm_ldsp(h):          # uimm[5] at 12, uimm[4:3] at 6:5, uimm[8:6] at 4:2
    return (bits(h, 12, 12) << 5) | (bits(h, 6, 5) << 3) | (bits(h, 4, 2) << 6)


def _uimm_lwsp(h):          # uimm[5] at 12, uimm[4:2] at 6:4, uimm[7:6] at 3:2
    return (bits(h, 12, 12) << 5) | (bits(h, 6, 4) << 2) | (bits(h, 3, 2) << 6)


def _uimm_sdsp(h):          # uimm[5:3] at 12:10, uimm[8:6] at 9:7
    return (bits(h, 12, 10) << 3) | (bits(h, 9, 7) << 6)


def _uimm_swsp(h):          # uimm[5:2] at 12:9, uimm[7:6] at 8:7
    return (bits(h, 12, 9) << 2) | (bits(h, 8, 7) << 6)


def _j_offset(h):           # offset[11|4|9:8|10|6|7|3:1|5] at bits 12:2
    return sext((bits(h, 12, 12) << 11) | (bits(h, 11, 11) << 4) | (bits(h, 10, 9) << 8)
                | (bits(h, 8, 8) << 10) | (bits(h, 7, 7) << 6) | (bits(h, 6, 6) << 7)
                | (bits(h, 5, 3) << 1) | (bits(h, 2, 2) << 5), 12)


def _b_offset(h):           # offset[8|4:3] at 12:10, offset[7:6|2:1|5] at 6:2
    return sext((bits(h, 12, 12) << 8) | (bits(h, 11, 10) << 3) | (bits(h, 6, 5) << 6)
                | (bits(h, 4, 3) << 1) | (bits(h, 2, 2) << 5), 9)


# ---- Quadrant 0 ------------------------------------------------------------------------------
@cinsn("c.addi4spn", "000 ........ ... 00", "rd, rs1, imm")
def c_addi4spn(h):
    imm = ((bits(h, 12, 11) << 4) | (bits(h, 10, 7) << 6) | (bits(h, 6, 6) << 2)
           | (bits(h, 5, 5) << 3))
    if imm == 0:            # reserved; this also makes the all-zero halfword illegal
        return None
    return "addi", {"rd": _rd_prime(h), "rs1": SP, "imm": imm}


def _load_prime(cname, f3, name, offset):
    @cinsn(cname, f"{f3} ... ... .. ... 00", "rd, imm(rs1)")
    def expand(h):
        return name, {"rd": _rd_prime(h), "rs1": _rs1_prime(h), "imm": offset(h)}


def _store_prime(cname, f3, name, offset):
    @cinsn(cname, f"{f3} ... ... .. ... 00", "rs2, imm(rs1)")
    def expand(h):
        return name, {"rs1": _rs1_prime(h), "rs2": _rd_prime(h), "imm": offset(h)}


_load_prime("c.fld", "001", "fld", _uimm_ld_prime)
_load_prime("c.lw", "010", "lw", _uimm_lw_prime)
_load_prime("c.ld", "011", "ld", _uimm_ld_prime)
_store_prime("c.fsd", "101", "fsd", _uimm_ld_prime)
_store_prime("c.sw", "110", "sw", _uimm_lw_prime)
_store_prime("c.sd", "111", "sd", _uimm_ld_prime)


# ---- Quadrant 1 ------------------------------------------------------------------------------
# c.nop is the one c.addi encoding objdump names separately; the decoder tries the more
# specific pattern first.
@cinsn("c.nop", "000 0 00000 00000 01", "")
def c_nop(h):
    return "addi", {"rd": 0, "rs1": 0, "imm": 0}


@cinsn("c.addi", "000 . ..... ..... 01", "rd, rs1, imm")
def c_addi(h):              # rd=0 or imm=0: HINTs, harmless as addi
    return "addi", {"rd": _rd(h), "rs1": _rd(h), "imm": sext(_imm6(h), 6)}


@cinsn("c.addiw", "001 . ..... ..... 01", "rd, rs1, imm")
def c_addiw(h):
    if _rd(h) == 0:
        return None
    return "addiw", {"rd": _rd(h), "rs1": _rd(h), "imm": sext(_imm6(h), 6)}


@cinsn("c.li", "010 . ..... ..... 01", "rd, imm")
def c_li(h):                # rd=0: HINT
    return "addi", {"rd": _rd(h), "rs1": 0, "imm": sext(_imm6(h), 6)}


@cinsn("c.addi16sp", "011 . 00010 ..... 01", "rd, rs1, imm")
def c_addi16sp(h):          # nzimm[9] at 12, nzimm[4|6|8:7|5] at 6:2
    imm = sext((bits(h, 12, 12) << 9) | (bits(h, 6, 6) << 4) | (bits(h, 5, 5) << 6)
               | (bits(h, 4, 3) << 7) | (bits(h, 2, 2) << 5), 10)
    if imm == 0:
        return None
    return "addi", {"rd": SP, "rs1": SP, "imm": imm}


@cinsn("c.lui", "011 . ..... ..... 01", "rd, imm")
def c_lui(h):               # nzimm=0 reserved (any rd); rd=0 HINT; rd=2 is c.addi16sp
    if _imm6(h) == 0:
        return None
    return "lui", {"rd": _rd(h), "imm": sext(_imm6(h) << 12, 18)}


def _shift(cname, pattern, name):
    # RV64: shamt[5] (bit 12) is part of the amount; shamt=0 is a HINT (shift by 0)
    @cinsn(cname, pattern, "rd, rs1, imm")
    def expand(h):
        reg = _rd(h) if cname == "c.slli" else _rs1_prime(h)
        return name, {"rd": reg, "rs1": reg, "imm": _imm6(h)}


_shift("c.srli", "100 . 00 ... ..... 01", "srli")
_shift("c.srai", "100 . 01 ... ..... 01", "srai")


@cinsn("c.andi", "100 . 10 ... ..... 01", "rd, rs1, imm")
def c_andi(h):
    return "andi", {"rd": _rs1_prime(h), "rs1": _rs1_prime(h), "imm": sext(_imm6(h), 6)}


def _alu(cname, bit12, f2, name):
    @cinsn(cname, f"100 {bit12} 11 ... {f2} ... 01", "rd, rs1, rs2")
    def expand(h):
        return name, {"rd": _rs1_prime(h), "rs1": _rs1_prime(h), "rs2": _rd_prime(h)}


_alu("c.sub", "0", "00", "sub")
_alu("c.xor", "0", "01", "xor")
_alu("c.or", "0", "10", "or")
_alu("c.and", "0", "11", "and")
_alu("c.subw", "1", "00", "subw")
_alu("c.addw", "1", "01", "addw")       # bit12=1 with 10/11 is reserved: no definition


@cinsn("c.j", "101 ........... 01", "imm")
def c_j(h):
    return "jal", {"rd": 0, "imm": _j_offset(h)}


@cinsn("c.beqz", "110 ... ... ..... 01", "rs1, imm")
def c_beqz(h):
    return "beq", {"rs1": _rs1_prime(h), "rs2": 0, "imm": _b_offset(h)}


@cinsn("c.bnez", "111 ... ... ..... 01", "rs1, imm")
def c_bnez(h):
    return "bne", {"rs1": _rs1_prime(h), "rs2": 0, "imm": _b_offset(h)}


# ---- Quadrant 2 ------------------------------------------------------------------------------
_shift("c.slli", "000 . ..... ..... 10", "slli")      # rd=0 is a HINT


def _load_sp(cname, f3, name, offset, rd_zero_reserved):
    @cinsn(cname, f"{f3} . ..... ..... 10", "rd, imm(rs1)")
    def expand(h):
        if rd_zero_reserved and _rd(h) == 0:
            return None
        return name, {"rd": _rd(h), "rs1": SP, "imm": offset(h)}


def _store_sp(cname, f3, name, offset):
    @cinsn(cname, f"{f3} ...... ..... 10", "rs2, imm(rs1)")
    def expand(h):
        return name, {"rs1": SP, "rs2": _rs2(h), "imm": offset(h)}


_load_sp("c.fldsp", "001", "fld", _uimm_ldsp, False)
_load_sp("c.lwsp", "010", "lw", _uimm_lwsp, True)
_load_sp("c.ldsp", "011", "ld", _uimm_ldsp, True)
_store_sp("c.fsdsp", "101", "fsd", _uimm_sdsp)
_store_sp("c.swsp", "110", "sw", _uimm_swsp)
_store_sp("c.sdsp", "111", "sd", _uimm_sdsp)


# funct4 100x: rs2=0 selects the jumps, rs1=rs2=0 with bit 12 set is c.ebreak; the decoder
# tries these more specific patterns before c.mv / c.add.
@cinsn("c.jr", "1000 ..... 00000 10", "rs1")
def c_jr(h):
    if _rd(h) == 0:
        return None
    return "jalr", {"rd": 0, "rs1": _rd(h), "imm": 0}


@cinsn("c.mv", "1000 ..... ..... 10", "rd, rs2")
def c_mv(h):                # rd=0: HINT
    return "add", {"rd": _rd(h), "rs1": 0, "rs2": _rs2(h)}


@cinsn("c.ebreak", "1001 00000 00000 10", "")
def c_ebreak(h):
    return "ebreak", {}


@cinsn("c.jalr", "1001 ..... 00000 10", "rs1")
def c_jalr(h):
    return "jalr", {"rd": RA, "rs1": _rd(h), "imm": 0}


@cinsn("c.add", "1001 ..... ..... 10", "rd, rs1, rs2")
def c_add(h):               # rd=0: HINT
    return "add", {"rd": _rd(h), "rs1": _rd(h), "rs2": _rs2(h)}
