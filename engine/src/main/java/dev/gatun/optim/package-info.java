/**
 * Optimizers, learning-rate schedules and gradient clipping, each matching its {@code torch.optim}
 * namesake (PyTorch 1.13) step for step.
 *
 * <p>An {@link dev.gatun.optim.Optimizer} updates a fixed list of parameters in place from their
 * gradients: {@link dev.gatun.optim.SGD}, {@link dev.gatun.optim.Adam}, {@link dev.gatun.optim.AdamW},
 * {@link dev.gatun.optim.RMSprop}, {@link dev.gatun.optim.Adagrad} and {@link dev.gatun.optim.Adadelta},
 * each configured by an immutable {@code Options} record whose defaults are PyTorch's, or made by name
 * through {@link dev.gatun.optim.Optimizers}. The update rule is written out on each class; arithmetic is
 * float32 with the operations rounded in PyTorch's order. An optimizer owns its state (momentum buffers,
 * moment estimates) in native memory freed by {@link dev.gatun.optim.Optimizer#close()}, and can save and
 * restore it for checkpoints ({@link dev.gatun.optim.Optimizer#stateDict()}). An optimizer is used by one
 * thread at a time.
 *
 * <p>A typical step:
 * <pre>{@code
 * try (Optimizer opt = new AdamW(model.parameters())) {
 *     for (Batch batch : loader.epoch(epoch)) {
 *         opt.zeroGrad();
 *         Tensor loss = ...;                          // forward
 *         loss.backward();
 *         GradClip.clipGradNorm(opt.parameters(), 1.0);
 *         opt.step();
 *     }
 * }
 * }</pre>
 *
 * <p>A {@link dev.gatun.optim.LearningRateSchedule} ({@link dev.gatun.optim.StepLR},
 * {@link dev.gatun.optim.ExponentialLR}, {@link dev.gatun.optim.CosineAnnealingLR}) sets an optimizer's
 * learning rate epoch by epoch; {@link dev.gatun.optim.GradClip} clips gradients by norm or by value
 * between the backward pass and the step.
 */
package dev.gatun.optim;
