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

/**
 * Reverse-mode automatic differentiation over a tape of {@link Node}s.
 *
 * <p>While recording is enabled (the default, per thread), an op whose inputs require gradients
 * attaches a {@link Node} to its output ({@link #record}). {@link #backward} sorts the nodes reachable
 * from the loss topologically and runs their backward closures in reverse, summing the gradients that
 * reach each tensor, and accumulates into the {@code grad()} of each leaf that requires one. Each
 * gradient's shape is checked against its tensor's.
 *
 * <p>{@link #noGrad()} opens a region that records nothing (evaluation, inference, optimizer steps);
 * backward closures themselves run in such a region.
 */
public final class Autograd {

    private static final ThreadLocal<int[]> DISABLED_DEPTH = ThreadLocal.withInitial(() -> new int[1]);

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

    /** Disables recording on this thread until the returned region is closed. */
    public static NoGrad noGrad() {
        return new NoGrad(DISABLED_DEPTH.get());
    }

    /** Whether ops on this thread record nodes now. */
    public static boolean isRecording() {
        return DISABLED_DEPTH.get()[0] == 0;
    }

    /** Whether an op with these inputs must record: recording is on and some input requires a gradient. */
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
     * Attaches a node to {@code out} if {@link #needsGrad(Tensor...)} holds for {@code inputs}; returns
     * {@code out}.
     */
    public static Tensor record(Tensor out, String op, Node.Backward backward, Tensor... inputs) {
        if (needsGrad(inputs)) {
            out.setGradFn(new Node(op, inputs.clone(), backward));
        }
        return out;
    }

    /**
     * Back-propagates from {@code root}. {@code seed} is dL/d(root); null means 1 and needs a
     * one-element root (a loss).
     */
    public static void backward(Tensor root, Tensor seed) {
        root.checkAlive();
        if (!root.requiresGrad()) {
            throw new IllegalStateException("backward() on a tensor that does not require grad: no parameter or input"
                    + " with requiresGrad(true) contributed to it, or it was computed under noGrad()");
        }
        if (seed == null) {
            if (root.numel() != 1) {
                throw new IllegalArgumentException("backward() without a gradient needs a one-element tensor, shape is "
                        + Arrays.toString(root.shape()));
            }
        } else if (!Arrays.equals(seed.shape(), root.shape())) {
            throw new IllegalArgumentException("seed gradient of shape " + Arrays.toString(seed.shape())
                    + " for a tensor of shape " + Arrays.toString(root.shape()));
        }
        List<Tensor> order = topologicalOrder(root);
        Map<Tensor, Tensor> grads = new IdentityHashMap<>();
        // Intermediate gradients go to the caller's current scope; with none, to one that lives only
        // for this call (leaf gradients are copied to their leaf's owner, so nothing leaks).
        Scope own = Scope.current() == null ? Scope.open() : null;
        try (NoGrad ignored = noGrad()) {
            grads.put(root, seed != null ? seed : Tensor.ones(root.shape()));
            for (int i = order.size() - 1; i >= 0; i--) {
                Tensor t = order.get(i);
                Tensor g = grads.remove(t);
                if (g == null) {
                    continue;
                }
                Node node = t.gradFn();
                if (node == null) {
                    t.accumulateGrad(g);
                    continue;
                }
                Tensor[] inputGrads = node.backward().apply(g);
                Tensor[] inputs = node.inputs();
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
            if (own != null) {
                own.close();
            }
        }
    }

    /** Tensors reachable from root through recorded nodes, each after all of its inputs. */
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
            Tensor[] inputs = node == null ? new Tensor[0] : node.inputs();
            if (next < inputs.length) {
                frame[1] = next + 1;
                Tensor in = inputs[next];
                if (in != null && in.requiresGrad() && visited.add(in)) {
                    stack.push(new Object[] {in, 0});
                }
            } else {
                stack.pop();
                order.add(t);
            }
        }
        return order;
    }
}
