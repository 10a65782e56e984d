package dev.gatun.cli;

import dev.gatun.backend.Threads;
import dev.gatun.io.ModelFile;
import dev.gatun.nn.Module;
import dev.gatun.serve.InferenceServer;
import dev.gatun.serve.InferenceSession;
import dev.gatun.serve.ModelLoader;
import dev.gatun.serve.ModelRepository;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code gatun serve}: serves one model file, or a directory of models by name and version, over the Open
 * Inference Protocol (KServe v2) on HTTP/JSON until SIGTERM or Ctrl-C, which stop it gracefully.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve models over the Open Inference Protocol (KServe v2, HTTP/JSON).")
final class ServeCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL",
            description = "A model file, or a directory <name>/<version>/model.safetensors (Triton's layout).")
    Path model;

    @Option(names = "--name", description = "The name of a single model file (default: the file name without"
            + " its extension).")
    String name;

    @Option(names = "--input-shape", split = ",", paramLabel = "D",
            description = "The shape of one input sample, without the batch dimension, e.g. 1,28,28 (default: the"
                    + " shape the model file records; gatun train --save records it).")
    long[] inputShape;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to bind (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "8000", description = "Port; 0 picks a free one, printed on startup"
            + " (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--concurrency", description = "Calls each model runs at once (default: the available"
            + " processors). Each runs with cores / concurrency threads (at least 1), so that the native threads"
            + " stay within the cores.")
    Integer concurrency;

    @Option(names = "--max-batch", defaultValue = "" + InferenceServer.DEFAULT_MAX_BATCH, description = "Most rows a batch assembled from concurrent"
            + " requests may have; 1 turns batching off. A request with none queued behind it runs at once"
            + " (default: ${DEFAULT-VALUE}).")
    int maxBatch;

    @Option(names = "--max-delay-us", defaultValue = "" + InferenceServer.DEFAULT_MAX_DELAY_MICROS, description = "How long to wait for more requests to"
            + " fill a batch while others are queued, in microseconds (default: ${DEFAULT-VALUE}).")
    long maxDelayMicros;

    @Option(names = "--queue", defaultValue = "1024", description = "Most requests waiting per model; more are"
            + " answered 503 (default: ${DEFAULT-VALUE}).")
    int queue;

    @Option(names = "--max-body", defaultValue = "67108864", description = "Largest request body in bytes; larger"
            + " ones are answered 413 (default: ${DEFAULT-VALUE}).")
    long maxBody;

    @Option(names = "--poll-ms", defaultValue = "2000", description = "How often to look for new, replaced and removed model files,"
            + " in milliseconds; 0 turns it off (default: ${DEFAULT-VALUE}).")
    long pollMillis;

    @Option(names = "--io-threads", description = "HTTP event loop threads (default: one per core, at most 4).")
    Integer ioThreads;

    @Option(names = "--shutdown-seconds", defaultValue = "30", description = "How long a graceful stop waits for"
            + " requests in flight (default: ${DEFAULT-VALUE}).")
    int shutdownSeconds;

    private final ModelLoader loader;

    /** The command with the loader of model files. */
    ServeCommand() {
        this(ModelLoader.modelFiles());
    }

    ServeCommand(ModelLoader loader) {
        this.loader = loader;
    }

    @Override
    public Integer call() throws IOException, InterruptedException {
        Checks checks = new Checks(spec.commandLine());
        checks.require(port >= 0 && port <= 65535, "--port must be in [0, 65535], got " + port);
        int cores = Runtime.getRuntime().availableProcessors();
        int permits = concurrency == null ? cores : concurrency;
        checks.atLeast("--concurrency", permits, 1);
        // Each permit is a thread with native state (oneDNN's and OpenBLAS's buffers): thousands of them
        // only make start-up crawl. 64 calls per core is far past any use.
        checks.require(permits <= 64L * cores, "--concurrency " + permits + " is more than 64 calls per core ("
                + 64L * cores + " on this machine's " + cores + "): calls beyond the cores only queue");
        checks.atLeast("--max-batch", maxBatch, 1);
        checks.atLeast("--max-delay-us", maxDelayMicros, 0);
        checks.atLeast("--queue", queue, 1);
        checks.require(maxBody >= 1 && maxBody <= Integer.MAX_VALUE - 8,
                "--max-body must be in [1, " + (Integer.MAX_VALUE - 8) + "], got " + maxBody);
        checks.atLeast("--poll-ms", pollMillis, 0);
        checks.atLeast("--shutdown-seconds", shutdownSeconds, 0);
        checks.require(ioThreads == null || ioThreads >= 1 && ioThreads <= 256,
                "--io-threads must be in [1, 256], got " + ioThreads);
        for (long d : inputShape == null ? new long[0] : inputShape) {
            checks.require(d >= 1, "--input-shape dimensions must be >= 1, got " + d);
        }
        checks.throwIfAny();

        PrintWriter out = spec.commandLine().getOut();
        // One OpenMP team per worker; workers × team ≤ cores keeps every native thread on its own core.
        Threads.set(Math.max(1, cores / permits));
        InferenceSession.Config config = new InferenceSession.Config(permits, maxBatch, maxDelayMicros, queue,
                shutdownSeconds * 1000L);
        List<ModelRepository.Entry> entries = ModelRepository.scan(model, name);
        InferenceServer.Builder builder = InferenceServer.builder().host(host).port(port).maxBodyBytes(maxBody)
                .shutdownSeconds(shutdownSeconds);
        if (ioThreads != null) {
            builder.ioThreads(ioThreads);
        }
        List<InferenceSession> opened = new ArrayList<>();
        try {
            for (ModelRepository.Entry e : entries) {
                InferenceSession s = open(e, config);
                opened.add(s);
                builder.model(e.name(), e.version(), s);
            }
        } catch (IOException | RuntimeException e) {
            opened.forEach(InferenceSession::close);
            throw e;
        }
        InferenceServer server = builder.start();
        Thread watcher = pollMillis == 0 ? null : ModelRepository.watch(model, name, entries, pollMillis,
                new ModelRepository.Listener() {
                    @Override
                    public void changed(ModelRepository.Entry e) {
                        try {
                            server.replace(e.name(), e.version(), open(e, config));
                            out.println("gatun serve: loaded " + e.name() + " version " + e.version() + " from "
                                    + e.file());
                        } catch (IOException | RuntimeException ex) {
                            // The old model, if any, keeps serving; the file is tried again when it changes.
                            spec.commandLine().getErr().println("gatun serve: could not load " + e.file() + ": "
                                    + Gatun.describe(ex, false));
                        }
                        out.flush();
                    }

                    @Override
                    public void removed(ModelRepository.Entry e) {
                        if (server.remove(e.name(), e.version())) {
                            out.println("gatun serve: unloaded " + e.name() + " version " + e.version()
                                    + " (" + e.file() + " is gone)");
                            out.flush();
                        }
                    }
                });
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (watcher != null) watcher.interrupt();
            server.close(); // stops accepting, lets requests in flight finish (bounded), closes the models
            stopped.countDown();
        }, "gatun-serve-shutdown"));
        for (ModelRepository.Entry e : entries) {
            out.println("gatun serve: " + e.name() + " version " + e.version() + " from " + e.file());
        }
        out.println("gatun serve: listening on " + server.uri() + " (" + permits + " workers per model, each with "
                + Threads.get() + " native thread" + (Threads.get() == 1 ? "" : "s") + ")");
        out.flush();
        stopped.await();
        return 0;
    }

    private InferenceSession open(ModelRepository.Entry e, InferenceSession.Config config) throws IOException {
        long[] shape = inputShape;
        if (shape == null) {
            shape = ModelFile.sampleShape(e.file());
            if (shape == null) {
                throw new IllegalArgumentException(e.file() + " records no input shape: give --input-shape");
            }
        }
        Module m = loader.load(e.file());
        try {
            return new InferenceSession(m, shape, config, "input", "output");
        } catch (RuntimeException ex) {
            m.close();
            throw ex;
        }
    }
}
