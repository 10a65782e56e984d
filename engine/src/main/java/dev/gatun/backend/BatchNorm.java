package dev.gatun.backend;

import dev.gatun.bindings.dnnl.Dnnl;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Batch normalization on oneDNN over plain NCHW float32 buffers: the training forward pass (batch
 * statistics out), the inference forward pass (given statistics in), and the training backward pass
 * (gradients of the input and, with {@code affine}, of scale γ and shift β).
 *
 * <p>With spatial dimensions (H·W > 1) the primitives compute in the channel-blocked layout
 * {@link ChannelBlock} gives their channel count ({@code nChw8c} or {@code nChw16c}), reordering plain
 * operands into and out of it, since oneDNN 2.6 has only a scalar kernel for plain NCHW
 * ({@code ncsp_bnorm}); [N, C] inputs stay plain.
 *
 * <p>oneDNN's variance is the biased (population) one, as the normalization itself uses; the running
 * estimate PyTorch keeps uses the unbiased one, which the caller derives.
 */
public final class BatchNorm {

    /**
     * Shapes and settings of one batch normalization; validated on construction. With {@code relu} the
     * training passes are oneDNN's fused batch normalization and ReLU ({@code dnnl_fuse_norm_relu}): dst
     * = max(0, the normalized value), and the backward pass lets diff_dst through where that value was
     * above 0, read from a workspace the forward pass fills ({@link #workspaceBytes}).
     */
    public record Config(long n, long c, long h, long w, float eps, boolean affine, boolean relu) {
        /** A batch normalization without ReLU. */
        public Config(long n, long c, long h, long w, float eps, boolean affine) {
            this(n, c, h, w, eps, affine, false);
        }

        public Config {
            if (n < 1 || c < 1 || h < 1 || w < 1) {
                throw new IllegalArgumentException("batchNorm: input [" + n + ", " + c + ", " + h + ", " + w
                        + "] must have positive sizes");
            }
            if (!(eps > 0)) {
                throw new IllegalArgumentException("batchNorm: eps must be positive, got " + eps);
            }
        }

        long[] dims() {
            return new long[] {n, c, h, w};
        }

        long elements() {
            return Math.multiplyExact(Math.multiplyExact(n, c), Math.multiplyExact(h, w));
        }

        @Override
        public String toString() {
            return "batch norm over [" + n + ", " + c + ", " + h + ", " + w + "] eps " + eps + (affine ? ", affine" : "")
                    + (relu ? ", relu" : "");
        }
    }

    private enum Pass { TRAINING, INFERENCE, BACKWARD }

    private record Key(Config config, Pass pass) {}

    /** A primitive, the plain data and channel descriptors, and the data layout it computes in (null: plain). */
    private record Cached(Primitives.Primitive primitive, MemorySegment dataDesc, MemorySegment channelDesc,
                          MemorySegment blockedData) {}

    /** Estimated resident bytes of one batch-norm primitive ({@link PrimitiveCache}). */
    private static final long PRIMITIVE_BYTES = 32 * 1024;

    private BatchNorm() {}

    /** dst = γ·(src − μ)/√(σ² + ε) + β with μ, σ² of this batch, written to mean and variance. */
    public static void forwardTraining(Config config, MemorySegment src, MemorySegment dst, MemorySegment scale,
                                       MemorySegment shift, MemorySegment mean, MemorySegment variance) {
        forwardTraining(config, Operand.plain(src, 0), Operand.plain(dst, 0), scale, shift, mean, variance, null);
    }

    /**
     * As the plain form, with src and dst either plain or in the {@link #layouts} the primitives use; with
     * {@code config.relu()} ReLU follows and {@code workspace} (at least {@link #workspaceBytes} bytes) keeps
     * what the backward pass needs of it, null otherwise.
     */
    public static void forwardTraining(Config config, Operand src, Operand dst, MemorySegment scale,
                                       MemorySegment shift, MemorySegment mean, MemorySegment variance,
                                       MemorySegment workspace) {
        Cached p = primitive(config, Pass.TRAINING);
        run(config, p, "training", src, dst, scale, shift,
                new int[] {Dnnl.DNNL_ARG_MEAN(), Dnnl.DNNL_ARG_VARIANCE()}, mean, variance,
                workspace(config, p, workspace));
    }

    /** Bytes of workspace a training pass of {@code config} fills for its backward pass (0 without ReLU). */
    public static long workspaceBytes(Config config) {
        return config.relu() ? primitive(config, Pass.TRAINING).primitive().workspaceBytes() : 0;
    }

    /** The workspace checked to be there and large enough when the primitive has one, else null. */
    private static MemorySegment workspace(Config config, Cached p, MemorySegment workspace) {
        long bytes = p.primitive().workspaceBytes();
        if (!config.relu() || bytes == 0) {
            if (workspace != null && !config.relu()) {
                throw new IllegalArgumentException("batchNorm: a workspace is only for the fused ReLU");
            }
            return null;
        }
        if (workspace == null || workspace.byteSize() < bytes) {
            throw new IllegalArgumentException("batchNorm with ReLU needs a workspace of " + bytes + " bytes, got "
                    + (workspace == null ? "none" : workspace.byteSize()));
        }
        return workspace;
    }

    /** The data layout the primitives compute in (src and dst alike), or null entries when plain. */
    public static ActivationLayouts layouts(Config config) {
        Cached p = primitive(config, Pass.TRAINING);
        return new ActivationLayouts(p.blockedData(), p.blockedData(), p.dataDesc(), p.dataDesc());
    }

    /** dst = γ·(src − mean)/√(variance + ε) + β with the given (running) statistics. */
    public static void forwardInference(Config config, MemorySegment src, MemorySegment dst, MemorySegment scale,
                                        MemorySegment shift, MemorySegment mean, MemorySegment variance) {
        forwardInference(config, Operand.plain(src, 0), Operand.plain(dst, 0), scale, shift, mean, variance);
    }

    /** As the plain form, with src and dst either plain or in the {@link #layouts} the primitives use. */
    public static void forwardInference(Config config, Operand src, Operand dst, MemorySegment scale,
                                        MemorySegment shift, MemorySegment mean, MemorySegment variance) {
        Cached p = primitive(config, Pass.INFERENCE);
        run(config, p, "inference", src, dst, scale, shift,
                new int[] {Dnnl.DNNL_ARG_MEAN(), Dnnl.DNNL_ARG_VARIANCE()}, mean, variance, null);
    }

    private static MemorySegment data(String what, Operand o, long n) {
        return o.laid() != null ? o.laid() : Primitives.region(what, o.plain(), o.offset(), n);
    }

    private static void run(Config config, Cached p, String pass, Operand src, Operand dst,
                            MemorySegment scale, MemorySegment shift, int[] statKinds, MemorySegment mean,
                            MemorySegment variance, MemorySegment workspace) {
        long n = config.elements();
        int count = (config.affine() ? 6 : 4) + (workspace != null ? 1 : 0);
        int[] kinds = new int[count];
        MemorySegment[] descs = new MemorySegment[count];
        MemorySegment[] data = new MemorySegment[count];
        kinds[0] = Dnnl.DNNL_ARG_SRC();
        descs[0] = p.dataDesc();
        data[0] = data("batchNorm: src", src, n);
        kinds[1] = Dnnl.DNNL_ARG_DST();
        descs[1] = p.dataDesc();
        data[1] = data("batchNorm: dst", dst, n);
        kinds[2] = statKinds[0];
        descs[2] = p.channelDesc();
        data[2] = Primitives.region("batchNorm: mean", mean, 0, config.c());
        kinds[3] = statKinds[1];
        descs[3] = p.channelDesc();
        data[3] = Primitives.region("batchNorm: variance", variance, 0, config.c());
        if (config.affine()) {
            kinds[4] = Dnnl.DNNL_ARG_SCALE();
            descs[4] = p.channelDesc();
            data[4] = Primitives.region("batchNorm: scale", scale, 0, config.c());
            kinds[5] = Dnnl.DNNL_ARG_SHIFT();
            descs[5] = p.channelDesc();
            data[5] = Primitives.region("batchNorm: shift", shift, 0, config.c());
        }
        if (workspace != null) {
            kinds[count - 1] = Dnnl.DNNL_ARG_WORKSPACE();
            descs[count - 1] = p.primitive().workspaceDesc();
            data[count - 1] = workspace;
        }
        MemorySegment[] wanted = {p.blockedData(), p.blockedData(), null, null, null, null, null};
        boolean[] outputs = {false, true, false, false, false, false, false};
        if (workspace != null) outputs[count - 1] = true;
        MemorySegment[] laid = {src.laid(), dst.laid(), null, null, null, null, null};
        Primitives.executeReordered(p.primitive(), kinds, descs, Arrays.copyOf(wanted, count), data,
                Arrays.copyOf(outputs, count), null, Arrays.copyOf(laid, count), pass + " " + config);
    }

    /**
     * The training backward pass: diffSrc from diffDst, the input and its batch statistics, and with
     * {@code affine} (scale and shift given) also diffScale (∂γ) and diffShift (∂β).
     */
    public static void backward(Config config, MemorySegment src, MemorySegment mean, MemorySegment variance,
                                MemorySegment diffDst, MemorySegment scale, MemorySegment shift, MemorySegment diffSrc,
                                MemorySegment diffScale, MemorySegment diffShift) {
        backward(config, Operand.plain(src, 0), mean, variance, Operand.plain(diffDst, 0), scale, shift,
                Operand.plain(diffSrc, 0), diffScale, diffShift, null);
    }

    /**
     * As the plain form, with src, diff_dst and diff_src either plain or in the primitives' {@link #layouts};
     * with {@code config.relu()} diff_dst is the gradient of the ReLU's output and {@code workspace} the
     * forward pass's.
     */
    public static void backward(Config config, Operand src, MemorySegment mean, MemorySegment variance,
                                Operand diffDst, MemorySegment scale, MemorySegment shift, Operand diffSrc,
                                MemorySegment diffScale, MemorySegment diffShift, MemorySegment workspace) {
        Cached p = primitive(config, Pass.BACKWARD);
        MemorySegment ws = workspace(config, primitive(config, Pass.TRAINING), workspace);
        long n = config.elements();
        long c = config.c();
        // With use_shift oneDNN 2.6 expects the shift as an input too.
        int count = (config.affine() ? 9 : 5) + (ws != null ? 1 : 0);
        int[] kinds = new int[count];
        MemorySegment[] descs = new MemorySegment[count];
        MemorySegment[] data = new MemorySegment[count];
        int i = 0;
        kinds[i] = Dnnl.DNNL_ARG_SRC();
        descs[i] = p.dataDesc();
        data[i++] = data("batchNorm backward: src", src, n);
        kinds[i] = Dnnl.DNNL_ARG_MEAN();
        descs[i] = p.channelDesc();
        data[i++] = Primitives.region("batchNorm backward: mean", mean, 0, c);
        kinds[i] = Dnnl.DNNL_ARG_VARIANCE();
        descs[i] = p.channelDesc();
        data[i++] = Primitives.region("batchNorm backward: variance", variance, 0, c);
        kinds[i] = Dnnl.DNNL_ARG_DIFF_DST();
        descs[i] = p.dataDesc();
        data[i++] = data("batchNorm backward: diff_dst", diffDst, n);
        kinds[i] = Dnnl.DNNL_ARG_DIFF_SRC();
        descs[i] = p.dataDesc();
        data[i++] = data("batchNorm backward: diff_src", diffSrc, n);
        if (config.affine()) {
            kinds[i] = Dnnl.DNNL_ARG_SCALE();
            descs[i] = p.channelDesc();
            data[i++] = Primitives.region("batchNorm backward: scale", scale, 0, c);
            kinds[i] = Dnnl.DNNL_ARG_SHIFT();
            descs[i] = p.channelDesc();
            data[i++] = Primitives.region("batchNorm backward: shift", shift, 0, c);
            kinds[i] = Dnnl.DNNL_ARG_DIFF_SCALE();
            descs[i] = p.channelDesc();
            data[i++] = Primitives.region("batchNorm backward: diff_scale", diffScale, 0, c);
            kinds[i] = Dnnl.DNNL_ARG_DIFF_SHIFT();
            descs[i] = p.channelDesc();
            data[i] = Primitives.region("batchNorm backward: diff_shift", diffShift, 0, c);
        }
        if (ws != null) {
            kinds[count - 1] = Dnnl.DNNL_ARG_WORKSPACE();
            descs[count - 1] = p.primitive().workspaceDesc() != null ? p.primitive().workspaceDesc()
                    : primitive(config, Pass.TRAINING).primitive().workspaceDesc();
            data[count - 1] = ws;
        }
        // src, mean, variance, diff_dst, diff_src, then the channel-sized arguments (and the workspace).
        MemorySegment b = p.blockedData();
        MemorySegment[] wanted = {b, null, null, b, b, null, null, null, null, null};
        boolean[] outputs = {false, false, false, false, true, false, false, false, false, false};
        MemorySegment[] laid = {src.laid(), null, null, diffDst.laid(), diffSrc.laid(), null, null, null, null, null};
        Primitives.executeReordered(p.primitive(), kinds, descs, Arrays.copyOf(wanted, count), data,
                Arrays.copyOf(outputs, count), null, Arrays.copyOf(laid, count), "backward " + config);
    }

    private static Cached primitive(Config config, Pass pass) {
        return PrimitiveCache.get(new Key(config, pass), k -> {
            // The backward primitive needs the training one's descriptor as its hint: make that first.
            Cached training = pass == Pass.BACKWARD ? primitive(config, Pass.TRAINING) : null;
            return create(config, pass, training);
        }, c -> new Primitives.Primitive[] {c.primitive()}, PRIMITIVE_BYTES);
    }

    private static Cached create(Config config, Pass pass, Cached training) {
        String what = pass + " " + config;
        // Without spatial extent (batch norm over [N, C]) nchw and nhwc are the same bytes; described as
        // nhwc, oneDNN runs its vectorised kernel over the channels instead of its generic one (the DCGAN
        // generator's 6,272 features: forward and backward together 9.6 ms a step against ~1 ms).
        MemorySegment data = training != null ? training.dataDesc()
                : Primitives.f32Desc(config.dims(), config.h() * config.w() == 1 ? Dnnl.dnnl_nhwc() : Dnnl.dnnl_nchw(),
                        what);
        MemorySegment channel = training != null ? training.channelDesc()
                : Primitives.f32Desc(new long[] {config.c()}, Dnnl.dnnl_a(), what);
        MemorySegment blocked = training != null ? training.blockedData()
                : config.h() * config.w() > 1
                        ? Primitives.intern(Primitives.f32Desc(config.dims(),
                                ChannelBlock.formatTag(ChannelBlock.forChannels(config.c())), what)) : null;
        MemorySegment opData = blocked != null ? blocked : data;
        int flags = (config.affine() ? Dnnl.dnnl_use_scale() | Dnnl.dnnl_use_shift() : Dnnl.dnnl_normalization_flags_none())
                | (config.relu() ? Dnnl.dnnl_fuse_norm_relu() : 0);
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment desc = Primitives.opDesc(tmp);
            switch (pass) {
                case TRAINING -> OneDnn.check(Dnnl.dnnl_batch_normalization_forward_desc_init(desc,
                        Dnnl.dnnl_forward_training(), opData, config.eps(), flags),
                        "dnnl_batch_normalization_forward_desc_init", what);
                case INFERENCE -> OneDnn.check(Dnnl.dnnl_batch_normalization_forward_desc_init(desc,
                        Dnnl.dnnl_forward_inference(), opData, config.eps(), flags | Dnnl.dnnl_use_global_stats()),
                        "dnnl_batch_normalization_forward_desc_init", what);
                case BACKWARD -> OneDnn.check(Dnnl.dnnl_batch_normalization_backward_desc_init(desc,
                        config.affine() ? Dnnl.dnnl_backward() : Dnnl.dnnl_backward_data(), opData, opData, config.eps(),
                        flags), "dnnl_batch_normalization_backward_desc_init", what);
            }
            return new Cached(Primitives.createWithHint(desc, training != null ? training.primitive() : null,
                    pass == Pass.TRAINING, what, null), data, channel, blocked);
        }
    }
}
