"""Searching, counting and statistics of values: unique, bincount, histc, histogram, searchsorted, bucketize, isin,
kthvalue, mode, nanmedian, quantile, cummax and cummin (the matrix helpers beside them in PyTorch are in matrix.py).

Counting and searching give integer results and no gradient; those whose output size depends on the data (unique,
histc with automatic bounds aside, which has a fixed size) give None for that size in their shape rule, so that
ember.compile breaks the graph there, as for nonzero. Most statistics are composites of differentiable ops (sort,
gather, where), so their gradients are PyTorch's by construction.
"""
import math
from collections import namedtuple

import numpy as np

from .. import dtypes as _dt
from ..autograd import Node
from ..autograd.graph import apply
from ..device import get_array_module
from ..tensor import Tensor
from ._checks import check_tensor, same_device
from ._util import wrap_dim
from .creation import zeros
from .index import Gather, ScatterAdd
from .meta import TensorMeta, same_as, with_dtype
from .reduce import EvenSelect, SelectReduce, _median_of_all, _select_reduce, one_dim
from .registry import export, register
from .sort import sort

_HistogramResult = namedtuple("histogram", ["hist", "bin_edges"])
_KthvalueResult = namedtuple("kthvalue", ["values", "indices"])
_ModeResult = namedtuple("mode", ["values", "indices"])
_NanmedianResult = namedtuple("nanmedian", ["values", "indices"])
_CummaxResult = namedtuple("cummax", ["values", "indices"])
_CumminResult = namedtuple("cummin", ["values", "indices"])

_INT64 = np.dtype(np.int64)


def _int(x, op, name):
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
        raise TypeError(f"{op}(): argument '{name}' must be int, not {type(x).__name__}")
    return int(x)


def _wrap(array, like):
    """An array result as a tensor on like's device (no history)."""
    return Tensor._wrap(get_array_module(like._data).asarray(array))


class _Counting(Node):
    """An op whose outputs are counts, indices or masks: no gradient."""

    differentiable = False


# --- unique -------------------------------------------------------------------------------------------------------

@register
class Unique(_Counting):
    """(values, inverse, counts) of the distinct values (or slices along dim) of a, sorted; consecutive=True merges
    only runs of equal neighbours. The number of values depends on the data (None in the shape rule)."""

    n_outputs = 3

    def __init__(self, dim, consecutive):
        self.dim, self.consecutive = dim, consecutive

    def infer(self, a):
        d = self.dim
        if d is None:
            return (TensorMeta((None,), a.dtype), TensorMeta(a.shape, _INT64), TensorMeta((None,), _INT64))
        shape = a.shape[:d] + (None,) + a.shape[d + 1:]
        return TensorMeta(shape, a.dtype), TensorMeta((a.shape[d],), _INT64), TensorMeta((None,), _INT64)

    def forward(self, xp, a):
        d = self.dim
        flat = a.reshape(-1) if d is None else xp.moveaxis(a, d, 0).reshape(a.shape[d], -1)
        n = flat.shape[0]
        if self.consecutive:
            if n == 0:
                change = xp.zeros(0, dtype=bool)
            else:
                diff = flat[1:] != flat[:-1]
                change = xp.concatenate([xp.ones(1, dtype=bool), diff if d is None else diff.any(axis=1)])
            starts = xp.flatnonzero(change)
            values = flat[starts]
            inverse = xp.cumsum(change) - 1
            counts = xp.diff(xp.concatenate([starts, xp.asarray([n])]))
        elif d is None:
            values, inverse, counts = xp.unique(flat, return_inverse=True, return_counts=True)
        elif flat.shape[1] == 0:  # slices of no elements are all equal
            values, inverse = flat[:min(n, 1)], xp.zeros(n, dtype=np.int64)
            counts = xp.asarray([n] if n else [], dtype=np.int64)
        else:
            values, inverse, counts = xp.unique(flat, axis=0, return_inverse=True, return_counts=True)
        inverse = inverse.reshape(a.shape if d is None else (n,)).astype(np.int64, copy=False)
        counts = counts.astype(np.int64, copy=False)
        if d is not None:
            values = xp.moveaxis(values.reshape((values.shape[0],) + a.shape[:d] + a.shape[d + 1:]), 0, d)
        return xp.ascontiguousarray(values), inverse, counts


def _unique(input, return_inverse, return_counts, dim, consecutive, op):
    check_tensor(input, op)
    if dim is not None:
        dim = wrap_dim(_int(dim, op, "dim"), input._data.ndim, op)
        if input._data.ndim == 0:
            raise IndexError(f"{op}(): dim {dim} is out of range for a 0-d tensor")
    values, inverse, counts = apply(Unique(dim, consecutive), input)
    out = (values,) + ((inverse,) if return_inverse else ()) + ((counts,) if return_counts else ())
    return out[0] if len(out) == 1 else out


@export(Unique, methods=("unique",))
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct elements of input (or its distinct slices along dim), in ascending order.

    Args:
        input (Tensor): the input tensor.
        sorted (bool): accepted for PyTorch's signature; the values are always sorted. Default: True.
        return_inverse (bool): also return where each element of input went in the values. Default: False.
        return_counts (bool): also return how often each value occurs. Default: False.
        dim (int, optional): compare whole slices along dim instead of elements. Default: None.

    Returns:
        Tensor or tuple of Tensor: the values (1-d, or input's shape with a new size along dim), then the int64
        inverse indices (input's shape, or ``(input.size(dim),)``) and the int64 counts, when asked for.

    PyTorch:
        ``torch.unique`` and ``Tensor.unique``; same semantics (PyTorch's CPU kernel also sorts when
        ``sorted=False``). No gradient.

    Example:
        >>> ember.unique(ember.tensor([3, 1, 3, 2]), return_counts=True)
        (tensor([1, 2, 3]), tensor([1, 1, 2]))
    """
    return _unique(input, return_inverse, return_counts, dim, False, "unique")


@export(Unique, methods=("unique_consecutive",))
def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """input with every run of equal consecutive elements (or slices along dim) reduced to one.

    Args:
        input (Tensor): the input tensor.
        return_inverse (bool): also return the run each element of input belongs to. Default: False.
        return_counts (bool): also return the length of each run. Default: False.
        dim (int, optional): compare whole slices along dim instead of elements. Default: None.

    Returns:
        Tensor or tuple of Tensor: the values, then the int64 inverse indices and run lengths when asked for.

    PyTorch:
        ``torch.unique_consecutive`` and ``Tensor.unique_consecutive``; same semantics. No gradient.

    Example:
        >>> ember.unique_consecutive(ember.tensor([1, 1, 2, 2, 1]), return_inverse=True)
        (tensor([1, 2, 1]), tensor([0, 0, 1, 1, 2]))
    """
    return _unique(input, return_inverse, return_counts, dim, True, "unique_consecutive")


# --- bincount, histc, histogram -------------------------------------------------------------------------------------

@register
class Bincount(_Counting):
    """How often each value 0..max(a) occurs in a (weighted: the sum of the weights), at least minlength bins."""

    def __init__(self, minlength):
        self.minlength = minlength

    def infer(self, a, w):
        return TensorMeta((None,), _INT64 if w is None or 0 in a.shape else w.dtype)

    def forward(self, xp, a, w):
        n = max(int(a.max()) + 1 if a.size else 0, self.minlength)
        if w is None or not a.size:  # PyTorch counts in int64 for an empty input, weights or not
            return xp.bincount(a, minlength=n).astype(np.int64, copy=False)
        return xp.bincount(a, weights=w, minlength=n).astype(w.dtype, copy=False)


@export(Bincount, methods=("bincount",))
def bincount(input, weights=None, minlength=0):
    """How often each of the values 0, 1, ..., max(input) occurs in the 1-d non-negative integer tensor input.

    Args:
        input (Tensor): a 1-d tensor of non-negative integers.
        weights (Tensor, optional): one weight per element: bin i holds the sum of the weights of the elements equal
            to i instead of their count. Default: None.
        minlength (int): the least number of bins. Default: 0.

    Returns:
        Tensor: 1-d, of size ``max(max(input) + 1, minlength)``: int64 counts, or the weights' dtype (float64 for
        integer weights; int64 zeros for an empty input, as in PyTorch).

    PyTorch:
        ``torch.bincount`` and ``Tensor.bincount``; same semantics. No gradient.

    Example:
        >>> ember.bincount(ember.tensor([0, 2, 2, 3]))
        tensor([1, 0, 2, 1])
        >>> ember.bincount(ember.tensor([1, 1]), weights=ember.tensor([0.5, 2.0]), minlength=3)
        tensor([0.0000, 2.5000, 0.0000])
    """
    check_tensor(input, "bincount")
    minlength = _int(minlength, "bincount", "minlength")
    a = input._data
    if a.ndim != 1 or a.dtype.kind not in "iub":
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("bincount(): minlength should be >= 0")
    if a.size and int(a.min()) < 0:
        raise RuntimeError("bincount(): input should contain only non-negative integers")
    if weights is not None:
        check_tensor(weights, "bincount", "weights")
        if tuple(weights._data.shape) != tuple(a.shape):
            raise RuntimeError("bincount(): weights should be 1-d and have the same length as input")
        if weights._data.dtype.kind not in "fV":
            weights = weights.to(_dt.float64)
    return apply(Bincount(minlength), input, weights)


def _float_input(input, op, name="input"):
    check_tensor(input, op, name)
    if input._data.dtype.kind not in "fV":
        raise RuntimeError(f'"{op}_cpu" not implemented for \'{input.dtype.name.capitalize()}\'')


def _auto_range(a, lo, hi, op, widen=1.0):
    """(lo, hi) as PyTorch's histc/histogram: the data's range when both are equal; widened when it is empty."""
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - widen, hi + widen
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise RuntimeError(f"{op}(): range of [{lo}, {hi}] is not finite")
    if lo > hi:
        raise RuntimeError(f"{op}(): max must be larger than min")
    return lo, hi


def _histogram(xp, a, w, edges):
    """Counts of a in the bins of edges (the last bin closed), weighted by w; elements outside the edges ignored."""
    a = a.reshape(-1)
    keep = (a >= edges[0]) & (a <= edges[-1])
    a = a[keep]
    idx = xp.searchsorted(edges, a, side="right") - 1
    idx = xp.minimum(idx, edges.shape[0] - 2)
    return xp.bincount(idx, weights=None if w is None else w.reshape(-1)[keep], minlength=edges.shape[0] - 1)


@register
class Histc(_Counting):
    """A histogram of a in `bins` equal bins between lo and hi, in a's dtype."""

    def __init__(self, bins, lo, hi):
        self.bins, self.lo, self.hi = bins, lo, hi

    def infer(self, a):
        return TensorMeta((self.bins,), a.dtype)

    def forward(self, xp, a):
        lo, hi = _auto_range(a, self.lo, self.hi, "histc")
        # Bin i holds lo + i * (hi - lo) / bins <= x < the next edge, computed as PyTorch does (multiply first).
        x = a.reshape(-1).astype(np.float64)
        x = x[(x >= lo) & (x <= hi)]
        idx = np.minimum(((x - lo) * self.bins / (hi - lo)).astype(np.int64), self.bins - 1) if x.size else x
        return xp.bincount(xp.asarray(idx, dtype=np.int64), minlength=self.bins).astype(a.dtype)


@export(Histc, methods=("histc",))
def histc(input, bins=100, min=0, max=0):
    """A histogram of input's elements in ``bins`` equal-width bins between min and max.

    Elements outside [min, max] are ignored; when min and max are equal, the data's own minimum and maximum are used.

    Args:
        input (Tensor): a floating-point tensor.
        bins (int): the number of bins. Default: 100.
        min (number): the lower end of the range. Default: 0.
        max (number): the upper end of the range. Default: 0.

    Returns:
        Tensor: 1-d of size bins, of input's dtype.

    PyTorch:
        ``torch.histc`` and ``Tensor.histc``; same semantics. No gradient.

    Example:
        >>> ember.histc(ember.tensor([1.0, 2.0, 1.0]), bins=4, min=0, max=3)
        tensor([0., 2., 1., 0.])
    """
    _float_input(input, "histc")
    bins = _int(bins, "histc", "bins")
    if bins <= 0:
        raise RuntimeError("histc(): bins must be > 0")
    return apply(Histc(bins, float(min), float(max)), input)


@register
class Histogram(_Counting):
    """(hist, bin_edges): a histogram of a with the given edges (an array) or `bins` equal bins over a range."""

    n_outputs = 2

    def __init__(self, bins, lo, hi, density):
        self.bins, self.lo, self.hi, self.density = bins, lo, hi, density

    def infer(self, a, edges, w):
        n = self.bins if edges is None else edges.shape[0] - 1
        return TensorMeta((n,), a.dtype), TensorMeta((n + 1,), a.dtype)

    def forward(self, xp, a, edges, w):
        if edges is None:
            lo, hi = self.lo, self.hi
            if lo is None:
                lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 1.0)
            lo, hi = _auto_range(a, lo, hi, "histogram", 0.5)
            edges = xp.linspace(lo, hi, self.bins + 1).astype(a.dtype)
        hist = _histogram(xp, a, w, edges).astype(a.dtype)
        if self.density:
            total = hist.sum()
            hist = hist / (total * xp.diff(edges)) if total else hist * np.nan
        return hist.astype(a.dtype, copy=False), edges.astype(a.dtype, copy=False)


@export(Histogram, methods=("histogram",))
def histogram(input, bins, *, range=None, weight=None, density=False):
    """A histogram of input's elements: the counts (or weights) in each bin, and the bins' edges.

    Args:
        input (Tensor): a floating-point tensor.
        bins (int or Tensor): the number of equal-width bins, or their increasing edges (1-d).
        range (tuple of float, optional): (min, max) of the bins when bins is an int; the data's range when None.
        weight (Tensor, optional): one weight per element of input, summed instead of counting. Default: None.
        density (bool): divide by the total and the bin widths, so that the histogram integrates to 1.
            Default: False.

    Returns:
        (Tensor, Tensor): a named tuple ``(hist, bin_edges)`` of input's dtype.

    PyTorch:
        ``torch.histogram`` and ``Tensor.histogram``; same semantics. No gradient.

    Example:
        >>> ember.histogram(ember.tensor([1.0, 2.0, 1.0]), bins=4, range=(0.0, 4.0))
        histogram(hist=tensor([0., 2., 1., 0.]), bin_edges=tensor([0., 1., 2., 3., 4.]))
    """
    _float_input(input, "histogram")
    edges = None
    lo = hi = None
    if isinstance(bins, Tensor):
        if bins._data.ndim != 1 or bins._data.shape[0] < 1:
            raise RuntimeError("histogram(): bins tensor should have one dimension and at least 1 element")
        edges, nbins = bins.to(input.dtype), bins._data.shape[0] - 1
    else:
        nbins = _int(bins, "histogram", "bins")
        if nbins <= 0:
            raise RuntimeError("histogram(): bins must be > 0")
        if range is not None:
            lo, hi = float(range[0]), float(range[1])
    if weight is not None:
        check_tensor(weight, "histogram", "weight")
        if tuple(weight._data.shape) != tuple(input._data.shape):
            raise RuntimeError("histogram(): if weight tensor is provided it should have the same shape as the input "
                               "tensor")
        weight = weight.to(input.dtype)
    return _HistogramResult(*apply(Histogram(nbins, lo, hi, bool(density)), input, edges, weight))


# --- searchsorted, bucketize, isin ----------------------------------------------------------------------------------

@register
class SearchSorted(_Counting):
    """Where each value of v would go in the sorted last dimension of s (the same leading dimensions, or s 1-d)."""

    def __init__(self, right, int32):
        self.right, self.int32 = right, int32

    def infer(self, s, v, sorter):
        return TensorMeta(v.shape, np.dtype(np.int32 if self.int32 else np.int64))

    def forward(self, xp, s, v, sorter):
        side = "right" if self.right else "left"
        if sorter is not None:
            s = xp.take_along_axis(s, sorter, axis=-1)
        if s.ndim == 1:
            out = xp.searchsorted(s, v, side=side)
        else:
            n = s.shape[-1]
            s2, v2 = s.reshape(-1, n), v.reshape(math.prod(s.shape[:-1]), -1)
            out = xp.stack([xp.searchsorted(s2[r], v2[r], side=side) for r in range(s2.shape[0])]) if s2.shape[0] \
                else xp.zeros(v2.shape, dtype=np.int64)
            out = out.reshape(v.shape)
        return xp.asarray(out).astype(np.int32 if self.int32 else np.int64)


def _search_values(values, like, op):
    if isinstance(values, Tensor):
        same_device(like, values, op)
        return values
    if isinstance(values, (int, float, bool, np.generic)):
        return _wrap(np.asarray(values), like)
    raise TypeError(f"{op}(): argument 'input' must be Tensor or Number, not {type(values).__name__}")


def _common(a, b):
    dt = _dt.promote_types(a.dtype, b.dtype)
    return a.to(dt), b.to(dt)


@export(SearchSorted, ember=True)
def searchsorted(sorted_sequence, values, *, out_int32=False, right=False, side=None, sorter=None):
    """Where the values would go in sorted_sequence (along its last dimension) to keep it sorted.

    Args:
        sorted_sequence (Tensor): sorted along its last dimension (unless sorter is given); 1-d, or with the same
            leading dimensions as values.
        values (Tensor or number): the values to look up.
        out_int32 (bool): give int32 indices instead of int64. Default: False.
        right (bool): for values equal to an element, the position after the equal elements instead of before.
            Default: False.
        side (str, optional): ``'left'`` or ``'right'``, as right=False/True (it must agree with right).
        sorter (Tensor, optional): the indices that sort sorted_sequence along its last dimension. Default: None.

    Returns:
        Tensor: of values' shape (0-d for a number), int64 (int32 with out_int32).

    PyTorch:
        ``torch.searchsorted``; same semantics. No gradient.

    Example:
        >>> ember.searchsorted(ember.tensor([1, 3, 5, 7]), ember.tensor([3, 6, 9]))
        tensor([1, 3, 4])
        >>> ember.searchsorted(ember.tensor([1, 3, 5, 7]), 3, right=True)
        tensor(2)
    """
    op = "searchsorted"
    check_tensor(sorted_sequence, op, "sorted_sequence")
    v = _search_values(values, sorted_sequence, op)
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got side of left "
                               "while right was True")
        right = side == "right"
    s = sorted_sequence._data
    if s.ndim == 0:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should have positive dimension, but got 0 "
                           "dimension")
    if s.ndim > 1 and (v._data.ndim != s.ndim or v._data.shape[:-1] != s.shape[:-1]):
        raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 dimensions "
                           "of boundaries tensor and input value tensor must match, but we got boundaries tensor "
                           f"{list(s.shape)} and input value tensor {list(v._data.shape)}")
    if sorter is not None:
        check_tensor(sorter, op, "sorter")
        if tuple(sorter._data.shape) != tuple(s.shape):
            raise RuntimeError("torch.searchsorted(): boundary and sorter must have the same size, but got boundary "
                               f"tensor {list(s.shape)}and got sorter tensor {list(sorter._data.shape)}")
        if sorter._data.dtype != np.int64:
            raise RuntimeError(f"torch.searchsorted(): sorter must be a tensor of long dtype but got {sorter.dtype}")
    if s.dtype != v._data.dtype:
        sorted_sequence, v = _common(sorted_sequence, v)
    return apply(SearchSorted(bool(right), bool(out_int32)), sorted_sequence, v, sorter)


@export(SearchSorted)
def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The bucket of each element of input among the sorted 1-d boundaries: the i with
    ``boundaries[i-1] < x <= boundaries[i]`` (``boundaries[i-1] <= x < boundaries[i]`` when right).

    Args:
        input (Tensor or number): the values.
        boundaries (Tensor): 1-d, increasing.
        out_int32 (bool): give int32 indices instead of int64. Default: False.
        right (bool): close the buckets on the left instead of the right. Default: False.

    Returns:
        Tensor: of input's shape, int64 (int32 with out_int32).

    PyTorch:
        ``torch.bucketize``; same semantics. No gradient.

    Example:
        >>> ember.bucketize(ember.tensor([1, 5, 9]), ember.tensor([1, 3, 5, 7]))
        tensor([0, 2, 4])
    """
    check_tensor(boundaries, "bucketize", "boundaries")
    if boundaries._data.ndim != 1:
        raise RuntimeError(f"bucketize(): boundaries tensor must be 1 dimension but got dim({boundaries._data.ndim})")
    v = _search_values(input, boundaries, "bucketize")
    if v._data.dtype != boundaries._data.dtype:
        boundaries, v = _common(boundaries, v)
    return apply(SearchSorted(bool(right), bool(out_int32)), boundaries, v, None)


@register
class IsIn(_Counting):
    """Whether each element of a is among the elements of b (or not, with invert)."""

    def __init__(self, invert):
        self.invert = invert

    def infer(self, a, b):
        return with_dtype(a, np.bool_)

    def forward(self, xp, a, b):
        return xp.isin(a, b, invert=self.invert)


@export(IsIn, ember=True)
def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Whether each element of elements occurs in test_elements.

    Args:
        elements (Tensor or number): the values to test.
        test_elements (Tensor or number): the values to look for.
        assume_unique (bool): accepted for PyTorch's signature (a hint, not needed here). Default: False.
        invert (bool): tell whether each element does NOT occur instead. Default: False.

    Returns:
        Tensor: a bool tensor of elements' shape (0-d for a number).

    PyTorch:
        ``torch.isin``; same semantics. No gradient.

    Example:
        >>> ember.isin(ember.tensor([1, 2, 3, 4]), ember.tensor([2, 4]))
        tensor([False,  True, False,  True])
    """
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin(): at least one of elements and test_elements must be a Tensor")
    like = elements if isinstance(elements, Tensor) else test_elements
    a = _search_values(elements, like, "isin")
    b = _search_values(test_elements, like, "isin")
    if a._data.dtype != b._data.dtype:
        a, b = _common(a, b)
    return apply(IsIn(bool(invert)), a, b)


# --- kthvalue, mode, nanmedian: a value of each slice and its index ---------------------------------------------

def _kth_idx(k, xp, a, d):
    return xp.take(xp.argsort(a, axis=d, kind="stable"), xp.asarray([k - 1]), axis=d)


def _nanmedian_idx(xp, a, d):
    # The lower median of the values that are not NaN (NaN sorts last); the first NaN of a slice of only NaN.
    order = xp.argsort(a, axis=d, kind="stable")
    valid = (~xp.isnan(a)).sum(axis=d, keepdims=True) if a.dtype.kind in "fc" else xp.full(
        (1,) * a.ndim, a.shape[d])
    k = xp.maximum((valid - 1) // 2, 0)
    return xp.take_along_axis(order, xp.broadcast_to(k, order.shape[:d] + (1,) + order.shape[d + 1:]), axis=d)


def _mode_idx(xp, a, d):
    # The most frequent value of each slice (the smallest among equally frequent ones; NaNs are all different, as in
    # PyTorch), at its last position.
    rows = np.moveaxis(np.asarray(a), d, -1).reshape(-1, a.shape[d])
    idx = np.empty(rows.shape[0], dtype=np.int64)
    for r, row in enumerate(rows):
        _, inverse, counts = np.unique(row, return_inverse=True, return_counts=True, equal_nan=False)
        idx[r] = np.flatnonzero(inverse.reshape(-1) == np.argmax(counts))[-1]
    shape = a.shape[:d] + a.shape[d + 1:]
    return xp.expand_dims(xp.asarray(idx.reshape(shape)), d)


class _KthPick:
    """pick(xp, a, d) for SelectReduce: the index of the k-th smallest (a class so that copies compare and print)."""

    def __init__(self, k):
        self.k = k

    def __call__(self, xp, a, d):
        return _kth_idx(self.k, xp, a, d)

    def __repr__(self):
        return f"kth({self.k})"


@export(SelectReduce, methods=("kthvalue",))
def kthvalue(input, k, dim=-1, keepdim=False):
    """The k-th smallest element of each slice of input along dim, and its index.

    NaN counts as larger than every number. The gradient of the values goes to the positions they came from.

    Args:
        input (Tensor): the input tensor.
        k (int): which order statistic, 1 for the smallest.
        dim (int): the dimension to search along. Default: -1.
        keepdim (bool): keep dim with size 1. Default: False.

    Returns:
        (Tensor, Tensor): a named tuple ``(values, indices)``; the indices are int64.

    PyTorch:
        ``torch.kthvalue`` and ``Tensor.kthvalue``; same semantics (among equal values ember gives the first
        index, PyTorch's choice is unspecified).

    Example:
        >>> ember.kthvalue(ember.tensor([3.0, 1.0, 2.0, 5.0]), 2)
        kthvalue(values=tensor(2.), indices=tensor(2))
    """
    check_tensor(input, "kthvalue")
    k = _int(k, "kthvalue", "k")
    d = one_dim(input, dim, "kthvalue")
    n = input._data.shape[d] if input._data.ndim else 1
    if not 1 <= k <= n:
        raise IndexError(f"kthvalue(): selected number k out of range for dimension {d}")
    return _select_reduce(input, dim, keepdim, _KthPick(k), _KthvalueResult, "kthvalue")


@export(SelectReduce, methods=("mode",))
def mode(input, dim=-1, keepdim=False):
    """The most frequent value of each slice of input along dim, and the index of its last occurrence.

    Among equally frequent values the smallest wins; NaNs are never equal to each other.

    Args:
        input (Tensor): the input tensor.
        dim (int): the dimension to search along. Default: -1.
        keepdim (bool): keep dim with size 1. Default: False.

    Returns:
        (Tensor, Tensor): a named tuple ``(values, indices)``; the indices are int64.

    PyTorch:
        ``torch.mode`` and ``Tensor.mode``; same semantics. The gradient goes to the returned index.

    Example:
        >>> ember.mode(ember.tensor([[1, 2, 2, 1, 3], [4, 4, 0, 0, 0]]))
        mode(values=tensor([1, 0]), indices=tensor([3, 4]))
    """
    return _select_reduce(input, dim, keepdim, _mode_idx, _ModeResult, "mode")


@export(SelectReduce, EvenSelect, methods=("nanmedian",))
def nanmedian(input, dim=None, keepdim=False):
    """The median of input's elements that are not NaN, or those medians along dim with their indices.

    As ``ember.median`` (the lower of the two middle values for an even count), ignoring NaN; a slice of only NaN
    gives NaN.

    Args:
        input (Tensor): the input tensor.
        dim (int, optional): the dimension to reduce; all elements when None. Default: None.
        keepdim (bool): keep the reduced dimension, with size 1 (with dim only). Default: False.

    Returns:
        Tensor or (Tensor, Tensor): the median (0-d); or a named tuple ``(values, indices)`` with int64 indices.

    PyTorch:
        ``torch.nanmedian`` and ``Tensor.nanmedian``; same semantics (no ``out=`` argument).

    Example:
        >>> x = ember.tensor([[1.0, float('nan'), 3.0], [4.0, 2.0, 0.0]])
        >>> ember.nanmedian(x, dim=1)
        nanmedian(values=tensor([1., 2.]), indices=tensor([0, 1]))
        >>> ember.nanmedian(x)
        tensor(2.)
    """
    check_tensor(input, "nanmedian")
    if dim is not None:
        return _select_reduce(input, dim, keepdim, _nanmedian_idx, _NanmedianResult, "nanmedian")
    return _median_of_all(input, _nanmedian_idx, _NanmedianResult, "nanmedian")


# --- quantile -------------------------------------------------------------------------------------------------------

_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(input, q, dim, keepdim, interpolation, ignore_nan, op):
    check_tensor(input, op)
    if input._data.dtype not in (np.float32, np.float64):
        raise RuntimeError(f"{op}() input tensor must be either float or double dtype")
    xp = get_array_module(input._data)
    if isinstance(q, Tensor):
        if q._data.ndim > 1:
            raise RuntimeError(f"{op}() q must be a scalar or 1D tensor")
        if q._data.dtype != input._data.dtype:
            raise RuntimeError(f"{op}() q tensor must be same dtype as the input tensor")
        qs, scalar = xp.asarray(q._data).reshape(-1), q._data.ndim == 0
        if qs.size and (float(qs.min()) < 0 or float(qs.max()) > 1):
            raise RuntimeError(f"{op}() q values must be in the range [0, 1]")
    elif isinstance(q, (int, float, np.number)) and not isinstance(q, bool):
        if not 0 <= q <= 1:
            raise RuntimeError(f"{op}() q must be in the range [0, 1] but got {q}")
        qs, scalar = xp.asarray([q], dtype=input._data.dtype), True
    else:
        raise TypeError(f"{op}(): argument 'q' must be a number or a Tensor, not {type(q).__name__}")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{op}() interpolation must be one of linear, lower, higher, midpoint or nearest. Got "
                           f"{interpolation}")
    if input._data.size == 0:
        raise RuntimeError(f"{op}() input tensor must be non-empty")
    if dim is None:
        x, d = input.reshape(-1), 0
        out_shape = (1,) * input._data.ndim if keepdim else ()
    else:
        d = one_dim(input, dim, op)
        x = input.reshape(1) if input._data.ndim == 0 else input
        shape = tuple(x._data.shape)
        out_shape = shape[:d] + ((1,) if keepdim else ()) + shape[d + 1:] if input._data.ndim else ()
    values = sort(x, d).values  # NaN last
    n = x._data.shape[d]
    keep = x._data.shape[:d] + (1,) + x._data.shape[d + 1:]
    nan = xp.isnan(x._data)
    # ranks[j] for q[j], of shape (len(q),) + keep: where the quantile sits among the sorted values.
    qq = qs.astype(np.float64).reshape((-1,) + (1,) * x._data.ndim)
    if ignore_nan:
        valid = (~nan).sum(axis=d, keepdims=True)
        ranks = qq * (valid - 1)
        ranks = xp.where(valid == 0, 0, ranks)  # all NaN: the first (as PyTorch, where the gradient goes)
    else:
        ranks = xp.where(nan.any(axis=d, keepdims=True), n - 1, qq * (n - 1))
    ranks = xp.broadcast_to(ranks, (qs.shape[0],) + keep)
    if interpolation == "lower":
        below = above = xp.floor(ranks)
    elif interpolation == "higher":
        below = above = xp.ceil(ranks)
    elif interpolation == "nearest":
        below = above = xp.round(ranks)
    else:
        below, above = xp.floor(ranks), xp.ceil(ranks)
    big = values.unsqueeze(0).expand((qs.shape[0],) + tuple(x._data.shape))
    lo = big.gather(d + 1, Tensor._wrap(below.astype(np.int64)))
    result = lo
    if interpolation in ("linear", "midpoint"):
        hi = big.gather(d + 1, Tensor._wrap(above.astype(np.int64)))
        w = xp.full(ranks.shape, 0.5) if interpolation == "midpoint" else ranks - below
        result = lo + (hi - lo) * Tensor._wrap(w.astype(x._data.dtype))
    result = result.reshape((qs.shape[0],) + out_shape)
    return result.reshape(out_shape) if scalar else result


@export(methods=("quantile",))
def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The q-th quantiles of input's elements, or of each slice along dim.

    A quantile between two sorted values is interpolated; a slice with a NaN gives NaN. The gradient goes to the
    (one or two) sorted values each quantile is made of.

    Args:
        input (Tensor): a float32 or float64 tensor.
        q (float or Tensor): the probabilities in [0, 1]: a number or a 0-d or 1-d tensor of input's dtype.
        dim (int, optional): the dimension to reduce; all elements when None. Default: None.
        keepdim (bool): keep the reduced dimension(s) with size 1. Default: False.
        interpolation (str): between the sorted values i <= rank <= j: ``'linear'``, ``'lower'`` (i),
            ``'higher'`` (j), ``'midpoint'`` or ``'nearest'``. Default: ``'linear'``.

    Returns:
        Tensor: the reduced shape, with a leading dimension of len(q) when q is a 1-d tensor.

    PyTorch:
        ``torch.quantile`` and ``Tensor.quantile``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.quantile(ember.tensor([1.0, 2.0, 3.0, 4.0]), 0.5)
        tensor(2.5000)
        >>> ember.quantile(ember.tensor([[0.0, 1.0], [2.0, 4.0]]), ember.tensor([0.25, 1.0]), dim=1)
        tensor([[0.2500, 2.5000],
                [1.0000, 4.0000]])
    """
    return _quantile(input, q, dim, keepdim, interpolation, False, "quantile")


@export(methods=("nanquantile",))
def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The q-th quantiles of input's elements that are not NaN, or of each slice along dim (``quantile`` ignoring
    NaN; a slice of only NaN gives NaN).

    Args:
        input (Tensor): a float32 or float64 tensor.
        q (float or Tensor): the probabilities in [0, 1]: a number or a 0-d or 1-d tensor of input's dtype.
        dim (int, optional): the dimension to reduce; all elements when None. Default: None.
        keepdim (bool): keep the reduced dimension(s) with size 1. Default: False.
        interpolation (str): ``'linear'``, ``'lower'``, ``'higher'``, ``'midpoint'`` or ``'nearest'``, as in
            ``quantile``. Default: ``'linear'``.

    Returns:
        Tensor: the reduced shape, with a leading dimension of len(q) when q is a 1-d tensor.

    PyTorch:
        ``torch.nanquantile`` and ``Tensor.nanquantile``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.nanquantile(ember.tensor([1.0, float('nan'), 3.0]), 0.5)
        tensor(2.)
    """
    return _quantile(input, q, dim, keepdim, interpolation, True, "nanquantile")


# --- cummax, cummin --------------------------------------------------------------------------------------------------

@register
class CumMaxMin(Node):
    """(values, int64 indices): the running maximum (minimum) along dim and where it was last reached (NaN wins and
    sticks, as in PyTorch); the gradient of the values adds up at those indices."""

    saves = ()
    n_outputs = 2

    def __init__(self, dim, largest):
        self.dim, self.largest = dim, largest

    def infer(self, a):
        return same_as(a), with_dtype(a, np.int64)

    def forward(self, xp, a):
        d = self.dim
        values = (xp.maximum if self.largest else xp.minimum).accumulate(a, axis=d)
        hit = a == values
        if a.dtype.kind in "fc":
            hit |= xp.isnan(a)
        pos = xp.arange(a.shape[d]).reshape([-1 if i == d else 1 for i in range(a.ndim)])
        self.idx = idx = xp.maximum.accumulate(xp.where(hit, pos, 0), axis=d).astype(np.int64)
        self.in_shape = a.shape
        return values, idx

    def backward(self, g, _):
        z = zeros(self.in_shape, dtype=g.dtype, device=g.device)
        return (apply(ScatterAdd(self.dim), z, Tensor._wrap(self.idx), g),)


def _cum_select(input, dim, largest, result, op):
    check_tensor(input, op)
    d = one_dim(input, dim, op)
    if input._data.ndim == 0:
        values, indices = apply(CumMaxMin(0, largest), input.reshape(1))
        return result(values.reshape(()), indices.reshape(()))
    return result(*apply(CumMaxMin(d, largest), input))


@export(CumMaxMin, methods=("cummax",))
def cummax(input, dim):
    """The running maximum of input along dim, and the index where each running maximum was (last) reached.

    Args:
        input (Tensor): the input tensor.
        dim (int): the dimension to run along.

    Returns:
        (Tensor, Tensor): a named tuple ``(values, indices)`` of input's shape; the indices are int64.

    PyTorch:
        ``torch.cummax`` and ``Tensor.cummax``; same semantics (ties give the later index, NaN propagates). The
        gradient of the values adds up at the indices.

    Example:
        >>> ember.cummax(ember.tensor([1, 3, 2, 3, 5]), 0)
        cummax(values=tensor([1, 3, 3, 3, 5]), indices=tensor([0, 1, 1, 3, 4]))
    """
    return _cum_select(input, dim, True, _CummaxResult, "cummax")


@export(CumMaxMin, methods=("cummin",))
def cummin(input, dim):
    """The running minimum of input along dim, and the index where each running minimum was (last) reached.

    Args:
        input (Tensor): the input tensor.
        dim (int): the dimension to run along.

    Returns:
        (Tensor, Tensor): a named tuple ``(values, indices)`` of input's shape; the indices are int64.

    PyTorch:
        ``torch.cummin`` and ``Tensor.cummin``; same semantics (ties give the later index, NaN propagates). The
        gradient of the values adds up at the indices.

    Example:
        >>> ember.cummin(ember.tensor([3.0, 1.0, 2.0, 0.0]), 0)
        cummin(values=tensor([3., 1., 1., 0.]), indices=tensor([0, 1, 1, 3]))
    """
    return _cum_select(input, dim, False, _CumminResult, "cummin")


@export(Gather, methods=("take_along_dim",))
def take_along_dim(input, indices, dim=None):
    """The values of input at indices along dim, the two broadcast against each other in the other dimensions.

    Args:
        input (Tensor): the source tensor.
        indices (Tensor): int64 positions along dim (as from argsort or argmax with keepdim).
        dim (int, optional): the dimension to pick along; when None, both tensors are flattened. Default: None.

    Returns:
        Tensor: the broadcast shape, with indices' size along dim (1-d when dim is None).

    PyTorch:
        ``torch.take_along_dim`` and ``Tensor.take_along_dim``; same semantics (no ``out=`` argument).

    Example:
        >>> x = ember.tensor([[10, 30, 20], [60, 40, 50]])
        >>> ember.take_along_dim(x, ember.argsort(x, dim=1), dim=1)
        tensor([[10, 20, 30],
                [40, 50, 60]])
    """
    op = "torch.take_along_dim()"
    check_tensor(input, "take_along_dim")
    check_tensor(indices, "take_along_dim", "indices")
    if indices._data.dtype != np.int64:
        raise RuntimeError(f"{op}: dtype of indices should be Long but got {indices.dtype.name.capitalize()}")
    if dim is None:
        return take_along_dim(input.reshape(-1), indices.reshape(-1), 0)
    d = one_dim(input, dim, "take_along_dim")
    a, i = input._data, indices._data
    if a.ndim != i.ndim:
        raise RuntimeError(f"{op}: input and indices should have the same number of dimensions, but got {a.ndim} "
                           f"dimensions for input, and {i.ndim} dimensions for indices")
    if a.ndim == 0:
        return input.reshape(1).gather(0, indices.reshape(1)).reshape(())
    try:
        rest = np.broadcast_shapes(a.shape[:d] + (1,) + a.shape[d + 1:], i.shape[:d] + (1,) + i.shape[d + 1:])
    except ValueError:
        raise RuntimeError(f"{op}: shapes {list(a.shape)} and {list(i.shape)} do not broadcast outside dimension "
                           f"{d}") from None
    input = input.expand(rest[:d] + (a.shape[d],) + rest[d + 1:])
    indices = indices.expand(rest[:d] + (i.shape[d],) + rest[d + 1:])
    return input.gather(d, indices)
