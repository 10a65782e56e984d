#!/usr/bin/python3
"""Writes the golden fixtures of gatun's generative-model layers, what PyTorch computes for:

engine/src/test/resources/golden/conv_transpose.json
    torch.nn.functional.conv_transpose2d: for each configuration the input [N, C_in, H, W], weight
    [C_in, C_out/groups, KH, KW], bias [C_out] (or null), the hyper-parameters, the output, a fixed output
    gradient R (so that L = sum(output * R)) and the gradients of L with respect to input, weight and bias.
    The configurations are ConvTransposeTest's: strides, paddings, output paddings (below and above the
    padding), dilations, groups, non-square kernels, with and without bias.

engine/src/test/resources/golden/upsample.json
    torch.nn.functional.interpolate in modes 'nearest' and 'bilinear' (align_corners False and True), by
    scale factor (integer and fractional, PyTorch then uses the factor itself for the coordinates) and by
    size (up and down): input, output, R and the input gradient.

engine/src/test/resources/golden/vae.json
    The variational autoencoder's terms: the closed-form KL divergence of N(mu, exp(logvar)) from N(0, 1)
    (summed over the latent dimensions, mean over the batch) with its gradients; the reparameterised
    sample z = mu + exp(logvar / 2) * eps for a given eps with the gradients of sum(z * R); and a small
    VAE (inputs 12, hidden 8, latent 3, the structure of the 784-400-20 model) with its state_dict, an
    input batch and eps: the reconstruction term (binary cross-entropy with logits, summed over pixels,
    mean over the batch), the KL term, and the gradient of their sum with respect to every parameter.

All numbers are float32 values written as the shortest decimal of the equal double, so they read back
exactly. Run with Debian's interpreter (python3-torch, torch 1.13 CPU):

    /usr/bin/python3 scripts/golden/generative_fixtures.py
"""
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                      "engine", "src", "test", "resources", "golden")

# name, input shape, weight shape, bias, stride, padding, output_padding, groups, dilation
CONV_TRANSPOSE = [
    ("plain", (2, 3, 4, 5), (3, 4, 3, 3), True, (1, 1), (0, 0), (0, 0), 1, (1, 1)),
    ("stride 2, padding 1, output padding 1", (2, 3, 5, 4), (3, 2, 3, 3), True, (2, 2), (1, 1), (1, 1), 1, (1, 1)),
    ("DCGAN 4x4, stride 2, padding 1", (2, 4, 7, 7), (4, 3, 4, 4), True, (2, 2), (1, 1), (0, 0), 1, (1, 1)),
    ("dilation 2, no bias", (1, 2, 5, 6), (2, 3, 3, 3), False, (1, 1), (1, 1), (0, 0), 1, (2, 2)),
    ("groups 2, non-square kernel", (2, 4, 5, 6), (4, 3, 3, 2), True, (2, 1), (1, 0), (1, 0), 2, (1, 1)),
    ("output padding past the padding", (2, 3, 4, 4), (3, 2, 3, 3), True, (3, 3), (0, 0), (2, 2), 1, (1, 1)),
    ("mixed per-dimension, groups 3", (2, 6, 4, 5), (6, 1, 2, 3), True, (1, 3), (2, 1), (1, 2), 3, (2, 1)),
    ("output padding from the dilation", (1, 2, 4, 4), (2, 2, 3, 3), True, (1, 1), (0, 0), (1, 1), 1, (2, 2)),
    ("padding larger than the kernel", (1, 2, 6, 6), (2, 2, 3, 3), True, (1, 1), (3, 3), (0, 0), 1, (1, 1)),
    ("every output past the taps", (1, 2, 1, 1), (2, 2, 1, 1), True, (3, 3), (1, 1), (2, 2), 1, (1, 1)),
]

# name, input shape, mode, size or None, scale factor or None, align_corners (None for nearest)
UPSAMPLE = [
    ("nearest, scale 2", (2, 3, 3, 4), "nearest", None, (2.0, 2.0), None),
    ("nearest, scale 2x3", (1, 2, 3, 3), "nearest", None, (2.0, 3.0), None),
    ("nearest, size 5x7", (2, 2, 3, 4), "nearest", (5, 7), None, None),
    ("nearest, size 2x3 (down)", (1, 2, 5, 7), "nearest", (2, 3), None, None),
    ("nearest, scale 1.5", (1, 2, 4, 5), "nearest", None, (1.5, 1.5), None),
    ("bilinear, scale 2", (2, 3, 3, 4), "bilinear", None, (2.0, 2.0), False),
    ("bilinear, scale 2, align corners", (2, 3, 3, 4), "bilinear", None, (2.0, 2.0), True),
    ("bilinear, size 5x7", (1, 2, 3, 4), "bilinear", (5, 7), None, False),
    ("bilinear, size 5x7, align corners", (1, 2, 3, 4), "bilinear", (5, 7), None, True),
    ("bilinear, size 3x2 (down)", (1, 2, 6, 5), "bilinear", (3, 2), None, False),
    ("bilinear, scale 1.5", (1, 2, 4, 5), "bilinear", None, (1.5, 1.5), False),
    ("bilinear, one row, align corners", (1, 1, 1, 4), "bilinear", (3, 7), None, True),
]


def values(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def conv_transpose(g):
    out = []
    for name, xs, ws, has_bias, stride, padding, output_padding, groups, dilation in CONV_TRANSPOSE:
        x = torch.randn(xs, generator=g).requires_grad_(True)
        w = (torch.randn(ws, generator=g) * 0.5).requires_grad_(True)
        b = (torch.randn(ws[1] * groups, generator=g) * 0.5).requires_grad_(True) if has_bias else None
        y = F.conv_transpose2d(x, w, b, stride=stride, padding=padding, output_padding=output_padding,
                               groups=groups, dilation=dilation)
        r = torch.randn(y.shape, generator=g)
        (y * r).sum().backward()
        out.append({
            "name": name,
            "input_shape": list(xs),
            "weight_shape": list(ws),
            "stride": list(stride),
            "padding": list(padding),
            "output_padding": list(output_padding),
            "groups": groups,
            "dilation": list(dilation),
            "output_shape": list(y.shape),
            "input": values(x),
            "weight": values(w),
            "bias": values(b) if has_bias else None,
            "output": values(y),
            "output_grad": values(r),
            "input_grad": values(x.grad),
            "weight_grad": values(w.grad),
            "bias_grad": values(b.grad) if has_bias else None,
        })
    return out


def upsample(g):
    out = []
    for name, xs, mode, size, scale, align in UPSAMPLE:
        x = torch.randn(xs, generator=g).requires_grad_(True)
        if mode == "nearest":
            y = F.interpolate(x, size=size, scale_factor=scale, mode=mode)
        else:
            y = F.interpolate(x, size=size, scale_factor=scale, mode=mode, align_corners=align)
        r = torch.randn(y.shape, generator=g)
        (y * r).sum().backward()
        out.append({
            "name": name,
            "input_shape": list(xs),
            "mode": mode,
            "size": list(size) if size else None,
            "scale_factor": list(scale) if scale else None,
            "align_corners": align,
            "output_shape": list(y.shape),
            "input": values(x),
            "output": values(y),
            "output_grad": values(r),
            "input_grad": values(x.grad),
        })
    return out


def kl(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, 1)), summed over the latent dimensions, mean over the batch."""
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)).mean()


class VAE(nn.Module):
    def __init__(self, inputs, hidden, latent):
        super().__init__()
        self.fc1 = nn.Linear(inputs, hidden)
        self.fc_mu = nn.Linear(hidden, latent)
        self.fc_logvar = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, inputs)

    def forward(self, x, eps):
        h = F.relu(self.fc1(x))
        mu, logvar = self.fc_mu(h), self.fc_logvar(h)
        z = mu + torch.exp(0.5 * logvar) * eps
        return self.fc4(F.relu(self.fc3(z))), mu, logvar


def vae(g):
    n, latent = 4, 5
    mu = torch.randn(n, latent, generator=g).requires_grad_(True)
    logvar = (torch.randn(n, latent, generator=g) * 0.7).requires_grad_(True)
    k = kl(mu, logvar)
    k.backward()
    kl_case = {"shape": [n, latent], "mu": values(mu), "logvar": values(logvar), "kl": float(k),
               "mu_grad": values(mu.grad), "logvar_grad": values(logvar.grad)}

    mu2 = torch.randn(n, latent, generator=g).requires_grad_(True)
    logvar2 = (torch.randn(n, latent, generator=g) * 0.7).requires_grad_(True)
    eps = torch.randn(n, latent, generator=g)
    z = mu2 + torch.exp(0.5 * logvar2) * eps
    r = torch.randn(n, latent, generator=g)
    (z * r).sum().backward()
    sample_case = {"shape": [n, latent], "mu": values(mu2), "logvar": values(logvar2), "eps": values(eps),
                   "z": values(z), "output_grad": values(r), "mu_grad": values(mu2.grad),
                   "logvar_grad": values(logvar2.grad)}

    torch.manual_seed(7)
    model = VAE(12, 8, 3)
    x = torch.rand(6, 12, generator=g)
    eps = torch.randn(6, 3, generator=g)
    logits, m, lv = model(x, eps)
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
    kl_term = kl(m, lv)
    (recon + kl_term).backward()
    model_case = {
        "inputs": 12, "hidden": 8, "latent": 3,
        "state_dict": {k: {"shape": list(v.shape), "values": values(v)} for k, v in model.state_dict().items()},
        "x_shape": list(x.shape), "x": values(x), "eps": values(eps),
        "logits": values(logits), "mu": values(m), "logvar": values(lv),
        "reconstruction": float(recon), "kl": float(kl_term),
        "grads": {k: values(p.grad) for k, p in model.named_parameters()},
    }
    return {"kl": kl_case, "sample": sample_case, "model": model_case}


def write(name, content):
    os.makedirs(GOLDEN, exist_ok=True)
    with open(os.path.join(GOLDEN, name), "w") as f:
        json.dump(dict(torch_version=torch.__version__, **content), f, separators=(",", ":"))
        f.write("\n")


def main():
    g = torch.Generator().manual_seed(2025)
    write("conv_transpose.json", {"configs": conv_transpose(g)})
    write("upsample.json", {"configs": upsample(g)})
    write("vae.json", vae(g))


if __name__ == "__main__":
    main()
