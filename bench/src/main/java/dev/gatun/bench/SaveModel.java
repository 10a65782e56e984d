package dev.gatun.bench;

import dev.gatun.io.ModelFile;
import dev.gatun.nn.Init;
import dev.gatun.nn.Linear;
import dev.gatun.nn.Models;
import dev.gatun.nn.Module;
import dev.gatun.nn.ReLU;
import dev.gatun.nn.Sequential;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Writes a model file of a benchmark network with seeded initial weights, for serving benchmarks that
 * need a model but not a trained one: {@code SaveModel lenet5|mlp FILE}. The MLP is the
 * {@code mlp_infer_b1} row's 784-512-256-10.
 */
public final class SaveModel {

    private SaveModel() {}

    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            throw new IllegalArgumentException("usage: SaveModel lenet5|mlp FILE");
        }
        Init.manualSeed(1);
        long[] sampleShape = args[0].equals("lenet5") ? new long[] {1, 28, 28} : new long[] {784};
        try (Module model = switch (args[0]) {
            case "lenet5" -> Models.lenet5();
            case "mlp" -> new Sequential(new Linear(784, 512), new ReLU(), new Linear(512, 256),
                    new ReLU(), new Linear(256, 10));
            default -> throw new IllegalArgumentException("model is lenet5 or mlp, got " + args[0]);
        }) {
            ModelFile.save(model, Path.of(args[1]), sampleShape);
        }
    }
}
