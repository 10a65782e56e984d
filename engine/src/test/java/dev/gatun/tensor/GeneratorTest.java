package dev.gatun.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.testing.ScopedTest;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The random factories: PyTorch's signatures (every argument of randn(3, 4) is a size), seeds and generators. */
class GeneratorTest extends ScopedTest {

    @Test
    void everyArgumentIsASize() {
        assertArrayEquals(new long[] {3, 4}, Tensor.randn(3, 4).shape());
        assertArrayEquals(new long[] {2, 3, 4}, Tensor.rand(2, 3, 4).shape());
        assertArrayEquals(new long[] {}, Tensor.randn().shape());
        assertArrayEquals(new long[] {5}, Tensor.randn(new Generator(1), 5).shape());
        assertArrayEquals(new long[] {2, 2}, Tensor.randint(0, 10, 2, 2).shape());
        assertEquals(DType.FLOAT32, Tensor.randn(2).dtype());
    }

    @Test
    void manualSeedMakesTheDefaultGeneratorReproducible() {
        Generator g = Generator.manualSeed(5);
        assertSame(Generator.defaultGenerator(), g);
        float[] first = Tensor.randn(3, 4).toArray();
        float[] next = Tensor.randn(3, 4).toArray();
        assertFalse(Arrays.equals(first, next), "the default generator advances");
        Generator.manualSeed(5);
        assertArrayEquals(first, Tensor.randn(3, 4).toArray());
        assertArrayEquals(next, Tensor.randn(3, 4).toArray());
        Generator.manualSeed(5);
        assertArrayEquals(Tensor.randn(new Generator(5), 12).toArray(), Tensor.randn(12).toArray(),
                "the default generator is a Generator like any other");
        Generator.manualSeed(6);
        assertFalse(Arrays.equals(first, Tensor.randn(3, 4).toArray()));
    }

    @Test
    void aGeneratorOfTheCallersIsReproducibleAndAdvances() {
        assertArrayEquals(Tensor.randn(new Generator(7), 100).toArray(), Tensor.randn(new Generator(7), 100).toArray());
        assertFalse(Arrays.equals(Tensor.randn(new Generator(7), 100).toArray(),
                Tensor.randn(new Generator(8), 100).toArray()));
        Generator g = new Generator(7);
        float[] a = Tensor.randn(g, 10).toArray();
        float[] b = Tensor.randn(g, 10).toArray();
        assertFalse(Arrays.equals(a, b));
        float[] both = Tensor.randn(new Generator(7), 20).toArray();
        assertArrayEquals(a, Arrays.copyOfRange(both, 0, 10), "one draw of 20 is two draws of 10");
        assertArrayEquals(b, Arrays.copyOfRange(both, 10, 20));
    }

    @Test
    void distributionsArePlausible() {
        float[] u = Tensor.rand(new Generator(3), 10_000).toArray();
        double mean = 0;
        for (float x : u) {
            assertTrue(x >= 0 && x < 1, "rand is in [0, 1), got " + x);
            mean += x;
        }
        assertEquals(0.5, mean / u.length, 0.02);
        float[] n = Tensor.randn(new Generator(3), 10_000).toArray();
        double m = 0;
        double sq = 0;
        for (float x : n) {
            m += x;
            sq += x * x;
        }
        m /= n.length;
        assertEquals(0, m, 0.05);
        assertEquals(1, sq / n.length - m * m, 0.05);

        Tensor r = Tensor.randint(new Generator(4), -2, 3, 1000);
        assertEquals(DType.INT64, r.dtype());
        int[] counts = new int[5];
        for (long x : r.toLongArray()) {
            assertTrue(x >= -2 && x < 3, "randint in [-2, 3), got " + x);
            counts[(int) x + 2]++;
        }
        for (int c : counts) assertTrue(c > 150, Arrays.toString(counts));
        assertArrayEquals(r.toLongArray(), Tensor.randint(new Generator(4), -2, 3, 1000).toLongArray());
    }

    @Test
    void randpermIsAPermutation() {
        Tensor p = Tensor.randperm(new Generator(9), 50);
        assertEquals(DType.INT64, p.dtype());
        long[] v = p.toLongArray();
        long[] sorted = v.clone();
        Arrays.sort(sorted);
        for (int i = 0; i < 50; i++) assertEquals(i, sorted[i]);
        assertFalse(Arrays.equals(v, sorted), "shuffled");
        assertArrayEquals(v, Tensor.randperm(new Generator(9), 50).toLongArray());
        assertEquals(0, Tensor.randperm(0).numel());
    }

    @Test
    void badArgumentsAreNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tensor.randint(3, 3, 2));
        assertTrue(e.getMessage().contains("low=3 high=3"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Tensor.randn((Generator) null, 2));
        assertThrows(IllegalArgumentException.class, () -> Tensor.randn(2, -1));
        assertThrows(IllegalArgumentException.class, () -> Tensor.randperm(-1));
    }
}
