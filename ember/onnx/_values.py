"""Values flowing through an imported graph: ember tensors, or NumPy arrays for the dtypes ember lacks
(strings, unsigned 16/32/64-bit, float8, 4-bit), Python lists for sequences, None for an absent optional."""
import numpy as np

from .. import dtypes as _dtypes
from ..tensor import Tensor, from_numpy

__all__ = ["to_value", "to_numpy", "np_dtype", "is_float", "ember_dtype"]


def ember_dtype(np_dtype):
    """The ember dtype of a NumPy dtype, or None when ember has no such dtype."""
    try:
        return _dtypes.from_numpy_dtype(np.dtype(np_dtype))
    except TypeError:
        return None


def to_value(x):
    """An ember tensor for a NumPy array of a dtype ember has; the array itself otherwise (lists map over)."""
    if isinstance(x, (list, tuple)):
        return [to_value(v) for v in x]
    if x is None or isinstance(x, Tensor):
        return x
    arr = np.asarray(x)
    if ember_dtype(arr.dtype) is None:
        return arr
    return from_numpy(arr if arr.flags.c_contiguous and arr.flags.writeable else arr.copy())


def to_numpy(v):
    """The NumPy array of a value (a copy-free view where possible); lists map over."""
    if isinstance(v, (list, tuple)):
        return [to_numpy(x) for x in v]
    if isinstance(v, Tensor):
        return v.detach().numpy()
    return v if v is None else np.asarray(v)


def np_dtype(v):
    """The NumPy dtype of a value."""
    return v.dtype.np if isinstance(v, Tensor) else np.asarray(v).dtype


def is_float(v):
    """True for a floating-point tensor or array."""
    dt = np_dtype(v)
    return dt.kind == "f" or "float" in dt.name  # ml_dtypes' bfloat16 and float8 are not np.floating
