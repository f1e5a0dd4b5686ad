"""Exponential distribution, reparameterisable."""
from __future__ import annotations

from numbers import Number

import ember

from . import constraints
from .distribution import Distribution
from .utils import broadcast_all

__all__ = ["Exponential"]


class Exponential(Distribution):
    """The exponential distribution of rate ``rate``: density ``rate * exp(-rate * x)`` for x >= 0.

    Args:
        rate (float or Tensor): the rate (1 / mean), > 0.
        validate_args (bool, optional): whether to check the arguments; the default when None. Default: None.

    PyTorch:
        ``torch.distributions.Exponential``; same semantics; draws come from ember's generator.

    Example:
        >>> d = ember.distributions.Exponential(ember.tensor([2.0]))
        >>> d.log_prob(ember.tensor([1.0])), d.mean
        (tensor([-1.3069]), tensor([0.5000]))
    """
    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        super().__init__(ember.Size() if isinstance(rate, Number) else self.rate.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Exponential, batch_shape, ("rate",), _instance)

    @property
    def mean(self):
        return self.rate.reciprocal()

    @property
    def mode(self):
        return ember.zeros_like(self.rate)

    @property
    def stddev(self):
        return self.rate.reciprocal()

    @property
    def variance(self):
        return self.rate.pow(-2)

    def rsample(self, sample_shape=ember.Size()):
        shape = self._extended_shape(sample_shape)
        u = ember.empty(shape, dtype=self.rate.dtype, device=self.rate.device).exponential_()
        return u / self.rate

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self.rate.log() - self.rate * value

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 1 - ember.exp(-self.rate * value)

    def icdf(self, value):
        return -(-value).log1p() / self.rate

    def entropy(self):
        return 1.0 - self.rate.log()
