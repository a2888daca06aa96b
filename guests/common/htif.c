/* HTIF console output and exit for the rvjit guest programs. */
#include <stdio.h>
#include "htif.h"

volatile uint64_t tohost __attribute__((section(".tohost"), aligned(8))) = 0;
volatile uint64_t fromhost __attribute__((section(".tohost"), aligned(8))) = 0;

static void htif_send(uint64_t cmd)
{
    tohost = cmd;
    while (tohost != 0)
        ;
    fromhost = 0;
}

void htif_putchar(int ch)
{
    /* device 1 (console), command 1 (putchar) */
    htif_send((1ULL << 56) | (1ULL << 48) | (uint8_t)ch);
}

void htif_puts(const char *s)
{
    while (*s)
        htif_putchar(*s++);
}

void htif_exit(int code)
{
    /* device 0, command 0, payload (code << 1) | 1 */
    tohost = ((uint64_t)(uint32_t)code << 1) | 1;
    for (;;)
        ;
}

/* picolibc glue: stdout/stderr through HTIF, exit() through HTIF. */
static int htif_stdio_put(char c, FILE *f)
{
    (void)f;
    htif_putchar((unsigned char)c);
    return (unsigned char)c;
}

static FILE htif_stdio = FDEV_SETUP_STREAM(htif_stdio_put, NULL, NULL, _FDEV_SETUP_WRITE);
FILE *const stdin = &htif_stdio;
FILE *const stdout = &htif_stdio;
FILE *const stderr = &htif_stdio;

void _exit(int code)
{
    htif_exit(code);
}
