package dev.gatun.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.autograd.Autograd;
import dev.gatun.nn.BatchNorm;
import dev.gatun.nn.BatchNorm2d;
import dev.gatun.nn.Conv2d;
import dev.gatun.nn.Flatten;
import dev.gatun.nn.Init;
import dev.gatun.nn.Linear;
import dev.gatun.nn.Models;
import dev.gatun.nn.Module;
import dev.gatun.nn.ReLU;
import dev.gatun.nn.Sequential;
import dev.gatun.nn.Tanh;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class InferenceSessionTest {

    private static float[] sample(int seed, int n) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = r.nextFloat() * 2 - 1;
        return v;
    }

    /** The model's output on the calling thread, with no session: the reference. */
    private static float[] direct(Module m, float[] input, long... shape) {
        try (Scope s = Scope.open(); Autograd.NoGrad ng = Autograd.noGrad()) {
            return m.forward(Tensor.fromArray(input, shape)).toArray();
        }
    }

    /** A convolution, batch norm (with non-trivial running statistics) and ReLU, which run fused. */
    private static Sequential convBn() {
        Init.manualSeed(7);
        BatchNorm bn = new BatchNorm2d(4);
        bn.runningMean().copyFrom(new float[] {0.1f, -0.2f, 0.3f, 0f});
        bn.runningVar().copyFrom(new float[] {0.5f, 2f, 1.5f, 1f});
        return new Sequential(new Conv2d(1, 4, 3, 1, 1), bn, new ReLU(), new Flatten(),
                new Linear(4 * 8 * 8, 5));
    }

    private static void concurrentMatchesDirect(Module model, long[] sample, int sampleSize) throws Exception {
        model.eval();
        int inputs = 8;
        float[][] in = new float[inputs][];
        float[][] expected = new float[inputs][];
        for (int i = 0; i < inputs; i++) {
            int rows = 1 + i % 3;
            in[i] = sample(i, rows * sampleSize);
            long[] shape = shape(rows, sample);
            expected[i] = direct(model, in[i], shape);
        }
        try (InferenceSession session = new InferenceSession(model, sample,
                InferenceSession.Config.defaults().withConcurrency(2), "input", "output")) {
            // One row may run a compiled plan, equal to the layers within rounding; the concurrent calls below
            // must then give the lone caller's values bit for bit.
            for (int i = 0; i < inputs; i++) {
                float[] alone = session.run(in[i], shape(1 + i % 3, sample)).data();
                assertEquals(expected[i].length, alone.length);
                for (int k = 0; k < alone.length; k++) {
                    assertEquals(expected[i][k], alone[k], 1e-5f * Math.max(1f, Math.abs(expected[i][k])),
                            "input " + i + " element " + k);
                }
                expected[i] = alone;
            }
            List<Future<?>> tasks = new ArrayList<>();
            AtomicInteger checked = new AtomicInteger();
            for (int t = 0; t < 64; t++) {
                int first = t;
                FutureTask<Void> task = new FutureTask<>(() -> {
                    for (int k = 0; k < inputs; k++) {
                        int i = (first + k) % inputs;
                        InferenceSession.Result r = session.run(in[i], shape(1 + i % 3, sample));
                        assertArrayEquals(expected[i], r.data(), "input " + i + " on thread " + first);
                        checked.incrementAndGet();
                    }
                    return null;
                });
                tasks.add(task);
                // Half on platform threads, half on virtual threads.
                (t % 2 == 0 ? Thread.ofPlatform() : Thread.ofVirtual()).start(task);
            }
            for (Future<?> f : tasks) f.get(120, TimeUnit.SECONDS);
            assertEquals(64 * inputs, checked.get());
        }
    }

    private static long[] shape(int rows, long[] sample) {
        long[] s = new long[sample.length + 1];
        s[0] = rows;
        System.arraycopy(sample, 0, s, 1, sample.length);
        return s;
    }

    @Test
    void lenetFrom32PlatformAnd32VirtualThreadsIsBitIdenticalToOneThread() throws Exception {
        Init.manualSeed(1);
        concurrentMatchesDirect(Models.lenet5(), new long[] {1, 28, 28}, 784);
    }

    @Test
    void fusedConvBatchNormFromManyThreadsIsBitIdenticalToOneThread() throws Exception {
        concurrentMatchesDirect(convBn(), new long[] {1, 8, 8}, 64);
    }

    @Test
    void aResNetRunsPlansFromManyThreadsAndWhatDoesNotCompileRunsItsLayers() throws Exception {
        Init.manualSeed(2);
        concurrentMatchesDirect(Models.resnetStages(1), new long[] {1, 12, 12}, 144);
        Init.manualSeed(2);
        try (InferenceSession resnet = new InferenceSession(Models.resnet(3), 3, 8, 8);
             InferenceSession lenet = new InferenceSession(Models.lenet5(), 1, 28, 28);
             InferenceSession tanh = new InferenceSession(new Sequential(new Linear(4, 3), new Tanh()), 4)) {
            assertTrue(resnet.runsPlans());
            assertTrue(lenet.runsPlans());
            assertFalse(tanh.runsPlans()); // a plan has no tanh step
            float[] out = tanh.run(new float[] {1, 2, 3, 4}, 1, 4).data();
            assertEquals(3, out.length);
        }
    }

    @Test
    void describesInputAndOutput() {
        Init.manualSeed(1);
        try (InferenceSession s = new InferenceSession(Models.lenet5(), 1, 28, 28)) {
            assertEquals("input", s.input().name());
            assertEquals("FP32", s.input().datatype());
            assertArrayEquals(new long[] {-1, 1, 28, 28}, s.input().shape());
            assertEquals("output", s.output().name());
            assertArrayEquals(new long[] {-1, 10}, s.output().shape());
            float[] out = new float[30];
            assertArrayEquals(new long[] {3, 10}, s.run(new float[3 * 784], new long[] {3, 1, 28, 28}, out));
            assertArrayEquals(new long[] {2, 10}, s.run(new float[2 * 784], 2, 1, 28, 28).shape());
            // Calls leave the description alone.
            assertArrayEquals(new long[] {-1, 10}, s.output().shape());
            assertArrayEquals(new long[] {-1, 1, 28, 28}, s.input().shape());
        }
    }

    @Test
    void refusesWrongShapesBeforeAnyNativeCall() {
        Init.manualSeed(1);
        try (InferenceSession s = new InferenceSession(Models.lenet5(), 1, 28, 28)) {
            var e = assertThrows(IllegalArgumentException.class, () -> s.run(new float[784], 1, 28, 28));
            assertTrue(e.getMessage().contains("[1, 28, 28]") && e.getMessage().contains("[-1, 1, 28, 28]"),
                    e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> s.run(new float[784], 1, 1, 28, 27));
            assertTrue(e.getMessage().contains("[1, 1, 28, 27]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> s.run(new float[783], 1, 1, 28, 28));
            assertTrue(e.getMessage().contains("783 input values"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> s.run(new float[0], 0, 1, 28, 28));
            assertTrue(e.getMessage().contains("batch dimension"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> s.run(null, 1, 1, 28, 28));
            e = assertThrows(IllegalArgumentException.class,
                    () -> s.run(new float[784], new long[] {1, 1, 28, 28}, new float[9]));
            assertTrue(e.getMessage().contains("9 values"), e.getMessage());
            // Still serving after the refusals.
            assertEquals(10, s.run(new float[784], 1, 1, 28, 28).data().length);
        }
    }

    @Test
    void refusesASampleShapeTheModelCannotTake() {
        Init.manualSeed(1);
        Sequential m = Models.lenet5();
        assertThrows(RuntimeException.class, () -> new InferenceSession(m, 1, 20, 20));
        m.close();
        assertThrows(IllegalArgumentException.class, () -> new InferenceSession(Models.lenet5(), new long[0]));
    }

    /** Returns its input; blocks in forward while {@link #gate} is set, to hold a worker. */
    static final class Gate extends Module {
        volatile CountDownLatch gate;
        final CountDownLatch entered = new CountDownLatch(1);

        @Override
        public Tensor forward(Tensor input) {
            CountDownLatch g = gate;
            if (g != null) {
                entered.countDown();
                try {
                    g.await();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            }
            return input.copy();
        }
    }

    @Test
    void aFullQueueIsRefusedAndQueuedCallsFinishOnClose() throws Exception {
        Gate m = new Gate();
        InferenceSession s = new InferenceSession(m, new long[] {2},
                new InferenceSession.Config(1, 1, 0, 1, 10_000), "input", "output");
        m.gate = new CountDownLatch(1);
        FutureTask<float[]> a = new FutureTask<>(() -> s.run(new float[] {1, 2}, 1, 2).data());
        Thread.ofVirtual().start(a);
        assertTrue(m.entered.await(10, TimeUnit.SECONDS));
        FutureTask<float[]> b = new FutureTask<>(() -> s.run(new float[] {3, 4}, 1, 2).data());
        Thread.ofVirtual().start(b);
        while (s.queueDepth() < 1) Thread.sleep(1);
        var e = assertThrows(InferenceSession.QueueFullException.class, () -> s.run(new float[] {5, 6}, 1, 2));
        assertTrue(e.getMessage().contains("queue is full"), e.getMessage());
        Thread closer = Thread.ofVirtual().start(s::close);
        Thread.sleep(50);
        m.gate.countDown();
        closer.join(10_000);
        assertArrayEquals(new float[] {1, 2}, a.get(10, TimeUnit.SECONDS));
        assertArrayEquals(new float[] {3, 4}, b.get(10, TimeUnit.SECONDS));
        var closed = assertThrows(IllegalStateException.class, () -> s.run(new float[] {1, 2}, 1, 2));
        assertTrue(closed.getMessage().contains("closed"), closed.getMessage());
    }

    @Test
    void queuedCallsRunAsOneBatchAndEachGetsItsRows() throws Exception {
        Gate m = new Gate();
        try (InferenceSession s = new InferenceSession(m, new long[] {2},
                new InferenceSession.Config(1, 8, 200_000, 64, 10_000), "input", "output")) {
            long before = s.batchSizes().count();
            m.gate = new CountDownLatch(1);
            FutureTask<float[]> first = new FutureTask<>(() -> s.run(new float[] {0, 0}, 1, 2).data());
            Thread.ofVirtual().start(first);
            assertTrue(m.entered.await(10, TimeUnit.SECONDS));
            List<FutureTask<float[]>> rest = new ArrayList<>();
            for (int i = 1; i <= 3; i++) {
                float v = i;
                int rows = i; // 1 + 2 + 3 = 6 rows in one batch
                float[] in = new float[rows * 2];
                java.util.Arrays.fill(in, v);
                FutureTask<float[]> t = new FutureTask<>(() -> s.run(in, rows, 2).data());
                rest.add(t);
                Thread.ofVirtual().start(t);
            }
            while (s.queueDepth() < 3) Thread.sleep(1);
            CountDownLatch g = m.gate;
            m.gate = null;
            g.countDown();
            // The first batch waits out the delay for more rows before it runs; the released gate lets it finish.
            first.get(10, TimeUnit.SECONDS);
            for (int i = 1; i <= 3; i++) {
                float[] expect = new float[i * 2];
                java.util.Arrays.fill(expect, i);
                assertArrayEquals(expect, rest.get(i - 1).get(10, TimeUnit.SECONDS));
            }
            assertTrue(s.batchSizes().count() - before <= 2, "batches: " + (s.batchSizes().count() - before));
        }
    }

    /** Records the thread each forward pass ran on. */
    static final class WhereRun extends Module {
        final List<Thread> threads = java.util.Collections.synchronizedList(new ArrayList<>());

        @Override
        public Tensor forward(Tensor input) {
            threads.add(Thread.currentThread());
            return input.copy();
        }
    }

    @Test
    void anUncontendedCallRunsOnItsVirtualThreadAndAPlatformCallerWithATeamIsQueued() throws Exception {
        int before = dev.gatun.backend.Threads.get();
        WhereRun m = new WhereRun();
        try (InferenceSession s = new InferenceSession(m, new long[] {2},
                new InferenceSession.Config(1, 1, 0, 4, 10_000), "input", "output")) {
            m.threads.clear();
            Thread[] caller = new Thread[1];
            Thread v = Thread.ofVirtual().start(() -> {
                caller[0] = Thread.currentThread();
                assertArrayEquals(new float[] {1, 2}, s.run(new float[] {1, 2}, 1, 2).data());
            });
            v.join(10_000);
            assertEquals(List.of(caller[0]), m.threads, "ran on the calling virtual thread");
            // A platform thread would bring an OpenMP team of its own when Threads > 1: a worker runs it.
            dev.gatun.backend.Threads.set(2);
            m.threads.clear();
            Thread p = Thread.ofPlatform().start(() -> s.run(new float[] {3, 4}, 1, 2));
            p.join(10_000);
            assertEquals(1, m.threads.size());
            assertTrue(m.threads.get(0).getName().startsWith("gatun-inference-"), m.threads.get(0).getName());
            // With one thread per call, a platform caller runs its call itself.
            dev.gatun.backend.Threads.set(1);
            m.threads.clear();
            Thread q = Thread.ofPlatform().start(() -> s.run(new float[] {5, 6}, 1, 2));
            q.join(10_000);
            assertEquals(List.of(q), m.threads);
        } finally {
            dev.gatun.backend.Threads.set(before);
        }
    }

    @Test
    void closeWaitsForACallRunningOnItsCaller() throws Exception {
        Gate m = new Gate();
        InferenceSession s = new InferenceSession(m, new long[] {2},
                new InferenceSession.Config(1, 1, 0, 4, 10_000), "input", "output");
        m.gate = new CountDownLatch(1);
        FutureTask<float[]> a = new FutureTask<>(() -> s.run(new float[] {7, 8}, 1, 2).data());
        Thread caller = Thread.ofVirtual().start(a);
        assertTrue(m.entered.await(10, TimeUnit.SECONDS));
        assertEquals(1, s.running());
        assertEquals(0, s.queueDepth(), "running on its caller, not queued");
        Thread closer = Thread.ofVirtual().start(s::close);
        Thread.sleep(100);
        assertTrue(closer.isAlive(), "close waits for the call on its caller's thread");
        assertTrue(caller.isAlive());
        m.gate.countDown();
        closer.join(10_000);
        assertTrue(!closer.isAlive());
        assertArrayEquals(new float[] {7, 8}, a.get(10, TimeUnit.SECONDS));
        assertThrows(IllegalStateException.class, () -> s.run(new float[] {1, 2}, 1, 2));
    }

    @Test
    void aLoneCallIsNotHeldForABatch() throws Exception {
        int before = dev.gatun.backend.Threads.get();
        WhereRun m = new WhereRun();
        // A five-second delay to fill batches of 8: a call with nothing queued behind it must not wait for it.
        try (InferenceSession s = new InferenceSession(m, new long[] {2},
                new InferenceSession.Config(1, 8, 5_000_000, 4, 10_000), "input", "output")) {
            dev.gatun.backend.Threads.set(2); // a platform caller is then queued for the worker
            FutureTask<float[]> call = new FutureTask<>(() -> s.run(new float[] {1, 2}, 1, 2).data());
            Thread.ofPlatform().start(call);
            assertArrayEquals(new float[] {1, 2}, call.get(2500, TimeUnit.MILLISECONDS));
            assertTrue(m.threads.get(m.threads.size() - 1).getName().startsWith("gatun-inference-"));
        } finally {
            dev.gatun.backend.Threads.set(before);
        }
    }
}
