"""Loss functions. cross_entropy and nll_loss are one fused node (stable log-softmax, class weights, ignore_index,
label smoothing, class-index or probability targets, any number of trailing dims); binary_cross_entropy has its own
node (PyTorch's clamped logs and gradient); the others are compositions of ember ops. Under autocast, the losses of
PyTorch's float32 list cast their low-precision tensors to float32 first (_autocast.to_float32); bfloat16
cross_entropy/nll_loss compute in float32."""
import math
import warnings

import numpy as np

from ..autograd import Node
from ..autograd.graph import apply
from ..tensor import Tensor
from . import _autocast
from ._checks import check_tensor
from ._promotion import promote
from .activation import log_softmax, logsigmoid
from .arith import minimum
from .decompose import vjp_backward
from .distance import pairwise_distance
from .meta import TensorMeta, broadcast
from .registry import export, register
from .ternary import clamp, where
from .unary import abs as _abs, exp, log, log1p


_REDUCTIONS = ("none", "mean", "sum")


# the Args text of the deprecated size_average/reduce and of reduction, shared by the losses that take them (as
# PyTorch's reduction_doc); a docstring names it {reduction_args}
_REDUCTION_ARGS = """\
        size_average (bool, optional): deprecated; with ``reduce``, picks the reduction (with a warning). Default: None.
        reduce (bool, optional): deprecated; see ``size_average``. Default: None.
        reduction (str): ``'none'`` (one loss per element), ``'mean'`` or ``'sum'``; another value raises ValueError.
            Default: ``'mean'``.""".lstrip()


def _with_reduction_args(fn):
    """fn, its docstring's {reduction_args} replaced by the shared text."""
    fn.__doc__ = fn.__doc__.replace("{reduction_args}", _REDUCTION_ARGS)
    return fn

def _reduction(reduction, op, size_average=None, reduce=None, extra=()):
    """The reduction string (from the deprecated size_average/reduce flags when given, with PyTorch's warning),
    checked."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        legacy = "none" if not reduce else ("mean" if size_average else "sum")
        warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{legacy}' instead.",
                      UserWarning, stacklevel=3)
        return legacy
    if reduction not in _REDUCTIONS + extra:
        valid = ", ".join(repr(r) for r in _REDUCTIONS + extra)
        raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction (expected one of {valid})")
    return reduction


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _tensors(op, **named):
    for name, t in named.items():
        check_tensor(t, op, name)


# --- cross_entropy and nll_loss -------------------------------------------------------------------------------

def _flat_classes(xp, a):
    """(N, C, d1, ...) -> (N*d1*..., C); (C,) -> (1, C)."""
    if a.ndim == 1:
        return a[None]
    if a.ndim == 2:
        return a
    return xp.moveaxis(a, 1, -1).reshape(-1, a.shape[1])


def _unflat(xp, a, shape):
    """The inverse of _flat_classes for an array of shape `shape`."""
    if len(shape) == 1:
        return a[0]
    if len(shape) == 2:
        return a
    return xp.moveaxis(a.reshape((shape[0],) + tuple(shape[2:]) + (shape[1],)), -1, 1)


_FAR = 2.0 ** -16  # a row whose sum of exp(x - global max) is below this has its maximum > 11 below the global one


def _log_softmax_rows(xp, flat):
    """log_softmax over axis 1 of a 2-D array, shifted by the array's maximum rather than each row's (a reduction
    over contiguous memory, much faster in NumPy than one per short row). Rows far below the maximum (whose
    log-sum-exp would lose absolute precision, or underflow) are redone with their own maximum."""
    if flat.size == 0:
        return flat - xp.log(xp.exp(flat).sum(axis=1, keepdims=True))
    m = flat.max()
    if not xp.isfinite(m):
        m = xp.zeros((), flat.dtype)
    z = xp.subtract(flat, m)
    s = xp.einsum("ij->i", xp.exp(z))[:, None]
    rows = (s < _FAR)[:, 0]
    redo = bool(rows.any())
    if redo:
        sub = flat[rows]
        sub -= sub.max(axis=1, keepdims=True)
        sub -= xp.log(xp.exp(sub).sum(axis=1, keepdims=True))
        s[rows] = 1
    z -= xp.log(s, out=s)
    if redo:
        z[rows] = sub
    return z


def _to_flat(x):
    if x._data.ndim == 1:
        return x.unsqueeze(0)
    if x._data.ndim == 2:
        return x
    return x.movedim(1, -1).reshape(-1, x.shape[1])


def _element_shape(shape):
    """The shape of the per-element losses of an input of shape (N, C, d1, ...) or (C,): (N, d1, ...) or ()."""
    return (shape[0],) + tuple(shape[2:]) if len(shape) > 1 else ()


@register
class NllLoss(Node):
    """-(A * logp).sum(classes), reduced: logp = log_softmax(x) (from_logits, cross_entropy) or x (nll_loss).

    A holds each element's per-class target weights. With class-index targets it is never built in forward:
    A[i, t_i] = coef * wy_i (wy = class weight of the target, 0 where ignored) plus smooth_i * w_c (label smoothing),
    and only logp[i, t_i] is read, so -inf log-probabilities of other classes do not turn the loss into NaN.
    With probability targets A is input 1 (an ember tensor, so soft targets get gradients too). With class-index
    targets (``targets`` set: ignore_index, label_smoothing, op) the inputs are (x, target[, class weights]) and
    the forward derives everything that depends on them (so a compiled graph reads each call's targets).
    The gradient is NllLossGrad, which gets what the forward derived as one tuple (``saved``).
    """

    saves = None

    def __init__(self, from_logits, reduction, denom=None, targets=None):
        self.from_logits, self.reduction, self.denom = from_logits, reduction, denom
        self.targets = targets  # (ignore_index, label_smoothing, op) for class-index targets, else None

    def infer(self, x, A=None, w=None):
        return TensorMeta(_element_shape(x.shape) if self.reduction == "none" else (), x.dtype)

    def forward(self, xp, x, A=None, w=None):
        self.shape = x.shape
        flat = _flat_classes(xp, x)
        if self.from_logits:
            logp = _log_softmax_rows(xp, flat)
        else:
            logp = flat
        index, denom = None, self.denom
        if self.targets is None:
            per = -(A * logp).sum(axis=1)
        else:
            index, denom = _target_weights(xp, A, w, flat.shape[1], x.dtype, self.targets, self.reduction, x.shape)
            t, wy, keep, coef, smooth, w = index
            per = logp[xp.arange(t.shape[0]), t] * (wy * -coef)
            if smooth is not None:
                per -= smooth * (logp if w is None else logp * w).sum(axis=1)
            if keep is not None:
                per[~keep] = 0  # ignored elements add nothing, even where their log-probabilities are -inf
        self.saved = (denom, index, logp)
        if self.reduction == "none":
            return per.reshape(_element_shape(self.shape))
        total = per.sum()
        return total / denom if self.reduction == "mean" else total

    def backward(self, g):
        if self.targets is not None:
            node = NllLossGrad(self.from_logits, self.reduction, self.saved, self.needs_input_grad[:1])
            return (apply(node, g, self.inputs[0]),) + (None,) * (len(self.inputs) - 1)
        node = NllLossGrad(self.from_logits, self.reduction, self.saved, self.needs_input_grad)
        return apply(node, g, self.inputs[0], self.inputs[1])


def _target_weights(xp, target, w, C, dtype, targets, reduction, shape):
    """For class-index targets: (t, wy, keep, coef, smooth, w) as NllLoss reads them (see its docstring) and the
    'mean' denominator. Raises PyTorch's IndexError for a target outside the classes."""
    ignore_index, label_smoothing, op = targets
    t = target.reshape(-1)
    keep = t != ignore_index
    all_kept = bool(keep.all())
    if not all_kept:
        t = xp.where(keep, t, 0)
    if t.size:
        lo, hi = int(t.min()), int(t.max())
        if lo < 0 or hi >= C:
            raise IndexError(f"{op}: Target {hi if hi >= C else lo} is out of bounds for {C} classes "
                             f"(input shape {tuple(shape)})")
    if w is not None:
        wy = w[t] if all_kept else w[t] * keep
    else:
        wy = xp.ones(t.shape, dtype=dtype) if all_kept else keep.astype(dtype)
    smooth = None
    if label_smoothing:
        smooth = xp.full(t.shape, label_smoothing / C, dtype=dtype) if all_kept else keep * (label_smoothing / C)
        smooth = smooth.astype(dtype, copy=False)
    denom = float(wy.sum()) if reduction == "mean" else 1.0
    return (t, wy, None if all_kept else keep, 1.0 - label_smoothing, smooth, w), denom


@register
class NllLossGrad(Node):
    """The gradient of NllLoss, inputs (g, x) for class-index targets and (g, x, A) for probability targets:
    dL/dx = (softmax(x) * A.sum(1) - A) * scale from logits, -A * scale from log-probabilities, and
    dL/dA = -logp * scale (scale: g, or g / denom for 'mean', per element for 'none'). It reads the forward's
    log-probabilities (logp) and never builds A for class-index targets without label smoothing.

    Its backward, the second derivative, differentiates the loss's decomposition (``_decomposition``, the same loss
    written with ember ops) twice with vjp_backward.
    """

    saves = None

    def __init__(self, from_logits, reduction, saved, need):
        self.from_logits, self.reduction, self.saved, self.need = from_logits, reduction, saved, need
        self.n_outputs = len(need)

    @property
    def denom(self):
        return self.saved[0]

    @property
    def index(self):
        return self.saved[1]

    @property
    def logp(self):
        return self.saved[2]

    def infer(self, g, x, A=None):
        gx = TensorMeta(x.shape, x.dtype) if self.need[0] else None
        if self.n_outputs == 1:
            return gx
        return gx, (TensorMeta(A.shape, A.dtype) if self.need[1] else None)

    def forward(self, xp, g, x, A=None):
        if self.reduction == "none":
            sc = g.reshape(-1, 1)
        elif self.reduction == "mean":
            sc = g / self.denom if self.denom else g * 0  # nothing counted (all ignored): no gradient, as PyTorch
        else:
            sc = g
        shape = x.shape
        if self.n_outputs == 1 and self.index[4] is None and self.from_logits:
            return _unflat(xp, self._index_grad(xp, sc), shape)
        if A is None:
            A = self._dense_A(xp)
        gx = gA = None
        if self.need[0]:
            if self.from_logits:
                gflat = xp.exp(self.logp) * A.sum(axis=1, keepdims=True)
                gflat -= A
                gflat *= sc
            else:
                gflat = -A * sc
            gx = _unflat(xp, gflat, shape)
        if self.n_outputs == 1:
            return gx
        if self.need[1]:
            gA = -self.logp * sc
        return gx, gA

    def _dense_A(self, xp):
        t, wy, keep, coef, smooth, w = self.index
        n, C = self.logp.shape
        A = xp.zeros((n, C), dtype=self.logp.dtype)
        A[xp.arange(n), t] = wy * coef
        if smooth is not None:
            A += smooth[:, None] * (w[None, :] if w is not None else 1.0)
        return A

    def _index_grad(self, xp, sc):
        """(softmax * A.sum(1) - A) * scale for class-index targets without smoothing: A has one entry per row,
        a = wy * coef at the target, so this is softmax * a less a at the target, without building A."""
        t, wy, keep, coef, smooth, w = self.index
        a = wy * (coef * sc) if xp.ndim(sc) == 0 else wy * coef * sc.reshape(-1)
        g = xp.exp(self.logp)
        g *= a[:, None]
        g[xp.arange(t.shape[0]), t] -= a
        return g

    def _decomposition(self, x, A=None):
        """The loss written with ember ops (A: the dense target weights, a constant for class-index targets)."""
        if A is None:
            A = Tensor._wrap(self._dense_A(x.device.xp))
        flat = _to_flat(x)
        per = -(A * (log_softmax(flat, 1) if self.from_logits else flat)).sum(1)
        if self.reduction == "none":
            return per.reshape(_element_shape(tuple(x.shape)))
        return per.sum() / self.denom if self.reduction == "mean" else per.sum()

    def backward(self, *grad_grads):
        g, inputs = self.inputs[0], self.inputs[1:]
        found = vjp_backward(self._decomposition, inputs, (g,), grad_grads)  # (x, [A,] g)
        return (found[-1],) + found[:-1]


def _class_weight(weight, C, dtype, op):
    if weight is None:
        return None
    check_tensor(weight, op, "weight")
    if tuple(weight.shape) != (C,):
        raise RuntimeError(f"{op}: weight tensor should be defined either for all {C} classes or no classes but got "
                           f"weight tensor of shape: {tuple(weight.shape)}")
    return weight.to(dtype)


def _index_loss(input, target, w, ignore_index, reduction, label_smoothing, from_logits, op):
    """The NllLoss node for class-index targets (their shape checked here; their values, in the forward)."""
    shape = tuple(input.shape)
    expected = (shape[0],) + shape[2:] if len(shape) > 1 else ()
    tshape = tuple(target.shape)
    if tshape != expected:
        if len(shape) > 1 and len(tshape) >= 1 and tshape[0] != shape[0]:
            raise ValueError(f"{op}: Expected input batch_size ({shape[0]}) to match target batch_size "
                             f"({tshape[0]}) (input shape {shape}, target shape {tshape})")
        raise RuntimeError(f"{op}: Expected target size {expected}, got {tshape} (input shape {shape})")
    node = NllLoss(from_logits, reduction, targets=(ignore_index, label_smoothing, op))
    return apply(node, input, target) if w is None else apply(node, input, target, w.detach())


def _prob_loss(input, target, w, reduction, label_smoothing, op):
    """cross_entropy against class probabilities of the input's shape (differentiable in the target too)."""
    shape = tuple(input.shape)
    if tuple(target.shape) != shape:
        raise RuntimeError(f"{op}: probability targets must have the input's shape {shape}, got "
                           f"{tuple(target.shape)}")
    C = shape[1] if len(shape) > 1 else shape[0]
    A = _to_flat(target.to(input.dtype))
    if label_smoothing:
        A = A * (1.0 - label_smoothing) + label_smoothing / C
    if w is not None:
        A = A * w
    n = A.shape[0]
    return apply(NllLoss(True, reduction, float(n)), input, A)


def _class_loss(input, target, weight, ignore_index, reduction, label_smoothing, from_logits, op):
    _tensors(op, input=input, target=target)
    if not input.is_floating_point():
        raise RuntimeError(f"{op}: expected a floating-point input, got {input.dtype}")
    if input._data.ndim == 0:
        raise ValueError(f"{op}: input must have at least one dimension (classes), got a 0-dim tensor")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if input._data.dtype.kind == "V":  # bfloat16: computed in float32 (as PyTorch's CPU kernels accumulate), the
        # loss rounded to bfloat16; the gradients come back through the casts in bfloat16
        target = target.float() if target._data.dtype.kind == "V" else target
        weight = weight.float() if isinstance(weight, Tensor) and weight._data.dtype.kind == "V" else weight
        return _class_loss(input.float(), target, weight, ignore_index, reduction, label_smoothing, from_logits,
                           op).to(input.dtype)
    shape = tuple(input.shape)
    C = shape[1] if len(shape) > 1 else shape[0]
    w = _class_weight(weight, C, input.dtype, op)
    kind = target._data.dtype.kind
    if kind in "iu":
        return _index_loss(input, target, w, ignore_index, reduction, label_smoothing, from_logits, op)
    if not from_logits or kind not in "fV":
        raise RuntimeError(f"{op}: expected a target of class indices (int64)"
                           f"{' or class probabilities (float)' if from_logits else ''}, got {target.dtype}")
    return _prob_loss(input, target, w, reduction, label_smoothing, op)


@export(NllLoss, ember=False, functional=True)
def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    """Compute the cross entropy between logits and class indices or class probabilities.

    The log-softmax is taken over dimension 1 of ``input`` (dimension 0 for an unbatched (C,) input) and fused with the
    loss, so logits of any size are stable. With class indices, ``'mean'`` divides by the total weight of the targets
    that are not ``ignore_index``.

    Args:
        input (Tensor): the unnormalised logits, floating point.
        target (Tensor): class indices (int64, values in [0, C) or ``ignore_index``) or class probabilities (float, the
            shape of ``input``).
        weight (Tensor, optional): a (C,) weight per class. Default: None.
        size_average (bool, optional): deprecated; with ``reduce``, picks the reduction (with a warning). Default: None.
        ignore_index (int): a target index that contributes neither loss nor gradient (class-index targets).
            Default: -100.
        reduce (bool, optional): deprecated; see ``size_average``. Default: None.
        reduction (str): ``'none'`` (one loss per element), ``'mean'`` or ``'sum'``; another value raises ValueError.
            Default: ``'mean'``.
        label_smoothing (float): in [0, 1]; mixes the target with the uniform distribution by this amount.
            Default: 0.0.

    Returns:
        Tensor: a 0-d tensor, or the elementwise losses when ``reduction='none'``.

    Shape:
        - Input: (N, C), (C,) or (N, C, d1, ..., dK).
        - Target: (N,), () or (N, d1, ..., dK) of indices, or the input's shape of probabilities.
        - Output: () or, with ``reduction='none'``, the target's shape for indices ((N, d1, ...) for probabilities).

    PyTorch:
        ``torch.nn.functional.cross_entropy``; same semantics (bfloat16 inputs are computed in float32).

    Example:
        >>> logits = ember.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
        >>> F.cross_entropy(logits, ember.tensor([0, 2]))
        tensor(0.1672)
        >>> F.cross_entropy(logits, ember.tensor([0, 2]), reduction="none")
        tensor([0.2395, 0.0949])
        >>> F.cross_entropy(logits[:1], ember.tensor([[0.5, 0.5, 0.0]]))
        tensor(1.2395)
    """
    if _autocast.active:  # PyTorch's autocast runs this loss in float32
        input, target, weight = _autocast.to_float32(input, target, weight)
    reduction = _reduction(reduction, "cross_entropy", size_average, reduce)
    return _class_loss(input, target, weight, ignore_index, reduction, label_smoothing, True, "cross_entropy")


@export(NllLoss, ember=False, functional=True)
def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Compute the negative log-likelihood loss: minus the log-probability ``input`` gives each target class.

    ``input`` is expected to hold log-probabilities (from ``log_softmax``); ``'mean'`` divides by the total weight of
    the targets that are not ``ignore_index``.

    Args:
        input (Tensor): log-probabilities, floating point.
        target (Tensor): class indices (int64, values in [0, C) or ``ignore_index``).
        weight (Tensor, optional): a (C,) weight per class. Default: None.
        size_average (bool, optional): deprecated; with ``reduce``, picks the reduction (with a warning). Default: None.
        ignore_index (int): a target index that contributes neither loss nor gradient. Default: -100.
        reduce (bool, optional): deprecated; see ``size_average``. Default: None.
        reduction (str): ``'none'`` (one loss per element), ``'mean'`` or ``'sum'``; another value raises ValueError.
            Default: ``'mean'``.

    Returns:
        Tensor: a 0-d tensor, or the elementwise losses when ``reduction='none'``.

    Shape:
        - Input: (N, C), (C,) or (N, C, d1, ..., dK).
        - Target: (N,), () or (N, d1, ..., dK).
        - Output: () or, with ``reduction='none'``, the target's shape.

    PyTorch:
        ``torch.nn.functional.nll_loss``; same semantics.

    Example:
        >>> F.nll_loss(ember.tensor([[-0.5, -1.0], [-2.0, -0.1]]), ember.tensor([0, 1]))
        tensor(0.3000)
    """
    if _autocast.active:  # PyTorch's autocast runs this loss in float32
        input, target, weight = _autocast.to_float32(input, target, weight)
    reduction = _reduction(reduction, "nll_loss", size_average, reduce)
    return _class_loss(input, target, weight, ignore_index, reduction, 0.0, False, "nll_loss")


# --- regression losses ----------------------------------------------------------------------------------------

def _pair(input, target, op):
    _tensors(op, input=input, target=target)
    if tuple(input.shape) != tuple(target.shape):
        warnings.warn(f"{op}: Using a target size ({tuple(target.shape)}) that is different to the input size "
                      f"({tuple(input.shape)}). This will likely lead to incorrect results due to broadcasting. "
                      "Please ensure they have the same size.", stacklevel=3)


def _weighted(loss, weight, reduction, input, op, mean_by_weight):
    """PyTorch's optional elementwise weight (same shape as input) of mse_loss, l1_loss and huber_loss."""
    if weight is None:
        return _reduce(loss, reduction)
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError(f"{op}: Weights and input must have the same size, got weight {tuple(weight.shape)} and "
                         f"input {tuple(input.shape)}")
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


@export(ember=False, functional=True)
@_with_reduction_args
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Compute the mean squared error between ``input`` and ``target``: mean((input - target)^2).

    Args:
        input (Tensor): the prediction, floating point.
        target (Tensor): the target, of ``input``'s shape.
        {reduction_args}
        weight (Tensor, optional): elementwise weights, of ``input``'s shape (else ValueError); ``'mean'``
            then divides by their sum. Default: None.

    Returns:
        Tensor: a 0-d tensor, or the elementwise losses when ``reduction='none'``.

    Shape:
        - Input: (*), any shape.
        - Target: (*), the input's shape (another shape broadcasts, with a warning).
        - Output: (), or (*) with ``reduction='none'``.

    PyTorch:
        ``torch.nn.functional.mse_loss``; same semantics.

    Example:
        >>> F.mse_loss(ember.tensor([0.0, 2.0]), ember.tensor([1.0, 1.0]))
        tensor(1.)
        >>> F.mse_loss(ember.tensor([0.0, 2.0]), ember.tensor([1.0, 1.0]), weight=ember.tensor([1.0, 3.0]))
        tensor(1.)
    """
    if _autocast.active:  # PyTorch's autocast runs this loss in float32
        input, target, weight = _autocast.to_float32(input, target, weight)
    reduction = _reduction(reduction, "mse_loss", size_average, reduce)
    _pair(input, target, "mse_loss")
    d = input - target
    return _weighted(d * d, weight, reduction, input, "mse_loss", True)


@export(ember=False, functional=True)
@_with_reduction_args
def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Compute the mean absolute error between ``input`` and ``target``: mean(|input - target|).

    Args:
        input (Tensor): the prediction, floating point.
        target (Tensor): the target, of ``input``'s shape.
        {reduction_args}
        weight (Tensor, optional): elementwise weights, of ``input``'s shape (else ValueError); ``'mean'``
            then divides by their sum. Default: None.

    Returns:
        Tensor: a 0-d tensor, or the elementwise losses when ``reduction='none'``.

    Shape:
        - Input: (*), any shape.
        - Target: (*), the input's shape (another shape broadcasts, with a warning).
        - Output: (), or (*) with ``reduction='none'``.

    PyTorch:
        ``torch.nn.functional.l1_loss``; same semantics.

    Example:
        >>> F.l1_loss(ember.tensor([0.0, 2.0]), ember.tensor([1.0, 1.0]))
        tensor(1.)
        >>> F.l1_loss(ember.tensor([0.0, 3.0]), ember.tensor([1.0, 1.0]), reduction="none")
        tensor([1., 2.])
    """
    if _autocast.active:  # PyTorch's autocast runs this loss in float32
        input, target, weight = _autocast.to_float32(input, target, weight)
    reduction = _reduction(reduction, "l1_loss", size_average, reduce)
    _pair(input, target, "l1_loss")
    return _weighted(_abs(input - target), weight, reduction, input, "l1_loss", True)


@export(ember=False, functional=True)
@_with_reduction_args
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Compute the smooth L1 loss: 0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta elsewhere (d = input - target).

    Args:
        input (Tensor): the prediction, floating point.
        target (Tensor): the target, of ``input``'s shape.
        {reduction_args}
        beta (float): where the loss turns from quadratic to linear; 0 gives the L1 loss, a negative value raises
            RuntimeError. Default: 1.0.

    Returns:
        Tensor: a 0-d tensor, or the elementwise losses when ``reduction='none'``.

    Shape:
        - Input: (*), any shape.
        - Target: (*), the input's shape (another shape broadcasts, with a warning).
        - Output: (), or (*) with ``reduction='none'``.

    PyTorch:
        ``torch.nn.functional.smooth_l1_loss``; same semantics.

    Example:
        >>> F.smooth_l1_loss(ember.tensor([0.0, 3.0]), ember.tensor([0.5, 0.0]))
        tensor(1.3125)
    """
    if _autocast.active:  # PyTorch's autocast runs this loss in float32
        input, target = _autocast.to_float32(input, target)
    reduction = _reduction(reduction, "smooth_l1_loss", size_average, reduce)
    _pair(input, target, "smooth_l1_loss")
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss does not support negative values for beta (got {beta}).")
    d = _abs(input - target)
    if beta == 0:
        return _reduce(d, reduction)
    return _reduce(where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta), reduction)


@export(ember=False, functional=True)
def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """Compute the Huber loss: 0.5 d^2 where |d| < delta, delta (|d| - 0.5 delta) elsewhere (d = input - target).

    Args:
        input (Tensor): the prediction, floating point.
        target (Tensor): the target, of ``input``'s shape.
        reduction (str): ``'none'`` (one loss per element), ``'mean'`` or ``'sum'``; another value raises ValueError.
            Default: ``'mean'``.
        delta (float): where the loss turns from quadratic to linear; must be positive (else RuntimeError).
            Default: 1.0.
        weight (Tensor, optional): elementwise weights, of ``input``'s shape (else ValueError). Default: None.

    Returns:
        Tensor: a 0-d tensor, or the elementwise losses when ``reduction='none'``.

    Shape:
        - Input: (*), any shape.
        - Target: (*), the input's shape (another shape broadcasts, with a warning).
        - Output: (), or (*) with ``reduction='none'``.

    PyTorch:
        ``torch.nn.functional.huber_loss``; same semantics.

    Example:
        >>> F.huber_loss(ember.tensor([0.0, 3.0]), ember.tensor([0.5, 0.0]), delta=2.0)
        tensor(2.0625)
    """
    if _autocast.active:  # PyTorch's autocast runs this loss in float32
        input, target, weight = _autocast.to_float32(input, target, weight)
    reduction = _reduction(reduction, "huber_loss")
    _pair(input, target, "huber_loss")
    if delta <= 0:
        raise RuntimeError(f"huber_loss does not support non-positive values for delta (got {delta}).")
    d = _abs(input - target)
    loss = where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta)
    return _weighted(loss, weight, reduction, input, "huber_loss", False)


# --- binary classification ------------------------------------------------------------------------------------

@register
class BinaryCrossEntropy(Node):
    """Elementwise -(t log x + (1 - t) log(1 - x)), each log clamped at -100; PyTorch's gradients:
    dx = (x - t) / max(x (1 - x), 1e-12), dt = log(1 - x) - log(x)."""

    @property
    def saves(self):  # the target is read only for the input's gradient
        return (0, 1) if self.needs_input_grad[0] else (0,)

    def infer(self, x, t):
        return broadcast(x, t)

    def forward(self, xp, x, t):
        with np.errstate(divide="ignore"):  # log(0) = -inf is expected: it is clamped
            return (t - 1) * xp.maximum(xp.log1p(-x), -100) - t * xp.maximum(xp.log(x), -100)

    def backward(self, g):
        x, t = self.inputs
        nx, nt = self.needs_input_grad
        gx = g * (x - t) / clamp(x * (1 - x), min=1e-12) if nx else None
        gt = g * (log1p(-x) - log(x)) if nt else None
        return (gx, gt)


@export(BinaryCrossEntropy, ember=False, functional=True)
@_with_reduction_args
def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Compute the binary cross entropy of probabilities: -(t log x + (1 - t) log(1 - x)).

    Each log is clamped at -100, so a probability of exactly 0 or 1 gives a finite loss. Values of ``input`` or
    ``target`` outside [0, 1] raise RuntimeError; a ``target`` of another shape raises ValueError.

    Args:
        input (Tensor): probabilities in [0, 1].
        target (Tensor): targets in [0, 1], of ``input``'s shape.
        weight (Tensor, optional): weights that broadcast against the elementwise loss. Default: None.
        {reduction_args}

    Returns:
        Tensor: a 0-d tensor, or the elementwise losses when ``reduction='none'``.

    Shape:
        - Input: (*), any shape.
        - Target: (*), the input's shape.
        - Output: (), or (*) with ``reduction='none'``.

    PyTorch:
        ``torch.nn.functional.binary_cross_entropy``; same semantics.

    Example:
        >>> F.binary_cross_entropy(ember.tensor([0.8, 0.2]), ember.tensor([1.0, 0.0]))
        tensor(0.2231)
    """
    if _autocast.active:  # PyTorch's autocast runs this loss in float32
        input, target, weight = _autocast.to_float32(input, target, weight)
    reduction = _reduction(reduction, "binary_cross_entropy", size_average, reduce)
    _tensors("binary_cross_entropy", input=input, target=target)
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"binary_cross_entropy: Using a target size ({tuple(target.shape)}) that is different to "
                         f"the input size ({tuple(input.shape)}) is deprecated. Please ensure they have the same size.")
    if input.numel():
        if not (float(input._data.min()) >= 0 and float(input._data.max()) <= 1):
            raise RuntimeError("binary_cross_entropy: all elements of input should be between 0 and 1")
        if not (float(target._data.min()) >= 0 and float(target._data.max()) <= 1):
            raise RuntimeError("binary_cross_entropy: all elements of target should be between 0 and 1")
    input, target = promote(input, target, "binary_cross_entropy")
    loss = apply(BinaryCrossEntropy(), input, target)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


@export(ember=False, functional=True)
@_with_reduction_args
def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    """Compute the binary cross entropy of logits: BCE(sigmoid(x), t), stable for any x.

    The loss per element is (1 - t) x - (1 + (pos_weight - 1) t) log(sigmoid(x)); a ``target`` of another shape raises
    ValueError.

    Args:
        input (Tensor): the logits.
        target (Tensor): targets in [0, 1], of ``input``'s shape.
        weight (Tensor, optional): weights that broadcast against the elementwise loss. Default: None.
        {reduction_args}
        pos_weight (Tensor, optional): a weight of the positive term, broadcast along the last dimension (one per
            class). Default: None.

    Returns:
        Tensor: a 0-d tensor, or the elementwise losses when ``reduction='none'``.

    Shape:
        - Input: (*), any shape.
        - Target: (*), the input's shape.
        - Output: (), or (*) with ``reduction='none'``.

    PyTorch:
        ``torch.nn.functional.binary_cross_entropy_with_logits``; same semantics.

    Example:
        >>> F.binary_cross_entropy_with_logits(ember.tensor([2.0, -1.0]), ember.tensor([1.0, 0.0]))
        tensor(0.2201)
        >>> F.binary_cross_entropy_with_logits(ember.tensor([2.0, -1.0]), ember.tensor([1.0, 0.0]),
        ...                                    pos_weight=ember.tensor([3.0]))
        tensor(0.3470)
    """
    if _autocast.active:  # PyTorch's autocast runs this loss in float32
        input, target, weight, pos_weight = _autocast.to_float32(input, target, weight, pos_weight)
    op = "binary_cross_entropy_with_logits"
    reduction = _reduction(reduction, op, size_average, reduce)
    _tensors(op, input=input, target=target)
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{op}: Target size ({tuple(target.shape)}) must be the same as input size "
                         f"({tuple(input.shape)})")
    log_sig = logsigmoid(input)
    if pos_weight is not None:
        loss = (1 - target) * input - (1 + (pos_weight - 1) * target) * log_sig
    else:
        loss = (1 - target) * input - log_sig
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


@export(ember=False, functional=True)
def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Compute the Kullback-Leibler divergence of ``target`` from ``input``: target * (log(target) - input).

    ``input`` holds log-probabilities; the terms where ``target`` is 0 are 0. ``'batchmean'`` divides the sum by the
    batch size (the KL divergence's definition); the default ``'mean'`` divides by the number of elements and warns.

    Args:
        input (Tensor): log-probabilities.
        target (Tensor): probabilities (log-probabilities when ``log_target``), broadcastable to ``input``.
        size_average (bool, optional): deprecated; with ``reduce``, picks the reduction (with a warning). Default: None.
        reduce (bool, optional): deprecated; see ``size_average``. Default: None.
        reduction (str): ``'none'``, ``'mean'``, ``'batchmean'`` or ``'sum'``; another value raises ValueError.
            Default: ``'mean'``.
        log_target (bool): ``target`` holds log-probabilities. Default: False.

    Returns:
        Tensor: a 0-d tensor, or the elementwise losses when ``reduction='none'``.

    Shape:
        - Input: (*), any shape.
        - Target: (*), the input's shape.
        - Output: (), or (*) with ``reduction='none'``.

    PyTorch:
        ``torch.nn.functional.kl_div``; same semantics.

    Example:
        >>> F.kl_div(ember.tensor([[-0.6931, -0.6931]]), ember.tensor([[0.25, 0.75]]), reduction="batchmean")
        tensor(0.1308)
    """
    if _autocast.active:  # PyTorch's autocast runs this loss in float32
        input, target = _autocast.to_float32(input, target)
    if size_average is None and reduce is None and reduction == "mean":
        warnings.warn("kl_div: reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition.",
                      stacklevel=2)
    reduction = _reduction(reduction, "kl_div", size_average, reduce, extra=("batchmean",))
    _tensors("kl_div", input=input, target=target)
    if log_target:
        loss = exp(target) * (target - input)
    else:
        loss = target * log(where(target == 0, 1.0, target)) - target * input  # xlogy(t, t) - t x
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input._data.ndim else loss.sum()
    return _reduce(loss, reduction)


# --- margin and embedding losses ------------------------------------------------------------------------------

@export(ember=False, functional=True)
@_with_reduction_args
def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """Compute the hinge embedding loss: x where the target is 1, max(0, margin - x) where it is -1.

    Used with ``input`` a distance between two embeddings and ``target`` saying whether they should be close (1) or
    far apart (-1); other target values add both terms.

    Args:
        input (Tensor): the input, usually a distance.
        target (Tensor): 1 or -1, broadcastable to ``input``.
        margin (float): the distance beyond which dissimilar pairs cost nothing. Default: 1.0.
        {reduction_args}

    Returns:
        Tensor: a 0-d tensor, or the elementwise losses when ``reduction='none'``.

    Shape:
        - Input: (*), any shape.
        - Target: (*), the input's shape.
        - Output: (), or (*) with ``reduction='none'``.

    PyTorch:
        ``torch.nn.functional.hinge_embedding_loss``; same semantics.

    Example:
        >>> F.hinge_embedding_loss(ember.tensor([0.3, 0.4]), ember.tensor([1.0, -1.0]))
        tensor(0.4500)
    """
    if _autocast.active:  # PyTorch's autocast runs this loss in float32
        input, target = _autocast.to_float32(input, target)
    reduction = _reduction(reduction, "hinge_embedding_loss", size_average, reduce)
    _tensors("hinge_embedding_loss", input=input, target=target)
    margin_part = where(target != 1, clamp(margin - input, min=0), 0.0)
    self_part = where(target != -1, input, 0.0)
    return _reduce(margin_part + self_part, reduction)


@export(ember=False, functional=True)
@_with_reduction_args
def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """Compute the margin ranking loss: max(0, -target * (input1 - input2) + margin).

    A target of 1 asks for ``input1`` to rank above ``input2`` by at least ``margin``, -1 for the opposite. The three
    tensors must have the same number of dimensions (else RuntimeError).

    Args:
        input1 (Tensor): the first scores.
        input2 (Tensor): the second scores.
        target (Tensor): 1 or -1 per pair.
        margin (float): the required gap. Default: 0.0.
        {reduction_args}

    Returns:
        Tensor: a 0-d tensor, or the elementwise losses when ``reduction='none'``.

    Shape:
        - Input1, Input2: (N,) or ().
        - Target: the inputs' shape.
        - Output: (), or (N,) with ``reduction='none'``.

    PyTorch:
        ``torch.nn.functional.margin_ranking_loss``; same semantics.

    Example:
        >>> x1, x2 = ember.tensor([1.0, 0.0]), ember.tensor([0.0, 1.0])
        >>> F.margin_ranking_loss(x1, x2, ember.tensor([1.0, 1.0]), margin=0.5)
        tensor(0.7500)
    """
    if _autocast.active:  # PyTorch's autocast runs this loss in float32
        input1, input2, target = _autocast.to_float32(input1, input2, target)
    reduction = _reduction(reduction, "margin_ranking_loss", size_average, reduce)
    _tensors("margin_ranking_loss", input1=input1, input2=input2, target=target)
    if not input1._data.ndim == input2._data.ndim == target._data.ndim:
        raise RuntimeError(f"margin_ranking_loss: All input tensors should have same dimension but got sizes: "
                           f"input1: {tuple(input1.shape)}, input2: {tuple(input2.shape)}, target: "
                           f"{tuple(target.shape)}")
    return _reduce(clamp(-target * (input1 - input2) + margin, min=0), reduction)


@export(ember=False, functional=True)
@_with_reduction_args
def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    """Compute the triplet margin loss: max(d(anchor, positive) - d(anchor, negative) + margin, 0).

    d is ``pairwise_distance`` with the ``p``-norm along the last dimension. The three tensors must have the same
    number of dimensions (else RuntimeError).

    Args:
        anchor (Tensor): the anchor embeddings.
        positive (Tensor): embeddings that should be close to the anchors.
        negative (Tensor): embeddings that should be far from the anchors.
        margin (float): the required gap; must be positive (else ValueError). Default: 1.0.
        p (float): the norm degree of the distance. Default: 2.
        eps (float): added to the differences for the norm's stability. Default: 1e-06.
        swap (bool): use min(d(anchor, negative), d(positive, negative)) as the negative distance. Default: False.
        {reduction_args}

    Returns:
        Tensor: a 0-d tensor, or the elementwise losses when ``reduction='none'``.

    Shape:
        - Anchor, Positive, Negative: (N, D) or (D,).
        - Output: (), or (N,) with ``reduction='none'``.

    PyTorch:
        ``torch.nn.functional.triplet_margin_loss``; same semantics.

    Example:
        >>> F.triplet_margin_loss(ember.tensor([[0.0, 0.0]]), ember.tensor([[1.0, 0.0]]), ember.tensor([[3.0, 0.0]]))
        tensor(0.)
    """
    if _autocast.active:  # PyTorch's autocast runs this loss in float32
        anchor, positive, negative = _autocast.to_float32(anchor, positive, negative)
    reduction = _reduction(reduction, "triplet_margin_loss", size_average, reduce)
    _tensors("triplet_margin_loss", anchor=anchor, positive=positive, negative=negative)
    if margin <= 0:
        raise ValueError(f"triplet_margin_loss: margin must be greater than 0, got {margin}")
    dims = (anchor._data.ndim, positive._data.ndim, negative._data.ndim)
    if len(set(dims)) != 1:
        raise RuntimeError(f"triplet_margin_loss: The anchor, positive, and negative tensors are expected to have "
                           f"the same number of dimensions, but got: anchor {dims[0]}D, positive {dims[1]}D, and "
                           f"negative {dims[2]}D inputs")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce(clamp(d_pos - d_neg + margin, min=0), reduction)


@export(ember=False, functional=True)
@_with_reduction_args
def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Compute the two-class logistic loss: log(1 + exp(-target * input)), stably.

    Args:
        input (Tensor): the scores.
        target (Tensor): 1 or -1, broadcastable to ``input``.
        {reduction_args}

    Returns:
        Tensor: a 0-d tensor, or the elementwise losses when ``reduction='none'``.

    Shape:
        - Input: (*), any shape.
        - Target: (*), the input's shape.
        - Output: (), or (*) with ``reduction='none'``.

    PyTorch:
        ``torch.nn.functional.soft_margin_loss``; same semantics.

    Example:
        >>> F.soft_margin_loss(ember.tensor([2.0, -1.0]), ember.tensor([1.0, 1.0]))
        tensor(0.7201)
    """
    if _autocast.active:  # PyTorch's autocast runs this loss in float32
        input, target = _autocast.to_float32(input, target)
    reduction = _reduction(reduction, "soft_margin_loss", size_average, reduce)
    _tensors("soft_margin_loss", input=input, target=target)
    return _reduce(-logsigmoid(target * input), reduction)


@export(ember=False, functional=True)
@_with_reduction_args
def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """Compute the cosine embedding loss: 1 - cos(x1, x2) where the target is 1, max(0, cos(x1, x2) - margin) where -1.

    The cosine is taken along the last dimension; targets other than 1 and -1 contribute 0.

    Args:
        input1 (Tensor): the first embeddings.
        input2 (Tensor): the second embeddings.
        target (Tensor): 1 or -1 per pair, 0-d or 1-d (else RuntimeError).
        margin (float): the similarity below which dissimilar pairs cost nothing. Default: 0.0.
        {reduction_args}

    Returns:
        Tensor: a 0-d tensor, or the elementwise losses when ``reduction='none'``.

    Shape:
        - Input1, Input2: (N, D) or (D,).
        - Target: (N,) or ().
        - Output: (), or (N,) with ``reduction='none'``.

    PyTorch:
        ``torch.nn.functional.cosine_embedding_loss``; same semantics.

    Example:
        >>> x1 = ember.tensor([[1.0, 0.0], [1.0, 0.0]])
        >>> F.cosine_embedding_loss(x1, ember.tensor([[1.0, 1.0], [0.0, 1.0]]), ember.tensor([1, -1]))
        tensor(0.1464)
    """
    if _autocast.active:  # PyTorch's autocast runs this loss in float32
        input1, input2, target = _autocast.to_float32(input1, input2, target)
    op = "cosine_embedding_loss"
    reduction = _reduction(reduction, op, size_average, reduce)
    _tensors(op, input1=input1, input2=input2, target=target)
    tdim = target._data.ndim
    if tdim not in (0, 1):
        raise RuntimeError(f"{op}: 0D or 1D target tensor expected, multi-target not supported (got target shape "
                           f"{tuple(target.shape)})")
    if input1._data.ndim != tdim + 1 or input2._data.ndim != tdim + 1:
        raise RuntimeError(f"{op}: {tdim}D target tensor expects {tdim + 1}D input tensors, but found inputs with "
                           f"sizes {tuple(input1.shape)} and {tuple(input2.shape)}.")
    d = tdim  # the feature dimension
    prod = (input1 * input2).sum(d)
    mag1 = (input1 * input1).sum(d) + 1e-12
    mag2 = (input2 * input2).sum(d) + 1e-12
    cos = prod / (mag1 * mag2).sqrt()
    pos = where(target == 1, 1 - cos, 0.0)
    neg = where(target == -1, clamp(cos - margin, min=0), 0.0)
    return _reduce(pos + neg, reduction)


# --- likelihoods ----------------------------------------------------------------------------------------------

@export(ember=False, functional=True)
def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """Compute the Poisson negative log-likelihood of ``target`` given the rate ``input``.

    The loss per element is exp(x) - t x when ``log_input``, else x - t log(x + eps); ``full`` adds Stirling's
    approximation t log(t) - t + 0.5 log(2 pi t) for the targets above 1.

    Args:
        input (Tensor): the log-rate (``log_input``) or the rate.
        target (Tensor): the observed counts, broadcastable to ``input``.
        log_input (bool): ``input`` is the log of the rate. Default: True.
        full (bool): add Stirling's term. Default: False.
        size_average (bool, optional): deprecated; with ``reduce``, picks the reduction (with a warning). Default: None.
        eps (float): added to the rate before its log when not ``log_input``. Default: 1e-08.
        reduce (bool, optional): deprecated; see ``size_average``. Default: None.
        reduction (str): ``'none'`` (one loss per element), ``'mean'`` or ``'sum'``; another value raises ValueError.
            Default: ``'mean'``.

    Returns:
        Tensor: a 0-d tensor, or the elementwise losses when ``reduction='none'``.

    Shape:
        - Input: (*), any shape.
        - Target: (*), the input's shape.
        - Output: (), or (*) with ``reduction='none'``.

    PyTorch:
        ``torch.nn.functional.poisson_nll_loss``; same semantics.

    Example:
        >>> F.poisson_nll_loss(ember.tensor([0.0, 1.0]), ember.tensor([1.0, 2.0]))
        tensor(0.8591)
    """
    if _autocast.active:  # PyTorch's autocast runs this loss in float32
        input, target = _autocast.to_float32(input, target)
    reduction = _reduction(reduction, "poisson_nll_loss", size_average, reduce)
    _tensors("poisson_nll_loss", input=input, target=target)
    loss = exp(input) - target * input if log_input else input - target * log(input + eps)
    if full:
        big = target > 1
        safe = where(big, target, 1.0)
        stirling = safe * log(safe) - safe + 0.5 * log(safe * (2 * math.pi))
        loss = loss + where(big, stirling, 0.0)
    return _reduce(loss, reduction)


@export(ember=False, functional=True)
def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Compute the Gaussian negative log-likelihood: 0.5 (log(var) + (input - target)^2 / var).

    ``var`` is clamped below by ``eps`` in value only (the gradient flows as if unclamped, as in PyTorch); a negative
    entry raises ValueError.

    Args:
        input (Tensor): the predicted means.
        target (Tensor): the observations, of ``input``'s shape.
        var (Tensor or float): the predicted variances: of ``input``'s shape, with one dimension of size 1, or
            without the last dimension (homoscedastic); a float for one variance everywhere.
        full (bool): add the constant 0.5 log(2 pi). Default: False.
        eps (float): the smallest variance used. Default: 1e-06.
        reduction (str): ``'none'`` (one loss per element), ``'mean'`` or ``'sum'``; another value raises ValueError.
            Default: ``'mean'``.

    Returns:
        Tensor: a 0-d tensor, or the elementwise losses when ``reduction='none'``.

    Shape:
        - Input: (N, *) or (*).
        - Target: the input's shape.
        - Var: the input's shape, or it with one dimension 1 or the last dimension dropped.
        - Output: (), or the input's shape with ``reduction='none'``.

    PyTorch:
        ``torch.nn.functional.gaussian_nll_loss``; same semantics.

    Example:
        >>> F.gaussian_nll_loss(ember.tensor([0.0, 1.0]), ember.tensor([1.0, 1.0]), ember.tensor([1.0, 1.0]))
        tensor(0.2500)
        >>> F.gaussian_nll_loss(ember.tensor([[0.0, 1.0]]), ember.tensor([[1.0, 1.0]]), 0.5, reduction="none")
        tensor([[ 0.6534, -0.3466]])
    """
    op = "gaussian_nll_loss"
    _tensors(op, input=input, target=target)
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError(f"{op}: var has negative entry/entries")
        var = Tensor._wrap(input.device.xp.full(input._data.shape, float(var), dtype=input._data.dtype))
    elif bool((var._data < 0).any()):
        raise ValueError(f"{op}: var has negative entry/entries")
    vs, xs = tuple(var.shape), tuple(input.shape)
    if vs != xs:
        if xs[:-1] == vs:
            var = var.unsqueeze(-1)
        elif not (len(xs) == len(vs) and sum(v for x, v in zip(xs, vs) if x != v) == 1):
            raise ValueError(f"{op}: var is of incorrect size {vs} for input of size {xs}")
    reduction = _reduction(reduction, op)
    v = var.detach()
    var = var + (clamp(v, min=eps) - v)
    loss = 0.5 * (log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def _class_scores(op, input, target):
    """(input as (N, C), target as (N,) int64 array): one sample where input is 1-D, with PyTorch's checks."""
    _tensors(op, input=input, target=target)
    if input.dim() not in (1, 2) or input.numel() == 0:
        raise RuntimeError(f"{op}: expected a non-empty 1-D or 2-D input, got shape {tuple(input.shape)}")
    scores = input if input.dim() == 2 else input.reshape(1, -1)
    labels = np.asarray(target._data).reshape(-1) if target.dim() == input.dim() - 1 else None
    if labels is None or labels.size != scores.shape[0]:
        raise RuntimeError(f"{op}: target tensor should be 1-D with size equal to the number of input samples "
                           f"(batch size). Expected target size [{scores.shape[0]}], but got {list(target.shape)}.")
    if labels.size and (labels.min() < 0 or labels.max() >= scores.shape[1]):
        raise RuntimeError(f"{op}: target out of range (the classes are 0 to {scores.shape[1] - 1})")
    return scores, labels.astype(np.int64)


@export(ember=False, functional=True)
@_with_reduction_args
def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    """The multi-class hinge loss: for each sample with class y, the mean over the classes i != y of
    max(0, margin - x[y] + x[i])^p (times weight[y]).

    Args:
        input (Tensor): the scores, (N, C) or (C).
        target (Tensor): the class of each sample, (N) or ().
        p (int): 1 or 2 (else ValueError). Default: 1.
        margin (float): the margin. Default: 1.0.
        weight (Tensor, optional): a weight per class, (C). Default: None.
        {reduction_args}

    Returns:
        Tensor: a 0-d tensor, or the losses of the samples when ``reduction='none'``.

    PyTorch:
        ``torch.nn.functional.multi_margin_loss``; same semantics.

    Example:
        >>> F.multi_margin_loss(ember.tensor([[0.1, 0.2, 0.4, 0.8]]), ember.tensor([3]))
        tensor(0.3250)
    """
    reduction = _reduction(reduction, "multi_margin_loss", size_average, reduce)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    scores, labels = _class_scores("multi_margin_loss", input, target)
    n, c = scores.shape
    picked = scores[Tensor._wrap(np.arange(n)), Tensor._wrap(labels)].reshape(n, 1)
    hinge = (margin - picked + scores).relu()
    if p == 2:
        hinge = hinge * hinge
    others = np.ones((n, c), dtype=scores._data.dtype)
    others[np.arange(n), labels] = 0
    if weight is not None:
        hinge = hinge * weight[Tensor._wrap(labels)].reshape(n, 1)
    loss = (hinge * Tensor._wrap(others)).sum(1) / c
    return _reduce(loss if input.dim() == 2 or reduction != "none" else loss.reshape(()), reduction)


@export(ember=False, functional=True)
@_with_reduction_args
def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """The multi-label hinge loss: for each sample, the sum over its target classes j and its other classes i of
    max(0, 1 - (x[j] - x[i])), divided by the number of classes.

    Args:
        input (Tensor): the scores, (N, C) or (C).
        target (Tensor): int64 of input's shape: each sample's target classes, then -1 (what follows it is
            ignored).
        {reduction_args}

    Returns:
        Tensor: a 0-d tensor, or the losses of the samples when ``reduction='none'``.

    PyTorch:
        ``torch.nn.functional.multilabel_margin_loss``; same semantics.

    Example:
        >>> F.multilabel_margin_loss(ember.tensor([[0.1, 0.2, 0.4, 0.8]]), ember.tensor([[3, 0, -1, 1]]))
        tensor(0.8500)
    """
    op = "multilabel_margin_loss"
    reduction = _reduction(reduction, op, size_average, reduce)
    _tensors(op, input=input, target=target)
    if input.dim() not in (1, 2) or tuple(target.shape) != tuple(input.shape):
        raise RuntimeError(f"{op}: inconsistent target size: {list(target.shape)} for input of size: "
                           f"{list(input.shape)}")
    scores = input if input.dim() == 2 else input.reshape(1, -1)
    labels = np.asarray(target._data).reshape(scores.shape)
    n, c = scores.shape
    counts = np.zeros((n, c), dtype=scores._data.dtype)  # how often each class is listed before the first -1
    for row, listed in enumerate(labels):
        ends = np.flatnonzero(listed < 0)
        listed = listed[:ends[0] if ends.size else c]
        if listed.size and listed.max() >= c:
            raise RuntimeError(f"{op}: argument #2 'target' is out of range")
        np.add.at(counts[row], listed, 1)
    pairs = Tensor._wrap(counts[:, :, None] * (counts == 0)[:, None, :].astype(counts.dtype))
    hinge = (1 - scores.reshape(n, c, 1) + scores.reshape(n, 1, c)).relu()
    loss = (hinge * pairs).sum((1, 2)) / c
    return _reduce(loss if input.dim() == 2 or reduction != "none" else loss.reshape(()), reduction)


@export(ember=False, functional=True)
@_with_reduction_args
def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """The multi-label logistic loss: for each sample, the mean over the classes of
    -(y log(sigmoid(x)) + (1 - y) log(sigmoid(-x))) (times the class's weight).

    Args:
        input (Tensor): the scores, (N, C).
        target (Tensor): 0 or 1 per class, of input's shape.
        weight (Tensor, optional): a weight per class, (C). Default: None.
        {reduction_args}

    Returns:
        Tensor: a 0-d tensor, or the losses of the samples when ``reduction='none'``.

    PyTorch:
        ``torch.nn.functional.multilabel_soft_margin_loss``; same semantics.

    Example:
        >>> F.multilabel_soft_margin_loss(ember.tensor([[2.0, -1.0]]), ember.tensor([[1.0, 0.0]]))
        tensor(0.2201)
    """
    reduction = _reduction(reduction, "multilabel_soft_margin_loss", size_average, reduce)
    _tensors("multilabel_soft_margin_loss", input=input, target=target)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss.sum(input.dim() - 1) / input.shape[-1], reduction)


@export(ember=False, functional=True)
def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0,
                                      swap=False, reduction="mean"):
    """The triplet loss with any distance: max(0, margin + d(anchor, positive) - d(anchor, negative)).

    Args:
        anchor (Tensor): the anchors.
        positive (Tensor): the positive examples.
        negative (Tensor): the negative examples.
        distance_function (callable, optional): d(x, y), a tensor of distances; None is ``pairwise_distance``.
            Default: None.
        margin (float): the margin, > 0 (else ValueError). Default: 1.0.
        swap (bool): use d(positive, negative) where it is smaller than d(anchor, negative). Default: False.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``. Default: ``'mean'``.

    Returns:
        Tensor: a 0-d tensor, or the losses of the triplets when ``reduction='none'``.

    PyTorch:
        ``torch.nn.functional.triplet_margin_with_distance_loss``; same semantics.

    Example:
        >>> a, p, n = ember.tensor([[0.0, 0.0]]), ember.tensor([[1.0, 0.0]]), ember.tensor([[1.5, 0.0]])
        >>> F.triplet_margin_with_distance_loss(a, p, n, distance_function=lambda x, y: (x - y).abs().sum(1))
        tensor(0.5000)
    """
    reduction = _reduction(reduction, "triplet_margin_with_distance_loss")
    _tensors("triplet_margin_with_distance_loss", anchor=anchor, positive=positive, negative=negative)
    if margin <= 0:
        raise ValueError(f"triplet_margin_with_distance_loss: margin must be greater than 0, got {margin}")
    dims = (anchor.dim(), positive.dim(), negative.dim())
    if len(set(dims)) != 1:
        raise RuntimeError(f"triplet_margin_with_distance_loss: The anchor, positive, and negative tensors are "
                           f"expected to have the same number of dimensions, but got: anchor {dims[0]}D, positive "
                           f"{dims[1]}D, and negative {dims[2]}D inputs")
    distance = distance_function if distance_function is not None else pairwise_distance
    d_pos, d_neg = distance(anchor, positive), distance(anchor, negative)
    if swap:
        d_neg = minimum(d_neg, distance(positive, negative))
    return _reduce(clamp(margin + d_pos - d_neg, min=0), reduction)
