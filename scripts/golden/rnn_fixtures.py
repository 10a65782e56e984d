#!/usr/bin/python3
"""Writes engine/src/test/resources/golden/rnn.json: what torch.nn.RNN (tanh and ReLU), LSTM and GRU compute, for
gatun's recurrent tests.

Each case is one layer, time-major (batch_first=False), T=5, N=3, I=4, H=6, in one direction or both
(D = 2: the last three cases), and holds the input x [T, N, I], the initial states h0 (and c0) [D, N, H],
the parameters under PyTorch's names (weight_ih_l0 [G·H, I], weight_hh_l0 [G·H, H], bias_ih_l0,
bias_hh_l0 [G·H], and the same with _reverse for D = 2), the output [T, N, D·H], the final states, fixed random gradients R_y, R_h (and R_c) with L = Σ output·R_y + Σ h·R_h (+ Σ c·R_c), and
the gradients of L with respect to the input, the initial states and every parameter.

"modules" holds two-layer bidirectional batch-first torch.nn.LSTM and GRU modules: input [N, T, I],
states [4, N, H], every parameter under its state_dict name with its gradient.

All numbers are float32 values written as the shortest decimal of the equal double, so they read back
exactly. Run with Debian's interpreter (python3-torch, torch 1.13 CPU):

    /usr/bin/python3 scripts/golden/rnn_fixtures.py
"""
import json
import os

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                   "engine", "src", "test", "resources", "golden", "rnn.json")

T, N, I, H = 5, 3, 4, 6
PARAMS = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]


def values(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def run(module, x, h0, c0, lstm, g):
    """Forward and backward of L = Σ output·R_y + Σ h·R_h (+ Σ c·R_c) with fixed random R: the record of x,
    the states, the results, the R and the gradients of x and the initial states."""
    if lstm:
        y, (h, c) = module(x, (h0, c0))
    else:
        y, h = module(x, h0)
        c = None
    ry = torch.randn(y.shape, generator=g)
    rh = torch.randn(h.shape, generator=g)
    loss = (y * ry).sum() + (h * rh).sum()
    rc = None
    if lstm:
        rc = torch.randn(c.shape, generator=g)
        loss = loss + (c * rc).sum()
    loss.backward()
    return {
        "input": values(x),
        "h0": values(h0),
        "c0": values(c0) if lstm else None,
        "output": values(y),
        "h": values(h),
        "c": values(c) if lstm else None,
        "output_grad": values(ry),
        "h_grad": values(rh),
        "c_grad": values(rc) if lstm else None,
        "input_grad": values(x.grad),
        "h0_grad": values(h0.grad),
        "c0_grad": values(c0.grad) if lstm else None,
    }


def inputs(x_shape, states, lstm, g):
    """A random input of the given shape and initial states [states, N, H] (c0 for the LSTM only)."""
    x = torch.randn(*x_shape, generator=g).requires_grad_(True)
    h0 = (torch.randn(states, N, H, generator=g) * 0.5).requires_grad_(True)
    c0 = (torch.randn(states, N, H, generator=g) * 0.5).requires_grad_(True) if lstm else None
    return x, h0, c0


def case(name, module, lstm, g):
    d = 2 if module.bidirectional else 1
    x, h0, c0 = inputs((T, N, I), d, lstm, g)
    out = {"name": name, "sizes": [T, N, I, H], "directions": d, **run(module, x, h0, c0, lstm, g)}
    params = dict(module.named_parameters())
    for p in PARAMS + ([q + "_reverse" for q in PARAMS] if d == 2 else []):
        out[p] = values(params[p])
        out[p + "_grad"] = values(params[p].grad)
    return out


def stacked(name, module, lstm, g):
    """A two-layer bidirectional module with batch_first=True: every parameter by name with its gradient."""
    x, h0, c0 = inputs((N, T, I), 2 * 2, lstm, g)
    out = {"name": name, "sizes": [T, N, I, H], **run(module, x, h0, c0, lstm, g)}
    out["parameters"] = {k: values(v) for k, v in module.named_parameters()}
    out["parameter_grads"] = {k: values(v.grad) for k, v in module.named_parameters()}
    return out


def main():
    torch.manual_seed(7)
    g = torch.Generator().manual_seed(2025)
    cases = [
        case("rnn_tanh", torch.nn.RNN(I, H, nonlinearity="tanh"), False, g),
        case("rnn_relu", torch.nn.RNN(I, H, nonlinearity="relu"), False, g),
        case("lstm", torch.nn.LSTM(I, H), True, g),
        case("gru", torch.nn.GRU(I, H), False, g),
        case("rnn_tanh", torch.nn.RNN(I, H, bidirectional=True), False, g),
        case("lstm", torch.nn.LSTM(I, H, bidirectional=True), True, g),
        case("gru", torch.nn.GRU(I, H, bidirectional=True), False, g),
    ]
    modules = [
        stacked("lstm", torch.nn.LSTM(I, H, num_layers=2, batch_first=True, bidirectional=True), True, g),
        stacked("gru", torch.nn.GRU(I, H, num_layers=2, batch_first=True, bidirectional=True), False, g),
    ]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"torch_version": torch.__version__, "cases": cases, "modules": modules}, f,
                  separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
