"""Activation functions and the softmax family: the pointwise nn.functional ops that are not losses or
normalisations (dropout, embedding and distances have their own modules), and nn.functional's relu, sigmoid and
tanh. The hot ones (softmax, log_softmax, gelu) are single nodes whose backward is a gradient node (SoftmaxGrad,
LogSoftmaxGrad, GeluGrad: array code, with its own backward for second derivatives). Forwards that can meet inf
(a row of softmax masked to -inf, exp overflowing) are ``quiet``: nan and inf without NumPy's warnings, as in
PyTorch."""
import inspect
import math
import warnings

import numpy as np

from ..autograd import Node, is_grad_enabled
from ..autograd.graph import apply
from ..autograd.inplace import inplace as write_inplace
from . import _autocast
from ._checks import check_tensor, float_tensor
from ._erf import erf as _erf_array
from ._quiet import quiet
from ._util import accumulates_in_float32, wrap_dim
from .copy import clone
from .creation import empty_like, zeros_like
from .meta import TensorMeta, same_as
from .registry import export, register
from .ternary import clamp, where
from .unary import Relu, Sigmoid, Tanh, exp, sigmoid_array
from .unary import abs as _abs, relu as _relu, sigmoid as _sigmoid, tanh as _tanh


def maybe_inplace(input, inplace, op, fn):
    """fn(input), or written into input when inplace (PyTorch's ``inplace=True``)."""
    if not inplace:
        return fn(input)
    if input.requires_grad and is_grad_enabled():
        # The node may save its input for backward: give it a private copy, since input is about to be overwritten.
        return write_inplace(input, op + "_", lambda s: fn(clone(s)))
    return write_inplace(input, op + "_", fn)


# --- softmax family -------------------------------------------------------------------------------------------

class _SameShape(Node):
    """An op of one tensor whose output has the input's shape and dtype."""

    def infer(self, a):
        return same_as(a)


class _SoftmaxGradBase(Node):
    """The gradient of softmax / log_softmax along dim: (output y, output gradient g) -> input gradient."""

    def __init__(self, dim):
        self.dim = dim

    def infer(self, y, g):
        return same_as(g)


class _AlongDim(_SameShape):
    """softmax / log_softmax along dim: rows(xp, a) computes them on an input of at least one dimension and one
    element; the output is kept for backward."""

    saves = ()
    saves_output = True

    def __init__(self, dim):
        self.dim = dim

    @quiet  # a row that is all -inf (fully masked) gives nan, silently
    @accumulates_in_float32
    def forward(self, xp, a):
        if a.size == 0:
            out = a.copy()
        elif a.ndim == 0:  # NumPy's arithmetic turns 0-d arrays into scalars: compute on one element
            out = self.rows(xp, a.reshape(1)).reshape(())
        else:
            out = self.rows(xp, a)
        self.out = out
        return out


@register
class Softmax(_AlongDim):
    def rows(self, xp, a):
        e = xp.exp(a - a.max(axis=self.dim, keepdims=True))
        e /= e.sum(axis=self.dim, keepdims=True)
        return e

    def backward(self, g):
        return (apply(SoftmaxGrad(self.dim), self.saved_output(), g),)


@register
class SoftmaxGrad(_SoftmaxGradBase):
    """y * (g - sum(g * y)) along dim: the gradient of softmax's output y (Softmax's backward)."""

    @accumulates_in_float32
    def forward(self, xp, y, g):
        if g.ndim == 0:
            return self.forward(xp, y.reshape(1), g.reshape(1)).reshape(())
        out = g * y
        xp.subtract(g, out.sum(axis=self.dim, keepdims=True), out=out)
        out *= y
        return out

    def backward(self, gg):
        y, g = self.inputs
        need_y, need_g = self.needs_input_grad
        dim = self.dim
        gy = gg * (g - (g * y).sum(dim, keepdim=True)) - g * (gg * y).sum(dim, keepdim=True) if need_y else None
        return gy, (apply(SoftmaxGrad(dim), y, gg) if need_g else None)


@register
class LogSoftmax(_AlongDim):
    def rows(self, xp, a):
        z = a - a.max(axis=self.dim, keepdims=True)
        z -= xp.log(xp.exp(z).sum(axis=self.dim, keepdims=True))
        return z

    def backward(self, g):
        return (apply(LogSoftmaxGrad(self.dim), self.saved_output(), g),)


@register
class LogSoftmaxGrad(_SoftmaxGradBase):
    """g - exp(y) * sum(g) along dim: the gradient of log_softmax's output y (LogSoftmax's backward)."""

    @accumulates_in_float32
    def forward(self, xp, y, g):
        if g.ndim == 0:
            return self.forward(xp, y.reshape(1), g.reshape(1)).reshape(())
        out = xp.exp(y)
        out *= g.sum(axis=self.dim, keepdims=True)
        xp.subtract(g, out, out=out)
        return out

    def backward(self, gg):
        y, g = self.inputs
        need_y, need_g = self.needs_input_grad
        dim = self.dim
        p = exp(y)
        gy = -(gg * p * g.sum(dim, keepdim=True)) if need_y else None
        return gy, (gg - (gg * p).sum(dim, keepdim=True) if need_g else None)


def _softmax(node_cls, input, dim, dtype, op):
    if dtype is not None:
        input = input.to(dtype)
    float_tensor(input, op)
    ndim = input._data.ndim
    if dim is None:  # PyTorch's legacy implicit choice
        warnings.warn(f"Implicit dimension choice for {op} has been deprecated. Change the call to include dim=X "
                      "as an argument.", stacklevel=3)
        dim = 0 if ndim in (0, 1, 3) else 1
    return apply(node_cls(wrap_dim(dim, ndim, op)), input)  # a 0-d tensor: dim 0 (NumPy reduces it the same way)


@export(Softmax, ember=False, functional=True)
def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """Rescale ``input`` along ``dim`` so that the values are positive and sum to 1: exp(x) / sum(exp(x)).

    Computed stably (the maximum is subtracted first), so large logits do not overflow; a row of -inf gives nan.

    Args:
        input (Tensor): a floating-point tensor.
        dim (int, optional): the dimension to normalise; when None, PyTorch's legacy implicit choice (0 for 0-, 1- and
            3-dimensional inputs, else 1) with a deprecation warning. Default: None.
        _stacklevel (int): kept for PyTorch's signature; unused. Default: 3.
        dtype (ember.dtype, optional): cast ``input`` to this dtype first. Default: None.

    Returns:
        Tensor: the probabilities, of ``input``'s shape.

    PyTorch:
        ``torch.nn.functional.softmax``; same semantics.

    Example:
        >>> F.softmax(ember.tensor([[0.0, 0.0, 0.0]]), dim=1)
        tensor([[0.3333, 0.3333, 0.3333]])
        >>> F.softmax(ember.tensor([1.0, 2.0]), dim=0, dtype=ember.float64).dtype
        ember.float64
    """
    return _softmax(Softmax, input, dim, dtype, "softmax")


@export(Softmax, ember="softmax", methods=("softmax",))
def softmax_method(input, dim=None, dtype=None):
    """Rescale ``input`` along ``dim`` so that the values are positive and sum to 1: exp(x) / sum(exp(x)).

    The ``ember.softmax`` and ``Tensor.softmax`` form of ``F.softmax`` (which also takes ``_stacklevel``); computed
    stably.

    Args:
        input (Tensor): a floating-point tensor.
        dim (int, optional): the dimension to normalise; when None, PyTorch's legacy implicit choice with a
            deprecation warning. Default: None.
        dtype (ember.dtype, optional): cast ``input`` to this dtype first. Default: None.

    Returns:
        Tensor: the probabilities, of ``input``'s shape.

    PyTorch:
        ``torch.softmax`` and ``Tensor.softmax``; same semantics.

    Example:
        >>> ember.tensor([1.0, 1.0]).softmax(dim=0)
        tensor([0.5000, 0.5000])
    """
    return _softmax(Softmax, input, dim, dtype, "softmax")


@export(LogSoftmax, ember=False, functional=True)
def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """Compute log(softmax(x)) along ``dim``, stably (finite for logits of any size).

    Args:
        input (Tensor): a floating-point tensor.
        dim (int, optional): the dimension to normalise; when None, PyTorch's legacy implicit choice (0 for 0-, 1- and
            3-dimensional inputs, else 1) with a deprecation warning. Default: None.
        _stacklevel (int): kept for PyTorch's signature; unused. Default: 3.
        dtype (ember.dtype, optional): cast ``input`` to this dtype first. Default: None.

    Returns:
        Tensor: the log-probabilities, of ``input``'s shape.

    PyTorch:
        ``torch.nn.functional.log_softmax``; same semantics.

    Example:
        >>> F.log_softmax(ember.tensor([0.0, 0.0]), dim=0)
        tensor([-0.6931, -0.6931])
        >>> F.log_softmax(ember.tensor([1000.0, 0.0]), dim=0)
        tensor([    0., -1000.])
    """
    return _softmax(LogSoftmax, input, dim, dtype, "log_softmax")


@export(LogSoftmax, ember="log_softmax", methods=("log_softmax",))
def log_softmax_method(input, dim=None, dtype=None):
    """Compute log(softmax(x)) along ``dim``, stably.

    The ``ember.log_softmax`` and ``Tensor.log_softmax`` form of ``F.log_softmax`` (which also takes ``_stacklevel``).

    Args:
        input (Tensor): a floating-point tensor.
        dim (int, optional): the dimension to normalise; when None, PyTorch's legacy implicit choice with a
            deprecation warning. Default: None.
        dtype (ember.dtype, optional): cast ``input`` to this dtype first. Default: None.

    Returns:
        Tensor: the log-probabilities, of ``input``'s shape.

    PyTorch:
        ``torch.log_softmax`` and ``Tensor.log_softmax``; same semantics.

    Example:
        >>> ember.tensor([0.0, 0.0]).log_softmax(dim=0)
        tensor([-0.6931, -0.6931])
    """
    return _softmax(LogSoftmax, input, dim, dtype, "log_softmax")


@export(Softmax, ember=False, functional=True)
def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """Compute softmax(-x) along ``dim``: the smallest values get the largest weights.

    Args:
        input (Tensor): a floating-point tensor.
        dim (int, optional): the dimension to normalise; when None, PyTorch's legacy implicit choice with a
            deprecation warning. Default: None.
        _stacklevel (int): kept for PyTorch's signature; unused. Default: 3.
        dtype (ember.dtype, optional): cast ``input`` to this dtype first. Default: None.

    Returns:
        Tensor: the weights, of ``input``'s shape, summing to 1 along ``dim``.

    PyTorch:
        ``torch.nn.functional.softmin``; same semantics.

    Example:
        >>> F.softmin(ember.tensor([0.0, 0.0]), dim=0)
        tensor([0.5000, 0.5000])
    """
    if dtype is not None:
        input = input.to(dtype)
    return _softmax(Softmax, -float_tensor(input, "softmin"), dim, None, "softmin")


# --- pointwise activations with their own gradient rule ------------------------------------------------------

_SQRT_HALF = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715


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


def _gelu_derivative(xp, x, approximate):
    """gelu'(x) on arrays: Phi(x) + x phi(x), or the derivative of the tanh formula."""
    if approximate != "tanh":
        return 0.5 * (1 + _erf_array(xp, x * _SQRT_HALF)) + x * xp.exp(-0.5 * x * x) * _INV_SQRT_2PI
    # u = c (x + a x^3), t = tanh(u): gelu' = (1 + t) / 2 + x (1 - t^2) u' / 2, u' = c (1 + 3 a x^2)
    x2 = x * x
    if x2.ndim == 0:  # a NumPy scalar: no in-place arithmetic
        t = xp.tanh(_SQRT_2_OVER_PI * x * (1 + _GELU_CUBIC * x2))
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * (_SQRT_2_OVER_PI * (1 + 3 * _GELU_CUBIC * x2))
    t = x2 * (_SQRT_2_OVER_PI * _GELU_CUBIC)
    t += _SQRT_2_OVER_PI
    t *= x
    xp.tanh(t, out=t)
    x2 *= 1.5 * _SQRT_2_OVER_PI * _GELU_CUBIC
    x2 += 0.5 * _SQRT_2_OVER_PI
    x2 *= x  # x u' / 2
    s = t * t
    xp.subtract(1, s, out=s)
    s *= x2
    t += 1
    t *= 0.5
    t += s
    return t


@register
class Gelu(_SameShape):
    """x Phi(x) (or its tanh approximation). Its backward keeps only x, as PyTorch's (GeluGrad recomputes
    gelu'(x): keeping it too would hold a second array per GELU until backward)."""

    saves = (0,)

    def __init__(self, approximate):
        self.approximate = approximate

    @quiet
    def forward(self, xp, a):
        if self.approximate == "tanh":
            return 0.5 * a * (1 + xp.tanh(_SQRT_2_OVER_PI * (a + _GELU_CUBIC * a * a * a)))
        if xp is np and a.dtype == np.float32 and a.size >= 1024:
            return _gelu32(np.ascontiguousarray(a), False)[0]
        return 0.5 * a * (1 + _erf_array(xp, a * _SQRT_HALF))

    def backward(self, g):
        return (apply(GeluGrad(self.approximate), self.inputs[0], g),)


@register
class GeluGrad(Node):
    """g * gelu'(x): Gelu's backward, gelu'(x) computed from x; the backward gives gelu''(x) for both formulas."""

    def __init__(self, approximate):
        self.approximate = approximate

    def infer(self, x, g):
        return TensorMeta(tuple(np.broadcast_shapes(x.shape, g.shape)), np.result_type(x.dtype, g.dtype))

    @quiet
    def forward(self, xp, x, g):
        if self.approximate != "tanh" and xp is np and x.dtype == np.float32 and x.size >= 1024:
            d = _gelu32(np.ascontiguousarray(x), True)[1]  # blocked in cache: faster than the formula below
        else:
            d = _gelu_derivative(xp, x, self.approximate)
        return g * d

    def backward(self, gg):
        x, g = self.inputs
        need_x, need_g = self.needs_input_grad
        gx = gg * g * _gelu_second_derivative(x, self.approximate) if need_x else None
        return gx, (apply(GeluGrad(self.approximate), x, gg) if need_g else None)


def _gelu_second_derivative(x, approximate):
    """gelu''(x) with ember ops: phi(x) (2 - x^2), or the second derivative of the tanh formula."""
    if approximate == "tanh":
        # u = c (x + a x^3), t = tanh(u): gelu'' = (1 - t^2) (u' - x t u'^2 + x u'' / 2), u' = c (1 + 3 a x^2),
        # u'' = 6 a c x
        x2 = x * x
        t = _tanh((x + x2 * x * _GELU_CUBIC) * _SQRT_2_OVER_PI)
        du = (x2 * (3 * _GELU_CUBIC) + 1) * _SQRT_2_OVER_PI
        return (1 - t * t) * (du - x * t * du * du + x2 * (3 * _GELU_CUBIC * _SQRT_2_OVER_PI))
    x2 = x * x
    return exp(x2 * -0.5) * (2 - x2) * _INV_SQRT_2PI


@export(Gelu, ember=False, functional=True)
def gelu(input, approximate="none"):
    """Apply the Gaussian error linear unit elementwise: x * Phi(x), Phi the standard normal CDF.

    Args:
        input (Tensor): a floating-point tensor.
        approximate (str): ``'none'`` for the exact erf form, ``'tanh'`` for
            0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). Default: ``'none'``.

    Returns:
        Tensor: the result, of ``input``'s shape and dtype.

    PyTorch:
        ``torch.nn.functional.gelu``; same semantics (another ``approximate`` raises RuntimeError).

    Example:
        >>> F.gelu(ember.tensor([-1.0, 0.0, 1.0]))
        tensor([-0.1587,  0.0000,  0.8413])
        >>> F.gelu(ember.tensor([-1.0, 0.0, 1.0]), approximate="tanh")
        tensor([-0.1588,  0.0000,  0.8412])
    """
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"gelu: approximate argument must be either 'none' or 'tanh', got {approximate!r}")
    float_tensor(input, "gelu")
    return apply(Gelu(approximate), input)


@register
class Silu(_SameShape):
    saves = (0,)

    @quiet
    def forward(self, xp, a):
        return a * sigmoid_array(xp, a)

    def backward(self, g):
        x = self.inputs[0]
        s = _sigmoid(x)
        return (g * s * (1 + x * (1 - s)),)


@export(Silu, ember=False, functional=True)
def silu(input, inplace=False):
    """Apply the sigmoid linear unit (swish) elementwise: x * sigmoid(x).

    Args:
        input (Tensor): a floating-point tensor.
        inplace (bool): write the result into ``input`` and return it. Default: False.

    Returns:
        Tensor: the result, of ``input``'s shape and dtype (``input`` itself when ``inplace``).

    PyTorch:
        ``torch.nn.functional.silu``; same semantics.

    Example:
        >>> F.silu(ember.tensor([-2.0, 0.0, 3.0]))
        tensor([-0.2384,  0.0000,  2.8577])
    """
    return maybe_inplace(float_tensor(input, "silu"), inplace, "silu", lambda x: apply(Silu(), x))


@register
class Softplus(_SameShape):
    saves = (0,)

    def __init__(self, beta, threshold):
        self.beta, self.threshold = beta, threshold

    @quiet
    def forward(self, xp, a):
        z = a * self.beta
        soft = (xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))) / self.beta
        return xp.where(z > self.threshold, a, soft).astype(a.dtype, copy=False)

    def backward(self, g):
        z = self.inputs[0] * self.beta
        return (where(z > self.threshold, g, g * _sigmoid(z)),)


@export(Softplus, ember=False, functional=True)
def softplus(input, beta=1.0, threshold=20.0):
    """Apply softplus elementwise: log(1 + exp(beta * x)) / beta, a smooth relu.

    Args:
        input (Tensor): a floating-point tensor.
        beta (float): the sharpness. Default: 1.0.
        threshold (float): where ``beta * x`` exceeds it, the result is ``x`` itself (for stability). Default: 20.0.

    Returns:
        Tensor: the result, of ``input``'s shape and dtype (``input`` itself when ``inplace``).

    PyTorch:
        ``torch.nn.functional.softplus``; same semantics.

    Example:
        >>> F.softplus(ember.tensor([-2.0, 0.0, 3.0]))
        tensor([0.1269, 0.6931, 3.0486])
    """
    return apply(Softplus(beta, threshold), float_tensor(input, "softplus"))


@export(Softplus, ember=False, functional=True)
def mish(input, inplace=False):
    """Apply mish elementwise: x * tanh(softplus(x)).

    Args:
        input (Tensor): a floating-point tensor.
        inplace (bool): write the result into ``input`` and return it. Default: False.

    Returns:
        Tensor: the result, of ``input``'s shape and dtype (``input`` itself when ``inplace``).

    PyTorch:
        ``torch.nn.functional.mish``; same semantics.

    Example:
        >>> F.mish(ember.tensor([-2.0, 0.0, 3.0]))
        tensor([-0.2525,  0.0000,  2.9865])
    """
    return maybe_inplace(float_tensor(input, "mish"), inplace, "mish", lambda x: x * _tanh(softplus(x)))


@register
class LeakyRelu(_SameShape):
    saves = (0,)

    def __init__(self, slope):
        self.slope = slope

    @quiet
    def forward(self, xp, a):
        return xp.where(a > 0, a, a * self.slope).astype(a.dtype, copy=False)

    def backward(self, g):
        return (where(self.inputs[0] > 0, g, g * self.slope),)


@export(LeakyRelu, ember=False, functional=True)
def leaky_relu(input, negative_slope=0.01, inplace=False):
    """Apply the leaky relu elementwise: x where x > 0, else ``negative_slope * x``.

    Args:
        input (Tensor): a floating-point tensor.
        negative_slope (float): the slope for negative inputs. Default: 0.01.
        inplace (bool): write the result into ``input`` and return it. Default: False.

    Returns:
        Tensor: the result, of ``input``'s shape and dtype (``input`` itself when ``inplace``).

    PyTorch:
        ``torch.nn.functional.leaky_relu``; same semantics.

    Example:
        >>> F.leaky_relu(ember.tensor([-2.0, 0.0, 3.0]))
        tensor([-0.0200,  0.0000,  3.0000])
    """
    return maybe_inplace(float_tensor(input, "leaky_relu"), inplace, "leaky_relu",
                         lambda x: apply(LeakyRelu(negative_slope), x))


@register
class Elu(_SameShape):
    """scale * x for x > 0, scale * alpha * (exp(input_scale * x) - 1) otherwise (elu, selu and celu)."""

    saves = (0,)

    def __init__(self, alpha, scale=1.0, input_scale=1.0):
        self.alpha, self.scale, self.input_scale = alpha, scale, input_scale

    @quiet
    def forward(self, xp, a):
        neg = self.alpha * xp.expm1(xp.minimum(a, 0) * self.input_scale)
        return (self.scale * xp.where(a > 0, a, neg)).astype(a.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0]
        neg = g * (exp(clamp(x, max=0) * self.input_scale) * (self.alpha * self.scale * self.input_scale))
        return (where(x > 0, g * self.scale, neg),)


@export(Elu, ember=False, functional=True)
def elu(input, alpha=1.0, inplace=False):
    """Apply the exponential linear unit elementwise: x where x > 0, else alpha * (exp(x) - 1).

    Args:
        input (Tensor): a floating-point tensor.
        alpha (float): the negative saturation value. Default: 1.0.
        inplace (bool): write the result into ``input`` and return it. Default: False.

    Returns:
        Tensor: the result, of ``input``'s shape and dtype (``input`` itself when ``inplace``).

    PyTorch:
        ``torch.nn.functional.elu``; same semantics.

    Example:
        >>> F.elu(ember.tensor([-2.0, 0.0, 3.0]))
        tensor([-0.8647,  0.0000,  3.0000])
    """
    return maybe_inplace(float_tensor(input, "elu"), inplace, "elu", lambda x: apply(Elu(alpha), x))


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


@export(Elu, ember=False, functional=True)
def selu(input, inplace=False):
    """Apply the scaled exponential linear unit elementwise: scale * elu(x, alpha).

    alpha = 1.6732632423543772 and scale = 1.0507009873554805, the self-normalising constants.

    Args:
        input (Tensor): a floating-point tensor.
        inplace (bool): write the result into ``input`` and return it. Default: False.

    Returns:
        Tensor: the result, of ``input``'s shape and dtype (``input`` itself when ``inplace``).

    PyTorch:
        ``torch.nn.functional.selu``; same semantics.

    Example:
        >>> F.selu(ember.tensor([-2.0, 0.0, 3.0]))
        tensor([-1.5202,  0.0000,  3.1521])
    """
    return maybe_inplace(float_tensor(input, "selu"), inplace, "selu",
                         lambda x: apply(Elu(SELU_ALPHA, SELU_SCALE), x))


@export(Elu, ember=False, functional=True)
def celu(input, alpha=1.0, inplace=False):
    """Apply the continuously differentiable elu elementwise: max(0, x) + min(0, alpha * (exp(x / alpha) - 1)).

    Args:
        input (Tensor): a floating-point tensor.
        alpha (float): the negative saturation value; 0 raises RuntimeError. Default: 1.0.
        inplace (bool): write the result into ``input`` and return it. Default: False.

    Returns:
        Tensor: the result, of ``input``'s shape and dtype (``input`` itself when ``inplace``).

    PyTorch:
        ``torch.nn.functional.celu``; same semantics.

    Example:
        >>> F.celu(ember.tensor([-2.0, 0.0, 3.0]), alpha=2.0)
        tensor([-1.2642,  0.0000,  3.0000])
    """
    if alpha == 0:
        raise RuntimeError("celu: ZeroDivisionError: alpha cannot be 0 for CELU")
    return maybe_inplace(float_tensor(input, "celu"), inplace, "celu",
                         lambda x: apply(Elu(alpha, 1.0, 1.0 / alpha), x))


@register
class Hardtanh(_SameShape):
    saves = (0,)

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, xp, a):
        return xp.clip(a, self.lo, self.hi).astype(a.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0]
        return (g * ((x > self.lo) & (x < self.hi)),)


@export(Hardtanh, ember=False, functional=True)
def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """Clamp ``input`` elementwise to [min_val, max_val]; the gradient is zero outside the open interval.

    Integer tensors are accepted and clamp to the integer bounds ceil(min_val) and floor(max_val).

    Args:
        input (Tensor): the input tensor.
        min_val (float): the lower bound. Default: -1.0.
        max_val (float): the upper bound; below ``min_val`` raises ValueError. Default: 1.0.
        inplace (bool): write the result into ``input`` and return it. Default: False.

    Returns:
        Tensor: the result, of ``input``'s shape and dtype (``input`` itself when ``inplace``).

    PyTorch:
        ``torch.nn.functional.hardtanh``; same semantics.

    Example:
        >>> F.hardtanh(ember.tensor([-2.0, 0.0, 3.0]))
        tensor([-1.,  0.,  1.])
    """
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    check_tensor(input, "hardtanh")
    if input._data.dtype.kind in "iu":  # integer tensors clamp to integer bounds, as in PyTorch
        min_val, max_val = math.ceil(min_val), math.floor(max_val)
    return maybe_inplace(input, inplace, "hardtanh", lambda x: apply(Hardtanh(min_val, max_val), x))


@export(Hardtanh, ember=False, functional=True)
def relu6(input, inplace=False):
    """Clamp ``input`` elementwise to [0, 6]: min(max(0, x), 6).

    Args:
        input (Tensor): the input tensor.
        inplace (bool): write the result into ``input`` and return it. Default: False.

    Returns:
        Tensor: the result, of ``input``'s shape and dtype (``input`` itself when ``inplace``).

    PyTorch:
        ``torch.nn.functional.relu6``; same semantics.

    Example:
        >>> F.relu6(ember.tensor([-2.0, 3.0, 8.0]))
        tensor([0., 3., 6.])
    """
    return hardtanh(input, 0.0, 6.0, inplace)


@register
class Hardswish(_SameShape):
    saves = (0,)

    @quiet
    def forward(self, xp, a):
        return a * xp.clip(a + 3, 0, 6) / 6

    def backward(self, g):
        x = self.inputs[0]
        mid = g * (x / 3 + 0.5)
        return (where(x <= -3, g * 0, where(x < 3, mid, g)),)  # PyTorch's choice at the kinks


@export(Hardswish, ember=False, functional=True)
def hardswish(input, inplace=False):
    """Apply hard swish elementwise: x * relu6(x + 3) / 6.

    Args:
        input (Tensor): a floating-point tensor.
        inplace (bool): write the result into ``input`` and return it. Default: False.

    Returns:
        Tensor: the result, of ``input``'s shape and dtype (``input`` itself when ``inplace``).

    PyTorch:
        ``torch.nn.functional.hardswish``; same semantics.

    Example:
        >>> F.hardswish(ember.tensor([-2.0, 0.0, 3.0]))
        tensor([-0.3333,  0.0000,  3.0000])
    """
    return maybe_inplace(float_tensor(input, "hardswish"), inplace, "hardswish", lambda x: apply(Hardswish(), x))


@register
class Hardsigmoid(_SameShape):
    saves = (0,)

    def forward(self, xp, a):
        return xp.clip(a + 3, 0, 6) / 6

    def backward(self, g):
        x = self.inputs[0]
        return (g * ((x > -3) & (x < 3)) / 6,)


@export(Hardsigmoid, ember=False, functional=True)
def hardsigmoid(input, inplace=False):
    """Apply the hard sigmoid elementwise: relu6(x + 3) / 6.

    Args:
        input (Tensor): a floating-point tensor.
        inplace (bool): write the result into ``input`` and return it. Default: False.

    Returns:
        Tensor: the result, of ``input``'s shape and dtype (``input`` itself when ``inplace``).

    PyTorch:
        ``torch.nn.functional.hardsigmoid``; same semantics.

    Example:
        >>> F.hardsigmoid(ember.tensor([-2.0, 0.0, 3.0]))
        tensor([0.1667, 0.5000, 1.0000])
    """
    return maybe_inplace(float_tensor(input, "hardsigmoid"), inplace, "hardsigmoid",
                         lambda x: apply(Hardsigmoid(), x))


@register
class LogSigmoid(_SameShape):
    saves = (0,)

    def forward(self, xp, a):
        return xp.minimum(a, 0) - xp.log1p(xp.exp(-xp.abs(a)))

    def backward(self, g):
        return (g * _sigmoid(-self.inputs[0]),)


@export(LogSigmoid, ember=False, functional=True)
def logsigmoid(input):
    """Compute log(sigmoid(x)) elementwise, stably (finite for large negative x).

    Args:
        input (Tensor): a floating-point tensor.

    Returns:
        Tensor: the result, of ``input``'s shape and dtype (``input`` itself when ``inplace``).

    PyTorch:
        ``torch.nn.functional.logsigmoid``; same semantics.

    Example:
        >>> F.logsigmoid(ember.tensor([-2.0, 0.0, 3.0]))
        tensor([-2.1269, -0.6931, -0.0486])
    """
    return apply(LogSigmoid(), float_tensor(input, "logsigmoid"))


# --- composites of ember ops ------------------------------------------------------------------------------------

@export(ember=False, functional=True)
def glu(input, dim=-1):
    """Apply the gated linear unit: a * sigmoid(b), where a and b are the two halves of ``input`` along ``dim``.

    Args:
        input (Tensor): a floating-point tensor whose size along ``dim`` is even (else RuntimeError).
        dim (int): the dimension to halve. Default: -1.

    Returns:
        Tensor: ``input``'s shape with ``dim`` halved.

    Shape:
        - Input: (*, 2M, *), 2M at ``dim``.
        - Output: (*, M, *).

    PyTorch:
        ``torch.nn.functional.glu``; same semantics.

    Example:
        >>> F.glu(ember.tensor([[1.0, 2.0, 0.0, 0.0]]))
        tensor([[0.5000, 1.0000]])
    """
    float_tensor(input, "glu")
    if input._data.ndim == 0:
        raise RuntimeError("glu: does not support scalars because halving size must be even")
    d = wrap_dim(dim, input._data.ndim, "glu")
    n = input.shape[d]
    if n % 2:
        raise RuntimeError(f"glu: Halving dimension must be even, but dimension {d} is size {n}")
    a, b = input.narrow(d, 0, n // 2), input.narrow(d, n // 2, n // 2)
    return a * _sigmoid(b)


@export(ember=False, functional=True)
def softsign(input):
    """Apply softsign elementwise: x / (1 + |x|).

    Args:
        input (Tensor): a floating-point tensor.

    Returns:
        Tensor: the result, of ``input``'s shape and dtype (``input`` itself when ``inplace``).

    PyTorch:
        ``torch.nn.functional.softsign``; same semantics.

    Example:
        >>> F.softsign(ember.tensor([-2.0, 0.0, 3.0]))
        tensor([-0.6667,  0.0000,  0.7500])
    """
    return input / (_abs(float_tensor(input, "softsign")) + 1)


@export(ember=False, functional=True)
def tanhshrink(input):
    """Apply tanhshrink elementwise: x - tanh(x).

    Args:
        input (Tensor): a floating-point tensor.

    Returns:
        Tensor: the result, of ``input``'s shape and dtype (``input`` itself when ``inplace``).

    PyTorch:
        ``torch.nn.functional.tanhshrink``; same semantics.

    Example:
        >>> F.tanhshrink(ember.tensor([-2.0, 0.0, 3.0]))
        tensor([-1.0360,  0.0000,  2.0049])
    """
    return input - _tanh(float_tensor(input, "tanhshrink"))


@export(ember=False, functional=True)
def threshold(input, threshold, value, inplace=False):
    """Keep the elements of ``input`` greater than ``threshold`` and replace the others by ``value``.

    Args:
        input (Tensor): the input tensor.
        threshold (float): the cut-off; elements equal to it are replaced.
        value (float): the replacement.
        inplace (bool): write the result into ``input`` and return it. Default: False.

    Returns:
        Tensor: the result, of ``input``'s shape (``input`` itself when ``inplace``).

    PyTorch:
        ``torch.nn.functional.threshold``; same semantics.

    Example:
        >>> F.threshold(ember.tensor([-1.0, 0.5, 2.0]), 1.0, 0.0)
        tensor([0., 0., 2.])
    """
    check_tensor(input, "threshold")
    return maybe_inplace(input, inplace, "threshold", lambda x: where(x > threshold, x, value))


@export(ember=False, functional=True)
def prelu(input, weight):
    """Apply the parametric relu: max(0, x) + weight * min(0, x), with a learnt slope.

    ``weight`` holds one slope for all elements or one per channel (dimension 1 of ``input``).

    Args:
        input (Tensor): a floating-point tensor.
        weight (Tensor): a 0-d or 1-d tensor of 1 or C slopes (another size or more dimensions raise RuntimeError).

    Returns:
        Tensor: the result, of ``input``'s shape.

    Shape:
        - Input: (N, C, *) or (C,) or ().
        - Weight: (1,) or (C,).
        - Output: the input's shape.

    PyTorch:
        ``torch.nn.functional.prelu``; same semantics.

    Example:
        >>> F.prelu(ember.tensor([[-2.0, 3.0]]), ember.tensor([0.25]))
        tensor([[-0.5000,  3.0000]])
    """
    if _autocast.active:  # PyTorch's autocast runs prelu in the low precision
        input, weight = _autocast.cast(input, weight)
    float_tensor(input, "prelu")
    if weight._data.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {weight._data.ndim}")
    n = weight.numel()
    ndim = input._data.ndim
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


# --- nn.functional's forms of the elementwise relu, sigmoid and tanh (ember.relu etc. are in unary) -------------

@export(Relu, ember=False, functional=True)
def relu(input, inplace=False):
    """Apply the rectified linear unit elementwise: max(x, 0).

    Args:
        input (Tensor): the input tensor.
        inplace (bool): write the result into ``input`` (``input.relu_()``) and return it. Default: False.

    Returns:
        Tensor: the result, of ``input``'s shape and dtype (``input`` itself when ``inplace``).

    PyTorch:
        ``torch.nn.functional.relu``; same semantics.

    Example:
        >>> F.relu(ember.tensor([-2.0, 3.0]))
        tensor([0., 3.])
    """
    return input.relu_() if inplace else _relu(input)


@export(Sigmoid, ember=False, functional=True)
def sigmoid(input):
    """Apply the logistic sigmoid elementwise: 1 / (1 + exp(-x)).

    Args:
        input (Tensor): the input tensor (integers give the default float dtype).

    Returns:
        Tensor: the result, of ``input``'s shape.

    PyTorch:
        ``torch.nn.functional.sigmoid`` (the same function as ``torch.sigmoid``); same semantics.

    Example:
        >>> F.sigmoid(ember.tensor([-2.0, 0.0, 3.0]))
        tensor([0.1192, 0.5000, 0.9526])
    """
    return _sigmoid(input)


@export(Tanh, ember=False, functional=True)
def tanh(input):
    """Apply the hyperbolic tangent elementwise.

    Args:
        input (Tensor): the input tensor (integers give the default float dtype).

    Returns:
        Tensor: the result, of ``input``'s shape.

    PyTorch:
        ``torch.nn.functional.tanh`` (the same function as ``torch.tanh``); same semantics.

    Example:
        >>> F.tanh(ember.tensor([-2.0, 0.0, 3.0]))
        tensor([-0.9640,  0.0000,  0.9951])
    """
    return _tanh(input)


@export(ember=False, functional=True)
def hardshrink(input, lambd=0.5):
    """Zero the elements of ``input`` within [-lambd, lambd], keep the others: x if |x| > lambd, else 0.

    Args:
        input (Tensor): a floating-point tensor.
        lambd (float): the half-width of the zeroed band. Default: 0.5.

    Returns:
        Tensor: the result, of ``input``'s shape and dtype.

    PyTorch:
        ``torch.nn.functional.hardshrink``; same semantics.

    Example:
        >>> F.hardshrink(ember.tensor([-1.0, 0.3, 0.5, 2.0]))
        tensor([-1.,  0.,  0.,  2.])
    """
    return where(_abs(float_tensor(input, "hardshrink")) > lambd, input, 0.0)


@export(ember=False, functional=True)
def softshrink(input, lambd=0.5):
    """Shrink ``input`` towards 0 by lambd: x - lambd above lambd, x + lambd below -lambd, else 0.

    Args:
        input (Tensor): a floating-point tensor.
        lambd (float): the shrinkage, >= 0 (else RuntimeError). Default: 0.5.

    Returns:
        Tensor: the result, of ``input``'s shape and dtype.

    PyTorch:
        ``torch.nn.functional.softshrink``; same semantics (the zeros are +0 where PyTorch's can be -0).

    Example:
        >>> F.softshrink(ember.tensor([-1.0, 0.3, 2.0]))
        tensor([-0.5000,  0.0000,  1.5000])
    """
    float_tensor(input, "softshrink")
    if not lambd >= 0:
        raise RuntimeError(f"softshrink: lambda must be greater or equal to 0, but found to be {lambd}")
    return where(input > lambd, input - lambd, where(input < -lambd, input + lambd, 0.0))


@export(ember=False, functional=True)
def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """The randomized leaky relu: x where x > 0, else x * a, with a drawn uniformly from [lower, upper) for each
    element in training and a = (lower + upper) / 2 otherwise.

    Args:
        input (Tensor): a floating-point tensor.
        lower (float): the smallest slope. Default: 1/8.
        upper (float): the largest slope, >= lower (else RuntimeError). Default: 1/3.
        training (bool): draw the slopes (else use their mean). Default: False.
        inplace (bool): write the result into ``input`` and return it. Default: False.

    Returns:
        Tensor: the result, of ``input``'s shape and dtype (``input`` itself when ``inplace``).

    PyTorch:
        ``torch.nn.functional.rrelu``; same semantics (ember's random stream is its own).

    Example:
        >>> F.rrelu(ember.tensor([-1.0, 2.0]))
        tensor([-0.2292,  2.0000])
    """
    float_tensor(input, "rrelu")
    if lower > upper:
        raise RuntimeError("rrelu: Lower bound should be less than or equal to the upper bound")
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    slopes = empty_like(input).uniform_(lower, upper)
    return maybe_inplace(input, inplace, "rrelu", lambda x: where(x > 0, x, x * slopes))


@export(ember=False, functional=True)
def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """A sample of the Gumbel-softmax distribution: softmax((logits + g) / tau) with g drawn from Gumbel(0, 1);
    with ``hard``, the one-hot vector of its largest element in the forward pass and the soft sample's gradient
    in the backward pass (the straight-through estimator).

    Args:
        logits (Tensor): unnormalised log-probabilities.
        tau (float): the temperature (> 0). Default: 1.
        hard (bool): return one-hot vectors (differentiated as the soft sample). Default: False.
        eps (float): unused, kept for PyTorch's signature (deprecated there). Default: 1e-10.
        dim (int): the dimension of the categories. Default: -1.

    Returns:
        Tensor: the sample, of ``logits``' shape; it sums to 1 along ``dim``.

    PyTorch:
        ``torch.nn.functional.gumbel_softmax``; same semantics (ember's random stream is its own).

    Example:
        >>> F.gumbel_softmax(ember.zeros(2, 3), hard=True).sum(dim=1)
        tensor([1., 1.])
    """
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    uniform = empty_like(logits, requires_grad=False).uniform_(0.0, 1.0)
    gumbels = -(-(1.0 - uniform).log()).log()  # -log(Exp(1)): 1 - U is in (0, 1]
    soft = softmax((logits + gumbels) / tau, dim)
    if not hard:
        return soft
    index = soft.argmax(dim, keepdim=True)
    one_hot = zeros_like(logits).scatter_(dim, index, 1.0)
    return one_hot - soft.detach() + soft


def _inplace_form(fn, name):
    """The in-place form of F.<name> (``F.relu_`` for ``F.relu``): fn(..., inplace=True), with fn's other
    parameters."""
    def op(input, *args, **kwargs):
        return fn(input, *args, inplace=True, **kwargs)

    params = [p for p in inspect.signature(fn).parameters.values() if p.name != "inplace"]
    op.__signature__ = inspect.Signature(params)
    op.__name__ = op.__qualname__ = name + "_"
    args = "\n".join(f"        {p.name}: as in ``F.{name}``." for p in params[1:])
    required = "".join(", 0.0" for p in params[1:] if p.default is inspect.Parameter.empty)
    op.__doc__ = f"""``F.{name}`` written into ``input`` (``inplace=True``).

    Args:
        input (Tensor): the tensor to overwrite with the result.
{args}

    Returns:
        Tensor: ``input``.

    PyTorch:
        ``torch.nn.functional.{op.__name__}``; same semantics.

    Example:
        >>> x = ember.tensor([-1.0, 2.0])
        >>> F.{op.__name__}(x{required}) is x
        True
    """
    return export(ember=False, functional=True)(op)


relu_ = _inplace_form(lambda input, inplace=True: input.relu_(), "relu")
elu_ = _inplace_form(elu, "elu")
leaky_relu_ = _inplace_form(leaky_relu, "leaky_relu")
hardtanh_ = _inplace_form(hardtanh, "hardtanh")
selu_ = _inplace_form(selu, "selu")
celu_ = _inplace_form(celu, "celu")
threshold_ = _inplace_form(threshold, "threshold")
rrelu_ = _inplace_form(rrelu, "rrelu")
