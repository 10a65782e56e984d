/*
 * Times oneDNN 2.6's batched matmul on the transformer row's attention products (batch 16, 4 heads, 64
 * positions, head size 32) with the heads where gatun keeps them, sliced out of the projection [B, L, 3E]
 * (rows 3E floats apart), against heads copied contiguous ([B, H, L, D]); prints the implementation
 * oneDNN chose and the best and median of 400 calls. Used by bench/results/attention-and-losses.md.
 *
 *   gcc -O2 bench/native/attention_layouts.c -ldnnl -o /tmp/attention_layouts
 *   OMP_NUM_THREADS=2 /tmp/attention_layouts
 */
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "bench_util.h"

#define RUNS 400

enum { B = 16, H = 4, L = 64, D = 32, E = H * D };

static dnnl_engine_t engine;
static dnnl_stream_t stream;

static int ascending(const void *a, const void *b) {
    const double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

/* C = A·B over [B, H] with the given dims and strides of each (C's strides null: dense [B, H, M, N]). */
static void product(const char *name, const dnnl_dims_t ad, const dnnl_dims_t as, float *a, const dnnl_dims_t bd,
                    const dnnl_dims_t bs, float *b, const dnnl_dims_t cd, const dnnl_dim_t *cs, float *c) {
    dnnl_memory_desc_t am, bm, cm;
    CHECK(dnnl_memory_desc_init_by_strides(&am, 4, ad, dnnl_f32, as));
    CHECK(dnnl_memory_desc_init_by_strides(&bm, 4, bd, dnnl_f32, bs));
    if (cs) {
        CHECK(dnnl_memory_desc_init_by_strides(&cm, 4, cd, dnnl_f32, cs));
    } else {
        CHECK(dnnl_memory_desc_init_by_tag(&cm, 4, cd, dnnl_f32, dnnl_abcd));
    }
    dnnl_matmul_desc_t desc;
    CHECK(dnnl_matmul_desc_init(&desc, &am, &bm, NULL, &cm));
    dnnl_primitive_desc_t pd;
    CHECK(dnnl_primitive_desc_create(&pd, &desc, NULL, engine, NULL));
    const char *impl;
    CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
    dnnl_primitive_t p;
    CHECK(dnnl_primitive_create(&p, pd));
    dnnl_memory_t ma, mb, mc;
    CHECK(dnnl_memory_create(&ma, &am, engine, a));
    CHECK(dnnl_memory_create(&mb, &bm, engine, b));
    CHECK(dnnl_memory_create(&mc, &cm, engine, c));
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}};
    double t[RUNS];
    for (int i = 0; i < RUNS; i++) {
        const double t0 = now();
        CHECK(dnnl_primitive_execute(p, stream, 3, args));
        CHECK(dnnl_stream_wait(stream));
        t[i] = now() - t0;
    }
    qsort(t, RUNS, sizeof t[0], ascending);
    const double flops = 2.0 * cd[0] * cd[1] * cd[2] * cd[3] * ad[3];
    printf("%-36s %-16s best %6.1f us, median %6.1f (%3.0f GFLOP/s)\n", name, impl, t[0] * 1e6, t[RUNS / 2] * 1e6,
           flops / t[0] / 1e9);
    dnnl_memory_destroy(ma);
    dnnl_memory_destroy(mb);
    dnnl_memory_destroy(mc);
    dnnl_primitive_destroy(p);
    dnnl_primitive_desc_destroy(pd);
}

int main(void) {
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    float *projection = filled((int64_t) B * L * 3 * E, 1), *q = filled((int64_t) B * H * L * D, 1);
    float *k = filled((int64_t) B * H * L * D, 1), *kt = filled((int64_t) B * H * L * D, 1);
    float *scores = filled((int64_t) B * H * L * L, 1), *out = filled((int64_t) B * H * L * D, 1);
    const dnnl_dims_t heads = {B, H, L, D}, keys_t = {B, H, D, L}, score_dims = {B, H, L, L};
    /* A head sliced out of the projection: element (b, h, l, d) at b·L·3E + l·3E + h·D + d. */
    const dnnl_dims_t sliced = {L * 3 * E, D, 3 * E, 1}, sliced_t = {L * 3 * E, D, 1, 3 * E};
    const dnnl_dims_t dense = {H * L * D, L * D, D, 1}, dense_t = {H * L * D, L * D, 1, D};
    const dnnl_dims_t dense_kt = {H * D * L, D * L, L, 1}, score_strides = {H * L * L, L * L, L, 1};
    const dnnl_dims_t score_t = {H * L * L, L * L, 1, L}, joined = {L * E, D, E, 1};
    for (int round = 0; round < 2; round++) {
        product("Q·Kᵀ, heads in the projection", heads, sliced, projection, keys_t, sliced_t, projection + E,
                score_dims, NULL, scores);
        product("Q·Kᵀ, heads contiguous", heads, dense, q, keys_t, dense_t, k, score_dims, NULL, scores);
        product("Q·Kᵀ, heads contiguous, Kᵀ stored", heads, dense, q, keys_t, dense_kt, kt, score_dims, NULL,
                scores);
        product("P·V, V in the projection", score_dims, score_strides, scores, heads, sliced, projection + 2 * E,
                heads, NULL, out);
        product("P·V, V contiguous", score_dims, score_strides, scores, heads, dense, k, heads, NULL, out);
        product("P·V, V in the projection, joined out", score_dims, score_strides, scores, heads, sliced,
                projection + 2 * E, heads, joined, out);
        product("P·V, V contiguous, joined out", score_dims, score_strides, scores, heads, dense, k, heads, joined,
                out);
        product("Pᵀ·dO, dO in the projection", score_dims, score_t, scores, heads, sliced, projection, heads, NULL,
                out);
        product("Pᵀ·dO, dO contiguous", score_dims, score_t, scores, heads, dense, k, heads, NULL, out);
    }
    dnnl_stream_destroy(stream);
    dnnl_engine_destroy(engine);
    return 0;
}
