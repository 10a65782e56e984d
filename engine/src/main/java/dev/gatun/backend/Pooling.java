package dev.gatun.backend;

import dev.gatun.bindings.dnnl.Dnnl;
import dev.gatun.bindings.kernels.GatunKernels;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.function.Function;

/**
 * 2-d max and average pooling on oneDNN (forward and backward), over plain NCHW float32 buffers.
 * Primitives are cached per configuration; max pooling in training fills a workspace (the argmax
 * positions) that the backward pass reads.
 *
 * <p>oneDNN 2.6 has no vectorised pooling for plain NCHW on AVX2 (it runs {@code simple_nchw}), so,
 * like {@link Convolution} with {@link Convolution.Layout#BLOCKED}, the primitives compute in the
 * channel-blocked layout {@link ChannelBlock} gives their channel count ({@code nChw8c} or
 * {@code nChw16c}) and each call reorders plain operands into and out of it.
 *
 * <p>Max pooling runs on gatun's own kernel ({@code gatun_max_pool_blocked_*} in {@code native/kernels}),
 * on the same layout; in training with its own workspace: the winning position in the window, a 32-bit
 * integer per output element. oneDNN 2.6.3's AVX2 pooling took 3.3 ms forward and 3.0 ms backward for
 * LeNet-5's first pooling (64×20×28×28) in a training step, the kernel's forward 0.1 ms; see
 * {@code bench/results/pooling.md}. Inference uses the kernel too (without positions): oneDNN's maximum
 * skips NaN, where PyTorch's, and the kernel's, propagate it (a window with a NaN gives NaN).
 */
public final class Pooling {

    /** The pooling function, as PyTorch's {@code MaxPool2d} and {@code AvgPool2d(count_include_pad)}. */
    public enum Kind {
        MAX, AVG_INCLUDE_PADDING, AVG_EXCLUDE_PADDING;

        int algorithm() {
            return switch (this) {
                case MAX -> Dnnl.dnnl_pooling_max();
                case AVG_INCLUDE_PADDING -> Dnnl.dnnl_pooling_avg_include_padding();
                case AVG_EXCLUDE_PADDING -> Dnnl.dnnl_pooling_avg_exclude_padding();
            };
        }
    }

    /**
     * One pooling configuration over an [n, c, h, w] input; validated on construction ({@link #check}'s
     * rules on the window, then those involving the input), so an impossible one never reaches oneDNN or
     * gatun's kernel:
     * <ul>
     * <li>PyTorch's: sizes positive, padding between 0 and half the kernel, and the window's extent
     *     dilation·(kernel − 1) + 1 no larger than the padded input (at least one output);
     * <li>padding no larger than the input: beyond it the windows would grow with the padding rather than
     *     with the input (PyTorch accepts a kernel of 2^30 with padding 2^29 over 4×4, which oneDNN spun
     *     on), while the first window, undilated, already covers the input;
     * <li>32-bit ranges: oneDNN checks a pooling's geometry in {@code int} (input, padded input, padded
     *     input plus stride) and divides an average by the window's position count as an {@code int};
     *     gatun's kernel keeps window positions as 32-bit integers. So each side of the input, the padded
     *     input plus the stride, and kernelH·kernelW stay at most 2^31 − 1, and n·c·h·w fits a long.
     * </ul>
     * Kernels, and so average windows, are then bounded by (three times) the input on each side.
     */
    public record Config(Kind kind, long n, long c, long h, long w, int kernelH, int kernelW, int strideH, int strideW,
                         int padH, int padW, int dilationH, int dilationW) {
        public Config {
            check(kind, kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW);
            String input = "pool2d: input [" + n + ", " + c + ", " + h + ", " + w + "]";
            if (n < 1 || c < 1 || h < 1 || w < 1) {
                throw new IllegalArgumentException(input + " must have positive sizes");
            }
            try {
                Math.multiplyExact(Math.multiplyExact(n, c), Math.multiplyExact(h, w));
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException(input + " has more than 2^63 − 1 elements");
            }
            if (h > Integer.MAX_VALUE || w > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(input + ": input height " + h + " and width " + w
                        + " must be at most 2^31 − 1 (oneDNN computes pooling sizes in 32 bits)");
            }
            if (padH > h || padW > w) {
                throw new IllegalArgumentException("pool2d: padding " + padH + "×" + padW + " is larger than the input "
                        + h + "×" + w + " (the windows would grow with the padding, not with the input)");
            }
            // No overflow in long: h, w and the padding are below 2^31.
            long paddedH = h + 2L * padH, paddedW = w + 2L * padW;
            if (paddedH > Integer.MAX_VALUE || paddedW > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("pool2d: padded input " + paddedH + "×" + paddedW
                        + " must be at most 2^31 − 1 on each side (oneDNN computes pooling sizes in 32 bits)");
            }
            if (paddedH + strideH > Integer.MAX_VALUE || paddedW + strideW > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("pool2d: stride " + strideH + "×" + strideW
                        + " plus the padded input " + paddedH + "×" + paddedW + " must be at most 2^31 − 1 on each side"
                        + " (oneDNN computes pooling sizes in 32 bits); a stride as large as the padded input already"
                        + " gives one window");
            }
            long oh = outputSize(h, kernelH, strideH, padH, dilationH);
            long ow = outputSize(w, kernelW, strideW, padW, dilationW);
            if (oh < 1 || ow < 1) {
                throw new IllegalArgumentException("pool2d: kernel " + kernelH + "×" + kernelW + " (dilation "
                        + dilationH + "×" + dilationW + ") is larger than the padded input " + paddedH + "×" + paddedW);
            }
        }

        /**
         * The rules on a pooling window that need no input: kernel, stride and dilation at least 1
         * (dilation 1 for average pooling), padding between 0 and half the kernel (PyTorch's), and at
         * most 2^31 − 1 positions, kernelH·kernelW (32-bit window positions and averaging divisors).
         * Layers check them when built; {@link Config} checks them with the rest.
         *
         * @throws IllegalArgumentException naming the value that breaks a rule
         */
        public static void check(Kind kind, int kernelH, int kernelW, int strideH, int strideW, int padH, int padW,
                                 int dilationH, int dilationW) {
            if (kind == null) {
                throw new IllegalArgumentException("pool2d: kind must be given");
            }
            if (kernelH < 1 || kernelW < 1) {
                throw new IllegalArgumentException("pool2d: kernel " + kernelH + "×" + kernelW + " must be positive");
            }
            if (strideH < 1 || strideW < 1) {
                throw new IllegalArgumentException("pool2d: stride " + strideH + "×" + strideW + " must be positive");
            }
            if (dilationH < 1 || dilationW < 1 || (kind != Kind.MAX && (dilationH != 1 || dilationW != 1))) {
                throw new IllegalArgumentException("pool2d: dilation " + dilationH + "×" + dilationW
                        + " must be positive (and 1 for average pooling)");
            }
            if (padH < 0 || padW < 0 || padH > kernelH / 2 || padW > kernelW / 2) {
                throw new IllegalArgumentException("pool2d: padding " + padH + "×" + padW
                        + " must be between 0 and half the kernel " + kernelH + "×" + kernelW);
            }
            long positions = (long) kernelH * kernelW;
            if (positions > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("pool2d: kernel " + kernelH + "×" + kernelW + " covers " + positions
                        + " positions, more than 2^31 − 1");
            }
        }

        /** ⌊(in + 2·pad − dilation·(kernel − 1) − 1) / stride⌋ + 1, PyTorch's output size (floor mode). */
        public static long outputSize(long in, int kernel, int stride, int pad, int dilation) {
            long span = (long) dilation * (kernel - 1) + 1;
            long padded = in + 2L * pad;
            return padded < span ? 0 : (padded - span) / stride + 1;
        }

        public long outH() {
            return outputSize(h, kernelH, strideH, padH, dilationH);
        }

        public long outW() {
            return outputSize(w, kernelW, strideW, padW, dilationW);
        }

        long[] srcDims() {
            return new long[] {n, c, h, w};
        }

        long[] dstDims() {
            return new long[] {n, c, outH(), outW()};
        }

        @Override
        public String toString() {
            return kind + " pool " + kernelH + "×" + kernelW + " stride " + strideH + "×" + strideW + " padding "
                    + padH + "×" + padW + " dilation " + dilationH + "×" + dilationW + " over [" + n + ", " + c + ", "
                    + h + ", " + w + "]";
        }
    }

    private record Key(Config config, boolean training, boolean backward) {}

    /** A primitive with the caller's plain descriptors and the blocked ones it computes in. */
    private record Cached(Primitives.Primitive primitive, MemorySegment srcDesc, MemorySegment dstDesc,
                          MemorySegment blockedSrc, MemorySegment blockedDst) {}

    /** Estimated resident bytes of one pooling primitive ({@link PrimitiveCache}). */
    private static final long PRIMITIVE_BYTES = 32 * 1024;

    private static Cached cached(Object key, Function<Object, Cached> create) {
        return PrimitiveCache.get(key, create, c -> new Primitives.Primitive[] {c.primitive()}, PRIMITIVE_BYTES);
    }

    private Pooling() {}

    /**
     * Bytes of workspace a training forward pass of {@code config} fills for its backward pass (0 for
     * average pooling).
     */
    public static long workspaceBytes(Config config) {
        return config.kind() == Kind.MAX ? nativeWorkspaceBytes(config) : 0;
    }

    /** A 32-bit position per element of the blocked dst: n × ⌈c/b⌉ × oh × ow × b, b the channel block. */
    private static long nativeWorkspaceBytes(Config c) {
        return Math.multiplyExact(Math.multiplyExact(c.n() * blocks(c), c.outH() * c.outW()),
                (long) block(c) * Integer.BYTES);
    }

    /** The channel block the pooling of {@code c} computes in: {@link ChannelBlock}'s for its channels. */
    private static int block(Config c) {
        return ChannelBlock.forChannels(c.c());
    }

    private static long blocks(Config c) {
        int b = block(c);
        return (c.c() + b - 1) / b;
    }

    /**
     * dst = pool(src). In training, max pooling writes the argmax positions to {@code workspace}
     * (at least {@link #workspaceBytes} bytes; null otherwise). Max pooling propagates NaN, as PyTorch's.
     */
    public static void forward(Config config, boolean training, MemorySegment src, MemorySegment dst,
                               MemorySegment workspace) {
        forward(config, training, Operand.plain(src, 0), Operand.plain(dst, 0), workspace);
    }

    /** The layouts the pooling of {@code config} computes in (both passes use the same). */
    public static ActivationLayouts layouts(Config config) {
        Cached c = forwardPrimitive(config, true);
        return new ActivationLayouts(c.blockedSrc(), c.blockedDst(), c.srcDesc(), c.dstDesc());
    }

    /** As the plain form, with src and dst either plain or in the pooling's {@link #layouts}. */
    public static void forward(Config config, boolean training, Operand src, Operand dst, MemorySegment workspace) {
        if (config.kind() == Kind.MAX) {
            // gatun's kernel in inference too: oneDNN's maximum would drop NaN.
            nativeMax(config, src, dst, training ? workspace(workspace, nativeWorkspaceBytes(config)) : null, false,
                    false);
            return;
        }
        Cached c = forwardPrimitive(config, training);
        MemorySegment s = operand("pool2d: src", src, config.srcDims());
        MemorySegment d = operand("pool2d: dst", dst, config.dstDims());
        long ws = c.primitive().workspaceBytes();
        if (ws > 0) {
            MemorySegment w = workspace(workspace, ws);
            Primitives.executeReordered(c.primitive(),
                    new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_DST(), Dnnl.DNNL_ARG_WORKSPACE()},
                    new MemorySegment[] {c.srcDesc(), c.dstDesc(), c.primitive().workspaceDesc()},
                    new MemorySegment[] {c.blockedSrc(), c.blockedDst(), null},
                    new MemorySegment[] {s, d, w}, new boolean[] {false, true, true}, null,
                    new MemorySegment[] {src.laid(), dst.laid(), null}, config.toString());
        } else {
            Primitives.executeReordered(c.primitive(), new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_DST()},
                    new MemorySegment[] {c.srcDesc(), c.dstDesc()},
                    new MemorySegment[] {c.blockedSrc(), c.blockedDst()}, new MemorySegment[] {s, d},
                    new boolean[] {false, true}, null, new MemorySegment[] {src.laid(), dst.laid()},
                    config.toString());
        }
    }

    /**
     * Max pooling of relu(src) in one pass: the window maxima start at 0, so dst = relu(pool(src))
     * = pool(relu(src)), and a window with nothing above 0 routes no gradient ({@link #backward} reads
     * that from the workspace). NaN propagates, as relu(NaN) is NaN. Operands as for {@link #forward};
     * {@code config} must be max pooling; {@code workspace} as in training, or null for inference.
     */
    public static void forwardMaxAfterRelu(Config config, Operand src, Operand dst, MemorySegment workspace) {
        if (config.kind() != Kind.MAX) {
            throw new IllegalArgumentException("pool2d: ReLU fusion is for max pooling, got " + config);
        }
        nativeMax(config, src, dst, workspace == null ? null : workspace(workspace, nativeWorkspaceBytes(config)),
                false, true);
    }

    private record ChannelsLastKey(Config config) {}

    private record ChannelsLastAvgKey(Config config) {}

    /**
     * The channels-last (nhwc) layouts of {@code config}'s input and output, in which the inference pass
     * {@link #forwardChannelsLast} reads and writes: the layout oneDNN's convolutions choose at small
     * batches, so that a convolution, a pooling and the next convolution (or the global average pooling
     * before a classifier) pass their activations on with no reorder.
     */
    public static ActivationLayouts channelsLastLayouts(Config config) {
        return PrimitiveCache.get(new ChannelsLastKey(config), k -> {
            String what = config.toString();
            return new ActivationLayouts(
                    Primitives.intern(Primitives.f32Desc(config.srcDims(), Dnnl.dnnl_nhwc(), what)),
                    Primitives.intern(Primitives.f32Desc(config.dstDims(), Dnnl.dnnl_nhwc(), what)),
                    Primitives.f32Desc(config.srcDims(), Dnnl.dnnl_nchw(), what),
                    Primitives.f32Desc(config.dstDims(), Dnnl.dnnl_nchw(), what));
        }, l -> new Primitives.Primitive[0], 0);
    }

    /**
     * The inference pass on channels-last buffers ({@link #channelsLastLayouts}); src and dst must be laid
     * operands of at least those layouts' sizes. Max pooling (of relu(src) with {@code relu}) runs on
     * gatun's kernel, NaN propagating as in {@link #forward}, equal to the blocked kernel bit for bit;
     * average pooling on oneDNN's inference primitive for that layout ({@code relu} must be false).
     */
    public static void forwardChannelsLast(Config config, boolean relu, Operand src, Operand dst) {
        forwardChannelsLast(config, relu, src, dst, null);
    }

    /** Bytes of the positions the channels-last training pass of max pooling keeps: 32 bits per dst element. */
    public static long channelsLastWorkspaceBytes(Config config) {
        return Math.multiplyExact(elements(config.dstDims()), (long) Integer.BYTES);
    }

    /**
     * As {@link #forwardChannelsLast(Config, boolean, Operand, Operand)}, and for training: max pooling then
     * writes each maximum's window position to {@code workspace} (at least
     * {@link #channelsLastWorkspaceBytes} bytes), which {@link #backwardChannelsLast} reads; null for
     * inference. Average pooling takes no workspace (it has no channels-last training pass).
     */
    public static void forwardChannelsLast(Config config, boolean relu, Operand src, Operand dst,
                                           MemorySegment workspace) {
        if (workspace != null && config.kind() != Kind.MAX) {
            throw new IllegalArgumentException("pool2d: the channels-last training pass is for max pooling, got "
                    + config);
        }
        if (src.laid() == null || dst.laid() == null) {
            throw new IllegalArgumentException("pool2d: the channels-last pass takes laid-out src and dst");
        }
        if (relu && config.kind() != Kind.MAX) {
            throw new IllegalArgumentException("pool2d: ReLU fusion is for max pooling, got " + config);
        }
        long in = elements(config.srcDims()) * Float.BYTES;
        long out = elements(config.dstDims()) * Float.BYTES;
        if (src.laid().byteSize() < in || dst.laid().byteSize() < out) {
            throw new IllegalArgumentException("pool2d: channels-last buffers of " + src.laid().byteSize() + " and "
                    + dst.laid().byteSize() + " bytes, " + in + " and " + out + " needed");
        }
        if (config.kind() != Kind.MAX) {
            ActivationLayouts l = channelsLastLayouts(config);
            Primitives.Primitive p = cached(new ChannelsLastAvgKey(config), k -> {
                String what = "channels-last " + config;
                try (Arena tmp = Arena.ofConfined()) {
                    MemorySegment desc = Primitives.opDesc(tmp);
                    MemorySegment[] g = geometry(tmp, config);
                    OneDnn.check(Dnnl.dnnl_pooling_v2_forward_desc_init(desc, Dnnl.dnnl_forward_inference(),
                            config.kind().algorithm(), l.src(), l.dst(), g[0], g[1], g[2], g[3], g[3]),
                            "dnnl_pooling_v2_forward_desc_init", what);
                    return new Cached(Primitives.create(desc, MemorySegment.NULL, false, what), l.plainSrc(),
                            l.plainDst(), l.src(), l.dst());
                }
            }).primitive();
            Primitives.execute(p, new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_DST()},
                    new MemorySegment[] {l.src(), l.dst()}, new MemorySegment[] {src.laid(), dst.laid()},
                    "channels-last " + config);
            return;
        }
        int lanes = channelsLastLanes(config);
        MemorySegment positions = workspace == null ? MemorySegment.NULL
                : workspace(workspace, channelsLastWorkspaceBytes(config));
        NativeLibraries.load();
        Threads.applyToCurrentThread();
        GatunKernels.gatun_max_pool_blocked_forward(src.laid(), dst.laid(), positions, lanes,
                relu ? 1 : 0, config.n(), 1, config.h(), config.w(), config.outH(), config.outW(), config.kernelH(),
                config.kernelW(), config.strideH(), config.strideW(), config.padH(), config.padW(),
                config.dilationH(), config.dilationW());
    }

    /**
     * The max pooling backward pass in channels-last layout: diff_src from diff_dst and the positions the
     * channels-last training forward pass wrote; bit for bit what the blocked pass gives. Each gradient is
     * plain or laid in {@link #channelsLastLayouts}; plain ones are reordered into (diff_dst) or out of
     * (diff_src) a temporary channels-last buffer.
     */
    public static void backwardChannelsLast(Config config, Operand diffDst, Operand diffSrc, MemorySegment workspace) {
        if (config.kind() != Kind.MAX) {
            throw new IllegalArgumentException("pool2d: the channels-last backward pass is for max pooling, got "
                    + config);
        }
        int lanes = channelsLastLanes(config);
        MemorySegment ws = workspace(workspace, channelsLastWorkspaceBytes(config));
        ActivationLayouts l = channelsLastLayouts(config);
        try (Arena call = Arena.ofConfined()) {
            MemorySegment dd = Primitives.laidOrCopy(call, diffDst, elements(config.dstDims()), l.plainDst(),
                    l.dst(), true, "pool2d: diff_dst");
            MemorySegment ds = Primitives.laidOrCopy(call, diffSrc, elements(config.srcDims()), l.plainSrc(),
                    l.src(), false, "pool2d: diff_src");
            NativeLibraries.load();
            Threads.applyToCurrentThread();
            GatunKernels.gatun_max_pool_blocked_backward(dd, ds, ws, lanes, config.n(), 1, config.h(),
                    config.w(), config.outH(), config.outW(), config.kernelH(), config.kernelW(), config.strideH(),
                    config.strideW(), config.padH(), config.padW(), config.dilationH(), config.dilationW());
            if (diffSrc.laid() == null) {
                l.srcToPlain(ds, operand("pool2d: diff_src", diffSrc, config.srcDims()));
            }
        }
    }

    /** The channel count as the channels-last kernel's lane count (a 32-bit int). */
    private static int channelsLastLanes(Config config) {
        if (config.c() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("pool2d: " + config.c() + " channels are more than the channels-last"
                    + " kernel takes (2^31 - 1)");
        }
        return (int) config.c();
    }

    /** A plain operand's checked region, or a laid one's buffer (its size is checked at execution). */
    private static MemorySegment operand(String what, Operand o, long[] dims) {
        return o.laid() != null ? o.laid() : Primitives.region(what, o.plain(), o.offset(), elements(dims));
    }

    /** diffSrc = ∂pool/∂src applied to diffDst, reading the workspace the training forward filled. */
    public static void backward(Config config, MemorySegment diffDst, MemorySegment diffSrc, MemorySegment workspace) {
        backward(config, Operand.plain(diffDst, 0), Operand.plain(diffSrc, 0), workspace);
    }

    /** As the plain form, with diff_dst and diff_src either plain or in the pooling's {@link #layouts}. */
    public static void backward(Config config, Operand diffDst, Operand diffSrc, MemorySegment workspace) {
        if (config.kind() == Kind.MAX) {
            nativeMax(config, diffSrc, diffDst, workspace(workspace, nativeWorkspaceBytes(config)), true, false);
            return;
        }
        Cached forward = forwardPrimitive(config, true);
        Cached c = cached(new Key(config, true, true), k -> createBackward(config, forward));
        MemorySegment dd = operand("pool2d: diff_dst", diffDst, config.dstDims());
        MemorySegment ds = operand("pool2d: diff_src", diffSrc, config.srcDims());
        long ws = forward.primitive().workspaceBytes();
        if (ws > 0) {
            MemorySegment w = workspace(workspace, ws);
            Primitives.executeReordered(c.primitive(),
                    new int[] {Dnnl.DNNL_ARG_DIFF_DST(), Dnnl.DNNL_ARG_DIFF_SRC(), Dnnl.DNNL_ARG_WORKSPACE()},
                    new MemorySegment[] {c.dstDesc(), c.srcDesc(), forward.primitive().workspaceDesc()},
                    new MemorySegment[] {c.blockedDst(), c.blockedSrc(), null},
                    new MemorySegment[] {dd, ds, w}, new boolean[] {false, true, false}, null,
                    new MemorySegment[] {diffDst.laid(), diffSrc.laid(), null}, "backward " + config);
        } else {
            Primitives.executeReordered(c.primitive(), new int[] {Dnnl.DNNL_ARG_DIFF_DST(), Dnnl.DNNL_ARG_DIFF_SRC()},
                    new MemorySegment[] {c.dstDesc(), c.srcDesc()},
                    new MemorySegment[] {c.blockedDst(), c.blockedSrc()}, new MemorySegment[] {dd, ds},
                    new boolean[] {false, true}, null, new MemorySegment[] {diffDst.laid(), diffSrc.laid()},
                    "backward " + config);
        }
    }

    /**
     * Max pooling forward (src → dst, filling ws unless it is null) or backward (diff_dst in {@code dst} →
     * diff_src in {@code src}, reading ws) on gatun's kernel, the forward pass of relu(src) with
     * {@code relu}. Operands
     * already in the blocked layout are used as they are; plain ones are reordered into (inputs) or out
     * of (outputs) a temporary blocked buffer.
     */
    private static void nativeMax(Config config, Operand src, Operand dst, MemorySegment ws, boolean backward,
                                  boolean relu) {
        Cached c = forwardPrimitive(config, true);
        String what = (backward ? "backward " : "") + config;
        try (Arena call = Arena.ofConfined()) {
            MemorySegment s = Primitives.laidOrCopy(call, src, elements(config.srcDims()), c.srcDesc(),
                    c.blockedSrc(), !backward, "pool2d: " + (backward ? "diff_src" : "src"));
            MemorySegment d = Primitives.laidOrCopy(call, dst, elements(config.dstDims()), c.dstDesc(),
                    c.blockedDst(), backward, "pool2d: " + (backward ? "diff_dst" : "dst"));
            NativeLibraries.load();
            Threads.applyToCurrentThread();
            long n = config.n(), cb = blocks(config), ih = config.h(), iw = config.w(), oh = config.outH(),
                    ow = config.outW();
            int lanes = block(config);
            if (backward) {
                GatunKernels.gatun_max_pool_blocked_backward(d, s, ws, lanes, n, cb, ih, iw, oh, ow, config.kernelH(),
                        config.kernelW(), config.strideH(), config.strideW(), config.padH(), config.padW(),
                        config.dilationH(), config.dilationW());
            } else {
                // Inference writes no positions.
                MemorySegment positions = ws == null ? MemorySegment.NULL : ws;
                GatunKernels.gatun_max_pool_blocked_forward(s, d, positions, lanes, relu ? 1 : 0, n, cb, ih, iw, oh,
                        ow, config.kernelH(), config.kernelW(), config.strideH(), config.strideW(), config.padH(),
                        config.padW(), config.dilationH(), config.dilationW());
            }
            MemorySegment out = backward ? s : d;
            Operand o = backward ? src : dst;
            if (o.laid() == null) {
                long[] dims = backward ? config.srcDims() : config.dstDims();
                Primitives.reorder(backward ? c.blockedSrc() : c.blockedDst(), out,
                        backward ? c.srcDesc() : c.dstDesc(), operand(what, o, dims));
            }
        }
    }

    private static MemorySegment workspace(MemorySegment workspace, long bytes) {
        if (workspace == null || workspace.byteSize() < bytes) {
            throw new IllegalArgumentException("pool2d: max pooling needs a workspace of " + bytes + " bytes, got "
                    + (workspace == null ? "none" : workspace.byteSize() + " bytes"));
        }
        return workspace.asSlice(0, bytes);
    }

    private static long elements(long[] dims) {
        long n = 1;
        for (long d : dims) n = Math.multiplyExact(n, d);
        return n;
    }

    private static Cached forwardPrimitive(Config config, boolean training) {
        return cached(new Key(config, training, false), k -> {
            String what = config.toString();
            MemorySegment src = Primitives.f32Desc(config.srcDims(), Dnnl.dnnl_nchw(), what);
            MemorySegment dst = Primitives.f32Desc(config.dstDims(), Dnnl.dnnl_nchw(), what);
            int tag = ChannelBlock.formatTag(block(config));
            MemorySegment blockedSrc = Primitives.intern(Primitives.f32Desc(config.srcDims(), tag, what));
            MemorySegment blockedDst = Primitives.intern(Primitives.f32Desc(config.dstDims(), tag, what));
            try (Arena tmp = Arena.ofConfined()) {
                MemorySegment desc = Primitives.opDesc(tmp);
                MemorySegment[] g = geometry(tmp, config);
                OneDnn.check(Dnnl.dnnl_pooling_v2_forward_desc_init(desc,
                        training ? Dnnl.dnnl_forward_training() : Dnnl.dnnl_forward_inference(),
                        config.kind().algorithm(), blockedSrc, blockedDst, g[0], g[1], g[2], g[3], g[3]),
                        "dnnl_pooling_v2_forward_desc_init", what);
                // The training primitive's descriptor is the hint its backward primitive needs.
                return new Cached(Primitives.create(desc, MemorySegment.NULL, training, what), src, dst, blockedSrc,
                        blockedDst);
            }
        });
    }

    private static Cached createBackward(Config config, Cached forward) {
        String what = "backward " + config;
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment desc = Primitives.opDesc(tmp);
            MemorySegment[] g = geometry(tmp, config);
            OneDnn.check(Dnnl.dnnl_pooling_v2_backward_desc_init(desc, config.kind().algorithm(),
                    forward.blockedSrc(), forward.blockedDst(), g[0], g[1], g[2], g[3], g[3]),
                    "dnnl_pooling_v2_backward_desc_init", what);
            return new Cached(Primitives.createWithHint(desc, forward.primitive(), false, what, null),
                    forward.srcDesc(), forward.dstDesc(), forward.blockedSrc(), forward.blockedDst());
        }
    }

    /** strides, kernel, dilation (oneDNN counts dilation from 0), padding as dnnl_dims_t. */
    private static MemorySegment[] geometry(Arena arena, Config c) {
        return new MemorySegment[] {
            Primitives.dims(arena, c.strideH(), c.strideW()),
            Primitives.dims(arena, c.kernelH(), c.kernelW()),
            Primitives.dims(arena, c.dilationH() - 1, c.dilationW() - 1),
            Primitives.dims(arena, c.padH(), c.padW())};
    }
}
