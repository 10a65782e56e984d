/**
 * The gatun engine: off-heap tensors, autograd, ops, layers, optimizers, data loading, training, model
 * files and serving over OpenBLAS and oneDNN.
 *
 * <p>Run with {@code --enable-native-access=dev.gatun.bindings,dev.gatun.engine} on the module path (or
 * {@code ALL-UNNAMED} on the class path). The library needs nothing beyond gatun's own two modules; the
 * tools inside this jar need more and name it: the {@code gatun} command ({@code dev.gatun.cli}) needs
 * picocli, PNG training curves need XChart, and the HTTP server ({@link dev.gatun.serve.InferenceServer})
 * needs jackson-core and Netty (its HTTP stack, chosen over the JDK's own {@code com.sun.net.httpserver}
 * by measurement: a quarter more requests per second under load, see the server's documentation). Those
 * are optional dependencies, read only when present. On the module path the server also needs
 * {@code --add-modules com.fasterxml.jackson.core,io.netty.codec.http,io.netty.transport.classes.epoll}
 * and {@code --enable-native-access=io.netty.common} (the last two for the epoll transport, which
 * loads a native library; without its module the server uses NIO).
 */
module dev.gatun.engine {
    requires dev.gatun.bindings;
    // Tools only: never required by a program that uses the library.
    requires static info.picocli;
    requires static org.knowm.xchart;
    requires static java.desktop;
    requires static com.fasterxml.jackson.core;
    requires static io.netty.buffer;
    requires static io.netty.codec;
    requires static io.netty.codec.http;
    requires static io.netty.common;
    requires static io.netty.transport;
    requires static io.netty.transport.classes.epoll;

    exports dev.gatun.autograd;
    exports dev.gatun.data;
    exports dev.gatun.distributed;
    exports dev.gatun.io;
    exports dev.gatun.nn;
    exports dev.gatun.ops;
    exports dev.gatun.optim;
    exports dev.gatun.serve;
    exports dev.gatun.tensor;
    exports dev.gatun.train;

    // Internal: the native backend and the command line. The benchmarks time them directly.
    exports dev.gatun.backend to dev.gatun.bench;
    exports dev.gatun.cli to dev.gatun.bench;

    opens dev.gatun.cli to info.picocli;
}
