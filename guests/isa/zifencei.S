/* Zifencei: self-modifying code.  An instruction that has already run is
 * overwritten, fence.i, and re-running it shows the new behaviour; a hot
 * loop is patched between runs; a loop patches its own body half-way
 * through its iterations; a 16-bit instruction is patched with a 16-bit
 * store. */
#include "test_macros.h"

TEST_BEGIN
    .option norvc

    /* a function patched between calls */
    TESTNUM_SET(1)
    call    patch_fn
    CHECK(a0, 1)
    call    patch_fn            /* run it twice so that a JIT has compiled it */
    CHECK(a0, 1)
    la      a1, patch_fn
    lw      a2, tmpl_addi2
    sw      a2, 0(a1)
    fence.i
    call    patch_fn
    CHECK(a0, 2)
    call    patch_fn
    CHECK(a0, 2)

    /* patch again with a different instruction */
    TESTNUM_SET(2)
    la      a1, patch_fn
    lw      a2, tmpl_li_m1
    sw      a2, 0(a1)
    fence.i
    call    patch_fn
    CHECK(a0, -1)

    /* a hot loop, patched between runs */
    TESTNUM_SET(3)
    li      a1, 1000
    call    hot_loop
    CHECK(a0, 1000)
    li      a1, 1000
    call    hot_loop
    CHECK(a0, 1000)
    TESTNUM_SET(4)
    la      a1, hot_insn
    lw      a2, tmpl_add3
    sw      a2, 0(a1)
    fence.i
    li      a1, 1000
    call    hot_loop
    CHECK(a0, 3000)

    /* a loop that patches its own body at iteration 500 of 1000 */
    TESTNUM_SET(5)
    call    self_patch_loop
    CHECK(a0, 500 + 3 * 500)
    call    self_patch_loop     /* now patched from the start: 3 * 1000 */
    CHECK(a0, 3000)

    /* patch the instruction right after fence.i, in the same block */
    TESTNUM_SET(6)
    la      a1, next_insn
    lw      a2, tmpl_li_7
    sw      a2, 0(a1)
    fence.i
next_insn:
    li      a0, 1
    CHECK(a0, 7)

    /* a 16-bit instruction patched with a 16-bit store */
    TESTNUM_SET(7)
    call    c_fn
    CHECK(a0, 5)
    la      a1, c_fn
    lhu     a2, tmpl_cli
    sh      a2, 0(a1)
    fence.i
    call    c_fn
    CHECK(a0, -7)
TEST_END

    .text
    .align 2
patch_fn:
    addi    a0, zero, 1
    ret

hot_loop:                       /* a0 = sum over a1 iterations */
    li      a0, 0
1:
hot_insn:
    addi    a0, a0, 1
    addi    a1, a1, -1
    bnez    a1, 1b
    ret

self_patch_loop:
    li      a0, 0
    li      t1, 1000
    li      t2, 500
    la      t3, self_insn
    lw      t4, tmpl_add3
1:
self_insn:
    addi    a0, a0, 1
    addi    t1, t1, -1
    bne     t1, t2, 2f
    sw      t4, 0(t3)
    fence.i
2:  bnez    t1, 1b
    /* restore nothing: the second call runs the patched loop */
    ret

    .option push
    .option rvc
c_fn:
    c.li    a0, 5
    c.jr    ra
    .option pop

/* instruction templates (assembled as data) */
    .section .rodata
    .align 2
    .option push
    .option norvc
tmpl_addi2: addi a0, zero, 2
tmpl_li_m1: xori a0, zero, -1
tmpl_add3:  addi a0, a0, 3
tmpl_li_7:  addi a0, zero, 7
    .option rvc
tmpl_cli:   c.li a0, -7
    .option pop
