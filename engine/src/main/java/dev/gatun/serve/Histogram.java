package dev.gatun.serve;

import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;

/** A Prometheus histogram: counts per upper bound (cumulative when written), the sum and the count. */
final class Histogram {

    private final double[] bounds;
    private final LongAdder[] counts;
    private final DoubleAdder sum = new DoubleAdder();
    private final LongAdder count = new LongAdder();

    Histogram(double[] bounds) {
        this.bounds = bounds.clone();
        this.counts = new LongAdder[bounds.length];
        for (int i = 0; i < bounds.length; i++) counts[i] = new LongAdder();
    }

    void observe(double v) {
        for (int i = 0; i < bounds.length; i++) {
            if (v <= bounds[i]) {
                counts[i].increment();
                break;
            }
        }
        sum.add(v);
        count.increment();
    }

    long count() {
        return count.sum();
    }

    /** Writes {@code name_bucket}, {@code name_sum} and {@code name_count} lines with the given labels. */
    void write(StringBuilder out, String name, String labels) {
        String sep = labels.isEmpty() ? "" : labels + ",";
        long cumulative = 0;
        for (int i = 0; i < bounds.length; i++) {
            cumulative += counts[i].sum();
            out.append(name).append("_bucket{").append(sep).append("le=\"").append(Metrics.number(bounds[i]))
                    .append("\"} ").append(cumulative).append('\n');
        }
        long total = count.sum();
        out.append(name).append("_bucket{").append(sep).append("le=\"+Inf\"} ").append(total).append('\n');
        String l = labels.isEmpty() ? "" : "{" + labels + "}";
        out.append(name).append("_sum").append(l).append(' ').append(Metrics.number(sum.sum())).append('\n');
        out.append(name).append("_count").append(l).append(' ').append(total).append('\n');
    }
}
