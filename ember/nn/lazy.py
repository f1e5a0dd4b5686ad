"""Lazy modules: layers whose input size (in_features, in_channels, num_features) is read from their first input.

Until that first forward they hold UninitializedParameters and UninitializedBuffers; a forward pre-hook then
materializes them in place (optimizers built before keep valid references), initializes them as the regular layer
does, and turns the module into that layer (``LazyLinear`` becomes ``Linear``), as PyTorch's lazy modules.
"""
from __future__ import annotations

import itertools
from typing import Any

from ..autograd import no_grad
from ..dtypes import dtype as _dtype
from ..tensor import Tensor, tensor
from ..types import Device, _size_any_t
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .linear import Linear
from .normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d,
                            _BatchNorm, _InstanceNorm, _NormBase)
from .parameter import UninitializedBuffer, UninitializedParameter, is_lazy

__all__ = ["UninitializedParameter", "UninitializedBuffer", "LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d",
           "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyBatchNorm1d", "LazyBatchNorm2d",
           "LazyBatchNorm3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d"]


def _call_lazy_load_hook(module, *args):
    module._lazy_load_hook(*args)


class LazyModuleMixin:
    """A mixin for modules whose parameters' shapes come from their first input ("lazy modules").

    Until the first forward the module holds UninitializedParameters (and UninitializedBuffers); a forward pre-hook
    calls ``initialize_parameters(*args, **kwargs)`` with that first input, which materializes them (in place) and
    calls ``reset_parameters()``; the hooks are then removed and the module's class becomes ``cls_to_become``.
    Loading a state_dict with initialized tensors into an uninitialized lazy module materializes them with the saved
    shapes first. Convert the dtype and device before the first forward (``to`` works on uninitialized tensors).

    Args:
        *args, **kwargs: passed on to the next class's constructor (the layer's).

    PyTorch:
        ``torch.nn.modules.lazy.LazyModuleMixin``; same semantics (ember has no ``DataParallel`` replication check).

    Example:
        >>> from ember.nn.modules.lazy import LazyModuleMixin
        >>> class LazyScale(LazyModuleMixin, nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.scale = nn.UninitializedParameter()
        ...     def initialize_parameters(self, x):
        ...         self.scale.materialize(x.shape[-1:])
        ...         with ember.no_grad():
        ...             self.scale.fill_(2.0)
        ...     def forward(self, x):
        ...         return x * self.scale
        >>> m = LazyScale()
        >>> m.has_uninitialized_params()
        True
        >>> m(ember.ones(3)).detach(), m.has_uninitialized_params()
        (tensor([2., 2., 2.]), False)
    """

    cls_to_become: type | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._load_hook = self.register_load_state_dict_pre_hook(_call_lazy_load_hook)
        self._initialize_hook = self.register_forward_pre_hook(self._infer_parameters, with_kwargs=True)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, True)  # detaching an uninitialized tensor is an error
        if not keep_vars:
            for name, t in itertools.chain(self._parameters.items(), self._buffers.items()):
                if prefix + name in destination and t is not None and not is_lazy(t):
                    destination[prefix + name] = t.detach()

    def _lazy_load_hook(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                        error_msgs):
        """Materialize each uninitialized tensor whose entry in state_dict is initialized, with its shape."""
        for name, param in itertools.chain(self._parameters.items(), self._buffers.items()):
            key = prefix + name
            if key in state_dict and param is not None and is_lazy(param) and not is_lazy(state_dict[key]):
                with no_grad():
                    param.materialize(state_dict[key].shape)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        # an uninitialized entry loaded into an uninitialized tensor leaves it as it is (PyTorch copies one empty
        # tensor into another): set such entries aside, as matched keys
        both = {}
        for name, t in itertools.chain(self._parameters.items(), self._buffers.items()):
            if is_lazy(t) and is_lazy(state_dict.get(prefix + name)):
                both[prefix + name] = state_dict.pop(prefix + name)
        try:
            super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                          error_msgs)
        finally:
            state_dict.update(both)
        missing_keys[:] = [k for k in missing_keys if k not in both]

    def initialize_parameters(self, *args: Any, **kwargs: Any) -> None:
        """Materialize and initialize the parameters from the first input (each lazy layer defines it).

        Args:
            *args, **kwargs: the arguments of the first forward.

        PyTorch:
            ``torch.nn.modules.lazy.LazyModuleMixin.initialize_parameters``; same semantics.

        Example:
            >>> layer = nn.LazyLinear(2)
            >>> layer.initialize_parameters(ember.ones(1, 5))
            >>> layer.weight.shape
            ember.Size([2, 5])
        """
        raise NotImplementedError(f"initialize_parameters is not implemented for {self.__class__.__name__}")

    def has_uninitialized_params(self) -> bool:
        """Whether the module still holds an uninitialized parameter or buffer (its first forward has not run).

        Returns:
            bool: True before the parameters are materialized.

        PyTorch:
            ``torch.nn.modules.lazy.LazyModuleMixin.has_uninitialized_params``; same semantics.

        Example:
            >>> nn.LazyLinear(2).has_uninitialized_params()
            True
        """
        return any(is_lazy(t) for t in itertools.chain(self._parameters.values(), self._buffers.values()))

    def _infer_parameters(self, module, args, kwargs=None):
        """The forward pre-hook: initialize from the first input, remove the hooks, become cls_to_become."""
        kwargs = kwargs if kwargs else {}
        module.initialize_parameters(*args, **kwargs)
        if module.has_uninitialized_params():
            raise RuntimeError(f"module {self._get_name()} has not been fully initialized")
        module._initialize_hook.remove()
        module._load_hook.remove()
        delattr(module, "_initialize_hook")
        delattr(module, "_load_hook")
        if module.cls_to_become is not None:
            module.__class__ = module.cls_to_become


# --- Linear ---------------------------------------------------------------------------------------------------------
class LazyLinear(LazyModuleMixin, Linear):
    """A ``Linear`` layer whose ``in_features`` is read from its first input: ``y = x @ weight.T + bias``.

    ``weight`` and ``bias`` are UninitializedParameters until the first forward, which materializes them as
    (out_features, in_features) and (out_features,), initializes them as ``Linear`` does, and turns the module into
    a ``Linear``.

    Args:
        out_features (int): the size of each output sample's last dimension.
        bias (bool): learn an additive bias. Default: True.
        device (str or ember.device, optional): where the parameters live. Default: the CPU.
        dtype (ember.dtype, optional): the parameters' dtype. Default: ``ember.get_default_dtype()``.

    Shape:
        - Input: (*, in_features), any number of leading dimensions; in_features is set by the first input.
        - Output: (*, out_features).

    PyTorch:
        ``torch.nn.LazyLinear``; same semantics, state_dict keys and messages.

    Example:
        >>> layer = nn.LazyLinear(2)
        >>> layer
        LazyLinear(in_features=0, out_features=2, bias=True)
        >>> layer(ember.ones(4, 3)).shape
        ember.Size([4, 2])
        >>> layer
        Linear(in_features=3, out_features=2, bias=True)
    """

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device: Device = None,
                 dtype: _dtype | None = None) -> None:
        super().__init__(0, 0, False)  # no bias: it is replaced at once
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_features = out_features
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        """Initialize as ``Linear`` once the parameters have their shapes."""
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: Tensor) -> None:  # type: ignore[override]
        """Set ``in_features`` from the input's last dimension and materialize the parameters."""
        if self.has_uninitialized_params():
            with no_grad():
                self.in_features = input.shape[-1]
                self.weight.materialize((self.out_features, self.in_features))
                if self.bias is not None:
                    self.bias.materialize((self.out_features,))
                self.reset_parameters()
        if self.in_features == 0:  # loaded from a state_dict
            if input.shape[-1] != self.weight.shape[-1]:
                raise AssertionError(f"The in_features inferred from input: {input.shape[-1]} is not equal to "
                                     f"in_features from self.weight: {self.weight.shape[-1]}")
            self.in_features = input.shape[-1]


# --- convolutions ---------------------------------------------------------------------------------------------------
class _LazyConvXdMixin(LazyModuleMixin):
    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: Tensor, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        if self.has_uninitialized_params():
            self.in_channels = self._get_in_channels(input)
            if self.in_channels % self.groups != 0:
                raise ValueError("in_channels must be divisible by groups")
            if self.transposed:
                self.weight.materialize((self.in_channels, self.out_channels // self.groups, *self.kernel_size))
            else:
                self.weight.materialize((self.out_channels, self.in_channels // self.groups, *self.kernel_size))
            if self.bias is not None:
                self.bias.materialize((self.out_channels,))
            self.reset_parameters()

    def _get_in_channels(self, input):
        unbatched = self.n + 1
        ndim = input.dim()
        if ndim not in (unbatched, unbatched + 1):
            raise RuntimeError(f"Expected {unbatched}D (unbatched) or {unbatched + 1}D (batched) input to "
                               f"{self.__class__.__name__}, but got input of size: {input.shape}")
        return input.shape[1] if ndim == unbatched + 1 else input.shape[0]


class _LazyConvNd(_LazyConvXdMixin):
    def __init__(self, out_channels: int, kernel_size: _size_any_t, stride: _size_any_t = 1,
                 padding: str | _size_any_t = 0, dilation: _size_any_t = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Device = None, dtype: _dtype | None = None) -> None:
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False, padding_mode, device, dtype)
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_channels = out_channels
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)


class _LazyConvTransposeNd(_LazyConvXdMixin):
    def __init__(self, out_channels: int, kernel_size: _size_any_t, stride: _size_any_t = 1,
                 padding: _size_any_t = 0, output_padding: _size_any_t = 0, groups: int = 1, bias: bool = True,
                 dilation: _size_any_t = 1, padding_mode: str = "zeros", device: Device = None,
                 dtype: _dtype | None = None) -> None:
        super().__init__(0, 0, kernel_size, stride, padding, output_padding, groups, False, dilation, padding_mode,
                         device, dtype)
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_channels = out_channels
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)


_CONV_ARGS = """Args:
        out_channels (int): C_out, the output's channels.
        kernel_size (int or tuple): the kernel's size.
        stride (int or tuple): the step between windows. Default: 1.
        padding (int or tuple or str): padding on each side, or ``'valid'`` or ``'same'``. Default: 0.
        dilation (int or tuple): the spacing between the kernel's elements. Default: 1.
        groups (int): split the channels into this many independent groups; C_in must be divisible by it (checked
            at the first forward, ValueError). Default: 1.
        bias (bool): learn an additive bias. Default: True.
        padding_mode (str): ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``. Default: ``'zeros'``.
        device (str or ember.device, optional): where the parameters live. Default: the CPU.
        dtype (ember.dtype, optional): the parameters' dtype. Default: ``ember.get_default_dtype()``."""

_CONV_TRANSPOSE_ARGS = """Args:
        out_channels (int): C_out, the output's channels.
        kernel_size (int or tuple): the kernel's size.
        stride (int or tuple): the step between the scattered kernels. Default: 1.
        padding (int or tuple): the padding of the matching convolution: the output loses this much on each side.
            Default: 0.
        output_padding (int or tuple): extra size added to one side of the output. Default: 0.
        groups (int): split the channels into this many independent groups; C_in must be divisible by it (checked
            at the first forward, ValueError). Default: 1.
        bias (bool): learn an additive bias. Default: True.
        dilation (int or tuple): the spacing between the kernel's elements. Default: 1.
        padding_mode (str): only ``'zeros'`` (else ValueError). Default: ``'zeros'``.
        device (str or ember.device, optional): where the parameters live. Default: the CPU.
        dtype (ember.dtype, optional): the parameters' dtype. Default: ``ember.get_default_dtype()``."""


class LazyConv1d(_LazyConvNd, Conv1d):
    __doc__ = f"""A ``Conv1d`` whose ``in_channels`` is read from its first input (its dimension 1, or 0 unbatched).

    The first forward materializes ``weight`` (C_out, C_in / groups, kL) and ``bias`` (C_out,), initializes them as
    ``Conv1d`` does and turns the module into a ``Conv1d``; an input of another rank raises RuntimeError.

    {_CONV_ARGS}

    Shape:
        - Input: (N, C_in, L) or (C_in, L).
        - Output: (N, C_out, L_out) or (C_out, L_out), as ``Conv1d``.

    PyTorch:
        ``torch.nn.LazyConv1d``; same semantics, state_dict keys and messages.

    Example:
        >>> conv = nn.LazyConv1d(4, kernel_size=3)
        >>> conv(ember.randn(5, 2, 9)).shape
        ember.Size([5, 4, 7])
        >>> conv
        Conv1d(2, 4, kernel_size=(3,), stride=(1,))
    """
    cls_to_become = Conv1d


class LazyConv2d(_LazyConvNd, Conv2d):
    __doc__ = f"""A ``Conv2d`` whose ``in_channels`` is read from its first input (its dimension 1, or 0 unbatched).

    The first forward materializes ``weight`` (C_out, C_in / groups, kH, kW) and ``bias`` (C_out,), initializes them
    as ``Conv2d`` does and turns the module into a ``Conv2d``; an input of another rank raises RuntimeError.

    {_CONV_ARGS}

    Shape:
        - Input: (N, C_in, H, W) or (C_in, H, W).
        - Output: (N, C_out, H_out, W_out) or (C_out, H_out, W_out), as ``Conv2d``.

    PyTorch:
        ``torch.nn.LazyConv2d``; same semantics, state_dict keys and messages.

    Example:
        >>> conv = nn.LazyConv2d(8, kernel_size=3, padding=1)
        >>> conv(ember.randn(2, 3, 16, 16)).shape
        ember.Size([2, 8, 16, 16])
        >>> conv.weight.shape
        ember.Size([8, 3, 3, 3])
    """
    cls_to_become = Conv2d


class LazyConv3d(_LazyConvNd, Conv3d):
    __doc__ = f"""A ``Conv3d`` whose ``in_channels`` is read from its first input (its dimension 1, or 0 unbatched).

    The first forward materializes ``weight`` (C_out, C_in / groups, kD, kH, kW) and ``bias`` (C_out,), initializes
    them as ``Conv3d`` does and turns the module into a ``Conv3d``; an input of another rank raises RuntimeError.

    {_CONV_ARGS}

    Shape:
        - Input: (N, C_in, D, H, W) or (C_in, D, H, W).
        - Output: (N, C_out, D_out, H_out, W_out) or (C_out, D_out, H_out, W_out), as ``Conv3d``.

    PyTorch:
        ``torch.nn.LazyConv3d``; same semantics, state_dict keys and messages.

    Example:
        >>> conv = nn.LazyConv3d(4, kernel_size=3, padding=1)
        >>> conv(ember.randn(1, 2, 4, 8, 8)).shape
        ember.Size([1, 4, 4, 8, 8])
        >>> conv.weight.shape
        ember.Size([4, 2, 3, 3, 3])
    """
    cls_to_become = Conv3d


class LazyConvTranspose1d(_LazyConvTransposeNd, ConvTranspose1d):
    __doc__ = f"""A ``ConvTranspose1d`` whose ``in_channels`` is read from its first input (its dimension 1, or 0
    unbatched).

    The first forward materializes ``weight`` (C_in, C_out / groups, kL) and ``bias`` (C_out,), initializes them as
    ``ConvTranspose1d`` does and turns the module into a ``ConvTranspose1d``; an input of another rank raises
    RuntimeError.

    {_CONV_TRANSPOSE_ARGS}

    Shape:
        - Input: (N, C_in, L) or (C_in, L).
        - Output: (N, C_out, L_out) or (C_out, L_out), as ``ConvTranspose1d``.

    PyTorch:
        ``torch.nn.LazyConvTranspose1d``; same semantics, state_dict keys and messages.

    Example:
        >>> up = nn.LazyConvTranspose1d(2, kernel_size=3, stride=2)
        >>> up(ember.randn(5, 4, 4)).shape
        ember.Size([5, 2, 9])
        >>> up.weight.shape
        ember.Size([4, 2, 3])
    """
    cls_to_become = ConvTranspose1d


class LazyConvTranspose2d(_LazyConvTransposeNd, ConvTranspose2d):
    __doc__ = f"""A ``ConvTranspose2d`` whose ``in_channels`` is read from its first input (its dimension 1, or 0
    unbatched).

    The first forward materializes ``weight`` (C_in, C_out / groups, kH, kW) and ``bias`` (C_out,), initializes them
    as ``ConvTranspose2d`` does and turns the module into a ``ConvTranspose2d``; an input of another rank raises
    RuntimeError.

    {_CONV_TRANSPOSE_ARGS}

    Shape:
        - Input: (N, C_in, H, W) or (C_in, H, W).
        - Output: (N, C_out, H_out, W_out) or (C_out, H_out, W_out), as ``ConvTranspose2d``.

    PyTorch:
        ``torch.nn.LazyConvTranspose2d``; same semantics, state_dict keys and messages.

    Example:
        >>> up = nn.LazyConvTranspose2d(3, kernel_size=3, stride=2, padding=1, output_padding=1)
        >>> up(ember.randn(2, 8, 8, 8)).shape
        ember.Size([2, 3, 16, 16])
        >>> up.weight.shape
        ember.Size([8, 3, 3, 3])
    """
    cls_to_become = ConvTranspose2d


class LazyConvTranspose3d(_LazyConvTransposeNd, ConvTranspose3d):
    __doc__ = f"""A ``ConvTranspose3d`` whose ``in_channels`` is read from its first input (its dimension 1, or 0
    unbatched).

    The first forward materializes ``weight`` (C_in, C_out / groups, kD, kH, kW) and ``bias`` (C_out,), initializes
    them as ``ConvTranspose3d`` does and turns the module into a ``ConvTranspose3d``; an input of another rank raises
    RuntimeError.

    {_CONV_TRANSPOSE_ARGS}

    Shape:
        - Input: (N, C_in, D, H, W) or (C_in, D, H, W).
        - Output: (N, C_out, D_out, H_out, W_out) or (C_out, D_out, H_out, W_out), as ``ConvTranspose3d``.

    PyTorch:
        ``torch.nn.LazyConvTranspose3d``; same semantics, state_dict keys and messages.

    Example:
        >>> up = nn.LazyConvTranspose3d(2, kernel_size=2, stride=2)
        >>> up(ember.randn(1, 4, 3, 4, 4)).shape
        ember.Size([1, 2, 6, 8, 8])
        >>> up.weight.shape
        ember.Size([4, 2, 2, 2, 2])
    """
    cls_to_become = ConvTranspose3d


# --- normalization --------------------------------------------------------------------------------------------------
class _LazyNormBase(LazyModuleMixin, _NormBase):
    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Device = None, dtype: _dtype | None = None, *,
                 bias: bool = True) -> None:
        # affine, bias and track_running_stats False: no tensors that would be replaced at once
        super().__init__(0, eps, momentum, False, False, device, dtype, bias=False)
        self.affine = affine
        self.track_running_stats = track_running_stats
        if self.affine:
            self.weight = UninitializedParameter(device=device, dtype=dtype)
            if bias:
                self.bias = UninitializedParameter(device=device, dtype=dtype)
        if self.track_running_stats:
            self.running_mean = UninitializedBuffer(device=device, dtype=dtype)
            self.running_var = UninitializedBuffer(device=device, dtype=dtype)
            self.num_batches_tracked = tensor(0, device=device)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: Tensor) -> None:  # type: ignore[override]
        if self.has_uninitialized_params():
            self.num_features = input.shape[1]  # also for an unbatched instance norm input, as PyTorch
            if self.affine:
                self.weight.materialize((self.num_features,))
                if self.bias is not None:
                    self.bias.materialize((self.num_features,))
            if self.track_running_stats:
                self.running_mean.materialize((self.num_features,))
                self.running_var.materialize((self.num_features,))
            self.reset_parameters()


_NORM_ARGS = """Args:
        eps (float): added to the variance for stability. Default: 1e-05.
        momentum (float, optional): the weight of the new batch in the running statistics' moving average; None for a
            cumulative average. Default: 0.1.
        affine (bool): learn a per-channel ``weight`` (ones) and ``bias`` (zeros). Default: True.
        track_running_stats (bool): keep ``running_mean``, ``running_var`` and ``num_batches_tracked`` buffers, used
            in eval mode. Default: True.
        device (str or ember.device, optional): where the parameters and buffers live. Default: the CPU.
        dtype (ember.dtype, optional): their dtype. Default: ``ember.get_default_dtype()``.
        bias (bool): with ``affine``, also learn the bias (keyword only). Default: True."""


class LazyBatchNorm1d(_LazyNormBase, _BatchNorm):
    __doc__ = f"""A ``BatchNorm1d`` whose ``num_features`` is read from its first input's dimension 1.

    The first forward materializes ``weight``, ``bias``, ``running_mean`` and ``running_var`` as (C,), initializes
    them as ``BatchNorm1d`` does and turns the module into a ``BatchNorm1d``.

    {_NORM_ARGS}

    Shape:
        - Input: (N, C) or (N, C, L).
        - Output: the input's shape.

    PyTorch:
        ``torch.nn.LazyBatchNorm1d``; same semantics and state_dict keys.

    Example:
        >>> bn = nn.LazyBatchNorm1d()
        >>> bn(ember.randn(8, 3)).shape, bn.running_mean.shape
        (ember.Size([8, 3]), ember.Size([3]))
        >>> bn
        BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    """
    cls_to_become = BatchNorm1d
    _check_input_dim = BatchNorm1d._check_input_dim


class LazyBatchNorm2d(_LazyNormBase, _BatchNorm):
    __doc__ = f"""A ``BatchNorm2d`` whose ``num_features`` is read from its first input's dimension 1.

    The first forward materializes ``weight``, ``bias``, ``running_mean`` and ``running_var`` as (C,), initializes
    them as ``BatchNorm2d`` does and turns the module into a ``BatchNorm2d``.

    {_NORM_ARGS}

    Shape:
        - Input: (N, C, H, W).
        - Output: the input's shape.

    PyTorch:
        ``torch.nn.LazyBatchNorm2d``; same semantics and state_dict keys.

    Example:
        >>> bn = nn.LazyBatchNorm2d()
        >>> bn(ember.randn(8, 3, 4, 4)).shape, bn.weight.shape
        (ember.Size([8, 3, 4, 4]), ember.Size([3]))
    """
    cls_to_become = BatchNorm2d
    _check_input_dim = BatchNorm2d._check_input_dim


class LazyBatchNorm3d(_LazyNormBase, _BatchNorm):
    __doc__ = f"""A ``BatchNorm3d`` whose ``num_features`` is read from its first input's dimension 1.

    The first forward materializes ``weight``, ``bias``, ``running_mean`` and ``running_var`` as (C,), initializes
    them as ``BatchNorm3d`` does and turns the module into a ``BatchNorm3d``.

    {_NORM_ARGS}

    Shape:
        - Input: (N, C, D, H, W).
        - Output: the input's shape.

    PyTorch:
        ``torch.nn.LazyBatchNorm3d``; same semantics and state_dict keys.

    Example:
        >>> bn = nn.LazyBatchNorm3d()
        >>> bn(ember.randn(4, 3, 2, 4, 4)).shape, bn.running_var.shape
        (ember.Size([4, 3, 2, 4, 4]), ember.Size([3]))
    """
    cls_to_become = BatchNorm3d
    _check_input_dim = BatchNorm3d._check_input_dim


def _instance_note(cls):
    return f"""The first forward materializes the affine ``weight`` and ``bias`` and the running statistics as
    (C,), C being the input's dimension 1 (also for an unbatched input, as PyTorch), and turns the module into an
    ``{cls}``. Unlike ``{cls}``, ``affine`` and ``track_running_stats`` default to True (as PyTorch's);
    without either there is nothing to infer and ``num_features`` stays 0."""


class LazyInstanceNorm1d(_LazyNormBase, _InstanceNorm):
    __doc__ = f"""An ``InstanceNorm1d`` whose ``num_features`` is read from its first input.

    {_instance_note("InstanceNorm1d")}

    {_NORM_ARGS}

    Shape:
        - Input: (N, C, L) or (C, L).
        - Output: the input's shape.

    PyTorch:
        ``torch.nn.LazyInstanceNorm1d``; same semantics and state_dict keys.

    Example:
        >>> norm = nn.LazyInstanceNorm1d()
        >>> norm(ember.randn(2, 3, 5)).shape, norm.weight.shape
        (ember.Size([2, 3, 5]), ember.Size([3]))
    """
    cls_to_become = InstanceNorm1d
    ndim = 1


class LazyInstanceNorm2d(_LazyNormBase, _InstanceNorm):
    __doc__ = f"""An ``InstanceNorm2d`` whose ``num_features`` is read from its first input.

    {_instance_note("InstanceNorm2d")}

    {_NORM_ARGS}

    Shape:
        - Input: (N, C, H, W) or (C, H, W).
        - Output: the input's shape.

    PyTorch:
        ``torch.nn.LazyInstanceNorm2d``; same semantics and state_dict keys.

    Example:
        >>> norm = nn.LazyInstanceNorm2d()
        >>> norm(ember.randn(2, 3, 4, 4)).shape, norm.running_mean.shape
        (ember.Size([2, 3, 4, 4]), ember.Size([3]))
    """
    cls_to_become = InstanceNorm2d
    ndim = 2


class LazyInstanceNorm3d(_LazyNormBase, _InstanceNorm):
    __doc__ = f"""An ``InstanceNorm3d`` whose ``num_features`` is read from its first input.

    {_instance_note("InstanceNorm3d")}

    {_NORM_ARGS}

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W).
        - Output: the input's shape.

    PyTorch:
        ``torch.nn.LazyInstanceNorm3d``; same semantics and state_dict keys.

    Example:
        >>> norm = nn.LazyInstanceNorm3d()
        >>> norm(ember.randn(2, 3, 2, 4, 4)).shape, norm.weight.shape
        (ember.Size([2, 3, 2, 4, 4]), ember.Size([3]))
    """
    cls_to_become = InstanceNorm3d
    ndim = 3
