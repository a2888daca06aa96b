"""F: single-precision floating point, RV64F (unprivileged spec chapter 11).

The shared rules (mstatus.FS, rounding modes, NaN-boxing) and the instruction shapes live in
fpcommon; this table is the encodings. The IEEE arithmetic itself is in rvjit.fp.
"""
from .fpcommon import (SINGLE as S, load, store, fused, arith, convert, sign_inject, min_max,
                       compare, classify, move_to_int, move_from_int)

load(S, "flw", "010")
store(S, "fsw", "010")

fused(S, "fmadd.s", "1000011", negate_product=False, negate_addend=False)
fused(S, "fmsub.s", "1000111", negate_product=False, negate_addend=True)
fused(S, "fnmsub.s", "1001011", negate_product=True, negate_addend=False)
fused(S, "fnmadd.s", "1001111", negate_product=True, negate_addend=True)

arith(S, "fadd.s", "00000", "add_s")
arith(S, "fsub.s", "00001", "sub_s")
arith(S, "fmul.s", "00010", "mul_s")
arith(S, "fdiv.s", "00011", "div_s")
convert(S, S, "fsqrt.s", "01011", "00000", "sqrt_s")

sign_inject(S, "fsgnj.s", "000", "")
sign_inject(S, "fsgnjn.s", "001", "n")
sign_inject(S, "fsgnjx.s", "010", "x")
min_max(S, "fmin.s", "000", "min_s")
min_max(S, "fmax.s", "001", "max_s")

convert(S, None, "fcvt.w.s", "11000", "00000", "f2i_w_s")
convert(S, None, "fcvt.wu.s", "11000", "00001", "f2i_wu_s")
convert(S, None, "fcvt.l.s", "11000", "00010", "f2i_l_s")
convert(S, None, "fcvt.lu.s", "11000", "00011", "f2i_lu_s")
convert(None, S, "fcvt.s.w", "11010", "00000", "i2f_s_w")
convert(None, S, "fcvt.s.wu", "11010", "00001", "i2f_s_wu")
convert(None, S, "fcvt.s.l", "11010", "00010", "i2f_s_l")
convert(None, S, "fcvt.s.lu", "11010", "00011", "i2f_s_lu")

compare(S, "feq.s", "010", "eq_s")
compare(S, "flt.s", "001", "lt_s")
compare(S, "fle.s", "000", "le_s")
classify(S, "fclass.s")

move_to_int(S, "fmv.x.w")
move_from_int(S, "fmv.w.x")
