package dev.gatun.data;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A data file that exists but cannot be used: a truncated or foreign IDX file, an unsupported
 * element type, images and labels that do not match, a label outside its classes. The message
 * starts with the file's path and says what was expected and what was found.
 *
 * <p>A file or directory that is missing is a {@link java.nio.file.NoSuchFileException} instead.
 */
public final class DataFileException extends IOException {

    private static final long serialVersionUID = 1L;

    /** The file at fault. */
    private final transient Path file;

    /** A problem with {@code file}, described by {@code problem}. */
    public DataFileException(Path file, String problem) {
        this(file, problem, null);
    }

    /** A problem with {@code file} caused by a lower-level failure (e.g. corrupt gzip data). */
    public DataFileException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
        this.file = file;
    }

    /** The file at fault. */
    public Path file() {
        return file;
    }
}
