"""torch.backends for ember: the settings PyTorch programs write (``backends.cudnn.benchmark = True``,
``backends.cuda.matmul.allow_tf32 = True``, ``backends.mps.is_available()``...), accepted and stored, and the
questions answered for ember.

What they change in ember: nothing. On the CPU ember computes float32 matmuls and convolutions in float32 with
NumPy's BLAS (no TF32, no reduced-precision reductions) by one fixed, deterministic algorithm (im2col + matmul), so
there is no algorithm for ``cudnn.benchmark`` to pick, nothing for ``cudnn.deterministic`` or
``use_deterministic_algorithms`` to rule out, and ember does not use cuDNN (``cudnn.is_available()`` is False). On a
GPU ember's products are CuPy's cuBLAS calls, whose precision CuPy sets (its CUPY_TF32 variable), not these flags.
"""
import warnings

from . import cuda, cudnn, mps  # noqa: F401

__all__ = ["cuda", "cudnn", "mps", "set_float32_matmul_precision", "get_float32_matmul_precision",
           "use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
           "is_deterministic_algorithms_warn_only_enabled"]

_deterministic = {"mode": False, "warn_only": False}


def set_float32_matmul_precision(precision):
    """torch.set_float32_matmul_precision: 'highest', 'high' or 'medium' (stored; 'high' and 'medium' set
    ``backends.cuda.matmul.allow_tf32``, as in PyTorch). ember's float32 matmuls stay float32 (see above)."""
    if precision not in ("highest", "high", "medium"):
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                      f"set_float32_matmul_precision call has no effect.", UserWarning, stacklevel=2)
        return
    cuda.matmul._precision = precision


def get_float32_matmul_precision():
    """'highest' unless set (or ``backends.cuda.matmul.allow_tf32 = True``, which reads as 'high')."""
    return cuda.matmul._precision


def use_deterministic_algorithms(mode, *, warn_only=False):
    """torch.use_deterministic_algorithms: stored; every ember op is already deterministic on the CPU."""
    if not isinstance(mode, bool):
        raise TypeError(f"use_deterministic_algorithms(): argument 'mode' must be bool, not {type(mode).__name__}")
    _deterministic.update(mode=mode, warn_only=bool(warn_only))


def are_deterministic_algorithms_enabled():
    """What ``use_deterministic_algorithms`` last set (torch.are_deterministic_algorithms_enabled)."""
    return _deterministic["mode"]


def is_deterministic_algorithms_warn_only_enabled():
    """The ``warn_only`` that ``use_deterministic_algorithms`` last set (torch.is_deterministic_algorithms_warn_only_enabled)."""
    return _deterministic["warn_only"]
