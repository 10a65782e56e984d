package dev.gatun.nn;

import dev.gatun.autograd.Autograd;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A layer or a network of layers: named parameters (trained), named buffers (state that is not
 * trained, such as running statistics), child modules, and a training/evaluation mode.
 *
 * <p>Parameters and buffers live in the module's own {@link Scope#detached()} scope, apart from any
 * scope that is current when the module is built, and are freed by {@link #close()} (which closes
 * the children too). Names follow PyTorch ({@code weight}, {@code bias}, dotted paths such as
 * {@code 0.weight} in a {@link Sequential}) so weights move between the two unchanged.
 */
public abstract class Module implements AutoCloseable {

    private final Map<String, Tensor> parameters = new LinkedHashMap<>();
    private final Map<String, Tensor> buffers = new LinkedHashMap<>();
    private final Map<String, Module> children = new LinkedHashMap<>();
    private Scope scope;
    private boolean training = true;
    private boolean closed;

    /** Computes the module's output. */
    public abstract Tensor forward(Tensor input);

    /** The scope that owns this module's parameters and buffers, made on first use. */
    protected final Scope parameterScope() {
        if (closed) {
            throw new IllegalStateException(getClass().getSimpleName() + " is closed");
        }
        if (scope == null) {
            scope = Scope.detached();
        }
        return scope;
    }

    /** Allocates a zero-filled trainable parameter of this module and registers it under {@code name}. */
    protected final Tensor addParameter(String name, long... shape) {
        checkName(name);
        Tensor p = Tensor.zeros(parameterScope(), shape).requiresGrad(true);
        parameters.put(name, p);
        return p;
    }

    /** Allocates a zero-filled buffer (state that is saved but not trained). */
    protected final Tensor addBuffer(String name, long... shape) {
        checkName(name);
        Tensor b = Tensor.zeros(parameterScope(), shape);
        buffers.put(name, b);
        return b;
    }

    /** Registers a child module under {@code name}; returns it. */
    protected final <M extends Module> M addModule(String name, M child) {
        checkName(name);
        children.put(name, child);
        return child;
    }

    private void checkName(String name) {
        if (name == null || name.isEmpty() || name.contains(".")) {
            throw new IllegalArgumentException("a parameter, buffer or module name must be non-empty and without '.',"
                    + " got '" + name + "'");
        }
        if (parameters.containsKey(name) || buffers.containsKey(name) || children.containsKey(name)) {
            throw new IllegalArgumentException("name '" + name + "' is already used in " + getClass().getSimpleName());
        }
    }

    /** Every parameter of this module and its descendants, by dotted name, in registration order. */
    public final Map<String, Tensor> namedParameters() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        collect(out, "", true);
        return out;
    }

    /** Every buffer of this module and its descendants, by dotted name. */
    public final Map<String, Tensor> namedBuffers() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        collect(out, "", false);
        return out;
    }

    private void collect(Map<String, Tensor> out, String prefix, boolean params) {
        for (var e : (params ? parameters : buffers).entrySet()) {
            out.put(prefix + e.getKey(), e.getValue());
        }
        for (var e : children.entrySet()) {
            e.getValue().collect(out, prefix + e.getKey() + ".", params);
        }
    }

    /**
     * The state to save, as PyTorch's {@code state_dict()} names it: every parameter and buffer by dotted
     * name (the module's own tensors, not copies). BatchNorm's {@code num_batches_tracked}, an integer in
     * PyTorch, is not a tensor here: see {@link BatchNorm#numBatchesTracked()}.
     */
    public final Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>(namedParameters());
        out.putAll(namedBuffers());
        return out;
    }

    /**
     * Copies {@code state} into this module's parameters and buffers. Every name must match and every shape
     * agree; otherwise nothing is copied and the exception lists each missing name, unexpected name and
     * shape mismatch.
     */
    public final void loadStateDict(Map<String, Tensor> state) {
        Map<String, Tensor> own = stateDict();
        List<String> problems = new ArrayList<>();
        for (String name : own.keySet()) {
            if (!state.containsKey(name)) {
                problems.add("missing '" + name + "'");
            }
        }
        for (var e : state.entrySet()) {
            Tensor mine = own.get(e.getKey());
            if (mine == null) {
                problems.add("unexpected '" + e.getKey() + "'");
            } else if (!Arrays.equals(mine.shape(), e.getValue().shape())) {
                problems.add("'" + e.getKey() + "' has shape " + Arrays.toString(e.getValue().shape())
                        + ", the model expects " + Arrays.toString(mine.shape()));
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("state dict does not fit " + getClass().getSimpleName() + ": "
                    + String.join("; ", problems));
        }
        try (Autograd.NoGrad ignored = Autograd.noGrad()) {
            for (var e : own.entrySet()) {
                e.getValue().copyFrom(state.get(e.getKey()));
            }
        }
    }

    /** The parameters as a list, for optimizers. */
    public final List<Tensor> parameters() {
        return new ArrayList<>(namedParameters().values());
    }

    /** The direct children by name. */
    public final Map<String, Module> children() {
        return Collections.unmodifiableMap(children);
    }

    /** The total number of trainable scalars. */
    public final long parameterCount() {
        long n = 0;
        for (Tensor p : namedParameters().values()) {
            n += p.numel();
        }
        return n;
    }

    /** Sets training mode here and in every descendant (dropout active, batch statistics used). */
    public Module train() {
        setTraining(true);
        return this;
    }

    /** Sets evaluation mode here and in every descendant. */
    public Module eval() {
        setTraining(false);
        return this;
    }

    private void setTraining(boolean value) {
        training = value;
        for (Module m : children.values()) {
            m.setTraining(value);
        }
    }

    /** Whether the module is in training mode. */
    public final boolean isTraining() {
        return training;
    }

    /** Zeroes the gradient of every parameter (keeping its memory). */
    public final void zeroGrad() {
        for (Tensor p : namedParameters().values()) {
            p.zeroGrad();
        }
    }

    /**
     * The settings that rebuild this module without its weights, for saving a model's architecture: a
     * {@code "type"} entry naming the layer, then its constructor arguments as Long, Integer, Float,
     * Boolean, String, long[] or int[] values (and {@code List<Module>} for containers). Null when the
     * module cannot be described (the default).
     */
    public Map<String, Object> spec() {
        return null;
    }

    /** A spec map from alternating keys and values, starting with the type name. */
    protected static Map<String, Object> spec(String type, Object... keysAndValues) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", type);
        for (int i = 0; i < keysAndValues.length; i += 2) {
            m.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return m;
    }

    /** A one-line description of this module's configuration, e.g. {@code Linear(784 → 16)}. */
    public String describe() {
        return getClass().getSimpleName();
    }

    /**
     * A table of the layers with their output shapes and parameter counts for an input of the given
     * shape (batch dimension included), computed by running the network once without recording.
     */
    public final String summary(long... inputShape) {
        List<String[]> rows = new ArrayList<>();
        Tensor out;
        try (Scope s = Scope.open(); Autograd.NoGrad ignored = Autograd.noGrad()) { // intermediates land in s
            boolean wasTraining = training;
            eval();
            try {
                out = summarize(Tensor.zeros(s, inputShape), "", rows);
            } finally {
                if (wasTraining) train();
            }
            rows.add(new String[] {"output", "", Arrays.toString(out.shape()), ""});
        }
        int[] w = {5, 5, 12, 10};
        String[] header = {"layer", "type", "output shape", "parameters"};
        for (int i = 0; i < 4; i++) w[i] = Math.max(w[i], header[i].length());
        for (String[] r : rows) for (int i = 0; i < 4; i++) w[i] = Math.max(w[i], r[i].length());
        StringBuilder sb = new StringBuilder();
        String fmt = "%-" + w[0] + "s  %-" + w[1] + "s  %-" + w[2] + "s  %" + w[3] + "s%n";
        sb.append(String.format(Locale.ROOT, fmt, (Object[]) header));
        sb.append("-".repeat(w[0] + w[1] + w[2] + w[3] + 6)).append('\n');
        for (String[] r : rows) sb.append(String.format(Locale.ROOT, fmt, (Object[]) r));
        sb.append(String.format(Locale.ROOT, "total parameters: %,d%n", parameterCount()));
        return sb.toString();
    }

    /**
     * Runs forward for the summary, adding a row per leaf module. Containers override this to visit
     * their children in order.
     */
    protected Tensor summarize(Tensor input, String name, List<String[]> rows) {
        Tensor out = forward(input);
        long own = 0;
        for (Tensor p : namedParameters().values()) own += p.numel();
        rows.add(new String[] {name.isEmpty() ? "-" : name, describe(), Arrays.toString(out.shape()),
                String.format(Locale.ROOT, "%,d", own)});
        return out;
    }

    /** Frees the parameters and buffers of this module and its descendants. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Module m : children.values()) {
            m.close();
        }
        if (scope != null) {
            scope.close();
        }
    }
}
