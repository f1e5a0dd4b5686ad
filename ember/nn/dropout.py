"""Dropout modules: active in training mode, the identity in eval mode."""
from __future__ import annotations

from typing import Any

from ..ops import dropout as D
from ..tensor import Tensor
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout"]


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
    """In training, zero each element with probability p and scale the others by 1 / (1 - p); in eval mode the
    identity (torch.nn.Dropout). Any shape.

    >>> drop = nn.Dropout(p=0.5).eval()
    >>> drop(ember.ones(3))
    tensor([1., 1., 1.])
    """
    fn = staticmethod(D.dropout)


class Dropout1d(_DropoutBase):
    """Dropout of whole channels of (N, C, L) inputs (torch.nn.Dropout1d)."""
    fn = staticmethod(D.dropout1d)


class Dropout2d(_DropoutBase):
    """Dropout of whole channels of (N, C, H, W) inputs (torch.nn.Dropout2d)."""
    fn = staticmethod(D.dropout2d)


class Dropout3d(_DropoutBase):
    """Dropout of whole channels of (N, C, D, H, W) inputs (torch.nn.Dropout3d)."""
    fn = staticmethod(D.dropout3d)


class AlphaDropout(_DropoutBase):
    """Dropout that keeps the mean and variance of SELU activations (torch.nn.AlphaDropout)."""
    fn = staticmethod(D.alpha_dropout)
