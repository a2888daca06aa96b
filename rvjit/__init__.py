"""rvjit: a JIT-compiling RISC-V full-system emulator."""
