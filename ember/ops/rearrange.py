"""Copies that rearrange the elements: repeat/tile, flip/fliplr/flipud/rot90, roll, and tril/triu (with their
in-place forms tril_/triu_)."""
from ..autograd import Node
from ..autograd.graph import apply
from ..autograd.inplace import inplace
from ._util import as_shape, wrap_dim
from .meta import TensorMeta, same_as
from .registry import export, register
from .shape import Permute, dims_list, shape_str, transpose


# --- repeat / tile --------------------------------------------------------------------------------------------

@register
class Repeat(Node):
    """The input tiled repeats[i] times along each dimension (a copy; new leading dimensions for extra repeats)."""

    saves = ()

    def __init__(self, repeats):
        self.repeats = repeats

    def infer(self, a):
        reps = self.repeats
        padded = (1,) * (len(reps) - a.ndim) + tuple(a.shape)
        return TensorMeta(tuple(r * s for r, s in zip(reps, padded)), a.dtype)

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


@export(Repeat, ember=False, methods=("repeat",))
def repeat(self, *sizes):
    """A copy with the data repeated sizes[i] times along each dimension (new dimensions go in front)."""
    sizes = as_shape(sizes, "repeat")
    if len(sizes) < self._data.ndim:
        raise RuntimeError(f"repeat: Number of dimensions of repeat dims ({len(sizes)}) can not be smaller than number "
                           f"of dimensions of tensor ({self._data.ndim}, shape {tuple(self.shape)})")
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"repeat: Trying to create tensor with negative dimension: repeats {shape_str(sizes)}")
    return apply(Repeat(sizes), self)


@export(Repeat, methods=("tile",))
def tile(input, dims):
    """repeat, with missing leading repeats taken as 1."""
    dims = as_shape((dims,), "tile")
    return repeat(input, (1,) * (input._data.ndim - len(dims)) + dims)


# --- flip / roll / rot90 --------------------------------------------------------------------------------------

@register
class Flip(Node):
    """A copy with the order of elements reversed along dims."""

    saves = ()

    def __init__(self, dims):
        self.dims = dims

    def infer(self, a):
        return same_as(a)

    def forward(self, xp, a):
        return xp.flip(a, self.dims).copy()  # PyTorch's flip copies

    def backward(self, g):
        return (apply(Flip(self.dims), g),)


def _distinct_dims(dims, n, op):
    out = tuple(wrap_dim(d, n, op) for d in dims_list(dims))
    if len(set(out)) != len(out):
        raise RuntimeError(f"{op}: dims {tuple(dims_list(dims))} has a dim appearing multiple times in the list of "
                           f"dims")
    return out


@export(Flip, methods=("flip",))
def flip(input, dims):
    """A copy with the order of elements reversed along dims."""
    return apply(Flip(_distinct_dims(dims, input._data.ndim, "flip")), input)


@export(Flip, methods=("fliplr",))
def fliplr(input):
    """flip along dim 1 (needs at least 2 dimensions)."""
    if input._data.ndim < 2:
        raise RuntimeError(f"fliplr: Input must be >= 2-d (got shape {tuple(input.shape)})")
    return flip(input, (1,))


@export(Flip, methods=("flipud",))
def flipud(input):
    """flip along dim 0 (needs at least 1 dimension)."""
    if input._data.ndim < 1:
        raise RuntimeError("flipud: Input must be >= 1-d (got a 0-d tensor)")
    return flip(input, (0,))


@export(Flip, Permute, methods=("rot90",))
def rot90(input, k=1, dims=(0, 1)):
    """Rotate by 90 degrees k times in the plane of dims, from the first towards the second."""
    dims = tuple(dims)
    n = input._data.ndim
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


@register
class Roll(Node):
    """Elements shifted circularly along dims (over the flattened input when dims is None)."""

    saves = ()

    def __init__(self, shifts, dims):
        self.shifts, self.dims = shifts, dims

    def infer(self, a):
        return same_as(a)

    def forward(self, xp, a):
        return xp.roll(a, self.shifts, axis=self.dims)

    def backward(self, g):
        neg = tuple(-s for s in self.shifts) if isinstance(self.shifts, tuple) else -self.shifts
        return (apply(Roll(neg, self.dims), g),)


@export(Roll, methods=("roll",))
def roll(input, shifts, dims=None):
    """Shift elements circularly along dims (over the flattened tensor when dims is None)."""
    if dims is None:
        sh = dims_list(shifts)
        if len(sh) != 1:
            raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(sh)}, dims: 0")
        return apply(Roll(int(sh[0]), None), input)
    sh, dl = dims_list(shifts), dims_list(dims)
    if len(sh) != len(dl):
        raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(sh)}, dims: {len(dl)}")
    n = input._data.ndim
    return apply(Roll(tuple(int(s) for s in sh), tuple(wrap_dim(d, n, "roll") for d in dl)), input)


# --- triangles ------------------------------------------------------------------------------------------------

class _Triangle(Node):
    """The lower (tril) or upper (triu) triangle of the last two dimensions relative to the k-th diagonal."""

    saves = ()
    fn = None

    def __init__(self, k):
        self.k = k

    def infer(self, a):
        return same_as(a)

    def forward(self, xp, a):
        return getattr(xp, self.fn)(a, self.k)

    def backward(self, g):
        return (apply(type(self)(self.k), g),)


@register
class Tril(_Triangle):
    fn = "tril"


@register
class Triu(_Triangle):
    fn = "triu"


def _triangle(cls, name, input, diagonal):
    if input._data.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions (got shape {tuple(input.shape)})")
    return apply(cls(int(diagonal)), input)


@export(Tril, methods=("tril",))
def tril(input, diagonal=0):
    """The lower triangle of the last two dimensions (elements above the diagonal-th diagonal set to zero)."""
    return _triangle(Tril, "tril", input, diagonal)


@export(Triu, methods=("triu",))
def triu(input, diagonal=0):
    """The upper triangle of the last two dimensions (elements below the diagonal-th diagonal set to zero)."""
    return _triangle(Triu, "triu", input, diagonal)


def _inplace_triangle(fn, name):
    def method(self, diagonal=0):
        """The in-place form of ``tril``/``triu`` (torch.Tensor.tril_, triu_): self keeps only its lower (tril_) or
        upper (triu_) triangle of the last two dimensions, the other elements set to zero; returns self.
        """
        return inplace(self, name, lambda s: fn(s, diagonal))

    method.__name__ = name
    return method


tril_ = export(Tril, ember=False, methods=("tril_",))(_inplace_triangle(tril, "tril_"))
triu_ = export(Triu, ember=False, methods=("triu_",))(_inplace_triangle(triu, "triu_"))
