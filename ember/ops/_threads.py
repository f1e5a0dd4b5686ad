"""Running a large op's blocks of images on several threads.

numpy runs its copies and elementwise loops on one core, so in a convolution whose im2col copies take about as long
as its matmuls the other cores were idle half of the time. Large ops cut their batch into blocks of images and run
them on as many threads as the BLAS has (a small persistent pool plus the calling thread), each taking the next block
until none is left: its copies (numpy releases the GIL in them) and its matmuls, with the BLAS set to one thread
meanwhile (and put back after). A pool thread that is slow to start just finds no block left, so a busy machine costs
no waiting. Where OpenBLAS cannot be found (another BLAS, cupy arrays) ops run on the calling thread alone, the BLAS
keeping its own threads.

This module owns ember's thread count (``ember.set_num_threads`` / ``get_num_threads``, as torch's): the BLAS's
threads and the number of blocks a large op runs at once. Until it is set, the count is what the BLAS runs
(OPENBLAS_NUM_THREADS, OMP_NUM_THREADS or its cores). ember finds OpenBLAS itself (an op switches it to one thread
and back, so that call must be cheap); any other BLAS (MKL, BLIS, Accelerate) is set through threadpoolctl when it
is installed.
"""
import os
import threading
import time

import numpy as np

from .registry import export

try:  # an optional package: sets the threads of any BLAS (ember finds OpenBLAS without it)
    import threadpoolctl as _threadpoolctl
except ImportError:  # pragma: no cover - depends on the environment
    _threadpoolctl = None

_SPLIT_MIN = 1 << 24  # an op with less work than this (multiply-adds or element copies) runs on the calling thread
# OpenBLAS's threads spin (about 0.1 s) after each of its multi-threaded calls, taking a core from the pool; so
# for _QUIET_BLAS seconds after a split, the ops that do not split run their matmuls on one BLAS thread too.
_QUIET_BLAS = 1.0
# threads/interop: the counts set by the user (None: the default); split_at, team_at: when an op last split over
# threads, and when one last ran an OpenMP team
_state = {"blas": None, "pool": None, "pid": None, "size": 0, "depth": 0, "saved": 1, "split_at": -1e9,
          "team_at": -1e9, "threads": None, "interop": None}
_lock = threading.Lock()


def _find_openblas():
    """(get_num_threads, set_num_threads) of the OpenBLAS numpy uses, or False."""
    import ctypes
    import glob
    base = os.path.dirname(np.__file__)
    paths = glob.glob(os.path.join(base, os.pardir, "numpy.libs", "*openblas*"))  # wheels (Linux, Windows)
    paths += glob.glob(os.path.join(base, ".dylibs", "*openblas*"))  # wheels (macOS)
    try:  # a system OpenBLAS numpy is linked with
        with open("/proc/self/maps") as f:
            paths += sorted({ln.split()[-1] for ln in f if "openblas" in ln and ln.split()[-1].startswith("/")})
    except OSError:
        pass
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for pre, suf in (("scipy_openblas", "64_"), ("openblas", "64_"), ("openblas", ""), ("scipy_openblas", "")):
            get = getattr(lib, f"{pre}_get_num_threads{suf}", None)
            put = getattr(lib, f"{pre}_set_num_threads{suf}", None)
            if get is not None and put is not None:
                put.argtypes = [ctypes.c_int]
                return get, put
    return False


def _blas():
    blas = _state["blas"]
    if blas is None:
        blas = _state["blas"] = _find_openblas()
    return blas


def _one_thread_in_forked_child():
    """A forked child runs ember's ops on one thread until set_num_threads says otherwise (as PyTorch's DataLoader
    workers do): GNU OpenMP, which runs the compiled C kernels' threads, cannot start a team in a child of a
    process that used one (its first parallel region would wait forever)."""
    _state["threads"] = 1


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_one_thread_in_forked_child)


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may run on (Linux)
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _other_blas_threads():
    """The threads of a BLAS that ember did not find itself, through threadpoolctl (None without it or a BLAS)."""
    if _threadpoolctl is None:
        return None
    counts = [lib["num_threads"] for lib in _threadpoolctl.threadpool_info() if lib.get("user_api") == "blas"]
    return max(counts) if counts else None


def _check_count(n, fn):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise RuntimeError(f"{fn} expects an int, but got {type(n).__name__}")
    if n < 1:
        raise RuntimeError(f"{fn} expects a positive integer")
    return int(n)


@export(ember=True)
def get_num_threads():
    """Return the number of threads ember's CPU ops use.

    That is the BLAS's threads and how many blocks a large op (a convolution) runs at once. Until
    ``set_num_threads`` is called it is what the BLAS runs (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS or the cores).

    Returns:
        int: the thread count (1 or more).

    PyTorch:
        ``torch.get_num_threads``; same semantics.

    Example:
        >>> ember.get_num_threads() >= 1
        True
    """
    t = _state
    if t["threads"] is not None:
        return t["threads"]
    blas = _blas()
    if blas:
        return t["saved"] if t["depth"] else blas[0]()  # while an op splits, the BLAS runs one thread per block
    return _other_blas_threads() or _cpu_count()


@export(ember=True)
def set_num_threads(n) -> None:
    """Use n threads in ember's CPU ops.

    Sets the BLAS's threads (OpenBLAS directly, any other BLAS through threadpoolctl when installed) and how many
    blocks a large op (a convolution) runs at once. On a busy machine 1 is often the fastest. A forked child
    starts with 1 (a child of a process whose compiled C kernels ran on several threads must keep it: GNU
    OpenMP cannot start threads there).

    Args:
        n (int): the number of threads (1 or more; anything else raises RuntimeError).

    PyTorch:
        ``torch.set_num_threads``; same semantics.

    Example:
        >>> n = ember.get_num_threads()
        >>> ember.set_num_threads(1)
        >>> ember.get_num_threads()
        1
        >>> ember.set_num_threads(n)
    """
    n = _check_count(n, "set_num_threads")
    t = _state
    blas = _blas()
    with _lock:
        t["threads"] = n
        if t["depth"]:
            t["saved"] = n  # an op is splitting: the BLAS gets n back when it is done
        elif blas:
            blas[1](n)
    if not blas and _threadpoolctl is not None:
        _threadpoolctl.threadpool_limits(limits=n, user_api="blas")


@export(ember=True)
def get_num_interop_threads():
    """Return the number of threads for running independent ops at once.

    ember runs ops one after the other, so this is only the count ``set_num_interop_threads`` set, or else the
    number of cores.

    Returns:
        int: the count.

    PyTorch:
        ``torch.get_num_interop_threads``; same interface, but ember has no inter-op thread pool.

    Example:
        >>> ember.get_num_interop_threads() >= 1
        True
    """
    n = _state["interop"]
    return n if n is not None else _cpu_count()


@export(ember=True)
def set_num_interop_threads(n) -> None:
    """Set the number of inter-op threads: stored for PyTorch's programs, as ember has no
    inter-op thread pool.

    Args:
        n (int): the number of threads (1 or more; anything else raises RuntimeError).

    PyTorch:
        ``torch.set_num_interop_threads``; same interface, but it changes nothing in how ember runs (and PyTorch
        allows it only once, before any parallel work; ember at any time).

    Example:
        >>> n = ember.get_num_interop_threads()
        >>> ember.set_num_interop_threads(2)
        >>> ember.get_num_interop_threads()
        2
        >>> ember.set_num_interop_threads(n)
    """
    _state["interop"] = _check_count(n, "set_num_interop_threads")


def _pool(workers):
    from concurrent.futures import ThreadPoolExecutor
    t = _state
    if t["pool"] is None or t["size"] < workers or t["pid"] != os.getpid():  # a forked child has no threads
        t["pool"], t["size"], t["pid"] = ThreadPoolExecutor(workers, "ember-conv"), workers, os.getpid()
    return t["pool"]


def _serial(n, nb, fn):
    state = {}
    for n0 in range(0, n, nb):
        fn(n0, min(nb, n - n0), state)
    return [state]


def plan(xp, n, work, nb, serial_nb=None, split_min=_SPLIT_MIN):
    """(threads, images per block) for an op with this much work on n images: split over ember's threads
    (get_num_threads; 1 while another op splits) in blocks of at most nb images, at least one a thread, when
    work is at least split_min; or on the calling thread in blocks of serial_nb (default nb) images, its
    matmuls using the BLAS's threads."""
    blas = _blas() if xp is np and work >= split_min else False
    k = min(n, 1 if _state["depth"] else get_num_threads()) if blas else 1
    if k > 1:
        return k, max(1, min(nb, -(-n // k)))
    return 1, max(1, serial_nb or nb)


def team(n, work, split_min=_SPLIT_MIN, graph_op=False):
    """The threads of an OpenMP team (C code splitting its own loops) for an op with this much work on n images
    or rows, as plan's; a team of several counts as a split (see recently_split). ``graph_op``: the op runs in a
    compiled graph and never inside another op's split, so while the BLAS is held on one thread (the graph's
    segments own the threads) it gets ember's count, where plan gives one thread."""
    if graph_op and _state["depth"] and work >= split_min and _blas():
        k = min(n, get_num_threads())
        if k > 1:
            team_ran()
        return k
    k, _ = plan(np, n, work, n, split_min=split_min)
    if k > 1:
        team_ran()
    return k


def team_ran():
    """Note that an OpenMP team of several threads ran just now (see team)."""
    _state["split_at"] = _state["team_at"] = time.perf_counter()


def blas_controls():
    """Whether ember can set the BLAS's thread count (NumPy's OpenBLAS found)."""
    return bool(_blas())


def blas_held():
    """Whether the BLAS runs on one thread now (one_blas_thread): no BLAS thread spins beside OpenMP's."""
    return _state["depth"] > 0


def team_is_hot():
    """Whether an OpenMP team of several threads ran less than _QUIET_BLAS seconds ago (its threads wake in
    microseconds, and the BLAS runs on one thread meanwhile: see recently_split)."""
    return time.perf_counter() - _state["team_at"] < _QUIET_BLAS


def for_blocks(xp, n, nb, k, fn):
    """fn(n0, m, state) for the blocks [n0, n0 + m) of nb images (the last one maybe fewer) covering range(n), on k
    threads (see plan), each with its own ``state`` dict (scratch buffers, partial sums); returns the states of
    the threads that ran."""
    k = min(k, -(-n // nb))
    blas = _blas() if xp is np else False
    if k <= 1 and not (blas and recently_split()):
        return _serial(n, nb, fn)
    with one_blas_thread(blas):  # the BLAS runs one thread per caller meanwhile
        if k <= 1:
            return _serial(n, nb, fn)
        _state["split_at"] = time.perf_counter()
        return _run_blocks(n, nb, range(0, n, nb), k, fn)


def matmul(xp, a, b):
    """a @ b for 2-D arrays, a's rows cut in blocks over ember's threads when the product has _SPLIT_MIN
    multiply-adds or more, the BLAS on one thread meanwhile (as a large op's blocks); otherwise, and for arrays
    other than NumPy's, xp.matmul."""
    n = a.shape[0]
    k, nb = plan(xp, n, n * a.shape[1] * b.shape[1], n)
    if k == 1 and not (xp is np and recently_split()):
        return xp.matmul(a, b)
    out = np.empty((n, b.shape[1]), np.result_type(a, b))
    for_blocks(xp, n, nb, k, lambda n0, m, state: np.matmul(a[n0:n0 + m], b, out=out[n0:n0 + m]))
    return out


def recently_split():
    """Whether an op split over threads less than _QUIET_BLAS seconds ago (OpenBLAS's threads may still spin)."""
    return time.perf_counter() - _state["split_at"] < _QUIET_BLAS


class one_blas_thread:
    """The BLAS (``_blas()`` by default; nothing without one ember found) on one thread meanwhile, as a context
    manager; nested uses share the setting, the outermost puts the BLAS's count back. (A class: a compiled step
    enters one each call, and a generator's context manager costs several times more.)"""

    __slots__ = ("blas",)

    def __init__(self, blas=None):
        self.blas = _blas() if blas is None else blas

    def __enter__(self):
        blas = self.blas
        if blas:
            t = _state
            with _lock:
                if t["depth"] == 0:
                    t["saved"] = blas[0]()
                    blas[1](1)
                t["depth"] += 1

    def __exit__(self, *exc_info):
        blas = self.blas
        if blas:
            t = _state
            with _lock:
                t["depth"] -= 1
                if t["depth"] == 0:
                    blas[1](t["saved"])


def _run_blocks(n, nb, starts, k, fn):
    """Thread j runs the blocks starts[j::k] (a fixed share: partial sums, and so results, do not depend on which
    thread was faster), the caller's thread being thread 0; the states in thread order."""
    starts = list(starts)

    def run(j):
        state = {}
        for n0 in starts[j::k]:
            fn(n0, min(nb, n - n0), state)
        return state

    with _lock:
        pool = _pool(k - 1)
    futures = [pool.submit(run, j) for j in range(1, k)]
    try:
        states = [run(0)]
    finally:  # wait for every share, even when the caller's failed
        errors = [f.exception() for f in futures]
    for e in errors:
        if e is not None:
            raise e
    return states + [f.result() for f in futures]
