"""Tensor factories: zeros, ones, full, empty, arange, linspace, eye and their *_like forms."""
import math

from .. import dtypes as _dt
from ..device import CPU, to_device
from ..tensor import Tensor
from ._util import as_shape

__all__ = ["zeros", "ones", "full", "empty", "arange", "linspace", "logspace", "eye", "zeros_like", "ones_like",
           "full_like", "empty_like"]


def _make(fill, size, dtype, device, requires_grad, op):
    shape = as_shape(size, op)
    if any(s < 0 for s in shape):
        raise RuntimeError(f"{op}: Trying to create tensor with negative dimension in shape {shape}")
    dtype = _dt.to_dtype(dtype) or _dt.get_default_dtype()
    xp = (to_device(device) or CPU).xp
    arr = xp.empty(shape, dtype=dtype.np) if fill is None else xp.full(shape, fill, dtype=dtype.np)
    t = Tensor._wrap(arr)
    return t.requires_grad_(True) if requires_grad else t


def zeros(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of zeros with the given shape."""
    return _make(0, size, dtype, device, requires_grad, "zeros")


def ones(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of ones with the given shape."""
    return _make(1, size, dtype, device, requires_grad, "ones")


def empty(*size, dtype=None, device=None, requires_grad=False):
    """An uninitialised tensor with the given shape."""
    return _make(None, size, dtype, device, requires_grad, "empty")


def _scalar_dtype(value):
    if isinstance(value, bool):
        return _dt.bool
    if isinstance(value, int):
        return _dt.int64
    return _dt.get_default_dtype()


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor filled with fill_value; the dtype follows the value (int64, bool or the default float)."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return _make(fill_value, (size,), dtype or _scalar_dtype(fill_value), device, requires_grad, "full")


def _like(t, fill, dtype, device, requires_grad, op):
    return _make(fill, (t.shape,), dtype or t.dtype, device or t.device, requires_grad, op)


def zeros_like(input, dtype=None, device=None, requires_grad=False):
    return _like(input, 0, dtype, device, requires_grad, "zeros_like")


def ones_like(input, dtype=None, device=None, requires_grad=False):
    return _like(input, 1, dtype, device, requires_grad, "ones_like")


def empty_like(input, dtype=None, device=None, requires_grad=False):
    return _like(input, None, dtype, device, requires_grad, "empty_like")


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False):
    return _like(input, fill_value, dtype, device, requires_grad, "full_like")


def _num(x):
    return x.item() if isinstance(x, Tensor) else x


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Values from start to end (exclusive) by step; int64 when all arguments are integers."""
    start, end, step = _num(start), _num(end), _num(step)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound and larger bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    if dtype is None:
        dtype = _dt.int64 if all(isinstance(v, int) for v in (start, end, step)) else _dt.get_default_dtype()
    dtype = _dt.to_dtype(dtype)
    xp = (to_device(device) or CPU).xp
    n = max(0, math.ceil((end - start) / step))
    arr = (xp.arange(n, dtype="float64") * step + start).astype(dtype.np)
    t = Tensor._wrap(arr)
    return t.requires_grad_(True) if requires_grad else t


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """steps evenly spaced values from start to end (inclusive)."""
    start, end = _num(start), _num(end)
    if steps < 0:
        raise RuntimeError("linspace: number of steps must be non-negative")
    dtype = _dt.to_dtype(dtype) or _dt.get_default_dtype()
    xp = (to_device(device) or CPU).xp
    t = Tensor._wrap(xp.linspace(start, end, steps, dtype="float64").astype(dtype.np))
    return t.requires_grad_(True) if requires_grad else t


def logspace(start, end, steps, base=10.0, dtype=None, device=None, requires_grad=False):
    """base ** linspace(start, end, steps)."""
    dtype = _dt.to_dtype(dtype) or _dt.get_default_dtype()
    xp = (to_device(device) or CPU).xp
    t = Tensor._wrap((base ** xp.linspace(_num(start), _num(end), steps, dtype="float64")).astype(dtype.np))
    return t.requires_grad_(True) if requires_grad else t


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    """An n x m matrix with ones on the diagonal."""
    dtype = _dt.to_dtype(dtype) or _dt.get_default_dtype()
    xp = (to_device(device) or CPU).xp
    t = Tensor._wrap(xp.eye(n, n if m is None else m, dtype=dtype.np))
    return t.requires_grad_(True) if requires_grad else t
