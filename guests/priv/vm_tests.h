/* Supervisor-mode paging tests shared by sv39.S, sv48.S and sv57.S.
 *
 * The including file defines SATP_MODE (8, 9 or 10) and LEVELS (3, 4 or 5).
 * M-mode builds the page tables (RAM identity-mapped with one 1 GiB leaf,
 * test pages with distinct permissions at TEST_VA, superpages at every
 * level), delegates page faults and U-mode ecalls to S, turns paging on and
 * drops to S-mode, where every test case runs:
 *  - load/store/AMO/LR/fetch page faults (scause 13/15/12, stval = address,
 *    sepc = the faulting instruction), delegated through medeleg
 *  - permissions: read-only, execute-only (+ MXR), W without R, invalid,
 *    user pages from S (SUM; never executable from S), no-X fetches
 *  - A and D bits set by the hardware in the PTE (QEMU 7.2 does so too)
 *  - superpages at each level, misaligned superpages fault
 *  - a U-mode program: loads from its own page, a load from a supervisor
 *    page faults (delegated), ecall from U reaches S with scause 8
 *  - remapping a page + sfence.vma changes what loads and stores see, with
 *    the same code hot (so rvjit's inline TLB and optimised code are used)
 *  - M-mode loads with MPRV = 1, MPP = S go through the page tables
 *
 * The S-mode handler records scause, sepc, stval in s2, s3, s4, counts
 * traps in s6, shifts each scause into s9, and resumes in S-mode at s11
 * after an ecall from U, at s5 if it is non-zero, otherwise after the
 * trapping instruction.
 */
#include "test_macros.h"

#define PTE_V 0x01
#define PTE_R 0x02
#define PTE_W 0x04
#define PTE_X 0x08
#define PTE_U 0x10
#define PTE_A 0x40
#define PTE_D 0x80
#define PTE_AD (PTE_A | PTE_D)

#define SSTATUS_SPP (1 << 8)
#define SSTATUS_SUM (1 << 18)
#define SSTATUS_MXR (1 << 19)
#define MSTATUS_MPP (3 << 11)
#define MSTATUS_MPP_S (1 << 11)
#define MSTATUS_MPRV (1 << 17)

#define TEST_VA    0x40000000
#define VA(k)      (TEST_VA + (k) * 0x1000)
#define MEGA_VA    0x40200000          /* level-1 leaf onto the first 2 MiB of RAM */
#define MEGA_BAD   0x40400000          /* level-1 leaf with a misaligned PPN */
#define RAM_BASE   0x80000000
#define SHIFT(l)   (12 + 9 * (l))
#define VA_BITS    SHIFT(LEVELS)
#define SUPER_VA(l)  (3 << SHIFT(l))    /* leaf at level l, index 3 of its table */
#define SUPER_BAD(l) (4 << SHIFT(l))    /* misaligned leaf at level l */
#define SUPER_PA(l)  ((RAM_BASE >> SHIFT(l)) << SHIFT(l))
#ifndef HOT
#define HOT        60000               /* > rvjit's promotion threshold */
#endif

/* one trap with this cause at label `at` */
#define EXPECT_STRAP(cause, at)                                         \
    CHECK(s6, 1); CHECK(s2, cause); la t0, at; bne s3, t0, test_fail
#define CHECK_EQ(a, b)  bne a, b, test_fail

/* test n: `insn` (using s8 = address) faults with `cause`, stval = s8 */
#define FAULT_CASE(n, cause, addr, ...)                                 \
    TESTNUM_SET(n); li s6, 0; li s8, addr;                              \
1:  __VA_ARGS__;                                                        \
    EXPECT_STRAP(cause, 1b); CHECK_EQ(s4, s8)

/* test n: jumping to addr faults with scause 12, sepc = stval = addr */
#define FETCH_FAULT_CASE(n, addr)                                       \
    TESTNUM_SET(n); li s6, 0; li s8, addr; la s5, 1f;                   \
    jalr zero, 0(s8);                                                   \
1:  CHECK(s6, 1); CHECK(s2, 12); CHECK_EQ(s3, s8); CHECK_EQ(s4, s8)

/* pte for physical page in reg into dst */
#define MAKE_PTE(dst, reg, flags)  srli dst, reg, 2; ori dst, dst, flags

/* map a 4K test page: VA(k) -> data page p with flags */
#define MAP_TEST_PAGE(k, p, flags)                                      \
    la t0, data_pages; li t1, (p) * 4096; add t0, t0, t1;               \
    MAKE_PTE(a1, t0, flags); li a0, VA(k); li a2, 0; call vm_map

TEST_BEGIN
    .option norvc
    /* PMP: let S and U reach everything (QEMU implements PMP; rvjit has
       no PMP entries, and ignores the writes) */
    li      t0, -1
    csrw    pmpaddr0, t0
    li      t0, 0x1f
    csrw    pmpcfg0, t0

    /* data page k holds k + 1 in its first doubleword */
    la      t0, data_pages
    li      t1, 1
    li      t2, 9
1:  sd      t1, 0(t0)
    li      t3, 4096
    add     t0, t0, t3
    addi    t1, t1, 1
    bne     t1, t2, 1b

    /* RAM identity map: one level-2 (1 GiB) leaf */
    li      t0, RAM_BASE
    MAKE_PTE(a1, t0, PTE_V | PTE_R | PTE_W | PTE_X | PTE_AD)
    li      a0, RAM_BASE
    li      a2, 2
    call    vm_map
    /* test pages */
    MAP_TEST_PAGE(0, 0, PTE_V | PTE_R | PTE_W)            /* A, D clear */
    la      t0, pte_va0
    sd      a0, 0(t0)
    MAP_TEST_PAGE(1, 1, PTE_V | PTE_R | PTE_A)            /* read-only */
    MAP_TEST_PAGE(2, 2, PTE_V | PTE_X | PTE_A)            /* execute-only */
    MAP_TEST_PAGE(3, 3, PTE_V | PTE_R | PTE_W | PTE_U | PTE_AD)  /* user data */
    MAP_TEST_PAGE(4, 4, 0)                                /* invalid */
    MAP_TEST_PAGE(5, 5, PTE_V | PTE_W | PTE_AD)           /* W without R */
    MAP_TEST_PAGE(6, 6, PTE_V | PTE_R | PTE_W | PTE_AD)   /* remapped later */
    la      t0, pte_va6
    sd      a0, 0(t0)
    MAP_TEST_PAGE(7, 1, PTE_V | PTE_R | PTE_A)            /* N bit set below */
    li      t0, 1 << 63
    ld      t1, 0(a0)
    or      t1, t1, t0
    sd      t1, 0(a0)
    la      t0, user_code                                 /* user program */
    MAKE_PTE(a1, t0, PTE_V | PTE_R | PTE_X | PTE_U | PTE_A)
    li      a0, VA(8)
    li      a2, 0
    call    vm_map
    /* level-1 leaves: aligned and misaligned */
    li      t0, RAM_BASE
    MAKE_PTE(a1, t0, PTE_V | PTE_R | PTE_W | PTE_AD)
    li      a0, MEGA_VA
    li      a2, 1
    call    vm_map
    li      t0, RAM_BASE + 0x1000
    MAKE_PTE(a1, t0, PTE_V | PTE_R | PTE_W | PTE_AD)
    li      a0, MEGA_BAD
    li      a2, 1
    call    vm_map
    /* a leaf at every level above 1 */
#define MAP_SUPER(l)                                                    \
    li t0, SUPER_PA(l); MAKE_PTE(a1, t0, PTE_V | PTE_R | PTE_W | PTE_AD); \
    li a0, SUPER_VA(l); li a2, l; call vm_map;                          \
    li t0, RAM_BASE + 0x1000; MAKE_PTE(a1, t0, PTE_V | PTE_R | PTE_AD); \
    li a0, SUPER_BAD(l); li a2, l; call vm_map
    MAP_SUPER(2)
#if LEVELS >= 4
    MAP_SUPER(3)
#endif
#if LEVELS >= 5
    MAP_SUPER(4)
#endif

    /* paging on; S-mode handles page faults and ecalls from U */
    la      t0, pt_pool
    srli    t0, t0, 12
    li      t1, SATP_MODE << 60
    or      t0, t0, t1
    csrw    satp, t0
    csrr    t1, satp
    bne     t0, t1, test_fail           /* the mode is supported */
    sfence.vma

    /* M-mode with MPRV = 1, MPP = S: loads are translated */
    TESTNUM_SET(1)
    li      t0, MSTATUS_MPP
    csrc    mstatus, t0
    li      t0, MSTATUS_MPRV | MSTATUS_MPP_S
    csrs    mstatus, t0
    li      t1, VA(1)
    ld      a0, 0(t1)
    csrc    mstatus, t0
    CHECK(a0, 2)

    li      t0, (1 << 8) | (1 << 12) | (1 << 13) | (1 << 15)
    csrw    medeleg, t0
    la      t0, strap
    csrw    stvec, t0
    li      t0, MSTATUS_MPP
    csrc    mstatus, t0
    li      t0, MSTATUS_MPP_S
    csrs    mstatus, t0
    la      t0, s_main
    csrw    mepc, t0
    mret

/* ---------------------------------------------------------------------- */
    .align 2
s_main:
    li      s5, 0
    TESTNUM_SET(2)                      /* S-mode runs through the identity map */
    csrr    t0, sstatus
    la      t1, pte_va0
    ld      t1, 0(t1)
    beqz    t1, test_fail

/* ---- A and D bits ---- */
    TESTNUM_SET(3)
    li      s8, VA(0)
    ld      a0, 0(s8)
    CHECK(a0, 1)
    la      t0, pte_va0
    ld      t0, 0(t0)
    ld      t1, 0(t0)
    andi    t2, t1, PTE_AD
    CHECK(t2, PTE_A)                    /* accessed, not dirty */
    TESTNUM_SET(4)
    li      t2, 0x1234
    sd      t2, 8(s8)
    sfence.vma                          /* be sure the PTE is read from memory */
    ld      t1, 0(t0)
    andi    t2, t1, PTE_AD
    CHECK(t2, PTE_AD)
    la      t0, data_pages
    ld      t1, 8(t0)
    CHECK(t1, 0x1234)

/* ---- permissions ---- */
    TESTNUM_SET(5)                      /* read-only page: loads work */
    li      s8, VA(1)
    ld      a0, 0(s8)
    CHECK(a0, 2)
    FAULT_CASE(6, 15, VA(1), sd zero, 0(s8))
    FAULT_CASE(7, 13, VA(2), ld a0, 0(s8))          /* execute-only */
    TESTNUM_SET(8)                      /* ... readable with MXR */
    li      t0, SSTATUS_MXR
    csrs    sstatus, t0
    li      s8, VA(2)
    ld      a0, 0(s8)
    csrc    sstatus, t0
    CHECK(a0, 3)
    FAULT_CASE(9, 13, VA(2), ld a0, 0(s8))          /* and not after */
    FAULT_CASE(10, 13, VA(3), ld a0, 0(s8))         /* user page, SUM = 0 */
    FAULT_CASE(11, 15, VA(3), sd zero, 0(s8))
    TESTNUM_SET(12)                     /* SUM = 1 */
    li      t0, SSTATUS_SUM
    csrs    sstatus, t0
    li      s8, VA(3)
    ld      a0, 0(s8)
    CHECK(a0, 4)
    li      t1, 0x77
    sd      t1, 16(s8)
    ld      a0, 16(s8)
    CHECK(a0, 0x77)
    FETCH_FAULT_CASE(13, VA(8))         /* S never executes user pages */
    li      t0, SSTATUS_SUM
    csrc    sstatus, t0
    FAULT_CASE(14, 13, VA(4), ld a0, 0(s8))         /* invalid */
    FAULT_CASE(15, 15, VA(4), sd a0, 0(s8))
    TESTNUM_SET(16)                     /* AMO: a store fault (QEMU 7.2 reports 13) */
    li      s6, 0
    li      s8, VA(4)
1:  amoadd.w a0, a0, (s8)
    CHECK(s6, 1)
    la      t0, 1b
    CHECK_EQ(s3, t0)
    CHECK_EQ(s4, s8)
    li      t0, 15
    beq     s2, t0, 2f
    CHECK(s2, 13)
2:
    FAULT_CASE(17, 13, VA(4), lr.d a0, (s8))
    FETCH_FAULT_CASE(19, VA(4))
    FAULT_CASE(20, 13, VA(5), ld a0, 0(s8))         /* W without R */
    FAULT_CASE(21, 15, VA(5), sd a0, 0(s8))
    FETCH_FAULT_CASE(22, VA(0))                     /* not executable */
    FAULT_CASE(23, 13, VA(7), ld a0, 0(s8))         /* PTE bit 63 (N) set */
    FAULT_CASE(24, 13, VA(4) + 0xffe, lw a0, 0(s8)) /* first byte faults */
    TESTNUM_SET(25)                     /* misaligned across two readable pages */
    li      s6, 0
    li      s8, VA(0) + 0xffc
    ld      a0, 0(s8)
    CHECK(s6, 0)
    CHECK(a0, 2 << 32)
    TESTNUM_SET(26)                     /* VA(1) readable, VA(2) is not */
    li      s6, 0
    li      s8, VA(1) + 0xffc
1:  ld      a0, 0(s8)
    EXPECT_STRAP(13, 1b)
    li      t0, VA(2)                   /* stval: the faulting page or the start */
    beq     s4, t0, 2f
    CHECK_EQ(s4, s8)
2:

/* ---- superpages ---- */
    TESTNUM_SET(30)
    la      t0, data_pages
    li      t1, MEGA_VA - RAM_BASE
    add     s8, t0, t1
    li      t0, 3 * 4096
    add     t0, s8, t0
    ld      a0, 0(t0)
    CHECK(a0, 4)
    FAULT_CASE(31, 13, MEGA_BAD, ld a0, 0(s8))
#define SUPER_CASE(n, l)                                                \
    TESTNUM_SET(n); la t0, data_pages; li t1, SUPER_VA(l) - SUPER_PA(l);\
    add s8, t0, t1; li t0, 2 * 4096; add t0, s8, t0;                    \
    ld a0, 0(t0); CHECK(a0, 3);                                         \
    FAULT_CASE(n + 1, 13, SUPER_BAD(l), ld a0, 0(s8))
    SUPER_CASE(32, 2)
#if LEVELS >= 4
    SUPER_CASE(34, 3)
#endif
#if LEVELS >= 5
    SUPER_CASE(36, 4)
#endif
    /* non-canonical: bit 63 set, bit VA_BITS-1 clear; and the reverse */
    FAULT_CASE(40, 13, 0x8000000000000000 | RAM_BASE, ld a0, 0(s8))
    FAULT_CASE(41, 15, (1 << (VA_BITS - 1)) | RAM_BASE, sd a0, 0(s8))
    TESTNUM_SET(42)
    li      s6, 0
    li      s8, (1 << (VA_BITS - 1)) | RAM_BASE
    la      s5, 1f
    jalr    zero, 0(s8)
1:  CHECK(s6, 1)
    CHECK(s2, 12)

/* ---- U-mode ---- */
    TESTNUM_SET(50)
    li      s6, 0
    li      s9, 0
    li      a1, VA(3)
    la      a3, data_pages
    li      a0, 0
    la      s11, 1f
    li      t0, VA(8)
    csrw    sepc, t0
    li      t0, SSTATUS_SPP
    csrc    sstatus, t0
    sret
1:  CHECK(s6, 2)
    CHECK(s9, (13 << 8) | 8)
    CHECK(a0, 4)
    CHECK(s3, VA(8) + 8)                /* sepc of the ecall */

/* ---- remapping with sfence.vma, hot code ---- */
    TESTNUM_SET(60)
    li      a0, VA(6)
    li      a1, HOT
    call    hot_sum
    CHECK(a0, 7 * HOT)
    TESTNUM_SET(61)
    li      a0, VA(6) + 8
    li      a1, HOT
    li      a2, 0x55
    call    hot_store
    sfence.vma                          /* no change: rvjit optimises hot code here */
    li      a0, VA(6)
    li      a1, HOT
    call    hot_sum
    CHECK(a0, 7 * HOT)
    TESTNUM_SET(62)                     /* VA(6) -> data page 7 */
    la      t0, pte_va6
    ld      t0, 0(t0)
    la      t1, data_pages
    li      t2, 7 * 4096
    add     t1, t1, t2
    MAKE_PTE(t2, t1, PTE_V | PTE_R | PTE_W | PTE_AD)
    sd      t2, 0(t0)
    sfence.vma
    li      a0, VA(6)
    li      a1, HOT
    call    hot_sum
    CHECK(a0, 8 * HOT)
    TESTNUM_SET(63)
    li      a0, VA(6) + 8
    li      a1, HOT
    li      a2, 0x66
    call    hot_store
    la      t0, data_pages
    li      t1, 6 * 4096
    add     t1, t0, t1
    ld      a0, 8(t1)
    CHECK(a0, 0x55)                     /* the old page kept its value */
    li      t2, 4096
    add     t1, t1, t2
    ld      a0, 8(t1)
    CHECK(a0, 0x66)
    TESTNUM_SET(64)                     /* and back, by address */
    la      t0, pte_va6
    ld      t0, 0(t0)
    li      t2, 6 * 4096
    la      t1, data_pages
    add     t1, t1, t2
    MAKE_PTE(t2, t1, PTE_V | PTE_R | PTE_W | PTE_AD)
    sd      t2, 0(t0)
    li      t0, VA(6)
    sfence.vma t0, zero
    li      a0, VA(6)
    li      a1, HOT
    call    hot_sum
    CHECK(a0, 7 * HOT)
    TESTNUM_SET(65)                     /* invalidated: faults after sfence.vma */
    la      t0, pte_va6
    ld      t0, 0(t0)
    sd      zero, 0(t0)
    sfence.vma
    li      s6, 0
    li      s8, VA(6)
1:  ld      a0, 0(s8)
    EXPECT_STRAP(13, 1b)
TEST_END

/* ---------------------------------------------------------------------- */
    .text
    .align 2
/* S-mode trap handler (see the top of the file) */
strap:
    csrr    s2, scause
    csrr    s3, sepc
    csrr    s4, stval
    addi    s6, s6, 1
    slli    s9, s9, 8
    or      s9, s9, s2
    li      t5, 16
    bgeu    s6, t5, test_fail           /* a trap loop: give up */
    li      t5, 8
    bne     s2, t5, 2f
    mv      s5, s11                     /* ecall from U: back to S at s11 */
2:  beqz    s5, 1f
    csrw    sepc, s5
    li      s5, 0
    li      t5, SSTATUS_SPP
    csrs    sstatus, t5
    sret
1:  addi    t5, s3, 4
    csrw    sepc, t5
    sret

/* a0 = sum of a1 loads from a0 */
hot_sum:
    li      t0, 0
1:  ld      t1, 0(a0)
    add     t0, t0, t1
    addi    a1, a1, -1
    bnez    a1, 1b
    mv      a0, t0
    ret

/* store a2 to a0, a1 times */
hot_store:
1:  sd      a2, 0(a0)
    addi    a1, a1, -1
    bnez    a1, 1b
    ret

/* vm_map(a0 = va, a1 = leaf pte, a2 = leaf level): page tables from the
   pool as needed; returns a0 = address of the leaf PTE. Clobbers t0-t4. */
vm_map:
    la      t0, pt_pool                 /* the root table */
    li      t1, LEVELS - 1
1:  li      t2, 9
    mul     t2, t2, t1
    addi    t2, t2, 12
    srl     t3, a0, t2
    andi    t3, t3, 511
    slli    t3, t3, 3
    add     t3, t0, t3                  /* this level's entry */
    beq     t1, a2, 3f
    ld      t4, 0(t3)
    bnez    t4, 2f
    la      t4, pt_next                 /* a new, zeroed table */
    ld      t2, 0(t4)
    li      t0, 4096
    add     t0, t2, t0
    sd      t0, 0(t4)
    srli    t4, t2, 2
    ori     t4, t4, PTE_V
    sd      t4, 0(t3)
2:  srli    t0, t4, 10
    slli    t0, t0, 12
    addi    t1, t1, -1
    j       1b
3:  sd      a1, 0(t3)
    mv      a0, t3
    ret

/* The U-mode program, alone in its page (mapped at VA(8) with U set):
   a load from its own data (a1), a load from a supervisor page (a3, faults;
   the handler skips it), then ecall. */
    .align 12
user_code:
    ld      a0, 0(a1)
    ld      a2, 0(a3)
    ecall
1:  j       1b
    .align 12

    .data
    .align 12
pt_pool:    .zero 4096 * 24             /* the first page is the root table */
data_pages: .zero 4096 * 8
pt_next:    .dword pt_pool + 4096
pte_va0:    .dword 0
pte_va6:    .dword 0
