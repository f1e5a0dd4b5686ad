"""LogNormal: exp of a Normal, reparameterisable."""
from __future__ import annotations

from . import constraints
from .normal import Normal
from .transformed_distribution import TransformedDistribution
from .transforms import ExpTransform

__all__ = ["LogNormal"]


class LogNormal(TransformedDistribution):
    """The log-normal distribution: ``exp(X)`` for X normal with mean ``loc`` and standard deviation ``scale``.

    Args:
        loc (float or Tensor): the mean of log(X).
        scale (float or Tensor): the standard deviation of log(X), > 0.
        validate_args (bool, optional): whether to check the arguments; the default when None. Default: None.

    PyTorch:
        ``torch.distributions.LogNormal``; same semantics; draws come from ember's generator.

    Example:
        >>> d = ember.distributions.LogNormal(0.0, 1.0)
        >>> d.log_prob(ember.tensor(1.0)), d.mean
        (tensor(-0.9189), tensor(1.6487))
    """
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        base = Normal(loc, scale, validate_args=validate_args)
        super().__init__(base, ExpTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return super().expand(batch_shape, _instance=self._get_checked_instance(LogNormal, _instance))

    @property
    def loc(self):
        return self.base_dist.loc

    @property
    def scale(self):
        return self.base_dist.scale

    @property
    def mean(self):
        return (self.loc + self.scale.pow(2) / 2).exp()

    @property
    def mode(self):
        return (self.loc - self.scale.square()).exp()

    @property
    def variance(self):
        scale_sq = self.scale.pow(2)
        return scale_sq.expm1() * (2 * self.loc + scale_sq).exp()

    def entropy(self):
        return self.base_dist.entropy() + self.loc
