"""Disassembly in the exact text of GNU objdump (binutils 2.40, `riscv64-unknown-elf-objdump -d`).

`format_insn` turns one decoded instruction into objdump's "mnemonic<TAB>operands" text (a tab,
as objdump prints it: `.expandtabs()` or replace it for other layouts), with the
aliases objdump prefers (li, mv, ret, sext.w, and for andi/ori/xori/addi/shift-immediates the
register-form names "and", "or", "add", "sll", ...), ABI register names, CSR names, rounding-mode
suffixes only when not dynamic, and branch targets as absolute hex addresses.

The names it prints are in asmnames, the address comments in disasm_addr, the CSR and
compressed pseudo-instruction forms in disasm_pseudo; `disassemble_elf` (disasm_listing)
produces the whole `objdump -d` listing of an ELF file's executable sections.

The alias choices below are facts about objdump's output, checked instruction by instruction
against objdump itself by tests/test_disasm.py; none of objdump's code is reused.
"""
from __future__ import annotations

from .asmnames import FREG, RM_DYN, ROUNDING, X_RA, XREG, operand_reg
from .decode import decode
from .disasm_addr import MASK64, AddressTracker, InsnText, note_address, target_text
from .disasm_pseudo import format_compressed, format_csr

# Integer <-> FP conversions objdump only knows with rm=0 (exact conversions that take no
# rounding mode operand in binutils 2.40): any other rm value is not an instruction to it.
_RM_ZERO_ONLY = {"fcvt.d.w", "fcvt.d.wu", "fcvt.d.s"}

# The immediate-operand forms objdump prints under the register-form mnemonic
_IMM_ALIAS = {"addi": "add", "andi": "and", "ori": "or", "xori": "xor",
              "addiw": "addw", "slli": "sll", "srli": "srl", "srai": "sra",
              "slliw": "sllw", "srliw": "srlw", "sraiw": "sraw"}
_SHIFT_ALIAS = {"rori": "ror", "roriw": "rorw", "bclri": "bclr", "bexti": "bext",
                "binvi": "binv", "bseti": "bset"}
_SHIFTS = {"slli", "srli", "srai", "slliw", "srliw", "sraiw", "slli.uw", "rori", "roriw",
           "bclri", "bexti", "binvi", "bseti"}


def _format(insn, symbolizer, tracker) -> InsnText:
    out = InsnText()
    name = insn.defn.name
    f = insn.fields
    cname = insn.cdef.name if insn.cdef is not None else None
    rd, rs1, rs2 = f.get("rd"), f.get("rs1"), f.get("rs2")
    imm = f.get("imm")
    ops = out.operands

    def m(mn, *operands):
        out.mnemonic = mn
        ops.extend(operands)
        return out

    if cname is not None:
        r = format_compressed(insn, cname, out, symbolizer, tracker)
        if r is not None:
            return r

    # ---- RV64I ----
    if name == "addi":
        if rd == 0 and rs1 == 0 and imm == 0:
            return m("nop")
        if rs1 == 0:
            return m("li", XREG[rd], str(imm))
        if imm == 0:
            return m("mv", XREG[rd], XREG[rs1])
        if rs1 != 0:
            note_address(tracker, out, rs1, imm)
        return m("add", XREG[rd], XREG[rs1], str(imm))
    if name == "addiw":
        if imm == 0:
            return m("sext.w", XREG[rd], XREG[rs1])
        if rs1 != 0:
            note_address(tracker, out, rs1, imm, wide=True)
        return m("addw", XREG[rd], XREG[rs1], str(imm))
    if name == "xori" and imm == -1:
        return m("not", XREG[rd], XREG[rs1])
    if name == "andi" and imm == 255:
        return m("zext.b", XREG[rd], XREG[rs1])
    if name == "sltiu" and imm == 1:
        return m("seqz", XREG[rd], XREG[rs1])
    if name in _IMM_ALIAS:
        text = f"0x{imm:x}" if name in _SHIFTS else str(imm)
        return m(_IMM_ALIAS[name], XREG[rd], XREG[rs1], text)
    if name in _SHIFT_ALIAS:
        return m(_SHIFT_ALIAS[name], XREG[rd], XREG[rs1], f"0x{imm:x}")
    if name in _SHIFTS:
        return m(name, XREG[rd], XREG[rs1], f"0x{imm:x}")
    if name == "sfence.vma" and rs2 == 0:
        return m(name, XREG[rs1]) if rs1 != 0 else m(name)
    if name in ("lui", "auipc"):
        if tracker is not None:
            tracker.hi[rd] = ((insn.pc if name == "auipc" else 0) + imm) & MASK64
        return m(name, XREG[rd], f"0x{(imm >> 12) & 0xFFFFF:x}")
    if name == "jal":
        target = target_text(insn.pc + imm, symbolizer)
        if rd == 0:
            return m("j", target)
        if rd == X_RA:
            return m("jal", target)
        return m("jal", XREG[rd], target)
    if name == "jalr":
        if rd == 0 and rs1 == X_RA and imm == 0:
            return m("ret")             # no operands, so no address comment either
        note_address(tracker, out, rs1, imm)
        if imm != 0:
            # objdump looks at the address once for the offset and again for the base register
            # of "offset(base)": the second look wins for tp/gp/zero bases
            note_address(tracker, out, rs1, imm)
        mem = XREG[rs1] if imm == 0 else f"{imm}({XREG[rs1]})"
        if rd == 0:
            return m("jr", mem)
        if rd == X_RA:
            return m("jalr", mem)
        return m("jalr", XREG[rd], mem)
    if insn.defn.fmt == "B":
        target = target_text(insn.pc + imm, symbolizer)
        if name in ("beq", "bne") and rs2 == 0:
            return m(name + "z", XREG[rs1], target)
        if name == "blt":
            if rs2 == 0:
                return m("bltz", XREG[rs1], target)
            if rs1 == 0:
                return m("bgtz", XREG[rs2], target)
        if name == "bge":               # blez is preferred when both are zero
            if rs1 == 0:
                return m("blez", XREG[rs2], target)
            if rs2 == 0:
                return m("bgez", XREG[rs1], target)
        return m(name, XREG[rs1], XREG[rs2], target)
    if name in ("sub", "subw") and rs1 == 0:
        return m("neg" if name == "sub" else "negw", XREG[rd], XREG[rs2])
    if name == "slt":
        if rs2 == 0:
            return m("sltz", XREG[rd], XREG[rs1])
        if rs1 == 0:
            return m("sgtz", XREG[rd], XREG[rs2])
    if name == "sltu" and rs1 == 0:
        return m("snez", XREG[rd], XREG[rs2])
    if name == "add.uw" and rs2 == 0:
        return m("zext.w", XREG[rd], XREG[rs1])
    if name == "fence":
        pred, succ = f["pred"], f["succ"]
        if insn.raw >> 28 == 0b1000 and pred == 0b0011 and succ == 0b0011:
            return m("fence.tso")
        if pred == 0xF and succ == 0xF:
            return m("fence")
        return m("fence", _fence_set(pred), _fence_set(succ))
    if name in ("csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci"):
        return format_csr(insn, out)

    # ---- loads and stores (integer and FP) ----
    fmt = insn.defn.fmt
    if fmt == "I" and insn.defn.asm == "rd, imm(rs1)":
        note_address(tracker, out, rs1, imm)
        return m(name, operand_reg(insn, "rd"), f"{imm}({XREG[rs1]})")
    if fmt == "S":
        note_address(tracker, out, rs1, imm)
        return m(name, operand_reg(insn, "rs2"), f"{imm}({XREG[rs1]})")

    # ---- A ----
    if fmt == "A":
        suffix = {(0, 0): "", (1, 0): ".aq", (0, 1): ".rl", (1, 1): ".aqrl"}[(f["aq"], f["rl"])]
        if name.startswith("lr."):
            return m(name + suffix, XREG[rd], f"({XREG[rs1]})")
        return m(name + suffix, XREG[rd], XREG[rs2], f"({XREG[rs1]})")

    # ---- F / D ----
    if name.startswith("fsgnj") and rs1 == rs2:
        alias = {"fsgnj": "fmv", "fsgnjn": "fneg", "fsgnjx": "fabs"}[name.split(".")[0]]
        return m(alias + "." + name.split(".")[1], FREG[rd], FREG[rs1])

    # ---- generic: the template's register/immediate operands, then a rounding mode ----
    for field_name in _TEMPLATE_FIELDS.get(insn.defn.asm) or _template_fields(insn.defn.asm):
        if field_name == "imm":
            ops.append(str(imm))
        else:
            ops.append(operand_reg(insn, field_name))
    out.mnemonic = name
    if "rm" in f and f["rm"] != RM_DYN and name not in _RM_ZERO_ONLY:
        ops.append(ROUNDING[f["rm"]] or "unknown")
    return out


_TEMPLATE_FIELDS: dict[str, tuple] = {}


def _template_fields(asm: str) -> tuple:
    fields = tuple(p.strip() for p in asm.split(",") if p.strip())
    _TEMPLATE_FIELDS[asm] = fields
    return fields


def _fence_set(bits4: int) -> str:
    s = "".join(ch for ch, bit in zip("iorw", (8, 4, 2, 1)) if bits4 & bit)
    return s or "unknown"


def _objdump_accepts(insn) -> bool:
    """False for the encodings rvjit executes but objdump does not recognise (reserved fields
    that the spec lets implementations ignore)."""
    name = insn.defn.name
    if insn.cdef is not None:
        return True
    if name == "fence":
        return insn.raw & 0xF00F8F80 == 0 or insn.raw == 0x8330000F
    if name == "fence.i":
        return insn.raw == 0x0000100F
    if name in _RM_ZERO_ONLY:
        return insn.fields["rm"] == 0
    return True


def format_illegal(raw: int, length: int) -> str:
    """What objdump prints for bytes that are no instruction it knows."""
    if length == 2 and raw & 0xFFFF == 0:
        return "unimp"
    return f".{length}byte\t0x{raw & ((1 << (8 * length)) - 1):x}"


def format_insn(insn, symbolizer=None, tracker: AddressTracker | None = None) -> str:
    """objdump's text for one decoded instruction: "mnemonic<TAB>operands".

    symbolizer(addr) -> "name" / "name+0xoff" / None labels branch and jump targets the way
    objdump does (`8000012c <main>`). With a tracker (one per section, fed every instruction
    in order) two-step address computations get objdump's ` # <address>` comment too."""
    if insn is None:
        raise ValueError("format_insn needs a decoded instruction (see format_illegal)")
    if getattr(insn, "defn", None) is None:          # lift.IllegalInsn
        return format_illegal(insn.raw, insn.length)
    if not _objdump_accepts(insn):
        return format_illegal(insn.raw, insn.length)
    out = _format(insn, symbolizer, tracker)
    text = out.mnemonic
    if out.operands:
        text += "\t" + ",".join(out.operands)
    if out.comment_addr is not None:
        text += " # " + target_text(out.comment_addr, symbolizer)
    return text


def disassemble_word(raw: int, pc: int = 0, symbolizer=None, tracker=None) -> tuple[int, str]:
    """Decode and format the instruction whose low bits are `raw`: (length, text)."""
    insn = decode(raw, pc)
    length = insn.length if insn is not None else insn_length(raw & 0xFFFF)
    if insn is None:
        return length, format_illegal(raw, length)
    return length, format_insn(insn, symbolizer, tracker)


def insn_length(low_half: int) -> int:
    """Instruction length from its first halfword, the way objdump measures it (longer formats
    than 32 bits count too; reserved lengths count as 2)."""
    if low_half & 3 != 3:
        return 2
    if low_half & 0x1F != 0x1F:
        return 4
    if low_half & 0x3F == 0x1F:
        return 6
    if low_half & 0x7F == 0x3F:
        return 8
    return 2
