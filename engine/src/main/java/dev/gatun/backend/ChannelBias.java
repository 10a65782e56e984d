package dev.gatun.backend;

import dev.gatun.bindings.dnnl.Dnnl;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Adds a per-channel bias in place to an [N, C, H, W] activation, plain or in a oneDNN blocked layout, with
 * oneDNN's binary add primitive (the bias broadcast over N, H and W).
 *
 * <p>oneDNN 2.6's float deconvolution computes its output with a convolution's backward-data kernel and
 * then adds the bias in a reference loop: the DCGAN generator's 128 → 64 channel layer (batch 64, 7×7 to
 * 14×14) took 3.3-3.5 ms forward with the bias against 2.4-2.5 ms without it (2 threads, full-width
 * AVX-512, best of 60). A separate jit binary pass costs a read and a write of the output.
 *
 * <p>oneDNN runs its jit binary kernel only when the bias is laid out as the activation (with the bias
 * in plain layout beside a blocked activation it chose a reference kernel that took 70 ms for that
 * layer), so the bias takes the activation's layout (plain, channels-last or channel-blocked; oneDNN 2.6 does
 * not choose src1's layout itself). For [1, C, 1, 1] such a layout holds the C floats in order exactly
 * when it has no padding, and the bias is then read in place; a layout that would pad it (C not a
 * multiple of the channel block), or another layout, is {@linkplain #forOutput not used}, and the caller
 * keeps the bias in its own primitive.
 */
final class ChannelBias {

    /** The output's dims and, for a blocked output, its interned layout (null: plain NCHW). */
    private record Key(long n, long c, long h, long w, MemorySegment laid) {}

    /**
     * The bias pass for one output shape and layout: oneDNN's binary add with the bias in the output's
     * layout ({@link #forOutput}).
     *
     * @param primitive the binary primitive, or null when the layout would pad the bias
     * @param dstDesc   the output's layout
     * @param biasDesc  the bias's layout, [1, C, 1, 1] laid out as the output
     * @param channels  C
     */
    record Pass(Primitives.Primitive primitive, MemorySegment dstDesc, MemorySegment biasDesc, long channels) {

        /**
         * dst[n, c, h, w] += bias[c].
         *
         * @param dst  the activation in this pass's output layout, at least as large as it spans (checked
         *             in {@link Primitives#execute})
         * @param bias C floats
         * @param what the caller's operation, for messages
         * @throws IllegalArgumentException if bias holds fewer than C floats
         */
        void add(MemorySegment dst, MemorySegment bias, String what) {
            if (bias.byteSize() < channels * Float.BYTES) {
                throw new IllegalArgumentException(what + ": a bias of " + bias.byteSize() / Float.BYTES
                        + " floats for an output of " + channels + " channels");
            }
            Primitives.execute(primitive, new int[] {Dnnl.DNNL_ARG_SRC_0(), Dnnl.DNNL_ARG_SRC_1(),
                Dnnl.DNNL_ARG_DST()}, new MemorySegment[] {dstDesc, biasDesc, dstDesc},
                    new MemorySegment[] {dst, bias.asSlice(0, channels * Float.BYTES), dst}, what + ": bias");
        }
    }

    /** Estimated resident bytes of one binary primitive ({@link PrimitiveCache}). */
    private static final long PRIMITIVE_BYTES = 32 * 1024;

    private ChannelBias() {}

    /**
     * The bias pass for an output of these dims in this layout, from the cache, or null when the layout
     * would pad the bias or is not one the bias can follow (the caller then keeps the bias in its own
     * primitive).
     *
     * @param dims    [N, C, H, W] of the output
     * @param dstDesc its layout: the plain NCHW descriptor of dims, or an {@linkplain Primitives#intern
     *                interned} blocked one of the same dims
     * @param laid    whether dstDesc is a blocked layout (then it keys the cache)
     * @param what    the caller's operation, for messages
     * @return the pass, or null
     * @throws IllegalArgumentException if dims are not 4
     */
    static Pass forOutput(long[] dims, MemorySegment dstDesc, boolean laid, String what) {
        if (dims.length != 4) {
            throw new IllegalArgumentException(what + ": a channel bias for dims " + Arrays.toString(dims));
        }
        Key key = new Key(dims[0], dims[1], dims[2], dims[3], laid ? dstDesc : null);
        // An unusable layout keeps an entry without a primitive, evicted in its turn like the others.
        Pass p = PrimitiveCache.get(key, k -> create(dims, dstDesc, what), x -> x.primitive() == null
                ? new Primitives.Primitive[0] : new Primitives.Primitive[] {x.primitive()}, PRIMITIVE_BYTES);
        return p.primitive() == null ? null : p;
    }

    /** Activation layouts the bias can follow: plain, channels-last and the channel-blocked ones. */
    private static final int[] TAGS = {Dnnl.dnnl_abcd(), Dnnl.dnnl_acdb(), Dnnl.dnnl_aBcd16b(), Dnnl.dnnl_aBcd8b(),
        Dnnl.dnnl_aBcd4b()};

    private static Pass create(long[] dims, MemorySegment dstDesc, String what) {
        String detail = what + ": bias add over " + Arrays.toString(dims);
        try (Arena tmp = Arena.ofConfined()) {
            int tag = -1;
            for (int t : TAGS) {
                if (Primitives.sameLayout(Primitives.f32Desc(tmp, dims, t, detail), dstDesc)) {
                    tag = t;
                    break;
                }
            }
            if (tag < 0) {
                return new Pass(null, dstDesc, null, dims[1]);
            }
            // Freed by the collector with the cache entry.
            MemorySegment biasDesc = Primitives.f32Desc(Arena.ofAuto(), new long[] {1, dims[1], 1, 1}, tag, detail);
            // Only C is not 1: a layout without padding holds channel c at float c.
            if (Primitives.bytes(biasDesc) != dims[1] * Float.BYTES) {
                return new Pass(null, dstDesc, null, dims[1]);
            }
            MemorySegment desc = Primitives.opDesc(tmp);
            OneDnn.check(Dnnl.dnnl_binary_desc_init(desc, Dnnl.dnnl_binary_add(), dstDesc, biasDesc, dstDesc),
                    "dnnl_binary_desc_init", detail);
            return new Pass(Primitives.create(desc, MemorySegment.NULL, false, detail), dstDesc, biasDesc, dims[1]);
        }
    }
}
