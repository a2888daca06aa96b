/* Zicsr: csrrw/csrrs/csrrc and immediate forms on mscratch, x0 forms that
 * must not write (and so may target read-only CSRs), fflags/frm/fcsr
 * aliasing and reserved bits, cycle/instret counters increasing, misa,
 * mhartid, mstatus.FS becoming Dirty after an FP write. */
#include "test_macros.h"

TEST_BEGIN
    .option norvc

/* ---- register forms on mscratch ---- */
    TEST_CASE(1, a0, 0x123456789abcdef0, li a1, 0x123456789abcdef0; csrw mscratch, a1; csrr a0, mscratch)
    TEST_CASE(2, a0, 0x123456789abcdef0, li a1, -1; csrrw a0, mscratch, a1; csrr a2, mscratch; CHECK(a2, -1))
    TEST_CASE(3, a0, 0xffffffffffffffff, li a1, 0xff; csrrc a0, mscratch, a1; csrr a2, mscratch; CHECK(a2, 0xffffffffffffff00))
    TEST_CASE(4, a0, 0xffffffffffffff00, li a1, 0x0f; csrrs a0, mscratch, a1; csrr a2, mscratch; CHECK(a2, 0xffffffffffffff0f))
    TEST_CASE(5, a0, 0xffffffffffffff0f, li a1, 0x8000000000000000; csrrc a0, mscratch, a1; csrr a2, mscratch; CHECK(a2, 0x7fffffffffffff0f))
    /* rd == rs1 */
    TEST_CASE(6, a1, 0x7fffffffffffff0f, li a1, 42; csrrw a1, mscratch, a1; csrr a2, mscratch; CHECK(a2, 42))
    /* immediate forms (5-bit zero-extended immediates) */
    TEST_CASE(7, a0, 42, csrrwi a0, mscratch, 31; csrr a2, mscratch; CHECK(a2, 31))
    TEST_CASE(8, a0, 31, csrrci a0, mscratch, 0x11; csrr a2, mscratch; CHECK(a2, 0x0e))
    TEST_CASE(9, a0, 0x0e, csrrsi a0, mscratch, 0x10; csrr a2, mscratch; CHECK(a2, 0x1e))
    TEST_CASE(10, a0, 0x1e, csrrwi a0, mscratch, 0; csrr a2, mscratch; CHECK(a2, 0))
    TEST_CASE(11, a2, 0x1f, csrsi mscratch, 0x1f; csrr a2, mscratch)
    TEST_CASE(12, a2, 0x10, csrci mscratch, 0x0f; csrr a2, mscratch)
    TEST_CASE(13, a2, 0x1f, csrwi mscratch, 0x1f; csrr a2, mscratch)
    /* x0 source: csrrs/csrrc with rs1=x0 and csrrsi/csrrci with 0 do not write */
    TEST_CASE(14, a0, 0x5555, li a1, 0x5555; csrw mscratch, a1; csrrs a0, mscratch, x0; csrrc a2, mscratch, x0; CHECK(a2, 0x5555))
    TEST_CASE(15, a0, 0x5555, csrrsi a2, mscratch, 0; csrrci a2, mscratch, 0; csrr a0, mscratch)
    /* x0 destination: csrrw still writes */
    TEST_CASE(16, a0, 0x6666, li a1, 0x6666; csrrw x0, mscratch, a1; csrr a0, mscratch)
    TEST_CASE(17, x0, 0, csrrs x0, mscratch, x0)
    /* read-only CSRs may be read with the non-writing forms (no trap) */
    TEST_CASE(18, a0, 0, csrrs a0, mhartid, x0)
    TEST_CASE(19, a0, 0, csrrc a0, mhartid, x0)
    TEST_CASE(20, a0, 0, csrrsi a0, mhartid, 0; csrrci a0, mhartid, 0)
    TESTNUM_SET(21)
    csrrs   a0, mvendorid, x0
    csrrs   a0, marchid, x0
    csrrs   a0, mimpid, x0
    csrrs   a0, cycle, x0
    csrrci  a0, instret, 0

/* ---- misa: RV64 with I M A F D C ---- */
    TESTNUM_SET(22)
    csrr    a0, misa
    srli    a1, a0, 62
    CHECK(a1, 2)
    li      a2, (1 << 8) | (1 << 12) | (1 << 0) | (1 << 5) | (1 << 3) | (1 << 2)
    and     a1, a0, a2
    bne     a1, a2, test_fail

/* ---- fflags / frm / fcsr aliasing ---- */
    TEST_CASE(23, a0, 0xff, li a1, 0xff; csrw fcsr, a1; csrr a0, fcsr)
    TEST_CASE(24, a0, 0x1f, csrr a0, fflags)
    TEST_CASE(25, a0, 7, csrr a0, frm)
    TEST_CASE(26, a0, 0x7f, csrwi frm, 3; csrr a0, fcsr)
    TEST_CASE(27, a0, 0x63, csrwi fflags, 3; csrr a0, fcsr)
    TEST_CASE(28, a0, 0x1f, li a1, 0xff; csrw fflags, a1; csrr a0, fflags)
    TEST_CASE(29, a0, 0x7f, csrr a0, fcsr)
    TEST_CASE(30, a0, 0x1f, li a1, 0x1ff; csrw fcsr, a1; csrr a0, fcsr; srli a2, a0, 8; bnez a2, test_fail; csrr a0, fflags)  /* reserved fcsr bits read 0 */
    TEST_CASE(31, a0, 0x7, csrr a0, frm)
    TEST_CASE(32, a0, 0xff, csrrw a0, fcsr, x0; csrr a1, fcsr; CHECK(a1, 0))
    TEST_CASE(33, a0, 0, csrrsi a0, fflags, FF_NX | FF_NV; csrr a1, fcsr; CHECK(a1, 0x11))
    TEST_CASE(34, a0, 0x11, csrrci a0, fflags, FF_NX; csrr a1, fflags; CHECK(a1, 0x10))
    TEST_CASE(35, a0, 0x10, csrrwi a0, fflags, 0; csrr a1, fflags; CHECK(a1, 0))
    TEST_CASE(36, a0, 0, csrrwi a0, frm, 4; csrr a1, fcsr; CHECK(a1, 0x80))
    TEST_CASE(37, a0, 4, csrrsi a0, frm, 1; csrr a1, frm; CHECK(a1, 5))
    TEST_CASE(38, a0, 5, csrrci a0, frm, 4; csrr a1, frm; CHECK(a1, 1))
    /* an FP operation accrues flags into fcsr too */
    TESTNUM_SET(39)
    csrwi   fcsr, 0
    li      a1, 0x3f800000          /* 1.0f */
    fmv.w.x fa1, a1
    li      a1, 0x40400000          /* 3.0f */
    fmv.w.x fa2, a1
    fdiv.s  fa0, fa1, fa2           /* inexact */
    csrr    a0, fcsr
    CHECK(a0, FF_NX)
    fdiv.s  fa0, fa1, fa2, rtz
    csrr    a0, fflags
    CHECK(a0, FF_NX)
    csrwi   fcsr, 0

/* ---- mstatus.FS becomes Dirty after an FP register write ---- */
    TESTNUM_SET(40)
    li      a1, (3 << 13)
    csrc    mstatus, a1
    li      a1, (1 << 13)           /* Initial */
    csrs    mstatus, a1
    fmv.w.x fa0, zero
    csrr    a0, mstatus
    srli    a1, a0, 13
    andi    a1, a1, 3
    CHECK(a1, 3)
    bgez    a0, test_fail           /* SD (bit 63) summarises FS = Dirty */

/* ---- counters increase ---- */
    TESTNUM_SET(41)
    rdcycle a0
    rdinstret a1
    li      a2, 100
1:  addi    a2, a2, -1
    bnez    a2, 1b
    rdcycle a3
    rdinstret a4
    bgeu    a0, a3, test_fail
    sub     a4, a4, a1
    li      a5, 200                 /* at least 200 instructions retired */
    bltu    a4, a5, test_fail
    TESTNUM_SET(42)
    csrr    a0, mcycle
    csrr    a1, minstret
    nop
    nop
    csrr    a2, mcycle
    csrr    a3, minstret
    bgeu    a0, a2, test_fail
    bgeu    a1, a3, test_fail
    TESTNUM_SET(43)                  /* minstret is writable */
    li      a1, 1000
    csrw    minstret, a1
    csrr    a0, minstret
    li      a2, 1000
    bltu    a0, a2, test_fail
    li      a2, 1000 + 0x1000000    /* QEMU counts host ticks, not instructions */
    bgeu    a0, a2, test_fail
TEST_END
