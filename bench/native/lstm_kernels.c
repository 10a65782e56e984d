/*
 * Times gatun's LSTM training kernels outside the JVM on the character LSTM's layer (64 steps, 32
 * sequences, 256 units): forward then backward, 50 rounds; prints the median and best of each and the
 * rate of its recurrent products (2·T·N·H·4H FLOPs each way). Used by bench/results/lstm-training.md.
 *
 *   bash scripts/build-kernels /tmp/kernels
 *   gcc -O2 -fopenmp -Inative/kernels bench/native/lstm_kernels.c /tmp/kernels/libgatun_kernels.so \
 *       -Wl,-rpath,/tmp/kernels -o /tmp/lstm_kernels
 *   OMP_NUM_THREADS=2 /tmp/lstm_kernels
 */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_util.h"
#include "gatun_kernels.h"

#define ROUNDS 50

static int ascending(const void *a, const void *b) {
    const double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

int main(void) {
    const int64_t t = 64, n = 32, h = 256;
    float *gx = filled(t * n * 4 * h, 1), *w = filled(4 * h * h, 0.1f), *b = filled(4 * h, 0.1f);
    float *h0 = filled(n * h, 1), *c0 = filled(n * h, 1);
    float *wf = filled(gatun_lstm_forward_pack_elements(h), 0);
    float *wb = filled(gatun_lstm_backward_pack_elements(h), 0);
    float *y = filled(t * n * h, 0), *ht = filled(n * h, 0), *ct = filled(n * h, 0);
    float *acts = filled(t * n * 4 * h, 0), *cs = filled(t * n * h, 0);
    float *dy = filled(t * n * h, 1), *dg = filled(t * n * 4 * h, 0), *dh0 = filled(n * h, 0), *dc0 = filled(n * h, 0);
    double fwd[ROUNDS], bwd[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        const double a = now();
        gatun_lstm_train_forward(gx, NULL, w, b, h0, c0, wf, y, ht, ct, acts, cs, t, n, h);
        const double m = now();
        gatun_lstm_train_backward(w, acts, cs, c0, dy, ht, ct, wb, dg, dh0, dc0, t, n, h);
        const double e = now();
        fwd[r] = (m - a) * 1e3;
        bwd[r] = (e - m) * 1e3;
    }
    qsort(fwd, ROUNDS, sizeof(double), ascending);
    qsort(bwd, ROUNDS, sizeof(double), ascending);
    const double gflop = 2.0 * t * n * h * 4 * h / 1e9;
    /* A value of the results, which must not change between builds that only move work between threads. */
    printf("threads %d: forward median %.3f ms, best %.3f (%.0f GFLOP/s); backward median %.3f, best %.3f"
           " (%.0f GFLOP/s); check %g\n", omp_get_max_threads(), fwd[ROUNDS / 2], fwd[0], gflop / fwd[0] * 1e3,
           bwd[ROUNDS / 2], bwd[0], gflop / bwd[0] * 1e3, (double) dg[12345] + dh0[77]);
    return 0;
}
