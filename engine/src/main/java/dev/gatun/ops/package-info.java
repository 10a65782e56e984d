/**
 * The differentiable operations the layers are built from, as static methods over
 * {@link dev.gatun.tensor.Tensor}s: elementwise arithmetic with broadcasting, activations, reductions,
 * matrix products, convolution and transposed convolution, pooling, resampling (nearest and bilinear
 * upsampling), normalization, dropout, embeddings, attention, recurrent layers and losses.
 *
 * <p>Each op follows the semantics of its {@code torch} or {@code torch.nn.functional} namesake, checks
 * its arguments before any native code runs (a bad shape or value is an
 * {@link java.lang.IllegalArgumentException} that names it), returns new tensors in the calling thread's
 * current {@link dev.gatun.tensor.Scope} (or owning their memory when none is open), and, when recording
 * is on and an input requires a gradient, records its backward pass with
 * {@link dev.gatun.autograd.Autograd#record}. The backward formulas are written out on each class. Matrix
 * products run on OpenBLAS; convolution, transposed convolution, pooling, batch normalization and
 * recurrent layers on oneDNN; the rest in plain Java over arrays.
 */
package dev.gatun.ops;
