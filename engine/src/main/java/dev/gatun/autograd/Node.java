package dev.gatun.autograd;

import dev.gatun.tensor.Tensor;
import java.util.Arrays;
import java.util.Objects;

/**
 * One recorded op on the tape: its inputs and the closure that turns the gradient of its output into
 * gradients of its inputs. Made by {@link Autograd#record}; read by {@link Autograd#backward}.
 *
 * <p>A backward pass that does not retain the graph {@linkplain #release() releases} every node it ran:
 * the node drops its inputs and its closure (and with it whatever tensors the closure saved), so they
 * can be reclaimed, and a second backward pass through it fails instead of reading freed state.
 */
public final class Node {

    private final String op;
    /** The op that made each input when this node was recorded (null: a leaf or a constant). */
    private final String[] inputOps;
    private Tensor[] inputs;
    /**
     * Each input's {@link Tensor#version} when the node was made (0 for an absent one); null for a node
     * whose closure reads no values ({@link #valueFree}).
     */
    private final long[] inputVersions;
    /** The output's version when {@link Autograd#record} attached the node to it; −1 when not known. */
    private long outputVersion = -1;
    private Backward backward;
    private final Slice slice;

    /** The backward half of an op. */
    @FunctionalInterface
    public interface Backward {
        /**
         * Computes the gradients of the op's inputs from the gradient of its output. Runs with
         * recording disabled, inside the scope {@link Autograd#backward} made current.
         *
         * @param gradOutput dL/d(output), of the output's shape; owned by the backward pass, so the
         *                   closure must not close it
         * @return dL/d(input) for each input, in input order, each of that input's shape; an entry may be
         *         null when that input does not require a gradient
         */
        Tensor[] apply(Tensor gradOutput);
    }

    /**
     * Makes a node; ops normally get one through {@link Autograd#record} rather than by calling this.
     *
     * @param op       the op's name, for messages (e.g. {@code "matmul"})
     * @param inputs   the op's tensor inputs, in the order the backward closure answers for (entries may
     *                 be null for absent optional inputs); the node keeps this array
     * @param backward gradient of the output → one gradient per input (null where an input needs none)
     * @throws IllegalArgumentException if any argument is null
     */
    public Node(String op, Tensor[] inputs, Backward backward) {
        this(op, inputs, backward, true);
    }

    /**
     * A node whose backward closure reads no values of the op's inputs or output (only shapes and
     * positions it kept): nothing of them is checked for in-place writes before it runs.
     *
     * @param op       the op's name, for messages
     * @param inputs   the op's tensor inputs, in the order the backward closure answers for
     * @param backward gradient of the output → one gradient per input
     * @return the node
     * @throws IllegalArgumentException if any argument is null
     */
    public static Node valueFree(String op, Tensor[] inputs, Backward backward) {
        return new Node(op, inputs, backward, false);
    }

    private Node(String op, Tensor[] inputs, Backward backward, boolean readsValues) {
        if (op == null || inputs == null || backward == null) {
            throw new IllegalArgumentException("a node needs an op name, inputs and a backward closure, got op="
                    + op + ", inputs=" + (inputs == null ? null : Arrays.toString(inputs)) + ", backward=" + backward);
        }
        this.op = op;
        this.inputs = inputs;
        this.backward = backward;
        this.slice = null;
        // Closing a tensor drops its gradFn; the names are kept here so that a walk which meets a closed
        // input can still say what it was.
        String[] ops = new String[inputs.length];
        for (int k = 0; k < inputs.length; k++) {
            Node made = inputs[k] == null ? null : inputs[k].gradFn();
            ops[k] = made == null ? null : made.op;
        }
        this.inputOps = ops;
        this.inputVersions = readsValues ? versions(inputs) : null;
    }

    private static long[] versions(Tensor[] inputs) {
        long[] v = new long[inputs.length];
        for (int k = 0; k < inputs.length; k++) {
            v[k] = inputs[k] == null ? 0 : inputs[k].version();
        }
        return v;
    }

    /**
     * The node of a view of elements {@code start, start + step, …} (before {@code end}) of dimension
     * {@code dim} of one input ({@link Tensor#slice}): the backward pass writes the view's gradient into
     * that region of the input's gradient, sharing one buffer among the slices of one tensor (the query,
     * key and value parts of an attention's projection) instead of a zero-filled full-size gradient per
     * slice summed afterwards.
     *
     * @param dim   the sliced dimension of the input, in [0, rank)
     * @param start the first index
     * @param end   the bound the indices stop before
     * @param step  the stride between indices, positive
     */
    public record Slice(int dim, long start, long end, long step) {}

    /**
     * A node of a slice view ({@link Slice}) of {@code input}.
     *
     * @param op       the op's name
     * @param input    the sliced tensor
     * @param backward the closure giving the input's full gradient (used when the region cannot be shared)
     * @param slice    the region the view covers
     * @throws IllegalArgumentException if an argument is null
     */
    public Node(String op, Tensor input, Backward backward, Slice slice) {
        if (op == null || input == null || backward == null || slice == null) {
            throw new IllegalArgumentException("a slice node needs an op name, its input, a backward closure and"
                    + " its region");
        }
        this.op = op;
        this.inputs = new Tensor[] {input};
        this.backward = backward;
        this.slice = slice;
        Node made = input.gradFn();
        this.inputOps = new String[] {made == null ? null : made.op};
        this.inputVersions = versions(this.inputs);
    }

    /**
     * The region of the input a slice view covers, or null for any other op.
     *
     * @return the region, or null
     */
    public Slice slice() {
        return slice;
    }

    /**
     * The op's name, for messages; still known after the node is released.
     *
     * @return the name given when the node was made (e.g. {@code "matmul"})
     */
    public String op() {
        return op;
    }

    /**
     * The op's tensor inputs, in the order the backward closure answers for.
     *
     * @return the node's own array (not a copy; do not modify it); entries may be null
     * @throws IllegalStateException if a backward pass has released this node
     */
    public Tensor[] inputs() {
        checkNotReleased();
        return inputs;
    }

    /**
     * The backward closure.
     *
     * @return the closure given when the node was made
     * @throws IllegalStateException if a backward pass has released this node
     */
    public Backward backward() {
        checkNotReleased();
        return backward;
    }

    /**
     * Whether a backward pass that did not retain the graph has run through this node.
     *
     * @return true once released; a released node cannot be used for another backward pass
     */
    public boolean isReleased() {
        return backward == null;
    }

    /**
     * The name of the op that made an input when this node was recorded; kept so that messages can name
     * an input that was closed since (closing a tensor drops its own node).
     *
     * @param k the input's index, from 0 to the number of inputs - 1
     * @return the op's name, or null if the input was a leaf, a constant or absent
     * @throws ArrayIndexOutOfBoundsException if {@code k} is not an input index
     */
    public String inputOp(int k) {
        return inputOps[k];
    }

    /**
     * The {@link Tensor#version} input {@code k} had when this node was made: a backward pass through the
     * node needs the input still at that version (not written in place since).
     *
     * @param k the input's index, from 0 to the number of inputs - 1
     * @return the version then (0 for an absent input, −1 for a node that {@link #readsNoValues})
     * @throws ArrayIndexOutOfBoundsException if {@code k} is not an input index
     */
    public long inputVersion(int k) {
        if (inputVersions == null) {
            Objects.checkIndex(k, inputOps.length);
            return -1;
        }
        return inputVersions[k];
    }

    /**
     * Whether the backward closure reads no values of the op's inputs or output ({@link #valueFree}; a
     * slice view's node too), so that none is checked for in-place writes.
     *
     * @return true for such a node
     */
    public boolean readsNoValues() {
        return inputVersions == null || slice != null;
    }

    /**
     * The {@link Tensor#version} of the op's output when {@link Autograd#record} attached this node to it.
     *
     * @return that version, or −1 for a node attached otherwise (then not checked)
     */
    public long outputVersion() {
        return outputVersion;
    }

    void outputVersion(long version) {
        outputVersion = version;
    }

    /**
     * Drops the inputs and the backward closure (so the tensors the closure saved can be reclaimed);
     * afterwards {@link #inputs()} and {@link #backward()} throw. Idempotent.
     */
    void release() {
        inputs = null;
        backward = null;
    }

    private void checkNotReleased() {
        if (backward == null) {
            throw new IllegalStateException(Autograd.secondBackwardMessage(this));
        }
    }

    @Override
    public String toString() {
        return "Node[" + op + (isReleased() ? ", released]" : ", " + inputs.length + " inputs]");
    }
}
