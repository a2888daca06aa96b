"""rvjit: a JIT-compiling RISC-V full-system emulator."""
import os

# numpy's OpenBLAS starts a thread per core when numpy is imported; rvjit does no linear algebra,
# and on a small machine those threads only compete with the compile server (and cost start-up).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
