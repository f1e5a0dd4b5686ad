"""Parameter initialisation (torch.nn.init): in-place, under no_grad, drawing from ember's random generator."""
import math
import warnings

import numpy as np

from ..autograd import no_grad
from ..device import move
from ..ops.random import default_generator
from ..tensor import Tensor

__all__ = [
    "calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_",
]

_LINEAR_FNS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


def _rng(generator):
    return (generator or default_generator).rng


def _write(tensor, array):
    """Copy a host array into tensor in place (cast to its dtype, moved to its device)."""
    with no_grad():
        tensor.copy_(Tensor._wrap(move(np.asarray(array, dtype=tensor._data.dtype), tensor.device)))
    return tensor


def calculate_gain(nonlinearity, param=None):
    """Return the recommended gain for a nonlinearity, the factor initialisations scale their std by.

    linear, convolutions and sigmoid: 1; tanh: 5/3; relu: sqrt(2); leaky_relu: sqrt(2 / (1 + negative_slope^2));
    selu: 3/4. Another name raises ValueError.

    Args:
        nonlinearity (str): the function's name, e.g. ``'relu'``, ``'tanh'``, ``'leaky_relu'``, ``'conv2d'``.
        param (float, optional): leaky_relu's negative slope. Default: None (0.01).

    Returns:
        float: the gain.

    PyTorch:
        ``torch.nn.init.calculate_gain``; same semantics.

    Example:
        >>> round(nn.init.calculate_gain("relu"), 4), nn.init.calculate_gain("tanh")
        (1.4142, 1.6666666666666667)
    """
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif (not isinstance(param, bool) and isinstance(param, int)) or isinstance(param, float):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill ``tensor`` in place with samples from the uniform distribution U(a, b).

    Args:
        tensor (Tensor): the tensor to fill.
        a (float): the lower bound. Default: 0.0.
        b (float): the upper bound. Default: 1.0.
        generator (ember.Generator, optional): the generator to draw from. Default: ember's default generator.

    Returns:
        Tensor: ``tensor`` itself, filled in place (outside autograd).

    PyTorch:
        ``torch.nn.init.uniform_``; same semantics; the values come from ember's generator,
        so a seed does not reproduce PyTorch's numbers.

    Example:
        >>> w = nn.init.uniform_(ember.empty(100), -0.5, 0.5)
        >>> bool((w >= -0.5).all() and (w < 0.5).all())
        True
    """
    with no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill ``tensor`` in place with samples from the normal distribution N(mean, std^2).

    Args:
        tensor (Tensor): the tensor to fill.
        mean (float): the mean. Default: 0.0.
        std (float): the standard deviation. Default: 1.0.
        generator (ember.Generator, optional): the generator to draw from. Default: ember's default generator.

    Returns:
        Tensor: ``tensor`` itself, filled in place (outside autograd).

    PyTorch:
        ``torch.nn.init.normal_``; same semantics; the values come from ember's generator,
        so a seed does not reproduce PyTorch's numbers.

    Example:
        >>> w = nn.init.normal_(ember.empty(10000), mean=3.0, std=0.1)
        >>> round(w.mean().item(), 1)
        3.0
    """
    with no_grad():
        return tensor.normal_(mean, std, generator=generator)


def _norm_cdf(x):
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill ``tensor`` in place with samples from N(mean, std^2) truncated to [a, b].

    Exact: the samples outside [a, b] are redrawn (or, when the interval holds little of the mass, drawn by rejection
    from uniform proposals). A ``mean`` more than 2 std outside [a, b] warns.

    Args:
        tensor (Tensor): the tensor to fill.
        mean (float): the mean of the normal. Default: 0.0.
        std (float): the standard deviation of the normal. Default: 1.0.
        a (float): the lower cut-off. Default: -2.0.
        b (float): the upper cut-off. Default: 2.0.
        generator (ember.Generator, optional): the generator to draw from. Default: ember's default generator.

    Returns:
        Tensor: ``tensor`` itself, filled in place (outside autograd).

    PyTorch:
        ``torch.nn.init.trunc_normal_``; same semantics; the values come from ember's generator,
        so a seed does not reproduce PyTorch's numbers.

    Example:
        >>> w = nn.init.trunc_normal_(ember.empty(1000), a=-1.0, b=1.0)
        >>> bool(w.abs().max() <= 1.0)
        True
    """
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The distribution of values may "
                      "be incorrect.", stacklevel=2)
    rng = _rng(generator)
    shape = tuple(tensor.shape)
    p = _norm_cdf((b - mean) / std) - _norm_cdf((a - mean) / std)
    if p > 0.3:  # draw normals and redraw those outside [a, b]
        out = rng.normal(mean, std, size=shape)
        bad = (out < a) | (out > b)
        while bad.any():
            out[bad] = rng.normal(mean, std, size=int(bad.sum()))
            bad = (out < a) | (out > b)
    else:  # uniform proposals on [a, b], accepted with the normal density relative to its peak on [a, b]
        mode = max(a, min(mean, b))
        log_peak = -0.5 * ((mode - mean) / std) ** 2
        out = np.empty(shape)
        pending = np.ones(shape, dtype=bool)
        while pending.any():
            n = int(pending.sum())
            cand = rng.uniform(a, b, size=n)
            accept = np.log(rng.uniform(size=n)) <= -0.5 * ((cand - mean) / std) ** 2 - log_peak
            idx = np.flatnonzero(pending)[accept]
            out.reshape(-1)[idx] = cand[accept]
            pending.reshape(-1)[idx] = False
    return _write(tensor, out)


def constant_(tensor, val):
    """Fill ``tensor`` in place with the value ``val``.

    Args:
        tensor (Tensor): the tensor to fill.
        val (float): the value.

    Returns:
        Tensor: ``tensor`` itself, filled in place (outside autograd).

    PyTorch:
        ``torch.nn.init.constant_``; same semantics.

    Example:
        >>> nn.init.constant_(ember.empty(2), 0.5)
        tensor([0.5000, 0.5000])
    """
    with no_grad():
        return tensor.fill_(val)


def ones_(tensor):
    """Fill ``tensor`` in place with ones.

    Args:
        tensor (Tensor): the tensor to fill.

    Returns:
        Tensor: ``tensor`` itself, filled in place (outside autograd).

    PyTorch:
        ``torch.nn.init.ones_``; same semantics.

    Example:
        >>> nn.init.ones_(ember.empty(2))
        tensor([1., 1.])
    """
    return constant_(tensor, 1.0)


def zeros_(tensor):
    """Fill ``tensor`` in place with zeros.

    Args:
        tensor (Tensor): the tensor to fill.

    Returns:
        Tensor: ``tensor`` itself, filled in place (outside autograd).

    PyTorch:
        ``torch.nn.init.zeros_``; same semantics.

    Example:
        >>> layer = nn.Linear(3, 2)
        >>> nn.init.zeros_(layer.bias)
        Parameter containing:
        tensor([0., 0.], requires_grad=True)
    """
    return constant_(tensor, 0.0)


def eye_(tensor):
    """Fill a 2-d ``tensor`` in place with the identity matrix (ones on the main diagonal, zeros elsewhere).

    Args:
        tensor (Tensor): a 2-d tensor (another rank raises ValueError); it need not be square.

    Returns:
        Tensor: ``tensor`` itself, filled in place (outside autograd).

    PyTorch:
        ``torch.nn.init.eye_``; same semantics.

    Example:
        >>> nn.init.eye_(ember.empty(2, 3))
        tensor([[1., 0., 0.],
                [0., 1., 0.]])
    """
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _write(tensor, np.eye(*tensor.shape))


def dirac_(tensor, groups=1):
    """Fill a convolution weight in place with the Dirac delta, so that the convolution copies its input channels.

    In each group, output channel d gets a 1 at the kernel's centre for input channel d, zeros elsewhere.

    Args:
        tensor (Tensor): a 3-, 4- or 5-d (out_channels, in_channels / groups, *kernel) weight (else ValueError).
        groups (int): the convolution's groups; it must divide dimension 0. Default: 1.

    Returns:
        Tensor: ``tensor`` itself, filled in place (outside autograd).

    PyTorch:
        ``torch.nn.init.dirac_``; same semantics.

    Example:
        >>> nn.init.dirac_(ember.empty(2, 2, 3))
        tensor([[[0., 1., 0.],
                 [0., 0., 0.]],
        <BLANKLINE>
                [[0., 0., 0.],
                 [0., 1., 0.]]])
    """
    dims = tensor.ndim
    if dims not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    sizes = tuple(tensor.shape)
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    per_group = sizes[0] // groups
    out = np.zeros(sizes)
    centre = tuple(s // 2 for s in sizes[2:])
    for g in range(groups):
        for d in range(min(per_group, sizes[1])):
            out[(g * per_group + d, d) + centre] = 1
    return _write(tensor, out)


def _calculate_fan_in_and_fan_out(tensor):
    dims = tensor.dim()
    if dims < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive = 1
    for s in tuple(tensor.shape)[2:]:
        receptive *= s
    return tensor.size(1) * receptive, tensor.size(0) * receptive


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    valid = ["fan_in", "fan_out"]
    if mode not in valid:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Fill ``tensor`` in place with Glorot's uniform initialisation: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)).

    fan_in is size(1) and fan_out size(0), each times the product of the remaining (kernel) dimensions.

    Args:
        tensor (Tensor): a tensor of at least 2 dimensions (else ValueError).
        gain (float): the scale, e.g. ``calculate_gain(...)``. Default: 1.0.
        generator (ember.Generator, optional): the generator to draw from. Default: ember's default generator.

    Returns:
        Tensor: ``tensor`` itself, filled in place (outside autograd).

    PyTorch:
        ``torch.nn.init.xavier_uniform_``; same semantics; the values come from ember's generator,
        so a seed does not reproduce PyTorch's numbers.

    Example:
        >>> w = nn.init.xavier_uniform_(ember.empty(64, 32))
        >>> bound = (6 / (64 + 32)) ** 0.5
        >>> bool(w.abs().max() <= bound)
        True
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Fill ``tensor`` in place with Glorot's normal initialisation: N(0, std^2).

    std = gain * sqrt(2 / (fan_in + fan_out)), fan_in and fan_out as for ``xavier_uniform_``.

    Args:
        tensor (Tensor): a tensor of at least 2 dimensions (else ValueError).
        gain (float): the scale. Default: 1.0.
        generator (ember.Generator, optional): the generator to draw from. Default: ember's default generator.

    Returns:
        Tensor: ``tensor`` itself, filled in place (outside autograd).

    PyTorch:
        ``torch.nn.init.xavier_normal_``; same semantics; the values come from ember's generator,
        so a seed does not reproduce PyTorch's numbers.

    Example:
        >>> w = nn.init.xavier_normal_(ember.empty(300, 500))
        >>> round(w.std().item(), 3)  # sqrt(2 / 800) = 0.05
        0.05
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def _kaiming_std(tensor, a, mode, nonlinearity):
    """He's std, gain / sqrt(fan); None (with PyTorch's warning to the caller's caller) for a zero-element tensor."""
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    return calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """Fill ``tensor`` in place with He's uniform initialisation: U(-bound, bound), bound = gain * sqrt(3 / fan).

    gain is ``calculate_gain(nonlinearity, a)`` and fan the fan_in or fan_out that ``mode`` picks. Layers such as
    ``nn.Linear`` and ``nn.Conv2d`` start from ``kaiming_uniform_(a=sqrt(5))``.

    Args:
        tensor (Tensor): a tensor of at least 2 dimensions; a zero-element tensor is left as is, with a warning.
        a (float): the negative slope of the leaky_relu that follows (the gain's ``param``). Default: 0.
        mode (str): ``'fan_in'`` (preserves the forward pass's variance) or ``'fan_out'`` (the backward pass's).
            Default: ``'fan_in'``.
        nonlinearity (str): the nonlinearity the gain is for, ``'relu'`` or ``'leaky_relu'`` as a rule.
            Default: ``'leaky_relu'``.
        generator (ember.Generator, optional): the generator to draw from. Default: ember's default generator.

    Returns:
        Tensor: ``tensor`` itself, filled in place (outside autograd).

    PyTorch:
        ``torch.nn.init.kaiming_uniform_``; same semantics; the values come from ember's generator,
        so a seed does not reproduce PyTorch's numbers.

    Example:
        >>> w = nn.init.kaiming_uniform_(ember.empty(64, 48), nonlinearity="relu")
        >>> bool(w.abs().max() <= (6 / 48) ** 0.5)
        True
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """Fill ``tensor`` in place with He's normal initialisation: N(0, std^2), std = gain / sqrt(fan).

    gain is ``calculate_gain(nonlinearity, a)`` and fan the fan_in or fan_out that ``mode`` picks.

    Args:
        tensor (Tensor): a tensor of at least 2 dimensions; a zero-element tensor is left as is, with a warning.
        a (float): the negative slope of the leaky_relu that follows (the gain's ``param``). Default: 0.
        mode (str): ``'fan_in'`` (preserves the forward pass's variance) or ``'fan_out'`` (the backward pass's).
            Default: ``'fan_in'``.
        nonlinearity (str): the nonlinearity the gain is for, ``'relu'`` or ``'leaky_relu'`` as a rule.
            Default: ``'leaky_relu'``.
        generator (ember.Generator, optional): the generator to draw from. Default: ember's default generator.

    Returns:
        Tensor: ``tensor`` itself, filled in place (outside autograd).

    PyTorch:
        ``torch.nn.init.kaiming_normal_``; same semantics; the values come from ember's generator,
        so a seed does not reproduce PyTorch's numbers.

    Example:
        >>> w = nn.init.kaiming_normal_(ember.empty(256, 512), nonlinearity="relu")
        >>> round(w.std().item(), 2)  # sqrt(2 / fan_in) = 0.0625
        0.06
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    return tensor if std is None else normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor, gain=1, generator=None):
    """Fill ``tensor`` in place with a random (semi-)orthogonal matrix, times ``gain``.

    The tensor is viewed as (size(0), numel / size(0)); its rows (or columns, whichever are fewer) come out
    orthonormal. The matrix is the Q of the QR decomposition of a Gaussian matrix, made unique by the signs of R's
    diagonal, so it is uniform over the orthogonal matrices.

    Args:
        tensor (Tensor): a tensor of at least 2 dimensions (else ValueError).
        gain (float): the scale. Default: 1.
        generator (ember.Generator, optional): the generator to draw from. Default: ember's default generator.

    Returns:
        Tensor: ``tensor`` itself, filled in place (outside autograd).

    PyTorch:
        ``torch.nn.init.orthogonal_``; same semantics; the values come from ember's generator,
        so a seed does not reproduce PyTorch's numbers.

    Example:
        >>> w = nn.init.orthogonal_(ember.empty(3, 5))
        >>> bool(((w @ w.T) - ember.eye(3)).abs().max() < 1e-5)
        True
    """
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.size(0)
    cols = tensor.numel() // rows
    flat = _rng(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))  # makes the decomposition unique (uniform over orthogonal matrices)
    if rows < cols:
        q = q.T
    return _write(tensor, (q * gain).reshape(tuple(tensor.shape)))


def sparse_(tensor, sparsity, std=0.01, generator=None):
    """Fill a 2-d ``tensor`` in place with N(0, std^2) values, then zero a fraction ``sparsity`` of each column.

    ceil(sparsity * rows) entries of each column, chosen at random, are zeroed.

    Args:
        tensor (Tensor): a 2-d tensor (another rank raises ValueError).
        sparsity (float): the fraction of each column to zero.
        std (float): the standard deviation of the non-zero values. Default: 0.01.
        generator (ember.Generator, optional): the generator to draw from. Default: ember's default generator.

    Returns:
        Tensor: ``tensor`` itself, filled in place (outside autograd).

    PyTorch:
        ``torch.nn.init.sparse_``; same semantics; the values come from ember's generator,
        so a seed does not reproduce PyTorch's numbers.

    Example:
        >>> w = nn.init.sparse_(ember.empty(4, 3), sparsity=0.5)
        >>> (w == 0).sum(dim=0)
        tensor([2, 2, 2])
    """
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = tuple(tensor.shape)
    num_zeros = math.ceil(sparsity * rows)
    rng = _rng(generator)
    out = rng.normal(0.0, std, size=(rows, cols))
    for c in range(cols):
        out[rng.permutation(rows)[:num_zeros], c] = 0
    return _write(tensor, out)


def _deprecated(fn):
    """PyTorch's old name of an initialiser (``normal`` for ``normal_``), with its FutureWarning."""
    old = fn.__name__[:-1]

    def deprecated_init(*args, **kwargs):
        warnings.warn(f"`nn.init.{old}` is now deprecated in favor of `nn.init.{fn.__name__}`.", FutureWarning,
                      stacklevel=2)
        return fn(*args, **kwargs)

    deprecated_init.__name__ = deprecated_init.__qualname__ = old
    deprecated_init.__doc__ = f"Deprecated: ``{fn.__name__}``."
    return deprecated_init


# PyTorch's deprecated names (not in __all__: the reference documents the current ones)
uniform, normal, constant, eye, dirac = map(_deprecated, (uniform_, normal_, constant_, eye_, dirac_))
xavier_uniform, xavier_normal = _deprecated(xavier_uniform_), _deprecated(xavier_normal_)
kaiming_uniform, kaiming_normal = _deprecated(kaiming_uniform_), _deprecated(kaiming_normal_)
orthogonal, sparse = _deprecated(orthogonal_), _deprecated(sparse_)
