package dev.gatun.optim;

import dev.gatun.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * RMSprop (Hinton's lecture 6e), as {@code torch.optim.RMSprop} (torch 1.13, single-tensor loop). Each
 * parameter θ keeps a running mean of squared gradients v, and when centered a running mean of
 * gradients m, and with momentum a buffer b (all starting at zero). With learning rate η, smoothing
 * α, weight decay λ and momentum μ:
 * <pre>
 *   g ← g + λ·θ
 *   v ← α·v + (1 − α)·g²
 *   if centered:  m ← α·m + (1 − α)·g;   d = √(v − m²) + ε
 *   else:                                d = √v + ε              (ε outside the square root)
 *   if μ > 0:     b ← μ·b + g/d;         θ ← θ − η·b
 *   else:                                θ ← θ − η·g/d
 * </pre>
 * Everything is float32, each operation rounded in PyTorch's order.
 */
public final class RMSprop extends Optimizer {

    /**
     * RMSprop's hyper-parameters; {@link #DEFAULTS} are PyTorch's (η = 1e-2, α = 0.99, ε = 1e-8, no
     * weight decay, no momentum, not centered). Change one with a {@code with…} method.
     *
     * @param learningRate η, finite and {@code >= 0}
     * @param alpha        α, the smoothing of the running means, in [0, 1]
     * @param eps          ε, added to the denominator outside the square root, finite and {@code >= 0}
     * @param weightDecay  λ of the L2 penalty added to the gradient, finite and {@code >= 0}
     * @param momentum     μ, finite and {@code >= 0}; 0 keeps no momentum buffer
     * @param centered     normalise by the variance of the gradient (v − m²) instead of its raw second moment
     */
    public record Options(double learningRate, double alpha, double eps, double weightDecay, double momentum,
                          boolean centered) {

        /** PyTorch's defaults, η = 1e-2, α = 0.99, ε = 1e-8, no weight decay, no momentum, not centered. */
        public static final Options DEFAULTS = new Options(1e-2, 0.99, 1e-8, 0, 0, false);

        /**
         * Checks the hyper-parameters.
         *
         * @throws IllegalArgumentException if a value is out of its range; the message names the value
         */
        public Options {
            Check.nonNegative("RMSprop", "learning rate", learningRate);
            Check.unitInterval("RMSprop", "alpha", alpha);
            Check.nonNegative("RMSprop", "eps", eps);
            Check.nonNegative("RMSprop", "weight decay", weightDecay);
            Check.nonNegative("RMSprop", "momentum", momentum);
        }

        /**
         * A copy with another learning rate (the initial one of an optimizer made from these options).
         *
         * @param v η, finite and {@code >= 0}
         * @return new options with that change; this record is unchanged
         * @throws IllegalArgumentException if the new value is out of its range
         */
        public Options withLearningRate(double v) {
            return new Options(v, alpha, eps, weightDecay, momentum, centered);
        }

        /**
         * A copy with another smoothing constant.
         *
         * @param v α, in [0, 1]
         * @return new options with that change; this record is unchanged
         * @throws IllegalArgumentException if the new value is out of its range
         */
        public Options withAlpha(double v) {
            return new Options(learningRate, v, eps, weightDecay, momentum, centered);
        }

        /**
         * A copy with another ε, the term that keeps the denominator away from zero.
         *
         * @param v ε, finite and {@code >= 0}
         * @return new options with that change; this record is unchanged
         * @throws IllegalArgumentException if the new value is out of its range
         */
        public Options withEps(double v) {
            return new Options(learningRate, alpha, v, weightDecay, momentum, centered);
        }

        /**
         * A copy with another weight decay (an L2 penalty added to the gradient).
         *
         * @param v λ, finite and {@code >= 0}
         * @return new options with that change; this record is unchanged
         * @throws IllegalArgumentException if the new value is out of its range
         */
        public Options withWeightDecay(double v) {
            return new Options(learningRate, alpha, eps, v, momentum, centered);
        }

        /**
         * A copy with another momentum.
         *
         * @param v μ, finite and {@code >= 0}; 0 turns momentum off
         * @return new options with that change; this record is unchanged
         * @throws IllegalArgumentException if the new value is out of its range
         */
        public Options withMomentum(double v) {
            return new Options(learningRate, alpha, eps, weightDecay, v, centered);
        }

        /**
         * A copy that is centered or not.
         *
         * @param v whether to normalise by the variance of the gradient
         * @return new options with that change; this record is unchanged
         */
        public Options withCentered(boolean v) {
            return new Options(learningRate, alpha, eps, weightDecay, momentum, v);
        }
    }

    private final Options options;
    /** Running means of g² (v), of g (m, when centered) and momentum buffers (b, when μ > 0). */
    private final Tensor[] squareAverages;
    private final Tensor[] gradientAverages;
    private final Tensor[] buffers;

    /**
     * RMSprop with PyTorch's defaults ({@link Options#DEFAULTS}).
     *
     * @param parameters the tensors to update: contiguous leaf tensors that require gradients (the list
     *                   is copied; the tensors stay the caller's)
     * @throws IllegalArgumentException if {@code parameters} is null or empty, or holds a tensor that is
     *                                  null, not contiguous, or not a leaf that requires a gradient
     */
    public RMSprop(List<Tensor> parameters) {
        this(parameters, Options.DEFAULTS);
    }

    /**
     * RMSprop with PyTorch's defaults except the learning rate.
     *
     * @param parameters   the tensors to update: contiguous leaf tensors that require gradients (the list
     *                     is copied; the tensors stay the caller's)
     * @param learningRate η, finite and {@code >= 0}
     * @throws IllegalArgumentException if {@code parameters} is null or empty, or holds a tensor that is
     *                                  null, not contiguous, or not a leaf that requires a gradient; or if
     *                                  the learning rate is negative or not finite
     */
    public RMSprop(List<Tensor> parameters, double learningRate) {
        this(parameters, Options.DEFAULTS.withLearningRate(learningRate));
    }

    /**
     * RMSprop with the given hyper-parameters.
     *
     * @param parameters the tensors to update: contiguous leaf tensors that require gradients (the list
     *                   is copied; the tensors stay the caller's)
     * @param options    the hyper-parameters; {@link #learningRate()} starts at
     *                   {@code options.learningRate()}
     * @throws IllegalArgumentException if {@code parameters} is null or empty, or holds a tensor that is
     *                                  null, not contiguous, or not a leaf that requires a gradient
     */
    public RMSprop(List<Tensor> parameters, Options options) {
        super(parameters, options.learningRate());
        this.options = options;
        this.squareAverages = new Tensor[parameters.size()];
        this.gradientAverages = new Tensor[parameters.size()];
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
        boolean centered = options.centered();
        boolean withMomentum = options.momentum() > 0;
        if (squareAverages[index] == null) {
            squareAverages[index] = newState(parameter);
            if (centered) gradientAverages[index] = newState(parameter);
            if (withMomentum) buffers[index] = newState(parameter);
        }
        float lr = (float) learningRate();
        float alpha = (float) options.alpha();
        float oneMinusAlpha = (float) (1 - options.alpha());
        float eps = (float) options.eps();
        float wd = (float) options.weightDecay();
        float mu = (float) options.momentum();
        updateInChunks(parameter, gradient, (p, g, state, n) -> {
            float[] v = state[0], m = state[1], b = state[2];
            for (int i = 0; i < n; i++) {
                float pv = p[i];
                float gv = g[i] + wd * pv;
                float vv = alpha * v[i] + oneMinusAlpha * gv * gv;
                v[i] = vv;
                float d;
                if (centered) {
                    float mv = alpha * m[i] + oneMinusAlpha * gv;
                    m[i] = mv;
                    d = (float) Math.sqrt(vv - mv * mv) + eps;
                } else {
                    d = (float) Math.sqrt(vv) + eps;
                }
                if (withMomentum) {
                    float bv = mu * b[i] + gv / d;
                    b[i] = bv;
                    p[i] = pv - lr * bv;
                } else {
                    p[i] = pv + (-lr * gv) / d;
                }
            }
        }, squareAverages[index], gradientAverages[index], buffers[index]);
    }

    @Override
    protected Map<String, Tensor[]> stateSlots() {
        Map<String, Tensor[]> m = new LinkedHashMap<>();
        m.put("square_avg", squareAverages);
        m.put("grad_avg", gradientAverages);
        m.put("momentum_buffer", buffers);
        return m;
    }
}
