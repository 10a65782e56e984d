package dev.gatun.serve;

import com.fasterxml.jackson.core.JsonFactory;
import dev.gatun.backend.Threads;
import dev.gatun.io.ModelFile;
import dev.gatun.nn.Module;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The inference route of {@link InferenceServer}, {@code POST /v2/models/{name}[/versions/{v}]/infer}, on
 * Netty instead of the JDK's {@code com.sun.net.httpserver}: the other HTTP stack that
 * {@code bench/http-stacks.sh} measures against {@code gatun serve}.
 *
 * <p>Everything but the HTTP stack is the server's own: the model is loaded and its session configured as
 * {@code gatun serve} does by default, the request is read by the same package-private
 * {@link InferRequest#parse}, run by the same {@link InferenceSession#run} and answered with the same JSON
 * writer ({@link InferenceServer#inferFields}); hence this class's package, which on the class path
 * (benchmarks.jar) is the engine's runtime package. {@code run} blocks until a session worker has the
 * result, so it is called on a virtual thread per request, as the JDK server does, never on an event loop;
 * the requests of one connection are answered one after another, in order (HTTP/1.1 pipelining).
 *
 * <p>Usage: {@code NettyInferenceFrontEnd FILE [--name NAME] [--port PORT] [--io-threads N]}; port 0 (the
 * default) picks a free one; the event loops default to one per core. Prints
 * {@code listening on http://127.0.0.1:PORT} once bound and serves until killed.
 */
public final class NettyInferenceFrontEnd {

    /** The request body limit, as {@code gatun serve}'s default. */
    static final int MAX_BODY_BYTES = 64 << 20;

    private static final JsonFactory JSON = new JsonFactory();

    private final String model;
    private final String version;
    private final InferenceSession session;
    private final ExecutorService requests = Executors.newVirtualThreadPerTaskExecutor();

    NettyInferenceFrontEnd(String model, String version, InferenceSession session) {
        this.model = model;
        this.version = version;
        this.session = session;
    }

    /**
     * Loads a model file and serves it until the process is killed.
     *
     * @param args {@code FILE [--name NAME] [--port PORT] [--io-threads N]}
     * @throws IOException if the model file cannot be read or the port cannot be bound
     * @throws InterruptedException if interrupted while serving
     * @throws IllegalArgumentException if an argument is missing, unknown or out of range
     */
    public static void main(String[] args) throws IOException, InterruptedException {
        Path file = null;
        String name = null;
        int port = 0;
        int ioThreads = Runtime.getRuntime().availableProcessors();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--name" -> name = value(args, ++i, "--name");
                case "--port" -> port = intValue(args, ++i, "--port", 0, 65535);
                case "--io-threads" -> ioThreads = intValue(args, ++i, "--io-threads", 1, 1024);
                default -> {
                    if (args[i].startsWith("--") || file != null) {
                        throw new IllegalArgumentException("unknown argument '" + args[i] + "'; usage: "
                                + "NettyInferenceFrontEnd FILE [--name NAME] [--port PORT] [--io-threads N]");
                    }
                    file = Path.of(args[i]);
                }
            }
        }
        if (file == null) {
            throw new IllegalArgumentException("no model file; usage: NettyInferenceFrontEnd FILE [--name NAME]"
                    + " [--port PORT] [--io-threads N]");
        }
        ModelRepository.Entry entry = ModelRepository.scan(file, name).getFirst();
        long[] shape = ModelFile.sampleShape(entry.file());
        if (shape == null) throw new IllegalArgumentException(entry.file() + " records no input shape");

        // gatun serve's defaults (ServeCommand): a worker per core, each with cores / workers native threads,
        // its batching, a queue of 1024 calls and the 30 s shutdown wait.
        int cores = Runtime.getRuntime().availableProcessors();
        int permits = cores;
        Threads.set(Math.max(1, cores / permits));
        InferenceSession.Config config = new InferenceSession.Config(permits, InferenceServer.DEFAULT_MAX_BATCH,
                InferenceServer.DEFAULT_MAX_DELAY_MICROS, 1024, 30_000);
        Module m = ModelLoader.modelFiles().load(entry.file());
        InferenceSession session;
        try {
            session = new InferenceSession(m, shape, config, "input", "output");
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
        new NettyInferenceFrontEnd(entry.name(), entry.version(), session).serve(port, ioThreads);
    }

    private static String value(String[] args, int i, String option) {
        if (i >= args.length) throw new IllegalArgumentException(option + " needs a value");
        return args[i];
    }

    private static int intValue(String[] args, int i, String option, int min, int max) {
        String v = value(args, i, option);
        int n;
        try {
            n = Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + " must be an integer, got '" + v + "'");
        }
        if (n < min || n > max) {
            throw new IllegalArgumentException(option + " must be in [" + min + ", " + max + "], got " + n);
        }
        return n;
    }

    private void serve(int port, int ioThreads) throws InterruptedException {
        boolean epoll = Epoll.isAvailable();
        IoHandlerFactory io = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        Class<? extends ServerSocketChannel> channel = epoll ? EpollServerSocketChannel.class
                : NioServerSocketChannel.class;
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(ioThreads, io);
        Channel server = new ServerBootstrap()
                .group(group)
                .channel(channel)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        Connection c = new Connection();
                        ch.pipeline().addLast(new HttpServerCodec(), new Aggregator(c), c);
                    }
                })
                .bind(new InetSocketAddress("127.0.0.1", port)).sync().channel();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close().awaitUninterruptibly();
            group.shutdownGracefully().awaitUninterruptibly();
            requests.close();
            session.close();
        }, "netty-front-end-shutdown"));
        int bound = ((InetSocketAddress) server.localAddress()).getPort();
        System.out.println("netty front end: " + model + " version " + version + ", " + (epoll ? "epoll" : "nio")
                + " transport, " + ioThreads + " event loops, " + session.config().concurrency()
                + " workers with " + Threads.get() + " native threads each");
        System.out.println("listening on http://127.0.0.1:" + bound);
        System.out.flush();
        server.closeFuture().sync();
    }

    /** A response: status, body and, for 405, the allowed method. */
    record Answer(int status, byte[] body, String allow) {}

    /** What {@link InferenceServer} answers to {@code method path} with {@code body}, for the infer route. */
    Answer answer(String method, String path, byte[] body) {
        try {
            if (!path.startsWith("/")) return error(404, "no route " + path);
            List<String> seg = List.of(path.substring(1).split("/", -1));
            boolean versioned = seg.size() == 6 && seg.get(3).equals("versions") && !seg.get(4).isEmpty();
            if (!(seg.size() == 4 || versioned) || !seg.get(0).equals("v2") || !seg.get(1).equals("models")
                    || seg.get(2).isEmpty() || !seg.getLast().equals("infer")) {
                return error(404, "no route " + path);
            }
            if (!method.equals("POST")) {
                return new Answer(405, errorBody("method " + method + " is not allowed here; use POST"), "POST");
            }
            String name = seg.get(2);
            if (!name.equals(model)) return error(404, "unknown model '" + name + "'");
            if (versioned && !seg.get(4).equals(version)) {
                return error(404, "model '" + name + "' has no version '" + seg.get(4) + "' (versions: " + version
                        + ")");
            }
            InferRequest req;
            try {
                req = InferRequest.parse(JSON, body);
            } catch (IllegalArgumentException e) {
                return error(400, e.getMessage());
            }
            InferenceSession.Result r;
            try {
                InferRequest.Input in = req.input(session.input().name());
                for (String o : req.outputs()) {
                    if (!o.equals(session.output().name())) {
                        return error(400, "unknown output '" + o + "'; model '" + name + "' has output '"
                                + session.output().name() + "'");
                    }
                }
                r = session.run(in.data(), in.shape());
            } catch (IllegalArgumentException e) {
                return error(400, e.getMessage());
            } catch (InferenceSession.QueueFullException | IllegalStateException e) {
                return error(503, e.getMessage());
            }
            String outName = session.output().name();
            return new Answer(200, InferenceServer.jsonBody(g -> InferenceServer.inferFields(g, model, version,
                    req.id(), outName, r.shape(), r.data())), null);
        } catch (RuntimeException | Error | IOException e) {
            return error(500, "internal error: " + e);
        }
    }

    private static Answer error(int status, String message) {
        return new Answer(status, errorBody(message), null);
    }

    private static byte[] errorBody(String message) {
        try {
            return InferenceServer.jsonBody(g -> g.writeStringField("error", message));
        } catch (IOException e) {
            throw new UncheckedIOException(e); // writing to memory: not expected
        }
    }

    /** Sent through the pipeline when a request body is over the limit. */
    private static final Object TOO_LARGE = new Object();

    /** Aggregates a request's body up to the limit; above it, asks the connection to answer 413 and close. */
    private static final class Aggregator extends HttpObjectAggregator {
        private final Connection connection;

        Aggregator(Connection connection) {
            super(MAX_BODY_BYTES);
            this.connection = connection;
        }

        @Override
        protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
            String length = oversized.headers().get(HttpHeaderNames.CONTENT_LENGTH);
            ctx.channel().config().setAutoRead(false); // the rest of the body is not wanted
            connection.tooLarge(length);
        }
    }

    /** One connection's requests, answered in order, each run on its own virtual thread. */
    private final class Connection extends SimpleChannelInboundHandler<FullHttpRequest> {
        /** The last request's answer; the next waits for it. Touched on the channel's event loop only. */
        private CompletableFuture<Void> last = CompletableFuture.completedFuture(null);
        private ChannelHandlerContext ctx;

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            this.ctx = ctx;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            HttpVersion httpVersion = req.protocolVersion();
            if (req.decoderResult().isFailure()) {
                String why = "malformed HTTP request: " + req.decoderResult().cause();
                last = last.thenRun(() -> respond(httpVersion, false, error(400, why)));
                return;
            }
            boolean keepAlive = HttpUtil.isKeepAlive(req);
            String method = req.method().name();
            String path = new QueryStringDecoder(req.uri()).path();
            byte[] body = ByteBufUtil.getBytes(req.content()); // the request is released when this returns
            last = last.thenRunAsync(() -> respond(httpVersion, keepAlive, answer(method, path, body)), requests);
        }

        void tooLarge(String length) {
            String message = length != null
                    ? "request body of " + length + " bytes is over the limit of " + MAX_BODY_BYTES
                    : "request body is over the limit of " + MAX_BODY_BYTES + " bytes";
            last = last.thenRun(() -> respond(HttpVersion.HTTP_1_1, false, error(413, message)));
        }

        private void respond(HttpVersion httpVersion, boolean keepAlive, Answer a) {
            FullHttpResponse res = new DefaultFullHttpResponse(httpVersion, HttpResponseStatus.valueOf(a.status()),
                    Unpooled.wrappedBuffer(a.body()));
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
                    .setInt(HttpHeaderNames.CONTENT_LENGTH, a.body().length);
            if (a.allow() != null) res.headers().set(HttpHeaderNames.ALLOW, a.allow());
            if (!keepAlive) {
                res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
            } else {
                if (httpVersion.equals(HttpVersion.HTTP_1_0)) {
                    res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
                }
                ctx.writeAndFlush(res);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close(); // the client went away, or the connection failed: nothing left to answer
        }
    }
}
