"""Writes engine/src/test/resources/golden/pointwise.json: PyTorch's pointwise math (exp, log, sqrt, rsqrt,
pow with a scalar and a broadcast tensor exponent, square, abs, neg, sign, clamp) and cat/stack/split/chunk,
forward and the gradient of sum(out * r) for a fixed r, for the cases PointwiseTest and ShapesTest check gatun
against. Each op also runs on a vector of edge values (0, -0, negative numbers, +-inf, NaN, bounds) so that
the values and gradients there match PyTorch's conventions.

JSON has no NaN or infinities: those values are written as the strings "NaN", "Infinity" and "-Infinity",
which the tests' Fixtures.floats parses back. Run with Debian's /usr/bin/python3 (torch 1.13 CPU)."""
import json
import math
import os

import torch

EDGE = [0.0, -0.0, 1.0, -1.0, 2.5, -2.5, 1e-30, -1e-30, 1e-40, 88.0, 89.0, -100.0, float("inf"), float("-inf"),
        float("nan")]


def enc(t):
    out = []
    for v in t.detach().flatten().tolist():
        if math.isnan(v):
            out.append("NaN")
        elif math.isinf(v):
            out.append("Infinity" if v > 0 else "-Infinity")
        else:
            out.append(v)
    return out


def leaf(values):
    return values.clone().detach().requires_grad_(True)


def case(name, op, params, inputs, fn):
    """Runs fn on leaf copies of inputs and records out and the gradients of sum(out * r)."""
    xs = [leaf(x) for x in inputs]
    y = fn(*xs)
    r = torch.randn(*y.shape)
    (y * r).sum().backward()
    return {"name": name, "op": op, "params": params,
            "inputs": [{"shape": list(x.shape), "values": enc(x)} for x in xs],
            "out_shape": list(y.shape), "out": enc(y), "r": enc(r),
            "grads": [enc(x.grad) for x in xs]}


def uniform(lo, hi, *shape):
    return lo + (hi - lo) * torch.rand(*shape)


def unary_cases():
    cases = []
    edge = torch.tensor(EDGE)
    normal = 2 * torch.randn(3, 4)
    positive = uniform(0.05, 5.0, 3, 4)
    unary = [
        ("exp", lambda x: x.exp(), normal),
        ("log", lambda x: x.log(), positive),
        ("sqrt", lambda x: x.sqrt(), positive),
        ("rsqrt", lambda x: x.rsqrt(), positive),
        ("square", lambda x: x.square(), normal),
        ("abs", lambda x: x.abs(), normal),
        ("neg", lambda x: x.neg(), normal),
        ("sign", lambda x: x.sign(), normal),
    ]
    for op, fn, x in unary:
        cases.append(case(op, op, {}, [x], fn))
        cases.append(case(op + "_edges", op, {}, [edge], fn))
    # Exponents exact in float: PyTorch takes a double exponent and uses it unrounded in the backward.
    for p in [2.0, 3.0, 0.5, -0.5, -1.0, -2.0, 0.0, 1.0, 1.75, -2.25, 0.3125]:
        cases.append(case("pow_%g" % p, "pow_scalar", {"exponent": p}, [uniform(0.1, 3.0, 2, 5)],
                          lambda x, p=p: x.pow(p)))
        cases.append(case("pow_%g_edges" % p, "pow_scalar", {"exponent": p}, [edge], lambda x, p=p: x.pow(p)))
    for p in [2.0, 3.0, -1.0]:
        cases.append(case("pow_%g_negative_base" % p, "pow_scalar", {"exponent": p}, [uniform(-3.0, -0.1, 2, 5)],
                          lambda x, p=p: x.pow(p)))
    clamps = [
        ("clamp", {"min": -0.5, "max": 0.7}, lambda x: x.clamp(-0.5, 0.7)),
        ("clamp_min", {"min": 0.0}, lambda x: x.clamp(min=0.0)),
        ("clamp_max", {"max": 0.2}, lambda x: x.clamp(max=0.2)),
        ("clamp_crossed", {"min": 1.0, "max": -1.0}, lambda x: x.clamp(1.0, -1.0)),
    ]
    # The bounds themselves among the inputs: the gradient passes at x == min and x == max.
    at_bounds = torch.tensor(EDGE + [-0.5, 0.7, 0.2])
    for op, params, fn in clamps:
        cases.append(case(op, op, params, [normal], fn))
        cases.append(case(op + "_edges", op, params, [at_bounds], fn))
    return cases


def pow_tensor_cases():
    cases = []
    cases.append(case("pow_tensor_same_shape", "pow_tensor", {}, [uniform(0.2, 3.0, 3, 4), uniform(-2.0, 2.0, 3, 4)],
                      lambda a, b: a.pow(b)))
    cases.append(case("pow_tensor_row_exponent", "pow_tensor", {}, [uniform(0.2, 3.0, 2, 3), uniform(-2.0, 2.0, 3)],
                      lambda a, b: a.pow(b)))
    cases.append(case("pow_tensor_both_broadcast", "pow_tensor", {},
                      [uniform(0.2, 3.0, 2, 1), uniform(-2.0, 2.0, 1, 3)], lambda a, b: a.pow(b)))
    cases.append(case("pow_tensor_scalar_base", "pow_tensor", {},
                      [torch.tensor(1.5), uniform(-2.0, 2.0, 2, 3)], lambda a, b: a.pow(b)))
    a = torch.tensor([0.0, 0.0, 0.0, 0.0, 2.0, -2.0, -2.0, 1.0, 1.0, -1.0, float("nan"), float("inf"), 0.5])
    b = torch.tensor([0.0, 1.0, -1.0, 0.5, 0.0, 0.5, 2.0, float("nan"), 3.0, float("inf"), 0.0, -1.0,
                      float("-inf")])
    cases.append(case("pow_tensor_edges", "pow_tensor", {}, [a, b], lambda a, b: a.pow(b)))
    return cases


def shape_cases():
    cases = []
    for dim in [0, 1, -1]:
        # sizes differ along the joined dimension
        d = dim % 3
        shapes = [[2, 3, 4], [2, 3, 4], [2, 3, 4]]
        shapes[1][d] = 1
        shapes[2][d] = 2
        xs = [torch.randn(*s) for s in shapes]
        cases.append(case("cat_dim_%d" % dim, "cat", {"dim": dim}, xs, lambda *t, dim=dim: torch.cat(t, dim)))
    for dim in [0, 1, 2, -1, -3]:
        xs = [torch.randn(2, 3), torch.randn(2, 3), torch.randn(2, 3)]
        cases.append(case("stack_dim_%d" % dim, "stack", {"dim": dim}, xs, lambda *t, dim=dim: torch.stack(t, dim)))
    # split and chunk: the pieces are concatenated back, each scaled differently so that every piece's
    # gradient path counts.
    for size, dim in [(2, 1), (3, -1), (1, 0)]:
        x = torch.randn(2, 5, 4)

        def split_fn(t, size=size, dim=dim):
            pieces = t.split(size, dim)
            return torch.cat([p * (i + 1) for i, p in enumerate(pieces)], dim)

        pieces = [list(p.shape) for p in x.split(size, dim)]
        cases.append(case("split_%d_dim_%d" % (size, dim), "split", {"size": size, "dim": dim, "pieces": pieces}, [x],
                          split_fn))
    for sizes, dim in [([1, 3, 1], 1), ([4, 0], -1)]:
        x = torch.randn(2, 5, 4)

        def split_sizes_fn(t, sizes=sizes, dim=dim):
            pieces = t.split(sizes, dim)
            return torch.cat([p * (i + 1) for i, p in enumerate(pieces)], dim)

        pieces = [list(p.shape) for p in x.split(sizes, dim)]
        cases.append(case("split_sizes_%s_dim_%d" % ("_".join(map(str, sizes)), dim), "split_sizes",
                          {"sizes": sizes, "dim": dim, "pieces": pieces}, [x], split_sizes_fn))
    for chunks, dim in [(3, 1), (4, 1), (2, -1)]:
        x = torch.randn(2, 5, 4)

        def chunk_fn(t, chunks=chunks, dim=dim):
            pieces = t.chunk(chunks, dim)
            return torch.cat([p * (i + 1) for i, p in enumerate(pieces)], dim)

        pieces = [list(p.shape) for p in x.chunk(chunks, dim)]
        cases.append(case("chunk_%d_dim_%d" % (chunks, dim), "chunk", {"chunks": chunks, "dim": dim, "pieces": pieces},
                          [x], chunk_fn))
    return cases


def main():
    torch.manual_seed(11)
    cases = unary_cases() + pow_tensor_cases() + shape_cases()
    out = {"script": "scripts/golden/pointwise_fixtures.py", "torch": torch.__version__, "cases": cases}
    path = os.path.join(os.path.dirname(__file__), "..", "..", "engine", "src", "test", "resources", "golden",
                        "pointwise.json")
    with open(path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
