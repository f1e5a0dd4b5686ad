"""Copies that rearrange the elements: repeat/tile, flip/fliplr/flipud/rot90, roll, and tril/triu (with their
in-place forms tril_/triu_)."""
from ..autograd import Node
from ..autograd.graph import apply
from ..autograd.inplace import inplace
from ._util import as_shape, wrap_dim
from .meta import TensorMeta, same_as
from .registry import export, register
from .shape import Permute, dims_list, shape_str, transpose, varargs


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
    """A copy of the tensor with its data repeated ``sizes[i]`` times along each dimension i.

    ``sizes`` may be longer than the tensor's shape: the tensor is then treated as having size-1 dimensions in front.

    Args:
        *sizes (int or tuple of int): the number of repeats per dimension, as a tuple or as separate ints (at least
            as many as the tensor has dimensions).

    Returns:
        Tensor: a new tensor of shape ``sizes[i] * shape[i]`` per dimension.

    PyTorch:
        ``Tensor.repeat``; same semantics (NumPy's ``tile``, not ``repeat``).

    Example:
        >>> ember.tensor([1, 2]).repeat(2, 2)
        tensor([[1, 2, 1, 2],
                [1, 2, 1, 2]])
    """
    sizes = as_shape(sizes, "repeat")
    if len(sizes) < self._data.ndim:
        raise RuntimeError(f"repeat: Number of dimensions of repeat dims ({len(sizes)}) can not be smaller than number "
                           f"of dimensions of tensor ({self._data.ndim}, shape {tuple(self.shape)})")
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"repeat: Trying to create tensor with negative dimension: repeats {shape_str(sizes)}")
    return apply(Repeat(sizes), self)


@export(Repeat, methods=("tile",))
def tile(input, *args, dims=None):
    """A copy of ``input`` with its data repeated ``dims[i]`` times along each dimension i.

    Like ``Tensor.repeat``, except that ``dims`` may be shorter than the shape: missing leading repeats are 1.

    Args:
        input (Tensor): the tensor.
        *args (int or tuple of int): the number of repeats per dimension (the last ones when fewer than the
            dimensions), as one tuple or as several ints (``x.tile(2, 2)``).
        dims (int or tuple of int, optional): the same, by keyword. Default: None.

    Returns:
        Tensor: a new tensor.

    PyTorch:
        ``torch.tile`` and ``Tensor.tile``; same semantics (``ember.tile`` also accepts an int).

    Example:
        >>> ember.tile(ember.tensor([[1, 2]]), (2,))
        tensor([[1, 2, 1, 2]])
    """
    dims = varargs(args, dims, "tile", "dims")
    if dims is None:
        raise TypeError("tile() missing 1 required argument: 'dims'")
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
def flip(input, *args, dims=None):
    """A copy of ``input`` with the order of its elements reversed along the dimensions in ``dims``.

    Args:
        input (Tensor): the tensor.
        *args (int or sequence of int): the dimensions to reverse (distinct), as one sequence or as several ints
            (``x.flip(0, 1)``).
        dims (int or sequence of int, optional): the same, by keyword (``ember.flip(x, dims=[0])``).
            Default: None.

    Returns:
        Tensor: a new tensor (PyTorch's flip copies, unlike NumPy's).

    PyTorch:
        ``torch.flip`` and ``Tensor.flip``; same semantics (``ember.flip`` also accepts an int).

    Example:
        >>> ember.flip(ember.tensor([[0, 1], [2, 3]]), (0,))
        tensor([[2, 3],
                [0, 1]])
    """
    dims = varargs(args, dims, "flip", "dims")
    if dims is None:
        raise TypeError("flip() missing 1 required argument: 'dims'")
    return apply(Flip(_distinct_dims(dims, input._data.ndim, "flip")), input)


@export(Flip, methods=("fliplr",))
def fliplr(input):
    """A copy of ``input`` with its columns in reverse order: ``flip`` along dimension 1.

    Args:
        input (Tensor): a tensor of at least 2 dimensions.

    Returns:
        Tensor: a new tensor.

    PyTorch:
        ``torch.fliplr`` and ``Tensor.fliplr``; same semantics.

    Example:
        >>> ember.fliplr(ember.tensor([[0, 1], [2, 3]]))
        tensor([[1, 0],
                [3, 2]])
    """
    if input._data.ndim < 2:
        raise RuntimeError(f"fliplr: Input must be >= 2-d (got shape {tuple(input.shape)})")
    return flip(input, (1,))


@export(Flip, methods=("flipud",))
def flipud(input):
    """A copy of ``input`` with its rows in reverse order: ``flip`` along dimension 0.

    Args:
        input (Tensor): a tensor of at least 1 dimension.

    Returns:
        Tensor: a new tensor.

    PyTorch:
        ``torch.flipud`` and ``Tensor.flipud``; same semantics.

    Example:
        >>> ember.flipud(ember.tensor([[0, 1], [2, 3]]))
        tensor([[2, 3],
                [0, 1]])
    """
    if input._data.ndim < 1:
        raise RuntimeError("flipud: Input must be >= 1-d (got a 0-d tensor)")
    return flip(input, (0,))


@export(Flip, Permute, methods=("rot90",))
def rot90(input, k=1, dims=(0, 1)):
    """``input`` rotated by 90 degrees ``k`` times in the plane of ``dims``, from the first dimension to the second.

    Args:
        input (Tensor): a tensor of at least 2 dimensions.
        k (int): the number of quarter turns; negative turns the other way. Default: 1.
        dims (sequence of int): the two dimensions of the plane. Default: (0, 1).

    Returns:
        Tensor: the rotated tensor (a copy, or a view of a flipped copy).

    PyTorch:
        ``torch.rot90`` and ``Tensor.rot90``; same semantics.

    Example:
        >>> ember.rot90(ember.tensor([[0, 1], [2, 3]]))
        tensor([[1, 3],
                [0, 2]])
    """
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
    """A copy of ``input`` with its elements shifted circularly along ``dims``: those pushed past the end come in front.

    Args:
        input (Tensor): the tensor.
        shifts (int or sequence of int): the shift per dimension (negative shifts towards the start).
        dims (int or sequence of int, optional): the dimensions to shift, as many as shifts; when None, the tensor
            is shifted as if flattened, then given back its shape. Default: None.

    Returns:
        Tensor: a new tensor of the same shape.

    PyTorch:
        ``torch.roll`` and ``Tensor.roll``; same semantics.

    Example:
        >>> ember.roll(ember.arange(5), 2)
        tensor([3, 4, 0, 1, 2])
        >>> ember.roll(ember.tensor([[0, 1, 2], [3, 4, 5]]), 1, dims=1)
        tensor([[2, 0, 1],
                [5, 3, 4]])
    """
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
    """The lower triangle of the last two dimensions of ``input``: elements above the given diagonal set to 0.

    Args:
        input (Tensor): a tensor of at least 2 dimensions (a batch of matrices).
        diagonal (int): which diagonal bounds the triangle: 0 the main one, > 0 above it, < 0 below it. Default: 0.

    Returns:
        Tensor: a new tensor of the same shape.

    PyTorch:
        ``torch.tril`` and ``Tensor.tril``; same semantics.

    Example:
        >>> ember.tril(ember.ones(3, 3), diagonal=-1)
        tensor([[0., 0., 0.],
                [1., 0., 0.],
                [1., 1., 0.]])
    """
    return _triangle(Tril, "tril", input, diagonal)


@export(Triu, methods=("triu",))
def triu(input, diagonal=0):
    """The upper triangle of the last two dimensions of ``input``: elements below the given diagonal set to 0.

    Args:
        input (Tensor): a tensor of at least 2 dimensions (a batch of matrices).
        diagonal (int): which diagonal bounds the triangle: 0 the main one, > 0 above it, < 0 below it. Default: 0.

    Returns:
        Tensor: a new tensor of the same shape.

    PyTorch:
        ``torch.triu`` and ``Tensor.triu``; same semantics.

    Example:
        >>> ember.triu(ember.ones(2, 3))
        tensor([[1., 1., 1.],
                [0., 1., 1.]])
    """
    return _triangle(Triu, "triu", input, diagonal)


_INPLACE_TRIANGLE_DOC = """Keep only the {which} triangle of the last two dimensions of the tensor, in place.

The elements {side} the ``diagonal``-th diagonal are set to zero: the in-place form of ``{base}``.

Args:
    diagonal (int): which diagonal bounds the triangle: 0 the main one, > 0 above it, < 0 below it. Default: 0.

Returns:
    Tensor: self.

PyTorch:
    ``Tensor.{name}``; same semantics.

Example:
    >>> x = ember.ones(2, 3)
    >>> x.{name}()
    {shown}
"""


def _inplace_triangle(fn, name, which, side, shown):
    """Tensor.tril_ or triu_ (name): fn in place; which, side and shown (its example's output) fill the docstring."""
    def method(self, diagonal=0):
        return inplace(self, name, lambda s: fn(s, diagonal))

    method.__name__ = method.__qualname__ = name
    method.__doc__ = _INPLACE_TRIANGLE_DOC.format(which=which, side=side, base=fn.__name__, name=name, shown=shown)
    return method


tril_ = export(Tril, ember=False, methods=("tril_",))(_inplace_triangle(
    tril, "tril_", "lower", "above", "tensor([[1., 0., 0.],\n            [1., 1., 0.]])"))
triu_ = export(Triu, ember=False, methods=("triu_",))(_inplace_triangle(
    triu, "triu_", "upper", "below", "tensor([[1., 1., 1.],\n            [0., 1., 1.]])"))
