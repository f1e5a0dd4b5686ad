"""PyTorch's module paths and device questions, answered by ember as PyTorch answers them on this machine:
torch.utils.data, torch.utils.tensorboard, torch.cuda, torch.accelerator, torch.backends, torch.amp (autocast and
GradScaler), and PyTorch-style training programs that use them with only the import changed."""
import contextlib
import os
import pickle
import sys
import textwrap
import threading
import types
import warnings

import numpy as np
import pytest

import ember
from ember import dtypes as _dt
from ember.ops import _autocast

needs_bf16 = pytest.mark.skipif(ember.bfloat16 is None, reason="bfloat16 needs ml_dtypes")
no_gpu = pytest.mark.skipif(ember.cuda.is_available(), reason="compares with PyTorch on a machine without a GPU")


def caught(fn):
    """fn()'s result and the categories of the warnings it raised."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        out = fn()
    return out, [w.category for w in record]


# --- torch.utils.data ------------------------------------------------------------------------------------------

def test_utils_data_is_ember_data():
    import ember.utils.data
    from ember.utils.data import DataLoader, Dataset, TensorDataset, random_split  # noqa: F401
    from ember.utils.data.dataloader import default_collate
    from ember.utils.data.sampler import BatchSampler
    assert ember.utils.data.DataLoader is ember.data.DataLoader
    assert default_collate is ember.data.default_collate and BatchSampler is ember.data.BatchSampler
    names = (ember.data.dataset.__all__ + ember.data.sampler.__all__ + ember.data.dataloader.__all__
             + ember.data.distributed.__all__)
    for name in names:
        assert getattr(ember.utils.data, name) is getattr(ember.data, name), name
    assert sorted(ember.utils.data.__all__) == sorted(names)


def test_utils_data_has_every_torch_name_that_ember_has(torch):
    import torch.utils.data as tud
    shared = [n for n in tud.__all__ if hasattr(ember.data, n)]
    assert {"DataLoader", "Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "random_split",
            "default_collate", "get_worker_info", "RandomSampler", "BatchSampler"} <= set(shared)
    for n in shared:
        assert getattr(ember.utils.data, n) is getattr(ember.data, n)


def test_a_torch_utils_data_program_runs():
    torch = ember
    from ember.utils.data import DataLoader, TensorDataset, random_split
    ds = TensorDataset(torch.arange(10.0).reshape(10, 1), torch.arange(10))
    train, val = random_split(ds, [8, 2], generator=torch.Generator().manual_seed(0))
    batches = list(torch.utils.data.DataLoader(train, batch_size=3))
    assert [len(y) for _, y in batches] == [3, 3, 2]
    assert len(DataLoader(val, batch_size=1)) == 2


# --- torch.nn.modules ----------------------------------------------------------------------------------------------

def test_nn_modules_paths_hold_ember_nn_classes(torch):
    """Programs name classes by PyTorch's paths (safe_globals lists: torch.nn.modules.rnn.LSTM, ...): each class
    ember.nn has is at the path where torch.nn keeps it, and it is ember.nn's very class."""
    import inspect
    import ember.nn.modules.rnn  # the paths import as modules, too
    found = 0
    for name in dir(torch.nn):
        cls = getattr(torch.nn, name)
        if inspect.isclass(cls) and cls.__module__.startswith("torch.nn.modules.") and hasattr(ember.nn, name):
            path = cls.__module__.replace("torch.", "ember.", 1)
            assert getattr(sys.modules.get(path), name, None) is getattr(ember.nn, name), f"{path}.{name}"
            found += 1
    assert found > 80 and ember.nn.modules.rnn.LSTM is ember.nn.LSTM
    out_proj = type(ember.nn.MultiheadAttention(4, 2).out_proj)
    assert ember.nn.modules.linear.NonDynamicallyQuantizableLinear is out_proj
    assert ember.nn.modules.module.register_module_forward_hook is ember.nn.module.register_module_forward_hook


# --- torch.cuda, torch.accelerator, torch.backends ------------------------------------------------------------------

@no_gpu
def test_cuda_answers_as_torch_on_this_machine(torch):
    assert ember.cuda.is_available() is False is torch.cuda.is_available()
    assert ember.cuda.device_count() == 0 == torch.cuda.device_count()
    assert ember.cuda.is_bf16_supported() is False is torch.cuda.is_bf16_supported()
    assert ember.cuda.is_initialized() is False is torch.cuda.is_initialized()
    for name in ("memory_allocated", "max_memory_allocated", "memory_reserved"):
        assert getattr(ember.cuda, name)() == 0 == getattr(torch.cuda, name)()
    for name in ("empty_cache", "seed"):
        assert getattr(ember.cuda, name)() is None is getattr(torch.cuda, name)()
    state = ember.get_rng_state()
    for name in ("manual_seed", "manual_seed_all"):  # accepted, and the CPU stream is left alone
        assert getattr(ember.cuda, name)(123) is None is getattr(torch.cuda, name)(123)
    assert bool((ember.get_rng_state() == state).all())
    assert ember.cuda.get_arch_list() == [] == torch.cuda.get_arch_list()
    for name in ("current_device", "get_device_name", "get_device_capability", "get_device_properties",
                 "synchronize", "mem_get_info", "init"):
        with pytest.raises((AssertionError, RuntimeError)) as mine:
            getattr(ember.cuda, name)()
        with pytest.raises(Exception) as theirs:
            getattr(torch.cuda, name)()
        if ember.backends.cuda.is_built() is False:  # like a CPU-only PyTorch: "not compiled with CUDA enabled"
            assert mine.type is theirs.type is AssertionError
            assert "not compiled with CUDA enabled" in str(mine.value)


@no_gpu
def test_accelerator_answers_as_torch_on_this_machine(torch):
    assert ember.accelerator.is_available() is False is torch.accelerator.is_available()
    assert ember.accelerator.device_count() == 0 == torch.accelerator.device_count()
    assert ember.accelerator.current_accelerator(check_available=True) is None
    if not ember.backends.cuda.is_built():
        assert ember.accelerator.current_accelerator() is None is torch.accelerator.current_accelerator()
    for name in ("current_device_index", "synchronize", "empty_cache", "memory_allocated", "get_memory_info"):
        with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available"):
            getattr(ember.accelerator, name)()
        with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available"):
            getattr(torch.accelerator, name)()
    with pytest.raises(RuntimeError):
        ember.accelerator.set_device_index(0)


def _fake_cupy(calls):
    """A stand-in for CuPy with two GPUs, recording the calls ember.cuda makes."""
    current = [0]

    class Pool:
        def used_bytes(self):
            return 1000 + current[0]

        def total_bytes(self):
            return 4096 + current[0]

        def free_all_blocks(self):
            calls.append("free")

    @contextlib.contextmanager
    def device(i):
        prev, current[0] = current[0], i
        yield
        current[0] = prev

    runtime = types.SimpleNamespace(
        getDeviceCount=lambda: 2, getDevice=lambda: current[0], setDevice=lambda i: current.__setitem__(0, i),
        deviceSynchronize=lambda: calls.append(("sync", current[0])), memGetInfo=lambda: (10 + current[0], 20),
        getDeviceProperties=lambda i: {"name": b"Fake GPU %d" % i, "major": 8, "minor": 6, "totalGlobalMem": 2 << 30,
                                       "multiProcessorCount": 84})
    return types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=runtime, Device=device),
                                 get_default_memory_pool=Pool, get_default_pinned_memory_pool=Pool)


def test_cuda_delegates_to_cupy_when_a_gpu_is_there(monkeypatch):
    calls = []
    fake = _fake_cupy(calls)
    for module in (sys.modules["ember.device"], ember.cuda, ember.backends.cuda):
        monkeypatch.setattr(module, "_cupy", fake)
    monkeypatch.setattr(ember.cuda, "_initialized", False)
    assert ember.cuda.is_available() and ember.accelerator.is_available()
    assert ember.cuda.device_count() == 2 == ember.accelerator.device_count()
    assert ember.accelerator.current_accelerator() == ember.device("cuda")
    assert ember.cuda.current_device() == 0 and ember.cuda.is_initialized()
    assert ember.cuda.get_device_name(1) == "Fake GPU 1" and ember.cuda.get_device_capability() == (8, 6)
    assert ember.cuda.get_device_properties("cuda:1").total_memory == 2 << 30
    with ember.cuda.device(1):
        assert ember.cuda.current_device() == 1 and ember.accelerator.current_device_index() == 1
    assert ember.cuda.current_device() == 0
    ember.cuda.synchronize(1)
    ember.accelerator.synchronize()
    assert calls == [("sync", 1), ("sync", 0)]
    assert ember.cuda.memory_allocated() == 1000 and ember.cuda.memory_allocated(1) == 1001
    assert ember.cuda.memory_reserved() == 4096 == ember.cuda.max_memory_allocated()
    assert ember.cuda.mem_get_info(1) == (11, 20) and ember.cuda.get_arch_list() == ["sm_86"]
    ember.cuda.empty_cache()
    assert calls[-2:] == ["free", "free"]
    ember.cuda.manual_seed(5)  # the default generator draws CUDA numbers: seeded with a GPU
    assert ember.initial_seed() == 5
    ember.cuda.set_device(1)
    assert ember.cuda.current_device() == 1
    assert ember.cuda.is_bf16_supported() is False  # CuPy has no bfloat16
    with pytest.raises(RuntimeError, match="bfloat16"):
        ember.autocast("cuda", dtype=ember.bfloat16)
    assert ember.amp.GradScaler().is_enabled() and ember.autocast("cuda")._enabled


@pytest.fixture
def restore_backends():
    """Put ember's backend settings back after a test that changes them."""
    cudnn, m = ember.backends.cudnn, ember.backends.cuda.matmul
    saved = {n: getattr(cudnn, n) for n in ("enabled", "benchmark", "benchmark_limit", "deterministic", "allow_tf32")}
    precision, det = m._precision, dict(ember.backends._deterministic)
    yield
    for n, v in saved.items():
        setattr(cudnn, n, v)
    m._precision = precision
    ember.backends._deterministic.update(det)


def test_backends_defaults_and_answers_as_torch(torch):
    cudnn, tc = ember.backends.cudnn, torch.backends.cudnn
    for name in ("enabled", "benchmark", "deterministic", "allow_tf32"):
        assert getattr(cudnn, name) == getattr(tc, name), name
    assert cudnn.is_available() is False and cudnn.version() is None
    if not torch.cuda.is_available():
        assert tc.is_available() is False and tc.version() is None
    assert ember.backends.mps.is_available() is False is torch.backends.mps.is_available()
    assert ember.backends.mps.is_built() is False
    m, tm = ember.backends.cuda.matmul, torch.backends.cuda.matmul
    for name in ("allow_tf32", "allow_fp16_reduced_precision_reduction", "allow_bf16_reduced_precision_reduction"):
        assert getattr(m, name) == getattr(tm, name), name
    assert ember.get_float32_matmul_precision() == torch.get_float32_matmul_precision() == "highest"
    assert ember.are_deterministic_algorithms_enabled() is False is torch.are_deterministic_algorithms_enabled()
    assert ember.backends.cuda.flash_sdp_enabled() is True is torch.backends.cuda.flash_sdp_enabled()


def test_backends_settings_are_stored_as_torch_stores_them(torch, restore_backends):
    import ember.backends.cudnn as cudnn
    cudnn.benchmark = True
    cudnn.deterministic = True
    assert ember.backends.cudnn.benchmark is True and ember.backends.cudnn.deterministic is True
    with cudnn.flags(enabled=False, benchmark=True):  # every flag not given goes to flags()'s default, as torch's
        assert (cudnn.enabled, cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32) == (False, True, False, True)
    assert (cudnn.enabled, cudnn.benchmark, cudnn.deterministic) == (True, True, True)
    ember.backends.cuda.matmul.allow_tf32 = True
    assert ember.get_float32_matmul_precision() == "high"
    ember.set_float32_matmul_precision("highest")
    assert ember.backends.cuda.matmul.allow_tf32 is False
    ember.set_float32_matmul_precision("medium")
    assert ember.backends.cuda.matmul.allow_tf32 is True
    _, categories = caught(lambda: ember.set_float32_matmul_precision("fastest"))
    assert categories == [UserWarning] and ember.get_float32_matmul_precision() == "medium"
    with pytest.raises(AttributeError, match="Unknown attribute"):
        ember.backends.cuda.matmul.allow_tf33 = True
    with pytest.raises(AttributeError, match="Unknown attribute"):
        torch.backends.cuda.matmul.allow_tf33 = True
    ember.use_deterministic_algorithms(True, warn_only=True)
    assert ember.are_deterministic_algorithms_enabled() and ember.is_deterministic_algorithms_warn_only_enabled()
    # they change nothing: a convolution gives the same numbers with any setting
    x, w = ember.randn(1, 2, 5, 5), ember.randn(3, 2, 3, 3)
    a = ember.nn.functional.conv2d(x, w)
    with cudnn.flags(enabled=True, benchmark=True, deterministic=False, allow_tf32=True):
        b = ember.nn.functional.conv2d(x, w)
    assert bool((a == b).all())


# --- torch.amp: autocast ---------------------------------------------------------------------------------------

@no_gpu
def test_cuda_autocast_without_cuda_warns_and_does_nothing_as_torch(torch):
    for make_e, make_t in ((lambda: ember.autocast(device_type="cuda"), lambda: torch.autocast(device_type="cuda")),
                           (lambda: ember.amp.autocast("cuda"), lambda: torch.amp.autocast("cuda")),
                           (lambda: ember.cuda.amp.autocast(), lambda: torch.cuda.amp.autocast())):
        (ctx, mine), (theirs_ctx, theirs) = caught(make_e), caught(make_t)
        assert mine == theirs and UserWarning in mine
        assert ctx._enabled is False is theirs_ctx._enabled
        with ctx:
            assert ember.is_autocast_enabled("cuda") is False
            y = ember.nn.Linear(3, 2)(ember.randn(4, 3))
        assert y.dtype == ember.float32
    assert caught(lambda: ember.cuda.amp.autocast())[1] == [FutureWarning, UserWarning]


def test_autocast_arguments_as_torch(torch):
    with pytest.raises(ValueError, match="device_type"):
        ember.autocast(0)
    with pytest.raises(ValueError, match="device_type"):
        torch.autocast(0)
    with pytest.raises(RuntimeError):
        ember.autocast("tpu")
    for dtype in ("float32", "float64"):
        (ctx, mine), (tctx, theirs) = caught(lambda: ember.autocast("cpu", dtype=getattr(ember, dtype))), \
            caught(lambda: torch.autocast("cpu", dtype=getattr(torch, dtype)))
        assert mine == theirs == [UserWarning] and ctx._enabled is False is tctx._enabled
    assert ember.get_autocast_dtype("cpu") is ember.bfloat16 and ember.get_autocast_dtype("cuda") is ember.float16
    assert ember.amp.is_autocast_available("cpu") and ember.amp.is_autocast_available("cuda")


@needs_bf16
def test_autocast_state_nests_as_torch(torch):
    def states(lib):
        out = [lib.is_autocast_enabled("cpu"), lib.is_autocast_enabled()]
        with lib.autocast("cpu"):
            out += [lib.is_autocast_enabled("cpu"), lib.is_autocast_enabled(), str(lib.get_autocast_dtype("cpu"))]
            with lib.autocast("cpu", enabled=False):
                out.append(lib.is_autocast_enabled("cpu"))
            with lib.autocast("cpu", dtype=lib.float16):
                out.append(str(lib.get_autocast_dtype("cpu")))
            out += [lib.is_autocast_enabled("cpu"), str(lib.get_autocast_dtype("cpu"))]
        return out + [lib.is_autocast_enabled("cpu")]
    assert [str(s).replace("ember", "torch") for s in states(ember)] == [str(s) for s in states(torch)]
    assert _autocast.active == 0 and not _autocast._state.cache


def _r(*shape, seed=0):
    return np.random.default_rng(seed + len(shape)).standard_normal(shape).astype(np.float32)


_A, _B, _Ab, _Bb, _Cb, _M = _r(3, 4), _r(4, 5), _r(2, 3, 4), _r(2, 4, 5), _r(2, 3, 5), _r(3, 5, seed=1)
_X4, _K4, _B4, _X3, _K3 = _r(2, 3, 6, 6), _r(4, 3, 3, 3), _r(4), _r(2, 3, 7), _r(4, 3, 2)
_AUTOCAST_OPS = {  # name: (fn(lib, tensor) -> output, arrays); the ops PyTorch's CPU autocast runs in bfloat16
    "linear": (lambda F, a, w, b: F.linear(a, w, b), (_A, _B.T.copy(), _r(5))),
    "matmul": (lambda F, a, b: a @ b, (_Ab, _B)),
    "mm": (lambda F, a, b: a.mm(b), (_A, _B)),
    "bmm": (lambda F, a, b: a.bmm(b), (_Ab, _Bb)),
    "addmm": (lambda F, c, a, b: c.addmm(a, b, beta=0.5, alpha=2), (_M, _A, _B)),
    "baddbmm": (lambda F, c, a, b: c.baddbmm(a, b), (_Cb, _Ab, _Bb)),
    "einsum": (lambda F, a, b: F.einsum("bij,bjk->bik", a, b), (_Ab, _Bb)),
    "conv1d": (lambda F, x, w, b: F.conv1d(x, w, b, padding=1), (_X3, _K3, _B4)),
    "conv2d": (lambda F, x, w, b: F.conv2d(x, w, b, stride=2, padding=1), (_X4, _K4, _B4)),
    "conv_transpose1d": (lambda F, x, w: F.conv_transpose1d(x, w, stride=2), (_X3, _K3.transpose(1, 0, 2).copy())),
    "conv_transpose2d": (lambda F, x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1),
                         (_X4, _K4.transpose(1, 0, 2, 3).copy(), _B4)),
}


@needs_bf16
@pytest.mark.parametrize("name", sorted(_AUTOCAST_OPS))
def test_cpu_autocast_matches_torch(torch, name):
    """Outputs in bfloat16 with PyTorch's values, float32 gradients for the float32 inputs."""
    fn, arrays = _AUTOCAST_OPS[name]

    def run(lib, functional):
        xs = [lib.tensor(a, requires_grad=True) for a in arrays]
        with lib.autocast("cpu", dtype=lib.bfloat16):
            out = fn(functional, *xs) if name in ("linear",) or name.startswith("conv") else \
                fn(lib, *xs)
        (out.float() * lib.tensor(np.linspace(-1, 1, out.numel(), dtype=np.float32).reshape(tuple(out.shape)))
         ).sum().backward()
        return out, [x.grad for x in xs]

    out, grads = run(ember, ember.nn.functional)
    tout, tgrads = run(torch, torch.nn.functional)
    assert out.dtype is ember.bfloat16 and str(tout.dtype) == "torch.bfloat16"
    got, want = out.float().detach().numpy(), tout.float().detach().numpy()
    scale = np.abs(want).max()
    np.testing.assert_allclose(got, want, rtol=0, atol=2 ** -7 * scale)  # bfloat16: 8 bits of mantissa
    for g, tg in zip(grads, tgrads):
        assert g.dtype is ember.float32
        np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=0, atol=2 ** -6 * np.abs(tg.numpy()).max() + 1e-6)


@needs_bf16
def test_cpu_autocast_leaves_other_ops_and_dtypes_alone(torch):
    a64, i = ember.tensor(_A.astype(np.float64)), ember.ones(3, 4, dtype=ember.int64)
    with ember.autocast("cpu"):
        assert (a64 @ a64.T).dtype is ember.float64  # float64 is never cast, as in PyTorch
        assert (i @ i.T).dtype is ember.int64
        x = ember.tensor(_A)
        assert ember.mv(x, ember.tensor(_r(4))).dtype is ember.float32  # mv is not on PyTorch's CPU list
        assert (x + 1).exp().dtype is ember.float32
        with ember.autocast("cpu", enabled=False):
            assert (x @ x.T).dtype is ember.float32
        assert (x @ x.T).dtype is ember.bfloat16
        assert ember.nn.functional.linear(x.half(), ember.tensor(_B.T.copy())).dtype is ember.bfloat16
    with torch.autocast("cpu"):
        assert torch.mv(torch.tensor(_A), torch.tensor(_r(4))).dtype == torch.float32
        assert (torch.tensor(_A).double() @ torch.tensor(_A).double().T).dtype == torch.float64


@needs_bf16
def test_cpu_autocast_on_modules_keeps_float32_parameters():
    model = ember.nn.Sequential(ember.nn.Conv2d(3, 4, 3, stride=2), ember.nn.ReLU(), ember.nn.Flatten(),
                                ember.nn.Linear(4 * 2 * 2, 3))
    x = ember.randn(2, 3, 6, 6)
    with ember.autocast("cpu", dtype=ember.bfloat16):
        out = model(x)
        assert len(_autocast._state.cache) == 4  # each parameter cast once for the region (PyTorch's weight cache)
    assert out.dtype is ember.bfloat16 and not _autocast._state.cache  # the cache goes with the region
    ember.nn.functional.cross_entropy(out.float(), ember.tensor([0, 2])).backward()
    for p in model.parameters():
        assert p.dtype is ember.float32 and p.grad.dtype is ember.float32
    with ember.no_grad(), ember.autocast("cpu"):
        assert model(x).dtype is ember.bfloat16


@needs_bf16
def test_autocast_as_decorator_and_per_thread():
    seen = {}

    @ember.autocast("cpu")
    def forward(x):
        seen["main"] = ember.is_autocast_enabled("cpu")
        t = threading.Thread(target=lambda: seen.update(other=(ember.is_autocast_enabled("cpu"),
                                                               (x @ x.T).dtype)))
        t.start()
        t.join()
        return x @ x.T

    assert forward(ember.tensor(_A)).dtype is ember.bfloat16
    assert seen == {"main": True, "other": (False, ember.float32)}
    assert ember.is_autocast_enabled("cpu") is False and _autocast.active == 0


def test_cpu_autocast_without_ml_dtypes_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(_autocast._state, "dtype", {"cpu": None, "cuda": _dt.float16})
    with pytest.raises(RuntimeError, match="ml_dtypes"):
        ember.autocast("cpu")
    ember.autocast("cpu", enabled=False)  # nothing to cast: no error


@needs_bf16
def test_custom_fwd_and_bwd():
    class Square(ember.autograd.Function):
        @staticmethod
        @ember.amp.custom_fwd(device_type="cpu", cast_inputs=ember.float32)
        def forward(ctx, x, w):
            ctx.save_for_backward(x, w)
            return x @ w  # autocast is off in here: float32

        @staticmethod
        @ember.amp.custom_bwd(device_type="cpu")
        def backward(ctx, g):
            x, w = ctx.saved_tensors
            return g @ w.T, x.T @ g

    x, w = ember.tensor(_A, requires_grad=True), ember.tensor(_B, requires_grad=True)
    with ember.autocast("cpu"):
        y = Square.apply(x.bfloat16(), w)
    assert y.dtype is ember.float32
    y.sum().backward()
    assert x.grad.dtype is ember.float32 and w.grad.shape == (4, 5)


# --- torch.amp: GradScaler -------------------------------------------------------------------------------------

@no_gpu
def test_cuda_grad_scaler_without_cuda_is_disabled_as_torch(torch):
    makers = [(lambda: ember.amp.GradScaler(), lambda: torch.amp.GradScaler()),
              (lambda: ember.amp.GradScaler("cuda"), lambda: torch.amp.GradScaler("cuda")),
              (lambda: ember.cuda.amp.GradScaler(), lambda: torch.cuda.amp.GradScaler())]
    for make_e, make_t in makers:
        (scaler, mine), (tscaler, theirs) = caught(make_e), caught(make_t)
        assert mine == theirs and mine[-1] is UserWarning
        assert scaler.is_enabled() is False is tscaler.is_enabled()
        assert scaler.get_scale() == 1.0 == tscaler.get_scale()
        assert scaler.state_dict() == {} == tscaler.state_dict()
        model = ember.nn.Linear(2, 1)
        opt = ember.optim.SGD(model.parameters(), lr=0.5)
        loss = model(ember.ones(3, 2)).sum()
        assert scaler.scale(loss) is loss
        loss.backward()
        before = model.weight.detach().clone()
        scaler.unscale_(opt)
        assert scaler.step(opt) is None and scaler.update() is None
        assert not bool((model.weight == before).all())  # step() ran optimizer.step()
    assert caught(lambda: ember.cuda.amp.GradScaler())[1] == [FutureWarning, UserWarning]
    assert caught(lambda: ember.amp.GradScaler(enabled=False))[1] == []


def _twin_models(torch):
    rng = np.random.default_rng(3)
    w, b = rng.standard_normal((2, 3)).astype(np.float32), rng.standard_normal(2).astype(np.float32)
    models = []
    for lib in (ember, torch):
        m = lib.nn.Linear(3, 2)
        with lib.no_grad():
            m.weight.copy_(lib.tensor(w))
            m.bias.copy_(lib.tensor(b))
        models.append(m)
    return models


def test_cpu_grad_scaler_matches_torch_step_by_step(torch):
    """scale, unscale_, skipped steps on inf/NaN gradients, growth and backoff, state_dict: PyTorch's numbers."""
    em, tm = _twin_models(torch)
    eo, to = ember.optim.SGD(em.parameters(), lr=0.1, momentum=0.9), torch.optim.SGD(tm.parameters(), lr=0.1,
                                                                                       momentum=0.9)
    es = ember.amp.GradScaler("cpu", init_scale=2.0 ** 10, growth_interval=3)
    ts = torch.amp.GradScaler("cpu", init_scale=2.0 ** 10, growth_interval=3)
    assert es.get_scale() == ts.get_scale() == 1024.0 and es.state_dict() == ts.state_dict()
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    for it in range(9):
        eo.zero_grad()
        to.zero_grad()
        el, tl = (em(ember.tensor(x)) ** 2).sum(), (tm(torch.tensor(x)) ** 2).sum()
        es_loss, ts_loss = es.scale(el), ts.scale(tl)
        assert es_loss.dtype is ember.float32
        np.testing.assert_allclose(es_loss.item(), ts_loss.item(), rtol=1e-6)
        es_loss.backward()
        ts_loss.backward()
        if it in (2, 6):  # an inf gradient, then a NaN one: the step is skipped and the scale backs off
            bad = float("inf") if it == 2 else float("nan")
            em.weight.grad[0, 1] = bad
            tm.weight.grad[0, 1] = bad
        es.unscale_(eo)
        ts.unscale_(to)
        e_found, t_found = es._found_inf_per_device(eo), ts._found_inf_per_device(to)
        assert [v.item() for v in e_found.values()] == [v.item() for v in t_found.values()] == \
            [1.0 if it in (2, 6) else 0.0]
        for ep, tp in zip(em.parameters(), tm.parameters()):
            np.testing.assert_allclose(ep.grad.numpy(), tp.grad.numpy(), rtol=1e-5, atol=1e-6)  # inf, nan too
        before = em.weight.detach().clone()
        assert (es.step(eo) is None) == (ts.step(to) is None)
        assert bool((em.weight == before).all()) == (it in (2, 6))
        es.update()
        ts.update()
        assert es.state_dict() == ts.state_dict(), it
        for ep, tp in zip(em.parameters(), tm.parameters()):
            np.testing.assert_allclose(ep.detach().numpy(), tp.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert es.get_scale() == 2.0 ** 9  # backed off at 2 and 6, grew after the three good steps 3-5
    assert es._get_growth_tracker() == ts._get_growth_tracker()


def test_cpu_grad_scaler_errors_and_state_as_torch(torch):
    for lib in (ember, torch):
        scaler = lib.amp.GradScaler("cpu", init_scale=8.0, growth_factor=4.0, backoff_factor=0.25)
        model = lib.nn.Linear(2, 1)
        opt = lib.optim.SGD(model.parameters(), lr=0.1)
        with pytest.raises(AssertionError, match="_scale is None"):
            scaler.unscale_(opt)
        scaled = scaler.scale([model(lib.ones(1, 2)).sum(), (model(lib.ones(1, 2)).sum(),)])
        assert isinstance(scaled, list) and isinstance(scaled[1], tuple)
        scaled[0].backward()
        scaler.unscale_(opt)
        with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called"):
            scaler.unscale_(opt)
        scaler.step(opt)
        with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
            scaler.step(opt)
        with pytest.raises(RuntimeError, match="unscale_\\(\\) is being called after step\\(\\)"):
            scaler.unscale_(opt)
        with pytest.raises(RuntimeError, match="Closure"):
            scaler.step(opt, closure=lambda: 0)
        scaler.update(new_scale=2.0)
        assert scaler.get_scale() == 2.0
        with pytest.raises(AssertionError, match="No inf checks"):
            scaler.update()
        clone = pickle.loads(pickle.dumps(scaler))
        assert clone.state_dict() == scaler.state_dict() == {"scale": 2.0, "growth_factor": 4.0,
                                                               "backoff_factor": 0.25, "growth_interval": 2000,
                                                               "_growth_tracker": 0}
        other = lib.amp.GradScaler("cpu")
        other.load_state_dict(scaler.state_dict())
        assert other.get_scale() == 2.0 and other.get_growth_factor() == 4.0
        with pytest.raises(RuntimeError, match="empty"):
            other.load_state_dict({})
        with pytest.raises(AssertionError, match="growth factor"):
            lib.amp.GradScaler("cpu", growth_factor=1.0)


@needs_bf16
def test_cpu_grad_scaler_with_bfloat16_autocast(torch):
    model = ember.nn.Linear(3, 2)
    opt = ember.optim.SGD(model.parameters(), lr=0.1)
    scaler = ember.amp.GradScaler("cpu")
    with ember.autocast("cpu"):
        out = model(ember.randn(4, 3))
        loss = out.square().mean()
    # the 0-d float32 scale promotes a 0-d loss, not a batch of outputs (PyTorch's promotion rules)
    tscaler, tout = torch.amp.GradScaler("cpu"), torch.ones(4, 2, dtype=torch.bfloat16)
    assert str(tscaler.scale(tout).dtype) == "torch.bfloat16" and scaler.scale(out).dtype is ember.bfloat16
    assert str(tscaler.scale(tout.mean()).dtype) == "torch.float32"
    scaled = scaler.scale(loss)
    assert loss.dtype is ember.bfloat16 and scaled.dtype is ember.float32
    scaled.backward()
    scaler.step(opt)
    scaler.update()
    assert scaler.state_dict()["_growth_tracker"] == 1


# --- torch.utils.tensorboard -----------------------------------------------------------------------------------

def test_summary_writer_api_without_tensorboard(tmp_path, monkeypatch):
    from ember.utils.tensorboard import SummaryWriter
    from ember.train import loggers
    assert SummaryWriter is ember.train.SummaryWriter
    with SummaryWriter(tmp_path / "run", max_queue=3) as w:
        size = os.path.getsize(w.path)
        w.add_scalar("loss", ember.tensor(0.5), 1)
        assert os.path.getsize(w.path) == size  # held until max_queue events or flush()
        w.add_scalars("acc", {"train": 0.5, "val": np.float32(0.25)}, 1)
        w.add_histogram("w", ember.randn(100), 1)
        w.add_image("img", ember.rand(3, 4, 5), 1)
        w.add_images("imgs", np.zeros((2, 1, 4, 4), np.uint8), 1)
        w.add_text("note", "hello *world*", 1)
        w.add_hparams({"lr": 0.1, "opt": "sgd"}, {"hp/loss": 0.5}, run_name="hp")
        w.flush()
    events = loggers.read_events(w.path)  # every record's CRC checks
    assert [e["step"] for e in events] == [0, 1, 1, 1, 1, 1]
    assert loggers.read_scalars(str(tmp_path / "run")) == {"loss": [(1, 0.5)]}
    assert loggers.read_scalars(str(tmp_path / "run" / "acc_val")) == {"acc": [(1, 0.25)]}
    assert loggers.read_scalars(str(tmp_path / "run" / "hp")) == {"hp/loss": [(0, 0.5)]}
    with pytest.raises(AssertionError, match="one element"):
        w.add_scalar("x", [1.0, 2.0])
    w.add_scalar("after", 1.0, 2)  # a closed writer starts a new file, as PyTorch's
    w.close()
    assert len([f for f in os.listdir(tmp_path / "run") if "tfevents" in f]) == 2
    monkeypatch.chdir(tmp_path)
    with SummaryWriter(comment="_lr0.1") as w:
        assert w.get_logdir().startswith("runs" + os.sep) and w.get_logdir().endswith("_lr0.1")


def _tb_reader():
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    def read(path):
        acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "histograms": 0, "images": 0,
                                                         "tensors": 0})
        acc.Reload()
        return acc
    return read


def _write_all(writer, x, img, img_array):
    writer.add_scalar("loss", 0.75, 3)
    writer.add_scalar("loss/new", 0.5, 4, new_style=True)
    writer.add_scalars("acc", {"train": 0.5, "val": 0.25}, 3)
    writer.add_histogram("hist", x, 3)
    writer.add_histogram("hist/auto", x, 4, bins="auto")
    writer.add_histogram("hist/max", x, 5, max_bins=7)
    writer.add_image("img", img, 3)
    writer.add_image("img/hwc", (img_array.transpose(1, 2, 0) * 255).astype(np.uint8), 3, dataformats="HWC")
    writer.add_image("img/gray", img[0], 3, dataformats="HW")
    writer.add_images("imgs", np.stack([img_array] * 10), 3)
    writer.add_text("note", "**bold** text", 3)
    writer.add_hparams({"lr": 0.1, "bs": 32, "opt": "adam", "flag": True, "none": None},
                       {"hp/acc": 0.9}, hparam_domain_discrete={"opt": ["adam", "sgd"]}, run_name="hp")


def test_tensorboard_reads_what_torch_writes_the_same(tmp_path, torch):
    """Every add_* read back by TensorBoard's own reader equals what PyTorch's SummaryWriter wrote."""
    read = _tb_reader()
    pytest.importorskip("PIL")
    import io
    from PIL import Image
    from tensorboard.plugins.hparams import plugin_data_pb2
    from torch.utils.tensorboard import SummaryWriter as TorchWriter
    x = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    img = np.random.default_rng(1).random((3, 5, 7)).astype(np.float32)
    with ember.utils.tensorboard.SummaryWriter(tmp_path / "ember") as w:
        _write_all(w, ember.tensor(x), ember.tensor(img), img)
    with TorchWriter(str(tmp_path / "torch")) as w:
        _write_all(w, torch.tensor(x), torch.tensor(img), img)
    for sub in ("", "acc_train", "acc_val", "hp"):
        mine, theirs = read(tmp_path / "ember" / sub), read(tmp_path / "torch" / sub)
        assert mine.Tags() == theirs.Tags(), sub
        for tag in mine.Tags()["scalars"]:
            assert [(e.step, e.value) for e in mine.Scalars(tag)] == [(e.step, e.value) for e in theirs.Scalars(tag)]
        for tag in mine.Tags()["histograms"]:
            for a, b in zip(mine.Histograms(tag), theirs.Histograms(tag), strict=True):
                assert a.step == b.step
                assert a.histogram_value == b.histogram_value
        for tag in mine.Tags()["images"]:
            for a, b in zip(mine.Images(tag), theirs.Images(tag), strict=True):
                assert (a.step, a.width, a.height) == (b.step, b.width, b.height)
                pixels = [np.asarray(Image.open(io.BytesIO(e.encoded_image_string))) for e in (a, b)]
                np.testing.assert_array_equal(*pixels)
        for tag in mine.Tags()["tensors"]:
            for a, b in zip(mine.Tensors(tag), theirs.Tensors(tag), strict=True):
                assert a.step == b.step and a.tensor_proto == b.tensor_proto
            assert mine.SummaryMetadata(tag) == theirs.SummaryMetadata(tag)
        if sub != "hp":
            continue
        contents = mine.PluginTagToContent("hparams"), theirs.PluginTagToContent("hparams")
        parse = plugin_data_pb2.HParamsPluginData.FromString
        assert sorted(contents[0]) == sorted(contents[1]) == ["_hparams_/experiment", "_hparams_/session_end_info",
                                                              "_hparams_/session_start_info"]
        for tag in contents[0]:
            assert parse(contents[0][tag]) == parse(contents[1][tag]), tag
    assert sorted(os.listdir(tmp_path / "ember")) != [] and \
        sorted(d for d in os.listdir(tmp_path / "ember") if "tfevents" not in d) == \
        sorted(d for d in os.listdir(tmp_path / "torch") if "tfevents" not in d)


def test_tensorboard_purge_step(tmp_path):
    read = _tb_reader()
    from ember.utils.tensorboard import SummaryWriter
    with SummaryWriter(tmp_path) as w:
        for step in range(5):
            w.add_scalar("loss", float(step), step)
    with SummaryWriter(tmp_path, purge_step=2) as w:  # a resumed run: steps >= 2 of the first one are hidden
        for step in range(2, 4):
            w.add_scalar("loss", 10.0 + step, step)
    assert [(e.step, e.value) for e in read(tmp_path).Scalars("loss")] == [(0, 0), (1, 1), (2, 12), (3, 13)]


# --- PyTorch-style programs, only the import changed ------------------------------------------------------------

def _data(seed=0, n=96):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1, 8, 8)).astype(np.float32)
    y = (x[:, 0, :4].mean((1, 2)) > x[:, 0, 4:].mean((1, 2))).astype(np.int64) + 2 * (x[:, 0, :, :4].mean((1, 2)) > 0)
    return x, y


def _amp_program(torch, x, y, device_type_amp, dtype, init=None, epochs=8):
    """A classifier trained as PyTorch's AMP recipe writes it: device from torch.cuda.is_available(),
    cudnn.benchmark, a DataLoader from torch.utils.data, autocast + GradScaler. Returns the epoch losses."""
    nn, F = torch.nn, torch.nn.functional  # import torch.nn as nn, ... with torch being ember or PyTorch
    DataLoader, TensorDataset = torch.utils.data.DataLoader, torch.utils.data.TensorDataset
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cudnn.benchmark = True
    if torch.accelerator.is_available():
        torch.cuda.manual_seed_all(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 32),
                          nn.ReLU(), nn.Linear(32, 4)).to(device)
    if init is not None:
        with torch.no_grad():
            for p, a in zip(model.parameters(), init):
                p.copy_(torch.tensor(a))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loader = DataLoader(TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=16, shuffle=False)
    amp_device = device_type_amp or device.type
    scaler = torch.amp.GradScaler(amp_device)
    losses = []
    for _ in range(epochs):
        total = 0.0
        for xb, yb in loader:
            xb, yb = xb.to(device, non_blocking=True), yb.to(device)
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device_type=amp_device, dtype=dtype):
                out = model(xb)
                loss = F.cross_entropy(out.float(), yb)
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            scaler.step(opt)
            scaler.update()
            total += loss.item() * len(yb)
        losses.append(total / len(loader.dataset))
    return losses, model


def _init(torch):
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 32),
                          nn.ReLU(), nn.Linear(32, 4))
    return [p.detach().numpy().copy() for p in model.parameters()]


@no_gpu
def test_cuda_amp_recipe_runs_on_a_cpu_machine_as_torch(torch, monkeypatch):
    """autocast('cuda') and GradScaler('cuda') on a machine without CUDA: warned about, disabled, and training
    in float32 gives PyTorch's losses."""
    x, y = _data()
    init = _init(torch)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        mine, model = _amp_program(ember, x, y, "cuda", ember.float16, init)
    assert {w.category for w in record} == {UserWarning}
    assert ember.backends.cudnn.benchmark is True
    monkeypatch.setattr(ember.backends.cudnn, "benchmark", False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs, _ = _amp_program(torch, x, y, "cuda", torch.float16, init)
    torch.backends.cudnn.benchmark = False
    assert mine[-1] < 0.2 * mine[0]
    np.testing.assert_allclose(mine, theirs, rtol=2e-4)


@needs_bf16
def test_cpu_bfloat16_amp_program_trains_and_follows_torch(torch, monkeypatch):
    """The same program with autocast('cpu', bfloat16) and GradScaler('cpu'): both really work, the loss falls,
    and the losses follow PyTorch's within bfloat16's precision."""
    x, y = _data()
    init = _init(torch)
    mine, model = _amp_program(ember, x, y, "cpu", ember.bfloat16, init)
    monkeypatch.setattr(ember.backends.cudnn, "benchmark", False)
    theirs, _ = _amp_program(torch, x, y, "cpu", torch.bfloat16, init)
    torch.backends.cudnn.benchmark = False
    assert mine[-1] < 0.2 * mine[0]
    np.testing.assert_allclose(mine, theirs, rtol=5e-2, atol=5e-3)
    assert all(p.dtype is ember.float32 for p in model.parameters())


@needs_bf16  # autocast's and GradScaler's examples are doctests now, run by tests/test_docstrings.py
@pytest.mark.parametrize("obj", [ember.utils.tensorboard.SummaryWriter], ids=lambda o: o.__name__)
def test_docstring_examples_run(obj, tmp_path, monkeypatch):
    doc = obj.__doc__
    code = textwrap.dedent(doc[doc.index("::\n") + 3:])  # the example ends each of these docstrings
    assert code.count("\n") >= 3
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"<{obj.__name__} docstring>", "exec"), {"ember": ember, **vars(sys.modules[obj.__module__])})
