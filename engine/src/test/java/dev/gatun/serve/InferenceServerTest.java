package dev.gatun.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.gatun.nn.Init;
import dev.gatun.nn.Linear;
import dev.gatun.nn.Models;
import dev.gatun.nn.ReLU;
import dev.gatun.nn.Sequential;
import java.io.IOException;
import java.math.BigDecimal;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The server on a free loopback port with in-memory models, checked endpoint by endpoint over HTTP.
 * (java.net.HttpURLConnection, in java.base, and jackson-core's parser: the tests run inside the engine
 * module, which reads neither java.net.http nor jackson-databind.)
 */
class InferenceServerTest {

    private static final JsonFactory JSON = new JsonFactory();
    private static final int MAX_BODY = 32 * 1024;

    private static InferenceSession lenet1;
    private static InferenceSession lenet2;
    private static InferenceSession mlp;
    private static InferenceServer server;

    @BeforeAll
    static void start() throws IOException {
        Init.manualSeed(1);
        lenet1 = new InferenceSession(Models.lenet5(), 1, 28, 28);
        Init.manualSeed(2);
        lenet2 = new InferenceSession(Models.lenet5(), 1, 28, 28);
        mlp = mlpSession(3);
        server = InferenceServer.builder().port(0).maxBodyBytes(MAX_BODY).shutdownSeconds(5)
                .model("lenet", "1", lenet1).model("lenet", "2", lenet2).model("mlp", "1", mlp).start();
    }

    private static InferenceSession mlpSession(long seed) {
        Init.manualSeed(seed);
        return new InferenceSession(new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 3)), 4);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    record Reply(int status, String body, HttpURLConnection connection) {
        J json() throws IOException {
            try (JsonParser p = JSON.createParser(body)) {
                p.nextToken();
                J j = new J(read(p));
                if (p.nextToken() != null) throw new IOException("content after the JSON value: " + body);
                return j;
            }
        }

        String error() throws IOException {
            return json().path("error").asText();
        }
    }

    /** Marks a missing member. */
    private static final Object MISSING = new Object();

    /** A parsed JSON value: Map, List, String, BigDecimal (numbers, exactly as written), Boolean or null. */
    record J(Object v) {
        J path(String key) {
            return new J(v instanceof Map<?, ?> m && m.containsKey(key) ? m.get(key) : MISSING);
        }

        /** The value at a slash-separated path such as {@code /outputs/0/data}. */
        J at(String path) {
            J j = this;
            for (String k : path.substring(1).split("/")) {
                j = j.v instanceof List<?> l ? new J(l.get(Integer.parseInt(k))) : j.path(k);
            }
            return j;
        }

        boolean isMissingNode() {
            return v == MISSING;
        }

        boolean isTextual() {
            return v instanceof String;
        }

        boolean isArray() {
            return v instanceof List;
        }

        String asText() {
            return String.valueOf(v);
        }

        boolean asBoolean() {
            return Boolean.TRUE.equals(v);
        }

        int size() {
            return ((List<?>) v).size();
        }

        J get(int i) {
            return new J(((List<?>) v).get(i));
        }

        long asLong() {
            return ((BigDecimal) v).longValueExact();
        }

        @Override
        public String toString() {
            return String.valueOf(v);
        }
    }

    private static Object read(JsonParser p) throws IOException {
        JsonToken t = p.currentToken();
        switch (t) {
            case START_OBJECT -> {
                Map<String, Object> m = new LinkedHashMap<>();
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String k = p.currentName();
                    p.nextToken();
                    m.put(k, read(p));
                }
                return m;
            }
            case START_ARRAY -> {
                List<Object> l = new ArrayList<>();
                while (p.nextToken() != JsonToken.END_ARRAY) l.add(read(p));
                return l;
            }
            case VALUE_STRING -> {
                return p.getText();
            }
            case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> {
                return new BigDecimal(p.getText());
            }
            case VALUE_TRUE, VALUE_FALSE -> {
                return t == JsonToken.VALUE_TRUE;
            }
            case VALUE_NULL -> {
                return null;
            }
            default -> throw new IOException("unexpected " + t);
        }
    }

    private static Reply call(String method, String path, byte[] body, boolean chunked) throws IOException {
        Http.Exchange e = Http.call(server.uri(), method, path, body, chunked);
        return new Reply(e.status(), e.body(), e.connection());
    }

    private static Reply get(String path) throws IOException {
        return call("GET", path, null, false);
    }

    private static Reply post(String path, String body) throws IOException {
        return call("POST", path, body.getBytes(StandardCharsets.UTF_8), false);
    }

    private static float[] values(int seed, int n) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = r.nextFloat();
        return v;
    }

    private static String request(String id, String name, String datatype, long[] shape, String data) {
        StringBuilder sb = new StringBuilder("{");
        if (id != null) sb.append("\"id\":\"").append(id).append("\",");
        sb.append("\"inputs\":[{\"name\":\"").append(name).append("\",\"shape\":[");
        for (int i = 0; i < shape.length; i++) sb.append(i > 0 ? "," : "").append(shape[i]);
        sb.append("],\"datatype\":\"").append(datatype).append("\",\"data\":").append(data).append("}]}");
        return sb.toString();
    }

    private static String flat(float[] v) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < v.length; i++) sb.append(i > 0 ? "," : "").append(v[i]);
        return sb.append(']').toString();
    }

    private static float[] floats(J array) {
        float[] out = new float[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = Float.parseFloat(array.get(i).asText());
        return out;
    }

    private static long[] longs(J array) {
        long[] out = new long[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = array.get(i).asLong();
        return out;
    }

    /** A correct inference on the MLP still answers 200 with the session's output. */
    private static void assertStillServing() throws IOException {
        float[] in = values(99, 4);
        Reply r = post("/v2/models/mlp/infer", request(null, "input", "FP32", new long[] {1, 4}, flat(in)));
        assertEquals(200, r.status(), r.body());
        assertArrayEquals(mlp.run(in, 1, 4).data(), floats(r.json().at("/outputs/0/data")));
    }

    /** The builder refuses event loop counts outside [1, 256], naming the setting. */
    @Test
    void eventLoopThreadsOutOfRangeAreRefused() {
        for (int n : new int[] {0, -1, 257}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> InferenceServer.builder().ioThreads(n));
            assertTrue(e.getMessage().contains("event loop threads"), e.getMessage());
        }
    }

    @Test
    void healthAndServerMetadata() throws IOException {
        Reply live = get("/v2/health/live");
        assertEquals(200, live.status());
        assertTrue(live.json().path("live").asBoolean());
        Reply ready = get("/v2/health/ready");
        assertEquals(200, ready.status());
        assertTrue(ready.json().path("ready").asBoolean());
        Reply meta = get("/v2");
        assertEquals(200, meta.status());
        assertEquals("gatun", meta.json().path("name").asText());
        assertTrue(meta.json().path("version").isTextual());
        assertTrue(meta.json().path("extensions").isArray());
        assertEquals("application/json", meta.connection().getContentType());
    }

    @Test
    void modelMetadataWithAndWithoutVersion() throws IOException {
        for (String path : List.of("/v2/models/lenet", "/v2/models/lenet/versions/1", "/v2/models/lenet/versions/2")) {
            Reply r = get(path);
            assertEquals(200, r.status(), path + ": " + r.body());
            J m = r.json();
            assertEquals("lenet", m.path("name").asText());
            assertEquals("[1, 2]", m.path("versions").toString());
            assertTrue(m.path("versions").get(0).isTextual(), "versions are strings");
            assertEquals("gatun", m.path("platform").asText());
            assertEquals("input", m.at("/inputs/0/name").asText());
            assertEquals("FP32", m.at("/inputs/0/datatype").asText());
            assertArrayEquals(new long[] {-1, 1, 28, 28}, longs(m.at("/inputs/0/shape")));
            assertEquals("output", m.at("/outputs/0/name").asText());
            assertEquals("FP32", m.at("/outputs/0/datatype").asText());
            assertArrayEquals(new long[] {-1, 10}, longs(m.at("/outputs/0/shape")));
        }
        assertArrayEquals(new long[] {-1, 4}, longs(get("/v2/models/mlp").json().at("/inputs/0/shape")));
        Reply missing = get("/v2/models/lenet/versions/3");
        assertEquals(404, missing.status());
        assertTrue(missing.error().contains("no version '3'"), missing.body());
        assertStillServing();
    }

    @Test
    void modelReady() throws IOException {
        for (String path : List.of("/v2/models/mlp/ready", "/v2/models/lenet/versions/2/ready")) {
            Reply r = get(path);
            assertEquals(200, r.status(), path);
            assertTrue(r.json().path("ready").asBoolean());
        }
        assertEquals(404, get("/v2/models/nope/ready").status());
    }

    @Test
    void inferMatchesTheSessionForEachVersion() throws IOException {
        float[] in = values(5, 2 * 784);
        String body = request("req-1", "input", "FP32", new long[] {2, 1, 28, 28}, flat(in));
        Reply r = post("/v2/models/lenet/versions/1/infer", body);
        assertEquals(200, r.status(), r.body());
        J j = r.json();
        assertEquals("lenet", j.path("model_name").asText());
        assertEquals("1", j.path("model_version").asText());
        assertEquals("req-1", j.path("id").asText());
        assertEquals("output", j.at("/outputs/0/name").asText());
        assertEquals("FP32", j.at("/outputs/0/datatype").asText());
        assertArrayEquals(new long[] {2, 10}, longs(j.at("/outputs/0/shape")));
        assertArrayEquals(lenet1.run(in, 2, 1, 28, 28).data(), floats(j.at("/outputs/0/data")));

        // Without a version, the highest answers; with no id, none comes back.
        Reply latest = post("/v2/models/lenet/infer", request(null, "input", "FP32", new long[] {2, 1, 28, 28},
                flat(in)));
        assertEquals(200, latest.status(), latest.body());
        assertEquals("2", latest.json().path("model_version").asText());
        assertTrue(latest.json().path("id").isMissingNode());
        assertArrayEquals(lenet2.run(in, 2, 1, 28, 28).data(), floats(latest.json().at("/outputs/0/data")));
        // Inference leaves the metadata's batch dimension at -1.
        assertArrayEquals(new long[] {-1, 10}, longs(get("/v2/models/lenet").json().at("/outputs/0/shape")));
    }

    @Test
    void nestedDataAndExactIntegerDatatypesAreAccepted() throws IOException {
        String body = "{\"inputs\":[{\"name\":\"input\",\"shape\":[2,4],\"datatype\":\"INT32\","
                + "\"data\":[[1,2,3,4],[-5,6,-7,8]]}],\"outputs\":[{\"name\":\"output\"}],\"parameters\":{}}";
        Reply r = post("/v2/models/mlp/infer", body);
        assertEquals(200, r.status(), r.body());
        float[] expected = mlp.run(new float[] {1, 2, 3, 4, -5, 6, -7, 8}, 2, 4).data();
        assertArrayEquals(expected, floats(r.json().at("/outputs/0/data")));
        Reply u8 = post("/v2/models/mlp/infer", request(null, "input", "UINT8", new long[] {1, 4}, "[0,1,255,7]"));
        assertEquals(200, u8.status(), u8.body());
    }

    @Test
    void badRequestsAre400AndTheServerKeepsServing() throws IOException {
        String[][] cases = {
            {"{\"inputs\": [", "malformed JSON"},
            {"[1,2]", "JSON object"},
            {"{\"inputs\":[]}", "missing input 'input'"},
            {"{\"id\":\"x\"}", "no 'inputs'"},
            {request(null, "input", "FP32", new long[] {1, 5}, "[1,2,3,4,5]"), "does not match the model's [-1, 4]"},
            {request(null, "input", "FP32", new long[] {1, 4}, "[1,2,3]"), "3 input values do not fill shape"},
            {request(null, "input", "FP64", new long[] {1, 4}, "[1,2,3,4]"), "datatype FP64 is not supported"},
            {request(null, "input", "BYTES", new long[] {1, 4}, "[1,2,3,4]"), "datatype BYTES is not supported"},
            {request(null, "input", "INT8", new long[] {1, 4}, "[1,2,3,400]"), "outside [-128, 127]"},
            {request(null, "input", "INT32", new long[] {1, 4}, "[1,2,3,4.5]"), "holds a non-integer"},
            {request(null, "input", "INT64", new long[] {1, 4}, "[1,2,3,16777217]"), "FP32 holds exactly"},
            {request(null, "input", "FP32", new long[] {1, 4}, "[1,2,\"x\",4]"), "must hold numbers"},
            {request(null, "input", "FP32", new long[] {1, 4}, "[1,2,1e39,4]"), "out of the FP32 range"},
            {request(null, "input", "FP32", new long[] {1, 4}, "[1,2," + "9".repeat(40) + ",4]"),
                "out of the FP32 range"},
            {"{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"shape\":[2,2],\"datatype\":\"FP32\","
                    + "\"data\":[1,2,3,4]}]}", "Duplicate field 'shape'"},
            {request(null, "pixels", "FP32", new long[] {1, 4}, "[1,2,3,4]"), "unknown input 'pixels'"},
            {"{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP32\"}]}", "has no 'data'"},
            {"{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP32\",\"data\":[1,2,3,4]}],"
                    + "\"outputs\":[{\"name\":\"logits\"}]}", "unknown output 'logits'"},
        };
        for (String[] c : cases) {
            Reply r = post("/v2/models/mlp/infer", c[0]);
            assertEquals(400, r.status(), c[0] + " -> " + r.body());
            assertTrue(r.error().contains(c[1]), c[0] + " -> " + r.body());
            assertStillServing();
        }
    }

    @Test
    void unknownModelsAndRoutesAre404() throws IOException {
        for (String path : List.of("/v2/models/nope", "/v2/models/nope/infer", "/v3", "/v2/models/lenet/foo",
                "/v2/health", "/v2/models/lenet/versions/1/infer/x", "/")) {
            Reply r = path.endsWith("infer") ? post(path, "{}") : get(path);
            assertEquals(404, r.status(), path + " -> " + r.body());
            assertTrue(r.json().path("error").isTextual(), r.body());
            assertStillServing();
        }
        assertTrue(get("/v2/models/nope").error().contains("unknown model 'nope'"));
    }

    @Test
    void wrongMethodsAre405WithAllow() throws IOException {
        Reply r = get("/v2/models/lenet/infer");
        assertEquals(405, r.status());
        assertEquals("POST", r.connection().getHeaderField("Allow"));
        assertTrue(r.error().contains("GET"), r.body());
        assertStillServing();
        Reply p = post("/v2/health/live", "{}");
        assertEquals(405, p.status());
        assertEquals("GET", p.connection().getHeaderField("Allow"));
        Reply d = call("DELETE", "/v2/models/mlp", null, false);
        assertEquals(405, d.status());
        assertEquals(405, call("PUT", "/metrics", new byte[0], false).status());
        assertStillServing();
    }

    @Test
    void oversizedBodiesAre413WhetherSizedOrChunked() throws IOException {
        byte[] big = new byte[MAX_BODY + 8000];
        java.util.Arrays.fill(big, (byte) ' ');
        Reply sized = call("POST", "/v2/models/mlp/infer", big, false);
        assertEquals(413, sized.status(), sized.body());
        assertTrue(sized.error().contains("over the limit of " + MAX_BODY), sized.body());
        assertStillServing();
        Reply chunked = call("POST", "/v2/models/mlp/infer", big, true);
        assertEquals(413, chunked.status(), chunked.body());
        assertTrue(chunked.error().contains("over the limit"), chunked.body());
        assertStillServing();
    }

    @Test
    void metricsCountRequestsByModelAndCode() throws IOException {
        assertStillServing();
        post("/v2/models/mlp/infer", "{");
        get("/v2/models/nope");
        Reply m = get("/metrics");
        assertEquals(200, m.status());
        assertTrue(m.connection().getContentType().startsWith("text/plain; version=0.0.4"));
        String text = m.body();
        for (String expected : List.of("# TYPE gatun_requests_total counter",
                "gatun_requests_total{model=\"mlp\",code=\"200\"} ", "gatun_requests_total{model=\"mlp\",code=\"400\"} ",
                "gatun_requests_total{model=\"\",code=\"404\"} ",
                "# TYPE gatun_request_duration_seconds histogram",
                "gatun_request_duration_seconds_bucket{model=\"mlp\",le=\"0.001\"} ",
                "gatun_request_duration_seconds_bucket{model=\"mlp\",le=\"+Inf\"} ",
                "gatun_request_duration_seconds_count{model=\"mlp\"} ",
                "# TYPE gatun_requests_in_flight gauge", "gatun_requests_in_flight 1",
                "gatun_queue_depth{model=\"lenet\",version=\"2\"} 0",
                "gatun_batch_size_bucket{model=\"mlp\",version=\"1\",le=\"1\"} ",
                "gatun_batch_size_count{model=\"mlp\",version=\"1\"} ",
                "gatun_native_unfreed_bytes ", "gatun_memory_pool_free_bytes ", "gatun_primitive_cache_bytes ",
                "gatun_plan_bytes ")) {
            assertTrue(text.contains(expected), "missing '" + expected + "' in\n" + text);
        }
        long ok = count(text, "gatun_requests_total{model=\"mlp\",code=\"200\"} ");
        assertStillServing();
        assertEquals(ok + 1, count(get("/metrics").body(), "gatun_requests_total{model=\"mlp\",code=\"200\"} "));
    }

    @Test
    void concurrentRequestsAreEachCountedUnderTheirModel() throws Exception {
        String before = get("/metrics").body();
        long ok = countOrZero(before, "gatun_requests_total{model=\"mlp\",code=\"200\"} ");
        long none = countOrZero(before, "gatun_requests_total{model=\"\",code=\"200\"} ");
        String body = request("c", "input", "FP32", new long[] {1, 4}, flat(values(5, 4)));
        int threads = 64, each = 40;
        List<Thread> started = new java.util.ArrayList<>();
        java.util.concurrent.atomic.AtomicInteger failures = new java.util.concurrent.atomic.AtomicInteger();
        for (int t = 0; t < threads; t++) {
            started.add(Thread.ofVirtual().start(() -> {
                for (int i = 0; i < each; i++) {
                    try {
                        if (post("/v2/models/mlp/infer", body).status() != 200) failures.incrementAndGet();
                    } catch (IOException e) {
                        failures.incrementAndGet();
                    }
                }
            }));
        }
        for (Thread t : started) t.join(60_000);
        assertEquals(0, failures.get());
        String after = get("/metrics").body();
        assertEquals(ok + threads * each, countOrZero(after, "gatun_requests_total{model=\"mlp\",code=\"200\"} "));
        // Only the first /metrics request was answered under no model.
        assertEquals(none + 1, countOrZero(after, "gatun_requests_total{model=\"\",code=\"200\"} "));
        assertTrue(after.contains("gatun_requests_in_flight 1\n"), after);
    }

    private static long countOrZero(String text, String prefix) {
        for (String line : text.split("\n")) {
            if (line.startsWith(prefix)) return Long.parseLong(line.substring(prefix.length()).trim());
        }
        return 0;
    }

    private static long count(String text, String prefix) {
        for (String line : text.split("\n")) {
            if (line.startsWith(prefix)) return Long.parseLong(line.substring(prefix.length()).trim());
        }
        throw new AssertionError("no " + prefix + " in\n" + text);
    }

    @Test
    void replacingAModelUnderLoadFailsNoRequest() throws Exception {
        InferenceSession first = mlpSession(11);
        InferenceSession second = mlpSession(12);
        float[] in = values(7, 4);
        float[] a = first.run(in, 1, 4).data();
        float[] b = second.run(in, 1, 4).data();
        server.replace("swap", "1", first);
        AtomicBoolean stop = new AtomicBoolean();
        List<Future<Integer>> clients = new ArrayList<>();
        String body = request(null, "input", "FP32", new long[] {1, 4}, flat(in));
        for (int t = 0; t < 8; t++) {
            FutureTask<Integer> task = new FutureTask<>(() -> {
                int n = 0;
                while (!stop.get()) {
                    Reply r = post("/v2/models/swap/infer", body);
                    assertEquals(200, r.status(), r.body());
                    float[] got = floats(r.json().at("/outputs/0/data"));
                    assertTrue(java.util.Arrays.equals(got, a) || java.util.Arrays.equals(got, b));
                    n++;
                }
                return n;
            });
            clients.add(task);
            Thread.ofVirtual().start(task);
        }
        Thread.sleep(200);
        server.replace("swap", "1", second);
        Thread.sleep(200);
        stop.set(true);
        int total = 0;
        for (Future<Integer> f : clients) total += f.get(60, TimeUnit.SECONDS);
        assertTrue(total > 0);
        assertTrue(!first.isReady(), "the replaced session is closed");
        Reply after = post("/v2/models/swap/infer", body);
        assertArrayEquals(b, floats(after.json().at("/outputs/0/data")));
        assertTrue(server.remove("swap", "1"));
        assertEquals(404, post("/v2/models/swap/infer", body).status());
    }

    private static String infer(String id, float[] in, long... shape) {
        return request(id, "input", "FP32", shape, flat(in));
    }

    private static String post(String path, String body, String headers) {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        return "POST " + path + " HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: "
                + b.length + "\r\n" + headers + "\r\n" + body;
    }

    @Test
    void pipelinedRequestsOnOneConnectionAreAnsweredInOrder() throws IOException {
        float[] image = values(21, 784);
        float[] row = values(22, 4);
        // A slow request first (LeNet-5), fast ones behind it, all in one write; then many at once, more than
        // the connection reads ahead of its answers.
        StringBuilder all = new StringBuilder()
                .append(post("/v2/models/lenet/versions/1/infer", infer("first", image, 1, 1, 28, 28), ""))
                .append("GET /v2/health/live HTTP/1.1\r\nHost: test\r\n\r\n")
                .append(post("/v2/models/mlp/infer", infer("third", row, 1, 4), ""))
                .append("GET /v2/models/nope HTTP/1.1\r\nHost: test\r\n\r\n")
                .append("DELETE /v2/models/mlp HTTP/1.1\r\nHost: test\r\n\r\n");
        int many = 60;
        for (int i = 0; i < many; i++) all.append(post("/v2/models/mlp/infer", infer("n" + i, row, 1, 4), ""));
        all.append(post("/v2/models/mlp/infer", infer("last", row, 1, 4), "Connection: close\r\n"));
        try (Http.Raw c = new Http.Raw(server.uri())) {
            c.send(all.toString());
            Http.RawResponse first = c.read();
            assertEquals(200, first.status(), first.body());
            assertTrue(first.body().contains("\"id\":\"first\""), first.body());
            assertArrayEquals(lenet1.run(image, 1, 1, 28, 28).data(),
                    floats(new Reply(200, first.body(), null).json().at("/outputs/0/data")));
            Http.RawResponse live = c.read();
            assertEquals(200, live.status());
            assertEquals("{\"live\":true}", live.body());
            Http.RawResponse third = c.read();
            assertTrue(third.body().contains("\"id\":\"third\""), third.body());
            Http.RawResponse nope = c.read();
            assertEquals(404, nope.status());
            assertTrue(nope.body().contains("unknown model 'nope'"), nope.body());
            Http.RawResponse delete = c.read();
            assertEquals(405, delete.status());
            assertEquals("GET", delete.headers().get("allow"));
            float[] expected = mlp.run(row, 1, 4).data();
            for (int i = 0; i < many; i++) {
                Http.RawResponse r = c.read();
                assertEquals(200, r.status(), r.body());
                assertTrue(r.body().contains("\"id\":\"n" + i + "\""), i + ": " + r.body());
                assertArrayEquals(expected, floats(new Reply(200, r.body(), null).json().at("/outputs/0/data")));
            }
            Http.RawResponse last = c.read();
            assertTrue(last.body().contains("\"id\":\"last\""), last.body());
            assertEquals("close", last.headers().get("connection"));
            assertTrue(c.closedByServer(), "the connection closes after the request that asked for it");
        }
        // A client that shuts its side after its requests still gets every answer.
        try (Http.Raw c = new Http.Raw(server.uri())) {
            c.send(post("/v2/models/mlp/infer", infer("a", row, 1, 4), "")
                    + post("/v2/models/mlp/infer", infer("b", row, 1, 4), "")).shutdownOutput();
            assertTrue(c.read().body().contains("\"id\":\"a\""));
            Http.RawResponse b = c.read();
            assertTrue(b.body().contains("\"id\":\"b\""), b.body());
            assertTrue(c.closedByServer(), "the connection closes after the last answer");
        }
        assertStillServing();
    }

    @Test
    void aChunkedBodyOverTheLimitIs413InJsonAndTheConnectionCloses() throws IOException {
        try (Http.Raw c = new Http.Raw(server.uri())) {
            c.send("POST /v2/models/mlp/infer HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n");
            String chunk = " ".repeat(4096);
            for (int sent = 0; sent <= MAX_BODY + 4096; sent += chunk.length()) {
                c.send(Integer.toHexString(chunk.length()) + "\r\n" + chunk + "\r\n");
            }
            c.send("0\r\n\r\n");
            Http.RawResponse r = c.read();
            assertEquals(413, r.status(), r.body());
            assertEquals("application/json", r.headers().get("content-type"));
            assertEquals("close", r.headers().get("connection"));
            assertTrue(new Reply(413, r.body(), null).error().contains("over the limit of " + MAX_BODY + " bytes"),
                    r.body());
            assertTrue(c.closedByServer(), "the connection closes after a body over the limit");
        }
        // Announced with Expect: 100-continue, the body is refused before it is sent.
        try (Http.Raw c = new Http.Raw(server.uri())) {
            c.send("POST /v2/models/mlp/infer HTTP/1.1\r\nHost: test\r\nContent-Length: " + (MAX_BODY + 1)
                    + "\r\nExpect: 100-continue\r\n\r\n");
            Http.RawResponse r = c.read();
            assertEquals(413, r.status(), r.body());
            assertTrue(new Reply(413, r.body(), null).error().contains("request body of " + (MAX_BODY + 1)
                    + " bytes is over the limit of " + MAX_BODY), r.body());
            assertTrue(c.closedByServer());
        }
        assertStillServing();
    }

    @Test
    void malformedHttpIs400AndTheServerKeepsServing() throws IOException {
        String[][] cases = {
            {"this is not http\r\n\r\n", "400", "malformed HTTP request"},
            {"GET /v2/health/live HTTP/1.1\r\nHost: test\r\nContent-Length: x\r\n\r\n", "400",
                "malformed HTTP request"},
            {"GET /v2/health/%zz HTTP/1.1\r\nHost: test\r\n\r\n", "400", "malformed request target"},
            {"GET /" + "a".repeat(10_000) + " HTTP/1.1\r\nHost: test\r\n\r\n", "414", "larger than"},
            {"GET /v2/health/live HTTP/1.1\r\nHost: test\r\nX-Big: " + "b".repeat(40_000) + "\r\n\r\n", "431",
                "larger than"},
        };
        for (String[] k : cases) {
            try (Http.Raw c = new Http.Raw(server.uri())) {
                Http.RawResponse r = c.send(k[0]).read();
                String what = k[0].substring(0, Math.min(40, k[0].length()));
                assertEquals(Integer.parseInt(k[1]), r.status(), what + " -> " + r.body());
                assertEquals("application/json", r.headers().get("content-type"), what);
                assertTrue(new Reply(r.status(), r.body(), null).error().contains(k[2]), what + " -> " + r.body());
                assertTrue(c.closedByServer(), what + ": the connection closes after malformed HTTP");
            }
            assertStillServing();
        }
    }
}
