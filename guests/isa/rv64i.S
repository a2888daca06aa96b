/* RV64I base integer instructions: ALU ops (incl. W forms and shift edge
 * amounts), lui/auipc, branches, jal/jalr, loads/stores of every width with
 * sign/zero extension, misaligned accesses (must simply work), fence. */
#include "test_macros.h"

TEST_BEGIN
    .option norvc

/* ---- add / sub ---- */
    TEST_RR(1, add, 0, 0, 0)
    TEST_RR(2, add, 0x8000000000000000, 0x7fffffffffffffff, 1)
    TEST_RR(3, add, 0, -1, 1)
    TEST_RR(4, add, 0x100000000, 0xffffffff, 1)
    TEST_RR(5, add, 0xfffffffffffffffe, 0xffffffffffffffff, 0xffffffffffffffff)
    TEST_RR_SRC1(6, add, 24, 13, 11)
    TEST_RR_SRC2(7, add, 25, 14, 11)
    TEST_RR(8, sub, 0xffffffffffffffff, 0, 1)
    TEST_RR(9, sub, 0x7fffffffffffffff, 0x8000000000000000, 1)
    TEST_RR(10, sub, 0, 0x123456789abcdef0, 0x123456789abcdef0)
    TEST_RR(11, sub, 0x8000000000000001, 0, 0x7fffffffffffffff)
    TEST_RR_SRC2(12, sub, 2, 13, 11)

/* ---- logical ---- */
    TEST_RR(13, and, 0x0f000f000f000f00, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0)
    TEST_RR(14, or,  0xfff0fff0fff0fff0, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0)
    TEST_RR(15, xor, 0xf0f0f0f0f0f0f0f0, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0)
    TEST_RI(16, andi, 0x6f0, 0x123456789abcdef0, 0x7ff)
    TEST_RI(17, andi, 0x123456789abcd800, 0x123456789abcdef0, -0x800)
    TEST_RI(18, andi, 0x123456789abcdef0, 0x123456789abcdef0, -1)
    TEST_RI(19, ori, 0xfffffffffffffef0, 0x123456789abcdef0, -0x800)
    TEST_RI(20, ori, 0x123456789abcdeff, 0x123456789abcdef0, 0xf)
    TEST_RI(21, xori, 0xedcba9876543210f, 0x123456789abcdef0, -1)
    TEST_RI(22, xori, 0x123456789abcd90f, 0x123456789abcdef0, 0x7ff)

/* ---- compares ---- */
    TEST_RR(23, slt, 1, -1, 1)
    TEST_RR(24, slt, 0, 1, -1)
    TEST_RR(25, slt, 0, 5, 5)
    TEST_RR(26, slt, 1, 0x8000000000000000, 0x7fffffffffffffff)
    TEST_RR(27, sltu, 0, -1, 1)
    TEST_RR(28, sltu, 1, 1, -1)
    TEST_RR(29, sltu, 0, 0, 0)
    TEST_RR(30, sltu, 0, 0x8000000000000000, 0x7fffffffffffffff)
    TEST_RI(31, slti, 1, -1, 0)
    TEST_RI(32, slti, 0, 0, -1)
    TEST_RI(33, slti, 1, -2049, -2048)
    TEST_RI(34, slti, 0, 2047, 2047)
    TEST_RI(35, sltiu, 1, 1, -1)
    TEST_RI(36, sltiu, 1, 0, 1)
    TEST_RI(37, sltiu, 0, -1, -1)
    TEST_RI(38, sltiu, 0, 0x800, 0x7ff)

/* ---- 64-bit shifts (register amounts use the low 6 bits) ---- */
    TEST_RR(39, sll, 1, 1, 0)
    TEST_RR(40, sll, 0x80000000, 1, 31)
    TEST_RR(41, sll, 0x100000000, 1, 32)
    TEST_RR(42, sll, 0x8000000000000000, 1, 63)
    TEST_RR(43, sll, 1, 1, 64)
    TEST_RR(44, sll, 2, 1, 65)
    TEST_RR(45, sll, 0x8000000000000000, 1, -1)
    TEST_RR(46, sll, 0xf0f0f0f0f0f0f0f0, 0x0f0f0f0f0f0f0f0f, 0xffffffffffffff04)
    TEST_RR(47, srl, 0x8000000000000000, 0x8000000000000000, 0)
    TEST_RR(48, srl, 0x100000000, 0x8000000000000000, 31)
    TEST_RR(49, srl, 0x80000000, 0x8000000000000000, 32)
    TEST_RR(50, srl, 1, 0x8000000000000000, 63)
    TEST_RR(51, srl, 0x8000000000000000, 0x8000000000000000, 64)
    TEST_RR(52, srl, 0x4000000000000000, 0x8000000000000000, 0x1234567800000041)
    TEST_RR(53, sra, 0x8000000000000000, 0x8000000000000000, 0)
    TEST_RR(54, sra, 0xffffffff00000000, 0x8000000000000000, 31)
    TEST_RR(55, sra, 0xffffffff80000000, 0x8000000000000000, 32)
    TEST_RR(56, sra, 0xffffffffffffffff, 0x8000000000000000, 63)
    TEST_RR(57, sra, 0x8000000000000000, 0x8000000000000000, 64)
    TEST_RR(58, sra, 0, 0x7fffffffffffffff, 63)
    TEST_RR(59, sra, 0x3fffffffffffffff, 0x7fffffffffffffff, 0xffffffffffffffc1)
    TEST_RI(60, slli, 1, 1, 0)
    TEST_RI(61, slli, 0x80000000, 1, 31)
    TEST_RI(62, slli, 0x100000000, 1, 32)
    TEST_RI(63, slli, 0x8000000000000000, 1, 63)
    TEST_RI(64, slli, 0xffffffff00000000, -1, 32)
    TEST_RI(65, srli, 0x8000000000000000, 0x8000000000000000, 0)
    TEST_RI(66, srli, 0x100000000, 0x8000000000000000, 31)
    TEST_RI(67, srli, 0x80000000, 0x8000000000000000, 32)
    TEST_RI(68, srli, 1, 0x8000000000000000, 63)
    TEST_RI(69, srli, 0xffffffff, -1, 32)
    TEST_RI(70, srai, 0x8000000000000000, 0x8000000000000000, 0)
    TEST_RI(71, srai, 0xffffffff00000000, 0x8000000000000000, 31)
    TEST_RI(72, srai, 0xffffffff80000000, 0x8000000000000000, 32)
    TEST_RI(73, srai, 0xffffffffffffffff, 0x8000000000000000, 63)
    TEST_RI(74, srai, 0x0000000080000000, 0x4000000000000000, 31)

/* ---- W forms: 32-bit operation, result sign-extended ---- */
    TEST_RR(75, addw, 0xffffffff80000000, 0x7fffffff, 1)
    TEST_RR(76, addw, 0, 0xffffffff, 1)
    TEST_RR(77, addw, 3, 0x1234567800000001, 0x9abcdef000000002)
    TEST_RR(78, addw, 0x000000007ffffffe, 0xffffffffffffffff, 0x000000007fffffff)
    TEST_RR(79, subw, 0xffffffffffffffff, 0, 1)
    TEST_RR(80, subw, 0x7fffffff, 0xffffffff80000000, 1)
    TEST_RR(81, subw, 0, 0x5555555500000007, 0xaaaaaaaa00000007)
    TEST_RR(82, subw, 0xffffffff80000000, 0, 0x80000000)
    TEST_RI(83, addiw, 0xffffffff80000000, 0x7fffffff, 1)
    TEST_RI(84, addiw, 0xffffffffffffffff, 0x00000000ffffffff, 0)
    TEST_RI(85, addiw, 0x7fffffff, 0x123456787fffffff, 0)
    TEST_RI(86, addiw, 0x7ffff800, 0xffffffff80000000, -2048)
    TEST_RI(87, addiw, 0xfffffffffffff800, 0, -2048)
    TEST_RR(88, sllw, 0xffffffff80000000, 1, 31)
    TEST_RR(89, sllw, 1, 1, 32)
    TEST_RR(90, sllw, 0xffffffff80000000, 1, 63)
    TEST_RR(91, sllw, 0xffffffffffffffff, 0xffffffff, 0)
    TEST_RR(92, sllw, 0x0000000012345678, 0xfedcba9812345678, 0)
    TEST_RR(93, sllw, 0x0000000023456780, 0x0000000012345678, 4)
    TEST_RR(94, srlw, 0xffffffff80000000, 0x80000000, 0)
    TEST_RR(95, srlw, 1, 0x80000000, 31)
    TEST_RR(96, srlw, 0x40000000, 0x80000000, 1)
    TEST_RR(97, srlw, 0xffffffff80000000, 0x80000000, 32)
    TEST_RR(98, srlw, 0, 0xffffffff00000000, 4)
    TEST_RR(99, srlw, 0x0fffffff, 0x00000000ffffffff, 0xffffffffffffffe4)
    TEST_RR(100, sraw, 0xffffffffffffffff, 0x80000000, 31)
    TEST_RR(101, sraw, 0xffffffffc0000000, 0x80000000, 1)
    TEST_RR(102, sraw, 0xffffffff80000000, 0x80000000, 32)
    TEST_RR(103, sraw, 0x3fffffff, 0x7fffffff, 33)
    TEST_RR(104, sraw, 0x3fffffff, 0xffffffff7fffffff, 1)
    TEST_RI(105, slliw, 0xffffffff80000000, 1, 31)
    TEST_RI(106, slliw, 0xffffffffffffffff, 0xffffffff, 0)
    TEST_RI(107, slliw, 0, 0x100000000, 0)
    TEST_RI(108, slliw, 0x0000000070000000, 0xfffffffff7000000, 4)
    TEST_RI(109, srliw, 0xffffffff80000000, 0x80000000, 0)
    TEST_RI(110, srliw, 1, 0x80000000, 31)
    TEST_RI(111, srliw, 0x00000000000fffff, 0xffffffffffffffff, 12)
    TEST_RI(112, sraiw, 0xffffffffffffffff, 0x80000000, 31)
    TEST_RI(113, sraiw, 0xfffffffff8000000, 0x0000000080000000, 4)
    TEST_RI(114, sraiw, 0x07ffffff, 0xf00000007fffffff, 4)
    TEST_RI(115, sraiw, 0x12345678, 0xab00000012345678, 0)

/* ---- x0 is hard-wired to zero ---- */
    TEST_CASE(116, x0, 0, li a1, 5; add x0, a1, a1)
    TEST_CASE(117, x0, 0, addi x0, x0, 7)
    TEST_CASE(118, a0, 0, addi x0, x0, 7; mv a0, x0)
    TEST_CASE(119, a0, 0, lui x0, 0x12345; add a0, x0, x0)

/* ---- lui / auipc ---- */
    TEST_CASE(120, a0, 0xffffffff80000000, lui a0, 0x80000)
    TEST_CASE(121, a0, 0x7ffff000, lui a0, 0x7ffff)
    TEST_CASE(122, a0, 0xfffffffffffff000, lui a0, 0xfffff)
    TEST_CASE(123, a0, 0x1000, lui a0, 1)
    TEST_CASE(124, a0, 0, lui a0, 0)
    TEST_CASE(125, a0, 0x12345678, lui a0, 0x12345; addi a0, a0, 0x678)
    TESTNUM_SET(126)
1:  auipc   a0, 0
    la      a1, 1b
    bne     a0, a1, test_fail
    TESTNUM_SET(127)
1:  auipc   a0, 1
    la      a1, 1b
    sub     a0, a0, a1
    CHECK(a0, 0x1000)
    TESTNUM_SET(128)
1:  auipc   a0, 0xfffff
    la      a1, 1b
    sub     a0, a0, a1
    CHECK(a0, -0x1000)
    TESTNUM_SET(129)
1:  auipc   a0, 0x80000         /* pc - 2^31 */
    la      a1, 1b
    sub     a0, a0, a1
    CHECK(a0, 0xffffffff80000000)

/* ---- branches: each taken and not taken ---- */
#define BR_TAKEN(n, inst, a, b)                                         \
    TESTNUM_SET(n); li a1, a; li a2, b; inst a1, a2, 1f; j test_fail; 1:
#define BR_NOT(n, inst, a, b)                                           \
    TESTNUM_SET(n); li a1, a; li a2, b; inst a1, a2, 2f; j 1f; 2: j test_fail; 1:
    BR_TAKEN(130, beq, 5, 5)
    BR_TAKEN(131, beq, -1, -1)
    BR_NOT(132, beq, 5, 6)
    BR_NOT(133, beq, 0x100000000, 0)
    BR_TAKEN(134, bne, 5, 6)
    BR_TAKEN(135, bne, 0x100000000, 0)
    BR_NOT(136, bne, 7, 7)
    BR_TAKEN(137, blt, -1, 1)
    BR_TAKEN(138, blt, 0x8000000000000000, 0x7fffffffffffffff)
    BR_NOT(139, blt, 1, -1)
    BR_NOT(140, blt, 3, 3)
    BR_TAKEN(141, bge, 1, -1)
    BR_TAKEN(142, bge, 3, 3)
    BR_NOT(143, bge, -1, 1)
    BR_TAKEN(144, bltu, 1, -1)
    BR_NOT(145, bltu, -1, 1)
    BR_NOT(146, bltu, 3, 3)
    BR_TAKEN(147, bgeu, -1, 1)
    BR_TAKEN(148, bgeu, 3, 3)
    BR_NOT(149, bgeu, 1, -1)
    BR_NOT(150, bgeu, 0x7fffffffffffffff, 0x8000000000000000)
    /* backward branch loop: sum 1..10 */
    TESTNUM_SET(151)
    li      a0, 0
    li      a1, 10
1:  add     a0, a0, a1
    addi    a1, a1, -1
    bnez    a1, 1b
    CHECK(a0, 55)
    /* x0 operands */
    TESTNUM_SET(152)
    li      a1, -1
    bge     x0, a1, 1f
    j       test_fail
1:  bltu    x0, a1, 1f
    j       test_fail
1:

/* ---- jal / jalr ---- */
    TESTNUM_SET(153)
    jal     a0, 2f
1:  j       test_fail
2:  la      a1, 1b
    bne     a0, a1, test_fail
    TESTNUM_SET(154)          /* backward jal */
    j       2f
1:  jal     x0, 3f
    j       test_fail
2:  jal     ra, 1b
    j       test_fail
3:
    TESTNUM_SET(155)
    la      a1, 2f
    jalr    a0, 0(a1)
1:  j       test_fail
2:  la      t0, 1b
    bne     a0, t0, test_fail
    TESTNUM_SET(156)          /* positive offset */
    la      a1, 2f - 16
    jalr    a0, 16(a1)
    j       test_fail
2:
    TESTNUM_SET(157)          /* negative offset */
    la      a1, 2f + 8
    jalr    a0, -8(a1)
    j       test_fail
2:
    TESTNUM_SET(158)          /* lowest bit of the target is cleared */
    la      a1, 2f
    addi    a1, a1, 1
    jalr    a0, 0(a1)
    j       test_fail
2:
    TESTNUM_SET(159)          /* rd == rs1: target uses the old value */
    la      a0, 2f
    jalr    a0, 0(a0)
1:  j       test_fail
2:  la      t0, 1b
    bne     a0, t0, test_fail
    TESTNUM_SET(160)          /* call / ret through ra */
    li      a0, 0
    call    3f
    CHECK(a0, 77)
    j       4f
3:  li      a0, 77
    ret
4:
    TESTNUM_SET(161)          /* jalr x0 does not write */
    la      a1, 2f
    jalr    x0, 0(a1)
    j       test_fail
2:  CHECK(x0, 0)

/* ---- loads ---- */
    la      s0, ldat
    TEST_CASE(162, a0, 0xffffffffffffff88, lb a0, 0(s0))
    TEST_CASE(163, a0, 0xffffffffffffff81, lb a0, 7(s0))
    TEST_CASE(164, a0, 0x08, lb a0, 8(s0))
    TEST_CASE(165, a0, 0x88, lbu a0, 0(s0))
    TEST_CASE(166, a0, 0x81, lbu a0, 7(s0))
    TEST_CASE(167, a0, 0xffffffffffff8788, lh a0, 0(s0))
    TEST_CASE(168, a0, 0xffffffffffff8182, lh a0, 6(s0))
    TEST_CASE(169, a0, 0x0708, lh a0, 8(s0))
    TEST_CASE(170, a0, 0x8788, lhu a0, 0(s0))
    TEST_CASE(171, a0, 0x0102, lhu a0, 14(s0))
    TEST_CASE(172, a0, 0xffffffff85868788, lw a0, 0(s0))
    TEST_CASE(173, a0, 0xffffffff81828384, lw a0, 4(s0))
    TEST_CASE(174, a0, 0x05060708, lw a0, 8(s0))
    TEST_CASE(175, a0, 0x85868788, lwu a0, 0(s0))
    TEST_CASE(176, a0, 0x01020304, lwu a0, 12(s0))
    TEST_CASE(177, a0, 0x8182838485868788, ld a0, 0(s0))
    TEST_CASE(178, a0, 0x0102030405060708, ld a0, 8(s0))
    TEST_CASE(179, a0, 0xffffffffffff8182, addi a1, s0, 8; lh a0, -2(a1))
    TEST_CASE(180, a0, 0x8182838485868788, addi a1, s0, 2047; ld a0, -2047(a1))
    TEST_CASE(181, a0, 0x0102030405060708, addi a1, s0, 2047; addi a1, a1, 1; ld a0, -2040(a1))
    TEST_CASE(182, a0, 0x88, addi a0, s0, 0; lbu a0, 0(a0))     /* rd == rs1 */
    TEST_CASE(183, a0, 0, lb x0, 0(s0); mv a0, x0)

/* ---- stores ---- */
    la      s1, sdat
    TEST_CASE(184, a0, 0xffffffffffffffff, li a1, -1; sd a1, 0(s1); ld a0, 0(s1))
    TEST_CASE(185, a0, 0xffffffffffff00ff, li a1, 0x1200; sb a1, 1(s1); ld a0, 0(s1))
    TEST_CASE(186, a0, 0xffffffff12340034, li a1, 0xabcd1234; sh a1, 2(s1); sb a1, 0(s1); ld a0, 0(s1))
    TEST_CASE(187, a0, 0x5566778812340034, li a1, 0x1122334455667788; sw a1, 4(s1); ld a0, 0(s1))
    TEST_CASE(188, a0, 0x1122334455667788, li a1, 0x1122334455667788; sd a1, 8(s1); ld a0, 8(s1))
    TEST_CASE(189, a0, 0xffffffffffffff88, lb a0, 4(s1))
    TEST_CASE(190, a0, 0x56785678, li a1, 0x12345678; addi a2, s1, 32; sw a1, -16(a2); sh a1, -14(a2); lw a0, 16(s1))
    /* store then load with different widths at the same address */
    TEST_CASE(191, a0, 0x00000000deadbeef, li a1, 0xdeadbeef; sd zero, 24(s1); sw a1, 24(s1); ld a0, 24(s1))
    TEST_CASE(192, a0, 0xffffffffffffbeef, lh a0, 24(s1))
    TEST_CASE(193, a0, 0xbeef, lhu a0, 24(s1))
    TEST_CASE(194, a0, 0xffffffffffffffde, lb a0, 27(s1))
    TEST_CASE(195, a0, 0, sd x0, 24(s1); ld a0, 24(s1))

/* ---- misaligned loads ---- */
    TEST_CASE(196, a0, 0xffffffffffff8687, lh a0, 1(s0))
    TEST_CASE(197, a0, 0x8687, lhu a0, 1(s0))
    TEST_CASE(198, a0, 0x0881, lh a0, 7(s0))
    TEST_CASE(199, a0, 0xffffffff84858687, lw a0, 1(s0))
    TEST_CASE(200, a0, 0x82838485, lwu a0, 3(s0))
    TEST_CASE(201, a0, 0x07088182, lw a0, 6(s0))
    TEST_CASE(202, a0, 0xffffffff83848586, lw a0, 2(s0))
    TEST_CASE(203, a0, 0x0881828384858687, ld a0, 1(s0))
    TEST_CASE(204, a0, 0x0203040506070881, ld a0, 7(s0))
    TEST_CASE(205, a0, 0x0506070881828384, ld a0, 4(s0))

/* ---- misaligned stores ---- */
    TEST_CASE(206, a0, 0x4455667788000000, sd zero, 32(s1); sd zero, 40(s1); sd zero, 48(s1); li a1, 0x1122334455667788; sd a1, 35(s1); ld a0, 32(s1))
    TEST_CASE(207, a0, 0x0000000000112233, ld a0, 40(s1))
    TEST_CASE(208, a0, 0xef00000000112233, li a1, 0xdeadbeef; sw a1, 47(s1); ld a0, 40(s1))
    TEST_CASE(209, a0, 0x0000000000deadbe, ld a0, 48(s1))
    TEST_CASE(210, a0, 0x0000000000abcdbe, li a1, 0xabcd; sh a1, 49(s1); ld a0, 48(s1))
    TEST_CASE(211, a0, 0x000000000000abcd, lhu a0, 49(s1))
    TEST_CASE(212, a0, 0xffffffffabcdbeef, lw a0, 47(s1))
    /* misaligned across a page boundary */
    la      s2, __heap_start
    li      t0, 0x1000
    add     s2, s2, t0           /* page boundary */
    TEST_CASE(213, a0, 0x8877665544332211, li a1, 0x8877665544332211; sd zero, -8(s2); sd zero, 0(s2); sd a1, -3(s2); ld a0, -3(s2))
    TEST_CASE(214, a0, 0x3322110000000000, ld a0, -8(s2))
    TEST_CASE(215, a0, 0x0000008877665544, ld a0, 0(s2))
    TEST_CASE(216, a0, 0x66554433, lw a0, -1(s2))
    TEST_CASE(217, a0, 0x4433, lhu a0, -1(s2))
    TEST_CASE(218, a0, 0x1234, li a1, 0x1234; sh a1, -1(s2); lhu a0, -1(s2))
    TEST_CASE(219, a0, 0x0000008877665512, ld a0, 0(s2))

/* ---- fence ---- */
    TESTNUM_SET(220)
    fence
    fence rw, rw
    fence iorw, iorw
    fence r, r
    fence w, w
    fence.tso
    TEST_CASE(221, a0, 42, li a1, 42; sd a1, 0(s1); fence w, r; ld a0, 0(s1))

TEST_END

    .data
    .align 4
ldat:
    .dword 0x8182838485868788
    .dword 0x0102030405060708
    .align 4
sdat:
    .fill 64, 1, 0
