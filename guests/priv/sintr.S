/* Supervisor interrupts delegated through mideleg (paging off):
 *  - a delegated interrupt is never taken in M-mode, even with MIE = 1
 *  - sie / sip are views of mie / mip through mideleg
 *  - in S-mode: taken only once sstatus.SIE = 1 and sie.SSIE = 1; scause
 *    has the interrupt bit, sepc is the next instruction to run
 *  - vectored stvec: interrupts at BASE + 4 * cause
 *  - in U-mode: taken whatever sstatus.SIE says
 *  - not delegated: the same interrupt goes to M-mode, even from S-mode
 *  - priority: SSI before STI
 * The M-mode handler is a small service for ecalls (a0 = request) and
 * records interrupts that reach M in s10. The S-mode handler records
 * scause, sepc, sstatus in s2, s3, s7, counts traps in s6, shifts the low
 * byte of each scause into s9, and resumes at s5 if non-zero (in S-mode).
 */
#include "test_macros.h"

#define SSIP        (1 << 1)
#define STIP        (1 << 5)
#define SIE_BIT     (1 << 1)
#define SPIE_BIT    (1 << 5)
#define SPP_BIT     (1 << 8)
#define MIE_BIT     (1 << 3)
#define MPP_MASK    (3 << 11)
#define MPP_S       (1 << 11)
#define INT         0x8000000000000000

/* requests to the M-mode service */
#define REQ_SET_SSIP    1
#define REQ_UNDELEGATE  2
#define REQ_SET_STIP    4
#define REQ_CLEAR_STIP  5

#define SERVICE(req)    li a0, req; ecall

TEST_BEGIN
    .option norvc
    li      t0, -1
    csrw    pmpaddr0, t0
    li      t0, 0x1f
    csrw    pmpcfg0, t0
    TEST_SET_TRAP(mtrap)
    li      s10, 0
    li      t0, 1 << 3                  /* breakpoints to S; ecalls stay in M */
    csrw    medeleg, t0
    csrw    mie, zero

    TESTNUM_SET(1)                      /* only S interrupts are delegable */
    li      t0, -1
    csrw    mideleg, t0
    csrr    t1, mideleg
    li      t2, 0x888                   /* no M interrupt bit */
    and     t1, t1, t2
    CHECK(t1, 0)
    li      t0, SSIP | STIP
    csrw    mideleg, t0
    csrr    t1, mideleg
    andi    t1, t1, 0x222               /* QEMU 7.2 has the H extension: VS bits read 1 */
    CHECK(t1, SSIP | STIP)

    TESTNUM_SET(2)                      /* delegated: not taken in M-mode */
    csrs    mie, SSIP
    csrs    mip, SSIP
    csrsi   mstatus, MIE_BIT
    nop
    nop
    csrci   mstatus, MIE_BIT
    CHECK(s10, 0)
    csrc    mip, SSIP
    csrc    mie, SSIP

    la      t0, strap
    csrw    stvec, t0
    li      t0, MPP_MASK
    csrc    mstatus, t0
    li      t0, MPP_S
    csrs    mstatus, t0
    la      t0, s_main
    csrw    mepc, t0
    mret

    .align 2
s_main:
    li      s5, 0
    li      s6, 0
    TESTNUM_SET(3)                      /* sie writes reach mie through mideleg */
    csrw    sie, SSIP
    csrr    a0, sie
    CHECK(a0, SSIP)
    csrr    a0, sstatus
    andi    a0, a0, SIE_BIT
    CHECK(a0, 0)

    TESTNUM_SET(4)                      /* pending but SIE = 0: not taken */
    SERVICE(REQ_SET_SSIP)
    nop
    CHECK(s6, 0)
    csrr    a0, sip
    CHECK(a0, SSIP)

    TESTNUM_SET(5)                      /* SIE = 1: taken at once */
    csrsi   sstatus, SIE_BIT
1:  nop
    CHECK(s6, 1)
    CHECK(s2, INT | 1)
    la      t0, 1b
    bne     s3, t0, test_fail
    andi    t0, s7, SPP_BIT             /* from S, SIE was 1 */
    CHECK(t0, SPP_BIT)
    andi    t0, s7, SPIE_BIT
    CHECK(t0, SPIE_BIT)
    csrr    a0, sip
    CHECK(a0, 0)
    csrr    a0, sstatus                 /* sret restored SIE */
    andi    a0, a0, SIE_BIT
    CHECK(a0, SIE_BIT)

    TESTNUM_SET(6)                      /* vectored stvec */
    la      t0, svec
    ori     t0, t0, 1
    csrw    stvec, t0
    li      s6, 0
    li      s11, 0
    SERVICE(REQ_SET_SSIP)
1:  nop                                 /* taken on return from M */
    CHECK(s6, 1)
    CHECK(s11, 1)                       /* through the vector slot */
    la      t0, 1b
    bne     s3, t0, test_fail
    TESTNUM_SET(7)                      /* exceptions still go to BASE */
    li      s6, 0
    li      s11, 0
1:  ebreak
    CHECK(s6, 1)
    CHECK(s2, 3)
    CHECK(s11, 0)
    la      t0, strap
    csrw    stvec, t0

    TESTNUM_SET(8)                      /* sie.SSIE = 0: not taken even with SIE = 1 */
    li      s6, 0
    csrw    sie, zero
    SERVICE(REQ_SET_SSIP)
    nop
    CHECK(s6, 0)
    csrs    sie, SSIP
1:  nop
    CHECK(s6, 1)
    la      t0, 1b
    bne     s3, t0, test_fail

    TESTNUM_SET(9)                      /* U-mode: taken although SIE = 0 */
    csrci   sstatus, SIE_BIT
    li      s6, 0
    la      s5, 2f
    li      t0, SPP_BIT | SPIE_BIT
    csrc    sstatus, t0
    la      t0, u_code
    csrw    sepc, t0
    sret
2:  CHECK(s6, 1)
    CHECK(s2, INT | 1)
    la      t0, u_loop
    bne     s3, t0, test_fail
    andi    t0, s7, SPP_BIT             /* it came from U */
    CHECK(t0, 0)

    TESTNUM_SET(10)                     /* SSI before STI */
    li      s6, 0
    li      s9, 0
    li      t0, SSIP | STIP
    csrw    sie, t0
    SERVICE(REQ_SET_STIP)
    SERVICE(REQ_SET_SSIP)
    CHECK(s6, 0)
    csrsi   sstatus, SIE_BIT
    nop
    csrci   sstatus, SIE_BIT
    CHECK(s6, 2)
    CHECK(s9, (1 << 8) | 5)
    SERVICE(REQ_CLEAR_STIP)

    TESTNUM_SET(11)                     /* not delegated: M takes it, from S */
    li      s6, 0
    csrw    sie, SSIP
    SERVICE(REQ_UNDELEGATE)
    csrr    a0, sie                     /* sie no longer shows SSIE */
    CHECK(a0, 0)
    SERVICE(REQ_SET_SSIP)
    nop
    CHECK(s6, 0)
    CHECK(s10, INT | 1)
TEST_END

/* ---------------------------------------------------------------------- */
    .text
    .align 2
u_code:
    SERVICE(REQ_SET_SSIP)               /* ecall from U reaches M (medeleg = 0) */
u_loop:
    j       u_loop

    .align 2
strap:
    csrr    s2, scause
    csrr    s3, sepc
    csrr    s7, sstatus
    addi    s6, s6, 1
    slli    s9, s9, 8
    andi    t5, s2, 0xff
    or      s9, s9, t5
    li      t5, 16
    bgeu    s6, t5, test_fail
    bltz    s2, 1f                      /* an interrupt */
    addi    t5, s3, 4
    csrw    sepc, t5
    sret
1:  andi    t5, s2, 0xff
    li      t6, 5
    bne     t5, t6, 2f
    li      t5, STIP                    /* STIP is read-only in sip: mask it */
    csrc    sie, t5
    j       3f
2:  csrci   sip, SSIP
3:  beqz    s5, 4f
    csrw    sepc, s5
    li      s5, 0
    li      t5, SPP_BIT
    csrs    sstatus, t5
4:  sret

    .align 6
svec:
    j       strap                       /* exceptions */
    j       svec_ssi                    /* cause 1 */
svec_ssi:
    li      s11, 1
    j       strap

    .align 2
mtrap:
    csrr    t5, mcause
    bltz    t5, 9f
    li      t6, 8                       /* ecall from U or S: a service */
    bltu    t5, t6, TEST_UNEXPECTED_TRAP
    li      t6, 9
    bgtu    t5, t6, TEST_UNEXPECTED_TRAP
    li      t6, REQ_SET_SSIP
    bne     a0, t6, 1f
    csrs    mip, SSIP
1:  li      t6, REQ_UNDELEGATE
    bne     a0, t6, 2f
    csrw    mideleg, zero
2:  li      t6, REQ_SET_STIP
    bne     a0, t6, 3f
    li      t6, STIP
    csrs    mip, t6
3:  li      t6, REQ_CLEAR_STIP
    bne     a0, t6, 4f
    li      t6, STIP
    csrc    mip, t6
4:  csrr    t6, mepc
    addi    t6, t6, 4
    csrw    mepc, t6
    mret
9:  mv      s10, t5                     /* an interrupt that reached M */
    csrc    mip, SSIP
    mret
