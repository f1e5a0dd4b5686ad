"""Small helpers shared by the op modules."""
import functools

import numpy as np

from ..device import get_array_module
from ..tensor import Tensor, _wrap_dim


def wrap_dim(dim, ndim, op="op"):
    """A dimension index in [0, ndim), or IndexError naming the op."""
    return _wrap_dim(dim, ndim, op)


def wrap_dims(dim, ndim, op="op"):
    """A sorted tuple of distinct dimension indices from an int, a tuple/list, or None (all dimensions)."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (list, tuple)):
        dims = tuple(sorted(_wrap_dim(d, ndim, op) for d in dim))
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"{op}: dim {dim} appears multiple times in the list of dims")
        return dims
    return (_wrap_dim(dim, ndim, op),)


def as_shape(args, op="op"):
    """Normalise shape arguments given as ints or as one tuple/list/Size."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    try:
        return tuple(int(s) for s in args)
    except TypeError:
        raise TypeError(f"{op}: expected a shape of ints, got {args!r}") from None


def as_array(r):
    """r as an array: NumPy gives scalars for 0-d results (CuPy arrays stay as they are)."""
    return np.asarray(r) if isinstance(r, np.generic) else r


def shape_of(x):
    """The shape of a tensor or an array; () for a number."""
    return getattr(x, "shape", ())


def zero_gradient(g):
    """A zero gradient shaped like g (not g * 0, which would turn inf into nan)."""
    return Tensor._wrap(get_array_module(g._data).zeros_like(g._data))


def accumulates_in_float32(forward):
    """Decorate a Node's ``forward(self, xp, a, *arrays)`` that sums (reductions, softmax): 16-bit float arrays
    (float16, bfloat16) are computed in float32 and the output rounded back once, as PyTorch's CPU kernels do
    (NumPy would sum bfloat16 in bfloat16: 4096 values near 3 add up to 2048). What forward keeps as ``self.out``
    becomes the rounded output too."""
    @functools.wraps(forward)
    def wrapped(self, xp, a, *arrays):
        dtype = a.dtype
        if dtype.itemsize != 2 or dtype.kind not in "fV":
            return forward(self, xp, a, *arrays)
        wide = [x.astype(np.float32) if getattr(x, "dtype", None) == dtype else x for x in arrays]
        out = forward(self, xp, a.astype(np.float32), *wide)
        rounded = out.astype(dtype)
        if self.__dict__.get("out") is out:
            self.out = rounded
        return rounded
    return wrapped
