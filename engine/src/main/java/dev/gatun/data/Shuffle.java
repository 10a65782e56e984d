package dev.gatun.data;

import java.util.SplittableRandom;

/** Seeded permutations, shared by {@link Dataset#split} and {@link DataLoader}. */
final class Shuffle {

    private Shuffle() {}

    /** A uniformly random permutation of {@code 0..n-1} (Fisher–Yates), the same for the same seed. */
    static int[] permutation(int n, long seed) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        SplittableRandom rng = new SplittableRandom(seed);
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    /**
     * One seed from two numbers (a seed and an epoch), hashed so that nearby inputs give unrelated
     * seeds: SplittableRandom streams of seeds that differ by its increment would otherwise overlap.
     */
    static long combine(long seed, long salt) {
        return mix64(mix64(seed) + 0x9e3779b97f4a7c15L * (salt + 1));
    }

    /** The murmur3 / SplitMix64 finaliser. */
    private static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
