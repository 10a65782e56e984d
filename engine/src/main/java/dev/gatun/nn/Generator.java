package dev.gatun.nn;

import java.util.random.RandomGenerator;

/**
 * A random generator whose whole state is one {@code long} that can be read and set, so that a
 * checkpoint can save it and a resumed run continue the exact same stream. It is SplitMix64 (Steele,
 * Lea and Flood, 2014): the state advances by the golden gamma {@code 0x9E3779B97F4A7C15} and each
 * output mixes it with Stafford's variant 13 (64-bit outputs) or MurmurHash3's finaliser (32-bit
 * outputs). These are the constants and functions of {@link java.util.SplittableRandom}, so a
 * {@code Generator(seed)} yields the same numbers as {@code new SplittableRandom(seed)} did, and
 * results reproduced from a seed before this class existed stay the same.
 *
 * <p>Not thread-safe: one thread draws from a generator at a time.
 */
public final class Generator implements RandomGenerator {

    /** The increment of the state per draw: 2⁶⁴ divided by the golden ratio, made odd. */
    private static final long GOLDEN_GAMMA = 0x9E3779B97F4A7C15L;

    private long state;

    /** A generator whose state is {@code seed}. */
    public Generator(long seed) {
        this.state = seed;
    }

    /** The current state: a generator made with {@code new Generator(state())} continues this stream. */
    public long state() {
        return state;
    }

    /** Sets the state (as read by {@link #state()}), so that the next draws repeat the stream from there. */
    public void setState(long state) {
        this.state = state;
    }

    @Override
    public long nextLong() {
        long z = state += GOLDEN_GAMMA;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    @Override
    public int nextInt() {
        long z = state += GOLDEN_GAMMA;
        z = (z ^ (z >>> 33)) * 0x62A9D9ED799705F5L;
        return (int) (((z ^ (z >>> 28)) * 0xCB24D0A5C88C35B3L) >>> 32);
    }

    @Override
    public String toString() {
        return "Generator(state " + Long.toUnsignedString(state, 16) + ")";
    }
}
