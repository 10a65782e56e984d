package dev.gatun.backend;

import dev.gatun.bindings.dnnl.Dnnl;
import dev.gatun.bindings.dnnl.dnnl_memory_desc_t;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Objects;

/**
 * A batch of matrix products in one oneDNN matmul primitive: {@code C[i] = alpha·A[i]·B[i] + beta·C[i]}
 * for every batch entry i, the operands strided as any tensor view is. Attention multiplies one small
 * matrix per batch entry and head (64 products of 128×128 in a character GPT step); one primitive call
 * replaces as many GEMM calls, each of which pays its own call and signal-mask overhead.
 *
 * <p>Primitives are cached per shape, strides and scalars ({@link PrimitiveCache}); their memory
 * descriptors are freed with the cache entry that holds them.
 */
public final class BatchedGemm {

    /** A primitive's configuration; arrays compared by content. */
    private record Key(long[] batch, long m, long n, long k, long[] a, long[] b, long[] c, long aStart,
                       long bStart, float alpha, float beta, boolean bias) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Key x && Arrays.equals(batch, x.batch) && m == x.m && n == x.n && k == x.k
                    && Arrays.equals(a, x.a) && Arrays.equals(b, x.b) && Arrays.equals(c, x.c) && aStart == x.aStart
                    && bStart == x.bStart && Float.compare(alpha, x.alpha) == 0 && Float.compare(beta, x.beta) == 0
                    && bias == x.bias;
        }

        @Override
        public int hashCode() {
            return Objects.hash(Arrays.hashCode(batch), m, n, k, Arrays.hashCode(a), Arrays.hashCode(b),
                    Arrays.hashCode(c), aStart, bStart, alpha, beta, bias);
        }

        @Override
        public String toString() {
            return "batch " + Arrays.toString(batch) + " [" + m + "×" + k + "]·[" + k + "×" + n + "], strides "
                    + Arrays.toString(a) + (aStart == 0 ? "" : " from float " + aStart) + " and " + Arrays.toString(b)
                    + (bStart == 0 ? "" : " from float " + bStart) + " into " + Arrays.toString(c)
                    + (bias ? ", bias" : "");
        }
    }

    /** A cached primitive, its descriptors and its description in messages (made once, not per call). */
    private record Cached(Primitives.Primitive primitive, MemorySegment srcDesc, MemorySegment weightsDesc,
                          MemorySegment biasDesc, MemorySegment dstDesc, String what) {}

    /** Estimated resident bytes of one matmul primitive ({@link PrimitiveCache}). */
    private static final long PRIMITIVE_BYTES = 64 * 1024;

    private BatchedGemm() {}

    /**
     * Whether batched products run here: oneDNN is the GEMM library ({@code gatun.gemm}); with OpenBLAS
     * the caller multiplies entry by entry.
     *
     * @return true when {@link #multiply} may be called
     */
    public static boolean available() {
        return Blas.onOneDnn();
    }

    /**
     * {@code C[i] = alpha·A[i]·B[i] + beta·C[i]} for every index i of the batch dimensions, where A[i] is
     * m×k, B[i] k×n and C[i] m×n. An operand's strides are its tensor view's, in floats: one per batch
     * dimension, then the row and the column stride; one of the two matrix strides must be 1. C is
     * contiguous from {@code cOffset}. Declines (returns false, nothing done) operands oneDNN cannot
     * take in their segments: zero or negative strides, neither matrix stride 1, or a layout whose span as
     * oneDNN reckons it (the largest size·stride) is larger than the whole segment.
     *
     * @param batch   the batch dimensions (possibly none), each at least 1
     * @param m       rows of A and C, at least 1
     * @param n       columns of B and C, at least 1
     * @param k       columns of A, rows of B, at least 1
     * @param alpha   the product's factor, finite
     * @param beta    0 (C is overwritten) or 1 (the product is added to C)
     * @param a       A's memory
     * @param aOffset A's first float
     * @param aStrides A's strides: batch.length + 2 of them
     * @param b       B's memory
     * @param bOffset B's first float
     * @param bStrides B's strides: batch.length + 2 of them
     * @param c       C's memory
     * @param cOffset C's first float
     * @return whether the product was computed
     * @throws IllegalArgumentException if a size is not positive, a stride array has the wrong length,
     *                                  C does not fit in its segment or overlaps an input, alpha is not
     *                                  finite or beta is neither 0 nor 1
     * @throws IllegalStateException    if oneDNN is not the GEMM library
     */
    public static boolean multiply(long[] batch, long m, long n, long k, float alpha, float beta,
                                   MemorySegment a, long aOffset, long[] aStrides,
                                   MemorySegment b, long bOffset, long[] bStrides,
                                   MemorySegment c, long cOffset) {
        return multiply(batch, m, n, k, alpha, beta, a, aOffset, aStrides, b, bOffset, bStrides, c, cOffset, null, null,
                0);
    }

    /**
     * As {@link #multiply(long[], long, long, long, float, float, MemorySegment, long, long[], MemorySegment,
     * long, long[], MemorySegment, long)} into a C laid out densely in another order of its dimensions: C's
     * strides are those of a row-major tensor whose dimensions were permuted (attention's output written
     * with its heads side by side, [B, L, H, d] read as [B, H, L, d]), one of its matrix strides 1.
     *
     * @param batch    the batch dimensions (possibly none), each at least 1
     * @param m        rows of A and C, at least 1
     * @param n        columns of B and C, at least 1
     * @param k        columns of A, rows of B, at least 1
     * @param alpha    the product's factor, finite
     * @param beta     0 (C is overwritten) or 1 (the product is added to C)
     * @param a        A's memory
     * @param aOffset  A's first float
     * @param aStrides A's strides: batch.length + 2 of them
     * @param b        B's memory
     * @param bOffset  B's first float
     * @param bStrides B's strides: batch.length + 2 of them
     * @param c        C's memory
     * @param cOffset  C's first float
     * @param cStrides C's strides: batch.length + 2 of them, a permutation of a row-major layout's
     * @return whether the product was computed
     * @throws IllegalArgumentException as the other forms, or if C's strides are not a dense layout's or
     *                                  neither of its matrix strides is 1
     * @throws IllegalStateException    if oneDNN is not the GEMM library
     */
    public static boolean multiply(long[] batch, long m, long n, long k, float alpha, float beta,
                                   MemorySegment a, long aOffset, long[] aStrides,
                                   MemorySegment b, long bOffset, long[] bStrides,
                                   MemorySegment c, long cOffset, long[] cStrides) {
        return multiply(batch, m, n, k, alpha, beta, a, aOffset, aStrides, b, bOffset, bStrides, c, cOffset,
                Objects.requireNonNull(cStrides, "cStrides"), null, 0);
    }

    /**
     * As {@link #multiply(long[], long, long, long, float, float, MemorySegment, long, long[], MemorySegment,
     * long, long[], MemorySegment, long)}, adding a bias row to every row of every product:
     * {@code C[i] = alpha·A[i]·B[i] + bias + beta·C[i]}, in the product's one pass over C (a linear layer's
     * bias, which would otherwise be written into C before the product and read again by it).
     *
     * @param batch      the batch dimensions (possibly none), each at least 1
     * @param m          rows of A and C, at least 1
     * @param n          columns of B and C, at least 1
     * @param k          columns of A, rows of B, at least 1
     * @param alpha      the product's factor, finite
     * @param beta       0 (C is overwritten) or 1 (the product is added to C)
     * @param a          A's memory
     * @param aOffset    A's first float
     * @param aStrides   A's strides: batch.length + 2 of them
     * @param b          B's memory
     * @param bOffset    B's first float
     * @param bStrides   B's strides: batch.length + 2 of them
     * @param c          C's memory
     * @param cOffset    C's first float
     * @param bias       n contiguous floats, or null for none
     * @param biasOffset the bias's first float
     * @return whether the product was computed
     * @throws IllegalArgumentException as the form without a bias, or if the bias does not fit in its
     *                                  segment or overlaps C
     * @throws IllegalStateException    if oneDNN is not the GEMM library
     */
    public static boolean multiply(long[] batch, long m, long n, long k, float alpha, float beta,
                                   MemorySegment a, long aOffset, long[] aStrides,
                                   MemorySegment b, long bOffset, long[] bStrides,
                                   MemorySegment c, long cOffset, MemorySegment bias, long biasOffset) {
        return multiply(batch, m, n, k, alpha, beta, a, aOffset, aStrides, b, bOffset, bStrides, c, cOffset, null, bias,
                biasOffset);
    }

    private static boolean multiply(long[] batch, long m, long n, long k, float alpha, float beta,
                                    MemorySegment a, long aOffset, long[] aStrides,
                                    MemorySegment b, long bOffset, long[] bStrides,
                                    MemorySegment c, long cOffset, long[] cStrides, MemorySegment bias,
                                    long biasOffset) {
        NativeLibraries.load(); // a binding used before its library is loaded fails for good
        if (!available()) {
            throw new IllegalStateException("batched GEMM: oneDNN is not the GEMM library (gatun.gemm)");
        }
        if (batch.length > MAX_BATCH_DIMS || aStrides.length != batch.length + 2
                || bStrides.length != batch.length + 2) {
            throw new IllegalArgumentException("batched GEMM: " + batch.length + " batch dimensions (at most "
                    + MAX_BATCH_DIMS + ") need " + (batch.length + 2) + " strides per input, got "
                    + aStrides.length + " and " + bStrides.length);
        }
        if (cStrides != null && cStrides.length != batch.length + 2) {
            throw new IllegalArgumentException("batched GEMM: " + batch.length + " batch dimensions need "
                    + (batch.length + 2) + " strides for C, got " + cStrides.length);
        }
        long count = 1;
        for (long d : batch) {
            if (d < 1) {
                throw new IllegalArgumentException("batched GEMM: batch dimensions must be positive, got "
                        + Arrays.toString(batch));
            }
            count = Math.multiplyExact(count, d);
        }
        if (m < 1 || n < 1 || k < 1) {
            throw new IllegalArgumentException("batched GEMM: sizes must be positive, got m=" + m + " n=" + n
                    + " k=" + k);
        }
        if (beta != 0f && beta != 1f) {
            throw new IllegalArgumentException("batched GEMM: beta must be 0 or 1, got " + beta);
        }
        if (!Float.isFinite(alpha)) {
            throw new IllegalArgumentException("batched GEMM: alpha must be finite, got " + alpha);
        }
        Placed ap = place("batched GEMM: A", a, aOffset, dims(batch, m, k), aStrides);
        Placed bp = place("batched GEMM: B", b, bOffset, dims(batch, k, n), bStrides);
        if (ap == null || bp == null) {
            return false;
        }
        MemorySegment as = ap.data();
        MemorySegment bs = bp.data();
        long[] cDims = dims(batch, m, n);
        long[] cs0 = cStrides == null ? rowMajor(cDims) : denseInSomeOrder(cDims, cStrides);
        if (cs0 == null) {
            throw new IllegalArgumentException("batched GEMM: C's strides " + Arrays.toString(cStrides)
                    + " are not a dense layout of " + Arrays.toString(cDims) + " with a matrix stride 1");
        }
        MemorySegment cs = Primitives.region("batched GEMM: C", c, cOffset,
                Math.multiplyExact(count, Math.multiplyExact(m, n)));
        if (Primitives.overlap(cs, ap.span()) || Primitives.overlap(cs, bp.span())) {
            throw new IllegalArgumentException("batched GEMM: C overlaps "
                    + (Primitives.overlap(cs, ap.span()) ? "A" : "B"));
        }
        MemorySegment biasRow = bias == null ? null : Primitives.region("batched GEMM: bias", bias, biasOffset, n);
        if (biasRow != null && Primitives.overlap(cs, biasRow)) {
            throw new IllegalArgumentException("batched GEMM: C overlaps the bias");
        }
        Key key = new Key(batch.clone(), m, n, k, aStrides.clone(), bStrides.clone(), cs0, ap.start(), bp.start(),
                alpha, beta, bias != null);
        Cached p = PrimitiveCache.get(key, x -> create((Key) x), x -> new Primitives.Primitive[] {x.primitive()},
                PRIMITIVE_BYTES);
        if (biasRow == null) {
            Primitives.execute(p.primitive(), new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_WEIGHTS(),
                Dnnl.DNNL_ARG_DST()}, new MemorySegment[] {p.srcDesc(), p.weightsDesc(), p.dstDesc()},
                    new MemorySegment[] {as, bs, cs}, p.what());
        } else {
            Primitives.execute(p.primitive(), new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_WEIGHTS(),
                Dnnl.DNNL_ARG_BIAS(), Dnnl.DNNL_ARG_DST()}, new MemorySegment[] {p.srcDesc(), p.weightsDesc(),
                    p.biasDesc(), p.dstDesc()}, new MemorySegment[] {as, bs, biasRow, cs}, p.what());
        }
        return true;
    }

    private static long[] rowMajor(long[] dims) {
        long[] st = new long[dims.length];
        long s = 1;
        for (int i = dims.length - 1; i >= 0; i--) {
            st[i] = s;
            s *= dims[i];
        }
        return st;
    }

    /**
     * The dimensions in the order a layout with these strides holds them in memory, outermost first: strides
     * descending, equal strides in the dimensions' order.
     *
     * @param strides one stride per dimension
     * @return a permutation of 0 .. strides.length − 1
     */
    public static int[] memoryOrder(long[] strides) {
        Integer[] order = new Integer[strides.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, (x, y) -> strides[x] != strides[y] ? Long.compare(strides[y], strides[x]) : x - y);
        int[] o = new int[order.length];
        for (int i = 0; i < o.length; i++) o[i] = order[i];
        return o;
    }

    /**
     * The strides, those of dimensions of size 1 (which no element steps along) replaced by what a dense
     * layout gives them, when they lay the dims out densely in some order (every element at its own
     * float, the span exactly their count) with one of the two matrix strides 1; else null. Sizes are
     * positive here.
     */
    private static long[] denseInSomeOrder(long[] dims, long[] strides) {
        int r = dims.length;
        if (strides[r - 1] != 1 && strides[r - 2] != 1) {
            return null;
        }
        int[] order = memoryOrder(strides);
        long[] dense = new long[r];
        long expect = 1;
        for (int o = r - 1; o >= 0; o--) { // innermost first
            int i = order[o];
            if (dims[i] > 1 && strides[i] != expect) {
                return null;
            }
            dense[i] = expect;
            expect = Math.multiplyExact(expect, dims[i]);
        }
        return dense;
    }

    /** oneDNN takes at most 12 dimensions. */
    private static final int MAX_BATCH_DIMS = 10;

    private static long[] dims(long[] batch, long rows, long cols) {
        long[] d = Arrays.copyOf(batch, batch.length + 2);
        d[batch.length] = rows;
        d[batch.length + 1] = cols;
        return d;
    }

    /**
     * An operand's memory as oneDNN gets it: {@code data} from the first float the descriptor counts from,
     * the descriptor's {@code offset0}, the float of that memory where the operand starts, and {@code span},
     * the floats from its first element to its last (what an output must not overlap).
     */
    private record Placed(MemorySegment data, long start, MemorySegment span) {}

    /**
     * Where an operand of the given dims and strides, starting at float {@code offset} of {@code seg}, goes
     * to oneDNN; null when oneDNN cannot take it: a stride not positive, neither matrix stride 1, or
     * elements past the segment's end.
     *
     * <p>oneDNN sizes a strided layout by its largest size·stride, which may run past the end of the
     * segment for a view into a larger tensor even though every element the view reads lies inside: the
     * keys and values of attention are heads sliced out of one projection [L, B, 3E], whose row stride
     * B·3E times L is the whole projection, while they start E and 2E floats into it. Such an operand is
     * handed over from the segment's first float, with the view's start in the descriptor's offset0, so
     * that the memory holds the layout's full size and oneDNN reads exactly the view's elements.
     */
    private static Placed place(String what, MemorySegment seg, long offset, long[] dims, long[] strides) {
        int r = dims.length;
        if (offset < 0 || (strides[r - 1] != 1 && strides[r - 2] != 1)) {
            return null;
        }
        long size = 1;
        long last = 0;
        for (int i = 0; i < r; i++) {
            if (strides[i] < 1) {
                return null;
            }
            size = Math.max(size, Math.multiplyExact(dims[i], strides[i]));
            last = Math.addExact(last, Math.multiplyExact(dims[i] - 1, strides[i]));
        }
        size = Math.max(size, last + 1);
        long cap = seg.byteSize() / Float.BYTES;
        if (size <= cap - offset) {
            return new Placed(Primitives.region(what, seg, offset, size), 0, Primitives.region(what, seg, offset, last + 1));
        }
        if (last >= cap - offset || size > cap) {
            return null;
        }
        return new Placed(Primitives.region(what, seg, 0, cap), offset, Primitives.region(what, seg, offset, last + 1));
    }

    private static Cached create(Key key) {
        String what = "matmul " + key;
        // The descriptors belong to the cache entry: freed by the collector once it is evicted and no
        // call holds it.
        Arena descs = Arena.ofAuto();
        long[] cDims = dims(key.batch(), key.m(), key.n());
        long[] cStrides = key.c();
        MemorySegment src = desc(descs, dims(key.batch(), key.m(), key.k()), key.a(), what);
        dnnl_memory_desc_t.offset0(src, key.aStart());
        MemorySegment weights = desc(descs, dims(key.batch(), key.k(), key.n()), key.b(), what);
        dnnl_memory_desc_t.offset0(weights, key.bStart());
        MemorySegment dst = desc(descs, cDims, cStrides, what);
        MemorySegment bias = null;
        if (key.bias()) {
            // One row, broadcast over the batch and the rows: [1, …, 1, n].
            long[] biasDims = new long[cDims.length];
            Arrays.fill(biasDims, 1);
            biasDims[biasDims.length - 1] = key.n();
            long[] biasStrides = new long[cDims.length];
            Arrays.fill(biasStrides, key.n());
            biasStrides[biasStrides.length - 1] = 1;
            bias = desc(descs, biasDims, biasStrides, what);
        }
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment op = Primitives.opDesc(tmp);
            OneDnn.check(Dnnl.dnnl_matmul_desc_init(op, src, weights, bias == null ? MemorySegment.NULL : bias, dst),
                    "dnnl_matmul_desc_init", what);
            Primitives.Attributes attributes = key.alpha() == 1f && key.beta() == 0f ? null : (t, attr) -> {
                MemorySegment out = t.allocate(ValueLayout.ADDRESS);
                OneDnn.check(Dnnl.dnnl_post_ops_create(out), "dnnl_post_ops_create");
                MemorySegment ops = out.get(ValueLayout.ADDRESS, 0);
                try {
                    if (key.alpha() != 1f) {
                        OneDnn.check(Dnnl.dnnl_post_ops_append_eltwise(ops, 1f, Dnnl.dnnl_eltwise_linear(),
                                key.alpha(), 0f), "dnnl_post_ops_append_eltwise");
                    }
                    if (key.beta() != 0f) {
                        OneDnn.check(Dnnl.dnnl_post_ops_append_sum(ops, key.beta()), "dnnl_post_ops_append_sum");
                    }
                    OneDnn.check(Dnnl.dnnl_primitive_attr_set_post_ops(attr, ops), "dnnl_primitive_attr_set_post_ops");
                } finally {
                    Dnnl.dnnl_post_ops_destroy(ops);
                }
            };
            Primitives.Primitive p = Primitives.create(op, MemorySegment.NULL, false, what, attributes);
            return new Cached(p, src, weights, bias, dst, "batched GEMM, " + key);
        }
    }

    private static MemorySegment desc(Arena arena, long[] dims, long[] strides, String what) {
        MemorySegment md = arena.allocate(dnnl_memory_desc_t.layout());
        OneDnn.check(Dnnl.dnnl_memory_desc_init_by_strides(md, dims.length, Primitives.dims(arena, dims),
                Dnnl.dnnl_f32(), Primitives.dims(arena, strides)), "dnnl_memory_desc_init_by_strides", what);
        return md;
    }
}
