"""Sparse gradients (a SparseCOO: ``Embedding(sparse=True)``'s) in the optimizers' updates, on arrays."""
import numpy as np

from .._sparse import SparseCOO, _linear

__all__ = ["scaled", "rows_at"]


def scaled(grad, factor):
    """grad's entries times factor (a new SparseCOO)."""
    return SparseCOO(grad.indices, grad.values * grad.values.dtype.type(factor), grad.shape, grad.coalesced)


def rows_at(array, grad):
    """(array viewed as one row per position of grad's sparse dimensions, grad's positions there): grad
    coalesced, so that each position occurs once. array must be C-contiguous (an optimizer's own buffer or a
    parameter's data)."""
    sparse_shape = grad.shape[:grad.sparse_dim]
    flat = array.reshape((int(np.prod(sparse_shape, dtype=np.int64)),) + grad.shape[grad.sparse_dim:])
    if not np.shares_memory(flat, array):
        raise RuntimeError(f"sparse gradient update: the parameter or buffer of shape {array.shape} is not "
                           f"contiguous")
    return flat, _linear(grad.indices, sparse_shape)
