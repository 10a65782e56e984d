/**
 * Training models: the fit loop, checkpoints, and the reports a run writes.
 *
 * <p>{@link dev.gatun.train.Trainer} trains a classifier epoch by epoch from a
 * {@link dev.gatun.data.DataLoader}, with validation, early stopping, a console progress line, a CSV log
 * and, with XChart present, a PNG of the loss and accuracy curves ({@link dev.gatun.train.Curves}). Each
 * training step runs in its own {@link dev.gatun.tensor.Scope}, so a step's activations and intermediate
 * gradients are freed when it ends. A loss that becomes NaN or infinite stops the run with a
 * {@link dev.gatun.train.TrainingDivergedException}.
 *
 * <p>A {@link dev.gatun.train.Checkpoint} holds everything a run needs to continue as if it had never
 * stopped (weights, optimizer state, schedule, random generators, the position in the data), so that a
 * resumed run ends with bit-identical weights. Checkpoints are written atomically and verified by a checksum
 * when read; a directory of them resumes from the newest good one.
 */
package dev.gatun.train;
