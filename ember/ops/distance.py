"""Norms, similarities and distances along a dimension: normalize, cosine_similarity and pairwise_distance
(composites of ember ops)."""
from ._checks import float_tensor
from .registry import export
from .ternary import clamp


@export(ember=False, functional=True)
def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p along dim, eps)."""
    float_tensor(input, "normalize")
    return input / clamp(input.norm(p, dim, keepdim=True), min=eps)


@export(ember=False, functional=True)
def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """Cosine of the angle between x1 and x2 along dim (broadcast), each norm clamped below by eps.

    As in PyTorch the clamp does not stop the gradient through the norm.
    """
    float_tensor(x1, "cosine_similarity")
    float_tensor(x2, "cosine_similarity")
    n1 = _clamp_value(x1.norm(2, dim, keepdim=True), eps)
    n2 = _clamp_value(x2.norm(2, dim, keepdim=True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def _clamp_value(t, lo):
    """t clamped below by lo in value, with the gradient of t itself (PyTorch's clamp_min_ under no_grad)."""
    d = t.detach()
    return t + (clamp(d, min=lo) - d)


@export(ember=False, functional=True)
def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p along the last dimension."""
    float_tensor(x1, "pairwise_distance")
    float_tensor(x2, "pairwise_distance")
    return (x1 - x2 + eps).norm(p, -1, keepdim=keepdim)
