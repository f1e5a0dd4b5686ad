"""Convolution layers: Conv1d/2d/3d, ConvTranspose1d/2d/3d (PyTorch's parameters and initialisation)."""
from __future__ import annotations

import math

from ..dtypes import dtype as _dtype
from ..ops import conv as C, conv3d as C3
from ..ops.padding import pad
from ..ops.creation import empty
from ..tensor import Tensor
from ..types import Device, _size_any_t
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]


def _tuple(x, n):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,) * n


class _ConvNd(Module):
    n = 2
    transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: _size_any_t, stride: _size_any_t = 1,
                 padding: str | _size_any_t = 0, dilation: _size_any_t = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Device = None, dtype: _dtype | None = None, *,
                 _output_padding: _size_any_t = 0) -> None:
        super().__init__()
        n = self.n
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups:
            raise ValueError("out_channels must be divisible by groups")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
            if padding == "same" and any(s != 1 for s in _tuple(stride, n)):
                raise ValueError("padding='same' is not supported for strided convolutions")
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(f"padding_mode must be one of 'zeros', 'reflect', 'replicate' or 'circular', got "
                             f"{padding_mode!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = _tuple(kernel_size, n), _tuple(stride, n)
        self.padding = padding if isinstance(padding, str) else _tuple(padding, n)
        self.dilation, self.groups, self.padding_mode = _tuple(dilation, n), groups, padding_mode
        self.output_padding = _tuple(_output_padding, n)
        if self.transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(empty(shape, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming_uniform_(a=sqrt(5)) weights, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) bias."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self.n:
            s += f", padding={self.padding}"  # a string prints bare, as in torch: padding=same
        if self.dilation != (1,) * self.n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self.n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    def _padded(self, input):
        """Apply a non-zero padding_mode explicitly; the conv then runs without padding."""
        if self.padding_mode == "zeros" or isinstance(self.padding, str) and self.padding == "valid":
            return input, self.padding
        if isinstance(self.padding, str):  # 'same' with a non-zero padding mode
            total = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            pads = []
            for t in reversed(total):
                pads += [t // 2, t - t // 2]
        else:
            pads = []
            for p in reversed(self.padding):
                pads += [p, p]
        return pad(input, pads, mode=self.padding_mode), 0


class Conv1d(_ConvNd):
    """Apply a learnt 1-d convolution (cross-correlation) over an input of channels (L).

    ``weight`` (C_out, C_in / groups, kL) starts from ``kaiming_uniform_(a=sqrt(5))`` and ``bias`` (C_out,) from
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as in PyTorch.

    Args:
        in_channels (int): C_in, the input's channels; divisible by ``groups`` (else ValueError).
        out_channels (int): C_out, the output's channels; divisible by ``groups``.
        kernel_size (int or tuple): the kernel's size.
        stride (int or tuple): the step between windows. Default: 1.
        padding (int or tuple or str): padding on each side, or ``'valid'`` (none) or ``'same'`` (the output as long
            as the input; stride 1 only). Default: 0.
        dilation (int or tuple): the spacing between the kernel's elements. Default: 1.
        groups (int): split the channels into this many independent groups. Default: 1.
        bias (bool): learn an additive bias. Default: True.
        padding_mode (str): what the padding holds: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.
            Default: ``'zeros'``.
        device (str or ember.device, optional): where the parameters live. Default: the CPU.
        dtype (ember.dtype, optional): the parameters' dtype. Default: ``ember.get_default_dtype()``.
        _output_padding (int or tuple): internal (keyword only), the ``output_padding`` the transposed layers pass
            through; leave it at 0. Default: 0.

    Shape:
        - Input: (N, C_in, L) or (C_in, L).
        - Output: (N, C_out, L_out) or (C_out, L_out), where
          out = floor((in + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1.

    PyTorch:
        ``torch.nn.Conv1d``; same parameters, initialisation, state_dict keys and semantics (the keyword
        ``_output_padding`` is ember's own).

    Example:
        >>> conv = nn.Conv1d(2, 4, kernel_size=3, stride=2)
        >>> conv(ember.randn(5, 2, 9)).shape
        ember.Size([5, 4, 4])
        >>> conv.weight.shape
        ember.Size([4, 2, 3])
    """
    n = 1

    def forward(self, input: Tensor) -> Tensor:
        x, padding = self._padded(input)
        return C.conv1d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class Conv2d(_ConvNd):
    """Apply a learnt 2-d convolution (cross-correlation) over an input of channels (H, W).

    ``weight`` (C_out, C_in / groups, kH, kW) starts from ``kaiming_uniform_(a=sqrt(5))`` and ``bias`` (C_out,) from
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as in PyTorch.

    Args:
        in_channels (int): C_in, the input's channels; divisible by ``groups`` (else ValueError).
        out_channels (int): C_out, the output's channels; divisible by ``groups``.
        kernel_size (int or tuple): the kernel's size.
        stride (int or tuple): the step between windows. Default: 1.
        padding (int or tuple or str): padding on each side, or ``'valid'`` (none) or ``'same'`` (the output as long
            as the input; stride 1 only). Default: 0.
        dilation (int or tuple): the spacing between the kernel's elements. Default: 1.
        groups (int): split the channels into this many independent groups. Default: 1.
        bias (bool): learn an additive bias. Default: True.
        padding_mode (str): what the padding holds: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.
            Default: ``'zeros'``.
        device (str or ember.device, optional): where the parameters live. Default: the CPU.
        dtype (ember.dtype, optional): the parameters' dtype. Default: ``ember.get_default_dtype()``.
        _output_padding (int or tuple): internal (keyword only), the ``output_padding`` the transposed layers pass
            through; leave it at 0. Default: 0.

    Shape:
        - Input: (N, C_in, H, W) or (C_in, H, W).
        - Output: (N, C_out, H_out, W_out) or (C_out, H_out, W_out), where
          out = floor((in + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1.

    PyTorch:
        ``torch.nn.Conv2d``; same parameters, initialisation, state_dict keys and semantics (the keyword
        ``_output_padding`` is ember's own).

    Example:
        >>> conv = nn.Conv2d(3, 8, kernel_size=3, padding=1)
        >>> conv(ember.randn(2, 3, 16, 16)).shape
        ember.Size([2, 8, 16, 16])
        >>> conv.weight.shape
        ember.Size([8, 3, 3, 3])
    """
    n = 2

    def forward(self, input: Tensor) -> Tensor:
        x, padding = self._padded(input)
        return C.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class Conv3d(_ConvNd):
    """Apply a learnt 3-d convolution (cross-correlation) over an input of channels (D, H, W).

    ``weight`` (C_out, C_in / groups, kD, kH, kW) starts from ``kaiming_uniform_(a=sqrt(5))`` and ``bias`` (C_out,)
    from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as in PyTorch.

    Args:
        in_channels (int): C_in, the input's channels; divisible by ``groups`` (else ValueError).
        out_channels (int): C_out, the output's channels; divisible by ``groups``.
        kernel_size (int or tuple): the kernel's size.
        stride (int or tuple): the step between windows. Default: 1.
        padding (int or tuple or str): padding on each side, or ``'valid'`` (none) or ``'same'`` (the output as large
            as the input; stride 1 only). Default: 0.
        dilation (int or tuple): the spacing between the kernel's elements. Default: 1.
        groups (int): split the channels into this many independent groups. Default: 1.
        bias (bool): learn an additive bias. Default: True.
        padding_mode (str): what the padding holds: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.
            Default: ``'zeros'``.
        device (str or ember.device, optional): where the parameters live. Default: the CPU.
        dtype (ember.dtype, optional): the parameters' dtype. Default: ``ember.get_default_dtype()``.
        _output_padding (int or tuple): internal (keyword only), the ``output_padding`` the transposed layers pass
            through; leave it at 0. Default: 0.

    Shape:
        - Input: (N, C_in, D, H, W) or (C_in, D, H, W).
        - Output: (N, C_out, D_out, H_out, W_out) or (C_out, D_out, H_out, W_out), where
          out = floor((in + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1.

    PyTorch:
        ``torch.nn.Conv3d``; same parameters, initialisation, state_dict keys and semantics (the keyword
        ``_output_padding`` is ember's own).

    Example:
        >>> conv = nn.Conv3d(2, 4, kernel_size=3, padding=1, stride=(1, 2, 2))
        >>> conv(ember.randn(1, 2, 4, 8, 8)).shape
        ember.Size([1, 4, 4, 4, 4])
        >>> conv.weight.shape
        ember.Size([4, 2, 3, 3, 3])
    """
    n = 3

    def forward(self, input: Tensor) -> Tensor:
        x, padding = self._padded(input)
        return C3.conv3d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class _ConvTransposeNd(_ConvNd):
    transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: _size_any_t, stride: _size_any_t = 1,
                 padding: _size_any_t = 0, output_padding: _size_any_t = 0, groups: int = 1, bias: bool = True,
                 dilation: _size_any_t = 1, padding_mode: str = "zeros", device: Device = None,
                 dtype: _dtype | None = None) -> None:
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple of ints, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype, _output_padding=output_padding)


    def _output_padding(self, input, output_size):
        """output_padding, or the one that gives the requested output_size (PyTorch's rule and messages)."""
        if output_size is None:
            return self.output_padding
        n, ndim = self.n, input._data.ndim
        lead = 2 if ndim == n + 2 else 1
        output_size = tuple(int(s) for s in output_size)
        if len(output_size) == lead + n:
            output_size = output_size[lead:]
        if len(output_size) != n:
            raise ValueError(f"ConvTranspose{n}D: for {ndim}D input, output_size must have {n} or {lead + n} "
                             f"elements (got {len(output_size)})")
        spatial = input.shape[lead:]
        min_sizes = [(spatial[d] - 1) * self.stride[d] - 2 * self.padding[d]
                     + self.dilation[d] * (self.kernel_size[d] - 1) + 1 for d in range(n)]
        max_sizes = [m + s - 1 for m, s in zip(min_sizes, self.stride)]
        for size, lo, hi in zip(output_size, min_sizes, max_sizes):
            if not lo <= size <= hi:
                raise ValueError(f"requested an output size of {list(output_size)}, but valid sizes range from "
                                 f"{min_sizes} to {max_sizes} (for an input of {tuple(spatial)})")
        return tuple(s - m for s, m in zip(output_size, min_sizes))


class ConvTranspose1d(_ConvTransposeNd):
    """Apply a learnt 1-d transposed convolution (the gradient of ``Conv1d`` as a layer, e.g. to upsample).

    ``weight`` (C_in, C_out / groups, kL) and ``bias`` (C_out,) are initialised as PyTorch's. ``forward(input,
    output_size=None)`` may name the output size, which picks the ``output_padding`` (the sizes a strided
    convolution maps to the same input are ambiguous).

    Args:
        in_channels (int): C_in, the input's channels; divisible by ``groups`` (else ValueError).
        out_channels (int): C_out, the output's channels; divisible by ``groups``.
        kernel_size (int or tuple): the kernel's size.
        stride (int or tuple): the step between the scattered kernels. Default: 1.
        padding (int or tuple): the padding of the matching ``Conv1d``: the output loses this much on each side; a
            string raises ValueError. Default: 0.
        output_padding (int or tuple): extra size added to one side of the output, smaller than ``stride`` or
            ``dilation``. Default: 0.
        groups (int): split the channels into this many independent groups. Default: 1.
        bias (bool): learn an additive bias. Default: True.
        dilation (int or tuple): the spacing between the kernel's elements. Default: 1.
        padding_mode (str): only ``'zeros'`` (else ValueError, as in PyTorch). Default: ``'zeros'``.
        device (str or ember.device, optional): where the parameters live. Default: the CPU.
        dtype (ember.dtype, optional): the parameters' dtype. Default: ``ember.get_default_dtype()``.

    Shape:
        - Input: (N, C_in, L) or (C_in, L).
        - Output: (N, C_out, L_out) or (C_out, L_out), where
          out = (in - 1) stride - 2 padding + dilation (kernel_size - 1) + output_padding + 1.

    PyTorch:
        ``torch.nn.ConvTranspose1d``; same parameters, initialisation, state_dict keys and semantics.

    Example:
        >>> up = nn.ConvTranspose1d(4, 2, kernel_size=3, stride=2)
        >>> up(ember.randn(5, 4, 4)).shape
        ember.Size([5, 2, 9])
        >>> up(ember.randn(5, 4, 4), output_size=[10]).shape
        ember.Size([5, 2, 10])
    """
    n = 1

    def forward(self, input: Tensor, output_size: list[int] | None = None) -> Tensor:
        return C.conv_transpose1d(input, self.weight, self.bias, self.stride, self.padding,
                                  self._output_padding(input, output_size), self.groups, self.dilation)


class ConvTranspose2d(_ConvTransposeNd):
    """Apply a learnt 2-d transposed convolution (the gradient of ``Conv2d`` as a layer, e.g. to upsample).

    ``weight`` (C_in, C_out / groups, kH, kW) and ``bias`` (C_out,) are initialised as PyTorch's. ``forward(input,
    output_size=None)`` may name the output size, which picks the ``output_padding`` (the sizes a strided
    convolution maps to the same input are ambiguous).

    Args:
        in_channels (int): C_in, the input's channels; divisible by ``groups`` (else ValueError).
        out_channels (int): C_out, the output's channels; divisible by ``groups``.
        kernel_size (int or tuple): the kernel's size.
        stride (int or tuple): the step between the scattered kernels. Default: 1.
        padding (int or tuple): the padding of the matching ``Conv2d``: the output loses this much on each side; a
            string raises ValueError. Default: 0.
        output_padding (int or tuple): extra size added to one side of the output, smaller than ``stride`` or
            ``dilation``. Default: 0.
        groups (int): split the channels into this many independent groups. Default: 1.
        bias (bool): learn an additive bias. Default: True.
        dilation (int or tuple): the spacing between the kernel's elements. Default: 1.
        padding_mode (str): only ``'zeros'`` (else ValueError, as in PyTorch). Default: ``'zeros'``.
        device (str or ember.device, optional): where the parameters live. Default: the CPU.
        dtype (ember.dtype, optional): the parameters' dtype. Default: ``ember.get_default_dtype()``.

    Shape:
        - Input: (N, C_in, H, W) or (C_in, H, W).
        - Output: (N, C_out, H_out, W_out) or (C_out, H_out, W_out), where
          out = (in - 1) stride - 2 padding + dilation (kernel_size - 1) + output_padding + 1.

    PyTorch:
        ``torch.nn.ConvTranspose2d``; same parameters, initialisation, state_dict keys and semantics.

    Example:
        >>> up = nn.ConvTranspose2d(8, 3, kernel_size=3, stride=2, padding=1, output_padding=1)
        >>> up(ember.randn(2, 8, 8, 8)).shape
        ember.Size([2, 3, 16, 16])
        >>> up.weight.shape
        ember.Size([8, 3, 3, 3])
    """
    n = 2

    def forward(self, input: Tensor, output_size: list[int] | None = None) -> Tensor:
        return C.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                  self._output_padding(input, output_size), self.groups, self.dilation)


class ConvTranspose3d(_ConvTransposeNd):
    """Apply a learnt 3-d transposed convolution (the gradient of ``Conv3d`` as a layer, e.g. to upsample).

    ``weight`` (C_in, C_out / groups, kD, kH, kW) and ``bias`` (C_out,) are initialised as PyTorch's.
    ``forward(input, output_size=None)`` may name the output size, which picks the ``output_padding`` (the sizes a
    strided convolution maps to the same input are ambiguous).

    Args:
        in_channels (int): C_in, the input's channels; divisible by ``groups`` (else ValueError).
        out_channels (int): C_out, the output's channels; divisible by ``groups``.
        kernel_size (int or tuple): the kernel's size.
        stride (int or tuple): the step between the scattered kernels. Default: 1.
        padding (int or tuple): the padding of the matching ``Conv3d``: the output loses this much on each side; a
            string raises ValueError. Default: 0.
        output_padding (int or tuple): extra size added to one side of the output, smaller than ``stride`` or
            ``dilation``. Default: 0.
        groups (int): split the channels into this many independent groups. Default: 1.
        bias (bool): learn an additive bias. Default: True.
        dilation (int or tuple): the spacing between the kernel's elements. Default: 1.
        padding_mode (str): only ``'zeros'`` (else ValueError, as in PyTorch). Default: ``'zeros'``.
        device (str or ember.device, optional): where the parameters live. Default: the CPU.
        dtype (ember.dtype, optional): the parameters' dtype. Default: ``ember.get_default_dtype()``.

    Shape:
        - Input: (N, C_in, D, H, W) or (C_in, D, H, W).
        - Output: (N, C_out, D_out, H_out, W_out) or (C_out, D_out, H_out, W_out), where
          out = (in - 1) stride - 2 padding + dilation (kernel_size - 1) + output_padding + 1.

    PyTorch:
        ``torch.nn.ConvTranspose3d``; same parameters, initialisation, state_dict keys and semantics.

    Example:
        >>> up = nn.ConvTranspose3d(4, 2, kernel_size=2, stride=2)
        >>> up(ember.randn(1, 4, 3, 4, 4)).shape
        ember.Size([1, 2, 6, 8, 8])
        >>> up(ember.randn(1, 4, 3, 4, 4), output_size=[7, 9, 9]).shape
        ember.Size([1, 2, 7, 9, 9])
    """
    n = 3

    def forward(self, input: Tensor, output_size: list[int] | None = None) -> Tensor:
        return C3.conv_transpose3d(input, self.weight, self.bias, self.stride, self.padding,
                                   self._output_padding(input, output_size), self.groups, self.dilation)
