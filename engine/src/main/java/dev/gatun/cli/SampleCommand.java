package dev.gatun.cli;

import dev.gatun.data.Vocabulary;
import dev.gatun.io.ModelFile;
import dev.gatun.io.ModelFileException;
import dev.gatun.io.SafeTensors;
import dev.gatun.nn.CharRnn;
import dev.gatun.nn.GPT;
import dev.gatun.nn.Module;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code gatun sample}: text from a character language model saved by {@code gatun train charlm --save} or
 * {@code gatun train chargpt --save}.
 */
@Command(name = "sample", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Generate text with a character language model saved by gatun train charlm --save or chargpt"
                + " --save: the prompt, then characters drawn one at a time, each fed back with the model's state (a"
                + " recurrent model's hidden state, a GPT's cached keys and values) kept.",
                "Prints the prompt and the generated text."})
final class SampleCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, description = "The model file (safetensors with its vocabulary).")
    Path model;

    @Option(names = "--prompt", description = "Text to start from (default: \"${DEFAULT-VALUE}\").")
    String prompt = "The ";

    @Option(names = "--length", description = "Characters to generate (default: ${DEFAULT-VALUE}).")
    int length = 500;

    @Option(names = "--temperature", description = "Divides the logits; below 1 is more conservative, 0 picks the"
            + " likeliest character (default: ${DEFAULT-VALUE}).")
    double temperature = 0.8;

    @Option(names = "--top-k", description = "Draw among the k likeliest characters; 0 for all"
            + " (default: ${DEFAULT-VALUE}).")
    int topK = 0;

    @Option(names = "--seed", description = "Seed of the draws (default: ${DEFAULT-VALUE}).")
    long seed = 1;

    @Override
    public Integer call() throws Exception {
        Checks checks = new Checks(spec.commandLine());
        checks.atLeast("--length", length, 0)
                .nonNegative("--temperature", temperature)
                .atLeast("--top-k", topK, 0)
                .require(!prompt.isEmpty(), "--prompt needs at least one character");
        checks.throwIfAny();
        Vocabulary vocabulary = Vocabulary.read(model);
        int[] ids;
        try {
            ids = vocabulary.encode(prompt);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--prompt: " + e.getMessage());
        }
        if ("GPT".equals(architectureType(model))) {
            try (Module m = ModelFile.load(model)) {
                if (!(m instanceof GPT gpt)) {
                    throw new ModelFileException(model, "the file holds a " + m.getClass().getSimpleName()
                            + ", not a character model");
                }
                if (gpt.config().vocabSize() != vocabulary.size()) {
                    throw new ModelFileException(model, "the model has " + gpt.config().vocabSize()
                            + " characters, its vocabulary " + vocabulary.size());
                }
                long[] p = java.util.Arrays.stream(ids).asLongStream().toArray();
                GPT.Sampling how = temperature == 0 ? GPT.Sampling.greedy()
                        : GPT.Sampling.sample((float) temperature, topK);
                long[] all = gpt.generate(p, length, how, new SplittableRandom(seed));
                int[] generated = java.util.Arrays.stream(all, p.length, all.length).mapToInt(v -> (int) v).toArray();
                System.out.println(prompt + vocabulary.decode(generated));
            }
            return 0;
        }
        try (CharRnn m = CharRnn.load(model)) {
            if (m.vocabularySize() != vocabulary.size()) {
                throw new ModelFileException(model, "the model has " + m.vocabularySize()
                        + " characters, its vocabulary " + vocabulary.size());
            }
            int[] generated = m.sample(ids, length, temperature, topK, new SplittableRandom(seed));
            System.out.println(prompt + vocabulary.decode(generated));
        }
        return 0;
    }

    /** The type the file's architecture names first ({@code CharRnn}, {@code GPT}, ...), or null. */
    private static String architectureType(Path file) throws java.io.IOException {
        try (SafeTensors st = SafeTensors.open(file)) {
            String arch = st.metadata().get(ModelFile.ARCHITECTURE_KEY);
            java.util.regex.Matcher m = arch == null ? null
                    : java.util.regex.Pattern.compile("^\\{\"type\":\"(\\w+)\"").matcher(arch);
            return m != null && m.find() ? m.group(1) : null;
        }
    }
}
