package dev.gatun.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.gatun.autograd.Autograd;
import dev.gatun.backend.Convolution;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;

/**
 * Convolution, batch norm, pooling, ReLU and residual additions hand their results on in oneDNN's
 * blocked layout, converting to row-major only when something reads them that way. A network of all of
 * them, forward and backward, must give what it gives when every output is converted at once.
 */
class LayoutChainTest {

    /**
     * conv → BN → ReLU → max pool → conv → BN → + (residual) → ReLU → conv (stride 2) → ReLU → avg pool →
     * global average pool → linear.
     */
    private static Tensor network(List<Tensor> p, Tensor x) {
        int[] one = {1, 1};
        Tensor h = Conv.conv2d(x, p.get(0), p.get(1), one, one, one, 1);
        h = Activation.relu(Norm.batchNorm(h, null, null, p.get(2), p.get(3), true, 0.1f, 1e-5f));
        h = Pool.maxPool2d(h, 2);
        Tensor r = Conv.conv2d(h, p.get(4), null, one, one, one, 1);
        r = Norm.batchNorm(r, null, null, p.get(5), p.get(6), true, 0.1f, 1e-5f);
        h = Activation.relu(Arithmetic.add(r, h));
        h = Activation.relu(Conv.conv2d(h, p.get(7), p.get(8), new int[] {2, 2}, one, one, 1));
        h = Pool.avgPool2d(h, new int[] {2, 2}, new int[] {1, 1}, new int[] {0, 0}, true);
        h = Pool.globalAvgPool2d(h).reshape(x.size(0), -1);
        return MatMul.linear(h, p.get(9), p.get(10));
    }

    private static List<Tensor> parameters(Scope scope, long[][] shapes) {
        List<Tensor> p = new ArrayList<>();
        long seed = 70;
        for (long[] s : shapes) {
            Tensor t = Tensor.zeros(scope, s).copyFrom(Arithmetic.scale(Tensor.randn(new Generator(seed++), s), 0.3f));
            p.add(t.requiresGrad(true));
        }
        return p;
    }

    /**
     * LeNet-5's shape with batch norm and a widening convolution, over channel counts whose blocks differ
     * on AVX-512: conv 1 → 20 → (ReLU + max pool) → conv 20 → 50 → BN → ReLU → conv 50 → 64 → BN → ReLU →
     * global average pool → linear. 20 and 50 channels take 8-channel blocks there and 64 take 16, so
     * the last batch norm reads an input laid in another block than its own.
     */
    private static Tensor mixedNetwork(List<Tensor> p, Tensor x) {
        int[] one = {1, 1};
        int[] two = {2, 2};
        Tensor h = Conv.conv2d(x, p.get(0), p.get(1), one, two, one, 1);
        h = Pool.maxPool2dAfterRelu(h, two, two, new int[] {0, 0}, one);
        h = Conv.conv2d(h, p.get(2), p.get(3), one, one, one, 1);
        h = Activation.relu(Norm.batchNorm(h, null, null, p.get(4), p.get(5), true, 0.1f, 1e-5f));
        h = Conv.conv2d(h, p.get(6), null, one, one, one, 1);
        h = Activation.relu(Norm.batchNorm(h, null, null, p.get(7), p.get(8), true, 0.1f, 1e-5f));
        h = Pool.globalAvgPool2d(h).reshape(x.size(0), -1);
        return MatMul.linear(h, p.get(9), p.get(10));
    }

    private static final long[][] MIXED_SHAPES = {{20, 1, 5, 5}, {20}, {50, 20, 3, 3}, {50}, {50}, {50},
        {64, 50, 3, 3}, {64}, {64}, {3, 64}, {3}};

    /** Output and every gradient of {@link #network}, with layouts kept or converted at once. */
    private static List<float[]> run(boolean keep) {
        long[][] shapes = {{12, 3, 3, 3}, {12}, {12}, {12}, {12, 12, 3, 3}, {12}, {12}, {12, 12, 3, 3}, {12},
            {5, 12}, {5}};
        return run(keep, shapes, LayoutChainTest::network, new long[] {4, 3, 16, 16});
    }

    private static List<float[]> run(boolean keep, long[][] shapes, BiFunction<List<Tensor>, Tensor, Tensor> network,
                                     long[] input) {
        boolean before = BackendTensors.keepLayouts;
        BackendTensors.keepLayouts = keep;
        try (Scope params = Scope.detached(); Scope step = Scope.open()) {
            List<Tensor> p = parameters(params, shapes);
            Tensor x = Tensor.randn(new Generator(80), input).requiresGrad(true);
            Tensor y = network.apply(p, x);
            Tensor r = Tensor.randn(new Generator(81), y.shape());
            Reduce.sum(Arithmetic.mul(y, r)).backward();
            List<float[]> out = new ArrayList<>();
            out.add(y.toArray());
            out.add(x.grad().toArray());
            for (Tensor t : p) out.add(t.grad().toArray());
            return out;
        } finally {
            BackendTensors.keepLayouts = before;
        }
    }

    @Test
    void keepingLayoutsChangesNoResult() {
        Convolution.Layout before = Convolution.layout();
        Convolution.setLayout(Convolution.Layout.BLOCKED);
        try {
            assertSame(run(true), run(false));
        } finally {
            Convolution.setLayout(before);
        }
    }

    /** As {@link #keepingLayoutsChangesNoResult}, through channel counts laid in different blocks. */
    @Test
    void keepingLayoutsAcrossChannelBlocksChangesNoResult() {
        Convolution.Layout before = Convolution.layout();
        Convolution.setLayout(Convolution.Layout.BLOCKED);
        try {
            long[] input = {3, 1, 12, 12};
            assertSame(run(true, MIXED_SHAPES, LayoutChainTest::mixedNetwork, input),
                    run(false, MIXED_SHAPES, LayoutChainTest::mixedNetwork, input));
        } finally {
            Convolution.setLayout(before);
        }
    }

    private static void assertSame(List<float[]> kept, List<float[]> converted) {
        assertEquals(converted.size(), kept.size());
        for (int k = 0; k < kept.size(); k++) {
            float[] want = converted.get(k);
            float[] got = kept.get(k);
            assertEquals(want.length, got.length);
            for (int i = 0; i < want.length; i++) {
                if (Math.abs(want[i] - got[i]) > 1e-5 * (1 + Math.abs(want[i]))) {
                    throw new AssertionError((k == 0 ? "output" : k == 1 ? "input gradient" : "gradient "
                            + (k - 2)) + "[" + i + "]: " + got[i] + ", converted at once " + want[i]);
                }
            }
        }
    }

    /** A convolution's output holds the blocked copy until written through; reading keeps it. */
    @Test
    void outputsKeepTheirLayoutUntilWritten() {
        Convolution.Layout before = Convolution.layout();
        Convolution.setLayout(Convolution.Layout.BLOCKED);
        try (Scope s = Scope.open(); Autograd.NoGrad ignored = Autograd.noGrad()) {
            Tensor y = Conv.conv2d(Tensor.randn(new Generator(90), 2, 8, 6, 6),
                    Tensor.randn(new Generator(91), 8, 8, 3, 3), null, 1, 1);
            Object layout = y.layout();
            assertNotNull(layout, "a blocked convolution's output is handed on blocked");
            Tensor plain = Tensor.zeros(y.shape()).copyFrom(y);
            assertNotNull(y.layout(), "reading row-major keeps the blocked copy");
            Tensor same = y.toLayoutOf(y);
            float[] back = same.toArray();
            float[] want = plain.toArray();
            for (int i = 0; i < want.length; i++) assertEquals(want[i], back[i], "round trip through the layout");
            assertNull(y.reshape(2, -1).layout(), "another shape does not see it");
            y.set(5f, 0, 0, 0, 0);
            assertNull(y.layout(), "a write makes it stale");
            assertEquals(5f, y.get(0, 0, 0, 0));
            assertEquals(want[1], y.get(0, 0, 0, 1));
            assertEquals(layout, y.madeLayout());
            y.refreshLayout();
            assertEquals(layout, y.layout(), "refreshed from the row-major contents");
            // A ReLU reads the blocked copy: it must hold the written value.
            float[] again = Activation.relu(y).toArray();
            assertEquals(5f, again[0]);
            assertEquals(Math.max(0f, want[1]), again[1]);
        } finally {
            Convolution.setLayout(before);
        }
    }
}
