"""Transformer ONNX ops: Attention (opsets 23-25: masks, causal and sliding windows, KV caches, grouped-query
heads, softcap), FlexAttention (score and probability modifier subgraphs), LinearAttention (linear, gated, delta and gated-delta state updates), CausalConvWithState and
RotaryEmbedding, composed from ember ops (Q, K, V and the caches are differentiable; the
additive mask built from causal/window/padding structure is a constant)."""
import numpy as np

import ember as E
from ...nn import functional as F
from .._registry import onnx_op
from .._values import np_dtype, to_numpy, to_value
from ._util import onnx_np_dtype


def _heads_first(x, heads):
    """(batch, seq, heads * size) -> (batch, heads, seq, size)."""
    b, s, h = x.shape
    return E.permute(x.reshape((b, s, heads, h // heads)), (0, 2, 1, 3))


def _structural_bias(q_len, kv_len, dtype, mask, causal, offset, left, right):
    """The additive bias (NumPy) of causal / sliding-window / attention-mask constraints, as onnx's reference."""
    i = np.arange(q_len).reshape(q_len, 1)
    j = np.arange(kv_len).reshape(1, kv_len)
    per_batch = np.ndim(offset) > 0
    pos = i + (np.reshape(offset, (-1, 1, 1)) if per_batch else int(offset))
    bias = np.zeros((q_len, kv_len), dtype=dtype)
    if mask is not None:
        if mask.dtype == np.bool_:
            mask = np.where(mask, dtype.type(0), dtype.type(-np.inf))
        bias = bias + mask.astype(dtype)
    allowed = None
    if causal:
        allowed = j <= pos
    if left >= 0 or right >= 0:
        window = np.ones_like(j <= pos)
        if left >= 0:
            window &= (pos - j) <= left
        if right >= 0:
            window &= (j - pos) <= right
        allowed = window if allowed is None else allowed & window
    if allowed is not None:
        extra = np.where(allowed, dtype.type(0), dtype.type(-np.inf))
        if per_batch:
            extra = extra.reshape(extra.shape[0], 1, q_len, kv_len)
        bias = bias + extra
    return bias


@onnx_op("Attention", since=(23, 24, 25))
def attention(ctx, inputs, attrs):
    inputs = list(inputs) + [None] * (7 - len(inputs))
    q, k, v, mask, past_k, past_v, nonpad = inputs[:7]
    three_d = len(q.shape) == 3
    if three_d:
        q = _heads_first(q, attrs["q_num_heads"])
        k = _heads_first(k, attrs["kv_num_heads"])
        v = _heads_first(v, attrs["kv_num_heads"])
    dtype = np_dtype(q)
    scale = attrs.get("scale")
    scale = 1 / np.sqrt(q.shape[3]) if scale is None else scale
    root = float(dtype.type(np.sqrt(scale))) if dtype.kind == "f" else float(np.sqrt(scale))
    if past_k is not None:
        k = E.cat([past_k, k], dim=2)
        v = E.cat([past_v, v], dim=2)
    present_k, present_v = k, v
    q_len, kv_len = q.shape[2], k.shape[2]
    mask_np = None
    if mask is not None:
        mask_np = to_numpy(mask)
        pad = kv_len - mask_np.shape[-1]
        if pad > 0:
            fill = False if mask_np.dtype == np.bool_ else -np.inf
            mask_np = np.pad(mask_np, [(0, 0)] * (mask_np.ndim - 1) + [(0, pad)], constant_values=fill)
    nonpad_np = None if nonpad is None else to_numpy(nonpad).reshape(-1)
    if past_k is None and nonpad_np is not None:
        offset = nonpad_np - q_len
    else:
        offset = past_k.shape[2] if past_k is not None else 0
    calc = np.float32 if dtype.kind != "f" or dtype.itemsize < 4 else dtype
    bias = _structural_bias(q_len, kv_len, np.dtype(calc), mask_np, attrs.get("is_causal", 0), offset,
                            attrs.get("left_window_size", -1), attrs.get("right_window_size", -1))
    if nonpad_np is not None:
        keep = np.arange(kv_len) < nonpad_np[:, None]
        bias = bias + np.where(keep, 0, -np.inf).astype(calc).reshape(-1, 1, 1, kv_len)
    bias = bias.astype(dtype) if dtype.kind == "f" else bias
    heads_q = q.shape[1]
    if heads_q != k.shape[1] and heads_q % k.shape[1] == 0:
        k = E.repeat_interleave(k, heads_q // k.shape[1], dim=1)
        v = E.repeat_interleave(v, heads_q // v.shape[1], dim=1)
    qk = E.matmul(q * root, E.transpose(k * root, -1, -2))
    softcap = attrs.get("softcap", 0.0)
    if softcap and softcap > 0:
        qk = E.tanh(qk / softcap) * softcap
    # rows with no attendable key: softmax over a zero bias, then zeroed (keeps NaN out of values and gradients)
    all_masked = np.isneginf(np.max(np.broadcast_to(bias, bias.shape), axis=-1, keepdims=True))
    safe_bias = np.where(all_masked, 0, bias).astype(bias.dtype)
    with_bias = qk + to_value(safe_bias)
    mode = attrs.get("qk_matmul_output_mode", 0)
    qk_out = (qk + to_value(bias)) if mode == 2 else qk
    scores = with_bias
    if "softmax_precision" in attrs:
        scores = scores.to(E.dtypes.from_numpy_dtype(onnx_np_dtype(attrs["softmax_precision"])))
    probs = F.softmax(scores, dim=-1)
    if all_masked.any():
        probs = probs * to_value((~all_masked).astype(np_dtype(probs)))
    probs = probs.to(q.dtype)
    if mode == 3:
        qk_out = probs
    y = E.matmul(probs, v)
    if three_d:
        y = E.permute(y, (0, 2, 1, 3))
        y = y.reshape((y.shape[0], y.shape[1], -1))
    return y, present_k, present_v, qk_out


@onnx_op("RotaryEmbedding", since=23)
def rotary_embedding(ctx, inputs, attrs):
    x, cos, sin = inputs[:3]
    pos = inputs[3] if len(inputs) > 3 else None
    shape = tuple(x.shape)
    if len(shape) == 4:
        x = E.permute(x, (0, 2, 1, 3))
    else:
        b, s, h = shape
        heads = attrs["num_heads"]
        x = x.reshape((b, s, heads, h // heads))
    dim = attrs.get("rotary_embedding_dim", 0) or x.shape[3]
    rot, rest = x[..., :dim], x[..., dim:]
    if pos is not None:
        idx = to_value(to_numpy(pos).astype(np.int64))
        cos, sin = cos[idx], sin[idx]
    cos, sin = E.unsqueeze(cos, 2), E.unsqueeze(sin, 2)
    if attrs.get("interleaved", 0):
        x1, x2 = rot[..., 0::2], rot[..., 1::2]
    else:
        x1, x2 = rot[..., :dim // 2], rot[..., dim // 2:]
    real = cos * x1 - sin * x2
    imag = sin * x1 + cos * x2
    if attrs.get("interleaved", 0):
        rot = E.stack([real, imag], dim=-1).reshape(tuple(rot.shape))
    else:
        rot = E.cat([real, imag], dim=-1)
    out = E.cat([rot, rest], dim=-1)
    if len(shape) == 3:
        return out.reshape(shape)
    return E.permute(out, (0, 2, 1, 3))


@onnx_op("LinearAttention", since=27)
def linear_attention(ctx, inputs, attrs):
    inputs = list(inputs) + [None] * (6 - len(inputs))
    q, k, v, past, decay, beta = inputs[:6]
    hq, hkv = attrs["q_num_heads"], attrs["kv_num_heads"]
    rule = attrs.get("update_rule", "gated_delta")
    gating, delta = rule in ("gated", "gated_delta"), rule in ("delta", "gated_delta")
    out_dtype = q.dtype
    b, t, _ = q.shape
    f32 = E.float64 if q.dtype == E.float64 else E.float32  # the state accumulates in float32 at least
    q4, k4, v4 = (_heads_first(a, h).to(f32) for a, h in ((q, hq), (k, hkv), (v, hkv)))
    dk, dv = q4.shape[3], v4.shape[3]
    if decay is not None:
        if decay.shape[-1] == hkv:
            decay = E.permute(decay.reshape((b, t, hkv, 1)), (0, 2, 1, 3))
        else:
            decay = _heads_first(decay, hkv)
        decay = decay.to(f32)
    if beta is not None:
        beta = E.permute(beta.reshape((b, t, beta.shape[-1], 1)), (0, 2, 1, 3)).to(f32)
    state_dtype = past.dtype if past is not None else out_dtype
    state = past.to(f32) if past is not None else E.zeros((b, hkv, dk, dv), dtype=f32)
    scale = attrs.get("scale") or 1.0 / np.sqrt(dk)
    group = hq // hkv
    outs = []
    for i in range(t):
        qt, kt, vt = q4[:, :, i], k4[:, :, i], v4[:, :, i]
        if gating:
            state = state * E.unsqueeze(E.exp(decay[:, :, i]), -1)
        if delta:
            retrieved = E.squeeze(E.matmul(E.unsqueeze(kt, 2), state), 2)
            vt = beta[:, :, i] * (vt - retrieved)
        state = state + E.unsqueeze(kt, -1) * E.unsqueeze(vt, -2)
        read = E.repeat_interleave(state, group, dim=1) if group > 1 else state
        outs.append(scale * E.squeeze(E.matmul(E.unsqueeze(qt, 2), read), 2))
    y = E.stack(outs, dim=2)  # (B, Hq, T, dv)
    y = E.permute(y, (0, 2, 1, 3)).reshape((b, t, hq * dv)).to(out_dtype)
    return y, state.to(state_dtype)


@onnx_op("CausalConvWithState", since=27)
def causal_conv_with_state(ctx, inputs, attrs):
    inputs = list(inputs) + [None] * (4 - len(inputs))
    x, w, bias, past = inputs[:4]
    n, c, _ = x.shape
    k = w.shape[2]
    pad = past if past is not None else E.zeros((n, c, k - 1), dtype=x.dtype)
    padded = E.cat([pad, x], dim=2)
    y = F.conv1d(padded, w, bias, groups=c)
    if attrs.get("activation", "none") in ("silu", "swish"):
        y = (y.to(E.float32) * E.sigmoid(y.to(E.float32))).to(x.dtype)
    return y, padded[:, :, padded.shape[2] - (k - 1):]


@onnx_op("FlexAttention", since=1, domain="ai.onnx.preview")
def flex_attention(ctx, inputs, attrs):
    q, k, v = inputs[:3]
    dtype = np_dtype(q)
    heads_q, heads_kv = q.shape[1], k.shape[1]
    if heads_q != heads_kv:
        k = E.repeat_interleave(k, heads_q // heads_kv, dim=1)
        v = E.repeat_interleave(v, heads_q // heads_kv, dim=1)
    scale = attrs.get("scale")
    scale = 1.0 / np.sqrt(q.shape[3]) if scale is None else scale
    root = float(dtype.type(np.sqrt(np.float32(scale))))
    scores = E.matmul(q * root, E.transpose(k * root, -1, -2))
    if "softmax_precision" in attrs:
        compute = E.dtypes.from_numpy_dtype(onnx_np_dtype(attrs["softmax_precision"]))
    else:
        compute = E.float32 if dtype.itemsize < 4 else q.dtype
    scores = scores.to(compute)
    for key, stage in (("score_mod", "scores"), ("prob_mod", "probs")):
        if stage == "probs":
            scores = F.softmax(scores, dim=-1)
        if key in attrs:
            graph = attrs[key]
            scores = ctx.run_graph(graph, {graph.input[0].name: scores}, ctx.scope)[0].to(compute)
    return E.matmul(scores, v.to(compute)).to(v.dtype)
