package dev.gatun.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.autograd.Autograd;
import dev.gatun.data.DataLoader;
import dev.gatun.data.DataLoader.Batch;
import dev.gatun.data.DataLoader.LastBatch;
import dev.gatun.data.DataLoader.Order;
import dev.gatun.data.Dataset;
import dev.gatun.data.TokenStreams;
import dev.gatun.data.Vocabulary;
import dev.gatun.nn.CharRnn;
import dev.gatun.nn.Init;
import dev.gatun.nn.RecurrentLayer;
import dev.gatun.ops.Loss;
import dev.gatun.optim.Adam;
import dev.gatun.optim.SGD;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The fit loop training and evaluating character language models: per-token losses, carried state. */
class LanguageModelTrainerTest {

    /** A text of words drawn from a few, so that a small model learns something in a few epochs. */
    private static String text(int words, long seed) {
        String[] vocabulary = {"the", "cat", "sat", "on", "mat", "a", "dog", "ran"};
        SplittableRandom rng = new SplittableRandom(seed);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < words; i++) {
            sb.append(vocabulary[rng.nextInt(vocabulary.length)]).append(i % 9 == 8 ? ".\n" : " ");
        }
        return sb.toString();
    }

    private static final Vocabulary VOCABULARY = Vocabulary.of(text(500, 1));

    @Test
    void perTokenLossFallsAndEpochLinesGiveBitsPerChar() throws IOException {
        Init.manualSeed(1);
        DataLoader train = TokenStreams.loader(VOCABULARY.encode(text(400, 2)), 4, 16);
        DataLoader val = TokenStreams.loader(VOCABULARY.encode(text(100, 3)), 4, 16);
        try (CharRnn model = new CharRnn(CharRnn.Cell.LSTM, VOCABULARY.size(), 8, 32, 1, 0f);
             Adam adam = new Adam(model.parameters(), 0.01)) {
            ByteArrayOutputStream log = new ByteArrayOutputStream();
            Trainer.History h = Trainer.fit(model, adam, Trainer.Task.nextToken(), train, val,
                    Trainer.Config.of(4).withGradClip(1).withOut(new PrintStream(log, true, StandardCharsets.UTF_8)));
            Trainer.EpochResult first = h.epochs().getFirst();
            Trainer.EpochResult last = h.epochs().getLast();
            assertTrue(last.validationLoss() < 0.8 * first.validationLoss(), h.toString());
            assertTrue(last.validationLoss() < Math.log(VOCABULARY.size()), "below a uniform guess");
            assertTrue(last.validationAccuracy() > 0.3, h.toString());
            String text = log.toString(StandardCharsets.UTF_8);
            String expected = String.format(java.util.Locale.ROOT, "val loss %.4f (%.3f bits/char)",
                    last.validationLoss(), last.validationLoss() / Math.log(2));
            assertTrue(text.contains(expected), text);
            assertTrue(text.contains(" chars/s"), text);
            // seen counts tokens: B · T per batch
            assertEquals(train.numBatches() * 4 * 16 / last.seconds(), last.samplesPerSecond(),
                    1e-6 * last.samplesPerSecond());
            Trainer.Evaluation e = Trainer.evaluate(model, Trainer.Task.nextToken(), val);
            assertEquals(val.numBatches() * 4 * 16, e.samples());
            assertEquals(last.validationLoss(), e.loss(), 1e-6, "evaluation is repeatable: the state restarts");
        }
    }

    /** The mean cross-entropy of running the streams whole, [B, C·T] at once, from a zero state. */
    private static double wholeStreamLoss(CharRnn model, DataLoader loader) {
        int b = loader.batchSize();
        List<long[]> inputs = new ArrayList<>();
        List<long[]> targets = new ArrayList<>();
        long t = 0;
        try (Scope s = Scope.open()) {
            for (Batch batch : loader.epoch(0)) {
                inputs.add(batch.inputs().toLongArray());
                targets.add(batch.targets().toLongArray());
                t = batch.inputs().size(1);
            }
        }
        int c = inputs.size();
        long[] x = new long[(int) (b * c * t)];
        long[] y = new long[x.length];
        for (int j = 0; j < c; j++) {
            for (int row = 0; row < b; row++) {
                System.arraycopy(inputs.get(j), (int) (row * t), x, (int) (row * c * t + j * t), (int) t);
                System.arraycopy(targets.get(j), (int) (row * t), y, (int) (row * c * t + j * t), (int) t);
            }
        }
        model.eval();
        try (Scope s = Scope.open(); Autograd.NoGrad ignored = Autograd.noGrad()) {
            Tensor logits = model.forward(Tensor.fromLongs(x, b, c * t));
            return Loss.crossEntropy(logits.reshape(x.length, logits.size(2)), Tensor.fromLongs(y, x.length)).item();
        } finally {
            model.train();
        }
    }

    @Test
    void theStateCarriesFromEachBatchToTheNext() {
        Init.manualSeed(2);
        DataLoader loader = TokenStreams.loader(VOCABULARY.encode(text(200, 4)), 3, 10);
        assertTrue(loader.numBatches() >= 3);
        for (CharRnn.Cell cell : CharRnn.Cell.values()) {
            try (CharRnn model = new CharRnn(cell, VOCABULARY.size(), 6, 12, 2, 0f)) {
                double carried = Trainer.evaluate(model, Trainer.Task.nextToken(), loader).loss();
                assertEquals(wholeStreamLoss(model, loader), carried, 1e-5, cell + ": batches continue the streams");
                // Without the state, each batch starts from zeros: another loss.
                DataLoader shuffledOnce = new DataLoader(loader.dataset(), 3, Order.sequential(), LastBatch.DROP);
                Trainer.Task fresh = new Trainer.Task() {
                    @Override
                    public Trainer.BatchLoss step(dev.gatun.nn.Module m, Batch batch) {
                        Tensor logits = m.forward(batch.inputs());
                        long n = batch.targets().numel();
                        return new Trainer.BatchLoss(Loss.crossEntropy(logits.reshape(n, logits.size(2)),
                                batch.targets().reshape(n)), n, 0);
                    }
                };
                assertNotEquals(carried, Trainer.evaluate(model, fresh, shuffledOnce).loss(), 1e-4);
            }
        }
    }

    @Test
    void trainingEqualsTruncatedBackpropagationByHand() throws IOException {
        int[] ids = VOCABULARY.encode(text(150, 5));
        DataLoader loader = TokenStreams.loader(ids, 2, 12);
        float[][] byTrainer;
        Init.manualSeed(3);
        try (CharRnn model = new CharRnn(CharRnn.Cell.LSTM, VOCABULARY.size(), 5, 7, 2, 0f);
             SGD sgd = new SGD(model.parameters(), 0.5)) {
            Trainer.fit(model, sgd, Trainer.Task.nextToken(), loader, null, Trainer.Config.of(2).withOut(null));
            byTrainer = model.parameters().stream().map(Tensor::toArray).toArray(float[][]::new);
        }
        Init.manualSeed(3);
        try (CharRnn model = new CharRnn(CharRnn.Cell.LSTM, VOCABULARY.size(), 5, 7, 2, 0f);
             SGD sgd = new SGD(model.parameters(), 0.5);
             Scope run = Scope.open()) {
            for (int epoch = 0; epoch < 2; epoch++) {
                RecurrentLayer.State state = null;
                for (Batch batch : loader.epoch(epoch)) {
                    sgd.zeroGrad();
                    CharRnn.Output out = model.forward(batch.inputs(), state);
                    long n = batch.targets().numel();
                    Loss.crossEntropy(out.logits().reshape(n, VOCABULARY.size()), batch.targets().reshape(n))
                            .backward();
                    sgd.step();
                    state = out.state().detach();
                }
            }
            List<Tensor> p = model.parameters();
            for (int i = 0; i < p.size(); i++) {
                assertArrayEquals(p.get(i).toArray(), byTrainer[i], 1e-5f, "parameter " + i);
            }
        }
    }

    @Test
    void gradientClippingBoundsEachStep() throws IOException {
        int[] ids = VOCABULARY.encode(text(60, 6));
        DataLoader one = new DataLoader(TokenStreams.dataset(ids, 2, 8), 2, Order.sequential(), LastBatch.DROP);
        DataLoader first = new DataLoader(((dev.gatun.data.TensorDataset) one.dataset()).subset(new int[] {0, 1}), 2,
                Order.sequential(), LastBatch.DROP);
        for (double clip : new double[] {0, 1e-3}) {
            Init.manualSeed(4);
            try (CharRnn model = new CharRnn(CharRnn.Cell.GRU, VOCABULARY.size(), 4, 6, 1, 0f);
                 SGD sgd = new SGD(model.parameters(), 1.0)) {
                float[][] before = model.parameters().stream().map(Tensor::toArray).toArray(float[][]::new);
                Trainer.fit(model, sgd, Trainer.Task.nextToken(), first, null,
                        Trainer.Config.of(1).withOut(null).withGradClip(clip));
                double moved = 0;
                List<Tensor> p = model.parameters();
                for (int i = 0; i < p.size(); i++) {
                    float[] after = p.get(i).toArray();
                    for (int k = 0; k < after.length; k++) moved += Math.pow(after[k] - before[i][k], 2);
                }
                moved = Math.sqrt(moved);
                if (clip > 0) {
                    assertEquals(clip, moved, 1e-5, "one SGD step of rate 1 moves by the clipped norm");
                } else {
                    assertTrue(moved > 0.01, "unclipped, the step is larger: " + moved);
                }
            }
        }
        assertThrows(IllegalArgumentException.class, () -> Trainer.Config.of(1).withGradClip(-1));
        assertThrows(IllegalArgumentException.class, () -> Trainer.Config.of(1).withGradClip(Double.NaN));
    }

    @Test
    void loadersTheTaskCannotUseAreRefusedUpFront() {
        int[] ids = VOCABULARY.encode(text(60, 7));
        try (CharRnn model = new CharRnn(CharRnn.Cell.RNN, VOCABULARY.size(), 4, 6, 1, 0f);
             SGD sgd = new SGD(model.parameters(), 0.1)) {
            DataLoader shuffled = new DataLoader(TokenStreams.dataset(ids, 2, 8), 2, Order.shuffled(1),
                    LastBatch.DROP);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Trainer.fit(model, sgd,
                    Trainer.Task.nextToken(), shuffled, null, Trainer.Config.of(1).withOut(null)));
            assertTrue(e.getMessage().startsWith("the training loader must visit its batches in order"),
                    e.getMessage());
            DataLoader labels = new DataLoader(Dataset.of(new float[4], new int[] {0, 1}, 2, 2), 2,
                    Order.sequential(), LastBatch.KEEP);
            e = assertThrows(IllegalArgumentException.class, () -> Trainer.evaluate(model,
                    Trainer.Task.nextToken(), labels));
            assertTrue(e.getMessage().startsWith("a language model's evaluation loader must read a TensorDataset"),
                    e.getMessage());
            assertEquals(0, sgd.steps());
        }
    }
}
