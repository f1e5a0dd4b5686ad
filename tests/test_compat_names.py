"""PyTorch's names that are not ops (issue 13, item 5; issue 14's threads), each against torch's behaviour: the thread
count, the legacy constructors (Tensor(2, 3), FloatTensor, ...), the device/layout properties, ember.multiprocessing,
optim.LBFGS, and the modules that programs import at the top before they are built (onnx, distributed,
nn.parallel)."""
import contextlib
import io
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import ember
import ember.multiprocessing as emp
from ember import nn
from ember.ops import _threads

ROOT = pathlib.Path(__file__).resolve().parent.parent


# --- threads ------------------------------------------------------------------------------------------------------
@pytest.fixture
def threads():
    """Restore the thread count a test changes."""
    saved = _threads._state["threads"], ember.get_num_threads()
    yield
    ember.set_num_threads(saved[1])
    _threads._state["threads"] = saved[0]


def test_set_num_threads_sets_the_blas_threads(threads):
    assert ember.get_num_threads() >= 1
    ember.set_num_threads(1)
    assert ember.get_num_threads() == 1
    blas = _threads._blas()
    if blas:
        assert blas[0]() == 1
    ember.set_num_threads(2)
    assert ember.get_num_threads() == 2
    if blas:
        assert blas[0]() == 2


def test_the_thread_count_decides_how_a_large_op_splits(threads):
    if not _threads._blas():
        pytest.skip("OpenBLAS not found: large ops run on the calling thread")
    ember.set_num_threads(1)
    assert _threads.plan(np, 8, 1 << 30, 4)[0] == 1
    ember.set_num_threads(2)
    assert _threads.plan(np, 8, 1 << 30, 4) == (2, 4)


def test_a_count_set_while_an_op_splits_is_the_one_the_blas_gets_back(threads):
    if not _threads._blas():
        pytest.skip("OpenBLAS not found: large ops run on the calling thread")
    ember.set_num_threads(2)
    seen = []

    def block(n0, m, state):
        seen.append(_threads._blas()[0]())  # one BLAS thread per block meanwhile
        if n0 == 0:
            ember.set_num_threads(1)

    _threads.for_blocks(np, 4, 1, 2, block)
    assert seen == [1] * 4
    assert ember.get_num_threads() == 1 and _threads._blas()[0]() == 1


def test_conv_is_the_same_with_one_or_two_threads(threads):
    x = ember.randn(16, 8, 34, 34)
    w = ember.randn(16, 8, 3, 3)
    ember.set_num_threads(1)
    one = ember.nn.functional.conv2d(x, w).numpy()
    ember.set_num_threads(2)
    two = ember.nn.functional.conv2d(x, w).numpy()
    np.testing.assert_allclose(one, two, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fn", ["set_num_threads", "set_num_interop_threads"])
@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_thread_counts_must_be_positive_ints_as_in_torch(torch, threads, fn, bad):
    with pytest.raises(RuntimeError) as theirs:
        getattr(torch, fn)(bad)
    with pytest.raises(RuntimeError) as ours:
        getattr(ember, fn)(bad)
    assert str(ours.value) == str(theirs.value).splitlines()[0]


def test_interop_threads_are_accepted():
    saved = _threads._state["interop"]
    try:
        assert ember.get_num_interop_threads() >= 1
        ember.set_num_interop_threads(3)
        assert ember.get_num_interop_threads() == 3
    finally:
        _threads._state["interop"] = saved


def test_the_default_is_what_the_blas_was_told_and_info_shows_it():
    if not _threads._blas() and _threads._threadpoolctl is None:
        pytest.skip("neither OpenBLAS nor threadpoolctl found: the default is the number of cores")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    code = "import ember, ember.cli; print(ember.get_num_threads()); ember.cli.main(['info'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                         check=True).stdout.splitlines()
    assert out[0] == "1" and "threads: 1 (ember.set_num_threads)" in out


def test_info_shows_the_thread_count(threads):
    from ember import cli
    ember.set_num_threads(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["info"]) == 0
    assert "threads: 1 (ember.set_num_threads)" in out.getvalue().splitlines()


# --- legacy constructors ------------------------------------------------------------------------------------------
LEGACY = ["Tensor", "FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ShortTensor",
          "CharTensor", "ByteTensor", "BoolTensor"]
DATA = [
    [1, 2], [1.7, -1.7, 0.0], [[1, 0], [2, 5]], [True, False], (2, 3), [], np.array([1.5, 2.0]),
    np.array([1, 2], dtype=np.int32), np.array(3.0), range(3),
]


def _check_same(ours, theirs):
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.dtype.name == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("name", LEGACY)
@pytest.mark.parametrize("data", DATA, ids=repr)
def test_legacy_constructors_convert_data_as_torch(torch, name, data):
    if name == "ByteTensor" and isinstance(data, list) and -1.7 in data:
        pytest.skip("a negative float to uint8 is undefined in C (torch wraps, NumPy refuses)")
    _check_same(getattr(ember, name)(data), getattr(torch, name)(data))


@pytest.mark.parametrize("name", LEGACY)
@pytest.mark.parametrize("args", [(), (3,), (2, 3), (0,), (np.int64(2), 1)], ids=repr)
def test_legacy_constructors_with_sizes_are_uninitialized_as_torch(torch, name, args):
    ours, theirs = getattr(ember, name)(*args), getattr(torch, name)(*args)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.dtype.name == str(theirs.dtype).replace("torch.", "")
    assert getattr(ember, name)(ember.Size([2, 3])).shape == getattr(torch, name)(torch.Size([2, 3])).shape
    assert getattr(ember, name)(size=(4, 1)).shape == getattr(torch, name)(size=(4, 1)).shape


@pytest.mark.parametrize("name", ["Tensor", "FloatTensor", "LongTensor"])
@pytest.mark.parametrize("args", [(2.5,), (True,), ("ab",), (-1,), (2, -1), (2, 3.0), ([1, 2], 3), (None,)], ids=repr)
def test_legacy_constructors_refuse_what_torch_refuses(torch, name, args):
    with pytest.raises(Exception) as theirs:
        getattr(torch, name)(*args)
    with pytest.raises(type(theirs.value)) as ours:
        getattr(ember, name)(*args)
    assert name in str(ours.value)


def test_uint8_overflow_is_refused(torch):
    with pytest.raises(Exception):
        torch.ByteTensor([-1, 256])
    with pytest.raises(OverflowError):
        ember.ByteTensor([-1, 256])


def test_tensor_of_a_tensor_is_an_alias_of_any_dtype_as_torch(torch):
    for make in (lambda m: m.tensor([1, 2]), lambda m: m.tensor([1.0, 2.0], dtype=m.float64)):
        a, ta = make(ember), make(torch)
        b, tb = ember.Tensor(a), torch.Tensor(ta)
        assert b is not a and b.dtype.name == str(tb.dtype).replace("torch.", "")
        b[0] = 7
        tb[0] = 7
        assert a[0].item() == ta[0].item() == 7
        assert b._version == a._version


def test_a_tensor_that_requires_grad_is_refused_rather_than_cut_from_its_graph():
    with pytest.raises(RuntimeError, match="requires grad.*detach"):
        ember.Tensor(ember.zeros(2, requires_grad=True))


def test_typed_constructors_take_tensors_of_their_dtype_only(torch):
    a = ember.tensor([1.0, 2.0])
    b = ember.FloatTensor(a)
    assert b._data is a._data
    with pytest.raises(TypeError):
        torch.FloatTensor(torch.tensor([1, 2]))
    with pytest.raises(TypeError, match="FloatTensor.*int64"):
        ember.FloatTensor(ember.tensor([1, 2]))


def test_an_array_of_the_dtype_is_shared_others_are_converted(torch):
    x = np.array([1.0, 2.0], dtype=np.float32)
    assert torch.Tensor(x).data_ptr() == x.__array_interface__["data"][0]
    assert ember.Tensor(x).data_ptr() == x.__array_interface__["data"][0]
    y = np.array([1, 2])
    assert ember.Tensor(y).dtype is ember.float32 and torch.Tensor(y).dtype == torch.float32


def test_tensor_follows_the_default_dtype(torch):
    torch.set_default_dtype(torch.float64)
    ember.set_default_dtype(ember.float64)
    try:
        _check_same(ember.Tensor([1, 2]), torch.Tensor([1, 2]))
        assert ember.Tensor(2).dtype is ember.float64
        assert ember.FloatTensor([1]).dtype is ember.float32
    finally:
        torch.set_default_dtype(torch.float32)


def test_tensor_with_a_dtype_is_still_a_copy_of_data():
    a = np.array([1, 2])
    t = ember.Tensor(a, dtype=ember.int64)
    assert t.dtype is ember.int64 and t._data is not a
    assert ember.Tensor(3, dtype=ember.float32).shape == ()  # data, not a size
    assert ember.Tensor([1.0], requires_grad=True).requires_grad


def test_isinstance_of_a_legacy_type_checks_dtype_and_device_as_torch(torch):
    cases = [("zeros", (2,), {}), ("zeros", (2,), {"dtype": "float64"}), ("zeros", (2,), {"dtype": "int64"}),
             ("ones", (1,), {"dtype": "bool"}), ("zeros", (2,), {"dtype": "uint8"})]
    for fn, args, kw in cases:
        ours = getattr(ember, fn)(*args, **{k: getattr(ember, v) for k, v in kw.items()})
        theirs = getattr(torch, fn)(*args, **{k: getattr(torch, v) for k, v in kw.items()})
        for name in LEGACY[1:]:
            assert isinstance(ours, getattr(ember, name)) == isinstance(theirs, getattr(torch, name)), (name, kw)
    assert isinstance(nn.Parameter(ember.zeros(2)), ember.FloatTensor)
    assert not isinstance(np.zeros(2, np.float32), ember.FloatTensor) and not isinstance(3.0, ember.FloatTensor)
    assert isinstance(ember.FloatTensor(2), ember.Tensor) and type(ember.FloatTensor(2)) is ember.Tensor


def test_legacy_types_describe_themselves_as_torch(torch):
    assert repr(ember.FloatTensor) == repr(torch.FloatTensor).replace("torch", "ember")
    assert ember.LongTensor.dtype is ember.int64 and not ember.FloatTensor.is_cuda
    assert not issubclass(ember.FloatTensor, ember.Tensor) and not issubclass(torch.FloatTensor, torch.Tensor)
    with pytest.raises(RuntimeError, match="cpu"):
        ember.FloatTensor([1.0], device="cuda")


# --- properties ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["is_cpu", "is_cuda", "is_xpu", "is_mps", "is_sparse", "is_quantized", "is_meta"])
def test_device_and_layout_properties_answer_as_torch_on_the_cpu(torch, name):
    for make in (lambda m: m.zeros(2, 3), lambda m: m.tensor([1, 2]), lambda m: m.zeros(2, requires_grad=True)):
        ours, theirs = getattr(make(ember), name), getattr(make(torch), name)
        assert ours is theirs, name


# --- multiprocessing ----------------------------------------------------------------------------------------------
def _write_rank(i, folder, value):
    """A spawn target: writes what it got (top level, so that it pickles)."""
    t = value * (i + 1)
    pathlib.Path(folder, f"rank{i}").write_text(f"{type(t).__name__} {t.tolist()}")


def _fail_on_one(i):
    if i == 1:
        raise ValueError("rank one failed on purpose")


def _exit_three(i):
    sys.exit(3)


def _double(q_in, q_out):
    q_out.put(q_in.get() * 2)


def test_multiprocessing_has_torch_multiprocessing_names(torch):
    import torch.multiprocessing as tmp
    internals = {"ENV_VAR_PARALLEL_START", "SpawnContext", "init_reductions", "multiprocessing", "reducer",
                 "reductions", "sys", "torch"}
    missing = {n for n in dir(tmp) if not n.startswith("_")} - internals - set(dir(emp))
    assert not missing
    assert ember.multiprocessing is emp
    assert emp.cpu_count() == tmp.cpu_count() and emp.get_start_method() == tmp.get_start_method()
    assert emp.get_all_sharing_strategies() == tmp.get_all_sharing_strategies()
    assert emp.get_sharing_strategy() == tmp.get_sharing_strategy()
    emp.set_sharing_strategy("file_system")
    try:
        assert emp.get_sharing_strategy() == "file_system"
    finally:
        emp.set_sharing_strategy("file_descriptor")
    with pytest.raises(ValueError, match="unknown strategy"):
        emp.set_sharing_strategy("shared_pigeon")


def test_spawn_runs_fn_with_its_index_and_args(tmp_path):
    assert emp.spawn(_write_rank, args=(str(tmp_path), ember.tensor([1.0, 2.0])), nprocs=2) is None
    assert (tmp_path / "rank0").read_text() == "Tensor [1.0, 2.0]"
    assert (tmp_path / "rank1").read_text() == "Tensor [2.0, 4.0]"


def test_a_failing_process_raises_in_the_parent_with_its_traceback():
    with pytest.raises(emp.ProcessRaisedException, match="rank one failed on purpose") as e:
        emp.start_processes(_fail_on_one, nprocs=2, start_method="fork")
    assert e.value.error_index == 1 and "ValueError" in str(e.value)
    ctx = emp.start_processes(_exit_three, nprocs=1, join=False, start_method="fork")
    with pytest.raises(emp.ProcessExitedException, match="exit code 3") as e:
        while not ctx.join():
            pass
    assert e.value.exit_code == 3


def test_tensors_go_through_a_queue_as_copies():
    ctx = emp.get_context("fork")
    q_in, q_out = ctx.Queue(), ctx.Queue()
    p = ctx.Process(target=_double, args=(q_in, q_out))
    p.start()
    q_in.put(ember.tensor([1.0, 2.0, 3.0]))
    got = q_out.get(timeout=60)
    p.join(60)
    assert p.exitcode == 0 and isinstance(got, ember.Tensor) and got.tolist() == [2.0, 4.0, 6.0]


# --- LBFGS --------------------------------------------------------------------------------------------------------
def _lbfgs_run(m, dtype, steps, problem, **kw):
    """Parameters, losses and state counters after ``steps`` LBFGS steps of framework m on a fixed problem."""
    rng = np.random.default_rng(1)
    dt = getattr(m, dtype)
    if problem == "quartic":  # an elementwise problem: both frameworks compute the same gradients to the last bit
        x0, c, t = rng.standard_normal(50), rng.uniform(0.5, 20, 50), rng.standard_normal(50)
        params = [m.tensor(x0, dtype=dt, requires_grad=True)]
        c, t = m.tensor(c, dtype=dt), m.tensor(t, dtype=dt)

        def loss_fn():
            return (c * (params[0] - t) ** 2).sum() + ((params[0] - t) ** 4).sum() * 0.1
    else:  # a small tanh network on 32 points
        x, y = m.tensor(rng.standard_normal((32, 5)), dtype=dt), m.tensor(rng.standard_normal((32, 1)), dtype=dt)
        params = [m.tensor(a, dtype=dt, requires_grad=True) for a in
                  (rng.standard_normal((8, 5)) * 0.5, np.zeros(8), rng.standard_normal((1, 8)) * 0.5)]

        def loss_fn():
            return ((m.tanh(x @ params[0].T + params[1]) @ params[2].T - y) ** 2).mean()
    opt = m.optim.LBFGS(params, **kw)

    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    losses = [float(opt.step(closure).detach()) for _ in range(steps)]
    st = opt.state[params[0]]
    return [p.detach().numpy() for p in params], losses, (st["func_evals"], st["n_iter"]), opt


LBFGS_CASES = [
    dict(lr=0.05), dict(lr=0.05, history_size=4, max_iter=10), dict(line_search_fn="strong_wolfe"),
    dict(line_search_fn="strong_wolfe", history_size=4, max_iter=10, max_eval=14, tolerance_change=1e-12),
]


@pytest.mark.parametrize("kw", LBFGS_CASES, ids=repr)
@pytest.mark.parametrize("dtype,tol", [("float64", 1e-12), ("float32", 1e-5)])
def test_lbfgs_follows_torch(torch, kw, dtype, tol):
    ours, theirs = _lbfgs_run(ember, dtype, 3, "quartic", **kw), _lbfgs_run(torch, dtype, 3, "quartic", **kw)
    assert ours[2] == theirs[2]  # the same number of evaluations and iterations
    for a, b in zip(ours[0], theirs[0]):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=tol, atol=tol * theirs[1][0])  # losses near 0: absolute


@pytest.mark.parametrize("kw", [dict(history_size=3, max_iter=7, lr=0.5),
                                dict(line_search_fn="strong_wolfe", history_size=3, max_iter=7)], ids=repr)
def test_lbfgs_trains_a_network_as_torch(torch, kw):
    ours, theirs = _lbfgs_run(ember, "float64", 4, "mlp", **kw), _lbfgs_run(torch, "float64", 4, "mlp", **kw)
    assert ours[2] == theirs[2] and ours[1][-1] < ours[1][0] / 2
    for a, b in zip(ours[0], theirs[0]):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-9)


def test_lbfgs_state_dict_has_torch_keys_and_resumes_exactly(torch):
    kw = dict(line_search_fn="strong_wolfe", history_size=3, max_iter=5)
    _, _, _, opt = _lbfgs_run(ember, "float64", 2, "quartic", **kw)
    _, _, _, topt = _lbfgs_run(torch, "float64", 2, "quartic", **kw)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["param_groups"] == tsd["param_groups"]
    assert set(sd["state"]) == set(tsd["state"]) == {0} and set(sd["state"][0]) == set(tsd["state"][0])
    for k in ("d", "prev_flat_grad"):
        assert isinstance(sd["state"][0][k], ember.Tensor)
        np.testing.assert_allclose(sd["state"][0][k].numpy(), tsd["state"][0][k].numpy(), rtol=1e-12, atol=1e-14)
    assert [len(sd["state"][0][k]) for k in ("old_dirs", "old_stps", "ro")] == \
        [len(tsd["state"][0][k]) for k in ("old_dirs", "old_stps", "ro")]

    # a fresh optimizer loading the state takes the same next step as the one that saved it
    p = opt.param_groups[0]["params"][0]
    q = ember.tensor(p.detach().numpy().copy(), requires_grad=True)
    other = ember.optim.LBFGS([q], **kw)
    other.load_state_dict(sd)
    c, t = ember.tensor(np.linspace(0.5, 3, 50)), ember.tensor(np.linspace(-1, 1, 50))

    def closure_for(x, o):
        def closure():
            o.zero_grad()
            loss = (c * (x - t) ** 2).sum()
            loss.backward()
            return loss
        return closure

    opt.step(closure_for(p, opt))
    other.step(closure_for(q, other))
    np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_lbfgs_stops_at_once_at_an_optimum_and_checks_its_arguments(torch):
    p = ember.zeros(3, requires_grad=True)
    opt = ember.optim.LBFGS([p])

    def closure():
        opt.zero_grad()
        loss = (p ** 2).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 0 and opt.state[p]["func_evals"] == 1 and "d" not in opt.state[p]
    with pytest.raises(ValueError, match="Invalid learning rate"):
        ember.optim.LBFGS([p], lr=-1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        ember.optim.LBFGS([p], lr=float("nan"))
    with pytest.raises(ValueError, match="parameter groups"):
        ember.optim.LBFGS([{"params": [p]}, {"params": [ember.zeros(1, requires_grad=True)]}])
    with pytest.raises(ValueError, match="strong_wolfe"):
        ember.optim.LBFGS([p], line_search_fn="armijo")
    assert ember.optim.LBFGS([p]).defaults == torch.optim.LBFGS([torch.zeros(1, requires_grad=True)]).defaults


# --- modules that come with later issues: onnx, distributed, nn.parallel -----------------------------------------
def test_onnx_imports_and_is_not_exporting(torch):
    import ember.onnx
    assert ember.onnx.is_in_onnx_export() is torch.onnx.is_in_onnx_export() is False
    assert callable(ember.onnx.export)  # tested in test_onnx_export.py (with the onnx package)


def test_distributed_imports_and_answers_as_one_process(torch):
    import ember.distributed as dist
    assert dist.is_initialized() is torch.distributed.is_initialized() is False
    assert dist.ReduceOp.SUM != dist.ReduceOp.MAX
    for name in ("get_rank", "get_world_size", "all_reduce"):  # tests/test_distributed.py has the rest
        args = (ember.zeros(1),) if name == "all_reduce" else ()
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            getattr(dist, name)(*args)


def test_data_parallel_on_the_cpu_is_torch_pass_through_wrapper(torch):
    from ember.nn.parallel import DataParallel, DistributedDataParallel
    assert nn.DataParallel is DataParallel and nn.parallel.DataParallel is DataParallel
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    dp = nn.DataParallel(model, device_ids=[0, 1])
    tdp = torch.nn.DataParallel(torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2)),
                                device_ids=[0, 1])
    assert list(dp.state_dict()) == list(tdp.state_dict()) and dp.device_ids == tdp.device_ids == []
    assert dp.module is model and all(a is b for a, b in zip(dp.parameters(), model.parameters()))
    x = ember.randn(5, 4)
    out = dp(x)
    np.testing.assert_array_equal(out.detach().numpy(), model(x).detach().numpy())
    out.sum().backward()
    assert model[0].weight.grad is not None
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedDataParallel(model)  # without init_process_group, as PyTorch's


def test_the_modules_import_as_programs_write_them():
    code = ("import ember.onnx, ember.distributed as dist, ember.multiprocessing as mp\n"
            "from ember.nn.parallel import DistributedDataParallel as DDP\n"
            "import ember\n"
            "assert ember.distributed is dist and ember.multiprocessing is mp\n"
            "assert ember.onnx.export and ember.nn.DataParallel and DDP\n")
    subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(ROOT)), check=True, timeout=120)
