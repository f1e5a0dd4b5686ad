"""nn.utils.stateless.functional_call (outputs and gradients against PyTorch's torch.func.functional_call, the
module's own tensors untouched and restored even on error, tied weights, strict, several dicts, errors) and
nn.utils.skip_init."""
import numpy as np
import pytest

import ember
from ember import nn
from ember.nn.utils import skip_init
from ember.nn.utils.stateless import functional_call
from helpers import assert_close


def _mlp(lib):
    return lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 2), lib.nn.BatchNorm1d(2)).double()


def _tied(lib):
    class Tied(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = lib.nn.Linear(2, 2, bias=False)
            self.b = lib.nn.Linear(2, 2, bias=False)
            self.b.weight = self.a.weight

        def forward(self, x):
            return self.b(self.a(x))

    return Tied().double()


def test_functional_call_matches_torch_and_leaves_the_module_untouched(torch):
    em, tm = _mlp(ember), _mlp(torch)
    rng = np.random.default_rng(0)
    new = {name: rng.standard_normal(tuple(p.shape)) for name, p in tm.named_parameters()}
    new["3.running_mean"] = rng.standard_normal(2)
    before = {k: v.detach().numpy().copy() for k, v in em.state_dict().items()}
    objects = {k: id(v) for k, v in em.named_parameters()}
    ep = {k: ember.tensor(v, requires_grad="running" not in k) for k, v in new.items()}
    tp = {k: torch.tensor(v, requires_grad="running" not in k) for k, v in new.items()}
    x = rng.standard_normal((5, 3))
    for mode in ("train", "eval"):
        getattr(em, mode)()
        getattr(tm, mode)()
        eo, to = functional_call(em, ep, (ember.tensor(x),)), torch.func.functional_call(tm, tp, (torch.tensor(x),))
        assert_close(eo, to, rtol=1e-12, atol=1e-12)
        eo.sum().backward()
        to.sum().backward()
    for k in ep:
        if ep[k].requires_grad:
            assert_close(ep[k].grad, tp[k].grad, rtol=1e-12, atol=1e-12)
    assert all(p.grad is None for p in em.parameters())
    assert {k: id(v) for k, v in em.named_parameters()} == objects
    for k, v in em.state_dict().items():
        if k != "3.num_batches_tracked" and "running" not in k:
            np.testing.assert_array_equal(v.numpy(), before[k])
    # the batch norm's running statistics were updated in the given tensor (in place), not in the module
    np.testing.assert_array_equal(em.state_dict()["3.running_mean"].numpy(), before["3.running_mean"])
    assert not np.allclose(ep["3.running_mean"].numpy(), new["3.running_mean"])
    assert_close(ep["3.running_mean"], tp["3.running_mean"], rtol=1e-12, atol=1e-12)


def test_restored_on_error_and_a_replaced_buffer_is_handed_back():
    class Counter(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("count", ember.zeros(()))

        def forward(self, x, fail=False):
            if fail:
                raise ValueError("boom")
            self.count = self.count + 1
            return x + self.count

    m = Counter()
    given = {"count": ember.tensor(5.0)}
    assert functional_call(m, given, ember.tensor(1.0)).item() == 7.0  # args: one non-tuple argument
    assert m.count.item() == 0.0 and given["count"].item() == 6.0
    with pytest.raises(ValueError, match="boom"):
        functional_call(m, {"count": ember.tensor(3.0)}, (ember.tensor(1.0),), {"fail": True})
    assert m.count.item() == 0.0 and "count" in m._buffers


def test_tied_weights(torch):
    em, tm = _tied(ember), _tied(torch)
    x = np.eye(2)
    w = np.array([[1.0, 2.0], [3.0, 4.0]])
    for lib, m, call in ((ember, em, functional_call), (torch, tm, torch.func.functional_call)):
        out = call(m, {"a.weight": lib.tensor(w)}, (lib.tensor(x),))
        np.testing.assert_allclose(out.detach().numpy(), x @ w.T @ w.T)  # b.weight is tied: replaced too
        out = call(m, {"a.weight": lib.tensor(w)}, (lib.tensor(x),), tie_weights=False)
        orig = m.b.weight.detach().numpy()
        np.testing.assert_allclose(out.detach().numpy(), x @ w.T @ orig.T)
        with pytest.raises(ValueError, match=r"functional_call got multiple values for keys \['a.weight', "
                                             r"'b.weight'\], which are tied. Consider using tie_weights=False"):
            call(m, {"a.weight": lib.tensor(w), "b.weight": lib.tensor(2 * w)}, (lib.tensor(x),))


def test_strict_several_dicts_and_errors(torch):
    for lib, call in ((ember, functional_call), (torch, torch.func.functional_call)):
        m = lib.nn.Linear(2, 1).double()
        x = lib.ones(1, 2, dtype=lib.float64)
        w, b = lib.ones(1, 2, dtype=lib.float64), lib.zeros(1, dtype=lib.float64)
        assert call(m, ({"weight": w}, {"bias": b}), (x,), strict=True).item() == 2.0
        with pytest.raises(RuntimeError, match="Error\\(s\\) in reparametrizing for Linear:\n\tUnexpected key\\(s\\): "
                                               "'foo'.\n\tMissing key\\(s\\): 'bias'."):
            call(m, {"weight": w, "foo": b}, (x,), strict=True)
        with pytest.raises(ValueError, match="\\['weight'\\] appeared in multiple dictionaries; behavior of "
                                             "functional call is ambiguous"):
            call(m, ({"weight": w}, {"weight": w}), (x,))
        with pytest.raises(ValueError, match="Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of "
                                             "dicts"):
            call(m, 3, (x,))
        with pytest.raises(ValueError, match="Expected all elements of parameter_and_buffer_dicts to be "
                                             "dictionaries"):
            call(m, ({"weight": w}, 3), (x,))
        assert isinstance(m.weight, lib.nn.Parameter) and m.weight.shape == (1, 2)


def test_functional_call_with_a_weight_normed_module():
    m = nn.utils.parametrizations.weight_norm(nn.Linear(2, 2))
    g = ember.full((2, 1), 3.0, requires_grad=True)
    out = functional_call(m, {"parametrizations.weight.original0": g, "bias": ember.zeros(2)}, (ember.eye(2),))
    np.testing.assert_allclose(np.linalg.norm(out.detach().numpy(), axis=0), [3.0, 3.0], rtol=1e-6)
    out.sum().backward()
    assert g.grad is not None and m.parametrizations.weight.original0.grad is None


def test_skip_init():
    ember.manual_seed(3)
    expected = ember.rand(4)
    ember.manual_seed(3)
    layer = skip_init(nn.Linear, 4, 3, bias=False, dtype=ember.float64)
    np.testing.assert_array_equal(ember.rand(4).numpy(), expected.numpy())  # no random numbers drawn
    assert type(layer) is nn.Linear and layer.bias is None
    assert tuple(layer.weight.shape) == (3, 4) and layer.weight.dtype is ember.float64
    assert isinstance(layer.weight, nn.Parameter) and layer.weight.requires_grad
    assert str(skip_init(nn.Conv2d, 2, 3, 3, device="cpu").weight.device) == "cpu"
    with pytest.raises(RuntimeError, match="Expected a Module; got <class 'int'>"):
        skip_init(int)
    with pytest.raises(RuntimeError, match="Module must support a 'device' arg to skip initialization"):
        skip_init(nn.Tanh)
