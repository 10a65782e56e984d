package dev.gatun.serve;

import dev.gatun.nn.Module;
import java.io.IOException;
import java.nio.file.Path;

/** Reads a model file into a module; what {@code gatun serve} uses to load the models it serves. */
@FunctionalInterface
public interface ModelLoader {

    /** The module stored in {@code file}. */
    Module load(Path file) throws IOException;

    /** The loader used until model files are supported: it refuses every file, saying so. */
    static ModelLoader unsupported() {
        return file -> {
            throw new IllegalStateException("model files are not supported yet: cannot load " + file);
        };
    }
}
