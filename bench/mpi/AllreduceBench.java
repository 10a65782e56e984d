// gatun's allreduce time and bus bandwidth, float sums in place on a tensor's off-heap storage, 4 KB to
// 64 MB: the same loop as allreduce.c, through dev.gatun.distributed.Communicator.
//
//   mpirun --bind-to none -np 2 $JAVA_HOME/bin/java --enable-native-access=ALL-UNNAMED \
//       -cp engine/target/gatun-engine-0.1.0-SNAPSHOT-cli.jar bench/mpi/AllreduceBench.java
import dev.gatun.distributed.Communicator;
import dev.gatun.tensor.Tensor;
import java.util.Locale;

public class AllreduceBench {
    public static void main(String[] args) {
        Communicator comm = Communicator.world(Communicator.ThreadLevel.SERIALIZED);
        int size = comm.size();
        if (comm.rank() == 0) {
            System.out.printf("# %d processes, gatun Communicator.allreduce(Tensor)%n", size);
            System.out.println("# bytes  us_per_allreduce  algbw_GBps  busbw_GBps");
        }
        for (long bytes = 4096; bytes <= 64L << 20; bytes *= 4) {
            Tensor t = Tensor.ones(bytes / 4);
            long iters = Math.max(3, Math.min(100, (64L << 20) / bytes));
            // Enough calls for the JIT to compile the call path before it is timed (20 were not: 4 KB then
            // measured 7-9 µs against 2.5 once compiled).
            long warm = Math.max(20, Math.min(20_000, (256L << 20) / bytes));
            for (long w = 0; w < warm; w++) comm.allreduce(t, Communicator.Op.SUM);
            // The machine is shared: the best of 7 timed loops, each the slower process's time.
            double sec = Double.MAX_VALUE;
            for (int rep = 0; rep < 7; rep++) {
                comm.barrier();
                long t0 = System.nanoTime();
                for (long i = 0; i < iters; i++) comm.allreduce(t, Communicator.Op.SUM);
                double r = (System.nanoTime() - t0) / 1e9 / iters;
                double[] all = new double[size];
                all[comm.rank()] = r;
                all = comm.sum(all);
                for (double v : all) r = Math.max(r, v);
                sec = Math.min(sec, r);
            }
            if (comm.rank() == 0) {
                double alg = bytes / sec / 1e9;
                System.out.printf(Locale.ROOT, "%9d  %10.1f  %8.3f  %8.3f%n", bytes, sec * 1e6, alg,
                        alg * 2.0 * (size - 1) / size);
            }
            t.close();
        }
        comm.close();
    }
}
