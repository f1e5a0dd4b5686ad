"""nn.utils.weight_norm / remove_weight_norm (the forward pre-hook form): parameters, state_dict keys, outputs and
every gradient against PyTorch after copying the state by name (float64), gradcheck of the weight, removal, errors,
and an MLP of weight-normed layers (this form and nn.utils.parametrizations.weight_norm) that learns."""
import copy
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn
from ember.autograd import gradcheck
from ember.nn.utils import remove_weight_norm, weight_norm
from ember.nn.utils.stateless import functional_call
from ember.nn.utils.weight_norm import WeightNorm, weight_norm_of
from helpers import assert_close, rand64


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return fn(*args, **kwargs)


def _pair(torch, kind, dim):
    """(ember module, torch module), float64, weight-normed on the same dim, the torch state copied by name."""
    make = {"linear": (lambda lib: lib.nn.Linear(4, 3), (5, 4)),
            "conv1d": (lambda lib: lib.nn.Conv1d(2, 3, 3), (2, 2, 6)),
            "conv2d": (lambda lib: lib.nn.Conv2d(2, 3, (2, 3)), (2, 2, 5, 5))}[kind]
    tm = _quiet(torch.nn.utils.weight_norm, make[0](torch).double(), dim=dim)
    em = _quiet(weight_norm, make[0](ember).double(), dim=dim)
    em.load_state_dict({k: ember.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    return em, tm, make[1]


@pytest.mark.parametrize("kind, dim", [("linear", 0), ("linear", 1), ("linear", None), ("linear", -1),
                                       ("conv1d", 0), ("conv1d", 2), ("conv2d", 0), ("conv2d", 1), ("conv2d", -2),
                                       ("conv2d", None)])
def test_weight_norm_matches_torch(kind, dim, torch):
    em, tm, shape = _pair(torch, kind, dim)
    assert list(em.state_dict()) == list(tm.state_dict())
    assert [n for n, _ in em.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert tuple(em.weight_g.shape) == tuple(tm.weight_g.shape)
    x = np.random.default_rng(1).standard_normal(shape)
    ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    eo, to = em(ex), tm(tx)
    assert_close(eo, to, rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(2).standard_normal(tuple(to.shape))
    eo.backward(ember.tensor(g))
    to.backward(torch.tensor(g))
    assert_close(ex.grad, tx.grad, rtol=1e-10, atol=1e-12)
    for (name, p), (_, tp) in zip(em.named_parameters(), tm.named_parameters()):
        assert_close(p.grad, tp.grad, rtol=1e-10, atol=1e-12), name


def test_weight_is_a_plain_attribute_recomputed_before_each_forward():
    with pytest.warns(FutureWarning, match="deprecated in favor of"):
        m = weight_norm(nn.Linear(4, 3))
    assert not isinstance(m.weight, nn.Parameter) and "weight" not in m._parameters
    assert m.weight.requires_grad and m.weight.grad_fn is not None
    assert tuple(m.weight_g.shape) == (3, 1) and tuple(m.weight_v.shape) == (3, 4)
    with ember.no_grad():
        m.weight_g.mul_(2.0)
    x = ember.randn(2, 4)
    expected = F.linear(x, 2 * m.weight_v.detach(), m.bias.detach())  # g was ||v||: twice that is 2 v
    assert_close(m(x), expected.numpy(), rtol=1e-5, atol=1e-6)
    assert_close(m.weight, 2 * m.weight_v.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_initial_weight_is_unchanged():
    layer = nn.Conv2d(2, 4, 3)
    before = layer.weight.detach().numpy().copy()
    m = _quiet(weight_norm, layer, dim=1)
    np.testing.assert_allclose(m.weight.detach().numpy(), before, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(m.weight_v.detach().numpy(), before)


@pytest.mark.parametrize("shape, dim", [((3, 4), 0), ((3, 4), 1), ((3, 4), -1), ((2, 3, 4), 1), ((2, 3, 4), -2),
                                        ((2, 3, 4), 2), ((5,), 0)])
def test_weight_norm_gradcheck(shape, dim):
    v = rand64(*shape, seed=3)
    g_shape = () if dim == -1 else tuple(s if d == dim % len(shape) else 1 for d, s in enumerate(shape))
    g = rand64(*g_shape, seed=4) if g_shape else ember.tensor(0.7, dtype=ember.float64, requires_grad=True)
    assert gradcheck(lambda g, v: weight_norm_of(v, g, dim), (g, v))


def test_weight_norm_gradcheck_through_the_module():
    m = _quiet(weight_norm, nn.Linear(3, 2).double())
    x = rand64(4, 3, seed=5)
    g, v = rand64(2, 1, seed=6), rand64(2, 3, seed=7)
    assert gradcheck(lambda g, v, x: functional_call(m, {"weight_g": g, "weight_v": v}, (x,)), (g, v, x))


def test_remove_weight_norm_restores_a_parameter_with_the_current_value(torch):
    em, tm, shape = _pair(torch, "conv2d", 0)
    with ember.no_grad():
        em.weight_g.mul_(1.5)
    with torch.no_grad():
        tm.weight_g.mul_(1.5)
    expected = weight_norm_of(em.weight_v, em.weight_g, 0).detach().numpy()
    hooks = len(em._forward_pre_hooks)
    assert remove_weight_norm(em) is em
    torch.nn.utils.remove_weight_norm(tm)
    assert isinstance(em.weight, nn.Parameter) and em.weight.is_leaf and em.weight.requires_grad
    np.testing.assert_allclose(em.weight.detach().numpy(), expected, rtol=1e-12)
    assert_close(em.weight, tm.weight, rtol=1e-12, atol=1e-14)
    assert list(em.state_dict()) == list(tm.state_dict()) == ["bias", "weight"]
    assert len(em._forward_pre_hooks) == hooks - 1 and not hasattr(em, "weight_g")
    x = np.random.default_rng(0).standard_normal(shape)
    assert_close(em(ember.tensor(x)), tm(torch.tensor(x)), rtol=1e-12, atol=1e-12)


def test_two_names_and_removing_one():
    m = _quiet(weight_norm, nn.Linear(3, 3))
    m = _quiet(weight_norm, m, name="bias")
    assert tuple(m.bias_g.shape) == (3,)  # a vector: g is its absolute value
    np.testing.assert_allclose(m.bias_g.detach().numpy(), np.abs(m.bias_v.detach().numpy()), rtol=1e-6)
    remove_weight_norm(m, "bias")
    assert isinstance(m.bias, nn.Parameter) and isinstance(m.weight_g, nn.Parameter)
    assert [type(h) for h in m._forward_pre_hooks.values()] == [WeightNorm]


def test_weight_norm_errors(torch):
    m = _quiet(weight_norm, nn.Linear(3, 2))
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks on the same parameter weight"):
        _quiet(weight_norm, m)
    with pytest.raises(ValueError, match="weight_norm of 'bias' not found in Linear"):
        remove_weight_norm(m, "bias")
    msg = "weight_norm of 'weight' not found in Linear\\(in_features=3, out_features=2, bias=True\\)"
    with pytest.raises(ValueError, match=msg):
        remove_weight_norm(nn.Linear(3, 2))
    with pytest.raises(ValueError, match=msg):
        torch.nn.utils.remove_weight_norm(torch.nn.Linear(3, 2))
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'foo'"):
        _quiet(weight_norm, nn.Linear(3, 2), name="foo")
    with pytest.raises(TypeError, match="norm_except_dim\\(\\): argument 'v' \\(position 1\\) must be Tensor, not "
                                        "NoneType"):
        _quiet(weight_norm, nn.Linear(3, 2, bias=False), name="bias")
    conv = nn.Conv2d(2, 3, 3)
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-4, 3\], but got 5\)"):
        _quiet(weight_norm, conv, dim=5)
    assert isinstance(conv.weight, nn.Parameter) and not conv._forward_pre_hooks  # raised before any change


def test_deepcopy_and_state_dict_round_trip():
    m = _quiet(weight_norm, nn.Linear(3, 2))
    clone = copy.deepcopy(m)
    x = ember.randn(4, 3)
    assert_close(clone(x), m(x).detach().numpy())
    other = _quiet(weight_norm, nn.Linear(3, 2))
    other.load_state_dict(m.state_dict())
    assert_close(other(x), m(x).detach().numpy())


def _moons(n, rng):
    t = rng.uniform(0, np.pi, n)
    y = rng.integers(0, 2, n)
    x = np.stack([np.cos(t) + y * 1.0 - 0.5, np.sin(t) * (1 - 2 * y) + y * 0.5 - 0.25], 1)
    return x + 0.08 * rng.standard_normal((n, 2)), y


@pytest.mark.parametrize("api", ["hook", "parametrization"])
def test_weight_normed_mlp_learns(api):
    rng = np.random.default_rng(0)
    x, y = _moons(512, rng)
    x, y = ember.tensor(x, dtype=ember.float32), ember.tensor(y)
    norm = (lambda m: _quiet(weight_norm, m)) if api == "hook" else nn.utils.parametrizations.weight_norm
    model = nn.Sequential(norm(nn.Linear(2, 32)), nn.Tanh(), norm(nn.Linear(32, 32)), nn.Tanh(),
                          norm(nn.Linear(32, 2)))
    opt = ember.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(150):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    accuracy = (model(x).argmax(1) == y).float().mean().item()
    assert accuracy > 0.97, accuracy
