"""Argument checks that many ops share, each with one wording: is an argument a Tensor (a floating-point one, a
number), are two tensors on one device, do they have one dtype. A check that belongs to one op or one family of
ops stays with it."""
import numpy as np

from ..tensor import Tensor

_ndarray = np.ndarray
_SCALARS = (int, float, bool)
_PY_SCALARS = (int, float, bool)  # exact classes: numpy scalars (np.float64 subclasses float) are converted


def not_tensor(x, op, name="input", pos=None):
    """The TypeError for an argument that must be a Tensor, in PyTorch's words (with its position when known):
    ``op(): argument 'name' (position pos) must be Tensor, not T``. Hot paths test isinstance themselves and raise
    this; others call check_tensor."""
    at = "" if pos is None else f" (position {pos})"
    return TypeError(f"{op}(): argument '{name}'{at} must be Tensor, not {type(x).__name__}")


def check_tensor(x, op, name="input", pos=None):
    """Raise not_tensor's TypeError unless x is a Tensor."""
    if not isinstance(x, Tensor):
        raise not_tensor(x, op, name, pos)


def float_tensor(x, op):
    """x, which must be a Tensor of a floating-point dtype (bfloat16 included)."""
    if not isinstance(x, Tensor):
        raise not_tensor(x, op)
    if x._data.dtype.kind not in "fV":  # "V": ml_dtypes' bfloat16
        raise RuntimeError(f"{op}: expected a floating-point tensor, got {x.dtype}")
    return x


def scalar(x, op):
    """A Python number stays one (NumPy scalars become one, as in PyTorch); arrays become tensors."""
    if x.__class__ in _PY_SCALARS:
        return x
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, _SCALARS):  # other subclasses of int/float
        return float(x) if isinstance(x, float) else (bool(x) if isinstance(x, bool) else int(x))
    if isinstance(x, np.ndarray):
        return Tensor._wrap(np.asarray(x))
    raise TypeError(f"{op}: unsupported operand type {type(x).__name__} (expected a Tensor or a number)")


def same_device(a, b, op):
    """RuntimeError unless tensors a and b are on one device (two NumPy arrays always are; two CuPy arrays may be on
    two GPUs)."""
    if (a._data.__class__ is not b._data.__class__ or a._data.__class__ is not _ndarray) and a.device != b.device:
        raise RuntimeError(f"{op}: Expected all tensors to be on the same device, but found at least two devices, "
                           f"{a.device} and {b.device}!")


def same_dtype(a, b, op, a_name="input", b_name="other"):
    """RuntimeError unless tensors a and b have one dtype (for ops that do not promote)."""
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"{op}: {a_name} and {b_name} must have the same dtype, but got {a.dtype} and {b.dtype}")
