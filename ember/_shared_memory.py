"""Arrays in memory shared between processes: what Tensor.share_memory_() and Module.share_memory() use.

A shared array lives in an anonymous file (Linux's memfd; elsewhere an unlinked temporary file) mapped with
MAP_SHARED, so processes forked after share_memory_() read and write the same pages, as Hogwild training needs.
multiprocessing's own pickler, which sends the arguments of 'spawn' and 'forkserver' processes and everything put
in a Queue or a Pipe, sends such an array as its file descriptor (PyTorch's 'file_descriptor' strategy): the
receiver maps the same memory. Any other pickling (pickle.dumps, copy.deepcopy) and ember.save write the values.
Arrays that were not shared travel as values, as before.

The memory is the kernel's to free: it goes when the last process that maps it unmaps it (when its arrays are
garbage-collected) or exits, however it exits; no name is left behind in /dev/shm.
"""
import mmap
import os
import pickle
import sys
import tempfile
import weakref
from multiprocessing import reduction

import numpy as np

__all__ = ["share", "is_shared"]

# id(mapping) -> (weak reference to the mmap, its file descriptor, its size, the address of its first byte), for
# every mapping of this process that holds shared arrays (the entry goes when the mapping is garbage-collected)
_segments = {}


def _anonymous_file(size):
    """A file descriptor of a new anonymous file of size bytes, which other processes can map."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("ember-shared", os.MFD_CLOEXEC)
    else:  # pragma: no cover - macOS and the BSDs
        fd, path = tempfile.mkstemp(prefix="ember-shared-")
        os.unlink(path)
    try:
        os.ftruncate(fd, size)
    except OSError:
        os.close(fd)
        raise
    return fd


def _map(fd, size):
    """Map the file fd (of size bytes) and remember the mapping; the fd is closed when the mapping is freed."""
    try:
        m = mmap.mmap(fd, size)
    except (OSError, ValueError):
        os.close(fd)
        raise
    key = id(m)
    address = np.frombuffer(m, np.uint8, count=1).__array_interface__["data"][0]
    _segments[key] = (weakref.ref(m), fd, size, address)
    weakref.finalize(m, _forget, key, fd)
    return m


def _forget(key, fd):
    _segments.pop(key, None)
    os.close(fd)


def _segment_of(array):
    """(fd, size, address of its first byte) of the shared mapping that array views, or None."""
    root = array
    while root.__class__ is np.ndarray and root.base is not None:
        root = root.base
    entry = _segments.get(id(root))
    if entry is None or entry[0]() is not root:
        return None
    return entry[1:]


def is_shared(array):
    """Whether a NumPy array views memory made by share() (in this process, or received from another one)."""
    return _segment_of(array) is not None


def share(array, op="share_memory_"):
    """A copy of the NumPy array in a new shared mapping (C-contiguous, the same shape, dtype and values)."""
    if sys.platform == "win32":  # pragma: no cover
        raise RuntimeError(f"{op}: shared memory between processes is not supported on Windows by ember")
    if array.dtype.hasobject:
        raise TypeError(f"{op}: an array of Python objects (dtype {array.dtype}) cannot be shared")
    size = max(array.nbytes, 1)  # a mapping is never empty
    out = np.ndarray(array.shape, array.dtype, buffer=_map(_anonymous_file(size), size))
    np.copyto(out, array, casting="no")
    return out


# --- pickling by handle, in multiprocessing's pickler only ---------------------------------------------------------

def _reduce_ndarray(array):
    segment = _segment_of(array)
    if segment is None:
        return array.__reduce_ex__(pickle.DEFAULT_PROTOCOL)  # by value, as multiprocessing would have sent it
    fd, size, address = segment
    offset = array.__array_interface__["data"][0] - address
    return _rebuild_ndarray, (reduction.DupFd(fd), size, offset, array.shape, array.strides, array.dtype)


def _rebuild_ndarray(dup_fd, size, offset, shape, strides, dtype):
    return np.ndarray(shape, dtype, buffer=_map(dup_fd.detach(), size), offset=offset, strides=strides)


if sys.platform != "win32":
    reduction.ForkingPickler.register(np.ndarray, _reduce_ndarray)
