"""Helpers shared by the distributions: broadcasting parameters, probabilities <-> logits, lazy properties."""
from __future__ import annotations

import math
from numbers import Number

import numpy as np

import ember

__all__ = ["broadcast_all", "clamp_probs", "lazy_property", "logits_to_probs", "probs_to_logits"]


def broadcast_all(*values):
    """Broadcast numbers and tensors to one shape; numbers become tensors of the first tensor's dtype and device
    (the default dtype without one).

    Args:
        *values (Tensor or Number): the parameters.

    Returns:
        tuple of Tensor: the broadcast tensors.

    PyTorch:
        ``torch.distributions.utils.broadcast_all``; same semantics.

    Example:
        >>> from ember.distributions.utils import broadcast_all
        >>> [t.shape for t in broadcast_all(ember.zeros(2), 1.0)]
        [ember.Size([2]), ember.Size([2])]
    """
    if not all(isinstance(v, (ember.Tensor, Number)) for v in values):
        raise ValueError("Input arguments must all be instances of numbers.Number or ember.Tensor.")
    like = next((v for v in values if isinstance(v, ember.Tensor)), None)
    options = dict(dtype=like.dtype, device=like.device) if like is not None else dict(dtype=ember.get_default_dtype())
    return ember.broadcast_tensors(*[v if isinstance(v, ember.Tensor) else ember.tensor(v, **options) for v in values])


def _sum_rightmost(value, dim):
    """Sum out the ``dim`` rightmost dimensions of value."""
    return value.reshape(value.shape[:value.ndim - dim] + (-1,)).sum(-1) if dim > 0 else value


def _extended(sample_shape, *shapes):
    return ember.Size(tuple(ember.Size(sample_shape)) + sum((tuple(s) for s in shapes), ()))


def clamp_probs(probs):
    """Clamp probabilities into [eps, 1 - eps] (eps of their dtype), so that their logarithms stay finite.

    Args:
        probs (Tensor): the probabilities.

    Returns:
        Tensor: the clamped probabilities.

    PyTorch:
        ``torch.distributions.utils.clamp_probs``; same semantics.

    Example:
        >>> from ember.distributions.utils import clamp_probs
        >>> bool(clamp_probs(ember.tensor([0.0])) > 0)
        True
    """
    eps = ember.finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def logits_to_probs(logits, is_binary=False):
    """Turn logits into probabilities: a sigmoid when binary, else a softmax over the last dimension.

    Args:
        logits (Tensor): the logits.
        is_binary (bool): whether they are Bernoulli logits. Default: False.

    Returns:
        Tensor: the probabilities.

    PyTorch:
        ``torch.distributions.utils.logits_to_probs``; same semantics.

    Example:
        >>> from ember.distributions.utils import logits_to_probs
        >>> logits_to_probs(ember.zeros(2))
        tensor([0.5000, 0.5000])
    """
    return logits.sigmoid() if is_binary else logits.softmax(-1)


def probs_to_logits(probs, is_binary=False):
    """Turn probabilities into logits: log-odds when binary, else their (clamped) logarithms.

    Args:
        probs (Tensor): the probabilities.
        is_binary (bool): whether they are Bernoulli probabilities. Default: False.

    Returns:
        Tensor: the logits.

    PyTorch:
        ``torch.distributions.utils.probs_to_logits``; same semantics.

    Example:
        >>> from ember.distributions.utils import probs_to_logits
        >>> probs_to_logits(ember.tensor([0.5]), is_binary=True)
        tensor([0.])
    """
    clamped = clamp_probs(probs)
    return clamped.log() - (-clamped).log1p() if is_binary else clamped.log()


class lazy_property:
    """A property computed on first access (with gradients recorded) and then stored on the instance.

    Args:
        wrapped (callable): the method that computes the value.

    PyTorch:
        ``torch.distributions.utils.lazy_property``; same semantics.

    Example:
        >>> from ember.distributions.utils import lazy_property
        >>> class A:
        ...     @lazy_property
        ...     def x(self):
        ...         return 3
        >>> A().x
        3
    """

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__
        self.__name__ = wrapped.__name__

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return self
        with ember.enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


def _erfinv(y):
    """erfinv(y), differentiable in y: Newton's method without gradients, then one last step with them (its
    derivative in y is 1 / erf'(x), the exact one; higher derivatives are not)."""
    with ember.no_grad():
        a = np.asarray(y.detach().numpy(), dtype=np.float64)
        w = -np.log(np.maximum((1.0 - a) * (1.0 + a), 1e-300))  # Giles' starting point, then Newton
        x = _giles(a, w)
        x = ember.tensor(x, dtype=y.dtype, device=y.device)
        for _ in range(4):
            x = x - (ember.erf(x) - y.detach()) / ((2.0 / math.sqrt(math.pi)) * ember.exp(-x * x))
        x = ember.where(y.detach().abs() >= 1, y.detach().sign() * math.inf, x)
    step = (ember.erf(x) - y) / ((2.0 / math.sqrt(math.pi)) * ember.exp(-x * x))
    return ember.where(y.detach().abs() >= 1, x, x - step)


def _giles(a, w):
    """Giles' single-precision approximation of erfinv (a starting point for Newton's method)."""
    with np.errstate(all="ignore"):
        s = w - 2.5
        p = 2.81022636e-08
        for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503, -0.00417768164,
                  0.246640727, 1.50140941):
            p = c + p * s
        t = np.sqrt(w) - 3.0
        q = -0.000200214257
        for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047,
                  1.00167406, 2.83297682):
            q = c + q * t
        return np.nan_to_num(np.where(w < 5.0, p, q) * a, nan=0.0, posinf=0.0, neginf=0.0)
