"""Reductions over dimensions: sum, mean, prod, max/min, var/std, logsumexp, cumsum, norm, all/any, ..."""
from ..autograd import Node
from ..tensor import Tensor, apply
from ._broadcast import broadcast_to
from ._util import bind, wrap_dims

__all__ = ["sum", "mean"]


def _keep_shape(shape, dims):
    """The shape of a keepdim=True reduction over dims."""
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


class Sum(Node):
    saves = ()

    def __init__(self, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim

    def forward(self, xp, a):
        self.in_shape = a.shape
        return a.sum(axis=self.dims, keepdims=self.keepdim)

    def backward(self, g):
        if not self.keepdim:
            g = g.reshape(_keep_shape(self.in_shape, self.dims))
        return (broadcast_to(g, self.in_shape),)


def sum(input, dim=None, keepdim=False, dtype=None):
    """Sum over dim (an int, a tuple, or None for all); integer and bool inputs sum as int64."""
    dims = wrap_dims(dim, input.data.ndim, "sum")
    if dtype is not None:
        input = input.to(dtype)
    elif input.data.dtype.kind in "bi" and input.data.dtype.itemsize < 8 or input.data.dtype.kind in "bu":
        from .. import dtypes
        input = input.to(dtypes.int64)
    return apply(Sum(dims, keepdim), input)


def mean(input, dim=None, keepdim=False, dtype=None):
    """Mean over dim; only floating-point inputs (as in PyTorch)."""
    if dtype is not None:
        input = input.to(dtype)
    if not input.is_floating_point():
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating point or "
                           f"complex dtype. Got: {input.dtype}")
    dims = wrap_dims(dim, input.data.ndim, "mean")
    n = 1
    for d in dims:
        n *= input.data.shape[d]
    return sum(input, dim, keepdim) / n if n else sum(input, dim, keepdim) * float("nan")


bind(sum=sum, mean=mean)
