package dev.gatun.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** {@link Optimizer#stateDict()} and {@link Optimizer#loadStateDict} give bit-identical continuations. */
class OptimizerStateTest {

    private static final Map<String, Function<List<Tensor>, Optimizer>> EVERY = new LinkedHashMap<>();

    static {
        EVERY.put("SGD momentum", p -> new SGD(p, SGD.Options.of(0.1).withMomentum(0.9).withWeightDecay(1e-3)));
        EVERY.put("SGD Nesterov", p -> new SGD(p, SGD.Options.of(0.1).withMomentum(0.9).withNesterov(true)));
        EVERY.put("Adagrad", p -> new Adagrad(p, Adagrad.Options.DEFAULTS.withLearningRate(0.1)
                .withLearningRateDecay(0.01)));
        EVERY.put("RMSprop centered momentum", p -> new RMSprop(p, RMSprop.Options.DEFAULTS.withLearningRate(0.01)
                .withMomentum(0.5).withCentered(true)));
        EVERY.put("RMSprop", p -> new RMSprop(p, 0.01));
        EVERY.put("Adadelta", p -> new Adadelta(p, 0.5));
        EVERY.put("Adam", p -> new Adam(p, 0.01));
        EVERY.put("Adam AMSGrad", p -> new Adam(p, Adam.Options.DEFAULTS.withLearningRate(0.01).withAmsgrad(true)));
        EVERY.put("AdamW", p -> new AdamW(p, 0.01));
    }

    private static final long[][] SHAPES = {{3, 4}, {4}, {2, 2, 3}};

    private static List<Tensor> parameters(long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        List<Tensor> out = new ArrayList<>();
        for (long[] s : SHAPES) {
            float[] v = new float[(int) Arrays.stream(s).reduce(1, (a, b) -> a * b)];
            for (int i = 0; i < v.length; i++) v[i] = (float) rng.nextGaussian();
            out.add(Tensor.fromArray(v, s).requiresGrad(true));
        }
        return out;
    }

    /** Step {@code step}'s gradients; parameter 2 has none at odd steps, so its step count falls behind. */
    private static void setGradients(List<Tensor> ps, int step) {
        SplittableRandom rng = new SplittableRandom(1000 + step);
        for (int i = 0; i < ps.size(); i++) {
            Tensor p = ps.get(i);
            if (i == 2 && step % 2 == 1) {
                p.setGrad(null);
                continue;
            }
            float[] g = new float[(int) p.numel()];
            for (int k = 0; k < g.length; k++) g[k] = (float) rng.nextGaussian();
            p.setGrad(Tensor.fromArray(g, p.shape()));
        }
    }

    private static int[][] bits(List<Tensor> ps) {
        int[][] out = new int[ps.size()][];
        for (int i = 0; i < ps.size(); i++) {
            float[] v = ps.get(i).toArray();
            out[i] = new int[v.length];
            for (int k = 0; k < v.length; k++) out[i][k] = Float.floatToRawIntBits(v[k]);
        }
        return out;
    }

    /** A state without a parameter's buffers frees the buffers it replaces at once, not at close. */
    @Test
    void buffersDroppedByALoadAreFreedAtOnce() {
        List<Tensor> ps = parameters(5);
        Tensor kept;
        try (Adam adam = new Adam(ps, 0.01)) {
            setGradients(ps, 0);
            adam.step();
            Optimizer.State full = adam.stateDict();
            Tensor dropped = full.buffers().get("1.exp_avg");
            Tensor droppedSquares = full.buffers().get("1.exp_avg_sq");
            kept = full.buffers().get("0.exp_avg");
            Map<String, Tensor> without = new LinkedHashMap<>(full.buffers());
            without.keySet().removeIf(k -> k.startsWith("1."));
            long[] counts = full.parameterSteps();
            counts[1] = 0;
            adam.loadStateDict(new Optimizer.State(full.steps(), counts, full.learningRate(), without));
            assertFalse(dropped.isAlive(), "the dropped first moments are freed");
            assertFalse(droppedSquares.isAlive(), "the dropped second moments are freed");
            assertTrue(kept.isAlive(), "the buffers still in use stay");
            setGradients(ps, 1);
            adam.step(); // parameter 1 starts a new state
            assertTrue(adam.stateDict().buffers().get("1.exp_avg").isAlive());
        }
        assertFalse(kept.isAlive(), "close frees the rest");
    }

    @Test
    void stateDictRoundTripGivesBitIdenticalNextSteps() {
        for (var e : EVERY.entrySet()) {
            String name = e.getKey();
            try (Scope s = Scope.open()) {
                List<Tensor> a = parameters(7);
                try (Optimizer first = e.getValue().apply(a)) {
                    for (int step = 0; step < 3; step++) {
                        setGradients(a, step);
                        first.step();
                    }
                    first.setLearningRate(first.learningRate() * 0.37); // as a schedule would
                    Optimizer.State saved = first.stateDict();
                    assertFalse(saved.buffers().isEmpty(), name + ": has buffers");
                    assertEquals(3, saved.steps(), name);
                    assertArrayEquals(new long[] {3, 3, 2}, saved.parameterSteps(), name);
                    // A copy of the buffers as a checkpoint would hold them, read back into a fresh optimizer over
                    // parameters equal to the first one's.
                    Map<String, Tensor> copies = new LinkedHashMap<>();
                    saved.buffers().forEach((k, v) -> copies.put(k, Tensor.fromArray(v.toArray(), v.shape())));
                    List<Tensor> b = new ArrayList<>();
                    for (Tensor p : a) b.add(Tensor.fromArray(p.toArray(), p.shape()).requiresGrad(true));
                    List<Tensor> c = new ArrayList<>();
                    for (Tensor p : a) c.add(Tensor.fromArray(p.toArray(), p.shape()).requiresGrad(true));
                    try (Optimizer second = e.getValue().apply(b); Optimizer fresh = e.getValue().apply(c)) {
                        second.loadStateDict(new Optimizer.State(saved.steps(), saved.parameterSteps(),
                                saved.learningRate(), copies));
                        assertEquals(first.learningRate(), second.learningRate(), name);
                        assertEquals(saved.buffers().keySet(), second.stateDict().buffers().keySet(), name);
                        fresh.setLearningRate(first.learningRate());
                        for (int step = 3; step < 6; step++) {
                            setGradients(a, step);
                            setGradients(b, step);
                            setGradients(c, step);
                            first.step();
                            second.step();
                            fresh.step();
                            int[][] x = bits(a);
                            int[][] y = bits(b);
                            for (int i = 0; i < x.length; i++) {
                                assertArrayEquals(x[i], y[i], name + ": parameter " + i + " after step " + (step + 1));
                            }
                        }
                        assertEquals(6, second.steps(), name);
                        assertArrayEquals(first.stateDict().parameterSteps(), second.stateDict().parameterSteps());
                        // Without the state the continuation differs: the state is what the test checks.
                        assertFalse(Arrays.deepEquals(bits(a), bits(c)), name + ": the state matters");
                    }
                }
            }
        }
    }

    @Test
    void loadStateDictRejectsStateThatDoesNotFit() {
        try (Scope s = Scope.open()) {
            List<Tensor> a = parameters(3);
            try (Adam adam = new Adam(a, 0.01); SGD sgd = new SGD(a, SGD.Options.of(0.1).withMomentum(0.9))) {
                setGradients(a, 0);
                adam.step();
                Optimizer.State st = adam.stateDict();
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> sgd.loadStateDict(st));
                assertTrue(e.getMessage().contains("unknown buffer '0.exp_avg'"), e.getMessage());
                Map<String, Tensor> wrong = new LinkedHashMap<>(st.buffers());
                wrong.put("0.exp_avg", Tensor.zeros(4, 3));
                e = assertThrows(IllegalArgumentException.class, () -> adam.loadStateDict(
                        new Optimizer.State(1, new long[] {1, 1, 1}, 0.01, wrong)));
                assertTrue(e.getMessage().contains("'0.exp_avg' has shape [4, 3], its parameter [3, 4]"),
                        e.getMessage());
                e = assertThrows(IllegalArgumentException.class, () -> adam.loadStateDict(
                        new Optimizer.State(1, new long[] {1, 1}, 0.01, st.buffers())));
                assertTrue(e.getMessage().contains("step counts for 2 parameters"), e.getMessage());
                e = assertThrows(IllegalArgumentException.class, () -> adam.loadStateDict(
                        new Optimizer.State(1, new long[] {1, 2, 1}, 0.01, st.buffers())));
                assertTrue(e.getMessage().contains("parameter 1 has 2 updates"), e.getMessage());
            }
        }
    }

    @Test
    void scheduleRestoreEpochSetsTheRateOfThatEpoch() {
        try (Scope s = Scope.open(); SGD sgd = new SGD(parameters(1), 0.1); SGD other = new SGD(parameters(1), 0.1)) {
            StepLR a = new StepLR(sgd, 2, 0.5);
            for (int i = 0; i < 5; i++) a.step();
            StepLR b = new StepLR(other, 2, 0.5);
            b.restoreEpoch(a.epoch());
            assertEquals(5, b.epoch());
            assertEquals(sgd.learningRate(), other.learningRate());
            assertThrows(IllegalArgumentException.class, () -> b.restoreEpoch(-1));
        }
    }
}
