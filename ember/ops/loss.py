"""Loss functions. cross_entropy and nll_loss are single fused nodes (stable log-softmax, weights, ignore_index,
label smoothing, any number of trailing dims); the others are compositions of ember ops."""
import warnings

from .. import dtypes as _dt
from ..autograd import Node, _mode
from ..tensor import Tensor, apply
from . import elementwise as E
from .activation import pairwise_distance

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "hinge_embedding_loss",
           "margin_ranking_loss", "triplet_margin_loss", "soft_margin_loss", "cosine_embedding_loss",
           "poisson_nll_loss", "gaussian_nll_loss"]

_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(reduction, op):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: {reduction} is not a valid value for reduction (expected 'none', 'mean' or 'sum')")


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _flat_classes(xp, a):
    """(N, C, d1, ...) -> (N*d1*..., C); (C,) -> (1, C)."""
    if a.ndim == 1:
        return a[None]
    if a.ndim == 2:
        return a
    return xp.moveaxis(a, 1, -1).reshape(-1, a.shape[1])


def _unflat(xp, a, shape):
    """The inverse of _flat_classes for a tensor of shape `shape`."""
    if len(shape) == 1:
        return a[0]
    if len(shape) == 2:
        return a
    return xp.moveaxis(a.reshape((shape[0],) + tuple(shape[2:]) + (shape[1],)), -1, 1)


class NllLoss(Node):
    """-(A * logp).sum(classes), reduced; A holds the per-class target weights of each element.

    From logits (cross_entropy) logp = log_softmax(x) and dL/dx = -(A - p * A.sum) * scale; from log-probabilities
    (nll_loss) logp = x and dL/dx = -A * scale.
    """

    saves = (0,)

    def __init__(self, from_logits, reduction):
        self.from_logits, self.reduction = from_logits, reduction

    def forward(self, xp, x, target_weights, denom):
        self.shape, self.A, self.denom = x.shape, target_weights, denom
        flat = _flat_classes(xp, x)
        if self.from_logits:
            z = flat - flat.max(axis=1, keepdims=True)
            lse = xp.log(xp.exp(z).sum(axis=1, keepdims=True))
            logp = z - lse
            self.p = xp.exp(logp)
        else:
            logp = flat
        self.logp = logp
        per = -(target_weights * logp).sum(axis=1)
        if self.reduction == "none":
            return per.reshape(self.element_shape()) if x.ndim != 1 else per[0]
        total = per.sum()
        return total / denom if self.reduction == "mean" else total

    def element_shape(self):
        s = self.shape
        return (s[0],) + tuple(s[2:]) if len(s) > 1 else ()

    def backward(self, g):
        xp = g.device.xp
        A = self.A
        if self.reduction == "none":
            scale = g.reshape(-1, 1)
        else:
            scale = g / self.denom if self.reduction == "mean" else g
        if self.from_logits:
            if _mode.enabled:  # double backward: softmax must be part of the graph
                from .activation import softmax
                p = softmax(_to_flat(self.inputs[0]), 1)
            else:
                p = Tensor._wrap(self.p)
            grad_flat = (p * Tensor._wrap(A.sum(axis=1, keepdims=True)) - Tensor._wrap(A)) * scale
        else:
            grad_flat = Tensor._wrap(-A) * scale
        gx = _from_flat(grad_flat, self.shape)
        return (gx, None, None)


def _to_flat(x):
    if x.data.ndim == 1:
        return x.unsqueeze(0)
    if x.data.ndim == 2:
        return x
    return x.movedim(1, -1).reshape(-1, x.shape[1])


def _from_flat(t, shape):
    if len(shape) == 1:
        return t[0]
    if len(shape) == 2:
        return t
    return t.reshape((shape[0],) + tuple(shape[2:]) + (shape[1],)).movedim(-1, 1)


def _class_targets(input, target, weight, ignore_index, label_smoothing, op):
    """Build A (per-element class weights) and the 'mean' denominator for class-index or probability targets."""
    xp = input.device.xp
    shape = tuple(input.shape)
    C = shape[1] if len(shape) > 1 else shape[0]
    w = None
    if weight is not None:
        if tuple(weight.shape) != (C,):
            raise RuntimeError(f"{op}: weight tensor should be defined either for all {C} classes or no classes but "
                               f"got weight tensor of shape: {tuple(weight.shape)}")
        w = weight.data.astype(input.data.dtype, copy=False)
    if target.data.dtype.kind in "iu":
        expected = (shape[0],) + shape[2:] if len(shape) > 1 else ()
        if tuple(target.shape) != expected:
            raise ValueError(f"{op}: expected target of shape {expected} for input of shape {shape}, got "
                             f"{tuple(target.shape)}")
        t = target.data.reshape(-1)
        keep = t != ignore_index
        t_safe = xp.where(keep, t, 0)
        if keep.any() and (t_safe.min() < 0 or t_safe.max() >= C):
            raise IndexError(f"{op}: target {int(t_safe.max() if t_safe.max() >= C else t_safe.min())} is out of "
                             f"bounds for {C} classes")
        n = t.shape[0]
        A = xp.zeros((n, C), dtype=input.data.dtype)
        wy = w[t_safe] if w is not None else xp.ones(n, dtype=input.data.dtype)
        wy = wy * keep
        A[xp.arange(n), t_safe] = wy * (1.0 - label_smoothing)
        if label_smoothing:
            smooth = (w if w is not None else xp.ones(C, dtype=input.data.dtype)) * (label_smoothing / C)
            A += keep[:, None] * smooth[None, :]
        denom = wy.sum()
        return A, denom
    if not target.is_floating_point():
        raise RuntimeError(f"{op}: expected class indices (int64) or class probabilities (float), got {target.dtype}")
    if tuple(target.shape) != shape:
        raise ValueError(f"{op}: probability targets must have the input's shape {shape}, got {tuple(target.shape)}")
    P = _flat_classes(xp, target.data.astype(input.data.dtype, copy=False))
    if label_smoothing:
        P = P * (1.0 - label_smoothing) + label_smoothing / C
    A = P * w[None, :] if w is not None else P
    n = P.shape[0]
    return A, n


def _class_loss(input, target, weight, ignore_index, reduction, label_smoothing, from_logits, op):
    _check_reduction(reduction, op)
    if not isinstance(input, Tensor) or not input.is_floating_point():
        raise TypeError(f"{op}: expected a floating-point input tensor")
    if input.data.ndim == 0:
        raise ValueError(f"{op}: input must have at least one dimension (classes), got a 0-dim tensor")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    A, denom = _class_targets(input, target, weight, ignore_index, label_smoothing, op)
    out = apply(NllLoss(from_logits, reduction), input, A, denom)
    if target.requires_grad and target.is_floating_point():  # soft targets can be learned too
        logp = _to_flat(input).log_softmax(1) if from_logits else _to_flat(input)
        extra = -(logp.detach() * (1.0 - label_smoothing))
        if weight is not None:
            extra = extra * weight.detach()
        extra = (_to_flat(target) * extra).sum(1)
        extra = extra.reshape(out.shape) if reduction == "none" else extra.sum() / (denom if reduction == "mean"
                                                                                   else 1)
        out = out + (extra - extra.detach())
    return out


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    """Cross entropy of logits (N, C, d1, ...) against class indices (N, d1, ...) or class probabilities."""
    return _class_loss(input, target, weight, ignore_index, reduction, label_smoothing, True, "cross_entropy")


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of log-probabilities (N, C, d1, ...) at class indices (N, d1, ...)."""
    if target.data.dtype.kind not in "iu":
        raise RuntimeError(f"nll_loss: expected target of integer class indices, got {target.dtype}")
    return _class_loss(input, target, weight, ignore_index, reduction, 0.0, False, "nll_loss")


def _pair(input, target, op):
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"{op}: input and target must be tensors")
    if tuple(input.shape) != tuple(target.shape):
        warnings.warn(f"{op}: Using a target size ({tuple(target.shape)}) that is different to the input size "
                      f"({tuple(input.shape)}). This will likely lead to incorrect results due to broadcasting. "
                      "Please ensure they have the same size.", stacklevel=3)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error."""
    _check_reduction(reduction, "mse_loss")
    _pair(input, target, "mse_loss")
    d = input - target
    return _reduce(d * d, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Mean absolute error."""
    _check_reduction(reduction, "l1_loss")
    _pair(input, target, "l1_loss")
    return _reduce(E.abs(input - target), reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Quadratic below beta, linear above (0.5 d^2 / beta or |d| - 0.5 beta)."""
    _check_reduction(reduction, "smooth_l1_loss")
    _pair(input, target, "smooth_l1_loss")
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    d = E.abs(input - target)
    if beta == 0:
        return _reduce(d, reduction)
    return _reduce(E.where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """Quadratic below delta, linear above (0.5 d^2 or delta (|d| - 0.5 delta))."""
    _check_reduction(reduction, "huber_loss")
    _pair(input, target, "huber_loss")
    d = E.abs(input - target)
    return _reduce(E.where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta), reduction)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-(t log x + (1 - t) log(1 - x)) of probabilities x, with the logs clamped at -100 as in PyTorch."""
    _check_reduction(reduction, "binary_cross_entropy")
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"binary_cross_entropy: Using a target size ({tuple(target.shape)}) that is different to "
                         f"the input size ({tuple(input.shape)}) is deprecated. Please ensure they have the same size.")
    if input.numel() and (float(input.data.min()) < 0 or float(input.data.max()) > 1):
        raise RuntimeError("binary_cross_entropy: all elements of input should be between 0 and 1")
    loss = -(target * E.clamp(E.log(input), min=-100) + (1 - target) * E.clamp(E.log(1 - input), min=-100))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    """Binary cross entropy of logits, computed stably; pos_weight scales the positive term."""
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"binary_cross_entropy_with_logits: Target size ({tuple(target.shape)}) must be the same as "
                         f"input size ({tuple(input.shape)})")
    softplus_neg = E.log1p(E.exp(-E.abs(input))) + E.clamp(-input, min=0)  # log(1 + exp(-x))
    if pos_weight is not None:
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * softplus_neg
    else:
        loss = (1 - target) * input + softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL divergence with input as log-probabilities: target * (log target - input); 'batchmean' divides by N."""
    if reduction not in _REDUCTIONS + ("batchmean",):
        raise ValueError(f"kl_div: {reduction} is not a valid value for reduction")
    if log_target:
        loss = E.exp(target) * (target - input)
    else:
        safe = E.where(target > 0, target, 1.0)
        loss = E.where(target > 0, target * (E.log(safe) - input), -target * input * 0)
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.data.ndim else 1)
    return _reduce(loss, reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """x where target is 1, max(0, margin - x) where target is -1."""
    _check_reduction(reduction, "hinge_embedding_loss")
    margin_part = E.where(target != 1, E.clamp(margin - input, min=0), 0.0)
    self_part = E.where(target != -1, input, 0.0)
    return _reduce(margin_part + self_part, reduction)


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """max(0, -target * (input1 - input2) + margin)."""
    _check_reduction(reduction, "margin_ranking_loss")
    return _reduce(E.clamp(-target * (input1 - input2) + margin, min=0), reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    """max(d(a, p) - d(a, n) + margin, 0) with the p-norm distance (swap: use the closer of d(a,n), d(p,n))."""
    _check_reduction(reduction, "triplet_margin_loss")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = E.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce(E.clamp(d_pos - d_neg + margin, min=0), reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-target * input))."""
    _check_reduction(reduction, "soft_margin_loss")
    return _reduce(E.log1p(E.exp(-target * input)), reduction)


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """1 - cos(x1, x2) for target 1, max(0, cos(x1, x2) - margin) for target -1."""
    from .activation import cosine_similarity
    _check_reduction(reduction, "cosine_embedding_loss")
    cos = cosine_similarity(input1, input2, dim=-1, eps=1e-8)
    return _reduce(E.where(target == 1, 1 - cos, E.clamp(cos - margin, min=0)), reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """Poisson negative log-likelihood."""
    _check_reduction(reduction, "poisson_nll_loss")
    loss = E.exp(input) - target * input if log_input else input - target * E.log(input + eps)
    if full:
        import math
        stirling = target * E.log(E.where(target > 1, target, 1.0)) - target + 0.5 * E.log(
            E.where(target > 1, target, 1.0) * (2 * math.pi))
        loss = loss + E.where(target > 1, stirling, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """0.5 (log var + (input - target)^2 / var), var clamped below by eps."""
    import math
    _check_reduction(reduction, "gaussian_nll_loss")
    var = E.clamp(var, min=eps)
    loss = 0.5 * (E.log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)
