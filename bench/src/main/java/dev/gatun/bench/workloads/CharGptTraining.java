package dev.gatun.bench.workloads;

import dev.gatun.nn.GPT;
import dev.gatun.ops.Loss;
import dev.gatun.optim.AdamW;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.Arrays;
import java.util.Map;

/**
 * {@code chargpt_train_b16_t128}: the character GPT ({@link GPT.Config#charGpt()}) on a fixed batch of token
 * windows [B, T] with the next token of every position as its label; each step is zero grads, forward,
 * cross-entropy over all B·T positions, backward, AdamW (learning rate 3e-4, PyTorch's other defaults).
 * Parameters, windows {@code x} and labels {@code y} come from the exchange PyTorch wrote
 * ({@code bench/python/workloads.py}'s {@code CharGPT}, the same parameter names). Turning dropout off puts
 * the model in evaluation mode, which stops every dropout (embeddings, attention weights, residual branches,
 * feed-forward).
 */
final class CharGptTraining implements Workload {

    private final String name;
    private final GPT model;
    private final AdamW optimizer;
    private final Scope data = Scope.detached();
    private final Tensor x;
    private final int[] y;
    private final double flops;

    CharGptTraining(String name, Exchange init) {
        this.name = name;
        this.model = new GPT(GPT.Config.charGpt());
        load(model, init);
        Exchange.Array xs = init.get("x");
        x = Tensor.zeros(data, xs.shape()).copyFrom(xs.values());
        y = init.labels("y");
        if (y.length != x.numel()) {
            throw new IllegalArgumentException(name + ": " + y.length + " labels for windows of shape "
                    + Arrays.toString(xs.shape()));
        }
        optimizer = new AdamW(model.parameters(), 3e-4);
        flops = trainFlops(model.config(), xs.shape()[0], xs.shape()[1]);
    }

    /** Copies every parameter of the model from the exchange array of the same name. */
    static void load(GPT model, Exchange init) {
        for (Map.Entry<String, Tensor> p : model.namedParameters().entrySet()) {
            p.getValue().copyFrom(init.get(p.getKey()).values());
        }
    }

    /**
     * FLOPs of one training step on [b, t], as bench/python/workloads.py counts them: per layer the four
     * projections, Q·Kᵀ and P·V over the full t×t, the FFN; the head; backward counted as twice the forward.
     */
    static double trainFlops(GPT.Config c, double b, double t) {
        double n = b * t;
        double d = c.dModel();
        double layer = 2 * n * d * 3 * d + 2 * n * d * d + 2 * 2 * b * t * t * d + 2 * 2 * n * d * c.dimFeedforward();
        return 3 * (c.numLayers() * layer + 2 * n * d * c.vocabSize());
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
        return Workload.trainStep(optimizer,
                () -> Loss.crossEntropy(model.forward(x).reshape(-1, model.config().vocabSize()), y));
    }

    @Override
    public void setDropout(boolean enabled) {
        if (enabled) model.train();
        else model.eval();
    }

    @Override
    public void close() {
        optimizer.close();
        model.close();
        data.close();
    }
}
