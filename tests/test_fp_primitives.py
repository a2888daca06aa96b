"""FP primitives: softfloat against hand-checked values, then native (JIT'd
LLVM IR on SSE) against softfloat on many biased random inputs.

Set RVJIT_FP_N to change the random cases per (primitive, rounding mode) and
RVJIT_FP_SEED to draw different ones (e.g. RVJIT_FP_N=30000 for a long hunt).
"""

import os
import random

import pytest

from rvjit.fp import PRIMITIVES, softfloat as sf
from rvjit.fp import native

NV, DZ, OF, UF, NX = 16, 8, 4, 2, 1
RNE, RTZ, RDN, RUP, RMM = range(5)
ALL_RM = range(5)

# single-precision patterns
ONE, TWO, THREE, HALF = 0x3F800000, 0x40000000, 0x40400000, 0x3F000000
M1, M2 = 0xBF800000, 0xC0000000
NZ, MAXS, MINN, MINSUB, MAXSUB = 0x80000000, 0x7F7FFFFF, 0x00800000, 1, 0x007FFFFF
INF, NINF, CNAN = 0x7F800000, 0xFF800000, 0x7FC00000
QNAN, SNAN, SNAN2 = 0x7FC12345, 0x7F800001, 0xFFA00000
# double-precision patterns
D1, D2, D3, DHALF = 0x3FF0000000000000, 0x4000000000000000, 0x4008000000000000, 0x3FE0000000000000
DNZ, DMAX, DINF = 0x8000000000000000, 0x7FEFFFFFFFFFFFFF, 0x7FF0000000000000
DCNAN, DQNAN, DSNAN = 0x7FF8000000000000, 0x7FF8000000000123, 0x7FF0000000000001
SX = 0xFFFFFFFF00000000         # sign-extension of a negative 32-bit result


def per_rm(rne, rtz, rdn, rup, rmm):
    return {RNE: rne, RTZ: rtz, RDN: rdn, RUP: rup, RMM: rmm}


def same(v):
    return per_rm(v, v, v, v, v)


# (primitive, (a, b, c), {rm: (result, flags)})
KNOWN = [
    # ---- add / sub
    ("add_s", (ONE, TWO, 0), same((THREE, 0))),
    ("add_s", (ONE, 0x33800000, 0),          # 1 + 2**-24: tie, even is 1
     per_rm((ONE, NX), (ONE, NX), (ONE, NX), (0x3F800001, NX), (0x3F800001, NX))),
    ("add_s", (ONE, 0xB3000000, 0),          # 1 - 2**-25: tie below 1
     per_rm((ONE, NX), (0x3F7FFFFF, NX), (0x3F7FFFFF, NX), (ONE, NX), (ONE, NX))),
    ("add_s", (ONE, 0xB3800000, 0), same((0x3F7FFFFF, 0))),
    ("add_s", (ONE, M1, 0), per_rm((0, 0), (0, 0), (NZ, 0), (0, 0), (0, 0))),
    ("add_s", (NZ, NZ, 0), same((NZ, 0))),
    ("add_s", (0, NZ, 0), per_rm((0, 0), (0, 0), (NZ, 0), (0, 0), (0, 0))),
    ("add_s", (INF, NINF, 0), same((CNAN, NV))),
    ("add_s", (INF, ONE, 0), same((INF, 0))),
    ("add_s", (QNAN, ONE, 0), same((CNAN, 0))),
    ("add_s", (SNAN, ONE, 0), same((CNAN, NV))),
    ("add_s", (ONE, SNAN2, 0), same((CNAN, NV))),
    ("add_s", (MAXS, MAXS, 0),
     per_rm((INF, OF | NX), (MAXS, OF | NX), (MAXS, OF | NX), (INF, OF | NX), (INF, OF | NX))),
    ("add_s", (0xFF7FFFFF, 0xFF7FFFFF, 0),
     per_rm((NINF, OF | NX), (0xFF7FFFFF, OF | NX), (NINF, OF | NX),
            (0xFF7FFFFF, OF | NX), (NINF, OF | NX))),
    ("add_s", (MAXS, 0x73000000, 0),         # max + ulp/2: overflow decided after rounding
     per_rm((INF, OF | NX), (MAXS, NX), (MAXS, NX), (INF, OF | NX), (INF, OF | NX))),
    ("add_s", (MINSUB, MINSUB, 0), same((2, 0))),       # exact subnormal: no UF
    ("add_s", (MAXSUB, MINSUB, 0), same((MINN, 0))),
    ("sub_s", (ONE, ONE, 0), per_rm((0, 0), (0, 0), (NZ, 0), (0, 0), (0, 0))),
    ("sub_s", (THREE, ONE, 0), same((TWO, 0))),
    ("sub_s", (INF, INF, 0), same((CNAN, NV))),
    ("sub_s", (NINF, INF, 0), same((NINF, 0))),
    ("add_d", (D1, 0x3CA0000000000000, 0),   # 1 + 2**-53
     per_rm((D1, NX), (D1, NX), (D1, NX), (D1 + 1, NX), (D1 + 1, NX))),
    ("add_d", (DINF, DINF | DNZ, 0), same((DCNAN, NV))),
    ("sub_d", (D3, D1, 0), same((D2, 0))),
    # ---- mul (incl. tininess after rounding)
    ("mul_s", (THREE, 0x3FC00000, 0), same((0x40900000, 0))),
    # (1-2**-23) * 2**-126*(1+2**-23) = 2**-126*(1-2**-46): rounds to 2**-126
    # at full precision, so not tiny in RNE/RUP/RMM (no UF), tiny in RTZ/RDN
    ("mul_s", (0x3F7FFFFE, 0x00800001, 0),
     per_rm((MINN, NX), (MAXSUB, UF | NX), (MAXSUB, UF | NX), (MINN, NX), (MINN, NX))),
    # 2**-126 - 2**-150: tiny even after rounding, result the min normal
    ("mul_s", (0x3F7FFFFF, MINN, 0),
     per_rm((MINN, UF | NX), (MAXSUB, UF | NX), (MAXSUB, UF | NX),
            (MINN, UF | NX), (MINN, UF | NX))),
    ("mul_s", (MINSUB, HALF, 0),             # 2**-150: tie between 0 and minsub
     per_rm((0, UF | NX), (0, UF | NX), (0, UF | NX), (1, UF | NX), (1, UF | NX))),
    ("mul_s", (0x80000001, HALF, 0),
     per_rm((NZ, UF | NX), (NZ, UF | NX), (0x80000001, UF | NX), (NZ, UF | NX),
            (0x80000001, UF | NX))),
    ("mul_s", (3, HALF, 0),                  # 1.5 minsub
     per_rm((2, UF | NX), (1, UF | NX), (1, UF | NX), (2, UF | NX), (2, UF | NX))),
    ("mul_s", (5, HALF, 0),                  # 2.5 minsub: RNE and RMM differ
     per_rm((2, UF | NX), (2, UF | NX), (2, UF | NX), (3, UF | NX), (3, UF | NX))),
    ("mul_s", (INF, 0, 0), same((CNAN, NV))),
    ("mul_s", (NZ, INF, 0), same((CNAN, NV))),
    ("mul_s", (NINF, TWO, 0), same((NINF, 0))),
    ("mul_s", (NZ, THREE, 0), same((NZ, 0))),
    ("mul_s", (MAXS, TWO, 0),
     per_rm((INF, OF | NX), (MAXS, OF | NX), (MAXS, OF | NX), (INF, OF | NX), (INF, OF | NX))),
    ("mul_s", (MAXS, M2, 0),
     per_rm((NINF, OF | NX), (0xFF7FFFFF, OF | NX), (NINF, OF | NX),
            (0xFF7FFFFF, OF | NX), (NINF, OF | NX))),
    ("mul_d", (1, DHALF, 0),
     per_rm((0, UF | NX), (0, UF | NX), (0, UF | NX), (1, UF | NX), (1, UF | NX))),
    ("mul_d", (0x3FEFFFFFFFFFFFFE, 0x0010000000000001, 0),
     per_rm((0x0010000000000000, NX), (0x000FFFFFFFFFFFFF, UF | NX),
            (0x000FFFFFFFFFFFFF, UF | NX), (0x0010000000000000, NX),
            (0x0010000000000000, NX))),
    ("mul_d", (DSNAN, D1, 0), same((DCNAN, NV))),
    # ---- div
    ("div_s", (ONE, THREE, 0),
     per_rm((0x3EAAAAAB, NX), (0x3EAAAAAA, NX), (0x3EAAAAAA, NX), (0x3EAAAAAB, NX),
            (0x3EAAAAAB, NX))),
    ("div_s", (ONE, 0, 0), same((INF, DZ))),
    ("div_s", (M1, 0, 0), same((NINF, DZ))),
    ("div_s", (ONE, NZ, 0), same((NINF, DZ))),
    ("div_s", (0, 0, 0), same((CNAN, NV))),
    ("div_s", (INF, NINF, 0), same((CNAN, NV))),
    ("div_s", (INF, 0, 0), same((INF, 0))),
    ("div_s", (0, INF, 0), same((0, 0))),
    ("div_s", (M1, INF, 0), same((NZ, 0))),
    ("div_s", (SNAN, 0, 0), same((CNAN, NV))),
    ("div_s", (3, TWO, 0),                   # 1.5 minsub
     per_rm((2, UF | NX), (1, UF | NX), (1, UF | NX), (2, UF | NX), (2, UF | NX))),
    ("div_s", (5, TWO, 0),
     per_rm((2, UF | NX), (2, UF | NX), (2, UF | NX), (3, UF | NX), (3, UF | NX))),
    ("div_s", (MAXS, HALF, 0),
     per_rm((INF, OF | NX), (MAXS, OF | NX), (MAXS, OF | NX), (INF, OF | NX), (INF, OF | NX))),
    ("div_d", (D1, D3, 0),
     per_rm((0x3FD5555555555555, NX), (0x3FD5555555555555, NX), (0x3FD5555555555555, NX),
            (0x3FD5555555555556, NX), (0x3FD5555555555555, NX))),
    ("div_d", (D1, DNZ, 0), same((DINF | DNZ, DZ))),
    # ---- sqrt
    ("sqrt_s", (0x40800000, 0, 0), same((TWO, 0))),
    ("sqrt_s", (TWO, 0, 0),
     per_rm((0x3FB504F3, NX), (0x3FB504F3, NX), (0x3FB504F3, NX), (0x3FB504F4, NX),
            (0x3FB504F3, NX))),
    ("sqrt_s", (NZ, 0, 0), same((NZ, 0))),
    ("sqrt_s", (M1, 0, 0), same((CNAN, NV))),
    ("sqrt_s", (NINF, 0, 0), same((CNAN, NV))),
    ("sqrt_s", (0x80000001, 0, 0), same((CNAN, NV))),
    ("sqrt_s", (INF, 0, 0), same((INF, 0))),
    ("sqrt_s", (SNAN, 0, 0), same((CNAN, NV))),
    ("sqrt_s", (QNAN, 0, 0), same((CNAN, 0))),
    ("sqrt_d", (D2, 0, 0),
     per_rm((0x3FF6A09E667F3BCD, NX), (0x3FF6A09E667F3BCC, NX), (0x3FF6A09E667F3BCC, NX),
            (0x3FF6A09E667F3BCD, NX), (0x3FF6A09E667F3BCD, NX))),
    ("sqrt_d", (0x4010000000000000, 0, 0), same((D2, 0))),
    ("sqrt_d", (DNZ, 0, 0), same((DNZ, 0))),
    # ---- fma
    ("fma_s", (TWO, THREE, ONE), same((0x40E00000, 0))),
    ("fma_s", (INF, 0, CNAN), same((CNAN, NV))),          # RISC-V: NV even with qNaN
    ("fma_s", (0, NINF, QNAN), same((CNAN, NV))),
    ("fma_s", (ONE, ONE, QNAN), same((CNAN, 0))),
    ("fma_s", (ONE, ONE, SNAN), same((CNAN, NV))),
    ("fma_s", (INF, ONE, NINF), same((CNAN, NV))),
    ("fma_s", (INF, ONE, INF), same((INF, 0))),
    ("fma_s", (ONE, ONE, M1), per_rm((0, 0), (0, 0), (NZ, 0), (0, 0), (0, 0))),
    ("fma_s", (NZ, ONE, NZ), same((NZ, 0))),
    ("fma_s", (NZ, ONE, 0), per_rm((0, 0), (0, 0), (NZ, 0), (0, 0), (0, 0))),
    # (1+2**-23)**2 - 1 = 2**-22 * (1 + 2**-24): a tie only a fused op sees
    ("fma_s", (0x3F800001, 0x3F800001, M1),
     per_rm((0x34800000, NX), (0x34800000, NX), (0x34800000, NX), (0x34800001, NX),
            (0x34800001, NX))),
    ("fma_s", (MAXS, TWO, NINF), same((NINF, 0))),        # exact product is finite
    ("fma_s", (MAXS, TWO, 0xFF7FFFFF), same((MAXS, 0))),  # no intermediate overflow
    ("fma_d", (DINF, 0, DQNAN), same((DCNAN, NV))),
    ("fma_d", (D1, D1, D1 | DNZ), per_rm((0, 0), (0, 0), (DNZ, 0), (0, 0), (0, 0))),
    # ---- min / max
    ("min_s", (NZ, 0, 0), same((NZ, 0))),
    ("min_s", (0, NZ, 0), same((NZ, 0))),
    ("max_s", (NZ, 0, 0), same((0, 0))),
    ("max_s", (0, NZ, 0), same((0, 0))),
    ("min_s", (QNAN, ONE, 0), same((ONE, 0))),
    ("min_s", (SNAN, ONE, 0), same((ONE, NV))),
    ("max_s", (ONE, SNAN, 0), same((ONE, NV))),
    ("max_s", (CNAN, QNAN, 0), same((CNAN, 0))),
    ("min_s", (SNAN, QNAN, 0), same((CNAN, NV))),
    ("min_s", (NINF, ONE, 0), same((NINF, 0))),
    ("max_s", (NINF, ONE, 0), same((ONE, 0))),
    ("min_s", (M1, M2, 0), same((M2, 0))),
    ("max_d", (DNZ, 0, 0), same((0, 0))),
    ("min_d", (DQNAN, DNZ, 0), same((DNZ, 0))),
    # ---- compares
    ("eq_s", (0, NZ, 0), same((1, 0))),
    ("lt_s", (NZ, 0, 0), same((0, 0))),
    ("le_s", (NZ, 0, 0), same((1, 0))),
    ("eq_s", (QNAN, ONE, 0), same((0, 0))),
    ("eq_s", (SNAN, ONE, 0), same((0, NV))),
    ("eq_s", (CNAN, CNAN, 0), same((0, 0))),
    ("lt_s", (QNAN, ONE, 0), same((0, NV))),
    ("le_s", (ONE, QNAN, 0), same((0, NV))),
    ("lt_s", (ONE, TWO, 0), same((1, 0))),
    ("lt_s", (TWO, ONE, 0), same((0, 0))),
    ("le_s", (TWO, TWO, 0), same((1, 0))),
    ("lt_s", (NINF, 0xFF7FFFFF, 0), same((1, 0))),
    ("lt_s", (M1, M2, 0), same((0, 0))),
    ("le_s", (M2, M1, 0), same((1, 0))),
    ("eq_d", (D1, D1, 0), same((1, 0))),
    ("lt_d", (DQNAN, D1, 0), same((0, NV))),
    ("le_d", (DNZ, 0, 0), same((1, 0))),
    ("le_d", (DSNAN, DSNAN, 0), same((0, NV))),
    # ---- classify
    *[("class_s", (x, 0, 0), same((1 << i, 0))) for i, x in enumerate(
        [NINF, M1, 0x80000001, NZ, 0, MINSUB, ONE, INF, SNAN, CNAN])],
    *[("class_d", (x, 0, 0), same((1 << i, 0))) for i, x in enumerate(
        [DINF | DNZ, D1 | DNZ, DNZ | 1, DNZ, 0, 1, D1, DINF, DSNAN, DCNAN])],
    # ---- float -> int
    ("f2i_w_s", (0x40200000, 0, 0),          # 2.5
     per_rm((2, NX), (2, NX), (2, NX), (3, NX), (3, NX))),
    ("f2i_w_s", (0xC0200000, 0, 0),          # -2.5
     per_rm((SX | 0xFFFFFFFE, NX), (SX | 0xFFFFFFFE, NX), (SX | 0xFFFFFFFD, NX),
            (SX | 0xFFFFFFFE, NX), (SX | 0xFFFFFFFD, NX))),
    ("f2i_w_s", (0x3FC00000, 0, 0),          # 1.5
     per_rm((2, NX), (1, NX), (1, NX), (2, NX), (2, NX))),
    ("f2i_w_s", (CNAN, 0, 0), same((0x7FFFFFFF, NV))),
    ("f2i_w_s", (SNAN2, 0, 0), same((0x7FFFFFFF, NV))),   # NaN -> max even if negative
    ("f2i_w_s", (INF, 0, 0), same((0x7FFFFFFF, NV))),
    ("f2i_w_s", (NINF, 0, 0), same((SX | 0x80000000, NV))),
    ("f2i_w_s", (0x4F000000, 0, 0), same((0x7FFFFFFF, NV))),       # 2**31
    ("f2i_w_s", (0xCF000000, 0, 0), same((SX | 0x80000000, 0))),   # -2**31
    ("f2i_w_s", (0xCF000001, 0, 0), same((SX | 0x80000000, NV))),
    ("f2i_w_s", (NZ, 0, 0), same((0, 0))),
    ("f2i_w_s", (MINSUB, 0, 0), per_rm((0, NX), (0, NX), (0, NX), (1, NX), (0, NX))),
    ("f2i_w_s", (0x80000001, 0, 0),
     per_rm((0, NX), (0, NX), (2**64 - 1, NX), (0, NX), (0, NX))),
    ("f2i_wu_s", (0xBF000000, 0, 0),         # -0.5 to unsigned
     per_rm((0, NX), (0, NX), (0, NV), (0, NX), (0, NV))),
    ("f2i_wu_s", (M1, 0, 0), same((0, NV))),
    ("f2i_wu_s", (CNAN, 0, 0), same((2**64 - 1, NV))),
    ("f2i_wu_s", (INF, 0, 0), same((2**64 - 1, NV))),
    ("f2i_wu_s", (NINF, 0, 0), same((0, NV))),
    ("f2i_wu_s", (0x4F32D05E, 0, 0), same((SX | 0xB2D05E00, 0))),  # 3e9, sign-extended
    ("f2i_w_s", (0x4F32D05E, 0, 0), same((0x7FFFFFFF, NV))),
    ("f2i_wu_s", (0x4F800000, 0, 0), same((2**64 - 1, NV))),       # 2**32
    ("f2i_l_s", (0xDF000000, 0, 0), same((1 << 63, 0))),           # -2**63
    ("f2i_lu_s", (0x5F800000, 0, 0), same((2**64 - 1, NV))),       # 2**64
    ("f2i_l_d", (0x43E0000000000000, 0, 0), same((2**63 - 1, NV))),
    ("f2i_l_d", (0xC3E0000000000000, 0, 0), same((1 << 63, 0))),
    ("f2i_lu_d", (0x43E0000000000000, 0, 0), same((1 << 63, 0))),
    ("f2i_lu_d", (0x43F0000000000000, 0, 0), same((2**64 - 1, NV))),
    ("f2i_lu_d", (DNZ, 0, 0), same((0, 0))),
    ("f2i_l_d", (DCNAN, 0, 0), same((2**63 - 1, NV))),
    ("f2i_lu_d", (DSNAN, 0, 0), same((2**64 - 1, NV))),
    ("f2i_w_d", (0x41DFFFFFFFE00000, 0, 0),  # 2**31 - 0.5
     per_rm((0x7FFFFFFF, NV), (0x7FFFFFFF, NX), (0x7FFFFFFF, NX), (0x7FFFFFFF, NV),
            (0x7FFFFFFF, NV))),
    ("f2i_w_d", (0xC1E0000000100000, 0, 0),  # -2**31 - 0.5
     per_rm((SX | 0x80000000, NX), (SX | 0x80000000, NX), (SX | 0x80000000, NV),
            (SX | 0x80000000, NX), (SX | 0x80000000, NV))),
    ("f2i_wu_d", (0xBFE0000000000000, 0, 0),  # -0.5
     per_rm((0, NX), (0, NX), (0, NV), (0, NX), (0, NV))),
    # ---- int -> float
    ("i2f_s_w", (16777217, 0, 0),
     per_rm((0x4B800000, NX), (0x4B800000, NX), (0x4B800000, NX), (0x4B800001, NX),
            (0x4B800001, NX))),
    ("i2f_s_w", (16777219, 0, 0),            # tie, odd below
     per_rm((0x4B800002, NX), (0x4B800001, NX), (0x4B800001, NX), (0x4B800002, NX),
            (0x4B800002, NX))),
    ("i2f_s_w", (0xFEFFFFFF, 0, 0),          # -16777217
     per_rm((0xCB800000, NX), (0xCB800000, NX), (0xCB800001, NX), (0xCB800000, NX),
            (0xCB800001, NX))),
    ("i2f_s_wu", (0xFFFFFFFF, 0, 0),
     per_rm((0x4F800000, NX), (0x4F7FFFFF, NX), (0x4F7FFFFF, NX), (0x4F800000, NX),
            (0x4F800000, NX))),
    ("i2f_s_w", (0xFFFFFFFF, 0, 0), same((M1, 0))),
    ("i2f_s_w", (0x1234567800000001, 0, 0), same((ONE, 0))),    # upper bits ignored
    ("i2f_s_w", (0, 0, 0), same((0, 0))),
    ("i2f_d_l", (1 << 63, 0, 0), same((0xC3E0000000000000, 0))),
    ("i2f_d_lu", (1 << 63, 0, 0), same((0x43E0000000000000, 0))),
    ("i2f_d_lu", (2**64 - 1, 0, 0),
     per_rm((0x43F0000000000000, NX), (0x43EFFFFFFFFFFFFF, NX), (0x43EFFFFFFFFFFFFF, NX),
            (0x43F0000000000000, NX), (0x43F0000000000000, NX))),
    ("i2f_d_w", (0x80000000, 0, 0), same((0xC1E0000000000000, 0))),
    ("i2f_d_wu", (0x80000000, 0, 0), same((0x41E0000000000000, 0))),
    ("i2f_d_l", (2**64 - 1, 0, 0), same((D1 | DNZ, 0))),
    ("i2f_s_l", (2**64 - 1, 0, 0), same((M1, 0))),
    ("i2f_s_lu", (2**64 - 1, 0, 0),
     per_rm((0x5F800000, NX), (0x5F7FFFFF, NX), (0x5F7FFFFF, NX), (0x5F800000, NX),
            (0x5F800000, NX))),
    # ---- float -> float
    ("f2f_s_d", (D1, 0, 0), same((ONE, 0))),
    ("f2f_s_d", (DSNAN, 0, 0), same((CNAN, NV))),
    ("f2f_s_d", (DQNAN, 0, 0), same((CNAN, 0))),
    ("f2f_s_d", (DINF | DNZ, 0, 0), same((NINF, 0))),
    ("f2f_s_d", (DMAX, 0, 0),
     per_rm((INF, OF | NX), (MAXS, OF | NX), (MAXS, OF | NX), (INF, OF | NX), (INF, OF | NX))),
    ("f2f_s_d", (1, 0, 0),
     per_rm((0, UF | NX), (0, UF | NX), (0, UF | NX), (1, UF | NX), (0, UF | NX))),
    ("f2f_s_d", (0x3FF0000010000000, 0, 0),  # 1 + 2**-24
     per_rm((ONE, NX), (ONE, NX), (ONE, NX), (ONE + 1, NX), (ONE + 1, NX))),
    ("f2f_s_d", (0x3690000000000000, 0, 0),  # 2**-150
     per_rm((0, UF | NX), (0, UF | NX), (0, UF | NX), (1, UF | NX), (1, UF | NX))),
    ("f2f_d_s", (ONE, 0, 0), same((D1, 0))),
    ("f2f_d_s", (MINSUB, 0, 0), same((0x36A0000000000000, 0))),
    ("f2f_d_s", (MAXSUB, 0, 0), same((0x380FFFFFC0000000, 0))),
    ("f2f_d_s", (SNAN, 0, 0), same((DCNAN, NV))),
    ("f2f_d_s", (QNAN, 0, 0), same((DCNAN, 0))),
    ("f2f_d_s", (NZ, 0, 0), same((DNZ, 0))),
    ("f2f_d_s", (NINF, 0, 0), same((DINF | DNZ, 0))),
]


def _known_cases():
    for name, (a, b, c), expect in KNOWN:
        for rm, (res, flags) in expect.items():
            yield name, a, b, c, rm, res, flags


def _fmt_case(name, a, b, c, rm):
    return f"{name}(a={a:#x}, b={b:#x}, c={c:#x}, rm={rm})"


def test_known_cover_every_primitive():
    assert {k[0] for k in KNOWN} == set(PRIMITIVES)


def test_softfloat_known_values():
    bad = []
    for name, a, b, c, rm, res, flags in _known_cases():
        got = sf.call(name, a, b, c, rm)
        if got != (res, flags):
            bad.append(f"{_fmt_case(name, a, b, c, rm)}: got ({got[0]:#x}, {got[1]}) "
                       f"want ({res:#x}, {flags})")
    assert not bad, "\n".join(bad[:40])


def test_softfloat_api_matches_dispatcher():
    assert sf.fma(32, TWO, THREE, ONE, RNE) == (0x40E00000, 0)
    assert sf.f2i(64, 0xBFE0000000000000, 32, False, RUP) == (0, NX)
    assert sf.i2f(32, 0xFFFFFFFF, 32, False, RTZ) == (0x4F7FFFFF, NX)
    assert sf.f2f(64, 32, SNAN, RNE) == (DCNAN, NV)
    assert sf.classify(32, QNAN) == (1 << 9, 0)
    assert sf.min(64, DQNAN, D1) == (D1, 0)


# ------------------------------------------------------------- native side

@pytest.fixture(scope="module")
def nat():
    return native.compile_runtime()


def test_native_ir_declares_every_primitive():
    ir = native.runtime_ir()
    for name in PRIMITIVES:
        assert (f"define i64 @rvfp_{name}(i64 %a, i64 %b, i64 %c, i32 %rm, ptr %fflags)"
                in ir)
    assert list(native.PRIMITIVES) == list(PRIMITIVES)


def test_native_known_values(nat):
    bad = []
    for name, a, b, c, rm, res, flags in _known_cases():
        got = native.call(name, a, b, c, rm)
        if got != (res, flags):
            bad.append(f"{_fmt_case(name, a, b, c, rm)}: got ({got[0]:#x}, {got[1]}) "
                       f"want ({res:#x}, {flags})")
    assert not bad, "\n".join(bad[:40])


def test_native_ors_flags_and_restores_mxcsr(nat):
    import ctypes
    fl = ctypes.c_uint32(UF)                 # pre-existing flag must survive
    addr = ctypes.addressof(fl)
    assert (nat["div_s"](ONE, 0, 0, RNE, addr), fl.value) == (INF, DZ | UF)
    vals = [1.0, 2.0 ** -60, 5e-324]         # list: keeps Python from folding
    for rm in (RTZ, RDN, RUP, RMM):
        nat["add_d"](D1, 0x3CA0000000000000, 0, rm, addr)
        nat["f2f_s_d"](0x3FF0000010000000, 0, 0, rm, addr)
        # the host is back in RNE without FTZ/DAZ
        assert vals[0] - vals[1] == 1.0 and vals[0] + vals[1] == 1.0
        assert vals[2] * vals[0] != 0.0


def test_native_upper_bits_of_single_operands_ignored(nat):
    box = 0xFFFFFFFF00000000                 # NaN-boxing bits from the register file
    assert native.call("add_s", box | ONE, box | TWO, 0, RNE) == (THREE, 0)
    assert native.call("f2f_d_s", box | ONE, 0, 0, RNE) == (D1, 0)


# -------------------------------------------------- random differential test

N = int(os.environ.get("RVJIT_FP_N", "2000"))
SEED = os.environ.get("RVJIT_FP_SEED", "1")

_P = {32: (23, 8), 64: (52, 11)}


def _mant(r, mb):
    """Random fraction field biased toward short, all-ones and edge patterns."""
    k = r.random()
    if k < 0.35:
        return r.getrandbits(mb)
    if k < 0.6:                               # few significant bits: exact/tie cases
        n = r.randint(1, 6)
        return (r.getrandbits(n) << (mb - n)) if n <= mb else 0
    if k < 0.7:
        return (1 << mb) - 1 - r.getrandbits(r.randint(0, 4))
    if k < 0.8:
        return r.getrandbits(r.randint(0, 4))
    if k < 0.9:
        return r.choice([0, 1, 1 << (mb - 1), (1 << (mb - 1)) + 1])
    # exactly p+1 / p+2 significant bits, low end at the round position
    return (r.getrandbits(mb) | 1) & ((1 << mb) - 1)


def _flt(r, fmt, elo=None, ehi=None):
    """Random float bits: specials, subnormals, boundaries, or a random
    biased exponent in [elo, ehi]."""
    mb, eb = _P[fmt]
    emax = (1 << eb) - 1
    sign = r.getrandbits(1) << (fmt - 1)
    k = r.random()
    if elo is None and k < 0.15:
        special = [0, 1, (1 << mb) - 1, 1 << mb, emax << mb, (emax << mb) - 1,
                   (emax << mb) | (1 << (mb - 1)), (emax << mb) | 1,
                   (emax << mb) | r.getrandbits(mb) | 1, ((1 << (eb - 1)) - 1) << mb]
        return sign | r.choice(special)
    if elo is None and k < 0.25:
        return sign | r.getrandbits(mb) | (0 if r.random() < 0.5 else 1)   # subnormal
    if elo is None:
        elo, ehi = (1, emax - 1) if k < 0.6 else (r.choice(
            [(1, 40), (emax - 40, emax - 1), ((1 << (eb - 1)) - 40, (1 << (eb - 1)) + 70)]))
    E = r.randint(max(elo, 0), min(ehi, emax - 1))
    m = _mant(r, mb)
    if E == 0 and m == 0:
        m = 1
    return sign | (E << mb) | m


def _bias(fmt):
    return (1 << (_P[fmt][1] - 1)) - 1


def _operands(r, name):
    """Operand triple for primitive `name`, biased toward hard cases."""
    parts = name.split("_")
    op = parts[0]
    if op == "f2i":
        fmt = 32 if parts[2] == "s" else 64
        bias, mb = _bias(fmt), _P[fmt][0]
        k = r.random()
        if k < 0.15:                          # n + 1/2 and neighbours: ties
            n = r.getrandbits(r.randint(1, 63))
            x = sf.i2f(fmt, 2 * n + 1, 64, False, RNE)[0] - (1 << mb)   # /2
            x += r.choice([0, 0, 0, -1, 1])
            return x | (r.getrandbits(1) << (fmt - 1)), 0, 0
        if k < 0.5:                           # |x| in [0.25, 2**66)
            return _flt(r, fmt, bias - 2, bias + 66), 0, 0
        if k < 0.75:                          # near the 32/64-bit bounds
            e = r.choice([30, 31, 32, 62, 63, 64])
            x = (bias + e) << mb | r.choice([0, 1, (1 << mb) - 1, r.getrandbits(mb)])
            return x | (r.getrandbits(1) << (fmt - 1)), 0, 0
        return _flt(r, fmt), 0, 0
    if op == "i2f":
        w = 32 if parts[2] in ("w", "wu") else 64
        k = r.random()
        if k < 0.4:
            n = r.randint(1, w)
            v = r.getrandbits(n) | (1 << (n - 1))
        elif k < 0.7:                         # p+1.. significant bits around ties
            n = r.randint(20, w)
            v = ((1 << n) - 1) ^ (r.getrandbits(min(n, 30)) << r.randint(0, max(0, n - 30)))
            v &= (1 << w) - 1
        else:
            v = r.getrandbits(64)
        if r.random() < 0.5 and v:
            v = (-v) & ((1 << w) - 1)
        return v | (r.getrandbits(64) & ~((1 << w) - 1) if w == 32 else 0), 0, 0
    if name == "f2f_s_d":
        k = r.random()
        if k < 0.5:
            x = _flt(r, 64, 1023 - 160, 1023 + 130)
        elif k < 0.7:                         # exactly 25..26 significant bits
            x = _flt(r, 64, 1023 - 155, 1023 + 129)
            x = (x >> 27 << 27) | (1 << 28)
        else:
            x = _flt(r, 64)
        return x, 0, 0
    if name == "f2f_d_s":
        return _flt(r, 32), 0, 0
    fmt = 32 if parts[1] == "s" else 64
    mb = _P[fmt][0]
    bias = _bias(fmt)
    a, b, c = _flt(r, fmt), _flt(r, fmt), _flt(r, fmt)
    k = r.random()
    if op in ("add", "sub", "fma", "min", "max", "eq", "lt", "le") and k < 0.4:
        # operands close together: cancellation, equal values, sticky bits
        src = a if op != "fma" else c
        delta = r.choice([0, 1, 2, r.getrandbits(3), r.getrandbits(mb // 2),
                          r.getrandbits(mb + 3)])
        other = (src + r.choice([-1, 1]) * delta) & ((1 << fmt) - 1)
        if r.random() < 0.5:
            other ^= 1 << (fmt - 1)
        if op == "fma":
            # make c cancel a*b: c = -(a*b rounded toward zero) +- a few ulps
            p, _ = sf.mul(fmt, a, b, RTZ)
            c = ((p ^ (1 << (fmt - 1))) + r.choice([-2, -1, 0, 1, 2])) & ((1 << fmt) - 1)
        else:
            b = other
    elif op in ("mul", "div", "fma") and k < 0.75:
        # exponents placed so the result lands near underflow/overflow,
        # with short mantissas so ties occur
        ea = r.randint(1, 2 * bias)
        target = r.choice([1 - 2 - mb + r.randint(-4, 30), 2 * bias - r.randint(0, 3),
                           r.randint(-mb - 3, 4)])
        eb_ = (target - (ea - bias)) + bias if op != "div" else (ea - bias) - target + bias
        eb_ = max(0, min(2 * bias, eb_))
        a = (r.getrandbits(1) << (fmt - 1)) | (ea << mb) | _mant(r, mb)
        b = (r.getrandbits(1) << (fmt - 1)) | (eb_ << mb) | _mant(r, mb)
        if r.random() < 0.3:                  # small odd integers: exact products/ties
            a = (a & ~((1 << mb) - 1)) | (r.getrandbits(r.randint(1, mb)) << r.randint(0, 3))
            a &= (1 << fmt) - 1
    elif op in ("div", "fma") and k < 0.9:
        # short significands scaled into the subnormal range (div) or
        # products with ~p+1 bits plus a small addend (fma): exact ties
        if op == "div":
            sa = r.getrandbits(r.randint(1, mb + 1)) | 1
            a = (sa >> 1 if sa >> mb else sa) or 1     # a subnormal
            b = (bias + r.randint(0, 4)) << mb
        else:
            la = r.randint(1, mb + 1)         # product of ~p+1 bits
            sb = r.getrandbits(mb + 3 - la) | 1 | (1 << (mb + 2 - la))
            sa = r.getrandbits(la) | 1 | (1 << (la - 1))
            a = sf.i2f(fmt, sa, 64, False, RTZ)[0]
            b = sf.i2f(fmt, sb, 64, False, RTZ)[0]
            c = r.choice([0, sf.i2f(fmt, 1 << r.randint(0, 2 * mb), 64, False, RNE)[0]])
        a |= r.getrandbits(1) << (fmt - 1)
        b |= r.getrandbits(1) << (fmt - 1)
        c |= r.getrandbits(1) << (fmt - 1)
    elif op == "sqrt" and k < 0.5:
        a = _flt(r, fmt, 1, 2 * bias) & ~(1 << (fmt - 1))
    return a, b, c


def _differential(nat, name, n, seed):
    r = random.Random(f"{name}:{seed}")
    bad = []
    fn = nat[name]
    import ctypes
    fl = ctypes.c_uint32()
    addr = ctypes.addressof(fl)
    for rm in ALL_RM:
        for _ in range(n):
            a, b, c = _operands(r, name)
            fl.value = 0
            got = (fn(a, b, c, rm, addr), fl.value)
            want = sf.call(name, a, b, c, rm)
            if got != want:
                bad.append(f"{_fmt_case(name, a, b, c, rm)}: native ({got[0]:#x}, {got[1]})"
                           f" softfloat ({want[0]:#x}, {want[1]})")
    return bad


@pytest.mark.parametrize("name", PRIMITIVES)
def test_native_matches_softfloat(nat, name):
    bad = _differential(nat, name, N, SEED)
    assert not bad, f"{len(bad)} mismatches:\n" + "\n".join(bad[:20])
