"""Signal ONNX ops: the Hann, Hamming and Blackman windows (constants built with NumPy), DFT and STFT, composed as
matrix products with cosine/sine matrices, so they are differentiable."""
import numpy as np

import ember as E
from .._registry import onnx_op
from .._values import to_value
from ._util import onnx_np_dtype, scalar


def _window(op_type, fn):
    @onnx_op(op_type, since=17)
    def importer(ctx, inputs, attrs):
        size = int(scalar(inputs[0]))
        n = np.arange(size, dtype=np.float64)
        denom = size if attrs.get("periodic", 1) else size - 1
        dtype = onnx_np_dtype(attrs.get("output_datatype", 1))
        return to_value(fn(n, denom).astype(dtype))
    importer.__name__ = op_type


_window("HannWindow", lambda n, d: np.sin(n * np.pi / d) ** 2)
_window("HammingWindow", lambda n, d: 25.0 / 46.0 - np.cos(n * np.pi * 2 / d) * (1 - 25.0 / 46.0))
_window("BlackmanWindow", lambda n, d: 0.42 - 0.5 * np.cos(n * 2 * np.pi / d) + 0.08 * np.cos(n * 4 * np.pi / d))


@onnx_op("DFT", since=(17, 20))
def dft(ctx, inputs, attrs):
    """DFT over one axis of a real ([..., 1]) or complex ([..., 2]) signal, as (re, im) matrix products."""
    x = inputs[0]
    length = inputs[1] if len(inputs) > 1 else None
    if ctx.opset >= 20:
        axis = int(scalar(inputs[2])) if len(inputs) > 2 and inputs[2] is not None else -2
    else:
        axis = attrs.get("axis", 1)
    axis = axis + len(x.shape) if axis < 0 else axis
    n = int(scalar(length)) if length is not None else None
    return _dft(x, axis, n, attrs.get("inverse", 0), attrs.get("onesided", 0))


def _dft(x, axis, n, inverse, onesided):
    n_in = x.shape[axis]
    if inverse and onesided:
        return _irfft(x, axis, n if n is not None else 2 * (n_in - 1))
    n = n_in if n is None else n
    if n != n_in:  # zero-pad or truncate the signal axis
        if n < n_in:
            x = E.narrow(x, axis, 0, n)
        else:
            pad_shape = list(x.shape)
            pad_shape[axis] = n - n_in
            x = E.cat([x, E.zeros(tuple(pad_shape), dtype=x.dtype)], dim=axis)
    re = x[..., 0]
    im = x[..., 1] if x.shape[-1] == 2 else None
    k = np.arange(n // 2 + 1 if onesided else n)
    angle = (2 if inverse else -2) * np.pi * np.outer(k, np.arange(n)) / n
    dtype = x.dtype.np
    cos = to_value(np.cos(angle).T.astype(dtype))
    sin = to_value(np.sin(angle).T.astype(dtype))
    re_m = E.movedim(re, axis, -1)
    out_re = E.matmul(re_m, cos)
    out_im = E.matmul(re_m, sin)
    if im is not None:
        im_m = E.movedim(im, axis, -1)
        out_re = out_re - E.matmul(im_m, sin)
        out_im = out_im + E.matmul(im_m, cos)
    if inverse:
        out_re, out_im = out_re / n, out_im / n
    return E.stack([E.movedim(out_re, -1, axis), E.movedim(out_im, -1, axis)], dim=-1)


@onnx_op("STFT", since=17)
def stft(ctx, inputs, attrs):
    """Frames of the (batch, length, 1 or 2) signal, times the window, then a DFT of each frame."""
    inputs = list(inputs) + [None] * (4 - len(inputs))
    x, step, window, length = inputs[:4]
    step = int(scalar(step))
    frame = int(scalar(length)) if length is not None else window.shape[0]
    n_frames = 1 + (x.shape[1] - frame) // step
    frames = E.stack([x[:, f * step:f * step + frame] for f in range(n_frames)], dim=1)  # (B, F, frame, c)
    if window is not None:
        frames = frames * window.reshape((1, 1, -1, 1))
    return _dft(frames, 2, frame, 0, attrs.get("onesided", 1))


def _irfft(x, axis, n):
    """The real inverse DFT of a one-sided spectrum (the other half is its complex conjugate)."""
    bins = x.shape[axis]
    k = np.arange(bins)
    weight = np.where((k == 0) | ((n % 2 == 0) & (k == n // 2)), 1.0, 2.0)
    angle = 2 * np.pi * np.outer(k, np.arange(n)) / n
    dtype = x.dtype.np
    cos = to_value((weight[:, None] * np.cos(angle) / n).astype(dtype))
    sin = to_value((weight[:, None] * np.sin(angle) / n).astype(dtype))
    re = E.movedim(x[..., 0], axis, -1)
    y = E.matmul(re, cos)
    if x.shape[-1] == 2:
        y = y - E.matmul(E.movedim(x[..., 1], axis, -1), sin)
    return E.unsqueeze(E.movedim(y, -1, axis), -1)


@onnx_op("MelWeightMatrix", since=17)
def mel_weight_matrix(ctx, inputs, attrs):
    """The (dft_length // 2 + 1, num_mel_bins) matrix of triangular mel filters (a constant)."""
    bins, dft_len = int(scalar(inputs[0])), int(scalar(inputs[1]))
    rate, low, high = (float(scalar(v)) for v in inputs[2:5])
    mel_low = 2595 * np.log1p(low / 700) / np.log(10)
    mel_high = 2595 * np.log1p(high / 700) / np.log(10)
    points = np.arange(bins + 2) * ((mel_high - mel_low) / (bins + 2)) + mel_low
    hz = 700 * np.expm1(points / 2595 * np.log(10))
    edges = (((dft_len + 1) * hz) // rate).astype(int)
    out = np.zeros((dft_len // 2 + 1, bins))
    for i in range(bins):
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        if mid == lo:
            out[mid, i] = 1
        else:
            j = np.arange(lo, mid + 1)
            out[j, i] = (j - lo) / (mid - lo)
        if hi > mid:
            j = np.arange(mid, hi)
            out[j, i] = (hi - j) / (hi - mid)
    return to_value(out.astype(onnx_np_dtype(attrs.get("output_datatype", 1))))
