"""Losses with their own ops: cross_entropy/nll_loss (NllLoss and its gradient node NllLossGrad),
binary_cross_entropy, ctc_loss (and its gradient node CtcLossBackward, which has no derivative, as in PyTorch)."""
import numpy as np

import ember
import ember.nn.functional as F

from . import Idx, OpInfo, Sample, T

_W = np.array([0.5, 1.0, 2.0, 0.25, 1.5])  # class weights (constants: PyTorch does not differentiate them)


def _weighted_ce(fw, x, t, **kw):
    w = fw.tensor(_W, dtype=x.dtype)
    return fw.nn.functional.cross_entropy(x, t, weight=w, **kw)


ENTRIES = [
    OpInfo(("NllLoss", "NllLossGrad"), F.cross_entropy,
           [Sample(T((4, 5)), Idx((4,), 5)), Sample(T((2, 3, 4)), Idx((2, 4), 3), reduction="none"),
            Sample(T((5,)), Idx((), 5)), Sample(T((0, 5)), Idx((0,), 5), reduction="sum")],
           ref=lambda torch, *a, **k: torch.nn.functional.cross_entropy(*a, **k), name="cross_entropy"),
    OpInfo(("NllLoss", "NllLossGrad"), lambda x, t, **k: _weighted_ce(ember, x, t, **k),
           [Sample(T((4, 5)), Idx((4,), 5), label_smoothing=0.2), Sample(T((6, 5)), Idx((6,), 5), ignore_index=1),
            Sample(T((3, 5, 2)), Idx((3, 2), 5), reduction="sum", label_smoothing=0.1, ignore_index=0)],
           ref=lambda torch, x, t, **k: _weighted_ce(torch, x, t, **k), name="cross_entropy_weight_smoothing_ignore"),
    OpInfo(("NllLoss", "NllLossGrad"), F.cross_entropy,
           [Sample(T((4, 5)), T((4, 5), domain=(0, 1))),
            Sample(T((2, 3, 2)), T((2, 3, 2), domain=(0, 1)), reduction="none", label_smoothing=0.3)],
           ref=lambda torch, *a, **k: torch.nn.functional.cross_entropy(*a, **k), name="cross_entropy_probabilities"),
    OpInfo(("NllLoss", "NllLossGrad"), F.nll_loss,
           [Sample(T((4, 5)), Idx((4,), 5)), Sample(T((2, 3, 4)), Idx((2, 4), 3), reduction="none"),
            Sample(T((6, 5)), Idx((6,), 5), ignore_index=2, reduction="sum")],
           ref=lambda torch, *a, **k: torch.nn.functional.nll_loss(*a, **k), domain=(-3.0, 0.0), name="nll_loss"),
    OpInfo("BinaryCrossEntropy", F.binary_cross_entropy,
           [Sample(T((3, 4)), T((3, 4))), Sample(T((5,)), T((5,), grad=False), reduction="none"),
            Sample(T((0, 2)), T((0, 2)), reduction="sum")],
           ref=lambda torch, *a, **k: torch.nn.functional.binary_cross_entropy(*a, **k), domain=(0.05, 0.95),
           name="binary_cross_entropy"),
    # log_softmax first, as ctc_loss is meant to be used: ember's gradient with respect to log_probs is minus the
    # posterior, PyTorch's adds exp(log_probs); through log_softmax they are the same
    OpInfo(("CtcLoss", "CtcLossBackward"),
           lambda x, t, il, tl, **k: F.ctc_loss(F.log_softmax(x, 2), t, il, tl, **k),
           [Sample(T((6, 2, 4)), Idx((2, 3), 4, low=1), (6, 5), (3, 2)),
            Sample(T((5, 3, 3)), Idx((3, 2), 3, low=1), (5, 5, 4), (2, 1, 2), reduction="none"),
            Sample(T((4, 1, 5)), Idx((1, 2), 5, low=1), (4,), (2,), reduction="sum", blank=0)],
           ref=lambda torch, x, t, il, tl, **k: torch.nn.functional.ctc_loss(x.log_softmax(2), t, il, tl, **k),
           gradgrad=False, name="ctc_loss"),
]
