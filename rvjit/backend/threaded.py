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
from typing import NamedTuple

import numpy as np

from ..frontend.decode import decode, insn_length
from ..frontend.lift import IllegalInsn, MAX_BLOCK_INSNS, PAGE, lift_insn
from ..ir.builder import Builder, ILLEGAL
from ..ir.ops import MASK64, SymbolicDecision, Value
from .engine import Engine
from .handlerbundle import HandlerBundles, Remembered
from .dispatcher import DISPATCHER
from .handlergen import BYTE_OPERANDS, EXECUTOR, RECORD, RECORD_FIELDS, handlers_module

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
        # What this engine compiles is made from rvjit's own code alone (handlers of whole
        # definitions, the executor, the block scanner and translator): kept in the handler
        # library, not the translation cache (objcache.library_directory).
        self.engine = Engine(opt_level, cache_dir="library")
        # Handlers for single instruction words (CSR accesses: a Linux boot needs hundreds) are
        # compiled unoptimised (five times cheaper than -O2), one module each when a block
        # needs them; later runs link those remembered a bundle at a time (handlerbundle).
        self.word_engine = Engine(0)
        # A new bundle of word handlers is compiled at exit (unoptimised, together: less than the
        # next run linking them one by one); one of definitions (optimised: costlier) by the
        # compile server, while the next run links them one by one.
        self.bundles = (
            HandlerBundles(self.engine, "definitions", self._lift_remembered, _fn_name, build_now=False),
            HandlerBundles(self.word_engine, "words", self._lift_remembered, _fn_name, build_now=True))
        self.addresses: dict = {}          # key -> handler address (UNSUPPORTED: none possible)
        self.uses_fp: set = set()          # keys whose handler calls the FP runtime
        self.symbolic: dict[str, bool] = {}   # definition name -> can be lifted symbolically
        self.ends: dict = {}               # key -> "jump" (a terminator) / "block" (csr) / None
        self._pending: dict = {}           # key -> lifted Builder, not compiled yet
        self._bundle_due = False           # a handler was taken from a bundle not linked yet
        self.words: dict = {}              # instruction word -> WordInfo (None: no handler)
        self.compiled_handlers = 0
        self.compile_seconds = 0.0
        t0 = time.perf_counter()
        cm = self.engine.compile(handlers_module([], with_executor=True), [EXECUTOR, DISPATCHER])
        self.executor = cm.addresses[EXECUTOR]
        self.dispatcher = cm.addresses[DISPATCHER]
        self.compile_seconds += time.perf_counter() - t0

    def key(self, insn):
        """The handler key for a decoded instruction; lifts (not compiles) a new handler."""
        name = ILLEGAL_KEY if isinstance(insn, IllegalInsn) else insn.defn.name
        ok = self.symbolic.get(name)
        if ok is None:
            ok = self.symbolic[name] = self._prepare(name, insn)
        if ok:
            return name
        key = (name, insn.raw)
        if key not in self.ends and key not in self.addresses:     # nor lifted, taken or impossible
            if not self._prepare(key, insn):
                self.addresses[key] = UNSUPPORTED
        return key

    def _bundles_of(self, key) -> HandlerBundles:
        return self.bundles[not isinstance(key, str)]

    @staticmethod
    def _lift(key, insn) -> Builder | None:
        """key's handler: a definition's with symbolic operands, a word's with its own."""
        if isinstance(key, str):
            return lift_handler(semantics_of(insn), {}, key)
        return lift_handler(semantics_of(insn), dict(insn.fields, raw=insn.raw), key[0])

    def _prepare(self, key, insn) -> bool:
        """Take key's handler from its remembered bundle, or lift it for compile_pending; False
        if no handler is possible."""
        bundles = self._bundles_of(key)
        remembered = bundles.take(key)
        if remembered is None:
            b = self._lift(key, insn)
            if b is None:
                return False
            self._lifted(key, b)
            remembered = Remembered(insn.raw, self.ends[key], key in self.uses_fp)
        else:
            self.ends[key] = remembered.end
            if remembered.fp:
                self.uses_fp.add(key)
            address = bundles.address(key)
            if address is None:             # its bundle is linked by compile_pending
                self._bundle_due = True
            else:
                self.addresses[key] = address
        bundles.note(key, remembered)
        return True

    def _lift_remembered(self, key, remembered: Remembered) -> Builder | None:
        """A remembered handler lifted again (to build its bundle), from its instruction word."""
        raw = remembered.raw
        insn = decode(raw, 0) or IllegalInsn(raw, 0, insn_length(raw))
        name = ILLEGAL_KEY if isinstance(insn, IllegalInsn) else insn.defn.name
        if key != (name if isinstance(key, str) else (name, raw)):
            return None
        return self._lift(key, insn)

    def _lifted(self, key, b: Builder):
        self._pending[key] = b
        # Where a block must end is a property of the definition: lifting with symbolic
        # operands emits a terminator, or a CSR access, whenever the concrete lift does (a
        # Python decision that could differ has been refused). The concrete lift may also end
        # early where a trap condition folds to true; the handler then traps at run time.
        self.ends[key] = "jump" if b.ended else "block" if b.ends_block else None
        if any(op.name == "fp" for op in b.ops):
            self.uses_fp.add(key)

    def compiling(self, key) -> bool:
        """Whether key's handler is lifted and waits for compile_pending (not from a bundle)."""
        return key in self._pending

    def compile_pending(self):
        """Compile every handler lifted since the last call: those of whole definitions in one
        optimised module, those of single words in one unoptimised module; and link the
        remembered bundles a handler was taken from."""
        if not self._pending and not self._bundle_due:
            return
        t0 = time.perf_counter()
        for bundles in self.bundles:
            self.addresses.update(bundles.link())
        self._bundle_due = False
        named = [(_fn_name(k), k, b) for k, b in self._pending.items() if isinstance(k, str)]
        if named:
            cm = self.engine.compile(handlers_module([(n, b) for n, _, b in named]), [n for n, _, _ in named])
            for n, k, b in named:
                self.addresses[k] = cm.addresses[n]
        words = [(_fn_name(k), k, b) for k, b in self._pending.items() if not isinstance(k, str)]
        if words:       # one module: each costs ~5 ms to compile alone, ~1 ms in a batch
            cm = self.word_engine.compile(handlers_module([(n, b) for n, _, b in words]), [n for n, _, _ in words])
            for n, k, _ in words:
                self.addresses[k] = cm.addresses[n]
        self.compiled_handlers += len(self._pending)
        self._pending.clear()
        self.compile_seconds += time.perf_counter() - t0


_library: HandlerLibrary | None = None


def library() -> HandlerLibrary:
    global _library
    if _library is None:
        _library = HandlerLibrary()
    return _library


class WordInfo(NamedTuple):
    """What the translator needs to know about one instruction word, whatever its address."""
    key: object                   # handler key
    length: int                   # 2 or 4 bytes
    end: str | None               # "jump": ends the block after it; "block": likewise (CSR...)
    tail: bytes                   # the record's operand bytes after `raw`, packed
    imm: int
    fp: bool                      # the handler calls the FP runtime


WORD_MEMO_LIMIT = 1 << 18         # distinct instruction words remembered (a kernel has ~100 k)
# A record is its word's template (pc, next_pc and k are filled in by the executor)
_WORD = struct.Struct("<Q24xQQ")    # handler, (pc, next_pc, k), imm, raw
_TAIL = struct.Struct("<10BHI")     # rd rs1 rs2 rs3 rm aq rl pred succ length, csr, pad1
_HEADER = struct.Struct("<QQQQ32x")  # instruction count, counter index, pc, 0: not placed yet
assert _WORD.size + _TAIL.size == RECORD.itemsize == _HEADER.size
assert [RECORD.fields[f][1] for f in ("handler", "imm", "raw", "rd", "length")] == [0, 32, 40, 48, 57]


def record_operands(insn, length: int) -> tuple[bytes, int]:
    """A decoded instruction's record operands: the packed bytes after `raw`, and imm."""
    f = insn.fields
    return (_TAIL.pack(*(f.get(name, 0) for name in BYTE_OPERANDS), length, f.get("csr", 0), 0),
            f.get("imm", 0) & MASK64)


def word_info(lib: "HandlerLibrary", raw: int) -> WordInfo | None:
    """The handler and record operands of an instruction word (memoised); None if no handler
    is possible for it (its block is then compiled)."""
    info = lib.words.get(raw)
    if info is not None or raw in lib.words:
        return info
    length = insn_length(raw)
    insn = decode(raw, 0) or IllegalInsn(raw, 0, length)
    key = lib.key(insn)
    if key in lib.ends:
        tail, imm = record_operands(insn, length)
        info = WordInfo(key, length, lib.ends[key], tail, imm, key in lib.uses_fp)
    if len(lib.words) < WORD_MEMO_LIMIT:
        lib.words[raw] = info
    return info


CSR_BATCH_LIMIT = 64


def lift_csr_words(lib: "HandlerLibrary", code: bytes):
    """Lift (for the next compile_pending) the handlers of the CSR access words in code (guest
    code around one that needs its own): word handlers are compiled together then, instead of
    one module each as blocks meet them (a kernel has a few hundred, often several to a
    function). A word that only looks like one (in data), or never runs, costs a handler
    nobody runs."""
    words = np.frombuffer(code[:len(code) & ~1], dtype=np.uint16)
    if len(words) < 2:
        return
    lows, highs = words[:-1].astype(np.uint32), words[1:].astype(np.uint32)
    raw = lows | highs << 16
    # the SYSTEM opcode's csrrw/csrrs/csrrc and immediate forms (funct3 0 and 4 are not CSR
    # accesses); a set, not np.unique, which imports numpy.ma
    csr = (raw & 0x7F == 0x73) & ((raw >> 12) & 7 != 0) & ((raw >> 12) & 7 != 4)
    for word in sorted(set(raw[csr].tolist()))[:CSR_BATCH_LIMIT]:
        if word not in lib.words:
            word_info(lib, word)


def lift_code_ahead(lib: "HandlerLibrary", code: bytes):
    """Lift the handlers of the instructions in code (guest code from a block whose definition
    handler is new, read as the instruction stream from there), so compile_pending compiles the
    definitions they need in one optimised module: alone, each costs ~10 ms to compile, and a
    kernel boot meets ~90 of them a few blocks apart. The words are remembered (word_info) for
    when blocks meet them."""
    at, end = 0, len(code)
    while at + 2 <= end:
        raw = code[at] | code[at + 1] << 8
        if raw & 3 == 3:
            if at + 4 > end:
                break
            raw |= code[at + 2] << 16 | code[at + 3] << 24
            at += 4
        else:
            at += 2
        if raw not in lib.words:
            word_info(lib, raw)


def fetch_window(mem, pc: int) -> bytes:
    """Instruction bytes from pc to the end of its page plus the next page's first halfword,
    up to the first that cannot be fetched (code outside RAM, or a page-crossing block)."""
    limit = min(PAGE - (pc & (PAGE - 1)) + 2, 4 * MAX_BLOCK_INSNS + 2)
    out, cur = bytearray(), pc
    while len(out) < limit:
        half = mem.fetch(cur, 2)
        if half is None:
            break
        out += half
        cur += 2
    return bytes(out)


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


def record_template(lib: HandlerLibrary, raw: int, info: WordInfo) -> bytes:
    """The 64 bytes every record of this word starts as (its handler compiled): pc, next_pc
    and k are filled in by the executor when it first runs the block."""
    return _WORD.pack(lib.addresses[info.key], info.imm, raw) + info.tail


def words_of(code: bytes) -> list[int]:
    """The instruction words in a block's bytes."""
    words, cur = [], 0
    while cur + 2 <= len(code):
        raw = code[cur] | code[cur + 1] << 8
        if raw & 3 == 3:
            raw |= (code[cur + 2] | code[cur + 3] << 8) << 16
        words.append(raw)
        cur += insn_length(raw)
    return words


def decode_words(pc: int, raws) -> list:
    """The decoded instructions of a block from its words (for lifting when it is promoted)."""
    insns = []
    for raw in raws:
        length = insn_length(raw)
        insns.append(decode(raw, pc) or IllegalInsn(raw, pc, length))
        pc = (pc + length) & MASK64
    return insns
