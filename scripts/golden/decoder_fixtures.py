"""Writes engine/src/test/resources/golden/decoder.json: PyTorch's Transformer decoder layer (post-norm and
pre-norm), the encoder and decoder stacks, nn.Transformer, the attention weights multi-head attention returns
(averaged over the heads and per head, with boolean and float masks) and a small decoder-only GPT built of
PyTorch layers, on small inputs (B=2, T=5, S=4, E=8, 2 heads, FFN 16, dropout 0).

Each case holds the parameters, the inputs, the output and the gradients of sum(y * r) (plus sum(w * rw) for
returned attention weights w) for fixed random r, rw with respect to every parameter and every float input.
Boolean masks are stored as 0/1 lists (1 = may not attend). Run with Debian's /usr/bin/python3 (torch 1.13
CPU)."""
import json
import os

import torch
from torch import nn

B, T, S, E, HEADS, FFN = 2, 5, 4, 8, 2, 16


def flat(t):
    return t.detach().flatten().tolist()


def randomize(module):
    """Every parameter drawn anew, so that zero biases and unit norms cannot hide a mistake."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.5)


def leaf(*shape):
    return torch.randn(*shape).requires_grad_(True)


def bool_mask(name, mask):
    return {name: mask.flatten().int().tolist(), name + "_shape": list(mask.shape)}


def run(name, module, inputs, call, extra=None):
    """inputs: name -> tensor (those with requires_grad get a gradient); call(module, inputs) -> y or (y, w)."""
    module.zero_grad()
    out = call(module, inputs)
    y, w = out if isinstance(out, tuple) else (out, None)
    r = torch.randn(*y.shape)
    loss = (y * r).sum()
    case = {"name": name}
    if w is not None:
        rw = torch.randn(*w.shape)
        loss = loss + (w * rw).sum()
        case.update({"w": flat(w), "w_shape": list(w.shape), "rw": flat(rw)})
    loss.backward()
    case.update({"params": {k: flat(p) for k, p in module.named_parameters()},
                 "param_shapes": {k: list(p.shape) for k, p in module.named_parameters()},
                 "inputs": {k: flat(v) for k, v in inputs.items()},
                 "input_shapes": {k: list(v.shape) for k, v in inputs.items()},
                 "y": flat(y), "y_shape": list(y.shape), "r": flat(r),
                 "grads": {k: flat(p.grad) for k, p in module.named_parameters()},
                 "input_grads": {k: flat(v.grad) for k, v in inputs.items() if v.requires_grad}})
    case.update(extra or {})
    return case


class LearnedPositionalEmbedding(nn.Module):
    """gatun's LearnedPositionalEmbedding: x + weight[:T] (batch first), then dropout."""

    def __init__(self, d, max_len, p):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(max_len, d))
        self.drop = nn.Dropout(p)

    def forward(self, x):
        return self.drop(x + self.weight[:x.size(1)])


class GPT(nn.Module):
    """gatun's GPT, parameter for parameter."""

    def __init__(self, V, block, d, L, H, ff, p):
        super().__init__()
        self.tok_emb = nn.Embedding(V, d)
        self.pos_emb = LearnedPositionalEmbedding(d, block, p)
        self.layers = nn.ModuleList(nn.TransformerEncoderLayer(d, H, ff, p, activation="gelu", batch_first=True,
                                                               norm_first=True) for _ in range(L))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, V)

    def forward(self, idx):
        t = idx.size(1)
        x = self.pos_emb(self.tok_emb(idx))
        mask = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
        for layer in self.layers:
            x = layer(x, src_mask=mask)
        return self.head(self.ln_f(x))


def main():
    torch.manual_seed(1913)
    cases = []
    causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    tgt_padding = torch.zeros(B, T, dtype=torch.bool)
    tgt_padding[1, 4] = True
    memory_padding = torch.zeros(B, S, dtype=torch.bool)
    memory_padding[0, 3] = True
    memory_padding[1, 2:] = True
    memory_mask = torch.zeros(T, S, dtype=torch.bool)
    memory_mask[0, 1] = True
    memory_mask[3, 0] = True
    masks = {}
    masks.update(bool_mask("tgt_mask", causal))
    masks.update(bool_mask("tgt_key_padding_mask", tgt_padding))
    masks.update(bool_mask("memory_key_padding_mask", memory_padding))
    masks.update(bool_mask("memory_mask", memory_mask))

    dec = nn.TransformerDecoderLayer(E, HEADS, dim_feedforward=FFN, dropout=0.0)
    randomize(dec)
    cases.append(run("decoder_post_norm", dec, {"tgt": leaf(T, B, E), "memory": leaf(S, B, E)},
                     lambda m, i: m(i["tgt"], i["memory"])))

    dec = nn.TransformerDecoderLayer(E, HEADS, dim_feedforward=FFN, dropout=0.0)
    randomize(dec)
    cases.append(run("decoder_post_norm_masks", dec, {"tgt": leaf(T, B, E), "memory": leaf(S, B, E)},
                     lambda m, i: m(i["tgt"], i["memory"], tgt_mask=causal, tgt_key_padding_mask=tgt_padding,
                                    memory_key_padding_mask=memory_padding), masks))

    dec = nn.TransformerDecoderLayer(E, HEADS, dim_feedforward=FFN, dropout=0.0, activation="gelu",
                                     batch_first=True, norm_first=True)
    randomize(dec)
    cases.append(run("decoder_pre_norm_gelu_batch_first_masks", dec, {"tgt": leaf(B, T, E), "memory": leaf(B, S, E)},
                     lambda m, i: m(i["tgt"], i["memory"], tgt_mask=causal, memory_mask=memory_mask,
                                    tgt_key_padding_mask=tgt_padding, memory_key_padding_mask=memory_padding), masks))

    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, HEADS, dim_feedforward=FFN, dropout=0.0), 2,
                                nn.LayerNorm(E))
    randomize(enc)
    cases.append(run("encoder_stack", enc, {"src": leaf(T, B, E)},
                     lambda m, i: m(i["src"], mask=causal, src_key_padding_mask=tgt_padding), masks))

    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(E, HEADS, dim_feedforward=FFN, dropout=0.0,
                                                           batch_first=True, norm_first=True), 2, nn.LayerNorm(E))
    randomize(dec)
    cases.append(run("decoder_stack", dec, {"tgt": leaf(B, T, E), "memory": leaf(B, S, E)},
                     lambda m, i: m(i["tgt"], i["memory"], tgt_mask=causal, memory_mask=memory_mask,
                                    tgt_key_padding_mask=tgt_padding, memory_key_padding_mask=memory_padding), masks))

    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(E, HEADS, dim_feedforward=FFN, dropout=0.0), 2)
    randomize(dec)
    cases.append(run("decoder_stack_no_norm", dec, {"tgt": leaf(T, B, E), "memory": leaf(S, B, E)},
                     lambda m, i: m(i["tgt"], i["memory"], tgt_mask=causal)))

    tr = nn.Transformer(E, HEADS, 1, 1, FFN, dropout=0.0, batch_first=True)
    randomize(tr)
    cases.append(run("transformer", tr, {"src": leaf(B, S, E), "tgt": leaf(B, T, E)},
                     lambda m, i: m(i["src"], i["tgt"], tgt_mask=causal, src_key_padding_mask=memory_padding,
                                    tgt_key_padding_mask=tgt_padding, memory_key_padding_mask=memory_padding),
                     masks))

    # Returned attention weights. Averaged over the heads, bool attn_mask and bool key_padding_mask (or-ed).
    attn_mask = torch.zeros(T, S, dtype=torch.bool)
    attn_mask[1, 0] = True
    attn_mask[2, 3] = True
    padding = torch.tensor([[False, False, True, False], [False, False, False, True]])
    mha = nn.MultiheadAttention(E, HEADS, batch_first=True)
    randomize(mha)
    extra = bool_mask("attn_mask", attn_mask)
    extra.update(bool_mask("key_padding_mask", padding))
    cases.append(run("mha_weights_averaged", mha, {"query": leaf(B, T, E), "key": leaf(B, S, E), "value": leaf(B, S, E)},
                     lambda m, i: m(i["query"], i["key"], i["value"], key_padding_mask=padding, attn_mask=attn_mask,
                                    need_weights=True, average_attn_weights=True), extra))

    # Per head, a learned float attn_mask [B·H, T, S] with a bool key_padding_mask (masked_fill), sequence first.
    mha = nn.MultiheadAttention(E, HEADS)
    randomize(mha)
    extra = bool_mask("key_padding_mask", padding)
    cases.append(run("mha_weights_per_head_float_mask", mha,
                     {"query": leaf(T, B, E), "key": leaf(S, B, E), "value": leaf(S, B, E),
                      "attn_mask": leaf(B * HEADS, T, S)},
                     lambda m, i: m(i["query"], i["key"], i["value"], key_padding_mask=padding,
                                    attn_mask=i["attn_mask"], need_weights=True, average_attn_weights=False), extra))

    # Unbatched self-attention, per head and averaged, with a causal mask.
    mha = nn.MultiheadAttention(E, HEADS)
    randomize(mha)
    extra = bool_mask("attn_mask", causal)
    cases.append(run("mha_weights_unbatched_per_head", mha, {"x": leaf(T, E)},
                     lambda m, i: m(i["x"], i["x"], i["x"], attn_mask=causal, need_weights=True,
                                    average_attn_weights=False), extra))
    cases.append(run("mha_weights_unbatched_averaged", mha, {"x": leaf(T, E)},
                     lambda m, i: m(i["x"], i["x"], i["x"], attn_mask=causal, need_weights=True), extra))

    # A small GPT: logits and the gradients of the cross-entropy over every position.
    V, BLOCK, LAYERS = 11, 8, 2
    gpt = GPT(V, BLOCK, E, LAYERS, HEADS, FFN, 0.0)
    randomize(gpt)
    idx = torch.randint(0, V, (B, 6))
    targets = torch.randint(0, V, (B, 6))
    logits = gpt(idx)
    loss = nn.functional.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
    loss.backward()
    gpt_case = {"config": {"vocab": V, "block": BLOCK, "d": E, "layers": LAYERS, "heads": HEADS, "ffn": FFN},
                "params": {k: flat(p) for k, p in gpt.named_parameters()},
                "param_shapes": {k: list(p.shape) for k, p in gpt.named_parameters()},
                "idx": idx.flatten().tolist(), "targets": targets.flatten().tolist(), "idx_shape": list(idx.shape),
                "logits": flat(logits), "logits_shape": list(logits.shape), "loss": loss.item(),
                "grads": {k: flat(p.grad) for k, p in gpt.named_parameters()}}

    out = {"script": "scripts/golden/decoder_fixtures.py", "torch": torch.__version__,
           "sizes": {"B": B, "T": T, "S": S, "E": E, "heads": HEADS, "ffn": FFN}, "cases": cases, "gpt": gpt_case}
    path = os.path.join(os.path.dirname(__file__), "..", "..", "engine", "src", "test", "resources", "golden",
                        "decoder.json")
    with open(path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
