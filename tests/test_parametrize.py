"""nn.utils.parametrize and nn.utils.parametrizations: the parametrized attribute, class, repr, state_dict keys,
parameters and gradients against PyTorch after copying the state by name (float64), right_inverse, chaining,
removal, caching, the errors with PyTorch's messages, and weight_norm / spectral_norm as parametrizations."""
import copy
import pickle
import warnings

import numpy as np
import pytest

import ember
from ember import nn
from ember.autograd import gradcheck
from ember.nn.utils import parametrizations, parametrize
from ember.nn.utils.stateless import functional_call
from helpers import assert_close, rand64


def _classes(lib):
    """The same parametrizations written for ember and for torch (same class names, so the reprs compare)."""
    class Symmetric(lib.nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(-1, -2)

    class Scale(lib.nn.Module):
        def __init__(self, c):
            super().__init__()
            self.c = c

        def forward(self, X):
            return self.c * X

        def right_inverse(self, Y):
            return Y / self.c

    class Split(lib.nn.Module):  # two originals: X = A + B, right_inverse gives (X / 2, X / 2)
        def forward(self, A, B):
            return A + B

        def right_inverse(self, X):
            return X / 2, X / 2

    return Symmetric, Scale, Split


def _copy_state(em, tm):
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})


def _compare(em, tm, torch, x, rtol=1e-12):
    """Outputs, and the gradients of every parameter and of x, of em and tm on x (float64)."""
    ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    eo, to = em(ex), tm(tx)
    assert_close(eo, to, rtol=rtol, atol=1e-12)
    g = np.random.default_rng(7).standard_normal(tuple(to.shape))
    eo.backward(ember.tensor(g))
    to.backward(torch.tensor(g))
    assert_close(ex.grad, tx.grad, rtol=rtol, atol=1e-12)
    names = [n for n, _ in em.named_parameters()]
    assert names == [n for n, _ in tm.named_parameters()]
    for (name, p), (_, tp) in zip(em.named_parameters(), tm.named_parameters()):
        assert_close(p.grad, tp.grad, rtol=rtol, atol=1e-12), name


def test_register_parametrization_matches_torch(torch):
    ems, tms = [], []
    for lib, out in ((ember, ems), (torch, tms)):
        Symmetric, Scale, _ = _classes(lib)
        m = lib.nn.Linear(3, 3).double()
        lib.nn.utils.parametrize.register_parametrization(m, "weight", Symmetric())
        lib.nn.utils.parametrize.register_parametrization(m, "weight", Scale(3.0))
        out.append(m)
    em, tm = ems[0], tms[0]
    assert repr(em) == repr(tm)
    assert type(em).__name__ == "ParametrizedLinear" and isinstance(em, nn.Linear)
    assert list(em.state_dict()) == list(tm.state_dict()) == ["bias", "parametrizations.weight.original"]
    _copy_state(em, tm)
    assert_close(em.weight, tm.weight, rtol=1e-12)
    w = em.weight.detach().numpy()
    np.testing.assert_array_equal(w, w.T)
    _compare(em, tm, torch, np.random.default_rng(0).standard_normal((4, 3)))
    assert em.weight.grad_fn is not None and "weight" not in em._parameters


def test_right_inverse_keeps_the_original_parameter_and_sets_it_on_assignment(torch):
    _, Scale, _ = _classes(ember)
    m = nn.Linear(2, 2)
    w, before = m.weight, m.weight.detach().numpy().copy()
    parametrize.register_parametrization(m, "weight", Scale(2.0))
    assert m.parametrizations.weight.original is w  # same Parameter: an optimizer holding it stays valid
    np.testing.assert_allclose(w.detach().numpy(), before / 2, rtol=1e-6)
    np.testing.assert_allclose(m.weight.detach().numpy(), before, rtol=1e-6)
    m.weight = ember.ones(2, 2)
    assert m.parametrizations.weight.original is w
    np.testing.assert_allclose(w.detach().numpy(), np.full((2, 2), 0.5))
    Symmetric, _, _ = _classes(ember)
    parametrize.register_parametrization(m, "weight", Symmetric())
    with pytest.raises(RuntimeError, match="parametrization Symmetric does not implement right_inverse."):
        m.weight = ember.ones(2, 2)


def test_sequence_right_inverse_gives_original0_original1(torch):
    ems = []
    for lib in (ember, torch):
        _, _, Split = _classes(lib)
        ems.append(lib.nn.utils.parametrize.register_parametrization(lib.nn.Linear(3, 2).double(), "weight",
                                                                     Split()))
    em, tm = ems
    assert list(em.state_dict()) == list(tm.state_dict()) == [
        "bias", "parametrizations.weight.original0", "parametrizations.weight.original1"]
    p = em.parametrizations.weight
    assert not p.is_tensor and p.ntensors == 2 and isinstance(p.original0, nn.Parameter)
    _copy_state(em, tm)
    _compare(em, tm, torch, np.random.default_rng(1).standard_normal((4, 3)))
    em.weight = ember.ones(2, 3, dtype=ember.float64)
    np.testing.assert_allclose(p.original1.detach().numpy(), np.full((2, 3), 0.5))


def test_a_parametrized_buffer_stays_a_buffer():
    _, Scale, _ = _classes(ember)
    m = nn.BatchNorm1d(3)
    parametrize.register_parametrization(m, "running_var", Scale(2.0))
    assert "parametrizations.running_var.original" in dict(m.named_buffers())
    assert "parametrizations.running_var.original" not in dict(m.named_parameters())
    np.testing.assert_allclose(m.running_var.numpy(), np.ones(3))


@pytest.mark.parametrize("leave_parametrized", [True, False])
def test_remove_parametrizations(leave_parametrized, torch):
    _, Scale, _ = _classes(ember)
    m = nn.Linear(2, 2)
    w = m.weight
    parametrize.register_parametrization(m, "weight", Scale(2.0))
    value, original = m.weight.detach().numpy().copy(), w.detach().numpy().copy()
    assert parametrize.remove_parametrizations(m, "weight", leave_parametrized=leave_parametrized) is m
    assert type(m) is nn.Linear and not hasattr(m, "parametrizations") and not parametrize.is_parametrized(m)
    assert m.weight is w and isinstance(m.weight, nn.Parameter)
    np.testing.assert_allclose(m.weight.detach().numpy(), value if leave_parametrized else original)
    assert list(m.state_dict()) == ["bias", "weight"]
    assert "Parametrized" not in repr(m)


def test_removing_one_of_two_keeps_the_other_and_sequence_originals():
    _, Scale, Split = _classes(ember)
    m = nn.Linear(2, 2)
    parametrize.register_parametrization(m, "weight", Split())
    parametrize.register_parametrization(m, "bias", Scale(2.0))
    value = m.weight.detach().numpy().copy()
    with pytest.raises(ValueError, match="Cannot leave unparametrized \\(`leave_parametrized=False`\\) a tensor that "
                                         "is parametrized in terms of a sequence of tensors."):
        parametrize.remove_parametrizations(m, "weight", leave_parametrized=False)
    parametrize.remove_parametrizations(m, "weight")
    assert isinstance(m.weight, nn.Parameter) and m.weight.is_leaf
    np.testing.assert_allclose(m.weight.detach().numpy(), value)
    assert parametrize.is_parametrized(m) and parametrize.is_parametrized(m, "bias")
    assert not parametrize.is_parametrized(m, "weight") and type(m).__name__ == "ParametrizedLinear"
    assert parametrize.type_before_parametrizations(m) is nn.Linear
    assert parametrize.type_before_parametrizations(nn.Linear(1, 1)) is nn.Linear


def test_cached():
    _, Scale, _ = _classes(ember)
    m = parametrize.register_parametrization(nn.Linear(2, 2), "weight", Scale(2.0))
    assert m.weight is not m.weight
    with parametrize.cached():
        w = m.weight
        assert m.weight is w
        with parametrize.cached():
            assert m.weight is w
        assert m.weight is w  # the inner context leaves the cache to the outer one
    assert m.weight is not w


def test_transfer_parametrizations_and_params():
    _, Scale, _ = _classes(ember)
    a = parametrize.register_parametrization(nn.Linear(2, 2), "weight", Scale(2.0))
    b = parametrize.transfer_parametrizations_and_params(a, nn.Linear(2, 2))
    assert type(b).__name__ == "ParametrizedLinear" and b.parametrizations.weight.original is \
        a.parametrizations.weight.original
    np.testing.assert_array_equal(b.weight.detach().numpy(), a.weight.detach().numpy())


def test_deepcopy_works_and_pickling_raises():
    _, Scale, _ = _classes(ember)
    m = parametrize.register_parametrization(nn.Linear(2, 2), "weight", Scale(2.0))
    clone = copy.deepcopy(m)
    assert clone.parametrizations.weight.original is not m.parametrizations.weight.original
    np.testing.assert_array_equal(clone.weight.detach().numpy(), m.weight.detach().numpy())
    with pytest.raises(RuntimeError, match="Serialization of parametrized modules is only supported through "
                                           "state_dict"):
        pickle.dumps(m)


def test_parametrize_errors(torch):
    for lib in (ember, torch):
        Symmetric, Scale, _ = _classes(lib)
        reg = lib.nn.utils.parametrize.register_parametrization

        class Float32(lib.nn.Module):
            def forward(self, X):
                return X.float()

        class Row(lib.nn.Module):
            def forward(self, X):
                return X[:1]

        m = lib.nn.Linear(2, 2).double()
        with pytest.raises(ValueError, match="does not have a parameter, a buffer, or a parametrized element with "
                                             "name 'foo'"):
            reg(m, "foo", Symmetric())
        with pytest.raises(ValueError, match="Registering a parametrization may not change the dtype of the tensor, "
                                             "unless `unsafe` flag is enabled.\nunparametrized dtype: "):
            reg(m, "weight", Float32())
        with pytest.raises(ValueError, match="Registering a parametrization may not change the shape of the tensor, "
                                             "unless `unsafe` flag is enabled."):
            reg(m, "weight", Row())
        assert not lib.nn.utils.parametrize.is_parametrized(m) and type(m).__name__ == "Linear"  # nothing changed
        reg(m, "weight", Row(), unsafe=True)
        assert tuple(m.weight.shape) == (1, 2)
        m = reg(lib.nn.Linear(2, 2).double(), "weight", Symmetric())
        with pytest.raises(ValueError, match="Registering a parametrization may not change the shape of the tensor, "
                                             "unless the `unsafe` flag is enabled.\nmodule.weight.shape: "):
            reg(m, "weight", Row())
        with pytest.raises(ValueError, match="does not have a parametrization on bias"):
            lib.nn.utils.parametrize.remove_parametrizations(m, "bias")
        with pytest.raises(KeyError, match="attribute 'weight' already exists"):
            m.weight = lib.nn.Parameter(lib.ones(2, 2))


# ---- parametrizations.weight_norm / spectral_norm

WN_LAYERS = [("linear", 0), ("linear", 1), ("linear", None), ("conv2d", 0), ("conv2d", 2)]


def _layer(lib, kind):
    return {"linear": lambda: lib.nn.Linear(4, 3), "conv2d": lambda: lib.nn.Conv2d(2, 3, (2, 3)),
            "convT2d": lambda: lib.nn.ConvTranspose2d(3, 2, 3)}[kind]().double()


SHAPES = {"linear": (5, 4), "conv2d": (2, 2, 5, 5), "convT2d": (2, 3, 4, 4)}


@pytest.mark.parametrize("kind, dim", WN_LAYERS)
def test_parametrized_weight_norm_matches_torch(kind, dim, torch):
    tm = torch.nn.utils.parametrizations.weight_norm(_layer(torch, kind), dim=dim)
    em = parametrizations.weight_norm(_layer(ember, kind), dim=dim)
    assert repr(em) == repr(tm)
    assert list(em.state_dict()) == list(tm.state_dict()) == [
        "bias", "parametrizations.weight.original0", "parametrizations.weight.original1"]
    _copy_state(em, tm)
    _compare(em, tm, torch, np.random.default_rng(0).standard_normal(SHAPES[kind]))


def test_parametrized_weight_norm_keeps_the_weight_and_loads_old_state_dicts(torch):
    layer = nn.Linear(4, 3).double()
    before = layer.weight.detach().numpy().copy()
    em = parametrizations.weight_norm(layer)
    np.testing.assert_allclose(em.weight.detach().numpy(), before, rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        old = torch.nn.utils.weight_norm(_layer(torch, "linear"))  # keys weight_g, weight_v
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in old.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 4))
    assert_close(em(ember.tensor(x)), old(torch.tensor(x)), rtol=1e-12, atol=1e-12)


def test_parametrized_weight_norm_gradcheck():
    m = parametrizations.weight_norm(nn.Conv2d(2, 3, 2).double(), dim=1)
    g, v, x = rand64(1, 2, 1, 1, seed=1), rand64(3, 2, 2, 2, seed=2), rand64(1, 2, 3, 3, seed=3)
    names = ("parametrizations.weight.original0", "parametrizations.weight.original1")
    assert gradcheck(lambda g, v, x: functional_call(m, dict(zip(names, (g, v))), (x,)), (g, v, x))


@pytest.mark.parametrize("kind", ["linear", "conv2d", "convT2d"])
def test_parametrized_spectral_norm_matches_torch(kind, torch):
    tm = torch.nn.utils.parametrizations.spectral_norm(_layer(torch, kind))
    em = parametrizations.spectral_norm(_layer(ember, kind))
    assert repr(em) == repr(tm)
    assert list(em.state_dict()) == list(tm.state_dict()) == [
        "bias", "parametrizations.weight.original", "parametrizations.weight.0._u", "parametrizations.weight.0._v"]
    _copy_state(em, tm)
    sn, tsn = em.parametrizations.weight[0], tm.parametrizations.weight[0]
    rng = np.random.default_rng(3)
    for _ in range(2):  # each forward reads the weight once: one power-iteration step each time
        _compare(em, tm, torch, rng.standard_normal(SHAPES[kind]), rtol=1e-9)
        assert_close(sn._u, tsn._u, rtol=1e-10, atol=1e-12)
        assert_close(sn._v, tsn._v, rtol=1e-10, atol=1e-12)
    em.eval()
    tm.eval()
    u = sn._u.numpy().copy()
    x = rng.standard_normal(SHAPES[kind])
    assert_close(em(ember.tensor(x)), tm(torch.tensor(x)), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(sn._u.numpy(), u)  # no power iteration in eval mode


def test_parametrized_spectral_norm_gradcheck_in_eval_mode():
    m = parametrizations.spectral_norm(nn.Linear(4, 3).double()).eval()
    w, x = rand64(3, 4, seed=4), rand64(2, 4, seed=5)
    assert gradcheck(lambda w, x: functional_call(m, {"parametrizations.weight.original": w}, (x,)), (w, x))


def test_parametrized_spectral_norm_of_a_vector_is_exact_and_removal():
    m = nn.Linear(3, 4)
    parametrizations.spectral_norm(m, name="bias")
    b = m.parametrizations.bias.original.detach().numpy()
    np.testing.assert_allclose(m.bias.detach().numpy(), b / np.linalg.norm(b), rtol=1e-6)
    parametrizations.spectral_norm(m)
    for _ in range(20):
        w = m.weight  # training mode: each read is one more power-iteration step
    assert abs(np.linalg.svd(w.detach().numpy(), compute_uv=False)[0] - 1.0) < 1e-4
    parametrize.remove_parametrizations(m, "weight")
    parametrize.remove_parametrizations(m, "bias")
    assert type(m) is nn.Linear and list(m.state_dict()) == ["weight", "bias"]


def test_parametrizations_errors(torch):
    for lib in (ember, torch):
        P = lib.nn.utils.parametrizations
        with pytest.raises(ValueError, match="has no parameter or buffer with name 'foo'"):
            P.spectral_norm(lib.nn.Linear(2, 2), name="foo")
        with pytest.raises(IndexError, match="Dimension out of range \\(expected to be in range of \\[-2, 1\\] but "
                                             "got 2\\)"):
            P.spectral_norm(lib.nn.Linear(2, 2), dim=2)
        with pytest.raises(ValueError, match="Expected n_power_iterations to be positive, but got "
                                             "n_power_iterations=0"):
            P.spectral_norm(lib.nn.Linear(2, 2), n_power_iterations=0)
