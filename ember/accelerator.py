"""torch.accelerator for ember: the one accelerator ember knows is CUDA, through CuPy (see ember.cuda).

On a machine without a GPU ``is_available()`` is False, ``current_accelerator()`` None (or ``device('cuda')`` when
CuPy is installed, ember's "compiled" accelerator, unless ``check_available=True``), ``device_count()`` 0, and the
calls that need the device raise RuntimeError, as PyTorch's do.
"""
from . import cuda as _cuda
from .backends import cuda as _backends_cuda
from .device import device as _device

__all__ = [
    "is_available", "current_accelerator", "device_count", "current_device_index", "current_device_idx",
    "set_device_index", "set_device_idx", "device_index", "synchronize", "empty_cache", "memory_allocated",
    "max_memory_allocated", "memory_reserved", "max_memory_reserved", "reset_peak_memory_stats", "get_memory_info",
]


def is_available():
    """Whether an accelerator (a GPU CuPy sees) is available."""
    return _cuda.is_available()


def current_accelerator(check_available=False):
    """The accelerator's device (``device('cuda')``) ember was installed with (CuPy), or None; with
    check_available=True, None also when no GPU is there."""
    if not _backends_cuda.is_built() or (check_available and not is_available()):
        return None
    return _device("cuda")


def device_count():
    """The number of GPUs (0 without one)."""
    return _cuda.device_count() if _backends_cuda.is_built() else 0


def _require():
    if not is_available():
        raise RuntimeError("Cannot access accelerator device when none is available.")


def current_device_index():
    _require()
    return _cuda.current_device()


current_device_idx = current_device_index


def set_device_index(device):
    _require()
    _cuda.set_device(device)


set_device_idx = set_device_index


class device_index:
    """Context manager that makes a GPU current (``None`` does nothing), as torch.accelerator.device_index."""

    def __init__(self, device):
        self.idx = device
        self.prev_idx = -1

    def __enter__(self):
        if self.idx is not None:
            self.prev_idx = current_device_index()
            set_device_index(self.idx)
        return self

    def __exit__(self, *exc):
        if self.idx is not None:
            set_device_index(self.prev_idx)
        return False


def synchronize(device=None):
    _require()
    _cuda.synchronize(device)


def empty_cache():
    _require()
    _cuda.empty_cache()


def memory_allocated(device_index=None):
    _require()
    return _cuda.memory_allocated(device_index)


def max_memory_allocated(device_index=None):
    _require()
    return _cuda.max_memory_allocated(device_index)


def memory_reserved(device_index=None):
    _require()
    return _cuda.memory_reserved(device_index)


def max_memory_reserved(device_index=None):
    _require()
    return _cuda.max_memory_reserved(device_index)


def reset_peak_memory_stats(device_index=None):
    _require()
    _cuda.reset_peak_memory_stats(device_index)


def get_memory_info(device_index=None):
    _require()
    return _cuda.mem_get_info(device_index)
