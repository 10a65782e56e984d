/**
 * The gatun engine: off-heap tensors, the native backend over OpenBLAS and oneDNN, autograd, ops,
 * layers, optimizers, data loading, training and the {@code gatun} command.
 *
 * <p>Only {@code dev.gatun.backend} talks to {@code dev.gatun.bindings}. Run with
 * {@code --enable-native-access=dev.gatun.bindings,dev.gatun.engine} on the module path (or
 * {@code ALL-UNNAMED} on the class path).
 */
module dev.gatun.engine {
    requires dev.gatun.bindings;
    requires info.picocli;
    requires org.knowm.xchart;
    requires java.desktop;
    requires jdk.httpserver;
    requires com.fasterxml.jackson.core;

    exports dev.gatun.autograd;
    exports dev.gatun.backend;
    exports dev.gatun.cli;
    exports dev.gatun.data;
    exports dev.gatun.io;
    exports dev.gatun.nn;
    exports dev.gatun.ops;
    exports dev.gatun.optim;
    exports dev.gatun.serve;
    exports dev.gatun.tensor;
    exports dev.gatun.train;

    opens dev.gatun.cli to info.picocli;
}
