"""ONNX rules of the shape ops: reshape, view, permute, expand, basic indexing, split, select, narrow, cat, stack,
casts, flip, tril/triu."""
import numpy as np

from .._builder import onnx_dtype
from . import rule

_INT_MAX = np.iinfo(np.int64).max
_INT_MIN = np.iinfo(np.int64).min


@rule("Reshape", "View", dynamic=("shape",))
def reshape(g, node, x):
    zero = 1 if 0 in node.shape else None  # a real size 0, not ONNX's "copy this dim from the input"
    return g.op("Reshape", x, g.sizes(node.shape, g.twin.shape), allowzero=zero)


@rule("Permute")
def permute(g, node, x):
    return g.op("Transpose", x, perm=[int(d) for d in node.dims])


@rule("BroadcastTo", dynamic=("shape",))
def broadcast_to(g, node, x):
    return g.op("Expand", x, g.sizes(node.shape, g.twin.shape))


@rule("ToCopy")
def to_copy(g, node, x):
    dtype = g.outputs[0].dtype
    return g.op("Identity", x) if dtype == x.dtype else g.op("Cast", x, to=onnx_dtype(dtype))


def slice_axis(g, x, axis, start, stop, step=1):
    """x[start:stop:step] along axis (stop None: to the end)."""
    if stop is None:
        stop = _INT_MAX if step > 0 else _INT_MIN
    return g.op("Slice", x, g.ints([start]), g.ints([stop]), g.ints([axis]), g.ints([step]))


@rule("BasicIndex")
def basic_index(g, node, x):
    """Ints (Gather of one index: the axis goes), slices (Slice), None (Unsqueeze) and Ellipsis, as a chain of ops
    that never reads the sizes of the dimensions it keeps whole (so they may be dynamic)."""
    key = list(node.key) if isinstance(node.key, tuple) else [node.key]
    n_real = sum(1 for k in key if k is not None and k is not Ellipsis)
    fill = [slice(None)] * (x.ndim - n_real)
    ell = [i for i, k in enumerate(key) if k is Ellipsis]
    key = key[:ell[0]] + fill + key[ell[0] + 1:] if ell else key + fill
    y, axis, out_axis, gone, new = x, 0, 0, [], []
    for k in key:
        if k is None:
            new.append(out_axis)
            out_axis += 1
        elif isinstance(k, slice):
            if k != slice(None):
                step = 1 if k.step is None else int(k.step)
                start = (0 if step > 0 else -1) if k.start is None else int(k.start)
                y = slice_axis(g, y, axis, start, None if k.stop is None else int(k.stop), step)
            axis += 1
            out_axis += 1
        elif isinstance(k, (int, np.integer)):
            y = slice_axis(g, y, axis, int(k), int(k) + 1 if int(k) != -1 else None)
            gone.append(axis)
            axis += 1
        else:
            raise g.unsupported(f"with a key of {type(k).__name__}")
    if gone:
        y = g.op("Squeeze", y, g.ints(gone))
    if new:
        y = g.op("Unsqueeze", y, g.ints(new))
    return y if y is not x else g.op("Identity", x)


@rule("Narrow")
def narrow(g, node, x):
    return slice_axis(g, x, node.dim, node.start, node.start + node.length)


@rule("Split")
def split(g, node, x):
    sizes = [int(s) for s in node.sizes]
    if len(sizes) == 1:
        return (g.op("Identity", x),)
    return g.op("Split", x, g.ints(sizes), axis=node.dim, outputs=len(sizes))


@rule("Select")
def select(g, node, x):
    return g.op("Gather", x, g.const(np.asarray(node.index, dtype=np.int64)), axis=node.dim)


@rule("Cat")
def cat(g, node, *xs):
    return g.op("Concat", *xs, axis=node.dim)


@rule("Stack")
def stack(g, node, *xs):
    axis = g.ints([node.dim])
    return g.op("Concat", *(g.op("Unsqueeze", x, axis) for x in xs), axis=node.dim)


@rule("Flip")
def flip(g, node, x):
    dims = [int(d) for d in node.dims]
    n = len(dims)
    return g.op("Slice", x, g.ints([-1] * n), g.ints([_INT_MIN] * n), g.ints(dims), g.ints([-1] * n))
