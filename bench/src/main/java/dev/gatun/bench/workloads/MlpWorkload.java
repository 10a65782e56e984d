package dev.gatun.bench.workloads;

import dev.gatun.nn.Activations;
import dev.gatun.nn.Dropout;
import dev.gatun.nn.Linear;
import dev.gatun.nn.Module;
import dev.gatun.nn.Sequential;
import dev.gatun.optim.Adam;
import dev.gatun.optim.Optimizer;
import dev.gatun.optim.SGD;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * The MLP rows: {@code mlp13k_train_b32} (784-16-16-10, sigmoid, cross-entropy, SGD 0.1),
 * {@code mlp_train_b128_adam} (784-512 ReLU, dropout 0.2, 512-256 ReLU, 256-10, cross-entropy, Adam 1e-3)
 * and {@code mlp_infer_b1} (the latter in evaluation mode, batch 1, no recording).
 */
public final class MlpWorkload implements Workload {

    /** Which MLP row. */
    public enum Kind { MLP13K_TRAIN_B32, MLP_TRAIN_B128_ADAM, MLP_INFER_B1 }

    private final Kind kind;
    private final Module model;
    private final Dropout dropout;
    private final Optimizer optimizer;
    private final Scope data = Scope.detached();
    private final Tensor x;
    private final int[] y;

    public MlpWorkload(Kind kind, Exchange init) {
        this.kind = kind;
        if (kind == Kind.MLP13K_TRAIN_B32) {
            dropout = null;
            model = new Sequential(new Linear(784, 16), new Activations.Sigmoid(), new Linear(16, 16),
                    new Activations.Sigmoid(), new Linear(16, 10));
        } else {
            dropout = new Dropout(0.2f);
            model = new Sequential(new Linear(784, 512), new Activations.ReLU(), dropout, new Linear(512, 256),
                    new Activations.ReLU(), new Linear(256, 10));
        }
        for (Map.Entry<String, Tensor> p : model.namedParameters().entrySet()) {
            p.getValue().copyFrom(init.get(p.getKey()).values());
        }
        Exchange.Array xs = init.get("x");
        x = Tensor.zeros(data, xs.shape()).copyFrom(xs.values());
        y = kind == Kind.MLP_INFER_B1 ? null : init.labels("y");
        List<Tensor> params = model.parameters();
        optimizer = switch (kind) {
            case MLP13K_TRAIN_B32 -> new SGD(params, 0.1);
            case MLP_TRAIN_B128_ADAM -> new Adam(params, 1e-3);
            case MLP_INFER_B1 -> null;
        };
        if (kind == Kind.MLP_INFER_B1) {
            model.eval();
        }
    }

    @Override
    public String name() {
        return kind.name().toLowerCase(java.util.Locale.ROOT);
    }

    @Override
    public double flops() {
        long[][] layers = kind == Kind.MLP13K_TRAIN_B32 ? new long[][] {{784, 16}, {16, 16}, {16, 10}}
                : new long[][] {{784, 512}, {512, 256}, {256, 10}};
        double batch = x.size(0);
        double forward = 0;
        double backward = 0;
        for (int i = 0; i < layers.length; i++) {
            double mac = batch * layers[i][0] * layers[i][1];
            forward += 2 * mac;
            backward += 2 * mac * (i == 0 ? 1 : 2); // weight gradient; input gradient except for the first layer
        }
        return optimizer == null ? forward : forward + backward;
    }

    @Override
    public float step() {
        return optimizer == null ? Workload.inferStep(model, x) : Workload.trainStep(model, optimizer, x, y);
    }

    @Override
    public void setDropout(boolean enabled) {
        if (dropout != null) {
            if (enabled) dropout.train();
            else dropout.eval();
        }
    }

    @Override
    public void close() {
        if (optimizer != null) optimizer.close();
        model.close();
        data.close();
    }
}
