"""The benchmark workloads, each written ONCE against the PyTorch API and run on ember or PyTorch.

A workload is a function ``build(fw)`` taking a framework namespace (``fw.torch``, ``fw.nn``, ``fw.F``, ``fw.optim``;
see :func:`load_framework`) and returning a :class:`Workload`: the model, its inputs and targets (made from the same
NumPy arrays on both frameworks), a loss function and an optimizer factory. :func:`train_step` and :func:`infer_step`
are what gets timed, eagerly; :func:`compiled_step` gives the same steps compiled by the framework's own
``compile`` (``torch.compile``, ``ember.compile``).
"""
import types

import numpy as np


def load_framework(name, threads=2):
    """The PyTorch-style namespace of ``name`` ("ember" or "torch")."""
    if name == "torch":
        import torch
        import torch.nn.functional as F
        from torch import nn, optim
        torch.set_num_threads(threads)
    elif name == "ember":
        import ember as torch
        import ember.nn.functional as F
        from ember import nn, optim
    else:
        raise ValueError(f"unknown framework {name!r} (expected 'ember' or 'torch')")
    return types.SimpleNamespace(name=name, torch=torch, nn=nn, F=F, optim=optim)


class Workload:
    """A model with a fixed batch, its loss and how to make its optimizer."""

    def __init__(self, model, inputs, target, loss, make_optimizer):
        self.model, self.inputs, self.target = model, inputs, target
        self.loss, self.make_optimizer = loss, make_optimizer


def train_step(fw, w, optimizer):
    """One training step: zero_grad, forward, loss, backward, optimizer step."""
    return _train_on(w, optimizer, *w.inputs, w.target)


def _train_on(w, optimizer, *batch):
    optimizer.zero_grad()
    loss = w.loss(w.model(*batch[:-1]), batch[-1])
    loss.backward()
    optimizer.step()
    return loss


def infer_step(fw, w):
    """One forward pass under no_grad (the model is put in eval mode by the caller)."""
    with fw.torch.no_grad():
        return w.model(*w.inputs)


def compiled_step(fw, w, mode, optimizer=None):
    """The step of ``mode`` compiled by ``fw.torch.compile`` (default options), as a function of no arguments
    like the eager steps; its first call compiles. A training step is one compiled function of the batch (zero_grad,
    forward, loss, backward, step); an inference step runs the compiled model under no_grad."""
    if mode == "train":
        step = fw.torch.compile(lambda *batch: _train_on(w, optimizer, *batch))
        return lambda: step(*w.inputs, w.target)
    model = fw.torch.compile(w.model)

    def infer():
        with fw.torch.no_grad():
            return model(*w.inputs)
    return infer


def _data(fw, *, x_shape=None, tokens=None, classes=10, batch=None, seed=0):
    """Inputs and targets from a fixed NumPy generator, so both frameworks see the same batch."""
    rng = np.random.default_rng(seed)
    if tokens is not None:  # (batch, seq) token ids and next-token targets
        ids = rng.integers(0, classes, size=(tokens[0], tokens[1] + 1))
        x = fw.torch.tensor(ids[:, :-1].astype(np.int64))
        y = fw.torch.tensor(ids[:, 1:].astype(np.int64))
        return x, y
    x = fw.torch.tensor(rng.standard_normal(x_shape).astype(np.float32))
    y = fw.torch.tensor(rng.integers(0, classes, size=(batch or x_shape[0],)).astype(np.int64))
    return x, y


def _mlp(fw, sizes):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(fw.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(fw.nn.ReLU())
    return fw.nn.Sequential(*layers)


def mlp(fw):
    """MLP 784-512-512-10, batch 128, SGD with momentum 0.9, cross-entropy."""
    model = _mlp(fw, [784, 512, 512, 10])
    x, y = _data(fw, x_shape=(128, 784))
    return Workload(model, (x,), y, fw.F.cross_entropy,
                    lambda: fw.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))


def tiny_overhead(fw):
    """MLP 32-64-64-10, batch 16, plain SGD: the time is mostly framework overhead."""
    model = _mlp(fw, [32, 64, 64, 10])
    x, y = _data(fw, x_shape=(16, 32))
    return Workload(model, (x,), y, fw.F.cross_entropy, lambda: fw.optim.SGD(model.parameters(), lr=0.01))


def lenet(fw):
    """LeNet-5 on 1x28x28 (conv 5x5 pad 2, max pools, fc 120-84-10), batch 64, SGD."""
    nn = fw.nn
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    x, y = _data(fw, x_shape=(64, 1, 28, 28))
    return Workload(model, (x,), y, fw.F.cross_entropy, lambda: fw.optim.SGD(model.parameters(), lr=0.01))


def resnet_small(fw):
    """ResNet-8: conv3x3-BN-relu stem (16), one BasicBlock per stage (16/32/64, strides 1/2/2), avg pool, fc 10."""
    nn, F = fw.nn, fw.F

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.shortcut = nn.Sequential()
            if stride != 1 or cin != cout:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return F.relu(out + self.shortcut(x))

    class ResNet(nn.Module):
        def __init__(self, classes=10):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(16)
            self.layer1 = BasicBlock(16, 16, 1)
            self.layer2 = BasicBlock(16, 32, 2)
            self.layer3 = BasicBlock(32, 64, 2)
            self.fc = nn.Linear(64, classes)

        def forward(self, x):
            x = F.relu(self.bn1(self.conv1(x)))
            x = self.layer3(self.layer2(self.layer1(x)))
            return self.fc(x.mean(dim=(2, 3)))

    model = ResNet()
    x, y = _data(fw, x_shape=(32, 3, 32, 32))
    return Workload(model, (x,), y, F.cross_entropy,
                    lambda: fw.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))


def lstm(fw):
    """nn.LSTM 64->256 (batch_first), seq 32, batch 32; last hidden state -> Linear(256, 10); Adam."""
    nn = fw.nn

    class LSTMClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(64, 256, batch_first=True)
            self.fc = nn.Linear(256, 10)

        def forward(self, x):
            _, (h, _) = self.lstm(x)
            return self.fc(h[-1])

    model = LSTMClassifier()
    x, y = _data(fw, x_shape=(32, 32, 64))
    return Workload(model, (x,), y, fw.F.cross_entropy, lambda: fw.optim.Adam(model.parameters(), lr=1e-3))


def gpt_small(fw, vocab=65, d=128, heads=4, layers=2, seq=64, batch=16):
    """A 2-block pre-norm GPT (d=128, 4 heads, causal SDPA, GELU MLP 4x), seq 64, batch 16, vocab 65; AdamW."""
    torch, nn, F = fw.torch, fw.nn, fw.F

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)

        def forward(self, x):
            b, t, c = x.shape
            q, k, v = self.qkv(x).split(c, dim=2)
            q, k, v = (z.view(b, t, heads, c // heads).transpose(1, 2) for z in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.proj(y.transpose(1, 2).reshape(b, t, c))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(d)
            self.attn = CausalSelfAttention()
            self.ln2 = nn.LayerNorm(d)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

        def forward(self, x):
            x = x + self.attn(self.ln1(x))
            return x + self.mlp(self.ln2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(vocab, d)
            self.pos = nn.Embedding(seq, d)
            self.blocks = nn.Sequential(*[Block() for _ in range(layers)])
            self.ln_f = nn.LayerNorm(d)
            self.head = nn.Linear(d, vocab)
            self.register_buffer("positions", torch.arange(seq), persistent=False)

        def forward(self, idx):
            x = self.tok(idx) + self.pos(self.positions[:idx.shape[1]])
            return self.head(self.ln_f(self.blocks(x)))

    model = GPT()
    x, y = _data(fw, tokens=(batch, seq), classes=vocab)

    def loss(logits, target):
        return F.cross_entropy(logits.reshape(-1, vocab), target.reshape(-1))

    return Workload(model, (x,), y, loss, lambda: fw.optim.AdamW(model.parameters(), lr=3e-4))


WORKLOADS = {f.__name__: f for f in (mlp, tiny_overhead, lenet, resnet_small, lstm, gpt_small)}
MODES = ("train", "inference")
