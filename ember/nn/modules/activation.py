"""torch.nn.modules.activation: ember's classes under PyTorch's module path."""
from ..activation import (  # noqa: F401
    CELU, ELU, GELU, GLU, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU, LogSigmoid, LogSoftmax, Mish, PReLU, ReLU,
    ReLU6, SELU, SiLU, Sigmoid, Softmax, Softmin, Softplus, Softsign, Tanh, Tanhshrink, Threshold, Softmax2d,
    Hardshrink, Softshrink, RReLU,
)
from ..attention import MultiheadAttention  # noqa: F401
