"""Memory economy of the autograd graph: a node keeps only the inputs its backward reads, and backward frees
what the graph saved."""
import gc
import weakref

import numpy as np

import ember
from ember.ops import linalg
from ember.ops.copy import to_copy


def _param(rng, *shape):
    return ember.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)


def _alive(ref):
    gc.collect()
    return ref() is not None


def test_activations_that_backward_does_not_read_are_freed_during_forward():
    rng = np.random.default_rng(0)
    x = ember.tensor(rng.standard_normal((64, 256)).astype(np.float32))
    w1, w2 = _param(rng, 256, 512), _param(rng, 512, 8)
    h = x @ w1          # read by nobody's backward: Add needs no input, the matmul keeps x for w1's grad
    a = h + 1.0         # read by nobody's backward: relu keeps its output, not its input
    r = a.relu()        # read by relu's backward (its output) and by the matmul (for w2's grad)
    y = r @ w2
    loss = y.sum()
    h_data, a_data, r_data = weakref.ref(h._data), weakref.ref(a._data), weakref.ref(r._data)
    del h, a, r
    assert not _alive(h_data)
    assert not _alive(a_data)
    assert _alive(r_data)  # still needed by backward
    loss.backward()
    assert not _alive(r_data)  # released with the graph
    assert w1.grad.shape == (256, 512) and w2.grad.shape == (512, 8)


def test_gradients_are_unchanged_by_the_release():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 6))
    w1, w2 = rng.standard_normal((6, 5)), rng.standard_normal((5, 3))

    def run(keep):
        xt = ember.tensor(x)
        p1, p2 = ember.tensor(w1, requires_grad=True), ember.tensor(w2, requires_grad=True)
        h = xt @ p1
        a = (h + 1.0).relu()
        loss = ((a @ p2).tanh() * 2.0).sum()
        if keep:
            kept = (h, a)  # noqa: F841  (the user holding the tensors changes nothing)
        loss.backward()
        return p1.grad.numpy(), p2.grad.numpy()

    for g_kept, g_dropped in zip(run(True), run(False)):
        np.testing.assert_array_equal(g_kept, g_dropped)


def test_a_node_keeps_only_the_inputs_it_saves():
    rng = np.random.default_rng(2)
    a, b = _param(rng, 3, 4), ember.tensor(rng.standard_normal((3, 4)).astype(np.float32))
    node = (a * b).grad_fn  # a's gradient reads b; b needs no gradient, so a is not kept
    assert node.inputs[0] is None and node.inputs[1] is b
    node = (a + b).grad_fn
    assert node.inputs == (None, None)
    node = a.sigmoid().grad_fn  # saves its output
    assert node.inputs == (None,)
    node = (a * 2.0).grad_fn  # numbers stay
    assert node.inputs == (None, 2.0)
    c = ember.tensor(rng.standard_normal((4, 5)).astype(np.float32))
    node = (a @ c).grad_fn
    assert node.inputs[0] is None and node.inputs[1] is c


def test_every_saved_input_is_version_checked():
    rng = np.random.default_rng(3)
    a = _param(rng, 3, 4)
    b = ember.tensor(rng.standard_normal((4, 2)).astype(np.float32))
    y = linalg.matmul(a, b)
    with ember.no_grad():
        b.mul_(2.0)  # b is saved for a's gradient
    try:
        y.sum().backward()
    except RuntimeError as e:
        assert "modified by an inplace operation" in str(e)
    else:
        raise AssertionError("backward should have detected the in-place change of a saved input")


def test_released_inputs_get_correct_gradients_for_dtype_casting_ops():
    rng = np.random.default_rng(4)
    x = ember.tensor(rng.standard_normal((2, 3)), requires_grad=True)  # float64
    y = to_copy(x, dtype=ember.float32)
    (y * y).sum().backward()
    assert x.grad.dtype is ember.float64
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy(), rtol=1e-6)


def _large_arrays(node, size):
    return [k for k, v in vars(node).items() if isinstance(v, np.ndarray) and v.size >= size]


def test_norms_keep_statistics_not_a_second_copy_of_their_input():
    import ember.nn.functional as F
    rng = np.random.default_rng(5)
    x = ember.tensor(rng.standard_normal((8, 4, 5, 5)).astype(np.float32), requires_grad=True)
    w, b = _param(rng, 4), _param(rng, 4)
    y = F.batch_norm(x, None, None, w, b, training=True)
    assert _large_arrays(y.grad_fn, x.numel()) == []
    z = F.layer_norm(x, (5, 5), _param(rng, 5, 5), _param(rng, 5, 5))
    assert _large_arrays(z.grad_fn, x.numel()) == []
    ((y * z).sum()).backward()
    assert x.grad.shape == x.shape
