"""`rvjit explain`: every stage of translating one guest block, for people learning how it works."""
import time

from .errors import GuestInputError
from .machine import Machine

_RULE = "=" * 78


def _section(title: str, body: str) -> str:
    return f"\n{_RULE}\n{title}\n{_RULE}\n{body.rstrip()}\n"


def _symbolizer(image):
    def sym(addr):
        found = image.symbol_at(addr)
        if found is None:
            return None
        name, off = found
        return f"{name}+{off:#x}" if off else name
    return sym


def explain_block(path, pc=None, symbol=None, mem_size=128 << 20, opt=2) -> str:
    from .backend.engine import Engine
    from .backend.llvmgen import block_module
    from .frontend.disasm import format_insn
    from .frontend.lift import lift_block

    machine = Machine(mem_size)
    image = machine.load_elf(path)
    if symbol is not None:
        if symbol not in image.symbols:
            raise GuestInputError(f"{path}: no symbol named {symbol!r}")
        pc = image.symbols[symbol]
    if pc is None:
        pc = image.entry
    fetch = machine.hart.mem.fetch
    if fetch(pc, 2) is None:
        raise GuestInputError(f"{path}: address {pc:#x} is not in guest memory")

    t0 = time.perf_counter()
    block = lift_block(fetch, pc)
    t1 = time.perf_counter()
    name = f"block_{pc:x}"
    llvm_ir = block_module(name, block)
    t2 = time.perf_counter()
    engine = Engine(opt)
    compiled = engine.compile(llvm_ir, [name], keep_module=True)
    asm = engine.assembly(llvm_ir)
    sym = _symbolizer(image)

    where = sym(pc)
    last = block.insns[-1]
    size = last.pc + last.length - pc
    out = [f"Block at {pc:#x}{f' <{where}>' if where else ''}: {len(block.insns)} instructions, "
           f"{size} bytes of guest code"]

    raw = fetch(pc, size) or b""
    hexdump = "\n".join(f"{pc + i:x}:  " + " ".join(f"{b:02x}" for b in raw[i:i + 16])
                        for i in range(0, len(raw), 16))
    out.append(_section("1. Guest bytes (little-endian, as in memory)", hexdump))

    lines = []
    for insn in block.insns:
        word = f"{insn.raw:04x}" if insn.length == 2 else f"{insn.raw:08x}"
        try:
            text = format_insn(insn, sym)
        except Exception:          # an illegal word: the disassembler has nothing to say
            text = "(illegal instruction)"
        lines.append(f"{insn.pc:x}:  {word:<8}  {text}")
    out.append(_section("2. Decoded instructions (same syntax as objdump -d)", "\n".join(lines)))
    out.append(_section("3. rvjit IR (each instruction's semantics, constants folded)", block.dump()))
    out.append(_section("4. LLVM IR as generated (guest registers live in SSA values; exits store them back)",
                        llvm_ir))
    out.append(_section(f"5. LLVM IR after optimisation (-O{opt})", compiled.optimized_ir or ""))
    out.append(_section("6. Host assembly", asm))
    timing = (f"decode + lift        {(t1 - t0) * 1e3:8.3f} ms\n"
              f"LLVM IR generation   {(t2 - t1) * 1e3:8.3f} ms\n"
              f"LLVM parse           {engine.parse_seconds * 1e3:8.3f} ms\n"
              f"LLVM optimise        {engine.opt_seconds * 1e3:8.3f} ms\n"
              f"LLVM code generation {engine.codegen_seconds * 1e3:8.3f} ms")
    out.append(_section("7. Translation time", timing))
    return "".join(out)
