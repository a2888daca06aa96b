"""Privileged instructions and Zifencei. Their effects are carried out by the hart (rvjit.cpu.hart)."""
from .spec import insn


@insn("mret", "0011000 00010 00000 000 00000 1110011", "N", ext="priv")
def mret(b, i):
    b.sys("mret")


@insn("sret", "0001000 00010 00000 000 00000 1110011", "N", ext="priv")
def sret(b, i):
    b.sys("sret")


@insn("wfi", "0001000 00101 00000 000 00000 1110011", "N", ext="priv")
def wfi(b, i):
    b.sys("wfi")


@insn("sfence.vma", "0001001 ..... ..... 000 00000 1110011", "R", "rs1, rs2", ext="priv")
def sfence_vma(b, i):
    b.sfence(i.rs1, b.rx(i.rs1))
    b.goto(i.next_pc)


@insn("fence.i", "............ ..... 001 ..... 0001111", "N", ext="zifencei")
def fence_i(b, i):
    # A store to translated code has already dropped it (MemoryPort watches code pages), so
    # there is nothing to flush: ending the block is enough for the next instruction to be
    # fetched afresh. Linux patches tens of thousands of instructions at boot, each followed by
    # fence.i: leaving native code for each was 43 k run-loop trips.
    b.goto(i.next_pc)
