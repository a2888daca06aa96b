/* Branchy benchmark: a small register-machine bytecode interpreter (switch
 * dispatch through a jump table, data-dependent branches everywhere) running
 * two programs of our own:
 *
 *  1. total Collatz stopping steps of every n in [1, COLLATZ_N];
 *  2. the number of primes below PRIME_N by trial division.
 *
 * Checks: each result is computed a second way in plain C (Collatz directly;
 * primes with a sieve of Eratosthenes), and both equal constants known in
 * advance.
 */
#include "bench.h"

#define DEFAULT_COLLATZ_N 60000
#define DEFAULT_PRIME_N 200000
#ifndef COLLATZ_N
#define COLLATZ_N DEFAULT_COLLATZ_N
#endif
#ifndef PRIME_N
#define PRIME_N DEFAULT_PRIME_N
#endif
/* Results for the default sizes, known in advance (pi(200000) = 17984). */
#define COLLATZ_EXPECTED 0x5D9D37u  /* 6135095 */
#define PRIMES_EXPECTED 17984
#define EXECUTED_EXPECTED 0x50BFDB2u  /* 84671922 */

enum op {
    OP_LI,    /* r[a] = imm */
    OP_MOV,   /* r[a] = r[b] */
    OP_ADD,   /* r[a] = r[b] + r[c] */
    OP_ADDI,  /* r[a] = r[b] + imm */
    OP_MUL,   /* r[a] = r[b] * r[c] */
    OP_REM,   /* r[a] = r[b] % r[c] */
    OP_SHRI,  /* r[a] = r[b] >> imm */
    OP_ANDI,  /* r[a] = r[b] & imm */
    OP_BEQ,   /* if r[a] == r[b] goto imm */
    OP_BNE,   /* if r[a] != r[b] goto imm */
    OP_BLT,   /* if r[a] < r[b] goto imm (signed) */
    OP_BEQZ,  /* if r[a] == 0 goto imm */
    OP_JMP,   /* goto imm */
    OP_HALT,  /* return r[a] */
};

struct insn {
    uint8_t op, a, b, c;
    int32_t imm;
};

static int64_t run(const struct insn *code, int64_t arg, uint64_t *executed)
{
    int64_t r[8] = { arg };
    uint64_t n = 0;
    const struct insn *pc = code;
    for (;;) {
        const struct insn *i = pc++;
        n++;
        switch (i->op) {
        case OP_LI:   r[i->a] = i->imm; break;
        case OP_MOV:  r[i->a] = r[i->b]; break;
        case OP_ADD:  r[i->a] = r[i->b] + r[i->c]; break;
        case OP_ADDI: r[i->a] = r[i->b] + i->imm; break;
        case OP_MUL:  r[i->a] = r[i->b] * r[i->c]; break;
        case OP_REM:  r[i->a] = r[i->b] % r[i->c]; break;
        case OP_SHRI: r[i->a] = r[i->b] >> i->imm; break;
        case OP_ANDI: r[i->a] = r[i->b] & i->imm; break;
        case OP_BEQ:  if (r[i->a] == r[i->b]) pc = code + i->imm; break;
        case OP_BNE:  if (r[i->a] != r[i->b]) pc = code + i->imm; break;
        case OP_BLT:  if (r[i->a] < r[i->b]) pc = code + i->imm; break;
        case OP_BEQZ: if (r[i->a] == 0) pc = code + i->imm; break;
        case OP_JMP:  pc = code + i->imm; break;
        case OP_HALT: *executed += n; return r[i->a];
        default:      *executed += n; return -1;
        }
    }
}

#define I(op, a, b, c, imm) { OP_##op, a, b, c, imm }

/* r0 = N on entry; returns the sum over n in [1, N] of the number of Collatz
 * steps (x -> x/2 or 3x+1) that take n to 1. */
static const struct insn collatz_prog[] = {
    /* 0 */  I(LI, 1, 0, 0, 1),         /* n = 1 */
    /* 1 */  I(LI, 2, 0, 0, 0),         /* total = 0 */
    /* 2 */  I(LI, 6, 0, 0, 1),         /* one = 1 */
    /* 3 */  I(ADDI, 7, 0, 0, 1),       /* limit = N + 1 */
    /* 4 */  I(BEQ, 1, 7, 0, 18),       /* outer: n == limit -> done */
    /* 5 */  I(MOV, 3, 1, 0, 0),        /* x = n */
    /* 6 */  I(BEQ, 3, 6, 0, 16),       /* inner: x == 1 -> next n */
    /* 7 */  I(ADDI, 2, 2, 0, 1),       /* total++ */
    /* 8 */  I(ANDI, 4, 3, 0, 1),
    /* 9 */  I(BEQZ, 4, 0, 0, 14),      /* even -> halve */
    /* 10 */ I(ADD, 5, 3, 3, 0),        /* x = 3x + 1 */
    /* 11 */ I(ADD, 3, 5, 3, 0),
    /* 12 */ I(ADDI, 3, 3, 0, 1),
    /* 13 */ I(JMP, 0, 0, 0, 6),
    /* 14 */ I(SHRI, 3, 3, 0, 1),       /* x = x / 2 */
    /* 15 */ I(JMP, 0, 0, 0, 6),
    /* 16 */ I(ADDI, 1, 1, 0, 1),       /* n++ */
    /* 17 */ I(JMP, 0, 0, 0, 4),
    /* 18 */ I(HALT, 2, 0, 0, 0),
};

/* r0 = N on entry; returns the number of primes p < N (trial division). */
static const struct insn primes_prog[] = {
    /* 0 */  I(LI, 1, 0, 0, 2),         /* p = 2 */
    /* 1 */  I(LI, 2, 0, 0, 0),         /* count = 0 */
    /* 2 */  I(BLT, 1, 0, 0, 4),        /* loop: p < N -> test p */
    /* 3 */  I(HALT, 2, 0, 0, 0),
    /* 4 */  I(LI, 3, 0, 0, 2),         /* d = 2 */
    /* 5 */  I(MUL, 4, 3, 3, 0),        /* dloop: d2 = d * d */
    /* 6 */  I(BLT, 1, 4, 0, 11),       /* p < d2 -> prime */
    /* 7 */  I(REM, 5, 1, 3, 0),
    /* 8 */  I(BEQZ, 5, 0, 0, 12),      /* d divides p -> not prime */
    /* 9 */  I(ADDI, 3, 3, 0, 1),       /* d++ */
    /* 10 */ I(JMP, 0, 0, 0, 5),
    /* 11 */ I(ADDI, 2, 2, 0, 1),       /* count++ */
    /* 12 */ I(ADDI, 1, 1, 0, 1),       /* p++ */
    /* 13 */ I(JMP, 0, 0, 0, 2),
};

static uint64_t collatz_native(uint64_t n_max)
{
    uint64_t total = 0;
    for (uint64_t n = 1; n <= n_max; n++)
        for (uint64_t x = n; x != 1; total++)
            x = (x & 1) ? 3 * x + 1 : x >> 1;
    return total;
}

static uint8_t composite[PRIME_N];

static uint64_t primes_sieve(uint64_t n)
{
    uint64_t count = 0;
    for (uint64_t p = 2; p < n; p++) {
        if (composite[p])
            continue;
        count++;
        for (uint64_t q = p * p; q < n; q += p)
            composite[q] = 1;
    }
    return count;
}

int main(void)
{
    int bad = 0;
    uint64_t executed = 0;
    int64_t n_collatz = COLLATZ_N + (int64_t)(bench_seed() & 0); /* opaque to the compiler */
    int64_t n_primes = PRIME_N + (int64_t)(bench_seed() & 0);

    uint64_t c = (uint64_t)run(collatz_prog, n_collatz, &executed);
    uint64_t p = (uint64_t)run(primes_prog, n_primes, &executed);

    bad += bench_check("collatz: interpreted vs native", c, collatz_native((uint64_t)n_collatz));
    bad += bench_check("primes: interpreted vs sieve", p, primes_sieve((uint64_t)n_primes));
#if COLLATZ_N == DEFAULT_COLLATZ_N && PRIME_N == DEFAULT_PRIME_N
    bad += bench_check("collatz total", c, COLLATZ_EXPECTED);
    bad += bench_check("prime count", p, PRIMES_EXPECTED);
    bad += bench_check("bytecode instructions executed", executed, EXECUTED_EXPECTED);
#endif
    return bench_finish("interp", bad, (c << 32) ^ p);
}
