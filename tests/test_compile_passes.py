"""The graph passes on hand-built graphs (constant folding, algebraic simplification), and on traced functions:
what they remove, and that the result still equals the eager run."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.compiler.capture import trace
from ember.compiler.ir import Graph, Op, Value
from ember.compiler.passes import optimize
from ember.compiler.passes.fold import fold_constants
from ember.compiler.passes.simplify import simplify_algebra
from ember.ops.activation import Softmax
from ember.ops.arith import Add, Mul, Neg, Sub
from ember.ops.shape import Permute, Reshape
from ember.ops.unary import Exp, Log
from helpers import classification_step


def _op(node, args, shape, dtype=np.float32):
    op = Op(node, args, [])
    op.outputs.append(Value(shape, dtype, "op", op=op))
    return op


def _names(graph):
    return [op.name for op in graph.ops]


def _run(graph, *arrays):
    from ember.compiler.interpret import Program
    return [t.numpy() for t in Program(graph).run([ember.tensor(a) for a in arrays])]


# --- constant folding -------------------------------------------------------------------------------------------

def test_folding_runs_ops_of_constants_once_and_keeps_the_rest():
    x = Value((3,), np.float32, "input", index=0)
    c = Value((3,), np.float32, "constant", array=np.array([1, 2, 3], np.float32))
    double = _op(Mul(), [c, 2.0], (3,))
    shifted = _op(Add(), [double.outputs[0], c], (3,))
    out = _op(Mul(), [x, shifted.outputs[0]], (3,))
    graph = fold_constants(Graph([x], [double, shifted, out], [out.outputs[0]]))
    assert _names(graph) == ["Mul"]
    folded = graph.ops[0].args[1]
    assert folded.kind == "constant" and folded.array.tolist() == [3, 6, 9]
    assert _run(graph, np.ones(3, np.float32))[0].tolist() == [3, 6, 9]


def test_folding_leaves_random_ops_and_ops_of_inputs():
    x = ember.ones(4)
    graph, _ = trace(lambda t: F.dropout(ember.ones(4), 0.5) + t.exp(), (x,), {})
    graph = fold_constants(graph)
    assert _names(graph) == ["Dropout", "Exp", "Add"]


def test_folding_a_causal_mask_built_in_the_function():
    def f(scores):
        mask = ember.triu(ember.ones(4, 4, dtype=ember.bool), diagonal=1)
        return scores.masked_fill(mask, float("-inf")).softmax(-1)

    x = ember.randn(2, 4, 4)
    graph, _ = trace(f, (x,), {})
    assert "Triu" in _names(graph)
    compiled = ember.compile(f, backend="numpy")
    compiled(x)
    assert "Triu" not in _names(compiled.graph)
    np.testing.assert_array_equal(compiled(x).numpy(), f(x).numpy())


# --- algebraic simplification -----------------------------------------------------------------------------------

@pytest.mark.parametrize("node, args", [
    (Mul(), ["x", 1]), (Mul(), [1.0, "x"]), (Add(), ["x", 0]), (Add(), [0.0, "x"]), (Sub(), ["x", 0]),
])
def test_identities_are_dropped(node, args):
    x = Value((2, 3), np.float32, "input", index=0)
    op = _op(node, [x if a == "x" else a for a in args], (2, 3))
    out = _op(Exp(), [op.outputs[0]], (2, 3))
    graph = simplify_algebra(Graph([x], [op, out], [out.outputs[0]]))
    assert _names(graph) == ["Exp"] and graph.ops[0].args[0] is x


def test_an_identity_that_would_change_shape_or_dtype_stays():
    x = Value((3,), np.float32, "input", index=0)
    ones = Value((2, 3), np.float32, "constant", array=np.ones((2, 3), np.float32))
    broadcast = _op(Mul(), [x, ones], (2, 3))
    i = Value((3,), np.int64, "input", index=1)
    promoted = _op(Mul(), [i, 1.0], (3,), np.float32)
    graph = simplify_algebra(Graph([x, i], [broadcast, promoted], [broadcast.outputs[0], promoted.outputs[0]]))
    assert _names(graph) == ["Mul", "Mul"]


def test_an_output_keeps_its_own_value():
    x = Value((3,), np.float32, "input", index=0)
    op = _op(Mul(), [x, 1.0], (3,))
    graph = simplify_algebra(Graph([x], [op], [op.outputs[0]]))
    assert _names(graph) == ["Mul"]  # returning the input itself would alias it


def test_double_negation_and_log_of_exp():
    x = Value((3,), np.float32, "input", index=0)
    n1 = _op(Neg(), [x], (3,))
    n2 = _op(Neg(), [n1.outputs[0]], (3,))
    e = _op(Exp(), [n2.outputs[0]], (3,))
    lg = _op(Log(), [e.outputs[0]], (3,))
    out = _op(Mul(), [lg.outputs[0], 2.0], (3,))
    graph = optimize(Graph([x], [n1, n2, e, lg, out], [out.outputs[0]]))
    assert _names(graph) == ["Mul"] and graph.ops[0].args[0] is x


def test_log_of_softmax_becomes_log_softmax_and_log_of_one_plus_becomes_log1p():
    x = Value((2, 5), np.float32, "input", index=0)
    sm = _op(Softmax(1), [x], (2, 5))
    lsm = _op(Log(), [sm.outputs[0]], (2, 5))
    plus = _op(Add(), [1.0, x], (2, 5))
    l1p = _op(Log(), [plus.outputs[0]], (2, 5))
    graph = optimize(Graph([x], [sm, lsm, plus, l1p], [lsm.outputs[0], l1p.outputs[0]]))
    assert _names(graph) == ["LogSoftmax", "Log1p"]
    assert graph.outputs == [lsm.outputs[0], l1p.outputs[0]]  # the same values, computed by the new ops
    a = np.array([[-200.0, 0, 1, 2, 3], [1e-8, 0, 0, 0, 0]], np.float32)
    got_lsm, got_l1p = _run(graph, a)
    np.testing.assert_allclose(got_lsm, F.log_softmax(ember.tensor(a), 1).numpy(), rtol=1e-6)
    assert np.isfinite(got_lsm).all()  # log(softmax) underflows to -inf at -200
    assert got_l1p[1, 0] == np.log1p(np.float32(1e-8))


def test_permute_and_reshape_chains():
    x = Value((2, 3, 4), np.float32, "input", index=0)
    p1 = _op(Permute((2, 0, 1)), [x], (4, 2, 3))
    p2 = _op(Permute((1, 2, 0)), [p1.outputs[0]], (2, 3, 4))  # undoes p1
    r1 = _op(Reshape((6, 4)), [p2.outputs[0]], (6, 4))
    r2 = _op(Reshape((24,)), [r1.outputs[0]], (24,))
    q1 = _op(Permute((1, 0, 2)), [x], (3, 2, 4))
    q2 = _op(Permute((0, 2, 1)), [q1.outputs[0]], (3, 4, 2))
    graph = optimize(Graph([x], [p1, p2, r1, r2, q1, q2], [r2.outputs[0], q2.outputs[0]]))
    assert _names(graph) == ["Reshape", "Permute"]
    assert graph.ops[0].args[0] is x and graph.ops[0].node.shape == (24,)
    assert graph.ops[1].args[0] is x and graph.ops[1].node.dims == (1, 2, 0)
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    flat, perm = _run(graph, a)
    np.testing.assert_array_equal(flat, a.reshape(24))
    np.testing.assert_array_equal(perm, a.transpose(1, 0, 2).transpose(0, 2, 1))


def test_simplified_training_step_equals_eager(torch):
    """A function written the long way round: its compiled gradients equal the eager ones and PyTorch's."""
    def f(x, w):
        y = (x @ w).softmax(-1).log() * 1.0 + 0.0
        return (-(-y)).t().t().sum()

    xa = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    wa = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    compiled = ember.compile(f, backend="numpy")
    grads = []
    for run in (f, compiled, compiled):
        w = ember.tensor(wa, requires_grad=True)
        loss = run(ember.tensor(xa), w)
        loss.backward()
        grads.append((loss.item(), w.grad.numpy()))
    with ember.no_grad():  # the forward alone (with gradients, the backward traced from the eager run reads the
        compiled(ember.tensor(xa), ember.tensor(wa))  # softmax's output: the joint graph keeps it)
    assert {"Softmax", "Log", "Neg"}.isdisjoint(_names(compiled.graph))
    tw = torch.tensor(wa, requires_grad=True)
    tl = (torch.tensor(xa) @ tw).log_softmax(-1).sum()
    tl.backward()
    for loss, g in grads:
        np.testing.assert_allclose(loss, tl.item(), rtol=1e-5)
        np.testing.assert_allclose(g, tw.grad.numpy(), rtol=1e-4, atol=1e-6)


# --- copy elision (the interpreter hands a dying array over instead of cloning it) -------------------------------

def _count_clone_copies(monkeypatch):
    from ember.ops.copy import Clone
    calls, forward = [], Clone.forward
    monkeypatch.setattr(Clone, "forward", lambda self, xp, a: calls.append(a.shape) or forward(self, xp, a))
    return calls


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_a_training_step_delivers_its_gradients_without_copying_them(monkeypatch, backend):
    import ember.nn as nn
    calls = _count_clone_copies(monkeypatch)
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    opt = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    step = classification_step(model, opt)

    compiled = ember.compile(step, backend=backend)
    x, y = ember.randn(32, 8), ember.randint(0, 4, (32,))
    for _ in range(3):
        compiled(x, y)
    calls.clear()
    compiled(x, y)
    assert calls == []
    grads = [p.grad for p in model.parameters()]
    assert len({id(g._data) for g in grads}) == 4 and all(g._data.base is None for g in grads)


def test_a_clone_of_a_view_or_of_a_kept_array_is_still_a_copy(monkeypatch):
    calls = _count_clone_copies(monkeypatch)

    def f(x):
        a = (x * 2)[1:].clone()  # the clone of a view: its base must not be handed out
        b = x.exp()
        return a, b.clone(), b  # b is an output: its clone is a copy
    compiled = ember.compile(f, backend="numpy")
    x = ember.arange(4.0)
    for _ in range(2):
        compiled(x)
    calls.clear()
    a, b2, b = compiled(x)
    assert sorted(calls) == [(3,), (4,)]
    b2.add_(1)
    np.testing.assert_array_equal(b.numpy(), np.exp(np.arange(4.0, dtype=np.float32)))
    np.testing.assert_array_equal(a.numpy(), [2, 4, 6])


# --- the graph drawn -------------------------------------------------------------------------------------------

def test_graph_as_dot_and_svg(tmp_path):
    import shutil
    import ember.nn as nn
    model = ember.compile(nn.Sequential(nn.Linear(3, 4), nn.ReLU()), backend="numpy")
    with ember.no_grad():  # the forward alone (with gradients, the graph holds its backward too)
        model(ember.randn(2, 3))
    model.save_graph(tmp_path / "g.dot")
    dot = (tmp_path / "g.dot").read_text()
    assert dot.startswith("digraph") and dot.count("shape=box") == len(model.graph.ops) == 2
    assert '"%0 = Linear"' in dot and "op0 -> op1" in dot and '"return 0"' in dot
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed: the SVG drawing is not checked")
    model.save_graph(tmp_path / "g.svg")
    svg = (tmp_path / "g.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "Linear" in svg and "Relu" in svg


# --- outputs written over dying inputs (the C backend's kernels) -------------------------------------------------

def test_a_kernel_writes_its_output_over_a_dying_intermediate():
    from ember.compiler import cache
    if cache.find_compiler() is None:
        pytest.skip("no C compiler")

    def f(x, w):
        h = x @ w  # a BLAS result that dies in the fused kernel after it
        return (h.relu() * 2 + 1).sum(0), h.shape

    compiled = ember.compile(f)
    x, w = ember.randn(8, 5), ember.randn(5, 6)
    for _ in range(3):
        got, _ = compiled(x, w)
    entry = next(iter(compiled.cache.values()))[0]
    program = entry.program.arrays
    assert list(program.overwrites.values()) == [(0,)]
    np.testing.assert_allclose(got.numpy(), f(x, w)[0].numpy(), rtol=1e-6)


def test_an_array_held_elsewhere_is_never_written_over():
    from ember.compiler.interpret import _dying
    env = [np.ones(4, np.float32), np.ones(4, np.float32), np.ones((2, 2), np.float32).T]
    kept = env[1]  # a second holder
    arrays = list(env)
    assert _dying(arrays, (0, 1, 2, None))[0] is env[0]
    assert _dying(arrays, (1, 2, None)) == [None, None, None]  # held by `kept`; not C-contiguous; none asked
    arrays.append(env[0])
    assert _dying(arrays, (0,)) == [None]  # read twice by the kernel
    assert kept is env[1]


def test_linear_bias_joins_the_activation_after_it():
    from ember.compiler import cache
    if cache.find_compiler() is None:
        pytest.skip("no C compiler")
    import ember.nn as nn
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    compiled = ember.compile(model)
    x = ember.randn(5, 6)
    with ember.no_grad():
        for _ in range(3):
            got = compiled(x)
        want = model(x)
    np.testing.assert_array_equal(got.numpy(), want.numpy())  # the same additions and max, in C
    kernels = [op.node.ops for op in compiled.graph.walk() if op.name == "FusedKernel"]
    linears = [op for op in compiled.graph.walk() if op.name == "Linear"]
    assert kernels == ["Add,Relu"] and [len(op.args) for op in linears] == [2, 3]  # the last one is the output


# --- layout selection -------------------------------------------------------------------------------------------

def _chain(extra_reader=None, hand_out_middle=False):
    """x -> Exp (producer) -> Neg (follows) -> Mul (absorbs) -> out, maybe with Neg's result also read by
    extra_reader or handed out; the layout predicates by node type."""
    from ember.compiler.passes.layout import choose_channels_last
    x = Value((2, 3, 4, 4), np.float32, "input", index=0)
    produce = _op(Exp(), [x], x.shape)
    follow = _op(Neg(), [produce.outputs[0]], x.shape)
    absorb = _op(Mul(), [follow.outputs[0], x], x.shape)
    ops, outputs = [produce, follow, absorb], [absorb.outputs[0]]
    if extra_reader is not None:
        ops.append(_op(extra_reader, [follow.outputs[0]], x.shape))
    if hand_out_middle:
        outputs.append(follow.outputs[0])
    graph = Graph([x], ops, outputs)
    chosen = choose_channels_last(graph, lambda op: isinstance(op.node, Exp), lambda op: isinstance(op.node, Neg),
                                  lambda op: isinstance(op.node, (Mul, Exp)))
    return [op.name for op in chosen]


def test_layout_selection_chooses_a_producer_whose_chain_ends_in_readers_that_take_the_layout():
    assert _chain() == ["Exp"]
    assert _chain(extra_reader=Exp()) == ["Exp", "Exp"]  # another reader that takes it (and produces: nothing
    # reads its result)


def test_layout_selection_keeps_the_layout_where_a_reader_would_copy_it_back_or_the_user_sees_it():
    assert _chain(extra_reader=Log()) == []  # Log reads the chain's value: it would copy it back
    assert _chain(hand_out_middle=True) == []  # the chain's value is handed out
