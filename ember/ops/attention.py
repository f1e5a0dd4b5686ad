"""scaled_dot_product_attention as one fused node: softmax(q k^T * scale + bias) v, with a hand-written backward."""
import math

import numpy as np

from ..autograd import Node, _mode
from ..tensor import Tensor, apply
from ._broadcast import sum_to

__all__ = ["scaled_dot_product_attention"]


class Attention(Node):
    """Inputs q, k, v and an optional additive bias (an array, or a tensor when a float mask needs a gradient).

    Rows whose every score is -inf (fully masked) give zero output and zero gradients, as PyTorch does.
    """

    saves = None

    def __init__(self, scale, drop_mask):
        self.scale, self.drop_mask = scale, drop_mask

    def forward(self, xp, q, k, v, bias=None):
        s = xp.matmul(q, xp.swapaxes(k, -1, -2))
        s *= self.scale
        if bias is not None:
            s = s + bias
        m = s.max(axis=-1, keepdims=True)
        dead = xp.isneginf(m)
        self.dead = dead if dead.any() else None
        if self.dead is not None:
            m = xp.where(dead, 0, m)
        s -= m
        xp.exp(s, out=s)
        d = s.sum(axis=-1, keepdims=True)
        if self.dead is not None:
            d[dead] = 1  # the row is all zeros: leave it so
        s /= d
        self.p = s
        if self.drop_mask is not None:
            s = s * self.drop_mask
        return xp.matmul(s, v)

    def _probs(self):
        """The attention weights (recomputed with ember ops under create_graph, so double backward works)."""
        if not _mode.enabled:
            return Tensor._wrap(self.p)
        from .activation import softmax
        from .elementwise import where
        q, k = self.inputs[0], self.inputs[1]
        s = (q @ k.mT) * self.scale
        bias = self.inputs[3]
        if bias is not None:
            s = s + (bias if isinstance(bias, Tensor) else Tensor._wrap(bias))
        if self.dead is None:
            return softmax(s, -1)
        dead = Tensor._wrap(self.dead)
        return where(dead, 0.0, softmax(where(dead, 0.0, s), -1))

    def backward(self, g):
        q, k, v = self.inputs[:3]
        nq, nk, nv, nb = self.needs_input_grad
        p = self._probs()
        drop = Tensor._wrap(self.drop_mask) if self.drop_mask is not None else None
        pd = p * drop if drop is not None else p
        gv = sum_to(pd.mT @ g, tuple(v.shape)) if nv else None
        gq = gk = gb = None
        if nq or nk or nb:
            dp = g @ v.mT
            if drop is not None:
                dp = dp * drop
            ds = p * (dp - (dp * p).sum(-1, keepdim=True))  # the gradient of the scores (after scaling)
            if nb:
                gb = sum_to(ds, tuple(self.inputs[3].shape))
            ds = ds * self.scale
            gq = sum_to(ds @ k, tuple(q.shape)) if nq else None
            gk = sum_to(ds.mT @ q, tuple(k.shape)) if nk else None
        return gq, gk, gv, gb


def _name_shapes(query, key, value, attn_mask=None):
    s = f"query {tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}"
    return s + (f", attn_mask {tuple(attn_mask.shape)}" if attn_mask is not None else "")


def _check(query, key, value, attn_mask, is_causal, dropout_p, enable_gqa):
    op = "scaled_dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(t).__name__}")
        if t.data.ndim < 2:
            raise RuntimeError(f"{op}: {name} must have at least 2 dimensions, got shape {tuple(t.shape)}")
    if query.dtype is not key.dtype or query.dtype is not value.dtype:
        raise RuntimeError(f"{op}: Expected query, key, and value to have the same dtype, but got query.dtype: "
                           f"{query.dtype} key.dtype: {key.dtype} and value.dtype: {value.dtype} instead.")
    if not query.is_floating_point():
        raise RuntimeError(f"{op}: expected floating-point query, key and value, got {query.dtype}")
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(f"{op}: query and key must have the same embedding size (last dim), got "
                           f"{_name_shapes(query, key, value)}")
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"{op}: key and value must have the same sequence length (dim -2), got "
                           f"{_name_shapes(query, key, value)}")
    if is_causal and attn_mask is not None:
        raise RuntimeError(f"{op}: Explicit attn_mask should not be set when is_causal=True")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {dropout_p}")
    if attn_mask is not None and not isinstance(attn_mask, Tensor):
        raise TypeError(f"{op}(): argument 'attn_mask' must be Tensor, not {type(attn_mask).__name__}")
    if attn_mask is not None and attn_mask.data.dtype.kind not in "bfV":
        raise RuntimeError(f"{op}: Expected attn_mask dtype to be bool or float or to match query dtype, got "
                           f"{attn_mask.dtype}")
    if enable_gqa and query.data.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
        if hk != hv or hq % hk:
            raise RuntimeError(f"{op}: with enable_gqa the number of query heads must be a multiple of the key and "
                               f"value heads (which must agree), got {_name_shapes(query, key, value)}")
    L, S = query.shape[-2], key.shape[-2]
    batch = [tuple(query.shape[:-2]), tuple(key.shape[:-2]), tuple(value.shape[:-2])]
    if enable_gqa and query.data.ndim >= 3:
        batch = [b[:-1] for b in batch]
    try:
        shape = np.broadcast_shapes(*batch)
        if attn_mask is not None:
            np.broadcast_shapes(tuple(attn_mask.shape), shape + ((query.shape[-3],) if enable_gqa and
                                                                 query.data.ndim >= 3 else ()) + (L, S))
    except ValueError:
        raise RuntimeError(f"{op}: the batch dimensions of {_name_shapes(query, key, value, attn_mask)} are not "
                           f"broadcastable (scores have shape (..., {L}, {S}))") from None


def _repeat_heads(t, rep):
    """(..., H, S, E) -> (..., H * rep, S, E), each head repeated rep times in a row (repeat_interleave on dim -3)."""
    shape = tuple(t.shape)
    expanded = t.unsqueeze(-3).expand(shape[:-2] + (rep,) + shape[-2:])
    return expanded.reshape(shape[:-3] + (shape[-3] * rep,) + shape[-2:])


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """softmax(query @ key^T * scale + mask) @ value over the last two dims, with PyTorch's semantics.

    A bool attn_mask keeps the positions where it is True; a float one is added to the scores (and gets a gradient
    when it requires one); both broadcast. is_causal masks position j > i (top-left aligned when L != S).
    dropout_p drops attention weights; scale defaults to 1/sqrt(E); enable_gqa repeats key/value heads.
    """
    _check(query, key, value, attn_mask, is_causal, dropout_p, enable_gqa)
    if enable_gqa and query.data.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        rep = query.shape[-3] // key.shape[-3]
        key, value = _repeat_heads(key, rep), _repeat_heads(value, rep)
    xp = query.device.xp
    dtype = query.data.dtype
    L, S = query.shape[-2], key.shape[-2]
    bias = None
    if is_causal:
        bias = xp.where(xp.tri(L, S, dtype=bool), 0, -xp.inf).astype(dtype)
    elif attn_mask is not None:
        if attn_mask.data.dtype.kind == "b":
            bias = xp.where(attn_mask.data, 0, -xp.inf).astype(dtype)
        elif attn_mask.requires_grad:
            bias = attn_mask.to(query.dtype)
        else:
            bias = attn_mask.data.astype(dtype, copy=False)
    drop = None
    if dropout_p > 0.0:
        from .random import default_generator
        from ..device import move
        shape = np.broadcast_shapes(tuple(query.shape[:-2]) + (L, S), tuple(key.shape[:-2]) + (L, S),
                                    tuple(bias.shape) if bias is not None else ())
        if dropout_p == 1.0:
            drop = xp.zeros(shape, dtype=dtype)
        else:
            keep = default_generator.rng.random(shape) >= dropout_p
            drop = move((keep * (1.0 / (1.0 - dropout_p))).astype(dtype), query.device)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    return apply(Attention(scale, drop), query, key, value, bias)
