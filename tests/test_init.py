"""nn.init: each initialiser's statistics match its formula, in place, reproducible with manual_seed."""
import math

import numpy as np
import pytest

import ember
from ember.nn import init

SHAPE = (400, 300)  # 120k samples: means and stds are within about 1% of the formula


def values(t):
    return t.detach().numpy().astype(np.float64)


def param(*shape, dtype=None):
    return ember.nn.Parameter(ember.empty(*shape, dtype=dtype))


def assert_uniform(v, lo, hi):
    assert v.min() >= lo and v.max() <= hi
    width = hi - lo
    assert v.min() < lo + 0.01 * width and v.max() > hi - 0.01 * width
    assert abs(v.mean() - (lo + hi) / 2) < 0.01 * width
    assert abs(v.std() - width / math.sqrt(12)) < 0.01 * width


def assert_normal(v, mean, std):
    assert abs(v.mean() - mean) < 0.02 * std
    assert abs(v.std() - std) < 0.02 * std


def test_in_place_on_parameters_without_graph():
    p = param(*SHAPE)
    out = init.uniform_(p, -2.0, 3.0)
    assert out is p and p.is_leaf and p.requires_grad and p.grad_fn is None
    assert_uniform(values(p), -2.0, 3.0)


def test_normal_constant_ones_zeros():
    p = param(*SHAPE)
    assert_normal(values(init.normal_(p, 1.5, 0.5)), 1.5, 0.5)
    assert (values(init.constant_(p, 0.25)) == 0.25).all()
    assert (values(init.ones_(p)) == 1).all()
    assert (values(init.zeros_(p)) == 0).all()


def test_reproducible_with_manual_seed_and_generator():
    ember.manual_seed(7)
    a = values(init.kaiming_normal_(param(20, 30)))
    ember.manual_seed(7)
    b = values(init.kaiming_normal_(param(20, 30)))
    np.testing.assert_array_equal(a, b)
    g1, g2 = ember.Generator().manual_seed(3), ember.Generator().manual_seed(3)
    np.testing.assert_array_equal(values(init.trunc_normal_(param(50), generator=g1)),
                                  values(init.trunc_normal_(param(50), generator=g2)))


@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_xavier(gain):
    fan_in, fan_out = SHAPE[1], SHAPE[0]
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    assert_uniform(values(init.xavier_uniform_(param(*SHAPE), gain=gain)), -math.sqrt(3) * std, math.sqrt(3) * std)
    assert_normal(values(init.xavier_normal_(param(*SHAPE), gain=gain)), 0.0, std)


@pytest.mark.parametrize("mode,nonlinearity,a", [("fan_in", "relu", 0), ("fan_out", "leaky_relu", 0.2),
                                                 ("fan_in", "leaky_relu", math.sqrt(5)), ("fan_out", "tanh", 0)])
def test_kaiming(mode, nonlinearity, a):
    shape = (200, 30, 5, 4)  # conv weight: fans include the receptive field
    fan = (30 if mode == "fan_in" else 200) * 20
    std = init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3) * std
    assert_uniform(values(init.kaiming_uniform_(param(*shape), a=a, mode=mode, nonlinearity=nonlinearity)),
                   -bound, bound)
    assert_normal(values(init.kaiming_normal_(param(*shape), a=a, mode=mode, nonlinearity=nonlinearity)), 0.0, std)


def test_kaiming_errors_and_zero_element():
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(param(3, 3), mode="fan_avg")
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(param(5))
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(param(0, 3))


def truncnorm_moments(mu, sigma, a, b):
    """Mean and standard deviation of N(mu, sigma^2) truncated to [a, b]."""
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: (1 + math.erf(z / math.sqrt(2))) / 2  # noqa: E731
    al, be = (a - mu) / sigma, (b - mu) / sigma
    z = cdf(be) - cdf(al)
    d = (pdf(al) - pdf(be)) / z
    var = sigma ** 2 * (1 + (al * pdf(al) - be * pdf(be)) / z - d * d)
    return mu + sigma * d, math.sqrt(var)


@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (1.0, 0.5, 0.0, 1.2), (0.0, 1.0, 1.5, 3.0)])
def test_trunc_normal(mean, std, a, b):
    v = values(init.trunc_normal_(param(*SHAPE, dtype=ember.float64), mean=mean, std=std, a=a, b=b))
    assert v.min() >= a and v.max() <= b
    m, s = truncnorm_moments(mean, std, a, b)
    assert abs(v.mean() - m) < 0.02 * s
    assert abs(v.std() - s) < 0.02 * s


def test_orthogonal():
    for shape in [(30, 50), (50, 30), (8, 3, 2, 2)]:
        w = values(init.orthogonal_(param(*shape), gain=2.0)).reshape(shape[0], -1)
        small = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
        np.testing.assert_allclose(small, 4.0 * np.eye(small.shape[0]), atol=1e-4)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(param(4))


def test_eye_and_dirac():
    e = values(init.eye_(param(3, 5)))
    np.testing.assert_array_equal(e, np.eye(3, 5))
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions"):
        init.eye_(param(2, 2, 2))
    d = values(init.dirac_(param(4, 2, 3, 3), groups=2))
    assert d.sum() == 4
    assert d[0, 0, 1, 1] == 1 and d[1, 1, 1, 1] == 1 and d[2, 0, 1, 1] == 1 and d[3, 1, 1, 1] == 1
    x = np.random.default_rng(0).standard_normal((1, 3, 6))
    w = values(init.dirac_(param(3, 3, 3)))
    out = np.stack([sum(np.convolve(x[0, i], w[o, i][::-1], mode="same") for i in range(3)) for o in range(3)])
    np.testing.assert_allclose(out, x[0])  # a Dirac kernel is the identity convolution


def test_sparse():
    w = values(init.sparse_(param(10, 200), sparsity=0.3, std=0.5))
    assert ((w == 0).sum(axis=0) == 3).all()
    assert abs(w[w != 0].std() - 0.5) < 0.05


def test_calculate_gain_matches_torch(torch):
    for name in ["linear", "conv2d", "sigmoid", "tanh", "relu", "leaky_relu", "selu", "conv_transpose3d"]:
        assert init.calculate_gain(name) == torch.nn.init.calculate_gain(name)
    for slope in [0, 0.2, 3]:
        assert init.calculate_gain("leaky_relu", slope) == torch.nn.init.calculate_gain("leaky_relu", slope)
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", True)


def test_fans_match_torch(torch):
    for shape in [(3, 4), (8, 3, 5), (6, 2, 3, 3), (2, 3, 1, 2, 2)]:
        assert init._calculate_fan_in_and_fan_out(ember.empty(*shape)) == \
            torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))


def test_works_on_half_and_plain_tensors():
    t = ember.empty(100, 100, dtype=ember.float16)
    init.xavier_uniform_(t)
    assert t.dtype is ember.float16 and np.isfinite(values(t)).all()
    init.trunc_normal_(t, std=0.02)
    assert t.dtype is ember.float16 and np.abs(values(t)).max() <= 2.0
