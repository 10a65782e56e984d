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

    /**
     * The file at fault. Transient because {@link Path} is not serializable; the path is also in the
     * message, so a deserialized exception still names it, and {@link #file()} then returns null.
     */
    private final transient Path file;

    /**
     * An unusable data file.
     *
     * @param file    the file at fault
     * @param problem what is wrong with it, with the expected and the found values; the message is
     *                {@code file + ": " + problem}
     */
    public DataFileException(Path file, String problem) {
        this(file, problem, null);
    }

    /**
     * An unusable data file, found through a lower-level failure (e.g. corrupt gzip data).
     *
     * @param file    the file at fault
     * @param problem what is wrong with it; the message is {@code file + ": " + problem}
     * @param cause   the failure that revealed the problem, or null
     */
    public DataFileException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
        this.file = file;
    }

    /**
     * The file at fault.
     *
     * @return the path given to the constructor; null after the exception was serialized and read back
     */
    public Path file() {
        return file;
    }
}
