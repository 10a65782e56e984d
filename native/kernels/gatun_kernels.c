/* gatun's own native kernels; see gatun_kernels.h. */
#define _GNU_SOURCE
#include "gatun_kernels.h"

#include <linux/futex.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

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

/*
 * Forms the calling thread's OpenMP team of `threads` and has every worker of it (not the caller) block
 * its asynchronous signals for good; returns the team's size. oneDNN 2.x's generated GEMM kernels point the
 * stack pointer into the heap while they run, so a signal taken by a thread running one writes over the
 * heap (see Signals.java). The workers are native threads no one needs to signal; a profiler that signals
 * every thread would otherwise hit them. Called through a downcall of its own (Signals.java), not through
 * the generated bindings.
 */
int gatun_omp_block_worker_signals(int threads) {
    int size = 0;
#pragma omp parallel num_threads(threads)
    {
        if (omp_get_thread_num() != 0) {
            sigset_t set;
            sigfillset(&set);
            sigdelset(&set, SIGILL);
            sigdelset(&set, SIGTRAP);
            sigdelset(&set, SIGBUS);
            sigdelset(&set, SIGFPE);
            sigdelset(&set, SIGSEGV);
            sigdelset(&set, SIGSYS);
            pthread_sigmask(SIG_BLOCK, &set, 0);
        }
#pragma omp single
        size = omp_get_num_threads();
    }
    return size;
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
 * position are kept per lane with a compare and a select, as PyTorch's CPU kernel keeps them
 * (val > max || isnan(val)): the first of equal values wins, a NaN wins over any number, and a later
 * NaN over an earlier one, so a window with a NaN gives NaN from its last NaN. ws may be null
 * (inference): no positions are written.
 */
static inline __attribute__((always_inline)) void max_pool_forward_planes(
        const float *src, float *dst, int32_t *ws, const struct pool_shape *sp, int64_t begin, int64_t end,
        int relu, const int L) {
    /* With relu the maximum starts at 0 from no position (−1): max(relu(x)) = relu(max(x)). */
    const f32x8 floor = (f32x8){0} + (relu ? 0.0f : -INFINITY);
    const i32x8 none = (i32x8){0} + (relu ? -1 : 0);
    const int V = L / 8;
    const int64_t ih = sp->ih, iw = sp->iw, oh = sp->oh, ow = sp->ow;
    for (int64_t plane = begin; plane < end; plane++) {
        const float *s = src + plane * ih * iw * L;
        float *d = dst + plane * oh * ow * L;
        int32_t *w = ws ? ws + plane * oh * ow * L : 0;
        for (int64_t y = 0; y < oh; y++) {
            for (int64_t x = 0; x < ow; x++) {
                f32x8 best[2] = {floor, floor};
                i32x8 at[2] = {none, none};
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
                            const i32x8 better = (val > best[k]) | (val != val);
                            best[k] = (f32x8) (((i32x8) val & better) | ((i32x8) best[k] & ~better));
                            at[k] = (pos & better) | (at[k] & ~better);
                        }
                    }
                }
                for (int k = 0; k < V; k++) {
                    memcpy(d + (y * ow + x) * L + 8 * k, &best[k], sizeof best[k]);
                    if (w) memcpy(w + (y * ow + x) * L + 8 * k, &at[k], sizeof at[k]);
                }
            }
        }
    }
}

/*
 * Backward over planes [begin, end): diff_src = 0, plus each diff_dst element at the position ws names
 * (none for −1). Small windows (at most 16 positions) go window position by window position on whole
 * vectors, adding diff_dst where the position matches and 0 elsewhere; larger ones scatter lane by lane.
 */
static inline __attribute__((always_inline)) void max_pool_backward_planes(
        const float *diff_dst, float *diff_src, const int32_t *ws, const struct pool_shape *sp, int64_t begin,
        int64_t end, const int L) {
    const int V = L / 8;
    const int64_t ih = sp->ih, iw = sp->iw, oh = sp->oh, ow = sp->ow;
    const int vectors = sp->kh * sp->kw <= 16;
    for (int64_t plane = begin; plane < end; plane++) {
        const float *dd = diff_dst + plane * oh * ow * L;
        const int32_t *w = ws + plane * oh * ow * L;
        float *ds = diff_src + plane * ih * iw * L;
        memset(ds, 0, (size_t) (ih * iw * L) * sizeof(float));
        for (int64_t y = 0; y < oh; y++) {
            for (int64_t x = 0; x < ow; x++) {
                const int64_t e = (y * ow + x) * L;
                if (vectors) {
                    f32x8 g[2];
                    i32x8 at[2];
                    for (int k = 0; k < V; k++) {
                        memcpy(&g[k], dd + e + 8 * k, sizeof g[k]);
                        memcpy(&at[k], w + e + 8 * k, sizeof at[k]);
                    }
                    for (int32_t i = 0; i < sp->kh; i++) {
                        const int64_t sy = y * sp->sh - sp->ph + (int64_t) i * sp->dh;
                        if (sy < 0 || sy >= ih) continue;
                        for (int32_t j = 0; j < sp->kw; j++) {
                            const int64_t sx = x * sp->sw - sp->pw + (int64_t) j * sp->dw;
                            if (sx < 0 || sx >= iw) continue;
                            float *t = ds + (sy * iw + sx) * L;
                            for (int k = 0; k < V; k++) {
                                const i32x8 hit = at[k] == (i * sp->kw + j);
                                f32x8 acc;
                                memcpy(&acc, t + 8 * k, sizeof acc);
                                acc += (f32x8) ((i32x8) g[k] & hit);
                                memcpy(t + 8 * k, &acc, sizeof acc);
                            }
                        }
                    }
                } else {
                    for (int k = 0; k < L; k++) {
                        const int32_t pos = w[e + k];
                        if (pos < 0) continue;
                        const int64_t sy = y * sp->sh - sp->ph + (int64_t) (pos / sp->kw) * sp->dh;
                        const int64_t sx = x * sp->sw - sp->pw + (int64_t) (pos % sp->kw) * sp->dw;
                        if (sy < 0 || sy >= ih || sx < 0 || sx >= iw) continue; /* a window all in the padding */
                        ds[(sy * iw + sx) * L + k] += dd[e + k];
                    }
                }
            }
        }
    }
}

GATUN_VECTOR_CLONES
static void max_pool_forward_8(const float *src, float *dst, int32_t *ws, const struct pool_shape *sp,
                               int64_t begin, int64_t end, int relu) {
    max_pool_forward_planes(src, dst, ws, sp, begin, end, relu, 8);
}

GATUN_VECTOR_CLONES
static void max_pool_forward_16(const float *src, float *dst, int32_t *ws, const struct pool_shape *sp,
                                int64_t begin, int64_t end, int relu) {
    max_pool_forward_planes(src, dst, ws, sp, begin, end, relu, 16);
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

/*
 * Forward over the output rows [begin, end) (a row is one image's output row) of a channels-last
 * (nhwc) tensor of C channels, the same comparisons as the blocked kernel lane by lane, so that the
 * results agree bit for bit; the channel loops are left to the compiler's vectoriser.
 */
GATUN_VECTOR_CLONES
static void max_pool_forward_channels_last(const float *src, float *dst, int32_t *ws, const struct pool_shape *sp,
                                           int64_t c, int64_t begin, int64_t end, int relu) {
    const float floor = relu ? 0.0f : -INFINITY;
    const int32_t none = relu ? -1 : 0;
    const int64_t ih = sp->ih, iw = sp->iw, oh = sp->oh, ow = sp->ow;
    for (int64_t r = begin; r < end; r++) {
        const int64_t image = r / oh, y = r % oh;
        const float *s = src + image * ih * iw * c;
        for (int64_t x = 0; x < ow; x++) {
            float *restrict d = dst + ((image * oh + y) * ow + x) * c;
            int32_t *restrict w = ws ? ws + ((image * oh + y) * ow + x) * c : 0;
            for (int64_t k = 0; k < c; k++) d[k] = floor;
            if (w) for (int64_t k = 0; k < c; k++) w[k] = none;
            for (int32_t i = 0; i < sp->kh; i++) {
                const int64_t sy = y * sp->sh - sp->ph + (int64_t) i * sp->dh;
                if (sy < 0 || sy >= ih) continue;
                for (int32_t j = 0; j < sp->kw; j++) {
                    const int64_t sx = x * sp->sw - sp->pw + (int64_t) j * sp->dw;
                    if (sx < 0 || sx >= iw) continue;
                    const float *restrict v = s + (sy * iw + sx) * c;
                    if (w) {
                        const int32_t pos = i * sp->kw + j;
                        for (int64_t k = 0; k < c; k++) {
                            const int better = v[k] > d[k] || v[k] != v[k];
                            d[k] = better ? v[k] : d[k];
                            w[k] = better ? pos : w[k];
                        }
                    } else {
                        for (int64_t k = 0; k < c; k++) {
                            d[k] = (v[k] > d[k] || v[k] != v[k]) ? v[k] : d[k];
                        }
                    }
                }
            }
        }
    }
}

/*
 * Backward over the images [begin, end) of a channels-last (nhwc) tensor of C channels: diff_src = 0,
 * plus each diff_dst element at the window position ws names, in the blocked kernel's order (output
 * pixel by output pixel, window position by window position), so that the sums agree bit for bit.
 * Windows of one image overlap, so an image is one thread's.
 */
GATUN_VECTOR_CLONES
static void max_pool_backward_channels_last(const float *diff_dst, float *diff_src, const int32_t *ws,
                                            const struct pool_shape *sp, int64_t c, int64_t begin, int64_t end) {
    const int64_t ih = sp->ih, iw = sp->iw, oh = sp->oh, ow = sp->ow;
    for (int64_t image = begin; image < end; image++) {
        float *ds = diff_src + image * ih * iw * c;
        memset(ds, 0, (size_t) (ih * iw * c) * sizeof(float));
        for (int64_t y = 0; y < oh; y++) {
            for (int64_t x = 0; x < ow; x++) {
                const int64_t e = ((image * oh + y) * ow + x) * c;
                const float *restrict g = diff_dst + e;
                const int32_t *restrict w = ws + e;
                for (int32_t i = 0; i < sp->kh; i++) {
                    const int64_t sy = y * sp->sh - sp->ph + (int64_t) i * sp->dh;
                    if (sy < 0 || sy >= ih) continue;
                    for (int32_t j = 0; j < sp->kw; j++) {
                        const int64_t sx = x * sp->sw - sp->pw + (int64_t) j * sp->dw;
                        if (sx < 0 || sx >= iw) continue;
                        const int32_t pos = i * sp->kw + j;
                        float *restrict t = ds + (sy * iw + sx) * c;
                        for (int64_t k = 0; k < c; k++) t[k] += w[k] == pos ? g[k] : 0.0f;
                    }
                }
            }
        }
    }
}

/*
 * Lanes 8 or 16: src and dst in nChw8c / nChw16c with cb channel blocks. Any other lane count with
 * cb = 1: channels last (nhwc), lanes being the channel count, parallel over output rows.
 */
void gatun_max_pool_blocked_forward(const float *src, float *dst, int32_t *ws, int32_t lanes, int32_t relu,
                                    int64_t n, int64_t cb, int64_t ih, int64_t iw, int64_t oh, int64_t ow,
                                    int32_t kh, int32_t kw, int32_t sh, int32_t sw, int32_t ph, int32_t pw,
                                    int32_t dh, int32_t dw) {
    const struct pool_shape sp = {ih, iw, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw};
    if (lanes != 8 && lanes != 16) {
        if (cb != 1 || lanes < 1) return;
        const int64_t rows = n * oh;
#pragma omp parallel if (rows * ow * lanes > GATUN_PARALLEL_MIN)
        {
            int64_t begin, end;
            share(rows, &begin, &end);
            max_pool_forward_channels_last(src, dst, ws, &sp, lanes, begin, end, relu);
        }
        return;
    }
    const int64_t planes = n * cb;
#pragma omp parallel if (planes * oh * ow * lanes > GATUN_PARALLEL_MIN)
    {
        int64_t begin, end;
        share(planes, &begin, &end);
        if (lanes == 16) {
            max_pool_forward_16(src, dst, ws, &sp, begin, end, relu);
        } else {
            max_pool_forward_8(src, dst, ws, &sp, begin, end, relu);
        }
    }
}

void gatun_max_pool_blocked_backward(const float *diff_dst, float *diff_src, const int32_t *ws, int32_t lanes,
                                     int64_t n, int64_t cb, int64_t ih, int64_t iw, int64_t oh, int64_t ow,
                                     int32_t kh, int32_t kw, int32_t sh, int32_t sw, int32_t ph, int32_t pw,
                                     int32_t dh, int32_t dw) {
    const struct pool_shape sp = {ih, iw, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw};
    if (lanes != 8 && lanes != 16) {
        if (cb != 1 || lanes < 1) return;
#pragma omp parallel if (n * ih * iw * lanes > GATUN_PARALLEL_MIN)
        {
            int64_t begin, end;
            share(n, &begin, &end);
            max_pool_backward_channels_last(diff_dst, diff_src, ws, &sp, lanes, begin, end);
        }
        return;
    }
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

/* ---------------------------------------------------------------- convolution weight gradient, plain src */

/*
 * These sums may round a product and its addition once (fused multiply-add): unlike the optimizer
 * updates, nothing requires them to match a Java formula bit for bit. The clones are "fma" (which
 * brings AVX) and baseline: the loops are all floating point.
 */
#pragma GCC push_options
#pragma GCC optimize("fp-contract=fast")

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define GATUN_FMA_CLONES __attribute__((target_clones("fma", "default"), noinline))
#else
#define GATUN_FMA_CLONES __attribute__((noinline))
#endif

/* The shapes of one convolution, passed to the weight-gradient workers. */
struct conv_shape {
    int64_t n, c, ih, iw, o, oh, ow;
    int32_t kh, kw, sh, sw, ph, pw, dh, dw;
};

/*
 * For one lane count L (8 or 16) and its vector type VT of L floats, GATUN_CONV_BW(L, VT, CLONES) defines:
 *
 * conv_bw_group_L: adds to acc[q][j] (q < RN kernel rows from r, j < JN kernel columns from j0) the products
 * of those rows' inputs with the output gradient, over every image and output position, for one input
 * channel ci and one block of L output channels. Two rows at once give each output-gradient vector ten
 * independent sums (a single row's five left the multiply-adds waiting on each other). `rows` is scratch
 * for two zero-padded input rows of `padded` floats.
 *
 * conv_bw_tasks_L (declared with CLONES): the tasks [begin, end) (task = output block · c + input channel);
 * -1 when out of memory, else 0.
 *
 * Each weight's sum runs over images, output rows and columns in order, skipping the rows that fall in
 * the padding, whatever L and however the kernel rows are grouped: both widths give the same results.
 */
/* Inside conv_bw_group_L: the output columns of one output row whose input row IN is the only one in range. */
#define GATUN_CONV_BW_ROWS(L, VT, Q, IN)                                                                         \
    for (int64_t x = 0; x < sp->ow; x++) {                                                                     \
        VT d;                                                                                                  \
        memcpy(&d, g + x * L, sizeof d);                                                                       \
        const float *in = (IN) + x * sp->sw + (int64_t) j0 * sp->dw;                                           \
        for (int j = 0; j < JN; j++) acc[Q][j] += in[(int64_t) j * sp->dw] * d;                                \
    }

#define GATUN_CONV_BW(L, VT, CLONES)                                                                             \
    static inline __attribute__((always_inline)) void conv_bw_group_##L(                                       \
            const float *src, const float *diff_dst, const struct conv_shape *sp, int64_t ob, int64_t ci,      \
            int32_t r, int32_t j0, float *rows, size_t padded, float *dw_block, const int RN, const int JN) {  \
        VT acc[2][5];                                                                                          \
        for (int q = 0; q < RN; q++)                                                                           \
            for (int j = 0; j < JN; j++) acc[q][j] = (VT){0};                                                  \
        float *row0 = rows, *row1 = rows + padded;                                                             \
        for (int64_t img = 0; img < sp->n; img++) {                                                            \
            const float *plane = src + (img * sp->c + ci) * sp->ih * sp->iw;                                   \
            const float *dd = diff_dst + (img * ((sp->o + L - 1) / L) + ob) * sp->oh * sp->ow * L;             \
            for (int64_t y = 0; y < sp->oh; y++) {                                                             \
                const int64_t sy0 = y * sp->sh - sp->ph + (int64_t) r * sp->dh, sy1 = sy0 + sp->dh;            \
                const int v0 = sy0 >= 0 && sy0 < sp->ih, v1 = RN == 2 && sy1 >= 0 && sy1 < sp->ih;             \
                if (v0) memcpy(row0 + sp->pw, plane + sy0 * sp->iw, (size_t) sp->iw * sizeof(float));         \
                if (v1) memcpy(row1 + sp->pw, plane + sy1 * sp->iw, (size_t) sp->iw * sizeof(float));         \
                const float *g = dd + y * sp->ow * L;                                                          \
                if (v0 && v1) {                                                                                \
                    for (int64_t x = 0; x < sp->ow; x++) {                                                     \
                        VT d;                                                                                  \
                        memcpy(&d, g + x * L, sizeof d);                                                       \
                        const float *in0 = row0 + x * sp->sw + (int64_t) j0 * sp->dw, *in1 = in0 + padded;    \
                        for (int j = 0; j < JN; j++) {                                                         \
                            acc[0][j] += in0[(int64_t) j * sp->dw] * d;                                        \
                            acc[RN - 1][j] += in1[(int64_t) j * sp->dw] * d;                                   \
                        }                                                                                      \
                    }                                                                                          \
                } else if (v0) {                                                                               \
                    GATUN_CONV_BW_ROWS(L, VT, 0, row0)                                                            \
                } else if (v1) {                                                                               \
                    GATUN_CONV_BW_ROWS(L, VT, RN - 1, row1)                                                       \
                }                                                                                              \
            }                                                                                                  \
        }                                                                                                      \
        /* dw_block is [L][c][kh][kw] for this block's output channels, plain OIHW rows. */                   \
        for (int q = 0; q < RN; q++) {                                                                         \
            for (int j = 0; j < JN; j++) {                                                                     \
                float lanes[L];                                                                                \
                memcpy(lanes, &acc[q][j], sizeof lanes);                                                       \
                for (int k = 0; k < L && ob * L + k < sp->o; k++) {                                            \
                    dw_block[((k * sp->c + ci) * sp->kh + r + q) * sp->kw + j0 + j] = lanes[k];                \
                }                                                                                              \
            }                                                                                                  \
        }                                                                                                      \
    }                                                                                                          \
                                                                                                               \
    CLONES static int conv_bw_tasks_##L(const float *src, const float *diff_dst, float *diff_weights,          \
                                        float *diff_bias, const struct conv_shape *sp, int64_t begin,          \
                                        int64_t end) {                                                         \
        const int64_t ob_count = (sp->o + L - 1) / L;                                                          \
        /* Two input rows with pw zeros on each side: output column x, kernel column j reads row[x·sw + j·dw]. */ \
        const size_t padded = (size_t) (sp->iw + 2 * (int64_t) sp->pw);                                       \
        float *row = calloc(2 * padded, sizeof(float));                                                        \
        if (row == 0) return -1;                                                                               \
        for (int64_t task = begin; task < end; task++) {                                                       \
            const int64_t ob = task / sp->c, ci = task % sp->c;                                                \
            float *dw_block = diff_weights + ob * L * sp->c * sp->kh * sp->kw;                                 \
            for (int32_t r = 0; r < sp->kh; r += 2) {                                                          \
                const int rn = sp->kh - r < 2 ? 1 : 2;                                                         \
                for (int32_t j0 = 0; j0 < sp->kw; j0 += 5) {                                                   \
                    const int jn = sp->kw - j0 < 5 ? sp->kw - j0 : 5;                                          \
                    switch (rn * 8 + jn) {                                                                     \
                    case 9: conv_bw_group_##L(src, diff_dst, sp, ob, ci, r, j0, row, padded, dw_block, 1, 1); break; \
                    case 10: conv_bw_group_##L(src, diff_dst, sp, ob, ci, r, j0, row, padded, dw_block, 1, 2); break; \
                    case 11: conv_bw_group_##L(src, diff_dst, sp, ob, ci, r, j0, row, padded, dw_block, 1, 3); break; \
                    case 12: conv_bw_group_##L(src, diff_dst, sp, ob, ci, r, j0, row, padded, dw_block, 1, 4); break; \
                    case 13: conv_bw_group_##L(src, diff_dst, sp, ob, ci, r, j0, row, padded, dw_block, 1, 5); break; \
                    case 17: conv_bw_group_##L(src, diff_dst, sp, ob, ci, r, j0, row, padded, dw_block, 2, 1); break; \
                    case 18: conv_bw_group_##L(src, diff_dst, sp, ob, ci, r, j0, row, padded, dw_block, 2, 2); break; \
                    case 19: conv_bw_group_##L(src, diff_dst, sp, ob, ci, r, j0, row, padded, dw_block, 2, 3); break; \
                    case 20: conv_bw_group_##L(src, diff_dst, sp, ob, ci, r, j0, row, padded, dw_block, 2, 4); break; \
                    default: conv_bw_group_##L(src, diff_dst, sp, ob, ci, r, j0, row, padded, dw_block, 2, 5); break; \
                    }                                                                                          \
                }                                                                                              \
            }                                                                                                  \
            if (diff_bias != 0 && ci == 0) {                                                                   \
                VT acc = {0};                                                                                  \
                for (int64_t img = 0; img < sp->n; img++) {                                                    \
                    const float *dd = diff_dst + (img * ob_count + ob) * sp->oh * sp->ow * L;                  \
                    for (int64_t e = 0; e < sp->oh * sp->ow; e++) {                                            \
                        VT d;                                                                                  \
                        memcpy(&d, dd + e * L, sizeof d);                                                      \
                        acc += d;                                                                              \
                    }                                                                                          \
                }                                                                                              \
                float lanes[L];                                                                                \
                memcpy(lanes, &acc, sizeof lanes);                                                             \
                for (int k = 0; k < L && ob * L + k < sp->o; k++) diff_bias[ob * L + k] = lanes[k];            \
            }                                                                                                  \
        }                                                                                                      \
        free(row);                                                                                             \
        return 0;                                                                                              \
    }

/* Sixteen lanes: one 512-bit register in the AVX-512 clone, two 256-bit ones in the FMA clone. */
typedef float f32x16 __attribute__((vector_size(64)));

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define GATUN_FMA_AVX512_CLONES __attribute__((target_clones("arch=x86-64-v4", "fma", "default"), noinline))
#else
#define GATUN_FMA_AVX512_CLONES __attribute__((noinline))
#endif

GATUN_CONV_BW(8, f32x8, GATUN_FMA_CLONES)
GATUN_CONV_BW(16, f32x16, GATUN_FMA_AVX512_CLONES)

#pragma GCC pop_options

int gatun_conv_backward_weights_plain_src(const float *src, const float *diff_dst, float *diff_weights,
                                          float *diff_bias, int32_t lanes, int64_t n, int64_t c, int64_t ih,
                                          int64_t iw, int64_t o, int64_t oh, int64_t ow, int32_t kh, int32_t kw,
                                          int32_t sh, int32_t sw, int32_t ph, int32_t pw, int32_t dh, int32_t dw) {
    if (lanes != 8 && lanes != 16) return -1;
    const struct conv_shape sp = {n, c, ih, iw, o, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw};
    const int64_t tasks = (o + lanes - 1) / lanes * c;
    int failed = 0;
#pragma omp parallel if (n * oh * ow * lanes * kh * kw > GATUN_PARALLEL_MIN) reduction(| : failed)
    {
        int64_t begin, end;
        share(tasks, &begin, &end);
        if (begin < end) {
            failed |= lanes == 16 ? conv_bw_tasks_16(src, diff_dst, diff_weights, diff_bias, &sp, begin, end)
                                  : conv_bw_tasks_8(src, diff_dst, diff_weights, diff_bias, &sp, begin, end);
        }
    }
    return failed;
}

/* ---------------------------------------------------------------- dropout */

static inline uint64_t splitmix_mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Elements of the pairs [kb, ke): pair k holds elements 2k and 2k + 1 (the latter only below n). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
/* The mask's 64-bit products vectorise only with AVX-512 (vpmullq); AVX2 emulates them. */
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"), noinline))
#else
__attribute__((noinline))
#endif
static void dropout_range(const float *src, float *dst, int64_t n, float keep, int32_t threshold, uint64_t seed,
                          int64_t kb, int64_t ke) {
    const uint64_t golden = 0x9E3779B97F4A7C15ULL;
    int64_t full = n / 2 < ke ? n / 2 : ke; /* pairs with both elements */
    for (int64_t k = kb; k < full; k++) {
        uint64_t z = splitmix_mix(seed + (uint64_t) (k + 1) * golden);
        int32_t u0 = (int32_t) (z >> 40);
        int32_t u1 = (int32_t) ((z >> 16) & 0xFFFFFF);
        float m0 = keep * (float) (u0 >= threshold);
        float m1 = keep * (float) (u1 >= threshold);
        float s0 = src[2 * k], s1 = src[2 * k + 1];
        dst[2 * k] = s0 * m0;
        dst[2 * k + 1] = s1 * m1;
    }
    if (full < ke && 2 * full < n) { /* the last pair, of one element */
        uint64_t z = splitmix_mix(seed + (uint64_t) (full + 1) * golden);
        float m0 = keep * (float) ((int32_t) (z >> 40) >= threshold);
        dst[2 * full] = src[2 * full] * m0;
    }
}

void gatun_dropout(const float *src, float *dst, int64_t n, float keep, int32_t threshold, int64_t seed) {
    int64_t pairs = (n + 1) / 2;
#pragma omp parallel if (n > GATUN_PARALLEL_MIN)
    {
        int64_t begin, end;
        share(pairs, &begin, &end);
        dropout_range(src, dst, n, keep, threshold, (uint64_t) seed, begin, end);
    }
}

/* ---------------------------------------------------------------- LSTM inference */

/*
 * The products accumulate in fused multiply-adds, and σ and tanh are polynomials (Cephes' expf and
 * tanhf), so that the step vectorises: nothing requires these to match a Java formula bit for bit.
 */
#pragma GCC push_options
#pragma GCC optimize("fp-contract=fast", "no-trapping-math")

/*
 * Units per chunk: the chunk's four gate pre-activations stay in a small buffer on the stack. Chunks
 * start at multiples of LSTM_CHUNK whatever the thread count (threads share whole chunks), so that every
 * unit takes the same path through the vectorised loops (body or remainder) and the results do not
 * depend on the thread count.
 */
#define LSTM_CHUNK 16

/* e^x within ~2 ulp for x in [−87.3, 88.3] (clamped there); NaN gives NaN. */
static inline float lstm_exp(float x) {
    const float xs = x == x ? x : 0.0f;
    const float xc = xs < -87.3f ? -87.3f : (xs > 88.3f ? 88.3f : xs);
    const float k = __builtin_floorf(xc * 1.44269504088896341f + 0.5f);
    float r = xc - k * 0.693359375f;
    r = r - k * -2.12194440e-4f;
    const float z = r * r;
    const float p = (((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r
            + 4.1665795894e-2f) * r + 1.6666665459e-1f) * r + 5.0000001201e-1f) * z + r + 1.0f;
    const uint32_t bits = (uint32_t) ((int32_t) k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return (x == x ? p : x) * scale;
}

static inline float lstm_sigmoid(float x) {
    return 1.0f / (1.0f + lstm_exp(-x));
}

/* tanh: Cephes' odd polynomial below 0.625 in magnitude, 1 − 2/(e^{2|x|} + 1) with x's sign above. */
static inline float lstm_tanh(float x) {
    const float a = __builtin_fabsf(x);
    const float z = x * x;
    const float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z
            + 1.33314422036e-1f) * z - 3.33332819422e-1f) * z * x + x;
    const float large = __builtin_copysignf(1.0f - 2.0f / (lstm_exp(2.0f * a) + 1.0f), x);
    return a < 0.625f ? small : large;
}

typedef int32_t i32x16 __attribute__((vector_size(64)));

/* The sum of the sixteen lanes, by halves (four shuffles and adds, not fifteen dependent adds). */
static inline float lstm_sum(const f32x16 *a) {
    f32x16 v = *a;
    v += __builtin_shuffle(v, (i32x16) {8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7});
    v += __builtin_shuffle(v, (i32x16) {4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11});
    v += __builtin_shuffle(v, (i32x16) {2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13});
    v += __builtin_shuffle(v, (i32x16) {1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14});
    return v[0];
}

/*
 * One step for units [ub, ue) of every row of the batch: pre-activations from the four rows of w_hh
 * of each unit (sixteen lanes at a time, one accumulator per row), then the cell update over the chunk.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"), noinline))
#else
__attribute__((noinline))
#endif
static void lstm_step(const float *gx, const float *w_hh, const float *b_hh, const float *h_prev, float *c,
                      float *y, int64_t n, int64_t h, int64_t ub, int64_t ue) {
    float pre[4][LSTM_CHUNK];
    for (int64_t b = 0; b < n; b++) {
        const float *hp = h_prev ? h_prev + b * h : 0;
        const float *g = gx + b * 4 * h;
        for (int64_t u0 = ub; u0 < ue; u0 += LSTM_CHUNK) {
            const int64_t m = ue - u0 < LSTM_CHUNK ? ue - u0 : LSTM_CHUNK;
            for (int64_t j = 0; j < m; j++) {
                const int64_t u = u0 + j;
                float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
                if (hp) {
                    const float *w0 = w_hh + u * h, *w1 = w_hh + (h + u) * h, *w2 = w_hh + (2 * h + u) * h,
                                *w3 = w_hh + (3 * h + u) * h;
                    f32x16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
                    int64_t k = 0;
                    for (; k + 16 <= h; k += 16) {
                        f32x16 x, r;
                        memcpy(&x, hp + k, sizeof x);
                        memcpy(&r, w0 + k, sizeof r);
                        a0 += r * x;
                        memcpy(&r, w1 + k, sizeof r);
                        a1 += r * x;
                        memcpy(&r, w2 + k, sizeof r);
                        a2 += r * x;
                        memcpy(&r, w3 + k, sizeof r);
                        a3 += r * x;
                    }
                    s[0] = lstm_sum(&a0);
                    s[1] = lstm_sum(&a1);
                    s[2] = lstm_sum(&a2);
                    s[3] = lstm_sum(&a3);
                    for (; k < h; k++) {
                        s[0] += w0[k] * hp[k];
                        s[1] += w1[k] * hp[k];
                        s[2] += w2[k] * hp[k];
                        s[3] += w3[k] * hp[k];
                    }
                }
                for (int q = 0; q < 4; q++) {
                    pre[q][j] = g[q * h + u] + s[q] + (b_hh ? b_hh[q * h + u] : 0.0f);
                }
            }
            float *cb = c + b * h + u0;
            float *yb = y + b * h + u0;
            for (int64_t j = 0; j < m; j++) {
                const float cc = lstm_sigmoid(pre[1][j]) * cb[j] + lstm_sigmoid(pre[0][j]) * lstm_tanh(pre[2][j]);
                cb[j] = cc;
                yb[j] = lstm_sigmoid(pre[3][j]) * lstm_tanh(cc);
            }
        }
    }
}

/* ---------------------------------------------------------------- LSTM training */

/*
 * Matrix products of the recurrence in tiles of LSTM_TILE_ROWS sequences: forward, one chunk's four
 * gates (64 columns, sixteen accumulators of sixteen lanes); backward, four chunks' h gradients. Each
 * output sums its products in one fixed order (k = 0, 1, ... in one lane), so results do not depend on the
 * tiling or the thread count.
 */
#define LSTM_TILE_ROWS 4
#define LSTM_TILE_CHUNKS 4

/* An AVX-512 clone (x86-64-v4) besides the AVX2 and baseline ones, for the loops written on 16 lanes. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define GATUN_AVX512_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default"), noinline))
#else
#define GATUN_AVX512_CLONES __attribute__((noinline))
#endif

static inline int64_t lstm_chunks(int64_t h) {
    return (h + LSTM_CHUNK - 1) / LSTM_CHUNK;
}

/* Copies m ≤ 16 floats: a full chunk as one fixed-size move the compiler inlines. */
static inline __attribute__((always_inline)) void lstm_copy(float *dst, const float *src, int64_t m) {
    if (m == LSTM_CHUNK) {
        memcpy(dst, src, LSTM_CHUNK * sizeof(float));
    } else {
        memcpy(dst, src, m * sizeof(float));
    }
}

int64_t gatun_lstm_forward_pack_elements(int64_t h) {
    return lstm_chunks(h) * h * 4 * LSTM_CHUNK;
}

int64_t gatun_lstm_backward_pack_elements(int64_t h) {
    return (lstm_chunks(h) + LSTM_TILE_CHUNKS - 1) * 4 * h * LSTM_CHUNK;
}

int gatun_cpu_has_avx512(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
#else
    return 0;
#endif
}

/* Chunk c of w_hh [4h, h], forward: wf[c][k][q][j] = w_hh[q·h + 16c + j][k] (0 past h). */
static void lstm_pack_forward(const float *w_hh, float *wf, int64_t h, int64_t c) {
    float *p = wf + c * h * 4 * LSTM_CHUNK;
    const int64_t u0 = c * LSTM_CHUNK;
    for (int q = 0; q < 4; q++) {
        for (int j = 0; j < LSTM_CHUNK; j++) {
            const int64_t u = u0 + j;
            const float *row = u < h ? w_hh + (q * h + u) * h : 0;
            for (int64_t k = 0; k < h; k++) {
                p[k * 4 * LSTM_CHUNK + q * LSTM_CHUNK + j] = row ? row[k] : 0.0f;
            }
        }
    }
}

/* Chunk c of w_hh, backward: wb[c][g][j] = w_hh[g][16c + j] (0 past h, and for the padding chunks). */
static void lstm_pack_backward(const float *w_hh, float *wb, int64_t h, int64_t c) {
    float *p = wb + c * 4 * h * LSTM_CHUNK;
    const int64_t u0 = c * LSTM_CHUNK;
    const int64_t m = u0 >= h ? 0 : (h - u0 < LSTM_CHUNK ? h - u0 : LSTM_CHUNK);
    for (int64_t g = 0; g < 4 * h; g++) {
        int64_t j = 0;
        for (; j < m; j++) p[g * LSTM_CHUNK + j] = w_hh[g * h + u0 + j];
        for (; j < LSTM_CHUNK; j++) p[g * LSTM_CHUNK + j] = 0.0f;
    }
}

/*
 * Forward tile: rows [r0, r0 + R) of one step, chunk c. Gates start from gx (+ b_hh), add h_prev · w_hhᵀ,
 * then the cell update; writes the activated gates (i, f, g, o at q·h + u of each row's 4h), c and h.
 */
static inline __attribute__((always_inline)) void lstm_forward_tile(
        const int R, const float *gx, const int32_t *rows, const float *b_hh, const float *w, const float *h_prev,
        const float *c_prev, float *acts, float *cs, float *y, int64_t h, int64_t r0, int64_t u0, int64_t m) {
    f32x16 acc[LSTM_TILE_ROWS][4];
    f32x16 bias[4] = {{0}};
    if (b_hh) {
        for (int q = 0; q < 4; q++) {
            float v[LSTM_CHUNK] = {0};
            lstm_copy(v, b_hh + q * h + u0, m);
            memcpy(&bias[q], v, sizeof v);
        }
    }
    for (int r = 0; r < R; r++) {
        for (int q = 0; q < 4; q++) {
            float v[LSTM_CHUNK] = {0};
            lstm_copy(v, (rows ? gx + (int64_t) rows[r0 + r] * 4 * h : gx + (r0 + r) * 4 * h) + q * h + u0, m);
            memcpy(&acc[r][q], v, sizeof v);
            acc[r][q] += bias[q];
        }
    }
    if (h_prev) {
        const float *x = h_prev + r0 * h;
        for (int64_t k = 0; k < h; k++) {
            f32x16 w0, w1, w2, w3;
            memcpy(&w0, w + k * 64, sizeof w0);
            memcpy(&w1, w + k * 64 + 16, sizeof w1);
            memcpy(&w2, w + k * 64 + 32, sizeof w2);
            memcpy(&w3, w + k * 64 + 48, sizeof w3);
            for (int r = 0; r < R; r++) {
                const float v = x[r * h + k];
                acc[r][0] += w0 * v;
                acc[r][1] += w1 * v;
                acc[r][2] += w2 * v;
                acc[r][3] += w3 * v;
            }
        }
    }
    /* The cell update over all sixteen lanes (padding lanes compute harmless values), in local arrays
       so that it vectorises; then the unit's m lanes are copied out. */
    for (int r = 0; r < R; r++) {
        float pre[4][LSTM_CHUNK];
        memcpy(pre, acc[r], sizeof pre);
        const int64_t row = r0 + r;
        float cp[LSTM_CHUNK] = {0};
        if (c_prev) lstm_copy(cp, c_prev + row * h + u0, m);
        float out[6][LSTM_CHUNK];
        for (int j = 0; j < LSTM_CHUNK; j++) {
            const float i = lstm_sigmoid(pre[0][j]);
            const float f = lstm_sigmoid(pre[1][j]);
            const float g = lstm_tanh(pre[2][j]);
            const float o = lstm_sigmoid(pre[3][j]);
            const float cc = f * cp[j] + i * g;
            out[0][j] = i;
            out[1][j] = f;
            out[2][j] = g;
            out[3][j] = o;
            out[4][j] = cc;
            out[5][j] = o * lstm_tanh(cc);
        }
        float *a = acts + row * 4 * h + u0;
        for (int q = 0; q < 4; q++) lstm_copy(a + q * h, out[q], m);
        lstm_copy(cs + row * h + u0, out[4], m);
        lstm_copy(y + row * h + u0, out[5], m);
    }
}

/* One forward step of chunks [cb, ce) for rows [rb, re). */
GATUN_AVX512_CLONES
static void lstm_forward_step(const float *gx, const int32_t *rows, const float *b_hh, const float *wf,
                              const float *h_prev, const float *c_prev, float *acts, float *cs, float *y, int64_t h,
                              int64_t rb, int64_t re, int64_t cb, int64_t ce) {
    for (int64_t c = cb; c < ce; c++) {
        const int64_t u0 = c * LSTM_CHUNK;
        const int64_t m = h - u0 < LSTM_CHUNK ? h - u0 : LSTM_CHUNK;
        const float *w = wf + c * h * 4 * LSTM_CHUNK;
        for (int64_t r0 = rb; r0 < re; r0 += LSTM_TILE_ROWS) {
            switch (re - r0 < LSTM_TILE_ROWS ? re - r0 : LSTM_TILE_ROWS) {
            case 4: lstm_forward_tile(4, gx, rows, b_hh, w, h_prev, c_prev, acts, cs, y, h, r0, u0, m); break;
            case 3: lstm_forward_tile(3, gx, rows, b_hh, w, h_prev, c_prev, acts, cs, y, h, r0, u0, m); break;
            case 2: lstm_forward_tile(2, gx, rows, b_hh, w, h_prev, c_prev, acts, cs, y, h, r0, u0, m); break;
            default: lstm_forward_tile(1, gx, rows, b_hh, w, h_prev, c_prev, acts, cs, y, h, r0, u0, m); break;
            }
        }
    }
}

/*
 * The team splits the batch in tiles of LSTM_TILE_ROWS sequences: each thread runs its sequences through
 * every step on its own (all of w_hh packed, read from its cache), with no barrier between steps and no
 * state crossing between cores. With fewer tiles than threads, the spare threads only pack.
 */
void gatun_lstm_train_forward(const float *gx, const int32_t *rows, const float *w_hh, const float *b_hh,
                              const float *h0, const float *c0, float *wf, float *y, float *h_t, float *c_t,
                              float *acts, float *cs, int64_t t, int64_t n, int64_t h) {
    if (t < 1 || n < 1 || h < 1) return;
    const int64_t chunks = lstm_chunks(h);
    const int64_t tiles = (n + LSTM_TILE_ROWS - 1) / LSTM_TILE_ROWS;
#pragma omp parallel if (4 * h * h * n >= GATUN_PARALLEL_MIN)
    {
        int64_t cb, ce, tb, te;
        share(chunks, &cb, &ce);
        share(tiles, &tb, &te);
        for (int64_t c = cb; c < ce; c++) lstm_pack_forward(w_hh, wf, h, c);
        /* Every thread reads every packed chunk. */
#pragma omp barrier
        const int64_t rb = tb * LSTM_TILE_ROWS, re = te * LSTM_TILE_ROWS < n ? te * LSTM_TILE_ROWS : n;
        for (int64_t s = 0; s < t && rb < re; s++) {
            const float *h_prev = s == 0 ? h0 : y + (s - 1) * n * h;
            const float *c_prev = s == 0 ? c0 : cs + (s - 1) * n * h;
            /* gx by step, or the table and this step's rows of it. */
            const float *g = rows ? gx : gx + s * n * 4 * h;
            const int32_t *r = rows ? rows + s * n : 0;
            lstm_forward_step(g, r, b_hh, wf, h_prev, c_prev, acts + s * n * 4 * h, cs + s * n * h, y + s * n * h, h,
                              rb, re, 0, chunks);
        }
        if (rb < re) {
            memcpy(h_t + rb * h, y + ((t - 1) * n + rb) * h, (re - rb) * h * sizeof(float));
            memcpy(c_t + rb * h, cs + ((t - 1) * n + rb) * h, (re - rb) * h * sizeof(float));
        }
    }
}

/*
 * Backward through one step's cell for rows [rb, re), chunks [cb, ce): from dh = dy + dh_rec (the recurrent share) and
 * the carried dc, the gradients of the four gates' pre-activations (dgates, at q·h + u) and dc for the
 * step before.
 */
GATUN_AVX512_CLONES
static void lstm_backward_cell(const float *restrict acts, const float *restrict cs, const float *restrict c_prev,
                               const float *restrict dy, const float *restrict dh_rec, float *restrict dc,
                               float *restrict dgates, int64_t h, int64_t rb, int64_t re, int64_t cb,
                               int64_t ce) {
    for (int64_t b = rb; b < re; b++) {
        for (int64_t c = cb; c < ce; c++) {
            const int64_t u0 = c * LSTM_CHUNK;
            const int64_t m = h - u0 < LSTM_CHUNK ? h - u0 : LSTM_CHUNK;
            const int64_t e = b * h + u0;
            /* Sixteen lanes in local arrays, so that the update vectorises; m of them are copied out. */
            float in[8][LSTM_CHUNK] = {{0}};
            for (int q = 0; q < 4; q++) lstm_copy(in[q], acts + b * 4 * h + q * h + u0, m);
            lstm_copy(in[4], cs + e, m);
            if (c_prev) lstm_copy(in[5], c_prev + e, m);
            lstm_copy(in[6], dy + e, m);
            lstm_copy(in[7], dh_rec + e, m);
            float dcv[LSTM_CHUNK] = {0};
            lstm_copy(dcv, dc + e, m);
            float out[5][LSTM_CHUNK];
            for (int j = 0; j < LSTM_CHUNK; j++) {
                const float i = in[0][j], f = in[1][j], g = in[2][j], o = in[3][j];
                const float dh = in[6][j] + in[7][j];
                const float tc = lstm_tanh(in[4][j]);
                const float dcs = dcv[j] + dh * o * (1.0f - tc * tc);
                out[4][j] = dcs * f;
                out[0][j] = dcs * g * i * (1.0f - i);
                out[1][j] = dcs * in[5][j] * f * (1.0f - f);
                out[2][j] = dcs * i * (1.0f - g * g);
                out[3][j] = dh * tc * o * (1.0f - o);
            }
            lstm_copy(dc + e, out[4], m);
            for (int q = 0; q < 4; q++) lstm_copy(dgates + b * 4 * h + q * h + u0, out[q], m);
        }
    }
}

/* dh_rec for rows [r0, r0 + R), chunks c0..c0+3: dgates · w_hh over the 4h gates. */
static inline __attribute__((always_inline)) void lstm_backward_tile(
        const int R, const float *dgates, const float *wb, float *dh_rec, int64_t h, int64_t r0, int64_t c0,
        int64_t ce) {
    f32x16 acc[LSTM_TILE_ROWS][LSTM_TILE_CHUNKS];
    for (int r = 0; r < R; r++) {
        for (int cc = 0; cc < LSTM_TILE_CHUNKS; cc++) acc[r][cc] = (f32x16) {0};
    }
    const int64_t g4 = 4 * h;
    const float *w = wb + c0 * g4 * LSTM_CHUNK;
    const float *x = dgates + r0 * g4;
    for (int64_t g = 0; g < g4; g++) {
        f32x16 w0, w1, w2, w3;
        memcpy(&w0, w + g * LSTM_CHUNK, sizeof w0);
        memcpy(&w1, w + (g4 + g) * LSTM_CHUNK, sizeof w1);
        memcpy(&w2, w + (2 * g4 + g) * LSTM_CHUNK, sizeof w2);
        memcpy(&w3, w + (3 * g4 + g) * LSTM_CHUNK, sizeof w3);
        for (int r = 0; r < R; r++) {
            const float v = x[r * g4 + g];
            acc[r][0] += w0 * v;
            acc[r][1] += w1 * v;
            acc[r][2] += w2 * v;
            acc[r][3] += w3 * v;
        }
    }
    for (int cc = 0; cc < LSTM_TILE_CHUNKS && c0 + cc < ce; cc++) {
        const int64_t u0 = (c0 + cc) * LSTM_CHUNK;
        const int64_t m = h - u0 < LSTM_CHUNK ? h - u0 : LSTM_CHUNK;
        for (int r = 0; r < R; r++) {
            float out[LSTM_CHUNK];
            memcpy(out, &acc[r][cc], sizeof out);
            lstm_copy(dh_rec + (r0 + r) * h + u0, out, m);
        }
    }
}

/* The recurrent share of dh for rows [rb, re), chunks [cb, ce): dh_rec = dgates · w_hh. */
GATUN_AVX512_CLONES
static void lstm_backward_hidden(const float *dgates, const float *wb, float *dh_rec, int64_t h, int64_t rb,
                                 int64_t re, int64_t cb, int64_t ce) {
    for (int64_t c0 = cb; c0 < ce; c0 += LSTM_TILE_CHUNKS) {
        for (int64_t r0 = rb; r0 < re; r0 += LSTM_TILE_ROWS) {
            switch (re - r0 < LSTM_TILE_ROWS ? re - r0 : LSTM_TILE_ROWS) {
            case 4: lstm_backward_tile(4, dgates, wb, dh_rec, h, r0, c0, ce); break;
            case 3: lstm_backward_tile(3, dgates, wb, dh_rec, h, r0, c0, ce); break;
            case 2: lstm_backward_tile(2, dgates, wb, dh_rec, h, r0, c0, ce); break;
            default: lstm_backward_tile(1, dgates, wb, dh_rec, h, r0, c0, ce); break;
            }
        }
    }
}

/* The team splits the batch as gatun_lstm_train_forward does. */
void gatun_lstm_train_backward(const float *w_hh, const float *acts, const float *cs, const float *c0,
                               const float *dy, const float *dh_t, const float *dc_t, float *wb, float *dgates,
                               float *dh0, float *dc0, int64_t t, int64_t n, int64_t h) {
    if (t < 1 || n < 1 || h < 1) return;
    const int64_t chunks = lstm_chunks(h);
    const int64_t packed = chunks + LSTM_TILE_CHUNKS - 1;
    const int64_t tiles = (n + LSTM_TILE_ROWS - 1) / LSTM_TILE_ROWS;
#pragma omp parallel if (4 * h * h * n >= GATUN_PARALLEL_MIN)
    {
        int64_t pb, pe, tb, te;
        share(packed, &pb, &pe);
        share(tiles, &tb, &te);
        for (int64_t c = pb; c < pe; c++) lstm_pack_backward(w_hh, wb, h, c);
        /* Every thread reads every packed chunk. */
#pragma omp barrier
        const int64_t rb = tb * LSTM_TILE_ROWS, re = te * LSTM_TILE_ROWS < n ? te * LSTM_TILE_ROWS : n;
        if (rb < re) {
            /* dh0 carries the recurrent share of dh from step to step, dc0 the cell's gradient. */
            const size_t bytes = (re - rb) * h * sizeof(float);
            if (dh_t) memcpy(dh0 + rb * h, dh_t + rb * h, bytes); else memset(dh0 + rb * h, 0, bytes);
            if (dc_t) memcpy(dc0 + rb * h, dc_t + rb * h, bytes); else memset(dc0 + rb * h, 0, bytes);
            for (int64_t s = t - 1; s >= 0; s--) {
                const float *c_prev = s == 0 ? c0 : cs + (s - 1) * n * h;
                float *dg = dgates + s * n * 4 * h;
                lstm_backward_cell(acts + s * n * 4 * h, cs + s * n * h, c_prev, dy + s * n * h, dh0, dc0, dg, h, rb,
                                   re, 0, chunks);
                lstm_backward_hidden(dg, wb, dh0, h, rb, re, 0, chunks);
            }
        }
    }
}

/* dst[rows[k]] += src[k] over columns [jb, je), rows in order k = 0, 1, ... */
GATUN_AVX512_CLONES
static void rows_scatter_add_range(const float *restrict src, const int32_t *rows, float *restrict dst, int64_t count,
                                   int64_t width, int64_t jb, int64_t je) {
    for (int64_t k = 0; k < count; k++) {
        const float *a = src + k * width;
        float *b = dst + (int64_t) rows[k] * width;
        for (int64_t j = jb; j < je; j++) b[j] += a[j];
    }
}

void gatun_rows_scatter_add(const float *src, const int32_t *rows, float *dst, int64_t count, int64_t width) {
    if (count < 1 || width < 1) return;
    const int64_t blocks = (width + 15) / 16;
#pragma omp parallel if (count * width >= GATUN_PARALLEL_MIN)
    {
        int64_t bb, be;
        share(blocks, &bb, &be);
        const int64_t jb = bb * 16, je = be * 16 < width ? be * 16 : width;
        if (jb < je) rows_scatter_add_range(src, rows, dst, count, width, jb, je);
    }
}

/* ---------------------------------------------------------------- softmax cross-entropy */

/* Rows [rb, re): probabilities p and each row's loss (the same e^x as the LSTM's gates). */
GATUN_AVX512_CLONES
static void softmax_ce_rows(const float *restrict z, const int32_t *restrict y, float *restrict p,
                            double *restrict loss, int64_t rb, int64_t re, int64_t classes, float smoothing) {
    for (int64_t r = rb; r < re; r++) {
        const float *zr = z + r * classes;
        float *pr = p + r * classes;
        float mx = -__builtin_inff();
        int nan = 0;
        for (int64_t k = 0; k < classes; k++) {
            mx = zr[k] > mx ? zr[k] : mx;
            nan |= zr[k] != zr[k];
        }
        if (nan) mx = __builtin_nanf("");
        double sum = 0;
        for (int64_t k = 0; k < classes; k++) {
            const float e = lstm_exp(zr[k] - mx);
            pr[k] = e;
            sum += e;
        }
        const double logSum = __builtin_log(sum) + mx;
        const float inv = (float) (1 / sum);
        double sumLogp = 0;
        for (int64_t k = 0; k < classes; k++) {
            sumLogp += zr[k] - logSum;
            pr[k] *= inv;
        }
        loss[r] = -((1.0 - smoothing) * (zr[y[r]] - logSum) + (double) smoothing / classes * sumLogp);
    }
}

void gatun_softmax_cross_entropy(const float *z, const int32_t *y, float *p, double *row_loss, int64_t rows,
                                 int64_t classes, float smoothing) {
    if (rows < 1 || classes < 1) return;
#pragma omp parallel if (rows * classes >= GATUN_PARALLEL_MIN)
    {
        int64_t rb, re;
        share(rows, &rb, &re);
        if (rb < re) softmax_ce_rows(z, y, p, row_loss, rb, re, classes, smoothing);
    }
}

GATUN_AVX512_CLONES
static void softmax_ce_backward_rows(const float *restrict p, const int32_t *restrict y, float *restrict dz,
                                     int64_t rb, int64_t re, int64_t classes, float smoothing, double scale) {
    const double spread = (double) smoothing / classes;
    for (int64_t r = rb; r < re; r++) {
        const float *pr = p + r * classes;
        float *dr = dz + r * classes;
        for (int64_t k = 0; k < classes; k++) dr[k] = (float) ((pr[k] - spread) * scale);
        dr[y[r]] = (float) ((pr[y[r]] - (1.0 - smoothing) - spread) * scale);
    }
}

void gatun_softmax_cross_entropy_backward(const float *p, const int32_t *y, float *dz, int64_t rows,
                                          int64_t classes, float smoothing, double scale) {
    if (rows < 1 || classes < 1) return;
#pragma omp parallel if (rows * classes >= GATUN_PARALLEL_MIN)
    {
        int64_t rb, re;
        share(rows, &rb, &re);
        if (rb < re) softmax_ce_backward_rows(p, y, dz, rb, re, classes, smoothing, scale);
    }
}

/* ---------------------------------------------------------------- binary cross-entropy on logits */

/*
 * log(1 + e) for e in [0, 1]: Cephes' logf polynomial on u = 1 + e, scaled by e / (u − 1) to undo the
 * rounding of u (so that small e keep their digits).
 */
static inline float bce_log1p(float e) {
    const float u = 1.0f + e;
    const int big = u > 1.41421356f;
    const float m = big ? u * 0.5f : u;
    const float k = big ? 1.0f : 0.0f;
    const float x = m - 1.0f;
    const float z = x * x;
    float y = ((((((((7.0376836292E-2f * x - 1.1514610310E-1f) * x + 1.1676998740E-1f) * x - 1.2420140846E-1f) * x
            + 1.4249322787E-1f) * x - 1.6668057665E-1f) * x + 2.0000714765E-1f) * x - 2.4999993993E-1f) * x
            + 3.3333331174E-1f) * x * z;
    y += k * -2.12194440e-4f;
    y += -0.5f * z;
    const float r = x + y + k * 0.693359375f;
    const float d = u - 1.0f;
    return d == 0.0f ? e : r * (e / d);
}

/* Blocks [bb, be): each block's sum of max(z, 0) − z·t + log(1 + e^−|z|) (in double, in order), and σ(z). */
GATUN_AVX512_CLONES
static void bce_blocks(const float *restrict z, const float *restrict t, float *restrict sig, double *restrict sums,
                       int64_t n, int64_t bb, int64_t be) {
    float loss[GATUN_LOSS_BLOCK];
    for (int64_t b = bb; b < be; b++) {
        const int64_t i0 = b * GATUN_LOSS_BLOCK;
        const int64_t m = n - i0 < GATUN_LOSS_BLOCK ? n - i0 : GATUN_LOSS_BLOCK;
        for (int64_t j = 0; j < m; j++) {
            const float zi = z[i0 + j];
            const float e = lstm_exp(-__builtin_fabsf(zi));
            loss[j] = (zi > 0.0f ? zi : 0.0f) - zi * t[i0 + j] + bce_log1p(e);
            const float inv = 1.0f / (1.0f + e);
            sig[i0 + j] = zi >= 0.0f ? inv : e * inv;
        }
        double s = 0;
        for (int64_t j = 0; j < m; j++) s += loss[j];
        sums[b] = s;
    }
}

void gatun_bce_with_logits(const float *z, const float *t, float *sig, double *block_sums, int64_t n) {
    if (n < 1) return;
    const int64_t blocks = (n + GATUN_LOSS_BLOCK - 1) / GATUN_LOSS_BLOCK;
#pragma omp parallel if (n >= GATUN_PARALLEL_MIN)
    {
        int64_t bb, be;
        share(blocks, &bb, &be);
        if (bb < be) bce_blocks(z, t, sig, block_sums, n, bb, be);
    }
}

GATUN_VECTOR_CLONES

/* Blocks [bb, be) of gatun_squared_error. */
GATUN_VECTOR_CLONES
static void squared_error_blocks(const float *restrict p, const float *restrict t, double *restrict sums, int64_t n,
                                 int64_t bb, int64_t be) {
    for (int64_t b = bb; b < be; b++) {
        const int64_t i0 = b * GATUN_LOSS_BLOCK;
        const int64_t m = n - i0 < GATUN_LOSS_BLOCK ? n - i0 : GATUN_LOSS_BLOCK;
        double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int64_t j = 0;
        for (; j + 8 <= m; j += 8) {
            for (int k = 0; k < 8; k++) {
                const double d = (double) p[i0 + j + k] - (double) t[i0 + j + k];
                lane[k] += d * d;
            }
        }
        for (int k = 0; j < m; j++, k++) {
            const double d = (double) p[i0 + j] - (double) t[i0 + j];
            lane[k] += d * d;
        }
        sums[b] = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    }
}

void gatun_squared_error(const float *p, const float *t, double *block_sums, int64_t n) {
    if (n < 1) return;
    const int64_t blocks = (n + GATUN_LOSS_BLOCK - 1) / GATUN_LOSS_BLOCK;
#pragma omp parallel if (n >= GATUN_PARALLEL_MIN)
    {
        int64_t bb, be;
        share(blocks, &bb, &be);
        if (bb < be) squared_error_blocks(p, t, block_sums, n, bb, be);
    }
}

GATUN_VECTOR_CLONES
static void scaled_difference_range(const float *restrict a, const float *restrict b, float *restrict out, float scale,
                                    int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) out[i] = (a[i] - b[i]) * scale;
}

void gatun_scaled_difference(const float *a, const float *b, float *out, int64_t n, float scale) {
    if (n < 1) return;
#pragma omp parallel if (n >= GATUN_PARALLEL_MIN)
    {
        int64_t begin, end;
        share(n, &begin, &end);
        if (begin < end) scaled_difference_range(a, b, out, scale, begin, end);
    }
}

#pragma GCC pop_options

void gatun_lstm_inference(const float *gx, const float *w_hh, const float *b_hh, const float *h0, const float *c0,
                          float *y, float *h_t, float *c_t, int64_t t, int64_t n, int64_t h) {
    if (t < 1 || n < 1 || h < 1) return;
#pragma omp parallel if (4 * h * h * n >= GATUN_PARALLEL_MIN)
    {
        int64_t cb, ce;
        share((h + LSTM_CHUNK - 1) / LSTM_CHUNK, &cb, &ce);
        const int64_t ub = cb * LSTM_CHUNK, ue = ce * LSTM_CHUNK < h ? ce * LSTM_CHUNK : h;
        for (int64_t b = 0; b < n; b++) {
            for (int64_t u = ub; u < ue; u++) c_t[b * h + u] = c0 ? c0[b * h + u] : 0.0f;
        }
        for (int64_t s = 0; s < t; s++) {
            const float *h_prev = s == 0 ? h0 : y + (s - 1) * n * h;
            lstm_step(gx + s * n * 4 * h, w_hh, b_hh, h_prev, c_t, y + s * n * h, n, h, ub, ue);
            /* The next step reads every unit of this step's h. */
#pragma omp barrier
        }
        for (int64_t b = 0; b < n; b++) {
            for (int64_t u = ub; u < ue; u++) h_t[b * h + u] = y[(t - 1) * n * h + b * h + u];
        }
    }
}

/*
 * y = W·x + b over blocks of 16 output features (see GATUN_CALL_MATVEC): groups of four blocks, each read
 * once per call while x is broadcast, two inputs at a time into two sums per output (even and odd
 * inputs) added at the end. The order of the sums does not depend on the group, so a block gives the same
 * values in a group of four or alone.
 */
typedef float gatun_v16 __attribute__((vector_size(64), aligned(4)));
typedef int32_t gatun_vi16 __attribute__((vector_size(64), aligned(4)));

#define GATUN_MATVEC_GROUP 4

static inline __attribute__((always_inline)) void gatun_matvec_group(const float *x, const float *w,
                                                                       const float *bias, float *y, int64_t in,
                                                                       int64_t out, int32_t relu, int64_t b0,
                                                                       const int nb) {
    gatun_v16 even[GATUN_MATVEC_GROUP];
    gatun_v16 odd[GATUN_MATVEC_GROUP];
    for (int k = 0; k < nb; k++) {
        even[k] = (gatun_v16) {0};
        odd[k] = (gatun_v16) {0};
    }
    const float *p = w + b0 * in * 16;
    int64_t i = 0;
    for (; i + 1 < in; i += 2) {
        float xe = x[i];
        float xo = x[i + 1];
#pragma GCC unroll 4
        for (int k = 0; k < nb; k++) {
            const float *q = p + (k * in + i) * 16;
            even[k] += *(const gatun_v16 *) q * xe;
            odd[k] += *(const gatun_v16 *) (q + 16) * xo;
        }
    }
    if (i < in) {
        float xe = x[i];
        for (int k = 0; k < nb; k++) {
            even[k] += *(const gatun_v16 *) (p + (k * in + i) * 16) * xe;
        }
    }
    for (int k = 0; k < nb; k++) {
        gatun_v16 v = even[k] + odd[k];
        int64_t o0 = (b0 + k) * 16;
        if (bias != NULL) {
            v += *(const gatun_v16 *) (bias + o0);
        }
        if (relu) {
            /* NaN stays NaN, as in the layers' ReLU. */
            gatun_vi16 keep = (v > 0) | (v != v);
            v = (gatun_v16) ((gatun_vi16) v & keep);
        }
        int64_t lanes = out - o0 < 16 ? out - o0 : 16;
        if (lanes == 16) {
            *(gatun_v16 *) (y + o0) = v;
        } else {
            for (int64_t l = 0; l < lanes; l++) {
                y[o0 + l] = v[l];
            }
        }
    }
}

__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"), noinline))
static void gatun_matvec(const float *x, const float *w, const float *bias, float *y, int64_t in, int64_t out,
                         int32_t relu, int32_t reverse) {
    int64_t blocks = (out + 15) / 16;
    int64_t groups = (blocks + GATUN_MATVEC_GROUP - 1) / GATUN_MATVEC_GROUP;
    for (int64_t gi = 0; gi < groups; gi++) {
        int64_t g = reverse ? groups - 1 - gi : gi;
        int64_t b0 = g * GATUN_MATVEC_GROUP;
        if (blocks - b0 >= GATUN_MATVEC_GROUP) {
            gatun_matvec_group(x, w, bias, y, in, out, relu, b0, GATUN_MATVEC_GROUP);
        } else {
            for (int64_t b = b0; b < blocks; b++) {
                gatun_matvec_group(x, w, bias, y, in, out, relu, b, 1);
            }
        }
    }
}

/* One call of a program (see gatun_run_primitives): 0 or its failing status. */
static int32_t gatun_run_call(int64_t c, int t, void *const *primitives, void *const *streams,
                              const int32_t *nargs, void *const *args) {
    if (primitives[c] == NULL) {
        return dnnl_success;
    }
    if (nargs[c] == GATUN_CALL_MAX_POOL) {
        const int64_t *q = (const int64_t *) args[c];
        gatun_max_pool_blocked_forward((const float *) (intptr_t) q[0], (float *) (intptr_t) q[1], NULL,
                                       (int32_t) q[2], (int32_t) q[3], q[4], q[5], q[6], q[7], q[8], q[9],
                                       (int32_t) q[10], (int32_t) q[11], (int32_t) q[12], (int32_t) q[13],
                                       (int32_t) q[14], (int32_t) q[15], (int32_t) q[16], (int32_t) q[17]);
        return dnnl_success;
    }
    if (nargs[c] == GATUN_CALL_MATVEC) {
        int64_t *q = (int64_t *) args[c];
        gatun_matvec((const float *) (intptr_t) q[0], (const float *) (intptr_t) q[2],
                     (const float *) (intptr_t) q[3], (float *) (intptr_t) q[1], q[4], q[5], (int32_t) q[6],
                     (int32_t) q[7]);
        q[7] = !q[7];
        return dnnl_success;
    }
    dnnl_status_t st = dnnl_primitive_execute((const_dnnl_primitive_t) primitives[c], (dnnl_stream_t) streams[t],
                                              nargs[c], (const dnnl_exec_arg_t *) args[c]);
    if (st == dnnl_success) {
        st = dnnl_stream_wait((dnnl_stream_t) streams[t]);
    }
    return st;
}

/* Shared steps [first, last) of a program, and where a failure is recorded. */
struct gatun_shared_run {
    int32_t first, last, threads;
    void *const *primitives;
    void *const *streams;
    const int32_t *nargs;
    void *const *args;
    int32_t *status;
    int32_t *failed;
};

static void gatun_record_failure(const struct gatun_shared_run *r, int32_t step, int32_t st) {
    int32_t expected = dnnl_success;
    if (__atomic_compare_exchange_n(r->status, &expected, st, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        __atomic_store_n(r->failed, step, __ATOMIC_SEQ_CST);
    }
}

/*
 * Workers of gatun's own: threads that wait for a share of a program's shared steps and spin for a while
 * after each, so that a program run again soon finds them awake. Forming and joining an OpenMP team and
 * its barriers cost about 6 µs a run on a 2-core virtual machine, more than the whole work of a small
 * model's batch-1 pass; handing a run to a spinning worker and meeting it at a barrier costs well under
 * one. A caller takes free workers for a run and gives them back after it; when too few are free (other
 * callers hold them; there are at most as many as processors), or a thread cannot be started, the run
 * forms an OpenMP team as before.
 * GATUN_WORKERS=0 in the environment turns them off.
 */
#define GATUN_WORKERS_MAX 63
/* How long an idle worker spins before it sleeps, in microseconds (GATUN_WORKER_SPIN_US overrides it). */
#define GATUN_WORKER_SPIN_US 20

struct gatun_team_barrier {
    _Alignas(64) int32_t count;
    _Alignas(64) uint32_t generation;
};

struct gatun_team_job {
    struct gatun_shared_run run;
    struct gatun_team_barrier barrier;
    int32_t team;
};

struct gatun_worker {
    _Alignas(64) uint32_t posted;   /* futex word: incremented by the caller for each job */
    int32_t sleeping;
    _Alignas(64) uint32_t finished; /* the last job finished */
    _Alignas(64) int32_t taken;     /* held by a caller */
    struct gatun_team_job *job;
    int32_t self;                   /* the worker's thread number in its job */
    int32_t started;                /* 1 running, -1 could not start */
};

static struct gatun_worker gatun_workers[GATUN_WORKERS_MAX];
static pthread_mutex_t gatun_workers_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t gatun_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static inline void gatun_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Spins until *word differs from value; yields the core after a while (its holder may be descheduled). */
static void gatun_spin_while_equal(const uint32_t *word, uint32_t value) {
    for (uint32_t n = 0; __atomic_load_n(word, __ATOMIC_ACQUIRE) == value; n++) {
        if (n >= 4096) {
            sched_yield();
        } else {
            gatun_pause();
        }
    }
}

static void gatun_team_wait(struct gatun_team_barrier *b, int32_t team) {
    uint32_t generation = __atomic_load_n(&b->generation, __ATOMIC_ACQUIRE);
    if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == team) {
        __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&b->generation, generation + 1, __ATOMIC_RELEASE);
    } else {
        gatun_spin_while_equal(&b->generation, generation);
    }
}

/* Thread self's calls of every step of a job, a barrier after each but the last. */
static void gatun_team_part(struct gatun_team_job *job, int32_t self) {
    const struct gatun_shared_run *r = &job->run;
    for (int32_t s = r->first; s < r->last; s++) {
        if (__atomic_load_n(r->status, __ATOMIC_ACQUIRE) == dnnl_success) {
            int32_t st = gatun_run_call((int64_t) s * r->threads + self, self, r->primitives, r->streams,
                                        r->nargs, r->args);
            if (st != dnnl_success) {
                gatun_record_failure(r, s, st);
            }
        }
        if (s + 1 < r->last) {
            gatun_team_wait(&job->barrier, job->team);
        }
    }
}

static int64_t gatun_worker_spin_ns(void) {
    const char *v = getenv("GATUN_WORKER_SPIN_US");
    char *end = NULL;
    long us = v != NULL ? strtol(v, &end, 10) : -1;
    if (v == NULL || end == v || *end != '\0' || us < 0 || us > 1000000) {
        us = GATUN_WORKER_SPIN_US;
    }
    return (int64_t) us * 1000;
}

static void *gatun_worker_main(void *arg) {
    struct gatun_worker *w = (struct gatun_worker *) arg;
    const int64_t spin_ns = gatun_worker_spin_ns();
    /* Primitives of shared steps are planned for one thread; run them on this one alone. */
    omp_set_num_threads(1);
    /* No job is posted before the worker is started: the first one makes `posted` 1, perhaps already. */
    uint32_t seen = 0;
    for (;;) {
        int64_t since = gatun_now_ns();
        for (uint32_t n = 0; __atomic_load_n(&w->posted, __ATOMIC_ACQUIRE) == seen; n++) {
            gatun_pause();
            if ((n & 255) == 255 && gatun_now_ns() - since > spin_ns) {
                __atomic_store_n(&w->sleeping, 1, __ATOMIC_SEQ_CST);
                if (__atomic_load_n(&w->posted, __ATOMIC_SEQ_CST) == seen) {
                    syscall(SYS_futex, &w->posted, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
                }
                __atomic_store_n(&w->sleeping, 0, __ATOMIC_SEQ_CST);
                since = gatun_now_ns();
            }
        }
        seen = __atomic_load_n(&w->posted, __ATOMIC_ACQUIRE);
        gatun_team_part(w->job, w->self);
        __atomic_store_n(&w->finished, seen, __ATOMIC_RELEASE);
    }
    return NULL;
}

static int gatun_workers_enabled(void) {
    static int enabled = -1;
    int e = __atomic_load_n(&enabled, __ATOMIC_RELAXED);
    if (e < 0) {
        const char *v = getenv("GATUN_WORKERS");
        e = !(v != NULL && strcmp(v, "0") == 0);
        __atomic_store_n(&enabled, e, __ATOMIC_RELAXED);
    }
    return e;
}

/* How many workers there may be: one per processor online (spinning threads beyond that only contend). */
static int gatun_workers_limit(void) {
    static int limit = 0;
    int l = __atomic_load_n(&limit, __ATOMIC_RELAXED);
    if (l == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        l = cpus < 1 ? 1 : cpus > GATUN_WORKERS_MAX ? GATUN_WORKERS_MAX : (int) cpus;
        __atomic_store_n(&limit, l, __ATOMIC_RELAXED);
    }
    return l;
}

/* Takes `count` free workers into held[], starting them if need be; 0 (and none held) when it cannot. */
static int gatun_take_workers(int32_t count, struct gatun_worker **held) {
    int32_t got = 0;
    int limit = gatun_workers_limit();
    for (int i = 0; i < limit && got < count; i++) {
        struct gatun_worker *w = &gatun_workers[i];
        int32_t free_ = 0;
        if (__atomic_load_n(&w->started, __ATOMIC_ACQUIRE) < 0
            || !__atomic_compare_exchange_n(&w->taken, &free_, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
            continue;
        }
        if (__atomic_load_n(&w->started, __ATOMIC_ACQUIRE) == 0) {
            pthread_mutex_lock(&gatun_workers_lock);
            if (w->started == 0) {
                /*
                 * The worker starts with every asynchronous signal blocked for good, as OpenMP's threads
                 * run in gatun (see dev.gatun.backend.Signals): a JVM's signals are for its own threads.
                 */
                sigset_t all;
                sigset_t old;
                sigfillset(&all);
                const int faults[] = {SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV, SIGSYS};
                for (size_t k = 0; k < sizeof faults / sizeof faults[0]; k++) {
                    sigdelset(&all, faults[k]);
                }
                pthread_t thread;
                pthread_attr_t attr;
                int ok = pthread_attr_init(&attr) == 0;
                ok = ok && pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0;
                ok = ok && pthread_sigmask(SIG_BLOCK, &all, &old) == 0;
                if (ok) {
                    ok = pthread_create(&thread, &attr, gatun_worker_main, w) == 0;
                    pthread_sigmask(SIG_SETMASK, &old, NULL);
                }
                pthread_attr_destroy(&attr);
                __atomic_store_n(&w->started, ok ? 1 : -1, __ATOMIC_RELEASE);
            }
            pthread_mutex_unlock(&gatun_workers_lock);
            if (__atomic_load_n(&w->started, __ATOMIC_ACQUIRE) < 0) {
                __atomic_store_n(&w->taken, 0, __ATOMIC_RELEASE);
                continue;
            }
        }
        held[got++] = w;
    }
    if (got < count) {
        for (int32_t i = 0; i < got; i++) {
            __atomic_store_n(&held[i]->taken, 0, __ATOMIC_RELEASE);
        }
        return 0;
    }
    return 1;
}

/* Runs the steps on the caller and threads - 1 workers; 0 when too few workers could be had. */
static int gatun_run_on_workers(const struct gatun_shared_run *r) {
    struct gatun_worker *held[GATUN_WORKERS_MAX];
    int32_t helpers = r->threads - 1;
    if (helpers < 1 || helpers > GATUN_WORKERS_MAX || !gatun_workers_enabled() || !gatun_take_workers(helpers, held)) {
        return 0;
    }
    struct gatun_team_job job;
    memset(&job, 0, sizeof job);
    job.run = *r;
    job.team = r->threads;
    uint32_t tickets[GATUN_WORKERS_MAX];
    for (int32_t i = 0; i < helpers; i++) {
        struct gatun_worker *w = held[i];
        w->job = &job;
        w->self = i + 1;
        tickets[i] = __atomic_add_fetch(&w->posted, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&w->sleeping, __ATOMIC_SEQ_CST)) {
            syscall(SYS_futex, &w->posted, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
        }
    }
    int before = omp_get_max_threads();
    omp_set_num_threads(1);
    gatun_team_part(&job, 0);
    omp_set_num_threads(before);
    for (int32_t i = 0; i < helpers; i++) {
        gatun_spin_while_equal(&held[i]->finished, tickets[i] - 1);
        __atomic_store_n(&held[i]->taken, 0, __ATOMIC_RELEASE);
    }
    return 1;
}

/* Steps [first, last) of a program, all shared out: on workers, in one OpenMP region, or on the caller
 * when only thread 0 has work. */
static void gatun_run_shared(int32_t first, int32_t last, int32_t threads, void *const *primitives,
                             void *const *streams, const int32_t *nargs, void *const *args, int32_t *status,
                             int32_t *failed, int workers) {
    int alone = 1;
    for (int64_t c = (int64_t) first * threads; alone && c < (int64_t) last * threads; c++) {
        alone = c % threads == 0 || primitives[c] == NULL;
    }
    if (alone || threads == 1) {
        /* On the caller alone: oneDNN's reorders and the like choose their team when run. */
        int before = omp_get_max_threads();
        omp_set_num_threads(1);
        for (int32_t s = first; s < last && *status == dnnl_success; s++) {
            for (int t = 0; t < threads && *status == dnnl_success; t++) {
                int32_t st = gatun_run_call((int64_t) s * threads + t, t, primitives, streams, nargs, args);
                if (st != dnnl_success) {
                    *status = st;
                    *failed = s;
                }
            }
        }
        omp_set_num_threads(before);
        return;
    }
    struct gatun_shared_run r = {first, last, threads, primitives, streams, nargs, args, status, failed};
    if (workers && !omp_in_parallel() && gatun_run_on_workers(&r)) {
        return;
    }
#pragma omp parallel num_threads(threads)
    {
        int self = omp_get_thread_num();
        int team = omp_get_num_threads();
        for (int32_t s = first; s < last; s++) {
            int32_t stop;
#pragma omp atomic read
            stop = *status;
            /* Every thread meets every barrier, so after a failure the rest is skipped, not left. */
            for (int t = self; stop == dnnl_success && t < threads; t += team) {
                int32_t st = gatun_run_call((int64_t) s * threads + t, t, primitives, streams, nargs, args);
                if (st != dnnl_success) {
                    gatun_record_failure(&r, s, st);
                }
            }
#pragma omp barrier
        }
    }
}

int32_t gatun_run_primitives(int32_t steps, int32_t threads, void *const *primitives, void *const *streams,
                             const int32_t *nargs, void *const *args, const int8_t *team, int32_t *failed_step) {
    int32_t status = dnnl_success;
    int32_t failed = -1;
    /*
     * A program with team steps runs its shared steps on OpenMP teams too: spinning workers of gatun's
     * beside OpenMP's spinning threads would take the processors from each other (five times slower,
     * measured on 2 cores).
     */
    int workers = 1;
    for (int32_t k = 0; k < steps; k++) {
        workers &= !team[k];
    }
    int32_t s = 0;
    while (s < steps && status == dnnl_success) {
        if (team[s]) {
            status = gatun_run_call((int64_t) s * threads, 0, primitives, streams, nargs, args);
            if (status != dnnl_success) {
                failed = s;
            }
            s++;
            continue;
        }
        int32_t end = s;
        while (end < steps && !team[end]) {
            end++;
        }
        gatun_run_shared(s, end, threads, primitives, streams, nargs, args, &status, &failed, workers);
        s = end;
    }
    if (status != dnnl_success && failed_step != NULL) {
        *failed_step = failed;
    }
    return status;
}
