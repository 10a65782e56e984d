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

    /** A (leaky) ReLU training pair: the forward primitive (descriptor kept) and its backward. */
    private record Relu(Primitives.Primitive forward, Primitives.Primitive backward, MemorySegment memoryDesc) {}

    private record ReluKey(float slope, long length) {}


    /**
     * Leaky ReLU for training, {@code dst[i] = max(src[i], 0) + slope·min(src[i], 0)} over {@code length}
     * floats; its backward ({@link #reluBackward}) reads dst, so slope must be ≥ 0 (then dst > 0
     * exactly where src > 0).
     */
    public static void reluForward(float slope, MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset,
                                   long length) {
        Relu r = relu(slope, length);
        MemorySegment s = Primitives.region("relu: src", src, srcOffset, length);
        MemorySegment d = Primitives.region("relu: dst", dst, dstOffset, length);
        Primitives.execute(r.forward(), new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_DST()},
                new MemorySegment[] {r.memoryDesc(), r.memoryDesc()}, new MemorySegment[] {s, d},
                "relu forward over " + length + " floats");
    }

    /** {@code diffSrc[i] = diffDst[i]} where {@code dst[i] > 0}, else {@code slope·diffDst[i]}. */
    public static void reluBackward(float slope, MemorySegment dst, long dstOffset, MemorySegment diffDst,
                                    long diffDstOffset, MemorySegment diffSrc, long diffSrcOffset, long length) {
        Relu r = relu(slope, length);
        MemorySegment d = Primitives.region("relu backward: dst", dst, dstOffset, length);
        MemorySegment dd = Primitives.region("relu backward: diff_dst", diffDst, diffDstOffset, length);
        MemorySegment ds = Primitives.region("relu backward: diff_src", diffSrc, diffSrcOffset, length);
        Primitives.execute(r.backward(), new int[] {Dnnl.DNNL_ARG_DST(), Dnnl.DNNL_ARG_DIFF_DST(),
            Dnnl.DNNL_ARG_DIFF_SRC()}, new MemorySegment[] {r.memoryDesc(), r.memoryDesc(), r.memoryDesc()},
                new MemorySegment[] {d, dd, ds}, "relu backward over " + length + " floats");
    }

    private static Relu relu(float slope, long length) {
        if (!(slope >= 0) || Float.isInfinite(slope)) {
            throw new IllegalArgumentException("relu: slope must be finite and ≥ 0, got " + slope);
        }
        if (length < 1) {
            throw new IllegalArgumentException("relu: length must be positive, got " + length);
        }
        return PrimitiveCache.get(new ReluKey(slope, length), k -> {
            String what = "relu slope " + slope + " over [" + length + "] f32";
            MemorySegment md = Primitives.f32Desc(new long[] {length}, Dnnl.dnnl_a(), what);
            int alg = Dnnl.dnnl_eltwise_relu_use_dst_for_bwd();
            try (Arena tmp = Arena.ofConfined()) {
                MemorySegment desc = Primitives.opDesc(tmp);
                OneDnn.check(Dnnl.dnnl_eltwise_forward_desc_init(desc, Dnnl.dnnl_forward_training(), alg, md, slope, 0f),
                        "dnnl_eltwise_forward_desc_init", what);
                Primitives.Primitive fwd = Primitives.create(desc, MemorySegment.NULL, true, what);
                MemorySegment bdesc = Primitives.opDesc(tmp);
                OneDnn.check(Dnnl.dnnl_eltwise_backward_desc_init(bdesc, alg, md, md, slope, 0f),
                        "dnnl_eltwise_backward_desc_init", what);
                Primitives.Primitive bwd = Primitives.create(bdesc, fwd.descriptor(), false, what);
                return new Relu(fwd, bwd, md);
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
        MemorySegment md = Primitives.f32Desc(new long[] {key.length()}, Dnnl.dnnl_a(), what);
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment desc = Primitives.opDesc(tmp);
            OneDnn.check(Dnnl.dnnl_eltwise_forward_desc_init(desc, Dnnl.dnnl_forward_inference(),
                    key.algorithm().dnnlKind(), md, 0f, 0f), "dnnl_eltwise_forward_desc_init", what);
            return new Cached(Primitives.create(desc, MemorySegment.NULL, false, what), md);
        }
    }
}
