package dev.gatun.serve;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The model files to serve: one file, or a directory laid out as Triton's model repository,
 * {@code <repo>/<name>/<version>/model.safetensors}. {@link #watch} polls the repository and reports new,
 * replaced and removed model files to a listener, which loads a new file beside the old one and swaps.
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

    /** What a {@link #watch watcher} reports. Both are called on the watcher thread and must not throw. */
    public interface Listener {
        /**
         * A model file appeared, or was replaced, and has stayed the same size and age for one poll (so a
         * file being written is not read half-way).
         *
         * @param entry the new or replaced entry
         */
        void changed(Entry entry);

        /**
         * A version directory of a repository (not a single served file) lost its model file, and it has
         * stayed away for two polls (so an atomic replace, a rename over the old file, is not a removal).
         *
         * @param entry the entry that is gone
         */
        void removed(Entry entry);
    }

    /** One entry's state in the watcher: the stamp last reported, the stamp seen last poll, polls missing. */
    private static final class Watched {
        final Entry entry;
        Stamp served;
        Stamp seen;
        int missing;

        Watched(Entry entry, Stamp stamp) {
            this.entry = entry;
            this.served = stamp;
            this.seen = stamp;
        }
    }

    /**
     * Starts a daemon thread that polls {@code path} every {@code pollMillis}, as Triton's polling mode
     * does: a replaced file is reported through {@link Listener#changed}; for a repository directory, a new
     * {@code <name>/<version>/model.safetensors} is reported through {@link Listener#changed} too and one
     * that disappears through {@link Listener#removed}. The files {@code initial} names (what the caller
     * loaded at start) count as reported. Interrupt the returned thread to stop.
     *
     * @param path       a model file or a repository directory, as given to {@link #scan}
     * @param name       the model's name when {@code path} is a file, as for {@link #scan}
     * @param initial    the entries already loaded
     * @param pollMillis the time between two looks, in milliseconds, {@code >= 1}
     * @param listener   told of each change, on the watcher thread, one at a time
     * @return the started watcher thread, a daemon
     * @throws IllegalArgumentException if {@code pollMillis < 1}
     */
    public static Thread watch(Path path, String name, List<Entry> initial, long pollMillis, Listener listener) {
        if (pollMillis < 1) throw new IllegalArgumentException("poll interval must be >= 1 ms, got " + pollMillis);
        boolean repository = Files.isDirectory(path);
        Map<String, Watched> state = new LinkedHashMap<>();
        for (Entry e : initial) state.put(key(e), new Watched(e, Stamp.of(e.file())));
        return Thread.ofPlatform().daemon().name("gatun-model-watch").start(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                try {
                    Thread.sleep(pollMillis);
                } catch (InterruptedException e) {
                    return;
                }
                Map<String, Entry> present = new LinkedHashMap<>();
                if (repository) {
                    try {
                        for (Entry e : scan(path, name)) present.put(key(e), e);
                    } catch (IOException e) {
                        // an empty or unreadable repository: every entry counts as missing this poll
                    }
                } else {
                    for (Watched w : state.values()) present.put(key(w.entry), w.entry);
                }
                for (Entry e : present.values()) state.computeIfAbsent(key(e), k -> new Watched(e, null));
                for (var it = state.values().iterator(); it.hasNext(); ) {
                    Watched w = it.next();
                    Stamp now = present.containsKey(key(w.entry)) ? Stamp.of(w.entry.file()) : null;
                    if (now != null) {
                        w.missing = 0;
                        if (!now.equals(w.served) && now.equals(w.seen)) {
                            w.served = now;
                            listener.changed(w.entry);
                        }
                    } else if (repository && ++w.missing >= 2) {
                        it.remove();
                        if (w.served != null) listener.removed(w.entry);
                        continue;
                    }
                    w.seen = now;
                }
            }
        });
    }

    private static String key(Entry e) {
        return e.name() + "/" + e.version();
    }
}
