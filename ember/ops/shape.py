"""Shape and data movement: reshape/view, permute/transpose, squeeze/unsqueeze, expand, cat/stack, split, flip, ...

Views (reshape when no copy is needed, view, permute/transpose, squeeze/unsqueeze, flatten/unflatten, expand,
narrow/split/chunk/unbind, diagonal) share memory and the version counter with their input, as in PyTorch.
``view`` differs from ``reshape`` only in raising when the new shape cannot be a view of the input's memory.
"""
from .. import dtypes as _dt
from ..autograd import Node, is_grad_enabled
from ..device import get_array_module
from ..autograd.graph import apply
from ..autograd.inplace import inplace
from ..tensor import Tensor
from ._broadcast import BroadcastTo
from ._util import as_shape, bind, wrap_dim

__all__ = [
    "reshape", "permute", "transpose", "swapaxes", "swapdims", "t", "adjoint", "squeeze", "unsqueeze", "flatten",
    "unflatten", "ravel", "broadcast_to", "broadcast_tensors", "broadcast_shapes", "cat", "concat", "concatenate",
    "stack", "hstack", "vstack", "dstack", "row_stack", "column_stack", "atleast_1d", "atleast_2d", "atleast_3d",
    "split", "chunk", "tensor_split", "unbind", "narrow", "flip", "fliplr", "flipud", "rot90", "roll", "tril",
    "triu", "tile", "diagonal", "movedim", "moveaxis",
]


def _shape_str(shape):
    return str(list(shape))


# --- reshape / view -------------------------------------------------------------------------------------------

def _reshape_error(op, shape, a):
    """The error PyTorch raises for a shape that does not fit the input (called after numpy refused it)."""
    bad = [s for s in shape if s < -1]
    if bad:
        return RuntimeError(f"{op}: invalid shape dimension {bad[0]} in shape {_shape_str(shape)}")
    if shape.count(-1) > 1:
        return RuntimeError(f"{op}: only one dimension can be inferred (shape {_shape_str(shape)})")
    return RuntimeError(f"{op}: shape '{_shape_str(shape)}' is invalid for input of size {a.size} "
                        f"(input shape {tuple(a.shape)})")


class Reshape(Node):
    """The input with a new shape: a view when NumPy/CuPy can express it as one, else a copy."""

    saves = ()
    is_view = True
    op = "reshape"

    def __init__(self, shape):
        self.shape = shape

    def forward(self, xp, a):
        self.in_shape = a.shape
        try:
            out = a.reshape(self.shape)
        except ValueError:
            raise _reshape_error(self.op, self.shape, a) from None
        b = out.base
        if b is not a and (b is None or b is not a.base) and not xp.may_share_memory(out, a):
            self.not_a_view(a)
        return out

    def not_a_view(self, a):
        self.is_view = False  # a copy was needed: the output must not share the input's version counter

    def backward(self, g):
        return (g.reshape(self.in_shape),)


class View(Reshape):
    """reshape that refuses to copy (PyTorch's view)."""

    op = "view"

    def not_a_view(self, a):
        if a.size:
            strides = tuple(s // a.itemsize for s in a.strides)
            raise RuntimeError(f"view: view size is not compatible with input tensor's size and stride (at least one "
                               f"dimension spans across two contiguous subspaces). Use .reshape(...) instead. "
                               f"(input shape {tuple(a.shape)}, stride {strides}, requested shape "
                               f"{_shape_str(self.shape)})")


def reshape(input, *shape):
    """The same data with a new shape (a view when possible, else a copy); one dimension may be -1."""
    shape = as_shape(shape, "reshape")
    if shape == input.data.shape:
        return input
    return apply(Reshape(shape), input)


class ViewDtype(Node):
    saves = ()
    is_view = True
    differentiable = False

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, xp, a):
        try:
            return a.view(self.dtype.np)
        except ValueError as e:
            raise RuntimeError(f"view: cannot view a tensor of shape {tuple(a.shape)} and dtype "
                               f"{_dt.from_numpy_dtype(a.dtype)} as {self.dtype} ({e})") from None


def _is_dtype(x):
    return isinstance(x, (_dt.dtype, str, type)) or (hasattr(x, "kind") and hasattr(x, "itemsize"))


def view(self, *shape):
    """A view with a new shape (raises instead of copying, unlike reshape), or a view as another dtype."""
    if len(shape) == 1 and _is_dtype(shape[0]):
        d = _dt.to_dtype(shape[0])
        return self if d is self.dtype else apply(ViewDtype(d), self)
    shape = as_shape(shape, "view")
    if shape == self.data.shape:
        return self
    return apply(View(shape), self)


def view_as(self, other):
    """view(other.shape)."""
    return view(self, other.data.shape)


def reshape_as(self, other):
    """reshape(other.shape)."""
    return reshape(self, other.data.shape)


def _view(input, shape):
    """Reshape to a shape already known to be valid (used by squeeze, unsqueeze, flatten, ...)."""
    return input if shape == input.data.shape else apply(Reshape(shape), input)


# --- permutations ---------------------------------------------------------------------------------------------

class Permute(Node):
    saves = ()
    is_view = True

    def __init__(self, dims):
        self.dims = dims

    def forward(self, xp, a):
        return a.transpose(self.dims)

    def backward(self, g):
        inv = [0] * len(self.dims)
        for i, d in enumerate(self.dims):
            inv[d] = i
        return (apply(Permute(tuple(inv)), g),)


def permute(input, *dims):
    """A view with the dimensions reordered."""
    dims = as_shape(dims, "permute")
    n = input.data.ndim
    if len(dims) != n:
        raise RuntimeError(f"permute: number of dims don't match in permute (input.dim() = {n} for shape "
                           f"{tuple(input.shape)}, len(dims) = {len(dims)})")
    dims = tuple(wrap_dim(d, n, "permute") for d in dims)
    if len(set(dims)) != n:
        raise RuntimeError(f"permute: repeated dim in {dims}")
    return apply(Permute(dims), input)


def transpose(input, dim0, dim1):
    """A view with two dimensions swapped."""
    n = input.data.ndim
    d0, d1 = wrap_dim(dim0, n, "transpose"), wrap_dim(dim1, n, "transpose")
    if d0 == d1:
        return input
    dims = list(range(n))
    dims[d0], dims[d1] = d1, d0
    return apply(Permute(tuple(dims)), input)


swapaxes = swapdims = transpose


def t(input):
    """Transpose of a tensor with at most 2 dimensions (0-D and 1-D tensors are returned as is)."""
    n = input.data.ndim
    if n > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {n}D (shape {tuple(input.shape)})")
    return transpose(input, 0, 1) if n == 2 else input


def _T(self):
    n = self.data.ndim
    return self if n < 2 else apply(Permute(tuple(range(n - 1, -1, -1))), self)


def _mT(self, name="mT"):
    if self.data.ndim < 2:
        raise RuntimeError(f"tensor.{name} is only supported on matrices or batches of matrices. "
                           f"Got {self.data.ndim}-D tensor.")
    return transpose(self, -2, -1)


def _H(self):
    if self.data.ndim not in (0, 2):
        raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got {self.data.ndim}-D tensor.")
    return _T(self)


def adjoint(input):
    """The conjugate transpose of the last two dimensions (the transpose, for real tensors)."""
    return _mT(input, "adjoint()")


def _dims_list(d):
    return list(d) if isinstance(d, (list, tuple)) else [d]


def movedim(input, source, destination):
    """A view with the dimensions in source moved to the positions in destination (the others keep their order)."""
    n = input.data.ndim
    src, dst = _dims_list(source), _dims_list(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) should contain the "
                           f"same number of dims as destination ({dst} dims)")
    src = [wrap_dim(d, n, "movedim") for d in src]
    dst = [wrap_dim(d, n, "movedim") for d in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise RuntimeError(f"movedim: repeated dim in `source` ({src}) or `destination` ({dst})")
    order = [None] * n
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(d for d in range(n) if d not in src)
    order = tuple(o if o is not None else next(rest) for o in order)
    return apply(Permute(order), input)


moveaxis = movedim


# --- squeeze / unsqueeze / flatten --------------------------------------------------------------------------------

def squeeze(input, dim=None):
    """A view without the dimensions of size 1 (all of them, or those in dim that have size 1)."""
    shape = input.data.shape
    if dim is None:
        drop = range(len(shape))
    else:
        drop = [wrap_dim(d, len(shape), "squeeze") for d in _dims_list(dim)]
    drop = {d for d in drop if d < len(shape) and shape[d] == 1}
    return _view(input, tuple(s for i, s in enumerate(shape) if i not in drop))


def unsqueeze(input, dim):
    """A view with a dimension of size 1 inserted at dim."""
    shape = input.data.shape
    d = wrap_dim(dim, len(shape) + 1, "unsqueeze")
    return apply(Reshape(shape[:d] + (1,) + shape[d:]), input)


def flatten(input, start_dim=0, end_dim=-1):
    """Merge dimensions start_dim..end_dim into one (a view when possible; a 0-D input becomes 1-D)."""
    shape = input.data.shape
    n = len(shape)
    s, e = wrap_dim(start_dim, n, "flatten"), wrap_dim(end_dim, n, "flatten")
    if s > e:
        raise RuntimeError(f"flatten() has invalid args: start_dim ({start_dim}) cannot come after end_dim "
                           f"({end_dim}) for a tensor of shape {tuple(shape)}")
    if n == 0:
        return apply(Reshape((1,)), input)
    size = 1
    for x in shape[s:e + 1]:
        size *= x
    return _view(input, shape[:s] + (size,) + shape[e + 1:])


def ravel(input):
    """The elements as a 1-D tensor (a view when the input is contiguous)."""
    return reshape(input, -1)


def unflatten(input, dim, sizes):
    """Split dimension dim into the given sizes (one may be -1)."""
    shape = input.data.shape
    d = wrap_dim(dim, len(shape), "unflatten")
    sizes = as_shape((sizes,), "unflatten")
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    known = 1
    for s in sizes:
        if s != -1:
            known *= s
    n_inferred = sizes.count(-1)
    ok = n_inferred <= 1 and all(s >= -1 for s in sizes) and (
        known == shape[d] if n_inferred == 0 else (known != 0 and shape[d] % known == 0))
    if not ok:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {dim} "
                           f"({shape[d]}) in the input tensor of shape {tuple(shape)}")
    if n_inferred:
        sizes = tuple(shape[d] // known if s == -1 else s for s in sizes)
    return _view(input, shape[:d] + sizes + shape[d + 1:])


def _atleast_one(n, x):
    shape = x.data.shape
    k = len(shape)
    if k >= n:
        return x
    if k == 0:
        new = (1,) * n
    elif k == 1:
        new = (1,) + shape + (1,) * (n - 2)
    else:
        new = shape + (1,)
    return apply(Reshape(new), x)


def _atleast(n, tensors):
    single = len(tensors) == 1 and isinstance(tensors[0], Tensor)
    ts = tensors[0] if len(tensors) == 1 and not single else tensors
    out = tuple(_atleast_one(n, x) for x in ts)
    return out[0] if single else out


def atleast_1d(*tensors):
    """The tensor(s) with at least one dimension (0-D tensors become shape (1,))."""
    return _atleast(1, tensors)


def atleast_2d(*tensors):
    """The tensor(s) with at least two dimensions (a 1-D tensor of n elements becomes (1, n))."""
    return _atleast(2, tensors)


def atleast_3d(*tensors):
    """The tensor(s) with at least three dimensions ((n,) becomes (1, n, 1); (m, n) becomes (m, n, 1))."""
    return _atleast(3, tensors)


# --- expand / broadcast / repeat ------------------------------------------------------------------------------

def _expand_shape(input, sizes, op):
    """The target shape of expand: -1 keeps a size; new dimensions go in front; sizes other than 1 must match."""
    shape = input.data.shape
    lead = len(sizes) - len(shape)
    if lead < 0:
        raise RuntimeError(f"{op}: the number of sizes provided ({len(sizes)}) must be greater or equal to the "
                           f"number of dimensions in the tensor ({len(shape)}) (shape {tuple(shape)})")
    out = list(sizes)
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise RuntimeError(f"{op}: the expanded size of the tensor ({s}) isn't allowed in a leading, "
                                   f"non-existing dimension {i} (target {_shape_str(sizes)})")
            continue
        have = shape[i - lead]
        if s == -1:
            out[i] = have
        elif s != have and have != 1:
            raise RuntimeError(f"{op}: The expanded size of the tensor ({s}) must match the existing size ({have}) "
                               f"at non-singleton dimension {i}.  Target sizes: {_shape_str(sizes)}.  Tensor sizes: "
                               f"{_shape_str(shape)}")
        elif s < 0:
            raise RuntimeError(f"{op}: invalid expanded size {s} in {_shape_str(sizes)}")
    return tuple(out)


def expand(self, *sizes):
    """A view with size-1 dimensions repeated (no copy) to sizes; -1 keeps a dimension's size."""
    shape = _expand_shape(self, as_shape(sizes, "expand"), "expand")
    return self if shape == self.data.shape else apply(BroadcastTo(shape), self)


def expand_as(self, other):
    """expand(other.shape)."""
    return expand(self, other.data.shape)


def broadcast_to(input, shape):
    """input expanded to shape (a view); -1 keeps a dimension's size."""
    shape = _expand_shape(input, as_shape((shape,), "broadcast_to"), "broadcast_to")
    return input if shape == input.data.shape else apply(BroadcastTo(shape), input)


def broadcast_shapes(*shapes):
    """The shape that tensors of the given shapes broadcast to."""
    shapes = [(s,) if isinstance(s, int) else tuple(s) for s in shapes]
    n = max((len(s) for s in shapes), default=0)
    out = [1] * n
    for s in shapes:
        for i, x in enumerate(s, n - len(s)):
            if x != 1 and out[i] != 1 and x != out[i]:
                raise RuntimeError(f"broadcast_shapes: shape mismatch: objects cannot be broadcast to a single shape "
                                   f"(shapes {', '.join(str(tuple(t)) for t in shapes)})")
            if x != 1 or out[i] == 1:
                out[i] = x
    from ..tensor import Size
    return Size(out)


def broadcast_tensors(*tensors):
    """Views of the tensors expanded to their common broadcast shape."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = tuple(broadcast_shapes(*(t.data.shape for t in tensors)))
    return tuple(t if t.data.shape == shape else apply(BroadcastTo(shape), t) for t in tensors)


class Repeat(Node):
    saves = ()

    def __init__(self, repeats):
        self.repeats = repeats

    def forward(self, xp, a):
        self.in_shape = a.shape
        return xp.tile(a, self.repeats)

    def backward(self, g):
        reps = self.repeats
        padded = (1,) * (len(reps) - len(self.in_shape)) + tuple(self.in_shape)
        split = []
        for r, s in zip(reps, padded):
            split += [r, s]
        summed = g.reshape(split).sum(dim=tuple(range(0, 2 * len(reps), 2)))
        return (summed.reshape(self.in_shape),)


def repeat(self, *sizes):
    """A copy with the data repeated sizes[i] times along each dimension (new dimensions go in front)."""
    sizes = as_shape(sizes, "repeat")
    if len(sizes) < self.data.ndim:
        raise RuntimeError(f"repeat: Number of dimensions of repeat dims ({len(sizes)}) can not be smaller than number "
                           f"of dimensions of tensor ({self.data.ndim}, shape {tuple(self.shape)})")
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"repeat: Trying to create tensor with negative dimension: repeats {_shape_str(sizes)}")
    return apply(Repeat(sizes), self)


def tile(input, dims):
    """repeat, with missing leading repeats taken as 1."""
    dims = as_shape((dims,), "tile")
    return repeat(input, (1,) * (input.data.ndim - len(dims)) + dims)


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
            from .creation import zeros
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
        from .index import select_backward
        return (select_backward(g, self.in_shape, self.dim, self.index),)


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
    dev = first.device
    for i, x in enumerate(tensors):
        if x.device != dev:
            raise RuntimeError(f"{op}(): Expected all tensors to be on the same device, but found at least two "
                               f"devices, {dev} (tensor 0) and {x.device} (tensor {i})!")
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
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {_shape_str(ref)} at entry 0 and "
                               f"{_shape_str(x.data.shape)} at entry {i}")
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


# --- flip / roll / rot90 --------------------------------------------------------------------------------------

class Flip(Node):
    saves = ()

    def __init__(self, dims):
        self.dims = dims

    def forward(self, xp, a):
        return xp.flip(a, self.dims).copy()  # PyTorch's flip copies

    def backward(self, g):
        return (apply(Flip(self.dims), g),)


def _distinct_dims(dims, n, op):
    out = tuple(wrap_dim(d, n, op) for d in _dims_list(dims))
    if len(set(out)) != len(out):
        raise RuntimeError(f"{op}: dims {tuple(_dims_list(dims))} has a dim appearing multiple times in the list of "
                           f"dims")
    return out


def flip(input, dims):
    """A copy with the order of elements reversed along dims."""
    return apply(Flip(_distinct_dims(dims, input.data.ndim, "flip")), input)


def fliplr(input):
    """flip along dim 1 (needs at least 2 dimensions)."""
    if input.data.ndim < 2:
        raise RuntimeError(f"fliplr: Input must be >= 2-d (got shape {tuple(input.shape)})")
    return flip(input, (1,))


def flipud(input):
    """flip along dim 0 (needs at least 1 dimension)."""
    if input.data.ndim < 1:
        raise RuntimeError("flipud: Input must be >= 1-d (got a 0-d tensor)")
    return flip(input, (0,))


def rot90(input, k=1, dims=(0, 1)):
    """Rotate by 90 degrees k times in the plane of dims, from the first towards the second."""
    dims = tuple(dims)
    n = input.data.ndim
    if len(dims) != 2 or n < 2:
        raise RuntimeError(f"rot90: expected total rotation dims == 2 and total dims >= 2, but got {len(dims)} dims "
                           f"and a tensor of shape {tuple(input.shape)}")
    d0, d1 = _distinct_dims(dims, n, "rot90")
    k %= 4
    if k == 1:
        return transpose(flip(input, (d1,)), d0, d1)
    if k == 2:
        return flip(input, (d0, d1))
    if k == 3:
        return transpose(flip(input, (d0,)), d0, d1)
    return input.clone()


class Roll(Node):
    saves = ()

    def __init__(self, shifts, dims):
        self.shifts, self.dims = shifts, dims

    def forward(self, xp, a):
        return xp.roll(a, self.shifts, axis=self.dims)

    def backward(self, g):
        neg = tuple(-s for s in self.shifts) if isinstance(self.shifts, tuple) else -self.shifts
        return (apply(Roll(neg, self.dims), g),)


def roll(input, shifts, dims=None):
    """Shift elements circularly along dims (over the flattened tensor when dims is None)."""
    if dims is None:
        sh = _dims_list(shifts)
        if len(sh) != 1:
            raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(sh)}, dims: 0")
        return apply(Roll(int(sh[0]), None), input)
    sh, dl = _dims_list(shifts), _dims_list(dims)
    if len(sh) != len(dl):
        raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(sh)}, dims: {len(dl)}")
    n = input.data.ndim
    return apply(Roll(tuple(int(s) for s in sh), tuple(wrap_dim(d, n, "roll") for d in dl)), input)


# --- triangles and diagonals ----------------------------------------------------------------------------------

class _Triangle(Node):
    saves = ()
    fn = None

    def __init__(self, k):
        self.k = k

    def forward(self, xp, a):
        return getattr(xp, self.fn)(a, self.k)

    def backward(self, g):
        return (apply(type(self)(self.k), g),)


class Tril(_Triangle):
    fn = "tril"


class Triu(_Triangle):
    fn = "triu"


def _triangle(cls, name, input, diagonal):
    if input.data.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions (got shape {tuple(input.shape)})")
    return apply(cls(int(diagonal)), input)


def tril(input, diagonal=0):
    """The lower triangle of the last two dimensions (elements above the diagonal-th diagonal set to zero)."""
    return _triangle(Tril, "tril", input, diagonal)


def triu(input, diagonal=0):
    """The upper triangle of the last two dimensions (elements below the diagonal-th diagonal set to zero)."""
    return _triangle(Triu, "triu", input, diagonal)


def _writable_diagonal(a, offset, d1, d2):
    d = a.diagonal(offset, d1, d2)
    flags = getattr(d, "flags", None)
    if getattr(flags, "writeable", True) is False and getattr(a.flags, "writeable", False):
        d.flags.writeable = True  # NumPy's diagonal is read-only by default; PyTorch's is a writable view
    return d


class Diagonal(Node):
    saves = ()
    is_view = True

    def __init__(self, offset, dim1, dim2):
        self.offset, self.dim1, self.dim2 = offset, dim1, dim2

    def forward(self, xp, a):
        self.in_shape = a.shape
        return _writable_diagonal(a, self.offset, self.dim1, self.dim2)

    def backward(self, g):
        return (apply(DiagonalBackward(self.in_shape, self.offset, self.dim1, self.dim2), g),)


class DiagonalBackward(Node):
    """The gradient of diagonal: g written onto the diagonal of zeros of the input's shape."""

    saves = ()

    def __init__(self, shape, offset, dim1, dim2):
        self.shape, self.offset, self.dim1, self.dim2 = shape, offset, dim1, dim2

    def forward(self, xp, g):
        out = xp.zeros(self.shape, dtype=g.dtype)
        _writable_diagonal(out, self.offset, self.dim1, self.dim2)[...] = g
        return out

    def backward(self, gg):
        return (apply(Diagonal(self.offset, self.dim1, self.dim2), gg),)


def diagonal(input, offset=0, dim1=0, dim2=1):
    """A view of the offset-th diagonal of the (dim1, dim2) planes, as the last dimension."""
    n = input.data.ndim
    d1, d2 = wrap_dim(dim1, n, "diagonal"), wrap_dim(dim2, n, "diagonal")
    if d1 == d2 or n < 2:
        raise RuntimeError(f"diagonal: dimensions cannot be identical {dim1}, {dim2} (tensor of shape "
                           f"{tuple(input.shape)})")
    return apply(Diagonal(int(offset), d1, d2), input)


# --- copies ---------------------------------------------------------------------------------------------------

class Contiguous(Node):
    saves = ()

    def forward(self, xp, a):
        return xp.ascontiguousarray(a)

    def backward(self, g):
        return (g,)


def contiguous(self, memory_format=None):
    """self when it is C-contiguous, else a contiguous copy."""
    return self if self.data.flags.c_contiguous else apply(Contiguous(), self)


def _inplace_triangle(fn, name):
    def method(self, diagonal=0):
        return inplace(self, name, lambda s: fn(s, diagonal))

    method.__name__ = name
    return method


bind(
    reshape=reshape, view=view, view_as=view_as, reshape_as=reshape_as, permute=permute, transpose=transpose,
    swapaxes=transpose, swapdims=transpose, t=t, T=property(_T), mT=property(_mT),
    mH=property(lambda self: _mT(self, "mH")), H=property(_H), adjoint=adjoint, movedim=movedim, moveaxis=movedim,
    squeeze=squeeze, unsqueeze=unsqueeze, flatten=flatten, unflatten=unflatten, ravel=ravel,
    expand=expand, expand_as=expand_as, broadcast_to=broadcast_to, repeat=repeat, tile=tile,
    narrow=narrow, split=split, chunk=chunk, tensor_split=tensor_split, unbind=unbind,
    flip=flip, fliplr=fliplr, flipud=flipud, rot90=rot90, roll=roll, tril=tril, triu=triu, diagonal=diagonal,
    contiguous=contiguous, tril_=_inplace_triangle(tril, "tril_"), triu_=_inplace_triangle(triu, "triu_"),
)
