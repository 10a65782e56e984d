package dev.gatun.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.data.Vocabulary;
import dev.gatun.ops.Loss;
import dev.gatun.optim.Adam;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The lecture's toy character model: the vocabulary {h, e, l, o}, one-hot inputs "hell", targets
 * "ello". The second l must be followed by o where the first is followed by l, which only a hidden
 * state that remembers what came before can tell apart.
 */
class HelloRnnTest {

    /** One-hot [T, 1, V] of the ids. */
    private static Tensor oneHot(int[] ids, int v) {
        float[] x = new float[ids.length * v];
        for (int t = 0; t < ids.length; t++) x[t * v + ids[t]] = 1;
        return Tensor.fromArray(x, ids.length, 1, v);
    }

    @Test
    void anRnnLearnsToContinueHellWithO() {
        Vocabulary vocabulary = Vocabulary.ofSymbols("helo");
        int[] input = vocabulary.encode("hell");
        Init.manualSeed(1);
        try (RNN rnn = new RNN(4, 8); Linear head = new Linear(8, 4);
             Adam adam = new Adam(concat(rnn, head), 0.05);
             Scope _ = Scope.open()) {
            Tensor x = oneHot(input, 4);
            Tensor target = Tensor.fromLongs(Arrays.stream(vocabulary.encode("ello")).asLongStream().toArray(), 4);
            float first = Float.NaN;
            float last = Float.NaN;
            for (int step = 0; step < 150; step++) {
                try (Scope s = Scope.open()) {
                    adam.zeroGrad();
                    Tensor logits = head.forward(rnn.forward(x)).reshape(4, 4); // [T, N = 1, V] -> [T, V]
                    Tensor loss = Loss.crossEntropy(logits, target);
                    loss.backward();
                    adam.step();
                    last = loss.item();
                    if (step == 0) first = last;
                }
            }
            assertTrue(last < 0.05 * first, "the loss fell from " + first + " to " + last);
            long[] predicted = head.forward(rnn.forward(x)).reshape(4, 4).argmax(1).toLongArray();
            int[] ids = Arrays.stream(predicted).mapToInt(l -> (int) l).toArray();
            assertEquals("ello", vocabulary.decode(ids), "after h, e, l, l come e, l, l, o");
        }
    }

    private static List<Tensor> concat(Module a, Module b) {
        List<Tensor> all = new ArrayList<>(a.parameters());
        all.addAll(b.parameters());
        return all;
    }
}
