package dev.gatun.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.ops.Activation;
import dev.gatun.ops.Arithmetic;
import dev.gatun.ops.MatMul;
import dev.gatun.ops.Reduce;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Post-accumulate-grad hooks ({@code Tensor.register_post_accumulate_grad_hook}): called once per backward
 * pass for each leaf that receives a gradient, after the leaf's gradient of the pass is complete.
 */
class PostAccumulateGradHookTest {

    /** Calls of a hook, with the gradient it saw each time. */
    static final class Seen {
        final List<float[]> grads = new ArrayList<>();
        final List<Boolean> recording = new ArrayList<>();

        void see(Tensor leaf) {
            grads.add(leaf.grad().toArray());
            recording.add(Autograd.isRecording());
        }
    }

    /** Σ linear(x, w, b) ⊙ linear(x2, w, b) + Σ w ⊙ w: w and b are each used more than once. */
    static Tensor twiceUsed(Tensor x, Tensor x2, Tensor w, Tensor b) {
        Tensor y = Arithmetic.mul(MatMul.linear(x, w, b), MatMul.linear(x2, w, b));
        return Arithmetic.add(Reduce.sum(y), Reduce.sum(Arithmetic.mul(w, w)));
    }

    /**
     * A leaf used several times gets one call per pass, which sees the pass's complete gradient: in the
     * first pass autograd sums every use's gradient and accumulates once; after zeroGrad the linear layers
     * write straight into the gradient buffers (Tensor.gradSink) and w*w adds to them, and the call comes
     * after all of it. The bias is reached through the linear layers only, by direct writes in pass two.
     */
    @Test
    void aLeafUsedTwiceSeesItsCompleteGradientOncePerPass() {
        try (Scope s = Scope.open()) {
            Generator gen = new Generator(4);
            Tensor x = Tensor.randn(gen, 2, 4);
            Tensor x2 = Tensor.randn(gen, 2, 4);
            Tensor w = Tensor.randn(gen, 3, 4).requiresGrad(true);
            Tensor b = Tensor.randn(gen, 3).requiresGrad(true);
            Seen sw = new Seen();
            Seen sb = new Seen();
            w.registerPostAccumulateGradHook(sw::see);
            b.registerPostAccumulateGradHook(sb::see);

            twiceUsed(x, x2, w, b).backward();
            assertEquals(1, sw.grads.size());
            assertEquals(1, sb.grads.size());
            float[] gw = w.grad().toArray();
            float[] gb = b.grad().toArray();
            assertArrayEquals(gw, sw.grads.get(0));
            assertArrayEquals(gb, sb.grads.get(0));

            w.zeroGrad();
            b.zeroGrad();
            twiceUsed(x, x2, w, b).backward();
            assertEquals(2, sw.grads.size(), "one call per pass");
            assertEquals(2, sb.grads.size(), "a leaf whose gradient ops wrote directly is called too");
            assertArrayEquals(w.grad().toArray(), sw.grads.get(1));
            assertArrayEquals(b.grad().toArray(), sb.grads.get(1));
            assertArrayEquals(gw, sw.grads.get(1), 1e-5f, "the same gradient as the first pass's");
            assertArrayEquals(gb, sb.grads.get(1), 1e-5f);
            assertEquals(List.of(false, false), sw.recording, "hooks run without recording");

            Tensor loss = twiceUsed(x, x2, w, b);
            Autograd.backward(loss, null, true);
            Autograd.backward(loss, null, false);
            assertEquals(4, sw.grads.size(), "each pass over a retained graph calls again");
            assertArrayEquals(w.grad().toArray(), sw.grads.get(3));
        }
    }

    /** Backward finishes the last layer first: its leaves' hooks run before the first layer's. */
    /** A hook runs with recording off: a backward pass it starts says so, and the outer pass goes on. */
    @Test
    void backwardFromAHookSaysHooksRunWithRecordingOff() {
        try (Scope s = Scope.open()) {
            Tensor w = Tensor.fromArray(new float[] {1, 2}).requiresGrad(true);
            Tensor other = Tensor.fromArray(new float[] {3}).requiresGrad(true);
            List<String> seen = new ArrayList<>();
            w.registerPostAccumulateGradHook(t -> {
                IllegalStateException e = assertThrows(IllegalStateException.class,
                        () -> Arithmetic.mul(other, other).backward());
                seen.add(e.getMessage());
            });
            Reduce.sum(Arithmetic.mul(w, w)).backward();
            assertEquals(1, seen.size());
            assertTrue(seen.get(0).contains("inside a backward pass"), seen.get(0));
            assertArrayEquals(new float[] {2, 4}, w.grad().toArray());
            IllegalStateException outside = assertThrows(IllegalStateException.class,
                    () -> Tensor.ones(1).backward());
            assertFalse(outside.getMessage().contains("inside a backward pass"), outside.getMessage());
        }
    }

    @Test
    void theLastLayersLeavesComeFirst() {
        try (Scope s = Scope.open()) {
            Generator gen = new Generator(5);
            Tensor x = Tensor.randn(gen, 4, 6);
            Tensor w1 = Tensor.randn(gen, 5, 6).requiresGrad(true);
            Tensor b1 = Tensor.randn(gen, 5).requiresGrad(true);
            Tensor w2 = Tensor.randn(gen, 3, 5).requiresGrad(true);
            Tensor b2 = Tensor.randn(gen, 3).requiresGrad(true);
            List<String> order = new ArrayList<>();
            w1.registerPostAccumulateGradHook(t -> order.add("w1"));
            b1.registerPostAccumulateGradHook(t -> order.add("b1"));
            w2.registerPostAccumulateGradHook(t -> order.add("w2"));
            b2.registerPostAccumulateGradHook(t -> order.add("b2"));
            for (int pass = 0; pass < 2; pass++) { // autograd's accumulation, then the direct writes
                order.clear();
                Reduce.sum(MatMul.linear(Activation.tanh(MatMul.linear(x, w1, b1)), w2, b2)).backward();
                assertEquals(4, order.size(), order.toString());
                int firstLayer = Math.min(order.indexOf("w1"), order.indexOf("b1"));
                int lastLayer = Math.max(order.indexOf("w2"), order.indexOf("b2"));
                assertTrue(lastLayer < firstLayer, "pass " + pass + ": " + order);
            }
        }
    }

    @Test
    void aRemovedHookIsNotCalledAndHooksRunInRegistrationOrder() {
        try (Scope s = Scope.open()) {
            Tensor w = Tensor.fromArray(new float[] {1, 2}).requiresGrad(true);
            List<String> calls = new ArrayList<>();
            Tensor.HookHandle first = w.registerPostAccumulateGradHook(t -> calls.add("first"));
            Tensor.HookHandle second = w.registerPostAccumulateGradHook(t -> calls.add("second"));
            assertEquals(2, w.postAccumulateGradHooks().size());
            Reduce.sum(w).backward();
            assertEquals(List.of("first", "second"), calls);
            first.remove();
            assertFalse(first.isRegistered());
            assertTrue(second.isRegistered());
            first.remove(); // idempotent
            Reduce.sum(w).backward();
            assertEquals(List.of("first", "second", "second"), calls);
            try (second) {
                assertEquals(1, w.postAccumulateGradHooks().size());
            }
            assertTrue(w.postAccumulateGradHooks().isEmpty());
            Reduce.sum(w).backward();
            assertEquals(3, calls.size(), "no hook left: " + calls);
            assertArrayEquals(new float[] {3, 3}, w.grad().toArray());
        }
    }

    @Test
    void aHooksExceptionPropagatesOutOfBackward() {
        try (Scope s = Scope.open()) {
            Tensor w = Tensor.fromArray(new float[] {1, 2}).requiresGrad(true);
            IllegalStateException boom = new IllegalStateException("boom");
            w.registerPostAccumulateGradHook(t -> {
                throw boom;
            });
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> Reduce.sum(Arithmetic.scale(w, 2f)).backward());
            assertSame(boom, e);
            assertArrayEquals(new float[] {2, 2}, w.grad().toArray(), "the hook ran after the accumulation");
            assertTrue(Autograd.isRecording(), "the pass's no-grad region was closed");
        }
    }

    /**
     * A leaf on the graph that the pass gives no gradient (an op's backward returns none for it) gets no
     * call, even with a gradient accumulated outside backward since the last pass; nor does a leaf off the
     * graph.
     */
    @Test
    void aLeafThatReceivesNoGradientGetsNoCall() {
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.fromArray(new float[] {1, 2}).requiresGrad(true);
            Tensor c = Tensor.fromArray(new float[] {3, 4}).requiresGrad(true);
            Tensor off = Tensor.fromArray(new float[] {5}).requiresGrad(true);
            int[] calls = new int[3];
            a.registerPostAccumulateGradHook(t -> calls[0]++);
            c.registerPostAccumulateGradHook(t -> calls[1]++);
            off.registerPostAccumulateGradHook(t -> calls[2]++);
            c.accumulateGrad(Tensor.ones(2)); // as a checkpoint's restore does, outside any pass
            Tensor sum;
            try (Autograd.NoGrad ignored = Autograd.noGrad()) {
                sum = Arithmetic.add(a, c);
            }
            Tensor out = Autograd.record(sum, "firstOnly", g -> new Tensor[] {g, null}, a, c);
            Reduce.sum(out).backward();
            assertArrayEquals(new int[] {1, 0, 0}, calls);
            assertArrayEquals(new float[] {1, 1}, c.grad().toArray());
        }
    }

    @Test
    void onlyLeavesThatRequireGradAcceptHooks() {
        try (Scope s = Scope.open()) {
            Tensor plain = Tensor.ones(3);
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> plain.registerPostAccumulateGradHook(t -> { }));
            assertTrue(e.getMessage().contains("does not require grad") && e.getMessage().contains("[3]"),
                    e.getMessage());
            Tensor w = Tensor.ones(3).requiresGrad(true);
            Tensor made = Arithmetic.scale(w, 2f);
            e = assertThrows(IllegalStateException.class, () -> made.registerPostAccumulateGradHook(t -> { }));
            assertTrue(e.getMessage().contains("leaves") && e.getMessage().contains("made by"), e.getMessage());
            assertThrows(NullPointerException.class, () -> w.registerPostAccumulateGradHook(null));
            Tensor closed = Tensor.ones(2).requiresGrad(true);
            closed.close();
            assertThrows(IllegalStateException.class, () -> closed.registerPostAccumulateGradHook(t -> { }));
        }
    }

    /** A hook registered on another thread runs in the next pass on this one. */
    @Test
    void hooksMayBeRegisteredOnAnotherThread() throws Exception {
        Tensor w = Tensor.fromArray(new float[] {1, 2}).requiresGrad(true);
        int[] calls = new int[1];
        Tensor.HookHandle[] handle = new Tensor.HookHandle[1];
        Thread t = new Thread(() -> handle[0] = w.registerPostAccumulateGradHook(leaf -> calls[0]++));
        t.start();
        t.join();
        Reduce.sum(w).backward();
        assertEquals(1, calls[0]);
        Thread r = new Thread(handle[0]::remove);
        r.start();
        r.join();
        Reduce.sum(w).backward();
        assertEquals(1, calls[0]);
    }
}
