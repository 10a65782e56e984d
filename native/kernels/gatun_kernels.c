/* gatun's own native kernels; see gatun_kernels.h. */
#include "gatun_kernels.h"

#include <math.h>

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
