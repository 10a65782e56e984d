package dev.gatun.bench.workloads;

import dev.gatun.nn.Module;
import dev.gatun.ops.Loss;
import dev.gatun.optim.Optimizer;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.Map;
import java.util.function.Function;

/**
 * A training row whose loss is the mean squared error between the model's output and a fixed random
 * target of the same shape (e.g. {@code transformer_train_b16_t64}): parameters, input {@code x} and
 * target {@code y} come from the exchange PyTorch wrote; each step is zero grads, forward, MSE,
 * backward, optimizer step. Turning dropout off puts the whole model in evaluation mode, which also
 * stops dropout inside layers such as multi-head attention.
 */
final class RegressionWorkload implements Workload {

    private final String name;
    private final Module model;
    private final Optimizer optimizer;
    private final double flops;
    private final Scope data = Scope.detached();
    private final Tensor x;
    private final Tensor y;

    /** @param flops FLOPs of one training step, counted as the PyTorch side counts them */
    RegressionWorkload(String name, Module model, Function<Module, Optimizer> optimizer, Exchange init, double flops) {
        this.name = name;
        this.model = model;
        for (Map.Entry<String, Tensor> p : model.namedParameters().entrySet()) {
            p.getValue().copyFrom(init.get(p.getKey()).values());
        }
        for (Map.Entry<String, Tensor> b : model.namedBuffers().entrySet()) {
            b.getValue().copyFrom(init.get(b.getKey()).values());
        }
        Exchange.Array xs = init.get("x");
        Exchange.Array ys = init.get("y");
        x = Tensor.zeros(data, xs.shape()).copyFrom(xs.values());
        y = Tensor.zeros(data, ys.shape()).copyFrom(ys.values());
        this.optimizer = optimizer.apply(model);
        this.flops = flops;
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
        return Workload.trainStep(optimizer, () -> Loss.mse(model.forward(x), y));
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
