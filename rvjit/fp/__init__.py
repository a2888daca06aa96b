"""RISC-V F/D floating-point primitives.

Two implementations of the same primitive set: `softfloat` (pure-Python,
exact; the reference interpreter's oracle) and `native` (LLVM IR run on the
host's SSE unit; the JIT's hot path). Both are indexed by PRIMITIVES.
"""

# Fixed order: the JIT calls the native versions through a table in this order.
PRIMITIVES = (
    "add_s add_d sub_s sub_d mul_s mul_d div_s div_d sqrt_s sqrt_d "
    "fma_s fma_d min_s min_d max_s max_d eq_s eq_d lt_s lt_d le_s le_d "
    "class_s class_d "
    "f2i_w_s f2i_wu_s f2i_l_s f2i_lu_s f2i_w_d f2i_wu_d f2i_l_d f2i_lu_d "
    "i2f_s_w i2f_s_wu i2f_s_l i2f_s_lu i2f_d_w i2f_d_wu i2f_d_l i2f_d_lu "
    "f2f_s_d f2f_d_s"
).split()

# RISC-V rounding modes (frm / instruction rm field, already resolved).
RNE, RTZ, RDN, RUP, RMM = range(5)

# RISC-V fflags bits.
NV, DZ, OF, UF, NX = 16, 8, 4, 2, 1
