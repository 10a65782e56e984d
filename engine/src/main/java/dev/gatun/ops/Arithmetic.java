package dev.gatun.ops;

import dev.gatun.autograd.Autograd;
import dev.gatun.tensor.Tensor;

/**
 * Differentiable elementwise arithmetic with numpy broadcasting. The gradient of a broadcast input is
 * summed back to that input's shape. The same ops are methods of {@link Tensor}
 * ({@code a.add(b)}, {@code a.mul(2f)}, ...).
 *
 * <pre>
 *   c = a + b   ∂a = g        ∂b = g
 *   c = a − b   ∂a = g        ∂b = −g
 *   c = a · b   ∂a = g·b      ∂b = g·a
 *   c = a / b   ∂a = g / b    ∂b = −g·a / b²
 * </pre>
 */
public final class Arithmetic {

    private Arithmetic() {}

    /**
     * {@code a + b} elementwise, broadcasting.
     *
     * @param a the first operand
     * @param b the second operand
     * @return a new tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast (the message names both)
     * @throws IllegalStateException if either tensor is closed
     */
    public static Tensor add(Tensor a, Tensor b) {
        Tensor out = Kernels.binary(Kernels.BinaryOp.ADD, a, b);
        long[] as = a.shape();
        long[] bs = b.shape();
        return Autograd.recordValueFree(out, "add", g -> new Tensor[] {
                a.requiresGrad() ? Kernels.sumToShape(g, as) : null,
                b.requiresGrad() ? Kernels.sumToShape(g, bs) : null}, a, b);
    }

    /**
     * {@code a − b} elementwise, broadcasting.
     *
     * @param a the minuend
     * @param b the subtrahend
     * @return a new tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast (the message names both)
     * @throws IllegalStateException if either tensor is closed
     */
    public static Tensor sub(Tensor a, Tensor b) {
        Tensor out = Kernels.binary(Kernels.BinaryOp.SUB, a, b);
        long[] as = a.shape();
        long[] bs = b.shape();
        return Autograd.recordValueFree(out, "sub", g -> new Tensor[] {
                a.requiresGrad() ? Kernels.sumToShape(g, as) : null,
                b.requiresGrad() ? Kernels.sumToShape(Kernels.scale(g, -1f), bs) : null}, a, b);
    }

    /**
     * {@code a · b} elementwise, broadcasting.
     *
     * @param a the first factor
     * @param b the second factor
     * @return a new tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast (the message names both)
     * @throws IllegalStateException if either tensor is closed
     */
    public static Tensor mul(Tensor a, Tensor b) {
        Tensor out = Kernels.binary(Kernels.BinaryOp.MUL, a, b);
        long[] as = a.shape();
        long[] bs = b.shape();
        return Autograd.record(out, "mul", g -> new Tensor[] {
                a.requiresGrad() ? Kernels.sumToShape(Kernels.mul(g, b), as) : null,
                b.requiresGrad() ? Kernels.sumToShape(Kernels.mul(g, a), bs) : null}, a, b);
    }

    /**
     * {@code a / b} elementwise, broadcasting (true division: x / 0 is ±∞, 0 / 0 is NaN).
     *
     * @param a the dividend
     * @param b the divisor
     * @return a new tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast (the message names both)
     * @throws IllegalStateException if either tensor is closed
     */
    public static Tensor div(Tensor a, Tensor b) {
        Tensor out = Kernels.binary(Kernels.BinaryOp.DIV, a, b);
        long[] as = a.shape();
        long[] bs = b.shape();
        return Autograd.record(out, "div", g -> new Tensor[] {
                a.requiresGrad() ? Kernels.sumToShape(Kernels.binary(Kernels.BinaryOp.DIV, g, b), as) : null,
                b.requiresGrad() ? Kernels.sumToShape(Kernels.scale(
                        Kernels.binary(Kernels.BinaryOp.DIV, Kernels.mul(g, out), b), -1f), bs) : null}, a, b);
    }

    /**
     * {@code a · s} for a constant s; ∂a = g·s.
     *
     * @param a the tensor
     * @param s the factor
     * @return a new tensor of {@code a}'s shape
     * @throws IllegalStateException if {@code a} is closed
     */
    public static Tensor scale(Tensor a, float s) {
        Tensor out = Kernels.scale(a, s);
        return Autograd.recordValueFree(out, "scale", g -> new Tensor[] {Kernels.scale(g, s)}, a);
    }

    /**
     * {@code a + s} for a constant s; ∂a = g. Subtracting a constant is adding its negation, which
     * rounds the same.
     *
     * @param a the tensor
     * @param s the constant added
     * @return a new tensor of {@code a}'s shape
     * @throws IllegalStateException if {@code a} is closed
     */
    public static Tensor addScalar(Tensor a, float s) {
        Tensor out = Kernels.addScalar(a, s);
        return Autograd.recordValueFree(out, "addScalar", g -> new Tensor[] {g}, a);
    }

    /**
     * {@code a / s} for a constant s, divided element by element (not multiplied by 1/s, which can round
     * differently); ∂a = g / s.
     *
     * @param a the dividend
     * @param s the divisor (0 gives ±∞ or NaN, as in PyTorch)
     * @return a new tensor of {@code a}'s shape
     * @throws IllegalStateException if {@code a} is closed
     */
    public static Tensor divScalar(Tensor a, float s) {
        Tensor out = Kernels.divScalar(a, s);
        return Autograd.recordValueFree(out, "divScalar", g -> new Tensor[] {Kernels.divScalar(g, s)}, a);
    }
}
