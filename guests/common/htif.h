/* HTIF (host-target interface) console and exit, as implemented by spike,
 * QEMU's spike machine and rvjit.  The host finds the mailbox through the
 * ELF symbols tohost/fromhost. */
#ifndef RVJIT_GUEST_HTIF_H
#define RVJIT_GUEST_HTIF_H

#include <stdint.h>

extern volatile uint64_t tohost;
extern volatile uint64_t fromhost;

void htif_putchar(int ch);
void htif_puts(const char *s);
void htif_exit(int code) __attribute__((noreturn));

#endif
