package dev.gatun.serve;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;

/** One HTTP exchange with a test server (HttpURLConnection: the engine module does not read java.net.http). */
final class Http {

    /** A response: status, body as text, and the connection for its headers. */
    record Exchange(int status, String body, HttpURLConnection connection) {}

    private Http() {}

    /** Sends {@code body} (null for none, chunked or with a length) with {@code method} to {@code base + path}. */
    static Exchange call(URI base, String method, String path, byte[] body, boolean chunked) throws IOException {
        HttpURLConnection c = (HttpURLConnection) URI.create(base + path).toURL().openConnection();
        c.setRequestMethod(method);
        c.setConnectTimeout(10_000);
        c.setReadTimeout(60_000);
        if (body != null) {
            c.setDoOutput(true);
            c.setRequestProperty("Content-Type", "application/json");
            if (chunked) {
                c.setChunkedStreamingMode(4096);
            } else {
                c.setFixedLengthStreamingMode(body.length);
            }
            try (OutputStream os = c.getOutputStream()) {
                os.write(body);
            }
        }
        int status = c.getResponseCode();
        InputStream in = status >= 400 ? c.getErrorStream() : c.getInputStream();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        if (in != null) {
            try (in) {
                in.transferTo(out);
            }
        }
        return new Exchange(status, out.toString(StandardCharsets.UTF_8), c);
    }
}
