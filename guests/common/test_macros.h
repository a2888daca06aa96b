/* Assembly test framework for the rvjit ISA guest programs.
 *
 * Usage (in a .S file):
 *     #include "test_macros.h"
 *     TEST_BEGIN
 *       TEST_CASE(1, a0, 42, li a1, 40; addi a0, a1, 2)
 *       ...
 *     TEST_END
 *
 * Every case has a number; the exit status is that number when it is
 * 1..254 and 255 otherwise (an exit status keeps only 8 bits), so keep
 * numbers below 255 in each program; the printed number is always exact.
 * The current number is kept in TESTNUM (gp); on a mismatch the program
 * prints "FAIL <n>\n" through the HTIF console and exits with status n.
 * When all cases pass it exits with status 0.  An unexpected trap exits
 * with the current test number too (after printing "TRAP <mcause> ").
 *
 * Registers t5 and t6 are clobbered by the checking macros; gp holds the
 * test number; sp points at a stack; everything else is free for tests.
 * Programs that install their own trap handler use TEST_SET_TRAP(label)
 * and may jump to TEST_UNEXPECTED_TRAP for traps they did not expect.
 */
#ifndef RVJIT_TEST_MACROS_H
#define RVJIT_TEST_MACROS_H

#define TESTNUM gp

/* ---------------------------------------------------------------------- */
/* program skeleton                                                       */

#define TEST_BEGIN                                                      \
    .option norelax;                                                    \
    .section .text.init, "ax";                                          \
    .globl _start;                                                      \
_start:                                                                 \
    li      TESTNUM, 0;                                                 \
    la      sp, __stack_top;                                            \
    la      t0, test_default_trap;                                      \
    csrw    mtvec, t0;                                                  \
    li      t0, (1 << 13);           /* mstatus.FS = Initial */         \
    csrs    mstatus, t0;                                                \
    csrwi   fcsr, 0;                                                    \
    j       test_body;                                                  \
    .text;                                                              \
test_body:

#define TEST_END                                                        \
    j       test_pass;                                                  \
    .text;                                                              \
    .align 2;                                                           \
test_pass:                                                              \
    li      a0, 0;                                                      \
    j       test_exit;                                                  \
test_fail:                                                              \
    la      a0, test_fail_msg;                                          \
    call    test_puts;                                                  \
    mv      a0, TESTNUM;                                                \
    call    test_putdec;                                                \
    li      a0, '\n';                                                   \
    call    test_putchar;                                               \
    mv      a0, TESTNUM;                                                \
    li      t0, 255;           /* an exit status only keeps 8 bits: */  \
    bgeu    a0, t0, 7f;        /* numbers >= 255 (and 0) exit 255 */    \
    bnez    a0, test_exit;                                              \
7:  li      a0, 255;                                                    \
test_exit:                                                              \
    la      t0, tohost;                                                 \
    slli    a0, a0, 1;                                                  \
    ori     a0, a0, 1;                                                  \
    sd      a0, 0(t0);                                                  \
1:  j       1b;                                                         \
    .align 2;                                                           \
test_default_trap:                                                      \
TEST_UNEXPECTED_TRAP:                                                   \
    la      a0, test_trap_msg;                                          \
    call    test_puts;                                                  \
    csrr    a0, mcause;                                                 \
    call    test_putdec;                                                \
    li      a0, ' ';                                                    \
    call    test_putchar;                                               \
    j       test_fail;                                                  \
/* putchar(a0) through HTIF; clobbers t0, t1 */                         \
test_putchar:                                                           \
    la      t0, tohost;                                                 \
    li      t1, 0x0101;                                                 \
    slli    t1, t1, 48;                                                 \
    andi    a0, a0, 0xff;                                               \
    or      t1, t1, a0;                                                 \
    sd      t1, 0(t0);                                                  \
2:  ld      t1, 0(t0);                                                  \
    bnez    t1, 2b;                                                     \
    la      t0, fromhost;                                               \
    sd      zero, 0(t0);                                                \
    ret;                                                                \
/* puts(a0); clobbers a0-a1, t0-t1 */                                   \
test_puts:                                                              \
    addi    sp, sp, -16;                                                \
    sd      ra, 0(sp);                                                  \
    mv      a1, a0;                                                     \
3:  lbu     a0, 0(a1);                                                  \
    beqz    a0, 4f;                                                     \
    call    test_putchar;                                               \
    addi    a1, a1, 1;                                                  \
    j       3b;                                                         \
4:  ld      ra, 0(sp);                                                  \
    addi    sp, sp, 16;                                                 \
    ret;                                                                \
/* print a0 as unsigned decimal; clobbers a0-a3, t0-t1 */               \
test_putdec:                                                            \
    addi    sp, sp, -48;                                                \
    sd      ra, 40(sp);                                                 \
    mv      a2, sp;             /* digits stored backwards */           \
    li      a3, 10;                                                     \
5:  remu    a1, a0, a3;                                                 \
    addi    a1, a1, '0';                                                \
    sb      a1, 0(a2);                                                  \
    addi    a2, a2, 1;                                                  \
    divu    a0, a0, a3;                                                 \
    bnez    a0, 5b;                                                     \
6:  addi    a2, a2, -1;                                                 \
    lbu     a0, 0(a2);                                                  \
    call    test_putchar;                                               \
    bne     a2, sp, 6b;                                                 \
    ld      ra, 40(sp);                                                 \
    addi    sp, sp, 48;                                                 \
    ret;                                                                \
    .section .rodata;                                                   \
test_fail_msg:  .asciz "FAIL ";                                         \
test_trap_msg:  .asciz "TRAP ";                                         \
    .section .tohost, "aw", @progbits;                                  \
    .align 3;                                                           \
    .globl tohost;                                                      \
    .type tohost, @object;                                              \
    .size tohost, 8;                                                    \
tohost:   .dword 0;                                                     \
    .globl fromhost;                                                    \
    .type fromhost, @object;                                            \
    .size fromhost, 8;                                                  \
fromhost: .dword 0;                                                     \
    .text

/* Install a trap handler for the following tests. */
#define TEST_SET_TRAP(label)  la t0, label; csrw mtvec, t0

/* ---------------------------------------------------------------------- */
/* checking                                                               */

/* Start test case n (sets TESTNUM). */
#define TESTNUM_SET(n)        li TESTNUM, n

/* Fail unless register reg == val (64-bit immediate). */
#define CHECK(reg, val)       li t6, val; bne reg, t6, test_fail

/* Fail unless fflags == val (and leaves fflags as they were). */
#define CHECK_FLAGS(val)      csrr t5, fflags; li t6, val; bne t5, t6, test_fail

/* Fail unless the single in freg has exactly bits `val` and is NaN-boxed. */
#define CHECK_S(freg, val)                                              \
    fmv.x.d t5, freg; srai t6, t5, 32; not t6, t6; bnez t6, test_fail;  \
    slli t5, t5, 32; srli t5, t5, 32; CHECK(t5, val)

/* Fail unless the double in freg has exactly bits `val`. */
#define CHECK_D(freg, val)    fmv.x.d t5, freg; CHECK(t5, val)

/* One test: run code, then compare reg with val. */
#define TEST_CASE(n, reg, val, ...)                                     \
    TESTNUM_SET(n); __VA_ARGS__; CHECK(reg, val)

/* Load bit patterns into FP registers. */
#define LOAD_S(freg, val)     li t5, val; fmv.w.x freg, t5
#define LOAD_D(freg, val)     li t5, val; fmv.d.x freg, t5

/* Common integer tests: rd = op(a, b) / op(a, imm). */
#define TEST_RR(n, inst, res, a, b)                                     \
    TEST_CASE(n, a0, res, li a1, a; li a2, b; inst a0, a1, a2)
#define TEST_RI(n, inst, res, a, imm)                                   \
    TEST_CASE(n, a0, res, li a1, a; inst a0, a1, imm)
#define TEST_R(n, inst, res, a)                                         \
    TEST_CASE(n, a0, res, li a1, a; inst a0, a1)
/* Same, with rd aliasing a source. */
#define TEST_RR_SRC1(n, inst, res, a, b)                                \
    TEST_CASE(n, a1, res, li a1, a; li a2, b; inst a1, a1, a2)
#define TEST_RR_SRC2(n, inst, res, a, b)                                \
    TEST_CASE(n, a2, res, li a1, a; li a2, b; inst a2, a1, a2)

/* FP tests.  fflags is cleared before the operation and must equal flags
 * afterwards.  rm is a rounding-mode operand (rne rtz rdn rup rmm dyn). */
#define TEST_FP_RR_S(n, inst, rm, flags, res, a, b)                     \
    TESTNUM_SET(n); LOAD_S(fa1, a); LOAD_S(fa2, b); csrwi fflags, 0;    \
    inst fa0, fa1, fa2, rm; CHECK_FLAGS(flags); CHECK_S(fa0, res)
#define TEST_FP_RR_D(n, inst, rm, flags, res, a, b)                     \
    TESTNUM_SET(n); LOAD_D(fa1, a); LOAD_D(fa2, b); csrwi fflags, 0;    \
    inst fa0, fa1, fa2, rm; CHECK_FLAGS(flags); CHECK_D(fa0, res)
/* ops with no rounding mode operand (min/max/sgnj) */
#define TEST_FP_RR_NORM_S(n, inst, flags, res, a, b)                    \
    TESTNUM_SET(n); LOAD_S(fa1, a); LOAD_S(fa2, b); csrwi fflags, 0;    \
    inst fa0, fa1, fa2; CHECK_FLAGS(flags); CHECK_S(fa0, res)
#define TEST_FP_RR_NORM_D(n, inst, flags, res, a, b)                    \
    TESTNUM_SET(n); LOAD_D(fa1, a); LOAD_D(fa2, b); csrwi fflags, 0;    \
    inst fa0, fa1, fa2; CHECK_FLAGS(flags); CHECK_D(fa0, res)
#define TEST_FP_RRR_S(n, inst, rm, flags, res, a, b, c)                 \
    TESTNUM_SET(n); LOAD_S(fa1, a); LOAD_S(fa2, b); LOAD_S(fa3, c);     \
    csrwi fflags, 0; inst fa0, fa1, fa2, fa3, rm; CHECK_FLAGS(flags);   \
    CHECK_S(fa0, res)
#define TEST_FP_RRR_D(n, inst, rm, flags, res, a, b, c)                 \
    TESTNUM_SET(n); LOAD_D(fa1, a); LOAD_D(fa2, b); LOAD_D(fa3, c);     \
    csrwi fflags, 0; inst fa0, fa1, fa2, fa3, rm; CHECK_FLAGS(flags);   \
    CHECK_D(fa0, res)
#define TEST_FP_R_S(n, inst, rm, flags, res, a)                         \
    TESTNUM_SET(n); LOAD_S(fa1, a); csrwi fflags, 0;                    \
    inst fa0, fa1, rm; CHECK_FLAGS(flags); CHECK_S(fa0, res)
#define TEST_FP_R_D(n, inst, rm, flags, res, a)                         \
    TESTNUM_SET(n); LOAD_D(fa1, a); csrwi fflags, 0;                    \
    inst fa0, fa1, rm; CHECK_FLAGS(flags); CHECK_D(fa0, res)
/* FP compare / classify / fp->int: integer result in a0 */
#define TEST_FP_CMP_S(n, inst, flags, res, a, b)                        \
    TESTNUM_SET(n); LOAD_S(fa1, a); LOAD_S(fa2, b); csrwi fflags, 0;    \
    inst a0, fa1, fa2; CHECK_FLAGS(flags); CHECK(a0, res)
#define TEST_FP_CMP_D(n, inst, flags, res, a, b)                        \
    TESTNUM_SET(n); LOAD_D(fa1, a); LOAD_D(fa2, b); csrwi fflags, 0;    \
    inst a0, fa1, fa2; CHECK_FLAGS(flags); CHECK(a0, res)
#define TEST_FP_TOINT_S(n, inst, rm, flags, res, a)                     \
    TESTNUM_SET(n); LOAD_S(fa1, a); csrwi fflags, 0;                    \
    inst a0, fa1, rm; CHECK_FLAGS(flags); CHECK(a0, res)
#define TEST_FP_TOINT_D(n, inst, rm, flags, res, a)                     \
    TESTNUM_SET(n); LOAD_D(fa1, a); csrwi fflags, 0;                    \
    inst a0, fa1, rm; CHECK_FLAGS(flags); CHECK(a0, res)
/* int -> FP */
#define TEST_FP_FROMINT_S(n, inst, rm, flags, res, a)                   \
    TESTNUM_SET(n); li a1, a; csrwi fflags, 0;                          \
    inst fa0, a1, rm; CHECK_FLAGS(flags); CHECK_S(fa0, res)
#define TEST_FP_FROMINT_D(n, inst, rm, flags, res, a)                   \
    TESTNUM_SET(n); li a1, a; csrwi fflags, 0;                          \
    inst fa0, a1, rm; CHECK_FLAGS(flags); CHECK_D(fa0, res)

/* fflags bits */
#define FF_NX 0x01
#define FF_UF 0x02
#define FF_OF 0x04
#define FF_DZ 0x08
#define FF_NV 0x10

#endif
