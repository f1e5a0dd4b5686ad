"""Activation modules: thin wrappers over ember.nn.functional with PyTorch's constructor arguments and reprs."""
from __future__ import annotations

import warnings
from typing import Any

from ..autograd import no_grad
from ..dtypes import dtype as _dtype
from ..ops import activation as A
from ..ops import unary as U
from ..ops.creation import empty
from ..tensor import Tensor
from ..types import Device
from .module import Module
from .parameter import Parameter

__all__ = ["ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Softplus", "Sigmoid", "Tanh",
           "Hardtanh", "Hardswish", "Hardsigmoid", "LogSigmoid", "GLU", "Softsign", "Tanhshrink", "Threshold",
           "PReLU", "Softmax", "LogSoftmax", "Softmin"]


def _relu(input, inplace=False):
    return input.relu_() if inplace else U.relu(input)


class _Stateless(Module):
    """An activation without parameters or options, computed by `fn`."""

    fn: Any = None  # each subclass sets its function (a staticmethod)

    def forward(self, input: Tensor) -> Tensor:
        return type(self).fn(input)


class _Inplace(Module):
    """An activation whose only option is `inplace`, computed by `fn(input, inplace)`."""

    fn: Any = None  # each subclass sets its function (a staticmethod)
    show_inplace = True  # torch prints "inplace=True" for most of these (not for Hardswish/Hardsigmoid)

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return type(self).fn(input, self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace and self.show_inplace else ""


class ReLU(_Inplace):
    """max(x, 0), elementwise (torch.nn.ReLU); the input may have any shape.

    >>> nn.ReLU()(ember.tensor([-1.0, 0.0, 2.0]))
    tensor([0., 0., 2.])
    """
    fn = staticmethod(_relu)


class SiLU(_Inplace):
    """x * sigmoid(x) (swish), elementwise (torch.nn.SiLU); the input may have any shape."""
    fn = staticmethod(A.silu)


class Mish(_Inplace):
    """x * tanh(softplus(x)), elementwise (torch.nn.Mish); the input may have any shape."""
    fn = staticmethod(A.mish)


class SELU(_Inplace):
    """scale * (max(0, x) + min(0, alpha * (exp(x) - 1))) with PyTorch's constants, elementwise (torch.nn.SELU); the input may have any shape."""
    fn = staticmethod(A.selu)


class Hardswish(_Inplace):
    """x * relu6(x + 3) / 6, elementwise (torch.nn.Hardswish); the input may have any shape."""
    fn = staticmethod(A.hardswish)
    show_inplace = False


class Hardsigmoid(_Inplace):
    """relu6(x + 3) / 6, elementwise (torch.nn.Hardsigmoid); the input may have any shape."""
    fn = staticmethod(A.hardsigmoid)
    show_inplace = False


class Sigmoid(_Stateless):
    """1 / (1 + exp(-x)), elementwise (torch.nn.Sigmoid); the input may have any shape."""
    fn = staticmethod(U.sigmoid)


class Tanh(_Stateless):
    """tanh(x), elementwise (torch.nn.Tanh); the input may have any shape."""
    fn = staticmethod(U.tanh)


class LogSigmoid(_Stateless):
    """log(sigmoid(x)), computed without overflow, elementwise (torch.nn.LogSigmoid); the input may have any shape."""
    fn = staticmethod(A.logsigmoid)


class Softsign(_Stateless):
    """x / (1 + abs(x)), elementwise (torch.nn.Softsign); the input may have any shape."""
    fn = staticmethod(A.softsign)


class Tanhshrink(_Stateless):
    """x - tanh(x), elementwise (torch.nn.Tanhshrink); the input may have any shape."""
    fn = staticmethod(A.tanhshrink)


def _inplace_str(inplace):
    return ", inplace=True" if inplace else ""


class Hardtanh(Module):
    """x clamped to [min_val, max_val]."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False,
                 min_value: float | None = None, max_value: float | None = None) -> None:
        super().__init__()
        if min_value is not None:
            warnings.warn("keyword argument `min_value` is deprecated and renamed to `min_val`", FutureWarning,
                          stacklevel=2)
            min_val = min_value
        if max_value is not None:
            warnings.warn("keyword argument `max_value` is deprecated and renamed to `max_val`", FutureWarning,
                          stacklevel=2)
            max_val = max_value
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace
        if max_val <= min_val:
            raise AssertionError(f"max_val ({max_val}) must be greater than min_val ({min_val})")

    def forward(self, input: Tensor) -> Tensor:
        return A.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}" + _inplace_str(self.inplace)


class ReLU6(Hardtanh):
    """min(max(0, x), 6)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def forward(self, input: Tensor) -> Tensor:
        return A.relu6(input, self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """x for x >= 0, negative_slope * x otherwise, elementwise (torch.nn.LeakyReLU); the input may have any shape."""
    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input: Tensor) -> Tensor:
        return A.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + _inplace_str(self.inplace)


class ELU(Module):
    """x for x > 0, alpha * (exp(x) - 1) otherwise, elementwise (torch.nn.ELU); the input may have any shape."""
    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input: Tensor) -> Tensor:
        return A.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + _inplace_str(self.inplace)


class CELU(ELU):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)), elementwise (torch.nn.CELU); the input may have any shape."""
    def forward(self, input: Tensor) -> Tensor:
        return A.celu(input, self.alpha, self.inplace)


class GELU(Module):
    """x * Phi(x), the Gaussian error linear unit (``approximate='tanh'`` for the tanh form), elementwise (torch.nn.GELU); the input may have any shape."""
    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return A.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    """log(1 + exp(beta * x)) / beta, linear where beta * x > threshold, elementwise (torch.nn.Softplus); the input may have any shape."""
    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input: Tensor) -> Tensor:
        return A.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class GLU(Module):
    """The gated linear unit a * sigmoid(b), where a and b are the two halves of the input along dim (torch.nn.GLU).
    Input (*, 2N, *) along dim; output (*, N, *).
    """
    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return A.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Threshold(Module):
    """x where x > threshold, value elsewhere, elementwise (torch.nn.Threshold); the input may have any shape."""
    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input: Tensor) -> Tensor:
        return A.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}" + _inplace_str(self.inplace)


class PReLU(Module):
    """max(0, x) + a * min(0, x) with a learned slope a (one, or one per channel), initialised to `init`."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device: Device = None,
                 dtype: _dtype | None = None) -> None:
        super().__init__()
        self.num_parameters, self.init = num_parameters, init
        self.weight = Parameter(empty(num_parameters, dtype=dtype, device=device))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with no_grad():
            self.weight.fill_(self.init)

    def forward(self, input: Tensor) -> Tensor:
        return A.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class _SoftmaxBase(Module):
    fn: Any = None  # each subclass sets its function (a staticmethod)

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return type(self).fn(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_SoftmaxBase):
    """exp(x) / sum(exp(x)) along dim: each slice along dim sums to 1 (torch.nn.Softmax); any shape.

    >>> nn.Softmax(dim=1)(ember.tensor([[0.0, 0.0]]))
    tensor([[0.5000, 0.5000]])
    """
    fn = staticmethod(A.softmax)


class LogSoftmax(_SoftmaxBase):
    """log(softmax(x)) along dim, computed stably (torch.nn.LogSoftmax); any shape."""
    fn = staticmethod(A.log_softmax)


class Softmin(_SoftmaxBase):
    """softmax(-x) along dim (torch.nn.Softmin); any shape."""
    fn = staticmethod(A.softmin)
