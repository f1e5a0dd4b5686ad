"""Norms, similarities and distances along a dimension: normalize, cosine_similarity, pairwise_distance and cdist
(composites of ember ops)."""
import numpy as np

from . import _autocast
from ..autograd.grad_mode import is_grad_enabled
from ._checks import check_tensor, float_tensor, same_device
from .creation import zeros
from .reduce import Norm
from .registry import export
from .shape import broadcast_tensors
from .ternary import clamp, where
from .unary import sqrt
from ..tensor import Tensor


@export(ember=False, functional=True)
def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """Scale input so that its p-norm along dim is 1: ``input / max(||input||_p, eps)``.

    A slice whose norm is below eps is divided by eps instead (a zero slice stays zero).

    Args:
        input (Tensor): a floating-point tensor.
        p (float): the exponent of the norm. Default: 2.0.
        dim (int or tuple of ints): the dimension(s) along which to take the norm. Default: 1.
        eps (float): the smallest divisor. Default: 1e-12.
        out (Tensor, optional): a tensor of the result's shape and dtype to write the result into (not while
            autograd records input or out). Default: None.

    Returns:
        Tensor: of input's shape and dtype (``out`` where given).

    PyTorch:
        ``torch.nn.functional.normalize``; same semantics, except that an ``out`` of another shape raises rather
        than being resized.

    Example:
        >>> F.normalize(ember.tensor([[3.0, 4.0], [0.0, 0.0]]))
        tensor([[0.6000, 0.8000],
                [0.0000, 0.0000]])
    """
    float_tensor(input, "normalize")
    if out is not None:
        if is_grad_enabled() and (input.requires_grad or out.requires_grad):
            raise RuntimeError("normalize(): functions with out=... arguments don't support automatic "
                               "differentiation, but one of the arguments requires grad.")
        if tuple(out.shape) != tuple(input.shape) or out.dtype is not input.dtype:
            raise RuntimeError(f"normalize(): out has shape {tuple(out.shape)} and dtype {out.dtype}; the result "
                               f"has shape {tuple(input.shape)} and dtype {input.dtype}")
    result = input / clamp(input.norm(p, dim, keepdim=True), min=eps)
    return result if out is None else out.copy_(result)


@export(ember=False, functional=True)
def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """The cosine of the angle between x1 and x2 along dim: ``sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps))``.

    Each norm is clamped below by eps in value only: as in PyTorch the clamp does not stop the gradient through the
    norm.

    Args:
        x1 (Tensor): a floating-point tensor.
        x2 (Tensor): a floating-point tensor whose shape broadcasts with x1's.
        dim (int): the dimension of the vectors. Default: 1.
        eps (float): the smallest norm. Default: 1e-08.

    Returns:
        Tensor: of the broadcast shape without dim.

    Shape:
        - x1, x2: (*, D, *), D at dim.
        - Output: (*, *), the broadcast shape without dim.

    PyTorch:
        ``torch.nn.functional.cosine_similarity``; same semantics (x1 and x2 broadcast first: a (D,) x2 works with
        an (N, D) x1), except that there is no ``ember.cosine_similarity`` (``torch.cosine_similarity``).

    Example:
        >>> F.cosine_similarity(ember.tensor([[1.0, 0.0], [1.0, 1.0]]), ember.tensor([[0.0, 1.0], [2.0, 2.0]]))
        tensor([0.0000, 1.0000])
    """
    float_tensor(x1, "cosine_similarity")
    float_tensor(x2, "cosine_similarity")
    if x1.shape != x2.shape:
        x1, x2 = broadcast_tensors(x1, x2)
    n1 = _clamp_value(x1.norm(2, dim, keepdim=True), eps)
    n2 = _clamp_value(x2.norm(2, dim, keepdim=True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def _clamp_value(t, lo):
    """t clamped below by lo in value, with the gradient of t itself (PyTorch's clamp_min_ under no_grad)."""
    d = t.detach()
    return t + (clamp(d, min=lo) - d)


@export(ember=False, functional=True)
def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """The p-norm distance ``||x1 - x2 + eps||_p`` between the vectors of x1 and x2 along the last dimension.

    Args:
        x1 (Tensor): a floating-point tensor.
        x2 (Tensor): a floating-point tensor whose shape broadcasts with x1's.
        p (float): the exponent of the norm. Default: 2.0.
        eps (float): added to the differences, so that the norm's gradient is defined at 0. Default: 1e-06.
        keepdim (bool): keep the last dimension, with size 1. Default: False.

    Returns:
        Tensor: of the broadcast shape without (or, with keepdim, with size 1 in) the last dimension.

    Shape:
        - x1, x2: (N, D) or (D,).
        - Output: (N,) or (), or (N, 1) and (1,) with keepdim.

    PyTorch:
        ``torch.nn.functional.pairwise_distance``; same semantics, except that integer tensors raise (PyTorch
        accepts them) and that there is no ``ember.pairwise_distance`` (``torch.pairwise_distance``).

    Example:
        >>> F.pairwise_distance(ember.tensor([[0.0, 0.0], [1.0, 1.0]]), ember.tensor([[3.0, 4.0], [1.0, 1.0]]))
        tensor([5.0000e+00, 1.4142e-06])
    """
    float_tensor(x1, "pairwise_distance")
    float_tensor(x2, "pairwise_distance")
    return (x1 - x2 + eps).norm(p, -1, keepdim=keepdim)


_CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")


def _check_cdist(x1, x2, p, compute_mode):
    op = "cdist"
    for name, t, pos in (("X1", x1, 0), ("X2", x2, 1)):
        check_tensor(t, op, name.lower(), pos)
        if t._data.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {t._data.ndim}D (shape "
                               f"{tuple(t.shape)})")
        if t._data.dtype.kind not in "fV":
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: {t.dtype}")
    s1, s2 = tuple(x1._data.shape), tuple(x2._data.shape)
    if s1[-1] != s2[-1]:
        raise RuntimeError(f"cdist: X1 and X2 must have the same number of columns. X1: {s1[-1]} X2: {s2[-1]} "
                           f"(shapes {s1} and {s2})")
    if x1._data.dtype != x2._data.dtype:
        raise RuntimeError(f"cdist: X1 and X2 must have the same dtype, got {x1.dtype} and {x2.dtype}")
    same_device(x1, x2, op)
    try:
        batch = np.broadcast_shapes(s1[:-2], s2[:-2])
    except ValueError:
        raise RuntimeError(f"cdist: the batch dimensions of X1 {s1} and X2 {s2} do not broadcast") from None
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise TypeError(f"cdist(): argument 'p' must be a number, not {type(p).__name__}")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got p={p}")
    if compute_mode not in _CDIST_MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    return tuple(batch) + (s1[-2], s2[-2])


def _euclidean_mm(x1, x2):
    """Euclidean distances from ||x1||^2 + ||x2||^2 - 2 x1 x2^T (one matmul; PyTorch's "mm" mode), clamped at 0; the
    gradient is 0 where the distance is 0 (PyTorch's subgradient)."""
    sq = (x1 * x1).sum(-1, keepdim=True) + (x2 * x2).sum(-1, keepdim=True).mT - 2 * (x1 @ x2.mT)
    pos = sq > 0
    return where(pos, sqrt(where(pos, sq, 1.0)), 0.0)


@export(Norm, ember=True)
def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """The p-norm distance between every row of x1 and every row of x2 (batched; the batch dimensions broadcast).

    For p = 2 the distances come from a matrix product, ``||a||^2 + ||b||^2 - 2 a.b`` (faster, less exact for close
    points), when compute_mode is ``"use_mm_for_euclid_dist"``, or ``"use_mm_for_euclid_dist_if_necessary"`` and
    P > 25 or R > 25; ``"donot_use_mm_for_euclid_dist"`` never uses it. Under autocast it runs in float32.

    Args:
        x1 (Tensor): a floating-point tensor of shape (*, P, M).
        x2 (Tensor): a tensor of x1's dtype, of shape (*, R, M).
        p (float): the exponent of the norm, >= 0 (inf: the largest difference). Default: 2.0.
        compute_mode (str): when p = 2 uses the matrix product (above). Default:
            ``"use_mm_for_euclid_dist_if_necessary"``.

    Returns:
        Tensor: the distances, of shape (*, P, R) with * the broadcast batch shape.

    Shape:
        - x1: (*, P, M).
        - x2: (*, R, M).
        - Output: (*, P, R).

    PyTorch:
        ``torch.cdist``; same semantics.

    Example:
        >>> ember.cdist(ember.tensor([[0.0, 0.0], [1.0, 1.0]]), ember.tensor([[3.0, 4.0], [1.0, 0.0]]))
        tensor([[5.0000, 1.0000],
                [3.6056, 1.0000]])
        >>> ember.cdist(ember.ones(5, 2, 3), ember.ones(4, 3)).shape
        ember.Size([5, 2, 4])
    """
    if _autocast.active:  # PyTorch's autocast runs cdist in float32
        x1, x2 = _autocast.to_float32(x1, x2)
    shape = _check_cdist(x1, x2, p, compute_mode)
    p = float(p)
    if x1._data.shape[-1] == 0:
        return zeros(shape, dtype=x1.dtype, device=x1.device)
    if p == 2 and (compute_mode == "use_mm_for_euclid_dist" or (compute_mode == _CDIST_MODES[0] and
                                                                  (shape[-2] > 25 or shape[-1] > 25))):
        return _euclidean_mm(x1, x2)
    return (x1.unsqueeze(-2) - x2.unsqueeze(-3)).norm(p, -1)


@export(Norm, ember=True, functional=True)
def pdist(input, p=2.0):
    """The p-norm distances between every pair of rows of ``input``: row i against rows i+1, i+2, ... in order,
    the upper triangle of ``cdist(input, input)`` without its diagonal.

    Args:
        input (Tensor): a 2-D (N, M) floating-point tensor.
        p (float): the norm's exponent, >= 0 (0 counts the differing elements, inf takes the largest). Default: 2.0.

    Returns:
        Tensor: the N * (N - 1) / 2 distances.

    PyTorch:
        ``torch.nn.functional.pdist`` and ``torch.pdist``; same values. Gradients as ``Tensor.norm``'s: with p = 0
        none (PyTorch's pdist: zeros), with p = inf tied largest differences share it (PyTorch's pdist gives each
        the whole).

    Example:
        >>> F.pdist(ember.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]]))
        tensor([5.0000, 1.0000, 4.2426])
    """
    float_tensor(input, "pdist")
    if input.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.dim()}D")
    if not p >= 0:
        raise RuntimeError("pdist only supports non-negative p values")
    rows, others = np.triu_indices(input.shape[0], 1)
    return (input[Tensor._wrap(rows)] - input[Tensor._wrap(others)]).norm(p, dim=1)
