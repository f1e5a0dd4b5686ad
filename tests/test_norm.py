"""Normalisation ops: gradcheck (float64), double backward, PyTorch comparisons, running statistics, errors."""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck
from ember.ops.norm import batch_norm, group_norm, instance_norm, layer_norm, local_response_norm, rms_norm

from helpers import assert_close, rand64, to_torch

BN_SHAPES = [(5, 3), (4, 3, 2), (3, 2, 2, 3)]


def _params(c, affine, seed=1):
    if not affine:
        return None, None
    return rand64(c, low=0.5, high=1.5, seed=seed), rand64(c, seed=seed + 1)


def _running(c, seed=3):
    rng = np.random.default_rng(seed)
    return (ember.tensor(rng.uniform(-0.5, 0.5, c), dtype=ember.float64),
            ember.tensor(rng.uniform(0.5, 1.5, c), dtype=ember.float64))


# --- gradcheck --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck(shape, affine, training):
    x = rand64(*shape)
    w, b = _params(shape[1], affine)
    rm, rv = _running(shape[1])
    args = (x,) + ((w, b) if affine else ())
    fn = lambda x, w=None, b=None: batch_norm(x, rm, rv, w, b, training=training)
    assert gradcheck(fn, args)


def test_batch_norm_gradcheck_weight_only_and_bias_only():
    x = rand64(4, 3, 2)
    w, b = _params(3, True)
    assert gradcheck(lambda x, w: batch_norm(x, None, None, w, None, training=True), (x, w))
    assert gradcheck(lambda x, b: batch_norm(x, None, None, None, b, training=True), (x, b))


def test_batch_norm_gradcheck_noncontiguous_input():
    x = rand64(2, 3, 4).transpose(0, 2).detach().requires_grad_(True)  # (4, 3, 2), not contiguous
    assert not x.is_contiguous()
    w, b = _params(3, True)
    assert gradcheck(lambda x, w, b: batch_norm(x, None, None, w, b, training=True), (x, w, b))


@pytest.mark.parametrize("shape,ns", [((3, 5), (5,)), ((2, 3, 4), (4,)), ((2, 3, 4), (3, 4))])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_gradcheck(shape, ns, affine):
    x = rand64(*shape)
    args = (x, rand64(*ns, low=0.5, high=1.5, seed=5), rand64(*ns, seed=6)) if affine else (x,)
    assert gradcheck(lambda x, w=None, b=None: layer_norm(x, ns, w, b), args)


@pytest.mark.parametrize("shape,groups", [((2, 4), 2), ((2, 6, 3), 3), ((2, 4, 2, 2), 2), ((1, 4, 3), 1)])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_gradcheck(shape, groups, affine):
    x = rand64(*shape)
    w, b = _params(shape[1], affine)
    args = (x, w, b) if affine else (x,)
    assert gradcheck(lambda x, w=None, b=None: group_norm(x, groups, w, b), args)


@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 2, 2, 3)])
@pytest.mark.parametrize("use_input_stats", [True, False])
def test_instance_norm_gradcheck(shape, use_input_stats):
    x = rand64(*shape)
    w, b = _params(shape[1], True)
    rm, rv = _running(shape[1])
    fn = lambda x, w, b: instance_norm(x, rm, rv, w, b, use_input_stats=use_input_stats)
    assert gradcheck(fn, (x, w, b))
    assert gradcheck(lambda x: instance_norm(x, use_input_stats=True), (rand64(2, 2, 3),))


@pytest.mark.parametrize("shape,ns", [((3, 4), (4,)), ((2, 2, 3), (2, 3))])
@pytest.mark.parametrize("weight", [True, False])
def test_rms_norm_gradcheck(shape, ns, weight):
    x = rand64(*shape)
    args = (x, rand64(*ns, low=0.5, high=1.5, seed=7)) if weight else (x,)
    assert gradcheck(lambda x, w=None: rms_norm(x, ns, w, eps=1e-6), args)


def test_local_response_norm_gradcheck():
    x = rand64(2, 5, 3)
    assert gradcheck(lambda x: local_response_norm(x, 3, alpha=0.5, beta=0.75, k=1.0), (x,))
    assert gradcheck(lambda x: local_response_norm(x, 2, alpha=0.3), (rand64(1, 3, 2, 2),))


# --- double backward ----------------------------------------------------------------------------------------------

def test_layer_norm_gradgradcheck():
    x, w, b = rand64(2, 4), rand64(4, low=0.5, high=1.5, seed=2), rand64(4, seed=3)
    assert gradgradcheck(lambda x, w, b: layer_norm(x, (4,), w, b), (x, w, b))
    assert gradgradcheck(lambda x: layer_norm(x, (4,)), (rand64(2, 4, seed=9),))


@pytest.mark.parametrize("shape", [(4, 2), (3, 2, 2)])
def test_batch_norm_training_gradgradcheck(shape):
    x = rand64(*shape)
    w, b = _params(shape[1], True)
    assert gradgradcheck(lambda x, w, b: batch_norm(x, None, None, w, b, training=True), (x, w, b))


def test_batch_norm_eval_gradgradcheck():
    x = rand64(3, 2, 2)
    w, b = _params(2, True)
    rm, rv = _running(2)
    assert gradgradcheck(lambda x, w, b: batch_norm(x, rm, rv, w, b, training=False), (x, w, b))


def test_group_instance_rms_gradgradcheck():
    x = rand64(2, 4, 2)
    w, b = _params(4, True)
    assert gradgradcheck(lambda x, w, b: group_norm(x, 2, w, b), (x, w, b))
    assert gradgradcheck(lambda x: instance_norm(x), (rand64(2, 2, 3),))
    assert gradgradcheck(lambda x, w: rms_norm(x, (4,), w), (rand64(2, 4, seed=4), rand64(4, seed=8)))


@pytest.mark.parametrize("op", ["batch", "batch_eval", "layer", "group", "instance", "rms"])
def test_fused_backward_agrees_with_the_decomposition(op):
    """The gradient node's array forward (the gradients of every backward) and the gradients of the normalisation
    written with ember ops (its decomposition, which gives the second derivatives) agree."""
    rng = np.random.default_rng(0)
    x = ember.tensor(rng.standard_normal((4, 6, 5)), dtype=ember.float32, requires_grad=True)
    w = ember.tensor(rng.uniform(0.5, 1.5, 6 if op != "layer" and op != "rms" else 5), dtype=ember.float32,
                     requires_grad=True)
    b = ember.tensor(rng.standard_normal(w.shape[0]), dtype=ember.float32, requires_grad=True)
    rm, rv = ember.zeros(6), ember.ones(6)
    f = {"batch": lambda: batch_norm(x, None, None, w, b, training=True),
         "batch_eval": lambda: batch_norm(x, rm, rv + 0.5, w, b),
         "layer": lambda: layer_norm(x, (5,), w, b),
         "group": lambda: group_norm(x, 3, w, b),
         "instance": lambda: instance_norm(x, None, None, w, b),
         "rms": lambda: rms_norm(x, (5,), w)}[op]
    inputs = [x, w] if op == "rms" else [x, w, b]
    go = ember.tensor(rng.standard_normal((4, 6, 5)), dtype=ember.float32)
    fast = ember.autograd.grad(f(), inputs, go, create_graph=True)
    node = fast[0].grad_fn
    assert node.name == "NormalizeGrad" and all(g.grad_fn is node for g in fast)
    ops = node.decomposition(x, w, None if op == "rms" else b)
    graph = ember.autograd.grad(ops, inputs, go)
    for a, c in zip(fast, graph):
        assert a.dtype == ember.float32 and c.dtype == ember.float32
        np.testing.assert_allclose(a.detach().numpy(), c.detach().numpy(), rtol=1e-4, atol=1e-5)


# --- dtypes, in-place safety, running statistics -------------------------------------------------------------------

def test_float32_stays_float32():
    x = ember.randn(4, 3, 5, requires_grad=True)
    w, b = ember.ones(3, requires_grad=True), ember.zeros(3, requires_grad=True)
    for y in (batch_norm(x, None, None, w, b, training=True), layer_norm(x, (5,)), group_norm(x, 3, w, b),
              instance_norm(x), rms_norm(x, (3, 5))):
        assert y.dtype == ember.float32
        y.sum().backward()
        assert x.grad.dtype == ember.float32
    assert w.grad.dtype == ember.float32 and b.grad.dtype == ember.float32


def test_float16_computed_in_float32():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 8)) * 3 + 5
    x16 = ember.tensor(a, dtype=ember.float16, requires_grad=True)
    y16 = layer_norm(x16, (8,))
    assert y16.dtype == ember.float16
    ref = layer_norm(ember.tensor(a.astype(np.float16), dtype=ember.float32), (8,))
    np.testing.assert_allclose(y16.detach().numpy().astype(np.float32), ref.numpy(), atol=4e-3)
    y16.sum().backward()
    assert x16.grad.dtype == ember.float16
    w = ember.ones(3, dtype=ember.float32)  # float32 parameters are allowed with 16-bit inputs
    out = batch_norm(ember.randn(4, 3).to(ember.float16), None, None, w, None, training=True)
    assert out.dtype == ember.float16


def test_bfloat16_computed_in_float32():
    if ember.bfloat16 is None:
        pytest.skip("ml_dtypes is not installed")
    x = ember.randn(3, 4, 8).to(ember.bfloat16).requires_grad_(True)
    w = ember.ones(8, dtype=ember.bfloat16, requires_grad=True)
    y = layer_norm(x, (8,), w)
    assert y.dtype == ember.bfloat16
    ref = layer_norm(x.detach().float(), (8,))
    np.testing.assert_allclose(y.detach().float().numpy(), ref.numpy(), atol=3e-2)
    y.sum().backward()
    assert x.grad.dtype == ember.bfloat16 and w.grad.dtype == ember.bfloat16


def test_empty_batch_and_1d_input():
    x = ember.randn(0, 5, requires_grad=True)
    y = layer_norm(x, (5,))
    assert tuple(y.shape) == (0, 5)
    y.sum().backward()
    assert tuple(x.grad.shape) == (0, 5)
    assert gradcheck(lambda v: layer_norm(v, 4), (rand64(4),))


def test_no_grad_matches_grad_path():
    x = ember.randn(4, 6, 3)
    w, b = ember.randn(6), ember.randn(6)
    rm, rv = ember.zeros(6), ember.ones(6) * 2
    with ember.no_grad():
        plain = [batch_norm(x, None, None, w, b, training=True), batch_norm(x, rm, rv, w, b), group_norm(x, 2, w, b)]
    w.requires_grad_(True)
    graph = [batch_norm(x, None, None, w, b, training=True), batch_norm(x, rm, rv, w, b), group_norm(x, 2, w, b)]
    for p, g in zip(plain, graph):
        np.testing.assert_allclose(p.numpy(), g.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_output_does_not_alias_saved_xhat():
    """Modifying the output in place (like relu_) must not change the gradient."""
    x = rand64(3, 4)
    go = rand64(3, 4, requires_grad=False, seed=11)
    ref = ember.autograd.grad(layer_norm(x, (4,)), [x], go)[0]
    y = layer_norm(x, (4,))
    y._data[...] = 0.0
    got = ember.autograd.grad(y, [x], go)[0]
    np.testing.assert_allclose(got.numpy(), ref.numpy())


def test_batch_norm_running_stats_updated_in_place():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((8, 3, 4))
    x = ember.tensor(a)
    rm, rv = ember.zeros(3, dtype=ember.float64), ember.ones(3, dtype=ember.float64)
    rm_arr, rv_arr = rm._data, rv._data
    batch_norm(x, rm, rv, training=True, momentum=0.25)
    assert rm._data is rm_arr and rv._data is rv_arr
    np.testing.assert_allclose(rm.numpy(), 0.25 * a.mean(axis=(0, 2)))
    np.testing.assert_allclose(rv.numpy(), 0.75 + 0.25 * a.var(axis=(0, 2), ddof=1))
    before = rm.numpy().copy()
    batch_norm(x, rm, rv, training=False)
    np.testing.assert_array_equal(rm.numpy(), before)


def test_batch_norm_eval_formula():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((5, 3, 2))
    rm, rv = _running(3)
    w, b = _params(3, True)
    y = batch_norm(ember.tensor(a), rm, rv, w, b, eps=1e-3)
    sh = (1, 3, 1)
    expect = (a - rm.numpy().reshape(sh)) / np.sqrt(rv.numpy().reshape(sh) + 1e-3) * w.detach().numpy().reshape(sh) \
        + b.detach().numpy().reshape(sh)
    np.testing.assert_allclose(y.detach().numpy(), expect, rtol=1e-12)


# --- PyTorch comparisons --------------------------------------------------------------------------------------------

def _torch_pair(shape, c, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal(shape) * 2 + 0.5).astype(dtype)
    w = rng.uniform(0.5, 1.5, c).astype(dtype)
    b = rng.standard_normal(c).astype(dtype)
    go = rng.standard_normal(shape).astype(dtype)
    e = [ember.tensor(v, requires_grad=True) for v in (a, w, b)]
    return e, ember.tensor(go), (a, w, b, go)


def _compare(torch, e_out, t_out, e_in, t_in, go, rtol=1e-4, atol=1e-5):
    assert_close(e_out, t_out, rtol=rtol, atol=atol)
    e_out.backward(go)
    t_out.backward(torch.tensor(go.numpy()))
    for ei, ti in zip(e_in, t_in):
        assert_close(ei.grad, ti.grad, rtol=rtol, atol=atol)


@pytest.mark.parametrize("shape", [(16, 4), (8, 4, 6), (4, 4, 3, 5)])
def test_batch_norm_matches_torch(shape, torch):
    F = torch.nn.functional
    c = shape[1]
    rm, rv = ember.zeros(c), ember.ones(c)
    trm, trv = torch.zeros(c), torch.ones(c)
    for step in range(3):
        e, go, (a, w, b, g) = _torch_pair(shape, c, seed=step)
        t = [torch.tensor(v, requires_grad=True) for v in (a, w, b)]
        ye = batch_norm(e[0], rm, rv, e[1], e[2], training=True, momentum=0.2)
        yt = F.batch_norm(t[0], trm, trv, t[1], t[2], training=True, momentum=0.2)
        _compare(torch, ye, yt, e, t, go)
        assert_close(rm, trm, rtol=1e-5, atol=1e-6)
        assert_close(rv, trv, rtol=1e-5, atol=1e-6)
    e, go, (a, w, b, g) = _torch_pair(shape, c, seed=9)
    t = [torch.tensor(v, requires_grad=True) for v in (a, w, b)]
    _compare(torch, batch_norm(e[0], rm, rv, e[1], e[2]), F.batch_norm(t[0], trm, trv, t[1], t[2]), e, t, go)


@pytest.mark.parametrize("op", ["layer", "rms"])
@pytest.mark.parametrize("needs", ["x", "w", "b", "wb", "xb"])
def test_layer_and_rms_norm_partial_requires_grad_match_torch(op, needs, torch):
    """Only some of input, weight, bias need gradients (the matrix-vector backward computes just those)."""
    F = torch.nn.functional
    rng = np.random.default_rng(4)
    arrays = [rng.normal(2.0, 3.0, size=(4, 6, 8)), rng.normal(size=8), rng.normal(size=8)]
    go = rng.normal(size=(4, 6, 8))
    if op == "rms":
        arrays, needs = arrays[:2], needs.replace("b", "")
        if not needs:
            pytest.skip("rms_norm has no bias")
    flags = ["x" in needs, "w" in needs, "b" in needs]
    e = [ember.tensor(a, requires_grad=f) for a, f in zip(arrays, flags)]
    t = [torch.tensor(a, requires_grad=f) for a, f in zip(arrays, flags)]
    if op == "layer":
        ye, yt = layer_norm(e[0], (8,), *e[1:]), F.layer_norm(t[0], (8,), *t[1:])
    else:
        ye, yt = rms_norm(e[0], (8,), e[1]), F.rms_norm(t[0], (8,), t[1])
    ye.backward(ember.tensor(go))
    yt.backward(torch.tensor(go))
    for a, b, f in zip(e, t, flags):
        assert (a.grad is None) == (not f)
        if f:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_layer_and_rms_norm_match_torch(torch):
    F = torch.nn.functional
    e, go, (a, w, b, g) = _torch_pair((3, 5, 8), 8)
    t = [torch.tensor(v, requires_grad=True) for v in (a, w, b)]
    _compare(torch, layer_norm(e[0], (8,), e[1], e[2], eps=1e-3), F.layer_norm(t[0], (8,), t[1], t[2], eps=1e-3),
             e, t, go)
    e, go, (a, w, b, g) = _torch_pair((3, 5, 8), 8, seed=1)
    t = [torch.tensor(v, requires_grad=True) for v in (a, w, b)]
    _compare(torch, rms_norm(e[0], (8,), e[1]), F.rms_norm(t[0], (8,), t[1]), e[:2], t[:2], go)
    x = rand64(2, 3, 4)
    tx = to_torch(x, torch)
    go = rand64(2, 3, 4, requires_grad=False, seed=2)
    _compare(torch, layer_norm(x, (3, 4)), F.layer_norm(tx, (3, 4)), [x], [tx], go, rtol=1e-10, atol=1e-12)


def test_group_norm_matches_torch(torch):
    F = torch.nn.functional
    e, go, (a, w, b, g) = _torch_pair((2, 6, 3, 2), 6)
    t = [torch.tensor(v, requires_grad=True) for v in (a, w, b)]
    _compare(torch, group_norm(e[0], 3, e[1], e[2]), F.group_norm(t[0], 3, t[1], t[2]), e, t, go)


def test_instance_norm_matches_torch(torch):
    F = torch.nn.functional
    rm, rv = ember.zeros(4), ember.ones(4)
    trm, trv = torch.zeros(4), torch.ones(4)
    for step in range(2):
        e, go, (a, w, b, g) = _torch_pair((3, 4, 5), 4, seed=step)
        t = [torch.tensor(v, requires_grad=True) for v in (a, w, b)]
        _compare(torch, instance_norm(e[0], rm, rv, e[1], e[2], momentum=0.3),
                 F.instance_norm(t[0], trm, trv, t[1], t[2], momentum=0.3), e, t, go)
        assert_close(rm, trm)
        assert_close(rv, trv)
    e, go, (a, w, b, g) = _torch_pair((3, 4, 5), 4, seed=5)
    t = [torch.tensor(v, requires_grad=True) for v in (a, w, b)]
    _compare(torch, instance_norm(e[0], rm, rv, e[1], e[2], use_input_stats=False),
             F.instance_norm(t[0], trm, trv, t[1], t[2], use_input_stats=False), e, t, go)


def test_local_response_norm_matches_torch(torch):
    x = rand64(2, 6, 3, 2)
    tx = to_torch(x, torch)
    go = rand64(2, 6, 3, 2, requires_grad=False, seed=3)
    _compare(torch, local_response_norm(x, 3, alpha=0.1, k=2.0),
             torch.nn.functional.local_response_norm(tx, 3, alpha=0.1, k=2.0), [x], [tx], go, rtol=1e-10, atol=1e-12)


def test_double_backward_matches_torch(torch):
    F = torch.nn.functional
    x, w, b = rand64(4, 3, 2), rand64(3, seed=1), rand64(3, seed=2)
    tx, tw, tb = (to_torch(v, torch) for v in (x, w, b))
    gx, = ember.autograd.grad(batch_norm(x, None, None, w, b, training=True).pow(2).sum(), [x], create_graph=True)
    tgx, = torch.autograd.grad(F.batch_norm(tx, None, None, tw, tb, training=True).pow(2).sum(), [tx],
                               create_graph=True)
    (gx * gx).sum().backward()
    (tgx * tgx).sum().backward()
    for e, t in ((x, tx), (w, tw), (b, tb)):
        assert_close(e.grad, t.grad, rtol=1e-8, atol=1e-10)


# --- errors -------------------------------------------------------------------------------------------------------

def test_batch_norm_errors():
    x = ember.randn(4, 16, 5)
    with pytest.raises(RuntimeError, match=r"batch_norm: running_mean should contain 16 elements not 8"):
        batch_norm(x, ember.zeros(8), ember.ones(16), training=True)
    with pytest.raises(RuntimeError, match=r"batch_norm: running_var should contain 16 elements not 8"):
        batch_norm(x, ember.zeros(16), ember.ones(8))
    with pytest.raises(RuntimeError, match=r"batch_norm: weight should contain 16 elements not 3"):
        batch_norm(x, None, None, ember.ones(3), training=True)
    with pytest.raises(RuntimeError, match=r"batch_norm: bias should contain 16 elements not 3"):
        batch_norm(x, None, None, None, ember.ones(3), training=True)
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training, got input size "
                                         r"\(1, 4\)"):
        batch_norm(ember.randn(1, 4), None, None, training=True)
    with pytest.raises(RuntimeError, match="batch_norm: running_mean must be defined in evaluation mode"):
        batch_norm(x, None, None, training=False)
    with pytest.raises(RuntimeError, match="batch_norm: mixed dtype: input is ember.float64 but running_mean is "
                                           "ember.float32"):
        batch_norm(x.double(), ember.zeros(16), ember.ones(16, dtype=ember.float64))
    with pytest.raises(ValueError, match=r"batch_norm: .*at least 2 dimensions, got shape \(4,\)"):
        batch_norm(ember.randn(4), None, None, training=True)
    with pytest.raises(TypeError, match="momentum"):
        batch_norm(x, ember.zeros(16), ember.ones(16), training=True, momentum=None)
    with pytest.raises(RuntimeError, match="batch_norm: expected a floating-point input, got ember.int64"):
        batch_norm(ember.tensor([[1, 2], [3, 4]]), None, None, training=True)


def test_batch_norm_error_leaves_running_stats_alone():
    rm, rv = ember.zeros(4), ember.ones(4)
    with pytest.raises(RuntimeError):
        batch_norm(ember.randn(3, 4), rm, rv, ember.ones(5), training=True)
    assert rm.numpy().tolist() == [0.0] * 4 and rv.numpy().tolist() == [1.0] * 4


def test_layer_and_rms_norm_errors():
    x = ember.randn(2, 3, 10)
    with pytest.raises(RuntimeError, match=r"layer_norm: Given normalized_shape=\[8\], expected input with shape "
                                           r"\[\*, 8\], but got input of size \[2, 3, 10\]"):
        layer_norm(x, (8,))
    with pytest.raises(RuntimeError, match=r"layer_norm: Expected weight to be of same shape as normalized_shape, "
                                           r"but got weight of shape \[3\] and normalized_shape = \[10\]"):
        layer_norm(x, 10, ember.ones(3))
    with pytest.raises(RuntimeError, match=r"layer_norm: Expected bias to be of same shape"):
        layer_norm(x, 10, None, ember.ones(3))
    with pytest.raises(RuntimeError, match=r"layer_norm: Given normalized_shape=\[2, 10\]"):
        layer_norm(ember.randn(10), (2, 10))
    with pytest.raises(RuntimeError, match=r"rms_norm: Given normalized_shape=\[4\]"):
        rms_norm(x, (4,))
    with pytest.raises(RuntimeError, match=r"rms_norm: Expected weight to be of same shape"):
        rms_norm(x, (10,), ember.ones(4))
    with pytest.raises(TypeError, match="normalized_shape"):
        layer_norm(x, None)


def test_group_and_instance_norm_errors():
    with pytest.raises(RuntimeError, match=r"group_norm: Expected number of channels in input to be divisible by "
                                           r"num_groups, but got input of shape \[2, 6, 4\] and num_groups=4"):
        group_norm(ember.randn(2, 6, 4), 4)
    with pytest.raises(RuntimeError, match=r"group_norm: Expected weight to be a vector of size equal to the number "
                                           r"of channels in input, but got weight of shape \[5\] and input of shape "
                                           r"\[2, 6, 4\]"):
        group_norm(ember.randn(2, 6, 4), 3, ember.ones(5))
    with pytest.raises(RuntimeError, match="group_norm: Expected at least 2 dimensions for input tensor but "
                                           "received 1"):
        group_norm(ember.randn(6), 3)
    with pytest.raises(ValueError, match=r"instance_norm: Expected more than 1 spatial element when training, got "
                                         r"input size \(2, 6, 1\)"):
        instance_norm(ember.randn(2, 6, 1))
    with pytest.raises(RuntimeError, match="instance_norm: running_mean should contain 6 elements not 5"):
        instance_norm(ember.randn(2, 6, 4), ember.zeros(5), ember.ones(6))
    with pytest.raises(RuntimeError, match="instance_norm: weight should contain 6 elements not 5"):
        instance_norm(ember.randn(2, 6, 4), None, None, ember.ones(5))
    with pytest.raises(RuntimeError, match="instance_norm: Expected running_mean and running_var to be defined"):
        instance_norm(ember.randn(2, 6, 4), use_input_stats=False)
    with pytest.raises(ValueError, match=r"local_response_norm: Expected 3D or higher dimensionality input"):
        local_response_norm(ember.randn(2, 6), 2)


def _cn(a):
    """a (N, C, ...) as a view of (C, N, ...) memory: a non-contiguous input laid out channel-major."""
    return np.ascontiguousarray(np.swapaxes(a, 0, 1)).swapaxes(0, 1)


NORM_LAYOUT_CASES = {
    "batch_norm_4d": (lambda F, x, w, b: F.batch_norm(x, None, None, w, b, training=True), (2, 3, 4, 5), 3),
    "batch_norm_3d": (lambda F, x, w, b: F.batch_norm(x, None, None, w, b, training=True), (2, 3, 5), 3),
    "batch_norm_2d": (lambda F, x, w, b: F.batch_norm(x, None, None, w, b, training=True), (4, 3), 3),
    "batch_norm_eval": (lambda F, x, w, b: F.batch_norm(x, w.detach() * 0.1, w.detach().abs() + 0.5, w, b),
                        (2, 3, 4, 5), 3),
    "instance_norm": (lambda F, x, w, b: F.instance_norm(x, weight=w, bias=b), (2, 3, 4, 5), 3),
    "group_norm": (lambda F, x, w, b: F.group_norm(x, 3, w, b), (2, 6, 4, 5), 6),
    "layer_norm": (lambda F, x, w, b: F.layer_norm(x, (5,), w, b), (2, 3, 4, 5), 5),
}


@pytest.mark.parametrize("cn", [False, True], ids=["contiguous", "channel_major_input"])
@pytest.mark.parametrize("case", sorted(NORM_LAYOUT_CASES))
def test_norm_layouts_match_torch(case, cn, torch):
    """Outputs and gradients are laid out as PyTorch's (C-contiguous, the same strides), whatever the input's
    layout: no internal layout reaches the user (a view works on the output), and values agree."""
    fn, shape, c = NORM_LAYOUT_CASES[case]
    rng = np.random.default_rng(8)
    arrays = [rng.normal(size=shape), rng.normal(size=c), rng.normal(size=c)]
    if cn:
        arrays[0] = _cn(arrays[0])
    ours = [ember.from_numpy(a).requires_grad_() for a in arrays]
    theirs = [torch.from_numpy(a).requires_grad_() for a in arrays]
    seen = {}
    ours[0].register_hook(lambda g: seen.setdefault("ember", g))  # the gradient as the norm hands it back
    theirs[0].register_hook(lambda g: seen.setdefault("torch", g))
    y, ty = fn(ember.nn.functional, *ours), fn(torch.nn.functional, *theirs)
    assert y.is_contiguous() and y.stride() == ty.stride()
    assert y.view(-1).shape == (y.numel(),)
    g = rng.normal(size=shape)
    y.backward(ember.tensor(g))
    ty.backward(torch.tensor(g))
    assert seen["ember"].is_contiguous() and seen["ember"].stride() == seen["torch"].stride()
    assert_close(y, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    for t, tt in zip(ours, theirs):
        assert_close(t.grad, tt.grad.numpy(), rtol=1e-9, atol=1e-11)
        if not cn:
            assert t.grad.stride() == tt.grad.stride()
