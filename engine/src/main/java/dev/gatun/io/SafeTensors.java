package dev.gatun.io;

import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Reads and writes files in the <a href="https://github.com/huggingface/safetensors">safetensors</a> format:
 * an 8-byte little-endian header length N, N bytes of UTF-8 JSON mapping each tensor name to its
 * {@code dtype}, {@code shape} and {@code data_offsets} (plus an optional {@code __metadata__} object of
 * strings), then the tensors' bytes, little-endian and row-major.
 *
 * <p>{@link #open} checks every rule of the format before it trusts a byte: the header length (at most
 * {@value #MAX_HEADER_BYTES} bytes and within the file), strict UTF-8 and strict JSON (parsed by the
 * engine's own parser so that the engine has no third-party dependency; nesting and duplicate keys are
 * rejected), known dtypes, byte lengths equal to element count × dtype size (overflow-checked), offsets
 * contiguous from 0 without gaps or overlaps, and data ending exactly at the end of the file. Any violation is
 * a {@link ModelFileException} naming the file and the fault; no memory is allocated for a declared size
 * before it has been checked against the file. The file is mapped, not read, and tensors are copied out of
 * the mapping, so an open file holds the mapping until {@link #close}.
 *
 * <p>{@link Writer} writes atomically: to a temporary file in the same directory, forced to disk, then
 * renamed over the target, so a failed write never damages an existing file.
 */
public final class SafeTensors implements AutoCloseable {

    /** The largest header accepted, as in the reference implementation. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    /** The most dimensions a tensor may declare. */
    public static final int MAX_RANK = 64;

    private static final String METADATA = "__metadata__";
    private static final ValueLayout.OfFloat F32_LE =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64_LE =
            ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16_LE =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * One tensor of the file: its dtype, shape and byte range relative to the start of the data.
     *
     * @param name   the tensor's name
     * @param dtype  the element type
     * @param shape  the dimensions (empty for a scalar)
     * @param begin  the first byte, relative to the start of the data
     * @param end    one past the last byte
     */
    public record Entry(String name, StorageType dtype, long[] shape, long begin, long end) {
        /**
         * The number of elements: the product of the shape, 1 for a scalar. Cannot overflow, since
         * {@link SafeTensors#open} checks that the byte length fits 64 bits.
         *
         * @return the element count, 0 or more
         */
        public long numel() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }

        /**
         * The dimensions, outermost first.
         *
         * @return a copy of the shape (empty for a scalar)
         */
        @Override
        public long[] shape() {
            return shape.clone();
        }

        @Override
        public String toString() {
            return name + " " + dtype + Arrays.toString(shape) + " [" + begin + ", " + end + ")";
        }
    }

    private final Path file;
    private final Arena arena;
    private final MemorySegment map;
    private final long dataStart;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;

    private SafeTensors(Path file, Arena arena, MemorySegment map, long dataStart, Map<String, Entry> entries,
            Map<String, String> metadata) {
        this.file = file;
        this.arena = arena;
        this.map = map;
        this.dataStart = dataStart;
        this.entries = entries;
        this.metadata = metadata;
    }

    /**
     * Opens and validates {@code file}. The caller closes the result (which unmaps the file). The
     * result may be read from several threads at once, but must not be closed while another thread reads
     * it.
     *
     * @param file the file to open
     * @return the open file, its header parsed and checked
     * @throws java.nio.file.NoSuchFileException if the file does not exist
     * @throws ModelFileException when the file breaks a rule of the format
     * @throws IOException        when it cannot be read
     */
    public static SafeTensors open(Path file) throws IOException {
        if (Files.isDirectory(file)) {
            throw new ModelFileException(file, "is a directory, not a safetensors file");
        }
        if (Files.exists(file) && !Files.isRegularFile(file)) {
            // a FIFO or a device: its size says nothing, and mapping it fails or blocks
            throw new ModelFileException(file, "is not a regular file");
        }
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new ModelFileException(file, "file of " + size + " bytes is shorter than the 8-byte header "
                        + "length");
            }
            MemorySegment map = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long n = map.get(I64_LE, 0);
            if (n < 0 || n > MAX_HEADER_BYTES) {
                throw new ModelFileException(file, "header length " + Long.toUnsignedString(n)
                        + " exceeds the limit of "
                        + MAX_HEADER_BYTES + " bytes");
            }
            if (n > size - 8) {
                throw new ModelFileException(file, "header length " + n + " goes past the end of the file ("
                        + size + " bytes)");
            }
            if (n < 2) {
                throw new ModelFileException(file, "header length " + n + " is too short for a JSON object");
            }
            byte[] headerBytes = map.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE);
            String header;
            try {
                header = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(headerBytes))
                        .toString();
            } catch (CharacterCodingException e) {
                throw new ModelFileException(file, "header is not valid UTF-8", e);
            }
            if (header.charAt(0) != '{') {
                throw new ModelFileException(file, "header does not start with '{'");
            }
            Object json;
            try {
                json = Json.parse(header);
            } catch (Json.JsonException e) {
                throw new ModelFileException(file, "header: " + e.getMessage(), e);
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> top = (Map<String, Object>) json; // starts with '{', so an object
            Map<String, String> metadata = new LinkedHashMap<>();
            List<Entry> list = new ArrayList<>();
            for (var e : top.entrySet()) {
                if (e.getKey().equals(METADATA)) {
                    readMetadata(file, e.getValue(), metadata);
                } else {
                    list.add(readEntry(file, e.getKey(), e.getValue()));
                }
            }
            list.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
            long expected = 0;
            for (Entry en : list) {
                if (en.begin() != expected) {
                    throw new ModelFileException(file, "tensor '" + en.name() + "' starts at byte " + en.begin()
                            + " of the data, expected " + expected + (en.begin() > expected ? " (a gap)"
                                    : " (overlaps the previous tensor)"));
                }
                expected = en.end();
            }
            long dataBytes = size - 8 - n;
            if (expected != dataBytes) {
                throw new ModelFileException(file, "tensors end at byte " + expected + " of the data, but the file "
                        + "holds " + dataBytes + " bytes of data");
            }
            Map<String, Entry> byName = new LinkedHashMap<>();
            for (Entry en : list) {
                byName.put(en.name(), en);
            }
            return new SafeTensors(file, arena, map, 8 + n, Collections.unmodifiableMap(byName),
                    Collections.unmodifiableMap(metadata));
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    private static void readMetadata(Path file, Object v, Map<String, String> out) throws ModelFileException {
        if (!(v instanceof Map<?, ?> m)) {
            throw new ModelFileException(file, "__metadata__ must be an object of strings, got " + kind(v));
        }
        for (var e : m.entrySet()) {
            if (!(e.getValue() instanceof String s)) {
                throw new ModelFileException(file, "__metadata__ value of '" + e.getKey() + "' must be a string, got "
                        + kind(e.getValue()));
            }
            out.put((String) e.getKey(), s);
        }
    }

    private static String kind(Object v) {
        if (v instanceof Map) return "an object";
        if (v instanceof List) return "an array";
        if (v instanceof String) return "a string";
        if (v instanceof Json.Num n) return "the number " + n.text();
        if (v instanceof Boolean b) return b.toString();
        return "null";
    }

    private static Entry readEntry(Path file, String name, Object v) throws ModelFileException {
        String what = "tensor '" + name + "'";
        if (!(v instanceof Map<?, ?> m)) {
            throw new ModelFileException(file, what + " must be described by an object, got " + kind(v));
        }
        for (Object k : m.keySet()) {
            if (!k.equals("dtype") && !k.equals("shape") && !k.equals("data_offsets")) {
                throw new ModelFileException(file, what + " has an unknown field '" + k + "'");
            }
        }
        if (!(m.get("dtype") instanceof String dtypeName)) {
            throw new ModelFileException(file, what + " needs a string dtype, got " + kind(m.get("dtype")));
        }
        StorageType dtype = StorageType.byName(dtypeName);
        if (dtype == null) {
            throw new ModelFileException(file, what + " has unknown dtype '" + dtypeName + "'");
        }
        if (!(m.get("shape") instanceof List<?> shapeList)) {
            throw new ModelFileException(file, what + " needs a shape array, got " + kind(m.get("shape")));
        }
        if (shapeList.size() > MAX_RANK) {
            throw new ModelFileException(file, what + " has " + shapeList.size() + " dimensions, more than "
                    + MAX_RANK);
        }
        long[] shape = new long[shapeList.size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = nonNegative(file, what + " shape[" + i + "]", shapeList.get(i));
        }
        if (!(m.get("data_offsets") instanceof List<?> off) || off.size() != 2) {
            throw new ModelFileException(file, what + " needs data_offsets [begin, end], got "
                    + kind(m.get("data_offsets")));
        }
        long begin = nonNegative(file, what + " data_offsets[0]", off.get(0));
        long end = nonNegative(file, what + " data_offsets[1]", off.get(1));
        if (end < begin) {
            throw new ModelFileException(file, what + " ends (" + end + ") before it begins (" + begin + ")");
        }
        long count = 1;
        long bytes;
        try {
            for (long d : shape) {
                count = Math.multiplyExact(count, d);
            }
            bytes = Math.multiplyExact(count, (long) dtype.size());
        } catch (ArithmeticException e) {
            throw new ModelFileException(file, what + " of shape " + Arrays.toString(shape) + " has more elements "
                    + "than fit in 64 bits");
        }
        if (bytes != end - begin) {
            throw new ModelFileException(file, what + " of dtype " + dtype + " and shape " + Arrays.toString(shape)
                    + " needs " + bytes + " bytes, but data_offsets [" + begin + ", " + end + "] span "
                    + (end - begin));
        }
        return new Entry(name, dtype, shape, begin, end);
    }

    private static long nonNegative(Path file, String what, Object v) throws ModelFileException {
        Long l = v instanceof Json.Num n ? n.asLong() : null;
        if (l == null || l < 0) {
            throw new ModelFileException(file, what + " must be a non-negative integer, got " + kind(v));
        }
        return l;
    }

    /**
     * The file this was opened from.
     *
     * @return the path given to {@link #open(Path)}
     */
    public Path file() {
        return file;
    }

    /**
     * The {@code __metadata__} strings. Still readable after {@link #close()}.
     *
     * @return an unmodifiable map of key to value, empty when the file has none
     */
    public Map<String, String> metadata() {
        return metadata;
    }

    /**
     * The tensors' descriptions. Still readable after {@link #close()}.
     *
     * @return an unmodifiable map from name to entry, iterating in the order of the tensors' data
     */
    public Map<String, Entry> entries() {
        return entries;
    }

    /**
     * The description of one tensor.
     *
     * @param name the tensor's name
     * @return its entry
     * @throws ModelFileException if the file has no tensor of that name
     */
    public Entry entry(String name) throws ModelFileException {
        Entry e = entries.get(name);
        if (e == null) {
            throw new ModelFileException(file, "no tensor named '" + name + "'");
        }
        return e;
    }

    /**
     * The raw bytes of one tensor, as stored: little-endian, row-major, in the tensor's own dtype.
     *
     * @param name the tensor's name
     * @return a read-only slice of the file's mapping, of {@code end - begin} bytes; using it after
     *         {@link #close()} throws {@link IllegalStateException}
     * @throws ModelFileException if the file has no tensor of that name
     */
    public MemorySegment bytes(String name) throws ModelFileException {
        Entry e = entry(name);
        return map.asSlice(dataStart + e.begin(), e.end() - e.begin());
    }

    /**
     * A new float32 tensor holding one tensor of the file, converted from F64, F16 or BF16 if need be
     * (F64 values are rounded to the nearest float).
     *
     * @param name the tensor's name
     * @return a contiguous tensor of the entry's shape, in the calling thread's current {@link
     *         dev.gatun.tensor.Scope} or, with none, owning its memory (the caller closes it); it does not
     *         require a gradient and stays valid after this file is closed
     * @throws ModelFileException when the tensor is missing or of an integer or boolean type
     */
    public Tensor toTensor(String name) throws ModelFileException {
        Entry e = entry(name);
        checkFloating(e);
        Tensor t = Tensor.empty(e.shape());
        copy(e, t);
        return t;
    }

    /**
     * Copies one tensor of the file into an existing tensor, converting it to float32 as
     * {@link #toTensor(String)} does. Writes the target's memory directly: do it under
     * {@link dev.gatun.autograd.Autograd#noGrad()} when the target is a parameter.
     *
     * @param name   the tensor's name
     * @param target a float32 tensor of the same shape (it may be a non-contiguous view)
     * @throws ModelFileException when the tensor is missing, the shapes differ or the dtype cannot become
     *                            float32
     */
    public void copyInto(String name, Tensor target) throws ModelFileException {
        Entry e = entry(name);
        if (!Arrays.equals(e.shape, target.shape())) {
            throw new ModelFileException(file, "tensor '" + name + "' has shape " + Arrays.toString(e.shape)
                    + ", expected " + Arrays.toString(target.shape()));
        }
        checkFloating(e);
        if (target.isContiguous()) {
            copy(e, target);
        } else {
            Tensor tmp = Tensor.empty(e.shape());
            copy(e, tmp);
            target.copyFrom(tmp);
            tmp.close();
        }
    }

    private void checkFloating(Entry e) throws ModelFileException {
        if (!e.dtype().isFloating()) {
            throw new ModelFileException(file, "tensor '" + e.name() + "' has dtype " + e.dtype()
                    + "; a float32 tensor can be loaded only from F32, F64, F16 or BF16");
        }
    }

    private void copy(Entry e, Tensor t) {
        MemorySegment dst = t.storage();
        long base = t.offset() * Float.BYTES;
        long src = dataStart + e.begin();
        long n = e.numel();
        switch (e.dtype()) {
            case F32 -> MemorySegment.copy(map, F32_LE, src, dst, ValueLayout.JAVA_FLOAT, base, n);
            case F64 -> {
                for (long i = 0; i < n; i++) {
                    dst.set(ValueLayout.JAVA_FLOAT, base + 4 * i, (float) map.get(F64_LE, src + 8 * i));
                }
            }
            case F16 -> {
                for (long i = 0; i < n; i++) {
                    dst.set(ValueLayout.JAVA_FLOAT, base + 4 * i, Float.float16ToFloat(map.get(I16_LE, src + 2 * i)));
                }
            }
            case BF16 -> {
                for (long i = 0; i < n; i++) {
                    int bits = (map.get(I16_LE, src + 2 * i) & 0xffff) << 16;
                    dst.set(ValueLayout.JAVA_FLOAT, base + 4 * i, Float.intBitsToFloat(bits));
                }
            }
            default -> throw new IllegalStateException("not a floating dtype: " + e.dtype());
        }
    }

    /**
     * The values of an integer tensor (I64, I32, I16, I8, U8, U16, U32, BOOL) as longs. Unsigned types
     * are zero-extended, signed ones sign-extended, BOOL gives the stored byte (0 or 1 in a valid file).
     *
     * @param name the tensor's name
     * @return a new array of its elements, row-major
     * @throws ModelFileException when missing, floating, U64 or larger than an array can hold
     */
    public long[] toLongs(String name) throws ModelFileException {
        Entry e = entry(name);
        long n = e.numel();
        if (n > Integer.MAX_VALUE - 8) {
            throw new ModelFileException(file, "tensor '" + name + "' has " + n + " elements, too many for an array");
        }
        long src = dataStart + e.begin();
        long[] out = new long[(int) n];
        for (int i = 0; i < out.length; i++) {
            out[i] = switch (e.dtype()) {
                case I64 -> map.get(I64_LE, src + 8L * i);
                case I32 -> map.get(I32_LE, src + 4L * i);
                case U32 -> map.get(I32_LE, src + 4L * i) & 0xffffffffL;
                case I16 -> map.get(I16_LE, src + 2L * i);
                case U16 -> map.get(I16_LE, src + 2L * i) & 0xffff;
                case I8 -> map.get(ValueLayout.JAVA_BYTE, src + i);
                case U8, BOOL -> map.get(ValueLayout.JAVA_BYTE, src + i) & 0xff;
                default -> throw new ModelFileException(file, "tensor '" + name + "' has dtype " + e.dtype()
                        + ", not an integer type that fits a long");
            };
        }
        return out;
    }

    /**
     * Unmaps the file. Tensors copied out stay valid; slices from {@link #bytes(String)} do not.
     * Idempotent.
     */
    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }

    /**
     * Collects tensors and metadata and writes them as one safetensors file. Tensors are stored by
     * decreasing element size, then by name (the reference implementation's order, which keeps every tensor
     * aligned to its element size), whatever the order they were added in.
     */
    public static final class Writer {

        private record Pending(StorageType dtype, long[] shape, Tensor tensor, long[] longs) {}

        private final Map<String, Pending> tensors = new TreeMap<>();
        private final Map<String, String> metadata = new TreeMap<>();

        /** Makes a writer with no tensors and no metadata. */
        public Writer() {}

        /**
         * Adds a {@code __metadata__} entry; a later call with the same key replaces the value.
         *
         * @param key   the key
         * @param value the value (the format allows only strings)
         * @return this writer
         * @throws IllegalArgumentException if either is null or not well-formed UTF-16 (a lone surrogate,
         *                                  which UTF-8 cannot carry)
         */
        public Writer metadata(String key, String value) {
            wellFormed("a metadata key", key);
            wellFormed("the value of metadata key '" + key + "'", value);
            metadata.put(key, value);
            return this;
        }

        /** Refuses null and strings UTF-8 cannot encode (a surrogate without its pair). */
        private static void wellFormed(String what, String s) {
            if (s == null) {
                throw new IllegalArgumentException(what + " is null");
            }
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                    i++;
                } else if (Character.isSurrogate(c)) {
                    throw new IllegalArgumentException(what + " holds a lone surrogate at index " + i
                            + ", which UTF-8 cannot encode");
                }
            }
        }

        /**
         * Adds a float32 tensor. Its values are read when {@link #write} runs, not now, so it must stay
         * open until then.
         *
         * @param name the name to store it under, unique within the file
         * @param t    the tensor; any view works
         * @return this writer
         * @throws IllegalArgumentException if {@code name} is null, {@code "__metadata__"} or already added,
         *                                  or {@code t} is null, closed or not float32 (int64 values go in
         *                                  with {@link #addLongs})
         */
        public Writer add(String name, Tensor t) {
            checkNew(name);
            if (t == null || !t.isAlive()) {
                throw new IllegalArgumentException("tensor '" + name + "' is " + (t == null ? "null" : "closed"));
            }
            if (t.dtype() != DType.FLOAT32) {
                throw new IllegalArgumentException("tensor '" + name + "' is " + t.dtype() + "; add() writes float32"
                        + " tensors (int64 values go in with addLongs)");
            }
            tensors.put(name, new Pending(StorageType.F32, t.shape(), t, null));
            return this;
        }

        /**
         * Adds an I64 tensor (e.g. BatchNorm's {@code num_batches_tracked}). The arrays are copied.
         *
         * @param name   the name to store it under, unique within the file
         * @param shape  its dimensions; empty for a scalar
         * @param values its elements, row-major
         * @return this writer
         * @throws IllegalArgumentException if {@code name} is null, {@code "__metadata__"} or already added,
         *                                  a size is negative, or {@code values} does not hold as many
         *                                  elements as the shape
         */
        public Writer addLongs(String name, long[] shape, long[] values) {
            checkNew(name);
            if (shape == null || values == null) {
                throw new IllegalArgumentException("tensor '" + name + "': the shape and the values must be given");
            }
            long n = 1;
            for (long d : shape) {
                if (d < 0) {
                    throw new IllegalArgumentException("tensor '" + name + "': negative size in shape "
                            + Arrays.toString(shape));
                }
                n = d == 0 || n == 0 ? 0 : n <= Integer.MAX_VALUE / d ? n * d : Integer.MAX_VALUE + 1L;
            }
            if (n != values.length) {
                throw new IllegalArgumentException(values.length + " values do not fill shape "
                        + Arrays.toString(shape));
            }
            tensors.put(name, new Pending(StorageType.I64, shape.clone(), null, values.clone()));
            return this;
        }

        private void checkNew(String name) {
            if (name == null || name.equals(METADATA)) {
                throw new IllegalArgumentException("a tensor cannot be named '" + name + "'");
            }
            wellFormed("a tensor's name", name);
            if (tensors.containsKey(name)) {
                throw new IllegalArgumentException("tensor '" + name + "' was already added");
            }
        }

        /**
         * Writes the file atomically: to a temporary file beside {@code file}, forced to disk, then renamed
         * over it. On failure the temporary file is removed and any previous {@code file} is untouched.
         * Missing parent directories are made. The writer may be written again.
         *
         * @param file the file to write
         * @throws IOException           if the file cannot be written
         * @throws IllegalStateException if an added tensor was closed since
         */
        public void write(Path file) throws IOException {
            List<Map.Entry<String, Pending>> order = new ArrayList<>(tensors.entrySet());
            order.sort(Comparator.<Map.Entry<String, Pending>>comparingInt(e -> -e.getValue().dtype().size())
                    .thenComparing(Map.Entry::getKey));
            StringBuilder h = new StringBuilder("{");
            if (!metadata.isEmpty()) {
                h.append(Json.quote(METADATA)).append(":{");
                boolean first = true;
                for (var m : metadata.entrySet()) {
                    if (!first) h.append(',');
                    first = false;
                    h.append(Json.quote(m.getKey())).append(':').append(Json.quote(m.getValue()));
                }
                h.append('}');
            }
            long offset = 0;
            for (var e : order) {
                Pending p = e.getValue();
                long n = 1;
                for (long d : p.shape()) n *= d;
                long bytes = n * p.dtype().size();
                if (h.length() > 1) h.append(',');
                h.append(Json.quote(e.getKey())).append(":{\"dtype\":\"").append(p.dtype()).append("\",\"shape\":[");
                for (int i = 0; i < p.shape().length; i++) {
                    if (i > 0) h.append(',');
                    h.append(p.shape()[i]);
                }
                h.append("],\"data_offsets\":[").append(offset).append(',').append(offset + bytes).append("]}");
                offset += bytes;
            }
            h.append('}');
            byte[] json = h.toString().getBytes(StandardCharsets.UTF_8);
            int padded = (json.length + 7) / 8 * 8; // pad with spaces so the data starts 8-byte aligned
            ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
            head.putLong(padded).put(json);
            while (head.hasRemaining()) head.put((byte) ' ');
            head.flip();

            Path target = file.toAbsolutePath();
            Path dir = target.getParent();
            Files.createDirectories(dir); // as the CLI's --csv and --chart, a missing directory is made
            // Not Files.createTempFile, whose 0600 permissions the renamed file would keep: a new file with the
            // umask's permissions, under a name no other writer picks.
            Path tmp = dir.resolve("." + target.getFileName() + "." + Long.toUnsignedString(
                    ThreadLocalRandom.current().nextLong(), 36) + ".tmp");
            FileChannel channel = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            boolean done = false; // from here the temporary file is ours to remove
            try {
                try (FileChannel ch = channel) {
                    writeFully(ch, head);
                    for (var e : order) {
                        writeData(ch, e.getValue());
                    }
                    ch.force(true);
                }
                try {
                    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
                }
                done = true;
                syncDirectory(dir);
            } finally {
                if (!done) {
                    Files.deleteIfExists(tmp);
                }
            }
        }

        private static void writeData(FileChannel ch, Pending p) throws IOException {
            if (p.longs() != null) {
                ByteBuffer b = ByteBuffer.allocate(p.longs().length * 8).order(ByteOrder.LITTLE_ENDIAN);
                for (long v : p.longs()) b.putLong(v);
                b.flip();
                writeFully(ch, b);
                return;
            }
            Tensor t = p.tensor();
            if (t.isContiguous() && ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN) {
                // Straight from the tensor's memory: no copy on the heap.
                MemorySegment s = t.storageForReading().asSlice(t.offset() * Float.BYTES, t.numel() * Float.BYTES);
                writeFully(ch, s.asByteBuffer());
                return;
            }
            float[] v = t.toArray();
            ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (float f : v) b.putFloat(f);
            b.flip();
            writeFully(ch, b);
        }

        private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
            while (b.hasRemaining()) {
                ch.write(b);
            }
        }

        private static void syncDirectory(Path dir) {
            // Makes the rename durable; some platforms cannot open a directory, which is harmless.
            try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
                d.force(true);
            } catch (IOException | UnsupportedOperationException e) {
                // best effort
            }
        }
    }
}
