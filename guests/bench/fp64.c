/* Double-precision benchmark, two parts:
 *
 *  1. n-body: a star and four planets of our own choosing (G = 1), integrated
 *     with symplectic Euler steps (sqrt, divide, multiply-add heavy);
 *  2. dense matrix multiply, 96x96, with entries that are small multiples of
 *     1/4 and 1/8 so every product and partial sum is exact in a double.
 *
 * Checks:
 *  - n-body: total momentum stays zero (to rounding), total energy and angular
 *    momentum are conserved to within the integrator's error, and the final
 *    energy matches a reference computed in advance (host build, loose
 *    tolerance because the compiler may fuse multiply-adds differently);
 *  - matrix multiply: the double result equals an int64 matrix multiply of
 *    the same (scaled) entries exactly, and every repetition gives the same
 *    matrix sum.
 */
#include <math.h>
#include "bench.h"

#define NB 5
#define STEPS 2400000
#define DT 0.001

/* Final energy, from a host build (cc -O2 -DBENCH_HOST, x86-64, no FMA). */
#define NBODY_E1_REF (-0x1.921f9592b311dp-11) /* -7.66989471538e-4 */

#define MN 96
#define MM_REPS 30

struct body { double x[3], v[3], m; };
static struct body bodies[NB];

static void nbody_init(double tilt)
{
    static const double radius[NB] = { 0.0, 1.0, 1.6, 2.5, 4.0 };
    static const double mass[NB] = { 1.0, 1.0e-3, 3.0e-4, 5.0e-4, 1.0e-4 };
    static const double phase[NB] = { 0.0, 0.3, 2.1, 4.0, 5.5 };
    double ct = cos(tilt), st = sin(tilt);
    for (int i = 0; i < NB; i++) {
        struct body *b = &bodies[i];
        double r = radius[i];
        double vc = r > 0 ? sqrt(1.0 / r) : 0.0;
        double cp = cos(phase[i] * (1.0 + i * tilt)), sp = sin(phase[i] * (1.0 + i * tilt));
        b->m = mass[i];
        b->x[0] = r * cp;
        b->x[1] = r * sp * ct;
        b->x[2] = r * sp * st * (i & 1 ? 1.0 : -0.5);
        b->v[0] = -vc * sp * 1.02;
        b->v[1] = vc * cp * ct;
        b->v[2] = vc * cp * st * 0.5;
    }
    /* Make the total momentum zero by moving the star. */
    for (int k = 0; k < 3; k++) {
        double p = 0;
        for (int i = 1; i < NB; i++)
            p += bodies[i].v[k] * bodies[i].m;
        bodies[0].v[k] = -p / bodies[0].m;
    }
}

static void nbody_step(double dt)
{
    for (int i = 0; i < NB; i++) {
        struct body *bi = &bodies[i];
        for (int j = i + 1; j < NB; j++) {
            struct body *bj = &bodies[j];
            double dx = bi->x[0] - bj->x[0];
            double dy = bi->x[1] - bj->x[1];
            double dz = bi->x[2] - bj->x[2];
            double d2 = dx * dx + dy * dy + dz * dz;
            double mag = dt / (d2 * sqrt(d2));
            double mi = bi->m * mag, mj = bj->m * mag;
            bi->v[0] -= dx * mj; bi->v[1] -= dy * mj; bi->v[2] -= dz * mj;
            bj->v[0] += dx * mi; bj->v[1] += dy * mi; bj->v[2] += dz * mi;
        }
    }
    for (int i = 0; i < NB; i++) {
        struct body *b = &bodies[i];
        b->x[0] += dt * b->v[0];
        b->x[1] += dt * b->v[1];
        b->x[2] += dt * b->v[2];
    }
}

static double energy(void)
{
    double e = 0;
    for (int i = 0; i < NB; i++) {
        const struct body *b = &bodies[i];
        e += 0.5 * b->m * (b->v[0] * b->v[0] + b->v[1] * b->v[1] + b->v[2] * b->v[2]);
        for (int j = i + 1; j < NB; j++) {
            double dx = b->x[0] - bodies[j].x[0];
            double dy = b->x[1] - bodies[j].x[1];
            double dz = b->x[2] - bodies[j].x[2];
            e -= b->m * bodies[j].m / sqrt(dx * dx + dy * dy + dz * dz);
        }
    }
    return e;
}

static void momentum(double p[3], double l[3])
{
    for (int k = 0; k < 3; k++)
        p[k] = l[k] = 0;
    for (int i = 0; i < NB; i++) {
        const struct body *b = &bodies[i];
        for (int k = 0; k < 3; k++)
            p[k] += b->m * b->v[k];
        l[0] += b->m * (b->x[1] * b->v[2] - b->x[2] * b->v[1]);
        l[1] += b->m * (b->x[2] * b->v[0] - b->x[0] * b->v[2]);
        l[2] += b->m * (b->x[0] * b->v[1] - b->x[1] * b->v[0]);
    }
}

static int close_rel(double got, double want, double tol)
{
    return fabs(got - want) <= tol * fabs(want);
}

static void bench_double(const char *what, double v)
{
    union { double d; uint64_t u; } u = { v };
    bench_puts(what);
    bench_puts(" = ");
    if (v < 0) {
        bench_putc('-');
        v = -v;
    }
    /* 12 significant digits, enough to read a failure. */
    int e10 = 0;
    while (v != 0 && v < 1.0) { v *= 10; e10--; }
    while (v >= 10.0) { v /= 10; e10++; }
    uint64_t digits = (uint64_t)(v * 1e11 + 0.5);
    bench_dec(digits / 100000000000ULL);
    bench_putc('.');
    for (uint64_t p = 10000000000ULL; p; p /= 10)
        bench_putc('0' + (int)(digits / p % 10));
    bench_puts("e");
    if (e10 < 0) { bench_putc('-'); e10 = -e10; }
    bench_dec((uint64_t)e10);
    bench_puts(" (");
    bench_hex(u.u);
    bench_puts(")\n");
}

static int nbody(double *e_out)
{
    int bad = 0;
    double p0[3], l0[3], p1[3], l1[3];
    nbody_init(0.4);
    double e0 = energy();
    momentum(p0, l0);
    for (long s = 0; s < STEPS; s++)
        nbody_step(DT);
    double e1 = energy();
    momentum(p1, l1);
    *e_out = e1;

    double lmag = sqrt(l0[0] * l0[0] + l0[1] * l0[1] + l0[2] * l0[2]);
    for (int k = 0; k < 3; k++) {
        bad += bench_require("momentum conserved", fabs(p1[k]) < 1e-12);
        bad += bench_require("angular momentum conserved", fabs(l1[k] - l0[k]) < 1e-9 * lmag);
    }
    bad += bench_require("energy conserved", close_rel(e1, e0, 5e-4));
    bad += bench_require("energy matches reference", close_rel(e1, NBODY_E1_REF, 1e-9));
    if (bad) {
        bench_double("e0", e0);
        bench_double("e1", e1);
    }
    return bad;
}

static double A[MN][MN], B[MN][MN], C[MN][MN];
static int64_t IA[MN][MN], IB[MN][MN];

static void matmul(void)
{
    for (int i = 0; i < MN; i++) {
        for (int j = 0; j < MN; j++)
            C[i][j] = 0;
        for (int k = 0; k < MN; k++) {
            double aik = A[i][k];
            for (int j = 0; j < MN; j++)
                C[i][j] += aik * B[k][j];
        }
    }
}

static int matmul_check(uint64_t seed, double *sum_out)
{
    int bad = 0;
    uint64_t s = seed;
    for (int i = 0; i < MN; i++)
        for (int j = 0; j < MN; j++) {
            IA[i][j] = (int64_t)(bench_rand(&s) % 33) - 16;
            IB[i][j] = (int64_t)(bench_rand(&s) % 65) - 32;
            A[i][j] = IA[i][j] * 0.25;   /* exact: multiples of 1/4 */
            B[i][j] = IB[i][j] * 0.125;  /* exact: multiples of 1/8 */
        }
    double first_sum = 0;
    int sum_differs = 0;
    for (int rep = 0; rep < MM_REPS; rep++) {
        matmul();
        double sum = 0;
        for (int i = 0; i < MN; i++)
            for (int j = 0; j < MN; j++)
                sum += C[i][j];
        if (rep == 0)
            first_sum = sum;
        else
            sum_differs += sum != first_sum;
        A[rep % MN][rep % MN] += 0.0; /* keep the repetitions honest */
    }
    bad += bench_check("matmul repetitions with a different sum", (uint64_t)sum_differs, 0);

    uint64_t wrong = 0;
    for (int i = 0; i < MN; i++)
        for (int j = 0; j < MN; j++) {
            int64_t acc = 0;
            for (int k = 0; k < MN; k++)
                acc += IA[i][k] * IB[k][j];
            /* C = sum A*B = acc / 32 exactly */
            wrong += C[i][j] * 32.0 != (double)acc;
        }
    bad += bench_check("matmul elements differing from int64 product", wrong, 0);
    *sum_out = first_sum;
    return bad;
}

int main(void)
{
    double e1, msum;
    int bad = nbody(&e1);
    bad += matmul_check(bench_seed(), &msum);
    union { double d; uint64_t u; } ue = { e1 }, um = { msum };
    return bench_finish("fp64", bad, ue.u ^ (um.u << 1));
}
