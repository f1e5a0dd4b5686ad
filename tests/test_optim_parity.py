"""Rprop, ASGD and the schedulers MultiplicativeLR, PolynomialLR, CyclicLR and ChainedScheduler: updates and
learning-rate (and momentum) sequences against PyTorch's, state dicts, errors, and a model trained with each new
optimizer."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn

RNG = np.random.default_rng(0)
W, X = RNG.standard_normal((3, 4)), RNG.standard_normal((8, 4))


def _descend(lib, optimizer, steps=25, dtype="float64", **kwargs):
    w = lib.nn.Parameter(lib.tensor(W.astype(dtype)))
    opt = getattr(lib.optim, optimizer)([w], **kwargs)
    x = lib.tensor(X.astype(dtype))
    for _ in range(steps):
        opt.zero_grad()
        ((x @ w.T).tanh() ** 2).sum().backward()
        opt.step()
    return w.detach().numpy(), opt


@pytest.mark.parametrize("optimizer,kwargs", [
    ("Rprop", {}), ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2), maximize=True)),
    ("ASGD", {}), ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=5, weight_decay=0.1)),
    ("ASGD", dict(maximize=True, t0=3))], ids=str)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_optimizers_match_torch(optimizer, kwargs, dtype):
    torch = pytest.importorskip("torch")
    mine, _ = _descend(ember, optimizer, dtype=dtype, **kwargs)
    theirs, _ = _descend(torch, optimizer, dtype=dtype, **kwargs)
    # PyTorch keeps ASGD's eta in float32 whatever the parameter's dtype: ~1e-9 apart in float64
    np.testing.assert_allclose(mine, theirs, rtol=1e-6 if dtype == "float32" else 1e-8, atol=1e-7)


def test_optimizer_state_and_errors():
    _, opt = _descend(ember, "ASGD", steps=3, t0=1)
    state = next(iter(opt.state.values()))
    assert state["step"] == 3 and state["mu"] == 0.5 and state["ax"].shape == W.shape
    _, opt = _descend(ember, "Rprop", steps=2)
    assert sorted(next(iter(opt.state.values()))) == ["prev", "step", "step_size"]
    with pytest.raises(ValueError, match="Invalid eta values: 1.5, 2.0"):
        ember.optim.Rprop([nn.Parameter(ember.ones(1))], etas=(1.5, 2.0))
    with pytest.raises(ValueError, match="Invalid learning rate: -1.0"):
        ember.optim.ASGD([nn.Parameter(ember.ones(1))], lr=-1.0)


@pytest.mark.parametrize("optimizer,kwargs", [("Rprop", dict(lr=0.01)), ("ASGD", dict(lr=0.1, t0=100))])
def test_optimizers_train(optimizer, kwargs):
    """Two Gaussian blobs (the best rule 99.8% right), full batches (Rprop's setting): > 0.97 accuracy."""
    rng = np.random.default_rng(2)
    ember.manual_seed(0)
    x = np.concatenate([rng.normal(-2, 1, (200, 2)), rng.normal(2, 1, (200, 2))]).astype(np.float32)
    y = np.repeat([0, 1], 200)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    opt = getattr(ember.optim, optimizer)(model.parameters(), **kwargs)
    for _ in range(150):
        opt.zero_grad()
        F.cross_entropy(model(ember.tensor(x)), ember.tensor(y)).backward()
        opt.step()
    with ember.no_grad():
        accuracy = (model(ember.tensor(x)).argmax(1).numpy() == y).mean()
    assert accuracy > 0.97, accuracy


def _rates(lib, make, steps=12, optimizer="SGD", **kwargs):
    """Each step's learning rates and momenta (beta1 for Adam) of two parameter groups."""
    model = lib.nn.Linear(1, 1)
    opt = getattr(lib.optim, optimizer)([{"params": [model.weight]}, {"params": [model.bias], "lr": 0.5}], lr=1.0,
                                        **kwargs)
    sched, out = make(lib, opt), []
    for _ in range(steps):
        out.append([g["lr"] for g in opt.param_groups] +
                   [g.get("momentum", g.get("betas", (0.0,))[0]) for g in opt.param_groups])
        opt.step()
        sched.step()
    return np.array(out), sched


def _sched(lib):
    return lib.optim.lr_scheduler


_SCHEDULES = [
    (lambda lib, o: _sched(lib).MultiplicativeLR(o, lambda e: 0.9), {}),
    (lambda lib, o: _sched(lib).MultiplicativeLR(o, [lambda e: 0.9, lambda e: 0.5 + e / 100]), {}),
    (lambda lib, o: _sched(lib).PolynomialLR(o, total_iters=6, power=1.5), {}),
    (lambda lib, o: _sched(lib).CyclicLR(o, 0.1, 1.0, step_size_up=3), dict(momentum=0.9)),
    (lambda lib, o: _sched(lib).CyclicLR(o, [0.1, 0.2], [1.0, 2.0], step_size_up=2, step_size_down=3,
                                         mode="triangular2"), dict(momentum=0.9)),
    (lambda lib, o: _sched(lib).CyclicLR(o, 0.1, 1.0, step_size_up=2, mode="exp_range", gamma=0.9,
                                         base_momentum=0.7), dict(momentum=0.9)),
    (lambda lib, o: _sched(lib).CyclicLR(o, 0.1, 1.0, step_size_up=2, cycle_momentum=False), {}),
    (lambda lib, o: _sched(lib).CyclicLR(o, 0.1, 1.0, step_size_up=2, scale_fn=lambda x: 0.5 ** x,
                                         scale_mode="iterations"), dict(momentum=0.9)),
    (lambda lib, o: _sched(lib).ChainedScheduler([_sched(lib).ExponentialLR(o, 0.9),
                                                  _sched(lib).ConstantLR(o, factor=0.1, total_iters=3)]), {}),
]


@pytest.mark.parametrize("case", range(len(_SCHEDULES)))
def test_schedules_match_torch(case):
    torch = pytest.importorskip("torch")
    make, kwargs = _SCHEDULES[case]
    mine, _ = _rates(ember, make, **kwargs)
    theirs, _ = _rates(torch, make, **kwargs)
    np.testing.assert_allclose(mine, theirs, rtol=1e-12)


def test_cyclic_lr_cycles_adam_beta1_and_schedules_without_torch():
    rates, _ = _rates(ember, lambda lib, o: _sched(lib).CyclicLR(o, 0.1, 1.0, step_size_up=2), optimizer="Adam",
                      steps=5)
    np.testing.assert_allclose(rates[:, 0], [0.1, 0.55, 1.0, 0.55, 0.1])
    np.testing.assert_allclose(rates[:, 2], [0.9, 0.85, 0.8, 0.85, 0.9])  # beta1 against the learning rate
    rates, _ = _rates(ember, lambda lib, o: _sched(lib).PolynomialLR(o, total_iters=4, power=2.0), steps=6)
    np.testing.assert_allclose(rates[:, 0], [1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0], atol=1e-15)
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        _rates(ember, lambda lib, o: _sched(lib).CyclicLR(o, 0.1, 1.0), optimizer="Adagrad")
    with pytest.raises(ValueError, match="expected 2 values for max_lr, got 3"):
        _rates(ember, lambda lib, o: _sched(lib).CyclicLR(o, 0.1, [1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="ChainedScheduler expects at least one scheduler"):
        ember.optim.lr_scheduler.ChainedScheduler([])


def test_schedulers_state_dicts_resume():
    """Six steps straight equal three, a state_dict round trip into fresh objects, and three more."""
    make = _SCHEDULES[4][0]
    straight, _ = _rates(ember, make, steps=6, momentum=0.9)
    first, sched = _rates(ember, make, steps=3, momentum=0.9)
    opt_state, sched_state = sched.optimizer.state_dict(), sched.state_dict()
    model = nn.Linear(1, 1)
    opt = ember.optim.SGD([{"params": [model.weight]}, {"params": [model.bias], "lr": 0.5}], lr=1.0, momentum=0.9)
    resumed = make(ember, opt)
    opt.load_state_dict(opt_state)
    resumed.load_state_dict(sched_state)
    rest = []
    for _ in range(3):
        rest.append([g["lr"] for g in opt.param_groups] + [g["momentum"] for g in opt.param_groups])
        opt.step()
        resumed.step()
    np.testing.assert_allclose(np.concatenate([first, rest]), straight, rtol=1e-12)
