package dev.gatun.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.cli.Gatun;
import dev.gatun.data.IdxFiles;
import dev.gatun.io.SafeTensors;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code gatun train ... --checkpoint-dir --checkpoint-every --resume} end to end on small synthetic digits. */
class CheckpointCliTest {

    private static void writeDigits(Path dir, String prefix, int n, long seed) throws IOException {
        IdxFiles.writeDigits(dir, prefix, n, seed);
    }

    private record Run(int code, String out, String err) {}

    private static Run gatun(Path data, String... extra) {
        List<String> args = new ArrayList<>(List.of("train", "mlp", "--data", data.toString(), "--hidden", "24",
                "--dropout", "0.3", "--epochs", "3", "--batch-size", "25", "--optimizer", "adam", "--lr", "0.01",
                "--schedule", "step", "--seed", "5"));
        for (int i = 0; i < extra.length; i++) {
            int at = args.indexOf(extra[i]);
            if (at >= 0 && i + 1 < extra.length && extra[i].startsWith("--")) {
                args.set(at + 1, extra[++i]); // another value for one of the options above
            } else {
                args.add(extra[i]);
            }
        }
        PrintStream saved = System.out;
        PrintStream savedErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        StringWriter errWriter = new StringWriter();
        int code;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            code = Gatun.run(new PrintWriter(new StringWriter()), new PrintWriter(errWriter, true),
                    args.toArray(String[]::new));
        } finally {
            System.setOut(saved);
            System.setErr(savedErr);
        }
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8) + errWriter);
    }

    private static int[] bits(Path model) throws IOException {
        List<Integer> out = new ArrayList<>();
        try (SafeTensors st = SafeTensors.open(model)) {
            for (String name : new java.util.TreeSet<>(st.entries().keySet())) {
                var b = st.bytes(name).toArray(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED);
                for (int v : b) out.add(v);
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    @Test
    void resumedRunSavesTheModelOfAnUninterruptedOne(@TempDir Path dir) throws IOException {
        Path data = dir.resolve("data");
        writeDigits(data, "train", 330, 1); // 303 to train after the validation split: 13 batches per epoch
        writeDigits(data, "t10k", 60, 2);
        Path full = dir.resolve("full.safetensors");
        Run a = gatun(data, "--save", full.toString());
        assertEquals(0, a.code(), a.out() + a.err());

        Path ckpt = dir.resolve("ckpt");
        Path first = dir.resolve("first.safetensors");
        Run b = gatun(data, "--checkpoint-dir", ckpt.toString(), "--checkpoint-every", "4", "--save", first.toString());
        assertEquals(0, b.code(), b.out() + b.err());
        assertArrayEquals(bits(full), bits(first), "checkpointing does not change the run");
        List<Path> files = Checkpoint.list(ckpt);
        assertEquals(3, files.size(), files.toString());

        // Resume from the mid-epoch checkpoint of step 36 (13 batches per epoch: epoch 3, batch 10).
        Path mid = ckpt.resolve(Checkpoint.fileName(36));
        assertEquals(mid, files.get(1));
        Path resumed = dir.resolve("resumed.safetensors");
        Run c = gatun(data, "--resume", mid.toString(), "--save", resumed.toString());
        assertEquals(0, c.code(), c.out() + c.err());
        assertTrue(c.out().contains("resuming from " + mid + " at epoch 3, batch 10"), c.out());
        assertArrayEquals(bits(full), bits(resumed), "resumed from " + mid);

        // A damaged checkpoint: one line naming the file; from the directory, the one before it is used.
        byte[] good = Files.readAllBytes(mid);
        byte[] bytes = good.clone();
        bytes[bytes.length - 8] ^= 1;
        Files.write(mid, bytes);
        Run d = gatun(data, "--resume", mid.toString());
        assertEquals(1, d.code(), d.out() + d.err());
        assertEquals(1, d.err().lines().count(), d.err());
        assertTrue(d.err().startsWith("gatun: " + mid + ": checksum mismatch"), d.err());

        Files.write(mid, good);
        Path newest = Checkpoint.list(ckpt).getLast();
        Files.write(newest, new byte[] {1, 2, 3});
        Path fromDir = dir.resolve("fromdir.safetensors");
        Run e = gatun(data, "--resume", ckpt.toString(), "--save", fromDir.toString());
        assertEquals(0, e.code(), e.out() + e.err());
        assertTrue(e.err().startsWith("warning: skipping bad checkpoint " + newest + ": file of 3 bytes"), e.err());
        assertEquals(1, e.err().lines().count(), e.err());
        assertArrayEquals(bits(full), bits(fromDir), "resumed from the directory");

        Run f = gatun(data, "--checkpoint-every", "3");
        assertEquals(2, f.code(), f.err());
        assertTrue(f.err().contains("--checkpoint-every 3 needs --checkpoint-dir"), f.err());

        // Resumed with another learning rate, or more epochs of a schedule that depends on them: refused,
        // where the checkpoint's schedule would have overridden the rate asked for without a word.
        Run g = gatun(data, "--resume", mid.toString(), "--lr", "0.5");
        assertEquals(1, g.code(), g.out() + g.err());
        assertTrue(g.err().contains("learning-rate schedule gives 0.01 at epoch 1, this run's gives 0.5"), g.err());
        Run h = gatun(data, "--resume", mid.toString(), "--schedule", "cosine");
        assertEquals(1, h.code(), h.out() + h.err());
        assertTrue(h.err().contains("schedule"), h.err());
    }
}
