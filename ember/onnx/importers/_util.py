"""Helpers shared by the importers: reading inputs as Python values, NumPy paths for integer ops."""
import numpy as np
from onnx.helper import tensor_dtype_to_np_dtype

from ...tensor import Tensor
from .._values import is_float, to_numpy, to_value

__all__ = ["ints", "scalar", "float_path", "numpy_op", "onnx_np_dtype", "tensor", "axis_of"]


def ints(v):
    """A tensor or array of integers as a list of Python ints (None stays None)."""
    if v is None:
        return None
    return [int(x) for x in np.asarray(to_numpy(v)).reshape(-1)]


def scalar(v, default=None):
    """A one-element tensor as a Python number."""
    if v is None:
        return default
    return np.asarray(to_numpy(v)).reshape(-1)[0].item()


def float_path(*values):
    """True when every present value is a floating-point ember tensor (the differentiable path)."""
    return all(v is None or (isinstance(v, Tensor) and is_float(v)) for v in values)


def numpy_op(fn, *values):
    """Apply a NumPy function to the arrays of ``values`` (integer, bool, string ops: no gradient) and wrap the
    result back as ember values."""
    out = fn(*[to_numpy(v) for v in values])
    if isinstance(out, tuple):
        return tuple(to_value(np.asarray(o)) for o in out)
    return to_value(np.asarray(out))


def onnx_np_dtype(elem_type):
    """The NumPy dtype of an ONNX TensorProto element type."""
    return np.dtype(tensor_dtype_to_np_dtype(elem_type))


def tensor(v):
    """An ember tensor for a value (NumPy arrays of dtypes ember has are wrapped; others raise)."""
    if isinstance(v, Tensor):
        return v
    t = to_value(v)
    if not isinstance(t, Tensor):
        raise TypeError(f"dtype {np.asarray(v).dtype} is not supported by ember for this op")
    return t


def axis_of(axis, ndim):
    """A possibly negative ONNX axis as a non-negative one."""
    return axis + ndim if axis < 0 else axis
