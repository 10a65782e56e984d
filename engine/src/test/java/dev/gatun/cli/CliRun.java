package dev.gatun.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;

/**
 * A {@code gatun} command line run in this JVM, for the training commands' tests: they print their progress
 * to {@code System.out}, which is captured, and their errors to the writer given to {@link Gatun#run}.
 *
 * @param code the exit code
 * @param out  what the command printed to standard output
 * @param err  what it printed to standard error
 */
record CliRun(int code, String out, String err) {

    /** Runs {@code gatun args...}. */
    static CliRun gatun(String... args) {
        PrintStream saved = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        StringWriter err = new StringWriter();
        int code;
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            code = Gatun.run(new PrintWriter(new StringWriter()), new PrintWriter(err, true), args);
        } finally {
            System.setOut(saved);
        }
        return new CliRun(code, captured.toString(StandardCharsets.UTF_8), err.toString());
    }
}
