"""The in-place samplers (exponential_, geometric_, log_normal_, cauchy_, random_, bernoulli_), Tensor.bernoulli
and Tensor.multinomial, ember.poisson and ember.binomial: their distributions (moments of many draws), ranges and
dtypes, reproducibility under manual_seed, in-place semantics and PyTorch's errors."""
import numpy as np
import pytest

import ember

N = 200_000


def _draw(method, *args, dtype=ember.float64, **kwargs):
    ember.manual_seed(0)
    return getattr(ember.empty(N, dtype=dtype), method)(*args, **kwargs).numpy()


@pytest.mark.parametrize("method,args,mean,var", [
    ("exponential_", (2.0,), 0.5, 0.25),
    ("geometric_", (0.25,), 4.0, 0.75 / 0.25 ** 2),
    ("log_normal_", (0.5, 0.4), np.exp(0.5 + 0.08), (np.exp(0.16) - 1) * np.exp(1.0 + 0.16)),
    ("bernoulli_", (0.3,), 0.3, 0.21),
    ("random_", (3, 9), 5.5, (6 ** 2 - 1) / 12),
])
def test_samplers_have_their_distributions_moments(method, args, mean, var):
    x = _draw(method, *args)
    se = np.sqrt(var / N)
    assert abs(x.mean() - mean) < 5 * se, (x.mean(), mean)
    assert abs(x.var() - var) < 0.05 * var
    ember.manual_seed(0)
    assert np.array_equal(getattr(ember.empty(N, dtype=ember.float64), method)(*args).numpy(), x)  # reproducible


def test_sampler_ranges_dtypes_and_in_place():
    x = ember.empty(1000)
    version = x._version
    assert x.cauchy_(1.0, 0.5) is x and x._version > version and x.dtype is ember.float32
    assert abs(np.median(_draw("cauchy_", 1.0, 0.5)) - 1.0) < 0.01  # the median
    assert set(np.unique(_draw("geometric_", 0.5)[:1000])) <= set(range(1, 60))
    ints = ember.empty(1000, dtype=ember.int64).random_(5)
    assert ints.dtype is ember.int64 and ints.min() >= 0 and ints.max() <= 4
    assert ember.empty(1000, dtype=ember.int32).random_().min() >= 0
    assert float(ember.empty(1000).random_(**{"from": 2, "to": 4}).min()) >= 2
    probabilities = ember.tensor([0.0, 1.0, 0.0, 1.0])
    assert ember.empty(4).bernoulli_(probabilities).tolist() == [0.0, 1.0, 0.0, 1.0]
    assert probabilities.bernoulli().tolist() == [0.0, 1.0, 0.0, 1.0]
    assert ember.tensor([0.0, 2.0, 0.0]).multinomial(3, replacement=True).tolist() == [1, 1, 1]
    counts = np.bincount(ember.tensor([1.0, 3.0]).multinomial(N, replacement=True).numpy())
    assert abs(counts[1] / N - 0.75) < 0.01


def test_poisson_and_binomial():
    ember.manual_seed(0)
    rates = ember.full((N,), 3.0, dtype=ember.float64)
    x = ember.poisson(rates).numpy()
    assert abs(x.mean() - 3.0) < 0.03 and abs(x.var() - 3.0) < 0.1
    y = ember.binomial(ember.full((N,), 10.0), ember.full((N,), 0.2)).numpy()
    assert abs(y.mean() - 2.0) < 0.02 and abs(y.var() - 1.6) < 0.05 and y.max() <= 10


def test_sampler_errors_match_torch():
    with pytest.raises(RuntimeError, match="exponential_ expects lambda > 0.0, but found lambda=-1"):
        ember.empty(3).exponential_(-1)
    with pytest.raises(RuntimeError, match=r"geometric_ expects p to be in \(0, 1\), but got p=0"):
        ember.empty(3).geometric_(0)
    with pytest.raises(RuntimeError, match="random_ expects 'from' to be less than 'to', but got from=5 >= to=2"):
        ember.empty(3).random_(5, 2)
    torch = pytest.importorskip("torch")
    for call in (lambda t: t.empty(3).exponential_(-1), lambda t: t.empty(3).geometric_(0),
                 lambda t: t.empty(3).random_(5, 2)):
        with pytest.raises(RuntimeError) as theirs:
            call(torch)
        with pytest.raises(RuntimeError) as mine:
            call(ember)
        assert str(mine.value) == str(theirs.value)
