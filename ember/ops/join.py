"""Joining and splitting along a dimension: cat (concat, concatenate), stack, hstack/vstack/dstack/column_stack,
and narrow, split, chunk, tensor_split and unbind, whose pieces are views of their input. Each family's gradient is
the other: cat's is a narrow per input, stack's a select per input, and the pieces' gradients join back into one."""
from .. import dtypes as _dt
from ..autograd import Node
from ..autograd.graph import apply
from ..tensor import Tensor
from ._checks import same_device
from ._util import wrap_dim
from .meta import TensorMeta
from .registry import export, register
from .shape import atleast_1d, atleast_2d, atleast_3d, shape_str


# --- narrow / split / unbind ----------------------------------------------------------------------------------

def _resized(shape, dim, size):
    """shape with dimension dim of the given size."""
    return shape[:dim] + (size,) + shape[dim + 1:]


@register
class Narrow(Node):
    """input[..., start:start + length, ...] along dim (a view)."""

    saves = ()
    is_view = True

    def __init__(self, dim, start, length):
        self.dim, self.start, self.length = dim, start, length

    def infer(self, a):
        return TensorMeta(_resized(a.shape, self.dim, self.length), a.dtype)

    def forward(self, xp, a):
        self.in_shape = a.shape
        return a[(slice(None),) * self.dim + (slice(self.start, self.start + self.length),)]

    def backward(self, g):
        return (apply(NarrowBackward(self.in_shape, self.dim, self.start, self.length), g),)


@register
class NarrowBackward(Node):
    """The gradient of narrow: g (length long along dim) placed from start into zeros of the input's shape; its
    adjoint is the narrow."""

    saves = ()

    def __init__(self, shape, dim, start, length):
        self.shape, self.dim, self.start, self.length = shape, dim, start, length

    def infer(self, g):
        return TensorMeta(tuple(self.shape), g.dtype)

    def forward(self, xp, g):
        out = xp.zeros(self.shape, dtype=g.dtype)
        out[(slice(None),) * self.dim + (slice(self.start, self.start + self.length),)] = g
        return out

    def backward(self, gg):
        return (apply(Narrow(self.dim, self.start, self.length), gg),)


@export(Narrow, methods=("narrow",))
def narrow(input, dim, start, length):
    """A view of ``length`` consecutive elements of ``input`` along ``dim``, from ``start``.

    Args:
        input (Tensor): the tensor.
        dim (int): the dimension to narrow.
        start (int): the first position (negative counts from the end).
        length (int): the number of elements kept (start + length must not pass the end).

    Returns:
        Tensor: a view sharing input's memory.

    PyTorch:
        ``torch.narrow`` and ``Tensor.narrow``; same semantics.

    Example:
        >>> ember.narrow(ember.arange(6), 0, 2, 3)
        tensor([2, 3, 4])
    """
    shape = input._data.shape
    d = wrap_dim(dim, len(shape), "narrow")
    size = shape[d]
    start, length = int(start), int(length)
    if not -size <= start <= size:
        raise IndexError(f"narrow: start out of range (expected to be in range of [{-size}, {size}], but got "
                         f"{start}) for dim {dim} of shape {tuple(shape)}")
    if start < 0:
        start += size
    if length < 0 or start + length > size:
        raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension size ({size}) "
                           f"(dim {dim} of shape {tuple(shape)})")
    return apply(Narrow(d, start, length), input)


@register
class Split(Node):
    """Consecutive pieces of the input along dim, each a view: one node with an output per piece, whose gradient is
    one SplitBackward of the pieces' gradients (a Narrow per piece would make an input-sized zero-filled gradient
    for each, summed by the engine)."""

    saves = ()
    is_view = True

    def __init__(self, dim, sizes):
        self.dim, self.sizes = dim, sizes

    @property
    def n_outputs(self):
        return len(self.sizes)

    def infer(self, a):
        return tuple(TensorMeta(_resized(a.shape, self.dim, s), a.dtype) for s in self.sizes)

    def forward(self, xp, a):
        self.in_shape = a.shape
        lead = (slice(None),) * self.dim
        pieces, start = [], 0
        for s in self.sizes:
            pieces.append(a[lead + (slice(start, start + s),)])
            start += s
        return tuple(pieces)

    def backward(self, *grads):
        return (apply(SplitBackward(self.in_shape, self.dim, self.sizes), *grads),)


@register
class SplitBackward(Node):
    """The gradient of split: the pieces' gradients (None for a piece that got none: zeros there) joined along dim
    into one array of the input's shape. Its adjoint is the split."""

    saves = ()

    def __init__(self, shape, dim, sizes):
        self.shape, self.dim, self.sizes = shape, dim, sizes

    def infer(self, *grads):
        return TensorMeta(tuple(self.shape), next(g for g in grads if g is not None).dtype)

    def forward(self, xp, *grads):
        present = [g for g in grads if g is not None]
        if len(present) == len(grads):
            return xp.concatenate(grads, axis=self.dim)
        out = xp.zeros(self.shape, dtype=present[0].dtype)
        lead = (slice(None),) * self.dim
        start = 0
        for g, s in zip(grads, self.sizes):
            if g is not None:
                out[lead + (slice(start, start + s),)] = g
            start += s
        return out

    def backward(self, gg):
        pieces = apply(Split(self.dim, self.sizes), gg)
        return tuple(p if need else None for p, need in zip(pieces, self.needs_input_grad))


def _pieces(input, d, sizes):
    """The consecutive pieces of the given sizes along dimension d, as views (one Split node)."""
    return apply(Split(d, tuple(sizes)), input)


@export(Split, methods=("split",))
def split(tensor, split_size_or_sections, dim=0):
    """Views of consecutive pieces of ``tensor`` along ``dim``: of equal size, or of the listed sizes.

    Args:
        tensor (Tensor): the tensor to split.
        split_size_or_sections (int or sequence of int): the size of each piece (the last may be smaller), or the
            list of sizes (summing to the size of dim).
        dim (int): the dimension to split. Default: 0.

    Returns:
        tuple of Tensor: the pieces, views sharing the tensor's memory.

    PyTorch:
        ``torch.split`` and ``Tensor.split``; same semantics.

    Example:
        >>> ember.split(ember.arange(5), 2)
        (tensor([0, 1]), tensor([2, 3]), tensor([4]))
        >>> ember.arange(5).split([1, 4])
        (tensor([0]), tensor([1, 2, 3, 4]))
    """
    shape = tensor._data.shape
    d = wrap_dim(dim, len(shape), "split")
    size = shape[d]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != size or any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's size "
                               f"at dimension {dim}, shape {tuple(shape)}), but got split_sizes={sizes}")
        return _pieces(tensor, d, sizes)
    step = int(split_size_or_sections)
    if step < 0 or (step == 0 and size != 0):
        raise RuntimeError(f"split expects split_size be non-negative (and positive for a non-empty dimension), but "
                           f"got split_size={step} for dim {dim} of shape {tuple(shape)}")
    if size == 0:
        return _pieces(tensor, d, [0])
    return _pieces(tensor, d, [min(step, size - i) for i in range(0, size, step)])


@export(Split, methods=("chunk",))
def chunk(input, chunks, dim=0):
    """Views of ``input`` split into at most ``chunks`` pieces of equal size along ``dim`` (the last may be smaller).

    Each piece has ``ceil(size / chunks)`` elements along dim, so there may be fewer than ``chunks`` pieces (use
    ``tensor_split`` for exactly ``chunks``).

    Args:
        input (Tensor): the tensor to split.
        chunks (int): the number of pieces wanted (positive).
        dim (int): the dimension to split. Default: 0.

    Returns:
        tuple of Tensor: the pieces, views sharing input's memory.

    PyTorch:
        ``torch.chunk`` and ``Tensor.chunk``; same semantics.

    Example:
        >>> ember.chunk(ember.arange(5), 3)
        (tensor([0, 1]), tensor([2, 3]), tensor([4]))
    """
    chunks = int(chunks)
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    size = input._data.shape[wrap_dim(dim, input._data.ndim, "chunk")]
    return split(input, max(-(-size // chunks), 1), dim)


@export(Split, Narrow, methods=("tensor_split",))
def tensor_split(input, indices_or_sections, dim=0):
    """Views of ``input`` split along ``dim`` into a number of sections, or at the given indices.

    Given an int n, the tensor is split into n pieces whose sizes differ by at most one (the first ones larger);
    given indices, it is cut before each index (as Python slices: ``[:i0]``, ``[i0:i1]``, ..., ``[ik:]``).

    Args:
        input (Tensor): the tensor to split.
        indices_or_sections (int, sequence of int or Tensor): the number of sections, or the indices to cut at.
        dim (int): the dimension to split. Default: 0.

    Returns:
        tuple of Tensor: the pieces, views sharing input's memory.

    PyTorch:
        ``torch.tensor_split`` and ``Tensor.tensor_split``; same semantics (a 0-d integer tensor is a number of
        sections, a 1-d one holds indices).

    Example:
        >>> ember.tensor_split(ember.arange(5), 3)
        (tensor([0, 1]), tensor([2, 3]), tensor([4]))
        >>> ember.tensor_split(ember.arange(7), [1, 5])
        (tensor([0]), tensor([1, 2, 3, 4]), tensor([5, 6]))
    """
    shape = input._data.shape
    d = wrap_dim(dim, len(shape), "tensor_split")
    size = shape[d]
    if isinstance(indices_or_sections, Tensor):  # a 0-d tensor: the number of sections; a 1-d one: indices
        if indices_or_sections.dtype.is_floating_point or indices_or_sections.dim() > 1:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                               f"one-dimensional tensor of integers, but got a tensor with "
                               f"{indices_or_sections.dim()} dims and dtype {indices_or_sections.dtype}")
        indices_or_sections = indices_or_sections.tolist()
    if isinstance(indices_or_sections, (list, tuple)):
        bounds = [0] + [int(i) for i in indices_or_sections] + [size]
        ranges = [range(size)[a:b] for a, b in zip(bounds, bounds[1:])]  # Python slicing semantics
        return tuple(apply(Narrow(d, r.start, len(r)), input) for r in ranges)
    n = int(indices_or_sections)
    if n <= 0:
        raise RuntimeError(f"tensor_split: number of sections must be larger than 0, got {n}")
    q, r = divmod(size, n)
    return _pieces(input, d, [q + 1 if i < r else q for i in range(n)])


@register
class Select(Node):
    """input[..., index, ...] along dim: a view without that dimension."""

    saves = ()
    is_view = True

    def __init__(self, dim, index):
        self.dim, self.index = dim, index

    def infer(self, a):
        return TensorMeta(a.shape[:self.dim] + a.shape[self.dim + 1:], a.dtype)

    def forward(self, xp, a):
        self.in_shape = a.shape
        return a[(slice(None),) * self.dim + (self.index,)]

    def backward(self, g):
        return (select_backward(g, self.in_shape, self.dim, self.index),)


@register
class SelectBackward(Node):
    """The gradient of select: g placed at index along dim in zeros of the input's shape (Select is its adjoint)."""

    saves = ()

    def __init__(self, shape, dim, index):
        self.shape, self.dim, self.index = shape, dim, index

    def infer(self, g):
        return TensorMeta(tuple(self.shape), g.dtype)

    def forward(self, xp, g):
        out = xp.zeros(self.shape, dtype=g.dtype)
        out[(slice(None),) * self.dim + (self.index,)] = g
        return out

    def backward(self, gg):
        return (apply(Select(self.dim, self.index), gg),)


def select_backward(g, shape, dim, index):
    """The gradient of selecting index along dim: g placed into zeros of the input's shape."""
    return apply(SelectBackward(shape, dim, index), g)


@export(Select, methods=("unbind",))
def unbind(input, dim=0):
    """The slices of ``input`` along ``dim``, each without that dimension.

    Args:
        input (Tensor): the tensor.
        dim (int): the dimension to remove. Default: 0.

    Returns:
        tuple of Tensor: ``input.size(dim)`` views sharing input's memory.

    PyTorch:
        ``torch.unbind`` and ``Tensor.unbind``; same semantics.

    Example:
        >>> ember.unbind(ember.tensor([[1, 2], [3, 4]]), dim=1)
        (tensor([1, 3]), tensor([2, 4]))
    """
    d = wrap_dim(dim, input._data.ndim, "unbind")
    return tuple(apply(Select(d, i), input) for i in range(input._data.shape[d]))


@export(Select, methods=("select",))
def select(input, dim, index):
    """The slice of ``input`` at ``index`` along ``dim``, without that dimension (``input[:, index]`` for dim 1).

    Args:
        input (Tensor): the tensor.
        dim (int): the dimension (negative counts from the end).
        index (int): the position along it (negative counts from the end).

    Returns:
        Tensor: a view sharing input's memory, one dimension fewer.

    PyTorch:
        ``torch.select`` and ``Tensor.select``; same semantics.

    Example:
        >>> ember.tensor([[1, 2, 3], [4, 5, 6]]).select(1, -1)
        tensor([3, 6])
    """
    d = wrap_dim(dim, input._data.ndim, "select")
    size = input._data.shape[d]
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(input.shape)} at dimension "
                         f"{d}")
    return apply(Select(d, index % size), input)


# --- cat / stack ----------------------------------------------------------------------------------------------

def _tensor_list(tensors, op):
    if isinstance(tensors, Tensor):
        raise TypeError(f"{op}(): argument 'tensors' must be a tuple or list of Tensors, not Tensor")
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError(f"{op}(): expected a non-empty list of Tensors")
    for i, x in enumerate(tensors):
        if not isinstance(x, Tensor):
            raise TypeError(f"{op}(): expected Tensor as element {i} in argument 0, but got {type(x).__name__}")
    return tensors


def _promote_all(tensors, op):
    """Cast the tensors to their common dtype (differentiably) after checking they are on one device."""
    first = tensors[0]
    dt = first._data.dtype
    if all(x._data.dtype == dt and x._data.__class__ is first._data.__class__ for x in tensors):
        return tensors
    for x in tensors[1:]:
        same_device(first, x, op)
    rt = first.dtype
    for x in tensors[1:]:
        rt = _dt.promote_types(rt, x.dtype)
    return [x if x.dtype is rt else x.to(rt) for x in tensors]


@register
class Cat(Node):
    """The inputs (of one dtype, equal sizes except along dim) joined along dim."""

    saves = ()

    def __init__(self, dim):
        self.dim = dim

    def infer(self, *arrays):
        a = arrays[0]
        return TensorMeta(_resized(a.shape, self.dim, sum(x.shape[self.dim] for x in arrays)), a.dtype)

    def forward(self, xp, *arrays):
        self.sizes = [a.shape[self.dim] for a in arrays]
        return xp.concatenate(arrays, axis=self.dim)

    def backward(self, g):
        out, start = [], 0
        for need, s in zip(self.needs_input_grad, self.sizes):
            out.append(apply(Narrow(self.dim, start, s), g) if need else None)
            start += s
        return tuple(out)


@export(Cat, ember=("cat", "concat", "concatenate"))
def cat(tensors, dim=0):
    """Concatenate tensors along an existing dimension (also ``concat`` and ``concatenate``).

    The tensors have the same number of dimensions and equal sizes except along dim; their dtypes are promoted to a
    common one. As in PyTorch, 1-d empty tensors (shape (0,)) are skipped whatever the other shapes.

    Args:
        tensors (sequence of Tensor): the tensors to join (a list or tuple, not empty), on one device.
        dim (int): the dimension to join along. Default: 0.

    Returns:
        Tensor: a new tensor whose size along dim is the sum of the inputs' sizes.

    PyTorch:
        ``torch.cat``, ``torch.concat`` and ``torch.concatenate``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.cat([ember.zeros(1, 2), ember.ones(2, 2)]).shape
        ember.Size([3, 2])
        >>> ember.cat([ember.tensor([1, 2]), ember.tensor([3.5])])
        tensor([1.0000, 2.0000, 3.5000])
    """
    tensors = _tensor_list(tensors, "cat")
    tensors = _promote_all(tensors, "cat")
    for i, x in enumerate(tensors):
        if not x._data.ndim:
            raise RuntimeError(f"cat: zero-dimensional tensor (at position {i}) cannot be concatenated")
    # legacy PyTorch behaviour: 1-D empty tensors are skipped, whatever the other shapes
    idx = [i for i, x in enumerate(tensors) if x._data.shape != (0,)] or [0]
    ref = tensors[idx[0]]._data.shape
    n = len(ref)
    d = wrap_dim(dim, n, "cat")
    for i in idx[1:]:
        s = tensors[i]._data.shape
        if len(s) != n:
            raise RuntimeError(f"cat: Tensors must have same number of dimensions: got {n} and {len(s)} (shapes "
                               f"{tuple(ref)} and {tuple(s)})")
        for k in range(n):
            if k != d and s[k] != ref[k]:
                raise RuntimeError(f"cat: Sizes of tensors must match except in dimension {d}. Expected size "
                                   f"{ref[k]} but got size {s[k]} for tensor number {i} in the list "
                                   f"(shapes {tuple(ref)} and {tuple(s)})")
    return apply(Cat(d), *(tensors[i] for i in idx))


concat = concatenate = cat


@register
class Stack(Node):
    """The inputs (of one shape and dtype) joined along a new dimension dim."""

    saves = ()

    def __init__(self, dim):
        self.dim = dim

    def infer(self, *arrays):
        a = arrays[0]
        return TensorMeta(a.shape[:self.dim] + (len(arrays),) + a.shape[self.dim:], a.dtype)

    def forward(self, xp, *arrays):
        return xp.stack(arrays, axis=self.dim)

    def backward(self, g):
        return tuple(apply(Select(self.dim, i), g) if need else None for i, need in enumerate(self.needs_input_grad))


@export(Stack)
def stack(tensors, dim=0):
    """Join tensors of equal shape along a new dimension ``dim``.

    Their dtypes are promoted to a common one.

    Args:
        tensors (sequence of Tensor): the tensors to join (a list or tuple, not empty), all of one shape.
        dim (int): the position of the new dimension, in ``[-ndim - 1, ndim]``. Default: 0.

    Returns:
        Tensor: a new tensor with one more dimension, of size ``len(tensors)``.

    PyTorch:
        ``torch.stack``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.stack([ember.zeros(2), ember.ones(2)], dim=1)
        tensor([[0., 1.],
                [0., 1.]])
    """
    tensors = _tensor_list(tensors, "stack")
    tensors = _promote_all(tensors, "stack")
    ref = tensors[0]._data.shape
    for i, x in enumerate(tensors):
        if x._data.shape != ref:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {shape_str(ref)} at entry 0 and "
                               f"{shape_str(x._data.shape)} at entry {i}")
    return apply(Stack(wrap_dim(dim, len(ref) + 1, "stack")), *tensors)


@export(Cat)
def hstack(tensors):
    """Concatenate tensors horizontally: along dimension 1, or 0 for 1-d tensors (0-d tensors count as 1-d).

    Args:
        tensors (sequence of Tensor): the tensors to join.

    Returns:
        Tensor: a new tensor.

    PyTorch:
        ``torch.hstack``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.hstack([ember.tensor([1, 2]), ember.tensor([3])])
        tensor([1, 2, 3])
    """
    ts = atleast_1d(_tensor_list(tensors, "hstack"))
    return cat(ts, 0 if ts[0]._data.ndim == 1 else 1)


@export(Cat, ember=("vstack", "row_stack"))
def vstack(tensors):
    """Concatenate tensors vertically: along dimension 0, after making each at least 2-d (also ``row_stack``).

    A 1-d tensor of n elements becomes a row (1, n).

    Args:
        tensors (sequence of Tensor): the tensors to join.

    Returns:
        Tensor: a new tensor of at least 2 dimensions.

    PyTorch:
        ``torch.vstack`` and ``torch.row_stack``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.vstack([ember.tensor([1, 2]), ember.tensor([3, 4])])
        tensor([[1, 2],
                [3, 4]])
    """
    return cat(atleast_2d(_tensor_list(tensors, "vstack")), 0)


row_stack = vstack


@export(Cat)
def dstack(tensors):
    """Concatenate tensors depth-wise: along dimension 2, after making each at least 3-d.

    A 1-d tensor of n elements becomes (1, n, 1) and a 2-d one (m, n) becomes (m, n, 1).

    Args:
        tensors (sequence of Tensor): the tensors to join.

    Returns:
        Tensor: a new tensor of at least 3 dimensions.

    PyTorch:
        ``torch.dstack``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.dstack([ember.tensor([1, 2]), ember.tensor([3, 4])])
        tensor([[[1, 3],
                 [2, 4]]])
    """
    return cat(atleast_3d(_tensor_list(tensors, "dstack")), 2)


@export(Cat)
def column_stack(tensors):
    """Join tensors as the columns of a matrix: 0-d and 1-d tensors become columns, 2-d ones are joined along dim 1.

    Args:
        tensors (sequence of Tensor): the tensors to join (1-d ones of one length, the number of rows).

    Returns:
        Tensor: a new 2-d tensor (or more, for inputs of more dimensions).

    PyTorch:
        ``torch.column_stack``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.column_stack([ember.tensor([1, 2]), ember.tensor([3, 4])])
        tensor([[1, 3],
                [2, 4]])
    """
    ts = _tensor_list(tensors, "column_stack")
    ts = [x.reshape(x.numel(), 1) if x._data.ndim <= 1 else x for x in ts]
    return cat(ts, 1)

