/**
 * Tensors and the memory they live in.
 *
 * <p>A {@link dev.gatun.tensor.Tensor} is an n-dimensional array in native (off-heap) memory, with a
 * shape, strides and an offset, so that views such as transposes and slices share their base's memory.
 * A tensor takes part in {@linkplain dev.gatun.autograd automatic differentiation}: it may require a
 * gradient, and an op's output remembers the op that made it.
 *
 * <p>Memory is owned by a {@link dev.gatun.tensor.Scope}, an arena freed all at once when it closes:
 * tensors made while a scope is open on the thread go into it (one scope per training step or per
 * request frees all of its activations together), long-lived tensors such as parameters go into a
 * detached scope, and a tensor made with no scope open owns its memory and is freed by its own
 * {@code close()}. A tensor used after its memory was freed throws {@link java.lang.IllegalStateException};
 * it never reads freed memory. Tensors of a thread's scope may be used by that thread only; those of a
 * detached scope by any thread.
 *
 * <p>A {@link dev.gatun.tensor.LayoutConverter} lets a backend keep a tensor's data in its own layout
 * (such as oneDNN's channel-blocked formats) and convert it to plain row-major order only when it is read.
 */
package dev.gatun.tensor;
