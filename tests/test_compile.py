"""ember.compile: tracing, guards, graph breaks, the passes on hand-built graphs, the numpy backend against eager."""
import io
import warnings
import weakref

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
from ember.optim.optimizer import OptimizerUpdate
from helpers import classification_step


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
    compiled = ember.compile(model, backend="numpy")  # the same array code as eager (C's GELU is a few ulp off)
    with ember.no_grad():
        want = model(x)
        for _ in range(3):  # traced, traced again to verify, then run as a graph
            np.testing.assert_array_equal(compiled(x).numpy(), want.numpy())
    assert compiled.graph is not None and len(compiled.graph.ops) > 3


def test_gpt_inference_equals_eager():
    model = zoo.gpt(vocab_size=17, block_size=8, n_layer=2, n_head=2, n_embd=16).eval()
    idx = ember.randint(0, 17, (2, 8))
    compiled = ember.compile(model, backend="numpy")  # bit for bit: the same array code as eager
    with ember.no_grad():
        want = model(idx)
        for _ in range(3):  # traced, traced again to verify, then run as a graph
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
    for _ in range(3):
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
    (lambda x: ember.autograd.grad(x.sum(), x, create_graph=True), "create_graph"),
    (lambda x: x[0].numpy(), "numpy"),
])
def test_fullgraph_raises_on_what_a_graph_cannot_hold(body, what):
    compiled = ember.compile(body, fullgraph=True)
    with pytest.raises(RuntimeError, match=f"fullgraph=True.*{what}"):
        compiled(ember.ones(3, requires_grad=what == "create_graph"))


def test_a_post_accumulate_grad_hook_is_a_graph_break_and_runs_on_every_call():
    """Python run in the middle of the backward (DistributedDataParallel's reduction, an optimizer step in
    backward) cannot be replayed by a graph: the function runs eagerly, and the hook on every call."""
    linear = ember.nn.Linear(4, 3)
    seen = []
    linear.weight.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.numpy().copy()))

    def step(x):
        linear.weight.grad = None
        linear(x).sum().backward()

    x = ember.randn(5, 4)
    compiled = ember.compile(step)
    with pytest.warns(UserWarning, match=r"graph break in step: a post-accumulate-grad hook.*test_compile.py:\d+"):
        compiled(x)
    for _ in range(3):
        compiled(x)
    assert len(seen) == 4
    for grad in seen:
        np.testing.assert_allclose(grad, np.broadcast_to(x.numpy().sum(0), (3, 4)), rtol=1e-6)
    with pytest.raises(RuntimeError, match="fullgraph=True.*post-accumulate-grad hook"):
        ember.compile(step, fullgraph=True)(x)


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


def test_the_trace_holds_no_tensor_the_function_dropped():
    """A trace frees what the function drops, as an eager run does, and tensors made later that take the dropped
    ones' ids are not taken for them."""
    def f(x, still_alive):
        total, dropped = x, []
        for i in range(20):
            y = x * float(i + 1)
            dropped.append(weakref.ref(y))
            total = total + y.exp().sum()  # Exp keeps its output's array: its gradient wraps it in a new tensor
            del y
        still_alive.append(sum(ref() is not None for ref in dropped))
        total.sum().backward()
        return total, x.grad

    x = ember.randn(3, requires_grad=True)
    eager_alive, traced_alive = [], []
    want = [t.detach().numpy().copy() for t in f(x, eager_alive)]
    x.grad = None
    graph, got = trace(f, (x, traced_alive), {})
    assert eager_alive == traced_alive == [0]
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a.detach().numpy(), b)
    compiled = ember.compile(lambda x: f(x, []), fullgraph=True, backend="numpy")
    for _ in range(3):
        x.grad = None
        for a, b in zip(compiled(x), want):
            np.testing.assert_allclose(a.detach().numpy(), b, rtol=1e-6)


def test_a_grad_the_function_sets_to_none_itself_is_part_of_its_graph():
    """`p.grad = None` inside the function (not through zero_grad) is noted by the trace, so the graph runs
    whatever .grad held before (it was guarded on .grad being None, and traced again on every call)."""
    weight = ember.randn(7, 5, requires_grad=True)
    g = ember.randn(4, 5)

    def step(idx):
        weight.grad = None
        (F.embedding(idx, weight) * g).sum().backward()
        return weight.grad

    idx = ember.tensor([0, 3, 3, 6])
    want = step(idx).numpy().copy()
    weight.grad = None
    compiled = ember.compile(step, fullgraph=True)
    for _ in range(4):
        np.testing.assert_array_equal(compiled(idx).numpy(), want)
    assert sum(len(entries) for entries in compiled.cache.values()) == 1
    entry = next(iter(compiled.cache.values()))[0]
    assert entry.verified and not entry.grad_entry


def _assign_and_accumulate(w, x, outside):
    w.grad = x * 2  # then a backward adds into it, in place
    (w * x).sum().backward()
    return w.sum()


def _scale_after_backward(w, x, outside):
    (w * x).sum().backward()
    w.grad = w.grad * 0.5
    return w.sum()


def _two_backwards(w, x, outside):
    w.grad = None
    (w * x).sum().backward()
    (w * x * 3).sum().backward()  # the second adds into the .grad the first left
    return w.sum()


def _a_tensor_from_outside(w, x, outside):
    w.grad = outside
    return (w * x).sum()


@pytest.mark.parametrize("step", [_assign_and_accumulate, _scale_after_backward, _two_backwards,
                                  _a_tensor_from_outside])
def test_what_the_function_does_to_a_grad_is_part_of_its_graph(step):
    """A tensor assigned to .grad inside the function (Tensor.grad's setter tells the trace), and what a later
    backward adds into it in place, is what the graph leaves in .grad on every call, as eager (the graph had left
    the first value it noted, or nothing where the function assigned it); a tensor from outside is the .grad
    itself, as eager."""
    results = []
    for compiled in (False, True):
        ember.manual_seed(0)
        w, outside = ember.randn(3, requires_grad=True), ember.ones(3)
        fn = ember.compile(step, fullgraph=True) if compiled else step
        got = []
        for i in range(4):
            out = fn(w, ember.tensor(np.full(3, i + 1.0, np.float32)), outside)
            got.append((out.item(), w.grad.numpy().copy(), w.grad is outside))
        results.append(got)
    for (a, ga, sa), (b, gb, sb) in zip(*results):
        assert a == b and sa == sb
        np.testing.assert_array_equal(ga, gb)


def test_a_grad_assigned_to_a_tensor_made_inside_the_function_is_a_graph_break():
    w = ember.randn(3, requires_grad=True)

    def step(x):
        y = w * 2
        y.grad = x  # (y dies with the call: a graph could not give it back)
        return y.sum()

    with pytest.raises(Exception, match="a .grad assigned to a tensor made inside the function"):
        ember.compile(step, fullgraph=True)(ember.ones(3))


# --- whole training steps ---------------------------------------------------------------------------------------

def _train(make, batch, compiled, steps=4, clip=None):
    """Losses and final parameters of steps of zero_grad/forward/backward/(clip)/step, eager or compiled."""
    ember.manual_seed(0)
    model, opt = make()
    x, y = batch

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        return loss

    run = ember.compile(step, fullgraph=True) if compiled else step
    ember.manual_seed(1)
    losses = [run(x, y).item() for _ in range(steps)]
    return losses, [p.detach().numpy().copy() for p in model.parameters()], run


def _images(shape, classes=10):
    ember.manual_seed(5)
    return ember.randn(*shape), ember.randint(0, classes, (shape[0],))


@pytest.mark.parametrize("name, make, batch", [
    ("mlp_sgd", lambda: _with(zoo.mlp(in_features=64, dropout=0.2), ember.optim.SGD, lr=0.1, momentum=0.9),
     lambda: _images((8, 1, 8, 8))),
    ("lenet_adam", lambda: _with(zoo.lenet5(), ember.optim.Adam, lr=1e-3), lambda: _images((4, 1, 28, 28))),
    ("resnet8_sgd_bn", lambda: _with(zoo.get_model("resnet8"), ember.optim.SGD, lr=0.05, momentum=0.9,
                                     weight_decay=5e-4), lambda: _images((4, 3, 16, 16))),
    ("lstm_adamw", lambda: _with(zoo.lstm_classifier(vocab_size=20), ember.optim.AdamW, lr=1e-2),
     lambda: (ember.randint(0, 20, (4, 9)), ember.randint(0, 2, (4,)))),
])
def test_compiled_training_step_equals_eager(name, make, batch):
    data = batch()
    eager_losses, eager_params, _ = _train(make, data, compiled=False)
    losses, params, run = _train(make, data, compiled=True)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)
    for a, b in zip(params, eager_params):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert any(isinstance(op.node, OptimizerUpdate) for op in run.graph.walk()) and run.graph.grads  # or C's
    assert len(run.cache) == 1  # one graph for every step


def _with(model, optimizer, **kwargs):
    return model, optimizer(model.parameters(), **kwargs)


def _gpt_step(model, opt):
    """A training step of a zoo gpt over a vocabulary of 17 that predicts its input tokens."""
    def step(idx):
        opt.zero_grad()
        logits = model(idx)
        logits = logits[0] if isinstance(logits, tuple) else logits
        loss = F.cross_entropy(logits.reshape(-1, 17), idx.reshape(-1))
        loss.backward()
        opt.step()
        return loss
    return step


def test_compiled_gpt_step_with_dropout_and_a_scheduler():
    def make():
        model = zoo.gpt(vocab_size=17, block_size=8, n_layer=1, n_head=2, n_embd=16, dropout=0.1)
        opt = ember.optim.AdamW(model.parameters(), lr=1e-2)
        return model, opt

    def run(compiled):
        ember.manual_seed(0)
        model, opt = make()
        sched = ember.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        idx = ember.randint(0, 17, (2, 8))
        step = _gpt_step(model, opt)

        f = ember.compile(step, fullgraph=True) if compiled else step
        losses = []
        for _ in range(4):
            losses.append(f(idx).item())
            sched.step()  # the graph reads the learning rate each run: no retrace
        return losses, [p.detach().numpy().copy() for p in model.parameters()], f

    eager_losses, eager_params, _ = run(False)
    losses, params, f = run(True)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)
    for a, b in zip(params, eager_params):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert len(f.cache) == 1


def test_gradients_accumulate_across_compiled_calls_as_eager():
    model = nn.Linear(3, 2)
    x = ember.randn(4, 3)

    def f(x):
        model(x).sum().backward()

    compiled = ember.compile(f, fullgraph=True)
    for _ in range(4):
        compiled(x)  # no zero_grad: the second call retraces (a .grad exists now); later calls run that graph
    np.testing.assert_allclose(model.bias.grad.numpy(), [16.0, 16.0])
    np.testing.assert_allclose(model.weight.grad.numpy(), 4 * x.sum(0).expand(2, 3).numpy(), rtol=1e-6)
    assert compiled.graph.writes and not compiled.graph.grads  # the graph now adds into the existing .grad
    model.zero_grad()  # new .grad objects after a reset: the graph adds into whatever .grad the leaves hold
    for _ in range(3):
        compiled(x)
    np.testing.assert_allclose(model.bias.grad.numpy(), [12.0, 12.0])
    assert [len(v) for v in compiled.cache.values()] == [2]  # a graph for the first backward, one accumulating


def test_compiled_gradient_accumulation_equals_eager():
    def run(compiled):
        ember.manual_seed(0)
        model = nn.Linear(4, 2)
        opt = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        ember.manual_seed(1)
        batches = [(ember.randn(3, 4), ember.randn(3, 2)) for _ in range(8)]

        def backward(x, y):
            loss = F.mse_loss(model(x), y) / 2
            loss.backward()
            return loss

        def update():
            opt.step()
            opt.zero_grad()

        b = ember.compile(backward, fullgraph=True) if compiled else backward
        u = ember.compile(update, fullgraph=True) if compiled else update
        for i, (x, y) in enumerate(batches):
            b(x, y)
            if i % 2 == 1:
                u()
        return [p.detach().numpy().copy() for p in model.parameters()], b

    eager, _ = run(False)
    got, b = run(True)
    for a, e in zip(got, eager):
        np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-7)


def test_compiled_step_with_gradient_clipping_equals_eager():
    make = lambda: _with(zoo.mlp(in_features=64), ember.optim.SGD, lr=0.5)  # noqa: E731
    data = _images((8, 1, 8, 8))
    eager_losses, eager_params, _ = _train(make, data, compiled=False, clip=0.05)
    losses, params, run = _train(make, data, compiled=True, clip=0.05)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)
    for a, b in zip(params, eager_params):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert any(op.name == "Norm" for op in run.graph.walk())


def test_a_tensor_computed_outside_ops_is_a_graph_break():
    def f(x):
        return x * ember.Tensor._wrap(x._data * 2)  # array code between ops: its values would be frozen

    with pytest.raises(RuntimeError, match="a tensor computed outside ops"):
        ember.compile(f, fullgraph=True)(ember.ones(3))


def test_each_call_reads_its_own_indices_and_targets():
    emb = nn.Embedding(11, 4)
    f = ember.compile(lambda i, x, y: (emb(i).sum(), F.cross_entropy(x, y, ignore_index=0, label_smoothing=0.1)))
    x = ember.randn(3, 5)
    for i, y in ((ember.tensor([[1, 2]]), ember.tensor([0, 1, 2])), (ember.tensor([[3, 4]]), ember.tensor([4, 4, 0])),
                 (ember.tensor([[5, 9]]), ember.tensor([1, 3, 3]))):
        got = f(i, x, y)
        want = (emb(i).sum(), F.cross_entropy(x, y, ignore_index=0, label_smoothing=0.1))
        for a, b in zip(got, want):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6)
    with pytest.raises(IndexError, match="Target 7 is out of bounds for 5 classes"):
        f(ember.tensor([[1, 2]]), x, ember.tensor([7, 0, 0]))


def test_compiled_training_on_changing_batches_equals_eager():
    def run(compiled):
        ember.manual_seed(0)
        model = nn.Sequential(nn.Embedding(20, 8), nn.Flatten(), nn.Linear(8 * 5, 4))
        opt = ember.optim.Adam(model.parameters(), lr=1e-2)

        step = classification_step(model, opt)

        f = ember.compile(step, fullgraph=True) if compiled else step
        ember.manual_seed(3)
        batches = [(ember.randint(0, 20, (6, 5)), ember.randint(0, 4, (6,))) for _ in range(5)]
        return [f(x, y).item() for x, y in batches], [p.detach().numpy().copy() for p in model.parameters()]

    eager_losses, eager_params = run(False)
    losses, params = run(True)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-6)
    for a, b in zip(params, eager_params):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_an_op_holding_values_of_the_data_is_found_by_the_second_trace():
    f = ember.compile(lambda x, i: x[i] * 2)  # getitem keeps the index tensor's values in its node
    x = ember.randn(4, 3)
    np.testing.assert_array_equal(f(x, ember.tensor([0, 1])).numpy(), (x[ember.tensor([0, 1])] * 2).numpy())
    with pytest.warns(UserWarning, match="computed from the tensors' values outside the graph's ops"):
        np.testing.assert_array_equal(f(x, ember.tensor([3, 2])).numpy(), (x[ember.tensor([3, 2])] * 2).numpy())
    np.testing.assert_array_equal(f(x, ember.tensor([1, 1])).numpy(), (x[ember.tensor([1, 1])] * 2).numpy())


def test_an_op_whose_saved_values_a_gradient_reads_is_kept():
    model = nn.Linear(4, 3)

    def f(x, y):  # returns only the gradient: the loss op is dead, but its gradient node reads its log-probabilities
        model.zero_grad()
        F.cross_entropy(model(x), y).backward()
        return model.weight.grad

    compiled = ember.compile(f, fullgraph=True)
    x, y = ember.randn(5, 4), ember.tensor([0, 1, 2, 1, 0])
    want = f(x, y).numpy().copy()
    for _ in range(3):
        np.testing.assert_allclose(compiled(x, y).numpy(), want, rtol=1e-6)


def test_causal_attention_steps_read_this_runs_attention_weights():
    def run(compiled):
        ember.manual_seed(0)
        # no dropout and 32+ positions: causal attention in two halves, whose weights its gradient reads
        model = zoo.gpt(vocab_size=17, block_size=32, n_layer=1, n_head=2, n_embd=16)
        opt = ember.optim.AdamW(model.parameters(), lr=1e-2)
        idx = ember.randint(0, 17, (2, 32))
        step = _gpt_step(model, opt)

        f = ember.compile(step, fullgraph=True, backend="numpy") if compiled else step
        losses = [f(idx).item() for _ in range(5)]  # the graph runs from the third call on
        return losses, [p.detach().numpy().copy() for p in model.parameters()]

    eager_losses, eager_params = run(False)
    losses, params = run(True)
    np.testing.assert_array_equal(losses, eager_losses)
    for a, b in zip(params, eager_params):
        np.testing.assert_array_equal(a, b)


def test_a_compiled_step_reads_the_optimizer_state_after_load_state_dict():
    def run(compiled):
        ember.manual_seed(0)
        model = nn.Linear(4, 2)
        opt = ember.optim.Adam(model.parameters(), lr=0.1)
        x, y = ember.randn(8, 4), ember.randn(8, 2)

        def step():
            opt.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            return loss

        f = ember.compile(step, fullgraph=True) if compiled else step
        for _ in range(3):
            f()
        saved = ember.serialization.load(_roundtrip(opt.state_dict()))  # an independent copy of the state
        for _ in range(2):
            f()
        opt.load_state_dict(saved)  # back to the state after 3 steps (the parameters keep their 5 updates)
        return [f().item() for _ in range(3)], [p.detach().numpy().copy() for p in model.parameters()]

    eager_losses, eager_params = run(False)
    losses, params = run(True)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-6)
    for a, b in zip(params, eager_params):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def _roundtrip(obj):
    buf = io.BytesIO()
    ember.save(obj, buf)
    buf.seek(0)
    return buf


def test_a_node_holding_a_kept_array_among_others_is_a_graph_break():
    from ember.autograd.graph import apply
    from ember.ops.arith import Mul

    def f(x):
        d = F.dropout(x * 1, 0.5)  # Dropout's forward keeps its mask on its node
        node = Mul()
        node.pair = (d.grad_fn.mask, np.ones(2))  # that mask inside a new tuple: no link can rebuild it
        return apply(node, d, 2.0)

    with pytest.raises(RuntimeError, match="holds arrays made outside the graph"):
        ember.compile(f, fullgraph=True)(ember.ones(2, requires_grad=True))


# --- a compiled forward whose backward runs outside (the joint graph) --------------------------------------------

class _Net(nn.Module):
    """Convolution, batch norm (running statistics), dropout and a head: what a joint graph must run once."""

    def __init__(self):
        super().__init__()
        self.conv, self.bn, self.head = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.Linear(8 * 5 * 5, 4)

    def forward(self, x):
        h = F.dropout(F.relu(self.bn(self.conv(x))), 0.3, self.training)
        logits = self.head(h.flatten(1))
        return logits, logits.argmax(1), h.detach().mean()  # differentiable, integer, floating without grad


def _joint_runs(backend, calls=3):
    """For eager and compiled: per call the loss, x.grad, the parameters' grads and the running statistics (the
    dropout masks drawn from the same seeds), and the last output's grad_fn."""
    results = []
    for compiled in (False, True):
        ember.manual_seed(0)
        net = _Net()
        run = ember.compile(net, backend=backend) if compiled else net
        rng = np.random.default_rng(1)
        per_call = []
        for i in range(calls):
            ember.manual_seed(10 + i)
            x = ember.tensor(rng.standard_normal((4, 3, 5, 5)).astype(np.float32), requires_grad=True)
            net.zero_grad()
            logits, labels, level = run(x)
            loss = F.cross_entropy(logits, labels.flip(0))
            loss.backward()
            per_call.append([loss.detach().numpy(), x.grad.numpy()] + [p.grad.numpy().copy() for p in net.parameters()]
                            + [net.bn.running_mean.numpy().copy(), net.bn.running_var.numpy().copy()])
        results.append((per_call, logits.grad_fn, (labels, level)))
    return results


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_a_compiled_module_runs_its_backward_from_the_joint_graph_as_eager(backend):
    """model = ember.compile(model) with the backward outside, PyTorch's usual idiom: the trace differentiates the
    forward's outputs right after it (AOTAutograd's joint graph); later calls run the forward part and autograd
    runs the backward part from their outputs. Gradients (x's and the parameters'), batch norm's statistics
    (updated once a call) and dropout's masks (drawn once) as eager's; the outputs that required no grad in the
    trace (an integer one, a detached one) require none."""
    (want, _, _), (got, grad_fn, others) = _joint_runs(backend)
    assert repr(grad_fn) == "<_CompiledForwardBackward>" and not any(t.requires_grad for t in others)
    for g, w in zip(got, want):
        for a, b in zip(g, w):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_joint_graph_backward_can_run_twice_with_retain_graph_but_not_build_a_graph():
    net = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1))
    compiled = ember.compile(net, backend="numpy")
    x = ember.randn(4, 3)
    for _ in range(2):
        compiled(x)
    out = compiled(x).sum()
    out.backward(retain_graph=True)
    first = [p.grad.numpy().copy() for p in net.parameters()]
    out.backward()  # what the backward reads is kept from the forward, not used up
    for p, g in zip(net.parameters(), first):
        np.testing.assert_allclose(p.grad.numpy(), 2 * g, rtol=1e-6)
    with pytest.raises(RuntimeError, match="create_graph=True through a compiled forward"):
        ember.autograd.grad(compiled(x).sum(), net[0].weight, create_graph=True)


@pytest.mark.parametrize("first", [False, True], ids=["unfrozen", "frozen"])
def test_a_joint_graph_traces_again_when_a_parameter_changes_requires_grad(first):
    """A joint graph differentiates with respect to the tensors that required grad when it was traced: a
    parameter frozen or unfrozen since is a new trace (the graph would leave an unfrozen one without a gradient)."""
    net = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2))
    compiled = ember.compile(net, backend="numpy")
    x = ember.randn(4, 3)
    net[0].weight.requires_grad_(first)
    for _ in range(3):
        compiled(x).square().sum().backward()
    net[0].weight.requires_grad_(not first)
    for _ in range(3):
        net.zero_grad()
        compiled(x).square().sum().backward()
    got = [None if p.grad is None else p.grad.numpy().copy() for p in net.parameters()]
    net.zero_grad()
    net(x).square().sum().backward()
    assert (got[0] is None) == first == (net[0].weight.grad is None)
    for a, p in zip(got, net.parameters()):
        if a is not None:
            np.testing.assert_allclose(a, p.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_a_joint_graph_keeps_the_forward_apart_from_its_backward(backend):
    """An output that is an elementwise op's could fuse with its gradient's ops (tanh with TanhGrad), and the
    forward's last matmul with the first of its gradient in one C segment: the joint graph keeps them apart (the
    forward part must compute its outputs before any gradient exists)."""
    ember.manual_seed(0)
    lin = nn.Linear(5, 6)
    x = ember.randn(4, 5, requires_grad=True)
    for fn in (lambda x: (lin(x).tanh(), lin(x)), lambda x: (lin(x), lin(x))):  # a matmul, then its gradient's
        f = ember.compile(fn, backend=backend)
        results, grad_fns = [], []
        for run in (f, f, f, fn):  # the third call runs the graph
            lin.zero_grad()
            x.grad = None
            a, b = run(x)
            (a.sum() + b.square().sum()).backward()
            results.append([x.grad.numpy().copy()] + [p.grad.numpy().copy() for p in lin.parameters()])
            grad_fns.append(repr(a.grad_fn))
        assert grad_fns[2] == "<_CompiledForwardBackward>"
        for got, want in zip(results[2], results[3]):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_a_parameter_with_a_gradient_hook_gets_no_joint_graph_and_its_hook_runs_once():
    """A leaf's hooks run when autograd delivers its gradient; a joint graph would hold them too (twice in all):
    a function reading such a parameter keeps the forward graph, whose backward autograd records."""
    net = nn.Linear(3, 2)
    calls = []
    net.weight.register_hook(lambda g: calls.append(1) or g * 2)
    compiled = ember.compile(net, backend="numpy")
    x = ember.randn(4, 3)
    for _ in range(3):
        net.zero_grad()
        y = compiled(x)
        y.sum().backward()
    got = net.weight.grad.numpy().copy()
    net.zero_grad()
    net(x).sum().backward()
    np.testing.assert_allclose(got, net.weight.grad.numpy(), rtol=1e-6)
    assert len(calls) == 4 and repr(y.grad_fn) != "<_CompiledForwardBackward>"
