"""Reductions: gradcheck (float64), double backward, PyTorch comparison, dtypes and errors."""
import math

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck
from helpers import assert_close, rand64, to_torch

DIMS = [None, 1, -1, (0, 2), (-1, 0)]
KEEP = [False, True]


def distinct64(*shape, seed=0, requires_grad=True):
    """float64 values that are distinct and well separated in value and in magnitude (no ties for max/median)."""
    n = math.prod(shape)
    rng = np.random.default_rng(seed)
    vals = rng.permutation(np.arange(1, n + 1)) * 0.25 * rng.choice([-1.0, 1.0], size=n)
    return ember.tensor(vals.reshape(shape), dtype=ember.float64, requires_grad=requires_grad)


def nonzero64(*shape, seed=0):
    """float64 values in [0.5, 1.5] with random signs (products stay O(1), no zeros)."""
    rng = np.random.default_rng(seed)
    vals = rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    return ember.tensor(vals, dtype=ember.float64, requires_grad=True)


# --- gradcheck ------------------------------------------------------------------------------------------------

SMOOTH = {
    "sum": lambda x, d, k: x.sum(d, keepdim=k),
    "mean": lambda x, d, k: x.mean(d, keepdim=k),
    "prod": lambda x, d, k: x.prod(d, keepdim=k),
    "var": lambda x, d, k: x.var(d, keepdim=k),
    "var_c0": lambda x, d, k: ember.var(x, d, keepdim=k, correction=0),
    "std": lambda x, d, k: x.std(d, keepdim=k),
    "std_unbiased_false": lambda x, d, k: x.std(d, False, k),
    "logsumexp": lambda x, d, k: x.logsumexp(d, keepdim=k),
    "norm2": lambda x, d, k: x.norm(dim=d, keepdim=k),
    "norm3": lambda x, d, k: x.norm(3, dim=d, keepdim=k),
    "norm1.5": lambda x, d, k: x.norm(1.5, dim=d, keepdim=k),
    "nansum": lambda x, d, k: ember.nansum(x, d, keepdim=k),
    "nanmean": lambda x, d, k: ember.nanmean(x, d, keepdim=k),
}


@pytest.mark.parametrize("name", sorted(SMOOTH))
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("keepdim", KEEP)
def test_gradcheck_smooth(name, dim, keepdim):
    x = nonzero64(2, 3, 2) if name == "prod" else rand64(2, 3, 2)
    assert gradcheck(lambda t: SMOOTH[name](t, dim, keepdim), [x])


# Piecewise-linear reductions: checked at inputs without ties, where they are differentiable.
KINKED = {
    "amax": lambda x, d, k: x.amax(() if d is None else d, keepdim=k),
    "amin": lambda x, d, k: ember.amin(x, () if d is None else d, keepdim=k),
    "norm1": lambda x, d, k: x.norm(1, dim=d, keepdim=k),
    "norm_inf": lambda x, d, k: x.norm(float("inf"), dim=d, keepdim=k),
    "norm_-inf": lambda x, d, k: x.norm(-math.inf, dim=d, keepdim=k),
}


@pytest.mark.parametrize("name", sorted(KINKED))
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("keepdim", KEEP)
def test_gradcheck_kinked(name, dim, keepdim):
    assert gradcheck(lambda t: KINKED[name](t, dim, keepdim), [distinct64(2, 3, 2)])


SELECT = {
    "max": lambda x, d, k: x.max(d, keepdim=k).values,
    "min": lambda x, d, k: ember.min(x, dim=d, keepdim=k)[0],
    "median": lambda x, d, k: x.median(d, keepdim=k).values,
    "cumsum": lambda x, d, k: x.cumsum(d),
    "cumprod": lambda x, d, k: x.cumprod(d),
}


@pytest.mark.parametrize("name", sorted(SELECT))
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", KEEP)
def test_gradcheck_one_dim(name, dim, keepdim):
    x = nonzero64(2, 3, 2) if name == "cumprod" else distinct64(2, 3, 2)
    assert gradcheck(lambda t: SELECT[name](t, dim, keepdim), [x])


@pytest.mark.parametrize("fn", [lambda t: t.max(), lambda t: t.min(), lambda t: t.median(), lambda t: t.sum(),
                                lambda t: t.prod(), lambda t: t.norm(), lambda t: t.logsumexp()])
def test_gradcheck_full_reduction(fn):
    assert gradcheck(fn, [distinct64(3, 4, seed=3)])


@pytest.mark.parametrize("fn", [lambda t: t.sum(0), lambda t: t.mean(0, keepdim=True), lambda t: t.prod(-1),
                                lambda t: t.max(0).values, lambda t: t.cumsum(0), lambda t: t.cumprod(-1),
                                lambda t: t.amax(0), lambda t: t.norm(dim=0), lambda t: t.var(0, correction=0),
                                lambda t: t.logsumexp(0)])
def test_zero_dim_input(fn):
    x = ember.tensor(1.5, dtype=ember.float64, requires_grad=True)
    out = fn(x)
    assert out.shape == ()
    assert gradcheck(fn, [x])


# --- prod and cumprod with zeros ------------------------------------------------------------------------------

@pytest.mark.parametrize("zeros", [[1], [0, 3], [1, 2, 4]])
@pytest.mark.parametrize("dim", [None, 1])
def test_prod_zeros_grad_and_double_backward(zeros, dim):
    x = nonzero64(2, 5, seed=len(zeros))
    x._data[:, zeros] = 0.0
    fn = lambda t: t.prod(dim)  # noqa: E731
    assert gradcheck(fn, [x])
    assert gradgradcheck(fn, [x])


def test_prod_zeros_matches_torch(torch):
    for zeros in ([2], [0, 3], [0, 1, 4]):
        x = nonzero64(3, 5, seed=7)
        x._data[1, zeros] = 0.0
        x._data[2, zeros[:1]] = 0.0
        xt = to_torch(x, torch)
        for d in (None, 1, 0):
            xe = x.detach().requires_grad_()
            xt.grad = None
            (xe.prod() if d is None else xe.prod(d)).sum().backward()
            (xt.prod() if d is None else xt.prod(d)).sum().backward()
            assert_close(xe.grad, xt.grad)


def test_cumprod_with_zeros(torch):
    x = ember.tensor([[1.5, 0.0, 3.0, 0.0, 2.0], [0.0, 2.0, -1.0, 0.5, 1.0], [2.0, 1.0, 0.5, 3.0, 0.0],
                      [1.5, -2.0, 0.5, 1.0, 2.0]], dtype=ember.float64, requires_grad=True)
    assert gradcheck(lambda t: t.cumprod(1), [x])
    w = rand64(4, 5, requires_grad=False)
    (x.cumprod(1) * w).sum().backward()
    xt = to_torch(x, torch)
    (xt.cumprod(1) * to_torch(w, torch)).sum().backward()
    assert not np.isnan(x.grad.numpy()).any()
    assert_close(x.grad, xt.grad)


# --- double backward ------------------------------------------------------------------------------------------

DOUBLE = {
    "sum": lambda t: t.sum((0, 2), keepdim=True),
    "mean": lambda t: t.mean(-1),
    "logsumexp": lambda t: t.logsumexp(1),
    "var": lambda t: t.var((0, 1)),
    "std": lambda t: t.std(1, keepdim=True),
    "prod": lambda t: t.prod(1),
    "norm": lambda t: t.norm(dim=-1),
    "norm3": lambda t: t.norm(3, dim=None),
    "amax": lambda t: t.amax(1),
    "max_dim": lambda t: t.max(1).values,
    "cumsum": lambda t: t.cumsum(1),
    "cumprod": lambda t: t.cumprod(-1),
}


@pytest.mark.parametrize("name", sorted(DOUBLE))
def test_double_backward(name):
    x = nonzero64(2, 3, 2, seed=5) if name in ("prod", "cumprod") else distinct64(2, 3, 2, seed=5)
    assert gradgradcheck(DOUBLE[name], [x])


# --- PyTorch comparison ---------------------------------------------------------------------------------------

TORCH_CASES = [
    ("sum", {}), ("mean", {}), ("prod", {}), ("amax", {}), ("amin", {}), ("logsumexp", {}), ("var", {}),
    ("std", {}), ("var", {"correction": 0}), ("std", {"unbiased": False}), ("var", {"correction": 2}),
    ("norm", {"p": 2}), ("norm", {"p": 1}), ("norm", {"p": 3}), ("norm", {"p": 0.5}), ("norm", {"p": math.inf}),
    ("norm", {"p": -math.inf}), ("norm", {"p": 0}), ("norm", {"p": "fro"}), ("nansum", {}), ("nanmean", {}),
]


@pytest.mark.filterwarnings("ignore:.*degrees of freedom", "ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("name,kw", TORCH_CASES, ids=[f"{n}-{k}" for n, k in TORCH_CASES])
@pytest.mark.parametrize("dim", [None, 0, -1, (0, 2)])
@pytest.mark.parametrize("keepdim", KEEP)
def test_matches_torch(name, kw, dim, keepdim, torch):
    # Ties (equal values, equal magnitudes) and a zero exercise the even split and the zero-safe gradients.
    x = ember.tensor([[[1.0, -2.0, 3.0], [3.0, 0.5, -3.0]], [[-0.25, 0.0, 2.0], [1.5, 2.0, -1.0]]],
                     dtype=ember.float64, requires_grad=True)
    xt = to_torch(x, torch)
    if name in ("prod", "amax", "amin", "logsumexp") and dim is None:
        if name in ("prod",):
            ours, ref = x.prod(), xt.prod()
        elif name == "logsumexp":
            ours, ref = x.logsumexp((0, 1, 2), keepdim), xt.logsumexp((0, 1, 2), keepdim)
        else:
            ours, ref = getattr(x, name)((), keepdim), getattr(xt, name)((), keepdim)
    elif name == "prod" and isinstance(dim, tuple):
        pytest.skip("torch.prod takes one dim")
    elif name in ("nansum", "nanmean"):
        ours = getattr(ember, name)(x, dim, keepdim=keepdim)
        ref = getattr(torch, name)(xt, dim, keepdim=keepdim)
    else:
        ours = getattr(x, name)(dim=dim, keepdim=keepdim, **kw)
        ref = getattr(xt, name)(dim=dim, keepdim=keepdim, **kw)
    assert_close(ours, ref, rtol=1e-10, atol=1e-12)
    w = rand64(*ours.shape, requires_grad=False, seed=1)
    (ours * w).sum().backward()
    if ref.requires_grad:
        ref.backward(to_torch(w, torch))
    if xt.grad is None:
        assert x.grad is None or not np.any(x.grad.numpy())
    else:
        assert_close(x.grad, xt.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["max", "min", "median"])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", KEEP)
def test_select_matches_torch(name, dim, keepdim, torch):
    x = distinct64(3, 4, 5, seed=11)
    xt = to_torch(x, torch)
    ours = getattr(x, name)(dim, keepdim=keepdim)
    ref = getattr(xt, name)(dim, keepdim=keepdim)
    assert type(ours).__name__ == name
    values, indices = ours
    assert_close(values, ref.values)
    assert indices.dtype == ember.int64
    np.testing.assert_array_equal(indices.numpy(), ref.indices.numpy())
    w = rand64(*values.shape, requires_grad=False)
    (ours.values * w).sum().backward()
    ref.values.backward(to_torch(w, torch))
    assert_close(x.grad, xt.grad)


def test_max_min_ties_and_nan_match_torch(torch):
    data = [[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 5.0, 5.0], [1.0, float("nan"), 0.0, 2.0]]
    for name in ("max", "min", "amax", "amin", "median"):
        # torch.amax gives a NaN gradient to a whole slice holding a NaN; ember sends it to the NaN (see below).
        rows = data[:2] if name in ("amax", "amin") else data
        x = ember.tensor(rows, dtype=ember.float64, requires_grad=True)
        xt = to_torch(x, torch)
        ours = getattr(x, name)(1)
        ref = getattr(xt, name)(1)
        if name in ("max", "min", "median"):
            np.testing.assert_array_equal(ours.indices.numpy(), ref.indices.numpy())
            ours, ref = ours.values, ref.values
        np.testing.assert_array_equal(ours.detach().numpy(), ref.detach().numpy())
        ours.sum().backward()
        ref.sum().backward()
        assert_close(x.grad, xt.grad)
    x = ember.tensor(data, dtype=ember.float64, requires_grad=True)
    x.amax(1).sum().backward()
    assert x.grad.tolist()[2] == [0.0, 1.0, 0.0, 0.0]
    # Without dim: the gradient is split evenly among the ties (or the NaNs), as torch does.
    for rows in (data[:2], data):
        for name in ("max", "min", "median"):
            x = ember.tensor(rows, dtype=ember.float64, requires_grad=True)
            xt = to_torch(x, torch)
            getattr(x, name)().backward()
            getattr(xt, name)().backward()
            assert_close(x.grad, xt.grad)


@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdim", KEEP)
def test_argmax_argmin_match_torch(dim, keepdim, torch):
    x = ember.tensor([[1, 7, 7, 0], [4, 2, 9, 9], [0, 0, -3, 5]])
    xt = torch.tensor(x.numpy())
    for name in ("argmax", "argmin"):
        ours, ref = getattr(x, name)(dim, keepdim=keepdim), getattr(xt, name)(dim, keepdim=keepdim)
        assert ours.dtype == ember.int64
        assert tuple(ours.shape) == tuple(ref.shape)
        np.testing.assert_array_equal(ours.numpy(), ref.numpy())


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumsum_cumprod_match_torch(dim, torch):
    x = nonzero64(2, 3, 4, seed=2)
    xt = to_torch(x, torch)
    w = rand64(2, 3, 4, requires_grad=False)
    for name in ("cumsum", "cumprod"):
        x.grad, xt.grad = None, None
        ours, ref = getattr(x, name)(dim), getattr(xt, name)(dim)
        assert_close(ours, ref)
        (ours * w).sum().backward()
        ref.backward(to_torch(w, torch))
        assert_close(x.grad, xt.grad)


def test_logical_and_count_match_torch(torch):
    x = ember.tensor([[0.0, 1.0, 2.0], [0.0, 0.0, 3.0]])
    xt = torch.tensor(x.numpy())
    for dim in (None, 0, 1, (0, 1)):
        for name in ("all", "any"):
            kw = {} if dim is None else {"dim": dim}
            ours, ref = getattr(x, name)(**kw), getattr(xt, name)(**kw)
            assert ours.dtype == ember.bool
            np.testing.assert_array_equal(ours.numpy(), ref.numpy())
        ours, ref = x.count_nonzero(dim), torch.count_nonzero(xt, dim)
        assert ours.dtype == ember.int64
        np.testing.assert_array_equal(ours.numpy(), ref.numpy())
    np.testing.assert_array_equal(x.any(1, keepdim=True).numpy(), xt.any(1, keepdim=True).numpy())


def test_var_std_mean_match_torch(torch):
    x = rand64(3, 4)
    xt = to_torch(x, torch)
    for kw in ({}, {"correction": 0}, {"keepdim": True}):
        for ours, ref in zip(ember.var_mean(x, 1, **kw), torch.var_mean(xt, 1, **kw)):
            assert_close(ours, ref)
        for ours, ref in zip(ember.std_mean(x, (0, 1), **kw), torch.std_mean(xt, (0, 1), **kw)):
            assert_close(ours, ref)
    # legacy positional forms: var(unbiased) and var(dim, unbiased, keepdim)
    assert_close(x.var(False), xt.var(False))
    assert_close(x.std(0, False, True), xt.std(0, False, True))


# --- numerics and special values --------------------------------------------------------------------------------

def test_logsumexp_large_values_and_softmax_grad():
    x = ember.tensor([[1000.0, 1000.0, -1000.0], [-1e4, -1e4 + 1, -1e4 + 2]], dtype=ember.float64,
                     requires_grad=True)
    out = x.logsumexp(1)
    ref = x.detach().numpy()
    m = ref.max(1)
    np.testing.assert_allclose(out.detach().numpy(), m + np.log(np.exp(ref - m[:, None]).sum(1)))
    out.sum().backward()
    e = np.exp(ref - m[:, None])
    np.testing.assert_allclose(x.grad.numpy(), e / e.sum(1, keepdims=True))
    inf = ember.tensor([[-math.inf, -math.inf], [math.inf, 0.0]]).logsumexp(1)
    assert inf.tolist() == [-math.inf, math.inf]


def test_norm_grad_at_zero_is_zero():
    for p in (2, 3, 1.5, 0.5, math.inf):
        x = ember.zeros(4, dtype=ember.float64, requires_grad=True)
        x.norm(p).backward()
        assert x.grad.tolist() == [0.0] * 4, p
    x = ember.tensor([[0.0, 0.0], [3.0, 4.0]], requires_grad=True)
    x.norm(dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0], [0.6, 0.8]], rtol=1e-6)


def test_std_grad_of_constant_is_zero():
    x = ember.ones(2, 3, dtype=ember.float64, requires_grad=True)
    x.std(1).sum().backward()
    assert not np.any(x.grad.numpy())


def test_var_too_few_elements_warns_like_torch():
    with pytest.warns(UserWarning, match="degrees of freedom"):
        v = ember.tensor([1.0]).var()
    assert math.isnan(v.item())
    with pytest.warns(UserWarning):
        assert ember.tensor([1.0, 2.0]).var(correction=3).item() == math.inf


def test_empty_reductions():
    e = ember.zeros(0, 3)
    assert e.sum().item() == 0 and e.prod().item() == 1
    assert math.isnan(e.mean().item())
    assert e.sum(0).tolist() == [0.0, 0.0, 0.0]
    assert e.amax(1).shape == (0,) and e.max(1).indices.shape == (0,)
    assert e.logsumexp(0).tolist() == [-math.inf] * 3
    assert math.isnan(e.median().item())


# --- dtypes and binding ---------------------------------------------------------------------------------------

def test_integer_and_bool_dtypes():
    i32 = ember.tensor([1, 2, 3], dtype=ember.int32)
    assert i32.sum().dtype == ember.int64 and i32.sum().item() == 6
    assert i32.prod().dtype == ember.int64 and i32.prod().item() == 6
    assert i32.cumsum(0).dtype == ember.int64 and i32.cumprod(0).tolist() == [1, 2, 6]
    assert i32.sum(dtype=ember.int32).dtype == ember.int32
    assert i32.sum(dtype=ember.float64).dtype == ember.float64
    b = ember.tensor([True, False, True])
    assert b.sum().dtype == ember.int64 and b.sum().item() == 2
    assert i32.max().dtype == ember.int32 and i32.max().item() == 3
    assert i32.max(0).indices.item() == 2
    assert i32.mean(dtype=ember.float32).item() == 2.0
    assert i32.logsumexp(0).dtype == ember.float32
    x = ember.tensor([1.0, 2.0], dtype=ember.float32)
    for fn in (ember.sum, ember.mean, ember.prod, ember.amax, ember.norm, ember.var, ember.std, ember.logsumexp):
        assert fn(x).dtype == ember.float32


def test_tensor_methods_and_max_with_tensor():
    x = ember.tensor([[1.0, 5.0], [4.0, 2.0]], requires_grad=True)
    assert x.sum(dim=1, keepdim=True).shape == (2, 1)
    assert x.max(dim=0).values.tolist() == [4.0, 5.0]
    assert x.min(dim=1).indices.tolist() == [0, 1]
    values, indices = ember.max(x, 1, True)
    assert values.shape == (2, 1) and indices.tolist() == [[1], [0]]
    y = ember.tensor([3.0, 3.0])
    assert ember.max(x, y).tolist() == [[3.0, 5.0], [4.0, 3.0]]
    assert x.min(y).tolist() == [[1.0, 3.0], [3.0, 2.0]]
    assert ember.max(x, other=y).tolist() == [[3.0, 5.0], [4.0, 3.0]]
    mn, mx = ember.aminmax(x)
    assert (mn.item(), mx.item()) == (1.0, 5.0)
    assert x.sum(dim=()).item() == 12.0 and x.amax(()).item() == 5.0


# --- errors -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["sum", "mean", "prod", "amax", "amin", "var", "std", "logsumexp", "norm",
                                  "all", "any", "count_nonzero", "max", "min", "argmax", "argmin", "median",
                                  "cumsum", "cumprod"])
def test_bad_dim_names_op_dim_and_range(name):
    x = ember.zeros(2, 3)
    with pytest.raises(IndexError, match=rf"{name}.*\[-2, 1\].*got 5"):
        getattr(ember, name)(x, dim=5)
    with pytest.raises(IndexError, match=rf"{name}.*got -3"):
        getattr(x, name)(dim=-3)


def test_errors():
    with pytest.raises(RuntimeError, match=r"mean\(\): could not infer output dtype.*Got: ember.int64"):
        ember.tensor([1, 2]).mean()
    with pytest.raises(RuntimeError, match="var.*floating point.*int64"):
        ember.tensor([1, 2]).var()
    with pytest.raises(RuntimeError, match="norm.*floating point.*int64"):
        ember.tensor([1, 2]).norm()
    with pytest.raises(RuntimeError, match="sum: dim .* multiple times"):
        ember.zeros(2, 3).sum((0, -2))
    with pytest.raises(TypeError, match=r"max\(\): argument 'dim' must be int, not tuple"):
        ember.zeros(2, 3).max(dim=(0, 1))
    with pytest.raises(TypeError, match=r"cumsum\(\): argument 'dim' must be int"):
        ember.zeros(2, 3).cumsum(None)
    with pytest.raises(IndexError, match=r"amax\(\): Expected reduction dim 0 to have non-zero size"):
        ember.zeros(0, 3).amax(0)
    with pytest.raises(IndexError, match=r"max\(\): Expected reduction dim 0 to have non-zero size"):
        ember.zeros(0, 3).max(0)
    with pytest.raises(RuntimeError, match=r"max\(\): Expected reduction dim to be specified"):
        ember.zeros(0, 3).max()
    with pytest.raises(IndexError, match=r"argmax\(\): Expected reduction dim to be specified"):
        ember.zeros(0).argmax()
    with pytest.raises(RuntimeError, match="inf norm on an empty tensor"):
        ember.zeros(0).norm(math.inf)
    with pytest.raises(NotImplementedError, match="nuc"):
        ember.zeros(2, 2).norm("nuc")
    with pytest.raises(TypeError, match="either unbiased= or correction="):
        ember.zeros(3).var(0, True, correction=1)


def test_tie_indices_match_torch(torch):
    rng = np.random.default_rng(0)
    for shape, dim in [((3, 37), 1), ((25, 4), 0), ((2, 17, 3), -2)]:
        a = rng.integers(0, 4, size=shape)
        for name in ("median", "max", "min"):
            ours, ref = getattr(ember.tensor(a), name)(dim), getattr(torch.tensor(a), name)(dim)
            np.testing.assert_array_equal(ours.indices.numpy(), ref.indices.numpy())
            np.testing.assert_array_equal(ours.values.numpy(), ref.values.numpy())
