"""Indexing keys: parsing and checking a key as PyTorch does (``parse``), the shape of ``a[key]`` (the shape rule of
indexing, with None where a mask's count of True values decides a size), and the array helpers of scatter-adds."""
import operator

import numpy as np

from ..device import device_of, move
from ..tensor import Tensor


# --- array helpers (forward side) --------------------------------------------------------------------------------

def add_at(xp, out, key, values):
    """out[key] += values, accumulating over repeated positions (out: a fresh C-contiguous array)."""
    if xp is not np:  # pragma: no cover - GPU only
        import cupyx
        cupyx.scatter_add(out, key, values)
        return
    lin = _linear_positions(out.shape, key) if out.flags.c_contiguous else None
    if lin is None:
        np.add.at(out, key, values)
    else:  # 1-D add.at on flat positions is several times faster than add.at with a multi-dimensional key
        np.add.at(out.reshape(-1), lin.reshape(-1), np.broadcast_to(values, lin.shape).reshape(-1))


def _linear_positions(shape, key):
    """Flat positions in an array of shape addressed by key, in the layout of shape[key]; None for other keys.

    Handles the common scatter-add keys: one integer array on the first dimension (embedding lookups,
    index_select on dim 0) and a full tuple of integer arrays (gather/scatter_add). Indices are in range.
    """
    if key and key[-1] is Ellipsis:
        key = key[:-1]
    if not key or any(k.__class__ is int or k.__class__ is slice or k is None or k is False or k.dtype.kind != "i"
                      for k in key):
        return None
    if len(key) == 1:
        idx = key[0]
        rest = 1
        for s in shape[1:]:
            rest *= s
        idx = np.where(idx < 0, idx + shape[0], idx) if idx.size and idx.min() < 0 else idx
        lin = idx.astype(np.intp, copy=False).reshape(idx.shape + (1,)) * rest + np.arange(rest)
        return lin.reshape(idx.shape + tuple(shape[1:]))
    if len(key) == len(shape):
        return np.ravel_multi_index(np.broadcast_arrays(*key), shape, mode="wrap")
    return None


def along(xp, index, dim):
    """The advanced-index tuple that picks a[i, ..., index[i, ..., k, ...], ...] along dim (gather/scatter)."""
    n = index.ndim
    key = []
    for d in range(n):
        if d == dim:
            key.append(index)
        else:
            shape = [1] * n
            shape[d] = index.shape[d]
            key.append(xp.arange(index.shape[d]).reshape(shape))
    return tuple(key)


def lead(shape):
    """A key for the leading block of a larger array with the given shape."""
    return tuple(slice(0, s) for s in shape)


# --- parsing indexing keys ---------------------------------------------------------------------------------------

def parse(t, key):
    """Normalise key for t: a tuple of ints, slices, None, Ellipsis, False and index arrays on t's device.

    Returns (key, kind): kind 0 for basic indexing (a view), 1 when boolean masks are the only advanced indices,
    2 when integer arrays are present (positions may repeat, so gradients must accumulate).
    """
    items = key if key.__class__ is tuple else (key,)
    data = t._data
    out = []
    kind = 0
    ellipsis = False
    for k in items:
        c = k.__class__
        if c is int or k is None:
            out.append(k)
        elif c is slice:
            out.append(_slice(k))
        elif k is Ellipsis:
            if ellipsis:
                raise IndexError("an index can only have a single ellipsis ('...')")
            ellipsis = True
            out.append(k)
        elif c is bool or c is np.bool_:
            if k:
                out.append(None)  # x[True] is x[None]
            else:
                out.append(False)
                kind = kind or 1
        else:
            arr = _index_array(k, data)
            out.append(arr)
            if arr.__class__ is not int:
                kind = max(kind, 1 if arr.dtype.kind == "b" else 2)
    _check_key(out, data.shape)
    if not ellipsis:
        out.append(Ellipsis)  # keeps a 0-d result an array (a view), never a NumPy scalar
    return tuple(out), kind


def _slice(k):
    step = k.step
    if step is not None:
        step = operator.index(step)
        if step <= 0:
            raise ValueError("step must be greater than zero" if step < 0 else "slice step cannot be zero")
    start, stop = k.start, k.stop
    if (start is None or start.__class__ is int) and (stop is None or stop.__class__ is int):
        return k
    return slice(None if start is None else operator.index(start), None if stop is None else operator.index(stop),
                 step)


def _index_array(k, data):
    """An index array (int or bool) on data's device, or a Python int for integer-like scalars."""
    if isinstance(k, Tensor):
        arr = k._data
        if arr.dtype == np.uint8:  # PyTorch reads uint8 index tensors as masks
            arr = arr.astype(bool)
    elif isinstance(k, (list, tuple, range)):
        arr = np.asarray(k)
        if arr.size == 0 and arr.dtype.kind == "f":
            arr = arr.astype(np.int64)
    elif isinstance(k, np.ndarray) or hasattr(k, "__cuda_array_interface__"):
        arr = k
    else:
        try:
            return operator.index(k)
        except TypeError:
            raise IndexError(f"index: unsupported index of type {type(k).__name__} (expected an int, a slice, None, "
                             "Ellipsis, or an integer/bool tensor, list or array)") from None
    if arr.dtype.kind not in "biu":
        raise IndexError(f"tensors used as indices must be long, int, byte or bool tensors (got {arr.dtype})")
    if arr.__class__ is not data.__class__:
        arr = move(arr, device_of(data))
    return arr


def _indexed_dims(key):
    """How many dimensions of the indexed tensor the key's items consume (a mask: as many as it has)."""
    used = 0
    for k in key:
        c = k.__class__
        if c is int or c is slice:
            used += 1
        elif k is not None and k is not Ellipsis and k is not False:
            used += k.ndim if k.dtype.kind == "b" else 1
    return used


def _check_key(key, shape):
    """PyTorch's IndexErrors for too many indices, out-of-range indices and mismatched masks."""
    ndim = len(shape)
    used = _indexed_dims(key)
    if used > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    d = 0
    for k in key:
        c = k.__class__
        if c is slice:
            d += 1
        elif c is int:
            size = shape[d]
            if not -size <= k < size:
                raise IndexError(f"index {k} is out of bounds for dimension {d} with size {size}")
            d += 1
        elif k is Ellipsis:
            d += ndim - used
        elif k is None or k is False:
            pass
        elif k.dtype.kind == "b":
            for j, s in enumerate(k.shape):
                if s != shape[d + j]:
                    raise IndexError(f"The shape of the mask {list(k.shape)} at index {j} does not match the shape "
                                     f"of the indexed tensor {list(shape)} at index {d + j}")
            d += k.ndim
        else:
            check_range(k, shape[d], d, IndexError, negative=True)
            d += 1


def check_range(idx, size, dim, exc, op=None, negative=False):
    """Raise exc naming the first bad index when idx holds values outside [0, size) (or [-size, size))."""
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if hi >= size or lo < (-size if negative else 0):
            bad = hi if hi >= size else lo
            where = f"{op}(): " if op else ""
            raise exc(f"{where}index {bad} is out of bounds for dimension {dim} with size {size}")


# --- shape rules ------------------------------------------------------------------------------------------------

def _broadcast_sizes(shapes):
    """The broadcast of shapes whose sizes may be None (unknown: how many entries a mask selects)."""
    n = max((len(s) for s in shapes), default=0)
    out = [1] * n
    for s in shapes:
        for i, x in enumerate(s, n - len(s)):
            y = out[i]
            out[i] = x if y == 1 else y if x == 1 else (x if y is None else y)
    return tuple(out)


def index_shape(shape, key):
    """The shape of a[key] for a of shape (key as parse gives it), by NumPy's rules; None for a dimension whose
    size is the number of True values of a mask.

    Basic items (slices, None, Ellipsis) give their sizes in place. Advanced items (index arrays, masks, and ints
    once an array is present) broadcast together; the result goes where the first of them stands when they are
    adjacent in the key, else in front.
    """
    ndim = len(shape)
    used = _indexed_dims(key)
    parts, adv = [], []
    first = last = None
    apart = arrays = False
    d = 0
    for pos, k in enumerate(key):
        c = k.__class__
        if c is slice:
            parts.append(len(range(*k.indices(shape[d]))))
            d += 1
            continue
        if k is None:
            parts.append(1)
            continue
        if k is Ellipsis:
            n = ndim - used
            parts += shape[d:d + n]
            d += n
            continue
        if c is int:
            adv.append(())
            d += 1
        else:
            arrays = True
            if k is False:
                adv.append((0,))
            elif k.dtype.kind == "b":
                adv.append((None,))
                d += k.ndim
            else:
                adv.append(tuple(k.shape))
                d += 1
        if first is None:
            first = len(parts)
        elif last != pos - 1:
            apart = True
        last = pos
    if not arrays:
        return tuple(parts)
    joined = _broadcast_sizes(adv)
    if apart:
        return joined + tuple(parts)
    return tuple(parts[:first]) + joined + tuple(parts[first:])
