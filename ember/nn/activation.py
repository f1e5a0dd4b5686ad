"""Activation modules: thin wrappers over ember.nn.functional with PyTorch's constructor arguments and reprs."""
from .. import ops
from ..ops import activation as A
from ..ops import elementwise as E
from .module import Module
from .parameter import Parameter

__all__ = ["ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Softplus", "Sigmoid", "Tanh",
           "Hardtanh", "Hardswish", "Hardsigmoid", "LogSigmoid", "GLU", "Softsign", "Tanhshrink", "Threshold",
           "PReLU", "Softmax", "LogSoftmax", "Softmin"]


class _Simple(Module):
    """An activation without parameters, computed by `fn`."""

    fn = None

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return type(self).fn(input)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class ReLU(_Simple):
    fn = staticmethod(E.relu)


class Sigmoid(_Simple):
    fn = staticmethod(E.sigmoid)

    def __init__(self):
        super().__init__()


class Tanh(_Simple):
    fn = staticmethod(E.tanh)

    def __init__(self):
        super().__init__()


class SiLU(_Simple):
    fn = staticmethod(A.silu)


class Mish(_Simple):
    fn = staticmethod(A.mish)


class Hardswish(_Simple):
    fn = staticmethod(A.hardswish)


class Hardsigmoid(_Simple):
    fn = staticmethod(A.hardsigmoid)


class SELU(_Simple):
    fn = staticmethod(A.selu)


class LogSigmoid(_Simple):
    fn = staticmethod(A.logsigmoid)

    def __init__(self):
        super().__init__()


class Softsign(_Simple):
    fn = staticmethod(A.softsign)

    def __init__(self):
        super().__init__()


class Tanhshrink(_Simple):
    fn = staticmethod(A.tanhshrink)

    def __init__(self):
        super().__init__()


class ReLU6(Module):
    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return A.relu6(input)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Hardtanh(Module):
    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input):
        return A.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):
        return A.leaky_relu(input, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return A.elu(input, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class CELU(ELU):
    def forward(self, input):
        return A.celu(input, self.alpha)


class GELU(Module):
    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return A.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return A.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class GLU(Module):
    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return A.glu(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Threshold(Module):
    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input):
        return A.threshold(input, self.threshold, self.value)

    def extra_repr(self):
        return f"threshold={self.threshold}, value={self.value}" + (", inplace=True" if self.inplace else "")


class PReLU(Module):
    """max(0, x) + a * min(0, x) with a learned slope a (one, or one per channel)."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.weight = Parameter(ops.creation.full((num_parameters,), init, dtype=dtype, device=device))

    def forward(self, input):
        return A.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class _SoftmaxBase(Module):
    fn = None

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return type(self).fn(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(_SoftmaxBase):
    fn = staticmethod(A.softmax)


class LogSoftmax(_SoftmaxBase):
    fn = staticmethod(A.log_softmax)


class Softmin(_SoftmaxBase):
    fn = staticmethod(A.softmin)
