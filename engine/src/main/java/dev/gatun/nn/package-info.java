/**
 * Neural-network layers and models, with PyTorch's names, parameter names and semantics.
 *
 * <p>A {@link dev.gatun.nn.Module} holds named parameters (trained), named buffers (state that is not
 * trained, such as batch-norm running statistics) and child modules, and is in training or evaluation mode.
 * Layers cover linear, convolutional and transposed convolutional layers, pooling, upsampling,
 * normalization, dropout, activations, embeddings, recurrent layers (RNN, LSTM, GRU) and transformer
 * encoder layers; containers such as {@code Sequential} compose them. Whole models include the generative
 * ones: autoencoders ({@link dev.gatun.nn.Autoencoder}), a variational autoencoder
 * ({@link dev.gatun.nn.VAE}) and a DCGAN ({@link dev.gatun.nn.DCGAN}). State-dict names follow PyTorch ({@code 0.weight}, {@code 1.bias},
 * ...), so weights move between gatun and PyTorch unchanged through {@link dev.gatun.io.ModelFile}.
 *
 * <p>A module's parameters and buffers live in the module's own detached
 * {@link dev.gatun.tensor.Scope}, apart from whatever scope is open when it is built, and are freed by
 * {@link dev.gatun.nn.Module#close()}, which closes its children too. Weights are initialized with
 * PyTorch's formulas from a seedable generator, so that a seeded run is reproducible. A module in
 * evaluation mode may run on several threads at once (as {@link dev.gatun.serve.InferenceSession} does);
 * training is single-threaded.
 */
package dev.gatun.nn;
