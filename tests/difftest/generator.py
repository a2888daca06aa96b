"""Seeded random RISC-V RV64GC(+Zba/Zbb/Zbs) programs, emitted as assembly text.

A program is a prologue (trap vector, mstatus.FS, fcsr, random x/f register values), a body of
random instructions, and an epilogue that stores x1..x31, f0..f31, fflags and frm into a result
area and, when `print_flag` is set, prints that area and the scratch buffer as hex on the HTIF
console, then exits through HTIF. Every program is valid (it assembles) and terminates: branches
go forward, the only backward branches close bounded counter loops or return from calls, and all
memory accesses stay inside the scratch buffer.

The body is a tree of `Item`s (a loop or a skipped region holds child items) so that a failing
program can be shrunk by deleting or unwrapping items without ever producing an invalid program.
"""
from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field, replace

MASK64 = (1 << 64) - 1

XNAMES = ("zero ra sp gp tp t0 t1 t2 s0 s1 a0 a1 a2 a3 a4 a5 a6 a7 "
          "s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 t3 t4 t5 t6").split()

# Registers with a fixed role in every program. sp and s0 point into the scratch buffer (the
# compressed loads/stores can only address through sp and x8..x15), gp at the FP constant table,
# t6 counts loop iterations. Random instructions read them but never write them.
SP, GP, S0, COUNTER = 2, 3, 8, 31
RESERVED = frozenset({0, SP, GP, S0, COUNTER})
FREE_X = tuple(r for r in range(32) if r not in RESERVED)
RVC_X = tuple(range(8, 16))                      # registers a 3-bit compressed field can name

SCRATCH_SIZE = 512
S0_OFFSET = 256                                  # s0 = scratch + 256: negative offsets, too
# Scratch starts 256 bytes before a page boundary so misaligned accesses near s0 cross pages.
SCRATCH_PAGE_OFFSET = 4096 - 256
# Result area: x0..x31, f0..f31, fflags, frm (8 bytes each).
RESULT_X, RESULT_F, RESULT_FFLAGS, RESULT_FRM = 0, 256, 512, 520
RESULT_SIZE = 528
TRAP_EXIT_BASE = 64                              # exit status of a program that trapped: 64 + mcause

ROUNDING_MODES = ("rne", "rtz", "rdn", "rup", "rmm", "dyn")

# --- interesting values ------------------------------------------------------------------------

X_SPECIALS = (0, 1, 2, MASK64, MASK64 - 1, 1 << 63, (1 << 63) - 1, 0x80000000, 0x7FFFFFFF,
              0xFFFFFFFF, 0xFFFFFFFF80000000, 0x100000000, 0xFFFF, 0x8000, 0xFF, 0x80,
              0x8000000000000001, 31, 32, 63, 64)

D_SPECIALS = (
    0x0000000000000000, 0x8000000000000000,                     # +-0
    0x7FF0000000000000, 0xFFF0000000000000,                     # +-inf
    0x7FF8000000000000, 0xFFF8000000000000, 0x7FF8000000000ABC,  # qNaNs
    0x7FF0000000000001, 0xFFF4000000000000,                     # sNaNs
    0x0000000000000001, 0x800FFFFFFFFFFFFF, 0x000FFFFFFFFFFFFF,  # subnormals
    0x0010000000000000, 0x8010000000000000,                     # min normals
    0x7FEFFFFFFFFFFFFF, 0xFFEFFFFFFFFFFFFF,                     # max normals
    0x3FF0000000000000, 0xBFF0000000000000, 0x3FE0000000000000, 0x3FF8000000000000,
    0x4000000000000000, 0x4008000000000000, 0x3FB999999999999A, 0x3FD5555555555555,
    0x4004000000000000, 0xC00C000000000000, 0x3FE0000000000001, 0x4330000000000001,
    0x41DFFFFFFFC00000, 0x41E0000000000000, 0xC1E0000000000000, 0xC1E0000000200000,  # int32 edges
    0x41EFFFFFFFE00000, 0x41F0000000000000, 0x43E0000000000000, 0xC3E0000000000000,  # 2^32, 2^63
    0x43F0000000000000, 0xC3E0000000000001, 0x43DFFFFFFFFFFFFF,
    0x36A0000000000000, 0x3810000000000000, 0x380FFFFFFFFFFFFF,  # single subnormal/normal edges
    0x47EFFFFFE0000000, 0x47EFFFFFF0000000, 0x3690000000000000,  # single max, overflow, underflow
    0x2000000000000000, 0x1FF0000000000000, 0x5FF0000000000000,  # products that under/overflow
)
S_SPECIALS = (
    0x00000000, 0x80000000, 0x7F800000, 0xFF800000,
    0x7FC00000, 0xFFC00000, 0x7FC00123, 0x7F800001, 0xFFA00000,
    0x00000001, 0x807FFFFF, 0x007FFFFF, 0x00800000, 0x80800000, 0x7F7FFFFF, 0xFF7FFFFF,
    0x3F800000, 0xBF800000, 0x3F000000, 0x3FC00000, 0x40000000, 0x40400000, 0x3DCCCCCD,
    0x3EAAAAAB, 0x40200000, 0xC0600000, 0x4B000001, 0x3F000001,
    0x4F000000, 0xCF000000, 0x4EFFFFFF, 0xCF000001, 0x4F800000, 0x4F7FFFFF,   # int32 edges
    0x5F000000, 0xDF000000, 0x5F800000, 0xDF000001,                          # int64 edges
    0x20000000, 0x1F800000, 0x5F7FFFFF, 0x0C000000,
)
N_DOUBLES = N_SINGLES = 64
D_TABLE_OFFSET, S_TABLE_OFFSET = 0, 8 * N_DOUBLES


def _random_float_bits(rng, ebits, mbits):
    bias = (1 << (ebits - 1)) - 1
    emax = (1 << ebits) - 1
    kind = rng.randrange(6)
    if kind == 0:
        exp = rng.randrange(emax + 1)                        # anything, NaNs included
    elif kind == 1:
        exp = rng.choice((0, 1, 2, emax - 1, emax - 2))      # range edges
    elif kind == 2:
        exp = bias + rng.randint(-3, mbits + 2)              # near 1 and integer-sized values
    elif kind == 3:
        exp = bias + rng.randint(62, 66) if ebits == 11 else bias + rng.randint(29, 33)
        exp = min(exp, emax - 1)
    else:
        exp = bias + rng.randint(-bias // 2, bias // 2)
    mant = rng.getrandbits(mbits)
    if rng.random() < 0.2:
        mant &= ~((1 << rng.randrange(mbits)) - 1)           # few significant bits: exact results
    return (rng.getrandbits(1) << (ebits + mbits)) | (exp << mbits) | mant


def random_double_bits(rng):
    return _random_float_bits(rng, 11, 52)


def random_single_bits(rng):
    return _random_float_bits(rng, 8, 23)


def random_xvalue(rng) -> int:
    k = rng.randrange(8)
    if k < 2:
        return rng.choice(X_SPECIALS)
    if k == 2:
        return rng.randint(-16, 16) & MASK64
    if k == 3:
        v = rng.getrandbits(32)
        return (v - (1 << 32) if v >> 31 else v) & MASK64       # sign-extended word
    if k == 4:
        return (1 << rng.randrange(64)) ^ (MASK64 if rng.random() < 0.3 else 0)
    if k == 5:                                                  # a double's bits: fmv.d.x fodder
        return random_double_bits(rng)
    return rng.getrandbits(64)


def signed64(v: int) -> int:
    v &= MASK64
    return v - (1 << 64) if v >> 63 else v


# --- program structure -------------------------------------------------------------------------

@dataclass
class Item:
    """Body lines `head`, then child items, then `tail`. `count` approximates the instructions in
    head and tail; `unwrappable` items may be replaced by their children when shrinking (every
    structured item: its children are valid anywhere its own position is)."""
    head: list[str]
    children: list["Item"] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)
    count: int = 1
    unwrappable: bool = False

    def lines(self):
        yield from self.head
        for child in self.children:
            yield from child.lines()
        yield from self.tail

    def size(self) -> int:
        return self.count + sum(c.size() for c in self.children)


@dataclass
class Program:
    seed: int
    mix: str
    n_insns: int
    rvc: bool
    items: list[Item]
    x_init: dict[int, int]
    f_init: list[tuple[str, int]]          # per f register: ("flw"|"fld", table offset)
    fcsr_init: int
    doubles: list[int]
    singles: list[int]
    scratch_init: bytes
    uses_fp: bool

    def body_lines(self) -> list[str]:
        return [line for item in self.items for line in item.lines()]

    def body_size(self) -> int:
        return sum(item.size() for item in self.items)

    def with_items(self, items: list[Item]) -> "Program":
        return replace(self, items=items)

    def asm(self, stop_at_end: bool = False) -> str:
        """The program as assembly text. stop_at_end puts a wfi right after the body, where an
        rvjit run stops (see harness.run_rvjit) so the final state is read from the hart itself:
        the store-heavy epilogue would dominate the JIT's compile time. Otherwise that slot holds
        a nop of the same size, so code and data addresses are identical in both versions."""
        out = [f"# rvjit difftest: seed={self.seed} mix={self.mix} n={self.n_insns} rvc={self.rvc}",
               '    .section .text.init, "ax"',
               "    .option norelax",
               "    .option rvc" if self.rvc else "    .option norvc",
               "    .globl _start",
               "_start:"]
        out += self._prologue()
        out.append("body_start:")
        out += ["    " + line if not line.endswith(":") else line for line in self.body_lines()]
        out.append("body_end:")
        out += ["    .option push", "    .option norvc",
                "    wfi" if stop_at_end else "    nop", "    .option pop"]
        out += _EPILOGUE.splitlines()
        out += self._data()
        return "\n".join(out) + "\n"

    def _prologue(self) -> list[str]:
        p = ["    lla t0, trap_handler",
             "    csrw mtvec, t0",
             "    li t0, 0x2000",                      # mstatus.FS = Initial
             "    csrs mstatus, t0",
             f"    li t0, {self.fcsr_init}",
             "    csrw fcsr, t0",
             "    lla gp, fp_table"]
        # fmv from integer registers rather than loads from the table: the JIT compiles a long
        # run of FP loads slowly, and the body loads from the table anyway.
        for r, (op, off) in enumerate(self.f_init):
            if op == "fld":
                value = self.doubles[(off - D_TABLE_OFFSET) // 8]
                p += [f"    li t0, {signed64(value)}", f"    fmv.d.x f{r}, t0"]
            else:
                value = self.singles[(off - S_TABLE_OFFSET) // 4]
                p += [f"    li t0, {signed64(value)}", f"    fmv.w.x f{r}, t0"]
        p += ["    lla sp, scratch",
              f"    addi s0, sp, {S0_OFFSET}",
              "    li t6, 0"]
        for r, v in sorted(self.x_init.items()):
            p.append(f"    li {XNAMES[r]}, {signed64(v)}")
        return p

    def _data(self) -> list[str]:
        d = ['    .section .data, "aw"',
             "    .balign 4096",
             "    .globl fp_table",
             "fp_table:"]
        d += [f"    .dword {v:#018x}" for v in self.doubles]
        d += [f"    .word {v:#010x}" for v in self.singles]
        d += ["    .balign 64",
              "    .globl result",
              "result:",
              f"    .zero {RESULT_SIZE}",
              "    .balign 8",
              "    .globl print_flag",
              "print_flag:",
              "    .dword 1",
              "hex_digits:",
              '    .ascii "0123456789abcdef"',
              "    .balign 4096",
              f"    .zero {SCRATCH_PAGE_OFFSET}",
              "    .globl scratch",
              "scratch:"]
        for k in range(0, len(self.scratch_init), 16):
            d.append("    .byte " + ", ".join(f"{b:#04x}" for b in self.scratch_init[k:k + 16]))
        d += ['    .section .tohost, "aw", @progbits',
              "    .balign 4096",
              "    .globl tohost",
              "tohost:",
              "    .dword 0",
              "    .size tohost, 8",
              "    .globl fromhost",
              "fromhost:",
              "    .dword 0",
              "    .size fromhost, 8"]
        return d


# Stores the state right after the body, prints it when print_flag is set, exits with status 0.
# A trap anywhere exits with status 64 + mcause (nothing in a valid program traps).
_EPILOGUE = "\n".join(
    ["    csrw mscratch, ra",
     "    lla ra, result"]
    + [f"    sd x{r}, {RESULT_X + 8 * r}(ra)" for r in range(2, 32)]
    + ["    csrr t0, mscratch",
       f"    sd t0, {RESULT_X + 8}(ra)"]
    + [f"    fsd f{r}, {RESULT_F + 8 * r}(ra)" for r in range(32)]
    + ["    frflags t0",
       f"    sd t0, {RESULT_FFLAGS}(ra)",
       "    frrm t0",
       f"    sd t0, {RESULT_FRM}(ra)",
       "    lla t0, print_flag",
       "    ld t0, 0(t0)",
       "    beqz t0, 3f",
       "    li a2, 'R'",
       "    jal putchar",
       "    li a2, ':'",
       "    jal putchar",
       "    lla s2, result",
       f"    addi s3, s2, {RESULT_SIZE}",
       "    jal print_hex",
       "    lla s2, scratch",
       f"    addi s3, s2, {SCRATCH_SIZE}",
       "    jal print_hex",
       "    li a2, 10",
       "    jal putchar",
       "3:  li t0, 1",
       "    lla t1, tohost",
       "    sd t0, 0(t1)",
       "4:  j 4b",
       "",
       "# print the bytes [s2, s3) as hex; clobbers s2, s4, s5, a2, t0-t3",
       "print_hex:",
       "    mv s5, ra",
       "    lla s4, hex_digits",
       "1:  lbu t0, 0(s2)",
       "    srli t0, t0, 4",
       "    add t0, t0, s4",
       "    lbu a2, 0(t0)",
       "    jal putchar",
       "    lbu t0, 0(s2)",
       "    andi t0, t0, 15",
       "    add t0, t0, s4",
       "    lbu a2, 0(t0)",
       "    jal putchar",
       "    addi s2, s2, 1",
       "    bltu s2, s3, 1b",
       "    jr s5",
       "",
       "# HTIF console putchar (device 1, command 1): a2 = character",
       "putchar:",
       "    lla t1, tohost",
       "    li t2, 0x0101000000000000",
       "    or t2, t2, a2",
       "    sd t2, 0(t1)",
       "1:  ld t3, 0(t1)",
       "    bnez t3, 1b",
       "    lla t1, fromhost",
       "    sd zero, 0(t1)",
       "    ret",
       "",
       "    .balign 4",
       "trap_handler:",
       "    csrr t0, mcause",
       f"    addi t0, t0, {TRAP_EXIT_BASE}",
       "    slli t0, t0, 1",
       "    ori t0, t0, 1",
       "    lla t1, tohost",
       "    sd t0, 0(t1)",
       "5:  j 5b"])


# --- the generator -----------------------------------------------------------------------------

R_OPS = ("add sub sll slt sltu xor srl sra or and addw subw sllw srlw sraw "
         "mul mulh mulhsu mulhu div divu rem remu mulw divw divuw remw remuw "
         "add.uw sh1add sh1add.uw sh2add sh2add.uw sh3add sh3add.uw "
         "andn orn xnor max maxu min minu rol ror rolw rorw bclr bext binv bset").split()
I_OPS = "addi slti sltiu xori ori andi addiw".split()
SHIFT64_OPS = "slli srli srai slli.uw rori bclri bexti binvi bseti".split()
SHIFT32_OPS = "slliw srliw sraiw roriw".split()
UNARY_OPS = "clz ctz cpop sext.b sext.h clzw ctzw cpopw zext.h orc.b rev8".split()
LOADS = {"lb": 1, "lbu": 1, "lh": 2, "lhu": 2, "lw": 4, "lwu": 4, "ld": 8}
STORES = {"sb": 1, "sh": 2, "sw": 4, "sd": 8}
AMO_OPS = "amoswap amoadd amoxor amoand amoor amomin amomax amominu amomaxu".split()
ORDERINGS = ("", ".aq", ".rl", ".aqrl")
BRANCHES = ("beq", "bne", "blt", "bge", "bltu", "bgeu")

# Relative weights of the item kinds in each instruction mix.
MIXES: dict[str, dict[str, int]] = {
    "int": {"alu": 12, "li": 1, "mem": 2},
    "mem": {"alu": 3, "li": 1, "mem": 8, "amo": 4},
    "ctrl": {"alu": 6, "li": 1, "mem": 1, "branch": 4, "loop": 1, "jump": 2},
    "rvc": {"rvc": 10, "alu": 3, "li": 1, "mem": 2, "branch": 1, "fpmem": 1},
    "fp": {"fp": 14, "fpconst": 3, "fpmem": 2, "fcsr": 2, "alu": 1, "li": 1},
    "all": {"alu": 8, "li": 1, "mem": 3, "amo": 1, "branch": 2, "loop": 1, "jump": 1, "rvc": 3,
            "fp": 8, "fpconst": 2, "fpmem": 1, "fcsr": 1},
}
FP_KINDS = frozenset({"fp", "fpconst", "fpmem", "fcsr"})
STRUCTURED_KINDS = frozenset({"branch", "loop", "jump"})
MAX_DEPTH = 3


@dataclass(frozen=True)
class Ctx:
    depth: int = 0
    in_loop: bool = False
    protected: frozenset = frozenset()        # x registers the current region must not write
    flat: bool = False                        # only unstructured items (short-range branches)


def generate(seed: int, n_insns: int = 200, mix: str = "all", fp: bool = True,
             qemu_safe: bool = False) -> Program:
    """A reproducible random program of about n_insns body instructions. fp=False drops the FP
    item kinds (for a JIT built without its FP runtime). qemu_safe steers around known QEMU 7.2
    bugs (see QEMU_BUGS) without changing anything else: same seed, same program otherwise."""
    return _Generator(seed, n_insns, mix, fp, qemu_safe).program()


# Known QEMU 7.2 deviations from the specification, avoided when comparing with QEMU.
QEMU_BUGS = {
    "ctzw": "QEMU 7.2 counts trailing zeros of all 64 bits when rs1[31:0] == 0 (ctzw of "
            "0x20000000000 gives 41, the spec says 32); a qemu_safe program sign-extends the "
            "operand first (sext.w rd, rs; ctzw rd, rd), which keeps the "
            "answer and hides the bug",
}


class _Generator:
    def __init__(self, seed, n_insns, mix, fp, qemu_safe=False):
        self.qemu_safe = qemu_safe
        self.rng = random.Random(f"{seed}/{mix}/{n_insns}/{fp}")
        self.seed, self.n_insns, self.mix = seed, n_insns, mix
        weights = {k: w for k, w in MIXES[mix].items() if fp or k not in FP_KINDS}
        self.rvc = mix in ("rvc", "all") or self.rng.random() < 0.3
        if not self.rvc:
            weights.pop("rvc", None)
        self.kinds, self.weights = list(weights), list(weights.values())
        self.uses_fp = any(k in FP_KINDS for k in self.kinds)
        self.labels = 0

    # -- helpers --
    def label(self) -> str:
        self.labels += 1
        return f".Ll{self.labels}"

    def rd(self, ctx, allow_zero=True) -> str:
        if allow_zero and self.rng.random() < 0.03:
            return "zero"
        choices = [r for r in FREE_X if r not in ctx.protected]
        return XNAMES[self.rng.choice(choices)]

    def rs(self) -> str:
        if self.rng.random() < 0.1:
            return XNAMES[self.rng.choice((0, SP, GP, S0, COUNTER))]
        return XNAMES[self.rng.choice(FREE_X)]

    def frd(self) -> str:
        return f"f{self.rng.randrange(32)}"

    frs = frd

    def rm(self) -> str:
        r = self.rng.random()
        if r < 0.4:
            return ""                                        # gas default: dyn
        return ", " + self.rng.choice(ROUNDING_MODES)

    def mem_operand(self, size, ctx, max_off=SCRATCH_SIZE):
        """(setup lines, "off(base)") for an access of `size` bytes inside the scratch buffer."""
        rng = self.rng
        aligned = rng.random() < 0.7
        lo = rng.randrange(0, SCRATCH_SIZE - size + 1)
        if aligned:
            lo -= lo % size
        k = rng.randrange(3)
        if k == 0:
            return [], f"{lo}(sp)"
        if k == 1:
            return [], f"{lo - S0_OFFSET}(s0)"
        tmp = self.rd(ctx, allow_zero=False)                # computed base: tmp + off
        split = rng.randint(0, lo)
        return [f"addi {tmp}, sp, {split}"], f"{lo - split}({tmp})"

    # -- program --
    def program(self) -> Program:
        rng = self.rng
        doubles = list(D_SPECIALS) + [random_double_bits(rng) for _ in range(N_DOUBLES - len(D_SPECIALS))]
        singles = list(S_SPECIALS) + [random_single_bits(rng) for _ in range(N_SINGLES - len(S_SPECIALS))]
        rng.shuffle(doubles)
        rng.shuffle(singles)
        f_init = [("fld", D_TABLE_OFFSET + 8 * rng.randrange(N_DOUBLES)) if rng.random() < 0.5
                  else ("flw", S_TABLE_OFFSET + 4 * rng.randrange(N_SINGLES)) for _ in range(32)]
        x_init = {r: random_xvalue(rng) for r in FREE_X}
        fcsr = (rng.randrange(5) << 5) | (rng.randrange(32) if rng.random() < 0.3 else 0)
        scratch = bytes(rng.getrandbits(8) for _ in range(SCRATCH_SIZE))
        items, count = [], 0
        while count < self.n_insns:
            item = self.item(Ctx())
            items.append(item)
            count += item.size()
        return Program(self.seed, self.mix, self.n_insns, self.rvc, items, x_init, f_init, fcsr,
                       doubles, singles, scratch, self.uses_fp)

    def item(self, ctx: Ctx) -> Item:
        while True:
            kind = self.rng.choices(self.kinds, self.weights)[0]
            if kind in STRUCTURED_KINDS and (ctx.flat or ctx.depth >= MAX_DEPTH):
                continue
            if kind == "loop" and ctx.in_loop:
                continue
            return getattr(self, "gen_" + kind)(ctx)

    def children(self, ctx, lo, hi) -> list[Item]:
        return [self.item(ctx) for _ in range(self.rng.randint(lo, hi))]

    # -- integer --
    def gen_alu(self, ctx) -> Item:
        rng = self.rng
        k = rng.randrange(10)
        rd = self.rd(ctx)
        if k < 4:
            return Item([f"{rng.choice(R_OPS)} {rd}, {self.rs()}, {self.rs()}"])
        if k < 6:
            return Item([f"{rng.choice(I_OPS)} {rd}, {self.rs()}, {rng.randint(-2048, 2047)}"])
        if k == 6:
            if rng.random() < 0.6:
                return Item([f"{rng.choice(SHIFT64_OPS)} {rd}, {self.rs()}, {rng.randrange(64)}"])
            return Item([f"{rng.choice(SHIFT32_OPS)} {rd}, {self.rs()}, {rng.randrange(32)}"])
        if k == 7:
            op, rs = rng.choice(UNARY_OPS), self.rs()
            if op == "ctzw" and self.qemu_safe and rd != "zero":
                return Item([f"sext.w {rd}, {rs}", f"ctzw {rd}, {rd}"], count=2)
            return Item([f"{op} {rd}, {rs}"])
        if k == 8:
            return Item([f"lui {rd}, {rng.randrange(1 << 20):#x}"])
        return Item([f"auipc {rd}, {rng.randrange(1 << 20):#x}"])

    def gen_li(self, ctx) -> Item:
        return Item([f"li {self.rd(ctx, allow_zero=False)}, {signed64(random_xvalue(self.rng))}"])

    # -- memory --
    def gen_mem(self, ctx) -> Item:
        rng = self.rng
        if rng.random() < 0.55:
            op = rng.choice(list(LOADS))
            setup, operand = self.mem_operand(LOADS[op], ctx)
            return Item(setup + [f"{op} {self.rd(ctx)}, {operand}"], count=len(setup) + 1)
        op = rng.choice(list(STORES))
        setup, operand = self.mem_operand(STORES[op], ctx)
        return Item(setup + [f"{op} {self.rs()}, {operand}"], count=len(setup) + 1)

    def gen_amo(self, ctx) -> Item:
        rng = self.rng
        width = rng.choice("wd")
        size = 4 if width == "w" else 8
        tmp = self.rd(ctx, allow_zero=False)
        off = rng.randrange(0, SCRATCH_SIZE // size) * size
        setup = f"addi {tmp}, sp, {off}"
        r = rng.random()
        if r < 0.6:
            op = f"{rng.choice(AMO_OPS)}.{width}{rng.choice(ORDERINGS)}"
            return Item([setup, f"{op} {self.rd(ctx)}, {self.rs()}, ({tmp})"], count=2)
        if r < 0.9:                                # LR, a few ALU ops not touching tmp, SC
            inner = Ctx(ctx.depth, ctx.in_loop, ctx.protected | {XNAMES.index(tmp)}, True)
            lr_rd = self.rd(inner, allow_zero=False)
            mid = [self.gen_alu(inner).head[0] for _ in range(rng.randrange(3))]
            lines = [setup, f"lr.{width}{rng.choice(ORDERINGS)} {lr_rd}, ({tmp})", *mid,
                     f"sc.{width}{rng.choice(ORDERINGS)} {self.rd(ctx)}, {self.rs()}, ({tmp})"]
            return Item(lines, count=len(lines))
        # an SC without a reservation: fails, writes nonzero, leaves memory alone
        return Item([setup, f"sc.{width} {self.rd(ctx)}, {self.rs()}, ({tmp})"], count=2)

    # -- control flow --
    def gen_branch(self, ctx) -> Item:
        rng = self.rng
        end = self.label()
        a = self.rs()
        b = a if rng.random() < 0.1 else self.rs()
        head = f"{rng.choice(BRANCHES)} {a}, {b}, {end}"
        if rng.random() < 0.15:                      # the assembler's one-operand aliases
            head = f"{rng.choice(('beqz', 'bnez', 'bltz', 'bgez', 'blez', 'bgtz'))} {a}, {end}"
        sub = Ctx(ctx.depth + 1, ctx.in_loop, ctx.protected, ctx.flat)
        return Item([head], self.children(sub, 1, 5), [f"{end}:"], unwrappable=True)

    def gen_loop(self, ctx) -> Item:
        rng = self.rng
        top = self.label()
        n = rng.randint(1, 4)
        close = rng.choice((f"bnez t6, {top}", f"bgtz t6, {top}", f"bne t6, zero, {top}",
                            f"bltu zero, t6, {top}"))
        sub = Ctx(ctx.depth + 1, True, ctx.protected, ctx.flat)
        return Item([f"li t6, {n}", f"{top}:"], self.children(sub, 2, 6),
                    ["addi t6, t6, -1", close], count=3, unwrappable=True)

    def gen_jump(self, ctx) -> Item:
        rng = self.rng
        k = rng.randrange(4)
        end = self.label()
        sub = Ctx(ctx.depth + 1, ctx.in_loop, ctx.protected, ctx.flat)
        if k == 0:                                   # jal over dead code
            head = [f"jal {self.rd(ctx)}, {end}"]
            return Item(head, self.children(sub, 1, 3), [f"{end}:"], unwrappable=True)
        if k == 1:                                   # jalr over dead code; odd offsets test bit 0
            tmp = self.rd(ctx, allow_zero=False)
            d = rng.randint(-64, 64)
            head = [f"lla {tmp}, {end}", f"addi {tmp}, {tmp}, {-d}",
                    f"jalr {self.rd(ctx)}, {d + rng.randrange(2)}({tmp})"]
            return Item(head, self.children(sub, 1, 3), [f"{end}:"], count=4, unwrappable=True)
        # a call: the callee's body may not write the link register
        link = self.rd(ctx, allow_zero=False)
        body_ctx = Ctx(ctx.depth + 1, ctx.in_loop, ctx.protected | {XNAMES.index(link)}, ctx.flat)
        fn = self.label()
        ret = f"jalr zero, 0({link})" if rng.random() < 0.5 else f"jr {link}"
        if self.rvc and rng.random() < 0.3:
            ret = f"c.jr {link}"
        body = self.children(body_ctx, 1, 4)
        if k == 2:                                   # callee after the call
            return Item([f"jal {link}, {fn}", f"j {end}", f"{fn}:"], body, [ret, f"{end}:"],
                        count=3, unwrappable=True)
        return Item([f"j {end}", f"{fn}:"], body, [ret, f"{end}:", f"jal {link}, {fn}"], count=3,
                    unwrappable=True)

    # -- explicit compressed forms --
    def crd(self, ctx) -> str:
        """A writable register in x8..x15."""
        choices = [r for r in RVC_X if r not in RESERVED and r not in ctx.protected]
        return XNAMES[self.rng.choice(choices)]

    def crs(self) -> str:
        return XNAMES[self.rng.choice(RVC_X)]

    def gen_rvc(self, ctx) -> Item:
        rng = self.rng
        k = rng.randrange(22)
        rd = self.rd(ctx, allow_zero=False)

        def nz6():
            return rng.choice([v for v in range(-32, 32) if v])
        if k == 0:
            return Item([f"c.addi {rd}, {nz6()}"])
        if k == 1:
            return Item([f"c.addiw {rd}, {rng.randint(-32, 31)}"])
        if k == 2:
            return Item([f"c.li {rd}, {rng.randint(-32, 31)}"])
        if k == 3:
            imm = rng.choice([v for v in range(1, 32)] + [v for v in range(0xFFFE0, 0x100000)])
            return Item([f"c.lui {rd}, {imm:#x}"])
        if k == 4:
            op = rng.choice(("c.srli", "c.srai"))
            return Item([f"{op} {self.crd(ctx)}, {rng.randint(1, 63)}"])
        if k == 5:
            return Item([f"c.andi {self.crd(ctx)}, {rng.randint(-32, 31)}"])
        if k == 6:
            op = rng.choice(("c.sub", "c.xor", "c.or", "c.and", "c.subw", "c.addw"))
            return Item([f"{op} {self.crd(ctx)}, {self.crs()}"])
        if k == 7:
            return Item([f"c.slli {rd}, {rng.randint(1, 63)}"])
        if k == 8:
            src = rng.choice([r for r in range(1, 32)])
            return Item([f"{rng.choice(('c.mv', 'c.add'))} {rd}, {XNAMES[src]}"])
        if k == 9:
            width, size, span = rng.choice((("w", 4, 128), ("d", 8, 256)))
            off = rng.randrange(0, span // size) * size
            if rng.random() < 0.5:
                return Item([f"c.l{width} {self.crd(ctx)}, {off}(s0)"])
            return Item([f"c.s{width} {self.crs()}, {off}(s0)"])
        if k == 10:
            width, size, span = rng.choice((("w", 4, 256), ("d", 8, 512)))
            off = rng.randrange(0, span // size) * size
            if rng.random() < 0.5:
                return Item([f"c.l{width}sp {rd}, {off}(sp)"])
            return Item([f"c.s{width}sp {self.rs()}, {off}(sp)"])
        if k == 11 and self.uses_fp:
            off = rng.randrange(0, 32) * 8
            freg = f"f{rng.randrange(8, 16)}"
            return Item([f"{rng.choice(('c.fld', 'c.fsd'))} {freg}, {off}(s0)"])
        if k == 12 and self.uses_fp:
            off = rng.randrange(0, 64) * 8
            return Item([f"{rng.choice(('c.fldsp', 'c.fsdsp'))} {self.frd()}, {off}(sp)"])
        if k == 13:
            return Item([f"c.addi4spn {self.crd(ctx)}, sp, {rng.randrange(1, 256) * 4}"])
        if k == 14:                                  # move sp, use it, move it back
            n = rng.randrange(1, 16) * 16
            off = rng.randrange(0, (256 - n) // 8) * 8
            return Item([f"c.addi16sp sp, {n}", f"c.ldsp {rd}, {off}(sp)", f"c.addi16sp sp, {-n}"],
                        count=3)
        if k == 15:
            return Item(["c.nop"])
        if k in (16, 17) and not ctx.flat and ctx.depth < MAX_DEPTH:
            end = self.label()
            op = rng.choice(("c.beqz", "c.bnez"))
            sub = Ctx(ctx.depth + 1, ctx.in_loop, ctx.protected, True)
            return Item([f"{op} {self.crs()}, {end}"], self.children(sub, 1, 4), [f"{end}:"],
                        unwrappable=True)
        if k == 18 and not ctx.flat and ctx.depth < MAX_DEPTH:
            end = self.label()
            sub = Ctx(ctx.depth + 1, ctx.in_loop, ctx.protected, True)
            return Item([f"c.j {end}"], self.children(sub, 1, 3), [f"{end}:"], unwrappable=True)
        if k in (19, 20) and not ctx.flat and ctx.depth < MAX_DEPTH:
            if k == 20 and 1 in ctx.protected:
                k = 19
            end = self.label()
            tmp = self.rd(ctx, allow_zero=False)
            op = "c.jr" if k == 19 else "c.jalr"     # c.jalr links in ra
            sub = Ctx(ctx.depth + 1, ctx.in_loop, ctx.protected, True)
            return Item([f"lla {tmp}, {end}", f"{op} {tmp}"], self.children(sub, 1, 3),
                        [f"{end}:"], count=3, unwrappable=True)
        return self.gen_alu(ctx)

    # -- floating point --
    def gen_fp(self, ctx) -> Item:
        item = self._fp_op(ctx)
        if self.rng.random() < 0.3:
            # Read and clear the flags: fflags accrues, so by the end of a program it usually has
            # every bit set; swapping it out makes each operation's own flags visible.
            item.head.append(f"fsflagsi {self.rd(ctx)}, 0")
            item.count += 1
        return item

    def _fp_op(self, ctx) -> Item:
        rng = self.rng
        fmt = rng.choice("sd")
        k = rng.randrange(20)
        if k < 5:
            op = rng.choice(("fadd", "fsub", "fmul", "fdiv"))
            return Item([f"{op}.{fmt} {self.frd()}, {self.frs()}, {self.frs()}{self.rm()}"])
        if k == 5:
            return Item([f"fsqrt.{fmt} {self.frd()}, {self.frs()}{self.rm()}"])
        if k < 9:
            op = rng.choice(("fmadd", "fmsub", "fnmadd", "fnmsub"))
            return Item([f"{op}.{fmt} {self.frd()}, {self.frs()}, {self.frs()}, {self.frs()}{self.rm()}"])
        if k == 9:
            op = rng.choice(("fsgnj", "fsgnjn", "fsgnjx"))
            a = self.frs()
            b = a if rng.random() < 0.2 else self.frs()
            return Item([f"{op}.{fmt} {self.frd()}, {a}, {b}"])
        if k == 10:
            a = self.frs()
            b = a if rng.random() < 0.1 else self.frs()
            return Item([f"{rng.choice(('fmin', 'fmax'))}.{fmt} {self.frd()}, {a}, {b}"])
        if k == 11:
            a = self.frs()
            b = a if rng.random() < 0.1 else self.frs()
            return Item([f"{rng.choice(('feq', 'flt', 'fle'))}.{fmt} {self.rd(ctx)}, {a}, {b}"])
        if k == 12:
            return Item([f"fclass.{fmt} {self.rd(ctx)}, {self.frs()}"])
        if k < 15:                                   # float -> integer
            it = rng.choice(("w", "wu", "l", "lu"))
            return Item([f"fcvt.{it}.{fmt} {self.rd(ctx)}, {self.frs()}{self.rm()}"])
        if k == 15:                                  # integer -> float
            it = rng.choice(("w", "wu", "l", "lu"))
            rm = "" if (fmt == "d" and it in ("w", "wu")) else self.rm()   # exact: no rm operand
            return Item([f"fcvt.{fmt}.{it} {self.frd()}, {self.rs()}{rm}"])
        if k == 16:
            if fmt == "s":
                return Item([f"fcvt.s.d {self.frd()}, {self.frs()}{self.rm()}"])
            return Item([f"fcvt.d.s {self.frd()}, {self.frs()}"])
        if k == 17:
            w = "w" if fmt == "s" else "d"
            return Item([f"fmv.x.{w} {self.rd(ctx)}, {self.frs()}"])
        if k == 18:
            w = "w" if fmt == "s" else "d"
            return Item([f"fmv.{w}.x {self.frd()}, {self.rs()}"])
        return self.gen_fpconst(ctx)

    def gen_fpconst(self, ctx) -> Item:
        rng = self.rng
        if rng.random() < 0.5:
            return Item([f"fld {self.frd()}, {D_TABLE_OFFSET + 8 * rng.randrange(N_DOUBLES)}(gp)"])
        return Item([f"flw {self.frd()}, {S_TABLE_OFFSET + 4 * rng.randrange(N_SINGLES)}(gp)"])

    def gen_fpmem(self, ctx) -> Item:
        rng = self.rng
        op, size = rng.choice((("flw", 4), ("fld", 8), ("fsw", 4), ("fsd", 8)))
        setup, operand = self.mem_operand(size, ctx)
        return Item(setup + [f"{op} {self.frd()}, {operand}"], count=len(setup) + 1)

    def gen_fcsr(self, ctx) -> Item:
        rng = self.rng
        k = rng.randrange(9)
        rd = self.rd(ctx)
        if k == 0:
            return Item([f"fsrmi {rd}, {rng.randrange(5)}"])
        if k == 1:
            tmp = self.rd(ctx, allow_zero=False)
            return Item([f"li {tmp}, {rng.randrange(5)}", f"fsrm {rd}, {tmp}"], count=2)
        if k == 2:
            return Item([f"fsflagsi {rd}, {rng.randrange(32)}"])
        if k == 3:
            tmp = self.rd(ctx, allow_zero=False)
            return Item([f"li {tmp}, {rng.getrandbits(12)}", f"fsflags {rd}, {tmp}"], count=2)
        if k == 4:
            return Item([f"frflags {rd}"])
        if k == 5:
            return Item([f"frcsr {rd}"])
        if k == 6:
            tmp = self.rd(ctx, allow_zero=False)
            value = (rng.randrange(5) << 5) | rng.randrange(32) | (rng.getrandbits(8) << 8)
            return Item([f"li {tmp}, {value}", f"fscsr {rd}, {tmp}"], count=2)
        if k == 7:
            return Item([f"{rng.choice(('csrrsi', 'csrrci'))} {rd}, fflags, {rng.randrange(32)}"])
        return Item([f"frrm {rd}"])


def describe_result_offset(offset: int) -> str:
    """Name the architectural value stored at `offset` in the printed state (result + scratch)."""
    if offset < RESULT_F:
        r = (offset - RESULT_X) // 8
        return f"x{r} ({XNAMES[r]}) byte {offset % 8}"
    if offset < RESULT_FFLAGS:
        return f"f{(offset - RESULT_F) // 8} byte {offset % 8}"
    if offset < RESULT_FRM:
        return "fflags"
    if offset < RESULT_SIZE:
        return "frm"
    return f"scratch[{offset - RESULT_SIZE}]"


def unpack_result(data: bytes) -> dict:
    """The printed state as named values."""
    words = struct.unpack_from(f"<{RESULT_SIZE // 8}Q", data)
    return {"x": list(words[0:32]), "f": list(words[32:64]), "fflags": words[64], "frm": words[65],
            "scratch": data[RESULT_SIZE:RESULT_SIZE + SCRATCH_SIZE]}
