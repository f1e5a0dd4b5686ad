"""The autograd engine: backward/grad, accumulation, grad modes, hooks, Function, gradcheck, errors."""
import time

import numpy as np
import pytest

import ember
from ember.autograd import Function, GradcheckError, grad, gradcheck, gradgradcheck
from helpers import assert_close, rand64, to_torch


def leaf(values, dtype=ember.float64):
    return ember.tensor(values, dtype=dtype, requires_grad=True)


# --- backward ---------------------------------------------------------------------------------------------------

def test_backward_scalar_gives_analytic_gradient():
    x = leaf([1.0, -2.0, 3.0])
    (x * x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * x.detach().numpy() ** 2)
    assert x.grad.dtype is ember.float64 and x.grad.shape == x.shape


def test_backward_with_gradient_weights_the_vector_jacobian_product():
    x = leaf([1.0, 2.0, 3.0])
    y = x * x
    y.backward(ember.tensor([1.0, 0.5, -1.0], dtype=ember.float64))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0, -6.0])


def test_backward_gradient_accepts_array_like():
    x = leaf([1.0, 2.0])
    (x * 3).backward([1.0, 2.0])
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 6.0])


def test_backward_gradient_shape_mismatch():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(ember.ones(3, dtype=ember.float64))


def test_retain_graph_allows_second_backward_and_accumulates():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)


def test_accumulation_over_two_backward_calls_is_in_place_like_pytorch():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    g = x.grad
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0 + 3.0, 4.0 + 3.0])
    assert x.grad is g  # PyTorch accumulates into the existing .grad


def test_create_graph_makes_grad_differentiable():
    x = leaf([0.5, -1.5])
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad and x.grad.grad_fn is not None
    np.testing.assert_allclose(x.grad.detach().numpy(), 3 * np.array([0.5, -1.5]) ** 2)
    (gg,) = ember.autograd.grad(x.grad.sum(), x)
    np.testing.assert_allclose(gg.numpy(), 6 * np.array([0.5, -1.5]))


def test_double_backward_of_cube_is_6x():
    x = leaf([-2.0, 0.3, 1.0, 4.0])
    (g,) = ember.autograd.grad((x ** 3).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 3 * x.detach().numpy() ** 2)
    (gg,) = ember.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), 6 * x.detach().numpy())
    assert x.grad is None


def test_backward_on_a_leaf_root_copies_the_given_gradient():
    x = leaf([1.0, 2.0])
    g = ember.tensor([3.0, 4.0], dtype=ember.float64)
    x.backward(g)
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])
    x.backward(g)
    np.testing.assert_allclose(g.numpy(), [3.0, 4.0])  # accumulation must not write into the user's tensor
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 8.0])


def test_leaf_grads_never_share_memory():
    # Add hands the same gradient to both inputs; the leaves must not end up sharing (or aliasing the root's) memory.
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).backward(ember.ones(2, dtype=ember.float64))
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    c, d = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    ((c + d) * 2).sum().backward()
    assert not np.shares_memory(c.grad.numpy(), d.grad.numpy())
    e, f = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    h = e * 2
    (h.clone() + h.reshape(2) + f).sum().backward()
    e.grad._data[0] = 100.0  # an in-place change of one .grad must not show up anywhere else
    np.testing.assert_allclose(f.grad.numpy(), [1.0, 1.0])


def test_leaf_gradient_still_needed_by_another_node_is_not_accumulated_into():
    # Add hands one gradient array to the leaf x and to u's node; x then receives v's gradient (accumulated in
    # place) before u's node has read its own input gradient.
    x = leaf([1.0, 2.0])
    u = x * 2
    v = x * 3
    ((x + u) * v).sum().backward()  # = sum(9 x^2)
    np.testing.assert_allclose(x.grad.numpy(), 18 * x.detach().numpy())


def test_same_input_twice_accumulates():
    x = leaf([1.0, 2.0])
    (x + x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])
    y = leaf([3.0])
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [6.0])


def test_gradient_through_diamond_graph():
    x = leaf([0.5, 1.5])
    a = x.exp()
    b = a * x
    c = a + b  # a is used twice: its gradient is the sum of both paths
    c.sum().backward()
    xv = x.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), np.exp(xv) * (2 + xv))


def test_backward_with_several_roots():
    x = leaf([1.0, 2.0])
    y1, y2 = x * 2, x * x
    ember.autograd.backward([y1, y2], [ember.ones(2, dtype=ember.float64), ember.ones(2, dtype=ember.float64)])
    np.testing.assert_allclose(x.grad.numpy(), [2 + 2.0, 2 + 4.0])


def test_backward_inputs_only_accumulates_into_those():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (x * w).sum().backward(inputs=[w])
    np.testing.assert_allclose(w.grad.numpy(), [1.0, 2.0])
    assert x.grad is None


def test_integer_and_no_grad_inputs_get_no_gradient():
    x = leaf([1.0, 2.0])
    c = ember.tensor([3.0, 4.0], dtype=ember.float64)
    (x * c).sum().backward()
    assert c.grad is None and not c.requires_grad
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])


# --- autograd.grad -------------------------------------------------------------------------------------------------

def test_grad_returns_tuple_and_leaves_grad_untouched():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    gx, gw = ember.autograd.grad((x * w).sum(), [x, w])
    np.testing.assert_allclose(gx.numpy(), [3.0, 4.0])
    np.testing.assert_allclose(gw.numpy(), [1.0, 2.0])
    assert x.grad is None and w.grad is None
    (g,) = ember.autograd.grad((x * w).sum(), x)  # a single input still gives a tuple
    np.testing.assert_allclose(g.numpy(), [3.0, 4.0])


def test_grad_with_grad_outputs():
    x = leaf([1.0, 2.0, 3.0])
    (g,) = ember.autograd.grad(x * x, x, grad_outputs=ember.tensor([1.0, 0.0, 2.0], dtype=ember.float64))
    np.testing.assert_allclose(g.numpy(), [2.0, 0.0, 12.0])


def test_grad_allow_unused():
    x, z = leaf([1.0]), leaf([2.0])
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        ember.autograd.grad(y, [x, z], retain_graph=True)
    gx, gz = ember.autograd.grad(y, [x, z], allow_unused=True, retain_graph=True)
    np.testing.assert_allclose(gx.numpy(), [2.0])
    assert gz is None
    gx, gz = ember.autograd.grad(y, [x, z], materialize_grads=True)
    np.testing.assert_allclose(gz.numpy(), [0.0])


def test_grad_with_respect_to_non_leaf_and_repeated_input():
    x = leaf([1.0, 2.0])
    h = x * 3
    y = (h * h).sum()
    gh, gh2, gx = ember.autograd.grad(y, [h, h, x])
    np.testing.assert_allclose(gh.numpy(), 2 * h.detach().numpy())
    np.testing.assert_allclose(gh2.numpy(), gh.numpy())
    np.testing.assert_allclose(gx.numpy(), 18 * x.detach().numpy())


def test_grad_runs_only_the_needed_part_of_the_graph():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    calls = []
    wh = w * 2
    wh.register_hook(lambda g: calls.append("w path"))
    y = (x * 5 + wh).sum()
    (gx,) = ember.autograd.grad(y, x)
    np.testing.assert_allclose(gx.numpy(), [5.0, 5.0])
    assert calls == [] and w.grad is None


def test_grad_input_that_does_not_require_grad():
    x = leaf([1.0])
    c = ember.tensor([1.0])
    with pytest.raises(RuntimeError, match="One of the differentiated Tensors does not require grad"):
        ember.autograd.grad((x * 2).sum(), c)


# --- grad modes ------------------------------------------------------------------------------------------------------

def test_no_grad_context_manager():
    x = leaf([1.0])
    with ember.no_grad():
        y = x * 2
        assert not ember.is_grad_enabled()
    assert ember.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None


def test_no_grad_restores_mode_after_exception():
    with pytest.raises(ValueError):
        with ember.no_grad():
            raise ValueError("boom")
    assert ember.is_grad_enabled()


def test_no_grad_decorator_with_and_without_parentheses():
    x = leaf([1.0])

    @ember.no_grad
    def f(t):
        return t * 2

    @ember.no_grad()
    def g(t):
        return t * 2

    assert not f(x).requires_grad and not g(x).requires_grad
    assert f.__name__ == "f"
    assert ember.is_grad_enabled()
    assert (x * 2).requires_grad


def test_no_grad_decorates_generators():
    x = leaf([1.0])

    @ember.no_grad()
    def gen():
        for _ in range(2):
            yield x * 2, ember.is_grad_enabled()

    out = list(gen())
    assert [o[1] for o in out] == [False, False]
    assert not out[0][0].requires_grad and ember.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = leaf([1.0])
    with ember.no_grad():
        with ember.enable_grad():
            y = x * 2
        z = x * 2

    @ember.enable_grad()
    def f():
        return x * 2

    with ember.no_grad():
        w = f()
    assert y.requires_grad and not z.requires_grad and w.requires_grad


def test_set_grad_enabled_as_call_context_and_decorator():
    x = leaf([1.0])
    with ember.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert ember.is_grad_enabled()
    ember.set_grad_enabled(False)
    try:
        assert not ember.is_grad_enabled()
    finally:
        ember.set_grad_enabled(True)

    @ember.set_grad_enabled(False)
    def f():
        return x * 2

    assert ember.is_grad_enabled()  # decorating does not change the mode
    assert not f().requires_grad
    assert ember.is_grad_enabled()


def test_inference_mode():
    x = leaf([1.0])
    with ember.inference_mode():
        assert not (x * 2).requires_grad
        assert ember.autograd.is_inference_mode_enabled()
    assert ember.is_grad_enabled() and not ember.autograd.is_inference_mode_enabled()
    with ember.inference_mode(False):
        assert (x * 2).requires_grad

    @ember.inference_mode
    def f():
        return x * 2

    @ember.inference_mode()
    def g():
        return x * 2

    assert not f().requires_grad and not g().requires_grad


# --- detach, requires_grad_, is_leaf ---------------------------------------------------------------------------------

def test_detach_shares_memory_and_leaves_the_graph():
    x = leaf([1.0, 2.0])
    y = x * 2
    d = y.detach()
    assert d.grad_fn is None and not d.requires_grad and d.is_leaf
    assert np.shares_memory(d.numpy(), y._data)
    d._data[0] = 7.0
    assert y.detach().numpy()[0] == 7.0


def test_in_place_change_through_detach_is_seen_by_the_version_counter():
    x = leaf([1.0, 2.0])
    y = x.exp()
    z = (y * y).sum()
    y.detach().mul_(2)  # PyTorch shares the version counter between a tensor and its detach()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()


def test_requires_grad_():
    x = ember.tensor([1.0, 2.0])
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    with pytest.raises(RuntimeError, match="only Tensors of floating point"):
        ember.tensor([1, 2]).requires_grad_()
    y = leaf([1.0]) * 2
    with pytest.raises(RuntimeError, match="leaf variables"):
        y.requires_grad_(False)


def test_is_leaf_and_grad_fn():
    x = leaf([1.0])
    y = x * 2
    assert x.is_leaf and x.grad_fn is None
    assert not y.is_leaf and y.grad_fn.name == "Mul"
    assert repr(y.grad_fn) == "<MulBackward0>"
    assert ember.tensor([1.0]).is_leaf
    ((z_fn, _),) = [f for f in (y.grad_fn.next_functions) if f[0] is not None]
    assert repr(z_fn) == "<AccumulateGrad>" and z_fn.variable is x


# --- hooks and retain_grad -------------------------------------------------------------------------------------------

def test_leaf_hook_sees_and_replaces_gradient():
    x = leaf([1.0, 2.0])
    seen = []

    def hook(g):
        seen.append(g.numpy().copy())
        return g * 10

    x.register_hook(hook)
    (x * 3).sum().backward()
    np.testing.assert_allclose(seen[0], [3.0, 3.0])
    np.testing.assert_allclose(x.grad.numpy(), [30.0, 30.0])


def test_non_leaf_hook_replacement_changes_upstream_gradients():
    x = leaf([1.0, 2.0])
    h = x * 2
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    h.register_hook(lambda g: g * 0.5)
    (h * h).sum().backward()
    np.testing.assert_allclose(seen[0], 2 * h.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), 0.5 * 2 * 2 * h.detach().numpy())


def test_hook_handle_remove():
    x = leaf([1.0])
    calls = []
    handle = x.register_hook(lambda g: calls.append(1))
    (x * 2).sum().backward()
    handle.remove()
    (x * 2).sum().backward()
    assert calls == [1]


def test_hook_that_keeps_the_gradient_does_not_see_later_accumulation():
    x = leaf([1.0, 2.0])
    kept = []
    x.register_hook(lambda g: kept.append(g))
    (x * 2).sum().backward()
    (x * 2).sum().backward()
    np.testing.assert_allclose(kept[0].numpy(), [2.0, 2.0])
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 4.0])


def test_register_hook_requires_grad():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        ember.tensor([1.0]).register_hook(lambda g: g)


def test_retain_grad():
    x = leaf([1.0, 2.0])
    h = x * 3
    k = x * 4
    h.retain_grad()
    assert h.retains_grad and not k.retains_grad
    (h * h + k).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.detach().numpy())
    assert k.grad is None
    x.retain_grad()  # a no-op on leaves
    assert not x.retains_grad


# --- Function --------------------------------------------------------------------------------------------------------

class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ember.tensor(x.detach().numpy() ** 3, dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x


class ScaleBy(Function):
    """x * k for a tensor x and a Python number k; records needs_input_grad."""

    seen_needs = None

    @staticmethod
    def forward(ctx, x, y, k):
        ScaleBy.seen_needs = ctx.needs_input_grad
        ctx.k = k
        ctx.save_for_backward(x, y)
        return x * y * k

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        gx = g * y * ctx.k if ctx.needs_input_grad[0] else None
        gy = g * x * ctx.k if ctx.needs_input_grad[1] else None
        return gx, gy, None


class SplitSumProd(Function):
    """Two outputs: sum and product of the elements."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sum(), x.prod() if hasattr(x, "prod") else ember.tensor(np.prod(x.numpy()), dtype=x.dtype)

    @staticmethod
    def backward(ctx, g_sum, g_prod):
        (x,) = ctx.saved_tensors
        others = ember.tensor([np.prod(np.delete(x.detach().numpy(), i)) for i in range(x.numel())], dtype=x.dtype)
        return g_sum * ember.ones_like(x) + g_prod * others


class WrongGrad(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x  # should be 2 * g * x


def test_function_forward_backward_and_grad_fn():
    x = leaf([1.0, -2.0])
    y = Cube.apply(x)
    assert y.requires_grad and repr(y.grad_fn) == "<CubeBackward>"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 12.0])


def test_function_passes_gradcheck_and_gradgradcheck():
    assert gradcheck(Cube.apply, (rand64(3, 2),))
    assert gradgradcheck(Cube.apply, (rand64(3, 2),))


def test_function_needs_input_grad_and_non_tensor_args():
    x, y = leaf([1.0, 2.0]), ember.tensor([3.0, 4.0], dtype=ember.float64)
    out = ScaleBy.apply(x, y, 2.0)
    assert ScaleBy.seen_needs == (True, False, False)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 8.0])
    assert gradcheck(lambda a, b: ScaleBy.apply(a, b, 1.5), (rand64(3), rand64(3, seed=1)))


def test_function_without_grad_needed_returns_plain_output():
    x = ember.tensor([1.0, 2.0], dtype=ember.float64)
    out = Cube.apply(x)
    assert not out.requires_grad and out.grad_fn is None
    with ember.no_grad():
        assert Cube.apply(leaf([1.0])).grad_fn is None


def test_function_multiple_outputs():
    x = leaf([1.0, 2.0, 3.0])
    s, p = SplitSumProd.apply(x)
    assert s.grad_fn is p.grad_fn
    (s * 2 + p).backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 + 6.0, 2 + 3.0, 2 + 2.0])
    # Only one output used: the other's gradient is materialised as zeros.
    x2 = leaf([1.0, 2.0, 3.0])
    _, p2 = SplitSumProd.apply(x2)
    p2.backward()
    np.testing.assert_allclose(x2.grad.numpy(), [6.0, 3.0, 2.0])
    assert gradcheck(lambda t: SplitSumProd.apply(t), (rand64(4),))


def test_function_saved_tensor_modified_in_place():
    x = leaf([1.0, 2.0])
    h = x * 1
    y = Cube.apply(h)
    h.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_function_saved_tensors_freed_after_backward():
    x = leaf([1.0, 2.0])
    y = Cube.apply(x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_function_setup_context_style():
    class Square(Function):
        @staticmethod
        def forward(x):
            return x * x

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * g * x

    assert gradcheck(Square.apply, (rand64(3),))


def test_function_returning_wrong_number_of_gradients():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        Bad.apply(leaf([1.0]), leaf([2.0])).sum().backward()


def test_gradient_of_wrong_shape_is_rejected_or_reduced():
    class Broadcasts(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return (g * 2).expand(3, 2)  # a broadcast of the right gradient: summed back like PyTorch

    class Wrong(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return ember.ones(5, dtype=g.dtype)

    x = leaf([1.0, 2.0])
    Broadcasts.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0])
    with pytest.raises(RuntimeError, match=r"returned an invalid gradient at index 0 - got \[5\] but expected shape "
                                           r"compatible with \[2\]"):
        Wrong.apply(leaf([1.0, 2.0])).sum().backward()


# --- gradcheck -------------------------------------------------------------------------------------------------------

def test_gradcheck_detects_a_wrong_gradient():
    x = rand64(4)
    with pytest.raises(GradcheckError, match="Jacobian mismatch for output 0 with respect to input 0"):
        gradcheck(WrongGrad.apply, (x,))
    assert isinstance(GradcheckError("x"), RuntimeError)
    assert gradcheck(WrongGrad.apply, (x,), raise_exception=False) is False


def test_gradcheck_accepts_correct_composites_with_several_inputs_and_outputs():
    a, b = rand64(2, 3), rand64(3, seed=5)
    assert gradcheck(lambda x, y: ((x * y).exp(), x.tanh() + y), (a, b))
    assert gradgradcheck(lambda x, y: (x * y).sigmoid() * x, (a, b))


def test_gradcheck_on_non_contiguous_input():
    x = rand64(3, 4, requires_grad=False).T.requires_grad_()
    assert not x.is_contiguous() and x.is_leaf
    assert gradcheck(lambda t: (t * t).sum(dim=0), (x,))


# --- graph size and errors -------------------------------------------------------------------------------------------

def test_chain_of_100k_ops_backpropagates_without_recursion_in_linear_time():
    x = leaf([1.0, 2.0])
    start = time.perf_counter()
    y = x
    for _ in range(100_000):
        y = y * 1.000001
    y.sum().backward()
    elapsed = time.perf_counter() - start
    np.testing.assert_allclose(x.grad.numpy(), [1.000001 ** 100_000] * 2, rtol=1e-9)
    assert elapsed < 10.0, elapsed
    del y  # dropping a long chain must not overflow the stack either


def test_error_backward_on_non_scalar_without_gradient():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (x * 2).backward()


def test_error_backward_on_tensor_that_does_not_require_grad():
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad and does not have a "
                                           "grad_fn"):
        ember.tensor([1.0]).sum().backward()


def test_error_backward_twice_through_freed_graph():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()
    z = (x.exp() * 2).sum()
    ember.autograd.grad(z, x)
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        ember.autograd.grad(z, x)


def test_backward_twice_through_nodes_that_saved_nothing():
    # as in PyTorch, only freed saved tensors stop a second backward: a clone, views, adds and sums save none
    x = leaf([1.0, 2.0, 3.0])
    y = (x.clone().view(3, 1).expand(3, 2).reshape(6)[1:] + x.sum()).mean()
    y.backward()
    first = x.grad.numpy().copy()
    np.testing.assert_allclose(first, [1.2, 1.4, 1.4], rtol=1e-6)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first, rtol=1e-6)


def test_function_without_saved_tensors_backward_twice():
    class Triple(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.k = 3.0
            return x * 3.0

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k

    class ReadsSaved(Triple):
        @staticmethod
        def backward(ctx, g):
            return g * 3.0 + 0 * len(ctx.saved_tensors)

    x = leaf([1.0, 2.0])
    y = Triple.apply(x).sum()
    y.backward()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0])
    y = ReadsSaved.apply(x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_function_apply_keyword_arguments():
    class Scale(Function):  # forward(ctx, ...): keyword arguments go to forward and get no gradient
        @staticmethod
        def forward(ctx, x, scale=2.0):
            ctx.scale = scale
            return x * scale

        @staticmethod
        def backward(ctx, g):  # a gradient for scale where it came positionally (a trailing None is allowed)
            return g * ctx.scale, None

    class ScaleSetup(Function):  # with setup_context: bound into positional inputs, defaults included
        @staticmethod
        def forward(x, scale=2.0):
            return x * scale

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.scale = inputs[1]

        @staticmethod
        def backward(ctx, g):
            return g * ctx.scale, None

    for fn in (Scale, ScaleSetup):
        x = leaf([1.0, 2.0])
        fn.apply(x).sum().backward()
        fn.apply(x, scale=3.0).sum().backward()
        fn.apply(x, 4.0).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), [9.0, 9.0])


def test_function_mark_dirty():
    class DoubleInPlace(Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = leaf([1.0, 2.0])
    y = x * 3
    s = y.sin()  # saved y before the change
    z = DoubleInPlace.apply(y)
    assert z is y and y.grad_fn.name == "DoubleInPlace"
    np.testing.assert_allclose(y.detach().numpy(), [6.0, 12.0])
    (z * 5).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [30.0, 30.0])
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        s.sum().backward()
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        DoubleInPlace.apply(leaf([1.0]))

    class DoubleThroughData(DoubleInPlace):  # .data has its own version: mark_dirty counts the change
        @staticmethod
        def forward(ctx, x):
            x.data.mul_(2)
            ctx.mark_dirty(x)
            return x

    y = leaf([1.0]) * 1
    s = y.sin()
    DoubleThroughData.apply(y)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        s.sum().backward()

    class NotReturned(DoubleInPlace):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_dirty(x)
            return x * 1

    with pytest.raises(RuntimeError, match="marked as dirty during the forward method were not returned"):
        NotReturned.apply(leaf([1.0]) * 1)


def test_error_saved_tensor_modified_in_place():
    x = leaf([1.0, 2.0])
    h = x * 2
    y = h * h  # saves h
    h.add_(1)
    with pytest.raises(RuntimeError, match="one of the variables needed for gradient computation has been modified "
                                           "by an inplace operation.*is at version 1; expected version 0"):
        y.sum().backward()


def test_in_place_on_a_tensor_not_saved_is_fine():
    x = leaf([1.0, 2.0])
    h = x * 2
    y = h + 1  # Add saves nothing
    h.add_(1)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_float32_gradients_stay_float32():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    (x * 2.5).sum().backward()
    assert x.grad.dtype is ember.float32


# --- against PyTorch ---------------------------------------------------------------------------------------------

def _composite(lib, x, w, b):
    h = lib.tanh(x @ w + b)
    s = lib.sigmoid(h * 2.0 - 0.5) * h
    r = lib.relu(s - 0.1) + lib.exp(-h) / (1.0 + h * h)
    return (r * r).sum(dim=1).mean() + (s ** 3).mean()


def test_composite_gradients_match_torch(torch):
    x, w, b = rand64(4, 3), rand64(3, 5, seed=1), rand64(5, seed=2)
    out = _composite(ember, x, w, b)
    out.backward()
    tx, tw, tb = (to_torch(t, torch) for t in (x, w, b))
    tout = _composite(torch, tx, tw, tb)
    tout.backward()
    assert_close(out, tout, rtol=1e-10, atol=1e-12)
    for e, t in ((x, tx), (w, tw), (b, tb)):
        assert_close(e.grad, t.grad, rtol=1e-10, atol=1e-12)
    # second derivatives too
    (gx,) = ember.autograd.grad(_composite(ember, x, w, b), x, create_graph=True)
    (tgx,) = torch.autograd.grad(_composite(torch, tx, tw, tb), tx, create_graph=True)
    (ggw,) = ember.autograd.grad((gx * gx).sum(), w)
    (tggw,) = torch.autograd.grad((tgx * tgx).sum(), tw)
    assert_close(ggw, tggw, rtol=1e-9, atol=1e-12)


def test_composite_passes_gradcheck():
    assert gradcheck(lambda x, w, b: _composite(ember, x, w, b), (rand64(2, 3), rand64(3, 2, seed=1), rand64(2)))


def test_grad_mode_is_per_thread():
    import threading

    seen = []
    with ember.no_grad():
        t = threading.Thread(target=lambda: seen.append(ember.is_grad_enabled()))
        t.start()
        t.join()
        assert not ember.is_grad_enabled()
    assert seen == [True]


def test_leaf_hook_runs_once_with_the_total_gradient():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    (x * 2 + x * 3).sum().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], [5.0, 5.0])


def test_leaf_with_many_gradient_contributions():
    x = leaf([1.0, 2.0])
    parts = [x * k for k in (2.0, 3.0, 4.0, 5.0)]
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    (total * total).sum().backward()  # d/dx (14 x)^2 = 392 x
    np.testing.assert_allclose(x.grad.numpy(), 392 * x.detach().numpy())


def test_function_returning_a_tensor_it_keeps_is_not_adopted_as_grad():
    kept = ember.tensor([1.0, 1.0], dtype=ember.float64)

    class Keeps(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return kept

    x = leaf([3.0, 4.0])
    Keeps.apply(x).sum().backward()
    Keeps.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])
    np.testing.assert_allclose(kept.numpy(), [1.0, 1.0])


def test_retained_grad_sees_hook_replacements_registered_later():
    x = leaf([1.0, 2.0])
    h = x * 2
    h.retain_grad()
    h.register_hook(lambda g: g * 10)
    h.sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), [10.0, 10.0])
    np.testing.assert_allclose(x.grad.numpy(), [20.0, 20.0])


def test_node_returning_too_few_gradients_is_an_error():
    from ember.autograd import Node
    from ember.autograd.graph import apply

    class Drops(Node):
        saves = ()

        def forward(self, xp, a, b):
            return a + b

        def backward(self, g):
            return (g,)

    out = apply(Drops(), leaf([1.0]), leaf([2.0]))
    with pytest.raises(RuntimeError, match=r"DropsBackward0 returned an incorrect number of gradients \(expected 2, "
                                           r"got 1\)"):
        out.sum().backward()


# --- gradient dtypes and the leaves' own buffers ------------------------------------------------------------------

LOW_PRECISION_CASES = {
    "mul_scalar": (lambda a: a * 0.5, [(2, 3)]),
    "mean": (lambda a: a.mean(), [(3, 4)]),
    "tanh_0d": (lambda a: a.tanh(), [()]),
    "sigmoid": (lambda a: a.sigmoid(), [(3, 2)]),
    "div_scalar_by": (lambda a: 1.5 / a, [(2, 2)]),
    "sub_scalar_first": (lambda a: 2.0 - a, [(3,)]),
    "broadcast_mul": (lambda a, b: a * b, [(3, 1), (1, 4)]),
    "matmul": (lambda a, b: a @ b, [(2, 3, 4), (4, 5)]),
}


@pytest.mark.parametrize("name", sorted(LOW_PRECISION_CASES))
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_gradients_keep_the_inputs_low_precision_dtype(name, dtype):
    """NumPy turns float16 * a Python float into float16 but ml_dtypes' bfloat16 into float32, and 0-d results into
    scalars: every gradient still has its input's dtype and shape, and the float64 gradient's values."""
    if dtype == "bfloat16":
        pytest.importorskip("ml_dtypes")
    fn, shapes = LOW_PRECISION_CASES[name]
    exact = [rand64(*s, seed=i) for i, s in enumerate(shapes)]
    low = [x.detach().to(getattr(ember, dtype)).requires_grad_() for x in exact]
    rounded = [x.detach().to(ember.float64).requires_grad_() for x in low]  # the same values in float64
    got = grad([fn(*low)], low, [ember.ones_like(fn(*low))])
    want = grad([fn(*rounded)], rounded, [ember.ones_like(fn(*rounded))])
    for x, g, w in zip(low, got, want):
        assert g.dtype is x.dtype and g.shape == x.shape
        np.testing.assert_allclose(g.float().numpy(), w.numpy(), rtol=2e-2, atol=2e-2)


def test_leaf_grad_from_a_broadcast_view_is_its_own_writable_array():
    x = rand64(3, 4)
    x.sum().backward()  # sum's gradient is a read-only broadcast view of the output's gradient
    assert x.grad._data.flags.writeable and x.grad._data.base is None
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((3, 4)))
    x.mean().backward()  # accumulated in place into the leaf's own buffer
    np.testing.assert_allclose(x.grad.numpy(), np.full((3, 4), 1 + 1 / 12))
