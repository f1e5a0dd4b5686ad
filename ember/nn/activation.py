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
           "PReLU", "Softmax", "LogSoftmax", "Softmin", "Softmax2d", "Hardshrink", "Softshrink", "RReLU"]


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
    """Apply max(x, 0) elementwise, the rectified linear unit.

    Args:
        inplace (bool): overwrite the input with the result (and return it). Default: False.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.ReLU``; same semantics.

    Example:
        >>> nn.ReLU()(ember.tensor([-1.0, 0.0, 2.0]))
        tensor([0., 0., 2.])
    """
    fn = staticmethod(_relu)


class SiLU(_Inplace):
    """Apply x * sigmoid(x) elementwise, the sigmoid linear unit (swish).

    Args:
        inplace (bool): overwrite the input with the result (and return it). Default: False.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.SiLU``; same semantics.

    Example:
        >>> nn.SiLU()(ember.tensor([-2.0, 0.0, 2.0]))
        tensor([-0.2384,  0.0000,  1.7616])
    """
    fn = staticmethod(A.silu)


class Mish(_Inplace):
    """Apply x * tanh(softplus(x)) elementwise.

    Args:
        inplace (bool): overwrite the input with the result (and return it). Default: False.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.Mish``; same semantics.

    Example:
        >>> nn.Mish()(ember.tensor([-2.0, 0.0, 2.0]))
        tensor([-0.2525,  0.0000,  1.9440])
    """
    fn = staticmethod(A.mish)


class SELU(_Inplace):
    """Apply scale * (max(0, x) + min(0, alpha * (exp(x) - 1))) elementwise, the scaled exponential linear unit.

    alpha = 1.6732632423543772 and scale = 1.0507009873554805, PyTorch's constants (self-normalising networks).

    Args:
        inplace (bool): overwrite the input with the result (and return it). Default: False.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.SELU``; same semantics.

    Example:
        >>> nn.SELU()(ember.tensor([-2.0, 0.0, 2.0]))
        tensor([-1.5202,  0.0000,  2.1014])
    """
    fn = staticmethod(A.selu)


class Hardswish(_Inplace):
    """Apply x * relu6(x + 3) / 6 elementwise, a piecewise-linear swish.

    Args:
        inplace (bool): overwrite the input with the result (and return it). Default: False.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.Hardswish``; same semantics.

    Example:
        >>> nn.Hardswish()(ember.tensor([-2.0, 0.0, 2.0]))
        tensor([-0.3333,  0.0000,  1.6667])
    """
    fn = staticmethod(A.hardswish)
    show_inplace = False


class Hardsigmoid(_Inplace):
    """Apply relu6(x + 3) / 6 elementwise, a piecewise-linear sigmoid.

    Args:
        inplace (bool): overwrite the input with the result (and return it). Default: False.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.Hardsigmoid``; same semantics.

    Example:
        >>> nn.Hardsigmoid()(ember.tensor([-2.0, 0.0, 2.0]))
        tensor([0.1667, 0.5000, 0.8333])
    """
    fn = staticmethod(A.hardsigmoid)
    show_inplace = False


class Sigmoid(_Stateless):
    """Apply 1 / (1 + exp(-x)) elementwise, the logistic sigmoid.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.Sigmoid``; same semantics.

    Example:
        >>> nn.Sigmoid()(ember.tensor([-2.0, 0.0, 2.0]))
        tensor([0.1192, 0.5000, 0.8808])
    """
    fn = staticmethod(U.sigmoid)


class Tanh(_Stateless):
    """Apply the hyperbolic tangent elementwise.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.Tanh``; same semantics.

    Example:
        >>> nn.Tanh()(ember.tensor([-2.0, 0.0, 2.0]))
        tensor([-0.9640,  0.0000,  0.9640])
    """
    fn = staticmethod(U.tanh)


class LogSigmoid(_Stateless):
    """Apply log(sigmoid(x)) elementwise, computed without overflow.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.LogSigmoid``; same semantics.

    Example:
        >>> nn.LogSigmoid()(ember.tensor([-2.0, 0.0, 2.0]))
        tensor([-2.1269, -0.6931, -0.1269])
    """
    fn = staticmethod(A.logsigmoid)


class Softsign(_Stateless):
    """Apply x / (1 + abs(x)) elementwise.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.Softsign``; same semantics.

    Example:
        >>> nn.Softsign()(ember.tensor([-2.0, 0.0, 2.0]))
        tensor([-0.6667,  0.0000,  0.6667])
    """
    fn = staticmethod(A.softsign)


class Tanhshrink(_Stateless):
    """Apply x - tanh(x) elementwise.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.Tanhshrink``; same semantics.

    Example:
        >>> nn.Tanhshrink()(ember.tensor([-2.0, 0.0, 2.0]))
        tensor([-1.0360,  0.0000,  1.0360])
    """
    fn = staticmethod(A.tanhshrink)


def _inplace_str(inplace):
    return ", inplace=True" if inplace else ""


class Hardtanh(Module):
    """Clamp x to [min_val, max_val] elementwise.

    Args:
        min_val (float): the lower bound. Default: -1.0.
        max_val (float): the upper bound; must be greater than min_val (AssertionError otherwise). Default: 1.0.
        inplace (bool): overwrite the input with the result (and return it). Default: False.
        min_value, max_value (float, optional): deprecated names of min_val and max_val (with a FutureWarning).
            Default: None.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.Hardtanh``; same semantics.

    Example:
        >>> nn.Hardtanh(-1.0, 1.0)(ember.tensor([-2.0, 0.5, 2.0]))
        tensor([-1.0000,  0.5000,  1.0000])
    """

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
    """Apply min(max(0, x), 6) elementwise.

    Args:
        inplace (bool): overwrite the input with the result (and return it). Default: False.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.ReLU6``; same semantics.

    Example:
        >>> nn.ReLU6()(ember.tensor([-1.0, 3.0, 8.0]))
        tensor([0., 3., 6.])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def forward(self, input: Tensor) -> Tensor:
        return A.relu6(input, self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """Apply x where x >= 0 and negative_slope * x elsewhere, elementwise.

    Args:
        negative_slope (float): the slope for negative inputs. Default: 0.01.
        inplace (bool): overwrite the input with the result (and return it). Default: False.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.LeakyReLU``; same semantics.

    Example:
        >>> nn.LeakyReLU(0.1)(ember.tensor([-2.0, 0.0, 2.0]))
        tensor([-0.2000,  0.0000,  2.0000])
    """
    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input: Tensor) -> Tensor:
        return A.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + _inplace_str(self.inplace)


class ELU(Module):
    """Apply x where x > 0 and alpha * (exp(x) - 1) elsewhere, elementwise (exponential linear unit).

    Args:
        alpha (float): the value approached for large negative inputs is -alpha. Default: 1.0.
        inplace (bool): overwrite the input with the result (and return it). Default: False.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.ELU``; same semantics.

    Example:
        >>> nn.ELU()(ember.tensor([-2.0, 0.0, 2.0]))
        tensor([-0.8647,  0.0000,  2.0000])
    """
    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input: Tensor) -> Tensor:
        return A.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + _inplace_str(self.inplace)


class CELU(ELU):
    """Apply max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) elementwise (continuously differentiable ELU).

    Args:
        alpha (float): the scale of the negative part. Default: 1.0.
        inplace (bool): overwrite the input with the result (and return it). Default: False.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.CELU``; same semantics.

    Example:
        >>> nn.CELU(alpha=0.5)(ember.tensor([-2.0, 0.0, 2.0]))
        tensor([-0.4908,  0.0000,  2.0000])
    """
    def forward(self, input: Tensor) -> Tensor:
        return A.celu(input, self.alpha, self.inplace)


class GELU(Module):
    """Apply x * Phi(x) elementwise, the Gaussian error linear unit (Phi: the standard normal CDF).

    Args:
        approximate (str): 'none' for the exact form, 'tanh' for
            0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))); anything else is an error at the call.
            Default: 'none'.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.GELU``; same semantics.

    Example:
        >>> nn.GELU()(ember.tensor([-2.0, 0.0, 2.0]))
        tensor([-0.0455,  0.0000,  1.9545])
        >>> nn.GELU(approximate="tanh")(ember.tensor([1.0]))
        tensor([0.8412])
    """
    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return A.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    """Apply log(1 + exp(beta * x)) / beta elementwise, a smooth ReLU.

    Args:
        beta (float): the sharpness. Default: 1.0.
        threshold (float): where beta * x > threshold the result is x itself (for numerical stability).
            Default: 20.0.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.Softplus``; same semantics.

    Example:
        >>> nn.Softplus()(ember.tensor([-2.0, 0.0, 2.0]))
        tensor([0.1269, 0.6931, 2.1269])
    """
    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input: Tensor) -> Tensor:
        return A.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class GLU(Module):
    """Apply the gated linear unit a * sigmoid(b), where a and b are the two halves of the input along dim.

    Args:
        dim (int): the dimension to split in halves; its size must be even. Default: -1.

    Shape:
        - Input: (*, 2N, *), 2N along dim.
        - Output: (*, N, *).

    PyTorch:
        ``torch.nn.GLU``; same semantics.

    Example:
        >>> nn.GLU()(ember.tensor([[1.0, 2.0, 0.0, 0.0]]))
        tensor([[0.5000, 1.0000]])
    """
    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return A.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Threshold(Module):
    """Keep x where x > threshold and replace it by value elsewhere, elementwise.

    Args:
        threshold (float): the value to compare with.
        value (float): the replacement where x <= threshold.
        inplace (bool): overwrite the input with the result (and return it). Default: False.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.Threshold``; same semantics.

    Example:
        >>> nn.Threshold(0.5, 20.0)(ember.tensor([-2.0, 0.0, 2.0]))
        tensor([20., 20.,  2.])
    """
    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input: Tensor) -> Tensor:
        return A.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}" + _inplace_str(self.inplace)


class PReLU(Module):
    """Apply max(0, x) + a * min(0, x) elementwise with a learned slope a, one for all channels or one per channel.

    The learned weight has shape (num_parameters,).

    Args:
        num_parameters (int): the number of slopes: 1, or the number of channels (dimension 1 of the input).
            Default: 1.
        init (float): the initial value of every slope. Default: 0.25.
        device (str or ember.device, optional): where the weight lives. Default: the CPU.
        dtype (ember.dtype, optional): the weight's dtype. Default: ``ember.get_default_dtype()``.

    Shape:
        - Input: (*), any shape; with num_parameters > 1, (N, C, *) with C = num_parameters (channels: dimension 1).
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.PReLU``; same semantics.

    Example:
        >>> prelu = nn.PReLU()
        >>> prelu(ember.tensor([-2.0, 0.0, 2.0])).detach()
        tensor([-0.5000,  0.0000,  2.0000])
        >>> nn.PReLU(num_parameters=3).weight.shape
        ember.Size([3])
    """

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
    """Apply exp(x) / sum(exp(x)) along dim, so that each slice along dim is positive and sums to 1.

    Args:
        dim (int, optional): the dimension along which it is computed; None picks one with PyTorch's legacy rule
            (dimension 0 for 0-, 1- and 3-dimensional inputs, 1 otherwise) and a deprecation warning. Default: None.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.Softmax``; same semantics.

    Example:
        >>> nn.Softmax(dim=1)(ember.tensor([[0.0, 0.0]]))
        tensor([[0.5000, 0.5000]])
    """
    fn = staticmethod(A.softmax)


class LogSoftmax(_SoftmaxBase):
    """Apply log(softmax(x)) along dim, computed stably.

    Args:
        dim (int, optional): the dimension along which it is computed; None picks one with PyTorch's legacy rule
            (dimension 0 for 0-, 1- and 3-dimensional inputs, 1 otherwise) and a deprecation warning. Default: None.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.LogSoftmax``; same semantics.

    Example:
        >>> nn.LogSoftmax(dim=0)(ember.tensor([-2.0, 0.0, 2.0]))
        tensor([-4.1429, -2.1429, -0.1429])
    """
    fn = staticmethod(A.log_softmax)


class Softmin(_SoftmaxBase):
    """Apply softmax(-x) along dim: each slice along dim is positive and sums to 1, smallest values weighted most.

    Args:
        dim (int, optional): the dimension along which it is computed; None picks one with PyTorch's legacy rule
            (dimension 0 for 0-, 1- and 3-dimensional inputs, 1 otherwise) and a deprecation warning. Default: None.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.Softmin``; same semantics.

    Example:
        >>> nn.Softmin(dim=0)(ember.tensor([-2.0, 0.0, 2.0]))
        tensor([0.8668, 0.1173, 0.0159])
    """
    fn = staticmethod(A.softmin)


class Softmax2d(Module):
    """Apply softmax over the channels at each spatial position of an image: softmax along dimension -3.

    Shape:
        - Input: (N, C, H, W) or (C, H, W) (others raise ValueError).
        - Output: the input's shape.

    PyTorch:
        ``torch.nn.Softmax2d``; same semantics.

    Example:
        >>> nn.Softmax2d()(ember.zeros(1, 2, 1, 1)).flatten()
        tensor([0.5000, 0.5000])
    """

    def forward(self, input: Tensor) -> Tensor:
        if input.dim() not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.dim()}D instead")
        return A.softmax(input, -3)


class Hardshrink(Module):
    """Zero the elements within [-lambd, lambd], keep the others (``F.hardshrink`` as a layer).

    Args:
        lambd (float): the half-width of the zeroed band. Default: 0.5.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.Hardshrink``; same semantics.

    Example:
        >>> nn.Hardshrink()(ember.tensor([-1.0, 0.3, 2.0]))
        tensor([-1.,  0.,  2.])
    """

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:
        return A.hardshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Softshrink(Hardshrink):
    """Shrink the elements towards 0 by lambd, zeroing those within [-lambd, lambd] (``F.softshrink`` as a
    layer).

    Args:
        lambd (float): the shrinkage, >= 0. Default: 0.5.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.Softshrink``; same semantics.

    Example:
        >>> nn.Softshrink()(ember.tensor([-1.0, 0.3, 2.0]))
        tensor([-0.5000,  0.0000,  1.5000])
    """

    def forward(self, input: Tensor) -> Tensor:
        return A.softshrink(input, self.lambd)


class RReLU(Module):
    """The randomized leaky relu (``F.rrelu`` as a layer): in training each negative element is scaled by a slope
    drawn from [lower, upper), in evaluation by their mean.

    Args:
        lower (float): the smallest slope. Default: 1/8.
        upper (float): the largest slope. Default: 1/3.
        inplace (bool): overwrite the input with the result (and return it). Default: False.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.RReLU``; same semantics (ember's random stream is its own).

    Example:
        >>> nn.RReLU().eval()(ember.tensor([-1.0, 2.0]))
        tensor([-0.2292,  2.0000])
    """

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False) -> None:
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input: Tensor) -> Tensor:
        return A.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}" + _inplace_str(self.inplace)
