"""Copies, casts and moves: to_copy (the op behind Tensor.to and every cast; a sparse tensor's cast is
ops/sparse.py's SparseToCopy), clone, the in-place writes fill_, zero_ and copy_, and Tensor.to with its shorthands
(cpu, cuda, type, float, double, half, bfloat16, long, int, short, bool, byte, char)."""
import numpy as np

from .. import dtypes as _dt
from .._sparse import SparseCOO
from ..autograd import Node
from ..autograd.graph import apply, increment_version
from ..autograd.inplace import check_writable, inplace, records
from ..device import device as device_cls, device_of, move, to_device
from ..tensor import Tensor
from ._checks import scalar
from ._util import zero_gradient
from .meta import same_as, with_dtype
from .registry import export, register
from .sparse import SparseToCopy, sparse_to_copy


# --- casts and copies ---------------------------------------------------------------------------------------------

@register
class ToCopy(Node):
    """A copy converted to dtype (an ember dtype) and/or moved to device; differentiable only into a floating-point
    dtype. The engine casts the gradient back to the source dtype; backward moves it back to the source device."""

    saves = ()

    def __init__(self, dtype=None, device=None):
        self.dtype, self.device = dtype, device
        if dtype is not None and not dtype.is_floating_point:
            self.differentiable = False

    def infer(self, a):
        return same_as(a) if self.dtype is None else with_dtype(a, self.dtype.np)

    def forward(self, xp, a):
        self.src_device = None
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
        return (g if self.src_device is None else to_copy(g, device=self.src_device),)

    def release(self):
        """Nothing to free: a cast keeps no array (its source device only), so a second backward runs through it,
        as through PyTorch's ToCopyBackward0. Autocast's cached weight casts rely on it: every backward of one
        autocast region passes through the same cast of each weight."""
        self._versions = None


def to_copy(input, dtype=None, device=None):
    """A copy of input converted to dtype and/or moved to device (differentiable); a sparse input gives a sparse
    copy."""
    if input._data.__class__ is SparseCOO:
        return sparse_to_copy(input, dtype, device)
    return apply(ToCopy(dtype, device), input)


@register
class Clone(Node):
    saves = ()

    def infer(self, a):
        return same_as(a)

    def forward(self, xp, a):
        return a.copy()

    def backward(self, g):
        return (g,)


@export(Clone, methods=("clone",))
def clone(input, memory_format=None):
    """A copy of ``input`` with its own memory, recorded by autograd (the gradient flows back to input).

    Args:
        input (Tensor): the tensor to copy.
        memory_format (optional): accepted and ignored: the copy is always row-major (C-contiguous). Default: None.

    Returns:
        Tensor: a new tensor of the same shape, dtype and device.

    PyTorch:
        ``torch.clone`` and ``Tensor.clone``; same semantics, except that ``memory_format`` is ignored (the copy of a
        non-contiguous tensor is contiguous, where PyTorch's ``preserve_format`` keeps its strides).

    Example:
        >>> x = ember.tensor([1.0, 2.0], requires_grad=True)
        >>> x.clone()
        tensor([1., 2.], grad_fn=<CloneBackward0>)
    """
    return apply(Clone(), input)


@register
class Fill(Node):
    saves = ()

    def __init__(self, value):
        self.value = value

    def infer(self, a):
        return same_as(a)

    def forward(self, xp, a):
        return xp.full(a.shape, self.value, dtype=a.dtype)

    def backward(self, g):
        return (zero_gradient(g),)


@export(Fill, ember=False, methods=("fill_",))
def fill_(self, value):
    """Set every element of the tensor to ``value``, in place.

    Args:
        value (number or Tensor): the value (cast to the tensor's dtype); a tensor must be 0-dimensional.

    Returns:
        Tensor: self.

    PyTorch:
        ``Tensor.fill_``; same semantics.

    Example:
        >>> ember.zeros(3).fill_(2.5)
        tensor([2.5000, 2.5000, 2.5000])
    """
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(f"fill_: only supports 0-dimension value tensor but got tensor with "
                               f"{value._data.ndim} dimensions.")
        return copy_(self, value)
    value = scalar(value, "fill_")
    if not records(self):
        check_writable(self, "fill_")
        self._data[...] = value
        increment_version(self)
        return self
    return inplace(self, "fill_", lambda s: apply(Fill(value), s))


@export(Fill, ember=False, methods=("zero_",))
def zero_(self):
    """Set every element of the tensor to zero, in place.

    Returns:
        Tensor: self.

    PyTorch:
        ``Tensor.zero_``; same semantics.

    Example:
        >>> ember.ones(2, 2).zero_()
        tensor([[0., 0.],
                [0., 0.]])
    """
    return fill_(self, 0)


@register
class CopyFrom(Node):
    """dst's values replaced by src's (broadcast, cast to dst's dtype, moved to dst's device). The engine sums src's
    gradient back to src's shape and casts it to src's dtype; backward moves it back to src's device."""

    saves = ()

    def infer(self, dst, src):
        return same_as(dst)

    def forward(self, xp, dst, src):
        self.src_device = device_of(src)
        out = xp.empty_like(dst)
        out[...] = move(src, device_of(dst))
        return out

    def backward(self, g):
        ndst, nsrc = self.needs_input_grad
        gs = None
        if nsrc:
            gs = g if device_of(g._data) == self.src_device else to_copy(g, device=self.src_device)
        return (zero_gradient(g) if ndst else None, gs)


@export(CopyFrom, ember=False, methods=("copy_",))
def copy_(self, src, non_blocking=False):
    """Copy the elements of ``src`` into the tensor, in place.

    ``src`` is broadcast to the tensor's shape, cast to its dtype and moved to its device; autograd records the copy
    (the gradient flows to src, none to the overwritten values).

    Args:
        src (Tensor or array_like): the values to copy; a NumPy array or list is converted first.
        non_blocking (bool): accepted and ignored (the copy is synchronous). Default: False.

    Returns:
        Tensor: self.

    PyTorch:
        ``Tensor.copy_``; same semantics (``non_blocking`` has no effect).

    Example:
        >>> ember.zeros(2, 2).copy_(ember.tensor([1, 2]))
        tensor([[1., 2.],
                [1., 2.]])
    """
    if not isinstance(src, Tensor):
        src = Tensor._wrap(np.asarray(src))
    dst_shape = tuple(self._data.shape)
    try:
        ok = np.broadcast_shapes(tuple(src._data.shape), dst_shape) == dst_shape
    except ValueError:
        ok = False
    if not ok:
        raise RuntimeError(f"copy_: the source of shape {tuple(src.shape)} cannot be broadcast to the destination "
                           f"shape {dst_shape}")
    if not records(self, src):
        check_writable(self, "copy_")
        self._data[...] = move(src._data, device_of(self._data))
        increment_version(self)
        return self
    return inplace(self, "copy_", lambda s: apply(CopyFrom(), s, src))


# --- Tensor.to and its shorthands -------------------------------------------------------------------------------

def parse_to(args, kwargs):
    """(device, dtype, copy) from the arguments of Tensor.to or Module.to (torch._C._nn._parse_to): a tensor (its
    device and dtype), a dtype, a device (a string, a device or a CUDA index), then non_blocking and copy, which may
    be given positionally (non_blocking and memory_format are accepted and ignored)."""
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    flags = [kwargs.pop("non_blocking", False), kwargs.pop("copy", False)]
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() received an invalid combination of arguments: unexpected {sorted(kwargs)}")
    given = 0
    for a in args:
        if isinstance(a, Tensor):
            device, dtype = a.device, a.dtype
        elif isinstance(a, bool):
            flags[min(given, 1)] = a
            given += 1
        elif a is None:
            continue
        elif isinstance(a, (_dt.dtype, type, np.dtype)) or (isinstance(a, str) and a in _dt._BY_NAME):
            dtype = a
        elif isinstance(a, (str, device_cls, int)):
            device = f"cuda:{a}" if isinstance(a, int) else a
        else:
            dtype = a  # to_dtype names what it can't read
    return to_device(device), (_dt.to_dtype(dtype) if dtype is not None else None), flags[1]


_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "bfloat16": "BFloat16Tensor", "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
               "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}
_TYPE_DTYPES = {name: dtype_name for dtype_name, name in _TYPE_NAMES.items()}
_TYPE_MODULES = ("torch", "ember", "torch.cuda", "ember.cuda", "torch.sparse", "ember.sparse")


def _parse_tensor_type(t):
    """(dtype, device or None) named by Tensor.type's argument: a dtype (the device stays), a tensor type
    (ember.FloatTensor, ember.Tensor: on the CPU) or its name ('torch.FloatTensor', 'torch.cuda.FloatTensor',
    'ember.FloatTensor', 'torch.Tensor', 'torch.sparse.FloatTensor': the layout it names is ignored, as in
    PyTorch)."""
    if isinstance(t, _dt.dtype):
        return t, None
    if isinstance(t, type) and issubclass(t, Tensor):
        return _dt.get_default_dtype(), "cpu"
    if isinstance(t, type) and isinstance(getattr(t, "dtype", None), _dt.dtype):  # ember.FloatTensor, ...
        return t.dtype, "cpu"
    if not isinstance(t, str):
        raise TypeError("dtype must be a type, str, or dtype object")
    module, _, name = t.rpartition(".")
    if module not in _TYPE_MODULES or (name != "Tensor" and name not in _TYPE_DTYPES):
        raise ValueError(f"invalid type: {t!r}")
    dtype = _dt.get_default_dtype() if name == "Tensor" else _dt.to_dtype(_TYPE_DTYPES[name])
    return dtype, "cuda" if module.endswith("cuda") else "cpu"


class _Casts:
    """Tensor's moving and casting methods, exported as Tensor methods (defined in a class body only so that they
    can be named float, int, bool and type without hiding those builtins in this module)."""

    @export(ToCopy, SparseToCopy, ember=False, methods=("to",))
    def to(self, *args, **kwargs):
        """The tensor moved to a device and/or cast to a dtype: self when nothing changes, else a copy.

        The forms: ``to(dtype)``, ``to(device)``, ``to(device, dtype)`` and ``to(other)`` (other's device and dtype),
        each optionally followed by ``non_blocking`` and ``copy``; keywords ``device=``, ``dtype=``, ``non_blocking=``,
        ``copy=`` and ``memory_format=`` are accepted. The copy is recorded by autograd (differentiable into a
        floating-point dtype).

        Args:
            *args: a dtype, a device (a string, an ``ember.device`` or a CUDA index), both, or a tensor; then optionally
                ``non_blocking`` and ``copy`` as bools.
            **kwargs: ``device``, ``dtype``, ``non_blocking`` (ignored), ``copy`` (copy even when nothing changes) and
                ``memory_format`` (ignored).

        Returns:
            Tensor: self when device and dtype already match and ``copy`` is False, else a converted copy.

        PyTorch:
            ``Tensor.to``; same semantics (``non_blocking`` and ``memory_format`` have no effect).

        Example:
            >>> ember.tensor([1, 2]).to(ember.float64)
            tensor([1., 2.], dtype=ember.float64)
            >>> x = ember.zeros(2)
            >>> x.to("cpu") is x
            True
        """
        dev, dtype, copy = parse_to(args, kwargs)
        if (dev is None or dev == self.device) and (dtype is None or dtype is self.dtype) and not copy:
            return self
        return to_copy(self, dtype=dtype, device=dev)

    @export(ToCopy, ember=False, methods=("cpu",))
    def cpu(self):
        """The tensor in CPU memory: self when it is there already, else a copy.

        Returns:
            Tensor: a CPU tensor with the same values.

        PyTorch:
            ``Tensor.cpu``; same semantics (no ``memory_format`` argument).

        Example:
            >>> x = ember.zeros(2)
            >>> x.cpu() is x
            True
        """
        return self.to("cpu")

    @export(ToCopy, ember=False, methods=("cuda",))
    def cuda(self, device=None):
        """The tensor on a CUDA GPU: self when it is there already, else a copy. Needs CuPy and a GPU.

        Args:
            device (int or str, optional): the GPU: an index (``cuda:<index>``) or a device string; the current GPU
                when None. Default: None.

        Returns:
            Tensor: a CUDA tensor with the same values.

        PyTorch:
            ``Tensor.cuda``; same semantics, without the ``non_blocking`` and ``memory_format`` arguments.

        Example:
            >>> x = ember.zeros(2)
            >>> y = x.cuda() if ember.cuda.is_available() else x
            >>> y.shape
            ember.Size([2])
        """
        return self.to("cuda" if device is None else (device if isinstance(device, str) else f"cuda:{device}"))

    @export(ToCopy, SparseToCopy, ember=False, methods=("type",))
    def type(self, dtype=None, non_blocking=False, **kwargs):
        """The name of the tensor's type, or the tensor cast to another type.

        With no argument, the type's name as PyTorch spells it ('torch.FloatTensor', 'torch.cuda.LongTensor',
        'torch.sparse.FloatTensor'), so that programs that compare it keep working. Otherwise the tensor cast to a
        dtype (``ember.int64``: the device stays), a tensor type (``ember.LongTensor``, ``ember.Tensor``: on the
        CPU) or a type name ('torch.LongTensor', 'ember.cuda.FloatTensor': on the device it names); self when
        nothing changes.

        Args:
            dtype (ember.dtype, type or str, optional): the target type; None to ask for the type's name. Default: None.
            non_blocking (bool): accepted and ignored. Default: False.
            **kwargs: accepted and ignored (PyTorch's legacy ``async``).

        Returns:
            str or Tensor: the type's name when ``dtype`` is None, else the converted tensor.

        PyTorch:
            ``Tensor.type``; same semantics (the layout a sparse type name gives is ignored, as in PyTorch).

        Example:
            >>> x = ember.zeros(2)
            >>> x.type()
            'torch.FloatTensor'
            >>> x.type(ember.LongTensor)
            tensor([0, 0])
        """
        if dtype is None:
            prefix = "torch.cuda." if self.device.type == "cuda" else "torch.sparse." if self.is_sparse else "torch."
            return prefix + _TYPE_NAMES[self.dtype.name]
        new_dtype, device = _parse_tensor_type(dtype)
        return self.to(device=device, dtype=new_dtype)

    @export(ToCopy, SparseToCopy, ember=False, methods=("type_as",))
    def type_as(self, other):
        """The tensor cast to the dtype of ``other`` and moved to its device: self when it already has them.

        Args:
            other (Tensor): the tensor whose dtype and device to take; it must have the same layout (dense or sparse).

        Returns:
            Tensor: self or a converted copy.

        PyTorch:
            ``Tensor.type_as``; same semantics.

        Example:
            >>> ember.tensor([1.5, 2.5]).type_as(ember.tensor([1]))
            tensor([1, 2])
        """
        if not isinstance(other, Tensor):
            raise TypeError(f"type_as(): argument 'other' (position 1) must be Tensor, not {type(other).__name__}")
        if other.layout is not self.layout:
            raise RuntimeError(f"type_as: converting to a different layout is not supported: self is {self.layout} "
                               f"(shape {tuple(self.shape)}), other is {other.layout} (shape {tuple(other.shape)}); "
                               "use to_dense() or to_sparse()")
        return self.to(other)

    @export(ToCopy, SparseToCopy, ember=False, methods=("float",))
    def float(self):
        """The tensor cast to ``ember.float32`` (``self.to(ember.float32)``): self when it already is, else a copy.

        Returns:
            Tensor: a tensor of dtype ``ember.float32`` with the same shape and device.

        PyTorch:
            ``Tensor.float``; same semantics (no ``memory_format`` argument).

        Example:
            >>> ember.tensor([1, 2]).float()
            tensor([1., 2.])
        """
        return self.to(_dt.float32)

    @export(ToCopy, SparseToCopy, ember=False, methods=("double",))
    def double(self):
        """The tensor cast to ``ember.float64`` (``self.to(ember.float64)``): self when it already is, else a copy.

        Returns:
            Tensor: a tensor of dtype ``ember.float64`` with the same shape and device.

        PyTorch:
            ``Tensor.double``; same semantics (no ``memory_format`` argument).

        Example:
            >>> ember.tensor([1, 2]).double()
            tensor([1., 2.], dtype=ember.float64)
        """
        return self.to(_dt.float64)

    @export(ToCopy, SparseToCopy, ember=False, methods=("half",))
    def half(self):
        """The tensor cast to ``ember.float16`` (``self.to(ember.float16)``): self when it already is, else a copy.

        Returns:
            Tensor: a tensor of dtype ``ember.float16`` with the same shape and device.

        PyTorch:
            ``Tensor.half``; same semantics (no ``memory_format`` argument).

        Example:
            >>> ember.tensor([1, 2]).half()
            tensor([1., 2.], dtype=ember.float16)
        """
        return self.to(_dt.float16)

    @export(ToCopy, SparseToCopy, ember=False, methods=("bfloat16",))
    def bfloat16(self):
        """The tensor cast to ``ember.bfloat16`` (``self.to(ember.bfloat16)``): self when it already is, else a copy.

        Needs the ml_dtypes package (ember's bfloat16).

        Returns:
            Tensor: a tensor of dtype ``ember.bfloat16`` with the same shape and device.

        PyTorch:
            ``Tensor.bfloat16``; same semantics (no ``memory_format`` argument).

        Example:
            >>> ember.tensor([1.0, 2.0]).bfloat16().dtype
            ember.bfloat16
        """
        return self.to(_dt.bfloat16)

    @export(ToCopy, SparseToCopy, ember=False, methods=("long",))
    def long(self):
        """The tensor cast to ``ember.int64`` (``self.to(ember.int64)``): self when it already is, else a copy.

        Floats are truncated towards zero.

        Returns:
            Tensor: a tensor of dtype ``ember.int64`` with the same shape and device.

        PyTorch:
            ``Tensor.long``; same semantics (no ``memory_format`` argument).

        Example:
            >>> ember.tensor([1.5, -2.7]).long()
            tensor([ 1, -2])
        """
        return self.to(_dt.int64)

    @export(ToCopy, SparseToCopy, ember=False, methods=("int",))
    def int(self):
        """The tensor cast to ``ember.int32`` (``self.to(ember.int32)``): self when it already is, else a copy.

        Floats are truncated towards zero.

        Returns:
            Tensor: a tensor of dtype ``ember.int32`` with the same shape and device.

        PyTorch:
            ``Tensor.int``; same semantics (no ``memory_format`` argument).

        Example:
            >>> ember.tensor([1.5, -2.7]).int()
            tensor([ 1, -2], dtype=ember.int32)
        """
        return self.to(_dt.int32)

    @export(ToCopy, SparseToCopy, ember=False, methods=("short",))
    def short(self):
        """The tensor cast to ``ember.int16`` (``self.to(ember.int16)``): self when it already is, else a copy.

        Floats are truncated towards zero.

        Returns:
            Tensor: a tensor of dtype ``ember.int16`` with the same shape and device.

        PyTorch:
            ``Tensor.short``; same semantics (no ``memory_format`` argument).

        Example:
            >>> ember.tensor([1.5, -2.7]).short()
            tensor([ 1, -2], dtype=ember.int16)
        """
        return self.to(_dt.int16)

    @export(ToCopy, SparseToCopy, ember=False, methods=("bool",))
    def bool(self):
        """The tensor cast to ``ember.bool`` (``self.to(ember.bool)``): self when it already is, else a copy.

        Nonzero values become True.

        Returns:
            Tensor: a tensor of dtype ``ember.bool`` with the same shape and device.

        PyTorch:
            ``Tensor.bool``; same semantics (no ``memory_format`` argument).

        Example:
            >>> ember.tensor([0.0, 0.5, -1.0]).bool()
            tensor([False,  True,  True])
        """
        return self.to(_dt.bool)

    @export(ToCopy, SparseToCopy, ember=False, methods=("byte",))
    def byte(self):
        """The tensor cast to ``ember.uint8`` (``self.to(ember.uint8)``): self when it already is, else a copy.

        Integers wrap around modulo 256.

        Returns:
            Tensor: a tensor of dtype ``ember.uint8`` with the same shape and device.

        PyTorch:
            ``Tensor.byte``; same semantics (no ``memory_format`` argument).

        Example:
            >>> ember.tensor([1, 255, 256]).byte()
            tensor([  1, 255,   0], dtype=ember.uint8)
        """
        return self.to(_dt.uint8)

    @export(ToCopy, SparseToCopy, ember=False, methods=("char",))
    def char(self):
        """The tensor cast to ``ember.int8`` (``self.to(ember.int8)``): self when it already is, else a copy.

        Integers wrap around into [-128, 127].

        Returns:
            Tensor: a tensor of dtype ``ember.int8`` with the same shape and device.

        PyTorch:
            ``Tensor.char``; same semantics (no ``memory_format`` argument).

        Example:
            >>> ember.tensor([1, 127, 128]).char()
            tensor([   1,  127, -128], dtype=ember.int8)
        """
        return self.to(_dt.int8)

