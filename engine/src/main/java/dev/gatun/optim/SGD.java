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
     * @param learningRate η, finite and {@code >= 0}
     * @param momentum     μ, finite and {@code >= 0}; 0 keeps no momentum buffer
     * @param dampening    τ in [0, 1]: the share of the new gradient left out of the momentum buffer
     * @param weightDecay  λ of the L2 penalty added to the gradient, finite and {@code >= 0}
     * @param nesterov     Nesterov momentum (needs momentum {@code > 0} and zero dampening)
     */
    public record Options(double learningRate, double momentum, double dampening, double weightDecay,
                          boolean nesterov) {

        /**
         * Checks the hyper-parameters.
         *
         * @throws IllegalArgumentException if a value is out of its range (the message names it and its
         *                                  value), or Nesterov momentum is asked for without momentum or
         *                                  with dampening
         */
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

        /**
         * Plain SGD: no momentum, no dampening, no weight decay.
         *
         * @param learningRate η, finite and {@code >= 0}
         * @return the options
         * @throws IllegalArgumentException if the learning rate is negative or not finite
         */
        public static Options of(double learningRate) {
            return new Options(learningRate, 0, 0, 0, false);
        }

        /**
         * A copy with another learning rate (the initial one of an optimizer made from these options).
         *
         * @param v η, finite and {@code >= 0}
         * @return new options with that change; this record is unchanged
         * @throws IllegalArgumentException if the new value is out of its range
         */
        public Options withLearningRate(double v) {
            return new Options(v, momentum, dampening, weightDecay, nesterov);
        }

        /**
         * A copy with another momentum.
         *
         * @param v μ, finite and {@code >= 0}; 0 turns momentum off
         * @return new options with that change; this record is unchanged
         * @throws IllegalArgumentException if the new value is out of its range, or is 0 while Nesterov momentum is on
         */
        public Options withMomentum(double v) {
            return new Options(learningRate, v, dampening, weightDecay, nesterov);
        }

        /**
         * A copy with another dampening.
         *
         * @param v τ, in [0, 1]
         * @return new options with that change; this record is unchanged
         * @throws IllegalArgumentException if the new value is out of its range, or is not 0 while Nesterov
         *                                  momentum is on
         */
        public Options withDampening(double v) {
            return new Options(learningRate, momentum, v, weightDecay, nesterov);
        }

        /**
         * A copy with another weight decay (an L2 penalty added to the gradient).
         *
         * @param v λ, finite and {@code >= 0}
         * @return new options with that change; this record is unchanged
         * @throws IllegalArgumentException if the new value is out of its range
         */
        public Options withWeightDecay(double v) {
            return new Options(learningRate, momentum, dampening, v, nesterov);
        }

        /**
         * A copy with Nesterov momentum on or off.
         *
         * @param v whether to use Nesterov momentum
         * @return new options with that change; this record is unchanged
         * @throws IllegalArgumentException if {@code v} is true and the momentum is 0 or the dampening is not
         */
        public Options withNesterov(boolean v) {
            return new Options(learningRate, momentum, dampening, weightDecay, v);
        }
    }

    private final Options options;
    /** Momentum buffers b, made at a parameter's first step. */
    private final Tensor[] buffers;

    /**
     * Plain SGD: no momentum, no weight decay.
     *
     * @param parameters   the tensors to update: contiguous leaf tensors that require gradients (the list
     *                     is copied; the tensors stay the caller's)
     * @param learningRate η, finite and {@code >= 0}
     * @throws IllegalArgumentException if {@code parameters} is null or empty, or holds a tensor that is
     *                                  null, not contiguous, or not a leaf that requires a gradient; or if
     *                                  the learning rate is negative or not finite
     */
    public SGD(List<Tensor> parameters, double learningRate) {
        this(parameters, Options.of(learningRate));
    }

    /**
     * SGD with every hyper-parameter given, as {@link Options#Options(double, double, double, double, boolean)}.
     *
     * @param parameters   the tensors to update: contiguous leaf tensors that require gradients (the list
     *                     is copied; the tensors stay the caller's)
     * @param learningRate η, finite and {@code >= 0}
     * @param momentum     μ, finite and {@code >= 0}
     * @param dampening    τ, in [0, 1]
     * @param weightDecay  λ, finite and {@code >= 0}
     * @param nesterov     whether to use Nesterov momentum
     * @throws IllegalArgumentException if {@code parameters} is null or empty, or holds a tensor that is
     *                                  null, not contiguous, or not a leaf that requires a gradient; or if a
     *                                  hyper-parameter is out of its range
     */
    public SGD(List<Tensor> parameters, double learningRate, double momentum, double dampening, double weightDecay,
               boolean nesterov) {
        this(parameters, new Options(learningRate, momentum, dampening, weightDecay, nesterov));
    }

    /**
     * SGD with the given hyper-parameters.
     *
     * @param parameters the tensors to update: contiguous leaf tensors that require gradients (the list
     *                   is copied; the tensors stay the caller's)
     * @param options    the hyper-parameters; {@link #learningRate()} starts at
     *                   {@code options.learningRate()}
     * @throws IllegalArgumentException if {@code parameters} is null or empty, or holds a tensor that is
     *                                  null, not contiguous, or not a leaf that requires a gradient
     */
    public SGD(List<Tensor> parameters, Options options) {
        super(parameters, options.learningRate());
        this.options = options;
        this.buffers = new Tensor[parameters.size()];
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
