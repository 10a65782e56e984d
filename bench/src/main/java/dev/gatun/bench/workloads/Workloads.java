package dev.gatun.bench.workloads;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** The workloads of shared/WORKLOADS.md that gatun implements, by name. */
public final class Workloads {

    /** Every row of the comparison, in table order. */
    public static final List<String> ALL = List.of("mlp13k_train_b32", "mlp_train_b128_adam", "lenet5_train_b64",
            "resnet_train_b32", "charlstm_train_b32_t64", "chargru_train_b32_t64", "charrnn_train_b32_t64",
            "transformer_train_b16_t64", "mlp_infer_b1", "lenet5_infer_b1", "resnet_infer_b1", "charlstm_infer_b1_t64");

    private Workloads() {}

    /** Whether gatun implements the row yet. */
    public static boolean implemented(String name) {
        return switch (name) {
            case "mlp13k_train_b32", "mlp_train_b128_adam", "mlp_infer_b1", "lenet5_train_b64", "lenet5_infer_b1",
                 "resnet_train_b32", "resnet_infer_b1" -> true;
            default -> false;
        };
    }

    /** Builds a workload from the initial state in {@code dir} (files named after the workload). */
    public static Workload create(String name, Path dir) throws IOException {
        if (!ALL.contains(name)) {
            throw new IllegalArgumentException("unknown workload " + name + "; known: " + ALL);
        }
        if (!implemented(name)) {
            throw new UnsupportedOperationException(name + " is not implemented in gatun yet");
        }
        Exchange init = Exchange.read(dir, name);
        return switch (name) {
            case "mlp13k_train_b32" -> new MlpWorkload(MlpWorkload.Kind.MLP13K_TRAIN_B32, init);
            case "mlp_train_b128_adam" -> new MlpWorkload(MlpWorkload.Kind.MLP_TRAIN_B128_ADAM, init);
            case "mlp_infer_b1" -> new MlpWorkload(MlpWorkload.Kind.MLP_INFER_B1, init);
            case "lenet5_train_b64" -> new LenetWorkload(true, init);
            case "lenet5_infer_b1" -> new LenetWorkload(false, init);
            case "resnet_train_b32" -> new ResnetWorkload(true, init);
            case "resnet_infer_b1" -> new ResnetWorkload(false, init);
            default -> throw new AssertionError(name);
        };
    }
}
