package dev.gatun.nn;

import dev.gatun.backend.Convolution;
import dev.gatun.tensor.Tensor;
import java.util.List;
import java.util.Map;

/** Modules applied one after another; children are named 0, 1, 2, ... as in PyTorch. */
public final class Sequential extends Module {

    private final Module[] layers;

    /**
     * Layers applied in the given order, registered as children {@code 0}, {@code 1}, ...
     *
     * @param layers one or more modules
     * @throws IllegalArgumentException if there is no module or one is null
     */
    public Sequential(Module... layers) {
        if (layers.length == 0) {
            throw new IllegalArgumentException("Sequential needs at least one module");
        }
        this.layers = layers.clone();
        for (int i = 0; i < layers.length; i++) {
            addModule(Integer.toString(i), layers[i]);
        }
    }

    /**
     * The i-th layer.
     *
     * @param i the layer's index, from 0
     * @return the layer
     * @throws IndexOutOfBoundsException if {@code i} is not below {@link #size()}
     */
    public Module get(int i) {
        return layers[java.util.Objects.checkIndex(i, layers.length)];
    }

    /**
     * The number of layers.
     *
     * @return the count, at least 1
     */
    public int size() {
        return layers.length;
    }

    @Override
    public Map<String, Object> spec() {
        return spec("Sequential", "layers", List.of(layers));
    }

    @Override
    public Tensor forward(Tensor input) {
        Tensor x = input;
        for (int i = 0; i < layers.length; i++) {
            // In evaluation without recording, Conv2d → BatchNorm2d (→ ReLU) and Conv2d → ReLU run as one
            // fused primitive each.
            if (layers[i] instanceof Conv2d conv && i + 1 < layers.length) {
                BatchNorm bn = layers[i + 1] instanceof BatchNorm b ? b : null;
                int next = bn == null ? i + 1 : i + 2;
                boolean relu = next < layers.length && layers[next] instanceof ReLU;
                if ((bn != null || relu) && ConvBnFusion.applies(conv, bn)) {
                    x = ConvBnFusion.forward(x, conv, bn, relu ? Convolution.Fusion.RELU : Convolution.Fusion.NONE,
                            null);
                    i = relu ? next : next - 1;
                    continue;
                }
            }
            // BatchNorm → ReLU runs as Norm.batchNormRelu: in training one fused pass each way.
            if (layers[i] instanceof BatchNorm bn && i + 1 < layers.length && layers[i + 1] instanceof ReLU) {
                x = bn.forwardThenRelu(x);
                i++;
                continue;
            }
            // ReLU → MaxPool2d runs as Pool.maxPool2dAfterRelu: with a gradient to record, one max pooling
            // of relu(x), which saves the ReLU's passes over the larger, unpooled tensor.
            if (layers[i] instanceof ReLU && i + 1 < layers.length && layers[i + 1] instanceof MaxPool2d pool) {
                x = pool.forwardAfterRelu(x);
                i++;
                continue;
            }
            x = layers[i].forward(x);
        }
        return x;
    }

    @Override
    protected Tensor summarize(Tensor input, String name, List<String[]> rows) {
        Tensor x = input;
        for (int i = 0; i < layers.length; i++) {
            x = layers[i].summarize(x, name.isEmpty() ? Integer.toString(i) : name + "." + i, rows);
        }
        return x;
    }
}
