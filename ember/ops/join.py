"""Joining and splitting along a dimension: cat (concat, concatenate), stack, hstack/vstack/dstack/column_stack,
and narrow, split, chunk, tensor_split and unbind, whose pieces are views of their input. Each family's gradient is
the other: cat's is a narrow per input, stack's a select per input, and the pieces' gradients join back into one."""
from .. import dtypes as _dt
from ..autograd import Node, is_grad_enabled
from ..autograd.graph import apply
from ..device import get_array_module
from ..tensor import Tensor
from ._checks import same_device
from ._util import bind, wrap_dim
from .creation import zeros
from .shape import atleast_1d, atleast_2d, atleast_3d, shape_str

__all__ = [
    "cat", "concat", "concatenate", "stack", "hstack", "vstack", "dstack", "row_stack", "column_stack", "split",
    "chunk", "tensor_split", "unbind", "narrow",
]


# --- narrow / split / unbind ----------------------------------------------------------------------------------

class Narrow(Node):
    """input[..., start:start + length, ...] along dim (a view)."""

    saves = ()
    is_view = True

    def __init__(self, dim, start, length):
        self.dim, self.start, self.length = dim, start, length

    def forward(self, xp, a):
        self.in_shape = a.shape
        return a[(slice(None),) * self.dim + (slice(self.start, self.start + self.length),)]

    def backward(self, g):
        return (apply(NarrowBackward(self.in_shape, self.dim, self.start), g),)


class NarrowBackward(Node):
    """The gradient of narrow: g placed into zeros of the input's shape."""

    saves = ()

    def __init__(self, shape, dim, start):
        self.shape, self.dim, self.start = shape, dim, start

    def forward(self, xp, g):
        out = xp.zeros(self.shape, dtype=g.dtype)
        out[(slice(None),) * self.dim + (slice(self.start, self.start + g.shape[self.dim]),)] = g
        return out

    def backward(self, gg):
        return (apply(Narrow(self.dim, self.start, self.shape[self.dim]), gg),)


def narrow(input, dim, start, length):
    """A view of length elements along dim, from start (which may be negative)."""
    shape = input.data.shape
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


class Split(Node):
    """Consecutive pieces of the input along dim, each a view: one node with an output per piece, whose backward
    writes all the pieces' gradients into one array (a Narrow per piece would make an input-sized zero-filled
    gradient for each, summed by the engine)."""

    saves = ()
    is_view = True

    def __init__(self, dim, sizes):
        self.dim, self.sizes = dim, sizes

    @property
    def n_outputs(self):
        return len(self.sizes)

    def forward(self, xp, a):
        self.in_shape, self.dtype = a.shape, a.dtype
        lead = (slice(None),) * self.dim
        pieces, start = [], 0
        for s in self.sizes:
            pieces.append(a[lead + (slice(start, start + s),)])
            start += s
        return tuple(pieces)

    def _piece_shape(self, s):
        return self.in_shape[:self.dim] + (s,) + self.in_shape[self.dim + 1:]

    def backward(self, *grads):
        if is_grad_enabled():  # create_graph: a differentiable cat, zeros for the pieces that got no gradient
            g0 = next(g for g in grads if g is not None)
            parts = [g if g is not None else zeros(self._piece_shape(s), dtype=g0.dtype, device=g0.device)
                     for g, s in zip(grads, self.sizes)]
            return (cat(parts, self.dim),)
        arrays = [None if g is None else g.data for g in grads]
        xp = get_array_module(next(a for a in arrays if a is not None))
        if all(a is not None for a in arrays):
            return (Tensor._wrap(xp.concatenate(arrays, axis=self.dim)),)
        out = xp.zeros(self.in_shape, dtype=self.dtype)
        lead = (slice(None),) * self.dim
        start = 0
        for a, s in zip(arrays, self.sizes):
            if a is not None:
                out[lead + (slice(start, start + s),)] = a
            start += s
        return (Tensor._wrap(out),)


def _pieces(input, d, sizes):
    if len(sizes) > 1 and input.requires_grad and is_grad_enabled():
        return apply(Split(d, tuple(sizes)), input)
    out, start = [], 0
    for s in sizes:
        out.append(apply(Narrow(d, start, s), input))
        start += s
    return tuple(out)


def split(tensor, split_size_or_sections, dim=0):
    """Views of consecutive pieces along dim: of split_size each (the last may be smaller), or of the listed sizes."""
    shape = tensor.data.shape
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
        return (apply(Narrow(d, 0, 0), tensor),)
    return _pieces(tensor, d, [min(step, size - i) for i in range(0, size, step)])


def chunk(input, chunks, dim=0):
    """split into pieces of ceil(size / chunks) (so possibly fewer than chunks pieces)."""
    chunks = int(chunks)
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    size = input.data.shape[wrap_dim(dim, input.data.ndim, "chunk")]
    return split(input, max(-(-size // chunks), 1), dim)


def tensor_split(input, indices_or_sections, dim=0):
    """Views split into sections (an int: sizes differ by at most one) or at the given indices."""
    shape = input.data.shape
    d = wrap_dim(dim, len(shape), "tensor_split")
    size = shape[d]
    if isinstance(indices_or_sections, (list, tuple)):
        bounds = [0] + [int(i) for i in indices_or_sections] + [size]
        ranges = [range(size)[a:b] for a, b in zip(bounds, bounds[1:])]  # Python slicing semantics
        return tuple(apply(Narrow(d, r.start, len(r)), input) for r in ranges)
    n = int(indices_or_sections)
    if n <= 0:
        raise RuntimeError(f"tensor_split: number of sections must be larger than 0, got {n}")
    q, r = divmod(size, n)
    return _pieces(input, d, [q + 1 if i < r else q for i in range(n)])


class Select(Node):
    saves = ()
    is_view = True

    def __init__(self, dim, index):
        self.dim, self.index = dim, index

    def forward(self, xp, a):
        self.in_shape, self.dtype = a.shape, a.dtype
        return a[(slice(None),) * self.dim + (self.index,)]

    def backward(self, g):
        return (select_backward(g, self.in_shape, self.dim, self.index),)


# select's gradient (and Select is SelectBackward's)

class SelectBackward(Node):
    saves = ()

    def __init__(self, shape, dim, index):
        self.shape, self.dim, self.index = shape, dim, index

    def forward(self, xp, g):
        out = xp.zeros(self.shape, dtype=g.dtype)
        out[(slice(None),) * self.dim + (self.index,)] = g
        return out

    def backward(self, gg):
        return (apply(Select(self.dim, self.index), gg),)


def select_backward(g, shape, dim, index):
    """The gradient of selecting index along dim: g placed into zeros of the input's shape."""
    return apply(SelectBackward(shape, dim, index), g)


def unbind(input, dim=0):
    """The slices of input along dim, as a tuple of views."""
    d = wrap_dim(dim, input.data.ndim, "unbind")
    return tuple(apply(Select(d, i), input) for i in range(input.data.shape[d]))


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
    dt = first.data.dtype
    if all(x.data.dtype == dt and x.data.__class__ is first.data.__class__ for x in tensors):
        return tensors
    for x in tensors[1:]:
        same_device(first, x, op)
    rt = first.dtype
    for x in tensors[1:]:
        rt = _dt.promote_types(rt, x.dtype)
    return [x if x.dtype is rt else x.to(rt) for x in tensors]


class Cat(Node):
    saves = ()

    def __init__(self, dim):
        self.dim = dim

    def forward(self, xp, *arrays):
        self.sizes = [a.shape[self.dim] for a in arrays]
        return xp.concatenate(arrays, axis=self.dim)

    def backward(self, g):
        out, start = [], 0
        for need, s in zip(self.needs_input_grad, self.sizes):
            out.append(apply(Narrow(self.dim, start, s), g) if need else None)
            start += s
        return tuple(out)


def cat(tensors, dim=0):
    """Concatenate tensors along an existing dimension (dtypes are promoted; 1-D empty tensors are skipped)."""
    tensors = _tensor_list(tensors, "cat")
    tensors = _promote_all(tensors, "cat")
    for i, x in enumerate(tensors):
        if not x.data.ndim:
            raise RuntimeError(f"cat: zero-dimensional tensor (at position {i}) cannot be concatenated")
    # legacy PyTorch behaviour: 1-D empty tensors are skipped, whatever the other shapes
    idx = [i for i, x in enumerate(tensors) if x.data.shape != (0,)] or [0]
    ref = tensors[idx[0]].data.shape
    n = len(ref)
    d = wrap_dim(dim, n, "cat")
    for i in idx[1:]:
        s = tensors[i].data.shape
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


class Stack(Node):
    saves = ()

    def __init__(self, dim):
        self.dim = dim

    def forward(self, xp, *arrays):
        return xp.stack(arrays, axis=self.dim)

    def backward(self, g):
        return tuple(apply(Select(self.dim, i), g) if need else None for i, need in enumerate(self.needs_input_grad))


def stack(tensors, dim=0):
    """Join tensors of equal shape along a new dimension (dtypes are promoted)."""
    tensors = _tensor_list(tensors, "stack")
    tensors = _promote_all(tensors, "stack")
    ref = tensors[0].data.shape
    for i, x in enumerate(tensors):
        if x.data.shape != ref:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {shape_str(ref)} at entry 0 and "
                               f"{shape_str(x.data.shape)} at entry {i}")
    return apply(Stack(wrap_dim(dim, len(ref) + 1, "stack")), *tensors)


def hstack(tensors):
    """Concatenate along dim 1 (dim 0 for 1-D tensors)."""
    ts = atleast_1d(_tensor_list(tensors, "hstack"))
    return cat(ts, 0 if ts[0].data.ndim == 1 else 1)


def vstack(tensors):
    """Concatenate along dim 0 after making every tensor at least 2-D."""
    return cat(atleast_2d(_tensor_list(tensors, "vstack")), 0)


row_stack = vstack


def dstack(tensors):
    """Concatenate along dim 2 after making every tensor at least 3-D."""
    return cat(atleast_3d(_tensor_list(tensors, "dstack")), 2)


def column_stack(tensors):
    """Stack 0-D/1-D tensors as columns (and concatenate 2-D ones) along dim 1."""
    ts = _tensor_list(tensors, "column_stack")
    ts = [x.reshape(x.numel(), 1) if x.data.ndim <= 1 else x for x in ts]
    return cat(ts, 1)


bind(narrow=narrow, split=split, chunk=chunk, tensor_split=tensor_split, unbind=unbind)
