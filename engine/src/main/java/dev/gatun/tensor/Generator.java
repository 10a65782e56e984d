package dev.gatun.tensor;

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
 * <p>As in PyTorch, the random factories of {@link Tensor} ({@link Tensor#randn(long...)},
 * {@link Tensor#rand(long...)}, {@link Tensor#randint(long, long, long...)},
 * {@link Tensor#randperm(long)}) draw from one process-wide {@link #defaultGenerator()}, which
 * {@link #manualSeed(long)} re-seeds ({@code torch.manual_seed}), and each has an overload taking a
 * generator of the caller's ({@code generator=} in PyTorch):
 *
 * <pre>{@code
 * Generator.manualSeed(42);
 * Tensor x = Tensor.randn(3, 4);                         // shape [3, 4], from the default generator
 * Tensor y = Tensor.randn(new Generator(7), 3, 4);       // the same numbers for every run
 * }</pre>
 *
 * <p>The numbers are gatun's own, not PyTorch's (the algorithms differ). Layers draw their initial
 * weights from the same default generator ({@code dev.gatun.nn.Init.generator()} returns it), so one
 * {@code manualSeed} makes a whole program repeatable.
 *
 * <p>Not thread-safe: one thread draws from a generator at a time. The factories of {@link Tensor}
 * synchronize on the default generator while they draw from it.
 */
public final class Generator implements RandomGenerator {

    /** The increment of the state per draw: 2⁶⁴ divided by the golden ratio, made odd. */
    private static final long GOLDEN_GAMMA = 0x9E3779B97F4A7C15L;

    /** The seed of the default generator at start-up, PyTorch's default seed. */
    public static final long DEFAULT_SEED = 67280421310721L;

    private static final Generator DEFAULT = new Generator(DEFAULT_SEED);

    private long state;

    /**
     * A generator whose state is {@code seed} ({@code torch.Generator().manual_seed(seed)}).
     *
     * @param seed the initial state; any value
     */
    public Generator(long seed) {
        this.state = seed;
    }

    /**
     * The process-wide generator the random factories of {@link Tensor} draw from when given none
     * ({@code torch.default_generator}).
     *
     * @return the default generator, always the same object
     */
    public static Generator defaultGenerator() {
        return DEFAULT;
    }

    /**
     * Re-seeds the default generator ({@code torch.manual_seed}): the random factories of {@link Tensor}
     * that take no generator then repeat the same numbers from here on.
     *
     * @param seed the new state of the default generator
     * @return the default generator
     */
    public static Generator manualSeed(long seed) {
        synchronized (DEFAULT) {
            DEFAULT.setState(seed);
        }
        return DEFAULT;
    }

    /**
     * The current state: a generator made with {@code new Generator(state())} continues this stream.
     *
     * @return the state
     */
    public long state() {
        return state;
    }

    /**
     * Sets the state (as read by {@link #state()}), so that the next draws repeat the stream from there.
     *
     * @param state the new state
     */
    public void setState(long state) {
        this.state = state;
    }

    /**
     * The next 64 random bits (SplitMix64).
     *
     * @return a uniformly distributed long
     */
    @Override
    public long nextLong() {
        long z = state += GOLDEN_GAMMA;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /**
     * The next 32 random bits.
     *
     * @return a uniformly distributed int
     */
    @Override
    public int nextInt() {
        long z = state += GOLDEN_GAMMA;
        z = (z ^ (z >>> 33)) * 0x62A9D9ED799705F5L;
        return (int) (((z ^ (z >>> 28)) * 0xCB24D0A5C88C35B3L) >>> 32);
    }

    /**
     * The generator's state in hexadecimal, for logs.
     *
     * @return e.g. {@code Generator(state 2a)}
     */
    @Override
    public String toString() {
        return "Generator(state " + Long.toUnsignedString(state, 16) + ")";
    }
}
