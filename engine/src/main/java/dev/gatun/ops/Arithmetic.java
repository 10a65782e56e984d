package dev.gatun.ops;

import dev.gatun.autograd.Autograd;
import dev.gatun.tensor.Tensor;

/**
 * Differentiable elementwise arithmetic with numpy broadcasting. The gradient of a broadcast input is
 * summed back to that input's shape.
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

    public static Tensor add(Tensor a, Tensor b) {
        Tensor out = Kernels.binary(Kernels.BinaryOp.ADD, a, b);
        long[] as = a.shape();
        long[] bs = b.shape();
        return Autograd.record(out, "add", g -> new Tensor[] {
                a.requiresGrad() ? Kernels.sumToShape(g, as) : null,
                b.requiresGrad() ? Kernels.sumToShape(g, bs) : null}, a, b);
    }

    public static Tensor sub(Tensor a, Tensor b) {
        Tensor out = Kernels.binary(Kernels.BinaryOp.SUB, a, b);
        long[] as = a.shape();
        long[] bs = b.shape();
        return Autograd.record(out, "sub", g -> new Tensor[] {
                a.requiresGrad() ? Kernels.sumToShape(g, as) : null,
                b.requiresGrad() ? Kernels.sumToShape(Kernels.scale(g, -1f), bs) : null}, a, b);
    }

    public static Tensor mul(Tensor a, Tensor b) {
        Tensor out = Kernels.binary(Kernels.BinaryOp.MUL, a, b);
        long[] as = a.shape();
        long[] bs = b.shape();
        return Autograd.record(out, "mul", g -> new Tensor[] {
                a.requiresGrad() ? Kernels.sumToShape(Kernels.mul(g, b), as) : null,
                b.requiresGrad() ? Kernels.sumToShape(Kernels.mul(g, a), bs) : null}, a, b);
    }

    public static Tensor div(Tensor a, Tensor b) {
        Tensor out = Kernels.binary(Kernels.BinaryOp.DIV, a, b);
        long[] as = a.shape();
        long[] bs = b.shape();
        return Autograd.record(out, "div", g -> new Tensor[] {
                a.requiresGrad() ? Kernels.sumToShape(Kernels.binary(Kernels.BinaryOp.DIV, g, b), as) : null,
                b.requiresGrad() ? Kernels.sumToShape(Kernels.scale(
                        Kernels.binary(Kernels.BinaryOp.DIV, Kernels.mul(g, out), b), -1f), bs) : null}, a, b);
    }

    /** {@code a · s} for a constant s. */
    public static Tensor scale(Tensor a, float s) {
        Tensor out = Kernels.scale(a, s);
        return Autograd.record(out, "scale", g -> new Tensor[] {Kernels.scale(g, s)}, a);
    }

    /** {@code a + s} for a constant s. */
    public static Tensor addScalar(Tensor a, float s) {
        Tensor out = Kernels.addScalar(a, s);
        return Autograd.record(out, "addScalar", g -> new Tensor[] {g}, a);
    }
}
