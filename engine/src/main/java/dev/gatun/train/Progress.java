package dev.gatun.train;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A one-line console progress bar, redrawn in place with a carriage return at most ten times a second:
 * {@code epoch 2/10 [=========>          ] 512/937 loss 0.3121 acc 91.20% 48,210 samples/s ETA 0:04}.
 * When the output is not a terminal (a log file, CI) it draws nothing; the epoch summary line
 * that follows carries the figures.
 */
final class Progress {

    private static final int WIDTH = 24;

    private final PrintStream out;
    private final String label;
    private final int total;
    private final boolean enabled;
    private long lastDraw;

    Progress(PrintStream out, String label, int total) {
        this.out = out;
        this.label = label;
        this.total = total;
        this.enabled = out == System.out && System.console() != null && System.console().isTerminal();
    }

    void update(int done, double loss, double accuracy, long samples, double seconds) {
        if (!enabled) {
            return;
        }
        long now = System.nanoTime();
        if (done < total && now - lastDraw < 100_000_000L) {
            return;
        }
        lastDraw = now;
        int filled = total == 0 ? WIDTH : (int) ((long) WIDTH * done / total);
        String bar = "=".repeat(Math.max(0, filled - 1)) + (filled > 0 ? ">" : "") + " ".repeat(WIDTH - filled);
        double rate = samples / Math.max(seconds, 1e-9);
        long eta = done == 0 ? 0 : Math.round(seconds / done * (total - done));
        out.printf(Locale.ROOT, "\r%s [%s] %d/%d loss %.4f acc %.2f%% %,.0f samples/s ETA %d:%02d ", label, bar, done,
                total, loss, 100 * accuracy, rate, eta / 60, eta % 60);
        out.flush();
    }

    void finish() {
        if (enabled) {
            out.print("\r" + " ".repeat(label.length() + WIDTH + 80) + "\r");
            out.flush();
        }
    }
}
