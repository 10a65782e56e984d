/*
 * What the timing programs in bench/native share: a monotonic clock, aligned buffers of random floats and,
 * in a program that includes oneDNN's header before this one, CHECK, which stops on a failed oneDNN call.
 */
#ifndef GATUN_BENCH_UTIL_H
#define GATUN_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* count floats, uniform in [−scale/2, scale/2) (from rand(), so the same on every run), 64-byte aligned. */
static inline float *filled(int64_t count, float scale) {
    float *p = aligned_alloc(64, ((size_t) count * sizeof(float) + 63) / 64 * 64);
    for (int64_t i = 0; i < count; i++) p[i] = scale * ((float) rand() / (float) RAND_MAX - 0.5f);
    return p;
}

#ifdef ONEAPI_DNNL_DNNL_H
#define CHECK(x)                                                                                                       \
    do {                                                                                                               \
        dnnl_status_t status_ = (x);                                                                                   \
        if (status_ != dnnl_success) {                                                                                 \
            fprintf(stderr, "%s failed: %d\n", #x, (int) status_);                                                     \
            exit(1);                                                                                                   \
        }                                                                                                              \
    } while (0)
#endif

#endif
