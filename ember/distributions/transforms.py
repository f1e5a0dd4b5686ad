"""Transforms: invertible maps with their log-Jacobians, for TransformedDistribution."""
from __future__ import annotations

import math
from numbers import Number

from . import constraints
from .utils import _sum_rightmost

__all__ = ["AffineTransform", "ExpTransform", "Transform"]


class Transform:
    """An invertible map ``y = t(x)`` with ``t.inv(y)`` and ``t.log_abs_det_jacobian(x, y)``.

    Subclasses define ``_call``, ``_inverse``, ``log_abs_det_jacobian``, ``domain`` and ``codomain`` (constraints),
    ``bijective`` and ``sign``.

    Args:
        cache_size (int): 0 (no cache) or 1 (remember the last pair, so that ``inv(t(x))`` returns x). Default: 0.

    PyTorch:
        ``torch.distributions.transforms.Transform``; same semantics (cache_size 0 or 1).

    Example:
        >>> t = ember.distributions.ExpTransform()
        >>> t.inv(t(ember.tensor([0.5])))
        tensor([0.5000])
    """
    bijective = False
    domain = constraints.real
    codomain = constraints.real

    def __init__(self, cache_size=0):
        if cache_size not in (0, 1):
            raise ValueError("cache_size must be 0 or 1")
        self._cache_size = cache_size
        self._cached_x_y = None, None

    @property
    def event_dim(self):
        if self.domain.event_dim == self.codomain.event_dim:
            return self.domain.event_dim
        raise ValueError("Please use either .domain.event_dim or .codomain.event_dim")

    @property
    def inv(self):
        return _InverseTransform(self)

    @property
    def sign(self):
        raise NotImplementedError

    def __call__(self, x):
        if self._cache_size == 0:
            return self._call(x)
        x_old, y_old = self._cached_x_y
        if x is x_old:
            return y_old
        y = self._call(x)
        self._cached_x_y = x, y
        return y

    def _inv_call(self, y):
        if self._cache_size == 0:
            return self._inverse(y)
        x_old, y_old = self._cached_x_y
        if y is y_old:
            return x_old
        x = self._inverse(y)
        self._cached_x_y = x, y
        return x

    def _call(self, x):
        raise NotImplementedError

    def _inverse(self, y):
        raise NotImplementedError

    def log_abs_det_jacobian(self, x, y):
        raise NotImplementedError

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = object.__hash__

    def __repr__(self):
        return self.__class__.__name__ + "()"


class _InverseTransform(Transform):
    def __init__(self, transform):
        super().__init__(cache_size=transform._cache_size)
        self._inv = transform

    @property
    def domain(self):
        return self._inv.codomain

    @property
    def codomain(self):
        return self._inv.domain

    @property
    def bijective(self):
        return self._inv.bijective

    @property
    def sign(self):
        return self._inv.sign

    @property
    def inv(self):
        return self._inv

    def __eq__(self, other):
        return isinstance(other, _InverseTransform) and self._inv == other._inv

    __hash__ = object.__hash__

    def __call__(self, x):
        return self._inv._inv_call(x)

    def log_abs_det_jacobian(self, x, y):
        return -self._inv.log_abs_det_jacobian(y, x)


class ExpTransform(Transform):
    """The map ``y = exp(x)`` (from the reals to the positive reals).

    Args:
        cache_size (int): 0 (no cache) or 1 (remember the last pair). Default: 0.

    PyTorch:
        ``torch.distributions.transforms.ExpTransform``; same semantics.

    Example:
        >>> t = ember.distributions.ExpTransform()
        >>> x = ember.tensor([0.0, 1.0])
        >>> t(x), t.log_abs_det_jacobian(x, t(x))
        (tensor([1.0000, 2.7183]), tensor([0., 1.]))
    """
    domain = constraints.real
    codomain = constraints.positive
    bijective = True
    sign = +1

    def __eq__(self, other):
        return isinstance(other, ExpTransform)

    __hash__ = object.__hash__

    def _call(self, x):
        return x.exp()

    def _inverse(self, y):
        return y.log()

    def log_abs_det_jacobian(self, x, y):
        return x


class AffineTransform(Transform):
    """The map ``y = loc + scale * x``.

    Args:
        loc (Tensor or float): the shift.
        scale (Tensor or float): the scale (non-zero).
        event_dim (int): the number of rightmost dimensions of one event (summed in the log-Jacobian). Default: 0.
        cache_size (int): 0 (no cache) or 1 (remember the last pair). Default: 0.

    PyTorch:
        ``torch.distributions.transforms.AffineTransform``; same semantics.

    Example:
        >>> t = ember.distributions.AffineTransform(1.0, 2.0)
        >>> x = ember.tensor([0.0, 1.0])
        >>> t(x), t.log_abs_det_jacobian(x, t(x))
        (tensor([1., 3.]), tensor([0.6931, 0.6931]))
    """
    bijective = True

    def __init__(self, loc, scale, event_dim=0, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.loc, self.scale, self._event_dim = loc, scale, event_dim

    @property
    def event_dim(self):
        return self._event_dim

    @property
    def domain(self):
        return constraints.real if self._event_dim == 0 else constraints.independent(constraints.real, self._event_dim)

    codomain = domain

    @property
    def sign(self):
        if isinstance(self.scale, Number):
            return 1 if self.scale > 0 else -1 if self.scale < 0 else 0
        return self.scale.sign()

    def __eq__(self, other):
        if not isinstance(other, AffineTransform):
            return False
        same = [bool((a == b).all()) if not isinstance(a == b, bool) else a == b
                for a, b in ((self.loc, other.loc), (self.scale, other.scale))]
        return all(same) and self._event_dim == other._event_dim

    __hash__ = object.__hash__

    def _call(self, x):
        return self.loc + self.scale * x

    def _inverse(self, y):
        return (y - self.loc) / self.scale

    def log_abs_det_jacobian(self, x, y):
        if isinstance(self.scale, Number):
            result = x.new_full(x.shape, math.log(abs(self.scale)))
        else:
            result = self.scale.abs().log().expand(x.shape) if self.scale.shape != x.shape else self.scale.abs().log()
        return _sum_rightmost(result, self._event_dim)
