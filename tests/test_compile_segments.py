"""ember.compile's C segments (ember/compiler/c_graph.py): runs of ops in one generated C function each, with NumPy's
own BLAS, planned buffers and the optimizers' updates; against eager steps, and their fallbacks."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn
from ember.compiler import blas, c_backend, c_graph, cache
from ember.compiler.c_graph import Segment, _place
from helpers import assert_compiles_strictly, classification_step

COMPILER = cache.find_compiler()
needs_c = pytest.mark.skipif(COMPILER is None or blas.find() is None, reason="no C compiler or no NumPy BLAS")


@pytest.fixture(autouse=True, scope="module")
def _cache_dir(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EMBER_CACHE_DIR", str(tmp_path_factory.mktemp("ember_cache")))
        yield


@pytest.fixture
def c_runs(monkeypatch):
    """How many times a segment's C function ran to the end (not its ops one by one)."""
    count = [0]
    forward, one_by_one = Segment.forward, Segment._one_by_one
    fell_back = []

    def counted(self, xp, *arrays):
        fell_back.clear()
        out = forward(self, xp, *arrays)
        count[0] += not fell_back
        return out

    def by_ops(self, xp, arrays):
        fell_back.append(True)
        return one_by_one(self, xp, arrays)

    monkeypatch.setattr(Segment, "forward", counted)
    monkeypatch.setattr(Segment, "_one_by_one", by_ops)
    return count


def _mlp(dtype=ember.float32):
    ember.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 5)).to(dtype)


def _data(dtype=ember.float32, n=8):
    rng = np.random.default_rng(3)
    return ember.tensor(rng.standard_normal((n, 12)), dtype=dtype), ember.tensor(rng.integers(0, 5, n))


def _train(make_opt, compiled, steps=6, dtype=ember.float32, data=None, between=None, model=None):
    model = _mlp(dtype) if model is None else model
    opt = make_opt(model.parameters())
    step = classification_step(model, opt)
    f = ember.compile(step, fullgraph=True) if compiled else step
    x, y = data or _data(dtype)
    losses = []
    for i in range(steps):
        losses.append(f(x, y).item())
        if between is not None:
            between(opt, i)
    return losses, [p.detach().numpy().copy() for p in model.parameters()], opt, f


OPTIMIZERS = {
    "sgd": lambda ps: ember.optim.SGD(ps, lr=0.1),
    "momentum": lambda ps: ember.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3, nesterov=True),
    "adam": lambda ps: ember.optim.Adam(ps, lr=0.01, weight_decay=0.01),
    "adamw": lambda ps: ember.optim.AdamW(ps, lr=0.01, betas=(0.8, 0.95)),
}


@needs_c
@pytest.mark.parametrize("dtype", [ember.float32, ember.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_a_whole_training_step_runs_as_one_c_function_and_equals_eager(name, dtype, c_runs):
    want_losses, want_params, want_opt, _ = _train(OPTIMIZERS[name], False, dtype=dtype)
    losses, params, opt, f = _train(OPTIMIZERS[name], True, dtype=dtype)
    graph = f.graph
    assert [op.name for op in graph.ops] == ["Segment"]  # forward, loss, backward and updates: one C call
    inner = [op.name for op in graph.walk()][1:]
    assert {"Linear", "LinearGrad", "CrossEntropy", "CrossEntropyGrad", "FusedKernel"} <= set(inner)
    assert inner.count("OptimizerUpdate") == 6
    assert c_runs[0] == 4  # the calls after the trace and the check (zero_grad: the same graph with a .grad)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-6)
    for a, b in zip(params, want_params):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    for p, q in zip(opt.param_groups[0]["params"], want_opt.param_groups[0]["params"]):
        state, want = opt.state[p], want_opt.state[q]
        assert set(state) == set(want) and state.get("step") == want.get("step")
        for k in state:
            if hasattr(state[k], "shape"):
                np.testing.assert_allclose(state[k], want[k], rtol=1e-5, atol=1e-7)


@needs_c
def test_a_segment_right_after_an_op_split_over_threads_runs_its_blas_on_one_thread(monkeypatch):
    """OpenBLAS's threads spin for a while after a multi-threaded call, beside the pool threads of the next op
    that splits (a convolution): within _QUIET_BLAS seconds of a split a segment sets the BLAS to one thread for
    its call (as eager ops do), and leaves it alone otherwise."""
    from ember.ops import _threads as threads
    quiet = []
    real = c_graph.one_blas_thread

    def recorded():
        quiet.append(True)
        return real()

    monkeypatch.setattr(c_graph, "one_blas_thread", recorded)
    losses, _, _, f = _train(OPTIMIZERS["sgd"], True, steps=3)
    assert [op.name for op in f.graph.ops] == ["Segment"] and not quiet
    monkeypatch.setitem(threads._state, "split_at", threads.time.perf_counter())
    x, y = _data()
    np.testing.assert_allclose(f(x, y).item(), _train(OPTIMIZERS["sgd"], False, steps=4)[0][-1], rtol=1e-6)
    assert len(quiet) == 1


@needs_c
def test_hyper_parameters_changed_between_steps_are_read_without_a_retrace(c_runs):
    def change(opt, i):
        group = opt.param_groups[0]
        group["lr"] *= 0.5
        if i == 3:
            group["momentum"] = 0.9  # from plain SGD to momentum: the C function takes the other branch
    make = lambda ps: ember.optim.SGD(ps, lr=0.2)  # noqa: E731
    want_losses, want_params, _, _ = _train(make, False, steps=7, between=change)
    losses, params, _, f = _train(make, True, steps=7, between=change)
    assert len(f.cache) == 1 and c_runs[0] == 5
    np.testing.assert_allclose(losses, want_losses, rtol=1e-6)
    for a, b in zip(params, want_params):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


@needs_c
def test_a_momentum_buffer_replaced_by_another_layout_is_read_as_eager(c_runs):
    """The segment checks a state array's layout again when the optimizer holds another object (it remembers the
    ones it checked): a Fortran-ordered momentum buffer runs the ops one by one, a C-ordered one C again."""
    def relayout(order):
        def change(opt, i):
            if i in (2, 4):
                for state in opt.state.values():
                    state["momentum_buffer"] = np.array(state["momentum_buffer"], order=order if i == 2 else "C")
        return change
    make = lambda ps: ember.optim.SGD(ps, lr=0.1, momentum=0.9)  # noqa: E731
    want_losses, want_params, _, _ = _train(make, False, steps=7, between=relayout("F"))
    losses, params, opt, _ = _train(make, True, steps=7, between=relayout("F"))
    assert c_runs[0] == 3  # steps 3 and 6, 7 in C (4 and 5 one by one)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-6)
    for a, b in zip(params, want_params):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


@needs_c
def test_a_target_out_of_range_raises_the_eager_error_and_leaves_the_optimizer_as_it_was(c_runs):
    x, y = _data()
    losses, _, opt, f = _train(OPTIMIZERS["adam"], True, data=(x, y), steps=4)
    params = [p.detach().numpy().copy() for p in opt.param_groups[0]["params"]]
    states = [{k: (v.copy() if hasattr(v, "copy") else v) for k, v in opt.state[p].items()}
              for p in opt.param_groups[0]["params"]]
    bad = ember.tensor(np.where(np.arange(8) == 5, 9, y.numpy()))
    with pytest.raises(IndexError, match="Target 9 is out of bounds"):
        f(x, bad)
    for p, before, state in zip(opt.param_groups[0]["params"], params, states):
        np.testing.assert_array_equal(p.detach().numpy(), before)
        assert opt.state[p]["step"] == state["step"] == 4
        np.testing.assert_array_equal(opt.state[p]["exp_avg"], state["exp_avg"])
    runs = c_runs[0]
    f(x, y)  # and the next good step runs C again
    assert c_runs[0] == runs + 1


@needs_c
def test_logits_that_are_not_finite_give_eager_nans(c_runs):
    make = lambda ps: ember.optim.SGD(ps, lr=0.1, momentum=0.9)  # noqa: E731
    x, y = _data()
    x_bad = x.clone()
    x_bad[2, 0] = float("inf")
    results = []
    for compiled in (False, True):
        _, _, opt, f = _train(make, compiled, data=(x, y), steps=3)
        loss = f(x_bad, y).item()
        results.append((loss, [p.detach().numpy().copy() for p in opt.param_groups[0]["params"]]))
    (want, want_params), (got, got_params) = results
    assert np.isnan(want) and np.isnan(got)
    for a, b in zip(got_params, want_params):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))


@needs_c
def test_inputs_of_any_layout_are_read_as_eager(c_runs):
    model = _mlp()
    f = ember.compile(lambda x: F.relu(model(x)).sum(-1) * 2)
    base = ember.randn(12, 8)
    with ember.no_grad():
        for _ in range(3):
            got = f(base.t())  # a transposed view
        want = F.relu(model(base.t())).sum(-1) * 2
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


def test_place_shares_bytes_between_values_whose_lives_do_not_overlap():
    offsets, top = _place([("a", 100, 0, 1), ("b", 100, 2, 3), ("c", 50, 1, 2), ("d", 10, 0, 3)])
    assert offsets["a"] == offsets["b"]  # a dies before b is made
    spans = {"a": (0, 1), "b": (2, 3), "c": (1, 2), "d": (0, 3)}
    sizes = {"a": 128, "b": 128, "c": 64, "d": 64}
    for k in spans:
        for j in spans:
            live = spans[k][0] <= spans[j][1] and spans[j][0] <= spans[k][1]
            if k < j and live:  # values alive at once never overlap in the arena
                assert offsets[k] + sizes[k] <= offsets[j] or offsets[j] + sizes[j] <= offsets[k]
    assert all(o % 64 == 0 for o in offsets.values()) and top == 128 + 64 + 64


@needs_c
def test_the_arena_of_an_mlp_step_reuses_memory(c_runs):
    _, _, _, f = _train(OPTIMIZERS["sgd"], True, steps=3)
    seg = f.graph.ops[0].node
    inside = [o for op in seg.graph_ops for o in op.outputs if o is not None]
    total = sum(int(np.prod(o.shape)) * o.dtype.itemsize for o in inside)
    assert 0 < seg._arena_bytes < total / 2


@needs_c
def test_without_numpy_blas_the_graph_runs_its_ops_one_by_one(monkeypatch):
    monkeypatch.setattr(blas, "_found", [None])
    want_losses, _, _, _ = _train(OPTIMIZERS["sgd"], False)
    losses, _, _, f = _train(OPTIMIZERS["sgd"], True)
    assert "Segment" not in str(f.graph) and "FusedKernel" in str(f.graph)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-6)


@needs_c
def test_the_graph_prints_the_ops_of_a_segment_under_it():
    _, _, _, f = _train(OPTIMIZERS["sgd"], True, steps=3)
    text = str(f.graph)
    assert "= Segment(" in text and "        | " in text and "| %" in text
    assert text.count("OptimizerUpdate(") == 6


@needs_c
def test_segment_source_compiles_with_all_warnings_as_errors(tmp_path, monkeypatch):
    sources = []
    load = cache.load

    def keep(source, compiler, *args):
        if "em_set_blas" in source:
            sources.append(source)
        return load(source, compiler, *args)

    monkeypatch.setattr(cache, "load", keep)
    for name in OPTIMIZERS:
        _train(OPTIMIZERS[name], True, steps=3, dtype=ember.float64 if name == "adam" else ember.float32)
    sources = sorted(set(sources))
    assert len(sources) == 3  # SGD with and without momentum: the same C (a branch on the momentum)
    assert_compiles_strictly(sources, tmp_path)


def test_tuple_and_array_offsets_are_found():
    assert c_graph.tuple_offset() is not None and c_backend.data_offset() is not None


# --- segments that own the threads (c_graph.owns_threads) --------------------------------------------------------

def _wide_mlp():
    ember.manual_seed(1)
    return nn.Sequential(nn.Linear(96, 80), nn.ReLU(), nn.Linear(80, 40), nn.ReLU(), nn.Linear(40, 10))


def _wide_on(threads, make_opt, compiled, data, steps):
    """_train of a new _wide_mlp on ``threads`` threads: (losses, parameters, optimizer, step, model)."""
    before = ember.get_num_threads()
    ember.set_num_threads(threads)
    try:
        model = _wide_mlp()
        return (*_train(make_opt, compiled, steps, data=data, model=model), model)
    finally:
        ember.set_num_threads(before)


def _wide_steps(compiled, threads, steps=5, batch=160):
    """Losses and parameters of SGD-with-momentum steps of _wide_mlp on ``threads`` threads: its GEMMs (up to 1.2M
    multiply-adds) split when compiled, by the rows of the product where it has more rows than columns, else by its
    columns (each transposed operand or not: a batch below the features makes the forward's products wide)."""
    rng = np.random.default_rng(5)
    data = ember.tensor(rng.standard_normal((batch, 96)), dtype=ember.float32), ember.tensor(rng.integers(0, 10, batch))
    losses, params, _, f, _ = _wide_on(threads, lambda ps: ember.optim.SGD(ps, lr=0.05, momentum=0.9), compiled,
                                       data, steps)
    return losses, params, f


@needs_c
@pytest.mark.parametrize("threads, batch", [(1, 160), (2, 160), (2, 48)])
def test_segments_that_own_the_threads_split_their_gemms_and_equal_eager(threads, batch, monkeypatch, c_runs):
    monkeypatch.setattr(c_graph, "GEMM_SPLIT_MIN", 1 << 12)  # every GEMM of the step splits (rows or columns)
    monkeypatch.setattr(c_graph, "SPLIT_MIN", 1 << 8)
    want_losses, want_params, _ = _wide_steps(False, threads, batch=batch)
    losses, params, f = _wide_steps(True, threads, batch=batch)
    segments = [op.node for op in f.graph.ops if op.name == "Segment"]
    assert len(segments) == 1 and segments[0].own_threads and c_runs[0] == 3  # (after the trace and the check)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-5)
    for a, b in zip(params, want_params):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def _fused_counted(monkeypatch, fused):
    """Record how many updates each segment runs in its weight gradients' products (c_graph._fusable_updates)."""
    fusable = c_graph._fusable_updates
    monkeypatch.setattr(c_graph, "_fusable_updates", lambda ops, plan: fused.append(len(fusable(ops, plan)))
                        or fusable(ops, plan))


SGD_VARIANTS = {"plain": {}, "momentum": dict(momentum=0.9, dampening=0.2, weight_decay=1e-3),
                "nesterov": dict(momentum=0.8, nesterov=True, maximize=True)}


@needs_c
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("variant", list(SGD_VARIANTS))
def test_sgd_updates_the_weights_as_their_gradients_products_make_them(variant, threads, monkeypatch):
    """Each Linear's weight is updated on the rows of its gradient as the product leaves them (c_gemm.AFTER; two
    threads: the products split by rows): to the bits of the update run after the product, momentum buffers
    and gradients too, and as eager within float32's rounding."""
    monkeypatch.setattr(c_graph, "GEMM_SPLIT_MIN", 1 << 12)
    rng = np.random.default_rng(5)
    data = ember.tensor(rng.standard_normal((48, 96)), dtype=ember.float32), ember.tensor(rng.integers(0, 10, 48))
    make = lambda ps: ember.optim.SGD(ps, lr=0.05, **SGD_VARIANTS[variant])  # noqa: E731

    def run(compiled):
        losses, params, opt, _, model = _wide_on(threads, make, compiled, data, 4)
        buffers = [opt.state[p].get("momentum_buffer") for p in model.parameters()]
        return losses, params, [p.grad.numpy().copy() for p in model.parameters()], buffers

    fused = []
    _fused_counted(monkeypatch, fused)
    got = run(True)
    assert sum(fused) == 3  # the three weights (a bias's gradient is not a product)
    monkeypatch.setattr(c_graph, "_fusable_updates", lambda ops, plan: {})
    apart = run(True)
    for a, b in zip(got[1] + got[2], apart[1] + apart[2]):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(got[3], apart[3]):
        assert (a is None) == (b is None) and (a is None or np.array_equal(a, b))
    want = run(False)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5)
    for a, b in zip(got[1], want[1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@needs_c
@pytest.mark.parametrize("threads", [1, 2])
def test_a_linear_and_its_relu_are_one_product_with_the_bits_of_two_ops(threads, monkeypatch):
    """The bias and the relu of a Linear followed by a ReLU in the GEMM's stores, and the ReLU's gradient in the
    stores of the input gradient's product (_relu_epilogues): the losses, gradients and parameters of training
    steps bit for bit as with the kernels after the products, and as eager within float32's rounding."""
    monkeypatch.setattr(c_graph, "GEMM_SPLIT_MIN", 1 << 12)
    rng = np.random.default_rng(6)
    data = ember.tensor(rng.standard_normal((40, 96)), dtype=ember.float32), ember.tensor(rng.integers(0, 10, 40))
    make = lambda ps: ember.optim.SGD(ps, lr=0.05, momentum=0.9)  # noqa: E731

    def run(compiled):
        losses, params, _, _, model = _wide_on(threads, make, compiled, data, 3)
        return losses, params + [p.grad.numpy().copy() for p in model.parameters()]

    epilogues = c_graph._relu_epilogues
    found = []
    monkeypatch.setattr(c_graph, "_relu_epilogues", lambda ops, after: found.append(epilogues(ops, after)) or found[-1])
    got = run(True)
    # the two hidden layers' (the last Linear keeps its bias) and their input gradients'
    assert [sorted(kernel.node.ops for kernel, _ in f.values()) for f in found] == \
        [["Add,Relu", "Add,Relu", "ReluGrad", "ReluGrad"]]
    monkeypatch.setattr(c_graph, "_relu_epilogues", lambda ops, after: {})
    apart = run(True)
    assert got[0] == apart[0]
    for a, b in zip(got[1], apart[1]):
        np.testing.assert_array_equal(a, b)
    want = run(False)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5)


@needs_c
def test_a_relu_made_by_its_products_stores_keeps_its_bytes_until_its_own_op(monkeypatch):
    """relu(l1(x)) taken after other products and kernels: the product's stores make its value early, so no value
    living between them may share its bytes (_Plan's made_at)."""
    ember.manual_seed(2)
    l1, l2, l3, l4 = nn.Linear(24, 32), nn.Linear(24, 32), nn.Linear(32, 32), nn.Linear(32, 32)

    def f(x, x2):
        y = l1(x)
        t = F.relu(l2(x2))
        z = l3(t)
        return l4(F.relu(y)) + z
    epilogues = c_graph._relu_epilogues
    found = []
    monkeypatch.setattr(c_graph, "_relu_epilogues", lambda ops, after: found.append(
        [(i, [j for j, o in enumerate(ops) if o is k]) for i, o in enumerate(ops) for k, _ in
         [epilogues(ops, after).get(id(o), (None, None))] if k is not None]) or epilogues(ops, after))
    rng = np.random.default_rng(9)
    x, x2 = (ember.tensor(rng.standard_normal((16, 24)), dtype=ember.float32) for _ in range(2))
    compiled = ember.compile(f, fullgraph=True)
    with ember.no_grad():
        want = f(x, x2).numpy()
        for _ in range(3):
            got = compiled(x, x2).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert any(at[0] - i > 1 for run in found for i, at in run)  # a product and its relu kernel apart


@needs_c
def test_a_weight_read_between_its_gradient_and_its_update_is_read_as_it_was(monkeypatch):
    """A value of the first weight taken after backward, before step: that update stays after the read."""
    fused = []
    _fused_counted(monkeypatch, fused)

    def run(compiled):
        model = _mlp()
        opt = ember.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
        x, y = _data()

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            scaled = model[0].weight * 3
            opt.step()
            return loss, scaled
        f = ember.compile(step, fullgraph=True) if compiled else step
        return [v.detach().numpy().copy() for _ in range(3) for v in f(x, y)]

    for got, want in zip(run(True), run(False)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    assert fused == [2]  # one segment: the other two weights


@needs_c
@pytest.mark.parametrize("optimizer", ["momentum", "adamw"])
def test_an_optimizer_step_segment_runs_each_thread_on_a_slice_of_every_update(optimizer, monkeypatch):
    """A layer norm first: its gradient (no segment op) ends the backward's segments, so the updates (and the
    gradients' copies) make a segment of their own, sliced over the threads (_Render.sliced)."""
    monkeypatch.setattr(c_graph, "GEMM_SPLIT_MIN", 1 << 12)
    monkeypatch.setattr(c_graph, "SPLIT_MIN", 1 << 8)
    sliced = []
    function = c_graph._Render.function

    def recorded(self, name):
        sliced.append(self.sliced and all(op.name in ("Clone", "OptimizerUpdate") for op in self.ops))
        return function(self, name)

    monkeypatch.setattr(c_graph._Render, "function", recorded)
    rng = np.random.default_rng(3)
    data = ember.tensor(rng.standard_normal((64, 96)), dtype=ember.float32), ember.tensor(rng.integers(0, 10, 64))

    def run(compiled):
        ember.manual_seed(2)
        model = nn.Sequential(nn.LayerNorm(96), nn.Linear(96, 80), nn.ReLU(), nn.Linear(80, 10))
        losses, params, _, _ = _train(OPTIMIZERS[optimizer], compiled, 5, data=data, model=model)
        return losses, params

    before = ember.get_num_threads()
    ember.set_num_threads(2)
    try:
        want_losses, want_params = run(False)
        losses, params = run(True)
    finally:
        ember.set_num_threads(before)
    assert any(sliced)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-5)
    for a, b in zip(params, want_params):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


class _LSTMClassifier(nn.Module):
    def __init__(self, features, hidden, **kwargs):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, batch_first=True, **kwargs)
        self.head = nn.Linear(kwargs.get("proj_size") or hidden, 10)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return self.head(h[-1])


@needs_c
@pytest.mark.parametrize("hidden, lstm, owns", [(64, {}, True), (4, {}, False), (64, dict(proj_size=16), False)],
                         ids=["c_layer", "too_small", "projections"])
def test_a_step_whose_lstm_layers_run_on_the_openmp_team_owns_the_threads(hidden, lstm, owns, monkeypatch):
    """An LSTM layer that runs whole in C, on the OpenMP team (c_rnn.team_work: enough work, no projections),
    counts as a segment's GEMMs do: the step owns the threads and its Adam update runs sliced over them; a small
    layer or one with projections (NumPy's loop, the BLAS's threads) does not. Each equals eager."""
    sliced = []
    function = c_graph._Render.function

    def recorded(self, name):
        sliced.append(self.sliced)
        return function(self, name)

    monkeypatch.setattr(c_graph._Render, "function", recorded)
    monkeypatch.setattr(c_graph, "SPLIT_MIN", 1 << 8)  # the small update splits where the threads are owned
    rng = np.random.default_rng(6)
    data = (ember.tensor(rng.standard_normal((32, 40, 12)), dtype=ember.float32),
            ember.tensor(rng.integers(0, 10, 32)))

    def run(compiled):
        ember.manual_seed(3)
        return _train(OPTIMIZERS["adamw"], compiled, 4, data=data, model=_LSTMClassifier(12, hidden, **lstm))

    before = ember.get_num_threads()
    ember.set_num_threads(2)
    try:
        want_losses, want_params, _, _ = run(False)
        losses, params, _, f = run(True)
    finally:
        ember.set_num_threads(before)
    names = [op.name for op in f.graph.ops]
    assert "CLSTMLayer" in names and "CLSTMLayerGrad" in names
    segments = [op.node for op in f.graph.ops if op.name == "Segment"]
    assert segments and all(s.own_threads == owns for s in segments), names
    assert any(sliced) == owns
    np.testing.assert_allclose(losses, want_losses, rtol=1e-5)
    for a, b in zip(params, want_params):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@needs_c
def test_a_gradient_made_outside_a_segment_becomes_its_grad_without_a_copy():
    """The copies of gradients into .grad whose values ops outside the segment made stay out of it: the
    interpreter hands those arrays over (a segment would copy them)."""
    rng = np.random.default_rng(4)
    data = ember.tensor(rng.standard_normal((16, 24)), dtype=ember.float32), ember.tensor(rng.integers(0, 10, 16))

    def run(compiled):
        ember.manual_seed(2)
        model = nn.Sequential(nn.LayerNorm(24), nn.Linear(24, 32), nn.ReLU(), nn.Linear(32, 10))
        return _train(OPTIMIZERS["adamw"], compiled, 4, data=data, model=model)

    want_losses, want_params, _, _ = run(False)
    losses, params, opt, f = run(True)
    segments = [op for op in f.graph.ops if op.name == "Segment"]
    inside = [{id(o) for op in s.node.graph_ops for o in op.outputs} for s in segments]
    copies_in = [op for s, made in zip(segments, inside) for op in s.node.graph_ops
                 if op.name == "Clone" and id(op.args[0]) not in made]
    assert segments and not copies_in
    clones = [op for op in f.graph.ops if op.name == "Clone"]
    assert len(clones) >= 4  # the layer norm's and the linears' parameter gradients, copied or handed over
    np.testing.assert_allclose(losses, want_losses, rtol=1e-5)
    for a, b in zip(params, want_params):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    grads = [p.grad.numpy() for p in opt.param_groups[0]["params"]]
    assert len({id(g) for g in grads}) == len(grads) and all(g.base is None or g.base is not h.base
                                                            for g in grads for h in grads if g is not h)


@needs_c
def test_which_graphs_own_the_threads():
    """A step whose GEMMs are all in segments owns them; one with a GEMM too small to split, or with an op
    running NumPy's BLAS outside segments (a convolution), does not."""
    from ember.compiler.capture import trace
    from ember.compiler.passes import optimize
    from ember.compiler.passes.fuse import fuse_elementwise

    def graph_of(fn, *args):
        return fuse_elementwise(optimize(trace(fn, args, {})[0]))

    big = nn.Linear(256, 256)
    small = nn.Linear(8, 8)
    conv = nn.Conv2d(3, 4, 3)
    x = ember.randn(64, 256)
    assert c_graph.owns_threads(graph_of(lambda x: big(x).relu(), x))
    assert not c_graph.owns_threads(graph_of(lambda x: small(x).relu(), ember.randn(4, 8)))
    assert not c_graph.owns_threads(graph_of(lambda x, im: big(x).relu().sum() + conv(im).sum(), x,
                                             ember.randn(2, 3, 8, 8)))


@needs_c
def test_a_program_whose_segments_own_the_threads_runs_with_the_blas_on_one_thread(monkeypatch):
    from ember.ops import _threads as threads
    held = []
    forward = Segment.forward

    def recorded(self, xp, *arrays):
        held.append(threads.blas_held())
        return forward(self, xp, *arrays)

    monkeypatch.setattr(Segment, "forward", recorded)
    _, _, f = _wide_steps(True, 2)
    assert held and all(held)


@needs_c
def test_without_control_of_the_blas_threads_segments_do_not_own_them(monkeypatch):
    from ember.ops import _threads as threads
    monkeypatch.setattr(threads, "_blas", lambda: False)  # a BLAS whose threads ember cannot set
    _, _, f = _wide_steps(True, 2)
    assert not any(op.node.own_threads for op in f.graph.ops if op.name == "Segment")
