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

    /** The module stored in {@code file}. */
    Module load(Path file) throws IOException;

    /** gatun's model files: the architecture and weights of a {@link ModelFile}. */
    static ModelLoader modelFiles() {
        return ModelFile::load;
    }
}
