package dev.gatun.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The native dropout mask ({@link DropoutMask}) against its definition written out in Java: the same
 * SplitMix64 bits, the same threshold, the same float products, so the same output bit for bit, for every
 * length parity, on one thread and on two, in place and not; and every bad argument refused.
 */
class DropoutMaskTest {

    /** The definition: SplitMix64 from the seed, two 24-bit uniforms per output, kept when u ≥ ⌈p·2²⁴⌉. */
    private static float[] reference(float[] src, float p, long seed) {
        float keep = 1f / (1f - p);
        int threshold = (int) Math.ceil(p * (double) (1 << 24));
        float[] out = new float[src.length];
        long state = seed;
        for (int i = 0; i < src.length; i += 2) {
            state += 0x9E3779B97F4A7C15L;
            long z = state;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            z = z ^ (z >>> 31);
            int u0 = (int) (z >>> 40);
            int u1 = (int) ((z >>> 16) & 0xFFFFFF);
            out[i] = src[i] * (u0 >= threshold ? keep : 0f);
            if (i + 1 < src.length) {
                out[i + 1] = src[i + 1] * (u1 >= threshold ? keep : 0f);
            }
        }
        return out;
    }

    private static float[] values(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
        float[] special = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0f, 0f, Float.MIN_VALUE};
        for (int i = 0; i < Math.min(n, special.length); i++) v[i] = special[i];
        return v;
    }

    private static void assertBits(float[] expected, MemorySegment actual, long offset, String what) {
        for (int i = 0; i < expected.length; i++) {
            float a = actual.getAtIndex(ValueLayout.JAVA_FLOAT, offset + i);
            assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(a), what + " at " + i
                    + ": " + expected[i] + " vs " + a);
        }
    }

    @Test
    void matchesTheDefinitionBitForBit() {
        int before = Threads.get();
        try (Arena arena = Arena.ofConfined()) {
            for (int threads : new int[] {1, 2}) {
                Threads.set(threads);
                for (int n : new int[] {1, 2, 3, 17, 1000, 65_537, 200_001}) {
                    for (float p : new float[] {0f, 1e-9f, 0.1f, 0.5f, 0.9f, 0.999f}) {
                        long seed = n * 31L + Float.floatToRawIntBits(p);
                        float[] v = values(n, seed);
                        float[] expected = reference(v, p, seed);
                        String what = "n " + n + ", p " + p + ", " + threads + " threads";
                        // at an offset, into another buffer
                        MemorySegment src = arena.allocate((n + 3L) * Float.BYTES, 64);
                        MemorySegment dst = arena.allocate((n + 5L) * Float.BYTES, 64);
                        MemorySegment.copy(v, 0, src, ValueLayout.JAVA_FLOAT, 3L * Float.BYTES, n);
                        DropoutMask.apply(src, 3, dst, 5, n, p, seed);
                        assertBits(expected, dst, 5, what);
                        // in place
                        DropoutMask.apply(src, 3, src, 3, n, p, seed);
                        assertBits(expected, src, 3, what + ", in place");
                    }
                }
            }
        } finally {
            Threads.set(before);
        }
    }

    @Test
    void keepsAboutOneMinusPOfTheElements() {
        int n = 1 << 20;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ones = arena.allocate((long) n * Float.BYTES, 64);
            for (int i = 0; i < n; i++) ones.setAtIndex(ValueLayout.JAVA_FLOAT, i, 1f);
            MemorySegment out = arena.allocate((long) n * Float.BYTES, 64);
            DropoutMask.apply(ones, 0, out, 0, n, 0.3f, 42);
            long kept = 0;
            for (int i = 0; i < n; i++) {
                float v = out.getAtIndex(ValueLayout.JAVA_FLOAT, i);
                assertTrue(v == 0f || v == 1f / 0.7f, "element " + i + " = " + v);
                if (v != 0f) kept++;
            }
            // 5 standard deviations of a binomial(2^20, 0.7)
            assertEquals(0.7 * n, kept, 5 * Math.sqrt(n * 0.7 * 0.3));
        }
    }

    @Test
    void badArgumentsAreRefusedBeforeNativeCode() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocate(100L * Float.BYTES, 64);
            MemorySegment b = arena.allocate(100L * Float.BYTES, 64);
            assertThrows(IllegalArgumentException.class, () -> DropoutMask.apply(a, 0, b, 0, 100, 1f, 1));
            assertThrows(IllegalArgumentException.class, () -> DropoutMask.apply(a, 0, b, 0, 100, -0.1f, 1));
            assertThrows(IllegalArgumentException.class, () -> DropoutMask.apply(a, 0, b, 0, 100, Float.NaN, 1));
            IllegalArgumentException past = assertThrows(IllegalArgumentException.class,
                    () -> DropoutMask.apply(a, 1, b, 0, 100, 0.5f, 1));
            assertTrue(past.getMessage().contains("run past"), past.getMessage());
            assertThrows(IllegalArgumentException.class, () -> DropoutMask.apply(a, 0, b, 0, -1, 0.5f, 1));
            assertThrows(IllegalArgumentException.class, () -> DropoutMask.apply(a, -1, b, 0, 10, 0.5f, 1));
            assertThrows(IllegalArgumentException.class, () -> DropoutMask.apply(null, 0, b, 0, 10, 0.5f, 1));
            IllegalArgumentException overlap = assertThrows(IllegalArgumentException.class,
                    () -> DropoutMask.apply(a, 0, a, 1, 50, 0.5f, 1));
            assertTrue(overlap.getMessage().contains("overlap"), overlap.getMessage());
            assertThrows(IllegalArgumentException.class,
                    () -> DropoutMask.apply(MemorySegment.ofArray(new float[10]), 0, b, 0, 10, 0.5f, 1));
        }
        Arena closed = Arena.ofConfined();
        MemorySegment gone = closed.allocate(40, 64);
        closed.close();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment b = arena.allocate(40, 64);
            assertThrows(IllegalStateException.class, () -> DropoutMask.apply(gone, 0, b, 0, 10, 0.5f, 1));
        }
    }
}
