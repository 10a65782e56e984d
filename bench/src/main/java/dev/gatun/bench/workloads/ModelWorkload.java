package dev.gatun.bench.workloads;

import dev.gatun.nn.Dropout;
import dev.gatun.nn.InferencePlan;
import dev.gatun.nn.Module;
import dev.gatun.optim.Optimizer;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.Map;
import java.util.function.Function;

/**
 * A row of the comparison: a model whose parameters and buffers, input batch and labels come from the
 * exchange PyTorch wrote, and either an optimizer (a training row: each step is zero grads, forward,
 * cross-entropy, backward, optimizer step) or none (an inference row: one forward pass in evaluation
 * mode without recording). An inference row runs the model's {@link InferencePlan} where it compiles, from a
 * Java array to a Java array as a server calls it (and as the ONNX Runtime row does), else the layers'
 * forward passes; {@code -Dgatun.bench.plan=false} runs the layers always.
 */
final class ModelWorkload implements Workload {

    private final String name;
    private final Module model;
    private final Optimizer optimizer;
    private final double flops;
    private final Scope data = Scope.detached();
    private final Tensor x;
    private final int[] y;
    private final InferencePlan plan;
    private final float[] input;
    private final float[] output;

    /**
     * @param optimizer makes the optimizer over the model's parameters; null for an inference row
     * @param forwardFlops FLOPs of each weighted layer's forward pass for this batch, in order; a training step
     *                     counts every weight gradient and the input gradient of every layer but the first
     *                     (the network's input needs none)
     */
    ModelWorkload(String name, Module model, Function<Module, Optimizer> optimizer, Exchange init,
                  double... forwardFlops) {
        this.name = name;
        this.model = model;
        for (Map.Entry<String, Tensor> p : model.namedParameters().entrySet()) {
            p.getValue().copyFrom(init.get(p.getKey()).values());
        }
        for (Map.Entry<String, Tensor> b : model.namedBuffers().entrySet()) {
            b.getValue().copyFrom(init.get(b.getKey()).values());
        }
        Exchange.Array xs = init.get("x");
        x = Tensor.zeros(data, xs.shape()).copyFrom(xs.values());
        y = optimizer == null ? null : init.labels("y");
        this.optimizer = optimizer == null ? null : optimizer.apply(model);
        InferencePlan compiled = null;
        if (optimizer == null) {
            model.eval();
            if (Boolean.parseBoolean(System.getProperty("gatun.bench.plan", "true"))) {
                try {
                    compiled = InferencePlan.compile(model, xs.shape());
                } catch (InferencePlan.UnsupportedModelException e) {
                    System.err.println(name + ": layer by layer (" + e.getMessage() + ")");
                }
            }
        }
        plan = compiled;
        input = plan == null ? null : xs.values().clone();
        output = plan == null ? null : new float[Math.toIntExact(count(plan.outputShape()))];
        double forward = 0;
        for (double f : forwardFlops) forward += f;
        // Backward: every weight gradient, and the input gradient of every layer but the first.
        this.flops = optimizer == null ? forward : 3 * forward - forwardFlops[0];
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public double flops() {
        return flops;
    }

    private static long count(long[] shape) {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    @Override
    public float step() {
        if (plan != null) {
            plan.run(input, output);
            float sum = 0;
            for (float v : output) sum += v;
            return sum;
        }
        return optimizer == null ? Workload.inferStep(model, x) : Workload.trainStep(model, optimizer, x, y);
    }

    @Override
    public void setDropout(boolean enabled) {
        for (Module m : model.children().values()) {
            if (m instanceof Dropout d) {
                if (enabled) d.train();
                else d.eval();
            }
        }
    }

    @Override
    public void close() {
        if (optimizer != null) optimizer.close();
        if (plan != null) plan.close();
        model.close();
        data.close();
    }
}
