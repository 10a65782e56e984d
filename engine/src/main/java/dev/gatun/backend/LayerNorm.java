package dev.gatun.backend;

import dev.gatun.bindings.dnnl.Dnnl;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * oneDNN's layer normalization over the rows of a contiguous float32 matrix [rows, d], for training:
 * the forward pass keeps each row's mean and variance, which the backward pass reads with the input.
 * The scale γ and the shift β, each [d], are optional.
 */
public final class LayerNorm {

    private record Key(long rows, long d, float eps, boolean scale, boolean shift) {}

    private record Pair(Primitives.Primitive forward, Primitives.Primitive backward, MemorySegment dataDesc,
                        MemorySegment statDesc, MemorySegment paramDesc) {}

    /** Estimated resident bytes of one forward/backward pair ({@link PrimitiveCache}). */
    private static final long PRIMITIVE_BYTES = 64 * 1024;

    private LayerNorm() {}

    /**
     * {@code dst[r, i] = (src[r, i] − mean_r) / √(var_r + eps)·γ[i] + β[i]}, with the biased variance;
     * writes each row's mean and variance.
     *
     * @param rows     the number of rows, at least 1
     * @param d        the length of a row, at least 1
     * @param eps      added to the variance, positive
     * @param src      the input [rows, d] from its float offset {@code srcOffset}
     * @param srcOffset the input's first float
     * @param dst      the output [rows, d], written; must not overlap src
     * @param dstOffset the output's first float
     * @param mean     the row means [rows], written (from float 0)
     * @param variance the row variances [rows], written (from float 0)
     * @param scale    γ [d] (from float 0), or null for none
     * @param shift    β [d] (from float 0), or null for none
     * @throws IllegalArgumentException if a size is not positive, eps is not, or a buffer is too small
     */
    public static void forward(long rows, long d, float eps, MemorySegment src, long srcOffset, MemorySegment dst,
                               long dstOffset, MemorySegment mean, MemorySegment variance, MemorySegment scale,
                               MemorySegment shift) {
        long n = elements(rows, d, eps);
        MemorySegment s = Primitives.region("layer norm: src", src, srcOffset, n);
        MemorySegment y = Primitives.region("layer norm: dst", dst, dstOffset, n);
        if (Primitives.overlap(s, y)) {
            throw new IllegalArgumentException("layer norm: dst overlaps src");
        }
        Pair p = pair(rows, d, eps, scale != null, shift != null);
        int count = 4 + (scale != null ? 1 : 0) + (shift != null ? 1 : 0);
        int[] kinds = new int[count];
        MemorySegment[] descs = new MemorySegment[count];
        MemorySegment[] data = new MemorySegment[count];
        int i = 0;
        i = arg(kinds, descs, data, i, Dnnl.DNNL_ARG_SRC(), p.dataDesc(), s);
        i = arg(kinds, descs, data, i, Dnnl.DNNL_ARG_DST(), p.dataDesc(), y);
        i = arg(kinds, descs, data, i, Dnnl.DNNL_ARG_MEAN(), p.statDesc(),
                Primitives.region("layer norm: mean", mean, 0, rows));
        i = arg(kinds, descs, data, i, Dnnl.DNNL_ARG_VARIANCE(), p.statDesc(),
                Primitives.region("layer norm: variance", variance, 0, rows));
        if (scale != null) {
            i = arg(kinds, descs, data, i, Dnnl.DNNL_ARG_SCALE(), p.paramDesc(),
                    Primitives.region("layer norm: scale", scale, 0, d));
        }
        if (shift != null) {
            arg(kinds, descs, data, i, Dnnl.DNNL_ARG_SHIFT(), p.paramDesc(),
                    Primitives.region("layer norm: shift", shift, 0, d));
        }
        Primitives.execute(p.forward(), kinds, descs, data, "layer norm forward over " + rows + " × " + d);
    }

    /**
     * The gradients of the input and, when given buffers, of γ and β, from the output's gradient and what
     * {@link #forward} kept. {@code scale} must be given exactly when the forward pass had one.
     *
     * @param rows          the number of rows, at least 1
     * @param d             the length of a row, at least 1
     * @param eps           as in the forward pass
     * @param src           the forward pass's input
     * @param srcOffset     its first float
     * @param mean          the forward pass's row means
     * @param variance      the forward pass's row variances
     * @param scale         γ, or null if the forward pass had none
     * @param shift         β, or null if the forward pass had none (oneDNN 2.6 reads it, though the
     *                      gradients do not depend on it)
     * @param diffDst       the gradient of the output
     * @param diffDstOffset its first float
     * @param diffSrc       the gradient of the input, written; must not overlap the inputs
     * @param diffSrcOffset its first float
     * @param diffScale     γ's gradient [d], written, or null (only with a scale)
     * @param diffShift     β's gradient [d], written, or null (only with a shift)
     * @throws IllegalArgumentException if a size is not positive, a buffer is too small or missing, or
     *                                  diffSrc overlaps an input
     */
    public static void backward(long rows, long d, float eps, MemorySegment src, long srcOffset, MemorySegment mean,
                                MemorySegment variance, MemorySegment scale, MemorySegment shift, MemorySegment diffDst,
                                long diffDstOffset, MemorySegment diffSrc, long diffSrcOffset,
                                MemorySegment diffScale, MemorySegment diffShift) {
        long n = elements(rows, d, eps);
        MemorySegment s = Primitives.region("layer norm backward: src", src, srcOffset, n);
        MemorySegment dd = Primitives.region("layer norm backward: diff_dst", diffDst, diffDstOffset, n);
        MemorySegment ds = Primitives.region("layer norm backward: diff_src", diffSrc, diffSrcOffset, n);
        if (Primitives.overlap(ds, s) || Primitives.overlap(ds, dd)) {
            throw new IllegalArgumentException("layer norm backward: diff_src overlaps an input");
        }
        boolean hasScale = scale != null;
        boolean hasShift = shift != null;
        Pair p = pair(rows, d, eps, hasScale, hasShift);
        // oneDNN writes both parameter gradients when the primitive has the parameter: scratch for the
        // ones not asked for.
        try (Arena call = Arena.ofConfined()) {
            MemorySegment dScale = !hasScale ? null
                    : diffScale != null ? Primitives.region("layer norm backward: diff_scale", diffScale, 0, d)
                    : call.allocate(d * Float.BYTES, 64);
            MemorySegment dShift = !hasShift ? null
                    : diffShift != null ? Primitives.region("layer norm backward: diff_shift", diffShift, 0, d)
                    : call.allocate(d * Float.BYTES, 64);
            if ((diffScale != null && !hasScale) || (diffShift != null && !hasShift)) {
                throw new IllegalArgumentException("layer norm backward: a parameter gradient asked for a parameter"
                        + " the forward pass did not have");
            }
            int count = 5 + (hasScale ? 2 : 0) + (hasShift ? 2 : 0);
            int[] kinds = new int[count];
            MemorySegment[] descs = new MemorySegment[count];
            MemorySegment[] data = new MemorySegment[count];
            int i = 0;
            i = arg(kinds, descs, data, i, Dnnl.DNNL_ARG_SRC(), p.dataDesc(), s);
            i = arg(kinds, descs, data, i, Dnnl.DNNL_ARG_MEAN(), p.statDesc(),
                    Primitives.region("layer norm backward: mean", mean, 0, rows));
            i = arg(kinds, descs, data, i, Dnnl.DNNL_ARG_VARIANCE(), p.statDesc(),
                    Primitives.region("layer norm backward: variance", variance, 0, rows));
            i = arg(kinds, descs, data, i, Dnnl.DNNL_ARG_DIFF_DST(), p.dataDesc(), dd);
            i = arg(kinds, descs, data, i, Dnnl.DNNL_ARG_DIFF_SRC(), p.dataDesc(), ds);
            if (hasScale) {
                i = arg(kinds, descs, data, i, Dnnl.DNNL_ARG_SCALE(), p.paramDesc(),
                        Primitives.region("layer norm backward: scale", scale, 0, d));
                i = arg(kinds, descs, data, i, Dnnl.DNNL_ARG_DIFF_SCALE(), p.paramDesc(), dScale);
            }
            if (hasShift) {
                i = arg(kinds, descs, data, i, Dnnl.DNNL_ARG_SHIFT(), p.paramDesc(),
                        Primitives.region("layer norm backward: shift", shift, 0, d));
                arg(kinds, descs, data, i, Dnnl.DNNL_ARG_DIFF_SHIFT(), p.paramDesc(), dShift);
            }
            Primitives.execute(p.backward(), kinds, descs, data, "layer norm backward over " + rows + " × " + d);
        }
    }

    private static int arg(int[] kinds, MemorySegment[] descs, MemorySegment[] data, int i, int kind,
                           MemorySegment desc, MemorySegment segment) {
        kinds[i] = kind;
        descs[i] = desc;
        data[i] = segment;
        return i + 1;
    }

    private static long elements(long rows, long d, float eps) {
        if (rows < 1 || d < 1) {
            throw new IllegalArgumentException("layer norm: rows and row length must be positive, got " + rows + " × "
                    + d);
        }
        if (!(eps > 0) || Float.isInfinite(eps)) {
            throw new IllegalArgumentException("layer norm: eps must be positive and finite, got " + eps);
        }
        return Math.multiplyExact(rows, d);
    }

    private static Pair pair(long rows, long d, float eps, boolean scale, boolean shift) {
        return PrimitiveCache.get(new Key(rows, d, eps, scale, shift), k -> {
            String what = "layer norm over [" + rows + ", " + d + "] f32";
            // Freed by the collector with the cache entry.
            Arena descs = Arena.ofAuto();
            MemorySegment data = Primitives.f32Desc(descs, new long[] {rows, d}, Dnnl.dnnl_ab(), what);
            MemorySegment stat = Primitives.f32Desc(descs, new long[] {rows}, Dnnl.dnnl_a(), what);
            MemorySegment param = Primitives.f32Desc(descs, new long[] {d}, Dnnl.dnnl_a(), what);
            int flags = (scale ? Dnnl.dnnl_use_scale() : 0) | (shift ? Dnnl.dnnl_use_shift() : 0);
            try (Arena tmp = Arena.ofConfined()) {
                MemorySegment desc = Primitives.opDesc(tmp);
                OneDnn.check(Dnnl.dnnl_layer_normalization_forward_desc_init(desc, Dnnl.dnnl_forward_training(), data,
                        stat, eps, flags), "dnnl_layer_normalization_forward_desc_init", what);
                Primitives.Primitive fwd = Primitives.create(desc, MemorySegment.NULL, true, what);
                MemorySegment bdesc = Primitives.opDesc(tmp);
                int prop = scale || shift ? Dnnl.dnnl_backward() : Dnnl.dnnl_backward_data();
                OneDnn.check(Dnnl.dnnl_layer_normalization_backward_desc_init(bdesc, prop, data, data, stat, eps,
                        flags), "dnnl_layer_normalization_backward_desc_init", what);
                Primitives.Primitive bwd = Primitives.create(bdesc, fwd.descriptor(), false, what);
                return new Pair(fwd, bwd, data, stat, param);
            }
        }, p -> new Primitives.Primitive[] {p.forward(), p.backward()}, PRIMITIVE_BYTES);
    }
}
