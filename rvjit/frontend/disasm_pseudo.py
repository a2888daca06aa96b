"""objdump's pseudo-instruction forms of CSR instructions (csrr, csrw, frflags, rdtime, ...)
and of the 16-bit instructions whose text differs from that of their 32-bit expansion."""
from __future__ import annotations

from .asmnames import X_RA, XREG, csr_name, operand_reg
from .disasm_addr import MASK64, InsnText, note_address

# csrrs rd, csr, zero prints as a dedicated read pseudo for these CSRs
_CSR_READ_PSEUDO = {0x1: "frflags", 0x2: "frrm", 0x3: "frcsr",
                    0xC00: "rdcycle", 0xC01: "rdtime", 0xC02: "rdinstret"}
# csrrw rd, csr, rs1 (and csrrwi) print as a dedicated write/swap pseudo for these CSRs
_CSR_WRITE_PSEUDO = {0x1: "fsflags", 0x2: "fsrm", 0x3: "fscsr"}


def format_csr(insn, out: InsnText) -> InsnText:
    name, f = insn.defn.name, insn.fields
    rd, csr = f["rd"], f["csr"]
    immediate = name.endswith("i")
    src = str(f["imm"]) if immediate else XREG[f["rs1"]]
    src_zero = (f["imm"] if immediate else f["rs1"]) == 0
    op = name[3:5]          # "rw", "rs", "rc"
    out.mnemonic = name[:5]  # the immediate forms print under the register-form name
    if op == "rw":
        if name == "csrrw" and insn.raw == 0xC0001073:
            out.mnemonic = "unimp"
            return out
        if immediate and csr in _CSR_WRITE_PSEUDO and csr != 0x3:     # no "fscsri"
            out.mnemonic = _CSR_WRITE_PSEUDO[csr] + "i"
            out.operands = [XREG[rd], src]                          # rd even when zero
            return out
        if not immediate and csr in _CSR_WRITE_PSEUDO:
            out.mnemonic = _CSR_WRITE_PSEUDO[csr]
            out.operands = [src] if rd == 0 else [XREG[rd], src]
            return out
        if rd == 0:
            out.mnemonic = "csrw"
            out.operands = [csr_name(csr), src]
            return out
    elif op == "rs" and not immediate and src_zero:
        if csr in _CSR_READ_PSEUDO:
            out.mnemonic = _CSR_READ_PSEUDO[csr]
            out.operands = [XREG[rd]]
            return out
        out.mnemonic = "csrr"
        out.operands = [XREG[rd], csr_name(csr)]
        return out
    elif rd == 0:
        out.mnemonic = "csrs" if op == "rs" else "csrc"
        out.operands = [csr_name(csr), src]
        return out
    out.operands = [XREG[rd], csr_name(csr), src]
    return out


def format_compressed(insn, cname, out: InsnText, symbolizer, tracker):
    """The 16-bit forms whose text differs from that of their 32-bit expansion; None otherwise."""
    f = insn.fields
    # HINT encodings print under their own compressed names
    hint = _compressed_hint(cname, insn.raw, f)
    if hint is not None:
        out.mnemonic, out.operands = hint
        return out
    if cname == "c.mv":
        out.mnemonic = "mv"
        out.operands = [XREG[f["rd"]], XREG[f["rs2"]]]
        return out
    if cname == "c.add":
        out.mnemonic = "add"
        out.operands = [XREG[f["rd"]], XREG[f["rd"]], XREG[f["rs2"]]]
        return out
    if cname in ("c.jr", "c.jalr"):
        # objdump reads the register from the rd field: no address comment for these
        if cname == "c.jr" and f["rs1"] == X_RA:
            out.mnemonic = "ret"
            return out
        out.mnemonic = "jr" if cname == "c.jr" else "jalr"
        out.operands = [XREG[f["rs1"]]]
        return out
    if cname == "c.lui":
        if tracker is not None:
            tracker.hi[f["rd"]] = f["imm"] & MASK64
        out.mnemonic = "lui"
        out.operands = [XREG[f["rd"]], f"0x{(f['imm'] >> 12) & 0xFFFFF:x}"]
        return out
    if cname in ("c.addi", "c.addiw"):
        rd, imm = f["rd"], f["imm"]
        if cname == "c.addiw" and imm == 0:
            out.mnemonic, out.operands = "sext.w", [XREG[rd], XREG[rd]]
            return out
        if rd != 0:
            note_address(tracker, out, rd, imm, wide=cname == "c.addiw")
        out.mnemonic = "add" if cname == "c.addi" else "addw"
        out.operands = [XREG[rd], XREG[rd], str(imm)]
        return out
    if cname == "c.li":
        out.mnemonic, out.operands = "li", [XREG[f["rd"]], str(f["imm"])]
        return out
    if cname in ("c.addi4spn", "c.addi16sp"):
        out.mnemonic, out.operands = "add", [XREG[f["rd"]], "sp", str(f["imm"])]
        return out
    if insn.defn.fmt in ("I", "S") and insn.defn.asm.endswith("imm(rs1)"):
        # compressed loads/stores: no address comments
        value = "rd" if insn.defn.fmt == "I" else "rs2"
        out.mnemonic = insn.defn.name
        out.operands = [operand_reg(insn, value), f"{f['imm']}({XREG[f['rs1']]})"]
        return out
    return None


def _compressed_hint(cname, raw, f):
    rd = f.get("rd")
    if cname == "c.addi" and rd == 0 and f["imm"] != 0:
        return "c.nop", [str(f["imm"])]
    if cname in ("c.li", "c.mv", "c.add", "c.lui", "c.slli") and rd == 0:
        if cname == "c.li":
            return "c.li", ["zero", str(f["imm"])]
        if cname == "c.lui":
            return "c.lui", ["zero", f"0x{(f['imm'] >> 12) & 0xFFFFF:x}"]
        if cname == "c.slli" and f["imm"] != 0:
            return "c.slli", ["zero", f"0x{f['imm']:x}"]
        if cname in ("c.mv", "c.add"):
            return cname, ["zero", XREG[f["rs2"]]]
    if cname in ("c.slli", "c.srli", "c.srai") and f["imm"] == 0:
        return cname + "64", [XREG[rd]]
    return None
