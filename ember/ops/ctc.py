"""ctc_loss: the connectionist temporal classification loss (Graves et al. 2006) with PyTorch's arguments.

The loss of a sample is -log p(target | input), summed over every alignment of the target to the input frames that
collapses to it (repeats merged, blanks dropped). Forward computes the log-space forward variables alpha over the
extended target (a blank before, between and after the labels) for the whole batch at once; backward adds the
backward variables beta and turns alpha * beta into each frame's posterior over the classes.

The gradient is the exact derivative with respect to log_probs: minus the posterior. PyTorch's adds
exp(log_probs), which vanishes when log_probs come from log_softmax (the documented use), so the gradients of the
logits before log_softmax are the same.
"""
import numpy as np  # host-side index tables only; device math goes through xp

from ..autograd import Node
from ..autograd.graph import apply
from ..tensor import Tensor
from . import _autocast
from .loss import _reduction
from .meta import TensorMeta, same_as
from .registry import export, register


def _logsumexp3(xp, a, b, c):
    """log(exp(a) + exp(b) + exp(c)) elementwise, -inf where all three are -inf."""
    m = xp.maximum(xp.maximum(a, b), c)
    safe = xp.where(xp.isneginf(m), 0, m)
    with np.errstate(divide="ignore"):
        return safe + xp.log(xp.exp(a - safe) + xp.exp(b - safe) + xp.exp(c - safe))


def _shift(xp, a, k):
    """a moved k places along its last axis (towards higher indices for k > 0), -inf filling the gap."""
    out = xp.full_like(a, -xp.inf)
    if k > 0:
        out[..., k:] = a[..., :-k]
    else:
        out[..., :k] = a[..., -k:]
    return out


@register
class CtcLoss(Node):
    """Per-sample negative log-likelihoods (N,) of log_probs (T, N, C); labels (N, 2S+1) is the extended target
    (blank-padded past each sample's length), in_len and tgt_len the lengths (host arrays)."""

    saves = (0,)

    def __init__(self, labels, in_len, tgt_len, blank, zero_infinity):
        self.labels, self.in_len, self.tgt_len = labels, in_len, tgt_len
        self.blank, self.zero_infinity = blank, zero_infinity

    def infer(self, lp):
        return TensorMeta(lp.shape[1:2], lp.dtype)

    def forward(self, xp, lp):
        T, N, _ = lp.shape
        labels = xp.asarray(self.labels)
        L = labels.shape[1]
        ext_len = xp.asarray(2 * self.tgt_len + 1)
        # a label may also be reached from two places back when it is not blank and differs from that one
        skip = xp.zeros(labels.shape, bool)
        skip[:, 2:] = (labels[:, 2:] != self.blank) & (labels[:, 2:] != labels[:, :-2])
        self.skip = skip
        emit = xp.take_along_axis(lp, xp.broadcast_to(labels[None], (T, N, L)), axis=2)  # (T, N, L)
        alpha = xp.full((T, N, L), -xp.inf, dtype=lp.dtype)
        alpha[0, :, 0] = emit[0, :, 0]
        if L > 1:
            alpha[0, :, 1] = xp.where(ext_len > 1, emit[0, :, 1], -xp.inf)
        for t in range(1, T):
            prev = alpha[t - 1]
            two_back = xp.where(skip, _shift(xp, prev, 2), -xp.inf)
            alpha[t] = _logsumexp3(xp, prev, _shift(xp, prev, 1), two_back) + emit[t]
        last = alpha[xp.asarray(self.in_len) - 1, xp.arange(N)]  # (N, L) at each sample's last frame
        end = xp.take_along_axis(last, (ext_len - 1)[:, None], axis=1)[:, 0]
        before = xp.take_along_axis(last, xp.maximum(ext_len - 2, 0)[:, None], axis=1)[:, 0]
        before = xp.where(ext_len > 1, before, -xp.inf)
        nll = -xp.logaddexp(end, before)
        self.alpha, self.emit, self.nll = alpha, emit, nll
        if self.zero_infinity:
            nll = xp.where(xp.isinf(nll), 0, nll)
        return nll

    def backward(self, g):
        lp = self.inputs[0]
        return (apply(CtcLossBackward(self._posterior_grad(lp.device.xp, lp._data.shape)), g, lp),)

    def _posterior_grad(self, xp, shape):
        """d nll / d log_probs (T, N, C): minus the posterior of each class at each frame (zero past a sample's
        length, and for impossible targets with zero_infinity)."""
        T, N, C = shape
        alpha, emit, skip = self.alpha, self.emit, self.skip
        L = alpha.shape[2]
        in_len, ext_len = xp.asarray(self.in_len), xp.asarray(2 * self.tgt_len + 1)
        cols = xp.arange(L)[None]
        beta = xp.full((T, N, L), -xp.inf, dtype=alpha.dtype)
        live = (cols == ext_len[:, None] - 1) | (cols == ext_len[:, None] - 2)  # where beta starts
        skip_up = xp.zeros_like(skip)
        skip_up[:, :-2] = skip[:, 2:]  # position s may move on to s + 2
        for t in range(T - 1, -1, -1):
            start = (in_len - 1 == t)[:, None] & live
            if t < T - 1:
                nxt = beta[t + 1]
                two_on = xp.where(skip_up, _shift(xp, nxt, -2), -xp.inf)
                step = _logsumexp3(xp, nxt, _shift(xp, nxt, -1), two_on) + emit[t]
                beta[t] = xp.where((t < in_len - 1)[:, None], step, -xp.inf)
            beta[t] = xp.where(start, emit[t], beta[t])
        nll = self.nll
        finite = xp.isfinite(nll)
        with np.errstate(invalid="ignore", over="ignore"):
            post = xp.exp(alpha + beta - emit + xp.where(finite, nll, 0)[None, :, None])  # (T, N, L)
        post = xp.where(finite[None, :, None], post, 0 if self.zero_infinity else xp.nan)
        onehot = xp.asarray(self.labels)[:, :, None] == xp.arange(C)[None, None]  # (N, L, C)
        return -xp.einsum("tnl,nlc->tnc", post, onehot.astype(post.dtype))


@register
class CtcLossBackward(Node):
    """The gradient, dlp * g: a function of the incoming gradient g and of log_probs (read only through what the
    forward computed, dlp = d nll / d log_probs): ctc_loss has no second derivative in ember, as in PyTorch."""

    saves = ()

    def __init__(self, dlp):
        self.dlp = dlp

    def infer(self, g, lp):
        return same_as(lp)

    def forward(self, xp, g, lp):
        out = self.dlp * g[None, :, None]
        return out if out.dtype == lp.dtype else out.astype(lp.dtype)

    def backward(self, g):
        raise RuntimeError("ctc_loss: the derivative of its gradient (double backward) is not implemented")


def _lengths(lengths, batch, name):
    """Integer lengths (N,) from a tensor, array, list or tuple."""
    arr = lengths.detach().cpu().numpy() if isinstance(lengths, Tensor) else np.asarray(lengths)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"ctc_loss: {name} must be integers, got {arr.dtype}")
    arr = arr.reshape(-1).astype(np.int64)
    if arr.shape[0] != batch:
        raise RuntimeError(f"ctc_loss: {name} must have one length per sample ({batch}), got {arr.shape[0]}")
    return arr


def _extended_labels(targets, tgt_len, blank, classes):
    """(N, 2 * max(tgt_len) + 1) extended targets: blank, l1, blank, l2, ..., blank, padded with blanks."""
    t = targets.detach().cpu().numpy() if isinstance(targets, Tensor) else np.asarray(targets)
    if t.dtype.kind not in "iu":
        raise TypeError(f"ctc_loss: targets must be integers, got {t.dtype}")
    n, s = len(tgt_len), int(tgt_len.max(initial=0))
    rows = np.full((n, s), blank, np.int64)
    if t.ndim == 2:
        if t.shape[0] != n:
            raise RuntimeError(f"ctc_loss: targets {tuple(t.shape)} must have one row per sample ({n})")
        if s > t.shape[1]:
            raise RuntimeError(f"ctc_loss: target length {s} is longer than the targets' {t.shape[1]} columns")
        for i, k in enumerate(tgt_len):
            rows[i, :k] = t[i, :k]
    elif t.ndim == 1:
        if t.shape[0] < tgt_len.sum():
            raise RuntimeError(f"ctc_loss: concatenated targets hold {t.shape[0]} labels, fewer than the "
                               f"{int(tgt_len.sum())} the target lengths add up to")
        starts = np.concatenate([[0], np.cumsum(tgt_len)[:-1]])
        for i, (a, k) in enumerate(zip(starts, tgt_len)):
            rows[i, :k] = t[a:a + k]
    else:
        raise RuntimeError(f"ctc_loss: targets must be 1-D (concatenated) or 2-D (N, S), got {tuple(t.shape)}")
    used = rows[np.arange(s)[None] < tgt_len[:, None]]
    if used.size and (used.min() < 0 or used.max() >= classes or (used == blank).any()):
        raise RuntimeError(f"ctc_loss: target labels must lie in [0, {classes}) and differ from blank ({blank})")
    ext = np.full((n, 2 * s + 1), blank, np.int64)
    ext[:, 1::2] = rows
    return ext


@export(CtcLoss, ember=False, functional=True)
def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """Compute the connectionist temporal classification loss: -log p(target | input) over all alignments.

    An alignment maps each input frame to a class or the blank; it yields the target once repeats are merged and
    blanks dropped. ``log_probs`` are normally the output of ``log_softmax`` over the classes.

    Args:
        log_probs (Tensor): floating-point log-probabilities of the classes per frame (else TypeError).
        targets (Tensor): the label sequences, padded to (N, S), or concatenated into one 1-d tensor; labels lie in
            [0, C) and differ from ``blank``.
        input_lengths (Tensor or sequence of int): the number of valid frames of each sample, in [1, T].
        target_lengths (Tensor or sequence of int): the length of each target sequence.
        blank (int): the class index of the blank. Default: 0.
        reduction (str): ``'none'`` (one loss per sample), ``'mean'`` (each loss divided by its target length, then
            averaged over the batch) or ``'sum'``. Default: ``'mean'``.
        zero_infinity (bool): replace infinite losses (a target that no alignment can produce) and their gradients
            by 0. Default: False.

    Returns:
        Tensor: a 0-d tensor, or the (N,) losses when ``reduction='none'``.

    Shape:
        - Log_probs: (T, N, C) or (T, C), T frames, N samples, C classes including the blank.
        - Targets: (N, S) or (sum(target_lengths),).
        - Input_lengths, Target_lengths: (N,).
        - Output: (), or (N,) with ``reduction='none'`` (() for unbatched input).

    PyTorch:
        ``torch.nn.functional.ctc_loss``; the same values. The gradient is the exact derivative with respect to
        ``log_probs`` (minus the posterior); PyTorch's adds exp(log_probs), which changes nothing for the logits
        before a ``log_softmax``, the documented use.

    Example:
        >>> log_probs = ember.full((3, 1, 2), 0.5).log()
        >>> F.ctc_loss(log_probs, ember.tensor([[1]]), ember.tensor([3]), ember.tensor([1]))
        tensor(0.2877)
    """
    if _autocast.active:  # PyTorch's autocast runs this loss in float32
        log_probs, = _autocast.to_float32(log_probs)
    reduction = _reduction(reduction, "ctc_loss")
    if not isinstance(log_probs, Tensor) or not log_probs.dtype.is_floating_point:
        raise TypeError("ctc_loss: log_probs must be a floating-point Tensor")
    unbatched = log_probs.ndim == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
        if isinstance(targets, Tensor) and targets.ndim == 1:
            targets = targets.unsqueeze(0)
    if log_probs.ndim != 3:
        raise RuntimeError(f"ctc_loss: log_probs must be (T, N, C) or (T, C), got {tuple(log_probs.shape)}")
    T, N, C = log_probs.shape
    if not 0 <= blank < C:
        raise RuntimeError(f"ctc_loss: blank must be in label range [0, {C}), got {blank}")
    in_len = _lengths(input_lengths, N, "input_lengths")
    tgt_len = _lengths(target_lengths, N, "target_lengths")
    if N and (in_len.min() < 1 or in_len.max() > T):
        raise RuntimeError(f"ctc_loss: input_lengths must lie in [1, {T}] (the frames of log_probs), got "
                           f"{in_len.tolist()}")
    if N and tgt_len.min() < 0:
        raise RuntimeError(f"ctc_loss: target_lengths must not be negative, got {tgt_len.tolist()}")
    labels = _extended_labels(targets, tgt_len, blank, C)
    loss = apply(CtcLoss(labels, in_len, tgt_len, blank, zero_infinity), log_probs)
    if reduction == "mean":
        divisor = Tensor._wrap(log_probs.device.xp.asarray(np.maximum(tgt_len, 1), dtype=loss._data.dtype))
        return (loss / divisor).mean()
    if reduction == "sum":
        return loss.sum()
    return loss[0] if unbatched else loss
