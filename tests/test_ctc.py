"""ctc_loss and nn.CTCLoss: values and gradients against PyTorch, gradcheck, target formats and errors."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn
from ember.autograd import gradcheck

RNG = np.random.default_rng(0)
T, N, C = 12, 4, 6
LOGITS = RNG.normal(size=(T, N, C))
TARGETS = RNG.integers(1, C, size=(N, 5))
TARGETS[0, :3] = [2, 2, 3]  # a repeated label needs a blank between its copies
TARGET_LENGTHS = np.array([3, 5, 0, 2])  # an empty target too
INPUT_LENGTHS = np.array([12, 10, 7, 12])


def _both(torch, logits, targets, input_lengths, target_lengths, dtype=np.float64, **kw):
    """Loss and logits gradient (through log_softmax) of ember and PyTorch."""
    out = []
    for lib, fn, lsm in ((ember, F.ctc_loss, F.log_softmax),
                         (torch, torch.nn.functional.ctc_loss, torch.log_softmax)):
        x = lib.tensor(logits.astype(dtype), requires_grad=True)
        loss = fn(lsm(x, -1), lib.tensor(targets), lib.tensor(input_lengths), lib.tensor(target_lengths), **kw)
        loss.sum().backward()
        out.append((loss.detach().numpy(), x.grad.numpy()))
    return out


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_padded_targets_vs_torch(reduction, torch):
    (le, ge), (lt, gt) = _both(torch, LOGITS, TARGETS, INPUT_LENGTHS, TARGET_LENGTHS, reduction=reduction)
    np.testing.assert_allclose(le, lt, rtol=1e-10)
    np.testing.assert_allclose(ge, gt, rtol=1e-9, atol=1e-12)


def test_concatenated_targets_and_blank_vs_torch(torch):
    flat = np.concatenate([TARGETS[i, :k] for i, k in enumerate(TARGET_LENGTHS)]) - 1  # labels 0..4, blank 5
    (le, ge), (lt, gt) = _both(torch, LOGITS, flat, INPUT_LENGTHS, TARGET_LENGTHS, blank=5, reduction="none")
    np.testing.assert_allclose(le, lt, rtol=1e-10)
    np.testing.assert_allclose(ge, gt, rtol=1e-9, atol=1e-12)


def test_float32_vs_torch(torch):
    (le, ge), (lt, gt) = _both(torch, LOGITS, TARGETS, INPUT_LENGTHS, TARGET_LENGTHS, dtype=np.float32)
    assert ge.dtype == np.float32
    np.testing.assert_allclose(le, lt, rtol=1e-5)
    np.testing.assert_allclose(ge, gt, rtol=1e-4, atol=1e-6)


def test_impossible_target_is_infinite_or_zeroed_like_torch(torch):
    """Target [1, 1] needs 3 frames (a blank between the repeats); 2 frames give an infinite loss."""
    logits, targets = LOGITS[:2, :1], np.array([[1, 1]])
    le = F.ctc_loss(F.log_softmax(ember.tensor(logits), -1), ember.tensor(targets), [2], [2], reduction="none")
    assert np.isinf(le.numpy()).all()
    (le, ge), (lt, gt) = _both(torch, logits, targets, [2], [2], zero_infinity=True)
    assert le == lt == 0.0
    np.testing.assert_array_equal(ge, gt)
    np.testing.assert_array_equal(ge, 0.0)


def test_gradcheck_on_log_probs():
    lp = ember.tensor(RNG.normal(size=(6, 3, 4)), requires_grad=True)
    targets = ember.tensor([[1, 1, 2], [2, 3, 0], [3, 0, 0]])
    assert gradcheck(lambda x: F.ctc_loss(x, targets, [6, 5, 4], [3, 2, 1], reduction="sum"), [lp])
    assert gradcheck(lambda x: F.ctc_loss(x, targets, [6, 5, 4], [3, 2, 1]), [lp])


def test_unbatched_input():
    lp = F.log_softmax(ember.tensor(LOGITS[:, 0]), -1)
    one = F.ctc_loss(lp, ember.tensor(TARGETS[0, :3]), ember.tensor(12), ember.tensor(3), reduction="none")
    batched = F.ctc_loss(lp.unsqueeze(1), ember.tensor(TARGETS[:1, :3]), [12], [3], reduction="none")
    assert one.shape == ()
    np.testing.assert_allclose(one.numpy(), batched.numpy()[0])


def test_module_and_training_step_lower_the_loss():
    ember.manual_seed(0)
    rnn = nn.GRU(5, 16)
    head = nn.Linear(16, C)
    loss_fn = nn.CTCLoss(zero_infinity=True)
    opt = ember.optim.Adam(list(rnn.parameters()) + list(head.parameters()), lr=0.05)
    x = ember.tensor(RNG.normal(size=(T, N, 5)), dtype=ember.float32)
    targets, il, tl = ember.tensor(TARGETS), ember.tensor(INPUT_LENGTHS), ember.tensor(TARGET_LENGTHS)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = loss_fn(head(rnn(x)[0]).log_softmax(-1), targets, il, tl)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]


def test_double_backward_is_a_clear_error():
    lp = ember.tensor(RNG.normal(size=(4, 1, 3)), requires_grad=True)
    (g,) = ember.autograd.grad(F.ctc_loss(lp, ember.tensor([[1]]), [4], [1]), [lp], create_graph=True)
    with pytest.raises(RuntimeError, match="ctc_loss: .*double backward"):
        g.sum().backward()


@pytest.mark.parametrize("kwargs,match", [
    (dict(input_lengths=[13, 10, 7, 12]), r"input_lengths must lie in \[1, 12\]"),
    (dict(input_lengths=[12, 10]), "one length per sample"),
    (dict(target_lengths=[3, 6, 0, 2]), "longer than the targets' 5 columns"),
    (dict(blank=6), r"blank must be in label range \[0, 6\)"),
    (dict(targets=np.zeros((4, 5), np.int64)), "differ from blank"),
    (dict(targets=np.ones((4, 5))), "targets must be integers"),
])
def test_bad_arguments_are_clear_errors(kwargs, match):
    args = dict(targets=TARGETS, input_lengths=INPUT_LENGTHS, target_lengths=TARGET_LENGTHS)
    args.update(kwargs)
    blank = args.pop("blank", 0)
    with pytest.raises((RuntimeError, TypeError), match=match):
        F.ctc_loss(ember.tensor(LOGITS), ember.tensor(args["targets"]), args["input_lengths"],
                   args["target_lengths"], blank=blank)
