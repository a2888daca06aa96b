/* Integer benchmark: table-driven CRC-32 and a 64-bit multiply/rotate hash
 * over a 64 KiB pseudo-random buffer, many passes, each pass chained on the
 * previous result.
 *
 * Checks:
 *  - CRC-32 of "123456789" is the standard check value 0xCBF43926, by both the
 *    table-driven and the bit-by-bit implementation;
 *  - one pass of the table-driven CRC equals the bit-by-bit CRC of the buffer;
 *  - the chained CRC and hash after all passes equal values known in advance
 *    (the CRC one equals Python's zlib.crc32 chained over the same data).
 */
#include "bench.h"

#define BUF_BYTES (64 * 1024)
#define PASSES 1600

static uint8_t buf[BUF_BYTES] __attribute__((aligned(8)));
static uint32_t table[256];

static void make_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & -(c & 1));
        table[i] = c;
    }
}

static uint32_t crc_table(uint32_t crc, const uint8_t *p, uint64_t n)
{
    crc = ~crc;
    for (uint64_t i = 0; i < n; i++)
        crc = (crc >> 8) ^ table[(crc ^ p[i]) & 0xff];
    return ~crc;
}

static uint32_t crc_bitwise(uint32_t crc, const uint8_t *p, uint64_t n)
{
    crc = ~crc;
    for (uint64_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc & 1) ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
    }
    return ~crc;
}

static inline uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

/* Our own word hash: multiply, rotate, xor-fold, over 64-bit words. */
static uint64_t hash_words(uint64_t h, const uint64_t *w, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        uint64_t k = w[i] * 0xC2B2AE3D27D4EB4FULL;
        k = rotl64(k, 31) * 0x9E3779B185EBCA87ULL;
        h ^= k;
        h = rotl64(h, 27) * 5 + 0x52DCE729;
    }
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    return h;
}

int main(void)
{
    int bad = 0;
    static const uint8_t check[] = "123456789";

    make_table();
    bad += bench_check("crc table check value", crc_table(0, check, 9), 0xCBF43926u);
    bad += bench_check("crc bitwise check value", crc_bitwise(0, check, 9), 0xCBF43926u);

    uint64_t s = bench_seed();
    for (uint64_t i = 0; i < BUF_BYTES / 8; i++)
        ((uint64_t *)buf)[i] = bench_rand(&s);

    bad += bench_check("crc table vs bitwise", crc_table(0, buf, BUF_BYTES),
                       crc_bitwise(0, buf, BUF_BYTES));

    uint32_t crc = 0;
    uint64_t h = 0;
    for (int pass = 0; pass < PASSES; pass++) {
        crc = crc_table(crc, buf, BUF_BYTES);
        h = hash_words(h ^ crc, (const uint64_t *)buf, BUF_BYTES / 8);
    }
    bad += bench_check("chained crc", crc, 0x731741A8u);
    bad += bench_check("chained hash", h, 0xCB81552204484A92ULL);
    return bench_finish("crc32", bad, ((uint64_t)crc << 32) ^ h);
}
