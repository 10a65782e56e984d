package dev.gatun.backend;

import dev.gatun.bindings.dnnl.Dnnl;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;

/**
 * oneDNN 2-d deconvolution (transposed convolution) primitives, forward, backward-data and
 * backward-weights, over contiguous float32 buffers in PyTorch's layouts: input and output NCHW, weight
 * [C_in, C_out/groups, KH, KW] ({@code iohw} to oneDNN, or {@code giohw} grouped: the same memory), bias
 * [C_out].
 *
 * <p>Primitives are created once per (pass, {@link Geometry}, layout) and kept in the one
 * {@link PrimitiveCache}; like {@link Convolution} they run with a user scratchpad per call, so several
 * threads may execute one at once. With {@link Convolution.Layout#BLOCKED} oneDNN chooses the layouts it
 * computes in and each call reorders into and out of them (or takes an operand already laid out so, see
 * {@link #layouts}); with {@link Convolution.Layout#PLAIN} it computes on the plain buffers.
 * {@code -Dgatun.deconv.layout=plain|blocked} sets the default, blocked: the DCGAN generator's 128 → 64
 * channel layer (batch 64, 7×7 to 14×14, kernel 4, stride 2, one thread, AVX-512) took 16.5 ms forward and
 * backward blocked against 28.9 ms plain, its 64 → 1 channel layer the same either way, since a layer whose
 * blocked activations would be mostly padding runs plain (measured on a shared machine, best of 30).
 *
 * <p>PyTorch's {@code output_padding} adds rows and columns at the bottom and right, which oneDNN
 * expresses as a right padding of {@code padding − output_padding}. Where that would be negative (the
 * output padding exceeds the padding), the extra rows and columns lie past every kernel tap and hold
 * the bias alone: the primitive then computes the output without them (right padding 0) into a
 * temporary buffer and this class fills them in, so no negative padding ever reaches oneDNN.
 */
public final class Deconvolution {

    /**
     * Everything that determines a transposed convolution: N, C_in, H, W of the input; C_out and the
     * kernel size; stride, padding (both sides alike), output padding (bottom and right) and dilation per
     * spatial dimension (PyTorch's conventions: dilation 1 = dense); groups; whether there is a bias. The
     * constructor checks it all, with messages that give the numbers, before any native call.
     */
    public record Geometry(long batch, long inChannels, long inHeight, long inWidth, long outChannels,
                           long kernelHeight, long kernelWidth, long strideHeight, long strideWidth,
                           long padHeight, long padWidth, long outputPadHeight, long outputPadWidth,
                           long dilationHeight, long dilationWidth, long groups, boolean bias) {

        public Geometry {
            String op = "conv_transpose2d: ";
            if (batch < 1 || inChannels < 1 || inHeight < 1 || inWidth < 1) {
                throw new IllegalArgumentException(op + "input sizes must be positive, got N=" + batch + " C="
                        + inChannels + " H=" + inHeight + " W=" + inWidth);
            }
            if (outChannels < 1 || kernelHeight < 1 || kernelWidth < 1) {
                throw new IllegalArgumentException(op + "weight sizes must be positive, got output channels "
                        + outChannels + ", kernel " + kernelHeight + "×" + kernelWidth);
            }
            if (strideHeight < 1 || strideWidth < 1) {
                throw new IllegalArgumentException(op + "stride must be ≥ 1, got " + strideHeight + "×"
                        + strideWidth);
            }
            if (padHeight < 0 || padWidth < 0) {
                throw new IllegalArgumentException(op + "padding must be ≥ 0, got " + padHeight + "×" + padWidth);
            }
            if (dilationHeight < 1 || dilationWidth < 1) {
                throw new IllegalArgumentException(op + "dilation must be ≥ 1, got " + dilationHeight + "×"
                        + dilationWidth);
            }
            if (outputPadHeight < 0 || outputPadWidth < 0) {
                throw new IllegalArgumentException(op + "output padding must be ≥ 0, got " + outputPadHeight + "×"
                        + outputPadWidth);
            }
            // PyTorch's rule: an output padding of a stride or more would add rows no input position maps to
            // under either the stride or the dilation.
            if (outputPadHeight >= Math.max(strideHeight, dilationHeight)
                    || outputPadWidth >= Math.max(strideWidth, dilationWidth)) {
                throw new IllegalArgumentException(op + "output padding must be smaller than either stride or"
                        + " dilation, got output padding " + outputPadHeight + "×" + outputPadWidth + ", stride "
                        + strideHeight + "×" + strideWidth + ", dilation " + dilationHeight + "×" + dilationWidth);
            }
            if (groups < 1) {
                throw new IllegalArgumentException(op + "groups must be ≥ 1, got " + groups);
            }
            if (inChannels % groups != 0) {
                throw new IllegalArgumentException(op + "input channels " + inChannels
                        + " are not divisible by groups " + groups);
            }
            if (outChannels % groups != 0) {
                throw new IllegalArgumentException(op + "output channels " + outChannels
                        + " are not divisible by groups " + groups);
            }
            long oh = outSize(inHeight, kernelHeight, strideHeight, padHeight, outputPadHeight, dilationHeight);
            long ow = outSize(inWidth, kernelWidth, strideWidth, padWidth, outputPadWidth, dilationWidth);
            if (oh < 1 || ow < 1) {
                throw new IllegalArgumentException(op + "the output size " + oh + "×" + ow + " is not positive:"
                        + " (H − 1)·stride − 2·padding + dilation·(kernel − 1) + output padding + 1 with H×W "
                        + inHeight + "×" + inWidth + ", kernel " + kernelHeight + "×" + kernelWidth + ", stride "
                        + strideHeight + "×" + strideWidth + ", padding " + padHeight + "×" + padWidth
                        + ", dilation " + dilationHeight + "×" + dilationWidth + ", output padding "
                        + outputPadHeight + "×" + outputPadWidth);
            }
            long outputs;
            try {
                outputs = Math.multiplyExact(Math.multiplyExact(batch, outChannels), Math.multiplyExact(oh, ow));
                Math.multiplyExact(Math.multiplyExact(inChannels, outChannels / groups),
                        Math.multiplyExact(kernelHeight, kernelWidth));
                Math.multiplyExact(Math.multiplyExact(batch, inChannels), Math.multiplyExact(inHeight, inWidth));
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException(op + "a tensor of input [" + batch + ", " + inChannels + ", "
                        + inHeight + ", " + inWidth + "], output [" + batch + ", " + outChannels + ", " + oh + ", "
                        + ow + "] or weight [" + inChannels + ", " + outChannels / groups + ", " + kernelHeight
                        + ", " + kernelWidth + "] has more elements than a long counts");
            }
            // Refused here, before oneDNN sees the geometry: such an output can only end in an out-of-memory failure.
            if (outputs > Machine.physicalMemory() / Float.BYTES) {
                throw new IllegalArgumentException(op + "the output [" + batch + ", " + outChannels + ", " + oh + ", "
                        + ow + "] needs " + Machine.formatBytes((double) outputs * Float.BYTES) + " of memory, more"
                        + " than this machine's " + Machine.formatBytes(Machine.physicalMemory()));
            }
        }

        /**
         * (in − 1)·s − 2p + d·(k − 1) + op + 1, or Long.MIN_VALUE when that overflows (an absurd geometry,
         * refused as a non-positive size).
         */
        private static long outSize(long in, long k, long s, long p, long op, long d) {
            try {
                long span = Math.addExact(Math.multiplyExact(in - 1, s), Math.multiplyExact(d, k - 1));
                return Math.addExact(Math.subtractExact(span, Math.multiplyExact(2, p)), op + 1);
            } catch (ArithmeticException e) {
                return Long.MIN_VALUE;
            }
        }

        /** (H − 1)·s − 2p + d·(k − 1) + output padding + 1. */
        public long outHeight() {
            return outSize(inHeight, kernelHeight, strideHeight, padHeight, outputPadHeight, dilationHeight);
        }

        /** (W − 1)·s − 2p + d·(k − 1) + output padding + 1. */
        public long outWidth() {
            return outSize(inWidth, kernelWidth, strideWidth, padWidth, outputPadWidth, dilationWidth);
        }

        /** [N, C_in, H, W]. */
        public long[] inputShape() {
            return new long[] {batch, inChannels, inHeight, inWidth};
        }

        /** PyTorch's [C_in, C_out/groups, KH, KW]. */
        public long[] weightShape() {
            return new long[] {inChannels, outChannels / groups, kernelHeight, kernelWidth};
        }

        /** [N, C_out, OH, OW]. */
        public long[] outputShape() {
            return new long[] {batch, outChannels, outHeight(), outWidth()};
        }

        /**
         * Whether the output has rows or columns past every kernel tap (output padding above padding),
         * which hold the bias alone and which the primitive does not compute.
         */
        public boolean hasTail() {
            return outputPadHeight > padHeight || outputPadWidth > padWidth;
        }

        /** The rows and columns the primitive computes: the output without its {@link #hasTail tail}. */
        long coreHeight() {
            return outHeight() - Math.max(0, outputPadHeight - padHeight);
        }

        long coreWidth() {
            return outWidth() - Math.max(0, outputPadWidth - padWidth);
        }

        /** The geometry of the part the primitive computes, right padding clamped at 0; not for an empty core. */
        Geometry core() {
            return !hasTail() ? this : new Geometry(batch, inChannels, inHeight, inWidth, outChannels, kernelHeight,
                    kernelWidth, strideHeight, strideWidth, padHeight, padWidth, Math.min(outputPadHeight, padHeight),
                    Math.min(outputPadWidth, padWidth), dilationHeight, dilationWidth, groups, bias);
        }

        /** Whether the computed part is empty: then every output element is the bias. */
        boolean emptyCore() {
            return coreHeight() < 1 || coreWidth() < 1;
        }

        @Override
        public String toString() {
            return "conv_transpose2d input [" + batch + ", " + inChannels + ", " + inHeight + ", " + inWidth
                    + "], weight [" + inChannels + ", " + outChannels / groups + ", " + kernelHeight + ", "
                    + kernelWidth + "], stride " + strideHeight + "×" + strideWidth + ", padding " + padHeight + "×"
                    + padWidth + ", output padding " + outputPadHeight + "×" + outputPadWidth + ", dilation "
                    + dilationHeight + "×" + dilationWidth + ", groups " + groups + (bias ? ", bias" : ", no bias");
        }
    }

    /** The passes of a transposed convolution. */
    public enum Kind { FORWARD, BACKWARD_DATA, BACKWARD_WEIGHTS }

    private static volatile Convolution.Layout layout =
            parseLayout(System.getProperty("gatun.deconv.layout", "blocked"));

    private static Convolution.Layout parseLayout(String value) {
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "plain" -> Convolution.Layout.PLAIN;
            case "blocked" -> Convolution.Layout.BLOCKED;
            default -> throw new IllegalArgumentException("gatun.deconv.layout must be plain or blocked, got " + value);
        };
    }

    /** The layout new calls compute in. */
    public static Convolution.Layout layout() {
        return layout;
    }

    /** Sets the layout later calls compute in (primitives of both layouts stay cached). */
    public static void setLayout(Convolution.Layout value) {
        layout = Objects.requireNonNull(value, "layout");
    }

    private record Key(Kind kind, Geometry geometry, Convolution.Layout layout) {}

    /** The caller's plain descriptors (bias null when none) and those the primitive computes in (null: same). */
    private record Descs(MemorySegment src, MemorySegment weights, MemorySegment bias, MemorySegment dst) {}

    /** A created primitive with its descriptors and its pass's description for messages (made once). */
    private record Primitive(Primitives.Primitive primitive, Descs descs, Descs wanted, String what) {
        ActivationLayouts layouts() {
            return new ActivationLayouts(wanted.src(), wanted.dst(), descs.src(), descs.dst());
        }
    }

    /** Estimated resident bytes of one primitive, as for a convolution's ({@link PrimitiveCache}). */
    private static final long PRIMITIVE_BYTES = 480 * 1024;
    private static final AtomicLong CREATED = new AtomicLong();
    private static final ActivationLayouts PLAIN = new ActivationLayouts(null, null, null, null);

    private Deconvolution() {}

    /** How many deconvolution primitives this process has created; a repeated call must not raise it. */
    public static long primitivesCreated() {
        return CREATED.get();
    }

    /**
     * The layouts pass {@code kind} of {@code g} computes its activations in: src and dst for the forward
     * pass, diff_src and diff_dst for backward data, src and diff_dst for backward weights; all null
     * (plain) when the output has a {@link Geometry#hasTail tail}, which is computed through a plain buffer.
     */
    public static ActivationLayouts layouts(Kind kind, Geometry g) {
        if (g.hasTail()) {
            return PLAIN;
        }
        return primitive(kind, key(kind, g)).layouts();
    }

    /**
     * dst = conv_transpose2d(src, weights) + bias. Buffers are plain (or, for src and dst, in the forward
     * pass's {@link #layouts}); the weights are PyTorch's [C_in, C_out/groups, KH, KW]; bias is ignored
     * (may be null) when the geometry has none.
     */
    public static void forward(Geometry g, Operand src, MemorySegment weights, long weightsOffset, MemorySegment bias,
                               long biasOffset, Operand dst) {
        MemorySegment b = g.bias() ? region("bias", bias, biasOffset, g.outChannels()) : null;
        MemorySegment w = region("weights", weights, weightsOffset, count(g.weightShape()));
        if (!g.hasTail()) {
            // The primitive computes without the bias, added after it by a jit pass (ChannelBias says why).
            Geometry noBias = withoutBias(g);
            Primitive p = primitive(Kind.FORWARD, key(Kind.FORWARD, noBias));
            boolean laid = dst.laid() != null;
            MemorySegment dstDesc = laid ? p.wanted().dst() : p.descs().dst();
            ChannelBias.Pass biasPass = b == null ? null
                    : ChannelBias.forOutput(g.outputShape(), dstDesc, laid, "conv_transpose2d");
            if (b != null && biasPass == null) {
                // A layout that pads the bias: the primitive adds it. Its layouts are those of the one without
                // (which the caller's laid operands follow); checked, since a mismatch would misread them.
                Primitive withBias = primitive(Kind.FORWARD, new Key(Kind.FORWARD, g, layout));
                if (withBias.wanted().src() != p.wanted().src() || withBias.wanted().dst() != p.wanted().dst()) {
                    throw new IllegalStateException("conv_transpose2d: oneDNN chose other layouts with the bias than"
                            + " without it for " + g);
                }
                execute(withBias, Kind.FORWARD, new Operand[] {src, Operand.plain(w, 0), null, dst},
                        g, b);
                return;
            }
            execute(p, Kind.FORWARD, new Operand[] {src, Operand.plain(w, 0), null, dst}, noBias,
                    null);
            if (biasPass != null) {
                biasPass.add(laid ? dst.laid() : region("dst", dst.plain(), dst.offset(), count(g.outputShape())), b,
                        "conv_transpose2d");
            }
            return;
        }
        requirePlain(g, src, dst);
        MemorySegment out = region("dst", dst.plain(), dst.offset(), count(g.outputShape()));
        try (Arena call = Arena.ofConfined()) {
            MemorySegment part = null;
            if (!g.emptyCore()) {
                Geometry core = g.core();
                part = MemoryPool.allocate(call, count(core.outputShape()) * Float.BYTES);
                execute(primitive(Kind.FORWARD, new Key(Kind.FORWARD, core, layout)), Kind.FORWARD,
                        new Operand[] {src, Operand.plain(w, 0), null, Operand.plain(part, 0)}, core, b);
            }
            // The computed rows and columns where they belong, the bias (or 0) in the rest.
            long oh = g.outHeight(), ow = g.outWidth(), ch = g.coreHeight(), cw = g.coreWidth();
            for (long n = 0; n < g.batch(); n++) {
                for (long c = 0; c < g.outChannels(); c++) {
                    float fill = b == null ? 0f : b.getAtIndex(ValueLayout.JAVA_FLOAT, c);
                    long plane = (n * g.outChannels() + c) * oh * ow;
                    long corePlane = (n * g.outChannels() + c) * ch * cw;
                    for (long r = 0; r < oh; r++) {
                        long from = 0;
                        if (part != null && r < ch) {
                            MemorySegment.copy(part, (corePlane + r * cw) * Float.BYTES, out,
                                    (plane + r * ow) * Float.BYTES, cw * Float.BYTES);
                            from = cw;
                        }
                        for (long q = from; q < ow; q++) {
                            out.setAtIndex(ValueLayout.JAVA_FLOAT, plane + r * ow + q, fill);
                        }
                    }
                }
            }
        }
    }

    /** diffSrc = ∂L/∂src from diffDst = ∂L/∂dst and the weights (overwrites diffSrc). */
    public static void backwardData(Geometry g, Operand diffDst, MemorySegment weights, long weightsOffset,
                                    Operand diffSrc) {
        MemorySegment w = region("weights", weights, weightsOffset, count(g.weightShape()));
        Geometry noBias = withoutBias(g);
        if (!g.hasTail()) {
            execute(primitive(Kind.BACKWARD_DATA, key(Kind.BACKWARD_DATA, noBias)),
                    Kind.BACKWARD_DATA, new Operand[] {diffSrc, Operand.plain(w, 0), null, diffDst}, noBias, null);
            return;
        }
        requirePlain(g, diffSrc, diffDst);
        MemorySegment dx = region("diff_src", diffSrc.plain(), diffSrc.offset(), count(g.inputShape()));
        MemorySegment dy = region("diff_dst", diffDst.plain(), diffDst.offset(), count(g.outputShape()));
        if (g.emptyCore()) {
            dx.fill((byte) 0); // no input position reaches the output
            return;
        }
        Geometry core = noBias.core();
        try (Arena call = Arena.ofConfined()) {
            MemorySegment part = crop(call, g, dy);
            execute(primitive(Kind.BACKWARD_DATA, key(Kind.BACKWARD_DATA, core)),
                    Kind.BACKWARD_DATA, new Operand[] {Operand.plain(dx, 0), Operand.plain(w, 0), null,
                        Operand.plain(part, 0)}, core, null);
        }
    }

    /**
     * diffWeights = ∂L/∂weights ([C_in, C_out/groups, KH, KW]) and, when the geometry has a bias,
     * diffBias = ∂L/∂bias, from the forward input src and diffDst (overwrites both).
     */
    public static void backwardWeights(Geometry g, Operand src, Operand diffDst, MemorySegment diffWeights,
                                       long diffWeightsOffset, MemorySegment diffBias, long diffBiasOffset) {
        MemorySegment db = g.bias() ? region("diff_bias", diffBias, diffBiasOffset, g.outChannels()) : null;
        MemorySegment dw = region("diff_weights", diffWeights, diffWeightsOffset, count(g.weightShape()));
        if (!g.hasTail()) {
            execute(primitive(Kind.BACKWARD_WEIGHTS, key(Kind.BACKWARD_WEIGHTS, g)),
                    Kind.BACKWARD_WEIGHTS, new Operand[] {src, Operand.plain(dw, 0), null, diffDst}, g, db);
            return;
        }
        requirePlain(g, src, diffDst);
        MemorySegment dy = region("diff_dst", diffDst.plain(), diffDst.offset(), count(g.outputShape()));
        if (g.emptyCore()) {
            dw.fill((byte) 0);
        } else {
            Geometry core = g.core();
            try (Arena call = Arena.ofConfined()) {
                MemorySegment part = crop(call, g, dy);
                execute(primitive(Kind.BACKWARD_WEIGHTS, key(Kind.BACKWARD_WEIGHTS, core)),
                        Kind.BACKWARD_WEIGHTS, new Operand[] {src, Operand.plain(dw, 0), null,
                            Operand.plain(part, 0)}, core, db);
            }
        }
        if (db != null) {
            // The tail's gradient reaches the bias alone.
            long oh = g.outHeight(), ow = g.outWidth(), ch = g.emptyCore() ? 0 : g.coreHeight();
            long cw = g.emptyCore() ? 0 : g.coreWidth();
            for (long c = 0; c < g.outChannels(); c++) {
                double s = g.emptyCore() ? 0 : db.getAtIndex(ValueLayout.JAVA_FLOAT, c);
                for (long n = 0; n < g.batch(); n++) {
                    long plane = (n * g.outChannels() + c) * oh * ow;
                    for (long r = 0; r < oh; r++) {
                        for (long q = r < ch ? cw : 0; q < ow; q++) {
                            s += dy.getAtIndex(ValueLayout.JAVA_FLOAT, plane + r * ow + q);
                        }
                    }
                }
                db.setAtIndex(ValueLayout.JAVA_FLOAT, c, (float) s);
            }
        }
    }

    /** The output-shaped {@code dy} without its tail, in a buffer of {@code call}. */
    private static MemorySegment crop(Arena call, Geometry g, MemorySegment dy) {
        long oh = g.outHeight(), ow = g.outWidth(), ch = g.coreHeight(), cw = g.coreWidth();
        MemorySegment part = MemoryPool.allocate(call, g.batch() * g.outChannels() * ch * cw * Float.BYTES);
        for (long plane = 0; plane < g.batch() * g.outChannels(); plane++) {
            for (long r = 0; r < ch; r++) {
                MemorySegment.copy(dy, (plane * oh * ow + r * ow) * Float.BYTES, part, (plane * ch * cw + r * cw)
                        * Float.BYTES, cw * Float.BYTES);
            }
        }
        return part;
    }

    private static void requirePlain(Geometry g, Operand a, Operand b) {
        if (a.laid() != null || b.laid() != null) {
            throw new IllegalArgumentException("conv_transpose2d: " + g + " has rows or columns past its kernel"
                    + " taps and takes plain operands only");
        }
    }

    private static Key key(Kind kind, Geometry g) {
        // The forward pass adds its bias apart (see forward), and backward data has none.
        return new Key(kind, kind == Kind.BACKWARD_WEIGHTS ? g : withoutBias(g), layout);
    }

    private static Geometry withoutBias(Geometry g) {
        return !g.bias() ? g : new Geometry(g.batch(), g.inChannels(), g.inHeight(), g.inWidth(), g.outChannels(),
                g.kernelHeight(), g.kernelWidth(), g.strideHeight(), g.strideWidth(), g.padHeight(), g.padWidth(),
                g.outputPadHeight(), g.outputPadWidth(), g.dilationHeight(), g.dilationWidth(), g.groups(), false);
    }

    private static long count(long[] shape) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    private static MemorySegment region(String name, MemorySegment seg, long offset, long length) {
        if (seg == null) {
            throw new IllegalArgumentException("conv_transpose2d: " + name + " is missing");
        }
        return Primitives.region("conv_transpose2d: " + name, seg, offset, length);
    }

    // ---------------------------------------------------------------- execution

    private static final String[][] NAMES = {
        {"src", "weights", "bias", "dst"}, {"diff_src", "weights", "bias", "diff_dst"},
        {"src", "diff_weights", "diff_bias", "diff_dst"}};
    private static final boolean[][] WRITTEN = {
        {false, false, false, true}, {true, false, false, false}, {false, true, true, false}};

    private static int[] argIds(Kind kind) {
        return switch (kind) {
            case FORWARD -> new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_WEIGHTS(), Dnnl.DNNL_ARG_BIAS(),
                Dnnl.DNNL_ARG_DST()};
            case BACKWARD_DATA -> new int[] {Dnnl.DNNL_ARG_DIFF_SRC(), Dnnl.DNNL_ARG_WEIGHTS(), 0,
                Dnnl.DNNL_ARG_DIFF_DST()};
            case BACKWARD_WEIGHTS -> new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_DIFF_WEIGHTS(),
                Dnnl.DNNL_ARG_DIFF_BIAS(), Dnnl.DNNL_ARG_DIFF_DST()};
        };
    }

    /**
     * Runs p with its arguments in the order src-like, weights-like, bias-like, dst-like: operands (each
     * plain, checked here against the geometry's shape, or already in the primitive's layout) and the bias
     * as a checked segment or null (none, left out).
     */
    private static void execute(Primitive p, Kind kind, Operand[] operands, Geometry g,
                                MemorySegment bias) {
        int k = kind.ordinal();
        int[] ids = argIds(kind);
        long[][] shapes = {g.inputShape(), g.weightShape(), null, g.outputShape()};
        Descs d = p.descs();
        Descs w = p.wanted();
        MemorySegment[] descs = {d.src(), d.weights(), d.bias(), d.dst()};
        MemorySegment[] wanted = {w.src(), w.weights(), w.bias(), w.dst()};
        int n = bias == null ? 3 : 4;
        int[] kinds = new int[n];
        MemorySegment[] mds = new MemorySegment[n];
        MemorySegment[] primMds = new MemorySegment[n];
        MemorySegment[] data = new MemorySegment[n];
        boolean[] outputs = new boolean[n];
        MemorySegment[] laid = null;
        for (int i = 0, j = 0; i < 4; i++) {
            Operand o = operands[i];
            if (o == null && bias == null) continue;
            kinds[j] = ids[i];
            mds[j] = descs[i];
            primMds[j] = wanted[i];
            outputs[j] = WRITTEN[k][i];
            if (o == null) {
                data[j] = bias;
            } else if (o.laid() != null) {
                if (laid == null) laid = new MemorySegment[n];
                laid[j] = o.laid();
                data[j] = o.laid();
            } else {
                data[j] = region(NAMES[k][i], o.plain(), o.offset(), count(shapes[i]));
            }
            j++;
        }
        Primitives.executeReordered(p.primitive(), kinds, mds, primMds, data, outputs, null, laid, p.what());
    }

    // ---------------------------------------------------------------- primitive creation

    private static Descs descs(Geometry g) {
        String what = g.toString();
        MemorySegment src = Primitives.f32Desc(g.inputShape(), Dnnl.dnnl_nchw(), what);
        MemorySegment weights = Primitives.f32Desc(weightDims(g), g.groups() == 1 ? Dnnl.dnnl_iohw()
                : Dnnl.dnnl_giohw(), what);
        MemorySegment bias = g.bias() ? Primitives.f32Desc(new long[] {g.outChannels()}, Dnnl.dnnl_x(), what) : null;
        MemorySegment dst = Primitives.f32Desc(g.outputShape(), Dnnl.dnnl_nchw(), what);
        return new Descs(src, weights, bias, dst);
    }

    /**
     * oneDNN's logical weight dims, {O, I, KH, KW} or {G, O/G, I/G, KH, KW}: PyTorch's [I, O/G, KH, KW] in
     * memory is exactly oneDNN's {@code iohw} ({@code giohw} grouped) of those dims.
     */
    private static long[] weightDims(Geometry g) {
        long gr = g.groups();
        return gr == 1 ? new long[] {g.outChannels(), g.inChannels(), g.kernelHeight(), g.kernelWidth()}
                : new long[] {gr, g.outChannels() / gr, g.inChannels() / gr, g.kernelHeight(), g.kernelWidth()};
    }

    private static Descs anyDescs(Geometry g) {
        String what = g.toString();
        int any = Dnnl.dnnl_format_tag_any();
        return new Descs(Primitives.f32Desc(g.inputShape(), any, what), Primitives.f32Desc(weightDims(g), any, what),
                null, Primitives.f32Desc(g.outputShape(), any, what));
    }

    private static Primitive primitive(Kind kind, Key key) {
        return PrimitiveCache.get(key, k -> {
            // A backward primitive needs the forward-training descriptor of the same geometry as its hint.
            Primitive forward = kind == Kind.FORWARD ? null
                    : primitive(Kind.FORWARD, new Key(Kind.FORWARD, key.geometry(), key.layout()));
            return create(key, forward);
        }, p -> new Primitives.Primitive[] {p.primitive()}, PRIMITIVE_BYTES);
    }

    private static Primitive create(Key key, Primitive forward) {
        Geometry g = key.geometry();
        if (g.hasTail()) {
            throw new IllegalStateException("conv_transpose2d: no primitive for " + g + " with its tail");
        }
        Descs d = forward != null ? forward.descs() : descs(g);
        // When the forward pass runs plain, the backward passes do too.
        boolean plain = key.layout() == Convolution.Layout.PLAIN
                || forward != null && forward.wanted().src() == null && forward.wanted().dst() == null;
        Primitive p = create(key, forward, d, plain);
        if (!plain && (padded(p.wanted().src(), d.src()) || padded(p.wanted().dst(), d.dst()))) {
            // An activation of few channels is either kept plain beside a blocked one (oneDNN's slow kernels)
            // or padded to a whole channel block and computed on the padding: a 64 → 1 channel layer (batch
            // 64, 14×14 to 28×28, one thread, AVX-512) took 3.6 ms forward with its output in 16-channel
            // blocks, against 0.4 ms all plain. Such a layer runs plain throughout.
            destroy(p.primitive());
            p = create(key, forward, d, true);
        }
        return p;
    }

    /** Whether a chosen layout is plain (null) or more than twice the plain one's bytes (mostly padding). */
    private static boolean padded(MemorySegment chosen, MemorySegment plain) {
        return chosen == null || Primitives.bytes(chosen) > 2 * Primitives.bytes(plain);
    }

    /** Destroys a primitive just made and never shared. */
    private static void destroy(Primitives.Primitive p) {
        OneDnn.check(Dnnl.dnnl_primitive_destroy(p.handle()), "dnnl_primitive_destroy");
        if (p.descriptor() != null) {
            OneDnn.check(Dnnl.dnnl_primitive_desc_destroy(p.descriptor()), "dnnl_primitive_desc_destroy");
        }
    }

    private static Primitive create(Key key, Primitive forward, Descs d, boolean plain) {
        Geometry g = key.geometry();
        String detail = key.kind() + " " + g;
        Descs op = plain ? d : anyDescs(g);
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment strides = Primitives.dims(tmp, g.strideHeight(), g.strideWidth());
            // oneDNN counts dilation from 0 (dense); PyTorch from 1.
            MemorySegment dilates = Primitives.dims(tmp, g.dilationHeight() - 1, g.dilationWidth() - 1);
            MemorySegment left = Primitives.dims(tmp, g.padHeight(), g.padWidth());
            // The output padding extends the bottom and right: less padding there (never negative: see core()).
            MemorySegment right = Primitives.dims(tmp, g.padHeight() - g.outputPadHeight(),
                    g.padWidth() - g.outputPadWidth());
            MemorySegment desc = Primitives.opDesc(tmp);
            int alg = Dnnl.dnnl_deconvolution_direct();
            int[] queries;
            switch (key.kind()) {
                case FORWARD -> {
                    OneDnn.check(Dnnl.dnnl_dilated_deconvolution_forward_desc_init(desc, Dnnl.dnnl_forward_training(),
                            alg, op.src(), op.weights(), orNull(d.bias()), op.dst(), strides, dilates, left, right),
                            "dnnl_dilated_deconvolution_forward_desc_init", detail);
                    queries = new int[] {Dnnl.dnnl_query_src_md(), Dnnl.dnnl_query_weights_md(),
                        Dnnl.dnnl_query_dst_md()};
                }
                case BACKWARD_DATA -> {
                    OneDnn.check(Dnnl.dnnl_dilated_deconvolution_backward_data_desc_init(desc, alg, op.src(),
                            op.weights(), op.dst(), strides, dilates, left, right),
                            "dnnl_dilated_deconvolution_backward_data_desc_init", detail);
                    queries = new int[] {Dnnl.dnnl_query_diff_src_md(), Dnnl.dnnl_query_weights_md(),
                        Dnnl.dnnl_query_diff_dst_md()};
                }
                case BACKWARD_WEIGHTS -> {
                    OneDnn.check(Dnnl.dnnl_dilated_deconvolution_backward_weights_desc_init(desc, alg, op.src(),
                            op.weights(), orNull(d.bias()), op.dst(), strides, dilates, left, right),
                            "dnnl_dilated_deconvolution_backward_weights_desc_init", detail);
                    queries = new int[] {Dnnl.dnnl_query_src_md(), Dnnl.dnnl_query_diff_weights_md(),
                        Dnnl.dnnl_query_diff_dst_md()};
                }
                default -> throw new AssertionError(key.kind());
            }
            Primitives.Primitive p = Primitives.createWithHint(desc, forward != null ? forward.primitive() : null,
                    key.kind() == Kind.FORWARD, detail, null, queries);
            CREATED.incrementAndGet();
            Descs wanted = new Descs(Primitives.intern(unlessSame(p.queried(0), d.src())),
                    Primitives.intern(unlessSame(p.queried(1), d.weights())), null,
                    Primitives.intern(unlessSame(p.queried(2), d.dst())));
            return new Primitive(p, d, wanted, key.kind().toString().toLowerCase(Locale.ROOT).replace('_', ' ') + " "
                    + g);
        }
    }

    private static MemorySegment unlessSame(MemorySegment chosen, MemorySegment plain) {
        return chosen == null || Primitives.sameLayout(chosen, plain) ? null : chosen;
    }

    private static MemorySegment orNull(MemorySegment md) {
        return md == null ? MemorySegment.NULL : md;
    }
}
