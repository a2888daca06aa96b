/* Mixed benchmark: sorting.  Each round fills an array of 64K 32-bit keys
 * with pseudo-random data (a different seed per round, some rounds with many
 * duplicates), sorts one copy with an introsort-style quicksort (median of
 * three, insertion sort for short ranges) and another with a bottom-up merge
 * sort, and compares them.
 *
 * Checks: both sorts agree element by element, the result is ordered, the
 * sum and xor of the keys are unchanged by sorting, and a signature sampled
 * from the sorted arrays of all rounds equals a value known in advance.
 */
#include "bench.h"

#ifndef N
#define N (64 * 1024)
#endif
#ifndef ROUNDS
#define ROUNDS 36
#endif
#define DEFAULT_SIZES (N == 64 * 1024 && ROUNDS == 36)
#define SIGNATURE_EXPECTED 0x81450C05BAF2FD09ULL

static uint32_t orig[N], qs[N], ms[N], tmp[N];

static void insertion_sort(uint32_t *v, long lo, long hi)
{
    for (long i = lo + 1; i <= hi; i++) {
        uint32_t x = v[i];
        long j = i - 1;
        while (j >= lo && v[j] > x) {
            v[j + 1] = v[j];
            j--;
        }
        v[j + 1] = x;
    }
}

static inline void swap(uint32_t *v, long i, long j)
{
    uint32_t t = v[i];
    v[i] = v[j];
    v[j] = t;
}

static void quick_sort(uint32_t *v, long lo, long hi)
{
    while (hi - lo > 16) {
        long mid = lo + (hi - lo) / 2;
        if (v[mid] < v[lo]) swap(v, mid, lo);
        if (v[hi] < v[lo]) swap(v, hi, lo);
        if (v[hi] < v[mid]) swap(v, hi, mid);
        uint32_t pivot = v[mid];
        long i = lo - 1, j = hi + 1;
        for (;;) { /* Hoare partition */
            do i++; while (v[i] < pivot);
            do j--; while (v[j] > pivot);
            if (i >= j)
                break;
            swap(v, i, j);
        }
        /* recurse into the smaller side, loop on the larger */
        if (j - lo < hi - j) {
            quick_sort(v, lo, j);
            lo = j + 1;
        } else {
            quick_sort(v, j + 1, hi);
            hi = j;
        }
    }
    insertion_sort(v, lo, hi);
}

/* Bottom-up merge sort of v[0..n), using tmp; returns the sorted array. */
static uint32_t *merge_sort(uint32_t *v, uint32_t *t, long n)
{
    for (long w = 1; w < n; w *= 2) {
        for (long lo = 0; lo < n; lo += 2 * w) {
            long mid = lo + w < n ? lo + w : n;
            long hi = lo + 2 * w < n ? lo + 2 * w : n;
            long i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                t[k++] = v[j] < v[i] ? v[j++] : v[i++];
            while (i < mid)
                t[k++] = v[i++];
            while (j < hi)
                t[k++] = v[j++];
        }
        uint32_t *x = v;
        v = t;
        t = x;
    }
    return v;
}

int main(void)
{
    int bad = 0;
    uint64_t s = bench_seed(), sig = 0;
    uint64_t mismatched = 0, unordered = 0, sums_changed = 0;

    for (int round = 0; round < ROUNDS; round++) {
        uint32_t mask = (round % 4 == 3) ? 0x3ff : 0xffffffffu; /* many duplicates */
        uint64_t sum = 0, x = 0;
        for (long i = 0; i < N; i++) {
            uint32_t k = (uint32_t)(bench_rand(&s) >> 17) & mask;
            orig[i] = qs[i] = ms[i] = k;
            sum += k;
            x ^= k;
        }
        quick_sort(qs, 0, N - 1);
        uint32_t *m = merge_sort(ms, tmp, N);

        uint64_t sum2 = 0, x2 = 0;
        for (long i = 0; i < N; i++) {
            mismatched += qs[i] != m[i];
            unordered += i > 0 && qs[i - 1] > qs[i];
            sum2 += qs[i];
            x2 ^= qs[i];
        }
        sums_changed += sum != sum2 || x != x2;
        for (long i = 0; i < N; i += N / 64)
            sig = (sig ^ qs[i]) * 0x100000001B3ULL;
    }
    bad += bench_check("elements where quicksort and merge sort differ", mismatched, 0);
    bad += bench_check("out-of-order neighbours", unordered, 0);
    bad += bench_check("rounds whose sum or xor changed", sums_changed, 0);
    if (DEFAULT_SIZES)
        bad += bench_check("signature", sig, SIGNATURE_EXPECTED);
    return bench_finish("sort", bad, sig);
}
