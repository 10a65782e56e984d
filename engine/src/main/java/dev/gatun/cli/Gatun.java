package dev.gatun.cli;

import dev.gatun.backend.DnnlException;
import dev.gatun.backend.NativeLibraryException;
import dev.gatun.train.TrainingDivergedException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/**
 * The {@code gatun} command.
 *
 * <p>Errors are one line each on standard error, starting {@code gatun: }, never a stack trace: a bad
 * option exits with 2 (picocli's usage error), anything that fails while running with 1. An exception
 * gatun does not expect adds a hint to rerun with {@code --debug} (or the environment variable
 * {@code GATUN_DEBUG=1}), which prints the stack trace as well.
 */
@Command(name = "gatun", mixinStandardHelpOptions = true, versionProvider = Gatun.Version.class,
        description = "A deep-learning engine for the JVM over OpenBLAS and oneDNN.",
        subcommands = {InfoCommand.class, GemmCommand.class, TrainCommand.class, SampleCommand.class,
                ServeCommand.class, CommandLine.HelpCommand.class})
public final class Gatun implements Callable<Integer> {

    /** Exit code of a failure while running (a usage error is picocli's 2). */
    static final int FAILED = 1;

    @Spec
    CommandSpec spec;

    // Declared for parsing and help on every command; run() reads it from the arguments, since an error can
    // come before there is a parse result.
    @Option(names = "--debug", scope = ScopeType.INHERIT,
            description = "Print the stack trace of an error as well (also: environment variable GATUN_DEBUG=1).")
    boolean debug;

    /** Runs the command line with the process's streams and exits with its code. */
    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns its exit code (for tests and embedding). */
    public static int run(String... args) {
        return run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args);
    }

    /** Runs the command line writing to the given streams; returns the exit code. */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cl = new CommandLine(new Gatun());
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setOut(out);
        cl.setErr(err);
        boolean debug = debugRequested(args);
        cl.setParameterExceptionHandler((e, arguments) -> {
            CommandLine where = e.getCommandLine();
            if (debug) {
                e.printStackTrace(where.getErr());
            }
            if (e instanceof Checks.Invalid) {
                for (String line : e.getMessage().split("\n")) {
                    where.getErr().println("gatun: " + line);
                }
            } else {
                // picocli's own parse errors: its message, any suggestion, and where to look, on one line.
                String line = oneLine(e.getMessage());
                if (e instanceof CommandLine.UnmatchedArgumentException u && !u.getSuggestions().isEmpty()) {
                    line += "; did you mean " + String.join(" or ", u.getSuggestions()) + "?";
                }
                where.getErr().println("gatun: " + line + " (see '" + where.getCommandSpec().qualifiedName()
                        + " --help')");
            }
            where.getErr().flush();
            return where.getCommandSpec().exitCodeOnInvalidInput();
        });
        // picocli passes on only Exceptions; an Error (out of memory) would escape as a stack trace.
        cl.setExecutionStrategy(parseResult -> {
            try {
                return new CommandLine.RunLast().execute(parseResult);
            } catch (OutOfMemoryError | StackOverflowError e) {
                throw new CommandLine.ExecutionException(cl, String.valueOf(e.getMessage()), e);
            }
        });
        cl.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            Throwable t = e instanceof CommandLine.ExecutionException && e.getCause() instanceof Error ? e.getCause()
                    : e;
            PrintWriter w = commandLine.getErr();
            if (debug) {
                t.printStackTrace(w);
            }
            w.println("gatun: " + describe(t, debug));
            w.flush();
            return FAILED;
        });
        return cl.execute(args);
    }

    /** {@code --debug} anywhere among the options (before {@code --}), or {@code GATUN_DEBUG} set and not 0. */
    private static boolean debugRequested(String[] args) {
        List<String> options = Arrays.asList(args);
        int end = options.indexOf("--");
        if ((end < 0 ? options : options.subList(0, end)).contains("--debug")) {
            return true;
        }
        String env = System.getenv("GATUN_DEBUG");
        return env != null && !env.isBlank() && !env.strip().equals("0")
                && !env.strip().equalsIgnoreCase("false");
    }

    /** The one line reporting {@code t}. */
    static String describe(Throwable t, boolean debug) {
        String hint = debug ? "" : " (rerun with --debug for the stack trace)";
        if (t instanceof OutOfMemoryError) {
            return "out of memory (" + oneLine(t.getMessage()) + "); use smaller sizes or batches, or give Java"
                    + " more heap with -Xmx" + hint;
        }
        if (t instanceof UncheckedIOException u) {
            t = u.getCause();
        }
        if (t instanceof FileSystemException f && f.getReason() == null) {
            return problem(f) + ": " + oneLine(f.getMessage()); // a bare path is no message
        }
        if (t instanceof IllegalArgumentException || t instanceof IllegalStateException || t instanceof IOException
                || t instanceof NativeLibraryException || t instanceof DnnlException
                || t instanceof TrainingDivergedException) {
            return oneLine(t.getMessage());
        }
        return "unexpected " + t.getClass().getName() + (t.getMessage() == null ? "" : ": " + oneLine(t.getMessage()))
                + hint;
    }

    /** What went wrong on the file of {@code e}, in words ({@code e}'s own reason when it has one). */
    static String problem(FileSystemException e) {
        if (e.getReason() != null) {
            return e.getReason();
        }
        return switch (e) {
            case NoSuchFileException x -> "no such file or directory";
            case AccessDeniedException x -> "permission denied";
            case FileAlreadyExistsException x -> "already exists";
            case NotDirectoryException x -> "not a directory";
            default -> e.getClass().getSimpleName();
        };
    }

    /** {@code message} on one line: its lines joined with "; ", "(no message)" for none. */
    static String oneLine(String message) {
        if (message == null || message.isBlank()) {
            return "(no message)";
        }
        return String.join("; ", message.strip().split("\\s*\\R\\s*"));
    }

    /** Without a command: the usage, on the error stream, and picocli's usage-error exit code (as git does). */
    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return CommandLine.ExitCode.USAGE;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Gatun.class.getPackage().getImplementationVersion();
            return new String[] {"gatun " + (v == null ? "(development build)" : v)};
        }
    }
}
