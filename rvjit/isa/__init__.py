"""The RISC-V specification as data: importing this package registers every instruction."""
from . import spec, rv64i, zicsr, priv  # noqa: F401  (registration happens on import)
from .spec import INSTRUCTIONS, COMPRESSED, BY_NAME, Insn, InsnDef  # noqa: F401

for _ext in ("m", "a", "f", "d", "zb", "c"):
    try:
        __import__(f"{__name__}.{_ext}")
    except ModuleNotFoundError as e:       # extensions land one by one
        if e.name != f"{__name__}.{_ext}":
            raise
