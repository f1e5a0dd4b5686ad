"""Tensor factories: zeros, ones, full, empty, arange, linspace, eye, their *_like forms and Tensor.new_*."""
from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from .. import _tracing, dtypes as _dt
from ..device import CPU, to_device
from ..dtypes import dtype as _dtype
from ..tensor import Tensor, tensor  # noqa: F401  (tensor: importable from here too)
from ..types import Device, Number, _size
from ._checks import check_tensor
from .registry import export


def _shape(size, op):
    """A shape from ints or one tuple/list/Size, with PyTorch's TypeError for anything else."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    shape = []
    for i, s in enumerate(size):
        try:
            shape.append(operator.index(s))
        except TypeError:
            raise TypeError(f"{op}(): argument 'size' must be tuple of ints, but found element of type "
                            f"{type(s).__name__} at pos {i}") from None
    if any(s < 0 for s in shape):
        raise RuntimeError(f"{op}: Trying to create tensor with negative dimension {min(shape)}: {shape}")
    return tuple(shape)


def _finish(arr, requires_grad):
    t = Tensor._wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return _tracing.created(t) if _tracing.active[0] else t


def _make(fill, size, dtype, device, requires_grad, op):
    shape = _shape(size, op)
    dtype = _dt.to_dtype(dtype) or _dt.get_default_dtype()
    xp = (to_device(device) or CPU).xp
    arr = xp.empty(shape, dtype=dtype.np) if fill is None else xp.full(shape, fill, dtype=dtype.np)
    return _finish(arr, requires_grad)


def _size_args(shape, size):
    return (size,) if size is not None else shape


@export(ember=True)
def zeros(*shape: int | _size, size: _size | None = None, dtype: _dtype | None = None, device: Device = None,
          requires_grad: bool = False) -> Tensor:
    """Return a tensor filled with zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``.

    Args:
        *shape (int or tuple of ints): the shape, as separate ints or one tuple/list/Size.
        size (tuple of ints, optional): the shape as a keyword (instead of ``*shape``). Default: None.
        dtype (ember.dtype, optional): the element type; the default float dtype when None. Default: None.
        device (ember.device or str, optional): where the tensor lives; the CPU when None. Default: None.
        requires_grad (bool): whether autograd records operations on the result. Default: False.

    Returns:
        Tensor: a new tensor of that shape filled with 0.

    PyTorch:
        ``torch.zeros``; same semantics (no ``out``, ``layout``, ``pin_memory`` or ``memory_format``).

    Example:
        >>> ember.zeros(2, 3)
        tensor([[0., 0., 0.],
                [0., 0., 0.]])
    """
    return _make(0, _size_args(shape, size), dtype, device, requires_grad, "zeros")


@export(ember=True)
def ones(*shape: int | _size, size: _size | None = None, dtype: _dtype | None = None, device: Device = None,
         requires_grad: bool = False) -> Tensor:
    """Return a tensor filled with ones: ``ones(2, 3)`` or ``ones((2, 3))``.

    Args:
        *shape (int or tuple of ints): the shape, as separate ints or one tuple/list/Size.
        size (tuple of ints, optional): the shape as a keyword (instead of ``*shape``). Default: None.
        dtype (ember.dtype, optional): the element type; the default float dtype when None. Default: None.
        device (ember.device or str, optional): where the tensor lives; the CPU when None. Default: None.
        requires_grad (bool): whether autograd records operations on the result. Default: False.

    Returns:
        Tensor: a new tensor of that shape filled with 1.

    PyTorch:
        ``torch.ones``; same semantics (no ``out``, ``layout``, ``pin_memory`` or ``memory_format``).

    Example:
        >>> ember.ones(2, dtype=ember.int64)
        tensor([1, 1])
    """
    return _make(1, _size_args(shape, size), dtype, device, requires_grad, "ones")


@export(ember=True)
def empty(*shape: int | _size, size: _size | None = None, dtype: _dtype | None = None, device: Device = None,
          requires_grad: bool = False) -> Tensor:
    """Return a tensor of the given shape whose values are not initialised.

    Its values are whatever the memory held: write them before reading them.

    Args:
        *shape (int or tuple of ints): the shape, as separate ints or one tuple/list/Size.
        size (tuple of ints, optional): the shape as a keyword (instead of ``*shape``). Default: None.
        dtype (ember.dtype, optional): the element type; the default float dtype when None. Default: None.
        device (ember.device or str, optional): where the tensor lives; the CPU when None. Default: None.
        requires_grad (bool): whether autograd records operations on the result. Default: False.

    Returns:
        Tensor: a new tensor of that shape holding arbitrary values.

    PyTorch:
        ``torch.empty``; same semantics (no ``out``, ``layout``, ``pin_memory`` or ``memory_format``).

    Example:
        >>> ember.empty(2, 3).shape
        ember.Size([2, 3])
    """
    return _make(None, _size_args(shape, size), dtype, device, requires_grad, "empty")


def _scalar_dtype(value):
    if isinstance(value, bool):
        return _dt.bool
    if isinstance(value, int):
        return _dt.int64
    if isinstance(value, float):
        return _dt.get_default_dtype()
    if isinstance(value, complex):
        raise TypeError("full: ember does not support complex tensors")
    if isinstance(value, np.generic):
        return _dt.from_numpy_dtype(value.dtype)
    raise TypeError(f"full(): argument 'fill_value' must be a number, not {type(value).__name__}")


@export(ember=True)
def full(size: _size, fill_value: Number | Tensor, dtype: _dtype | None = None, device: Device = None,
         requires_grad: bool = False) -> Tensor:
    """Return a tensor of the given shape filled with ``fill_value``.

    Without ``dtype`` the dtype follows the value: bool for a bool, int64 for an int, the default float dtype for a
    float (a NumPy scalar keeps its own dtype; a one-element tensor counts as its value).

    Args:
        size (tuple of ints): the shape.
        fill_value (number or Tensor): the value of every element (a one-element tensor is read as its value).
        dtype (ember.dtype, optional): the element type; inferred from fill_value when None. Default: None.
        device (ember.device or str, optional): where the tensor lives; the CPU when None. Default: None.
        requires_grad (bool): whether autograd records operations on the result. Default: False.

    Returns:
        Tensor: a new tensor of shape ``size``.

    PyTorch:
        ``torch.full``; same semantics, except that a NumPy scalar fill value keeps its dtype (PyTorch reads it
        as a Python number: ``np.float64(1)`` gives float32 there) and a complex one raises TypeError (ember has
        no complex dtypes); no ``out``, ``layout`` or ``pin_memory``.

    Example:
        >>> ember.full((2, 2), 7)
        tensor([[7, 7],
                [7, 7]])
    """
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return _make(fill_value, (size,), dtype or _scalar_dtype(fill_value), device, requires_grad, "full")


def _like(t, fill, dtype, device, requires_grad, op):
    check_tensor(t, op)
    return _make(fill, (t._data.shape,), dtype or t.dtype, device or t.device, requires_grad, op)


@export(ember=True)
def zeros_like(input: Tensor, dtype: _dtype | None = None, device: Device = None,
               requires_grad: bool = False) -> Tensor:
    """Return a tensor of zeros with the shape (and by default the dtype and device) of input.

    Args:
        input (Tensor): the tensor whose shape (and by default dtype and device) the result takes.
        dtype (ember.dtype, optional): the element type; input's when None. Default: None.
        device (ember.device or str, optional): where the result lives; input's device when None. Default: None.
        requires_grad (bool): whether autograd records operations on the result. Default: False.

    Returns:
        Tensor: a new tensor of input's shape filled with 0.

    PyTorch:
        ``torch.zeros_like``; same semantics (no ``layout`` or ``memory_format``).

    Example:
        >>> ember.zeros_like(ember.tensor([[1, 2, 3]]))
        tensor([[0, 0, 0]])
    """
    return _like(input, 0, dtype, device, requires_grad, "zeros_like")


@export(ember=True)
def ones_like(input: Tensor, dtype: _dtype | None = None, device: Device = None,
              requires_grad: bool = False) -> Tensor:
    """Return a tensor of ones with the shape (and by default the dtype and device) of input.

    Args:
        input (Tensor): the tensor whose shape (and by default dtype and device) the result takes.
        dtype (ember.dtype, optional): the element type; input's when None. Default: None.
        device (ember.device or str, optional): where the result lives; input's device when None. Default: None.
        requires_grad (bool): whether autograd records operations on the result. Default: False.

    Returns:
        Tensor: a new tensor of input's shape filled with 1.

    PyTorch:
        ``torch.ones_like``; same semantics (no ``layout`` or ``memory_format``).

    Example:
        >>> ember.ones_like(ember.tensor([1.5, 2.5]))
        tensor([1., 1.])
    """
    return _like(input, 1, dtype, device, requires_grad, "ones_like")


@export(ember=True)
def empty_like(input: Tensor, dtype: _dtype | None = None, device: Device = None,
               requires_grad: bool = False) -> Tensor:
    """Return an uninitialised tensor with the shape (and by default the dtype and device) of input.

    Args:
        input (Tensor): the tensor whose shape (and by default dtype and device) the result takes.
        dtype (ember.dtype, optional): the element type; input's when None. Default: None.
        device (ember.device or str, optional): where the result lives; input's device when None. Default: None.
        requires_grad (bool): whether autograd records operations on the result. Default: False.

    Returns:
        Tensor: a new tensor of input's shape holding arbitrary values.

    PyTorch:
        ``torch.empty_like``; same semantics (no ``layout`` or ``memory_format``).

    Example:
        >>> ember.empty_like(ember.zeros(2, 3)).shape
        ember.Size([2, 3])
    """
    return _like(input, None, dtype, device, requires_grad, "empty_like")


@export(ember=True)
def full_like(input: Tensor, fill_value: Number | Tensor, dtype: _dtype | None = None, device: Device = None,
              requires_grad: bool = False) -> Tensor:
    """Return a tensor filled with fill_value with the shape (and by default the dtype and device) of input.

    Args:
        input (Tensor): the tensor whose shape (and by default dtype and device) the result takes.
        fill_value (number or Tensor): the value of every element (a one-element tensor is read as its value).
        dtype (ember.dtype, optional): the element type; input's when None. Default: None.
        device (ember.device or str, optional): where the result lives; input's device when None. Default: None.
        requires_grad (bool): whether autograd records operations on the result. Default: False.

    Returns:
        Tensor: a new tensor of input's shape filled with fill_value.

    PyTorch:
        ``torch.full_like``; same semantics (no ``layout`` or ``memory_format``).

    Example:
        >>> ember.full_like(ember.tensor([1.0, 2.0]), 0.5)
        tensor([0.5000, 0.5000])
    """
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return _like(input, fill_value, dtype, device, requires_grad, "full_like")


def _num(x):
    return x.item() if isinstance(x, Tensor) else x


@export(ember=True)
def arange(start: Number | Tensor, end: Number | Tensor | None = None, step: Number | Tensor = 1,
           dtype: _dtype | None = None, device: Device = None, requires_grad: bool = False) -> Tensor:
    """Return the values from start to end (exclusive), step apart, as a 1-D tensor.

    ``arange(end)`` starts at 0. The length is ``ceil((end - start) / step)``. Without ``dtype`` the result is int64
    when start, end and step are all integers and the default float dtype otherwise.

    Args:
        start (number or Tensor): the first value, or the end when ``end`` is None.
        end (number or Tensor, optional): the end of the range (not included). Default: None.
        step (number or Tensor): the gap between values (nonzero). Default: 1.
        dtype (ember.dtype, optional): the element type; inferred from the arguments when None. Default: None.
        device (ember.device or str, optional): where the tensor lives; the CPU when None. Default: None.
        requires_grad (bool): whether autograd records operations on the result. Default: False.

    Returns:
        Tensor: a 1-D tensor of ``ceil((end - start) / step)`` values.

    PyTorch:
        ``torch.arange``; same semantics (no ``out``, ``layout`` or ``pin_memory``).

    Example:
        >>> ember.arange(5)
        tensor([0, 1, 2, 3, 4])
        >>> ember.arange(0, 1, 0.25)
        tensor([0.0000, 0.2500, 0.5000, 0.7500])
    """
    start, end, step = _num(start), _num(end), _num(step)
    if end is None:
        start, end = 0, start
    for name, v in (("start", start), ("end", end), ("step", step)):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            if not isinstance(v, (np.integer, np.floating)):
                raise TypeError(f"arange(): argument '{name}' must be a number, not {type(v).__name__}")
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if not all(math.isfinite(v) for v in (start, end)):
        raise RuntimeError(f"arange: unsupported range: {start} -> {end}")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound and larger bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    all_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))  # bools were refused above
    dtype = _dt.to_dtype(dtype) if dtype is not None else (_dt.int64 if all_int else _dt.get_default_dtype())
    xp = (to_device(device) or CPU).xp
    if all_int:
        arr = xp.arange(int(start), int(end), int(step), dtype="int64").astype(dtype.np, copy=False)
    else:
        n = max(0, math.ceil((end - start) / step))
        arr = (xp.arange(n, dtype="float64") * step + start).astype(dtype.np)
    return _finish(arr, requires_grad)


@export(ember=True)
def linspace(start: Number | Tensor, end: Number | Tensor, steps: int, dtype: _dtype | None = None,
             device: Device = None, requires_grad: bool = False) -> Tensor:
    """Return ``steps`` evenly spaced values from start to end, both included.

    The values are computed in float64 and then cast to ``dtype`` (an integer dtype truncates them).

    Args:
        start (number or Tensor): the first value.
        end (number or Tensor): the last value.
        steps (int): how many values (0 or more).
        dtype (ember.dtype, optional): the element type; the default float dtype when None. Default: None.
        device (ember.device or str, optional): where the tensor lives; the CPU when None. Default: None.
        requires_grad (bool): whether autograd records operations on the result. Default: False.

    Returns:
        Tensor: a 1-D tensor of ``steps`` values.

    PyTorch:
        ``torch.linspace``; same semantics (no ``out``, ``layout`` or ``pin_memory``).

    Example:
        >>> ember.linspace(0, 1, 5)
        tensor([0.0000, 0.2500, 0.5000, 0.7500, 1.0000])
    """
    start, end = _num(start), _num(end)
    steps = operator.index(steps)
    if steps < 0:
        raise RuntimeError("linspace: number of steps must be non-negative")
    dtype = _dt.to_dtype(dtype) or _dt.get_default_dtype()
    xp = (to_device(device) or CPU).xp
    return _finish(xp.linspace(start, end, steps, dtype="float64").astype(dtype.np), requires_grad)


@export(ember=True)
def logspace(start: Number | Tensor, end: Number | Tensor, steps: int, base: float = 10.0,
             dtype: _dtype | None = None, device: Device = None, requires_grad: bool = False) -> Tensor:
    """Return ``steps`` values spaced evenly on a log scale: ``base ** linspace(start, end, steps)``.

    Args:
        start (number or Tensor): the exponent of the first value.
        end (number or Tensor): the exponent of the last value.
        steps (int): how many values (0 or more).
        base (float): the base of the exponents. Default: 10.0.
        dtype (ember.dtype, optional): the element type; the default float dtype when None. Default: None.
        device (ember.device or str, optional): where the tensor lives; the CPU when None. Default: None.
        requires_grad (bool): whether autograd records operations on the result. Default: False.

    Returns:
        Tensor: a 1-D tensor of ``steps`` values.

    PyTorch:
        ``torch.logspace``; same semantics (no ``out``, ``layout`` or ``pin_memory``).

    Example:
        >>> ember.logspace(0, 2, 3)
        tensor([  1.,  10., 100.])
    """
    steps = operator.index(steps)
    if steps < 0:
        raise RuntimeError("logspace: number of steps must be non-negative")
    dtype = _dt.to_dtype(dtype) or _dt.get_default_dtype()
    xp = (to_device(device) or CPU).xp
    arr = (base ** xp.linspace(_num(start), _num(end), steps, dtype="float64")).astype(dtype.np)
    return _finish(arr, requires_grad)


@export(ember=True)
def eye(n: int, m: int | None = None, dtype: _dtype | None = None, device: Device = None,
        requires_grad: bool = False) -> Tensor:
    """Return an n x m matrix with ones on the diagonal and zeros elsewhere.

    Args:
        n (int): the number of rows.
        m (int, optional): the number of columns; n when None. Default: None.
        dtype (ember.dtype, optional): the element type; the default float dtype when None. Default: None.
        device (ember.device or str, optional): where the tensor lives; the CPU when None. Default: None.
        requires_grad (bool): whether autograd records operations on the result. Default: False.

    Returns:
        Tensor: a new (n, m) tensor.

    PyTorch:
        ``torch.eye``; same semantics (no ``out``, ``layout`` or ``pin_memory``).

    Example:
        >>> ember.eye(2, 3)
        tensor([[1., 0., 0.],
                [0., 1., 0.]])
    """
    n = operator.index(n)
    m = n if m is None else operator.index(m)
    if n < 0 or m < 0:
        raise RuntimeError(f"eye: n and m must be non-negative, got n={n}, m={m}")
    dtype = _dt.to_dtype(dtype) or _dt.get_default_dtype()
    xp = (to_device(device) or CPU).xp
    return _finish(xp.eye(n, m, dtype=dtype.np), requires_grad)


# --- Tensor.new_*: same dtype and device as self unless given -------------------------------------------------------

@export(ember=False, methods=("new_tensor",))
def _new_tensor(self: Tensor, data: Any, dtype: _dtype | None = None, device: Device = None,
                requires_grad: bool = False) -> Tensor:
    """Return a new tensor holding a copy of data, with self's dtype and device unless given.

    Args:
        data (array_like): a number, a (nested) list, a NumPy array or a tensor; always copied.
        dtype (ember.dtype, optional): the element type; self's when None (not inferred from data). Default: None.
        device (ember.device or str, optional): where the result lives; self's device when None. Default: None.
        requires_grad (bool): whether autograd records operations on the result. Default: False.

    Returns:
        Tensor: a new tensor of data's shape.

    PyTorch:
        ``Tensor.new_tensor``; same semantics (no ``layout`` or ``pin_memory``).

    Example:
        >>> ember.tensor([1.0]).new_tensor([1, 2])
        tensor([1., 2.])
    """
    return tensor(data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)


@export(ember=False, methods=("new_zeros",))
def _new_zeros(self: Tensor, *size: int | _size, dtype: _dtype | None = None, device: Device = None,
               requires_grad: bool = False) -> Tensor:
    """Return a tensor of zeros of the given size, with self's dtype and device unless given.

    Args:
        *size (int or tuple of ints): the shape, as separate ints or one tuple/list/Size.
        dtype (ember.dtype, optional): the element type; self's when None. Default: None.
        device (ember.device or str, optional): where the result lives; self's device when None. Default: None.
        requires_grad (bool): whether autograd records operations on the result. Default: False.

    Returns:
        Tensor: a new tensor filled with 0.

    PyTorch:
        ``Tensor.new_zeros``; same semantics (no ``layout`` or ``pin_memory``).

    Example:
        >>> ember.tensor([1, 2]).new_zeros(2, 3)
        tensor([[0, 0, 0],
                [0, 0, 0]])
    """
    return _make(0, size, dtype or self.dtype, device or self.device, requires_grad, "new_zeros")


@export(ember=False, methods=("new_ones",))
def _new_ones(self: Tensor, *size: int | _size, dtype: _dtype | None = None, device: Device = None,
              requires_grad: bool = False) -> Tensor:
    """Return a tensor of ones of the given size, with self's dtype and device unless given.

    Args:
        *size (int or tuple of ints): the shape, as separate ints or one tuple/list/Size.
        dtype (ember.dtype, optional): the element type; self's when None. Default: None.
        device (ember.device or str, optional): where the result lives; self's device when None. Default: None.
        requires_grad (bool): whether autograd records operations on the result. Default: False.

    Returns:
        Tensor: a new tensor filled with 1.

    PyTorch:
        ``Tensor.new_ones``; same semantics (no ``layout`` or ``pin_memory``).

    Example:
        >>> ember.tensor([1.5]).new_ones(2)
        tensor([1., 1.])
    """
    return _make(1, size, dtype or self.dtype, device or self.device, requires_grad, "new_ones")


@export(ember=False, methods=("new_empty",))
def _new_empty(self: Tensor, *size: int | _size, dtype: _dtype | None = None, device: Device = None,
               requires_grad: bool = False) -> Tensor:
    """Return an uninitialised tensor of the given size, with self's dtype and device unless given.

    Args:
        *size (int or tuple of ints): the shape, as separate ints or one tuple/list/Size.
        dtype (ember.dtype, optional): the element type; self's when None. Default: None.
        device (ember.device or str, optional): where the result lives; self's device when None. Default: None.
        requires_grad (bool): whether autograd records operations on the result. Default: False.

    Returns:
        Tensor: a new tensor holding arbitrary values.

    PyTorch:
        ``Tensor.new_empty``; same semantics (no ``layout`` or ``pin_memory``).

    Example:
        >>> ember.tensor([1, 2]).new_empty(3).shape
        ember.Size([3])
    """
    return _make(None, size, dtype or self.dtype, device or self.device, requires_grad, "new_empty")


@export(ember=False, methods=("new_full",))
def _new_full(self: Tensor, size: _size, fill_value: Number | Tensor, dtype: _dtype | None = None,
              device: Device = None, requires_grad: bool = False) -> Tensor:
    """Return a tensor of the given size filled with fill_value, with self's dtype and device unless given.

    Args:
        size (tuple of ints): the shape.
        fill_value (number or Tensor): the value of every element (a one-element tensor is read as its value).
        dtype (ember.dtype, optional): the element type; self's when None. Default: None.
        device (ember.device or str, optional): where the result lives; self's device when None. Default: None.
        requires_grad (bool): whether autograd records operations on the result. Default: False.

    Returns:
        Tensor: a new tensor filled with fill_value.

    PyTorch:
        ``Tensor.new_full``; same semantics (no ``layout`` or ``pin_memory``).

    Example:
        >>> ember.tensor([1, 2]).new_full((2,), 5)
        tensor([5, 5])
    """
    return _make(fill_value, (size,), dtype or self.dtype, device or self.device, requires_grad, "new_full")

