package dev.gatun.serve;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The model files to serve: one file, or a directory laid out as Triton's model repository,
 * {@code <repo>/<name>/<version>/model.safetensors}. {@link #watch} polls the files' modification times and
 * sizes and hands a changed file to a callback, which loads it beside the old one and swaps.
 */
public final class ModelRepository {

    /** The file name looked for in each version directory. */
    public static final String MODEL_FILE = "model.safetensors";

    /**
     * One model file, served as {@code version} of {@code name}.
     *
     * @param name    the model's name (its directory's name, or the name given for a single file)
     * @param version the version's name (its directory's name, or {@code "1"} for a single file)
     * @param file    the model file
     */
    public record Entry(String name, String version, Path file) {}

    private ModelRepository() {}

    /**
     * The models under {@code path}: a file is one model ({@code name}, version 1); a directory holds
     * {@code <name>/<version>/model.safetensors} entries (directories without that file are skipped).
     * Only looks at the names; the files are not opened.
     *
     * @param path a model file or a repository directory
     * @param name the model's name when {@code path} is a file; null for the file's name without its
     *             extension. Ignored for a directory
     * @return the entries, sorted by name then version (as text)
     * @throws java.nio.file.NoSuchFileException if {@code path} does not exist
     * @throws IOException if the path cannot be read or holds no model
     */
    public static List<Entry> scan(Path path, String name) throws IOException {
        if (!Files.exists(path)) throw new NoSuchFileException(path.toString());
        List<Entry> out = new ArrayList<>();
        if (!Files.isDirectory(path)) {
            String stem = path.getFileName().toString().replaceFirst("\\.[^.]*$", "");
            out.add(new Entry(name != null ? name : stem, "1", path));
            return out;
        }
        try (DirectoryStream<Path> models = Files.newDirectoryStream(path, Files::isDirectory)) {
            for (Path m : models) {
                try (DirectoryStream<Path> versions = Files.newDirectoryStream(m, Files::isDirectory)) {
                    for (Path v : versions) {
                        Path f = v.resolve(MODEL_FILE);
                        if (Files.isRegularFile(f)) {
                            out.add(new Entry(m.getFileName().toString(), v.getFileName().toString(), f));
                        }
                    }
                }
            }
        }
        if (out.isEmpty()) {
            throw new IOException(path + " holds no model: expected <name>/<version>/" + MODEL_FILE);
        }
        out.sort((a, b) -> a.name().equals(b.name()) ? a.version().compareTo(b.version())
                : a.name().compareTo(b.name()));
        return out;
    }

    /** A file's modification time and size, to tell a replaced file. */
    private record Stamp(long modified, long size) {
        static Stamp of(Path f) {
            try {
                BasicFileAttributes a = Files.readAttributes(f, BasicFileAttributes.class);
                return new Stamp(a.lastModifiedTime().toMillis(), a.size());
            } catch (IOException e) {
                return null; // being replaced, or gone: looked at again on the next poll
            }
        }
    }

    /**
     * Starts a daemon thread that looks at every entry's file each {@code pollMillis} and calls
     * {@code changed} with the entry when its modification time or size changed and has then stayed the
     * same for one more poll (so that a file being written is not read half-way). Interrupt the returned
     * thread to stop.
     *
     * @param entries    the files to watch (the list is copied)
     * @param pollMillis the time between two looks, in milliseconds, {@code >= 1}
     * @param changed    called on the watcher thread, one entry at a time; it must not throw (an exception
     *                   would end the watching)
     * @return the started watcher thread, a daemon
     * @throws IllegalArgumentException if {@code pollMillis < 1}
     */
    public static Thread watch(List<Entry> entries, long pollMillis, Consumer<Entry> changed) {
        if (pollMillis < 1) throw new IllegalArgumentException("poll interval must be >= 1 ms, got " + pollMillis);
        List<Entry> list = List.copyOf(entries);
        return Thread.ofPlatform().daemon().name("gatun-model-watch").start(() -> {
            Stamp[] served = new Stamp[list.size()];
            Stamp[] seen = new Stamp[list.size()];
            for (int i = 0; i < served.length; i++) served[i] = seen[i] = Stamp.of(list.get(i).file());
            while (!Thread.currentThread().isInterrupted()) {
                try {
                    Thread.sleep(pollMillis);
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < list.size(); i++) {
                    Stamp now = Stamp.of(list.get(i).file());
                    if (now != null && !now.equals(served[i]) && now.equals(seen[i])) {
                        served[i] = now;
                        changed.accept(list.get(i));
                    }
                    seen[i] = now;
                }
            }
        });
    }
}
