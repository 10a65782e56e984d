package dev.gatun.serve;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.exc.InputCoercionException;
import com.fasterxml.jackson.core.exc.StreamReadException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * An Open Inference Protocol inference request read from JSON with Jackson's streaming parser: the data
 * arrays go token by token into a {@code float[]}, never boxed. Every problem is an
 * {@link IllegalArgumentException} naming it (answered with 400).
 */
record InferRequest(String id, List<Input> inputs, List<String> outputs) {

    /** One input tensor: its values already converted to FP32. */
    record Input(String name, long[] shape, String datatype, float[] data) {}

    /** Largest integer magnitude that FP32 holds exactly. */
    private static final long EXACT = 1L << 24;

    /** The input named {@code name}, checking that there is no other. */
    Input input(String name) {
        Input found = null;
        for (Input in : inputs) {
            if (!in.name().equals(name)) {
                throw new IllegalArgumentException("unknown input '" + in.name() + "'; the model's input is '" + name
                        + "'");
            }
            if (found != null) throw new IllegalArgumentException("input '" + name + "' is given twice");
            found = in;
        }
        if (found == null) throw new IllegalArgumentException("missing input '" + name + "'");
        return found;
    }

    static InferRequest parse(JsonFactory json, byte[] body) {
        try (JsonParser p = json.createParser(body)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IllegalArgumentException("malformed request: the body must be a JSON object");
            }
            String id = null;
            List<Input> inputs = null;
            List<String> outputs = new ArrayList<>();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken t = p.nextToken();
                switch (field) {
                    case "id" -> {
                        if (t != JsonToken.VALUE_STRING) throw new IllegalArgumentException("'id' must be a string");
                        id = p.getText();
                    }
                    case "inputs" -> {
                        if (t != JsonToken.START_ARRAY) throw new IllegalArgumentException("'inputs' must be an array");
                        inputs = new ArrayList<>();
                        while (p.nextToken() != JsonToken.END_ARRAY) inputs.add(input(p));
                    }
                    case "outputs" -> {
                        if (t != JsonToken.START_ARRAY) {
                            throw new IllegalArgumentException("'outputs' must be an array");
                        }
                        while (p.nextToken() != JsonToken.END_ARRAY) outputs.add(output(p));
                    }
                    case "parameters" -> object(p, t, "parameters");
                    default -> p.skipChildren(); // unknown fields are ignored, as extensions may add some
                }
            }
            if (p.nextToken() != null) {
                throw new IllegalArgumentException("malformed JSON: content after the request object");
            }
            if (inputs == null) throw new IllegalArgumentException("the request has no 'inputs'");
            return new InferRequest(id, inputs, outputs);
        } catch (StreamReadException e) {
            throw new IllegalArgumentException("malformed JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new IllegalArgumentException("malformed JSON: " + e.getMessage(), e);
        }
    }

    private static void object(JsonParser p, JsonToken t, String what) throws IOException {
        if (t != JsonToken.START_OBJECT) throw new IllegalArgumentException("'" + what + "' must be an object");
        p.skipChildren();
    }

    private static String output(JsonParser p) throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) {
            throw new IllegalArgumentException("each of 'outputs' must be an object");
        }
        String name = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            JsonToken t = p.nextToken();
            if (field.equals("name")) {
                if (t != JsonToken.VALUE_STRING) {
                    throw new IllegalArgumentException("an output's 'name' must be a string");
                }
                name = p.getText();
            } else {
                p.skipChildren();
            }
        }
        if (name == null) throw new IllegalArgumentException("a requested output has no 'name'");
        return name;
    }

    private static Input input(JsonParser p) throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) {
            throw new IllegalArgumentException("each of 'inputs' must be an object");
        }
        String name = null;
        String datatype = null;
        long[] shape = null;
        float[] data = null;
        int count = 0;
        boolean allIntegers = true;
        long min = 0;
        long max = 0;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            JsonToken t = p.nextToken();
            switch (field) {
                case "name" -> {
                    if (t != JsonToken.VALUE_STRING) {
                        throw new IllegalArgumentException("an input's 'name' must be a string");
                    }
                    name = p.getText();
                }
                case "datatype" -> {
                    if (t != JsonToken.VALUE_STRING) {
                        throw new IllegalArgumentException("an input's 'datatype' must be a string");
                    }
                    datatype = p.getText();
                }
                case "shape" -> {
                    if (t != JsonToken.START_ARRAY) {
                        throw new IllegalArgumentException("an input's 'shape' must be an array");
                    }
                    long[] s = new long[8];
                    int n = 0;
                    while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
                        if (t != JsonToken.VALUE_NUMBER_INT) {
                            throw new IllegalArgumentException("an input's 'shape' must hold integers, found "
                                    + p.getText());
                        }
                        if (n == s.length) s = Arrays.copyOf(s, n * 2);
                        try {
                            s[n++] = p.getLongValue();
                        } catch (InputCoercionException e) {
                            throw new IllegalArgumentException("shape dimension " + p.getText() + " is out of range");
                        }
                    }
                    shape = Arrays.copyOf(s, n);
                }
                case "parameters" -> object(p, t, "parameters");
                case "data" -> {
                    if (t != JsonToken.START_ARRAY) {
                        throw new IllegalArgumentException("an input's 'data' must be an array");
                    }
                    data = new float[1024];
                    int depth = 1;
                    while (depth > 0) {
                        t = p.nextToken();
                        if (t == JsonToken.START_ARRAY) {
                            depth++;
                        } else if (t == JsonToken.END_ARRAY) {
                            depth--;
                        } else if (t == JsonToken.VALUE_NUMBER_INT || t == JsonToken.VALUE_NUMBER_FLOAT) {
                            if (count == data.length) data = Arrays.copyOf(data, count * 2);
                            float v;
                            if (t == JsonToken.VALUE_NUMBER_INT && p.getNumberType() == JsonParser.NumberType.INT) {
                                int i = p.getIntValue();
                                v = i;
                                min = Math.min(min, i);
                                max = Math.max(max, i);
                            } else if (t == JsonToken.VALUE_NUMBER_INT) {
                                // a long or a BigInteger: beyond FP32's exact integers in any case
                                v = finite(p);
                                min = Math.min(min, v < 0 ? Long.MIN_VALUE : 0);
                                max = Math.max(max, v > 0 ? Long.MAX_VALUE : 0);
                            } else {
                                allIntegers = false;
                                v = finite(p);
                            }
                            data[count++] = v;
                        } else {
                            throw new IllegalArgumentException("an input's 'data' must hold numbers, found "
                                    + (t == null ? "the end of the body" : p.getText()));
                        }
                    }
                }
                default -> p.skipChildren();
            }
        }
        if (name == null) throw new IllegalArgumentException("an input has no 'name'");
        if (shape == null) throw new IllegalArgumentException("input '" + name + "' has no 'shape'");
        if (datatype == null) throw new IllegalArgumentException("input '" + name + "' has no 'datatype'");
        if (data == null) throw new IllegalArgumentException("input '" + name + "' has no 'data'");
        checkDatatype(name, datatype, allIntegers, min, max);
        return new Input(name, shape, datatype, count == data.length ? data : Arrays.copyOf(data, count));
    }

    private static void checkDatatype(String name, String datatype, boolean allIntegers, long min, long max) {
        long lo;
        long hi;
        switch (datatype) {
            case "FP32" -> {
                return;
            }
            case "INT8" -> { lo = Byte.MIN_VALUE; hi = Byte.MAX_VALUE; }
            case "INT16" -> { lo = Short.MIN_VALUE; hi = Short.MAX_VALUE; }
            case "INT32", "INT64" -> { lo = -EXACT; hi = EXACT; }
            case "UINT8" -> { lo = 0; hi = 255; }
            case "UINT16" -> { lo = 0; hi = 65535; }
            case "UINT32", "UINT64" -> { lo = 0; hi = EXACT; }
            default -> throw new IllegalArgumentException("input '" + name + "': datatype " + datatype
                    + " is not supported; send FP32 (or an integer type whose values FP32 holds exactly)");
        }
        if (!allIntegers) {
            throw new IllegalArgumentException("input '" + name + "' of datatype " + datatype + " holds a non-integer");
        }
        if (min < lo || max > hi) {
            throw new IllegalArgumentException("input '" + name + "' of datatype " + datatype + " holds values in ["
                    + min + ", " + max + "], outside [" + lo + ", " + hi + "]"
                    + (hi == EXACT || lo == -EXACT ? " (integers FP32 holds exactly)" : ""));
        }
    }

    /** The current number as FP32; one beyond its range (an integer of 40 digits, or 1e39) is refused. */
    private static float finite(JsonParser p) throws IOException {
        float v = p.getFloatValue();
        if (Float.isInfinite(v)) {
            throw new IllegalArgumentException("input value " + p.getText() + " is out of the FP32 range");
        }
        return v;
    }
}
