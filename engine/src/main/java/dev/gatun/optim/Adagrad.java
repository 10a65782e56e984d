package dev.gatun.optim;

import dev.gatun.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * Adagrad (Duchi et al., 2011), as {@code torch.optim.Adagrad} (torch 1.13, single-tensor loop). Each
 * parameter θ keeps a sum of squared gradients s (starting at s₀, the initial accumulator value). At
 * the parameter's step t, with learning rate η, learning-rate decay δ, weight decay λ:
 * <pre>
 *   g  ← g + λ·θ
 *   η_t = η / (1 + (t − 1)·δ)               (in double, like PyTorch's Python float)
 *   s  ← s + g·g
 *   θ  ← θ − η_t·g / (√s + ε)               (ε outside the square root)
 * </pre>
 * Vectors are float32, each operation rounded in PyTorch's order; t counts the parameter's own updates
 * ({@link #parameterSteps(int)}).
 */
public final class Adagrad extends Optimizer {

    /**
     * Adagrad's hyper-parameters; {@link #DEFAULTS} are PyTorch's (η = 1e-2, no decay, s₀ = 0,
     * ε = 1e-10). Change one with a {@code with…} method, e.g. {@code DEFAULTS.withLearningRate(0.1)}
     *
     * @param learningRate            η, finite and {@code >= 0}
     * @param learningRateDecay       δ, finite and {@code >= 0}: step t runs at η / (1 + (t − 1)·δ)
     * @param weightDecay             λ of the L2 penalty added to the gradient, finite and {@code >= 0}
     * @param initialAccumulatorValue s₀, the starting sum of squared gradients, finite and {@code >= 0}
     * @param eps                     ε, added to the denominator, finite and {@code >= 0}
     */
    public record Options(double learningRate, double learningRateDecay, double weightDecay,
                          double initialAccumulatorValue, double eps) {

        /** PyTorch's defaults, η = 1e-2, no learning-rate decay, no weight decay, s₀ = 0, ε = 1e-10. */
        public static final Options DEFAULTS = new Options(1e-2, 0, 0, 0, 1e-10);

        /**
         * Checks the hyper-parameters.
         *
         * @throws IllegalArgumentException if a value is out of its range; the message names the value
         */
        public Options {
            Check.nonNegative("Adagrad", "learning rate", learningRate);
            Check.nonNegative("Adagrad", "learning-rate decay", learningRateDecay);
            Check.nonNegative("Adagrad", "weight decay", weightDecay);
            Check.nonNegative("Adagrad", "initial accumulator value", initialAccumulatorValue);
            Check.nonNegative("Adagrad", "eps", eps);
        }

        /**
         * A copy with another learning rate (the initial one of an optimizer made from these options).
         *
         * @param v η, finite and {@code >= 0}
         * @return new options with that change; this record is unchanged
         * @throws IllegalArgumentException if the new value is out of its range
         */
        public Options withLearningRate(double v) {
            return new Options(v, learningRateDecay, weightDecay, initialAccumulatorValue, eps);
        }

        /**
         * A copy with another learning-rate decay.
         *
         * @param v δ, finite and {@code >= 0}
         * @return new options with that change; this record is unchanged
         * @throws IllegalArgumentException if the new value is out of its range
         */
        public Options withLearningRateDecay(double v) {
            return new Options(learningRate, v, weightDecay, initialAccumulatorValue, eps);
        }

        /**
         * A copy with another weight decay (an L2 penalty added to the gradient).
         *
         * @param v λ, finite and {@code >= 0}
         * @return new options with that change; this record is unchanged
         * @throws IllegalArgumentException if the new value is out of its range
         */
        public Options withWeightDecay(double v) {
            return new Options(learningRate, learningRateDecay, v, initialAccumulatorValue, eps);
        }

        /**
         * A copy with another starting sum of squared gradients.
         *
         * @param v s₀, finite and {@code >= 0}
         * @return new options with that change; this record is unchanged
         * @throws IllegalArgumentException if the new value is out of its range
         */
        public Options withInitialAccumulatorValue(double v) {
            return new Options(learningRate, learningRateDecay, weightDecay, v, eps);
        }

        /**
         * A copy with another ε, the term that keeps the denominator away from zero.
         *
         * @param v ε, finite and {@code >= 0}
         * @return new options with that change; this record is unchanged
         * @throws IllegalArgumentException if the new value is out of its range
         */
        public Options withEps(double v) {
            return new Options(learningRate, learningRateDecay, weightDecay, initialAccumulatorValue, v);
        }
    }

    private final Options options;
    /** Sums of squared gradients s, made at a parameter's first step. */
    private final Tensor[] sums;

    /**
     * Adagrad with PyTorch's defaults ({@link Options#DEFAULTS}).
     *
     * @param parameters the tensors to update: contiguous leaf tensors that require gradients (the list
     *                   is copied; the tensors stay the caller's)
     * @throws IllegalArgumentException if {@code parameters} is null or empty, or holds a tensor that is
     *                                  null, not contiguous, or not a leaf that requires a gradient
     */
    public Adagrad(List<Tensor> parameters) {
        this(parameters, Options.DEFAULTS);
    }

    /**
     * Adagrad with PyTorch's defaults except the learning rate.
     *
     * @param parameters   the tensors to update: contiguous leaf tensors that require gradients (the list
     *                     is copied; the tensors stay the caller's)
     * @param learningRate η, finite and {@code >= 0}
     * @throws IllegalArgumentException if {@code parameters} is null or empty, or holds a tensor that is
     *                                  null, not contiguous, or not a leaf that requires a gradient; or if
     *                                  the learning rate is negative or not finite
     */
    public Adagrad(List<Tensor> parameters, double learningRate) {
        this(parameters, Options.DEFAULTS.withLearningRate(learningRate));
    }

    /**
     * Adagrad with the given hyper-parameters.
     *
     * @param parameters the tensors to update: contiguous leaf tensors that require gradients (the list
     *                   is copied; the tensors stay the caller's)
     * @param options    the hyper-parameters; {@link #learningRate()} starts at
     *                   {@code options.learningRate()}
     * @throws IllegalArgumentException if {@code parameters} is null or empty, or holds a tensor that is
     *                                  null, not contiguous, or not a leaf that requires a gradient
     */
    public Adagrad(List<Tensor> parameters, Options options) {
        super(parameters, options.learningRate());
        this.options = options;
        this.sums = new Tensor[parameters.size()];
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
        if (sums[index] == null) {
            sums[index] = newState(parameter).fill((float) options.initialAccumulatorValue());
        }
        long t = parameterSteps(index);
        float clr = (float) (learningRate() / (1 + (t - 1) * options.learningRateDecay()));
        float wd = (float) options.weightDecay();
        float eps = (float) options.eps();
        updateInChunks(parameter, gradient, (p, g, state, n) -> {
            float[] s = state[0];
            for (int i = 0; i < n; i++) {
                float pv = p[i];
                float gv = g[i] + wd * pv;
                float sv = s[i] + gv * gv;
                s[i] = sv;
                float std = (float) Math.sqrt(sv) + eps;
                p[i] = pv + (-clr * gv) / std;
            }
        }, sums[index]);
    }

    @Override
    protected Map<String, Tensor[]> stateSlots() {
        return Map.of("sum", sums);
    }
}
