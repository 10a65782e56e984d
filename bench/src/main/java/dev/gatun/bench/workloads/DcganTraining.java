package dev.gatun.bench.workloads;

import dev.gatun.nn.DCGAN;
import dev.gatun.optim.Adam;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.Arrays;
import java.util.Map;

/**
 * {@code dcgan_train_b64}: the MNIST DCGAN ({@link DCGAN}) on a fixed batch of "real" images {@code x}
 * [64, 1, 28, 28] in [−1, 1] and fixed noise {@code z} [64, 100], both from the exchange, so that every system
 * draws the same z; each step is {@link DCGAN#trainStep(Tensor, Tensor, dev.gatun.optim.Optimizer,
 * dev.gatun.optim.Optimizer)}: G(z); one discriminator update (zero grads, BCE with logits of D(x) against 1
 * plus of D(G(z)) detached against 0, backward, Adam), then one generator update through the updated, frozen
 * discriminator (BCE of D(G(z)) against 1); Adam 2e-4 with betas (0.5, 0.999) for each network. A step's loss
 * is the discriminator's loss plus the generator's. Parameters and batch-norm buffers are named as
 * {@code bench/python/workloads.py}'s {@code DCGAN} names them.
 */
final class DcganTraining implements Workload {

    private final String name;
    private final DCGAN model;
    private final Adam discriminatorOptimizer;
    private final Adam generatorOptimizer;
    private final Scope data = Scope.detached();
    private final Tensor x;
    private final Tensor z;
    private final double flops;

    DcganTraining(String name, Exchange init) {
        this.name = name;
        Exchange.Array xs = init.get("x");
        Exchange.Array zs = init.get("z");
        if (zs.shape().length != 2 || xs.shape().length != 4 || zs.shape()[0] != xs.shape()[0]) {
            throw new IllegalArgumentException(name + ": x " + Arrays.toString(xs.shape()) + " and z "
                    + Arrays.toString(zs.shape()) + " must be [N, 1, 28, 28] and [N, noise]");
        }
        model = new DCGAN(zs.shape()[1]);
        for (Map.Entry<String, Tensor> p : model.namedParameters().entrySet()) {
            p.getValue().copyFrom(init.get(p.getKey()).values());
        }
        for (Map.Entry<String, Tensor> b : model.namedBuffers().entrySet()) {
            b.getValue().copyFrom(init.get(b.getKey()).values());
        }
        x = Tensor.zeros(data, xs.shape()).copyFrom(xs.values());
        z = Tensor.zeros(data, zs.shape()).copyFrom(zs.values());
        Adam.Options options = Adam.Options.DEFAULTS.withLearningRate(2e-4).withBetas(0.5, 0.999);
        discriminatorOptimizer = new Adam(model.discriminatorNetwork().parameters(), options);
        generatorOptimizer = new Adam(model.generatorNetwork().parameters(), options);
        flops = trainFlops(xs.shape()[0], zs.shape()[1]);
    }

    /**
     * FLOPs of one step, as bench/python/workloads.py counts them: the generator's forward and backward (twice
     * the forward but for its first layer's input gradient); the discriminator's two passes of its own update
     * (real, and generated and detached), each with every weight gradient and the input gradient of every
     * layer but the first; its pass of the generator's update, frozen, with every input gradient (the first
     * layer's included: it reaches the generated images) and no weight gradient.
     */
    static double trainFlops(double n, double noise) {
        double gLinear = 2 * n * noise * 6272;
        double g = gLinear + 2 * n * 128 * 49 * 64 * 16 + 2 * n * 64 * 196 * 16;
        double dConv1 = 2 * n * 64 * 196 * 16;
        double d = dConv1 + 2 * n * 128 * 49 * 64 * 16 + 2 * n * 6272;
        return 3 * g - gLinear + 2 * (3 * d - dConv1) + 2 * d;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public double flops() {
        return flops;
    }

    @Override
    public float step() {
        try (Scope step = Scope.open()) {
            DCGAN.Step s = model.trainStep(x, z, discriminatorOptimizer, generatorOptimizer);
            return s.discriminatorLoss().item() + s.generatorLoss();
        }
    }

    @Override
    public void close() {
        discriminatorOptimizer.close();
        generatorOptimizer.close();
        model.close();
        data.close();
    }
}
