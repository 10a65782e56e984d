package dev.gatun.ops;

import dev.gatun.autograd.Autograd;
import dev.gatun.tensor.Tensor;

/** Differentiable sums and means over dimensions; the gradient is broadcast back over them. */
public final class Reduce {

    private Reduce() {}

    /** The sum of all elements, a 0-d tensor. */
    public static Tensor sum(Tensor t) {
        return sum(t, allDims(t), false);
    }

    /** Sums over {@code dims}; with keepDims they stay as size 1. */
    public static Tensor sum(Tensor t, int[] dims, boolean keepDims) {
        Tensor out = Kernels.sum(t, dims, keepDims);
        long[] shape = t.shape();
        long[] kept = keptShape(t, dims);
        return Autograd.record(out, "sum", g -> new Tensor[] {g.reshape(kept).expand(shape).contiguous()}, t);
    }

    /** The mean of all elements, a 0-d tensor. */
    public static Tensor mean(Tensor t) {
        return mean(t, allDims(t), false);
    }

    /** Means over {@code dims}; with keepDims they stay as size 1. */
    public static Tensor mean(Tensor t, int[] dims, boolean keepDims) {
        long count = 1;
        long[] shape = t.shape();
        for (int d : dims) {
            count *= shape[d < 0 ? d + shape.length : d];
        }
        return Arithmetic.scale(sum(t, dims, keepDims), count == 0 ? Float.NaN : 1f / count);
    }

    private static int[] allDims(Tensor t) {
        int[] d = new int[t.dim()];
        for (int i = 0; i < d.length; i++) d[i] = i;
        return d;
    }

    /** t's shape with the reduced dims set to 1 (the keepDims shape). */
    private static long[] keptShape(Tensor t, int[] dims) {
        long[] s = t.shape();
        for (int d : dims) {
            s[d < 0 ? d + s.length : d] = 1;
        }
        return s;
    }
}
