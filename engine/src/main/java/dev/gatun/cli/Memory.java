package dev.gatun.cli;

import dev.gatun.backend.Machine;

/**
 * What this machine can hold, for refusing sizes up front instead of failing with an
 * {@link OutOfMemoryError} (or being killed by the kernel) half-way through. Tensors live outside the
 * Java heap, so they are compared with the physical memory; the Java arrays that fill them (random
 * initialisation, weight snapshots) with the heap.
 */
final class Memory {

    /** The most elements of a Java array: tensors are initialised from one. */
    static final long MAX_ARRAY = Integer.MAX_VALUE - 8;

    private Memory() {}

    /** The physical memory (see {@link Machine#physicalMemory()}). */
    static long physical() {
        return Machine.physicalMemory();
    }

    /** The Java heap not in use now and available to grow into: max minus what is in use. */
    static long heapAvailable() {
        Runtime rt = Runtime.getRuntime();
        return rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
    }

    /** {@code bytes} in binary units with one decimal, e.g. {@code 23.4 GiB}. */
    static String format(double bytes) {
        return Machine.formatBytes(bytes);
    }
}
