"""Constants and small snippets as LLVM IR text, shared by the lowering modules."""
from ..ir.ops import to_signed


def c64(v: int) -> str:
    """A 64-bit value as an LLVM i64 literal (LLVM prints and parses them signed)."""
    return str(to_signed(v & ((1 << 64) - 1)))


def load_word(base: str, index: int, name: str, ty: str = "i64") -> str:
    """IR loading u64 word `index` of the array at pointer `base` as %name (and %name.p its
    address, for a store back)."""
    return (f"  %{name}.p = getelementptr i64, ptr {base}, i64 {index}\n"
            f"  %{name} = load {ty}, ptr %{name}.p\n")
