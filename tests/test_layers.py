"""Every layer module against PyTorch: same constructor arguments, the torch state_dict copied in by name, then
equal outputs, input gradients, parameter gradients, state_dict keys, reprs and default initialisation statistics."""
import math
import re

import numpy as np
import pytest

import ember
import ember.nn as enn

try:  # PyTorch is the reference; the tests that need no reference run without it
    import torch
    tnn = torch.nn
except ImportError:
    torch = tnn = None
needs_torch = pytest.mark.skipif(torch is None, reason="needs PyTorch as the reference")

RNG = np.random.default_rng(0)


def _t_tensor(a):
    return torch.tensor(np.asarray(a))


def _e_tensor(a):
    return ember.tensor(np.asarray(a))


def _np(t):
    if isinstance(t, ember.Tensor):
        return np.asarray(t.detach().numpy())
    return t.detach().numpy()


def _close(a, b, what, rtol=1e-7, atol=1e-10):
    a, b = _np(a), _np(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != torch's {b.shape}"
    assert a.dtype == b.dtype, f"{what}: dtype {a.dtype} != torch's {b.dtype}"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)


def _perturb(tmod):
    """Move torch's parameters off their (often symmetric) defaults so that a wrong mapping shows."""
    with torch.no_grad():
        for p in tmod.parameters():
            p.add_(torch.tensor(RNG.uniform(-0.5, 0.5, size=tuple(p.shape))))


def _copy_state(tmod, emod):
    result = emod.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tmod.state_dict().items()})
    assert not result.missing_keys and not result.unexpected_keys


def _check_state(tmod, emod, what):
    ts, es = tmod.state_dict(), emod.state_dict()
    assert list(es) == list(ts), f"{what}: state_dict keys {list(es)} != torch's {list(ts)}"
    for k in ts:
        _close(es[k], ts[k], f"{what}: state_dict[{k!r}]")


def _run(tmod, emod, inputs, grads, what, rtol=1e-7, atol=1e-10, kwargs=None):
    """Forward the same inputs through both, backward a random cotangent, compare everything."""
    kwargs = kwargs or {}
    tin = [torch.tensor(a, requires_grad=i in grads) for i, a in enumerate(inputs)]
    ein = [ember.tensor(a, requires_grad=i in grads) for i, a in enumerate(inputs)]
    tout, eout = tmod(*tin, **kwargs), emod(*ein, **kwargs)
    touts = tout if isinstance(tout, tuple) else (tout,)
    eouts = eout if isinstance(eout, tuple) else (eout,)
    assert len(eouts) == len(touts), what
    for i, (e, t) in enumerate(zip(eouts, touts)):
        _close(e, t, f"{what}: output {i}", rtol, atol)
    if not touts[0].requires_grad:
        assert not eouts[0].requires_grad, f"{what}: output requires grad but torch's does not"
        return
    cot = RNG.standard_normal(tuple(touts[0].shape))
    touts[0].backward(torch.tensor(cot))
    eouts[0].backward(ember.tensor(cot))
    for i in grads:
        assert ein[i].grad is not None, f"{what}: no gradient for input {i}"
        _close(ein[i].grad, tin[i].grad, f"{what}: grad of input {i}", rtol, atol)
    eparams = dict(emod.named_parameters())
    for name, tp in tmod.named_parameters():
        ep = eparams[name]
        assert ep.requires_grad == tp.requires_grad, f"{what}: {name}.requires_grad"
        if tp.grad is None:
            assert ep.grad is None or not _np(ep.grad).any(), f"{what}: {name}.grad should be None"
        else:
            assert ep.grad is not None, f"{what}: no gradient for parameter {name}"
            _close(ep.grad, tp.grad, f"{what}: grad of {name}", rtol, atol)


def _pair(make):
    """(torch module, ember module) in float64 with torch's perturbed state copied into ember."""
    tmod, emod = make(tnn, _t_tensor).double(), make(enn, _e_tensor).double()
    _perturb(tmod)
    assert str(emod) == str(tmod)
    assert list(emod.state_dict()) == list(tmod.state_dict())
    _copy_state(tmod, emod)
    return tmod, emod


def _check(make, shapes, grads=None, *, what, rtol=1e-7, atol=1e-10, kwargs=None):
    """shapes: input arrays or shapes (a shape gives a standard-normal float64 input)."""
    inputs = [np.asarray(s) if isinstance(s, np.ndarray) else RNG.standard_normal(s) for s in shapes]
    if grads is None:
        grads = tuple(i for i, a in enumerate(inputs) if a.dtype.kind == "f")
    tmod, emod = _pair(make)
    _run(tmod, emod, inputs, grads, what, rtol, atol, kwargs)
    _check_state(tmod, emod, what)
    return tmod, emod


def _case(make, *shapes, grads=None, id=None, **kw):
    return pytest.param(make, shapes, grads, kw, id=id)


# --- convolutions -------------------------------------------------------------------------------------------

PAD_MODES = ["zeros", "reflect", "replicate", "circular"]

CONV_CASES = [
    _case(lambda nn, T: nn.Conv1d(3, 4, 3), (2, 3, 10), id="conv1d"),
    _case(lambda nn, T: nn.Conv1d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2, bias=False), (2, 4, 11),
          id="conv1d-strided-groups-nobias"),
    _case(lambda nn, T: nn.Conv1d(3, 4, 3, padding="valid"), (2, 3, 9), id="conv1d-valid"),
    _case(lambda nn, T: nn.Conv1d(3, 4, 3), (3, 10), id="conv1d-unbatched"),
    _case(lambda nn, T: nn.Conv2d(3, 4, 3), (2, 3, 7, 8), id="conv2d"),
    _case(lambda nn, T: nn.Conv2d(3, 4, (2, 3), stride=(2, 1), padding=(1, 2)), (2, 3, 7, 8), id="conv2d-asym"),
    _case(lambda nn, T: nn.Conv2d(4, 6, 3, padding=1, groups=2, bias=False), (2, 4, 6, 5), id="conv2d-groups"),
    _case(lambda nn, T: nn.Conv2d(4, 8, 3, groups=4, dilation=2, stride=2), (2, 4, 9, 9), id="conv2d-depthwise"),
    _case(lambda nn, T: nn.Conv2d(3, 4, 3, padding="valid"), (2, 3, 6, 7), id="conv2d-valid"),
    _case(lambda nn, T: nn.Conv2d(3, 4, 3, padding=1), (3, 6, 7), id="conv2d-unbatched"),
]
for _m in PAD_MODES:
    CONV_CASES += [
        _case(lambda nn, T, m=_m: nn.Conv1d(3, 4, 4, padding="same", padding_mode=m), (2, 3, 10),
              id=f"conv1d-same-{_m}"),  # total padding 3: one more on the right
        _case(lambda nn, T, m=_m: nn.Conv1d(3, 4, 4, padding="same", dilation=2, padding_mode=m), (2, 3, 10),
              id=f"conv1d-same-dilated-{_m}"),
        _case(lambda nn, T, m=_m: nn.Conv1d(3, 4, 3, padding=2, padding_mode=m), (2, 3, 8), id=f"conv1d-pad-{_m}"),
        _case(lambda nn, T, m=_m: nn.Conv2d(3, 4, (2, 3), padding="same", padding_mode=m), (2, 3, 7, 9),
              id=f"conv2d-same-{_m}"),
        _case(lambda nn, T, m=_m: nn.Conv2d(3, 4, (3, 4), padding="same", dilation=(1, 2), padding_mode=m),
              (2, 3, 7, 9), id=f"conv2d-same-dilated-{_m}"),
        _case(lambda nn, T, m=_m: nn.Conv2d(4, 4, 3, padding=(1, 2), groups=2, padding_mode=m, bias=False),
              (2, 4, 6, 7), id=f"conv2d-pad-{_m}"),
    ]
CONV_CASES += [
    _case(lambda nn, T: nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"), (3, 6, 7),
          id="conv2d-reflect-unbatched"),
    _case(lambda nn, T: nn.Conv1d(3, 4, 3, padding="same", padding_mode="circular"), (3, 10),
          id="conv1d-circular-unbatched"),
    _case(lambda nn, T: nn.Conv2d(3, 4, [3, 2], stride=[1, 2], padding=[1, 0]), (2, 3, 6, 7), id="conv2d-lists"),
    _case(lambda nn, T: nn.ConvTranspose1d(3, 4, 3), (2, 3, 6), id="convT1d"),
    _case(lambda nn, T: nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dilation=2),
          (2, 4, 6), id="convT1d-all"),
    _case(lambda nn, T: nn.ConvTranspose1d(3, 4, 3, stride=2, bias=False), (3, 5), id="convT1d-unbatched"),
    _case(lambda nn, T: nn.ConvTranspose2d(3, 4, 3), (2, 3, 4, 5), id="convT2d"),
    _case(lambda nn, T: nn.ConvTranspose2d(3, 4, (3, 2), stride=(2, 3), padding=(1, 0), output_padding=(1, 2)),
          (2, 3, 4, 5), id="convT2d-output-padding"),
    _case(lambda nn, T: nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2, bias=False, dilation=(1, 2)),
          (2, 4, 4, 3), id="convT2d-groups"),
    _case(lambda nn, T: nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1), (2, 3, 4, 5),
          kwargs={"output_size": (8, 10)}, id="convT2d-output-size"),
    _case(lambda nn, T: nn.ConvTranspose1d(3, 4, 3, stride=3, padding=1), (2, 3, 4),
          kwargs={"output_size": [2, 3, 12]}, id="convT1d-output-size"),
]


@needs_torch
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("make, shapes, grads, kw", CONV_CASES)
def test_conv(make, shapes, grads, kw):
    _check(make, shapes, grads, what="conv", **kw)


def test_conv_transpose_output_size_error():
    m = enn.ConvTranspose2d(3, 4, 3, stride=2)
    with pytest.raises(ValueError, match=r"requested an output size of \[20, 20\], but valid sizes range from"):
        m(ember.zeros(1, 3, 4, 4), output_size=(20, 20))


# --- pooling and upsampling ---------------------------------------------------------------------------------

POOL_CASES = [
    _case(lambda nn, T: nn.MaxPool1d(3), (2, 3, 10), id="maxpool1d"),
    _case(lambda nn, T: nn.MaxPool1d(3, stride=2, padding=1, ceil_mode=True, return_indices=True), (2, 3, 10),
          id="maxpool1d-indices-ceil"),
    _case(lambda nn, T: nn.MaxPool1d(2, dilation=2), (3, 9), id="maxpool1d-dilation-unbatched"),
    _case(lambda nn, T: nn.MaxPool2d(2), (2, 3, 6, 7), id="maxpool2d"),
    _case(lambda nn, T: nn.MaxPool2d((3, 2), stride=(2, 1), padding=1, ceil_mode=True, return_indices=True),
          (2, 3, 8, 7), id="maxpool2d-indices-ceil"),
    _case(lambda nn, T: nn.MaxPool2d(3, stride=2, dilation=2), (2, 2, 9, 10), id="maxpool2d-dilation"),
    _case(lambda nn, T: nn.AvgPool1d(3), (2, 3, 10), id="avgpool1d"),
    _case(lambda nn, T: nn.AvgPool1d(3, 2, 1, ceil_mode=True, count_include_pad=False), (2, 3, 10),
          id="avgpool1d-ceil-nopad"),
    _case(lambda nn, T: nn.AvgPool2d(2), (2, 3, 6, 7), id="avgpool2d"),
    _case(lambda nn, T: nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False), (2, 3, 8, 7),
          id="avgpool2d-ceil-nopad"),
    _case(lambda nn, T: nn.AvgPool2d((2, 3), stride=1, padding=1, divisor_override=5), (2, 3, 5, 6),
          id="avgpool2d-divisor"),
    _case(lambda nn, T: nn.AdaptiveAvgPool1d(4), (2, 3, 10), id="adaptiveavg1d"),
    _case(lambda nn, T: nn.AdaptiveAvgPool2d(3), (2, 3, 7, 8), id="adaptiveavg2d"),
    _case(lambda nn, T: nn.AdaptiveAvgPool2d((2, 5)), (2, 3, 7, 8), id="adaptiveavg2d-rect"),
    _case(lambda nn, T: nn.AdaptiveAvgPool2d((None, 3)), (2, 3, 5, 8), id="adaptiveavg2d-none"),
    _case(lambda nn, T: nn.AdaptiveMaxPool2d(3), (2, 3, 7, 8), id="adaptivemax2d"),
    _case(lambda nn, T: nn.AdaptiveMaxPool2d((2, 3), return_indices=True), (2, 3, 7, 8), id="adaptivemax2d-idx"),
    _case(lambda nn, T: nn.Upsample(scale_factor=2), (2, 3, 4, 5), id="upsample-nearest"),
    _case(lambda nn, T: nn.Upsample(size=(5, 7)), (2, 3, 4, 5), id="upsample-nearest-size"),
    _case(lambda nn, T: nn.Upsample(size=(7, 9), mode="bilinear"), (2, 3, 4, 5), id="upsample-bilinear"),
    _case(lambda nn, T: nn.Upsample(scale_factor=(2, 1.5), mode="bilinear", align_corners=True), (2, 3, 4, 5),
          id="upsample-bilinear-corners"),
    _case(lambda nn, T: nn.Upsample(scale_factor=3, mode="linear"), (2, 3, 4), id="upsample-linear"),
]


@needs_torch
@pytest.mark.parametrize("make, shapes, grads, kw", POOL_CASES)
def test_pool(make, shapes, grads, kw):
    _check(make, shapes, grads, what="pool", **kw)


# --- normalisation ------------------------------------------------------------------------------------------

BN_CASES = [
    pytest.param(lambda nn: nn.BatchNorm1d(4), (8, 4), id="bn1d"),
    pytest.param(lambda nn: nn.BatchNorm1d(4, momentum=None), (6, 4, 5), id="bn1d-cumulative"),
    pytest.param(lambda nn: nn.BatchNorm1d(4, affine=False, momentum=0.3), (6, 4, 5), id="bn1d-noaffine"),
    pytest.param(lambda nn: nn.BatchNorm2d(3), (4, 3, 5, 5), id="bn2d"),
    pytest.param(lambda nn: nn.BatchNorm2d(3, eps=1e-3, momentum=None), (4, 3, 3, 4), id="bn2d-cumulative"),
    pytest.param(lambda nn: nn.BatchNorm2d(3, track_running_stats=False), (4, 3, 3, 4), id="bn2d-nostats"),
    pytest.param(lambda nn: nn.BatchNorm2d(3, affine=False, track_running_stats=False), (4, 3, 3, 4),
                 id="bn2d-bare"),
    pytest.param(lambda nn: nn.InstanceNorm1d(4), (3, 4, 6), id="in1d"),
    pytest.param(lambda nn: nn.InstanceNorm1d(4, affine=True), (4, 6), id="in1d-affine-unbatched"),
    pytest.param(lambda nn: nn.InstanceNorm1d(4, track_running_stats=True, momentum=None), (3, 4, 6),
                 id="in1d-stats-cumulative"),
    pytest.param(lambda nn: nn.InstanceNorm2d(3, affine=True, track_running_stats=True), (2, 3, 4, 5),
                 id="in2d-affine-stats"),
    pytest.param(lambda nn: nn.InstanceNorm2d(3, track_running_stats=True, momentum=0.3), (3, 4, 5),
                 id="in2d-stats-unbatched"),
]


@needs_torch
@pytest.mark.parametrize("make, shape", BN_CASES)
def test_running_stat_norms(make, shape):
    """Three training steps (outputs, gradients, running stats, num_batches_tracked), then eval mode."""
    tmod, emod = _pair(lambda nn, T: make(nn))
    for step in range(3):
        x = RNG.standard_normal(shape) * (step + 1) + step
        _run(tmod, emod, [x], (0,), f"train step {step}")
        _check_state(tmod, emod, f"after train step {step}")
        tmod.zero_grad()
        emod.zero_grad()
    tmod.eval()
    emod.eval()
    _run(tmod, emod, [RNG.standard_normal(shape)], (0,), "eval")
    _check_state(tmod, emod, "after eval")


NORM_CASES = [
    _case(lambda nn, T: nn.LayerNorm(6), (3, 4, 6), id="layernorm"),
    _case(lambda nn, T: nn.LayerNorm((4, 6), eps=1e-3), (3, 4, 6), id="layernorm-2d"),
    _case(lambda nn, T: nn.LayerNorm(6, elementwise_affine=False), (3, 6), id="layernorm-noaffine"),
    _case(lambda nn, T: nn.LayerNorm(6, bias=False), (3, 6), id="layernorm-nobias"),
    _case(lambda nn, T: nn.GroupNorm(2, 4), (3, 4, 5), id="groupnorm"),
    _case(lambda nn, T: nn.GroupNorm(3, 6, eps=1e-3), (2, 6, 3, 4), id="groupnorm-2d"),
    _case(lambda nn, T: nn.GroupNorm(2, 4, affine=False), (3, 4), id="groupnorm-noaffine"),
    _case(lambda nn, T: nn.RMSNorm(6), (3, 4, 6), id="rmsnorm"),
    _case(lambda nn, T: nn.RMSNorm((4, 6), eps=1e-3), (3, 4, 6), id="rmsnorm-2d"),
    _case(lambda nn, T: nn.RMSNorm(6, elementwise_affine=False), (3, 6), id="rmsnorm-noaffine"),
]


@needs_torch
@pytest.mark.parametrize("make, shapes, grads, kw", NORM_CASES)
def test_norm(make, shapes, grads, kw):
    _check(make, shapes, grads, what="norm", **kw)


def test_batchnorm_bad_input_dims():
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input"):
        enn.BatchNorm1d(3)(ember.zeros(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input"):
        enn.BatchNorm2d(3)(ember.zeros(2, 3, 4))


def test_batchnorm_state_dict_roundtrip_num_batches_tracked():
    """num_batches_tracked is an int64 scalar buffer, counted like torch's (and reset by reset_running_stats)."""
    m = enn.BatchNorm1d(3)
    for _ in range(2):
        m(ember.randn(4, 3))
    assert m.num_batches_tracked.dtype == ember.int64 and m.num_batches_tracked.item() == 2
    m.reset_running_stats()
    assert m.num_batches_tracked.item() == 0
    assert np.all(_np(m.running_var) == 1) and np.all(_np(m.running_mean) == 0)


# --- dropout ------------------------------------------------------------------------------------------------

@needs_torch
@pytest.mark.parametrize("cls", ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout"])
def test_dropout_eval_is_identity(cls):
    emod, tmod = getattr(enn, cls)(p=0.4), getattr(tnn, cls)(p=0.4)
    assert str(emod) == str(tmod)
    emod.eval()
    shape = (2, 4, 3, 5) if cls == "Dropout3d" else (4, 3, 5)
    x = ember.tensor(RNG.standard_normal(shape), requires_grad=True)
    y = emod(x)
    _close(y, x, "eval output")
    y.sum().backward()
    _close(x.grad, ember.ones(*shape, dtype=ember.float64), "eval grad")


def test_dropout_train_mask_statistics():
    p = 0.3
    m = enn.Dropout(p)
    x = ember.ones(400, 250, dtype=ember.float64, requires_grad=True)
    y = m(x)
    out = _np(y)
    kept = out != 0
    assert abs(1 - kept.mean() - p) < 0.01  # 100000 draws: std of the mean is 0.0015
    np.testing.assert_allclose(out[kept], 1 / (1 - p))
    y.backward(ember.ones_like(y))
    np.testing.assert_array_equal(_np(x.grad), out)  # gradient = the same mask
    assert not np.array_equal(_np(m(x)), out), "a fresh mask each call"


@pytest.mark.parametrize("cls, shape", [("Dropout2d", (60, 50, 3, 4)), ("Dropout1d", (60, 50, 7)),
                                        ("Dropout2d", (500, 3, 4))])
def test_feature_dropout_drops_whole_channels(cls, shape):
    p = 0.4
    y = _np(getattr(enn, cls)(p)(ember.ones(*shape, dtype=ember.float64)))
    flat = y.reshape(shape[:2] + (-1,))  # 3-D input to Dropout2d is taken as (N, C, L), as in torch
    per_channel = flat[..., 0]
    assert np.all(flat == per_channel[..., None]), "every channel is all kept or all dropped"
    assert set(np.unique(per_channel)) <= {0.0, 1 / (1 - p)}
    assert abs((per_channel == 0).mean() - p) < 0.06


def test_dropout_extremes():
    x = ember.tensor(RNG.standard_normal((5, 6)))
    _close(enn.Dropout(0.0)(x), x, "p=0")
    assert not _np(enn.Dropout(1.0)(x)).any()
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        enn.Dropout(1.5)


# --- embedding ----------------------------------------------------------------------------------------------

IDX = np.array([[1, 2, 4, 5], [4, 3, 2, 9], [0, 2, 2, 7]])

EMB_CASES = [
    _case(lambda nn, T: nn.Embedding(10, 4), IDX, id="embedding"),
    _case(lambda nn, T: nn.Embedding(10, 4, padding_idx=2), IDX, id="embedding-padding"),
    _case(lambda nn, T: nn.Embedding(10, 4, padding_idx=-1), IDX, id="embedding-padding-negative"),
    _case(lambda nn, T: nn.Embedding(10, 4, scale_grad_by_freq=True, norm_type=1.0), IDX, id="embedding-freq"),
    _case(lambda nn, T: nn.Embedding(10, 4, max_norm=1.0), IDX, id="embedding-maxnorm"),
    _case(lambda nn, T: nn.Embedding(10, 4, max_norm=1.5, norm_type=1.0, padding_idx=4), IDX,
          id="embedding-maxnorm-l1"),
    _case(lambda nn, T: nn.Embedding.from_pretrained(T(np.arange(40.0).reshape(10, 4) / 40)), IDX,
          id="from-pretrained-frozen"),
    _case(lambda nn, T: nn.Embedding.from_pretrained(T(np.arange(40.0).reshape(10, 4) / 40), freeze=False,
                                                     padding_idx=3), IDX, id="from-pretrained-trainable"),
]


@needs_torch
@pytest.mark.parametrize("make, shapes, grads, kw", EMB_CASES)
def test_embedding(make, shapes, grads, kw):
    # _check compares the weights after the forward too, so max_norm's in-place renormalisation is covered
    _check(make, shapes, grads, what="embedding", **kw)


def test_embedding_from_pretrained():
    w = ember.tensor(RNG.standard_normal((5, 3)))
    frozen = enn.Embedding.from_pretrained(w)
    assert not frozen.weight.requires_grad
    assert enn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad
    _close(frozen.weight, w, "from_pretrained weight")
    with pytest.raises(AssertionError, match="2-dimensional"):
        enn.Embedding.from_pretrained(ember.zeros(5))
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        enn.Embedding(5, 3, padding_idx=5)


@needs_torch
def test_embedding_from_pretrained_shares_memory_like_torch():
    """max_norm renormalises the rows it looks up in place, in the very tensor given to from_pretrained."""
    w = np.arange(1.0, 13.0).reshape(4, 3)
    tw, ew = torch.tensor(w), ember.tensor(w)
    tnn.Embedding.from_pretrained(tw, max_norm=2.0)(torch.tensor([0, 2]))
    enn.Embedding.from_pretrained(ew, max_norm=2.0)(ember.tensor([0, 2]))
    _close(ew, tw, "the pretrained tensor after a max_norm lookup")
    assert not np.array_equal(_np(ew), w)


def test_embedding_padding_row_zero_and_untrained():
    m = enn.Embedding(6, 3, padding_idx=1)
    assert not _np(m.weight)[1].any()
    m(ember.tensor([[1, 1, 2]])).sum().backward()
    assert not _np(m.weight.grad)[1].any()
    assert _np(m.weight.grad)[2].all()


# --- activations --------------------------------------------------------------------------------------------

def _away_from(x, points, gap=1e-3):
    """Nudge values away from the kinks of piecewise functions (finite precision there is a coin toss)."""
    for p in points:
        close = np.abs(x - p) < gap
        x[close] += 2 * gap
    return x


ACT_SHAPE = (3, 4, 5)
X_ACT = _away_from(RNG.uniform(-4, 4, ACT_SHAPE), [0.0, -1.0, 1.0, -3.0, 3.0, 6.0, 0.1, -0.5, 0.7])
X_WIDE = _away_from(RNG.uniform(-8, 8, ACT_SHAPE), [0.0, 6.0, -3.0, 3.0])

ACT_CASES = [
    _case(lambda nn, T: nn.ReLU(), X_ACT, id="relu"),
    _case(lambda nn, T: nn.ReLU6(), X_WIDE, id="relu6"),
    _case(lambda nn, T: nn.LeakyReLU(), X_ACT, id="leakyrelu"),
    _case(lambda nn, T: nn.LeakyReLU(0.2), X_ACT, id="leakyrelu-0.2"),
    _case(lambda nn, T: nn.ELU(), X_ACT, id="elu"),
    _case(lambda nn, T: nn.ELU(alpha=0.5), X_ACT, id="elu-0.5"),
    _case(lambda nn, T: nn.SELU(), X_ACT, id="selu"),
    _case(lambda nn, T: nn.CELU(), X_ACT, id="celu"),
    _case(lambda nn, T: nn.CELU(alpha=2.0), X_ACT, id="celu-2"),
    _case(lambda nn, T: nn.GELU(), X_ACT, id="gelu"),
    _case(lambda nn, T: nn.GELU(approximate="tanh"), X_ACT, id="gelu-tanh"),
    _case(lambda nn, T: nn.SiLU(), X_ACT, id="silu"),
    _case(lambda nn, T: nn.Mish(), X_ACT, id="mish"),
    _case(lambda nn, T: nn.Softplus(), X_ACT, id="softplus"),
    _case(lambda nn, T: nn.Softplus(beta=2, threshold=1.5), X_ACT, id="softplus-beta"),
    _case(lambda nn, T: nn.Sigmoid(), X_ACT, id="sigmoid"),
    _case(lambda nn, T: nn.Tanh(), X_ACT, id="tanh"),
    _case(lambda nn, T: nn.Hardtanh(), X_ACT, id="hardtanh"),
    _case(lambda nn, T: nn.Hardtanh(-0.5, 0.7), X_ACT, id="hardtanh-range"),
    _case(lambda nn, T: nn.Hardswish(), X_WIDE, id="hardswish"),
    _case(lambda nn, T: nn.Hardsigmoid(), X_WIDE, id="hardsigmoid"),
    _case(lambda nn, T: nn.LogSigmoid(), X_ACT, id="logsigmoid"),
    _case(lambda nn, T: nn.GLU(), RNG.standard_normal((3, 4, 6)), id="glu"),
    _case(lambda nn, T: nn.GLU(dim=1), X_ACT, id="glu-dim1"),
    _case(lambda nn, T: nn.Softsign(), X_ACT, id="softsign"),
    _case(lambda nn, T: nn.Tanhshrink(), X_ACT, id="tanhshrink"),
    _case(lambda nn, T: nn.Threshold(0.1, 20.0), X_ACT, id="threshold"),
    _case(lambda nn, T: nn.PReLU(), X_ACT, id="prelu-1"),
    _case(lambda nn, T: nn.PReLU(4, init=0.1), X_ACT, id="prelu-channels"),
    _case(lambda nn, T: nn.PReLU(), X_ACT[0, 0], id="prelu-1d"),
    _case(lambda nn, T: nn.Softmax(dim=1), X_ACT, id="softmax"),
    _case(lambda nn, T: nn.Softmax(dim=-1), X_ACT, id="softmax-last"),
    _case(lambda nn, T: nn.LogSoftmax(dim=-1), X_ACT, id="logsoftmax"),
    _case(lambda nn, T: nn.Softmin(dim=0), X_ACT, id="softmin"),
]


@needs_torch
@pytest.mark.parametrize("make, shapes, grads, kw", ACT_CASES)
def test_activation(make, shapes, grads, kw):
    _check(make, shapes, grads, what="activation", **kw)


INPLACE = ["ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "SiLU", "Mish", "Hardtanh", "Hardswish",
           "Hardsigmoid"]


@needs_torch
@pytest.mark.parametrize("name", INPLACE)
def test_activation_inplace(name):
    """inplace=True writes into its (non-leaf) input, like torch; values and gradients unchanged."""
    tmod, emod = getattr(tnn, name)(inplace=True), getattr(enn, name)(inplace=True)
    assert str(emod) == str(tmod)
    tx, ex = torch.tensor(X_WIDE, requires_grad=True), ember.tensor(X_WIDE, requires_grad=True)
    th, eh = tx * 1.0, ex * 1.0
    ty, ey = tmod(th), emod(eh)
    _close(ey, ty, f"{name}: inplace output")
    _close(eh, th, f"{name}: inplace input was overwritten")
    cot = RNG.standard_normal(ACT_SHAPE)
    ty.backward(torch.tensor(cot))
    ey.backward(ember.tensor(cot))
    _close(ex.grad, tx.grad, f"{name}: inplace grad")


@needs_torch
def test_threshold_inplace():
    m = enn.Threshold(0.5, -1.0, inplace=True)
    assert str(m) == str(tnn.Threshold(0.5, -1.0, inplace=True))
    x = ember.tensor([0.2, 0.9])
    m(x)
    _close(x, ember.tensor([-1.0, 0.9]), "threshold inplace")


# --- losses -------------------------------------------------------------------------------------------------

N, C = 6, 5
LOGITS = RNG.standard_normal((N, C))
TARGET = np.array([0, 3, 4, 1, 3, 2])
TARGET_IGN = np.array([0, 3, -1, 1, 3, -1])
W = RNG.uniform(0.2, 2.0, C)
PROBS = RNG.uniform(0.05, 0.95, (N, C))
SIGNS = np.where(RNG.standard_normal(N) > 0, 1.0, -1.0)
SIGNS_NC = np.where(RNG.standard_normal((N, C)) > 0, 1.0, -1.0)
SOFT = np.exp(RNG.standard_normal((N, C)))
SOFT /= SOFT.sum(1, keepdims=True)

LOSS_CASES = [
    _case(lambda nn, T: nn.CrossEntropyLoss(), LOGITS, TARGET, id="ce"),
    _case(lambda nn, T: nn.CrossEntropyLoss(weight=T(W)), LOGITS, TARGET, id="ce-weight"),
    _case(lambda nn, T: nn.CrossEntropyLoss(ignore_index=-1), LOGITS, TARGET_IGN, id="ce-ignore"),
    _case(lambda nn, T: nn.CrossEntropyLoss(label_smoothing=0.1), LOGITS, TARGET, id="ce-smoothing"),
    _case(lambda nn, T: nn.CrossEntropyLoss(weight=T(W), ignore_index=-1, label_smoothing=0.2), LOGITS,
          TARGET_IGN, id="ce-all"),
    _case(lambda nn, T: nn.CrossEntropyLoss(weight=T(W), reduction="sum", label_smoothing=0.1), LOGITS, TARGET,
          id="ce-sum"),
    _case(lambda nn, T: nn.CrossEntropyLoss(reduction="none", ignore_index=3), LOGITS, TARGET, id="ce-none"),
    _case(lambda nn, T: nn.CrossEntropyLoss(weight=T(W)), RNG.standard_normal((2, C, 3, 2)),
          RNG.integers(0, C, (2, 3, 2)), id="ce-spatial"),
    _case(lambda nn, T: nn.CrossEntropyLoss(label_smoothing=0.1), LOGITS, SOFT, grads=(0,), id="ce-probs"),
    _case(lambda nn, T: nn.NLLLoss(), LOGITS, TARGET, id="nll"),
    _case(lambda nn, T: nn.NLLLoss(weight=T(W), ignore_index=-1), LOGITS, TARGET_IGN, id="nll-weight-ignore"),
    _case(lambda nn, T: nn.NLLLoss(reduction="none"), RNG.standard_normal((2, C, 3)), RNG.integers(0, C, (2, 3)),
          id="nll-spatial"),
    _case(lambda nn, T: nn.MSELoss(), (N, C), (N, C), id="mse"),
    _case(lambda nn, T: nn.MSELoss(reduction="sum"), (N, C), (N, C), id="mse-sum"),
    _case(lambda nn, T: nn.L1Loss(), (N, C), (N, C), id="l1"),
    _case(lambda nn, T: nn.L1Loss(reduction="none"), (N, C), (N, C), id="l1-none"),
    _case(lambda nn, T: nn.SmoothL1Loss(), (N, C), (N, C), id="smoothl1"),
    _case(lambda nn, T: nn.SmoothL1Loss(beta=0.5, reduction="sum"), (N, C), (N, C), id="smoothl1-beta"),
    _case(lambda nn, T: nn.HuberLoss(), (N, C), (N, C), id="huber"),
    _case(lambda nn, T: nn.HuberLoss(delta=0.5, reduction="none"), (N, C), (N, C), id="huber-delta"),
    _case(lambda nn, T: nn.BCELoss(), PROBS, RNG.uniform(0, 1, (N, C)), grads=(0,), id="bce"),
    _case(lambda nn, T: nn.BCELoss(weight=T(W), reduction="sum"), PROBS, RNG.uniform(0, 1, (N, C)), grads=(0,),
          id="bce-weight"),
    _case(lambda nn, T: nn.BCEWithLogitsLoss(), LOGITS, RNG.uniform(0, 1, (N, C)), id="bcelogits"),
    _case(lambda nn, T: nn.BCEWithLogitsLoss(pos_weight=T(W)), LOGITS, RNG.uniform(0, 1, (N, C)),
          id="bcelogits-posweight"),
    _case(lambda nn, T: nn.BCEWithLogitsLoss(weight=T(W), pos_weight=T(W[::-1].copy()), reduction="none"), LOGITS,
          RNG.uniform(0, 1, (N, C)), id="bcelogits-both"),
    _case(lambda nn, T: nn.KLDivLoss(reduction="batchmean"), np.log(PROBS), SOFT, id="kldiv"),
    _case(lambda nn, T: nn.KLDivLoss(reduction="sum", log_target=True), np.log(PROBS), np.log(SOFT),
          id="kldiv-logtarget"),
    _case(lambda nn, T: nn.HingeEmbeddingLoss(), (N, C), SIGNS_NC, grads=(0,), id="hinge"),
    _case(lambda nn, T: nn.HingeEmbeddingLoss(margin=0.5, reduction="sum"), (N, C), SIGNS_NC, grads=(0,),
          id="hinge-margin"),
    _case(lambda nn, T: nn.MarginRankingLoss(), (N,), (N,), SIGNS, grads=(0, 1), id="marginranking"),
    _case(lambda nn, T: nn.MarginRankingLoss(margin=0.3, reduction="none"), (N,), (N,), SIGNS, grads=(0, 1),
          id="marginranking-margin"),
    _case(lambda nn, T: nn.TripletMarginLoss(), (N, C), (N, C), (N, C), id="triplet"),
    _case(lambda nn, T: nn.TripletMarginLoss(margin=2.0, p=1, swap=True), (N, C), (N, C), (N, C),
          id="triplet-l1-swap"),
    _case(lambda nn, T: nn.SoftMarginLoss(), (N, C), SIGNS_NC, grads=(0,), id="softmargin"),
    _case(lambda nn, T: nn.CosineEmbeddingLoss(), (N, C), (N, C), SIGNS, grads=(0, 1), id="cosine"),
    _case(lambda nn, T: nn.CosineEmbeddingLoss(margin=0.2, reduction="sum"), (N, C), (N, C), SIGNS,
          grads=(0, 1), id="cosine-margin"),
    _case(lambda nn, T: nn.PoissonNLLLoss(), (N, C), RNG.poisson(2.0, (N, C)).astype(float), grads=(0,),
          id="poisson"),
    _case(lambda nn, T: nn.PoissonNLLLoss(log_input=False, full=True), PROBS * 3,
          RNG.poisson(2.0, (N, C)).astype(float), grads=(0,), id="poisson-full"),
    _case(lambda nn, T: nn.GaussianNLLLoss(), (N, C), (N, C), PROBS, id="gaussian"),
    _case(lambda nn, T: nn.GaussianNLLLoss(full=True, reduction="sum"), (N, C), (N, C), PROBS[:, :1].copy(),
          id="gaussian-full-broadcast"),
]


@needs_torch
@pytest.mark.parametrize("make, shapes, grads, kw", LOSS_CASES)
def test_loss(make, shapes, grads, kw):
    _check(make, shapes, grads, what="loss", **kw)


def test_loss_legacy_size_average_reduce():
    x, y = ember.tensor([1.0, 2.0]), ember.tensor([0.0, 0.0])
    with pytest.warns(UserWarning):
        m = enn.MSELoss(size_average=False)
    assert m.reduction == "sum" and m(x, y).item() == 5.0
    with pytest.warns(UserWarning):
        assert enn.L1Loss(reduce=False).reduction == "none"


# --- float32 (the default dtype) ----------------------------------------------------------------------------

F32_CASES = [
    pytest.param(lambda nn: nn.Conv2d(3, 4, 3, padding=1), [(2, 3, 6, 6)], id="conv2d"),
    pytest.param(lambda nn: nn.ConvTranspose2d(3, 4, 3, stride=2), [(2, 3, 4, 4)], id="convT2d"),
    pytest.param(lambda nn: nn.BatchNorm2d(3), [(4, 3, 3, 3)], id="batchnorm"),
    pytest.param(lambda nn: nn.LayerNorm(6), [(3, 6)], id="layernorm"),
    pytest.param(lambda nn: nn.GroupNorm(2, 4), [(3, 4, 5)], id="groupnorm"),
    pytest.param(lambda nn: nn.GELU(), [(3, 6)], id="gelu"),
    pytest.param(lambda nn: nn.PReLU(4), [(3, 4, 5)], id="prelu"),
    pytest.param(lambda nn: nn.AvgPool2d(2), [(2, 3, 6, 6)], id="avgpool"),
    pytest.param(lambda nn: nn.CrossEntropyLoss(label_smoothing=0.1), [(6, 5), np.array([0, 1, 2, 3, 4, 0])],
                 id="cross-entropy"),
]


@needs_torch
@pytest.mark.parametrize("make, shapes", F32_CASES)
def test_float32_matches_torch(make, shapes):
    """Default float32 modules keep float32 (outputs, grads, running stats) and agree to float32 precision."""
    tmod, emod = make(tnn), make(enn)
    _perturb(tmod)
    _copy_state(tmod, emod)
    inputs = [s if isinstance(s, np.ndarray) else RNG.standard_normal(s).astype(np.float32) for s in shapes]
    _run(tmod, emod, inputs, (0,), "float32", rtol=2e-5, atol=2e-6)
    for k, v in emod.state_dict().items():
        _close(v, tmod.state_dict()[k], f"float32 state {k}", rtol=2e-5, atol=2e-6)


# --- repr -----------------------------------------------------------------------------------------------------

REPRS = [
    "Conv2d(3, 8, 3)", "Conv2d(3, 8, (3, 5), stride=2, padding=(1, 2), dilation=2, groups=1, bias=False)",
    "Conv2d(4, 8, 3, padding='same', padding_mode='reflect', groups=4)", "Conv1d(2, 4, 5, padding='valid')",
    "Conv1d(2, 4, 5, padding=2, padding_mode='circular')",
    "ConvTranspose2d(4, 8, 3, stride=2, padding=1, output_padding=1, groups=2)", "ConvTranspose1d(3, 3, 2)",
    "MaxPool2d(2)", "MaxPool2d((3, 2), stride=1, padding=1, ceil_mode=True)", "MaxPool1d(3, return_indices=True)",
    "AvgPool1d(3)", "AvgPool1d(3, stride=2, padding=1)", "AvgPool2d(2)", "AvgPool2d(3, divisor_override=2)",
    "AdaptiveAvgPool2d((2, None))", "AdaptiveAvgPool1d(5)", "AdaptiveMaxPool2d(3, return_indices=True)",
    "Upsample(scale_factor=2)", "Upsample(size=(4, 5), mode='bilinear', align_corners=True)",
    "BatchNorm2d(3)", "BatchNorm1d(4, momentum=None, affine=False)", "InstanceNorm2d(3, affine=True)",
    "LayerNorm((3, 4), elementwise_affine=False)", "GroupNorm(2, 4)", "RMSNorm(5)",
    "Dropout(0.2)", "Dropout2d(inplace=True)", "Embedding(10, 3, padding_idx=0, max_norm=1.0, norm_type=1.0)",
    "Embedding(10, 3, scale_grad_by_freq=True, sparse=True)",
    "PReLU(3)", "Softmax(dim=1)", "Softmax()", "Hardswish()", "SiLU(inplace=True)", "Mish()", "GELU('tanh')",
    "CrossEntropyLoss(label_smoothing=0.1)", "MSELoss()", "TripletMarginLoss()",
]


@needs_torch
@pytest.mark.parametrize("expr", REPRS)
def test_repr_matches_torch(expr):
    assert str(eval("enn." + expr)) == str(eval("tnn." + expr))


@needs_torch
def test_repr_in_container():
    def build(nn):
        return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(inplace=True),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.1), nn.Linear(4 * 4 * 4, 3))
    assert str(build(enn)) == str(build(tnn))


# --- state_dict keys ----------------------------------------------------------------------------------------

STATE_KEYS = [
    "Conv2d(2, 4, 3)", "Conv1d(2, 4, 3, bias=False)", "ConvTranspose2d(2, 4, 3)", "BatchNorm1d(3)",
    "BatchNorm2d(3, affine=False)", "BatchNorm2d(3, track_running_stats=False)",
    "InstanceNorm1d(3, affine=True, track_running_stats=True)", "InstanceNorm2d(3)", "LayerNorm(3, bias=False)",
    "GroupNorm(1, 3)", "RMSNorm(3)", "Embedding(4, 2)", "PReLU()", "MaxPool2d(2)",
    "CrossEntropyLoss(weight=W3)", "NLLLoss()", "BCELoss(weight=W3)", "BCEWithLogitsLoss(pos_weight=W3)",
]


@needs_torch
@pytest.mark.parametrize("expr", STATE_KEYS)
def test_state_dict_keys_match_torch(expr):
    em = eval("enn." + expr, {"enn": enn, "W3": ember.ones(3)})
    tm = eval("tnn." + expr, {"tnn": tnn, "W3": torch.ones(3)})
    es, ts = em.state_dict(), tm.state_dict()
    assert list(es) == list(ts)
    for k in ts:
        assert tuple(es[k].shape) == tuple(ts[k].shape), k
        assert str(es[k].dtype).split(".")[-1] == str(ts[k].dtype).split(".")[-1], k


# --- default initialisation ---------------------------------------------------------------------------------

def _stats(a):
    a = _np(a).astype(np.float64).ravel()
    return np.array([a.min(), a.max(), a.mean(), a.std()])


INIT_CASES = [
    "Conv2d(64, 96, 3)", "Conv1d(32, 256, 5, groups=4)", "ConvTranspose2d(96, 64, 3, groups=2)",
    "ConvTranspose1d(64, 128, 4)", "Embedding(2000, 64)", "PReLU(8, init=0.1)",
]


@needs_torch
@pytest.mark.parametrize("expr", INIT_CASES)
def test_default_init_matches_torch(expr):
    """Same distribution as torch's default init: min/max/mean/std agree within sampling error (not values)."""
    em, tm = eval("enn." + expr), eval("tnn." + expr)
    for name, tp in tm.named_parameters():
        ep = dict(em.named_parameters())[name]
        assert ep.dtype == ember.float32 and tuple(ep.shape) == tuple(tp.shape)
        es, ts = _stats(ep), _stats(tp)
        scale = max(abs(ts[0]), abs(ts[1]), ts[3], 1e-12)
        tol = 0.03 if tp.numel() > 1000 else 0.4  # small bias vectors: only the range is reliable
        if "Embedding" in expr:  # normal: the extremes are not bounded, compare mean and std only
            es, ts = es[2:], ts[2:]
        np.testing.assert_allclose(es, ts, atol=tol * scale, err_msg=f"{expr}: {name} (min, max, mean, std)")


def test_conv_init_bounds_formula():
    m = enn.Conv2d(64, 96, 3)
    bound = 1 / math.sqrt(64 * 9)
    w, b = _np(m.weight), _np(m.bias)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound
    assert np.abs(b).max() <= bound
    t = enn.ConvTranspose2d(64, 96, 3, groups=2)  # fan_in from weight.size(1) = 48 channels
    assert np.abs(_np(t.weight)).max() <= 1 / math.sqrt(48 * 9)
    assert np.abs(_np(t.weight)).max() > 0.99 / math.sqrt(48 * 9)


@needs_torch
def test_norm_init():
    for expr in ["BatchNorm2d(5)", "InstanceNorm1d(5, affine=True, track_running_stats=True)", "LayerNorm(5)",
                 "GroupNorm(1, 5)", "RMSNorm(5)"]:
        em, tm = eval("enn." + expr), eval("tnn." + expr)
        for k, v in tm.state_dict().items():
            np.testing.assert_array_equal(_np(em.state_dict()[k]), v.numpy(), err_msg=f"{expr}: {k}")


# --- construction errors ------------------------------------------------------------------------------------

ERRORS = [
    ("Conv2d(3, 4, 3, groups=2)", ValueError, "in_channels must be divisible by groups"),
    ("Conv2d(4, 3, 3, groups=2)", ValueError, "out_channels must be divisible by groups"),
    ("Conv2d(4, 4, 3, groups=0)", ValueError, "groups must be a positive integer"),
    ("Conv2d(3, 4, 3, stride=2, padding='same')", ValueError, "padding='same' is not supported for strided"),
    ("Conv1d(3, 4, 3, stride=(2,), padding='same')", ValueError, "padding='same' is not supported for strided"),
    ("Conv2d(3, 4, 3, padding='full')", ValueError, "Invalid padding string 'full'"),
    ("Conv2d(3, 4, 3, padding_mode='mirror')", ValueError, "padding_mode must be one of"),
    ("ConvTranspose2d(3, 4, 3, padding_mode='reflect')", ValueError,
     'Only "zeros" padding mode is supported for ConvTranspose2d'),
    ("ConvTranspose2d(3, 4, 3, padding='same')", ValueError, "padding must be an int or a tuple of ints"),
    ("Hardtanh(1.0, 0.5)", AssertionError, "max_val (0.5) must be greater than min_val (1.0)"),
    ("GroupNorm(3, 4)", ValueError, "num_channels (4) must be divisible by num_groups (3)"),
    ("Dropout(-0.1)", ValueError, "dropout probability has to be between 0 and 1"),
    ("Embedding(5, 3, padding_idx=-6)", AssertionError, "Padding_idx must be within num_embeddings"),
]


@pytest.mark.parametrize("expr, exc, msg", ERRORS)
def test_construction_errors(expr, exc, msg):
    with pytest.raises(exc, match=re.escape(msg)):
        eval("enn." + expr)
    if torch is None or "ConvTranspose2d(3, 4, 3, padding=" in expr:
        return  # (torch accepts that one here and fails later, in forward)
    with pytest.raises(exc, match=re.escape(msg)):  # the message is torch's
        eval("tnn." + expr)


def test_instance_norm_channel_mismatch():
    with pytest.raises(ValueError, match=r"expected input's size at dim=1 to match num_features \(3\)"):
        enn.InstanceNorm1d(3, affine=True)(ember.zeros(2, 4, 5))
    with pytest.warns(UserWarning, match="does not match num_features"):
        enn.InstanceNorm1d(3)(ember.randn(2, 4, 5))
    with pytest.raises(ValueError, match=r"expected 3D or 4D input \(got 2D input"):
        enn.InstanceNorm2d(3)(ember.zeros(3, 4))


def test_inplace_on_leaf_requiring_grad_raises():
    with pytest.raises(RuntimeError, match="leaf"):
        enn.ReLU(inplace=True)(ember.randn(3, requires_grad=True))


def test_runtime_errors_name_the_problem():
    with pytest.raises(RuntimeError, match=r"conv2d.*4.*3"):  # wrong number of input channels
        enn.Conv2d(3, 4, 3)(ember.zeros(1, 4, 5, 5))
    with pytest.raises(RuntimeError, match="group_norm"):
        enn.GroupNorm(2, 4)(ember.zeros(2, 6, 3))
    with pytest.raises(RuntimeError, match="prelu"):
        enn.PReLU(3)(ember.zeros(2, 4, 3))
