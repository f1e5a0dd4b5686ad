"""ONNX rule of the fused normalisation op (Normalize: batch_norm, layer_norm, group_norm, instance_norm,
rms_norm). As torch.onnx does: batch norm in evaluation mode is BatchNormalization with the running statistics,
layer_norm is LayerNormalization (opset 17), the others are written with ReduceMean."""
import math

import numpy as np

from .elementwise import reduce
from . import rule


def _normalized(g, x, axes, eps, center, dtype):
    """(x - mean) / sqrt(var + eps) over axes (x / sqrt(mean(x^2) + eps) without centring)."""
    xc = g.op("Sub", x, reduce(g, "ReduceMean", x, axes, True)) if center else x
    var = reduce(g, "ReduceMean", g.op("Mul", xc, xc), axes, True)
    return g.op("Div", xc, g.op("Sqrt", g.op("Add", var, g.scalar(eps, dtype))))


def _affine(g, y, w, b, shape):
    """y * w + b with w and b reshaped to shape (either may be None)."""
    if w is not None:
        y = g.op("Mul", y, g.op("Reshape", w, g.ints(shape)))
    if b is not None:
        y = g.op("Add", y, g.op("Reshape", b, g.ints(shape)))
    return y


def _trailing_dims(x, w, d):
    """How many trailing dims of x a layer/rms norm normalises (their sizes multiply to d)."""
    if w is not None:
        return w.ndim
    for k in range(1, x.ndim + 1):
        if math.prod(x.shape[x.ndim - k:]) == d:
            return k
    return x.ndim


@rule("Normalize", dynamic=("lay",))  # the layout's batch sizes are never read (rows, channels and groups are)
def normalize(g, node, x, w=None, b=None):
    lay, eps = node.lay, float(node.eps)
    channels = [1] * (x.ndim - 2)
    if node.stats is not None:  # batch_norm in evaluation mode (instance_norm without input statistics)
        c = x.shape[1]
        mean, var = (g.const(np.asarray(s).astype(x.dtype, copy=False)) for s in node.stats)
        w = w if w is not None else g.const(np.ones(c, dtype=x.dtype))
        b = b if b is not None else g.const(np.zeros(c, dtype=x.dtype))
        return g.op("BatchNormalization", x, w, b, mean, var, epsilon=eps)
    if lay.rows:  # layer_norm / rms_norm over the trailing dims
        k = _trailing_dims(x, w, lay.sview[1])
        if node.center:
            w = w if w is not None else g.const(np.ones(x.shape[x.ndim - k:], dtype=x.dtype))
            return g.op("LayerNormalization", x, w, b, axis=-k, epsilon=eps)
        y = _normalized(g, x, list(range(x.ndim - k, x.ndim)), eps, False, x.dtype)
        return y if w is None else g.op("Mul", y, w)
    if lay.aligned:  # batch norm with the batch's own statistics (training mode)
        y = _normalized(g, x, [0] + list(range(2, x.ndim)), eps, node.center, x.dtype)
        return _affine(g, y, w, b, [-1] + channels)
    # group_norm / instance_norm: statistics per (sample, group of channels)
    groups = lay.sview[0] // lay.aview[0]
    y = _normalized(g, g.op("Reshape", x, g.ints([0, groups, -1])), [2], eps, node.center, x.dtype)
    y = g.op("Reshape", y, g.op("Shape", x))
    return _affine(g, y, w, b, [-1] + channels)
