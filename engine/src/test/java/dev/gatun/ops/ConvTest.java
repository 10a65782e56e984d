package dev.gatun.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gatun.autograd.Autograd;
import dev.gatun.backend.ChannelBlock;
import dev.gatun.backend.Convolution;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Fixtures;
import dev.gatun.testing.ScopedTest;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * {@link Conv#conv2d}: forward against a double-precision direct convolution, gradients by central
 * differences, everything against PyTorch's numbers ({@code golden/conv.json}), the checks made before
 * oneDNN is called, and the primitive cache.
 */
class ConvTest extends ScopedTest {

    /** One convolution: shapes and hyper-parameters ({height, width} pairs). */
    record Config(String name, long[] input, long[] weight, boolean bias, int[] stride, int[] padding, int[] dilation,
                  int groups) {
        @Override
        public String toString() {
            return name;
        }
    }

    /** The same list as scripts/golden/conv_fixtures.py. */
    static final List<Config> CONFIGS = List.of(
            new Config("plain", shape(2, 3, 6, 5), shape(4, 3, 3, 3), true, pair(1, 1), pair(0, 0), pair(1, 1), 1),
            new Config("stride 2, padding 1", shape(2, 3, 7, 6), shape(4, 3, 3, 3), true, pair(2, 2), pair(1, 1),
                    pair(1, 1), 1),
            new Config("dilation 2, no bias", shape(1, 2, 7, 8), shape(3, 2, 3, 3), false, pair(1, 1), pair(1, 1),
                    pair(2, 2), 1),
            new Config("groups 2, non-square kernel", shape(2, 4, 5, 6), shape(6, 2, 3, 2), true, pair(1, 1),
                    pair(1, 0), pair(1, 1), 2),
            new Config("mixed per-dimension", shape(3, 4, 9, 7), shape(4, 2, 3, 3), false, pair(2, 1), pair(0, 2),
                    pair(1, 2), 2),
            new Config("5x5, padding 2", shape(2, 1, 8, 8), shape(3, 1, 5, 5), true, pair(1, 1), pair(2, 2),
                    pair(1, 1), 1));

    private static long[] shape(long... s) {
        return s;
    }

    private static int[] pair(int h, int w) {
        return new int[] {h, w};
    }

    private static Tensor run(Config c, Tensor x, Tensor w, Tensor b) {
        return Conv.conv2d(x, w, b, c.stride(), c.padding(), c.dilation(), c.groups());
    }

    /** The backend's geometry of a config. */
    private static Convolution.Geometry geometry(Config c) {
        return new Convolution.Geometry(c.input()[0], c.input()[1], c.input()[2], c.input()[3], c.weight()[0],
                c.weight()[2], c.weight()[3], c.stride()[0], c.stride()[1], c.padding()[0], c.padding()[1],
                c.dilation()[0], c.dilation()[1], c.groups(), c.bias());
    }

    /** Random operands of a config: input, weights and bias (null without one) with gradients, and r. */
    private record Operands(Tensor x, Tensor w, Tensor b, Tensor r) {}

    /**
     * x, w, b and an output-shaped r, drawn in that order from seeds {@code seed[0]}, {@code seed[0] + 1},
     * ... (advanced past the last one used); x records a gradient when {@code inputGradient}.
     */
    private static Operands operands(Config c, long[] seed, boolean inputGradient) {
        Tensor x = Tensor.randn(new Generator(seed[0]++), c.input());
        if (inputGradient) {
            x.requiresGrad(true);
        }
        Tensor w = Tensor.randn(new Generator(seed[0]++), c.weight()).requiresGrad(true);
        Tensor b = c.bias() ? Tensor.randn(new Generator(seed[0]++), c.weight()[0]).requiresGrad(true) : null;
        Tensor r = Tensor.randn(new Generator(seed[0]++), expectedOutputShape(c));
        return new Operands(x, w, b, r);
    }

    // ---------------------------------------------------------------- (a) forward vs. a direct reference

    /** The direct convolution in double precision: out[n][o][i][j] = b[o] + Σ x·w over its group's window. */
    static double[] reference(Config c, float[] x, float[] w, float[] b, long[] outShape) {
        int n = (int) c.input()[0], ch = (int) c.input()[1], h = (int) c.input()[2], wd = (int) c.input()[3];
        int o = (int) c.weight()[0], cg = (int) c.weight()[1], kh = (int) c.weight()[2], kw = (int) c.weight()[3];
        int oh = (int) outShape[2], ow = (int) outShape[3];
        int og = o / c.groups();
        double[] out = new double[n * o * oh * ow];
        for (int in = 0; in < n; in++) {
            for (int oc = 0; oc < o; oc++) {
                int group = oc / og;
                for (int i = 0; i < oh; i++) {
                    for (int j = 0; j < ow; j++) {
                        double s = b == null ? 0 : b[oc];
                        for (int ic = 0; ic < cg; ic++) {
                            int xc = group * cg + ic;
                            for (int p = 0; p < kh; p++) {
                                int y = i * c.stride()[0] - c.padding()[0] + p * c.dilation()[0];
                                if (y < 0 || y >= h) continue;
                                for (int q = 0; q < kw; q++) {
                                    int xx = j * c.stride()[1] - c.padding()[1] + q * c.dilation()[1];
                                    if (xx < 0 || xx >= wd) continue;
                                    s += (double) x[((in * ch + xc) * h + y) * wd + xx]
                                            * w[((oc * cg + ic) * kh + p) * kw + q];
                                }
                            }
                        }
                        out[((in * o + oc) * oh + i) * ow + j] = s;
                    }
                }
            }
        }
        return out;
    }

    /**
     * The gradients of L = Σ conv(x, w)·r in double precision, one group: {∂L/∂x, ∂L/∂w, ∂L/∂b}, each
     * output gradient r[n][o][i][j] sent back along the products that made out[n][o][i][j].
     */
    static double[][] backwardReference(Config c, float[] x, float[] w, float[] r, long[] outShape) {
        int n = (int) c.input()[0], ch = (int) c.input()[1], h = (int) c.input()[2], wd = (int) c.input()[3];
        int o = (int) c.weight()[0], kh = (int) c.weight()[2], kw = (int) c.weight()[3];
        int oh = (int) outShape[2], ow = (int) outShape[3];
        double[] dx = new double[x.length];
        double[] dw = new double[w.length];
        double[] db = new double[o];
        for (int in = 0; in < n; in++) {
            for (int oc = 0; oc < o; oc++) {
                for (int i = 0; i < oh; i++) {
                    for (int j = 0; j < ow; j++) {
                        double gy = r[((in * o + oc) * oh + i) * ow + j];
                        db[oc] += gy;
                        for (int ic = 0; ic < ch; ic++) {
                            for (int p = 0; p < kh; p++) {
                                int y = i * c.stride()[0] - c.padding()[0] + p * c.dilation()[0];
                                if (y < 0 || y >= h) continue;
                                for (int q = 0; q < kw; q++) {
                                    int xx = j * c.stride()[1] - c.padding()[1] + q * c.dilation()[1];
                                    if (xx < 0 || xx >= wd) continue;
                                    int xi = ((in * ch + ic) * h + y) * wd + xx;
                                    int wi = ((oc * ch + ic) * kh + p) * kw + q;
                                    dx[xi] += gy * w[wi];
                                    dw[wi] += gy * x[xi];
                                }
                            }
                        }
                    }
                }
            }
        }
        return new double[][] {dx, dw, db};
    }

    static long[] expectedOutputShape(Config c) {
        long[] out = new long[4];
        out[0] = c.input()[0];
        out[1] = c.weight()[0];
        for (int d = 0; d < 2; d++) {
            out[2 + d] = (c.input()[2 + d] + 2L * c.padding()[d] - (long) c.dilation()[d] * (c.weight()[2 + d] - 1) - 1)
                    / c.stride()[d] + 1;
        }
        return out;
    }

    @Test
    void forwardMatchesTheDirectReference() {
        long seed = 10;
        for (Config c : CONFIGS) {
            Tensor x = Tensor.randn(new Generator(seed++), c.input());
            Tensor w = Tensor.randn(new Generator(seed++), c.weight());
            Tensor b = c.bias() ? Tensor.randn(new Generator(seed++), c.weight()[0]) : null;
            Tensor y = run(c, x, w, b);
            long[] outShape = expectedOutputShape(c);
            assertArrayEquals(outShape, y.shape(), c.name());
            assertTrue(y.isContiguous(), c.name());
            double[] expected = reference(c, x.toArray(), w.toArray(), b == null ? null : b.toArray(), outShape);
            assertClose(c.name() + " forward", expected, y.toArray(), 1e-5, 1e-5);
        }
    }

    /** Plain NCHW and oneDNN's blocked layouts give the same output and gradients. */
    @Test
    void bothLayoutsAgree() {
        Convolution.Layout before = Convolution.layout();
        try {
            long[] seed = {50};
            for (Config c : CONFIGS) {
                Operands o = operands(c, seed, true);
                Tensor x = o.x(), w = o.w(), b = o.b(), r = o.r();
                float[][] results = new float[2][];
                float[][] dx = new float[2][];
                float[][] dw = new float[2][];
                Convolution.Layout[] layouts = {Convolution.Layout.PLAIN, Convolution.Layout.BLOCKED};
                for (int k = 0; k < 2; k++) {
                    Convolution.setLayout(layouts[k]);
                    x.setGrad(null);
                    w.setGrad(null);
                    Tensor y = run(c, x, w, b);
                    Reduce.sum(Arithmetic.mul(y, r)).backward();
                    results[k] = y.toArray();
                    dx[k] = x.grad().toArray();
                    dw[k] = w.grad().toArray();
                }
                assertClose(c.name() + " output", toDouble(results[0]), results[1], 1e-4, 1e-4);
                assertClose(c.name() + " input gradient", toDouble(dx[0]), dx[1], 1e-4, 1e-4);
                assertClose(c.name() + " weight gradient", toDouble(dw[0]), dw[1], 1e-4, 1e-4);
            }
        } finally {
            Convolution.setLayout(before);
        }
    }

    /**
     * Winograd (where oneDNN has it: AVX-512) and direct convolutions give the same output and gradients,
     * up to Winograd's rounding: its transforms add and subtract partial sums with coefficients up to 8
     * (F(4×4, 3×3)), so the error scales with the largest value rather than with each one. The largest
     * difference measured here is 1.4e-6 of the largest magnitude (an input gradient), against 2e-5
     * allowed; a wrong tile edge or transform is off by whole values.
     */
    @Test
    void winogradAgreesWithDirect() {
        Convolution.Algorithm before = Convolution.algorithm();
        boolean avx512 = dev.gatun.backend.OneDnn.effectiveCpuIsa().startsWith("avx512");
        List<Config> configs = List.of(
                new Config("32 to 32, odd width", shape(4, 32, 10, 9), shape(32, 32, 3, 3), false, pair(1, 1),
                        pair(1, 1), pair(1, 1), 1),
                new Config("16 to 48, bias", shape(2, 16, 7, 7), shape(48, 16, 3, 3), true, pair(1, 1), pair(1, 1),
                        pair(1, 1), 1));
        try {
            long[] seed = {300};
            for (Config c : configs) {
                Operands o = operands(c, seed, true);
                Tensor x = o.x(), w = o.w(), b = o.b(), r = o.r();
                Convolution.Geometry g = geometry(c);
                List<float[]> results = new ArrayList<>();
                for (Convolution.Algorithm alg : Convolution.Algorithm.values()) {
                    Convolution.setAlgorithm(alg);
                    Convolution.Algorithm expected = alg == Convolution.Algorithm.WINOGRAD && avx512
                            ? Convolution.Algorithm.WINOGRAD : Convolution.Algorithm.DIRECT;
                    for (Convolution.Kind kind : new Convolution.Kind[] {Convolution.Kind.FORWARD,
                        Convolution.Kind.BACKWARD_DATA, Convolution.Kind.BACKWARD_WEIGHTS}) {
                        assertEquals(expected, Convolution.algorithmUsed(kind, g), c.name() + " " + kind);
                    }
                    x.setGrad(null);
                    w.setGrad(null);
                    if (b != null) b.setGrad(null);
                    Tensor y = run(c, x, w, b);
                    Reduce.sum(Arithmetic.mul(y, r)).backward();
                    results.add(y.toArray());
                    results.add(x.grad().toArray());
                    results.add(w.grad().toArray());
                    if (b != null) results.add(b.grad().toArray());
                }
                String[] names = {"output", "input gradient", "weight gradient", "bias gradient"};
                int per = results.size() / 2;
                for (int k = 0; k < per; k++) {
                    double[] direct = toDouble(results.get(k));
                    double scale = 0;
                    for (double v : direct) scale = Math.max(scale, Math.abs(v));
                    assertClose(c.name() + " " + names[k], direct, results.get(per + k), 2e-5 * scale, 0);
                }
                // The output also against the double-precision definition.
                double[] exact = reference(c, x.toArray(), w.toArray(), b == null ? null : b.toArray(),
                        expectedOutputShape(c));
                assertClose(c.name() + " output vs definition", exact, results.get(per), 2e-4, 2e-5);
            }
        } finally {
            Convolution.setAlgorithm(before);
        }
    }

    /**
     * The weight gradient of convolutions over few input channels (plain input, blocked output), which
     * runs on gatun's kernel: against the double-precision definition, for kernel widths above and below
     * the kernel's column group of five, strides, dilation, padding and output channels that do not fill
     * a channel block, in 8- and (on AVX-512) 16-channel blocks.
     */
    @Test
    void weightGradientKernelMatchesTheDefinition() {
        List<Config> configs = List.of(
                new Config("LeNet-5 first layer", shape(3, 1, 12, 11), shape(20, 1, 5, 5), true, pair(1, 1),
                        pair(2, 2), pair(1, 1), 1),
                new Config("three channels, stride 2", shape(2, 3, 9, 10), shape(8, 3, 3, 3), false, pair(2, 2),
                        pair(1, 1), pair(1, 1), 1),
                new Config("7x7, dilation 2", shape(2, 1, 15, 13), shape(5, 1, 7, 7), true, pair(1, 1), pair(3, 3),
                        pair(2, 2), 1),
                new Config("2x4, mixed strides", shape(2, 2, 10, 9), shape(17, 2, 2, 4), true, pair(1, 2),
                        pair(1, 0), pair(1, 1), 1),
                // 12 filters take 16-channel blocks on AVX-512, the others 8: both widths of the kernel.
                new Config("12 filters", shape(2, 3, 8, 9), shape(12, 3, 3, 3), true, pair(1, 1), pair(1, 1),
                        pair(1, 1), 1));
        long[] seed = {400};
        for (Config c : configs) {
            Operands o = operands(c, seed, false);
            Tensor x = o.x(), w = o.w(), b = o.b(), r = o.r();
            long[] outShape = expectedOutputShape(c);
            Convolution.Geometry g = geometry(c);
            assertTrue(Convolution.weightGradientOnKernel(g), c.name() + ": expected the kernel path");
            Reduce.sum(Arithmetic.mul(run(c, x, w, b), r)).backward();

            double[][] expected = backwardReference(c, x.toArray(), w.toArray(), r.toArray(), outShape);
            double[] dw = expected[1];
            double[] db = expected[2];
            assertClose(c.name() + " weight gradient", dw, w.grad().toArray(), 1e-4, 1e-5);
            if (b != null) {
                assertClose(c.name() + " bias gradient", db, b.grad().toArray(), 1e-4, 1e-5);
            }
        }
    }

    /**
     * Convolutions whose channel counts pad less in 8-channel blocks (20 → 50, as in LeNet-5, and 50 → 64),
     * which compute on 8-lane kernels where the 512-bit units are half width, and 20 → 50 channels-last
     * where they are full width: output, input gradient, weight gradient and bias gradient against the
     * double-precision definition, and the layouts they ran in.
     */
    @Test
    void convolutionsInNarrowedBlocksMatchTheDefinition() {
        List<Config> configs = List.of(
                new Config("20 to 50, 5x5", shape(2, 20, 8, 7), shape(50, 20, 5, 5), true, pair(1, 1), pair(2, 2),
                        pair(1, 1), 1),
                new Config("50 to 64, 3x3 stride 2", shape(2, 50, 9, 8), shape(64, 50, 3, 3), false, pair(2, 2),
                        pair(1, 1), pair(1, 1), 1));
        long[] seed = {700};
        for (Config c : configs) {
            Convolution.Geometry g = geometry(c);
            int block = Convolution.block(g);
            String rule = System.getProperty("gatun.channel.block");
            if (rule == null || rule.equals("auto") || rule.equals("pad")) {
                assertEquals(ChannelBlock.widest() == 16 && !ChannelBlock.padsLeast() ? 16 : 8, block, c.name());
            }
            long[] outShape = expectedOutputShape(c);
            boolean fullWidth = ChannelBlock.widest() == 16 && !ChannelBlock.padsLeast();
            if ((rule == null || rule.equals("auto")) && System.getProperty("gatun.conv.channelsLast") == null) {
                // 20 → 50 pads its channel pairs 2.05 times in 16-blocks: channels-last where those are used.
                assertEquals(fullWidth && c.name().startsWith("20"), Convolution.trainsChannelsLast(g), c.name());
            }
            if (Convolution.layout() == Convolution.Layout.BLOCKED) {
                // The output is laid in its block, its channels padded to a multiple of it; or channels-last,
                // unpadded.
                long padded = Convolution.trainsChannelsLast(g) ? outShape[1]
                        : (outShape[1] + block - 1) / block * block;
                assertEquals(outShape[0] * padded * outShape[2] * outShape[3] * Float.BYTES,
                        Convolution.layouts(Convolution.Kind.FORWARD, g, Convolution.Fusion.NONE).dstBytes(),
                        c.name() + ": bytes of the blocked output");
            }
            Operands o = operands(c, seed, true);
            Tensor x = o.x(), w = o.w(), b = o.b(), r = o.r();
            Tensor y = run(c, x, w, b);
            float[] xv = x.toArray(), wv = w.toArray(), rv = r.toArray();
            assertClose(c.name() + " output", reference(c, xv, wv, b == null ? null : b.toArray(), outShape),
                    y.toArray(), 5e-4, 1e-4);
            Reduce.sum(Arithmetic.mul(y, r)).backward();

            double[][] expected = backwardReference(c, xv, wv, rv, outShape);
            double[] dx = expected[0];
            double[] dw = expected[1];
            double[] db = expected[2];
            assertClose(c.name() + " input gradient", dx, x.grad().toArray(), 5e-4, 1e-4);
            assertClose(c.name() + " weight gradient", dw, w.grad().toArray(), 5e-4, 1e-4);
            if (b != null) {
                assertClose(c.name() + " bias gradient", db, b.grad().toArray(), 5e-4, 1e-4);
            }
        }
    }

    private static double[] toDouble(float[] v) {
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) out[i] = v[i];
        return out;
    }

    @Test
    void forwardWithoutBiasEqualsBiasZero() {
        Config c = CONFIGS.get(1);
        Tensor x = Tensor.randn(new Generator(1), c.input());
        Tensor w = Tensor.randn(new Generator(2), c.weight());
        float[] a = run(c, x, w, null).toArray();
        float[] z = run(c, x, w, Tensor.zeros(c.weight()[0])).toArray();
        assertArrayEquals(a, z);
    }

    @Test
    void nonContiguousInputsAreCopiedFirst() {
        Config c = CONFIGS.get(0);
        Tensor x = Tensor.randn(new Generator(3), c.input());
        Tensor w = Tensor.randn(new Generator(4), c.weight());
        // The same values through views: x's last two dimensions swapped twice, w as a transposed copy.
        Tensor xt = Tensor.randn(new Generator(3), c.input()).transpose(2, 3).contiguous().transpose(2, 3);
        Tensor wt = w.transpose(0, 1).contiguous().transpose(0, 1);
        assertTrue(!xt.isContiguous() && !wt.isContiguous());
        assertArrayEquals(run(c, x, w, null).toArray(), run(c, xt, wt, null).toArray());
    }

    @Test
    void overloads() {
        Tensor x = Tensor.randn(new Generator(1), 1, 2, 6, 6);
        Tensor w = Tensor.randn(new Generator(2), 4, 2, 3, 3);
        Tensor b = Tensor.randn(new Generator(3), 4);
        assertArrayEquals(new long[] {1, 4, 4, 4}, Conv.conv2d(x, w, b).shape());
        assertArrayEquals(new long[] {1, 4, 3, 3}, Conv.conv2d(x, w, b, 2, 1).shape());
        assertArrayEquals(new long[] {1, 4, 2, 2}, Conv.conv2d(x, w, null, 1, 0, 2, 1).shape());
    }

    // ---------------------------------------------------------------- (b) finite-difference gradients

    @Test
    void gradientsByCentralDifferences() {
        long seed = 100;
        for (Config c : CONFIGS) {
            Tensor x = GradCheck.leaf(seed++, c.input());
            Tensor w = GradCheck.leaf(seed++, c.weight());
            if (c.bias()) {
                Tensor b = GradCheck.leaf(seed++, c.weight()[0]);
                GradCheck.check(c.name(), t -> run(c, t[0], t[1], t[2]), x, w, b);
            } else {
                GradCheck.check(c.name(), t -> run(c, t[0], t[1], null), x, w);
            }
        }
    }

    @Test
    void gradientsOnlyForInputsThatRequireThem() {
        Config c = CONFIGS.get(1);
        Tensor x = Tensor.randn(new Generator(1), c.input());
        Tensor w = GradCheck.leaf(2, c.weight());
        Tensor b = Tensor.randn(new Generator(3), c.weight()[0]);
        GradCheck.check("weight only", t -> run(c, t[0], t[1], t[2]), x, w, b);
        assertNull(x.grad());
        assertNull(b.grad());

        Tensor x2 = GradCheck.leaf(4, c.input());
        Tensor w2 = Tensor.randn(new Generator(5), c.weight());
        Tensor b2 = GradCheck.leaf(6, c.weight()[0]);
        GradCheck.check("input and bias", t -> run(c, t[0], t[1], t[2]), x2, w2, b2);
        assertNull(w2.grad());
    }

    @Test
    void gradientFlowsThroughANonContiguousInput() {
        Config c = CONFIGS.get(3);
        long[] s = c.input();
        Tensor x = GradCheck.leaf(7, s[0], s[1], s[3], s[2]);
        Tensor w = GradCheck.leaf(8, c.weight());
        GradCheck.check("transposed input", t -> run(c, t[0].transpose(2, 3), t[1], null), x, w);
    }

    @Test
    void noTapeUnderNoGrad() {
        Config c = CONFIGS.get(0);
        Tensor x = GradCheck.leaf(1, c.input());
        Tensor w = GradCheck.leaf(2, c.weight());
        try (var ignored = Autograd.noGrad()) {
            Tensor y = run(c, x, w, null);
            assertNull(y.gradFn());
        }
    }

    // ---------------------------------------------------------------- (c) PyTorch golden fixture

    /**
     * Tolerances against PyTorch: |gatun − torch| ≤ ATOL + RTOL·|torch|. Both compute in float32 but
     * sum in different orders (oneDNN's blocked kernels and PyTorch's im2col + GEMM), so results differ
     * by a few ulps of the partial sums. The outputs sum up to 27 products of unit-sized values, the
     * weight gradients up to N·OH·OW = 128; the largest difference measured over all configurations is
     * 5.7e-6 (absolute, a 5×5 weight gradient), 8e-5 relative (an output near zero). A wrong padding,
     * dilation or group mapping moves values by 0.1 or more.
     */
    static final double GOLDEN_ATOL = 2e-5;
    static final double GOLDEN_RTOL = 1e-5;

    static JsonNode golden() {
        return Fixtures.load("conv.json");
    }

    @Test
    void matchesPyTorch() throws IOException {
        JsonNode configs = golden().get("configs");
        assertEquals(CONFIGS.size(), configs.size(), "the fixture holds the test's configurations");
        for (int k = 0; k < configs.size(); k++) {
            JsonNode f = configs.get(k);
            Config c = CONFIGS.get(k);
            String name = f.get("name").asText();
            assertEquals(c.name(), name);
            assertArrayEquals(c.input(), Fixtures.longs(f.get("input_shape")), name);
            assertArrayEquals(c.weight(), Fixtures.longs(f.get("weight_shape")), name);
            assertArrayEquals(c.stride(), Fixtures.ints(f.get("stride")), name);
            assertArrayEquals(c.padding(), Fixtures.ints(f.get("padding")), name);
            assertArrayEquals(c.dilation(), Fixtures.ints(f.get("dilation")), name);
            assertEquals(c.groups(), f.get("groups").asInt(), name);
            assertEquals(c.bias(), !f.get("bias").isNull(), name);

            Tensor x = Tensor.fromArray(Fixtures.floats(f.get("input")), c.input()).requiresGrad(true);
            Tensor w = Tensor.fromArray(Fixtures.floats(f.get("weight")), c.weight()).requiresGrad(true);
            Tensor b = c.bias() ? Tensor.fromArray(Fixtures.floats(f.get("bias")), c.weight()[0]).requiresGrad(true) : null;
            Tensor y = run(c, x, w, b);
            assertArrayEquals(Fixtures.longs(f.get("output_shape")), y.shape(), name);
            compare(name + " output", Fixtures.floats(f.get("output")), y.toArray());
            Tensor r = Tensor.fromArray(Fixtures.floats(f.get("output_grad")), y.shape());
            Autograd.backward(y, r);
            compare(name + " input grad", Fixtures.floats(f.get("input_grad")), x.grad().toArray());
            compare(name + " weight grad", Fixtures.floats(f.get("weight_grad")), w.grad().toArray());
            if (b != null) {
                compare(name + " bias grad", Fixtures.floats(f.get("bias_grad")), b.grad().toArray());
            }
        }
    }

    private static void compare(String what, float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            double err = Math.abs((double) actual[i] - expected[i]);
            if (err > GOLDEN_ATOL + GOLDEN_RTOL * Math.abs(expected[i])) {
                throw new AssertionError(what + "[" + i + "]: gatun " + actual[i] + ", PyTorch " + expected[i]);
            }
        }
    }

    // ---------------------------------------------------------------- (d) bad configurations

    private static String rejects(Executable call) {
        return assertThrows(IllegalArgumentException.class, call).getMessage();
    }

    @Test
    void badConfigurationsAreRejectedWithTheirNumbers() {
        long before = Convolution.primitivesCreated();
        Tensor x = Tensor.randn(new Generator(1), 2, 4, 3, 3);
        Tensor w = Tensor.randn(new Generator(2), 5, 4, 5, 5);
        String m = rejects(() -> Conv.conv2d(x, w, null));
        assertEquals("conv2d: kernel 5×5 (dilation 1) is larger than the padded input 3×3", m);

        Tensor w3 = Tensor.randn(new Generator(3), 5, 4, 3, 3);
        m = rejects(() -> Conv.conv2d(x, w3, null, pair(1, 1), pair(0, 0), pair(2, 2), 1));
        assertTrue(m.contains("kernel 3×3 (dilation 2)") && m.contains("3×3"), m);

        m = rejects(() -> Conv.conv2d(x, w3, null, pair(0, 1), pair(1, 1), pair(1, 1), 1));
        assertTrue(m.contains("stride") && m.contains("0×1"), m);
        m = rejects(() -> Conv.conv2d(x, w3, null, pair(1, 1), pair(-1, 0), pair(1, 1), 1));
        assertTrue(m.contains("padding") && m.contains("-1×0"), m);
        m = rejects(() -> Conv.conv2d(x, w3, null, pair(1, 1), pair(1, 1), pair(0, 1), 1));
        assertTrue(m.contains("dilation") && m.contains("0×1"), m);
        m = rejects(() -> Conv.conv2d(x, w3, null, pair(Integer.MAX_VALUE, 1), pair(Integer.MAX_VALUE, 0),
                pair(1, 1), 1));
        assertTrue(m.contains("must stay below 2^31") && m.contains("padding 2147483647×0"), m);
        m = rejects(() -> Conv.conv2d(x, w3, null, pair(1, 1), pair(1, 1), pair(Integer.MAX_VALUE, 1), 1));
        assertTrue(m.contains("must stay below 2^31"), m);
        m = rejects(() -> Conv.conv2d(x, w3, null, pair(1, 1), pair(1, 1), pair(1, 1), 0));
        assertTrue(m.contains("groups") && m.contains("0"), m);
        m = rejects(() -> Conv.conv2d(x, w3, null, new int[] {1}, pair(1, 1), pair(1, 1), 1));
        assertTrue(m.contains("stride") && m.contains("[1]"), m);

        Tensor x3 = Tensor.randn(new Generator(4), 2, 3, 5, 5);
        Tensor w3g = Tensor.randn(new Generator(5), 4, 1, 3, 3);
        m = rejects(() -> Conv.conv2d(x3, w3g, null, pair(1, 1), pair(0, 0), pair(1, 1), 2));
        assertTrue(m.contains("input channels 3") && m.contains("groups 2"), m);
        Tensor w5 = Tensor.randn(new Generator(6), 5, 2, 3, 3);
        m = rejects(() -> Conv.conv2d(x, w5, null, pair(1, 1), pair(1, 1), pair(1, 1), 2));
        assertTrue(m.contains("output channels 5") && m.contains("groups 2"), m);

        Tensor w2 = Tensor.randn(new Generator(7), 4, 2, 3, 3);
        m = rejects(() -> Conv.conv2d(x3, w2, null));
        assertTrue(m.contains("[4, 2, 3, 3]") && m.contains("has 3"), m);

        m = rejects(() -> Conv.conv2d(Tensor.randn(new Generator(8), 3, 5, 5), w3, null));
        assertTrue(m.contains("[N, C, H, W]") && m.contains("[3, 5, 5]"), m);
        m = rejects(() -> Conv.conv2d(x, Tensor.randn(new Generator(9), 4, 3, 3), null));
        assertTrue(m.contains("weight") && m.contains("[4, 3, 3]"), m);
        m = rejects(() -> Conv.conv2d(x, w3, Tensor.randn(new Generator(10), 3)));
        assertTrue(m.contains("bias must be [5]") && m.contains("[3]"), m);
        m = rejects(() -> Conv.conv2d(Tensor.zeros(0, 3, 5, 5), Tensor.randn(new Generator(11), 4, 3, 3, 3), null));
        assertTrue(m.contains("N=0"), m);

        assertEquals(before, Convolution.primitivesCreated(), "no primitive was created for a bad configuration");
    }

    @Test
    void closedTensorsAreRejected() {
        Config c = CONFIGS.get(0);
        try (Scope own = Scope.open()) {
            Tensor x = Tensor.randn(new Generator(1), c.input());
            Tensor w = Tensor.randn(new Generator(2), c.weight());
            x.close();
            assertThrows(IllegalStateException.class, () -> run(c, x, w, null));
            Tensor x2 = Tensor.randn(new Generator(3), c.input());
            w.close();
            assertThrows(IllegalStateException.class, () -> run(c, x2, w, null));
        }
    }

    // ---------------------------------------------------------------- (e) the primitive cache

    @Test
    void aRepeatedTrainingStepCreatesNoPrimitive() {
        Config c = new Config("cache", shape(2, 3, 11, 9), shape(5, 3, 3, 3), true, pair(1, 2), pair(1, 1),
                pair(1, 1), 1);
        Runnable step = () -> {
            Tensor x = GradCheck.leaf(1, c.input());
            Tensor w = GradCheck.leaf(2, c.weight());
            Tensor b = GradCheck.leaf(3, c.weight()[0]);
            Reduce.sum(run(c, x, w, b)).backward();
        };
        step.run();
        long after = Convolution.primitivesCreated();
        step.run();
        step.run();
        assertEquals(after, Convolution.primitivesCreated(), "primitives created by repeated identical steps");
    }

    @Test
    void concurrentExecutionFromManyThreads() throws Exception {
        Config c = CONFIGS.get(3);
        Tensor x = Tensor.randn(new Generator(1), c.input());
        Tensor w = Tensor.randn(new Generator(2), c.weight());
        Tensor b = Tensor.randn(new Generator(3), c.weight()[0]);
        float[] expected = run(c, x, w, b).toArray();
        float[] xs = x.toArray();
        float[] ws = w.toArray();
        float[] bs = b.toArray();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<float[]>> results = new ArrayList<>();
            for (int t = 0; t < 16; t++) {
                results.add(pool.submit(() -> {
                    float[] last = null;
                    for (int i = 0; i < 20; i++) {
                        try (Scope s = Scope.open()) {
                            last = run(c, Tensor.fromArray(xs, c.input()), Tensor.fromArray(ws, c.weight()),
                                    Tensor.fromArray(bs, c.weight()[0])).toArray();
                        }
                    }
                    return last;
                }));
            }
            for (Future<float[]> f : results) {
                assertArrayEquals(expected, f.get());
            }
        }
    }

    private static void assertClose(String what, double[] expected, float[] actual, double atol, double rtol) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            if (Math.abs(actual[i] - expected[i]) > atol + rtol * Math.abs(expected[i])) {
                throw new AssertionError(what + "[" + i + "]: " + actual[i] + " vs reference " + expected[i]
                        + " " + Arrays.toString(new double[] {atol, rtol}));
            }
        }
    }
}
