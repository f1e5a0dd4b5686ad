"""Tensor.data with PyTorch's meaning: a tensor sharing memory, outside autograd, and an assignable slot."""
import numpy as np
import pytest

import ember
from ember import nn


def test_data_is_a_tensor_sharing_memory_outside_autograd():
    x = ember.ones(3, requires_grad=True)
    d = x.data
    assert type(d) is ember.Tensor and not d.requires_grad and d.grad_fn is None and d.is_leaf
    d.add_(1.0)  # in place through .data: x sees it, autograd does not (no version bump)
    np.testing.assert_array_equal(x.detach().numpy(), [2.0, 2.0, 2.0])
    assert x._version == 0 and d._version == 1


def test_parameter_data_is_a_plain_tensor():
    p = nn.Parameter(ember.ones(2))
    assert type(p.data) is ember.Tensor and p.data.data_ptr() == p.data_ptr()


def test_initialisation_idioms_of_pytorch_programs():
    ember.manual_seed(0)
    m = nn.Linear(4, 3)
    m.bias.data.fill_(0)
    m.weight.data.normal_(0.0, 0.02)
    m.weight.data.clamp_(-0.01, 0.01)  # WGAN's weight clipping
    assert m.bias.abs().sum().item() == 0.0 and m.weight.abs().max().item() <= 0.01
    src = nn.Linear(4, 3)
    for p, q in zip(m.parameters(), src.parameters()):
        p.data.copy_(q.data)
        assert ember.equal(p, q) and p.requires_grad


def test_manual_sgd_update_through_data_after_backward():
    ember.manual_seed(0)
    m = nn.Linear(3, 1)
    x = ember.randn(16, 3)
    y = x @ ember.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    losses = []
    for _ in range(50):
        m.zero_grad()
        loss = ((m(x) - y) ** 2).mean()
        loss.backward()
        losses.append(loss.item())
        for p in m.parameters():
            p.data.add_(p.grad.data, alpha=-0.1)
    assert losses[-1] < 0.01 * losses[0]


def test_assigning_data_keeps_the_parameter_registered():
    m = nn.Linear(2, 2)
    opt = ember.optim.SGD(m.parameters(), lr=1.0)
    w = m.weight
    m.weight.data = ember.zeros(3, 2)  # shape may change, as PyTorch's
    assert m.weight is w and w.shape == (3, 2) and w.requires_grad
    m.weight.data = ember.ones(2, 2, dtype=ember.float64)  # and dtype
    assert w.dtype is ember.float64
    m.weight.data = ember.ones(2, 2)
    m(ember.ones(1, 2)).sum().backward()
    opt.step()  # the optimizer still holds the same Parameter and updates its new memory
    np.testing.assert_allclose(w.detach().numpy(), np.zeros((2, 2)))


def test_assigning_data_rejects_what_pytorch_rejects():
    x = ember.ones(3, requires_grad=True)
    with pytest.raises(TypeError, match="has to be a tensor, but got ndarray"):
        x.data = np.zeros(3)
    with pytest.raises(TypeError, match="has to be a tensor, but got list"):
        x.data = [1.0, 2.0]
    with pytest.raises(RuntimeError, match="must be floating point"):
        x.data = ember.zeros(3, dtype=ember.int64)
    np.testing.assert_array_equal(x.detach().numpy(), [1.0, 1.0, 1.0])


def test_data_idioms_match_pytorch(torch):
    def run(lib, a):
        x = lib.tensor(a, requires_grad=True)
        y = (x * x).sum()
        y.backward()
        x.data.mul_(2)
        x.data.sub_(x.grad.data * 0.5)
        x.data = x.data[1:]
        return x.detach().numpy(), x.requires_grad, x.is_leaf, x.data.requires_grad

    a = np.arange(4.0)
    ours, theirs = run(ember, a), run(torch, a)
    np.testing.assert_allclose(ours[0], theirs[0])
    assert ours[1:] == theirs[1:]
