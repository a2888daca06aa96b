"""Rules shared by the F and D extensions, written once (unprivileged spec chapters 11-12 ("F", "D"),
privileged spec 3.1.6.6 (mstatus.FS)).

- Every F/D instruction raises illegal-instruction while mstatus.FS is Off.
- An instruction that writes an f register or may raise flags marks the FP state Dirty
  (FS = 3 and SD = 1). The spec allows Dirty to be set whenever the state *could* change, so
  instructions that may raise flags are marked even when they raise none.
- The rm field: 0-4 are static modes, 7 (DYN) reads frm; 5, 6 and a DYN read of frm >= 5 are
  illegal. Instructions whose result does not depend on rounding (fcvt.d.s, fcvt.d.w ...) still
  validate rm: the spec says to "treat the rm field as usual" for legal vs reserved encodings.
- Singles live NaN-boxed in 64-bit registers: reads of an improperly boxed value see the
  canonical NaN; writes set the upper 32 bits. Transfers (flw/fsw/fmv) move raw bits instead.

The instruction factories below are used by f.py and d.py, which list the instructions with their
exact encodings. Each factory emits: FS check -> rm check -> operands -> primitive -> Dirty -> write.
Every trap (FS, rm, memory) comes before the first architectural effect, so a trapping instruction
leaves no trace; the primitive's flags are accrued only when nothing can trap any more.
"""
from dataclasses import dataclass

from .spec import insn

MSTATUS_FS = 3 << 13            # 0 Off, 1 Initial, 2 Clean, 3 Dirty
MSTATUS_FS_DIRTY = 3 << 13
MSTATUS_SD = 1 << 63            # summary: some extension state is Dirty

RM_DYN = 7
# Rounding-mode names as the assembler spells them (None: reserved encoding)
ROUNDING_MODE_NAMES = ("rne", "rtz", "rdn", "rup", "rmm", None, None, "dyn")

NAN_BOX = 0xFFFF_FFFF_0000_0000
CANONICAL_NAN_S = 0x7FC0_0000
CANONICAL_NAN_D = 0x7FF8_0000_0000_0000

OP_FP = "1010011"

# Which operand fields of each F/D instruction name f registers (the rest are x registers);
# the disassembler needs this to print "fa0" rather than "a0".
FP_REGISTER_FIELDS: dict[str, tuple[str, ...]] = {}


# --- the shared rules ------------------------------------------------------------------------
def require_fp(b):
    """Trap illegal-instruction if mstatus.FS is Off. Returns mstatus for mark_dirty."""
    mstatus = b.get("mstatus")
    b.illegal_if((mstatus & MSTATUS_FS).eq(0))
    return mstatus


def mark_dirty(b, mstatus):
    b.set("mstatus", mstatus | MSTATUS_FS_DIRTY | MSTATUS_SD)


def rounding_mode(b, rm: int):
    """The rounding mode an instruction with rm field `rm` uses (a constant, or frm's value)."""
    if rm == RM_DYN:
        frm = b.get("frm")
        b.illegal_if(frm.geu(5))
        return frm
    if rm >= 5:
        b.illegal()
        return 0
    return rm


def unbox_s(b, bits):
    """The single held in a 64-bit register: the low half if properly NaN-boxed, else canonical NaN."""
    return b.select(b.value(bits).geu(NAN_BOX), bits & 0xFFFF_FFFF, CANONICAL_NAN_S)


def box_s(bits):
    return bits | NAN_BOX


@dataclass(frozen=True)
class Precision:
    """What differs between S and D: the fmt field, width, sign bit and how registers hold values."""
    suffix: str         # "s" or "d"
    fmt: str            # the 2-bit fmt field of OP-FP and fused encodings
    width: int
    ext: str

    @property
    def sign(self) -> int:
        return 1 << (self.width - 1)

    def read(self, b, n):
        bits = b.rf(n)
        return unbox_s(b, bits) if self.width == 32 else bits

    def write(self, b, n, v):
        b.wf(n, box_s(v) if self.width == 32 else v)


SINGLE = Precision("s", "00", 32, "f")
DOUBLE = Precision("d", "01", 64, "d")


def _register(name, pattern, fmt, asm, ext, fregs):
    FP_REGISTER_FIELDS[name] = fregs
    return insn(name, pattern, fmt, asm, ext=ext)


# --- instruction shapes ----------------------------------------------------------------------
def load(p: Precision, name: str, f3: str):
    """flw/fld: a transfer, so the loaded bits are kept as they are (a single is only NaN-boxed)."""
    @_register(name, f"............ ..... {f3} ..... 0000111", "I", "rd, imm(rs1)", p.ext, ("rd",))
    def sem(b, i):
        mstatus = require_fp(b)
        value = b.load(b.rx(i.rs1) + i.imm, p.width // 8)
        mark_dirty(b, mstatus)
        p.write(b, i.rd, value)


def store(p: Precision, name: str, f3: str):
    """fsw/fsd: a transfer, so fsw stores the low 32 bits whether or not they are boxed."""
    @_register(name, f"....... ..... ..... {f3} ..... 0100111", "S", "rs2, imm(rs1)", p.ext, ("rs2",))
    def sem(b, i):
        require_fp(b)
        b.store(b.rx(i.rs1) + i.imm, b.rf(i.rs2), p.width // 8)


def fused(p: Precision, name: str, opcode: str, negate_product: bool, negate_addend: bool):
    """The four fused multiply-adds are one primitive, fma(a, b, c) = a*b + c, with input signs
    flipped: negating an input is exact, so the single rounding and the flags are unchanged."""
    prim = f"fma_{p.suffix}"

    @_register(name, f"..... {p.fmt} ..... ..... ... ..... {opcode}", "R4", "rd, rs1, rs2, rs3",
               p.ext, ("rd", "rs1", "rs2", "rs3"))
    def sem(b, i):
        mstatus = require_fp(b)
        rm = rounding_mode(b, i.rm)
        a, c, addend = p.read(b, i.rs1), p.read(b, i.rs2), p.read(b, i.rs3)
        if negate_product:
            a = a ^ p.sign
        if negate_addend:
            addend = addend ^ p.sign
        result = b.fp(prim, a, c, addend, rm)
        mark_dirty(b, mstatus)
        p.write(b, i.rd, result)


def arith(p: Precision, name: str, funct5: str, prim: str):
    """Binary arithmetic rounded by rm: fadd fsub fmul fdiv."""
    @_register(name, f"{funct5} {p.fmt} ..... ..... ... ..... {OP_FP}", "RM", "rd, rs1, rs2",
               p.ext, ("rd", "rs1", "rs2"))
    def sem(b, i):
        mstatus = require_fp(b)
        rm = rounding_mode(b, i.rm)
        result = b.fp(prim, p.read(b, i.rs1), p.read(b, i.rs2), 0, rm)
        mark_dirty(b, mstatus)
        p.write(b, i.rd, result)


def convert(src: Precision | None, dst: Precision | None, name: str, funct5: str, rs2: str,
            prim: str):
    """A unary op with rm. None for src / dst means an integer register (fcvt to / from int);
    src == dst is fsqrt. rs2 is fixed bits that select the variant. The fmt field names the
    FP destination, or the FP source when the destination is an integer."""
    owner = dst or src
    ext = DOUBLE.ext if DOUBLE in (src, dst) else SINGLE.ext
    fregs = tuple(f for f, p in (("rd", dst), ("rs1", src)) if p is not None)

    @_register(name, f"{funct5} {owner.fmt} {rs2} ..... ... ..... {OP_FP}", "R1M", "rd, rs1",
               ext, fregs)
    def sem(b, i):
        mstatus = require_fp(b)
        rm = rounding_mode(b, i.rm)
        operand = src.read(b, i.rs1) if src is not None else b.rx(i.rs1)
        result = b.fp(prim, operand, 0, 0, rm)
        mark_dirty(b, mstatus)
        if dst is not None:
            dst.write(b, i.rd, result)
        else:
            b.wx(i.rd, result)


def sign_inject(p: Precision, name: str, f3: str, kind: str):
    """fsgnj/fsgnjn/fsgnjx: bit operations, no flags. Not a transfer, so singles are unboxed
    (an improperly boxed input reads as the canonical NaN)."""
    @_register(name, f"00100 {p.fmt} ..... ..... {f3} ..... {OP_FP}", "R", "rd, rs1, rs2",
               p.ext, ("rd", "rs1", "rs2"))
    def sem(b, i):
        mstatus = require_fp(b)
        a, c = p.read(b, i.rs1), p.read(b, i.rs2)
        if kind == "x":
            result = a ^ (c & p.sign)
        else:
            sign = c if kind == "" else ~c
            result = (a & (p.sign - 1)) | (sign & p.sign)
        mark_dirty(b, mstatus)
        p.write(b, i.rd, result)


def min_max(p: Precision, name: str, f3: str, prim: str):
    @_register(name, f"00101 {p.fmt} ..... ..... {f3} ..... {OP_FP}", "R", "rd, rs1, rs2",
               p.ext, ("rd", "rs1", "rs2"))
    def sem(b, i):
        mstatus = require_fp(b)
        result = b.fp(prim, p.read(b, i.rs1), p.read(b, i.rs2))
        mark_dirty(b, mstatus)      # invalid on a signalling NaN
        p.write(b, i.rd, result)


def compare(p: Precision, name: str, f3: str, prim: str):
    """feq/flt/fle write 0 or 1 to an x register; they may raise invalid, so they mark Dirty."""
    @_register(name, f"10100 {p.fmt} ..... ..... {f3} ..... {OP_FP}", "R", "rd, rs1, rs2",
               p.ext, ("rs1", "rs2"))
    def sem(b, i):
        mstatus = require_fp(b)
        result = b.fp(prim, p.read(b, i.rs1), p.read(b, i.rs2))
        mark_dirty(b, mstatus)
        b.wx(i.rd, result)


def classify(p: Precision, name: str):
    """fclass: writes an x register and never raises flags, so the FP state stays as it is."""
    @_register(name, f"11100 {p.fmt} 00000 ..... 001 ..... {OP_FP}", "R1", "rd, rs1",
               p.ext, ("rs1",))
    def sem(b, i):
        require_fp(b)
        b.wx(i.rd, b.fp(f"class_{p.suffix}", p.read(b, i.rs1)))


def move_to_int(p: Precision, name: str):
    """fmv.x.w / fmv.x.d: raw bits to an x register (fmv.x.w sign-extends the low 32 bits and
    ignores the boxing)."""
    @_register(name, f"11100 {p.fmt} 00000 ..... 000 ..... {OP_FP}", "R1", "rd, rs1",
               p.ext, ("rs1",))
    def sem(b, i):
        require_fp(b)
        bits = b.rf(i.rs1)
        b.wx(i.rd, bits.sext(32) if p.width == 32 else bits)


def move_from_int(p: Precision, name: str):
    """fmv.w.x / fmv.d.x: raw bits from an x register (fmv.w.x NaN-boxes the low 32 bits)."""
    @_register(name, f"11110 {p.fmt} 00000 ..... 000 ..... {OP_FP}", "R1", "rd, rs1",
               p.ext, ("rd",))
    def sem(b, i):
        mstatus = require_fp(b)
        bits = b.rx(i.rs1)
        mark_dirty(b, mstatus)
        p.write(b, i.rd, bits)        # a single is boxed on the way in
