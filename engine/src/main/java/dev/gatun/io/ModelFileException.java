package dev.gatun.io;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A model or tensor file that breaks the safetensors format or does not fit the model it is loaded into.
 * The message names the file and what was wrong.
 */
public class ModelFileException extends IOException {

    /**
     * The file at fault, or null. Transient because {@link Path} is not serializable; the message names
     * the file too, so a deserialized exception still says which it was, and {@link #file()} then
     * returns null.
     */
    private final transient Path file;

    /**
     * A problem in a file.
     *
     * @param file    the file at fault; null when no file is involved (e.g. loading a state dict)
     * @param message what was wrong; the exception's message is {@code file + ": " + message}, or just
     *                {@code message} when {@code file} is null
     */
    public ModelFileException(Path file, String message) {
        super(file == null ? message : file + ": " + message);
        this.file = file;
    }

    /**
     * A problem in a file, found through a lower-level failure.
     *
     * @param file    the file at fault, or null
     * @param message what was wrong, prefixed with the file as in {@link #ModelFileException(Path, String)}
     * @param cause   the failure that revealed the problem, or null
     */
    public ModelFileException(Path file, String message, Throwable cause) {
        super(file == null ? message : file + ": " + message, cause);
        this.file = file;
    }

    /**
     * The file at fault.
     *
     * @return the path given to the constructor; null if none was given or the exception was serialized
     *         and read back
     */
    public Path file() {
        return file;
    }
}
