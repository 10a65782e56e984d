package dev.gatun.io;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A model or tensor file that breaks the safetensors format or does not fit the model it is loaded into.
 * The message names the file and what was wrong.
 */
public class ModelFileException extends IOException {

    private final transient Path file;

    /** A problem in {@code file} (may be null when no file is involved, e.g. loading a state dict). */
    public ModelFileException(Path file, String message) {
        super(file == null ? message : file + ": " + message);
        this.file = file;
    }

    /** A problem in {@code file} caused by {@code cause}. */
    public ModelFileException(Path file, String message, Throwable cause) {
        super(file == null ? message : file + ": " + message, cause);
        this.file = file;
    }

    /** The file at fault, or null. */
    public Path file() {
        return file;
    }
}
