"""Shape and indexing ONNX ops: Reshape, Transpose, Concat, Split, Slice, Gather*, Scatter*, Pad, Expand, Tile,
Constant*, Range, Trilu, OneHot, ... Data movement is differentiable for float tensors; index and shape
computations (integers) run NumPy."""
import numpy as np
from onnx import numpy_helper

import ember as E
from ...nn import functional as F
from ...tensor import Tensor
from .._registry import onnx_op
from .._values import np_dtype, to_numpy, to_value
from ._util import axis_of, float_path, ints, numpy_op, onnx_np_dtype, scalar


def _float(x):
    return float_path(x)


def _reshape_to(x, shape):
    if isinstance(x, Tensor):
        return E.reshape(x, tuple(shape))
    return np.reshape(x, shape)


@onnx_op("Reshape", since=(1, 5, 13, 14, 19, 21))
def reshape(ctx, inputs, attrs):
    x = inputs[0]
    shape = attrs["shape"] if ctx.opset < 5 else ints(inputs[1])
    if not attrs.get("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return _reshape_to(x, shape)


@onnx_op("Shape", since=(1, 13, 15, 19, 21))
def shape(ctx, inputs, attrs):
    dims = list(inputs[0].shape)
    start, end = attrs.get("start", 0), attrs.get("end", None)
    return to_value(np.array(dims[slice(start, end)], dtype=np.int64))


@onnx_op("Size", since=(1, 13, 19, 21))
def size(ctx, inputs, attrs):
    return to_value(np.array(int(np.prod(inputs[0].shape, dtype=np.int64)), dtype=np.int64))


@onnx_op("Flatten", since=(1, 9, 11, 13, 21))
def flatten(ctx, inputs, attrs):
    x = inputs[0]
    axis = axis_of(attrs.get("axis", 1), len(x.shape))
    lead = int(np.prod(x.shape[:axis], dtype=np.int64))
    return _reshape_to(x, (lead, int(np.prod(x.shape[axis:], dtype=np.int64))))


@onnx_op("Squeeze", since=(1, 11, 13, 21))
def squeeze(ctx, inputs, attrs):
    x = inputs[0]
    axes = attrs.get("axes") if ctx.opset < 13 else ints(inputs[1]) if len(inputs) > 1 else None
    if axes is None:
        axes = [i for i, n in enumerate(x.shape) if n == 1]
    axes = {axis_of(a, len(x.shape)) for a in axes}
    return _reshape_to(x, [n for i, n in enumerate(x.shape) if i not in axes])


@onnx_op("Unsqueeze", since=(1, 11, 13, 21))
def unsqueeze(ctx, inputs, attrs):
    x = inputs[0]
    axes = attrs["axes"] if ctx.opset < 13 else ints(inputs[1])
    rank = len(x.shape) + len(axes)
    axes = sorted(axis_of(a, rank) for a in axes)
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return _reshape_to(x, shape)


@onnx_op("Transpose", since=(1, 13, 21))
def transpose(ctx, inputs, attrs):
    x = inputs[0]
    perm = attrs.get("perm") or list(reversed(range(len(x.shape))))
    if isinstance(x, Tensor):
        return E.permute(x, tuple(perm))
    return np.transpose(x, perm)


@onnx_op("Concat", since=(1, 4, 11, 13))
def concat(ctx, inputs, attrs):
    xs = [x for x in inputs if x is not None]
    axis = attrs.get("axis", 1)
    if all(isinstance(x, Tensor) for x in xs) and len({x.dtype for x in xs}) == 1:
        return E.cat(list(xs), dim=axis)
    return numpy_op(lambda *a: np.concatenate(a, axis=axis), *xs)


def _split_sizes(n, split, num_outputs):
    if split is not None:
        return list(split)
    chunk = -(-n // num_outputs)
    return [min(chunk, n - i * chunk) for i in range(num_outputs) if n - i * chunk > 0] or [0] * num_outputs


@onnx_op("Split", since=(1, 2, 11, 13, 18))
def split(ctx, inputs, attrs):
    x = inputs[0]
    axis = axis_of(attrs.get("axis", 0), len(x.shape))
    if ctx.opset < 13 or (len(inputs) < 2 and "split" in attrs):
        sizes = attrs.get("split") or (ints(inputs[1]) if len(inputs) > 1 and inputs[1] is not None else None)
    else:
        sizes = ints(inputs[1]) if len(inputs) > 1 and inputs[1] is not None else None
    n_out = len(ctx.node.output)
    if sizes is None and ctx.opset >= 18:
        sizes = _split_sizes(x.shape[axis], None, attrs.get("num_outputs", n_out))
    elif sizes is None:
        sizes = [x.shape[axis] // n_out] * n_out
    return tuple(_split_by(x, sizes, axis))


def _split_by(x, sizes, axis):
    if isinstance(x, Tensor):
        return list(E.split(x, list(sizes), dim=axis))
    return np.split(x, np.cumsum(sizes)[:-1], axis=axis)


@onnx_op("Slice", since=(1, 10, 11, 13))
def slice_(ctx, inputs, attrs):
    x = inputs[0]
    if ctx.opset < 10:
        starts, ends, axes, steps = attrs["starts"], attrs["ends"], attrs.get("axes"), None
    else:
        starts, ends = ints(inputs[1]), ints(inputs[2])
        axes = ints(inputs[3]) if len(inputs) > 3 and inputs[3] is not None else None
        steps = ints(inputs[4]) if len(inputs) > 4 and inputs[4] is not None else None
    axes = axes if axes is not None else list(range(len(starts)))
    steps = steps or [1] * len(starts)
    key = [slice(None)] * len(x.shape)
    for s, e, a, st in zip(starts, ends, axes, steps):
        a = axis_of(a, len(x.shape))
        n = x.shape[a]
        s = _clamp_index(s, n, st)
        e = _clamp_index(e, n, st)
        key[a] = slice(s, e if e >= 0 else None, st)
    if isinstance(x, Tensor) and any(k.step is not None and k.step < 0 for k in key):
        return _negative_step_slice(x, key)
    return x[tuple(key)]


def _clamp_index(i, n, step):
    if i < 0:
        i += n
    if step > 0:
        return min(max(i, 0), n)
    return min(max(i, -1), n - 1)


def _negative_step_slice(x, key):
    # ember follows PyTorch (no negative steps): flip, then slice forwards
    for a, k in enumerate(key):
        if k.step is not None and k.step < 0:
            n = x.shape[a]
            x = E.flip(x, (a,))
            start = n - 1 - k.start
            stop = n - 1 - k.stop if k.stop is not None else n
            key[a] = slice(start, max(stop, start), -k.step)
    return x[tuple(key)]


def _index_array(v, n):
    idx = np.asarray(to_numpy(v)).astype(np.int64)
    return np.where(idx < 0, idx + n, idx)


@onnx_op("Gather", since=(1, 11, 13))
def gather(ctx, inputs, attrs):
    x, indices = inputs
    axis = axis_of(attrs.get("axis", 0), len(x.shape))
    idx = _index_array(indices, x.shape[axis])
    if isinstance(x, Tensor):
        key = (slice(None),) * axis + (to_value(idx),)
        return x[key]
    return np.take(x, idx, axis=axis)


@onnx_op("GatherElements", since=(11, 13))
def gather_elements(ctx, inputs, attrs):
    x, indices = inputs
    axis = axis_of(attrs.get("axis", 0), len(x.shape))
    idx = _index_array(indices, x.shape[axis])
    if isinstance(x, Tensor):
        return E.gather(x, axis, to_value(idx))
    return np.take_along_axis(x, idx, axis=axis)


@onnx_op("GatherND", since=(11, 12, 13))
def gather_nd(ctx, inputs, attrs):
    x, indices = inputs
    b = attrs.get("batch_dims", 0)
    idx = np.asarray(to_numpy(indices)).astype(np.int64)
    k = idx.shape[-1]
    shape = x.shape
    idx = np.where(idx < 0, idx + np.array(shape[b:b + k]), idx)
    batch = tuple(shape[:b])
    nb = int(np.prod(batch, dtype=np.int64))
    flat = _reshape_to(x, (nb,) + tuple(shape[b:]))
    idx_flat = idx.reshape(nb, -1, k)
    bi = np.repeat(np.arange(nb), idx_flat.shape[1]).reshape(nb, -1)
    key = (to_value(bi),) + tuple(to_value(idx_flat[..., j]) for j in range(k))
    out = flat[key] if isinstance(x, Tensor) else flat[tuple(to_numpy(t) for t in key)]
    return _reshape_to(out, batch + idx.shape[b:-1] + tuple(shape[b + k:]))


@onnx_op("Expand", since=(8, 13))
def expand(ctx, inputs, attrs):
    x, shape = inputs[0], ints(inputs[1])
    target = np.broadcast_shapes(tuple(x.shape), tuple(shape))
    if _float(x):
        return E.broadcast_to(x, target)
    return numpy_op(lambda a: np.broadcast_to(a, target).copy(), x)


@onnx_op("Tile", since=(1, 6, 13))
def tile(ctx, inputs, attrs):
    x, reps = inputs[0], ints(inputs[1])
    if isinstance(x, Tensor):
        return E.tile(x, tuple(reps))
    return np.tile(x, reps)


@onnx_op("Pad", since=(1, 2, 11, 13, 18, 19, 21))
def pad(ctx, inputs, attrs):
    x = inputs[0]
    mode = attrs.get("mode", "constant")
    if ctx.opset < 11:
        pads, value, axes = attrs.get("pads", attrs.get("paddings")), attrs.get("value", 0.0), None
    else:
        pads = ints(inputs[1])
        value = scalar(inputs[2], 0) if len(inputs) > 2 and inputs[2] is not None else 0
        axes = ints(inputs[3]) if len(inputs) > 3 and inputs[3] is not None else None
    nd = len(x.shape)
    axes = [axis_of(a, nd) for a in axes] if axes is not None else list(range(nd))
    before, after = [0] * nd, [0] * nd
    for i, a in enumerate(axes):
        before[a], after[a] = pads[i], pads[i + len(axes)]
    if _float(x):
        return _pad_ember(x, before, after, mode, value)
    np_mode = {"constant": "constant", "reflect": "reflect", "edge": "edge", "wrap": "wrap"}[mode]
    def run(a):
        a = a[tuple(slice(-b if b < 0 else 0, n + e if e < 0 else n) for b, e, n in zip(before, after, a.shape))]
        width = [(max(b, 0), max(e, 0)) for b, e in zip(before, after)]
        kw = {"constant_values": value} if np_mode == "constant" else {}
        return np.pad(a, width, mode=np_mode, **kw)
    return numpy_op(run, x)


def _pad_ember(x, before, after, mode, value):
    if mode == "constant":
        flat = []
        for b, e in zip(reversed(before), reversed(after)):
            flat += [b, e]
        return F.pad(x, tuple(flat), mode="constant", value=float(value))
    # reflect / edge / wrap one axis at a time by concatenating slices (any rank)
    for a, (b, e) in enumerate(zip(before, after)):
        if b == 0 and e == 0:
            continue
        n = x.shape[a]
        idx = np.arange(-b, n + e)
        if mode == "reflect":
            period = 2 * (n - 1) if n > 1 else 1
            idx = np.abs(np.mod(idx, period)) if n > 1 else np.zeros_like(idx)
            idx = np.where(idx >= n, period - idx, idx)
        elif mode == "edge":
            idx = np.clip(idx, 0, n - 1)
        else:
            idx = np.mod(idx, n)
        x = E.index_select(x, a, to_value(idx.astype(np.int64)))
    return x


@onnx_op("Constant", since=(1, 9, 11, 12, 13, 19, 21))
def constant(ctx, inputs, attrs):
    if "value" in attrs:
        return attrs["value"]
    if "sparse_value" in attrs:
        sp = attrs["sparse_value"]
        return to_value(numpy_helper.to_array(sp) if not hasattr(sp, "values") else _dense(sp))
    for key, dtype in [("value_float", np.float32), ("value_int", np.int64), ("value_string", object)]:
        if key in attrs:
            return to_value(np.array(attrs[key], dtype=dtype))
    for key, dtype in [("value_floats", np.float32), ("value_ints", np.int64), ("value_strings", object)]:
        if key in attrs:
            return to_value(np.array(attrs[key], dtype=dtype))
    raise ValueError("Constant without a value")


def _dense(sp):
    values = numpy_helper.to_array(sp.values)
    idx = numpy_helper.to_array(sp.indices)
    out = np.zeros(int(np.prod(sp.dims)), dtype=values.dtype)
    if idx.ndim == 2:
        idx = np.ravel_multi_index(idx.T, tuple(sp.dims))
    out[idx] = values
    return out.reshape(tuple(sp.dims))


@onnx_op("ConstantOfShape", since=(9, 20, 21))
def constant_of_shape(ctx, inputs, attrs):
    value = attrs.get("value")
    v = to_numpy(value) if value is not None else np.zeros(1, dtype=np.float32)
    return to_value(np.full(ints(inputs[0]), v.reshape(-1)[0], dtype=v.dtype))


@onnx_op("Range", since=11)
def range_(ctx, inputs, attrs):
    start, limit, delta = (np.asarray(to_numpy(v)).reshape(()) for v in inputs)
    n = max(int(np.ceil((float(limit) - float(start)) / float(delta))), 0)
    return to_value((start + np.arange(n) * delta).astype(start.dtype))


@onnx_op("EyeLike", since=(9, 22))
def eye_like(ctx, inputs, attrs):
    x = inputs[0]
    dtype = onnx_np_dtype(attrs["dtype"]) if "dtype" in attrs else np_dtype(x)
    return to_value(np.eye(x.shape[0], x.shape[1], k=attrs.get("k", 0), dtype=dtype))


@onnx_op("Trilu", since=14)
def trilu(ctx, inputs, attrs):
    x = inputs[0]
    k = scalar(inputs[1], 0) if len(inputs) > 1 and inputs[1] is not None else 0
    upper = attrs.get("upper", 1)
    if isinstance(x, Tensor):
        return E.triu(x, k) if upper else E.tril(x, k)
    return np.triu(x, k) if upper else np.tril(x, k)


@onnx_op("OneHot", since=(9, 11))
def one_hot(ctx, inputs, attrs):
    indices, depth, values = inputs
    depth = int(scalar(depth))
    idx = np.asarray(to_numpy(indices)).astype(np.int64)
    idx = np.where(idx < 0, idx + depth, idx)
    axis = attrs.get("axis", -1)
    hot = (idx[..., None] == np.arange(depth))
    axis = axis_of(axis, hot.ndim)
    hot = np.moveaxis(hot, -1, axis)
    v = to_numpy(values)
    return to_value(np.where(hot, v[1], v[0]).astype(v.dtype))


@onnx_op("Compress", since=(9, 11))
def compress(ctx, inputs, attrs):
    x, cond = inputs
    mask = np.asarray(to_numpy(cond)).astype(bool)
    axis = attrs.get("axis")
    if axis is None:
        x = _reshape_to(x, (-1,))
        axis = 0
    axis = axis_of(axis, len(x.shape))
    keep = np.nonzero(mask)[0]
    keep = keep[keep < x.shape[axis]]
    if isinstance(x, Tensor):
        return E.index_select(x, axis, to_value(keep.astype(np.int64)))
    return np.take(x, keep, axis=axis)


@onnx_op("NonZero", since=(9, 13))
def nonzero(ctx, inputs, attrs):
    return numpy_op(lambda a: np.array(np.nonzero(a), dtype=np.int64).reshape(a.ndim, -1), inputs[0])


@onnx_op("DepthToSpace", since=(1, 11, 13))
def depth_to_space(ctx, inputs, attrs):
    x, b = inputs[0], attrs["blocksize"]
    n, c, h, w = x.shape
    if attrs.get("mode", "DCR") == "DCR":
        y = _reshape_to(x, (n, b, b, c // (b * b), h, w))
        y = transpose(ctx, [y], {"perm": [0, 3, 4, 1, 5, 2]})
    else:
        y = _reshape_to(x, (n, c // (b * b), b, b, h, w))
        y = transpose(ctx, [y], {"perm": [0, 1, 4, 2, 5, 3]})
    return _reshape_to(y, (n, c // (b * b), h * b, w * b))


@onnx_op("SpaceToDepth", since=(1, 13))
def space_to_depth(ctx, inputs, attrs):
    x, b = inputs[0], attrs["blocksize"]
    n, c, h, w = x.shape
    y = _reshape_to(x, (n, c, h // b, b, w // b, b))
    perm = [0, 1, 3, 5, 2, 4] if attrs.get("mode", "DCR") == "CRD" else [0, 3, 5, 1, 2, 4]
    y = transpose(ctx, [y], {"perm": perm})
    return _reshape_to(y, (n, c * b * b, h // b, w // b))


def _scatter_np(data, idx, upd, axis, reduction):
    out = data.copy()
    grid = list(np.indices(idx.shape, sparse=True))
    grid[axis] = idx
    key = tuple(grid)
    if reduction == "none":
        out[key] = upd
    else:
        ufunc = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}[reduction]
        ufunc.at(out, tuple(np.broadcast_to(g, idx.shape) for g in key), upd)
    return out


@onnx_op("ScatterElements", since=(11, 13, 16, 18))
def scatter_elements(ctx, inputs, attrs):
    data, indices, updates = inputs
    axis = axis_of(attrs.get("axis", 0), len(data.shape))
    idx = _index_array(indices, data.shape[axis])
    reduction = attrs.get("reduction", "none")
    if _float(data) and _float(updates) and reduction in ("none", "add"):
        if reduction == "add":
            return E.scatter_add(data, axis, to_value(idx), updates)
        return E.scatter(data, axis, to_value(idx), updates)
    return numpy_op(lambda d, u: _scatter_np(d, idx, u, axis, reduction), data, updates)


@onnx_op("Scatter", since=(9,))
def scatter(ctx, inputs, attrs):
    return scatter_elements(ctx, inputs, attrs)


@onnx_op("ScatterND", since=(11, 13, 16, 18))
def scatter_nd(ctx, inputs, attrs):
    data, indices, updates = inputs
    reduction = attrs.get("reduction", "none")
    idx = np.asarray(to_numpy(indices)).astype(np.int64)

    def run(d, u):
        out = d.copy()
        k = idx.shape[-1]
        flat_idx = idx.reshape(-1, k)
        flat_upd = u.reshape((flat_idx.shape[0],) + d.shape[k:])
        for i, u_i in zip(flat_idx, flat_upd):
            key = tuple(i)
            if reduction == "none":
                out[key] = u_i
            else:
                fn = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}[reduction]
                out[key] = fn(out[key], u_i)
        return out
    return numpy_op(run, data, updates)


@onnx_op("ReverseSequence", since=10)
def reverse_sequence(ctx, inputs, attrs):
    x, lens = inputs
    b_axis, t_axis = attrs.get("batch_axis", 1), attrs.get("time_axis", 0)
    lens = ints(lens)
    shape = x.shape
    idx = np.indices(tuple(shape))
    t = idx[t_axis]
    b = idx[b_axis]
    n = np.asarray(lens)[b]
    src = np.where(t < n, n - 1 - t, t)
    if isinstance(x, Tensor):
        return E.gather(x, t_axis, to_value(src.astype(np.int64)))
    return np.take_along_axis(x, src, axis=t_axis)


@onnx_op("Unique", since=11)
def unique(ctx, inputs, attrs):
    a = to_numpy(inputs[0])
    axis = attrs.get("axis")
    vals, idx, inv, counts = np.unique(a, return_index=True, return_inverse=True, return_counts=True, axis=axis)
    if not attrs.get("sorted", 1):
        order = np.argsort(idx, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        vals = np.take(vals, order, axis=0 if axis is None else axis)
        idx, counts, inv = idx[order], counts[order], rank[inv.reshape(-1)]
    return (to_value(vals), to_value(idx.astype(np.int64)), to_value(inv.reshape(-1).astype(np.int64)),
            to_value(counts.astype(np.int64)))


@onnx_op("CenterCropPad", since=18)
def center_crop_pad(ctx, inputs, attrs):
    x, shape = inputs[0], ints(inputs[1])
    rank = len(x.shape)
    axes = [axis_of(a, rank) for a in attrs.get("axes", range(rank))]
    crop = [slice(None)] * rank
    pads = [(0, 0)] * rank
    for a, target in zip(axes, shape):
        n = x.shape[a]
        if target < n:
            start = (n - target) // 2
            crop[a] = slice(start, start + target)
        elif target > n:
            before = (target - n) // 2
            pads[a] = (before, target - n - before)
    y = x[tuple(crop)]
    if not any(p != (0, 0) for p in pads):
        return y
    if _float(y):
        return _pad_ember(y, [p[0] for p in pads], [p[1] for p in pads], "constant", 0)
    return numpy_op(lambda a: np.pad(a, pads), y)


@onnx_op("BitCast", since=26)
def bitcast(ctx, inputs, attrs):
    return numpy_op(lambda a: a.copy(order="C").view(onnx_np_dtype(attrs["to"])), inputs[0])


@onnx_op("TensorScatter", since=24)
def tensor_scatter(ctx, inputs, attrs):
    cache, update = inputs[0], inputs[1]
    rank = len(cache.shape)
    axis = axis_of(attrs.get("axis", -2), rank)
    n_max, n_new = cache.shape[axis], update.shape[axis]
    batch = cache.shape[0]
    write = ints(inputs[2]) if len(inputs) > 2 and inputs[2] is not None else [0] * batch
    pos = np.asarray(write).reshape(-1, 1) + np.arange(n_new)
    if attrs.get("mode", "linear") == "circular":
        pos = pos % n_max
    # an index tensor of update's shape: the cache position of each update element along ``axis``
    shape = [1] * rank
    shape[0], shape[axis] = batch, n_new
    idx = np.broadcast_to(pos.reshape(shape), tuple(update.shape)).astype(np.int64)
    if _float(cache) and _float(update):
        return E.scatter(cache, axis, to_value(idx), update)
    return numpy_op(lambda c, u: _scatter_np(c, idx, u, axis, "none"), cache, update)
