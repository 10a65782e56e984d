package dev.gatun.backend;

import dev.gatun.bindings.dnnl.Dnnl;
import dev.gatun.bindings.kernels.GatunKernels;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * oneDNN 2-d convolution primitives (forward, backward-data, backward-weights) over contiguous float32
 * buffers in PyTorch's layouts: input and output NCHW, weight OIHW (seen by oneDNN as GOIHW when
 * grouped, which is the same memory), bias [O].
 *
 * <p>A primitive is created once per (kind, {@link Geometry}) and cached for the life of the process,
 * so a training step creates none after the first. Like {@link Eltwise} it runs with a user scratchpad
 * ({@code dnnl_scratchpad_mode_user}) allocated per call, so several threads may execute it at once.
 *
 * <p>The caller's buffers are plain NCHW/OIHW. With {@link Layout#BLOCKED} (the default) oneDNN chooses
 * the layouts it computes in ({@code dnnl_format_tag_any}; on AVX2 typically {@code nChw8c} activations
 * and {@code OIhw8i8o} weights, on AVX-512 {@code nChw16c} and {@code OIhw16i16o}, which its direct JIT
 * kernels need) and each call reorders into and out of them through cached reorder primitives; with
 * {@link Layout#PLAIN} it computes on the plain buffers (often an im2col + GEMM kernel).
 * {@code -Dgatun.conv.layout=plain|blocked} sets the default; see {@code bench/results/conv-layouts.md}
 * for the measurement behind it.
 */
public final class Convolution {

    /**
     * Everything that determines a convolution: N, C, H, W of the input; O and the kernel size; stride,
     * padding (the same on both sides, as in PyTorch) and dilation per spatial dimension (PyTorch's
     * convention: 1 = dense); groups; whether there is a bias. The constructor validates it all, with
     * messages that give the numbers, before any native call.
     */
    public record Geometry(long batch, long inChannels, long inHeight, long inWidth, long outChannels,
                           long kernelHeight, long kernelWidth, long strideHeight, long strideWidth,
                           long padHeight, long padWidth, long dilationHeight, long dilationWidth, long groups,
                           boolean bias) {

        public Geometry {
            if (batch < 1 || inChannels < 1 || inHeight < 1 || inWidth < 1) {
                throw new IllegalArgumentException("conv2d: input sizes must be positive, got N=" + batch + " C="
                        + inChannels + " H=" + inHeight + " W=" + inWidth);
            }
            if (outChannels < 1 || kernelHeight < 1 || kernelWidth < 1) {
                throw new IllegalArgumentException("conv2d: weight sizes must be positive, got O=" + outChannels
                        + " kernel " + kernelHeight + "×" + kernelWidth);
            }
            if (strideHeight < 1 || strideWidth < 1) {
                throw new IllegalArgumentException("conv2d: stride must be ≥ 1, got " + strideHeight + "×" + strideWidth);
            }
            if (padHeight < 0 || padWidth < 0) {
                throw new IllegalArgumentException("conv2d: padding must be ≥ 0, got " + padHeight + "×" + padWidth);
            }
            if (dilationHeight < 1 || dilationWidth < 1) {
                throw new IllegalArgumentException("conv2d: dilation must be ≥ 1, got " + dilationHeight + "×"
                        + dilationWidth);
            }
            if (groups < 1) {
                throw new IllegalArgumentException("conv2d: groups must be ≥ 1, got " + groups);
            }
            if (inChannels % groups != 0) {
                throw new IllegalArgumentException("conv2d: input channels " + inChannels + " are not divisible by groups "
                        + groups);
            }
            if (outChannels % groups != 0) {
                throw new IllegalArgumentException("conv2d: output channels " + outChannels
                        + " are not divisible by groups " + groups);
            }
            // oneDNN's kernels index a row in 32 bits: every extent stays below 2^31 (checked before any
            // product of these can overflow a long).
            long limit = Integer.MAX_VALUE;
            if (inHeight > limit || inWidth > limit || kernelHeight > limit || kernelWidth > limit
                    || strideHeight > limit || strideWidth > limit || padHeight > limit / 4 || padWidth > limit / 4
                    || dilationHeight > limit || dilationWidth > limit
                    || dilationHeight * (kernelHeight - 1) >= limit || dilationWidth * (kernelWidth - 1) >= limit
                    || inHeight + 2 * padHeight > limit || inWidth + 2 * padWidth > limit) {
                throw new IllegalArgumentException("conv2d: input " + inHeight + "×" + inWidth + ", kernel "
                        + kernelHeight + "×" + kernelWidth + ", stride " + strideHeight + "×" + strideWidth
                        + ", padding " + padHeight + "×" + padWidth + ", dilation " + dilationHeight + "×"
                        + dilationWidth
                        + ": the padded input and the kernel's extent must stay below 2^31 along each axis");
            }
            long extentH = dilationHeight * (kernelHeight - 1) + 1;
            long extentW = dilationWidth * (kernelWidth - 1) + 1;
            long paddedH = inHeight + 2 * padHeight;
            long paddedW = inWidth + 2 * padWidth;
            if (extentH > paddedH || extentW > paddedW) {
                String dil = dilationHeight == dilationWidth ? "" + dilationHeight : dilationHeight + "×" + dilationWidth;
                throw new IllegalArgumentException("conv2d: kernel " + kernelHeight + "×" + kernelWidth + " (dilation " + dil
                        + ") is larger than the padded input " + paddedH + "×" + paddedW);
            }
        }

        /** floor((H + 2p − d·(k−1) − 1) / s) + 1. */
        public long outHeight() {
            return (inHeight + 2 * padHeight - dilationHeight * (kernelHeight - 1) - 1) / strideHeight + 1;
        }

        /** floor((W + 2p − d·(k−1) − 1) / s) + 1. */
        public long outWidth() {
            return (inWidth + 2 * padWidth - dilationWidth * (kernelWidth - 1) - 1) / strideWidth + 1;
        }

        public long[] inputShape() {
            return new long[] {batch, inChannels, inHeight, inWidth};
        }

        public long[] weightShape() {
            return new long[] {outChannels, inChannels / groups, kernelHeight, kernelWidth};
        }

        public long[] outputShape() {
            return new long[] {batch, outChannels, outHeight(), outWidth()};
        }

        @Override
        public String toString() {
            return "conv2d input [" + batch + ", " + inChannels + ", " + inHeight + ", " + inWidth + "], weight ["
                    + outChannels + ", " + inChannels / groups + ", " + kernelHeight + ", " + kernelWidth + "], stride "
                    + strideHeight + "×" + strideWidth + ", padding " + padHeight + "×" + padWidth + ", dilation "
                    + dilationHeight + "×" + dilationWidth + ", groups " + groups + (bias ? ", bias" : ", no bias");
        }
    }

    /** The layouts the primitives compute in. */
    public enum Layout {
        /** NCHW/OIHW, the caller's own: no reorders. */
        PLAIN,
        /** Whatever oneDNN prefers for the shape, reordered to and from the caller's plain buffers. */
        BLOCKED
    }

    private static volatile Layout layout = parseLayout(System.getProperty("gatun.conv.layout", "blocked"));

    private static Layout parseLayout(String value) {
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "plain" -> Layout.PLAIN;
            case "blocked" -> Layout.BLOCKED;
            default -> throw new IllegalArgumentException("gatun.conv.layout must be plain or blocked, got " + value);
        };
    }

    /** The layout new calls compute in. */
    public static Layout layout() {
        return layout;
    }

    /** Sets the layout later calls compute in (primitives of both layouts stay cached). */
    public static void setLayout(Layout value) {
        layout = Objects.requireNonNull(value, "layout");
    }

    /** The passes of a convolution: training forward, inference forward, and the two backward passes. */
    public enum Kind { FORWARD, INFERENCE, BACKWARD_DATA, BACKWARD_WEIGHTS }

    /**
     * What an inference convolution does to its result before writing it, inside the same primitive
     * (oneDNN post-ops): nothing, a ReLU, or adding the destination's previous contents (a residual
     * connection) and then a ReLU.
     */
    public enum Fusion { NONE, RELU, ADD_RELU }

    /**
     * How oneDNN computes a 3×3 convolution in training: always directly, or by Winograd's F(4×4, 3×3)
     * algorithm where oneDNN has a kernel for it (in oneDNN 2.6, AVX-512 only: forward, backward data
     * and backward weights at stride 1, no dilation, one group), falling back to the direct one
     * elsewhere. Inference ({@link Kind#INFERENCE}) is always direct.
     */
    public enum Algorithm { DIRECT, WINOGRAD }

    private static volatile Algorithm algorithm =
            parseAlgorithm(System.getProperty("gatun.conv.algorithm", "winograd"));

    private static Algorithm parseAlgorithm(String value) {
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "direct" -> Algorithm.DIRECT;
            case "winograd" -> Algorithm.WINOGRAD;
            default -> throw new IllegalArgumentException("gatun.conv.algorithm must be direct or winograd, got "
                    + value);
        };
    }

    /** The algorithm new calls ask oneDNN for. */
    public static Algorithm algorithm() {
        return algorithm;
    }

    /** Sets the algorithm later calls ask oneDNN for (primitives of both stay cached). */
    public static void setAlgorithm(Algorithm value) {
        algorithm = Objects.requireNonNull(value, "algorithm");
    }

    private record Key(Kind kind, Geometry geometry, Layout layout, Fusion fusion, Algorithm algorithm) {}

    /**
     * A created primitive with the caller's plain memory descriptors (src/diff_src, weights/diff_weights,
     * bias/diff_bias or null, dst/diff_dst) and those the primitive computes in (null where the same).
     */
    private record Primitive(Primitives.Primitive primitive, Descs descs, Descs wanted, Algorithm algorithm,
                             String what) {
        ActivationLayouts layouts() {
            return new ActivationLayouts(wanted.src(), wanted.dst(), descs.src(), descs.dst());
        }
    }

    /**
     * Estimated resident bytes of one convolution primitive ({@link PrimitiveCache}): 0.47 MB of growth
     * per new batch size was measured for LeNet-5's convolutions.
     */
    private static final long PRIMITIVE_BYTES = 480 * 1024;
    private static final AtomicLong CREATED = new AtomicLong();

    private Convolution() {}

    /** How many convolution primitives this process has created; a repeated call must not raise it. */
    public static long primitivesCreated() {
        return CREATED.get();
    }

    /**
     * dst = conv(src, weights) + bias. Each buffer is given as a segment and a float offset into it and
     * holds the contiguous tensor of its {@link Geometry} shape; bias is ignored (may be null) when
     * the geometry has none.
     */
    public static void forward(Geometry g, MemorySegment src, long srcOffset, MemorySegment weights, long weightsOffset,
                               MemorySegment bias, long biasOffset, MemorySegment dst, long dstOffset) {
        forward(g, Operand.plain(src, srcOffset), weights, weightsOffset, bias, biasOffset,
                Operand.plain(dst, dstOffset));
    }

    /**
     * As {@link #forward(Geometry, MemorySegment, long, MemorySegment, long, MemorySegment, long, MemorySegment,
     * long)}, with src and dst either plain or in the pass's {@link #layouts} (then no reorder).
     */
    public static void forward(Geometry g, Operand src, MemorySegment weights, long weightsOffset,
                               MemorySegment bias, long biasOffset, Operand dst) {
        MemorySegment b = g.bias() ? region("bias", bias, biasOffset, g.outChannels()) : null;
        Primitive p = primitive(Kind.FORWARD, g, layout, Fusion.NONE);
        execute(p, p.what(),
                new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_WEIGHTS(), Dnnl.DNNL_ARG_BIAS(), Dnnl.DNNL_ARG_DST()},
                FORWARD_NAMES, new Operand[] {src, Operand.plain(weights, weightsOffset), null, dst},
                new long[][] {g.inputShape(), g.weightShape(), null, g.outputShape()}, b, DST_WRITTEN, null);
    }

    /**
     * The algorithm pass {@code kind} of geometry {@code g} runs with under the current settings: the one
     * asked for, or {@link Algorithm#DIRECT} where oneDNN has no Winograd kernel for it.
     */
    public static Algorithm algorithmUsed(Kind kind, Geometry g) {
        Geometry key = kind == Kind.BACKWARD_DATA ? withoutBias(g) : g;
        return primitive(kind, key, layout, Fusion.NONE).algorithm();
    }

    /**
     * The layouts pass {@code kind} of geometry {@code g} (with {@code fusion}, for inference) computes
     * its activations in: src and dst, or diff_src and diff_dst for backward data, src and diff_dst for
     * backward weights.
     */
    public static ActivationLayouts layouts(Kind kind, Geometry g, Fusion fusion) {
        if (kind == Kind.BACKWARD_WEIGHTS) {
            MemorySegment blocked = kernelDiffDst(g);
            if (blocked != null) {
                Descs d = primitive(Kind.FORWARD, g, layout, Fusion.NONE).descs();
                return new ActivationLayouts(null, blocked, d.src(), d.dst());
            }
        }
        Geometry key = kind == Kind.BACKWARD_DATA ? withoutBias(g) : g;
        Primitive p = primitive(kind, key, layout, kind == Kind.INFERENCE ? fusion : Fusion.NONE);
        return p.layouts();
    }

    /**
     * For inference: dst = f(conv(src, weights) + bias), f as {@code fusion} says, in one primitive. With
     * {@link Fusion#ADD_RELU}, dst holds the residual on entry: dst = relu(conv(src, weights) + bias + dst).
     * Buffers as for {@link #forward}.
     */
    public static void forwardInference(Geometry g, Fusion fusion, MemorySegment src, long srcOffset,
                                        MemorySegment weights, long weightsOffset, MemorySegment bias, long biasOffset,
                                        MemorySegment dst, long dstOffset) {
        forwardInference(g, fusion, Operand.plain(src, srcOffset), Operand.plain(weights, weightsOffset), bias,
                biasOffset, Operand.plain(dst, dstOffset));
    }

    /**
     * As the plain form, with src, weights and dst each either plain or in the inference pass's layouts
     * ({@link #layouts}, {@link #weightsLayout}): weights kept in the primitive's layout skip their
     * reorder on every call.
     */
    public static void forwardInference(Geometry g, Fusion fusion, Operand src, Operand weights, MemorySegment bias,
                                        long biasOffset, Operand dst) {
        if (fusion == null) {
            throw new IllegalArgumentException("conv2d: fusion is null");
        }
        MemorySegment b = g.bias() ? region("bias", bias, biasOffset, g.outChannels()) : null;
        Primitive p = primitive(Kind.INFERENCE, g, layout, fusion);
        execute(p, p.what(),
                new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_WEIGHTS(), Dnnl.DNNL_ARG_BIAS(), Dnnl.DNNL_ARG_DST()},
                FORWARD_NAMES, new Operand[] {src, weights, null, dst}, new long[][] {g.inputShape(), g.weightShape(), null,
                    g.outputShape()}, b, DST_WRITTEN, fusion == Fusion.ADD_RELU ? DST_WRITTEN : null);
    }

    /**
     * The layout the inference pass of {@code g} (with {@code fusion}) reads its weights in, as an
     * interned descriptor, or null when it reads the plain OIHW weights.
     */
    public static MemorySegment weightsLayout(Geometry g, Fusion fusion) {
        return primitive(Kind.INFERENCE, g, layout, fusion).wanted().weights();
    }

    /** Bytes a buffer of the weights in {@link #weightsLayout} takes. */
    public static long weightsLayoutBytes(Geometry g, Fusion fusion) {
        MemorySegment w = weightsLayout(g, fusion);
        return w == null ? 0 : Primitives.bytes(w);
    }

    /** Converts plain OIHW weights into {@link #weightsLayout} ({@code laid}), or back. */
    public static void convertWeights(Geometry g, Fusion fusion, MemorySegment plain, MemorySegment laid,
                                      boolean toLaid) {
        Primitive p = primitive(Kind.INFERENCE, g, layout, fusion);
        MemorySegment want = p.wanted().weights();
        if (want == null) {
            throw new IllegalArgumentException("conv2d: the inference pass of " + g + " reads plain weights");
        }
        MemorySegment pl = region("weights", plain, 0, count(g.weightShape()));
        if (laid.byteSize() < Primitives.bytes(want)) {
            throw new IllegalArgumentException("conv2d: a weights buffer of " + laid.byteSize() + " bytes, "
                    + Primitives.bytes(want) + " needed");
        }
        if (toLaid) {
            Primitives.reorder(p.descs().weights(), pl, want, laid);
        } else {
            Primitives.reorder(want, laid, p.descs().weights(), pl);
        }
    }

    /** diffSrc = ∂L/∂src from diffDst = ∂L/∂dst and the weights (overwrites diffSrc). */
    public static void backwardData(Geometry g, MemorySegment diffDst, long diffDstOffset, MemorySegment weights,
                                    long weightsOffset, MemorySegment diffSrc, long diffSrcOffset) {
        backwardData(g, Operand.plain(diffDst, diffDstOffset), weights, weightsOffset,
                Operand.plain(diffSrc, diffSrcOffset));
    }

    /** As the plain form, with diff_dst and diff_src either plain or in the pass's {@link #layouts}. */
    public static void backwardData(Geometry g, Operand diffDst, MemorySegment weights, long weightsOffset,
                                    Operand diffSrc) {
        // The bias plays no part in the data gradient: one primitive serves both.
        Geometry noBias = withoutBias(g);
        Primitive p = primitive(Kind.BACKWARD_DATA, noBias, layout, Fusion.NONE);
        execute(p, p.what(),
                new int[] {Dnnl.DNNL_ARG_DIFF_SRC(), Dnnl.DNNL_ARG_WEIGHTS(), 0, Dnnl.DNNL_ARG_DIFF_DST()},
                DATA_NAMES, new Operand[] {diffSrc, Operand.plain(weights, weightsOffset), null, diffDst},
                new long[][] {g.inputShape(), g.weightShape(), null, g.outputShape()}, null, SRC_WRITTEN, null);
    }

    /**
     * diffWeights = ∂L/∂weights and, when the geometry has a bias, diffBias = ∂L/∂bias, from the forward
     * input src and diffDst (overwrites both).
     */
    public static void backwardWeights(Geometry g, MemorySegment src, long srcOffset, MemorySegment diffDst,
                                       long diffDstOffset, MemorySegment diffWeights, long diffWeightsOffset,
                                       MemorySegment diffBias, long diffBiasOffset) {
        backwardWeights(g, Operand.plain(src, srcOffset), Operand.plain(diffDst, diffDstOffset), diffWeights,
                diffWeightsOffset, diffBias, diffBiasOffset);
    }

    /** As the plain form, with src and diff_dst either plain or in the pass's {@link #layouts}. */
    public static void backwardWeights(Geometry g, Operand src, Operand diffDst, MemorySegment diffWeights,
                                       long diffWeightsOffset, MemorySegment diffBias, long diffBiasOffset) {
        MemorySegment db = g.bias() ? region("diff_bias", diffBias, diffBiasOffset, g.outChannels()) : null;
        MemorySegment blocked = kernelDiffDst(g);
        if (blocked != null) {
            kernelBackwardWeights(g, blocked, src, diffDst,
                    region("diff_weights", diffWeights, diffWeightsOffset, count(g.weightShape())), db);
            return;
        }
        Primitive p = primitive(Kind.BACKWARD_WEIGHTS, g, layout, Fusion.NONE);
        execute(p, p.what(),
                new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_DIFF_WEIGHTS(), Dnnl.DNNL_ARG_DIFF_BIAS(),
                    Dnnl.DNNL_ARG_DIFF_DST()},
                WEIGHTS_NAMES, new Operand[] {src, Operand.plain(diffWeights, diffWeightsOffset), null, diffDst},
                new long[][] {g.inputShape(), g.weightShape(), null, g.outputShape()}, db, WEIGHTS_WRITTEN, null);
    }

    /**
     * Whether the weight gradient of {@code g} runs on gatun's kernel
     * ({@code gatun_conv_backward_weights_plain_src}) rather than on oneDNN: when the forward pass keeps
     * the input plain (few input channels) and writes its output in its {@link #block}'s layout, in
     * one group. oneDNN's own choice there, a plain im2col + GEMM pass behind a reorder of the output
     * gradient to plain, took 4.9 ms of a LeNet-5 training step (64×1×28×28 input, 20 5×5 filters) on
     * AVX-512. {@code -Dgatun.conv.weightKernel=false} turns the kernel off.
     */
    public static boolean weightGradientOnKernel(Geometry g) {
        return kernelDiffDst(g) != null;
    }

    private static final boolean WEIGHT_KERNEL =
            Boolean.parseBoolean(System.getProperty("gatun.conv.weightKernel", "true"));

    /** The output gradient's blocked layout when the weight gradient runs on gatun's kernel, else null. */
    private static MemorySegment kernelDiffDst(Geometry g) {
        if (!WEIGHT_KERNEL || g.groups() != 1 || layout != Layout.BLOCKED) {
            return null;
        }
        Primitive forward = primitive(Kind.FORWARD, g, layout, Fusion.NONE);
        MemorySegment dst = forward.wanted().dst();
        if (forward.wanted().src() != null || dst == null) {
            return null;
        }
        // Interned descriptors: the same layout is the same object.
        return blockedOutput(g) == dst ? dst : null;
    }

    /** The output shape of {@code g} in its {@link #block}'s layout, interned. */
    private static MemorySegment blockedOutput(Geometry g) {
        return BLOCKED_OUTPUTS.computeIfAbsent(new OutputKey(g.outputShape(), block(g)),
                k -> Primitives.intern(Primitives.f32Desc(k.dims(), ChannelBlock.formatTag(k.block()), g.toString())));
    }

    /** An output shape and a channel block, as a key with value semantics. */
    private record OutputKey(long n, long c, long h, long w, int block) {
        OutputKey(long[] dims, int block) {
            this(dims[0], dims[1], dims[2], dims[3], block);
        }

        long[] dims() {
            return new long[] {n, c, h, w};
        }
    }

    /** The blocked layout of each output shape and block, interned. */
    private static final ConcurrentHashMap<OutputKey, MemorySegment> BLOCKED_OUTPUTS = new ConcurrentHashMap<>();

    /**
     * The channel block {@code g} computes its blocked activations in: {@link ChannelBlock}'s block of its
     * output channels, or 8 where its input has 16 channels or more (oneDNN blocks it then) and those
     * take 8. Both sides of a convolution share one block in oneDNN's kernels. Grouped convolutions are
     * left to oneDNN's choice, the widest block.
     */
    public static int block(Geometry g) {
        if (g.groups() != 1) {
            return ChannelBlock.widest();
        }
        int out = ChannelBlock.forChannels(g.outChannels());
        return out == 16 && g.inChannels() >= 16 && ChannelBlock.forChannels(g.inChannels()) == 8 ? 8 : out;
    }

    private static final boolean CHANNELS_LAST =
            Boolean.parseBoolean(System.getProperty("gatun.conv.channelsLast", "true"));

    /**
     * Whether {@code g}'s training passes compute channels-last ({@code nhwc}) instead of in 16-channel
     * blocks: where 16-blocks would pad the channel pairs by half or more (from 16 input channels, one
     * group, on full-width AVX-512, where every count takes 16-blocks). Channels-last pads nothing, and
     * oneDNN 2.6 runs its forward pass on its brgemm kernel. Measured on the 2-core Zen 5, batch 64, two
     * threads, in C on oneDNN (forward, backward data, backward weights, ms): LeNet-5's 20 → 50, 5×5 at
     * 14×14 1.84-1.90, 2.14-2.26, 1.71-1.76 channels-last against 2.81-2.88, 2.82-2.92, 2.92-3.29 in
     * 16-blocks (which pad its channel pairs 2.05 times); 24 → 40, 3×3 (1.6 times) 0.62, 0.70, 0.73 against
     * 0.86, 0.88, 0.86; but 32 → 32 (no padding) 2.95, 3.44, 4.06 against 3.26, 3.28, 3.36, and with few
     * input channels (1 → 20, 3 → 32, which gatun keeps plain) its forward and weight passes were slower.
     * {@code -Dgatun.conv.channelsLast=false} turns it off.
     */
    public static boolean trainsChannelsLast(Geometry g) {
        if (!CHANNELS_LAST || g.groups() != 1 || g.inChannels() < 16 || ChannelBlock.widest() != 16
                || ChannelBlock.padsLeast() || block(g) != 16) {
            return false;
        }
        long in = g.inChannels();
        long out = g.outChannels();
        double padded = (double) ((in + 15) / 16 * 16) * ((out + 15) / 16 * 16);
        return padded >= 1.5 * in * out;
    }

    /** Channels-last activations (source and destination) and weights of oneDNN's choice. */
    private static Descs channelsLastDescs(Geometry g) {
        String what = g.toString();
        Descs any = anyDescs(g);
        return new Descs(Primitives.f32Desc(g.inputShape(), Dnnl.dnnl_nhwc(), what), any.weights(), null,
                Primitives.f32Desc(g.outputShape(), Dnnl.dnnl_nhwc(), what));
    }

    /**
     * Whether {@code g}'s blocked layouts are pinned to 8-channel blocks, narrower than oneDNN would choose
     * (it picks the widest its kernels have).
     */
    private static boolean narrowed(Geometry g) {
        return block(g) < ChannelBlock.widest();
    }

    /**
     * diff_weights (and diff_bias when not null) on gatun's kernel, from the plain src and diff_dst, laid
     * in {@code blocked} or plain (then reordered into a temporary blocked buffer first).
     */
    private static void kernelBackwardWeights(Geometry g, MemorySegment blocked, Operand src, Operand diffDst,
                                              MemorySegment diffWeights, MemorySegment diffBias) {
        if (src.laid() != null) {
            throw new IllegalArgumentException("conv2d: src of the weight gradient of " + g + " must be plain");
        }
        MemorySegment s = region("src", src.plain(), src.offset(), count(g.inputShape()));
        try (Arena call = Arena.ofConfined()) {
            MemorySegment d = Primitives.laidOrCopy(call, diffDst, count(g.outputShape()),
                    primitive(Kind.FORWARD, g, layout, Fusion.NONE).descs().dst(), blocked, true, "conv2d: diff_dst");
            NativeLibraries.load();
            Threads.applyToCurrentThread();
            int status = GatunKernels.gatun_conv_backward_weights_plain_src(s, d, diffWeights,
                    diffBias == null ? MemorySegment.NULL : diffBias, block(g), g.batch(), g.inChannels(),
                    g.inHeight(), g.inWidth(), g.outChannels(), g.outHeight(), g.outWidth(),
                    Math.toIntExact(g.kernelHeight()), Math.toIntExact(g.kernelWidth()),
                    Math.toIntExact(g.strideHeight()), Math.toIntExact(g.strideWidth()),
                    Math.toIntExact(g.padHeight()), Math.toIntExact(g.padWidth()),
                    Math.toIntExact(g.dilationHeight()), Math.toIntExact(g.dilationWidth()));
            if (status != 0) {
                throw new OutOfMemoryError("conv2d: the weight-gradient kernel could not allocate a row buffer for "
                        + g);
            }
        }
    }

    private static Geometry withoutBias(Geometry g) {
        return !g.bias() ? g : new Geometry(g.batch(), g.inChannels(), g.inHeight(), g.inWidth(), g.outChannels(),
                g.kernelHeight(), g.kernelWidth(), g.strideHeight(), g.strideWidth(), g.padHeight(), g.padWidth(),
                g.dilationHeight(), g.dilationWidth(), g.groups(), false);
    }

    private static long count(long[] shape) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    private static MemorySegment region(String name, MemorySegment seg, long offset, long length) {
        if (seg == null) {
            throw new IllegalArgumentException("conv2d: " + name + " is missing");
        }
        return Primitives.region("conv2d: " + name, seg, offset, length);
    }

    /** Which of the four (src, weights, bias, dst) arguments each kind writes. */
    private static final boolean[] DST_WRITTEN = {false, false, false, true};
    private static final boolean[] SRC_WRITTEN = {true, false, false, false};
    private static final boolean[] WEIGHTS_WRITTEN = {false, true, true, false};

    /** The names of the four argument positions in messages, per pass. */
    private static final String[] FORWARD_NAMES = {"src", "weights", "bias", "dst"};
    private static final String[] DATA_NAMES = {"diff_src", "weights", "bias", "diff_dst"};
    private static final String[] WEIGHTS_NAMES = {"src", "diff_weights", "diff_bias", "diff_dst"};

    /**
     * Runs p with its four arguments in the order of its descriptors: src-like, weights-like, bias-like,
     * dst-like. The three array positions are operands, each a plain region (checked here against its
     * shape in {@code shapes}) or a buffer already in the primitive's layout; the bias is a checked
     * segment or null (no bias, left out). {@code written} marks the arguments the pass writes and
     * {@code read} (null: none) those written arguments whose previous contents it also reads.
     */
    private static void execute(Primitive p, String what, int[] argIds, String[] names, Operand[] operands,
                                long[][] shapes, MemorySegment bias, boolean[] written, boolean[] read) {
        MemorySegment[] buffers = new MemorySegment[4];
        MemorySegment[] laid = null;
        for (int i = 0; i < 4; i++) {
            Operand o = operands[i];
            if (o == null) {
                buffers[i] = bias;
                continue;
            }
            if (o.laid() != null) {
                if (laid == null) laid = new MemorySegment[4];
                laid[i] = o.laid();
                buffers[i] = o.laid();
            } else {
                buffers[i] = region(names[i], o.plain(), o.offset(), count(shapes[i]));
            }
        }
        execute(p, what, argIds, buffers, written, read, laid);
    }

    /**
     * Runs p with its four buffers (a null one, no bias, is left out), reordering into and out of the
     * layouts it computes in except where {@code laidByPosition} gives a buffer already in them.
     */
    private static void execute(Primitive p, String what, int[] argIds, MemorySegment[] buffers, boolean[] written,
                                boolean[] read, MemorySegment[] laidByPosition) {
        Descs d = p.descs();
        Descs w = p.wanted();
        MemorySegment[] descs = {d.src(), d.weights(), d.bias(), d.dst()};
        MemorySegment[] wanted = {w.src(), w.weights(), w.bias(), w.dst()};
        int n = 0;
        for (MemorySegment b : buffers) {
            if (b != null) n++;
        }
        int[] kinds = new int[n];
        MemorySegment[] mds = new MemorySegment[n];
        MemorySegment[] primMds = new MemorySegment[n];
        MemorySegment[] data = new MemorySegment[n];
        boolean[] outputs = new boolean[n];
        boolean[] alsoRead = read == null ? null : new boolean[n];
        MemorySegment[] laid = laidByPosition == null ? null : new MemorySegment[n];
        for (int i = 0, k = 0; i < 4; i++) {
            if (buffers[i] == null) continue;
            kinds[k] = argIds[i];
            mds[k] = descs[i];
            primMds[k] = wanted[i];
            outputs[k] = written[i];
            if (alsoRead != null) alsoRead[k] = read[i];
            if (laid != null) laid[k] = laidByPosition[i];
            data[k++] = buffers[i];
        }
        Primitives.executeReordered(p.primitive(), kinds, mds, primMds, data, outputs, alsoRead, laid, what);
    }

    // ---------------------------------------------------------------- primitive creation

    /** The memory descriptors of one geometry, for the process's life like the primitives that use them. */
    private record Descs(MemorySegment src, MemorySegment weights, MemorySegment bias, MemorySegment dst) {}

    private static Descs descs(Geometry g) {
        String what = g.toString();
        MemorySegment src = Primitives.f32Desc(g.inputShape(), Dnnl.dnnl_nchw(), what);
        MemorySegment weights;
        if (g.groups() == 1) {
            weights = Primitives.f32Desc(g.weightShape(), Dnnl.dnnl_oihw(), what);
        } else {
            // PyTorch's [O, I/G, KH, KW] is, in memory, [G, O/G, I/G, KH, KW].
            weights = Primitives.f32Desc(new long[] {g.groups(), g.outChannels() / g.groups(),
                g.inChannels() / g.groups(), g.kernelHeight(), g.kernelWidth()}, Dnnl.dnnl_goihw(), what);
        }
        MemorySegment bias = g.bias() ? Primitives.f32Desc(new long[] {g.outChannels()}, Dnnl.dnnl_x(), what) : null;
        MemorySegment dst = Primitives.f32Desc(g.outputShape(), Dnnl.dnnl_nchw(), what);
        return new Descs(src, weights, bias, dst);
    }

    /** Marks in the cache a Winograd primitive oneDNN has no kernel for. */
    private static final Primitive UNAVAILABLE = new Primitive(null, null, null, Algorithm.WINOGRAD, null);

    private static Primitive primitive(Kind kind, Geometry g, Layout layout, Fusion fusion) {
        // Inference keeps its weights pre-laid (Conv.weightsForInference), and oneDNN cannot reorder its
        // Winograd weights format back to plain: inference stays direct.
        if (algorithm == Algorithm.WINOGRAD && kind != Kind.INFERENCE && winogradShape(g) && !narrowed(g)) {
            Primitive p = primitive(kind, g, layout, fusion, Algorithm.WINOGRAD);
            if (p != UNAVAILABLE) {
                return p;
            }
        }
        return primitive(kind, g, layout, fusion, Algorithm.DIRECT);
    }

    /**
     * 3×3, stride 1, dense, one group: the shapes oneDNN 2.6's Winograd kernels are written for; and at
     * least 16 input channels. With fewer, oneDNN pads the input to 16 channels for Winograd, where the
     * direct pass reads it plain: for the ResNet's first convolution (3 → 32 channels, 32×32, batch 32)
     * Winograd took 2.5 ms forward against 0.4 ms direct.
     */
    private static boolean winogradShape(Geometry g) {
        return g.kernelHeight() == 3 && g.kernelWidth() == 3 && g.strideHeight() == 1 && g.strideWidth() == 1
                && g.dilationHeight() == 1 && g.dilationWidth() == 1 && g.groups() == 1 && g.inChannels() >= 16;
    }

    /** The cached primitive of that algorithm; {@link #UNAVAILABLE} where oneDNN has no Winograd kernel. */
    private static Primitive primitive(Kind kind, Geometry g, Layout layout, Fusion fusion, Algorithm alg) {
        return PrimitiveCache.get(new Key(kind, g, layout, fusion, alg), k -> {
            // A backward primitive needs the forward-training descriptor of the same geometry and
            // algorithm as its hint.
            boolean isForward = kind == Kind.FORWARD || kind == Kind.INFERENCE;
            Primitive forward = isForward ? null : primitive(Kind.FORWARD, g, layout, Fusion.NONE, alg);
            if (forward == UNAVAILABLE) {
                return UNAVAILABLE;
            }
            if (alg == Algorithm.DIRECT) {
                return create((Key) k, forward);
            }
            try {
                return create((Key) k, forward);
            } catch (DnnlException e) {
                if (e.status() == Dnnl.dnnl_unimplemented()) {
                    return UNAVAILABLE;
                }
                throw e;
            }
        }, p -> p == UNAVAILABLE ? new Primitives.Primitive[0] : new Primitives.Primitive[] {p.primitive()},
                PRIMITIVE_BYTES);
    }

    private static Primitive create(Key key, Primitive forward) {
        Geometry g = key.geometry();
        String detail = key.kind() + " " + g;
        Descs d = forward != null ? forward.descs() : descs(g);
        // The descriptors the op is defined on: the plain ones, or "any" for oneDNN to choose. When the
        // forward pass kept src plain (few input channels), the backward passes run plain too: blocked,
        // they would pad src to eight channels, and a plain src beside a blocked diff_dst has only the
        // reference kernel.
        boolean plain = key.layout() == Layout.PLAIN || forward != null && forward.wanted().src() == null;
        boolean last = !plain && key.kind() != Kind.INFERENCE && key.algorithm() == Algorithm.DIRECT
                && trainsChannelsLast(g);
        Descs op = plain ? d : last ? channelsLastDescs(g) : narrowed(g) ? narrowedDescs(g, forward) : anyDescs(g);
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment strides = Primitives.dims(tmp, g.strideHeight(), g.strideWidth());
            // oneDNN counts dilation from 0 (dense); PyTorch from 1.
            MemorySegment dilates = Primitives.dims(tmp, g.dilationHeight() - 1, g.dilationWidth() - 1);
            // PyTorch pads both sides alike; oneDNN's integer division floors the output size just as
            // PyTorch does, so the right padding is the same as the left.
            MemorySegment padding = Primitives.dims(tmp, g.padHeight(), g.padWidth());
            MemorySegment desc = Primitives.opDesc(tmp);
            int alg = key.algorithm() == Algorithm.WINOGRAD ? Dnnl.dnnl_convolution_winograd()
                    : Dnnl.dnnl_convolution_direct();
            int[] queries;
            switch (key.kind()) {
                case FORWARD, INFERENCE -> {
                    int propagation = key.kind() == Kind.FORWARD ? Dnnl.dnnl_forward_training()
                            : Dnnl.dnnl_forward_inference();
                    OneDnn.check(Dnnl.dnnl_dilated_convolution_forward_desc_init(desc, propagation, alg, op.src(),
                            op.weights(), orNull(d.bias()), op.dst(), strides, dilates, padding, padding),
                            "dnnl_dilated_convolution_forward_desc_init", detail);
                    queries = new int[] {Dnnl.dnnl_query_src_md(), Dnnl.dnnl_query_weights_md(),
                        Dnnl.dnnl_query_dst_md()};
                }
                case BACKWARD_DATA -> {
                    OneDnn.check(Dnnl.dnnl_dilated_convolution_backward_data_desc_init(desc, alg, op.src(),
                            op.weights(), op.dst(), strides, dilates, padding, padding),
                            "dnnl_dilated_convolution_backward_data_desc_init", detail);
                    queries = new int[] {Dnnl.dnnl_query_diff_src_md(), Dnnl.dnnl_query_weights_md(),
                        Dnnl.dnnl_query_diff_dst_md()};
                }
                case BACKWARD_WEIGHTS -> {
                    OneDnn.check(Dnnl.dnnl_dilated_convolution_backward_weights_desc_init(desc, alg, op.src(),
                            op.weights(), orNull(d.bias()), op.dst(), strides, dilates, padding, padding),
                            "dnnl_dilated_convolution_backward_weights_desc_init", detail);
                    queries = new int[] {Dnnl.dnnl_query_src_md(), Dnnl.dnnl_query_diff_weights_md(),
                        Dnnl.dnnl_query_diff_dst_md()};
                }
                default -> throw new AssertionError(key.kind());
            }
            Primitives.Primitive p = Primitives.createWithHint(desc, forward != null ? forward.primitive() : null,
                    key.kind() == Kind.FORWARD, detail, postOps(key.fusion()), queries);
            CREATED.incrementAndGet();
            Descs wanted = new Descs(Primitives.intern(unlessSame(p.queried(0), d.src())),
                    Primitives.intern(unlessSame(p.queried(1), d.weights())), null,
                    Primitives.intern(unlessSame(p.queried(2), d.dst())));
            // The pass's description for messages, made once (building it on every call showed in profiles).
            String what = (key.kind() == Kind.INFERENCE ? "inference " + key.fusion() : key.kind().toString()
                    .toLowerCase(Locale.ROOT).replace('_', ' ')) + " " + g;
            return new Primitive(p, d, wanted, key.algorithm(), what);
        }
    }

    /** The post-ops attribute setter of a fusion; null when there is nothing to fuse. */
    static Primitives.Attributes postOps(Fusion fusion) {
        if (fusion == Fusion.NONE) {
            return null;
        }
        return (tmp, attr) -> {
            MemorySegment out = tmp.allocate(ValueLayout.ADDRESS);
            OneDnn.check(Dnnl.dnnl_post_ops_create(out), "dnnl_post_ops_create");
            MemorySegment ops = out.get(ValueLayout.ADDRESS, 0);
            try {
                if (fusion == Fusion.ADD_RELU) {
                    OneDnn.check(Dnnl.dnnl_post_ops_append_sum(ops, 1f), "dnnl_post_ops_append_sum");
                }
                OneDnn.check(Dnnl.dnnl_post_ops_append_eltwise(ops, 1f, Dnnl.dnnl_eltwise_relu(), 0f, 0f),
                        "dnnl_post_ops_append_eltwise");
                OneDnn.check(Dnnl.dnnl_primitive_attr_set_post_ops(attr, ops), "dnnl_primitive_attr_set_post_ops");
            } finally {
                Dnnl.dnnl_post_ops_destroy(ops);
            }
        };
    }

    /** Descriptors of the geometry's shapes with {@code dnnl_format_tag_any}, bias left out. */
    private static Descs anyDescs(Geometry g) {
        String what = g.toString();
        int any = Dnnl.dnnl_format_tag_any();
        long[] weightDims = g.groups() == 1 ? g.weightShape() : new long[] {g.groups(), g.outChannels() / g.groups(),
            g.inChannels() / g.groups(), g.kernelHeight(), g.kernelWidth()};
        return new Descs(Primitives.f32Desc(g.inputShape(), any, what), Primitives.f32Desc(weightDims, any, what), null,
                Primitives.f32Desc(g.outputShape(), any, what));
    }

    /**
     * Descriptors for a {@link #narrowed} geometry: the output (or its gradient) in 8-channel blocks, which
     * only the AVX2 kernels take; the input as the forward pass chose it (its own choice, "any", for the
     * forward pass itself); the weights left to oneDNN.
     */
    private static Descs narrowedDescs(Geometry g, Primitive forward) {
        Descs any = anyDescs(g);
        MemorySegment src = forward != null ? forward.wanted().src() : any.src();
        return new Descs(src, any.weights(), null, blockedOutput(g));
    }

    /** The primitive's descriptor, or null when it is the caller's layout (no reorder needed). */
    private static MemorySegment unlessSame(MemorySegment chosen, MemorySegment plain) {
        return chosen == null || Primitives.sameLayout(chosen, plain) ? null : chosen;
    }

    private static MemorySegment orNull(MemorySegment md) {
        return md == null ? MemorySegment.NULL : md;
    }
}
