"""One-hot categorical distribution (a Categorical whose draws are one-hot vectors), and its straight-through form."""
from __future__ import annotations

import ember
import ember.nn.functional as F

from . import constraints
from .categorical import Categorical
from .distribution import Distribution

__all__ = ["OneHotCategorical", "OneHotCategoricalStraightThrough"]


class OneHotCategorical(Distribution):
    """The categorical distribution with one-hot vectors of length K as values (event shape ``(K,)``).

    Args:
        probs (Tensor, optional): the event probabilities (or weights), shape ``batch_shape + (K,)``. Default: None.
        logits (Tensor, optional): the unnormalised log-probabilities, shape ``batch_shape + (K,)``. Default: None.
        validate_args (bool, optional): whether to check the arguments; the default when None. Default: None.

    PyTorch:
        ``torch.distributions.OneHotCategorical``; same semantics; draws come from ember's generator.

    Example:
        >>> d = ember.distributions.OneHotCategorical(probs=ember.tensor([0.2, 0.8]))
        >>> d.mode, d.sample((3,)).shape
        (tensor([0., 1.]), ember.Size([3, 2]))
        >>> d.log_prob(ember.tensor([0.0, 1.0]))
        tensor(-0.2231)
    """
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(constraints.real, 1)}
    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits)
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:],
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(OneHotCategorical, _instance)
        new._categorical = self._categorical.expand(batch_shape)
        Distribution.__init__(new, ember.Size(batch_shape), self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def _param(self):
        return self._categorical._param

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def mean(self):
        return self._categorical.probs

    @property
    def mode(self):
        probs = self._categorical.probs
        return F.one_hot(probs.argmax(-1), num_classes=probs.shape[-1]).type_as(probs)

    @property
    def variance(self):
        return self._categorical.probs * (1 - self._categorical.probs)

    @property
    def param_shape(self):
        return self._categorical.param_shape

    def sample(self, sample_shape=ember.Size()):
        probs = self._categorical.probs
        indices = self._categorical.sample(sample_shape)
        return F.one_hot(indices, self._categorical._num_events).type_as(probs)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self._categorical.log_prob(value.max(-1)[1])

    def entropy(self):
        return self._categorical.entropy()

    def enumerate_support(self, expand=True):
        n = self.event_shape[0]
        values = ember.eye(n, dtype=self._param.dtype, device=self._param.device)
        values = values.reshape((n,) + (1,) * len(self.batch_shape) + (n,))
        return values.expand((n,) + tuple(self.batch_shape) + (n,)) if expand else values


class OneHotCategoricalStraightThrough(OneHotCategorical):
    """A OneHotCategorical whose ``rsample`` passes gradients straight through: ``sample + probs - probs.detach()``.

    Args:
        probs (Tensor, optional): the event probabilities (or weights), shape ``batch_shape + (K,)``. Default: None.
        logits (Tensor, optional): the unnormalised log-probabilities, shape ``batch_shape + (K,)``. Default: None.
        validate_args (bool, optional): whether to check the arguments; the default when None. Default: None.

    PyTorch:
        ``torch.distributions.OneHotCategoricalStraightThrough``; same semantics.

    Example:
        >>> p = ember.tensor([0.2, 0.8], requires_grad=True)
        >>> s = ember.distributions.OneHotCategoricalStraightThrough(probs=p).rsample()
        >>> s.requires_grad, float(s.sum())
        (True, 1.0)
    """
    has_rsample = True

    def rsample(self, sample_shape=ember.Size()):
        samples = self.sample(sample_shape)
        probs = self._categorical.probs
        return samples + (probs - probs.detach())
