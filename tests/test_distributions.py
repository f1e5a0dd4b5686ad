"""ember.distributions against torch.distributions: log_prob, entropy, moments, cdf/icdf and KL (float64, 1e-10),
gradients, sampling statistics under ember's generator, shapes, argument validation, and two applied uses."""
import math
import re

import numpy as np
import pytest

import ember
import ember.distributions as D

torch = pytest.importorskip("torch")
TD = torch.distributions
RTOL, ATOL = 1e-10, 1e-12
rng = np.random.default_rng(0)


def _u(*shape, lo=0.2, hi=2.0):
    return rng.uniform(lo, hi, shape)


def _simplex(*shape):
    p = rng.uniform(0.1, 1.0, shape)
    return p / p.sum(-1, keepdims=True)


# name: (ember class, torch class, {parameter: float64 array}, values to score (arrays or a callable of the shape))
CASES = {
    "normal": (D.Normal, TD.Normal, {"loc": rng.normal(size=(3, 2)), "scale": _u(3, 2)}, rng.normal(size=(4, 3, 2))),
    "uniform": (D.Uniform, TD.Uniform, {"low": -_u(3), "high": _u(3)}, rng.uniform(-0.19, 0.19, (5, 3))),
    "bernoulli_probs": (D.Bernoulli, TD.Bernoulli, {"probs": rng.uniform(0.05, 0.95, (4,))},
                        rng.integers(0, 2, (3, 4)).astype(float)),
    "bernoulli_logits": (D.Bernoulli, TD.Bernoulli, {"logits": rng.normal(size=(4,))},
                         rng.integers(0, 2, (3, 4)).astype(float)),
    "categorical_probs": (D.Categorical, TD.Categorical, {"probs": _simplex(2, 5)}, rng.integers(0, 5, (6, 2))),
    "categorical_logits": (D.Categorical, TD.Categorical, {"logits": rng.normal(size=(2, 5))},
                           rng.integers(0, 5, (6, 2))),
    "onehot": (D.OneHotCategorical, TD.OneHotCategorical, {"logits": rng.normal(size=(2, 4))},
               np.eye(4)[rng.integers(0, 4, (3, 2))]),
    "laplace": (D.Laplace, TD.Laplace, {"loc": rng.normal(size=(3,)), "scale": _u(3)}, rng.normal(size=(5, 3))),
    "exponential": (D.Exponential, TD.Exponential, {"rate": _u(3)}, _u(5, 3, lo=0.0, hi=4.0)),
    "lognormal": (D.LogNormal, TD.LogNormal, {"loc": rng.normal(size=(3,)), "scale": _u(3, hi=1.0)},
                  _u(5, 3, lo=0.1, hi=5.0)),
}
INTEGER_VALUES = {"categorical_probs", "categorical_logits"}


def make(case, requires_grad=False):
    """(ember distribution, torch distribution, ember parameters, torch parameters) of one case."""
    ecls, tcls, params, _ = CASES[case]
    ep = {k: ember.tensor(v, dtype=ember.float64, requires_grad=requires_grad) for k, v in params.items()}
    tp = {k: torch.tensor(v, dtype=torch.float64, requires_grad=requires_grad) for k, v in params.items()}
    return ecls(**ep), tcls(**tp), ep, tp


def values(case):
    v = CASES[case][3]
    if case in INTEGER_VALUES:
        return ember.tensor(v, dtype=ember.int64), torch.tensor(v, dtype=torch.int64)
    return ember.tensor(v, dtype=ember.float64), torch.tensor(v, dtype=torch.float64)


def close(e, t, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("case", list(CASES))
def test_log_prob_entropy_and_moments_match_torch(case):
    e, t, _, _ = make(case)
    ev, tv = values(case)
    assert tuple(e.batch_shape) == tuple(t.batch_shape) and tuple(e.event_shape) == tuple(t.event_shape)
    close(e.log_prob(ev), t.log_prob(tv))
    for name in ("mean", "variance", "stddev", "mode"):
        close(getattr(e, name), getattr(t, name))
    close(e.entropy(), t.entropy())
    assert e.has_rsample == t.has_rsample


@pytest.mark.parametrize("case", ["normal", "uniform", "laplace", "exponential", "lognormal"])
def test_cdf_and_icdf_match_torch(case):
    e, t, _, _ = make(case)
    ev, tv = values(case)
    close(e.cdf(ev), t.cdf(tv))
    q = rng.uniform(0.01, 0.99, (5,) + tuple(t.batch_shape))
    close(e.icdf(ember.tensor(q, dtype=ember.float64)), t.icdf(torch.tensor(q)), rtol=1e-9)


def test_normal_icdf_gradient_and_tails():
    q = np.array([1e-12, 1e-4, 0.3, 0.5, 0.9, 1 - 1e-9])
    eq, tq = ember.tensor(q, dtype=ember.float64, requires_grad=True), torch.tensor(q, requires_grad=True)
    ex, tx = D.Normal(0.5, 2.0).icdf(eq), TD.Normal(0.5, 2.0).icdf(tq)
    close(ex, tx, rtol=1e-6)  # 2q - 1 near -1 keeps ~4 digits of q: erfinv is ill-conditioned there
    close(ex[1:], tx[1:], rtol=1e-9)
    ex.sum().backward()
    tx.sum().backward()
    close(eq.grad[1:-1], tq.grad[1:-1], rtol=1e-9)
    close(eq.grad, tq.grad, rtol=1e-4)
    assert D.Normal(0.0, 1.0).icdf(ember.tensor([0.0, 1.0])).tolist() == [-math.inf, math.inf]


@pytest.mark.parametrize("case", list(CASES))
def test_log_prob_and_entropy_gradients_match_torch(case):
    e, t, ep, tp = make(case, requires_grad=True)
    ev, tv = values(case)
    (e.log_prob(ev).sum() + (e.entropy() * 0.7).sum()).backward()
    (t.log_prob(tv).sum() + (t.entropy() * 0.7).sum()).backward()
    for k in ep:
        close(ep[k].grad, tp[k].grad, rtol=1e-9)


KL_PAIRS = {
    "normal": lambda: ({"loc": rng.normal(size=3), "scale": _u(3)}, {"loc": rng.normal(size=3), "scale": _u(3)}),
    "bernoulli_probs": lambda: ({"probs": np.array([0.0, 0.3, 1.0, 0.6])}, {"probs": np.array([0.2, 0.0, 0.7, 1.0])}),
    "categorical_probs": lambda: ({"probs": np.array([[0.2, 0.8, 0.0], [0.1, 0.1, 0.8]])},
                                  {"probs": np.array([[0.5, 0.5, 0.0], [0.3, 0.0, 0.7]])}),
    "onehot": lambda: ({"logits": rng.normal(size=(2, 4))}, {"logits": rng.normal(size=(2, 4))}),
    "uniform": lambda: ({"low": np.array([0.0, 0.0, -1.0]), "high": np.array([1.0, 2.0, 1.0])},
                        {"low": np.array([-1.0, 0.5, -2.0]), "high": np.array([2.0, 2.0, 3.0])}),
    "laplace": lambda: ({"loc": rng.normal(size=3), "scale": _u(3)}, {"loc": rng.normal(size=3), "scale": _u(3)}),
    "exponential": lambda: ({"rate": _u(3)}, {"rate": _u(3)}),
    "lognormal": lambda: ({"loc": rng.normal(size=3), "scale": _u(3)}, {"loc": rng.normal(size=3), "scale": _u(3)}),
}


@pytest.mark.parametrize("case", list(KL_PAIRS))
def test_kl_divergence_and_its_gradient_match_torch(case):
    ecls, tcls = CASES[case][:2]
    pp, qp = KL_PAIRS[case]()
    ep = [{k: ember.tensor(v, dtype=ember.float64, requires_grad=True) for k, v in d.items()} for d in (pp, qp)]
    tp = [{k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in d.items()} for d in (pp, qp)]
    ekl = D.kl_divergence(ecls(**ep[0]), ecls(**ep[1]))
    tkl = TD.kl_divergence(tcls(**tp[0]), tcls(**tp[1]))
    close(ekl, tkl)
    finite = torch.isfinite(tkl)
    ekl[ember.tensor(finite.numpy())].sum().backward()
    tkl[finite].sum().backward()
    for e, t in zip(ep, tp):
        for k in e:
            close(e[k].grad, t[k].grad, rtol=1e-9)


def test_kl_independent_and_registration():
    a, b = rng.normal(size=(2, 3)), _u(2, 3)
    c, d = rng.normal(size=(2, 3)), _u(2, 3)
    ekl = D.kl_divergence(D.Independent(D.Normal(ember.tensor(a), ember.tensor(b)), 1),
                          D.Independent(D.Normal(ember.tensor(c), ember.tensor(d)), 1))
    tkl = TD.kl_divergence(TD.Independent(TD.Normal(torch.tensor(a), torch.tensor(b)), 1),
                           TD.Independent(TD.Normal(torch.tensor(c), torch.tensor(d)), 1))
    assert ekl.shape == (2,)
    close(ekl, tkl)
    with pytest.raises(NotImplementedError, match="Normal.*Bernoulli"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Bernoulli(0.5))

    class Wide(D.Normal):
        pass

    @D.register_kl(Wide, D.Normal)
    def _kl_wide(p, q):
        return ember.full(p.batch_shape, 7.0)
    assert float(D.kl_divergence(Wide(0.0, 1.0), D.Normal(0.0, 1.0))) == 7.0  # the more specific one wins
    assert float(D.kl_divergence(D.Normal(0.0, 1.0), Wide(0.0, 1.0))) == 0.0


@pytest.mark.parametrize("case", ["normal", "uniform", "laplace", "exponential", "lognormal"])
def test_rsample_gradient_for_fixed_noise_matches_finite_differences(case):
    _, _, ep, _ = make(case, requires_grad=True)
    names = list(ep)
    cls = CASES[case][0]

    def draw(*params):
        ember.manual_seed(3)
        return cls(**dict(zip(names, params))).rsample((4,))
    assert ember.autograd.gradcheck(draw, tuple(ep[k] for k in names), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_normal_rsample_gradient_is_the_reparameterisation():
    loc = ember.tensor([0.5, -1.0], dtype=ember.float64, requires_grad=True)
    scale = ember.tensor([2.0, 0.3], dtype=ember.float64, requires_grad=True)
    ember.manual_seed(0)
    x = D.Normal(loc, scale).rsample((1000,))
    eps = ((x - loc) / scale).detach()
    (x ** 2).sum().backward()
    # torch, for the same noise: d/dloc and d/dscale of sum((loc + scale * eps)^2)
    tl = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
    ts = torch.tensor([2.0, 0.3], dtype=torch.float64, requires_grad=True)
    ((tl + ts * torch.tensor(eps.numpy())) ** 2).sum().backward()
    close(loc.grad, tl.grad)
    close(scale.grad, ts.grad)
    assert D.Normal(loc, scale).sample().requires_grad is False


SAMPLED = {  # ember distribution, its true mean, its true variance
    "normal": lambda: D.Normal(ember.tensor([0.5, -2.0], dtype=ember.float64), ember.tensor([1.0, 3.0])),
    "uniform": lambda: D.Uniform(ember.tensor([0.0, -1.0], dtype=ember.float64), ember.tensor([1.0, 3.0])),
    "laplace": lambda: D.Laplace(ember.tensor([0.5, -2.0], dtype=ember.float64), ember.tensor([1.0, 0.5])),
    "exponential": lambda: D.Exponential(ember.tensor([0.5, 3.0], dtype=ember.float64)),
    "lognormal": lambda: D.LogNormal(ember.tensor([0.0, 1.0], dtype=ember.float64), ember.tensor([0.25, 0.5])),
    "bernoulli": lambda: D.Bernoulli(ember.tensor([0.1, 0.7], dtype=ember.float64)),
}


@pytest.mark.parametrize("case", list(SAMPLED))
def test_sample_statistics(case):
    d, n = SAMPLED[case](), 20000
    ember.manual_seed(0)
    x = d.sample((n,)).numpy()
    assert x.shape == (n, 2)
    mean, var = d.mean.numpy(), d.variance.numpy()
    assert np.all(np.abs(x.mean(0) - mean) < 5 * np.sqrt(var / n)), (x.mean(0), mean)
    fourth = ((x - mean) ** 4).mean(0)  # the standard error of the sample variance, from the sample's 4th moment
    assert np.all(np.abs(x.var(0) - var) < 5 * np.sqrt((fourth - var ** 2) / n) + 1e-12), (x.var(0), var)
    assert bool(d.support.check(ember.tensor(x)).all())
    ember.manual_seed(0)
    assert np.array_equal(d.sample((n,)).numpy(), x)  # reproducible under ember.manual_seed
    if d.has_rsample:
        ember.manual_seed(0)
        assert np.array_equal(d.rsample((n,)).numpy(), x)


def test_categorical_and_one_hot_frequencies():
    probs = np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]])
    n = 20000
    ember.manual_seed(0)
    x = D.Categorical(probs=ember.tensor(probs * 3)).sample((n,)).numpy()  # unnormalised weights are normalised
    assert x.shape == (n, 2) and x.dtype == np.int64
    freq = np.stack([(x == k).mean(0) for k in range(3)], -1)
    assert np.all(np.abs(freq - probs) < 5 * np.sqrt(probs * (1 - probs) / n)), freq
    oh = D.OneHotCategorical(probs=ember.tensor(probs)).sample((n,)).numpy()
    assert oh.shape == (n, 2, 3) and np.all(oh.sum(-1) == 1)
    assert np.all(np.abs(oh.mean(0) - probs) < 5 * np.sqrt(probs * (1 - probs) / n))


def test_shapes_expand_and_broadcasting():
    d = D.Normal(ember.zeros(3, 1, dtype=ember.float64), ember.ones(4, dtype=ember.float64))
    assert d.batch_shape == (3, 4) and d.sample().shape == (3, 4) and d.rsample((2, 5)).shape == (2, 5, 3, 4)
    assert d.log_prob(ember.zeros(7, 1, 4, dtype=ember.float64)).shape == (7, 3, 4)
    assert D.Normal(0.0, 1.0).batch_shape == () and D.Normal(0.0, 1.0).loc.dtype == ember.get_default_dtype()
    assert D.Normal(ember.zeros(2, dtype=ember.float64), 1.0).scale.dtype == ember.float64
    e = d.expand((2, 3, 4))
    assert e.batch_shape == (2, 3, 4) and e.sample((5,)).shape == (5, 2, 3, 4) and type(e) is D.Normal
    c = D.Categorical(logits=ember.zeros(4, 3))
    assert c.batch_shape == (4,) and c.sample((2, 5)).shape == (2, 5, 4) and c.expand((2, 4)).sample().shape == (2, 4)
    oh = D.OneHotCategorical(logits=ember.zeros(4, 3))
    assert oh.event_shape == (3,) and oh.sample((2,)).shape == (2, 4, 3) and oh.expand((5, 4)).batch_shape == (5, 4)
    i = D.Independent(D.Normal(ember.zeros(2, 3), ember.ones(2, 3)), 2)
    assert i.batch_shape == () and i.event_shape == (2, 3) and i.log_prob(ember.zeros(5, 2, 3)).shape == (5,)
    assert i.expand((4,)).sample().shape == (4, 2, 3) and i.entropy().shape == ()
    ln = D.LogNormal(ember.zeros(2), ember.ones(2)).expand((3, 2))
    assert ln.batch_shape == (3, 2) and ln.sample().shape == (3, 2) and type(ln) is D.LogNormal
    b = D.Bernoulli(logits=ember.zeros(2))
    assert b.enumerate_support().shape == (2, 2) and c.enumerate_support(expand=False).shape == (3, 1)
    assert D.Uniform(ember.zeros(2), 1.0).expand((3, 2)).rsample().shape == (3, 2)


def test_validate_args_errors_as_torch():
    with pytest.raises(ValueError, match=re.escape(
            "Expected parameter scale (Tensor of shape (2,)) of distribution Normal(loc: ember.Size([2]), scale: "
            "ember.Size([2])) to satisfy the constraint GreaterThan(lower_bound=0.0), but found invalid values:")):
        D.Normal(ember.zeros(2), ember.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match=re.escape("Expected parameter loc (Tensor of shape (2,)) of distribution "
                                                   "Normal(loc: ember.Size([2]), scale: ember.Size([2])) to satisfy "
                                                   "the constraint Real(), but found invalid values:")):
        D.Normal(ember.tensor([0.0, math.nan]), ember.ones(2))
    with pytest.raises(ValueError, match=r"parameter probs .* Simplex\(\)"):
        D.Categorical(probs=ember.tensor([-0.5, 1.5]))
    with pytest.raises(ValueError, match=r"parameter probs .* Interval\(lower_bound=0.0, upper_bound=1.0\)"):
        D.Bernoulli(probs=ember.tensor([1.5]))
    with pytest.raises(ValueError, match="rate .* GreaterThan"):
        D.Exponential(ember.tensor([0.0]))
    with pytest.raises(ValueError, match="Uniform is not defined when low>= high"):
        D.Uniform(1.0, 1.0)
    with pytest.raises(ValueError, match="Either `probs` or `logits`"):
        D.Categorical()
    with pytest.raises(ValueError, match=re.escape("to be within the support (IntegerInterval(lower_bound=0, "
                                                   "upper_bound=2)) of the distribution Categorical(logits: "
                                                   "ember.Size([3]))")):
        D.Categorical(logits=ember.zeros(3)).log_prob(ember.tensor([3]))
    with pytest.raises(ValueError, match="within the support"):
        D.Exponential(1.0).log_prob(ember.tensor(-1.0))
    with pytest.raises(ValueError, match="must match event_shape"):
        D.OneHotCategorical(logits=ember.zeros(3)).log_prob(ember.zeros(4))
    with pytest.raises(ValueError, match="not broadcastable"):
        D.Normal(ember.zeros(3), 1.0).log_prob(ember.zeros(4))
    with pytest.raises(ValueError, match="reinterpreted_batch_ndims"):
        D.Independent(D.Normal(ember.zeros(3), 1.0), 2)
    # turned off: per instance, and by default
    D.Normal(ember.zeros(2), ember.tensor([1.0, -1.0]), validate_args=False)
    D.Distribution.set_default_validate_args(False)
    try:
        D.Normal(0.0, -1.0).log_prob(ember.tensor(math.nan))
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Normal(0.0, -1.0)


def test_repr_as_torch():
    assert repr(D.Normal(ember.zeros(2), ember.ones(2))) == "Normal(loc: ember.Size([2]), scale: ember.Size([2]))"
    assert repr(D.Normal(0.0, 1.0)) == repr(TD.Normal(0.0, 1.0))
    assert repr(D.Categorical(logits=ember.zeros(3))) == "Categorical(logits: ember.Size([3]))"
    assert repr(D.Independent(D.Bernoulli(probs=ember.tensor([0.5, 0.5])), 1)) == \
        "Independent(Bernoulli(probs: ember.Size([2])), 1)"
    assert repr(D.constraints.independent(D.constraints.real, 1)) == repr(TD.constraints.independent(
        TD.constraints.real, 1))


def test_constraints_match_torch():
    x = np.array([[-1.0, 0.0, 0.5, 1.0, 2.0, 3.0]])
    for name in ("real", "positive", "nonnegative", "unit_interval", "boolean", "nonnegative_integer",
                 "positive_integer"):
        e, t = getattr(D.constraints, name), getattr(TD.constraints, name)
        assert e.check(ember.tensor(x)).tolist() == t.check(torch.tensor(x)).tolist(), name
        assert repr(e) == repr(t) and e.is_discrete == t.is_discrete and e.event_dim == t.event_dim
    for e, t in [(D.constraints.integer_interval(0, 2), TD.constraints.integer_interval(0, 2)),
                 (D.constraints.interval(-1.0, 1.0), TD.constraints.interval(-1.0, 1.0)),
                 (D.constraints.half_open_interval(-1.0, 1.0), TD.constraints.half_open_interval(-1.0, 1.0)),
                 (D.constraints.greater_than(0.5), TD.constraints.greater_than(0.5))]:
        assert e.check(ember.tensor(x)).tolist() == t.check(torch.tensor(x)).tolist() and repr(e) == repr(t)
    s = np.array([[0.2, 0.8], [0.5, 0.6], [-0.1, 1.1]])
    assert D.constraints.simplex.check(ember.tensor(s)).tolist() == TD.constraints.simplex.check(
        torch.tensor(s)).tolist()
    oh = np.array([[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    assert D.constraints.one_hot.check(ember.tensor(oh)).tolist() == [True, False, False]


def test_transformed_distribution_matches_torch():
    loc, scale = rng.normal(size=3), _u(3)
    et = [D.AffineTransform(ember.tensor(loc), ember.tensor(scale)), D.ExpTransform()]
    tt = [TD.AffineTransform(torch.tensor(loc), torch.tensor(scale)), TD.ExpTransform()]
    e = D.TransformedDistribution(D.Normal(ember.zeros(3, dtype=ember.float64), 1.0), et)
    t = TD.TransformedDistribution(TD.Normal(torch.zeros(3, dtype=torch.float64), 1.0), tt)
    v = _u(4, 3)
    close(e.log_prob(ember.tensor(v)), t.log_prob(torch.tensor(v)))
    close(e.cdf(ember.tensor(v)), t.cdf(torch.tensor(v)))
    q = rng.uniform(0.05, 0.95, (4, 3))
    close(e.icdf(ember.tensor(q)), t.icdf(torch.tensor(q)), rtol=1e-9)
    neg = D.TransformedDistribution(D.Normal(0.0, 1.0), [D.AffineTransform(0.0, -2.0)])
    tneg = TD.TransformedDistribution(TD.Normal(0.0, 1.0), [TD.AffineTransform(0.0, -2.0)])
    close(neg.cdf(ember.tensor([0.5])), tneg.cdf(torch.tensor([0.5])), rtol=1e-6)


def test_straight_through_gradient():
    p = ember.tensor([0.2, 0.3, 0.5], dtype=ember.float64, requires_grad=True)
    s = D.OneHotCategoricalStraightThrough(probs=p).rsample((4,))
    (s * ember.tensor([1.0, 2.0, 3.0], dtype=ember.float64)).sum().backward()
    tp = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64, requires_grad=True)
    ts = TD.OneHotCategoricalStraightThrough(probs=tp).rsample((4,))  # the gradient does not depend on the draw
    (ts * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).sum().backward()
    close(p.grad, tp.grad)


def test_reinforce_learns_the_best_arm_of_a_bandit():
    ember.manual_seed(0)
    rewards = ember.tensor([0.2, 0.5, 0.9])
    logits = ember.zeros(3, requires_grad=True)
    opt = ember.optim.Adam([logits], lr=0.1)
    for _ in range(150):
        policy = D.Categorical(logits=logits)
        actions = policy.sample((32,))
        reward = rewards[actions] + 0.1 * ember.randn(32)
        loss = -(policy.log_prob(actions) * (reward - reward.mean())).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(D.Categorical(logits=logits).probs[2]) > 0.9


def test_vae_step_with_rsample_and_kl_reduces_the_loss():
    ember.manual_seed(0)
    x = ember.rand(64, 8)
    enc, dec = ember.nn.Linear(8, 2 * 2), ember.nn.Linear(2, 8)
    opt = ember.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-2)
    prior = D.Independent(D.Normal(ember.zeros(2), ember.ones(2)), 1)

    def terms():
        mu, log_sigma = enc(x).chunk(2, dim=-1)
        q = D.Independent(D.Normal(mu, log_sigma.exp()), 1)
        z = q.rsample()
        return D.kl_divergence(q, prior), D.Independent(D.Normal(dec(z), 1.0), 1).log_prob(x)

    def loss_fn():
        kl, recon = terms()
        assert kl.shape == (64,) and bool((kl >= 0).all())
        return (kl - recon).mean()
    (-terms()[1].mean()).backward()  # the reconstruction term reaches the encoder through rsample
    assert all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in enc.parameters())
    first = float(loss_fn())
    for _ in range(100):
        loss = loss_fn()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss_fn()) < first - 1.0
