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


def set_float32_matmul_precision(precision) -> None:
    """Set the precision of float32 matrix products: 'highest', 'high' or 'medium'.

    Stored, and read back by ``get_float32_matmul_precision``; 'high' and 'medium' also make
    ``backends.cuda.matmul.allow_tf32`` read True, as in PyTorch. ember's float32 products stay float32 whatever
    it is (see ``ember.backends``). Any other value warns and changes nothing.

    Args:
        precision (str): 'highest', 'high' or 'medium'.

    PyTorch:
        ``torch.set_float32_matmul_precision``; same interface, but no effect on ember's computations.

    Example:
        >>> ember.set_float32_matmul_precision("high")
        >>> ember.get_float32_matmul_precision()
        'high'
        >>> ember.set_float32_matmul_precision("highest")
    """
    if precision not in ("highest", "high", "medium"):
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                      f"set_float32_matmul_precision call has no effect.", UserWarning, stacklevel=2)
        return
    cuda.matmul._precision = precision


def get_float32_matmul_precision():
    """Return the float32 matmul precision last set.

    Returns:
        str: 'highest' unless ``set_float32_matmul_precision`` (or ``backends.cuda.matmul.allow_tf32 = True``,
        which reads as 'high') changed it.

    PyTorch:
        ``torch.get_float32_matmul_precision``; same semantics.

    Example:
        >>> ember.get_float32_matmul_precision()
        'highest'
    """
    return cuda.matmul._precision


def use_deterministic_algorithms(mode, *, warn_only=False) -> None:
    """Ask for deterministic algorithms only (stored: every ember op is already deterministic on the CPU).

    Args:
        mode (bool): whether only deterministic algorithms may run.
        warn_only (bool): whether a nondeterministic op would only warn rather than raise. Default: False.

    PyTorch:
        ``torch.use_deterministic_algorithms``; same interface (a non-bool mode raises TypeError), but it changes
        nothing in ember, which has no nondeterministic algorithms on the CPU.

    Example:
        >>> ember.use_deterministic_algorithms(True)
        >>> ember.are_deterministic_algorithms_enabled()
        True
        >>> ember.use_deterministic_algorithms(False)
    """
    if not isinstance(mode, bool):
        raise TypeError(f"use_deterministic_algorithms(): argument 'mode' must be bool, not {type(mode).__name__}")
    _deterministic.update(mode=mode, warn_only=bool(warn_only))


def are_deterministic_algorithms_enabled():
    """Return the mode ``use_deterministic_algorithms`` last set.

    Returns:
        bool: False unless ``use_deterministic_algorithms(True)`` was called.

    PyTorch:
        ``torch.are_deterministic_algorithms_enabled``; same semantics.

    Example:
        >>> ember.are_deterministic_algorithms_enabled()
        False
    """
    return _deterministic["mode"]


def is_deterministic_algorithms_warn_only_enabled():
    """Return the ``warn_only`` that ``use_deterministic_algorithms`` last set.

    Returns:
        bool: False unless ``use_deterministic_algorithms(..., warn_only=True)`` was called.

    PyTorch:
        ``torch.is_deterministic_algorithms_warn_only_enabled``; same semantics.

    Example:
        >>> ember.is_deterministic_algorithms_warn_only_enabled()
        False
    """
    return _deterministic["warn_only"]
