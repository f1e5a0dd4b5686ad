"""3-D convolution (ember/ops/conv3d.py) and its layers: gradcheck, values and gradients against PyTorch, errors,
parameters and state_dicts of nn.Conv3d / nn.ConvTranspose3d, and a small 3-D CNN that learns."""
import math

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn
from ember.autograd import gradcheck, gradgradcheck
from helpers import rand64


def _arrays(*shapes, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _compare(torch, efn, tfn, arrays, rtol=1e-9, atol=1e-9):
    """Output (values, shape, C-contiguous strides) and every input's gradient against PyTorch."""
    es = [ember.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    eo, to = efn(*es), tfn(*ts)
    assert tuple(eo.shape) == tuple(to.shape)
    assert eo.is_contiguous() and eo.stride() == to.stride()
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), rtol=rtol, atol=atol)
    g = np.random.default_rng(1).standard_normal(tuple(eo.shape)).astype(arrays[0].dtype)
    eo.backward(ember.tensor(g))
    to.backward(torch.tensor(g))
    for e, t in zip(es, ts):
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------------------------------------------
# conv3d

CONV_CASES = [
    dict(),
    dict(stride=2),
    dict(padding=1),
    dict(stride=(2, 1, 3), padding=(1, 0, 2), dilation=(2, 1, 1)),
    dict(dilation=(1, 2, 2), padding=(0, 2, 1)),
    dict(groups=2, padding=(0, 1, 1)),
    dict(groups=2, stride=(3, 1, 2), dilation=2, padding=2),
    dict(padding="same"),
    dict(padding="same", dilation=(2, 1, 2)),
    dict(padding="valid", stride=(1, 2, 1)),
]


@pytest.mark.parametrize("kw", CONV_CASES, ids=str)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
def test_conv3d_matches_torch(kw, bias, torch):
    g = kw.get("groups", 1)
    arrays = _arrays((2, 4, 7, 6, 8), (6, 4 // g, 3, 2, 3), (6,))
    if not bias:
        arrays = arrays[:2]
    _compare(torch, lambda *a: F.conv3d(*a, **kw), lambda *a: torch.nn.functional.conv3d(*a, **kw), arrays)


@pytest.mark.parametrize("kd", [1, 2])
def test_conv3d_depthwise_unbatched_and_flat_kernels_match_torch(kd, torch):
    tf = torch.nn.functional
    _compare(torch, lambda x, w: F.conv3d(x, w, groups=4, padding=1), lambda x, w: tf.conv3d(x, w, groups=4, padding=1),
             _arrays((2, 4, 5, 5, 5), (8, 1, kd, 3, 3)))
    _compare(torch, lambda x, w, b: F.conv3d(x, w, b, stride=(2, 1, 1)),
             lambda x, w, b: tf.conv3d(x, w, b, stride=(2, 1, 1)), _arrays((3, 6, 5, 4), (2, 3, kd, 2, 2), (2,)))


def test_conv3d_float32_matches_torch(torch):
    arrays = _arrays((2, 3, 6, 7, 7), (5, 3, 3, 3, 3), (5,), dtype=np.float32)
    _compare(torch, lambda *a: F.conv3d(*a, padding=1, stride=(1, 2, 2)),
             lambda *a: torch.nn.functional.conv3d(*a, padding=1, stride=(1, 2, 2)), arrays, rtol=1e-4, atol=1e-4)
    assert F.conv3d(*[ember.tensor(a) for a in arrays]).dtype == ember.float32


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(dilation=(2, 1, 1), padding="same", groups=2)],
                         ids=str)
def test_conv3d_gradcheck(kw):
    x, w, b = rand64(1, 2, 4, 4, 3), rand64(2, 2 // kw.get("groups", 1), 2, 2, 2, seed=1), rand64(2, seed=2)
    assert gradcheck(lambda x, w, b: F.conv3d(x, w, b, **kw), (x, w, b))


def test_conv3d_double_backward():
    x, w = rand64(1, 2, 3, 3, 3), rand64(2, 2, 2, 2, 2, seed=1)
    assert gradgradcheck(lambda x, w: F.conv3d(x, w, stride=(2, 1, 1), padding=1), (x, w))


def test_conv3d_names():
    assert ember.conv3d is F.conv3d and ember.conv_transpose3d is F.conv_transpose3d


# ---------------------------------------------------------------------------------------------------------------
# conv_transpose3d

CONVT_CASES = [
    dict(),
    dict(stride=2),
    dict(stride=2, padding=1, output_padding=1),
    dict(stride=(1, 2, 3), padding=(1, 0, 2), dilation=2, output_padding=(1, 1, 0)),
    dict(dilation=(3, 1, 1), output_padding=(2, 0, 0)),  # output_padding past the stride (below the dilation)
    dict(padding=(2, 0, 0), output_padding=(1, 0, 0), stride=(3, 1, 1)),
    dict(groups=2, stride=2),
    dict(groups=2, padding=1, dilation=(1, 2, 1)),
]


@pytest.mark.parametrize("kw", CONVT_CASES, ids=str)
@pytest.mark.parametrize("kd", [1, 3])
def test_conv_transpose3d_matches_torch(kw, kd, torch):
    g = kw.get("groups", 1)
    _compare(torch, lambda *a: F.conv_transpose3d(*a, **kw), lambda *a: torch.nn.functional.conv_transpose3d(*a, **kw),
             _arrays((2, 4, 4, 5, 3), (4, 6 // g, kd, 2, 3), (6,)))


def test_conv_transpose3d_unbatched_and_without_bias_match_torch(torch):
    tf = torch.nn.functional
    for kw in [dict(stride=2, output_padding=1), dict(padding=1, dilation=3, groups=2)]:
        _compare(torch, lambda x, w: F.conv_transpose3d(x, w, **kw), lambda x, w: tf.conv_transpose3d(x, w, **kw),
                 _arrays((4, 3, 4, 5), (4, 3, 2, 3, 3)))


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, output_padding=1), dict(dilation=2, groups=2)],
                         ids=str)
def test_conv_transpose3d_gradcheck(kw):
    g = kw.get("groups", 1)
    x, w, b = rand64(1, 2, 2, 3, 2), rand64(2, 4 // g, 2, 2, 2, seed=1), rand64(4, seed=2)
    assert gradcheck(lambda x, w, b: F.conv_transpose3d(x, w, b, **kw), (x, w, b))


def test_conv_transpose3d_is_the_adjoint_of_conv3d():
    """<conv3d(x, w), y> = <x, conv_transpose3d(y, w)> for every geometry the two share."""
    rng = np.random.default_rng(3)
    for stride, padding, dilation, groups in [(1, 0, 1, 1), (2, 1, 1, 2), ((2, 1, 3), (1, 0, 2), (1, 2, 1), 1)]:
        x = ember.tensor(rng.standard_normal((2, 4, 7, 6, 8)))
        w = ember.tensor(rng.standard_normal((6, 4 // groups, 3, 2, 3)))
        y = F.conv3d(x, w, stride=stride, padding=padding, dilation=dilation, groups=groups)
        r = ember.tensor(rng.standard_normal(tuple(y.shape)))
        out = [(n - 1) * s - 2 * p + d * (k - 1) + 1 for n, s, p, d, k in
               zip(y.shape[2:], *[_triple(v) for v in (stride, padding, dilation)], w.shape[2:])]
        op = [a - b for a, b in zip(x.shape[2:], out)]
        xt = F.conv_transpose3d(r, w, stride=stride, padding=padding, output_padding=op, groups=groups,
                                dilation=dilation)
        np.testing.assert_allclose((y * r).sum().item(), (x * xt).sum().item(), rtol=1e-10)


def _triple(v):
    return tuple(v) if isinstance(v, tuple) else (v,) * 3


# ---------------------------------------------------------------------------------------------------------------
# errors (PyTorch's rules; the messages name the op and the shapes)


def _x(*shape):
    return ember.zeros(*shape)


@pytest.mark.parametrize("call, exc, msg", [
    (lambda: F.conv3d(_x(1, 2, 5, 5), _x(3, 2, 3, 3, 3)), RuntimeError,
     r"conv3d: input has 1 channels but weight expects 2"),
    (lambda: F.conv3d(_x(2, 5, 5), _x(3, 2, 3, 3, 3)), RuntimeError,
     r"conv3d: expected input with 5 dims \(N, C, D, H, W\) or 4 dims, got shape \(2, 5, 5\)"),
    (lambda: F.conv3d(_x(1, 2, 5, 5, 5), _x(3, 2, 3, 3)), RuntimeError,
     r"conv3d: expected weight with 5 dims \(out_channels, in_channels/groups, kD, kH, kW\), got shape \(3, 2, 3, 3\)"),
    (lambda: F.conv3d(_x(1, 2, 5, 5, 5), _x(3, 1, 3, 3, 3)), RuntimeError,
     r"conv3d: input has 2 channels but weight expects 1 \(groups=1\)"),
    (lambda: F.conv3d(_x(1, 2, 5, 5, 5), _x(3, 1, 3, 3, 3), groups=2), RuntimeError,
     r"conv3d: out_channels \(weight.shape\[0\] = 3\) must be divisible by groups=2"),
    (lambda: F.conv3d(_x(1, 2, 5, 5, 5), _x(3, 2, 7, 3, 3)), RuntimeError,
     r"conv3d: kernel size \(7, 3, 3\) is larger than the padded input size \(5, 5, 5\)"),
    (lambda: F.conv3d(_x(1, 2, 5, 5, 5), _x(3, 2, 3, 3, 3), stride=2, padding="same"), RuntimeError,
     r"conv3d: padding='same' is not supported for strided convolutions"),
    (lambda: F.conv3d(_x(1, 2, 5, 5, 5), _x(3, 2, 3, 3, 3), padding="full"), RuntimeError,
     r"conv3d: invalid padding string 'full'"),
    (lambda: F.conv3d(_x(1, 2, 5, 5, 5), _x(3, 2, 3, 3, 3), padding=-1), RuntimeError,
     r"conv3d: negative padding is not supported"),
    (lambda: F.conv3d(_x(1, 2, 5, 5, 5), _x(3, 2, 3, 3, 3), stride=0), RuntimeError,
     r"conv3d: non-positive stride is not supported"),
    (lambda: F.conv3d(_x(1, 2, 5, 5, 5), _x(3, 2, 3, 3, 3), stride=(1, 2)), RuntimeError,
     r"conv3d: stride must be an int or a tuple of 3 ints"),
    (lambda: F.conv3d(_x(1, 2, 5, 5, 5), _x(3, 2, 3, 3, 3), _x(4)), RuntimeError,
     r"conv3d: expected bias of shape \(3,\) for weight of shape \(3, 2, 3, 3, 3\), got \(4,\)"),
    (lambda: F.conv3d(_x(1, 2, 5, 5, 5).double(), _x(3, 2, 3, 3, 3)), RuntimeError,
     r"conv3d: input dtype ember.float64 and weight dtype ember.float32 must be the same"),
    (lambda: F.conv_transpose3d(_x(1, 2, 5, 5, 5), _x(3, 2, 3, 3, 3)), RuntimeError,
     r"conv_transpose3d: input has 2 channels but weight expects 3"),
    (lambda: F.conv_transpose3d(_x(1, 2, 5, 5, 5), _x(2, 2, 3, 3, 3), stride=2, output_padding=2), RuntimeError,
     r"conv_transpose3d: output padding must be smaller than either stride or dilation"),
    (lambda: F.conv_transpose3d(_x(1, 2, 1, 1, 1), _x(2, 2, 3, 3, 3), padding=2), RuntimeError,
     r"conv_transpose3d: output size \(-1, -1, -1\) is not positive"),
    (lambda: F.conv_transpose3d(_x(1, 2, 5, 5, 5), _x(2, 2, 3, 3, 3), padding="same"), RuntimeError,
     r"conv_transpose3d: padding must be an int or a tuple of ints"),
])
def test_errors(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


@pytest.mark.parametrize("call", [
    lambda F, t: F.conv3d(t(1, 2, 5, 5), t(3, 2, 3, 3, 3)),
    lambda F, t: F.conv3d(t(1, 2, 5, 5, 5), t(3, 1, 3, 3, 3), groups=2),
    lambda F, t: F.conv3d(t(1, 2, 5, 5, 5), t(3, 2, 7, 3, 3)),
    lambda F, t: F.conv3d(t(1, 2, 5, 5, 5), t(3, 2, 3, 3, 3), stride=2, padding="same"),
    lambda F, t: F.conv_transpose3d(t(1, 2, 5, 5, 5), t(2, 2, 3, 3, 3), stride=2, output_padding=2),
    lambda F, t: F.conv_transpose3d(t(1, 2, 1, 1, 1), t(2, 2, 3, 3, 3), padding=2),
])
def test_torch_raises_too(call, torch):
    with pytest.raises(RuntimeError):
        call(torch.nn.functional, torch.zeros)
    with pytest.raises(RuntimeError):
        call(F, ember.zeros)


def test_module_argument_errors():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv3d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        nn.Conv3d(2, 4, 3, stride=(1, 2, 1), padding="same")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv3d(2, 4, 3, padding_mode="wrap")
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose3d'):
        nn.ConvTranspose3d(2, 4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match=r"requested an output size of \[9, 9, 9\], but valid sizes range from"):
        nn.ConvTranspose3d(2, 2, 3, stride=2)(ember.zeros(1, 2, 3, 3, 3), output_size=[9, 9, 9])


# ---------------------------------------------------------------------------------------------------------------
# layers


@pytest.mark.parametrize("cls, args, kw", [
    ("Conv3d", (4, 6, (3, 2, 3)), dict(stride=(1, 2, 1), padding=1, groups=2)),
    ("Conv3d", (2, 3, 3), dict(bias=False, dilation=(2, 1, 1))),
    ("ConvTranspose3d", (4, 6, (2, 3, 3)), dict(stride=2, padding=1, output_padding=1, groups=2)),
    ("ConvTranspose3d", (2, 3, 2), dict(bias=False)),
], ids=str)
def test_layers_match_torch_parameters_and_state_dict(cls, args, kw, torch):
    layer, tlayer = getattr(nn, cls)(*args, **kw), getattr(torch.nn, cls)(*args, **kw)
    assert repr(layer) == repr(tlayer)
    assert {k: tuple(v.shape) for k, v in layer.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in tlayer.state_dict().items()}
    layer.load_state_dict({k: ember.tensor(v.numpy()) for k, v in tlayer.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, args[0], 5, 6, 5)).astype(np.float32)
    y, ty = layer(ember.tensor(x)), tlayer(torch.tensor(x))
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cls", ["Conv3d", "ConvTranspose3d"])
def test_layers_initialise_as_torch(cls):
    """kaiming_uniform_(a=sqrt(5)): weights and bias uniform in +-1/sqrt(fan_in), fan_in = weight.shape[1] * kD kH
    kW (C_out / groups for the transposed layer, as PyTorch computes it)."""
    layer = getattr(nn, cls)(8, 16, (3, 2, 3), groups=2)
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    bound = 1 / math.sqrt(w.shape[1] * 18)
    assert w.shape == ((16, 4, 3, 2, 3) if cls == "Conv3d" else (8, 8, 3, 2, 3))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound
    assert b.shape == (16,) and np.abs(b).max() <= bound


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [(1, 2, 1), "same"], ids=str)
def test_conv3d_padding_modes_match_torch(mode, padding, torch):
    layer = nn.Conv3d(2, 3, (3, 4, 3), padding=padding, padding_mode=mode, dtype=ember.float64)
    tlayer = torch.nn.Conv3d(2, 3, (3, 4, 3), padding=padding, padding_mode=mode, dtype=torch.float64)
    layer.load_state_dict({k: ember.tensor(v.numpy()) for k, v in tlayer.state_dict().items()})
    _compare(torch, layer, tlayer, _arrays((2, 2, 4, 5, 6)))


def test_conv_transpose3d_output_size_matches_torch(torch):
    layer, tlayer = nn.ConvTranspose3d(2, 3, 3, stride=(2, 3, 2)), torch.nn.ConvTranspose3d(2, 3, 3, stride=(2, 3, 2))
    layer.load_state_dict({k: ember.tensor(v.numpy()) for k, v in tlayer.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((1, 2, 3, 3, 4)).astype(np.float32)
    y, ty = layer(ember.tensor(x), output_size=[8, 10, 10]), tlayer(torch.tensor(x), output_size=[8, 10, 10])
    assert tuple(y.shape) == tuple(ty.shape) == (1, 3, 8, 10, 10)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_module_paths():
    from ember.nn.modules import batchnorm, conv, instancenorm, normalization, pooling, upsampling
    assert conv.Conv3d is nn.Conv3d and conv.ConvTranspose3d is nn.ConvTranspose3d
    assert pooling.MaxPool3d is nn.MaxPool3d and pooling.LPPool2d is nn.LPPool2d
    assert pooling.AdaptiveMaxPool3d is nn.AdaptiveMaxPool3d and pooling.AvgPool3d is nn.AvgPool3d
    assert batchnorm.BatchNorm3d is nn.BatchNorm3d and instancenorm.InstanceNorm3d is nn.InstanceNorm3d
    assert normalization.LocalResponseNorm is nn.LocalResponseNorm
    assert upsampling.UpsamplingNearest2d is nn.UpsamplingNearest2d
    assert upsampling.UpsamplingBilinear2d is nn.UpsamplingBilinear2d


# ---------------------------------------------------------------------------------------------------------------
# training


def _volumes(n, rng):
    """Noisy 8^3 volumes whose class (0-3) is the quarter (depth half, height half) holding a bright 2^3 blob."""
    y = rng.integers(0, 4, n)
    x = rng.normal(0, 0.3, (n, 1, 8, 8, 8)).astype(np.float32)
    for i, c in enumerate(y):
        d, h, w = 4 * (c // 2) + rng.integers(0, 3), 4 * (c % 2) + rng.integers(0, 3), rng.integers(0, 7)
        x[i, 0, d:d + 2, h:h + 2, w:w + 2] += 1.5
    return ember.tensor(x), ember.tensor(y)


def test_a_small_3d_cnn_learns_where_the_blob_is():
    rng = np.random.default_rng(0)
    (x, y), (xt, yt) = _volumes(256, rng), _volumes(128, rng)
    model = nn.Sequential(nn.Conv3d(1, 4, 3, padding=1), nn.BatchNorm3d(4), nn.ReLU(), nn.MaxPool3d(2),
                          nn.Conv3d(4, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool3d(2), nn.Flatten(),
                          nn.Linear(64, 4))
    optimizer = ember.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(4):
        for i in range(0, 256, 32):
            loss = F.cross_entropy(model(x[i:i + 32]), y[i:i + 32])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    with ember.no_grad():
        accuracy = (model(xt).argmax(1) == yt).float().mean().item()
    assert accuracy > 0.9
