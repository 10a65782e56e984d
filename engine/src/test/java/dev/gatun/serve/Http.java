package dev.gatun.serve;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

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

    /** A response read off a {@link Raw} connection: status, headers (names in lower case) and body. */
    record RawResponse(int status, Map<String, String> headers, String body) {}

    /**
     * A connection that writes requests as bytes, as a client that pipelines or misbehaves does, and reads
     * responses with a {@code Content-Length}.
     */
    static final class Raw implements AutoCloseable {
        private final Socket socket;
        private final InputStream in;
        private final OutputStream out;

        Raw(URI base) throws IOException {
            socket = new Socket(base.getHost(), base.getPort());
            socket.setSoTimeout(30_000);
            in = new BufferedInputStream(socket.getInputStream());
            out = socket.getOutputStream();
        }

        Raw send(String text) throws IOException {
            return send(text.getBytes(StandardCharsets.UTF_8));
        }

        Raw send(byte[] bytes) throws IOException {
            out.write(bytes);
            out.flush();
            return this;
        }

        /** Shuts this side of the connection, as a client that has nothing more to send does. */
        Raw shutdownOutput() throws IOException {
            socket.shutdownOutput();
            return this;
        }

        RawResponse read() throws IOException {
            String status = line();
            if (!status.startsWith("HTTP/1.1 ")) throw new IOException("not a status line: " + status);
            Map<String, String> headers = new LinkedHashMap<>();
            for (String l; !(l = line()).isEmpty(); ) {
                int colon = l.indexOf(':');
                headers.put(l.substring(0, colon).trim().toLowerCase(Locale.ROOT), l.substring(colon + 1).trim());
            }
            byte[] body = in.readNBytes(Integer.parseInt(headers.get("content-length")));
            return new RawResponse(Integer.parseInt(status.substring(9, 12)), headers,
                    new String(body, StandardCharsets.UTF_8));
        }

        /** Whether the server closed the connection: the next read finds its end, with nothing before. */
        boolean closedByServer() throws IOException {
            return in.read() == -1;
        }

        private String line() throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            for (int c; (c = in.read()) != '\n'; ) {
                if (c == -1) throw new EOFException("the connection closed; read so far: " + b);
                if (c != '\r') b.write(c);
            }
            return b.toString(StandardCharsets.UTF_8);
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
