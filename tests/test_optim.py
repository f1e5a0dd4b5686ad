"""Every optimizer and scheduler reproduces PyTorch's parameter / learning-rate trajectory over 20 steps."""
import math

import numpy as np
import pytest

import ember
from ember import optim
from ember.optim import lr_scheduler as S


def _problem():
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((3, 4))
    x = rng.standard_normal((8, 4))
    y = rng.standard_normal((8, 3))
    return w0, x, y


def _trajectory(make, lib=ember, steps=20):
    """The weights after each of `steps` optimizer steps on _problem, with lib = ember or torch."""
    w0, x, y = _problem()
    w = lib.tensor(w0, requires_grad=True)
    opt = make([w])
    out = []
    for _ in range(steps):
        opt.zero_grad()
        loss = ((lib.tensor(x) @ w.T - lib.tensor(y)) ** 2).mean()
        loss.backward()
        opt.step()
        out.append(w.detach().numpy().copy())
    return np.array(out)


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, maximize=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.9), maximize=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
    ("Adamax", dict(lr=0.05, weight_decay=0.1)),
    ("NAdam", dict(lr=0.05)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.05)),
    ("RAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1)),
    ("Adadelta", dict(lr=1.0, rho=0.8, weight_decay=0.1)),
]


@pytest.mark.parametrize("name,kwargs", CASES)
def test_optimizer_matches_pytorch_trajectory(name, kwargs, torch):
    ours = _trajectory(lambda p: getattr(optim, name)(p, **kwargs))
    ref = _trajectory(lambda p: getattr(torch.optim, name)(p, **kwargs), torch)
    np.testing.assert_allclose(ours, ref, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name,kwargs", CASES)
def test_optimizer_decreases_loss(name, kwargs):
    if kwargs.get("maximize"):
        pytest.skip("maximize climbs the loss")
    w0, x, y = _problem()
    traj = _trajectory(lambda p: getattr(optim, name)(p, **kwargs), steps=20)

    def loss(w):
        return ((x @ w.T - y) ** 2).mean()

    assert loss(traj[-1]) < loss(w0)


def test_lion_matches_its_published_update_rule():
    """PyTorch has no Lion; compare with the update of Chen et al. (2023) written out in NumPy."""
    lr, (b1, b2), wd = 0.01, (0.9, 0.99), 0.1
    w0, x, y = _problem()
    w, m = w0.copy(), np.zeros_like(w0)
    expected = []
    for _ in range(20):
        g = 2 * (x @ w.T - y).T @ x / y.size
        update = np.sign(b1 * m + (1 - b1) * g)
        w = w * (1 - lr * wd) - lr * update
        m = b2 * m + (1 - b2) * g
        expected.append(w.copy())
    ours = _trajectory(lambda p: optim.Lion(p, lr=lr, betas=(b1, b2), weight_decay=wd))
    np.testing.assert_allclose(ours, np.array(expected), rtol=1e-10, atol=1e-12)


def test_param_groups_state_dict_round_trip_continues_identically():
    w0, x, y = _problem()

    def run(opt, w, steps):
        for _ in range(steps):
            opt.zero_grad()
            ((ember.tensor(x) @ w.T - ember.tensor(y)) ** 2).mean().backward()
            opt.step()

    w = ember.tensor(w0, requires_grad=True)
    opt = optim.Adam([w], lr=0.05)
    run(opt, w, 5)
    sd = opt.state_dict()
    w2 = ember.tensor(w.detach().numpy().copy(), requires_grad=True)
    opt2 = optim.Adam([w2], lr=0.01)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.05
    run(opt, w, 5)
    run(opt2, w2, 5)
    np.testing.assert_array_equal(w.detach().numpy(), w2.detach().numpy())


def test_optimizer_errors():
    w = ember.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.Adam([w], lr=-1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([w], lr=0.1, nesterov=True)
    opt = optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="doesn't match the size"):
        opt.load_state_dict({"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]})


nan = math.nan
# one invalid hyper-parameter per case (NaN, negative, out of range), for every optimizer PyTorch also has
INVALID = [
    ("SGD", dict(lr=-1)), ("SGD", dict(lr=0.1, momentum=-0.5)), ("SGD", dict(lr=0.1, weight_decay=-1)),
    *[(name, kw) for name in ("Adam", "AdamW", "Adamax", "NAdam", "RAdam")
      for kw in (dict(lr=nan), dict(lr=-1), dict(eps=nan), dict(betas=(nan, 0.9)), dict(betas=(0.9, 1.0)),
                 dict(betas=(-0.1, 0.9)), dict(weight_decay=nan), dict(weight_decay=-1),
                 dict(lr=-1, eps=-1, weight_decay=-1))],  # several bad: the first checked is named, as in torch
    ("NAdam", dict(momentum_decay=nan)), ("NAdam", dict(momentum_decay=-1)),
    *[("RMSprop", {k: v}) for k in ("lr", "eps", "momentum", "weight_decay", "alpha") for v in (nan, -1)],
    ("RMSprop", dict(lr=-1, eps=-1, momentum=-1, weight_decay=-1, alpha=-1)),
    *[("Adagrad", {k: v}) for k in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")
      for v in (nan, -1)],
    ("Adagrad", dict(lr=-1, lr_decay=-1, weight_decay=-1, initial_accumulator_value=-1, eps=-1)),
    *[("Adadelta", {k: v}) for k in ("lr", "rho", "eps", "weight_decay") for v in (nan, -1)],
    ("Adadelta", dict(rho=1.5)), ("Adadelta", dict(lr=-1, rho=-1, eps=-1, weight_decay=-1)),
    ("LBFGS", dict(lr=nan)), ("LBFGS", dict(lr=-1)),
]


@pytest.mark.parametrize("name,kwargs", INVALID, ids=[f"{n}-{k}" for n, k in INVALID])
def test_invalid_hyperparameters_are_refused_with_pytorchs_message(name, kwargs, torch):
    with pytest.raises(ValueError) as expected:
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError) as got:
        getattr(optim, name)([ember.zeros(2, requires_grad=True)], **kwargs)
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=nan)), ("Lion", dict(lr=nan)), ("Lion", dict(lr=-1)),
                                         ("Lion", dict(betas=(0.9, nan))), ("Lion", dict(weight_decay=nan))])
def test_nan_hyperparameters_are_refused_where_torch_has_no_check(name, kwargs):
    """torch.optim.SGD tests `lr < 0.0`, which NaN passes (it then trains on NaN); Lion is not in torch."""
    with pytest.raises(ValueError, match=r"^Invalid (learning rate|beta parameter at index 1|weight_decay value): "):
        getattr(optim, name)([ember.zeros(2, requires_grad=True)], **kwargs)


def test_zero_grad_and_add_param_group():
    a, b = ember.ones(2, requires_grad=True), ember.ones(3, requires_grad=True)
    opt = optim.SGD([a], lr=0.1, momentum=0.5)
    opt.add_param_group({"params": [b], "lr": 0.01})
    assert opt.param_groups[1]["momentum"] == 0.5 and opt.param_groups[1]["lr"] == 0.01
    (a.sum() + b.sum()).backward()
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), 0.9)
    np.testing.assert_allclose(b.detach().numpy(), 0.99)
    opt.zero_grad(set_to_none=False)
    assert a.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert a.grad is None


SCHEDULERS = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),
    ("CosineAnnealingWarmRestarts", dict(T_0=4, T_mult=2, eta_min=0.01)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=25)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=25, three_phase=True, anneal_strategy="linear")),
    ("LinearLR", dict(start_factor=0.2, total_iters=6)),
    ("ConstantLR", dict(factor=0.5, total_iters=4)),
]


def _lrs(mod, opt_mod, make_sched, w, use_adam=False):
    opt = opt_mod.Adam([w], lr=0.1) if use_adam else opt_mod.SGD([w], lr=0.1, momentum=0.9)
    sched = make_sched(opt)
    out = []
    for _ in range(20):
        opt.step()
        sched.step()
        out.append((opt.param_groups[0]["lr"], opt.param_groups[0].get("momentum",
                                                                          opt.param_groups[0].get("betas", [0])[0])))
    return out


@pytest.mark.parametrize("name,kwargs", SCHEDULERS)
@pytest.mark.parametrize("use_adam", [False, True])
def test_scheduler_matches_pytorch(name, kwargs, use_adam, torch):
    ours = _lrs(ember, optim, lambda o: getattr(S, name)(o, **kwargs), ember.zeros(2, requires_grad=True), use_adam)
    ref = _lrs(torch, torch.optim, lambda o: getattr(torch.optim.lr_scheduler, name)(o, **kwargs),
               torch.zeros(2, requires_grad=True), use_adam)
    np.testing.assert_allclose(np.array(ours, dtype=float), np.array(ref, dtype=float), rtol=1e-12, atol=1e-15)


def test_lambda_and_sequential_match_pytorch(torch):

    def make(mod, opt):
        warm = mod.LinearLR(opt, start_factor=0.1, total_iters=4)
        decay = mod.ExponentialLR(opt, gamma=0.8)
        return mod.SequentialLR(opt, [warm, decay], milestones=[5])

    ours = _lrs(ember, optim, lambda o: make(S, o), ember.zeros(2, requires_grad=True))
    ref = _lrs(torch, torch.optim, lambda o: make(torch.optim.lr_scheduler, o), torch.zeros(2, requires_grad=True))
    np.testing.assert_allclose(np.array(ours), np.array(ref), rtol=1e-12)
    ours = _lrs(ember, optim, lambda o: S.LambdaLR(o, lambda e: 1 / (1 + e)), ember.zeros(2, requires_grad=True))
    ref = _lrs(torch, torch.optim, lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda e: 1 / (1 + e)),
               torch.zeros(2, requires_grad=True))
    np.testing.assert_allclose(np.array(ours), np.array(ref), rtol=1e-12)


def test_reduce_on_plateau_matches_pytorch(torch):
    metrics = [1.0, 0.9, 0.9, 0.9, 0.95, 0.9, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.4, 0.4, 0.4, 0.4]

    def run(mod, opt_mod, w):
        opt = opt_mod.SGD([w], lr=1.0)
        sched = mod.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1, min_lr=0.1)
        out = []
        for m in metrics:
            sched.step(m)
            out.append(opt.param_groups[0]["lr"])
        return out

    assert run(S, optim, ember.zeros(1, requires_grad=True)) == run(torch.optim.lr_scheduler, torch.optim,
                                                                   torch.zeros(1, requires_grad=True))


def test_scheduler_state_dict_round_trip():
    w = ember.zeros(2, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    sched = S.CosineAnnealingLR(opt, T_max=10)
    for _ in range(4):
        opt.step()
        sched.step()
    sd = sched.state_dict()
    opt2 = optim.SGD([ember.zeros(2, requires_grad=True)], lr=0.1)
    sched2 = S.CosineAnnealingLR(opt2, T_max=10)
    sched2.load_state_dict(sd)
    opt2.param_groups[0]["lr"] = opt.param_groups[0]["lr"]
    for _ in range(3):
        sched.step()
        sched2.step()
    assert math.isclose(opt.param_groups[0]["lr"], opt2.param_groups[0]["lr"], rel_tol=1e-12)
