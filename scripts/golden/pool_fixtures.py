"""Writes engine/src/test/resources/golden/pool.json: PyTorch's max and average pooling (forward and the
gradient of sum(out * r) for a fixed r) for the configurations PoolTest checks gatun against.
Run with Debian's /usr/bin/python3 (torch 1.13 CPU)."""
import json
import os

import torch

CONFIGS = [
    # name, kind, input shape, kernel, stride, padding, dilation, count_include_pad
    ("max_2x2", "max", (2, 3, 6, 6), (2, 2), (2, 2), (0, 0), (1, 1), True),
    ("max_3x3_s2_p1", "max", (1, 2, 7, 5), (3, 3), (2, 2), (1, 1), (1, 1), True),
    ("max_3x3_dilation2", "max", (1, 2, 9, 9), (3, 3), (1, 2), (1, 1), (2, 2), True),
    ("avg_2x2", "avg", (2, 3, 6, 6), (2, 2), (2, 2), (0, 0), (1, 1), True),
    ("avg_3x3_p1_include_pad", "avg", (1, 2, 7, 5), (3, 3), (2, 1), (1, 1), (1, 1), True),
    ("avg_3x3_p1_exclude_pad", "avg", (1, 2, 7, 5), (3, 3), (2, 1), (1, 1), (1, 1), False),
]


def main():
    torch.manual_seed(7)
    cases = []
    for name, kind, shape, kernel, stride, padding, dilation, include_pad in CONFIGS:
        x = torch.randn(*shape, requires_grad=True)
        if kind == "max":
            y = torch.nn.functional.max_pool2d(x, kernel, stride, padding, dilation)
        else:
            y = torch.nn.functional.avg_pool2d(x, kernel, stride, padding, count_include_pad=include_pad)
        r = torch.randn(*y.shape)
        (y * r).sum().backward()
        cases.append({"name": name, "kind": kind, "shape": list(shape), "kernel": list(kernel),
                      "stride": list(stride), "padding": list(padding), "dilation": list(dilation),
                      "count_include_pad": include_pad, "x": x.detach().flatten().tolist(),
                      "out_shape": list(y.shape), "out": y.detach().flatten().tolist(),
                      "r": r.flatten().tolist(), "grad": x.grad.flatten().tolist()})
    out = {"script": "scripts/golden/pool_fixtures.py", "torch": torch.__version__, "cases": cases}
    path = os.path.join(os.path.dirname(__file__), "..", "..", "engine", "src", "test", "resources", "golden",
                        "pool.json")
    with open(path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
