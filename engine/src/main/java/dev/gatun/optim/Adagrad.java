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
     * ε = 1e-10). Change one with a {@code with…} method, e.g. {@code DEFAULTS.withLearningRate(0.1)}.
     */
    public record Options(double learningRate, double learningRateDecay, double weightDecay,
                          double initialAccumulatorValue, double eps) {

        public static final Options DEFAULTS = new Options(1e-2, 0, 0, 0, 1e-10);

        public Options {
            Check.nonNegative("Adagrad", "learning rate", learningRate);
            Check.nonNegative("Adagrad", "learning-rate decay", learningRateDecay);
            Check.nonNegative("Adagrad", "weight decay", weightDecay);
            Check.nonNegative("Adagrad", "initial accumulator value", initialAccumulatorValue);
            Check.nonNegative("Adagrad", "eps", eps);
        }

        public Options withLearningRate(double v) {
            return new Options(v, learningRateDecay, weightDecay, initialAccumulatorValue, eps);
        }

        public Options withLearningRateDecay(double v) {
            return new Options(learningRate, v, weightDecay, initialAccumulatorValue, eps);
        }

        public Options withWeightDecay(double v) {
            return new Options(learningRate, learningRateDecay, v, initialAccumulatorValue, eps);
        }

        public Options withInitialAccumulatorValue(double v) {
            return new Options(learningRate, learningRateDecay, weightDecay, v, eps);
        }

        public Options withEps(double v) {
            return new Options(learningRate, learningRateDecay, weightDecay, initialAccumulatorValue, v);
        }
    }

    private final Options options;
    /** Sums of squared gradients s, made at a parameter's first step. */
    private final Tensor[] sums;

    /** Adagrad with PyTorch's defaults. */
    public Adagrad(List<Tensor> parameters) {
        this(parameters, Options.DEFAULTS);
    }

    /** Adagrad with PyTorch's defaults except the learning rate. */
    public Adagrad(List<Tensor> parameters, double learningRate) {
        this(parameters, Options.DEFAULTS.withLearningRate(learningRate));
    }

    public Adagrad(List<Tensor> parameters, Options options) {
        super(parameters, options.learningRate());
        this.options = options;
        this.sums = new Tensor[parameters.size()];
    }

    /** The hyper-parameters this optimizer was made with (the current learning rate is {@link #learningRate()}). */
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
