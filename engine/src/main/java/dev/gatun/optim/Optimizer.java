package dev.gatun.optim;

import dev.gatun.autograd.Autograd;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An optimizer over a fixed list of parameters (leaf tensors that require gradients). {@link #step()}
 * updates every parameter that has a gradient, without recording; per-parameter state (momentum
 * buffers, moment estimates) is the optimizer's own native memory, each buffer freed as soon as it is
 * dropped ({@link #loadStateDict} of a state without it) and all of it by {@link #close()}. An
 * optimizer is used by one thread at a time: its update loops share scratch arrays.
 */
public abstract class Optimizer implements AutoCloseable {

    private final List<Tensor> parameters;
    /** Each state buffer's own scope, so that a buffer dropped before {@link #close()} is freed at once. */
    private final Map<Tensor, Scope> stateScopes = new IdentityHashMap<>();
    private boolean closed;
    private double learningRate;
    private long steps;
    /** Per parameter, how many updates it has received (a parameter without a gradient is skipped). */
    private final long[] parameterSteps;

    /**
     * Checks and keeps the parameters. Subclasses make their per-parameter state lazily, with
     * {@link #newState(Tensor)}, at a parameter's first update.
     *
     * @param parameters   the tensors to update: contiguous leaf tensors that require gradients (the list
     *                     is copied; the tensors stay the caller's, and must outlive the optimizer's use)
     * @param learningRate the initial learning rate, finite and {@code >= 0}
     * @throws IllegalArgumentException if {@code parameters} is null or empty, holds a tensor that is null,
     *                                  not contiguous, or not a leaf that requires a gradient, or the
     *                                  learning rate is negative or not finite
     */
    protected Optimizer(List<Tensor> parameters, double learningRate) {
        if (parameters == null || parameters.isEmpty()) {
            throw new IllegalArgumentException("optimizer got an empty parameter list");
        }
        for (int i = 0; i < parameters.size(); i++) {
            Tensor p = parameters.get(i);
            if (p != null && !p.isAlive()) {
                throw new IllegalArgumentException("parameter " + i + " is closed");
            }
            if (p == null || !p.requiresGrad() || p.gradFn() != null) {
                throw new IllegalArgumentException("parameter " + i + " is not a leaf tensor that requires a gradient");
            }
            if (!p.isContiguous()) {
                throw new IllegalArgumentException("parameter " + i + " is not contiguous");
            }
        }
        requireDisjoint(parameters);
        this.parameters = List.copyOf(parameters);
        this.parameterSteps = new long[parameters.size()];
        setLearningRate(learningRate);
    }

    /**
     * Refuses a parameter given twice, or two that share memory (a tensor and a view of it): a step would
     * update those elements twice.
     */
    private static void requireDisjoint(List<Tensor> parameters) {
        int n = parameters.size();
        long[][] ranges = new long[n][];
        for (int i = 0; i < n; i++) {
            Tensor p = parameters.get(i);
            long start = p.storageForReading().address() + p.offset() * Float.BYTES;
            ranges[i] = new long[] {start, start + p.numel() * Float.BYTES, i};
        }
        java.util.Arrays.sort(ranges, (a, b) -> Long.compare(a[0], b[0]));
        long[] reach = null; // of the ranges so far, the one that ends last
        for (long[] here : ranges) {
            if (here[1] == here[0]) {
                continue; // an empty parameter updates nothing
            }
            if (reach != null && here[0] < reach[1]) {
                int first = (int) Math.min(reach[2], here[2]);
                int second = (int) Math.max(reach[2], here[2]);
                boolean same = parameters.get(first) == parameters.get(second);
                throw new IllegalArgumentException("parameter " + second + (same ? " is parameter " + first + " again"
                        : " shares memory with parameter " + first) + ": a step would update its elements twice");
            }
            if (reach == null || here[1] > reach[1]) {
                reach = here;
            }
        }
    }

    /**
     * The parameters this optimizer updates.
     *
     * @return an unmodifiable list, in the order given to the constructor (the order of the indices in
     *         {@link #stateDict()})
     */
    public final List<Tensor> parameters() {
        return parameters;
    }

    /**
     * The learning rate the next {@link #step()} uses.
     *
     * @return the current learning rate (schedules change it between epochs or steps)
     */
    public final double learningRate() {
        return learningRate;
    }

    /**
     * Sets the learning rate for the following steps; what a {@link LearningRateSchedule} calls.
     *
     * @param lr the new learning rate, finite and {@code >= 0}
     * @throws IllegalArgumentException if {@code lr} is negative, NaN or infinite
     */
    public final void setLearningRate(double lr) {
        if (!(lr >= 0) || Double.isInfinite(lr)) {
            throw new IllegalArgumentException("learning rate must be a finite number >= 0, got " + lr);
        }
        this.learningRate = lr;
    }

    /**
     * How many steps have been taken.
     *
     * @return the number of {@link #step()} calls (restored by {@link #loadStateDict(State)})
     */
    public final long steps() {
        return steps;
    }

    /**
     * How many updates parameter {@code index} has received, counting the one in progress inside
     * {@link #update}. It falls behind {@link #steps()} when the parameter had no gradient at some
     * step; PyTorch keeps its step count per parameter the same way, and bias corrections (Adam) and
     * learning-rate decay (Adagrad) use it.
     *
     * @param index the parameter's index in {@link #parameters()}
     * @return its update count, 1 during its first update
     * @throws ArrayIndexOutOfBoundsException if {@code index} is not a parameter index
     */
    protected final long parameterSteps(int index) {
        return parameterSteps[index];
    }

    /**
     * Applies one update to every parameter that has a gradient, in place and without recording. The
     * gradients are only read: clear them with {@link #zeroGrad()} before the next backward pass.
     *
     * @throws IllegalStateException if a parameter or the optimizer's state was closed
     */
    public final void step() {
        try (Autograd.NoGrad ignored = Autograd.noGrad()) {
            steps++;
            for (int i = 0; i < parameters.size(); i++) {
                Tensor p = parameters.get(i);
                Tensor g = p.grad();
                if (g != null) {
                    parameterSteps[i]++;
                    update(i, p, g.contiguous());
                }
            }
        }
    }

    /**
     * Updates parameter {@code index} in place from its gradient (contiguous, same shape). Called with
     * recording disabled; {@link #steps()} is already the number of this step (1 for the first).
     *
     * @param index     the parameter's index in {@link #parameters()}, for per-parameter state
     * @param parameter the parameter, to write in place
     * @param gradient  its gradient, contiguous and of the parameter's shape; read only
     */
    protected abstract void update(int index, Tensor parameter, Tensor gradient);

    /** Zeroes every parameter's gradient, keeping its memory; parameters without one are left alone. */
    public final void zeroGrad() {
        for (Tensor p : parameters) {
            p.zeroGrad();
        }
    }

    /** Elements per chunk in the update loops: small enough that a chunk of every array stays in cache. */
    static final int CHUNK = 4096;

    /**
     * The body of an update loop over one chunk of a parameter: {@code p}, {@code g} and each
     * {@code state[k]} hold the same {@code length} consecutive elements of the parameter, its gradient
     * and the k-th state tensor, at indices 0 to {@code length − 1} (the arrays may be longer).
     */
    @FunctionalInterface
    protected interface ChunkUpdate {
        /**
         * Updates one chunk in place.
         *
         * @param p      parameter values, updated in place
         * @param g      gradient values, only to be read
         * @param state  one array per state tensor given to {@link #updateInChunks}, updated in place; an
         *               entry is null where the state tensor was null
         * @param length the number of valid elements at the start of each array
         */
        void apply(float[] p, float[] g, float[][] state, int length);
    }

    /**
     * Scratch arrays of {@link #CHUNK} floats for {@link #updateInChunks}, reused by every update: an
     * optimizer must be used by one thread at a time (as training loops do).
     */
    private float[][] scratch = new float[0][];

    /**
     * Runs {@code update} over a parameter chunk by chunk: copies up to {@link #CHUNK} elements of the
     * parameter, its gradient and each state tensor into heap arrays, runs the update on them, and copies
     * the parameter and the state back (the gradient is only read). A null state tensor (state an option
     * does not use) gives a null array. All tensors must be contiguous and the size of the parameter.
     *
     * <p>Update loops work on heap arrays rather than reading memory segments element by element: once
     * other code in the process has used segment accessors with other kinds of segments, their type
     * profiles are polluted and the accessors stop being inlined, which made element loops ten times
     * slower in training than alone. Array loops and bulk copies compile to tight code whatever else runs.
     *
     * @param parameter the parameter, contiguous, written back chunk by chunk
     * @param gradient  its gradient, contiguous, of the same element count; only read
     * @param update    the per-chunk update
     * @param state     the state tensors (null entries allowed), contiguous and of the same element count
     * @throws IllegalArgumentException if the gradient's element count differs from the parameter's
     */
    protected final void updateInChunks(Tensor parameter, Tensor gradient, ChunkUpdate update, Tensor... state) {
        long n = parameter.numel();
        if (gradient.numel() != n) {
            throw new IllegalArgumentException("gradient of " + gradient.numel() + " elements for a parameter of " + n);
        }
        int arrays = 2 + state.length;
        if (scratch.length < arrays) {
            float[][] grown = Arrays.copyOf(scratch, arrays);
            for (int k = scratch.length; k < arrays; k++) grown[k] = new float[CHUNK];
            scratch = grown;
        }
        float[] p = scratch[0];
        float[] g = scratch[1];
        float[][] s = new float[state.length][];
        for (int k = 0; k < state.length; k++) {
            if (state[k] != null) s[k] = scratch[2 + k];
        }
        for (long start = 0; start < n; start += CHUNK) {
            int length = (int) Math.min(CHUNK, n - start);
            load(parameter, start, p, length);
            load(gradient, start, g, length);
            for (int k = 0; k < state.length; k++) {
                if (state[k] != null) load(state[k], start, s[k], length);
            }
            update.apply(p, g, s, length);
            store(p, length, parameter, start);
            for (int k = 0; k < state.length; k++) {
                if (state[k] != null) store(s[k], length, state[k], start);
            }
        }
    }

    /** Copies elements {@code [start, start + length)} of contiguous tensor {@code t} into {@code array}. */
    static void load(Tensor t, long start, float[] array, int length) {
        MemorySegment.copy(t.storageForReading(), ValueLayout.JAVA_FLOAT, (t.offset() + start) * Float.BYTES, array,
                0, length);
    }

    /** Copies {@code array[0, length)} into elements {@code [start, start + length)} of contiguous tensor {@code t}. */
    static void store(float[] array, int length, Tensor t, long start) {
        MemorySegment.copy(array, 0, t.storage(), ValueLayout.JAVA_FLOAT, (t.offset() + start) * Float.BYTES, length);
    }

    /**
     * Everything an optimizer carries from one step to the next, for checkpoints: the step counts, the
     * current learning rate and the per-parameter buffers, keyed {@code "<parameter index>.<slot>"} with
     * PyTorch's slot names (e.g. {@code "0.exp_avg"}, {@code "3.momentum_buffer"}). A buffer not made yet
     * (its parameter has had no update) is absent. The hyper-parameters are not part of it: they come
     * from the options the optimizer is constructed with.
     *
     * @param steps          the optimizer's step count, {@link #steps()}
     * @param parameterSteps the update count of each parameter, in parameter order (copied)
     * @param learningRate   the learning rate in use
     * @param buffers        the optimizer's own tensors from {@link #stateDict()} (valid until it closes or
     *                       is loaded into), or any tensors of the same shapes for {@link #loadStateDict};
     *                       the map is copied, the tensors are not
     */
    public record State(long steps, long[] parameterSteps, double learningRate, Map<String, Tensor> buffers) {
        /**
         * Copies the counts and the map, so that the record cannot change behind its holder's back.
         *
         * @throws NullPointerException if {@code parameterSteps} or {@code buffers} is null
         */
        public State {
            parameterSteps = parameterSteps.clone();
            buffers = Collections.unmodifiableMap(new LinkedHashMap<>(buffers));
        }

        /**
         * The update count of each parameter.
         *
         * @return a copy, in parameter order
         */
        @Override
        public long[] parameterSteps() {
            return parameterSteps.clone();
        }
    }

    /**
     * The per-parameter buffer arrays of this optimizer by slot name, in a fixed order: the arrays the
     * update fills (an element is null until its parameter's first update, or when an option does not use
     * the slot). An optimizer without state returns an empty map.
     *
     * @return slot name (PyTorch's, e.g. {@code "exp_avg"}) to an array indexed like {@link #parameters()};
     *         {@link #loadStateDict(State)} writes new tensors into these arrays, so they must be the
     *         optimizer's own, not copies
     */
    protected Map<String, Tensor[]> stateSlots() {
        return Map.of();
    }

    /**
     * This optimizer's state, for a checkpoint.
     *
     * @return the state; its buffers are the optimizer's own tensors, not copies, so they change with the
     *         next {@link #step()} and are freed by {@link #close()}
     */
    public final State stateDict() {
        Map<String, Tensor> buffers = new LinkedHashMap<>();
        for (int i = 0; i < parameters.size(); i++) {
            for (var slot : stateSlots().entrySet()) {
                Tensor t = slot.getValue()[i];
                if (t != null) buffers.put(i + "." + slot.getKey(), t);
            }
        }
        return new State(steps, parameterSteps, learningRate, buffers);
    }

    /**
     * Restores a state from {@link #stateDict()} of an optimizer of the same kind and options over
     * parameters of the same shapes: the values are copied, so that the next steps are bit-identical to
     * those of the optimizer the state came from. Everything is checked before anything changes.
     *
     * @param state the state to restore; its tensors are only read
     * @throws IllegalArgumentException when a key names no parameter or slot, a shape differs, or the
     *                                  counts do not fit the parameters
     */
    public final void loadStateDict(State state) {
        checkStateDict(state);
        long[] counts = state.parameterSteps();
        Map<String, Tensor[]> slots = stateSlots();
        for (var slot : slots.entrySet()) {
            Tensor[] array = slot.getValue();
            for (int i = 0; i < array.length; i++) {
                Tensor src = state.buffers().get(i + "." + slot.getKey());
                if (src == null) {
                    free(array[i]);
                    array[i] = null;
                } else {
                    if (array[i] == null) array[i] = newState(parameters.get(i));
                    if (array[i] != src) array[i].copyFrom(src);
                }
            }
        }
        System.arraycopy(counts, 0, parameterSteps, 0, counts.length);
        steps = state.steps();
        learningRate = state.learningRate();
    }

    /**
     * Checks that {@code state} would load into this optimizer, changing nothing: what
     * {@link #loadStateDict} checks before it copies, for a caller that must know several parts fit before
     * loading any of them (a checkpoint: model, optimizer, schedule).
     *
     * @param state the state to check
     * @throws IllegalArgumentException when a key names no parameter or slot, a shape differs, or the
     *                                  counts do not fit the parameters
     */
    public final void checkStateDict(State state) {
        long[] counts = state.parameterSteps();
        if (counts.length != parameters.size()) {
            throw new IllegalArgumentException("optimizer state has step counts for " + counts.length
                    + " parameters, this optimizer has " + parameters.size());
        }
        for (int i = 0; i < counts.length; i++) {
            if (counts[i] < 0 || counts[i] > state.steps()) {
                throw new IllegalArgumentException("optimizer state: parameter " + i + " has " + counts[i]
                        + " updates, outside [0, " + state.steps() + "] steps");
            }
        }
        if (!(state.learningRate() >= 0) || Double.isInfinite(state.learningRate())) {
            throw new IllegalArgumentException("optimizer state: learning rate must be a finite number >= 0, got "
                    + state.learningRate());
        }
        Map<String, Tensor[]> slots = stateSlots();
        for (var e : state.buffers().entrySet()) {
            String key = e.getKey();
            int dot = key.indexOf('.');
            int index = -1;
            try {
                index = dot < 0 ? -1 : Integer.parseInt(key.substring(0, dot));
            } catch (NumberFormatException ignored) {
                // reported below
            }
            if (index < 0 || index >= parameters.size() || !slots.containsKey(key.substring(dot + 1))) {
                throw new IllegalArgumentException("optimizer state: unknown buffer '" + key + "' for "
                        + getClass().getSimpleName() + " (slots " + slots.keySet() + ", " + parameters.size()
                        + " parameters)");
            }
            long[] expected = parameters.get(index).shape();
            if (!Arrays.equals(e.getValue().shape(), expected)) {
                throw new IllegalArgumentException("optimizer state: buffer '" + key + "' has shape "
                        + Arrays.toString(e.getValue().shape()) + ", its parameter " + Arrays.toString(expected));
            }
        }
    }

    /**
     * A zero-filled state tensor shaped like a parameter, owned by this optimizer.
     *
     * @param like the parameter whose shape the state takes
     * @return a new float32 tensor in a detached scope of its own, freed when a load drops it or by
     *         {@link #close()}
     * @throws IllegalStateException if the optimizer was closed
     */
    protected final Tensor newState(Tensor like) {
        if (closed) {
            throw new IllegalStateException("the optimizer is closed: its state cannot grow");
        }
        Scope own = Scope.detached();
        Tensor t = Tensor.zeros(own, like.shape());
        stateScopes.put(t, own);
        return t;
    }

    /** Frees a state buffer of this optimizer now (null, or one already freed: nothing). */
    private void free(Tensor buffer) {
        Scope own = buffer == null ? null : stateScopes.remove(buffer);
        if (own != null) {
            own.close();
        }
    }

    /**
     * Frees the optimizer's state (the tensors of {@link #stateDict()} included); the parameters are not
     * touched. Do not step a closed optimizer. Idempotent.
     */
    @Override
    public void close() {
        closed = true;
        for (Scope own : stateScopes.values()) {
            own.close();
        }
        stateScopes.clear();
    }
}
