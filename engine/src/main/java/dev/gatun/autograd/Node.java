package dev.gatun.autograd;

import dev.gatun.tensor.Tensor;

/**
 * One recorded op on the tape: its inputs and the closure that turns the gradient of its output into
 * gradients of its inputs. Made by {@link Autograd#record}; read by {@link Autograd#backward}.
 *
 * @param op       the op's name, for messages (e.g. {@code "matmul"})
 * @param inputs   the op's tensor inputs, in the order the backward closure answers for
 * @param backward gradient of the output → one gradient per input (null where an input needs none)
 */
public record Node(String op, Tensor[] inputs, Backward backward) {

    /** The backward half of an op. */
    @FunctionalInterface
    public interface Backward {
        /**
         * Given dL/d(output), returns dL/d(input) for each input, in input order; an entry may be null
         * when that input does not require a gradient. Runs with recording disabled.
         */
        Tensor[] apply(Tensor gradOutput);
    }
}
