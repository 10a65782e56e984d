"""Writes engine/src/test/resources/golden/basicblock.json: torchvision's residual BasicBlock (written out
here, with its parameter names) with an identity shortcut and with a 1x1 projection shortcut (stride 2),
in training mode (output, gradients of sum(y * r) with respect to the input and every parameter, running
statistics after the step) and then in evaluation mode (output). Run with Debian's /usr/bin/python3
(torch 1.13 CPU)."""
import json
import os

import torch
from torch import nn


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return torch.relu(h + (x if self.downsample is None else self.downsample(x)))


CASES = [("identity", 3, 3, 1, (2, 3, 6, 6)), ("projection", 3, 5, 2, (2, 3, 7, 7))]


def flat(t):
    return t.detach().flatten().tolist()


def main():
    torch.manual_seed(5)
    cases = []
    for name, cin, cout, stride, shape in CASES:
        block = BasicBlock(cin, cout, stride)
        with torch.no_grad():
            for m in block.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.weight.copy_(torch.rand(m.num_features) + 0.5)
                    m.bias.copy_(torch.randn(m.num_features) * 0.5)
        state = {k: flat(v) for k, v in block.state_dict().items() if not k.endswith("num_batches_tracked")}
        x = torch.randn(*shape).requires_grad_(True)
        y = block(x)
        r = torch.randn(*y.shape)
        (y * r).sum().backward()
        grads = {k: flat(p.grad) for k, p in block.named_parameters()}
        after = {k: flat(v) for k, v in block.state_dict().items() if "running" in k}
        block.eval()
        with torch.no_grad():
            y_eval = block(x)
        cases.append({"name": name, "in": cin, "out": cout, "stride": stride, "shape": list(shape),
                      "state": state, "x": flat(x), "y": flat(y), "y_shape": list(y.shape), "r": flat(r),
                      "grad_x": flat(x.grad), "grads": grads, "running_after": after, "y_eval": flat(y_eval)})
    out = {"script": "scripts/golden/block_fixtures.py", "torch": torch.__version__, "cases": cases}
    path = os.path.join(os.path.dirname(__file__), "..", "..", "engine", "src", "test", "resources", "golden",
                        "basicblock.json")
    with open(path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
