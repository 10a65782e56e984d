package dev.gatun.serve;

import dev.gatun.backend.MemoryPool;
import dev.gatun.backend.OneDnn;
import dev.gatun.backend.Program;
import dev.gatun.backend.SharedMemory;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/** The server's figures, written in Prometheus' text exposition format (version 0.0.4). */
final class Metrics {

    /** Latency buckets in seconds: 100 µs to 10 s. */
    private static final double[] LATENCY = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
        0.25, 0.5, 1, 2.5, 5, 10};

    private final Map<String, LongAdder> requests = new ConcurrentHashMap<>();
    private final Map<String, Histogram> latency = new ConcurrentHashMap<>();
    final AtomicInteger inFlight = new AtomicInteger();

    /** Counts one finished request to {@code model} ("" for none) with its status and duration. */
    void request(String model, int status, long nanos) {
        requests.computeIfAbsent(labels(model, status), k -> new LongAdder()).increment();
        if (!model.isEmpty()) {
            latency.computeIfAbsent("model=\"" + escape(model) + "\"", k -> new Histogram(LATENCY))
                    .observe(nanos / 1e9);
        }
    }

    private static String labels(String model, int status) {
        return "model=\"" + escape(model) + "\",code=\"" + status + "\"";
    }

    /** The exposition; {@code sessions} are the models served now, by their label value. */
    String write(Map<String, InferenceSession> sessions) {
        StringBuilder out = new StringBuilder(4096);
        out.append("# HELP gatun_requests_total HTTP requests answered, by model (empty: none) and status code.\n");
        out.append("# TYPE gatun_requests_total counter\n");
        for (var e : new TreeMap<>(requests).entrySet()) {
            out.append("gatun_requests_total{").append(e.getKey()).append("} ").append(e.getValue().sum()).append('\n');
        }
        out.append("# HELP gatun_request_duration_seconds Time from request to response of model requests.\n");
        out.append("# TYPE gatun_request_duration_seconds histogram\n");
        for (var e : new TreeMap<>(latency).entrySet()) {
            e.getValue().write(out, "gatun_request_duration_seconds", e.getKey());
        }
        out.append("# HELP gatun_requests_in_flight HTTP requests being answered now.\n");
        out.append("# TYPE gatun_requests_in_flight gauge\n");
        out.append("gatun_requests_in_flight ").append(inFlight.get()).append('\n');
        out.append("# HELP gatun_queue_depth Inference calls waiting for a worker, by model and version.\n");
        out.append("# TYPE gatun_queue_depth gauge\n");
        for (var e : sessions.entrySet()) {
            out.append("gatun_queue_depth{").append(e.getKey()).append("} ").append(e.getValue().queueDepth())
                    .append('\n');
        }
        out.append("# HELP gatun_batch_size Rows per batch run by the model, by model and version.\n");
        out.append("# TYPE gatun_batch_size histogram\n");
        for (var e : sessions.entrySet()) {
            e.getValue().batchSizes().write(out, "gatun_batch_size", e.getKey());
        }
        gauge(out, "gatun_native_unfreed_bytes", "Native memory allocated and not yet freed.",
                SharedMemory.unfreedBytes());
        gauge(out, "gatun_memory_pool_free_bytes", "Freed native memory kept for reuse.", MemoryPool.freeBytes());
        gauge(out, "gatun_plan_bytes", "Native memory of compiled inference plans (buffers and laid weights).",
                Program.liveBytes());
        gauge(out, "gatun_primitive_cache_bytes", "Estimated size of the cached oneDNN primitives.",
                OneDnn.primitiveCache().bytes());
        return out.toString();
    }

    private static void gauge(StringBuilder out, String name, String help, long value) {
        out.append("# HELP ").append(name).append(' ').append(help).append('\n');
        out.append("# TYPE ").append(name).append(" gauge\n");
        out.append(name).append(' ').append(value).append('\n');
    }

    /** A label value with backslash, quote and newline escaped as the format requires. */
    static String escape(String v) {
        return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    /** A sample value: integral values without a fraction, others as Java writes doubles. */
    static String number(double v) {
        if (Double.isNaN(v)) return "NaN";
        if (Double.isInfinite(v)) return v > 0 ? "+Inf" : "-Inf";
        if (v == Math.rint(v) && Math.abs(v) < 1e15) return Long.toString((long) v);
        return String.format(Locale.ROOT, "%s", Double.toString(v));
    }
}
