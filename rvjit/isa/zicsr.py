"""Zicsr: CSR read-modify-write instructions. The CSRs themselves live in rvjit.cpu.csr."""
from .spec import insn

EXT = "zicsr"


def _csr_reg(name, f3, op):
    @insn(name, f"............ ..... {f3} ..... 1110011", "CSR", "rd, csr, rs1", ext=EXT)
    def sem(b, i):
        # csrrw with rd=x0 must not read (no read side effects); csrrs/c with rs1=x0 must not write.
        read = op != "rw" or i.rd != 0
        write = op == "rw" or i.rs1 != 0
        b.wx(i.rd, b.csr(i.csr, b.rx(i.rs1), op, read, write))


def _csr_imm(name, f3, op):
    @insn(name, f"............ ..... {f3} ..... 1110011", "CSRI", "rd, csr, imm", ext=EXT)
    def sem(b, i):
        read = op != "rw" or i.rd != 0
        write = op == "rw" or i.imm != 0
        b.wx(i.rd, b.csr(i.csr, i.imm, op, read, write))


_csr_reg("csrrw", "001", "rw")
_csr_reg("csrrs", "010", "rs")
_csr_reg("csrrc", "011", "rc")
_csr_imm("csrrwi", "101", "rw")
_csr_imm("csrrsi", "110", "rs")
_csr_imm("csrrci", "111", "rc")
