package dev.gatun.train;

import dev.gatun.tensor.Tensor;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Counts of a classifier's predictions by true class (rows) and predicted class (columns), with the
 * accuracy, each class's recall and precision, and a printed table.
 */
public final class ConfusionMatrix {

    private final List<String> names;
    private final long[][] counts;

    /**
     * An empty matrix.
     *
     * @param names the name of each class, in class order (at least one, none blank)
     * @throws IllegalArgumentException if there is no class or a name is blank
     */
    public ConfusionMatrix(List<String> names) {
        Objects.requireNonNull(names, "names");
        if (names.isEmpty()) {
            throw new IllegalArgumentException("a confusion matrix needs at least one class");
        }
        for (int i = 0; i < names.size(); i++) {
            if (names.get(i) == null || names.get(i).isBlank()) {
                throw new IllegalArgumentException("class " + i + " has no name");
            }
        }
        this.names = List.copyOf(names);
        this.counts = new long[names.size()][names.size()];
    }

    /**
     * The number of classes.
     *
     * @return C
     */
    public int numClasses() {
        return names.size();
    }

    /**
     * Counts one prediction.
     *
     * @param actual    the true class
     * @param predicted the predicted class
     * @throws IllegalArgumentException if a class is outside [0, C)
     */
    public void add(int actual, int predicted) {
        check("actual", actual);
        check("predicted", predicted);
        counts[actual][predicted]++;
    }

    /**
     * Counts one prediction given as scores: the class of the largest (the first on a tie).
     *
     * @param actual the true class
     * @param scores one score per class (logits, log-probabilities, ...)
     * @throws IllegalArgumentException if there are not C scores or the class is outside [0, C)
     */
    public void add(int actual, float[] scores) {
        if (scores.length != names.size()) {
            throw new IllegalArgumentException("a confusion matrix of " + names.size() + " classes needs "
                    + names.size() + " scores, got " + scores.length);
        }
        add(actual, argmax(scores, 0, scores.length));
    }

    /**
     * Counts the predictions of a batch: each row's largest logit (the first on a tie) against its label.
     *
     * @param logits the logits {@code [N, C]}
     * @param labels the true class of each row
     * @throws IllegalArgumentException if the shapes do not fit or a label is outside [0, C)
     */
    public void add(Tensor logits, int[] labels) {
        if (logits.dim() != 2 || logits.size(0) != labels.length || logits.size(1) != names.size()) {
            throw new IllegalArgumentException("a confusion matrix of " + names.size() + " classes needs logits ["
                    + labels.length + ", " + names.size() + "], got " + java.util.Arrays.toString(logits.shape()));
        }
        float[] z = logits.toArray();
        int c = names.size();
        for (int r = 0; r < labels.length; r++) {
            add(labels[r], argmax(z, r * c, c));
        }
    }

    /**
     * The index of the largest of {@code n} values from {@code from} (the first on a tie; NaN never wins).
     *
     * @param z    the values
     * @param from the first index
     * @param n    how many
     * @return the index, relative to {@code from}
     */
    static int argmax(float[] z, int from, int n) {
        int best = 0;
        float bestValue = Float.NEGATIVE_INFINITY;
        for (int k = 0; k < n; k++) {
            if (z[from + k] > bestValue) {
                bestValue = z[from + k];
                best = k;
            }
        }
        return best;
    }

    private void check(String what, int c) {
        if (c < 0 || c >= names.size()) {
            throw new IllegalArgumentException(what + " class " + c + " is outside [0, " + names.size() + ")");
        }
    }

    /**
     * The count of one cell.
     *
     * @param actual    the true class
     * @param predicted the predicted class
     * @return how many samples of {@code actual} were predicted as {@code predicted}
     * @throws IllegalArgumentException if a class is outside [0, C)
     */
    public long count(int actual, int predicted) {
        check("actual", actual);
        check("predicted", predicted);
        return counts[actual][predicted];
    }

    /**
     * The number of predictions counted.
     *
     * @return the sum of all cells
     */
    public long total() {
        long t = 0;
        for (long[] row : counts) for (long v : row) t += v;
        return t;
    }

    /**
     * The share of predictions on the diagonal.
     *
     * @return the accuracy, NaN when nothing was counted
     */
    public double accuracy() {
        long right = 0;
        for (int i = 0; i < counts.length; i++) right += counts[i][i];
        long t = total();
        return t == 0 ? Double.NaN : (double) right / t;
    }

    /**
     * The share of one class's samples predicted as that class.
     *
     * @param c the class
     * @return the recall, NaN when the class has no samples
     * @throws IllegalArgumentException if c is outside [0, C)
     */
    public double recall(int c) {
        check("actual", c);
        long row = 0;
        for (long v : counts[c]) row += v;
        return row == 0 ? Double.NaN : (double) counts[c][c] / row;
    }

    /**
     * The table: a row per true class, a column per predicted class (labelled with the name up to its first
     * space), each row's count and recall.
     *
     * @return the lines, each ending with a newline
     */
    public String format() {
        int w = 5;
        for (long[] row : counts) for (long v : row) w = Math.max(w, Long.toString(v).length() + 1);
        int nameWidth = names.stream().mapToInt(String::length).max().orElse(1);
        StringBuilder sb = new StringBuilder();
        sb.append(" ".repeat(nameWidth)).append(" |");
        for (String n : names) {
            sb.append(String.format(Locale.ROOT, "%" + w + "s", abbreviate(columnLabel(n), w - 1)));
        }
        sb.append(" |  total  recall\n");
        sb.append("-".repeat(nameWidth + 2 + w * names.size() + 17)).append('\n');
        for (int i = 0; i < counts.length; i++) {
            sb.append(String.format(Locale.ROOT, "%-" + nameWidth + "s |", names.get(i)));
            long row = 0;
            for (long v : counts[i]) {
                sb.append(String.format(Locale.ROOT, "%" + w + "d", v));
                row += v;
            }
            double r = recall(i);
            sb.append(String.format(Locale.ROOT, " | %6d  %s%n", row, Double.isNaN(r) ? "     -"
                    : String.format(Locale.ROOT, "%5.1f%%", 100 * r)));
        }
        return sb.toString();
    }

    /** A column's label: the name up to its first space ("a" of "a press: reportage"), or the whole name. */
    private static String columnLabel(String name) {
        int space = name.indexOf(' ');
        return space > 0 ? name.substring(0, space) : name;
    }

    private static String abbreviate(String s, int n) {
        return s.length() <= n ? s : s.substring(0, n);
    }
}
