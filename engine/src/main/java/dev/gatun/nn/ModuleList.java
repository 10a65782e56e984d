package dev.gatun.nn;

import dev.gatun.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Modules held in a list and registered as children {@code 0}, {@code 1}, ... ({@code torch.nn.ModuleList}),
 * so that their parameters are named {@code 0.weight}, {@code 1.weight} ... below the list's own name (the
 * {@code layers.0.self_attn.in_proj_weight} of {@link TransformerEncoder}). Unlike {@link Sequential} it
 * has no forward: the module that holds it calls its elements as it needs.
 *
 * @param <M> the type of the modules
 */
public final class ModuleList<M extends Module> extends Module implements Iterable<M> {

    private final List<M> modules = new ArrayList<>();

    /**
     * A list of the given modules, in order.
     *
     * @param modules the modules (none: an empty list)
     * @throws IllegalArgumentException if a module is null or given twice
     */
    @SafeVarargs
    public ModuleList(M... modules) {
        this(Arrays.asList(modules));
    }

    /**
     * A list of the given modules, in order.
     *
     * @param modules the modules
     * @throws IllegalArgumentException if a module is null or given twice
     * @throws NullPointerException     if {@code modules} is null
     */
    public ModuleList(List<? extends M> modules) {
        for (M m : modules) {
            add(m);
        }
    }

    /**
     * Appends a module, registered under the next index ({@code ModuleList.append}).
     *
     * @param module the module
     * @return this list
     * @throws IllegalArgumentException if the module is null, this list, or already in it
     */
    public ModuleList<M> add(M module) {
        if (module == null) {
            throw new IllegalArgumentException("ModuleList: module " + modules.size() + " is null");
        }
        for (M m : modules) {
            if (m == module) {
                throw new IllegalArgumentException("ModuleList: the module at " + modules.indexOf(m)
                        + " is added again at " + modules.size());
            }
        }
        addModule(Integer.toString(modules.size()), module);
        modules.add(module);
        return this;
    }

    /**
     * The i-th module.
     *
     * @param i the index, from 0
     * @return the module
     * @throws IndexOutOfBoundsException if {@code i} is not below {@link #size()}
     */
    public M get(int i) {
        return modules.get(Objects.checkIndex(i, modules.size()));
    }

    /**
     * The number of modules.
     *
     * @return the count
     */
    public int size() {
        return modules.size();
    }

    /**
     * The modules in order.
     *
     * @return an unmodifiable view
     */
    public List<M> asList() {
        return Collections.unmodifiableList(modules);
    }

    /**
     * The modules in order.
     *
     * @return an iterator that does not remove
     */
    @Override
    public Iterator<M> iterator() {
        return asList().iterator();
    }

    /**
     * A list has no forward of its own, as in PyTorch.
     *
     * @param input ignored
     * @return never
     * @throws UnsupportedOperationException always
     */
    @Override
    public Tensor forward(Tensor input) {
        throw new UnsupportedOperationException("ModuleList has no forward: call its modules (get(i).forward)");
    }

    /**
     * The settings a model file records to rebuild this list.
     *
     * @return the type and the modules' specs
     */
    @Override
    public Map<String, Object> spec() {
        return spec("ModuleList", "layers", List.copyOf(modules));
    }
}
