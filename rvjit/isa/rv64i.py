"""RV64I base integer instructions (unprivileged spec chapters 2 and 5)."""
from .spec import insn
from ..ir.builder import BREAKPOINT, ECALL_U

EXT = "rv64i"


def _reg_op(name, f7, f3, fn, opcode="0110011"):
    @insn(name, f"{f7} ..... ..... {f3} ..... {opcode}", "R", ext=EXT)
    def sem(b, i):
        b.wx(i.rd, fn(b.rx(i.rs1), b.rx(i.rs2)))


def _imm_op(name, f3, fn, opcode="0010011"):
    @insn(name, f"............ ..... {f3} ..... {opcode}", "I", ext=EXT)
    def sem(b, i):
        b.wx(i.rd, fn(b.rx(i.rs1), i.imm))


def _w(fn):
    """A W-form: compute on the low 32 bits, sign-extend the 32-bit result."""
    return lambda a, c: fn(a, c).sext(32)


# Register-register
_reg_op("add", "0000000", "000", lambda a, c: a + c)
_reg_op("sub", "0100000", "000", lambda a, c: a - c)
_reg_op("sll", "0000000", "001", lambda a, c: a << c)
_reg_op("slt", "0000000", "010", lambda a, c: a.lt(c))
_reg_op("sltu", "0000000", "011", lambda a, c: a.ltu(c))
_reg_op("xor", "0000000", "100", lambda a, c: a ^ c)
_reg_op("srl", "0000000", "101", lambda a, c: a >> c)
_reg_op("sra", "0100000", "101", lambda a, c: a.sra(c))
_reg_op("or", "0000000", "110", lambda a, c: a | c)
_reg_op("and", "0000000", "111", lambda a, c: a & c)
_reg_op("addw", "0000000", "000", _w(lambda a, c: a + c), "0111011")
_reg_op("subw", "0100000", "000", _w(lambda a, c: a - c), "0111011")
_reg_op("sllw", "0000000", "001", _w(lambda a, c: a << (c & 31)), "0111011")
_reg_op("srlw", "0000000", "101", _w(lambda a, c: a.zext(32) >> (c & 31)), "0111011")
_reg_op("sraw", "0100000", "101", _w(lambda a, c: a.sext(32).sra(c & 31)), "0111011")

# Register-immediate
_imm_op("addi", "000", lambda a, imm: a + imm)
_imm_op("slti", "010", lambda a, imm: a.lt(imm))
_imm_op("sltiu", "011", lambda a, imm: a.ltu(imm))
_imm_op("xori", "100", lambda a, imm: a ^ imm)
_imm_op("ori", "110", lambda a, imm: a | imm)
_imm_op("andi", "111", lambda a, imm: a & imm)
_imm_op("addiw", "000", _w(lambda a, imm: a + imm), "0011011")


def _shift_imm(name, top, f3, fn, fmt="SH", opcode="0010011"):
    pattern = f"{top} ...... ..... {f3} ..... {opcode}" if fmt == "SH" else f"{top} ..... ..... {f3} ..... {opcode}"

    @insn(name, pattern, fmt, "rd, rs1, imm", ext=EXT)
    def sem(b, i):
        b.wx(i.rd, fn(b.rx(i.rs1), i.imm))


_shift_imm("slli", "000000", "001", lambda a, s: a << s)
_shift_imm("srli", "000000", "101", lambda a, s: a >> s)
_shift_imm("srai", "010000", "101", lambda a, s: a.sra(s))
_shift_imm("slliw", "0000000", "001", _w(lambda a, s: a << s), "SHW", "0011011")
_shift_imm("srliw", "0000000", "101", _w(lambda a, s: a.zext(32) >> s), "SHW", "0011011")
_shift_imm("sraiw", "0100000", "101", _w(lambda a, s: a.sext(32).sra(s)), "SHW", "0011011")


@insn("lui", ".................... ..... 0110111", "U", ext=EXT)
def lui(b, i):
    b.wx(i.rd, i.imm)


@insn("auipc", ".................... ..... 0010111", "U", ext=EXT)
def auipc(b, i):
    b.wx(i.rd, i.pc + i.imm)


# Control transfer. With the C extension every target is 2-byte aligned, so no misaligned fetch.
@insn("jal", ".................... ..... 1101111", "J", ext=EXT)
def jal(b, i):
    b.wx(i.rd, i.next_pc)
    b.jump(i.pc + i.imm)


@insn("jalr", "............ ..... 000 ..... 1100111", "I", "rd, imm(rs1)", ext=EXT)
def jalr(b, i):
    target = (b.rx(i.rs1) + i.imm) & ~1      # read rs1 before rd is written: rd may equal rs1
    b.wx(i.rd, i.next_pc)
    b.jump(target)


def _branch(name, f3, cond):
    @insn(name, f"....... ..... ..... {f3} ..... 1100011", "B", "rs1, rs2, imm", ext=EXT)
    def sem(b, i):
        b.branch(cond(b.rx(i.rs1), b.rx(i.rs2)), i.pc + i.imm)


_branch("beq", "000", lambda a, c: a.eq(c))
_branch("bne", "001", lambda a, c: a.ne(c))
_branch("blt", "100", lambda a, c: a.lt(c))
_branch("bge", "101", lambda a, c: a.ge(c))
_branch("bltu", "110", lambda a, c: a.ltu(c))
_branch("bgeu", "111", lambda a, c: a.geu(c))


def _load(name, f3, size, signed):
    @insn(name, f"............ ..... {f3} ..... 0000011", "I", "rd, imm(rs1)", ext=EXT)
    def sem(b, i):
        b.wx(i.rd, b.load(b.rx(i.rs1) + i.imm, size, signed))


for _name, _f3, _size, _signed in [("lb", "000", 1, True), ("lh", "001", 2, True), ("lw", "010", 4, True),
                                   ("ld", "011", 8, True), ("lbu", "100", 1, False),
                                   ("lhu", "101", 2, False), ("lwu", "110", 4, False)]:
    _load(_name, _f3, _size, _signed)


def _store(name, f3, size):
    @insn(name, f"....... ..... ..... {f3} ..... 0100011", "S", "rs2, imm(rs1)", ext=EXT)
    def sem(b, i):
        b.store(b.rx(i.rs1) + i.imm, b.rx(i.rs2), size)


for _name, _f3, _size in [("sb", "000", 1), ("sh", "001", 2), ("sw", "010", 4), ("sd", "011", 8)]:
    _store(_name, _f3, _size)


@insn("fence", ".... .... .... ..... 000 ..... 0001111", "FENCE", "pred, succ", ext=EXT)
def fence(b, i):
    pass            # one hart, memory is sequentially consistent: nothing to order


@insn("ecall", "000000000000 00000 000 00000 1110011", "N", ext=EXT)
def ecall(b, i):
    b.trap(b.get("priv") + ECALL_U)


@insn("ebreak", "000000000001 00000 000 00000 1110011", "N", ext=EXT)
def ebreak(b, i):
    b.trap(BREAKPOINT, i.pc)
