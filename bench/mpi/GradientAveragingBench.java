// The communication part of a data-parallel step alone: DistributedDataParallel.gradientsReady (copy into
// the buckets, allreduce, scale and copy back) for the MLP and LeNet-5 of `gatun train`, with gradients in
// place and no computation, so that no process waits for a slower one.
//
//   mpirun --bind-to none -np 2 $JAVA_HOME/bin/java --enable-native-access=ALL-UNNAMED \
//       -cp engine/target/gatun-engine-0.1.0-SNAPSHOT-cli.jar bench/mpi/GradientAveragingBench.java
import dev.gatun.distributed.Communicator;
import dev.gatun.distributed.DistributedDataParallel;
import dev.gatun.nn.Linear;
import dev.gatun.nn.Models;
import dev.gatun.nn.Module;
import dev.gatun.nn.ReLU;
import dev.gatun.nn.Sequential;
import dev.gatun.tensor.Tensor;
import java.util.Locale;

public class GradientAveragingBench {
    public static void main(String[] args) {
        Communicator comm = Communicator.world(Communicator.ThreadLevel.SERIALIZED);
        Module[] models = {new Sequential(new Linear(784, 512), new ReLU(), new Linear(512, 256), new ReLU(),
                new Linear(256, 10)), Models.lenet5()};
        String[] names = {"mlp", "lenet5"};
        long[] buckets = {DistributedDataParallel.DEFAULT_BUCKET_BYTES, 1 << 20, 256 << 10};
        for (int m = 0; m < models.length; m++) {
            for (Tensor p : models[m].parameters()) p.setGrad(Tensor.ones(p.shape()));
            for (long bucket : buckets) {
                try (DistributedDataParallel ddp = new DistributedDataParallel(comm, models[m], bucket)) {
                    for (int w = 0; w < 30; w++) ddp.gradientsReady(models[m]);
                    double best = Double.MAX_VALUE;
                    for (int rep = 0; rep < 5; rep++) {
                        comm.barrier();
                        long t0 = System.nanoTime();
                        for (int i = 0; i < 50; i++) ddp.gradientsReady(models[m]);
                        best = Math.min(best, (System.nanoTime() - t0) / 1e6 / 50);
                    }
                    if (comm.rank() == 0) {
                        long params = 0;
                        for (Tensor p : models[m].parameters()) params += p.numel();
                        System.out.printf(Locale.ROOT, "%-7s %,10d params (%5.2f MB)  bucket %6d KB: %2d buckets,"
                                + " %.3f ms per step%n", names[m], params, params * 4 / 1e6, bucket >> 10,
                                ddp.bucketCount(), best);
                    }
                }
            }
        }
        comm.close();
    }
}
