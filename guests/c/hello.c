/* Prints text, integers and doubles through picolibc's printf, whose output
 * goes to the HTIF console (guests/common/htif.c).  The exact output is in
 * hello.expected; exits 0. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include "htif.h"

static uint64_t fib(unsigned n)
{
    uint64_t a = 0, b = 1;
    while (n--) {
        uint64_t t = a + b;
        a = b;
        b = t;
    }
    return a;
}

int main(void)
{
    htif_puts("hello from rvjit guest\n");
    printf("int: %d %u %ld %lld\n", -42, 4000000000u, -1234567890123L, (long long)INT64_MIN);
    printf("hex: %x %#lx %08X\n", 0xdeadbeefu, 0x123456789abcdef0UL, 0xabcu);
    printf("fib(90) = %llu\n", (unsigned long long)fib(90));
    printf("str: [%s] [%-6s] [%6s] %c\n", "rv64gc", "ab", "cd", 'Z');
    double x = 1.0;
    for (int i = 1; i <= 10; i++)
        x += 1.0 / (double)i;
    printf("double: %.6f %.3e %g\n", x, 6.02214076e23, 0.1 + 0.2);
    printf("neg: %.2f %+d\n", -3.14159, 7);
    char buf[64];
    int n = snprintf(buf, sizeof buf, "%s-%d", "snprintf", 99);
    printf("%s %d %d\n", buf, n, (int)strlen(buf));
    puts("bye");
    return 0;
}
