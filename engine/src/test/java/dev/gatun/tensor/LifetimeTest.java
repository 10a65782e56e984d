package dev.gatun.tensor;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.backend.SharedMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** How tensors and scopes end: closes racing native calls, forgotten tensors, and the messages. */
class LifetimeTest {

    private static final Linker LINKER = Linker.nativeLinker();

    private static MethodHandle libc(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), fd);
    }

    /**
     * A detached scope closed while a downcall on another thread reads into a tensor of it (a blocking
     * read from a pipe, standing for a long BLAS call): the close returns at once, the tensor is
     * unusable from then on, the call completes on memory that is still there, and the memory is freed
     * after it returns.
     */
    @Test
    void closeDuringADowncallIsDeferredAndFreesAfterwards() throws Throwable {
        MethodHandle pipe = libc("pipe", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        MethodHandle read = libc("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
        MethodHandle write = libc("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
        MethodHandle close = libc("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment fds = a.allocate(JAVA_INT, 2);
            assertEquals(0, (int) pipe.invokeExact(fds));
            int rd = fds.getAtIndex(JAVA_INT, 0);
            int wr = fds.getAtIndex(JAVA_INT, 1);
            try {
                Scope params = Scope.detached();
                Tensor t = Tensor.zeros(params, 64);
                MemorySegment storage = t.storage();
                CompletableFuture<Long> reader = CompletableFuture.supplyAsync(() -> {
                    try {
                        return (long) read.invokeExact(rd, storage, 4L);
                    } catch (Throwable e) {
                        throw new RuntimeException(e);
                    }
                });
                Thread.sleep(200); // the reader is blocked inside read(2), holding the memory
                params.close(); // must neither throw nor free under the call
                assertFalse(t.isAlive());
                IllegalStateException e = assertThrows(IllegalStateException.class, t::toArray);
                assertTrue(e.getMessage().contains("tensor [64] is unusable: the detached scope"), e.getMessage());
                assertTrue(storage.scope().isAlive(), "freed while a call held it");

                MemorySegment bytes = a.allocateFrom(JAVA_INT, 0x3f800000); // 1.0f
                assertEquals(4L, (long) write.invokeExact(wr, bytes, 4L));
                assertEquals(4L, reader.get(5, TimeUnit.SECONDS));
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                while (storage.scope().isAlive() && System.nanoTime() < deadline) {
                    Thread.sleep(5);
                }
                assertFalse(storage.scope().isAlive(), "the memory was never freed after the call returned");
            } finally {
                int ignored = (int) close.invokeExact(rd);
                ignored = (int) close.invokeExact(wr);
            }
        }
    }

    /** A detached scope closed on another thread while a tensor of it is in use: later uses are refused. */
    @Test
    void closingADetachedScopeElsewhereIsSeenAtOnce() throws Exception {
        Scope params = Scope.detached();
        Tensor w = Tensor.zeros(params, 4, 4);
        Tensor view = w.t();
        CompletableFuture.runAsync(params::close).get(5, TimeUnit.SECONDS);
        assertFalse(params.isOpen());
        IllegalStateException e = assertThrows(IllegalStateException.class, view::toArray);
        assertTrue(e.getMessage().contains("tensor [4, 4]") && e.getMessage().contains("detached scope"),
                e.getMessage());
        e = assertThrows(IllegalStateException.class, () -> Tensor.zeros(params, 2));
        assertTrue(e.getMessage().contains("closed detached scope"), e.getMessage());
    }

    /**
     * Tensors made outside any scope, never closed or closed, are freed by the garbage collector: 2 GiB
     * of them, 1 MiB each, never hold more than a few times the collection budget at once.
     */
    /** A scope's tensor used on another thread: the error names the scope and both threads. */
    @Test
    void aConfinedScopesTensorOnAnotherThreadNamesBothThreads() throws Exception {
        try (Scope s = Scope.open()) {
            Tensor t = Tensor.ones(3);
            CompletableFuture<Throwable> elsewhere = new CompletableFuture<>();
            Thread other = new Thread(() -> {
                try {
                    t.add(t);
                    elsewhere.complete(null);
                } catch (Throwable e) {
                    elsewhere.complete(e);
                }
            }, "probe-thread");
            other.start();
            Throwable e = elsewhere.get(30, TimeUnit.SECONDS);
            assertTrue(e instanceof WrongThreadException, String.valueOf(e));
            assertTrue(e.getMessage().contains("scope opened on thread " + Thread.currentThread().getName())
                    && e.getMessage().contains("used on thread probe-thread"), e.getMessage());
            assertEquals(2f, t.add(t).get(0), "its own thread goes on using it");
        }
    }

    /** A local scope closed by another thread is refused and left as it was, for its maker to close. */
    @Test
    void aLocalScopeClosedFromAnotherThreadStaysOpenForItsMaker() throws Exception {
        Scope local = Scope.local();
        Tensor t = Tensor.zeros(local, 1000).fill(2f);
        CompletableFuture<Throwable> elsewhere = new CompletableFuture<>();
        Thread other = new Thread(() -> {
            try {
                local.close();
                elsewhere.complete(null);
            } catch (Throwable e) {
                elsewhere.complete(e);
            }
        });
        other.start();
        Throwable e = elsewhere.get(30, TimeUnit.SECONDS);
        assertTrue(e instanceof WrongThreadException, String.valueOf(e));
        assertTrue(e.getMessage().contains("closed by the thread that made it"), e.getMessage());
        assertTrue(local.isOpen(), "the refused close changed nothing");
        assertEquals(2f, t.get(999));
        local.close();
        assertFalse(local.isOpen());
        assertFalse(t.isAlive(), "its maker's close frees it");
    }

    @Test
    void forgottenTensorsAreReclaimed() {
        long reclaimedBefore = SharedMemory.reclaimedCount();
        long peak = 0;
        for (int i = 0; i < 2048; i++) {
            Tensor t = Tensor.full(i, 256, 1024); // 1 MiB, never closed (one in four closed)
            assertEquals(i, t.get(255, 1023));
            if (i % 4 == 0) {
                t.close();
                assertThrows(IllegalStateException.class, () -> t.get(0, 0));
            }
            peak = Math.max(peak, SharedMemory.unfreedBytes());
        }
        assertTrue(peak < 3 * SharedMemory.GC_BUDGET + (64L << 20),
                "forgotten tensors held " + (peak >> 20) + " MiB at once; budget " + (SharedMemory.GC_BUDGET >> 20));
        assertTrue(SharedMemory.reclaimedCount() > reclaimedBefore + 1024,
                "only " + (SharedMemory.reclaimedCount() - reclaimedBefore) + " tensors reclaimed");
    }

    /** A view keeps a forgotten tensor's memory: the collector frees it only when no view is reachable. */
    @Test
    void aViewKeepsItsForgottenBaseAlive() {
        Tensor view = Tensor.arange(1 << 16).view(256, 256).slice(0, 10, 12);
        for (int i = 0; i < 512; i++) {
            Tensor.zeros(256, 1024); // 1 MiB of garbage each, to make collections happen
        }
        System.gc();
        float[] row = view.select(0, 1).toArray();
        assertEquals(11 * 256, row[0]);
        assertEquals(11 * 256 + 255, row[255]);
    }

    @Test
    void sliceWithAHugeStepKeepsTheFirstElement() {
        Tensor t = Tensor.arange(10);
        Tensor s = t.slice(0, 0, 10, Long.MAX_VALUE);
        assertArrayEquals(new long[] {1}, s.shape());
        assertEquals(0f, s.item());
        assertArrayEquals(new long[] {0}, t.slice(0, 5, 5, Long.MAX_VALUE).shape());
        assertArrayEquals(new float[] {3, 7}, t.slice(0, 3, 10, 4).toArray());
    }
}
