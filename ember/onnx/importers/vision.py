"""Detection and layout ONNX ops: NonMaxSuppression (NumPy: it returns indices), RoiAlign (a weighted gather of the
input, differentiable in it), MaxUnpool and Col2Im (scatters of the input, differentiable), Det (Gaussian elimination with partial pivoting, in ember ops)."""
import itertools

import numpy as np

import ember as E
from .._registry import onnx_op
from .._values import to_numpy, to_value
from ._util import ints, scalar


def _corners(box, center):
    if center:
        x, y, w, h = box
        return y - h / 2, x - w / 2, y + h / 2, x + w / 2
    y1, x1, y2, x2 = box
    return min(y1, y2), min(x1, x2), max(y1, y2), max(x1, x2)


def _iou_above(b1, b2, center, threshold):
    ya1, xa1, ya2, xa2 = _corners(b1, center)
    yb1, xb1, yb2, xb2 = _corners(b2, center)
    ix = min(xa2, xb2) - max(xa1, xb1)
    iy = min(ya2, yb2) - max(ya1, yb1)
    if ix <= 0 or iy <= 0:
        return False
    inter = ix * iy
    a1, a2 = (xa2 - xa1) * (ya2 - ya1), (xb2 - xb1) * (yb2 - yb1)
    union = a1 + a2 - inter
    if a1 <= 0 or a2 <= 0 or union <= 0:
        return False
    return inter / union > threshold


@onnx_op("NonMaxSuppression", since=(10, 11))
def non_max_suppression(ctx, inputs, attrs):
    inputs = list(inputs) + [None] * (5 - len(inputs))
    boxes, scores = to_numpy(inputs[0]), to_numpy(inputs[1])
    max_out = int(scalar(inputs[2], 0)) if inputs[2] is not None and to_numpy(inputs[2]).size else 0
    iou = float(scalar(inputs[3], 0.0)) if inputs[3] is not None and to_numpy(inputs[3]).size else 0.0
    has_score = inputs[4] is not None and to_numpy(inputs[4]).size
    score_min = float(scalar(inputs[4])) if has_score else None
    center = attrs.get("center_point_box", 0)
    selected = []
    for b in range(boxes.shape[0]):
        for c in range(scores.shape[1]):
            s = scores[b, c]
            cand = [i for i in range(boxes.shape[1]) if score_min is None or s[i] > score_min]
            cand.sort(key=lambda i: (-s[i], i))  # best score first, the lower index among equals
            kept = []
            for i in cand:
                if len(kept) >= max_out:
                    break
                if not any(_iou_above(boxes[b, i], boxes[b, j], center, iou) for j in kept):
                    kept.append(i)
            selected += [(b, c, i) for i in kept]
    return to_value(np.array(selected, dtype=np.int64).reshape(-1, 3))


@onnx_op("MaxUnpool", since=(9, 11, 22))
def max_unpool(ctx, inputs, attrs):
    x, idx = inputs[0], inputs[1]
    k = attrs["kernel_shape"]
    nd = len(k)
    strides = attrs.get("strides") or [1] * nd
    pads = attrs.get("pads") or [0] * (2 * nd)
    inferred = list(x.shape[:2]) + [(x.shape[2 + i] - 1) * strides[i] - pads[i] - pads[nd + i] + k[i]
                                    for i in range(nd)]
    flat = E.zeros((int(np.prod(inferred)),), dtype=x.dtype)
    y = E.scatter(flat, 0, to_value(to_numpy(idx).astype(np.int64).reshape(-1)), x.reshape((-1,)))
    y = y.reshape(tuple(inferred))
    if len(inputs) > 2 and inputs[2] is not None:
        target = ints(inputs[2])
        extra = []
        for have, want in zip(reversed(inferred), reversed(target)):
            extra += [0, want - have]
        y = E.nn.functional.pad(y, tuple(extra))
    return y


@onnx_op("Col2Im", since=18)
def col2im(ctx, inputs, attrs):
    """Sum the (N, C * prod(block), L) columns back into (N, C, *image) (the adjoint of im2col)."""
    x, image, block = inputs[0], ints(inputs[1]), ints(inputs[2])
    nd = len(image)
    dil = attrs.get("dilations") or [1] * nd
    pads = attrs.get("pads") or [0] * (2 * nd)
    strides = attrs.get("strides") or [1] * nd
    padded = [image[i] + pads[i] + pads[nd + i] for i in range(nd)]
    blocks = [(padded[i] - dil[i] * (block[i] - 1) - 1) // strides[i] + 1 for i in range(nd)]
    n, ck, _ = x.shape
    c = ck // int(np.prod(block))
    target = []
    for offs in itertools.product(*[range(b) for b in block]):
        for pos in itertools.product(*[range(b) for b in blocks]):
            flat = 0
            for i in range(nd):
                flat = flat * padded[i] + pos[i] * strides[i] + offs[i] * dil[i]
            target.append(flat)
    cols = x.reshape((n, c, -1))  # (N, C, K * L) in (kernel offset, block position) order
    out = E.zeros((n, c, int(np.prod(padded))), dtype=x.dtype)
    out = E.index_add(out, 2, to_value(np.array(target, dtype=np.int64)), cols)
    out = out.reshape((n, c) + tuple(padded))
    key = (slice(None), slice(None)) + tuple(slice(pads[i], pads[i] + image[i]) for i in range(nd))
    return out[key]


@onnx_op("Det", since=(11, 22))
def det(ctx, inputs, attrs):
    a = inputs[0]
    n = a.shape[-1]
    batch = tuple(a.shape[:-2])
    a = a.reshape((-1, n, n))
    m = a.shape[0]
    rows = np.arange(m)
    sign = np.ones(m)
    result = None
    for k in range(n):
        col = np.abs(to_numpy(a)[:, k:, k])
        piv = np.argmax(col, axis=1) + k  # partial pivoting: the largest remaining entry of column k
        perm = np.tile(np.arange(n), (m, 1))
        perm[rows, k], perm[rows, piv] = piv, k
        sign = sign * np.where(piv != k, -1.0, 1.0)
        a = E.gather(a, 1, to_value(np.repeat(perm[:, :, None], n, axis=2)))
        pivot = a[:, k, k]
        result = pivot if result is None else result * pivot
        if k + 1 < n:
            safe = E.where(pivot == 0, E.ones_like(pivot), pivot)
            factor = a[:, k + 1:, k:k + 1] / safe.reshape((m, 1, 1))
            lower = a[:, k + 1:, :] - factor * a[:, k:k + 1, :]
            a = E.cat([a[:, :k + 1, :], lower], dim=1)
    out = result * to_value(sign.astype(to_numpy(result).dtype))
    return out.reshape(batch)


def _roi_axis(start, bin_size, grid, n_out, size):
    """Sample positions along one axis of a RoiAlign bin grid: (low, high, weight of low, weight of high, valid)."""
    pos = start + np.arange(n_out)[:, None] * bin_size + (np.arange(grid)[None, :] + 0.5) * bin_size / grid
    valid = (pos >= -1.0) & (pos <= size)
    pos = np.maximum(pos, 0)
    low = np.trunc(pos).astype(np.int64)
    edge = low >= size - 1
    low = np.where(edge, size - 1, low)
    high = np.where(edge, size - 1, low + 1)
    pos = np.where(edge, low, pos)
    frac = pos - low
    return low, high, 1.0 - frac, frac, valid


@onnx_op("RoiAlign", since=(10, 16, 22))
def roi_align(ctx, inputs, attrs):
    x, rois, batch = inputs
    rois, batch = to_numpy(rois).astype(np.float64), to_numpy(batch).astype(np.int64)
    half = attrs.get("coordinate_transformation_mode", "half_pixel" if ctx.opset >= 16 else "output_half_pixel") \
        == "half_pixel"
    oh, ow = attrs.get("output_height", 1), attrs.get("output_width", 1)
    ratio, scale = attrs.get("sampling_ratio", 0), attrs.get("spatial_scale", 1.0)
    use_max = attrs.get("mode", "avg") == "max"
    c, h, w = x.shape[1:]
    flat = x.reshape((x.shape[0], c, h * w))
    dtype = to_numpy(flat).dtype
    outs = []
    for r in range(rois.shape[0]):
        x0, y0, x1, y1 = rois[r] * scale - (0.5 if half else 0.0)
        rh, rw = y1 - y0, x1 - x0
        if not half:
            rh, rw = max(rh, 1.0), max(rw, 1.0)
        gh = ratio if ratio > 0 else int(np.ceil(rh / oh))
        gw = ratio if ratio > 0 else int(np.ceil(rw / ow))
        ylo, yhi, wyl, wyh, vy = _roi_axis(y0, rh / oh, gh, oh, h)   # (oh, gh)
        xlo, xhi, wxl, wxh, vx = _roi_axis(x0, rw / ow, gw, ow, w)   # (ow, gw)
        valid = vy[:, :, None, None] & vx[None, None]
        corners = []
        for yy, wy in ((ylo, wyl), (yhi, wyh)):
            for xx, wx in ((xlo, wxl), (xhi, wxh)):
                index = np.where(valid, yy[:, :, None, None] * w + xx[None, None], 0)
                weight = np.where(valid, wy[:, :, None, None] * wx[None, None], 0.0)
                picked = flat[int(batch[r])][:, to_value(index.reshape(-1))].reshape((c,) + index.shape)
                corners.append(picked * to_value(weight.astype(dtype)))
        if use_max:  # ONNX takes the largest weighted corner, then the largest sample of the bin
            val = E.maximum(E.maximum(corners[0], corners[1]), E.maximum(corners[2], corners[3]))
            out = E.amax(val, dim=(2, 4))
        else:
            out = E.sum(corners[0] + corners[1] + corners[2] + corners[3], dim=(2, 4)) / max(gh * gw, 1)
        outs.append(out)
    return E.stack(outs) if outs else E.zeros((0, c, oh, ow), dtype=x.dtype)
