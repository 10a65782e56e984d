package dev.gatun.distributed;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.data.DataLoader;
import dev.gatun.data.DataLoader.LastBatch;
import dev.gatun.data.DataLoader.Order;
import dev.gatun.data.Dataset;
import dev.gatun.nn.Linear;
import dev.gatun.optim.SGD;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import dev.gatun.train.Trainer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Bad input to the collectives is refused in Java, before MPI is called, with a message naming it; run in
 * this JVM as a job of one (MPI's singleton start-up, no mpirun), whose collectives are the identity.
 */
class CommunicatorValidationTest {

    static Communicator comm;

    @BeforeAll
    static void init() {
        comm = Communicator.world(Communicator.ThreadLevel.SERIALIZED);
    }

    @Test
    void aProcessWithoutLauncherIsAJobOfOne() {
        assertEquals(0, comm.rank());
        assertEquals(1, comm.size());
        assertTrue(comm.threadLevel().compareTo(Communicator.ThreadLevel.SERIALIZED) >= 0);
        assertSame(comm, Communicator.world(Communicator.ThreadLevel.FUNNELED));
        Tensor t = Tensor.fromArray(new float[] {1, 2, 3});
        comm.allreduce(t, Communicator.Op.SUM);
        comm.broadcast(t, 0);
        assertArrayEquals(new float[] {1, 2, 3}, t.toArray());
        assertArrayEquals(new double[] {2.5, 7}, comm.sum(new double[] {2.5, 7}));
    }

    @Test
    void closedTensorsAreRefused() {
        Tensor t = Tensor.zeros(4);
        t.close();
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> comm.allreduce(t, Communicator.Op.SUM));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> comm.broadcast(t, 0));
    }

    @Test
    void tensorsMustBeContiguousFloat32() {
        Tensor strided = Tensor.zeros(4, 3).transpose(0, 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> comm.allreduce(strided, Communicator.Op.SUM));
        assertTrue(e.getMessage().contains("contiguous") && e.getMessage().contains("[3, 4]"), e.getMessage());
        Tensor longs = Tensor.zeros(DType.INT64, 3);
        e = assertThrows(IllegalArgumentException.class, () -> comm.broadcast(longs, 0));
        assertTrue(e.getMessage().contains("float32") && e.getMessage().contains("int64"), e.getMessage());
    }

    @Test
    void rangesMustLieInNativeMemory() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(40);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> comm.allreduce(s, 4, 10, Communicator.Op.SUM));
            assertTrue(e.getMessage().contains("10 floats from byte 4") && e.getMessage().contains("40-byte"),
                    e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> comm.allreduceAsync(s, 2, 1, Communicator.Op.MAX));
            assertTrue(e.getMessage().contains("multiple of 4, got 2"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> comm.broadcast(s, 0, -1, 0));
            assertTrue(e.getMessage().contains("got -1"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> comm.allreduce(s, 0, Communicator.MAX_COUNT + 1, Communicator.Op.SUM));
            assertTrue(e.getMessage().contains(String.valueOf(Communicator.MAX_COUNT + 1)), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> comm.allreduce(s, 48, 0, Communicator.Op.SUM));
            assertTrue(e.getMessage().contains("from byte 48"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> comm.broadcast(s, 0, 10, 1));
            assertTrue(e.getMessage().contains("[0, 1), got 1"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> comm.broadcast(s, 0, 10, -1));
            assertTrue(e.getMessage().contains("got -1"), e.getMessage());
        }
        MemorySegment heap = MemorySegment.ofArray(new float[4]);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> comm.allreduce(heap, 0, 4, Communicator.Op.SUM));
        assertTrue(e.getMessage().contains("Java heap"), e.getMessage());
        Arena gone = Arena.ofConfined();
        MemorySegment freed = gone.allocate(16);
        gone.close();
        assertThrows(IllegalStateException.class, () -> comm.allreduce(freed, 0, 4, Communicator.Op.SUM));
        assertThrows(IllegalArgumentException.class, () -> comm.sum(new double[4097]));
    }

    @Test
    void nonBlockingAllreduceCompletes() {
        try (Arena a = Arena.ofShared()) {
            MemorySegment s = a.allocateFrom(java.lang.foreign.ValueLayout.JAVA_FLOAT, 1f, 2f, 3f);
            Communicator.Request r = comm.allreduceAsync(s, 4, 2, Communicator.Op.SUM);
            r.waitFor();
            assertTrue(r.isDone());
            assertTrue(r.test());
            r.waitFor(); // a second wait does nothing
            assertArrayEquals(new float[] {1, 2, 3}, s.toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT));
        }
        Tensor t = Tensor.fromArray(new float[] {4, 5}); // outside any scope: kept reachable by the request
        Communicator.Request r = comm.allreduceAsync(t, Communicator.Op.MAX);
        assertTrue(r.test());
        assertArrayEquals(new float[] {4, 5}, t.toArray());
    }

    /**
     * MPI writes into a non-blocking allreduce's memory after the call returns: memory a thread's close
     * could free under it is refused, and a detached scope closed while the allreduce is in flight is
     * freed only once the request completes.
     */
    @Test
    void aNonBlockingAllreduceHoldsItsMemoryUntilItCompletes() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(16);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> comm.allreduceAsync(s, 0, 4, Communicator.Op.SUM));
            assertTrue(e.getMessage().contains("confined to a thread"), e.getMessage());
        }
        try (dev.gatun.tensor.Scope step = dev.gatun.tensor.Scope.open()) {
            Tensor local = Tensor.zeros(3);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> comm.allreduceAsync(local, Communicator.Op.SUM));
            assertTrue(e.getMessage().contains("Scope"), e.getMessage());
        }

        dev.gatun.tensor.Scope params = dev.gatun.tensor.Scope.detached();
        Tensor t = Tensor.zeros(params, 1000);
        t.fill(2f);
        MemorySegment memory = t.storage();
        Communicator.Request r = comm.allreduceAsync(t, Communicator.Op.SUM);
        Communicator.Request never = comm.allreduceAsync(Tensor.zeros(params, 8), Communicator.Op.SUM);
        params.close();
        assertTrue(memory.scope().isAlive(), "the close waits for the allreduce");
        assertThrows(IllegalStateException.class, t::toArray); // closed for every new use at once
        r.waitFor();
        assertTrue(memory.scope().isAlive(), "a request never waited for keeps the memory it shares");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> comm.close());
        assertTrue(e.getMessage().contains("1 non-blocking allreduce(s) not waited for"), e.getMessage());
        never.waitFor();
        assertFalse(memory.scope().isAlive(), "freed once the last request completes");
        IllegalStateException closed = assertThrows(IllegalStateException.class,
                () -> comm.allreduceAsync(memory, 0, 4, Communicator.Op.SUM));
        assertTrue(closed.getMessage().contains("freed"), closed.getMessage());
    }

    @Test
    void theWrapperChecksItsModelAndBuckets() {
        try (Linear layer = new Linear(3, 2)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new DistributedDataParallel(comm, layer, 3));
            assertTrue(e.getMessage().contains("got 3 bytes"), e.getMessage());
            try (DistributedDataParallel ddp = new DistributedDataParallel(comm, layer, 8)) {
                assertEquals(2, ddp.bucketCount()); // the bias (8 bytes), then the weight (24) alone
                try (Linear other = new Linear(3, 2)) {
                    assertThrows(IllegalArgumentException.class, () -> ddp.gradientsReady(other));
                }
            }
        }
    }

    /** With overlap, every parameter has the wrapper's hook until the wrapper is closed; without, none. */
    @Test
    void theOverlappingWrapperHooksEveryParameterUntilClosed() {
        try (Linear layer = new Linear(3, 2)) {
            try (DistributedDataParallel byDefault = new DistributedDataParallel(comm, layer, 8)) {
                assertFalse(byDefault.overlaps(), "overlap is off by default");
            }
            DistributedDataParallel ddp = new DistributedDataParallel(comm, layer, 8, true);
            assertTrue(ddp.overlaps());
            for (Tensor p : layer.parameters()) {
                assertEquals(1, p.postAccumulateGradHooks().size());
            }
            dev.gatun.ops.Reduce.sum(layer.forward(Tensor.ones(4, 3))).backward();
            ddp.gradientsReady(layer);
            assertEquals(1, ddp.steps());
            ddp.close();
            ddp.close();
            for (Tensor p : layer.parameters()) {
                assertTrue(p.postAccumulateGradHooks().isEmpty());
            }
            IllegalStateException e = assertThrows(IllegalStateException.class, ddp::noSync);
            assertTrue(e.getMessage().contains("closed"), e.getMessage());
            try (DistributedDataParallel plain = new DistributedDataParallel(comm, layer, 8, false)) {
                assertFalse(plain.overlaps());
                for (Tensor p : layer.parameters()) {
                    assertTrue(p.postAccumulateGradHooks().isEmpty());
                }
                assertTrue(plain.toString().contains("2 buckets"), plain.toString());
            }
        }
    }

    @Test
    void eachProcessGetsItsShareOfEveryBatch() {
        float[] x = new float[20];
        int[] y = new int[20];
        Dataset d = Dataset.of(x, y, 2, 1);
        DataLoader loader = new DataLoader(d, 6, Order.shuffled(3), LastBatch.DROP);
        int[] order = loader.sampleOrder(2);
        int[] r0 = ShardedSampler.shard(loader, 2, 0, 2);
        int[] r1 = ShardedSampler.shard(loader, 2, 1, 2);
        assertArrayEquals(new int[] {order[0], order[1], order[2], order[6], order[7], order[8], order[12], order[13],
            order[14]}, r0);
        assertArrayEquals(new int[] {order[3], order[4], order[5], order[9], order[10], order[11], order[15], order[16],
            order[17]}, r1);
        Set<Integer> all = new HashSet<>();
        for (int i : r0) all.add(i);
        for (int i : r1) all.add(i);
        assertEquals(18, all.size());
        assertFalse(Arrays.equals(r0, ShardedSampler.shard(loader, 3, 0, 2)), "each epoch has its own order");

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ShardedSampler.shard(loader, 0, 0, 4));
        assertTrue(e.getMessage().contains("batch size 6 must be a multiple of the 4"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ShardedSampler.shard(loader, 0, 2, 2));
        assertTrue(e.getMessage().contains("[0, 2), got 2"), e.getMessage());
        DataLoader keep = new DataLoader(d, 6, Order.shuffled(3), LastBatch.KEEP);
        e = assertThrows(IllegalArgumentException.class, () -> ShardedSampler.shard(keep, 0, 0, 2));
        assertTrue(e.getMessage().contains("LastBatch.DROP"), e.getMessage());

        assertArrayEquals(new int[] {3, 4, 5}, ShardedSampler.block(10, 1, 3));
        assertArrayEquals(new int[] {6, 7, 8, 9}, ShardedSampler.block(10, 2, 3));
        e = assertThrows(IllegalArgumentException.class, () -> ShardedSampler.block(2, 0, 3));
        assertTrue(e.getMessage().contains("2 samples cannot be shared by 3"), e.getMessage());
    }

    @Test
    void aTaskThatStepsItsOwnOptimizersIsNotTrainedDataParallel() throws Exception {
        Dataset d = Dataset.of(new float[8], new int[8], 2, 1);
        DataLoader loader = new DataLoader(d, 4, Order.sequential(), LastBatch.DROP);
        Trainer.Task own = new Trainer.Task() {
            @Override
            public Trainer.BatchLoss step(dev.gatun.nn.Module model, DataLoader.Batch batch) {
                throw new AssertionError("not reached");
            }

            @Override
            public boolean updatesItself() {
                return true;
            }
        };
        try (Linear layer = new Linear(1, 2); SGD sgd = new SGD(layer.parameters(), 0.1)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Trainer.fit(layer, sgd,
                    own, loader, null, Trainer.Config.of(1).withOut(null), new Trainer.DataParallel() {}));
            assertTrue(e.getMessage().contains("runs its own"), e.getMessage());
        }
    }

    @Test
    void theLauncherIsDetectedFromItsEnvironment() {
        assertTrue(Communicator.launchedAsMany(Map.of("OMPI_COMM_WORLD_SIZE", "4")));
        assertFalse(Communicator.launchedAsMany(Map.of("OMPI_COMM_WORLD_SIZE", "1")));
        assertTrue(Communicator.launchedAsMany(Map.of("SLURM_NTASKS", "2")));
        assertFalse(Communicator.launchedAsMany(Map.of("PMI_SIZE", "x")));
        assertFalse(Communicator.launchedAsMany(Map.of()));
    }
}
