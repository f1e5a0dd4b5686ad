"""What a shape rule sees of a tensor: its shape and dtype, without data (``TensorMeta``), and shared rules.

Every op's node has an ``infer(*args)`` method, its shape/dtype rule: given a ``TensorMeta`` for each tensor
argument (numbers and None as they are), it returns the ``TensorMeta`` of the output (a tuple of them for a node
with several outputs), so a graph can be built and checked before anything runs.
"""
from typing import NamedTuple

import numpy as np

from ..tensor import Tensor

__all__ = ["TensorMeta", "meta_of", "broadcast", "same_as", "reduced", "with_dtype"]


class TensorMeta(NamedTuple):
    """The shape (a tuple of ints) and dtype (a NumPy dtype) of a tensor. A size that depends on the data (how many
    elements a mask selects, how many are nonzero) is None."""

    shape: tuple
    dtype: np.dtype

    @property
    def ndim(self):
        return len(self.shape)


def meta_of(x):
    """The TensorMeta of a tensor or array; other values (numbers, None, tuples of them) as they are."""
    if isinstance(x, Tensor):
        x = x._data
    if hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, np.generic):
        return TensorMeta(tuple(x.shape), x.dtype)
    return x


def broadcast(*args, dtype=None):
    """The meta of an elementwise result: the broadcast shape of the tensor arguments (numbers are 0-d), and the
    first tensor's dtype unless one is given."""
    metas = [a for a in args if isinstance(a, TensorMeta)]
    shape = np.broadcast_shapes(*(m.shape for m in metas)) if metas else ()
    return TensorMeta(tuple(shape), dtype if dtype is not None else metas[0].dtype)


def same_as(a):
    """The meta of an op whose output has its input's shape and dtype."""
    return TensorMeta(a.shape, a.dtype)


def with_dtype(a, dtype):
    """a's shape with another dtype."""
    return TensorMeta(a.shape, np.dtype(dtype))


def reduced(a, dims, keepdim, dtype=None):
    """The meta of a reduction of a over dims (a tuple of non-negative ints)."""
    if keepdim:
        shape = tuple(1 if i in dims else s for i, s in enumerate(a.shape))
    else:
        shape = tuple(s for i, s in enumerate(a.shape) if i not in dims)
    return TensorMeta(shape, a.dtype if dtype is None else np.dtype(dtype))
