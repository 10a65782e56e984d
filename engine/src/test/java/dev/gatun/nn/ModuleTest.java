package dev.gatun.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.autograd.Autograd;
import dev.gatun.ops.Loss;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

class ModuleTest {

    /** The seed lecture's MNIST network: 784 inputs, two hidden layers of 16, 10 outputs. */
    static Sequential lectureMlp() {
        return new Sequential(new Linear(784, 16), new Sigmoid(), new Linear(16, 16),
                new Sigmoid(), new Linear(16, 10));
    }

    /**
     * A module used twice (tied weights): its parameters are listed, counted and updated once, as
     * PyTorch's named_parameters(); a model file, whose architecture cannot say that two layers are one,
     * refuses it.
     */
    @Test
    void aSharedModulesParametersCountOnce(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        try (Scope s = Scope.open()) {
            Linear shared = new Linear(4, 4);
            Sequential m = new Sequential(shared, new ReLU(), shared);
            assertEquals(List.of("0.weight", "0.bias"), List.copyOf(m.namedParameters().keySet()));
            assertEquals(20, m.parameterCount());
            assertEquals(java.util.Map.of("2.weight", "0.weight", "2.bias", "0.bias"), m.sharedTensorNames());
            dev.gatun.optim.SGD sgd = new dev.gatun.optim.SGD(m.parameters(), 0.5);
            Tensor x = Tensor.ones(1, 4);
            Tensor y = m.forward(x);
            Loss.mse(y, Tensor.zeros(1, 4)).backward();
            float[] grad = shared.parameters().get(0).grad().toArray();
            float[] w = shared.parameters().get(0).toArray();
            sgd.step();
            float[] after = shared.parameters().get(0).toArray();
            for (int i = 0; i < w.length; i++) {
                assertEquals(w[i] - 0.5f * grad[i], after[i], 1e-6f, "one update of " + i);
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> dev.gatun.io.ModelFile.save(m, dir.resolve("tied.safetensors")));
            assertTrue(e.getMessage().contains("cannot record tied weights: '2.weight' is '0.weight'"),
                    e.getMessage());
            assertTrue(new Sequential(new Linear(2, 2)).sharedTensorNames().isEmpty());
            java.util.Map<String, Tensor> withNull = new java.util.HashMap<>(m.stateDict());
            withNull.put("0.bias", null);
            e = assertThrows(IllegalArgumentException.class, () -> m.loadStateDict(withNull));
            assertTrue(e.getMessage().contains("'0.bias' is null"), e.getMessage());
        }
    }

    @Test
    void lectureNetworkHas13002Parameters() {
        try (Sequential net = lectureMlp()) {
            assertEquals(13_002, net.parameterCount());
            assertEquals(List.of("0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"),
                    List.copyOf(net.namedParameters().keySet()));
            String summary = net.summary(1, 784);
            assertTrue(summary.contains("total parameters: 13,002"), summary);
            assertTrue(summary.contains("Linear(784 → 16)"), summary);
            assertTrue(summary.contains("[1, 16]") && summary.contains("12,560"), summary);
            assertTrue(summary.contains("output") && summary.contains("[1, 10]"), summary);
        }
    }

    @Test
    void linearComputesXWtPlusB() {
        try (Linear l = new Linear(3, 2); Scope s = Scope.open()) {
            l.weight().copyFrom(new float[] {1, 2, 3, 4, 5, 6});
            l.bias().copyFrom(new float[] {0.5f, -1});
            Tensor y = l.forward(Tensor.fromArray(new float[] {1, 0, -1, 2, 1, 0}, 2, 3));
            assertArrayEquals(new float[] {-2 + 0.5f, -2 - 1, 4 + 0.5f, 13 - 1}, y.toArray());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> l.forward(Tensor.zeros(2, 4)));
            assertTrue(e.getMessage().contains("does not end in 3 features"), e.getMessage());
        }
    }

    @Test
    void defaultInitIsPytorchUniform() {
        Init.manualSeed(1);
        try (Linear l = new Linear(400, 300)) {
            double bound = 1 / Math.sqrt(400);
            float[] w = l.weight().toArray();
            double max = 0, sumSq = 0;
            for (float v : w) {
                max = Math.max(max, Math.abs(v));
                sumSq += v * v;
            }
            assertTrue(max <= bound && max > 0.99 * bound, "max " + max + " bound " + bound);
            assertEquals(bound * bound / 3, sumSq / w.length, 0.02 * bound * bound, "variance of U(-b, b)");
        }
        Init.manualSeed(1);
        float[] first;
        try (Linear a = new Linear(5, 5)) {
            first = a.weight().toArray();
        }
        Init.manualSeed(1);
        try (Linear b = new Linear(5, 5)) {
            assertArrayEquals(first, b.weight().toArray(), "manualSeed makes initialisation reproducible");
        }
    }

    @Test
    void modesPropagateAndDropoutFollowsThem() {
        try (Sequential net = new Sequential(new Linear(4, 4), new Dropout(0.5f)); Scope s = Scope.open()) {
            assertTrue(net.get(1).isTraining());
            net.eval();
            assertFalse(net.get(1).isTraining());
            Tensor x = Tensor.ones(2, 4);
            assertArrayEquals(net.forward(x).toArray(), net.forward(x).toArray(), "eval is deterministic");
            net.train();
            Tensor big = Tensor.ones(1, 10_000);
            Tensor y = new Dropout(0.25f).forward(big);
            float[] v = y.toArray();
            int zeros = 0;
            for (float f : v) {
                if (f == 0) zeros++;
                else assertEquals(1 / 0.75f, f, 1e-6f);
            }
            assertEquals(0.25, zeros / 10_000.0, 0.02);
        }
    }

    @Test
    void closedModulesFreeTheirParameters() {
        Linear l = new Linear(2, 2);
        Tensor w = l.weight();
        l.close();
        assertFalse(w.isAlive());
        assertThrows(IllegalStateException.class, w::toArray);
    }

    @Test
    void xorNeedsAHiddenLayer() {
        Init.manualSeed(3);
        float[] inputs = {0, 0, 0, 1, 1, 0, 1, 1};
        int[] labels = {0, 1, 1, 0};
        try (Sequential net = new Sequential(new Linear(2, 4), new Tanh(), new Linear(4, 2))) {
            float lr = 0.5f;
            for (int step = 0; step < 500; step++) {
                try (Scope s = Scope.open()) {
                    net.zeroGrad();
                    Loss.crossEntropy(net.forward(Tensor.fromArray(inputs, 4, 2)), labels).backward();
                    try (var ignored = Autograd.noGrad()) {
                        for (Tensor p : net.parameters()) {
                            float[] v = p.toArray();
                            float[] g = p.grad().toArray();
                            for (int i = 0; i < v.length; i++) v[i] -= lr * g[i];
                            p.copyFrom(v);
                        }
                    }
                }
            }
            try (Scope s = Scope.open()) {
                float[] logits = net.forward(Tensor.fromArray(inputs, 4, 2)).toArray();
                for (int i = 0; i < 4; i++) {
                    int predicted = logits[2 * i + 1] > logits[2 * i] ? 1 : 0;
                    assertEquals(labels[i], predicted, "XOR of sample " + i);
                }
            }
        }
    }

    /** A module that registers what its test asks for. */
    private static final class Bare extends Module {
        @Override
        public Tensor forward(Tensor input) {
            return input;
        }

        void param(String name) {
            addParameter(name, 1);
        }

        void buffer(String name) {
            addBuffer(name, 1);
        }
    }

    @Test
    void namesAreChecked() {
        try (Bare m = new Bare()) {
            m.param("w");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.param("w"));
            assertTrue(e.getMessage().contains("already used"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> m.buffer("a.b"));
            assertThrows(IllegalArgumentException.class, () -> m.buffer(""));
            m.buffer("running");
            assertEquals(1, m.parameterCount());
            assertEquals(List.of("running"), List.copyOf(m.namedBuffers().keySet()));
        }
    }
}
