"""nn.functional activations, softmax family, dropout, embedding, one_hot and distances: gradcheck (float64),
double backward, PyTorch comparison of values and gradients, and errors."""
import math

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.autograd import gradcheck, gradgradcheck
from helpers import rand64


def away_from(*shape, kinks=(0.0,), low=-3.0, high=3.0, seed=0, requires_grad=True):
    """float64 values in [low, high] at least 0.05 away from each kink (where gradients are discontinuous)."""
    rng = np.random.default_rng(seed)
    v = rng.uniform(low, high, size=shape)
    for k in kinks:
        close = np.abs(v - k) < 0.05
        v[close] = k + np.where(v[close] >= k, 0.05, -0.05)
    return ember.tensor(v, dtype=ember.float64, requires_grad=requires_grad)


# --- gradcheck --------------------------------------------------------------------------------------------------

# name -> (function, kinks of its derivative, input range)
POINTWISE = {
    "gelu": (lambda x: F.gelu(x), (), 3),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), (), 3),
    "silu": (F.silu, (), 3),
    "mish": (F.mish, (), 3),
    "softplus": (F.softplus, (), 3),
    "softplus_beta": (lambda x: F.softplus(x, beta=2.0, threshold=3.0), (1.5,), 3),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), (0.0,), 3),
    "elu": (lambda x: F.elu(x, 0.7), (0.0,), 3),
    "selu": (F.selu, (0.0,), 3),
    "celu": (lambda x: F.celu(x, 1.5), (0.0,), 3),
    "relu6": (F.relu6, (0.0, 6.0), 8),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 1.5), (-0.5, 1.5), 3),
    "hardswish": (F.hardswish, (-3.0, 3.0), 5),
    "hardsigmoid": (F.hardsigmoid, (-3.0, 3.0), 5),
    "logsigmoid": (F.logsigmoid, (), 3),
    "softsign": (F.softsign, (0.0,), 3),
    "tanhshrink": (F.tanhshrink, (), 3),
    "threshold": (lambda x: F.threshold(x, 0.3, -2.0), (0.3,), 3),
}


@pytest.mark.parametrize("name", sorted(POINTWISE))
def test_gradcheck_pointwise(name):
    fn, kinks, r = POINTWISE[name]
    assert gradcheck(fn, [away_from(3, 4, kinks=kinks, low=-r, high=r)])


@pytest.mark.parametrize("name", ["gelu", "gelu_tanh", "silu", "softplus", "elu", "celu", "logsigmoid", "mish",
                                  "hardswish", "leaky_relu"])
def test_gradgradcheck_pointwise(name):
    fn, kinks, r = POINTWISE[name]
    assert gradgradcheck(fn, [away_from(2, 3, kinks=kinks + (-3.0, 3.0), low=-r, high=r)])


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax, F.softmin])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_gradcheck_softmax(fn, dim):
    assert gradcheck(lambda x: fn(x, dim), [rand64(2, 3, 4, low=-3, high=3)])


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax])
@pytest.mark.parametrize("dim", [0, -1])
def test_gradgradcheck_softmax(fn, dim):
    assert gradgradcheck(lambda x: fn(x, dim), [rand64(2, 3, low=-3, high=3)])


def test_gradcheck_glu_prelu():
    assert gradcheck(lambda x: F.glu(x, 1), [rand64(2, 4, 3)])
    assert gradcheck(lambda x: F.glu(x, -1), [rand64(3, 2)])
    x = away_from(2, 3, 4)
    w = rand64(3, low=0.1, high=0.5)
    assert gradcheck(F.prelu, [x, w])
    assert gradcheck(F.prelu, [away_from(5), rand64(1)])
    assert gradgradcheck(F.prelu, [away_from(2, 3), rand64(3)])


def test_normalize_writes_out():
    x = ember.tensor([[3.0, 4.0], [0.0, 2.0]])
    out = ember.zeros(2, 2)
    assert F.normalize(x, out=out) is out
    np.testing.assert_allclose(out.numpy(), [[0.6, 0.8], [0.0, 1.0]], rtol=1e-6)
    with pytest.raises(RuntimeError, match="out=... arguments don't support automatic differentiation"):
        F.normalize(x.requires_grad_(), out=out)
    with ember.no_grad(), pytest.raises(RuntimeError, match=r"out has shape \(3,\) .* the result has shape \(2, 2\)"):
        F.normalize(x, out=ember.zeros(3))


def test_gradcheck_distances():
    a, b = rand64(3, 4), rand64(3, 4, seed=7)
    assert gradcheck(lambda x: F.normalize(x, dim=1), [a])
    assert gradcheck(lambda x: F.normalize(x, p=1.5, dim=0), [a])
    assert gradcheck(lambda x, y: F.cosine_similarity(x, y, dim=1), [a, b])
    assert gradcheck(lambda x, y: F.cosine_similarity(x, y, dim=0), [a, rand64(1, 4, seed=3)])
    assert gradcheck(lambda x, y: F.pairwise_distance(x, y), [a, b])
    assert gradcheck(lambda x, y: F.pairwise_distance(x, y, p=3.0, keepdim=True), [a, b])
    assert gradcheck(lambda x, y: F.pairwise_distance(x, y, p=1.0), [a, b])


def test_gradcheck_embedding():
    idx = ember.tensor([[0, 2, 2], [4, 1, 0]])
    w = rand64(5, 3)
    assert gradcheck(lambda w: F.embedding(idx, w), [w])
    # (padding_idx and scale_grad_by_freq are left out: by definition their gradient is not the derivative; they
    # are compared with PyTorch below)
    assert gradgradcheck(lambda w: F.embedding(idx, w) ** 2, [w])
    for kw in ({"padding_idx": 0}, {"scale_grad_by_freq": True}, {"padding_idx": 2, "scale_grad_by_freq": True}):
        # the weight gradient is linear in the output gradient: check that map's own gradient (double backward)
        def weight_grad(go, kw=kw):
            with ember.enable_grad():  # gradcheck evaluates under no_grad
                return ember.autograd.grad(F.embedding(idx, w, **kw), w, go, create_graph=True)[0]

        assert gradcheck(weight_grad, [rand64(2, 3, 3)])


def test_gradcheck_dropout_with_fixed_mask():
    x = rand64(4, 5)

    def f(x):
        ember.manual_seed(3)  # the same mask at every evaluation
        return F.dropout(x, 0.4)

    assert gradcheck(f, [x])
    assert gradgradcheck(lambda x: f(x) ** 2, [x])


# --- values and gradients against PyTorch ---------------------------------------------------------------------

def _both(torch, *arrays):
    """ember float64 leaves and torch float64 leaves holding the same values."""
    em = [ember.tensor(a, dtype=ember.float64, requires_grad=True) for a in arrays]
    th = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    return em, th


def compare(torch, fe, ft, *arrays, rtol=1e-7, atol=1e-9, grad=True):
    """Compare fe(ember inputs) and ft(torch inputs): values, then gradients for a random upstream gradient."""
    em, th = _both(torch, *arrays)
    oe, ot = fe(*em), ft(*th)
    np.testing.assert_allclose(oe.detach().numpy(), ot.detach().numpy(), rtol=rtol, atol=atol)
    assert tuple(oe.shape) == tuple(ot.shape)
    if not grad:
        return oe, ot
    go = np.random.default_rng(1).standard_normal(tuple(ot.shape))
    oe.backward(ember.tensor(go, dtype=ember.float64))
    ot.backward(torch.tensor(go, dtype=torch.float64))
    for e, t in zip(em, th):
        if t.grad is None:
            assert e.grad is None or np.all(e.grad.numpy() == 0)
        else:
            np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)
    return oe, ot


def _grid(low=-5, high=5):
    x = np.random.default_rng(0).uniform(low, high, size=(4, 6))
    x[0, :6] = [0.0, -3.0, 3.0, 6.0, 20.0, -20.0]  # boundaries of the piecewise functions
    return x


POINTWISE_TORCH = [
    ("gelu", {}), ("gelu", {"approximate": "tanh"}), ("silu", {}), ("mish", {}), ("softplus", {}),
    ("softplus", {"beta": 2.0, "threshold": 5.0}), ("softplus", {"beta": 0.5}), ("leaky_relu", {}),
    ("leaky_relu", {"negative_slope": 0.3}), ("elu", {}), ("elu", {"alpha": 0.5}), ("selu", {}), ("celu", {}),
    ("celu", {"alpha": 2.0}), ("relu6", {}), ("hardtanh", {}), ("hardtanh", {"min_val": -2.0, "max_val": 3.0}),
    ("hardswish", {}), ("hardsigmoid", {}), ("logsigmoid", {}), ("softsign", {}), ("tanhshrink", {}),
    ("threshold", {"threshold": 0.5, "value": -1.0}), ("threshold", {"threshold": 3.0, "value": 7.0}),
]


@pytest.mark.parametrize("name,kw", POINTWISE_TORCH, ids=[f"{n}-{k}" for n, k in POINTWISE_TORCH])
def test_pointwise_vs_torch(name, kw, torch):
    tf = getattr(torch.nn.functional, name)
    compare(torch, lambda x: getattr(F, name)(x, **kw), lambda x: tf(x, **kw), _grid())


@pytest.mark.parametrize("name", ["gelu", "silu", "elu", "leaky_relu", "hardswish", "softplus", "logsigmoid"])
def test_pointwise_float32_vs_torch(name, torch):
    x = _grid().astype(np.float32)
    out = getattr(F, name)(ember.tensor(x))
    ref = getattr(torch.nn.functional, name)(torch.tensor(x))
    assert out.dtype == ember.float32
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)


def _gelu_points(n=70000):
    """float32 values over GELU's whole range (more than one evaluation block), with the special ones."""
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0, 3, n), rng.uniform(-12, 12, 2000),
                        [0.0, -0.0, 1e-30, -1e-30, 5.5, -5.5, 9.0, -9.0, 50.0, -50.0, 1e30, -1e30]])
    return x.astype(np.float32)


def test_gelu_float32_fast_path_vs_torch(torch):
    """Large float32 inputs take the blocked tanh-polynomial path: values and gradients match PyTorch."""
    x = _gelu_points()
    go = np.random.default_rng(2).normal(size=x.shape).astype(np.float32)
    xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ye, yt = F.gelu(xe), torch.nn.functional.gelu(xt)
    ye.backward(ember.tensor(go))
    yt.backward(torch.tensor(go))
    assert ye.dtype == ember.float32 and xe.grad.dtype == ember.float32
    # PyTorch's own float32 GELU is off by up to about 1e-6 near x = -3.5
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=2e-6)
    xd = x.astype(np.float64)
    exact = xd * 0.5 * (1 + np.vectorize(math.erf)(xd / math.sqrt(2)))
    ok = np.abs(xd) < 1e6
    np.testing.assert_allclose(ye.detach().numpy()[ok], exact[ok], rtol=2e-7, atol=6e-7)


def test_gelu_float32_fast_path_special_values_and_layouts():
    x = np.array([np.nan, np.inf, -np.inf] + [0.5] * 2000, dtype=np.float32)
    y = F.gelu(ember.tensor(x)).numpy()
    assert np.isnan(y[0]) and y[1] == np.inf and np.isnan(y[2])
    big = _gelu_points().reshape(-1, 2)  # a non-contiguous column goes through the same path
    col = ember.tensor(big)[:, 1]
    np.testing.assert_array_equal(F.gelu(col).numpy(), F.gelu(ember.tensor(big[:, 1].copy())).numpy())
    small = big[:100, 1].copy()  # below the block path's size: the rational erf; both within float32 rounding
    np.testing.assert_allclose(F.gelu(ember.tensor(small)).numpy(), F.gelu(col).numpy()[:100], rtol=2e-6,
                               atol=6e-7)


def test_gelu_float32_fast_path_double_backward():
    """The derivative kept by the float32 forward feeds GeluGrad, whose backward gives the second derivative."""
    pts = _gelu_points(3000)
    x = ember.tensor(pts[np.abs(pts) < 100], requires_grad=True)
    g, = ember.autograd.grad(F.gelu(x).sum(), [x], create_graph=True)
    gg, = ember.autograd.grad(g.sum(), [x])
    xd = x.detach().numpy().astype(np.float64)
    pdf = np.exp(-xd * xd / 2) / np.sqrt(2 * np.pi)
    expected = np.where(np.abs(xd) < 30, pdf * (2 - xd * xd), 0.0)  # d2/dx2 of x Phi(x)
    np.testing.assert_allclose(gg.numpy(), expected, atol=2e-6)


@pytest.mark.parametrize("name, kw", [("gelu", {}), ("gelu", {"approximate": "tanh"}), ("softmax", {"dim": 1}),
                                      ("log_softmax", {"dim": 1}), ("log_softmax", {"dim": 0})])
def test_second_derivatives_vs_torch(name, kw, torch):
    """The gradient nodes' backwards (GeluGrad, SoftmaxGrad, LogSoftmaxGrad): gradients of the input gradient with
    respect to the input and to the output gradient, and a third derivative, against PyTorch."""
    rng = np.random.default_rng(5)
    x, go, ggo = (rng.uniform(-4, 4, (3, 5)) for _ in range(3))
    (xe, ge), (xt, gt) = _both(torch, x, go)
    fe, ft = getattr(F, name), getattr(torch.nn.functional, name)
    dxe, = ember.autograd.grad(fe(xe, **kw), [xe], [ge], create_graph=True)
    dxt, = torch.autograd.grad(ft(xt, **kw), [xt], [gt], create_graph=True)
    second_e = ember.autograd.grad(dxe, [xe, ge], [ember.tensor(ggo)], create_graph=True)
    second_t = torch.autograd.grad(dxt, [xt, gt], [torch.tensor(ggo)], create_graph=True)
    for a, b in zip(second_e, second_t):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-9, atol=1e-12)
    third_e, = ember.autograd.grad((second_e[0] * second_e[0]).sum(), [xe])
    third_t, = torch.autograd.grad((second_t[0] * second_t[0]).sum(), [xt])
    np.testing.assert_allclose(third_e.numpy(), third_t.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("dim", [0, 1, -1, -3])
def test_softmax_vs_torch(name, dim, torch):
    x = np.random.default_rng(2).normal(0, 3, size=(2, 3, 4))
    compare(torch, lambda t: getattr(F, name)(t, dim), lambda t: getattr(torch.nn.functional, name)(t, dim), x)


def test_softmax_dtype_argument_and_method():
    x = ember.tensor([[1.0, 2.0, 3.0]])
    assert F.softmax(x, 1, dtype=ember.float64).dtype == ember.float64
    assert F.log_softmax(x, -1, dtype=ember.float64).dtype == ember.float64
    np.testing.assert_allclose(x.softmax(1).numpy(), F.softmax(x, 1).numpy())
    np.testing.assert_allclose(x.log_softmax(-1).numpy(), F.log_softmax(x, -1).numpy())
    assert float(F.softmax(ember.tensor(2.0), 0)) == 1.0
    assert float(F.log_softmax(ember.tensor(2.0), -1)) == 0.0
    with pytest.warns(UserWarning, match="Implicit dimension"):
        F.softmax(x)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_stable_on_huge_logits(name, torch):
    x = np.array([[1e4, 0.0, -1e4, 1e4 - 1.0], [-1e4, -1e4 + 2.0, -1e4, -1e4]])
    oe, ot = compare(torch, lambda t: getattr(F, name)(t, 1), lambda t: getattr(torch.nn.functional, name)(t, 1), x)
    assert np.all(np.isfinite(oe.detach().numpy()))
    x32 = ember.tensor(x.astype(np.float32), requires_grad=True)
    y = getattr(F, name)(x32, 1)
    (y * ember.tensor(np.arange(8.0, dtype=np.float32).reshape(2, 4))).sum().backward()
    assert np.all(np.isfinite(y.detach().numpy())) and np.all(np.isfinite(x32.grad.numpy()))


def test_glu_prelu_vs_torch(torch):
    x = np.random.default_rng(3).normal(size=(2, 4, 3))
    for dim in (0, 1, -2):
        compare(torch, lambda t: F.glu(t, dim), lambda t: torch.nn.functional.glu(t, dim), x[:, :, :2] if dim == 0
                else x)
    w = np.array([0.25, -0.1, 0.5, 2.0])
    compare(torch, F.prelu, torch.nn.functional.prelu, x, w)
    compare(torch, F.prelu, torch.nn.functional.prelu, x, np.array([0.3]))
    compare(torch, F.prelu, torch.nn.functional.prelu, x[0, 0], np.array([0.3]))


def test_distances_vs_torch(torch):
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    tf = torch.nn.functional
    for p, dim in ((2.0, 1), (1.0, 0), (3.0, -1)):
        compare(torch, lambda x: F.normalize(x, p, dim), lambda x: tf.normalize(x, p, dim), a)
    for dim in (0, 1):
        compare(torch, lambda x, y: F.cosine_similarity(x, y, dim), lambda x, y: tf.cosine_similarity(x, y, dim), a, b)
    compare(torch, F.cosine_similarity, tf.cosine_similarity, a, b[:1])  # broadcasting
    compare(torch, lambda x, y: F.cosine_similarity(x, y, -1), lambda x, y: tf.cosine_similarity(x, y, -1), a,
            b[0])  # a vector against a batch of them
    for p in (1.0, 2.0, 3.0):
        for keepdim in (False, True):
            compare(torch, lambda x, y: F.pairwise_distance(x, y, p, keepdim=keepdim),
                    lambda x, y: tf.pairwise_distance(x, y, p, keepdim=keepdim), a, b)
    compare(torch, F.pairwise_distance, tf.pairwise_distance, a[0], b[0])


def test_zero_and_tiny_vectors_vs_torch(torch):
    tf = torch.nn.functional
    a = np.array([[1e-10, 0.0, 0.0], [1.0, 2.0, -1.0]])
    b = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    oe, _ = compare(torch, F.cosine_similarity, tf.cosine_similarity, a, b, rtol=1e-6)
    compare(torch, F.normalize, tf.normalize, b)
    compare(torch, F.pairwise_distance, tf.pairwise_distance, a, a)


# --- dropout --------------------------------------------------------------------------------------------------

def test_dropout_mask_statistics_and_scaling():
    x = ember.ones(200, 500)
    for p in (0.1, 0.5, 0.8):
        y = F.dropout(x, p).numpy()
        kept = y != 0
        assert abs(kept.mean() - (1 - p)) < 0.01
        np.testing.assert_allclose(y[kept], 1.0 / (1.0 - p), rtol=1e-6)
        assert abs(y.mean() - 1.0) < 0.03  # unbiased in expectation


def test_dropout_gradient_uses_the_same_mask():
    x = rand64(50, 40, low=0.5, high=1.5)
    y = F.dropout(x, 0.3)
    y.backward(ember.ones_like(y) * 2.0)
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * y.detach().numpy() / x.detach().numpy())


def test_dropout_eval_mode_and_edge_probabilities():
    x = rand64(3, 4)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    assert F.alpha_dropout(x, 0.5) is x  # training defaults to False
    y = F.dropout(x, 1.0)
    assert np.all(y.detach().numpy() == 0)
    y.sum().backward()
    assert np.all(x.grad.numpy() == 0)
    for fn in (F.dropout, F.alpha_dropout, F.dropout1d, F.dropout2d):
        with pytest.raises(ValueError, match="between 0 and 1"):
            fn(ember.ones(2, 3, 4), 1.5, True)


def test_dropout_inplace():
    x = ember.ones(20, 30)
    y = F.dropout(x, 0.5, inplace=True)
    assert y is x and set(np.unique(x.numpy())) <= {0.0, 2.0}
    a = rand64(10, 10, low=1, high=2)
    h = a * 1.0
    out = F.dropout(h, 0.5, inplace=True)
    out.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), (out.detach().numpy() != 0) * 2.0)


@pytest.mark.parametrize("fn, shape", [(F.dropout3d, (16, 2, 3, 3)), (F.dropout3d, (4, 16, 2, 3, 3))])
def test_dropout3d_inplace_writes_into_the_input_and_drops_whole_channels(fn, shape):
    x = ember.ones(*shape)
    y = fn(x, 0.5, inplace=True)
    assert y is x
    channels = x.numpy().reshape(-1, 18)  # one row per (sample,) channel
    assert np.all((channels == 0).all(1) | (channels == 2.0).all(1)) and (channels == 0).any()


@pytest.mark.parametrize("fn,shape", [(F.dropout1d, (8, 16, 5)), (F.dropout1d, (16, 5)), (F.dropout2d, (8, 16, 3, 3)),
                                      (F.dropout2d, (8, 16, 5))])
def test_channel_dropout_zeroes_whole_channels(fn, shape):
    x = ember.ones(*shape)
    y = fn(x, 0.5).numpy()
    flat = y.reshape(shape[:-1] + (-1,)) if fn is F.dropout1d or len(shape) == 3 else y.reshape(shape[:2] + (-1,))
    per_channel = flat.reshape(-1, flat.shape[-1])
    assert np.all((per_channel == 0).all(1) | (per_channel == 2.0).all(1))
    assert 0.3 < (per_channel[:, 0] == 0).mean() < 0.7


def test_channel_dropout_shape_errors():
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input"):
        F.dropout1d(ember.ones(2, 3, 4, 5))
    with pytest.warns(UserWarning, match="dropout2d"):
        F.dropout2d(ember.ones(4, 5), 0.5)


def test_alpha_dropout_formula_and_statistics():
    p = 0.2
    alpha = 1.6732632423543772848170429916717 * 1.0507009873554804934193349852946
    a = 1.0 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    x = ember.tensor(np.random.default_rng(0).standard_normal((300, 300)), requires_grad=True)
    y = F.alpha_dropout(x, p, training=True)
    yv, xv = y.detach().numpy(), x.detach().numpy()
    dropped = np.isclose(yv, -alpha * a + alpha * a * p) & ~np.isclose(yv, a * xv + alpha * a * p)
    assert abs(dropped.mean() - p) < 0.01
    np.testing.assert_allclose(yv[~dropped], a * xv[~dropped] + alpha * a * p)
    assert abs(yv.mean()) < 0.02 and abs(yv.std() - 1) < 0.02  # self-normalising: mean 0, variance 1 kept
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.where(dropped, 0.0, a))
    assert np.all(F.alpha_dropout(ember.ones(3), 1.0, True).numpy() == 0)


def test_dropout_modules_follow_training_flag():
    m = ember.nn.Dropout(0.5) if hasattr(ember.nn, "Dropout") else None
    if m is None:
        pytest.skip("nn.Dropout not exported")
    x = ember.ones(10, 10)
    m.eval()
    assert np.all(m(x).numpy() == 1)


# --- embedding and one_hot ------------------------------------------------------------------------------------

def test_embedding_lookup_and_gradients():
    w = rand64(6, 3)
    idx = ember.tensor([[1, 3, 1], [5, 1, 0]])
    out = F.embedding(idx, w, padding_idx=5)
    np.testing.assert_allclose(out.detach().numpy(), w.detach().numpy()[idx.numpy()])
    g = np.random.default_rng(0).standard_normal((2, 3, 3))
    out.backward(ember.tensor(g))
    expected = np.zeros((6, 3))
    np.add.at(expected, idx.numpy().reshape(-1), g.reshape(-1, 3))
    expected[5] = 0  # padding_idx gets no gradient
    np.testing.assert_allclose(w.grad.numpy(), expected)
    assert np.any(expected[1] != 0)


def test_embedding_many_lookups_small_table():
    """The one-hot matmul path (more lookups than 4x the rows) accumulates duplicates like the add.at path."""
    w = rand64(3, 2)
    idx = np.random.default_rng(0).integers(0, 3, size=(40,))
    out = F.embedding(ember.tensor(idx), w)
    out.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.bincount(idx, minlength=3)[:, None] * np.ones((3, 2)))


@pytest.mark.parametrize("kw", [{}, {"padding_idx": 3}, {"scale_grad_by_freq": True}])
def test_embedding_distinct_indices_vs_torch(kw, torch):
    """Each row looked up at most once (position embeddings): the gradient is a plain scatter."""
    wv = np.random.default_rng(6).normal(size=(8, 3))
    idx = np.array([[5, 0, 3], [7, 1, 2]])
    we, wt = ember.tensor(wv, requires_grad=True), torch.tensor(wv, requires_grad=True)
    g = np.random.default_rng(2).standard_normal((2, 3, 3))
    F.embedding(ember.tensor(idx), we, **kw).backward(ember.tensor(g))
    torch.nn.functional.embedding(torch.tensor(idx), wt, **kw).backward(torch.tensor(g))
    np.testing.assert_allclose(we.grad.numpy(), wt.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("kw", [{}, {"padding_idx": 2}, {"padding_idx": -1}, {"scale_grad_by_freq": True},
                                {"max_norm": 1.0}, {"max_norm": 0.5, "norm_type": 1.0}])
def test_embedding_vs_torch(kw, torch):
    wv = np.random.default_rng(5).normal(size=(7, 4))
    idx = np.array([[0, 2, 2, 6], [3, 2, 0, 1]])
    we, wt = ember.tensor(wv, requires_grad=True), torch.tensor(wv, requires_grad=True)
    oe = F.embedding(ember.tensor(idx), we, **kw)
    ot = torch.nn.functional.embedding(torch.tensor(idx), wt, **kw)
    np.testing.assert_allclose(oe.detach().numpy(), ot.detach().numpy(), rtol=1e-7)
    g = np.random.default_rng(1).standard_normal(ot.shape)
    oe.backward(ember.tensor(g))
    ot.backward(torch.tensor(g))
    np.testing.assert_allclose(we.grad.numpy(), wt.grad.numpy(), rtol=1e-7)
    np.testing.assert_allclose(we.detach().numpy(), wt.detach().numpy(), rtol=1e-7)  # max_norm renormalised in place


def test_embedding_max_norm_renormalises_rows_in_place():
    w = ember.tensor([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]], requires_grad=True)
    out = F.embedding(ember.tensor([0, 1, 0]), w, max_norm=1.0)
    norms = np.linalg.norm(w.detach().numpy(), axis=1)
    np.testing.assert_allclose(norms[:2], [1.0, 0.5], rtol=1e-6)  # row 0 scaled down, row 1 untouched
    assert norms[2] == 10.0  # not looked up: untouched
    np.testing.assert_allclose(out.detach().numpy()[0], [0.6, 0.8], rtol=1e-6)


def test_one_hot():
    t = ember.tensor([[0, 2], [1, 0]])
    o = F.one_hot(t)
    assert o.dtype == ember.int64 and tuple(o.shape) == (2, 2, 3)
    np.testing.assert_array_equal(o.numpy(), np.eye(3, dtype=np.int64)[t.numpy()])
    assert tuple(F.one_hot(t, 5).shape) == (2, 2, 5)
    assert tuple(F.one_hot(ember.tensor([], dtype=ember.int64), 4).shape) == (0, 4)
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes"):
        F.one_hot(t, 2)
    with pytest.raises(RuntimeError, match="Can not infer total number of classes"):
        F.one_hot(ember.tensor([], dtype=ember.int64))
    with pytest.raises(RuntimeError, match="one_hot is only applicable to index tensor"):
        F.one_hot(ember.tensor([0.0, 1.0]))


# --- in-place forms -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["silu", "mish", "leaky_relu", "elu", "selu", "celu", "relu6", "hardtanh", "hardswish",
                                  "hardsigmoid"])
def test_inplace_forms(name):
    fn = getattr(F, name)
    x = away_from(3, 4, kinks=(0.0, -3.0, 3.0, -1.0, 1.0), low=-4, high=4, requires_grad=False)
    ref = fn(x)
    y = x.clone()
    out = fn(y, inplace=True)
    assert out is y
    np.testing.assert_allclose(y.numpy(), ref.numpy())
    a = away_from(3, 4, kinks=(0.0, -3.0, 3.0, -1.0, 1.0), low=-4, high=4)  # through autograd: same gradient
    h = a * 1.0
    fn(h, inplace=True).sum().backward()
    g_inplace = a.grad.numpy().copy()
    a.grad = None
    fn(a * 1.0).sum().backward()
    np.testing.assert_allclose(g_inplace, a.grad.numpy())


def test_inplace_on_leaf_requiring_grad_raises():
    with pytest.raises(RuntimeError, match="leaf Variable"):
        F.elu(rand64(2, 2), inplace=True)


# --- errors ---------------------------------------------------------------------------------------------------

def test_errors():
    x = ember.randn(2, 3)
    with pytest.raises(RuntimeError, match="gelu: approximate"):
        F.gelu(x, approximate="fast")
    with pytest.raises(RuntimeError, match="glu: Halving dimension must be even, but dimension 1 is size 3"):
        F.glu(x)
    with pytest.raises(IndexError, match="softmax"):
        F.softmax(x, 2)
    with pytest.raises(RuntimeError, match="softmax: expected a floating-point tensor, got ember.int64"):
        F.softmax(ember.tensor([1, 2]), 0)
    with pytest.raises(TypeError, match="silu"):
        F.silu([1.0, 2.0])
    with pytest.raises(RuntimeError, match="prelu: Mismatch of parameter numbers and input channel size"):
        F.prelu(x, ember.ones(2))
    with pytest.raises(RuntimeError, match="celu: ZeroDivisionError"):
        F.celu(x, 0.0)
    with pytest.raises(ValueError, match="hardtanh: min_val"):
        F.hardtanh(x, 2.0, 1.0)
    w = ember.randn(4, 2)
    with pytest.raises(IndexError, match=r"embedding: index out of range.*\(4, 2\)"):
        F.embedding(ember.tensor([0, 4]), w)
    with pytest.raises(IndexError, match="embedding: index out of range"):
        F.embedding(ember.tensor([-1]), w)
    with pytest.raises(RuntimeError, match="embedding: expected an integer index tensor"):
        F.embedding(ember.tensor([0.0]), w)
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        F.embedding(ember.tensor([0]), w, padding_idx=4)
    with pytest.raises(RuntimeError, match="embedding: 'weight' must be 2-D"):
        F.embedding(ember.tensor([0]), ember.randn(4))


def test_hardtanh_on_integers_keeps_dtype():
    out = F.hardtanh(ember.tensor([1, 2, -3]), -2, 1)
    assert out.dtype == ember.int64
    np.testing.assert_array_equal(out.numpy(), [1, 1, -2])
