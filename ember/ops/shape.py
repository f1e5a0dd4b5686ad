"""Shape and data movement: reshape/view, permute/transpose, squeeze/unsqueeze, expand, cat/stack, split, ..."""
from ..autograd import Node
from ..tensor import Tensor, apply
from ._broadcast import broadcast_to
from ._util import as_shape, bind, wrap_dim

__all__ = ["reshape", "permute", "transpose", "broadcast_to", "unbind"]


class Reshape(Node):
    saves = ()
    is_view = True

    def __init__(self, shape):
        self.shape = shape

    def forward(self, xp, a):
        self.in_shape = a.shape
        try:
            return a.reshape(self.shape)
        except ValueError:
            raise RuntimeError(f"reshape: shape '{list(self.shape)}' is invalid for input of size {a.size} "
                               f"(shape {tuple(a.shape)})") from None

    def backward(self, g):
        return (g.reshape(self.in_shape),)


def reshape(input, *shape):
    """The same data with a new shape (a view when possible); one dimension may be -1."""
    shape = as_shape(shape, "reshape")
    if shape == input.data.shape:
        return input
    return apply(Reshape(shape), input)


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
        return (g.permute(*inv),)


def permute(input, *dims):
    """A view with the dimensions reordered."""
    dims = as_shape(dims, "permute")
    n = input.data.ndim
    if len(dims) != n:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match the length "
                           f"of the desired ordering of dimensions i.e. input.dim() = {n} is not equal to "
                           f"len(dims) = {len(dims)}")
    dims = tuple(wrap_dim(d, n, "permute") for d in dims)
    if len(set(dims)) != n:
        raise RuntimeError(f"permute: repeated dim in {dims}")
    return apply(Permute(dims), input)


def transpose(input, dim0, dim1):
    """A view with two dimensions swapped."""
    n = input.data.ndim
    if n < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return input
    d0, d1 = wrap_dim(dim0, n, "transpose"), wrap_dim(dim1, n, "transpose")
    dims = list(range(n))
    dims[d0], dims[d1] = d1, d0
    return apply(Permute(tuple(dims)), input)


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


bind(reshape=reshape, view=reshape, permute=permute, transpose=transpose, unbind=unbind,
     expand=lambda self, *shape: broadcast_to(self, as_shape(shape, "expand")),
     T=property(lambda self: permute(self, *reversed(range(self.data.ndim)))))
