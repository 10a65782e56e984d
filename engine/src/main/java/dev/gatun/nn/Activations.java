package dev.gatun.nn;

import dev.gatun.ops.Activation;
import dev.gatun.tensor.Tensor;
import java.util.Map;

/** Activation layers: parameter-free modules around {@link Activation}. */
public final class Activations {

    private Activations() {}

    /** max(0, x). */
    public static final class ReLU extends Module {

        @Override
        public Map<String, Object> spec() {
            return spec("ReLU");
        }
        @Override
        public Tensor forward(Tensor x) {
            return Activation.relu(x);
        }
    }

    /** x for x > 0, slope·x otherwise (PyTorch's default slope 0.01). */
    public static final class LeakyReLU extends Module {

        @Override
        public Map<String, Object> spec() {
            return spec("LeakyReLU", "slope", slope);
        }
        private final float slope;

        public LeakyReLU() {
            this(0.01f);
        }

        public LeakyReLU(float slope) {
            this.slope = slope;
        }

        @Override
        public Tensor forward(Tensor x) {
            return Activation.leakyRelu(x, slope);
        }

        @Override
        public String describe() {
            return "LeakyReLU(" + slope + ")";
        }
    }

    /** The logistic sigmoid. */
    public static final class Sigmoid extends Module {

        @Override
        public Map<String, Object> spec() {
            return spec("Sigmoid");
        }
        @Override
        public Tensor forward(Tensor x) {
            return Activation.sigmoid(x);
        }
    }

    /** The hyperbolic tangent. */
    public static final class Tanh extends Module {

        @Override
        public Map<String, Object> spec() {
            return spec("Tanh");
        }
        @Override
        public Tensor forward(Tensor x) {
            return Activation.tanh(x);
        }
    }

    /** The exact GELU, x·Φ(x). */
    public static final class GELU extends Module {

        @Override
        public Map<String, Object> spec() {
            return spec("GELU");
        }
        @Override
        public Tensor forward(Tensor x) {
            return Activation.gelu(x);
        }
    }

    /** Softmax along a dimension (default: the last). */
    public static final class Softmax extends Module {

        @Override
        public Map<String, Object> spec() {
            return spec("Softmax", "dim", dim);
        }
        private final int dim;

        public Softmax() {
            this(-1);
        }

        public Softmax(int dim) {
            this.dim = dim;
        }

        @Override
        public Tensor forward(Tensor x) {
            return Activation.softmax(x, dim);
        }
    }

    /** Log-softmax along a dimension (default: the last). */
    public static final class LogSoftmax extends Module {

        @Override
        public Map<String, Object> spec() {
            return spec("LogSoftmax", "dim", dim);
        }
        private final int dim;

        public LogSoftmax() {
            this(-1);
        }

        public LogSoftmax(int dim) {
            this.dim = dim;
        }

        @Override
        public Tensor forward(Tensor x) {
            return Activation.logSoftmax(x, dim);
        }
    }
}
