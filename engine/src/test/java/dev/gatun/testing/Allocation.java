package dev.gatun.testing;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import org.opentest4j.AssertionFailedError;

/** Heap bytes the calling thread has allocated, for tests that bound what a reader allocates. */
public final class Allocation {

    /**
     * {@code com.sun.management.ThreadMXBean#getCurrentThreadAllocatedBytes} of this thread's bean,
     * reached by reflection because the engine module, which the tests run in, does not read
     * {@code java.management} (reflection needs no readability).
     */
    private static final MethodHandle ALLOCATED;

    static {
        try {
            Object bean = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean")
                    .invoke(null);
            ALLOCATED = MethodHandles.publicLookup().unreflect(Class.forName("com.sun.management.ThreadMXBean")
                    .getMethod("getCurrentThreadAllocatedBytes")).bindTo(bean);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private Allocation() {}

    /** Bytes of heap the calling thread has allocated so far. */
    public static long allocated() {
        try {
            long bytes = (long) ALLOCATED.invokeExact();
            assertTrue(bytes >= 0, "this JVM does not count allocated bytes");
            return bytes;
        } catch (Throwable t) {
            throw new AssertionFailedError("cannot read the thread's allocated bytes", t);
        }
    }
}
