"""Differential testing of rvjit: random RISC-V programs run on the reference interpreter, the JIT
and (when installed) QEMU, with their final architectural state compared byte for byte.

    generator.py   seeded random program generator -> assembly text
    harness.py     assemble/link, run on each side, compare, minimise a failing program
    __main__.py    command line for reproducing one seed:  cd tests && python -m difftest --help
"""
from .generator import MIXES, QEMU_BUGS, Item, Program, generate  # noqa: F401
from .harness import (  # noqa: F401
    JIT_CONFIGS, BatchRunner, BuildError, Mismatch, Outcome, TaskResult, build, check_program,
    compare, have_qemu, have_toolchain, jit_has_fp, minimise, run_qemu, run_rvjit, run_task,
)
