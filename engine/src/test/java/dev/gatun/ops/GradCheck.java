package dev.gatun.ops;

import dev.gatun.autograd.Autograd;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.Function;

/**
 * Central-difference gradient checks. The scalar checked is L = Σ f(inputs)·R for a fixed random R, so
 * every output element's gradient matters. The kernels are float32, so the differences use a step of
 * about 1e-2 relative to each input and the tolerances are set for float32 rounding; L itself is
 * summed in double.
 */
public final class GradCheck {

    private GradCheck() {}

    /** Checks f's recorded gradients for every input that requires a gradient. */
    public static void check(String name, Function<Tensor[], Tensor> f, Tensor... inputs) {
        check(name, 1e-2, 2e-2, 2e-3, f, inputs);
    }

    public static void check(String name, double eps, double rtol, double atol, Function<Tensor[], Tensor> f,
                             Tensor... inputs) {
        for (Tensor t : inputs) {
            t.setGrad(null);
        }
        Tensor out = f.apply(inputs);
        float[] r = weights(out.numel());
        Tensor rt = Tensor.fromArray(r, out.shape());
        Tensor loss = Reduce.sum(Arithmetic.mul(out, rt));
        loss.backward();
        for (int k = 0; k < inputs.length; k++) {
            Tensor x = inputs[k];
            if (!x.requiresGrad()) {
                continue;
            }
            if (x.grad() == null) {
                throw new AssertionError(name + ": input " + k + " got no gradient");
            }
            float[] analytic = x.grad().toArray();
            float[] values = x.toArray();
            for (int j = 0; j < values.length; j++) {
                double h = eps * Math.max(1, Math.abs(values[j]));
                double plus = evaluate(f, inputs, x, values, j, values[j] + h, r);
                double minus = evaluate(f, inputs, x, values, j, values[j] - h, r);
                double numeric = (plus - minus) / (2 * h);
                double err = Math.abs(analytic[j] - numeric);
                if (err > atol + rtol * Math.abs(numeric)) {
                    throw new AssertionError(name + ": d/d input " + k + "[" + j + "] analytic " + analytic[j]
                            + " vs numeric " + numeric + " (shape " + Arrays.toString(x.shape()) + ")");
                }
            }
        }
    }

    private static double evaluate(Function<Tensor[], Tensor> f, Tensor[] inputs, Tensor x, float[] values, int j,
                                   double v, float[] r) {
        float[] changed = values.clone();
        changed[j] = (float) v;
        x.copyFrom(changed);
        try (var ignored = Autograd.noGrad()) {
            float[] o = f.apply(inputs).toArray();
            double s = 0;
            for (int i = 0; i < o.length; i++) {
                s += (double) o[i] * r[i];
            }
            return s;
        } finally {
            x.copyFrom(values);
        }
    }

    private static float[] weights(long n) {
        SplittableRandom rng = new SplittableRandom(99);
        float[] r = new float[(int) n];
        for (int i = 0; i < n; i++) r[i] = (float) (rng.nextDouble() * 2 - 1);
        return r;
    }

    /** A leaf tensor of normal samples that requires a gradient. */
    public static Tensor leaf(long seed, long... shape) {
        return Tensor.randn(new Generator(seed), shape).requiresGrad(true);
    }

    /** A leaf tensor of values in [lo, hi] that requires a gradient. */
    public static Tensor leafIn(long seed, double lo, double hi, long... shape) {
        Tensor t = Tensor.rand(new Generator(seed), shape);
        float[] v = t.toArray();
        for (int i = 0; i < v.length; i++) v[i] = (float) (lo + (hi - lo) * v[i]);
        return t.copyFrom(v).requiresGrad(true);
    }
}
