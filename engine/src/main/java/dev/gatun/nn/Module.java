package dev.gatun.nn;

import dev.gatun.autograd.Autograd;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.WildcardType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A layer or a network of layers: named parameters (trained), named buffers (state that is not
 * trained, such as running statistics), child modules, and a training/evaluation mode.
 *
 * <p>Parameters and buffers live in the module's own {@link Scope#detached()} scope, apart from any
 * scope that is current when the module is built, and are freed by {@link #close()} (which closes
 * the children too). Names follow PyTorch ({@code weight}, {@code bias}, dotted paths such as
 * {@code 0.weight} in a {@link Sequential}) so weights move between the two unchanged.
 *
 * <p><b>Children and parameters held in fields.</b> A subclass registers its parts with
 * {@link #addModule}, {@link #addParameter(String, long...)} and {@link #addBuffer}. A part it only
 * assigns to a field is registered too, under the field's name, as PyTorch does on attribute
 * assignment: the first call that walks the module ({@link #namedParameters()}, {@link #parameters()},
 * {@link #children()}, {@link #stateDict()}, {@link #train()}, {@link #toString()} ...) looks at the
 * fields declared by the concrete class and its superclasses below {@code Module}, and registers each
 * {@code Module} that is not yet part of the tree and each leaf {@code Tensor} that requires a gradient
 * and is not yet a parameter. Null fields are skipped, and a field assigned another value later is
 * registered again under its name. A field holding an array or a collection of modules is not
 * registered (its elements have no names): if one of its modules is not part of the tree, that call
 * throws {@link IllegalStateException}. Reading the fields of a class in a named module needs its
 * package open to {@code dev.gatun.engine}; when it is not, a field is accepted only if a part of its
 * kind is registered under its name, and otherwise the call throws {@link IllegalStateException}
 * naming the fields, rather than lose their parameters silently.
 */
public abstract class Module implements AutoCloseable {

    private final Map<String, Tensor> parameters = new LinkedHashMap<>();
    private final Map<String, Tensor> buffers = new LinkedHashMap<>();
    private final Map<String, Module> children = new LinkedHashMap<>();
    /** The names registered from fields (rather than by the subclass), which a reassigned field may take over. */
    private final Set<String> fromFields = new HashSet<>();
    private Scope scope;
    private boolean training = true;
    private boolean closed;

    /** Creates a module with no parameters, buffers or children, in training mode. */
    protected Module() {}

    /**
     * Computes the module's output.
     *
     * @param input the input tensor
     * @return the output tensor
     */
    public abstract Tensor forward(Tensor input);

    /**
     * The scope that owns this module's parameters and buffers, made on first use.
     *
     * @return the module's own scope
     * @throws IllegalStateException if the module is closed
     */
    protected final Scope parameterScope() {
        if (closed) {
            throw new IllegalStateException(getClass().getSimpleName() + " is closed");
        }
        if (scope == null) {
            scope = Scope.detached();
        }
        return scope;
    }

    /**
     * Allocates a zero-filled trainable parameter in this module's scope and registers it.
     *
     * @param name  the parameter's name, unique in this module and without '.'
     * @param shape the parameter's shape
     * @return the parameter (requiring a gradient)
     * @throws IllegalArgumentException if the name is empty, contains '.' or is already used
     */
    protected final Tensor addParameter(String name, long... shape) {
        checkName(name);
        Tensor p = Tensor.zeros(parameterScope(), shape).requiresGrad(true);
        parameters.put(name, p);
        return p;
    }

    /**
     * Registers an existing tensor as a trainable parameter of this module, as PyTorch's
     * {@code register_parameter} does: the same tensor, marked as requiring a gradient. It stays in the
     * scope it was made in (not this module's), which must outlive the module.
     *
     * @param name   the parameter's name, unique in this module and without '.'
     * @param tensor a live leaf tensor (not the result of a recorded op)
     * @return {@code tensor}
     * @throws IllegalArgumentException if the name is empty, contains '.' or is already used, or the
     *     tensor is null, freed or not a leaf
     */
    protected final Tensor addParameter(String name, Tensor tensor) {
        checkName(name);
        checkParameter(name, tensor);
        parameters.put(name, tensor.requiresGrad(true));
        return tensor;
    }

    private static void checkParameter(String name, Tensor tensor) {
        if (tensor == null || !tensor.isAlive()) {
            throw new IllegalArgumentException("parameter '" + name + "' must be a live tensor, got "
                    + (tensor == null ? "null" : "a freed tensor"));
        }
        if (tensor.gradFn() != null) {
            throw new IllegalArgumentException("parameter '" + name + "' must be a leaf tensor; this one was made by "
                    + tensor.gradFn().op() + " (use detach())");
        }
    }

    /**
     * Allocates a zero-filled buffer (state that is saved but not trained) in this module's scope and
     * registers it.
     *
     * @param name  the buffer's name, unique in this module and without '.'
     * @param shape the buffer's shape
     * @return the buffer
     * @throws IllegalArgumentException if the name is empty, contains '.' or is already used
     */
    protected final Tensor addBuffer(String name, long... shape) {
        checkName(name);
        Tensor b = Tensor.zeros(parameterScope(), shape);
        buffers.put(name, b);
        return b;
    }

    /**
     * Registers a child module under {@code name}, so that its parameters, buffers, mode and lifetime
     * follow this module's.
     *
     * @param <M>   the child's type
     * @param name  the child's name, unique in this module and without '.'
     * @param child the child module
     * @return {@code child}
     * @throws IllegalArgumentException if the name is empty, contains '.' or is already used, or the
     *     child is null or this module itself
     */
    protected final <M extends Module> M addModule(String name, M child) {
        checkName(name);
        if (child == null || child == this) {
            throw new IllegalArgumentException("module '" + name + "' must be another module, got "
                    + (child == null ? "null" : "this module itself"));
        }
        children.put(name, child);
        return child;
    }

    // ---------------------------------------------------------------- registration of fields

    /** What a field may hold that registration cares about. */
    private enum FieldKind { MODULE, TENSOR, MODULES }

    /** A field that may hold a child, a parameter or modules; {@code readable} when this class may read it. */
    private record PartField(Field field, FieldKind kind, boolean readable) {
        String describe() {
            return "'" + field.getName() + "' (" + field.getType().getSimpleName() + ")";
        }
    }

    /** Per class, its fields and its superclasses' (below Module) that may hold parts, found once. */
    private static final ClassValue<PartField[]> PART_FIELDS = new ClassValue<>() {
        @Override
        protected PartField[] computeValue(Class<?> type) {
            List<Class<?>> chain = new ArrayList<>();
            for (Class<?> c = type; c != null && c != Module.class; c = c.getSuperclass()) {
                chain.addFirst(c);
            }
            List<PartField> out = new ArrayList<>();
            for (Class<?> c : chain) {
                for (Field f : c.getDeclaredFields()) {
                    // Synthetic fields are the compiler's (an inner class's outer instance, captured variables).
                    if (Modifier.isStatic(f.getModifiers()) || f.isSynthetic()) continue;
                    FieldKind kind = kindOf(f);
                    if (kind != null) {
                        out.add(new PartField(f, kind, f.trySetAccessible()));
                    }
                }
            }
            return out.toArray(PartField[]::new);
        }
    };

    private static FieldKind kindOf(Field f) {
        Class<?> t = f.getType();
        if (Module.class.isAssignableFrom(t)) return FieldKind.MODULE;
        if (Tensor.class.isAssignableFrom(t)) return FieldKind.TENSOR;
        if (t.isArray() && Module.class.isAssignableFrom(t.getComponentType())) return FieldKind.MODULES;
        if (Collection.class.isAssignableFrom(t) && f.getGenericType() instanceof ParameterizedType p
                && p.getActualTypeArguments().length == 1 && isModuleType(p.getActualTypeArguments()[0])) {
            return FieldKind.MODULES;
        }
        return null;
    }

    private static boolean isModuleType(Type t) {
        if (t instanceof WildcardType w) {
            return w.getUpperBounds().length == 1 && isModuleType(w.getUpperBounds()[0]);
        }
        if (t instanceof ParameterizedType p) {
            t = p.getRawType();
        }
        return t instanceof Class<?> c && Module.class.isAssignableFrom(c);
    }

    /**
     * Registers the parts held in fields throughout this module's tree (children before parents, so that a
     * part a child holds is found there first). With {@code strict}, fields that cannot be checked throw.
     */
    private void registerFieldsInTree(boolean strict) {
        registerFieldsInTree(strict, Collections.newSetFromMap(new IdentityHashMap<>()));
    }

    private void registerFieldsInTree(boolean strict, Set<Module> visited) {
        if (!visited.add(this)) {
            return;
        }
        for (Module child : List.copyOf(children.values())) {
            child.registerFieldsInTree(strict, visited);
        }
        PartField[] fields = PART_FIELDS.get(getClass());
        if (fields.length == 0) {
            return;
        }
        List<String> unchecked = new ArrayList<>();
        List<String> unregistered = new ArrayList<>();
        for (PartField pf : fields) {
            String name = pf.field().getName();
            if (!pf.readable()) {
                boolean named = switch (pf.kind()) {
                    case MODULE -> children.containsKey(name);
                    case TENSOR -> parameters.containsKey(name) || buffers.containsKey(name);
                    case MODULES -> false;
                };
                if (!named) unchecked.add(pf.describe());
                continue;
            }
            Object value;
            try {
                value = pf.field().get(this);
            } catch (IllegalAccessException e) {
                unchecked.add(pf.describe()); // cannot happen once trySetAccessible succeeded
                continue;
            }
            switch (pf.kind()) {
                case MODULE -> {
                    Module m = (Module) value;
                    if (m != null && m != this && !reaches(this, m) && !reaches(m, this)) {
                        take(name, children, m, "module");
                        m.registerFieldsInTree(strict, visited);
                    }
                }
                case TENSOR -> {
                    Tensor t = (Tensor) value;
                    if (t != null && t.isAlive() && t.requiresGrad() && t.gradFn() == null && !holds(t)) {
                        take(name, parameters, t, "parameter");
                    }
                }
                case MODULES -> {
                    Iterable<?> items = value instanceof Object[] array ? Arrays.asList(array) : (Iterable<?>) value;
                    if (items != null) {
                        for (Object item : items) {
                            if (item instanceof Module m && m != this && !reaches(this, m)) {
                                unregistered.add(pf.describe());
                                break;
                            }
                        }
                    }
                }
            }
        }
        if (strict && !unregistered.isEmpty()) {
            throw new IllegalStateException(typeName() + " holds modules that are not registered in "
                    + String.join(", ", unregistered) + ": their parameters would not be trained or saved."
                    + " Register each with addModule(name, module), or hold them in a Sequential registered with"
                    + " addModule");
        }
        if (strict && !unchecked.isEmpty()) {
            Class<?> c = getClass();
            String pkg = c.getPackageName();
            throw new IllegalStateException(typeName() + " has fields that may hold modules or parameters and"
                    + " that gatun cannot read: " + String.join(", ", unchecked) + ". Register each under its field"
                    + " name in the constructor (addModule(\"name\", module), addParameter(\"name\", tensor)), or"
                    + " open package " + pkg + " to dev.gatun.engine (in module " + c.getModule().getName()
                    + "'s module-info.java: opens " + pkg + " to dev.gatun.engine;) so that gatun registers"
                    + " fields itself");
        }
    }

    /**
     * Registers {@code value} under a field's {@code name} in {@code map}; a name taken earlier from the
     * same field is taken over (the field was reassigned), one the subclass registered is a conflict.
     */
    private <T> void take(String name, Map<String, T> map, T value, String what) {
        synchronized (this) {
            boolean taken = parameters.containsKey(name) || buffers.containsKey(name) || children.containsKey(name);
            if (taken && !(fromFields.contains(name) && map.containsKey(name))) {
                throw new IllegalStateException(typeName() + ": field '" + name + "' holds a " + what + " that is"
                        + " not registered, and the name '" + name + "' is registered for something else; register"
                        + " the field's " + what + " under a name of its own");
            }
            map.put(name, value);
            fromFields.add(name);
        }
    }

    /** Whether {@code target} is {@code from} or one of its registered descendants. */
    private static boolean reaches(Module from, Module target) {
        return reaches(from, target, Collections.newSetFromMap(new IdentityHashMap<>()));
    }

    private static boolean reaches(Module from, Module target, Set<Module> visited) {
        if (from == target) return true;
        if (!visited.add(from)) return false;
        for (Module c : from.children.values()) {
            if (reaches(c, target, visited)) return true;
        }
        return false;
    }

    /** Whether {@code t} is a parameter or buffer of this module or a registered descendant. */
    private boolean holds(Tensor t) {
        return holds(t, Collections.newSetFromMap(new IdentityHashMap<>()));
    }

    private boolean holds(Tensor t, Set<Module> visited) {
        if (!visited.add(this)) return false;
        for (Tensor p : parameters.values()) if (p == t) return true;
        for (Tensor b : buffers.values()) if (b == t) return true;
        for (Module c : children.values()) {
            if (c.holds(t, visited)) return true;
        }
        return false;
    }

    /** The class's simple name, or its full name for an anonymous class. */
    private String typeName() {
        String simple = getClass().getSimpleName();
        return simple.isEmpty() ? getClass().getName() : simple;
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

    /**
     * Every parameter of this module and its descendants, by dotted name, in registration order; a
     * tensor reached under several names (a module or a parameter shared, tied weights) once, under the
     * first, as PyTorch's {@code named_parameters()}: so that an optimizer updates it once a step and
     * {@link #parameterCount()} counts it once.
     *
     * @return a new map of the module's own tensors (not copies)
     * @throws IllegalStateException if a field may hold an unregistered part that cannot be registered
     *     (see the class description)
     */
    public final Map<String, Tensor> namedParameters() {
        registerFieldsInTree(true);
        Map<String, Tensor> out = new LinkedHashMap<>();
        collect(out, "", true);
        return out;
    }

    /**
     * Every buffer of this module and its descendants, by dotted name.
     *
     * @return a new map of the module's own tensors (not copies)
     * @throws IllegalStateException if a field may hold an unregistered part that cannot be registered
     *     (see the class description)
     */
    public final Map<String, Tensor> namedBuffers() {
        registerFieldsInTree(true);
        Map<String, Tensor> out = new LinkedHashMap<>();
        collect(out, "", false);
        return out;
    }

    private void collect(Map<String, Tensor> out, String prefix, boolean params) {
        Map<String, Tensor> all = new LinkedHashMap<>();
        collectAll(all, prefix, params);
        java.util.Set<Tensor> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        all.forEach((name, t) -> {
            if (seen.add(t)) {
                out.put(name, t);
            }
        });
    }

    private void collectAll(Map<String, Tensor> out, String prefix, boolean params) {
        for (var e : (params ? parameters : buffers).entrySet()) {
            out.put(prefix + e.getKey(), e.getValue());
        }
        for (var e : children.entrySet()) {
            e.getValue().collectAll(out, prefix + e.getKey() + ".", params);
        }
    }

    /**
     * The names under which a parameter or buffer is reached a second time (tied weights, a module used
     * twice), each with the first name of the same tensor: what {@link #namedParameters()} and
     * {@link #namedBuffers()} leave out.
     *
     * @return a new map from each further name to the first one, in registration order; empty when no
     *         tensor is shared
     */
    public final Map<String, String> sharedTensorNames() {
        registerFieldsInTree(true);
        Map<String, String> out = new LinkedHashMap<>();
        for (boolean params : new boolean[] {true, false}) {
            Map<String, Tensor> all = new LinkedHashMap<>();
            collectAll(all, "", params);
            Map<Tensor, String> first = new java.util.IdentityHashMap<>();
            all.forEach((name, t) -> {
                String before = first.putIfAbsent(t, name);
                if (before != null) {
                    out.put(name, before);
                }
            });
        }
        return out;
    }

    /**
     * The state to save, as PyTorch's {@code state_dict()} names it: every parameter and buffer by dotted
     * name (the module's own tensors, not copies). BatchNorm's {@code num_batches_tracked}, an integer in
     * PyTorch, is not a tensor here: see {@link BatchNorm#numBatchesTracked()}.
     *
     * @return a new map, parameters first, then buffers
     * @throws IllegalStateException if a field may hold an unregistered part that cannot be registered
     *     (see the class description)
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
     *
     * @param state tensors by dotted name, such as {@link #stateDict()} gives
     * @throws IllegalArgumentException if a name is missing or unexpected or a shape differs, listing each
     */
    public final void loadStateDict(Map<String, Tensor> state) {
        Map<String, Tensor> own = check(state);
        try (Autograd.NoGrad ignored = Autograd.noGrad()) {
            for (var e : own.entrySet()) {
                e.getValue().copyFrom(state.get(e.getKey()));
            }
        }
    }

    /**
     * Checks that {@code state} would load into this module, changing nothing: what
     * {@link #loadStateDict} checks before it copies, for a caller that must know several parts fit
     * before loading any of them (a checkpoint: model, optimizer, schedule).
     *
     * @param state tensors by dotted name
     * @throws IllegalArgumentException if a name is missing or unexpected or a shape differs, listing each
     */
    public final void checkStateDict(Map<String, Tensor> state) {
        check(state);
    }

    private Map<String, Tensor> check(Map<String, Tensor> state) {
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
            } else if (e.getValue() == null) {
                problems.add("'" + e.getKey() + "' is null");
            } else if (!Arrays.equals(mine.shape(), e.getValue().shape())) {
                problems.add("'" + e.getKey() + "' has shape " + Arrays.toString(e.getValue().shape())
                        + ", the model expects " + Arrays.toString(mine.shape()));
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("state dict does not fit " + getClass().getSimpleName() + ": "
                    + String.join("; ", problems));
        }
        return own;
    }

    /**
     * The parameters as a list, for optimizers.
     *
     * @return a new list of the module's own tensors, in the order of {@link #namedParameters()}
     * @throws IllegalStateException if a field may hold an unregistered part that cannot be registered
     *     (see the class description)
     */
    public final List<Tensor> parameters() {
        return new ArrayList<>(namedParameters().values());
    }

    /**
     * The direct children by name.
     *
     * @return an unmodifiable view, in registration order
     * @throws IllegalStateException if a field may hold an unregistered part that cannot be registered
     *     (see the class description)
     */
    public final Map<String, Module> children() {
        registerFieldsInTree(true);
        return Collections.unmodifiableMap(children);
    }

    /**
     * The total number of trainable scalars.
     *
     * @return the sum of the parameters' element counts
     */
    public final long parameterCount() {
        long n = 0;
        for (Tensor p : namedParameters().values()) {
            n += p.numel();
        }
        return n;
    }

    /**
     * Sets training mode here and in every descendant (dropout active, batch statistics used).
     *
     * @return this module
     */
    public Module train() {
        setTraining(true);
        return this;
    }

    /**
     * Sets evaluation mode here and in every descendant (dropout off, running statistics used).
     *
     * @return this module
     */
    public Module eval() {
        setTraining(false);
        return this;
    }

    private void setTraining(boolean value) {
        registerFieldsInTree(true);
        applyTraining(value);
    }

    private void applyTraining(boolean value) {
        training = value;
        for (Module m : children.values()) {
            m.applyTraining(value);
        }
    }

    /**
     * Whether the module is in training mode.
     *
     * @return true in training mode, false in evaluation mode
     */
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
     *
     * @return the settings, or null
     */
    public Map<String, Object> spec() {
        return null;
    }

    /**
     * A spec map from alternating keys and values, starting with the type name, for {@link #spec()}.
     *
     * @param type          the layer's type name, stored under {@code "type"}
     * @param keysAndValues a String key, then its value, and so on
     * @return a new map in that order
     */
    protected static Map<String, Object> spec(String type, Object... keysAndValues) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", type);
        for (int i = 0; i < keysAndValues.length; i += 2) {
            m.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return m;
    }

    /**
     * A one-line description of this module's configuration for {@link #summary}'s table, e.g.
     * {@code Linear(784 → 16)}; {@link #toString()} prints the whole architecture.
     *
     * @return the description; by default the class name
     */
    public String describe() {
        return getClass().getSimpleName();
    }

    /**
     * A table of the layers with their output shapes and parameter counts for an input of the given
     * shape (batch dimension included), computed by running the network once without recording, in
     * evaluation mode (the mode is restored after).
     *
     * @param inputShape the shape of an input batch, e.g. {@code 1, 1, 28, 28}
     * @return the table, one line per layer, then the output shape and the total parameter count
     * @throws IllegalArgumentException if the network rejects an input of that shape
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
     *
     * @param input the input of this module
     * @param name  this module's dotted name in the network ("" for the network itself)
     * @param rows  the table's rows, to append to: layer name, description, output shape, parameter count
     * @return this module's output
     */
    protected Tensor summarize(Tensor input, String name, List<String[]> rows) {
        Tensor out = forward(input);
        long own = 0;
        for (Tensor p : namedParameters().values()) own += p.numel();
        rows.add(new String[] {name.isEmpty() ? "-" : name, describe(), Arrays.toString(out.shape()),
                String.format(Locale.ROOT, "%,d", own)});
        return out;
    }

    /**
     * The settings this module prints inside its parentheses in {@link #toString()}, as PyTorch's
     * {@code extra_repr()}: e.g. {@code in_features=784, out_features=128, bias=true} for a
     * {@link Linear}. Layers with settings override it; the default is empty.
     *
     * @return the settings, on one line or several, or "" for none
     */
    protected String extraRepr() {
        return "";
    }

    /**
     * The architecture, printed as PyTorch prints a module: the class name, then in parentheses its
     * {@link #extraRepr()} and each child as {@code (name): child}, nested children indented by two
     * spaces more per level:
     *
     * <pre>
     * Sequential(
     *   (0): Linear(in_features=784, out_features=128, bias=true)
     *   (1): ReLU()
     *   (2): Linear(in_features=128, out_features=10, bias=true)
     * )
     * </pre>
     *
     * @return the description, on several lines when the module has children
     */
    @Override
    public String toString() {
        try {
            registerFieldsInTree(false);
        } catch (RuntimeException e) {
            // a name conflict among fields: print what is registered (the next real call reports it)
        }
        String extra = extraRepr();
        List<String> extraLines = extra == null || extra.isEmpty() ? List.of() : List.of(extra.split("\n", -1));
        List<String> childLines = new ArrayList<>();
        for (var e : children.entrySet()) {
            // Every line of the child after its first moves two spaces right.
            childLines.add("(" + e.getKey() + "): " + e.getValue().toString().replace("\n", "\n  "));
        }
        StringBuilder sb = new StringBuilder(typeName()).append('(');
        if (extraLines.size() == 1 && childLines.isEmpty()) {
            sb.append(extraLines.getFirst());
        } else if (!extraLines.isEmpty() || !childLines.isEmpty()) {
            List<String> lines = new ArrayList<>(extraLines);
            lines.addAll(childLines);
            sb.append("\n  ").append(String.join("\n  ", lines)).append('\n');
        }
        return sb.append(')').toString();
    }

    /** Frees the parameters and buffers of this module and its descendants. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        try {
            registerFieldsInTree(false); // children held only in fields are freed too
        } catch (RuntimeException e) {
            // a name conflict among fields: close what is registered
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
