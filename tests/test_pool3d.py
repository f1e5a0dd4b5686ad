"""3-D pooling and power-average pooling (ember/ops/pooling3d.py), the ``*_with_indices`` aliases, and the layers
beside them (MaxPool3d ... LPPool3d, BatchNorm3d, InstanceNorm3d, LocalResponseNorm, UpsamplingNearest2d /
UpsamplingBilinear2d): values, indices and gradients against PyTorch (ties, NaNs and -inf windows included),
gradcheck, errors."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn
from ember.autograd import gradcheck, gradgradcheck
from helpers import rand64


def _compare(torch, efn, tfn, array, indices=False, rtol=1e-10, atol=1e-10):
    """Output values (and int64 indices), C-contiguous layout and the input's gradient against PyTorch."""
    e, t = ember.tensor(array, requires_grad=True), torch.tensor(array, requires_grad=True)
    eo, to = efn(e), tfn(t)
    if indices:
        (eo, ei), (to, ti) = eo, to
        assert ei.dtype == ember.int64 and ei.stride() == ti.stride()
        np.testing.assert_array_equal(ei.numpy(), ti.numpy())
    assert tuple(eo.shape) == tuple(to.shape) and eo.stride() == to.stride()
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), rtol=rtol, atol=atol)
    g = np.random.default_rng(1).standard_normal(tuple(eo.shape)).astype(array.dtype)
    eo.backward(ember.tensor(g))
    to.backward(torch.tensor(g))
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)


def _inputs():
    """Random values; small integers (many ties within a window); NaNs, -inf windows and a -inf corner."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 8, 9))
    ties = rng.integers(0, 3, x.shape).astype(np.float64)
    odd = x.copy()
    odd[0, 0, 1:3, 2:4, 1] = np.nan
    odd[1, 2, 3, 3:5, 4:6] = -np.inf
    odd[1, 1, :, 0, 0] = -np.inf
    odd[0, 1, :2, :2, :2] = -np.inf
    return {"random": x, "ties": ties, "nan_inf": odd}


INPUTS = _inputs()

MAX_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(2, 3, 2), stride=(1, 2, 3), padding=(1, 1, 0), dilation=(2, 1, 3)),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=(3, 2, 2), stride=(3, 2, 1), ceil_mode=True, dilation=(1, 2, 1)),
]


@pytest.mark.parametrize("kw", MAX_CASES, ids=str)
@pytest.mark.parametrize("data", list(INPUTS))
def test_max_pool3d_matches_torch(kw, data, torch):
    x = INPUTS[data]
    _compare(torch, lambda t: F.max_pool3d(t, return_indices=True, **kw),
             lambda t: torch.nn.functional.max_pool3d(t, return_indices=True, **kw), x, indices=True)
    _compare(torch, lambda t: F.max_pool3d(t, **kw), lambda t: torch.nn.functional.max_pool3d(t, **kw), x[1])


def test_max_pool3d_picks_the_first_maximum_in_depth_order(torch):
    """Equal maxima at (d, h, w) = (0, 1, 0) and (1, 0, 0): the first in (d, h, w) order, as PyTorch's scan."""
    x = np.zeros((1, 1, 2, 2, 2))
    x[0, 0, 0, 1, 0] = x[0, 0, 1, 0, 0] = 1.0
    out, index = F.max_pool3d(ember.tensor(x), 2, return_indices=True)
    assert index.item() == 2 == torch.nn.functional.max_pool3d(torch.tensor(x), 2, return_indices=True)[1].item()


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=(3, 2, 2), stride=(1, 2, 3), padding=(1, 0, 1), ceil_mode=True),
                                dict(kernel_size=(1, 3, 2), stride=(2, 2, 1), ceil_mode=True)], ids=str)
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("divisor_override", [None, 3])
def test_avg_pool3d_matches_torch(kw, count_include_pad, divisor_override, torch):
    kw = dict(kw, count_include_pad=count_include_pad, divisor_override=divisor_override)
    _compare(torch, lambda t: F.avg_pool3d(t, **kw), lambda t: torch.nn.functional.avg_pool3d(t, **kw),
             INPUTS["random"])


@pytest.mark.parametrize("size", [1, 3, (2, 5, 4), (None, 3, None), (7, 8, 9), (5, 6, 7), (4, 1, 2)], ids=str)
def test_adaptive_pool3d_matches_torch(size, torch):
    tf = torch.nn.functional
    for data, x in INPUTS.items():
        _compare(torch, lambda t: F.adaptive_max_pool3d(t, size, return_indices=True),
                 lambda t: tf.adaptive_max_pool3d(t, size, return_indices=True), x, indices=True)
    _compare(torch, lambda t: F.adaptive_avg_pool3d(t, size), lambda t: tf.adaptive_avg_pool3d(t, size),
             INPUTS["random"])
    _compare(torch, lambda t: F.adaptive_avg_pool3d(t, size), lambda t: tf.adaptive_avg_pool3d(t, size),
             INPUTS["random"][0])


def test_float32_pools_match_torch(torch):
    x, tf = INPUTS["random"].astype(np.float32), torch.nn.functional
    for efn, tfn in [(lambda t: F.max_pool3d(t, 2), lambda t: tf.max_pool3d(t, 2)),
                     (lambda t: F.avg_pool3d(t, 3, 2, 1), lambda t: tf.avg_pool3d(t, 3, 2, 1)),
                     (lambda t: F.adaptive_max_pool3d(t, 3), lambda t: tf.adaptive_max_pool3d(t, 3)),
                     (lambda t: F.adaptive_avg_pool3d(t, 3), lambda t: tf.adaptive_avg_pool3d(t, 3))]:
        _compare(torch, efn, tfn, x, rtol=1e-6, atol=1e-6)
        assert efn(ember.tensor(x)).dtype == ember.float32


@pytest.mark.parametrize("name, nd, arg", [
    ("max_pool1d_with_indices", 1, 2), ("max_pool2d_with_indices", 2, 2), ("max_pool3d_with_indices", 3, 2),
    ("adaptive_max_pool1d_with_indices", 1, 3), ("adaptive_max_pool2d_with_indices", 2, 3),
    ("adaptive_max_pool3d_with_indices", 3, 3),
])
def test_with_indices_aliases_match_torch(name, nd, arg, torch):
    x = INPUTS["ties"][(0,) * (3 - nd)]
    _compare(torch, lambda t: getattr(F, name)(t, arg), lambda t: getattr(torch.nn.functional, name)(t, arg), x,
             indices=True)
    assert isinstance(getattr(F, name)(ember.tensor(x), arg, return_indices=False), tuple)


def test_names_follow_torch():
    for name in ["max_pool3d", "max_pool1d_with_indices"]:
        assert getattr(ember, name) is getattr(F, name)
    for name in ["avg_pool3d", "adaptive_avg_pool3d", "adaptive_max_pool3d", "lp_pool3d", "max_pool3d_with_indices"]:
        assert not hasattr(ember, name)


@pytest.mark.parametrize("norm_type", [1, 2, 1.5, float("inf"), -float("inf")])
def test_lp_pool_matches_torch(norm_type, torch):
    x, tf = np.abs(INPUTS["random"]) + 0.1, torch.nn.functional
    _compare(torch, lambda t: F.lp_pool3d(t, norm_type, 2), lambda t: tf.lp_pool3d(t, norm_type, 2), x)
    _compare(torch, lambda t: F.lp_pool3d(t, norm_type, (3, 2, 2), stride=2, ceil_mode=True),
             lambda t: tf.lp_pool3d(t, norm_type, (3, 2, 2), stride=2, ceil_mode=True), x)
    _compare(torch, lambda t: F.lp_pool2d(t, norm_type, (3, 2), stride=(2, 1)),
             lambda t: tf.lp_pool2d(t, norm_type, (3, 2), stride=(2, 1)), x[0])
    _compare(torch, lambda t: F.lp_pool1d(t, norm_type, 3, ceil_mode=True),
             lambda t: tf.lp_pool1d(t, norm_type, 3, ceil_mode=True), x[0, 0])


def test_lp_pool_zero_windows_and_negative_inputs_match_torch(torch):
    x = INPUTS["random"].copy()
    x[0, 0, :2, :2, :2] = 0  # a window whose sum is zero: zero gradient, as PyTorch's
    _compare(torch, lambda t: F.lp_pool3d(t, 2, 2), lambda t: torch.nn.functional.lp_pool3d(t, 2, 2), x)
    _compare(torch, lambda t: F.lp_pool2d(t, 3, 2), lambda t: torch.nn.functional.lp_pool2d(t, 3, 2), x[0])


@pytest.mark.parametrize("fn", [
    lambda x: F.max_pool3d(x, (2, 2, 1), stride=1, padding=(1, 0, 0)),
    lambda x: F.avg_pool3d(x, 2, stride=1, padding=1, count_include_pad=False, ceil_mode=True),
    lambda x: F.avg_pool3d(x, (2, 1, 2), divisor_override=3),
    lambda x: F.adaptive_avg_pool3d(x, (2, 3, 2)),
    lambda x: F.adaptive_max_pool3d(x, (2, 2, 3)),
    lambda x: F.lp_pool3d(x, 2, (2, 2, 1)),
], ids=["max", "avg", "avg_divisor", "adaptive_avg", "adaptive_max", "lp"])
def test_pool3d_gradcheck(fn):
    x = rand64(1, 2, 3, 4, 4)
    assert gradcheck(fn, (x,))


def test_pool3d_double_backward():
    x = rand64(1, 1, 3, 4, 4)
    assert gradgradcheck(lambda x: F.max_pool3d(x, 2, stride=1), (x,))
    assert gradgradcheck(lambda x: F.avg_pool3d(x, 2, stride=1, padding=1), (x,))


# ---------------------------------------------------------------------------------------------------------------
# errors


def _x(*shape):
    return ember.zeros(*shape)


@pytest.mark.parametrize("call, exc, msg", [
    (lambda: F.max_pool3d(_x(1, 2, 5, 5, 5), 3, padding=2), RuntimeError,
     r"max_pool3d: pad should be at most half of effective kernel size"),
    (lambda: F.max_pool3d(_x(1, 2, 5, 5, 5), 7), RuntimeError,
     r"max_pool3d: output size \(0, 0, 0\) is too small \(input shape \(1, 2, 5, 5, 5\)"),
    (lambda: F.max_pool3d(_x(5, 5, 5), 2), RuntimeError,
     r"max_pool3d: expected input with 5 dims \(N, C, D, H, W\) or 4 dims, got shape \(5, 5, 5\)"),
    (lambda: F.max_pool3d(_x(1, 2, 5, 5, 5), 2, dilation=0), RuntimeError,
     r"max_pool3d: dilation should be greater than zero"),
    (lambda: F.max_pool3d(_x(1, 2, 5, 5, 5).long(), 2), RuntimeError,
     r"max_pool3d: expected a floating-point input, got ember.int64"),
    (lambda: F.avg_pool3d(_x(1, 2, 5, 5, 5), 3, padding=2), RuntimeError,
     r"avg_pool3d: pad should be at most half of kernel size"),
    (lambda: F.avg_pool3d(_x(1, 2, 5, 5, 5), 2, divisor_override=0), RuntimeError,
     r"avg_pool3d: divisor must be not zero"),
    (lambda: F.avg_pool3d(_x(1, 2, 5, 5, 5), (2, 2)), RuntimeError,
     r"avg_pool3d: kernel_size must be an int or a tuple of 3 ints"),
    (lambda: F.adaptive_avg_pool3d(_x(1, 2, 5, 5, 5), (0, 2, 2)), RuntimeError,
     r"adaptive_avg_pool3d: output_size \(0, 2, 2\) must be positive"),
    (lambda: F.adaptive_max_pool3d(_x(1, 2, 5, 5, 5), (2, 2)), RuntimeError,
     r"adaptive_max_pool3d: output_size must be an int or a tuple of 3 ints"),
    (lambda: F.lp_pool3d(_x(1, 2, 5, 5, 5), 2, 7), RuntimeError, r"avg_pool3d: output size \(0, 0, 0\) is too small"),
    (lambda: nn.BatchNorm3d(2)(_x(2, 2, 5, 5)), ValueError, r"BatchNorm3d: expected 5D input \(got 4D input"),
    (lambda: nn.InstanceNorm3d(2)(_x(2, 5, 5)), ValueError, r"InstanceNorm3d: expected 4D or 5D input \(got 3D input"),
    (lambda: nn.LocalResponseNorm(2)(_x(2, 5)), ValueError, r"local_response_norm: Expected 3D or higher"),
])
def test_errors(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


@pytest.mark.parametrize("call", [
    lambda F, t: F.max_pool3d(t(1, 2, 5, 5, 5), 3, padding=2),
    lambda F, t: F.max_pool3d(t(1, 2, 5, 5, 5), 7),
    lambda F, t: F.max_pool3d(t(5, 5, 5), 2),
    lambda F, t: F.avg_pool3d(t(1, 2, 5, 5, 5), 3, padding=2),
    lambda F, t: F.avg_pool3d(t(1, 2, 5, 5, 5), 2, divisor_override=0),
    lambda F, t: F.adaptive_max_pool3d(t(1, 2, 5, 5, 5), (2, 2)),
])
def test_torch_raises_too(call, torch):
    with pytest.raises(RuntimeError):
        call(torch.nn.functional, torch.zeros)
    with pytest.raises(RuntimeError):
        call(F, ember.zeros)


# ---------------------------------------------------------------------------------------------------------------
# layers


LAYERS = [
    ("MaxPool3d", (3,), dict(stride=2, padding=1, return_indices=True)),
    ("MaxPool3d", ((2, 1, 2),), dict(dilation=(1, 2, 1), ceil_mode=True)),
    ("AvgPool3d", (3,), dict(stride=2, padding=1, count_include_pad=False)),
    ("AvgPool3d", ((1, 2, 2),), dict(divisor_override=3, ceil_mode=True)),
    ("AdaptiveAvgPool3d", ((2, None, 3),), {}),
    ("AdaptiveMaxPool3d", (3,), dict(return_indices=True)),
    ("LPPool1d", (2, 3), dict(stride=2)),
    ("LPPool2d", (1.5, (2, 3)), {}),
    ("LPPool3d", (2, 2), dict(ceil_mode=True)),
    ("LocalResponseNorm", (3,), dict(alpha=0.1, beta=0.5, k=2.0)),
    ("BatchNorm3d", (3,), {}),
    ("InstanceNorm3d", (3,), dict(affine=True, track_running_stats=True)),
    ("UpsamplingNearest2d", (), dict(scale_factor=2)),
    ("UpsamplingBilinear2d", (), dict(size=(5, 7))),
    ("UpsamplingBilinear2d", (), dict(scale_factor=1.5)),
]


@pytest.mark.parametrize("cls, args, kw", LAYERS, ids=str)
def test_layers_match_torch(cls, args, kw, torch):
    layer, tlayer = getattr(nn, cls)(*args, **kw).double(), getattr(torch.nn, cls)(*args, **kw).double()
    assert repr(layer) == repr(tlayer)
    state, tstate = layer.state_dict(), tlayer.state_dict()
    assert list(state) == list(tstate)
    tlayer.load_state_dict({k: torch.tensor(np.asarray(v.numpy()) + 0.5) if v.is_floating_point() else v
                            for k, v in tstate.items()})
    layer.load_state_dict({k: ember.tensor(v.numpy()) for k, v in tlayer.state_dict().items()})
    x = np.abs(INPUTS["random"]) + 0.1
    x = {"LPPool1d": x[0, 0], "LPPool2d": x[0], "UpsamplingNearest2d": x[0], "UpsamplingBilinear2d": x[0]}.get(cls, x)
    _compare(torch, layer, tlayer, x, indices=kw.get("return_indices", False))
    for k, v in tlayer.state_dict().items():  # BatchNorm's running statistics move alike
        np.testing.assert_allclose(layer.state_dict()[k].numpy(), v.numpy(), rtol=1e-10, atol=1e-12)
