"""Tensor memory accounting: the bytes of live tensor storage per device, the CPU included.

What ``torch.cuda.memory_allocated`` counts on a GPU, ember counts on every device: the storage of every tensor
(a view's base array, counted once however many tensors and views share it) and every array the autograd graph
keeps for backward (a dropout mask, an output a backward reads), from its creation until it is freed. Not counted:
arrays an op uses inside its forward and never hands out (NumPy's temporaries, which PyTorch's allocator would
count).

Counting starts at the first call of a function of this module: the tensors and graphs alive then are found by
the garbage collector's list of objects, and every tensor made afterwards is counted as it is made, for a few
hundred nanoseconds each (ember leaves it off until asked, as PyTorch counts CPU memory only in its profiler).
The peak is the highest count since then, or since ``reset_peak()``. Tools that measure for a while
(``Trainer.fit``, ``ember time --memory``) count inside ``counting()``, which stops counting afterwards unless it was
on before.

    >>> import ember
    >>> before = ember.memory.allocated()
    >>> x = ember.zeros(256, 256)              # 256 KiB of float32
    >>> y = x.view(-1)[:10]                    # a view of x: no new storage
    >>> ember.memory.allocated() - before
    262144
    >>> del x, y
    >>> ember.memory.allocated() - before
    0
"""
import contextlib
import gc

import numpy as np

from . import _storage
from .autograd.graph import Node
from .device import device as _device
from .tensor import Tensor

__all__ = ["allocated", "max_allocated", "reset_peak", "memory_summary", "format_bytes", "Peak", "counting"]

_ndarray = np.ndarray


def _start():
    """Turn counting on, after counting what is alive: the data of every tensor and the arrays every recorded
    node keeps."""
    if _storage.on[0]:
        return
    _storage.on[0] = True  # first: a tensor made while the scan runs is counted by init_tensor
    for obj in gc.get_objects():
        cls = type(obj)  # not isinstance: that reads obj.__class__, which some objects compute (with warnings)
        if issubclass(cls, Tensor):
            _storage.count(obj._data)
        elif issubclass(cls, Node) and getattr(obj, "inputs", None) is not None:
            _storage.count_state(obj)


@contextlib.contextmanager
def counting():
    """A context manager that counts tensor memory within its block, and stops counting after it unless counting
    was on before.

    For tools (Trainer.fit, ``ember time --memory``) that measure without leaving the cost of counting to the rest
    of the program. The counters stay right: what was counted is still uncounted when freed, and the next question
    counts what was made meanwhile.

    Yields:
        None: the block runs with counting on.

    PyTorch:
        No PyTorch counterpart: ember's own (PyTorch counts GPU memory always, CPU memory only in its profiler).

    Example:
        >>> with ember.memory.counting():
        ...     before = ember.memory.allocated()
        ...     x = ember.zeros(1024)  # 4 KiB of float32
        ...     print(ember.memory.allocated() - before)
        4096
    """
    was = _storage.on[0]
    _start()
    try:
        yield
    finally:
        if not was:
            _storage.on[0] = False


def _name(device):
    """The key of a device argument: "cpu" for None (ember's default device) or the CPU, "cuda:N" for a GPU."""
    if device is None:
        return "cpu"
    if isinstance(device, int):
        return f"cuda:{device}"
    d = _device(device) if isinstance(device, str) else device
    if d.type == "cuda":
        return f"cuda:{0 if d.index is None else d.index}"
    return d.type


def allocated(device=None):
    """The bytes of live tensor storage on a device (see the module's docstring for what is counted).

    The first call starts counting (after counting what is alive).

    Args:
        device (str, int or ember.device, optional): the device: None or "cpu" for the CPU, "cuda", "cuda:1", a
            device or a GPU index. Default: None (the CPU).

    Returns:
        int: the bytes.

    PyTorch:
        ``torch.cuda.memory_allocated``, which counts a GPU's; ember counts the CPU's too (and is the default).

    Example:
        >>> before = ember.memory.allocated()
        >>> x = ember.zeros(256, 256)  # 256 KiB of float32
        >>> ember.memory.allocated() - before
        262144
    """
    _start()
    st = _storage.stats.get(_name(device))
    return st[0] if st else 0


def max_allocated(device=None):
    """The peak of allocated(device) since counting started or since reset_peak(device).

    Args:
        device (str, int or ember.device, optional): the device: None or "cpu" for the CPU, "cuda", "cuda:1", a
            device or a GPU index. Default: None (the CPU).

    Returns:
        int: the most bytes live at once.

    PyTorch:
        ``torch.cuda.max_memory_allocated``, which measures a GPU's; ember measures the CPU's too.

    Example:
        >>> ember.memory.reset_peak()
        >>> start = ember.memory.allocated()
        >>> y = ember.ones(1024, 256) * 2  # ones (1 MiB) and the product (1 MiB) live at once
        >>> ember.memory.max_allocated() - start
        2097152
    """
    _start()
    st = _storage.stats.get(_name(device))
    return st[1] if st else 0


def reset_peak(device=None) -> None:
    """Measure the peak of a device afresh from its current allocation.

    Args:
        device (str, int or ember.device, optional): the device: None or "cpu" for the CPU, "cuda", "cuda:1", a
            device, a GPU index, or "all" for every device. Default: None (the CPU).

    PyTorch:
        ``torch.cuda.reset_peak_memory_stats``, for a GPU; ember resets the CPU's too, and takes "all".

    Example:
        >>> ember.memory.reset_peak()
        >>> ember.memory.max_allocated() == ember.memory.allocated()
        True
    """
    _start()
    every = isinstance(device, str) and device == "all"
    name = None if every else _name(device)
    for key, st in _storage.stats.items():
        if every or key == name:
            st[1] = st[0]


def format_bytes(n):
    """Write a number of bytes in a short unit: "512 B", "3.0 KiB", "1.5 MiB", "2.0 GiB".

    Args:
        n (int or float): the bytes (negative too, for a difference).

    Returns:
        str: n in B below 1 KiB, else in KiB, MiB or GiB with one decimal.

    PyTorch:
        No PyTorch counterpart: ember's own.

    Example:
        >>> ember.memory.format_bytes(512), ember.memory.format_bytes(1536 * 1024)
        ('512 B', '1.5 MiB')
    """
    if abs(n) < 1024:
        return f"{n} B"
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}"


def memory_summary(device=None):
    """A table of tensor memory per device: live storages, bytes allocated and the peak.

    Args:
        device (str, int or ember.device, optional): the device to show; None: each device that has held a
            tensor. Default: None.

    Returns:
        str: the table, to print.

    PyTorch:
        ``torch.cuda.memory_summary``, whose table (a GPU's allocator statistics) is much longer; no
        ``abbreviated`` argument.

    Example:
        >>> print(ember.memory.memory_summary("cpu"))
        ember tensor memory
        device  storages  allocated  peak
        cpu ...
    """
    _start()
    names = sorted(_storage.stats) if device is None else [_name(device)]
    by_stats = {id(st): name for name, st in _storage.stats.items()}
    counts = {}
    for ref in list(_storage.owners.values()):
        name = by_stats[id(getattr(ref, "stats", _storage.cpu))]  # a CPU storage leaves its stats slot unset
        counts[name] = counts.get(name, 0) + 1
    rows = [("device", "storages", "allocated", "peak")]
    for name in names:
        st = _storage.stats.get(name, (0, 0))
        rows.append((name, str(counts.get(name, 0)), format_bytes(st[0]), format_bytes(st[1])))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["ember tensor memory"]
    for r in rows:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(lines)


class Peak:
    """A context manager that measures the peak tensor memory of a block above what was live when it began.

    After the block, ``bytes`` is the most the block held at once beyond what it started with. It collects the
    garbage on entry (so that tensors already unreachable are not freed inside the block, below the start), resets
    the device's peak (see reset_peak) and counts inside ``counting()``.

    Args:
        device (str, int or ember.device, optional): the device: None or "cpu" for the CPU, "cuda", "cuda:1", a
            device or a GPU index. Default: None (the CPU).

    PyTorch:
        No PyTorch counterpart: ember's own (``torch.cuda.reset_peak_memory_stats`` then
        ``torch.cuda.max_memory_allocated`` minus the start, for a GPU).

    Example:
        >>> with ember.memory.Peak() as p:
        ...     y = ember.ones(1024, 256) * 2  # ones (1 MiB) and the product (1 MiB) live at once
        >>> p.bytes
        2097152
    """

    def __init__(self, device=None):
        self.device = device
        self.start = 0
        self.bytes = 0
        self._counting = None

    def __enter__(self):
        gc.collect()
        self._counting = counting()
        self._counting.__enter__()
        reset_peak(self.device)
        self.start = allocated(self.device)
        return self

    def __exit__(self, *exc):
        self.bytes = max_allocated(self.device) - self.start
        self._counting.__exit__(*exc)
        return False
