package dev.gatun.optim;

import dev.gatun.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Adadelta (Zeiler, 2012), as {@code torch.optim.Adadelta} (torch 1.13, single-tensor loop). Each
 * parameter θ keeps running means of squared gradients v and of squared updates u (both starting at
 * zero). With learning rate η (a plain multiplier, 1 in the paper), decay ρ and weight decay λ:
 * <pre>
 *   g ← g + λ·θ
 *   v ← ρ·v + (1 − ρ)·g²
 *   Δ = √(u + ε) / √(v + ε) · g          (ε inside both square roots)
 *   u ← ρ·u + (1 − ρ)·Δ²
 *   θ ← θ − η·Δ
 * </pre>
 * Everything is float32, each operation rounded in PyTorch's order.
 */
public final class Adadelta extends Optimizer {

    /**
     * Adadelta's hyper-parameters; {@link #DEFAULTS} are PyTorch's (η = 1, ρ = 0.9, ε = 1e-6, no
     * weight decay). Change one with a {@code with…} method.
     *
     * @param learningRate η, a plain multiplier of the update, finite and {@code >= 0}
     * @param rho          ρ, the decay of both running means, in [0, 1]
     * @param eps          ε, added inside both square roots, finite and {@code >= 0}
     * @param weightDecay  λ of the L2 penalty added to the gradient, finite and {@code >= 0}
     */
    public record Options(double learningRate, double rho, double eps, double weightDecay) {

        /** PyTorch's defaults, η = 1, ρ = 0.9, ε = 1e-6, no weight decay. */
        public static final Options DEFAULTS = new Options(1.0, 0.9, 1e-6, 0);

        /**
         * Checks the hyper-parameters.
         *
         * @throws IllegalArgumentException if a value is out of its range; the message names the value
         */
        public Options {
            Check.nonNegative("Adadelta", "learning rate", learningRate);
            Check.unitInterval("Adadelta", "rho", rho);
            Check.nonNegative("Adadelta", "eps", eps);
            Check.nonNegative("Adadelta", "weight decay", weightDecay);
        }

        /**
         * A copy with another learning rate (the initial one of an optimizer made from these options).
         *
         * @param v η, finite and {@code >= 0}
         * @return new options with that change; this record is unchanged
         * @throws IllegalArgumentException if the new value is out of its range
         */
        public Options withLearningRate(double v) {
            return new Options(v, rho, eps, weightDecay);
        }

        /**
         * A copy with another decay of the running means.
         *
         * @param v ρ, in [0, 1]
         * @return new options with that change; this record is unchanged
         * @throws IllegalArgumentException if the new value is out of its range
         */
        public Options withRho(double v) {
            return new Options(learningRate, v, eps, weightDecay);
        }

        /**
         * A copy with another ε.
         *
         * @param v ε, finite and {@code >= 0}
         * @return new options with that change; this record is unchanged
         * @throws IllegalArgumentException if the new value is out of its range
         */
        public Options withEps(double v) {
            return new Options(learningRate, rho, v, weightDecay);
        }

        /**
         * A copy with another weight decay (an L2 penalty added to the gradient).
         *
         * @param v λ, finite and {@code >= 0}
         * @return new options with that change; this record is unchanged
         * @throws IllegalArgumentException if the new value is out of its range
         */
        public Options withWeightDecay(double v) {
            return new Options(learningRate, rho, eps, v);
        }
    }

    private final Options options;
    /** Running means of g² (v) and of Δ² (u). */
    private final Tensor[] squareAverages;
    private final Tensor[] deltaAverages;

    /**
     * Adadelta with PyTorch's defaults ({@link Options#DEFAULTS}).
     *
     * @param parameters the tensors to update: contiguous leaf tensors that require gradients (the list
     *                   is copied; the tensors stay the caller's)
     * @throws IllegalArgumentException if {@code parameters} is null or empty, or holds a tensor that is
     *                                  null, not contiguous, or not a leaf that requires a gradient
     */
    public Adadelta(List<Tensor> parameters) {
        this(parameters, Options.DEFAULTS);
    }

    /**
     * Adadelta with PyTorch's defaults except the learning rate.
     *
     * @param parameters   the tensors to update: contiguous leaf tensors that require gradients (the list
     *                     is copied; the tensors stay the caller's)
     * @param learningRate η, finite and {@code >= 0}
     * @throws IllegalArgumentException if {@code parameters} is null or empty, or holds a tensor that is
     *                                  null, not contiguous, or not a leaf that requires a gradient; or if
     *                                  the learning rate is negative or not finite
     */
    public Adadelta(List<Tensor> parameters, double learningRate) {
        this(parameters, Options.DEFAULTS.withLearningRate(learningRate));
    }

    /**
     * Adadelta with the given hyper-parameters.
     *
     * @param parameters the tensors to update: contiguous leaf tensors that require gradients (the list
     *                   is copied; the tensors stay the caller's)
     * @param options    the hyper-parameters; {@link #learningRate()} starts at
     *                   {@code options.learningRate()}
     * @throws IllegalArgumentException if {@code parameters} is null or empty, or holds a tensor that is
     *                                  null, not contiguous, or not a leaf that requires a gradient
     */
    public Adadelta(List<Tensor> parameters, Options options) {
        super(parameters, options.learningRate());
        this.options = options;
        this.squareAverages = new Tensor[parameters.size()];
        this.deltaAverages = new Tensor[parameters.size()];
    }

    /**
     * The hyper-parameters this optimizer was made with. A schedule or {@link #setLearningRate(double)}
     * changes the learning rate in use, not these options.
     *
     * @return the options given to the constructor; the current learning rate is {@link #learningRate()}
     */
    public Options options() {
        return options;
    }

    @Override
    protected void update(int index, Tensor parameter, Tensor gradient) {
        if (squareAverages[index] == null) {
            squareAverages[index] = newState(parameter);
            deltaAverages[index] = newState(parameter);
        }
        float lr = (float) learningRate();
        float rho = (float) options.rho();
        float oneMinusRho = (float) (1 - options.rho());
        float eps = (float) options.eps();
        float wd = (float) options.weightDecay();
        updateInChunks(parameter, gradient, (p, g, state, n) -> {
            float[] v = state[0], u = state[1];
            for (int i = 0; i < n; i++) {
                float pv = p[i];
                float gv = g[i] + wd * pv;
                float vv = rho * v[i] + oneMinusRho * gv * gv;
                v[i] = vv;
                float std = (float) Math.sqrt(vv + eps);
                float delta = (float) Math.sqrt(u[i] + eps) / std * gv;
                u[i] = rho * u[i] + oneMinusRho * delta * delta;
                p[i] = pv - lr * delta;
            }
        }, squareAverages[index], deltaAverages[index]);
    }

    @Override
    protected Map<String, Tensor[]> stateSlots() {
        Map<String, Tensor[]> m = new LinkedHashMap<>();
        m.put("square_avg", squareAverages);
        m.put("acc_delta", deltaAverages);
        return m;
    }
}
