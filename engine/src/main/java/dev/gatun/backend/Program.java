package dev.gatun.backend;

import dev.gatun.bindings.dnnl.Dnnl;
import dev.gatun.bindings.dnnl.dnnl_exec_arg_t;
import dev.gatun.bindings.kernels.GatunKernels;
import dev.gatun.bindings.omp.Omp;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.List;

/**
 * A fixed sequence of oneDNN primitive calls (and calls of gatun's own kernels) over buffers of its own,
 * built once for one input shape and run any number of times: the native half of an inference plan (see
 * {@code dev.gatun.nn.InferencePlan}).
 *
 * <p><b>Why.</b> Run one at a time, every primitive forms and joins its OpenMP team (an OpenMP team's
 * fork, join and barriers cost about 6 µs a call on the 2-core machine of {@code bench/results}), and a
 * small network runs a dozen primitives per call, with Java (descriptors, memory objects, allocations)
 * between them while the other thread waits. A program runs its steps from one native call
 * ({@code gatun_run_primitives}) in one of two ways. Shared steps: each of its {@link #threads()} threads
 * runs its share of the step as a primitive planned for one thread (or a call of gatun's max pooling or
 * matrix-vector kernel), with a barrier between steps; in a program without team steps they run on gatun's
 * spinning worker threads, else in one OpenMP region. Convolutions and pooling on
 * {@link Layout#CHANNELS_LAST} buffers are split by images, or at batch 1 by output rows, each share the
 * same operation on the rows it reads, padding included where it reaches the border; inner products by
 * rows, or at batch 1 by blocks of 16 output features on gatun's matrix-vector kernel. Steps only the
 * first thread has work in (reorders, eltwise, small pooling) run on the caller alone. Team steps: one
 * primitive run with oneDNN's own team (convolutions and large pooling on {@link Layout#BLOCKED} buffers,
 * where oneDNN's Winograd kernels apply).
 *
 * <p><b>Layouts.</b> Channels-last makes a share of rows or of images one contiguous range of the
 * buffers; blocked layouts suit oneDNN's Winograd kernels (on the ResNet of {@code bench/results} at batch
 * 1, two threads, a 32 → 32 3×3 convolution took 0.0385-0.0394 ms by Winograd against 0.0456-0.0492
 * directly, in C). Weights are laid out once, when the step is added.
 *
 * <p><b>Memory.</b> Every buffer, laid weight, memory object, primitive and stream belongs to the program
 * and is freed by {@link #close()}, or by a cleaner once the program is unreachable. {@link #run} and
 * {@link #close()} exclude each other, so a close waits for a run in progress.
 *
 * <p><b>Checks.</b> Shapes are checked when steps are added: every share's operands are checked to lie
 * inside their buffers, and to be the program's own memory (so that no other owner can free them while
 * it runs), before a memory object is made for them; {@link #run} checks the lengths of the
 * caller's arrays. Nothing else reaches native code.
 */
public final class Program implements AutoCloseable {

    private static final Cleaner CLEANER = Cleaner.create();

    /** Native bytes held by programs and builders not yet freed. */
    private static final java.util.concurrent.atomic.AtomicLong LIVE_BYTES = new java.util.concurrent.atomic.AtomicLong();

    /**
     * The native memory held by programs (and builders) not yet closed or collected: their buffers, laid
     * weights and scratchpads; not their small tables and descriptors, nor the primitives' own state.
     *
     * @return bytes
     */
    public static long liveBytes() {
        return LIVE_BYTES.get();
    }

    /** The native resources of a program or builder, freed once. */
    private static final class Resources implements Runnable {
        final Arena arena = Arena.ofShared();
        final List<MemorySegment> memories = new ArrayList<>();
        final List<MemorySegment> primitives = new ArrayList<>();
        final List<MemorySegment> streams = new ArrayList<>();
        /** Every segment {@link #allocate} made: the only memory a step may name. */
        final List<MemorySegment> allocations = new ArrayList<>();
        private long bytes;
        private boolean freed;

        /** A zeroed segment of the arena, counted in {@link #liveBytes()}. */
        synchronized MemorySegment allocate(long size, long alignment) {
            MemorySegment m = arena.allocate(size, alignment);
            bytes += size;
            LIVE_BYTES.addAndGet(size);
            allocations.add(m);
            return m;
        }

        /**
         * Throws unless {@code m} lies inside one of this program's segments: native code must never be
         * handed memory whose owner could free it while the program lives.
         */
        synchronized void requireOwn(MemorySegment m, String what) {
            for (MemorySegment a : allocations) {
                if (m.address() >= a.address() && m.address() + m.byteSize() <= a.address() + a.byteSize()) {
                    return;
                }
            }
            throw new IllegalArgumentException(what + ": an operand is not memory of this program (make it with"
                    + " Builder.buffer)");
        }

        @Override
        public synchronized void run() {
            if (freed) {
                return;
            }
            freed = true;
            LIVE_BYTES.addAndGet(-bytes);
            for (MemorySegment m : memories) Dnnl.dnnl_memory_destroy(m);
            for (MemorySegment p : primitives) Dnnl.dnnl_primitive_destroy(p);
            for (MemorySegment s : streams) Dnnl.dnnl_stream_destroy(s);
            arena.close();
        }
    }

    /**
     * One call of a step: the thread's primitive and its arguments (kinds and memory objects; a null memory
     * is the scratchpad, of descriptor {@code scratchDesc}, made when the thread's scratchpad size is known).
     */
    private record Call(MemorySegment primitive, int[] kinds, MemorySegment[] memories, MemorySegment scratchDesc,
                        int kernel) {
        Call(MemorySegment primitive, int[] kinds, MemorySegment[] memories, MemorySegment scratchDesc) {
            this(primitive, kinds, memories, scratchDesc, 0);
        }

        /**
         * A call of one of gatun's kernels ({@code GATUN_CALL_MAX_POOL}, {@code GATUN_CALL_MATVEC}):
         * {@code params} as {@code gatun_run_primitives} reads them.
         */
        static Call kernel(int kernel, MemorySegment params) {
            return new Call(params, null, null, null, kernel);
        }

        boolean isKernel() {
            return kinds == null;
        }
    }

    /**
     * One step: a call per thread (null: none), a description for messages, and whether it is one call run
     * with oneDNN's own team (outside the shared region) instead of shares of it.
     */
    private record Step(Call[] calls, String what, boolean team) {}

    /** Output features per block of the matrix-vector kernel's weights. */
    private static final long MATVEC_BLOCK = 16;

    /** How a program's 4-d buffer lays out its {@code [n, c, h, w]} values. */
    public enum Layout {
        /** Row-major, {@code nchw}. */
        PLAIN,
        /** Channels innermost, {@code nhwc}: operations on it are shared out between the threads. */
        CHANNELS_LAST,
        /**
         * Channels in blocks of {@link ChannelBlock#widest()} innermost ({@code nChw16c} on AVX-512), the
         * count padded to a whole block: operations on it run with oneDNN's own team, one at a time, and
         * 3×3 convolutions may run by Winograd's algorithm.
         */
        BLOCKED
    }

    private static int tag(Layout layout) {
        return switch (layout) {
            case PLAIN -> Dnnl.dnnl_nchw();
            case CHANNELS_LAST -> Dnnl.dnnl_nhwc();
            case BLOCKED -> ChannelBlock.formatTag(ChannelBlock.widest());
        };
    }

    /**
     * The floats a buffer of {@code dims} in {@code layout} holds (a blocked layout pads its channels).
     *
     * @param dims   {@code [n, c, h, w]}
     * @param layout the layout
     * @return the length of such a buffer in floats
     */
    public static long floats(long[] dims, Layout layout) {
        NativeLibraries.load();
        Builder.checkDims(dims, 4, "layout");
        try (Arena tmp = Arena.ofConfined()) {
            return Primitives.bytes(Primitives.f32Desc(tmp, dims, tag(layout), "layout")) / Float.BYTES;
        }
    }

    /**
     * The output dims of pooling {@code dims} ({@code [n, c, h, w]}) with {@code window}: {@code {kh, kw,
     * sh, sw, ph, pw}}, and optionally {@code dh, dw} (dilation, 1 when left out), as PyTorch sizes it (no
     * ceil mode), after checking the window: kernel, stride and dilation at least 1, padding at most half the
     * kernel, the dilated window within the padded input.
     *
     * @param dims   the input's {@code [n, c, h, w]}
     * @param window 6 or 8 values
     * @param what   the operation, for messages
     * @return {@code [n, c, oh, ow]}
     * @throws IllegalArgumentException naming what does not fit
     */
    public static long[] pooledDims(long[] dims, long[] window, String what) {
        Builder.checkDims(dims, 4, what);
        if (window.length != 6 && window.length != 8) {
            throw new IllegalArgumentException(what + ": a window has 6 or 8 values, got " + window.length);
        }
        for (long v : window) {
            if (v < 0 || v > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(what + ": window value " + v + " out of range");
            }
        }
        long kh = window[0], kw = window[1], sh = window[2], sw = window[3], ph = window[4], pw = window[5];
        long dh = window.length == 8 ? window[6] : 1, dw = window.length == 8 ? window[7] : 1;
        long extH = (kh - 1) * dh + 1;
        long extW = (kw - 1) * dw + 1;
        if (kh < 1 || kw < 1 || sh < 1 || sw < 1 || dh < 1 || dw < 1 || 2 * ph > kh || 2 * pw > kw
                || dims[2] + 2 * ph < extH || dims[3] + 2 * pw < extW) {
            throw new IllegalArgumentException(what + ": window " + java.util.Arrays.toString(window)
                    + " does not fit input " + java.util.Arrays.toString(dims));
        }
        return new long[] {dims[0], dims[1], (dims[2] + 2 * ph - extH) / sh + 1, (dims[3] + 2 * pw - extW) / sw + 1};
    }

    /** A share of a windowed operation: images [n0, n1), output rows [oh0, oh1), input rows [ih0, ih1). */
    private record Share(long n0, long n1, long oh0, long oh1, long ih0, long ih1, long padTop, long padBottom) {
        long images() {
            return n1 - n0;
        }

        long rowsIn() {
            return ih1 - ih0;
        }

        long rowsOut() {
            return oh1 - oh0;
        }
    }

    /** Frees a builder's resources unless it built a program, which then owns them. */
    private static final class Unbuilt implements Runnable {
        final Resources res;
        volatile boolean built;

        Unbuilt(Resources res) {
            this.res = res;
        }

        @Override
        public void run() {
            if (!built) res.run();
        }
    }

    /**
     * Adds steps to a new program. Not thread-safe; {@link #build} hands every resource to the program, and
     * {@link #close()} frees them if it was not called (or failed), as a cleaner does once an unbuilt
     * builder is unreachable.
     */
    public static final class Builder implements AutoCloseable {
        private final int threads;
        private final Resources res = new Resources();
        private final Unbuilt unbuilt = new Unbuilt(res);
        private final Cleaner.Cleanable cleanable = CLEANER.register(this, unbuilt);
        private final List<Step> steps = new ArrayList<>();
        private final long[] scratchBytes;
        private final List<MemorySegment> buffers = new ArrayList<>();
        private boolean holdsSignals;
        private boolean built;

        private Builder(int threads) {
            this.threads = threads;
            this.scratchBytes = new long[threads];
        }

        /** The threads the program will run on. */
        public int threads() {
            return threads;
        }

        /**
         * A new buffer of the program, zeroed, aligned to 64 bytes.
         *
         * @param floats its length in floats, {@code >= 1}
         * @return the buffer
         * @throws IllegalArgumentException if {@code floats < 1}
         */
        public MemorySegment buffer(long floats) {
            if (floats < 1) {
                throw new IllegalArgumentException("a program buffer needs at least one float, got " + floats);
            }
            MemorySegment b = res.allocate(floats * Float.BYTES, 64);
            buffers.add(b);
            return b;
        }

        /**
         * Copies a 4-d tensor from one layout into another, on the first thread.
         *
         * @param dims {@code [n, c, h, w]}
         * @param from the layout of {@code src}
         * @param to   the layout of {@code dst}
         * @param src  the values
         * @param dst  where they go
         */
        public void reorder(long[] dims, Layout from, Layout to, MemorySegment src, MemorySegment dst) {
            checkDims(dims, 4, "reorder");
            String what = "reorder " + from + " → " + to + " " + java.util.Arrays.toString(dims);
            MemorySegment a = desc(dims, tag(from), what);
            MemorySegment b = desc(dims, tag(to), what);
            Primitives.Primitive p = owned(() -> Primitives.createReorder(res.arena, a, b), 1);
            whole(p, what, new int[] {Dnnl.DNNL_ARG_FROM(), Dnnl.DNNL_ARG_TO()}, new MemorySegment[] {a, b},
                    new MemorySegment[] {src, dst}, false);
        }

        /**
         * A convolution, one group: shared out between the threads where both buffers are channels-last,
         * else one step on oneDNN's team (by Winograd's algorithm where asked and oneDNN has a kernel for
         * it, else directly).
         *
         * @param g         its geometry (groups 1)
         * @param weights   PyTorch's {@code [O, I, KH, KW]} weights, row-major
         * @param bias      {@code O} values, or null
         * @param fusion    what follows it: nothing, ReLU, or adding what {@code dst} holds, then ReLU
         * @param srcLayout the layout of {@code src}
         * @param src       the input
         * @param dstLayout the layout of {@code dst}
         * @param dst       the output
         * @param winograd  whether to compute a 3×3 stride-1 convolution by Winograd's algorithm where possible
         */
        public void convolution(Convolution.Geometry g, float[] weights, float[] bias, Convolution.Fusion fusion,
                                Layout srcLayout, MemorySegment src, Layout dstLayout, MemorySegment dst,
                                boolean winograd) {
            if (g.groups() != 1) {
                throw new IllegalArgumentException("program convolutions take one group, got " + g.groups());
            }
            checkLength(weights, g.outChannels() * g.inChannels() * g.kernelHeight() * g.kernelWidth(),
                    "weights of " + g);
            if (bias != null) checkLength(bias, g.outChannels(), "bias of " + g);
            String what = "convolution " + fusion + " " + g;
            if (srcLayout != Layout.CHANNELS_LAST || dstLayout != Layout.CHANNELS_LAST) {
                teamConvolution(g, weights, bias, fusion, srcLayout, src, dstLayout, dst, winograd, what);
                return;
            }
            long kh = (g.kernelHeight() - 1) * g.dilationHeight() + 1;
            List<Share> shares = shares(g.batch(), g.inHeight(), g.outHeight(), kh, g.strideHeight(), g.padHeight());
            MemorySegment plainWeights = desc(g.weightShape(), Dnnl.dnnl_oihw(), what);
            MemorySegment biasDesc = desc(new long[] {g.outChannels()}, Dnnl.dnnl_x(), what);
            MemorySegment biasData = bias == null ? null : copy(bias, 0, bias.length);
            List<MemorySegment[]> laid = new ArrayList<>(); // {descriptor, data} of each weights layout
            Call[] calls = new Call[threads];
            for (int t = 0; t < shares.size(); t++) {
                Share s = shares.get(t);
                MemorySegment srcDesc = desc(new long[] {s.images(), g.inChannels(), s.rowsIn(), g.inWidth()},
                        Dnnl.dnnl_nhwc(), what);
                MemorySegment dstDesc = desc(new long[] {s.images(), g.outChannels(), s.rowsOut(), g.outWidth()},
                        Dnnl.dnnl_nhwc(), what);
                Primitives.Primitive p = convolutionPrimitive(g, srcDesc, bias != null ? biasDesc : null, dstDesc,
                        s.padTop(), s.padBottom(), false, fusion, what, 1);
                MemorySegment wanted = p.queried(0);
                MemorySegment weightData = laidWeights(laid, weights, plainWeights, wanted, what);
                long srcAt = (s.n0() * g.inHeight() + s.ih0()) * g.inWidth() * g.inChannels();
                long dstAt = (s.n0() * g.outHeight() + s.oh0()) * g.outWidth() * g.outChannels();
                calls[t] = weighted(t, p, new MemorySegment[] {srcDesc, wanted, biasDesc, dstDesc},
                        new MemorySegment[] {at(src, srcAt, what), weightData, biasData, at(dst, dstAt, what)}, what);
            }
            steps.add(new Step(calls, what, false));
        }

        private void teamConvolution(Convolution.Geometry g, float[] weights, float[] bias,
                                     Convolution.Fusion fusion, Layout srcLayout, MemorySegment src,
                                     Layout dstLayout, MemorySegment dst, boolean winograd, String what) {
            MemorySegment srcDesc = desc(g.inputShape(), tag(srcLayout), what);
            MemorySegment dstDesc = desc(g.outputShape(), tag(dstLayout), what);
            MemorySegment biasDesc = desc(new long[] {g.outChannels()}, Dnnl.dnnl_x(), what);
            boolean wino = winograd && g.kernelHeight() == 3 && g.kernelWidth() == 3 && g.strideHeight() == 1
                    && g.strideWidth() == 1 && g.dilationHeight() == 1 && g.dilationWidth() == 1
                    && srcLayout == Layout.BLOCKED && dstLayout == Layout.BLOCKED;
            Primitives.Primitive p = null;
            for (boolean w : wino ? new boolean[] {true, false} : new boolean[] {false}) {
                try {
                    p = convolutionPrimitive(g, srcDesc, bias != null ? biasDesc : null, dstDesc, g.padHeight(),
                            g.padHeight(), w, fusion, what, threads);
                    break;
                } catch (DnnlException e) {
                    if (!w || e.status() != Dnnl.dnnl_unimplemented()) throw e;
                }
            }
            MemorySegment wanted = p.queried(0);
            MemorySegment weightData = lay(weights, desc(g.weightShape(), Dnnl.dnnl_oihw(), what), wanted, what);
            MemorySegment biasData = bias == null ? null : copy(bias, 0, bias.length);
            Call[] calls = new Call[threads];
            calls[0] = weighted(0, p, new MemorySegment[] {srcDesc, wanted, biasDesc, dstDesc},
                    new MemorySegment[] {src, weightData, biasData, dst}, what);
            steps.add(new Step(calls, what, true));
        }

        /**
         * Average pooling: shared out on channels-last buffers; on blocked ones one step, on oneDNN's team
         * unless its operands are small (under {@code gatun.serialBytes}), then on the first thread.
         *
         * @param dims            the input's {@code [n, c, h, w]}
         * @param window          {@code {kh, kw, sh, sw, ph, pw}}
         * @param includePadding  whether padded positions count in the average (PyTorch's {@code count_include_pad})
         * @param layout          the layout of both buffers: channels-last or blocked
         * @param src             the input
         * @param dst             the output
         */
        public void averagePooling(long[] dims, long[] window, boolean includePadding, Layout layout,
                                   MemorySegment src, MemorySegment dst) {
            if (window.length != 6) throw new IllegalArgumentException("pooling window needs 6 values");
            long[] out = pooledDims(dims, window, "average pooling");
            long n = dims[0], c = dims[1], ih = dims[2], iw = dims[3];
            long kh = window[0], sh = window[2], ph = window[4];
            long oh = out[2], ow = out[3];
            String what = "average pooling " + java.util.Arrays.toString(dims) + " window "
                    + java.util.Arrays.toString(window);
            int alg = includePadding ? Dnnl.dnnl_pooling_avg_include_padding()
                    : Dnnl.dnnl_pooling_avg_exclude_padding();
            if (layout != Layout.CHANNELS_LAST) {
                MemorySegment srcDesc = desc(dims, tag(layout), what);
                MemorySegment dstDesc = desc(new long[] {n, c, oh, ow}, tag(layout), what);
                boolean alone = Primitives.bytes(srcDesc) + Primitives.bytes(dstDesc) < Primitives.SERIAL_BYTES;
                Primitives.Primitive p = averagePoolingPrimitive(alg, srcDesc, dstDesc, window, ph, ph, what,
                        alone ? 1 : threads);
                whole(p, what, new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_DST()},
                        new MemorySegment[] {srcDesc, dstDesc}, new MemorySegment[] {src, dst}, !alone);
                return;
            }
            List<Share> shares = shares(n, ih, oh, kh, sh, ph);
            Call[] calls = new Call[threads];
            for (int t = 0; t < shares.size(); t++) {
                Share s = shares.get(t);
                MemorySegment srcDesc = desc(new long[] {s.images(), c, s.rowsIn(), iw}, Dnnl.dnnl_nhwc(),
                        what);
                MemorySegment dstDesc = desc(new long[] {s.images(), c, s.rowsOut(), ow}, Dnnl.dnnl_nhwc(),
                        what);
                Primitives.Primitive p = averagePoolingPrimitive(alg, srcDesc, dstDesc, window, s.padTop(),
                        s.padBottom(), what, 1);
                long srcAt = (s.n0() * ih + s.ih0()) * iw * c;
                long dstAt = (s.n0() * oh + s.oh0()) * ow * c;
                calls[t] = call(t, p, new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_DST()},
                        new MemorySegment[] {srcDesc, dstDesc},
                        new MemorySegment[] {at(src, srcAt, what), at(dst, dstAt, what)}, what);
            }
            steps.add(new Step(calls, what, false));
        }

        /**
         * An average pooling of {@code window} ({@code {kh, kw, sh, sw, ph, pw}}) over the given descriptors,
         * padded {@code padTop}/{@code padBottom} rows and the window's columns, planned for {@code planned}
         * threads.
         */
        private Primitives.Primitive averagePoolingPrimitive(int alg, MemorySegment srcDesc, MemorySegment dstDesc,
                                                             long[] window, long padTop, long padBottom, String what,
                                                             int planned) {
            return owned(() -> {
                try (Arena tmp = Arena.ofConfined()) {
                    MemorySegment desc = Primitives.opDesc(tmp);
                    OneDnn.check(Dnnl.dnnl_pooling_v2_forward_desc_init(desc, Dnnl.dnnl_forward_inference(), alg,
                            srcDesc, dstDesc, Primitives.dims(tmp, window[2], window[3]),
                            Primitives.dims(tmp, window[0], window[1]), Primitives.dims(tmp, 0, 0),
                            Primitives.dims(tmp, padTop, window[5]), Primitives.dims(tmp, padBottom, window[5])),
                            "dnnl_pooling_v2_forward_desc_init", what);
                    return Primitives.create(res.arena, desc, MemorySegment.NULL, false, what, null);
                }
            }, planned);
        }

        /**
         * Max pooling on gatun's kernel (NaN propagating, as PyTorch's and the layers' own pass): on
         * channels-last buffers shared out as average pooling is; on blocked ones split by images.
         *
         * @param dims   the input's {@code [n, c, h, w]}
         * @param window {@code {kh, kw, sh, sw, ph, pw, dh, dw}}
         * @param layout the layout of both buffers: channels-last or blocked
         * @param src    the input
         * @param dst    the output
         */
        public void maxPooling(long[] dims, long[] window, Layout layout, MemorySegment src, MemorySegment dst) {
            if (window.length != 8) throw new IllegalArgumentException("max pooling window needs 8 values");
            if (layout == Layout.PLAIN) throw new IllegalArgumentException("max pooling takes no plain buffers");
            long[] out = pooledDims(dims, window, "max pooling");
            long n = dims[0], c = dims[1], ih = dims[2], iw = dims[3];
            long kh = window[0], kw = window[1], sh = window[2], sw = window[3], ph = window[4], pw = window[5];
            long dh = window[6], dw = window[7];
            long extH = (kh - 1) * dh + 1;
            long oh = out[2], ow = out[3];
            String what = "max pooling " + java.util.Arrays.toString(dims) + " window "
                    + java.util.Arrays.toString(window);
            boolean last = layout == Layout.CHANNELS_LAST;
            int block = ChannelBlock.widest();
            long lanes = last ? c : block;
            long cb = last ? 1 : (c + block - 1) / block;
            // Blocked images are whole blocks of rows per channel block: shares of images only.
            List<Share> shares = last || n > 1 ? shares(n, ih, oh, extH, sh, ph)
                    : List.of(new Share(0, 1, 0, oh, 0, ih, ph, ph));
            Call[] calls = new Call[threads];
            for (int t = 0; t < shares.size(); t++) {
                Share s = shares.get(t);
                long images = s.images();
                long rowsIn = s.rowsIn();
                long rowsOut = s.rowsOut();
                long srcAt = ((s.n0() * cb) * ih + s.ih0()) * iw * lanes;
                long dstAt = ((s.n0() * cb) * oh + s.oh0()) * ow * lanes;
                MemorySegment from = at(src, srcAt, what);
                MemorySegment to = at(dst, dstAt, what);
                res.requireOwn(from, what);
                res.requireOwn(to, what);
                long needIn = images * cb * rowsIn * iw * lanes * Float.BYTES;
                long needOut = images * cb * rowsOut * ow * lanes * Float.BYTES;
                if (from.byteSize() < needIn || to.byteSize() < needOut) {
                    throw new IllegalStateException(what + ": a share spans past its buffers");
                }
                MemorySegment params = res.allocate(18 * Long.BYTES, 8);
                long[] q = {from.address(), to.address(), lanes, 0, images, cb, rowsIn, iw, rowsOut, ow, kh, kw, sh, sw,
                    s.padTop(), pw, dh, dw};
                MemorySegment.copy(q, 0, params, ValueLayout.JAVA_LONG, 0, q.length);
                calls[t] = Call.kernel(GatunKernels.GATUN_CALL_MAX_POOL(), params);
            }
            steps.add(new Step(calls, what, false));
        }

        /**
         * A fully connected layer on row-major {@code [n, in]} rows: {@code dst = src · weightsᵀ + bias}, ReLU
         * after it when asked. Split among the threads by rows; one row by output features, each thread's
         * share of the weights laid out in blocks for gatun's matrix-vector kernel.
         *
         * @param n       the rows
         * @param in      the input features
         * @param out     the output features
         * @param weights PyTorch's {@code [out, in]} weights, row-major
         * @param bias    {@code out} values, or null
         * @param relu    whether ReLU follows
         * @param src     the rows, row-major
         * @param dst     the output, row-major
         */
        public void innerProduct(long n, long in, long out, float[] weights, float[] bias, boolean relu,
                                 MemorySegment src, MemorySegment dst) {
            checkDims(new long[] {n, in, out}, 3, "inner product");
            checkLength(weights, in * out, "inner product weights");
            if (bias != null) checkLength(bias, out, "inner product bias");
            String what = "inner product " + n + "×" + in + " → " + out + (relu ? " RELU" : "");
            if (n == 1) {
                matrixVector(in, out, weights, bias, relu, src, dst, what);
                return;
            }
            MemorySegment plainWeights = desc(new long[] {out, in}, Dnnl.dnnl_ab(), what);
            MemorySegment anyWeights = desc(new long[] {out, in}, Dnnl.dnnl_format_tag_any(), what);
            MemorySegment biasDesc = desc(new long[] {out}, Dnnl.dnnl_x(), what);
            MemorySegment biasData = bias == null ? null : copy(bias, 0, bias.length);
            List<MemorySegment[]> laid = new ArrayList<>(); // {descriptor, data} of each weights layout
            long parts = Math.min(n, threads);
            Call[] calls = new Call[threads];
            for (int t = 0; t < parts; t++) {
                long r0 = n * t / parts;
                long rows = n * (t + 1) / parts - r0;
                MemorySegment srcDesc = desc(new long[] {rows, in}, Dnnl.dnnl_ab(), what);
                MemorySegment dstDesc = desc(new long[] {rows, out}, Dnnl.dnnl_ab(), what);
                Primitives.Primitive p = owned(() -> {
                    try (Arena tmp = Arena.ofConfined()) {
                        MemorySegment desc = Primitives.opDesc(tmp);
                        OneDnn.check(Dnnl.dnnl_inner_product_forward_desc_init(desc, Dnnl.dnnl_forward_inference(),
                                srcDesc, anyWeights, bias != null ? biasDesc : MemorySegment.NULL, dstDesc),
                                "dnnl_inner_product_forward_desc_init", what);
                        return Primitives.create(res.arena, desc, MemorySegment.NULL, false, what,
                                relu ? Convolution.postOps(Convolution.Fusion.RELU) : null,
                                Dnnl.dnnl_query_weights_md());
                    }
                }, 1);
                MemorySegment wanted = p.queried(0);
                MemorySegment weightData = laidWeights(laid, weights, plainWeights, wanted, what);
                calls[t] = weighted(t, p, new MemorySegment[] {srcDesc, wanted, biasDesc, dstDesc},
                        new MemorySegment[] {at(src, r0 * in, what), weightData, biasData, at(dst, r0 * out, what)},
                        what);
            }
            steps.add(new Step(calls, what, false));
        }

        /**
         * One row through a fully connected layer by gatun's matrix-vector kernel: the output features
         * shared out among the threads in blocks of 16, each thread's weights laid out for it in blocks
         * ({@code GATUN_CALL_MATVEC}).
         */
        private void matrixVector(long in, long out, float[] weights, float[] bias, boolean relu, MemorySegment src,
                                  MemorySegment dst, String what) {
            long blocks = (out + MATVEC_BLOCK - 1) / MATVEC_BLOCK;
            long parts = Math.min(blocks, threads);
            MemorySegment x = at(src, 0, what);
            res.requireOwn(x, what);
            if (x.byteSize() < in * Float.BYTES) {
                throw new IllegalStateException(what + ": the input row spans past its buffer");
            }
            MemorySegment whole = at(dst, 0, what);
            if (whole.address() < x.address() + in * Float.BYTES && x.address() < whole.address() + out * Float.BYTES) {
                throw new IllegalArgumentException(what + ": the output overlaps the input row");
            }
            Call[] calls = new Call[threads];
            for (int t = 0; t < parts; t++) {
                long b0 = blocks * t / parts;
                long b1 = blocks * (t + 1) / parts;
                long o0 = b0 * MATVEC_BLOCK;
                long features = Math.min(out, b1 * MATVEC_BLOCK) - o0;
                long padded = (b1 - b0) * MATVEC_BLOCK;
                MemorySegment y = at(dst, o0, what);
                res.requireOwn(y, what);
                if (y.byteSize() < features * Float.BYTES) {
                    throw new IllegalStateException(what + ": a share spans past the output buffer");
                }
                float[] laid = new float[Math.toIntExact(padded * in)];
                int fin = Math.toIntExact(in);
                for (int o = 0; o < features; o++) {
                    int row = Math.toIntExact((o0 + o) * in);
                    int base = (o / (int) MATVEC_BLOCK) * fin * (int) MATVEC_BLOCK + o % (int) MATVEC_BLOCK;
                    for (int i = 0; i < fin; i++) {
                        laid[base + i * (int) MATVEC_BLOCK] = weights[row + i];
                    }
                }
                MemorySegment w = copy(laid, 0, laid.length);
                MemorySegment b = MemorySegment.NULL;
                if (bias != null) {
                    b = res.allocate(padded * Float.BYTES, 64);
                    MemorySegment.copy(bias, Math.toIntExact(o0), b, ValueLayout.JAVA_FLOAT, 0,
                            Math.toIntExact(features));
                }
                MemorySegment params = res.allocate(8 * Long.BYTES, 8);
                long[] q = {x.address(), y.address(), w.address(), b.address(), in, features, relu ? 1 : 0, 0};
                MemorySegment.copy(q, 0, params, ValueLayout.JAVA_LONG, 0, q.length);
                calls[t] = Call.kernel(GatunKernels.GATUN_CALL_MATVEC(), params);
            }
            steps.add(new Step(calls, what, false));
        }

        /** ReLU over the first {@code floats} values of {@code buffer}, in place. */
        public void relu(MemorySegment buffer, long floats) {
            checkDims(new long[] {floats}, 1, "relu");
            String what = "relu over " + floats;
            MemorySegment md = desc(new long[] {floats}, Dnnl.dnnl_a(), what);
            Primitives.Primitive p = owned(() -> {
                try (Arena tmp = Arena.ofConfined()) {
                    MemorySegment desc = Primitives.opDesc(tmp);
                    OneDnn.check(Dnnl.dnnl_eltwise_forward_desc_init(desc, Dnnl.dnnl_forward_inference(),
                            Dnnl.dnnl_eltwise_relu(), md, 0f, 0f), "dnnl_eltwise_forward_desc_init", what);
                    return Primitives.create(res.arena, desc, MemorySegment.NULL, false, what, null);
                }
            }, 1);
            whole(p, what, new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_DST()}, new MemorySegment[] {md, md},
                    new MemorySegment[] {buffer, buffer}, false);
        }

        /**
         * The program: its steps in the order added, reading {@code input} and leaving its result in
         * {@code output} (both buffers of this builder, row-major).
         *
         * @throws IllegalStateException if already built, or a buffer is not this builder's
         */
        public Program build(MemorySegment input, long inputFloats, MemorySegment output, long outputFloats) {
            if (built) throw new IllegalStateException("program already built");
            checkOwn(input, inputFloats, "input");
            checkOwn(output, outputFloats, "output");
            int n = steps.size();
            MemorySegment prims = res.arena.allocate(ValueLayout.ADDRESS, Math.max(1, (long) n * threads));
            MemorySegment nargs = res.arena.allocate(ValueLayout.JAVA_INT, Math.max(1, (long) n * threads));
            MemorySegment args = res.arena.allocate(ValueLayout.ADDRESS, Math.max(1, (long) n * threads));
            MemorySegment team = res.arena.allocate(ValueLayout.JAVA_BYTE, Math.max(1, n));
            MemorySegment streams = res.arena.allocate(ValueLayout.ADDRESS, threads);
            MemorySegment[] scratch = new MemorySegment[threads];
            for (int t = 0; t < threads; t++) {
                MemorySegment out = res.arena.allocate(ValueLayout.ADDRESS);
                OneDnn.check(Dnnl.dnnl_stream_create(out, OneDnn.cpuEngine(), Dnnl.dnnl_stream_default_flags()),
                        "dnnl_stream_create");
                res.streams.add(out.get(ValueLayout.ADDRESS, 0));
                streams.setAtIndex(ValueLayout.ADDRESS, t, out.get(ValueLayout.ADDRESS, 0));
                scratch[t] = scratchBytes[t] > 0 ? res.allocate(scratchBytes[t], 64) : null;
            }
            String[] whats = new String[n];
            for (int s = 0; s < n; s++) {
                Step step = steps.get(s);
                whats[s] = step.what();
                team.set(ValueLayout.JAVA_BYTE, s, (byte) (step.team() ? 1 : 0));
                for (int t = 0; t < threads; t++) {
                    Call c = step.calls()[t];
                    long i = (long) s * threads + t;
                    if (c == null) {
                        prims.setAtIndex(ValueLayout.ADDRESS, i, MemorySegment.NULL);
                        continue;
                    }
                    if (c.isKernel()) {
                        prims.setAtIndex(ValueLayout.ADDRESS, i, c.primitive());
                        nargs.setAtIndex(ValueLayout.JAVA_INT, i, c.kernel());
                        args.setAtIndex(ValueLayout.ADDRESS, i, c.primitive());
                        continue;
                    }
                    int k = c.kinds().length;
                    MemorySegment a = res.arena.allocate(dnnl_exec_arg_t.layout(), k);
                    for (int j = 0; j < k; j++) {
                        MemorySegment memory = c.memories()[j];
                        if (memory == null) { // the scratchpad: this thread's buffer, made now its size is known
                            memory = memory(c.scratchDesc(), scratch[t]);
                        }
                        MemorySegment slot = dnnl_exec_arg_t.asSlice(a, j);
                        dnnl_exec_arg_t.arg(slot, c.kinds()[j]);
                        dnnl_exec_arg_t.memory(slot, memory);
                    }
                    prims.setAtIndex(ValueLayout.ADDRESS, i, c.primitive());
                    nargs.setAtIndex(ValueLayout.JAVA_INT, i, k);
                    args.setAtIndex(ValueLayout.ADDRESS, i, a);
                }
            }
            Program program = new Program(res, threads, n, prims, streams, nargs, args, team, whats, input,
                    inputFloats, output, outputFloats, holdsSignals);
            built = true;
            unbuilt.built = true;
            return program;
        }

        /** Frees everything unless {@link #build} handed it to a program. */
        @Override
        public void close() {
            cleanable.clean();
        }

        // ------------------------------------------------------------ helpers

        /**
         * The shares of a windowed operation over {@code n} images of {@code ih} input and {@code oh} output
         * rows (window {@code kh} rows with dilation, stride {@code sh}, padding {@code ph}): images split
         * among the threads (as many shares as images, at most one per thread), or at batch 1 the output rows.
         */
        private List<Share> shares(long n, long ih, long oh, long kh, long sh, long ph) {
            List<Share> out = new ArrayList<>();
            if (n > 1) {
                long parts = Math.min(n, threads);
                for (long p = 0; p < parts; p++) {
                    long n0 = n * p / parts;
                    long n1 = n * (p + 1) / parts;
                    // Whole images, padded alike on both sides as the layers' own passes are: oneDNN
                    // floors the output size just as PyTorch does (and cropping unread bottom rows would
                    // change the distance between images).
                    out.add(new Share(n0, n1, 0, oh, 0, ih, ph, ph));
                }
                return out;
            }
            long parts = Math.min(oh, threads);
            for (long p = 0; p < parts; p++) {
                out.add(rows(0, 1, oh * p / parts, oh * (p + 1) / parts, ih, kh, sh, ph));
            }
            return out;
        }

        /** Output rows [oh0, oh1) of images [n0, n1): the input rows their windows read, and the padding. */
        private static Share rows(long n0, long n1, long oh0, long oh1, long ih, long kh, long sh, long ph) {
            long top = oh0 * sh - ph;
            long bottom = (oh1 - 1) * sh - ph + kh;
            long ih0 = Math.max(0, top);
            long ih1 = Math.min(ih, bottom);
            if (ih1 <= ih0) {
                throw new IllegalArgumentException("output rows [" + oh0 + ", " + oh1 + ") read no input row");
            }
            return new Share(n0, n1, oh0, oh1, ih0, ih1, ih0 - top, bottom - ih1);
        }

        private interface Creation {
            Primitives.Primitive create();
        }

        /** A primitive planned for {@code planned} threads, destroyed with the program. */
        private Primitives.Primitive owned(Creation c, int planned) {
            NativeLibraries.load();
            Omp.omp_set_num_threads(planned);
            Primitives.Primitive p;
            try {
                p = c.create();
            } finally {
                Omp.omp_set_num_threads(Threads.get());
            }
            res.primitives.add(p.handle());
            holdsSignals |= p.holdsSignals();
            return p;
        }

        /**
         * {@code values} (laid out as {@code plain}) copied into a new buffer of the program in layout
         * {@code wanted}, by a reorder made for it and destroyed at once: the process-wide reorder cache
         * keys its entries by descriptor address, and the program's descriptors die with it.
         */
        private MemorySegment lay(float[] values, MemorySegment plain, MemorySegment wanted, String what) {
            MemorySegment data = res.allocate(Primitives.bytes(wanted), 64);
            try (Arena tmp = Arena.ofConfined()) {
                MemorySegment from = tmp.allocate((long) values.length * Float.BYTES, 64);
                MemorySegment.copy(values, 0, from, ValueLayout.JAVA_FLOAT, 0, values.length);
                Primitives.Primitive r = Primitives.createReorder(tmp, plain, wanted);
                try {
                    Primitives.execute(r, new int[] {Dnnl.DNNL_ARG_FROM(), Dnnl.DNNL_ARG_TO()},
                            new MemorySegment[] {plain, wanted}, new MemorySegment[] {from, data}, "laying " + what);
                } finally {
                    Dnnl.dnnl_primitive_destroy(r.handle());
                }
            }
            return data;
        }

        /**
         * A forward-inference convolution of {@code g}'s kernel, strides and dilation over the given
         * descriptors (bias null for none), padded {@code padTop}/{@code padBottom} rows and {@code g}'s
         * columns, weights left to oneDNN, planned for {@code planned} threads.
         */
        private Primitives.Primitive convolutionPrimitive(Convolution.Geometry g, MemorySegment srcDesc,
                                                          MemorySegment biasDesc, MemorySegment dstDesc, long padTop,
                                                          long padBottom, boolean winograd, Convolution.Fusion fusion,
                                                          String what, int planned) {
            MemorySegment anyWeights = desc(g.weightShape(), Dnnl.dnnl_format_tag_any(), what);
            return owned(() -> {
                try (Arena tmp = Arena.ofConfined()) {
                    MemorySegment desc = Primitives.opDesc(tmp);
                    OneDnn.check(Dnnl.dnnl_dilated_convolution_forward_desc_init(desc, Dnnl.dnnl_forward_inference(),
                            winograd ? Dnnl.dnnl_convolution_winograd() : Dnnl.dnnl_convolution_direct(), srcDesc,
                            anyWeights, biasDesc != null ? biasDesc : MemorySegment.NULL, dstDesc,
                            Primitives.dims(tmp, g.strideHeight(), g.strideWidth()),
                            Primitives.dims(tmp, g.dilationHeight() - 1, g.dilationWidth() - 1),
                            Primitives.dims(tmp, padTop, g.padWidth()), Primitives.dims(tmp, padBottom, g.padWidth())),
                            "dnnl_dilated_convolution_forward_desc_init", what);
                    return Primitives.create(res.arena, desc, MemorySegment.NULL, false, what,
                            Convolution.postOps(fusion), Dnnl.dnnl_query_weights_md());
                }
            }, planned);
        }

        /**
         * The weights laid out as {@code wanted}: the buffer of an earlier share that wanted the same layout
         * (listed in {@code laid} as {descriptor, data}), else a new one, added to the list.
         */
        private MemorySegment laidWeights(List<MemorySegment[]> laid, float[] weights, MemorySegment plain,
                                          MemorySegment wanted, String what) {
            for (MemorySegment[] l : laid) {
                if (Primitives.sameLayout(l[0], wanted)) return l[1];
            }
            MemorySegment data = lay(weights, plain, wanted, what);
            laid.add(new MemorySegment[] {wanted, data});
            return data;
        }

        /** {@code values[from, from + count)} in a new buffer of the program. */
        private MemorySegment copy(float[] values, int from, int count) {
            MemorySegment m = res.allocate((long) count * Float.BYTES, 64);
            MemorySegment.copy(values, from, m, ValueLayout.JAVA_FLOAT, 0, count);
            return m;
        }

        /**
         * A call of a weighted primitive on thread {@code t}: descriptors and data of src, weights, bias and
         * dst, the bias left out where its data is null.
         */
        private Call weighted(int t, Primitives.Primitive p, MemorySegment[] descs, MemorySegment[] data,
                              String what) {
            boolean bias = data[2] != null;
            int[] kinds = bias
                    ? new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_WEIGHTS(), Dnnl.DNNL_ARG_BIAS(), Dnnl.DNNL_ARG_DST()}
                    : new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_WEIGHTS(), Dnnl.DNNL_ARG_DST()};
            return call(t, p, kinds, bias ? descs : new MemorySegment[] {descs[0], descs[1], descs[3]},
                    bias ? data : new MemorySegment[] {data[0], data[1], data[3]}, what);
        }

        /** One call of {@code p}: on oneDNN's team ({@code team}) or on the first thread alone. */
        private void whole(Primitives.Primitive p, String what, int[] kinds, MemorySegment[] descs,
                           MemorySegment[] data, boolean team) {
            Call[] calls = new Call[threads];
            calls[0] = call(0, p, kinds, descs, data, what);
            steps.add(new Step(calls, what, team));
        }

        /** A call of {@code p} on thread {@code t}: memory objects for its operands, checked to fit. */
        private Call call(int t, Primitives.Primitive p, int[] kinds, MemorySegment[] descs, MemorySegment[] data,
                          String what) {
            boolean scratch = p.scratchpadBytes() > 0;
            int k = kinds.length + (scratch ? 1 : 0);
            int[] allKinds = new int[k];
            MemorySegment[] memories = new MemorySegment[k];
            for (int i = 0; i < kinds.length; i++) {
                res.requireOwn(data[i], what);
                long need = Primitives.bytes(descs[i]);
                if (data[i].byteSize() < need) {
                    throw new IllegalStateException(what + ": operand " + i + " has " + data[i].byteSize()
                            + " bytes, its layout spans " + need);
                }
                allKinds[i] = kinds[i];
                memories[i] = memory(descs[i], data[i]);
            }
            if (scratch) {
                allKinds[k - 1] = Dnnl.DNNL_ARG_SCRATCHPAD();
                scratchBytes[t] = Math.max(scratchBytes[t], p.scratchpadBytes());
            }
            return new Call(p.handle(), allKinds, memories, scratch ? p.scratchpadDesc() : null);
        }

        private MemorySegment memory(MemorySegment md, MemorySegment data) {
            MemorySegment out = res.arena.allocate(ValueLayout.ADDRESS);
            OneDnn.check(Dnnl.dnnl_memory_create(out, md, OneDnn.cpuEngine(), data), "dnnl_memory_create");
            MemorySegment m = out.get(ValueLayout.ADDRESS, 0);
            res.memories.add(m);
            return m;
        }

        private MemorySegment desc(long[] dims, int tag, String what) {
            return Primitives.f32Desc(res.arena, dims, tag, what);
        }

        /** {@code buffer} from float {@code at} on, checked to start inside it. */
        private static MemorySegment at(MemorySegment buffer, long at, String what) {
            if (at < 0 || at * Float.BYTES >= buffer.byteSize()) {
                throw new IllegalArgumentException(what + ": offset " + at + " outside a buffer of "
                        + buffer.byteSize() / Float.BYTES + " floats");
            }
            return buffer.asSlice(at * Float.BYTES);
        }

        private void checkOwn(MemorySegment b, long floats, String name) {
            boolean own = false;
            for (MemorySegment m : buffers) own |= m.equals(b);
            if (!own) throw new IllegalStateException("the program's " + name + " is not one of its buffers");
            if (floats < 1 || floats * Float.BYTES > b.byteSize()) {
                throw new IllegalArgumentException("the program's " + name + " of " + floats + " floats does not fit"
                        + " its buffer of " + b.byteSize() / Float.BYTES);
            }
        }

        static void checkDims(long[] dims, int rank, String what) {
            if (dims.length != rank) throw new IllegalArgumentException(what + " needs " + rank + " dimensions");
            for (long d : dims) {
                if (d < 1 || d > Integer.MAX_VALUE) {
                    throw new IllegalArgumentException(what + ": dimension " + d + " out of range, in "
                            + java.util.Arrays.toString(dims));
                }
            }
        }

        private static void checkLength(float[] v, long n, String what) {
            if (v == null || v.length != n) {
                throw new IllegalArgumentException(what + ": expected " + n + " values, got "
                        + (v == null ? "none" : v.length));
            }
        }
    }

    /**
     * A builder for a program that runs on {@link Threads#get()} threads.
     *
     * @return a new builder; close it if {@link Builder#build} is not reached
     */
    public static Builder builder() {
        NativeLibraries.load();
        return new Builder(Threads.get());
    }

    private final Resources res;
    private final Cleaner.Cleanable cleanable;
    private final int threads;
    private final int steps;
    private final MemorySegment primitives;
    private final MemorySegment streams;
    private final MemorySegment nargs;
    private final MemorySegment args;
    private final MemorySegment team;
    private final MemorySegment failed;
    private final String[] whats;
    private final MemorySegment input;
    private final int inputFloats;
    private final MemorySegment output;
    private final int outputFloats;
    private final boolean holdsSignals;
    private boolean closed;

    private Program(Resources res, int threads, int steps, MemorySegment primitives, MemorySegment streams,
                    MemorySegment nargs, MemorySegment args, MemorySegment team, String[] whats, MemorySegment input,
                    long inputFloats,
                    MemorySegment output, long outputFloats, boolean holdsSignals) {
        this.res = res;
        this.threads = threads;
        this.steps = steps;
        this.primitives = primitives;
        this.streams = streams;
        this.nargs = nargs;
        this.args = args;
        this.team = team;
        this.failed = res.arena.allocate(ValueLayout.JAVA_INT);
        this.whats = whats;
        this.input = input;
        this.inputFloats = Math.toIntExact(inputFloats);
        this.output = output;
        this.outputFloats = Math.toIntExact(outputFloats);
        this.holdsSignals = holdsSignals;
        this.cleanable = CLEANER.register(this, res);
    }

    /** The threads each run uses. */
    public int threads() {
        return threads;
    }

    /** The number of steps. */
    public int steps() {
        return steps;
    }

    /**
     * Runs the program: copies {@code in} into its input, runs every step, copies its output into
     * {@code out}. One run at a time: a second caller waits.
     *
     * @throws IllegalArgumentException if an array's length is not the program's
     * @throws IllegalStateException    if the program is closed
     * @throws DnnlException            if a primitive fails (naming its step)
     */
    public synchronized void run(float[] in, float[] out) {
        if (in.length != inputFloats || out.length != outputFloats) {
            throw new IllegalArgumentException("program takes " + inputFloats + " floats and gives " + outputFloats
                    + ", got arrays of " + in.length + " and " + out.length);
        }
        if (closed) throw new IllegalStateException("program is closed");
        MemorySegment.copy(in, 0, input, ValueLayout.JAVA_FLOAT, 0, inputFloats);
        Threads.applyToCurrentThread();
        // The steps run on oneDNN's team take the program's thread count, whatever the setting is now.
        boolean other = threads != Threads.get();
        if (other) Omp.omp_set_num_threads(threads);
        long signals = holdsSignals ? Signals.block() : 0;
        int status;
        try {
            status = GatunKernels.gatun_run_primitives(steps, threads, primitives, streams, nargs, args, team, failed);
        } finally {
            Signals.restore(signals);
            if (other) Omp.omp_set_num_threads(Threads.get());
        }
        if (status != 0) {
            int s = failed.get(ValueLayout.JAVA_INT, 0);
            throw new DnnlException("dnnl_primitive_execute", status, s >= 0 && s < whats.length ? whats[s] : null);
        }
        MemorySegment.copy(output, ValueLayout.JAVA_FLOAT, 0, out, 0, outputFloats);
    }

    /** Frees every native resource of the program; waits for a run in progress. Idempotent. */
    @Override
    public synchronized void close() {
        closed = true;
        cleanable.clean();
    }
}
