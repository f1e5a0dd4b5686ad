"""Shape views: reshape/view, permute/transpose/movedim, squeeze/unsqueeze, flatten/unflatten, expand/broadcast_to,
atleast_1d/2d/3d, diagonal and contiguous. Joining and splitting (cat, stack, split, chunk, unbind, narrow) are in
join.py; copies that rearrange the elements (repeat, tile, flip, roll, rot90, tril, triu) in rearrange.py.

Views (reshape when no copy is needed, view, permute/transpose, squeeze/unsqueeze, flatten/unflatten, expand,
narrow/split/chunk/unbind, diagonal) share memory and the version counter with their input, as in PyTorch.
``view`` differs from ``reshape`` only in raising when the new shape cannot be a view of the input's memory.
"""
import math

import numpy as np

from .. import dtypes as _dt
from ..autograd import Node
from ..autograd.graph import apply
from ..tensor import Size, Tensor
from ._broadcast import BroadcastTo
from ._util import as_shape, wrap_dim
from .meta import TensorMeta, same_as
from .registry import export, register


def shape_str(shape):
    return str(list(shape))


# --- reshape / view -------------------------------------------------------------------------------------------

def _reshape_error(op, shape, a):
    """The error PyTorch raises for a shape that does not fit the input (called after numpy refused it)."""
    bad = [s for s in shape if s < -1]
    if bad:
        return RuntimeError(f"{op}: invalid shape dimension {bad[0]} in shape {shape_str(shape)}")
    if shape.count(-1) > 1:
        return RuntimeError(f"{op}: only one dimension can be inferred (shape {shape_str(shape)})")
    return RuntimeError(f"{op}: shape '{shape_str(shape)}' is invalid for input of size {a.size} "
                        f"(input shape {tuple(a.shape)})")


def _resolved(shape, numel, op):
    """shape with its -1 (if any) replaced by the size that makes numel elements (the rule of reshape)."""
    if -1 not in shape:
        if math.prod(shape) != numel or any(s < 0 for s in shape):
            raise RuntimeError(f"{op}: shape '{shape_str(shape)}' is invalid for input of size {numel}")
        return tuple(shape)
    known = math.prod(s for s in shape if s != -1)
    if shape.count(-1) > 1 or any(s < -1 for s in shape) or known == 0 or numel % known:
        raise RuntimeError(f"{op}: shape '{shape_str(shape)}' is invalid for input of size {numel}")
    return tuple(numel // known if s == -1 else s for s in shape)


@register
class Reshape(Node):
    """The input with a new shape: a view when NumPy/CuPy can express it as one, else a copy."""

    saves = ()
    is_view = True
    op = "reshape"

    def __init__(self, shape):
        self.shape = shape

    def infer(self, a):
        return TensorMeta(_resolved(self.shape, math.prod(a.shape), self.op), a.dtype)

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


@register
class View(Reshape):
    """reshape that refuses to copy (PyTorch's view)."""

    op = "view"

    def not_a_view(self, a):
        if a.size:
            strides = tuple(s // a.itemsize for s in a.strides)
            raise RuntimeError(f"view: view size is not compatible with input tensor's size and stride (at least one "
                               f"dimension spans across two contiguous subspaces). Use .reshape(...) instead. "
                               f"(input shape {tuple(a.shape)}, stride {strides}, requested shape "
                               f"{shape_str(self.shape)})")


@export(Reshape, methods=("reshape",))
def reshape(input, *shape):
    """The elements of ``input`` with a new shape: a view when the memory allows one, else a copy.

    One size may be -1: it is inferred from the number of elements. The sizes must multiply to ``input.numel()``.

    Args:
        input (Tensor): the tensor to reshape.
        *shape (int or tuple of int): the new sizes, as a tuple or as separate ints.

    Returns:
        Tensor: a tensor of the new shape and the same dtype (input itself when the shape does not change).

    PyTorch:
        ``torch.reshape`` and ``Tensor.reshape``; same semantics (``ember.reshape`` also takes the sizes as separate
        ints, as the method does).

    Example:
        >>> ember.arange(6).reshape(2, -1)
        tensor([[0, 1, 2],
                [3, 4, 5]])
        >>> ember.reshape(ember.arange(6), (3, 2)).shape
        ember.Size([3, 2])
    """
    shape = as_shape(shape, "reshape")
    if shape == input._data.shape:
        return input
    return apply(Reshape(shape), input)


@register
class ViewDtype(Node):
    """The input's memory read as another dtype (the last dimension scales by the ratio of the item sizes)."""

    saves = ()
    is_view = True
    differentiable = False

    def __init__(self, dtype):
        self.dtype = dtype

    def infer(self, a):
        new = np.dtype(self.dtype.np)
        if new.itemsize == a.dtype.itemsize:
            return TensorMeta(a.shape, new)
        if not a.shape or (a.shape[-1] * a.dtype.itemsize) % new.itemsize:
            raise RuntimeError(f"view: cannot view a tensor of shape {tuple(a.shape)} and dtype "
                               f"{_dt.from_numpy_dtype(a.dtype)} as {self.dtype}")
        return TensorMeta(a.shape[:-1] + (a.shape[-1] * a.dtype.itemsize // new.itemsize,), new)

    def forward(self, xp, a):
        try:
            return a.view(self.dtype.np)
        except ValueError as e:
            raise RuntimeError(f"view: cannot view a tensor of shape {tuple(a.shape)} and dtype "
                               f"{_dt.from_numpy_dtype(a.dtype)} as {self.dtype} ({e})") from None


def _is_dtype(x):
    return isinstance(x, (_dt.dtype, str, type)) or (hasattr(x, "kind") and hasattr(x, "itemsize"))


@export(View, ViewDtype, ember=False, methods=("view",))
def view(self, *shape):
    """A view of the tensor with a new shape, or its memory read as another dtype.

    Unlike ``reshape``, ``view`` never copies: it raises when the new shape cannot be expressed over the tensor's
    memory (after a ``t()`` or ``permute``, for instance; call ``contiguous()`` or use ``reshape``). The view shares
    memory and the version counter with the tensor. Given a dtype, the last dimension scales by the ratio of the item
    sizes (not differentiable).

    Args:
        *shape (int, tuple of int or ember.dtype): the new sizes (one may be -1), as a tuple or separate ints; or
            a dtype.

    Returns:
        Tensor: the view (self when the shape does not change).

    PyTorch:
        ``Tensor.view``; same semantics.

    Example:
        >>> ember.arange(4).view(2, 2)
        tensor([[0, 1],
                [2, 3]])
        >>> ember.tensor([1.0]).view(ember.int32)
        tensor([1065353216], dtype=ember.int32)
    """
    if len(shape) == 1 and _is_dtype(shape[0]):
        d = _dt.to_dtype(shape[0])
        return self if d is self.dtype else apply(ViewDtype(d), self)
    shape = as_shape(shape, "view")
    if shape == self._data.shape:
        return self
    return apply(View(shape), self)


@export(View, ember=False, methods=("view_as",))
def view_as(self, other):
    """A view of the tensor with the shape of ``other`` (``self.view(other.shape)``).

    Args:
        other (Tensor): the tensor whose shape to take.

    Returns:
        Tensor: the view; raises as ``view`` does when no view is possible.

    PyTorch:
        ``Tensor.view_as``; same semantics.

    Example:
        >>> ember.arange(6).view_as(ember.zeros(2, 3)).shape
        ember.Size([2, 3])
    """
    return view(self, other._data.shape)


@export(Reshape, ember=False, methods=("reshape_as",))
def reshape_as(self, other):
    """The tensor reshaped to the shape of ``other`` (``self.reshape(other.shape)``): a view when possible, else a copy.

    Args:
        other (Tensor): the tensor whose shape to take.

    Returns:
        Tensor: the reshaped tensor.

    PyTorch:
        ``Tensor.reshape_as``; same semantics.

    Example:
        >>> ember.arange(6).reshape_as(ember.zeros(3, 2)).shape
        ember.Size([3, 2])
    """
    return reshape(self, other._data.shape)


def _view(input, shape):
    """Reshape to a shape already known to be valid (used by squeeze, unsqueeze, flatten, ...)."""
    return input if shape == input._data.shape else apply(Reshape(shape), input)


# --- permutations ---------------------------------------------------------------------------------------------

@register
class Permute(Node):
    """The input with its dimensions reordered (a view): output dimension i is input dimension dims[i]."""

    saves = ()
    is_view = True

    def __init__(self, dims):
        self.dims = dims

    def infer(self, a):
        return TensorMeta(tuple(a.shape[d] for d in self.dims), a.dtype)

    def forward(self, xp, a):
        return a.transpose(self.dims)

    def backward(self, g):
        inv = [0] * len(self.dims)
        for i, d in enumerate(self.dims):
            inv[d] = i
        return (apply(Permute(tuple(inv)), g),)


@export(Permute, methods=("permute",))
def permute(input, *dims):
    """A view of ``input`` with its dimensions reordered: dimension i of the result is dimension ``dims[i]`` of input.

    Args:
        input (Tensor): the tensor to permute.
        *dims (int or tuple of int): a permutation of the dimensions (negative counts from the end), as a tuple or as
            separate ints.

    Returns:
        Tensor: a view sharing input's memory (not contiguous in general).

    PyTorch:
        ``torch.permute`` and ``Tensor.permute``; same semantics (``ember.permute`` also takes separate ints).

    Example:
        >>> x = ember.zeros(2, 3, 4)
        >>> x.permute(2, 0, 1).shape
        ember.Size([4, 2, 3])
    """
    dims = as_shape(dims, "permute")
    n = input._data.ndim
    if len(dims) != n:
        raise RuntimeError(f"permute: number of dims don't match in permute (input.dim() = {n} for shape "
                           f"{tuple(input.shape)}, len(dims) = {len(dims)})")
    dims = tuple(wrap_dim(d, n, "permute") for d in dims)
    if len(set(dims)) != n:
        raise RuntimeError(f"permute: repeated dim in {dims}")
    return apply(Permute(dims), input)


@export(Permute, ember=("transpose", "swapaxes", "swapdims"), methods=("transpose", "swapaxes", "swapdims"))
def transpose(input, dim0, dim1):
    """A view of ``input`` with dimensions ``dim0`` and ``dim1`` swapped (also ``swapaxes`` and ``swapdims``).

    Args:
        input (Tensor): the tensor to transpose.
        dim0 (int): the first dimension (negative counts from the end).
        dim1 (int): the second dimension.

    Returns:
        Tensor: a view sharing input's memory (input itself when the two dimensions are the same).

    PyTorch:
        ``torch.transpose``, ``torch.swapaxes``, ``torch.swapdims`` and their Tensor methods; same semantics.

    Example:
        >>> ember.transpose(ember.zeros(2, 3, 4), 0, 2).shape
        ember.Size([4, 3, 2])
        >>> ember.tensor([[1, 2], [3, 4]]).swapaxes(0, 1)
        tensor([[1, 3],
                [2, 4]])
    """
    n = input._data.ndim
    d0, d1 = wrap_dim(dim0, n, "transpose"), wrap_dim(dim1, n, "transpose")
    if d0 == d1:
        return input
    dims = list(range(n))
    dims[d0], dims[d1] = d1, d0
    return apply(Permute(tuple(dims)), input)


swapaxes = swapdims = transpose


@export(Permute, methods=("t",))
def t(input):
    """The transpose of a tensor of at most 2 dimensions (a 0-d or 1-d tensor is returned as it is).

    Args:
        input (Tensor): a tensor of at most 2 dimensions (more raises ``RuntimeError``).

    Returns:
        Tensor: a view with the two dimensions swapped.

    PyTorch:
        ``torch.t`` and ``Tensor.t``; same semantics.

    Example:
        >>> ember.tensor([[1, 2], [3, 4]]).t()
        tensor([[1, 3],
                [2, 4]])
    """
    n = input._data.ndim
    if n > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {n}D (shape {tuple(input.shape)})")
    return transpose(input, 0, 1) if n == 2 else input


def _T(self):
    """The tensor with its dimensions reversed (a view): the transpose of a matrix.

    PyTorch:
        ``Tensor.T``; same result. PyTorch warns that ``T`` on a tensor of other than 2 dimensions is deprecated;
        ember does not (use ``mT`` for batches of matrices).

    Example:
        >>> ember.tensor([[1, 2, 3]]).T
        tensor([[1],
                [2],
                [3]])
    """
    n = self._data.ndim
    return self if n < 2 else apply(Permute(tuple(range(n - 1, -1, -1))), self)


def _mT(self, name="mT"):
    """The tensor with its last two dimensions swapped (a view): the transpose of each matrix of a batch.

    PyTorch:
        ``Tensor.mT``; same semantics (a tensor of fewer than 2 dimensions raises ``RuntimeError``).

    Example:
        >>> ember.zeros(5, 2, 3).mT.shape
        ember.Size([5, 3, 2])
    """
    if self._data.ndim < 2:
        raise RuntimeError(f"tensor.{name} is only supported on matrices or batches of matrices. "
                           f"Got {self._data.ndim}-D tensor.")
    return transpose(self, -2, -1)


def _H(self):
    """The conjugate transpose of a matrix (a view): its transpose, since ember's tensors are real.

    PyTorch:
        ``Tensor.H``; same semantics for real tensors (only 0-d and 2-d tensors; ember has no complex dtypes).

    Example:
        >>> ember.zeros(2, 3).H.shape
        ember.Size([3, 2])
    """
    if self._data.ndim not in (0, 2):
        raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got {self._data.ndim}-D tensor.")
    return _T(self)


T = export(Permute, ember=False, methods=("T",))(property(_T))
mT = export(Permute, ember=False, methods=("mT",))(property(_mT))
_MH_DOC = """The conjugate transpose of each matrix of a batch (a view): ``mT``, since ember's tensors are real.

PyTorch:
    ``Tensor.mH``; same semantics for real tensors (ember has no complex dtypes).

Example:
    >>> ember.zeros(5, 2, 3).mH.shape
    ember.Size([5, 3, 2])
"""
mH = export(Permute, ember=False, methods=("mH",))(property(lambda self: _mT(self, "mH"), doc=_MH_DOC))
H = export(Permute, ember=False, methods=("H",))(property(_H))


@export(Permute, methods=("adjoint",))
def adjoint(input):
    """The conjugate transpose of the last two dimensions: their transpose, since ember's tensors are real.

    Args:
        input (Tensor): a tensor of at least 2 dimensions.

    Returns:
        Tensor: a view with the last two dimensions swapped.

    PyTorch:
        ``torch.adjoint`` and ``Tensor.adjoint``; same semantics for real tensors (ember has no complex dtypes).

    Example:
        >>> ember.adjoint(ember.zeros(5, 2, 3)).shape
        ember.Size([5, 3, 2])
    """
    return _mT(input, "adjoint()")


def dims_list(d):
    return list(d) if isinstance(d, (list, tuple)) else [d]


def varargs(args, given, op, name):
    """The dimensions of an op whose Tensor method PyTorch lets take them as several ints or as one sequence
    (``x.flip(0, 1)``, ``x.flip((0, 1))``, ``ember.flip(x, dims=[0])``): ``args`` are the positional ones, ``given``
    the keyword's value; None when neither is given."""
    if given is not None:
        if args:
            raise TypeError(f"{op}() got multiple values for argument '{name}'")
        return given
    return args[0] if len(args) == 1 else (args or None)


@export(Permute, ember=("movedim", "moveaxis"), methods=("movedim", "moveaxis"))
def movedim(input, source, destination):
    """A view of ``input`` with the dimensions in ``source`` moved to the positions in ``destination``.

    The other dimensions keep their relative order. Also named ``moveaxis``.

    Args:
        input (Tensor): the tensor.
        source (int or sequence of int): the dimensions to move.
        destination (int or sequence of int): their new positions (as many as in source).

    Returns:
        Tensor: a view sharing input's memory.

    PyTorch:
        ``torch.movedim``, ``torch.moveaxis`` and their Tensor methods; same semantics.

    Example:
        >>> ember.movedim(ember.zeros(2, 3, 4), 0, -1).shape
        ember.Size([3, 4, 2])
    """
    n = input._data.ndim
    src, dst = dims_list(source), dims_list(destination)
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

@export(Reshape, methods=("squeeze",))
def squeeze(input, *args, dim=None):
    """A view of ``input`` without its dimensions of size 1: all of them, or those among ``dim`` that have size 1.

    Args:
        input (Tensor): the tensor.
        *args (int or tuple of int): the dimensions to remove if their size is 1, as one int, one tuple or several
            ints (``x.squeeze(0, 2)``); every size-1 dimension when none is given.
        dim (int or tuple of int, optional): the same, by keyword. Default: None.

    Returns:
        Tensor: a view sharing input's memory.

    PyTorch:
        ``torch.squeeze`` and ``Tensor.squeeze``; same semantics.

    Example:
        >>> x = ember.zeros(1, 2, 1)
        >>> x.squeeze().shape, x.squeeze(0).shape
        (ember.Size([2]), ember.Size([2, 1]))
    """
    shape = input._data.shape
    dim = varargs(args, dim, "squeeze", "dim")
    if dim is None:
        drop = range(len(shape))
    else:
        drop = [wrap_dim(d, len(shape), "squeeze") for d in dims_list(dim)]
    drop = {d for d in drop if d < len(shape) and shape[d] == 1}
    return _view(input, tuple(s for i, s in enumerate(shape) if i not in drop))


@export(Reshape, methods=("unsqueeze",))
def unsqueeze(input, dim):
    """A view of ``input`` with a dimension of size 1 inserted at position ``dim``.

    Args:
        input (Tensor): the tensor.
        dim (int): the position of the new dimension, in ``[-input.dim() - 1, input.dim()]`` (negative counts from
            the end of the result).

    Returns:
        Tensor: a view sharing input's memory, with one more dimension.

    PyTorch:
        ``torch.unsqueeze`` and ``Tensor.unsqueeze``; same semantics.

    Example:
        >>> ember.tensor([1, 2]).unsqueeze(1)
        tensor([[1],
                [2]])
    """
    shape = input._data.shape
    d = wrap_dim(dim, len(shape) + 1, "unsqueeze")
    return apply(Reshape(shape[:d] + (1,) + shape[d:]), input)


@export(Reshape, methods=("flatten",))
def flatten(input, start_dim=0, end_dim=-1):
    """``input`` with the dimensions ``start_dim`` to ``end_dim`` merged into one.

    A view when the memory allows one, else a copy; a 0-d input becomes a 1-d tensor of one element.

    Args:
        input (Tensor): the tensor.
        start_dim (int): the first dimension to merge. Default: 0.
        end_dim (int): the last dimension to merge (included). Default: -1.

    Returns:
        Tensor: the flattened tensor.

    PyTorch:
        ``torch.flatten`` and ``Tensor.flatten``; same semantics.

    Example:
        >>> ember.flatten(ember.zeros(2, 3, 4), start_dim=1).shape
        ember.Size([2, 12])
    """
    shape = input._data.shape
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


@export(Reshape, methods=("ravel",))
def ravel(input):
    """The elements of ``input`` as a 1-d tensor (a view when input is contiguous, else a copy).

    Args:
        input (Tensor): the tensor.

    Returns:
        Tensor: a 1-d tensor of ``input.numel()`` elements, in row-major order.

    PyTorch:
        ``torch.ravel`` and ``Tensor.ravel``; same semantics.

    Example:
        >>> ember.tensor([[1, 2], [3, 4]]).ravel()
        tensor([1, 2, 3, 4])
    """
    return reshape(input, -1)


@export(Reshape, methods=("unflatten",))
def unflatten(input, dim, sizes):
    """A view of ``input`` with dimension ``dim`` split into several of the given sizes (the inverse of ``flatten``).

    Args:
        input (Tensor): the tensor.
        dim (int): the dimension to split.
        sizes (tuple of int): the new sizes, whose product is the size of ``dim``; one may be -1 (inferred).

    Returns:
        Tensor: a view with ``len(sizes) - 1`` more dimensions.

    PyTorch:
        ``torch.unflatten`` and ``Tensor.unflatten``; same semantics.

    Example:
        >>> ember.zeros(2, 6).unflatten(1, (2, -1)).shape
        ember.Size([2, 2, 3])
    """
    shape = input._data.shape
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
    shape = x._data.shape
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


@export(Reshape)
def atleast_1d(*tensors):
    """The tensor or tensors with at least one dimension: a 0-d tensor becomes shape (1,), the others are unchanged.

    Args:
        *tensors (Tensor): one tensor, several, or one list or tuple of tensors.

    Returns:
        Tensor or tuple of Tensor: a tensor for one tensor, else a tuple (the inputs, or views of them).

    PyTorch:
        ``torch.atleast_1d``; same semantics.

    Example:
        >>> ember.atleast_1d(ember.tensor(1.0))
        tensor([1.])
    """
    return _atleast(1, tensors)


@export(Reshape)
def atleast_2d(*tensors):
    """The tensor or tensors with at least two dimensions: 0-d becomes (1, 1) and (n,) becomes (1, n).

    Args:
        *tensors (Tensor): one tensor, several, or one list or tuple of tensors.

    Returns:
        Tensor or tuple of Tensor: a tensor for one tensor, else a tuple (the inputs, or views of them).

    PyTorch:
        ``torch.atleast_2d``; same semantics.

    Example:
        >>> ember.atleast_2d(ember.tensor([1.0, 2.0]), ember.tensor(3.0))
        (tensor([[1., 2.]]), tensor([[3.]]))
    """
    return _atleast(2, tensors)


@export(Reshape)
def atleast_3d(*tensors):
    """The tensor or tensors with at least three dimensions: (n,) becomes (1, n, 1) and (m, n) becomes (m, n, 1).

    Args:
        *tensors (Tensor): one tensor, several, or one list or tuple of tensors.

    Returns:
        Tensor or tuple of Tensor: a tensor for one tensor, else a tuple (the inputs, or views of them).

    PyTorch:
        ``torch.atleast_3d``; same semantics.

    Example:
        >>> ember.atleast_3d(ember.zeros(2, 3)).shape
        ember.Size([2, 3, 1])
    """
    return _atleast(3, tensors)


# --- expand / broadcast ---------------------------------------------------------------------------------------

def _expand_shape(input, sizes, op):
    """The target shape of expand: -1 keeps a size; new dimensions go in front; sizes other than 1 must match."""
    shape = input._data.shape
    lead = len(sizes) - len(shape)
    if lead < 0:
        raise RuntimeError(f"{op}: the number of sizes provided ({len(sizes)}) must be greater or equal to the "
                           f"number of dimensions in the tensor ({len(shape)}) (shape {tuple(shape)})")
    out = list(sizes)
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise RuntimeError(f"{op}: the expanded size of the tensor ({s}) isn't allowed in a leading, "
                                   f"non-existing dimension {i} (target {shape_str(sizes)})")
            continue
        have = shape[i - lead]
        if s == -1:
            out[i] = have
        elif s != have and have != 1:
            raise RuntimeError(f"{op}: The expanded size of the tensor ({s}) must match the existing size ({have}) "
                               f"at non-singleton dimension {i}.  Target sizes: {shape_str(sizes)}.  Tensor sizes: "
                               f"{shape_str(shape)}")
        elif s < 0:
            raise RuntimeError(f"{op}: invalid expanded size {s} in {shape_str(sizes)}")
    return tuple(out)


@export(BroadcastTo, ember=False, methods=("expand",))
def expand(self, *sizes):
    """A view of the tensor with its size-1 dimensions repeated to the given sizes, without copying.

    New dimensions may be added in front; -1 keeps a dimension's size. The elements of an expanded dimension share
    memory, so write to a ``clone()`` rather than to the view.

    Args:
        *sizes (int or tuple of int): the target sizes, as a tuple or as separate ints.

    Returns:
        Tensor: the view (self when the shape does not change).

    PyTorch:
        ``Tensor.expand``; same semantics.

    Example:
        >>> ember.tensor([1, 2]).expand(2, -1)
        tensor([[1, 2],
                [1, 2]])
    """
    shape = _expand_shape(self, as_shape(sizes, "expand"), "expand")
    return self if shape == self._data.shape else apply(BroadcastTo(shape), self)


@export(BroadcastTo, ember=False, methods=("expand_as",))
def expand_as(self, other):
    """The tensor expanded to the shape of ``other`` (``self.expand(other.shape)``), without copying.

    Args:
        other (Tensor): the tensor whose shape to take.

    Returns:
        Tensor: a view of the tensor.

    PyTorch:
        ``Tensor.expand_as``; same semantics.

    Example:
        >>> ember.tensor([[1], [2]]).expand_as(ember.zeros(2, 3))
        tensor([[1, 1, 1],
                [2, 2, 2]])
    """
    return expand(self, other._data.shape)


@export(BroadcastTo, methods=("broadcast_to",))
def broadcast_to(input, shape):
    """``input`` expanded to ``shape`` by the broadcasting rules, without copying (``input.expand(shape)``).

    Args:
        input (Tensor): the tensor.
        shape (tuple of int): the target shape; -1 keeps a dimension's size.

    Returns:
        Tensor: a view of input (input itself when the shape does not change).

    PyTorch:
        ``torch.broadcast_to`` and ``Tensor.broadcast_to``; same semantics.

    Example:
        >>> ember.broadcast_to(ember.tensor([1, 2]), (2, 2))
        tensor([[1, 2],
                [1, 2]])
    """
    shape = _expand_shape(input, as_shape((shape,), "broadcast_to"), "broadcast_to")
    return input if shape == input._data.shape else apply(BroadcastTo(shape), input)


@export(ember=True)
def broadcast_shapes(*shapes):
    """The shape that tensors of the given shapes broadcast to, without making any tensor.

    Args:
        *shapes (int or tuple of int): the shapes (an int is a 1-d shape).

    Returns:
        ember.Size: the broadcast shape; shapes that do not broadcast raise ``RuntimeError``.

    PyTorch:
        ``torch.broadcast_shapes``; same semantics (the error message differs).

    Example:
        >>> ember.broadcast_shapes((3, 1), (4,))
        ember.Size([3, 4])
    """
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
    return Size(out)


@export(BroadcastTo)
def broadcast_tensors(*tensors):
    """Views of the tensors expanded to their common broadcast shape.

    Args:
        *tensors (Tensor): the tensors (or one list or tuple of them).

    Returns:
        tuple of Tensor: one view per tensor, all of the broadcast shape.

    PyTorch:
        ``torch.broadcast_tensors``; same semantics.

    Example:
        >>> a, b = ember.broadcast_tensors(ember.zeros(3, 1), ember.zeros(4))
        >>> a.shape, b.shape
        (ember.Size([3, 4]), ember.Size([3, 4]))
    """
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = tuple(broadcast_shapes(*(t._data.shape for t in tensors)))
    return tuple(t if t._data.shape == shape else apply(BroadcastTo(shape), t) for t in tensors)


# --- diagonals --------------------------------------------------------------------------------------------------

def _writable_diagonal(a, offset, d1, d2):
    d = a.diagonal(offset, d1, d2)
    flags = getattr(d, "flags", None)
    if getattr(flags, "writeable", True) is False and getattr(a.flags, "writeable", False):
        d.flags.writeable = True  # NumPy's diagonal is read-only by default; PyTorch's is a writable view
    return d


def _diagonal_shape(shape, offset, dim1, dim2):
    """The shape of a's offset-th diagonal in the (dim1, dim2) planes: the other dimensions, then its length."""
    n1, n2 = shape[dim1], shape[dim2]
    length = max(0, min(n1, n2 - offset) if offset >= 0 else min(n1 + offset, n2))
    return tuple(s for i, s in enumerate(shape) if i != dim1 and i != dim2) + (length,)


@register
class Diagonal(Node):
    """A view of the offset-th diagonal of the (dim1, dim2) planes, as the last dimension."""

    saves = ()
    is_view = True

    def __init__(self, offset, dim1, dim2):
        self.offset, self.dim1, self.dim2 = offset, dim1, dim2

    def infer(self, a):
        return TensorMeta(_diagonal_shape(a.shape, self.offset, self.dim1, self.dim2), a.dtype)

    def forward(self, xp, a):
        self.in_shape = a.shape
        return _writable_diagonal(a, self.offset, self.dim1, self.dim2)

    def backward(self, g):
        return (apply(DiagonalBackward(self.in_shape, self.offset, self.dim1, self.dim2), g),)


@register
class DiagonalBackward(Node):
    """The gradient of diagonal: g written onto the diagonal of zeros of the input's shape."""

    saves = ()

    def __init__(self, shape, offset, dim1, dim2):
        self.shape, self.offset, self.dim1, self.dim2 = shape, offset, dim1, dim2

    def infer(self, g):
        return TensorMeta(tuple(self.shape), g.dtype)

    def forward(self, xp, g):
        out = xp.zeros(self.shape, dtype=g.dtype)
        _writable_diagonal(out, self.offset, self.dim1, self.dim2)[...] = g
        return out

    def backward(self, gg):
        return (apply(Diagonal(self.offset, self.dim1, self.dim2), gg),)


@export(Diagonal, methods=("diagonal",))
def diagonal(input, offset=0, dim1=0, dim2=1):
    """A view of the ``offset``-th diagonal of the (dim1, dim2) planes of ``input``.

    The two dimensions are removed and the diagonal becomes the last dimension. The view is writable: writing to it
    writes into input.

    Args:
        input (Tensor): a tensor of at least 2 dimensions.
        offset (int): which diagonal: 0 the main one, > 0 above it, < 0 below it. Default: 0.
        dim1 (int): the first dimension of the planes. Default: 0.
        dim2 (int): the second dimension of the planes. Default: 1.

    Returns:
        Tensor: a view sharing input's memory.

    PyTorch:
        ``torch.diagonal`` and ``Tensor.diagonal``; same semantics.

    Example:
        >>> x = ember.arange(9).reshape(3, 3)
        >>> x.diagonal(), ember.diagonal(x, offset=1)
        (tensor([0, 4, 8]), tensor([1, 5]))
    """
    n = input._data.ndim
    d1, d2 = wrap_dim(dim1, n, "diagonal"), wrap_dim(dim2, n, "diagonal")
    if d1 == d2 or n < 2:
        raise RuntimeError(f"diagonal: dimensions cannot be identical {dim1}, {dim2} (tensor of shape "
                           f"{tuple(input.shape)})")
    return apply(Diagonal(int(offset), d1, d2), input)


# --- copies ---------------------------------------------------------------------------------------------------

@register
class Contiguous(Node):
    """A C-contiguous copy of the input."""

    saves = ()

    def infer(self, a):
        return same_as(a)

    def forward(self, xp, a):
        return xp.ascontiguousarray(a)

    def backward(self, g):
        return (g,)


@export(Contiguous, ember=False, methods=("contiguous",))
def contiguous(self, memory_format=None):
    """The tensor with its elements in row-major (C) order in memory: self when it already is, else a copy.

    Args:
        memory_format (optional): accepted and ignored (always row-major). Default: None.

    Returns:
        Tensor: a C-contiguous tensor with the same values.

    PyTorch:
        ``Tensor.contiguous``; same semantics, except that ``memory_format`` is ignored (no ``channels_last``).

    Example:
        >>> x = ember.zeros(2, 3).t()
        >>> x.is_contiguous(), x.contiguous().is_contiguous()
        (False, True)
    """
    return self if self._data.flags.c_contiguous else apply(Contiguous(), self)

