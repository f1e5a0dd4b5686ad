"""MultiMarginLoss, MultiLabelMarginLoss, MultiLabelSoftMarginLoss and TripletMarginWithDistanceLoss: values and
gradients against PyTorch for every reduction, gradcheck, errors, and a multi-label classifier that learns."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn
from ember.autograd import gradcheck

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 5))
CLASSES = np.array([0, 3, 4, 1])
LISTS = np.array([[3, 0, -1, 1, 2], [1, 1, 2, -1, -1], [4, 3, 2, 1, 0], [-1, 0, 0, 0, 0]])  # -1 ends a list
BITS = (RNG.random((4, 5)) > 0.5).astype(np.float64)
WEIGHT = RNG.random(5)

_CASES = [("multi_margin_loss", CLASSES, {}), ("multi_margin_loss", CLASSES, dict(p=2, margin=0.7, weight=WEIGHT)),
          ("multilabel_margin_loss", LISTS, {}), ("multilabel_soft_margin_loss", BITS, {}),
          ("multilabel_soft_margin_loss", BITS, dict(weight=WEIGHT))]


def _run(lib, name, x, target, reduction, kwargs):
    scores = lib.tensor(x, requires_grad=True)
    extra = {k: lib.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    loss = getattr(lib.nn.functional, name)(scores, lib.tensor(target), reduction=reduction, **extra)
    (loss * lib.tensor(np.arange(1.0, loss.numel() + 1).reshape(tuple(loss.shape)))).sum().backward()
    return loss.detach().numpy(), scores.grad.numpy()


@pytest.mark.parametrize("name,target,kwargs", _CASES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_match_torch(name, target, kwargs, reduction):
    torch = pytest.importorskip("torch")
    for x, t in ((X, target), (X[1], target[1])):  # a batch, and one sample (1-D scores)
        if name == "multilabel_soft_margin_loss" and x.ndim == 1:
            continue
        mine, theirs = _run(ember, name, x, t, reduction, kwargs), _run(torch, name, x, t, reduction, kwargs)
        for a, b in zip(mine, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_loss_values_without_torch():
    # one sample, class 3: the mean over the 3 other classes of max(0, 1 - 0.8 + x_i)
    assert F.multi_margin_loss(ember.tensor([[0.1, 0.2, 0.4, 0.8]]), ember.tensor([3])).item() == pytest.approx(
        (0.3 + 0.4 + 0.6) / 4)
    # targets 3 and 0 (what follows -1 is ignored) against classes 1 and 2, over 4 classes
    got = F.multilabel_margin_loss(ember.tensor([[0.1, 0.2, 0.4, 0.8]]), ember.tensor([[3, 0, -1, 1]])).item()
    assert got == pytest.approx((0.4 + 0.6 + 1.1 + 1.3) / 4)
    for name, target, kwargs in _CASES:
        extra = {k: ember.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        assert gradcheck(lambda x: getattr(F, name)(x, ember.tensor(target), **extra), (ember.tensor(X),))


def test_triplet_margin_with_distance_loss():
    torch = pytest.importorskip("torch")
    a, p, n = (RNG.standard_normal((6, 4)) for _ in range(3))
    l1 = {"ember": lambda x, y: (x - y).abs().sum(1), "torch": lambda x, y: (x - y).abs().sum(1)}
    for kwargs in ({}, dict(margin=2.0, swap=True), dict(reduction="none")):
        for custom in (False, True):
            results = []
            for lib, key in ((ember, "ember"), (torch, "torch")):
                tensors = [lib.tensor(v, requires_grad=True) for v in (a, p, n)]
                fn = lib.nn.TripletMarginWithDistanceLoss(distance_function=l1[key] if custom else None, **kwargs)
                loss = fn(*tensors)
                loss.sum().backward()
                results.append([loss.detach().numpy()] + [t.grad.numpy() for t in tensors])
            for x, y in zip(*results):
                np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-14)
    assert repr(nn.TripletMarginWithDistanceLoss()) == repr(torch.nn.TripletMarginWithDistanceLoss())
    assert repr(nn.MultiMarginLoss()) == repr(torch.nn.MultiMarginLoss())


def test_loss_errors():
    x = ember.ones(2, 3)
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        F.multi_margin_loss(x, ember.tensor([0, 1]), p=3)
    with pytest.raises(RuntimeError, match="target out of range"):
        F.multi_margin_loss(x, ember.tensor([0, 3]))
    with pytest.raises(RuntimeError, match=r"Expected target size \[2\], but got \[2, 1\]"):
        F.multi_margin_loss(x, ember.tensor([[0], [1]]))
    with pytest.raises(RuntimeError, match="argument #2 'target' is out of range"):
        F.multilabel_margin_loss(x, ember.tensor([[0, 1, 5], [1, -1, 0]]))
    with pytest.raises(RuntimeError, match=r"inconsistent target size: \[2\] for input of size: \[2, 3\]"):
        F.multilabel_margin_loss(x, ember.tensor([0, 1]))
    with pytest.raises(ValueError, match="margin must be greater than 0, got 0"):
        F.triplet_margin_with_distance_loss(x, x, x, margin=0)
    with pytest.raises(ValueError, match="expected margin to be greater than 0"):
        nn.TripletMarginWithDistanceLoss(margin=-1.0)


@pytest.mark.parametrize("loss", [nn.MultiLabelSoftMarginLoss(), nn.MultiLabelMarginLoss()], ids=type)
def test_multilabel_classifier_learns(loss):
    """Which of 4 labels hold: label k when feature k > 0."""
    rng = np.random.default_rng(1)
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 4))
    opt = ember.optim.Adam(model.parameters(), lr=0.01)

    def batch(n):
        x = rng.standard_normal((n, 6))
        labels = x[:, :4] > 0
        if isinstance(loss, nn.MultiLabelMarginLoss):  # the labels that hold, then -1
            lists = np.full((n, 4), -1)
            for i, row in enumerate(labels):
                lists[i, :row.sum()] = np.flatnonzero(row)
            return ember.tensor(x.astype(np.float32)), ember.tensor(lists), labels
        return ember.tensor(x.astype(np.float32)), ember.tensor(labels.astype(np.float32)), labels

    for _ in range(300):
        x, target, _ = batch(64)
        opt.zero_grad()
        loss(model(x), target).backward()
        opt.step()
    x, _, labels = batch(1000)
    with ember.no_grad():
        scores = model(x).numpy()
    if isinstance(loss, nn.MultiLabelSoftMarginLoss):  # the labels whose probability is above 1/2, all right
        accuracy = ((scores > 0) == labels).all(axis=1).mean()
    else:  # a ranking loss: the fraction of (label that holds, label that does not) pairs in the right order
        above = scores[:, :, None] > scores[:, None, :]
        pairs = labels[:, :, None] & ~labels[:, None, :]
        accuracy = above[pairs].mean()
    assert accuracy > 0.85, accuracy
