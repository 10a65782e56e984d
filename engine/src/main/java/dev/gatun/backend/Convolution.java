package dev.gatun.backend;

import dev.gatun.bindings.dnnl.Dnnl;
import dev.gatun.bindings.dnnl.dnnl_exec_arg_t;
import dev.gatun.bindings.dnnl.dnnl_memory_desc_t;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
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
 * <p>Memory is plain NCHW/OIHW. Letting oneDNN choose blocked layouts ({@code dnnl_format_tag_any})
 * and reordering into them is faster for large convolutions; that is left for later, with a measurement.
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

    private enum Kind { FORWARD, BACKWARD_DATA, BACKWARD_WEIGHTS }

    private record Key(Kind kind, Geometry geometry) {}

    /**
     * A created primitive with the memory descriptors it was made for (src/diff_src, weights/diff_weights,
     * bias/diff_bias or null, dst/diff_dst) and its scratchpad's descriptor and size (null and 0 when
     * it needs none).
     */
    private record Primitive(MemorySegment handle, MemorySegment srcDesc, MemorySegment weightsDesc,
                             MemorySegment biasDesc, MemorySegment dstDesc, MemorySegment scratchpadDesc,
                             long scratchpadBytes) {}

    /**
     * Room for one {@code dnnl_convolution_desc_t}: 5976 bytes on x86-64 with oneDNN 2.6 (its struct
     * class is not generated, because jextract mis-generates one of its dims-array fields), rounded up
     * generously so a minor version that grows the struct still fits.
     */
    private static final long CONVOLUTION_DESC_BYTES = 8192;

    private static final ConcurrentHashMap<Key, Primitive> CACHE = new ConcurrentHashMap<>();
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
        MemorySegment s = region("src", src, srcOffset, count(g.inputShape()));
        MemorySegment w = region("weights", weights, weightsOffset, count(g.weightShape()));
        MemorySegment b = g.bias() ? region("bias", bias, biasOffset, g.outChannels()) : null;
        MemorySegment d = region("dst", dst, dstOffset, count(g.outputShape()));
        Primitive p = CACHE.computeIfAbsent(new Key(Kind.FORWARD, g), Convolution::create);
        execute(p, "forward " + g,
                new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_WEIGHTS(), Dnnl.DNNL_ARG_BIAS(), Dnnl.DNNL_ARG_DST()},
                new MemorySegment[] {s, w, b, d});
    }

    /** diffSrc = ∂L/∂src from diffDst = ∂L/∂dst and the weights (overwrites diffSrc). */
    public static void backwardData(Geometry g, MemorySegment diffDst, long diffDstOffset, MemorySegment weights,
                                    long weightsOffset, MemorySegment diffSrc, long diffSrcOffset) {
        MemorySegment dd = region("diff_dst", diffDst, diffDstOffset, count(g.outputShape()));
        MemorySegment w = region("weights", weights, weightsOffset, count(g.weightShape()));
        MemorySegment ds = region("diff_src", diffSrc, diffSrcOffset, count(g.inputShape()));
        // The bias plays no part in the data gradient: one primitive serves both.
        Geometry noBias = withoutBias(g);
        Primitive p = CACHE.computeIfAbsent(new Key(Kind.BACKWARD_DATA, noBias), Convolution::create);
        execute(p, "backward data " + noBias,
                new int[] {Dnnl.DNNL_ARG_DIFF_SRC(), Dnnl.DNNL_ARG_WEIGHTS(), 0, Dnnl.DNNL_ARG_DIFF_DST()},
                new MemorySegment[] {ds, w, null, dd});
    }

    /**
     * diffWeights = ∂L/∂weights and, when the geometry has a bias, diffBias = ∂L/∂bias, from the forward
     * input src and diffDst (overwrites both).
     */
    public static void backwardWeights(Geometry g, MemorySegment src, long srcOffset, MemorySegment diffDst,
                                       long diffDstOffset, MemorySegment diffWeights, long diffWeightsOffset,
                                       MemorySegment diffBias, long diffBiasOffset) {
        MemorySegment s = region("src", src, srcOffset, count(g.inputShape()));
        MemorySegment dd = region("diff_dst", diffDst, diffDstOffset, count(g.outputShape()));
        MemorySegment dw = region("diff_weights", diffWeights, diffWeightsOffset, count(g.weightShape()));
        MemorySegment db = g.bias() ? region("diff_bias", diffBias, diffBiasOffset, g.outChannels()) : null;
        Primitive p = CACHE.computeIfAbsent(new Key(Kind.BACKWARD_WEIGHTS, g), Convolution::create);
        execute(p, "backward weights " + g,
                new int[] {Dnnl.DNNL_ARG_SRC(), Dnnl.DNNL_ARG_DIFF_WEIGHTS(), Dnnl.DNNL_ARG_DIFF_BIAS(),
                    Dnnl.DNNL_ARG_DIFF_DST()},
                new MemorySegment[] {s, dw, db, dd});
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
        long cap = seg.byteSize() / Float.BYTES;
        if (offset < 0 || length > cap - offset) {
            throw new IllegalArgumentException("conv2d: " + name + " needs floats [" + offset + ", " + (offset + length)
                    + ") but its segment holds " + cap);
        }
        return seg.asSlice(offset * Float.BYTES, length * Float.BYTES);
    }

    /**
     * Runs p with its four (argument, buffer) pairs, given in the order of its descriptors: src-like,
     * weights-like, bias-like, dst-like. A pair whose buffer is null (no bias) is left out. The memory
     * objects wrap the buffers for this call only.
     */
    private static void execute(Primitive p, String what, int[] argIds, MemorySegment[] buffers) {
        MemorySegment[] descs = {p.srcDesc(), p.weightsDesc(), p.biasDesc(), p.dstDesc()};
        Threads.applyToCurrentThread();
        try (Arena call = Arena.ofConfined()) {
            MemorySegment engine = OneDnn.cpuEngine();
            MemorySegment[] memories = new MemorySegment[5];
            int[] ids = new int[5];
            int nargs = 0;
            try {
                for (int i = 0; i < 4; i++) {
                    if (buffers[i] == null) continue;
                    memories[nargs] = memory(call, descs[i], engine, buffers[i]);
                    ids[nargs++] = argIds[i];
                }
                if (p.scratchpadBytes() > 0) {
                    memories[nargs] = memory(call, p.scratchpadDesc(), engine, call.allocate(p.scratchpadBytes(), 64));
                    ids[nargs++] = Dnnl.DNNL_ARG_SCRATCHPAD();
                }
                MemorySegment args = call.allocate(dnnl_exec_arg_t.layout(), nargs);
                for (int i = 0; i < nargs; i++) {
                    MemorySegment slot = dnnl_exec_arg_t.asSlice(args, i);
                    dnnl_exec_arg_t.arg(slot, ids[i]);
                    dnnl_exec_arg_t.memory(slot, memories[i]);
                }
                Streams.execute(p.handle(), nargs, args, what);
            } finally {
                for (MemorySegment m : memories) {
                    if (m != null) OneDnn.check(Dnnl.dnnl_memory_destroy(m), "dnnl_memory_destroy");
                }
            }
        }
    }

    private static MemorySegment memory(Arena arena, MemorySegment md, MemorySegment engine, MemorySegment data) {
        MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
        OneDnn.check(Dnnl.dnnl_memory_create(out, md, engine, data), "dnnl_memory_create");
        return out.get(ValueLayout.ADDRESS, 0);
    }

    // ---------------------------------------------------------------- primitive creation

    /** The memory descriptors of one geometry, in the process-lifetime arena (they outlive any call). */
    private record Descs(MemorySegment src, MemorySegment weights, MemorySegment bias, MemorySegment dst) {}

    private static Descs descs(Geometry g) {
        Arena global = Arena.global(); // cached primitives live for the process, and so do their descriptors
        MemorySegment src = memoryDesc(global, g.inputShape(), Dnnl.dnnl_nchw());
        MemorySegment weights;
        if (g.groups() == 1) {
            weights = memoryDesc(global, g.weightShape(), Dnnl.dnnl_oihw());
        } else {
            // PyTorch's [O, I/G, KH, KW] is, in memory, [G, O/G, I/G, KH, KW].
            weights = memoryDesc(global, new long[] {g.groups(), g.outChannels() / g.groups(),
                g.inChannels() / g.groups(), g.kernelHeight(), g.kernelWidth()}, Dnnl.dnnl_goihw());
        }
        MemorySegment bias = g.bias() ? memoryDesc(global, new long[] {g.outChannels()}, Dnnl.dnnl_x()) : null;
        MemorySegment dst = memoryDesc(global, g.outputShape(), Dnnl.dnnl_nchw());
        return new Descs(src, weights, bias, dst);
    }

    private static MemorySegment memoryDesc(Arena arena, long[] dims, int tag) {
        MemorySegment md = arena.allocate(dnnl_memory_desc_t.layout());
        MemorySegment d = arena.allocateFrom(ValueLayout.JAVA_LONG, dims);
        OneDnn.check(Dnnl.dnnl_memory_desc_init_by_tag(md, dims.length, d, Dnnl.dnnl_f32(), tag),
                "dnnl_memory_desc_init_by_tag", Arrays.toString(dims) + " f32");
        return md;
    }

    /** A {@code dnnl_dims_t} (int64[12]) holding the two given values first. */
    private static MemorySegment dims2(Arena arena, long h, long w) {
        MemorySegment d = arena.allocate(ValueLayout.JAVA_LONG, 12);
        d.setAtIndex(ValueLayout.JAVA_LONG, 0, h);
        d.setAtIndex(ValueLayout.JAVA_LONG, 1, w);
        return d;
    }

    /** A zeroed, aligned buffer for one {@code dnnl_convolution_desc_t}. */
    private static MemorySegment opDesc(Arena arena) {
        return arena.allocate(CONVOLUTION_DESC_BYTES, 64);
    }

    private static Primitive create(Key key) {
        Geometry g = key.geometry();
        String detail = key.kind() + " " + g;
        MemorySegment engine = OneDnn.cpuEngine(); // loads the library before the first oneDNN call
        Descs d = descs(g);
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment strides = dims2(tmp, g.strideHeight(), g.strideWidth());
            // oneDNN counts dilation from 0 (dense); PyTorch from 1.
            MemorySegment dilates = dims2(tmp, g.dilationHeight() - 1, g.dilationWidth() - 1);
            // PyTorch pads both sides alike; oneDNN's integer division floors the output size just as
            // PyTorch does, so the right padding is the same as the left.
            MemorySegment padding = dims2(tmp, g.padHeight(), g.padWidth());
            MemorySegment hint = MemorySegment.NULL;
            MemorySegment pd = null;
            try {
                MemorySegment desc = opDesc(tmp);
                int alg = Dnnl.dnnl_convolution_direct();
                switch (key.kind()) {
                    case FORWARD -> OneDnn.check(Dnnl.dnnl_dilated_convolution_forward_desc_init(desc,
                            Dnnl.dnnl_forward_training(), alg, d.src(), d.weights(), orNull(d.bias()), d.dst(),
                            strides, dilates, padding, padding), "dnnl_dilated_convolution_forward_desc_init", detail);
                    case BACKWARD_DATA -> {
                        hint = forwardHint(tmp, d, strides, dilates, padding, detail);
                        OneDnn.check(Dnnl.dnnl_dilated_convolution_backward_data_desc_init(desc, alg, d.src(),
                                d.weights(), d.dst(), strides, dilates, padding, padding),
                                "dnnl_dilated_convolution_backward_data_desc_init", detail);
                    }
                    case BACKWARD_WEIGHTS -> {
                        hint = forwardHint(tmp, d, strides, dilates, padding, detail);
                        OneDnn.check(Dnnl.dnnl_dilated_convolution_backward_weights_desc_init(desc, alg, d.src(),
                                d.weights(), orNull(d.bias()), d.dst(), strides, dilates, padding, padding),
                                "dnnl_dilated_convolution_backward_weights_desc_init", detail);
                    }
                }
                pd = primitiveDesc(tmp, engine, desc, hint, detail);
                // The queried descriptor belongs to pd, which is destroyed below: keep a copy.
                MemorySegment scratch = Dnnl.dnnl_primitive_desc_query_md(pd, Dnnl.dnnl_query_scratchpad_md(), 0);
                long scratchBytes = scratch.equals(MemorySegment.NULL) ? 0 : Dnnl.dnnl_memory_desc_get_size(scratch);
                MemorySegment scratchDesc = null;
                if (scratchBytes > 0) {
                    scratchDesc = Arena.global().allocate(dnnl_memory_desc_t.layout());
                    scratchDesc.copyFrom(scratch.reinterpret(dnnl_memory_desc_t.layout().byteSize()));
                }
                MemorySegment primOut = tmp.allocate(ValueLayout.ADDRESS);
                OneDnn.check(Dnnl.dnnl_primitive_create(primOut, pd), "dnnl_primitive_create", detail);
                CREATED.incrementAndGet();
                return new Primitive(primOut.get(ValueLayout.ADDRESS, 0), d.src(), d.weights(), d.bias(), d.dst(),
                        scratchDesc, scratchBytes);
            } finally {
                if (pd != null) Dnnl.dnnl_primitive_desc_destroy(pd);
                if (!hint.equals(MemorySegment.NULL)) Dnnl.dnnl_primitive_desc_destroy(hint);
            }
        }
    }

    private static MemorySegment orNull(MemorySegment md) {
        return md == null ? MemorySegment.NULL : md;
    }

    /** The forward-training primitive descriptor that a backward one needs as its hint; destroy it after. */
    private static MemorySegment forwardHint(Arena tmp, Descs d, MemorySegment strides, MemorySegment dilates,
                                             MemorySegment padding, String detail) {
        MemorySegment desc = opDesc(tmp);
        OneDnn.check(Dnnl.dnnl_dilated_convolution_forward_desc_init(desc, Dnnl.dnnl_forward_training(),
                Dnnl.dnnl_convolution_direct(), d.src(), d.weights(), orNull(d.bias()), d.dst(), strides, dilates,
                padding, padding), "dnnl_dilated_convolution_forward_desc_init (hint)", detail);
        return primitiveDesc(tmp, OneDnn.cpuEngine(), desc, MemorySegment.NULL, detail);
    }

    private static MemorySegment primitiveDesc(Arena tmp, MemorySegment engine, MemorySegment desc, MemorySegment hint,
                                               String detail) {
        MemorySegment attrOut = tmp.allocate(ValueLayout.ADDRESS);
        OneDnn.check(Dnnl.dnnl_primitive_attr_create(attrOut), "dnnl_primitive_attr_create");
        MemorySegment attr = attrOut.get(ValueLayout.ADDRESS, 0);
        try {
            OneDnn.check(Dnnl.dnnl_primitive_attr_set_scratchpad_mode(attr, Dnnl.dnnl_scratchpad_mode_user()),
                    "dnnl_primitive_attr_set_scratchpad_mode");
            MemorySegment pdOut = tmp.allocate(ValueLayout.ADDRESS);
            OneDnn.check(Dnnl.dnnl_primitive_desc_create(pdOut, desc, attr, engine, hint),
                    "dnnl_primitive_desc_create", detail);
            return pdOut.get(ValueLayout.ADDRESS, 0);
        } finally {
            Dnnl.dnnl_primitive_attr_destroy(attr);
        }
    }
}
