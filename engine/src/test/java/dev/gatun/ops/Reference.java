package dev.gatun.ops;

import dev.gatun.tensor.Tensor;
import java.util.Arrays;

/**
 * Plain-Java double-precision references for the ops, written for obviousness rather than speed. Each
 * returns the exact result of the float32 inputs (computed in double) and, where rounding matters, the
 * magnitude that bounds float32 rounding error.
 */
final class Reference {

    private Reference() {}

    /** A result in double precision with the sum of |terms| of each element, for error bounds. */
    record Result(long[] shape, double[] values, double[] absSums) {}

    /** torch.matmul semantics, naive triple loop over the broadcast batch. */
    static Result matmul(Tensor a, Tensor b) {
        long[] as = a.shape();
        long[] bs = b.shape();
        boolean aVec = as.length == 1;
        boolean bVec = bs.length == 1;
        long[] as2 = aVec ? new long[] {1, as[0]} : as;
        long[] bs2 = bVec ? new long[] {bs[0], 1} : bs;
        int m = (int) as2[as2.length - 2];
        int k = (int) as2[as2.length - 1];
        int n = (int) bs2[bs2.length - 1];
        if (bs2[bs2.length - 2] != k) {
            throw new IllegalArgumentException("reference: shapes do not align");
        }
        int ab = as2.length - 2;
        int bb = bs2.length - 2;
        int r = Math.max(ab, bb);
        long[] batch = new long[r];
        for (int i = 0; i < r; i++) {
            long x = i - (r - ab) >= 0 ? as2[i - (r - ab)] : 1;
            long y = i - (r - bb) >= 0 ? bs2[i - (r - bb)] : 1;
            batch[i] = Math.max(x, y);
        }
        long count = 1;
        for (long d : batch) count *= d;
        double[] out = new double[(int) (count * m * n)];
        double[] abs = new double[out.length];
        long[] idx = new long[r];
        for (int bi = 0; bi < count; bi++) {
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double sum = 0;
                    double sumAbs = 0;
                    for (int p = 0; p < k; p++) {
                        double x = a.get(aVec ? new long[] {p} : index(as, idx, r, ab, i, p));
                        double y = b.get(bVec ? new long[] {p} : index(bs, idx, r, bb, p, j));
                        sum += x * y;
                        sumAbs += Math.abs(x * y);
                    }
                    out[(bi * m + i) * n + j] = sum;
                    abs[(bi * m + i) * n + j] = sumAbs;
                }
            }
            for (int d = r - 1; d >= 0; d--) {
                if (++idx[d] < batch[d]) break;
                idx[d] = 0;
            }
        }
        long[] shape = Arrays.copyOf(batch, r + (aVec ? 0 : 1) + (bVec ? 0 : 1));
        int s = r;
        if (!aVec) shape[s++] = m;
        if (!bVec) shape[s] = n;
        return new Result(shape, out, abs);
    }

    /** The index into a matrix operand for batch index idx and position (row, col), with broadcasting. */
    private static long[] index(long[] shape, long[] idx, int r, int nb, int row, int col) {
        long[] out = new long[shape.length];
        for (int d = 0; d < nb; d++) {
            out[d] = shape[d] == 1 ? 0 : idx[d + (r - nb)];
        }
        out[nb] = row;
        out[nb + 1] = col;
        return out;
    }
}
