"""Tensors laid out from others: repeat_interleave (each element repeated in place), meshgrid (coordinate grids)
and diag (a vector on a matrix's diagonal, and a matrix's diagonal as a vector).

All three are composites of existing ops: repeat_interleave copies a broadcast view (the same count for every
element; the gradient sums the repeats) or selects with a repeated index (IndexSelect, whose gradient adds the
repeats back), meshgrid expands views (Reshape, BroadcastTo), diag writes or reads a diagonal
(DiagonalBackward, Diagonal).
"""
import warnings

import numpy as np

from ..autograd.graph import apply
from ..device import get_array_module
from ..tensor import Tensor
from ._checks import check_tensor
from ._util import wrap_dim
from .copy import Clone, clone
from .index import IndexSelect
from .registry import export
from .shape import BroadcastTo, Diagonal, DiagonalBackward, Reshape, expand, reshape
from .shape import diagonal as _diagonal


# --- repeat_interleave ------------------------------------------------------------------------------------------

def _counts(xp, repeats, n, d, op):
    """repeats (an int, or a 0-d / 1-d integer tensor of 1 or n entries) as what xp.repeat takes for the n
    elements of dimension d (n None: any number)."""
    if isinstance(repeats, Tensor):
        r = repeats._data
        if r.dtype.kind not in "iu":
            raise RuntimeError(f"{op}: repeats must be an integer tensor, got {repeats.dtype}")
        if r.ndim > 1:
            raise RuntimeError(f"{op}: repeats must be 0-dim or 1-dim tensor, got shape {tuple(r.shape)}")
        if r.size and int(r.min()) < 0:
            raise RuntimeError(f"{op}: Repeats must be non-negative, got {int(r.min())}")
        if r.ndim == 1 and r.size != 1:
            if n is not None and r.size != n:
                raise RuntimeError(f"{op}: repeats must have the same size as input along dim, but got "
                                   f"repeats.size(0) = {r.size} and input.size({d}) = {n}")
            return xp.asarray(r)
        return int(r.reshape(()))
    if isinstance(repeats, bool) or not isinstance(repeats, (int, np.integer)):
        raise TypeError(f"{op}: repeats must be an int or an integer Tensor, not {type(repeats).__name__}")
    if repeats < 0:
        raise RuntimeError(f"{op}: Repeats must be non-negative, got {repeats}")
    return int(repeats)


@export(IndexSelect, BroadcastTo, Reshape, methods=("repeat_interleave",))
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element of ``input`` ``repeats`` times, the copies next to each other, along ``dim``.

    ``repeats`` is one count for every element or a tensor of one count per element along ``dim``. Called with a
    tensor of counts alone, ``repeat_interleave(counts)`` gives the indices 0, 1, ... each repeated counts[i] times.

    Args:
        input (Tensor): the tensor to repeat (or, alone, the 1-d int64 counts).
        repeats (int or Tensor, optional): the number of copies, non-negative; an int, or an integer tensor of one
            count per element along ``dim`` (else RuntimeError). Default: None.
        dim (int, optional): the dimension to repeat along; when None, the flattened input. Default: None.
        output_size (int, optional): the total length along ``dim``; accepted as a hint (keyword only) and not
            needed. Default: None.

    Returns:
        Tensor: a new tensor, ``input``'s shape with ``dim`` grown to the sum of the repeats (1-d when ``dim`` is None).

    PyTorch:
        ``torch.repeat_interleave`` and ``Tensor.repeat_interleave``; same semantics.

    Example:
        >>> ember.repeat_interleave(ember.tensor([1, 2]), 2)
        tensor([1, 1, 2, 2])
        >>> ember.tensor([[1, 2], [3, 4]]).repeat_interleave(ember.tensor([1, 2]), dim=0)
        tensor([[1, 2],
                [3, 4],
                [3, 4]])
        >>> ember.repeat_interleave(ember.tensor([2, 1]))
        tensor([0, 0, 1])
    """
    op = "repeat_interleave"
    check_tensor(input, op)
    xp = get_array_module(input._data)
    if repeats is None:
        if input._data.ndim != 1:
            raise RuntimeError(f"{op}: repeats must be a 1-dim tensor, got shape {tuple(input.shape)}")
        counts = _counts(xp, input, None, 0, op)
        return Tensor._wrap(xp.repeat(xp.arange(input._data.size, dtype=np.int64), counts))
    if dim is None:
        input, d = reshape(input, -1), 0
    else:
        d = wrap_dim(dim, input._data.ndim, op)
        if input._data.ndim == 0:
            input = reshape(input, 1)
    shape = input._data.shape
    counts = _counts(xp, repeats, shape[d], d, op)
    if isinstance(counts, int):  # each element the same number of times: a broadcast view, copied by the reshape
        x = expand(reshape(input, shape[:d + 1] + (1,) + shape[d + 1:]), shape[:d + 1] + (counts,) + shape[d + 1:])
        return reshape(x, shape[:d] + (shape[d] * counts,) + shape[d + 1:])
    index = xp.repeat(xp.arange(shape[d], dtype=np.int64), counts)
    return apply(IndexSelect(d), input, Tensor._wrap(index))


# --- meshgrid ---------------------------------------------------------------------------------------------------

@export(Reshape, BroadcastTo)
def meshgrid(*tensors, indexing=None):
    """Make coordinate grids from 1-d tensors: output i holds ``tensors[i]`` along dimension i, expanded to the grid.

    With ``indexing='ij'`` the grid has the shape (len(t0), len(t1), ...); with ``'xy'`` (Cartesian) the first two
    dimensions are swapped: (len(t1), len(t0), ...). The outputs are expanded views of the inputs.

    Args:
        *tensors (Tensor): 0-d or 1-d tensors of one dtype and device, or a single list or tuple of them.
        indexing (str, optional): ``'ij'`` (matrix) or ``'xy'`` (Cartesian); when None, ``'ij'`` with PyTorch's
            warning. Default: None.

    Returns:
        tuple of Tensor: one grid per input, all of the grid's shape.

    PyTorch:
        ``torch.meshgrid``; same semantics.

    Example:
        >>> xs, ys = ember.meshgrid(ember.tensor([1, 2, 3]), ember.tensor([4, 5]), indexing="ij")
        >>> xs
        tensor([[1, 1],
                [2, 2],
                [3, 3]])
        >>> ys
        tensor([[4, 5],
                [4, 5],
                [4, 5]])
        >>> ember.meshgrid(ember.tensor([1, 2, 3]), ember.tensor([4, 5]), indexing="xy")[0].shape
        ember.Size([2, 3])
    """
    op = "meshgrid"
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if not tensors:
        raise RuntimeError(f"{op}: expects a non-empty list of tensors")
    for i, t in enumerate(tensors):
        check_tensor(t, op, f"tensors[{i}]")
        if t._data.ndim > 1:
            raise RuntimeError(f"{op}: Expected 0D or 1D tensor in the tensor list but got tensor {i} of shape "
                               f"{tuple(t.shape)}")
        if t.dtype is not tensors[0].dtype or t.device != tensors[0].device:
            raise RuntimeError(f"{op}: expects all tensors to have the same dtype and device, but tensor 0 is "
                               f"{tensors[0].dtype} on {tensors[0].device} and tensor {i} is {t.dtype} on {t.device}")
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument.",
                      UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'{op}: indexing must be one of "xy" or "ij", but received: {indexing}')
    ts = list(tensors)
    swap = indexing == "xy" and len(ts) > 1
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t._data.size for t in ts)
    out = []
    for i, t in enumerate(ts):
        t = reshape(t, tuple(-1 if j == i else 1 for j in range(len(ts))))
        out.append(expand(t, shape))
    if swap:
        out[0], out[1] = out[1], out[0]
    return tuple(out)


# --- diag -------------------------------------------------------------------------------------------------------

@export(DiagonalBackward, Diagonal, Clone, methods=("diag",))
def diag(input, diagonal=0):
    """Build a diagonal matrix from a 1-d tensor, or take a diagonal of a 2-d tensor.

    Args:
        input (Tensor): a 1-d or 2-d tensor (another rank raises RuntimeError).
        diagonal (int): which diagonal: 0 the main one, positive above it, negative below it. Default: 0.

    Returns:
        Tensor: for a 1-d input of n elements, the (n + |diagonal|) square matrix with it on that diagonal and zeros
        elsewhere; for a 2-d input, a copy of that diagonal as a 1-d tensor.

    PyTorch:
        ``torch.diag`` and ``Tensor.diag``; same semantics.

    Example:
        >>> ember.diag(ember.tensor([1, 2]))
        tensor([[1, 0],
                [0, 2]])
        >>> ember.diag(ember.tensor([[1, 2], [3, 4]]), -1)
        tensor([3])
    """
    check_tensor(input, "diag")
    if isinstance(diagonal, bool) or not isinstance(diagonal, (int, np.integer)):
        raise TypeError(f"diag(): argument 'diagonal' must be int, not {type(diagonal).__name__}")
    k, nd = int(diagonal), input._data.ndim
    if nd == 1:
        n = input._data.shape[0] + abs(k)
        return apply(DiagonalBackward((n, n), k, 0, 1), input)
    if nd == 2:
        return clone(_diagonal(input, k))
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {nd}D (shape {tuple(input.shape)})")

