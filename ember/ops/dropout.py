"""Dropout: dropout, dropout1d/2d/3d (whole channels) and alpha_dropout. The keep-mask is drawn from the default
generator in forward and reused by backward."""
import math
import warnings

import numpy as np

from ..autograd import Node
from ..autograd.graph import apply
from ..device import move
from ..tensor import Tensor
from ._checks import float_tensor
from .activation import SELU_ALPHA, SELU_SCALE, maybe_inplace
from .meta import TensorMeta
from .random import default_generator
from .registry import export, register


@register
class Dropout(Node):
    """input * mask, the mask of mask_shape (0, or 1/(1-p) with probability 1 - p; one value per channel for feature
    dropout) broadcast over input. The forward draws the mask from the default generator, so a captured graph draws
    a new one each time it runs; the backward is the same op with that mask (linear in input)."""

    saves = ()
    random = True  # two of them on the same input are not the same value (no common-subexpression merging)

    def __init__(self, p, mask_shape, mask=None):
        self.p, self.mask_shape, self.mask = p, tuple(mask_shape), mask

    def infer(self, a):
        return TensorMeta(tuple(np.broadcast_shapes(a.shape, self.mask_shape)), a.dtype)

    def forward(self, xp, a):
        if self.mask is None:
            self.mask = scaled_mask(xp, self.mask_shape, self.p, a.dtype)
        return a * self.mask

    def backward(self, g):
        return (apply(Dropout(self.p, self.mask_shape, self.mask), g),)


def _check_p(p, op):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")


def _keep_mask(shape, p, input):
    """Bernoulli(1 - p) keep-mask of the given shape on input's device (drawn from the default generator)."""
    keep = default_generator.rng.random(shape) >= p
    if input._data.__class__ is not keep.__class__:
        keep = move(keep, input.device)
    return keep


def scaled_mask(xp, shape, p, dtype):
    """Dropout's mask: 0 with probability p, else 1/(1-p), in dtype on xp's device (drawn from the default
    generator; attention's dropout draws its mask here too)."""
    if p == 1.0:
        return xp.zeros(shape, dtype=dtype)
    keep = default_generator.rng.random(shape) >= p
    if xp is not np:
        keep = xp.asarray(keep)
    return (keep.astype(dtype) * (1.0 / (1.0 - p))).astype(dtype, copy=False)


def _dropout(input, p, training, inplace, mask_shape, op):
    _check_p(p, op)
    if not training or p == 0.0 or input.numel() == 0:
        return input
    float_tensor(input, op)
    return maybe_inplace(input, inplace, op, lambda x: apply(Dropout(p, mask_shape), x))


@export(Dropout, ember=False, functional=True)
def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element of ``input`` with probability ``p`` and scale the others by 1 / (1 - p).

    The scaling keeps the expected value; the mask is drawn from ember's default generator (``ember.manual_seed``).

    Args:
        input (Tensor): a floating-point tensor.
        p (float): the probability of zeroing, in [0, 1] (else ValueError). Default: 0.5.
        training (bool): apply dropout; when False, ``input`` itself is returned. Default: True.
        inplace (bool): write the result into ``input`` and return it. Default: False.

    Returns:
        Tensor: the result, of ``input``'s shape (``input`` itself when not ``training`` or when ``p`` is 0).

    PyTorch:
        ``torch.nn.functional.dropout``; same semantics.

    Example:
        >>> F.dropout(ember.ones(4), p=0.5, training=False)
        tensor([1., 1., 1., 1.])
        >>> sorted(set(F.dropout(ember.ones(100), p=0.5).tolist()))
        [0.0, 2.0]
    """
    return _dropout(input, p, training, inplace, input._data.shape, "dropout")


def _feature_shape(input, op):
    if input._data.ndim < 2:
        raise RuntimeError(f"{op}: Feature dropout requires at least 2 dimensions in the input, got shape "
                           f"{tuple(input.shape)}")
    return input._data.shape[:2] + (1,) * (input._data.ndim - 2)


@export(Dropout, ember=False, functional=True)
def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of a batch of 1-d feature maps with probability ``p``, scaling the rest by 1 / (1 - p).

    Each (sample, channel) pair is kept or dropped as a whole, which suits convolutional features whose neighbouring
    values are correlated. Not random when not ``training``.

    Args:
        input (Tensor): a floating-point tensor ((N, C, L) or (C, L); another rank raises RuntimeError).
        p (float): the probability of zeroing, in [0, 1] (else ValueError). Default: 0.5.
        training (bool): apply dropout; when False, ``input`` itself is returned. Default: True.
        inplace (bool): write the result into ``input`` and return it. Default: False.

    Returns:
        Tensor: the result, of ``input``'s shape (``input`` itself when not ``training``).

    Shape:
        - Input: (N, C, L) or (C, L).
        - Output: the input's shape.

    PyTorch:
        ``torch.nn.functional.dropout1d``; same semantics.

    Example:
        >>> F.dropout1d(ember.ones(1, 6, 3)).sum(dim=2)
        tensor([[6., 0., 0., 0., 6., 6.]])
    """
    _check_p(p, "dropout1d")
    if input._data.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input._data.ndim}D input of shape "
                           f"{tuple(input.shape)}")
    shape = input._data.shape[:-1] + (1,)
    return _dropout(input, p, training, inplace, shape, "dropout1d")


def _warn_unusual_rank(input, ranks, op):
    """PyTorch's deprecation warning for a dropout2d/3d input of another rank (it then drops single elements)."""
    if input._data.ndim not in ranks:
        warnings.warn(f"{op}: Received a {input._data.ndim}-D input to {op}, which is deprecated; use dropout "
                      "instead.", stacklevel=3)


@export(Dropout, ember=False, functional=True)
def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of a batch of 2-d feature maps with probability ``p``, scaling the rest by 1 / (1 - p).

    Each (sample, channel) pair is kept or dropped as a whole, which suits convolutional features whose neighbouring
    values are correlated. A 3-d input is taken as (N, C, L), as in PyTorch. Not random when not ``training``.

    Args:
        input (Tensor): a floating-point tensor ((N, C, H, W), or (N, C, L); another rank warns and drops per
            (N, C) of its first two dimensions).
        p (float): the probability of zeroing, in [0, 1] (else ValueError). Default: 0.5.
        training (bool): apply dropout; when False, ``input`` itself is returned. Default: True.
        inplace (bool): write the result into ``input`` and return it. Default: False.

    Returns:
        Tensor: the result, of ``input``'s shape (``input`` itself when not ``training``).

    Shape:
        - Input: (N, C, H, W) or (N, C, L).
        - Output: the input's shape.

    PyTorch:
        ``torch.nn.functional.dropout2d``; same semantics, except that a 3-d input gets no warning (PyTorch warns
        that it will read it as an unbatched (C, H, W) in a future release).

    Example:
        >>> F.dropout2d(ember.ones(1, 6, 2, 2)).sum(dim=(2, 3))
        tensor([[8., 0., 0., 0., 8., 8.]])
    """
    _check_p(p, "dropout2d")
    _warn_unusual_rank(input, (3, 4), "dropout2d")
    return _dropout(input, p, training, inplace, _feature_shape(input, "dropout2d"), "dropout2d")


@export(Dropout, ember=False, functional=True)
def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of a batch of 3-d feature maps with probability ``p``, scaling the rest by 1 / (1 - p).

    Each (sample, channel) pair is kept or dropped as a whole, which suits convolutional features whose neighbouring
    values are correlated. Not random when not ``training``.

    Args:
        input (Tensor): a floating-point tensor ((N, C, D, H, W) or (C, D, H, W); another rank warns).
        p (float): the probability of zeroing, in [0, 1] (else ValueError). Default: 0.5.
        training (bool): apply dropout; when False, ``input`` itself is returned. Default: True.
        inplace (bool): write the result into ``input`` and return it. Default: False.

    Returns:
        Tensor: the result, of ``input``'s shape (``input`` itself when not ``training``).

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W).
        - Output: the input's shape.

    PyTorch:
        ``torch.nn.functional.dropout3d``; same semantics.

    Example:
        >>> F.dropout3d(ember.ones(1, 6, 2, 2, 2)).sum(dim=(2, 3, 4))
        tensor([[16.,  0.,  0.,  0., 16., 16.]])
    """
    _check_p(p, "dropout3d")
    _warn_unusual_rank(input, (4, 5), "dropout3d")
    if input._data.ndim == 4:  # unbatched (C, D, H, W): a mask per channel
        return _dropout(input, p, training, inplace, input._data.shape[:1] + (1, 1, 1), "dropout3d")
    return _dropout(input, p, training, inplace, _feature_shape(input, "dropout3d"), "dropout3d")


@export(ember=False, functional=True)
def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Apply alpha dropout: dropout that keeps the zero mean and unit variance of SELU activations.

    Dropped elements are set to SELU's negative saturation value rather than 0, and an affine map restores the mean and
    variance. Note that ``training`` defaults to False, as in PyTorch: call it with ``training=True`` to drop.

    Args:
        input (Tensor): a floating-point tensor.
        p (float): the probability of zeroing, in [0, 1] (else ValueError). Default: 0.5.
        training (bool): apply dropout; when False, ``input`` itself is returned. Default: False.
        inplace (bool): write the result into ``input`` and return it. Default: False.

    Returns:
        Tensor: the result, of ``input``'s shape (``input`` itself when not ``training``).

    PyTorch:
        ``torch.nn.functional.alpha_dropout``; same semantics.

    Example:
        >>> x = ember.randn(10000)
        >>> F.alpha_dropout(x, 0.2) is x
        True
        >>> y = F.alpha_dropout(x, 0.2, training=True)
        >>> round(y.mean().item(), 1), round(y.std().item(), 1)
        (0.0, 1.0)
    """
    _check_p(p, "alpha_dropout")
    if not training or p == 0 or input.numel() == 0:
        return input
    float_tensor(input, "alpha_dropout")
    if p == 1:
        return input * 0.0
    alpha = SELU_ALPHA * SELU_SCALE
    a = 1.0 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    keep = _keep_mask(input._data.shape, p, input).astype(input._data.dtype)
    shift = ((keep - 1) * (alpha * a) + alpha * a * p).astype(input._data.dtype, copy=False)
    return maybe_inplace(input, inplace, "alpha_dropout", lambda x: x * Tensor._wrap(keep * a) + Tensor._wrap(shift))


@export(ember=False, functional=True)
def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of whole channels: each channel of each sample (dimension 1) is kept or set to SELU's negative
    saturation value as one, then the affine map of ``alpha_dropout`` restores the mean and variance.

    Args:
        input (Tensor): a floating-point (N, C, *) tensor, at least 2-d (else RuntimeError).
        p (float): the probability of dropping a channel, in [0, 1] (else ValueError). Default: 0.5.
        training (bool): apply dropout; when False, ``input`` itself is returned. Default: False.
        inplace (bool): write the result into ``input`` and return it. Default: False.

    Returns:
        Tensor: the result, of ``input``'s shape (``input`` itself when not ``training``).

    PyTorch:
        ``torch.nn.functional.feature_alpha_dropout``; same semantics (the masks differ for one seed).

    Example:
        >>> y = F.feature_alpha_dropout(ember.ones(4, 8, 5), 0.5, training=True)
        >>> bool((y == y[:, :, :1]).all())  # one value per channel
        True
    """
    _check_p(p, "feature_alpha_dropout")
    if not training or p == 0 or input.numel() == 0:
        return input
    float_tensor(input, "feature_alpha_dropout")
    if input.dim() < 2:
        raise RuntimeError(f"feature_alpha_dropout: Feature dropout requires at least 2 dimensions in the input, got "
                           f"shape {tuple(input.shape)}")
    if p == 1:
        return input * 0.0
    alpha = SELU_ALPHA * SELU_SCALE
    a = 1.0 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    shape = tuple(input._data.shape[:2]) + (1,) * (input.dim() - 2)
    keep = _keep_mask(shape, p, input).astype(input._data.dtype)
    shift = ((keep - 1) * (alpha * a) + alpha * a * p).astype(input._data.dtype, copy=False)
    return maybe_inplace(input, inplace, "feature_alpha_dropout",
                         lambda x: x * Tensor._wrap(keep * a) + Tensor._wrap(shift))
