package dev.gatun.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.ops.Activation;
import dev.gatun.ops.Arithmetic;
import dev.gatun.ops.MatMul;
import dev.gatun.ops.Reduce;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** A backward pass through a graph that closing has broken, and a second pass over one graph. */
class BackwardGraphTest {

    private static final String SECOND_TIME = "Trying to backward through the graph a second time";

    private static void assertMessage(Throwable e, String... parts) {
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), "message lacks \"" + p + "\": " + e.getMessage());
        }
    }

    @Test
    void closingAnIntermediateFailsNamingIt() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.ones(3, 4).requiresGrad(true);
            Tensor w = Tensor.full(2f, 3, 4).requiresGrad(true);
            Tensor y = Arithmetic.mul(x, w);
            Tensor z = Reduce.sum(y);
            y.close();
            IllegalStateException e = assertThrows(IllegalStateException.class, z::backward);
            assertMessage(e, "the output of mul, shape [3, 4]", "input 0 of sum", "closed");
            assertNull(x.grad(), "nothing is accumulated from a broken graph");
            assertNull(w.grad());
        }
    }

    @Test
    void closingAMatmulOutputFailsNamingIt() {
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.randn(new Generator(1), 3, 4).requiresGrad(true);
            Tensor b = Tensor.randn(new Generator(2), 4, 2).requiresGrad(true);
            Tensor y = MatMul.matmul(a, b);
            Tensor z = Reduce.sum(Activation.relu(y));
            y.close();
            IllegalStateException e = assertThrows(IllegalStateException.class, z::backward);
            assertMessage(e, "the output of matmul, shape [3, 2]", "closed");
            assertNull(a.grad());
        }
    }

    /** Closing the tensor that owns a view's storage breaks the graph at the view, whose memory is gone. */
    @Test
    void closingTheOwnerOfAViewFailsNamingTheView() {
        try (Tensor x = Tensor.ones(3, 4).requiresGrad(true); Tensor w = Tensor.ones(3, 4).requiresGrad(true)) {
            Tensor y = Arithmetic.mul(x, w); // owns its memory: no scope is open
            Tensor z = Reduce.sum(y.transpose(0, 1));
            y.close();
            IllegalStateException e = assertThrows(IllegalStateException.class, z::backward);
            assertMessage(e, "the output of transpose, shape [4, 3]", "closed");
            assertNull(x.grad());
            z.close();
        }
    }

    @Test
    void closingALeafThatNeedsAGradientFails() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.ones(3, 4).requiresGrad(true);
            Tensor c = Tensor.full(3f, 3, 4);
            Tensor z = Reduce.sum(Arithmetic.mul(x, c));
            x.close();
            IllegalStateException e = assertThrows(IllegalStateException.class, z::backward);
            assertMessage(e, "a leaf of shape [3, 4]", "input 0 of mul", "closed");
        }
    }

    @Test
    void closingASavedInputFailsNamingIt() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.ones(3, 4).requiresGrad(true);
            Tensor c = Tensor.full(3f, 3, 4); // needs no gradient, but mul's backward reads it for x's
            Tensor z = Reduce.sum(Arithmetic.mul(x, c));
            c.close();
            IllegalStateException e = assertThrows(IllegalStateException.class, z::backward);
            assertMessage(e, "backward of mul", "input 1", "shape [3, 4]", "closed");
            assertNotNull(e.getCause(), "the op's own failure is kept as the cause");
        }
    }

    /** A closed constant that the backward closure does not read breaks nothing. */
    @Test
    void aClosedInputThatBackwardDoesNotReadIsFine() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.ones(3, 4).requiresGrad(true);
            Tensor c = Tensor.full(3f, 3, 4);
            Tensor z = Reduce.sum(Arithmetic.add(x, c));
            c.close();
            z.backward();
            assertArrayEquals(Tensor.ones(12).toArray(), x.grad().toArray());
        }
    }

    @Test
    void closingTheRootFails() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.ones(3).requiresGrad(true);
            Tensor z = Reduce.sum(x);
            z.close();
            IllegalStateException e = assertThrows(IllegalStateException.class, z::backward);
            assertMessage(e, "backward() from", "shape []", "closed");
        }
    }

    @Test
    void closingTheScopeOfTheGraphFailsNamingTheRoot() {
        try (Scope params = Scope.detached()) {
            Tensor x = Tensor.zeros(params, 3).fill(1f).requiresGrad(true);
            Tensor z;
            try (Scope step = Scope.open()) {
                z = Reduce.sum(Arithmetic.mul(x, x));
            }
            IllegalStateException e = assertThrows(IllegalStateException.class, z::backward);
            assertMessage(e, "the output of sum, shape []", "closed");
            assertNull(x.grad());
        }
    }

    /** A closed gradient buffer is the leaf's gradient discarded (like grad = None): the next pass makes a new one. */
    @Test
    void aClosedGradientIsReplacedNotAddedTo() {
        try (Scope params = Scope.detached()) {
            Tensor x = Tensor.zeros(params, 2).fill(1f).requiresGrad(true);
            Reduce.sum(Arithmetic.scale(x, 3f)).backward();
            x.grad().close();
            Reduce.sum(Arithmetic.scale(x, 5f)).backward();
            assertTrue(x.grad().isAlive());
            assertArrayEquals(new float[] {5, 5}, x.grad().toArray());
        }
    }

    @Test
    void aSecondBackwardFailsLikePyTorch() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.fromArray(new float[] {1, 2, 3}).requiresGrad(true);
            Tensor z = Reduce.sum(Arithmetic.mul(x, x));
            z.backward();
            assertArrayEquals(new float[] {2, 4, 6}, x.grad().toArray());
            IllegalStateException e = assertThrows(IllegalStateException.class, z::backward);
            assertMessage(e, SECOND_TIME, "retainGraph");
            assertArrayEquals(new float[] {2, 4, 6}, x.grad().toArray(), "the failed pass added nothing");
            assertTrue(z.gradFn().isReleased());
            assertThrows(IllegalStateException.class, () -> z.gradFn().inputs(), "its saved state is gone");
        }
    }

    /** Another loss that shares part of a graph already walked cannot go through the released part. */
    @Test
    void aLossSharingAReleasedSubgraphFails() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.fromArray(new float[] {1, 2}).requiresGrad(true);
            Tensor y = Arithmetic.mul(x, x);
            Tensor first = Reduce.sum(y);
            Tensor second = Reduce.sum(Arithmetic.scale(y, 2f));
            first.backward();
            IllegalStateException e = assertThrows(IllegalStateException.class, second::backward);
            assertMessage(e, SECOND_TIME, "the output of mul, shape [2]");
            assertArrayEquals(new float[] {2, 4}, x.grad().toArray());
        }
    }

    @Test
    void retainGraphLetsBackwardRunAgainAndAccumulate() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.fromArray(new float[] {1, 2, 3}).requiresGrad(true);
            Tensor w = Tensor.fromArray(new float[] {4, 5, 6}).requiresGrad(true);
            Tensor z = Reduce.sum(Activation.relu(Arithmetic.mul(x, w)));
            Autograd.backward(z, null, true);
            assertArrayEquals(new float[] {4, 5, 6}, x.grad().toArray());
            assertFalse(z.gradFn().isReleased());
            Autograd.backward(z, null, true);
            assertArrayEquals(new float[] {8, 10, 12}, x.grad().toArray(), "twice the gradient, as in PyTorch");
            assertArrayEquals(new float[] {2, 4, 6}, w.grad().toArray());
            z.backward(); // the last pass may release the graph
            assertArrayEquals(new float[] {12, 15, 18}, x.grad().toArray());
            IllegalStateException e = assertThrows(IllegalStateException.class, z::backward);
            assertMessage(e, SECOND_TIME);
        }
    }

    /** d/dx Σ (x·x + 3x) = 2x + 3 through a graph that uses x twice, retained or not. */
    @Test
    void anIntactGraphGivesTheSameGradientsEitherWay() {
        for (boolean retain : new boolean[] {false, true}) {
            try (Scope s = Scope.open()) {
                Tensor x = Tensor.fromArray(new float[] {-1, 0.5f, 2}).requiresGrad(true);
                Tensor z = Reduce.sum(Arithmetic.add(Arithmetic.mul(x, x), Arithmetic.scale(x, 3f)));
                Autograd.backward(z, null, retain);
                assertArrayEquals(new float[] {1, 4, 7}, x.grad().toArray(), 1e-6f);
                assertTrue(z.gradFn().isReleased() != retain);
            }
        }
    }

    /** A node that no gradient reached did not run, and stays usable for another loss. */
    @Test
    void aNodeNoGradientReachedIsNotReleased() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.fromArray(new float[] {1, 2}).requiresGrad(true);
            Tensor y = Arithmetic.scale(x, 2f);
            // The closure answers null for y: no gradient goes on to it.
            Tensor z = Autograd.record(Reduce.sum(y.detach()), "stop", g -> new Tensor[] {null}, y);
            z.backward();
            assertNull(x.grad());
            assertFalse(y.gradFn().isReleased());
            Reduce.sum(y).backward();
            assertArrayEquals(new float[] {2, 2}, x.grad().toArray());
        }
    }
}
