package dev.gatun.optim;

import dev.gatun.tensor.Tensor;
import java.util.List;

/**
 * Adam (Kingma and Ba, 2015), as {@code torch.optim.Adam} (torch 1.13, single-tensor loop). Each
 * parameter θ keeps moment estimates m and v (and v̂ₘₐₓ with AMSGrad), all starting at zero. At the
 * parameter's step t, with learning rate η, betas β₁ and β₂ and weight decay λ (an L2 penalty added
 * to the gradient; see {@link AdamW} for the decoupled kind):
 * <pre>
 *   g ← g + λ·θ
 *   m ← β₁·m + (1 − β₁)·g
 *   v ← β₂·v + (1 − β₂)·g²
 *   v̂ₘₐₓ ← max(v̂ₘₐₓ, v);  v' = v̂ₘₐₓ     with AMSGrad, else v' = v
 *   c₁ = 1 − β₁ᵗ,  c₂ = 1 − β₂ᵗ          (in double, like PyTorch's Python floats)
 *   θ ← θ − (η / c₁) · m / (√v' / √c₂ + ε)
 * </pre>
 * ε is added after the bias correction of the square root, as PyTorch does. Vectors are float32, each
 * operation rounded in PyTorch's order; t counts the parameter's own updates ({@link #parameterSteps(int)}).
 */
public final class Adam extends AdamFamily {

    /**
     * Adam's hyper-parameters; {@link #DEFAULTS} are PyTorch's (η = 1e-3, β = (0.9, 0.999), ε = 1e-8,
     * no weight decay, no AMSGrad). Change one with a {@code with…} method.
     *
     * @param learningRate η, finite and {@code >= 0}
     * @param beta1        β₁, the decay of the first moment, in [0, 1)
     * @param beta2        β₂, the decay of the second moment, in [0, 1)
     * @param eps          ε, added to the denominator, finite and {@code >= 0}
     * @param weightDecay  λ, finite and {@code >= 0}: an L2 penalty added to the gradient
     * @param amsgrad      normalise by the largest second moment seen so far (Reddi et al., 2018)
     */
    public record Options(double learningRate, double beta1, double beta2, double eps, double weightDecay,
                          boolean amsgrad) {

        /** PyTorch's defaults, η = 1e-3, β = (0.9, 0.999), ε = 1e-8, no weight decay, no AMSGrad. */
        public static final Options DEFAULTS = new Options(1e-3, 0.9, 0.999, 1e-8, 0, false);

        /**
         * Checks the hyper-parameters.
         *
         * @throws IllegalArgumentException if a value is out of its range; the message names the value
         */
        public Options {
            Check.nonNegative("Adam", "learning rate", learningRate);
            Check.unitIntervalOpen("Adam", "beta1", beta1);
            Check.unitIntervalOpen("Adam", "beta2", beta2);
            Check.nonNegative("Adam", "eps", eps);
            Check.nonNegative("Adam", "weight decay", weightDecay);
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
         * A copy with another weight decay (an L2 penalty added to the gradient).
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
     * Adam with PyTorch's defaults ({@link Options#DEFAULTS}).
     *
     * @param parameters the tensors to update: contiguous leaf tensors that require gradients (the list
     *                   is copied; the tensors stay the caller's)
     * @throws IllegalArgumentException if {@code parameters} is null or empty, or holds a tensor that is
     *                                  null, not contiguous, or not a leaf that requires a gradient
     */
    public Adam(List<Tensor> parameters) {
        this(parameters, Options.DEFAULTS);
    }

    /**
     * Adam with PyTorch's defaults except the learning rate.
     *
     * @param parameters   the tensors to update: contiguous leaf tensors that require gradients (the list
     *                     is copied; the tensors stay the caller's)
     * @param learningRate η, finite and {@code >= 0}
     * @throws IllegalArgumentException if {@code parameters} is null or empty, or holds a tensor that is
     *                                  null, not contiguous, or not a leaf that requires a gradient; or if
     *                                  the learning rate is negative or not finite
     */
    public Adam(List<Tensor> parameters, double learningRate) {
        this(parameters, Options.DEFAULTS.withLearningRate(learningRate));
    }

    /**
     * Adam with the given hyper-parameters.
     *
     * @param parameters the tensors to update: contiguous leaf tensors that require gradients (the list
     *                   is copied; the tensors stay the caller's)
     * @param options    the hyper-parameters; {@link #learningRate()} starts at
     *                   {@code options.learningRate()}
     * @throws IllegalArgumentException if {@code parameters} is null or empty, or holds a tensor that is
     *                                  null, not contiguous, or not a leaf that requires a gradient
     */
    public Adam(List<Tensor> parameters, Options options) {
        super(parameters, options.learningRate(), options.beta1(), options.beta2(), options.eps(), options.amsgrad(),
                options.weightDecay(), 0);
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
