"""Sparse COO tensors: sparse_coo_tensor, to_dense/to_sparse, coalesce, indices/values, dtype conversion (every
cast of a sparse tensor: Tensor.to, float(), type promotion, which ops/copy.py's to_copy sends here), and the
sparse-dense products (torch.sparse.mm, torch.spmm, and mm/matmul/@ with a sparse operand, which ops/linalg.py sends
here).

A sparse tensor is a Tensor whose ``_data`` is a ``SparseCOO`` (ember/_sparse.py). Its gradient, like PyTorch's, is
a sparse tensor on its coalesced pattern (``to_dense``, ``sparse.mm``, ``sparse.sum``) or a dense tensor
(``mm``/``matmul``/``spmm``, as PyTorch's), and flows on to the values it was built from (``SparseValuesAt``, the
adjoint of building). Every backward is written with these ops, so second derivatives work.

The ops cover 2-D sparse matrices with scalar values in products and ``sparse.sum``; building, printing, converting
and coalescing take any number of sparse dimensions and dense (hybrid) dimensions. Sparse tensors live on the CPU.
"""
import numpy as np

from .. import _tracing, dtypes as _dt
from .._sparse import SparseCOO, sparse_coo
from ..autograd import Node
from ..autograd.graph import apply
from ..device import CPU, to_device
from ..tensor import Tensor, tensor
from ._broadcast import broadcast_to
from ._checks import check_tensor, same_device
from .meta import TensorMeta, same_as, with_dtype
from .registry import export, register
from .shape import squeeze, t, unsqueeze


def _is_sparse(x):
    return x._data.__class__ is SparseCOO


def _stand_in(data):
    """A read-only array with a sparse result's shape and dtype and no memory of its own (see _run)."""
    return np.broadcast_to(np.zeros((), data.dtype), data.shape)


def run_sparse(node, *args):
    """apply(node, *args) for a sparse op. apply wraps arrays only, so an op whose result is sparse returns a
    stand-in array with the result's shape and dtype from its forward (what the autograd graph and a tracer see)
    and leaves its SparseCOO on the node, which becomes the result's data here. A graph being traced breaks: it
    does not hold sparse tensors."""
    if _tracing.active[0]:
        _tracing.untraceable("a sparse tensor op (graphs do not hold sparse tensors)")
    out = apply(node, *args)
    result = node.__dict__.pop("result", None)
    if result is not None:
        out._data = result
    return out


class _SparseResult(Node):
    """Base of the ops whose result is sparse: forward computes it with ``sparse(xp, ...)`` (see _run)."""

    def forward(self, xp, *args):
        self.result = self.sparse(xp, *args)
        return _stand_in(self.result)


def _index_tensor(indices):
    return Tensor._wrap(indices)


def _build(indices, values, shape, coalesced):
    """The sparse tensor with these index columns (a tensor) and values (a differentiable tensor)."""
    return run_sparse(SparseCooTensor(shape, coalesced), indices, values)


def _values_at(x, indices):
    """x's values (x sparse or dense) at the index columns of indices (a tensor): shape (nnz, *dense dims)."""
    return apply(SparseValuesAt(), x, indices)


# --- building and taking apart -------------------------------------------------------------------------------

@register
class SparseCooTensor(_SparseResult):
    """The sparse tensor of shape ``shape`` with index columns ``indices`` (checked beforehand) and ``values``;
    ``coalesced`` when the caller knows the indices are sorted and unique."""

    saves = (0,)

    def __init__(self, shape, coalesced=False):
        self.shape, self.coalesced = tuple(shape), coalesced

    def infer(self, indices, values):
        return TensorMeta(self.shape, values.dtype)

    def sparse(self, xp, indices, values):
        return SparseCOO(indices, values, self.shape, self.coalesced)

    def backward(self, g):
        return None, _values_at(g, self.inputs[0])


@register
class SparseValuesAt(Node):
    """The values of x (sparse or dense) at the index columns of ``indices``, zero where a sparse x has none: the
    gradient of the values a sparse tensor is built from. Its own gradient builds a sparse tensor (dense for a
    dense x)."""

    saves = (1,)

    def infer(self, x, indices):
        return TensorMeta((indices.shape[1],) + tuple(x.shape[indices.shape[0]:]), x.dtype)

    def forward(self, xp, x, indices):
        self.shape, self.dense_input = x.shape, x.__class__ is not SparseCOO
        return x[tuple(indices)] if self.dense_input else x.values_at(indices)

    def backward(self, h):
        g = _build(self.inputs[1], h, self.shape, False)
        return (apply(ToDense(), g) if self.dense_input else g), None


@register
class ToDense(Node):
    """A sparse tensor as a dense one. Its gradient is sparse, on the input's coalesced pattern (as PyTorch's)."""

    def infer(self, s):
        return same_as(s)

    def forward(self, xp, s):
        return s.to_dense()

    def backward(self, g):
        s = self.inputs[0]._data
        pattern = _index_tensor(s.coalesce().indices)
        return (_build(pattern, _values_at(g, pattern), s.shape, True),)


@register
class ToSparse(_SparseResult):
    """A dense tensor as a coalesced sparse one holding its nonzeros; the first ``sparse_dim`` dimensions are
    sparse, the others stay dense in the values (an entry wherever a value slice has a nonzero)."""

    saves = ()

    def __init__(self, sparse_dim):
        self.sparse_dim = sparse_dim

    def infer(self, x):
        return same_as(x)

    def sparse(self, xp, x):
        d = self.sparse_dim
        nonzero = x != 0
        if x.ndim > d:
            nonzero = nonzero.any(axis=tuple(range(d, x.ndim)))
        indices = np.array(np.nonzero(nonzero), dtype=np.int64).reshape(d, -1)
        return SparseCOO(indices, x[tuple(indices)].copy(), x.shape, True)

    def backward(self, g):
        return apply(ToDense(), g) if _is_sparse(g) else g


@register
class Coalesce(_SparseResult):
    """The same sparse tensor with its entries sorted and duplicates summed: the same dense value, so the
    gradient passes through."""

    saves = ()

    def infer(self, s):
        return same_as(s)

    def sparse(self, xp, s):
        return s.coalesce()

    def backward(self, g):
        return g


@register
class Values(Node):
    """The values of a sparse tensor (a view, shape (nnz, *dense dims)); their gradient is the sparse tensor with
    the input's indices and those values."""

    is_view = True

    def __init__(self, sparse_dim):
        self.sparse_dim = sparse_dim

    def infer(self, s):
        return TensorMeta((None,) + tuple(s.shape[self.sparse_dim:]), s.dtype)

    def forward(self, xp, s):
        return s.values

    def backward(self, h):
        s = self.inputs[0]._data
        return (_build(_index_tensor(s.indices), h, s.shape, s.coalesced),)


@register
class SparseToCopy(_SparseResult):
    """A copy of a sparse tensor with its values converted to ``dtype`` (an ember dtype; None: the same dtype), the
    same indices and coalesced flag. Differentiable only into a floating-point dtype; the gradient (sparse or
    dense) passes through, and the engine casts it back to the source dtype, as for a dense tensor's ToCopy."""

    saves = ()

    def __init__(self, dtype=None):
        self.dtype = dtype
        if dtype is not None and not dtype.is_floating_point:
            self.differentiable = False

    def infer(self, s):
        return same_as(s) if self.dtype is None else with_dtype(s, self.dtype.np)

    def sparse(self, xp, s):
        values = s.values.astype(s.dtype if self.dtype is None else self.dtype.np)  # always a copy
        return SparseCOO(s.indices.copy(), values, s.shape, s.coalesced)

    def backward(self, g):
        return (g,)


# --- products --------------------------------------------------------------------------------------------------

def _segment_sum(rows, contributions, m):
    """out[r] = the sum of contributions[k] over the k with rows[k] == r, for r < m, where rows is sorted."""
    out = np.zeros((m,) + contributions.shape[1:], contributions.dtype)
    if rows.size:
        starts = np.flatnonzero(np.concatenate(([True], rows[1:] != rows[:-1])))
        out[rows[starts]] = np.add.reduceat(contributions, starts, axis=0)
    return out


@register
class SparseMM(Node):
    """op(S) @ X for a 2-D sparse S with scalar values and a dense matrix X, op transposing S when ``transposed``.
    S's gradient is dense (torch.mm's) or, with ``sparse_grad``, sparse on S's coalesced pattern
    (torch.sparse.mm's)."""

    def __init__(self, transposed=False, sparse_grad=False):
        self.transposed, self.sparse_grad = transposed, sparse_grad

    def infer(self, s, x):
        return TensorMeta((s.shape[1 if self.transposed else 0], x.shape[1]), x.dtype)

    def forward(self, xp, s, x):
        rows, cols = s.indices[::-1] if self.transposed else s.indices
        values, order = s.values, s.row_order(self.transposed)
        if order is not None:
            rows, cols, values = rows[order], cols[order], values[order]
        return _segment_sum(rows, values[:, None] * x[cols], s.shape[1 if self.transposed else 0])

    def backward(self, g):
        s, x = self.inputs
        need_s, need_x = self.needs_input_grad
        gx = apply(SparseMM(not self.transposed, self.sparse_grad), s, g) if need_x else None
        gs = None
        if need_s:
            if self.sparse_grad:
                data = s._data
                gs = run_sparse(SampledMM(data.coalesce().indices, data.shape, self.transposed), g, x)
            else:  # the dense gradient of op(S): g @ X^T, transposed back for op(S) = S^T
                gs = x.mm(t(g)) if self.transposed else g.mm(t(x))
        return gs, gx


@register
class SampledMM(_SparseResult):
    """The gradient of S in op(S) @ X on S's pattern: the sparse tensor whose value at each index (r, c) of
    ``pattern`` (sorted and unique) is g[r] . X[c] (g[c] . X[r] when ``transposed``)."""

    def __init__(self, pattern, shape, transposed):
        self.pattern, self.shape, self.transposed = pattern, tuple(shape), transposed

    def infer(self, g, x):
        return TensorMeta(self.shape, g.dtype)

    def sparse(self, xp, g, x):
        rows, cols = self.pattern[::-1] if self.transposed else self.pattern
        values = np.einsum("ij,ij->i", g[rows], x[cols])
        return SparseCOO(self.pattern, values.astype(g.dtype, copy=False), self.shape, True)

    def backward(self, h):
        g, x = self.inputs
        pattern = _index_tensor(self.pattern)
        h = _build(pattern, _values_at(h, pattern), self.shape, True)  # only the pattern's entries count
        need_g, need_x = self.needs_input_grad
        return (apply(SparseMM(self.transposed), h, x) if need_g else None,
                apply(SparseMM(not self.transposed), h, g) if need_x else None)


@register
class SparseSum(Node):
    """The sum of all the elements of a sparse tensor (a 0-d dense tensor); its gradient is sparse, on the
    input's coalesced pattern."""

    def infer(self, s):
        return TensorMeta((), s.dtype)

    def forward(self, xp, s):
        return np.asarray(s.values.sum(dtype=s.dtype))

    def backward(self, g):
        s = self.inputs[0]._data
        pattern = s.coalesce().indices
        values = broadcast_to(g, (pattern.shape[1],) + s.shape[s.sparse_dim:])
        return (_build(_index_tensor(pattern), values, s.shape, True),)


# --- public functions ------------------------------------------------------------------------------------------

def _int_array(x, op):
    arr = np.asarray(x.detach().numpy() if isinstance(x, Tensor) else x)
    if arr.dtype.kind not in "iub":
        if arr.dtype.kind != "f" or not np.all(arr == np.round(arr)):
            raise RuntimeError(f"{op}: indices must be an integer tensor, got {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _sparse_layout_check(layout, op):
    if layout is not None and layout is not sparse_coo:
        raise NotImplementedError(f"{op}: layout {layout!r} is not supported (ember's sparse layout is "
                                  "ember.sparse_coo)")


@export(SparseCooTensor, ember=True)
def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None, requires_grad=False,
                      check_invariants=None, is_coalesced=None):
    """Return a sparse COO tensor with the given index columns and values.

    Entry ``k`` holds ``values[k]`` at position ``indices[:, k]`` of the sparse dimensions; the values may have dense
    dimensions of their own after nnz. Duplicate indices are allowed (``coalesce()`` sums them). The gradient of the
    result reaches ``values`` when it requires grad. Sparse tensors live on the CPU.

    Args:
        indices (Tensor or array_like): integer index columns, shape (sparse_dim, nnz).
        values (Tensor or array_like): the values, shape (nnz, *dense dims).
        size (tuple of ints, optional): the dense shape; each sparse size is the largest index + 1 when None.
            Default: None.
        dtype (ember.dtype, optional): the element type; the values' when None. Default: None.
        device (ember.device or str, optional): only the CPU (None) is supported. Default: None.
        requires_grad (bool): whether autograd records operations on the result. Default: False.
        check_invariants (bool, optional): accepted for PyTorch's programs; ember always checks that the indices
            are within ``size``. Default: None.
        is_coalesced (bool, optional): True asserts that the indices are already sorted and unique. Default: None.

    Returns:
        Tensor: a sparse tensor (layout ``ember.sparse_coo``) of shape ``size``.

    PyTorch:
        ``torch.sparse_coo_tensor``; same semantics, except that indices out of ``size`` always raise (PyTorch
        checks them only with ``check_invariants=True``) and that the tensor cannot be put on a GPU.

    Example:
        >>> s = ember.sparse_coo_tensor([[0, 1, 1], [2, 0, 0]], [1.0, 2.0, 3.0], (2, 3))
        >>> s.to_dense()
        tensor([[0., 0., 1.],
                [5., 0., 0.]])
    """
    op = "sparse_coo_tensor"
    dev = to_device(device)
    if dev is not None and dev != CPU:
        raise NotImplementedError(f"{op}: sparse tensors live on the CPU in ember (got device {dev})")
    idx = _int_array(indices, op)
    if not isinstance(values, Tensor):
        values = tensor(values, dtype=dtype)
    elif dtype is not None and _dt.to_dtype(dtype) is not values.dtype:
        values = values.to(_dt.to_dtype(dtype))
    if values.device != CPU:
        raise NotImplementedError(f"{op}: sparse tensors live on the CPU in ember (values are on {values.device})")
    if idx.ndim != 2 or idx.shape[0] == 0:
        raise RuntimeError(f"{op}: indices must be a 2-D tensor of shape (sparse_dim, nnz) with sparse_dim >= 1, "
                           f"got shape {tuple(idx.shape)}")
    vshape = tuple(values.shape)
    if not vshape or vshape[0] != idx.shape[1]:
        raise RuntimeError(f"{op}: indices and values must have same nnz, but got nnz from indices: {idx.shape[1]}, "
                           f"nnz from values: {vshape[0] if vshape else 'none (values are 0-d)'}")
    sparse_dim, dense_shape = idx.shape[0], vshape[1:]
    if size is None:
        shape = tuple(int(m) + 1 for m in idx.max(axis=1)) if idx.shape[1] else (0,) * sparse_dim
        shape += dense_shape
    else:
        shape = tuple(int(s) for s in size)
        if len(shape) != sparse_dim + len(dense_shape):
            raise RuntimeError(f"{op}: size {shape} must have sparse_dim + dense_dim = {sparse_dim} + "
                               f"{len(dense_shape)} dimensions (indices of shape {tuple(idx.shape)}, values of "
                               f"shape {vshape})")
        if shape[sparse_dim:] != dense_shape:
            raise RuntimeError(f"{op}: the dense sizes {shape[sparse_dim:]} of size {shape} must be the values' "
                               f"sizes {dense_shape} after nnz")
    if idx.size:
        low, high = idx.min(axis=1), idx.max(axis=1)
        for d in range(sparse_dim):
            if low[d] < 0 or high[d] >= shape[d]:
                bad = low[d] if low[d] < 0 else high[d]
                raise RuntimeError(f"{op}: index {bad} is out of bounds for dimension {d} with size {shape[d]} "
                                   f"(size {shape})")
    out = _build(_index_tensor(idx), values, shape, bool(is_coalesced))
    if requires_grad and not out.requires_grad:
        out.requires_grad_(True)
    return out


def _sparse_only(x, op):
    check_tensor(x, op, "self")
    if not _is_sparse(x):
        raise RuntimeError(f"{op}: expected a sparse tensor (layout ember.sparse_coo), got a dense (strided) "
                           f"tensor of shape {tuple(x.shape)}")
    return x._data


def sparse_to_copy(input, dtype=None, device=None):
    """to_copy of a sparse tensor (ops/copy.py's to_copy, behind every cast, sends it here): a sparse copy with its
    values converted to dtype (an ember dtype or None), differentiable into a floating-point dtype. Sparse tensors
    stay on the CPU."""
    if device is not None and device != CPU:
        raise NotImplementedError(f"to: sparse tensors live on the CPU in ember (cannot move a sparse tensor of "
                                  f"shape {tuple(input.shape)} to {device})")
    return run_sparse(SparseToCopy(dtype), input)


@export(ToDense, ember=False, methods=("to_dense",))
def to_dense(self, dtype=None, *, masked_grad=None):
    """Return the tensor as a dense (strided) one; a dense tensor is returned as it is.

    Differentiable: the gradient of a sparse input is sparse, on its coalesced pattern.

    Args:
        dtype (ember.dtype, optional): the element type of the result; self's when None. Default: None.
        masked_grad (bool, optional): accepted for PyTorch's programs; ignored. Default: None.

    Returns:
        Tensor: a dense tensor of self's shape.

    PyTorch:
        ``Tensor.to_dense``; same semantics, but ember also converts a sparse tensor to ``dtype`` (PyTorch raises
        "dtype argument is not supported by sparse_to_dense").

    Example:
        >>> ember.tensor([[0.0, 2.0], [3.0, 0.0]]).to_sparse().to_dense()
        tensor([[0., 2.],
                [3., 0.]])
    """
    out = run_sparse(ToDense(), self) if _is_sparse(self) else self
    return out if dtype is None else out.to(dtype)


@export(ToSparse, ember=False, methods=("to_sparse", "to_sparse_coo"))
def to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
    """Return the tensor as a coalesced sparse COO tensor of its nonzeros; a sparse tensor is returned as
    it is.

    The first ``sparse_dim`` dimensions are sparse and the rest are dense dimensions of the values. Differentiable.

    Args:
        sparse_dim (int, optional): how many leading dimensions are sparse (1 to ndim); all (less dense_dim) when
            None. Default: None.
        layout (ember.layout, optional): only ``ember.sparse_coo`` (or None) is supported. Default: None.
        blocksize (tuple of ints, optional): for PyTorch's block layouts, which ember does not have; must be None.
            Default: None.
        dense_dim (int, optional): how many trailing dimensions stay dense when sparse_dim is None. Default: None.

    Returns:
        Tensor: a sparse tensor (layout ``ember.sparse_coo``) of self's shape.

    PyTorch:
        ``Tensor.to_sparse`` (and ``Tensor.to_sparse_coo``); same semantics for the COO layout, but ember has no
        other layout (another ``layout`` or a ``blocksize`` raises NotImplementedError), a sparse tensor's
        sparse_dim cannot be changed, and the tensor must be on the CPU.

    Example:
        >>> s = ember.tensor([[0.0, 2.0], [3.0, 0.0]]).to_sparse()
        >>> s.indices(), s.values()
        (tensor([[0, 1],
                [1, 0]]), tensor([2., 3.]))
    """
    op = "to_sparse"
    _sparse_layout_check(layout, op)
    if blocksize is not None:
        raise NotImplementedError(f"{op}: blocksize is for the block layouts, which ember does not have")
    ndim = self.ndim
    if sparse_dim is None:
        sparse_dim = ndim - (dense_dim or 0)
    if not 1 <= sparse_dim <= ndim:
        raise RuntimeError(f"{op}: sparse_dim {sparse_dim} must be in [1, {ndim}] for a tensor of shape "
                           f"{tuple(self.shape)} (ember has no sparse tensors without sparse dimensions)")
    if _is_sparse(self):
        if sparse_dim != self._data.sparse_dim:
            raise NotImplementedError(f"{op}: changing the sparse_dim of a sparse tensor ({self._data.sparse_dim} "
                                      f"to {sparse_dim}) is not supported")
        return self
    if self.device != CPU:
        raise NotImplementedError(f"{op}: sparse tensors live on the CPU in ember (got a tensor on {self.device})")
    return run_sparse(ToSparse(sparse_dim), self)


@export(Coalesce, ember=False, methods=("coalesce",))
def coalesce(self):
    """Return the sparse tensor with its indices sorted and duplicate entries summed.

    Returns:
        Tensor: a coalesced sparse tensor (self when it already is); differentiable.

    PyTorch:
        ``Tensor.coalesce``; same semantics.

    Example:
        >>> s = ember.sparse_coo_tensor([[1, 0, 1]], [1.0, 2.0, 3.0])
        >>> s.coalesce().values()
        tensor([2., 4.])
    """
    data = _sparse_only(self, "coalesce")
    return self if data.coalesced else run_sparse(Coalesce(), self)


@export(ember=False, methods=("is_coalesced",))
def is_coalesced(self):
    """Return whether a sparse tensor's indices are sorted and unique.

    Returns:
        bool: True for a coalesced tensor (a dense tensor raises RuntimeError).

    PyTorch:
        ``Tensor.is_coalesced``; same semantics.

    Example:
        >>> s = ember.sparse_coo_tensor([[1, 0, 1]], [1.0, 2.0, 3.0])
        >>> s.is_coalesced(), s.coalesce().is_coalesced()
        (False, True)
    """
    return _sparse_only(self, "is_coalesced").coalesced


def _coalesced_only(x, op):
    data = _sparse_only(x, op)
    if not data.coalesced:
        raise RuntimeError(f"{op}: Cannot get {op} on an uncoalesced tensor, please call .coalesce() first")
    return data


@export(ember=False, methods=("indices",))
def indices(self):
    """Return the index columns of a coalesced sparse tensor.

    Returns:
        Tensor: int64 indices of shape (sparse_dim, nnz), not differentiable (an uncoalesced tensor raises).

    PyTorch:
        ``Tensor.indices``; same semantics.

    Example:
        >>> ember.tensor([0.0, 5.0, 0.0, 7.0]).to_sparse().indices()
        tensor([[1, 3]])
    """
    return _index_tensor(_coalesced_only(self, "indices").indices)


@export(ember=False, methods=("_indices",))
def _indices(self):
    """The index columns of a sparse tensor, coalesced or not."""
    return _index_tensor(_sparse_only(self, "_indices").indices)


@export(Values, ember=False, methods=("values",))
def values(self):
    """Return the values of a coalesced sparse tensor.

    Returns:
        Tensor: the values, shape (nnz, *dense dims): a view, differentiable (an uncoalesced tensor raises).

    PyTorch:
        ``Tensor.values``; same semantics.

    Example:
        >>> ember.tensor([0.0, 5.0, 0.0, 7.0]).to_sparse().values()
        tensor([5., 7.])
    """
    data = _coalesced_only(self, "values")
    return run_sparse(Values(data.sparse_dim), self)


@export(ember=False, methods=("_values",))
def _values(self):
    """The values of a sparse tensor, coalesced or not: a view outside autograd (PyTorch's _values())."""
    return Tensor._wrap(_sparse_only(self, "_values").values)


@export(ember=False, methods=("_nnz",))
def _nnz(self):
    """The number of stored entries of a sparse tensor (duplicates counted)."""
    return _sparse_only(self, "_nnz").nnz


@export(ember=False, methods=("sparse_dim",))
def sparse_dim(self):
    """Return the number of sparse dimensions of the tensor.

    Returns:
        int: the sparse dimensions of a sparse tensor; 0 for a dense tensor.

    PyTorch:
        ``Tensor.sparse_dim``; same semantics.

    Example:
        >>> ember.zeros(2, 3).to_sparse(1).sparse_dim()
        1
    """
    return self._data.sparse_dim if _is_sparse(self) else 0


@export(ember=False, methods=("dense_dim",))
def dense_dim(self):
    """Return the number of dense dimensions of the tensor.

    Returns:
        int: the dimensions of a sparse tensor's values after nnz; all the dimensions of a dense tensor.

    PyTorch:
        ``Tensor.dense_dim``; same semantics.

    Example:
        >>> ember.zeros(2, 3).to_sparse(1).dense_dim()
        1
    """
    return self._data.dense_dim if _is_sparse(self) else self.ndim


# --- products: sparse.mm, spmm, and mm/matmul/mv with a sparse operand ------------------------------------------

def _as_matrix(s, op):
    data = s._data
    if data.sparse_dim != 2 or data.dense_dim != 0:
        raise NotImplementedError(f"{op}: ember multiplies 2-D sparse matrices with scalar values only (got a sparse "
                                  f"tensor of shape {data.shape} with sparse_dim={data.sparse_dim}, "
                                  f"dense_dim={data.dense_dim})")
    return data


def sparse_product(op, a, b, sparse_grad=False):
    """a @ b where a or b is a sparse matrix and the other is dense (a matrix, or a vector for matmul and mv): a
    dense result. The sparse operand's gradient is sparse with sparse_grad (torch.sparse.mm), dense otherwise."""
    check_tensor(a, op, "input", 1)
    check_tensor(b, op, "mat2", 2)
    sa, sb = tuple(a.shape), tuple(b.shape)
    if _is_sparse(a) and _is_sparse(b):
        raise NotImplementedError(f"{op}: the product of two sparse tensors is not supported by ember (shapes {sa} "
                                  f"and {sb}); convert one with .to_dense()")
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"{op}: expected both operands to have the same dtype, but got {a.dtype.name} and "
                           f"{b.dtype.name} (shapes {sa} and {sb})")
    if a._data.dtype.kind == "b":
        raise NotImplementedError(f"{op}: not implemented for 'Bool' (shapes {sa} and {sb})")
    same_device(a, b, op)
    sparse, dense = (a, b) if _is_sparse(a) else (b, a)
    _as_matrix(sparse, op)
    if op == "mv":
        if sparse is b or dense.ndim != 1:
            raise RuntimeError(f"{op}: vector + matrix @ vector expected, got shapes {sa} and {sb}")
    elif dense.ndim != 2 and not (op == "matmul" and dense.ndim == 1):
        what = "a matrix or a vector" if op == "matmul" else "a matrix"
        why = " (batched products with a sparse tensor are not supported)" if dense.ndim > 2 else ""
        raise RuntimeError(f"{op}: the dense operand must be {what}{why}, but got shapes {sa} and {sb}")
    ka, kb = sa[-1], sb[0]
    if ka != kb:
        raise RuntimeError(f"{op}: shapes {sa} and {sb} cannot be multiplied ({ka} != {kb})")
    node = SparseMM(sparse is b, sparse_grad)
    if dense.ndim == 1:  # S @ v and v @ S: v as a column
        return squeeze(run_sparse(node, sparse, unsqueeze(dense, 1)), 1)
    if sparse is a:
        return run_sparse(node, a, b)
    return t(run_sparse(node, b, t(a)))  # X @ S = (S^T @ X^T)^T


@export(SparseMM, ember=True)
def spmm(input, mat2):
    """Multiply a sparse matrix by a dense one (or a dense matrix by a sparse one).

    The sparse operand's gradient is dense, as torch.mm's (``ember.sparse.mm`` gives a sparse one). Two dense
    matrices are multiplied as ``mm``.

    Args:
        input (Tensor): the left matrix, (n, m), sparse or dense.
        mat2 (Tensor): the right matrix, (m, p), sparse or dense (not both sparse).

    Returns:
        Tensor: the dense (n, p) product.

    Shape:
        - Input: (n, m) and (m, p); a sparse operand has 2 sparse and no dense dimensions.
        - Output: (n, p).

    PyTorch:
        ``torch.spmm``; same semantics (two sparse operands raise NotImplementedError).

    Example:
        >>> s = ember.tensor([[0.0, 2.0], [3.0, 0.0]]).to_sparse()
        >>> ember.spmm(s, ember.ones(2, 1))
        tensor([[2.],
                [3.]])
    """
    check_tensor(input, "spmm", "input", 1)
    check_tensor(mat2, "spmm", "mat2", 2)
    if not (_is_sparse(input) or _is_sparse(mat2)):
        return input.mm(mat2)
    return sparse_product("spmm", input, mat2)


@export(SparseMM, SampledMM, ember=False)
def sparse_mm(mat1, mat2):
    """torch.sparse.mm (ember.sparse.mm): mat1 @ mat2 where one is a sparse matrix and the other a dense one; the
    sparse operand's gradient is sparse, on its coalesced pattern. Two dense matrices are multiplied as mm."""
    check_tensor(mat1, "sparse.mm", "mat1", 1)
    check_tensor(mat2, "sparse.mm", "mat2", 2)
    if not (_is_sparse(mat1) or _is_sparse(mat2)):
        return mat1.mm(mat2)
    return sparse_product("sparse.mm", mat1, mat2, sparse_grad=True)


@export(SparseSum, ember=False)
def sparse_sum(input, dim=None, dtype=None):
    """torch.sparse.sum (ember.sparse.sum) of all the elements: a 0-d dense tensor; its gradient is sparse.
    Summing over some dimensions only (dim=) is not supported."""
    data = _sparse_only(input, "sparse.sum")
    if dim is not None:
        raise NotImplementedError(f"sparse.sum: summing over dim={dim} is not supported by ember (only the sum of "
                                  f"all elements); use input.to_dense().sum(dim)")
    if dtype is not None and _dt.to_dtype(dtype).np != data.dtype:
        raise NotImplementedError("sparse.sum: dtype= is not supported by ember (convert the values first)")
    return run_sparse(SparseSum(), input)
