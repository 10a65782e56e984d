/**
 * Reverse-mode automatic differentiation.
 *
 * <p>While recording is on (the default, per thread), every differentiable op whose inputs require
 * gradients attaches a {@link dev.gatun.autograd.Node} to its output: the op's inputs and a closure that
 * maps the output's gradient to theirs. {@link dev.gatun.autograd.Autograd#backward} (what
 * {@code Tensor.backward()} calls) walks the nodes from a loss in reverse topological order and
 * accumulates the gradients into the leaves, as PyTorch's autograd does; by default a pass releases the
 * nodes it ran, so a graph is back-propagated once unless it is asked to be retained.
 * {@link dev.gatun.autograd.Autograd#noGrad()} opens a region in which nothing is recorded (evaluation,
 * inference, optimizer steps).
 *
 * <p>Recording is per thread, and a graph is built and back-propagated on one thread. Every tensor a
 * gradient passes through must stay open until the backward pass returns; a closed one makes the pass fail
 * with an {@link java.lang.IllegalStateException} naming it rather than lose gradients silently.
 */
package dev.gatun.autograd;
