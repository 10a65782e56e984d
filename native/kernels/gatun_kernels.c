/* gatun's own native kernels; see gatun_kernels.h. */
#include "gatun_kernels.h"

#include <math.h>
#include <string.h>

/* Below this many elements a loop stays on the calling thread: waking the team costs more. */
#define GATUN_PARALLEL_MIN 65536

/* x86-64: an AVX2+FMA clone and a baseline one, chosen by the loader on the running CPU. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define GATUN_VECTOR_CLONES __attribute__((target_clones("arch=haswell", "default")))
#else
#define GATUN_VECTOR_CLONES
#endif

int gatun_kernels_version(void) {
    return GATUN_KERNELS_VERSION;
}

GATUN_VECTOR_CLONES
void gatun_adam(float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
                float *restrict vmax, int64_t n, float beta1, float one_minus_beta1, float beta2,
                float one_minus_beta2, float step_size, float inv_sqrt_c2, float eps, float decay,
                float wd) {
    /* Two loops, so that the common one (no AMSGrad) carries no maximum and no extra stream. */
    if (vmax == 0) {
#pragma omp parallel for simd schedule(static) if (n > GATUN_PARALLEL_MIN)
        for (int64_t i = 0; i < n; i++) {
            float pv = p[i] * decay;
            float gv = g[i] + wd * pv;
            float mv = beta1 * m[i] + one_minus_beta1 * gv;
            float vv = beta2 * v[i] + one_minus_beta2 * gv * gv;
            m[i] = mv;
            v[i] = vv;
            p[i] = pv - step_size * mv / (sqrtf(vv) * inv_sqrt_c2 + eps);
        }
    } else {
#pragma omp parallel for simd schedule(static) if (n > GATUN_PARALLEL_MIN)
        for (int64_t i = 0; i < n; i++) {
            float pv = p[i] * decay;
            float gv = g[i] + wd * pv;
            float mv = beta1 * m[i] + one_minus_beta1 * gv;
            float vv = beta2 * v[i] + one_minus_beta2 * gv * gv;
            m[i] = mv;
            v[i] = vv;
            vv = vmax[i] > vv ? vmax[i] : vv;
            vmax[i] = vv;
            p[i] = pv - step_size * mv / (sqrtf(vv) * inv_sqrt_c2 + eps);
        }
    }
}

GATUN_VECTOR_CLONES
void gatun_sgd(float *restrict p, const float *restrict g, float *restrict buf, int64_t n, float lr,
               float wd, float momentum, float damp, int first, int nesterov) {
    if (buf == 0) {
#pragma omp parallel for simd schedule(static) if (n > GATUN_PARALLEL_MIN)
        for (int64_t i = 0; i < n; i++) {
            float pv = p[i];
            p[i] = pv - lr * (g[i] + wd * pv);
        }
    } else if (first) {
#pragma omp parallel for simd schedule(static) if (n > GATUN_PARALLEL_MIN)
        for (int64_t i = 0; i < n; i++) {
            float pv = p[i];
            float gv = g[i] + wd * pv;
            buf[i] = gv;
            p[i] = pv - lr * (nesterov ? gv + momentum * gv : gv);
        }
    } else {
#pragma omp parallel for simd schedule(static) if (n > GATUN_PARALLEL_MIN)
        for (int64_t i = 0; i < n; i++) {
            float pv = p[i];
            float gv = g[i] + wd * pv;
            float bv = momentum * buf[i] + damp * gv;
            buf[i] = bv;
            p[i] = pv - lr * (nesterov ? gv + momentum * bv : bv);
        }
    }
}

/*
 * The pooling loops for a compile-time lane count L (8 or 16): inlined into each exported function's
 * clones with L constant, so that the lane loops vectorise.
 */
static inline __attribute__((always_inline)) void max_pool_forward(
        const float *src, float *dst, int32_t *ws, int64_t n, int64_t cb, int64_t ih, int64_t iw, int64_t oh,
        int64_t ow, int32_t kh, int32_t kw, int32_t sh, int32_t sw, int32_t ph, int32_t pw, int32_t dh, int32_t dw,
        const int L) {
    const int64_t planes = n * cb;
#pragma omp parallel for schedule(static) if (planes * oh * ow * L > GATUN_PARALLEL_MIN)
    for (int64_t plane = 0; plane < planes; plane++) {
        const float *s = src + plane * ih * iw * L;
        float *d = dst + plane * oh * ow * L;
        int32_t *w = ws + plane * oh * ow * L;
        for (int64_t y = 0; y < oh; y++) {
            for (int64_t x = 0; x < ow; x++) {
                float best[16];
                int32_t at[16];
                for (int k = 0; k < L; k++) {
                    best[k] = -INFINITY;
                    at[k] = 0;
                }
                for (int32_t i = 0; i < kh; i++) {
                    const int64_t sy = y * sh - ph + (int64_t) i * dh;
                    if (sy < 0 || sy >= ih) continue;
                    for (int32_t j = 0; j < kw; j++) {
                        const int64_t sx = x * sw - pw + (int64_t) j * dw;
                        if (sx < 0 || sx >= iw) continue;
                        const float *v = s + (sy * iw + sx) * L;
                        const int32_t pos = i * kw + j;
                        for (int k = 0; k < L; k++) {
                            const int better = v[k] > best[k];
                            best[k] = better ? v[k] : best[k];
                            at[k] = better ? pos : at[k];
                        }
                    }
                }
                for (int k = 0; k < L; k++) {
                    d[(y * ow + x) * L + k] = best[k];
                    w[(y * ow + x) * L + k] = at[k];
                }
            }
        }
    }
}

static inline __attribute__((always_inline)) void max_pool_backward(
        const float *diff_dst, float *diff_src, const int32_t *ws, int64_t n, int64_t cb, int64_t ih, int64_t iw,
        int64_t oh, int64_t ow, int32_t kw, int32_t sh, int32_t sw, int32_t ph, int32_t pw, int32_t dh, int32_t dw,
        const int L) {
    const int64_t planes = n * cb;
#pragma omp parallel for schedule(static) if (planes * ih * iw * L > GATUN_PARALLEL_MIN)
    for (int64_t plane = 0; plane < planes; plane++) {
        const float *dd = diff_dst + plane * oh * ow * L;
        const int32_t *w = ws + plane * oh * ow * L;
        float *ds = diff_src + plane * ih * iw * L;
        memset(ds, 0, (size_t) (ih * iw * L) * sizeof(float));
        for (int64_t y = 0; y < oh; y++) {
            for (int64_t x = 0; x < ow; x++) {
                for (int k = 0; k < L; k++) {
                    const int64_t e = (y * ow + x) * L + k;
                    const int32_t pos = w[e];
                    const int64_t sy = y * sh - ph + (int64_t) (pos / kw) * dh;
                    const int64_t sx = x * sw - pw + (int64_t) (pos % kw) * dw;
                    if (sy < 0 || sy >= ih || sx < 0 || sx >= iw) continue; /* a window all in the padding */
                    ds[(sy * iw + sx) * L + k] += dd[e];
                }
            }
        }
    }
}

GATUN_VECTOR_CLONES
void gatun_max_pool_blocked_forward(const float *src, float *dst, int32_t *ws, int32_t lanes, int64_t n,
                                    int64_t cb, int64_t ih, int64_t iw, int64_t oh, int64_t ow, int32_t kh,
                                    int32_t kw, int32_t sh, int32_t sw, int32_t ph, int32_t pw, int32_t dh,
                                    int32_t dw) {
    if (lanes == 16) {
        max_pool_forward(src, dst, ws, n, cb, ih, iw, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, 16);
    } else if (lanes == 8) {
        max_pool_forward(src, dst, ws, n, cb, ih, iw, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, 8);
    }
}

GATUN_VECTOR_CLONES
void gatun_max_pool_blocked_backward(const float *diff_dst, float *diff_src, const int32_t *ws, int32_t lanes,
                                     int64_t n, int64_t cb, int64_t ih, int64_t iw, int64_t oh, int64_t ow,
                                     int32_t kh, int32_t kw, int32_t sh, int32_t sw, int32_t ph, int32_t pw,
                                     int32_t dh, int32_t dw) {
    (void) kh;
    if (lanes == 16) {
        max_pool_backward(diff_dst, diff_src, ws, n, cb, ih, iw, oh, ow, kw, sh, sw, ph, pw, dh, dw, 16);
    } else if (lanes == 8) {
        max_pool_backward(diff_dst, diff_src, ws, n, cb, ih, iw, oh, ow, kw, sh, sw, ph, pw, dh, dw, 8);
    }
}
