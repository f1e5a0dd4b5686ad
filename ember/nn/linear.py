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
    """Return the input unchanged: a placeholder where a layer is optional (e.g. a removed classifier head).

    Args:
        *args, **kwargs: accepted and ignored, so that Identity can replace any layer in a constructor call.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input itself (the same tensor object).

    PyTorch:
        ``torch.nn.Identity``; same semantics.

    Example:
        >>> nn.Identity(54, unused="ignored")(ember.tensor([1.0, 2.0]))
        tensor([1., 2.])
    """

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
    """Apply a bilinear map to two inputs: ``y[k] = x1 @ weight[k] @ x2 + bias[k]`` for each output feature k.

    ``weight`` (out_features, in1_features, in2_features) and ``bias`` (out_features,) both start from
    U(-1/sqrt(in1_features), 1/sqrt(in1_features)), as in PyTorch.

    Args:
        in1_features (int): the size of the first input's last dimension (must be > 0).
        in2_features (int): the size of the second input's last dimension.
        out_features (int): the size of each output sample's last dimension.
        bias (bool): learn an additive bias. Default: True.
        device (str or ember.device, optional): where the parameters live. Default: the CPU.
        dtype (ember.dtype, optional): the parameters' dtype. Default: ``ember.get_default_dtype()``.

    Shape:
        - Input1: (*, in1_features), any number of leading dimensions.
        - Input2: (*, in2_features), the same leading dimensions as input1.
        - Output: (*, out_features).

    PyTorch:
        ``torch.nn.Bilinear``; same parameters, initialisation and state_dict keys.

    Example:
        >>> layer = nn.Bilinear(3, 4, 2)
        >>> layer(ember.ones(5, 3), ember.ones(5, 4)).shape
        ember.Size([5, 2])
        >>> layer.weight.shape
        ember.Size([2, 3, 4])
    """

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
