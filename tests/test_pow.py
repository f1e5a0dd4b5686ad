"""pow with small integer and half-integer exponents: products, square roots and reciprocals (PyTorch's special
cases) with PyTorch's values and gradients, instead of NumPy's general power (~200x slower)."""
import math
import time

import numpy as np
import pytest

import ember

FAST = (0, 1, 2, 3, 4, -1, -2, -3, -4, 0.5, -0.5, 2.0, 3.0, -1.0)
SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, 2.0, -2.5, 0.3, math.inf, -math.inf, math.nan, 3e38, -3e38, 1e-40, 1e13,
                    7.1], np.float32)


@pytest.mark.parametrize("n", FAST)
def test_values_and_gradients_match_pytorch(torch, n):
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        a = rng.standard_normal((4, 5)).astype(dtype)
        if n < 0 or n != int(n):
            a = np.abs(a) + 0.1
        x = ember.tensor(a, requires_grad=True)
        tx = torch.tensor(a, requires_grad=True)
        y, ty = x ** n, tx ** n
        assert y.dtype == x.dtype
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-6 if dtype == np.float32 else 1e-14)
        g = np.random.default_rng(1).standard_normal(a.shape).astype(dtype)
        y.backward(ember.tensor(g))
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("n", FAST)
def test_special_values_as_pytorch(torch, n):
    got = ember.pow(ember.tensor(SPECIAL), n).numpy()
    want = torch.pow(torch.tensor(SPECIAL), n).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    finite = ~np.isnan(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=4e-7, atol=1e-38)
    zero = (want == 0) & finite
    np.testing.assert_array_equal(np.signbit(got[zero]), np.signbit(want[zero]))  # pow(-0., 3) is -0.


def test_products_are_pytorchs_formulas_bit_for_bit(torch):
    a = np.random.default_rng(2).standard_normal((64, 6, 192)).astype(np.float32)
    for n in (2, 3, -1, -2, -0.5):  # x*x, x*x*x, 1/x, 1/(x*x), rsqrt: the same roundings as PyTorch's kernels
        b = np.abs(a) + 0.1 if n == -0.5 else a
        np.testing.assert_array_equal(ember.tensor(b).pow(n).numpy(), torch.tensor(b).pow(n).numpy())


def test_integer_tensors_stay_exact_and_wrap_around(torch):
    for dtype in ("int64", "int32", "uint8", "int8"):
        a = np.arange(-6, 7).astype(dtype) if dtype != "uint8" else np.array([0, 3, 7, 200, 255], np.uint8)
        for n in (0, 1, 2, 3, 4):
            got = ember.tensor(a).pow(n)
            want = torch.tensor(a).pow(n)
            assert got.dtype is getattr(ember, dtype)
            np.testing.assert_array_equal(got.numpy(), want.numpy())
    with pytest.raises(RuntimeError, match="Integers to negative integer powers"):
        ember.tensor([1, 2]) ** -1


def test_pow_returns_a_new_tensor_and_in_place_pow_works():
    x = ember.tensor([1.0, 2.0, 3.0])
    y = x ** 1
    y[0] = 10.0
    assert x.tolist() == [1.0, 2.0, 3.0]  # n == 1 copies
    x.pow_(2)
    assert x.tolist() == [1.0, 4.0, 9.0]
    assert ember.tensor(2.0).pow(3).item() == 8.0 and ember.tensor(2.0).pow(3).shape == ()


def test_small_exponents_are_fast():
    x = ember.randn(64, 6, 192)  # NumPy's power is slowest on negative bases (~4 ms here, against ~0.02 ms)

    def best(f):
        times = []
        for _ in range(5):
            t = time.perf_counter()
            f()
            times.append(time.perf_counter() - t)
        return min(times)

    for n in (3, 4, -2, -3):
        with np.errstate(all="ignore"):
            general = best(lambda: np.power(x.numpy(), np.float32(n)))
        assert best(lambda: x ** n) < general / 5
