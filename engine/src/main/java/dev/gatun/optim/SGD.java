package dev.gatun.optim;

import dev.gatun.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * Stochastic gradient descent, as {@code torch.optim.SGD}:
 * <pre>
 *   g ← g + λ·θ                         (weight decay λ)
 *   b ← μ·b + (1 − τ)·g   (b = g at the first step)      (momentum μ, dampening τ)
 *   g ← g + μ·b if Nesterov, else g ← b                   (when μ ≠ 0)
 *   θ ← θ − η·g
 * </pre>
 */
public final class SGD extends Optimizer {

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    private final double momentum;
    private final double dampening;
    private final double weightDecay;
    private final boolean nesterov;
    private final Tensor[] buffers;

    /** Plain SGD. */
    public SGD(List<Tensor> parameters, double learningRate) {
        this(parameters, learningRate, 0, 0, 0, false);
    }

    public SGD(List<Tensor> parameters, double learningRate, double momentum, double dampening, double weightDecay,
               boolean nesterov) {
        super(parameters, learningRate);
        if (!(momentum >= 0)) throw new IllegalArgumentException("momentum must be >= 0, got " + momentum);
        if (!(weightDecay >= 0)) throw new IllegalArgumentException("weight decay must be >= 0, got " + weightDecay);
        if (nesterov && (momentum <= 0 || dampening != 0)) {
            throw new IllegalArgumentException("Nesterov momentum needs momentum > 0 and zero dampening, got momentum "
                    + momentum + ", dampening " + dampening);
        }
        this.momentum = momentum;
        this.dampening = dampening;
        this.weightDecay = weightDecay;
        this.nesterov = nesterov;
        this.buffers = new Tensor[parameters.size()];
    }

    @Override
    protected void update(int index, Tensor parameter, Tensor gradient) {
        MemorySegment p = parameter.storage();
        MemorySegment g = gradient.storage();
        long po = parameter.offset();
        long go = gradient.offset();
        long n = parameter.numel();
        float lr = (float) learningRate();
        float wd = (float) weightDecay;
        if (momentum == 0) {
            for (long i = 0; i < n; i++) {
                float pv = p.getAtIndex(F, po + i);
                float gv = g.getAtIndex(F, go + i) + wd * pv;
                p.setAtIndex(F, po + i, pv - lr * gv);
            }
            return;
        }
        boolean first = buffers[index] == null;
        if (first) {
            buffers[index] = newState(parameter);
        }
        MemorySegment b = buffers[index].storage();
        float mu = (float) momentum;
        float damp = (float) (1 - dampening);
        for (long i = 0; i < n; i++) {
            float pv = p.getAtIndex(F, po + i);
            float gv = g.getAtIndex(F, go + i) + wd * pv;
            float bv = first ? gv : mu * b.getAtIndex(F, i) + damp * gv;
            b.setAtIndex(F, i, bv);
            float step = nesterov ? gv + mu * bv : bv;
            p.setAtIndex(F, po + i, pv - lr * step);
        }
    }
}
