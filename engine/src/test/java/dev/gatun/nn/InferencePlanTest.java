package dev.gatun.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.autograd.Autograd;
import dev.gatun.backend.Program;
import dev.gatun.backend.Threads;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class InferencePlanTest {

    private static float[] sample(int seed, long n) {
        Random r = new Random(seed);
        float[] v = new float[(int) n];
        for (int i = 0; i < v.length; i++) v[i] = r.nextFloat() * 2 - 1;
        return v;
    }

    private static long product(long[] s) {
        long n = 1;
        for (long d : s) n *= d;
        return n;
    }

    /** The model's own forward pass: the reference. */
    private static float[] direct(Module m, float[] input, long... shape) {
        try (Scope s = Scope.open(); Autograd.NoGrad ng = Autograd.noGrad()) {
            return m.forward(Tensor.fromArray(input, shape)).toArray();
        }
    }

    /** Gives every batch norm of the model running statistics and an affine of its own. */
    private static <M extends Module> M withStatistics(M model, int seed) {
        Random r = new Random(seed);
        List<Module> all = new ArrayList<>();
        collect(model, all);
        for (Module m : all) {
            if (m instanceof BatchNorm bn) {
                int c = (int) bn.runningMean().numel();
                float[] mean = new float[c];
                float[] var = new float[c];
                float[] w = new float[c];
                float[] b = new float[c];
                for (int i = 0; i < c; i++) {
                    mean[i] = r.nextFloat() * 0.4f - 0.2f;
                    var[i] = 0.5f + r.nextFloat();
                    w[i] = 0.5f + r.nextFloat();
                    b[i] = r.nextFloat() * 0.2f - 0.1f;
                }
                bn.runningMean().copyFrom(mean);
                bn.runningVar().copyFrom(var);
                bn.weight().copyFrom(w);
                bn.bias().copyFrom(b);
            }
        }
        model.eval();
        return model;
    }

    private static void collect(Module m, List<Module> into) {
        into.add(m);
        for (Module c : m.children().values()) collect(c, into);
    }

    /**
     * The plan's output against the model's own, to within float rounding of the values' scale, in each
     * layout a plan may choose, and as chosen.
     */
    private static void matches(Module model, long... shape) {
        matches(model, Program.Layout.CHANNELS_LAST, shape);
        matches(model, Program.Layout.BLOCKED, shape);
        matches(model, null, shape);
    }

    private static void matches(Module model, Program.Layout layout, long... shape) {
        float[] in = sample(Math.toIntExact(product(shape)), product(shape));
        float[] expected = direct(model, in, shape);
        try (InferencePlan plan = InferencePlan.compile(model, layout, shape)) {
            assertEquals(expected.length, product(plan.outputShape()));
            float[] got = plan.run(in);
            float scale = 0;
            for (float e : expected) scale = Math.max(scale, Math.abs(e));
            for (int i = 0; i < expected.length; i++) {
                assertEquals(expected[i], got[i], 2e-5f * Math.max(1f, scale),
                        layout + ": element " + i + " of " + java.util.Arrays.toString(shape));
            }
            // A second run from the same buffers gives the same values, bit for bit.
            assertArrayEquals(got, plan.run(in));
        }
    }

    @Test
    void theBenchmarkResNetMatchesItsOwnForwardPassAtSeveralBatchSizes() {
        Init.manualSeed(3);
        Sequential m = withStatistics(Models.resnet(3), 5);
        for (long n : new long[] {1, 2, 3, 5}) {
            matches(m, n, 3, 32, 32);
        }
        // Odd heights, so that the row shares are uneven.
        matches(m, 1, 3, 7, 9);
        matches(m, 1, 3, 1, 5);
    }

    @Test
    void projectionShortcutsAndStridesMatch() {
        Init.manualSeed(4);
        Sequential m = withStatistics(Models.resnetStages(1), 6);
        matches(m, 1, 1, 28, 28);
        matches(m, 3, 1, 28, 28);
        matches(m, 1, 1, 13, 11);
    }

    @Test
    void convolutionsWithBiasDilationPaddingAndPoolingMatch() {
        Init.manualSeed(5);
        Sequential m = withStatistics(new Sequential(
                new Conv2d(2, 5, new int[] {3, 5}, new int[] {2, 1}, new int[] {1, 2}, new int[] {2, 1}, 1, true),
                new ReLU(),
                new Conv2d(5, 4, new int[] {1, 1}, new int[] {1, 1}, new int[] {0, 0}, new int[] {1, 1}, 1, true),
                new BatchNorm2d(4),
                new AvgPool2d(3, 2, 1, false),
                new ReLU(),
                new AvgPool2d(2),
                new Flatten(),
                new Linear(4 * 2 * 6, 7), new ReLU(), new Dropout(0.5f), new Linear(7, 3)), 7);
        matches(m, 1, 2, 19, 23);
        matches(m, 4, 2, 19, 23);
    }

    @Test
    void leNetWithItsMaxPoolingMatchesAndPropagatesNaNAsItsLayersDo() {
        Init.manualSeed(9);
        Sequential lenet = Models.lenet5();
        lenet.eval();
        matches(lenet, 1, 1, 28, 28);
        matches(lenet, 3, 1, 28, 28);
        // Max pooling with padding, dilation and a stride above the kernel, on 20 and 16 channels.
        Sequential pools = new Sequential(new Conv2d(3, 20, 3, 1, 1), new MaxPool2d(3, 2, 1, 2),
                new Conv2d(20, 16, 1, 1, 0), new MaxPool2d(2, 3, 1, 1));
        pools.eval();
        matches(pools, 1, 3, 17, 19);
        matches(pools, 2, 3, 17, 19);
        // NaN in a window gives NaN, as PyTorch's pooling and the layers' own: a pooling-only model, so that
        // nothing after it spreads the NaN over every output.
        Sequential pool = new Sequential(new MaxPool2d(3, 2, 1, 1));
        pool.eval();
        float[] in = sample(11, 3 * 9 * 8);
        in[5] = Float.NaN;
        in[100] = Float.NaN;
        in[150] = Float.NaN;
        float[] expected = direct(pool, in, 1, 3, 9, 8);
        int nan = 0;
        for (float v : expected) nan += Float.isNaN(v) ? 1 : 0;
        assertTrue(nan > 0 && nan < expected.length / 2, nan + " NaN of " + expected.length);
        for (Program.Layout layout : new Program.Layout[] {Program.Layout.CHANNELS_LAST, Program.Layout.BLOCKED}) {
            try (InferencePlan plan = InferencePlan.compile(pool, layout, 1, 3, 9, 8)) {
                assertArrayEquals(expected, plan.run(in), layout.toString()); // NaN where NaN, the rest exact
            }
        }
    }

    @Test
    void aMultilayerPerceptronMatches() {
        Init.manualSeed(6);
        Sequential m = new Sequential(new Linear(784, 512), new ReLU(), new Dropout(0.2f), new Linear(512, 256),
                new ReLU(), new Linear(256, 10));
        m.eval();
        matches(m, 1, 784);
        matches(m, 3, 784);
    }

    @Test
    void refusesWhatItCannotTakeAndNamesIt() {
        Init.manualSeed(7);
        Sequential tanh = new Sequential(new Linear(4, 3), new Tanh());
        tanh.eval();
        InferencePlan.UnsupportedModelException e = assertThrows(InferencePlan.UnsupportedModelException.class,
                () -> InferencePlan.compile(tanh, 1, 4));
        assertTrue(e.getMessage().contains("Tanh"), e.getMessage());
        Sequential training = Models.resnet(3);
        e = assertThrows(InferencePlan.UnsupportedModelException.class,
                () -> InferencePlan.compile(training, 1, 3, 8, 8));
        assertTrue(e.getMessage().contains("training mode"), e.getMessage());
        training.eval();
        assertThrows(InferencePlan.UnsupportedModelException.class, () -> InferencePlan.compile(training, 3, 8, 8));
        IllegalArgumentException wrong = assertThrows(IllegalArgumentException.class,
                () -> InferencePlan.compile(training, 1, 4, 8, 8));
        assertTrue(wrong.getMessage().contains("3 channels"), wrong.getMessage());
        assertThrows(IllegalArgumentException.class, () -> InferencePlan.compile(training, 1, 3, 0, 8));
        IllegalArgumentException huge = assertThrows(IllegalArgumentException.class,
                () -> InferencePlan.compile(training, 1, 3, 1 << 20, 1 << 20));
        assertTrue(huge.getMessage().contains("Java array"), huge.getMessage());
    }

    @Test
    void checksArraysAndRefusesRunsAfterClose() {
        Init.manualSeed(8);
        Sequential m = withStatistics(Models.resnet(3), 9);
        InferencePlan plan = InferencePlan.compile(m, 1, 3, 8, 8);
        assertThrows(IllegalArgumentException.class, () -> plan.run(new float[191]));
        assertThrows(IllegalArgumentException.class, () -> plan.run(new float[192], new float[11]));
        plan.close();
        plan.close();
        assertThrows(IllegalStateException.class, () -> plan.run(new float[192]));
    }

    @Test
    void manyThreadsOnOnePlanGetTheLoneCallersResultAndACloseWaitsForThem() throws Exception {
        Init.manualSeed(10);
        Sequential m = withStatistics(Models.resnet(3), 11);
        float[][] in = new float[4][];
        float[][] expected = new float[4][];
        InferencePlan plan = InferencePlan.compile(m, 1, 3, 16, 16);
        for (int i = 0; i < in.length; i++) {
            in[i] = sample(100 + i, 768);
            expected[i] = plan.run(in[i]);
        }
        List<Future<?>> tasks = new ArrayList<>();
        for (int t = 0; t < 16; t++) {
            int first = t;
            FutureTask<Void> task = new FutureTask<>(() -> {
                for (int k = 0; k < 40; k++) {
                    int i = (first + k) % in.length;
                    try {
                        assertArrayEquals(expected[i], plan.run(in[i]), "input " + i);
                    } catch (IllegalStateException closed) {
                        return null; // closed under it: refused, not crashed
                    }
                }
                return null;
            });
            tasks.add(task);
            (t % 2 == 0 ? Thread.ofPlatform() : Thread.ofVirtual()).start(task);
        }
        Thread.sleep(20);
        plan.close();
        for (Future<?> f : tasks) f.get(60, TimeUnit.SECONDS);
    }

    @Test
    void planThreadsAreTheSettingAtCompileTime() {
        Init.manualSeed(12);
        Sequential m = withStatistics(Models.resnet(3), 13);
        int before = Threads.get();
        try {
            Threads.set(1);
            try (InferencePlan one = InferencePlan.compile(m, 1, 3, 12, 12)) {
                assertEquals(1, one.threads());
                matches(m, 1, 3, 12, 12);
            }
        } finally {
            Threads.set(before);
        }
    }
}
