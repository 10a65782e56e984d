package dev.gatun.backend;

import dev.gatun.bindings.kernels.GatunKernels;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Loads the native libraries once, by absolute path, so the generated bindings (which resolve symbols
 * through the class loader's lookup) find them, and so a missing library is reported by the Debian
 * package that provides it instead of a linkage error from deep inside a binding class.
 *
 * <p>Load order matters: libgomp first (after {@code OMP_NUM_THREADS} is fixed from the thread
 * setting, because libgomp reads it once when it is loaded), then OpenBLAS, then oneDNN, then gatun's
 * own kernels ({@code libgatun_kernels.so}, built from {@code native/kernels} into the engine jar and
 * copied from there to a temporary file, since the loader needs a file).
 *
 * <p>Which OpenBLAS: Debian ships a pthread build ({@code libopenblas0-pthread}) and an OpenMP build
 * ({@code libopenblas0-openmp}). The OpenMP build shares libgomp's thread pool with oneDNN, so GEMM
 * and oneDNN primitives never have two spinning pools fighting over the cores; see README
 * "Threads" for the measurement behind the default. The system property {@code gatun.openblas}
 * chooses: {@code openmp}, {@code pthread}, {@code system} (whatever {@code libopenblas.so.0} the
 * Debian alternatives point at) or an absolute path.
 */
public final class NativeLibraries {

    /** A library gatun loads, with the Debian package that ships it. */
    public enum Library {
        GOMP("libgomp.so.1", "libgomp1"),
        OPENBLAS("libopenblas.so.0", "libopenblas-dev"),
        DNNL("libdnnl.so.2", "libdnnl-dev");

        private final String soname;
        private final String debianPackage;

        Library(String soname, String debianPackage) {
            this.soname = soname;
            this.debianPackage = debianPackage;
        }

        public String soname() {
            return soname;
        }

        public String debianPackage() {
            return debianPackage;
        }
    }

    /** Where each library was loaded from; filled once by {@link #load()}. */
    public record Loaded(Path gomp, Path openblas, Path dnnl, String openblasVariant, Path kernels) {}

    /** Where the engine jar (or class directory) holds gatun's kernels library. */
    static final String KERNELS_RESOURCE = "native/libgatun_kernels.so";

    private static volatile Loaded loaded;
    private static volatile RuntimeException failure;

    private NativeLibraries() {}

    /** Loads all libraries if not done yet and says where they came from. Thread-safe, idempotent. */
    public static Loaded load() {
        Loaded l = loaded;
        if (l != null) {
            return l;
        }
        synchronized (NativeLibraries.class) {
            if (loaded != null) {
                return loaded;
            }
            if (failure != null) {
                throw failure; // the same clear message every time, not a NoClassDefFoundError later
            }
            try {
                loaded = doLoad();
                return loaded;
            } catch (RuntimeException e) {
                failure = e;
                throw e;
            }
        }
    }

    private static Loaded doLoad() {
        Threads.exportOmpDefault();
        Path gomp = loadFirst(Library.GOMP, candidates(Library.GOMP.soname()));
        String variantSetting = System.getProperty("gatun.openblas", "openmp").trim();
        String variant;
        List<Path> openblasCandidates;
        switch (variantSetting.toLowerCase(Locale.ROOT)) {
            case "openmp", "pthread" -> {
                variant = variantSetting.toLowerCase(Locale.ROOT);
                openblasCandidates = new ArrayList<>();
                for (Path dir : libraryDirs()) {
                    openblasCandidates.add(dir.resolve("openblas-" + variant).resolve(Library.OPENBLAS.soname()));
                }
                // Fall back to the alternatives' choice if the requested variant is not installed.
                openblasCandidates.addAll(candidates(Library.OPENBLAS.soname()));
            }
            case "system" -> {
                variant = "system";
                openblasCandidates = candidates(Library.OPENBLAS.soname());
            }
            default -> {
                Path p = Path.of(variantSetting);
                if (!p.isAbsolute()) {
                    throw new IllegalArgumentException("gatun.openblas must be openmp, pthread, system or an"
                            + " absolute path to libopenblas.so.0, got '" + variantSetting + "'");
                }
                variant = "path";
                openblasCandidates = List.of(p);
            }
        }
        Path openblas = loadFirst(Library.OPENBLAS, openblasCandidates);
        if (!variant.equals("path")) {
            variant = describeVariant(openblas);
        }
        Path dnnl = loadFirst(Library.DNNL, candidates(Library.DNNL.soname()));
        Path kernels = loadKernels();
        Threads.applyToOpenBlas();
        return new Loaded(gomp, openblas, dnnl, variant, kernels);
    }

    private static Path loadKernels() {
        Path file;
        try (InputStream in = NativeLibraries.class.getResourceAsStream(KERNELS_RESOURCE)) {
            if (in == null) {
                throw new NativeLibraryException("libgatun_kernels.so is missing from the engine's resources ("
                        + KERNELS_RESOURCE + " next to " + NativeLibraries.class.getName()
                        + "); the Maven build compiles it with scripts/build-kernels, which needs gcc", null);
            }
            file = Files.createTempFile("libgatun_kernels", ".so");
            file.toFile().deleteOnExit();
            Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new NativeLibraryException(
                    "could not copy libgatun_kernels.so to a temporary file: " + e.getMessage(), e);
        }
        try {
            System.load(file.toAbsolutePath().toString());
        } catch (UnsatisfiedLinkError e) {
            throw new NativeLibraryException("libgatun_kernels.so did not load: " + e.getMessage(), e);
        }
        int version = GatunKernels.gatun_kernels_version();
        if (version != GatunKernels.GATUN_KERNELS_VERSION()) {
            throw new NativeLibraryException("libgatun_kernels.so is version " + version + ", the bindings expect "
                    + GatunKernels.GATUN_KERNELS_VERSION() + "; rebuild the engine", null);
        }
        return file;
    }

    private static String describeVariant(Path openblas) {
        Path real;
        try {
            real = openblas.toRealPath();
        } catch (java.io.IOException e) {
            real = openblas;
        }
        String s = real.toString();
        if (s.contains("openblas-openmp")) return "openmp";
        if (s.contains("openblas-pthread")) return "pthread";
        if (s.contains("openblas-serial")) return "serial";
        return "unknown";
    }

    private static Path loadFirst(Library lib, List<Path> candidates) {
        List<String> tried = new ArrayList<>();
        for (Path p : candidates) {
            if (!Files.isRegularFile(p)) {
                tried.add(p + " (absent)");
                continue;
            }
            try {
                System.load(p.toAbsolutePath().toString());
                return p;
            } catch (UnsatisfiedLinkError e) {
                tried.add(p + " (" + e.getMessage() + ")");
            }
        }
        throw new NativeLibraryException(lib.soname() + " was not found. Install it with: sudo apt-get install "
                + lib.debianPackage() + "   (tried: " + String.join(", ", tried) + ")", null);
    }

    /** Directories searched, in order: {@code gatun.library.path}, {@code LD_LIBRARY_PATH}, the system ones. */
    static List<Path> libraryDirs() {
        List<Path> dirs = new ArrayList<>();
        for (String source : new String[] {System.getProperty("gatun.library.path"), System.getenv("LD_LIBRARY_PATH")}) {
            if (source != null) {
                for (String d : source.split(":")) {
                    if (!d.isBlank()) dirs.add(Path.of(d));
                }
            }
        }
        String multiarch = switch (System.getProperty("os.arch")) {
            case "amd64", "x86_64" -> "x86_64-linux-gnu";
            case "aarch64" -> "aarch64-linux-gnu";
            default -> null;
        };
        if (multiarch != null) {
            dirs.add(Path.of("/usr/lib", multiarch));
            dirs.add(Path.of("/lib", multiarch));
        }
        dirs.add(Path.of("/usr/lib64"));
        dirs.add(Path.of("/usr/lib"));
        return dirs;
    }

    private static List<Path> candidates(String soname) {
        List<Path> out = new ArrayList<>();
        for (Path dir : libraryDirs()) {
            out.add(dir.resolve(soname));
        }
        return out;
    }

    /**
     * Sets an environment variable of this process through libc (before a library that reads it at load
     * time is loaded). Java has no API for this; {@code setenv} is in the default lookup.
     */
    static void setenv(String name, String value) {
        Linker linker = Linker.nativeLinker();
        MemorySegment fn = linker.defaultLookup().find("setenv")
                .orElseThrow(() -> new IllegalStateException("libc has no setenv"));
        MethodHandle setenv = linker.downcallHandle(fn, FunctionDescriptor.of(ValueLayout.JAVA_INT,
                ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            int rc = (int) setenv.invokeExact(arena.allocateFrom(name), arena.allocateFrom(value), 1);
            if (rc != 0) {
                throw new IllegalStateException("setenv(" + name + ") failed with " + rc);
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("setenv(" + name + ") failed", t);
        }
    }
}
