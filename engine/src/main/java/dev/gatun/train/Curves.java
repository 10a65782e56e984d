package dev.gatun.train;

import dev.gatun.backend.OptionalDependency;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.internal.chartpart.Chart;

/**
 * Draws the loss and accuracy curves of a fit side by side into one PNG. Needs XChart
 * ({@code org.knowm.xchart:xchart}), an optional dependency of the engine.
 */
public final class Curves {

    private Curves() {}

    /**
     * Writes {@code history}'s curves to {@code png}.
     *
     * @param history the epochs of a fit
     * @param png the file to write; a missing {@code .png} suffix is added
     * @throws IOException if the file cannot be written
     * @throws IllegalStateException if XChart is not on the class or module path
     */
    public static void write(Trainer.History history, Path png) throws IOException {
        requireXChart();
        draw(history, png);
    }

    /**
     * Throws unless XChart is present.
     *
     * @throws IllegalStateException if XChart is not on the class or module path
     */
    public static void requireXChart() {
        OptionalDependency.require("org.knowm.xchart.XYChart", "org.knowm.xchart", "org.knowm.xchart:xchart:3.8.8",
                "Drawing training curves");
    }

    // Separate from write so that no XChart type is resolved before the check.
    private static void draw(Trainer.History history, Path png) throws IOException {
        List<Trainer.EpochResult> epochs = history.epochs();
        double[] x = epochs.stream().mapToDouble(Trainer.EpochResult::epoch).toArray();
        XYChart loss = new XYChartBuilder().width(640).height(420).title("Loss").xAxisTitle("epoch")
                .yAxisTitle("loss").build();
        loss.addSeries("train", x, epochs.stream().mapToDouble(Trainer.EpochResult::trainLoss).toArray());
        XYChart accuracy = new XYChartBuilder().width(640).height(420).title("Accuracy").xAxisTitle("epoch")
                .yAxisTitle("accuracy (%)").build();
        accuracy.addSeries("train", x,
                epochs.stream().mapToDouble(e -> 100 * e.trainAccuracy()).toArray());
        if (epochs.stream().noneMatch(e -> Double.isNaN(e.validationLoss()))) {
            loss.addSeries("validation", x, epochs.stream().mapToDouble(Trainer.EpochResult::validationLoss).toArray());
            accuracy.addSeries("validation", x,
                    epochs.stream().mapToDouble(e -> 100 * e.validationAccuracy()).toArray());
        }
        Path parent = png.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        String name = png.toString();
        String base = name.endsWith(".png") ? name.substring(0, name.length() - 4) : name;
        List<Chart<?, ?>> charts = List.of(loss, accuracy);
        BitmapEncoder.saveBitmap(charts, 1, 2, base, BitmapEncoder.BitmapFormat.PNG);
    }
}
