"""Devices on a machine without a GPU, as PyTorch answers there: ``device`` objects, moving tensors and modules to
'cuda' and making them there (an error naming the device, of PyTorch's kind, before any state changes), and the
GPU line of ``ember info`` (with a stand-in for CuPy where one is needed, see test_compat)."""
import contextlib
import io
import sys

import pytest

import ember
from ember import cli

no_gpu = pytest.mark.skipif(ember.cuda.is_available(), reason="what a machine without a GPU answers")


def test_device_objects_as_torch(torch):
    for args in [("cpu",), ("cuda",), ("cuda:1",), ("cuda", 2), ("cpu", 0), ("cuda:0",)]:
        mine, theirs = ember.device(*args), torch.device(*args)
        assert (repr(mine), str(mine), mine.type, mine.index) == \
            (repr(theirs), str(theirs), theirs.type, theirs.index)
    assert ember.device("cuda") != ember.device("cuda:0") and torch.device("cuda") != torch.device("cuda:0")
    assert ember.device(ember.device("cuda:1")) == ember.device("cuda", 1) == "cuda:1"
    assert len({ember.device("cuda:1"), ember.device("cuda", 1), ember.device("cuda")}) == 2
    for bad in ("gpu", "cuda:x", "cuda:-1", "cuda:"):
        with pytest.raises(RuntimeError):
            torch.device(bad)
        with pytest.raises(RuntimeError, match="device"):
            ember.device(bad)
    with pytest.raises(RuntimeError, match="must not be negative"):
        ember.device("cuda", -1)


@no_gpu
def test_device_index_without_a_gpu_as_torch(torch):
    with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available"):
        torch.device(0)
    with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available"):
        ember.device(0)


_TO_CUDA = {
    "Tensor.to": lambda lib, x: x.to("cuda"),
    "Tensor.to(device)": lambda lib, x: x.to(lib.device("cuda:1")),
    "Tensor.to(cuda, dtype)": lambda lib, x: x.to("cuda", lib.float16),
    "Tensor.cuda": lambda lib, x: x.cuda(),
    "Module.cuda": lambda lib, x: lib.nn.Linear(2, 2).cuda(),
    "Module.to": lambda lib, x: lib.nn.Linear(2, 2).to("cuda"),
    "zeros": lambda lib, x: lib.zeros(2, device="cuda"),
    "tensor": lambda lib, x: lib.tensor([1.0], device="cuda"),
    "arange": lambda lib, x: lib.arange(3, device="cuda"),
    "full": lambda lib, x: lib.full((2,), 1.0, device="cuda"),
    "eye": lambda lib, x: lib.eye(2, device="cuda"),
    "zeros_like": lambda lib, x: lib.zeros_like(x, device="cuda"),
    "randn": lambda lib, x: lib.randn(2, device="cuda"),
    "randint": lambda lib, x: lib.randint(0, 3, (2,), device="cuda"),
    "Linear(device=)": lambda lib, x: lib.nn.Linear(2, 2, device="cuda"),
}


@no_gpu
@pytest.mark.parametrize("name", sorted(_TO_CUDA))
def test_cuda_tensors_without_cuda_fail_as_torch(torch, name):
    """PyTorch without CUDA raises AssertionError ("not compiled with CUDA enabled"); ember's names the device."""
    if ember.backends.cuda.is_built():
        pytest.skip("CuPy is installed: CuPy's own error")
    with pytest.raises(AssertionError, match="not compiled with CUDA enabled"):
        _TO_CUDA[name](torch, torch.ones(2, 2))
    with pytest.raises(AssertionError, match="device 'cuda(:1)?': ember not compiled with CUDA enabled"):
        _TO_CUDA[name](ember, ember.ones(2, 2))


@no_gpu
def test_a_failed_cuda_factory_leaves_the_random_state_alone():
    ember.manual_seed(0)
    with pytest.raises(AssertionError):
        ember.randn(3, device="cuda")
    with pytest.raises(AssertionError):
        ember.rand(3, device="cuda")
    after = ember.randn(3)
    ember.manual_seed(0)
    assert after.tolist() == ember.randn(3).tolist()


def test_cpu_moves_are_free():
    x = ember.ones(2)
    assert x.cpu() is x and x.to("cpu") is x and not x.is_cuda
    assert ember.zeros(2, device=ember.device("cpu")).device == ember.device("cpu")


def _info():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["info"]) == 0
    return out.getvalue()


@no_gpu
def test_info_says_there_is_no_gpu():
    line = next(l for l in _info().splitlines() if l.startswith("GPU: "))
    if ember.backends.cuda.is_built():
        assert line == "GPU: none (CuPy is installed, but it finds no GPU or no driver)"
    else:
        assert line.startswith("GPU: none (CUDA runs through CuPy, which is not installed")


def test_info_lists_the_gpus_cupy_reports(monkeypatch):
    from test_compat import _fake_cupy
    fake = _fake_cupy([])
    for module in (sys.modules["ember.device"], ember.cuda, ember.backends.cuda):
        monkeypatch.setattr(module, "_cupy", fake)
    monkeypatch.setattr(ember.cuda, "_initialized", False)
    lines = _info().splitlines()
    assert "devices: cpu, cuda:0, cuda:1" in lines
    assert "GPU: cuda:0 Fake GPU 0 (sm_86, 2048 MiB); cuda:1 Fake GPU 1 (sm_86, 2048 MiB)" in lines
