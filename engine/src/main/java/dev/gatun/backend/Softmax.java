package dev.gatun.backend;

import dev.gatun.bindings.dnnl.Dnnl;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * oneDNN's softmax over the rows of a contiguous float32 matrix, and its backward: attention's weights
 * (one row per query and head) without a copy through the Java heap.
 */
public final class Softmax {

    private record Key(long rows, long length) {}

    private record Pair(Primitives.Primitive forward, Primitives.Primitive backward, MemorySegment memoryDesc) {}

    /** Estimated resident bytes of one softmax pair ({@link PrimitiveCache}). */
    private static final long PRIMITIVE_BYTES = 32 * 1024;

    private Softmax() {}

    /**
     * {@code dst[r, j] = exp(src[r, j] − max_r) / Σ_j exp(src[r, j] − max_r)} for each of {@code rows} runs
     * of {@code length} floats. src and dst may be the same region (in place) but must not otherwise
     * overlap. A row of only −∞ becomes NaN, as in PyTorch.
     *
     * @param src       the scores
     * @param srcOffset their first float
     * @param dst       the probabilities, written
     * @param dstOffset their first float
     * @param rows      the number of rows, at least 1
     * @param length    the length of a row, at least 1
     * @throws IllegalArgumentException if a size is not positive, a region does not fit in its segment, or
     *                                  the regions partly overlap
     */
    public static void forward(MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset, long rows,
                               long length) {
        long n = elements(rows, length);
        MemorySegment s = Primitives.region("softmax: src", src, srcOffset, n);
        MemorySegment d = Primitives.region("softmax: dst", dst, dstOffset, n);
        if (s.address() != d.address() && Primitives.overlap(s, d)) {
            throw new IllegalArgumentException("softmax: dst partially overlaps src");
        }
        Pair p = pair(rows, length);
        Primitives.execute(p.forward(), new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_DST()},
                new MemorySegment[] {p.memoryDesc(), p.memoryDesc()}, new MemorySegment[] {s, d},
                "softmax forward over " + rows + " × " + length);
    }

    /**
     * The gradient of the scores from the softmax's output y and its gradient g:
     * {@code diffSrc[r, j] = y[r, j]·(g[r, j] − Σ_i g[r, i]·y[r, i])}. diffSrc may be diffDst's region.
     *
     * @param dst           the forward output y
     * @param dstOffset     its first float
     * @param diffDst       the gradient of y
     * @param diffDstOffset its first float
     * @param diffSrc       the gradient of the scores, written
     * @param diffSrcOffset its first float
     * @param rows          the number of rows, at least 1
     * @param length        the length of a row, at least 1
     * @throws IllegalArgumentException if a size is not positive, a region does not fit in its segment, or
     *                                  diffSrc overlaps y or partly overlaps diffDst
     */
    public static void backward(MemorySegment dst, long dstOffset, MemorySegment diffDst, long diffDstOffset,
                                MemorySegment diffSrc, long diffSrcOffset, long rows, long length) {
        long n = elements(rows, length);
        MemorySegment y = Primitives.region("softmax backward: dst", dst, dstOffset, n);
        MemorySegment dd = Primitives.region("softmax backward: diff_dst", diffDst, diffDstOffset, n);
        MemorySegment ds = Primitives.region("softmax backward: diff_src", diffSrc, diffSrcOffset, n);
        if (Primitives.overlap(ds, y)) {
            throw new IllegalArgumentException("softmax backward: diff_src overlaps dst");
        }
        if (ds.address() != dd.address() && Primitives.overlap(ds, dd)) {
            throw new IllegalArgumentException("softmax backward: diff_src partially overlaps diff_dst");
        }
        Pair p = pair(rows, length);
        Primitives.execute(p.backward(), new int[] {Dnnl.DNNL_ARG_DST(), Dnnl.DNNL_ARG_DIFF_DST(),
            Dnnl.DNNL_ARG_DIFF_SRC()}, new MemorySegment[] {p.memoryDesc(), p.memoryDesc(), p.memoryDesc()},
                new MemorySegment[] {y, dd, ds}, "softmax backward over " + rows + " × " + length);
    }

    private static long elements(long rows, long length) {
        if (rows < 1 || length < 1) {
            throw new IllegalArgumentException("softmax: rows and row length must be positive, got " + rows + " × "
                    + length);
        }
        return Math.multiplyExact(rows, length);
    }

    private static Pair pair(long rows, long length) {
        return PrimitiveCache.get(new Key(rows, length), k -> {
            String what = "softmax over [" + rows + ", " + length + "] f32";
            // Freed by the collector with the cache entry.
            MemorySegment md = Primitives.f32Desc(Arena.ofAuto(), new long[] {rows, length}, Dnnl.dnnl_ab(), what);
            try (Arena tmp = Arena.ofConfined()) {
                MemorySegment desc = Primitives.opDesc(tmp);
                OneDnn.check(Dnnl.dnnl_softmax_forward_desc_init(desc, Dnnl.dnnl_forward_training(), md, 1),
                        "dnnl_softmax_forward_desc_init", what);
                Primitives.Primitive fwd = Primitives.create(desc, MemorySegment.NULL, true, what);
                MemorySegment bdesc = Primitives.opDesc(tmp);
                OneDnn.check(Dnnl.dnnl_softmax_backward_desc_init(bdesc, md, md, 1),
                        "dnnl_softmax_backward_desc_init", what);
                Primitives.Primitive bwd = Primitives.create(bdesc, fwd.descriptor(), false, what);
                return new Pair(fwd, bwd, md);
            }
        }, p -> new Primitives.Primitive[] {p.forward(), p.backward()}, PRIMITIVE_BYTES);
    }
}
