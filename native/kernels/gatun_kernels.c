/* gatun's own native kernels; see gatun_kernels.h. */
#include "gatun_kernels.h"

#include <math.h>
#include <omp.h>
#include <string.h>

/* Below this many elements a loop stays on the calling thread: waking the team costs more. */
#define GATUN_PARALLEL_MIN 65536

/*
 * x86-64: an AVX2 clone and a baseline one of each worker, chosen by the loader on the running CPU by
 * its features ("arch=haswell" would be chosen only on CPUs of that model line). The clones are the
 * workers that run over a range of elements or planes, called from inside the OpenMP regions of the
 * exported functions: an OpenMP region inside a cloned function is outlined before cloning, and
 * its body would run in the baseline form.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define GATUN_VECTOR_CLONES __attribute__((target_clones("avx2", "default"), noinline))
#else
#define GATUN_VECTOR_CLONES __attribute__((noinline))
#endif

int gatun_kernels_version(void) {
    return GATUN_KERNELS_VERSION;
}

/* This thread's share [*begin, *end) of [0, n) in a team of `threads`, in contiguous chunks. */
static void share(int64_t n, int64_t *begin, int64_t *end) {
    const int64_t threads = omp_get_num_threads();
    const int64_t t = omp_get_thread_num();
    const int64_t chunk = n / threads;
    const int64_t rest = n % threads;
    *begin = t * chunk + (t < rest ? t : rest);
    *end = *begin + chunk + (t < rest ? 1 : 0);
}

/* ---------------------------------------------------------------- Adam */

GATUN_VECTOR_CLONES
static void adam_range(float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
                       float *restrict vmax, int64_t begin, int64_t end, float beta1, float one_minus_beta1,
                       float beta2, float one_minus_beta2, float step_size, float inv_sqrt_c2, float eps,
                       float decay, float wd) {
    /* Two loops, so that the common one (no AMSGrad) carries no maximum and no extra stream. */
    if (vmax == 0) {
        for (int64_t i = begin; i < end; i++) {
            float pv = p[i] * decay;
            float gv = g[i] + wd * pv;
            float mv = beta1 * m[i] + one_minus_beta1 * gv;
            float vv = beta2 * v[i] + one_minus_beta2 * gv * gv;
            m[i] = mv;
            v[i] = vv;
            p[i] = pv - step_size * mv / (sqrtf(vv) * inv_sqrt_c2 + eps);
        }
    } else {
        for (int64_t i = begin; i < end; i++) {
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

void gatun_adam(float *p, const float *g, float *m, float *v, float *vmax, int64_t n, float beta1,
                float one_minus_beta1, float beta2, float one_minus_beta2, float step_size, float inv_sqrt_c2,
                float eps, float decay, float wd) {
#pragma omp parallel if (n > GATUN_PARALLEL_MIN)
    {
        int64_t begin, end;
        share(n, &begin, &end);
        adam_range(p, g, m, v, vmax, begin, end, beta1, one_minus_beta1, beta2, one_minus_beta2, step_size,
                   inv_sqrt_c2, eps, decay, wd);
    }
}

/* ---------------------------------------------------------------- SGD */

GATUN_VECTOR_CLONES
static void sgd_range(float *restrict p, const float *restrict g, float *restrict buf, int64_t begin,
                      int64_t end, float lr, float wd, float momentum, float damp, int first, int nesterov) {
    if (buf == 0) {
        for (int64_t i = begin; i < end; i++) {
            float pv = p[i];
            p[i] = pv - lr * (g[i] + wd * pv);
        }
    } else if (first) {
        for (int64_t i = begin; i < end; i++) {
            float pv = p[i];
            float gv = g[i] + wd * pv;
            buf[i] = gv;
            p[i] = pv - lr * (nesterov ? gv + momentum * gv : gv);
        }
    } else {
        for (int64_t i = begin; i < end; i++) {
            float pv = p[i];
            float gv = g[i] + wd * pv;
            float bv = momentum * buf[i] + damp * gv;
            buf[i] = bv;
            p[i] = pv - lr * (nesterov ? gv + momentum * bv : bv);
        }
    }
}

void gatun_sgd(float *p, const float *g, float *buf, int64_t n, float lr, float wd, float momentum, float damp,
               int first, int nesterov) {
#pragma omp parallel if (n > GATUN_PARALLEL_MIN)
    {
        int64_t begin, end;
        share(n, &begin, &end);
        sgd_range(p, g, buf, begin, end, lr, wd, momentum, damp, first, nesterov);
    }
}

/* ---------------------------------------------------------------- max pooling on nChw8c / nChw16c */

/* The shapes of one pooling, passed to the workers. */
struct pool_shape {
    int64_t ih, iw, oh, ow;
    int32_t kh, kw, sh, sw, ph, pw, dh, dw;
};

/* Eight lanes of floats and of 32-bit integers (GCC vector extensions: AVX2 registers in the AVX2 clones). */
typedef float f32x8 __attribute__((vector_size(32)));
typedef int32_t i32x8 __attribute__((vector_size(32)));

/*
 * Forward over planes [begin, end) (a plane is one image's block of L channels) for a compile-time
 * lane count L (8 or 16, V = L / 8 vectors): inlined into workers with L constant. The maximum and its
 * position are kept per lane with a compare and a select, so that, as in a scalar loop, the first of
 * equal values wins and a NaN never does.
 */
static inline __attribute__((always_inline)) void max_pool_forward_planes(
        const float *src, float *dst, int32_t *ws, const struct pool_shape *sp, int64_t begin, int64_t end,
        const int L) {
    const int V = L / 8;
    const int64_t ih = sp->ih, iw = sp->iw, oh = sp->oh, ow = sp->ow;
    for (int64_t plane = begin; plane < end; plane++) {
        const float *s = src + plane * ih * iw * L;
        float *d = dst + plane * oh * ow * L;
        int32_t *w = ws + plane * oh * ow * L;
        for (int64_t y = 0; y < oh; y++) {
            for (int64_t x = 0; x < ow; x++) {
                f32x8 best[2];
                i32x8 at[2];
                for (int k = 0; k < V; k++) {
                    best[k] = (f32x8){0} - INFINITY;
                    at[k] = (i32x8){0};
                }
                for (int32_t i = 0; i < sp->kh; i++) {
                    const int64_t sy = y * sp->sh - sp->ph + (int64_t) i * sp->dh;
                    if (sy < 0 || sy >= ih) continue;
                    for (int32_t j = 0; j < sp->kw; j++) {
                        const int64_t sx = x * sp->sw - sp->pw + (int64_t) j * sp->dw;
                        if (sx < 0 || sx >= iw) continue;
                        const float *v = s + (sy * iw + sx) * L;
                        const i32x8 pos = (i32x8){0} + (i * sp->kw + j);
                        for (int k = 0; k < V; k++) {
                            f32x8 val;
                            memcpy(&val, v + 8 * k, sizeof val);
                            const i32x8 better = val > best[k];
                            best[k] = (f32x8) (((i32x8) val & better) | ((i32x8) best[k] & ~better));
                            at[k] = (pos & better) | (at[k] & ~better);
                        }
                    }
                }
                for (int k = 0; k < V; k++) {
                    memcpy(d + (y * ow + x) * L + 8 * k, &best[k], sizeof best[k]);
                    memcpy(w + (y * ow + x) * L + 8 * k, &at[k], sizeof at[k]);
                }
            }
        }
    }
}

static inline __attribute__((always_inline)) void max_pool_backward_planes(
        const float *diff_dst, float *diff_src, const int32_t *ws, const struct pool_shape *sp, int64_t begin,
        int64_t end, const int L) {
    const int64_t ih = sp->ih, iw = sp->iw, oh = sp->oh, ow = sp->ow;
    for (int64_t plane = begin; plane < end; plane++) {
        const float *dd = diff_dst + plane * oh * ow * L;
        const int32_t *w = ws + plane * oh * ow * L;
        float *ds = diff_src + plane * ih * iw * L;
        memset(ds, 0, (size_t) (ih * iw * L) * sizeof(float));
        for (int64_t y = 0; y < oh; y++) {
            for (int64_t x = 0; x < ow; x++) {
                for (int k = 0; k < L; k++) {
                    const int64_t e = (y * ow + x) * L + k;
                    const int32_t pos = w[e];
                    const int64_t sy = y * sp->sh - sp->ph + (int64_t) (pos / sp->kw) * sp->dh;
                    const int64_t sx = x * sp->sw - sp->pw + (int64_t) (pos % sp->kw) * sp->dw;
                    if (sy < 0 || sy >= ih || sx < 0 || sx >= iw) continue; /* a window all in the padding */
                    ds[(sy * iw + sx) * L + k] += dd[e];
                }
            }
        }
    }
}

GATUN_VECTOR_CLONES
static void max_pool_forward_8(const float *src, float *dst, int32_t *ws, const struct pool_shape *sp,
                               int64_t begin, int64_t end) {
    max_pool_forward_planes(src, dst, ws, sp, begin, end, 8);
}

GATUN_VECTOR_CLONES
static void max_pool_forward_16(const float *src, float *dst, int32_t *ws, const struct pool_shape *sp,
                                int64_t begin, int64_t end) {
    max_pool_forward_planes(src, dst, ws, sp, begin, end, 16);
}

GATUN_VECTOR_CLONES
static void max_pool_backward_8(const float *diff_dst, float *diff_src, const int32_t *ws,
                                const struct pool_shape *sp, int64_t begin, int64_t end) {
    max_pool_backward_planes(diff_dst, diff_src, ws, sp, begin, end, 8);
}

GATUN_VECTOR_CLONES
static void max_pool_backward_16(const float *diff_dst, float *diff_src, const int32_t *ws,
                                 const struct pool_shape *sp, int64_t begin, int64_t end) {
    max_pool_backward_planes(diff_dst, diff_src, ws, sp, begin, end, 16);
}

void gatun_max_pool_blocked_forward(const float *src, float *dst, int32_t *ws, int32_t lanes, int64_t n,
                                    int64_t cb, int64_t ih, int64_t iw, int64_t oh, int64_t ow, int32_t kh,
                                    int32_t kw, int32_t sh, int32_t sw, int32_t ph, int32_t pw, int32_t dh,
                                    int32_t dw) {
    if (lanes != 8 && lanes != 16) return;
    const struct pool_shape sp = {ih, iw, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw};
    const int64_t planes = n * cb;
#pragma omp parallel if (planes * oh * ow * lanes > GATUN_PARALLEL_MIN)
    {
        int64_t begin, end;
        share(planes, &begin, &end);
        if (lanes == 16) {
            max_pool_forward_16(src, dst, ws, &sp, begin, end);
        } else {
            max_pool_forward_8(src, dst, ws, &sp, begin, end);
        }
    }
}

void gatun_max_pool_blocked_backward(const float *diff_dst, float *diff_src, const int32_t *ws, int32_t lanes,
                                     int64_t n, int64_t cb, int64_t ih, int64_t iw, int64_t oh, int64_t ow,
                                     int32_t kh, int32_t kw, int32_t sh, int32_t sw, int32_t ph, int32_t pw,
                                     int32_t dh, int32_t dw) {
    if (lanes != 8 && lanes != 16) return;
    const struct pool_shape sp = {ih, iw, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw};
    const int64_t planes = n * cb;
#pragma omp parallel if (planes * ih * iw * lanes > GATUN_PARALLEL_MIN)
    {
        int64_t begin, end;
        share(planes, &begin, &end);
        if (lanes == 16) {
            max_pool_backward_16(diff_dst, diff_src, ws, &sp, begin, end);
        } else {
            max_pool_backward_8(diff_dst, diff_src, ws, &sp, begin, end);
        }
    }
}
