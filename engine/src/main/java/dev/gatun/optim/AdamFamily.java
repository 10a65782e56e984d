package dev.gatun.optim;

import dev.gatun.tensor.Tensor;
import java.util.List;

/**
 * The update both {@link Adam} and {@link AdamW} run, differing only in how weight decay enters: as
 * an L2 term added to the gradient (Adam, {@code g ← g + λ·θ}) or decoupled, shrinking θ before the
 * step (AdamW, {@code θ ← θ·(1 − η·λ)}). The rule itself is written out on each class.
 */
abstract sealed class AdamFamily extends Optimizer permits Adam, AdamW {

    /**
     * First moments m, second moments v, and their running maxima v̂ₘₐₓ (AMSGrad only), per parameter.
     * They live on the Java heap: only the parameter and its gradient travel between native memory and
     * the update loop (one bulk copy each way), which reads and writes the moments in place. The loop
     * indexes every array alike, so that C2 vectorises it.
     */
    private final float[][] firstMoments;
    private final float[][] secondMoments;
    private final float[][] maxSecondMoments;

    /**
     * Heap copies of the parameter being updated and its gradient, as large as the largest parameter;
     * an optimizer is used by one thread at a time.
     */
    private float[] pCopy = new float[0];
    private float[] gCopy = new float[0];

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
        this.firstMoments = new float[parameters.size()][];
        this.secondMoments = new float[parameters.size()][];
        this.maxSecondMoments = new float[parameters.size()][];
    }

    @Override
    protected final void update(int index, Tensor parameter, Tensor gradient) {
        long size = parameter.numel();
        if (gradient.numel() != size) {
            throw new IllegalArgumentException("gradient of " + gradient.numel() + " elements for a parameter of " + size);
        }
        if (firstMoments[index] == null) {
            if (size > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("Adam keeps its moments in Java arrays; a parameter of " + size
                        + " elements is larger than one can hold");
            }
            firstMoments[index] = new float[(int) size];
            secondMoments[index] = new float[(int) size];
            if (amsgrad) maxSecondMoments[index] = new float[(int) size];
        }
        float[] m = firstMoments[index];
        float[] v = secondMoments[index];
        float[] vMax = maxSecondMoments[index];
        long t = parameterSteps(index);
        double c1 = 1 - Math.pow(beta1, t);
        double c2 = 1 - Math.pow(beta2, t);
        float stepSize = (float) (learningRate() / c1);
        float invSqrtC2 = (float) (1 / Math.sqrt(c2));
        boolean decoupled = decoupledWeightDecay != 0;
        float decay = decoupled ? (float) (1 - learningRate() * decoupledWeightDecay) : 1f;
        float oneMinusBeta1 = (float) (1 - this.beta1);
        float oneMinusBeta2 = (float) (1 - this.beta2);
        float beta1 = (float) this.beta1;
        float beta2 = (float) this.beta2;
        float eps = (float) this.eps;
        float wd = (float) gradientWeightDecay;
        int n = (int) size;
        if (pCopy.length < n) {
            pCopy = new float[n];
            gCopy = new float[n];
        }
        float[] p = pCopy;
        float[] g = gCopy;
        load(parameter, 0, p, n);
        load(gradient, 0, g, n);
        if (amsgrad) {
            for (int i = 0; i < n; i++) {
                float pv = p[i] * decay;
                float gv = g[i] + wd * pv;
                float mv = beta1 * m[i] + oneMinusBeta1 * gv;
                float vv = beta2 * v[i] + oneMinusBeta2 * gv * gv;
                m[i] = mv;
                v[i] = vv;
                vv = Math.max(vMax[i], vv);
                vMax[i] = vv;
                p[i] = pv - stepSize * mv / ((float) Math.sqrt(vv) * invSqrtC2 + eps);
            }
        } else {
            // Without the AMSGrad branch, so that the loop vectorises.
            for (int i = 0; i < n; i++) {
                float pv = p[i] * decay;
                float gv = g[i] + wd * pv;
                float mv = beta1 * m[i] + oneMinusBeta1 * gv;
                float vv = beta2 * v[i] + oneMinusBeta2 * gv * gv;
                m[i] = mv;
                v[i] = vv;
                p[i] = pv - stepSize * mv / ((float) Math.sqrt(vv) * invSqrtC2 + eps);
            }
        }
        store(p, n, parameter, 0);
    }
}
