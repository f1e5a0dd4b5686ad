"""Hot ops compute a plain backward on arrays and a create_graph backward with ember ops: both must agree."""
import numpy as np
import pytest

import ember
from ember.autograd import grad

from helpers import rand64

CASES = {
    "add_broadcast": (lambda a, b: a + b, [(3, 4), (4,)]),
    "sub_broadcast": (lambda a, b: a - b, [(2, 1, 4), (3, 1)]),
    "sub_scalar_first": (lambda a: 2.0 - a, [(3,)]),
    "mul_broadcast": (lambda a, b: a * b, [(3, 1), (1, 4)]),
    "mul_scalar": (lambda a: a * 0.5, [(2, 3)]),
    "mul_0d": (lambda a, b: a * b, [(), ()]),
    "mul_0d_scalar": (lambda a: a * 3.0, [()]),
    "div_broadcast": (lambda a, b: a / b, [(3, 4), (3, 1)]),
    "div_scalar_by": (lambda a: 1.5 / a, [(2, 2)]),
    "neg": (lambda a: -a, [(3,)]),
    "exp": (lambda a: a.exp(), [(2, 3)]),
    "log": (lambda a: (a * a + 1).log(), [(4,)]),
    "sqrt": (lambda a: (a * a + 1).sqrt(), [(4,)]),
    "tanh_0d": (lambda a: a.tanh(), [()]),
    "sigmoid": (lambda a: a.sigmoid(), [(3, 2)]),
    "relu": (lambda a: a.relu(), [(5,)]),
    "sum_all": (lambda a: a.sum(), [(3, 4)]),
    "sum_dim_neg": (lambda a: a.sum(dim=-1), [(2, 3, 4)]),
    "sum_keepdim": (lambda a: a.sum(dim=(0, 2), keepdim=True), [(2, 3, 4)]),
    "sum_0d": (lambda a: a.sum(), [()]),
    "mean_all": (lambda a: a.mean(), [(3, 4)]),
    "mean_dims": (lambda a: a.mean(dim=(0, -1)), [(2, 3, 4)]),
    "mean_keepdim": (lambda a: a.mean(dim=1, keepdim=True), [(2, 3)]),
    "sum_then_mean": (lambda a: a.sum(dim=1).mean(), [(4, 5)]),
    "matmul": (lambda a, b: a @ b, [(3, 4), (4, 2)]),
    "matmul_batched": (lambda a, b: a @ b, [(2, 3, 4), (4, 5)]),
    "matmul_broadcast_batch": (lambda a, b: a @ b, [(2, 1, 3, 4), (3, 4, 2)]),
    "matmul_vector": (lambda a, b: a @ b, [(4,), (4, 3)]),
    "matmul_vector_right": (lambda a, b: a @ b, [(2, 3, 4), (4,)]),
}


def _grads(fn, shapes, create_graph, dtype=ember.float64):
    xs = [rand64(*s, seed=i).to(dtype).detach().requires_grad_() for i, s in enumerate(shapes)]
    out = fn(*xs)
    go = ember.tensor(np.random.default_rng(7).standard_normal(out.shape)).to(out.dtype)
    return xs, grad([out], xs, [go], create_graph=create_graph)


@pytest.mark.parametrize("name", sorted(CASES))
def test_plain_and_create_graph_backward_agree(name):
    fn, shapes = CASES[name]
    xs, plain = _grads(fn, shapes, False)
    _, graph = _grads(fn, shapes, True)
    for x, p, g in zip(xs, plain, graph):
        assert p.shape == x.shape and p.dtype is x.dtype
        assert g.shape == x.shape and g.dtype is x.dtype
        np.testing.assert_allclose(p.numpy(), g.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["mul_scalar", "mean_all", "tanh_0d", "sigmoid", "div_scalar_by", "sub_scalar_first"])
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_plain_backward_keeps_low_precision_dtypes(name, dtype):
    if dtype == "bfloat16":
        pytest.importorskip("ml_dtypes")
    fn, shapes = CASES[name]
    dt = getattr(ember, dtype)
    xs, plain = _grads(fn, shapes, False, dt)
    _, graph = _grads(fn, shapes, True, dt)
    for x, p, g in zip(xs, plain, graph):
        assert p.dtype is dt and p.shape == x.shape
        np.testing.assert_allclose(p.float().numpy(), g.detach().float().numpy(), rtol=2e-2, atol=2e-2)


def test_leaf_grad_from_a_broadcast_view_is_its_own_writable_array():
    x = rand64(3, 4)
    x.sum().backward()  # Sum's plain backward hands on a read-only broadcast view
    assert x.grad.data.flags.writeable and x.grad.data.base is None
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((3, 4)))
    x.mean().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((3, 4), 1 + 1 / 12))


def test_relu_gradient_is_zero_where_inactive_even_for_infinite_gradients():
    x = ember.tensor([-1.0, 2.0], requires_grad=True)
    y = x.relu()
    y.backward(ember.tensor([np.inf, 1.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0])
