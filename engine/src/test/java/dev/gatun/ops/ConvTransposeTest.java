package dev.gatun.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gatun.autograd.Autograd;
import dev.gatun.backend.Convolution;
import dev.gatun.backend.Deconvolution;
import dev.gatun.nn.ConvTranspose2d;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Fixtures;
import dev.gatun.testing.ScopedTest;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * {@link ConvTranspose#convTranspose2d} and {@link ConvTranspose2d}: forward and backward against a
 * double-precision scatter of every input element, gradients by central differences, everything
 * against PyTorch's numbers ({@code golden/conv_transpose.json}), plain and blocked layouts, the checks
 * made before oneDNN is called, and the primitive cache.
 */
class ConvTransposeTest extends ScopedTest {

    /** One transposed convolution: shapes and hyper-parameters ({height, width} pairs), PyTorch's order. */
    record Config(String name, long[] input, long[] weight, boolean bias, int[] stride, int[] padding,
                  int[] outputPadding, int groups, int[] dilation) {
        long outChannels() {
            return weight[1] * groups;
        }

        @Override
        public String toString() {
            return name;
        }
    }

    /** The same list as scripts/golden/generative_fixtures.py. */
    static final List<Config> CONFIGS = List.of(
            new Config("plain", shape(2, 3, 4, 5), shape(3, 4, 3, 3), true, pair(1, 1), pair(0, 0), pair(0, 0), 1,
                    pair(1, 1)),
            new Config("stride 2, padding 1, output padding 1", shape(2, 3, 5, 4), shape(3, 2, 3, 3), true, pair(2, 2),
                    pair(1, 1), pair(1, 1), 1, pair(1, 1)),
            new Config("DCGAN 4x4, stride 2, padding 1", shape(2, 4, 7, 7), shape(4, 3, 4, 4), true, pair(2, 2),
                    pair(1, 1), pair(0, 0), 1, pair(1, 1)),
            new Config("dilation 2, no bias", shape(1, 2, 5, 6), shape(2, 3, 3, 3), false, pair(1, 1), pair(1, 1),
                    pair(0, 0), 1, pair(2, 2)),
            new Config("groups 2, non-square kernel", shape(2, 4, 5, 6), shape(4, 3, 3, 2), true, pair(2, 1),
                    pair(1, 0), pair(1, 0), 2, pair(1, 1)),
            new Config("output padding past the padding", shape(2, 3, 4, 4), shape(3, 2, 3, 3), true, pair(3, 3),
                    pair(0, 0), pair(2, 2), 1, pair(1, 1)),
            new Config("mixed per-dimension, groups 3", shape(2, 6, 4, 5), shape(6, 1, 2, 3), true, pair(1, 3),
                    pair(2, 1), pair(1, 2), 3, pair(2, 1)),
            new Config("output padding from the dilation", shape(1, 2, 4, 4), shape(2, 2, 3, 3), true, pair(1, 1),
                    pair(0, 0), pair(1, 1), 1, pair(2, 2)),
            new Config("padding larger than the kernel", shape(1, 2, 6, 6), shape(2, 2, 3, 3), true, pair(1, 1),
                    pair(3, 3), pair(0, 0), 1, pair(1, 1)),
            new Config("every output past the taps", shape(1, 2, 1, 1), shape(2, 2, 1, 1), true, pair(3, 3),
                    pair(1, 1), pair(2, 2), 1, pair(1, 1)));

    private static long[] shape(long... s) {
        return s;
    }

    private static int[] pair(int h, int w) {
        return new int[] {h, w};
    }

    static Tensor run(Config c, Tensor x, Tensor w, Tensor b) {
        return ConvTranspose.convTranspose2d(x, w, b, c.stride(), c.padding(), c.outputPadding(), c.groups(),
                c.dilation());
    }

    static long[] expectedOutputShape(Config c) {
        long[] out = {c.input()[0], c.outChannels(), 0, 0};
        for (int d = 0; d < 2; d++) {
            out[2 + d] = (c.input()[2 + d] - 1) * c.stride()[d] - 2L * c.padding()[d]
                    + (long) c.dilation()[d] * (c.weight()[2 + d] - 1) + c.outputPadding()[d] + 1;
        }
        return out;
    }

    // ---------------------------------------------------------------- (a) against a double-precision scatter

    /**
     * The definition in double precision: each input element x[n][ci][i][j] adds x·w[ci][o][p][q] to
     * out[n][group·og + o][i·s − pad + p·d][j·s − pad + q·d] where that lies in the output; and the
     * gradients of L = Σ out·r along the same products. Returns {out, ∂x, ∂w, ∂b}.
     */
    static double[][] reference(Config c, float[] x, float[] w, float[] b, float[] r) {
        int n = (int) c.input()[0], ch = (int) c.input()[1], h = (int) c.input()[2], wd = (int) c.input()[3];
        int og = (int) c.weight()[1], kh = (int) c.weight()[2], kw = (int) c.weight()[3];
        int cg = ch / c.groups();
        long[] os = expectedOutputShape(c);
        int o = (int) os[1], oh = (int) os[2], ow = (int) os[3];
        double[] out = new double[n * o * oh * ow];
        double[] dx = new double[x.length];
        double[] dw = new double[w.length];
        double[] db = new double[o];
        for (int in = 0; in < n; in++) {
            for (int oc = 0; oc < o; oc++) {
                for (int k = 0; k < oh * ow; k++) {
                    int oi = (in * o + oc) * oh * ow + k;
                    out[oi] = b == null ? 0 : b[oc];
                    if (r != null) db[oc] += r[oi];
                }
            }
            for (int ci = 0; ci < ch; ci++) {
                int group = ci / cg;
                for (int i = 0; i < h; i++) {
                    for (int j = 0; j < wd; j++) {
                        int xi = ((in * ch + ci) * h + i) * wd + j;
                        for (int oo = 0; oo < og; oo++) {
                            int oc = group * og + oo;
                            for (int p = 0; p < kh; p++) {
                                int y = i * c.stride()[0] - c.padding()[0] + p * c.dilation()[0];
                                if (y < 0 || y >= oh) continue;
                                for (int q = 0; q < kw; q++) {
                                    int xx = j * c.stride()[1] - c.padding()[1] + q * c.dilation()[1];
                                    if (xx < 0 || xx >= ow) continue;
                                    int wi = ((ci * og + oo) * kh + p) * kw + q;
                                    int oi = ((in * o + oc) * oh + y) * ow + xx;
                                    out[oi] += (double) x[xi] * w[wi];
                                    if (r != null) {
                                        dx[xi] += (double) r[oi] * w[wi];
                                        dw[wi] += (double) r[oi] * x[xi];
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return new double[][] {out, dx, dw, db};
    }

    /** Random x, w, b (null without one) that record gradients, and an output-shaped r. */
    private record Operands(Tensor x, Tensor w, Tensor b, Tensor r) {}

    private static Operands operands(Config c, long seed) {
        Tensor x = Tensor.randn(new Generator(seed), c.input()).requiresGrad(true);
        Tensor w = Tensor.randn(new Generator(seed + 1), c.weight()).requiresGrad(true);
        Tensor b = c.bias() ? Tensor.randn(new Generator(seed + 2), c.outChannels()).requiresGrad(true) : null;
        Tensor r = Tensor.randn(new Generator(seed + 3), expectedOutputShape(c));
        return new Operands(x, w, b, r);
    }

    /** Channels enough for oneDNN's blocked layouts, which the few channels of {@link #CONFIGS} do not take. */
    static final List<Config> WIDE = List.of(
            new Config("wide, 4x4, stride 2, padding 1", shape(2, 32, 4, 5), shape(32, 16, 4, 4), true, pair(2, 2),
                    pair(1, 1), pair(0, 0), 1, pair(1, 1)),
            new Config("wide, groups 2, output padding 1", shape(2, 32, 4, 4), shape(32, 16, 3, 3), true, pair(2, 2),
                    pair(1, 1), pair(1, 1), 2, pair(1, 1)),
            // 24 output channels pad a 16-channel block: the bias stays in the primitive (ChannelBias).
            new Config("wide, 24 output channels", shape(2, 32, 4, 5), shape(32, 24, 4, 4), true, pair(2, 2),
                    pair(1, 1), pair(0, 0), 1, pair(1, 1)));

    @Test
    void forwardAndBackwardMatchTheDefinitionInBothLayouts() {
        Convolution.Layout before = Deconvolution.layout();
        try {
            long seed = 10;
            List<Config> all = new ArrayList<>(CONFIGS);
            all.addAll(WIDE);
            for (Convolution.Layout layout : Convolution.Layout.values()) {
                Deconvolution.setLayout(layout);
                for (Config c : WIDE) {
                    Deconvolution.Geometry g = ConvTranspose.geometry(Tensor.zeros(c.input()), Tensor.zeros(c.weight()),
                            null, c.stride(), c.padding(), c.outputPadding(), c.groups(), c.dilation());
                    for (Deconvolution.Kind kind : Deconvolution.Kind.values()) {
                        var l = Deconvolution.layouts(kind, g);
                        assertEquals(layout == Convolution.Layout.BLOCKED, l.src() != null && l.dst() != null,
                                c.name() + " " + kind + " " + layout + ": computes in blocked layouts");
                    }
                }
                for (Config c : all) {
                    String name = c.name() + " (" + layout + ")";
                    Operands o = operands(c, seed += 4);
                    Tensor y = run(c, o.x(), o.w(), o.b());
                    assertArrayEquals(expectedOutputShape(c), y.shape(), name);
                    assertTrue(y.isContiguous(), name);
                    Reduce.sum(Arithmetic.mul(y, o.r())).backward();
                    double[][] e = reference(c, o.x().toArray(), o.w().toArray(),
                            o.b() == null ? null : o.b().toArray(), o.r().toArray());
                    assertClose(name + " output", e[0], y.toArray(), 1e-5, 1e-5);
                    assertClose(name + " input gradient", e[1], o.x().grad().toArray(), 1e-4, 1e-5);
                    assertClose(name + " weight gradient", e[2], o.w().grad().toArray(), 1e-4, 1e-5);
                    if (o.b() != null) {
                        assertClose(name + " bias gradient", e[3], o.b().grad().toArray(), 1e-4, 1e-5);
                    }
                }
            }
        } finally {
            Deconvolution.setLayout(before);
        }
    }

    /** A transposed convolution is the input gradient of the convolution with the same weights and settings. */
    @Test
    void isTheInputGradientOfTheConvolution() {
        Tensor x = Tensor.randn(new Generator(1), 2, 3, 9, 8).requiresGrad(true);
        Tensor w = Tensor.randn(new Generator(2), 4, 3, 3, 3); // conv: [O=4, C=3]; transposed: [C_in=4, C_out=3]
        Tensor y = Conv.conv2d(x, w, null, pair(2, 2), pair(1, 1), pair(1, 1), 1);
        Tensor r = Tensor.randn(new Generator(3), y.shape());
        Reduce.sum(Arithmetic.mul(y, r)).backward();
        // The convolution maps heights 9 and 10 to 5 and widths 7 and 8 to 4: output padding (0, 1) picks 9×8.
        Tensor t = ConvTranspose.convTranspose2d(r, w, null, pair(2, 2), pair(1, 1), pair(0, 1), 1, pair(1, 1));
        assertArrayEquals(x.shape(), t.shape());
        assertClose("conv_transpose2d(r) vs ∂conv/∂x", toDouble(x.grad().toArray()), t.toArray(), 1e-5, 1e-5);
    }

    // ---------------------------------------------------------------- (b) finite differences

    /**
     * Central differences of L = Σ out·r, L summed in double. On the plain layout only, whose primitives
     * need no reorders around the thousands of evaluations: the test above holds both layouts to the
     * definition.
     */
    @Test
    void gradientsByCentralDifferences() {
        Convolution.Layout before = Deconvolution.layout();
        Deconvolution.setLayout(Convolution.Layout.PLAIN);
        try {
            long seed = 100;
            for (Config c : CONFIGS) {
                Tensor x = GradCheck.leaf(seed++, c.input());
                Tensor w = GradCheck.leaf(seed++, c.weight());
                if (c.bias()) {
                    Tensor b = GradCheck.leaf(seed++, c.outChannels());
                    GradCheck.check(c.name(), t -> run(c, t[0], t[1], t[2]), x, w, b);
                } else {
                    GradCheck.check(c.name(), t -> run(c, t[0], t[1], null), x, w);
                }
            }
        } finally {
            Deconvolution.setLayout(before);
        }
    }

    @Test
    void gradientsOnlyForInputsThatRequireThem() {
        Config c = CONFIGS.get(1);
        Tensor x = Tensor.randn(new Generator(1), c.input());
        Tensor w = GradCheck.leaf(2, c.weight());
        Tensor b = Tensor.randn(new Generator(3), c.outChannels());
        GradCheck.check("weight only", t -> run(c, t[0], t[1], t[2]), x, w, b);
        assertNull(x.grad());
        assertNull(b.grad());
        Tensor x2 = GradCheck.leaf(4, c.input());
        Tensor w2 = Tensor.randn(new Generator(5), c.weight());
        Tensor b2 = GradCheck.leaf(6, c.outChannels());
        GradCheck.check("input and bias", t -> run(c, t[0], t[1], t[2]), x2, w2, b2);
        assertNull(w2.grad());
    }

    @Test
    void nonContiguousInputsAreCopiedFirst() {
        Config c = CONFIGS.get(4);
        Tensor x = Tensor.randn(new Generator(3), c.input());
        Tensor w = Tensor.randn(new Generator(4), c.weight());
        Tensor xt = x.transpose(2, 3).contiguous().transpose(2, 3);
        Tensor wt = w.transpose(0, 1).contiguous().transpose(0, 1);
        assertTrue(!xt.isContiguous() && !wt.isContiguous());
        assertArrayEquals(run(c, x, w, null).toArray(), run(c, xt, wt, null).toArray());
    }

    @Test
    void noTapeUnderNoGrad() {
        Config c = CONFIGS.get(0);
        Tensor x = GradCheck.leaf(1, c.input());
        Tensor w = GradCheck.leaf(2, c.weight());
        try (var ignored = Autograd.noGrad()) {
            assertNull(run(c, x, w, null).gradFn());
        }
    }

    // ---------------------------------------------------------------- (c) PyTorch golden fixture

    /**
     * |gatun − torch| ≤ ATOL + RTOL·|torch|: float32 on both sides, summed in different orders. Outputs
     * sum up to 9 products of unit-sized values, weight gradients up to N·H·W = 140; the largest difference
     * measured is a few 1e-6. A wrong tap, padding or group moves values by 0.1 or more.
     */
    private static final double GOLDEN_ATOL = 2e-5;
    private static final double GOLDEN_RTOL = 1e-5;

    @Test
    void matchesPyTorch() {
        JsonNode configs = Fixtures.load("conv_transpose.json").get("configs");
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
            assertArrayEquals(c.outputPadding(), Fixtures.ints(f.get("output_padding")), name);
            assertArrayEquals(c.dilation(), Fixtures.ints(f.get("dilation")), name);
            assertEquals(c.groups(), f.get("groups").asInt(), name);
            assertEquals(c.bias(), !f.get("bias").isNull(), name);

            Tensor x = Tensor.fromArray(Fixtures.floats(f.get("input")), c.input()).requiresGrad(true);
            Tensor w = Tensor.fromArray(Fixtures.floats(f.get("weight")), c.weight()).requiresGrad(true);
            Tensor b = c.bias() ? Tensor.fromArray(Fixtures.floats(f.get("bias")), c.outChannels()).requiresGrad(true)
                    : null;
            Tensor y = run(c, x, w, b);
            assertArrayEquals(Fixtures.longs(f.get("output_shape")), y.shape(), name);
            compare(name + " output", Fixtures.floats(f.get("output")), y.toArray());
            Autograd.backward(y, Tensor.fromArray(Fixtures.floats(f.get("output_grad")), y.shape()));
            compare(name + " input grad", Fixtures.floats(f.get("input_grad")), x.grad().toArray());
            compare(name + " weight grad", Fixtures.floats(f.get("weight_grad")), w.grad().toArray());
            if (b != null) {
                compare(name + " bias grad", Fixtures.floats(f.get("bias_grad")), b.grad().toArray());
            }
        }
    }

    /** The layer with PyTorch's weights gives PyTorch's output: the layer passes its settings through. */
    @Test
    void theLayerMatchesPyTorch() {
        JsonNode f = Fixtures.load("conv_transpose.json").get("configs").get(6);
        Config c = CONFIGS.get(6);
        try (ConvTranspose2d layer = new ConvTranspose2d(c.input()[1], c.outChannels(), pair(2, 3), c.stride(),
                c.padding(), c.outputPadding(), c.groups(), true, c.dilation())) {
            assertArrayEquals(c.weight(), layer.weight().shape());
            layer.weight().copyFrom(Fixtures.floats(f.get("weight")));
            layer.bias().copyFrom(Fixtures.floats(f.get("bias")));
            Tensor y = layer.forward(Tensor.fromArray(Fixtures.floats(f.get("input")), c.input()));
            compare("layer output", Fixtures.floats(f.get("output")), y.toArray());
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

    // ---------------------------------------------------------------- (d) misuse

    private static String rejects(Executable call) {
        return assertThrows(IllegalArgumentException.class, call).getMessage();
    }

    @Test
    void badConfigurationsAreRejectedWithTheirNumbers() {
        long before = Deconvolution.primitivesCreated();
        Tensor x = Tensor.randn(new Generator(1), 2, 4, 3, 3);
        Tensor w = Tensor.randn(new Generator(2), 4, 5, 3, 3);
        String m = rejects(() -> ConvTranspose.convTranspose2d(x, w, null, pair(0, 1), pair(0, 0), pair(0, 0), 1,
                pair(1, 1)));
        assertTrue(m.contains("stride") && m.contains("0×1"), m);
        m = rejects(() -> ConvTranspose.convTranspose2d(x, w, null, pair(1, 1), pair(-1, 0), pair(0, 0), 1,
                pair(1, 1)));
        assertTrue(m.contains("padding") && m.contains("-1×0"), m);
        m = rejects(() -> ConvTranspose.convTranspose2d(x, w, null, pair(1, 1), pair(0, 0), pair(0, 0), 1,
                pair(1, 0)));
        assertTrue(m.contains("dilation") && m.contains("1×0"), m);
        m = rejects(() -> ConvTranspose.convTranspose2d(x, w, null, pair(1, 1), pair(0, 0), pair(0, -1), 1,
                pair(1, 1)));
        assertTrue(m.contains("output padding") && m.contains("0×-1"), m);
        // PyTorch's rule: output padding below the stride or the dilation.
        m = rejects(() -> ConvTranspose.convTranspose2d(x, w, null, pair(2, 2), pair(1, 1), pair(2, 1), 1,
                pair(1, 1)));
        assertTrue(m.contains("smaller than either stride or dilation") && m.contains("2×1"), m);
        m = rejects(() -> ConvTranspose.convTranspose2d(x, w, null, pair(1, 1), pair(0, 0), pair(1, 0), 1,
                pair(1, 1)));
        assertTrue(m.contains("output padding 1×0"), m);
        m = rejects(() -> ConvTranspose.convTranspose2d(x, w, null, pair(1, 1), pair(0, 0), pair(0, 0), 0,
                pair(1, 1)));
        assertTrue(m.contains("groups") && m.contains("0"), m);
        m = rejects(() -> ConvTranspose.convTranspose2d(x, w, null, pair(1, 1), pair(0, 0), pair(0, 0), 3,
                pair(1, 1)));
        assertTrue(m.contains("input channels 4") && m.contains("groups 3"), m);
        m = rejects(() -> ConvTranspose.convTranspose2d(x, w, null, new int[] {1}, pair(0, 0), pair(0, 0), 1,
                pair(1, 1)));
        assertTrue(m.contains("stride") && m.contains("[1]"), m);
        m = rejects(() -> ConvTranspose.convTranspose2d(x, w, null, pair(1, 1), pair(0, 0), null, 1, pair(1, 1)));
        assertTrue(m.contains("output_padding") && m.contains("null"), m);
        // The output must have a positive size: padding 3 crops all of 3 + 3 − 1 = 5 rows.
        m = rejects(() -> ConvTranspose.convTranspose2d(x, w, null, pair(1, 1), pair(3, 3), pair(0, 0), 1,
                pair(1, 1)));
        assertTrue(m.contains("output size -1×-1 is not positive"), m);
        // Mismatched channels: the weight's first dimension is the input's channels.
        Tensor w3 = Tensor.randn(new Generator(3), 3, 5, 3, 3);
        m = rejects(() -> ConvTranspose.convTranspose2d(x, w3, null));
        assertTrue(m.contains("[3, 5, 3, 3]") && m.contains("has 4"), m);
        m = rejects(() -> ConvTranspose.convTranspose2d(x, w, Tensor.randn(new Generator(4), 4)));
        assertTrue(m.contains("bias must be [5]") && m.contains("[4]"), m);
        m = rejects(() -> ConvTranspose.convTranspose2d(Tensor.randn(new Generator(5), 4, 3, 3), w, null));
        assertTrue(m.contains("[N, C_in, H, W]") && m.contains("[4, 3, 3]"), m);
        m = rejects(() -> ConvTranspose.convTranspose2d(x, Tensor.randn(new Generator(6), 4, 3, 3), null));
        assertTrue(m.contains("weight") && m.contains("[4, 3, 3]"), m);
        m = rejects(() -> ConvTranspose.convTranspose2d(Tensor.zeros(0, 4, 3, 3), w, null));
        assertTrue(m.contains("N=0"), m);
        assertEquals(before, Deconvolution.primitivesCreated(), "no primitive was created for a bad configuration");
    }

    /** Sizes whose output no long can count are refused in Java, naming them, before anything is allocated. */
    @Test
    void absurdSizesAreRefused() {
        Tensor x = Tensor.randn(new Generator(1), 1, 1, 2, 2);
        Tensor w = Tensor.randn(new Generator(2), 1, 1, 1, 1);
        String m = rejects(() -> ConvTranspose.convTranspose2d(x, w, null, pair(Integer.MAX_VALUE, Integer.MAX_VALUE),
                pair(0, 0), pair(0, 0), 1, pair(1, 1)));
        // (2 − 1)·(2³¹ − 1) + 1 rows and columns: an output of 2⁶² floats, refused before oneDNN sees it.
        assertTrue(m.contains("[1, 1, 2147483648, 2147483648]") && m.contains("more than this machine's"), m);
        String g = rejects(() -> new Deconvolution.Geometry(Long.MAX_VALUE / 2, 4, 1000, 1000, 4, 1, 1, 1, 1, 0, 0, 0,
                0, 1, 1, 1, false));
        assertTrue(g.contains("more elements than a long counts"), g);
    }

    @Test
    void layerSettingsAreChecked() {
        String m = rejects(() -> new ConvTranspose2d(4, 6, pair(3, 3), pair(2, 2), pair(1, 1), pair(2, 0), 1, true,
                pair(1, 1)));
        assertTrue(m.contains("output_padding must be smaller than either stride or dilation")
                && m.contains("output_padding 2×0"), m);
        m = rejects(() -> new ConvTranspose2d(4, 6, pair(3, 3), pair(1, 1), pair(0, 0), pair(0, 0), 4, true,
                pair(1, 1)));
        assertTrue(m.contains("groups 4") && m.contains("out=6"), m);
        m = rejects(() -> new ConvTranspose2d(0, 6, 3, 1, 0));
        assertTrue(m.contains("in=0"), m);
        m = rejects(() -> new ConvTranspose2d(4, 6, pair(0, 3), pair(1, 1), pair(0, 0), pair(0, 0), 1, true,
                pair(1, 1)));
        assertTrue(m.contains("kernel") && m.contains("0×3"), m);
        try (ConvTranspose2d layer = new ConvTranspose2d(4, 6, 3, 2, 1)) {
            m = rejects(() -> layer.forward(Tensor.randn(new Generator(1), 1, 3, 5, 5)));
            assertTrue(m.contains("expects 4 input channels") && m.contains("has 3"), m);
            assertEquals("ConvTranspose2d(4 → 6, 3×3, stride 2, padding 1)", layer.describe());
            assertEquals("ConvTranspose2d(4, 6, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))",
                    layer.toString());
        }
    }

    @Test
    void closedTensorsAreRejected() {
        Config c = CONFIGS.get(0);
        try (Scope own = Scope.open()) {
            Tensor x = Tensor.randn(new Generator(1), c.input());
            Tensor w = Tensor.randn(new Generator(2), c.weight());
            x.close();
            assertThrows(IllegalStateException.class, () -> run(c, x, w, null));
        }
    }

    /** PyTorch's default initialisation: bounds ±1/√fan_in with fan_in = out/groups · KH · KW. */
    @Test
    void defaultInitialisationUsesPyTorchsFanIn() {
        try (ConvTranspose2d layer = new ConvTranspose2d(64, 2, pair(4, 4), pair(2, 2), pair(1, 1), pair(0, 0), 1,
                true, pair(1, 1))) {
            double bound = 1 / Math.sqrt(2 * 16);
            float max = 0;
            for (float v : layer.bias().toArray()) max = Math.max(max, Math.abs(v));
            for (float v : layer.weight().toArray()) max = Math.max(max, Math.abs(v));
            assertTrue(max <= bound && max > 0.5 * bound, "largest |value| " + max + " vs bound " + bound);
        }
    }

    // ---------------------------------------------------------------- (e) the primitive cache

    @Test
    void aRepeatedTrainingStepCreatesNoPrimitive() {
        for (Config c : List.of(CONFIGS.get(2), CONFIGS.get(5))) {
            Runnable step = () -> {
                Operands o = operands(c, 1);
                Reduce.sum(run(c, o.x(), o.w(), o.b())).backward();
            };
            step.run();
            long after = Deconvolution.primitivesCreated();
            step.run();
            step.run();
            assertEquals(after, Deconvolution.primitivesCreated(), c.name() + ": primitives created by repeated steps");
        }
    }

    @Test
    void concurrentExecutionFromManyThreads() throws Exception {
        Config c = CONFIGS.get(4);
        float[] xs = Tensor.randn(new Generator(1), c.input()).toArray();
        float[] ws = Tensor.randn(new Generator(2), c.weight()).toArray();
        float[] bs = Tensor.randn(new Generator(3), c.outChannels()).toArray();
        float[] expected = run(c, Tensor.fromArray(xs, c.input()), Tensor.fromArray(ws, c.weight()),
                Tensor.fromArray(bs, c.outChannels())).toArray();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<float[]>> results = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                results.add(pool.submit(() -> {
                    float[] last = null;
                    for (int i = 0; i < 10; i++) {
                        try (Scope s = Scope.open()) {
                            last = run(c, Tensor.fromArray(xs, c.input()), Tensor.fromArray(ws, c.weight()),
                                    Tensor.fromArray(bs, c.outChannels())).toArray();
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

    private static double[] toDouble(float[] v) {
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) out[i] = v[i];
        return out;
    }

    static void assertClose(String what, double[] expected, float[] actual, double atol, double rtol) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            if (Math.abs(actual[i] - expected[i]) > atol + rtol * Math.abs(expected[i])) {
                throw new AssertionError(what + "[" + i + "]: " + actual[i] + " vs reference " + expected[i]);
            }
        }
    }
}
