package dev.gatun.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.nn.Init;
import dev.gatun.nn.Linear;
import dev.gatun.ops.Loss;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * Every optimizer fits y = 2x − 1 with a {@link Linear}(1, 1) under mean squared error: a convex
 * problem each must solve in 100 full-batch steps from the same initial weights.
 */
class OptimizerTrainingTest {

    private static final int STEPS = 100;
    private static final double LOSS_BELOW = 1e-3;

    private record Case(String name, Function<List<Tensor>, Optimizer> make) {}

    private static final List<Case> CASES = List.of(
            new Case("SGD", p -> new SGD(p, 0.1)),
            new Case("SGD momentum", p -> new SGD(p, SGD.Options.of(0.05).withMomentum(0.9))),
            new Case("SGD Nesterov", p -> new SGD(p, SGD.Options.of(0.05).withMomentum(0.9).withNesterov(true))),
            new Case("Adagrad", p -> new Adagrad(p, 0.5)),
            new Case("RMSprop", p -> new RMSprop(p, 0.03)),
            new Case("RMSprop centered momentum",
                    p -> new RMSprop(p, RMSprop.Options.DEFAULTS.withLearningRate(0.02).withMomentum(0.5).withCentered(true))),
            // Adadelta's first steps are about √ε / RMS(g): with PyTorch's ε = 1e-6 it needs thousands here.
            new Case("Adadelta", p -> new Adadelta(p, Adadelta.Options.DEFAULTS.withLearningRate(0.5).withEps(1.0))),
            new Case("Adam", p -> new Adam(p, 0.1)),
            new Case("Adam AMSGrad", p -> new Adam(p, Adam.Options.DEFAULTS.withLearningRate(0.1).withAmsgrad(true))),
            new Case("AdamW", p -> new AdamW(p, 0.1)));

    @Test
    void everyOptimizerFitsALine() {
        float[] xs = new float[16];
        float[] ys = new float[16];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = -1 + 2f * i / (xs.length - 1);
            ys[i] = 2 * xs[i] - 1;
        }
        for (Case c : CASES) {
            Init.manualSeed(7);
            try (Linear line = new Linear(1, 1); Scope data = Scope.open();
                 Optimizer optimizer = c.make().apply(line.parameters())) {
                Tensor x = Tensor.fromArray(xs, xs.length, 1);
                Tensor y = Tensor.fromArray(ys, ys.length, 1);
                float first = Float.NaN;
                float last = Float.NaN;
                for (int step = 0; step < STEPS; step++) {
                    try (Scope s = Scope.open()) {
                        optimizer.zeroGrad();
                        Tensor loss = Loss.mse(line.forward(x), y);
                        loss.backward();
                        optimizer.step();
                        last = loss.item();
                        if (step == 0) first = last;
                    }
                }
                assertTrue(last < LOSS_BELOW, c.name() + " ended at loss " + last + " (from " + first + ")");
                assertEquals(2, line.weight().item(), 0.1, c.name() + " weight");
                assertEquals(-1, line.bias().item(), 0.1, c.name() + " bias");
            }
        }
    }
}
