"""ember.utils.checkpoint: recomputation in backward gives the plain call's gradients exactly (dropout included),
keeps no activation of the checkpointed function, and answers as torch.utils.checkpoint."""
import gc
import warnings
import weakref

import numpy as np
import pytest

import ember
from ember import nn
from ember.utils.checkpoint import CheckpointError, checkpoint, checkpoint_sequential

VARIANTS = [False, True]  # use_reentrant


def _block(seed=0, dropout=0.25):
    ember.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Dropout(dropout), nn.Linear(12, 6))


def _grads(model, *inputs):
    return [t.grad.numpy().copy() if t.grad is not None else None for t in (*inputs, *model.parameters())]


def _zero(model, *inputs):
    for t in (*inputs, *model.parameters()):
        t.grad = None


def _assert_same(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        assert (u is None) == (v is None)
        if u is not None:
            np.testing.assert_array_equal(u, v)


def _run(model, x, wrap):
    """Gradients of a loss through model (wrapped by wrap), drawn from the same random state."""
    _zero(model, x)
    ember.manual_seed(7)
    y = wrap(model, x)
    (y * y).sum().backward()
    return _grads(model, x)


@pytest.mark.parametrize("use_reentrant", VARIANTS)
def test_gradients_equal_the_plain_run_exactly_with_dropout(use_reentrant):
    model = _block()
    x = ember.randn(4, 6, requires_grad=True)
    plain = _run(model, x, lambda m, x: m(x))
    checked = _run(model, x, lambda m, x: checkpoint(m, x, use_reentrant=use_reentrant))
    _assert_same(plain, checked)
    assert all(g is not None for g in checked)


def test_the_random_state_after_backward_is_the_plain_runs():
    model = _block()
    x = ember.randn(4, 6, requires_grad=True)
    draws = []
    for wrap in (lambda x: model(x), lambda x: checkpoint(model, x, use_reentrant=False)):
        ember.manual_seed(3)
        wrap(x).sum().backward()
        draws.append(ember.rand(3).numpy())
    np.testing.assert_array_equal(*draws)


def test_without_preserve_rng_state_the_recomputation_draws_new_numbers():
    x = ember.ones(1000, requires_grad=True)
    y = checkpoint(nn.functional.dropout, x, 0.5, use_reentrant=False, preserve_rng_state=False)
    y.sum().backward()
    assert not np.array_equal(x.grad.numpy(), (y.detach().numpy() != 0) * 2.0)


@pytest.mark.parametrize("use_reentrant", VARIANTS)
def test_same_gradients_as_torch(torch, use_reentrant):
    model = _block(dropout=0.0)
    tmodel = torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.Tanh(), torch.nn.Dropout(0.0),
                                 torch.nn.Linear(12, 6))
    with torch.no_grad():
        for p, q in zip(model.parameters(), tmodel.parameters()):
            q.copy_(torch.tensor(p.detach().numpy()))
    xs = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    x, tx = ember.tensor(xs, requires_grad=True), torch.tensor(xs, requires_grad=True)
    y = checkpoint(model, x, use_reentrant=use_reentrant)
    ty = torch.utils.checkpoint.checkpoint(tmodel, tx, use_reentrant=True)  # (False loads torch._dynamo: slow)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    for a, b in zip((x, *model.parameters()), (tx, *tmodel.parameters())):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_checkpoint_sequential_matches_torch(torch):
    layers = [nn.Linear(5, 5) for _ in range(5)]
    model = nn.Sequential(*[m for layer in layers for m in (layer, nn.Tanh())])
    tmodel = torch.nn.Sequential(*[torch.nn.Linear(5, 5) if i % 2 == 0 else torch.nn.Tanh() for i in range(10)])
    with torch.no_grad():
        for p, q in zip(model.parameters(), tmodel.parameters()):
            q.copy_(torch.tensor(p.detach().numpy()))
    xs = np.random.default_rng(1).standard_normal((3, 5)).astype(np.float32)
    x, tx = ember.tensor(xs, requires_grad=True), torch.tensor(xs, requires_grad=True)
    y = checkpoint_sequential(model, 3, x, use_reentrant=False)
    ty = torch.utils.checkpoint.checkpoint_sequential(tmodel, 3, tx, use_reentrant=True)
    y.pow(2).sum().backward()
    ty.pow(2).sum().backward()
    for a, b in zip((x, *model.parameters()), (tx, *tmodel.parameters())):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-5)
    plain_x = ember.tensor(xs, requires_grad=True)
    for p in model.parameters():
        p.grad = None
    model(plain_x).pow(2).sum().backward()
    np.testing.assert_array_equal(plain_x.grad.numpy(), x.grad.numpy())


def test_checkpoint_sequential_takes_a_list_of_functions():
    x = ember.randn(3, requires_grad=True)
    fns = [lambda t: t * 2, ember.tanh, lambda t: t + 1, ember.sin]
    y = checkpoint_sequential(fns, 2, x, use_reentrant=False)
    (g,) = ember.autograd.grad(y.sum(), x)
    x2 = x.detach().requires_grad_()
    (g2,) = ember.autograd.grad(ember.sin(ember.tanh(x2 * 2) + 1).sum(), x2)
    np.testing.assert_array_equal(g.numpy(), g2.numpy())


def test_activations_are_not_kept_after_the_forward():
    w1 = ember.randn(32, 64, requires_grad=True)
    w2 = ember.randn(64, 8, requires_grad=True)
    kept = []

    def block(x):
        h = (x @ w1).relu()  # relu keeps its output and the next matmul its input, for backward
        kept.append(weakref.ref(h._data))
        return h @ w2

    x = ember.randn(16, 32, requires_grad=True)
    plain = block(x)
    gc.collect()
    assert kept[0]() is not None  # without checkpoint the graph holds the activation
    del plain
    y = checkpoint(block, x, use_reentrant=False)
    gc.collect()
    assert kept[1]() is None
    y.sum().backward()  # recomputes: a third activation, freed with the recomputed graph
    gc.collect()
    assert len(kept) == 3 and kept[2]() is None
    assert w1.grad.shape == (32, 64) and x.grad.shape == (16, 32)


def test_the_function_runs_once_more_in_backward_and_once_under_no_grad():
    calls = []

    def f(x):
        calls.append(ember.is_grad_enabled())
        return x.sin()

    x = ember.randn(3, requires_grad=True)
    y = checkpoint(f, x, use_reentrant=False)
    assert calls == [True]
    y.sum().backward()
    assert calls == [True, True]
    with ember.no_grad():
        z = checkpoint(f, x, use_reentrant=False)
    assert calls[2:] == [False] and not z.requires_grad and z.grad_fn is None


def test_under_no_grad_the_reentrant_variant_just_runs_the_function():
    x = ember.randn(3, requires_grad=True)
    with ember.no_grad():
        y = checkpoint(ember.sin, x, use_reentrant=True)
    assert y.grad_fn is None and not y.requires_grad
    np.testing.assert_array_equal(y.numpy(), x.detach().sin().numpy())


def test_non_tensor_arguments_keyword_arguments_and_tuple_outputs():
    w = ember.randn(4, requires_grad=True)

    def f(x, scale, shift=None, *, power):
        return (x * w * scale + shift) ** power, "tag", x.argmax()

    def loss(out):
        return out[0].sum()

    x = ember.randn(4, requires_grad=True)
    shift = ember.randn(4, requires_grad=True)
    out = checkpoint(f, x, 3.0, shift=shift, power=2, use_reentrant=False)
    assert out[1] == "tag" and out[2].dtype == ember.int64 and not out[2].requires_grad
    got = ember.autograd.grad(loss(out), [x, w, shift])
    want = ember.autograd.grad(loss(f(x, 3.0, shift=shift, power=2)), [x, w, shift])
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_outputs_in_dicts_and_lists_and_an_unused_output():
    x = ember.randn(3, requires_grad=True)
    out = checkpoint(lambda t: {"a": [t.exp(), t.cos()], "b": t * 5}, x, use_reentrant=False)
    (out["a"][1] * 2).sum().backward()  # the other outputs get no gradient
    np.testing.assert_array_equal(x.grad.numpy(), (-x.detach().sin() * 2).numpy())


@pytest.mark.parametrize("use_reentrant", VARIANTS)
def test_nested_checkpoints(use_reentrant):
    inner, outer_layer = _block(1), nn.Linear(6, 6)
    model = nn.ModuleList([inner, outer_layer])
    x = ember.randn(4, 6, requires_grad=True)

    def outer(t):
        return outer_layer(checkpoint(inner, t, use_reentrant=use_reentrant)).tanh()

    plain = _run(model, x, lambda m, x: outer_layer(inner(x)).tanh())
    checked = _run(model, x, lambda m, x: checkpoint(outer, x, use_reentrant=use_reentrant))
    _assert_same(plain, checked)


def test_a_weight_used_inside_and_in_the_inputs_history():
    """An RNN-like chain: each step checkpointed, the same weight in every step."""
    w = ember.randn(5, 5, requires_grad=True)
    h0 = ember.randn(2, 5, requires_grad=True)

    def step(h):
        return (h @ w).tanh()

    def run(wrap):
        w.grad = h0.grad = None
        h = h0
        for _ in range(4):
            h = wrap(h)
        h.sum().backward()
        return [w.grad.numpy(), h0.grad.numpy()]

    plain = run(step)
    checked = run(lambda h: checkpoint(step, h, use_reentrant=False))
    for a, b in zip(plain, checked):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_a_captured_tensor_that_is_not_an_argument_gets_its_gradient():
    base = ember.randn(3, requires_grad=True)
    scaled = base * 2  # not a leaf: captured by the function below
    x = ember.randn(3, requires_grad=True)
    y = checkpoint(lambda t: (t * scaled).sin(), x, use_reentrant=False)
    (y.sum() + scaled.sum()).backward()
    want = (x.detach() * scaled.detach()).cos()
    np.testing.assert_allclose(base.grad.numpy(), (want * x.detach() * 2 + 2).numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), (want * scaled.detach()).numpy(), rtol=1e-6)


def test_returning_an_input_unchanged():
    x = ember.randn(3, requires_grad=True)
    a, b = checkpoint(lambda t: (t, t * 3), x, use_reentrant=False)
    (a.sum() + b.sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 4.0, np.float32))


def test_autograd_grad_and_double_backward():
    x = ember.randn(4, dtype=ember.float64, requires_grad=True)
    w = ember.randn(4, dtype=ember.float64, requires_grad=True)

    def f(t):
        return (t ** 3 * w).sum()

    (g,) = ember.autograd.grad(checkpoint(f, x * 1.5, use_reentrant=False), x, create_graph=True)  # a non-leaf
    (gg,) = ember.autograd.grad(g.sum(), x)
    (g0,) = ember.autograd.grad(f(x * 1.5), x, create_graph=True)
    (gg0,) = ember.autograd.grad(g0.sum(), x)
    np.testing.assert_allclose(g.detach().numpy(), g0.detach().numpy())
    np.testing.assert_allclose(gg.numpy(), gg0.numpy())


def test_gradcheck_through_checkpoint():
    w = ember.randn(3, 3, dtype=ember.float64, requires_grad=True)
    x = ember.randn(2, 3, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(lambda x, w: checkpoint(lambda t: (t @ w).sigmoid(), x, use_reentrant=False),
                                    (x, w))


def test_retain_graph_allows_a_second_backward():
    x = ember.randn(3, requires_grad=True)
    y = checkpoint(ember.exp, x, use_reentrant=False).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().exp().numpy(), rtol=1e-6)


def test_modifying_an_input_in_place_before_backward_raises():
    x = ember.randn(3, requires_grad=True)
    mid = x * 1
    y = checkpoint(ember.sin, mid, use_reentrant=False)
    with ember.no_grad():
        mid.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_autocast_state_is_restored_for_the_recomputation():
    model = nn.Linear(4, 4)
    x = ember.randn(2, 4, requires_grad=True)
    grads = []
    for wrap in (model, lambda t: checkpoint(model, t, use_reentrant=False)):
        _zero(model, x)
        with ember.autocast("cpu", dtype=ember.float16):  # float16: bfloat16 needs the optional ml_dtypes
            y = wrap(x)
        assert y.dtype == ember.float16
        y.float().sum().backward()
        grads.append(_grads(model, x))
    _assert_same(*grads)


def test_context_fn_runs_around_forward_and_recomputation():
    entered = []

    class Ctx:
        def __init__(self, name):
            self.name = name

        def __enter__(self):
            entered.append(self.name)

        def __exit__(self, *exc):
            return False

    x = ember.randn(3, requires_grad=True)
    y = checkpoint(ember.sin, x, use_reentrant=False, context_fn=lambda: (Ctx("forward"), Ctx("recompute")))
    assert entered == ["forward"]
    y.sum().backward()
    assert entered == ["forward", "recompute"]


def test_determinism_check_compares_the_recomputed_outputs():
    calls = []

    def changing(t):
        calls.append(1)
        return t.sin() if len(calls) % 2 else t.sin().reshape(1, -1)

    x = ember.randn(3, requires_grad=True)
    with pytest.raises(CheckpointError, match="different metadata"):
        checkpoint(changing, x, use_reentrant=False).sum().backward()
    with pytest.raises(CheckpointError, match="Operations executed during recomputation"):
        checkpoint(changing, x, use_reentrant=False, debug=True).sum().backward()
    calls.clear()
    with pytest.raises(CheckpointError, match="different number"):
        checkpoint(lambda t: t.sin() if not calls.append(1) and len(calls) == 1 else t.detach(), x,
                   use_reentrant=False).sum().backward()


def test_use_reentrant_warning_and_errors_as_torch(torch):
    x = ember.randn(3, requires_grad=True)
    tx = torch.randn(3, requires_grad=True)
    for mod, t, fn in ((ember.utils.checkpoint, x, ember.sin), (torch.utils.checkpoint, tx, torch.sin)):
        with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
            y = mod.checkpoint(fn, t)
        assert "CheckpointFunction" in type(y.grad_fn).__name__ + repr(y.grad_fn)  # reentrant by default
        with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
            mod.checkpoint_sequential([fn, fn], 2, t)
        with pytest.raises(ValueError, match="^Unexpected keyword arguments: a,b$"):
            mod.checkpoint(fn, t, use_reentrant=True, a=1, b=2)
        with pytest.raises(ValueError, match="only supported when use_reentrant=False"):
            mod.checkpoint(fn, t, use_reentrant=True, debug=True)
        with pytest.raises(ValueError, match="only supported when use_reentrant=False"):
            mod.checkpoint(fn, t, use_reentrant=True, context_fn=mod.noop_context_fn.__call__)
        with pytest.raises(ValueError, match="determinism_check should be one of"):
            mod.checkpoint(fn, t, use_reentrant=False, determinism_check="strict")
        with pytest.raises(ValueError, match="incompatible with non-default context_fn"):
            mod.checkpoint(fn, t, use_reentrant=False, debug=True, context_fn=mod.noop_context_fn.__call__)
        with pytest.raises(ValueError, match="^Unexpected keyword arguments: a$"):
            mod.checkpoint_sequential([fn, fn], 2, t, use_reentrant=False, a=1)


def test_reentrant_variant_gives_no_gradients_without_an_input_that_requires_them(torch):
    """As PyTorch's: a warning, and the parameters inside get no gradient (use_reentrant=False gives them)."""
    for lib, mod in ((ember, ember.utils.checkpoint), (torch, torch.utils.checkpoint)):
        layer = lib.nn.Linear(3, 3)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            y = mod.checkpoint(layer, lib.randn(2, 3), use_reentrant=True)
        assert any("None of the inputs have requires_grad=True" in str(w.message) for w in caught)
        assert not y.requires_grad
    layer = nn.Linear(3, 3)
    checkpoint(layer, ember.randn(2, 3), use_reentrant=False).sum().backward()
    assert layer.weight.grad is not None
