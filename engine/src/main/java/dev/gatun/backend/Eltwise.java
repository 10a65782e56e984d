package dev.gatun.backend;

import dev.gatun.bindings.dnnl.Dnnl;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * oneDNN elementwise primitives (forward inference) over contiguous float32 buffers.
 *
 * <p>A primitive is created once per (algorithm, length) and cached for the life of the process; it
 * runs with a user-provided scratchpad ({@code dnnl_scratchpad_mode_user}) so that several threads may
 * execute it at once, each with its own memory objects and stream.
 */
public final class Eltwise {

    /** The elementwise functions offered; the oneDNN algorithm of each. */
    public enum Algorithm {
        RELU, TANH, LOGISTIC,
        /** softplus, log(1 + eˣ). */
        SOFT_RELU;

        int dnnlKind() {
            return switch (this) {
                case RELU -> Dnnl.dnnl_eltwise_relu();
                case TANH -> Dnnl.dnnl_eltwise_tanh();
                case LOGISTIC -> Dnnl.dnnl_eltwise_logistic();
                case SOFT_RELU -> Dnnl.dnnl_eltwise_soft_relu();
            };
        }
    }

    private record Key(Algorithm algorithm, long length) {}

    /** A created primitive and the memory descriptor it was made for. */
    private record Cached(Primitives.Primitive primitive, MemorySegment memoryDesc) {}

    /** Estimated resident bytes of one eltwise primitive ({@link PrimitiveCache}). */
    private static final long PRIMITIVE_BYTES = 16 * 1024;

    private Eltwise() {}

    /**
     * {@code dst[i] = f(src[i])} for {@code length} floats starting at the given float offsets. src and dst
     * may be the same region (in place) but must not otherwise overlap.
     */
    public static void forward(Algorithm algorithm, MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset,
                               long length) {
        if (length < 1) {
            if (length == 0) return;
            throw new IllegalArgumentException("eltwise: negative length " + length);
        }
        MemorySegment s = Primitives.region("eltwise: src", src, srcOffset, length);
        MemorySegment d = Primitives.region("eltwise: dst", dst, dstOffset, length);
        if (s.address() != d.address() && Primitives.overlap(s, d)) {
            throw new IllegalArgumentException("eltwise: dst partially overlaps src");
        }
        Cached c = PrimitiveCache.get(new Key(algorithm, length), k -> create((Key) k),
                x -> new Primitives.Primitive[] {x.primitive()}, PRIMITIVE_BYTES);
        Primitives.execute(c.primitive(), new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_DST()},
                new MemorySegment[] {c.memoryDesc(), c.memoryDesc()}, new MemorySegment[] {s, d},
                "eltwise " + algorithm + " over " + length + " floats");
    }

    /** A training pair whose backward reads the output: the forward primitive (descriptor kept) and its backward. */
    private record FromDst(Primitives.Primitive forward, Primitives.Primitive backward, MemorySegment memoryDesc) {}

    private record FromDstKey(int algorithm, float alpha, long length) {}

    /** The functions whose gradient oneDNN computes from their output, for training. */
    public enum FromOutput {
        /** tanh; the gradient is 1 − y². */
        TANH,
        /** the logistic sigmoid; the gradient is y(1 − y). */
        LOGISTIC;

        int dnnlKind() {
            return switch (this) {
                case TANH -> Dnnl.dnnl_eltwise_tanh_use_dst_for_bwd();
                case LOGISTIC -> Dnnl.dnnl_eltwise_logistic_use_dst_for_bwd();
            };
        }
    }

    /**
     * Leaky ReLU for training, {@code dst[i] = max(src[i], 0) + slope·min(src[i], 0)} over {@code length}
     * floats; its backward ({@link #reluBackward}) reads dst, so slope must be ≥ 0 (then dst > 0
     * exactly where src > 0).
     */
    public static void reluForward(float slope, MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset,
                                   long length) {
        forward(relu(slope, length), "relu", src, srcOffset, dst, dstOffset, length);
    }

    /** {@code diffSrc[i] = diffDst[i]} where {@code dst[i] > 0}, else {@code slope·diffDst[i]}. */
    public static void reluBackward(float slope, MemorySegment dst, long dstOffset, MemorySegment diffDst,
                                    long diffDstOffset, MemorySegment diffSrc, long diffSrcOffset, long length) {
        backward(relu(slope, length), "relu", dst, dstOffset, diffDst, diffDstOffset, diffSrc, diffSrcOffset, length);
    }

    /**
     * {@code dst[i] = f(src[i])} over {@code length} floats for training: {@link #backwardFromOutput} then
     * takes the gradient from dst. src and dst may be the same region.
     *
     * @param f         the function
     * @param src       the input
     * @param srcOffset its first float
     * @param dst       the output, written
     * @param dstOffset its first float
     * @param length    the floats, at least 1
     * @throws IllegalArgumentException if length is not positive or a region does not fit its segment
     */
    public static void forwardTraining(FromOutput f, MemorySegment src, long srcOffset, MemorySegment dst,
                                       long dstOffset, long length) {
        forward(fromDst(f.dnnlKind(), 0f, length, f.name()), f.name(), src, srcOffset, dst, dstOffset, length);
    }

    /**
     * {@code diffSrc[i] = diffDst[i]·f'(x[i])}, f' computed from the output {@code dst} of
     * {@link #forwardTraining}.
     *
     * @param f             the function
     * @param dst           the forward output
     * @param dstOffset     its first float
     * @param diffDst       the output's gradient
     * @param diffDstOffset its first float
     * @param diffSrc       the input's gradient, written
     * @param diffSrcOffset its first float
     * @param length        the floats, at least 1
     * @throws IllegalArgumentException if length is not positive or a region does not fit its segment
     */
    public static void backwardFromOutput(FromOutput f, MemorySegment dst, long dstOffset, MemorySegment diffDst,
                                          long diffDstOffset, MemorySegment diffSrc, long diffSrcOffset, long length) {
        backward(fromDst(f.dnnlKind(), 0f, length, f.name()), f.name(), dst, dstOffset, diffDst, diffDstOffset,
                diffSrc, diffSrcOffset, length);
    }

    private static void forward(FromDst p, String name, MemorySegment src, long srcOffset, MemorySegment dst,
                                long dstOffset, long length) {
        MemorySegment s = Primitives.region(name + ": src", src, srcOffset, length);
        MemorySegment d = Primitives.region(name + ": dst", dst, dstOffset, length);
        Primitives.execute(p.forward(), new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_DST()},
                new MemorySegment[] {p.memoryDesc(), p.memoryDesc()}, new MemorySegment[] {s, d},
                name + " forward over " + length + " floats");
    }

    private static void backward(FromDst p, String name, MemorySegment dst, long dstOffset, MemorySegment diffDst,
                                 long diffDstOffset, MemorySegment diffSrc, long diffSrcOffset, long length) {
        MemorySegment d = Primitives.region(name + " backward: dst", dst, dstOffset, length);
        MemorySegment dd = Primitives.region(name + " backward: diff_dst", diffDst, diffDstOffset, length);
        MemorySegment ds = Primitives.region(name + " backward: diff_src", diffSrc, diffSrcOffset, length);
        Primitives.execute(p.backward(), new int[] {Dnnl.DNNL_ARG_DST(), Dnnl.DNNL_ARG_DIFF_DST(),
            Dnnl.DNNL_ARG_DIFF_SRC()}, new MemorySegment[] {p.memoryDesc(), p.memoryDesc(), p.memoryDesc()},
                new MemorySegment[] {d, dd, ds}, name + " backward over " + length + " floats");
    }

    private static FromDst relu(float slope, long length) {
        if (!(slope >= 0) || Float.isInfinite(slope)) {
            throw new IllegalArgumentException("relu: slope must be finite and ≥ 0, got " + slope);
        }
        return fromDst(Dnnl.dnnl_eltwise_relu_use_dst_for_bwd(), slope, length, "relu slope " + slope);
    }

    private static FromDst fromDst(int alg, float alpha, long length, String name) {
        if (length < 1) {
            throw new IllegalArgumentException(name + ": length must be positive, got " + length);
        }
        return PrimitiveCache.get(new FromDstKey(alg, alpha, length), k -> {
            String what = name + " over [" + length + "] f32";
            // Freed by the collector with the cache entry.
            MemorySegment md = Primitives.f32Desc(Arena.ofAuto(), new long[] {length}, Dnnl.dnnl_a(), what);
            try (Arena tmp = Arena.ofConfined()) {
                MemorySegment desc = Primitives.opDesc(tmp);
                OneDnn.check(Dnnl.dnnl_eltwise_forward_desc_init(desc, Dnnl.dnnl_forward_training(), alg, md, alpha, 0f),
                        "dnnl_eltwise_forward_desc_init", what);
                Primitives.Primitive fwd = Primitives.create(desc, MemorySegment.NULL, true, what);
                MemorySegment bdesc = Primitives.opDesc(tmp);
                OneDnn.check(Dnnl.dnnl_eltwise_backward_desc_init(bdesc, alg, md, md, alpha, 0f),
                        "dnnl_eltwise_backward_desc_init", what);
                Primitives.Primitive bwd = Primitives.create(bdesc, fwd.descriptor(), false, what);
                return new FromDst(fwd, bwd, md);
            }
        }, r -> new Primitives.Primitive[] {r.forward(), r.backward()}, PRIMITIVE_BYTES);
    }

    /** A GELU (erf form) training pair: forward and its backward, which reads the source. */
    private record Gelu(Primitives.Primitive forward, Primitives.Primitive backward, MemorySegment memoryDesc) {}

    private record GeluKey(long length) {}

    /**
     * GELU for training, {@code dst[i] = src[i]·Φ(src[i])} with Φ the standard normal CDF (the erf form,
     * PyTorch's default), over {@code length} floats. src and dst must not overlap: the backward pass
     * ({@link #geluBackward}) reads src.
     *
     * @param src the input
     * @param srcOffset the input's first float
     * @param dst the output
     * @param dstOffset the output's first float
     * @param length the number of floats, {@code >= 1}
     */
    public static void geluForward(MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset,
                                   long length) {
        Gelu g = gelu(length);
        MemorySegment s = Primitives.region("gelu: src", src, srcOffset, length);
        MemorySegment d = Primitives.region("gelu: dst", dst, dstOffset, length);
        if (Primitives.overlap(s, d)) {
            throw new IllegalArgumentException("gelu: dst overlaps src");
        }
        Primitives.execute(g.forward(), new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_DST()},
                new MemorySegment[] {g.memoryDesc(), g.memoryDesc()}, new MemorySegment[] {s, d},
                "gelu forward over " + length + " floats");
    }

    /**
     * {@code diffSrc[i] = diffDst[i]·(Φ(src[i]) + src[i]·φ(src[i]))}, the GELU gradient.
     *
     * @param src the forward pass's input
     * @param srcOffset its first float
     * @param diffDst the gradient of the output
     * @param diffDstOffset its first float
     * @param diffSrc the gradient of the input, written
     * @param diffSrcOffset its first float
     * @param length the number of floats, {@code >= 1}
     */
    public static void geluBackward(MemorySegment src, long srcOffset, MemorySegment diffDst, long diffDstOffset,
                                    MemorySegment diffSrc, long diffSrcOffset, long length) {
        Gelu g = gelu(length);
        MemorySegment s = Primitives.region("gelu backward: src", src, srcOffset, length);
        MemorySegment dd = Primitives.region("gelu backward: diff_dst", diffDst, diffDstOffset, length);
        MemorySegment ds = Primitives.region("gelu backward: diff_src", diffSrc, diffSrcOffset, length);
        Primitives.execute(g.backward(), new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_DIFF_DST(),
            Dnnl.DNNL_ARG_DIFF_SRC()}, new MemorySegment[] {g.memoryDesc(), g.memoryDesc(), g.memoryDesc()},
                new MemorySegment[] {s, dd, ds}, "gelu backward over " + length + " floats");
    }

    private static Gelu gelu(long length) {
        if (length < 1) {
            throw new IllegalArgumentException("gelu: length must be positive, got " + length);
        }
        return PrimitiveCache.get(new GeluKey(length), k -> {
            String what = "gelu over [" + length + "] f32";
            MemorySegment md = Primitives.f32Desc(new long[] {length}, Dnnl.dnnl_a(), what);
            int alg = Dnnl.dnnl_eltwise_gelu_erf();
            try (Arena tmp = Arena.ofConfined()) {
                MemorySegment desc = Primitives.opDesc(tmp);
                OneDnn.check(Dnnl.dnnl_eltwise_forward_desc_init(desc, Dnnl.dnnl_forward_training(), alg, md, 0f, 0f),
                        "dnnl_eltwise_forward_desc_init", what);
                Primitives.Primitive fwd = Primitives.create(desc, MemorySegment.NULL, true, what);
                MemorySegment bdesc = Primitives.opDesc(tmp);
                OneDnn.check(Dnnl.dnnl_eltwise_backward_desc_init(bdesc, alg, md, md, 0f, 0f),
                        "dnnl_eltwise_backward_desc_init", what);
                Primitives.Primitive bwd = Primitives.create(bdesc, fwd.descriptor(), false, what);
                return new Gelu(fwd, bwd, md);
            }
        }, r -> new Primitives.Primitive[] {r.forward(), r.backward()}, PRIMITIVE_BYTES);
    }

    private static Cached create(Key key) {
        String what = key.algorithm() + " over [" + key.length() + "] f32";
        // Freed by the collector with the cache entry (in the global arena, every length ever used stayed).
        MemorySegment md = Primitives.f32Desc(Arena.ofAuto(), new long[] {key.length()}, Dnnl.dnnl_a(), what);
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment desc = Primitives.opDesc(tmp);
            OneDnn.check(Dnnl.dnnl_eltwise_forward_desc_init(desc, Dnnl.dnnl_forward_inference(),
                    key.algorithm().dnnlKind(), md, 0f, 0f), "dnnl_eltwise_forward_desc_init", what);
            return new Cached(Primitives.create(desc, MemorySegment.NULL, false, what), md);
        }
    }
}
