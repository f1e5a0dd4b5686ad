"""Activation functions and softmax family, dropout, embedding and one_hot (the nn.functional ops that are not
losses, convolutions or normalisations). Hot ones are single nodes with a hand-written backward."""
import math

from .. import dtypes as _dt
from ..autograd import Node, _mode
from ..tensor import Tensor, apply
from . import elementwise as E
from ._util import bind, wrap_dim

__all__ = ["softmax", "log_softmax", "softmin", "gelu", "silu", "mish", "softplus", "leaky_relu", "elu", "selu",
           "celu", "relu6", "hardtanh", "hardswish", "hardsigmoid", "logsigmoid", "glu", "softsign", "tanhshrink",
           "threshold", "dropout", "dropout1d", "dropout2d", "alpha_dropout", "embedding", "one_hot", "normalize",
           "cosine_similarity", "pairwise_distance", "prelu"]


def _float_tensor(x, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(x).__name__}")
    if not x.is_floating_point():
        raise RuntimeError(f"{op}: expected a floating-point tensor, got {x.dtype}")
    return x


# --- softmax family -------------------------------------------------------------------------------------------

class Softmax(Node):
    saves = ()
    saves_output = True

    def __init__(self, dim):
        self.dim = dim

    def forward(self, xp, a):
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
        z = a - a.max(axis=self.dim, keepdims=True)
        z -= xp.log(xp.exp(z).sum(axis=self.dim, keepdims=True))
        self.out = z
        return z

    def backward(self, g):
        y = self.saved_output()
        return (g - E.exp(y) * g.sum(self.dim, keepdim=True),)


def _softmax_dim(input, dim, op):
    if dim is None:  # PyTorch's legacy implicit choice
        dim = 0 if input.data.ndim in (0, 1, 3) else 1
    return wrap_dim(dim, input.data.ndim, op)


def softmax(input, dim=None, dtype=None):
    """exp(x) / sum(exp(x)) along dim, computed stably."""
    if dtype is not None:
        input = input.to(dtype)
    _float_tensor(input, "softmax")
    return apply(Softmax(_softmax_dim(input, dim, "softmax")), input)


def log_softmax(input, dim=None, dtype=None):
    """log(softmax(x)) along dim, computed stably (finite for logits of any size)."""
    if dtype is not None:
        input = input.to(dtype)
    _float_tensor(input, "log_softmax")
    return apply(LogSoftmax(_softmax_dim(input, dim, "log_softmax")), input)


def softmin(input, dim=None, dtype=None):
    """softmax(-x)."""
    return softmax(-input, dim, dtype)


# --- pointwise activations with their own gradient rule ------------------------------------------------------

_SQRT_HALF = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


class Gelu(Node):
    saves = (0,)

    def __init__(self, approximate):
        self.approximate = approximate

    def forward(self, xp, a):
        if self.approximate == "tanh":
            return 0.5 * a * (1 + xp.tanh(_SQRT_2_OVER_PI * (a + 0.044715 * a * a * a)))
        from ._erf import erf
        return 0.5 * a * (1 + erf(xp, a * _SQRT_HALF))

    def backward(self, g):
        x = self.inputs[0]
        if self.approximate == "tanh":
            inner = (x + x * x * x * 0.044715) * _SQRT_2_OVER_PI
            t = E.tanh(inner)
            d_inner = (x * x * (3 * 0.044715) + 1) * _SQRT_2_OVER_PI
            return (g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner),)
        cdf = 0.5 * (1 + E.erf(x * _SQRT_HALF))
        pdf = E.exp(x * x * -0.5) * _INV_SQRT_2PI
        return (g * (cdf + x * pdf),)


def gelu(input, approximate="none"):
    """Gaussian error linear unit: x * Phi(x) (approximate='tanh' uses the tanh formula)."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return apply(Gelu(approximate), _float_tensor(input, "gelu"))


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
    return apply(Silu(), _float_tensor(input, "silu"))


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
    return input * E.tanh(softplus(input))


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
    return apply(LeakyRelu(negative_slope), _float_tensor(input, "leaky_relu"))


class Elu(Node):
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
    return apply(Elu(alpha), _float_tensor(input, "elu"))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalising constants."""
    return apply(Elu(_SELU_ALPHA, _SELU_SCALE), _float_tensor(input, "selu"))


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    return apply(Elu(alpha, 1.0, 1.0 / alpha), _float_tensor(input, "celu"))


class Hardtanh(Node):
    saves = (0,)

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, xp, a):
        return xp.clip(a, self.lo, self.hi)

    def backward(self, g):
        x = self.inputs[0]
        return (g * ((x > self.lo) & (x < self.hi)),)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clamp(x, min_val, max_val); the gradient is zero outside the open interval."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    return apply(Hardtanh(min_val, max_val), input)


def relu6(input, inplace=False):
    """min(max(0, x), 6)."""
    return hardtanh(input, 0.0, 6.0)


class Hardswish(Node):
    saves = (0,)

    def forward(self, xp, a):
        return a * xp.clip(a + 3, 0, 6) / 6

    def backward(self, g):
        x = self.inputs[0]
        mid = g * (x / 3 + 0.5)
        return (E.where(x < -3, g * 0, E.where(x <= 3, mid, g)),)


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6."""
    return apply(Hardswish(), _float_tensor(input, "hardswish"))


class Hardsigmoid(Node):
    saves = (0,)

    def forward(self, xp, a):
        return xp.clip(a + 3, 0, 6) / 6

    def backward(self, g):
        x = self.inputs[0]
        return (g * ((x > -3) & (x < 3)) / 6,)


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6."""
    return apply(Hardsigmoid(), _float_tensor(input, "hardsigmoid"))


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
    d = wrap_dim(dim, input.data.ndim, "glu")
    n = input.shape[d]
    if n % 2:
        raise RuntimeError(f"glu: Halving dimension must be even, but dimension {d} is size {n}")
    a, b = input.narrow(d, 0, n // 2), input.narrow(d, n // 2, n // 2)
    return a * E.sigmoid(b)


def softsign(input):
    """x / (1 + |x|)."""
    return input / (E.abs(input) + 1)


def tanhshrink(input):
    """x - tanh(x)."""
    return input - E.tanh(input)


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else value."""
    return E.where(input > threshold, input, value)


def prelu(input, weight):
    """max(0, x) + weight * min(0, x), weight broadcast over the channel dimension (dim 1)."""
    if weight.numel() != 1 and input.data.ndim >= 2:
        weight = weight.reshape((1, -1) + (1,) * (input.data.ndim - 2))
    return E.where(input > 0, input, input * weight)


# --- dropout --------------------------------------------------------------------------------------------------

class Dropout(Node):
    saves = ()

    def __init__(self, mask):
        self.mask = mask

    def forward(self, xp, a):
        return a * self.mask

    def backward(self, g):
        return (g * Tensor._wrap(self.mask),)


def _dropout(input, p, training, mask_shape, op):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    from .random import default_generator
    from ..device import move
    keep = default_generator.rng.random(mask_shape) >= p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    mask = (keep * scale).astype(input.data.dtype)
    if input.data.__class__ is not mask.__class__:
        mask = move(mask, input.device)
    return apply(Dropout(mask), input)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only)."""
    return _dropout(input, p, training, input.data.shape, "dropout")


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, L) input."""
    return _dropout(input, p, training, input.data.shape[:-1] + (1,), "dropout1d")


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, H, W) input."""
    if input.data.ndim not in (3, 4):
        raise RuntimeError(f"dropout2d: expected a 3-D or 4-D input, got shape {tuple(input.shape)}")
    return _dropout(input, p, training, input.data.shape[:-2] + (1, 1), "dropout2d")


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout that keeps the self-normalising mean and variance of SELU activations."""
    if not training or p == 0:
        return input
    from .random import default_generator
    alpha_p = -_SELU_ALPHA * _SELU_SCALE
    keep = (default_generator.rng.random(input.data.shape) >= p).astype(input.data.dtype)
    a = ((1 - p) * (1 + p * alpha_p ** 2)) ** -0.5
    b = -a * alpha_p * p
    return (input * Tensor._wrap(keep) + Tensor._wrap((1 - keep) * alpha_p)) * a + b


# --- embedding and one_hot ------------------------------------------------------------------------------------

class Embedding(Node):
    saves = ()

    def __init__(self, padding_idx):
        self.padding_idx = padding_idx

    def forward(self, xp, weight, idx):
        self.idx, self.num = idx, weight.shape[0]
        return weight[idx]

    def backward(self, g):
        return (apply(EmbeddingBackward(self.idx, self.num, self.padding_idx), g), None)


class EmbeddingBackward(Node):
    saves = ()

    def __init__(self, idx, num, padding_idx):
        self.idx, self.num, self.padding_idx = idx, num, padding_idx

    def forward(self, xp, g):
        out = xp.zeros((self.num,) + g.shape[self.idx.ndim:], dtype=g.dtype)
        flat = g.reshape((-1,) + g.shape[self.idx.ndim:])
        idx = self.idx.reshape(-1)
        if idx.size <= 4 * self.num or xp.__name__ != "numpy":
            xp.add.at(out, idx, flat)
        else:  # many lookups into a small table: a one-hot matmul is much faster than add.at
            onehot = xp.zeros((idx.size, self.num), dtype=g.dtype)
            onehot[xp.arange(idx.size), idx] = 1
            out[...] = (onehot.T @ flat.reshape(idx.size, -1)).reshape(out.shape)
        if self.padding_idx is not None:
            out[self.padding_idx] = 0
        return out

    def backward(self, gg):
        return (embedding(Tensor._wrap(self.idx), gg),)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False):
    """Rows of weight at the integer indices in input; the padding_idx row gets no gradient."""
    if not isinstance(input, Tensor) or input.data.dtype.kind not in "iu":
        raise RuntimeError(f"embedding: expected an integer index tensor, got "
                           f"{input.dtype if isinstance(input, Tensor) else type(input).__name__}")
    n = weight.shape[0]
    if input.numel() and (int(input.data.max()) >= n or int(input.data.min()) < -n):
        raise IndexError(f"embedding: index out of range: indices must be in [0, {n}) for a weight of shape "
                         f"{tuple(weight.shape)}, got min {int(input.data.min())} and max {int(input.data.max())}")
    if padding_idx is not None and padding_idx < 0:
        padding_idx += n
    if max_norm is not None:
        from ..autograd import no_grad
        with no_grad():
            rows = weight.data[input.data]
            norms = (abs(rows) ** norm_type).sum(-1, keepdims=True) ** (1.0 / norm_type)
            scale = (max_norm / (norms + 1e-7)).clip(max=1.0)
            weight.data[input.data] = rows * scale
    return apply(Embedding(padding_idx), weight, input.data)


def one_hot(tensor, num_classes=-1):
    """An int64 tensor with a trailing dimension of num_classes holding a 1 at each index."""
    if tensor.data.dtype.kind not in "iu":
        raise RuntimeError(f"one_hot is only applicable to index tensor of type LongTensor, got {tensor.dtype}")
    data = tensor.data
    if num_classes == -1:
        num_classes = int(data.max()) + 1 if data.size else 0
    if data.size and (data.min() < 0 or data.max() >= num_classes):
        raise RuntimeError(f"one_hot: Class values must be smaller than num_classes ({num_classes}) and "
                           f"non-negative")
    xp = tensor.device.xp
    out = xp.zeros(data.shape + (num_classes,), dtype=_dt.int64.np)
    xp.put_along_axis(out, data[..., None].astype(_dt.int64.np), 1, axis=-1)
    return Tensor._wrap(out)


# --- distances ------------------------------------------------------------------------------------------------

def normalize(input, p=2.0, dim=1, eps=1e-12):
    """input / max(||input||_p along dim, eps)."""
    return input / E.clamp(input.norm(p, dim, keepdim=True), min=eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """Cosine of the angle between x1 and x2 along dim (norms clamped below by eps)."""
    n1 = E.clamp((x1 * x1).sum(dim, keepdim=True).sqrt(), min=eps)
    n2 = E.clamp((x2 * x2).sum(dim, keepdim=True).sqrt(), min=eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p along the last dimension."""
    return (x1 - x2 + eps).norm(p, -1, keepdim=keepdim)


bind(softmax=softmax, log_softmax=log_softmax)
