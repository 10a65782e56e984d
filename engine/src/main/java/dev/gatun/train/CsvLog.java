package dev.gatun.train;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * One CSV line per epoch, flushed as it is written so that a crash keeps what was done. The lines go to
 * {@code <file>.partial} beside the file, which {@link #commit} moves over the file when the run has
 * finished: a run that fails leaves a log written earlier under that name as it was, and its own
 * lines in the partial file.
 */
final class CsvLog implements AutoCloseable {

    static final String HEADER = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,learning_rate,seconds,samples_per_second";

    private final Path path;
    private final Path partial;
    private final BufferedWriter writer;

    CsvLog(Path path) throws IOException {
        this.path = path;
        this.partial = path.resolveSibling(path.getFileName() + ".partial");
        Path parent = path.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        writer = Files.newBufferedWriter(partial, StandardCharsets.UTF_8);
        writer.write(HEADER);
        writer.newLine();
        writer.flush();
    }

    /** Closes the log and moves it over the file it names: the run finished. */
    void commit() throws IOException {
        writer.close();
        try {
            Files.move(partial, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (java.nio.file.AtomicMoveNotSupportedException e) {
            Files.move(partial, path, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    void append(Trainer.EpochResult r) {
        try {
            writer.write(String.format(Locale.ROOT, "%d,%.6f,%.6f,%s,%s,%.6g,%.3f,%.1f", r.epoch(), r.trainLoss(),
                    r.trainAccuracy(), number(r.validationLoss()), number(r.validationAccuracy()), r.learningRate(),
                    r.seconds(), r.samplesPerSecond()));
            writer.newLine();
            writer.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String number(double v) {
        return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.6f", v);
    }

    @Override
    public void close() throws IOException {
        writer.close();
    }
}
