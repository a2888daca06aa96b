"""Constants as LLVM IR text, shared by the lowering modules."""
from ..ir.ops import to_signed


def c64(v: int) -> str:
    """A 64-bit value as an LLVM i64 literal (LLVM prints and parses them signed)."""
    return str(to_signed(v & ((1 << 64) - 1)))
