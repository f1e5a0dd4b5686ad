"""The Tensor class: metadata, dtypes, conversions, devices, printing."""
import numpy as np
import pytest

import ember
from ember._format import set_printoptions


# --- metadata ----------------------------------------------------------------------------------------------------------

def test_shape_size_ndim_numel():
    t = ember.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and isinstance(t.shape, ember.Size) and t.size() == t.shape
    assert repr(t.shape) == "ember.Size([2, 3, 4])"
    assert t.size(1) == 3 and t.size(-1) == 4
    assert t.ndim == 3 and t.dim() == 3 and t.numel() == 24 and t.shape.numel() == 24
    assert t.shape[1:] == (3, 4) and isinstance(t.shape[1:], ember.Size)
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-3, 2\], but got 3\)"):
        t.size(3)


def test_transpose_property():
    a = np.arange(6.0).reshape(2, 3)
    t = ember.tensor(a)
    assert t.T.shape == (3, 2)
    np.testing.assert_array_equal(t.T.numpy(), a.T)


def test_autograd_attributes():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert x.is_leaf and x.requires_grad and x.grad is None and x.grad_fn is None
    assert not y.is_leaf and y.requires_grad and y.grad_fn is not None
    y.sum().backward()
    assert isinstance(x.grad, ember.Tensor) and x.grad.shape == x.shape
    c = ember.tensor([1.0])
    assert c.is_leaf and not c.requires_grad


def test_len_iter_and_errors():
    t = ember.tensor([[1, 2], [3, 4], [5, 6]])
    assert len(t) == 3
    rows = list(t)
    assert len(rows) == 3 and rows[1].tolist() == [3, 4]
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(ember.tensor(1.0))
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(ember.tensor(1.0))


def test_iteration_is_differentiable():
    x = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    total = sum(v * v for v in x)
    total.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])


# --- dtypes ---------------------------------------------------------------------------------------------------------------

def test_dtype_objects():
    assert ember.float32.is_floating_point and not ember.int64.is_floating_point
    assert ember.float is ember.float32 and ember.double is ember.float64 and ember.long is ember.int64
    assert repr(ember.float16) == "ember.float16"
    for name in ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"):
        t = ember.ones(2, dtype=getattr(ember, name))
        assert t.dtype is getattr(ember, name) and t.dtype.name == name


def test_bfloat16_via_ml_dtypes():
    pytest.importorskip("ml_dtypes")
    t = ember.tensor([1.5, -2.0, 3.25], dtype=ember.bfloat16)
    assert t.dtype is ember.bfloat16 and t.is_floating_point() and t.element_size() == 2
    assert t.tolist() == [1.5, -2.0, 3.25]
    assert repr(t) == "tensor([ 1.5000, -2.0000,  3.2500], dtype=ember.bfloat16)"
    assert t.float().dtype is ember.float32
    assert ember.tensor([1.0]).bfloat16().dtype is ember.bfloat16
    x = ember.tensor([1.0, 2.0], dtype=ember.bfloat16, requires_grad=True)
    (x * 3).sum().backward()
    assert x.grad.dtype is ember.bfloat16 and x.grad.tolist() == [3.0, 3.0]


def test_set_default_dtype():
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.get_default_dtype() is ember.float64
        assert ember.tensor([1.0]).dtype is ember.float64
        assert ember.zeros(2).dtype is ember.float64
        assert ember.arange(0.0, 1.0, 0.5).dtype is ember.float64
        assert ember.rand(2).dtype is ember.float64
        assert ember.full((1,), 1.5).dtype is ember.float64
        assert ember.tensor([1]).dtype is ember.int64
        assert repr(ember.tensor([1.0])) == "tensor([1.])"
        assert repr(ember.tensor([1.0], dtype=ember.float32)) == "tensor([1.], dtype=ember.float32)"
    finally:
        ember.set_default_dtype(ember.float32)
    assert ember.tensor([1.0]).dtype is ember.float32
    with pytest.raises(TypeError, match="only floating-point dtypes"):
        ember.set_default_dtype(ember.int64)


def test_casting_methods():
    t = ember.tensor([1.7, -2.2])
    assert t.double().dtype is ember.float64 and t.half().dtype is ember.float16
    assert t.long().tolist() == [1, -2] and t.int().dtype is ember.int32
    assert t.bool().tolist() == [True, True]
    assert t.type() == "torch.FloatTensor" and t.type(ember.float64).dtype is ember.float64


def test_type_names_and_casts_as_torch(torch):
    t, tt = ember.tensor([1.7, -2.2]), torch.tensor([1.7, -2.2])
    for d in ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool"):
        assert t.to(getattr(ember, d)).type() == tt.to(getattr(torch, d)).type()
    for name in ("LongTensor", "DoubleTensor", "BoolTensor", "ByteTensor"):
        want = tt.type(getattr(torch, name))
        for arg in (getattr(ember, name), f"torch.{name}", f"ember.{name}"):
            got = t.type(arg)
            assert got.dtype.name == str(want.dtype).split(".")[1] and got.tolist() == want.tolist()
    assert t.type(ember.int64, True).tolist() == tt.type(torch.int64, True).tolist()  # positional non_blocking
    assert t.type(ember.float32) is t and t.type("torch.FloatTensor") is t and t.type(ember.FloatTensor) is t
    assert t.type(ember.Tensor) is t and t.type("torch.Tensor") is t  # the default dtype
    for bad in ("LongTensor", "torch.int64", "torch.long"):
        with pytest.raises(ValueError, match=f"invalid type: '{bad}'"):
            t.type(bad)
        with pytest.raises(ValueError, match=f"invalid type: '{bad}'"):
            tt.type(bad)
    with pytest.raises(TypeError, match="dtype must be a type, str, or dtype object"):
        t.type(5)
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    x.type(ember.DoubleTensor).sum().backward()  # differentiable, as to()
    assert x.grad.dtype is ember.float32 and x.grad.tolist() == [1.0, 1.0]
    model = ember.nn.Linear(2, 2).type(ember.DoubleTensor)
    assert model.weight.dtype is ember.float64 and isinstance(model.weight, ember.nn.Parameter)
    assert ember.nn.Linear(2, 2).type("torch.DoubleTensor").bias.dtype is ember.float64


# --- to / cpu / devices ------------------------------------------------------------------------------------------------

def test_to_dtype_and_device():
    t = ember.tensor([1.0, 2.0])
    assert t.to("cpu") is t and t.cpu() is t and t.to(ember.float32) is t
    d = t.to(ember.float64)
    assert d.dtype is ember.float64 and d is not t
    assert t.to("cpu", ember.int32).dtype is ember.int32
    assert t.to(dtype=ember.float16).dtype is ember.float16
    assert t.to(device=ember.device("cpu")).device.type == "cpu"
    other = ember.tensor([1], dtype=ember.int16)
    assert t.to(other).dtype is ember.int16
    c = t.to(ember.float32, copy=True)
    assert c is not t and not np.shares_memory(c.numpy(), t.numpy())
    assert str(t.device) == "cpu" and repr(t.device) == "device(type='cpu')" and not t.is_cuda


def test_to_is_differentiable():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = x.to(ember.float64)
    (y * y).sum().backward()
    assert x.grad.dtype is ember.float32
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


# --- conversions ----------------------------------------------------------------------------------------------------

def test_numpy_shares_memory():
    t = ember.zeros(3)
    a = t.numpy()
    a[1] = 5.0
    assert t.tolist() == [0.0, 5.0, 0.0]
    with pytest.raises(RuntimeError, match=r"Can't call numpy\(\) on Tensor that requires grad"):
        ember.zeros(2, requires_grad=True).numpy()


def test_array_protocol():
    t = ember.tensor([[1.0, 2.0], [3.0, 4.0]])
    a = np.asarray(t)
    assert np.shares_memory(a, t.numpy())
    b = np.array(t)
    b[0, 0] = 100.0
    assert t.numpy()[0, 0] == 1.0  # np.array copies
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    np.testing.assert_array_equal(np.add(t, 1), [[2.0, 3.0], [4.0, 5.0]])


def test_item_and_python_numbers():
    assert ember.tensor(2.5).item() == 2.5 and isinstance(ember.tensor(2.5).item(), float)
    assert ember.tensor([7]).item() == 7 and isinstance(ember.tensor([7]).item(), int)
    assert ember.tensor(True).item() is True
    assert float(ember.tensor([1.5])) == 1.5 and int(ember.tensor(3)) == 3
    assert bool(ember.tensor([1.0])) and not bool(ember.tensor(0))
    assert [10, 20, 30][ember.tensor(1)] == 20
    with pytest.raises(RuntimeError, match="a Tensor with 2 elements cannot be converted to Scalar"):
        ember.tensor([1.0, 2.0]).item()
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value is ambiguous"):
        bool(ember.tensor([1.0, 2.0]))


def test_tolist():
    assert ember.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert ember.tensor(1.5).tolist() == 1.5
    assert ember.tensor([True]).tolist() == [True]


def test_misc_methods():
    t = ember.zeros(2, 3, dtype=ember.float64)
    assert t.element_size() == 8 and t.nbytes == 48 and t.stride() == (3, 1) and t.stride(0) == 3
    assert t.is_contiguous() and not t.T.is_contiguous()
    assert t.is_floating_point() and not ember.tensor([1]).is_floating_point()
    assert ember.is_tensor(t) and not ember.is_tensor(t.numpy())
    assert t.data_ptr() == t.numpy().__array_interface__["data"][0]
    assert f"{ember.tensor(2.5):.2f}" == "2.50"


# --- printing ------------------------------------------------------------------------------------------------------------

REPR_CASES = [
    [1, 2, 3], [1, -10, 100], [1.5, -2.0], [1.0, 2.0], [-1.0, 2.0], [0.1, 0.2, 0.3], [1e-5, 1.0], [1e8, 1.0],
    [1e9, 1.5], [0.0, 0.0], [float("nan"), 1.0], [float("inf"), -1.0, 2.5], [True, False], [[1.5, 2.25], [-3.125, 4.0]],
    3.5, -2.0, 7, True, [123456.789, 0.5], [1e-3, 1.0], [-0.0, 1.0], [1e3, 1.0], [1001.0, 1.0], [1234.5, 1.0], [],
    [[[1, 2], [3, 4]], [[5, 6], [7, 8]]], [[]], float("nan"), [1e-10],
]


@pytest.mark.parametrize("data", REPR_CASES, ids=[str(i) for i in range(len(REPR_CASES))])
def test_repr_matches_torch(data, torch):
    assert repr(ember.tensor(data)) == repr(torch.tensor(data)).replace("torch.", "ember.")


@pytest.mark.parametrize("seed, shape, dtype, scale", [
    (0, (2000,), np.float32, 1.0), (1, (50, 40), np.float32, 1.0), (2, (4, 5, 60), np.float64, 1.0),
    (3, (30, 40), np.int64, 1000), (4, (30,), np.float32, 1e4), (5, (3, 30), np.float32, 1.0),
    (6, (12, 12), np.bool_, 1), (7, (7, 7), np.float64, 1e-6), (8, (1001,), np.int32, 100),
])
def test_repr_of_larger_tensors_matches_torch(seed, shape, dtype, scale, torch):
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal(shape) * scale).astype(dtype)
    assert repr(ember.tensor(a)) == repr(torch.tensor(a)).replace("torch.", "ember.")


def test_repr_with_autograd_and_dtype_suffixes(torch):
    for values in ([1.5, -2.0], [[0.25, 3.0], [1e-6, 2.0]]):
        x, tx = ember.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
        assert repr(x) == repr(tx).replace("torch.", "ember.")
        assert repr(x * 2) == repr(tx * 2).replace("torch.", "ember.")
        x64 = ember.tensor(values, dtype=ember.float64, requires_grad=True)
        assert repr(x64) == repr(torch.tensor(values, dtype=torch.float64, requires_grad=True)).replace("torch.",
                                                                                                         "ember.")
    for dtype in ("int32", "int16", "uint8", "float16", "float64"):
        e, t = ember.tensor([1, 2], dtype=getattr(ember, dtype)), torch.tensor([1, 2], dtype=getattr(torch, dtype))
        assert repr(e) == repr(t).replace("torch.", "ember.")
    for shape in ((0,), (2, 0), (0, 3)):
        assert repr(ember.zeros(shape)) == repr(torch.zeros(shape)).replace("torch.", "ember.")
        assert repr(ember.zeros(shape, dtype=ember.int64)) == \
            repr(torch.zeros(shape, dtype=torch.int64)).replace("torch.", "ember.")


def test_repr_examples():
    assert repr(ember.tensor([1.5, -2.0])) == "tensor([ 1.5000, -2.0000])"
    assert repr(ember.tensor([1.0, 2.0], requires_grad=True) * 2) == "tensor([2., 4.], grad_fn=<MulBackward0>)"
    assert repr(ember.tensor([1.0], dtype=ember.float64)) == "tensor([1.], dtype=ember.float64)"
    assert repr(ember.tensor([1e-5, 1.0])) == "tensor([1.0000e-05, 1.0000e+00])"
    assert str(ember.tensor([1, 2])) == "tensor([1, 2])"
    long = repr(ember.arange(2000))
    assert long == "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])"


def test_set_printoptions():
    try:
        set_printoptions(precision=2)
        assert repr(ember.tensor([1.2345])) == "tensor([1.23])"
        set_printoptions(threshold=5, edgeitems=2)
        assert repr(ember.arange(10)) == "tensor([0, 1,  ..., 8, 9])"
        set_printoptions(profile="default", sci_mode=True)
        assert repr(ember.tensor([1.5])) == "tensor([1.5000e+00])"
    finally:
        set_printoptions(profile="default")
    assert repr(ember.tensor([1.5])) == "tensor([1.5000])"


@pytest.mark.parametrize("name", ["float32", "float64", "float16", "bfloat16"])
def test_finfo_equals_torch(name, torch):
    got, want = ember.finfo(getattr(ember, name)), torch.finfo(getattr(torch, name))
    for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
        assert getattr(got, attr) == getattr(want, attr), attr
