package dev.gatun.optim;

import dev.gatun.tensor.Tensor;
import java.util.List;

/**
 * AdamW (Loshchilov and Hutter, 2019), as {@code torch.optim.AdamW} (torch 1.13, single-tensor loop):
 * {@link Adam} with the weight decay decoupled from the gradient, so it shrinks θ directly instead of
 * passing through the moment estimates. At the parameter's step t, with learning rate η, betas β₁ and
 * β₂ and weight decay λ:
 * <pre>
 *   θ ← θ·(1 − η·λ)
 *   m ← β₁·m + (1 − β₁)·g
 *   v ← β₂·v + (1 − β₂)·g²
 *   v̂ₘₐₓ ← max(v̂ₘₐₓ, v);  v' = v̂ₘₐₓ     with AMSGrad, else v' = v
 *   c₁ = 1 − β₁ᵗ,  c₂ = 1 − β₂ᵗ          (in double, like PyTorch's Python floats)
 *   θ ← θ − (η / c₁) · m / (√v' / √c₂ + ε)
 * </pre>
 * Vectors are float32, each operation rounded in PyTorch's order; t counts the parameter's own updates
 * ({@link #parameterSteps(int)}).
 */
public final class AdamW extends AdamFamily {

    /**
     * AdamW's hyper-parameters; {@link #DEFAULTS} are PyTorch's (η = 1e-3, β = (0.9, 0.999), ε = 1e-8,
     * λ = 1e-2, no AMSGrad). Change one with a {@code with…} method.
     *
     * @param learningRate η, finite and {@code >= 0}
     * @param beta1        β₁, the decay of the first moment, in [0, 1)
     * @param beta2        β₂, the decay of the second moment, in [0, 1)
     * @param eps          ε, added to the denominator, finite and {@code >= 0}
     * @param weightDecay  λ, finite and {@code >= 0}: the decoupled decay, θ ← θ·(1 − η·λ)
     * @param amsgrad      normalise by the largest second moment seen so far (Reddi et al., 2018)
     */
    public record Options(double learningRate, double beta1, double beta2, double eps, double weightDecay,
                          boolean amsgrad) {

        /** PyTorch's defaults, η = 1e-3, β = (0.9, 0.999), ε = 1e-8, λ = 1e-2, no AMSGrad. */
        public static final Options DEFAULTS = new Options(1e-3, 0.9, 0.999, 1e-8, 1e-2, false);

        /**
         * Checks the hyper-parameters.
         *
         * @throws IllegalArgumentException if a value is out of its range; the message names the value
         */
        public Options {
            Check.nonNegative("AdamW", "learning rate", learningRate);
            Check.unitIntervalOpen("AdamW", "beta1", beta1);
            Check.unitIntervalOpen("AdamW", "beta2", beta2);
            Check.nonNegative("AdamW", "eps", eps);
            Check.nonNegative("AdamW", "weight decay", weightDecay);
        }

        /**
         * A copy with another learning rate (the initial one of an optimizer made from these options).
         *
         * @param v η, finite and {@code >= 0}
         * @return new options with that change; this record is unchanged
         * @throws IllegalArgumentException if the new value is out of its range
         */
        public Options withLearningRate(double v) {
            return new Options(v, beta1, beta2, eps, weightDecay, amsgrad);
        }

        /**
         * A copy with other moment decays.
         *
         * @param b1 β₁, in [0, 1)
         * @param b2 β₂, in [0, 1)
         * @return new options with that change; this record is unchanged
         * @throws IllegalArgumentException if a new value is out of its range
         */
        public Options withBetas(double b1, double b2) {
            return new Options(learningRate, b1, b2, eps, weightDecay, amsgrad);
        }

        /**
         * A copy with another ε, the term that keeps the denominator away from zero.
         *
         * @param v ε, finite and {@code >= 0}
         * @return new options with that change; this record is unchanged
         * @throws IllegalArgumentException if the new value is out of its range
         */
        public Options withEps(double v) {
            return new Options(learningRate, beta1, beta2, v, weightDecay, amsgrad);
        }

        /**
         * A copy with another weight decay.
         *
         * @param v λ, finite and {@code >= 0}
         * @return new options with that change; this record is unchanged
         * @throws IllegalArgumentException if the new value is out of its range
         */
        public Options withWeightDecay(double v) {
            return new Options(learningRate, beta1, beta2, eps, v, amsgrad);
        }

        /**
         * A copy with AMSGrad on or off.
         *
         * @param v whether to normalise by the largest second moment seen so far
         * @return new options with that change; this record is unchanged
         */
        public Options withAmsgrad(boolean v) {
            return new Options(learningRate, beta1, beta2, eps, weightDecay, v);
        }
    }

    private final Options options;

    /**
     * AdamW with PyTorch's defaults ({@link Options#DEFAULTS}).
     *
     * @param parameters the tensors to update: contiguous leaf tensors that require gradients (the list
     *                   is copied; the tensors stay the caller's)
     * @throws IllegalArgumentException if {@code parameters} is null or empty, or holds a tensor that is
     *                                  null, not contiguous, or not a leaf that requires a gradient
     */
    public AdamW(List<Tensor> parameters) {
        this(parameters, Options.DEFAULTS);
    }

    /**
     * AdamW with PyTorch's defaults except the learning rate.
     *
     * @param parameters   the tensors to update: contiguous leaf tensors that require gradients (the list
     *                     is copied; the tensors stay the caller's)
     * @param learningRate η, finite and {@code >= 0}
     * @throws IllegalArgumentException if {@code parameters} is null or empty, or holds a tensor that is
     *                                  null, not contiguous, or not a leaf that requires a gradient; or if
     *                                  the learning rate is negative or not finite
     */
    public AdamW(List<Tensor> parameters, double learningRate) {
        this(parameters, Options.DEFAULTS.withLearningRate(learningRate));
    }

    /**
     * AdamW with the given hyper-parameters.
     *
     * @param parameters the tensors to update: contiguous leaf tensors that require gradients (the list
     *                   is copied; the tensors stay the caller's)
     * @param options    the hyper-parameters; {@link #learningRate()} starts at
     *                   {@code options.learningRate()}
     * @throws IllegalArgumentException if {@code parameters} is null or empty, or holds a tensor that is
     *                                  null, not contiguous, or not a leaf that requires a gradient
     */
    public AdamW(List<Tensor> parameters, Options options) {
        super(parameters, options.learningRate(), options.beta1(), options.beta2(), options.eps(), options.amsgrad(),
                0, options.weightDecay());
        this.options = options;
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
}
