/* Memory-bound benchmark, two parts:
 *
 *  1. pointer chasing: a 4 MiB table of 2^20 32-bit "next" indices forming one
 *     random cycle (Sattolo's shuffle); follow it for many full laps, each
 *     load depending on the previous one;
 *  2. stream-like passes over three 2 MiB arrays of 64-bit integers:
 *     copy c = a, scale b = 3c, add c = a + b, triad a = b + 5c.
 *
 * Checks (independent of the loops being measured):
 *  - the chase returns to its start after exactly LAPS * N steps, never
 *    earlier at a lap boundary, and the visited indices sum to
 *    LAPS * N(N-1)/2 (every index once per lap);
 *  - per element the four stream kernels multiply a by 23 per pass (b, c
 *    become 3 * 23^(k-1) and 4 * 23^(k-1) times the initial a), so every
 *    final element is checked against its closed form, mod 2^64.
 */
#include "bench.h"

#ifndef CHASE_N
#define CHASE_N (1u << 20)
#endif
#ifndef LAPS
#define LAPS 100
#endif
#ifndef STREAM_N
#define STREAM_N (256u * 1024)
#endif
#ifndef PASSES
#define PASSES 110
#endif

static uint32_t next[CHASE_N];
static uint64_t a[STREAM_N], b[STREAM_N], c[STREAM_N];

static inline uint64_t a0(uint64_t i, uint64_t seed)
{
    return (i * 0x9E3779B97F4A7C15ULL) ^ seed;
}

static int chase(uint64_t seed)
{
    int bad = 0;
    uint64_t s = seed;
    for (uint32_t i = 0; i < CHASE_N; i++)
        next[i] = i;
    /* Sattolo: a uniformly random single cycle. */
    for (uint32_t i = CHASE_N - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(bench_rand(&s) % i);
        uint32_t t = next[i];
        next[i] = next[j];
        next[j] = t;
    }

    uint32_t p = 0;
    uint64_t sum = 0;
    int early = 0;
    for (int lap = 0; lap < LAPS; lap++) {
        for (uint32_t k = 0; k < CHASE_N; k++) {
            p = next[p];
            sum += p;
        }
        early += p != 0;
    }
    bad += bench_check("chase end", p, 0);
    bad += bench_check("chase laps that did not close", (uint64_t)early, 0);
    bad += bench_check("chase sum", sum,
                       (uint64_t)LAPS * ((uint64_t)CHASE_N * (CHASE_N - 1) / 2));
    return bad;
}

static int stream(uint64_t seed)
{
    for (uint64_t i = 0; i < STREAM_N; i++) {
        a[i] = a0(i, seed);
        b[i] = c[i] = 0;
    }
    for (int pass = 0; pass < PASSES; pass++) {
        for (uint64_t i = 0; i < STREAM_N; i++)
            c[i] = a[i];
        for (uint64_t i = 0; i < STREAM_N; i++)
            b[i] = 3 * c[i];
        for (uint64_t i = 0; i < STREAM_N; i++)
            c[i] = a[i] + b[i];
        for (uint64_t i = 0; i < STREAM_N; i++)
            a[i] = b[i] + 5 * c[i];
    }

    uint64_t pw = 1; /* 23^(PASSES-1) */
    for (int k = 1; k < PASSES; k++)
        pw *= 23;
    uint64_t wrong = 0, first = ~0ULL;
    for (uint64_t i = 0; i < STREAM_N; i++) {
        uint64_t x = a0(i, seed) * pw;
        if (a[i] != 23 * x || b[i] != 3 * x || c[i] != 4 * x) {
            if (!wrong)
                first = i;
            wrong++;
        }
    }
    int bad = bench_check("stream elements wrong", wrong, 0);
    if (wrong)
        bad += bench_check("first wrong stream element", first, 0);
    return bad;
}

int main(void)
{
    uint64_t seed = bench_seed();
    int bad = chase(seed);
    bad += stream(seed);
    uint64_t sig = 0;
    for (uint64_t i = 0; i < STREAM_N && i < CHASE_N; i += 4096)
        sig = sig * 31 + a[i] + next[i];
    return bench_finish("memstream", bad, sig);
}
