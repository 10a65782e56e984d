package dev.gatun.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.nn.BatchNorm2d;
import dev.gatun.nn.Conv2d;
import dev.gatun.nn.Embedding;
import dev.gatun.nn.Flatten;
import dev.gatun.nn.LSTM;
import dev.gatun.nn.Linear;
import dev.gatun.nn.ReLU;
import dev.gatun.nn.Sequential;
import dev.gatun.ops.Activation;
import dev.gatun.ops.Arithmetic;
import dev.gatun.ops.Attention;
import dev.gatun.ops.Loss;
import dev.gatun.ops.MatMul;
import dev.gatun.ops.Reduce;
import dev.gatun.optim.SGD;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.ScopedTest;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A tensor an op read, written in place before the backward pass (PyTorch's version counter check):
 * the pass refuses instead of computing gradients from the changed values; ops whose backward reads no
 * values let it through; reading a tensor never counts as writing it.
 */
class InPlaceWriteTest extends ScopedTest {

    @Test
    void everyWriteCountsOnceAndViewsShareTheCount() {
        Tensor w = Tensor.fromArray(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        long v = w.version();
        w.set(7f, 0, 1);
        assertEquals(v + 1, w.version(), "set");
        w.fill(0f);
        assertEquals(v + 2, w.version(), "fill");
        w.copyFrom(new float[] {1, 2, 3, 4, 5, 6});
        assertEquals(v + 3, w.version(), "copyFrom");
        w.storage();
        assertEquals(v + 4, w.version(), "storage(), which the caller may write through");
        w.storageForReading();
        w.toArray();
        assertEquals(v + 4, w.version(), "reads are not writes");
        Tensor view = w.transpose(0, 1);
        Tensor detached = w.detach();
        view.set(9f, 2, 1);
        assertEquals(v + 5, w.version(), "a write through a view is a write of the storage");
        detached.set(8f, 0, 0);
        assertEquals(v + 6, view.version(), "a detached tensor shares the storage, and its count");
        assertEquals(8f, w.get(0, 0));
        assertEquals(9f, w.get(1, 2));
    }

    /** An expanded view repeats one element: no write goes into it (which value would stay is undefined). */
    @Test
    void writesIntoAnExpandedViewAreRefused() {
        Tensor b = Tensor.zeros(1);
        Tensor wide = b.expand(4);
        List<org.junit.jupiter.api.function.Executable> writes = List.of(
                () -> wide.copyFrom(new float[] {1, 2, 3, 4}),
                () -> wide.set(1f, 2),
                () -> wide.fill(3f),
                () -> dev.gatun.ops.Kernels.addInPlace(wide, Tensor.ones(4)),
                () -> dev.gatun.ops.Norm.batchNorm(Tensor.randn(new Generator(5), 4, 3), Tensor.zeros(1).expand(3),
                        Tensor.ones(3), null, null, true, 0.1f, 1e-5f));
        for (int k = 0; k < writes.size(); k++) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, writes.get(k), "write " + k);
            assertTrue(e.getMessage().contains("refers to a single memory location"), k + ": " + e.getMessage());
        }
        assertEquals(0f, b.item(), "nothing was written");
        Tensor.zeros(1).expand(1, 1).copyFrom(new float[] {2}); // stride 0 along a dimension of one: fine
    }

    @Test
    void aSavedInputWrittenSinceFailsTheBackwardPassNamingIt() {
        Tensor x = Tensor.fromArray(new float[] {1, 2, 3}).requiresGrad(true);
        Tensor w = Tensor.fromArray(new float[] {4, 5, 6}).requiresGrad(true);
        Tensor y = Reduce.sum(Arithmetic.mul(x, w));
        w.set(0f, 1);
        IllegalStateException e = assertThrows(IllegalStateException.class, y::backward);
        assertTrue(e.getMessage().contains("modified by an in-place operation"), e.getMessage());
        assertTrue(e.getMessage().contains("input 1, a leaf of shape [3] of mul"), e.getMessage());
        assertNull(x.grad(), "nothing was computed before the check");
    }

    @Test
    void anOutputTheBackwardReadsWrittenSinceFails() {
        Tensor x = Tensor.fromArray(new float[] {-1, 0.5f, 2}).requiresGrad(true);
        Tensor s = Activation.sigmoid(x);
        Tensor loss = Reduce.sum(s);
        s.set(0.25f, 0);
        IllegalStateException e = assertThrows(IllegalStateException.class, loss::backward);
        assertTrue(e.getMessage().contains("its output, the output of sigmoid, shape [3]"), e.getMessage());
    }

    @Test
    void anOptimizerStepBetweenForwardAndBackwardFails() {
        Linear layer = new Linear(3, 2);
        SGD sgd = new SGD(layer.parameters(), 0.1);
        Tensor x = Tensor.randn(new Generator(1), 4, 3);
        Tensor loss = Reduce.sum(layer.forward(x));
        for (Tensor p : layer.parameters()) {
            p.setGrad(Tensor.ones(p.shape()));
        }
        sgd.step();
        IllegalStateException e = assertThrows(IllegalStateException.class, loss::backward);
        assertTrue(e.getMessage().contains("of linear"), e.getMessage());
    }

    @Test
    void opsWhoseBackwardReadsNoValuesAllowTheWrite() {
        Tensor x = Tensor.fromArray(new float[] {1, 2, 3}).requiresGrad(true);
        Tensor c = Tensor.fromArray(new float[] {10, 20, 30});
        Tensor table = Tensor.randn(new Generator(2), 5, 2).requiresGrad(true);
        Tensor rows = dev.gatun.ops.Indexing.embedding(table, new int[] {4, 1, 4}, new long[] {3},
                dev.gatun.ops.Indexing.NO_PADDING);
        Tensor y = Reduce.sum(Arithmetic.add(Arithmetic.sub(x.view(3, 1), c.view(3, 1)), rows));
        c.fill(0f);
        table.fill(0f);
        y.backward();
        assertArrayEquals(new float[] {2, 2, 2}, x.grad().toArray(), "add, sub and view need no values");
        assertArrayEquals(new float[] {0, 0, 1, 1, 0, 0, 0, 0, 2, 2}, table.grad().toArray(),
                "an embedding's gradient needs only the rows it looked up");
    }

    /**
     * The backward pass reads saved tensors (batch norm's weight, convolution and LSTM weights, the same
     * weight used twice); with the graph retained, a second pass must find them all unchanged and give
     * the same gradients again.
     */
    @Test
    void readingDuringForwardAndBackwardIsNoWrite() {
        Generator g = new Generator(3);
        Sequential net = new Sequential(new Conv2d(2, 4, 3, 1, 1), new BatchNorm2d(4), new ReLU(), new Flatten(),
                new Linear(4 * 5 * 5, 3));
        Embedding embedding = new Embedding(7, 6);
        LSTM lstm = new LSTM(6, 5);
        Tensor a = Tensor.randn(g, 2, 2, 5, 5);
        Tensor b = Tensor.randn(g, 2, 2, 5, 5);
        Tensor tokens = embedding.forward(Tensor.fromLongs(new long[] {1, 2, 3, 4, 5, 6, 0, 1}, 4, 2));
        Tensor loss = Arithmetic.add(Arithmetic.add(Reduce.sum(net.forward(a)), Reduce.sum(net.forward(b))),
                Loss.mse(lstm.forward(tokens), Tensor.zeros(4, 2, 5)));
        List<Tensor> parameters = new ArrayList<>(net.parameters());
        parameters.addAll(embedding.parameters());
        parameters.addAll(lstm.parameters());
        long[] versions = parameters.stream().mapToLong(Tensor::version).toArray();
        loss.backward(true);
        List<float[]> first = new ArrayList<>();
        for (Tensor p : parameters) first.add(p.grad().toArray());
        loss.backward();
        for (int k = 0; k < parameters.size(); k++) {
            assertEquals(versions[k], parameters.get(k).version(), "parameter " + k + " was only read");
            float[] twice = parameters.get(k).grad().toArray();
            float[] once = first.get(k);
            for (int i = 0; i < once.length; i++) {
                assertEquals(2 * once[i], twice[i], 1e-5f * (1 + Math.abs(twice[i])), "parameter " + k + "[" + i + "]");
            }
        }
    }

    /**
     * The attention weights handed to the caller (dropout on, so they are P̃) are the caller's own: writing
     * them leaves the output's gradients as they were.
     */
    @Test
    void attentionWeightsAreTheCallersToWrite() {
        float[][] grads = new float[2][];
        for (int run = 0; run < 2; run++) {
            Generator g = new Generator(4);
            Tensor q = Tensor.randn(g, 2, 3, 4).requiresGrad(true);
            Tensor k = Tensor.randn(g, 2, 5, 4).requiresGrad(true);
            Tensor v = Tensor.randn(g, 2, 5, 4).requiresGrad(true);
            Attention.Weighted w = Attention.scaledDotProductWithWeights(q, k, v, null, 0.5f, true,
                    new java.util.Random(9));
            if (run == 1) {
                w.weights().fill(0f);
            }
            Reduce.sum(Arithmetic.mul(w.output(), w.output())).backward();
            grads[run] = v.grad().toArray();
        }
        assertArrayEquals(grads[0], grads[1], "∂V, computed from P̃");
    }

    @Test
    void aWriteAfterBackwardIsFine() {
        Tensor x = Tensor.fromArray(new float[] {1, 2}).requiresGrad(true);
        Tensor w = Tensor.fromArray(new float[] {3, 4}).requiresGrad(true);
        Tensor y = MatMul.matmul(x, w);
        y.backward();
        w.set(0f, 0);
        assertArrayEquals(new float[] {3, 4}, x.grad().toArray());
        Tensor again = MatMul.matmul(x, w);
        x.zeroGrad();
        again.backward();
        assertArrayEquals(new float[] {0, 4}, x.grad().toArray(), "a new forward pass reads the new values");
    }
}
