"""embedding (a lookup into the rows of a table; its gradient, the op EmbeddingBackward, adds the output gradient back
into the rows), embedding_bag (the lookups of each bag of indices summed, averaged or maxed: a composite of
embedding and index_add) and one_hot."""
import math

import numpy as np

from .._sparse import SparseCOO
from ..autograd import Node, no_grad
from ..autograd.graph import apply, increment_version
from ..tensor import Tensor
from ._checks import check_tensor
from .creation import zeros
from .index import index_add, masked_fill
from .meta import TensorMeta
from .registry import export, register
from .sparse import run_sparse


@register
class Embedding(Node):
    """weight[idx]: the rows of a table at integer indices (an array argument, not differentiated)."""

    saves = ()

    def __init__(self, padding_idx, scale_grad_by_freq, sparse=False):
        self.padding_idx, self.by_freq, self.sparse = padding_idx, scale_grad_by_freq, sparse

    def infer(self, weight, idx):
        return TensorMeta(tuple(idx.shape) + tuple(weight.shape[1:]), weight.dtype)

    def forward(self, xp, weight, idx):
        self.idx, self.num = idx, weight.shape[0]
        return weight[idx]

    def backward(self, g):
        if self.sparse:
            if self.by_freq:
                raise RuntimeError("embedding_backward: scale_grad_by_freq not supported with sparse gradients")
            return (run_sparse(EmbeddingSparseBackward(self.idx, self.num, self.padding_idx), g), None)
        return (apply(EmbeddingBackward(self.idx, self.num, self.padding_idx, self.by_freq), g), None)


@register
class EmbeddingBackward(Node):
    """Scatter-add of the output gradient into the rows of the table (the gradient of Embedding)."""

    saves = ()

    def __init__(self, idx, num, padding_idx, by_freq):
        self.idx, self.num, self.padding_idx, self.by_freq = idx, num, padding_idx, by_freq

    def infer(self, g):
        return TensorMeta((self.num,) + tuple(g.shape[self.idx.ndim:]), g.dtype)

    def forward(self, xp, g):
        row = g.shape[self.idx.ndim:]
        out = xp.zeros((self.num,) + row, dtype=g.dtype)
        idx = self.idx.reshape(-1)
        flat = g.reshape((idx.size,) + row)
        if 0 < idx.size <= self.num and int(xp.bincount(idx, minlength=self.num).max()) <= 1:
            out[idx] = flat  # every row looked up at most once (positions): a plain scatter
        elif idx.size <= 4 * self.num or xp.__name__ != "numpy":
            xp.add.at(out, idx, flat)
        else:  # many lookups into a small table: a one-hot matmul is much faster than add.at
            onehot = xp.zeros((idx.size, self.num), dtype=g.dtype)
            onehot[xp.arange(idx.size), idx] = 1
            out[...] = (onehot.T @ flat.reshape(idx.size, -1)).reshape(out.shape)
        if self.by_freq:
            self.counts = xp.bincount(idx, minlength=self.num)
            out /= xp.maximum(self.counts, 1).astype(g.dtype).reshape((-1,) + (1,) * len(row))
        if self.padding_idx is not None:
            out[self.padding_idx] = 0
        return out

    def backward(self, gg):
        xp = gg.device.xp
        g = embedding(Tensor._wrap(self.idx), gg)
        scale = None
        if self.by_freq:
            scale = 1.0 / xp.maximum(self.counts, 1)[self.idx]
        if self.padding_idx is not None:
            keep = self.idx != self.padding_idx
            scale = keep if scale is None else scale * keep
        if scale is not None:
            g = g * Tensor._wrap(scale.astype(gg._data.dtype)[..., None])
        return (g,)


@register
class EmbeddingSparseBackward(Node):
    """The gradient of Embedding as a sparse COO tensor (``sparse=True``): one entry per looked-up index but the
    padding row's, its value that lookup's output gradient, not coalesced (PyTorch's embedding_sparse_backward).
    Its result is sparse (see ops.sparse.run_sparse); ember does not differentiate it again."""

    saves = ()
    differentiable = False

    def __init__(self, idx, num, padding_idx):
        self.idx, self.num, self.padding_idx = idx, num, padding_idx

    def infer(self, g):
        return TensorMeta((self.num,) + tuple(g.shape[self.idx.ndim:]), g.dtype)

    def forward(self, xp, g):
        row = g.shape[self.idx.ndim:]
        idx = np.asarray(self.idx).reshape(-1).astype(np.int64)
        values = np.array(g, copy=True).reshape((idx.size,) + row)
        if self.padding_idx is not None:
            keep = idx != self.padding_idx
            idx, values = idx[keep], values[keep]
        self.result = SparseCOO(idx.reshape(1, -1), values, (self.num,) + row)
        return np.broadcast_to(np.zeros((), values.dtype), self.result.shape)


@export(Embedding, ember=False, functional=True)
def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False):
    """Look up the rows of ``weight`` at the integer indices in ``input``.

    The ``padding_idx`` row gets no gradient; with ``max_norm``, the looked-up rows whose norm exceeds it are rescaled
    to it in ``weight`` itself (in place, outside autograd), as in PyTorch.

    Args:
        input (Tensor): integer indices in [0, num_embeddings) (else IndexError).
        weight (Tensor): the 2-d (num_embeddings, embedding_dim) table.
        padding_idx (int, optional): a row index (negative counts from the end) whose row gets no gradient.
            Default: None.
        max_norm (float, optional): renormalise looked-up rows to at most this norm. Default: None.
        norm_type (float): the p of the p-norm for ``max_norm``. Default: 2.0.
        scale_grad_by_freq (bool): divide each row's gradient by how often its index occurs in ``input``.
            Default: False.
        sparse (bool): make the gradient of ``weight`` a sparse COO tensor holding the looked-up rows only (for
            ``optim.SGD``, ``optim.Adagrad`` and ``optim.SparseAdam``; not with scale_grad_by_freq). Default: False.

    Returns:
        Tensor: the rows, of ``weight``'s dtype.

    Shape:
        - Input: (*), any shape.
        - Weight: (num_embeddings, embedding_dim).
        - Output: (*, embedding_dim).

    PyTorch:
        ``torch.nn.functional.embedding``; same semantics.

    Example:
        >>> weight = ember.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
        >>> F.embedding(ember.tensor([[2, 0], [1, 1]]), weight)
        tensor([[[2., 2.],
                 [0., 0.]],
        <BLANKLINE>
                [[1., 1.],
                 [1., 1.]]])
    """
    if not isinstance(input, Tensor) or input._data.dtype.kind not in "iu":
        raise RuntimeError(f"embedding: expected an integer index tensor, got "
                           f"{input.dtype if isinstance(input, Tensor) else type(input).__name__}")
    if not isinstance(weight, Tensor) or weight._data.ndim != 2:
        raise RuntimeError(f"embedding: 'weight' must be 2-D, got "
                           f"{tuple(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__}")
    n = weight.shape[0]
    if input.numel():
        lo, hi = int(input._data.min()), int(input._data.max())
        if lo < 0 or hi >= n:
            raise IndexError(f"embedding: index out of range in self: indices must be in [0, {n}) for a weight of "
                             f"shape {tuple(weight.shape)}, got min {lo} and max {hi}")
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise AssertionError(f"embedding: Padding_idx must be within num_embeddings ({n}), got {padding_idx}")
        if padding_idx < 0:
            padding_idx += n
    if max_norm is not None:
        _renorm_rows(weight, input._data, max_norm, norm_type)
    return apply(Embedding(padding_idx, scale_grad_by_freq, bool(sparse)), weight, input._data)


def _renorm_rows(weight, idx, max_norm, norm_type):
    """Scale (in place, outside autograd) each row of weight used by idx whose norm exceeds max_norm."""
    xp = weight.device.xp
    with no_grad():
        rows = xp.unique(idx.reshape(-1))
        w = weight._data[rows]
        if norm_type == math.inf:
            norms = xp.abs(w).max(axis=1, keepdims=True)
        else:
            norms = (xp.abs(w) ** norm_type).sum(axis=1, keepdims=True) ** (1.0 / norm_type)
        scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        weight._data[rows] = (w * scale).astype(weight._data.dtype, copy=False)
        increment_version(weight)  # an in-place change, as in PyTorch (a saved copy of weight is now stale)


_BAG_MODES = ("sum", "mean", "max")


@export(ember=False, functional=True)
def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Reduce each bag of rows of ``weight``, looked up at integer indices, to one vector: their sum, mean or max.

    A 2-d ``input`` holds one bag of indices per row. A 1-d ``input`` holds the bags one after another: bag i starts
    at ``offsets[i]`` and ends where the next one starts (the last at the end of input; with ``include_last_offset``
    offsets has one more entry, which ends the last bag). Indices equal to ``padding_idx`` are left out of their
    bag (mean divides by the count of the others); a bag with nothing left gives zeros. With ``max_norm``, the rows
    looked up are renormalised in ``weight`` itself, as ``embedding`` does.

    Args:
        input (Tensor): int64 or int32 indices in [0, num_embeddings): (B, N) bags, or 1-d bags cut by offsets.
        weight (Tensor): the 2-d (num_embeddings, embedding_dim) floating-point table.
        offsets (Tensor, optional): with a 1-d input, the 1-d integer start of each bag (the first 0, none
            decreasing); None with a 2-d input. Default: None.
        max_norm (float, optional): renormalise looked-up rows to at most this norm. Default: None.
        norm_type (float): the p of the p-norm for ``max_norm``. Default: 2.
        scale_grad_by_freq (bool): divide each row's gradient by how often its index occurs in the bags (not with
            mode 'max'). Default: False.
        mode (str): 'sum', 'mean' or 'max' (elementwise; the gradient goes to the row that gave each maximum, the
            first one on ties). Default: 'mean'.
        sparse (bool): make the gradient of ``weight`` a sparse COO tensor holding the looked-up rows only, as
            ``embedding`` does (not with mode 'max'). Default: False.
        per_sample_weights (Tensor, optional): a factor for each index's row, of input's shape and weight's dtype
            (mode 'sum' only; differentiable). Default: None.
        include_last_offset (bool): offsets has B + 1 entries, the last one ending the last bag (as CSR row
            pointers; indices after it are in no bag). Default: False.
        padding_idx (int, optional): an index (negative counts from the end) left out of every bag; its row gets no
            gradient. Default: None.

    Returns:
        Tensor: one row per bag, of ``weight``'s dtype.

    Shape:
        - Input: (B, N), or (L,) with offsets of shape (B,) (or (B + 1,) with ``include_last_offset``).
        - Weight: (num_embeddings, embedding_dim).
        - Per-sample weights: input's shape.
        - Output: (B, embedding_dim).

    PyTorch:
        ``torch.nn.functional.embedding_bag``; same semantics where PyTorch's CPU kernels agree with its
        documentation. Differences: scale_grad_by_freq divides each row's gradient by the count of its own index,
        as ``embedding`` does (PyTorch's CPU kernel can use another index's count); with include_last_offset and a
        last offset short of input's length, the last bag ends there in every mode and dtype (PyTorch's results
        vary); a 2-d input with no columns gives empty bags (PyTorch raises); decreasing offsets raise an error.

    Example:
        >>> weight = ember.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
        >>> F.embedding_bag(ember.tensor([[0, 1], [2, 2]]), weight, mode="sum")
        tensor([[1., 1.],
                [4., 4.]])
        >>> F.embedding_bag(ember.tensor([0, 2, 1]), weight, ember.tensor([0, 1]), mode="max")
        tensor([[1., 0.],
                [2., 2.]])
    """
    _check_bag_arguments(input, weight, offsets, per_sample_weights, mode, sparse, scale_grad_by_freq)
    xp, dtype = weight.device.xp, weight._data.dtype
    indices = input._data.reshape(-1)
    starts, end = _bag_starts(input, offsets, include_last_offset)
    num_embeddings = weight.shape[0]
    if indices.size:
        bad = xp.flatnonzero((indices < 0) | (indices >= num_embeddings))
        if bad.size:
            i = int(bad[0])
            raise RuntimeError(f"embedding_bag: Index {i} of input takes value {int(indices[i])} which is not in the "
                               f"valid range [0, {num_embeddings}) of a weight of shape {tuple(weight.shape)}")
    if padding_idx is not None:
        if not -num_embeddings <= padding_idx < num_embeddings:
            raise RuntimeError(f"embedding_bag: padding_idx must be within the number of embeddings, "
                               f"-{num_embeddings} through {num_embeddings - 1}, but got {padding_idx}")
        padding_idx %= num_embeddings
    indices = indices[:end]  # with include_last_offset, what follows the last offset is in no bag
    if max_norm is not None:
        _renorm_rows(weight, indices, max_norm, norm_type)

    lengths = xp.diff(xp.append(starts, end))
    bag_of = xp.repeat(xp.arange(starts.size), lengths)  # the bag of each index
    kept = None if padding_idx is None else indices != padding_idx
    kept_per_bag = lengths if kept is None else xp.bincount(bag_of, weights=kept, minlength=starts.size)
    if mode == "max":
        return _bag_max(weight, indices, kept, starts, lengths, kept_per_bag)

    rows = apply(Embedding(padding_idx, scale_grad_by_freq, bool(sparse)), weight, indices)
    scale = None if kept is None else kept.astype(dtype)
    if mode == "mean":
        scale = (1 if scale is None else scale) / xp.maximum(kept_per_bag, 1)[bag_of].astype(dtype)
    if scale is not None:
        rows = rows * Tensor._wrap(scale[:, None])
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.reshape(-1)[:end].unsqueeze(1)
    if input._data.ndim == 2:  # bags of one length: a reshape and a sum, much faster than index_add
        return rows.reshape(input.shape + (weight.shape[1],)).sum(1)
    bags = zeros((starts.size, weight.shape[1]), dtype=weight.dtype, device=weight.device)
    return index_add(bags, 0, Tensor._wrap(bag_of), rows)


def _check_bag_arguments(input, weight, offsets, per_sample_weights, mode, sparse, scale_grad_by_freq):
    """PyTorch's checks of embedding_bag's arguments, in its order (_bag_starts checks the offsets' values)."""
    check_tensor(input, "embedding_bag")
    check_tensor(weight, "embedding_bag", "weight")
    if per_sample_weights is not None:
        check_tensor(per_sample_weights, "embedding_bag", "per_sample_weights")
        if per_sample_weights.shape != input.shape:
            raise ValueError(f"embedding_bag: If per_sample_weights ({tuple(per_sample_weights.shape)}) is not None, "
                             f"then it must have the same shape as the input ({tuple(input.shape)})")
    if weight._data.ndim != 2:
        raise ValueError(f"embedding_bag: weight has to be a 2D Tensor, but got Tensor of dimension "
                         f"{weight._data.ndim} (shape {tuple(weight.shape)})")
    if input._data.ndim == 2:
        if offsets is not None:
            raise ValueError(f"embedding_bag: if input is 2D, then offsets has to be None, as input is treated is a "
                             f"mini-batch of fixed length sequences. However, found offsets of type {type(offsets)}")
    elif input._data.ndim == 1:
        if offsets is None:
            raise ValueError("embedding_bag: offsets has to be a 1D Tensor but got None")
        check_tensor(offsets, "embedding_bag", "offsets")
        if offsets._data.ndim != 1:
            raise ValueError(f"embedding_bag: offsets has to be a 1D Tensor, got shape {tuple(offsets.shape)}")
    else:
        raise ValueError(f"embedding_bag: input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input._data.ndim} (shape {tuple(input.shape)})")
    if mode not in _BAG_MODES:
        raise ValueError(f"embedding_bag: mode has to be one of sum, mean or max, got {mode!r}")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("embedding_bag: max mode does not support scaling the gradient by the frequency")
    if mode == "max" and sparse:
        raise ValueError("embedding_bag: max mode does not support sparse weights")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                  f"supported for mode='sum' (got mode='{mode}').")
    for name, t in (("input", input), ("offsets", offsets)):
        if t is not None and t._data.dtype.kind not in "iu":
            raise RuntimeError(f"embedding_bag: expected {name} to be an int64 or int32 tensor, got {t.dtype}")
    if weight._data.dtype.kind not in "fV":
        raise RuntimeError(f"embedding_bag: expected a floating-point weight, got {weight.dtype}")
    if per_sample_weights is not None and per_sample_weights._data.dtype != weight._data.dtype:
        raise RuntimeError(f"embedding_bag: expected per_sample_weights to have the dtype of weight ({weight.dtype}), "
                           f"got {per_sample_weights.dtype}")


def _bag_starts(input, offsets, include_last_offset):
    """(int64 start of each bag in input flattened, where the last bag ends), checking the offsets."""
    xp = input.device.xp
    if input._data.ndim == 2:
        bags, length = input.shape
        return xp.arange(bags, dtype=np.int64) * length, bags * length
    starts = offsets._data.astype(np.int64)
    end = input.shape[0]
    if include_last_offset:
        if starts.size == 0:
            raise RuntimeError("embedding_bag: include_last_offset: number of offset should be at least 1")
        starts, end = starts[:-1], int(starts[-1])
    if offsets._data.size:
        first, last = int(offsets._data[0]), int(offsets._data[-1])
        if first != 0:
            raise RuntimeError(f"embedding_bag: offsets[0] has to be 0, i.e., the first sequence in the mini-batch "
                               f"has to start from position 0. However, got {first}")
        if last > input.shape[0]:
            raise RuntimeError(f"embedding_bag: offsets[-1] can not be greater than input's length "
                               f"{input.shape[0]} but got offsets[-1] of {last}")
        steps = xp.diff(offsets._data.astype(np.int64))
        if steps.size and int(steps.min()) < 0:
            i = int(xp.flatnonzero(steps < 0)[0]) + 1
            raise RuntimeError(f"embedding_bag: offsets must not decrease, but offsets[{i}] = "
                               f"{int(offsets._data[i])} comes after offsets[{i - 1}] = {int(offsets._data[i - 1])}")
    return starts, (end if starts.size else 0)  # no bag holds any index


def _bag_max(weight, indices, kept, starts, lengths, kept_per_bag):
    """Each bag's elementwise maximum over the rows of weight at its (kept) indices, zeros for a bag with none;
    the gradient goes to the first row that holds each maximum."""
    xp = weight.device.xp
    values = weight._data[indices]
    if kept is not None:
        values = xp.where(kept[:, None], values, -xp.inf)
    first = xp.zeros((starts.size, weight.shape[1]), dtype=np.int64)  # position in indices of each maximum
    filled = lengths > 0
    if filled.any():
        cuts = starts[filled]  # reduceat reduces between consecutive cuts: an empty bag would break it
        best = xp.repeat(xp.maximum.reduceat(values, cuts, axis=0), lengths[filled], axis=0)
        at_best = (values == best) | xp.isnan(values)  # a NaN is the maximum of its bag
        position = xp.where(at_best, xp.arange(indices.size)[:, None], indices.size)
        first[filled] = xp.minimum.reduceat(position, cuts, axis=0)
    rows = Tensor._wrap(indices[first] if indices.size else first)
    largest = weight[rows, Tensor._wrap(xp.arange(weight.shape[1]))]
    return masked_fill(largest, Tensor._wrap((kept_per_bag == 0)[:, None]), 0)


@register
class OneHot(Node):
    """An int64 tensor with a trailing dimension of num_classes holding a 1 at each index (not differentiable)."""

    differentiable = False

    def __init__(self, num_classes):
        self.num_classes = num_classes

    def infer(self, a):
        return TensorMeta(tuple(a.shape) + (self.num_classes,), np.dtype("int64"))

    def forward(self, xp, a):
        return (a[..., None] == xp.arange(self.num_classes)).astype(np.int64)


@export(OneHot, ember=False, functional=True)
def one_hot(tensor, num_classes=-1):
    """Encode integer class indices as one-hot vectors: a trailing dimension with a 1 at each index.

    Args:
        tensor (Tensor): integer class indices, non-negative and below ``num_classes`` (else RuntimeError).
        num_classes (int): the length of the vectors; -1 for one more than the largest index. Default: -1.

    Returns:
        Tensor: an int64 tensor (not differentiable).

    Shape:
        - Input: (*), any shape.
        - Output: (*, num_classes).

    PyTorch:
        ``torch.nn.functional.one_hot``; same semantics.

    Example:
        >>> F.one_hot(ember.tensor([0, 2]))
        tensor([[1, 0, 0],
                [0, 0, 1]])
        >>> F.one_hot(ember.tensor([1]), num_classes=4)
        tensor([[0, 1, 0, 0]])
    """
    if not isinstance(tensor, Tensor) or tensor._data.dtype.kind not in "iu":
        raise RuntimeError(f"one_hot is only applicable to index tensor of type LongTensor, got "
                           f"{tensor.dtype if isinstance(tensor, Tensor) else type(tensor).__name__}")
    data = tensor._data
    if num_classes == -1:
        if data.size == 0:
            raise RuntimeError("one_hot: Can not infer total number of classes from empty tensor.")
        num_classes = int(data.max()) + 1
    if data.size and (int(data.min()) < 0 or int(data.max()) >= num_classes):
        raise RuntimeError(f"one_hot: Class values must be smaller than num_classes ({num_classes}) and "
                           f"non-negative, got values in [{int(data.min())}, {int(data.max())}]")
    return apply(OneHot(num_classes), tensor)
