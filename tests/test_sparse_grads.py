"""Sparse gradients: nn.Embedding(sparse=True) gives a sparse COO gradient of the looked-up rows; SGD (momentum,
Nesterov, maximize), Adagrad and SparseAdam update those rows only, as PyTorch's do (compared step by step where
PyTorch is installed); the other optimizers refuse them with PyTorch's messages; a sparse momentum buffer saves and
loads; a compiled step breaks its graph and runs eagerly; a bag-of-words model learns with SparseAdam."""
import io
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn

ROWS, DIM = 8, 3
RNG = np.random.default_rng(0)
WEIGHT = RNG.standard_normal((ROWS, DIM)).astype(np.float32)
BATCHES = [RNG.integers(0, ROWS, size=(4, 3)) for _ in range(4)]
GRADS = [RNG.standard_normal((4, 3, DIM)).astype(np.float32) for _ in range(4)]


def _train(lib, optimizer, steps=4, **kwargs):
    """The embedding's weight after steps of optimizer on fixed lookups and output gradients."""
    emb = lib.nn.Embedding(ROWS, DIM, sparse=True, padding_idx=5)
    with lib.no_grad():
        emb.weight.copy_(lib.tensor(WEIGHT))
    opt = getattr(lib.optim, optimizer)(emb.parameters(), **kwargs)
    for idx, g in list(zip(BATCHES, GRADS))[:steps]:
        opt.zero_grad()
        (emb(lib.tensor(idx)) * lib.tensor(g)).sum().backward()
        opt.step()
    return emb.weight.detach().numpy(), opt, emb


def test_embedding_sparse_gradient():
    emb = nn.Embedding(ROWS, DIM, sparse=True, padding_idx=5)
    dense = nn.Embedding(ROWS, DIM, padding_idx=5)
    dense.weight.data = emb.weight.detach().clone()
    idx = ember.tensor([[1, 5, 1], [0, 7, 5]])
    g = ember.tensor(GRADS[0][:2])
    (emb(idx) * g).sum().backward()
    (dense(idx) * g).sum().backward()
    grad = emb.weight.grad
    assert grad.is_sparse and tuple(grad.shape) == (ROWS, DIM) and not grad.is_coalesced()
    assert grad._indices().tolist() == [[1, 1, 0, 7]]  # each lookup but the padding row's, in order
    np.testing.assert_array_equal(grad._values().numpy(), g.numpy().reshape(-1, DIM)[[0, 2, 3, 4]])
    np.testing.assert_allclose(grad.to_dense().numpy(), dense.weight.grad.numpy(), rtol=1e-6)
    (emb(idx) * g).sum().backward()  # accumulates: twice the gradient
    np.testing.assert_allclose(emb.weight.grad.to_dense().numpy(), 2 * dense.weight.grad.numpy(), rtol=1e-6)
    with pytest.raises(RuntimeError, match="scale_grad_by_freq not supported with sparse gradients"):
        nn.Embedding(ROWS, DIM, sparse=True, scale_grad_by_freq=True)(idx).sum().backward()


_UPDATES = [("SGD", dict(lr=0.1)), ("SGD", dict(lr=0.1, momentum=0.9)),
            ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3)), ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
            ("SGD", dict(lr=0.1, momentum=0.5, maximize=True)), ("Adagrad", dict(lr=0.1)),
            ("Adagrad", dict(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.2)), ("SparseAdam", dict(lr=0.1)),
            ("SparseAdam", dict(lr=0.05, betas=(0.8, 0.9), maximize=True))]


@pytest.mark.parametrize("optimizer,kwargs", _UPDATES, ids=str)
def test_sparse_updates_match_torch(optimizer, kwargs):
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's sparse invariant-check notice
        want, _, _ = _train(torch, optimizer, **kwargs)
    got, _, _ = _train(ember, optimizer, **kwargs)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("optimizer,kwargs", _UPDATES, ids=str)
def test_sparse_updates_move_the_looked_up_rows_only(optimizer, kwargs):
    got, _, _ = _train(ember, optimizer, steps=1, **kwargs)
    moved = sorted({int(i) for i in BATCHES[0].reshape(-1)} - {5})
    assert np.flatnonzero((got != WEIGHT).any(axis=1)).tolist() == moved


def test_sparse_gradient_errors():
    with pytest.raises(RuntimeError, match="Adam does not support sparse gradients, please consider SparseAdam"):
        _train(ember, "Adam", lr=0.1)
    with pytest.raises(RuntimeError, match="RMSprop does not support sparse gradients"):
        _train(ember, "RMSprop", lr=0.1)
    with pytest.raises(RuntimeError, match="SGD: weight_decay is not supported with sparse gradients"):
        _train(ember, "SGD", lr=0.1, weight_decay=0.1)
    with pytest.raises(RuntimeError, match="weight_decay option is not compatible with sparse gradients"):
        _train(ember, "Adagrad", lr=0.1, weight_decay=0.1)
    w = nn.Parameter(ember.ones(2))
    (w * w).sum().backward()
    with pytest.raises(RuntimeError, match="SparseAdam does not support dense gradients, please consider Adam"):
        ember.optim.SparseAdam([w]).step()
    with pytest.raises(ValueError, match="Invalid learning rate: 0.0"):
        ember.optim.SparseAdam([w], lr=0.0)


def test_sparse_momentum_buffer_saves_and_loads():
    """Two steps, a checkpoint through ember.save/load, two more: the same weights as four steps in a row."""
    straight, _, _ = _train(ember, "SGD", lr=0.1, momentum=0.9)
    _, opt, emb = _train(ember, "SGD", steps=2, lr=0.1, momentum=0.9)
    saved = opt.state_dict()
    assert saved["state"][0]["momentum_buffer"].is_sparse
    buf = io.BytesIO()
    ember.save({"model": emb.state_dict(), "optimizer": saved}, buf)
    buf.seek(0)
    checkpoint = ember.load(buf)
    emb2 = nn.Embedding(ROWS, DIM, sparse=True, padding_idx=5)
    emb2.load_state_dict(checkpoint["model"])
    opt2 = ember.optim.SGD(emb2.parameters(), lr=0.1, momentum=0.9)
    opt2.load_state_dict(checkpoint["optimizer"])
    for idx, g in list(zip(BATCHES, GRADS))[2:]:
        opt2.zero_grad()
        (emb2(ember.tensor(idx)) * ember.tensor(g)).sum().backward()
        opt2.step()
    np.testing.assert_allclose(emb2.weight.detach().numpy(), straight, rtol=1e-6)


def test_compiled_step_with_sparse_gradients_runs_eagerly():
    eager, _, _ = _train(ember, "SparseAdam", lr=0.1)
    emb = nn.Embedding(ROWS, DIM, sparse=True, padding_idx=5)
    with ember.no_grad():
        emb.weight.copy_(ember.tensor(WEIGHT))
    opt = ember.optim.SparseAdam(emb.parameters(), lr=0.1)

    @ember.compile
    def step(idx, g):
        opt.zero_grad()
        (emb(idx) * g).sum().backward()
        opt.step()

    with pytest.warns(UserWarning, match="graph break in step: a sparse tensor op"):
        for idx, g in zip(BATCHES, GRADS):
            step(ember.tensor(idx), ember.tensor(g))
    np.testing.assert_array_equal(emb.weight.detach().numpy(), eager)


def test_bag_of_words_learns_with_sparse_adam():
    """Sentences of 12 tokens from 500; the class is whether more come from the first half of the vocabulary."""
    rng = np.random.default_rng(1)
    ember.manual_seed(0)
    emb, head = nn.Embedding(500, 16, sparse=True), nn.Linear(16, 2)
    opts = [ember.optim.SparseAdam(emb.parameters(), lr=0.05), ember.optim.Adam(head.parameters(), lr=0.05)]

    def batch(n):
        tokens = rng.integers(0, 500, size=(n, 12))
        return ember.tensor(tokens), ember.tensor(((tokens < 250).sum(1) > 6).astype(np.int64))

    for _ in range(150):
        x, y = batch(64)
        for opt in opts:
            opt.zero_grad()
        F.cross_entropy(head(emb(x).mean(1)), y).backward()
        for opt in opts:
            opt.step()
    x, y = batch(1000)
    with ember.no_grad():
        accuracy = (head(emb(x).mean(1)).argmax(1) == y).float().mean().item()
    assert accuracy > 0.9, accuracy
