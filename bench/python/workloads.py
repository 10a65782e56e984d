"""The PyTorch side of the gatun comparison (shared/WORKLOADS.md), run with Debian's /usr/bin/python3.

  workloads.py --write-init DIR          writes the initial weights and fixed mini-batch of every
                                         workload both systems implement (DIR/NAME.txt + DIR/NAME.bin)
  workloads.py --export-onnx DIR --init DIR
                                         exports every inference workload, with the weights of --init,
                                         as DIR/NAME.onnx (torch.onnx.export, opset 13), for ONNX Runtime
  workloads.py --export-torchscript DIR --init DIR
                                         scripts every workload, with the weights of --init, for libtorch
                                         through the Deep Java Library (bench/djl): DIR/NAME.pt, and for
                                         training rows DIR/NAME.check.pt with dropout off (see export_torchscript)
  workloads.py NAME --init DIR [--threads N] [--warmup-seconds S] [--warmup-steps N --warmup-max-seconds M]
                                         [--steps N] [--check]
                                         times one workload and prints one JSON line, the same fields
                                         as gatun's dev.gatun.bench.workloads.Runner

A training step is zero_grad + forward + loss + backward + optimizer step; an inference step is one
forward pass in eval mode under torch.no_grad(). --check turns dropout off and prints the losses of
the first two steps, to prove both systems do the same work. A generation step (chargpt_generate_t256) is
one cached greedy generation; its --check prints the new tokens, whether uncached greedy generation gives
the same, and the logits they were picked from.
"""
import argparse
import json
import math
import os
import resource
import sys
import time
import warnings
from typing import List

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def mlp13k():
    return nn.Sequential(nn.Linear(784, 16), nn.Sigmoid(), nn.Linear(16, 16), nn.Sigmoid(), nn.Linear(16, 10))


def mlp_big():
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2), nn.Linear(512, 256), nn.ReLU(),
                         nn.Linear(256, 10))


def lenet5():
    return nn.Sequential(nn.Conv2d(1, 20, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5, padding=2),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2450, 500), nn.ReLU(), nn.Linear(500, 10))


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity shortcut (32 channels throughout)."""

    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(h)) + x)


def resnet():
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), BasicBlock(32),
                         BasicBlock(32), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))


class CharModel(nn.Module):
    """Character model: embedding 65→64, one recurrent layer 64→256, linear 256→65 at every step. Takes
    the tokens [T, N] as floats (the exchange holds floats) and gives the logits [T·N, 65]."""

    def __init__(self, cell):
        super().__init__()
        self.embed = nn.Embedding(CHAR_VOCAB, 64)
        self.rnn = cell(64, 256)
        self.head = nn.Linear(256, CHAR_VOCAB)

    def forward(self, x):
        out, _ = self.rnn(self.embed(x.long()))
        return self.head(out.reshape(-1, out.shape[-1]))


CHAR_VOCAB = 65
# name -> (T, N) for the rows whose input is a token sequence [T, N] and whose labels are [T·N] tokens
TOKEN_INPUTS = {
    "charlstm_train_b32_t64": (64, 32),
    "chargru_train_b32_t64": (64, 32),
    "charrnn_train_b32_t64": (64, 32),
    "charlstm_infer_b1_t64": (64, 1),
}


def rnn_flops(module, inputs):
    """Forward multiply-add FLOPs of a one-direction recurrent layer: 2·T·N·(I + H)·G·H per layer."""
    t, n = inputs[0].shape[0], inputs[0].shape[1]
    gates = {"LSTM": 4, "GRU": 3}.get(module.mode, 1)
    total, width = 0.0, module.input_size
    for _ in range(module.num_layers):
        total += 2.0 * t * n * (width + module.hidden_size) * gates * module.hidden_size
        width = module.hidden_size
    return total


# name -> (model factory, input shape, number of classes or None for inference, optimizer factory)
WORKLOADS = {
    "mlp13k_train_b32": (mlp13k, (32, 784), 10, lambda p: torch.optim.SGD(p, lr=0.1)),
    "mlp_train_b128_adam": (mlp_big, (128, 784), 10, lambda p: torch.optim.Adam(p, lr=1e-3)),
    "mlp_infer_b1": (mlp_big, (1, 784), None, None),
    "lenet5_train_b64": (lenet5, (64, 1, 28, 28), 10, lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9)),
    "lenet5_infer_b1": (lenet5, (1, 1, 28, 28), None, None),
    "resnet_train_b32": (resnet, (32, 3, 32, 32), 10, lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    "resnet_infer_b1": (resnet, (1, 3, 32, 32), None, None),
    "charlstm_train_b32_t64": (lambda: CharModel(nn.LSTM), (64, 32), CHAR_VOCAB,
                               lambda p: torch.optim.Adam(p, lr=2e-3)),
    "chargru_train_b32_t64": (lambda: CharModel(nn.GRU), (64, 32), CHAR_VOCAB, lambda p: torch.optim.Adam(p, lr=2e-3)),
    "charrnn_train_b32_t64": (lambda: CharModel(nn.RNN), (64, 32), CHAR_VOCAB, lambda p: torch.optim.Adam(p, lr=2e-3)),
    "charlstm_infer_b1_t64": (lambda: CharModel(nn.LSTM), (64, 1), None, None),
}


def transformer():
    return nn.TransformerEncoderLayer(128, 4, dim_feedforward=512, dropout=0.1, batch_first=True)


def transformer_flops(model, x, train):
    """Multiply-add FLOPs of one encoder layer on x [B, T, E]: the four projections, Q·Kᵀ and P·V, the FFN;
    training counts backward as twice the forward but for the input projection's input gradient (x is data)."""
    b, t, e = x.shape
    n = b * t
    ffn = model.linear1.out_features
    projection = 2.0 * n * e * 3 * e
    forward = projection + 2.0 * n * e * e + 2 * 2.0 * b * t * t * e + 2 * 2.0 * n * e * ffn
    return 3 * forward - projection if train else forward


# Rows whose loss is the mean squared error to a random target of the output's shape:
# name -> (model factory, input shape, optimizer factory, FLOPs of a step)
REGRESSION_WORKLOADS = {
    "transformer_train_b16_t64": (transformer, (16, 64, 128), lambda p: torch.optim.Adam(p, lr=1e-3),
                                  transformer_flops),
}


# The character GPT rows: gatun's dev.gatun.nn.GPT with GPT.Config.charGpt() (its Javadoc gives this PyTorch
# model parameter for parameter).
GPT_VOCAB, GPT_D, GPT_LAYERS, GPT_HEADS, GPT_FFN, GPT_DROPOUT = 96, 128, 4, 4, 512, 0.1
GPT_PROMPT, GPT_NEW_TOKENS = 16, 256


class LearnedPositionalEmbedding(nn.Module):
    """gatun's LearnedPositionalEmbedding, batch first: dropout(x + weight[:T])."""

    def __init__(self, d, max_len, p):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(max_len, d))
        self.drop = nn.Dropout(p)

    def forward(self, x):
        return self.drop(x + self.weight[:x.size(1)])


class CharGPT(nn.Module):
    """Decoder-only character GPT: token embedding 96→128 plus learned positions, 4 pre-norm layers (causal
    self-attention of 4 heads, FFN 512 GELU, dropout 0.1), final LayerNorm, linear 128→96. forward takes the
    tokens [B, T] as floats (the exchange holds floats) and gives the logits [B·T, 96], for cross-entropy over
    every position."""

    def __init__(self, block=128):
        super().__init__()
        self.tok_emb = nn.Embedding(GPT_VOCAB, GPT_D)
        self.pos_emb = LearnedPositionalEmbedding(GPT_D, block, GPT_DROPOUT)
        self.layers = nn.ModuleList(nn.TransformerEncoderLayer(GPT_D, GPT_HEADS, GPT_FFN, GPT_DROPOUT,
                                                               activation="gelu", batch_first=True, norm_first=True)
                                    for _ in range(GPT_LAYERS))
        self.ln_f = nn.LayerNorm(GPT_D)
        self.head = nn.Linear(GPT_D, GPT_VOCAB)
        # gatun's GPT starts from GPT-2's initialisation; so does this one, for a loss and logits of the same size.
        residual = 0.02 / (2.0 * GPT_LAYERS) ** 0.5
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.startswith("ln_f.") or ".norm" in name:
                    continue
                if p.dim() == 1:
                    p.zero_()
                else:
                    p.normal_(0.0, residual if name.endswith(("out_proj.weight", "linear2.weight")) else 0.02)

    def logits(self, idx):
        """The logits [B, T, 96] of int64 tokens [B, T]."""
        t = idx.size(1)
        x = self.pos_emb(self.tok_emb(idx))
        mask = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
        for layer in self.layers:
            x = layer(x, src_mask=mask)
        return self.head(self.ln_f(x))

    def forward(self, x):
        return self.logits(x.long()).reshape(-1, self.head.out_features)


class CachedGreedy(nn.Module):
    """Greedy generation of new_tokens tokens after a prompt with a hand-written cache of keys and values
    (PyTorch 1.13's TransformerEncoderLayer has none): the prompt goes through the layers once, then each
    new token alone, its query attending over the cached keys and values of every earlier position. The math
    of the full causal forward (pre-norm layer, q/√d_head, softmax, exact GELU), position by position. forward
    takes the prompt [P] as floats and gives the new tokens [new_tokens] as floats; scriptable, so libtorch runs
    the same loop. With logits, the first new token's logits [96] follow the tokens (the check's output)."""

    def __init__(self, gpt, new_tokens, logits=False):
        super().__init__()
        self.gpt = gpt
        self.new_tokens = new_tokens
        self.with_logits = logits
        self.heads = GPT_HEADS

    def forward(self, prompt):
        ids = prompt.long()
        d = self.gpt.head.in_features
        hd = d // self.heads
        total = ids.size(0) + self.new_tokens
        keys: List[torch.Tensor] = []
        values: List[torch.Tensor] = []
        for _ in range(len(self.gpt.layers)):
            keys.append(torch.zeros(self.heads, total, hd))
            values.append(torch.zeros(self.heads, total, hd))
        out = torch.zeros(self.new_tokens)
        first = torch.zeros(0)
        pos = 0
        for step in range(self.new_tokens):
            n = ids.size(0)
            x = self.gpt.tok_emb(ids) + self.gpt.pos_emb.weight[pos:pos + n]  # [n, d]
            end = pos + n
            for i, layer in enumerate(self.gpt.layers):
                h = layer.norm1(x)
                q, k, v = F.linear(h, layer.self_attn.in_proj_weight, layer.self_attn.in_proj_bias).chunk(3, -1)
                keys[i][:, pos:end] = k.reshape(n, self.heads, hd).transpose(0, 1)
                values[i][:, pos:end] = v.reshape(n, self.heads, hd).transpose(0, 1)
                q = q.reshape(n, self.heads, hd).transpose(0, 1) / math.sqrt(hd)  # [H, n, hd]
                scores = torch.matmul(q, keys[i][:, :end].transpose(1, 2))  # [H, n, end]
                if n > 1:
                    # New position pos + r sees the positions up to pos + r only.
                    scores = scores.masked_fill(torch.triu(torch.ones(n, end, dtype=torch.bool), diagonal=pos + 1),
                                                float("-inf"))
                a = torch.matmul(torch.softmax(scores, -1), values[i][:, :end])  # [H, n, hd]
                x = x + layer.self_attn.out_proj(a.transpose(0, 1).reshape(n, d))
                x = x + layer.linear2(F.gelu(layer.linear1(layer.norm2(x))))
            logits = self.gpt.head(self.gpt.ln_f(x[n - 1]))
            if step == 0:
                first = logits
            token = torch.argmax(logits)
            out[step] = token.float()
            ids = token.reshape(1)
            pos = end
        if self.with_logits:
            return torch.cat([out, first])
        return out


def greedy_uncached(gpt, prompt, new_tokens):
    """Greedy generation that re-reads the whole sequence for every token: the new tokens, and for each the
    logits it was picked from."""
    seq = prompt.long()
    picked = []
    for _ in range(new_tokens):
        logits = gpt.logits(seq.unsqueeze(0))[0, -1]
        picked.append(logits)
        seq = torch.cat([seq, torch.argmax(logits).reshape(1)])
    return seq[prompt.numel():], picked


def gpt_train_flops(b, t):
    """Multiply-add FLOPs of a training step of the GPT on [b, t]: per layer the four projections, Q·Kᵀ and P·V
    over the full t×t (as the kernels compute it), the FFN; the head; backward counted as twice the forward."""
    n = b * t
    layer = 2.0 * n * GPT_D * 3 * GPT_D + 2.0 * n * GPT_D * GPT_D + 2 * 2.0 * b * t * t * GPT_D \
        + 2 * 2.0 * n * GPT_D * GPT_FFN
    return 3 * (GPT_LAYERS * layer + 2.0 * n * GPT_D * GPT_VOCAB)


def gpt_generate_flops(prompt, new_tokens):
    """Multiply-add FLOPs of a cached greedy generation: every position fed (the prompt, then every new token
    but the last) through the layers, attending over itself and the positions before it; the head once per
    new token."""
    total = 0.0
    for p in range(prompt + new_tokens - 1):
        total += GPT_LAYERS * (2.0 * GPT_D * 3 * GPT_D + 2.0 * GPT_D * GPT_D + 2 * 2.0 * (p + 1) * GPT_D
                               + 2 * 2.0 * GPT_D * GPT_FFN)
    return total + new_tokens * 2.0 * GPT_D * GPT_VOCAB


# name -> kind ("train" or "generate"), block size, input shape
GPT_WORKLOADS = {
    "chargpt_train_b16_t128": ("train", 128, (16, 128)),
    "chargpt_generate_t256": ("generate", GPT_PROMPT + GPT_NEW_TOKENS, (GPT_PROMPT,)),
}


def gpt_adamw(params):
    return torch.optim.AdamW(params, lr=3e-4)


def write_gpt_init(directory):
    for i, (name, (kind, block, shape)) in enumerate(GPT_WORKLOADS.items()):
        torch.manual_seed(5678 + i)
        model = CharGPT(block)
        arrays = [(k, v.detach().float().numpy()) for k, v in model.state_dict().items()]
        if kind == "train":
            # Windows of a random text: the label of each position is the next character.
            seq = torch.randint(0, GPT_VOCAB, (shape[0], shape[1] + 1))
            arrays.append(("x", seq[:, :-1].float().numpy()))
            arrays.append(("y", seq[:, 1:].reshape(-1).float().numpy()))
        else:
            arrays.append(("x", torch.randint(0, GPT_VOCAB, shape).float().numpy()))
        write_arrays(directory, name, arrays)


def load_gpt(name, directory):
    _, block, _ = GPT_WORKLOADS[name]
    init = read_init(directory, name)
    model = CharGPT(block)
    model.load_state_dict({k: v for k, v in init.items() if k not in ("x", "y")}, strict=True)
    return model, init


def run_gpt(args):
    """The GPT rows: a training step (zero grads, forward, cross-entropy over every position, backward, AdamW),
    or one cached greedy generation of GPT_NEW_TOKENS tokens in eval mode without grad, whose --check prints
    the tokens, that they equal an uncached greedy generation's, and the logits they were picked from."""
    kind, _, _ = GPT_WORKLOADS[args.workload]
    model, init = load_gpt(args.workload, args.init)
    x = init["x"]
    if kind == "train":
        step = training_step(model, gpt_adamw(model.parameters()), nn.CrossEntropyLoss(), x, init["y"].long())
        report(args, model, step, lambda: gpt_train_flops(*x.shape))
        return
    model.eval()
    generator = CachedGreedy(model, GPT_NEW_TOKENS)
    result = {"system": "pytorch", "workload": args.workload, "threads": args.threads,
              "new_tokens": GPT_NEW_TOKENS}
    with torch.no_grad():
        if args.check:
            tokens = generator(x).long()
            uncached, picked = greedy_uncached(model, x, GPT_NEW_TOKENS)
            result.update(generation_check(tokens.tolist(), uncached.tolist(), picked))
        else:
            result.update(time_steps(lambda: generator(x), args))
    result["flops"] = gpt_generate_flops(x.numel(), GPT_NEW_TOKENS)
    result["rss_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(result))


def generation_check(tokens, uncached, picked):
    """The check fields of a generation: the new tokens, whether uncached generation gives the same, the logits
    of the first new token and, for each new token, how far its logit stood above the runner-up's (a small
    margin is a near-tie that float rounding may flip)."""
    top2 = torch.stack(picked).topk(2, dim=1).values
    return {"tokens": tokens, "uncached_same": tokens == uncached, "first_logits": picked[0].tolist(),
            "margins": (top2[:, 0] - top2[:, 1]).tolist()}


def export_gpt_row(directory, init, name):
    """A GPT row for libtorch: the training row as the other training rows (TrainingLoss, NAME.pt and the
    dropout-free NAME.check.pt); the generation row as CachedGreedy scripted, so libtorch runs the whole
    cached greedy loop in TorchScript (NAME.pt; NAME.check.pt also returns the first logits)."""
    kind = GPT_WORKLOADS[name][0]
    for suffix in (".pt", ".check.pt"):
        model, _ = load_gpt(name, init)
        if kind == "train":
            if suffix == ".check.pt":
                without_dropout(model)
            module = TrainingLoss(model, nn.CrossEntropyLoss()).train()
        else:
            module = CachedGreedy(model, GPT_NEW_TOKENS, logits=suffix == ".check.pt").eval()
        torch.jit.script(module).save(os.path.join(directory, name + suffix))
    if kind == "train":
        write_training_spec(directory, name, model, gpt_adamw, "cross_entropy")
    else:
        with open(os.path.join(directory, name + ".json"), "w") as f:
            json.dump({"train": False, "generate": GPT_NEW_TOKENS}, f)


# The generative rows (dev.gatun.nn.VAE and dev.gatun.nn.DCGAN, parameter for parameter). Their random parts,
# the VAE's epsilon and the GAN's noise, are fixed tensors of the init directory ("eps", "z"), the same at every
# step and in every system, so that the first two losses agree to float rounding.
VAE_BATCH, VAE_INPUTS, VAE_HIDDEN, VAE_LATENT = 128, 784, 400, 20
GAN_BATCH, GAN_NOISE = 64, 100


class VAE(nn.Module):
    """MLP VAE: fc1 784 -> 400 ReLU to fc_mu and fc_logvar (400 -> 20); z = mu + exp(logvar / 2) * eps; decoder fc3
    20 -> 400 ReLU, fc4 400 -> 784 Bernoulli logits."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(VAE_INPUTS, VAE_HIDDEN)
        self.fc_mu = nn.Linear(VAE_HIDDEN, VAE_LATENT)
        self.fc_logvar = nn.Linear(VAE_HIDDEN, VAE_LATENT)
        self.fc3 = nn.Linear(VAE_LATENT, VAE_HIDDEN)
        self.fc4 = nn.Linear(VAE_HIDDEN, VAE_INPUTS)

    def forward(self, x, eps):
        """The negative ELBO per image at z = mu + sigma * eps: binary cross-entropy with logits summed over the
        pixels plus KL(q(z|x) || N(0, I)), each the mean over the batch (gatun's VAE.loss)."""
        h = F.relu(self.fc1(x))
        mu, logvar = self.fc_mu(h), self.fc_logvar(h)
        z = mu + torch.exp(0.5 * logvar) * eps
        logits = self.fc4(F.relu(self.fc3(z)))
        n = x.shape[0]
        reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / n
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / n
        return reconstruction + kl


def vae_flops(n):
    """FLOPs of a VAE training step: the five linear layers' forward, backward twice that but for the first
    layer's input gradient (as VaeTraining.trainFlops counts them)."""
    first = 2.0 * n * VAE_INPUTS * VAE_HIDDEN
    forward = first + 2 * (2.0 * n * VAE_HIDDEN * VAE_LATENT) + 2.0 * n * VAE_LATENT * VAE_HIDDEN \
        + 2.0 * n * VAE_HIDDEN * VAE_INPUTS
    return 3 * forward - first


class DCGAN(nn.Module):
    """The MNIST DCGAN: generator linear 100 -> 6272, BN1d, ReLU, view 128x7x7, ConvTranspose 128 -> 64 (k4 s2 p1),
    BN, ReLU, ConvTranspose 64 -> 1, tanh; discriminator conv 1 -> 64 (k4 s2 p1), LeakyReLU 0.2, conv 64 -> 128, BN,
    LeakyReLU 0.2, flatten, linear 6272 -> 1. Convolutions start from N(0, 0.02), batch-norm scales from N(1, 0.02)
    (the DCGAN paper's initialisation, as gatun's DCGAN).

    forward(x, z, phase) is one half of a training step's loss, for libtorch, which runs the optimizer between the
    halves: phase 0 the discriminator's (BCE with logits of D(x) against 1 plus of D(G(z)) detached against 0),
    phase 1 the generator's (BCE of D(G(z)) against 1)."""

    def __init__(self):
        super().__init__()
        self.generator = nn.Sequential(nn.Linear(GAN_NOISE, 6272), nn.BatchNorm1d(6272), nn.ReLU(),
                                       nn.Unflatten(1, (128, 7, 7)), nn.ConvTranspose2d(128, 64, 4, 2, 1),
                                       nn.BatchNorm2d(64), nn.ReLU(), nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())
        self.discriminator = nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(64, 128, 4, 2, 1),
                                           nn.BatchNorm2d(128), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(6272, 1))
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                    m.weight.normal_(0.0, 0.02)
                    m.bias.zero_()
                elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                    m.weight.normal_(1.0, 0.02)
                    m.bias.zero_()

    def forward(self, x, z, phase):
        fake = self.generator(z)
        if int(phase.item()) == 0:
            real_logits = self.discriminator(x)
            fake_logits = self.discriminator(fake.detach())
            return F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits)) \
                + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
        logits = self.discriminator(fake)
        return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))


def dcgan_flops(n):
    """FLOPs of a GAN step (as DcganTraining.trainFlops counts them): the generator's forward and backward (twice
    the forward but for its first layer's input gradient); the discriminator's two passes of its own update
    (real, generated and detached), each with every weight gradient and the input gradient of every layer but
    the first; its frozen pass of the generator's update, with every input gradient and no weight gradient."""
    g_linear = 2.0 * n * GAN_NOISE * 6272
    g = g_linear + 2.0 * n * 128 * 49 * 64 * 16 + 2.0 * n * 64 * 196 * 16
    d_conv1 = 2.0 * n * 64 * 196 * 16
    d = d_conv1 + 2.0 * n * 128 * 49 * 64 * 16 + 2.0 * n * 6272
    return 3 * g - g_linear + 2 * (3 * d - d_conv1) + 2 * d


def gan_adam(params):
    return torch.optim.Adam(params, lr=2e-4, betas=(0.5, 0.999))


def vae_adam(params):
    return torch.optim.Adam(params, lr=1e-3)


# name -> model factory
GENERATIVE_WORKLOADS = {
    "vae_train_b128": VAE,
    "dcgan_train_b64": DCGAN,
}


def write_generative_init(directory):
    torch.manual_seed(8765)
    vae = VAE()
    arrays = [(k, v.detach().float().numpy()) for k, v in vae.state_dict().items()]
    arrays.append(("x", torch.rand(VAE_BATCH, VAE_INPUTS).numpy()))  # pixel intensities in [0, 1]
    arrays.append(("eps", torch.randn(VAE_BATCH, VAE_LATENT).numpy()))
    write_arrays(directory, "vae_train_b128", arrays)
    torch.manual_seed(8766)
    gan = DCGAN()
    arrays = [(k, v.detach().float().numpy()) for k, v in gan.state_dict().items()
              if not k.endswith("num_batches_tracked")]
    arrays.append(("x", (torch.rand(GAN_BATCH, 1, 28, 28) * 2 - 1).numpy()))  # images in tanh's range
    arrays.append(("z", torch.randn(GAN_BATCH, GAN_NOISE).numpy()))
    write_arrays(directory, "dcgan_train_b64", arrays)


def load_generative(name, directory):
    init = read_init(directory, name)
    model = GENERATIVE_WORKLOADS[name]()
    result = model.load_state_dict({k: v for k, v in init.items() if k not in ("x", "eps", "z")}, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise SystemExit(f"{name}: state does not match the model: missing {missing}, "
                         f"unexpected {result.unexpected_keys}")
    return model, init


def run_generative(args):
    """The VAE row (zero grads, the negative ELBO at the fixed eps, backward, Adam 1e-3) and the DCGAN row (one
    discriminator update, then one generator update through the frozen discriminator, as gatun's
    DCGAN.trainStep; a step's loss is the sum of the two)."""
    model, init = load_generative(args.workload, args.init)
    x = init["x"]
    if args.workload == "vae_train_b128":
        eps = init["eps"]
        optimizer = vae_adam(model.parameters())

        def step():
            optimizer.zero_grad()
            loss = model(x, eps)
            value = loss.item()
            loss.backward()
            optimizer.step()
            return value
        report(args, model, step, lambda: vae_flops(x.shape[0]))
        return
    z = init["z"]
    g, d = model.generator, model.discriminator
    opt_d, opt_g = gan_adam(d.parameters()), gan_adam(g.parameters())

    def gan_step():
        fake = g(z)
        opt_d.zero_grad()
        real_logits = d(x)
        fake_logits = d(fake.detach())
        d_loss = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits)) \
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
        d_loss.backward()
        opt_d.step()
        opt_g.zero_grad()
        for p in d.parameters():
            p.requires_grad_(False)
        logits = d(fake)
        g_loss = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        g_loss.backward()
        for p in d.parameters():
            p.requires_grad_(True)
        opt_g.step()
        return d_loss.item() + g_loss.item()
    report(args, model, gan_step, lambda: dcgan_flops(x.shape[0]))


def export_generative_row(directory, init, name):
    """A generative row for libtorch, NAME.pt and NAME.check.pt alike (neither model has dropout). The VAE is its
    loss module, forward(x, eps); the DCGAN's forward(x, z, phase) is the loss of either half of a step, and its
    NAME.json says which parameters each half's Adam updates ("gan": the name prefixes of the discriminator and
    the generator)."""
    model, _ = load_generative(name, init)
    module = torch.jit.script(model.train())
    for suffix in (".pt", ".check.pt"):
        module.save(os.path.join(directory, name + suffix))
    if name == "vae_train_b128":
        write_training_spec(directory, name, model, vae_adam, "vae", inputs=["x", "eps"])
    else:
        write_training_spec(directory, name, model, gan_adam, "gan", inputs=["x", "z"],
                            gan={"discriminator": "discriminator.", "generator": "generator."})


def write_regression_init(directory):
    for i, (name, (factory, shape, _, _)) in enumerate(REGRESSION_WORKLOADS.items()):
        torch.manual_seed(4321 + i)
        model = factory()
        arrays = [(k, v.detach().float().numpy()) for k, v in model.state_dict().items()]
        arrays.append(("x", torch.randn(*shape).numpy()))
        arrays.append(("y", torch.randn(*shape).numpy()))
        write_arrays(directory, name, arrays)


def write_arrays(directory, name, arrays):
    offset = 0
    with open(os.path.join(directory, name + ".bin"), "wb") as b, open(os.path.join(directory, name + ".txt"), "w") as t:
        for key, a in arrays:
            a = np.ascontiguousarray(a, dtype="<f4")
            b.write(a.tobytes())
            dims = ",".join(str(d) for d in a.shape) if a.ndim else "-"
            t.write(f"{key} {dims} {offset} {a.size}\n")
            offset += a.size


def run_regression(args):
    """Times (or with --check, runs twice without dropout) one MSE training step of a REGRESSION_WORKLOADS row."""
    factory, shape, optimizer_factory, count_flops = REGRESSION_WORKLOADS[args.workload]
    init = read_init(args.init, args.workload)
    model = factory()
    model.load_state_dict({k: v for k, v in init.items() if k not in ("x", "y")}, strict=True)
    x, y = init["x"], init["y"]
    step = training_step(model, optimizer_factory(model.parameters()), nn.MSELoss(), x, y)
    report(args, model, step, lambda: count_flops(model, x, True))


def training_step(model, optimizer, loss_fn, x, y):
    """One training step (zero grads, forward, loss, backward, optimizer step) returning the loss before it."""
    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        value = loss.item()
        loss.backward()
        optimizer.step()
        return value
    return step


def report(args, model, step, count_flops):
    """Prints the row's JSON: the first two losses with dropout off (--check), else the timed steps."""
    result = {"system": "pytorch", "workload": args.workload, "threads": args.threads}
    if args.check:
        for m in model.modules():
            if isinstance(m, nn.Dropout):
                m.eval()
            if isinstance(m, nn.MultiheadAttention):
                m.dropout = 0.0  # the attention weights' dropout is not an nn.Dropout module
        result["losses"] = [step(), step()]
    else:
        result.update(time_steps(step, args))
    result["flops"] = count_flops()
    result["rss_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(result))


def time_steps(step, args):
    # As gatun's Runner: at least --warmup-seconds, and --warmup-steps steps unless --warmup-max-seconds pass.
    start = time.perf_counter()
    warm = 0
    while (warm < 5 or time.perf_counter() - start < args.warmup_seconds
           or (warm < args.warmup_steps and time.perf_counter() - start < args.warmup_max_seconds)):
        step()
        warm += 1
    ms = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        ms.append((time.perf_counter() - t0) * 1e3)
    return {"ms": ms, "warmup_steps": warm}


def write_init(directory):
    os.makedirs(directory, exist_ok=True)
    for i, (name, (factory, shape, classes, _)) in enumerate(WORKLOADS.items()):
        torch.manual_seed(1234 + i)
        model = factory()
        arrays = [(k, v.detach().float().numpy()) for k, v in model.state_dict().items()
                  if not k.endswith("num_batches_tracked")]
        if name in TOKEN_INPUTS:
            t, n = TOKEN_INPUTS[name]
            arrays.append(("x", torch.randint(0, CHAR_VOCAB, (t, n)).float().numpy()))
            if classes is not None:
                arrays.append(("y", torch.randint(0, classes, (t * n,)).float().numpy()))
        else:
            arrays.append(("x", torch.randn(*shape).numpy()))
            if classes is not None:
                arrays.append(("y", torch.randint(0, classes, (shape[0],)).float().numpy()))
        offset = 0
        with open(os.path.join(directory, name + ".bin"), "wb") as b, \
                open(os.path.join(directory, name + ".txt"), "w") as t:
            for key, a in arrays:
                a = np.ascontiguousarray(a, dtype="<f4")
                b.write(a.tobytes())
                dims = ",".join(str(d) for d in a.shape) if a.ndim else "-"
                t.write(f"{key} {dims} {offset} {a.size}\n")
                offset += a.size


def read_init(directory, name):
    raw = np.fromfile(os.path.join(directory, name + ".bin"), dtype="<f4")
    out = {}
    with open(os.path.join(directory, name + ".txt")) as t:
        for line in t:
            key, dims, offset, count = line.split()
            shape = () if dims == "-" else tuple(int(d) for d in dims.split(","))
            out[key] = torch.from_numpy(raw[int(offset):int(offset) + int(count)].reshape(shape).copy())
    return out


def load_model(name, directory):
    """The workload's PyTorch model with the weights of the init directory, and its batch."""
    factory = WORKLOADS[name][0]
    init = read_init(directory, name)
    model = factory()
    result = model.load_state_dict({k: v for k, v in init.items() if k not in ("x", "y")}, strict=False)
    # gatun keeps no num_batches_tracked counter, so the exchange has none; anything else must match.
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise SystemExit(f"{name}: state does not match the model: missing {missing}, "
                         f"unexpected {result.unexpected_keys}")
    return model, init


def export_onnx(directory, init):
    """Every inference workload as DIR/NAME.onnx, from the same weights: the model ONNX Runtime runs."""
    os.makedirs(directory, exist_ok=True)
    for name, (_, _, classes, _) in WORKLOADS.items():
        if classes is not None:
            continue
        model, data = load_model(name, init)
        model.eval()
        with torch.no_grad():
            torch.onnx.export(model, (data["x"],), os.path.join(directory, name + ".onnx"), opset_version=13,
                              input_names=["x"], output_names=["y"])


class TrainingLoss(nn.Module):
    """The model followed by the workload's loss: forward(x, y) is the loss of one training step, the same
    operations as training_step runs, for a caller that drives autograd and the optimizer itself."""

    def __init__(self, model, loss):
        super().__init__()
        self.model = model
        self.loss = loss

    def forward(self, x, y):
        return self.loss(self.model(x), y)


def without_dropout(model):
    """The model with every dropout probability set to 0. A scripted module's submodules all return to
    training mode when a caller trains it, so report's way (dropout modules in eval) would not survive
    there; nn.Dropout's p is a TorchScript constant, so it is set before scripting."""
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
        if isinstance(m, nn.MultiheadAttention):
            m.dropout = 0.0
    return model


def export_torchscript(directory, init):
    """Every workload as TorchScript (torch.jit.script) with the weights of --init, for libtorch through the
    Deep Java Library (bench/djl). A training row is saved as TrainingLoss (forward(x, y) gives the loss:
    cross-entropy, or MSE for the regression rows) in training mode, NAME.pt for timing and NAME.check.pt
    with dropout off for --check; an inference row is the model in eval mode, NAME.pt. Parameters keep
    requires_grad, so the Java side can collect their gradients. The GPT rows: see export_gpt_row.
    A row that cannot be scripted gets DIR/NAME.unsupported, the reason in one line, instead of its files, and
    the others are exported all the same (scripts/compare-pytorch then shows that row's libtorch as not run)."""
    os.makedirs(directory, exist_ok=True)
    # 1.13's TransformerEncoderLayer lists batch_first among its constants without setting it; harmless.
    warnings.filterwarnings("ignore", message="'batch_first' was found in ScriptModule constants")
    rows = [(name, export_classification_row) for name in WORKLOADS]
    rows += [(name, export_regression_row) for name in REGRESSION_WORKLOADS]
    rows += [(name, export_gpt_row) for name in GPT_WORKLOADS]
    rows += [(name, export_generative_row) for name in GENERATIVE_WORKLOADS]
    for name, export in rows:
        try:
            export(directory, init, name)
        except Exception as e:  # noqa: BLE001  (any failure of one row must leave the others)
            lines = [line.strip() for line in str(e).splitlines() if line.strip()]
            reason = f"TorchScript export failed: {type(e).__name__}: {lines[0] if lines else ''}"
            with open(os.path.join(directory, name + ".unsupported"), "w") as f:
                f.write(reason + "\n")
            print(f"{name}: {reason}", file=sys.stderr)


def export_classification_row(directory, init, name):
    train = WORKLOADS[name][2] is not None
    for suffix in ((".pt", ".check.pt") if train else (".pt",)):
        model, _ = load_model(name, init)
        if suffix == ".check.pt":
            without_dropout(model)
        if train:
            module = TrainingLoss(model, nn.CrossEntropyLoss()).train()
        else:
            module = model.eval()
        torch.jit.script(module).save(os.path.join(directory, name + suffix))
    write_training_spec(directory, name, model, WORKLOADS[name][3], "cross_entropy")


def export_regression_row(directory, init, name):
    factory, _, optimizer_factory, _ = REGRESSION_WORKLOADS[name]
    for suffix in (".pt", ".check.pt"):
        data = read_init(init, name)
        model = factory()
        model.load_state_dict({k: v for k, v in data.items() if k not in ("x", "y")}, strict=True)
        if suffix == ".check.pt":
            without_dropout(model)
        torch.jit.script(TrainingLoss(model, nn.MSELoss()).train()).save(os.path.join(directory, name + suffix))
    write_training_spec(directory, name, model, optimizer_factory, "mse")


def write_training_spec(directory, name, model, optimizer_factory, loss, **extra):
    """DIR/NAME.json: what the Java side needs besides the module: whether the row trains, its loss (for the
    labels' type) and its optimizer's class and settings, read from the optimizer workloads.py builds; extra
    holds what a row adds (the generative rows: "inputs", the init arrays forward takes, and for the GAN "gan")."""
    spec = {"train": optimizer_factory is not None, "loss": loss if optimizer_factory is not None else None}
    spec.update(extra)
    if optimizer_factory is not None:
        optimizer = optimizer_factory(model.parameters())
        spec["optimizer"] = dict(name=type(optimizer).__name__,
                                 **{k: v for k, v in optimizer.defaults.items()
                                    if isinstance(v, (bool, int, float, tuple, type(None)))})
    with open(os.path.join(directory, name + ".json"), "w") as f:
        json.dump(spec, f)


def flops(model, x, train):
    """Multiply-add FLOPs of the Linear, Conv2d and recurrent layers; training adds every weight gradient and the
    input gradient of every layer but the first. An embedding counts as a layer of no multiply-adds, so that the
    layer after it (whose input gradient the embedding's gradient needs) is not taken for the first."""
    per_layer = []

    def hook(module, inputs, output):
        if isinstance(module, nn.Embedding):
            per_layer.append(0.0)
        elif isinstance(module, nn.Linear):
            per_layer.append(2.0 * inputs[0].shape[0] * module.in_features * module.out_features)
        elif isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            per_layer.append(2.0 * output.numel() * module.in_channels // module.groups * kh * kw)
        elif isinstance(module, nn.RNNBase):
            per_layer.append(rnn_flops(module, inputs))

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Embedding, nn.Linear, nn.Conv2d, nn.RNNBase))]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    forward = sum(per_layer)
    return 3 * forward - per_layer[0] if train else forward


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("workload", nargs="?")
    parser.add_argument("--write-init")
    parser.add_argument("--export-onnx")
    parser.add_argument("--export-torchscript")
    parser.add_argument("--init")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--warmup-seconds", type=float, default=2.0)
    parser.add_argument("--warmup-steps", type=int, default=5)
    parser.add_argument("--warmup-max-seconds", type=float, default=float("inf"))
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    if args.list:
        print(" ".join(list(WORKLOADS) + list(REGRESSION_WORKLOADS) + list(GPT_WORKLOADS)
                       + list(GENERATIVE_WORKLOADS)))
        return
    if args.write_init:
        write_init(args.write_init)
        write_regression_init(args.write_init)
        write_gpt_init(args.write_init)
        write_generative_init(args.write_init)
        return
    if args.export_onnx:
        export_onnx(args.export_onnx, args.init)
        return
    if args.export_torchscript:
        export_torchscript(args.export_torchscript, args.init)
        return
    torch.set_num_threads(args.threads)
    if args.workload in REGRESSION_WORKLOADS:
        run_regression(args)
        return
    if args.workload in GPT_WORKLOADS:
        run_gpt(args)
        return
    if args.workload in GENERATIVE_WORKLOADS:
        run_generative(args)
        return
    _, shape, classes, optimizer_factory = WORKLOADS[args.workload]
    model, init = load_model(args.workload, args.init)
    x = init["x"]
    train = classes is not None
    if train:
        step = training_step(model, optimizer_factory(model.parameters()), nn.CrossEntropyLoss(), x,
                             init["y"].long())
    else:
        model.eval()

        def step():
            with torch.no_grad():
                return model(x).sum().item()

    report(args, model, step, lambda: flops(model, x, train))


if __name__ == "__main__":
    main()
