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
     * @param centered normalise by the variance of the gradient (v − m²) instead of its raw second moment
     */
    public record Options(double learningRate, double alpha, double eps, double weightDecay, double momentum,
                          boolean centered) {

        public static final Options DEFAULTS = new Options(1e-2, 0.99, 1e-8, 0, 0, false);

        public Options {
            Check.nonNegative("RMSprop", "learning rate", learningRate);
            Check.unitInterval("RMSprop", "alpha", alpha);
            Check.nonNegative("RMSprop", "eps", eps);
            Check.nonNegative("RMSprop", "weight decay", weightDecay);
            Check.nonNegative("RMSprop", "momentum", momentum);
        }

        public Options withLearningRate(double v) {
            return new Options(v, alpha, eps, weightDecay, momentum, centered);
        }

        public Options withAlpha(double v) {
            return new Options(learningRate, v, eps, weightDecay, momentum, centered);
        }

        public Options withEps(double v) {
            return new Options(learningRate, alpha, v, weightDecay, momentum, centered);
        }

        public Options withWeightDecay(double v) {
            return new Options(learningRate, alpha, eps, v, momentum, centered);
        }

        public Options withMomentum(double v) {
            return new Options(learningRate, alpha, eps, weightDecay, v, centered);
        }

        public Options withCentered(boolean v) {
            return new Options(learningRate, alpha, eps, weightDecay, momentum, v);
        }
    }

    private final Options options;
    /** Running means of g² (v), of g (m, when centered) and momentum buffers (b, when μ > 0). */
    private final Tensor[] squareAverages;
    private final Tensor[] gradientAverages;
    private final Tensor[] buffers;

    /** RMSprop with PyTorch's defaults. */
    public RMSprop(List<Tensor> parameters) {
        this(parameters, Options.DEFAULTS);
    }

    /** RMSprop with PyTorch's defaults except the learning rate. */
    public RMSprop(List<Tensor> parameters, double learningRate) {
        this(parameters, Options.DEFAULTS.withLearningRate(learningRate));
    }

    public RMSprop(List<Tensor> parameters, Options options) {
        super(parameters, options.learningRate());
        this.options = options;
        this.squareAverages = new Tensor[parameters.size()];
        this.gradientAverages = new Tensor[parameters.size()];
        this.buffers = new Tensor[parameters.size()];
    }

    /** The hyper-parameters this optimizer was made with (the current learning rate is {@link #learningRate()}). */
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
