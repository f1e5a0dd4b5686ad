"""ember.compile: tracing, guards, graph breaks, the passes on hand-built graphs, the numpy backend against eager."""
import warnings

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember import zoo
from ember.compiler import GraphBreak
from ember.compiler.capture import trace
from ember.compiler.ir import Graph, Op, Value
from ember.compiler.passes import cse, dce, optimize
from ember.ops.unary import Exp
from ember.ops.arith import Add, Mul


def _eager_and_compiled(fn, *args, calls=2):
    """fn's results eagerly and compiled (the first compiled call traces, the later ones run the graph)."""
    compiled = ember.compile(fn)
    eager = [fn(*args) for _ in range(calls)]
    ran = [compiled(*args) for _ in range(calls)]
    return eager, ran, compiled


@pytest.mark.parametrize("name, kwargs, shape", [
    ("mlp", dict(in_features=64), (4, 1, 8, 8)), ("lenet5", {}, (2, 1, 28, 28)),
    ("resnet20", {}, (2, 3, 16, 16)), ("mobilenet_v2", dict(num_classes=10), (1, 3, 32, 32)),
    ("lstm_classifier", dict(vocab_size=20), "tokens"), ("vit", {}, (2, 3, 32, 32))])
def test_zoo_inference_equals_eager_bit_for_bit(name, kwargs, shape):
    model = zoo.get_model(name, **kwargs)
    model.eval()
    x = ember.randint(0, 20, (2, 7)) if shape == "tokens" else ember.randn(*shape)
    compiled = ember.compile(model)
    with ember.no_grad():
        want = model(x)
        for _ in range(2):
            np.testing.assert_array_equal(compiled(x).numpy(), want.numpy())
    assert compiled.graph is not None and len(compiled.graph.ops) > 3


def test_gpt_inference_equals_eager():
    model = zoo.gpt(vocab_size=17, block_size=8, n_layer=2, n_head=2, n_embd=16).eval()
    idx = ember.randint(0, 17, (2, 8))
    compiled = ember.compile(model)
    with ember.no_grad():
        want = model(idx)
        got = compiled(idx)
        got = compiled(idx)
    want = want[0] if isinstance(want, tuple) else want
    got = got[0] if isinstance(got, tuple) else got
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_training_forward_gives_the_eager_gradients():
    ember.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    compiled = ember.compile(model)
    x, y = ember.randn(5, 1, 8, 8), ember.tensor([0, 1, 2, 1, 0])
    grads = []
    for run in (model, compiled, compiled):
        model.zero_grad()
        F.cross_entropy(run(x), y).backward()
        grads.append([p.grad.numpy().copy() for p in model.parameters()])
    for got in grads[1:]:
        for a, b in zip(got, grads[0]):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_batch_norm_running_statistics_are_updated_by_every_compiled_call():
    ember.manual_seed(0)
    eager, compiled_model = nn.BatchNorm1d(3), nn.BatchNorm1d(3)
    compiled = ember.compile(compiled_model)
    x = ember.randn(6, 3)
    with ember.no_grad():
        for _ in range(3):
            eager(x)
            compiled(x)
    np.testing.assert_allclose(compiled_model.running_mean.numpy(), eager.running_mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(compiled_model.running_var.numpy(), eager.running_var.numpy(), rtol=1e-6)
    assert compiled_model.num_batches_tracked.item() == 3


def test_dropout_draws_a_new_mask_each_call_as_eager_does():
    def f(x):
        return F.dropout(x, 0.5, training=True) * 2

    x = ember.ones(4, 16)
    ember.manual_seed(3)
    eager = [f(x).numpy().copy() for _ in range(3)]
    compiled = ember.compile(f)
    ember.manual_seed(3)
    ran = [compiled(x).numpy().copy() for _ in range(3)]
    for a, b in zip(ran, eager):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(ran[1], ran[2])


def test_in_place_change_of_an_input_is_replayed():
    def f(x, y):
        x.add_(y)
        return x * 2

    a, b = ember.ones(3), ember.ones(3)
    compiled = ember.compile(f)
    out = [compiled(a, b) for _ in range(3)]
    np.testing.assert_array_equal(a.numpy(), [4.0, 4.0, 4.0])
    np.testing.assert_array_equal(out[-1].numpy(), [8.0, 8.0, 8.0])
    assert a._version == 3


def test_constants_made_inside_are_fresh_each_call():
    def f(x):
        acc = ember.zeros(3)
        acc.add_(x)
        return acc + ember.arange(3)

    compiled = ember.compile(f)
    x = ember.ones(3)
    for _ in range(3):
        np.testing.assert_array_equal(compiled(x).numpy(), [1.0, 2.0, 3.0])


def test_outputs_keep_their_nesting_and_python_values():
    def f(x, scale=2):
        return {"y": x * scale, "pair": (x, None, "tag")}

    compiled = ember.compile(f)
    x = ember.ones(2)
    for _ in range(2):
        out = compiled(x, scale=3)
        assert set(out) == {"y", "pair"} and out["pair"][0] is x and out["pair"][1:] == (None, "tag")
        np.testing.assert_array_equal(out["y"].numpy(), [3.0, 3.0])


def test_retraces_on_new_shapes_arguments_and_mode():
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5))
    compiled = ember.compile(model)
    with ember.no_grad():
        compiled(ember.ones(2, 3))
        compiled(ember.ones(2, 3))
        assert len(compiled._compiled.cache) == 1
        compiled(ember.ones(4, 3))
        assert len(compiled._compiled.cache) == 2
        model.eval()  # the dropout op must go: the graph traced in training mode is not valid any more
        np.testing.assert_array_equal(compiled(ember.ones(2, 3)).numpy(), model(ember.ones(2, 3)).numpy())
        assert not any(op.name == "Dropout" for op in compiled.graph.ops)


def test_a_replaced_parameter_is_seen():
    model = nn.Linear(2, 1)
    compiled = ember.compile(model)
    x = ember.ones(1, 2)
    with ember.no_grad():
        compiled(x)
        model.weight = nn.Parameter(ember.full((1, 2), 5.0))
        model.bias.data.fill_(0)
        np.testing.assert_array_equal(compiled(x).numpy(), [[10.0]])


def test_the_cache_is_bounded():
    compiled = ember.compile(lambda x: x + 1)
    for n in range(1, 12):
        compiled(ember.ones(n))
    assert len(compiled.cache) == 8


def test_graph_break_warns_once_and_runs_eagerly():
    def f(x):
        return x * x.sum().item()

    compiled = ember.compile(f)
    x = ember.arange(3.0)
    with pytest.warns(UserWarning, match=r"graph break in f: Tensor.item\(\).*test_compile.py:\d+"):
        np.testing.assert_array_equal(compiled(x).numpy(), [0.0, 3.0, 6.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(compiled(x).numpy(), [0.0, 3.0, 6.0])
    assert "graph break" in compiled.explain()


@pytest.mark.parametrize("body, what", [
    (lambda x: x + ember.randn(3), "random factory"),
    (lambda x: x.sum().backward(), "backward"),
    (lambda x: x[0].numpy(), "numpy"),
    (lambda x: ember.optim.SGD([x], lr=0.1).step(), "Optimizer.step"),
])
def test_fullgraph_raises_on_what_a_graph_cannot_hold(body, what):
    compiled = ember.compile(body, fullgraph=True)
    with pytest.raises(RuntimeError, match=f"fullgraph=True.*{what}"):
        compiled(ember.ones(3, requires_grad=what == "backward"))


def test_setitem_and_copy_are_captured():
    def f(x, src):
        y = x * 1
        y[0] = 5.0
        z = (x * 0).copy_(src)
        return y + z

    compiled = ember.compile(f, fullgraph=True)
    for _ in range(3):
        np.testing.assert_array_equal(compiled(ember.ones(3), ember.full((3,), 7.0)).numpy(), [12.0, 8.0, 8.0])


def test_a_write_through_a_view_is_a_graph_break():
    def f(x):
        y = x * 1
        y[1:].zero_()
        return y

    with pytest.raises(RuntimeError, match="in-place change of a tensor that has views"):
        ember.compile(f, fullgraph=True)(ember.ones(3))


def test_decorator_with_arguments_and_bad_backend():
    @ember.compile(fullgraph=True, backend="numpy")
    def f(x):
        return x.relu()

    np.testing.assert_array_equal(f(ember.tensor([-1.0, 2.0])).numpy(), [0.0, 2.0])
    with pytest.raises(ValueError, match="unknown backend 'tvm'"):
        ember.compile(f, backend="tvm")
    with pytest.raises(TypeError, match="expected a function or a Module"):
        ember.compile(3)


def test_optimized_module_keeps_the_module():
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    compiled = ember.compile(model)
    assert list(compiled.state_dict()) == ["_orig_mod.0.weight", "_orig_mod.0.bias"]
    assert list(compiled.parameters()) == list(model.parameters())
    compiled.eval()
    assert not model.training and not model[0].training
    assert ember.compile(model[0]).weight is model[0].weight  # attributes reach the original module


def test_graph_log_prints_each_pass(monkeypatch, capsys):
    monkeypatch.setenv("EMBER_LOGS", "graph")
    ember.compile(lambda x: (x.exp() + x.exp()) * 1)(ember.ones(2))
    err = capsys.readouterr().err
    assert "(captured)" in err and "(after eliminate_common_subexpressions)" in err
    assert err.count("Exp(") >= 3  # twice captured, once after the merge


# --- the passes on hand-built graphs ----------------------------------------------------------------------------

def _hand_built():
    """x -> exp(x) twice -> add; a mul nobody reads."""
    x = Value((3,), np.float32, "input", index=0)
    ops, vals = [], []
    for node, args in ((Exp(), [x]), (Exp(), [x])):
        op = Op(node, args, [])
        op.outputs.append(Value((3,), np.float32, "op", op=op))
        ops.append(op)
        vals.append(op.outputs[0])
    add = Op(Add(), vals, [])
    add.outputs.append(Value((3,), np.float32, "op", op=add))
    dead = Op(Mul(), [x, 2.0], [])
    dead.outputs.append(Value((3,), np.float32, "op", op=dead))
    return Graph([x], ops + [add, dead], [add.outputs[0]]), x


def test_dead_code_elimination_on_a_hand_built_graph():
    graph, _ = _hand_built()
    names = [op.name for op in dce.eliminate_dead_code(graph).ops]
    assert names == ["Exp", "Exp", "Add"]


def test_common_subexpression_elimination_on_a_hand_built_graph():
    graph, x = _hand_built()
    graph = cse.eliminate_common_subexpressions(graph)
    add = next(op for op in graph.ops if op.name == "Add")
    assert [op.name for op in graph.ops] == ["Exp", "Add", "Mul"] and add.args[0] is add.args[1]


def test_random_ops_and_ops_with_effects_are_never_merged_or_dropped():
    x = ember.ones(4)
    graph, _ = trace(lambda t: (F.dropout(t, 0.5), F.dropout(t, 0.5))[0], (x,), {})
    graph = optimize(graph)
    assert [op.name for op in graph.ops] == ["Dropout", "Dropout"]


def test_trace_returns_a_graph_break_and_still_runs_the_function():
    graph, result = trace(lambda t: t.sum().item(), (ember.ones(2),), {})
    assert isinstance(graph, GraphBreak) and result == 2.0
