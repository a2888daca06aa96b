"""D: double-precision floating point, RV64D (unprivileged spec chapter 12).

The shared rules (mstatus.FS, rounding modes, NaN-boxing) and the instruction shapes live in
fpcommon; this table is the encodings. The IEEE arithmetic itself is in rvjit.fp.
"""
from .fpcommon import (SINGLE as S, DOUBLE as D, load, store, fused, arith, convert, sign_inject,
                       min_max, compare, classify, move_to_int, move_from_int)

load(D, "fld", "011")
store(D, "fsd", "011")

fused(D, "fmadd.d", "1000011", negate_product=False, negate_addend=False)
fused(D, "fmsub.d", "1000111", negate_product=False, negate_addend=True)
fused(D, "fnmsub.d", "1001011", negate_product=True, negate_addend=False)
fused(D, "fnmadd.d", "1001111", negate_product=True, negate_addend=True)

arith(D, "fadd.d", "00000", "add_d")
arith(D, "fsub.d", "00001", "sub_d")
arith(D, "fmul.d", "00010", "mul_d")
arith(D, "fdiv.d", "00011", "div_d")
convert(D, D, "fsqrt.d", "01011", "00000", "sqrt_d")

sign_inject(D, "fsgnj.d", "000", "")
sign_inject(D, "fsgnjn.d", "001", "n")
sign_inject(D, "fsgnjx.d", "010", "x")
min_max(D, "fmin.d", "000", "min_d")
min_max(D, "fmax.d", "001", "max_d")

# Between precisions: fmt names the destination, rs2 the source's fmt.
convert(D, S, "fcvt.s.d", "01000", "00001", "f2f_s_d")
convert(S, D, "fcvt.d.s", "01000", "00000", "f2f_d_s")

convert(D, None, "fcvt.w.d", "11000", "00000", "f2i_w_d")
convert(D, None, "fcvt.wu.d", "11000", "00001", "f2i_wu_d")
convert(D, None, "fcvt.l.d", "11000", "00010", "f2i_l_d")
convert(D, None, "fcvt.lu.d", "11000", "00011", "f2i_lu_d")
convert(None, D, "fcvt.d.w", "11010", "00000", "i2f_d_w")
convert(None, D, "fcvt.d.wu", "11010", "00001", "i2f_d_wu")
convert(None, D, "fcvt.d.l", "11010", "00010", "i2f_d_l")
convert(None, D, "fcvt.d.lu", "11010", "00011", "i2f_d_lu")

compare(D, "feq.d", "010", "eq_d")
compare(D, "flt.d", "001", "lt_d")
compare(D, "fle.d", "000", "le_d")
classify(D, "fclass.d")

move_to_int(D, "fmv.x.d")
move_from_int(D, "fmv.d.x")
