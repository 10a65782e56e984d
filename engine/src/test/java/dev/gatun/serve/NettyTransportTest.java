package dev.gatun.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The transport's bound on request bodies held at once, over all connections. */
class NettyTransportTest {

    private static final int BODY = 600_000;

    /** Answers 200 with the body's length, after waiting for the gate when the path says so. */
    private static final class Gated implements HttpHandler {
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch gate = new CountDownLatch(1);

        @Override
        public Response handle(Request request) {
            if (request.path().equals("/wait")) {
                entered.countDown();
                try {
                    gate.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            byte[] body = ("{\"bytes\": " + request.body().length + "}").getBytes(StandardCharsets.UTF_8);
            return new Response(200, "application/json", body, null);
        }

        @Override
        public Response error(int status, String message) {
            return new Response(status, "application/json",
                    ("{\"error\": \"" + message + "\"}").getBytes(StandardCharsets.UTF_8), null);
        }
    }

    private static String post(String path, int bytes) {
        return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + bytes + "\r\n\r\n" + "x".repeat(bytes);
    }

    /**
     * With room for one body of 600 KB held at once: while one is held (its request blocked in the
     * handler), another is answered 503 with a JSON error and its connection closed; once the first is
     * answered its bytes are free, and the next body is taken. Small requests pass throughout.
     */
    @Test
    void bodiesOverTheBoundHeldAtOnceAreAnswered503() throws Exception {
        Gated handler = new Gated();
        NettyTransport t = new NettyTransport(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), BODY, 1,
                BODY + BODY / 2, handler);
        URI base = URI.create("http://127.0.0.1:" + t.address().getPort());
        try (Http.Raw held = new Http.Raw(base)) {
            held.send(post("/wait", BODY));
            assertTrue(handler.entered.await(30, TimeUnit.SECONDS), "the first request never reached the handler");
            assertEquals(BODY, t.bufferedBytes());
            try (Http.Raw refused = new Http.Raw(base)) {
                Http.RawResponse r = refused.send(post("/now", BODY)).read();
                assertEquals(503, r.status(), r.body());
                assertTrue(r.body().contains("request bodies"), r.body());
                assertEquals("close", r.headers().get("connection"));
            }
            try (Http.Raw small = new Http.Raw(base)) {
                Http.RawResponse r = small.send(post("/now", 1000)).read();
                assertEquals(200, r.status(), r.body());
                assertEquals("{\"bytes\": 1000}", r.body());
                // RFC 9110's Date (IMF-fixdate, e.g. "Sat, 05 Dec 2026 12:00:00 GMT"), within a minute of now.
                String date = r.headers().get("date");
                assertTrue(date.matches("[A-Z][a-z]{2}, \\d{2} [A-Z][a-z]{2} \\d{4} \\d{2}:\\d{2}:\\d{2} GMT"), date);
                Instant sent = ZonedDateTime.parse(r.headers().get("date"), DateTimeFormatter.RFC_1123_DATE_TIME)
                        .toInstant();
                assertTrue(Math.abs(Duration.between(sent, Instant.now()).toSeconds()) < 60, r.headers().get("date"));
            }
            handler.gate.countDown();
            Http.RawResponse first = held.read();
            assertEquals(200, first.status(), first.body());
            assertEquals("{\"bytes\": " + BODY + "}", first.body());
        } finally {
            handler.gate.countDown();
        }
        try (Http.Raw next = new Http.Raw(base)) {
            Http.RawResponse r = next.send(post("/now", BODY)).read();
            assertEquals(200, r.status(), r.body());
            // Released after the answer is handed to the connection: soon after the client reads it.
            for (long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5); t.bufferedBytes() != 0
                    && System.nanoTime() < end; ) {
                Thread.sleep(1);
            }
            assertEquals(0, t.bufferedBytes());
        } finally {
            t.close(5);
        }
    }

    /** A bound below the body limit could never take a full body: refused when the transport starts. */
    @Test
    void aBoundBelowTheBodyLimitIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new NettyTransport(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 1000, 1, 999,
                        new Gated()));
        assertTrue(e.getMessage().contains("body limit"), e.getMessage());
    }

    /** The builder refuses a non-positive bound. */
    @Test
    void theBuilderRefusesANonPositiveBound() {
        assertThrows(IllegalArgumentException.class, () -> InferenceServer.builder().maxBufferedBytes(0));
    }
}
