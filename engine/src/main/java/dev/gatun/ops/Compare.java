package dev.gatun.ops;

import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import java.util.Arrays;

/**
 * Elementwise comparisons and logical operations with numpy broadcasting, as {@code torch.eq},
 * {@code torch.lt}, ..., {@code torch.logical_and}: each result is a new {@link DType#BOOL} tensor of the
 * broadcast shape, never differentiable.
 *
 * <p>Operands of any dtype may be compared, promoted as PyTorch promotes them: when either is float32 both
 * are compared as float32, otherwise as int64 (a bool is 0 or 1). A scalar is compared in the tensor's
 * dtype: as a float32 with a float32 tensor ({@code x.eq(0.1)} is true where x holds {@code 0.1f}), as an
 * int64 with an int64 or bool tensor when it is a whole number, else as float32. NaN compares unequal to
 * everything, itself included. The logical operations read any dtype as "not zero" (NaN is true).
 */
public final class Compare {

    private Compare() {}

    /** The six comparisons. */
    private enum Op {
        EQ, NE, LT, LE, GT, GE;

        boolean test(float a, float b) {
            return switch (this) {
                case EQ -> a == b;
                case NE -> a != b;
                case LT -> a < b;
                case LE -> a <= b;
                case GT -> a > b;
                case GE -> a >= b;
            };
        }

        boolean test(long a, long b) {
            return switch (this) {
                case EQ -> a == b;
                case NE -> a != b;
                case LT -> a < b;
                case LE -> a <= b;
                case GT -> a > b;
                case GE -> a >= b;
            };
        }
    }

    /**
     * {@code a == b} elementwise ({@code torch.eq}).
     *
     * @param a the left operand
     * @param b the right operand, broadcasting with {@code a}
     * @return a bool tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast
     * @throws IllegalStateException    if an operand is closed
     */
    public static Tensor eq(Tensor a, Tensor b) {
        return compare(Op.EQ, a, b);
    }

    /**
     * {@code a != b} elementwise ({@code torch.ne}).
     *
     * @param a the left operand
     * @param b the right operand, broadcasting with {@code a}
     * @return a bool tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast
     * @throws IllegalStateException    if an operand is closed
     */
    public static Tensor ne(Tensor a, Tensor b) {
        return compare(Op.NE, a, b);
    }

    /**
     * {@code a < b} elementwise ({@code torch.lt}).
     *
     * @param a the left operand
     * @param b the right operand, broadcasting with {@code a}
     * @return a bool tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast
     * @throws IllegalStateException    if an operand is closed
     */
    public static Tensor lt(Tensor a, Tensor b) {
        return compare(Op.LT, a, b);
    }

    /**
     * {@code a <= b} elementwise ({@code torch.le}).
     *
     * @param a the left operand
     * @param b the right operand, broadcasting with {@code a}
     * @return a bool tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast
     * @throws IllegalStateException    if an operand is closed
     */
    public static Tensor le(Tensor a, Tensor b) {
        return compare(Op.LE, a, b);
    }

    /**
     * {@code a > b} elementwise ({@code torch.gt}).
     *
     * @param a the left operand
     * @param b the right operand, broadcasting with {@code a}
     * @return a bool tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast
     * @throws IllegalStateException    if an operand is closed
     */
    public static Tensor gt(Tensor a, Tensor b) {
        return compare(Op.GT, a, b);
    }

    /**
     * {@code a >= b} elementwise ({@code torch.ge}).
     *
     * @param a the left operand
     * @param b the right operand, broadcasting with {@code a}
     * @return a bool tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast
     * @throws IllegalStateException    if an operand is closed
     */
    public static Tensor ge(Tensor a, Tensor b) {
        return compare(Op.GE, a, b);
    }

    /**
     * {@code a == value} elementwise.
     *
     * @param a     the tensor
     * @param value the scalar, compared in a's dtype (see the class comment)
     * @return a bool tensor of a's shape
     * @throws IllegalStateException if the tensor is closed
     */
    public static Tensor eq(Tensor a, double value) {
        return compare(Op.EQ, a, value);
    }

    /**
     * {@code a != value} elementwise.
     *
     * @param a     the tensor
     * @param value the scalar, compared in a's dtype (see the class comment)
     * @return a bool tensor of a's shape
     * @throws IllegalStateException if the tensor is closed
     */
    public static Tensor ne(Tensor a, double value) {
        return compare(Op.NE, a, value);
    }

    /**
     * {@code a < value} elementwise.
     *
     * @param a     the tensor
     * @param value the scalar, compared in a's dtype (see the class comment)
     * @return a bool tensor of a's shape
     * @throws IllegalStateException if the tensor is closed
     */
    public static Tensor lt(Tensor a, double value) {
        return compare(Op.LT, a, value);
    }

    /**
     * {@code a <= value} elementwise.
     *
     * @param a     the tensor
     * @param value the scalar, compared in a's dtype (see the class comment)
     * @return a bool tensor of a's shape
     * @throws IllegalStateException if the tensor is closed
     */
    public static Tensor le(Tensor a, double value) {
        return compare(Op.LE, a, value);
    }

    /**
     * {@code a > value} elementwise.
     *
     * @param a     the tensor
     * @param value the scalar, compared in a's dtype (see the class comment)
     * @return a bool tensor of a's shape
     * @throws IllegalStateException if the tensor is closed
     */
    public static Tensor gt(Tensor a, double value) {
        return compare(Op.GT, a, value);
    }

    /**
     * {@code a >= value} elementwise.
     *
     * @param a     the tensor
     * @param value the scalar, compared in a's dtype (see the class comment)
     * @return a bool tensor of a's shape
     * @throws IllegalStateException if the tensor is closed
     */
    public static Tensor ge(Tensor a, double value) {
        return compare(Op.GE, a, value);
    }

    /**
     * {@code a && b} elementwise ({@code torch.logical_and}); any dtype, non-zero being true.
     *
     * @param a the left operand
     * @param b the right operand, broadcasting with {@code a}
     * @return a bool tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast
     * @throws IllegalStateException    if an operand is closed
     */
    public static Tensor logicalAnd(Tensor a, Tensor b) {
        return logical(0, a, b);
    }

    /**
     * {@code a || b} elementwise ({@code torch.logical_or}); any dtype, non-zero being true.
     *
     * @param a the left operand
     * @param b the right operand, broadcasting with {@code a}
     * @return a bool tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast
     * @throws IllegalStateException    if an operand is closed
     */
    public static Tensor logicalOr(Tensor a, Tensor b) {
        return logical(1, a, b);
    }

    /**
     * {@code a != b} as truth values, elementwise ({@code torch.logical_xor}); any dtype, non-zero being
     * true.
     *
     * @param a the left operand
     * @param b the right operand, broadcasting with {@code a}
     * @return a bool tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast
     * @throws IllegalStateException    if an operand is closed
     */
    public static Tensor logicalXor(Tensor a, Tensor b) {
        return logical(2, a, b);
    }

    /**
     * {@code !a} elementwise ({@code torch.logical_not}); any dtype, non-zero being true.
     *
     * @param a the operand
     * @return a bool tensor of a's shape
     * @throws IllegalStateException if the tensor is closed
     */
    public static Tensor logicalNot(Tensor a) {
        boolean[] v = truth(a);
        for (int i = 0; i < v.length; i++) v[i] = !v[i];
        return Tensor.fromBooleans(v, a.shape());
    }

    private static Tensor compare(Op op, Tensor a, Tensor b) {
        a.checkAlive();
        b.checkAlive();
        long[] shape = Kernels.broadcastShapes(a.shape(), b.shape());
        int[] pa = broadcastPositions(a.shape(), shape);
        int[] pb = broadcastPositions(b.shape(), shape);
        boolean[] out = new boolean[pa.length];
        if (a.dtype() == DType.FLOAT32 || b.dtype() == DType.FLOAT32) {
            float[] x = floats(a);
            float[] y = floats(b);
            for (int i = 0; i < out.length; i++) out[i] = op.test(x[pa[i]], y[pb[i]]);
        } else {
            long[] x = longs(a);
            long[] y = longs(b);
            for (int i = 0; i < out.length; i++) out[i] = op.test(x[pa[i]], y[pb[i]]);
        }
        return Tensor.fromBooleans(out, shape);
    }

    private static Tensor compare(Op op, Tensor a, double value) {
        a.checkAlive();
        boolean[] out;
        boolean whole = value == Math.rint(value) && value >= -0x1p63 && value < 0x1p63;
        if (a.dtype() != DType.FLOAT32 && whole) {
            long[] x = longs(a);
            long s = (long) value;
            out = new boolean[x.length];
            for (int i = 0; i < x.length; i++) out[i] = op.test(x[i], s);
        } else {
            float[] x = floats(a);
            float s = (float) value;
            out = new boolean[x.length];
            for (int i = 0; i < x.length; i++) out[i] = op.test(x[i], s);
        }
        return Tensor.fromBooleans(out, a.shape());
    }

    /** 0: and, 1: or, 2: xor. */
    private static Tensor logical(int kind, Tensor a, Tensor b) {
        a.checkAlive();
        b.checkAlive();
        long[] shape = Kernels.broadcastShapes(a.shape(), b.shape());
        int[] pa = broadcastPositions(a.shape(), shape);
        int[] pb = broadcastPositions(b.shape(), shape);
        boolean[] x = truth(a);
        boolean[] y = truth(b);
        boolean[] out = new boolean[pa.length];
        for (int i = 0; i < out.length; i++) {
            boolean p = x[pa[i]];
            boolean q = y[pb[i]];
            out[i] = kind == 0 ? p && q : kind == 1 ? p || q : p != q;
        }
        return Tensor.fromBooleans(out, shape);
    }

    /** The elements as float32 (int64 converted, bool as 0 or 1), row-major. */
    static float[] floats(Tensor t) {
        return switch (t.dtype()) {
            case FLOAT32 -> t.toArray();
            case INT64, BOOL -> t.to(DType.FLOAT32).toArray();
        };
    }

    /** The elements of an int64 or bool tensor as int64 (bool as 0 or 1), row-major. */
    static long[] longs(Tensor t) {
        return t.dtype() == DType.INT64 ? t.toLongArray() : t.to(DType.INT64).toLongArray();
    }

    /** The elements' truth ("not zero"; NaN is true), row-major. */
    static boolean[] truth(Tensor t) {
        t.checkAlive();
        return t.dtype() == DType.BOOL ? t.toBooleanArray() : t.to(DType.BOOL).toBooleanArray();
    }

    /**
     * For each row-major position of {@code target}, the row-major position in an array of shape
     * {@code own} that broadcasts to it (numpy rules; {@code own} must broadcast to {@code target}).
     */
    static int[] broadcastPositions(long[] own, long[] target) {
        int n = Kernels.checkedSize(target);
        int r = target.length;
        if (own.length > r) {
            throw new IllegalArgumentException("shape " + Arrays.toString(own) + " does not broadcast to "
                    + Arrays.toString(target));
        }
        int[] st = new int[r];
        int step = 1;
        for (int i = r - 1, j = own.length - 1; i >= 0; i--, j--) {
            if (j >= 0 && own[j] != 1) {
                if (own[j] != target[i]) {
                    throw new IllegalArgumentException("shape " + Arrays.toString(own) + " does not broadcast to "
                            + Arrays.toString(target));
                }
                st[i] = step;
                step *= (int) own[j];
            }
        }
        int[] out = new int[n];
        int[] idx = new int[r];
        int o = 0;
        for (int k = 0; k < n; k++) {
            out[k] = o;
            for (int d = r - 1; d >= 0; d--) {
                if (++idx[d] < target[d]) {
                    o += st[d];
                    break;
                }
                o -= (int) (target[d] - 1) * st[d];
                idx[d] = 0;
            }
        }
        return out;
    }
}
