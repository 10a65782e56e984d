package dev.gatun.serve;

import dev.gatun.io.ModelFile;
import dev.gatun.nn.Module;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Reads a model file into a module; what {@code gatun serve} uses to load the models it serves
 * ({@link ModelFile#load}, or another source of modules in tests and embedders).
 */
@FunctionalInterface
public interface ModelLoader {

    /**
     * Reads the module stored in a file. May be called from a watcher thread while other models are
     * served.
     *
     * @param file the model file
     * @return a new module, owned by the caller (a session that serves it closes it)
     * @throws IOException if the file cannot be read or does not hold a usable model
     */
    Module load(Path file) throws IOException;

    /**
     * The loader of gatun's model files, which hold an architecture and weights.
     *
     * @return a loader that calls {@link ModelFile#load(Path)}
     */
    static ModelLoader modelFiles() {
        return ModelFile::load;
    }
}
