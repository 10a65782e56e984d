package dev.gatun.backend;

/** A native library that gatun needs could not be found or loaded; the message names the package. */
public final class NativeLibraryException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public NativeLibraryException(String message, Throwable cause) {
        super(message, cause);
    }
}
