"""ember.func (torch.func): grad, grad_and_value, vjp, jacrev, jacfwd, hessian, vmap, functional_call, and their
compositions (grad of grad, per-sample gradients as vmap of grad, model ensembling with functional_call), against
PyTorch where it is installed."""
import numpy as np
import pytest

import ember
from ember import func, nn

RNG = np.random.default_rng(0)
A, B = RNG.standard_normal(3), RNG.standard_normal(3)
W, X, Y = RNG.standard_normal((4, 3)), RNG.standard_normal((5, 3)), RNG.standard_normal((5, 4))


def _loss(w, x, y):
    return ((x @ w.T - y) ** 2).sum()


def _cases(lib):
    f = lib.func
    a, b, w, x, y = (lib.tensor(v) for v in (A, B, W, X, Y))
    return {
        "grad": lambda: f.grad(lambda t: (t.sin() * t ** 2).sum())(a),
        "grad_argnums": lambda: f.grad(lambda s, t: (s * t.exp()).sum(), argnums=(0, 1))(a, b),
        "grad_of_grad": lambda: f.grad(f.grad(lambda t: t.sin() * t ** 3))(a[0]),
        "grad_and_value": lambda: f.grad_and_value(lambda t: (t ** 3).sum())(a),
        "jacrev": lambda: f.jacrev(lambda s, t: s * t.exp(), argnums=(0, 1))(a, b),
        "jacfwd": lambda: f.jacfwd(lambda t: t.sum() * t)(a),
        "hessian": lambda: f.hessian(lambda t: (t.sin() * t ** 2).sum())(a),
        "vjp": lambda: f.vjp(lambda t: t.exp() * t, a)[1](b),
        "per_sample_grads": lambda: f.vmap(f.grad(_loss), in_dims=(None, 0, 0))(w, x, y),
        "vmap_out_dims": lambda: f.vmap(lambda t: (t * 2, t.sum()), in_dims=1, out_dims=(1, 0))(x),
    }


@pytest.mark.parametrize("case", list(_cases(ember)))
def test_transforms_match_torch(case):
    torch = pytest.importorskip("torch")
    mine, theirs = _cases(ember)[case](), _cases(torch)[case]()

    def close(a, b):
        if isinstance(a, (tuple, list)):
            assert len(a) == len(b)
            for x, y in zip(a, b):
                close(x, y)
        else:
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-13)
    close(mine, theirs)


def test_transforms_without_torch():
    x = ember.tensor(A)
    np.testing.assert_allclose(func.grad(lambda t: (t ** 3).sum())(x).numpy(), 3 * A ** 2, rtol=1e-12)
    np.testing.assert_allclose(func.hessian(lambda t: (t ** 3).sum())(x).numpy(), np.diag(6 * A), rtol=1e-12)
    grads, (value, aux) = func.grad_and_value(lambda t: ((t ** 2).sum(), t.mean()), has_aux=True)(x)
    assert not value.requires_grad and not aux.requires_grad and value.item() == pytest.approx((A ** 2).sum())
    # per-sample gradients are the gradients of each sample's loss alone
    per_sample = func.vmap(func.grad(_loss), in_dims=(None, 0, 0))(ember.tensor(W), ember.tensor(X), ember.tensor(Y))
    for i in range(5):
        alone = func.grad(_loss)(ember.tensor(W), ember.tensor(X[i:i + 1]), ember.tensor(Y[i:i + 1]))
        np.testing.assert_allclose(per_sample[i].numpy(), alone.numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="Expected f\\(\\*args\\) to return a scalar Tensor"):
        func.grad(lambda t: t * 2)(x)
    with pytest.raises(ValueError, match="Expected all tensors to have the same size in the mapped dimension"):
        func.vmap(lambda s, t: s + t)(ember.ones(2), ember.ones(3))


def test_model_ensemble_with_functional_call_and_vmap():
    """Three copies of a model's parameters, stacked, evaluated on one batch by vmap over functional_call: each
    slice equals that copy's own forward."""
    ember.manual_seed(0)
    models = [nn.Linear(3, 2) for _ in range(3)]
    stacked = {name: ember.stack([dict(m.named_parameters())[name].detach() for m in models])
               for name, _ in models[0].named_parameters()}
    x = ember.tensor(RNG.standard_normal((4, 3)).astype(np.float32))

    def one(params):
        return func.functional_call(models[0], params, (x,))

    outputs = func.vmap(one)(stacked)  # the dict's tensors mapped along their first dimension
    for i, m in enumerate(models):
        np.testing.assert_allclose(outputs[i].detach().numpy(), m(x).detach().numpy(), rtol=1e-6)
    # gradients with respect to the given parameters, the module's own untouched
    grads = func.grad(lambda p: one(p).sum())({k: v[1] for k, v in stacked.items()})
    np.testing.assert_allclose(grads["weight"].numpy(), np.tile(x.numpy().sum(0), (2, 1)), rtol=1e-6)
    assert models[0].weight.grad is None
