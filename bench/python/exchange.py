"""Model exchange between PyTorch and gatun through safetensors files, run with Debian's /usr/bin/python3
(PyTorch 1.13; Debian has no safetensors package, so the format is read and written here with json and
struct).

  exchange.py write-torch DIR   builds each model of MODELS in PyTorch with a fixed seed, puts its batch
                                norms' running statistics off their initial values, and writes
                                DIR/NAME.safetensors (the state_dict, PyTorch's names) and
                                DIR/NAME.io.safetensors ("input" and PyTorch's "output" in eval mode)
  exchange.py check-gatun DIR   for each DIR/gatun/NAME.safetensors written by gatun (with its input in
                                DIR/gatun/NAME.input.safetensors), builds the model in PyTorch, loads the
                                file with load_state_dict(strict=True) and writes PyTorch's output to
                                DIR/gatun/NAME.torch-output.safetensors

The model files hold only the model's tensors, so that they load strictly on either side; inputs and
outputs live in the separate *.io / *.input / *.torch-output files.
"""
import json
import os
import struct
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workloads  # noqa: E402  (the benchmark's model definitions)

DTYPES = {"F32": (torch.float32, 4), "F64": (torch.float64, 8), "I64": (torch.int64, 8), "I32": (torch.int32, 4)}
NAMES = {v[0]: k for k, v in DTYPES.items()}


def write_safetensors(path, tensors, metadata=None):
    """Writes tensors (name -> torch tensor) as the reference implementation does: data ordered by
    decreasing element size then name, header padded with spaces to a multiple of 8."""
    order = sorted(tensors, key=lambda n: (-DTYPES[NAMES[tensors[n].dtype]][1], n))
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in order:
        t = tensors[name].detach().contiguous().cpu()
        data = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path):
    """Returns (tensors, metadata) of a safetensors file, checking offsets are contiguous."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    data = blob[8 + n:]
    tensors, expected = {}, 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        begin, end = info["data_offsets"]
        assert begin == expected, f"{path}: {name} starts at {begin}, expected {expected}"
        expected = end
        dtype, _ = DTYPES[info["dtype"]]
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype) if end > begin else torch.empty(0, dtype=dtype)
        tensors[name] = t.reshape(info["shape"])
    assert expected == len(data), f"{path}: data ends at {expected}, the file holds {len(data)}"
    return tensors, metadata


class Block(nn.Module):
    """gatun's BasicBlock (torchvision's): conv-bn-relu-conv-bn plus the identity or a 1x1 conv + bn shortcut."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return torch.relu(h + (x if self.downsample is None else self.downsample(x)))


def resnet_stages(cin):
    """gatun's Models.resnetStages."""
    return nn.Sequential(nn.Conv2d(cin, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                         Block(32, 32, 1), Block(32, 64, 2), Block(64, 128, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(128, 10))


def mlp_small():
    """bench's mlp_big (Linear, ReLU, Dropout, Linear, ReLU, Linear) with hidden sizes 32, 16 instead of 512, 256."""
    return nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 16), nn.ReLU(),
                         nn.Linear(16, 10))


class CharModel(nn.Module):
    """bench's CharModel (embedding, LSTM, linear head) at sizes 65→16, 16→32, 32→65, with children named
    0, 1, 2 as in gatun's Sequential(Embedding, LSTM, Linear). Input: tokens [T, N] as floats; output
    [T, N, 65]."""

    def __init__(self):
        super().__init__()
        self.add_module("0", nn.Embedding(workloads.CHAR_VOCAB, 16))
        self.add_module("1", nn.LSTM(16, 32))
        self.add_module("2", nn.Linear(32, workloads.CHAR_VOCAB))

    def forward(self, x):
        out, _ = self._modules["1"](self._modules["0"](x.long()))
        return self._modules["2"](out)


class GRUOutput(nn.GRU):
    """nn.GRU giving only its output sequence, as gatun's GRU.forward(input) does (same state_dict names)."""

    def forward(self, x):
        return super().forward(x)[0]


def transformer():
    """bench's transformer (nn.TransformerEncoderLayer, batch first) at d_model 8, 2 heads, feed-forward 16."""
    return nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.1, batch_first=True)


# name -> (factory, input maker)
MODELS = {
    "mlp": (mlp_small, lambda g: torch.randn(4, 784, generator=g)),
    "lenet5": (workloads.lenet5, lambda g: torch.randn(2, 1, 28, 28, generator=g)),
    "resnet": (workloads.resnet, lambda g: torch.randn(2, 3, 8, 8, generator=g)),
    "resnet_stages": (lambda: resnet_stages(1), lambda g: torch.randn(2, 1, 12, 12, generator=g)),
    "charlstm": (CharModel, lambda g: torch.randint(0, workloads.CHAR_VOCAB, (7, 3), generator=g).float()),
    "gru": (lambda: GRUOutput(4, 6, num_layers=2, bidirectional=True), lambda g: torch.randn(5, 2, 4, generator=g)),
    "transformer": (transformer, lambda g: torch.randn(2, 5, 8, generator=g)),
}


def settle_batch_norms(model, make_input, g):
    """Trains the running statistics away from 0 and 1 (and counts num_batches_tracked) with a few batches,
    so that evaluation depends on them."""
    if not any(isinstance(m, nn.BatchNorm2d) for m in model.modules()):
        return
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(make_input(g) * 2 + 0.5)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):  # and non-trivial affine parameters
            m.weight.data.uniform_(0.5, 1.5, generator=g)
            m.bias.data.uniform_(-0.5, 0.5, generator=g)


def write_torch(directory):
    os.makedirs(directory, exist_ok=True)
    for i, (name, (factory, make_input)) in enumerate(MODELS.items()):
        torch.manual_seed(1234 + i)
        g = torch.Generator().manual_seed(99 + i)
        model = factory()
        settle_batch_norms(model, make_input, g)
        model.eval()
        x = make_input(g)
        with torch.no_grad():
            y = model(x)
        write_safetensors(os.path.join(directory, name + ".safetensors"), model.state_dict(), {"format": "pt"})
        write_safetensors(os.path.join(directory, name + ".io.safetensors"), {"input": x, "output": y})
        print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters, output {list(y.shape)}")


def check_gatun(directory):
    gdir = os.path.join(directory, "gatun")
    names = sorted(f[:-len(".safetensors")] for f in os.listdir(gdir)
                   if f.endswith(".safetensors") and f.count(".") == 1)
    if not names:
        sys.exit(f"no gatun model files in {gdir}")
    for name in names:
        if name not in MODELS:
            sys.exit(f"{gdir}/{name}.safetensors: no PyTorch model named {name}")
        state, metadata = read_safetensors(os.path.join(gdir, name + ".safetensors"))
        assert "gatun.architecture" in metadata, f"{name}: gatun wrote no architecture"
        json.loads(metadata["gatun.architecture"])
        model = MODELS[name][0]()
        model.load_state_dict(state, strict=True)  # every name, shape; num_batches_tracked as int64
        model.eval()
        io, _ = read_safetensors(os.path.join(gdir, name + ".input.safetensors"))
        with torch.no_grad():
            y = model(io["input"])
        write_safetensors(os.path.join(gdir, name + ".torch-output.safetensors"), {"output": y})
        print(f"{name}: loaded gatun's file strictly, output {list(y.shape)}")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("write-torch", "check-gatun"):
        sys.exit(__doc__)
    torch.set_num_threads(1)
    (write_torch if sys.argv[1] == "write-torch" else check_gatun)(sys.argv[2])
