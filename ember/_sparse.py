"""Sparse COO data: what a sparse tensor holds as its ``_data`` in place of an array, and tensor layouts.

A sparse tensor is an ordinary ``Tensor`` (autograd, printing, metadata) whose ``_data`` is a ``SparseCOO``:
``indices`` (int64, shape (sparse_dim, nnz)), ``values`` (shape (nnz, *dense dims)), the dense ``shape`` and whether
the entries are coalesced (sorted, no duplicate index). It answers what ember's core reads of any tensor's data
(``shape``, ``dtype``, ``ndim``, ``size``) and refuses everything else an array can do: an op that has no sparse
form and reaches the data (``np.exp(data)``, ``data.reshape``, ``data + 1``, ``np.asarray(data)``) raises a
NotImplementedError naming the ember function that was called, instead of computing on a wrong array. The ops that
understand sparse tensors are in ``ember/ops/sparse.py``.

The one arithmetic it allows is addition of a sparse and a same-shaped array or another sparse tensor: how the
autograd engine accumulates gradients (a sparse tensor may get a sparse gradient from one use and a dense one from
another, as in PyTorch).
"""
import os
import re
import sys

import numpy as np

__all__ = ["layout", "strided", "sparse_coo", "SparseCOO", "coalesce_arrays", "refuse"]


class layout:
    """How a tensor stores its elements: ``ember.strided`` (a dense array) or ``ember.sparse_coo``.

    Tensors report theirs as ``Tensor.layout``; compare it with ``is`` or ``==``. The two values are made once: use
    ``ember.strided`` and ``ember.sparse_coo`` rather than building new ones.

    Args:
        name (str): the layout's name ("strided" or "sparse_coo").

    PyTorch:
        ``torch.layout``; ember has ``strided`` and ``sparse_coo`` (not the CSR/CSC/BSR/BSC layouts or ``_mkldnn``).

    Example:
        >>> ember.zeros(2).layout
        ember.strided
        >>> ember.zeros(2).to_sparse().layout is ember.sparse_coo
        True
    """

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"ember.{self.name}"

    def __reduce__(self):
        return self.name  # pickles as the module-level object of that name, as the dtypes do


strided = layout("strided")
sparse_coo = layout("sparse_coo")

_EMBER_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


# Names of factory-made and dispatching functions, which say nothing of the op (unary.py's ``op``, Module.__call__)
_GENERIC = {"op", "method", "fn", "wrapper", "forward", "call_impl", "__call__", "<lambda>", "apply"}


def _snake(name):
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()  # LogSoftmax: log_softmax


def _op_name():
    """The name of the op that reached a sparse tensor's data: the ember function the user called (the outermost
    of the ember frames on top of the stack); when that is a factory-made or dispatching function, the registered
    op whose forward is running (its name in snake case) or else the outermost ember function with a telling
    name. None outside ember."""
    frame, names, node = sys._getframe(1), [], None
    while frame is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_EMBER_DIR):
        name = frame.f_code.co_name
        names.append(name[1:] if name.startswith("_") and not name.startswith("__") else name)  # _rmatmul
        owner = frame.f_locals.get("self") if name == "forward" else None
        if node is None and hasattr(type(owner), "needs_input_grad"):  # a Node's forward
            node = _snake(type(owner).__name__)
        frame = frame.f_back
    if names and names[-1] in _GENERIC and node is not None:
        return node
    return next((n for n in reversed(names) if n not in _GENERIC), None)


def refuse(what):
    """Raise the error of an operation that has no sparse form; it names the op (see _op_name), or what the data
    was asked for (e.g. ``reshape``) when no ember function is on the stack."""
    op = _op_name() or what
    raise NotImplementedError(f"{op}: not supported for sparse tensors (layout=ember.sparse_coo); convert with "
                              ".to_dense() first")


def _linear(indices, sparse_shape):
    """Row-major positions of the index columns in the sparse dimensions (int64)."""
    if indices.shape[0] == 0:
        return np.zeros(indices.shape[1], np.int64)
    return np.ravel_multi_index(tuple(indices), sparse_shape).astype(np.int64, copy=False)


def coalesce_arrays(indices, values, sparse_shape):
    """(indices, values) sorted in row-major order with duplicate indices summed."""
    keys = _linear(indices, sparse_shape)
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1]))) if keys.size else keys
    values = values[order]
    if keys.size and starts.size != keys.size:
        values = np.add.reduceat(values, starts, axis=0).astype(values.dtype, copy=False)
    return np.ascontiguousarray(indices[:, order[starts]]), values


class _Flags:
    """What the engine reads of ``data.flags``: not writeable, so that it sums a sparse gradient into a new
    tensor rather than in place."""

    writeable = False

    def __getattr__(self, name):
        refuse(f"flags.{name}")


_FLAGS = _Flags()


class SparseCOO:
    """A sparse COO tensor's data (see the module docstring). Built by the sparse ops, which validate first."""

    __slots__ = ("indices", "values", "shape", "coalesced", "_orders")
    base = None
    flags = _FLAGS

    def __init__(self, indices, values, shape, coalesced=False):
        self.indices, self.values, self.shape = indices, values, tuple(shape)
        self.coalesced = bool(coalesced) or indices.shape[1] < 2
        self._orders = {}  # see row_order

    # --- what every tensor's data answers ---------------------------------------------------------------------
    @property
    def dtype(self):
        return self.values.dtype

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        """The number of elements of the dense tensor (numel, as PyTorch counts a sparse tensor)."""
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def itemsize(self):
        return self.values.itemsize

    # --- sparse structure -------------------------------------------------------------------------------------
    @property
    def sparse_dim(self):
        return self.indices.shape[0]

    @property
    def dense_dim(self):
        return self.values.ndim - 1

    @property
    def nnz(self):
        return self.indices.shape[1]

    def copy(self):
        return SparseCOO(self.indices.copy(), self.values.copy(), self.shape, self.coalesced)

    def coalesce(self):
        """This data with its entries sorted and duplicates summed (itself when already coalesced)."""
        if self.coalesced:
            return self
        indices, values = coalesce_arrays(self.indices, self.values, self.shape[:self.sparse_dim])
        return SparseCOO(indices, values, self.shape, True)

    def row_order(self, transposed=False):
        """The permutation that sorts a 2-D tensor's entries by row (by column when transposed), None when they
        already are (a coalesced tensor's rows); computed once per direction, as the indices never change."""
        if transposed not in self._orders:
            rows = self.indices[1 if transposed else 0]
            self._orders[transposed] = np.argsort(rows, kind="stable") if np.any(rows[1:] < rows[:-1]) else None
        return self._orders[transposed]

    def to_dense(self):
        c = self.coalesce()
        sparse_shape = self.shape[:self.sparse_dim]
        out = np.zeros((int(np.prod(sparse_shape, dtype=np.int64)),) + self.shape[self.sparse_dim:], self.dtype)
        out[_linear(c.indices, sparse_shape)] = c.values
        return out.reshape(self.shape)

    def values_at(self, indices):
        """The values at the given index columns (zero where this tensor has no entry), shape (n, *dense dims)."""
        c = self.coalesce()
        sparse_shape = self.shape[:self.sparse_dim]
        keys, wanted = _linear(c.indices, sparse_shape), _linear(indices, sparse_shape)
        pos = np.minimum(np.searchsorted(keys, wanted), max(keys.size - 1, 0))
        found = keys[pos] == wanted if keys.size else np.zeros(wanted.shape, bool)
        out = np.zeros((wanted.size,) + self.shape[self.sparse_dim:], self.dtype)
        out[found] = c.values[pos[found]]
        return out

    def add_into(self, dense):
        """dense += this tensor, in place (dense: an array of this shape and dtype); returns dense."""
        sparse_shape = self.shape[:self.sparse_dim]
        flat = dense.reshape((int(np.prod(sparse_shape, dtype=np.int64)),) + self.shape[self.sparse_dim:])
        np.add.at(flat, _linear(self.indices, sparse_shape), self.values)
        return dense

    # --- addition: the engine's gradient accumulation --------------------------------------------------------
    def _check_add(self, other):
        if tuple(other.shape) != self.shape or other.dtype != self.dtype:
            refuse("add")

    def __add__(self, other):
        if other.__class__ is SparseCOO:
            self._check_add(other)
            if other.sparse_dim != self.sparse_dim:
                refuse("add")
            total = SparseCOO(np.concatenate((self.indices, other.indices), axis=1),
                              np.concatenate((self.values, other.values)), self.shape)
            return total.coalesce() if self.coalesced and other.coalesced else total  # as PyTorch's sum
        if other.__class__ is np.ndarray:
            self._check_add(other)
            return self.add_into(other.copy())
        return refuse("add")

    __radd__ = __add__

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        # dense + sparse (and dense += sparse) is a dense sum; every other ufunc has no sparse form here
        if ufunc is np.add and method == "__call__" and len(inputs) == 2 and not kwargs and inputs[1] is self \
                and inputs[0].__class__ is np.ndarray and (out is None or (len(out) == 1 and out[0] is inputs[0])):
            self._check_add(inputs[0])
            return self.add_into(inputs[0] if out else inputs[0].copy())
        return refuse(ufunc.__name__)

    def __array_function__(self, func, types, args, kwargs):
        return refuse(func.__name__)

    def __array__(self, dtype=None, copy=None):
        return refuse("__array__")

    __hash__ = object.__hash__

    def __repr__(self):
        return f"SparseCOO(shape={self.shape}, nnz={self.nnz}, dtype={self.dtype}, coalesced={self.coalesced})"


def _refusing(name):
    def refused(self, *args, **kwargs):
        return refuse(name)
    refused.__name__ = name
    return refused


# Every other operator, and every other attribute of an array, raises (in-place operators fall back to these).
for _name in ("__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__", "__rtruediv__", "__floordiv__",
              "__rfloordiv__", "__mod__", "__rmod__", "__pow__", "__rpow__", "__matmul__", "__rmatmul__", "__and__",
              "__rand__", "__or__", "__ror__", "__xor__", "__rxor__", "__lshift__", "__rlshift__", "__rshift__",
              "__rrshift__", "__divmod__", "__rdivmod__", "__neg__", "__pos__", "__abs__", "__invert__", "__lt__",
              "__le__", "__eq__", "__ne__", "__gt__", "__ge__", "__getitem__", "__setitem__", "__len__", "__iter__",
              "__contains__", "__bool__", "__float__", "__int__", "__index__", "__complex__"):
    setattr(SparseCOO, _name, _refusing(_name))
for _name in dir(np.ndarray):
    if not _name.startswith("_") and not hasattr(SparseCOO, _name):
        setattr(SparseCOO, _name, property(_refusing(_name)))
del _name
