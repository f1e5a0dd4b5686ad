"""Dropout modules: active in training mode, the identity in eval mode."""
from __future__ import annotations

from typing import Any

from ..ops import dropout as D
from ..tensor import Tensor
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]


class _DropoutBase(Module):
    fn: Any = None  # each subclass sets its function (a staticmethod)

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input: Tensor) -> Tensor:
        return type(self).fn(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutBase):
    """In training mode, zero each element with probability p and scale the others by 1 / (1 - p); in eval mode, the
    identity.

    The scaling keeps the expected value of each element, so nothing changes at evaluation time.

    Args:
        p (float): the probability of zeroing an element, in [0, 1] (ValueError otherwise). Default: 0.5.
        inplace (bool): overwrite the input with the result. Default: False.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.Dropout``; same semantics (ember's random stream differs, so the masks differ for one seed).

    Example:
        >>> drop = nn.Dropout(p=0.5)
        >>> drop.eval()(ember.ones(3))
        tensor([1., 1., 1.])
        >>> sorted(set(drop.train()(ember.ones(100)).tolist()))
        [0.0, 2.0]
    """
    fn = staticmethod(D.dropout)


class Dropout1d(_DropoutBase):
    """In training mode, zero whole channels (all of an (N, C) slice) with probability p and scale the others by
    1 / (1 - p); in eval mode, the identity.

    Suited to 1-D convolution outputs, whose neighbouring elements are strongly correlated.

    Args:
        p (float): the probability of zeroing an element, in [0, 1] (ValueError otherwise). Default: 0.5.
        inplace (bool): overwrite the input with the result. Default: False.

    Shape:
        - Input: (N, C, L) or (C, L); other ranks are a RuntimeError.
        - Output: the input's shape.

    PyTorch:
        ``torch.nn.Dropout1d``; same semantics (the masks differ for one seed).

    Example:
        >>> out = nn.Dropout1d(p=0.5)(ember.ones(2, 3, 4))
        >>> out.shape
        ember.Size([2, 3, 4])
        >>> bool((out.amax(dim=2) == out.amin(dim=2)).all())
        True
    """
    fn = staticmethod(D.dropout1d)


class Dropout2d(_DropoutBase):
    """In training mode, zero whole channels (all of an (N, C) slice) with probability p and scale the others by
    1 / (1 - p); in eval mode, the identity.

    Suited to 2-D convolution outputs. A 3-D input is taken as (N, C, L); other ranks than 3 and 4 are deprecated
    (a warning) and still dropped by channel.

    Args:
        p (float): the probability of zeroing an element, in [0, 1] (ValueError otherwise). Default: 0.5.
        inplace (bool): overwrite the input with the result. Default: False.

    Shape:
        - Input: (N, C, H, W) or (N, C, L).
        - Output: the input's shape.

    PyTorch:
        ``torch.nn.Dropout2d``; same semantics (the masks differ for one seed), except that a 3-D input gives no
        warning.

    Example:
        >>> out = nn.Dropout2d(p=0.5)(ember.ones(2, 3, 4, 4))
        >>> bool((out.amax(dim=(2, 3)) == out.amin(dim=(2, 3))).all())
        True
    """
    fn = staticmethod(D.dropout2d)


class Dropout3d(_DropoutBase):
    """In training mode, zero whole channels (all of an (N, C) slice) with probability p and scale the others by
    1 / (1 - p); in eval mode, the identity.

    Suited to 3-D convolution outputs. Other ranks than 4 and 5 are deprecated (a warning) and still dropped by
    channel.

    Args:
        p (float): the probability of zeroing an element, in [0, 1] (ValueError otherwise). Default: 0.5.
        inplace (bool): overwrite the input with the result. Default: False.

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W).
        - Output: the input's shape.

    PyTorch:
        ``torch.nn.Dropout3d``; same semantics (the masks differ for one seed).

    Example:
        >>> out = nn.Dropout3d(p=0.5)(ember.ones(2, 3, 2, 2, 2))
        >>> bool((out.amax(dim=(2, 3, 4)) == out.amin(dim=(2, 3, 4))).all())
        True
    """
    fn = staticmethod(D.dropout3d)


class AlphaDropout(_DropoutBase):
    """In training mode, dropout that keeps the mean and variance of SELU activations; in eval mode, the identity.

    Dropped elements are set to SELU's negative saturation value, then an affine map restores the mean and variance.

    Use it with SELU (self-normalising networks); floating-point input only.

    Args:
        p (float): the probability of zeroing an element, in [0, 1] (ValueError otherwise). Default: 0.5.
        inplace (bool): overwrite the input with the result. Default: False.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input's shape.

    PyTorch:
        ``torch.nn.AlphaDropout``; same semantics (the masks differ for one seed).

    Example:
        >>> drop = nn.AlphaDropout(p=0.2)
        >>> drop(ember.ones(2, 3)).shape
        ember.Size([2, 3])
        >>> drop.eval()(ember.ones(2))
        tensor([1., 1.])
    """
    fn = staticmethod(D.alpha_dropout)


class FeatureAlphaDropout(_DropoutBase):
    """In training mode, alpha dropout of whole channels (``F.feature_alpha_dropout``); in eval mode, the identity.

    Args:
        p (float): the probability of dropping a channel, in [0, 1] (ValueError otherwise). Default: 0.5.
        inplace (bool): overwrite the input with the result. Default: False.

    Shape:
        - Input: (N, C, *), at least 2 dimensions.
        - Output: the input's shape.

    PyTorch:
        ``torch.nn.FeatureAlphaDropout``; same semantics (the masks differ for one seed).

    Example:
        >>> nn.FeatureAlphaDropout(0.2)(ember.ones(2, 3, 4)).shape
        ember.Size([2, 3, 4])
    """
    fn = staticmethod(D.feature_alpha_dropout)
