"""Devices and their array modules: numpy for 'cpu', cupy for 'cuda' (optional)."""
import builtins

import numpy as np

__all__ = ["device", "get_array_module", "cuda_available"]

try:  # CuPy is the optional GPU backend (pip install ember[gpu])
    import cupy as _cupy
except Exception:  # pragma: no cover - depends on the environment
    _cupy = None


class device:
    """A place where tensors live: the CPU or a CUDA GPU.

    ``device('cpu')``, ``device('cuda')`` (the current GPU: index None), ``device('cuda:1')`` or
    ``device('cuda', 1)``; a bare index means that GPU (``device(1)``, which needs a GPU). Devices compare equal to
    their strings (``device('cpu') == 'cpu'``); ``str(d)`` is the string form.

    Args:
        type (str or device or int): "cpu", "cuda", "cuda:N", a device to copy, or a GPU index.
        index (int, optional): the GPU's index; None for the CPU or the current GPU. Default: None.

    PyTorch:
        ``torch.device``; same semantics for "cpu" and "cuda" (ember's CUDA runs through CuPy); the other device
        types ("mps", "xpu", "meta"...) raise RuntimeError.

    Example:
        >>> ember.device("cuda:1")
        device(type='cuda', index=1)
        >>> ember.zeros(2).device == "cpu"
        True
    """

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            type, index = type.type, type.index
        elif isinstance(type, int) and not isinstance(type, bool):  # torch.device(1): the accelerator's GPU 1
            if not cuda_available():
                raise RuntimeError("Cannot access accelerator device when none is available.")
            type, index = "cuda", type
        elif not isinstance(type, str):
            raise TypeError(f"device(): expected a string, a device or an int, got {builtins.type(type).__name__}")
        elif ":" in type:
            text = type
            type, _, idx = type.partition(":")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{text}'")
            index = int(idx)
        if type not in ("cpu", "cuda"):
            raise RuntimeError(f"Expected one of cpu, cuda device type at start of device string: {type}")
        if index is not None and (not isinstance(index, int) or isinstance(index, bool) or index < 0):
            raise RuntimeError(f"Device index must not be negative, got {index!r}" if isinstance(index, int)
                               else f"device(): index must be an int, got {index!r}")
        self.type, self.index = type, index

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __repr__(self):
        return f"device(type='{self.type}')" if self.index is None else f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    @property
    def xp(self):
        """The array module (numpy or cupy) that holds arrays on this device."""
        if self.type == "cpu":
            return np
        if _cupy is None:  # PyTorch without CUDA raises AssertionError("Torch not compiled with CUDA enabled")
            raise AssertionError(f"device '{self}': ember not compiled with CUDA enabled (CUDA runs through CuPy, "
                                 f"which is not installed: pip install ember[gpu])")
        return _cupy


CPU = device("cpu")


def cuda_available():
    """Return whether ember can run on a GPU: CuPy is installed and sees at least one.

    Returns:
        bool: True when CUDA tensors can be made.

    PyTorch:
        No top-level counterpart: PyTorch's is ``torch.cuda.is_available()`` (which ember also has, as
        ``ember.cuda.is_available()``).

    Example:
        >>> ember.cuda_available() == ember.cuda.is_available()
        True
    """
    if _cupy is None:
        return False
    try:
        return _cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # pragma: no cover - no driver
        return False


def to_device(d):
    """Normalise a device argument (a device, a string or None) to a device."""
    if d is None or d.__class__ is device:
        return d
    return device(d)


def get_array_module(array):
    """numpy for NumPy arrays, cupy for CuPy arrays."""
    if array.__class__ is np.ndarray or _cupy is None:
        return np
    return _cupy.get_array_module(array)


def device_of(array):
    """The device that holds an array."""
    if array.__class__ is np.ndarray or _cupy is None or not isinstance(array, _cupy.ndarray):
        return CPU
    return device("cuda", array.device.id)


def move(array, dev):
    """Copy an array to a device (returns it unchanged when it is already there)."""
    if dev.type == "cpu":
        if array.__class__ is np.ndarray:
            return array
        return _cupy.asnumpy(array)
    xp = dev.xp
    with xp.cuda.Device(dev.index):
        return xp.asarray(array)


def _keep_freed_cpu_memory():
    """Ask glibc's malloc to keep freed blocks for reuse instead of giving them back to the OS.

    By default every activation-sized NumPy array is a fresh mmap (or heap memory trimmed on free), so each training
    step page-faults in tens of megabytes again (about 20% of a small transformer's step). Skipped when the user
    sets MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_ or EMBER_MALLOC_TUNING=0, and off glibc.
    """
    import os
    import sys
    if not sys.platform.startswith("linux") or os.environ.get("EMBER_MALLOC_TUNING", "1") == "0":
        return
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 << 20)   # M_MMAP_THRESHOLD: blocks below 32 MiB come from the heap
        libc.mallopt(-1, 256 << 20)  # M_TRIM_THRESHOLD: keep up to 256 MiB of free heap for reuse
    except Exception:  # pragma: no cover - not glibc
        pass


_keep_freed_cpu_memory()
