package dev.gatun.bench.workloads;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Initial weights and the fixed mini-batch of a workload, written by {@code bench/python/workloads.py}
 * so that gatun and PyTorch start from the same numbers: {@code NAME.txt} has one line per array,
 * {@code name dims offset count} (dims comma-separated, offset and count in floats), and
 * {@code NAME.bin} holds the little-endian float32 values.
 */
public final class Exchange {

    /** One named array. */
    public record Array(String name, long[] shape, float[] values) {}

    private final Map<String, Array> arrays;

    private Exchange(Map<String, Array> arrays) {
        this.arrays = arrays;
    }

    /** Reads {@code dir/name.txt} and {@code dir/name.bin}, checking every offset against the file. */
    public static Exchange read(Path dir, String name) throws IOException {
        List<String> lines = Files.readAllLines(dir.resolve(name + ".txt"));
        byte[] bytes = Files.readAllBytes(dir.resolve(name + ".bin"));
        if (bytes.length % 4 != 0) {
            throw new IOException(name + ".bin has " + bytes.length + " bytes, not a whole number of floats");
        }
        ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long floats = bytes.length / 4;
        Map<String, Array> arrays = new LinkedHashMap<>();
        for (String line : lines) {
            if (line.isBlank()) continue;
            String[] f = line.trim().split("\\s+");
            if (f.length != 4) throw new IOException("bad line in " + name + ".txt: " + line);
            long[] shape = f[1].equals("-") ? new long[0] : Arrays.stream(f[1].split(",")).mapToLong(Long::parseLong).toArray();
            long offset = Long.parseLong(f[2]);
            int count = Integer.parseInt(f[3]);
            long expected = Arrays.stream(shape).reduce(1, (a, b) -> a * b);
            if (expected != count || offset < 0 || offset + count > floats) {
                throw new IOException("array " + f[0] + " in " + name + ": shape " + f[1] + ", offset " + offset
                        + ", count " + count + " do not fit " + floats + " floats");
            }
            float[] v = new float[count];
            for (int i = 0; i < count; i++) v[i] = buf.getFloat((int) ((offset + i) * 4));
            arrays.put(f[0], new Array(f[0], shape, v));
        }
        return new Exchange(arrays);
    }

    /** The array called {@code name}. */
    public Array get(String name) {
        Array a = arrays.get(name);
        if (a == null) throw new IllegalArgumentException("no array '" + name + "' in the exchange; have " + arrays.keySet());
        return a;
    }

    /** The array's values as class indices. */
    public int[] labels(String name) {
        float[] v = get(name).values();
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) out[i] = (int) v[i];
        return out;
    }
}
