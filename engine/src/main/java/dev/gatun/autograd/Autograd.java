package dev.gatun.autograd;

import dev.gatun.ops.Kernels;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Reverse-mode automatic differentiation over a tape of {@link Node}s.
 *
 * <p>While recording is enabled (the default, per thread), an op whose inputs require gradients
 * attaches a {@link Node} to its output ({@link #record}). {@link #backward} sorts the nodes reachable
 * from the loss topologically and runs their backward closures in reverse, summing the gradients that
 * reach each tensor, and accumulates into the {@code grad()} of each leaf that requires one. Each
 * gradient's shape is checked against its tensor's. A graph with a closed tensor on it fails rather than
 * losing gradients, and a pass releases the nodes it ran unless asked to retain the graph (see
 * {@link #backward(Tensor, Tensor, boolean)}).
 *
 * <p>A leaf's {@linkplain Tensor#registerPostAccumulateGradHook post-accumulate-grad hooks} run as soon as
 * its gradient of the pass is complete, while the pass goes on to the leaves of earlier layers.
 *
 * <p>{@link #noGrad()} opens a region that records nothing (evaluation, inference, optimizer steps);
 * backward closures themselves run in such a region.
 */
public final class Autograd {

    private static final ThreadLocal<int[]> DISABLED_DEPTH = ThreadLocal.withInitial(() -> new int[1]);
    /** How many backward passes are running on this thread (more than one: from a hook). */
    private static final ThreadLocal<int[]> IN_BACKWARD = ThreadLocal.withInitial(() -> new int[1]);

    private Autograd() {}

    /** A region in which ops record nothing; close it to restore recording. */
    public static final class NoGrad implements AutoCloseable {
        private final int[] depth;
        private boolean closed;

        private NoGrad(int[] depth) {
            this.depth = depth;
            depth[0]++;
        }

        @Override
        public void close() {
            if (!closed) {
                closed = true;
                depth[0]--;
            }
        }
    }

    /**
     * Disables recording on this thread until the returned region is closed. Regions nest: recording
     * resumes when every open region of the thread is closed. Use it in a try-with-resources statement on
     * the thread that opened it; other threads are not affected.
     *
     * @return the region; closing it again is a no-op
     */
    public static NoGrad noGrad() {
        return new NoGrad(DISABLED_DEPTH.get());
    }

    /**
     * Whether ops on this thread record nodes now.
     *
     * @return true unless a {@link #noGrad()} region is open on this thread
     */
    public static boolean isRecording() {
        return DISABLED_DEPTH.get()[0] == 0;
    }

    /**
     * Whether an op with these inputs must record: recording is on and some input requires a gradient.
     *
     * @param inputs the op's tensor inputs; null entries (absent optional inputs) are skipped
     * @return true if {@link #isRecording()} and at least one input {@linkplain Tensor#requiresGrad()
     *         requires a gradient}
     */
    public static boolean needsGrad(Tensor... inputs) {
        if (!isRecording()) {
            return false;
        }
        for (Tensor t : inputs) {
            if (t != null && t.requiresGrad()) {
                return true;
            }
        }
        return false;
    }

    /**
     * Attaches a node to {@code out} if {@link #needsGrad(Tensor...)} holds for {@code inputs}. This is
     * how an op joins the tape: compute the output without recording, then call this with the closure
     * that maps the output's gradient to its inputs' gradients.
     *
     * <p>The backward closure may read the values of the inputs and of {@code out}: a backward pass fails
     * if any of them was written in place after this call ({@link Tensor#version}). An op whose closure
     * reads none of them records with {@link #recordValueFree}.
     *
     * @param out      the op's freshly made output; it becomes non-leaf and requires a gradient when a
     *                 node is attached
     * @param op       the op's name, used in error messages (e.g. {@code "matmul"})
     * @param backward the closure that turns dL/d(out) into one gradient per input, in input order
     * @param inputs   the op's tensor inputs (null entries allowed); the node keeps a copy of this array
     *                 and keeps the tensors reachable until a backward pass releases it
     * @return {@code out}, so that an op can end with {@code return Autograd.record(out, ...)}
     */
    public static Tensor record(Tensor out, String op, Node.Backward backward, Tensor... inputs) {
        if (needsGrad(inputs)) {
            Node node = new Node(op, inputs.clone(), backward);
            out.setGradFn(node);
            node.outputVersion(out.version());
        }
        return out;
    }

    /**
     * As {@link #record}, for an op whose backward closure reads no values of its inputs or its output,
     * only shapes and positions it kept (an addition, a view, a sum, an embedding lookup): its inputs and
     * output may be written in place before the backward pass, as PyTorch allows for ops that save no
     * tensor, and the gradients stay right.
     *
     * @param out      the op's freshly made output
     * @param op       the op's name, used in error messages
     * @param backward the closure that turns dL/d(out) into one gradient per input, reading no tensor
     *                 values but dL/d(out)'s
     * @param inputs   the op's tensor inputs (null entries allowed)
     * @return {@code out}
     */
    public static Tensor recordValueFree(Tensor out, String op, Node.Backward backward, Tensor... inputs) {
        if (needsGrad(inputs)) {
            out.setGradFn(Node.valueFree(op, inputs.clone(), backward));
        }
        return out;
    }

    /**
     * As {@link #record} for a view of a region of {@code input} ({@link Node.Slice}): backward writes the
     * view's gradient into that region of the input's gradient, one buffer shared by the slices of a tensor
     * whose regions do not overlap.
     *
     * @param out      the view
     * @param op       the op's name
     * @param backward the closure giving the input's full gradient from the view's
     * @param input    the sliced tensor
     * @param slice    the region the view covers
     * @return {@code out}
     */
    public static Tensor recordSlice(Tensor out, String op, Node.Backward backward, Tensor input, Node.Slice slice) {
        if (needsGrad(input)) {
            Node node = new Node(op, input, backward, slice);
            out.setGradFn(node);
            node.outputVersion(out.version());
        }
        return out;
    }

    /**
     * Back-propagates from {@code root} and releases the graph: as {@link #backward(Tensor, Tensor, boolean)}
     * with {@code retainGraph} false.
     *
     * @param root the tensor to differentiate, usually a one-element loss
     * @param seed dL/d(root), of root's shape; null means 1 and needs a one-element root
     * @throws IllegalStateException    as {@link #backward(Tensor, Tensor, boolean)}
     * @throws IllegalArgumentException as {@link #backward(Tensor, Tensor, boolean)}
     */
    public static void backward(Tensor root, Tensor seed) {
        backward(root, seed, false);
    }

    /**
     * Back-propagates from {@code root}. {@code seed} is dL/d(root); null means 1 and needs a
     * one-element root (a loss).
     *
     * <p>Every tensor the gradient passes through (the root, each intermediate, each leaf that receives
     * a gradient) must still be open: closing an intermediate drops the node that made it, and a closed
     * leaf cannot keep a gradient, so either would lose gradients silently; backward throws
     * {@link IllegalStateException} naming the tensor before any gradient is computed. A backward
     * closure that reads an input which was closed (a constant it saved) also fails with a message
     * naming that input.
     *
     * <p>Unless {@code retainGraph}, each node that ran is {@linkplain Node#isReleased() released} (its
     * inputs and saved tensors dropped), and a later backward pass that reaches it throws
     * {@link IllegalStateException}, as PyTorch does without {@code retain_graph=True}. With
     * {@code retainGraph}, the graph stays usable and every pass accumulates into the leaves' gradients
     * again.
     *
     * <p>Once every op that used a leaf has run its backward, the leaf's gradient of the pass is complete,
     * and the leaf's {@linkplain Tensor#registerPostAccumulateGradHook post-accumulate-grad hooks} run (on
     * this thread, recording nothing) if the pass gave it a gradient; an exception from a hook ends the
     * pass and propagates.
     *
     * <p>Intermediate gradients are made in the caller's current {@link Scope} when one is open (and are
     * closed with it), otherwise in a scope that lasts for this call only. Runs on the calling thread and
     * must not race with other threads that use the same graph.
     *
     * @param root        the tensor to differentiate, usually a one-element loss
     * @param seed        dL/d(root), of root's shape; null means 1 and needs a one-element root
     * @param retainGraph whether to keep the nodes that ran usable for a later pass
     * @throws IllegalStateException    if root does not require a gradient, if a tensor on the graph was
     *                                  closed, or if an earlier pass released a node on the graph
     * @throws IllegalArgumentException if root is null, if the seed's shape is not the root's, or if the
     *                                  seed is null and root has more than one element
     */
    public static void backward(Tensor root, Tensor seed, boolean retainGraph) {
        if (root == null) {
            throw new IllegalArgumentException("backward() needs a root tensor, got null");
        }
        if (!root.isAlive()) {
            Node made = root.gradFn();
            throw new IllegalStateException("backward() from "
                    + (made != null ? "the output of " + made.op() + ", shape " : "a tensor of shape ")
                    + Arrays.toString(root.shape()) + ": " + deadReason(root)
                    + (made != null ? "" : " (closing a tensor also drops the op that made it)"));
        }
        if (!root.requiresGrad()) {
            throw new IllegalStateException("backward() on a tensor that does not require grad: no parameter or input"
                    + " with requiresGrad(true) contributed to it, or it was computed under noGrad()"
                    + (IN_BACKWARD.get()[0] > 0 ? " (as everything is inside a backward pass: a hook runs with"
                    + " recording off, so a graph it builds cannot be back-propagated there)" : ""));
        }
        if (seed == null) {
            if (root.numel() != 1) {
                throw new IllegalArgumentException("backward() without a gradient needs a one-element tensor, shape is "
                        + Arrays.toString(root.shape()));
            }
        } else if (!Arrays.equals(seed.shape(), root.shape())) {
            throw new IllegalArgumentException("seed gradient of shape " + Arrays.toString(seed.shape())
                    + " for a tensor of shape " + Arrays.toString(root.shape()));
        } else if (!seed.isAlive()) {
            throw new IllegalStateException("backward(): the seed gradient of shape " + Arrays.toString(seed.shape())
                    + " is unusable: " + deadReason(seed));
        }
        List<Tensor> order = topologicalOrder(root);
        // Each leaf's count of arrived gradients before the pass: an op's backward may write a leaf's
        // gradient itself (Tensor.gradSink), so a change of the count is how a pass tells the leaves it
        // gave a gradient to, whose hooks run.
        long[] arrivals = new long[order.size()];
        for (int i = 0; i < arrivals.length; i++) {
            Tensor t = order.get(i);
            if (t.gradFn() == null) {
                arrivals[i] = t.gradArrivals();
            }
        }
        Map<Tensor, Tensor> grads = new IdentityHashMap<>();
        // Gradients made here for slices, with the regions written so far (the rest of each is zero).
        Map<Tensor, List<Node.Slice>> regions = new IdentityHashMap<>();
        // Intermediate gradients go to the caller's current scope; with none, to one that lives only
        // for this call (leaf gradients are copied to their leaf's owner, so nothing leaks).
        Scope own = Scope.current() == null ? Scope.open() : null;
        int[] depth = IN_BACKWARD.get();
        depth[0]++;
        try (NoGrad ignored = noGrad()) {
            grads.put(root, seed != null ? seed : Tensor.ones(root.shape()));
            for (int i = order.size() - 1; i >= 0; i--) {
                Tensor t = order.get(i);
                Tensor g = grads.remove(t);
                Node node = t.gradFn();
                if (node == null) {
                    if (g != null) {
                        t.accumulateGrad(g);
                    }
                    // Every op that used the leaf has run (they come after it in the order): its
                    // gradient of this pass is complete.
                    if (t.gradArrivals() != arrivals[i]) {
                        for (Consumer<Tensor> hook : t.postAccumulateGradHooks()) {
                            hook.accept(t);
                        }
                    }
                    continue;
                }
                if (g == null) {
                    // No gradient reached it: its node did not run, and stays usable (as in PyTorch).
                    continue;
                }
                Tensor[] inputs = node.inputs();
                if (node.slice() != null) {
                    Tensor in = inputs[0];
                    if (!retainGraph) {
                        node.release();
                    }
                    if (in != null && in.requiresGrad()) {
                        intoRegion(grads, regions, in, node.slice(), g);
                    }
                    continue;
                }
                Tensor[] inputGrads = run(node, g);
                if (!retainGraph) {
                    node.release();
                }
                if (inputGrads.length != inputs.length) {
                    throw new IllegalStateException(node.op() + " backward returned " + inputGrads.length
                            + " gradients for " + inputs.length + " inputs");
                }
                for (int k = 0; k < inputs.length; k++) {
                    Tensor in = inputs[k];
                    Tensor gi = inputGrads[k];
                    if (in == null || gi == null || !in.requiresGrad()) {
                        continue;
                    }
                    if (!Arrays.equals(gi.shape(), in.shape())) {
                        throw new IllegalStateException(node.op() + " backward gave a gradient of shape "
                                + Arrays.toString(gi.shape()) + " for input " + k + " of shape "
                                + Arrays.toString(in.shape()));
                    }
                    Tensor prev = grads.get(in);
                    grads.put(in, prev == null ? gi : Kernels.add(prev, gi));
                }
            }
        } finally {
            depth[0]--;
            if (own != null) {
                own.close();
            }
        }
    }

    /**
     * Adds a slice view's gradient {@code g} into the gradient of the sliced tensor {@code in}: into a
     * region not yet written of a buffer this pass made for slices of {@code in} by a copy, else (a first
     * slice, or an overlapping region, or a gradient from another op already there) as before, through a
     * zero-filled full-size gradient.
     */
    private static void intoRegion(Map<Tensor, Tensor> grads, Map<Tensor, List<Node.Slice>> regions, Tensor in,
                                   Node.Slice s, Tensor g) {
        Tensor prev = grads.get(in);
        List<Node.Slice> written = prev == null ? null : regions.get(prev);
        if (prev == null || written != null && disjoint(s, written)) {
            Tensor acc = prev;
            if (acc == null) {
                acc = Tensor.zeros(in.shape());
                written = new ArrayList<>();
                regions.put(acc, written);
                grads.put(in, acc);
            }
            acc.slice(s.dim(), s.start(), s.end(), s.step()).copyFrom(g);
            written.add(s);
            return;
        }
        Tensor full = Tensor.zeros(in.shape());
        full.slice(s.dim(), s.start(), s.end(), s.step()).copyFrom(g);
        grads.put(in, Kernels.add(prev, full));
    }

    /** Whether region {@code s} shares no element with any of {@code written} (dense ranges of one dimension). */
    private static boolean disjoint(Node.Slice s, List<Node.Slice> written) {
        if (s.step() != 1) {
            return false;
        }
        for (Node.Slice w : written) {
            if (w.step() != 1 || w.dim() != s.dim() || s.start() < w.end() && w.start() < s.end()) {
                return false;
            }
        }
        return true;
    }

    /**
     * Runs a node's backward closure. A closure that fails on a closed tensor does so with the tensor's
     * bare shape; if one of the node's inputs is closed, that is the cause, and the message says which.
     */
    private static Tensor[] run(Node node, Tensor g) {
        try {
            return node.backward().apply(g);
        } catch (IllegalStateException e) {
            Tensor[] inputs = node.inputs();
            for (int k = 0; k < inputs.length; k++) {
                Tensor in = inputs[k];
                if (in != null && !in.isAlive()) {
                    throw new IllegalStateException("backward of " + node.op() + " needs its input " + k + ", "
                            + describe(in, node.inputOp(k)) + ", which is unusable: " + deadReason(in)
                            + ". Keep the tensors an op saved for its backward open until backward() returns.", e);
                }
            }
            throw e;
        }
    }

    /** The message for a pass that reaches a node an earlier pass released; worded as PyTorch's. */
    static String secondBackwardMessage(Node node) {
        return secondBackwardMessage("the " + node.op() + " node");
    }

    private static String secondBackwardMessage(String what) {
        return "Trying to backward through the graph a second time (or directly access saved tensors after they"
                + " have already been freed): " + what + " was released by an earlier backward()."
                + " Saved intermediate values of the graph are freed when you call backward(). Specify"
                + " retainGraph = true (tensor.backward(true), or Autograd.backward(root, seed, true)) on the"
                + " earlier call if you need to backward through the graph a second time or to access saved"
                + " tensors after calling backward.";
    }

    /** What a tensor is, for messages: "the output of mul, shape [3, 4]", or a leaf or constant by shape. */
    private static String describe(Tensor t, String madeBy) {
        if (madeBy == null && t.gradFn() != null) {
            madeBy = t.gradFn().op();
        }
        String shape = Arrays.toString(t.shape());
        if (madeBy != null) {
            return "the output of " + madeBy + ", shape " + shape;
        }
        return t.requiresGrad() ? "a leaf of shape " + shape : "a tensor of shape " + shape + " that requires no grad";
    }

    /** Why a tensor that is not alive is unusable, in {@link Tensor#checkAlive()}'s words. */
    private static String deadReason(Tensor t) {
        try {
            t.checkAlive();
            return "it is usable";
        } catch (IllegalStateException e) {
            return e.getMessage();
        }
    }

    /**
     * Tensors reachable from root through recorded nodes, each after all of its inputs. Checks as it
     * visits that the graph is whole: every tensor a gradient would reach is open, and no node on it was
     * released; so a broken graph fails before any gradient is computed.
     */
    private static List<Tensor> topologicalOrder(Tensor root) {
        List<Tensor> order = new ArrayList<>();
        Set<Tensor> visited = Collections.newSetFromMap(new IdentityHashMap<>());
        // Iterative post-order DFS: deep graphs (long RNN unrolls) must not overflow the Java stack.
        ArrayDeque<Object[]> stack = new ArrayDeque<>();
        visited.add(root);
        stack.push(new Object[] {root, 0});
        while (!stack.isEmpty()) {
            Object[] frame = stack.peek();
            Tensor t = (Tensor) frame[0];
            int next = (Integer) frame[1];
            Node node = t.gradFn();
            if (node != null && node.isReleased()) {
                throw new IllegalStateException(secondBackwardMessage("the node that made " + describe(t, null)));
            }
            Tensor[] inputs = node == null ? new Tensor[0] : node.inputs();
            if (next == 0 && node != null && node.slice() == null) {
                checkVersions(t, node, inputs);
            }
            if (next < inputs.length) {
                frame[1] = next + 1;
                Tensor in = inputs[next];
                if (in != null && in.requiresGrad() && visited.add(in)) {
                    if (!in.isAlive()) {
                        throw closedOnGraph(node, next, in);
                    }
                    stack.push(new Object[] {in, 0});
                }
            } else {
                stack.pop();
                order.add(t);
            }
        }
        return order;
    }

    /**
     * Checks that the output {@code t} of {@code node} and each of its inputs are at the versions they had
     * when the op ran: the backward closure reads them (an input, or the output of an op whose gradient is
     * computed from its result), and one written in place since would give wrong gradients silently.
     * PyTorch checks only the tensors an op saves; gatun checks every one, which is stricter where an op
     * saves none (an addition): there the in-place write is refused though the gradients would be right.
     */
    private static void checkVersions(Tensor t, Node node, Tensor[] inputs) {
        if (node.readsNoValues()) {
            return;
        }
        long out = node.outputVersion();
        if (out >= 0 && t.version() != out) {
            throw modifiedInPlace(node, "its output, " + describe(t, node.op()), t.version(), out);
        }
        for (int k = 0; k < inputs.length; k++) {
            Tensor in = inputs[k];
            if (in != null && in.version() != node.inputVersion(k)) {
                throw modifiedInPlace(node, "input " + k + ", " + describe(in, node.inputOp(k)), in.version(),
                        node.inputVersion(k));
            }
        }
    }

    /** The message for a tensor written in place between an op and its backward; worded as PyTorch's. */
    private static IllegalStateException modifiedInPlace(Node node, String what, long now, long then) {
        return new IllegalStateException("one of the tensors needed for gradient computation has been modified by"
                + " an in-place operation: " + what + " of " + node.op() + ", is at version " + now
                + "; expected version " + then + " instead. Write into a copy (or after backward() returns), or"
                + " compute the op again after the write.");
    }

    /**
     * A gradient would reach input {@code k} of {@code node}, which is closed: through a closed
     * intermediate it cannot go on (closing dropped the node that made it), and a closed leaf cannot
     * keep it; either way gradients would be lost.
     */
    private static IllegalStateException closedOnGraph(Node node, int k, Tensor in) {
        String what = describe(in, node.inputOp(k));
        boolean leaf = node.inputOp(k) == null && in.gradFn() == null;
        return new IllegalStateException("backward() reached " + what + " (input " + k + " of " + node.op()
                + "), which was closed (" + deadReason(in) + "). "
                + (leaf ? "Its gradient" : "The gradients of the tensors it was computed from")
                + " would be lost; keep every tensor of the graph open until backward() returns.");
    }
}
