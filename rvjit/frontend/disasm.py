"""Disassembly in the exact text of GNU objdump (binutils 2.40, `riscv64-unknown-elf-objdump -d`).

`format_insn` turns one decoded instruction into objdump's "mnemonic<TAB>operands" text (a tab,
as objdump prints it: `.expandtabs()` or replace it for other layouts), with the
aliases objdump prefers (li, mv, ret, sext.w, and for andi/ori/xori/addi/shift-immediates the
register-form names "and", "or", "add", "sll", ...), ABI register names, CSR names, rounding-mode
suffixes only when not dynamic, and branch targets as absolute hex addresses.

`disassemble_elf` produces the whole `objdump -d` listing of an ELF file's executable sections.

The alias choices below are facts about objdump's output, checked instruction by instruction
against objdump itself by tests/test_disasm.py; none of objdump's code is reused.
"""
from __future__ import annotations

import bisect
import re

from .decode import decode

MASK64 = (1 << 64) - 1

XREG = ("zero ra sp gp tp t0 t1 t2 s0 s1 a0 a1 a2 a3 a4 a5 a6 a7 "
        "s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 t3 t4 t5 t6").split()
FREG = ("ft0 ft1 ft2 ft3 ft4 ft5 ft6 ft7 fs0 fs1 fa0 fa1 fa2 fa3 fa4 fa5 fa6 fa7 "
        "fs2 fs3 fs4 fs5 fs6 fs7 fs8 fs9 fs10 fs11 ft8 ft9 ft10 ft11").split()
ROUNDING = ("rne", "rtz", "rdn", "rup", "rmm", None, None, "dyn")
RM_DYN = 7

X_RA, X_SP, X_GP, X_TP = 1, 2, 3, 4


# ---- CSR names ---------------------------------------------------------------------------------
# The names objdump prints for CSR numbers (anything else prints as hex). "{a-b}" is a run of
# consecutive numbers with the index in the name; a trailing "h" after it is the RV32 high half.
_CSR_SPEC = """
0x1:fflags 0x2:frm 0x3:fcsr 0x8:vstart 0x9:vxsat 0xa:vxrm 0xf:vcsr 0x15:seed
0x100:sstatus 0x104:sie 0x105:stvec 0x106:scounteren 0x10a:senvcfg 0x10c:sstateen{0-3} 0x114:sieh
0x140:sscratch 0x141:sepc 0x142:scause 0x143:stval 0x144:sip 0x14d:stimecmp 0x150:siselect
0x151:sireg 0x154:siph 0x15c:stopei 0x15d:stimecmph 0x180:satp
0x200:vsstatus 0x204:vsie 0x205:vstvec 0x214:vsieh 0x240:vsscratch 0x241:vsepc 0x242:vscause
0x243:vstval 0x244:vsip 0x24d:vstimecmp 0x250:vsiselect 0x251:vsireg 0x254:vsiph 0x25c:vstopei
0x25d:vstimecmph 0x280:vsatp
0x300:mstatus 0x301:misa 0x302:medeleg 0x303:mideleg 0x304:mie 0x305:mtvec 0x306:mcounteren
0x308:mvien 0x309:mvip 0x30a:menvcfg 0x30c:mstateen{0-3} 0x310:mstatush 0x313:midelegh 0x314:mieh
0x318:mvienh 0x319:mviph 0x31a:menvcfgh 0x31c:mstateen{0-3}h 0x320:mcountinhibit
0x323:mhpmevent{3-31} 0x340:mscratch 0x341:mepc 0x342:mcause 0x343:mtval 0x344:mip 0x34a:mtinst
0x34b:mtval2 0x350:miselect 0x351:mireg 0x354:miph 0x35c:mtopei 0x3a0:pmpcfg{0-15}
0x3b0:pmpaddr{0-63} 0x5a8:scontext
0x600:hstatus 0x602:hedeleg 0x603:hideleg 0x604:hie 0x605:htimedelta 0x606:hcounteren 0x607:hgeie
0x608:hvien 0x609:hvictl 0x60a:henvcfg 0x60c:hstateen{0-3} 0x613:hidelegh 0x615:htimedeltah
0x618:hvienh 0x61a:henvcfgh 0x61c:hstateen{0-3}h 0x643:htval 0x644:hip 0x645:hvip
0x646:hviprio{1-2} 0x64a:htinst 0x655:hviph 0x656:hviprio{1-2}h 0x680:hgatp 0x6a8:hcontext
0x723:mhpmevent{3-31}h 0x747:mseccfg 0x757:mseccfgh 0x7a0:tselect 0x7a1:tdata{1-3} 0x7a4:tinfo
0x7a5:tcontrol 0x7a8:mcontext 0x7aa:mscontext 0x7b0:dcsr 0x7b1:dpc 0x7b2:dscratch{0-1}
0xb00:mcycle 0xb02:minstret 0xb03:mhpmcounter{3-31} 0xb80:mcycleh 0xb82:minstreth
0xb83:mhpmcounter{3-31}h 0xc00:cycle 0xc01:time 0xc02:instret 0xc03:hpmcounter{3-31} 0xc20:vl
0xc21:vtype 0xc22:vlenb 0xc80:cycleh 0xc81:timeh 0xc82:instreth 0xc83:hpmcounter{3-31}h
0xda0:scountovf 0xdb0:stopi 0xe12:hgeip 0xeb0:vstopi 0xf11:mvendorid 0xf12:marchid 0xf13:mimpid
0xf14:mhartid 0xf15:mconfigptr 0xfb0:mtopi
"""


def _parse_csr_spec(spec: str) -> dict[int, str]:
    names = {}
    for item in spec.split():
        num, name = item.split(":")
        num = int(num, 16)
        run = re.fullmatch(r"([a-z]+)\{(\d+)-(\d+)\}(h?)", name)
        if run:
            prefix, lo, hi, suffix = run.group(1), int(run.group(2)), int(run.group(3)), run.group(4)
            for k in range(lo, hi + 1):
                names[num + k - lo] = f"{prefix}{k}{suffix}"
        else:
            names[num] = name
    return names


CSR_NAMES: dict[int, str] = _parse_csr_spec(_CSR_SPEC)

# csrrs rd, csr, zero prints as a dedicated read pseudo for these CSRs
_CSR_READ_PSEUDO = {0x1: "frflags", 0x2: "frrm", 0x3: "frcsr",
                    0xC00: "rdcycle", 0xC01: "rdtime", 0xC02: "rdinstret"}
# csrrw rd, csr, rs1 (and csrrwi) print as a dedicated write/swap pseudo for these CSRs
_CSR_WRITE_PSEUDO = {0x1: "fsflags", 0x2: "fsrm", 0x3: "fscsr"}


def csr_name(num: int) -> str:
    return CSR_NAMES.get(num, f"0x{num:x}")


# ---- operand classes ---------------------------------------------------------------------------
# Which of rd/rs1/rs2/rs3 name floating-point registers, by instruction name.
_FP_ALL = {"rd", "rs1", "rs2", "rs3"}
_FP_OPERANDS: dict[str, set] = {}
for _p in ("s", "d"):
    for _n in ("fmadd", "fmsub", "fnmsub", "fnmadd", "fadd", "fsub", "fmul", "fdiv", "fsqrt",
               "fsgnj", "fsgnjn", "fsgnjx", "fmin", "fmax"):
        _FP_OPERANDS[f"{_n}.{_p}"] = _FP_ALL
    for _n in ("feq", "flt", "fle", "fclass"):
        _FP_OPERANDS[f"{_n}.{_p}"] = {"rs1", "rs2"}
    for _i in ("w", "wu", "l", "lu"):
        _FP_OPERANDS[f"fcvt.{_i}.{_p}"] = {"rs1"}          # float -> int
        _FP_OPERANDS[f"fcvt.{_p}.{_i}"] = {"rd"}           # int -> float
_FP_OPERANDS.update({
    "flw": {"rd"}, "fld": {"rd"}, "fsw": {"rs2"}, "fsd": {"rs2"},
    "fcvt.s.d": _FP_ALL, "fcvt.d.s": _FP_ALL,
    "fmv.x.w": {"rs1"}, "fmv.x.d": {"rs1"}, "fmv.w.x": {"rd"}, "fmv.d.x": {"rd"},
})

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


def _reg(insn, field):
    num = insn.fields[field]
    return FREG[num] if field in _FP_OPERANDS.get(insn.defn.name, ()) else XREG[num]


class AddressTracker:
    """The cross-instruction state objdump keeps to annotate addresses computed in two steps
    (lui/auipc followed by addi, jalr, ...) with a trailing ` # <address> <symbol>` comment.

    Feed one tracker every instruction of a file in listing order (objdump keeps this state
    across the sections of a file and starts afresh per file); `gp` is the value of
    __global_pointer$ when the file defines it (gp-relative addresses are annotated too)."""

    def __init__(self, gp: int | None = None):
        self.gp = gp
        self.hi: dict[int, int] = {}

    def reset(self):
        self.hi.clear()


class _Out:
    """Accumulates one instruction's text and the address its comment names, if any."""
    __slots__ = ("mnemonic", "operands", "comment_addr")

    def __init__(self):
        self.mnemonic = ""
        self.operands: list[str] = []
        self.comment_addr = None


def _target_text(addr: int, symbolizer) -> str:
    addr &= MASK64
    if symbolizer is not None:
        sym = symbolizer(addr)
        if sym:
            return f"{addr:x} <{sym}>"
    return f"{addr:x}"


def _maybe_address(tracker: AddressTracker | None, out: _Out, base: int, offset: int,
                   wide: bool = False):
    """Record the address an instruction forms from a tracked base register plus offset."""
    if tracker is None:
        return
    if base in tracker.hi:
        high = tracker.hi.pop(base)
        addr = (high if base != 0 else 0) + offset      # "lui zero" is consumed, not used
    elif base == X_GP and tracker.gp is not None:
        addr = tracker.gp + offset
    elif base == X_TP or base == 0:
        addr = offset
    else:
        return
    if wide:
        addr = ((addr & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000
    out.comment_addr = addr & MASK64


def _format(insn, symbolizer, tracker) -> _Out:
    out = _Out()
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
        r = _format_compressed(insn, cname, out, symbolizer, tracker)
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
            _maybe_address(tracker, out, rs1, imm)
        return m("add", XREG[rd], XREG[rs1], str(imm))
    if name == "addiw":
        if imm == 0:
            return m("sext.w", XREG[rd], XREG[rs1])
        if rs1 != 0:
            _maybe_address(tracker, out, rs1, imm, wide=True)
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
        target = _target_text(insn.pc + imm, symbolizer)
        if rd == 0:
            return m("j", target)
        if rd == X_RA:
            return m("jal", target)
        return m("jal", XREG[rd], target)
    if name == "jalr":
        if rd == 0 and rs1 == X_RA and imm == 0:
            return m("ret")             # no operands, so no address comment either
        _maybe_address(tracker, out, rs1, imm)
        if imm != 0:
            # objdump looks at the address once for the offset and again for the base register
            # of "offset(base)": the second look wins for tp/gp/zero bases
            _maybe_address(tracker, out, rs1, imm)
        mem = XREG[rs1] if imm == 0 else f"{imm}({XREG[rs1]})"
        if rd == 0:
            return m("jr", mem)
        if rd == X_RA:
            return m("jalr", mem)
        return m("jalr", XREG[rd], mem)
    if insn.defn.fmt == "B":
        target = _target_text(insn.pc + imm, symbolizer)
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
        return _format_csr(insn, out)

    # ---- loads and stores (integer and FP) ----
    fmt = insn.defn.fmt
    if fmt == "I" and insn.defn.asm == "rd, imm(rs1)":
        _maybe_address(tracker, out, rs1, imm)
        return m(name, _reg(insn, "rd"), f"{imm}({XREG[rs1]})")
    if fmt == "S":
        _maybe_address(tracker, out, rs1, imm)
        return m(name, _reg(insn, "rs2"), f"{imm}({XREG[rs1]})")

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
            ops.append(_reg(insn, field_name))
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


def _format_csr(insn, out: _Out) -> _Out:
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


def _format_compressed(insn, cname, out: _Out, symbolizer, tracker):
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
            _maybe_address(tracker, out, rd, imm, wide=cname == "c.addiw")
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
        out.operands = [_reg(insn, value), f"{f['imm']}({XREG[f['rs1']]})"]
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
        text += " # " + _target_text(out.comment_addr, symbolizer)
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


# ---- whole files -------------------------------------------------------------------------------
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
