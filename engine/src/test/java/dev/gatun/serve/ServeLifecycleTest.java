package dev.gatun.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.cli.Gatun;
import dev.gatun.io.ModelFile;
import dev.gatun.nn.Linear;
import dev.gatun.nn.Module;
import dev.gatun.nn.Sequential;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ConnectException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.FutureTask;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Queue limits and graceful stop over HTTP, the model repository layout and watcher, and the command. */
class ServeLifecycleTest {

    record Reply(int status, String body) {}

    private static Reply post(URI base, String path, String body) throws IOException {
        Http.Exchange e = Http.call(base, "POST", path, body.getBytes(StandardCharsets.UTF_8), false);
        return new Reply(e.status(), e.body());
    }

    private static final String BODY = "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,2],\"datatype\":\"FP32\","
            + "\"data\":[1.5,-2]}]}";

    @Test
    void aFullQueueIs503AndCloseFinishesRequestsInFlight() throws Exception {
        InferenceSessionTest.Gate gate = new InferenceSessionTest.Gate();
        InferenceSession s = new InferenceSession(gate, new long[] {2},
                new InferenceSession.Config(1, 1, 0, 1, 10_000), "input", "output");
        InferenceServer server = InferenceServer.builder().port(0).shutdownSeconds(10).model("gate", "1", s).start();
        URI base = server.uri();
        gate.gate = new CountDownLatch(1);
        FutureTask<Reply> first = new FutureTask<>(() -> post(base, "/v2/models/gate/infer", BODY));
        Thread.ofVirtual().start(first);
        assertTrue(gate.entered.await(10, TimeUnit.SECONDS));
        FutureTask<Reply> second = new FutureTask<>(() -> post(base, "/v2/models/gate/infer", BODY));
        Thread.ofVirtual().start(second);
        while (s.queueDepth() < 1) Thread.sleep(1);
        Reply full = post(base, "/v2/models/gate/infer", BODY);
        assertEquals(503, full.status(), full.body());
        assertTrue(full.body().contains("queue is full"), full.body());

        // A graceful stop lets both requests in flight finish, then refuses connections.
        Thread closer = Thread.ofVirtual().start(server::close);
        Thread.sleep(100);
        assertTrue(closer.isAlive(), "close waits for the requests in flight");
        gate.gate.countDown();
        closer.join(20_000);
        Reply a = first.get(10, TimeUnit.SECONDS);
        Reply b = second.get(10, TimeUnit.SECONDS);
        assertEquals(200, a.status(), a.body());
        assertEquals(200, b.status(), b.body());
        assertTrue(a.body().contains("[1.5,-2.0]"), a.body());
        assertTrue(!s.isReady(), "the server closed its session");
        assertThrows(ConnectException.class, () -> post(base, "/v2/models/gate/infer", BODY));
    }

    @Test
    void repositoryLayoutIsReadByNameAndVersion(@TempDir Path dir) throws IOException {
        for (String p : List.of("mnist/1", "mnist/2", "mlp/7", "empty/1")) Files.createDirectories(dir.resolve(p));
        for (String p : List.of("mnist/1", "mnist/2", "mlp/7")) {
            Files.writeString(dir.resolve(p).resolve(ModelRepository.MODEL_FILE), "x");
        }
        List<ModelRepository.Entry> e = ModelRepository.scan(dir, null);
        assertEquals(List.of(new ModelRepository.Entry("mlp", "7", dir.resolve("mlp/7/model.safetensors")),
                new ModelRepository.Entry("mnist", "1", dir.resolve("mnist/1/model.safetensors")),
                new ModelRepository.Entry("mnist", "2", dir.resolve("mnist/2/model.safetensors"))), e);
        Path single = dir.resolve("lenet.safetensors");
        Files.writeString(single, "x");
        assertEquals(List.of(new ModelRepository.Entry("lenet", "1", single)), ModelRepository.scan(single, null));
        assertEquals("digits", ModelRepository.scan(single, "digits").get(0).name());
        var none = assertThrows(IOException.class, () -> ModelRepository.scan(dir.resolve("empty"), null));
        assertTrue(none.getMessage().contains("holds no model"), none.getMessage());
        assertThrows(IOException.class, () -> ModelRepository.scan(dir.resolve("missing"), null));
    }

    /** Collects what a watcher reports, as "+name/version" and "-name/version". */
    private static ModelRepository.Listener into(LinkedBlockingQueue<String> events) {
        return new ModelRepository.Listener() {
            @Override
            public void changed(ModelRepository.Entry e) {
                events.add("+" + e.name() + "/" + e.version());
            }

            @Override
            public void removed(ModelRepository.Entry e) {
                events.add("-" + e.name() + "/" + e.version());
            }
        };
    }

    @Test
    void theWatcherReportsAReplacedFileOnce(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("m.safetensors");
        Files.writeString(f, "one");
        LinkedBlockingQueue<String> events = new LinkedBlockingQueue<>();
        List<ModelRepository.Entry> entries = ModelRepository.scan(f, null);
        Thread w = ModelRepository.watch(f, null, entries, 20, into(events));
        try {
            Thread.sleep(100);
            assertTrue(events.isEmpty(), "an unchanged file is not reported");
            Files.writeString(f, "a longer second version");
            assertEquals("+m/1", events.poll(10, TimeUnit.SECONDS));
            Files.delete(f); // a single served file that goes away is not unloaded
            Thread.sleep(200);
            assertTrue(events.isEmpty(), "reported once, and no removal: " + events);
        } finally {
            w.interrupt();
            w.join(5000);
        }
    }

    @Test
    void theWatcherReportsNewAndRemovedVersionsOfARepository(@TempDir Path dir) throws Exception {
        Path v1 = Files.createDirectories(dir.resolve("digits/1"));
        Files.writeString(v1.resolve(ModelRepository.MODEL_FILE), "one");
        LinkedBlockingQueue<String> events = new LinkedBlockingQueue<>();
        Thread w = ModelRepository.watch(dir, null, ModelRepository.scan(dir, null), 20, into(events));
        try {
            Thread.sleep(100);
            assertTrue(events.isEmpty(), "what was loaded at start is not reported: " + events);
            Path v2 = Files.createDirectories(dir.resolve("digits/2"));
            Files.writeString(v2.resolve(ModelRepository.MODEL_FILE), "two");
            Path other = Files.createDirectories(dir.resolve("letters/7"));
            Files.writeString(other.resolve(ModelRepository.MODEL_FILE), "seven");
            assertEquals(java.util.Set.of("+digits/2", "+letters/7"),
                    java.util.Set.of(events.poll(10, TimeUnit.SECONDS), events.poll(10, TimeUnit.SECONDS)));
            // An atomic replace (a new file renamed over the old one) is a change, never a removal.
            Path tmp = v1.resolve("model.tmp");
            Files.writeString(tmp, "one, replaced");
            Files.move(tmp, v1.resolve(ModelRepository.MODEL_FILE), StandardCopyOption.REPLACE_EXISTING,
                    StandardCopyOption.ATOMIC_MOVE);
            assertEquals("+digits/1", events.poll(10, TimeUnit.SECONDS));
            Files.delete(v2.resolve(ModelRepository.MODEL_FILE));
            assertEquals("-digits/2", events.poll(10, TimeUnit.SECONDS));
            Files.writeString(v2.resolve(ModelRepository.MODEL_FILE), "two again");
            assertEquals("+digits/2", events.poll(10, TimeUnit.SECONDS));
            Thread.sleep(200);
            assertTrue(events.isEmpty(), "each change reported once: " + events);
        } finally {
            w.interrupt();
            w.join(5000);
        }
        assertThrows(IllegalArgumentException.class,
                () -> ModelRepository.watch(dir, null, List.of(), 0, into(events)));
    }

    /**
     * The command's reload path end to end: gatun serve in a JVM of its own over a repository; a version
     * added while it runs is served, a version removed is unloaded, a broken file is refused while the
     * old model keeps serving.
     */
    @Test
    void theServeCommandLoadsAndUnloadsVersionsWhileServing(@TempDir Path dir) throws Exception {
        Path repo = Files.createDirectories(dir.resolve("repo"));
        try (Module m = new Sequential(new Linear(4, 2))) {
            ModelFile.save(m, Files.createDirectories(repo.resolve("mlp/1")).resolve(ModelRepository.MODEL_FILE), 4);
        }
        List<String> cmd = List.of(dev.gatun.testing.ChildJvm.java(), "--enable-native-access=ALL-UNNAMED",
                "-cp", dev.gatun.testing.ChildJvm.classPath(), "dev.gatun.cli.Gatun", "serve", "--port", "0",
                "--poll-ms", "50", "--concurrency", "1", repo.toString());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread reader = Thread.ofPlatform().daemon().start(() -> {
            try (var r = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(),
                    java.nio.charset.StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) lines.add(l);
            } catch (IOException e) {
                lines.add("read failed: " + e);
            }
        });
        try {
            URI base = null;
            StringBuilder seen = new StringBuilder();
            while (base == null) {
                String l = lines.poll(60, TimeUnit.SECONDS);
                assertTrue(l != null, "no 'listening on' line; output: " + seen);
                seen.append(l).append('\n');
                int at = l.indexOf("listening on ");
                if (at >= 0) base = URI.create(l.substring(at + 13).split(" ")[0].replaceAll("/$", ""));
            }
            assertEquals(200, Http.call(base, "GET", "/v2/models/mlp/versions/1/ready", null, false).status());
            assertEquals(404, Http.call(base, "GET", "/v2/models/mlp/versions/2/ready", null, false).status());

            Path v2 = Files.createDirectories(repo.resolve("mlp/2"));
            try (Module m = new Sequential(new Linear(4, 3))) {
                ModelFile.save(m, v2.resolve("model.tmp"), 4);
            }
            Files.move(v2.resolve("model.tmp"), v2.resolve(ModelRepository.MODEL_FILE),
                    StandardCopyOption.ATOMIC_MOVE);
            awaitLine(lines, "loaded mlp version 2");
            Http.Exchange infer = Http.call(base, "POST", "/v2/models/mlp/versions/2/infer",
                    ("{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP32\","
                            + "\"data\":[1,2,3,4]}]}").getBytes(java.nio.charset.StandardCharsets.UTF_8), false);
            assertEquals(200, infer.status(), infer.body());
            assertTrue(infer.body().contains("\"shape\":[1,3]"), infer.body());

            Files.writeString(Files.createDirectories(repo.resolve("mlp/3")).resolve(ModelRepository.MODEL_FILE),
                    "not a model");
            awaitLine(lines, "could not load");
            assertEquals(404, Http.call(base, "GET", "/v2/models/mlp/versions/3/ready", null, false).status());

            Files.delete(repo.resolve("mlp/1").resolve(ModelRepository.MODEL_FILE));
            awaitLine(lines, "unloaded mlp version 1");
            assertEquals(404, Http.call(base, "GET", "/v2/models/mlp/versions/1/ready", null, false).status());
            assertEquals(200, Http.call(base, "GET", "/v2/models/mlp/versions/2/ready", null, false).status());
        } finally {
            p.destroy(); // SIGTERM: the server's shutdown hook closes it
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "gatun serve did not stop on SIGTERM");
            reader.join(5000);
        }
    }

    private static void awaitLine(LinkedBlockingQueue<String> lines, String text) throws InterruptedException {
        StringBuilder seen = new StringBuilder();
        while (true) {
            String l = lines.poll(30, TimeUnit.SECONDS);
            assertTrue(l != null, "no line with '" + text + "'; output: " + seen);
            seen.append(l).append('\n');
            if (l.contains(text)) return;
        }
    }

    private static String[] run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Gatun.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new String[] {Integer.toString(code), out.toString(), err.toString()};
    }

    @Test
    void theCommandChecksItsOptionsAndRefusesABrokenModelFile(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("lenet.safetensors");
        Files.writeString(f, "x");
        String[] r = run("serve", "--input-shape", "1,28,28", "--port", "0", "--poll-ms", "0", f.toString());
        assertEquals("1", r[0], r[2]);
        assertTrue(r[2].contains(f.toString()) && r[2].contains("8-byte header"), r[2]);
        assertEquals(1, r[2].strip().lines().count(), r[2]);
        Path shapeless = dir.resolve("mlp.safetensors");
        try (Module m = new Sequential(new Linear(4, 2))) {
            ModelFile.save(m, shapeless); // no input shape recorded, and none given
        }
        r = run("serve", "--port", "0", "--poll-ms", "0", shapeless.toString());
        assertEquals("1", r[0], r[2]);
        assertTrue(r[2].contains("records no input shape: give --input-shape"), r[2]);
        r = run("serve", "--input-shape", "1,0", "--port", "70000", "--concurrency", "0", f.toString());
        assertEquals("2", r[0], r[2]);
        assertTrue(r[2].contains("--port must be in [0, 65535], got 70000"), r[2]);
        assertTrue(r[2].contains("--concurrency must be >= 1, got 0"), r[2]);
        assertTrue(r[2].contains("--input-shape dimensions must be >= 1, got 0"), r[2]);
        r = run("serve", "--input-shape", "4", "--port", "0", "--concurrency", "100000", f.toString());
        assertEquals("2", r[0], r[2]);
        assertTrue(r[2].contains("--concurrency 100000 is more than 64 calls per core"), r[2]);
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1,
                java.net.InetAddress.getLoopbackAddress())) {
            r = run("serve", "--input-shape", "4", "--port", Integer.toString(taken.getLocalPort()),
                    shapeless.toString());
            assertEquals("1", r[0], r[2]);
            assertTrue(r[2].contains("cannot listen on") && r[2].contains(":" + taken.getLocalPort()), r[2]);
        }
        r = run("serve", "--input-shape", "4", dir.resolve("missing").toString());
        assertEquals("1", r[0], r[2]);
        assertTrue(r[2].contains("no such file"), r[2]);
        r = run("serve", "--help");
        assertEquals("0", r[0]);
        assertTrue(r[1].contains("Open Inference Protocol"), r[1]);
    }
}
