"""The counters behind ``ember.memory``: bytes of live tensor storage per device, and ``count(array)``, which
``init_tensor`` calls for every new tensor while counting is on.

A storage is the array that owns a tensor's memory (the base array of a view), counted once: a weak reference to it
(a ``_Storage``) takes its bytes off when the array is freed. That costs a few hundred nanoseconds per new tensor,
so counting starts only when someone asks (``ember.memory``), as PyTorch counts CPU memory only for its profiler.
The counters are updated without a lock (the GIL orders them): threads that make tensors at the same moment may
lose an update of the count.
"""
import weakref

import numpy as np

from ._sparse import SparseCOO
from .device import device_of

_ndarray = np.ndarray

on = [False]          # whether new tensors are counted: init_tensor reads on[0]
owners = {}           # id(array) -> its _Storage, for every counted array alive
cpu = [0, 0]          # [bytes allocated, peak bytes] on the CPU
stats = {"cpu": cpu}  # device name ("cpu", "cuda:0") -> [bytes allocated, peak bytes]


class _Storage(weakref.ref):
    """A weak reference to a counted array, which takes its bytes off the count when the array is freed."""

    __slots__ = ("key", "nbytes", "stats")


def _release_cpu(ref, _pop=owners.pop, _cpu=cpu):
    _cpu[0] -= ref.nbytes
    _pop(ref.key, None)


def _release(ref, _pop=owners.pop):
    ref.stats[0] -= ref.nbytes
    _pop(ref.key, None)


def is_array(obj):
    """Whether obj is a NumPy or CuPy array."""
    return isinstance(obj, _ndarray) or hasattr(obj, "__cuda_array_interface__")


def root_of(array):
    """The array that owns array's memory: array itself, or the base of a view (through views of views)."""
    root = array
    base = array.base if array.__class__ is _ndarray else getattr(array, "base", None)
    while base is not None and base is not root:
        if base.__class__ is not root.__class__ and not isinstance(base, _ndarray):
            break  # memory of another kind of object (bytes, mmap, shared memory): the outermost array stands for it
        root = base
        base = root.base
    return root


def count(array, _Storage=_Storage, _cpu=cpu, _owners=owners):
    """Count the storage of array (its base array, for a view) unless it is counted already."""
    if array.__class__ is _ndarray and array.base is None:  # a new CPU array owning its memory: most tensors
        key = id(array)
        if key in _owners:
            return
        ref = _Storage(array, _release_cpu)
        ref.key = key
        ref.nbytes = n = array.nbytes
        _owners[key] = ref
        n += _cpu[0]
        _cpu[0] = n
        if n > _cpu[1]:
            _cpu[1] = n
        return
    root = root_of(array)
    key = id(root)
    if key in owners:
        return
    if root.__class__ is _ndarray or isinstance(root, _ndarray):
        ref = _Storage(root, _release_cpu)
        st = cpu
    elif root.__class__ is SparseCOO:
        count(root.indices)
        count(root.values)
        return
    elif hasattr(root, "__cuda_array_interface__"):  # a CuPy array
        ref = _Storage(root, _release)
        name = str(device_of(root))
        st = ref.stats = stats.get(name) or stats.setdefault(name, [0, 0])
    else:  # a NumPy scalar (np.float64) some code wraps: no weak reference to it, and a few bytes
        return
    ref.key = key
    ref.nbytes = n = root.nbytes
    owners[key] = ref
    n += st[0]
    st[0] = n
    if n > st[1]:
        st[1] = n


def count_state(node):
    """Count the arrays a node's forward kept for its backward on the node (a dropout mask), directly or in a
    tuple or list: called for every recorded op while counting is on."""
    for v in node.__dict__.values():
        if v.__class__ is _ndarray:
            if id(v) not in owners:
                count(v)
        elif v.__class__ in (tuple, list):
            for a in v:
                if a.__class__ is _ndarray and id(a) not in owners:
                    count(a)
