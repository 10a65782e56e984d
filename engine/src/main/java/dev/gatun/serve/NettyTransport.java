package dev.gatun.serve;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@link InferenceServer}'s HTTP/1.1 transport, on Netty: reads requests off the connections, has an
 * {@link HttpHandler} answer them, writes the responses back. The only class of the server that names
 * Netty, so that the server's other classes load without it.
 *
 * <p>A few event loops (one per core, at most 4, unless told otherwise; epoll where Netty's native
 * transport loads, else NIO) parse and aggregate requests and write responses; they never block. Each connection's requests
 * are answered on a virtual thread, one after another in the order received (HTTP/1.1 pipelining), since
 * answering blocks on the model. Bounds, so that no client holds an unbounded share of anything: request
 * line 8 KiB (else 414), headers 32 KiB (else 431), the body the server's limit (else 413, after which the
 * connection closes); at most 16 requests or 1 MiB of bodies wait on one connection before it is read no
 * further; the request bodies held over all connections, each from its reading until its answer, at
 * most the server's bound (else 503, after which the connection closes); a connection with nothing to
 * answer that sends nothing for 30 s is closed; at most 10,000 connections are open at once. Malformed HTTP is answered 400 and the connection closed.
 */
final class NettyTransport {

    static final int MAX_INITIAL_LINE = 8 << 10;
    static final int MAX_HEADERS = 32 << 10;
    static final int MAX_CONNECTIONS = 10_000;
    /** Requests read ahead of their answers on one connection before reading pauses. */
    static final int MAX_QUEUED = 16;
    static final long MAX_QUEUED_BYTES = 1 << 20;
    static final long IDLE_NANOS = TimeUnit.SECONDS.toNanos(30);
    /**
     * How long a connection closed by the server after its last response goes on being read (and what it
     * sends dropped) so that a client still sending a body gets the response rather than a reset.
     */
    static final long LINGER_MILLIS = 2000;

    private static final HttpDecoderConfig DECODER = new HttpDecoderConfig()
            .setMaxInitialLineLength(MAX_INITIAL_LINE)
            .setMaxHeaderSize(MAX_HEADERS)
            .setMaxChunkSize(64 << 10);

    private final HttpHandler handler;
    private final int maxBodyBytes;
    /** The most request-body bytes held at once, over all connections, from reading to answering. */
    private final long maxBufferedBytes;
    private final AtomicLong buffered = new AtomicLong();
    private final EventLoopGroup group;
    private final Channel server;
    private final ExecutorService requests =
            Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("gatun-serve-request-", 0).factory());
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    private final AtomicInteger open = new AtomicInteger();
    /** Requests read and not yet answered (the response written or failed), over all connections. */
    private final AtomicInteger active = new AtomicInteger();
    private final Object idle = new Object();
    private volatile boolean stopping;

    /**
     * Binds and starts serving.
     *
     * @param address      where to listen
     * @param maxBodyBytes the largest request body read; a larger one reaches the handler with no body
     * @param ioThreads    event loop threads
     * @param maxBufferedBytes the most body bytes held at once over all connections, at least
     *                     {@code maxBodyBytes}; a request whose body would pass it is answered 503
     * @param handler      answers the requests
     * @throws IOException if the address cannot be bound
     */
    NettyTransport(InetSocketAddress address, int maxBodyBytes, int ioThreads, long maxBufferedBytes,
                   HttpHandler handler) throws IOException {
        if (maxBufferedBytes < maxBodyBytes) {
            throw new IllegalArgumentException("the bytes of bodies held at once (" + maxBufferedBytes
                    + ") must be at least the body limit (" + maxBodyBytes + ")");
        }
        this.handler = handler;
        this.maxBodyBytes = maxBodyBytes;
        this.maxBufferedBytes = maxBufferedBytes;
        boolean epoll = NativeTransport.available();
        IoHandlerFactory io = epoll ? NativeTransport.ioHandler() : NioIoHandler.newFactory();
        group = new MultiThreadIoEventLoopGroup(ioThreads, new DefaultThreadFactory("gatun-serve-io"), io);
        Class<? extends ServerChannel> channel = epoll ? NativeTransport.serverChannel()
                : NioServerSocketChannel.class;
        ChannelFuture bound = new ServerBootstrap()
                .group(group)
                .channel(channel)
                .childOption(ChannelOption.TCP_NODELAY, true)
                // A client that shuts its side after its last request still gets the answers.
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        accept(ch);
                    }
                })
                .bind(address)
                .awaitUninterruptibly();
        if (!bound.isSuccess()) {
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS).awaitUninterruptibly();
            requests.close();
            Throwable cause = bound.cause();
            // Netty's own message ("bind(..) failed with error(-98): Address already in use") names no address.
            throw new IOException("cannot listen on " + address + ": " + (cause.getMessage() != null
                    ? cause.getMessage() : cause.toString()), cause);
        }
        server = bound.channel();
    }

    /** Netty's native epoll transport, in a class of its own: without its module or library, NIO serves. */
    private static final class NativeTransport {
        static boolean available() {
            try {
                return Epoll.isAvailable();
            } catch (LinkageError e) {
                return false;
            }
        }

        static IoHandlerFactory ioHandler() {
            return EpollIoHandler.newFactory();
        }

        static Class<? extends ServerChannel> serverChannel() {
            return EpollServerSocketChannel.class;
        }
    }

    /**
     * The bound address.
     *
     * @return the address and port listened on
     */
    InetSocketAddress address() {
        return (InetSocketAddress) server.localAddress();
    }

    /**
     * Stops: no new connection is accepted, idle connections close, the requests read so far are answered
     * within the time given (each connection closing after its last answer), then whatever is left is
     * closed and the event loops end.
     *
     * @param seconds the most time to wait for requests read so far
     */
    void close(int seconds) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        stopping = true;
        server.close().awaitUninterruptibly();
        for (Connection c : connections) c.stop();
        synchronized (idle) {
            for (long left; active.get() > 0 && (left = deadline - System.nanoTime()) > 0; ) {
                try {
                    idle.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        for (Connection c : connections) c.channel.close().awaitUninterruptibly(1, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        requests.shutdown(); // a request still blocked on its model fails when the model closes
    }

    /**
     * Takes {@code bytes} of the budget of bodies held, if they fit. A body holds its share from being read
     * until its answer: a heap copy, then what parsing it makes. Without the bound, clients sending large
     * bodies on many connections at once could fill the heap, and the model's own allocations would fail.
     */
    private boolean reserve(long bytes) {
        if (bytes == 0) return true;
        for (long b = buffered.get(); ; b = buffered.get()) {
            if (b + bytes > maxBufferedBytes) return false;
            if (buffered.compareAndSet(b, b + bytes)) return true;
        }
    }

    /** Body bytes held now, over all connections (for tests). */
    long bufferedBytes() {
        return buffered.get();
    }

    /** The second {@link #date} last formatted, and its text. */
    private record Stamp(long second, String text) {}

    private volatile Stamp stamp = new Stamp(-1, "");
    /** RFC 9110's IMF-fixdate: two-digit day, English names, GMT (Java's RFC 1123 form drops the day's 0). */
    private static final DateTimeFormatter IMF_FIXDATE =
            DateTimeFormatter.ofPattern("EEE, dd MMM yyyy HH:mm:ss 'GMT'", Locale.ROOT);

    /**
     * The current time as HTTP's {@code Date} header gives it (RFC 9110: an origin server with a clock
     * sends it), formatted once a second.
     */
    private String date() {
        long second = System.currentTimeMillis() / 1000;
        Stamp s = stamp;
        if (s.second() != second) {
            s = new Stamp(second, IMF_FIXDATE.format(Instant.ofEpochSecond(second).atOffset(ZoneOffset.UTC)));
            stamp = s;
        }
        return s.text();
    }

    private void answered() {
        if (active.decrementAndGet() == 0 && stopping) {
            synchronized (idle) {
                idle.notifyAll();
            }
        }
    }

    /** A new connection: refused (closed) beyond the limit or while stopping, else its pipeline. */
    private void accept(Channel ch) {
        int n = open.incrementAndGet();
        ch.closeFuture().addListener(f -> open.decrementAndGet());
        if (n > MAX_CONNECTIONS || stopping) {
            ch.close();
            return;
        }
        Connection c = new Connection(ch);
        connections.add(c);
        ch.closeFuture().addListener(f -> connections.remove(c));
        ch.pipeline().addLast(new HttpServerCodec(DECODER), c.new Aggregator(), c);
        c.scheduleIdleCheck(IDLE_NANOS);
    }

    /** The request target's path, percent-decoded as the JDK's URI decodes it; null if not a URI. */
    static String path(String target) {
        try {
            String p = new URI(target).getPath();
            return p == null ? "" : p;
        } catch (URISyntaxException e) {
            return null;
        }
    }

    /**
     * A request read and waiting for its answer: the request, or (request null) an error to answer.
     *
     * @param keepAlive  whether the connection stays open after the answer
     * @param http10     whether the request was HTTP/1.0 (whose keep-alive the response confirms)
     * @param bytes      the body's size, for the read-ahead bound
     */
    private record Job(HttpHandler.Request request, int status, String message, boolean keepAlive, boolean http10,
            int bytes) {
        static Job error(int status, String message) {
            return new Job(null, status, message, false, false, 0);
        }
    }

    /** Drops what it reads: the head of a connection that is closing. */
    @ChannelHandler.Sharable
    private static final class Discard extends ChannelInboundHandlerAdapter {
        static final Discard INSTANCE = new Discard();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
        }
    }

    /**
     * One connection. Requests are read on its event loop and queued; one virtual thread at a time answers
     * them in order and writes the responses (Netty hands the writes to the event loop, in order).
     */
    private final class Connection extends ChannelInboundHandlerAdapter {
        final Channel channel;
        private ChannelHandlerContext ctx;
        private final Queue<Job> jobs = new ConcurrentLinkedQueue<>();
        private final AtomicInteger queued = new AtomicInteger();
        private final AtomicLong queuedBytes = new AtomicLong();
        /** Reading paused because too much is queued; set on the event loop. */
        private volatile boolean paused;
        /** A response said {@code Connection: close}: nothing more is answered. */
        private volatile boolean closing;
        /** The client shut its side: the connection closes after the last answer. */
        private volatile boolean inputShut;
        /** The last response's write, to close after. */
        private volatile ChannelFuture lastWrite;
        /** When the connection last read or wrote ({@link System#nanoTime()}); on the event loop only. */
        private long lastActivity = System.nanoTime();

        Connection(Channel channel) {
            this.channel = channel;
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            this.ctx = ctx;
        }

        /** Something arrived (a request's head or a piece of its body). On the event loop. */
        void touch() {
            lastActivity = System.nanoTime();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (closing || !(msg instanceof FullHttpRequest req)) {
                ReferenceCountUtil.release(msg);
                return;
            }
            Job job;
            try {
                job = job(req);
            } finally {
                req.release();
            }
            submit(job);
        }

        private Job job(FullHttpRequest req) {
            DecoderResult result = req.decoderResult();
            if (result.isFailure()) {
                Throwable cause = result.cause();
                int status = cause instanceof TooLongHttpLineException ? 414
                        : cause instanceof TooLongHttpHeaderException ? 431 : 400;
                return Job.error(status, "malformed HTTP request: " + cause.getMessage());
            }
            String path = path(req.uri());
            if (path == null) return Job.error(400, "malformed request target '" + req.uri() + "'");
            int size = req.content().readableBytes();
            if (!reserve(size)) {
                return Job.error(503, "the server holds " + maxBufferedBytes + " bytes of request bodies at most"
                        + " and has too many now; retry later");
            }
            byte[] body = ByteBufUtil.getBytes(req.content());
            return new Job(new HttpHandler.Request(req.method().name(), path, body.length, body), 0, null,
                    HttpUtil.isKeepAlive(req), req.protocolVersion().equals(HttpVersion.HTTP_1_0), body.length);
        }

        /** Queues a request read; starts a virtual thread to answer unless one is at it. On the event loop. */
        void submit(Job job) {
            if (closing) { // nothing more is answered here: the body's share of the bound goes back
                buffered.addAndGet(-job.bytes());
                return;
            }
            active.incrementAndGet();
            jobs.add(job);
            long bytes = queuedBytes.addAndGet(job.bytes());
            int n = queued.getAndIncrement() + 1;
            if (n == 1) {
                try {
                    requests.execute(this::drain);
                } catch (RejectedExecutionException e) { // the server is gone
                    for (Job j; (j = jobs.poll()) != null; ) buffered.addAndGet(-j.bytes());
                    queued.set(0);
                    answered();
                    channel.close();
                    return;
                }
            }
            if (!paused && (n >= MAX_QUEUED || bytes >= MAX_QUEUED_BYTES)) {
                paused = true;
                channel.config().setAutoRead(false);
            }
        }

        /** Answers the queued requests in order until none is left. On a virtual thread. */
        private void drain() {
            int left;
            do {
                Job job = jobs.poll();
                answer(job);
                queuedBytes.addAndGet(-job.bytes());
                buffered.addAndGet(-job.bytes());
                left = queued.decrementAndGet();
                if (paused) channel.eventLoop().execute(this::resume);
                if (left == 0 && (stopping || inputShut)) closeAfterLastWrite();
            } while (left > 0);
        }

        /** Answers one request and writes the response, or drops it if the connection is done with. */
        private void answer(Job job) {
            if (closing || !channel.isActive()) { // the client is gone, or no more is answered here
                answered();
                return;
            }
            boolean close;
            FullHttpResponse out;
            try {
                HttpHandler.Response res;
                if (job.request() == null) {
                    res = handler.error(job.status(), job.message());
                } else {
                    try {
                        res = handler.handle(job.request());
                    } catch (RuntimeException | Error e) { // not expected: the handler answers its failures
                        res = handler.error(500, "internal error: " + e);
                    }
                }
                close = !job.keepAlive() || (stopping || inputShut) && queued.get() == 1;
                out = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(res.status()),
                        Unpooled.wrappedBuffer(res.body()));
                HttpHeaders h = out.headers();
                h.set(HttpHeaderNames.CONTENT_TYPE, res.contentType());
                h.setInt(HttpHeaderNames.CONTENT_LENGTH, res.body().length);
                h.set(HttpHeaderNames.DATE, date());
                if (res.allow() != null) h.set(HttpHeaderNames.ALLOW, res.allow());
                if (close) {
                    h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                } else if (job.http10()) {
                    h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
                }
            } catch (RuntimeException | Error e) { // no response to give: the client must not wait for one
                closing = true;
                answered();
                channel.close();
                return;
            }
            if (close) closing = true;
            ChannelFuture written = ctx.writeAndFlush(out);
            lastWrite = written;
            written.addListener(f -> { // on the event loop
                lastActivity = System.nanoTime();
                answered();
                if (close) linger();
            });
        }

        /**
         * Closes after the last response, gracefully: the output is shut (the client reads the response to
         * its end), what the client still sends is read and dropped, and the connection closes when the
         * client closes it or after {@link #LINGER_MILLIS}. Closing outright while a client is still sending
         * its body would reset the connection, and the reset can destroy the response before it is read.
         */
        private void linger() {
            if (!channel.isActive()) return;
            channel.pipeline().addFirst(Discard.INSTANCE);
            channel.config().setAutoRead(true);
            if (channel instanceof DuplexChannel d) {
                d.shutdownOutput();
                channel.eventLoop().schedule(() -> channel.close(), LINGER_MILLIS, TimeUnit.MILLISECONDS);
            } else {
                channel.close();
            }
        }

        /** Reads again once the queue has drained to half its bounds. On the event loop. */
        private void resume() {
            if (paused && !closing && queued.get() <= MAX_QUEUED / 2 && queuedBytes.get() <= MAX_QUEUED_BYTES / 2) {
                paused = false;
                channel.config().setAutoRead(true);
            }
        }

        /** The server stops: an idle connection closes now, a busy one after its last answer. */
        void stop() {
            channel.eventLoop().execute(() -> {
                if (queued.get() == 0) closeAfterLastWrite();
            });
        }

        private void closeAfterLastWrite() {
            ChannelFuture w = lastWrite;
            if (w == null) {
                channel.close();
            } else {
                w.addListener(ChannelFutureListener.CLOSE);
            }
        }

        void scheduleIdleCheck(long delayNanos) {
            channel.eventLoop().schedule(this::idleCheck, delayNanos, TimeUnit.NANOSECONDS);
        }

        /** Closes the connection if it has nothing to answer and sent nothing for 30 s. On the event loop. */
        private void idleCheck() {
            if (!channel.isActive()) return;
            long quiet = System.nanoTime() - lastActivity;
            if (queued.get() == 0 && quiet >= IDLE_NANOS) {
                channel.close();
            } else {
                scheduleIdleCheck(queued.get() == 0 ? IDLE_NANOS - quiet : IDLE_NANOS);
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
                inputShut = true;
                if (queued.get() == 0) closeAfterLastWrite();
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close(); // the connection failed (reset by the client, most often): nothing left to answer
        }

        /**
         * Aggregates a request's body up to the limit. A body over it (by {@code Content-Length}, or while a
         * chunked body arrives) is not kept: the request is queued without a body, answered 413 by the
         * routes that need one, and the connection closes after the answer.
         */
        final class Aggregator extends HttpObjectAggregator {
            Aggregator() {
                super(maxBodyBytes);
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
                touch();
                super.channelRead(ctx, msg);
            }

            @Override
            protected Object newContinueResponse(HttpMessage start, int maxContentLength, ChannelPipeline pipeline) {
                Object r = super.newContinueResponse(start, maxContentLength, pipeline);
                if (r instanceof HttpResponse res && res.status().code() != 100) {
                    // Netty's own 413 or 417, with no body: let the request through instead, so that an
                    // oversized one is answered below like any other, and an unknown expectation ignored.
                    ReferenceCountUtil.release(r);
                    return null;
                }
                return r;
            }

            @Override
            protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
                HttpRequest req = (HttpRequest) oversized; // a server's decoder reads requests only
                String path = path(req.uri());
                submit(path == null ? Job.error(400, "malformed request target '" + req.uri() + "'")
                        : new Job(new HttpHandler.Request(req.method().name(), path,
                                HttpUtil.getContentLength(req, -1L), null), 0, null, false, false, 0));
            }
        }
    }
}
