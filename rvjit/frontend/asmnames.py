"""The names objdump prints in RISC-V operands: ABI register names, CSR names and rounding
modes, and which operands of an instruction name floating-point registers."""
from __future__ import annotations

import re

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


def operand_reg(insn, field):
    num = insn.fields[field]
    return FREG[num] if field in _FP_OPERANDS.get(insn.defn.name, ()) else XREG[num]
