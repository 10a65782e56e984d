/*
 * How fast a plain direct 3×3 convolution can run here: the forward pass of the ResNet row's 32 → 32
 * layer (batch 32, 32×32, stride 1, padding 1) in 16-channel blocks (nChw16c activations, weights
 * [oc/16][ic/16][3][3][16 ic][16 oc]), each thread padding its images into a buffer of its own and
 * computing tiles of 8 output pixels × 32 output channels in registers. Prints the best of 200 runs, its
 * rate against 2·N·C·C·9·H·W FLOPs, and the largest difference from a double-precision loop over 64
 * sampled outputs. A measure of the machine's ceiling for the floors of bench/results (which divide by
 * oneDNN's sgemm rate), not a kernel of gatun's. Used by bench/results/attention-and-losses.md.
 *
 *   gcc -O3 -march=x86-64-v4 -fopenmp bench/native/direct_conv3x3.c -lm -o /tmp/direct_conv3x3
 *   OMP_NUM_THREADS=2 /tmp/direct_conv3x3
 */
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 32
#define C 32
#define H 32
#define W 32
#define BLOCKS (C / 16)
#define PH (H + 2)
#define PW (W + 2)
#define TILE 8
#define RUNS 200

/* One tile: TILE output pixels of one row, both 16-channel output blocks, from the padded input. */
static void tile(const float *in, const float *w, float *out0, float *out1) {
    __m512 a0[TILE], a1[TILE];
    for (int p = 0; p < TILE; p++) {
        a0[p] = _mm512_setzero_ps();
        a1[p] = _mm512_setzero_ps();
    }
    for (int b = 0; b < BLOCKS; b++) {
        for (int kh = 0; kh < 3; kh++) {
            for (int kw = 0; kw < 3; kw++) {
                const float *x = in + ((size_t) b * PH * PW + (size_t) kh * PW + kw) * 16;
                const float *w0 = w + (size_t) (b * 9 + kh * 3 + kw) * 256;
                const float *w1 = w0 + (size_t) BLOCKS * 9 * 256;
                for (int ic = 0; ic < 16; ic++) {
                    const __m512 v0 = _mm512_load_ps(w0 + ic * 16);
                    const __m512 v1 = _mm512_load_ps(w1 + ic * 16);
#pragma GCC unroll 8
                    for (int p = 0; p < TILE; p++) {
                        const __m512 xv = _mm512_set1_ps(x[p * 16 + ic]);
                        a0[p] = _mm512_fmadd_ps(xv, v0, a0[p]);
                        a1[p] = _mm512_fmadd_ps(xv, v1, a1[p]);
                    }
                }
            }
        }
    }
    for (int p = 0; p < TILE; p++) {
        _mm512_store_ps(out0 + p * 16, a0[p]);
        _mm512_store_ps(out1 + p * 16, a1[p]);
    }
}

static void forward(const float *x, const float *w, float *y) {
#pragma omp parallel
    {
        float *pad = aligned_alloc(64, (size_t) BLOCKS * PH * PW * 16 * sizeof(float));
        memset(pad, 0, (size_t) BLOCKS * PH * PW * 16 * sizeof(float));
#pragma omp for schedule(static)
        for (int n = 0; n < N; n++) {
            for (int b = 0; b < BLOCKS; b++) {
                for (int h = 0; h < H; h++) {
                    memcpy(pad + (((size_t) b * PH + h + 1) * PW + 1) * 16,
                           x + ((((size_t) n * BLOCKS + b) * H + h) * W) * 16, (size_t) W * 16 * sizeof(float));
                }
            }
            for (int oh = 0; oh < H; oh++) {
                for (int ow = 0; ow < W; ow += TILE) {
                    tile(pad + ((size_t) oh * PW + ow) * 16, w, y + ((((size_t) n * 2 + 0) * H + oh) * W + ow) * 16,
                         y + ((((size_t) n * 2 + 1) * H + oh) * W + ow) * 16);
                }
            }
        }
        free(pad);
    }
}

int main(void) {
    float *x = aligned_alloc(64, (size_t) N * C * H * W * sizeof(float));
    float *y = aligned_alloc(64, (size_t) N * C * H * W * sizeof(float));
    float *w = aligned_alloc(64, (size_t) C * C * 9 * sizeof(float));
    for (size_t i = 0; i < (size_t) N * C * H * W; i++) x[i] = (float) ((i * 7919) % 1000) / 1000.0f - 0.5f;
    for (size_t i = 0; i < (size_t) C * C * 9; i++) w[i] = (float) ((i * 104729) % 1000) / 1000.0f - 0.5f;
    double best = 1e9;
    for (int r = 0; r < RUNS; r++) {
        double t0 = omp_get_wtime();
        forward(x, w, y);
        double t = omp_get_wtime() - t0;
        if (t < best) best = t;
    }
    double worst = 0;
    for (int s = 0; s < 64; s++) {
        int n = (s * 7) % N, oc = (s * 13) % C, oh = (s * 5) % H, ow = (s * 11 + (s % 2) * 31) % W;
        double want = 0;
        for (int ic = 0; ic < C; ic++) {
            for (int kh = 0; kh < 3; kh++) {
                for (int kw = 0; kw < 3; kw++) {
                    int ih = oh + kh - 1, iw = ow + kw - 1;
                    if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                    want += (double) x[((((size_t) n * BLOCKS + ic / 16) * H + ih) * W + iw) * 16 + ic % 16]
                            * w[(((size_t) (oc / 16) * BLOCKS + ic / 16) * 9 + kh * 3 + kw) * 256 + (ic % 16) * 16
                                + oc % 16];
                }
            }
        }
        double got = y[((((size_t) n * BLOCKS + oc / 16) * H + oh) * W + ow) * 16 + oc % 16];
        if (fabs(got - want) > worst) worst = fabs(got - want);
    }
    printf("direct 3x3 forward, batch %d, %d -> %d channels, %dx%d: best %.3f ms, %.1f GFLOP/s, max |error| %.2e\n",
           N, C, C, H, W, best * 1e3, 2.0 * N * C * C * 9 * H * W / best / 1e9, worst);
    free(x);
    free(y);
    free(w);
    return 0;
}
