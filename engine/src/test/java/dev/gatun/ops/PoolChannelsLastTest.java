package dev.gatun.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.autograd.Autograd;
import dev.gatun.backend.ActivationLayouts;
import dev.gatun.backend.Operand;
import dev.gatun.backend.Pooling;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.LayoutConverter;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.ScopedTest;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;

/**
 * Max pooling of activations held channels-last (nhwc), as oneDNN's convolutions leave them at small
 * batches: the inference pass pools them there, leaves its output there, and gives what the plain
 * pooling gives bit for bit (NaN, −∞ and −0 included, with and without the ReLU before it).
 */
class PoolChannelsLastTest extends ScopedTest {

    /** n, c, h, w, kernel, stride, padding, dilation: odd channel counts, 8 and 16, padding, dilation. */
    private static final int[][] CASES = {
        {1, 20, 28, 28, 2, 2, 0, 1}, {1, 50, 14, 14, 2, 2, 0, 1}, {2, 3, 9, 7, 3, 2, 1, 1}, {1, 8, 6, 6, 2, 1, 0, 1},
        {3, 16, 10, 10, 3, 3, 1, 2}, {2, 37, 11, 13, 3, 2, 1, 1}, {1, 1, 5, 5, 5, 1, 2, 1}};

    @Test
    void poolsChannelsLastBitForBitAndStaysThere() {
        long seed = 1;
        for (int[] c : CASES) {
            Pooling.Config config = new Pooling.Config(Pooling.Kind.MAX, c[0], c[1], c[2], c[3], c[4], c[4], c[5],
                    c[5], c[6], c[6], c[7], c[7]);
            Tensor plain = special(Tensor.randn(new Generator(seed++), c[0], c[1], c[2], c[3]));
            ActivationLayouts cl = Pooling.channelsLastLayouts(config);
            Tensor held = channelsLast(plain, cl);
            int[] k = {c[4], c[4]}, s = {c[5], c[5]}, p = {c[6], c[6]}, d = {c[7], c[7]};
            String what = java.util.Arrays.toString(c);
            try (var ignored = Autograd.noGrad()) {
                Tensor expected = Pool.maxPool2d(plain, k, s, p, d);
                Tensor got = Pool.maxPool2d(held, k, s, p, d);
                assertSame(cl.dst(), got.layout(), what + ": the output is held channels-last");
                assertArrayEquals(bits(expected), bits(got), what);
                Tensor expectedRelu = Pool.maxPool2d(Activation.relu(plain), k, s, p, d);
                Tensor gotRelu = Pool.maxPool2dAfterRelu(channelsLast(plain, cl), k, s, p, d);
                // Values (NaN equal to NaN): ReLU may give either sign of zero.
                assertArrayEquals(expectedRelu.toArray(), gotRelu.toArray(), 0f, what + " after ReLU");
            }
        }
    }

    @Test
    void averagesChannelsLastAsThePlainPoolingDoes() {
        long seed = 100;
        for (int[] c : CASES) {
            for (boolean includePad : new boolean[] {true, false}) {
                Pooling.Config config = new Pooling.Config(includePad ? Pooling.Kind.AVG_INCLUDE_PADDING
                        : Pooling.Kind.AVG_EXCLUDE_PADDING, c[0], c[1], c[2], c[3], c[4], c[4], c[5], c[5], c[6], c[6],
                        1, 1);
                Tensor plain = Tensor.randn(new Generator(seed++), c[0], c[1], c[2], c[3]);
                ActivationLayouts cl = Pooling.channelsLastLayouts(config);
                int[] k = {c[4], c[4]}, s = {c[5], c[5]}, p = {c[6], c[6]};
                String what = java.util.Arrays.toString(c) + (includePad ? " including" : " excluding") + " padding";
                try (var ignored = Autograd.noGrad()) {
                    Tensor expected = Pool.avgPool2d(plain, k, s, p, includePad);
                    Tensor got = Pool.avgPool2d(channelsLast(plain, cl), k, s, p, includePad);
                    assertSame(cl.dst(), got.layout(), what + ": the output is held channels-last");
                    assertArrayEquals(expected.toArray(), got.toArray(), 1e-6f, what);
                }
            }
        }
        // The global average pooling before a classifier reads channels-last activations where they are.
        Tensor plain = Tensor.randn(new Generator(7), 1, 32, 8, 8);
        Pooling.Config global = new Pooling.Config(Pooling.Kind.AVG_INCLUDE_PADDING, 1, 32, 8, 8, 8, 8, 8, 8, 0, 0,
                1, 1);
        try (var ignored = Autograd.noGrad()) {
            Tensor got = Pool.globalAvgPool2d(channelsLast(plain, Pooling.channelsLastLayouts(global)));
            assertSame(Pooling.channelsLastLayouts(global).dst(), got.layout());
            assertArrayEquals(Reduce.mean(plain, new int[] {2, 3}, true).toArray(), got.toArray(), 1e-6f);
        }
    }

    /**
     * In training, max pooling of a channels-last input (a convolution that trains channels-last) pools
     * there and computes its gradient there: the output, held channels-last, and the input gradient equal
     * those of the plain input's pooling (in channel blocks) bit for bit, NaN, infinities and −0 included,
     * with and without the ReLU before it. Average pooling keeps its blocked layout.
     */
    @Test
    void trainingMaxPoolingStaysChannelsLastWithTheSameGradients() {
        long seed = 300;
        for (int[] c : CASES) {
            Pooling.Config config = new Pooling.Config(Pooling.Kind.MAX, c[0], c[1], c[2], c[3], c[4], c[4], c[5],
                    c[5], c[6], c[6], c[7], c[7]);
            ActivationLayouts cl = Pooling.channelsLastLayouts(config);
            int[] k = {c[4], c[4]}, s = {c[5], c[5]}, p = {c[6], c[6]}, d = {c[7], c[7]};
            for (boolean relu : new boolean[] {false, true}) {
                String what = java.util.Arrays.toString(c) + (relu ? " after ReLU" : "");
                Tensor values = special(Tensor.randn(new Generator(seed++), c[0], c[1], c[2], c[3]));
                Tensor plain = values.copy().requiresGrad(true);
                Tensor held = channelsLast(values, cl).requiresGrad(true);
                Tensor expected = relu ? Pool.maxPool2dAfterRelu(plain, k, s, p, d) : Pool.maxPool2d(plain, k, s, p, d);
                Tensor got = relu ? Pool.maxPool2dAfterRelu(held, k, s, p, d) : Pool.maxPool2d(held, k, s, p, d);
                assertSame(cl.dst(), got.layout(), what + ": the output is held channels-last");
                assertArrayEquals(bits(expected), bits(got), what + ": output");
                Tensor upstream = Tensor.randn(new Generator(seed++), expected.shape());
                Reduce.sum(Arithmetic.mul(expected, upstream)).backward();
                Reduce.sum(Arithmetic.mul(got, upstream)).backward();
                assertArrayEquals(bits(plain.grad()), bits(held.grad()), what + ": input gradient");
            }
        }
        Pooling.Config avg = new Pooling.Config(Pooling.Kind.AVG_INCLUDE_PADDING, 1, 20, 8, 8, 2, 2, 2, 2, 0, 0, 1, 1);
        ActivationLayouts cl = Pooling.channelsLastLayouts(avg);
        Tensor x = channelsLast(Tensor.randn(new Generator(9), 1, 20, 8, 8), cl).requiresGrad(true);
        Tensor y = Pool.avgPool2d(x, new int[] {2, 2}, new int[] {2, 2}, new int[] {0, 0}, true);
        assertTrue(y.layout() != cl.dst(), "average pooling with a gradient to record keeps the blocked layout");
        Reduce.sum(y).backward();
        assertEquals(20 * 8 * 8 / 4f, Reduce.sum(x.grad()).item(), 1e-3f);
    }

    /** The channels-last backward pass takes plain gradients too, and refuses a short workspace. */
    @Test
    void theChannelsLastBackwardTakesPlainGradients() {
        Pooling.Config config = new Pooling.Config(Pooling.Kind.MAX, 2, 20, 8, 8, 2, 2, 2, 2, 0, 0, 1, 1);
        ActivationLayouts cl = Pooling.channelsLastLayouts(config);
        Tensor values = Tensor.randn(new Generator(11), 2, 20, 8, 8);
        Tensor held = channelsLast(values, cl).requiresGrad(true);
        Tensor plain = values.copy().requiresGrad(true);
        Tensor upstream = Tensor.randn(new Generator(12), 2, 20, 4, 4);
        Reduce.sum(Arithmetic.mul(Pool.maxPool2d(plain, 2), upstream)).backward();
        Reduce.sum(Arithmetic.mul(Pool.maxPool2d(held, 2), upstream)).backward();
        assertArrayEquals(bits(plain.grad()), bits(held.grad()));
        try (Arena a = Arena.ofConfined()) {
            var dd = Operand.plain(a.allocate(2 * 20 * 4 * 4 * 4), 0);
            var ds = Operand.plain(a.allocate(2 * 20 * 8 * 8 * 4), 0);
            String m = assertThrows(IllegalArgumentException.class, () -> Pooling.backwardChannelsLast(config, dd, ds,
                    a.allocate(16))).getMessage();
            assertTrue(m.contains("workspace"), m);
        }
    }

    @Test
    void theBackendRefusesPlainOrShortBuffers() {
        Pooling.Config config = new Pooling.Config(Pooling.Kind.MAX, 1, 20, 8, 8, 2, 2, 2, 2, 0, 0, 1, 1);
        try (Arena a = Arena.ofConfined()) {
            var src = Operand.laid(a.allocate(20 * 8 * 8 * 4));
            var dst = Operand.laid(a.allocate(20 * 4 * 4 * 4));
            String m = assertThrows(IllegalArgumentException.class, () -> Pooling.forwardChannelsLast(config, false,
                    Operand.laid(a.allocate(16)), dst)).getMessage();
            assertTrue(m.contains("bytes"), m);
            m = assertThrows(IllegalArgumentException.class, () -> Pooling.forwardChannelsLast(config, false,
                    Operand.plain(a.allocate(20 * 8 * 8 * 4), 0), dst)).getMessage();
            assertTrue(m.contains("laid-out"), m);
            Pooling.Config avg = new Pooling.Config(Pooling.Kind.AVG_INCLUDE_PADDING, 1, 20, 8, 8, 2, 2, 2, 2, 0, 0,
                    1, 1);
            m = assertThrows(IllegalArgumentException.class, () -> Pooling.forwardChannelsLast(avg, true, src, dst))
                    .getMessage();
            assertTrue(m.contains("max pooling"), m);
        }
    }

    /** Some NaN, −∞, +∞ and −0 among the values. */
    private static Tensor special(Tensor t) {
        float[] v = t.toArray();
        for (int i = 0; i < v.length; i += 97) v[i] = Float.NaN;
        for (int i = 13; i < v.length; i += 89) v[i] = Float.NEGATIVE_INFINITY;
        for (int i = 29; i < v.length; i += 211) v[i] = Float.POSITIVE_INFINITY;
        for (int i = 5; i < v.length; i += 31) v[i] = -0f;
        return Tensor.fromArray(v, t.shape());
    }

    /** The values of {@code plain} in a tensor that holds them channels-last (made in that layout). */
    private static Tensor channelsLast(Tensor plain, ActivationLayouts cl) {
        Tensor t = Tensor.emptyInLayout(plain.shape(), cl.src(), cl.srcBytes(),
                LayoutConverter.of(cl::srcToPlain, cl::srcFromPlain));
        t.copyFrom(plain);
        t.refreshLayout();
        assertSame(cl.src(), t.layout());
        return t;
    }

    private static int[] bits(Tensor t) {
        float[] v = t.toArray();
        int[] b = new int[v.length];
        for (int i = 0; i < v.length; i++) b[i] = Float.floatToRawIntBits(v[i]);
        return b;
    }
}
