package dev.gatun.cli;

import dev.gatun.backend.Blas;
import dev.gatun.backend.ChannelBlock;
import dev.gatun.backend.Convolution;
import dev.gatun.backend.MemoryPool;
import dev.gatun.backend.NativeLibraries;
import dev.gatun.backend.OneDnn;
import dev.gatun.backend.SharedMemory;
import dev.gatun.backend.Threads;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code gatun info}: what gatun runs on. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Print the Java runtime, the native libraries gatun loaded and the thread setting.")
final class InfoCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        NativeLibraries.Loaded libs = NativeLibraries.load();
        out.printf("java             %s (%s)%n", Runtime.version(), System.getProperty("java.vm.name"));
        out.printf("os               %s %s, %d available processors%n", System.getProperty("os.name"),
                System.getProperty("os.arch"), Runtime.getRuntime().availableProcessors());
        long physical = Memory.physical();
        out.printf("memory           %s, Java heap at most %s%n",
                physical == Long.MAX_VALUE ? "unknown" : Memory.format(physical),
                Memory.format(Runtime.getRuntime().maxMemory()));
        out.printf("openblas         %s%n", Blas.config());
        out.printf("openblas core    %s%n", Blas.coreName());
        out.printf("openblas build   %s (%s)%n", libs.openblasVariant(), libs.openblas());
        out.printf("openblas threads %d%n", Threads.openblasThreads());
        out.printf("onednn           %s (%s)%n", OneDnn.version(), libs.dnnl());
        out.printf("matrix products  %s%n", Blas.gemmLibrary());
        out.printf("gatun kernels    %s%s%n", libs.kernels(), libs.kernels().toString().startsWith("/memfd:")
                ? " (in memory, from the engine jar)" : "");
        out.printf("onednn cpu isa   %s%n", OneDnn.effectiveCpuIsa());
        out.printf("channel block    %s%n", ChannelBlock.describe());
        out.printf("3x3 conv, train  %s%n", Convolution.algorithm() == Convolution.Algorithm.WINOGRAD
                ? "winograd where oneDNN has it, else direct" : "direct");
        out.printf("openmp threads   %d (%s)%n", Threads.ompMaxThreads(), libs.gomp());
        out.printf("gatun.threads    %d%n", Threads.get());
        OneDnn.CacheStatus cache = OneDnn.primitiveCache();
        out.printf("primitive cache  %d primitives, about %s of %s (gatun.cache.bytes), %d evicted%n",
                cache.entries(), Memory.format(cache.bytes()), Memory.format(cache.budget()), cache.evictions());
        out.printf("memory pool      %s free of at most %s (gatun.pool.bytes)%n", Memory.format(MemoryPool.freeBytes()),
                Memory.format(MemoryPool.retainLimit()));
        out.printf("shared memory    %s open; a collection is requested per %s forgotten (gatun.gc.bytes)%n",
                Memory.format(SharedMemory.unfreedBytes()), Memory.format(SharedMemory.GC_BUDGET));
        out.flush();
        return 0;
    }
}
