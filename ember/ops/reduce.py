"""Reductions over dimensions: sum, mean, prod, max/min, var/std, logsumexp, norm, all/any, ... (the running
forms cumsum and cumprod are in cumulative.py)

Every function follows PyTorch: ``dim`` is an int, a tuple of ints or None (all dimensions; ``()`` also means all),
``keepdim`` keeps the reduced dimensions with size 1. Forwards run on arrays; backwards are written with ember ops
(sum's and mean's with their gradient node SumGrad), so gradients of gradients work.
"""
import functools
import math
import warnings
from collections import namedtuple

import numpy as np

from .. import dtypes as _dt
from ..autograd import Node
from ..device import get_array_module
from ..autograd.graph import apply
from ..tensor import Tensor
from . import _autocast
from ._broadcast import expand_array
from ._checks import check_tensor
from ._util import accumulates_in_float32, as_array, wrap_dim, wrap_dims
from .arith import maximum, minimum
from .compare import isnan
from .meta import TensorMeta, reduced, same_as, with_dtype
from .registry import export, register
from .ternary import where
from .unary import abs as _abs, exp, sign

# The named results of value-selecting reductions (torch.return_types.*): unpack as a tuple or use .values/.indices.
_MaxResult = namedtuple("max", ["values", "indices"])
_MinResult = namedtuple("min", ["values", "indices"])
_MedianResult = namedtuple("median", ["values", "indices"])
_AminmaxResult = namedtuple("aminmax", ["min", "max"])


# --- helpers --------------------------------------------------------------------------------------------------

def _dims(input, dim, op):
    """Reduced dimensions as a sorted tuple; None and () mean all. A 0-d tensor accepts dim 0/-1 and reduces nothing."""
    ndim = input._data.ndim
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(ndim))
    dims = wrap_dims(dim, ndim, op)
    return dims if ndim else ()


def one_dim(input, dim, op):
    """One reduced dimension (an int), as for max(dim) and cumsum."""
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}(): argument 'dim' must be int, not {type(dim).__name__}")
    return wrap_dim(int(dim), input._data.ndim, op)


@functools.lru_cache(maxsize=1024)
def _keep_shape(shape, dims):
    """The shape of a keepdim=True reduction over dims."""
    return tuple([1 if i in dims else s for i, s in enumerate(shape)])


def _out_shape(shape, dims, keepdim):
    """The shape of a reduction over dims."""
    return tuple(1 if i in dims else s for i, s in enumerate(shape) if keepdim or i not in dims)


def _unsqueeze(t, node):
    """A reduction's output (or gradient) reshaped to keepdim form, ready to broadcast against the input."""
    if node.keepdim or not node.dims:
        return t
    return t.reshape(_keep_shape(node.in_shape, node.dims))


def _sum_keep(t, dims):
    """sum(t, dims, keepdim=True) without re-validating dims (bool tensors count as int64)."""
    return apply(Sum(dims, True), t)


def _nonzero_size(input, dims, op):
    for d in dims:
        if input._data.shape[d] == 0:
            raise IndexError(f"{op}(): Expected reduction dim {d} to have non-zero size (input shape "
                             f"{tuple(input.shape)}).")


def _require_float(input, op, what):
    if not input.is_floating_point():
        raise RuntimeError(f"{op}(): {what} Got: {input.dtype}")


def accumulate_dtype(input, dtype):
    """PyTorch's rule for sum/prod/cumsum/cumprod: dtype= wins, bool and integer inputs accumulate in int64."""
    if dtype is not None:
        return input.to(dtype)
    k = input._data.dtype.kind
    if k == "b" or k == "u" or (k == "i" and input._data.dtype.itemsize < 8):
        return input.to(_dt.int64)
    return input


def _safe_den(y):
    """y with zeros replaced by ones, for gradients whose numerator vanishes where y does."""
    return where(y == 0, 1.0, y)


# --- sum, mean, prod ------------------------------------------------------------------------------------------

class _Reduction(Node):
    """A reduction over dims (a sorted tuple), keeping them with size 1 when keepdim."""

    def __init__(self, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim

    def infer(self, a):
        return reduced(a, self.dims, self.keepdim)


@register
class Sum(_Reduction):
    saves = ()

    @accumulates_in_float32
    def forward(self, xp, a):
        self.in_shape = a.shape
        if a.dtype.kind in "iu":  # NumPy would widen int32 to int64; the wrapper already chose the dtype
            return a.sum(axis=self.dims, keepdims=self.keepdim, dtype=a.dtype)
        return a.sum(axis=self.dims, keepdims=self.keepdim)

    def infer(self, a):
        return reduced(a, self.dims, self.keepdim, np.int64 if a.dtype.kind == "b" else None)  # bools count

    def backward(self, g):
        return (apply(SumGrad(self.in_shape, self.dims, self.keepdim), g),)


@register
class SumGrad(Node):
    """The gradient of sum (times scale: mean's): g put back into the reduced dimensions and broadcast to the input's
    shape, a read-only view when there is no scale. Its adjoint is the sum (times scale)."""

    saves = ()
    is_view = True

    def __init__(self, in_shape, dims, keepdim, scale=None):
        self.in_shape, self.dims, self.keepdim, self.scale = in_shape, dims, keepdim, scale

    def infer(self, g):
        return TensorMeta(tuple(self.in_shape), g.dtype)

    def forward(self, xp, g):
        if self.dims and not self.keepdim:
            g = g.reshape(_keep_shape(self.in_shape, self.dims))
        if self.scale is not None:
            dtype = g.dtype
            g = as_array(g * self.scale)
            if g.dtype != dtype:
                g = g.astype(dtype)
        elif g.__class__ is np.ndarray and not g.flags.c_contiguous:
            g = np.ascontiguousarray(g)  # (the reduced size) so that expand_array makes a view quickly
        return expand_array(g, self.in_shape)

    def backward(self, gg):
        s = apply(Sum(self.dims, self.keepdim), gg)
        return (s if self.scale is None else s * self.scale,)


@export(Sum, methods=("sum",))
def sum(input, dim=None, keepdim=False, dtype=None):
    """The sum of the elements of input over dim.

    Bool and integer inputs sum as int64 (unless dtype is given); float16 and bfloat16 accumulate in float32.

    Args:
        input (Tensor): the input tensor.
        dim (int or tuple of ints, optional): the dimension(s) to reduce; all of them when None. Default: None.
        keepdim (bool): keep the reduced dimensions, with size 1. Default: False.
        dtype (ember.dtype, optional): the dtype input is converted to before summing. Default: None.

    Returns:
        Tensor: the sums (0-d when all dimensions are reduced).

    PyTorch:
        ``torch.sum`` and ``Tensor.sum``; same semantics (no ``out=`` argument).

    Example:
        >>> x = ember.tensor([[1, 2], [3, 4]])
        >>> x.sum(), x.sum(dim=0), x.sum(1, keepdim=True).shape
        (tensor(10), tensor([4, 6]), ember.Size([2, 1]))
    """
    dims = _dims(input, dim, "sum")
    return apply(Sum(dims, keepdim), accumulate_dtype(input, dtype))


@export(Sum, methods=("nansum",))
def nansum(input, dim=None, keepdim=False, dtype=None):
    """The sum of the elements of input over dim, NaN counting as zero.

    Args:
        input (Tensor): the input tensor.
        dim (int or tuple of ints, optional): the dimension(s) to reduce; all of them when None. Default: None.
        keepdim (bool): keep the reduced dimensions, with size 1. Default: False.
        dtype (ember.dtype, optional): the dtype input is converted to before summing. Default: None.

    Returns:
        Tensor: the sums (dtypes as in ``ember.sum``).

    PyTorch:
        ``torch.nansum`` and ``Tensor.nansum``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.nansum(ember.tensor([1.0, float("nan"), 2.0]))
        tensor(3.)
    """
    if input.is_floating_point():
        input = where(isnan(input), 0.0, input)
    return sum(input, dim, keepdim, dtype)


@register
class Mean(_Reduction):
    saves = ()

    @accumulates_in_float32
    def forward(self, xp, a):
        self.in_shape = a.shape
        self.n = n = math.prod(a.shape[d] for d in self.dims)
        if n == 0:  # NaN, as in PyTorch, without NumPy's "mean of empty slice" warning
            return xp.full(_out_shape(a.shape, self.dims, self.keepdim), xp.nan, dtype=a.dtype)
        if a.dtype == np.float32 or a.dtype == np.float64:  # what NumPy's mean does, without its Python overhead
            return a.sum(axis=self.dims, keepdims=self.keepdim) / n
        return a.mean(axis=self.dims, keepdims=self.keepdim)

    def backward(self, g):
        scale = 1.0 / self.n if self.n else math.nan
        return (apply(SumGrad(self.in_shape, self.dims, self.keepdim, scale), g),)


@export(Mean, methods=("mean",))
def mean(input, dim=None, keepdim=False, dtype=None):
    """The mean of the elements of input over dim.

    input must be floating-point (or be converted by dtype); an empty reduction gives NaN.

    Args:
        input (Tensor): the input tensor.
        dim (int or tuple of ints, optional): the dimension(s) to reduce; all of them when None. Default: None.
        keepdim (bool): keep the reduced dimensions, with size 1. Default: False.
        dtype (ember.dtype, optional): the dtype input is converted to first. Default: None.

    Returns:
        Tensor: the means (0-d when all dimensions are reduced).

    PyTorch:
        ``torch.mean`` and ``Tensor.mean``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.tensor([[1.0, 2.0], [3.0, 4.0]]).mean(dim=1)
        tensor([1.5000, 3.5000])
        >>> ember.mean(ember.tensor([1, 2]), dtype=ember.float64)
        tensor(1.5000, dtype=ember.float64)
    """
    if dtype is not None:
        input = input.to(dtype)
    if not input.is_floating_point():
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating point or "
                           f"complex dtype. Got: {input.dtype}")
    return apply(Mean(_dims(input, dim, "mean"), keepdim), input)


@export(Sum, methods=("nanmean",))
def nanmean(input, dim=None, keepdim=False, dtype=None):
    """The mean of the non-NaN elements of input over dim (NaN where all are NaN).

    Args:
        input (Tensor): a floating-point tensor (or one converted by dtype).
        dim (int or tuple of ints, optional): the dimension(s) to reduce; all of them when None. Default: None.
        keepdim (bool): keep the reduced dimensions, with size 1. Default: False.
        dtype (ember.dtype, optional): the dtype input is converted to first. Default: None.

    Returns:
        Tensor: the means.

    PyTorch:
        ``torch.nanmean`` and ``Tensor.nanmean``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.nanmean(ember.tensor([1.0, float("nan"), 3.0]))
        tensor(2.)
    """
    if dtype is not None:
        input = input.to(dtype)
    _require_float(input, "nanmean", "expected a floating point tensor as input.")
    keep = ~isnan(input)
    return sum(where(keep, input, 0.0), dim, keepdim) / sum(keep, dim, keepdim)


@register
class Prod(_Reduction):
    saves = (0,)
    saves_output = True

    @accumulates_in_float32
    def forward(self, xp, a):
        self.in_shape = a.shape
        self.out = xp.asarray(a.prod(axis=self.dims, keepdims=self.keepdim, dtype=a.dtype))
        return self.out

    def backward(self, g):
        x = self.inputs[0]
        g = _unsqueeze(g, self)
        if not (x._data == 0).any():
            return (g * _unsqueeze(self.saved_output(), self) / x,)
        return (g * self._grad_with_zeros(x),)

    def _grad_with_zeros(self, x):
        # d prod / dx_i = product of the others. Per slice, by its number of zeros nz (P: product of the non-zeros,
        # Z: the sum of the zero entries, which is 0 but carries their derivative so second derivatives are right):
        # nz=0: P/x;  nz=1: P at the zero, P/x * Z elsewhere;  nz=2: P * (the other zero) at the zeros;  nz>2: 0.
        dims = self.dims
        zero = x == 0
        xs = where(zero, 1.0, x)
        p = apply(Prod(dims, True), xs)
        nz = _sum_keep(zero, dims)
        z = _sum_keep(where(zero, x, 0.0), dims)
        g0 = p / xs
        g1 = where(zero, p, g0 * z)
        g2 = where(zero, p * (z - x), 0.0)
        return where(nz == 0, g0, where(nz == 1, g1, where(nz == 2, g2, 0.0)))


@export(Prod, methods=("prod",))
def prod(input, dim=None, keepdim=False, dtype=None):
    """The product of the elements of input over dim.

    Bool and integer inputs multiply as int64 (unless dtype is given). The gradient is exact where input has zeros
    (one zero, several zeros). Under autocast it runs in float32.

    Args:
        input (Tensor): the input tensor.
        dim (int or tuple of ints, optional): the dimension(s) to reduce; all of them when None. Default: None.
        keepdim (bool): keep the reduced dimensions, with size 1. Default: False.
        dtype (ember.dtype, optional): the dtype input is converted to before multiplying. Default: None.

    Returns:
        Tensor: the products.

    PyTorch:
        ``torch.prod`` and ``Tensor.prod``; same semantics, except that dim may also be a tuple (PyTorch takes one
        int). No ``out=`` argument.

    Example:
        >>> ember.prod(ember.tensor([[1.0, 2.0], [3.0, 4.0]]), 1)
        tensor([ 2., 12.])
    """
    if _autocast.active:  # PyTorch's autocast runs prod in float32
        input, = _autocast.to_float32(input)
    dims = _dims(input, dim, "prod")
    return apply(Prod(dims, keepdim), accumulate_dtype(input, dtype))


# --- value-selecting reductions: max/min over one dim, median -------------------------------------------------

@register
class PutAlong(Node):
    """Place g (keepdim-shaped) at idx along dim in zeros of shape: the adjoint of TakeAlong."""

    saves = ()

    def __init__(self, shape, idx, dim):
        self.shape, self.idx, self.dim = shape, idx, dim

    def infer(self, g):
        return TensorMeta(tuple(self.shape), g.dtype)

    def forward(self, xp, g):
        d = self.dim
        pos = xp.arange(self.shape[d]).reshape([-1 if i == d else 1 for i in range(len(self.shape))])
        return xp.where(pos == self.idx, g, xp.zeros((), dtype=g.dtype))

    def backward(self, gg):
        return (apply(TakeAlong(self.idx, self.dim), gg),)


@register
class TakeAlong(Node):
    """Entries at idx (keepdim-shaped indices) along dim."""

    saves = ()

    def __init__(self, idx, dim):
        self.idx, self.dim = idx, dim

    def infer(self, a):
        return TensorMeta(tuple(self.idx.shape), a.dtype)

    def forward(self, xp, a):
        self.in_shape = a.shape
        return xp.take_along_axis(a, self.idx, axis=self.dim)

    def backward(self, g):
        return (apply(PutAlong(self.in_shape, self.idx, self.dim), g),)


def _argmax_idx(xp, a, d):
    return xp.argmax(a, axis=d, keepdims=True)


def _argmin_idx(xp, a, d):
    return xp.argmin(a, axis=d, keepdims=True)


def _median_idx(xp, a, d):
    # A stable sort picks, among equal values, the same (first) index as PyTorch's CPU kernel; NaN wins like in torch.
    k = (a.shape[d] - 1) // 2
    idx = xp.take(xp.argsort(a, axis=d, kind="stable"), xp.asarray([k]), axis=d)
    if a.dtype.kind == "f":
        nan = xp.isnan(a)
        if nan.any():
            idx = xp.where(nan.any(axis=d, keepdims=True), xp.argmax(nan, axis=d, keepdims=True), idx)
    return idx


@register
class SelectReduce(Node):
    """max/min/median over one dim: (values, int64 indices), the value at an index per slice; the gradient flows to
    that index. pick(xp, a, dim) gives the keepdim-shaped indices."""

    saves = ()
    n_outputs = 2

    def __init__(self, dim, keepdim, pick):
        self.dim, self.keepdim, self.pick = dim, keepdim, pick

    def infer(self, a):
        values = reduced(a, (self.dim,), self.keepdim)
        return values, with_dtype(values, np.int64)

    def forward(self, xp, a):
        self.in_shape = a.shape
        self.idx = idx = self.pick(xp, a, self.dim)
        out = xp.take_along_axis(a, idx, axis=self.dim)
        if idx.dtype != np.int64:
            idx = idx.astype(np.int64)
        if self.keepdim:
            return out, idx
        return out.squeeze(self.dim), idx.squeeze(self.dim)

    def backward(self, g, _):
        if not self.keepdim:
            g = g.reshape(_keep_shape(self.in_shape, (self.dim,)))
        return (apply(PutAlong(self.in_shape, self.idx, self.dim), g),)


def _select_reduce(input, dim, keepdim, pick, result, op):
    check_tensor(input, op)
    d = one_dim(input, dim, op)
    if input._data.ndim == 0:
        input, keepdim = input.reshape(1), False
    _nonzero_size(input, (d,), op)
    return result(*apply(SelectReduce(d, bool(keepdim), pick), input))


def _median_of_all(input, pick, result, op):
    """The median of all of input's elements (NaN when empty); the gradient is split evenly among the entries equal
    to it (as torch.median())."""
    if input._data.size == 0:
        xp = get_array_module(input._data)
        return Tensor._wrap(xp.full((), xp.nan, dtype=input._data.dtype))
    flat = input.reshape(-1)
    value = _select_reduce(flat.detach(), 0, False, pick, result, op).values
    return apply(EvenSelect(), flat, value)


@register
class AMax(_Reduction):
    """amax/amin: the gradient is split evenly among the entries equal to the result (as in PyTorch)."""

    saves = (0,)
    saves_output = True

    def __init__(self, dims, keepdim, largest):
        super().__init__(dims, keepdim)
        self.largest = largest

    def forward(self, xp, a):
        self.in_shape = a.shape
        self.out = xp.asarray((a.max if self.largest else a.min)(axis=self.dims, keepdims=self.keepdim))
        return self.out

    def backward(self, g):
        x = self.inputs[0]
        y = _unsqueeze(Tensor._wrap(self.out), self)
        mask = x == y
        if x.is_floating_point() and bool(get_array_module(self.out).isnan(self.out).any()):
            mask = mask | (isnan(x) & isnan(y))
        return (where(mask, _unsqueeze(g, self) / _sum_keep(mask, self.dims), 0.0),)


def _amax(input, dim, keepdim, largest, op):
    check_tensor(input, op)
    dims = _dims(input, dim, op)
    _nonzero_size(input, dims, op)
    return apply(AMax(dims, keepdim, largest), input)


@export(AMax, methods=("amax",))
def amax(input, dim=(), keepdim=False):
    """The largest element of input over dim.

    Unlike ``max(input, dim)`` it gives values only, over several dimensions at once, and the gradient is split
    evenly among the elements equal to the result. NaN propagates. Reducing an empty dimension raises.

    Args:
        input (Tensor): the input tensor.
        dim (int or tuple of ints): the dimension(s) to reduce; all of them when () or None. Default: ().
        keepdim (bool): keep the reduced dimensions, with size 1. Default: False.

    Returns:
        Tensor: the largest values, of input's dtype.

    PyTorch:
        ``torch.amax`` and ``Tensor.amax``; same semantics, except that an empty reduction raises an IndexError
        (PyTorch: RuntimeError). No ``out=`` argument.

    Example:
        >>> ember.amax(ember.tensor([[1, 5], [7, 3]]), dim=1)
        tensor([5, 7])
    """
    return _amax(input, dim, keepdim, True, "amax")


@export(AMax, methods=("amin",))
def amin(input, dim=(), keepdim=False):
    """The smallest element of input over dim.

    Unlike ``min(input, dim)`` it gives values only, over several dimensions at once, and the gradient is split
    evenly among the elements equal to the result. NaN propagates. Reducing an empty dimension raises.

    Args:
        input (Tensor): the input tensor.
        dim (int or tuple of ints): the dimension(s) to reduce; all of them when () or None. Default: ().
        keepdim (bool): keep the reduced dimensions, with size 1. Default: False.

    Returns:
        Tensor: the smallest values, of input's dtype.

    PyTorch:
        ``torch.amin`` and ``Tensor.amin``; same semantics, except that an empty reduction raises an IndexError
        (PyTorch: RuntimeError). No ``out=`` argument.

    Example:
        >>> ember.amin(ember.tensor([[1, 5], [7, 3]]), dim=1)
        tensor([1, 3])
    """
    return _amax(input, dim, keepdim, False, "amin")


@export(AMax, methods=("aminmax",))
def aminmax(input, *, dim=None, keepdim=False):
    """The smallest and the largest element of input over dim, in one call.

    Args:
        input (Tensor): the input tensor.
        dim (int or tuple of ints, optional): the dimension(s) to reduce (keyword only); all of them when None.
            Default: None.
        keepdim (bool): keep the reduced dimensions, with size 1. Default: False.

    Returns:
        (Tensor, Tensor): a named tuple ``(min, max)``, as ``amin`` and ``amax``.

    PyTorch:
        ``torch.aminmax`` and ``Tensor.aminmax``; same semantics, except that dim may also be a tuple. No ``out=``
        argument.

    Example:
        >>> ember.aminmax(ember.tensor([[1, 5], [7, 3]]), dim=0)
        aminmax(min=tensor([1, 3]), max=tensor([7, 5]))
    """
    return _AminmaxResult(_amax(input, dim, keepdim, False, "aminmax"), _amax(input, dim, keepdim, True, "aminmax"))


def _max_min(input, dim, keepdim, other, largest):
    op = "max" if largest else "min"
    if isinstance(dim, Tensor) or other is not None:
        return (maximum if largest else minimum)(input, dim if other is None else other)
    if dim is None:
        check_tensor(input, op)
        if input._data.size == 0:
            raise RuntimeError(f"{op}(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
                               "reduction dim with the 'dim' argument.")
        return apply(AMax(tuple(range(input._data.ndim)), False, largest), input)
    return _select_reduce(input, dim, keepdim, _argmax_idx if largest else _argmin_idx,
                          _MaxResult if largest else _MinResult, op)


@export(AMax, SelectReduce, methods=("max",))
def max(input, dim=None, keepdim=False, *, other=None):
    """The largest element of input, or the largest along dim with its index, or the elementwise maximum with other.

    Three forms, as in PyTorch: ``max(input)`` gives a 0-d tensor (the gradient split evenly among the elements
    equal to it); ``max(input, dim, keepdim)`` gives a named tuple ``(values, indices)``, the first index on ties
    (the gradient goes to that index); ``max(input, other)`` (a tensor in place of dim) is ``ember.maximum``.

    Args:
        input (Tensor): the input tensor.
        dim (int or Tensor, optional): the dimension to reduce; or, a tensor, the other operand. Default: None.
        keepdim (bool): keep the reduced dimensions, with size 1. Default: False.
        other (Tensor, optional): the other operand of the elementwise form (keyword only). Default: None.

    Returns:
        Tensor or (Tensor, Tensor): the largest value; or ``(values, indices)`` with int64 indices; or the
        elementwise maximum.

    PyTorch:
        ``torch.max`` and ``Tensor.max``; same semantics (no ``out=`` argument).

    Example:
        >>> x = ember.tensor([[1, 5], [7, 3]])
        >>> x.max()
        tensor(7)
        >>> x.max(dim=1)
        max(values=tensor([5, 7]), indices=tensor([1, 0]))
    """
    return _max_min(input, dim, keepdim, other, True)


@export(AMax, SelectReduce, methods=("min",))
def min(input, dim=None, keepdim=False, *, other=None):
    """The smallest element of input, or the smallest along dim with its index, or the elementwise minimum with other.

    Three forms, as in PyTorch: ``min(input)`` gives a 0-d tensor (the gradient split evenly among the elements
    equal to it); ``min(input, dim, keepdim)`` gives a named tuple ``(values, indices)``, the first index on ties
    (the gradient goes to that index); ``min(input, other)`` (a tensor in place of dim) is ``ember.minimum``.

    Args:
        input (Tensor): the input tensor.
        dim (int or Tensor, optional): the dimension to reduce; or, a tensor, the other operand. Default: None.
        keepdim (bool): keep the reduced dimensions, with size 1. Default: False.
        other (Tensor, optional): the other operand of the elementwise form (keyword only). Default: None.

    Returns:
        Tensor or (Tensor, Tensor): the smallest value; or ``(values, indices)`` with int64 indices; or the
        elementwise minimum.

    PyTorch:
        ``torch.min`` and ``Tensor.min``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.min(ember.tensor([[1, 5], [7, 3]]), dim=0)
        min(values=tensor([1, 3]), indices=tensor([0, 1]))
    """
    return _max_min(input, dim, keepdim, other, False)


@export(SelectReduce, methods=("median",))
def median(input, dim=None, keepdim=False):
    """The median of input's elements, or the medians along dim with their indices.

    For an even count it is the lower of the two middle values (no averaging); NaN counts as the median where a
    slice has one. ``median(input)`` gives a 0-d tensor (NaN for an empty input; the gradient split evenly among
    the elements equal to it); ``median(input, dim, keepdim)`` gives a named tuple ``(values, indices)``.

    Args:
        input (Tensor): the input tensor.
        dim (int, optional): the dimension to reduce; all elements when None. Default: None.
        keepdim (bool): keep the reduced dimensions, with size 1. Default: False.

    Returns:
        Tensor or (Tensor, Tensor): the median; or ``(values, indices)`` with int64 indices.

    PyTorch:
        ``torch.median`` and ``Tensor.median``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.median(ember.tensor([1.0, 4.0, 2.0, 3.0]))
        tensor(2.)
        >>> ember.median(ember.tensor([[1, 5, 2], [7, 3, 3]]), dim=1)
        median(values=tensor([2, 3]), indices=tensor([2, 2]))
    """
    check_tensor(input, "median")
    if dim is not None:
        return _select_reduce(input, dim, keepdim, _median_idx, _MedianResult, "median")
    return _median_of_all(input, _median_idx, _MedianResult, "median")


@register
class EvenSelect(Node):
    """The already-selected value v of x, with the gradient split evenly among the entries of x equal to v."""

    saves = (0, 1)

    def infer(self, x, v):
        return same_as(v)

    def forward(self, xp, x, v):
        return v.copy()

    def backward(self, g):
        x, v = self.inputs
        mask = x == v
        if bool(get_array_module(v._data).isnan(v._data).any()):
            mask = mask | isnan(x)
        return (where(mask, g / _sum_keep(mask, (0,)).reshape(()), 0.0), None)


# --- arg reductions, all/any, count_nonzero (no gradient) ------------------------------------------------------

@register
class ArgReduce(Node):
    """argmax/argmin over one dim, or over the flattened input when dim is None (int64 indices)."""

    differentiable = False

    def __init__(self, dim, keepdim, largest):
        self.dim, self.keepdim, self.largest = dim, keepdim, largest

    def infer(self, a):
        if self.dim is None:
            return TensorMeta((1,) * a.ndim if self.keepdim else (), np.dtype(np.int64))
        return with_dtype(reduced(a, (self.dim,), self.keepdim), np.int64)

    def forward(self, xp, a):
        f = xp.argmax if self.largest else xp.argmin
        if self.dim is None:
            idx = f(a)
            out = xp.asarray(idx).reshape((1,) * a.ndim if self.keepdim else ())
        else:
            out = f(a, axis=self.dim, keepdims=self.keepdim)
        return out.astype(np.int64, copy=False)


def _arg_reduce(input, dim, keepdim, largest, op):
    check_tensor(input, op)
    if dim is None:
        if input._data.size == 0:
            raise IndexError(f"{op}(): Expected reduction dim to be specified for input.numel() == 0.")
        return apply(ArgReduce(None, keepdim, largest), input)
    d = one_dim(input, dim, op)
    if input._data.ndim == 0:
        return apply(ArgReduce(None, False, largest), input)
    _nonzero_size(input, (d,), op)
    return apply(ArgReduce(d, keepdim, largest), input)


@export(ArgReduce, methods=("argmax",))
def argmax(input, dim=None, keepdim=False):
    """The index of the largest element of input along dim, or in the flattened input when dim is None.

    The first index on ties. No gradient.

    Args:
        input (Tensor): the input tensor.
        dim (int, optional): the dimension to reduce; the flattened input when None. Default: None.
        keepdim (bool): keep the reduced dimension (all of them when dim is None), with size 1. Default: False.

    Returns:
        Tensor: int64 indices.

    PyTorch:
        ``torch.argmax`` and ``Tensor.argmax``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.tensor([[1, 5], [7, 3]]).argmax(dim=1)
        tensor([1, 0])
        >>> ember.tensor([[1, 5], [7, 3]]).argmax()
        tensor(2)
    """
    return _arg_reduce(input, dim, keepdim, True, "argmax")


@export(ArgReduce, methods=("argmin",))
def argmin(input, dim=None, keepdim=False):
    """The index of the smallest element of input along dim, or in the flattened input when dim is None.

    The first index on ties. No gradient.

    Args:
        input (Tensor): the input tensor.
        dim (int, optional): the dimension to reduce; the flattened input when None. Default: None.
        keepdim (bool): keep the reduced dimension (all of them when dim is None), with size 1. Default: False.

    Returns:
        Tensor: int64 indices.

    PyTorch:
        ``torch.argmin`` and ``Tensor.argmin``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.argmin(ember.tensor([[1, 5], [7, 0]]), dim=0)
        tensor([0, 1])
    """
    return _arg_reduce(input, dim, keepdim, False, "argmin")


class _Truth(_Reduction):
    """A reduction to truth values (no gradient)."""

    differentiable = False


@register
class All(_Truth):
    """True where every element over dims is nonzero (bool; uint8 for uint8 input, as in PyTorch)."""

    def infer(self, a):
        return reduced(a, self.dims, self.keepdim, a.dtype if a.dtype == np.uint8 else np.bool_)

    def forward(self, xp, a):
        out = a.all(axis=self.dims, keepdims=self.keepdim)
        return out.astype(a.dtype) if a.dtype == np.uint8 else out


@register
class Any(_Truth):
    """True where some element over dims is nonzero (bool; uint8 for uint8 input, as in PyTorch)."""

    def infer(self, a):
        return reduced(a, self.dims, self.keepdim, a.dtype if a.dtype == np.uint8 else np.bool_)

    def forward(self, xp, a):
        out = a.any(axis=self.dims, keepdims=self.keepdim)
        return out.astype(a.dtype) if a.dtype == np.uint8 else out


@register
class CountNonzero(_Truth):
    """The number of nonzero elements over dims (int64)."""

    def infer(self, a):
        return reduced(a, self.dims, False, np.int64)

    def forward(self, xp, a):
        return (a != 0).sum(axis=self.dims, dtype=np.int64)


@export(All, methods=("all",))
def all(input, dim=None, keepdim=False):
    """Whether every element of input over dim is nonzero (true). No gradient.

    Args:
        input (Tensor): the input tensor.
        dim (int or tuple of ints, optional): the dimension(s) to reduce; all of them when None. Default: None.
        keepdim (bool): keep the reduced dimensions, with size 1. Default: False.

    Returns:
        Tensor: bool (uint8 for a uint8 input, as in PyTorch).

    PyTorch:
        ``torch.all`` and ``Tensor.all``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.all(ember.tensor([[True, False], [True, True]]), dim=1)
        tensor([False,  True])
    """
    return apply(All(_dims(input, dim, "all"), keepdim), input)


@export(Any, methods=("any",))
def any(input, dim=None, keepdim=False):
    """Whether some element of input over dim is nonzero (true). No gradient.

    Args:
        input (Tensor): the input tensor.
        dim (int or tuple of ints, optional): the dimension(s) to reduce; all of them when None. Default: None.
        keepdim (bool): keep the reduced dimensions, with size 1. Default: False.

    Returns:
        Tensor: bool (uint8 for a uint8 input, as in PyTorch).

    PyTorch:
        ``torch.any`` and ``Tensor.any``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.any(ember.tensor([[0.0, 0.0], [1.0, 0.0]]), dim=1)
        tensor([False,  True])
    """
    return apply(Any(_dims(input, dim, "any"), keepdim), input)


@export(CountNonzero, methods=("count_nonzero",))
def count_nonzero(input, dim=None):
    """The number of nonzero elements of input over dim. No gradient.

    Args:
        input (Tensor): the input tensor.
        dim (int or tuple of ints, optional): the dimension(s) to reduce; all of them when None. Default: None.

    Returns:
        Tensor: int64 counts.

    PyTorch:
        ``torch.count_nonzero`` and ``Tensor.count_nonzero``; same semantics.

    Example:
        >>> ember.count_nonzero(ember.tensor([[0, 1], [2, 3]]), dim=0)
        tensor([1, 2])
    """
    return apply(CountNonzero(_dims(input, dim, "count_nonzero"), False), input)


# --- var, std ---------------------------------------------------------------------------------------------------

def _var_backward(g, x, dims, divisor):
    """Gradient of sum((x - mean)^2) / divisor: 2 (x - mean) g / divisor."""
    scale = 2.0 / divisor if divisor > 0 else math.inf
    return g * (x - mean(x, dims, keepdim=True)) * scale


@register
class Var(_Reduction):
    saves = (0,)

    def __init__(self, dims, keepdim, correction):
        super().__init__(dims, keepdim)
        self.correction = correction

    @accumulates_in_float32
    def forward(self, xp, a):
        self.in_shape = a.shape
        n = math.prod(a.shape[d] for d in self.dims)
        self.divisor = n - self.correction
        if self.divisor > 0:
            return xp.asarray(xp.var(a, axis=self.dims, ddof=self.correction, keepdims=self.keepdim))
        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)  # inf or nan, as in PyTorch (var() has warned)
            return xp.asarray(xp.var(a, axis=self.dims, ddof=self.correction, keepdims=self.keepdim))

    def backward(self, g):
        return (_var_backward(_unsqueeze(g, self), self.inputs[0], self.dims, self.divisor),)


@register
class Std(Var):
    saves_output = True

    @accumulates_in_float32
    def forward(self, xp, a):
        self.out = xp.asarray(xp.sqrt(Var.forward(self, xp, a)))
        return self.out

    def backward(self, g):
        # d std = d var / (2 std); PyTorch makes it 0 where std is 0 (a constant slice) instead of NaN.
        y = _unsqueeze(self.saved_output(), self)
        gv = where(y == 0, 0.0, _unsqueeze(g, self) / (_safe_den(y) * 2))
        return (_var_backward(gv, self.inputs[0], self.dims, self.divisor),)


def _correction(op, dim, unbiased, correction):
    """Resolve PyTorch's overloads: var(x, unbiased), var(x, dim, unbiased, keepdim), var(x, dim, correction=)."""
    if isinstance(dim, bool):  # var(x, True): the legacy positional unbiased
        if unbiased is not None:
            raise TypeError(f"{op}(): got unbiased twice")
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{op}(): pass either unbiased= or correction=, not both")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return dim, correction


def _var_std(node_cls, op, input, dim, unbiased, keepdim, correction):
    check_tensor(input, op)
    if not input.is_floating_point():
        raise RuntimeError(f"{op}(): std and var only support floating point and complex dtypes, got {input.dtype}")
    dim, correction = _correction(op, dim, unbiased, correction)
    dims = _dims(input, dim, op)
    n = math.prod(input._data.shape[d] for d in dims)
    if n - correction <= 0:
        warnings.warn(f"{op}(): degrees of freedom is <= 0. Correction should be strictly less than the reduction "
                      f"factor (input numel divided by output numel).", stacklevel=3)
    return apply(node_cls(dims, keepdim, correction), input)


@export(Var, methods=("var",))
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """The variance of input's elements over dim, ``sum((x - mean)^2) / (N - correction)``.

    By default the sample variance (Bessel's correction, N - 1); correction=0 gives the population variance. With
    N - correction <= 0 it warns and gives inf or NaN. float16 and bfloat16 inputs accumulate in float32.

    Args:
        input (Tensor): a floating-point tensor.
        dim (int or tuple of ints, optional): the dimension(s) to reduce; all of them when None. A bool here is
            the legacy positional ``unbiased`` (``var(x, False)``). Default: None.
        unbiased (bool, optional): Bessel's correction (divide by N - 1) when True, none (N) when False; the same
            as correction=1 or 0. Default: None (correction 1).
        keepdim (bool): keep the reduced dimensions, with size 1. Default: False.
        correction (int, optional): divide by N - correction (keyword only; not with unbiased). Default: None
            (1).

    Returns:
        Tensor: the variances.

    PyTorch:
        ``torch.var`` and ``Tensor.var``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.var(ember.tensor([1.0, 2.0, 3.0, 4.0]))
        tensor(1.6667)
        >>> ember.var(ember.tensor([[1.0, 2.0], [3.0, 5.0]]), dim=1, correction=0)
        tensor([0.2500, 1.0000])
    """
    return _var_std(Var, "var", input, dim, unbiased, keepdim, correction)


@export(Std, methods=("std",))
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """The standard deviation of input's elements over dim: the square root of ``ember.var``.

    By default with Bessel's correction (N - 1). Its gradient is 0 where the standard deviation is 0 (a constant
    slice), as in PyTorch.

    Args:
        input (Tensor): a floating-point tensor.
        dim (int or tuple of ints, optional): the dimension(s) to reduce; all of them when None. A bool here is
            the legacy positional ``unbiased`` (``var(x, False)``). Default: None.
        unbiased (bool, optional): Bessel's correction (divide by N - 1) when True, none (N) when False; the same
            as correction=1 or 0. Default: None (correction 1).
        keepdim (bool): keep the reduced dimensions, with size 1. Default: False.
        correction (int, optional): divide by N - correction (keyword only; not with unbiased). Default: None
            (1).

    Returns:
        Tensor: the standard deviations.

    PyTorch:
        ``torch.std`` and ``Tensor.std``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.std(ember.tensor([[1.0, 2.0], [3.0, 5.0]]), dim=1)
        tensor([0.7071, 1.4142])
    """
    return _var_std(Std, "std", input, dim, unbiased, keepdim, correction)


@export(Var, Mean)
def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """The variance and the mean of input's elements over dim, in one call (see ``ember.var``).

    Args:
        input (Tensor): a floating-point tensor.
        dim (int or tuple of ints, optional): the dimension(s) to reduce; all of them when None. A bool here is
            the legacy positional ``unbiased`` (``var(x, False)``). Default: None.
        unbiased (bool, optional): Bessel's correction (divide by N - 1) when True, none (N) when False; the same
            as correction=1 or 0. Default: None (correction 1).
        keepdim (bool): keep the reduced dimensions, with size 1. Default: False.
        correction (int, optional): divide by N - correction (keyword only; not with unbiased). Default: None
            (1).

    Returns:
        (Tensor, Tensor): ``(var, mean)``, a plain tuple.

    PyTorch:
        ``torch.var_mean``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.var_mean(ember.tensor([1.0, 2.0, 3.0, 4.0]))
        (tensor(1.6667), tensor(2.5000))
    """
    return var(input, dim, unbiased, keepdim, correction=correction), mean(input, _correction(
        "var_mean", dim, unbiased, correction)[0], keepdim)


@export(Std, Mean)
def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """The standard deviation and the mean of input's elements over dim, in one call (see ``ember.std``).

    Args:
        input (Tensor): a floating-point tensor.
        dim (int or tuple of ints, optional): the dimension(s) to reduce; all of them when None. A bool here is
            the legacy positional ``unbiased`` (``var(x, False)``). Default: None.
        unbiased (bool, optional): Bessel's correction (divide by N - 1) when True, none (N) when False; the same
            as correction=1 or 0. Default: None (correction 1).
        keepdim (bool): keep the reduced dimensions, with size 1. Default: False.
        correction (int, optional): divide by N - correction (keyword only; not with unbiased). Default: None
            (1).

    Returns:
        (Tensor, Tensor): ``(std, mean)``, a plain tuple.

    PyTorch:
        ``torch.std_mean``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.std_mean(ember.tensor([[1.0, 2.0], [3.0, 5.0]]), dim=1)
        (tensor([0.7071, 1.4142]), tensor([1.5000, 4.0000]))
    """
    return std(input, dim, unbiased, keepdim, correction=correction), mean(input, _correction(
        "std_mean", dim, unbiased, correction)[0], keepdim)


# --- logsumexp ------------------------------------------------------------------------------------------------

@register
class LogSumExp(_Reduction):
    saves = (0,)
    saves_output = True

    @accumulates_in_float32
    def forward(self, xp, a):
        self.in_shape = a.shape
        dims = self.dims
        with np.errstate(divide="ignore"):  # log(0) = -inf for empty or all -inf slices, as in PyTorch
            if a.size == 0:
                out = xp.log(xp.exp(a).sum(axis=dims, keepdims=True))
            else:
                # Subtract the max so exp never overflows; an infinite max (all -inf, or +inf) is not subtracted.
                m = a.max(axis=dims, keepdims=True)
                m = xp.where(xp.isfinite(m), m, xp.zeros((), dtype=m.dtype))
                out = xp.log(xp.exp(a - m).sum(axis=dims, keepdims=True)) + m
        self.out = out if self.keepdim else out.reshape([s for i, s in enumerate(out.shape) if i not in dims])
        return self.out

    def backward(self, g):
        # d/dx log sum exp x = softmax(x) = exp(x - out)
        y = _unsqueeze(self.saved_output(), self)
        return (_unsqueeze(g, self) * exp(self.inputs[0] - y),)


@export(LogSumExp, methods=("logsumexp",))
def logsumexp(input, dim=None, keepdim=False):
    """``log(sum(exp(input)))`` over dim, computed without overflow (the maximum is subtracted first).

    Integer and bool inputs give the default float dtype. An all -inf (or empty) slice gives -inf.

    Args:
        input (Tensor): the input tensor.
        dim (int or tuple of ints, optional): the dimension(s) to reduce; all of them when None. Default: None.
        keepdim (bool): keep the reduced dimensions, with size 1. Default: False.

    Returns:
        Tensor: floating-point.

    PyTorch:
        ``torch.logsumexp`` and ``Tensor.logsumexp``; same semantics, except that dim may be left out (all
        dimensions; PyTorch requires it). No ``out=`` argument.

    Example:
        >>> ember.logsumexp(ember.tensor([[0.0, 0.0], [1.0, 1.0]]), dim=1)
        tensor([0.6931, 1.6931])
    """
    check_tensor(input, "logsumexp")
    if not input.is_floating_point():
        input = input.to(_dt.get_default_dtype())
    return apply(LogSumExp(_dims(input, dim, "logsumexp"), keepdim), input)


# --- norm -----------------------------------------------------------------------------------------------------

@register
class Norm(_Reduction):
    """Vector p-norm over dims: p = 2, 1, inf, -inf, 0 or any other number."""

    saves = (0,)
    saves_output = True

    def __init__(self, p, dims, keepdim):
        super().__init__(dims, keepdim)
        self.p = p

    @accumulates_in_float32
    def forward(self, xp, a):
        self.in_shape = a.shape
        p, ax, kd = self.p, self.dims, self.keepdim
        if p == 2:
            out = xp.sqrt((a * a).sum(axis=ax, keepdims=kd))
        elif p == 1:
            out = xp.abs(a).sum(axis=ax, keepdims=kd)
        elif p == math.inf:
            out = xp.abs(a).max(axis=ax, keepdims=kd)
        elif p == -math.inf:
            out = xp.abs(a).min(axis=ax, keepdims=kd)
        elif p == 0:
            out = (a != 0).sum(axis=ax, keepdims=kd)
        else:
            out = (xp.abs(a) ** p).sum(axis=ax, keepdims=kd) ** (1.0 / p)
        self.out = xp.asarray(out).astype(a.dtype, copy=False)
        return self.out

    def backward(self, g):
        x, p = self.inputs[0], self.p
        if p == 0:
            return (None,)  # piecewise constant; PyTorch leaves the gradient undefined too
        g = _unsqueeze(g, self)
        if p == 1:
            return (sign(x) * g,)
        y = _unsqueeze(self.saved_output(), self)
        if p == 2:
            return (x * (g / _safe_den(y)),)  # x is 0 wherever y is: the gradient at a zero vector is 0
        if p == math.inf or p == -math.inf:
            mask = _abs(x) == y.detach()
            return (sign(x) * where(mask, g / _sum_keep(mask, self.dims), 0.0),)
        # d/dx_i = sign(x_i) |x_i|^(p-1) / y^(p-1), taken as 0 at x_i = 0 (and where y = 0), like PyTorch.
        ax = _abs(x)
        return (sign(x) * where(ax == 0, 1.0, ax) ** (p - 1) * (g / _safe_den(y) ** (p - 1)),)


@export(Norm, methods=("norm",))
def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """The vector p-norm of input's elements over dim: ``sum(|x|^p)^(1/p)``.

    p = inf gives the largest |x|, -inf the smallest, 0 the number of nonzero elements. Over two dimensions with
    p = 'fro' it is the Frobenius norm (the 2-norm of the elements).

    Args:
        input (Tensor): a floating-point tensor (or one converted by dtype).
        p (float or str): the exponent; ``'fro'`` or None means 2. Default: ``'fro'``.
        dim (int or tuple of ints, optional): the dimension(s) to reduce; all of them when None. Default: None.
        keepdim (bool): keep the reduced dimensions, with size 1. Default: False.
        dtype (ember.dtype, optional): the dtype input is converted to first. Default: None.

    Returns:
        Tensor: the norms.

    PyTorch:
        ``torch.norm`` and ``Tensor.norm``; same semantics for vector norms, except that ``p='nuc'`` (the nuclear
        norm) raises NotImplementedError. No ``out=`` argument.

    Example:
        >>> ember.norm(ember.tensor([3.0, 4.0]))
        tensor(5.)
        >>> ember.tensor([[1.0, -2.0], [3.0, 4.0]]).norm(p=1, dim=1)
        tensor([3., 7.])
    """
    check_tensor(input, "norm")
    if dtype is not None:
        input = input.to(dtype)
    if not input.is_floating_point():
        raise RuntimeError(f"norm(): Expected a floating point tensor as input. Got {input.dtype}")
    if p is None or p == "fro":
        p = 2
    elif isinstance(p, str):
        raise NotImplementedError(f"norm(): p={p!r} is not supported (only vector norms: 'fro', or a number)")
    p = float(p)
    dims = _dims(input, dim, "norm")
    if (p == math.inf or p == -math.inf) and math.prod(input._data.shape[d] for d in dims) == 0:
        raise RuntimeError("norm(): cannot compute the inf norm on an empty tensor because the operation does not "
                           "have an identity")
    return apply(Norm(p, dims, keepdim), input)
