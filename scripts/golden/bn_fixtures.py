"""Writes engine/src/test/resources/golden/batchnorm.json: PyTorch's batch normalization in training
and evaluation mode (outputs, running statistics after the step, and the gradients of sum(y * r) with
respect to x, weight and bias); and batchnorm_relu.json: the same for batch normalization followed by
ReLU (gatun fuses the two in training). Run with Debian's /usr/bin/python3 (torch 1.13 CPU)."""
import json
import os

import torch

CASES = [("bn2d", (4, 3, 5, 6)), ("bn1d", (8, 5)), ("bn1d_sequence", (4, 3, 7))]


def main():
    write("batchnorm.json", cases_for(11, relu=False))
    write("batchnorm_relu.json", cases_for(12, relu=True))


def cases_for(seed, relu):
    torch.manual_seed(seed)
    cases = []
    for name, shape in CASES:
        c = shape[1]
        bn = torch.nn.BatchNorm2d(c) if len(shape) == 4 else torch.nn.BatchNorm1d(c)
        with torch.no_grad():
            bn.weight.copy_(torch.rand(c) + 0.5)
            bn.bias.copy_(torch.randn(c))
            bn.running_mean.copy_(torch.randn(c) * 0.1)
            bn.running_var.copy_(torch.rand(c) + 0.5)
        start = {k: v.clone().flatten().tolist() for k, v in bn.state_dict().items() if k != "num_batches_tracked"}
        for mode in ("train", "eval"):
            bn.train(mode == "train")
            x = (torch.randn(*shape) * 2 + 1).requires_grad_(True)
            bn.zero_grad()
            y = torch.relu(bn(x)) if relu else bn(x)
            r = torch.randn(*y.shape)
            (y * r).sum().backward()
            cases.append({"name": f"{name}_{mode}", "mode": mode, "shape": list(shape), "start": start,
                          "x": x.detach().flatten().tolist(), "y": y.detach().flatten().tolist(),
                          "r": r.flatten().tolist(), "grad_x": x.grad.flatten().tolist(),
                          "grad_weight": bn.weight.grad.tolist(), "grad_bias": bn.bias.grad.tolist(),
                          "running_mean": bn.running_mean.tolist(), "running_var": bn.running_var.tolist()})
            start = {k: v.clone().flatten().tolist() for k, v in bn.state_dict().items()
                     if k != "num_batches_tracked"}
    return cases


def write(file, cases):
    out = {"script": "scripts/golden/bn_fixtures.py", "torch": torch.__version__, "cases": cases}
    path = os.path.join(os.path.dirname(__file__), "..", "..", "engine", "src", "test", "resources", "golden", file)
    with open(path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
