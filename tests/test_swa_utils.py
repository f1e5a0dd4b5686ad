"""optim.swa_utils: AveragedModel (SWA mean, EMA, custom averages, buffers), SWALR's schedule and update_bn,
against PyTorch where it is installed; and the averaged weights of a noisy SGD run landing nearer the optimum
than its last iterate."""
import numpy as np
import pytest

import ember
from ember import nn
from ember.optim import swa_utils

INIT = [np.arange(12.0).reshape(4, 3) / 10, np.ones(4), np.ones(4), np.zeros(4), np.ones((1, 4)) / 2, np.zeros(1)]


def _run(lib, averaging):
    """Six SGD steps of a small model with SWALR, averaged after each, then update_bn: the averaged model's
    tensors, the learning rates and its state_dict keys."""
    model = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4), lib.nn.Linear(4, 1))
    with lib.no_grad():
        for p, v in zip(model.parameters(), INIT):
            p.copy_(lib.tensor(v, dtype=p.dtype))
    kwargs = dict(averaging)
    if "ema" in kwargs:
        kwargs = {"multi_avg_fn": lib.optim.swa_utils.get_ema_multi_avg_fn(kwargs["ema"])}
    if "ema_single" in kwargs:
        kwargs = {"avg_fn": lib.optim.swa_utils.get_ema_avg_fn(kwargs["ema_single"])}
    averaged = lib.optim.swa_utils.AveragedModel(model, **kwargs)
    opt = lib.optim.SGD(model.parameters(), lr=0.1)
    sched = lib.optim.swa_utils.SWALR(opt, swa_lr=0.05, anneal_epochs=3)
    rng, lrs = np.random.default_rng(1), []
    for _ in range(6):
        x = lib.tensor(rng.standard_normal((8, 3)).astype(np.float32))
        y = lib.tensor(rng.standard_normal((8, 1)).astype(np.float32))
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
        sched.step()
        averaged.update_parameters(model)
        lrs.append(opt.param_groups[0]["lr"])
    lib.optim.swa_utils.update_bn([lib.tensor(rng.standard_normal((8, 3)).astype(np.float32)) for _ in range(3)],
                                  averaged)
    tensors = [p.detach().numpy() for p in averaged.parameters()] + [b.numpy() for b in averaged.buffers()]
    return tensors, lrs, list(averaged.state_dict())


@pytest.mark.parametrize("averaging", [{}, {"use_buffers": True}, {"ema": 0.9}, {"ema_single": 0.8}], ids=str)
def test_averaged_model_swalr_and_update_bn_match_torch(averaging):
    torch = pytest.importorskip("torch")
    mine, theirs = _run(ember, averaging), _run(torch, averaging)
    for a, b in zip(mine[0], theirs[0]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mine[1], theirs[1], rtol=1e-12)
    assert mine[2] == theirs[2]


@pytest.mark.parametrize("kwargs", [dict(anneal_epochs=3), dict(anneal_epochs=0), dict(anneal_strategy="linear"),
                                    dict(swa_lr=[0.05, 0.2], anneal_epochs=4)], ids=str)
def test_swalr_schedule_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    rates = []
    for lib in (ember, torch):
        model = lib.nn.Linear(1, 1)
        opt = lib.optim.SGD([{"params": [model.weight]}, {"params": [model.bias], "lr": 0.5}], lr=1.0)
        sched = lib.optim.swa_utils.SWALR(opt, **{"swa_lr": 0.05, **kwargs})
        seq = []
        for _ in range(7):
            seq.append([g["lr"] for g in opt.param_groups])
            opt.step()
            sched.step()
        rates.append(seq)
    np.testing.assert_allclose(rates[0], rates[1], rtol=1e-12)


def test_swa_utils_without_torch():
    model = nn.Linear(1, 1, bias=False)
    swa = swa_utils.AveragedModel(model)
    for w in (1.0, 2.0, 6.0):
        model.weight.data.fill_(w)
        swa.update_parameters(model)
    assert swa.module.weight.item() == 3.0 and int(swa.n_averaged) == 3
    bn = nn.BatchNorm1d(2)
    batches = [ember.tensor([[1.0, 2.0], [3.0, 6.0]]), ember.tensor([[5.0, 10.0], [7.0, 14.0]])]
    swa_utils.update_bn(batches, bn)  # the plain average of the batches' statistics
    np.testing.assert_allclose(bn.running_mean.numpy(), [4.0, 8.0])
    assert bn.momentum == 0.1 and bn.training
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
        swa_utils.AveragedModel(model, avg_fn=swa_utils.get_swa_avg_fn(), multi_avg_fn=swa_utils.get_swa_multi_avg_fn())
    with pytest.raises(ValueError, match="anneal_strategy must by one of 'cos' or 'linear'"):
        swa_utils.SWALR(ember.optim.SGD(model.parameters(), lr=0.1), swa_lr=0.1, anneal_strategy="step")


def test_averaging_a_noisy_sgd_run_lands_nearer_the_optimum():
    """Least squares by SGD at a constant, large learning rate bounces around the optimum; the SWA average of its
    iterates is several times nearer."""
    rng = np.random.default_rng(2)
    ember.manual_seed(0)
    x = rng.standard_normal((2000, 5)).astype(np.float32)
    w_true = rng.standard_normal((5, 1)).astype(np.float32)
    y = x @ w_true + rng.standard_normal((2000, 1)).astype(np.float32)
    best = np.linalg.lstsq(x, y, rcond=None)[0].ravel()
    model = nn.Linear(5, 1, bias=False)
    opt = ember.optim.SGD(model.parameters(), lr=0.1)
    swa = swa_utils.AveragedModel(model)
    for step in range(400):
        rows = rng.integers(0, 2000, size=8)
        opt.zero_grad()
        ((model(ember.tensor(x[rows])) - ember.tensor(y[rows])) ** 2).mean().backward()
        opt.step()
        if step >= 100:
            swa.update_parameters(model)
    last = np.linalg.norm(model.weight.detach().numpy().ravel() - best)
    averaged = np.linalg.norm(swa.module.weight.detach().numpy().ravel() - best)
    assert averaged < last / 3, (averaged, last)
