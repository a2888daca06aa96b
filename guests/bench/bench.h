/* Small helpers shared by the rvjit compute benchmarks (the .c files of guests/bench).
 *
 * Each benchmark computes something, checks the result itself (against a
 * value known in advance and/or by computing it a second, independent way),
 * prints one "name: ok ..." line and returns 0 on success; on a mismatch it
 * prints what it got and what it wanted and returns a non-zero status.
 *
 * The same sources also build natively on the host (cc -DBENCH_HOST), which
 * is how the constants the benchmarks check against were obtained and how
 * the kernels can be debugged without an emulator.
 */
#ifndef RVJIT_BENCH_H
#define RVJIT_BENCH_H

#include <stdint.h>

#ifdef BENCH_HOST
#include <stdio.h>
static inline void bench_putc(int c) { putchar(c); }
#else
#include "htif.h"
static inline void bench_putc(int c) { htif_putchar(c); }
#endif

#define BENCH_UNUSED __attribute__((unused))

static BENCH_UNUSED void bench_puts(const char *s)
{
    while (*s)
        bench_putc(*s++);
}

static BENCH_UNUSED void bench_hex(uint64_t v)
{
    bench_puts("0x");
    for (int sh = 60; sh >= 0; sh -= 4)
        bench_putc("0123456789abcdef"[(v >> sh) & 15]);
}

static BENCH_UNUSED void bench_dec(uint64_t v)
{
    char buf[24];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        bench_putc(buf[--n]);
}

/* Compare a 64-bit result; print a diagnostic and return 1 on mismatch. */
static BENCH_UNUSED int bench_check(const char *what, uint64_t got, uint64_t want)
{
    if (got == want)
        return 0;
    bench_puts("MISMATCH ");
    bench_puts(what);
    bench_puts(": got ");
    bench_hex(got);
    bench_puts(" want ");
    bench_hex(want);
    bench_putc('\n');
    return 1;
}

/* Report a boolean condition; print a diagnostic and return 1 if false. */
static BENCH_UNUSED int bench_require(const char *what, int ok)
{
    if (ok)
        return 0;
    bench_puts("FAILED ");
    bench_puts(what);
    bench_putc('\n');
    return 1;
}

/* Final line: "<name>: ok <value>" or "<name>: FAIL (<n> checks)". */
static BENCH_UNUSED int bench_finish(const char *name, int failures, uint64_t value)
{
    bench_puts(name);
    if (failures) {
        bench_puts(": FAIL (");
        bench_dec((uint64_t)failures);
        bench_puts(" checks)\n");
        return failures > 100 ? 100 : failures;
    }
    bench_puts(": ok ");
    bench_hex(value);
    bench_putc('\n');
    return 0;
}

/* xorshift64* generator: deterministic pseudo-random input data. */
static inline uint64_t bench_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Seeds are read through a volatile so the compiler cannot fold whole
 * benchmarks into constants. */
static volatile uint64_t bench_seed_store = 0x9E3779B97F4A7C15ULL;
static inline uint64_t bench_seed(void) { return bench_seed_store; }

#endif
