"""Activation functions and softmax family, dropout, embedding and one_hot (the nn.functional ops that are not
losses, convolutions or normalisations). Hot ones are single nodes with a hand-written backward."""
import math
import warnings

import numpy as np

from .. import dtypes as _dt
from ..autograd import Node, is_grad_enabled, no_grad
from ..autograd.graph import apply, increment_version
from ..autograd.inplace import inplace as write_inplace
from ..tensor import Tensor
from . import elementwise as E
from ._util import bind, wrap_dim

__all__ = ["softmax", "log_softmax", "softmin", "gelu", "silu", "mish", "softplus", "leaky_relu", "elu", "selu",
           "celu", "relu6", "hardtanh", "hardswish", "hardsigmoid", "logsigmoid", "glu", "softsign", "tanhshrink",
           "threshold", "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "embedding", "one_hot",
           "normalize", "cosine_similarity", "pairwise_distance", "prelu"]


def _float_tensor(x, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(x).__name__}")
    if x.data.dtype.kind not in "fV":  # "V": ml_dtypes' bfloat16
        raise RuntimeError(f"{op}: expected a floating-point tensor, got {x.dtype}")
    return x


def _run(input, inplace, op, fn):
    """fn(input), or written into input when inplace (PyTorch's ``inplace=True``)."""
    if not inplace:
        return fn(input)
    if input.requires_grad and is_grad_enabled():
        # The node may save its input for backward: give it a private copy, since input is about to be overwritten.
        return write_inplace(input, op + "_", lambda s: fn(E.clone(s)))
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
        return (g - E.exp(y) * g.sum(self.dim, keepdim=True),)


def _softmax(node_cls, input, dim, dtype, op):
    if dtype is not None:
        input = input.to(dtype)
    _float_tensor(input, op)
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
    return _softmax(Softmax, -_float_tensor(input, "softmin"), dim, None, "softmin")


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
        from ._erf import erf
        return 0.5 * a * (1 + erf(xp, a * _SQRT_HALF))

    def backward(self, g):
        if self.d is not None and not is_grad_enabled():  # the derivative was kept by the forward
            return (Tensor._wrap(g.data * self.d),)
        x = self.inputs[0]
        if self.approximate == "tanh":
            t = E.tanh((x + x * x * x * 0.044715) * _SQRT_2_OVER_PI)
            d_inner = (x * x * (3 * 0.044715) + 1) * _SQRT_2_OVER_PI
            return (g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner),)
        cdf = 0.5 * (1 + E.erf(x * _SQRT_HALF))
        pdf = E.exp(x * x * -0.5) * _INV_SQRT_2PI
        return (g * (cdf + x * pdf),)


def gelu(input, approximate="none"):
    """Gaussian error linear unit: x * Phi(x) (approximate='tanh' uses the tanh formula)."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"gelu: approximate argument must be either 'none' or 'tanh', got {approximate!r}")
    _float_tensor(input, "gelu")
    return apply(Gelu(approximate, input.requires_grad and is_grad_enabled()), input)


class Silu(Node):
    saves = (0,)

    def forward(self, xp, a):
        return a * E._sigmoid_array(xp, a)

    def backward(self, g):
        x = self.inputs[0]
        s = E.sigmoid(x)
        return (g * s * (1 + x * (1 - s)),)


def silu(input, inplace=False):
    """x * sigmoid(x) (swish)."""
    return _run(_float_tensor(input, "silu"), inplace, "silu", lambda x: apply(Silu(), x))


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
        return (E.where(z > self.threshold, g, g * E.sigmoid(z)),)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, linear where beta x > threshold."""
    return apply(Softplus(beta, threshold), _float_tensor(input, "softplus"))


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    return _run(_float_tensor(input, "mish"), inplace, "mish", lambda x: x * E.tanh(softplus(x)))


class LeakyRelu(Node):
    saves = (0,)

    def __init__(self, slope):
        self.slope = slope

    def forward(self, xp, a):
        return xp.where(a > 0, a, a * self.slope).astype(a.dtype, copy=False)

    def backward(self, g):
        return (E.where(self.inputs[0] > 0, g, g * self.slope),)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x for x > 0, negative_slope * x otherwise."""
    return _run(_float_tensor(input, "leaky_relu"), inplace, "leaky_relu",
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
        neg = g * (E.exp(E.clamp(x, max=0) * self.input_scale) * (self.alpha * self.scale * self.input_scale))
        return (E.where(x > 0, g * self.scale, neg),)


def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    return _run(_float_tensor(input, "elu"), inplace, "elu", lambda x: apply(Elu(alpha), x))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalising constants."""
    return _run(_float_tensor(input, "selu"), inplace, "selu", lambda x: apply(Elu(_SELU_ALPHA, _SELU_SCALE), x))


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    if alpha == 0:
        raise RuntimeError("celu: ZeroDivisionError: alpha cannot be 0 for CELU")
    return _run(_float_tensor(input, "celu"), inplace, "celu", lambda x: apply(Elu(alpha, 1.0, 1.0 / alpha), x))


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
    if not isinstance(input, Tensor):
        raise TypeError(f"hardtanh(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input.data.dtype.kind in "iu":  # integer tensors clamp to integer bounds, as in PyTorch
        min_val, max_val = math.ceil(min_val), math.floor(max_val)
    return _run(input, inplace, "hardtanh", lambda x: apply(Hardtanh(min_val, max_val), x))


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
        return (E.where(x <= -3, g * 0, E.where(x < 3, mid, g)),)  # PyTorch's choice at the kinks


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6."""
    return _run(_float_tensor(input, "hardswish"), inplace, "hardswish", lambda x: apply(Hardswish(), x))


class Hardsigmoid(Node):
    saves = (0,)

    def forward(self, xp, a):
        return xp.clip(a + 3, 0, 6) / 6

    def backward(self, g):
        x = self.inputs[0]
        return (g * ((x > -3) & (x < 3)) / 6,)


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6."""
    return _run(_float_tensor(input, "hardsigmoid"), inplace, "hardsigmoid", lambda x: apply(Hardsigmoid(), x))


class LogSigmoid(Node):
    saves = (0,)

    def forward(self, xp, a):
        return xp.minimum(a, 0) - xp.log1p(xp.exp(-xp.abs(a)))

    def backward(self, g):
        return (g * E.sigmoid(-self.inputs[0]),)


def logsigmoid(input):
    """log(sigmoid(x)), computed stably."""
    return apply(LogSigmoid(), _float_tensor(input, "logsigmoid"))


def glu(input, dim=-1):
    """a * sigmoid(b) where a and b are the two halves of input along dim."""
    _float_tensor(input, "glu")
    if input.data.ndim == 0:
        raise RuntimeError("glu: does not support scalars because halving size must be even")
    d = wrap_dim(dim, input.data.ndim, "glu")
    n = input.shape[d]
    if n % 2:
        raise RuntimeError(f"glu: Halving dimension must be even, but dimension {d} is size {n}")
    a, b = input.narrow(d, 0, n // 2), input.narrow(d, n // 2, n // 2)
    return a * E.sigmoid(b)


def softsign(input):
    """x / (1 + |x|)."""
    return input / (E.abs(_float_tensor(input, "softsign")) + 1)


def tanhshrink(input):
    """x - tanh(x)."""
    return input - E.tanh(_float_tensor(input, "tanhshrink"))


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else value."""
    if not isinstance(input, Tensor):
        raise TypeError(f"threshold(): argument 'input' must be Tensor, not {type(input).__name__}")
    return _run(input, inplace, "threshold", lambda x: E.where(x > threshold, x, value))


def prelu(input, weight):
    """max(0, x) + weight * min(0, x), weight (one value or one per channel) broadcast over dim 1."""
    _float_tensor(input, "prelu")
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
    return E.where(input > 0, input, input * weight)


# --- dropout --------------------------------------------------------------------------------------------------

class Dropout(Node):
    """input * mask; the mask (0 or 1/(1-p), drawn in forward) is reused by backward."""

    saves = ()

    def __init__(self, mask):
        self.mask = mask

    def forward(self, xp, a):
        return a * self.mask

    def backward(self, g):
        return (g * Tensor._wrap(self.mask),)


def _check_p(p, op):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")


def _keep_mask(shape, p, input):
    """Bernoulli(1 - p) keep-mask of the given shape on input's device (drawn from the default generator)."""
    from .random import default_generator
    from ..device import move
    keep = default_generator.rng.random(shape) >= p
    if input.data.__class__ is not keep.__class__:
        keep = move(keep, input.device)
    return keep


def _dropout(input, p, training, inplace, mask_shape, op):
    _check_p(p, op)
    if not training or p == 0.0 or input.numel() == 0:
        return input
    _float_tensor(input, op)
    if p == 1.0:
        mask = input.device.xp.zeros(mask_shape, dtype=input.data.dtype)
    else:
        mask = _keep_mask(mask_shape, p, input).astype(input.data.dtype) * (1.0 / (1.0 - p))
        mask = mask.astype(input.data.dtype, copy=False)
    return _run(input, inplace, op, lambda x: apply(Dropout(mask), x))


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only)."""
    return _dropout(input, p, training, inplace, input.data.shape, "dropout")


def _feature_shape(input, op):
    if input.data.ndim < 2:
        raise RuntimeError(f"{op}: Feature dropout requires at least 2 dimensions in the input, got shape "
                           f"{tuple(input.shape)}")
    return input.data.shape[:2] + (1,) * (input.data.ndim - 2)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, L) or (C, L) input with probability p."""
    _check_p(p, "dropout1d")
    if input.data.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.data.ndim}D input of shape "
                           f"{tuple(input.shape)}")
    shape = input.data.shape[:-1] + (1,)
    return _dropout(input, p, training, inplace, shape, "dropout1d")


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, H, W) input with probability p (3-D input is taken as (N, C, L))."""
    _check_p(p, "dropout2d")
    if input.data.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.data.ndim}-D input to dropout2d, which is deprecated; use "
                      "dropout instead.", stacklevel=2)
    return _dropout(input, p, training, inplace, _feature_shape(input, "dropout2d"), "dropout2d")


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability p."""
    _check_p(p, "dropout3d")
    if input.data.ndim not in (4, 5):
        warnings.warn(f"dropout3d: Received a {input.data.ndim}-D input to dropout3d, which is deprecated; use "
                      "dropout instead.", stacklevel=2)
    if input.data.ndim == 4:
        return dropout3d(input.unsqueeze(0), p, training).squeeze(0)
    return _dropout(input, p, training, inplace, _feature_shape(input, "dropout3d"), "dropout3d")


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout that keeps the self-normalising mean and variance of SELU activations."""
    _check_p(p, "alpha_dropout")
    if not training or p == 0 or input.numel() == 0:
        return input
    _float_tensor(input, "alpha_dropout")
    if p == 1:
        return input * 0.0
    alpha = _SELU_ALPHA * _SELU_SCALE
    a = 1.0 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    keep = _keep_mask(input.data.shape, p, input).astype(input.data.dtype)
    shift = ((keep - 1) * (alpha * a) + alpha * a * p).astype(input.data.dtype, copy=False)
    return _run(input, inplace, "alpha_dropout", lambda x: x * Tensor._wrap(keep * a) + Tensor._wrap(shift))


# --- embedding and one_hot ------------------------------------------------------------------------------------

class Embedding(Node):
    saves = ()

    def __init__(self, padding_idx, scale_grad_by_freq):
        self.padding_idx, self.by_freq = padding_idx, scale_grad_by_freq

    def forward(self, xp, weight, idx):
        self.idx, self.num = idx, weight.shape[0]
        return weight[idx]

    def backward(self, g):
        return (apply(EmbeddingBackward(self.idx, self.num, self.padding_idx, self.by_freq), g), None)


class EmbeddingBackward(Node):
    """Scatter-add of the output gradient into the rows of the table (the gradient of Embedding)."""

    saves = ()

    def __init__(self, idx, num, padding_idx, by_freq):
        self.idx, self.num, self.padding_idx, self.by_freq = idx, num, padding_idx, by_freq

    def forward(self, xp, g):
        row = g.shape[self.idx.ndim:]
        out = xp.zeros((self.num,) + row, dtype=g.dtype)
        idx = self.idx.reshape(-1)
        flat = g.reshape((idx.size,) + row)
        if 0 < idx.size <= self.num and int(xp.bincount(idx, minlength=self.num).max()) <= 1:
            out[idx] = flat  # every row looked up at most once (positions): a plain scatter
        elif idx.size <= 4 * self.num or xp.__name__ != "numpy":
            xp.add.at(out, idx, flat)
        else:  # many lookups into a small table: a one-hot matmul is much faster than add.at
            onehot = xp.zeros((idx.size, self.num), dtype=g.dtype)
            onehot[xp.arange(idx.size), idx] = 1
            out[...] = (onehot.T @ flat.reshape(idx.size, -1)).reshape(out.shape)
        if self.by_freq:
            self.counts = xp.bincount(idx, minlength=self.num)
            out /= xp.maximum(self.counts, 1).astype(g.dtype).reshape((-1,) + (1,) * len(row))
        if self.padding_idx is not None:
            out[self.padding_idx] = 0
        return out

    def backward(self, gg):
        xp = gg.device.xp
        g = embedding(Tensor._wrap(self.idx), gg)
        scale = None
        if self.by_freq:
            scale = 1.0 / xp.maximum(self.counts, 1)[self.idx]
        if self.padding_idx is not None:
            keep = self.idx != self.padding_idx
            scale = keep if scale is None else scale * keep
        if scale is not None:
            g = g * Tensor._wrap(scale.astype(gg.data.dtype)[..., None])
        return (g,)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False):
    """Rows of weight at the integer indices in input.

    The padding_idx row gets no gradient; max_norm renormalises (in place) the looked-up rows whose norm exceeds it;
    scale_grad_by_freq divides each row's gradient by how often it occurs in input. ``sparse`` is accepted for
    compatibility (the gradient is always dense).
    """
    if not isinstance(input, Tensor) or input.data.dtype.kind not in "iu":
        raise RuntimeError(f"embedding: expected an integer index tensor, got "
                           f"{input.dtype if isinstance(input, Tensor) else type(input).__name__}")
    if not isinstance(weight, Tensor) or weight.data.ndim != 2:
        raise RuntimeError(f"embedding: 'weight' must be 2-D, got "
                           f"{tuple(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__}")
    n = weight.shape[0]
    if input.numel():
        lo, hi = int(input.data.min()), int(input.data.max())
        if lo < 0 or hi >= n:
            raise IndexError(f"embedding: index out of range in self: indices must be in [0, {n}) for a weight of "
                             f"shape {tuple(weight.shape)}, got min {lo} and max {hi}")
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise AssertionError(f"embedding: Padding_idx must be within num_embeddings ({n}), got {padding_idx}")
        if padding_idx < 0:
            padding_idx += n
    if max_norm is not None:
        _renorm_rows(weight, input.data, max_norm, norm_type)
    return apply(Embedding(padding_idx, scale_grad_by_freq), weight, input.data)


def _renorm_rows(weight, idx, max_norm, norm_type):
    """Scale (in place, outside autograd) each row of weight used by idx whose norm exceeds max_norm."""
    xp = weight.device.xp
    with no_grad():
        rows = xp.unique(idx.reshape(-1))
        w = weight.data[rows]
        if norm_type == math.inf:
            norms = xp.abs(w).max(axis=1, keepdims=True)
        else:
            norms = (xp.abs(w) ** norm_type).sum(axis=1, keepdims=True) ** (1.0 / norm_type)
        scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        weight.data[rows] = (w * scale).astype(weight.data.dtype, copy=False)
        increment_version(weight)  # an in-place change, as in PyTorch (a saved copy of weight is now stale)


def one_hot(tensor, num_classes=-1):
    """An int64 tensor with a trailing dimension of num_classes holding a 1 at each index."""
    if not isinstance(tensor, Tensor) or tensor.data.dtype.kind not in "iu":
        raise RuntimeError(f"one_hot is only applicable to index tensor of type LongTensor, got "
                           f"{tensor.dtype if isinstance(tensor, Tensor) else type(tensor).__name__}")
    data = tensor.data
    xp = tensor.device.xp
    if num_classes == -1:
        if data.size == 0:
            raise RuntimeError("one_hot: Can not infer total number of classes from empty tensor.")
        num_classes = int(data.max()) + 1
    if data.size and (int(data.min()) < 0 or int(data.max()) >= num_classes):
        raise RuntimeError(f"one_hot: Class values must be smaller than num_classes ({num_classes}) and "
                           f"non-negative, got values in [{int(data.min())}, {int(data.max())}]")
    out = (data[..., None] == xp.arange(num_classes)).astype(_dt.int64.np)
    return Tensor._wrap(out)


# --- distances ------------------------------------------------------------------------------------------------

def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p along dim, eps)."""
    _float_tensor(input, "normalize")
    return input / E.clamp(input.norm(p, dim, keepdim=True), min=eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """Cosine of the angle between x1 and x2 along dim (broadcast), each norm clamped below by eps.

    As in PyTorch the clamp does not stop the gradient through the norm.
    """
    _float_tensor(x1, "cosine_similarity")
    _float_tensor(x2, "cosine_similarity")
    n1 = _clamp_value(x1.norm(2, dim, keepdim=True), eps)
    n2 = _clamp_value(x2.norm(2, dim, keepdim=True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def _clamp_value(t, lo):
    """t clamped below by lo in value, with the gradient of t itself (PyTorch's clamp_min_ under no_grad)."""
    d = t.detach()
    return t + (E.clamp(d, min=lo) - d)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p along the last dimension."""
    _float_tensor(x1, "pairwise_distance")
    _float_tensor(x2, "pairwise_distance")
    return (x1 - x2 + eps).norm(p, -1, keepdim=keepdim)


bind(softmax=lambda self, dim=None, dtype=None: softmax(self, dim, dtype=dtype),
     log_softmax=lambda self, dim=None, dtype=None: log_softmax(self, dim, dtype=dtype))
