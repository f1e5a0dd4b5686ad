"""Broadcasting and type promotion of the binary elementwise ops (+ - * / and comparisons).

Result dtypes are checked against torch.result_type when PyTorch is installed, else against tables taken from
PyTorch 2.x; shapes against NumPy's broadcasting; same-category dimensioned operands also against NumPy.
"""
import operator

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import ember

try:
    import torch
except ImportError:  # the fixed tables below stand in for torch.result_type
    torch = None

NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
SHORT = {"b": "bool", "u8": "uint8", "i8": "int8", "i16": "int16", "i32": "int32", "i64": "int64",
         "f16": "float16", "bf16": "bfloat16", "f32": "float32", "f64": "float64"}

# torch.promote_types (also the rule for two 0-dim tensors): row = first operand, column = second, order of NAMES
DIM_DIM = """
b    u8   i8   i16  i32  i64  f16  bf16 f32  f64
u8   u8   i16  i16  i32  i64  f16  bf16 f32  f64
i8   i16  i8   i16  i32  i64  f16  bf16 f32  f64
i16  i16  i16  i16  i32  i64  f16  bf16 f32  f64
i32  i32  i32  i32  i32  i64  f16  bf16 f32  f64
i64  i64  i64  i64  i64  i64  f16  bf16 f32  f64
f16  f16  f16  f16  f16  f16  f16  f32  f32  f64
bf16 bf16 bf16 bf16 bf16 bf16 f32  bf16 f32  f64
f32  f32  f32  f32  f32  f32  f32  f32  f32  f64
f64  f64  f64  f64  f64  f64  f64  f64  f64  f64
"""
# a tensor with dimensions (row) with a 0-dim tensor (column)
DIM_ZERO = """
b    u8   i8   i16  i32  i64  f16  bf16 f32  f64
u8   u8   u8   u8   u8   u8   f16  bf16 f32  f64
i8   i8   i8   i8   i8   i8   f16  bf16 f32  f64
i16  i16  i16  i16  i16  i16  f16  bf16 f32  f64
i32  i32  i32  i32  i32  i32  f16  bf16 f32  f64
i64  i64  i64  i64  i64  i64  f16  bf16 f32  f64
f16  f16  f16  f16  f16  f16  f16  f16  f16  f16
bf16 bf16 bf16 bf16 bf16 bf16 bf16 bf16 bf16 bf16
f32  f32  f32  f32  f32  f32  f32  f32  f32  f32
f64  f64  f64  f64  f64  f64  f64  f64  f64  f64
"""
# a tensor (any ndim) with a Python bool, int, float (default dtype float32)
WITH_SCALAR = """
b    i64  f32
u8   u8   f32
i8   i8   f32
i16  i16  f32
i32  i32  f32
i64  i64  f32
f16  f16  f16
bf16 bf16 bf16
f32  f32  f32
f64  f64  f64
"""


def _table(text):
    rows = [line.split() for line in text.strip().splitlines()]
    return rows


_DD, _DZ, _WS = _table(DIM_DIM), _table(DIM_ZERO), _table(WITH_SCALAR)
_SCALAR_COL = {bool: 0, int: 1, float: 2}


def table_result_type(a, b):
    """PyTorch's result dtype name for operands described as (dtype name, ndim) or a Python number."""
    if not isinstance(a, tuple):
        a, b = b, a
    da, na = a
    if not isinstance(b, tuple):
        return SHORT[_WS[NAMES.index(da)][_SCALAR_COL[type(b)]]]
    db, nb = b
    i, j = NAMES.index(da), NAMES.index(db)
    if (na == 0) == (nb == 0):
        return SHORT[_DD[i][j]]
    return SHORT[_DZ[i][j]] if nb == 0 else SHORT[_DZ[j][i]]


def torch_result_type(a, b):
    def make(x):
        if isinstance(x, tuple):
            return torch.ones((1,) * x[1], dtype=getattr(torch, x[0]))
        return x
    return str(torch.result_type(make(a), make(b))).split(".")[1]


def expected_result_type(a, b):
    return torch_result_type(a, b) if torch is not None else table_result_type(a, b)


@pytest.fixture
def tch(torch):
    """The conftest `torch` fixture under another name: the module-level `torch` above stays in view here."""
    return torch


def test_fixed_tables_match_torch(tch):
    assert tch is torch
    for da in NAMES:
        for scalar in (True, 2, 2.5):
            assert table_result_type((da, 1), scalar) == torch_result_type((da, 1), scalar)
        for db in NAMES:
            for na, nb in ((1, 1), (0, 0), (2, 0), (0, 1)):
                assert table_result_type((da, na), (db, nb)) == torch_result_type((da, na), (db, nb)), (da, db, na, nb)


@pytest.mark.parametrize("a, b, expected", [
    (("int32", 1), 2.5, "float32"),        # int tensor + Python float -> the default float dtype
    (("bool", 1), 3, "int64"),             # bool tensor + Python int -> int64
    (("float16", 1), 2.5, "float16"),      # float16 tensor + Python float stays float16
    (("int32", 1), ("int64", 0), "int32"),  # a 0-dim tensor of the same category does not widen
    (("uint8", 1), ("int8", 1), "int16"),
    (("int64", 1), ("float64", 0), "float64"),  # a 0-dim tensor of a higher category decides
    (("int16", 2), ("float16", 0), "float16"),
    (("float32", 1), ("float64", 0), "float32"),
    (("float16", 1), ("bfloat16", 1), "float32"),
    (("uint8", 1), ("int8", 0), "uint8"),
    (("int32", 0), 2.5, "float32"),
    (("float64", 0), 2.5, "float64"),
    (("bool", 1), True, "bool"),
    (("int8", 1), 1000, "int8"),
])
def test_known_promotions(a, b, expected):
    assert table_result_type(a, b) == expected
    if ember.bfloat16 is None and "bfloat16" in (a[0], b[0] if isinstance(b, tuple) else None):
        pytest.skip("bfloat16 needs ml_dtypes")
    ta = _make(*a, seed=0)
    tb = _make(*b, seed=1) if isinstance(b, tuple) else b
    assert (ta + tb).dtype.name == expected
    assert (tb + ta).dtype.name == expected
    assert ember.result_type(ta, tb).name == expected


def test_default_dtype_changes_python_float_result():
    with ember.dtypes.default_dtype(ember.float64):
        assert (ember.tensor([1, 2]) + 0.5).dtype is ember.float64
        assert (ember.tensor([1, 2]) / ember.tensor([2, 2])).dtype is ember.float64
    assert (ember.tensor([1, 2]) / ember.tensor([2, 2])).dtype is ember.float32


def test_numpy_scalars_count_as_python_numbers():
    assert (ember.ones(3) + np.float64(2.0)).dtype is ember.float32
    assert (ember.ones(3, dtype=ember.int32) + np.int64(3)).dtype is ember.int32
    assert (ember.ones(3, dtype=ember.float16) * np.float32(2.0)).dtype is ember.float16


def _make(dtype_name, ndim_or_shape, seed=0):
    """A tensor of small positive values (1..3, no division by zero) of the given dtype and shape/ndim."""
    shape = (2,) * ndim_or_shape if isinstance(ndim_or_shape, int) else ndim_or_shape
    rng = np.random.default_rng(seed)
    vals = rng.integers(1, 4, size=shape).astype(np.float32)
    if dtype_name == "bool":
        vals = vals > 1
    return ember.tensor(vals).to(getattr(ember, dtype_name))


OPS = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv,
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge,
}
_CMP = {"eq", "ne", "lt", "le", "gt", "ge"}


def _expected(op, a_desc, b_desc):
    if op in _CMP:
        return "bool"
    rt = expected_result_type(a_desc, b_desc)
    if op == "div" and not rt.startswith(("float", "bfloat")):
        return "float32"  # true division of integers gives the default float dtype
    return rt


def _is_bool(desc):
    return desc[0] == "bool" if isinstance(desc, tuple) else isinstance(desc, bool)


def _to_torch(x):
    if not isinstance(x, ember.Tensor):
        return x
    t = torch.tensor(np.asarray(x.float() if x.dtype is ember.bfloat16 else x))
    return t.to(getattr(torch, x.dtype.name))


def _as_float64(x):
    return np.asarray(x.float() if x.dtype is ember.bfloat16 else x).astype(np.float64)


AVAILABLE = [n for n in NAMES if getattr(ember, n) is not None]  # bfloat16 needs ml_dtypes
operand = st.one_of(st.tuples(st.sampled_from(AVAILABLE)), st.sampled_from([True, False, 2, 3, 2.5, 1.5]))


@settings(max_examples=250, deadline=None)
@given(op=st.sampled_from(sorted(OPS)), a=operand, b=operand,
       shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       seed=st.integers(0, 3))
def test_binary_shape_and_dtype(op, a, b, shapes, seed):
    if not isinstance(a, tuple) and not isinstance(b, tuple):
        a = ("float32",)  # at least one tensor
    sa, sb = shapes.input_shapes
    ta = _make(a[0], sa, seed) if isinstance(a, tuple) else a
    tb = _make(b[0], sb, seed + 1) if isinstance(b, tuple) else b
    a_desc = (a[0], len(sa)) if isinstance(a, tuple) else a
    b_desc = (b[0], len(sb)) if isinstance(b, tuple) else b
    if op == "sub" and (_is_bool(a_desc) or _is_bool(b_desc)):  # PyTorch refuses any bool operand
        with pytest.raises(RuntimeError, match="bool"):
            OPS[op](ta, tb)
        return
    with np.errstate(divide="ignore", invalid="ignore"):  # x / False
        out = OPS[op](ta, tb)
    assert isinstance(out, ember.Tensor)
    want_shape = np.broadcast_shapes(sa if isinstance(a, tuple) else (), sb if isinstance(b, tuple) else ())
    assert tuple(out.shape) == want_shape
    assert out.dtype.name == _expected(op, a_desc, b_desc), (op, a_desc, b_desc)

    both_dim = isinstance(a, tuple) and isinstance(b, tuple) and len(sa) and len(sb)
    if both_dim and ta.dtype.category == tb.dtype.category and "bfloat16" not in (a[0], b[0]):
        if op in _CMP:
            np_dtype = np.bool_
        else:
            np_dtype = np.result_type(ta.dtype.np, tb.dtype.np)
            if op == "div" and np_dtype.kind in "biu":
                np_dtype = np.float32
        assert out._data.dtype == np_dtype

    if torch is not None:  # values too
        ref = OPS[op](_to_torch(ta), _to_torch(tb))
        assert str(ref.dtype).split(".")[1] == out.dtype.name
        np.testing.assert_allclose(_as_float64(out), ref.double().numpy(), rtol=1e-2 if "16" in out.dtype.name
                                   else 1e-6)
