"""nn.utils: clip_grad_norm_/clip_grad_value_ against PyTorch, parameters_to_vector/vector_to_parameters."""
import math
import warnings

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.nn.utils import (clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm,
                            parameters_to_vector, vector_to_parameters)
from helpers import assert_close


def params_with_grads(scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    ps = [nn.Parameter(ember.tensor(rng.standard_normal(s), dtype=ember.float32)) for s in [(4, 3), (3,), (2, 2, 2)]]
    for p in ps:
        p.grad = ember.tensor(rng.standard_normal(tuple(p.shape)) * scale, dtype=ember.float32)
    return ps


def torch_copy(ps, torch):
    out = []
    for p in ps:
        t = torch.nn.Parameter(torch.tensor(p.detach().numpy()))
        t.grad = torch.tensor(p.grad.numpy())
        out.append(t)
    return out


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, math.inf, 0])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, torch):
    ps = params_with_grads()
    tps = torch_copy(ps, torch)
    total = clip_grad_norm_(ps, max_norm, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tps, max_norm, norm_type=norm_type)
    assert isinstance(total, ember.Tensor) and total.ndim == 0 and total.dtype is ember.float32
    assert_close(total, ttotal, rtol=1e-5, atol=1e-6)
    for p, tp in zip(ps, tps):
        assert_close(p.grad, tp.grad, rtol=1e-5, atol=1e-6)


def test_clip_grad_norm_result_norm_and_unchanged_when_small():
    ps = params_with_grads(scale=10.0)
    before = math.sqrt(sum(float((p.grad.numpy().astype(np.float64) ** 2).sum()) for p in ps))
    total = clip_grad_norm_(ps, 1.0)
    assert abs(total.item() - before) < 1e-3 * before
    after = math.sqrt(sum(float((p.grad.numpy().astype(np.float64) ** 2).sum()) for p in ps))
    assert abs(after - 1.0) < 1e-4
    grads = [p.grad.numpy().copy() for p in ps]
    clip_grad_norm_(ps, 5.0)  # already below max_norm: the factor is clamped to 1
    for g, p in zip(grads, ps):
        np.testing.assert_array_equal(g, p.grad.numpy())


def test_clip_grad_norm_single_tensor_missing_grads_and_empty():
    p = nn.Parameter(ember.ones(4))
    p.grad = ember.full((4,), 3.0)
    q = nn.Parameter(ember.ones(2))  # no grad: ignored
    total = clip_grad_norm_([p, q], 1.0)
    assert abs(total.item() - 6.0) < 1e-6
    np.testing.assert_allclose(p.grad.numpy(), np.full(4, 0.5), rtol=1e-5)
    r = nn.Parameter(ember.ones(2))
    r.grad = ember.full((2,), 4.0)
    assert abs(clip_grad_norm_(r, 100.0).item() - math.sqrt(32)) < 1e-5
    assert clip_grad_norm_([], 1.0).item() == 0.0
    with pytest.warns(UserWarning, match="empty generator"):
        clip_grad_norm_((x for x in []), 1.0)


def test_clip_grad_norm_nonfinite():
    ps = params_with_grads()
    ps[0].grad._data[0, 0] = np.inf
    with pytest.raises(RuntimeError, match="The total norm of order 2.0 for gradients from `parameters` is non-finite"):
        clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        total = clip_grad_norm_(ps, 1.0)
    assert math.isinf(total.item())


def test_total_norm_then_clip_in_two_steps():
    ps = params_with_grads()
    grads = [p.grad for p in ps]
    flat = np.concatenate([g.numpy().ravel() for g in grads]).astype(np.float64)
    total = get_total_norm(grads, norm_type=2.0)
    assert abs(total.item() - np.linalg.norm(flat)) < 1e-5 * np.linalg.norm(flat)
    clip_grads_with_norm_(ps, 1.0, total)
    flat2 = np.concatenate([p.grad.numpy().ravel() for p in ps]).astype(np.float64)
    assert abs(np.linalg.norm(flat2) - 1.0) < 1e-4


def test_clip_grad_value_matches_torch(torch):
    ps = params_with_grads(scale=2.0)
    tps = torch_copy(ps, torch)
    clip_grad_value_(ps, 0.7)
    torch.nn.utils.clip_grad_value_(tps, 0.7)
    for p, tp in zip(ps, tps):
        assert_close(p.grad, tp.grad)
        assert np.abs(p.grad.numpy()).max() <= 0.7 + 1e-7


def test_parameters_to_vector_and_back():
    m = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vec = parameters_to_vector(m.parameters())
    assert tuple(vec.shape) == (11,)
    expected = np.concatenate([p.detach().numpy().ravel() for p in m.parameters()])
    np.testing.assert_array_equal(vec.detach().numpy(), expected)
    (vec * ember.arange(11, dtype=ember.float32)).sum().backward()  # differentiable, like torch's
    np.testing.assert_array_equal(m[0].weight.grad.numpy().ravel(), np.arange(6, dtype=np.float32))
    new = ember.arange(11, dtype=ember.float32)
    vector_to_parameters(new, m.parameters())
    assert m[0].weight.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert m[1].bias.tolist() == [10.0]
    assert all(isinstance(p, nn.Parameter) for p in m.parameters())
    with pytest.raises(TypeError, match="expected ember.Tensor, but got: list"):
        vector_to_parameters([1.0], m.parameters())
    with pytest.raises(RuntimeError, match="fewer than the parameters need"):
        vector_to_parameters(ember.zeros(5), m.parameters())


def test_clip_grad_norm_after_backward_matches_torch(torch):
    m = nn.Linear(5, 3)
    tm = torch.nn.Linear(5, 3)
    tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in m.state_dict().items()})
    x = ember.randn(8, 5) * 10
    (m(x) ** 2).sum().backward()
    (tm(torch.tensor(x.numpy())) ** 2).sum().backward()
    total = clip_grad_norm_(m.parameters(), 2.0)
    ttotal = torch.nn.utils.clip_grad_norm_(tm.parameters(), 2.0)
    assert_close(total, ttotal, rtol=1e-5)
    assert_close(m.weight.grad, tm.weight.grad, rtol=1e-4, atol=1e-6)
