package dev.gatun.optim;

import dev.gatun.tensor.Tensor;
import java.util.List;

/**
 * The update both {@link Adam} and {@link AdamW} run, differing only in how weight decay enters: as
 * an L2 term added to the gradient (Adam, {@code g ← g + λ·θ}) or decoupled, shrinking θ before the
 * step (AdamW, {@code θ ← θ·(1 − η·λ)}). The rule itself is written out on each class.
 */
abstract sealed class AdamFamily extends Optimizer permits Adam, AdamW {

    /** First moments m, second moments v, and their running maxima v̂ₘₐₓ (AMSGrad only). */
    private final Tensor[] firstMoments;
    private final Tensor[] secondMoments;
    private final Tensor[] maxSecondMoments;

    AdamFamily(List<Tensor> parameters, double learningRate) {
        super(parameters, learningRate);
        this.firstMoments = new Tensor[parameters.size()];
        this.secondMoments = new Tensor[parameters.size()];
        this.maxSecondMoments = new Tensor[parameters.size()];
    }

    abstract double beta1();

    abstract double beta2();

    abstract double eps();

    abstract boolean amsgrad();

    /** λ of the L2 term added to the gradient (0 for AdamW). */
    abstract double gradientWeightDecay();

    /** λ of the decoupled shrinking of θ (0 for Adam). */
    abstract double decoupledWeightDecay();

    @Override
    protected final void update(int index, Tensor parameter, Tensor gradient) {
        boolean amsgrad = amsgrad();
        if (firstMoments[index] == null) {
            firstMoments[index] = newState(parameter);
            secondMoments[index] = newState(parameter);
            if (amsgrad) maxSecondMoments[index] = newState(parameter);
        }
        long t = parameterSteps(index);
        double c1 = 1 - Math.pow(beta1(), t);
        double c2 = 1 - Math.pow(beta2(), t);
        float stepSize = (float) (learningRate() / c1);
        float sqrtC2 = (float) Math.sqrt(c2);
        boolean decoupled = decoupledWeightDecay() != 0;
        float decay = (float) (1 - learningRate() * decoupledWeightDecay());
        float beta1 = (float) beta1();
        float beta2 = (float) beta2();
        float oneMinusBeta1 = (float) (1 - beta1());
        float oneMinusBeta2 = (float) (1 - beta2());
        float eps = (float) eps();
        float wd = (float) gradientWeightDecay();
        updateInChunks(parameter, gradient, (p, g, state, n) -> {
            float[] m = state[0], v = state[1], vMax = state[2];
            for (int i = 0; i < n; i++) {
                float pv = decoupled ? p[i] * decay : p[i];
                float gv = g[i] + wd * pv;
                float mv = beta1 * m[i] + oneMinusBeta1 * gv;
                float vv = beta2 * v[i] + oneMinusBeta2 * gv * gv;
                m[i] = mv;
                v[i] = vv;
                if (amsgrad) {
                    vv = Math.max(vMax[i], vv);
                    vMax[i] = vv;
                }
                float denominator = (float) Math.sqrt(vv) / sqrtC2 + eps;
                p[i] = pv + (-stepSize * mv) / denominator;
            }
        }, firstMoments[index], secondMoments[index], maxSecondMoments[index]);
    }
}
