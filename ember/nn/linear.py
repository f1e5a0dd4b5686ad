"""Identity, Linear and Bilinear layers, initialised exactly as in PyTorch."""
from __future__ import annotations

import math
from typing import Any

from ..dtypes import dtype as _dtype
from ..ops.creation import empty
from ..ops.linear import bilinear, linear
from ..tensor import Tensor
from ..types import Device
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Identity", "Linear", "Bilinear"]


class Identity(Module):
    """Returns its input unchanged (accepts and ignores any constructor arguments)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


class Linear(Module):
    """Applies an affine map to the last dimension: ``y = x @ weight.T + bias``.

    ``weight`` (out_features, in_features) starts from ``kaiming_uniform_(a=sqrt(5))`` and ``bias``
    (out_features,) from U(-1/sqrt(in_features), 1/sqrt(in_features)), as in PyTorch.

    Args:
        in_features (int): the size of each input sample's last dimension.
        out_features (int): the size of each output sample's last dimension.
        bias (bool): learn an additive bias. Default: True.
        device (str or ember.device, optional): where the parameters live. Default: the CPU.
        dtype (ember.dtype, optional): the parameters' dtype. Default: ``ember.get_default_dtype()``.

    Shape:
        - Input: (*, in_features), any number of leading dimensions.
        - Output: (*, out_features).

    PyTorch:
        ``torch.nn.Linear``; same parameters, initialisation and state_dict keys.

    Example:
        >>> layer = nn.Linear(3, 2)
        >>> layer(ember.ones(4, 3)).shape
        ember.Size([4, 2])
        >>> layer.weight.shape
        ember.Size([2, 3])
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device: Device = None,
                 dtype: _dtype | None = None) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(empty((out_features, in_features), device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw the weights with PyTorch's default initialisation."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        return linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Bilinear(Module):
    """y = x1^T A x2 + b for each output feature, with weight A of shape (out_features, in1_features, in2_features)."""

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True,
                 device: Device = None, dtype: _dtype | None = None) -> None:
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = Parameter(empty((out_features, in1_features, in2_features), device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(-1/sqrt(in1_features), 1/sqrt(in1_features)) for weight and bias, as in PyTorch."""
        if self.in1_features <= 0:
            raise ValueError(f"in1_features must be > 0, but got (in1_features={self.in1_features})")
        bound = 1 / math.sqrt(self.weight.size(1))
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
