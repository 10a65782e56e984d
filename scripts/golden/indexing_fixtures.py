"""Writes engine/src/test/resources/golden/indexing.json: PyTorch's arg-reductions (argmax, argmin, max and min
along a dimension and over all elements, with ties and NaN), comparisons and logical operations with broadcasting,
where, masked_fill, gather, index_select, cross-entropy and nll_loss with int64 targets, and multi-head attention
with boolean masks. For each differentiable case: the inputs, the output, a fixed random r and the gradients of
sum(y * r). Booleans are stored as 0/1 lists, NaN as null. Run with Debian's /usr/bin/python3 (torch 1.13 CPU)."""
import json
import math
import os

import torch
import torch.nn.functional as F
from torch import nn


def flat(t):
    return [None if isinstance(v, float) and math.isnan(v) else v for v in t.detach().flatten().tolist()]


def bits(t):
    return [int(v) for v in t.flatten().tolist()]


def backward(y, *leaves):
    """Runs sum(y * r) backward for a fixed random r; returns r and each leaf's gradient."""
    r = torch.randn(y.shape)
    (y * r).sum().backward()
    return flat(r), [flat(x.grad) for x in leaves]


def reductions():
    cases = []
    x = torch.randn(3, 4, 5)
    x[1, 2, 3] = x[1, 0, 3] = 5.0    # a tie for the maximum along dimension 1
    x[0, 1, 2] = x[0, 3, 2] = -5.0   # a tie for the minimum along dimension 1
    x[2, 1, 0] = float("nan")        # NaN wins, along every dimension through it
    for op in ("max", "min"):
        for dim in (0, 1, -1):
            for keepdim in (False, True):
                leaf = x.clone().requires_grad_(True)
                values, indices = getattr(torch, op)(leaf, dim, keepdim)
                r, (g,) = backward(values, leaf)
                cases.append({"op": op, "dim": dim, "keepdim": keepdim, "values": flat(values),
                              "indices": flat(indices), "shape": list(values.shape), "r": r, "grad": g})
    for op in ("argmax", "argmin"):
        for dim in (None, 0, 2):
            out = getattr(torch, op)(x) if dim is None else getattr(torch, op)(x, dim, True)
            cases.append({"op": op, "dim": dim, "keepdim": True, "indices": flat(out), "shape": list(out.shape)})
    full = []
    for name, t in (("ties", torch.tensor([[1.0, 3.0, 3.0], [0.0, 3.0, -1.0]])),
                    ("nan", torch.tensor([[1.0, float("nan")], [float("nan"), 2.0]])),
                    ("random", torch.randn(2, 3))):
        for op in ("max", "min"):
            leaf = t.clone().requires_grad_(True)
            y = getattr(torch, op)(leaf)
            r, (g,) = backward(y, leaf)
            full.append({"name": name, "op": op, "x": flat(t), "shape": list(t.shape), "value": flat(y),
                         "r": r, "grad": g})
    xl = torch.randint(-50, 50, (3, 4))
    xl[0, 1] = xl[0, 3] = 100
    ints = {"x": flat(xl), "shape": list(xl.shape), "max1": flat(torch.max(xl, 1).values),
            "argmax1": flat(torch.max(xl, 1).indices), "min0": flat(torch.min(xl, 0).values),
            "argmin0": flat(torch.min(xl, 0).indices), "max": xl.max().item(), "argmax": xl.argmax().item()}
    return {"x": flat(x), "x_shape": list(x.shape), "cases": cases, "full": full, "int64": ints}


def comparisons():
    a = torch.randint(-2, 3, (2, 1, 4)).float()
    a[1, 0, 2] = float("nan")
    b = torch.randint(-2, 3, (3, 1)).float()
    out = {"a": flat(a), "a_shape": list(a.shape), "b": flat(b), "b_shape": list(b.shape)}
    for op in ("eq", "ne", "lt", "le", "gt", "ge"):
        out[op] = bits(getattr(torch, op)(a, b))
        out[op + "_scalar"] = bits(getattr(torch, op)(a, 0.5))
    out["shape"] = list(torch.eq(a, b).shape)
    ai = torch.randint(-2, 3, (3, 4))
    bf = torch.tensor([0.5, -1.0, 1.0, 2.0])
    out.update({"ai": flat(ai), "bf": flat(bf), "lt_int_float": bits(torch.lt(ai, bf)),
                "eq_int_scalar": bits(torch.eq(ai, 1)), "gt_int_fraction": bits(torch.gt(ai, 0.5))})
    fz = torch.tensor([[0.0, 1.5, float("nan"), -2.0]])
    bb = torch.tensor([[True], [False], [True]])
    out.update({"fz": flat(fz), "bb": bits(bb), "and": bits(torch.logical_and(fz, bb)),
                "or": bits(torch.logical_or(fz, bb)), "xor": bits(torch.logical_xor(fz, bb)),
                "not": bits(torch.logical_not(fz))})
    return out


def selection():
    out = {}
    cond = torch.rand(2, 1, 4) > 0.5
    a = torch.randn(3, 4, requires_grad=True)
    b = torch.randn(2, 3, 1, requires_grad=True)
    y = torch.where(cond, a, b)
    r, (ga, gb) = backward(y, a, b)
    out["where"] = {"cond": bits(cond), "cond_shape": list(cond.shape), "a": flat(a), "a_shape": list(a.shape),
                    "b": flat(b), "b_shape": list(b.shape), "y": flat(y), "y_shape": list(y.shape), "r": r,
                    "grad_a": ga, "grad_b": gb}
    fills = []
    for t_shape, m_shape in (((2, 3, 4), (3, 1)), ((4,), (2, 4))):
        t = torch.randn(*t_shape, requires_grad=True)
        mask = torch.rand(*m_shape) > 0.5
        y = t.masked_fill(mask, -1.5)
        r, (g,) = backward(y, t)
        fills.append({"t": flat(t), "t_shape": list(t.shape), "mask": bits(mask), "mask_shape": list(mask.shape),
                      "value": -1.5, "y": flat(y), "y_shape": list(y.shape), "r": r, "grad": g})
    out["masked_fill"] = fills
    gathers = []
    src = torch.randn(3, 4, 5)
    for dim, index_shape in ((1, (3, 2, 5)), (-1, (2, 4, 3)), (0, (2, 4, 5))):
        size = src.shape[dim]
        index = torch.randint(0, size, index_shape)
        leaf = src.clone().requires_grad_(True)
        y = torch.gather(leaf, dim, index)
        r, (g,) = backward(y, leaf)
        gathers.append({"dim": dim, "index": flat(index), "index_shape": list(index.shape), "y": flat(y), "r": r,
                        "grad": g})
    out["gather"] = {"src": flat(src), "src_shape": list(src.shape), "cases": gathers}
    selects = []
    src = torch.randn(4, 3, 2)
    for dim, index in ((0, [3, 0, 3, 1]), (1, [2, 2]), (-1, [1, 0, 1])):
        leaf = src.clone().requires_grad_(True)
        y = torch.index_select(leaf, dim, torch.tensor(index))
        r, (g,) = backward(y, leaf)
        selects.append({"dim": dim, "index": index, "y": flat(y), "y_shape": list(y.shape), "r": r, "grad": g})
    out["index_select"] = {"src": flat(src), "src_shape": list(src.shape), "cases": selects}
    return out


def losses():
    logits = torch.randn(5, 4)
    targets = torch.tensor([3, 0, 1, 3, 2])
    out = {"logits": flat(logits), "targets": flat(targets), "cases": []}
    for smoothing in (0.0, 0.1):
        leaf = logits.clone().requires_grad_(True)
        loss = F.cross_entropy(leaf, targets, label_smoothing=smoothing)
        loss.backward()
        out["cases"].append({"label_smoothing": smoothing, "loss": loss.item(), "grad": flat(leaf.grad)})
    logp = torch.log_softmax(logits, 1).requires_grad_(True)
    loss = F.nll_loss(logp, targets)
    loss.backward()
    out["nll"] = {"log_probabilities": flat(logp), "loss": loss.item(), "grad": flat(logp.grad)}
    return out


def attention():
    """MultiheadAttention (E=8, 2 heads, batch first) with boolean masks: [L, S] and [B*H, L, S] attention masks,
    each with a [B, S] key padding mask; no row is masked entirely."""
    cases = []
    B, L, S, E, H = 2, 5, 6, 8, 2
    for name, mask_shape in (("2d", (L, S)), ("3d", (B * H, L, S))):
        mha = nn.MultiheadAttention(E, H, batch_first=True)
        with torch.no_grad():
            for p in mha.parameters():
                p.copy_(torch.randn_like(p) * 0.5)
        attn_mask = torch.rand(*mask_shape) > 0.6
        attn_mask[..., 0] = False
        padding = torch.zeros(B, S, dtype=torch.bool)
        padding[0, 4:] = True
        padding[1, 5:] = True
        query = torch.randn(B, L, E, requires_grad=True)
        key = torch.randn(B, S, E, requires_grad=True)
        value = torch.randn(B, S, E, requires_grad=True)
        y, _ = mha(query, key, value, key_padding_mask=padding, attn_mask=attn_mask)
        r = torch.randn(*y.shape)
        (y * r).sum().backward()
        cases.append({"name": name,
                      "params": {k: flat(p) for k, p in mha.named_parameters()},
                      "param_shapes": {k: list(p.shape) for k, p in mha.named_parameters()},
                      "inputs": {k: flat(v) for k, v in (("query", query), ("key", key), ("value", value))},
                      "input_shapes": {k: list(v.shape) for k, v in (("query", query), ("key", key),
                                                                     ("value", value))},
                      "attn_mask": bits(attn_mask), "attn_mask_shape": list(attn_mask.shape),
                      "key_padding_mask": bits(padding), "key_padding_mask_shape": list(padding.shape),
                      "y": flat(y), "y_shape": list(y.shape), "r": flat(r),
                      "grads": {k: flat(p.grad) for k, p in mha.named_parameters()},
                      "input_grads": {k: flat(v.grad) for k, v in (("query", query), ("key", key),
                                                                   ("value", value))}})
    return cases


def main():
    torch.manual_seed(1313)
    fixture = {"torch": torch.__version__, "reductions": reductions(), "comparisons": comparisons(),
               "selection": selection(), "losses": losses(), "attention": attention()}
    path = os.path.join(os.path.dirname(__file__), "..", "..", "engine", "src", "test", "resources", "golden",
                        "indexing.json")
    with open(path, "w") as f:
        json.dump(fixture, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
