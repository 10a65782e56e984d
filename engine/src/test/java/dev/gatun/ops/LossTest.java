package dev.gatun.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.tensor.Tensor;
import dev.gatun.testing.ScopedTest;
import org.junit.jupiter.api.Test;

/** Loss values against the formulas evaluated in double, and the bad inputs each loss rejects. */
class LossTest extends ScopedTest {

    private static Tensor t(float... v) {
        return Tensor.fromArray(v);
    }

    @Test
    void regressionLosses() {
        Tensor p = t(1, 2, 3, 4);
        Tensor y = t(1.5f, 2, 1, 8);
        assertEquals((0.25 + 0 + 4 + 16) / 4, Loss.mse(p, y).item(), 1e-6);
        assertEquals((0.5 + 0 + 2 + 4) / 4, Loss.mae(p, y).item(), 1e-6);
    }

    @Test
    void binaryCrossEntropyOnProbabilitiesAndLogits() {
        float[] z = {-2, 0.5f, 3, -0.1f};
        float[] target = {0, 1, 1, 0.3f};
        double want = 0;
        float[] prob = new float[4];
        for (int i = 0; i < 4; i++) {
            double s = 1 / (1 + Math.exp(-z[i]));
            prob[i] = (float) s;
            want -= target[i] * Math.log(s) + (1 - target[i]) * Math.log(1 - s);
        }
        want /= 4;
        assertEquals(want, Loss.bceWithLogits(t(z), t(target)).item(), 1e-6);
        assertEquals(want, Loss.binaryCrossEntropy(t(prob), t(target)).item(), 1e-6);
        // Saturated probabilities are clamped like PyTorch's log ≥ −100, not infinite.
        assertEquals(100 / 2.0, Loss.binaryCrossEntropy(t(0, 1), t(1, 1)).item(), 1e-4);
        // Extreme logits stay finite.
        assertEquals(50, Loss.bceWithLogits(t(-100), t(1)).item() / 2, 1e-4);
    }

    /**
     * A batch large enough for the kernel to split its rows across threads: the loss and the gradient
     * against a double-precision softmax, the same at one and two threads, and NaN from a NaN row.
     */
    @Test
    void crossEntropyOverManyRowsMatchesDoublesAtAnyThreadCount() {
        int rows = 2048, classes = 65;
        float[] z = new float[rows * classes];
        int[] y = new int[rows];
        java.util.Random random = new java.util.Random(5);
        for (int k = 0; k < z.length; k++) z[k] = (float) (random.nextGaussian() * 3);
        for (int r = 0; r < rows; r++) y[r] = random.nextInt(classes);
        double want = 0;
        double[] grad = new double[z.length];
        float eps = 0.05f;
        for (int r = 0; r < rows; r++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < classes; c++) max = Math.max(max, z[r * classes + c]);
            double sum = 0;
            for (int c = 0; c < classes; c++) sum += Math.exp(z[r * classes + c] - max);
            for (int c = 0; c < classes; c++) {
                double logp = z[r * classes + c] - max - Math.log(sum);
                double q = (c == y[r] ? 1 - eps : 0) + eps / classes;
                want -= q * logp;
                grad[r * classes + c] = (Math.exp(logp) - q) / rows;
            }
        }
        want /= rows;
        int before = dev.gatun.backend.Threads.get();
        float[][] grads = new float[2][];
        float[] losses = new float[2];
        try {
            for (int threads = 1; threads <= 2; threads++) {
                dev.gatun.backend.Threads.set(threads);
                Tensor logits = Tensor.fromArray(z, rows, classes).requiresGrad(true);
                Tensor loss = Loss.crossEntropy(logits, y, eps);
                loss.backward();
                losses[threads - 1] = loss.item();
                grads[threads - 1] = logits.grad().toArray();
            }
        } finally {
            dev.gatun.backend.Threads.set(before);
        }
        assertEquals(want, losses[0], 1e-5 * Math.abs(want));
        for (int k = 0; k < z.length; k++) {
            assertEquals(grad[k], grads[0][k], 1e-9 + 1e-5 * Math.abs(grad[k]), "gradient " + k);
        }
        assertEquals(losses[0], losses[1], 0f, "the loss at two threads");
        org.junit.jupiter.api.Assertions.assertArrayEquals(grads[0], grads[1], "the gradient at two threads");
        z[3 * classes + 7] = Float.NaN;
        assertTrue(Float.isNaN(Loss.crossEntropy(Tensor.fromArray(z, rows, classes), y).item()), "a NaN row");
    }

    /**
     * Binary cross-entropy on logits over more elements than one block of the kernel's partial sums, with
     * logits from tiny to saturating: the loss and gradient against doubles, the same at one and two
     * threads, and NaN from a NaN logit.
     */
    @Test
    void bceWithLogitsOverManyElementsMatchesDoubles() {
        int n = 100_003;
        float[] z = new float[n];
        float[] t = new float[n];
        java.util.Random random = new java.util.Random(9);
        float[] special = {0f, 1e-8f, -1e-8f, 1e-4f, 30f, -30f, 100f, -100f, 88f, -88f};
        for (int i = 0; i < n; i++) {
            z[i] = i < special.length ? special[i] : (float) (random.nextGaussian() * 4);
            t[i] = random.nextFloat();
        }
        double want = 0;
        for (int i = 0; i < n; i++) {
            double zi = z[i];
            want += Math.max(zi, 0) - zi * t[i] + Math.log1p(Math.exp(-Math.abs(zi)));
        }
        want /= n;
        int before = dev.gatun.backend.Threads.get();
        float[] losses = new float[2];
        float[][] grads = new float[2][];
        try {
            for (int threads = 1; threads <= 2; threads++) {
                dev.gatun.backend.Threads.set(threads);
                Tensor logits = Tensor.fromArray(z, n).requiresGrad(true);
                Tensor loss = Loss.bceWithLogits(logits, Tensor.fromArray(t, logits.shape()));
                loss.backward();
                losses[threads - 1] = loss.item();
                grads[threads - 1] = logits.grad().toArray();
            }
        } finally {
            dev.gatun.backend.Threads.set(before);
        }
        assertEquals(want, losses[0], 1e-6 * Math.abs(want));
        for (int i = 0; i < n; i++) {
            double zi = z[i];
            double sigmoid = 1 / (1 + Math.exp(-zi));
            double g = (sigmoid - t[i]) / n;
            assertEquals(g, grads[0][i], 1e-12 + 1e-5 * Math.abs(g), "gradient " + i + " at z = " + z[i]);
        }
        assertEquals(losses[0], losses[1], 0f, "the loss at two threads");
        org.junit.jupiter.api.Assertions.assertArrayEquals(grads[0], grads[1], "the gradient at two threads");
        z[n - 1] = Float.NaN;
        assertTrue(Float.isNaN(Loss.bceWithLogits(Tensor.fromArray(z), Tensor.fromArray(t)).item()), "a NaN logit");
    }

    /**
     * Mean squared error over more elements than one block of the kernel's partial sums, the predictions
     * a strided view: the loss against a double sum, both gradients (prediction and target) against
     * 2(p − t)/n, the same at one and two threads, Inf and NaN carried through.
     */
    @Test
    void mseOverManyElementsMatchesDoublesAtAnyThreadCount() {
        int rows = 331;
        int cols = 37;  // 12,247 elements: three blocks and a part
        int n = rows * cols;
        java.util.Random random = new java.util.Random(5);
        float[] pv = new float[n];
        float[] tv = new float[n];
        for (int i = 0; i < n; i++) {
            pv[i] = (float) (random.nextGaussian() * 3);
            tv[i] = i % 7 == 0 ? pv[i] : (float) random.nextGaussian();
        }
        double want = 0;
        for (int i = 0; i < n; i++) {
            double d = (double) pv[i] - tv[i];
            want += d * d;
        }
        want /= n;
        int before = dev.gatun.backend.Threads.get();
        float[] losses = new float[2];
        float[][] pg = new float[2][];
        float[][] tg = new float[2][];
        try {
            for (int threads = 1; threads <= 2; threads++) {
                dev.gatun.backend.Threads.set(threads);
                // The predictions as a transposed view of a [cols, rows] leaf holding pv's transpose.
                float[] transposed = new float[n];
                for (int r = 0; r < rows; r++) {
                    for (int c = 0; c < cols; c++) transposed[c * rows + r] = pv[r * cols + c];
                }
                Tensor leaf = Tensor.fromArray(transposed, cols, rows).requiresGrad(true);
                Tensor target = Tensor.fromArray(tv, rows, cols).requiresGrad(true);
                Tensor loss = Loss.mse(leaf.transpose(0, 1), target);
                loss.backward();
                losses[threads - 1] = loss.item();
                pg[threads - 1] = leaf.grad().transpose(0, 1).contiguous().toArray();
                tg[threads - 1] = target.grad().toArray();
            }
        } finally {
            dev.gatun.backend.Threads.set(before);
        }
        assertEquals(want, losses[0], 1e-6 * want);
        for (int i = 0; i < n; i++) {
            double g = 2.0 * ((double) pv[i] - tv[i]) / n;
            assertEquals(g, pg[0][i], 1e-12 + 1e-6 * Math.abs(g), "prediction gradient " + i);
            assertEquals(-pg[0][i], tg[0][i], 0f, "target gradient " + i);
        }
        assertEquals(losses[0], losses[1], 0f, "the loss at two threads");
        org.junit.jupiter.api.Assertions.assertArrayEquals(pg[0], pg[1], "the gradient at two threads");
        pv[n - 1] = Float.POSITIVE_INFINITY;
        assertEquals(Float.POSITIVE_INFINITY, Loss.mse(Tensor.fromArray(pv), Tensor.fromArray(tv)).item());
        pv[n - 1] = Float.NaN;
        assertTrue(Float.isNaN(Loss.mse(Tensor.fromArray(pv), Tensor.fromArray(tv)).item()), "a NaN prediction");
    }

    /** The kernels' own checks: sizes, regions past a segment, outputs over inputs. */
    @Test
    void squaredErrorAndScaledDifferenceRefuseBadRegions() {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            java.lang.foreign.MemorySegment a = arena.allocate(4L * 10, 64);
            java.lang.foreign.MemorySegment b = arena.allocate(4L * 10, 64);
            java.lang.foreign.MemorySegment sums = arena.allocate(8, 8);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> dev.gatun.backend.Losses.squaredError(a, b, a, 10));
            assertTrue(e.getMessage().contains("block sums"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> dev.gatun.backend.Losses.squaredError(a, b, sums, 11));
            assertTrue(e.getMessage().contains("squaredError: predictions needs floats [0, 11)"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> dev.gatun.backend.Losses.squaredError(a, b, sums, 0));
            for (int i = 0; i < 10; i++) {
                a.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, i);
                b.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, 1);
            }
            java.lang.foreign.MemorySegment out = arena.allocate(4L * 10, 64);
            dev.gatun.backend.Losses.scaledDifference(a, b, out, 10, -0.5f);
            assertEquals(-4f, out.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, 9));
            assertEquals(0.5f, out.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, 0));
            e = assertThrows(IllegalArgumentException.class,
                    () -> dev.gatun.backend.Losses.scaledDifference(a, b, a.asSlice(4), 9, 2f));
            assertTrue(e.getMessage().contains("scaledDifference"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> dev.gatun.backend.Losses.scaledDifference(a, b, out, 11, 2f));
            assertTrue(e.getMessage().contains("scaledDifference: a needs floats [0, 11)"), e.getMessage());
        }
    }

    @Test
    void crossEntropyWithAndWithoutLabelSmoothing() {
        float[] logits = {2, -1, 0.5f, 0, 0, 3};
        int[] y = {0, 2};
        double want = 0;
        double wantSmoothed = 0;
        double eps = 0.1;
        for (int r = 0; r < 2; r++) {
            double lse = 0;
            for (int c = 0; c < 3; c++) lse += Math.exp(logits[3 * r + c]);
            lse = Math.log(lse);
            want += lse - logits[3 * r + y[r]];
            for (int c = 0; c < 3; c++) {
                double q = (c == y[r] ? 1 - eps : 0) + eps / 3;
                wantSmoothed += q * (lse - logits[3 * r + c]);
            }
        }
        Tensor z = Tensor.fromArray(logits, 2, 3);
        assertEquals(want / 2, Loss.crossEntropy(z, y).item(), 1e-6);
        assertEquals(wantSmoothed / 2, Loss.crossEntropy(z, y, 0.1f).item(), 1e-6);
        // Large logits do not overflow (the maximum is subtracted first).
        assertEquals(0, Loss.crossEntropy(Tensor.fromArray(new float[] {1000, 0}, 1, 2), new int[] {0}).item(), 1e-6);
    }

    @Test
    void badInputsAreNamed() {
        Tensor z = Tensor.zeros(2, 3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Loss.crossEntropy(z, new int[] {0, 3}));
        assertEquals("crossEntropy: target 3 at row 1 is not a class index in [0, 3)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Loss.crossEntropy(z, new int[] {0, -1}));
        assertTrue(e.getMessage().contains("target -1 at row 1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Loss.crossEntropy(z, new int[] {0, 1, 2}));
        assertEquals("crossEntropy: 3 targets for a batch of 2 rows", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Loss.crossEntropy(Tensor.zeros(6), new int[] {0}));
        assertTrue(e.getMessage().startsWith("crossEntropy expects logits of shape [N, C]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Loss.crossEntropy(z, new int[] {0, 1}, 1.5f));
        e = assertThrows(IllegalArgumentException.class, () -> Loss.mse(Tensor.zeros(2, 3), Tensor.zeros(3, 2)));
        assertEquals("mse: prediction shape [2, 3] differs from target shape [3, 2]", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Loss.binaryCrossEntropy(t(0.5f, 1.5f), t(0, 1)));
        assertTrue(e.getMessage().contains("probability 1.5 at index 1 is outside [0, 1]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Loss.binaryCrossEntropy(t(0.5f), t(2)));
        assertThrows(IllegalArgumentException.class, () -> Loss.mae(Tensor.zeros(0), Tensor.zeros(0)));
    }
}
