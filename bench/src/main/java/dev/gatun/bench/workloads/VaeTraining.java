package dev.gatun.bench.workloads;

import dev.gatun.nn.VAE;
import dev.gatun.optim.Adam;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.Arrays;
import java.util.Map;

/**
 * {@code vae_train_b128}: the MNIST VAE ({@code new VAE(784, 400, 20)}) on a fixed batch {@code x} [128, 784] of
 * pixel intensities in [0, 1]; each step is zero grads, encoder, z = μ + exp(log σ² / 2)·ε, decoder, the
 * negative ELBO as {@link VAE#loss(Tensor, VAE.Output)} computes it (binary cross-entropy with logits summed
 * over the pixels plus the closed-form KL divergence, each the mean over the batch), backward, Adam 1e-3.
 * The noise ε [128, 20] is the exchange's {@code eps}, the same at every step and in every system, so that the
 * first two losses agree exactly; parameters are named as {@code bench/python/workloads.py}'s {@code VAE} names
 * them.
 */
final class VaeTraining implements Workload {

    private final String name;
    private final VAE model;
    private final Adam optimizer;
    private final Scope data = Scope.detached();
    private final Tensor x;
    private final Tensor eps;
    private final double flops;

    VaeTraining(String name, Exchange init) {
        this.name = name;
        Exchange.Array xs = init.get("x");
        Exchange.Array es = init.get("eps");
        if (xs.shape().length != 2 || es.shape().length != 2 || xs.shape()[0] != es.shape()[0]) {
            throw new IllegalArgumentException(name + ": x " + Arrays.toString(xs.shape()) + " and eps "
                    + Arrays.toString(es.shape()) + " must be [N, inputs] and [N, latent]");
        }
        model = new VAE(xs.shape()[1], 400, es.shape()[1]);
        for (Map.Entry<String, Tensor> p : model.namedParameters().entrySet()) {
            p.getValue().copyFrom(init.get(p.getKey()).values());
        }
        x = Tensor.zeros(data, xs.shape()).copyFrom(xs.values());
        eps = Tensor.zeros(data, es.shape()).copyFrom(es.values());
        optimizer = new Adam(model.parameters(), 1e-3);
        flops = trainFlops(xs.shape()[0], xs.shape()[1], 400, es.shape()[1]);
    }

    /**
     * FLOPs of one training step, as bench/python/workloads.py counts them: the five linear layers' forward,
     * backward twice that but for the first layer's input gradient.
     */
    static double trainFlops(double n, double inputs, double hidden, double latent) {
        double first = 2 * n * inputs * hidden;
        double forward = first + 2 * (2 * n * hidden * latent) + 2 * n * latent * hidden + 2 * n * hidden * inputs;
        return 3 * forward - first;
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
        return Workload.trainStep(optimizer, () -> {
            VAE.Encoding e = model.encode(x);
            Tensor z = VAE.reparameterize(e.mu(), e.logvar(), eps);
            return VAE.loss(x, new VAE.Output(model.decode(z), e.mu(), e.logvar(), z)).total();
        });
    }

    @Override
    public void close() {
        optimizer.close();
        model.close();
        data.close();
    }
}
