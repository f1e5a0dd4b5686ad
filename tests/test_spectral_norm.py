"""nn.utils.spectral_norm / remove_spectral_norm (the forward pre-hook form): state_dict keys and metadata, outputs,
power-iteration updates of u and v (training mode only) and every gradient against PyTorch after copying the state
by name (float64), gradcheck of the eval-mode weight, PyTorch's version-0 checkpoints, removal and errors."""
import numpy as np
import pytest

import ember
from ember import nn
from ember.autograd import gradcheck
from ember.nn.utils import remove_spectral_norm, spectral_norm
from ember.nn.utils.stateless import functional_call
from helpers import assert_close, rand64

LAYERS = {"linear": (lambda lib: lib.nn.Linear(5, 3), (4, 5)),
          "conv1d": (lambda lib: lib.nn.Conv1d(2, 4, 3), (2, 2, 6)),
          "conv2d": (lambda lib: lib.nn.Conv2d(2, 3, (2, 3)), (2, 2, 5, 5)),
          "convT2d": (lambda lib: lib.nn.ConvTranspose2d(3, 2, 3), (2, 3, 4, 4))}


def _copy_state(em, tm):
    em.load_state_dict({k: ember.tensor(v.numpy()) for k, v in tm.state_dict().items()})


def _pair(torch, kind, **kwargs):
    make, shape = LAYERS[kind]
    tm = torch.nn.utils.spectral_norm(make(torch).double(), **kwargs)
    em = spectral_norm(make(ember).double(), **kwargs)
    _copy_state(em, tm)
    return em, tm, shape


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("n_power_iterations", [1, 3])
def test_spectral_norm_matches_torch(kind, n_power_iterations, torch):
    em, tm, shape = _pair(torch, kind, n_power_iterations=n_power_iterations)
    assert list(em.state_dict()) == list(tm.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    assert [n for n, _ in em.named_buffers()] == [n for n, _ in tm.named_buffers()]
    rng = np.random.default_rng(1)
    for step in range(3):  # training forwards update u and v each time; the gradients see this step's sigma
        x = rng.standard_normal(shape)
        ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        eo, to = em(ex), tm(tx)
        assert_close(eo, to, rtol=1e-10, atol=1e-12)
        assert_close(em.weight_u, tm.weight_u, rtol=1e-10, atol=1e-12)
        assert_close(em.weight_v, tm.weight_v, rtol=1e-10, atol=1e-12)
        g = rng.standard_normal(tuple(to.shape))
        eo.backward(ember.tensor(g))
        to.backward(torch.tensor(g))
        assert_close(ex.grad, tx.grad, rtol=1e-9, atol=1e-12)
        for (name, p), (_, tp) in zip(em.named_parameters(), tm.named_parameters()):
            assert_close(p.grad, tp.grad, rtol=1e-9, atol=1e-12), name
    em.eval()
    tm.eval()
    x = rng.standard_normal(shape)
    assert_close(em(ember.tensor(x)), tm(torch.tensor(x)), rtol=1e-10, atol=1e-12)


def test_power_iteration_updates_u_and_v_in_training_mode_only():
    m = spectral_norm(nn.Linear(6, 4))
    x = ember.randn(3, 6)
    u, v = m.weight_u, m.weight_v
    before = u.numpy().copy(), v.numpy().copy()
    m.eval()
    m(x)
    np.testing.assert_array_equal(m.weight_u.numpy(), before[0])
    np.testing.assert_array_equal(m.weight_v.numpy(), before[1])
    m.train()
    m(x)
    assert m.weight_u is u and m.weight_v is v  # updated in place: the buffers keep their identity
    assert not np.allclose(u.numpy(), before[0]) and not np.allclose(v.numpy(), before[1])


def test_initial_u_v_and_convergence_to_unit_spectral_norm():
    m = spectral_norm(nn.ConvTranspose2d(3, 5, 2))  # dim 1 by default: rows are the 5 output channels
    assert tuple(m.weight_u.shape) == (5,) and tuple(m.weight_v.shape) == (3 * 2 * 2,)
    for t in (m.weight_u, m.weight_v):
        assert abs(float(np.linalg.norm(t.numpy())) - 1.0) < 1e-6
    assert not isinstance(m.weight, nn.Parameter) and isinstance(m.weight_orig, nn.Parameter)
    x = ember.randn(1, 3, 2, 2)
    for _ in range(30):
        m(x)
    mat = m.weight.detach().numpy().transpose(1, 0, 2, 3).reshape(5, -1)
    assert abs(np.linalg.svd(mat, compute_uv=False)[0] - 1.0) < 1e-4
    assert isinstance(spectral_norm(nn.Conv2d(3, 5, 2)), nn.Conv2d)
    assert tuple(spectral_norm(nn.Conv2d(3, 5, 2)).weight_u.shape) == (5,)
    assert tuple(spectral_norm(nn.ConvTranspose2d(3, 5, 2), dim=0).weight_u.shape) == (3,)


@pytest.mark.parametrize("kind", ["linear", "conv2d", "convT2d"])
def test_spectral_norm_gradcheck_in_eval_mode(kind):
    make, shape = LAYERS[kind]
    m = spectral_norm(make(ember).double()).eval()
    w = rand64(*m.weight_orig.shape, seed=2)
    x = rand64(*shape, seed=3)
    u, v = m.weight_u.numpy().copy(), m.weight_v.numpy().copy()
    assert gradcheck(lambda w, x: functional_call(m, {"weight_orig": w}, (x,)), (w, x))
    np.testing.assert_array_equal(m.weight_u.numpy(), u)
    np.testing.assert_array_equal(m.weight_v.numpy(), v)


def test_state_dict_metadata_and_round_trip(torch):
    em, tm, shape = _pair(torch, "linear")
    assert em.state_dict()._metadata[""]["spectral_norm"] == tm.state_dict()._metadata[""]["spectral_norm"]
    seq = nn.Sequential(em)
    assert seq.state_dict()._metadata["0"]["spectral_norm"] == {"weight.version": 1}
    other = spectral_norm(nn.Linear(5, 3).double())
    other.load_state_dict(em.state_dict())
    x = ember.tensor(np.random.default_rng(0).standard_normal(shape))
    assert_close(other.eval()(x), em.eval()(x).detach().numpy(), rtol=1e-12, atol=1e-12)


def test_loads_pytorch_version_0_state_dict(torch):
    """A checkpoint of PyTorch's first format stored the weight and no v: v is solved from it on loading."""
    em, tm, shape = _pair(torch, "conv2d")
    tm.eval()
    tm(torch.zeros(shape, dtype=torch.float64))
    old = {"bias": tm.bias.detach(), "weight_orig": tm.weight_orig.detach(), "weight_u": tm.weight_u,
           "weight": tm.weight.detach()}
    e2, t2, _ = _pair(torch, "conv2d")
    t2.load_state_dict(dict(old))
    e2.load_state_dict({k: ember.tensor(v.numpy()) for k, v in old.items()})
    assert_close(e2.weight_v, t2.weight_v, rtol=1e-8, atol=1e-10)
    x = np.random.default_rng(0).standard_normal(shape)
    assert_close(e2.eval()(ember.tensor(x)), t2.eval()(torch.tensor(x)), rtol=1e-8, atol=1e-10)
    e3 = spectral_norm(nn.Conv2d(2, 3, (2, 3)).double())
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "weight_orig", "weight", "weight_u"'):
        e3.load_state_dict({"bias": ember.zeros(3, dtype=ember.float64)})


def test_remove_spectral_norm_restores_a_parameter_with_the_current_value(torch):
    em, tm, shape = _pair(torch, "conv2d")
    x = np.random.default_rng(0).standard_normal(shape)
    em(ember.tensor(x))
    tm(torch.tensor(x))
    w_orig, u, v = em.weight_orig.detach().numpy(), em.weight_u.numpy(), em.weight_v.numpy()
    sigma = u @ w_orig.reshape(3, -1) @ v
    assert remove_spectral_norm(em) is em
    torch.nn.utils.remove_spectral_norm(tm)
    assert isinstance(em.weight, nn.Parameter) and em.weight.is_leaf and em.weight.requires_grad
    np.testing.assert_allclose(em.weight.detach().numpy(), w_orig / sigma, rtol=1e-12)
    assert_close(em.weight, tm.weight, rtol=1e-10, atol=1e-12)
    assert list(em.state_dict()) == list(tm.state_dict()) == ["bias", "weight"]
    assert not em._forward_pre_hooks and not em._state_dict_hooks and not em._load_state_dict_pre_hooks
    assert "spectral_norm" not in em.state_dict()._metadata[""]


def test_spectral_norm_errors(torch):
    with pytest.raises(ValueError, match="Expected n_power_iterations to be positive, but got n_power_iterations=0"):
        spectral_norm(nn.Linear(3, 2), n_power_iterations=0)
    m = spectral_norm(nn.Linear(3, 2))
    with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks on the same parameter weight"):
        spectral_norm(m)
    msg = "spectral_norm of 'weight' not found in Linear\\(in_features=3, out_features=2, bias=True\\)"
    for lib in (ember, torch):
        with pytest.raises(ValueError, match=msg):
            lib.nn.utils.remove_spectral_norm(lib.nn.Linear(3, 2))
        with pytest.raises(KeyError, match="foo"):
            lib.nn.utils.spectral_norm(lib.nn.Linear(3, 2), name="foo")
        with pytest.raises(ValueError, match="`SpectralNorm` cannot be applied as parameter `bias` is None"):
            lib.nn.utils.spectral_norm(lib.nn.Linear(3, 2, bias=False), name="bias")
