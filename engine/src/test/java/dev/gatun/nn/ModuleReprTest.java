package dev.gatun.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.gatun.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * {@code toString()} prints the architecture as PyTorch's {@code repr} does (booleans and floats as Java
 * writes them); the expected strings are PyTorch 1.13's for the same modules.
 */
class ModuleReprTest {

    @Test
    void aSequentialPrintsItsChildrenByIndex() {
        try (Sequential net = new Sequential(new Linear(784, 128), new ReLU(),
                new Sequential(new Linear(128, 10, false), new LogSoftmax(1)))) {
            assertEquals("""
                    Sequential(
                      (0): Linear(in_features=784, out_features=128, bias=true)
                      (1): ReLU()
                      (2): Sequential(
                        (0): Linear(in_features=128, out_features=10, bias=false)
                        (1): LogSoftmax(dim=1)
                      )
                    )""", net.toString());
        }
    }

    /** A custom module: children by field name, its own settings first. */
    private static final class Encoder extends Module {
        private final Conv2d conv = new Conv2d(1, 8, 3, 1, 1);
        private final BatchNorm2d bn = new BatchNorm2d(8);
        private final MaxPool2d pool = new MaxPool2d(2);
        private final Sequential head = new Sequential(new Flatten(), new Dropout(0.25f), new Linear(8 * 14 * 14, 10));

        @Override
        public Tensor forward(Tensor x) {
            return head.forward(pool.forward(bn.forward(conv.forward(x))));
        }

        @Override
        protected String extraRepr() {
            return "input=1x28x28";
        }
    }

    @Test
    void aCustomModulePrintsItsSettingsThenItsChildrenByName() {
        try (Encoder e = new Encoder()) {
            assertEquals("""
                    Encoder(
                      input=1x28x28
                      (conv): Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
                      (bn): BatchNorm2d(8, eps=1.0E-5, momentum=0.1, affine=true, track_running_stats=true)
                      (pool): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1)
                      (head): Sequential(
                        (0): Flatten(start_dim=1, end_dim=-1)
                        (1): Dropout(p=0.25)
                        (2): Linear(in_features=1568, out_features=10, bias=true)
                      )
                    )""", e.toString());
        }
    }

    @Test
    void eachLayerPrintsItsSettings() {
        assertEquals("Conv2d(1, 20, kernel_size=(3, 3), stride=(1, 2), dilation=(2, 2), bias=false)",
                new Conv2d(1, 20, new int[] {3, 3}, new int[] {1, 2}, new int[] {0, 0}, new int[] {2, 2}, 1, false)
                        .toString());
        assertEquals("Conv2d(4, 8, kernel_size=(3, 3), stride=(1, 1), groups=2)",
                new Conv2d(4, 8, new int[] {3, 3}, new int[] {1, 1}, new int[] {0, 0}, new int[] {1, 1}, 2, true)
                        .toString());
        assertEquals("BatchNorm1d(8, eps=1.0E-5, momentum=0.1, affine=false, track_running_stats=true)",
                new BatchNorm1d(8, 1e-5f, 0.1f, false).toString());
        assertEquals("LayerNorm((5,), eps=1.0E-5, elementwise_affine=true)", new LayerNorm(5).toString());
        assertEquals("AvgPool2d(kernel_size=2, stride=2, padding=0)", new AvgPool2d(2).toString());
        assertEquals("AdaptiveAvgPool2d(output_size=1)", new AdaptiveAvgPool2d(1).toString());
        assertEquals("LeakyReLU(negative_slope=0.01)", new LeakyReLU().toString());
        assertEquals("Softmax(dim=-1)", new Softmax().toString());
        assertEquals("Sigmoid()", new Sigmoid().toString());
        assertEquals("Tanh()", new Tanh().toString());
        assertEquals("GELU()", new GELU().toString());
        assertEquals("LSTM(10, 20, num_layers=2, batch_first=true)",
                new LSTM(10, 20, RecurrentLayer.Options.defaults().withLayers(2).withBatchFirst(true)).toString());
        assertEquals("GRU(3, 4, num_layers=2, bias=false, dropout=0.1, bidirectional=true)",
                new GRU(3, 4, new RecurrentLayer.Options(2, false, false, true, 0.1f)).toString());
        assertEquals("RNN(3, 4)", new RNN(3, 4).toString());
        assertEquals("""
                BasicBlock(
                  (conv1): Conv2d(8, 16, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=false)
                  (bn1): BatchNorm2d(16, eps=1.0E-5, momentum=0.1, affine=true, track_running_stats=true)
                  (conv2): Conv2d(16, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=false)
                  (bn2): BatchNorm2d(16, eps=1.0E-5, momentum=0.1, affine=true, track_running_stats=true)
                  (downsample): Sequential(
                    (0): Conv2d(8, 16, kernel_size=(1, 1), stride=(2, 2), bias=false)
                    (1): BatchNorm2d(16, eps=1.0E-5, momentum=0.1, affine=true, track_running_stats=true)
                  )
                )""", new BasicBlock(8, 16, 2).toString());
    }

    @Test
    void aModuleWithoutSettingsOrChildrenPrintsItsName() {
        Module m = new Module() {
            @Override
            public Tensor forward(Tensor x) {
                return x;
            }
        };
        assertEquals(m.getClass().getName() + "()", m.toString());
    }
}
