"""scaled_dot_product_attention as one fused node: softmax(q k^T * scale + mask) v, with a hand-written backward."""
import math

from ..autograd import Node, _mode
from ..tensor import Tensor, apply
from . import elementwise as E

__all__ = ["scaled_dot_product_attention"]


class Attention(Node):
    saves = None

    def __init__(self, scale, bias, drop_mask):
        self.scale, self.bias, self.drop_mask = scale, bias, drop_mask

    def forward(self, xp, q, k, v):
        s = xp.matmul(q, xp.swapaxes(k, -1, -2))
        s *= self.scale
        if self.bias is not None:
            s = s + self.bias
        s -= s.max(axis=-1, keepdims=True)
        xp.exp(s, out=s)
        s /= s.sum(axis=-1, keepdims=True)
        self.p = s
        if self.drop_mask is not None:
            s = s * self.drop_mask
        return xp.matmul(s, v)

    def _probs(self):
        """The attention weights (recomputed with ember ops under create_graph, so double backward works)."""
        if _mode.enabled:
            from .activation import softmax
            q, k, _ = self.inputs
            s = (q @ k.mT) * self.scale
            if self.bias is not None:
                s = s + Tensor._wrap(self.bias)
            return softmax(s, -1)
        return Tensor._wrap(self.p)

    def backward(self, g):
        q, k, v = self.inputs
        nq, nk, nv = self.needs_input_grad
        p = self._probs()
        pd = p * Tensor._wrap(self.drop_mask) if self.drop_mask is not None else p
        gv = _sum_to(pd.mT @ g, v.shape) if nv else None
        gq = gk = None
        if nq or nk:
            dp = g @ v.mT
            if self.drop_mask is not None:
                dp = dp * Tensor._wrap(self.drop_mask)
            ds = p * (dp - (dp * p).sum(-1, keepdim=True)) * self.scale
            gq = _sum_to(ds @ k, q.shape) if nq else None
            gk = _sum_to(ds.mT @ q, k.shape) if nk else None
        return gq, gk, gv


def _sum_to(t, shape):
    from ._broadcast import sum_to
    return sum_to(t, tuple(shape))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """softmax(query @ key^T * scale + mask) @ value over the last two dims (PyTorch's semantics: a bool mask keeps
    positions where it is True, a float mask is added; is_causal masks future positions)."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor) or t.data.ndim < 2:
            raise RuntimeError(f"scaled_dot_product_attention: {name} must be a tensor with at least 2 dims, got "
                               f"{tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__}")
    L, Eq = query.shape[-2:]
    S, Ek = key.shape[-2:]
    if Eq != Ek:
        raise RuntimeError(f"scaled_dot_product_attention: query and key must have the same embedding size, got "
                           f"query {tuple(query.shape)} and key {tuple(key.shape)}")
    if value.shape[-2] != S:
        raise RuntimeError(f"scaled_dot_product_attention: key and value must have the same sequence length, got "
                           f"key {tuple(key.shape)} and value {tuple(value.shape)}")
    if query.dtype is not key.dtype or query.dtype is not value.dtype:
        raise RuntimeError(f"scaled_dot_product_attention: expected query, key and value to have the same dtype, "
                           f"but got query.dtype: {query.dtype}, key.dtype: {key.dtype}, value.dtype: {value.dtype}")
    if is_causal and attn_mask is not None:
        raise RuntimeError("scaled_dot_product_attention: _scaled_dot_product_attention: Explicit attn_mask should "
                           "not be set when is_causal=True")
    if enable_gqa and query.shape[-3] != key.shape[-3]:
        rep = query.shape[-3] // key.shape[-3]
        key = key.repeat_interleave(rep, -3) if hasattr(key, "repeat_interleave") else key
        value = value.repeat_interleave(rep, -3) if hasattr(value, "repeat_interleave") else value
    xp = query.device.xp
    dtype = query.data.dtype
    bias = None
    if is_causal:
        bias = xp.where(xp.tril(xp.ones((L, S), dtype=bool)), 0, -xp.inf).astype(dtype)
    elif attn_mask is not None:
        m = attn_mask.data if isinstance(attn_mask, Tensor) else attn_mask
        bias = xp.where(m, 0, -xp.inf).astype(dtype) if m.dtype == bool else m.astype(dtype, copy=False)
    drop = None
    if dropout_p > 0.0:
        from .random import default_generator
        from ..device import move
        shape = tuple(query.shape[:-1]) + (S,)
        keep = default_generator.rng.random(shape) >= dropout_p
        drop = move((keep / (1.0 - dropout_p)).astype(dtype), query.device)
    scale = 1.0 / math.sqrt(Eq) if scale is None else scale
    try:
        return apply(Attention(scale, bias, drop), query, key, value)
    except ValueError as e:
        raise RuntimeError(f"scaled_dot_product_attention: shapes query {tuple(query.shape)}, key "
                           f"{tuple(key.shape)}, value {tuple(value.shape)} and mask "
                           f"{None if bias is None else tuple(bias.shape)} are not broadcastable ({e})") from None
