package dev.gatun.nn;

import dev.gatun.tensor.Generator;

/**
 * A module that draws random numbers while training (dropout masks), so that a checkpoint must save the
 * state of its generator for a resumed run to draw the same numbers.
 */
public interface RandomModule {

    /**
     * The generator this module draws from, when it is a {@link Generator} (whose state a checkpoint
     * saves); null when it draws from a generator of another kind, given by the caller.
     *
     * @return the generator, or null
     */
    Generator generator();
}
