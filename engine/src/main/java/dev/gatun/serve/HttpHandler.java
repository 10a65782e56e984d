package dev.gatun.serve;

/**
 * The server's routes as its HTTP transport sees them: a request in, a response out, with no type of the
 * HTTP stack on either side. {@link InferenceServer} answers the routes; {@link NettyTransport} reads
 * requests off the connections and writes the responses back.
 */
interface HttpHandler {

    /**
     * A request, its body read.
     *
     * @param method        the method, as sent ({@code GET}, {@code POST}, ...)
     * @param path          the request target's path, percent-decoded ({@link java.net.URI#getPath()})
     * @param contentLength the {@code Content-Length} the client declared, or -1 for none (a chunked body)
     * @param body          the body, or null when it was over the server's limit (not read: answer 413
     *                      where a body is needed)
     */
    record Request(String method, String path, long contentLength, byte[] body) {}

    /**
     * A response.
     *
     * @param status      the status code
     * @param contentType the {@code Content-Type}
     * @param body        the body
     * @param allow       the {@code Allow} header of a 405, or null
     */
    record Response(int status, String contentType, byte[] body, String allow) {}

    /**
     * Answers a request. Called on a virtual thread of its own, which it may block (the model runs here);
     * the requests of one connection one after another, in order.
     *
     * @param request the request
     * @return the response, with any failure answered as an error response, never thrown
     */
    Response handle(Request request);

    /**
     * The response to a request that reached no route: malformed HTTP, a request line or headers over the
     * transport's limits.
     *
     * @param status  the status code
     * @param message what was wrong
     * @return the error response
     */
    Response error(int status, String message);
}
