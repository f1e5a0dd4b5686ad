"""Tensor: an array of the device's array module, plus what autograd needs (requires_grad, grad, grad_fn).

Operators and most methods are the functions of ``ember/ops``, given to the class by the op registry (an op module
exports a function as ``Tensor.<name>``); this module holds what every tensor is: data, metadata, autograd state.
"""
from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, SupportsIndex, overload

import numpy as np

from . import _shared_memory, _tracing
from . import _storage
from . import dtypes as _dt
from ._format import tensor_repr
from ._sparse import SparseCOO, layout as _layout, sparse_coo, strided
from . import autograd as _autograd  # the engine, for Tensor.backward (ember imports autograd before this module)
from .device import CPU, device as _device, device_of, move, to_device
from .dtypes import dtype as _dtype
from .types import Device, Number, _size

__all__ = ["Tensor", "tensor", "as_tensor", "from_numpy", "is_tensor", "FloatTensor", "DoubleTensor", "HalfTensor",
           "LongTensor", "IntTensor", "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor"]

_ndarray = np.ndarray
_new = object.__new__
_counting, _counted, _count = _storage.on, _storage.owners, _storage.count  # memory accounting (ember.memory)


class Tensor:
    """A multi-dimensional array with automatic differentiation, following torch.Tensor.

    Make tensors with ``ember.tensor(data)``, the factories (``ember.zeros``, ``ember.randn``, ...) or
    ``ember.from_numpy``; a CPU tensor's data is a NumPy array (``t.numpy()``, sharing memory).

    Attributes:
        requires_grad: whether autograd records the operations on this tensor (``requires_grad_()`` sets it).
        grad: the gradient accumulated by ``backward()`` into a leaf (a tensor of the same shape), else None.
        grad_fn: the autograd node that made this tensor (None for a leaf: a tensor made by the user).

    Example:
        >>> x = ember.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        >>> x.shape, x.dtype
        (ember.Size([2, 2]), ember.float32)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([[2., 4.],
                [6., 8.]])
    """

    __slots__ = ("_data", "requires_grad", "_grad", "grad_fn", "_vbox", "_base", "_hooks", "_out_index", "_retains",
                 "__weakref__")
    __array_priority__ = 1000  # NumPy defers to Tensor's reflected operators
    _data: Any  # a NumPy or CuPy array (or ember's SparseCOO)
    requires_grad: bool
    grad_fn: Any  # the autograd Node that made this tensor, None for a leaf
    _vbox: list[int]
    _base: Tensor | None
    _hooks: list[Callable[[Tensor], Tensor | None]] | None
    _out_index: int
    _retains: bool

    def __init__(self, *args: Any, dtype: _dtype | None = None, device: Device = None, requires_grad: bool = False,
                 size: _size | None = None) -> None:
        """torch.Tensor's legacy constructor, of the default dtype: ``Tensor(data)`` (a sequence or an array,
        converted; a tensor, or an array of that dtype, is shared, not copied), ``Tensor(2, 3)`` or
        ``Tensor(size)`` (uninitialized), ``Tensor()`` (empty). ``Tensor(data, dtype=...)``, ember's own form,
        is a copy of data as ember.tensor; prefer ember.tensor, ember.empty and ember.zeros in new code."""
        if dtype is not None and len(args) == 1 and size is None:
            array, vbox = _to_array(args[0], dtype, device), None
        else:
            array, vbox = _legacy_array("Tensor", args, size, dtype or _dt.get_default_dtype(), device, False)
        init_tensor(self, array)
        if vbox is not None:
            self._vbox = vbox  # an alias of a tensor shares its version counter, as detach()
        if requires_grad:
            self.requires_grad_(True)

    # --- construction helpers -------------------------------------------------------------------------------
    @classmethod
    def _wrap(cls, array, requires_grad=False, grad_fn=None):
        """A tensor around an existing array (no copy, no checks): the constructor used by ops."""
        t = _new(cls)
        init_tensor(t, array, requires_grad, grad_fn)
        return t

    # --- metadata ---------------------------------------------------------------------------------------------
    @property
    def grad(self) -> Tensor | None:
        """The gradient a backward accumulated into this leaf (None before one reaches it); assign None to clear it.

        PyTorch:
            ``Tensor.grad``; same semantics. Assigning to it inside an ``ember.compile``'d function is part of its
            graph: None as ``zero_grad()`` (the graph then runs whatever ``.grad`` held before), a tensor as the
            value the graph leaves there.

        Example:
            >>> w = ember.tensor([1.0, 2.0], requires_grad=True)
            >>> (w * w).sum().backward()
            >>> w.grad
            tensor([2., 4.])
        """
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if _tracing.active[0]:
            if value is None:
                _tracing.grad_cleared(self)
            else:
                _tracing.grad_assigned(self, value)
        self._grad = value

    @property
    def shape(self) -> Size:
        """The size of each dimension, as an ``ember.Size`` (a tuple of ints).

        PyTorch:
            ``Tensor.shape``; same semantics (the same as ``size()``).

        Example:
            >>> ember.zeros(2, 3).shape
            ember.Size([2, 3])
        """
        return Size(self._data.shape)

    @overload
    def size(self, dim: None = None) -> Size: ...
    @overload
    def size(self, dim: int) -> int: ...

    def size(self, dim: int | None = None) -> Size | int:
        """The shape of the tensor, or the length of one dimension.

        Args:
            dim (int, optional): the dimension to measure (negative counts from the end); the whole shape when None.
                Default: None.

        Returns:
            ember.Size or int: the shape (a tuple of ints), or the length of dimension ``dim``.

        PyTorch:
            ``Tensor.size``; same semantics.

        Example:
            >>> x = ember.zeros(2, 3)
            >>> x.size(), x.size(-1)
            (ember.Size([2, 3]), 3)
        """
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_wrap_dim(dim, self._data.ndim, "size")]

    @property
    def dtype(self) -> _dtype:
        """The element type of the tensor (``ember.float32``, ``ember.int64``, ...).

        PyTorch:
            ``Tensor.dtype``; same semantics (ember has no complex or quantized dtypes).

        Example:
            >>> ember.tensor([1, 2]).dtype
            ember.int64
        """
        return _dt.from_numpy_dtype(self._data.dtype)

    @property
    def device(self) -> _device:
        """The device that holds the data: ``device(type='cpu')`` or a CUDA device.

        PyTorch:
            ``Tensor.device``; same semantics (ember's devices are the CPU and CUDA GPUs).

        Example:
            >>> ember.zeros(2).device
            device(type='cpu')
        """
        return device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        """Whether the data is on a CUDA GPU.

        PyTorch:
            ``Tensor.is_cuda``; same semantics.

        Example:
            >>> ember.zeros(2).is_cuda
            False
        """
        return self.device.type == "cuda"

    @property
    def is_cpu(self) -> bool:
        """Whether the data is in CPU memory.

        PyTorch:
            ``Tensor.is_cpu``; same semantics.

        Example:
            >>> ember.zeros(2).is_cpu
            True
        """
        return self.device.type == "cpu"

    @property
    def is_xpu(self) -> bool:
        """Always False: ember has no XPU devices.

        PyTorch:
            ``Tensor.is_xpu``; always False in ember.

        Example:
            >>> ember.zeros(2).is_xpu
            False
        """
        return False  # ember's devices are the CPU and CUDA GPUs

    @property
    def is_mps(self) -> bool:
        """Always False: ember has no MPS (Apple GPU) devices.

        PyTorch:
            ``Tensor.is_mps``; always False in ember.

        Example:
            >>> ember.zeros(2).is_mps
            False
        """
        return False

    @property
    def is_meta(self) -> bool:
        """Always False: ember has no meta tensors (every tensor holds its data).

        PyTorch:
            ``Tensor.is_meta``; always False in ember (no ``device='meta'``).

        Example:
            >>> ember.zeros(2).is_meta
            False
        """
        return False  # every ember tensor has its data

    @property
    def is_sparse(self) -> bool:
        """Whether the tensor is sparse (layout ``ember.sparse_coo``).

        PyTorch:
            ``Tensor.is_sparse``; same semantics (ember's only sparse layout is COO).

        Example:
            >>> ember.zeros(2).is_sparse
            False
        """
        return self._data.__class__ is SparseCOO

    @property
    def layout(self) -> _layout:
        """The memory layout: ``ember.strided`` for a dense tensor, ``ember.sparse_coo`` for a sparse one.

        PyTorch:
            ``Tensor.layout``; same semantics for these two layouts (ember has no CSR or other sparse layouts).

        Example:
            >>> ember.zeros(2).layout
            ember.strided
        """
        return sparse_coo if self._data.__class__ is SparseCOO else strided

    @property
    def is_quantized(self) -> bool:
        """Always False: ember has no quantized dtypes.

        PyTorch:
            ``Tensor.is_quantized``; always False in ember.

        Example:
            >>> ember.zeros(2).is_quantized
            False
        """
        return False  # ember has no quantized dtypes

    @property
    def ndim(self) -> int:
        """The number of dimensions (the same as ``dim()``).

        PyTorch:
            ``Tensor.ndim``; same semantics.

        Example:
            >>> ember.zeros(2, 3).ndim
            2
        """
        return self._data.ndim

    def dim(self) -> int:
        """The number of dimensions of the tensor (also ``ndimension()``).

        Returns:
            int: the length of the shape (0 for a scalar tensor).

        PyTorch:
            ``Tensor.dim`` and ``Tensor.ndimension``; same semantics.

        Example:
            >>> ember.zeros(2, 3).dim()
            2
        """
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        """The number of elements of the tensor (also ``nelement()``).

        Returns:
            int: the product of the sizes (1 for a scalar tensor).

        PyTorch:
            ``Tensor.numel``, ``Tensor.nelement`` and ``torch.numel``; same semantics.

        Example:
            >>> ember.zeros(2, 3).numel()
            6
        """
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        """The size of one element in bytes (the same as the ``itemsize`` property).

        Returns:
            int: 4 for float32, 8 for int64, ...

        PyTorch:
            ``Tensor.element_size``; same semantics.

        Example:
            >>> ember.zeros(2, dtype=ember.float64).element_size()
            8
        """
        return self._data.itemsize

    @overload
    def stride(self, dim: None = None) -> tuple[int, ...]: ...
    @overload
    def stride(self, dim: int) -> int: ...

    def stride(self, dim: int | None = None) -> tuple[int, ...] | int:
        """The strides of the tensor: how many elements to step in memory to move by one along each dimension.

        Args:
            dim (int, optional): the dimension whose stride to return; all of them when None. Default: None.

        Returns:
            tuple of int or int: the strides, in elements (not bytes), or the stride of ``dim``.

        PyTorch:
            ``Tensor.stride``; same semantics.

        Example:
            >>> x = ember.zeros(2, 3)
            >>> x.stride(), x.t().stride()
            ((3, 1), (1, 3))
        """
        s = tuple(st // self._data.itemsize for st in self._data.strides)
        return s if dim is None else s[_wrap_dim(dim, self._data.ndim, "stride")]

    def is_contiguous(self, memory_format: Any = None) -> bool:
        """Whether the elements lie in memory in row-major (C) order without gaps.

        Args:
            memory_format (optional): accepted and ignored (ember checks row-major order only). Default: None.

        Returns:
            bool: True when the tensor is C-contiguous (views made by ``t()``, ``permute`` or slicing may not be).

        PyTorch:
            ``Tensor.is_contiguous``; ``memory_format`` is ignored (ember has no ``channels_last`` check).

        Example:
            >>> x = ember.zeros(2, 3)
            >>> x.is_contiguous(), x.t().is_contiguous()
            (True, False)
        """
        return bool(self._data.flags.c_contiguous)

    def is_floating_point(self) -> bool:
        """Whether the dtype of the tensor is a floating-point type (float16, bfloat16, float32 or float64).

        Returns:
            bool: True for a floating-point dtype, False for integers and bool.

        PyTorch:
            ``Tensor.is_floating_point`` and ``torch.is_floating_point``; same semantics.

        Example:
            >>> ember.zeros(2).is_floating_point(), ember.tensor([1]).is_floating_point()
            (True, False)
        """
        return self._data.dtype.kind == "f" or _is_bf16(self._data)

    def data_ptr(self) -> int:
        """The memory address of the first element of the tensor.

        Returns:
            int: the address (a host address on the CPU, a device address on a GPU).

        PyTorch:
            ``Tensor.data_ptr``; same semantics.

        Example:
            >>> x = ember.arange(4)
            >>> x[1:].data_ptr() - x.data_ptr()
            8
        """
        return self._data.__array_interface__["data"][0] if self._data.__class__ is _ndarray else self._data.data.ptr

    @property
    def is_leaf(self) -> bool:
        """Whether the tensor is a leaf of the autograd graph: made by the user rather than by a recorded op.

        Every tensor that does not require grad is a leaf; a leaf that requires grad keeps its gradient in ``.grad``
        after ``backward()``.

        PyTorch:
            ``Tensor.is_leaf``; same semantics.

        Example:
            >>> x = ember.ones(2, requires_grad=True)
            >>> x.is_leaf, (x * 2).is_leaf
            (True, False)
        """
        return self.grad_fn is None

    @property
    def _version(self) -> int:
        return self._vbox[0]

    @property
    def retains_grad(self) -> bool:
        """Whether ``retain_grad()`` asked to keep the ``.grad`` of this non-leaf tensor.

        PyTorch:
            ``Tensor.retains_grad``; same semantics.

        Example:
            >>> y = ember.ones(2, requires_grad=True) * 2
            >>> y.retain_grad()
            >>> y.retains_grad
            True
        """
        return self._retains

    @property
    def itemsize(self) -> int:
        """The size of one element in bytes (the same as ``element_size()``).

        PyTorch:
            ``Tensor.itemsize``; same semantics.

        Example:
            >>> ember.zeros(2).itemsize
            4
        """
        return self._data.itemsize

    @property
    def nbytes(self) -> int:
        """The size of the tensor's elements in bytes (``numel() * element_size()``).

        PyTorch:
            ``Tensor.nbytes``; same semantics.

        Example:
            >>> ember.zeros(2, 3).nbytes
            24
        """
        return self._data.nbytes

    # --- conversion -------------------------------------------------------------------------------------------
    def numpy(self, force: bool = False) -> np.ndarray:
        """The data of the tensor as a NumPy array, sharing memory on the CPU.

        A change to the array shows in the tensor and back. A tensor that requires grad raises (use
        ``detach().numpy()``), as does a GPU tensor, unless ``force=True``.

        Args:
            force (bool): also convert a tensor that requires grad (the array then no longer follows the graph) and
                copy a GPU tensor to the host. Default: False.

        Returns:
            numpy.ndarray: the array (of the tensor's dtype and shape).

        PyTorch:
            ``Tensor.numpy``; same semantics. A sparse tensor raises ``TypeError`` (use ``to_dense()`` first).

        Example:
            >>> ember.tensor([1, 2]).numpy()
            array([1, 2])
            >>> ember.ones(2, requires_grad=True).numpy(force=True)
            array([1., 1.], dtype=float32)
        """
        if self.requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        if _tracing.active[0]:
            _tracing.untraceable("Tensor.numpy()")
        if self._data.__class__ is not _ndarray:
            if self._data.__class__ is SparseCOO:
                raise TypeError(_SPARSE_TO_NUMPY)
            if not force:
                raise TypeError(f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() to copy "
                                "the tensor to host memory first.")
            return move(self._data, CPU)
        return self._data

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if _tracing.active[0]:
            _tracing.untraceable("a NumPy conversion (__array__)")
        arr = _host(self._data)
        if dtype is not None:
            arr = arr.astype(dtype, copy=bool(copy))
        elif copy:
            arr = arr.copy()
        return arr

    def item(self) -> Number:
        """The value of a one-element tensor as a Python number.

        Returns:
            number: a float, int or bool, by the tensor's dtype. A tensor of more than one element raises
            ``RuntimeError``.

        PyTorch:
            ``Tensor.item``; same semantics.

        Example:
            >>> ember.tensor([2.5]).item()
            2.5
        """
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        if _tracing.active[0]:
            _tracing.untraceable("Tensor.item() (a Python number from a tensor: data-dependent)")
        return self._data.reshape(()).item() if self._data.__class__ is _ndarray else _host(self._data).item()

    def tolist(self) -> Any:
        """The values of the tensor as nested Python lists.

        Returns:
            list or number: lists nested as deep as the tensor has dimensions, of Python numbers; a number for a 0-d
            tensor.

        PyTorch:
            ``Tensor.tolist``; same semantics.

        Example:
            >>> ember.tensor([[1, 2], [3, 4]]).tolist()
            [[1, 2], [3, 4]]
            >>> ember.tensor(2.5).tolist()
            2.5
        """
        if _tracing.active[0]:
            _tracing.untraceable("Tensor.tolist()")
        arr = _host(self._data)
        if arr.dtype == getattr(_dt.bfloat16, "np", None):
            arr = arr.astype(np.float32)
        return arr.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __hash__(self) -> int:
        return id(self)

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec) if spec else repr(self)

    def __repr__(self) -> str:
        return tensor_repr(self)

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        # Tensors pickle as arrays (DataLoader workers, copy.deepcopy); ember.save writes a pickled object's tensors
        # as the file's tensors, not through this (see ember.serialization).
        # multiprocessing's pickler sends an array in shared memory as a handle to it (see _shared_memory).
        if self._data.__class__ is SparseCOO:
            return (_rebuild_sparse, (self._data, self.requires_grad))
        return (_rebuild, (move(self._data, CPU), str(self.device), self.requires_grad))

    # --- shared memory ----------------------------------------------------------------------------------------
    def share_memory_(self) -> Tensor:
        """Move the data into memory shared between processes, in place (the tensor keeps its identity).

        Processes forked afterwards write to the same memory, and multiprocessing sends the tensor to 'spawn' and
        'forkserver' processes, Queues and Pipes as a handle to it. A no-op when the data is already shared or on a GPU.

        Returns:
            Tensor: self.

        PyTorch:
            ``Tensor.share_memory_``; same semantics, except that other tensors that were views of the old data keep the
            old (unshared) memory.

        Example:
            >>> x = ember.zeros(3).share_memory_()
            >>> x.is_shared()
            True
        """
        if self._data.__class__ is _ndarray and not _shared_memory.is_shared(self._data):
            self._data = _shared_memory.share(self._data)
            if _counting[0]:
                _count(self._data)
        return self

    def is_shared(self) -> bool:
        """Whether the data is in memory shared between processes.

        Returns:
            bool: True after ``share_memory_()``, for a tensor received from another process as shared, and always for a
            GPU tensor.

        PyTorch:
            ``Tensor.is_shared``; same semantics.

        Example:
            >>> ember.zeros(3).is_shared()
            False
        """
        return self._data.__class__ is not _ndarray or _shared_memory.is_shared(self._data)

    # --- autograd ---------------------------------------------------------------------------------------------
    def backward(self, gradient: Tensor | None = None, retain_graph: bool | None = None, create_graph: bool = False,
                 inputs: Tensor | Sequence[Tensor] | None = None) -> None:
        """Compute the gradient of this tensor with respect to the leaves it depends on, into their ``.grad``.

        A scalar (one-element) tensor needs no ``gradient``; another tensor needs one of its shape (the vector of the
        vector-Jacobian product). The graph is freed afterwards unless ``retain_graph`` or ``create_graph``.

        Args:
            gradient (Tensor, optional): the gradient of some scalar with respect to this tensor; 1 for a scalar tensor
                when None. Default: None.
            retain_graph (bool, optional): keep the graph for another backward; the value of ``create_graph`` when
                None. Default: None.
            create_graph (bool): record the backward itself, so that the gradients can be differentiated again.
                Default: False.
            inputs (Tensor or sequence of Tensor, optional): accumulate into these tensors' ``.grad`` only; every leaf
                when None. Default: None.

        PyTorch:
            ``Tensor.backward``; same semantics.

        Example:
            >>> x = ember.tensor([1.0, 2.0], requires_grad=True)
            >>> (3 * x ** 2).sum().backward()
            >>> x.grad
            tensor([ 6., 12.])
        """
        _autograd.backward([self], [gradient], retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set whether autograd records the operations on this tensor, in place.

        Only leaves may change it, and only tensors of a floating-point dtype may require grad.

        Args:
            requires_grad (bool): whether to record. Default: True.

        Returns:
            Tensor: self.

        PyTorch:
            ``Tensor.requires_grad_``; same semantics.

        Example:
            >>> w = ember.zeros(2).requires_grad_()
            >>> w.requires_grad
            True
        """
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to use a "
                               "computed variable in a subgraph that doesn't require differentiation use "
                               "var_no_grad = var.detach().")
        if requires_grad and self._data.dtype.kind not in "fc" and not _is_bf16(self._data):
            raise RuntimeError(f"only Tensors of floating point and complex dtype can require gradients "
                               f"(got {self.dtype})")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """A tensor that shares this tensor's data but is cut from the autograd graph.

        The result shares memory and the version counter with this tensor, so an in-place change of either is seen by
        autograd's checks on the other.

        Returns:
            Tensor: a leaf that does not require grad.

        PyTorch:
            ``Tensor.detach``; same semantics.

        Example:
            >>> x = ember.ones(2, requires_grad=True)
            >>> (x * 2).detach().requires_grad
            False
        """
        t = Tensor._wrap(self._data)
        t._vbox = self._vbox
        return t

    @property
    def data(self) -> Tensor:
        """The values of the tensor as a new tensor outside autograd.

        It shares this tensor's memory (an in-place change shows in both) but not its version counter, so autograd does
        not see the change. Assigning ``t.data = other`` gives t other's memory (shape and dtype may change) and keeps
        its identity and autograd state (a Parameter stays registered in its Module and optimizer). Prefer ``detach()``
        (whose in-place changes autograd checks) in new code.

        PyTorch:
            ``Tensor.data``; same semantics.

        Example:
            >>> w = ember.ones(2, requires_grad=True)
            >>> w.data.mul_(3)
            tensor([3., 3.])
            >>> w
            tensor([3., 3.], requires_grad=True)
        """
        return Tensor._wrap(self._data)

    @data.setter
    def data(self, value: Tensor) -> None:
        """``t.data = other``: t takes other's memory (shape and dtype may change) and keeps its identity and
        autograd state (a Parameter stays registered in its Module and optimizer), as PyTorch's."""
        if not isinstance(value, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(value).__name__}")
        if self.requires_grad and not value.is_floating_point():
            raise RuntimeError("data set to a tensor that requires gradients must be floating point or complex dtype")
        self._data = value._data

    def detach_(self) -> Tensor:
        """Detach this tensor from the autograd graph in place: it becomes a leaf that does not require grad.

        Returns:
            Tensor: self.

        PyTorch:
            ``Tensor.detach_``; same semantics.

        Example:
            >>> y = ember.ones(2, requires_grad=True) * 2
            >>> y.detach_().requires_grad, y.is_leaf
            (False, True)
        """
        self.grad_fn = None
        self.requires_grad = False
        return self

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> _RemovableHandle:
        """Register a function that autograd calls with this tensor's gradient each time the gradient is computed.

        The hook may return a tensor, which replaces the gradient (for the rest of the backward and, on a leaf, for
        ``.grad``), or None to leave it unchanged.

        Args:
            hook (callable): ``hook(grad) -> Tensor or None``.

        Returns:
            handle: an object whose ``remove()`` unregisters the hook.

        PyTorch:
            ``Tensor.register_hook``; same semantics.

        Example:
            >>> x = ember.ones(2, requires_grad=True)
            >>> handle = x.register_hook(lambda g: g * 2)
            >>> (3 * x).sum().backward()
            >>> x.grad
            tensor([6., 6.])
        """
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            fn = self.grad_fn
            if fn._pre_hooks is None:
                fn._pre_hooks = {}
            hooks = fn._pre_hooks.setdefault(self._out_index, [])
        if self._retains and hooks:  # retain_grad's hook stays last, so .grad sees what the other hooks return
            hooks.insert(len(hooks) - 1, hook)
        else:
            hooks.append(hook)
        return _RemovableHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]) -> _RemovableHandle:
        """Register a function that a backward calls with this leaf once it has accumulated the leaf's ``.grad``.

        The backward calls it as soon as the last node that sends this leaf a gradient has run (not at the end), which
        lets DistributedDataParallel start communicating early, or an optimizer step a parameter during the backward.

        Args:
            hook (callable): ``hook(tensor) -> None``, called with the leaf itself (its ``.grad`` is up to date).

        Returns:
            handle: an object whose ``remove()`` unregisters the hook.

        PyTorch:
            ``Tensor.register_post_accumulate_grad_hook``; same semantics (only leaves that require grad).

        Example:
            >>> w = ember.ones(2, requires_grad=True)
            >>> seen = []
            >>> handle = w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
            >>> (3 * w).sum().backward()
            >>> seen
            [[3.0, 3.0]]
        """
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if self._hooks is None:
            self._hooks = []
        entry = PostAccumulateGradHook(hook)
        self._hooks.append(entry)
        PostAccumulateGradHook.live[0] += 1
        return _PostAccumulateHandle(self._hooks, entry)

    def retain_grad(self) -> None:
        """Keep the ``.grad`` of this non-leaf tensor after backward (a no-op on a leaf).

        PyTorch:
            ``Tensor.retain_grad``; same semantics.

        Example:
            >>> x = ember.ones(2, requires_grad=True)
            >>> y = x * 2
            >>> y.retain_grad()
            >>> y.sum().backward()
            >>> y.grad
            tensor([1., 1.])
        """
        if self.grad_fn is None or self._retains:
            return
        ref = weakref.ref(self)

        def store(g):
            t = ref()
            if t is not None:
                t.grad = g.detach() if t.grad is None else t.grad + g.detach()

        self.register_hook(store)
        self._retains = True

    if TYPE_CHECKING:
        # The op registry (ember/ops) gives the class its operators and its other methods (sum, view, to, ...) at
        # import: the operators are declared here for type checkers, the other methods reach them as Any.
        def __getattr__(self, name: str) -> Any: ...
        def __getitem__(self, index: Any) -> Tensor: ...
        def __setitem__(self, index: Any, value: Tensor | Number) -> None: ...
        def __neg__(self) -> Tensor: ...
        def __pos__(self) -> Tensor: ...
        def __abs__(self) -> Tensor: ...
        def __invert__(self) -> Tensor: ...
        def __add__(self, other: Tensor | Number) -> Tensor: ...
        def __radd__(self, other: Tensor | Number) -> Tensor: ...
        def __iadd__(self, other: Tensor | Number) -> Tensor: ...
        def __sub__(self, other: Tensor | Number) -> Tensor: ...
        def __rsub__(self, other: Tensor | Number) -> Tensor: ...
        def __isub__(self, other: Tensor | Number) -> Tensor: ...
        def __mul__(self, other: Tensor | Number) -> Tensor: ...
        def __rmul__(self, other: Tensor | Number) -> Tensor: ...
        def __imul__(self, other: Tensor | Number) -> Tensor: ...
        def __truediv__(self, other: Tensor | Number) -> Tensor: ...
        def __rtruediv__(self, other: Tensor | Number) -> Tensor: ...
        def __itruediv__(self, other: Tensor | Number) -> Tensor: ...
        def __floordiv__(self, other: Tensor | Number) -> Tensor: ...
        def __rfloordiv__(self, other: Tensor | Number) -> Tensor: ...
        def __mod__(self, other: Tensor | Number) -> Tensor: ...
        def __rmod__(self, other: Tensor | Number) -> Tensor: ...
        def __pow__(self, other: Tensor | Number) -> Tensor: ...
        def __rpow__(self, other: Tensor | Number) -> Tensor: ...
        def __matmul__(self, other: Tensor) -> Tensor: ...
        def __rmatmul__(self, other: Tensor) -> Tensor: ...
        def __and__(self, other: Tensor | Number) -> Tensor: ...
        def __rand__(self, other: Tensor | Number) -> Tensor: ...
        def __or__(self, other: Tensor | Number) -> Tensor: ...
        def __ror__(self, other: Tensor | Number) -> Tensor: ...
        def __xor__(self, other: Tensor | Number) -> Tensor: ...
        def __rxor__(self, other: Tensor | Number) -> Tensor: ...
        def __eq__(self, other: object) -> Tensor: ...  # type: ignore[override]
        def __ne__(self, other: object) -> Tensor: ...  # type: ignore[override]
        def __lt__(self, other: Tensor | Number) -> Tensor: ...
        def __le__(self, other: Tensor | Number) -> Tensor: ...
        def __gt__(self, other: Tensor | Number) -> Tensor: ...
        def __ge__(self, other: Tensor | Number) -> Tensor: ...


class _RemovableHandle:
    __slots__ = ("hooks", "hook")

    def __init__(self, hooks: list, hook: Callable) -> None:
        self.hooks, self.hook = hooks, hook

    def remove(self) -> None:
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)


class PostAccumulateGradHook:
    """A hook of register_post_accumulate_grad_hook, kept in a leaf's hook list (the engine calls it after .grad is
    written, not with the gradient). ``live`` counts those registered, so that the engine looks for them only
    when some exist."""
    __slots__ = ("fn",)
    live = [0]

    def __init__(self, fn: Callable[[Tensor], None]) -> None:
        self.fn = fn


class _PostAccumulateHandle(_RemovableHandle):
    __slots__ = ()

    def remove(self) -> None:
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)
            PostAccumulateGradHook.live[0] -= 1


class Size(tuple[int, ...]):
    """The shape of a tensor: a tuple of ints that prints as ``ember.Size([...])``.

    ``tensor.shape`` and ``tensor.size()`` return one; slicing one gives a Size, and ``numel()`` gives the number of
    elements of a tensor of that shape.

    Args:
        iterable (iterable of int, optional): the sizes. Default: () (the shape of a scalar).

    PyTorch:
        ``torch.Size``; same semantics.

    Example:
        >>> s = ember.Size([2, 3, 4])
        >>> s[1:], s.numel()
        (ember.Size([3, 4]), 24)
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"ember.Size({list(self)})"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    @overload  # type: ignore[override]
    def __getitem__(self, key: SupportsIndex) -> int: ...
    @overload
    def __getitem__(self, key: slice) -> Size: ...

    def __getitem__(self, key: SupportsIndex | slice) -> int | Size:
        if isinstance(key, slice):
            return Size(tuple.__getitem__(self, key))
        return tuple.__getitem__(self, key)


_SPARSE_TO_NUMPY = "can't convert Sparse layout tensor to numpy. Use Tensor.to_dense() first."


def _host(array):
    """A tensor's data as a NumPy array (copied from a GPU); a sparse tensor's data is no array."""
    if array.__class__ is SparseCOO:
        raise TypeError(_SPARSE_TO_NUMPY)
    return move(array, CPU)


def _rebuild_sparse(data, requires_grad):
    t = Tensor._wrap(data)
    t.requires_grad = requires_grad
    return t


def _rebuild(array, dev, requires_grad):
    t = Tensor._wrap(move(array, to_device(dev)))
    t.requires_grad = requires_grad
    return t


def _is_bf16(arr):
    return _dt.bfloat16 is not None and arr.dtype == _dt.bfloat16.np


def init_tensor(t, array, requires_grad=False, grad_fn=None):
    """Set every field of a new tensor t around array (no copy, no checks)."""
    t._data = array
    t.requires_grad = requires_grad
    t._grad = None
    t.grad_fn = grad_fn
    t._vbox = [0]  # the version counter, shared by views
    t._base = None
    t._hooks = None
    t._out_index = 0
    t._retains = False
    if _counting[0] and id(array) not in _counted:
        _count(array)
    if _tracing.active[0]:
        _tracing.born(t)


def _wrap_dim(dim, ndim, op):
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


def _infer_dtype(data):
    """The dtype PyTorch gives to torch.tensor(data) for Python data."""
    kinds = set()
    stack = [data]
    while stack:
        x = stack.pop()
        if isinstance(x, (list, tuple)):
            stack.extend(x)
        elif isinstance(x, bool) or isinstance(x, np.bool_):
            kinds.add("b")
        elif isinstance(x, (int, np.integer)):
            kinds.add("i")
        elif isinstance(x, (float, np.floating)):
            kinds.add("f")
        elif isinstance(x, Tensor):
            kinds.add(x._data.dtype.kind)
        elif isinstance(x, complex):
            raise TypeError("ember does not support complex tensors")
        else:
            raise TypeError(f"tensor: can't convert an object of type {type(x).__name__} to a tensor")
    if "f" in kinds:
        return _dt.get_default_dtype()
    if "i" in kinds or "u" in kinds:
        return _dt.int64
    if "b" in kinds:
        return _dt.bool
    return _dt.get_default_dtype()  # empty list


def _to_array(data, dtype=None, device=None, copy=True):
    """Turn Python data, a NumPy/CuPy array or a Tensor into an array of the right dtype and device."""
    dtype = _dt.to_dtype(dtype) if dtype is not None else None
    dev = to_device(device)
    if isinstance(data, Tensor):
        arr = data._data
    elif isinstance(data, np.ndarray) or hasattr(data, "__cuda_array_interface__"):
        arr = data
    elif isinstance(data, np.generic):
        arr = np.asarray(data)
    else:
        inferred = dtype or _infer_dtype(data)
        if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in data):
            data = [np.asarray(x) if isinstance(x, Tensor) else x for x in data]
        arr = np.array(data, dtype=inferred.np)
        copy = False
    if arr.dtype.kind not in "biuf" and not _is_bf16(arr):
        raise TypeError(f"tensor: unsupported dtype {arr.dtype}")
    if dtype is not None and arr.dtype != dtype.np:
        arr = arr.astype(dtype.np)
        copy = False
    if dev is not None and dev != device_of(arr):
        arr = move(arr, dev)
        copy = False
    if copy:
        arr = arr.copy()
    return arr


def tensor(data: Any, dtype: _dtype | None = None, device: Device = None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data``.

    Without ``dtype``, the dtype follows the data as PyTorch's does: int64 for integers, the default dtype (float32)
    for floats, bool for bools; a NumPy array or a tensor keeps its dtype.

    Args:
        data (array_like): nested lists or tuples of numbers, a number, a NumPy array or a tensor.
        dtype (ember.dtype, optional): the dtype of the result; inferred from data when None. Default: None.
        device (str or ember.device, optional): where the result lives. Default: None (the CPU, or the device of a
            tensor or CuPy array given as data).
        requires_grad (bool): whether autograd records operations on the result. Default: False.
        pin_memory (bool): accepted and ignored. Default: False.

    Returns:
        Tensor: a new leaf tensor that shares no memory with ``data``.

    PyTorch:
        ``torch.tensor``; same semantics, except that ``pin_memory`` is ignored and complex data is not supported.

    Example:
        >>> ember.tensor([[1, 2], [3, 4]])
        tensor([[1, 2],
                [3, 4]])
        >>> ember.tensor([0.5, 1.0], requires_grad=True)
        tensor([0.5000, 1.0000], requires_grad=True)
    """
    t = Tensor._wrap(_to_array(data, dtype, device))
    if requires_grad:
        t.requires_grad_(True)
    return _tracing.created(t) if _tracing.active[0] else t


def as_tensor(data: Any, dtype: _dtype | None = None, device: Device = None) -> Tensor:
    """``data`` as a tensor, sharing memory with it when it already is an array or tensor of the given dtype and device.

    A tensor of the right dtype and device is returned as it is; a NumPy array of the right dtype on the CPU is
    wrapped without a copy; other data (lists, numbers, a conversion) is copied.

    Args:
        data (array_like): nested lists or tuples of numbers, a number, a NumPy array or a tensor.
        dtype (ember.dtype, optional): the dtype of the result; inferred from data when None. Default: None.
        device (str or ember.device, optional): where the result lives; the data's device when None. Default: None.

    Returns:
        Tensor: a tensor with the values of ``data``.

    PyTorch:
        ``torch.as_tensor``; same semantics (complex data is not supported).

    Example:
        >>> a = np.array([1.0, 2.0])
        >>> t = ember.as_tensor(a)
        >>> a[0] = 5.0
        >>> t
        tensor([5., 2.], dtype=ember.float64)
    """
    if isinstance(data, Tensor) and (dtype is None or _dt.to_dtype(dtype) is data.dtype) and \
            (device is None or to_device(device) == data.device):
        return data
    return Tensor._wrap(_to_array(data, dtype, device, copy=False))


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor that shares memory with a NumPy array: a change to one shows in the other.

    Args:
        array (numpy.ndarray): the array, of a dtype ember supports (bool, uint8, int8 to int64, float16 to
            float64, and ml_dtypes' bfloat16).

    Returns:
        Tensor: a CPU tensor of the array's dtype and shape.

    PyTorch:
        ``torch.from_numpy``; same semantics, except that arrays of a dtype ember does not have (complex, uint16,
        uint32, uint64) raise ``TypeError``.

    Example:
        >>> a = np.arange(3)
        >>> t = ember.from_numpy(a)
        >>> t[0] = 7
        >>> a
        array([7, 1, 2])
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(array).__name__})")
    _dt.from_numpy_dtype(array.dtype)
    return Tensor._wrap(array)


def is_tensor(obj: object) -> bool:
    """Whether ``obj`` is an ember tensor (a Tensor or an instance of a subclass, such as ``nn.Parameter``).

    Args:
        obj (object): any object.

    Returns:
        bool: ``isinstance(obj, ember.Tensor)``.

    PyTorch:
        ``torch.is_tensor``; same semantics.

    Example:
        >>> ember.is_tensor(ember.zeros(1)), ember.is_tensor([0.0])
        (True, False)
    """
    return isinstance(obj, Tensor)


# --- PyTorch's legacy constructors: Tensor(2, 3), FloatTensor([1, 2]), LongTensor(4), ... -------------------------
def _legacy_array(name, args, size, dtype, device, exact):
    """(array, version counter to share or None) for torch's legacy constructor ``name(*args, size=, device=)``
    of dtype: data (a sequence or an array, converted to dtype), a tensor (shared: of dtype when ``exact``), sizes
    as ints or a Size (uninitialized), nothing (empty)."""
    dev = to_device(device)
    if size is not None or not args:
        if args:
            raise TypeError(f"{name}(): got sizes both as arguments and as size=")
        return _uninitialized(name, (0,) if size is None else tuple(size), dtype, dev), None
    if len(args) == 1 and isinstance(args[0], Size):
        args = tuple(args[0])
    elif len(args) == 1 and not isinstance(args[0], (int, np.integer)):
        data = args[0]
        if isinstance(data, Tensor):
            if exact and (data._data.dtype != dtype.np or data._data.__class__ is not _ndarray):
                raise TypeError(f"{name}(): expected a CPU tensor of dtype {dtype} (got {data.dtype} on "
                                f"{data.device})")
            if data.requires_grad:  # PyTorch's is a differentiable alias; ember's legacy constructors record nothing
                raise RuntimeError(f"{name}(): got a tensor that requires grad: use the tensor itself, or "
                                   "x.detach() for its data")
            if dev is None or dev == data.device:
                return data._data, data._vbox
            return move(data._data, dev), None
        if isinstance(data, (str, bytes)):
            raise TypeError(f"{name}(): invalid data type '{type(data).__name__}'")
        if data is None or isinstance(data, (bool, float, complex, np.bool_, np.floating)):
            raise TypeError(f"{name}(): data must be a sequence (got {type(data).__name__})")
        return _to_array(data, dtype, device, copy=False), None
    if not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
        got = ", ".join(type(a).__name__ for a in args)
        raise TypeError(f"{name}(): expected data (a sequence or an array) or sizes as ints (got {got})")
    return _uninitialized(name, args, dtype, dev), None


def _uninitialized(name, shape, dtype, dev):
    shape = tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        bad = next(s for s in shape if s < 0)
        raise RuntimeError(f"{name}(): Trying to create tensor with negative dimension {bad}: {list(shape)}")
    array = np.empty(shape, dtype.np)
    return array if dev is None else move(array, dev)


class _LegacyTensorType(type):
    """The type of ember.FloatTensor, LongTensor, ...: calling one is torch's legacy constructor of its dtype on
    the CPU (``FloatTensor([1, 2])``, ``FloatTensor(2, 3)`` uninitialized), and ``isinstance(t, FloatTensor)``
    is True for the float32 tensors on the CPU, as in PyTorch."""

    def __call__(cls, *args, device=None, size=None):
        dev = to_device(device)
        if dev is not None and dev.type != "cpu":
            raise RuntimeError(f"{cls.__name__}(): legacy constructor expects device type: cpu but device type: "
                               f"{dev.type} was passed")
        array, vbox = _legacy_array(cls.__name__, args, size, cls.dtype, None, True)
        t = Tensor._wrap(array)
        if vbox is not None:
            t._vbox = vbox
        return t

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj._data.__class__ is _ndarray and obj._data.dtype == cls.dtype.np

    def __repr__(cls):
        return f"<class 'ember.{cls.__name__}'>"


_LEGACY_DOC = """The legacy constructor of the CPU tensors of dtype ``{dtype}``, and their type.

``{name}(data)`` converts data (a sequence or an array) to ``{dtype}``; a tensor of that dtype is shared, not
copied. ``{name}(*sizes)`` (or ``size=``) makes an uninitialized tensor and ``{name}()`` an empty one.
``isinstance(t, ember.{name})`` is True for the CPU tensors of dtype ``{dtype}``. Prefer ``ember.tensor``,
``ember.empty`` and ``ember.zeros`` in new code.

Args:
    *args: the data (a sequence, a NumPy array or a CPU tensor of dtype ``{dtype}``), or the sizes (ints or an
        ember.Size); nothing for an empty tensor.
    device (str or ember.device, optional): must be the CPU. Default: None (the CPU).
    size (tuple of int, optional): the sizes, instead of giving them in args. Default: None.

PyTorch:
    ``torch.{name}``; same semantics, except that a tensor that requires grad raises ``RuntimeError`` (PyTorch
    returns a differentiable alias of it) and that ember has no ``torch.cuda.{name}``.

Example:
    >>> ember.{name}({data})
    {shown}
    >>> ember.{name}(2, 3).shape
    ember.Size([2, 3])
"""


def _legacy_type(name, dtype, data, shown):
    """The legacy tensor type ``name`` of dtype; data and shown (its repr) make the docstring's example."""
    doc = _LEGACY_DOC.format(name=name, dtype=dtype, data=data, shown=shown)
    return _LegacyTensorType(name, (), {"dtype": dtype, "is_cuda": False, "is_sparse": False, "__doc__": doc,
                                        "__module__": "ember"})


FloatTensor = _legacy_type("FloatTensor", _dt.float32, "[1, 2]", "tensor([1., 2.])")
DoubleTensor = _legacy_type("DoubleTensor", _dt.float64, "[1, 2]", "tensor([1., 2.], dtype=ember.float64)")
HalfTensor = _legacy_type("HalfTensor", _dt.float16, "[1, 2]", "tensor([1., 2.], dtype=ember.float16)")
LongTensor = _legacy_type("LongTensor", _dt.int64, "[1.7, -2.0]", "tensor([ 1, -2])")
IntTensor = _legacy_type("IntTensor", _dt.int32, "[1, 2]", "tensor([1, 2], dtype=ember.int32)")
ShortTensor = _legacy_type("ShortTensor", _dt.int16, "[1, 2]", "tensor([1, 2], dtype=ember.int16)")
CharTensor = _legacy_type("CharTensor", _dt.int8, "[1, -3]", "tensor([ 1, -3], dtype=ember.int8)")
ByteTensor = _legacy_type("ByteTensor", _dt.uint8, "[1, 255]", "tensor([  1, 255], dtype=ember.uint8)")
BoolTensor = _legacy_type("BoolTensor", _dt.bool, "[1, 0]", "tensor([ True, False])")
