/*
 * gatun's own native kernels: loops that OpenBLAS and oneDNN lack, or run slower than a plain
 * vectorised loop does. Built by the engine module's Maven build into
 * libgatun_kernels.so (see engine/pom.xml) and bound with jextract (scripts/generate-bindings).
 *
 * The Java side (dev.gatun.backend.Updates and Pooling) checks sizes, bounds and overlaps before
 * calling. Loops over more than GATUN_PARALLEL_MIN elements (gatun_kernels.c) run on the calling
 * thread's OpenMP team.
 */
#ifndef GATUN_KERNELS_H
#define GATUN_KERNELS_H

#include <stdint.h>

#define GATUN_KERNELS_VERSION 15

/* nargs values of calls of gatun's own kernels in gatun_run_primitives: max pooling, matrix-vector product. */
#define GATUN_CALL_MAX_POOL (-1)
#define GATUN_CALL_MATVEC (-2)

/* The version this library was built with, GATUN_KERNELS_VERSION. */
int gatun_kernels_version(void);

/*
 * One Adam/AdamW step over n elements (PyTorch's formulation):
 *   p ← p·decay;  g' = g + wd·p;  m ← β1·m + (1 − β1)·g';  v ← β2·v + (1 − β2)·g'²;
 *   v̂ = max(vmax, v) (vmax ← v̂) when vmax is not null, else v̂ = v;
 *   p ← p − step_size · m / (√v̂ · inv_sqrt_c2 + eps)
 * with step_size = lr / (1 − β1ᵗ) and inv_sqrt_c2 = 1 / √(1 − β2ᵗ). The caller passes 1 − β1 and
 * 1 − β2 as well, rounded to float from double as PyTorch does (1 − 0.9f is not the float nearest 0.1).
 */
void gatun_adam(float *p, const float *g, float *m, float *v, float *vmax, int64_t n,
                float beta1, float one_minus_beta1, float beta2, float one_minus_beta2,
                float step_size, float inv_sqrt_c2, float eps, float decay, float wd);

/*
 * One SGD step over n elements (PyTorch's formulation): g' = g + wd·p; without momentum
 * p ← p − lr·g'. With momentum (buf not null): buf ← g' on the first step, else
 * buf ← μ·buf + damp·g'; p ← p − lr·(nesterov ? g' + μ·buf : buf).
 */
void gatun_sgd(float *p, const float *g, float *buf, int64_t n, float lr, float wd,
               float momentum, float damp, int first, int nesterov);

/*
 * Max pooling over channel-blocked tensors, nChw8c (lanes 8) or nChw16c (lanes 16): channels in cb blocks
 * of `lanes` interleaved innermost, padded with zeros to a multiple of `lanes`. src is
 * n×cb×ih×iw×lanes, dst and ws n×cb×oh×ow×lanes. Forward writes the maximum of each window to dst and
 * its position in the window (row · kw + column) to ws, unless ws is null (inference); positions in the
 * padding are skipped (a window with none left gives −∞). NaN propagates as in PyTorch: a window with
 * a NaN gives NaN, at the position of its last NaN. With relu it pools relu(src) instead: the maximum
 * starts at 0 from position −1, so a window with nothing above 0 (and no NaN) gives 0 and −1. Backward
 * writes diff_src: zero, plus each diff_dst element added at the position ws names (none for −1). The
 * forward and backward passes also take channels-last tensors (nhwc): cb = 1 and lanes = the channel
 * count, any other than 8 and 16 (which are the same in both layouts). Any other lane count does nothing. The
 * caller keeps kh·kw below 2^31 (positions are 32-bit).
 */
void gatun_max_pool_blocked_forward(const float *src, float *dst, int32_t *ws, int32_t lanes, int32_t relu,
                                    int64_t n, int64_t cb, int64_t ih, int64_t iw, int64_t oh, int64_t ow,
                                    int32_t kh, int32_t kw, int32_t sh, int32_t sw, int32_t ph, int32_t pw,
                                    int32_t dh, int32_t dw);

void gatun_max_pool_blocked_backward(const float *diff_dst, float *diff_src, const int32_t *ws, int32_t lanes,
                                     int64_t n, int64_t cb, int64_t ih, int64_t iw, int64_t oh, int64_t ow,
                                     int32_t kh, int32_t kw, int32_t sh, int32_t sw, int32_t ph, int32_t pw,
                                     int32_t dh, int32_t dw);

/*
 * The weight gradient of a dense (one group) convolution whose input is plain NCHW and whose output
 * gradient is channel-blocked, nChw8c (lanes 8) or nChw16c (lanes 16), as oneDNN keeps a convolution
 * over few input channels: src n×c×ih×iw, diff_dst n×⌈o/lanes⌉×oh×ow×lanes. Writes diff_weights
 * (o×c×kh×kw, OIHW) and, when diff_bias is not null, diff_bias (o):
 *   diff_weights[o][c][i][j] = Σ diff_dst[n][o][y][x] · src[n][c][y·sh − ph + i·dh][x·sw − pw + j·dw]
 * (positions outside src count as zero), diff_bias[o] = Σ diff_dst[n][o][y][x]. The caller checks that
 * oh and ow are the output sizes of this geometry. Returns 0, or −1 for another lane count or when a
 * row buffer could not be allocated.
 */
int gatun_conv_backward_weights_plain_src(const float *src, const float *diff_dst, float *diff_weights,
                                          float *diff_bias, int32_t lanes, int64_t n, int64_t c, int64_t ih,
                                          int64_t iw, int64_t o, int64_t oh, int64_t ow, int32_t kh, int32_t kw,
                                          int32_t sh, int32_t sw, int32_t ph, int32_t pw, int32_t dh, int32_t dw);

/*
 * Inverted dropout's mask applied: dst[i] = src[i]·m[i] for i in [0, n), with m[i] = keep when element
 * i's 24-bit uniform u[i] ≥ threshold, else 0 (a float product, so that 0·∞ is NaN as in a multiply by the
 * mask). The uniforms come from SplitMix64 started at seed: its k-th output (k from 1),
 * z = mix(seed + k·0x9E3779B97F4A7C15), gives element 2(k−1) bits 40..63 of z and element 2(k−1) + 1 bits
 * 16..39. The same seed gives the same mask, so that backward draws it again instead of keeping it; each
 * element's bits depend on its index alone, so the threads split the range freely. src and dst may be
 * the same array, and must not otherwise overlap.
 */
void gatun_dropout(const float *src, float *dst, int64_t n, float keep, int32_t threshold, int64_t seed);

/*
 * One LSTM layer's inference pass over T steps of a batch of n, PyTorch's gate order (i, f, g, o):
 * gates = gx[t] + w_hh · h + b_hh; c' = σ(f)·c + σ(i)·tanh(g); h' = σ(o)·tanh(c'). gx is [t, n, 4h], the
 * input's share (x · w_ihᵀ + b_ih) computed beforehand; w_hh is [4h, h] row-major; b_hh is [4h] or null;
 * h0 and c0 are [n, h] or null (zeros). Writes y [t, n, h] (each step's h), h_t and c_t [n, h]. The
 * calling thread's OpenMP team splits the hidden units in chunks of 16 (each thread keeps its rows of
 * w_hh in its own cache across steps) when 4·h·h·n is at least GATUN_PARALLEL_MIN; every unit is
 * computed by one thread in a fixed order, so results do not depend on the thread count. σ and tanh are evaluated
 * to within a few units in the last place of float. y, h_t and c_t must not overlap the inputs or
 * each other.
 */
void gatun_lstm_inference(const float *gx, const float *w_hh, const float *b_hh, const float *h0, const float *c0,
                          float *y, float *h_t, float *c_t, int64_t t, int64_t n, int64_t h);

/* Whether the CPU runs AVX-512 (F), for which the LSTM training kernels below are written. */
int gatun_cpu_has_avx512(void);

/*
 * Floats of the packed w_hh the LSTM training kernels need as scratch: forward, ceil(h / 16)·h·64;
 * backward, (ceil(h / 16) + 3)·4h·16.
 */
int64_t gatun_lstm_forward_pack_elements(int64_t h);
int64_t gatun_lstm_backward_pack_elements(int64_t h);

/*
 * The LSTM's forward pass for training (gate order i, f, g, o, as gatun_lstm_inference): from gx [t, n, 4h]
 * (x · w_ihᵀ + b_ih) or, when rows is not null, from a table gx [v, 4h] whose row rows[s·n + b] (each in
 * [0, v)) is sequence b's input share at step s (an embedding's rows times w_ihᵀ); w_hh [4h, h], b_hh [4h]
 * or null, h0 and c0 [n, h] or null (zeros). Writes y [t, n, h], h_t and c_t [n, h], and for the backward
 * pass acts [t, n, 4h] (the activated gates σ(i), σ(f), tanh(g), σ(o), at q·h + u of each row) and cs
 * [t, n, h] (every step's c). wf is scratch of gatun_lstm_forward_pack_elements(h) floats. When 4·h·h·n is
 * at least GATUN_PARALLEL_MIN, the calling thread's OpenMP team packs w_hh together, then splits the batch
 * in tiles of four sequences: each thread runs its sequences through every step with no barrier between
 * steps. Every value is computed by one thread in a fixed order, so results do not depend on the thread
 * count. Outputs must not overlap the inputs or each other.
 */
void gatun_lstm_train_forward(const float *gx, const int32_t *rows, const float *w_hh, const float *b_hh,
                              const float *h0, const float *c0, float *wf, float *y, float *h_t, float *c_t,
                              float *acts, float *cs, int64_t t, int64_t n, int64_t h);

/*
 * Backpropagation through time of gatun_lstm_train_forward: from its acts and cs, c0 (or null: zeros),
 * w_hh and the gradients dy [t, n, h] (required), dh_t and dc_t [n, h] (null: zeros), writes dgates
 * [t, n, 4h] (the gradient of each step's gate pre-activations, from which the caller forms the
 * gradients of the weights, the biases and x by matrix products), dh0 and dc0 [n, h]. wb is scratch of
 * gatun_lstm_backward_pack_elements(h) floats. Threads and determinism as for the forward pass. Outputs
 * must not overlap the inputs or each other.
 */
void gatun_lstm_train_backward(const float *w_hh, const float *acts, const float *cs, const float *c0,
                               const float *dy, const float *dh_t, const float *dc_t, float *wb, float *dgates,
                               float *dh0, float *dc0, int64_t t, int64_t n, int64_t h);

/*
 * dst[rows[k]] += src[k] for k = 0 .. count − 1: src is [count, width], dst [v, width] with every rows[k]
 * in [0, v). Threads split the columns, and each adds its rows in order, so results do not depend on the
 * thread count. dst must not overlap src or rows.
 */
void gatun_rows_scatter_add(const float *src, const int32_t *rows, float *dst, int64_t count, int64_t width);

/*
 * Softmax cross-entropy of logits z [rows, classes] against classes y (each in [0, classes)) with label
 * smoothing ε: writes the probabilities p (softmax of each row) and each row's loss
 * −((1 − ε)·log p[y] + ε/classes · Σ_k log p[k]) in row_loss (double), for the caller to sum in order.
 * A row holding NaN gives NaN. Threads split the rows; every row is computed alike whatever the thread
 * count. p must not overlap z.
 */
void gatun_softmax_cross_entropy(const float *z, const int32_t *y, float *p, double *row_loss, int64_t rows,
                                 int64_t classes, float smoothing);

/* Its gradient: dz = (p − q)·scale with q = (1 − ε) at y plus ε/classes everywhere. dz must not overlap p. */
void gatun_softmax_cross_entropy_backward(const float *p, const int32_t *y, float *dz, int64_t rows,
                                          int64_t classes, float smoothing, double scale);

/* Elements per partial sum of gatun_bce_with_logits and gatun_squared_error. */
#define GATUN_LOSS_BLOCK 4096

/*
 * Binary cross-entropy on logits z against targets t (n each): writes σ(z) in sig and, for each block of
 * GATUN_LOSS_BLOCK elements (the last one shorter), the sum of max(z, 0) − z·t + log(1 + e^−|z|) in double,
 * for the caller to add in order; e^x and log(1 + x) within a few ulp. Threads split the blocks; every
 * block is computed alike whatever the thread count. sig must not overlap z or t.
 */
void gatun_bce_with_logits(const float *z, const float *t, float *sig, double *block_sums, int64_t n);

/*
 * Squared error of predictions p against targets t (n each): for each block of GATUN_LOSS_BLOCK elements
 * (the last one shorter), the sum of (p − t)² computed in double (eight partial sums over the elements'
 * indices modulo 8, added in a fixed order), for the caller to add in order. Threads split the blocks;
 * every block is computed alike whatever the thread count.
 */
void gatun_squared_error(const float *p, const float *t, double *block_sums, int64_t n);

/*
 * out = (a − b)·scale over n floats, in float: the gradient of binary cross-entropy on logits (a = σ(z),
 * b = t) and of the squared error (a = p, b = t, scale 2/n times the incoming gradient). out must not
 * overlap a or b.
 */
void gatun_scaled_difference(const float *a, const float *b, float *out, int64_t n, float scale);

/*
 * Runs a program of oneDNN primitive executions. The program has `steps` steps of `threads` calls each:
 * call c = step · threads + t is dnnl_primitive_execute(primitives[c], streams[t], nargs[c], args[c])
 * (args[c] an array of dnnl_exec_arg_t), run by thread t; a NULL primitive is no call. A step whose
 * team[step] is 0 is shared out: consecutive such steps run inside one OpenMP parallel region of
 * `threads` threads, so that the team is formed and joined once for all of them, and every thread
 * finishes a step before any starts the next (a barrier between steps); when only thread 0 has calls in
 * all of them, they run on the caller without a region. Their primitives should be planned for one
 * thread: inside a region oneDNN runs each on its caller alone. When the region has fewer threads than
 * `threads` (nested in another region, or the runtime gave fewer), each thread also runs the calls of
 * the missing ones. A step whose team[step] is 1 is one call (thread 0's), run on the caller outside any
 * region, with oneDNN's own threads (for primitives planned for a team). A call whose nargs[c] is
 * GATUN_CALL_MAX_POOL is not a primitive's but a max pooling forward pass of gatun's kernel for inference:
 * args[c] then points to 18 int64 values, src and dst (addresses) followed by gatun_max_pool_blocked_forward's
 * lanes, relu, n, cb, ih, iw, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw (no positions are written), and
 * primitives[c] is any non-NULL value. A call whose nargs[c] is GATUN_CALL_MATVEC is a fully connected
 * layer on one row, y = W·x + b (ReLU after it when asked): args[c] points to 8 int64 values, the addresses
 * of x (`in` floats), y (`out` floats), W and b (NULL for none), then in, out, relu and a flag the call
 * flips each time it runs. W holds the layer's weights in blocks of 16 output features, [ceil(out / 16)][in][16]
 * (row o of PyTorch's [out, in] weights at w[(o / 16)·in·16 + i·16 + o % 16], the block padded with zeros),
 * and b ceil(out / 16)·16 values. Calls alternate the order in which they read the blocks (the flag),
 * so that the blocks read last, still in cache, are read first next time; each output sums its products
 * in one fixed order, so that every run gives the same values bit for bit.
 * In a program without team steps, shared steps run on workers of gatun's own that spin for a while
 * between runs (GATUN_WORKERS=0 in the environment: on an OpenMP team formed for each run instead).
 * Returns 0 (dnnl_success) or the
 * status of the first failing call, whose step is then written to *failed_step; the steps after a
 * failure are not run. The caller checks every pointer, size and count.
 */
int32_t gatun_run_primitives(int32_t steps, int32_t threads, void *const *primitives, void *const *streams,
                             const int32_t *nargs, void *const *args, const int8_t *team, int32_t *failed_step);

#endif
