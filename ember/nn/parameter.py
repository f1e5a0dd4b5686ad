"""Parameter (a tensor that a Module registers as learnable) and Buffer (one it registers as state), and their
uninitialized forms that lazy modules hold until their first forward."""
from __future__ import annotations

import os
import sys
from typing import Any, SupportsIndex

from ..device import CPU, move, to_device
from ..ops.creation import empty
from ..tensor import Tensor, init_tensor, tensor as _tensor

__all__ = ["Parameter", "UninitializedParameter", "is_lazy", "Buffer", "UninitializedBuffer",
           "UninitializedTensorMixin"]


def _array_of(data):
    if data is None:
        return empty(0)._data
    if isinstance(data, Tensor):
        return data._data
    return _tensor(data)._data


class Parameter(Tensor):
    """A tensor that is a module parameter: assigning it to a Module attribute registers it (``parameters()``,
    ``state_dict()``, optimizers).

    ``Parameter(data)`` shares memory with data and is a leaf; its repr starts with "Parameter containing:".
    Deep copies and pickles keep the class and requires_grad.

    Args:
        data (Tensor, optional): the values (shared, not copied); an empty tensor when None. Default: None.
        requires_grad (bool): whether autograd computes its gradient. Default: True.

    PyTorch:
        ``torch.nn.Parameter``; same semantics.

    Example:
        >>> w = nn.Parameter(ember.zeros(2))
        >>> w
        Parameter containing:
        tensor([0., 0.], requires_grad=True)
        >>> w.is_leaf
        True
    """

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        init_tensor(self, _array_of(data))
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + Tensor.__repr__(self)

    __str__ = __repr__

    def __deepcopy__(self, memo: dict[int, Any]) -> Parameter:
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(Tensor._wrap(self._data.copy()), self.requires_grad)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol: SupportsIndex) -> tuple[Any, ...]:
        return (_rebuild_parameter, (move(self._data, CPU), str(self.device), self.requires_grad))


def _rebuild_parameter(array, dev, requires_grad):
    return Parameter(Tensor._wrap(move(array, to_device(dev))), requires_grad)


class Buffer(Tensor):
    """A tensor that, assigned to a Module attribute, is registered as a buffer (state that is not learned).

    It keeps data's values and requires_grad. Assigning it does what ``register_buffer(name, data, persistent)``
    does: the module then holds it as a buffer, moved by ``to()`` and saved in ``state_dict()`` when persistent.

    Args:
        data (Tensor, optional): the values; an empty tensor when None. Default: None.
        persistent (bool): whether ``state_dict`` includes it (keyword only). Default: True.

    PyTorch:
        ``torch.nn.Buffer``; same semantics.

    Example:
        >>> m = nn.Module()
        >>> m.steps = nn.Buffer(ember.zeros(1))
        >>> m.scratch = nn.Buffer(ember.zeros(3), persistent=False)
        >>> [name for name, _ in m.named_buffers()], list(m.state_dict())
        (['steps', 'scratch'], ['steps'])
    """

    def __init__(self, data: Tensor | None = None, *, persistent: bool = True) -> None:
        requires_grad = isinstance(data, Tensor) and data.requires_grad
        init_tensor(self, _array_of(data), requires_grad)  # copied from data as is, without requires_grad_'s checks
        self.persistent = persistent

    def __reduce_ex__(self, protocol: SupportsIndex) -> tuple[Any, ...]:
        return (_rebuild_buffer, (move(self._data, CPU), str(self.device), self.persistent))


def _rebuild_buffer(array, dev, persistent):
    return Buffer(Tensor._wrap(move(array, to_device(dev))), persistent=persistent)


# --- uninitialized parameters and buffers (lazy modules) ---------------------------------------------------------
_DATA = Tensor._data  # Tensor's own storage slot, which the mixin's _data property hides
_EMBER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_OPS_DIRS = tuple(os.path.join(_EMBER, d) for d in ("ops" + os.sep, "autograd" + os.sep, "tensor.py"))
_SHAPE_ERROR = ("Can't access the shape of an uninitialized parameter or buffer. This error usually happens in "
                "`load_state_dict` when trying to load an uninitialized parameter into an initialized one. Call "
                "`forward` to initialize the parameters before accessing their attributes.")


def _reader():
    """The name of the outermost op or Tensor method in the call that read an uninitialized tensor's data."""
    frame, name = sys._getframe(2), None
    while frame is not None and frame.f_code.co_filename.startswith(_OPS_DIRS):
        name, frame = frame.f_code.co_name, frame.f_back
    return name or "<unknown>"


class UninitializedTensorMixin:
    """What UninitializedParameter and UninitializedBuffer share: a tensor without data whose shape is set later.

    Every operation on it raises ValueError, and its shape RuntimeError, until ``materialize(shape)`` gives it data
    (in place: the object keeps its identity) and turns it into ``cls_to_become``. Its dtype and device can be read and
    changed (``to``, ``float``, ``cuda``, ...: what ``Module.to`` does) before.

    PyTorch:
        ``torch.nn.parameter.UninitializedTensorMixin``; same semantics.

    Example:
        >>> w = nn.UninitializedParameter()
        >>> isinstance(w, nn.parameter.UninitializedTensorMixin), w.dtype
        (True, ember.float32)
    """

    __slots__ = ()
    cls_to_become: type

    @property
    def _data(self):
        raise ValueError(f"Attempted to use an uninitialized parameter in {_reader()}. This error happens when you "
                         "are using a `LazyModule` or explicitly manipulating "
                         f"`ember.nn.parameter.{type(self).__name__}` objects. When using LazyModules Call `forward` "
                         "with a dummy batch to initialize the parameters before calling ember functions")

    @_data.setter
    def _data(self, array):
        _DATA.__set__(self, array)

    def _raw(self):
        """The empty tensor that holds the dtype and device."""
        return Tensor._wrap(_DATA.__get__(self))

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Give the tensor (uninitialised) data of shape, in place, and turn it into ``cls_to_become``.

        Args:
            shape (int or tuple of int): the shape of the data.
            device (str or ember.device, optional): where the data lives; the tensor's device when None.
                Default: None.
            dtype (ember.dtype, optional): the data's dtype; the tensor's dtype when None. Default: None.

        PyTorch:
            ``torch.nn.UninitializedParameter.materialize``; same semantics.

        Example:
            >>> w = nn.UninitializedParameter()
            >>> w.materialize((2, 3))
            >>> type(w).__name__, w.shape
            ('Parameter', ember.Size([2, 3]))
        """
        raw = self._raw()
        array = empty(shape, device=raw.device if device is None else device,
                      dtype=raw.dtype if dtype is None else dtype)._data
        _DATA.__set__(self, array)
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise RuntimeError(_SHAPE_ERROR)

    def size(self, dim=None):
        return self._raw().size(dim)  # torch.Size([0]), as PyTorch's

    @property
    def ndim(self):
        return self._raw().ndim

    @property
    def dtype(self):
        return self._raw().dtype

    @property
    def device(self):
        return self._raw().device

    @property
    def data(self):
        return self._raw()

    @data.setter
    def data(self, value):
        Tensor.data.fset(self, value)

    def is_floating_point(self):
        return self._raw().is_floating_point()

    def share_memory_(self):
        raise RuntimeError("Can't share memory on an uninitialized parameter or buffer. Call `forward` to initialize "
                           "the parameters before calling `module.share_memory()`.")

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    __str__ = __repr__

    def __format__(self, spec):
        return format(repr(self), spec)

    def __reduce_ex__(self, protocol):
        return (type(self), (self.requires_grad,))

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            raw = self._raw()
            memo[id(self)] = self._like(raw.device, raw.dtype)
        return memo[id(self)]


def _conversion(name):
    """Tensor.<name> (to, float, cuda, ...) on an uninitialized tensor: a new uninitialized buffer, or for a parameter
    an empty tensor (whose data Module.to puts into the parameter), as in PyTorch; self when nothing changes."""
    convert = getattr(Tensor, name)

    def method(self, *args, **kwargs):
        raw = self._raw()
        out = convert(raw, *args, **kwargs)
        if out is raw:
            return self
        return out if isinstance(self, Parameter) else self._like(out.device, out.dtype)

    method.__name__ = method.__qualname__ = name
    return method


for _name in ("to", "cpu", "cuda", "type", "float", "double", "half", "bfloat16", "long", "int", "short", "char"):
    setattr(UninitializedTensorMixin, _name, _conversion(_name))


def is_lazy(param: Any) -> bool:
    """Whether param is an UninitializedParameter or an UninitializedBuffer (not materialized yet).

    Args:
        param (Any): the object to check.

    Returns:
        bool: True for an uninitialized parameter or buffer.

    PyTorch:
        ``torch.nn.parameter.is_lazy``; same semantics.

    Example:
        >>> from ember.nn.parameter import is_lazy
        >>> is_lazy(nn.UninitializedParameter()), is_lazy(nn.Parameter(ember.zeros(1)))
        (True, False)
    """
    return isinstance(param, UninitializedTensorMixin)


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A Parameter whose shape is not known yet: what lazy modules (``nn.LazyLinear``, ...) hold until their first
    forward.

    Any operation on it raises ValueError and reading its shape RuntimeError; only its dtype and device can be read or
    changed. ``materialize(shape)`` gives it data and makes it a Parameter, in place: optimizers and modules that hold
    it keep a valid reference.

    Args:
        requires_grad (bool): whether the parameter will require grad. Default: True.
        device (str or ember.device, optional): where it will live. Default: the CPU.
        dtype (ember.dtype, optional): its dtype. Default: ``ember.get_default_dtype()``.

    PyTorch:
        ``torch.nn.UninitializedParameter``; same semantics and messages.

    Example:
        >>> w = nn.UninitializedParameter()
        >>> w
        <UninitializedParameter>
        >>> w.materialize((2,))
        >>> isinstance(w, nn.UninitializedParameter), w.shape
        (False, ember.Size([2]))
    """

    cls_to_become = Parameter

    def __init__(self, requires_grad: bool = True, device: Any = None, dtype: Any = None) -> None:
        init_tensor(self, empty(0, device=device, dtype=dtype)._data, bool(requires_grad))

    def _like(self, device, dtype):
        return UninitializedParameter(self.requires_grad, device, dtype)


class UninitializedBuffer(UninitializedTensorMixin, Buffer):
    """A buffer whose shape is not known yet: what lazy modules (``nn.LazyBatchNorm1d``, ...) hold until their first
    forward.

    Any operation on it raises ValueError and reading its shape RuntimeError; only its dtype and device can be read or
    changed. ``materialize(shape)`` gives it data in place.

    Args:
        requires_grad (bool): whether the buffer will require grad. Default: False.
        device (str or ember.device, optional): where it will live. Default: the CPU.
        dtype (ember.dtype, optional): its dtype. Default: ``ember.get_default_dtype()``.
        persistent (bool): whether ``state_dict`` includes it once assigned to a module. Default: True.

    PyTorch:
        ``torch.nn.UninitializedBuffer``; same semantics, except that a materialized buffer is an ``nn.Buffer``
        (PyTorch's is a plain Tensor; a Buffer is one in all but its class name).

    Example:
        >>> m = nn.Module()
        >>> m.stats = nn.UninitializedBuffer()
        >>> m.stats.materialize(3)
        >>> m.stats.shape, list(m.state_dict())
        (ember.Size([3]), ['stats'])
    """

    cls_to_become = Buffer

    def __init__(self, requires_grad: bool = False, device: Any = None, dtype: Any = None,
                 persistent: bool = True) -> None:
        init_tensor(self, empty(0, device=device, dtype=dtype)._data, bool(requires_grad))
        self.persistent = persistent

    def _like(self, device, dtype):
        return UninitializedBuffer(self.requires_grad, device, dtype, self.persistent)
