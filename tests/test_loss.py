"""nn.functional losses: gradcheck (float64), double backward, PyTorch comparison of values and gradients over a
grid of options, numerical stability, and errors."""
import itertools
import math
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.autograd import gradcheck, gradgradcheck
from helpers import second_derivatives

REDUCTIONS = ["none", "mean", "sum"]
RNG = np.random.default_rng


def t64(a, requires_grad=True):
    return ember.tensor(np.asarray(a, dtype=np.float64), dtype=ember.float64, requires_grad=requires_grad)


def probs(*shape, seed=0, axis=1):
    p = RNG(seed).uniform(0.1, 1.0, size=shape)
    return p / p.sum(axis=axis, keepdims=True)


# --- gradcheck: cross_entropy / nll_loss ----------------------------------------------------------------------

CE_SHAPES = {"NC": ((4, 3), (4,)), "C": ((5,), ()), "NCd1d2": ((2, 3, 2, 2), (2, 2, 2))}


def _index_target(tshape, C, seed=0, ignore=None):
    t = RNG(seed).integers(0, C, size=tshape)
    if ignore is not None and t.size > 1:
        t.reshape(-1)[1] = ignore
    return ember.tensor(t)


@pytest.mark.parametrize("shape", sorted(CE_SHAPES))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", [{}, {"weight": True}, {"ignore_index": 1}, {"label_smoothing": 0.2},
                                  {"weight": True, "ignore_index": -100, "label_smoothing": 0.1, "ignored": True}])
def test_gradcheck_cross_entropy_indices(shape, reduction, opts):
    xs, ts = CE_SHAPES[shape]
    C = xs[1] if len(xs) > 1 else xs[0]
    opts = dict(opts)
    ignored = opts.pop("ignored", False)
    target = _index_target(ts, C, ignore=-100 if ignored else None)
    if opts.pop("weight", False):
        opts["weight"] = t64(RNG(1).uniform(0.5, 2.0, size=C), requires_grad=False)
    x = t64(RNG(2).normal(size=xs))
    assert gradcheck(lambda x: F.cross_entropy(x, target, reduction=reduction, **opts), [x])
    assert gradcheck(lambda x: F.nll_loss(F.log_softmax(x, 0 if len(xs) == 1 else 1), target, reduction=reduction,
                                          **{k: v for k, v in opts.items() if k != "label_smoothing"}), [x])


@pytest.mark.parametrize("shape", sorted(CE_SHAPES))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", [{}, {"weight": True, "label_smoothing": 0.3}])
def test_gradcheck_cross_entropy_probabilities(shape, reduction, opts):
    """Probability targets: gradients with respect to both the logits and the target."""
    xs, _ = CE_SHAPES[shape]
    C = xs[1] if len(xs) > 1 else xs[0]
    opts = dict(opts)
    if opts.pop("weight", False):
        opts["weight"] = t64(RNG(1).uniform(0.5, 2.0, size=C), requires_grad=False)
    x = t64(RNG(2).normal(size=xs))
    p = t64(probs(*xs, axis=0 if len(xs) == 1 else 1))
    assert gradcheck(lambda x, p: F.cross_entropy(x, p, reduction=reduction, **opts), [x, p])


@pytest.mark.parametrize("kind", ["indices", "indices_smooth_weight", "probabilities", "nll"])
def test_gradgradcheck_cross_entropy(kind):
    x = t64(RNG(3).normal(size=(3, 4)))
    if kind == "probabilities":
        p = t64(probs(3, 4))
        assert gradgradcheck(lambda x, p: F.cross_entropy(x, p, label_smoothing=0.1), [x, p])
        return
    target = ember.tensor([0, 3, 1])
    if kind == "nll":
        assert gradgradcheck(lambda x: F.nll_loss(F.log_softmax(x, 1), target, reduction="sum"), [x])
        return
    kw = {"weight": t64([1.0, 2.0, 0.5, 1.5], False), "label_smoothing": 0.2} if kind != "indices" else {}
    assert gradgradcheck(lambda x: F.cross_entropy(x, target, **kw), [x])
    assert gradgradcheck(lambda x: F.cross_entropy(x, target, reduction="none", **kw), [x])


# --- gradcheck: the other losses ------------------------------------------------------------------------------

def _inputs(seed=0, shape=(3, 4)):
    rng = RNG(seed)
    return rng.normal(size=shape), rng.normal(size=shape)


def _far_from(a, b, kinks):
    """b adjusted so that |a - b| stays 0.1 away from each kink."""
    d = np.abs(a - b)
    for k in kinks:
        bad = np.abs(d - k) < 0.1
        b = np.where(bad, b + np.sign(b - a + 1e-12) * 0.25, b)
        d = np.abs(a - b)
    return b


def _losses():
    a, b = _inputs()
    pm1 = np.where(RNG(5).random((3, 4)) < 0.5, -1.0, 1.0)
    prob = RNG(6).uniform(0.05, 0.95, size=(3, 4))
    tprob = RNG(7).uniform(0.0, 1.0, size=(3, 4))
    w = RNG(8).uniform(0.5, 2.0, size=(3, 4))
    cases = {
        "mse": (lambda x, y, r: F.mse_loss(x, y, reduction=r), [a, b]),
        "mse_weight": (lambda x, y, r: F.mse_loss(x, y, reduction=r, weight=t64(w, False)), [a, b]),
        "l1": (lambda x, y, r: F.l1_loss(x, y, reduction=r), [a, b]),
        "l1_weight": (lambda x, y, r: F.l1_loss(x, y, reduction=r, weight=t64(w, False)), [a, b]),
        "smooth_l1": (lambda x, y, r: F.smooth_l1_loss(x, y, reduction=r, beta=0.5), [a, _far_from(a, b, [0.5])]),
        "smooth_l1_beta0": (lambda x, y, r: F.smooth_l1_loss(x, y, reduction=r, beta=0.0), [a, b]),
        "huber": (lambda x, y, r: F.huber_loss(x, y, reduction=r, delta=0.7), [a, _far_from(a, b, [0.7])]),
        "huber_weight": (lambda x, y, r: F.huber_loss(x, y, reduction=r, weight=t64(w, False)),
                         [a, _far_from(a, b, [1.0])]),
        "bce": (lambda x, y, r: F.binary_cross_entropy(x, y, reduction=r), [prob, tprob]),
        "bce_weight": (lambda x, y, r: F.binary_cross_entropy(x, y, reduction=r, weight=t64(w, False)),
                       [prob, tprob]),
        "bce_logits": (lambda x, y, r: F.binary_cross_entropy_with_logits(x, y, reduction=r), [a * 3, tprob]),
        "bce_logits_pos_weight": (
            lambda x, y, r: F.binary_cross_entropy_with_logits(x, y, reduction=r, weight=t64(w, False),
                                                               pos_weight=t64([0.5, 1.0, 2.0, 3.0], False)),
            [a * 3, tprob]),
        "kl_div": (lambda x, y, r: F.kl_div(x, y, reduction=r), [np.log(prob), tprob + 0.01]),
        "kl_div_log_target": (lambda x, y, r: F.kl_div(x, y, reduction=r, log_target=True), [np.log(prob), b]),
        "hinge_embedding": (lambda x, r: F.hinge_embedding_loss(x, t64(pm1, False), margin=0.5, reduction=r),
                            [_far_from(np.zeros(1), a, [0.5])]),
        "soft_margin": (lambda x, r: F.soft_margin_loss(x, t64(pm1, False), reduction=r), [a]),
        "margin_ranking": (lambda x, y, r: F.margin_ranking_loss(x[0], y[0], t64(pm1[0], False), margin=0.1,
                                                                 reduction=r), [a, _far_from(a, b, [0.1])]),
        "poisson_log": (lambda x, y, r: F.poisson_nll_loss(x, y, reduction=r), [a, np.abs(b) * 3]),
        "poisson_full": (lambda x, y, r: F.poisson_nll_loss(x, y, log_input=False, full=True, reduction=r),
                         [np.abs(a) + 0.5, np.abs(b) * 3 + 0.2]),
        "gaussian": (lambda x, y, v, r: F.gaussian_nll_loss(x, y, v, reduction=r), [a, b, np.abs(a) + 0.5]),
        "gaussian_full_homo": (lambda x, y, v, r: F.gaussian_nll_loss(x, y, v, full=True, reduction=r),
                               [a, b, np.abs(a[:, 0]) + 0.5]),
        "cosine_embedding": (lambda x, y, r: F.cosine_embedding_loss(x, y, t64(pm1[:, 0], False), margin=-0.5,
                                                                     reduction=r), [a, b]),
        "triplet": (lambda x, y, z, r: F.triplet_margin_loss(x, y, z, margin=5.0, reduction=r), [a, b, a[::-1] * 2]),
        "triplet_swap_p1": (lambda x, y, z, r: F.triplet_margin_loss(x, y, z, margin=5.0, p=1, swap=True,
                                                                    reduction=r), [a, b, a[::-1] * 2]),
    }
    return cases


LOSSES = _losses()


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_losses(name, reduction):
    fn, arrays = LOSSES[name]
    inputs = [t64(a) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert gradcheck(lambda *xs: fn(*xs, reduction), inputs)


@pytest.mark.parametrize("name", ["mse", "bce", "bce_logits_pos_weight", "kl_div", "kl_div_log_target", "gaussian",
                                  "poisson_full", "soft_margin", "cosine_embedding", "triplet"])
def test_gradgradcheck_losses(name):
    fn, arrays = LOSSES[name]
    inputs = [t64(a) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert gradgradcheck(lambda *xs: fn(*xs, "sum"), inputs)


# --- values and gradients against PyTorch ---------------------------------------------------------------------

def compare(torch, fe, ft, arrays, grads=None, rtol=1e-7, atol=1e-10):
    """Run fe on ember tensors and ft on torch tensors built from arrays (float arrays require grad unless listed in
    grads=False positions); compare values, then the gradients for a random upstream gradient."""
    em, th = [], []
    for i, a in enumerate(arrays):
        a = np.asarray(a)
        rg = a.dtype.kind == "f" and (grads is None or grads[i])
        em.append(ember.tensor(a, requires_grad=rg))
        th.append(torch.tensor(a, requires_grad=rg))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        oe, ot = fe(*em), ft(*th)
    assert tuple(oe.shape) == tuple(ot.shape)
    np.testing.assert_allclose(oe.detach().numpy(), ot.detach().numpy(), rtol=rtol, atol=atol)
    go = RNG(1).standard_normal(tuple(ot.shape))
    oe.backward(ember.tensor(go))
    ot.backward(torch.tensor(go))
    for e, t in zip(em, th):
        if t.requires_grad:
            assert e.grad is not None
            np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)
    return oe, em


CE_TORCH_SHAPES = [((5, 4), (5,)), ((4,), ()), ((3, 4, 2, 3), (3, 2, 3)), ((2, 3, 5), (2, 5))]


@pytest.mark.parametrize("xs,ts", CE_TORCH_SHAPES, ids=["NC", "C", "NCd1d2", "NCd1"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_indices_vs_torch(xs, ts, reduction, torch):
    C = xs[1] if len(xs) > 1 else xs[0]
    x = RNG(0).normal(0, 2, size=xs)
    w = RNG(1).uniform(0.2, 2.0, size=C)
    for weight, ls, ignore in itertools.product((None, w), (0.0, 0.25), (None, 2)):
        t = RNG(2).integers(0, C, size=ts)
        if ignore is not None and t.size > 2:
            t.reshape(-1)[:2] = ignore
        kw = {"reduction": reduction, "label_smoothing": ls}
        if ignore is not None:
            kw["ignore_index"] = ignore
        wt = None if weight is None else weight

        def fe(x, t, wt=wt, kw=kw):
            return F.cross_entropy(x, t, weight=None if wt is None else ember.tensor(wt), **kw)

        def ft(x, t, wt=wt, kw=kw):
            return torch.nn.functional.cross_entropy(x, t, weight=None if wt is None else torch.tensor(wt), **kw)

        compare(torch, fe, ft, [x, t])
        if ls == 0.0:
            kwn = {k: v for k, v in kw.items() if k != "label_smoothing"}
            compare(torch, lambda lp, t, wt=wt, kw=kwn: F.nll_loss(lp, t, None if wt is None else ember.tensor(wt),
                                                                     **kw),
                    lambda lp, t, wt=wt, kw=kwn: torch.nn.functional.nll_loss(
                        lp, t, None if wt is None else torch.tensor(wt), **kw), [x, t])


@pytest.mark.parametrize("xs", [(5, 4), (4,), (2, 3, 2, 2)], ids=["NC", "C", "NCd1d2"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probabilities_vs_torch(xs, reduction, torch):
    C = xs[1] if len(xs) > 1 else xs[0]
    x = RNG(0).normal(0, 2, size=xs)
    p = probs(*xs, axis=0 if len(xs) == 1 else 1)
    w = RNG(1).uniform(0.2, 2.0, size=C)
    for weight, ls in itertools.product((None, w), (0.0, 0.3)):
        kw = {"reduction": reduction, "label_smoothing": ls}
        compare(torch, lambda x, p, kw=kw, wt=weight: F.cross_entropy(x, p, None if wt is None else ember.tensor(wt),
                                                                      **kw),
                lambda x, p, kw=kw, wt=weight: torch.nn.functional.cross_entropy(
                    x, p, None if wt is None else torch.tensor(wt), **kw), [x, p])


def test_cross_entropy_float32_and_double_backward_vs_torch(torch):
    x = RNG(0).normal(size=(6, 5)).astype(np.float32)
    t = np.array([0, 4, 2, 2, 1, 3])
    xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    le = F.cross_entropy(xe, ember.tensor(t), label_smoothing=0.1)
    lt = torch.nn.functional.cross_entropy(xt, torch.tensor(t), label_smoothing=0.1)
    assert le.dtype == ember.float32
    np.testing.assert_allclose(le.detach().numpy(), lt.detach().numpy(), rtol=1e-5)
    (ge,) = ember.autograd.grad(le, xe, create_graph=True)
    (gt,) = torch.autograd.grad(lt, xt, create_graph=True)
    np.testing.assert_allclose(ge.detach().numpy(), gt.detach().numpy(), rtol=1e-5, atol=1e-7)
    (ge * ge).sum().backward()
    (gt * gt).sum().backward()
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-7)


CE_DOUBLE = {
    "indices": (lambda F, x, t: F.cross_entropy(x, t), (4, 5), (4,)),
    "indices_none_NCd": (lambda F, x, t: F.cross_entropy(x, t, reduction="none"), (2, 3, 4), (2, 4)),
    "indices_sum_unbatched": (lambda F, x, t: F.cross_entropy(x, t, reduction="sum"), (5,), ()),
    "smoothing_ignore": (lambda F, x, t: F.cross_entropy(x, t, ignore_index=1, label_smoothing=0.2), (6, 5), (6,)),
    "nll_weighted": (lambda F, x, t: F.nll_loss(x, t, weight=x.new_tensor([0.5, 1.0, 2.0, 1.5, 1.0])), (4, 5), (4,)),
    "probabilities": (lambda F, x, p: F.cross_entropy(x, p, label_smoothing=0.1), (4, 5), None),
    "probabilities_none": (lambda F, x, p: F.cross_entropy(x, p, reduction="none"), (2, 3, 2), None),
}


@pytest.mark.parametrize("name", sorted(CE_DOUBLE))
def test_cross_entropy_double_backward_vs_torch(name, torch):
    """NllLossGrad's backward (the second derivative, from the loss's decomposition) against PyTorch's double
    backward, with respect to the logits, the probability targets and the incoming gradient."""
    fn, xshape, tshape = CE_DOUBLE[name]
    x = RNG(0).normal(size=xshape)
    if tshape is None:
        arrays, grads_on = [x, probs(*xshape, seed=2)], [True, True]
    else:
        arrays, grads_on = [x, RNG(2).integers(0, xshape[1] if len(xshape) > 1 else xshape[0], size=tshape)], \
            [True, False]
    ours = second_derivatives(ember, lambda *a: fn(F, *a), arrays, grads_on)
    theirs = second_derivatives(torch, lambda *a: fn(torch.nn.functional, *a), arrays, grads_on)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_cross_entropy_stable_on_huge_logits(torch):
    x = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 1e4 - 3.0], [5.0, -1e4, 1e4]])
    t = np.array([0, 2, 1])
    for ls in (0.0, 0.2):
        oe, em = compare(torch, lambda x, t, ls=ls: F.cross_entropy(x, t, label_smoothing=ls),
                         lambda x, t, ls=ls: torch.nn.functional.cross_entropy(x, t, label_smoothing=ls), [x, t])
        assert np.isfinite(float(oe)) and np.all(np.isfinite(em[0].grad.numpy()))
    x32 = ember.tensor(x.astype(np.float32), requires_grad=True)
    loss = F.cross_entropy(x32, ember.tensor(t))
    loss.backward()
    assert np.isfinite(float(loss)) and np.all(np.isfinite(x32.grad.numpy()))


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 2e-5)])
def test_cross_entropy_rows_at_very_different_offsets_vs_torch(dtype, tol, torch):
    """log_softmax shifts by the batch's maximum; rows far below it are redone with their own."""
    rng = RNG(3)
    x = (rng.normal(size=(64, 17)) * rng.uniform(0.1, 30, (64, 1)) + rng.uniform(-80, 80, (64, 1))).astype(dtype)
    t = rng.integers(0, 17, size=64)
    for kw in ({}, {"reduction": "none"}, {"ignore_index": 3}, {"weight": rng.uniform(0.5, 2, 17).astype(dtype)}):
        xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ke = {k: ember.tensor(v) if k == "weight" else v for k, v in kw.items()}
        kt = {k: torch.tensor(v) if k == "weight" else v for k, v in kw.items()}
        le = F.cross_entropy(xe, ember.tensor(t), **ke)
        lt = torch.nn.functional.cross_entropy(xt, torch.tensor(t), **kt)
        scale = np.abs(lt.detach().numpy()).max()
        np.testing.assert_allclose(le.detach().numpy(), lt.detach().numpy(), rtol=tol, atol=tol * scale)
        le.sum().backward()
        lt.sum().backward()
        np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=tol, atol=tol)


def test_cross_entropy_minus_inf_logits_of_other_classes(torch):
    """Masked logits (-inf) of classes that are not the target leave the loss finite, as in PyTorch."""
    x = np.array([[0.5, -np.inf, 1.0], [-np.inf, 2.0, 0.0]])
    t = np.array([0, 1])
    compare(torch, F.cross_entropy, torch.nn.functional.cross_entropy, [x, t])
    with np.errstate(divide="ignore"):
        lp = np.log(np.array([[0.5, 0.0, 0.5], [0.0, 1.0, 0.0]]))
    compare(torch, lambda a, b: F.nll_loss(a, b, ignore_index=1), lambda a, b: torch.nn.functional.nll_loss(
        a, b, ignore_index=1), [lp, np.array([0, 1])])


def test_cross_entropy_all_ignored_is_nan_like_torch(torch):
    x = RNG(0).normal(size=(2, 3))
    t = np.array([-100, -100])
    with np.errstate(all="ignore"):
        le = F.cross_entropy(ember.tensor(x), ember.tensor(t))
    lt = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t))
    assert math.isnan(float(le)) and math.isnan(float(lt))
    assert float(F.cross_entropy(ember.tensor(x), ember.tensor(t), reduction="sum")) == 0.0


PAIRS = {
    "mse_loss": [{}, {"weight": "w"}],
    "l1_loss": [{}, {"weight": "w"}],
    "smooth_l1_loss": [{}, {"beta": 0.5}, {"beta": 0.0}, {"beta": 2.0}],
    "huber_loss": [{}, {"delta": 0.5}, {"delta": 2.0, "weight": "w"}],
    "soft_margin_loss": [{}],
    "hinge_embedding_loss": [{}, {"margin": 0.3}],
}


@pytest.mark.parametrize("name,kw", [(n, k) for n, ks in PAIRS.items() for k in ks],
                         ids=[f"{n}-{i}" for n, ks in PAIRS.items() for i in range(len(ks))])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_pair_losses_vs_torch(name, kw, reduction, torch):
    a, b = _inputs(3)
    if name in ("soft_margin_loss", "hinge_embedding_loss"):
        b = np.where(b > 0, 1.0, -1.0)
    w = RNG(4).uniform(0.5, 2.0, size=a.shape)
    ke = {k: (ember.tensor(w) if v == "w" else v) for k, v in kw.items()}
    kt = {k: (torch.tensor(w) if v == "w" else v) for k, v in kw.items()}
    compare(torch, lambda x, y: getattr(F, name)(x, y, reduction=reduction, **ke),
            lambda x, y: getattr(torch.nn.functional, name)(x, y, reduction=reduction, **kt), [a, b],
            grads=[True, name not in ("soft_margin_loss", "hinge_embedding_loss")])


def test_pair_losses_broadcast_and_warn(torch):
    a, b = _inputs(3)
    with pytest.warns(UserWarning, match="target size"):
        F.mse_loss(ember.tensor(a), ember.tensor(b[:1]))
    compare(torch, F.l1_loss, torch.nn.functional.l1_loss, [a, b[:1]])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_vs_torch(reduction, torch):
    x = RNG(0).uniform(0.02, 0.98, size=(3, 4))
    t = RNG(1).uniform(0, 1, size=(3, 4))
    w = RNG(2).uniform(0.5, 2, size=(3, 4))
    tf = torch.nn.functional
    compare(torch, lambda x, t: F.binary_cross_entropy(x, t, reduction=reduction),
            lambda x, t: tf.binary_cross_entropy(x, t, reduction=reduction), [x, t])
    compare(torch, lambda x, t, w: F.binary_cross_entropy(x, t, w, reduction=reduction),
            lambda x, t, w: tf.binary_cross_entropy(x, t, w, reduction=reduction), [x, t, w], grads=[True, True, False])


def test_bce_log_clamp_at_minus_100(torch):
    x = np.array([0.0, 1e-50, 1.0 - 1e-13, 1.0, 0.5, 1e-13])
    t = np.array([0.0, 1.0, 0.0, 1.0, 0.3, 1.0])
    compare(torch, lambda x, t: F.binary_cross_entropy(x, t, reduction="none"),
            lambda x, t: torch.nn.functional.binary_cross_entropy(x, t, reduction="none"), [x, t],
            grads=[True, False], rtol=1e-6)
    loss = F.binary_cross_entropy(ember.tensor([0.0]), ember.tensor([1.0]))
    assert float(loss) == 100.0


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_vs_torch(reduction, torch):
    x = RNG(0).normal(0, 4, size=(3, 4))
    x[0] = [0.0, 1e4, -1e4, 50.0]  # stable at any magnitude
    t = RNG(1).uniform(0, 1, size=(3, 4))
    w = RNG(2).uniform(0.5, 2, size=(3, 4))
    pw = np.array([0.5, 1.0, 2.0, 4.0])
    tf = torch.nn.functional
    for kw in ({}, {"weight": w}, {"pos_weight": pw}, {"weight": w, "pos_weight": pw}):
        oe, em = compare(torch, lambda x, t, kw=kw: F.binary_cross_entropy_with_logits(
            x, t, reduction=reduction, **{k: ember.tensor(v) for k, v in kw.items()}),
            lambda x, t, kw=kw: tf.binary_cross_entropy_with_logits(
                x, t, reduction=reduction, **{k: torch.tensor(v) for k, v in kw.items()}), [x, t])
        assert np.all(np.isfinite(oe.detach().numpy())) and np.all(np.isfinite(em[0].grad.numpy()))


@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_vs_torch(reduction, log_target, torch):
    lp = np.log(probs(3, 4))
    t = np.log(probs(3, 4, seed=1)) if log_target else probs(3, 4, seed=1)
    if not log_target:
        t[0, 0] = 0.0  # xlogy(0, 0) = 0
    grads = [True, log_target]  # PyTorch's target gradient at a zero target is NaN
    compare(torch, lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target),
            lambda a, b: torch.nn.functional.kl_div(a, b, reduction=reduction, log_target=log_target), [lp, t],
            grads=grads)
    if not log_target:
        t2 = probs(3, 4, seed=2)
        compare(torch, lambda a, b: F.kl_div(a, b, reduction=reduction),
                lambda a, b: torch.nn.functional.kl_div(a, b, reduction=reduction), [lp, t2])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_losses_vs_torch(reduction, torch):
    tf = torch.nn.functional
    rng = RNG(0)
    a, b, c = rng.normal(size=(3, 5, 4))
    y = np.array([1.0, -1.0, 1.0, -1.0, 0.0])  # 0: neither term (PyTorch's where on target == 1 / == -1)
    for margin in (0.0, 0.5):
        compare(torch, lambda p, q: F.margin_ranking_loss(p, q, ember.tensor(y), margin, reduction=reduction),
                lambda p, q: tf.margin_ranking_loss(p, q, torch.tensor(y), margin, reduction=reduction),
                [a[:, 0], b[:, 0]])
        compare(torch, lambda p, q: F.cosine_embedding_loss(p, q, ember.tensor(y), margin, reduction=reduction),
                lambda p, q: tf.cosine_embedding_loss(p, q, torch.tensor(y), margin, reduction=reduction), [a, b])
        compare(torch, lambda p, q: F.cosine_embedding_loss(p, q, ember.tensor(-1.0), margin, reduction=reduction),
                lambda p, q: tf.cosine_embedding_loss(p, q, torch.tensor(-1.0), margin, reduction=reduction),
                [a[0], a[0] + 0.1 * b[0]])
    for margin, p, swap in itertools.product((0.5, 3.0), (1, 2, 3), (False, True)):
        compare(torch, lambda x, y, z: F.triplet_margin_loss(x, y, z, margin, p, swap=swap, reduction=reduction),
                lambda x, y, z: tf.triplet_margin_loss(x, y, z, margin, p, swap=swap, reduction=reduction),
                [a, b, c])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_poisson_gaussian_vs_torch(reduction, torch):
    tf = torch.nn.functional
    rng = RNG(0)
    x = rng.normal(size=(3, 4))
    t = rng.integers(0, 5, size=(3, 4)).astype(np.float64)
    for log_input, full in itertools.product((True, False), (False, True)):
        xi = x if log_input else np.abs(x) + 0.1
        compare(torch, lambda a, b: F.poisson_nll_loss(a, b, log_input, full, reduction=reduction),
                lambda a, b: tf.poisson_nll_loss(a, b, log_input, full, reduction=reduction), [xi, t],
                grads=[True, not full])  # PyTorch's full target gradient is NaN at zero targets (ember's is finite)
    var = np.abs(rng.normal(size=(3, 4))) + 0.1
    var[0, 0] = 1e-9  # below eps: clamped in value, gradient as if unclamped (PyTorch's no_grad clamp)
    for full in (False, True):
        compare(torch, lambda a, b, v: F.gaussian_nll_loss(a, b, v, full, reduction=reduction),
                lambda a, b, v: tf.gaussian_nll_loss(a, b, v, full, reduction=reduction), [x, t, var], rtol=1e-6)
        compare(torch, lambda a, b, v: F.gaussian_nll_loss(a, b, v, full, reduction=reduction),
                lambda a, b, v: tf.gaussian_nll_loss(a, b, v, full, reduction=reduction), [x, t, var[:, :1]])
        compare(torch, lambda a, b, v: F.gaussian_nll_loss(a, b, v, full, reduction=reduction),
                lambda a, b, v: tf.gaussian_nll_loss(a, b, v, full, reduction=reduction), [x, t, var[:, 0]])
    compare(torch, lambda a, b: F.gaussian_nll_loss(a, b, 0.5, reduction=reduction),
            lambda a, b: tf.gaussian_nll_loss(a, b, 0.5, reduction=reduction), [x, t])


def test_legacy_size_average_and_reduce():
    a, b = (ember.tensor(v) for v in _inputs())
    deprecated = "size_average and reduce args will be deprecated, please use reduction='{}' instead"
    with pytest.warns(UserWarning, match=deprecated.format("sum")):
        assert float(F.mse_loss(a, b, size_average=False)) == pytest.approx(float(F.mse_loss(a, b, reduction="sum")))
    with pytest.warns(UserWarning, match=deprecated.format("none")):
        assert tuple(F.l1_loss(a, b, reduce=False).shape) == (3, 4)
    x, t = ember.tensor(RNG(0).normal(size=(3, 4))), ember.tensor([0, 1, 2])
    with pytest.warns(UserWarning, match=deprecated.format("sum")):  # as F.binary_cross_entropy(size_average=False)
        assert float(F.cross_entropy(x, t, size_average=False)) == pytest.approx(
            float(F.cross_entropy(x, t, reduction="sum")))


def test_legacy_flags_warn_once_through_a_module():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loss = ember.nn.MSELoss(size_average=False)
    assert [str(w.message) for w in caught] == [
        "size_average and reduce args will be deprecated, please use reduction='sum' instead."]
    assert loss.reduction == "sum"


def test_losses_through_modules_still_work():
    if not hasattr(ember.nn, "CrossEntropyLoss"):
        pytest.skip("loss modules not exported")
    x, t = ember.tensor(RNG(0).normal(size=(3, 4))), ember.tensor([0, 1, 2])
    assert float(ember.nn.CrossEntropyLoss()(x, t)) == pytest.approx(float(F.cross_entropy(x, t)))


# --- errors ---------------------------------------------------------------------------------------------------

BAD_REDUCTION = [
    ("cross_entropy", lambda r: F.cross_entropy(ember.randn(2, 3), ember.tensor([0, 1]), reduction=r)),
    ("nll_loss", lambda r: F.nll_loss(ember.randn(2, 3), ember.tensor([0, 1]), reduction=r)),
    ("mse_loss", lambda r: F.mse_loss(ember.randn(2), ember.randn(2), reduction=r)),
    ("l1_loss", lambda r: F.l1_loss(ember.randn(2), ember.randn(2), reduction=r)),
    ("smooth_l1_loss", lambda r: F.smooth_l1_loss(ember.randn(2), ember.randn(2), reduction=r)),
    ("huber_loss", lambda r: F.huber_loss(ember.randn(2), ember.randn(2), reduction=r)),
    ("binary_cross_entropy", lambda r: F.binary_cross_entropy(ember.rand(2), ember.rand(2), reduction=r)),
    ("binary_cross_entropy_with_logits",
     lambda r: F.binary_cross_entropy_with_logits(ember.randn(2), ember.rand(2), reduction=r)),
    ("kl_div", lambda r: F.kl_div(ember.randn(2), ember.rand(2), reduction=r)),
    ("hinge_embedding_loss", lambda r: F.hinge_embedding_loss(ember.randn(2), ember.ones(2), reduction=r)),
    ("margin_ranking_loss", lambda r: F.margin_ranking_loss(ember.randn(2), ember.randn(2), ember.ones(2),
                                                            reduction=r)),
    ("triplet_margin_loss", lambda r: F.triplet_margin_loss(ember.randn(2, 3), ember.randn(2, 3), ember.randn(2, 3),
                                                            reduction=r)),
    ("soft_margin_loss", lambda r: F.soft_margin_loss(ember.randn(2), ember.ones(2), reduction=r)),
    ("cosine_embedding_loss", lambda r: F.cosine_embedding_loss(ember.randn(2, 3), ember.randn(2, 3), ember.ones(2),
                                                                reduction=r)),
    ("poisson_nll_loss", lambda r: F.poisson_nll_loss(ember.randn(2), ember.rand(2), reduction=r)),
    ("gaussian_nll_loss", lambda r: F.gaussian_nll_loss(ember.randn(2), ember.randn(2), ember.rand(2), reduction=r)),
]


@pytest.mark.parametrize("op,fn", BAD_REDUCTION, ids=[b[0] for b in BAD_REDUCTION])
def test_bad_reduction_names_the_op(op, fn):
    with pytest.raises(ValueError, match=rf"^{op}: 'avg' is not a valid value for reduction"):
        fn("avg")


def test_cross_entropy_errors():
    x = ember.randn(3, 4)
    with pytest.raises(IndexError, match=r"cross_entropy: Target 4 is out of bounds for 4 classes"):
        F.cross_entropy(x, ember.tensor([0, 1, 4]))
    with pytest.raises(IndexError, match=r"cross_entropy: Target -1 is out of bounds"):
        F.cross_entropy(x, ember.tensor([0, -1, 2]))
    with pytest.raises(IndexError, match="nll_loss: Target 7 is out of bounds"):
        F.nll_loss(x, ember.tensor([0, 7, 2]))
    F.cross_entropy(x, ember.tensor([0, -1, 2]), ignore_index=-1)  # an ignored index may be out of range
    with pytest.raises(RuntimeError, match=r"cross_entropy: weight tensor should be defined either for all 4 classes"
                                           r".*\(3,\)"):
        F.cross_entropy(x, ember.tensor([0, 1, 2]), weight=ember.ones(3))
    with pytest.raises(ValueError, match=r"cross_entropy: Expected input batch_size \(3\) to match target "
                                         r"batch_size \(2\)"):
        F.cross_entropy(x, ember.tensor([0, 1]))
    with pytest.raises(RuntimeError, match=r"cross_entropy: Expected target size \(3, 5\), got \(3, 4\)"):
        F.cross_entropy(ember.randn(3, 4, 5), ember.zeros(3, 4, dtype=ember.int64))
    with pytest.raises(RuntimeError, match=r"cross_entropy: probability targets must have the input's shape"):
        F.cross_entropy(x, ember.rand(3, 5))
    with pytest.raises(RuntimeError, match="nll_loss: expected a target of class indices"):
        F.nll_loss(x, ember.rand(3, 4))
    with pytest.raises(ValueError, match="label_smoothing must be between 0.0 and 1.0"):
        F.cross_entropy(x, ember.tensor([0, 1, 2]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="cross_entropy: input must have at least one dimension"):
        F.cross_entropy(ember.tensor(1.0), ember.tensor(0))
    with pytest.raises(RuntimeError, match="cross_entropy: expected a floating-point input"):
        F.cross_entropy(ember.tensor([[1, 2]]), ember.tensor([0]))
    with pytest.raises(TypeError, match="cross_entropy"):
        F.cross_entropy(x, [0, 1, 2])


def test_other_loss_errors():
    with pytest.raises(ValueError, match="binary_cross_entropy: Using a target size"):
        F.binary_cross_entropy(ember.rand(3), ember.rand(3, 1))
    with pytest.raises(RuntimeError, match="binary_cross_entropy: all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(ember.tensor([0.5, 1.5]), ember.tensor([0.0, 1.0]))
    with pytest.raises(RuntimeError, match="binary_cross_entropy: all elements of target should be between 0 and 1"):
        F.binary_cross_entropy(ember.tensor([0.5, 0.5]), ember.tensor([0.0, 2.0]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: Target size \(\(3, 1\)\) must be the"):
        F.binary_cross_entropy_with_logits(ember.rand(3), ember.rand(3, 1))
    with pytest.raises(RuntimeError, match="smooth_l1_loss does not support negative values for beta"):
        F.smooth_l1_loss(ember.rand(3), ember.rand(3), beta=-1.0)
    with pytest.raises(RuntimeError, match="huber_loss does not support non-positive values for delta"):
        F.huber_loss(ember.rand(3), ember.rand(3), delta=0.0)
    with pytest.raises(ValueError, match="mse_loss: Weights and input must have the same size"):
        F.mse_loss(ember.rand(3), ember.rand(3), weight=ember.rand(2))
    with pytest.raises(RuntimeError, match="margin_ranking_loss: All input tensors should have same dimension"):
        F.margin_ranking_loss(ember.rand(2, 3), ember.rand(2, 3), ember.rand(3))
    with pytest.raises(RuntimeError, match="triplet_margin_loss: The anchor, positive, and negative tensors"):
        F.triplet_margin_loss(ember.rand(2, 3), ember.rand(2, 3), ember.rand(3))
    with pytest.raises(ValueError, match="triplet_margin_loss: margin must be greater than 0"):
        F.triplet_margin_loss(ember.rand(2, 3), ember.rand(2, 3), ember.rand(2, 3), margin=0.0)
    with pytest.raises(RuntimeError, match="cosine_embedding_loss: 1D target tensor expects 2D input tensors"):
        F.cosine_embedding_loss(ember.rand(3), ember.rand(3), ember.ones(3))
    with pytest.raises(RuntimeError, match="cosine_embedding_loss: 0D or 1D target tensor expected"):
        F.cosine_embedding_loss(ember.rand(2, 3), ember.rand(2, 3), ember.ones(2, 1))
    with pytest.raises(ValueError, match="gaussian_nll_loss: var has negative entry"):
        F.gaussian_nll_loss(ember.rand(3), ember.rand(3), ember.tensor([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="gaussian_nll_loss: var is of incorrect size"):
        F.gaussian_nll_loss(ember.rand(3, 4), ember.rand(3, 4), ember.rand(2, 2))
    with pytest.raises(TypeError, match="mse_loss"):
        F.mse_loss(ember.rand(3), [1.0, 2.0, 3.0])


def test_cross_entropy_with_every_target_ignored_vs_torch(torch):
    x = np.random.default_rng(3).standard_normal((3, 4)).astype(np.float32)
    for f in (lambda F, x, t: F.cross_entropy(x, t, ignore_index=1),
              lambda F, x, t: F.nll_loss(F.log_softmax(x, 1), t, ignore_index=1)):
        got, want = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        loss, ref = f(F, got, ember.tensor([1, 1, 1])), f(torch.nn.functional, want, torch.tensor([1, 1, 1]))
        loss.backward()
        ref.backward()
        assert np.isnan(loss.item()) and np.isnan(ref.item())  # 0 / 0
        np.testing.assert_array_equal(got.grad.numpy(), want.grad.numpy())  # no gradient: zeros, not NaN
