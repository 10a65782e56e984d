#!/usr/bin/python3
"""Writes engine/src/test/resources/golden/conv.json: what torch.nn.functional.conv2d computes, for gatun's
convolution tests.

Each configuration holds the input [N, C, H, W], weight [O, C/groups, KH, KW], bias [O] (or null), the
hyper-parameters, the output, a fixed output gradient R (so that L = Σ output·R), and the gradients of L
with respect to input, weight and bias. The configurations are the ones ConvTest checks against its
double-precision reference: plain, stride 2 with padding 1, dilation 2, groups 2 with a non-square
kernel, a mix of per-dimension strides, paddings and dilations, and a 5×5 kernel with padding 2.

All numbers are float32 values written as the shortest decimal of the equal double, so they read back
exactly. Run with Debian's interpreter (python3-torch, torch 1.13 CPU):

    /usr/bin/python3 scripts/golden/conv_fixtures.py
"""
import json
import os

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                   "engine", "src", "test", "resources", "golden", "conv.json")

# name, input shape, weight shape, bias, stride, padding, dilation, groups
CONFIGS = [
    ("plain", (2, 3, 6, 5), (4, 3, 3, 3), True, (1, 1), (0, 0), (1, 1), 1),
    ("stride 2, padding 1", (2, 3, 7, 6), (4, 3, 3, 3), True, (2, 2), (1, 1), (1, 1), 1),
    ("dilation 2, no bias", (1, 2, 7, 8), (3, 2, 3, 3), False, (1, 1), (1, 1), (2, 2), 1),
    ("groups 2, non-square kernel", (2, 4, 5, 6), (6, 2, 3, 2), True, (1, 1), (1, 0), (1, 1), 2),
    ("mixed per-dimension", (3, 4, 9, 7), (4, 2, 3, 3), False, (2, 1), (0, 2), (1, 2), 2),
    ("5x5, padding 2", (2, 1, 8, 8), (3, 1, 5, 5), True, (1, 1), (2, 2), (1, 1), 1),
]


def values(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def main():
    g = torch.Generator().manual_seed(2024)
    out = []
    for name, xs, ws, has_bias, stride, padding, dilation, groups in CONFIGS:
        x = torch.randn(xs, generator=g).requires_grad_(True)
        w = (torch.randn(ws, generator=g) * 0.5).requires_grad_(True)
        b = (torch.randn(ws[0], generator=g) * 0.5).requires_grad_(True) if has_bias else None
        y = F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
        r = torch.randn(y.shape, generator=g)
        (y * r).sum().backward()
        out.append({
            "name": name,
            "input_shape": list(xs),
            "weight_shape": list(ws),
            "stride": list(stride),
            "padding": list(padding),
            "dilation": list(dilation),
            "groups": groups,
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
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"torch_version": torch.__version__, "configs": out}, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
