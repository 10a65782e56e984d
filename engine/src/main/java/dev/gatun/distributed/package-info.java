/**
 * Data-parallel training over MPI (Open MPI 4.1, through the bindings of {@code dev.gatun.bindings.mpi}).
 *
 * <p>{@link dev.gatun.distributed.Communicator} initialises MPI and runs the collectives in place on
 * off-heap memory; {@link dev.gatun.distributed.DistributedDataParallel} keeps the processes' models equal
 * (rank 0's weights broadcast at the start, gradients averaged after each backward pass, in buckets) and
 * plugs into {@link dev.gatun.train.Trainer} as its {@link dev.gatun.train.Trainer.DataParallel};
 * {@link dev.gatun.distributed.ShardedSampler} gives each process its share of every batch. MPI is
 * optional: nothing outside this package loads it. Run the processes with {@code mpirun -np N}
 * (README, "Distributed training").
 */
package dev.gatun.distributed;
