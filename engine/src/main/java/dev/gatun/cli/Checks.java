package dev.gatun.cli;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;

/**
 * The checks a command makes on its options before doing any work. Each problem is one line naming the
 * option and its value; all are collected and reported together by {@link #throwIfAny()} as a usage
 * error (exit code 2), so that a user fixes every mistake in one go.
 */
final class Checks {

    /** Option values that cannot be used: one problem a line. */
    static final class Invalid extends CommandLine.ParameterException {
        private static final long serialVersionUID = 1L;

        Invalid(CommandLine commandLine, List<String> problems) {
            super(commandLine, String.join("\n", problems));
        }
    }

    private final CommandLine commandLine;
    private final List<String> problems = new ArrayList<>();
    private final List<String> warnings = new ArrayList<>();

    Checks(CommandLine commandLine) {
        this.commandLine = commandLine;
    }

    /** Records {@code problem} (one line, naming the option) unless it is null. */
    Checks add(String problem) {
        if (problem != null) {
            problems.add(problem);
        }
        return this;
    }

    /** Records a problem (one line, naming the option) if {@code ok} is false. */
    Checks require(boolean ok, String problem) {
        if (!ok) {
            problems.add(problem);
        }
        return this;
    }

    /**
     * An output file must not replace one the run reads ({@code inputs}: its data, the checkpoint it
     * resumes from), by name or through a link; null (not given) passes.
     */
    Checks notAnInput(String option, Path output, java.util.Collection<Path> inputs) {
        if (output != null) {
            for (Path in : inputs) {
                require(!sameFile(output, in), option + " " + output + " is " + in + ", which this run reads");
            }
        }
        return this;
    }

    /** Whether two paths name one file: the same normalized path, or links to one file. */
    static boolean sameFile(Path a, Path b) {
        if (a == null || b == null) {
            return false;
        }
        if (a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize())) {
            return true;
        }
        try {
            return java.nio.file.Files.exists(a) && java.nio.file.Files.exists(b)
                    && java.nio.file.Files.isSameFile(a, b);
        } catch (java.io.IOException e) {
            return false;
        }
    }

    /** {@code value >= min}. */
    Checks atLeast(String option, long value, long min) {
        return require(value >= min, option + " must be >= " + min + ", got " + value);
    }

    /** {@code value} finite and {@code >= 0}; null (not given) passes. */
    Checks nonNegative(String option, Double value) {
        return require(value == null || (value >= 0 && value < Double.POSITIVE_INFINITY),
                option + " must be a finite number >= 0, got " + value);
    }

    /** {@code value} finite and in {@code [0, 1)}. */
    Checks fraction(String option, double value) {
        return require(value >= 0 && value < 1, option + " must be in [0, 1), got " + value);
    }

    /** {@code value} finite and in {@code (0, max]}. */
    Checks positiveUpTo(String option, double value, double max) {
        return require(value > 0 && value <= max, option + " must be a number in (0, " + (long) max + "], got "
                + value);
    }

    /**
     * The thread count to use: null when not given; above the available processors, lowered to them with
     * a one-line warning (printed by {@link #throwIfAny()}), because threads beyond the cores only wait for each other (OpenMP's spinning
     * threads then slow every product down by an order of magnitude or more).
     */
    Integer threads(String option, Integer threads) {
        if (threads == null) {
            return null;
        }
        if (threads < 1) {
            problems.add(option + " must be >= 1, got " + threads);
            return null;
        }
        int cores = Runtime.getRuntime().availableProcessors();
        if (threads > cores) {
            warnings.add(option + " " + threads + " is more than the " + cores + " available processors; using "
                    + cores + " (threads beyond the cores only wait for each other)");
            return cores;
        }
        return threads;
    }

    /**
     * {@code file} can be written: an existing regular file that opens for writing (without truncating
     * it), or a new one whose nearest existing ancestor directory accepts a new file (probed with a
     * temporary file, deleted at once; missing directories in between are created when writing). Null
     * (not given) passes. {@code shown} is the path as the user gave it.
     */
    Checks writable(String option, String shown, Path file) {
        if (file == null) {
            return this;
        }
        Path abs = file.toAbsolutePath().normalize();
        String what = option + " " + shown;
        if (Files.isDirectory(abs)) {
            problems.add(what + " is a directory, not a file");
        } else if (Files.exists(abs)) {
            try (FileChannel ignored = FileChannel.open(abs, StandardOpenOption.WRITE)) {
                // opened for writing, nothing written
            } catch (IOException e) {
                problems.add(what + " cannot be written: " + reason(e));
            }
        } else {
            Path dir = abs.getParent();
            while (dir != null && !Files.exists(dir)) {
                dir = dir.getParent();
            }
            if (dir == null) {
                problems.add(what + " cannot be created: no part of its directory exists");
            } else if (!Files.isDirectory(dir)) {
                problems.add(what + " cannot be created: " + dir + " is not a directory");
            } else {
                try {
                    Files.delete(Files.createTempFile(dir, ".gatun-probe-", ".tmp"));
                } catch (IOException e) {
                    problems.add(what + " cannot be created: " + dir + " does not accept new files (" + reason(e)
                            + ")");
                }
            }
        }
        return this;
    }

    private static String reason(IOException e) {
        if (e instanceof FileSystemException f) {
            return Gatun.problem(f);
        }
        return e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
    }

    /**
     * Throws every problem found so far as one usage error; when there is none, prints the warnings (once)
     * and returns. Warnings wait for this so that they do not mix with errors.
     */
    void throwIfAny() {
        if (!problems.isEmpty()) {
            throw new Invalid(commandLine, List.copyOf(problems));
        }
        for (String w : warnings) {
            commandLine.getErr().println("gatun: warning: " + w);
        }
        commandLine.getErr().flush();
        warnings.clear();
    }
}
