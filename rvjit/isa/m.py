"""M: integer multiplication and division (unprivileged spec chapter 13).

Division never traps: the pure ops in rvjit.ir.ops already give the spec's results for division
by zero (quotient all ones, remainder = dividend) and for signed overflow (quotient = dividend,
remainder 0).
"""
from .spec import insn

EXT = "m"


def _op(name, f3, fn, opcode="0110011"):
    @insn(name, f"0000001 ..... ..... {f3} ..... {opcode}", "R", ext=EXT)
    def sem(b, i):
        b.wx(i.rd, fn(b, b.rx(i.rs1), b.rx(i.rs2)))


def _pure(op_name):
    return lambda b, a, c: b.op(op_name, a, c)


_op("mul", "000", lambda b, a, c: a * c)
_op("mulh", "001", _pure("mulh"))
_op("mulhsu", "010", _pure("mulhsu"))
_op("mulhu", "011", _pure("mulhu"))
_op("div", "100", _pure("div"))
_op("divu", "101", _pure("divu"))
_op("rem", "110", _pure("rem"))
_op("remu", "111", _pure("remu"))


# W forms: the 64-bit op on 32-bit operands extended to 64 bits gives the 32-bit answer in the
# low half, including the special cases: divw -2^31/-1 = 2^31 -> sext gives -2^31 (overflow
# result = dividend); x/0 = all ones; remw/remuw by 0 = the extended dividend; overflow rem = 0.
def _signed_w(op_name):
    return lambda b, a, c: b.op(op_name, a.sext(32), c.sext(32)).sext(32)


def _unsigned_w(op_name):
    return lambda b, a, c: b.op(op_name, a.zext(32), c.zext(32)).sext(32)


_op("mulw", "000", lambda b, a, c: (a * c).sext(32), "0111011")
_op("divw", "100", _signed_w("div"), "0111011")
_op("divuw", "101", _unsigned_w("divu"), "0111011")
_op("remw", "110", _signed_w("rem"), "0111011")
_op("remuw", "111", _unsigned_w("remu"), "0111011")
