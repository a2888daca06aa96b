/* A non-trivial integer and double-precision workload: sorting with qsort,
 * CRC-32, a prime sieve, 64-bit multiply/divide mixing, Newton square
 * roots vs sqrt(), series sums and a small matrix product.  Each result is
 * checked against its known value; exit status 0 means all were right,
 * otherwise the number of the first failing check.  Prints one summary
 * line. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_double_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

static uint32_t crc32(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xffffffffu;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
    }
    return ~crc;
}

#define N 2000
static int64_t arr[N];
static double darr[N];
static uint8_t sieve[100001];

static int failed;
#define CHECK(id, cond) do { if (!(cond) && !failed) { failed = (id); \
    printf("check %d failed: %s\n", (id), #cond); } } while (0)

int main(void)
{
    /* qsort of 64-bit integers; a checksum that depends on the order */
    for (int i = 0; i < N; i++)
        arr[i] = (int64_t)rng();
    qsort(arr, N, sizeof arr[0], cmp_i64);
    int sorted = 1;
    uint64_t h = 0;
    for (int i = 0; i < N; i++) {
        if (i && arr[i - 1] > arr[i])
            sorted = 0;
        h = h * 1000003u + (uint64_t)arr[i];
    }
    CHECK(1, sorted);
    CHECK(30, h == 0x0da0c8bd3d1ae288ULL);   /* computed independently */

    /* CRC-32 of a known string */
    const char *msg = "The quick brown fox jumps over the lazy dog";
    CHECK(2, crc32((const uint8_t *)msg, strlen(msg)) == 0x414fa339u);
    CHECK(3, crc32((const uint8_t *)"123456789", 9) == 0xcbf43926u);

    /* sieve of Eratosthenes: 9592 primes below 100000, the largest 99991 */
    memset(sieve, 1, sizeof sieve);
    sieve[0] = sieve[1] = 0;
    for (int i = 2; i * i <= 100000; i++)
        if (sieve[i])
            for (int j = i * i; j <= 100000; j += i)
                sieve[j] = 0;
    int count = 0, last = 0;
    for (int i = 0; i <= 100000; i++)
        if (sieve[i]) {
            count++;
            last = i;
        }
    CHECK(4, count == 9592);
    CHECK(5, last == 99991);

    /* 64-bit arithmetic identities */
    uint64_t acc = 0;
    for (uint64_t i = 1; i <= 1000; i++) {
        uint64_t a = rng() | 1, b = (rng() >> 1) | 1;
        acc += a / b + a % b;
        CHECK(6, (a / b) * b + a % b == a);
        int64_t sa = (int64_t)a, sb = -(int64_t)(b >> 3) - 1;
        CHECK(7, (sa / sb) * sb + sa % sb == sa);
    }
    CHECK(8, (uint64_t)(__int128)0 == 0);
    unsigned __int128 big = (unsigned __int128)0xfedcba9876543210ULL * 0x0123456789abcdefULL;
    CHECK(9, (uint64_t)(big >> 64) == 0x0121fa00ad77d742ULL);
    CHECK(10, (uint64_t)big == 0x2236d88fe5618cf0ULL);

    /* doubles: sum 1/k^2 -> pi^2/6, Newton sqrt == sqrt() */
    double s = 0;
    for (int k = 100000; k >= 1; k--)
        s += 1.0 / ((double)k * k);
    CHECK(11, fabs(s - M_PI * M_PI / 6) < 1.1e-5);
    CHECK(12, fabs(s - M_PI * M_PI / 6) > 0.9e-5);
    for (int i = 1; i < 200; i++) {
        double v = i * 1.37;
        double r = v;
        for (int it = 0; it < 60; it++)
            r = 0.5 * (r + v / r);
        CHECK(13, fabs(r - sqrt(v)) <= 4.5e-16 * sqrt(v));   /* within 1 ulp */
    }
    CHECK(14, sqrt(2.0) == 1.4142135623730951);
    CHECK(15, fma(0.1, 10.0, -1.0) == 5.551115123125783e-17);
    CHECK(16, floor(-2.5) == -3.0 && ceil(-2.5) == -2.0 && trunc(-2.5) == -2.0);
    CHECK(17, (long)llround(2.5) == 3 && (long)lrint(2.5) == 2);
    CHECK(18, fabs(exp(1.0) - 2.718281828459045) < 1e-15);
    CHECK(19, fabs(log(10.0) - 2.302585092994046) < 1e-15);
    CHECK(20, fabs(sin(M_PI / 6) - 0.5) < 1e-15 && fabs(cos(0.0) - 1.0) == 0);

    /* qsort of doubles (descending) */
    for (int i = 0; i < N; i++)
        darr[i] = (double)(int64_t)rng() / 9.2233720368547758e18;
    qsort(darr, N, sizeof darr[0], cmp_double_desc);
    int dsorted = 1;
    for (int i = 1; i < N; i++)
        if (darr[i - 1] < darr[i])
            dsorted = 0;
    CHECK(21, dsorted);
    CHECK(22, darr[0] <= 1.0 && darr[N - 1] >= -1.0);

    /* 8x8 matrix product of exactly representable values; its trace */
    double A[8][8], B[8][8], C[8][8];
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) {
            A[i][j] = (double)((i * 8 + j) % 7) - 3.0;
            B[i][j] = (double)((i + 2 * j) % 5) * 0.5;
        }
    double tr = 0;
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) {
            double t = 0;
            for (int k = 0; k < 8; k++)
                t += A[i][k] * B[k][j];
            C[i][j] = t;
        }
    for (int i = 0; i < 8; i++)
        tr += C[i][i];
    CHECK(23, tr == -4.5);

    /* conversions */
    volatile double big_d = 1e300, neg_d = -1.5;
    CHECK(24, (int64_t)neg_d == -1);
    CHECK(25, (uint32_t)(float)3.9f == 3u);
    CHECK(26, (float)big_d == INFINITY);
    CHECK(27, (int)(0.1f * 3 * 10) == 3);

    /* malloc from the heap */
    char *p = malloc(1000);
    CHECK(28, p != NULL);
    if (p) {
        memset(p, 'x', 999);
        p[999] = 0;
        CHECK(29, strlen(p) == 999);
        free(p);
    }

    printf("numeric: checksum %016llx, %d primes, trace %.1f, %s\n",
           (unsigned long long)h, count, tr, failed ? "FAIL" : "ok");
    return failed;
}
