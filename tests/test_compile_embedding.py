"""An embedding's gradient in a compiled graph (ember.compiler.c_embedding) against eager ember and PyTorch."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.compiler import c_backend, c_embedding, cache, render_c
from helpers import assert_compiles_strictly

needs_cc = pytest.mark.skipif(cache.find_compiler() is None, reason="no C compiler")


@pytest.fixture(autouse=True, scope="module")
def _cache_dir(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EMBER_CACHE_DIR", str(tmp_path_factory.mktemp("ember_cache")))
        yield


def _grads(compiled, idx, num=7, dim=5, dtype=ember.float32, **kwargs):
    """The table's gradient from the third step of sum(embedding(idx) * g), and the step function."""
    rng = np.random.default_rng(0)
    weight = ember.tensor(rng.standard_normal((num, dim)), dtype=dtype, requires_grad=True)
    g = ember.tensor(rng.standard_normal(tuple(idx.shape) + (dim,)), dtype=dtype)

    def step(idx):
        loss = (F.embedding(idx, weight, **kwargs) * g).sum()
        loss.backward()
        return loss

    f = ember.compile(step, fullgraph=True) if compiled else step
    for _ in range(3):  # the third call runs the graph
        weight.grad = None
        f(idx)
    return weight.grad.numpy(), f


@needs_cc
@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
@pytest.mark.parametrize("idx, kwargs", [
    (np.array([[0, 3, 3], [6, 0, 3]]), {}),                     # repeated rows: added in the lookups' order
    (np.array([1, 6, 2, 0]), {}),                                # each row at most once
    (np.array([[2, 4], [4, 1]]), {"padding_idx": 4}),            # the padding row gets no gradient
    (np.random.default_rng(3).integers(0, 7, 200), {}),          # many lookups into a small table (one-hot in NumPy)
])
def test_the_gradient_in_c_equals_eager(idx, kwargs, dtype):
    idx = ember.tensor(idx)
    want, _ = _grads(False, idx, dtype=dtype, **kwargs)
    got, f = _grads(True, idx, dtype=dtype, **kwargs)
    assert "CEmbeddingBackward" in {type(op.node).__name__ for op in f.graph.walk()}
    np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == ember.float32 else 1e-13,
                               atol=1e-5 if dtype == ember.float32 else 1e-12)


@needs_cc
def test_repeated_rows_add_in_the_lookups_order_as_add_at():
    idx = ember.tensor(np.array([5, 1, 5, 5, 0, 1]))
    got, _ = _grads(True, idx)
    rng = np.random.default_rng(0)
    rng.standard_normal((7, 5))
    g = rng.standard_normal((6, 5)).astype(np.float32)
    want = np.zeros((7, 5), np.float32)
    np.add.at(want, idx.numpy(), g)
    np.testing.assert_array_equal(got, want)


@needs_cc
def test_the_gradient_equals_pytorchs():
    torch = pytest.importorskip("torch")
    idx = np.random.default_rng(5).integers(0, 11, (4, 9))
    got, _ = _grads(True, ember.tensor(idx), num=11, padding_idx=2)
    rng = np.random.default_rng(0)
    w = torch.tensor(rng.standard_normal((11, 5)), dtype=torch.float32, requires_grad=True)
    g = torch.tensor(rng.standard_normal((4, 9, 5)), dtype=torch.float32)
    (torch.nn.functional.embedding(torch.tensor(idx), w, padding_idx=2) * g).sum().backward()
    np.testing.assert_allclose(got, w.grad.numpy(), rtol=1e-6, atol=1e-6)


@needs_cc
def test_scale_grad_by_freq_keeps_numpys_form():
    idx = ember.tensor(np.array([1, 1, 3]))
    want, _ = _grads(False, idx, scale_grad_by_freq=True)
    got, f = _grads(True, idx, scale_grad_by_freq=True)
    assert "CEmbeddingBackward" not in {type(op.node).__name__ for op in f.graph.walk()}
    np.testing.assert_allclose(got, want, rtol=1e-6)


@needs_cc
def test_an_index_out_of_range_gives_numpys_error(monkeypatch):
    """C gives way to NumPy's form, whose IndexError is the eager one (the lookup itself raises first in a step:
    this calls the gradient node alone)."""
    node = c_embedding.CEmbeddingBackward(np.array([0, 9]), 4, None, False)  # (9: past the table's 4 rows)
    node.lib = c_embedding._functions(cache.load(render_c.header(c_backend.data_offset()) + c_embedding.BODY,
                                                 cache.find_compiler()))
    with pytest.raises(IndexError):
        node.forward(np, np.ones((2, 3), np.float32))


@needs_cc
def test_the_module_compiles_without_warnings(tmp_path):
    assert_compiles_strictly([render_c.header(c_backend.data_offset()) + c_embedding.BODY], tmp_path)
