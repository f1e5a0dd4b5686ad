"""embedding (a lookup into the rows of a table; its gradient, the op EmbeddingBackward, adds the output gradient back
into the rows) and one_hot."""
import math

import numpy as np

from .._sparse import SparseCOO
from ..autograd import Node, no_grad
from ..autograd.graph import apply, increment_version
from ..tensor import Tensor
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
