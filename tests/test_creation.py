"""Tensor creation: tensor/as_tensor/from_numpy, factories, ranges, random numbers and generators."""
import numpy as np
import pytest

import ember


# --- tensor, as_tensor, from_numpy ---------------------------------------------------------------------------------

@pytest.mark.parametrize("data, dtype", [
    ([1, 2, 3], ember.int64), ([1.0, 2], ember.float32), ([True, False], ember.bool), (3, ember.int64),
    (2.5, ember.float32), (True, ember.bool), ([], ember.float32), ([[1, 2], [3, 4]], ember.int64),
    ([1, 2.5, True], ember.float32),
])
def test_tensor_infers_pytorch_dtypes(data, dtype):
    t = ember.tensor(data)
    assert t.dtype is dtype
    np.testing.assert_array_equal(t.numpy(), np.array(data))


def test_tensor_infers_like_torch(torch):
    for data in ([1, 2], [1.5], [[True]], 7, -1.5, [1, 2.0], np.array([1, 2], dtype=np.int32),
                 np.array([1.0], dtype=np.float64), np.float64(2.0), np.int16(3)):
        assert ember.tensor(data).dtype.name == str(torch.tensor(data).dtype).replace("torch.", ""), data


def test_tensor_copies_and_keeps_numpy_dtype():
    a = np.array([1.0, 2.0])
    t = ember.tensor(a)
    a[0] = 9.0
    assert t.dtype is ember.float64 and t.numpy()[0] == 1.0


def test_tensor_dtype_device_requires_grad():
    t = ember.tensor([1, 2], dtype=ember.float64, device="cpu", requires_grad=True)
    assert t.dtype is ember.float64 and t.device == ember.device("cpu") and t.requires_grad and t.is_leaf
    with pytest.raises(RuntimeError, match="only Tensors of floating point"):
        ember.tensor([1, 2], requires_grad=True)


def test_tensor_from_tensors_and_errors():
    t = ember.tensor([ember.tensor(1.0), ember.tensor(2.0)])
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])
    src = ember.tensor([1.0, 2.0])
    c = ember.tensor(src)
    c._data[0] = 5.0
    assert src.numpy()[0] == 1.0
    with pytest.raises(TypeError, match="can't convert an object of type str"):
        ember.tensor(["a"])
    with pytest.raises(TypeError, match="complex"):
        ember.tensor([1j])


def test_as_tensor_shares_when_possible():
    a = np.array([1.0, 2.0], dtype=np.float32)
    t = ember.as_tensor(a)
    a[0] = 5.0
    assert t.numpy()[0] == 5.0
    t64 = ember.as_tensor(a, dtype=ember.float64)  # a cast must copy
    a[1] = 7.0
    assert t64.numpy()[1] == 2.0
    assert ember.as_tensor(t) is t
    assert ember.as_tensor([1, 2]).dtype is ember.int64


def test_from_numpy_is_zero_copy_both_ways():
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    t = ember.from_numpy(a)
    assert t.dtype is ember.int32 and t.shape == (2, 3)
    a[0, 0] = 100
    assert t[0, 0].item() == 100
    t.numpy()[1, 2] = -1
    assert a[1, 2] == -1
    assert np.shares_memory(t.numpy(), a)


def test_from_numpy_rejects_unsupported():
    with pytest.raises(TypeError, match="from_numpy: expected np.ndarray"):
        ember.from_numpy([1, 2])
    with pytest.raises(TypeError, match="does not support the NumPy dtype"):
        ember.from_numpy(np.array(["x"]))


# --- factories -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fn, value", [(ember.zeros, 0), (ember.ones, 1)])
def test_zeros_ones_shapes_and_dtypes(fn, value):
    for args in ((2, 3), ((2, 3),), ([2, 3],), (ember.Size([2, 3]),)):
        t = fn(*args)
        assert t.shape == (2, 3) and t.dtype is ember.float32
        assert (t.numpy() == value).all()
    assert fn(size=(4,)).shape == (4,)
    assert fn(()).shape == () and fn(0).numel() == 0
    assert fn(2, dtype=ember.int32).dtype is ember.int32
    assert fn(2, requires_grad=True).requires_grad


def test_factory_shape_errors():
    with pytest.raises(TypeError, match=r"zeros\(\): argument 'size' must be tuple of ints, but found element of "
                                        r"type float at pos 1"):
        ember.zeros(2, 2.5)
    with pytest.raises(RuntimeError, match="negative dimension -1"):
        ember.ones(2, -1)


def test_empty_and_like_functions():
    e = ember.empty(3, 2, dtype=ember.float64)
    assert e.shape == (3, 2) and e.dtype is ember.float64
    src = ember.tensor([[1, 2], [3, 4]], dtype=ember.int32)
    for fn, value in ((ember.zeros_like, 0), (ember.ones_like, 1)):
        t = fn(src)
        assert t.shape == src.shape and t.dtype is ember.int32 and (t.numpy() == value).all()
    assert ember.empty_like(src).shape == (2, 2)
    f = ember.full_like(src, 7)
    assert f.dtype is ember.int32 and (f.numpy() == 7).all()
    assert ember.zeros_like(src, dtype=ember.float64).dtype is ember.float64
    with pytest.raises(TypeError, match="zeros_like\\(\\): argument 'input' must be Tensor"):
        ember.zeros_like([1, 2])


@pytest.mark.parametrize("value, dtype", [(1.5, ember.float32), (3, ember.int64), (True, ember.bool)])
def test_full_infers_dtype_from_value(value, dtype):
    t = ember.full((2, 2), value)
    assert t.dtype is dtype and (t.numpy() == value).all()


def test_full_matches_torch_dtype(torch):
    for value in (1.5, 3, True, -2):
        assert ember.full((1,), value).dtype.name == str(torch.full((1,), value).dtype).replace("torch.", "")
    assert ember.full((2,), 2, dtype=ember.float64).dtype is ember.float64


def test_new_methods_follow_self():
    t = ember.ones(2, dtype=ember.float64)
    assert t.new_zeros(3).dtype is ember.float64 and t.new_zeros(3).shape == (3,)
    assert t.new_ones((2, 2)).shape == (2, 2)
    assert t.new_full((2,), 5).numpy().tolist() == [5.0, 5.0]
    assert t.new_empty(4).shape == (4,)
    assert t.new_tensor([1, 2]).dtype is ember.float64
    assert t.new_zeros(2, dtype=ember.int32).dtype is ember.int32


# --- ranges ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [(5,), (2, 9), (2, 9, 3), (10, 0, -3), (0, 1, 0.25), (1.5,), (0, 5, 1.5), (-1, 1, 0.1),
                                  (3, 3)])
def test_arange_matches_torch(args, torch):
    e, t = ember.arange(*args), torch.arange(*args)
    assert e.dtype.name == str(t.dtype).replace("torch.", "")
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-6, atol=1e-6)


def test_arange_int_vs_float_and_large_ints():
    assert ember.arange(4).dtype is ember.int64
    assert ember.arange(4.0).dtype is ember.float32
    assert ember.arange(0, 4, dtype=ember.float64).dtype is ember.float64
    big = 2 ** 60
    assert ember.arange(big, big + 3).tolist() == [big, big + 1, big + 2]  # exact, no float round trip


def test_arange_errors():
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        ember.arange(0, 5, 0)
    with pytest.raises(RuntimeError, match="upper bound and larger bound inconsistent with step sign"):
        ember.arange(0, 5, -1)


def test_linspace_logspace_eye(torch):
    np.testing.assert_allclose(ember.linspace(-1, 2, 7).numpy(), torch.linspace(-1, 2, 7).numpy(), rtol=1e-6)
    assert ember.linspace(0, 1, 5).dtype is ember.float32
    assert ember.linspace(0, 1, 0).shape == (0,)
    np.testing.assert_allclose(ember.logspace(0, 3, 4).numpy(), torch.logspace(0, 3, 4).numpy(), rtol=1e-6)
    np.testing.assert_array_equal(ember.eye(3).numpy(), np.eye(3))
    np.testing.assert_array_equal(ember.eye(2, 4, dtype=ember.int64).numpy(), np.eye(2, 4))
    assert ember.eye(2, 4, dtype=ember.int64).dtype is ember.int64
    with pytest.raises(RuntimeError, match="number of steps must be non-negative"):
        ember.linspace(0, 1, -1)


# --- random numbers ----------------------------------------------------------------------------------------------------

def test_rand_randn_shapes_ranges_and_dtypes():
    u = ember.rand(200, 50)
    assert u.shape == (200, 50) and u.dtype is ember.float32
    assert 0 <= u.numpy().min() and u.numpy().max() < 1 and abs(u.numpy().mean() - 0.5) < 0.02
    n = ember.randn((400, 50), dtype=ember.float64)
    assert n.dtype is ember.float64 and abs(n.numpy().mean()) < 0.02 and abs(n.numpy().std() - 1) < 0.02
    assert ember.randn(3, requires_grad=True).requires_grad
    with pytest.raises(RuntimeError, match="expected a floating-point dtype"):
        ember.rand(2, dtype=ember.int64)


def test_randint_forms():
    a = ember.randint(3, 10, (1000,))
    assert a.dtype is ember.int64 and a.numpy().min() >= 3 and a.numpy().max() <= 9
    assert set(a.numpy().tolist()) == set(range(3, 10))
    b = ember.randint(5, (2, 3))  # randint(high, size)
    assert b.shape == (2, 3) and b.numpy().max() < 5
    assert ember.randint(0, 2, (4,), dtype=ember.float32).dtype is ember.float32
    with pytest.raises(RuntimeError, match="expected low < high"):
        ember.randint(5, 5, (2,))


def test_normal_forms():
    s = ember.normal(3.0, 0.5, size=(20000,))
    assert abs(s.numpy().mean() - 3.0) < 0.02 and abs(s.numpy().std() - 0.5) < 0.02
    mean = ember.tensor([0.0, 100.0], dtype=ember.float64)
    t = ember.normal(mean, 1e-3)
    assert t.dtype is ember.float64 and t.shape == (2,)
    np.testing.assert_allclose(t.numpy(), [0.0, 100.0], atol=0.01)


def test_like_random_and_permutations():
    src = ember.zeros(3, 4, dtype=ember.float64)
    assert ember.rand_like(src).dtype is ember.float64 and ember.randn_like(src).shape == (3, 4)
    p = ember.randperm(10)
    assert p.dtype is ember.int64 and sorted(p.tolist()) == list(range(10))
    m = ember.multinomial(ember.tensor([[0.0, 1.0, 0.0]]), 2, replacement=True)
    assert m.tolist() == [[1, 1]]
    b = ember.bernoulli(ember.tensor([0.0, 1.0]))
    assert b.tolist() == [0.0, 1.0]


def test_manual_seed_reproducibility():
    ember.manual_seed(123)
    a = ember.rand(5)
    b = ember.randn(3)
    ember.manual_seed(123)
    np.testing.assert_array_equal(ember.rand(5).numpy(), a.numpy())
    np.testing.assert_array_equal(ember.randn(3).numpy(), b.numpy())
    ember.manual_seed(124)
    assert not np.array_equal(ember.rand(5).numpy(), a.numpy())
    assert ember.initial_seed() == 124


def test_generator_objects_are_independent_of_the_global_state():
    g = ember.Generator().manual_seed(7)
    assert isinstance(g, ember.Generator) and g.initial_seed() == 7
    a = ember.rand(4, generator=g)
    ember.manual_seed(0)
    ember.rand(10)  # consuming the default generator does not affect g
    g2 = ember.Generator().manual_seed(7)
    np.testing.assert_array_equal(ember.rand(4, generator=g2).numpy(), a.numpy())
    np.testing.assert_array_equal(ember.randint(0, 100, (5,), generator=g).numpy(),
                                  ember.randint(0, 100, (5,), generator=g2).numpy())


def test_rng_state_round_trip():
    state = ember.get_rng_state()
    a = ember.rand(3)
    ember.set_rng_state(state)
    np.testing.assert_array_equal(ember.rand(3).numpy(), a.numpy())


def test_in_place_random_fills():
    t = ember.zeros(1000)
    assert t.uniform_(2.0, 3.0) is t
    assert 2.0 <= t.numpy().min() and t.numpy().max() < 3.0
    t.normal_(5.0, 0.1)
    assert abs(t.numpy().mean() - 5.0) < 0.05
