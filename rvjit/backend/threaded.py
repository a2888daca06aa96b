"""Threaded code: the first tier, which runs a block without compiling it.

A threaded block is an array of records, one per guest instruction, each naming the native
handler of its instruction definition and holding the instruction's operands (pc, rd, imm...).
The executor (handlergen.EXECUTOR) calls the handlers in turn. Handlers are compiled from the same
semantics as everything else (rvjit.isa), lifted ONCE per definition with symbolic operands: the
fields are IR values read from the record at run time.

Semantics that make a Python decision on an operand (zicsr's `rd != 0`, the FP rounding-mode
check) raise SymbolicDecision while being lifted that way; such a definition instead gets a
handler per concrete instruction word (all fields constant, only pc symbolic), compiled in a batch
when a block first needs it. If even that is impossible the block is compiled as before.

Handlers reach everything through the state pointer (no host addresses are baked in), so one
library serves every Translator in the process.
"""
import struct
import time

import numpy as np

from ..cpu.trap import GuestTrap
from ..frontend.lift import IllegalInsn, MAX_BLOCK_INSNS, PAGE, decode_at, lift_insn
from ..ir.builder import Builder, ILLEGAL
from ..ir.ops import EVAL, MASK64, TERMINATORS, SymbolicDecision, Value
from .engine import Engine
from .handlergen import EXECUTOR, RECORD, RECORD_FIELDS, handlers_module

ILLEGAL_KEY = "(illegal)"
UNSUPPORTED = 0                  # address of a handler that could not be built


class _RecordInsn:
    """The instruction seen by semantics while a handler is lifted: operands in `fixed` are
    constants (a specialised handler); the others are read from the record at run time."""

    def __init__(self, builder: Builder, fixed: dict, name: str = "?"):
        self.name = name
        self._b = builder
        self._fixed = fixed
        self._read: dict[str, Value] = {}

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        fixed = self.__dict__["_fixed"]
        if name in fixed:
            return fixed[name]
        if name not in RECORD_FIELDS:
            raise AttributeError(name)
        read = self.__dict__["_read"]
        if name not in read:
            read[name] = self._b.field(name)
        return read[name]


def _illegal_semantics(b, i):
    b.trap(ILLEGAL, i.raw)


def _has_symbolic_attr(builder: Builder) -> bool:
    """An op attribute must be a compile-time constant; a Value there means a mis-lift."""
    return any(isinstance(v, Value) for op in builder.ops for v in op.attrs.values())


def lift_handler(semantics, fixed: dict, name: str = "?") -> Builder | None:
    """Lift one instruction's semantics for a handler; None if they need concrete operands."""
    b = Builder(0)
    i = _RecordInsn(b, fixed, name)
    b.begin(i)
    try:
        semantics(b, i)
    except (SymbolicDecision, TypeError):
        return None
    return None if _has_symbolic_attr(b) else b


def semantics_of(insn):
    return _illegal_semantics if isinstance(insn, IllegalInsn) else insn.defn.semantics


def _fn_name(key) -> str:
    name, raw = (key, None) if isinstance(key, str) else key
    base = "h_" + "".join(c if c.isalnum() else "_" for c in name)
    return base if raw is None else f"{base}_{raw:x}"


class HandlerLibrary:
    """Compiled handlers by key: a definition's name (symbolic operands), or (name, raw word)."""

    def __init__(self, opt_level: int = 2):
        self.engine = Engine(opt_level)
        self.addresses: dict = {}          # key -> handler address (UNSUPPORTED: none possible)
        self.uses_fp: set = set()          # keys whose handler calls the FP runtime
        self.symbolic: dict[str, bool] = {}   # definition name -> can be lifted symbolically
        self.ends: dict = {}               # key -> "jump" (a terminator) / "block" (csr) / None
        self._pending: dict = {}           # key -> lifted Builder, not compiled yet
        self.builders: dict = {}           # key -> lifted Builder (for static_targets)
        self._operands: dict = {}          # raw word -> its operand fields, packed-record order
        self.compiled_handlers = 0
        self.compile_seconds = 0.0
        t0 = time.perf_counter()
        cm = self.engine.compile(handlers_module([], with_executor=True), [EXECUTOR])
        self.executor = cm.addresses[EXECUTOR]
        self.compile_seconds += time.perf_counter() - t0

    def key(self, insn):
        """The handler key for a decoded instruction; lifts (not compiles) a new handler."""
        if isinstance(insn, IllegalInsn):
            name, fields = ILLEGAL_KEY, None
        else:
            name = insn.defn.name
            fields = insn.fields
        ok = self.symbolic.get(name)
        if ok is None:
            b = lift_handler(semantics_of(insn), {}, name)
            ok = self.symbolic[name] = b is not None
            if ok:
                self._lifted(name, b)
        if ok:
            return name
        key = (name, insn.raw)
        if key not in self.addresses and key not in self._pending:
            fixed = dict(fields or {}, raw=insn.raw)
            b = lift_handler(semantics_of(insn), fixed, name)
            if b is None:
                self.addresses[key] = UNSUPPORTED
            else:
                self._lifted(key, b)
        return key

    def _lifted(self, key, b: Builder):
        self._pending[key] = b
        self.builders[key] = b
        # Where a block must end is a property of the definition: lifting with symbolic
        # operands emits a terminator, or a CSR access, whenever the concrete lift does (a
        # Python decision that could differ has been refused). The concrete lift may also end
        # early where a trap condition folds to true; the handler then traps at run time.
        self.ends[key] = "jump" if b.ended else "block" if b.ends_block else None
        if any(op.name == "fp" for op in b.ops):
            self.uses_fp.add(key)

    def compile_pending(self):
        """Compile every handler lifted since the last call, in one module."""
        if not self._pending:
            return
        t0 = time.perf_counter()
        named = [(_fn_name(k), k, b) for k, b in self._pending.items()]
        cm = self.engine.compile(handlers_module([(n, b) for n, _, b in named]), [n for n, _, _ in named])
        for n, k, b in named:
            self.addresses[k] = cm.addresses[n]
        self.compiled_handlers += len(named)
        self._pending.clear()
        self.compile_seconds += time.perf_counter() - t0


_library: HandlerLibrary | None = None


def library() -> HandlerLibrary:
    global _library
    if _library is None:
        _library = HandlerLibrary()
    return _library


class PageFetch:
    """mem.fetch for one translation batch, reading each RAM code page once (fetching through
    the MMU two bytes at a time costs more than decoding). Translation is per page, so every
    byte of a page is fetchable exactly when its first one is."""

    def __init__(self, mem):
        self.mem = mem
        self.pages: dict[int, bytes | None] = {}

    def __call__(self, vaddr: int, n: int):
        off = vaddr & (PAGE - 1)
        if off + n <= PAGE:
            vpage = vaddr // PAGE
            if vpage not in self.pages:
                self.pages[vpage] = self._read_page(vaddr - off)
            page = self.pages[vpage]
            if page is not None:
                return page[off:off + n]
        return self.mem.fetch(vaddr, n)          # faults, devices, page-crossing reads

    def _read_page(self, vbase: int) -> bytes | None:
        try:
            pbase = self.mem.translate(vbase, -1)
        except GuestTrap:
            return None
        ram = self.mem.ram
        return ram.read(pbase, PAGE) if ram.contains(pbase, PAGE) else None


class ScannedBlock:
    """A block found by decoding alone: its instructions and their handler keys."""

    def __init__(self, insns, keys):
        self.insns, self.keys = insns, keys


def scan_block(lib: HandlerLibrary, fetch, pc: int) -> ScannedBlock | None:
    """Decode the block at pc, ending it where lift_block would, without lifting it. None if an
    instruction has no handler (the block is then lifted and compiled)."""
    insns, keys, cur = [], [], pc
    while True:
        insn = decode_at(fetch, cur)
        if insn is None:                 # fetch fault: the next block traps there
            break
        key = lib.key(insn)
        if key not in lib.ends:          # no handler possible
            return None
        insns.append(insn)
        keys.append(key)
        if lib.ends[key] == "jump":
            break
        cur = insn.next_pc
        if lib.ends[key] == "block" or len(insns) >= MAX_BLOCK_INSNS or (cur ^ pc) >= PAGE:
            break
    return ScannedBlock(insns, keys) if insns else None


def lift_insns(insns) -> Builder:
    """The IR of a scanned block (what lift_block gives), from its decoded instructions: so a
    promoted block is exactly the instructions its records ran, whatever memory holds now."""
    b = Builder(insns[0].pc)
    for insn in insns:
        lift_insn(b, insn)
        if b.ended:
            break
    if not b.ended:
        b.goto(insns[-1].next_pc)
    return b


def static_targets(lib: HandlerLibrary, key, insn) -> list[int]:
    """Where a block ending with insn continues, as far as its operands tell (the successors
    worth translating in the same batch): its handler's IR evaluated on the known operands,
    following both sides of a select whose condition is only known at run time."""
    known: dict[int, set | None] = {}

    def values(v):
        return {v.const} if v.const is not None else known.get(v.vid)

    link = False
    for op in lib.builders[key].ops:
        r, n = None, op.name
        if n == "field":
            name = op.attrs["name"]
            r = {getattr(insn, name) if name in ("pc", "next_pc", "raw") else insn.fields.get(name, 0) & MASK64}
        elif n == "select" and values(op.args[0]) is None:
            a, b = values(op.args[1]), values(op.args[2])
            r = a | b if a is not None and b is not None else None
        elif n in EVAL:
            args = [values(a) for a in op.args]
            if all(a is not None and len(a) == 1 for a in args):
                r = {EVAL[n](*(next(iter(a)) for a in args), **op.attrs)}
        elif n == "setx_at":      # a call (writing ra or t0) usually comes back to the next insn
            link = link or values(op.args[0]) in ({1}, {5})
        elif n == "jump":
            return sorted(values(op.args[0]) or ()) + ([insn.next_pc] if link else [])
        elif n in TERMINATORS:
            return []
        if op.result is not None:
            known[op.result.vid] = r
    return [insn.next_pc]


_PACK = struct.Struct("<6Q10BHI")       # one record, in RECORD's layout
assert _PACK.size == RECORD.itemsize


def build_records(lib: HandlerLibrary, insns, keys, counter: int) -> np.ndarray:
    """The header and records of a scanned block (its handlers compiled)."""
    buf = bytearray(RECORD.itemsize * (len(insns) + 1))
    struct.pack_into("<QQ", buf, 0, len(insns), counter)
    pack, addresses, size, operands = _PACK.pack_into, lib.addresses, RECORD.itemsize, lib._operands
    for k, (insn, key) in enumerate(zip(insns, keys), 1):
        ops = operands.get(insn.raw)     # a 16-bit and a 32-bit raw word never coincide
        if ops is None:
            f = insn.fields
            ops = operands[insn.raw] = (
                f.get("imm", 0) & MASK64, f.get("rd", 0), f.get("rs1", 0), f.get("rs2", 0), f.get("rs3", 0),
                f.get("rm", 0), f.get("aq", 0), f.get("rl", 0), f.get("pred", 0), f.get("succ", 0), f.get("csr", 0))
        imm, rd, rs1, rs2, rs3, rm, aq, rl, pred, succ, csr = ops
        pack(buf, k * size, addresses[key], insn.pc, insn.next_pc, imm, insn.raw, k - 1,
             rd, rs1, rs2, rs3, rm, aq, rl, pred, succ, 0, csr, 0)
    return np.frombuffer(buf, dtype=RECORD)
