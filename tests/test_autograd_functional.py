"""autograd.functional (jacobian, hessian, vjp, jvp, hvp, vhp), anomaly detection and the deprecated Variable:
against PyTorch where it is installed, and against finite differences without it."""
import warnings

import numpy as np
import pytest

import ember
from ember import nn
from ember.autograd import Function, functional as AF

RNG = np.random.default_rng(0)
A, B = RNG.standard_normal(3), RNG.standard_normal(3)


def _pair_fn(x, y):
    return x * y.sin(), (x ** 2).sum() * y


def _scalar_fn(x):
    return (x ** 3).sum() + x[0] * x[1]


def _close(mine, theirs):
    if isinstance(mine, (tuple, list)):
        assert len(mine) == len(theirs)
        for a, b in zip(mine, theirs):
            _close(a, b)
        return
    np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("case", ["jacobian", "jacobian_single", "hessian", "hessian_pair", "vjp", "jvp", "hvp",
                                  "vhp"])
def test_functional_matches_torch(case):
    torch = pytest.importorskip("torch")
    results = []
    for lib in (ember, torch):
        af = lib.autograd.functional
        a, b = lib.tensor(A), lib.tensor(B)
        results.append({
            "jacobian": lambda: af.jacobian(_pair_fn, (a, b)),
            "jacobian_single": lambda: af.jacobian(lambda x: x.exp() * x[0], a),
            "hessian": lambda: af.hessian(_scalar_fn, a),
            "hessian_pair": lambda: af.hessian(lambda x, y: (x * y).sum() ** 2, (a, b)),
            "vjp": lambda: af.vjp(_pair_fn, (a, b), (b, a)),
            "jvp": lambda: af.jvp(_pair_fn, (a, b), (b, a)),
            "hvp": lambda: af.hvp(_scalar_fn, a, b),
            "vhp": lambda: af.vhp(_scalar_fn, a, b),
        }[case]())
    _close(*results)


def test_functional_without_torch():
    x = ember.tensor(A)
    jac = AF.jacobian(lambda t: t.sin() * t.sum(), x)
    eps, numeric = 1e-6, np.zeros((3, 3))
    for j in range(3):  # central differences, column by column
        step = np.eye(3)[j] * eps
        numeric[:, j] = (np.sin(A + step) * (A + step).sum() - np.sin(A - step) * (A - step).sum()) / (2 * eps)
    np.testing.assert_allclose(jac.numpy(), numeric, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(AF.hessian(_scalar_fn, x).numpy(), np.diag(6 * A) + np.array(
        [[0, 1, 0], [1, 0, 0], [0, 0, 0]]), rtol=1e-12)
    # create_graph: the Jacobian stays differentiable (the derivative of its trace is the Laplacian-like sum)
    y = ember.tensor(A, requires_grad=True)
    trace = AF.jacobian(lambda t: t ** 3, y, create_graph=True).diagonal().sum()
    trace.backward()
    np.testing.assert_allclose(y.grad.numpy(), 6 * A, rtol=1e-12)
    assert not AF.jacobian(lambda t: t ** 3, y).requires_grad
    with pytest.raises(RuntimeError, match="independent of input 1. This is not allowed in strict mode"):
        AF.jacobian(lambda s, t: s * 2, (x, ember.tensor(B)), strict=True)
    np.testing.assert_array_equal(AF.jacobian(lambda s, t: s * 2, (x, ember.tensor(B)))[1].numpy(), np.zeros((3, 3)))
    with pytest.raises(RuntimeError, match="v can only be None if the user-provided function returns a single"):
        AF.vjp(lambda t: t * 2, x)


class _NanGradient(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 1

    @staticmethod
    def backward(ctx, g):
        return g * float("nan")


def test_detect_anomaly_names_the_node():
    x = ember.tensor([0.0, 1.0], requires_grad=True)
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        detector = ember.autograd.detect_anomaly()
    with detector, pytest.raises(RuntimeError, match="Function 'SqrtBackward0' returned nan values in its 0th output"):
        (x.sqrt() * 0).sum().backward()
    assert not ember.autograd.is_anomaly_enabled()
    (x.sqrt() * 0).sum().backward()  # off again: the NaN goes through
    assert np.isnan(x.grad.numpy()[0])
    with ember.autograd.set_detect_anomaly(True):
        assert ember.autograd.is_anomaly_enabled() and ember.is_anomaly_enabled()
        with pytest.raises(RuntimeError, match="Function '_NanGradientBackward' returned nan values"):
            _NanGradient.apply(x).sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")

        @ember.autograd.detect_anomaly(check_nan=False)
        def unchecked():
            _NanGradient.apply(x).sum().backward()
            return ember.autograd.is_anomaly_check_nan_enabled()

    assert unchecked() is False and ember.autograd.is_anomaly_check_nan_enabled()


def test_variable_is_a_tensor():
    y = ember.ones(2, requires_grad=True) * 2
    v = ember.autograd.Variable(y)
    assert v is not y and not v.requires_grad and v.grad_fn is None
    assert ember.autograd.Variable(ember.ones(2), requires_grad=True).requires_grad
    assert isinstance(ember.ones(1), ember.autograd.Variable) and isinstance(nn.Parameter(ember.ones(1)),
                                                                             ember.autograd.Variable)
    assert not isinstance(3.0, ember.autograd.Variable)
