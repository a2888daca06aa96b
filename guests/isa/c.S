/* C extension (RV64C): every RV64 compressed instruction, written with
 * explicit c. mnemonics so that 16-bit encodings are really emitted.
 * Edge immediates of c.lui/c.addi16sp/c.addi4spn/c.li/c.andi/c.addiw,
 * shift amounts >= 32, link values of c.jalr, taken/not-taken branches and
 * mixed 16/32-bit instruction streams. */
#include "test_macros.h"

TEST_BEGIN
    .option rvc
    mv      s11, sp             /* keep the real stack pointer */

/* ---- c.li / c.lui / c.addi / c.addiw / c.addi16sp / c.addi4spn ---- */
    TEST_CASE(1, a0, 0xffffffffffffffe0, c.li a0, -32)
    TEST_CASE(2, a0, 31, c.li a0, 31)
    TEST_CASE(3, a5, 0, c.li a5, 0)
    TEST_CASE(4, a0, 0x1000, c.lui a0, 1)
    TEST_CASE(5, a0, 0x1f000, c.lui a0, 0x1f)
    TEST_CASE(6, a0, 0xfffffffffffe0000, c.lui a0, 0xfffe0)
    TEST_CASE(7, a0, 0xfffffffffffff000, c.lui a0, 0xfffff)
    TEST_CASE(8, t2, 0xfffffffffffe0000, c.lui t2, 0xfffe0)
    TEST_CASE(9, a0, 0xffffffffffffffff, c.li a0, 0; c.addi a0, -1)
    TEST_CASE(10, a0, 0x8000000000000000, li a0, 0x7fffffffffffffe1; c.addi a0, 31)
    TEST_CASE(11, a0, 0xffffffffffffffc0, c.li a0, -32; c.addi a0, -32)
    TEST_CASE(12, a0, 0, c.li a0, 1; c.nop; c.addi a0, -1)
    TEST_CASE(13, a0, 0xffffffff80000000, li a0, 0x7fffffff; c.addiw a0, 1)
    TEST_CASE(14, a0, 0xffffffffffffffff, li a0, 0x00000000ffffffff; c.addiw a0, 0)
    TEST_CASE(15, a0, 0x7fffffe0, li a0, 0x123456787fffffff; c.addiw a0, -31)
    TEST_CASE(16, a0, 0x000000000000001f, li a0, 0xffffffff00000000; c.addiw a0, 31)
    TEST_CASE(17, a0, 0xffffffffffffffe0, c.li a0, 0; c.addiw a0, -32)
    TESTNUM_SET(18)
    li      sp, 0x1000
    c.addi16sp sp, -512
    CHECK(sp, 0x1000 - 512)
    c.addi16sp sp, 496
    CHECK(sp, 0x1000 - 16)
    c.addi16sp sp, 16
    CHECK(sp, 0x1000)
    c.addi16sp sp, -16
    CHECK(sp, 0x1000 - 16)
    TESTNUM_SET(19)
    li      sp, 0x10000
    c.addi4spn a0, sp, 4
    CHECK(a0, 0x10004)
    c.addi4spn s1, sp, 1020
    CHECK(s1, 0x10000 + 1020)
    c.addi4spn a5, sp, 8
    CHECK(a5, 0x10008)
    li      sp, -8
    c.addi4spn s0, sp, 16
    CHECK(s0, 8)
    mv      sp, s11

/* ---- shifts, including shamt >= 32 ---- */
    TEST_CASE(20, a0, 0x8000000000000000, c.li a0, 1; c.slli a0, 63)
    TEST_CASE(21, a0, 0x100000000, c.li a0, 1; c.slli a0, 32)
    TEST_CASE(22, a0, 0x80000000, c.li a0, 1; c.slli a0, 31)
    TEST_CASE(23, t0, 0xfffffffffffffffe, c.li t0, -1; c.slli t0, 1)
    TEST_CASE(24, a0, 1, li a0, 0x8000000000000000; c.srli a0, 63)
    TEST_CASE(25, a0, 0xffffffff, c.li a0, -1; c.srli a0, 32)
    TEST_CASE(26, a0, 0x1ffffffff, c.li a0, -1; c.srli a0, 31)
    TEST_CASE(27, a0, 0x7fffffffffffffff, c.li a0, -1; c.srli a0, 1)
    TEST_CASE(28, a0, 0xffffffffffffffff, li a0, 0x8000000000000000; c.srai a0, 63)
    TEST_CASE(29, a0, 0xffffffff80000000, li a0, 0x8000000000000000; c.srai a0, 32)
    TEST_CASE(30, a0, 0x0000000040000000, li a0, 0x4000000000000000; c.srai a0, 32)
    TEST_CASE(31, s1, 0xc000000000000000, li s1, 0x8000000000000000; c.srai s1, 1)

/* ---- c.andi and register-register ops ---- */
    TEST_CASE(32, a0, 0x123456789abcdee0, li a0, 0x123456789abcdef0; c.andi a0, -32)
    TEST_CASE(33, a0, 0x10, li a0, 0x123456789abcdef0; c.andi a0, 31)
    TEST_CASE(34, a0, 0, li a0, -1; c.andi a0, 0)
    TEST_CASE(35, a0, 0x2222222222222222, li a0, 0x3333333333333333; li a1, 0x1111111111111111; c.sub a0, a1)
    TEST_CASE(36, a0, 0xf0f0f0f0f0f0f0f0, li a0, 0xff00ff00ff00ff00; li a1, 0x0ff00ff00ff00ff0; c.xor a0, a1)
    TEST_CASE(37, a0, 0xfff0fff0fff0fff0, li a0, 0xff00ff00ff00ff00; li a1, 0x0ff00ff00ff00ff0; c.or a0, a1)
    TEST_CASE(38, a0, 0x0f000f000f000f00, li a0, 0xff00ff00ff00ff00; li a1, 0x0ff00ff00ff00ff0; c.and a0, a1)
    TEST_CASE(39, a0, 0xffffffff80000000, li a0, 0x7fffffff; c.li a1, 1; c.addw a0, a1)
    TEST_CASE(40, a0, 3, li a0, 0x1234567800000001; li a1, 0x9abcdef000000002; c.addw a0, a1)
    TEST_CASE(41, a0, 0x7fffffff, li a0, 0xffffffff80000000; c.li a1, 1; c.subw a0, a1)
    TEST_CASE(42, a0, 0xffffffffffffffff, c.li a0, 0; c.li a1, 1; c.subw a0, a1)
    TEST_CASE(43, a0, 0x100000000, li a0, 0xffffffff; c.li t1, 1; c.add a0, t1)
    TEST_CASE(44, t3, 0x123456789abcdef0, li t4, 0x123456789abcdef0; c.mv t3, t4)
    TEST_CASE(45, s0, 0xfedcba9876543210, li a5, 0xfedcba9876543210; c.mv s0, a5)

/* ---- loads / stores (register-based) ---- */
    la      s0, cdat
    TEST_CASE(46, a0, 0xffffffff85868788, c.lw a0, 0(s0))
    TEST_CASE(47, a0, 0x05060708, c.lw a0, 8(s0))
    TEST_CASE(48, a0, 0xffffffffcafef00d, c.lw a0, 124(s0))
    TEST_CASE(49, a1, 0x8182838485868788, c.ld a1, 0(s0))
    TEST_CASE(50, a1, 0x1122334455667788, c.ld a1, 248(s0))
    TEST_CASE(51, a2, 0x0102030405060708, c.ld a2, 8(s0))
    TEST_CASE(52, a0, 0xffffffff9abcdef0, li a1, 0x123456789abcdef0; c.sw a1, 16(s0); c.lw a0, 16(s0))
    TEST_CASE(53, a0, 0x9abcdef0, ld a0, 16(s0))
    TEST_CASE(54, a0, 0x123456789abcdef0, li a1, 0x123456789abcdef0; c.sd a1, 24(s0); c.ld a0, 24(s0))
    TEST_CASE(55, a0, 0x55, li a1, 0x55; c.sw a1, 120(s0); c.sd a1, 240(s0); lw a0, 120(s0); ld a1, 240(s0); bne a0, a1, test_fail)
    TEST_CASE(56, a0, 0x4008000000000000, li a1, 0x4008000000000000; c.sd a1, 32(s0); c.fld fa2, 32(s0); c.fsd fa2, 40(s0); ld a0, 40(s0))
    TEST_CASE(57, a0, 0xbff0000000000000, li a1, 0xbff0000000000000; sd a1, 248(s0); c.fld fs1, 248(s0); fmv.x.d a0, fs1)
    TEST_CASE(58, a0, 0x3ff8000000000000, li a1, 0x3ff8000000000000; fmv.d.x fa5, a1; c.fsd fa5, 0(s0); ld a0, 0(s0))

/* ---- loads / stores (sp-based) ---- */
    la      sp, cdat
    TEST_CASE(59, a0, 0xfffffffff0e0d0c0, li a1, 0x12345678f0e0d0c0; c.sdsp a1, 504(sp); c.sdsp a1, 240(sp); c.lwsp a0, 240(sp); c.lwsp a2, 244(sp); CHECK(a2, 0x12345678))
    TEST_CASE(60, a0, 0x12345678f0e0d0c0, c.ldsp a0, 504(sp))
    TEST_CASE(61, ra, 0x12345678f0e0d0c0, c.ldsp ra, 504(sp))
    TEST_CASE(62, a0, 0x0000000077777777, sd zero, 248(sp); li a1, 0x77777777; c.swsp a1, 252(sp); ld a0, 248(sp); srli a0, a0, 32)
    TEST_CASE(63, t6, 0xffffffff87654321, li t0, 0x87654321; c.swsp t0, 0(sp); c.lwsp t6, 0(sp); mv t5, t6; li t6, 0xffffffff87654321; bne t5, t6, test_fail; mv t6, t5)
    TEST_CASE(64, a0, 0x400921fb54442d18, li a1, 0x400921fb54442d18; c.sdsp a1, 496(sp); c.fldsp ft3, 496(sp); c.fsdsp ft3, 8(sp); c.ldsp a0, 8(sp))
    TEST_CASE(65, a0, 0xc000000000000000, li a1, 0xc000000000000000; fmv.d.x ft11, a1; c.fsdsp ft11, 504(sp); c.ldsp a0, 504(sp))
    mv      sp, s11

/* ---- control transfer ---- */
    TESTNUM_SET(66)
    c.j     2f
1:  c.j     3f
    j       test_fail
2:  c.j     1b
    j       test_fail
3:
    TESTNUM_SET(67)              /* c.beqz taken / not taken */
    c.li    a0, 0
    c.beqz  a0, 1f
    j       test_fail
1:  c.li    a0, 1
    c.beqz  a0, 2f
    c.j     1f
2:  j       test_fail
1:  li      a0, 0x100000000     /* the whole register is compared */
    c.beqz  a0, 2b
    TESTNUM_SET(68)              /* c.bnez taken / not taken */
    c.li    s1, -1
    c.bnez  s1, 1f
    j       test_fail
1:  c.li    s1, 0
    c.bnez  s1, 2f
    c.j     1f
2:  j       test_fail
1:
    TESTNUM_SET(69)              /* backward c.bnez loop */
    c.li    a0, 0
    c.li    a1, 10
1:  c.add   a0, a1
    c.addi  a1, -1
    c.bnez  a1, 1b
    CHECK(a0, 55)
    TESTNUM_SET(70)              /* c.jr */
    la      a1, 2f
    c.jr    a1
    j       test_fail
2:
    TESTNUM_SET(71)              /* c.jalr: link = pc + 2 */
    la      a1, 2f
    c.jalr  a1
1:  j       test_fail
2:  la      a2, 1b
    bne     ra, a2, test_fail
    TESTNUM_SET(72)              /* c.jalr with rs1 == ra: target from old ra */
    la      ra, 2f
    c.jalr  ra
1:  j       test_fail
2:  la      a2, 1b
    bne     ra, a2, test_fail
    TESTNUM_SET(73)              /* c.jr ra as return from a 32-bit call */
    li      a0, 0
    .option norvc
    jal     ra, 3f
    .option rvc
    CHECK(a0, 99)
    j       4f
3:  c.li    a0, 31
    c.addi  a0, 31
    c.addi  a0, 31
    c.addi  a0, 6
    c.jr    ra
4:
    TESTNUM_SET(74)              /* mixed 16/32-bit stream: 32-bit insns at 2-byte alignment */
    c.li    a0, 1
    .option norvc
    addi    a0, a0, 2           /* at pc % 4 == 2 */
    .option rvc
    c.addi  a0, 3
    .option norvc
    addi    a0, a0, 4
    addi    a0, a0, 5
    .option rvc
    c.nop
    CHECK(a0, 15)
    TESTNUM_SET(75)              /* x0 is not a valid rd, but c.mv / c.add to other regs chain */
    c.li    a3, 3
    c.mv    a4, a3
    c.add   a4, a3
    c.add   a4, a4
    CHECK(a4, 12)
TEST_END

    .data
    .align 4
cdat:
    .dword 0x8182838485868788
    .dword 0x0102030405060708
    .fill 108, 1, 0
    .word 0xcafef00d            /* offset 124 */
    .fill 120, 1, 0
    .dword 0x1122334455667788   /* offset 248 */
    .fill 264, 1, 0
