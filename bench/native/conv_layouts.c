/*
 * Times oneDNN 2.6's convolution and deconvolution passes on the DCGAN's two large layers
 * (dcgan_train_b64: the discriminator's 64 → 128 convolution, 4×4 stride 2 padding 1 on 14×14, and the
 * generator's 128 → 64 transposed one on 7×7), activations in 16-channel blocks (nChw16c, what gatun's
 * blocked layers use) and channels-last (nhwc), weights in the layout each primitive picks; prints the
 * implementation oneDNN chose, the best of 60 runs and its rate. Used by bench/results/attention-and-losses.md.
 * Then LeNet-5's 20 → 50 convolution (5×5, padding 2, 14×14, batch 64) beside the 50 → 20 one whose forward
 * pass computes the same products as the first one's backward-data pass (weights transposed and flipped),
 * in both layouts. Used by bench/results/conv-layouts.md.
 *
 *   gcc -O2 bench/native/conv_layouts.c -ldnnl -o /tmp/conv_layouts
 *   OMP_NUM_THREADS=2 /tmp/conv_layouts
 */
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench_util.h"

#define RUNS 60

static dnnl_engine_t engine;
static dnnl_stream_t stream;

static dnnl_memory_t memory(const dnnl_memory_desc_t *md) {
    dnnl_memory_t m;
    CHECK(dnnl_memory_create(&m, md, engine, DNNL_MEMORY_ALLOCATE));
    return m;
}

/* Runs a pass RUNS times (with a scratchpad when it wants one) and prints its best time. */
static void time_pass(dnnl_primitive_desc_t pd, dnnl_exec_arg_t *args, int nargs, const char *name, double flops) {
    const char *impl;
    CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
    dnnl_primitive_t p;
    CHECK(dnnl_primitive_create(&p, pd));
    dnnl_exec_arg_t all[4];
    memcpy(all, args, nargs * sizeof *args);
    const dnnl_memory_desc_t *scratch = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    dnnl_memory_t scratch_memory = NULL;
    if (scratch && scratch->ndims) {
        scratch_memory = memory(scratch);
        all[nargs].arg = DNNL_ARG_SCRATCHPAD;
        all[nargs].memory = scratch_memory;
        nargs++;
    }
    double best = 1e9;
    for (int i = 0; i < RUNS; i++) {
        double t0 = now();
        CHECK(dnnl_primitive_execute(p, stream, nargs, all));
        CHECK(dnnl_stream_wait(stream));
        double t = now() - t0;
        if (t < best) best = t;
    }
    printf("  %-9s %-22s %.3f ms  %.0f GFLOP/s\n", name, impl, best * 1e3, flops / best / 1e9);
    dnnl_primitive_destroy(p);
    if (scratch_memory) dnnl_memory_destroy(scratch_memory);
}

/* Forward, backward-data and backward-weights of one layer in one activation layout. */
static void layer(int mb, int ic, int oc, int ih, int k, int s, int p, dnnl_format_tag_t tag, int transposed) {
    int oh = transposed ? (ih - 1) * s - 2 * p + k : (ih + 2 * p - k) / s + 1;
    dnnl_dims_t src_dims = {mb, ic, ih, ih}, dst_dims = {mb, oc, oh, oh}, weight_dims = {oc, ic, k, k};
    dnnl_dims_t strides = {s, s}, padding = {p, p};
    dnnl_memory_desc_t src, dst, weights;
    CHECK(dnnl_memory_desc_init_by_tag(&src, 4, src_dims, dnnl_f32, tag));
    CHECK(dnnl_memory_desc_init_by_tag(&dst, 4, dst_dims, dnnl_f32, tag));
    CHECK(dnnl_memory_desc_init_by_tag(&weights, 4, weight_dims, dnnl_f32, dnnl_format_tag_any));
    double flops = 2.0 * mb * oc * ic * k * k * (transposed ? ih * ih : oh * oh);
    dnnl_primitive_desc_t fwd, bwd_data, bwd_weights;
    if (!transposed) {
        dnnl_convolution_desc_t f, bd, bw;
        CHECK(dnnl_convolution_forward_desc_init(&f, dnnl_forward_training, dnnl_convolution_direct, &src, &weights,
                                                 NULL, &dst, strides, padding, padding));
        CHECK(dnnl_primitive_desc_create(&fwd, &f, NULL, engine, NULL));
        CHECK(dnnl_convolution_backward_data_desc_init(&bd, dnnl_convolution_direct, &src, &weights, &dst, strides,
                                                       padding, padding));
        CHECK(dnnl_primitive_desc_create(&bwd_data, &bd, NULL, engine, fwd));
        CHECK(dnnl_convolution_backward_weights_desc_init(&bw, dnnl_convolution_direct, &src, &weights, NULL, &dst,
                                                          strides, padding, padding));
        CHECK(dnnl_primitive_desc_create(&bwd_weights, &bw, NULL, engine, fwd));
    } else {
        dnnl_deconvolution_desc_t f, bd, bw;
        CHECK(dnnl_deconvolution_forward_desc_init(&f, dnnl_forward_training, dnnl_deconvolution_direct, &src,
                                                   &weights, NULL, &dst, strides, padding, padding));
        CHECK(dnnl_primitive_desc_create(&fwd, &f, NULL, engine, NULL));
        CHECK(dnnl_deconvolution_backward_data_desc_init(&bd, dnnl_deconvolution_direct, &src, &weights, &dst,
                                                         strides, padding, padding));
        CHECK(dnnl_primitive_desc_create(&bwd_data, &bd, NULL, engine, fwd));
        CHECK(dnnl_deconvolution_backward_weights_desc_init(&bw, dnnl_deconvolution_direct, &src, &weights, NULL,
                                                            &dst, strides, padding, padding));
        CHECK(dnnl_primitive_desc_create(&bwd_weights, &bw, NULL, engine, fwd));
    }
    dnnl_memory_t src_memory = memory(&src), dst_memory = memory(&dst);
    dnnl_memory_t w1 = memory(dnnl_primitive_desc_query_md(fwd, dnnl_query_weights_md, 0));
    dnnl_memory_t w2 = memory(dnnl_primitive_desc_query_md(bwd_data, dnnl_query_weights_md, 0));
    dnnl_memory_t w3 = memory(dnnl_primitive_desc_query_md(bwd_weights, dnnl_query_diff_weights_md, 0));
    dnnl_exec_arg_t f_args[3] = {{DNNL_ARG_SRC, src_memory}, {DNNL_ARG_WEIGHTS, w1}, {DNNL_ARG_DST, dst_memory}};
    dnnl_exec_arg_t d_args[3] = {{DNNL_ARG_DIFF_SRC, src_memory}, {DNNL_ARG_WEIGHTS, w2},
                                 {DNNL_ARG_DIFF_DST, dst_memory}};
    dnnl_exec_arg_t w_args[3] = {{DNNL_ARG_SRC, src_memory}, {DNNL_ARG_DIFF_WEIGHTS, w3},
                                 {DNNL_ARG_DIFF_DST, dst_memory}};
    time_pass(fwd, f_args, 3, "forward", flops);
    time_pass(bwd_data, d_args, 3, "bwd data", flops);
    time_pass(bwd_weights, w_args, 3, "bwd wei", flops);
    dnnl_memory_destroy(src_memory);
    dnnl_memory_destroy(dst_memory);
    dnnl_memory_destroy(w1);
    dnnl_memory_destroy(w2);
    dnnl_memory_destroy(w3);
    dnnl_primitive_desc_destroy(fwd);
    dnnl_primitive_desc_destroy(bwd_data);
    dnnl_primitive_desc_destroy(bwd_weights);
}

/* The layers timed, in order: batch, input and output channels, input size, kernel, stride, padding. */
static const struct {
    const char *name;
    int mb, ic, oc, ih, k, s, p, transposed;
    dnnl_format_tag_t tag;
} LAYERS[] = {
    {"convolution 64 -> 128, 4x4 stride 2, 14x14, batch 64, nChw16c", 64, 64, 128, 14, 4, 2, 1, 0, dnnl_aBcd16b},
    {"the same, nhwc", 64, 64, 128, 14, 4, 2, 1, 0, dnnl_acdb},
    {"transposed convolution 128 -> 64, 4x4 stride 2, 7x7, batch 64, nChw16c", 64, 128, 64, 7, 4, 2, 1, 1,
     dnnl_aBcd16b},
    {"the same, nhwc", 64, 128, 64, 7, 4, 2, 1, 1, dnnl_acdb},
    {"convolution 20 -> 50, 5x5 padding 2, 14x14, batch 64, nhwc", 64, 20, 50, 14, 5, 1, 2, 0, dnnl_acdb},
    {"convolution 50 -> 20, the same geometry, nhwc", 64, 50, 20, 14, 5, 1, 2, 0, dnnl_acdb},
    {"convolution 20 -> 50, nChw16c", 64, 20, 50, 14, 5, 1, 2, 0, dnnl_aBcd16b},
    {"convolution 50 -> 20, nChw16c", 64, 50, 20, 14, 5, 1, 2, 0, dnnl_aBcd16b},
};

int main(void) {
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    for (size_t i = 0; i < sizeof LAYERS / sizeof LAYERS[0]; i++) {
        printf("%s\n", LAYERS[i].name);
        layer(LAYERS[i].mb, LAYERS[i].ic, LAYERS[i].oc, LAYERS[i].ih, LAYERS[i].k, LAYERS[i].s, LAYERS[i].p,
              LAYERS[i].tag, LAYERS[i].transposed);
    }
    dnnl_stream_destroy(stream);
    dnnl_engine_destroy(engine);
    return 0;
}
