package dev.gatun.cli;

import dev.gatun.backend.DnnlException;
import dev.gatun.backend.NativeLibraryException;
import dev.gatun.train.TrainingDivergedException;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code gatun} command. */
@Command(name = "gatun", mixinStandardHelpOptions = true, versionProvider = Gatun.Version.class,
        description = "A deep-learning engine for the JVM over OpenBLAS and oneDNN.",
        subcommands = {InfoCommand.class, GemmCommand.class, TrainCommand.class, CommandLine.HelpCommand.class})
public final class Gatun implements Callable<Integer> {

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
        // A user mistake or a missing library is a message, not a stack trace.
        cl.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            if (e instanceof IllegalArgumentException || e instanceof NativeLibraryException
                    || e instanceof DnnlException || e instanceof IllegalStateException
                    || e instanceof java.io.IOException || e instanceof TrainingDivergedException) {
                commandLine.getErr().println("gatun: " + e.getMessage());
                commandLine.getErr().flush();
                return 1;
            }
            throw e;
        });
        return cl.execute(args);
    }

    @Override
    public Integer call() {
        CommandLine.usage(this, System.out);
        return 0;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Gatun.class.getPackage().getImplementationVersion();
            return new String[] {"gatun " + (v == null ? "(development build)" : v)};
        }
    }
}
