"""Convolution family (ember/ops/conv.py): gradcheck, double backward, PyTorch comparison, errors."""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck
from ember.ops import conv as C, pooling as P, resample as R
from ember.ops.padding import pad
from helpers import rand64


def _check(fn, *inputs, **kw):
    assert gradcheck(fn, inputs, **kw)


# ---------------------------------------------------------------------------------------------------------------
# gradcheck (float64, small sizes)

CONV2D_CASES = [
    dict(),
    dict(stride=2),
    dict(padding=1),
    dict(stride=(2, 1), padding=(1, 2)),
    dict(dilation=2, padding=2),
    dict(groups=2, padding=1),
    dict(padding="same"),
    dict(padding="same", dilation=(1, 2)),
    dict(padding="valid", stride=2),
]


@pytest.mark.parametrize("kw", CONV2D_CASES, ids=str)
def test_conv2d_gradcheck(kw):
    x, w, b = rand64(1, 4, 5, 5), rand64(2, 4 // kw.get("groups", 1), 3, 3, seed=1), rand64(2, seed=2)
    _check(lambda x, w, b: C.conv2d(x, w, b, **kw), x, w, b)


def test_conv2d_wide_gradcheck():
    x, w, b = rand64(2, 2, 2, 18), rand64(2, 2, 2, 3, seed=1), rand64(2, seed=2)
    _check(lambda x, w, b: C.conv2d(x, w, b, padding=(0, 1)), x, w, b)
    _check(lambda x, w: C.conv_transpose2d(x, w, padding=(0, 1)), x, w)


def test_conv2d_depthwise_gradcheck():
    x, w = rand64(2, 3, 4, 5), rand64(6, 1, 2, 3, seed=1)  # channel multiplier 2
    _check(lambda x, w: C.conv2d(x, w, groups=3, padding=(1, 0), stride=(1, 2)), x, w)


def test_conv2d_unbatched_and_even_same_gradcheck():
    x, w = rand64(2, 4, 5), rand64(3, 2, 2, 2, seed=1)
    _check(lambda x, w: C.conv2d(x, w, padding="same"), x, w)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(dilation=2, padding="same", groups=2)], ids=str)
def test_conv1d_gradcheck(kw):
    g = kw.get("groups", 1)
    x, w, b = rand64(2, 4, 7), rand64(2, 4 // g, 3, seed=1), rand64(2, seed=2)
    _check(lambda x, w, b: C.conv1d(x, w, b, **kw), x, w, b)


CONVT_CASES = [
    dict(),
    dict(stride=2),
    dict(stride=2, padding=1, output_padding=1),
    dict(stride=(1, 2), padding=(1, 0), dilation=2),
    dict(dilation=2, output_padding=1),
    dict(groups=2, stride=2),
    dict(groups=2, padding=1),
]


@pytest.mark.parametrize("kw", CONVT_CASES, ids=str)
def test_conv_transpose2d_gradcheck(kw):
    g = kw.get("groups", 1)
    x, w, b = rand64(1, 2, 3, 4), rand64(2, 4 // g, 3, 2, seed=1), rand64(4, seed=2)
    _check(lambda x, w, b: C.conv_transpose2d(x, w, b, **kw), x, w, b)


def test_conv_transpose1d_gradcheck():
    x, w, b = rand64(2, 4, 4), rand64(4, 1, 3, seed=1), rand64(2, seed=2)
    _check(lambda x, w, b: C.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1, groups=2), x, w, b)


def _distinct(*shape, seed=0):
    """float64 values that are far apart (max pooling's gradient is only defined without ties)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return ember.tensor(rng.permutation(n).reshape(shape) * 0.1, dtype=ember.float64, requires_grad=True)


MAXPOOL_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=(2, 3), stride=1, dilation=2),
    dict(kernel_size=2, stride=1),
]


@pytest.mark.parametrize("kw", MAXPOOL_CASES, ids=str)
def test_max_pool2d_gradcheck(kw):
    _check(lambda x: P.max_pool2d(x, **kw), _distinct(1, 2, 6, 7))


def test_max_pool1d_gradcheck():
    _check(lambda x: P.max_pool1d(x, 3, 2, padding=1, ceil_mode=True), _distinct(2, 2, 8))


AVGPOOL_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=1, divisor_override=4),
]


@pytest.mark.parametrize("kw", AVGPOOL_CASES, ids=str)
def test_avg_pool2d_gradcheck(kw):
    _check(lambda x: P.avg_pool2d(x, **kw), rand64(1, 2, 6, 7))


def test_avg_pool1d_gradcheck():
    _check(lambda x: P.avg_pool1d(x, 3, 2, padding=1, ceil_mode=True, count_include_pad=False), rand64(2, 2, 8))


@pytest.mark.parametrize("size", [1, 3, (2, 5), (4, 3)], ids=str)
def test_adaptive_pool2d_gradcheck(size):
    _check(lambda x: P.adaptive_avg_pool2d(x, size), rand64(1, 2, 5, 6))
    _check(lambda x: P.adaptive_max_pool2d(x, size), _distinct(1, 2, 5, 6))


def test_adaptive_pool1d_gradcheck():
    _check(lambda x: P.adaptive_avg_pool1d(x, 3), rand64(2, 2, 7))
    _check(lambda x: P.adaptive_max_pool1d(x, 3), _distinct(2, 2, 7))


INTERP_CASES = [
    dict(scale_factor=2),
    dict(size=(3, 7)),
    dict(scale_factor=1.5, mode="bilinear"),
    dict(size=(3, 7), mode="bilinear", align_corners=True),
    dict(size=(7, 3), mode="bilinear", align_corners=False),
    dict(size=(2, 3), mode="area"),
    dict(scale_factor=1.6, mode="nearest-exact"),
    dict(scale_factor=(3, 0.5)),
    dict(size=(7, 3), mode="bicubic"),
    dict(scale_factor=0.6, mode="bicubic", align_corners=True),
    dict(size=(2, 3), mode="bilinear", antialias=True),
    dict(size=(3, 2), mode="bicubic", antialias=True, align_corners=True),
]


@pytest.mark.parametrize("kw", INTERP_CASES, ids=str)
def test_interpolate_gradcheck(kw):
    _check(lambda x: R.interpolate(x, **kw), rand64(1, 2, 4, 5))


def test_interpolate_linear_gradcheck():
    _check(lambda x: R.interpolate(x, size=9, mode="linear", align_corners=True), rand64(2, 2, 5))
    _check(lambda x: R.interpolate(x, scale_factor=0.6, mode="linear"), rand64(2, 2, 5))


PAD_CASES = [
    dict(pad=(1, 2)),
    dict(pad=(1, 2, 0, 1), value=3.0),
    dict(pad=(-1, 2, 1, -1)),
    dict(pad=(1, 0, 1, 1, 1, 0)),
    dict(pad=(2, 1, 1, 2), mode="reflect"),
    dict(pad=(2, 1, 1, 2), mode="replicate"),
    dict(pad=(2, 1, 1, 2), mode="circular"),
]


@pytest.mark.parametrize("kw", PAD_CASES, ids=str)
def test_pad_gradcheck(kw):
    _check(lambda x: pad(x, **kw), rand64(1, 2, 3, 4))


# ---------------------------------------------------------------------------------------------------------------
# double backward


def test_conv2d_gradgradcheck():
    x, w, b = rand64(1, 2, 4, 4), rand64(2, 2, 2, 2, seed=1), rand64(2, seed=2)
    assert gradgradcheck(lambda x, w, b: C.conv2d(x, w, b, stride=2, padding=1), (x, w, b))
    assert gradgradcheck(lambda x, w: C.conv2d(x, w, padding=1), (x, w))


def test_conv_grouped_and_transpose_gradgradcheck():
    x, w = rand64(1, 2, 3, 3), rand64(2, 1, 2, 2, seed=1)
    assert gradgradcheck(lambda x, w: C.conv2d(x, w, groups=2, dilation=(1, 2), padding=(0, 1)), (x, w))
    assert gradgradcheck(lambda x, w: C.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1), (x, w))


def test_pool_and_resample_gradgradcheck():
    assert gradgradcheck(lambda x: P.max_pool2d(x, 2, 1), (_distinct(1, 1, 3, 3),))
    assert gradgradcheck(lambda x: P.avg_pool2d(x, 2, 1, padding=1, count_include_pad=False), (rand64(1, 1, 3, 3),))
    assert gradgradcheck(lambda x: R.interpolate(x, size=(4, 5), mode="bilinear"), (rand64(1, 1, 2, 3),))
    assert gradgradcheck(lambda x: pad(x, (1, 1, 2, 0), mode="reflect"), (rand64(1, 1, 3, 3),))


def _input_grad_penalty(x, w):
    """sum(dL/dx ** 2) for L = sum(conv2d(x, w) ** 2): differentiating it runs conv's backward ops' backward."""
    with ember.enable_grad():
        x = x.detach().requires_grad_()
        y = C.conv2d(x, w, stride=2, padding=1)
        (gx,) = ember.autograd.grad((y * y).sum(), [x], create_graph=True)
        return (gx * gx).sum()


def test_gradient_penalty_gradcheck():
    x, w = rand64(1, 2, 4, 4), rand64(2, 2, 3, 3, seed=1)
    _check(lambda w: _input_grad_penalty(x, w), w)


def test_gradient_penalty_matches_torch(torch):
    xa, wa = _rng_arrays((2, 3, 6, 6), (4, 3, 3, 3))
    w = ember.tensor(wa, requires_grad=True)
    _input_grad_penalty(ember.tensor(xa), w).backward()
    x, tw = torch.tensor(xa, requires_grad=True), torch.tensor(wa, requires_grad=True)
    y = torch.nn.functional.conv2d(x, tw, stride=2, padding=1)
    (gx,) = torch.autograd.grad((y * y).sum(), [x], create_graph=True)
    (gx * gx).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-6)


# ---------------------------------------------------------------------------------------------------------------
# dtype and layout


def test_float32_stays_float32():
    x = ember.tensor(np.random.default_rng(0).standard_normal((2, 3, 6, 6)), dtype=ember.float32, requires_grad=True)
    w = ember.tensor(np.ones((4, 3, 3, 3)), dtype=ember.float32, requires_grad=True)
    b = ember.zeros(4, requires_grad=True)
    outs = [C.conv2d(x, w, b, padding=1), C.conv_transpose2d(x, w.transpose(0, 1), stride=2),
            P.max_pool2d(x, 2), P.avg_pool2d(x, 3, 2, 1, count_include_pad=False), P.adaptive_avg_pool2d(x, 4),
            P.adaptive_max_pool2d(x, 4), R.interpolate(x, scale_factor=1.5, mode="bilinear"),
            pad(x, (1, 1, 1, 1), mode="reflect"), pad(x, (1, 2))]
    for y in outs:
        assert y.dtype == ember.float32
        y.sum().backward()
    for t in (x, w, b):
        assert t.grad.dtype == ember.float32


def test_conv_output_is_laid_out_as_pytorch_s():
    """Outputs are C-contiguous (N, C, H, W) arrays: view, reshape and a second conv see the values PyTorch's would
    have, in the memory order PyTorch's would have."""
    rng = np.random.default_rng(0)
    x = ember.tensor(rng.standard_normal((2, 3, 5, 5)))
    w = ember.tensor(rng.standard_normal((4, 3, 3, 3)))
    y = C.conv2d(x, w, padding=1)
    ref = _conv_ref(x.numpy(), w.numpy(), 1)
    assert y.is_contiguous() and y.stride() == (100, 25, 5, 1)
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(y.view(2, -1).numpy(), ref.reshape(2, -1), rtol=1e-6, atol=1e-6)
    w2 = ember.tensor(rng.standard_normal((2, 4, 3, 3)))
    np.testing.assert_allclose(C.conv2d(y, w2).numpy(), _conv_ref(ref, w2.numpy(), 0), rtol=1e-5, atol=1e-5)


def _conv_ref(x, w, p):
    """Direct NumPy convolution (loops over output pixels), independent of the im2col code."""
    x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    out = np.zeros((n, o, h - kh + 1, wd - kw + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = np.einsum("nchw,ochw->no", x[:, :, i:i + kh, j:j + kw], w)
    return out


def test_empty_batch():
    x = ember.zeros(0, 3, 5, 5, requires_grad=True)
    w = ember.ones(4, 3, 3, 3, requires_grad=True)
    y = C.conv2d(x, w, padding=1)
    assert y.shape == (0, 4, 5, 5)
    (P.max_pool2d(y, 2).sum() + C.conv_transpose2d(y, w, stride=2).sum()).backward()
    assert x.grad.shape == x.shape and w.grad.abs().sum().item() == 0


def test_max_pool_indices_and_ties():
    x = ember.tensor([[[[1.0, 3.0, 3.0, 0.0, 5.0, 5.0], [3.0, 2.0, 0.0, 0.0, 5.0, 5.0]]]], requires_grad=True)
    y, idx = P.max_pool2d(x, 2, return_indices=True)
    assert y.tolist() == [[[[3.0, 3.0, 5.0]]]]
    assert idx.dtype == ember.int64 and idx.tolist() == [[[[1, 2, 4]]]]  # the first maximum in scan order
    y.sum().backward()
    assert x.grad.tolist() == [[[[0.0, 1.0, 1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]]]


# ---------------------------------------------------------------------------------------------------------------
# PyTorch comparison (values and gradients)


def _same_layout(e, t):
    """An ember tensor is laid out as the PyTorch one: contiguity and strides (no internal layout shows)."""
    assert (e.is_contiguous(), e.stride()) == (t.is_contiguous(), t.stride())


def _torch_compare(torch, efn, tfn, arrays, rtol=1e-6, atol=1e-8, indices=False, layout=True):
    """Values, gradients and (unless layout is False) the layouts of outputs and gradients (the leaves' and the one
    the op hands back to its input, seen by a hook) against PyTorch."""
    es = [ember.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    seen = {}
    es[0].register_hook(lambda g: seen.setdefault("ember", g))
    ts[0].register_hook(lambda g: seen.setdefault("torch", g))
    eo, to = efn(*es), tfn(*ts)
    if indices:
        (eo, ei), (to, ti) = eo, to
        np.testing.assert_array_equal(ei.numpy(), ti.numpy())
        if layout:
            _same_layout(ei, ti)
    assert tuple(eo.shape) == tuple(to.shape)
    if layout:
        _same_layout(eo, to)
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), rtol=rtol, atol=atol)
    g = np.random.default_rng(1).standard_normal(tuple(eo.shape)).astype(arrays[0].dtype)
    eo.backward(ember.tensor(g))
    to.backward(torch.tensor(g))
    if layout:
        _same_layout(seen["ember"], seen["torch"])
    for e, t in zip(es, ts):
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)
        if layout:
            _same_layout(e.grad, t.grad)


def _rng_arrays(*shapes, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


@pytest.mark.parametrize("kw", CONV2D_CASES + [dict(stride=(2, 3), padding=(2, 1), dilation=(2, 1), groups=2)],
                         ids=str)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
def test_conv2d_matches_torch(kw, bias, torch):
    g = kw.get("groups", 1)
    arrays = _rng_arrays((2, 4, 9, 8), (6, 4 // g, 3, 2), (6,))
    if bias:
        _torch_compare(torch, lambda x, w, b: C.conv2d(x, w, b, **kw),
                       lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **kw), arrays)
    else:
        _torch_compare(torch, lambda x, w: C.conv2d(x, w, **kw),
                       lambda x, w: torch.nn.functional.conv2d(x, w, **kw), arrays[:2])


def test_conv2d_float32_matches_torch(torch):
    arrays = _rng_arrays((4, 8, 12, 12), (16, 8, 3, 3), (16,), dtype=np.float32)
    _torch_compare(torch, lambda x, w, b: C.conv2d(x, w, b, padding=1),
                   lambda x, w, b: torch.nn.functional.conv2d(x, w, b, padding=1), arrays, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("width", [9, 20])
@pytest.mark.parametrize("blocks", ["one", "many"])
def test_conv_layouts_and_blocks_match_torch(width, blocks, monkeypatch, torch):
    F = torch.nn.functional
    if blocks == "many":  # im2col in blocks of one image / one output row, never kept for the weight gradient
        monkeypatch.setattr(C, "_BLOCK_BYTES", 1)
        monkeypatch.setattr(C, "_KEEP_BYTES", 0)
    for kw in [dict(padding=1), dict(stride=2, groups=2), dict(padding=(2, 0), dilation=2, groups=2)]:
        g = kw.get("groups", 1)
        _torch_compare(torch, lambda x, w, b: C.conv2d(x, w, b, **kw), lambda x, w, b: F.conv2d(x, w, b, **kw),
                       _rng_arrays((3, 4, 7, width), (6, 4 // g, 3, 3), (6,)))
        _torch_compare(torch, lambda x, w: C.conv_transpose2d(x, w, **kw), lambda x, w: F.conv_transpose2d(x, w, **kw),
                       _rng_arrays((3, 4, 7, width), (4, 6 // g, 3, 3)))
    _torch_compare(torch, lambda x, w: C.conv1d(x, w, padding=1), lambda x, w: F.conv1d(x, w, padding=1),
                   _rng_arrays((3, 4, 2 * width), (5, 4, 3)))


def test_conv_depthwise_and_1d_match_torch(torch):
    F = torch.nn.functional
    _torch_compare(torch, lambda x, w: C.conv2d(x, w, groups=4, padding=1),
                   lambda x, w: F.conv2d(x, w, groups=4, padding=1), _rng_arrays((2, 4, 6, 6), (8, 1, 3, 3)))
    for kw in [dict(), dict(stride=3, padding=2, dilation=2), dict(padding="same", groups=2)]:
        _torch_compare(torch, lambda x, w, b: C.conv1d(x, w, b, **kw), lambda x, w, b: F.conv1d(x, w, b, **kw),
                       _rng_arrays((2, 4, 13), (6, 4 // kw.get("groups", 1), 4), (6,)))
    _torch_compare(torch, lambda x, w: C.conv2d(x, w, padding=1), lambda x, w: F.conv2d(x, w, padding=1),
                   _rng_arrays((3, 5, 5), (2, 3, 3, 3)))  # unbatched


@pytest.mark.parametrize("kw", CONVT_CASES + [dict(stride=3, padding=2, output_padding=2, dilation=(1, 2)),
                                              dict(padding=3)], ids=str)
def test_conv_transpose2d_matches_torch(kw, torch):
    g = kw.get("groups", 1)
    _torch_compare(torch, lambda x, w, b: C.conv_transpose2d(x, w, b, **kw),
                   lambda x, w, b: torch.nn.functional.conv_transpose2d(x, w, b, **kw),
                   _rng_arrays((2, 4, 5, 6), (4, 6 // g, 3, 3), (6,)))


def test_conv_transpose1d_matches_torch(torch):
    for kw in [dict(stride=2, output_padding=1), dict(padding=1, dilation=3, groups=2)]:
        _torch_compare(torch, lambda x, w: C.conv_transpose1d(x, w, **kw),
                       lambda x, w: torch.nn.functional.conv_transpose1d(x, w, **kw),
                       _rng_arrays((2, 4, 7), (4, 3, 3)))


@pytest.mark.parametrize("kw", MAXPOOL_CASES + [dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, dilation=2),
                                                dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 0))], ids=str)
def test_max_pool2d_matches_torch(kw, torch):
    _torch_compare(torch, lambda x: P.max_pool2d(x, return_indices=True, **kw),
                   lambda x: torch.nn.functional.max_pool2d(x, return_indices=True, **kw),
                   _rng_arrays((2, 3, 9, 10)), indices=True)


def test_max_pool1d_matches_torch(torch):
    for kw in [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, dilation=2)]:
        _torch_compare(torch, lambda x: P.max_pool1d(x, return_indices=True, **kw),
                       lambda x: torch.nn.functional.max_pool1d(x, return_indices=True, **kw),
                       _rng_arrays((2, 3, 11)), indices=True)


@pytest.mark.parametrize("kw", AVGPOOL_CASES + [dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1),
                                                     ceil_mode=True)], ids=str)
def test_avg_pool2d_matches_torch(kw, torch):
    _torch_compare(torch, lambda x: P.avg_pool2d(x, **kw), lambda x: torch.nn.functional.avg_pool2d(x, **kw),
                   _rng_arrays((2, 3, 9, 10)))


def test_avg_pool1d_matches_torch(torch):
    for kw in [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)]:
        _torch_compare(torch, lambda x: P.avg_pool1d(x, **kw), lambda x: torch.nn.functional.avg_pool1d(x, **kw),
                       _rng_arrays((2, 3, 10)))


@pytest.mark.parametrize("size", [1, 3, (2, 5), (None, 4), (9, 10), (6, 7)], ids=str)
def test_adaptive_pool2d_matches_torch(size, torch):
    F = torch.nn.functional
    arrays = _rng_arrays((2, 3, 9, 10))
    _torch_compare(torch, lambda x: P.adaptive_avg_pool2d(x, size), lambda x: F.adaptive_avg_pool2d(x, size), arrays)
    _torch_compare(torch, lambda x: P.adaptive_max_pool2d(x, size, return_indices=True),
                   lambda x: F.adaptive_max_pool2d(x, size, return_indices=True), arrays, indices=True)


def test_adaptive_pool1d_matches_torch(torch):
    F = torch.nn.functional
    for size in (1, 4, 7):
        arrays = _rng_arrays((2, 3, 10))
        _torch_compare(torch, lambda x: P.adaptive_avg_pool1d(x, size), lambda x: F.adaptive_avg_pool1d(x, size),
                       arrays)
        _torch_compare(torch, lambda x: P.adaptive_max_pool1d(x, size, return_indices=True),
                       lambda x: F.adaptive_max_pool1d(x, size, return_indices=True), arrays, indices=True)


def _tied_arrays(shape, kind):
    """Inputs full of ties: small integers, all equal, -inf among them, NaN among them."""
    rng = np.random.default_rng(3)
    a = rng.integers(0, 3, shape).astype(np.float64)
    if kind == "equal":
        a[:] = 1.0
    elif kind == "-inf":
        a[rng.random(shape) < 0.6] = -np.inf
        a[0, 0] = -np.inf  # whole windows of -inf, some starting in the padding
    elif kind == "nan":
        a[rng.random(shape) < 0.3] = np.nan
    return [a]


@pytest.mark.parametrize("kind", ["integers", "equal", "-inf", "nan"])
def test_max_pools_pick_torch_index_on_ties(kind, torch):
    """The index (and so the gradient) PyTorch picks: the first maximum, the last NaN, and in a window of -inf its
    first element inside the input."""
    F = torch.nn.functional
    cases2d = [dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=3, stride=1, padding=1, dilation=2),
               dict(kernel_size=2, stride=2, ceil_mode=True), dict(kernel_size=(2, 3), stride=1)]
    for kw in cases2d:
        _torch_compare(torch, lambda x: P.max_pool2d(x, return_indices=True, **kw),
                       lambda x: F.max_pool2d(x, return_indices=True, **kw), _tied_arrays((2, 2, 7, 6), kind),
                       indices=True, layout=False)
        kw1 = {k: v[0] if isinstance(v, tuple) else v for k, v in kw.items()}
        _torch_compare(torch, lambda x: P.max_pool1d(x, return_indices=True, **kw1),
                       lambda x: F.max_pool1d(x, return_indices=True, **kw1), _tied_arrays((2, 2, 9), kind),
                       indices=True, layout=False)
    for size in [(3, 2), (2, 5), 4]:  # uneven windows, then even ones
        _torch_compare(torch, lambda x: P.adaptive_max_pool2d(x, size, return_indices=True),
                       lambda x: F.adaptive_max_pool2d(x, size, return_indices=True), _tied_arrays((2, 2, 8, 6), kind),
                       indices=True, layout=False)
        n = size if isinstance(size, int) else size[1]
        _torch_compare(torch, lambda x: P.adaptive_max_pool1d(x, n, return_indices=True),
                       lambda x: F.adaptive_max_pool1d(x, n, return_indices=True), _tied_arrays((2, 2, 8), kind),
                       indices=True, layout=False)


@pytest.mark.parametrize("kw", INTERP_CASES + [
    dict(scale_factor=(0.5, 2.3)), dict(size=(14, 16), mode="bilinear"), dict(scale_factor=0.6, mode="bilinear"),
    dict(scale_factor=2.5, mode="bilinear", recompute_scale_factor=True), dict(size=(9, 5), mode="nearest-exact"),
    dict(scale_factor=1.7), dict(size=(4, 4), mode="area"), dict(size=(15, 5), mode="bicubic"),
    dict(scale_factor=2.5, mode="bicubic", align_corners=True), dict(scale_factor=(0.45, 1.3), mode="bicubic"),
    dict(size=(3, 2), mode="bilinear", antialias=True), dict(scale_factor=0.3, mode="bicubic", antialias=True),
    dict(scale_factor=(2, 0.4), mode="bilinear", antialias=True, align_corners=True),
    dict(size=(9, 3), mode="bicubic", antialias=True, align_corners=True)], ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_interpolate_matches_torch(kw, dtype, torch):
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else {}
    _torch_compare(torch, lambda x: R.interpolate(x, **kw), lambda x: torch.nn.functional.interpolate(x, **kw),
                   _rng_arrays((2, 3, 7, 8), dtype=dtype), **tol)


def test_interpolate_1d_3d_match_torch(torch):
    F = torch.nn.functional
    for kw in [dict(size=20, mode="linear"), dict(scale_factor=0.7, mode="linear", align_corners=True),
               dict(scale_factor=3), dict(size=4, mode="area")]:
        _torch_compare(torch, lambda x: R.interpolate(x, **kw), lambda x: F.interpolate(x, **kw),
                       _rng_arrays((2, 3, 9)))
    # layout=False: resample's maps along three axes leave a non-contiguous output (resample.py, not this family)
    _torch_compare(torch, lambda x: R.interpolate(x, size=(4, 3, 7), mode="trilinear"),
                   lambda x: F.interpolate(x, size=(4, 3, 7), mode="trilinear"), _rng_arrays((1, 2, 3, 4, 5)),
                   layout=False)
    _torch_compare(torch, lambda x: R.interpolate(x, size=(1, 3), mode="bilinear"),
                   lambda x: F.interpolate(x, size=(1, 3), mode="bilinear"), _rng_arrays((1, 2, 2, 2)))


@pytest.mark.parametrize("kw", [dict(size=1100, mode="linear"), dict(size=2100), dict(scale_factor=3),
                                dict(size=1300, mode="area")], ids=str)
def test_interpolate_long_axis_matches_torch(kw, torch):
    """Axes longer than the dense-matrix limit take the sparse path (gathers and scatter-adds)."""
    _torch_compare(torch, lambda x: R.interpolate(x, **kw), lambda x: torch.nn.functional.interpolate(x, **kw),
                   _rng_arrays((1, 2, 1500)))


@pytest.mark.parametrize("kw", PAD_CASES + [dict(pad=(3, 2, 2, 3), mode="reflect"), dict(pad=(0, 0, 3, 0), value=-1.0),
                                            dict(pad=(1, 1, 1, 1, 1, 1, 1, 1))], ids=str)
def test_pad_matches_torch(kw, torch):
    _torch_compare(torch, lambda x: pad(x, **kw), lambda x: torch.nn.functional.pad(x, **kw),
                   _rng_arrays((2, 3, 4, 5)))


def test_pad_1d_3d_match_torch(torch):
    F = torch.nn.functional
    for mode in ("reflect", "replicate", "circular"):
        _torch_compare(torch, lambda x: pad(x, (3, 2), mode=mode), lambda x: F.pad(x, (3, 2), mode=mode),
                       _rng_arrays((2, 3, 5)))
        _torch_compare(torch, lambda x: pad(x, (1, 2, 0, 1, 2, 1), mode=mode),
                       lambda x: F.pad(x, (1, 2, 0, 1, 2, 1), mode=mode), _rng_arrays((1, 2, 3, 4, 5)))


# the layouts of edge shapes (each is a PyTorch comparison of values, gradients and layouts): no batch dimension,
# outputs with dimensions of size 1, one image, and each internal path (gather or scatter transposed convolution,
# 1x1 convolution reading its input as it is, equal or uneven adaptive windows). name: (fn(F, *inputs), input
# shapes[, whether it returns indices])
LAYOUT_CASES = {
    "conv2d_unbatched": (lambda F, x, w: F.conv2d(x, w, padding=1), [(3, 5, 6), (4, 3, 3, 3)]),
    "conv2d_one_image": (lambda F, x, w, b: F.conv2d(x, w, b, stride=2), [(1, 3, 5, 6), (4, 3, 3, 3), (4,)]),
    "conv2d_1x1_output": (lambda F, x, w: F.conv2d(x, w), [(2, 3, 3, 3), (4, 3, 3, 3)]),
    "conv2d_1x1_kernel": (lambda F, x, w, b: F.conv2d(x, w, b), [(2, 3, 4, 5), (6, 3, 1, 1), (6,)]),
    "conv2d_one_row": (lambda F, x, w: F.conv2d(x, w, padding=(0, 1)), [(2, 3, 3, 6), (4, 3, 3, 3)]),
    "conv1d_unbatched": (lambda F, x, w: F.conv1d(x, w, stride=2), [(3, 9), (4, 3, 3)]),
    "conv1d_length_1": (lambda F, x, w: F.conv1d(x, w), [(2, 3, 3), (4, 3, 3)]),
    "conv_transpose2d_gather": (lambda F, x, w: F.conv_transpose2d(x, w, padding=1), [(2, 3, 4, 5), (3, 4, 3, 3)]),
    "conv_transpose2d_scatter_wide": (lambda F, x, w: F.conv_transpose2d(x, w, padding=1),
                                      [(2, 8, 4, 5), (8, 2, 3, 3)]),
    "conv_transpose2d_strided": (lambda F, x, w, b: F.conv_transpose2d(x, w, b, 2, 1, 1), [(2, 4, 3, 3), (4, 3, 3, 3),
                                                                                          (3,)]),
    "conv_transpose1d_unbatched": (lambda F, x, w: F.conv_transpose1d(x, w, stride=2), [(4, 5), (4, 3, 3)]),
    "max_pool2d_unbatched": (lambda F, x: F.max_pool2d(x, 3, 2, 1), [(3, 7, 6)]),
    "max_pool2d_1x1_output": (lambda F, x: F.max_pool2d(x, 4, return_indices=True), [(2, 3, 4, 5)], True),
    "max_pool1d_unbatched": (lambda F, x: F.max_pool1d(x, 2, return_indices=True), [(3, 8)], True),
    "avg_pool2d_1x1_output": (lambda F, x: F.avg_pool2d(x, 4), [(2, 3, 4, 4)]),
    "avg_pool1d_padded": (lambda F, x: F.avg_pool1d(x, 3, 2, 1, count_include_pad=False), [(2, 3, 8)]),
    "adaptive_avg_pool2d_global": (lambda F, x: F.adaptive_avg_pool2d(x, 1), [(2, 3, 5, 4)]),
    "adaptive_avg_pool1d": (lambda F, x: F.adaptive_avg_pool1d(x, 3), [(2, 3, 7)]),
    "adaptive_max_pool2d_even": (lambda F, x: F.adaptive_max_pool2d(x, 2, return_indices=True), [(2, 3, 6, 4)],
                                 True),
    "adaptive_max_pool1d_uneven": (lambda F, x: F.adaptive_max_pool1d(x, 3), [(2, 3, 7)]),
}


@pytest.mark.parametrize("case", sorted(LAYOUT_CASES))
def test_edge_layouts_match_torch(case, torch):
    fn, shapes, *indices = LAYOUT_CASES[case]
    _torch_compare(torch, lambda *a: fn(ember.nn.functional, *a), lambda *a: fn(torch.nn.functional, *a),
                   _rng_arrays(*shapes), indices=bool(indices))


def _conv_block_chain(F, x, w1, w2, bn_w, bn_b):
    """conv -> batch norm -> relu -> max pool -> conv -> avg pool -> view: every output of the chain is an input of
    the next op as a user would see it."""
    y = F.batch_norm(F.conv2d(x, w1, padding=1), None, None, bn_w, bn_b, training=True)
    y = F.conv2d(F.max_pool2d(F.relu(y), 2), w2, stride=2, padding=1)
    return F.avg_pool2d(y, 2).view(-1, 4 * 1 * 1)


def test_conv_chain_matches_torch_and_views(torch):
    _torch_compare(torch, lambda *a: _conv_block_chain(ember.nn.functional, *a),
                   lambda *a: _conv_block_chain(torch.nn.functional, *a),
                   _rng_arrays((3, 2, 8, 8), (5, 2, 3, 3), (4, 5, 3, 3), (5,), (5,)))


def _blitz_net(nn, F):
    """The CNN of PyTorch's 60-minute blitz (training a classifier), as written there: ``x.view(-1, 16 * 5 * 5)``
    after the second pool."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 6, 5)
            self.pool = nn.MaxPool2d(2, 2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))
            x = self.pool(F.relu(self.conv2(x)))
            x = x.view(-1, 16 * 5 * 5)
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            return self.fc3(x)

    return Net()


def test_blitz_cnn_trains():
    """The blitz CNN runs unchanged (its view after a convolution and a pool) and learns a small batch."""
    import ember.nn as nn
    import ember.nn.functional as F
    net = _blitz_net(nn, F)
    rng = np.random.default_rng(0)
    inputs = ember.tensor(rng.standard_normal((8, 3, 32, 32)).astype(np.float32))
    labels = ember.tensor(rng.integers(0, 10, size=8))
    criterion = nn.CrossEntropyLoss()
    optimizer = ember.optim.SGD(net.parameters(), lr=0.02, momentum=0.9)
    losses = []
    for _ in range(15):
        optimizer.zero_grad()
        loss = criterion(net(inputs), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all() and losses[-1] < 0.75 * losses[0]
    for p in net.parameters():
        assert p.grad.is_contiguous() and p.grad.stride() == p.stride()


def test_blitz_cnn_matches_torch(torch):
    """The same network with the same weights gives PyTorch's outputs and gradients."""
    import ember.nn as nn
    import ember.nn.functional as F
    net, tnet = _blitz_net(nn, F), _blitz_net(torch.nn, torch.nn.functional)
    with torch.no_grad():
        for p, tp in zip(net.parameters(), tnet.parameters()):
            tp.copy_(torch.from_numpy(p.detach().numpy()))
    x = np.random.default_rng(1).standard_normal((4, 3, 32, 32)).astype(np.float32)
    out, tout = net(ember.tensor(x)), tnet(torch.tensor(x))
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-4, atol=1e-5)
    out.sum().backward()
    tout.sum().backward()
    for p, tp in zip(net.parameters(), tnet.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-3, atol=1e-4)


# ---------------------------------------------------------------------------------------------------------------
# errors


def _x(*shape):
    return ember.zeros(*shape)


@pytest.mark.parametrize("call, exc, msg", [
    (lambda: C.conv2d(_x(3, 32), _x(6, 3, 3, 3)), RuntimeError,
     r"conv2d: expected input with 4 dims \(N, C, H, W\) or 3 dims, got shape \(3, 32\)"),
    (lambda: C.conv2d(_x(1, 3, 8, 8), _x(6, 6, 3, 3)), RuntimeError,
     r"conv2d: input has 3 channels but weight expects 6 \(groups=1\)"),
    (lambda: C.conv2d(_x(1, 4, 8, 8), _x(6, 1, 3, 3), groups=2), RuntimeError,
     r"conv2d: input has 4 channels but weight expects 2 \(groups=2\)"),
    (lambda: C.conv2d(_x(1, 4, 8, 8), _x(5, 2, 3, 3), groups=2), RuntimeError,
     r"conv2d: out_channels \(weight.shape\[0\] = 5\) must be divisible by groups=2"),
    (lambda: C.conv2d(_x(1, 3, 2, 2), _x(6, 3, 3, 3)), RuntimeError,
     r"conv2d: kernel size \(3, 3\) is larger than the padded input size \(2, 2\) \(input shape \(1, 3, 2, 2\)"),
    (lambda: C.conv2d(_x(1, 3, 4, 4), _x(6, 3, 3, 3), dilation=2), RuntimeError,
     r"conv2d: kernel size \(3, 3\) \(dilated \(5, 5\)\) is larger than the padded input size \(4, 4\)"),
    (lambda: C.conv2d(_x(1, 3, 8, 8), _x(6, 3, 3)), RuntimeError,
     r"conv2d: expected weight with 4 dims \(out_channels, in_channels/groups, kH, kW\), got shape \(6, 3, 3\)"),
    (lambda: C.conv2d(_x(1, 3, 8, 8), _x(6, 3, 3, 3), _x(5)), RuntimeError,
     r"conv2d: expected bias of shape \(6,\) for weight of shape \(6, 3, 3, 3\), got \(5,\)"),
    (lambda: C.conv2d(_x(1, 3, 8, 8).double(), _x(6, 3, 3, 3)), RuntimeError,
     r"conv2d: input dtype ember.float64 and weight dtype ember.float32 must be the same"),
    (lambda: C.conv2d(_x(1, 3, 8, 8).long(), _x(6, 3, 3, 3)), RuntimeError,
     r"conv2d: expected a floating-point input, got ember.int64"),
    (lambda: C.conv2d(_x(1, 3, 8, 8), _x(6, 3, 3, 3), stride=2, padding="same"), RuntimeError,
     r"conv2d: padding='same' is not supported for strided convolutions"),
    (lambda: C.conv2d(_x(1, 3, 8, 8), _x(6, 3, 3, 3), padding="full"), RuntimeError,
     r"conv2d: invalid padding string 'full'"),
    (lambda: C.conv2d(_x(1, 3, 8, 8), _x(6, 3, 3, 3), padding=-1), RuntimeError,
     r"conv2d: negative padding is not supported"),
    (lambda: C.conv2d(_x(1, 3, 8, 8), _x(6, 3, 3, 3), stride=0), RuntimeError,
     r"conv2d: non-positive stride is not supported"),
    (lambda: C.conv2d(_x(1, 3, 8, 8), _x(6, 3, 3, 3), stride=(1, 2, 3)), RuntimeError,
     r"conv2d: stride must be an int or a tuple of 2 ints"),
    (lambda: C.conv2d(_x(1, 3, 8, 8), _x(6, 3, 3, 3), groups=0), RuntimeError,
     r"conv2d: non-positive groups is not supported"),
    (lambda: C.conv1d(_x(2, 3, 4, 5), _x(6, 3, 3)), RuntimeError,
     r"conv1d: expected input with 3 dims \(N, C, L\) or 2 dims, got shape \(2, 3, 4, 5\)"),
    (lambda: C.conv_transpose2d(_x(1, 3, 5, 5), _x(4, 2, 3, 3)), RuntimeError,
     r"conv_transpose2d: input has 3 channels but weight expects 4 \(groups=1\)"),
    (lambda: C.conv_transpose2d(_x(1, 3, 5, 5), _x(3, 2, 3, 3), stride=2, output_padding=2), RuntimeError,
     r"conv_transpose2d: output padding must be smaller than either stride or dilation"),
    (lambda: C.conv_transpose2d(_x(1, 3, 1, 1), _x(3, 2, 3, 3), padding=2), RuntimeError,
     r"conv_transpose2d: output size \(-1, -1\) is not positive"),
    (lambda: P.max_pool2d(_x(1, 3, 5, 5), 3, padding=2), RuntimeError,
     r"max_pool2d: pad should be at most half of effective kernel size"),
    (lambda: P.max_pool2d(_x(1, 3, 5, 5), 7), RuntimeError,
     r"max_pool2d: output size \(0, 0\) is too small \(input shape \(1, 3, 5, 5\)"),
    (lambda: P.max_pool2d(_x(5, 5), 2), RuntimeError,
     r"max_pool2d: expected input with 4 dims \(N, C, H, W\) or 3 dims, got shape \(5, 5\)"),
    (lambda: P.avg_pool2d(_x(1, 3, 5, 5), 3, padding=2), RuntimeError,
     r"avg_pool2d: pad should be at most half of kernel size"),
    (lambda: P.avg_pool2d(_x(1, 3, 5, 5), 2, divisor_override=0), RuntimeError,
     r"avg_pool2d: divisor must be not zero"),
    (lambda: P.adaptive_avg_pool2d(_x(1, 3, 5, 5), (0, 2)), RuntimeError,
     r"adaptive_avg_pool2d: output_size \(0, 2\) must be positive"),
    (lambda: R.interpolate(_x(1, 3, 5, 5)), ValueError, r"interpolate: either size or scale_factor"),
    (lambda: R.interpolate(_x(1, 3, 5, 5), size=3, scale_factor=2), ValueError, r"interpolate: only one of size"),
    (lambda: R.interpolate(_x(1, 3, 5, 5), scale_factor=2, align_corners=True), ValueError,
     r"interpolate: align_corners option can only be set with the interpolating modes"),
    (lambda: R.interpolate(_x(1, 3, 5, 5), scale_factor=2, mode="linear"), NotImplementedError,
     r"interpolate: got a 4-D input, but linear mode needs a 3-D input"),
    (lambda: R.interpolate(_x(1, 3, 5), size=4, mode="bicubic"), NotImplementedError,
     r"interpolate: got a 3-D input, but bicubic mode needs a 4-D input"),
    (lambda: R.interpolate(_x(1, 3, 5), size=4, mode="linear", antialias=True), ValueError,
     r"interpolate: Anti-alias option is restricted to bilinear and bicubic modes"),
    (lambda: R.interpolate(_x(1, 3, 5, 5), size=(2, 2, 2)), ValueError,
     r"interpolate: input with spatial shape \(5, 5\) needs a size of 2 ints"),
    (lambda: pad(_x(1, 3, 5), (1,)), RuntimeError, r"pad: padding length must be divisible by 2"),
    (lambda: pad(_x(3, 5), (1, 1, 1, 1, 1, 1)), RuntimeError, r"pad: padding length 6 is too large"),
    (lambda: pad(_x(1, 3, 5), (5, 1), mode="reflect"), RuntimeError,
     r"pad: padding \(5, 1\) should be less than the input size 5 in dimension 2"),
    (lambda: pad(_x(1, 3, 5), (1, 1), mode="wrap"), NotImplementedError, r"pad: unrecognised padding mode 'wrap'"),
    (lambda: pad(_x(1, 3, 5), (1, 1), mode="reflect", value=2.0), RuntimeError,
     r"pad: padding mode \"reflect\" doesn't take in value argument"),
    (lambda: pad(_x(1, 3, 5), (-3, -3)), RuntimeError, r"pad: the input size 5 plus padding \(-3, -3\) is negative"),
])
def test_errors(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()
