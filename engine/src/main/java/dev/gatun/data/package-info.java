/**
 * Training data: datasets held on the Java heap, the loader that cuts them into mini-batch tensors, and
 * readers for data files.
 *
 * <p>A {@link dev.gatun.data.Dataset} is an immutable set of samples with labels; it can be split,
 * subset and normalized. A {@link dev.gatun.data.DataLoader} turns one into batches of tensors epoch by
 * epoch, in a sequential or a seeded shuffled order that is reproducible from the seed. Each batch's tensors
 * are native memory that the caller closes (a batch is {@link java.lang.AutoCloseable}).
 *
 * <p>{@link dev.gatun.data.Mnist} loads the MNIST digits from their IDX files, which
 * {@link dev.gatun.data.Idx} reads, raw or gzip-compressed. Data files are treated as untrusted input:
 * headers are checked before anything is allocated, allocations are bounded by
 * {@link dev.gatun.data.Idx#limit()}, and a file that cannot be used fails with a
 * {@link dev.gatun.data.DataFileException} naming the file and the problem.
 */
package dev.gatun.data;
