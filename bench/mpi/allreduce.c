/*
 * Open MPI's own allreduce time and bus bandwidth, float sums in place, 4 KB to 64 MB: the reference for
 * gatun's Communicator (AllreduceBench.java runs the same loop through the Java bindings).
 *
 *   mpicc -O2 -o /tmp/allreduce bench/mpi/allreduce.c
 *   mpirun --bind-to none -np 2 /tmp/allreduce
 *
 * Bus bandwidth as nccl-tests defines it: bytes / time * 2(p-1)/p, the bytes each link carries in a ring.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (rank == 0) printf("# %d processes\n# bytes  us_per_allreduce  algbw_GBps  busbw_GBps\n", size);
    for (long bytes = 4096; bytes <= 64L << 20; bytes *= 4) {
        long count = bytes / 4;
        float *buf = malloc(bytes);
        for (long i = 0; i < count; i++) buf[i] = 1.0f;
        long iters = (64L << 20) / bytes;
        if (iters < 3) iters = 3;
        if (iters > 100) iters = 100;
        for (int w = 0; w < 3; w++) MPI_Allreduce(MPI_IN_PLACE, buf, (int) count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        /* The machine is shared: the best of 7 timed loops, each the slower process's time. */
        double t = 1e30;
        for (int rep = 0; rep < 7; rep++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            for (long i = 0; i < iters; i++) {
                MPI_Allreduce(MPI_IN_PLACE, buf, (int) count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            }
            double r = (MPI_Wtime() - t0) / iters;
            MPI_Allreduce(MPI_IN_PLACE, &r, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            if (r < t) t = r;
        }
        if (rank == 0) {
            double alg = bytes / t / 1e9;
            printf("%9ld  %10.1f  %8.3f  %8.3f\n", bytes, t * 1e6, alg, alg * 2.0 * (size - 1) / size);
        }
        free(buf);
    }
    MPI_Finalize();
    return 0;
}
