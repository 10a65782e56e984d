/*
 * Times gatun_conv_backward_weights_plain_src, the weight gradient of a convolution that reads a plain input
 * of few channels and writes its output in channel blocks, on the shapes gatun runs it on: LeNet-5's first
 * layer (1 → 20, 5×5, padding 2, 28×28, batch 64) in 8- and 16-channel blocks, the DCGAN discriminator's
 * first layer (1 → 64, 4×4, stride 2, padding 1, batch 64) and the ResNet row's stem (3 → 32, 3×3, padding
 * 1, 32×32, batch 32); prints the best of 100 calls, its rate and a sum of the weights' gradient (which a
 * change of the kernel's schedule must not move). Used by bench/results/avx512.md.
 *
 *   bash scripts/build-kernels /tmp/kernels
 *   gcc -O2 -Inative/kernels bench/native/conv_weight_gradient.c /tmp/kernels/libgatun_kernels.so \
 *       -Wl,-rpath,/tmp/kernels -o /tmp/conv_weight_gradient
 *   OMP_NUM_THREADS=2 /tmp/conv_weight_gradient
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_util.h"
#include "gatun_kernels.h"

/* One square convolution: n images of c channels, ih × ih, o filters k × k, stride s, padding p. */
static void run(const char *name, int lanes, int n, int c, int ih, int o, int k, int s, int p) {
    const int oh = (ih + 2 * p - k) / s + 1, blocks = (o + lanes - 1) / lanes;
    float *src = filled((int64_t) n * c * ih * ih, 1), *diff_dst = filled((int64_t) n * blocks * lanes * oh * oh, 1);
    float *diff_weights = filled((int64_t) o * c * k * k, 1), *diff_bias = filled(o, 1);
    double best = 1e9, sum = 0;
    for (int r = 0; r < 100; r++) {
        const double t = now();
        if (gatun_conv_backward_weights_plain_src(src, diff_dst, diff_weights, diff_bias, lanes, n, c, ih, ih, o, oh,
                                                  oh, k, k, s, s, p, p, 1, 1) != 0) {
            fprintf(stderr, "%s: the kernel failed\n", name);
            exit(1);
        }
        const double e = now() - t;
        if (e < best) best = e;
    }
    for (int i = 0; i < o * c * k * k; i++) sum += diff_weights[i];
    printf("%-28s %2d lanes: best %.3f ms (%.0f GFLOP/s), sum %.6g\n", name, lanes, best * 1e3,
           2.0 * n * o * oh * oh * c * k * k / best / 1e9, sum);
    free(src);
    free(diff_dst);
    free(diff_weights);
    free(diff_bias);
}

int main(void) {
    run("LeNet-5 conv1 1->20 5x5", 8, 64, 1, 28, 20, 5, 1, 2);
    run("LeNet-5 conv1 1->20 5x5", 16, 64, 1, 28, 20, 5, 1, 2);
    run("DCGAN D conv1 1->64 4x4 s2", 16, 64, 1, 28, 64, 4, 2, 1);
    run("ResNet stem 3->32 3x3", 16, 32, 3, 32, 32, 3, 1, 1);
    run("ResNet stem 3->32 3x3", 8, 32, 3, 32, 32, 3, 1, 1);
    return 0;
}
