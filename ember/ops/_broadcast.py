"""broadcast_to and its adjoint sum_to: the pair every broadcasting op uses for its gradient.

``expand_array`` and ``sum_to_array`` are the same on arrays, for the forwards and for backwards that work on
arrays when no graph is being built.
"""
import functools

import numpy as np

from ..autograd import Node
from ..device import get_array_module
from ..autograd.graph import apply
from .meta import TensorMeta
from .registry import export, register

_ndarray = np.ndarray


def expand_array(a, shape):
    """A read-only view of array a broadcast to shape (a tuple), like xp.broadcast_to (which raises ValueError when
    the shapes don't broadcast). For a contiguous NumPy array the view is built directly: several times faster."""
    if a.__class__ is _ndarray and a.flags.c_contiguous and a.size:
        strides = _expand_strides(a.shape, a.strides, shape)
        if strides:
            out = _ndarray(shape, a.dtype, a, 0, strides)
            out.flags.writeable = False  # its elements alias each other
            return out
    return get_array_module(a).broadcast_to(a, shape)  # raises ValueError for shapes that don't broadcast


@functools.lru_cache(maxsize=4096)
def _expand_strides(in_shape, in_strides, shape):
    """The strides of in_shape's array (with in_strides) expanded to shape, or () when it does not broadcast."""
    lead = len(shape) - len(in_shape)
    if lead < 0:
        return ()
    strides = [0] * lead
    for n, m, st in zip(in_shape, shape[lead:], in_strides):
        if n != m and n != 1:
            return ()
        strides.append(st if n == m else 0)
    return tuple(strides)


def sum_to_array(a, shape):
    """Sum array a over the dimensions that broadcasting added or stretched, giving an array of shape."""
    lead = a.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and a.shape[lead + i] != 1)
    out = a.sum(axis=axes, keepdims=True) if axes else a
    if lead:
        out = out.reshape(shape)
    return out


@register
class BroadcastTo(Node):
    """The input viewed (no copy) with the shape it broadcasts to."""

    saves = ()
    is_view = True

    def __init__(self, shape):
        self.shape = tuple(shape)

    def infer(self, a):
        np.broadcast_shapes(a.shape, self.shape)  # raises ValueError when a does not broadcast to shape
        return TensorMeta(self.shape, a.dtype)

    def forward(self, xp, a):
        self.in_shape = a.shape
        try:
            return expand_array(a, self.shape)
        except ValueError:
            raise RuntimeError(f"expand: the shape {tuple(a.shape)} cannot be expanded to {self.shape} (a dimension "
                               "of size other than 1 must match, and new dimensions go in front)") from None

    def backward(self, g):
        return (sum_to(g, self.in_shape),)


@register
class SumTo(Node):
    """The input summed over the dimensions that broadcasting added or stretched (BroadcastTo's adjoint)."""

    saves = ()

    def __init__(self, shape):
        self.shape = tuple(shape)

    def infer(self, a):
        return TensorMeta(self.shape, a.dtype)

    def forward(self, xp, a):
        self.in_shape = a.shape
        return sum_to_array(a, self.shape)

    def backward(self, g):
        return (broadcast_to(g, self.in_shape),)


def broadcast_to(t, shape):
    """A read-only view of t expanded to shape (no copy)."""
    shape = tuple(shape)
    if tuple(t._data.shape) == shape:
        return t
    return apply(BroadcastTo(shape), t)


def sum_to(t, shape):
    """Sum t over the dimensions that broadcasting added or stretched, giving a tensor of shape."""
    if t._data.shape == shape or tuple(t._data.shape) == tuple(shape):
        return t
    return apply(SumTo(shape), t)


@export(SumTo, ember=False, methods=("sum_to_size",))
def sum_to_size(self, *size):
    """Sum self over the dimensions that broadcasting would add or stretch to reach it from ``size``.

    ``size`` must broadcast to self's shape; the result has shape ``size``. It is the adjoint of ``expand``: the
    gradient of ``x.expand(shape)`` is ``g.sum_to_size(x.shape)``.

    Args:
        *size (int or tuple of ints): the target shape, as integers or one tuple or list.

    Returns:
        Tensor: of shape ``size`` (self itself when the shapes are equal).

    PyTorch:
        ``Tensor.sum_to_size``; same semantics (a size that does not broadcast to self's shape is a RuntimeError).

    Example:
        >>> ember.ones(2, 3).sum_to_size(2, 1)
        tensor([[3.],
                [3.]])
        >>> ember.ones(2, 3).sum_to_size((3,))
        tensor([2., 2., 2.])
    """
    shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)
    have = tuple(self._data.shape)
    if len(shape) > len(have) or any(s not in (1, h) for s, h in zip(reversed(shape), reversed(have))):
        raise RuntimeError(f"sum_to_size: size {{{list(shape)}}} is not expandable to size {{{list(have)}}}.")
    return sum_to(self, shape)
