"""Copies, casts and moves: to_copy (the op behind Tensor.to and every cast), clone, the in-place writes fill_,
zero_ and copy_, and Tensor.to with its shorthands (cpu, cuda, type, float, double, half, bfloat16, long, int,
short, bool, byte, char)."""
import numpy as np

from .. import dtypes as _dt
from ..autograd import Node
from ..autograd.graph import apply, increment_version
from ..autograd.inplace import check_writable, inplace, records
from ..device import device_of, move, to_device
from ..tensor import Tensor
from ._broadcast import sum_to
from ._checks import scalar
from ._util import bind, shape_of, zero_gradient

__all__ = ["clone"]


# --- casts and copies ---------------------------------------------------------------------------------------------

class ToCopy(Node):
    saves = ()

    def __init__(self, dtype=None, device=None):
        self.dtype, self.device = dtype, device

    def forward(self, xp, a):
        self.src_dtype, self.src_device = a.dtype, None
        out = a
        if self.device is not None:
            self.src_device = device_of(a)
            out = move(out, self.device)
        if self.dtype is not None and out.dtype != self.dtype.np:
            out = out.astype(self.dtype.np)
        if out is a:
            out = a.copy()
        return out

    def backward(self, g):
        if self.src_device is not None:
            g = to_copy(g, device=self.src_device)
        if g.data.dtype != self.src_dtype:
            g = to_copy(g, dtype=_dt.from_numpy_dtype(self.src_dtype))
        return (g,)


def to_copy(input, dtype=None, device=None):
    """A copy of input converted to dtype and/or moved to device (differentiable)."""
    node = ToCopy(dtype, device)
    if dtype is not None and dtype.category != _dt._FLOAT:
        node.differentiable = False
    return apply(node, input)


class Clone(Node):
    saves = ()

    def forward(self, xp, a):
        return a.copy()

    def backward(self, g):
        return (g,)


def clone(input, memory_format=None):
    """A copy of input that is part of the autograd graph."""
    return apply(Clone(), input)


class Fill(Node):
    saves = ()

    def __init__(self, value):
        self.value = value

    def forward(self, xp, a):
        return xp.full(a.shape, self.value, dtype=a.dtype)

    def backward(self, g):
        return (zero_gradient(g),)


def fill_(self, value):
    """Set every element to value (a number or a 0-dim tensor), in place."""
    if isinstance(value, Tensor):
        if value.data.ndim:
            raise RuntimeError(f"fill_: only supports 0-dimension value tensor but got tensor with "
                               f"{value.data.ndim} dimensions.")
        return copy_(self, value)
    value = scalar(value, "fill_")
    if not records(self):
        check_writable(self, "fill_")
        self.data[...] = value
        increment_version(self)
        return self
    return inplace(self, "fill_", lambda s: apply(Fill(value), s))


def zero_(self):
    """Set every element to zero (in place)."""
    return fill_(self, 0)


class CopyFrom(Node):
    saves = ()

    def forward(self, xp, dst, src):
        self.src_shape, self.src_dtype, self.src_device = shape_of(src), src.dtype, device_of(src)
        out = xp.empty_like(dst)
        out[...] = move(src, device_of(dst))
        return out

    def backward(self, g):
        ndst, nsrc = self.needs_input_grad
        gs = None
        if nsrc:
            gs = sum_to(g, self.src_shape)
            if gs.data.dtype != self.src_dtype:
                gs = to_copy(gs, dtype=_dt.from_numpy_dtype(self.src_dtype))
            if device_of(gs.data) != self.src_device:
                gs = to_copy(gs, device=self.src_device)
        return (zero_gradient(g) if ndst else None, gs)


def copy_(self, src, non_blocking=False):
    """Copy src (broadcast, cast, moved between devices) into self, in place."""
    if not isinstance(src, Tensor):
        src = Tensor._wrap(np.asarray(src))
    dst_shape = tuple(self.data.shape)
    try:
        ok = np.broadcast_shapes(tuple(src.data.shape), dst_shape) == dst_shape
    except ValueError:
        ok = False
    if not ok:
        raise RuntimeError(f"copy_: the source of shape {tuple(src.shape)} cannot be broadcast to the destination "
                           f"shape {dst_shape}")
    if not records(self, src):
        check_writable(self, "copy_")
        self.data[...] = move(src.data, device_of(self.data))
        increment_version(self)
        return self
    return inplace(self, "copy_", lambda s: apply(CopyFrom(), s, src))


# --- Tensor.to and its shorthands -------------------------------------------------------------------------------

class _Casts:
    """Tensor's moving and casting methods, bound onto Tensor below (a class body, so that they can be named
    float, int, bool and type without hiding those builtins in this module)."""

    def to(self, *args, **kwargs):
        """Move and/or cast: ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(other_tensor)``."""
        dev = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        copy = kwargs.pop("copy", False)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dev, dtype = a.device, a.dtype
            elif isinstance(a, (_dt.dtype, type)) or (isinstance(a, np.dtype)):
                dtype = a
            elif isinstance(a, str) and a in _dt._BY_NAME:
                dtype = a
            elif a is not None:
                dev = a
        dev = to_device(dev)
        dtype = _dt.to_dtype(dtype) if dtype is not None else None
        if (dev is None or dev == self.device) and (dtype is None or dtype is self.dtype) and not copy:
            return self
        return to_copy(self, dtype=dtype, device=dev)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else (device if isinstance(device, str) else f"cuda:{device}"))

    def type(self, dtype=None):
        if dtype is None:
            return f"ember.{self.dtype.name}"
        return self.to(dtype)

    def float(self):
        return self.to(_dt.float32)

    def double(self):
        return self.to(_dt.float64)

    def half(self):
        return self.to(_dt.float16)

    def bfloat16(self):
        return self.to(_dt.bfloat16)

    def long(self):
        return self.to(_dt.int64)

    def int(self):
        return self.to(_dt.int32)

    def short(self):
        return self.to(_dt.int16)

    def bool(self):
        return self.to(_dt.bool)

    def byte(self):
        return self.to(_dt.uint8)

    def char(self):
        return self.to(_dt.int8)


bind(
    clone=clone, fill_=fill_, zero_=zero_, copy_=copy_,
    to=_Casts.to, cpu=_Casts.cpu, cuda=_Casts.cuda, type=_Casts.type, float=_Casts.float, double=_Casts.double,
    half=_Casts.half, bfloat16=_Casts.bfloat16, long=_Casts.long, int=_Casts.int, short=_Casts.short,
    bool=_Casts.bool, byte=_Casts.byte, char=_Casts.char,
)
