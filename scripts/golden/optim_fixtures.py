#!/usr/bin/python3
"""Writes engine/src/test/resources/golden/optim.json: what torch.optim computes, for gatun's optimizer tests.

Every optimizer configuration starts from the same two parameters (shapes [3, 4] and [4]) and takes five
steps with gradients that differ from step to step; the fixture records the gradients and the parameters
after every step. The single-tensor (for-loop) implementations are forced with foreach=False, since that
is the arithmetic gatun reproduces. The file also holds the learning rates of three schedules over two
cosine periods, and the results of gradient clipping by norm and by value.

All numbers are float32 values written as the shortest decimal of the equal double, so they read back
exactly. Run with Debian's interpreter (python3-torch, torch 1.13 CPU):

    /usr/bin/python3 scripts/golden/optim_fixtures.py
"""
import json
import math
import os

import torch

SHAPES = [(3, 4), (4,)]
STEPS = 5
# Gradient magnitude per step: shrinking and growing, so AMSGrad's running maximum differs from the
# current second moment and Adagrad's accumulator sees both large and small steps.
GRADIENT_SCALES = [1.0, 0.3, 2.0, 0.1, 0.5]

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                   "engine", "src", "test", "resources", "golden", "optim.json")


def values(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def initial_parameters():
    # A simple formula, so a reader can see the values: θ_k = sin(0.7·k + 0.3·i) · (0.5 + 0.1·i) for
    # element k of parameter i. Stored in the fixture all the same.
    params = []
    for i, shape in enumerate(SHAPES):
        n = math.prod(shape)
        k = torch.arange(n, dtype=torch.float64)
        params.append((torch.sin(0.7 * k + 0.3 * i) * (0.5 + 0.1 * i)).float().reshape(shape))
    return params


def gradients():
    """gradients[step][i]: normal samples from a fixed seed, scaled per step; one entry is exactly zero."""
    g = torch.Generator().manual_seed(1234)
    out = []
    for s in range(STEPS):
        step = []
        for shape in SHAPES:
            t = torch.randn(shape, generator=g, dtype=torch.float32) * GRADIENT_SCALES[s]
            step.append(t)
        step[0].view(-1)[5] = 0.0  # a zero gradient: the update must still be finite (eps in the denominators)
        out.append(step)
    return out


# name, constructor, keyword options (named as in PyTorch), steps at which parameter 1 has no gradient.
CONFIGS = [
    ("sgd_plain", torch.optim.SGD, dict(lr=0.1), []),
    ("sgd_momentum_dampening", torch.optim.SGD, dict(lr=0.05, momentum=0.9, dampening=0.3), []),
    ("sgd_nesterov_weight_decay", torch.optim.SGD,
     dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01), []),
    ("adagrad_default", torch.optim.Adagrad, dict(), []),
    ("adagrad_lr_decay_weight_decay", torch.optim.Adagrad,
     dict(lr=0.1, lr_decay=0.05, weight_decay=0.02, initial_accumulator_value=0.1), []),
    ("rmsprop_plain", torch.optim.RMSprop, dict(), []),
    ("rmsprop_centered_momentum_weight_decay", torch.optim.RMSprop,
     dict(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.05, momentum=0.7, centered=True), []),
    ("adadelta_default", torch.optim.Adadelta, dict(), []),
    ("adadelta_weight_decay", torch.optim.Adadelta, dict(lr=0.5, rho=0.95, eps=1e-5, weight_decay=0.1), []),
    ("adam_default", torch.optim.Adam, dict(), []),
    ("adam_amsgrad_weight_decay", torch.optim.Adam,
     dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, amsgrad=True), []),
    # Parameter 1 has no gradient at steps 2 and 3: PyTorch skips it and its own step count (used in the
    # bias corrections) stays behind the optimizer's.
    ("adam_missing_gradients", torch.optim.Adam, dict(lr=0.01), [2, 3]),
    ("adamw_default", torch.optim.AdamW, dict(), []),
    ("adamw_amsgrad", torch.optim.AdamW,
     dict(lr=0.02, betas=(0.85, 0.995), weight_decay=0.05, amsgrad=True), []),
]


def run_optimizer(name, cls, options, missing, grads):
    params = [p.clone().requires_grad_(True) for p in initial_parameters()]
    opt = cls(params, foreach=False, **options)
    steps = []
    for s in range(STEPS):
        for i, p in enumerate(params):
            p.grad = None if (i == 1 and s + 1 in missing) else grads[s][i].clone()
        opt.step()
        steps.append({
            "gradients": [None if p.grad is None else values(p.grad) for p in params],
            "parameters": [values(p) for p in params],
        })
    opts = {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.items()}
    return {"name": name, "optimizer": cls.__name__, "options": opts, "steps": steps}


def lr_sequence(make, epochs, base_lr=0.1):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base_lr)
    sched = make(opt)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(epochs):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    return lrs


def schedules():
    t_max = 10
    epochs = 2 * t_max + 2
    lr = torch.optim.lr_scheduler
    return [
        {"name": "step", "schedule": "StepLR", "base_lr": 0.1, "options": {"step_size": 3, "gamma": 0.5},
         "learning_rates": lr_sequence(lambda o: lr.StepLR(o, step_size=3, gamma=0.5), epochs)},
        {"name": "exponential", "schedule": "ExponentialLR", "base_lr": 0.1, "options": {"gamma": 0.9},
         "learning_rates": lr_sequence(lambda o: lr.ExponentialLR(o, gamma=0.9), epochs)},
        {"name": "cosine", "schedule": "CosineAnnealingLR", "base_lr": 0.1,
         "options": {"T_max": t_max, "eta_min": 0.001},
         "learning_rates": lr_sequence(lambda o: lr.CosineAnnealingLR(o, T_max=t_max, eta_min=0.001), epochs)},
    ]


def clipping(grads):
    cases = []
    for max_norm, norm_type in [(1.0, 2.0), (100.0, 2.0), (0.5, math.inf), (2.0, 1.0)]:
        params = [p.clone().requires_grad_(True) for p in initial_parameters()]
        for p, g in zip(params, grads[2]):
            p.grad = g.clone()
        total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)
        cases.append({"kind": "norm", "max_norm": max_norm,
                      "norm_type": "inf" if math.isinf(norm_type) else norm_type,
                      "gradients": [values(g) for g in grads[2]],
                      "total_norm": float(total),
                      "clipped": [values(p.grad) for p in params]})
    params = [p.clone().requires_grad_(True) for p in initial_parameters()]
    for p, g in zip(params, grads[2]):
        p.grad = g.clone()
    torch.nn.utils.clip_grad_value_(params, 0.75)
    cases.append({"kind": "value", "clip_value": 0.75, "gradients": [values(g) for g in grads[2]],
                  "clipped": [values(p.grad) for p in params]})
    return cases


def to_json(value, indent=""):
    """JSON with objects one key a line and lists of numbers on one line, so the file reads and diffs well."""
    inner = indent + "  "
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k)}: {to_json(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and not all(v is None or isinstance(v, (int, float)) for v in value):
        return "[\n" + ",\n".join(inner + to_json(v, inner) for v in value) + "\n" + indent + "]"
    return json.dumps(value)


def main():
    torch.set_num_threads(1)
    grads = gradients()
    fixture = {
        "generator": "scripts/golden/optim_fixtures.py",
        "torch_version": torch.__version__,
        "shapes": [list(s) for s in SHAPES],
        "initial_parameters": [values(p) for p in initial_parameters()],
        "optimizers": [run_optimizer(*c, grads) for c in CONFIGS],
        "schedules": schedules(),
        "clipping": clipping(grads),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write(to_json(fixture) + "\n")
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
