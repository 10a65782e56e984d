"""PyTorch 1.13's run of the recipe `gatun train vae` uses by default, for bench/results/generative-mnist.md.

  /usr/bin/python3 bench/python/vae_mnist.py [--data DIR] [--threads N] [--epochs E] [--seed S]

The model is gatun's VAE (dev.gatun.nn.VAE), PyTorch's example MLP: fc1 784 -> 400 ReLU to fc_mu and fc_logvar
(400 -> 20), z = mu + exp(logvar / 2) * eps, decoder fc3 20 -> 400 ReLU, fc4 400 -> 784 Bernoulli logits. The
recipe is GenerativeCommands.Vae's defaults: Adam 2e-3 (PyTorch's other defaults), a cosine schedule to 0 over
the epochs stepped once an epoch (CosineAnnealingLR), batch 64 shuffled every epoch, 10 epochs, training on
55,000 images with 5,000 held out for validation (gatun's --validation 1/12; a different random split here,
since the two shuffles differ), pixels divided by 255. The loss of a batch is the negative ELBO per image:
binary cross-entropy with logits summed over the pixels plus the closed-form KL divergence from N(0, I), each
the mean over the batch. The figure printed is gatun's: the test negative ELBO in nats per image at one sample
of z per image, the mean over the 10,000 test images, with its reconstruction and KL terms.

The MNIST IDX files come from scripts/fetch-data (~/.cache/gatun/mnist, or GATUN_DATA).
"""
import argparse
import os
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class VAE(nn.Module):
    """gatun's VAE, parameter for parameter."""

    def __init__(self, inputs=784, hidden=400, latent=20):
        super().__init__()
        self.fc1 = nn.Linear(inputs, hidden)
        self.fc_mu = nn.Linear(hidden, latent)
        self.fc_logvar = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, inputs)

    def forward(self, x):
        h = F.relu(self.fc1(x))
        mu, logvar = self.fc_mu(h), self.fc_logvar(h)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return self.fc4(F.relu(self.fc3(z))), mu, logvar


def terms(model, x):
    """The reconstruction and KL terms of a batch, each the mean over its images."""
    logits, mu, logvar = model(x)
    n = x.shape[0]
    reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / n
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / n
    return reconstruction, kl


def read_images(path):
    with open(path, "rb") as f:
        magic, count, rows, cols = np.frombuffer(f.read(16), dtype=">u4")
        if magic != 2051:
            raise SystemExit(f"{path} is not an IDX image file (magic {magic})")
        pixels = np.frombuffer(f.read(), dtype=np.uint8)
    if pixels.size != count * rows * cols:
        raise SystemExit(f"{path}: {pixels.size} pixels for {count} images of {rows}x{cols}")
    return torch.from_numpy(pixels.reshape(count, rows * cols).astype(np.float32) / 255.0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("GATUN_DATA", os.path.expanduser("~/.cache/gatun")))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    mnist = os.path.join(args.data, "mnist")
    train = read_images(os.path.join(mnist, "train-images-idx3-ubyte"))
    test = read_images(os.path.join(mnist, "t10k-images-idx3-ubyte"))
    held = round(len(train) / 12)
    order = torch.randperm(len(train))
    train = train[order[held:]]

    model = VAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.epochs)
    print(f"training on {len(train):,} images, testing on {len(test):,}; adam lr {args.lr}, cosine schedule, "
          f"batch {args.batch_size}, {torch.get_num_threads()} threads, PyTorch {torch.__version__}")
    seconds = []
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        total, count = 0.0, 0
        for batch in torch.randperm(len(train)).split(args.batch_size):
            x = train[batch]
            reconstruction, kl = terms(model, x)
            loss = reconstruction + kl
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
            count += len(batch)
        schedule.step()
        seconds.append(time.perf_counter() - t0)
        print(f"epoch {epoch}/{args.epochs}: train negative ELBO {total / count:.2f} nats/image, "
              f"{seconds[-1]:.1f} s", flush=True)
    rec_sum, kl_sum = 0.0, 0.0
    with torch.no_grad():
        for x in test.split(1000):
            reconstruction, kl = terms(model, x)
            rec_sum += reconstruction.item() * len(x)
            kl_sum += kl.item() * len(x)
    rec, kl = rec_sum / len(test), kl_sum / len(test)
    print(f"test negative ELBO {rec + kl:.2f} nats per image (reconstruction {rec:.2f} + KL {kl:.2f}) "
          f"after {args.epochs} epochs")
    print(f"speed: {sum(seconds) / len(seconds):.1f} s per epoch of training, {sum(seconds):.1f} s in all")


if __name__ == "__main__":
    main()
