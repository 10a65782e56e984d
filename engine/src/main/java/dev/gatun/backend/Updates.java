package dev.gatun.backend;

import dev.gatun.bindings.kernels.GatunKernels;
import java.lang.foreign.MemorySegment;

/**
 * Guarded calls into gatun's optimizer kernels ({@code native/kernels}): one pass over a parameter, its
 * gradient and its state, vectorised and, for large parameters, spread over the OpenMP threads. Every
 * array is a segment of at least {@code n} floats starting at its offset (counted in floats); each call
 * checks that, and that the arrays written do not overlap the others, before native code runs.
 */
public final class Updates {

    private Updates() {}

    /**
     * One Adam/AdamW step over {@code n} elements; {@code vMax} is null unless AMSGrad. The betas are
     * doubles so that 1 − β is rounded to float from double, as in PyTorch. See
     * {@code gatun_adam} in {@code native/kernels/gatun_kernels.h} for the formula.
     */
    public static void adam(MemorySegment p, long pOffset, MemorySegment g, long gOffset, MemorySegment m,
                            MemorySegment v, MemorySegment vMax, long n, double beta1, double beta2,
                            float stepSize, float invSqrtC2, float eps, float decay, float weightDecay) {
        MemorySegment ps = region("parameter", p, pOffset, n);
        MemorySegment gs = region("gradient", g, gOffset, n);
        MemorySegment ms = region("first moments", m, 0, n);
        MemorySegment vs = region("second moments", v, 0, n);
        MemorySegment vMaxs = vMax == null ? MemorySegment.NULL : region("maximum second moments", vMax, 0, n);
        disjoint("adam", ps, gs, ms, vs, vMaxs);
        NativeLibraries.load();
        Threads.applyToCurrentThread();
        GatunKernels.gatun_adam(ps, gs, ms, vs, vMaxs, n, (float) beta1, (float) (1 - beta1), (float) beta2,
                (float) (1 - beta2), stepSize, invSqrtC2, eps, decay, weightDecay);
    }

    /**
     * One SGD step over {@code n} elements; {@code buffer} is the momentum buffer, null without momentum,
     * and {@code first} says it holds nothing yet. See {@code gatun_sgd} in
     * {@code native/kernels/gatun_kernels.h} for the formula.
     */
    public static void sgd(MemorySegment p, long pOffset, MemorySegment g, long gOffset, MemorySegment buffer,
                           long n, float lr, float weightDecay, float momentum, float oneMinusDampening, boolean first,
                           boolean nesterov) {
        MemorySegment ps = region("parameter", p, pOffset, n);
        MemorySegment gs = region("gradient", g, gOffset, n);
        MemorySegment bs = buffer == null ? MemorySegment.NULL : region("momentum buffer", buffer, 0, n);
        disjoint("sgd", ps, gs, bs);
        NativeLibraries.load();
        Threads.applyToCurrentThread();
        GatunKernels.gatun_sgd(ps, gs, bs, n, lr, weightDecay, momentum, oneMinusDampening, first ? 1 : 0,
                nesterov ? 1 : 0);
    }

    /** The {@code n} floats at {@code offset} of {@code s}, checked to lie inside it (and {@code s} to be open). */
    static MemorySegment region(String name, MemorySegment s, long offset, long n) {
        if (s == null) {
            throw new IllegalArgumentException(name + " is null");
        }
        if (n < 0 || offset < 0) {
            throw new IllegalArgumentException(name + ": negative " + (n < 0 ? "length " + n : "offset " + offset));
        }
        if (!s.isNative()) {
            throw new IllegalArgumentException(name + " is not in native memory");
        }
        long floats = s.byteSize() / Float.BYTES;
        if (offset > floats || n > floats - offset) {
            throw new IllegalArgumentException(name + ": " + n + " floats at offset " + offset
                    + " run past its " + floats + " floats");
        }
        return s.asSlice(offset * Float.BYTES, n * Float.BYTES);
    }

    /** Throws if any two of the non-null regions share a byte (each is written or read alongside a write). */
    private static void disjoint(String call, MemorySegment... regions) {
        for (int i = 0; i < regions.length; i++) {
            for (int j = i + 1; j < regions.length; j++) {
                MemorySegment a = regions[i], b = regions[j];
                if (a.address() == 0 || b.address() == 0 || a.byteSize() == 0 || b.byteSize() == 0) continue;
                if (Primitives.overlap(a, b)) {
                    throw new IllegalArgumentException(call + ": arrays " + i + " and " + j + " overlap");
                }
            }
        }
    }
}
