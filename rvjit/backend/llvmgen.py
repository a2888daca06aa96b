"""Lowering: one block of rvjit IR -> the text of an LLVM function `void @name(ptr %s, ptr %data)`.

Guest registers are loaded from the hart state on first use and kept in SSA values; they are
written back at every exit. Memory accesses look up the software TLB inline and call the Python
slow path only on a miss. A block ends by chaining straight to the next block through the native
jump cache (a `musttail` call), or by returning to the Python run loop with a reason.

FunctionWriter holds the per-function state and lowers the IR ops; its mixins lower exits and
chaining (exitlower), memory accesses (memlower), FP ops (fplower) and CSR ops (csrlower). The
module-level functions put whole LLVM modules together.
"""
from ..cpu.state import OFFSETS, EXIT_TRAP, EXIT_SYS, SYS_KINDS
from .csrlower import CsrLowering
from .exitlower import ExitLowering
from .llvmconst import c64
from .fplower import FAST_FP, FpLowering
from .memlower import MemLowering
from .sfencelower import SfenceLowering

_BINOPS = {"add": "add", "sub": "sub", "mul": "mul", "and": "and", "or": "or", "xor": "xor"}
_SHIFTS = {"shl": "shl", "lshr": "lshr", "ashr": "ashr"}
_CMPS = {"eq": "eq", "ne": "ne", "lt": "slt", "ltu": "ult", "ge": "sge", "geu": "uge"}
_FIELD_OFFSETS = {f: OFFSETS[f] for f in ("frm", "fflags", "mstatus", "priv", "resv")}

DECLS = """declare double @llvm.sqrt.f64(double)
declare double @llvm.fma.f64(double, double, double)
declare i64 @llvm.ctlz.i64(i64, i1)
declare i64 @llvm.cttz.i64(i64, i1)
declare i64 @llvm.ctpop.i64(i64)
declare i64 @llvm.bswap.i64(i64)
"""


class FunctionWriter(ExitLowering, MemLowering, FpLowering, CsrLowering, SfenceLowering):
    def __init__(self, name: str, block, counter_index: int | None = None, compact: bool = False,
                 inline_memory: bool | None = None):
        self.name = name
        self.counter_index = counter_index
        # Compact (first-tier) code is small to compile: guest registers are written through to
        # the hart state at once, and memory accesses call shared runtime functions (unless
        # inline_memory: threaded-code handlers are compiled once, so size does not matter).
        self.compact = compact
        self.memory_calls = compact if inline_memory is None else not inline_memory
        self.ops = block.ops
        self.insns = block.insns
        self.lines: list[str] = []
        self.tmp = 0
        self.regs: dict[tuple[str, int], str] = {}     # ("x"|"f", n) -> current SSA value
        self.dirty: set[tuple[str, int]] = set()
        self.values: dict[int, str] = {}
        self.stop_flags: list[str] = []                 # i1 values: a helper asked us to stop
        self.cur_label = "entry"
        self.budget_base = "%budget0"                   # the budget when this guest block began
        # Optimised code keeps state fields (mstatus, frm, fflags...) it has read or written in
        # SSA values: only the FP runtime (fflags) and the CSR helper change them behind its back
        # (a memory helper only ever traps, which leaves the block). So the mstatus.FS test of
        # every FP instruction after the first folds away.
        self.field_values: dict[str, str] = {}

    # --- small emitters --------------------------------------------------------------------------
    def t(self) -> str:
        self.tmp += 1
        return f"%t{self.tmp}"

    def label(self, hint="L") -> str:
        self.tmp += 1
        return f"{hint}{self.tmp}"

    def emit(self, line: str):
        self.lines.append("  " + line)

    def start(self, label: str):
        self.lines.append(f"{label}:")
        self.cur_label = label

    def val(self, v) -> str:
        return c64(v.const) if v.const is not None else self.values[v.vid]

    def field_ptr(self, offset: int) -> str:
        p = self.t()
        self.emit(f"{p} = getelementptr i8, ptr %s, i64 {offset}")
        return p

    def load_field(self, offset: int, ty="i64") -> str:
        p, r = self.field_ptr(offset), self.t()
        self.emit(f"{r} = load {ty}, ptr {p}")
        return r

    def store_field(self, offset: int, value: str, ty="i64"):
        p = self.field_ptr(offset)
        self.emit(f"store {ty} {value}, ptr {p}")

    def reg_offset(self, kind, n):
        return OFFSETS[kind] + 8 * n

    # --- ops -----------------------------------------------------------------------------------
    def lower(self, op):
        n, a = op.name, [self.val(v) for v in op.args]
        idx = op.insn_index
        e = self.emit
        if n in _BINOPS:
            r = self.t(); e(f"{r} = {_BINOPS[n]} i64 {a[0]}, {a[1]}"); return r
        if n in _SHIFTS:
            m, r = self.t(), self.t()
            e(f"{m} = and i64 {a[1]}, 63")
            e(f"{r} = {_SHIFTS[n]} i64 {a[0]}, {m}")
            return r
        if n in _CMPS:
            c, r = self.t(), self.t()
            e(f"{c} = icmp {_CMPS[n]} i64 {a[0]}, {a[1]}")
            e(f"{r} = zext i1 {c} to i64")
            return r
        if n == "select":
            c, r = self.t(), self.t()
            e(f"{c} = icmp ne i64 {a[0]}, 0")
            e(f"{r} = select i1 {c}, i64 {a[1]}, i64 {a[2]}")
            return r
        if n == "sext":
            bits, tr, r = op.attrs["bits"], self.t(), self.t()
            e(f"{tr} = trunc i64 {a[0]} to i{bits}")
            e(f"{r} = sext i{bits} {tr} to i64")
            return r
        if n == "zext":
            r = self.t(); e(f"{r} = and i64 {a[0]}, {c64((1 << op.attrs['bits']) - 1)}"); return r
        if n in ("mulh", "mulhu", "mulhsu"):
            xa, xb, p, h, r = self.t(), self.t(), self.t(), self.t(), self.t()
            e(f"{xa} = {'zext' if n == 'mulhu' else 'sext'} i64 {a[0]} to i128")
            e(f"{xb} = {'sext' if n == 'mulh' else 'zext'} i64 {a[1]} to i128")
            e(f"{p} = mul i128 {xa}, {xb}")
            e(f"{h} = lshr i128 {p}, 64")
            e(f"{r} = trunc i128 {h} to i64")
            return r
        if n in ("div", "divu", "rem", "remu"):
            return self.lower_div(n, a[0], a[1])
        if n in ("clz", "ctz"):
            r = self.t(); e(f"{r} = call i64 @llvm.{'ctlz' if n == 'clz' else 'cttz'}.i64(i64 {a[0]}, i1 false)")
            return r
        if n == "cpop":
            r = self.t(); e(f"{r} = call i64 @llvm.ctpop.i64(i64 {a[0]})"); return r
        if n == "bswap":
            r = self.t(); e(f"{r} = call i64 @llvm.bswap.i64(i64 {a[0]})"); return r
        if n == "orcb":       # high bit of each byte <- byte != 0; then spread it over the byte
            lo7, s1, y, hb, ones, r = (self.t() for _ in range(6))
            k7f, k80 = c64(0x7F7F7F7F7F7F7F7F), c64(0x8080808080808080)
            e(f"{lo7} = and i64 {a[0]}, {k7f}")
            e(f"{s1} = add i64 {lo7}, {k7f}")
            e(f"{y} = or i64 {s1}, {a[0]}")
            e(f"{hb} = and i64 {y}, {k80}")
            e(f"{ones} = lshr i64 {hb}, 7")
            e(f"{r} = mul i64 {ones}, 255")
            return r
        if n in ("getx", "getf"):
            return self.read_reg((n[3], op.attrs["reg"]))
        if n in ("setx", "setf"):
            self.write_reg((n[3], op.attrs["reg"]), a[0])
            return None
        if n == "get":
            return self.read_field(op.attrs["field"])
        if n == "set":
            self.write_field(op.attrs["field"], a[0]); return None
        if n == "load":
            return self.mem_access(op, idx, a[0])
        if n == "store":
            if op.args[2].const is not None:
                if op.args[2].const:
                    self.mem_access(op, idx, a[0], a[1])
                return None
            c, do, skip = self.t(), self.label("st"), self.label("nost")
            e(f"{c} = icmp ne i64 {a[2]}, 0")
            before = self.cur_label
            e(f"br i1 {c}, label %{do}, label %{skip}")
            self.start(do)
            self.mem_access(op, idx, a[0], a[1])
            inner_stop = self.stop_flags.pop()
            end = self.cur_label
            e(f"br label %{skip}")
            self.start(skip)
            sf = self.t()
            e(f"{sf} = phi i1 [false, %{before}], [{inner_stop}, %{end}]")
            self.stop_flags.append(sf)
            return None
        if n == "csr":
            return self.lower_csr(op, idx, a)
        if n == "fp":
            if not self.memory_calls and op.attrs["prim"] in FAST_FP:
                return self.lower_fp_with_fast_path(op, a)
            return self.call_fp(op, a)
        if n == "trap_if":
            c = self.t()
            e(f"{c} = icmp ne i64 {a[0]}, 0")
            self.side_exit(c, c64(self.insns[idx].pc), idx, EXIT_TRAP,
                           [(OFFSETS["trap_cause"], a[1], "i64"), (OFFSETS["trap_tval"], a[2], "i64")])
            return None
        if n == "trap":
            self.exit_now(c64(self.insns[idx].pc), idx, EXIT_TRAP,
                          [(OFFSETS["trap_cause"], a[0], "i64"), (OFFSETS["trap_tval"], a[1], "i64")])
            return None
        if n == "sfence":
            self.lower_sfence(a, idx)
            return None
        if n == "sys":
            self.exit_now(c64(self.insns[idx].pc), idx, EXIT_SYS,
                          [(OFFSETS["exit_sys"], str(SYS_KINDS.index(op.attrs["kind"])), "i32")])
            return None
        if n == "jump":
            self.chain(a[0], idx + 1); return None
        if n == "goto":     # the block simply ends after instruction idx
            self.chain(c64(op.attrs["target"]), idx + 1); return None
        if n == "branch":
            self.lower_branch(a[0], op.attrs["target"], op.attrs["fall"], idx + 1)
            return None
        raise NotImplementedError(f"no LLVM lowering for IR op {n}")

    def read_field(self, name: str) -> str:
        value = self.field_values.get(name)
        if value is None:
            value = self.load_field(_FIELD_OFFSETS[name])
            if not self.compact:
                self.field_values[name] = value
        return value

    def write_field(self, name: str, value: str):
        self.store_field(_FIELD_OFFSETS[name], value)
        if not self.compact:
            self.field_values[name] = value

    def read_reg(self, key):
        if key not in self.regs:
            self.regs[key] = self.load_field(self.reg_offset(*key))
        return self.regs[key]

    def write_reg(self, key, value):
        self.regs[key] = value
        if self.compact:
            self.store_field(self.reg_offset(*key), value)
        else:
            self.dirty.add(key)
    def lower_div(self, n, x, y):
        """RISC-V division is total; LLVM's is not: route the undefined cases around the divide."""
        e = self.emit
        z, safe_y, q, r = self.t(), self.t(), self.t(), self.t()
        e(f"{z} = icmp eq i64 {y}, 0")
        if n in ("div", "rem"):
            mn, m1, ov, bad = self.t(), self.t(), self.t(), self.t()
            e(f"{mn} = icmp eq i64 {x}, {c64(1 << 63)}")
            e(f"{m1} = icmp eq i64 {y}, -1")
            e(f"{ov} = and i1 {mn}, {m1}")
            e(f"{bad} = or i1 {z}, {ov}")
            e(f"{safe_y} = select i1 {bad}, i64 1, i64 {y}")
            e(f"{q} = {'sdiv' if n == 'div' else 'srem'} i64 {x}, {safe_y}")
            t2 = self.t()
            if n == "div":       # x/0 = -1; MIN/-1 = MIN (= x / 1)
                e(f"{r} = select i1 {z}, i64 -1, i64 {q}")
            else:                # x%0 = x; MIN%-1 = 0
                e(f"{t2} = select i1 {ov}, i64 0, i64 {q}")
                e(f"{r} = select i1 {z}, i64 {x}, i64 {t2}")
            return r
        e(f"{safe_y} = select i1 {z}, i64 1, i64 {y}")
        e(f"{q} = {'udiv' if n == 'divu' else 'urem'} i64 {x}, {safe_y}")
        e(f"{r} = select i1 {z}, i64 {'-1' if n == 'divu' else x}, i64 {q}")
        return r

    def write(self) -> str:
        self.emit("%ram = load ptr, ptr " + self.field_ptr(OFFSETS["ram"]))
        self.emit("%budget0 = load i64, ptr " + self.field_ptr(OFFSETS["budget"]))
        self.count_run()
        self.lower_ops()
        return self.function_text()

    def count_run(self):
        if self.counter_index is not None:      # first tier: count runs to find hot blocks
            base, cp, c, c1 = self.t(), self.t(), self.t(), self.t()
            self.emit(f"{base} = load ptr, ptr {self.field_ptr(OFFSETS['counters'])}")
            self.emit(f"{cp} = getelementptr i64, ptr {base}, i64 {self.counter_index}")
            self.emit(f"{c} = load i64, ptr {cp}")
            self.emit(f"{c1} = add i64 {c}, 1")
            self.emit(f"store i64 {c1}, ptr {cp}")

    def lower_ops(self):
        last_index = -1
        for op in self.ops:
            if op.insn_index != last_index:
                self.stop_flags_checkpoint(last_index)
                last_index = op.insn_index
            r = self.lower(op)
            if op.result is not None:
                self.values[op.result.vid] = r

    def function_text(self) -> str:
        body = "\n".join(self.lines)
        # Every block function takes (state, data): threaded blocks share one executor function
        # and differ in their data (the records); compiled blocks ignore it. One signature lets
        # any block `musttail` into any other through the jump cache.
        return (f"define void @{self.name}(ptr noalias %s, ptr %data) nounwind {{\nentry:\n{body}\n}}\n")


_METADATA = ('!0 = !{!"branch_weights", i32 1, i32 2000}\n'
             '!1 = !{!"branch_weights", i32 2000, i32 1}\n')


def block_module(name: str, block) -> str:
    """A complete LLVM module holding the optimised-tier function for one lifted block."""
    return blocks_module([(name, block)])


def first_tier_module(named_blocks) -> str:
    """Compact code for [(name, block, counter_index)] in one module."""
    return DECLS + "".join(FunctionWriter(n, b, c, compact=True).write() for n, b, c in named_blocks) + _METADATA


def blocks_module(named_blocks) -> str:
    """One LLVM module holding several blocks: [(name, block)] (compiling in batches is cheaper)."""
    return DECLS + "".join(FunctionWriter(n, b).write() for n, b in named_blocks) + _METADATA
