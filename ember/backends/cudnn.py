"""torch.backends.cudnn's settings, stored as module attributes (``enabled``, ``benchmark``, ``benchmark_limit``,
``deterministic``, ``allow_tf32``) with PyTorch's defaults, and ``flags(...)`` to set them for a block. ember does not
use cuDNN: ``is_available()`` is False, ``version()`` None, and the settings change nothing (see ember.backends)."""
import contextlib
import sys

__all__ = ["enabled", "benchmark", "benchmark_limit", "deterministic", "allow_tf32", "is_available", "version",
           "is_acceptable", "flags"]

enabled = True
benchmark = False
benchmark_limit = 10
deterministic = False
allow_tf32 = True


def is_available():
    """False: ember's convolutions are im2col + matmul (NumPy's BLAS, CuPy's cuBLAS), never cuDNN."""
    return False


def version():
    """None: ember uses no cuDNN."""
    return None


def is_acceptable(tensor):
    """Whether cuDNN would run an op on this tensor: never, in ember."""
    return False


@contextlib.contextmanager
def flags(enabled=False, benchmark=False, benchmark_limit=10, deterministic=False, allow_tf32=True):
    """Set every cuDNN flag for the block (to these defaults when not given, as torch.backends.cudnn.flags)."""
    module = sys.modules[__name__]
    names = ("enabled", "benchmark", "benchmark_limit", "deterministic", "allow_tf32")
    saved = {n: getattr(module, n) for n in names}
    for n, v in zip(names, (enabled, benchmark, benchmark_limit, deterministic, allow_tf32)):
        setattr(module, n, v)
    try:
        yield
    finally:
        for n, v in saved.items():
            setattr(module, n, v)
