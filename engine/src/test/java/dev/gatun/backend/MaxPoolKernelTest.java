package dev.gatun.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.gatun.bindings.kernels.GatunKernels;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * gatun's max-pooling kernel at both channel blocks, 8 (nChw8c, AVX2) and 16 (nChw16c, AVX-512), with
 * and without the ReLU folded in, against the same loops written in Java over the blocked indexing:
 * maxima, their positions and the routed gradient, exactly; windows of up to 16 positions and larger
 * ones (the backward pass takes a vector path and a scatter path); inputs with NaNs, which win their
 * windows as in PyTorch; and the inference form, which writes no positions. {@code Pooling} uses the
 * one {@link ChannelBlock#forChannels} gives the channel count; this covers both on any machine.
 */
class MaxPoolKernelTest {

    /** n, cb, ih, iw, kh, kw, sh, sw, ph, pw, dh, dw. */
    private static final int[][] CASES = {
        {2, 3, 9, 7, 2, 2, 2, 2, 0, 0, 1, 1},
        {1, 2, 8, 8, 3, 3, 2, 2, 1, 1, 1, 1},
        {3, 1, 11, 10, 3, 2, 1, 2, 1, 1, 2, 3},
        {2, 2, 32, 32, 32, 32, 32, 32, 0, 0, 1, 1},
        {1, 2, 9, 9, 4, 4, 1, 1, 2, 2, 1, 1},
    };

    private static long out(int in, int k, int s, int p, int d) {
        return (in + 2L * p - (long) d * (k - 1) - 1) / s + 1;
    }

    @Test
    void bothChannelBlocksMatchTheJavaLoops() {
        for (int lanes : new int[] {8, 16}) {
            for (int[] c : CASES) {
                check(lanes, c, false, 0);
                check(lanes, c, true, 0);
            }
        }
    }

    /**
     * About one input in five, then one in two, NaN: a window holding any NaN gives NaN, and its last
     * NaN (in row-major window order) is the position kept and the one the gradient reaches, as in
     * PyTorch's CPU kernel ({@code val > max || isnan(val)}); the same with the ReLU folded in (ReLU of
     * NaN is NaN).
     */
    @Test
    void nanWinsItsWindowAsInPyTorch() {
        for (int lanes : new int[] {8, 16}) {
            for (int[] c : CASES) {
                for (float share : new float[] {0.2f, 0.5f}) {
                    check(lanes, c, false, share);
                    check(lanes, c, true, share);
                }
            }
        }
    }

    /**
     * With relu, the maxima start at 0 from position −1, and −1 routes no gradient. {@code nans}: the
     * share of src that is NaN.
     */
    private static void check(int lanes, int[] c, boolean relu, float nans) {
        int n = c[0], cb = c[1], ih = c[2], iw = c[3], kh = c[4], kw = c[5], sh = c[6], sw = c[7], ph = c[8],
                pw = c[9], dh = c[10], dw = c[11];
        int oh = (int) out(ih, kh, sh, ph, dh), ow = (int) out(iw, kw, sw, pw, dw);
        int planes = n * cb;
        Random r = new Random(lanes * 31L + ih);
        float[] src = new float[planes * ih * iw * lanes];
        for (int i = 0; i < src.length; i++) {
            float v = r.nextFloat() * 2 - 1;
            src[i] = nans > 0 && r.nextFloat() < nans ? Float.NaN : v;
        }
        float[] diffDst = new float[planes * oh * ow * lanes];
        for (int i = 0; i < diffDst.length; i++) diffDst[i] = r.nextFloat() * 2 - 1;

        float[] wantDst = new float[diffDst.length];
        int[] wantWs = new int[diffDst.length];
        float[] wantDiffSrc = new float[src.length];
        for (int p = 0; p < planes; p++) {
            for (int y = 0; y < oh; y++) {
                for (int x = 0; x < ow; x++) {
                    for (int k = 0; k < lanes; k++) {
                        float best = relu ? 0 : Float.NEGATIVE_INFINITY;
                        int at = relu ? -1 : 0;
                        for (int i = 0; i < kh; i++) {
                            int sy = y * sh - ph + i * dh;
                            if (sy < 0 || sy >= ih) continue;
                            for (int j = 0; j < kw; j++) {
                                int sx = x * sw - pw + j * dw;
                                if (sx < 0 || sx >= iw) continue;
                                float v = src[((p * ih + sy) * iw + sx) * lanes + k];
                                if (v > best || Float.isNaN(v)) {
                                    best = v;
                                    at = i * kw + j;
                                }
                            }
                        }
                        int e = ((p * oh + y) * ow + x) * lanes + k;
                        wantDst[e] = best;
                        wantWs[e] = at;
                        int sy = y * sh - ph + (at / kw) * dh, sx = x * sw - pw + (at % kw) * dw;
                        if (at >= 0 && sy >= 0 && sy < ih && sx >= 0 && sx < iw) {
                            wantDiffSrc[((p * ih + sy) * iw + sx) * lanes + k] += diffDst[e];
                        }
                    }
                }
            }
        }

        NativeLibraries.load();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocateFrom(ValueLayout.JAVA_FLOAT, src);
            MemorySegment d = arena.allocate(ValueLayout.JAVA_FLOAT, diffDst.length);
            MemorySegment ws = arena.allocate(ValueLayout.JAVA_INT, diffDst.length);
            MemorySegment dd = arena.allocateFrom(ValueLayout.JAVA_FLOAT, diffDst);
            MemorySegment ds = arena.allocate(ValueLayout.JAVA_FLOAT, src.length);
            ds.fill((byte) 0x7f); // the kernel must overwrite every element
            GatunKernels.gatun_max_pool_blocked_forward(s, d, ws, lanes, relu ? 1 : 0, n, cb, ih, iw, oh, ow, kh, kw,
                    sh, sw, ph, pw, dh, dw);
            GatunKernels.gatun_max_pool_blocked_backward(dd, ds, ws, lanes, n, cb, ih, iw, oh, ow, kh, kw, sh, sw,
                    ph, pw, dh, dw);
            String what = lanes + " lanes" + (relu ? ", relu" : "") + (nans > 0 ? ", NaN share " + nans : "")
                    + ", case " + Arrays.toString(c);
            assertArrayEquals(wantDst, d.toArray(ValueLayout.JAVA_FLOAT), what + ": dst");
            assertArrayEquals(wantWs, ws.toArray(ValueLayout.JAVA_INT), what + ": positions");
            assertArrayEquals(wantDiffSrc, ds.toArray(ValueLayout.JAVA_FLOAT), what + ": diff_src");
            // Inference: no positions (a null ws), the same maxima.
            MemorySegment inferred = arena.allocate(ValueLayout.JAVA_FLOAT, diffDst.length);
            GatunKernels.gatun_max_pool_blocked_forward(s, inferred, MemorySegment.NULL, lanes, relu ? 1 : 0, n, cb, ih,
                    iw, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw);
            assertArrayEquals(wantDst, inferred.toArray(ValueLayout.JAVA_FLOAT), what + ": dst without positions");
        }
    }
}
