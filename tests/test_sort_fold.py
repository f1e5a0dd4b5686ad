"""What the OpInfo entries do not cover of sort/argsort/topk, repeat_interleave, Tensor.unfold, meshgrid, diag,
F.unfold/F.fold, ember.softmax, type_as, cdist and pixel_shuffle: ties, NaN, result types, views, errors."""
import math
import warnings

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F


# --- sort / argsort / topk --------------------------------------------------------------------------------------

def test_sort_is_stable_both_ways_and_puts_nan_where_pytorch_does(torch):
    data = [1.0, float("nan"), 1.0, 0.0, 1.0, float("nan"), -1.0]
    x, tx = ember.tensor(data), torch.tensor(data)
    for descending in (False, True):
        ours = ember.sort(x, descending=descending, stable=True)
        theirs = torch.sort(tx, descending=descending, stable=True)
        np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
        np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
        assert ember.argsort(x, descending=descending).tolist() == theirs.indices.tolist()
    ints = ember.tensor([3, 1, 3, 2, 1])
    assert ember.sort(ints, descending=True).indices.tolist() == [0, 2, 3, 1, 4]
    assert ember.sort(ints).values.dtype is ember.int64


def test_sort_and_topk_return_named_tuples():
    x = ember.tensor([[3.0, 1.0, 2.0]])
    result = x.sort()
    assert type(result).__name__ == "sort" and result.values.tolist() == [[1.0, 2.0, 3.0]]
    values, indices = x.topk(2)
    assert type(x.topk(2)).__name__ == "topk"
    assert values.tolist() == [[3.0, 2.0]] and indices.tolist() == [[0, 2]] and indices.dtype is ember.int64
    small = x.topk(2, largest=False, sorted=False)
    assert small.values.tolist() == [[1.0, 2.0]] and small.indices.tolist() == [[1, 2]]


def test_sort_gradient_goes_back_to_the_indices():
    x = ember.tensor([3.0, 1.0, 2.0], requires_grad=True)
    v, _ = ember.topk(x, 2)
    (v * ember.tensor([10.0, 1.0])).sum().backward()
    assert x.grad.tolist() == [10.0, 0.0, 1.0]


def test_sort_and_topk_errors():
    x = ember.ones(2, 3)
    with pytest.raises(RuntimeError, match=r"topk\(\): selected index k out of range .*\(2, 3\)"):
        ember.topk(x, 4)
    with pytest.raises(RuntimeError, match="selected index k out of range"):
        ember.topk(x, -1)
    with pytest.raises(IndexError, match="sort: Dimension out of range"):
        ember.sort(x, 2)
    with pytest.raises(TypeError, match="argument 'dim' must be int"):
        ember.argsort(x, 0.5)


# --- repeat_interleave, Tensor.unfold, meshgrid, diag -------------------------------------------------------------

def test_repeat_interleave_forms_and_errors():
    x = ember.tensor([[1, 2], [3, 4]])
    assert ember.repeat_interleave(x, 2).tolist() == [1, 1, 2, 2, 3, 3, 4, 4]
    assert x.repeat_interleave(ember.tensor([1, 2]), dim=0).tolist() == [[1, 2], [3, 4], [3, 4]]
    assert x.repeat_interleave(ember.tensor(2), dim=1).tolist() == [[1, 1, 2, 2], [3, 3, 4, 4]]
    assert ember.repeat_interleave(ember.tensor([1, 0, 2])).tolist() == [0, 2, 2]
    with pytest.raises(RuntimeError, match=r"repeats.size\(0\) = 3 and input.size\(1\) = 2"):
        ember.repeat_interleave(x, ember.tensor([1, 2, 3]), dim=1)
    with pytest.raises(RuntimeError, match="non-negative"):
        ember.repeat_interleave(x, -1)
    with pytest.raises(RuntimeError, match="integer tensor"):
        ember.repeat_interleave(x, ember.tensor([1.0, 2.0]), dim=0)


def test_unfold_is_a_view_and_its_gradient_adds_the_windows_back():
    base = ember.arange(6.0)
    windows = base.unfold(0, 3, 2)
    assert windows.tolist() == [[0.0, 1.0, 2.0], [2.0, 3.0, 4.0]]
    base[2] = 20.0
    assert windows[0, 2].item() == 20.0 and windows[1, 0].item() == 20.0
    x = ember.ones(6, requires_grad=True)
    x.unfold(0, 3, 2).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 2.0, 1.0, 1.0, 0.0]
    with pytest.raises(RuntimeError, match="maximum size for tensor at dimension 0 is 6 but size is 7"):
        x.unfold(0, 7, 1)
    with pytest.raises(RuntimeError, match="step is 0 but must be > 0"):
        x.unfold(0, 2, 0)


def test_meshgrid_indexing_and_warning(torch):
    a, b = ember.tensor([1.0, 2.0, 3.0]), ember.tensor([4.0, 5.0])
    with pytest.warns(UserWarning, match="indexing argument"):
        ij = ember.meshgrid(a, b)
    assert [tuple(t.shape) for t in ij] == [(3, 2), (3, 2)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        xy = ember.meshgrid([a, b], indexing="xy")
    theirs = torch.meshgrid(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([4.0, 5.0]), indexing="xy")
    for o, t in zip(xy, theirs):
        np.testing.assert_array_equal(o.numpy(), t.numpy())
    with pytest.raises(RuntimeError, match="indexing must be one of"):
        ember.meshgrid(a, b, indexing="yx")
    with pytest.raises(RuntimeError, match=r"0D or 1D tensor .*tensor 1 of shape \(2, 2\)"):
        ember.meshgrid(a, ember.ones(2, 2), indexing="ij")
    with pytest.raises(RuntimeError, match="same dtype"):
        ember.meshgrid(a, b.double(), indexing="ij")


def test_diag_copies_and_errors():
    m = ember.ones(3, 3)
    d = ember.diag(m)
    d[0] = 5.0
    assert m[0, 0].item() == 1.0
    assert ember.diag(ember.tensor([1, 2]), -1).tolist() == [[0, 0, 0], [1, 0, 0], [0, 2, 0]]
    with pytest.raises(RuntimeError, match=r"diag\(\): Supports 1D or 2D tensors. Got 3D"):
        ember.diag(ember.ones(2, 2, 2))


# --- F.unfold / F.fold ------------------------------------------------------------------------------------------

def test_fold_of_unfold_counts_the_windows(torch):
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 6)).astype(np.float32)
    kw = dict(kernel_size=(2, 3), dilation=(2, 1), padding=(1, 2), stride=(1, 2))
    cols = F.unfold(ember.tensor(x), **kw)
    back = F.fold(cols, (5, 6), **kw)
    ref = torch.nn.functional.fold(torch.nn.functional.unfold(torch.from_numpy(x), **kw), (5, 6), **kw)
    np.testing.assert_allclose(back.numpy(), ref.numpy(), rtol=1e-6, atol=1e-6)
    assert back._data.flags.c_contiguous and cols._data.flags.c_contiguous


def test_unfold_is_a_copy_even_when_the_windows_are_the_input():
    x = ember.ones(1, 1, 2, 2)
    cols = F.unfold(x, 1)
    cols[0, 0, 0] = 5.0
    assert x[0, 0, 0, 0].item() == 1.0


def test_fold_and_unfold_errors():
    with pytest.raises(RuntimeError, match=r"calculated shape of the array of sliding blocks as \(0, 0\)"):
        F.unfold(ember.ones(1, 1, 3, 3), 4)
    with pytest.raises(RuntimeError, match="padding should be non-negative"):
        F.unfold(ember.ones(1, 1, 3, 3), 2, padding=-1)
    with pytest.raises(RuntimeError, match="stride should be greater than zero"):
        F.unfold(ember.ones(1, 1, 3, 3), 2, stride=0)
    with pytest.raises(RuntimeError, match="unfold: expected input with 4 dims"):
        F.unfold(ember.ones(3, 3), 2)
    with pytest.raises(RuntimeError, match="floating-point"):
        F.unfold(ember.ones(1, 1, 3, 3, dtype=ember.int64), 2)
    with pytest.raises(RuntimeError, match=r"divisible by the product of kernel_size, but got input.size\(1\)=5"):
        F.fold(ember.ones(1, 5, 4), 3, 2)
    with pytest.raises(RuntimeError, match=r"sliding blocks 2 \* 2 = 4, but got input.size\(2\)=5"):
        F.fold(ember.ones(1, 4, 5), 3, 2)


# --- ember.softmax, type_as, cdist, pixel_shuffle -------------------------------------------------------------------

def test_top_level_softmax_takes_the_dtype_third(torch):
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    ours = ember.softmax(ember.tensor(x), 1, ember.float64)
    assert ours.dtype is ember.float64
    np.testing.assert_allclose(ours.numpy(), torch.softmax(torch.from_numpy(x), 1, torch.float64).numpy())
    np.testing.assert_allclose(ember.log_softmax(ember.tensor(x), dim=0).numpy(),
                               torch.log_softmax(torch.from_numpy(x), dim=0).numpy(), rtol=1e-6)


def test_type_as():
    x = ember.ones(2)
    assert x.type_as(ember.zeros(1)) is x
    assert x.type_as(ember.zeros(1, dtype=ember.int32)).dtype is ember.int32
    with pytest.raises(TypeError, match=r"type_as\(\): argument 'other' \(position 1\) must be Tensor, not int"):
        x.type_as(3)


def test_cdist_matches_pytorch_in_every_mode(torch):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 30, 4)), rng.standard_normal((27, 4))  # > 25 rows: PyTorch's mm by default
    for p, mode in [(2.0, "use_mm_for_euclid_dist_if_necessary"), (2.0, "donot_use_mm_for_euclid_dist"),
                    (0.0, "use_mm_for_euclid_dist_if_necessary"), (1.5, "use_mm_for_euclid_dist")]:
        ours = ember.cdist(ember.tensor(a), ember.tensor(b), p, compute_mode=mode)
        theirs = torch.cdist(torch.from_numpy(a), torch.from_numpy(b), p, compute_mode=mode)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10, atol=1e-10)


def test_cdist_gradient_is_zero_at_zero_distance(torch):
    x = ember.tensor([[0.0, 1.0], [2.0, 3.0]], dtype=ember.float64, requires_grad=True)
    for mode in ("use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist"):
        x.grad = None
        ember.cdist(x, x, compute_mode=mode).sum().backward()
        assert np.isfinite(x.grad.numpy()).all()


def test_cdist_errors():
    with pytest.raises(RuntimeError, match="X1: 2 X2: 3"):
        ember.cdist(ember.ones(3, 2), ember.ones(3, 3))
    with pytest.raises(RuntimeError, match="at least 2D tensors, X1 got: 1D"):
        ember.cdist(ember.ones(3), ember.ones(3, 3))
    with pytest.raises(RuntimeError, match="floating-point dtypes, X1 got: ember.int64"):
        ember.cdist(ember.ones(3, 2, dtype=ember.int64), ember.ones(3, 2))
    with pytest.raises(RuntimeError, match="non-negative p"):
        ember.cdist(ember.ones(3, 2), ember.ones(3, 2), -1)
    with pytest.raises(ValueError, match="not a valid value for compute_mode"):
        ember.cdist(ember.ones(3, 2), ember.ones(3, 2), compute_mode="x")
    with pytest.raises(RuntimeError, match="same dtype"):
        ember.cdist(ember.ones(3, 2), ember.ones(3, 2, dtype=ember.float64))
    assert math.isclose(ember.cdist(ember.zeros(1, 2), ember.ones(1, 2), math.inf).item(), 1.0)


def test_pixel_shuffle_modules_round_trip():
    x = ember.randn(2, 8, 3, 4)
    up = nn.PixelShuffle(2)
    assert repr(up) == "PixelShuffle(upscale_factor=2)"
    y = up(x)
    assert tuple(y.shape) == (2, 2, 6, 8) and y._data.flags.c_contiguous
    np.testing.assert_array_equal(nn.PixelUnshuffle(2)(y).numpy(), x.numpy())
    with pytest.raises(RuntimeError, match=r"input.size\(-3\)=5 is not divisible by 4"):
        F.pixel_shuffle(ember.ones(5, 2, 2), 2)
    with pytest.raises(RuntimeError, match="at least 3 dimensions"):
        F.pixel_shuffle(ember.ones(2, 2), 2)
    with pytest.raises(RuntimeError, match=r"height to be divisible by downscale_factor, but input.size\(-2\)=3"):
        F.pixel_unshuffle(ember.ones(4, 3, 2), 2)
    assert ember.pixel_shuffle is F.pixel_shuffle
