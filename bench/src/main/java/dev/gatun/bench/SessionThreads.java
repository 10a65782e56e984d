package dev.gatun.bench;

import dev.gatun.autograd.Autograd;
import dev.gatun.nn.Init;
import dev.gatun.nn.Models;
import dev.gatun.nn.Sequential;
import dev.gatun.serve.InferenceSession;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;

/**
 * Batch-1 LeNet-5 inference from many caller threads at once: each of THREADS platform or virtual
 * threads runs CALLS inferences, either on the model directly (each platform thread then brings its own
 * OpenMP team onto the cores) or through one {@link InferenceSession} (a fixed set of workers runs the
 * native code). Prints inferences per second for the four combinations, each after a warm-up round.
 * {@code SessionThreads [THREADS [CALLS [WORKERS]]]}, defaults 64, 200 and the session's default
 * ({@code cores / gatun.threads}). Run it on an otherwise idle machine.
 */
public final class SessionThreads {

    private SessionThreads() {}

    public static void main(String[] args) throws Exception {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 64;
        int calls = args.length > 1 ? Integer.parseInt(args[1]) : 200;
        InferenceSession.Config config = InferenceSession.Config.defaults();
        if (args.length > 2) {
            config = config.withConcurrency(Integer.parseInt(args[2]));
        }
        Init.manualSeed(1);
        float[] image = new float[28 * 28];
        for (int i = 0; i < image.length; i++) {
            image[i] = (i % 29) / 29f;
        }
        try (Sequential model = Models.lenet5()) {
            model.eval();
            try (InferenceSession session = new InferenceSession(model, new long[] {1, 28, 28}, config, "input",
                    "output")) {
                for (boolean virtual : new boolean[] {false, true}) {
                    for (boolean viaSession : new boolean[] {false, true}) {
                        Runnable call = viaSession ? () -> session.run(image, 1, 1, 28, 28) : () -> {
                            try (Scope s = Scope.open(); Autograd.NoGrad ng = Autograd.noGrad()) {
                                model.forward(Tensor.fromArray(image, 1, 1, 28, 28)).toArray();
                            }
                        };
                        run(threads, Math.max(1, calls / 4), virtual, call); // warm-up
                        double seconds = run(threads, calls, virtual, call);
                        System.out.printf(Locale.ROOT, "%-8s threads x%d, %-12s %8.0f inferences/s (%.2f s)%n",
                                virtual ? "virtual" : "platform", threads,
                                viaSession ? "session x" + session.config().concurrency() : "direct",
                                threads * (double) calls / seconds, seconds);
                    }
                }
            }
        }
    }

    private static double run(int threads, int calls, boolean virtual, Runnable call) throws InterruptedException {
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> all = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Runnable body = () -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < calls; i++) {
                    call.run();
                }
            };
            all.add(virtual ? Thread.ofVirtual().start(body) : Thread.ofPlatform().start(body));
        }
        long t0 = System.nanoTime();
        start.countDown();
        for (Thread t : all) {
            t.join();
        }
        return (System.nanoTime() - t0) / 1e9;
    }
}
