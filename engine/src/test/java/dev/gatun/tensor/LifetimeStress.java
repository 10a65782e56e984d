package dev.gatun.tensor;

import dev.gatun.autograd.Autograd;
import dev.gatun.nn.BatchNorm;
import dev.gatun.nn.BatchNorm2d;
import dev.gatun.nn.Conv2d;
import dev.gatun.nn.LSTM;
import dev.gatun.nn.Linear;
import dev.gatun.nn.MaxPool2d;
import dev.gatun.nn.Module;
import dev.gatun.nn.MultiheadAttention;
import dev.gatun.ops.MatMul;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Tensors, modules and scopes closed on one thread while other threads run convolution, pooling,
 * batch norm, LSTM, attention and matrix products on them. Run as its own JVM
 * ({@link LifetimeStressTest}), with the memory pool off and freed memory unmapped, so that a free under
 * a running call would crash it. Every op either completes with the result the same op gave before
 * any close, or is refused with an {@link IllegalStateException}; anything else exits with status 1.
 *
 * <p>Arguments: seconds to run (default 20), worker threads (default 3).
 */
public final class LifetimeStress {

    static final String[] OPS = {"conv", "maxpool", "batchnorm", "lstm", "attention", "matmul", "view"};

    /** One generation of shared objects, and each op's result on them computed before publishing. */
    static final class Slot {
        final Conv2d conv = new Conv2d(16, 16, 3, 1, 1);
        final MaxPool2d pool = new MaxPool2d(2);
        final BatchNorm bn = new BatchNorm2d(16);
        final LSTM lstm = new LSTM(64, 64);
        final MultiheadAttention attention = new MultiheadAttention(64, 4);
        final Linear linear = new Linear(32, 32);
        final List<Module> modules = List.of(conv, pool, bn, lstm, attention, linear);
        /** An image batch owned by no scope: [N, 16, 32, 32], N from 4 to 11 (256 to 704 KiB). */
        final Tensor image;
        /** A sequence batch in a detached scope: [T, N 16, C 64], T from 48 to 63 (192 to 252 KiB). */
        final Scope scope = Scope.detached();
        final Tensor sequence;
        final float[][] expected = new float[OPS.length][];
        final long batch;

        Slot(long seed) {
            for (Module m : modules) {
                m.eval();
            }
            // Sizes vary by generation, so that new primitives keep arriving and old ones are evicted.
            batch = 4 + seed % 8;
            long steps = 48 + seed % 16;
            image = Tensor.randn(new Generator(seed), batch, 16, 32, 32);
            sequence = Tensor.zeros(scope, steps, 16, 64)
                    .copyFrom(Tensor.randn(new Generator(seed + 1), steps, 16, 64).toArray());
            try (Scope s = Scope.open()) {
                for (int op = 0; op < OPS.length; op++) {
                    expected[op] = run(op);
                }
            }
        }

        float[] run(int op) {
            try (Autograd.NoGrad ignored = Autograd.noGrad()) {
                return switch (op) {
                    case 0 -> conv.forward(image).toArray();
                    case 1 -> pool.forward(image).toArray();
                    case 2 -> bn.forward(image).toArray();
                    case 3 -> lstm.forward(sequence).toArray();
                    case 4 -> attention.forward(sequence).toArray();
                    case 5 -> MatMul.matmul(image.view(-1, 32), linear.weight().t()).toArray();
                    default -> image.view(batch, 16, 1024).slice(2, 100, 900, 3).transpose(0, 1).copy().toArray();
                };
            }
        }

        /** Closes everything, in an order picked by {@code rng}; racing closes are harmless. */
        void close(SplittableRandom rng) {
            List<AutoCloseable> all = new ArrayList<>(modules);
            all.add(image);
            all.add(scope);
            while (!all.isEmpty()) {
                try {
                    all.remove(rng.nextInt(all.size())).close();
                } catch (Exception e) {
                    throw new AssertionError("close failed", e);
                }
            }
        }
    }

    public static void main(String[] args) throws Exception {
        double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 20;
        int workers = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        long deadline = System.nanoTime() + (long) (seconds * 1e9);
        AtomicReference<Slot> current = new AtomicReference<>(new Slot(1));
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicLongArray completed = new AtomicLongArray(OPS.length);
        AtomicLong refused = new AtomicLong();
        AtomicLong generations = new AtomicLong(1);

        List<Thread> threads = new ArrayList<>();
        for (int w = 0; w < workers; w++) {
            long seed = 100 + w;
            threads.add(Thread.ofPlatform().name("worker-" + w).start(() -> {
                SplittableRandom rng = new SplittableRandom(seed);
                while (System.nanoTime() < deadline && failure.get() == null) {
                    Slot s = current.get();
                    int op = rng.nextInt(OPS.length);
                    // Half the calls in a scope of their own, half leaving their results to the collector.
                    try (Scope step = rng.nextBoolean() ? Scope.open() : null) {
                        float[] got = s.run(op);
                        check(OPS[op], got, s.expected[op]);
                        completed.incrementAndGet(op);
                        if (rng.nextInt(200) == 0) {
                            s.image.close(); // a worker closing what others use: they must be refused
                        }
                    } catch (IllegalStateException e) {
                        refused.incrementAndGet();
                    } catch (Throwable t) {
                        failure.compareAndSet(null, t);
                    }
                }
            }));
        }
        Thread closer = Thread.ofPlatform().name("closer").start(() -> {
            SplittableRandom rng = new SplittableRandom(7);
            long seed = 2;
            try {
                while (System.nanoTime() < deadline && failure.get() == null) {
                    Slot next = new Slot(seed++);
                    Slot old = current.getAndSet(next);
                    generations.incrementAndGet();
                    Thread.sleep(rng.nextInt(1, 6));
                    old.close(rng); // while workers still run on it
                }
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            }
        });
        for (Thread t : threads) {
            t.join();
        }
        closer.join();
        current.get().close(new SplittableRandom(3));

        StringBuilder sb = new StringBuilder();
        long total = 0;
        for (int op = 0; op < OPS.length; op++) {
            sb.append(OPS[op]).append('=').append(completed.get(op)).append(' ');
            total += completed.get(op);
        }
        System.out.println("generations=" + generations.get() + " completed " + sb + "refused=" + refused.get()
                + " deferredCloses=" + dev.gatun.backend.SharedMemory.deferredCloses()
                + " reclaimed=" + dev.gatun.backend.SharedMemory.reclaimedCount()
                + " cache=" + dev.gatun.backend.OneDnn.primitiveCache());
        Throwable f = failure.get();
        if (f != null) {
            System.out.println("FAILED: " + f);
            f.printStackTrace(System.out);
            System.exit(1);
        }
        for (int op = 0; op < OPS.length; op++) {
            if (completed.get(op) == 0) {
                System.out.println("FAILED: no " + OPS[op] + " completed");
                System.exit(1);
            }
        }
        if (refused.get() == 0 || total == 0) {
            System.out.println("FAILED: no op was refused, so no close raced an op");
            System.exit(1);
        }
        System.exit(0);
    }

    static void check(String op, float[] got, float[] want) {
        if (got.length != want.length) {
            throw new AssertionError(op + ": " + got.length + " values, expected " + want.length);
        }
        for (int i = 0; i < got.length; i++) {
            float tol = 1e-5f * (1 + Math.abs(want[i]));
            if (!(Math.abs(got[i] - want[i]) <= tol)) {
                throw new AssertionError(op + ": value " + i + " is " + got[i] + ", expected " + want[i]);
            }
        }
    }
}
