package dev.gatun.bench.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.List;
import java.util.Map;

/**
 * The optimizer step of a training row: PyTorch's optimizer, as {@code workloads.py} builds it, done with DJL's
 * engine updates ({@code NDArrayEx.sgdUpdate} and {@code adamUpdate}, one native call per parameter that
 * updates it in place and zeroes its gradient). The optimizer states are made here, before any step, so
 * that a step's scope never closes them.
 */
sealed interface Update permits SgdUpdate, AdamUpdate {

    /** Updates every parameter from its gradient and zeroes the gradient. */
    void step();

    /**
     * The update that {@code spec} (the {@code optimizer} object of {@code NAME.json}) describes.
     *
     * @param spec the optimizer's class name and settings as PyTorch holds them in {@code defaults}
     * @param weights the parameters, each with a gradient
     * @return the update
     * @throws IllegalArgumentException for an optimizer or a setting that has no equal here
     */
    static Update of(JsonObject spec, List<NDArray> weights) {
        String name = spec.get("name").getAsString();
        float lr = spec.get("lr").getAsFloat();
        // Settings the updates below do not implement must be off, as in every workload today (AdamW's
        // decoupled weight decay excepted).
        for (Map.Entry<String, Object> off : Map.<String, Object>of("weight_decay", 0.0, "dampening", 0.0,
                "nesterov", false, "amsgrad", false, "maximize", false).entrySet()) {
            if (name.equals("AdamW") && off.getKey().equals("weight_decay")) {
                continue;
            }
            JsonElement v = spec.get(off.getKey());
            if (v != null && !v.isJsonNull() && !(off.getValue() instanceof Boolean b
                    ? v.getAsBoolean() == b : v.getAsDouble() == (Double) off.getValue())) {
                throw new IllegalArgumentException(name + " with " + off.getKey() + "=" + v + " is not supported");
            }
        }
        return switch (name) {
            case "SGD" -> new SgdUpdate(weights, lr, spec.get("momentum").getAsFloat());
            case "Adam" -> new AdamUpdate(weights, lr, spec.getAsJsonArray("betas").get(0).getAsFloat(),
                    spec.getAsJsonArray("betas").get(1).getAsFloat(), spec.get("eps").getAsFloat(), 0f);
            case "AdamW" -> new AdamUpdate(weights, lr, spec.getAsJsonArray("betas").get(0).getAsFloat(),
                    spec.getAsJsonArray("betas").get(1).getAsFloat(), spec.get("eps").getAsFloat(),
                    spec.get("weight_decay").getAsFloat());
            default -> throw new IllegalArgumentException("optimizer " + name + " is not supported (SGD, Adam, "
                    + "AdamW)");
        };
    }
}

/**
 * PyTorch's SGD without weight decay or dampening: {@code buf = momentum·buf + g; p -= lr·buf}. DJL's update
 * keeps {@code lr·buf} instead ({@code state = momentum·state + lr·g; p -= state}), the same for a constant
 * learning rate; this is what DJL's {@code Sgd} optimizer calls.
 */
final class SgdUpdate implements Update {

    private final List<NDArray> weights;
    private final List<NDArray> states;
    private final float lr;
    private final float momentum;

    SgdUpdate(List<NDArray> weights, float lr, float momentum) {
        this.weights = weights;
        this.lr = lr;
        this.momentum = momentum;
        this.states = momentum == 0 ? null : weights.stream().map(NDArray::zerosLike).toList();
    }

    @Override
    public void step() {
        for (int i = 0; i < weights.size(); i++) {
            NDArray w = weights.get(i);
            NDList inputs = states == null ? new NDList(w, w.getGradient()) : new NDList(w, w.getGradient(),
                    states.get(i));
            w.getNDArrayInternal().sgdUpdate(inputs, new NDList(w), lr, 0f, 1f, -1f, momentum, true);
        }
    }
}

/**
 * PyTorch's Adam without weight decay or amsgrad, through DJL's Adam update. PyTorch divides by
 * {@code sqrt(v)/sqrt(1-β₂ᵗ) + ε}; DJL's update by {@code sqrt(v) + ε} with the bias corrections folded into
 * the learning rate, so DJL's own {@code Adam} optimizer differs from PyTorch's in ε's weight (ε·sqrt(1-β₂ᵗ)
 * would be PyTorch's). This class passes that ε for each step, which makes the update PyTorch's.
 * With a weight decay λ it is PyTorch's AdamW: DJL's update with {@code adamw} set first shrinks the weight
 * by {@code lr·λ·w}, AdamW's {@code θ ← θ·(1 − η·λ)}, then takes Adam's step.
 */
final class AdamUpdate implements Update {

    private final List<NDArray> weights;
    private final List<NDArray> means;
    private final List<NDArray> variances;
    private final float lr;
    private final float beta1;
    private final float beta2;
    private final float eps;
    private final float weightDecay;
    private int t;

    AdamUpdate(List<NDArray> weights, float lr, float beta1, float beta2, float eps, float weightDecay) {
        this.weights = weights;
        this.lr = lr;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.means = weights.stream().map(NDArray::zerosLike).toList();
        this.variances = weights.stream().map(NDArray::zerosLike).toList();
    }

    @Override
    public void step() {
        t++;
        double correction1 = 1 - Math.pow(beta1, t);
        double correction2 = Math.sqrt(1 - Math.pow(beta2, t));
        float stepSize = (float) (lr * correction2 / correction1);
        float scaledEps = (float) (eps * correction2);
        for (int i = 0; i < weights.size(); i++) {
            NDArray w = weights.get(i);
            w.getNDArrayInternal().adamUpdate(new NDList(w, w.getGradient(), means.get(i), variances.get(i)),
                    new NDList(w), lr, stepSize, weightDecay, 1f, -1f, beta1, beta2, scaledEps, true,
                    weightDecay != 0);
        }
    }
}
