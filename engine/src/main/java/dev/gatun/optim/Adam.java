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
     * @param amsgrad normalise by the largest second moment seen so far (Reddi et al., 2018)
     */
    public record Options(double learningRate, double beta1, double beta2, double eps, double weightDecay,
                          boolean amsgrad) {

        public static final Options DEFAULTS = new Options(1e-3, 0.9, 0.999, 1e-8, 0, false);

        public Options {
            Check.nonNegative("Adam", "learning rate", learningRate);
            Check.unitIntervalOpen("Adam", "beta1", beta1);
            Check.unitIntervalOpen("Adam", "beta2", beta2);
            Check.nonNegative("Adam", "eps", eps);
            Check.nonNegative("Adam", "weight decay", weightDecay);
        }

        public Options withLearningRate(double v) {
            return new Options(v, beta1, beta2, eps, weightDecay, amsgrad);
        }

        public Options withBetas(double b1, double b2) {
            return new Options(learningRate, b1, b2, eps, weightDecay, amsgrad);
        }

        public Options withEps(double v) {
            return new Options(learningRate, beta1, beta2, v, weightDecay, amsgrad);
        }

        public Options withWeightDecay(double v) {
            return new Options(learningRate, beta1, beta2, eps, v, amsgrad);
        }

        public Options withAmsgrad(boolean v) {
            return new Options(learningRate, beta1, beta2, eps, weightDecay, v);
        }
    }

    private final Options options;

    /** Adam with PyTorch's defaults. */
    public Adam(List<Tensor> parameters) {
        this(parameters, Options.DEFAULTS);
    }

    /** Adam with PyTorch's defaults except the learning rate. */
    public Adam(List<Tensor> parameters, double learningRate) {
        this(parameters, Options.DEFAULTS.withLearningRate(learningRate));
    }

    public Adam(List<Tensor> parameters, Options options) {
        super(parameters, options.learningRate(), options.beta1(), options.beta2(), options.eps(), options.amsgrad(),
                options.weightDecay(), 0);
        this.options = options;
    }

    /** The hyper-parameters this optimizer was made with (the current learning rate is {@link #learningRate()}). */
    public Options options() {
        return options;
    }
}
