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
 * A fixed sequence of oneDNN primitive calls over buffers of its own, built once for one input shape and
 * run any number of times: the native half of an inference plan (see {@code dev.gatun.nn.InferencePlan}).
 *
 * <p><b>Why.</b> Run one at a time, every primitive forms and joins its OpenMP team: an empty two-thread
 * region costs 3.2 µs on the 2-core machine of {@code bench/results}, and a small network runs a dozen
 * primitives per call, with Java (descriptors, memory objects, allocations) between them while the other
 * thread waits. A program runs all of its steps inside one parallel region
 * ({@code gatun_run_primitives}): each of its {@link #threads()} threads runs its share of a step as a
 * primitive planned for one thread, and the threads meet at a barrier between steps. Convolutions and
 * pooling are split by images, or at batch 1 by output rows (each share is the same operation on the rows
 * it reads, padding included where the share reaches the border, so the result does not depend on the
 * split); inner products by rows, or at batch 1 by output features; reorders and eltwise steps run on
 * the first thread alone.
 *
 * <p><b>Layouts.</b> Convolutions and pooling compute channels-last ({@code nhwc}): a share of rows or of
 * images is then one contiguous range of the buffers. Weights are laid out once, when the step is added.
 *
 * <p><b>Memory.</b> Every buffer, laid weight, memory object, primitive and stream belongs to the program
 * and is freed by {@link #close()}, or by a cleaner once the program is unreachable. {@link #run} and
 * {@link #close()} exclude each other, so a close waits for a run in progress.
 *
 * <p><b>Checks.</b> Shapes are checked when steps are added: every share's operands are checked to lie
 * inside their buffers before a memory object is made for them; {@link #run} checks the lengths of the
 * caller's arrays. Nothing else reaches native code.
 */
public final class Program implements AutoCloseable {

    private static final Cleaner CLEANER = Cleaner.create();

    /** The native resources of a program or builder, freed once. */
    private static final class Resources implements Runnable {
        final Arena arena = Arena.ofShared();
        final List<MemorySegment> memories = new ArrayList<>();
        final List<MemorySegment> primitives = new ArrayList<>();
        final List<MemorySegment> streams = new ArrayList<>();
        private boolean freed;

        @Override
        public synchronized void run() {
            if (freed) {
                return;
            }
            freed = true;
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
    private record Call(MemorySegment primitive, int[] kinds, MemorySegment[] memories, MemorySegment scratchDesc) {}

    /** One step: a call per thread (null: none), a description for messages. */
    private record Step(Call[] calls, String what) {}

    /** A share of a windowed operation: images [n0, n1), output rows [oh0, oh1), input rows [ih0, ih1). */
    private record Share(long n0, long n1, long oh0, long oh1, long ih0, long ih1, long padTop, long padBottom) {}

    /**
     * Adds steps to a new program. Not thread-safe; {@link #build} hands every resource to the program, and
     * {@link #close()} frees them if it was not called (or failed).
     */
    public static final class Builder implements AutoCloseable {
        private final int threads;
        private final Resources res = new Resources();
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
            MemorySegment b = res.arena.allocate(floats * Float.BYTES, 64);
            buffers.add(b);
            return b;
        }

        /**
         * Copies a 4-d tensor from row-major ({@code nchw}) to channels-last, or back.
         *
         * @param dims   {@code [n, c, h, w]}
         * @param toLast whether {@code from} is row-major and {@code to} channels-last (else the reverse)
         */
        public void reorder(long[] dims, boolean toLast, MemorySegment from, MemorySegment to) {
            checkDims(dims, 4, "reorder");
            String what = "reorder " + (toLast ? "to" : "from") + " channels-last " + java.util.Arrays.toString(dims);
            MemorySegment plain = desc(dims, Dnnl.dnnl_nchw(), what);
            MemorySegment last = desc(dims, Dnnl.dnnl_nhwc(), what);
            MemorySegment src = toLast ? plain : last;
            MemorySegment dst = toLast ? last : plain;
            Primitives.Primitive p = owned(() -> Primitives.createReorder(res.arena, src, dst));
            whole(p, what, new int[] {Dnnl.DNNL_ARG_FROM(), Dnnl.DNNL_ARG_TO()}, new MemorySegment[] {src, dst},
                    new MemorySegment[] {from, to});
        }

        /**
         * A convolution over channels-last buffers, one group.
         *
         * @param g       its geometry (groups 1)
         * @param weights PyTorch's {@code [O, I, KH, KW]} weights, row-major
         * @param bias    {@code O} values, or null
         * @param fusion  what follows it: nothing, ReLU, or adding what {@code dst} holds, then ReLU
         */
        public void convolution(Convolution.Geometry g, float[] weights, float[] bias, Convolution.Fusion fusion,
                                MemorySegment src, MemorySegment dst) {
            if (g.groups() != 1) {
                throw new IllegalArgumentException("program convolutions take one group, got " + g.groups());
            }
            checkLength(weights, g.outChannels() * g.inChannels() * g.kernelHeight() * g.kernelWidth(),
                    "weights of " + g);
            if (bias != null) checkLength(bias, g.outChannels(), "bias of " + g);
            String what = "convolution " + fusion + " " + g;
            long kh = (g.kernelHeight() - 1) * g.dilationHeight() + 1;
            List<Share> shares = shares(g.batch(), g.inHeight(), g.outHeight(), kh, g.strideHeight(), g.padHeight());
            MemorySegment plainWeights = desc(g.weightShape(), Dnnl.dnnl_oihw(), what);
            MemorySegment biasDesc = desc(new long[] {g.outChannels()}, Dnnl.dnnl_x(), what);
            MemorySegment biasData = null;
            if (bias != null) {
                biasData = res.arena.allocate((long) bias.length * Float.BYTES, 64);
                MemorySegment.copy(bias, 0, biasData, ValueLayout.JAVA_FLOAT, 0, bias.length);
            }
            List<MemorySegment[]> laid = new ArrayList<>(); // {descriptor, data} of each weights layout
            Call[] calls = new Call[threads];
            for (int t = 0; t < shares.size(); t++) {
                Share s = shares.get(t);
                long n = s.n1() - s.n0();
                long ih = s.ih1() - s.ih0();
                long oh = s.oh1() - s.oh0();
                MemorySegment srcDesc = desc(new long[] {n, g.inChannels(), ih, g.inWidth()}, Dnnl.dnnl_nhwc(), what);
                MemorySegment dstDesc = desc(new long[] {n, g.outChannels(), oh, g.outWidth()}, Dnnl.dnnl_nhwc(),
                        what);
                MemorySegment anyWeights = desc(g.weightShape(), Dnnl.dnnl_format_tag_any(), what);
                Primitives.Primitive p = owned(() -> {
                    try (Arena tmp = Arena.ofConfined()) {
                        MemorySegment desc = Primitives.opDesc(tmp);
                        OneDnn.check(Dnnl.dnnl_dilated_convolution_forward_desc_init(desc,
                                Dnnl.dnnl_forward_inference(), Dnnl.dnnl_convolution_direct(), srcDesc, anyWeights,
                                bias != null ? biasDesc : MemorySegment.NULL, dstDesc,
                                Primitives.dims(tmp, g.strideHeight(), g.strideWidth()),
                                Primitives.dims(tmp, g.dilationHeight() - 1, g.dilationWidth() - 1),
                                Primitives.dims(tmp, s.padTop(), g.padWidth()),
                                Primitives.dims(tmp, s.padBottom(), g.padWidth())),
                                "dnnl_dilated_convolution_forward_desc_init", what);
                        return Primitives.create(res.arena, desc, MemorySegment.NULL, false, what,
                                Convolution.postOps(fusion), Dnnl.dnnl_query_weights_md());
                    }
                });
                MemorySegment wanted = p.queried(0);
                MemorySegment weightData = null;
                for (MemorySegment[] l : laid) {
                    if (Primitives.sameLayout(l[0], wanted)) weightData = l[1];
                }
                if (weightData == null) {
                    weightData = lay(weights, plainWeights, wanted, what);
                    laid.add(new MemorySegment[] {wanted, weightData});
                }
                long srcAt = (s.n0() * g.inHeight() + s.ih0()) * g.inWidth() * g.inChannels();
                long dstAt = (s.n0() * g.outHeight() + s.oh0()) * g.outWidth() * g.outChannels();
                int[] kinds = bias != null
                        ? new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_WEIGHTS(), Dnnl.DNNL_ARG_BIAS(), Dnnl.DNNL_ARG_DST()}
                        : new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_WEIGHTS(), Dnnl.DNNL_ARG_DST()};
                MemorySegment[] descs = bias != null ? new MemorySegment[] {srcDesc, wanted, biasDesc, dstDesc}
                        : new MemorySegment[] {srcDesc, wanted, dstDesc};
                MemorySegment[] data = bias != null
                        ? new MemorySegment[] {at(src, srcAt, what), weightData, biasData, at(dst, dstAt, what)}
                        : new MemorySegment[] {at(src, srcAt, what), weightData, at(dst, dstAt, what)};
                calls[t] = call(t, p, kinds, descs, data, what);
            }
            steps.add(new Step(calls, what));
        }

        /**
         * Average pooling over channels-last buffers.
         *
         * @param dims            the input's {@code [n, c, h, w]}
         * @param window          {@code {kh, kw, sh, sw, ph, pw}}
         * @param includePadding  whether padded positions count in the average (PyTorch's {@code count_include_pad})
         */
        public void averagePooling(long[] dims, long[] window, boolean includePadding, MemorySegment src,
                                   MemorySegment dst) {
            checkDims(dims, 4, "average pooling");
            if (window.length != 6) throw new IllegalArgumentException("pooling window needs 6 values");
            long n = dims[0], c = dims[1], ih = dims[2], iw = dims[3];
            long kh = window[0], kw = window[1], sh = window[2], sw = window[3], ph = window[4], pw = window[5];
            if (kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0 || ih + 2 * ph < kh || iw + 2 * pw < kw) {
                throw new IllegalArgumentException("average pooling: window " + java.util.Arrays.toString(window)
                        + " does not fit input " + java.util.Arrays.toString(dims));
            }
            long oh = (ih + 2 * ph - kh) / sh + 1;
            long ow = (iw + 2 * pw - kw) / sw + 1;
            String what = "average pooling " + java.util.Arrays.toString(dims) + " window "
                    + java.util.Arrays.toString(window);
            int alg = includePadding ? Dnnl.dnnl_pooling_avg_include_padding()
                    : Dnnl.dnnl_pooling_avg_exclude_padding();
            List<Share> shares = shares(n, ih, oh, kh, sh, ph);
            Call[] calls = new Call[threads];
            for (int t = 0; t < shares.size(); t++) {
                Share s = shares.get(t);
                MemorySegment srcDesc = desc(new long[] {s.n1() - s.n0(), c, s.ih1() - s.ih0(), iw}, Dnnl.dnnl_nhwc(),
                        what);
                MemorySegment dstDesc = desc(new long[] {s.n1() - s.n0(), c, s.oh1() - s.oh0(), ow}, Dnnl.dnnl_nhwc(),
                        what);
                Primitives.Primitive p = owned(() -> {
                    try (Arena tmp = Arena.ofConfined()) {
                        MemorySegment desc = Primitives.opDesc(tmp);
                        OneDnn.check(Dnnl.dnnl_pooling_v2_forward_desc_init(desc, Dnnl.dnnl_forward_inference(), alg,
                                srcDesc, dstDesc, Primitives.dims(tmp, sh, sw), Primitives.dims(tmp, kh, kw),
                                Primitives.dims(tmp, 0, 0), Primitives.dims(tmp, s.padTop(), pw),
                                Primitives.dims(tmp, s.padBottom(), pw)), "dnnl_pooling_v2_forward_desc_init", what);
                        return Primitives.create(res.arena, desc, MemorySegment.NULL, false, what, null);
                    }
                });
                long srcAt = (s.n0() * ih + s.ih0()) * iw * c;
                long dstAt = (s.n0() * oh + s.oh0()) * ow * c;
                calls[t] = call(t, p, new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_DST()},
                        new MemorySegment[] {srcDesc, dstDesc},
                        new MemorySegment[] {at(src, srcAt, what), at(dst, dstAt, what)}, what);
            }
            steps.add(new Step(calls, what));
        }

        /**
         * A fully connected layer on row-major {@code [n, in]} rows: {@code dst = src · weightsᵀ + bias}, ReLU
         * after it when asked. Split among the threads by rows, or at one row by output features (each
         * thread's share of the weights laid out for it).
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
            // Shares: rows [r0, r1) and output features [o0, o1).
            List<long[]> shares = new ArrayList<>();
            if (n > 1) {
                long parts = Math.min(n, threads);
                for (long p = 0; p < parts; p++) shares.add(new long[] {n * p / parts, n * (p + 1) / parts, 0, out});
            } else {
                long parts = Math.min(out, threads);
                for (long p = 0; p < parts; p++) shares.add(new long[] {0, 1, out * p / parts, out * (p + 1) / parts});
            }
            Call[] calls = new Call[threads];
            for (int t = 0; t < shares.size(); t++) {
                long[] sh = shares.get(t);
                long rows = sh[1] - sh[0];
                long o0 = sh[2];
                long features = sh[3] - sh[2];
                MemorySegment srcDesc = desc(new long[] {rows, in}, Dnnl.dnnl_ab(), what);
                MemorySegment dstDesc = desc(new long[] {rows, features}, Dnnl.dnnl_ab(), what);
                MemorySegment plainWeights = desc(new long[] {features, in}, Dnnl.dnnl_ab(), what);
                MemorySegment anyWeights = desc(new long[] {features, in}, Dnnl.dnnl_format_tag_any(), what);
                MemorySegment biasDesc = desc(new long[] {features}, Dnnl.dnnl_x(), what);
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
                });
                MemorySegment wanted = p.queried(0);
                float[] w = java.util.Arrays.copyOfRange(weights, Math.toIntExact(o0 * in),
                        Math.toIntExact((o0 + features) * in));
                MemorySegment weightData = lay(w, plainWeights, wanted, what);
                MemorySegment biasData = null;
                if (bias != null) {
                    biasData = res.arena.allocate(features * Float.BYTES, 64);
                    MemorySegment.copy(bias, (int) o0, biasData, ValueLayout.JAVA_FLOAT, 0, (int) features);
                }
                int[] kinds = bias != null
                        ? new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_WEIGHTS(), Dnnl.DNNL_ARG_BIAS(), Dnnl.DNNL_ARG_DST()}
                        : new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_WEIGHTS(), Dnnl.DNNL_ARG_DST()};
                MemorySegment[] descs = bias != null ? new MemorySegment[] {srcDesc, wanted, biasDesc, dstDesc}
                        : new MemorySegment[] {srcDesc, wanted, dstDesc};
                MemorySegment srcAt = at(src, sh[0] * in, what);
                MemorySegment dstAt = at(dst, sh[0] * out + o0, what);
                MemorySegment[] data = bias != null ? new MemorySegment[] {srcAt, weightData, biasData, dstAt}
                        : new MemorySegment[] {srcAt, weightData, dstAt};
                calls[t] = call(t, p, kinds, descs, data, what);
            }
            steps.add(new Step(calls, what));
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
            });
            whole(p, what, new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_DST()}, new MemorySegment[] {md, md},
                    new MemorySegment[] {buffer, buffer});
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
            MemorySegment streams = res.arena.allocate(ValueLayout.ADDRESS, threads);
            MemorySegment[] scratch = new MemorySegment[threads];
            for (int t = 0; t < threads; t++) {
                MemorySegment out = res.arena.allocate(ValueLayout.ADDRESS);
                OneDnn.check(Dnnl.dnnl_stream_create(out, OneDnn.cpuEngine(), Dnnl.dnnl_stream_default_flags()),
                        "dnnl_stream_create");
                res.streams.add(out.get(ValueLayout.ADDRESS, 0));
                streams.setAtIndex(ValueLayout.ADDRESS, t, out.get(ValueLayout.ADDRESS, 0));
                scratch[t] = scratchBytes[t] > 0 ? res.arena.allocate(scratchBytes[t], 64) : null;
            }
            String[] whats = new String[n];
            for (int s = 0; s < n; s++) {
                Step step = steps.get(s);
                whats[s] = step.what();
                for (int t = 0; t < threads; t++) {
                    Call c = step.calls()[t];
                    long i = (long) s * threads + t;
                    if (c == null) {
                        prims.setAtIndex(ValueLayout.ADDRESS, i, MemorySegment.NULL);
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
            built = true;
            return new Program(res, threads, n, prims, streams, nargs, args, whats, input, inputFloats, output,
                    outputFloats, holdsSignals);
        }

        /** Frees everything unless {@link #build} handed it to a program. */
        @Override
        public void close() {
            if (!built) res.run();
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

        /** A primitive planned for one thread, destroyed with the program. */
        private Primitives.Primitive owned(Creation c) {
            NativeLibraries.load();
            Omp.omp_set_num_threads(1);
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
            MemorySegment data = res.arena.allocate(Primitives.bytes(wanted), 64);
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

        private void whole(Primitives.Primitive p, String what, int[] kinds, MemorySegment[] descs,
                           MemorySegment[] data) {
            Call[] calls = new Call[threads];
            calls[0] = call(0, p, kinds, descs, data, what);
            steps.add(new Step(calls, what));
        }

        /** A call of {@code p} on thread {@code t}: memory objects for its operands, checked to fit. */
        private Call call(int t, Primitives.Primitive p, int[] kinds, MemorySegment[] descs, MemorySegment[] data,
                          String what) {
            boolean scratch = p.scratchpadBytes() > 0;
            int k = kinds.length + (scratch ? 1 : 0);
            int[] allKinds = new int[k];
            MemorySegment[] memories = new MemorySegment[k];
            for (int i = 0; i < kinds.length; i++) {
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

        private static void checkDims(long[] dims, int rank, String what) {
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
    private final MemorySegment failed;
    private final String[] whats;
    private final MemorySegment input;
    private final int inputFloats;
    private final MemorySegment output;
    private final int outputFloats;
    private final boolean holdsSignals;
    private boolean closed;

    private Program(Resources res, int threads, int steps, MemorySegment primitives, MemorySegment streams,
                    MemorySegment nargs, MemorySegment args, String[] whats, MemorySegment input, long inputFloats,
                    MemorySegment output, long outputFloats, boolean holdsSignals) {
        this.res = res;
        this.threads = threads;
        this.steps = steps;
        this.primitives = primitives;
        this.streams = streams;
        this.nargs = nargs;
        this.args = args;
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
        long signals = holdsSignals ? Signals.block() : 0;
        int status;
        try {
            status = GatunKernels.gatun_run_primitives(steps, threads, primitives, streams, nargs, args, failed);
        } finally {
            Signals.restore(signals);
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
