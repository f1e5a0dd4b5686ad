"""ONNX rules of the layer ops: linear, matmul, convolution, pooling, resampling (adaptive average pooling,
interpolation), constant padding, embedding, attention."""
import numpy as np

from . import rule
from .shape import slice_axis


@rule("Linear")
def linear(g, node, x, w, b=None):
    if x.ndim == 2:
        return g.op("Gemm", x, w, b, transB=1)
    y = g.op("MatMul", x, g.op("Transpose", w, perm=[1, 0]))
    return y if b is None else g.op("Add", y, b)


def _swap_last(g, x):
    perm = list(range(x.ndim))
    perm[-2:] = perm[-1], perm[-2]
    return g.op("Transpose", x, perm=perm)


@rule("Matmul", "MatmulT")
def matmul(g, node, a, b):
    if getattr(node, "ta", False):
        a = _swap_last(g, a)
    if getattr(node, "tb", False):
        b = _swap_last(g, b)
    return g.op("MatMul", a, b)


def _windows(node):
    """The geometry of the spatial dims the op really has (a 1-D op runs as 2-D with a height of 1)."""
    return node.geo[1:] if node.one_d else node.geo


def _pads(geo):
    """ONNX pads [begins..., ends...]: the padding before the input, and after it what the windows reach (ONNX's
    floor rule then gives the traced output sizes, ceil_mode included)."""
    ends = [max(0, (w.n_out - 1) * w.s + w.d * (w.k - 1) + 1 - w.lo - w.n_in) for w in geo]
    return [w.lo for w in geo] + ends


@rule("Conv")
def conv(g, node, x, w, b=None):
    geo = _windows(node)
    return g.op("Conv", x, w, b, kernel_shape=[wi.k for wi in geo], strides=[wi.s for wi in geo],
                dilations=[wi.d for wi in geo], pads=_pads(geo), group=node.groups)


@rule("ConvTranspose")
def conv_transpose(g, node, x, w, b=None):
    """The adjoint of Conv: its geometry's input sizes are the output's; what the padding after the input does not
    give is output_padding."""
    geo = _windows(node)
    ends = [(wi.n_out - 1) * wi.s + wi.d * (wi.k - 1) + 1 - wi.lo - wi.n_in for wi in geo]
    return g.op("ConvTranspose", x, w, b, kernel_shape=[wi.k for wi in geo], strides=[wi.s for wi in geo],
                dilations=[wi.d for wi in geo], pads=[wi.lo for wi in geo] + [max(e, 0) for e in ends],
                output_padding=[max(-e, 0) for e in ends], group=node.groups)


@rule("MaxPool")
def max_pool(g, node, x):
    if node.positions is not None:
        raise g.unsupported("with return_indices")
    geo = _windows(node)
    return g.op("MaxPool", x, kernel_shape=[wi.k for wi in geo], strides=[wi.s for wi in geo],
                dilations=[wi.d for wi in geo], pads=_pads(geo))


@rule("AvgPool")
def avg_pool(g, node, x):
    """Window sums times the op's scale: zero padding, an AveragePool over full windows (mean), then times
    k_h * k_w * scale (a number, or per output position)."""
    geo = _windows(node)
    pads = _pads(geo)
    nd = len(geo)
    y = x
    if any(pads):
        y = g.op("Pad", x, g.ints([0, 0] + pads[:nd] + [0, 0] + pads[nd:]))
    y = g.op("AveragePool", y, kernel_shape=[wi.k for wi in geo], strides=[wi.s for wi in geo])
    scale = np.asarray(node.scale, dtype=np.float64) * float(np.prod([wi.k for wi in geo]))
    if node.one_d and scale.ndim == 2:
        scale = scale[0]
    return g.op("Mul", y, g.const(scale.astype(x.dtype)))


@rule("Resample")
def resample(g, node, x):
    """A whole-axis mean is ReduceMean; a one-tap map without weights a Gather; any other linear map along an
    axis a MatMul with its dense matrix."""
    maps = node.maps
    if all(m.mean for m in maps):
        axes = [x.ndim + m.axis for m in maps]
        if g.opset >= 18:
            return g.op("ReduceMean", x, g.ints(axes), keepdims=1)
        return g.op("ReduceMean", x, axes=axes, keepdims=1)
    y = x
    for m in maps:
        if m.w is None and m.idx.shape[1] == 1:
            y = g.op("Gather", y, g.const(m.idx[:, 0].astype(np.int64)), axis=m.axis)
            continue
        if m.axis == -2:
            y = g.op("MatMul", g.const(m.matrix().astype(x.dtype)), y)  # (n_out, n_in) @ (..., n_in, W)
            continue
        mat_t = g.const(m.matrix().T.astype(x.dtype))
        if m.axis == -1:
            y = g.op("MatMul", y, mat_t)
            continue
        perm = list(range(x.ndim))
        a = x.ndim + m.axis
        perm[a], perm[-1] = perm[-1], perm[a]
        y = g.op("Transpose", g.op("MatMul", g.op("Transpose", y, perm=perm), mat_t), perm=perm)
    return y


@rule("ConstantPad")
def constant_pad(g, node, x):
    pads = [(int(a), int(b)) for a, b in node.pads]
    y = x
    for axis, (a, b) in enumerate(pads):  # crops (negative amounts) are slices
        if a < 0 or b < 0:
            y = slice_axis(g, y, axis, max(-a, 0), -b if b < 0 else None)
    grow = [max(a, 0) for a, _ in pads] + [max(b, 0) for _, b in pads]
    if any(grow):
        y = g.op("Pad", y, g.ints(grow), g.scalar(node.value, x))
    return y if y is not x else g.op("Identity", x)


@rule("Embedding")
def embedding(g, node, weight, idx):
    return g.op("Gather", weight, idx, axis=0)


@rule("Attention")
def attention(g, node, q, k, v, bias=None):
    """softmax(q k^T * scale + bias (+ the causal mask)) v (torch.onnx's scaled_dot_product_attention rule, without
    dropout: evaluation mode)."""
    if node.random or node.drop_mask is not None:
        raise g.unsupported("with dropout (export the model in evaluation mode)")
    s = g.op("Mul", g.op("MatMul", q, _swap_last(g, k)), g.scalar(node.scale, q))
    if bias is not None:
        s = g.op("Add", s, bias if not isinstance(bias, np.ndarray) else g.const(bias.astype(q.dtype)))
    if node.causal:
        L, S = q.shape[-2], k.shape[-2]
        mask = np.triu(np.full((L, S), -np.inf, dtype=q.dtype), 1)
        s = g.op("Add", s, g.const(mask))
    return g.op("MatMul", g.op("Softmax", s, axis=-1), v)
