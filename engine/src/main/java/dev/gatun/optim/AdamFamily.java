package dev.gatun.optim;

import dev.gatun.backend.Updates;
import dev.gatun.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The update both {@link Adam} and {@link AdamW} run, differing only in how weight decay enters: as
 * an L2 term added to the gradient (Adam, {@code g ← g + λ·θ}) or decoupled, shrinking θ before the
 * step (AdamW, {@code θ ← θ·(1 − η·λ)}). The rule itself is written out on each class.
 */
abstract sealed class AdamFamily extends Optimizer permits Adam, AdamW {

    /**
     * First moments m, second moments v, and their running maxima v̂ₘₐₓ (AMSGrad only), per parameter,
     * as tensors in the optimizer's scope. One native pass ({@link Updates#adam}) reads and writes the
     * parameter, its moments and its gradient in place.
     */
    private final Tensor[] firstMoments;
    private final Tensor[] secondMoments;
    private final Tensor[] maxSecondMoments;

    /** The hyper-parameters: betas, ε, AMSGrad, and λ of the L2 term (Adam) or of the decoupled decay (AdamW). */
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final boolean amsgrad;
    private final double gradientWeightDecay;
    private final double decoupledWeightDecay;

    AdamFamily(List<Tensor> parameters, double learningRate, double beta1, double beta2, double eps, boolean amsgrad,
               double gradientWeightDecay, double decoupledWeightDecay) {
        super(parameters, learningRate);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.amsgrad = amsgrad;
        this.gradientWeightDecay = gradientWeightDecay;
        this.decoupledWeightDecay = decoupledWeightDecay;
        this.firstMoments = new Tensor[parameters.size()];
        this.secondMoments = new Tensor[parameters.size()];
        this.maxSecondMoments = new Tensor[parameters.size()];
    }

    @Override
    protected final void update(int index, Tensor parameter, Tensor gradient) {
        long size = parameter.numel();
        if (gradient.numel() != size) {
            throw new IllegalArgumentException("gradient of " + gradient.numel() + " elements for a parameter of " + size);
        }
        if (firstMoments[index] == null) {
            firstMoments[index] = newState(parameter);
            secondMoments[index] = newState(parameter);
            if (amsgrad) maxSecondMoments[index] = newState(parameter);
        }
        long t = parameterSteps(index);
        double c1 = 1 - Math.pow(beta1, t);
        double c2 = 1 - Math.pow(beta2, t);
        float stepSize = (float) (learningRate() / c1);
        float invSqrtC2 = (float) (1 / Math.sqrt(c2));
        float decay = decoupledWeightDecay != 0 ? (float) (1 - learningRate() * decoupledWeightDecay) : 1f;
        Tensor vMax = maxSecondMoments[index];
        Updates.adam(parameter.storage(), parameter.offset(), gradient.storageForReading(), gradient.offset(),
                firstMoments[index].storage(), secondMoments[index].storage(), vMax == null ? null : vMax.storage(),
                size, beta1, beta2, stepSize, invSqrtC2, (float) eps, decay, (float) gradientWeightDecay);
    }

    @Override
    protected final Map<String, Tensor[]> stateSlots() {
        Map<String, Tensor[]> m = new LinkedHashMap<>();
        m.put("exp_avg", firstMoments);
        m.put("exp_avg_sq", secondMoments);
        m.put("max_exp_avg_sq", maxSecondMoments);
        return m;
    }
}
