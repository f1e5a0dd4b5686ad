"""bfloat16 where PyTorch's CPU ops take it: pooling and cross_entropy/nll_loss (computed in float32, rounded to
bfloat16, as PyTorch's kernels accumulate), and the losses that autocast runs in float32 (PyTorch's fp32 list)."""
import numpy as np
import pytest

import ember

pytestmark = pytest.mark.skipif(ember.bfloat16 is None, reason="bfloat16 needs ml_dtypes")

_RNG = np.random.default_rng(0)
_X3 = _RNG.standard_normal((2, 3, 11)).astype(np.float32)
_X4 = _RNG.standard_normal((2, 3, 9, 10)).astype(np.float32)
_LOGITS = (_RNG.standard_normal((16, 5)) * 3).astype(np.float32)
_LOGITS4 = _RNG.standard_normal((2, 5, 3, 4)).astype(np.float32)
_T = _RNG.integers(0, 5, 16)
_T4 = _RNG.integers(0, 5, (2, 3, 4))
_P = _RNG.dirichlet(np.ones(5), 16).astype(np.float32)
_W = _RNG.uniform(0.5, 2, 5).astype(np.float32)

POOLS = {  # name: (input, fn(F, x)); exact: outputs bit-equal to PyTorch's
    "max_pool1d": (_X3, lambda F, x: F.max_pool1d(x, 3, 2, 1)),
    "max_pool2d": (_X4, lambda F, x: F.max_pool2d(x, 3, 2, 1)),
    "max_pool2d_indices": (_X4, lambda F, x: F.max_pool2d(x, 2, return_indices=True)),
    "avg_pool1d": (_X3, lambda F, x: F.avg_pool1d(x, 3, 2, 1)),
    "avg_pool2d": (_X4, lambda F, x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)),
    "adaptive_avg_pool1d": (_X3, lambda F, x: F.adaptive_avg_pool1d(x, 4)),
    "adaptive_avg_pool2d": (_X4, lambda F, x: F.adaptive_avg_pool2d(x, (4, 3))),
    "adaptive_max_pool1d": (_X3, lambda F, x: F.adaptive_max_pool1d(x, 4, return_indices=True)),
    "adaptive_max_pool2d": (_X4, lambda F, x: F.adaptive_max_pool2d(x, (4, 3))),
}

LOSSES = {
    "cross_entropy": (_LOGITS, lambda L, x: L.nn.functional.cross_entropy(x, L.tensor(_T))),
    "cross_entropy_sum_weight": (_LOGITS, lambda L, x: L.nn.functional.cross_entropy(
        x, L.tensor(_T), weight=L.tensor(_W).to(L.bfloat16), reduction="sum")),
    "cross_entropy_smoothing_ignore": (_LOGITS, lambda L, x: L.nn.functional.cross_entropy(
        x, L.tensor(_T), label_smoothing=0.1, ignore_index=3)),
    "cross_entropy_probabilities": (_LOGITS, lambda L, x: L.nn.functional.cross_entropy(
        x, L.tensor(_P).to(L.bfloat16))),
    "cross_entropy_4d_none": (_LOGITS4, lambda L, x: L.nn.functional.cross_entropy(
        x, L.tensor(_T4), reduction="none")),
    "nll_loss": (_LOGITS, lambda L, x: L.nn.functional.nll_loss(x, L.tensor(_T))),
    "nll_loss_weight_ignore": (_LOGITS, lambda L, x: L.nn.functional.nll_loss(
        x, L.tensor(_T), weight=L.tensor(_W).to(L.bfloat16), ignore_index=2)),
}


def _run(lib, array, fn, seed=1):
    x = lib.tensor(array).to(lib.bfloat16).requires_grad_()
    out = fn(lib, x)
    values = out[0] if isinstance(out, tuple) else out
    g = np.random.default_rng(seed).standard_normal(tuple(values.shape)).astype(np.float32)
    values.backward(lib.tensor(g).to(lib.bfloat16))
    return out, values, x.grad


def _f32(t):
    return t.detach().float().numpy()


def _assert_bf16_close(got, want, ulps=2):
    """Within a few bfloat16 rounding steps (8 bits of mantissa) of the larger magnitudes."""
    np.testing.assert_allclose(got, want, rtol=ulps * 2 ** -8, atol=ulps * 2 ** -8 * np.abs(want).max() + 1e-30)


@pytest.mark.parametrize("name", sorted(POOLS))
def test_pooling_takes_bfloat16_as_torch(torch, name):
    array, fn = POOLS[name]
    out, values, grad = _run(ember, array, lambda lib, x: fn(lib.nn.functional, x))
    tout, tvalues, tgrad = _run(torch, array, lambda lib, x: fn(lib.nn.functional, x))
    assert values.dtype is ember.bfloat16 and grad.dtype is ember.bfloat16
    if name.startswith(("max", "adaptive_max")):
        np.testing.assert_array_equal(_f32(values), _f32(tvalues))  # maxima are exact
    else:
        _assert_bf16_close(_f32(values), _f32(tvalues), ulps=1)
    # ember sums overlapping windows' gradients in float32 and rounds once; PyTorch rounds as it goes
    _assert_bf16_close(_f32(grad), _f32(tgrad))
    if isinstance(out, tuple):
        np.testing.assert_array_equal(out[1].numpy(), tout[1].numpy())


def test_bfloat16_average_is_accumulated_in_float32():
    x = ember.full((1, 1, 1, 256), 1.0 + 2 ** -7).to(ember.bfloat16)  # a sum in bfloat16 would stall at 256
    assert ember.nn.functional.avg_pool2d(x, (1, 256)).float().item() == 1.0 + 2 ** -7


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_class_losses_take_bfloat16_as_torch(torch, name):
    array, fn = LOSSES[name]
    _, values, grad = _run(ember, array, fn)
    _, tvalues, tgrad = _run(torch, array, fn)
    assert values.dtype is ember.bfloat16 and grad.dtype is ember.bfloat16
    assert values.shape == tuple(tvalues.shape)
    _assert_bf16_close(_f32(values), _f32(tvalues))
    _assert_bf16_close(_f32(grad), _f32(tgrad))


def test_bfloat16_nll_loss_sums_in_float32():
    logp = ember.full((4096, 2), -1.0 - 2 ** -7).to(ember.bfloat16)
    loss = ember.nn.functional.nll_loss(logp, ember.zeros(4096, dtype=ember.int64), reduction="sum")
    assert loss.float().item() == pytest.approx(4096 * (1 + 2 ** -7), rel=2 ** -8)


_F32_LIST = {  # PyTorch's CPU autocast runs these in float32 (checked against torch below)
    "cross_entropy": lambda F, a, b, L: F.cross_entropy(a, L.tensor([0, 1, 2, 1])),
    "nll_loss": lambda F, a, b, L: F.nll_loss(a, L.tensor([0, 1, 2, 1])),
    "mse_loss": lambda F, a, b, L: F.mse_loss(a, b),
    "l1_loss": lambda F, a, b, L: F.l1_loss(a, b),
    "smooth_l1_loss": lambda F, a, b, L: F.smooth_l1_loss(a, b),
    "huber_loss": lambda F, a, b, L: F.huber_loss(a, b),
    "binary_cross_entropy": lambda F, a, b, L: F.binary_cross_entropy(a, (b > 0).to(b.dtype)),
    "binary_cross_entropy_with_logits": lambda F, a, b, L: F.binary_cross_entropy_with_logits(a, (b > 0).to(b.dtype)),
    "kl_div": lambda F, a, b, L: F.kl_div(a, b, reduction="batchmean", log_target=True),
    "poisson_nll_loss": lambda F, a, b, L: F.poisson_nll_loss(a, b.abs()),
    "soft_margin_loss": lambda F, a, b, L: F.soft_margin_loss(a, b.sign()),
    "margin_ranking_loss": lambda F, a, b, L: F.margin_ranking_loss(a, b, b.sign()),
    "hinge_embedding_loss": lambda F, a, b, L: F.hinge_embedding_loss(a, b.sign()),
    "cosine_embedding_loss": lambda F, a, b, L: F.cosine_embedding_loss(a, b, L.ones(4)),
    "triplet_margin_loss": lambda F, a, b, L: F.triplet_margin_loss(a, b, b * 2),
    "ctc_loss": lambda F, a, b, L: F.ctc_loss(a.unsqueeze(1), L.tensor([[1]]), L.tensor([4]), L.tensor([1])),
    "gaussian_nll_loss": lambda F, a, b, L: F.gaussian_nll_loss(a, b, b.abs() + 1),  # not on the list
}


@pytest.mark.parametrize("name", sorted(_F32_LIST))
def test_autocast_runs_the_fp32_list_losses_in_float32_as_torch(torch, name):
    fn = _F32_LIST[name]
    a, b = _LOGITS[:4, :3], _LOGITS[4:8, :3]
    if name == "binary_cross_entropy":  # probabilities
        a = 1 / (1 + np.exp(-a))
    elif name == "ctc_loss":  # log-probabilities
        a = a - np.log(np.exp(a).sum(1, keepdims=True))

    def run(lib):
        x = lib.tensor(a).to(lib.bfloat16).requires_grad_()
        y = lib.tensor(b).to(lib.bfloat16)
        with lib.autocast("cpu", dtype=lib.bfloat16):
            out = fn(lib.nn.functional, x, y, lib)
        out.float().sum().backward()
        return out, x.grad

    out, grad = run(ember)
    tout, tgrad = run(torch)
    assert out.dtype.name == str(tout.dtype).split(".")[1]  # float32, but bfloat16 for gaussian_nll_loss
    assert grad.dtype is ember.bfloat16
    if out.dtype is ember.float32:  # computed from the same float32 values: close to float32 precision
        np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-5, atol=1e-6)
    if name != "ctc_loss":  # PyTorch's CTC gradient is the one of the logits under log_softmax (tests/test_ctc.py)
        _assert_bf16_close(_f32(grad), _f32(tgrad))


def test_autocast_fp32_list_leaves_float64_and_other_devices_alone():
    x64 = ember.randn(4, 3, dtype=ember.float64)
    with ember.autocast("cpu", dtype=ember.bfloat16):
        assert ember.nn.functional.mse_loss(x64, x64 * 2).dtype is ember.float64
        assert ember.nn.functional.mse_loss(x64.float(), x64.float()).dtype is ember.float32
    with ember.autocast("cpu", enabled=False):
        assert ember.nn.functional.mse_loss(x64.bfloat16(), x64.bfloat16()).dtype is ember.bfloat16
