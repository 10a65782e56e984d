package dev.gatun.serve;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.gatun.backend.OptionalDependency;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The Open Inference Protocol (KServe v2) over HTTP/JSON, for models held as {@link InferenceSession}s by
 * name and version.
 *
 * <p>Endpoints: {@code GET /v2/health/live}, {@code GET /v2/health/ready}, {@code GET /v2} (server
 * metadata), {@code GET /v2/models/{name}[/versions/{v}]} (model metadata), {@code GET
 * /v2/models/{name}[/versions/{v}]/ready}, {@code POST /v2/models/{name}[/versions/{v}]/infer} and
 * {@code GET /metrics} (Prometheus text format). Without a version, a model's highest version answers
 * (numeric versions compare as numbers). Errors are {@code {"error": "..."}} with 400 (malformed HTTP or
 * JSON, wrong shape, datatype or input), 404 (unknown model, version or route), 405 (wrong method, with
 * {@code Allow}), 413 (body over the limit, checked against {@code Content-Length} before reading and
 * while reading a chunked body), 414 and 431 (request line or headers over their bounds, below), 503 (not
 * ready, the model's queue full, or the request bodies held over all connections at their bound,
 * {@link Builder#maxBufferedBytes}) and 500 (anything else).
 *
 * <p><b>Datatypes.</b> Inputs are FP32. Integer datatypes (INT8 to INT64, UINT8 to UINT64) are accepted
 * too when every value is a JSON integer within the datatype's range and of magnitude at most 2^24, so
 * that it converts to FP32 exactly; FP16, FP64, BOOL and BYTES are refused (400), as they would not
 * convert exactly or mean nothing to the model. Data may be flat (row-major) or nested arrays; the count
 * must match the shape.
 *
 * <p><b>HTTP stack.</b> Netty 4.2, HTTP/1.1 with keep-alive and pipelining: a few event loops (one per
 * core, at most 4, {@link Builder#ioThreads}; epoll on Linux x86-64, else NIO) read requests and write responses and never
 * block; a connection's requests are answered on a virtual thread, one after another in the order received,
 * so that a request blocked on its model costs no platform thread; the native work runs on each session's
 * few platform workers, or on the request's thread when the session is idle. Netty replaced the JDK's
 * {@code com.sun.net.httpserver} on measurement: serving the same route with the same parser, session and
 * settings, Netty answered LeNet-5 at 64 connections at 5,715 against 4,560 requests/s and the MLP's round
 * trip at one connection at p50 0.208 against 0.242 ms ({@code bench/results/http-stacks.md}). Bounds: a
 * request line of 8 KiB (414 above), headers of 32 KiB (431), the body limit (413, and the connection
 * closes after the answer), 16 requests or 1 MiB read ahead of their answers on a connection, 30 s of
 * silence on a connection with nothing to answer, 10,000 connections; malformed HTTP is answered 400 and
 * the connection closed. JSON is read and written with Jackson's streaming API, the float arrays token by
 * token into {@code float[]} with no boxing. Both libraries are optional dependencies of the engine jar,
 * which a program that uses only the library does not need.
 *
 * <p>Replacing a model ({@link #replace}) swaps it atomically: a request that took the old session just
 * before it closed is retried on the new one, and the old one finishes its queued calls before closing.
 */
public final class InferenceServer implements AutoCloseable {

    // In a holder class, not a static field here: this class must load without jackson-core so that
    // start() can report the missing optional dependency. (Netty, likewise, is named only by NettyTransport.)
    private static final class Jackson {
        // A key given twice in one object (two "shape"s) is refused rather than the last one winning.
        static final JsonFactory FACTORY = JsonFactory.builder()
                .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();
    }
    /** The platform reported in model metadata. */
    public static final String PLATFORM = "gatun";

    /**
     * The most rows of a batch {@code gatun serve} assembles from concurrent requests unless told otherwise
     * ({@link InferenceSession.Config#maxBatch()}): LeNet-5 at 64 connections served 7,350-8,215 requests/s
     * batched so against 4,239-4,266 unbatched (two rounds of {@code bench/serve-batching.sh} on Netty;
     * 16 rows and 500 µs served the same, 32 and 1000 µs less).
     */
    public static final int DEFAULT_MAX_BATCH = 8;

    /**
     * How long {@code gatun serve} waits to fill a batch while requests are queued, in microseconds, unless
     * told otherwise ({@link InferenceSession.Config#maxDelayMicros()}).
     */
    public static final long DEFAULT_MAX_DELAY_MICROS = 200;

    /**
     * The server's settings and its initial models; get one from {@link InferenceServer#builder()}. Not
     * thread-safe: configure it on one thread, then call {@link #start()}.
     */
    public static final class Builder {
        private String host = "127.0.0.1";
        private int port;
        private long maxBodyBytes = 64L << 20;
        private int shutdownSeconds = 30;
        // One per core, at most 4 (their work is small next to a model's). On two cores, two loops served
        // LeNet-5 at 64 connections at 6,588 and 7,426 requests/s against one loop's 5,677 and 7,150 (two
        // rounds of scripts/load-test, 20 s each).
        private int ioThreads = Math.min(4, Runtime.getRuntime().availableProcessors());
        private long maxBufferedBytes; // 0: a quarter of the heap, at least the body limit
        private final Map<String, Map<String, InferenceSession>> models = new LinkedHashMap<>();

        private Builder() {}

        /**
         * The address to bind; 127.0.0.1 (local connections only) unless set.
         *
         * @param host a host name or IP address, e.g. {@code 0.0.0.0} for every interface; resolved by
         *             {@link #start()}
         * @return this builder
         */
        public Builder host(String host) {
            this.host = host;
            return this;
        }

        /**
         * The port to listen on.
         *
         * @param port in [0, 65535]; 0 (the default) picks a free one, which {@link InferenceServer#port()}
         *             then tells
         * @return this builder
         * @throws IllegalArgumentException if {@code port} is outside [0, 65535]
         */
        public Builder port(int port) {
            if (port < 0 || port > 65535) throw new IllegalArgumentException("port must be in [0, 65535], got " + port);
            this.port = port;
            return this;
        }

        /**
         * The largest request body accepted; a larger one is answered 413. 64 MiB unless set. A body is held
         * in one buffer, whose size is an {@code int}: hence the upper bound.
         *
         * @param bytes the limit in bytes, in [1, 2^31 - 9]
         * @return this builder
         * @throws IllegalArgumentException if {@code bytes} is outside that range
         */
        public Builder maxBodyBytes(long bytes) {
            if (bytes < 1 || bytes > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("the body limit must be in [1, 2^31 - 9] bytes, got " + bytes);
            }
            this.maxBodyBytes = bytes;
            return this;
        }

        /**
         * The HTTP event loop threads, which parse requests and write responses (models run elsewhere: on
         * their sessions' workers, or on a request's virtual thread); one per core, at most 4, unless set.
         *
         * @param threads in [1, 256]
         * @return this builder
         * @throws IllegalArgumentException if {@code threads} is outside that range
         */
        public Builder ioThreads(int threads) {
            if (threads < 1 || threads > 256) {
                throw new IllegalArgumentException("event loop threads must be in [1, 256], got " + threads);
            }
            this.ioThreads = threads;
            return this;
        }

        /**
         * The most bytes of request bodies the server holds at once, over all connections, each from its
         * reading until its answer; a request whose body would pass it is answered 503 and its connection
         * closed. Unless set, a quarter of the heap ({@link Runtime#maxMemory()}), at least the body limit:
         * so that many clients sending large bodies at once cannot fill the heap the models need.
         *
         * @param bytes the bound, at least the body limit ({@link #maxBodyBytes}) when the server starts
         * @return this builder
         * @throws IllegalArgumentException if {@code bytes} is not positive
         */
        public Builder maxBufferedBytes(long bytes) {
            if (bytes < 1) throw new IllegalArgumentException("the bytes of bodies held must be >= 1, got " + bytes);
            this.maxBufferedBytes = bytes;
            return this;
        }

        /**
         * How long {@link InferenceServer#close()} waits for requests in flight; 30 s unless set.
         *
         * @param seconds the wait in seconds, {@code >= 0}
         * @return this builder
         * @throws IllegalArgumentException if {@code seconds} is negative
         */
        public Builder shutdownSeconds(int seconds) {
            if (seconds < 0) throw new IllegalArgumentException("shutdown wait must be >= 0 s, got " + seconds);
            this.shutdownSeconds = seconds;
            return this;
        }

        /**
         * Serves a session as one version of a model. The server started from this builder owns the
         * session and closes it.
         *
         * @param name    the model's name in the URL, non-empty and without {@code /}
         * @param version the version's name in the URL, non-empty and without {@code /}; numeric versions
         *                order by value, and the highest answers requests that name no version
         * @param session the session that runs the model
         * @return this builder
         * @throws IllegalArgumentException if a name is empty or holds {@code /}, the session is null, or
         *                                  this version of the model was already added
         */
        public Builder model(String name, String version, InferenceSession session) {
            checkName("model name", name);
            checkName("model version", version);
            if (session == null) throw new IllegalArgumentException("session must not be null");
            Map<String, InferenceSession> versions = models.computeIfAbsent(name, k -> new LinkedHashMap<>());
            if (versions.containsKey(version)) {
                throw new IllegalArgumentException("model '" + name + "' version '" + version
                        + "' is registered twice");
            }
            versions.put(version, session);
            return this;
        }

        /**
         * Binds and starts the server.
         *
         * @return the running server
         * @throws IOException if the address cannot be bound
         * @throws IllegalStateException if jackson-core or Netty (optional dependencies of the engine,
         *                               which the server needs) is absent
         * @throws IllegalArgumentException if the bound on bodies held is below the body limit
         */
        public InferenceServer start() throws IOException {
            OptionalDependency.require("The HTTP inference server",
                    new OptionalDependency.Library("com.fasterxml.jackson.core.JsonFactory",
                            "com.fasterxml.jackson.core", "com.fasterxml.jackson.core:jackson-core:2.18.2"),
                    new OptionalDependency.Library("io.netty.handler.codec.http.HttpServerCodec",
                            "io.netty.codec.http", "io.netty:netty-codec-http:4.2.17.Final"));
            return new InferenceServer(this);
        }
    }

    private static void checkName(String what, String v) {
        if (v == null || v.isEmpty() || v.contains("/")) {
            throw new IllegalArgumentException(what + " must be non-empty and without '/', got '" + v + "'");
        }
    }

    /**
     * Starts configuring a server.
     *
     * @return a new builder with the defaults: 127.0.0.1, a free port, a 64 MiB body limit, a 30 s
     *         shutdown wait and no models
     */
    public static Builder builder() {
        return new Builder();
    }

    /** Version order: numeric versions by value, below any other, which sort by text. */
    private static final Comparator<String> VERSIONS = (a, b) -> {
        boolean na = a.chars().allMatch(Character::isDigit) && a.length() < 19;
        boolean nb = b.chars().allMatch(Character::isDigit) && b.length() < 19;
        if (na && nb) return Long.compare(Long.parseLong(a), Long.parseLong(b));
        if (na != nb) return na ? -1 : 1;
        return a.compareTo(b);
    };

    private final Map<String, ConcurrentSkipListMap<String, AtomicReference<InferenceSession>>> models =
            new ConcurrentHashMap<>();
    private final NettyTransport transport;
    private final long maxBodyBytes;
    private final int shutdownSeconds;
    private final Metrics metrics = new Metrics();
    private volatile boolean ready;
    private volatile boolean closed;

    private InferenceServer(Builder b) throws IOException {
        this.maxBodyBytes = b.maxBodyBytes;
        this.shutdownSeconds = b.shutdownSeconds;
        for (var m : b.models.entrySet()) {
            for (var v : m.getValue().entrySet()) {
                versions(m.getKey()).put(v.getKey(), new AtomicReference<>(v.getValue()));
            }
        }
        transport = new NettyTransport(new InetSocketAddress(InetAddress.getByName(b.host), b.port),
                Math.toIntExact(b.maxBodyBytes), b.ioThreads,
                b.maxBufferedBytes > 0 ? b.maxBufferedBytes
                        : Math.max(b.maxBodyBytes, Runtime.getRuntime().maxMemory() / 4), new Routes());
        ready = true;
    }

    private ConcurrentSkipListMap<String, AtomicReference<InferenceSession>> versions(String name) {
        return models.computeIfAbsent(name, k -> new ConcurrentSkipListMap<>(VERSIONS));
    }

    /**
     * The port the server listens on.
     *
     * @return the bound port (the one picked when the builder asked for port 0)
     */
    public int port() {
        return transport.address().getPort();
    }

    /**
     * The base address of the server, to which the endpoints' paths are appended.
     *
     * @return e.g. {@code http://127.0.0.1:8000}; an IPv6 address is bracketed
     */
    public URI uri() {
        InetSocketAddress a = transport.address();
        String host = a.getAddress().getHostAddress();
        return URI.create("http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort());
    }

    /**
     * Serves {@code session} as {@code version} of {@code name} from now on; a session it replaces finishes
     * its queued calls and closes (requests that took it too late are retried on the new one). Safe to
     * call while requests are served (e.g. from a {@link ModelRepository} watcher).
     *
     * @param name    the model's name, non-empty and without {@code /}; a new name adds a model
     * @param version the version's name, non-empty and without {@code /}; a new version is added
     * @param session the new session, which the server owns from now on
     * @throws IllegalArgumentException if a name is empty or holds {@code /}
     */
    public void replace(String name, String version, InferenceSession session) {
        checkName("model name", name);
        checkName("model version", version);
        AtomicReference<InferenceSession> ref = versions(name).computeIfAbsent(version,
                k -> new AtomicReference<>());
        InferenceSession old = ref.getAndSet(session);
        if (old != null && old != session) old.close();
    }

    /**
     * Stops serving a version of a model and closes its session (which finishes its queued calls). Safe to
     * call while requests are served.
     *
     * @param name    the model's name
     * @param version the version's name
     * @return true if that version was served, false otherwise
     */
    public boolean remove(String name, String version) {
        var versions = models.get(name);
        AtomicReference<InferenceSession> ref = versions == null ? null : versions.remove(version);
        if (ref == null) return false;
        InferenceSession old = ref.getAndSet(null);
        if (old != null) old.close();
        return true;
    }

    /**
     * Whether the server answers inference requests, as {@code GET /v2/health/ready} reports it.
     *
     * @return true from the start until {@link #close()} begins
     */
    public boolean isReady() {
        return ready && !closed;
    }

    /**
     * Graceful stop: readiness goes false, the listener closes, idle connections close, requests in flight
     * (those read so far) get up to the shutdown wait to be answered, each connection closing after its
     * last answer, then every session closes (finishing its queued calls). Idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed) return;
        ready = false;
        closed = true;
        transport.close(shutdownSeconds);
        for (var versions : models.values()) {
            for (var ref : versions.values()) {
                InferenceSession s = ref.getAndSet(null);
                if (s != null) s.close();
            }
        }
    }

    /** An error answered as {@code {"error": message}}. */
    private static final class HttpError extends RuntimeException {
        final int status;
        final String allow;

        HttpError(int status, String message) {
            this(status, message, null);
        }

        HttpError(int status, String message, String allow) {
            super(message, null, false, false);
            this.status = status;
            this.allow = allow;
        }
    }

    /** The routes, as the transport calls them; a class of its own so that they stay out of the public API. */
    private final class Routes implements HttpHandler {
        @Override
        public Response handle(Request request) {
            return InferenceServer.this.handle(request);
        }

        @Override
        public Response error(int status, String message) {
            return InferenceServer.error(status, message, null);
        }
    }

    /**
     * Answers a request and counts it: under its model once the route has named one (else under none),
     * with its status and latency. Counted, and no longer in flight, when the response is made, before the
     * transport sends it: a client that reads the metrics right after its answer finds its request counted
     * and finished. What is counted travels with the call, not with the thread or the connection.
     */
    private HttpHandler.Response handle(HttpHandler.Request req) {
        long start = System.nanoTime();
        metrics.inFlight.incrementAndGet();
        String[] model = {""};
        HttpHandler.Response res;
        try {
            try {
                res = route(req, model);
            } catch (HttpError e) {
                res = error(e.status, e.getMessage(), e.allow);
            } catch (RuntimeException | Error e) {
                res = error(500, "internal error: " + e, null);
            }
        } finally {
            metrics.inFlight.decrementAndGet();
        }
        metrics.request(model[0], res.status(), System.nanoTime() - start);
        return res;
    }

    private HttpHandler.Response route(HttpHandler.Request req, String[] model) {
        String path = req.path();
        String method = req.method();
        if (path.equals("/metrics")) {
            requireMethod(method, "GET");
            Map<String, InferenceSession> sessions = new LinkedHashMap<>();
            for (var m : new java.util.TreeMap<>(models).entrySet()) {
                for (var v : m.getValue().entrySet()) {
                    InferenceSession s = v.getValue().get();
                    if (s != null) {
                        sessions.put("model=\"" + Metrics.escape(m.getKey()) + "\",version=\""
                                + Metrics.escape(v.getKey()) + "\"", s);
                    }
                }
            }
            byte[] body = metrics.write(sessions).getBytes(StandardCharsets.UTF_8);
            return new HttpHandler.Response(200, "text/plain; version=0.0.4; charset=utf-8", body, null);
        }
        if (!path.startsWith("/v2")) throw new HttpError(404, "no route " + path);
        List<String> seg = List.of(path.substring(1).split("/", -1));
        if (seg.size() == 1) {
            requireMethod(method, "GET");
            return json(200, g -> {
                g.writeStringField("name", "gatun");
                String v = InferenceServer.class.getPackage().getImplementationVersion();
                g.writeStringField("version", v == null ? "development" : v);
                g.writeArrayFieldStart("extensions");
                g.writeEndArray();
            });
        }
        if (seg.size() == 3 && seg.get(1).equals("health")
                && (seg.get(2).equals("live") || seg.get(2).equals("ready"))) {
            requireMethod(method, "GET");
            if (seg.get(2).equals("live")) {
                return json(200, g -> g.writeBooleanField("live", true));
            }
            boolean r = isReady();
            return json(r ? 200 : 503, g -> g.writeBooleanField("ready", r));
        }
        if (seg.size() >= 3 && seg.get(1).equals("models") && !seg.get(2).isEmpty()) {
            String name = seg.get(2);
            String version = null;
            int rest = 3;
            if (seg.size() >= 5 && seg.get(3).equals("versions") && !seg.get(4).isEmpty()) {
                version = seg.get(4);
                rest = 5;
            }
            String action = seg.size() == rest ? "" : seg.size() == rest + 1 ? seg.get(rest) : null;
            if (action == null || !(action.isEmpty() || action.equals("ready") || action.equals("infer"))) {
                throw new HttpError(404, "no route " + path);
            }
            requireMethod(method, action.equals("infer") ? "POST" : "GET");
            var versions = models.get(name);
            if (versions == null || versions.isEmpty()) throw new HttpError(404, "unknown model '" + name + "'");
            model[0] = name;
            String v = version != null ? version : versions.lastKey();
            AtomicReference<InferenceSession> ref = versions.get(v);
            if (ref == null || ref.get() == null) {
                throw new HttpError(404, "model '" + name + "' has no version '" + v + "' (versions: "
                        + String.join(", ", versions.keySet()) + ")");
            }
            return switch (action) {
                case "" -> metadata(name, versions, ref.get());
                case "ready" -> {
                    boolean r = isReady() && ref.get() != null && ref.get().isReady();
                    yield json(r ? 200 : 503, g -> {
                        g.writeStringField("name", name);
                        g.writeBooleanField("ready", r);
                    });
                }
                default -> infer(req, name, v, ref);
            };
        }
        throw new HttpError(404, "no route " + path);
    }

    private static void requireMethod(String method, String allowed) {
        if (!method.equals(allowed)) {
            throw new HttpError(405, "method " + method + " is not allowed here; use " + allowed, allowed);
        }
    }

    private static HttpHandler.Response metadata(String name, Map<String, ?> versions, InferenceSession s) {
        return json(200, g -> {
            g.writeStringField("name", name);
            g.writeArrayFieldStart("versions");
            for (String v : versions.keySet()) g.writeString(v);
            g.writeEndArray();
            g.writeStringField("platform", PLATFORM);
            g.writeArrayFieldStart("inputs");
            tensorSpec(g, s.input());
            g.writeEndArray();
            g.writeArrayFieldStart("outputs");
            tensorSpec(g, s.output());
            g.writeEndArray();
        });
    }

    private static void tensorSpec(JsonGenerator g, InferenceSession.TensorSpec t) throws IOException {
        g.writeStartObject();
        g.writeStringField("name", t.name());
        g.writeStringField("datatype", t.datatype());
        g.writeArrayFieldStart("shape");
        for (long d : t.shape()) g.writeNumber(d);
        g.writeEndArray();
        g.writeEndObject();
    }

    private HttpHandler.Response infer(HttpHandler.Request http, String name, String version,
            AtomicReference<InferenceSession> ref) {
        if (!isReady()) throw new HttpError(503, "the server is shutting down");
        byte[] body = body(http);
        InferRequest req;
        try {
            req = InferRequest.parse(Jackson.FACTORY, body);
        } catch (IllegalArgumentException e) {
            throw new HttpError(400, e.getMessage());
        }
        for (int attempt = 0; ; attempt++) {
            InferenceSession s = ref.get();
            if (s == null) throw new HttpError(404, "model '" + name + "' version '" + version + "' was removed");
            float[] data;
            long[] shape;
            try {
                InferRequest.Input in = req.input(s.input().name());
                for (String o : req.outputs()) {
                    if (!o.equals(s.output().name())) {
                        throw new HttpError(400, "unknown output '" + o + "'; model '" + name + "' has output '"
                                + s.output().name() + "'");
                    }
                }
                InferenceSession.Result r = s.run(in.data(), in.shape());
                data = r.data();
                shape = r.shape();
            } catch (IllegalArgumentException e) {
                throw new HttpError(400, e.getMessage());
            } catch (InferenceSession.QueueFullException e) {
                throw new HttpError(503, e.getMessage());
            } catch (IllegalStateException e) {
                if (!s.isReady() && ref.get() != s && attempt < 3) continue; // replaced meanwhile: try the new one
                throw new HttpError(503, e.getMessage());
            }
            String outName = s.output().name();
            return json(200, g -> inferFields(g, name, version, req.id(), outName, shape, data));
        }
    }

    /** An inference response's fields. */
    private static void inferFields(JsonGenerator g, String name, String version, String id, String outName, long[] shape,
            float[] data) throws IOException {
        g.writeStringField("model_name", name);
        g.writeStringField("model_version", version);
        if (id != null) g.writeStringField("id", id);
        g.writeArrayFieldStart("outputs");
        g.writeStartObject();
        g.writeStringField("name", outName);
        g.writeStringField("datatype", "FP32");
        g.writeArrayFieldStart("shape");
        for (long d : shape) g.writeNumber(d);
        g.writeEndArray();
        g.writeArrayFieldStart("data");
        for (float f : data) {
            if (Float.isFinite(f)) {
                g.writeNumber(f);
            } else {
                g.writeString(Float.isNaN(f) ? "NaN" : f > 0 ? "Infinity" : "-Infinity");
            }
        }
        g.writeEndArray();
        g.writeEndObject();
        g.writeEndArray();
    }

    /**
     * The request body, refused with 413 if it was over the limit (the transport then read none of it): the
     * declared {@code Content-Length} is checked before reading, a chunked body while it arrives.
     */
    private byte[] body(HttpHandler.Request req) {
        if (req.body() != null) return req.body();
        throw new HttpError(413, req.contentLength() >= 0
                ? "request body of " + req.contentLength() + " bytes is over the limit of " + maxBodyBytes
                : "request body is over the limit of " + maxBodyBytes + " bytes");
    }

    /** Writes a JSON object's fields. */
    @FunctionalInterface
    private interface Fields {
        void write(JsonGenerator g) throws IOException;
    }

    private static HttpHandler.Response json(int status, Fields fields) {
        try {
            return new HttpHandler.Response(status, "application/json", jsonBody(fields), null);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // writing to memory: not expected
        }
    }

    /** The JSON object of {@code fields}, in UTF-8. */
    private static byte[] jsonBody(Fields fields) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream(256);
        try (JsonGenerator g = Jackson.FACTORY.createGenerator(buf)) {
            g.writeStartObject();
            fields.write(g);
            g.writeEndObject();
        }
        return buf.toByteArray();
    }

    /** The response {@code {"error": message}}, with the {@code Allow} header of a 405. */
    private static HttpHandler.Response error(int status, String message, String allow) {
        HttpHandler.Response r = json(status, g -> g.writeStringField("error", message));
        return new HttpHandler.Response(r.status(), r.contentType(), r.body(), allow);
    }
}
