package dev.gatun.bench.workloads;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;

/**
 * Draws bench/results/compare.csv as a bar chart of gatun/PyTorch time ratios (round 1), one bar per
 * thread count for each implemented workload; below 1 means gatun is faster.
 *
 * <pre>java -cp benchmarks.jar dev.gatun.bench.workloads.RatioChart compare.csv compare.png</pre>
 */
public final class RatioChart {

    private RatioChart() {}

    public static void main(String[] args) throws IOException {
        List<String> lines = Files.readAllLines(Path.of(args[0]));
        Map<String, Map<String, Double>> byThreads = new LinkedHashMap<>();
        List<String> workloads = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",", -1);
            if (f[1].isEmpty() || !f[2].equals("1")) continue;
            if (!workloads.contains(f[0])) workloads.add(f[0]);
            byThreads.computeIfAbsent(f[1] + (f[1].equals("1") ? " thread" : " threads"), k -> new LinkedHashMap<>())
                    .put(f[0], Double.parseDouble(f[9]));
        }
        CategoryChart chart = new CategoryChartBuilder().width(900).height(480)
                .title("gatun / PyTorch time per step (below 1: gatun faster)").xAxisTitle("workload")
                .yAxisTitle("ratio").build();
        chart.getStyler().setXAxisLabelRotation(20);
        for (var e : byThreads.entrySet()) {
            List<Double> values = new ArrayList<>();
            for (String w : workloads) values.add(e.getValue().getOrDefault(w, 0.0));
            chart.addSeries(e.getKey(), workloads, values);
        }
        String out = args[1].endsWith(".png") ? args[1].substring(0, args[1].length() - 4) : args[1];
        BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG);
    }
}
