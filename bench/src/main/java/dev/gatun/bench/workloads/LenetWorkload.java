package dev.gatun.bench.workloads;

import dev.gatun.nn.Models;
import dev.gatun.nn.Sequential;
import dev.gatun.optim.SGD;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.Locale;
import java.util.Map;

/**
 * The LeNet-5 rows: {@code lenet5_train_b64} (cross-entropy, SGD 0.01 with momentum 0.9, batch 64) and
 * {@code lenet5_infer_b1} (evaluation mode, batch 1, no recording).
 */
public final class LenetWorkload implements Workload {

    private final boolean training;
    private final Sequential model = Models.lenet5();
    private final SGD optimizer;
    private final Scope data = Scope.detached();
    private final Tensor x;
    private final int[] y;

    public LenetWorkload(boolean training, Exchange init) {
        this.training = training;
        for (Map.Entry<String, Tensor> p : model.namedParameters().entrySet()) {
            p.getValue().copyFrom(init.get(p.getKey()).values());
        }
        Exchange.Array xs = init.get("x");
        x = Tensor.zeros(data, xs.shape()).copyFrom(xs.values());
        y = training ? init.labels("y") : null;
        optimizer = training ? new SGD(model.parameters(), SGD.Options.of(0.01).withMomentum(0.9)) : null;
        if (!training) {
            model.eval();
        }
    }

    @Override
    public String name() {
        return (training ? "lenet5_train_b64" : "lenet5_infer_b1").toLowerCase(Locale.ROOT);
    }

    @Override
    public double flops() {
        double n = x.size(0);
        double conv1 = 2 * n * 20 * 28 * 28 * 25;
        double conv2 = 2 * n * 50 * 14 * 14 * 20 * 25;
        double fc1 = 2 * n * 2450 * 500;
        double fc2 = 2 * n * 500 * 10;
        double forward = conv1 + conv2 + fc1 + fc2;
        // Backward: every weight gradient, and the input gradient of every layer but the first.
        return training ? 3 * forward - conv1 : forward;
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
