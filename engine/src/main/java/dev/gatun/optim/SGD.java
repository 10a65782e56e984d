package dev.gatun.optim;

import dev.gatun.backend.Updates;
import dev.gatun.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * Stochastic gradient descent, as {@code torch.optim.SGD} (torch 1.13, single-tensor loop). For
 * parameter θ with gradient g, learning rate η, momentum μ, dampening τ and weight decay λ:
 * <pre>
 *   g ← g + λ·θ
 *   if μ ≠ 0:
 *       b ← g                      at the parameter's first step
 *       b ← μ·b + (1 − τ)·g        afterwards
 *       g ← g + μ·b                if Nesterov, else g ← b
 *   θ ← θ − η·g
 * </pre>
 * Everything is float32, each operation rounded in PyTorch's order.
 */
public final class SGD extends Optimizer {

    /**
     * SGD's hyper-parameters. There is no default learning rate (PyTorch requires one): start from
     * {@link #of(double)} and add what you need, e.g. {@code SGD.Options.of(0.1).withMomentum(0.9)}.
     *
     * @param nesterov Nesterov momentum (needs momentum > 0 and zero dampening)
     */
    public record Options(double learningRate, double momentum, double dampening, double weightDecay,
                          boolean nesterov) {

        public Options {
            Check.nonNegative("SGD", "learning rate", learningRate);
            Check.nonNegative("SGD", "momentum", momentum);
            Check.unitInterval("SGD", "dampening", dampening);
            Check.nonNegative("SGD", "weight decay", weightDecay);
            if (nesterov && (momentum <= 0 || dampening != 0)) {
                throw new IllegalArgumentException("SGD: Nesterov momentum needs momentum > 0 and zero dampening, got"
                        + " momentum " + momentum + ", dampening " + dampening);
            }
        }

        /** Plain SGD at learning rate {@code learningRate}. */
        public static Options of(double learningRate) {
            return new Options(learningRate, 0, 0, 0, false);
        }

        public Options withLearningRate(double v) {
            return new Options(v, momentum, dampening, weightDecay, nesterov);
        }

        public Options withMomentum(double v) {
            return new Options(learningRate, v, dampening, weightDecay, nesterov);
        }

        public Options withDampening(double v) {
            return new Options(learningRate, momentum, v, weightDecay, nesterov);
        }

        public Options withWeightDecay(double v) {
            return new Options(learningRate, momentum, dampening, v, nesterov);
        }

        public Options withNesterov(boolean v) {
            return new Options(learningRate, momentum, dampening, weightDecay, v);
        }
    }

    private final Options options;
    /** Momentum buffers b, made at a parameter's first step. */
    private final Tensor[] buffers;

    /** Plain SGD. */
    public SGD(List<Tensor> parameters, double learningRate) {
        this(parameters, Options.of(learningRate));
    }

    public SGD(List<Tensor> parameters, double learningRate, double momentum, double dampening, double weightDecay,
               boolean nesterov) {
        this(parameters, new Options(learningRate, momentum, dampening, weightDecay, nesterov));
    }

    public SGD(List<Tensor> parameters, Options options) {
        super(parameters, options.learningRate());
        this.options = options;
        this.buffers = new Tensor[parameters.size()];
    }

    /** The hyper-parameters this optimizer was made with (the current learning rate is {@link #learningRate()}). */
    public Options options() {
        return options;
    }

    @Override
    protected void update(int index, Tensor parameter, Tensor gradient) {
        boolean first = false;
        if (options.momentum() != 0 && buffers[index] == null) {
            buffers[index] = newState(parameter);
            first = true;
        }
        Tensor buffer = buffers[index];
        Updates.sgd(parameter.storage(), parameter.offset(), gradient.storageForReading(), gradient.offset(),
                buffer == null ? null : buffer.storage(), parameter.numel(), (float) learningRate(),
                (float) options.weightDecay(), (float) options.momentum(), (float) (1 - options.dampening()), first,
                options.nesterov());
    }

    @Override
    protected Map<String, Tensor[]> stateSlots() {
        return Map.of("momentum_buffer", buffers);
    }
}
