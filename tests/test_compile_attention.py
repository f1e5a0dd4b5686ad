"""scaled_dot_product_attention in a compiled graph: the C nodes (ember.compiler.c_attention) against eager ember,
PyTorch, and NumPy's forms where C declines."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.compiler import blas, c_backend, c_attention, cache
from helpers import assert_compiles_strictly

needs_cc = pytest.mark.skipif(cache.find_compiler() is None or blas.find() is None, reason="no C compiler or BLAS")


@pytest.fixture(autouse=True, scope="module")
def _cache_dir(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EMBER_CACHE_DIR", str(tmp_path_factory.mktemp("ember_cache")))
        yield


def _inputs(dtype, b, h, L, S, E, EV, heads_last, seed=0):
    """q, k, v (and an output gradient) as leaves; heads_last: views (b, h, *, e) of (b, *, h, e) arrays, as a
    transformer's split and transpose make them."""
    rng = np.random.default_rng(seed)

    def make(rows, e):
        if heads_last and h:
            return rng.standard_normal((b, rows, h, e)).astype(dtype).transpose(0, 2, 1, 3)
        return rng.standard_normal((b, h, rows, e) if h else (b, rows, e)).astype(dtype)
    arrays = [make(L, E), make(S, E), make(S, EV)]
    g = rng.standard_normal((b, h, L, EV) if h else (b, L, EV)).astype(dtype)
    return [ember.tensor(a, requires_grad=True) for a in arrays], ember.tensor(g)


def _attend(leaves, g, compiled, **kwargs):
    """(output, the three gradients, the compiled function or None) after three calls (trace, check, graph)."""
    def step(q, k, v, g):
        y = F.scaled_dot_product_attention(q, k, v, **kwargs)
        y.backward(g)
        return y.detach()

    f = ember.compile(step, backend="c") if compiled else step
    for _ in range(3):
        for t in leaves:
            t.grad = None
        y = f(*leaves, g)
    return [y.numpy()] + [None if t.grad is None else t.grad.numpy() for t in leaves], (f if compiled else None)


def _names(f):
    return {op.name for op in f.graph.walk()}


@needs_cc
@pytest.mark.parametrize("dtype, rtol", [(np.float32, 2e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("shape, heads_last, causal", [
    ((2, 4, 64, 64, 32, 32), True, True),    # a transformer's causal self-attention (eager: NumPy's halves)
    ((2, 3, 10, 10, 8, 8), False, False),
    ((2, 3, 7, 13, 8, 5), False, False),     # L != S, another value width
    ((2, 3, 13, 6, 8, 5), True, True),       # causal with L > S: rows past S see every key
    ((2, 3, 5, 19, 4, 20), False, True),     # causal with L < S, columns past a multiple of 16
    ((3, 0, 17, 17, 6, 6), False, True)], ids=["gpt", "plain", "cross", "causal_long", "causal_wide", "3d"])
def test_attention_in_c_equals_eager(shape, heads_last, causal, dtype, rtol):
    b, h, L, S, E, EV = shape
    leaves, g = _inputs(dtype, b, h, L, S, E, EV, heads_last)
    want, _ = _attend(leaves, g, False, is_causal=causal)
    got, f = _attend(leaves, g, True, is_causal=causal)
    assert {"CAttention", "CAttentionGrad"} <= _names(f)
    for w, x in zip(want, got):
        assert w.shape == x.shape
        np.testing.assert_allclose(x, w, rtol=rtol, atol=rtol * np.abs(w).max())


@needs_cc
def test_attention_in_c_equals_pytorch():
    torch = pytest.importorskip("torch")
    leaves, g = _inputs(np.float32, 2, 4, 33, 33, 16, 16, True, seed=3)
    got, _ = _attend(leaves, g, True, is_causal=True, scale=0.3)
    tq, tk, tv = (torch.tensor(t.detach().numpy(), requires_grad=True) for t in leaves)
    y = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=True, scale=0.3)
    y.backward(torch.tensor(g.numpy()))
    for want, x in zip([y.detach(), tq.grad, tk.grad, tv.grad], got):
        np.testing.assert_allclose(x, want.numpy(), rtol=1e-5, atol=1e-6)


@needs_cc
def test_heads_split_over_threads_give_the_bits_of_one_thread(monkeypatch):
    """Heads split over OpenMP threads (while the BLAS runs on one thread: a graph whose segments own the threads),
    each thread with its own scratch: every head computed as on one thread."""
    leaves, g = _inputs(np.float32, 3, 5, 33, 33, 16, 16, True, seed=2)
    results = []
    for threads in (1, 2):
        monkeypatch.setattr(c_attention, "_threads_for", lambda p, threads=threads: threads)
        results.append(_attend(leaves, g, True, is_causal=True)[0])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@needs_cc
@pytest.mark.parametrize("frozen", [0, 1, 2])
def test_only_the_gradients_needed_are_made(frozen):
    leaves, g = _inputs(np.float32, 2, 2, 9, 9, 4, 4, False)
    leaves[frozen].requires_grad_(False)
    want, _ = _attend(leaves, g, False, is_causal=True)
    got, f = _attend(leaves, g, True, is_causal=True)
    assert "CAttentionGrad" in _names(f) and got[1 + frozen] is None
    for w, x in zip(want, got):
        if w is not None:
            np.testing.assert_allclose(x, w, rtol=2e-5, atol=1e-6)


@needs_cc
@pytest.mark.parametrize("kwargs, lowered", [
    (dict(attn_mask="bool"), False),       # a mask other than the causal one: NumPy's forms
    (dict(dropout_p=0.3), False),
    (dict(five_d=True), True)],            # lowered, but C declines 5-D arrays when it runs: NumPy's forms
    ids=["bool_mask", "dropout", "5d"])
def test_what_c_does_not_take_runs_numpys_forms(kwargs, lowered):
    rng = np.random.default_rng(1)
    shape = (2, 2, 3, 6, 4) if kwargs.pop("five_d", False) else (2, 3, 6, 4)
    leaves = [ember.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True) for _ in range(3)]
    g = ember.tensor(rng.standard_normal(shape).astype(np.float32))
    if kwargs.get("attn_mask") == "bool":
        kwargs["attn_mask"] = ember.tensor(rng.random((6, 6)) > 0.3)
    ember.manual_seed(0)
    want, _ = _attend(leaves, g, False, **kwargs)
    ember.manual_seed(0)
    got, f = _attend(leaves, g, True, **kwargs)
    assert ("CAttention" in _names(f)) == lowered
    if "dropout_p" in kwargs:  # another mask per call: the graph's own run is checked against its eager twin
        assert np.isfinite(got[0]).all()
        return
    for w, x in zip(want, got):
        np.testing.assert_allclose(x, w, rtol=2e-5, atol=1e-6)


@needs_cc
def test_without_numpys_blas_the_nodes_run_numpys_forms(monkeypatch):
    leaves, g = _inputs(np.float32, 2, 2, 8, 8, 4, 4, True)
    want, _ = _attend(leaves, g, False, is_causal=True)
    monkeypatch.setattr(blas, "find", lambda: None)
    got, f = _attend(leaves, g, True, is_causal=True)
    assert "CAttention" in _names(f)
    for w, x in zip(want, got):
        np.testing.assert_array_equal(x, w)  # NumPy's forms: eager's bits


@needs_cc
def test_attention_c_compiles_with_all_warnings_as_errors(tmp_path):
    from ember.compiler import render_c
    assert_compiles_strictly((render_c.header(c_backend.data_offset()) + c_attention.BODY,), tmp_path)


def _qkv_attention_step(compiled, dtype=np.float32):
    """A transformer's attention: one qkv projection split in three, heads by view and transpose, causal SDPA, the
    heads merged back and projected; the loss's gradients of the input and the projections' weights."""
    ember.manual_seed(0)
    b, t, h, e = 3, 20, 4, 8
    qkv, proj = ember.nn.Linear(h * e, 3 * h * e), ember.nn.Linear(h * e, h * e)
    for m in (qkv, proj):
        m.to(ember.float64 if dtype == np.float64 else ember.float32)
    x = ember.tensor(np.random.default_rng(4).standard_normal((b, t, h * e)).astype(dtype), requires_grad=True)

    def step(x):
        q, k, v = qkv(x).split(h * e, dim=2)
        q, k, v = (z.view(b, t, h, e).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, h * e)
        loss = (proj(y) ** 2).sum()
        loss.backward()
        return loss.detach()

    f = ember.compile(step, backend="c") if compiled else step
    leaves = [x, qkv.weight, qkv.bias, proj.weight]
    for _ in range(3):
        for p in leaves:
            p.grad = None
        loss = f(x)
    return [loss.numpy()] + [p.grad.numpy() for p in leaves], (f if compiled else None)


@needs_cc
@pytest.mark.parametrize("dtype, rtol", [(np.float32, 2e-5), (np.float64, 1e-12)])
def test_the_qkv_gradients_are_written_side_by_side_instead_of_joined(dtype, rtol):
    """CAttentionGrad writes q's, k's and v's gradients into one (B, L, 3, H, E) array when they only go (through
    the heads' transpose and reshape) into the split's gradient, which then is that array: no concatenation."""
    from ember.compiler.c_attention import CAttentionGrad, JoinedSplitBackward
    want, _ = _qkv_attention_step(False, dtype)
    got, f = _qkv_attention_step(True, dtype)
    nodes = [op.node for op in f.graph.walk()]
    assert any(isinstance(n, JoinedSplitBackward) for n in nodes)
    assert all(n.joined for n in nodes if isinstance(n, CAttentionGrad))
    for w, x in zip(want, got):
        np.testing.assert_allclose(x, w, rtol=rtol, atol=rtol * np.abs(w).max())


def test_a_joined_split_backward_of_separate_arrays_concatenates():
    from ember.compiler.c_attention import JoinedSplitBackward
    rng = np.random.default_rng(0)
    pieces = [rng.standard_normal((2, 3, 4)) for _ in range(3)]
    node = JoinedSplitBackward((2, 3, 12), 2, (4, 4, 4))
    np.testing.assert_array_equal(node.forward(np, *pieces), np.concatenate(pieces, axis=2))
    joined = rng.standard_normal((2, 3, 12))
    out = node.forward(np, joined[..., :4], joined[..., 4:8], joined[..., 8:])
    assert np.shares_memory(out, joined) and np.array_equal(out, joined)
    shuffled = node.forward(np, joined[..., 4:8], joined[..., :4], joined[..., 8:])  # not where the join puts them
    np.testing.assert_array_equal(shuffled, np.concatenate([joined[..., 4:8], joined[..., :4], joined[..., 8:]], 2))
