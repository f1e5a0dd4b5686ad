"""Sorting along a dimension: sort, argsort, msort and topk.

Sorts are stable (equal elements keep their order, in both directions, as PyTorch's ``stable=True``), and NaN counts
as larger than every number (last in ascending order, first in descending order, as in PyTorch). The values are the
input's entries at the indices, so their gradient goes back to those indices (SortBackward, a gradient node whose
own backward gathers). topk with a small k sorts only the k candidates that a partition finds.
"""
from collections import namedtuple

import numpy as np

from ..autograd import Node
from ..autograd.graph import apply
from ..tensor import Tensor
from ._checks import check_tensor
from ._keys import along
from ._util import wrap_dim
from .index import Gather
from .meta import TensorMeta, same_as, with_dtype
from .registry import export, register

# torch.return_types.sort / topk: unpack as a tuple or use .values / .indices.
_SortResult = namedtuple("sort", ["values", "indices"])
_TopkResult = namedtuple("topk", ["values", "indices"])


def _order(xp, a, dim, descending):
    """The int64 indices that sort a along dim, stably. A descending stable order is the ascending stable order of
    the reversed input, reversed: ties come out in their original order and NaN first."""
    if not descending:
        idx = xp.argsort(a, axis=dim, kind="stable")
    else:
        rev = xp.argsort(xp.flip(a, axis=dim), axis=dim, kind="stable")
        idx = (a.shape[dim] - 1) - xp.flip(rev, axis=dim)
    return idx.astype(np.int64, copy=False)


class _Select(Node):
    """(values, int64 indices): the input's entries at indices along dim, chosen by forward; the gradient of the
    values goes back to the indices."""

    saves = ()
    n_outputs = 2

    def forward(self, xp, a):
        self.in_shape = a.shape
        self.idx = idx = self.indices(xp, a)
        return xp.take_along_axis(a, idx, axis=self.dim), idx

    def backward(self, g, _):
        return (apply(SortBackward(self.in_shape, self.idx, self.dim), g),)


@register
class Sort(_Select):
    """The input sorted along dim (stably), and where each value came from."""

    def __init__(self, dim, descending):
        self.dim, self.descending = dim, descending

    def infer(self, a):
        return same_as(a), with_dtype(a, np.int64)

    def indices(self, xp, a):
        return _order(xp, a, self.dim, self.descending)


@register
class TopK(_Select):
    """The k largest (or smallest) entries along dim, in order, and their indices."""

    def __init__(self, k, dim, largest):
        self.k, self.dim, self.largest = k, dim, largest

    def infer(self, a):
        shape = tuple(self.k if i == self.dim else s for i, s in enumerate(a.shape))
        return TensorMeta(shape, a.dtype), TensorMeta(shape, np.dtype(np.int64))

    def indices(self, xp, a):
        d, k, n = self.dim, self.k, a.shape[self.dim]
        lead = (slice(None),) * d
        if not 0 < k < n // 2:
            return _order(xp, a, d, self.largest)[lead + (slice(0, k),)]
        # The k candidates by a partition (NaN counts as the largest there too), in their original order so that
        # the stable sort of their values keeps ties in that order.
        part = xp.argpartition(a, n - k if self.largest else k - 1, axis=d)
        cand = xp.sort(part[lead + ((slice(n - k, n) if self.largest else slice(0, k)),)], axis=d)
        order = _order(xp, xp.take_along_axis(a, cand, axis=d), d, self.largest)
        return xp.take_along_axis(cand, order, axis=d).astype(np.int64, copy=False)


@register
class SortBackward(Node):
    """The gradient of sort and topk: g written at idx along dim into zeros of the input's shape (the indices of a
    slice are distinct). Its adjoint gathers at idx."""

    saves = ()

    def __init__(self, shape, idx, dim):
        self.shape, self.idx, self.dim = shape, idx, dim

    def infer(self, g):
        return TensorMeta(tuple(self.shape), g.dtype)

    def forward(self, xp, g):
        out = xp.zeros(self.shape, dtype=g.dtype)
        out[along(xp, self.idx, self.dim)] = g
        return out

    def backward(self, gg):
        return (apply(Gather(self.dim), gg, Tensor._wrap(self.idx)),)


def _dim(input, dim, op):
    """dim wrapped to [0, ndim) (a 0-d input accepts 0 and -1)."""
    check_tensor(input, op)
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}(): argument 'dim' must be int, not {type(dim).__name__}")
    return wrap_dim(int(dim), input._data.ndim, op)


def _run(input, dim, op, make):
    """apply(make(d)) to input, d being dim wrapped; a 0-d input is sorted as one element."""
    d = _dim(input, dim, op)
    if input._data.ndim == 0:
        values, indices = apply(make(0), input.reshape(1))
        return values.reshape(()), indices.reshape(())
    return apply(make(d), input)


@export(Sort, methods=("sort",))
def sort(input, dim=-1, descending=False, *, stable=False):
    """Sort the elements of input along dim, giving the sorted values and the indices they came from.

    The sort is always stable (equal elements keep their order, in both directions) and NaN sorts as the largest
    value. The gradient of the values goes back to the positions they came from.

    Args:
        input (Tensor): the input tensor.
        dim (int): the dimension to sort along. Default: -1.
        descending (bool): largest first instead of smallest first. Default: False.
        stable (bool): accepted for PyTorch's signature; the sort is always stable. Default: False.

    Returns:
        (Tensor, Tensor): a named tuple ``(values, indices)``: the sorted values (input's shape and dtype) and their
        int64 indices along dim.

    PyTorch:
        ``torch.sort`` and ``Tensor.sort``; same semantics, except that ember's sort is stable even with
        ``stable=False`` (PyTorch's is then unspecified among equal elements). No ``out=`` argument.

    Example:
        >>> ember.sort(ember.tensor([3, 1, 2]))
        sort(values=tensor([1, 2, 3]), indices=tensor([1, 2, 0]))
        >>> ember.tensor([[3.0, 1.0], [2.0, 5.0]]).sort(dim=0, descending=True).values
        tensor([[3., 5.],
                [2., 1.]])
    """
    return _SortResult(*_run(input, dim, "sort", lambda d: Sort(d, bool(descending))))


@export(Sort, methods=("argsort",))
def argsort(input, dim=-1, descending=False, *, stable=False):
    """The indices that sort input along dim: ``sort(input, dim, descending).indices``.

    The sort is stable and NaN sorts as the largest value, as in ``ember.sort``. No gradient.

    Args:
        input (Tensor): the input tensor.
        dim (int): the dimension to sort along. Default: -1.
        descending (bool): largest first instead of smallest first. Default: False.
        stable (bool): accepted for PyTorch's signature; the sort is always stable. Default: False.

    Returns:
        Tensor: int64 indices, of input's shape.

    PyTorch:
        ``torch.argsort`` and ``Tensor.argsort``; same semantics, except that ember's sort is stable even with
        ``stable=False``.

    Example:
        >>> ember.argsort(ember.tensor([3, 1, 2]), descending=True)
        tensor([0, 2, 1])
    """
    return _run(input, dim, "argsort", lambda d: Sort(d, bool(descending)))[1]


@export(Sort, methods=("msort",))
def msort(input):
    """The elements of input sorted in ascending order along its first dimension: ``sort(input, 0).values``.

    Args:
        input (Tensor): the input tensor.

    Returns:
        Tensor: of input's shape and dtype.

    PyTorch:
        ``torch.msort`` and ``Tensor.msort``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.msort(ember.tensor([[3, 1], [2, 0]]))
        tensor([[2, 0],
                [3, 1]])
    """
    return _run(input, 0, "msort", lambda d: Sort(d, False))[0]


@export(TopK, methods=("topk",))
def topk(input, k, dim=-1, largest=True, sorted=True):
    """The k largest elements of input along dim (the k smallest when largest=False), with their indices.

    The results are always in order, largest first (smallest first when largest=False); equal elements keep their
    original order and NaN counts as the largest value. The gradient of the values goes back to their positions.

    Args:
        input (Tensor): the input tensor.
        k (int): how many elements to take, 0 <= k <= the size of dim.
        dim (int): the dimension to select along. Default: -1.
        largest (bool): take the largest elements; the smallest when False. Default: True.
        sorted (bool): accepted for PyTorch's signature; the results are always sorted. Default: True.

    Returns:
        (Tensor, Tensor): a named tuple ``(values, indices)``, each of input's shape with size k along dim; the
        indices are int64.

    PyTorch:
        ``torch.topk`` and ``Tensor.topk``; same semantics, except that ``sorted=False`` still gives sorted results
        (PyTorch's order is then unspecified). No ``out=`` argument.

    Example:
        >>> ember.topk(ember.tensor([3, 1, 2, 5]), 2)
        topk(values=tensor([5, 3]), indices=tensor([3, 0]))
        >>> ember.tensor([3, 1, 2, 5]).topk(1, largest=False).indices
        tensor([1])
    """
    d = _dim(input, dim, "topk")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"topk(): argument 'k' must be int, not {type(k).__name__}")
    shape = input._data.shape
    n = shape[d] if shape else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"topk(): selected index k out of range (k={k}, but dimension {dim} of the input of shape "
                           f"{tuple(shape)} has size {n})")
    return _TopkResult(*_run(input, dim, "topk", lambda d: TopK(int(k), d, bool(largest))))
