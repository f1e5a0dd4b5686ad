"""Indexing: __getitem__/__setitem__, gather/scatter, index_select/index_add, masked_fill/select, nonzero, take.

Keys follow NumPy's indexing rules (as PyTorch does): ints, slices with positive steps, None, Ellipsis, integer
arrays (tensors, lists, NumPy arrays) and boolean masks. Basic keys give views; the others give copies whose
gradient scatter-adds into zeros (positions may repeat).

Shape rules: the size that a boolean mask selects (and nonzero's count) depends on data; their shape rules give
None for that dimension (``x[mask]``: ``(None,) + rest``; ``nonzero(x)``: ``(None, x.ndim)``). Parsing keys and the
shape of ``a[key]`` are in _keys.py.
"""
import math

import numpy as np

from .. import dtypes as _dt
from ..autograd import Node
from ..device import get_array_module
from ..autograd.graph import apply, increment_version
from ..autograd.inplace import inplace, records
from ..tensor import Tensor
from ._broadcast import broadcast_to, sum_to
from ._checks import check_tensor, same_device
from ._keys import add_at, along, check_range, index_shape, lead, parse
from ._util import wrap_dim
from .compare import logical_not
from .copy import to_copy
from .creation import zeros
from .join import Select, unbind
from .meta import TensorMeta, same_as
from .registry import export, register


_NUMBERS = (int, float, bool)


# --- __getitem__ ------------------------------------------------------------------------------------------------

@register
class BasicIndex(Node):
    """t[key] with ints, slices, None and Ellipsis only: a view of t."""

    saves = ()
    is_view = True
    kind = 0

    def __init__(self, key):
        self.key = key

    def infer(self, a):
        return TensorMeta(index_shape(a.shape, self.key), a.dtype)

    def forward(self, xp, a):
        self.in_shape = a.shape
        return a[self.key]

    def backward(self, g):
        return (apply(IndexBackward(self.in_shape, self.key, self.kind), g),)


@register
class AdvancedIndex(BasicIndex):
    """t[key] with integer arrays and/or boolean masks: a copy (a mask's dimension has size None in the shape
    rule: it depends on the mask's values)."""

    is_view = False

    def __init__(self, key, kind):
        self.key, self.kind = key, kind


def _index_node(key, kind):
    return BasicIndex(key) if kind == 0 else AdvancedIndex(key, kind)


@register
class IndexBackward(Node):
    """g placed at t[key] in zeros of t's shape (added up where integer indices repeat); the adjoint of t[key]."""

    saves = ()

    def __init__(self, shape, key, kind):
        self.shape, self.key, self.kind = shape, key, kind

    def infer(self, g):
        return TensorMeta(tuple(self.shape), g.dtype)

    def forward(self, xp, g):
        out = xp.zeros(self.shape, dtype=g.dtype)
        if self.kind == 2:
            add_at(xp, out, self.key, g)
        else:
            out[self.key] = g
        return out

    def backward(self, gg):
        return (apply(_index_node(self.key, self.kind), gg),)


@export(BasicIndex, AdvancedIndex, ember=False, methods=("__getitem__",))
def getitem(self, key):
    """self[key] with NumPy/PyTorch semantics: basic keys give views, integer arrays and masks give copies."""
    c = key.__class__
    if c is int:  # fast path for the most common keys
        shape = self._data.shape
        if shape and -shape[0] <= key < shape[0]:
            return apply(BasicIndex((key, Ellipsis)), self)
    elif c is slice and self._data.ndim and (key.step is None or key.step.__class__ is int and key.step > 0) and \
            (key.start is None or key.start.__class__ is int) and (key.stop is None or key.stop.__class__ is int):
        return apply(BasicIndex((key, Ellipsis)), self)
    k, kind = parse(self, key)
    return apply(BasicIndex(k) if kind == 0 else AdvancedIndex(k, kind), self)


# --- __setitem__ / index_put ------------------------------------------------------------------------------------

@register
class IndexPut(Node):
    """A copy of a with a[key] = v (or += v with accumulate); v is a tensor or a number."""

    saves = ()

    def __init__(self, key, kind, accumulate=False):
        self.key, self.kind, self.accumulate = key, kind, accumulate

    def infer(self, a, v):
        return same_as(a)

    def forward(self, xp, a, v):
        self.v_shape = getattr(v, "shape", None)
        out = a.copy()
        if self.accumulate:
            add_at(xp, out, self.key, v)
        else:
            out[self.key] = v
        return out

    def backward(self, g):
        na, nv = self.needs_input_grad
        ga = gv = None
        if na:
            ga = g if self.accumulate else apply(IndexPut(self.key, self.kind), g, 0)
        if nv:
            gv = _sum_to_value(apply(_index_node(self.key, self.kind), g), self.v_shape)
        return ga, gv


def _sum_to_value(g, shape):
    """Sum g to the shape of a value that was broadcast into it (leading 1s of the value may have been dropped)."""
    extra = len(shape) - g._data.ndim
    if extra > 0:
        return sum_to(g, shape[extra:]).reshape(shape)
    return sum_to(g, shape)


def _as_value(t, value, op):
    """value as a number, or as a tensor of t's dtype and device."""
    if isinstance(value, Tensor):
        if value._data.__class__ is not t._data.__class__:
            value = to_copy(value, device=t.device)
        if value._data.dtype != t._data.dtype:
            value = to_copy(value, dtype=t.dtype)
        return value
    if isinstance(value, _NUMBERS):
        return value
    if isinstance(value, np.generic):
        return value.item()
    try:
        return Tensor(value, dtype=t.dtype, device=t.device)
    except TypeError:
        raise TypeError(f"{op}: can't assign a value of type {type(value).__name__} (expected a number or a "
                        "tensor)") from None


def _put(self, key, value, accumulate, op):
    k, kind = parse(self, key)
    value = _as_value(self, value, op)
    try:
        if records(self, value):
            inplace(self, op, lambda s: apply(IndexPut(k, kind, accumulate), s, value))
        else:  # nothing to record: write straight into memory
            v = value._data if isinstance(value, Tensor) else value
            if accumulate:
                add_at(get_array_module(self._data), self._data, k, v)
            else:
                self._data[k] = v
            increment_version(self)
    except ValueError as e:
        raise _put_error(self, k, value, e, op) from None
    return self


def _put_error(t, key, value, e, op):
    msg = str(e)
    if "read-only" in msg:
        return RuntimeError(f"{op}: unsupported operation: the tensor is a read-only (expanded) view; clone() it "
                            "before writing to it")
    if isinstance(value, Tensor) and ("broadcast" in msg or "shape" in msg):
        target = tuple(t._data[key].shape)
        return RuntimeError(f"{op}: shape mismatch: value tensor of shape {list(value.shape)} cannot be broadcast to "
                            f"indexing result of shape {list(target)}")
    return RuntimeError(f"{op}: {msg}")


@export(IndexPut, ember=False, methods=("__setitem__",))
def setitem(self, key, value):
    """self[key] = value in place; value is a number or a tensor broadcastable to the indexed shape."""
    _put(self, key, value, False, "setitem")


@export(IndexPut, ember=False, methods=("index_put_",))
def index_put_(input, indices, values, accumulate=False):
    """Write ``values`` into the tensor at the positions ``indices`` select, in place: ``input[indices] = values``.

    With ``accumulate=True`` the values are added instead (``input[indices] += values``), and positions that repeat
    add up; without it, which of the repeated writes wins is unspecified.

    Args:
        input (Tensor): the tensor to write into (``self`` of the method).
        indices (tuple or list of Tensor): one index tensor (integer or bool) per leading dimension, broadcast
            together, as in ``input[i0, i1, ...]``.
        values (Tensor or number): the values, broadcast to the indexed shape and cast to input's dtype.
        accumulate (bool): add the values instead of writing them. Default: False.

    Returns:
        Tensor: input.

    PyTorch:
        ``Tensor.index_put_``; same semantics. ember also accepts a number as ``values`` and None entries in
        ``indices`` (the whole dimension).

    Example:
        >>> x = ember.zeros(3)
        >>> x.index_put_((ember.tensor([0, 0, 2]),), ember.tensor([1.0, 2.0, 5.0]), accumulate=True)
        tensor([3., 0., 5.])
    """
    return _put(input, _indices_key(indices), values, accumulate, "index_put_")


@export(IndexPut, methods=("index_put",))
def index_put(input, indices, values, accumulate=False):
    """A copy of ``input`` with ``values`` written at the positions ``indices`` select.

    The out-of-place ``index_put_``. With ``accumulate=True`` the values are added instead, and positions that
    repeat add up.

    Args:
        input (Tensor): the tensor.
        indices (tuple or list of Tensor): one index tensor (integer or bool) per leading dimension, broadcast
            together, as in ``input[i0, i1, ...]``.
        values (Tensor or number): the values, broadcast to the indexed shape and cast to input's dtype.
        accumulate (bool): add the values instead of writing them. Default: False.

    Returns:
        Tensor: a new tensor of input's shape and dtype.

    PyTorch:
        ``torch.index_put`` and ``Tensor.index_put``; same semantics. ember also accepts a number as ``values`` and
        None entries in ``indices`` (the whole dimension).

    Example:
        >>> ember.index_put(ember.zeros(2, 2), (ember.tensor([0, 1]), ember.tensor([1, 0])), ember.tensor([5.0, 6.0]))
        tensor([[0., 5.],
                [6., 0.]])
    """
    k, kind = parse(input, _indices_key(indices))
    value = _as_value(input, values, "index_put")
    try:
        return apply(IndexPut(k, kind, accumulate), input, value)
    except ValueError as e:
        raise _put_error(input, k, value, e, "index_put") from None


def _indices_key(indices):
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put: indices must be a tuple of tensors, not {type(indices).__name__}")
    return tuple(slice(None) if i is None else i for i in indices)


# --- gather / scatter ---------------------------------------------------------------------------------------------

def _check_index_tensor(index, input, op):
    check_tensor(index, op, "index")
    dt = index._data.dtype
    if dt.kind != "i" or dt.itemsize not in (4, 8):
        raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index, got {index.dtype}")
    same_device(input, index, op)


def _check_along(op, input, dim, index, src=None):
    """Validate gather/scatter arguments the way PyTorch does; returns dim wrapped to [0, ndim)."""
    check_tensor(input, op)
    n = input._data.ndim
    d = wrap_dim(dim, n, op)
    _check_index_tensor(index, input, op)
    shape, ishape = input._data.shape, index._data.shape
    if len(ishape) != n:
        raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as input tensor "
                           f"(index {list(ishape)}, input {list(shape)})")
    for i in range(n):
        if i != d and ishape[i] > shape[i]:
            raise RuntimeError(f"{op}(): Size does not match at dimension {i} expected index {list(ishape)} to be "
                               f"no larger than self {list(shape)} apart from dimension {d}")
    if isinstance(src, Tensor):
        sshape = src._data.shape
        if len(sshape) != n or any(ishape[i] > sshape[i] for i in range(n)):
            raise RuntimeError(f"{op}(): Expected index {list(ishape)} to be no larger than src {list(sshape)} "
                               "in every dimension (and of the same number of dimensions)")
        if src._data.dtype != input._data.dtype:
            raise RuntimeError(f"{op}(): Expected self.dtype to be equal to src.dtype (got {input.dtype} and "
                               f"{src.dtype})")
    check_range(index._data, shape[d] if n else 1, d, RuntimeError, op)
    return d


def _pad_to(g, shape):
    """g in the leading block of zeros of shape (the gradient of a src larger than the index)."""
    if tuple(g._data.shape) == tuple(shape):
        return g
    return apply(IndexBackward(tuple(shape), lead(g._data.shape), 0), g)


@register
class Gather(Node):
    """out[..., i, ...] = a[..., index[..., i, ...], ...] along dim: the shape of index."""

    saves = (1,)

    def __init__(self, dim):
        self.dim = dim

    def infer(self, a, index):
        return TensorMeta(tuple(index.shape), a.dtype)

    def forward(self, xp, a, index):
        self.in_shape = a.shape
        return a[along(xp, index, self.dim)]

    def backward(self, g):
        index = self.inputs[1]
        z = zeros(self.in_shape, dtype=g.dtype, device=g.device)
        return apply(ScatterAdd(self.dim), z, index, g), None


class _Scatter(Node):
    """A copy of a with src written (or added) at index along dim: the backward reads only the index."""

    saves = (1,)

    def __init__(self, dim):
        self.dim = dim

    def infer(self, a, index, src):
        return same_as(a)


@register
class Scatter(_Scatter):
    """A copy of a with src (a tensor or a number) written at index along dim."""

    def forward(self, xp, a, index, src):
        out = a.copy()
        if not isinstance(src, _NUMBERS):
            self.src_shape = src.shape
            src = src[lead(index.shape)]
        out[along(xp, index, self.dim)] = src
        return out

    def backward(self, g):
        index = self.inputs[1]
        na, _, ns = self.needs_input_grad
        ga = apply(Scatter(self.dim), g, index, 0) if na else None
        gs = _pad_to(apply(Gather(self.dim), g, index), self.src_shape) if ns else None
        return ga, None, gs


@register
class ScatterAdd(_Scatter):
    """A copy of a with src added at index along dim (repeated positions add up)."""

    def forward(self, xp, a, index, src):
        self.src_shape = src.shape
        out = a.copy()
        add_at(xp, out, along(xp, index, self.dim), src[lead(index.shape)])
        return out

    def backward(self, g):
        index = self.inputs[1]
        na, _, ns = self.needs_input_grad
        gs = _pad_to(apply(Gather(self.dim), g, index), self.src_shape) if ns else None
        return (g if na else None), None, gs


@export(Gather, methods=("gather",))
def gather(input, dim, index, *, sparse_grad=False):
    """The values of ``input`` picked along ``dim`` by ``index``.

    For a 3-d input: ``out[i][j][k] = input[index[i][j][k]][j][k]`` when dim is 0, ``input[i][index[i][j][k]][k]``
    when dim is 1, and so on. index has input's number of dimensions and no larger sizes except along dim.

    Args:
        input (Tensor): the source tensor.
        dim (int): the dimension to pick along.
        index (Tensor): the positions (int64 or int32), of input's number of dimensions.
        sparse_grad (bool): accepted and ignored (the gradient is dense). Default: False.

    Returns:
        Tensor: a tensor of index's shape and input's dtype.

    PyTorch:
        ``torch.gather`` and ``Tensor.gather``; same semantics (``sparse_grad`` has no effect).

    Example:
        >>> x = ember.tensor([[1, 2], [3, 4]])
        >>> ember.gather(x, 1, ember.tensor([[0, 0], [1, 0]]))
        tensor([[1, 1],
                [4, 3]])
    """
    d = _check_along("gather", input, dim, index)
    if input._data.ndim == 0:
        return gather(input.reshape(1), 0, index.reshape(1)).reshape(())
    return apply(Gather(d), input, index)


@export(Scatter, ScatterAdd, methods=("scatter",))
def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """A copy of ``input`` with the values of ``src`` written at the positions ``index`` gives along ``dim``.

    For a 2-d input and dim 1: ``out[i][index[i][j]] = src[i][j]``; the inverse of ``gather``. Where index repeats a
    position, which write wins is unspecified (as in PyTorch).

    Args:
        input (Tensor): the tensor to copy.
        dim (int): the dimension to write along.
        index (Tensor): the positions (int64 or int32), of input's number of dimensions.
        src (Tensor or number, optional): the values (a tensor of input's dtype at least as large as index in
            every dimension), or one number for every position.
        value (number, optional): one number for every position, when src is not given.
        reduce (str, optional): ``'add'`` to add the values instead of writing them (as ``scatter_add``).
            Default: None.

    Returns:
        Tensor: a new tensor of input's shape and dtype.

    PyTorch:
        ``torch.scatter`` and ``Tensor.scatter``; same semantics, except that ``reduce='multiply'`` raises
        ``NotImplementedError`` (PyTorch deprecates ``reduce`` here for ``scatter_reduce``).

    Example:
        >>> ember.scatter(ember.zeros(2, 3), 1, ember.tensor([[2], [0]]), ember.ones(2, 1))
        tensor([[0., 0., 1.],
                [1., 0., 0.]])
    """
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter(): expected a src tensor or a value")
    if isinstance(src, np.generic):
        src = src.item()
    if not isinstance(src, (Tensor,) + _NUMBERS):
        raise TypeError(f"scatter(): src must be a Tensor or a number, not {type(src).__name__}")
    if reduce is not None:
        if reduce != "add":
            raise NotImplementedError(f"scatter(): reduce={reduce!r} is not supported (only 'add')")
        if not isinstance(src, Tensor):
            src = Tensor._wrap(get_array_module(input._data).full(index._data.shape, src, dtype=input._data.dtype))
        return scatter_add(input, dim, index, src)
    d = _check_along("scatter", input, dim, index, src)
    if input._data.ndim == 0:
        s = src.reshape(1) if isinstance(src, Tensor) else src
        return scatter(input.reshape(1), 0, index.reshape(1), s).reshape(())
    return apply(Scatter(d), input, index, src)


@export(ScatterAdd, methods=("scatter_add",))
def scatter_add(input, dim, index, src):
    """A copy of ``input`` with the values of ``src`` added at the positions ``index`` gives along ``dim``.

    For a 2-d input and dim 1: ``out[i][index[i][j]] += src[i][j]``; positions that repeat add up.

    Args:
        input (Tensor): the tensor to copy.
        dim (int): the dimension to add along.
        index (Tensor): the positions (int64 or int32), of input's number of dimensions.
        src (Tensor): the values, of input's dtype and at least as large as index in every dimension.

    Returns:
        Tensor: a new tensor of input's shape and dtype.

    PyTorch:
        ``torch.scatter_add`` and ``Tensor.scatter_add``; same semantics.

    Example:
        >>> ember.scatter_add(ember.zeros(3), 0, ember.tensor([0, 0, 2]), ember.ones(3))
        tensor([2., 0., 1.])
    """
    check_tensor(src, "scatter_add", "src")
    d = _check_along("scatter_add", input, dim, index, src)
    if input._data.ndim == 0:
        return scatter_add(input.reshape(1), 0, index.reshape(1), src.reshape(1)).reshape(())
    return apply(ScatterAdd(d), input, index, src)


@export(Scatter, ScatterAdd, ember=False, methods=("scatter_",))
def scatter_(self, dim, index, src=None, value=None, *, reduce=None):
    """Write the values of ``src`` into the tensor at the positions ``index`` gives along ``dim``, in place.

    The in-place form of ``scatter``: for a 2-d tensor and dim 1, ``self[i][index[i][j]] = src[i][j]``.

    Args:
        dim (int): the dimension to write along.
        index (Tensor): the positions (int64 or int32), of the tensor's number of dimensions.
        src (Tensor or number, optional): the values, or one number for every position.
        value (number, optional): one number for every position, when src is not given.
        reduce (str, optional): ``'add'`` to add the values instead of writing them. Default: None.

    Returns:
        Tensor: self.

    PyTorch:
        ``Tensor.scatter_``; same semantics, except that ``reduce='multiply'`` raises ``NotImplementedError``.

    Example:
        >>> ember.zeros(2, 2).scatter_(0, ember.tensor([[1, 0]]), 7.0)
        tensor([[0., 7.],
                [7., 0.]])
    """
    return inplace(self, "scatter_", lambda s: scatter(s, dim, index, src, value, reduce=reduce))


@export(ScatterAdd, ember=False, methods=("scatter_add_",))
def scatter_add_(self, dim, index, src):
    """Add the values of ``src`` into the tensor at the positions ``index`` gives along ``dim``, in place.

    The in-place form of ``scatter_add``: positions that repeat add up.

    Args:
        dim (int): the dimension to add along.
        index (Tensor): the positions (int64 or int32), of the tensor's number of dimensions.
        src (Tensor): the values, of the tensor's dtype and at least as large as index in every dimension.

    Returns:
        Tensor: self.

    PyTorch:
        ``Tensor.scatter_add_``; same semantics.

    Example:
        >>> ember.zeros(3).scatter_add_(0, ember.tensor([0, 0, 2]), ember.ones(3))
        tensor([2., 0., 1.])
    """
    return inplace(self, "scatter_add_", lambda s: scatter_add(s, dim, index, src))


# --- index_select / index_add / take ----------------------------------------------------------------------------

@register
class IndexSelect(Node):
    """The entries of a at the positions index (flattened) along dim."""

    saves = (1,)

    def __init__(self, dim):
        self.dim = dim

    def infer(self, a, index):
        d = self.dim
        return TensorMeta(a.shape[:d] + (math.prod(index.shape),) + a.shape[d + 1:], a.dtype)

    def forward(self, xp, a, index):
        self.in_shape = a.shape
        return xp.take(a, index.reshape(-1), axis=self.dim)

    def backward(self, g):
        index = self.inputs[1]
        z = zeros(self.in_shape, dtype=g.dtype, device=g.device)
        return apply(IndexAdd(self.dim), z, index, g), None


@register
class IndexAdd(Node):
    """A copy of a with alpha * src added at the positions index along dim (repeats add up)."""

    saves = (1,)

    def __init__(self, dim, alpha=1):
        self.dim, self.alpha = dim, alpha

    def infer(self, a, index, src):
        return same_as(a)

    def forward(self, xp, a, index, src):
        out = a.copy()
        add_at(xp, out, (slice(None),) * self.dim + (index.reshape(-1),), src if self.alpha == 1 else
                src * self.alpha)
        return out

    def backward(self, g):
        index = self.inputs[1]
        na, _, ns = self.needs_input_grad
        gs = None
        if ns:
            gs = apply(IndexSelect(self.dim), g, index)
            if self.alpha != 1:
                gs = gs * self.alpha
        return (g if na else None), None, gs


def _check_vector_index(input, dim, index, op):
    check_tensor(input, op)
    d = wrap_dim(dim, input._data.ndim, op)
    _check_index_tensor(index, input, op)
    if index._data.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector (got shape {list(index.shape)})")
    check_range(index._data, input._data.shape[d] if input._data.ndim else 1, d, IndexError, op)
    return d


@export(IndexSelect, methods=("index_select",))
def index_select(input, dim, index):
    """The entries of ``input`` at the positions ``index`` along ``dim``, in the order of index.

    Args:
        input (Tensor): the source tensor.
        dim (int): the dimension to select along.
        index (Tensor): the positions, a 0-d or 1-d int64 or int32 tensor (repeats allowed).

    Returns:
        Tensor: a new tensor of input's shape with dimension ``dim`` of size ``index.numel()``.

    PyTorch:
        ``torch.index_select`` and ``Tensor.index_select``; same semantics.

    Example:
        >>> x = ember.tensor([[0, 1, 2], [3, 4, 5]])
        >>> ember.index_select(x, 1, ember.tensor([2, 0]))
        tensor([[2, 0],
                [5, 3]])
    """
    d = _check_vector_index(input, dim, index, "index_select")
    if input._data.ndim == 0:
        return index_select(input.reshape(1), 0, index).reshape(())
    return apply(IndexSelect(d), input, index)


@export(IndexAdd, methods=("index_add",))
def index_add(input, dim, index, source, *, alpha=1):
    """A copy of ``input`` with ``alpha * source`` added at the positions ``index`` along ``dim``.

    Slice i of source along dim is added to slice ``index[i]`` of input; positions that repeat add up.

    Args:
        input (Tensor): the tensor to copy.
        dim (int): the dimension to add along.
        index (Tensor): the positions, a 1-d int64 or int32 tensor.
        source (Tensor): the values, of input's dtype and shape except ``index.numel()`` along dim.
        alpha (number): the multiplier of source. Default: 1.

    Returns:
        Tensor: a new tensor of input's shape and dtype.

    PyTorch:
        ``torch.index_add`` and ``Tensor.index_add``; same semantics.

    Example:
        >>> ember.index_add(ember.zeros(3), 0, ember.tensor([0, 0, 2]), ember.ones(3), alpha=2)
        tensor([4., 0., 2.])
    """
    d = _check_vector_index(input, dim, index, "index_add")
    check_tensor(source, "index_add", "source")
    if input._data.ndim == 0:
        return index_add(input.reshape(1), 0, index, source.reshape(-1), alpha=alpha).reshape(())
    shape, sshape = input._data.shape, source._data.shape
    want = tuple(index._data.size if i == d else s for i, s in enumerate(shape))
    if tuple(sshape) != want:
        raise RuntimeError(f"index_add(): source of shape {list(sshape)} does not match the input {list(shape)} "
                           f"with dimension {d} of size {index._data.size} (the number of indices)")
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"index_add(): self ({input.dtype}) and source ({source.dtype}) must have the same "
                           "scalar type")
    return apply(IndexAdd(d, alpha), input, index, source)


@export(IndexAdd, ember=False, methods=("index_add_",))
def index_add_(self, dim, index, source, *, alpha=1):
    """Add ``alpha * source`` into the tensor at the positions ``index`` along ``dim``, in place.

    The in-place form of ``index_add``: slice i of source along dim is added to slice ``index[i]``; repeats add up.

    Args:
        dim (int): the dimension to add along.
        index (Tensor): the positions, a 1-d int64 or int32 tensor.
        source (Tensor): the values, of the tensor's dtype and shape except ``index.numel()`` along dim.
        alpha (number): the multiplier of source. Default: 1.

    Returns:
        Tensor: self.

    PyTorch:
        ``Tensor.index_add_``; same semantics.

    Example:
        >>> x = ember.zeros(2, 2)
        >>> x.index_add_(1, ember.tensor([1]), ember.ones(2, 1))
        tensor([[0., 1.],
                [0., 1.]])
    """
    return inplace(self, "index_add_", lambda s: index_add(s, dim, index, source, alpha=alpha))


@export(AdvancedIndex, methods=("take",))
def take(input, index):
    """The elements of ``input``, viewed as 1-d, at the positions ``index``.

    Args:
        input (Tensor): the source tensor (read in row-major order).
        index (Tensor): the positions in the flattened input (int64 or int32, any shape; negative counts from the
            end).

    Returns:
        Tensor: a new tensor of index's shape and input's dtype.

    PyTorch:
        ``torch.take`` and ``Tensor.take``; same semantics (ember also accepts int32 indices, which PyTorch refuses).

    Example:
        >>> ember.take(ember.tensor([[1, 2], [3, 4]]), ember.tensor([0, 3, -1]))
        tensor([1, 4, 4])
    """
    _check_index_tensor(index, input, "take")
    n = input._data.size
    if index._data.size:
        lo, hi = int(index._data.min()), int(index._data.max())
        if hi >= n or lo < -n:
            raise IndexError(f"take(): index {hi if hi >= n else lo} is out of bounds for a tensor of {n} elements")
    return apply(AdvancedIndex((index._data, Ellipsis), 2), input.reshape(-1))


# --- masks ------------------------------------------------------------------------------------------------------

def _check_mask(mask, op):
    check_tensor(mask, op, "mask")
    if mask._data.dtype != np.bool_:
        raise RuntimeError(f"{op}: only supports boolean masks, but got mask with dtype {mask.dtype}")


def _broadcast_shape(input, mask, op):
    try:
        return np.broadcast_shapes(input._data.shape, mask._data.shape)
    except ValueError:
        raise RuntimeError(f"{op}: the mask of shape {list(mask.shape)} is not broadcastable with the input of "
                           f"shape {list(input.shape)}") from None


@register
class MaskedFill(Node):
    """where(mask, value, a) with value (a number or a 0-d array) cast to a's dtype."""

    saves = (1,)

    def infer(self, a, mask, v):
        return TensorMeta(tuple(np.broadcast_shapes(a.shape, mask.shape)), a.dtype)

    def forward(self, xp, a, mask, v):
        self.a_shape, self.v_dtype = a.shape, getattr(v, "dtype", None)
        return xp.where(mask, xp.asarray(v, dtype=a.dtype), a)

    def backward(self, g):
        mask = self.inputs[1]
        na, _, nv = self.needs_input_grad
        ga = gv = None
        if na:
            ga = sum_to(apply(MaskedFill(), g, mask, 0), self.a_shape)
        if nv:
            gv = apply(MaskedFill(), g, logical_not(mask), 0).sum()
            if gv._data.dtype != self.v_dtype:
                gv = to_copy(gv, dtype=_dt.from_numpy_dtype(self.v_dtype))
        return ga, None, gv


@export(MaskedFill, methods=("masked_fill",))
def masked_fill(input, mask, value):
    """A copy of ``input`` with ``value`` where ``mask`` is True.

    Args:
        input (Tensor): the tensor.
        mask (Tensor): a bool tensor, broadcast with input.
        value (number or Tensor): the fill value (a 0-d tensor receives a gradient), cast to input's dtype.

    Returns:
        Tensor: a new tensor of the broadcast shape and input's dtype.

    PyTorch:
        ``torch.masked_fill`` and ``Tensor.masked_fill``; same semantics.

    Example:
        >>> ember.masked_fill(ember.zeros(2, 2), ember.tensor([True, False]), 1.5)
        tensor([[1.5000, 0.0000],
                [1.5000, 0.0000]])
    """
    _check_mask(mask, "masked_fill")
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(f"masked_fill: only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value._data.ndim} dimension(s)")
    elif isinstance(value, np.generic):
        value = value.item()
    elif not isinstance(value, _NUMBERS):
        raise TypeError(f"masked_fill(): value must be a number or a 0-d tensor, not {type(value).__name__}")
    _broadcast_shape(input, mask, "masked_fill")
    return apply(MaskedFill(), input, mask, value)


@export(MaskedFill, ember=False, methods=("masked_fill_",))
def masked_fill_(self, mask, value):
    """Set the elements of the tensor where ``mask`` is True to ``value``, in place.

    Args:
        mask (Tensor): a bool tensor that broadcasts to the tensor's shape.
        value (number or Tensor): the fill value (a number or a 0-d tensor), cast to the tensor's dtype.

    Returns:
        Tensor: self.

    PyTorch:
        ``Tensor.masked_fill_``; same semantics.

    Example:
        >>> x = ember.tensor([1.0, -2.0, 3.0])
        >>> x.masked_fill_(x < 0, 0.0)
        tensor([1., 0., 3.])
    """
    return inplace(self, "masked_fill_", lambda s: masked_fill(s, mask, value))


@export(AdvancedIndex, methods=("masked_select",))
def masked_select(input, mask):
    """The elements of ``input`` where ``mask`` is True, as a 1-d tensor (in row-major order).

    Args:
        input (Tensor): the tensor.
        mask (Tensor): a bool tensor, broadcast with input.

    Returns:
        Tensor: a new 1-d tensor of input's dtype; its length depends on the mask's values.

    PyTorch:
        ``torch.masked_select`` and ``Tensor.masked_select``; same semantics.

    Example:
        >>> x = ember.tensor([[1, 2], [3, 4]])
        >>> ember.masked_select(x, x > 2)
        tensor([3, 4])
    """
    _check_mask(mask, "masked_select")
    shape = _broadcast_shape(input, mask, "masked_select")
    m = mask._data
    if m.shape != shape:
        m = get_array_module(m).broadcast_to(m, shape)
    return apply(AdvancedIndex((m,), 1), broadcast_to(input, shape))


@register
class Nonzero(Node):
    """The indices of the nonzero entries of a, one row per entry: shape (count, a.ndim), where the count depends
    on the data (None in the shape rule)."""

    differentiable = False

    def infer(self, a):
        return TensorMeta((None, a.ndim), np.dtype(np.int64))

    def forward(self, xp, a):
        return xp.argwhere(a)


@export(Nonzero, Select, methods=("nonzero",))
def nonzero(input, *, as_tuple=False):
    """The indices of the nonzero elements of ``input``.

    Args:
        input (Tensor): the tensor.
        as_tuple (bool): return one 1-d tensor of indices per dimension (ready for indexing:
            ``x[x.nonzero(as_tuple=True)]``) instead of one tensor of rows. Default: False.

    Returns:
        Tensor or tuple of Tensor: an int64 tensor of shape (count, input.dim()), one row per nonzero element in
        row-major order; or, with ``as_tuple``, a tuple of input.dim() int64 tensors of length count (one for a 0-d
        input).

    PyTorch:
        ``torch.nonzero`` and ``Tensor.nonzero``; same semantics.

    Example:
        >>> ember.nonzero(ember.tensor([[1, 0], [0, 3]]))
        tensor([[0, 0],
                [1, 1]])
        >>> ember.tensor([0, 2, 3]).nonzero(as_tuple=True)
        (tensor([1, 2]),)
    """
    if not as_tuple:
        return apply(Nonzero(), input)
    idx = apply(Nonzero(), input if input._data.ndim else input.reshape(1))
    return tuple(unbind(idx, 1))


@export(Nonzero, methods=("argwhere",))
def argwhere(input):
    """The indices of the nonzero elements of ``input``, one row per element (``nonzero(input)``).

    Args:
        input (Tensor): the tensor.

    Returns:
        Tensor: an int64 tensor of shape (count, input.dim()).

    PyTorch:
        ``torch.argwhere`` and ``Tensor.argwhere``; same semantics.

    Example:
        >>> ember.argwhere(ember.tensor([0, 2, 3]))
        tensor([[1],
                [2]])
    """
    return apply(Nonzero(), input)

