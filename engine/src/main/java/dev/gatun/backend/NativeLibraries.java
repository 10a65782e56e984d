package dev.gatun.backend;

import dev.gatun.bindings.kernels.GatunKernels;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

/**
 * Loads the native libraries once, by absolute path, so the generated bindings (which resolve symbols
 * through the class loader's lookup) find them, and so a missing library is reported by the Debian
 * package that provides it instead of a linkage error from deep inside a binding class.
 *
 * <p>Load order matters: libgomp first (after {@code OMP_NUM_THREADS} is fixed from the thread
 * setting, because libgomp reads it once when it is loaded), then OpenBLAS, then oneDNN, then gatun's
 * own kernels ({@code libgatun_kernels.so}, built from {@code native/kernels} into the engine jar).
 *
 * <p>The loader needs a file for the kernels. A temporary file deleted on exit stays behind whenever
 * the JVM is killed or crashes, so the kernels go into an anonymous in-memory file instead
 * ({@code memfd_create}, Linux 3.17 and glibc 2.27 on); where that is refused, into one
 * content-addressed file per build in the user's cache directory, reused by every later run. Either
 * way no file is left per process.
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
        DNNL("libdnnl.so.2", "libdnnl-dev"),
        /** Open MPI 4.x, optional: loaded only for distributed training, by {@link NativeLibraries#loadMpi()}. */
        MPI("libmpi.so.40", "libopenmpi-dev");

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

    /**
     * Where each library was loaded from; filled once by {@link #load()}. {@code kernels} is
     * {@code /memfd:libgatun_kernels} (the name {@code /proc/PID/maps} shows) when gatun's kernels were
     * loaded from memory, else the cache file.
     */
    public record Loaded(Path gomp, Path openblas, Path dnnl, String openblasVariant, Path kernels) {}

    /** Where the engine jar (or class directory) holds gatun's kernels library. */
    static final String KERNELS_RESOURCE = "native/libgatun_kernels.so";

    /** What {@link Loaded#kernels()} says for kernels loaded from memory: the name /proc/PID/maps shows. */
    static final Path IN_MEMORY = Path.of("/memfd:libgatun_kernels");

    /** {@code memfd_create} flag: the descriptor is not inherited by programs this process starts. */
    private static final int MFD_CLOEXEC = 1;
    private static final int EINTR = 4;

    private static volatile Loaded loaded;
    private static volatile RuntimeException failure;
    private static volatile Path mpi;
    private static volatile RuntimeException mpiFailure;

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

    /**
     * Loads Open MPI's {@code libmpi.so.40} (after the other libraries) if not done yet, for the bindings
     * of {@code dev.gatun.bindings.mpi}. MPI is optional: nothing else in the engine loads it, so the engine
     * works where Open MPI is not installed. Thread-safe, idempotent; a failure is remembered and thrown
     * again with the same message.
     *
     * @return where the library was loaded from
     * @throws NativeLibraryException if the library is not installed (naming the Debian package) or cannot
     *     be loaded
     */
    public static Path loadMpi() {
        Path p = mpi;
        if (p != null) {
            return p;
        }
        load();
        synchronized (NativeLibraries.class) {
            if (mpi != null) {
                return mpi;
            }
            if (mpiFailure != null) {
                throw mpiFailure;
            }
            try {
                mpi = loadFirst(Library.MPI, candidates(Library.MPI.soname()));
                return mpi;
            } catch (RuntimeException e) {
                mpiFailure = e;
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

    /**
     * Loads {@code libgatun_kernels.so} from the engine's resources without leaving a file behind:
     * first as an in-memory file ({@link #loadFromMemoryFile}), else from the per-user cache
     * ({@link #cachedCopy}); returns what {@link Loaded#kernels()} reports.
     */
    private static Path loadKernels() {
        byte[] bytes = kernelsBytes();
        Path from;
        try {
            from = loadFromMemoryFile(bytes);
        } catch (Unavailable inMemory) {
            Path dir = cacheDirectory();
            try {
                from = cachedCopy(bytes, dir);
                loadFile(from);
            } catch (Unavailable | IOException cached) {
                throw new NativeLibraryException("libgatun_kernels.so could not be loaded, neither as an in-memory"
                        + " file (" + inMemory.getMessage() + ") nor from the cache directory " + dir + " ("
                        + (cached instanceof IOException ? cached.getClass().getSimpleName() + ": " : "")
                        + cached.getMessage() + ")", cached);
            }
        }
        int version = GatunKernels.gatun_kernels_version();
        if (version != GatunKernels.GATUN_KERNELS_VERSION()) {
            throw new NativeLibraryException("libgatun_kernels.so is version " + version + ", the bindings expect "
                    + GatunKernels.GATUN_KERNELS_VERSION() + "; rebuild the engine", null);
        }
        return from;
    }

    /** A way of loading the kernels that did not work here; the message says why. */
    static final class Unavailable extends Exception {
        private static final long serialVersionUID = 1L;

        Unavailable(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private static byte[] kernelsBytes() {
        try (InputStream in = NativeLibraries.class.getResourceAsStream(KERNELS_RESOURCE)) {
            if (in == null) {
                throw new NativeLibraryException("libgatun_kernels.so is missing from the engine's resources ("
                        + KERNELS_RESOURCE + " next to " + NativeLibraries.class.getName()
                        + "); the Maven build compiles it with scripts/build-kernels, which needs gcc", null);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new NativeLibraryException("could not read libgatun_kernels.so from the engine's resources ("
                    + KERNELS_RESOURCE + "): " + e.getMessage(), e);
        }
    }

    /**
     * Loads {@code bytes} through an anonymous in-memory file: {@code memfd_create(2)}, the bytes written
     * into it, then {@code dlopen} of {@code /proc/self/fd/N} (through {@link System#load}, so that the
     * bindings' {@link SymbolLookup#loaderLookup()} finds the symbols), then the descriptor closed. The
     * loaded library keeps the memory mapped; nothing ever exists on a file system, so a JVM that is
     * killed or crashes leaves nothing behind, unlike a temporary file deleted on exit.
     *
     * @throws Unavailable if the C library has no {@code memfd_create}, the kernel refuses it (old kernel,
     *     seccomp sandbox) or {@code /proc} is not mounted; the caller then uses the cache file
     */
    private static Path loadFromMemoryFile(byte[] bytes) throws Unavailable {
        Linker linker = Linker.nativeLinker();
        SymbolLookup libc = linker.defaultLookup();
        Linker.Option errno = Linker.Option.captureCallState("errno");
        StructLayout stateLayout = Linker.Option.captureStateLayout();
        VarHandle errnoHandle = stateLayout.varHandle(MemoryLayout.PathElement.groupElement("errno"));
        MemorySegment memfdCreate = libc.find("memfd_create")
                .orElseThrow(() -> new Unavailable("the C library has no memfd_create", null));
        MethodHandle create = linker.downcallHandle(memfdCreate,
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT), errno);
        MethodHandle write = linker.downcallHandle(libc.findOrThrow("write"), FunctionDescriptor.of(
                ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG), errno);
        MethodHandle close = linker.downcallHandle(libc.findOrThrow("close"),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(stateLayout);
            int fd = (int) create.invokeExact(state, arena.allocateFrom("libgatun_kernels"), MFD_CLOEXEC);
            if (fd < 0) {
                throw new Unavailable("memfd_create failed: " + strerror((int) errnoHandle.get(state, 0L)), null);
            }
            try {
                MemorySegment data = arena.allocateFrom(ValueLayout.JAVA_BYTE, bytes);
                long done = 0;
                while (done < bytes.length) {
                    long n = (long) write.invokeExact(state, fd, data.asSlice(done), bytes.length - done);
                    if (n < 0) {
                        int e = (int) errnoHandle.get(state, 0L);
                        if (e == EINTR) continue;
                        throw new Unavailable("writing the in-memory file failed: " + strerror(e), null);
                    }
                    done += n;
                }
                loadFile(Path.of("/proc/self/fd/" + fd));
            } finally {
                int ignored = (int) close.invokeExact(fd); // the mapping made by dlopen outlives the descriptor
            }
        } catch (Unavailable | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new Unavailable("a call into the C library failed: " + t, t);
        }
        return IN_MEMORY;
    }

    /** {@link System#load} of {@code file}, checked to have made the kernels visible to the bindings. */
    private static void loadFile(Path file) throws Unavailable {
        try {
            System.load(file.toAbsolutePath().toString());
        } catch (UnsatisfiedLinkError e) {
            throw new Unavailable("loading " + file + " failed: " + e.getMessage(), e);
        }
        // The JDK skips a path it loaded before; a reused descriptor number must not pass for our library.
        if (SymbolLookup.loaderLookup().find("gatun_kernels_version").isEmpty()) {
            throw new Unavailable(file + " loaded but gatun_kernels_version is not among its symbols", null);
        }
    }

    private static String strerror(int errno) {
        String name = switch (errno) {
            case 1 -> "EPERM";
            case 12 -> "ENOMEM";
            case 22 -> "EINVAL";
            case 24 -> "EMFILE";
            case 28 -> "ENOSPC";
            case 38 -> "ENOSYS";
            default -> "errno";
        };
        return name + " (" + errno + ")";
    }

    /**
     * Where the kernels are cached when they cannot be loaded from memory: {@code $XDG_CACHE_HOME/gatun}
     * (when set to an absolute path, as the XDG specification asks) or {@code ~/.cache/gatun}.
     */
    static Path cacheDirectory() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() && Path.of(xdg).isAbsolute() ? Path.of(xdg)
                : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("gatun");
    }

    /**
     * A file in {@code dir} holding {@code bytes}, named by their SHA-256 ({@code libgatun_kernels-HASH.so}),
     * so that every run of the same build shares one file and nothing accumulates per process. An existing
     * file is used only if its contents still hash to its name; otherwise (absent, truncated, changed) the
     * bytes are written to a temporary name in {@code dir} and renamed over it atomically, so that a
     * concurrent run or a crash never sees a partly written library. The directory is created if needed.
     */
    static Path cachedCopy(byte[] bytes, Path dir) throws IOException {
        String hash = sha256(bytes);
        Path file = dir.resolve("libgatun_kernels-" + hash + ".so");
        if (Files.isRegularFile(file)) {
            try {
                if (sha256(Files.readAllBytes(file)).equals(hash)) {
                    return file;
                }
            } catch (IOException unreadable) {
                // replaced below
            }
        }
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, ".libgatun_kernels-", ".tmp");
        try {
            Files.write(tmp, bytes);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return file;
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
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
        try (Arena arena = Arena.ofConfined()) {
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
