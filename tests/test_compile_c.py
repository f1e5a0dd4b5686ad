"""ember.compile's C backend: the ops' C rules against their NumPy forwards, the fusion pass on hand-built graphs,
the generated C under -Wall -Werror, the on-disk cache across processes, the fallback without a compiler, and
whole training steps against eager."""
import contextlib
import functools
import os
import platform
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import zoo
from ember.autograd.graph import apply
from ember.compiler import c_backend, c_gemm, c_graph, c_optim, cache
from ember.compiler.capture import trace
from ember.compiler.ir import Graph, Op, Value
from ember.compiler.kernel import FusedKernel, layout
from ember.compiler.lower import FLOAT32_ONLY
from ember.compiler.passes import optimize
from ember.compiler.passes.fuse import fuse_elementwise
from ember.compiler.render_c import render_module
from ember.compiler.rules import literal
from ember.ops import _threads
from ember.ops.activation import GeluGrad
from ember.ops.arith import Add, Mul
from ember.ops.unary import Exp, ReluGrad, SigmoidGrad, Tanh, TanhGrad
from helpers import assert_compiles_strictly, classification_step

COMPILER = cache.find_compiler()
needs_cc = pytest.mark.skipif(COMPILER is None, reason="no C compiler")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True, scope="module")
def _cache_dir(tmp_path_factory):
    """One fresh kernel cache for this file (a test that needs an empty one makes its own)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EMBER_CACHE_DIR", str(tmp_path_factory.mktemp("ember_cache")))
        yield


def _fused(compiled):
    return [op for op in compiled.graph.walk() if isinstance(op.node, FusedKernel)]


@pytest.fixture
def launches(monkeypatch):
    """How many times a compiled C kernel ran, on its own or in a C segment (the first calls of a compiled
    function trace and run eagerly)."""
    count, one_by_one = [0], []
    run, segment, by_ops = c_backend._Launcher.__call__, c_graph.Segment.forward, c_graph.Segment._one_by_one

    def counted(self, arrays, into=None):
        count[0] += 1
        return run(self, arrays, into)

    def counted_segment(self, xp, *arrays):
        one_by_one.clear()
        out = segment(self, xp, *arrays)
        if not one_by_one:  # the C function ran (else its kernels were counted one by one)
            count[0] += sum(isinstance(op.node, FusedKernel) for op in self.graph_ops)
        return out

    def counted_by_ops(self, xp, arrays):
        one_by_one.append(True)
        return by_ops(self, xp, arrays)

    monkeypatch.setattr(c_backend._Launcher, "__call__", counted)
    monkeypatch.setattr(c_graph.Segment, "forward", counted_segment)
    monkeypatch.setattr(c_graph.Segment, "_one_by_one", counted_by_ops)
    return count


@pytest.fixture
def single(monkeypatch):
    """Kernels also for lone ops that NumPy runs as fast (exp, tanh, casts), so that every rule is tested."""
    monkeypatch.setattr(c_backend, "fuse_elementwise", functools.partial(fuse_elementwise, single=True))


def _graph_result(compiled, *args):
    """compiled(*args) once its graph runs: the first call traces, the second traces again to check."""
    for _ in range(3):
        out = compiled(*args)
    return out


# --- each rule against NumPy ------------------------------------------------------------------------------------

# name -> (function of (x, p, u, g, b, c), transcendental); x any, p > 0, u in (0, 1), g any, b broadcast, c bool
RULES = {
    "add": (lambda x, p, u, g, b, c: x + b, False), "sub": (lambda x, p, u, g, b, c: x - b, False),
    "rsub": (lambda x, p, u, g, b, c: 3 - x, False), "mul": (lambda x, p, u, g, b, c: x * b, False),
    "div": (lambda x, p, u, g, b, c: x / (b * b + 1), False), "rdiv": (lambda x, p, u, g, b, c: 2 / p, False),
    "neg": (lambda x, p, u, g, b, c: -x, False), "abs": (lambda x, p, u, g, b, c: x.abs(), False),
    "square": (lambda x, p, u, g, b, c: x.square(), False),
    "reciprocal": (lambda x, p, u, g, b, c: p.reciprocal(), False),
    "sqrt": (lambda x, p, u, g, b, c: p.sqrt(), False), "rsqrt": (lambda x, p, u, g, b, c: p.rsqrt(), False),
    "exp": (lambda x, p, u, g, b, c: x.exp(), True), "log": (lambda x, p, u, g, b, c: p.log(), True),
    "log1p": (lambda x, p, u, g, b, c: p.log1p(), True), "expm1": (lambda x, p, u, g, b, c: x.expm1(), True),
    "tanh": (lambda x, p, u, g, b, c: x.tanh(), True), "sigmoid": (lambda x, p, u, g, b, c: x.sigmoid(), True),
    "relu": (lambda x, p, u, g, b, c: x.relu(), False),
    "relu_grad": (lambda x, p, u, g, b, c: apply(ReluGrad(), x, g), False),
    "sigmoid_grad": (lambda x, p, u, g, b, c: apply(SigmoidGrad(), u, g), False),
    "tanh_grad": (lambda x, p, u, g, b, c: apply(TanhGrad(), u, g), False),
    "leaky_relu": (lambda x, p, u, g, b, c: F.leaky_relu(x, 0.2), False),
    "gelu": (lambda x, p, u, g, b, c: F.gelu(x), True),
    "gelu_tanh": (lambda x, p, u, g, b, c: F.gelu(x, approximate="tanh"), True),
    "gelu_grad": (lambda x, p, u, g, b, c: apply(GeluGrad("none"), x, g), True),
    "gelu_tanh_grad": (lambda x, p, u, g, b, c: apply(GeluGrad("tanh"), x, g), True),
    "silu": (lambda x, p, u, g, b, c: F.silu(x), True),
    "maximum": (lambda x, p, u, g, b, c: ember.maximum(x, b), False),
    "minimum": (lambda x, p, u, g, b, c: ember.minimum(x, b), False),
    "where": (lambda x, p, u, g, b, c: ember.where(c, x, b), False),
    "where_number": (lambda x, p, u, g, b, c: ember.where(c, x, 0.5), False),
    "clamp": (lambda x, p, u, g, b, c: x.clamp(-0.5, 0.7), False),
    "clamp_min": (lambda x, p, u, g, b, c: x.clamp(min=0.1), False),
    "pow2": (lambda x, p, u, g, b, c: x ** 2, False), "pow3": (lambda x, p, u, g, b, c: x ** 3, False),
    "pow4": (lambda x, p, u, g, b, c: x ** 4, False), "pow_m1": (lambda x, p, u, g, b, c: p ** -1, False),
    "pow_m2": (lambda x, p, u, g, b, c: p ** -2, False), "pow_m3": (lambda x, p, u, g, b, c: p ** -3, False),
    "pow_half": (lambda x, p, u, g, b, c: p ** 0.5, False),
    "pow_m_half": (lambda x, p, u, g, b, c: p ** -0.5, False),
    "gt": (lambda x, p, u, g, b, c: x > b, False), "ge_number": (lambda x, p, u, g, b, c: x >= 0.25, False),
    "lt": (lambda x, p, u, g, b, c: x < b, False), "le": (lambda x, p, u, g, b, c: x <= b, False),
    "eq": (lambda x, p, u, g, b, c: x == x.relu(), False), "ne": (lambda x, p, u, g, b, c: x != b, False),
    "logical_not": (lambda x, p, u, g, b, c: ember.logical_not(c), False),
    "logical_and": (lambda x, p, u, g, b, c: ember.logical_and(c, x > 0), False),
    "logical_or": (lambda x, p, u, g, b, c: ember.logical_or(c, x > 0), False),
    "isnan": (lambda x, p, u, g, b, c: (x / x.relu()).isnan(), False),
    "isfinite": (lambda x, p, u, g, b, c: (1 / x.relu()).isfinite(), False),
    "cast_other_float": (lambda x, p, u, g, b, c: x.double() if x.dtype == ember.float32 else x.float(), False),
    "cast_bool": (lambda x, p, u, g, b, c: x.relu().bool(), False),
    "cast_from_bool": (lambda x, p, u, g, b, c: c.to(x.dtype), False),
}


B_SHAPES = [(4, 5, 6), (5, 1), (6,), ()]  # the second operand: the same shape, rows, the inner dimension, one value


def _rule_inputs(dtype):
    """x, p, u, g, c and a b of each of B_SHAPES."""
    rng = np.random.default_rng(1)
    shape = (4, 5, 6)
    make = lambda a: ember.tensor(a.astype(dtype))  # noqa: E731
    x, g = make(rng.normal(0, 2, shape)), make(rng.normal(0, 1, shape))
    x._data.reshape(-1)[:4] = [0.0, -0.0, 3.0, -3.0]
    bs = [make(rng.normal(0, 1, s)) for s in B_SHAPES]
    return (x, make(rng.uniform(0.1, 4, shape)), make(rng.uniform(0.01, 0.99, shape)), g,
            ember.tensor(rng.random(shape) > 0.5), *bs)


def _every_rule(x, p, u, g, c, *bs):
    """Each rule with each b (the ops that do not read b are merged by CSE)."""
    return {(name, i): fn(x, p, u, g, b, c) for i, b in enumerate(bs) for name, (fn, _) in RULES.items()}


@needs_cc
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_rule_equals_its_numpy_forward(dtype, launches, single):
    inputs = _rule_inputs(dtype)
    compiled = ember.compile(_every_rule, backend="c")
    with ember.no_grad():
        want = _every_rule(*inputs)
        got = _graph_result(compiled, *inputs)
    fused = {op.node.ops for op in _fused(compiled)}
    assert launches[0] == len(_fused(compiled)) > 50
    for (name, i), w in want.items():
        w, r, msg = w.numpy(), got[name, i].numpy(), f"{name} with b of shape {B_SHAPES[i]}"
        assert r.dtype == w.dtype and r.shape == w.shape, msg
        if RULES[name][1]:  # transcendental
            np.testing.assert_allclose(r, w, rtol=1e-5, atol=1e-6, err_msg=msg)
        else:
            np.testing.assert_allclose(r, w, rtol=1e-6, atol=0, err_msg=msg)
    for op in ("Add", "Sub", "Exp", "Log", "Gelu", "GeluGrad", "Pow", "Where", "Gt", "ToCopy", "LogicalAnd"):
        assert any(op in ops.split(",") for ops in fused), op


@needs_cc
def test_special_values_behave_as_numpy(launches, single):
    x = ember.tensor([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1e-40, 88.8, -104.0, 3e38, -3e38])

    def f(x):
        return (x.relu(), ember.maximum(x, 0.5), ember.minimum(x, 0.5), x.exp(), x.abs().log(), x.tanh(),
                x.sigmoid(), x.clamp(-1, 1), x.sqrt(), x.isnan(), x.isfinite(), x.double(), F.silu(x))

    compiled = ember.compile(f, backend="c")
    with ember.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = f(x)
        got = _graph_result(compiled, x)
    assert launches[0] == len(_fused(compiled)) > 0
    for i, (w, r) in enumerate(zip(want, got)):
        np.testing.assert_allclose(r.numpy(), w.numpy(), rtol=1e-5, atol=0, equal_nan=True, err_msg=str(i))


@needs_cc
@pytest.mark.parametrize("fn, shapes", [
    (lambda x, b: (x.t() * 2 + b).relu(), [(5, 4), (5,)]),  # a transposed input (copied: kernels read C order)
    (lambda x, b: (b.expand(3, 4, 5) * x).sigmoid(), [(3, 4, 5), (4, 1)]),  # an expanded view
    (lambda x, b: (x[:, ::2] - b).relu(), [(6, 8), (6, 1)]),  # a strided slice
    (lambda x, b: (x * b).relu() + 1, [(0, 3), (3,)]),  # no elements
    (lambda x, b: (x * b).relu() + 1, [(), ()]),  # 0-d
], ids=["transposed", "expanded", "sliced", "empty", "0-d"])
def test_inputs_of_any_layout(fn, shapes, launches):
    args = [ember.randn(*s) for s in shapes]
    compiled = ember.compile(fn, backend="c")
    with ember.no_grad():
        got, want = _graph_result(compiled, *args), fn(*args)
    assert launches[0] == 1
    assert got.shape == want.shape
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


def test_literals_are_exact_in_their_dtype():
    assert literal(0.1, np.float32) == "0x1.99999a0000000p-4f"
    assert literal(0.1, np.float64) == "0x1.999999999999ap-4"
    assert literal(-2, np.float32) == "(-0x1.0000000000000p+1f)"
    assert literal(float("inf"), np.float32) == "INFINITY" and literal(1e300, np.float32) == "INFINITY"
    assert literal(float("nan"), np.float64) == "((double)NAN)" and literal(True, np.bool_) == "1"


# --- fusion ---------------------------------------------------------------------------------------------------

def test_layout_merges_dimensions_that_broadcast_alike():
    assert layout((8, 3, 4), [(8, 3, 4), (3, 4)]) == ((8, 12), [(True, True), (False, True)])
    assert layout((8, 3, 4), [(8, 3, 4), (8, 3, 4)]) == ((96,), [(True,), (True,)])
    assert layout((2, 1, 5), [(2, 1, 5), (2, 1, 1), ()]) == ((2, 5), [(True, True), (True, False), (False, False)])
    assert layout((), [(), ()]) == ((), [(), ()])


def _op(node, args, shape=(4,), dtype=np.float32):
    op = Op(node, args, [])
    op.outputs.append(Value(shape, dtype, "op", op=op))
    return op, op.outputs[0]


class _Effect(Mul):
    """A Mul that claims effects (as an optimizer's update)."""

    def has_effects(self):
        return True


def test_fusion_keeps_values_read_outside_and_respects_effects():
    x = Value((4,), np.float32, "input", index=0)
    e, ve = _op(Exp(), [x])
    t, vt = _op(Tanh(), [ve])
    a, va = _op(Add(), [vt, 1.0])
    graph = Graph([x], [e, t, a], [va, ve])  # exp's value is also an output: the kernel stores it
    fused = fuse_elementwise(graph)
    assert [op.name for op in fused.ops] == ["FusedKernel"]
    assert fused.ops[0].node.ops == "Exp,Tanh,Add" and fused.ops[0].outputs == [ve, va]
    assert [op.name for op in graph.ops] == ["Exp", "Tanh", "Add"]  # the given graph is left as it was

    fx, vfx = _op(_Effect(), [x, 2.0])  # an op with effects between two ops of a chain: no fusion across it
    e, ve = _op(Exp(), [x])
    a, va = _op(Add(), [ve, vfx])
    m, vm = _op(Mul(), [va, 3.0])
    graph = Graph([x], [e, fx, a, m], [vm])
    assert [op.name for op in fuse_elementwise(graph, single=True).ops] == ["FusedKernel", "_Effect", "FusedKernel"]
    assert [op.name for op in fuse_elementwise(graph).ops] == ["Exp", "_Effect", "FusedKernel"]  # exp alone: NumPy


def test_fusion_does_not_move_a_value_past_its_reader():
    x = Value((4,), np.float32, "input", index=0)
    w = Value((4, 4), np.float32, "input", index=1)
    e, ve = _op(Exp(), [x])
    from ember.ops.linalg import Matmul
    mm, vmm = _op(Matmul(), [ve, w])  # reads exp's value between exp and the mul that reads it too
    m, vm = _op(Mul(), [ve, vmm])
    graph = Graph([x, w], [e, mm, m], [vm])
    assert [op.node.ops if op.name == "FusedKernel" else op.name
            for op in fuse_elementwise(graph).ops] == ["Exp", "Matmul", "Mul"]


def test_fusion_of_a_traced_step_keeps_random_ops_and_updates():
    model = zoo.mlp(in_features=16, hidden=(32,), dropout=0.3)
    opt = ember.optim.SGD(model.parameters(), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(F.gelu(model(x)), y)
        loss.backward()
        opt.step()
        return loss

    graph, _ = trace(step, (ember.randn(4, 16), ember.tensor([0, 1, 2, 3])), {})
    graph = optimize(graph)
    fused = fuse_elementwise(graph)
    names, before = [op.name for op in fused.ops], [op.name for op in graph.ops]
    for kept in ("Dropout", "OptimizerUpdate", "Linear", "LinearGrad"):
        assert names.count(kept) == before.count(kept) > 0
    kernels = ",".join(op.node.ops for op in fused.ops if op.name == "FusedKernel")
    assert "Gelu" in kernels and "GeluGrad" in kernels and "ReluGrad" in kernels
    assert fused.grads == graph.grads and fused.outputs == graph.outputs


# --- the generated C --------------------------------------------------------------------------------------------

@needs_cc
def test_generated_c_compiles_with_all_warnings_as_errors(tmp_path):
    inputs = _rule_inputs(np.float32)
    graph, _ = trace(_every_rule, inputs[:5] + inputs[6:7], {})  # b of shape (5, 1)
    strided, _ = trace(lambda x, b: (x * b).exp() + b.sigmoid() * 2, (ember.randn(3, 4, 5), ember.randn(4, 1)), {})
    kernels = [op.node.kernel for g in (graph, strided) for op in fuse_elementwise(optimize(g), single=True).ops
               if isinstance(op.node, FusedKernel)]
    source, names = render_module(kernels, c_backend.data_offset())
    assert len(set(names)) > 40  # a function per rule at least
    runtime = c_backend.runtime_source(c_backend.data_offset())
    assert_compiles_strictly((source, runtime, FLOAT32_ONLY + runtime), tmp_path)


@needs_cc
def test_float32_graphs_build_the_hand_written_libraries_without_their_float64_functions(monkeypatch):
    """A graph with no float64 value builds c_pool's, c_conv's, ... libraries for float32 only (a quarter of
    their compiler time); a float64 graph of the same step, in the same process, builds them whole."""
    from ember.compiler import c_conv, c_pool
    loaded = []
    load = cache.load
    monkeypatch.setattr(cache, "load", lambda source, *a: loaded.append(source) or load(source, *a))
    for dtype in (ember.float32, ember.float64):
        def make():
            model = zoo.lenet5().to(dtype)
            return model, ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

        batch = (ember.randn(4, 1, 28, 28).to(dtype), ember.randint(0, 10, (4,)))
        eager_losses, eager_params, _ = _train(make, batch, None)
        loaded.clear()
        with monkeypatch.context() as m:
            _numpy_traces(m)  # (the libraries traces load: test_a_warm_start_traces_its_convolutions_on_the_cached_c)
            losses, params, _ = _train(make, batch, "c")
        np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)
        for a, b in zip(params, eager_params):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        libraries = [s for s in loaded if s.endswith((c_pool.BODY, c_conv.BODY))]
        assert len(libraries) == 2
        for source in libraries:
            lib = load(source, COMPILER)
            assert hasattr(lib, "em_maxpool_f64" if source.endswith(c_pool.BODY) else "em_gather_f64") == (
                dtype == ember.float64)


@needs_cc
def test_a_warm_start_traces_its_convolutions_on_the_cached_c(monkeypatch, tmp_path):
    """Where the cache holds the convolutions' libraries, a c-backend trace (an eager step) runs its convolutions
    on them (c_backend.convolutions_in_c: resnet_small's first call on a warm cache ~100 against ~150-180 ms);
    with an empty cache it compiles nothing for them and runs NumPy's; numpy-backend traces and eager
    convolutions outside traces never do. The first call's results are eager's to float32 rounding."""
    from ember.compiler import c_conv
    from ember.ops.conv import _ConvOp
    monkeypatch.setenv("EMBER_CACHE_DIR", str(tmp_path / "cache"))
    calls = []
    conv = c_conv.WindowOps.conv
    monkeypatch.setattr(c_conv.WindowOps, "conv", lambda self, *args: calls.append(1) or conv(self, *args))

    def first_call(backend):
        ember.manual_seed(0)
        model = ember.nn.Sequential(ember.nn.Conv2d(3, 16, 3, padding=1), ember.nn.ReLU(), ember.nn.Flatten(),
                                    ember.nn.Linear(16 * 8 * 8, 10))
        step = classification_step(model, ember.optim.SGD(model.parameters(), lr=0.1))
        run = ember.compile(step, fullgraph=True, backend=backend) if backend else step
        calls.clear()
        loss = run(ember.randn(4, 3, 8, 8, generator=ember.Generator().manual_seed(1)), ember.tensor([1, 2, 3, 4]))
        return loss.item(), len(calls), run

    eager, eager_calls, _ = first_call(None)
    cold, cold_calls, run = first_call("c")  # the trace on NumPy's; then the graph's libraries compile
    assert eager_calls == 0 and cold_calls == 0 and _ConvOp.window_ops is None
    assert cache.cached(c_backend.render_c.header(c_backend.data_offset()) + FLOAT32_ONLY + c_conv.BODY, COMPILER)
    warm, warm_calls, _ = first_call("c")  # a new function: its trace on the cached C
    assert warm_calls > 0 and _ConvOp.window_ops is None
    numpy_backend, numpy_calls, _ = first_call("numpy")
    assert numpy_calls == 0
    assert cold == eager == numpy_backend
    np.testing.assert_allclose(warm, eager, rtol=1e-5)
    assert first_call(None)[1] == 0  # eager again: NumPy's convolutions


@needs_cc
@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="x86-64 targets")
@pytest.mark.parametrize("march", ["x86-64", "haswell"])
def test_hand_written_c_compiles_for_machines_without_avx512(march, tmp_path):
    """The hand-written C and ember's GEMM compile, warnings as errors, for x86-64 machines without AVX-512 (a
    vector of 16 floats is then no register: an asm keeping it in one was an impossible constraint, and c_conv's
    library failed to build there)."""
    assert_compiles_strictly((c_backend.runtime_source(c_backend.data_offset()), c_gemm.LIBRARY), tmp_path, march)


def test_numpys_blas_is_found_among_the_process_libraries_where_its_wheel_has_none(monkeypatch):
    """A NumPy built against a system BLAS has none in its wheel: blas.find reads the libraries the process
    loaded (the wheel's own is among them here)."""
    from ember.compiler import blas
    want = blas.find()
    if want is None or not os.path.exists("/proc/self/maps"):
        pytest.skip("NumPy's BLAS not found, or no /proc/self/maps")
    monkeypatch.setattr(blas.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(blas, "_found", [])
    got = blas.find()
    assert got is not None and os.path.realpath(got.path) == os.path.realpath(want.path)
    assert got.addresses == want.addresses and got.int_type == want.int_type


# --- the cache and the fallback, in other processes -------------------------------------------------------------

_CHILD = textwrap.dedent("""
    import os, sys, time, warnings
    sys.path.insert(0, {root!r})
    import numpy as np
    import ember
    x = ember.linspace(-3, 3, 4000).reshape(40, 100)
    b = ember.linspace(0, 1, 100)
    if len(sys.argv) > 1:  # wait for the go of the parent, to compile at the same time as a sibling
        open(sys.argv[2], "w").close()
        while not os.path.exists(sys.argv[1]):
            time.sleep(0.005)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f = ember.compile(lambda x, b: (x * b + 1).tanh() * x, backend="c")
        g = ember.compile(lambda x: x.exp() - 1, backend="c")
        with ember.no_grad():
            for _ in range(3):  # trace, check, run the graph
                out = f(x, b).numpy().sum() + g(x).numpy().sum()
    fused = sum(op.name == "FusedKernel" for op in f.graph.walk())
    print(out, fused, len(caught), *[str(w.message) for w in caught], sep="|")
""")


def _child(env, *args, wait=True):
    code = _CHILD.format(root=ROOT)
    proc = subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    return proc.communicate(timeout=120) if wait else proc


def _env(**changes):
    env = dict(os.environ)
    env.pop("CC", None)
    env.update(changes)
    return env


def _counting_compiler(tmp_path):
    """A CC that logs each run to a file and runs the real compiler."""
    log = tmp_path / "cc.log"
    script = tmp_path / "counting-cc"
    script.write_text(f"#!/bin/sh\necho run >> {log}\nexec {' '.join(COMPILER)} \"$@\"\n")
    script.chmod(0o755)
    return str(script), log


@needs_cc
def test_a_second_process_compiles_nothing(tmp_path):
    cc, log = _counting_compiler(tmp_path)
    env = _env(EMBER_CACHE_DIR=str(tmp_path / "cache"), CC=cc)
    first, err = _child(env)
    assert first and not err.strip(), err
    runs = len(log.read_text().splitlines())
    assert runs == 2  # one module per graph
    second, err = _child(env)
    assert second == first and len(log.read_text().splitlines()) == runs  # the cache had both: no compiler run
    assert first.split("|")[1] == "1"  # the traced graph of f is one fused kernel


@needs_cc
def test_two_processes_compiling_the_same_kernels_at_once_both_succeed(tmp_path):
    env = _env(EMBER_CACHE_DIR=str(tmp_path / "cache"))
    go = str(tmp_path / "go")
    procs = [_child(env, go, f"{go}.{i}", wait=False) for i in range(2)]
    while not all(os.path.exists(f"{go}.{i}") for i in range(2)):
        time.sleep(0.005)
    open(go, "w").close()
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert results[0][0] == results[1][0] and results[0][0].strip().split("|")[2] == "0"
    assert len(os.listdir(tmp_path / "cache" / "c")) == 4  # two libraries, each with its source


@needs_cc
def test_libraries_compile_at_once_on_threads_and_each_once(tmp_path, monkeypatch):
    """build_all compiles independent libraries on threads at the same time (each compiler run logs its start,
    sleeps, and logs its end: all start before any ends); a library asked for while a thread compiles it is
    waited for, not compiled twice; a cached one starts no thread; a failed one raises its CompileError from the
    wait."""
    log, script = tmp_path / "cc.log", tmp_path / "slow-cc"
    script.write_text(f"#!/bin/sh\necho start >> {log}\nsleep 1\n{' '.join(COMPILER)} \"$@\"\nrc=$?\n"
                      f"echo end >> {log}\nexit $rc\n")
    script.chmod(0o755)
    monkeypatch.setenv("EMBER_CACHE_DIR", str(tmp_path / "cache"))
    sources = [f"int em_value{i}(void) {{ return {i}; }}\n" for i in range(3)]
    wait = cache.build_all(sources + sources[:1], [str(script)])
    assert cache.load(sources[2], [str(script)]).em_value2() == 2  # waits for the thread compiling it
    wait()
    assert log.read_text().split() == ["start"] * 3 + ["end"] * 3
    assert [getattr(cache.load(s, [str(script)]), f"em_value{i}")() for i, s in enumerate(sources)] == [0, 1, 2]
    assert len(log.read_text().split()) == 6  # cached: no more compiler runs
    started, thread = [], threading.Thread
    monkeypatch.setattr(cache.threading, "Thread", lambda *a, **k: started.append(a) or thread(*a, **k))
    cache.build_all(sources, [str(script)])()
    assert started == []  # a warm start starts no thread for what the cache holds
    with pytest.raises(cache.CompileError, match="the C compiler failed"):
        cache.build_all(["this is not C"], [str(script)])()
    assert len(started) == 1


def test_without_a_compiler_the_numpy_backend_runs_after_one_warning(tmp_path):
    out, err = _child(_env(EMBER_CACHE_DIR=str(tmp_path / "cache"), PATH=str(tmp_path)))
    value, fused, n_warnings, message = out.strip().split("|")
    assert (fused, n_warnings) == ("0", "1") and "no C compiler found" in message
    assert not (tmp_path / "cache").exists()
    x = np.linspace(-3, 3, 4000, dtype=np.float32).reshape(40, 100)
    b = np.linspace(0, 1, 100, dtype=np.float32)
    np.testing.assert_allclose(float(value), (np.tanh(x * b + 1) * x).sum() + (np.exp(x) - 1).sum(), rtol=1e-5)


# --- whole graphs against the numpy backend and eager ------------------------------------------------------------

@needs_cc
def test_fused_chain_equals_the_numpy_backend(launches):
    def f(x, w, b):
        h = x @ w + b
        return (0.5 * h * (1 + ((2 / np.pi) ** 0.5 * (h + 0.044715 * h ** 3)).tanh()), h.relu() * 2 - 1)

    args = (ember.randn(16, 32), ember.randn(32, 64), ember.randn(64))
    c, n = ember.compile(f, backend="c"), ember.compile(f, backend="numpy")
    with ember.no_grad():
        got, want = _graph_result(c, *args), _graph_result(n, *args)
    assert [op.name for op in c.graph.ops] == ["Matmul", "FusedKernel"] and launches[0] == 1
    np.testing.assert_allclose(got[0].numpy(), want[0].numpy(), rtol=1e-5, atol=1e-6)  # tanh near -1
    np.testing.assert_allclose(got[1].numpy(), want[1].numpy(), rtol=1e-6)


@needs_cc
def test_a_kernel_stores_every_value_read_outside_it(launches):
    def f(x, b):
        h = x * b + 1
        mask = h > 0
        y = ember.where(mask, h, 0.1 * h).tanh()
        return y, h.sum(), mask  # h is read by a sum (no rule), mask is an output

    args = (ember.randn(8, 16), ember.randn(16))
    compiled = ember.compile(f, backend="c")
    with ember.no_grad():
        got, want = _graph_result(compiled, *args), f(*args)
    (kernel,) = _fused(compiled)
    assert kernel.node.ops == "Mul,Add,Gt,Mul,Where,Tanh" and len(kernel.outputs) == 3 and launches[0] == 1
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-5)


@needs_cc
def test_a_compiled_forward_runs_its_backward_compiled_when_the_backward_runs_outside(launches):
    """model = ember.compile(model), then a backward outside: the forward and its backward are one joint graph
    (fused kernels in both parts), its backward run by autograd from the compiled forward's outputs."""
    model = ember.nn.Sequential(ember.nn.Linear(8, 16), ember.nn.GELU(approximate="tanh"), ember.nn.Linear(16, 3))
    compiled = ember.compile(model, backend="c")
    x = ember.randn(5, 8)
    grads, kernels = [], []
    for run in (model, compiled, compiled, compiled):
        model.zero_grad()
        y = run(x)
        forward = launches[0]
        y.square().sum().backward()
        kernels.append((forward, launches[0] - forward))
        launches[0] = 0
        grads.append([p.grad.numpy().copy() for p in model.parameters()])
    for got in grads[1:]:
        for a, b in zip(got, grads[0]):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert kernels[0] == (0, 0) and kernels[3] == (1, 1)  # the GELU forward, and its gradient, fused
    assert repr(y.grad_fn) == "<_CompiledForwardBackward>"
    with ember.no_grad():
        np.testing.assert_allclose(_graph_result(compiled, x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)
    assert launches[0] == 1


@needs_cc
@pytest.mark.parametrize("make, shape", [
    (lambda: zoo.resnet20(), (2, 3, 16, 16)), (lambda: zoo.mobilenet_v2(num_classes=10), (1, 3, 32, 32)),
    (lambda: zoo.vit(), (2, 3, 32, 32)),
    (lambda: zoo.gpt(vocab_size=17, block_size=8, n_layer=2, n_head=2, n_embd=16), "tokens")],
    ids=["resnet20", "mobilenet_v2", "vit", "gpt"])
def test_zoo_inference_equals_eager(make, shape, launches):
    model = make().eval()
    x = ember.randint(0, 17, (2, 8)) if shape == "tokens" else ember.randn(*shape)
    compiled = ember.compile(model, backend="c")
    with ember.no_grad():
        want, got = model(x), _graph_result(compiled, x)
    want, got = (want[0], got[0]) if isinstance(want, tuple) else (want, got)
    assert launches[0] == len(_fused(compiled)) > 0
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)


@needs_cc
def test_gelu_and_its_gradient_fuse(launches):
    def make():
        model = ember.nn.Sequential(ember.nn.Linear(16, 64), ember.nn.GELU(), ember.nn.Linear(64, 4))
        return model, ember.optim.SGD(model.parameters(), lr=0.1)

    batch = (ember.randn(32, 16), ember.randint(0, 4, (32,)))  # 2048 values: NumPy's blocked float32 gelu
    eager_losses, eager_params, _ = _train(make, batch, None)
    losses, params, run = _train(make, batch, "c")
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)
    for a, b in zip(params, eager_params):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    kernels = {op.node.ops: op for op in _fused(run)}
    assert {"Add,Gelu", "GeluGrad"} <= set(kernels) and launches[0] > 0  # the bias joins gelu (epilogue)
    kernel = kernels["GeluGrad"].node.kernel  # in the step's C segment: compiled here on its own
    source, (fn_name,) = render_module([kernel], c_backend.data_offset())
    launch = c_backend._Launcher(getattr(cache.load(source, COMPILER), fn_name), kernel)
    h, g = np.random.default_rng(0).normal(size=(2, 32, 64)).astype(np.float32)
    np.testing.assert_allclose(launch((h, g)), kernel.reference(np, (h, g)), rtol=1e-5, atol=1e-6)


@needs_cc
@pytest.mark.parametrize("optimizer, kwargs", [
    ("SGD", dict(lr=0.1)), ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, maximize=True)),
    ("SGD", dict(lr=0.1, momentum=0.8, nesterov=True)), ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, betas=(0.8, 0.9))), ("Adam", dict(lr=0.01, amsgrad=True))])
@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
def test_optimizer_updates_in_c_give_the_eager_bits(optimizer, kwargs, dtype, monkeypatch):
    monkeypatch.setattr(c_optim, "SGD_C_MIN", 0)  # C also for these small parameters
    ran = []
    # (a segment's plain SGD reads only its group; its Adam updates their step counts, their group once)
    for name in ("sgd_arguments", "adam_arguments", "sgd_group", "adam_step"):
        def counted(*args, arguments=getattr(c_optim, name)):
            ran.append(arguments(*args))
            return ran[-1]
        monkeypatch.setattr(c_optim, name, counted)

    def run(compiled):
        ember.manual_seed(0)
        model = ember.nn.Linear(6, 3).to(dtype)
        opt = getattr(ember.optim, optimizer)(model.parameters(), **kwargs)
        sched = ember.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        x = ember.randn(4, 6, dtype=dtype)

        def step(x):
            opt.zero_grad()
            loss = (model(x) ** 2).mean()
            loss.backward()
            opt.step()
            return loss

        f = ember.compile(step, backend="c", fullgraph=True) if compiled else step
        for _ in range(5):
            f(x)
            sched.step()  # read by the graph each run: no retrace
        return [p.detach().numpy() for p in model.parameters()], opt, f

    want, _, _ = run(False)
    got, opt, f = run(True)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    assert len(f.cache) == 1 and sum(isinstance(op.node, c_optim.OptimizerUpdate) for op in f.graph.walk()) == 2
    assert str(f.graph).count("OptimizerUpdate(") == str(f.graph).count("{runs='c'}") == 2
    if kwargs.get("amsgrad"):
        assert not any(ran)  # the optimizer's own update
    else:
        assert len(ran) >= 2 and all(ran)  # C, for both parameters in every run of the graph
    state = opt.state[opt.param_groups[0]["params"][0]]
    assert state.get("step", 5) == 5 and all(v.dtype == dtype.np for v in state.values() if hasattr(v, "dtype"))


def _numpy_traces(monkeypatch):
    """Traces run their convolutions on NumPy's array code (not c_backend.convolutions_in_c's cached C): the C
    calls counted, and the results that differ from eager's, are the graph's (the last call's)."""
    monkeypatch.setattr(c_backend, "convolutions_in_c", contextlib.nullcontext)


def _train(make, batch, backend, steps=4):
    ember.manual_seed(0)
    model, opt = make()

    step = classification_step(model, opt)

    run = ember.compile(step, fullgraph=True, backend=backend) if backend else step
    losses = [run(*batch).item() for _ in range(steps)]
    return losses, [p.detach().numpy().copy() for p in model.parameters()], run


@needs_cc
@pytest.mark.parametrize("make, shape", [
    (lambda: zoo.mlp(in_features=64), (8, 1, 8, 8)), (lambda: zoo.lenet5(), (4, 1, 28, 28))], ids=["mlp", "lenet5"])
def test_compiled_training_step_equals_eager(make, shape, launches):
    def with_opt():
        model = make()
        return model, ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    batch = (ember.randn(*shape), ember.randint(0, 10, (shape[0],)))
    eager_losses, eager_params, _ = _train(with_opt, batch, None)
    losses, params, run = _train(with_opt, batch, "c")
    assert launches[0] >= len(_fused(run)) > 0  # the last steps ran the graph
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)
    for a, b in zip(params, eager_params):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _backward_step(step, leaves, compiled, *args):
    """step(*leaves, *args) (which runs a backward), eagerly or compiled with the c backend, called three times (the
    last runs the graph) with the leaves' .grad reset before each call (a .grad left by the last call is another
    guard); (the output as an array, the leaves' gradients, the function)."""
    f = ember.compile(step, backend="c", fullgraph=True) if compiled else step
    for _ in range(3):
        for t in leaves:
            t.grad = None
        out = f(*leaves, *args)
    return out.detach().numpy(), [t.grad.numpy() for t in leaves], f


def _loss_and_grad(logits, target, compiled, **kwargs):
    def step(x, t):
        loss = F.cross_entropy(x, t, **kwargs)
        loss.backward()
        return loss

    loss, (grad,), f = _backward_step(step, [ember.tensor(logits, requires_grad=True)], compiled, ember.tensor(target))
    return loss, grad, f


@needs_cc
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs, target", [
    ({}, [3, 0, 9, 9, 1]), (dict(reduction="sum"), [3, 0, 9, 9, 1]),
    (dict(ignore_index=9), [3, 0, 9, 9, 1]), (dict(ignore_index=9), [9, 9, 9, 9, 9])],
    ids=["mean", "sum", "ignore_index", "all_ignored"])
def test_cross_entropy_in_c_equals_eager(dtype, kwargs, target):
    logits = np.random.default_rng(0).standard_normal((5, 10)).astype(dtype) * 4
    logits[1] -= 60  # a row far below the others
    want_loss, want_grad, _ = _loss_and_grad(logits, target, False, **kwargs)
    loss, grad, f = _loss_and_grad(logits, target, True, **kwargs)
    assert "CrossEntropy(" in str(f.graph) and "CrossEntropyGrad(" in str(f.graph)
    assert loss.dtype == want_loss.dtype == dtype and grad.dtype == dtype
    np.testing.assert_allclose(loss, want_loss, rtol=1e-6)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-5, atol=1e-7)


@needs_cc
@pytest.mark.parametrize("special", [np.inf, -np.inf, np.nan])
def test_cross_entropy_in_c_gives_the_eager_result_of_values_that_are_not_finite(special):
    logits = np.random.default_rng(1).standard_normal((4, 6)).astype(np.float32)
    logits[2, 1] = special
    want_loss, want_grad, _ = _loss_and_grad(logits, [1, 2, 3, 4], False)
    loss, grad, f = _loss_and_grad(logits, [1, 2, 3, 4], True)
    assert "CrossEntropy(" in str(f.graph)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-6)  # NaN where eager's is NaN
    np.testing.assert_allclose(grad, want_grad, rtol=1e-5, atol=1e-7)


@needs_cc
def test_cross_entropy_in_c_raises_the_eager_error_for_a_target_out_of_range():
    logits = np.zeros((3, 4), np.float32)
    _, _, f = _loss_and_grad(logits, [0, 1, 2], True)
    x = ember.tensor(logits, requires_grad=True)
    with pytest.raises(IndexError, match="Target 7 is out of bounds"):
        f(x, ember.tensor([0, 7, 1]))


def _assert_compiled_equals_eager(step, leaves, args, nodes, dtype):
    """step's output and the leaves' gradients, compiled (with the C nodes named in nodes) and eager, agree: to
    float32 rounding (1e-5), or 1e-12 in float64."""
    want, want_grads, _ = _backward_step(step, leaves, False, *args)
    got, grads, f = _backward_step(step, leaves, True, *args)
    names = [op.name for op in f.graph.walk()]
    assert all(n in names for n in nodes), names
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for a, b in zip([got, *grads], [want, *want_grads]):
        np.testing.assert_allclose(a, b, **tol)


@needs_cc
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(6, 7, 48), (5, 3), (5, 41, 24)], ids=["3d", "2d", "chunks"])
def test_layer_norm_in_c_equals_eager(shape, dtype):
    rng = np.random.default_rng(4)
    x_np = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    w_np, b_np = rng.standard_normal((2, shape[-1])).astype(dtype)
    g = ember.tensor(rng.standard_normal(shape).astype(dtype))
    leaves = [ember.tensor(a, requires_grad=True) for a in (x_np, w_np, b_np)]

    def step(x, w, b, g):
        y = F.layer_norm(x, (shape[-1],), w, b, eps=1e-5)
        y.backward(g)
        return y

    _assert_compiled_equals_eager(step, leaves, (g,), ("CNormalize", "CNormalizeGrad"), dtype)


@needs_cc
def test_layer_norm_gradient_in_c_gives_the_same_bits_on_one_or_two_threads(monkeypatch):
    """The rows in chunks of 64 on OpenMP threads, the chunks' sums added in chunk order (205 rows: 4 chunks)."""
    from ember.compiler import render_c
    rng = np.random.default_rng(7)
    x_np, g_np = rng.standard_normal((2, 5, 41, 24)).astype(np.float32)
    w_np, b_np = rng.standard_normal((2, 24)).astype(np.float32)
    results = []
    for threads in (1, 2):
        monkeypatch.setattr(render_c, "threads_for", lambda size, threads=threads: threads)
        leaves = [ember.tensor(a, requires_grad=True) for a in (x_np, w_np, b_np)]

        def step(x, w, b, g):
            y = F.layer_norm(x, (24,), w, b)
            y.backward(g)
            return y

        y, grads, _ = _backward_step(step, leaves, True, ember.tensor(g_np))
        results.append([y, *grads])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@needs_cc
@pytest.mark.parametrize("split", [False, True], ids=["one_call", "channels_over_2_threads"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_in_c_equals_eager_with_its_running_statistics(dtype, split, monkeypatch):
    """A batch norm of (N, C, H, W) arrays in C, its channels on an OpenMP team of two threads or on one: eager's
    results and running statistics (float32 rounding, float64 to 1e-12)."""
    from ember.compiler import c_norm
    teams = []
    if split:
        monkeypatch.setattr(c_norm, "_SPLIT_MIN", 1)
        ember.set_num_threads(2)
        threads_of = c_norm._nchw_threads
        monkeypatch.setattr(c_norm, "_nchw_threads", lambda sview: teams.append(threads_of(sview)) or teams[-1])
    rng = np.random.default_rng(5)
    x_np = (rng.standard_normal((6, 4, 5, 3)) * 2 + 0.5).astype(dtype)
    g = ember.tensor(rng.standard_normal(x_np.shape).astype(dtype))
    weight = ember.tensor(rng.standard_normal(4).astype(dtype))
    results = []
    for compiled in (False, True):
        bn = ember.nn.BatchNorm2d(4).to(ember.float64 if dtype == np.float64 else ember.float32)
        with ember.no_grad():
            bn.weight.copy_(weight)
        leaves = [ember.tensor(x_np, requires_grad=True), bn.weight, bn.bias]

        def step(x, w, b, g):
            y = bn(x)
            y.backward(g)
            return y

        out, grads, f = _backward_step(step, leaves, compiled, g)
        results.append((out, grads, bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()))
    names = [op.name for op in f.graph.walk()]
    assert "CNormalize" in names and "CNormalizeGrad" in names
    assert teams == ([2, 2] if split else [])  # the forward's and the gradient's 4 channels on 2 threads
    (want, want_grads, want_mean, want_var), (got, grads, mean, var) = results
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for a, b in zip([got, *grads, mean, var], [want, *want_grads, want_mean, want_var]):
        np.testing.assert_allclose(a, b, **tol)


@needs_cc
def test_batch_norm_in_c_gives_the_same_bits_on_one_thread_and_on_two(monkeypatch):
    """Each channel's sums are one thread's: the batch norm of (N, C, H, W) arrays and its gradients do not change
    with the number of threads its channels split over."""
    from ember.compiler import c_norm
    monkeypatch.setattr(c_norm, "_SPLIT_MIN", 1)
    rng = np.random.default_rng(9)
    x_np = (rng.standard_normal((5, 7, 6, 5)) * 3 + 1).astype(np.float32)  # 7 channels: 4 and 3 a thread
    g = ember.tensor(rng.standard_normal(x_np.shape).astype(np.float32))
    threads, runs = ember.get_num_threads(), []
    try:
        for count in (1, 2):
            ember.set_num_threads(count)
            bn = ember.nn.BatchNorm2d(7)

            def step(x, w, b, g):
                y = bn(x)
                y.backward(g)
                return y

            leaves = [ember.tensor(x_np, requires_grad=True), bn.weight, bn.bias]
            out, grads, f = _backward_step(step, leaves, True, g)
            assert "CNormalizeGrad" in [op.name for op in f.graph.walk()]
            runs.append([out, *grads, bn.running_mean.numpy().copy()])
    finally:
        ember.set_num_threads(threads)
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


@needs_cc
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", [dict(batch_first=True), dict(num_layers=2, bidirectional=True)],
                         ids=["batch_first", "2_layers_bidirectional"])
def test_lstm_cells_in_c_equal_eager(kwargs, dtype):
    rng = np.random.default_rng(6)
    ember.manual_seed(0)
    lstm = ember.nn.LSTM(5, 7, **kwargs).to(ember.float64 if dtype == np.float64 else ember.float32)
    x_np = rng.standard_normal((3, 4, 5)).astype(dtype)
    leaves = [ember.tensor(x_np, requires_grad=True), *lstm.parameters()]

    def step(x, *params):
        out, (h, c) = lstm(x)
        loss = (out * out).sum() + (h.tanh() * c).sum()
        loss.backward()
        return loss

    _assert_compiled_equals_eager(step, leaves, (), ("CLSTMLayer", "CLSTMLayerGrad"), dtype)


@needs_cc
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", [
    dict(batch=32, lstm=dict(batch_first=True, bidirectional=True)),  # two 16-wide vectors of the batch
    dict(batch=48, lstm=dict(num_layers=2)),  # two vectors and one
    dict(batch=20, lstm=dict(bias=False)),  # not whole vectors: the BLAS's GEMM
], ids=["batch32_bidirectional", "batch48_2_layers", "batch20_no_bias"])
def test_lstm_layers_run_whole_in_c_on_threads_as_eager(case, dtype, monkeypatch):
    """Layers large enough to split run their steps in C on two threads (c_rnn's layer functions, each thread
    the GEMM rows and cells of half the units, meeting after every step), and the gradient too."""
    from ember.compiler import c_rnn
    calls = []  # (work, threads) of each layer call, its gradient and the products over all steps
    team = c_rnn._team
    monkeypatch.setattr(c_rnn, "_team", lambda n, work: calls.append((work, team(n, work))) or calls[-1][1])
    threads = ember.get_num_threads()
    ember.set_num_threads(2)
    try:
        rng = np.random.default_rng(7)
        ember.manual_seed(0)
        lstm = ember.nn.LSTM(24, 64, **case["lstm"]).to(ember.float64 if dtype == np.float64 else ember.float32)
        shape = (case["batch"], 64, 24) if case["lstm"].get("batch_first") else (64, case["batch"], 24)
        leaves = [ember.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True), *lstm.parameters()]

        def step(x, *params):
            out, (h, c) = lstm(x)
            loss = (out * out).sum() + (h.tanh() * c).sum()
            loss.backward()
            return loss

        want = _backward_step(step, leaves, False)
        got = _backward_step(step, leaves, True)
    finally:
        ember.set_num_threads(threads)
    layers = 2 if case["lstm"].get("bidirectional") or case["lstm"].get("num_layers") == 2 else 1
    # every layer call and its gradient (and the large products) on a team of two threads
    assert sum(k == 2 for _, k in calls) >= 2 * layers and all(k == 2 for work, k in calls if work >= 1 << 24), calls
    names = [op.name for op in got[2].graph.walk()]
    assert "CLSTMLayer" in names and "CLSTMLayerGrad" in names, names
    # sums over 64 steps in another order (and the cells' own tanh): to float32 rounding of the largest value
    scale = 1e-5 if dtype == np.float32 else 1e-12
    for a, b in zip([got[0], *got[1]], [want[0], *want[1]]):
        np.testing.assert_allclose(a, b, rtol=0, atol=scale * max(1.0, np.abs(b).max()))


@needs_cc
def test_an_lstm_layers_team_runs_with_the_blas_on_one_thread_where_the_graph_does_not_own_the_threads(monkeypatch):
    """Each thread of a layer's team may call the BLAS (here a batch of 20: not whole vectors; the input's gradient,
    a transposed product): the BLAS runs on one thread meanwhile, also in a graph whose segments do not own the
    threads (a convolution's im2col product outside them); the results are eager's."""
    from ember.compiler import c_rnn
    seen = []  # (threads, whether the BLAS was held) of each team call
    functions = c_rnn._functions

    def recorded(lib):
        def wrap(fn):
            return lambda k, *args: seen.append((k, _threads.blas_held())) or fn(k, *args)
        return {key: tuple(wrap(f) if i in (2, 3, 5) else f for i, f in enumerate(fns))
                for key, fns in functions(lib).items()}

    monkeypatch.setattr(c_rnn, "_functions", recorded)
    before = ember.get_num_threads()
    ember.set_num_threads(2)
    try:
        ember.manual_seed(0)
        lstm, conv = ember.nn.LSTM(24, 64), ember.nn.Conv2d(3, 4, 3, groups=1)
        rng = np.random.default_rng(9)
        leaves = [ember.tensor(rng.standard_normal((64, 20, 24)).astype(np.float32), requires_grad=True),
                  *lstm.parameters(), *conv.parameters()]
        image = ember.tensor(rng.standard_normal((2, 3, 8, 8)).astype(np.float32))

        def step(x, *params):
            out, _ = lstm(x)
            loss = (out * out).sum() + conv(image).sum()
            loss.backward()
            return loss

        want = _backward_step(step, leaves, False)
        got = _backward_step(step, leaves, True)
    finally:
        ember.set_num_threads(before)
    assert not any(op.node.own_threads for op in got[2].graph.ops if op.name == "Segment")
    assert any(k > 1 for k, _ in seen) and all(held for k, held in seen if k > 1), seen
    for a, b in zip([got[0], *got[1]], [want[0], *want[1]]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * max(1.0, np.abs(b).max()))


@needs_cc
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta, tb", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("threads", [1, 2])
def test_lstm_products_over_all_steps_on_a_team_equal_numpy(ta, tb, threads, dtype):
    """em_rnn_matmul (the LSTM gradient's products: a block of rows a thread) equals a @ b whichever operand is
    transposed, also where the rows do not split evenly, with padded rows (leading dimensions past the width)."""
    from ember.compiler import c_rnn
    source = c_backend.render_c.header(c_backend.data_offset()) + c_rnn.BODY  # (what lower_rnns builds)
    lib = c_rnn._functions(c_backend._load(source, COMPILER))[c_rnn.SUFFIX[np.dtype(dtype)]]
    functions = c_rnn.blas.find()
    if functions is None:
        pytest.skip("NumPy's BLAS not found")
    gemm = functions.addresses["sgemm" if dtype == np.float32 else "dgemm"]
    rng = np.random.default_rng(3)
    m, n, k = 53, 40, 37  # 53 rows: 27 + 26 on two threads; ember's GEMM takes both blocks, and its edges

    def stored(rows, cols, transposed):  # a (rows, cols) operand, its storage padded by 3 values a row
        base = rng.standard_normal((cols, rows + 3) if transposed else (rows, cols + 3)).astype(dtype)
        return base[:, :rows].T if transposed else base[:, :cols]

    a, b = stored(m, k, ta), stored(k, n, tb)
    out = np.full((m, n + 2), np.nan, dtype)  # rows ldc apart: the last two columns must stay as they are
    lib[5](threads, gemm, functions.int_type == "int64_t", ta, tb, m, n, k, a, a.base.shape[1], b, b.base.shape[1],
           out, n + 2)
    np.testing.assert_allclose(out[:, :n], a @ b, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)
    assert np.isnan(out[:, n:]).all()
    assert c_rnn._blas_operand(a) == (ta, a.base.shape[1]) and c_rnn._blas_operand(b) == (tb, b.base.shape[1])


def _pool_and_grad(x_np, pool, compiled):
    x = ember.tensor(x_np, requires_grad=True)
    g = ember.tensor(np.random.default_rng(2).standard_normal(pool(x).shape).astype(x_np.dtype))

    def step(x, g):
        y = pool(x)
        y.backward(g)
        return y

    y, (grad,), f = _backward_step(step, [x], compiled, g)
    return y, grad, f


@needs_cc
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("pool, shape", [
    (lambda x: F.max_pool2d(x, 2), (2, 3, 8, 8)),
    (lambda x: F.max_pool2d(x, 3, stride=2, padding=1), (2, 3, 9, 7)),  # overlapping windows, padding
    (lambda x: F.max_pool2d(x, (2, 3), stride=(1, 2), dilation=(2, 1), ceil_mode=True), (1, 2, 7, 8)),
    (lambda x: F.max_pool1d(x, 3, stride=2, padding=1), (2, 4, 11)),
    (lambda x: F.max_pool2d(x, 2), (3, 6, 6)),
    (lambda x: F.max_pool2d(x, 2), (2, 3, 9, 43))],  # 21 windows a row (16 and a tail), an odd row and column
    ids=["2x2", "3x3s2p1", "dilated_ceil", "1d", "unbatched", "2x2_long_rows_odd_sizes"])
def test_max_pool_in_c_equals_eager(pool, shape, dtype):
    """Maximum pooling in C (2 x 2 windows at stride 2 by vectors of 16 windows on AVX-512 machines, float32) and
    its gradient give eager's bits: the first maximum, the last NaN, infinities; zeros past the last window."""
    x = np.random.default_rng(0).integers(-3, 3, shape).astype(dtype)  # many ties
    flat = x.reshape(-1)
    flat[::7], flat[3::11], flat[5::13] = np.nan, -np.inf, np.inf
    want_y, want_grad, _ = _pool_and_grad(x, pool, False)
    y, grad, f = _pool_and_grad(x, pool, True)
    assert "CMaxPool(" in str(f.graph) and "CMaxPoolScatter(" in str(f.graph)
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-6)  # overlapping windows add in another order


@needs_cc
@pytest.mark.parametrize("pool", [lambda x: F.max_pool2d(x, 2), lambda x: F.max_pool2d(x, 3, stride=2)],
                         ids=["2x2", "3x3s2"])
def test_max_pool_gradient_in_c_writes_zeros_where_no_window_reads(pool, monkeypatch):
    """The gradient's rows and columns past the last window are zeros, whatever memory its array got."""
    from ember.compiler import c_pool

    class DirtyNumPy:
        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def empty(shape, dtype=float):
            return np.full(shape, np.nan, dtype)

    monkeypatch.setattr(c_pool, "np", DirtyNumPy())
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 43)).astype(np.float32)
    want_y, want_grad, _ = _pool_and_grad(x, pool, False)
    y, grad, _ = _pool_and_grad(x, pool, True)
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-6)  # overlapping windows add in another order


@needs_cc
@pytest.mark.parametrize("pool", [lambda x: F.max_pool2d(x, 3, stride=1, padding=1), lambda x: F.max_pool2d(x, 2)],
                         ids=["3x3_padded", "2x2"])
def test_max_pool_in_c_picks_the_first_element_inside_for_a_window_of_minus_infinity(pool):
    x = np.full((1, 1, 4, 4), -np.inf, np.float32)
    want_y, want_grad, _ = _pool_and_grad(x, pool, False)
    y, grad, _ = _pool_and_grad(x, pool, True)
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(grad, want_grad)


_IM2COL_CONVOLUTIONS = [  # (conv, dtypes, strided): float32 convolutions without groups and with kernels past
    # 1x1 run directly instead; the input gradients of strided ones add their windows back in C (add_windows)
    (lambda x, w: F.conv2d(x, w, padding=2), [np.float64], False),
    (lambda x, w: F.conv2d(x, w, stride=2, padding=1, dilation=2), [np.float64], True),
    (lambda x, w: F.conv2d(x, w[:, :, :1, :1].contiguous(), stride=2, padding=1), [np.float32], True),
    (lambda x, w: F.conv2d(x, w.reshape(6, 2, 5, 5)[:, :1].contiguous(), groups=2), [np.float32, np.float64], False),
    (lambda x, w: F.conv1d(x[:, :, 0], w[:, :, 0]), [np.float64], False)]


@needs_cc
@pytest.mark.parametrize("conv,dtype,strided", [(c, d, s) for c, dtypes, s in _IM2COL_CONVOLUTIONS for d in dtypes],
                         ids=["padded-f64", "strided_dilated-f64", "1x1_strided-f32", "groups-f32", "groups-f64",
                              "1d-f64"])
def test_convolutions_with_window_copies_in_c_give_the_eager_bits(conv, dtype, strided, monkeypatch):
    from ember.compiler import c_conv
    copies = []
    for name in ("copy", "add_runs", "add_windows"):
        run = getattr(c_conv.WindowOps, name)
        monkeypatch.setattr(c_conv.WindowOps, name,
                            lambda self, *a, run=run, name=name: copies.append(name) or run(self, *a))
    rng = np.random.default_rng(0)
    x_np, w_np = rng.standard_normal((3, 2, 12, 11)).astype(dtype), rng.standard_normal((6, 2, 5, 5)).astype(dtype)

    def step(x, w):
        y = conv(x, w)
        (y * y).sum().backward()
        return y

    def result(compiled):
        y, grads, _ = _backward_step(step, [ember.tensor(a, requires_grad=True) for a in (x_np, w_np)], compiled)
        return [y, *grads]

    want = result(False)
    assert not copies
    got = result(True)
    assert "copy" in copies  # the graph's convolutions copied their windows (and added columns back) in C
    assert ("add_windows" in copies) == strided
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def _direct_convolution_and_gradients(conv, monkeypatch, shapes=((11, 5, 13, 10), (9, 5, 5, 5), (9,)),
                                      channels_last=False):
    """conv(x, w, b) and its three gradients, eagerly and compiled (by default batch 11 split over two threads, 9
    output channels: part of a register tile unused); (compiled results, eager results, the DirectConv calls (or
    the ChannelsLastConv ones) of the call that ran the graph)."""
    from ember.compiler import c_direct, c_nhwc
    monkeypatch.setattr(c_direct, "_SPLIT_MIN", 1)
    monkeypatch.setattr(c_nhwc, "_SPLIT_MIN", 1)
    _numpy_traces(monkeypatch)
    ember.set_num_threads(2)
    calls = []
    cls, names = ((c_nhwc.ChannelsLastConv, ("conv", "conv_input", "conv_weight")) if channels_last
                  else (c_direct.DirectConv, ("conv", "conv_weight")))
    for name in names:
        run = getattr(cls, name)
        monkeypatch.setattr(cls, name, lambda self, *a, run=run, name=name: calls.append(name) or run(self, *a))
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]

    def step(x, w, b):
        y = conv(x, w, b)
        (y * y).sum().backward()
        return y

    def result(compiled):
        y, grads, _ = _backward_step(step, [ember.tensor(a, requires_grad=True) for a in arrays], compiled)
        return [y, *grads]

    want = result(False)
    assert not calls
    got = result(True)
    return got, want, calls


def _assert_close_to_gemm_rounding(got, want):
    for a, b in zip(got, want):  # sums of 100s of products: to 1e-5 of the largest value (a GEMM's rounding)
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * np.abs(b).max())


@needs_cc
@pytest.mark.parametrize("conv", [
    lambda x, w, b: F.conv2d(x, w, b, padding=2),
    lambda x, w, b: F.conv2d(x, w, b, padding=(1, 3), dilation=(2, 1)),
    lambda x, w, b: F.conv2d(x, w, b),
    lambda x, w, b: F.conv2d(x, w, b, padding=6),  # wider than the kernel: the input gradient crops its planes
    lambda x, w, b: F.conv2d(x, w[:, :, :1, :3].contiguous(), b, padding=(0, 1)),
    lambda x, w, b: F.conv1d(x[:, :, 0], w[:, :, 0], b, padding=1)],
    ids=["padded", "dilated_uneven_padding", "unpadded", "large_padding", "1x3", "1d"])
def test_stride_1_float32_convolutions_run_directly_in_c_as_eager(conv, monkeypatch):
    """The forward, the input gradient (the forward on the gradient with the flipped kernel) and the weight
    gradient of stride-1 float32 convolutions run in c_direct's C (no im2col), to float32 rounding of eager's."""
    got, want, calls = _direct_convolution_and_gradients(conv, monkeypatch)
    assert calls == ["conv", "conv", "conv_weight"]  # the call that runs the graph: forward, input grad, weight grad
    calls.clear()
    x, w = ember.randn(11, 5, 13, 10), ember.randn(9, 5, 5, 5)
    one_by_one = ember.compile(lambda x, w: F.conv2d(x, w[:, :, :1, :1]), backend="c", fullgraph=True)
    for _ in range(3):
        one_by_one(x, w)
    assert not calls  # a 1x1 kernel's im2col matrix is the image: a plain GEMM, not run directly
    _assert_close_to_gemm_rounding(got, want)


@needs_cc
@pytest.mark.parametrize("stride", [1, 2])
def test_direct_weight_gradient_summed_in_blocks_of_one_image_as_eager(stride, monkeypatch):
    """The direct weight gradient keeps its float sums across an image's tiles and adds them to double sums once
    a block of images (the last block of a thread's share maybe shorter): with blocks of one image (11 images on
    two threads), each block's sums added once and started again from zero. To float32 rounding of eager's."""
    from ember.compiler import c_direct
    monkeypatch.setattr(c_direct, "_WEIGHT_BLOCK", 1)
    got, want, calls = _direct_convolution_and_gradients(
        lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=2), monkeypatch)
    assert "conv_weight" in calls
    _assert_close_to_gemm_rounding(got, want)


@needs_cc
@pytest.mark.parametrize("conv", [
    lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=2),
    lambda x, w, b: F.conv2d(x, w, b, stride=(2, 3), padding=(1, 0), dilation=(1, 2)),
    lambda x, w, b: F.conv2d(x, w, b, stride=(3, 2), padding=(4, 1), dilation=(2, 1)),  # large padding, dilated
    lambda x, w, b: F.conv2d(x, w[:, :, :2, :2].contiguous(), b, stride=3),  # a phase never read, rows cropped
    lambda x, w, b: F.conv1d(x[:, :, 0], w[:, :, 0], b, stride=2, padding=1)],
    ids=["2", "2x3_dilated", "3x2_dilated_large_padding", "3_kernel_2", "1d"])
def test_strided_float32_convolutions_run_directly_on_phases_in_c_as_eager(conv, monkeypatch):
    """The forward and the weight gradient of strided float32 convolutions run in c_direct's C on the input cut
    into stride x stride phases (each kernel position reads one phase at a shift); the input gradient stays
    col2im's. To float32 rounding of eager's."""
    got, want, calls = _direct_convolution_and_gradients(conv, monkeypatch)
    assert calls == ["conv", "conv_weight"]
    _assert_close_to_gemm_rounding(got, want)


@needs_cc
@pytest.mark.parametrize("conv,calls", [
    (lambda x, w, b: F.conv2d(x, w, b, padding=1), ["conv", "conv_input", "conv_weight"]),
    (lambda x, w, b: F.conv2d(x, w[:32], b[:32], stride=2, padding=2, dilation=(2, 1)),
     ["conv", "conv_input", "conv_weight"]),
    (lambda x, w, b: F.conv2d(x, w[:, :, :2, :2].contiguous(), b, stride=3),  # a phase no kernel position reaches
     ["conv", "conv_input", "conv_weight"]),
    (lambda x, w, b: F.conv2d(x, w, b, stride=(3, 2), padding=(4, 1)),  # padding past the kernel: margins cropped
     ["conv", "conv_input", "conv_weight"]),
    (lambda x, w, b: F.conv2d(x[:, :8], w[:32, :8].contiguous(), b[:32], stride=2, padding=1),  # 8 inputs:
     ["conv", "conv_weight"]),  # the input gradient's vectors would be half empty (col2im's)
    (lambda x, w, b: F.conv2d(x[:, :12], w[:, :12].contiguous(), b, padding=1),  # 64 outputs of 12 inputs: the
     ["conv", "conv_weight"]),  # weight gradient's 4 x 4 tile (8 x 2 where the inputs are a multiple of 8)
    (lambda x, w, b: F.conv2d(x[:, :16], w[:16, :16].contiguous(), b[:16], padding=(1, 6)),  # 16 channels: rows
     ["conv", "conv_input", "conv_weight"]),  # of 16 positions and a tail of 5
    (lambda x, w, b: F.conv1d(x.reshape(3, 16, 374), w[:32, :16, 0].contiguous(), b[:32], stride=2, padding=1),
     ["conv", "conv_input", "conv_weight"]),  # the input gradient's rows of 16 channels, 32 floats apart
    (lambda x, w, b: F.conv1d(x[:, :, 0], w[:, :, 0], b, stride=2, padding=1), ["conv", "conv_input", "conv_weight"]),
    (lambda x, w, b: F.conv_transpose2d(x, w[:32], b[:32], stride=2, padding=1, output_padding=1),
     ["conv_input", "conv", "conv_weight"]),  # the transposed convolution's own forward is an input gradient
    (lambda x, w, b: F.conv2d(x[:, :3], w[:16, :3].contiguous(), b[:16], padding=(1, 4)),  # an image's 3
     ["conv", "conv_weight"]),  # channels: rows 3 floats apart, the weight gradient's padded to 4
    (lambda x, w, b: F.conv2d(x[:, :1], w[:16, :1].contiguous(), b[:16], padding=(1, 4)),  # one channel: rows
     ["conv", "conv_weight"]),  # of 16 positions one float apart (no em_cl_slide_1: em_cl_row_1)
    (lambda x, w, b: F.conv2d(x, w[:32], b[:32], padding=(1, 3)),  # 32 outputs: rows of 8 positions (and a
     ["conv", "conv_input", "conv_weight"])],  # tail of 7) by 2 vectors, inputs slid under the kernel
    ids=["padded", "strided_dilated", "3_kernel_2", "large_padding", "8_inputs", "12_inputs", "16_channels",
         "16_inputs_strided_1d", "1d", "transposed", "3_inputs", "1_input", "32_outputs"])
def test_float32_convolutions_with_full_channel_vectors_run_channels_last_in_c_as_eager(conv, calls, monkeypatch):
    """The forward, input and weight gradients of float32 convolutions whose channels fill vectors (multiples of
    32 or 64) run in c_nhwc's C on channels-last copies (7 and 14 positions a tile: 3 images of 17x11 leave tails;
    split over two threads), any stride and dilation (the input gradient per phase of the input), to float32
    rounding of eager's; the results are PyTorch's (N, C, H, W), C-contiguous."""
    got, want, ran = _direct_convolution_and_gradients(
        conv, monkeypatch, shapes=((3, 32, 17, 11), (64, 32, 3, 3), (64,)), channels_last=True)
    assert ran == calls
    assert got[0].flags.c_contiguous and got[1].flags.c_contiguous
    _assert_close_to_gemm_rounding(got, want)


def _residual_block_step():
    """A residual block of channels that fill the channels-last vectors (32), its training step and leaves."""
    ember.manual_seed(0)
    nn = ember.nn
    conv1, bn1 = nn.Conv2d(32, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32)
    conv2, bn2 = nn.Conv2d(32, 32, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(32)
    shortcut, head = nn.Conv2d(32, 32, 1, stride=2), nn.Linear(32, 5)
    modules = (conv1, bn1, conv2, bn2, shortcut, head)

    def step(x, *params_and_target):
        t = params_and_target[-1]
        h = F.relu(bn1(conv1(x)))
        y = F.relu(bn2(conv2(h)) + shortcut(h))
        loss = F.cross_entropy(head(y.mean((2, 3))), t)
        loss.backward()
        return loss

    rng = np.random.default_rng(7)
    x = ember.tensor(rng.standard_normal((4, 32, 9, 7)).astype(np.float32), requires_grad=True)
    return step, [x] + [p for m in modules for p in m.parameters()], ember.tensor(rng.integers(0, 5, 4)), (bn1, bn2)


@needs_cc
def test_chains_of_convolutions_run_channels_last_inside_a_graph_and_hand_out_pytorch_layouts(monkeypatch):
    """The layout pass has the convolutions whose results go only through batch norms and elementwise kernels to
    convolutions and reductions write them channels-last, and those ops run on channels-last memory (no
    transposing copies between them): the results are eager's (to float32 rounding), and what the user gets
    (x.grad, from a convolution's input gradient) is (N, C, H, W), C-contiguous: that producer is not chosen."""
    from ember.compiler import c_backend, c_nhwc, c_norm
    monkeypatch.setattr(c_nhwc, "_SPLIT_MIN", 1)
    ember.set_num_threads(2)
    seen = []
    for module in (c_norm, c_backend):
        def spy(a, module=module):
            found = c_nhwc.is_channels_last(a)
            seen.append((module.__name__.rsplit(".", 1)[1], found))
            return found
        monkeypatch.setattr(module, "is_channels_last", spy)
    results = []
    for compiled in (False, True):
        step, leaves, t, norms = _residual_block_step()
        loss, grads, f = _backward_step(step, leaves, compiled, t)
        results.append([loss, *grads] + [b.numpy().copy() for n in norms for b in (n.running_mean, n.running_var)])
    chosen = [op.name for op in f.graph.walk() if getattr(getattr(op.node, "window_ops", None), "channels_last", 0)]
    # conv1, conv2 and the shortcut forward; the input gradients of conv2 and the shortcut (h's gradient); not
    # conv1's input gradient: it is x.grad
    assert sorted(chosen) == ["Conv"] * 3 + ["ConvTranspose"] * 2
    assert ("c_norm", True) in seen and ("c_backend", True) in seen  # batch norms and kernels on them
    assert grads[0].flags.c_contiguous
    _assert_close_to_gemm_rounding(results[1], results[0])


@needs_cc
def test_a_convolution_whose_result_is_handed_out_keeps_the_pytorch_layout():
    w = ember.randn(32, 32, 3, 3)
    f = ember.compile(lambda x: (lambda y: (y, F.conv2d(F.relu(y), w)))(F.conv2d(x, w, padding=1)),
                      backend="c", fullgraph=True)
    x = ember.randn(2, 32, 6, 6)
    for _ in range(3):
        y, z = f(x)
    want_y = F.conv2d(x, w, padding=1)
    assert y.is_contiguous() and z.is_contiguous()
    _assert_close_to_gemm_rounding([y.numpy(), z.numpy()], [want_y.numpy(), F.conv2d(F.relu(want_y), w).numpy()])
    assert not any(getattr(getattr(op.node, "window_ops", None), "channels_last", 0) for op in f.graph.walk())


def _window_ops():
    """c_conv's window ops on its library and c_nhwc's, built for this machine."""
    from ember.compiler import c_conv, c_nhwc, render_c

    def load(module):
        return lambda: cache.load(render_c.header(c_backend.data_offset()) + module.BODY, COMPILER)
    return c_conv.WindowOps(load(c_conv), load(c_nhwc))


@needs_cc
@pytest.mark.parametrize("k,s,lo,out", [(2, 1, 0, 7), (1, 2, 0, 4), (3, 1, 1, 7), (3, 2, 0, 3)],
                         ids=["2x2_zeros_after_only", "1x1_strided", "3x3_padded", "3x3_strided_unpadded"])
def test_channels_last_operands_give_the_convolutions_of_their_values(k, s, lo, out):
    """Channels-last operands (the chains of passes.layout) are read in place where no zeros go before or past
    them, else copied into padded planes: each product equals the one of C-contiguous operands."""
    from ember.compiler import c_nhwc
    from ember.ops._window import Window
    ops = _window_ops()
    lib = ops.built()[-1]
    rng = np.random.default_rng(8)
    geo = (Window(k, s, 1, lo, 7, out),) * 2
    x, w = rng.standard_normal((3, 32, 7, 7)).astype(np.float32), rng.standard_normal((64, 32, k, k)).astype(np.float32)
    g = rng.standard_normal((3, 64, out, out)).astype(np.float32)
    x_cl, g_cl = (np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2) for a in (x, g))
    assert c_nhwc.is_channels_last(x_cl) and not c_nhwc.is_channels_last(x)
    for a, b in [(lib.conv(x_cl, geo, w, channels_last=True), lib.conv(x, geo, w)),
                 (lib.conv_input(g_cl, geo, w, x.shape, channels_last=True), lib.conv_input(g, geo, w, x.shape)),
                 (lib.conv_weight(x_cl, g_cl, geo), lib.conv_weight(x, g, geo))]:
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * np.abs(b).max())


@needs_cc
@pytest.mark.parametrize("c,o,k,s", [(16, 16, 3, 1), (32, 64, 3, 2), (64, 8, 3, 1)])
def test_the_weight_gradients_kernel_position_tile_gives_the_channel_tiles_bits(c, o, k, s, monkeypatch):
    """em_cl_wtaps (vectors of input channels, 3 kernel positions at a time) forms the products and sums of the
    channel tiles (vectors of output channels) in the same order: the same bits where those run (16 output
    channels and more), eager's gradient to float32 rounding; it runs for 3x3 kernels of 16 input channels (tile
    4), not for others."""
    from ember.compiler import c_nhwc
    from ember.ops._window import Window
    lib = _window_ops().built()[-1]
    rng = np.random.default_rng(c + o)
    n, hw = 3, 9
    out = (hw + 2 - k) // s + 1
    geo = (Window(k, s, 1, 1, hw, out),) * 2
    x, g = (rng.standard_normal(shape).astype(np.float32) for shape in ((n, c, hw, hw), (n, o, out, out)))
    assert c_nhwc._weight_tile(c, o, k * k, False) == 4 and c_nhwc._weight_tile(c, o, 1, False) != 4
    assert c_nhwc._weight_tile(12, o, k * k, False) != 4
    taps = lib.conv_weight(x, g, geo)
    w = ember.zeros((o, c, k, k), requires_grad=True)
    F.conv2d(ember.tensor(x), w, stride=s, padding=1).backward(ember.tensor(g))
    want = w.grad.numpy().reshape(taps.shape)
    np.testing.assert_allclose(taps, want, rtol=0, atol=1e-5 * np.abs(want).max())
    if o % 16 == 0:
        choose = c_nhwc._weight_tile
        monkeypatch.setattr(c_nhwc, "_weight_tile", lambda c, o, kk, channels_last: choose(c, o, 1, channels_last))
        np.testing.assert_array_equal(taps, lib.conv_weight(x, g, geo))


@needs_cc
def test_channels_last_convolutions_give_the_same_bits_on_one_thread_and_on_two(monkeypatch):
    """A channels-last op's blocks of images (their number set by the batch alone, taken by the OpenMP threads as
    they come; the weight gradient's sums one per block, added in block order): the same bits on 1 and 2 threads."""
    from ember.compiler import c_nhwc
    from ember.ops._window import Window
    ops = _window_ops()
    lib = ops.built()[-1]
    rng = np.random.default_rng(14)
    geo = (Window(3, 2, 1, 1, 9, 5),) * 2
    x = rng.standard_normal((11, 32, 9, 9)).astype(np.float32)  # 11 images: blocks of 2, the last one of 1
    w, g = (rng.standard_normal(shape).astype(np.float32) for shape in ((32, 32, 3, 3), (11, 32, 5, 5)))
    monkeypatch.setattr(c_nhwc, "_SPLIT_MIN", 1)
    threads, runs = ember.get_num_threads(), []
    try:
        for count in (1, 2):
            ember.set_num_threads(count)
            runs.append([lib.conv(x, geo, w), lib.conv_input(g, geo, w, x.shape), lib.conv_weight(x, g, geo)])
    finally:
        ember.set_num_threads(threads)
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    want = ember.tensor(x, requires_grad=True), ember.tensor(w, requires_grad=True)
    out = F.conv2d(*want, stride=2, padding=1)
    out.backward(ember.tensor(g))
    for a, b in zip(runs[1], (out.detach().numpy(), *(t.grad.numpy() for t in want))):
        np.testing.assert_allclose(a, b.reshape(a.shape), rtol=0, atol=1e-5 * np.abs(b).max())


@needs_cc
@pytest.mark.parametrize("layout,dtype", [("nchw", np.float32), ("nchw", np.float64), ("channels_last", np.float32)],
                         ids=["nchw-f32", "nchw-f64", "channels_last-f32"])  # channels-last convolutions: float32
def test_batch_norm_then_relu_and_a_residual_run_in_the_batch_norms_last_pass(dtype, layout):
    """A batch norm read only by a ReLU kernel (or by Add,ReLU with a value made before it: a residual) does both
    in its own last pass (CNormalize{relu=True}, the kernels gone), as eager: (N, C, H, W) or channels-last (the
    chain of convolutions of 32 channels, float32 only)."""
    channels, x_np, w_np, edtype = _conv_bn_inputs(layout, dtype, 9, (5, 6))
    results = []
    for compiled in (False, True):
        bn1, bn2 = (ember.nn.BatchNorm2d(channels).to(edtype) for _ in range(2))
        leaves = [ember.tensor(x_np, requires_grad=True), ember.tensor(w_np, requires_grad=True), *bn1.parameters(),
                  *bn2.parameters()]  # each call starts without a .grad (the third one runs the graph)

        def step(x, w, *params):
            h = F.relu(bn1(F.conv2d(x, w, padding=1)))
            y = F.relu(bn2(F.conv2d(h, w, padding=1)) + h)
            out = F.conv2d(y, w)  # the chain ends in a convolution (4 channels: (N, C, H, W) throughout)
            out.square().mean().backward()
            return out

        out, grads, f = _backward_step(step, leaves, compiled)
        results.append([out, *grads, bn2.running_mean.numpy().copy()])
    folded = [op.node for op in f.graph.walk() if type(op.node).__name__ == "CNormalize"]
    assert len(folded) == 2 and all(n.relu for n in folded)
    assert not any(op.name == "FusedKernel" and "Relu" in op.node.ops.split(",") for op in f.graph.walk())
    _assert_compiled_agrees(results, dtype)


def _conv_bn_inputs(layout, dtype, seed, hw):
    """(channels, x, w, the ember dtype) of a chain of convolutions and batch norms: 32 channels, which run
    channels-last (float32), or 4 ((N, C, H, W) throughout)."""
    rng = np.random.default_rng(seed)
    channels = 32 if layout == "channels_last" else 4
    x = rng.standard_normal((3, channels) + hw).astype(dtype)
    w = (rng.standard_normal((channels, channels, 3, 3)) * 0.2).astype(dtype)
    return channels, x, w, ember.float64 if dtype == np.float64 else ember.float32


def _assert_compiled_agrees(results, dtype):
    """results = [eager's arrays, compiled's]: finite, and equal to float32 (or float64) rounding."""
    for a, b in zip(*results[::-1]):
        assert np.isfinite(b).all()
        np.testing.assert_allclose(a, b, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)


@needs_cc
@pytest.mark.parametrize("act", [0, 1, 3], ids=["plain", "relu", "residual_relu"])
def test_channels_last_batch_norm_kernels_equal_float64_sums_on_any_split(act, monkeypatch):
    """The channels-last batch norm's C kernels (rows in chunks, each chunk's sums in double, shifted by the
    first row so that the one-pass variance stays exact far from zero): the statistics, y and the three
    gradients equal a float64 reference, with the same bits on one thread and on two (OpenMP threads taking the
    chunks)."""
    from ember.compiler import c_norm
    fns = c_norm._functions(cache.load(c_backend.runtime_source(c_backend.data_offset()), COMPILER))["f32"]
    rng = np.random.default_rng(12)
    m, c, eps = 2 * c_norm._CL_ROWS + 37, 32, 1e-5  # two chunks and a tail
    x = (rng.standard_normal((m, c)) * 2 + 0.5).astype(np.float32)
    far = (rng.standard_normal((m, c)) * 1e-3 + 1e4).astype(np.float32)  # mean^2 / var ~ 1e14
    w, b = (rng.standard_normal(c).astype(np.float32) for _ in range(2))
    res, g = (rng.standard_normal((m, c)).astype(np.float32) for _ in range(2))
    res[3, 5] = np.nan  # relu keeps NaN (as np.maximum)
    calls = []
    threads_of = c_norm._cl_threads
    monkeypatch.setattr(c_norm, "_cl_threads", lambda *a: calls.append(threads_of(*a)) or calls[-1])
    threads, runs = ember.get_num_threads(), []
    try:
        for count, split_min in ((1, 1 << 40), (2, 1)):
            ember.set_num_threads(count)
            monkeypatch.setattr(c_norm, "_SPLIT_MIN", split_min)
            out = [np.empty_like(x), np.empty_like(x), np.empty(c, np.float32), np.empty(c, np.float32)]
            stats = [np.empty(c, np.float32) for _ in range(6)]  # mean, var, rstd of x, then of far
            c_norm._cl_forward(fns, m, c, eps, x, w, b, out[0], *stats[:3], act, res if act & 2 else out[0])
            c_norm._cl_forward(fns, m, c, eps, far, w, b, np.empty_like(x), *stats[3:], 0, x)
            c_norm._cl_gradient(fns, m, c, (1, 1, 1), (x, w, g, stats[0], stats[2]), out[1:])
            runs.append(out + stats)
    finally:
        ember.set_num_threads(threads)
    assert 1 in calls and 2 in calls  # one thread, then the chunks over two
    for a, b_ in zip(*runs):
        np.testing.assert_array_equal(a, b_)  # the split changes no bit
    y, gx, gw, gb, mean, var, rstd, far_mean, far_var, _ = runs[0]
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    np.testing.assert_allclose(mean, x64.mean(0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(var, x64.var(0), rtol=1e-6)
    np.testing.assert_allclose(far_mean, far.astype(np.float64).mean(0), rtol=1e-7)
    np.testing.assert_allclose(far_var, far.astype(np.float64).var(0), rtol=1e-5)
    np.testing.assert_allclose(rstd, 1 / np.sqrt(x64.var(0) + eps), rtol=1e-6)
    xhat = (x64 - x64.mean(0)) / np.sqrt(x64.var(0) + eps)
    want = xhat * w + b + (res if act & 2 else 0)
    np.testing.assert_allclose(y, np.maximum(want, 0) if act & 1 else want, rtol=0, atol=1e-5 * np.nanmax(abs(want)))
    want_gx = w / np.sqrt(x64.var(0) + eps) * (g64 - g64.mean(0) - xhat * (g64 * xhat).mean(0))
    np.testing.assert_allclose(gx, want_gx, rtol=0, atol=1e-5 * np.abs(want_gx).max())
    np.testing.assert_allclose(gw, (g64 * xhat).sum(0), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(gb, g64.sum(0), rtol=1e-5, atol=1e-4)


@needs_cc
def test_channels_last_batch_norms_of_channels_not_filling_blocks_run_on_a_copy():
    """A channels-last float32 batch norm whose channels do not fill C's blocks of 16 (and a float64 one) runs
    the (N, C, H, W) kernels on a copy: as eager."""
    from ember.compiler import c_norm
    rng = np.random.default_rng(13)
    for channels, dtype in ((24, np.float32), (32, np.float64)):
        x_np = rng.standard_normal((3, 5, 4, channels)).astype(dtype).transpose(0, 3, 1, 2)  # channels-last memory
        assert c_norm.is_channels_last(x_np)
        g = ember.tensor(rng.standard_normal(x_np.shape).astype(dtype))
        results = []
        for compiled in (False, True):
            bn = ember.nn.BatchNorm2d(channels).to(ember.float64 if dtype == np.float64 else ember.float32)
            leaves = [ember.Tensor._wrap(x_np.copy(order="K")).requires_grad_(), bn.weight, bn.bias]

            def step(x, w, b, g):
                y = bn(x)
                y.backward(g)
                return y

            out, grads, f = _backward_step(step, leaves, compiled, g)
            results.append([out, *grads])
        assert "CNormalize" in [op.name for op in f.graph.walk()]
        for a, b in zip(*results):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@needs_cc
def test_a_kernel_splits_from_fewer_values_while_an_openmp_team_is_hot(monkeypatch):
    """A fused kernel outside C segments runs on ember's threads from render_c.PARALLEL_MIN values, and from
    HOT_PARALLEL_MIN while an OpenMP team ran less than a second ago (its threads wake in microseconds): the
    same values either way."""
    from ember.compiler import render_c
    teams = []
    threads_of = c_backend._Launcher._threads
    monkeypatch.setattr(c_backend._Launcher, "_threads", lambda self: teams.append(threads_of(self)) or teams[-1])
    f = ember.compile(lambda x: (x * 2).relu() + 1)
    x = ember.randn(render_c.HOT_PARALLEL_MIN)
    threads = ember.get_num_threads()
    ember.set_num_threads(2)
    try:
        want = [f(x) for _ in range(3)][-1]
        assert [op.name for op in f.graph.walk()] == ["FusedKernel"]
        results = []
        for team_at in (-1e9, time.perf_counter()):
            monkeypatch.setitem(_threads._state, "team_at", team_at)
            results.append(f(x))
    finally:
        ember.set_num_threads(threads)
    assert teams[-2:] == [1, 2]
    for r in results:
        np.testing.assert_array_equal(r.numpy(), want.numpy())


@needs_cc
def test_max_pooling_splits_while_an_openmp_team_is_hot_to_the_same_values(monkeypatch):
    """Max pooling and its gradient in C split from render_c.HOT_PARALLEL_MIN values of work while an OpenMP team
    is hot (as the fused kernels): the same values and gradients as on one thread."""
    from ember.compiler import render_c
    asked = []
    threads_for = render_c.threads_for
    monkeypatch.setattr(render_c, "threads_for", lambda size: asked.append((size, threads_for(size))) or asked[-1][1])
    x = ember.randn(64, 6, 28, 28, requires_grad=True)

    def step(x):
        y = F.max_pool2d(x, 2)
        (y * y).sum().backward()
        return y

    f = ember.compile(step)
    threads = ember.get_num_threads()
    ember.set_num_threads(2)
    try:
        results, pools = [], []
        for team_at in (-1e9, time.perf_counter()):
            monkeypatch.setitem(_threads._state, "team_at", team_at)
            for _ in range(3):
                x.grad = None
                del asked[:]
                y = f(x)
            results.append((y.numpy(), x.grad.numpy()))
            pools.append([t for size, t in asked if size == x.numel()])  # the pool's 14*14*4 and its scatter's 28*28
    finally:
        ember.set_num_threads(threads)
    assert {"CMaxPool", "CMaxPoolScatter"} <= {op.name for op in f.graph.walk()}
    assert pools == [[1, 1], [2, 2]]
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@needs_cc
def test_a_segments_kernels_below_the_split_size_run_on_the_calling_thread(monkeypatch):
    """Inside a C segment a fused kernel gets the segment's threads only from render_c.PARALLEL_MIN values (the
    kernels split whenever given two: an OpenMP team per small kernel, spinning beside OpenBLAS's threads, made
    a small MLP's step 10x slower)."""
    calls = []
    emit = c_graph._emit_kernel
    monkeypatch.setitem(c_graph._EMIT, FusedKernel, lambda r, op: calls.append((op, emit(r, op))) or calls[-1][1])
    model = ember.nn.Sequential(ember.nn.Linear(8, 16), ember.nn.Tanh(), ember.nn.Linear(16, 4))  # (a ReLU and
    step = ember.compile(classification_step(model, ember.optim.SGD(model.parameters(), lr=0.1)))  # its gradient
    for _ in range(3):  # would go in the products' stores)
        step(ember.randn(5, 8), ember.tensor([0, 1, 2, 3, 0]))
    assert calls, "no kernel in a segment"
    for op, lines in calls:
        assert ", 1, " in lines[-1] and "nthreads" not in lines[-1], lines


def _convolve_in_child(f, x, want, queue):
    queue.put((ember.get_num_threads(), bool((f(x) == want).all())))


@needs_cc
@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_child_runs_the_compiled_convolutions_on_one_thread(monkeypatch):
    """After the parent ran channels-last convolutions on two OpenMP threads, a forked child (a DataLoader worker,
    Hogwild training) runs them on one thread, to the same values (GNU OpenMP cannot start threads there: its
    first parallel region would wait forever)."""
    import multiprocessing
    from ember.compiler import c_nhwc
    teams, run = [], c_nhwc.ChannelsLastConv._run

    def spy(self, n, work, steps):
        teams.append(c_nhwc._threads.team(n, work, c_nhwc._SPLIT_MIN))
        return run(self, n, work, steps)

    monkeypatch.setattr(c_nhwc.ChannelsLastConv, "_run", spy)
    _numpy_traces(monkeypatch)
    threads = ember.get_num_threads()
    ember.set_num_threads(2)
    try:
        w = ember.randn(32, 32, 3, 3)
        f = ember.compile(lambda x: F.conv2d(x, w, padding=1))
        x = ember.randn(32, 32, 16, 16)
        want = [f(x) for _ in range(3)][-1]
        assert teams == [2]  # the third call ran the graph
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        child = ctx.Process(target=_convolve_in_child, args=(f, x, want, queue))
        child.start()
        child.join(60)
        hung = child.is_alive()
        if hung:
            child.kill()
        assert not hung and queue.get(timeout=5) == (1, True)
    finally:
        ember.set_num_threads(threads)


@needs_cc
@pytest.mark.parametrize("layout,dtype", [("nchw", np.float32), ("nchw", np.float64), ("channels_last", np.float32)],
                         ids=["nchw-f32", "nchw-f64", "channels_last-f32"])
def test_a_relu_gradient_read_only_by_a_batch_norm_gradient_is_taken_by_it(dtype, layout):
    """A ReLU gradient kernel whose result only a batch norm's gradient reads goes (CNormalizeGrad{relu=True}
    reading the ReLU's output: channels-last, its C passes mask the gradient; else NumPy masks it first), as
    eager; so does a dead ReLU (all its inputs negative: the batch norm's weight gradient is zero)."""
    channels, x_np, w_np, edtype = _conv_bn_inputs(layout, dtype, 15, (6, 5))
    results = []
    for compiled in (False, True):
        bn = ember.nn.BatchNorm2d(channels).to(edtype)
        with ember.no_grad():
            bn.bias[:2] = -50.0  # two channels whose ReLU passes nothing
        leaves = [ember.tensor(x_np, requires_grad=True), ember.tensor(w_np, requires_grad=True), *bn.parameters()]

        def step(x, w, *params):
            out = F.conv2d(F.relu(bn(F.conv2d(x, w, padding=1))), w)
            out.square().mean().backward()
            return out

        out, grads, f = _backward_step(step, leaves, compiled)
        results.append([out, *grads])
    grads = [op.node for op in f.graph.walk() if type(op.node).__name__ == "CNormalizeGrad"]
    assert len(grads) == 1 and grads[0].relu
    assert not any(op.name == "FusedKernel" and "ReluGrad" in op.node.ops.split(",") for op in f.graph.walk())
    assert not results[1][3][:2].any()  # the dead channels' weight gradient
    _assert_compiled_agrees(results, dtype)


@needs_cc
def test_a_residual_made_after_the_batch_norm_keeps_its_relu_kernel():
    """The folded batch norm runs where the batch norm ran: a residual computed after it cannot be read there, so
    that pair stays two ops (and the results eager's)."""
    bn = ember.nn.BatchNorm2d(3)
    x_np, z_np = np.random.default_rng(4).standard_normal((2, 2, 3, 4, 5)).astype(np.float32)
    leaves = [ember.tensor(x_np, requires_grad=True), ember.tensor(z_np, requires_grad=True), *bn.parameters()]

    def step(x, z, *params):
        k = ember.full((3, 3, 3, 3), 0.1)
        y = F.relu(bn(x) + F.conv2d(z, k, padding=1))  # the residual: a convolution after the batch norm
        out = F.conv2d(y, k)  # (a convolution reads the ReLU's result: its kernel stays apart from the backward's)
        out.square().mean().backward()
        return out

    results = [_backward_step(step, leaves, compiled)[:2] for compiled in (False, True)]
    f = _backward_step(step, leaves, True)[2]
    assert not any(getattr(op.node, "relu", False) for op in f.graph.walk())
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-5, atol=1e-6)
    for a, b in zip(results[1][1], results[0][1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
