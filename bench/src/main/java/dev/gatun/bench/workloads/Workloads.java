package dev.gatun.bench.workloads;

import dev.gatun.nn.Dropout;
import dev.gatun.nn.GRU;
import dev.gatun.nn.LSTM;
import dev.gatun.nn.Linear;
import dev.gatun.nn.Models;
import dev.gatun.nn.Module;
import dev.gatun.nn.RNN;
import dev.gatun.nn.ReLU;
import dev.gatun.nn.Sequential;
import dev.gatun.nn.Sigmoid;
import dev.gatun.nn.TransformerEncoderLayer;
import dev.gatun.optim.Adam;
import dev.gatun.optim.Optimizer;
import dev.gatun.optim.SGD;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** The workloads of shared/WORKLOADS.md that gatun implements, by name. */
public final class Workloads {

    /** Every row of the comparison, in table order. */
    public static final List<String> ALL = List.of("mlp13k_train_b32", "mlp_train_b128_adam", "lenet5_train_b64",
            "resnet_train_b32", "charlstm_train_b32_t64", "chargru_train_b32_t64", "charrnn_train_b32_t64",
            "transformer_train_b16_t64", "mlp_infer_b1", "lenet5_infer_b1", "resnet_infer_b1", "charlstm_infer_b1_t64",
            "chargpt_train_b16_t128", "chargpt_generate_t256", "vae_train_b128", "dcgan_train_b64");

    private Workloads() {}

    /** Whether gatun implements the row yet. */
    public static boolean implemented(String name) {
        return switch (name) {
            case "mlp13k_train_b32", "mlp_train_b128_adam", "mlp_infer_b1", "lenet5_train_b64", "lenet5_infer_b1",
                 "resnet_train_b32", "resnet_infer_b1" -> true;
            case "transformer_train_b16_t64", "chargpt_train_b16_t128", "chargpt_generate_t256" -> true;
            case "vae_train_b128", "dcgan_train_b64" -> true;
            case "charlstm_train_b32_t64", "chargru_train_b32_t64", "charrnn_train_b32_t64", "charlstm_infer_b1_t64" -> true;
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
            case "mlp13k_train_b32" -> new ModelWorkload(name, mlp13k(), m -> new SGD(m.parameters(), 0.1), init,
                    linear(32, 784, 16), linear(32, 16, 16), linear(32, 16, 10));
            case "mlp_train_b128_adam" -> new ModelWorkload(name, mlpAdam(), m -> new Adam(m.parameters(), 1e-3), init,
                    linear(128, 784, 512), linear(128, 512, 256), linear(128, 256, 10));
            case "mlp_infer_b1" -> new ModelWorkload(name, mlpAdam(), null, init,
                    linear(1, 784, 512), linear(1, 512, 256), linear(1, 256, 10));
            case "lenet5_train_b64" -> new ModelWorkload(name, Models.lenet5(), Workloads::lenetSgd, init, lenet5(64));
            case "lenet5_infer_b1" -> new ModelWorkload(name, Models.lenet5(), null, init, lenet5(1));
            case "resnet_train_b32" -> new ModelWorkload(name, Models.resnet(3),
                    m -> new SGD(m.parameters(), SGD.Options.of(0.05).withMomentum(0.9)), init, resnet(32));
            case "resnet_infer_b1" -> new ModelWorkload(name, Models.resnet(3), null, init, resnet(1));
            case "transformer_train_b16_t64" -> new RegressionWorkload(name, transformer(),
                    m -> new Adam(m.parameters(), 1e-3), init, transformerTrainFlops(16, 64, 128, 512));
            case "charlstm_train_b32_t64" -> new ModelWorkload(name, new CharModel(new LSTM(64, 256)),
                    Workloads::charAdam, init, CharModel.flops(64, 32, 4));
            case "chargru_train_b32_t64" -> new ModelWorkload(name, new CharModel(new GRU(64, 256)),
                    Workloads::charAdam, init, CharModel.flops(64, 32, 3));
            case "charrnn_train_b32_t64" -> new ModelWorkload(name, new CharModel(new RNN(64, 256)),
                    Workloads::charAdam, init, CharModel.flops(64, 32, 1));
            case "charlstm_infer_b1_t64" -> new ModelWorkload(name, new CharModel(new LSTM(64, 256)), null, init,
                    CharModel.flops(64, 1, 4));
            case "chargpt_train_b16_t128" -> new CharGptTraining(name, init);
            case "chargpt_generate_t256" -> new CharGptGeneration(name, init);
            case "vae_train_b128" -> new VaeTraining(name, init);
            case "dcgan_train_b64" -> new DcganTraining(name, init);
            default -> throw new AssertionError(name);
        };
    }

    private static Optimizer charAdam(Module m) {
        return new Adam(m.parameters(), 2e-3);
    }

    /** 784-16-16-10 with sigmoid hidden units (13,002 parameters). */
    private static Module mlp13k() {
        return new Sequential(new Linear(784, 16), new Sigmoid(), new Linear(16, 16),
                new Sigmoid(), new Linear(16, 10));
    }

    /** 784-512 ReLU, dropout 0.2, 512-256 ReLU, 256-10. */
    private static Module mlpAdam() {
        return new Sequential(new Linear(784, 512), new ReLU(), new Dropout(0.2f), new Linear(512, 256),
                new ReLU(), new Linear(256, 10));
    }

    /** One encoder layer: d_model 128, 4 heads, FFN 512, dropout 0.1, post-norm, batch first. */
    private static Module transformer() {
        return new TransformerEncoderLayer(128, 4, TransformerEncoderLayer.Options.defaults().withDimFeedforward(512)
                .withDropout(0.1f).withBatchFirst(true));
    }

    /**
     * FLOPs of one training step of an encoder layer on [b, t, e]: the four projections, Q·Kᵀ and P·V,
     * the FFN; backward twice the forward but for the input projection's input gradient (the layer's input
     * is data), as bench/python/workloads.py counts it.
     */
    private static double transformerTrainFlops(double b, double t, double e, double ffn) {
        double n = b * t;
        double input = linear(n, e, 3 * e);
        double forward = input + linear(n, e, e) + 2 * 2 * b * t * t * e + linear(n, e, ffn) + linear(n, ffn, e);
        return 3 * forward - input;
    }

    private static Optimizer lenetSgd(Module m) {
        return new SGD(m.parameters(), SGD.Options.of(0.01).withMomentum(0.9));
    }

    private static double linear(double batch, double in, double out) {
        return 2 * batch * in * out;
    }

    /** Forward FLOPs of a convolution: 2 · outputs · (input channels · kernel area). */
    private static double conv(double batch, double out, double outH, double outW, double in, double k) {
        return 2 * batch * out * outH * outW * in * k * k;
    }

    private static double[] lenet5(double n) {
        return new double[] {conv(n, 20, 28, 28, 1, 5), conv(n, 50, 14, 14, 20, 5), linear(n, 2450, 500),
            linear(n, 500, 10)};
    }

    private static double[] resnet(double n) {
        double block = conv(n, 32, 32, 32, 32, 3);
        return new double[] {conv(n, 32, 32, 32, 3, 3), block, block, block, block, linear(n, 32, 10)};
    }
}
