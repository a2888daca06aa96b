/* Start-up code shared by the rvjit guest programs (M-mode, bare metal).
 *  - set gp, sp (stack in RAM above the program), tp (TLS block)
 *  - trap vector: any unexpected trap reports failure with exit code 0xff
 *  - enable the FPU (mstatus.FS = Initial) and clear fcsr
 *  - zero .bss and .tbss, call main(), report its return value via HTIF
 * A program that defines its own _start (the ISA tests) does not link this.
 */
    .section .text.init, "ax"
    .globl _start
_start:
    .option push
    .option norelax
    la      gp, __global_pointer$
    .option pop
    la      sp, __stack_top
    la      tp, __tls_base
    la      t0, __crt0_trap
    csrw    mtvec, t0
    li      t0, (1 << 13)           /* mstatus.FS = 01 (Initial) */
    csrs    mstatus, t0
    csrwi   fcsr, 0
    la      t0, __bss_start
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sd      zero, 0(t0)
    addi    t0, t0, 8
    j       1b
2:  la      t0, __tbss_start
    la      t1, __tbss_end
3:  bgeu    t0, t1, 4f
    sb      zero, 0(t0)
    addi    t0, t0, 1
    j       3b
4:  li      a0, 0
    li      a1, 0
    li      a2, 0
    call    main
    call    htif_exit
5:  j       5b

    .align 2
__crt0_trap:
    li      a0, 0xff
    call    htif_exit
6:  j       6b
