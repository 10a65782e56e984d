package dev.gatun.bench.workloads;

import dev.gatun.nn.Models;
import dev.gatun.nn.Sequential;
import dev.gatun.optim.SGD;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.Locale;
import java.util.Map;

/**
 * The ResNet rows: {@code resnet_train_b32} (3×32×32 input, cross-entropy, SGD 0.05 with momentum 0.9,
 * batch 32) and {@code resnet_infer_b1} (evaluation mode with running statistics, batch 1).
 */
public final class ResnetWorkload implements Workload {

    private final boolean training;
    private final Sequential model = Models.resnet(3);
    private final SGD optimizer;
    private final Scope data = Scope.detached();
    private final Tensor x;
    private final int[] y;

    public ResnetWorkload(boolean training, Exchange init) {
        this.training = training;
        for (Map.Entry<String, Tensor> p : model.namedParameters().entrySet()) {
            p.getValue().copyFrom(init.get(p.getKey()).values());
        }
        for (Map.Entry<String, Tensor> b : model.namedBuffers().entrySet()) {
            b.getValue().copyFrom(init.get(b.getKey()).values());
        }
        Exchange.Array xs = init.get("x");
        x = Tensor.zeros(data, xs.shape()).copyFrom(xs.values());
        y = training ? init.labels("y") : null;
        optimizer = training ? new SGD(model.parameters(), SGD.Options.of(0.05).withMomentum(0.9)) : null;
        if (!training) {
            model.eval();
        }
    }

    @Override
    public String name() {
        return (training ? "resnet_train_b32" : "resnet_infer_b1").toLowerCase(Locale.ROOT);
    }

    @Override
    public double flops() {
        double n = x.size(0);
        double hw = x.size(2) * x.size(3);
        double stem = 2 * n * 32 * hw * x.size(1) * 9;
        double conv = 2 * n * 32 * hw * 32 * 9;   // each of the four convolutions in the blocks
        double fc = 2 * n * 32 * 10;
        double forward = stem + 4 * conv + fc;
        // Backward: every weight gradient, and the input gradient of every layer but the first.
        return training ? 3 * forward - stem : forward;
    }

    @Override
    public float step() {
        return optimizer == null ? Workload.inferStep(model, x) : Workload.trainStep(model, optimizer, x, y);
    }

    @Override
    public void close() {
        if (optimizer != null) optimizer.close();
        model.close();
        data.close();
    }
}
