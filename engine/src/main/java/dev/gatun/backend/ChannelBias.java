package dev.gatun.backend;

import dev.gatun.bindings.dnnl.Dnnl;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;

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
 * multiple of the channel block), or another layout, is {@linkplain #usable not used}, and the caller
 * keeps the bias in its own primitive.
 */
final class ChannelBias {

    /** The output's dims and, for a blocked output, its interned layout (null: plain NCHW). */
    private record Key(List<Long> dims, MemorySegment laid) {}

    /** The binary primitive, the bias's layout in it, and whether that layout is the C floats in order. */
    private record Cached(Primitives.Primitive primitive, MemorySegment biasDesc, boolean inOrder) {}

    /** Estimated resident bytes of one binary primitive ({@link PrimitiveCache}). */
    private static final long PRIMITIVE_BYTES = 32 * 1024;

    private ChannelBias() {}

    /**
     * Whether {@link #add} serves an output of these dims in this layout.
     *
     * @param dims    [N, C, H, W] of the output
     * @param dstDesc its layout: the plain NCHW descriptor of dims, or an interned blocked one
     * @param laid    whether dstDesc is a blocked layout
     * @param what    the caller's operation, for messages
     * @return true when the bias can be added in its own pass
     */
    static boolean usable(long[] dims, MemorySegment dstDesc, boolean laid, String what) {
        return cached(dims, dstDesc, laid, what).inOrder();
    }

    /**
     * dst[n, c, h, w] += bias[c], for an output {@link #usable} says this serves.
     *
     * @param dims    [N, C, H, W] of dst
     * @param dstDesc dst's layout: the plain NCHW descriptor of dims, or an {@linkplain Primitives#intern
     *                interned} blocked one of the same dims
     * @param laid    whether dstDesc is a blocked layout (then it keys the cache)
     * @param dst     the activation, at least as large as its layout spans (checked in
     *                {@link Primitives#execute})
     * @param bias    C floats
     * @param what    the caller's operation, for messages
     * @throws IllegalArgumentException if bias holds fewer than C floats or dims are not 4
     * @throws IllegalStateException    if the layout is one {@link #usable} refuses
     */
    static void add(long[] dims, MemorySegment dstDesc, boolean laid, MemorySegment dst, MemorySegment bias,
                    String what) {
        if (dims.length != 4 || bias.byteSize() < dims[1] * Float.BYTES) {
            throw new IllegalArgumentException(what + ": a bias of " + bias.byteSize() / Float.BYTES
                    + " floats for an output of dims " + Arrays.toString(dims));
        }
        Cached c = cached(dims, dstDesc, laid, what);
        if (!c.inOrder()) {
            throw new IllegalStateException(what + ": the output's layout would pad a bias of " + dims[1]
                    + " channels");
        }
        Primitives.execute(c.primitive(), new int[] {Dnnl.DNNL_ARG_SRC_0(), Dnnl.DNNL_ARG_SRC_1(),
            Dnnl.DNNL_ARG_DST()}, new MemorySegment[] {dstDesc, c.biasDesc(), dstDesc},
                new MemorySegment[] {dst, bias.asSlice(0, dims[1] * Float.BYTES), dst}, what + ": bias");
    }

    private static Cached cached(long[] dims, MemorySegment dstDesc, boolean laid, String what) {
        Key key = new Key(Arrays.stream(dims).boxed().toList(), laid ? dstDesc : null);
        // An unusable layout keeps an entry without a primitive, evicted in its turn like the others.
        return PrimitiveCache.get(key, k -> create(dims, dstDesc, what), x -> x.primitive() == null
                ? new Primitives.Primitive[0] : new Primitives.Primitive[] {x.primitive()}, PRIMITIVE_BYTES);
    }

    /** Activation layouts the bias can follow: plain, channels-last and the channel-blocked ones. */
    private static final int[] TAGS = {Dnnl.dnnl_abcd(), Dnnl.dnnl_acdb(), Dnnl.dnnl_aBcd16b(), Dnnl.dnnl_aBcd8b(),
        Dnnl.dnnl_aBcd4b()};

    private static Cached create(long[] dims, MemorySegment dstDesc, String what) {
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
                return new Cached(null, null, false);
            }
            // Freed by the collector with the cache entry.
            MemorySegment biasDesc = Primitives.f32Desc(Arena.ofAuto(), new long[] {1, dims[1], 1, 1}, tag, detail);
            // Only C is not 1: a layout without padding holds channel c at float c.
            if (Primitives.bytes(biasDesc) != dims[1] * Float.BYTES) {
                return new Cached(null, null, false);
            }
            MemorySegment desc = Primitives.opDesc(tmp);
            OneDnn.check(Dnnl.dnnl_binary_desc_init(desc, Dnnl.dnnl_binary_add(), dstDesc, biasDesc, dstDesc),
                    "dnnl_binary_desc_init", detail);
            return new Cached(Primitives.create(desc, MemorySegment.NULL, false, detail), biasDesc, true);
        }
    }
}
