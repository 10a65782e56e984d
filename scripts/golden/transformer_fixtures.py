"""Writes engine/src/test/resources/golden/transformer.json: PyTorch's layer norm, multi-head attention and
Transformer encoder layer on small inputs (B=2, T=5, E=8, 2 heads, FFN 16, dropout 0): the parameters, the
input, the output, and the gradients of sum(y * r) for a fixed random r with respect to every parameter and
the input(s). Boolean masks are stored as 0/1 lists (1 = may not attend), converted to additive masks by the
test. Run with Debian's /usr/bin/python3 (torch 1.13 CPU)."""
import json
import os

import torch
from torch import nn

B, T, E, HEADS, FFN = 2, 5, 8, 2, 16


def flat(t):
    return t.detach().flatten().tolist()


def randomize(module):
    """Every parameter drawn anew, so that zero biases and unit norms cannot hide a mistake."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.5)


def run(name, module, inputs, call, extra=None):
    """inputs: name -> tensor (those with requires_grad get a gradient); call(module, inputs) -> y."""
    module.zero_grad()
    y = call(module, inputs)
    r = torch.randn(*y.shape)
    (y * r).sum().backward()
    case = {"name": name,
            "params": {k: flat(p) for k, p in module.named_parameters()},
            "param_shapes": {k: list(p.shape) for k, p in module.named_parameters()},
            "inputs": {k: flat(v) for k, v in inputs.items()},
            "input_shapes": {k: list(v.shape) for k, v in inputs.items()},
            "y": flat(y), "y_shape": list(y.shape), "r": flat(r),
            "grads": {k: flat(p.grad) for k, p in module.named_parameters()},
            "input_grads": {k: flat(v.grad) for k, v in inputs.items() if v.requires_grad}}
    case.update(extra or {})
    return case


def leaf(*shape):
    return torch.randn(*shape).requires_grad_(True)


def main():
    torch.manual_seed(2024)
    cases = []

    ln = nn.LayerNorm(E)
    randomize(ln)
    x = (torch.randn(B, T, E) * 2 + 1).requires_grad_(True)
    cases.append(run("layer_norm", ln, {"x": x}, lambda m, i: m(i["x"]), {"normalized_shape": [E], "affine": True}))
    ln2 = nn.LayerNorm([T, E], elementwise_affine=False, eps=1e-3)
    cases.append(run("layer_norm_two_dims_no_affine", ln2, {"x": leaf(B, T, E)}, lambda m, i: m(i["x"]),
                     {"normalized_shape": [T, E], "affine": False, "eps": 1e-3}))

    mha = nn.MultiheadAttention(E, HEADS)
    randomize(mha)
    cases.append(run("mha_self", mha, {"x": leaf(T, B, E)}, lambda m, i: m(i["x"], i["x"], i["x"],
                                                                            need_weights=False)[0],
                     {"batch_first": False}))

    mha_bf = nn.MultiheadAttention(E, HEADS, batch_first=True)
    randomize(mha_bf)
    causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    cases.append(run("mha_self_causal_batch_first", mha_bf, {"x": leaf(B, T, E)},
                     lambda m, i: m(i["x"], i["x"], i["x"], attn_mask=causal, need_weights=False)[0],
                     {"batch_first": True, "attn_mask": causal.flatten().int().tolist(), "attn_mask_shape": [T, T]}))

    mha_x = nn.MultiheadAttention(E, HEADS)
    randomize(mha_x)
    S = 3
    padding = torch.tensor([[False, False, False], [False, False, True]])
    cases.append(run("mha_cross_padding", mha_x, {"query": leaf(T, B, E), "key": leaf(S, B, E), "value": leaf(S, B, E)},
                     lambda m, i: m(i["query"], i["key"], i["value"], key_padding_mask=padding,
                                    need_weights=False)[0],
                     {"batch_first": False, "key_padding_mask": padding.flatten().int().tolist(),
                      "key_padding_mask_shape": [B, S]}))

    enc = nn.TransformerEncoderLayer(E, HEADS, dim_feedforward=FFN, dropout=0.0)
    randomize(enc)
    cases.append(run("encoder_post_norm", enc, {"x": leaf(T, B, E)}, lambda m, i: m(i["x"]),
                     {"batch_first": False, "norm_first": False}))

    enc_pre = nn.TransformerEncoderLayer(E, HEADS, dim_feedforward=FFN, dropout=0.0, batch_first=True,
                                         norm_first=True)
    randomize(enc_pre)
    cases.append(run("encoder_pre_norm_causal_batch_first", enc_pre, {"x": leaf(B, T, E)},
                     lambda m, i: m(i["x"], src_mask=causal),
                     {"batch_first": True, "norm_first": True, "attn_mask": causal.flatten().int().tolist(),
                      "attn_mask_shape": [T, T]}))

    enc_pad = nn.TransformerEncoderLayer(E, HEADS, dim_feedforward=FFN, dropout=0.0)
    randomize(enc_pad)
    src_padding = torch.zeros(B, T, dtype=torch.bool)
    src_padding[1, 3:] = True
    cases.append(run("encoder_post_norm_key_padding", enc_pad, {"x": leaf(T, B, E)},
                     lambda m, i: m(i["x"], src_key_padding_mask=src_padding),
                     {"batch_first": False, "norm_first": False,
                      "key_padding_mask": src_padding.flatten().int().tolist(), "key_padding_mask_shape": [B, T]}))

    # Five Adam steps (lr 1e-2) of the post-norm layer on MSE to a random target: the losses before each step.
    enc_train = nn.TransformerEncoderLayer(E, HEADS, dim_feedforward=FFN, dropout=0.0)
    start = {k: flat(p) for k, p in enc_train.named_parameters()}
    x = torch.randn(T, B, E)
    target = torch.randn(T, B, E)
    optimizer = torch.optim.Adam(enc_train.parameters(), lr=1e-2)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(enc_train(x), target)
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
    training = {"params": start, "x": flat(x), "x_shape": [T, B, E], "target": flat(target), "lr": 1e-2,
                "losses": losses}

    out = {"script": "scripts/golden/transformer_fixtures.py", "torch": torch.__version__,
           "sizes": {"B": B, "T": T, "E": E, "heads": HEADS, "ffn": FFN}, "cases": cases,
           "training": training}
    path = os.path.join(os.path.dirname(__file__), "..", "..", "engine", "src", "test", "resources", "golden",
                        "transformer.json")
    with open(path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
