"""Activation functions and the softmax family: the pointwise nn.functional ops that are not losses or
normalisations (dropout, embedding and distances have their own modules). Hot ones are single nodes with a
hand-written backward."""
import math
import warnings

import numpy as np

from ..autograd import Node, is_grad_enabled
from ..autograd.graph import apply
from ..autograd.inplace import inplace as write_inplace
from ..tensor import Tensor
from ._checks import check_tensor, float_tensor
from ._erf import erf as _erf_array
from ._util import bind, wrap_dim
from .copy import clone
from .ternary import clamp, where
from .unary import abs as _abs, erf, exp, sigmoid, sigmoid_array, tanh

__all__ = ["softmax", "log_softmax", "softmin", "gelu", "silu", "mish", "softplus", "leaky_relu", "elu", "selu",
           "celu", "relu6", "hardtanh", "hardswish", "hardsigmoid", "logsigmoid", "glu", "softsign", "tanhshrink",
           "threshold", "prelu"]


def maybe_inplace(input, inplace, op, fn):
    """fn(input), or written into input when inplace (PyTorch's ``inplace=True``)."""
    if not inplace:
        return fn(input)
    if input.requires_grad and is_grad_enabled():
        # The node may save its input for backward: give it a private copy, since input is about to be overwritten.
        return write_inplace(input, op + "_", lambda s: fn(clone(s)))
    return write_inplace(input, op + "_", fn)


# --- softmax family -------------------------------------------------------------------------------------------

class Softmax(Node):
    saves = ()
    saves_output = True

    def __init__(self, dim):
        self.dim = dim

    def forward(self, xp, a):
        if a.size == 0:
            self.out = a.copy()
            return self.out
        e = xp.exp(a - a.max(axis=self.dim, keepdims=True))
        e /= e.sum(axis=self.dim, keepdims=True)
        self.out = e
        return e

    def backward(self, g):
        y = self.saved_output()
        return (y * (g - (g * y).sum(self.dim, keepdim=True)),)


class LogSoftmax(Node):
    saves = ()
    saves_output = True

    def __init__(self, dim):
        self.dim = dim

    def forward(self, xp, a):
        if a.size == 0:
            self.out = a.copy()
            return self.out
        z = a - a.max(axis=self.dim, keepdims=True)
        z -= xp.log(xp.exp(z).sum(axis=self.dim, keepdims=True))
        self.out = z
        return z

    def backward(self, g):
        y = self.saved_output()
        return (g - exp(y) * g.sum(self.dim, keepdim=True),)


def _softmax(node_cls, input, dim, dtype, op):
    if dtype is not None:
        input = input.to(dtype)
    float_tensor(input, op)
    ndim = input.data.ndim
    if dim is None:  # PyTorch's legacy implicit choice
        warnings.warn(f"Implicit dimension choice for {op} has been deprecated. Change the call to include dim=X "
                      "as an argument.", stacklevel=3)
        dim = 0 if ndim in (0, 1, 3) else 1
    dim = wrap_dim(dim, ndim, op)
    if ndim == 0:
        return apply(node_cls(0), input.reshape(1)).reshape(())
    return apply(node_cls(dim), input)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x) / sum(exp(x)) along dim, computed stably."""
    return _softmax(Softmax, input, dim, dtype, "softmax")


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log(softmax(x)) along dim, computed stably (finite for logits of any size)."""
    return _softmax(LogSoftmax, input, dim, dtype, "log_softmax")


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-x) along dim."""
    if dtype is not None:
        input = input.to(dtype)
    return _softmax(Softmax, -float_tensor(input, "softmin"), dim, None, "softmin")


# --- pointwise activations with their own gradient rule ------------------------------------------------------

_SQRT_HALF = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


# Phi(x) = (1 + tanh(x P(x^2))) / 2 within 1e-7 for every x (float32 GELU on NumPy): a least-squares fit of
# atanh(erf(x / sqrt 2)) / x weighted by the derivative of tanh. tanh is one vectorised NumPy pass, so this takes
# 16 passes where a rational erf takes about 25; P's leading coefficient is positive so x P(x^2) -> +-inf (and
# tanh -> +-1) for large |x|. Coefficients highest degree first.
_PHI_TANH = tuple(np.float32(c) for c in (
    1.75637561e-09, -1.32269509e-07, 3.96480999e-06, -5.53064972e-05, -3.25943640e-05, 3.63330841e-02,
    7.97884942e-01))
_CHUNK = 1 << 16  # elements per block: the few temporaries of a block stay in the L2 cache


def _gelu32(x, keep_grad):
    """(gelu(x), gelu'(x) or None) of a contiguous float32 NumPy array, evaluated block by block in cache."""
    flat = x.reshape(-1)
    n = flat.size
    out = np.empty_like(flat)
    d = np.empty_like(flat) if keep_grad else None
    x2, p = np.empty(min(n, _CHUNK), np.float32), np.empty(min(n, _CHUNK), np.float32)
    mul, add = np.multiply, np.add
    half, c0, c1, rest = np.float32(0.5), _PHI_TANH[0], _PHI_TANH[1], _PHI_TANH[2:]
    with np.errstate(over="ignore", invalid="ignore"):  # x^12 may overflow to inf: tanh(+-inf) is exact
        for s in range(0, n, _CHUNK):
            xs = flat[s:s + _CHUNK]
            m = xs.size
            if m != x2.size:
                x2, p = x2[:m], p[:m]
            mul(xs, xs, out=x2)
            mul(x2, c0, out=p)
            add(p, c1, out=p)
            for c in rest:
                mul(p, x2, out=p)
                add(p, c, out=p)
            mul(p, xs, out=p)
            np.tanh(p, out=p)
            mul(p, half, out=p)
            add(p, half, out=p)  # p = Phi(x)
            mul(xs, p, out=out[s:s + m])
            if keep_grad:  # gelu'(x) = Phi(x) + x phi(x)
                mul(x2, np.float32(-0.5), out=x2)
                np.exp(x2, out=x2)
                mul(x2, xs, out=x2)
                mul(x2, np.float32(_INV_SQRT_2PI), out=x2)
                add(x2, p, out=d[s:s + m])
    return out.reshape(x.shape), (d.reshape(x.shape) if keep_grad else None)


class Gelu(Node):
    saves = (0,)

    def __init__(self, approximate, keep_grad=False):
        self.approximate, self.keep_grad = approximate, keep_grad
        self.d = None

    def forward(self, xp, a):
        if self.approximate == "tanh":
            return 0.5 * a * (1 + xp.tanh(_SQRT_2_OVER_PI * (a + 0.044715 * a * a * a)))
        if xp is np and a.dtype == np.float32 and a.size >= 1024:
            out, self.d = _gelu32(np.ascontiguousarray(a), self.keep_grad)
            return out
        return 0.5 * a * (1 + _erf_array(xp, a * _SQRT_HALF))

    def backward(self, g):
        if self.d is not None and not is_grad_enabled():  # the derivative was kept by the forward
            return (Tensor._wrap(g.data * self.d),)
        x = self.inputs[0]
        if self.approximate == "tanh":
            t = tanh((x + x * x * x * 0.044715) * _SQRT_2_OVER_PI)
            d_inner = (x * x * (3 * 0.044715) + 1) * _SQRT_2_OVER_PI
            return (g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner),)
        cdf = 0.5 * (1 + erf(x * _SQRT_HALF))
        pdf = exp(x * x * -0.5) * _INV_SQRT_2PI
        return (g * (cdf + x * pdf),)


def gelu(input, approximate="none"):
    """Gaussian error linear unit: x * Phi(x) (approximate='tanh' uses the tanh formula)."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"gelu: approximate argument must be either 'none' or 'tanh', got {approximate!r}")
    float_tensor(input, "gelu")
    return apply(Gelu(approximate, input.requires_grad and is_grad_enabled()), input)


class Silu(Node):
    saves = (0,)

    def forward(self, xp, a):
        return a * sigmoid_array(xp, a)

    def backward(self, g):
        x = self.inputs[0]
        s = sigmoid(x)
        return (g * s * (1 + x * (1 - s)),)


def silu(input, inplace=False):
    """x * sigmoid(x) (swish)."""
    return maybe_inplace(float_tensor(input, "silu"), inplace, "silu", lambda x: apply(Silu(), x))


class Softplus(Node):
    saves = (0,)

    def __init__(self, beta, threshold):
        self.beta, self.threshold = beta, threshold

    def forward(self, xp, a):
        z = a * self.beta
        soft = (xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))) / self.beta
        return xp.where(z > self.threshold, a, soft).astype(a.dtype, copy=False)

    def backward(self, g):
        z = self.inputs[0] * self.beta
        return (where(z > self.threshold, g, g * sigmoid(z)),)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, linear where beta x > threshold."""
    return apply(Softplus(beta, threshold), float_tensor(input, "softplus"))


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    return maybe_inplace(float_tensor(input, "mish"), inplace, "mish", lambda x: x * tanh(softplus(x)))


class LeakyRelu(Node):
    saves = (0,)

    def __init__(self, slope):
        self.slope = slope

    def forward(self, xp, a):
        return xp.where(a > 0, a, a * self.slope).astype(a.dtype, copy=False)

    def backward(self, g):
        return (where(self.inputs[0] > 0, g, g * self.slope),)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x for x > 0, negative_slope * x otherwise."""
    return maybe_inplace(float_tensor(input, "leaky_relu"), inplace, "leaky_relu",
                lambda x: apply(LeakyRelu(negative_slope), x))


class Elu(Node):
    """scale * x for x > 0, scale * alpha * (exp(input_scale * x) - 1) otherwise (elu, selu and celu)."""

    saves = (0,)

    def __init__(self, alpha, scale=1.0, input_scale=1.0):
        self.alpha, self.scale, self.input_scale = alpha, scale, input_scale

    def forward(self, xp, a):
        neg = self.alpha * xp.expm1(xp.minimum(a, 0) * self.input_scale)
        return (self.scale * xp.where(a > 0, a, neg)).astype(a.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0]
        neg = g * (exp(clamp(x, max=0) * self.input_scale) * (self.alpha * self.scale * self.input_scale))
        return (where(x > 0, g * self.scale, neg),)


def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    return maybe_inplace(float_tensor(input, "elu"), inplace, "elu", lambda x: apply(Elu(alpha), x))


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalising constants."""
    return maybe_inplace(float_tensor(input, "selu"), inplace, "selu", lambda x: apply(Elu(SELU_ALPHA, SELU_SCALE), x))


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    if alpha == 0:
        raise RuntimeError("celu: ZeroDivisionError: alpha cannot be 0 for CELU")
    return maybe_inplace(float_tensor(input, "celu"), inplace, "celu", lambda x: apply(Elu(alpha, 1.0, 1.0 / alpha), x))


class Hardtanh(Node):
    saves = (0,)

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, xp, a):
        return xp.clip(a, self.lo, self.hi).astype(a.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0]
        return (g * ((x > self.lo) & (x < self.hi)),)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clamp(x, min_val, max_val); the gradient is zero outside the open interval."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    check_tensor(input, "hardtanh")
    if input.data.dtype.kind in "iu":  # integer tensors clamp to integer bounds, as in PyTorch
        min_val, max_val = math.ceil(min_val), math.floor(max_val)
    return maybe_inplace(input, inplace, "hardtanh", lambda x: apply(Hardtanh(min_val, max_val), x))


def relu6(input, inplace=False):
    """min(max(0, x), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


class Hardswish(Node):
    saves = (0,)

    def forward(self, xp, a):
        return a * xp.clip(a + 3, 0, 6) / 6

    def backward(self, g):
        x = self.inputs[0]
        mid = g * (x / 3 + 0.5)
        return (where(x <= -3, g * 0, where(x < 3, mid, g)),)  # PyTorch's choice at the kinks


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6."""
    return maybe_inplace(float_tensor(input, "hardswish"), inplace, "hardswish", lambda x: apply(Hardswish(), x))


class Hardsigmoid(Node):
    saves = (0,)

    def forward(self, xp, a):
        return xp.clip(a + 3, 0, 6) / 6

    def backward(self, g):
        x = self.inputs[0]
        return (g * ((x > -3) & (x < 3)) / 6,)


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6."""
    return maybe_inplace(float_tensor(input, "hardsigmoid"), inplace, "hardsigmoid", lambda x: apply(Hardsigmoid(), x))


class LogSigmoid(Node):
    saves = (0,)

    def forward(self, xp, a):
        return xp.minimum(a, 0) - xp.log1p(xp.exp(-xp.abs(a)))

    def backward(self, g):
        return (g * sigmoid(-self.inputs[0]),)


def logsigmoid(input):
    """log(sigmoid(x)), computed stably."""
    return apply(LogSigmoid(), float_tensor(input, "logsigmoid"))


def glu(input, dim=-1):
    """a * sigmoid(b) where a and b are the two halves of input along dim."""
    float_tensor(input, "glu")
    if input.data.ndim == 0:
        raise RuntimeError("glu: does not support scalars because halving size must be even")
    d = wrap_dim(dim, input.data.ndim, "glu")
    n = input.shape[d]
    if n % 2:
        raise RuntimeError(f"glu: Halving dimension must be even, but dimension {d} is size {n}")
    a, b = input.narrow(d, 0, n // 2), input.narrow(d, n // 2, n // 2)
    return a * sigmoid(b)


def softsign(input):
    """x / (1 + |x|)."""
    return input / (_abs(float_tensor(input, "softsign")) + 1)


def tanhshrink(input):
    """x - tanh(x)."""
    return input - tanh(float_tensor(input, "tanhshrink"))


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else value."""
    check_tensor(input, "threshold")
    return maybe_inplace(input, inplace, "threshold", lambda x: where(x > threshold, x, value))


def prelu(input, weight):
    """max(0, x) + weight * min(0, x), weight (one value or one per channel) broadcast over dim 1."""
    float_tensor(input, "prelu")
    if weight.data.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {weight.data.ndim}")
    n = weight.numel()
    ndim = input.data.ndim
    if n != 1:
        channels = input.shape[1] if ndim > 1 else 1
        if channels != n:
            raise RuntimeError(f"prelu: Mismatch of parameter numbers and input channel size. Found parameter "
                               f"numbers = {n} and channel size = {channels} (input shape {tuple(input.shape)}).")
    if ndim >= 2:
        weight = weight.reshape((1, -1) + (1,) * (ndim - 2))
    elif n == 1:
        weight = weight.reshape(())
    return where(input > 0, input, input * weight)


bind(softmax=lambda self, dim=None, dtype=None: softmax(self, dim, dtype=dtype),
     log_softmax=lambda self, dim=None, dtype=None: log_softmax(self, dim, dtype=dtype))
