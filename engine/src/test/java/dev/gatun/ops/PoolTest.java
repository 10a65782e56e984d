package dev.gatun.ops;

import static dev.gatun.ops.GradCheck.check;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gatun.autograd.Autograd;
import dev.gatun.nn.AvgPool2d;
import dev.gatun.nn.MaxPool2d;
import dev.gatun.nn.ReLU;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Fixtures;
import dev.gatun.testing.ScopedTest;
import java.io.IOException;
import java.time.Duration;
import java.util.Arrays;
import java.util.function.Function;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

class PoolTest extends ScopedTest {

    /** Direct pooling in double: max, or average counting padding (includePad) or not. */
    private static float[] reference(float[] x, long[] s, boolean max, boolean includePad, int[] k, int[] st, int[] p,
                                     int[] d, long oh, long ow) {
        int n = (int) s[0], c = (int) s[1], h = (int) s[2], w = (int) s[3];
        float[] out = new float[(int) (n * c * oh * ow)];
        int o = 0;
        for (int b = 0; b < n; b++) {
            for (int ch = 0; ch < c; ch++) {
                for (int i = 0; i < oh; i++) {
                    for (int j = 0; j < ow; j++) {
                        double best = Double.NEGATIVE_INFINITY;
                        double sum = 0;
                        int inside = 0;
                        for (int u = 0; u < k[0]; u++) {
                            for (int v = 0; v < k[1]; v++) {
                                int y = i * st[0] - p[0] + u * d[0];
                                int z = j * st[1] - p[1] + v * d[1];
                                if (y < 0 || y >= h || z < 0 || z >= w) continue;
                                double val = x[((b * c + ch) * h + y) * w + z];
                                best = Math.max(best, val);
                                sum += val;
                                inside++;
                            }
                        }
                        out[o++] = (float) (max ? best : sum / (includePad ? k[0] * k[1] : inside));
                    }
                }
            }
        }
        return out;
    }

    /** Distinct values at least 0.1 apart, so that finite differences never change a maximum. */
    private static Tensor distinct(long seed, long... shape) {
        Tensor t = Tensor.zeros(shape);
        int n = (int) t.numel();
        float[] v = new float[n];
        java.util.SplittableRandom rng = new java.util.SplittableRandom(seed);
        for (int i = 0; i < n; i++) v[i] = i * 0.1f;
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            float tmp = v[i];
            v[i] = v[j];
            v[j] = tmp;
        }
        return t.copyFrom(v).requiresGrad(true);
    }

    @Test
    void forwardMatchesTheDirectDefinition() {
        int[][][] configs = { // kernel, stride, padding, dilation
            {{2, 2}, {2, 2}, {0, 0}, {1, 1}}, {{3, 3}, {2, 2}, {1, 1}, {1, 1}}, {{3, 2}, {1, 2}, {1, 0}, {1, 1}},
            {{3, 3}, {1, 1}, {1, 1}, {2, 2}}};
        long[] shape = {2, 3, 9, 8};
        Tensor x = Tensor.randn(new Generator(1), shape);
        float[] xv = x.toArray();
        for (int[][] c : configs) {
            Tensor maxOut = Pool.maxPool2d(x, c[0], c[1], c[2], c[3]);
            long oh = maxOut.size(2), ow = maxOut.size(3);
            assertArrayEquals(reference(xv, shape, true, true, c[0], c[1], c[2], c[3], oh, ow), maxOut.toArray(), 0f);
            if (c[3][0] == 1) {
                for (boolean include : new boolean[] {true, false}) {
                    Tensor avg = Pool.avgPool2d(x, c[0], c[1], c[2], include);
                    assertArrayEquals(reference(xv, shape, false, include, c[0], c[1], c[2], c[3], oh, ow), avg.toArray(),
                            1e-5f);
                }
            }
        }
        assertArrayEquals(new long[] {2, 3, 4, 4}, Pool.maxPool2d(x, 2).shape());
    }

    /** Distinct values 0.1 apart around 0 (none within 0.05 of it), shuffled. */
    private static Tensor distinctAroundZero(long seed, long... shape) {
        Tensor t = distinct(seed, shape);
        float[] v = t.toArray();
        for (int i = 0; i < v.length; i++) v[i] = v[i] - v.length * 0.05f + 0.05f;
        return Tensor.zeros(shape).copyFrom(v).requiresGrad(true);
    }

    /**
     * maxPool2dAfterRelu (one pass) against relu then maxPool2d (two), exactly, forward and backward,
     * with windows that hold nothing above 0; its gradient by finite differences; and the Sequential that
     * folds ReLU → MaxPool2d into it when recording.
     */
    @Test
    void reluFoldedIntoMaxPoolingMatchesTheTwoOps() {
        int[][][] configs = { // kernel, stride, padding, dilation
            {{2, 2}, {2, 2}, {0, 0}, {1, 1}}, {{3, 3}, {2, 2}, {1, 1}, {1, 1}}, {{2, 3}, {1, 2}, {1, 0}, {2, 1}}};
        long seed = 20;
        for (int[][] c : configs) {
            float[] values = distinctAroundZero(seed++, 2, 3, 8, 9).toArray();
            Tensor a = Tensor.zeros(2, 3, 8, 9).copyFrom(values).requiresGrad(true);
            Tensor b = Tensor.zeros(2, 3, 8, 9).copyFrom(values).requiresGrad(true);
            Tensor fused = Pool.maxPool2dAfterRelu(a, c[0], c[1], c[2], c[3]);
            Tensor twoOps = Pool.maxPool2d(Activation.relu(b), c[0], c[1], c[2], c[3]);
            assertEquals("maxPool2dAfterRelu", fused.gradFn().op());
            Tensor r = Tensor.randn(new Generator(seed++), fused.shape());
            Reduce.sum(Arithmetic.mul(fused, r)).backward();
            Reduce.sum(Arithmetic.mul(twoOps, r)).backward();
            assertArrayEquals(twoOps.toArray(), fused.toArray());
            // Equal values; delta 0 lets the ReLU's masked −0 match the pooling's untouched +0.
            assertArrayEquals(b.grad().toArray(), a.grad().toArray(), 0f);
            check("relu + maxPool2d", in -> Pool.maxPool2dAfterRelu(in[0], c[0], c[1], c[2], c[3]),
                    distinctAroundZero(seed++, 1, 2, 7, 6));
        }
        Tensor x = distinctAroundZero(40, 2, 2, 6, 6);
        dev.gatun.nn.Sequential seq = new dev.gatun.nn.Sequential(new ReLU(),
                new MaxPool2d(2));
        Tensor y = seq.forward(x);
        assertEquals("maxPool2dAfterRelu", y.gradFn().op());
        assertArrayEquals(Pool.maxPool2d(Activation.relu(x), 2).toArray(), y.toArray());
        try (var ignored = Autograd.noGrad()) {
            assertArrayEquals(y.toArray(), seq.forward(x).toArray());
        }
    }

    @Test
    void gradientsByFiniteDifferences() {
        Tensor x = distinct(3, 1, 2, 7, 6);
        check("maxPool2d 2x2", in -> Pool.maxPool2d(in[0], 2), x);
        check("maxPool2d 3x3 s2 p1", in -> Pool.maxPool2d(in[0], new int[] {3, 3}, new int[] {2, 2}, new int[] {1, 1},
                new int[] {1, 1}), x);
        check("maxPool2d dilation 2", in -> Pool.maxPool2d(in[0], new int[] {2, 2}, new int[] {1, 1}, new int[] {0, 0},
                new int[] {2, 2}), x);
        // Windows of more than 256 positions; a smaller step keeps each nudge below the values' 0.1 spacing.
        Tensor big = distinct(5, 1, 1, 18, 17);
        GradCheck.check("maxPool2d 17x17", 1e-3, 2e-2, 2e-3, in -> Pool.maxPool2d(in[0], new int[] {17, 17},
                new int[] {1, 1}, new int[] {0, 0}, new int[] {1, 1}), big);
        Tensor y = GradCheck.leaf(4, 2, 2, 6, 5);
        check("avgPool2d 2x2", in -> Pool.avgPool2d(in[0], 2), y);
        check("avgPool2d 3x3 p1 include pad", in -> Pool.avgPool2d(in[0], new int[] {3, 3}, new int[] {2, 1},
                new int[] {1, 1}, true), y);
        check("avgPool2d 3x3 p1 exclude pad", in -> Pool.avgPool2d(in[0], new int[] {3, 3}, new int[] {2, 1},
                new int[] {1, 1}, false), y);
        check("globalAvgPool2d", in -> Pool.globalAvgPool2d(in[0]), y);
    }

    @Test
    void matchesPyTorch() throws IOException {
        JsonNode fixture = Fixtures.load("pool.json");
        for (JsonNode c : fixture.get("cases")) {
            long[] shape = Fixtures.longs(c.get("shape"));
            Tensor x = Tensor.zeros(shape).copyFrom(Fixtures.floats(c.get("x"))).requiresGrad(true);
            int[] k = Fixtures.ints(c.get("kernel")), s = Fixtures.ints(c.get("stride")), p = Fixtures.ints(c.get("padding"));
            Tensor out = c.get("kind").asText().equals("max")
                    ? Pool.maxPool2d(x, k, s, p, Fixtures.ints(c.get("dilation")))
                    : Pool.avgPool2d(x, k, s, p, c.get("count_include_pad").asBoolean());
            String name = c.get("name").asText();
            assertArrayEquals(Fixtures.longs(c.get("out_shape")), out.shape(), name);
            assertArrayEquals(Fixtures.floats(c.get("out")), out.toArray(), 1e-6f, name);
            Tensor r = Tensor.zeros(out.shape()).copyFrom(Fixtures.floats(c.get("r")));
            Reduce.sum(Arithmetic.mul(out, r)).backward();
            assertArrayEquals(Fixtures.floats(c.get("grad")), x.grad().toArray(), 1e-6f, name + " gradient");
        }
    }

    @Test
    void impossibleConfigurationsNameTheirNumbers() {
        Tensor x = Tensor.zeros(1, 1, 3, 3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Pool.maxPool2d(x, 5));
        assertTrue(e.getMessage().contains("kernel 5×5") && e.getMessage().contains("padded input 3×3"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Pool.maxPool2d(x, new int[] {2, 2}, new int[] {0, 1}, new int[] {0, 0}, new int[] {1, 1}));
        assertTrue(e.getMessage().contains("stride 0×1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Pool.avgPool2d(x, new int[] {2, 2}, new int[] {1, 1}, new int[] {2, 0}, true));
        assertTrue(e.getMessage().contains("padding 2×0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Pool.maxPool2d(Tensor.zeros(3, 3), 2));
        assertTrue(e.getMessage().contains("expects [N, C, H, W]"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> Pool.maxPool2d(x, new int[] {2}, new int[] {1, 1}, new int[] {0, 0}, new int[] {1, 1}));
        Tensor closed = Tensor.zeros(1, 1, 4, 4);
        closed.close();
        assertThrows(IllegalStateException.class, () -> Pool.maxPool2d(closed, 2));
    }

    /** An IllegalArgumentException from {@code call}, whose message holds every one of {@code words}. */
    private static void rejects(Executable call, String... words) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        for (String w : words) {
            assertTrue(e.getMessage().contains(w), "\"" + w + "\" not in: " + e.getMessage());
        }
    }

    private static int[] two(int v) {
        return new int[] {v, v};
    }

    /** Runs {@code checks}, failing rather than hanging if a geometry reaches native code that spins on it. */
    private static void quickly(Executable checks) {
        assertTimeoutPreemptively(Duration.ofSeconds(10), checks);
    }

    /**
     * A 2^30 window with 2^29 padding over 4×4, which PyTorch's rules accept: it spun in oneDNN's
     * primitive creation, gigabytes deep. Its 2^60 positions are rejected, for the functional ops
     * (plain and with the ReLU folded in) and the layer, which checks it when built.
     */
    @Test
    void aHugeMaxWindowIsRejected() {
        quickly(() -> {
            Tensor x = Tensor.zeros(1, 1, 4, 4);
            int[] one = two(1);
            rejects(() -> Pool.maxPool2d(x, two(1 << 30), one, two(1 << 29), one), "kernel 1073741824×1073741824");
            rejects(() -> Pool.maxPool2dAfterRelu(x.requiresGrad(true), two(1 << 30), one, two(1 << 29), one),
                    "kernel 1073741824×1073741824");
            rejects(() -> new MaxPool2d(1 << 30, 1, 1 << 29, 1), "kernel 1073741824×1073741824");
            rejects(() -> Pool.maxPool2d(x, two(Integer.MAX_VALUE), one, two(0), one), "kernel 2147483647");
        });
    }

    /**
     * A 65536×65536 average window (with padding 32768, so that PyTorch's rules accept it over 4×4): its
     * 2^32 positions overflowed oneDNN's 32-bit divisor to 0, giving ±∞. Rejected, counting the padding
     * or not, for the functional op and the layer.
     */
    @Test
    void aHugeAverageWindowIsRejected() {
        quickly(() -> {
            Tensor x = Tensor.ones(1, 1, 4, 4);
            for (boolean include : new boolean[] {true, false}) {
                rejects(() -> Pool.avgPool2d(x, two(65536), two(1), two(32768), include), "kernel 65536×65536");
                rejects(() -> new AvgPool2d(65536, 1, 32768, include), "kernel 65536×65536");
            }
            // 46341² is the first square past 2^31 − 1.
            rejects(() -> new MaxPool2d(46341, 1, 0, 1), "kernel 46341×46341");
        });
    }

    /**
     * Padding larger than the input, which PyTorch's rules allow once the kernel is twice as large: the
     * windows then grow with the padding, not with the input (while the first one, undilated, already
     * covers the whole input). Rejected, naming padding and input, at run time (the layers cannot know
     * the input when built).
     */
    @Test
    void paddingLargerThanTheInputIsRejected() {
        quickly(() -> {
            Tensor x = Tensor.ones(1, 1, 4, 4);
            int[] one = two(1);
            for (boolean include : new boolean[] {true, false}) {
                rejects(() -> Pool.avgPool2d(x, new int[] {65536, 1}, one, new int[] {32768, 0}, include),
                        "padding 32768×0", "input 4×4");
                rejects(() -> new AvgPool2d(10, 1, 5, include).forward(x), "padding 5×5", "input 4×4");
            }
            rejects(() -> Pool.maxPool2d(x, new int[] {1, 12}, one, new int[] {0, 6}, one), "padding 0×6",
                    "input 4×4");
            rejects(() -> new MaxPool2d(10, 1, 5, 1).forward(x), "padding 5×5", "input 4×4");
        });
    }

    /**
     * Sizes past 32 bits: oneDNN checks a pooling's geometry in 32-bit integers (padded input, padding
     * plus stride), so a stride of 2^31 − 1 with padding 1 failed there with an opaque error; and a
     * dilated window past 2^31.
     */
    @Test
    void sizesPast32BitsAreRejected() {
        quickly(() -> {
            Tensor x = Tensor.ones(1, 1, 4, 4);
            int[] one = two(1);
            rejects(() -> Pool.maxPool2d(x, two(2), two(Integer.MAX_VALUE), one, one), "stride 2147483647",
                    "padded input 6");
            rejects(() -> Pool.avgPool2d(x, two(2), new int[] {1, Integer.MAX_VALUE}, one, true),
                    "stride 1×2147483647");
            rejects(() -> Pool.maxPool2d(x, two(3), one, one, two(1 << 30)), "dilation 1073741824");
        });
    }

    /** Zero and negative sizes, as PyTorch rejects them, from the functional ops and from the layers when built. */
    @Test
    void zeroAndNegativeValuesAreRejected() {
        Tensor x = Tensor.ones(1, 1, 4, 4);
        int[] one = two(1), zero = two(0);
        rejects(() -> Pool.maxPool2d(x, two(0), one, zero, one), "kernel 0×0");
        rejects(() -> Pool.maxPool2d(x, two(-1), one, zero, one), "kernel -1×-1");
        rejects(() -> Pool.maxPool2d(x, two(2), new int[] {-1, 1}, zero, one), "stride -1×1");
        rejects(() -> Pool.maxPool2d(x, two(2), one, new int[] {0, -1}, one), "padding 0×-1");
        rejects(() -> Pool.maxPool2d(x, two(2), one, zero, two(0)), "dilation 0×0");
        rejects(() -> Pool.avgPool2d(x, two(0), one, zero, true), "kernel 0×0");
        rejects(() -> Pool.avgPool2d(x, two(2), two(-2), zero, true), "stride -2×-2");
        rejects(() -> Pool.avgPool2d(x, two(2), one, two(-1), false), "padding -1×-1");
        rejects(() -> new MaxPool2d(0), "kernel 0×0");
        rejects(() -> new MaxPool2d(-3), "kernel -3×-3");
        rejects(() -> new MaxPool2d(2, 0, 0, 1), "stride 0×0");
        rejects(() -> new MaxPool2d(2, 1, -1, 1), "padding -1×-1");
        rejects(() -> new MaxPool2d(3, 1, 2, 1), "padding 2×2");
        rejects(() -> new MaxPool2d(2, 1, 0, 0), "dilation 0×0");
        rejects(() -> new AvgPool2d(0), "kernel 0×0");
        rejects(() -> new AvgPool2d(2, -1, 0, true), "stride -1×-1");
        rejects(() -> new AvgPool2d(4, 1, 3, false), "padding 3×3");
    }

    /**
     * Geometries at the edge of the rules still run: a 3×3 window with padding 1 over a 1×1 input (the
     * padding as large as the input), a window as large as the padded input, and a stride past it.
     */
    @Test
    void edgeGeometriesStillRun() {
        Tensor x = Tensor.randn(new Generator(9), 1, 2, 1, 1);
        int[] one = two(1);
        assertArrayEquals(x.toArray(), Pool.maxPool2d(x, two(3), one, one, one).toArray());
        assertArrayEquals(x.toArray(), Pool.avgPool2d(x, two(3), one, one, false).toArray());
        Tensor y = Tensor.randn(new Generator(10), 1, 1, 4, 4);
        float[] v = y.toArray();
        float max = Float.NEGATIVE_INFINITY, sum = 0;
        for (float f : v) {
            max = Math.max(max, f);
            sum += f;
        }
        assertArrayEquals(new float[] {max}, Pool.maxPool2d(y, two(6), two(Integer.MAX_VALUE - 8), one, one)
                .toArray());
        assertEquals(sum / 36, Pool.avgPool2d(y, two(6), two(1000), two(1), true).toArray()[0], 1e-6f);
        assertEquals(sum / 16, Pool.globalAvgPool2d(Pool.avgPool2d(y, 1)).toArray()[0], 1e-6f);
    }

    /** The 4×5 input of the NaN tests: windows all NaN, partly NaN, without NaN, and all below 0. */
    private static final float[] NAN_INPUT = {
        Float.NaN, Float.NaN, 1, 2, Float.NaN,
        Float.NaN, Float.NaN, 3, Float.NaN, 4,
        5, 6, -7, -8, 9,
        -1, Float.NaN, -2, -3, -4};

    private static final float N = Float.NaN;

    /**
     * PyTorch 1.13's max_pool2d of {@link #NAN_INPUT} (of its ReLU with {@code relu}), and the gradient of
     * sum(out · r), r = 1, 2, … over the output, for kernel, stride, padding, dilation:
     * <pre>
     * y = F.max_pool2d(x, k, s, p, d)  # or F.max_pool2d(F.relu(x), ...)
     * (y * torch.arange(1, y.numel() + 1).reshape(y.shape)).sum().backward()
     * </pre>
     * A window with any NaN gives NaN, and its gradient goes to its last NaN (row-major).
     */
    private static final Object[][] NAN_CASES = { // {kernel, stride, padding, dilation}, out, relu out, grad, relu grad
        {new int[] {2, 2, 0, 1}, new float[] {N, N, N, -2}, new float[] {N, N, N, 0},
            new float[] {0, 0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 4, 0, 0},
            new float[] {0, 0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0}},
        {new int[] {3, 1, 1, 1}, new float[] {N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, 9, 9},
            new float[] {N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, 9, 9},
            new float[] {0, 0, 0, 0, 0, 0, 16, 0, 68, 0, 0, 0, 0, 0, 39, 0, 87, 0, 0, 0},
            new float[] {0, 0, 0, 0, 0, 0, 16, 0, 68, 0, 0, 0, 0, 0, 39, 0, 87, 0, 0, 0}},
        {new int[] {2, 1, 1, 2}, new float[] {N, N, N, 4, N, N, N, N, N, 2, N, N, N, 4, N, 6, 5, 6, 9, -8},
            new float[] {N, N, N, 4, N, N, N, N, N, 2, N, N, N, 4, N, 6, 5, 6, 9, 0},
            new float[] {7, 14, 0, 10, 9, 14, 1, 0, 23, 18, 17, 34, 0, 20, 19, 0, 24, 0, 0, 0},
            new float[] {7, 14, 0, 10, 9, 14, 1, 0, 23, 18, 17, 34, 0, 0, 19, 0, 24, 0, 0, 0}},
    };

    /** {@code per} repeated for each of {@code channels} channels. */
    private static float[] perChannel(float[] per, int channels) {
        float[] out = new float[per.length * channels];
        for (int c = 0; c < channels; c++) System.arraycopy(per, 0, out, c * per.length, per.length);
        return out;
    }

    /**
     * Max pooling propagates NaN as PyTorch does, in evaluation (no gradient) and in training, plain and
     * with the ReLU folded in, from a plain input and from one held in the channel-blocked layout (the
     * output of an identity average pooling); 3 and 16 channels, so both channel blocks run where the
     * machine has both. Values are PyTorch's ({@link #NAN_CASES}), the gradient's too.
     */
    @Test
    void maxPoolingPropagatesNaNAsPyTorchDoes() {
        for (int channels : new int[] {3, 16}) {
            long[] shape = {1, channels, 4, 5};
            for (Object[] c : NAN_CASES) {
                int[] g = (int[]) c[0];
                int[] k = two(g[0]), s = two(g[1]), p = two(g[2]), d = two(g[3]);
                for (boolean relu : new boolean[] {false, true}) {
                    float[] want = perChannel((float[]) c[relu ? 2 : 1], channels);
                    float[] wantGrad = perChannel((float[]) c[relu ? 4 : 3], channels);
                    for (boolean blocked : new boolean[] {false, true}) {
                        String what = channels + " channels, " + Arrays.toString(g) + (relu ? ", relu" : "")
                                + (blocked ? ", blocked input" : ", plain input");
                        Supplier<Tensor> input = () -> Tensor.zeros(shape).copyFrom(perChannel(NAN_INPUT, channels));
                        Function<Tensor, Tensor> pool = in -> {
                            Tensor h = blocked ? Pool.avgPool2d(in, 1) : in;
                            if (blocked) assertNotNull(h.layout(), what);
                            return relu ? Pool.maxPool2dAfterRelu(h, k, s, p, d) : Pool.maxPool2d(h, k, s, p, d);
                        };
                        try (var ignored = Autograd.noGrad()) {
                            assertArrayEquals(want, pool.apply(input.get()).toArray(), what + ", evaluation");
                        }
                        Tensor x = input.get().requiresGrad(true);
                        Tensor y = pool.apply(x);
                        assertArrayEquals(want, y.toArray(), what + ", training");
                        float[] r = new float[(int) y.numel()];
                        for (int i = 0; i < r.length; i++) r[i] = i % (r.length / channels) + 1;
                        Reduce.sum(Arithmetic.mul(y, Tensor.zeros(y.shape()).copyFrom(r))).backward();
                        assertArrayEquals(wantGrad, x.grad().toArray(), what + ", gradient");
                    }
                }
            }
        }
    }

    @Test
    void inferenceNeedsNoWorkspace() {
        Tensor x = Tensor.randn(new Generator(2), 1, 1, 4, 4).requiresGrad(true);
        try (var ignored = Autograd.noGrad()) {
            Tensor y = Pool.maxPool2d(x, 2);
            assertTrue(y.gradFn() == null);
            assertEquals(4, y.numel());
        }
    }

}
