/* A extension: lr/sc success and failure paths, every AMO (.w and .d) with
 * the old value returned (sign-extended for .w), the new value stored (only
 * 32 bits for .w), and aq/rl/aqrl variants. */
#include "test_macros.h"

/* mem at s0 (8 bytes) = init; a0 = amo(a2 = src); check a0 and memory */
#define TEST_AMO(n, inst, init, src, rdval, memval)                     \
    TESTNUM_SET(n); li a1, init; sd a1, 0(s0); li a2, src;              \
    inst a0, a2, (s0); CHECK(a0, rdval); ld a3, 0(s0); CHECK(a3, memval)

TEST_BEGIN
    .option norvc
    la      s0, amo_word
    la      s1, amo_far          /* a different page */

/* ---- lr / sc ---- */
    /* sc without a prior lr fails and does not write */
    TESTNUM_SET(1)
    li      a1, 111
    sd      a1, 0(s0)
    li      a2, 222
    sc.d    a0, a2, (s0)
    beqz    a0, test_fail
    ld      a3, 0(s0)
    CHECK(a3, 111)
    /* lr/sc success */
    TESTNUM_SET(2)
    lr.d    a0, (s0)
    CHECK(a0, 111)
    li      a2, 333
    sc.d    a4, a2, (s0)
    CHECK(a4, 0)
    ld      a3, 0(s0)
    CHECK(a3, 333)
    /* second sc after a successful one fails */
    TESTNUM_SET(3)
    li      a2, 444
    sc.d    a4, a2, (s0)
    beqz    a4, test_fail
    ld      a3, 0(s0)
    CHECK(a3, 333)
    /* sc to a different address (another page) fails */
    TESTNUM_SET(4)
    sd      zero, 0(s1)
    lr.d    a0, (s0)
    li      a2, 555
    sc.d    a4, a2, (s1)
    beqz    a4, test_fail
    ld      a3, 0(s1)
    CHECK(a3, 0)
    ld      a3, 0(s0)
    CHECK(a3, 333)
    /* the reservation is gone after that failed sc too? (not required);
       clear it with a sc to the reserved address whose result we ignore */
    sc.d    a4, a2, (s1)
    /* lr.w sign-extends, sc.w writes only 32 bits */
    TESTNUM_SET(5)
    li      a1, 0x1234567880000000
    sd      a1, 0(s0)
    lr.w    a0, (s0)
    CHECK(a0, 0xffffffff80000000)
    li      a2, 0xaaaaaaaa7fffffff
    sc.w    a4, a2, (s0)
    CHECK(a4, 0)
    ld      a3, 0(s0)
    CHECK(a3, 0x123456787fffffff)
    /* sc.w fails after success, sc.w without lr fails */
    TESTNUM_SET(6)
    sc.w    a4, zero, (s0)
    beqz    a4, test_fail
    ld      a3, 0(s0)
    CHECK(a3, 0x123456787fffffff)
    /* aq/rl variants */
    TESTNUM_SET(7)
    lr.d.aq a0, (s0)
    li      a2, 7
    sc.d.rl a4, a2, (s0)
    CHECK(a4, 0)
    lr.w.aqrl a0, (s0)
    CHECK(a0, 7)
    li      a2, 9
    sc.w.aqrl a4, a2, (s0)
    CHECK(a4, 0)
    lr.d.rl a0, (s0)
    CHECK(a0, 9)
    li      a2, -1
    sc.d.aq a4, a2, (s0)
    CHECK(a4, 0)
    lr.w.aq a0, (s0)
    CHECK(a0, -1)
    sc.w.rl a4, zero, (s0)
    CHECK(a4, 0)
    ld      a3, 0(s0)
    CHECK(a3, 0xffffffff00000000)
    /* lr/sc loop: atomic increment 100 times */
    TESTNUM_SET(8)
    sd      zero, 0(s0)
    li      a5, 100
1:  lr.d    a0, (s0)
    addi    a0, a0, 3
    sc.d    a4, a0, (s0)
    bnez    a4, 1b
    addi    a5, a5, -1
    bnez    a5, 1b
    ld      a3, 0(s0)
    CHECK(a3, 300)
    /* sc with rd == rs2 */
    TESTNUM_SET(9)
    lr.d    a0, (s0)
    li      a2, 17
    sc.d    a2, a2, (s0)
    CHECK(a2, 0)
    ld      a3, 0(s0)
    CHECK(a3, 17)

/* ---- AMOs ---- */
    TEST_AMO(10, amoswap.w, 0x5a5a5a5a80000000, 0x1, 0xffffffff80000000, 0x5a5a5a5a00000001)
    TEST_AMO(11, amoswap.w.aq, 0x5a5a5a5a7fffffff, 0x1, 0x7fffffff, 0x5a5a5a5a00000001)
    TEST_AMO(12, amoswap.w.rl, 0x5a5a5a5a00000010, 0xffffffff00000001, 0x10, 0x5a5a5a5a00000001)
    TEST_AMO(13, amoswap.w.aqrl, 0x5a5a5a5af0f0f0f0, 0xff00ff00, 0xfffffffff0f0f0f0, 0x5a5a5a5aff00ff00)
    TEST_AMO(14, amoswap.w, 0x5a5a5a5a00000000, 0xffffffff, 0x0, 0x5a5a5a5affffffff)
    TEST_AMO(15, amoswap.w.aq, 0x5a5a5a5affffffff, 0x7fffffff, 0xffffffffffffffff, 0x5a5a5a5a7fffffff)
    TEST_AMO(16, amoswap.d.rl, 0x8000000000000000, 0x1, 0x8000000000000000, 0x1)
    TEST_AMO(17, amoswap.d.aqrl, 0x7fffffffffffffff, 0x1, 0x7fffffffffffffff, 0x1)
    TEST_AMO(18, amoswap.d, 0xf0f0f0f0f0f0f0f0, 0xff00ff00ff00ff00, 0xf0f0f0f0f0f0f0f0, 0xff00ff00ff00ff00)
    TEST_AMO(19, amoswap.d.aq, 0x0, 0xffffffffffffffff, 0x0, 0xffffffffffffffff)
    TEST_AMO(20, amoswap.d.rl, 0xffffffff, 0x100000000, 0xffffffff, 0x100000000)
    TEST_AMO(21, amoadd.w.aqrl, 0x5a5a5a5a80000000, 0x1, 0xffffffff80000000, 0x5a5a5a5a80000001)
    TEST_AMO(22, amoadd.w, 0x5a5a5a5a7fffffff, 0x1, 0x7fffffff, 0x5a5a5a5a80000000)
    TEST_AMO(23, amoadd.w.aq, 0x5a5a5a5a00000010, 0xffffffff00000001, 0x10, 0x5a5a5a5a00000011)
    TEST_AMO(24, amoadd.w.rl, 0x5a5a5a5af0f0f0f0, 0xff00ff00, 0xfffffffff0f0f0f0, 0x5a5a5a5aeff1eff0)
    TEST_AMO(25, amoadd.w.aqrl, 0x5a5a5a5a00000000, 0xffffffff, 0x0, 0x5a5a5a5affffffff)
    TEST_AMO(26, amoadd.w, 0x5a5a5a5affffffff, 0x7fffffff, 0xffffffffffffffff, 0x5a5a5a5a7ffffffe)
    TEST_AMO(27, amoadd.d.aq, 0x8000000000000000, 0x1, 0x8000000000000000, 0x8000000000000001)
    TEST_AMO(28, amoadd.d.rl, 0x7fffffffffffffff, 0x1, 0x7fffffffffffffff, 0x8000000000000000)
    TEST_AMO(29, amoadd.d.aqrl, 0xf0f0f0f0f0f0f0f0, 0xff00ff00ff00ff00, 0xf0f0f0f0f0f0f0f0, 0xeff1eff1eff1eff0)
    TEST_AMO(30, amoadd.d, 0x0, 0xffffffffffffffff, 0x0, 0xffffffffffffffff)
    TEST_AMO(31, amoadd.d.aq, 0xffffffff, 0x100000000, 0xffffffff, 0x1ffffffff)
    TEST_AMO(32, amoand.w.rl, 0x5a5a5a5a80000000, 0x1, 0xffffffff80000000, 0x5a5a5a5a00000000)
    TEST_AMO(33, amoand.w.aqrl, 0x5a5a5a5a7fffffff, 0x1, 0x7fffffff, 0x5a5a5a5a00000001)
    TEST_AMO(34, amoand.w, 0x5a5a5a5a00000010, 0xffffffff00000001, 0x10, 0x5a5a5a5a00000000)
    TEST_AMO(35, amoand.w.aq, 0x5a5a5a5af0f0f0f0, 0xff00ff00, 0xfffffffff0f0f0f0, 0x5a5a5a5af000f000)
    TEST_AMO(36, amoand.w.rl, 0x5a5a5a5a00000000, 0xffffffff, 0x0, 0x5a5a5a5a00000000)
    TEST_AMO(37, amoand.w.aqrl, 0x5a5a5a5affffffff, 0x7fffffff, 0xffffffffffffffff, 0x5a5a5a5a7fffffff)
    TEST_AMO(38, amoand.d, 0x8000000000000000, 0x1, 0x8000000000000000, 0x0)
    TEST_AMO(39, amoand.d.aq, 0x7fffffffffffffff, 0x1, 0x7fffffffffffffff, 0x1)
    TEST_AMO(40, amoand.d.rl, 0xf0f0f0f0f0f0f0f0, 0xff00ff00ff00ff00, 0xf0f0f0f0f0f0f0f0, 0xf000f000f000f000)
    TEST_AMO(41, amoand.d.aqrl, 0x0, 0xffffffffffffffff, 0x0, 0x0)
    TEST_AMO(42, amoand.d, 0xffffffff, 0x100000000, 0xffffffff, 0x0)
    TEST_AMO(43, amoor.w.aq, 0x5a5a5a5a80000000, 0x1, 0xffffffff80000000, 0x5a5a5a5a80000001)
    TEST_AMO(44, amoor.w.rl, 0x5a5a5a5a7fffffff, 0x1, 0x7fffffff, 0x5a5a5a5a7fffffff)
    TEST_AMO(45, amoor.w.aqrl, 0x5a5a5a5a00000010, 0xffffffff00000001, 0x10, 0x5a5a5a5a00000011)
    TEST_AMO(46, amoor.w, 0x5a5a5a5af0f0f0f0, 0xff00ff00, 0xfffffffff0f0f0f0, 0x5a5a5a5afff0fff0)
    TEST_AMO(47, amoor.w.aq, 0x5a5a5a5a00000000, 0xffffffff, 0x0, 0x5a5a5a5affffffff)
    TEST_AMO(48, amoor.w.rl, 0x5a5a5a5affffffff, 0x7fffffff, 0xffffffffffffffff, 0x5a5a5a5affffffff)
    TEST_AMO(49, amoor.d.aqrl, 0x8000000000000000, 0x1, 0x8000000000000000, 0x8000000000000001)
    TEST_AMO(50, amoor.d, 0x7fffffffffffffff, 0x1, 0x7fffffffffffffff, 0x7fffffffffffffff)
    TEST_AMO(51, amoor.d.aq, 0xf0f0f0f0f0f0f0f0, 0xff00ff00ff00ff00, 0xf0f0f0f0f0f0f0f0, 0xfff0fff0fff0fff0)
    TEST_AMO(52, amoor.d.rl, 0x0, 0xffffffffffffffff, 0x0, 0xffffffffffffffff)
    TEST_AMO(53, amoor.d.aqrl, 0xffffffff, 0x100000000, 0xffffffff, 0x1ffffffff)
    TEST_AMO(54, amoxor.w, 0x5a5a5a5a80000000, 0x1, 0xffffffff80000000, 0x5a5a5a5a80000001)
    TEST_AMO(55, amoxor.w.aq, 0x5a5a5a5a7fffffff, 0x1, 0x7fffffff, 0x5a5a5a5a7ffffffe)
    TEST_AMO(56, amoxor.w.rl, 0x5a5a5a5a00000010, 0xffffffff00000001, 0x10, 0x5a5a5a5a00000011)
    TEST_AMO(57, amoxor.w.aqrl, 0x5a5a5a5af0f0f0f0, 0xff00ff00, 0xfffffffff0f0f0f0, 0x5a5a5a5a0ff00ff0)
    TEST_AMO(58, amoxor.w, 0x5a5a5a5a00000000, 0xffffffff, 0x0, 0x5a5a5a5affffffff)
    TEST_AMO(59, amoxor.w.aq, 0x5a5a5a5affffffff, 0x7fffffff, 0xffffffffffffffff, 0x5a5a5a5a80000000)
    TEST_AMO(60, amoxor.d.rl, 0x8000000000000000, 0x1, 0x8000000000000000, 0x8000000000000001)
    TEST_AMO(61, amoxor.d.aqrl, 0x7fffffffffffffff, 0x1, 0x7fffffffffffffff, 0x7ffffffffffffffe)
    TEST_AMO(62, amoxor.d, 0xf0f0f0f0f0f0f0f0, 0xff00ff00ff00ff00, 0xf0f0f0f0f0f0f0f0, 0xff00ff00ff00ff0)
    TEST_AMO(63, amoxor.d.aq, 0x0, 0xffffffffffffffff, 0x0, 0xffffffffffffffff)
    TEST_AMO(64, amoxor.d.rl, 0xffffffff, 0x100000000, 0xffffffff, 0x1ffffffff)
    TEST_AMO(65, amomax.w.aqrl, 0x5a5a5a5a80000000, 0x1, 0xffffffff80000000, 0x5a5a5a5a00000001)
    TEST_AMO(66, amomax.w, 0x5a5a5a5a7fffffff, 0x1, 0x7fffffff, 0x5a5a5a5a7fffffff)
    TEST_AMO(67, amomax.w.aq, 0x5a5a5a5a00000010, 0xffffffff00000001, 0x10, 0x5a5a5a5a00000010)
    TEST_AMO(68, amomax.w.rl, 0x5a5a5a5af0f0f0f0, 0xff00ff00, 0xfffffffff0f0f0f0, 0x5a5a5a5aff00ff00)
    TEST_AMO(69, amomax.w.aqrl, 0x5a5a5a5a00000000, 0xffffffff, 0x0, 0x5a5a5a5a00000000)
    TEST_AMO(70, amomax.w, 0x5a5a5a5affffffff, 0x7fffffff, 0xffffffffffffffff, 0x5a5a5a5a7fffffff)
    TEST_AMO(71, amomax.d.aq, 0x8000000000000000, 0x1, 0x8000000000000000, 0x1)
    TEST_AMO(72, amomax.d.rl, 0x7fffffffffffffff, 0x1, 0x7fffffffffffffff, 0x7fffffffffffffff)
    TEST_AMO(73, amomax.d.aqrl, 0xf0f0f0f0f0f0f0f0, 0xff00ff00ff00ff00, 0xf0f0f0f0f0f0f0f0, 0xff00ff00ff00ff00)
    TEST_AMO(74, amomax.d, 0x0, 0xffffffffffffffff, 0x0, 0x0)
    TEST_AMO(75, amomax.d.aq, 0xffffffff, 0x100000000, 0xffffffff, 0x100000000)
    TEST_AMO(76, amomin.w.rl, 0x5a5a5a5a80000000, 0x1, 0xffffffff80000000, 0x5a5a5a5a80000000)
    TEST_AMO(77, amomin.w.aqrl, 0x5a5a5a5a7fffffff, 0x1, 0x7fffffff, 0x5a5a5a5a00000001)
    TEST_AMO(78, amomin.w, 0x5a5a5a5a00000010, 0xffffffff00000001, 0x10, 0x5a5a5a5a00000001)
    TEST_AMO(79, amomin.w.aq, 0x5a5a5a5af0f0f0f0, 0xff00ff00, 0xfffffffff0f0f0f0, 0x5a5a5a5af0f0f0f0)
    TEST_AMO(80, amomin.w.rl, 0x5a5a5a5a00000000, 0xffffffff, 0x0, 0x5a5a5a5affffffff)
    TEST_AMO(81, amomin.w.aqrl, 0x5a5a5a5affffffff, 0x7fffffff, 0xffffffffffffffff, 0x5a5a5a5affffffff)
    TEST_AMO(82, amomin.d, 0x8000000000000000, 0x1, 0x8000000000000000, 0x8000000000000000)
    TEST_AMO(83, amomin.d.aq, 0x7fffffffffffffff, 0x1, 0x7fffffffffffffff, 0x1)
    TEST_AMO(84, amomin.d.rl, 0xf0f0f0f0f0f0f0f0, 0xff00ff00ff00ff00, 0xf0f0f0f0f0f0f0f0, 0xf0f0f0f0f0f0f0f0)
    TEST_AMO(85, amomin.d.aqrl, 0x0, 0xffffffffffffffff, 0x0, 0xffffffffffffffff)
    TEST_AMO(86, amomin.d, 0xffffffff, 0x100000000, 0xffffffff, 0xffffffff)
    TEST_AMO(87, amomaxu.w.aq, 0x5a5a5a5a80000000, 0x1, 0xffffffff80000000, 0x5a5a5a5a80000000)
    TEST_AMO(88, amomaxu.w.rl, 0x5a5a5a5a7fffffff, 0x1, 0x7fffffff, 0x5a5a5a5a7fffffff)
    TEST_AMO(89, amomaxu.w.aqrl, 0x5a5a5a5a00000010, 0xffffffff00000001, 0x10, 0x5a5a5a5a00000010)
    TEST_AMO(90, amomaxu.w, 0x5a5a5a5af0f0f0f0, 0xff00ff00, 0xfffffffff0f0f0f0, 0x5a5a5a5aff00ff00)
    TEST_AMO(91, amomaxu.w.aq, 0x5a5a5a5a00000000, 0xffffffff, 0x0, 0x5a5a5a5affffffff)
    TEST_AMO(92, amomaxu.w.rl, 0x5a5a5a5affffffff, 0x7fffffff, 0xffffffffffffffff, 0x5a5a5a5affffffff)
    TEST_AMO(93, amomaxu.d.aqrl, 0x8000000000000000, 0x1, 0x8000000000000000, 0x8000000000000000)
    TEST_AMO(94, amomaxu.d, 0x7fffffffffffffff, 0x1, 0x7fffffffffffffff, 0x7fffffffffffffff)
    TEST_AMO(95, amomaxu.d.aq, 0xf0f0f0f0f0f0f0f0, 0xff00ff00ff00ff00, 0xf0f0f0f0f0f0f0f0, 0xff00ff00ff00ff00)
    TEST_AMO(96, amomaxu.d.rl, 0x0, 0xffffffffffffffff, 0x0, 0xffffffffffffffff)
    TEST_AMO(97, amomaxu.d.aqrl, 0xffffffff, 0x100000000, 0xffffffff, 0x100000000)
    TEST_AMO(98, amominu.w, 0x5a5a5a5a80000000, 0x1, 0xffffffff80000000, 0x5a5a5a5a00000001)
    TEST_AMO(99, amominu.w.aq, 0x5a5a5a5a7fffffff, 0x1, 0x7fffffff, 0x5a5a5a5a00000001)
    TEST_AMO(100, amominu.w.rl, 0x5a5a5a5a00000010, 0xffffffff00000001, 0x10, 0x5a5a5a5a00000001)
    TEST_AMO(101, amominu.w.aqrl, 0x5a5a5a5af0f0f0f0, 0xff00ff00, 0xfffffffff0f0f0f0, 0x5a5a5a5af0f0f0f0)
    TEST_AMO(102, amominu.w, 0x5a5a5a5a00000000, 0xffffffff, 0x0, 0x5a5a5a5a00000000)
    TEST_AMO(103, amominu.w.aq, 0x5a5a5a5affffffff, 0x7fffffff, 0xffffffffffffffff, 0x5a5a5a5a7fffffff)
    TEST_AMO(104, amominu.d.rl, 0x8000000000000000, 0x1, 0x8000000000000000, 0x1)
    TEST_AMO(105, amominu.d.aqrl, 0x7fffffffffffffff, 0x1, 0x7fffffffffffffff, 0x1)
    TEST_AMO(106, amominu.d, 0xf0f0f0f0f0f0f0f0, 0xff00ff00ff00ff00, 0xf0f0f0f0f0f0f0f0, 0xf0f0f0f0f0f0f0f0)
    TEST_AMO(107, amominu.d.aq, 0x0, 0xffffffffffffffff, 0x0, 0x0)
    TEST_AMO(108, amominu.d.rl, 0xffffffff, 0x100000000, 0xffffffff, 0xffffffff)
    /* rd == x0 still performs the store */
    TEST_CASE(109, a3, 12, li a1, 5; sd a1, 0(s0); li a2, 7; amoadd.d x0, a2, (s0); ld a3, 0(s0))
    TEST_CASE(110, a3, 0x5a5a5a5a00000009, li a1, 0x5a5a5a5a00000005; sd a1, 0(s0); li a2, 4; amoadd.w.aqrl x0, a2, (s0); ld a3, 0(s0))
    /* rd == rs2 */
    TEST_CASE(111, a2, 5, li a1, 5; sd a1, 0(s0); li a2, 9; amoswap.d a2, a2, (s0); ld a3, 0(s0); CHECK(a3, 9))
    /* .w on the upper word of a doubleword */
    TEST_CASE(112, a0, 0xffffffff80000000, li a1, 0x8000000000000001; sd a1, 0(s0); li a2, 1; addi a4, s0, 4; amoadd.w a0, a2, (a4); ld a3, 0(s0); CHECK(a3, 0x8000000100000001))
TEST_END

    .data
    .align 4
amo_word:
    .dword 0, 0
    .align 12
    .fill 16, 1, 0
amo_far:
    .dword 0, 0
