"""The table of native FP primitive functions that generated code calls through hart.fp_table."""
import ctypes

from ..fp import PRIMITIVES

_tables = []      # keep tables alive as long as the process (they are small)


def fp_table(engine) -> int:
    """Compile the FP runtime into `engine` and return the address of its function table."""
    from ..fp.native import runtime_ir
    names = [f"rvfp_{p}" for p in PRIMITIVES]
    cm = engine.compile(runtime_ir(), names)
    table = (ctypes.c_void_p * len(names))(*(cm.addresses[n] for n in names))
    _tables.append(table)
    return ctypes.addressof(table)
