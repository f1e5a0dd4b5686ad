"""scaled_dot_product_attention as one fused node: softmax(q k^T * scale + bias) v. Its backward is a gradient node,
AttentionGrad, whose forward is array code and whose backward (the second derivative) differentiates the attention
written with ember ops."""
import functools
import math

import numpy as np

from ..autograd import Node
from ..autograd.graph import apply
from ..tensor import Tensor
from . import _autocast
from ._broadcast import sum_to_array
from ._checks import check_tensor
from .activation import softmax
from .decompose import vjp_backward
from .meta import TensorMeta, same_as
from .dropout import scaled_mask
from .registry import export, register
from .ternary import where


@register
class Attention(Node):
    """Inputs q, k, v and an optional additive bias (an array, or a tensor when a float mask needs a gradient).

    The forward keeps the attention weights p for its gradient node (AttentionGrad).
    For 4-D inputs (batch, heads, L, E) the output and the input gradients are laid out as (batch, L, heads, E) in
    memory, so the usual ``transpose(1, 2).reshape(b, t, c)`` around attention is a view, not a copy. Causal
    attention with L == S is computed in two halves of the queries (see _forward_halves).
    Rows whose every score is -inf (fully masked) give zero output and zero gradients, as PyTorch does.
    """

    saves = None
    p = dead = None  # set in forward: the attention weights, the fully masked rows

    def __init__(self, scale, drop_mask=None, causal=False, dropout_p=0.0, drop_shape=None):
        """drop_mask: a given dropout mask; or dropout_p > 0 with the mask's drop_shape: the forward draws it (so a
        compiled graph draws a new one each run, as eager calls do)."""
        self.scale, self.drop_mask, self.causal = scale, drop_mask, causal
        self.dropout_p, self.drop_shape = dropout_p, drop_shape
        self.random = drop_mask is None and dropout_p > 0.0
        self.halves = None

    def infer(self, q, k, v, bias=None):
        batch = [q.shape[:-2], k.shape[:-2], v.shape[:-2]] + ([bias.shape[:-2]] if bias is not None else [])
        return TensorMeta(tuple(np.broadcast_shapes(*batch)) + (q.shape[-2], v.shape[-1]), v.dtype)

    def forward(self, xp, q, k, v, bias=None):
        if self.random and self.drop_mask is None:
            self.drop_mask = scaled_mask(xp, self.drop_shape, self.dropout_p, q.dtype)
        kt = _scaled_transpose(xp, k, self.scale)
        if self.causal and _can_halve(q, k, v):
            out = self._forward_halves(xp, q, kt, v)
            if out is not None:
                return out
        s = xp.matmul(q, kt)
        if bias is not None:
            if xp.broadcast_shapes(s.shape, bias.shape) == s.shape:
                s += bias
            else:
                s = s + bias
        e, d = _exp_scores(xp, s)
        self.dead = None
        if _small(xp, d).any():
            self._fix_rows(xp, s, e, d)
        e *= xp.reciprocal(d, out=d)
        self.p = e
        if self.drop_mask is not None:
            e = e * self.drop_mask
        out = _heads_last(xp, e.shape[:-1] + (v.shape[-1],), v.dtype)
        return xp.matmul(e, v, out=out)

    def _forward_halves(self, xp, q, kt, v):
        """Causal attention with L == S in two halves of the queries: the first half sees only the first half of
        the keys, so a quarter of the scores (all masked) is never computed. None when a row needs _fix_rows
        (the caller then takes the general path)."""
        L = q.shape[-2]
        out = _heads_last(xp, q.shape[:-1] + (v.shape[-1],), v.dtype)
        halves = []
        for lo, hi in ((0, L // 2), (L // 2, L)):  # queries lo:hi see keys :hi
            s = xp.matmul(q[..., lo:hi, :], kt[..., :hi])
            s += _causal_bias(xp, lo, hi, s.dtype)
            e, d = _exp_scores(xp, s)
            if _small(xp, d).any():
                return None
            e *= xp.reciprocal(d, out=d)
            xp.matmul(e, v[..., :hi, :], out=out[..., lo:hi, :])
            halves.append((lo, hi, e))
        self.halves, self.dead = halves, None
        return out

    def _fix_rows(self, xp, s, e, d):
        """Rows whose weights all underflowed against their block's maximum, recomputed against their own
        maximum (in e and their sums d); fully masked rows (all -inf) stay zero, as in PyTorch."""
        bad = _small(xp, d)[..., 0]
        rows = s[bad]
        m = rows.max(axis=-1, keepdims=True)
        dead = xp.isneginf(m)
        m[dead] = 0
        rows = xp.exp(rows - m)
        rs = rows.sum(axis=-1, keepdims=True)
        rs[dead] = 1
        e[bad] = rows
        d[bad] = rs
        if dead.any():
            self.dead = xp.zeros(d.shape, dtype=bool)
            self.dead[bad] = dead

    def backward(self, g):
        grad = AttentionGrad(self.scale, self.p, self.drop_mask, self.dead, self.halves, self.needs_input_grad)
        return apply(grad, *self.inputs, g)


@register
class AttentionGrad(Node):
    """The gradients (q, k, v, bias) of an Attention node from (q, k, v, bias, g): its forward works on arrays with
    the forward's attention weights p (or the causal halves' weights), dropout mask and fully masked rows; its
    backward (the second derivative) differentiates the attention written with ember ops (``vjp_backward``)."""

    n_outputs = 4

    def __init__(self, scale, p, drop_mask, dead, halves, needs):
        self.scale, self.p, self.drop_mask, self.dead, self.halves = scale, p, drop_mask, dead, halves
        self.needs = needs

    def infer(self, q, k, v, bias, g):
        return tuple(same_as(a) if need else None for a, need in zip((q, k, v, bias), self.needs))

    def forward(self, xp, q, k, v, bias, g):
        """grad v = p^T g; with dp = g v^T, grad scores = p * (dp - rowsum(dp * p)); on arrays."""
        nq, nk, nv, nb = self.needs
        if self.halves is not None:
            return self._backward_halves(xp, g, q, k, v)
        p, drop = self.p, self.drop_mask
        gq = gk = gv = gb = None
        if nv:
            gv = _batched_matmul(xp, xp.swapaxes(p if drop is None else p * drop, -1, -2), g, v.shape)
        if nq or nk or nb:
            ds = _score_grad(xp, g, _transposed(xp, v), p, drop)
            if nb:
                gb = sum_to_array(ds, bias.shape)
                if gb is ds and (nq or nk):
                    gb = gb.copy()
            if nq or nk:
                ds *= self.scale
            if nq:
                gq = _batched_matmul(xp, ds, k, q.shape)
            if nk:
                gk = _batched_matmul(xp, xp.swapaxes(ds, -1, -2), q, k.shape)
        return gq, gk, gv, gb

    def _backward_halves(self, xp, g, q, k, v):
        """The backward of _forward_halves: the second half (which sees every key) writes the key and value
        gradients, the first half adds into their first rows."""
        nq, nk, nv, _ = self.needs
        gq = _heads_last(xp, q.shape, q.dtype) if nq else None
        gk = _heads_last(xp, k.shape, k.dtype) if nk else None
        gv = _heads_last(xp, v.shape, v.dtype) if nv else None
        vt = _transposed(xp, v) if nq or nk else None
        for lo, hi, p in reversed(self.halves):
            last = hi == q.shape[-2]
            gh = g[..., lo:hi, :]
            if nv:
                _matmul_into(xp, xp.swapaxes(p, -1, -2), gh, gv, hi, last)
            if nq or nk:
                ds = _score_grad(xp, gh, vt[..., :hi], p, None)
                ds *= self.scale
                if nq:
                    xp.matmul(ds, k[..., :hi, :], out=gq[..., lo:hi, :])
                if nk:
                    _matmul_into(xp, xp.swapaxes(ds, -1, -2), q[..., lo:hi, :], gk, hi, last)
        return gq, gk, gv, None

    def backward(self, ggq, ggk, ggv, ggb):
        return vjp_backward(self.decomposition, self.inputs[:4], self.inputs[4:], (ggq, ggk, ggv, ggb))

    def decomposition(self, q, k, v, bias):
        """softmax(q k^T * scale + bias) (fully masked rows zero), times the dropout mask, @ v, with ember ops."""
        s = (q @ k.mT) * self.scale
        if bias is not None:
            s = s + (bias if isinstance(bias, Tensor) else Tensor._wrap(bias))
        if self.dead is None:
            p = softmax(s, -1)
        else:
            dead = Tensor._wrap(self.dead)
            p = where(dead, 0.0, softmax(where(dead, 0.0, s), -1))
        if self.drop_mask is not None:
            p = p * Tensor._wrap(self.drop_mask)
        return p @ v


def _score_grad(xp, g, vt, p, drop):
    """The gradient of the scores: p * (dp - rowsum(dp * p)) with dp = (g @ v^T) * drop (vt = v^T)."""
    dp = xp.matmul(g, vt)
    if drop is not None:
        dp *= drop
    dp -= _rowdot(xp, dp, p)
    dp *= p
    return dp


_TINY = 2.0 ** -64  # a row sum below this (its maximum is > 44 below its block's): recompute the row


def _small(xp, d):
    """The row sums too small to divide by (below _TINY, or below the dtype's smallest normal for float16)."""
    return d < max(_TINY, float(xp.finfo(d.dtype).tiny))


def _exp_scores(xp, s):
    """(e, rowsum(e)) with e = exp(s - M), M the maximum of each (L, S) block of scores rather than of each row: a
    reduction over the whole contiguous block is about 20x faster than one per row in NumPy, and softmax does not
    depend on the shift. Rows far below their block's maximum are caught by their small sum (see _fix_rows)."""
    if s.size == 0:
        return s, xp.ones(s.shape[:-1] + (1,), s.dtype)
    blocks = s.reshape((-1, s.shape[-2] * s.shape[-1]))
    m = blocks.max(axis=1, keepdims=True)
    # exp cannot overflow (float32/64) and rows near their block's top keep their weight: no shift needed
    if s.dtype.itemsize >= 4 and -20 <= m.min() and m.max() <= 60:
        e = xp.exp(blocks)
    else:
        m[xp.isneginf(m)] = 0  # an all -inf block (fully masked): exp gives zeros, caught as dead rows
        e = xp.subtract(blocks, m)
        xp.exp(e, out=e)
    e = e.reshape(s.shape)
    return e, xp.einsum("...i->...", e)[..., None]


def _can_halve(q, k, v):
    """Causal attention worth computing in two halves: equal L and S (even, >= 32), no broadcast batch dims."""
    L = q.shape[-2]
    return (L >= 32 and L % 2 == 0 and k.shape[-2] == L and q.shape[:-2] == k.shape[:-2] == v.shape[:-2]
            and q.ndim >= 3)


@functools.lru_cache(maxsize=64)
def _causal_bias_np(lo, hi, dtype):
    b = np.where(np.tri(hi - lo, hi, lo, dtype=bool), 0, -np.inf).astype(dtype)
    b.flags.writeable = False
    return b


def _causal_bias(xp, lo, hi, dtype):
    """0 where key j <= query lo + i, -inf elsewhere: the (hi - lo, hi) causal mask of queries lo:hi."""
    if xp is np:
        return _causal_bias_np(lo, hi, np.dtype(dtype))
    return xp.where(xp.tri(hi - lo, hi, lo, dtype=bool), 0, -xp.inf).astype(dtype)


def _scaled_transpose(xp, k, scale):
    """k^T * scale as a contiguous array (one pass over k)."""
    kt = xp.empty(k.shape[:-2] + (k.shape[-1], k.shape[-2]), dtype=k.dtype)
    return xp.multiply(xp.swapaxes(k, -1, -2), scale, out=kt)


def _transposed(xp, a):
    """a with its last two axes swapped, as a contiguous array: NumPy's stacked matmul is about twice as slow
    when its second operand is a transposed view."""
    return xp.ascontiguousarray(xp.swapaxes(a, -1, -2))


def _matmul_into(xp, a, b, out, n, write):
    """out[..., :n, :] = a @ b when write, else += (out has n rows when write)."""
    if write:
        xp.matmul(a, b, out=out)
    else:
        out[..., :n, :] += xp.matmul(a, b)


def _heads_last(xp, shape, dtype):
    """An uninitialised array of a 4-D shape (b, h, l, e) laid out as (b, l, h, e); other shapes are contiguous."""
    if len(shape) != 4:
        return xp.empty(shape, dtype)
    b, h, l, e = shape
    return xp.empty((b, l, h, e), dtype).transpose(0, 2, 1, 3)


def _batched_matmul(xp, a, b, shape):
    """a @ b summed down to shape (the gradient of a broadcast input), written (b, l, h, e)-major when 4-D."""
    full = xp.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
    if full == tuple(shape):
        return xp.matmul(a, b, out=_heads_last(xp, full, xp.result_type(a, b)))
    return sum_to_array(xp.matmul(a, b), shape)


def _rowdot(xp, a, b):
    """sum(a * b, -1) with the last axis kept."""
    return xp.einsum("...i,...i->...", a, b)[..., None]


def _name_shapes(query, key, value, attn_mask=None):
    s = f"query {tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}"
    return s + (f", attn_mask {tuple(attn_mask.shape)}" if attn_mask is not None else "")


def _check(query, key, value, attn_mask, is_causal, dropout_p, enable_gqa):
    op = "scaled_dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        check_tensor(t, op, name)
        if t._data.ndim < 2:
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
    if attn_mask is not None:
        check_tensor(attn_mask, op, "attn_mask")
    if attn_mask is not None and attn_mask._data.dtype.kind not in "bfV":
        raise RuntimeError(f"{op}: Expected attn_mask dtype to be bool or float or to match query dtype, got "
                           f"{attn_mask.dtype}")
    if enable_gqa and query._data.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
        if hk != hv or hq % hk:
            raise RuntimeError(f"{op}: with enable_gqa the number of query heads must be a multiple of the key and "
                               f"value heads (which must agree), got {_name_shapes(query, key, value)}")
    L, S = query.shape[-2], key.shape[-2]
    batch = [tuple(query.shape[:-2]), tuple(key.shape[:-2]), tuple(value.shape[:-2])]
    if enable_gqa and query._data.ndim >= 3:
        batch = [b[:-1] for b in batch]
    try:
        shape = np.broadcast_shapes(*batch)
        if attn_mask is not None:
            np.broadcast_shapes(tuple(attn_mask.shape), shape + ((query.shape[-3],) if enable_gqa and
                                                                 query._data.ndim >= 3 else ()) + (L, S))
    except ValueError:
        raise RuntimeError(f"{op}: the batch dimensions of {_name_shapes(query, key, value, attn_mask)} are not "
                           f"broadcastable (scores have shape (..., {L}, {S}))") from None


def _repeat_heads(t, rep):
    """(..., H, S, E) -> (..., H * rep, S, E), each head repeated rep times in a row (repeat_interleave on dim -3)."""
    shape = tuple(t.shape)
    expanded = t.unsqueeze(-3).expand(shape[:-2] + (rep,) + shape[-2:])
    return expanded.reshape(shape[:-3] + (shape[-3] * rep,) + shape[-2:])


@export(Attention, ember=False, functional=True)
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """Compute attention: ``softmax(query @ key.T * scale + mask) @ value`` over the last two dimensions.

    A bool ``attn_mask`` keeps the positions where it is True; a float one is added to the scores (and gets a gradient
    when it requires one); both broadcast against the (..., L, S) scores. ``is_causal`` lets position i attend to
    positions j <= i only (top-left aligned when L != S). One fused node; dropout is applied whenever ``dropout_p`` > 0
    (pass 0 outside training). Under autocast, query, key, value and a float mask are cast to the autocast dtype.

    Args:
        query (Tensor): the queries, floating point.
        key (Tensor): the keys, of ``query``'s dtype.
        value (Tensor): the values, of ``query``'s dtype.
        attn_mask (Tensor, optional): a bool or float mask broadcastable to the scores; not with ``is_causal``.
            Default: None.
        dropout_p (float): the probability of dropping an attention weight, in [0, 1]. Default: 0.0.
        is_causal (bool): apply the causal mask. Default: False.
        scale (float, optional): the factor of the scores. Default: 1 / sqrt(E).
        enable_gqa (bool): grouped-query attention: when ``key`` and ``value`` have fewer heads (dimension -3) than
            ``query``, repeat each of them query_heads / kv_heads times. Default: False.

    Returns:
        Tensor: the attended values, of ``query``'s dtype.

    Shape:
        - Query: (..., L, E).
        - Key: (..., S, E).
        - Value: (..., S, Ev).
        - Attn_mask: broadcastable to (..., L, S).
        - Output: (..., L, Ev), the batch dimensions broadcast.

    PyTorch:
        ``torch.nn.functional.scaled_dot_product_attention``; same semantics.

    Example:
        >>> q = ember.tensor([[[1.0, 0.0], [0.0, 1.0]]])
        >>> v = ember.tensor([[[1.0, 2.0], [3.0, 4.0]]])
        >>> F.scaled_dot_product_attention(q, q, v, is_causal=True)
        tensor([[[1.0000, 2.0000],
                 [2.3395, 3.3395]]])
        >>> F.scaled_dot_product_attention(ember.ones(2, 4, 5, 8), ember.ones(2, 4, 6, 8), ember.ones(2, 4, 6, 3)).shape
        ember.Size([2, 4, 5, 3])
    """
    if _autocast.active:
        query, key, value, attn_mask = _autocast.cast(query, key, value, attn_mask)
    _check(query, key, value, attn_mask, is_causal, dropout_p, enable_gqa)
    if enable_gqa and query._data.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        rep = query.shape[-3] // key.shape[-3]
        key, value = _repeat_heads(key, rep), _repeat_heads(value, rep)
    xp = query.device.xp
    dtype = query._data.dtype
    L, S = query.shape[-2], key.shape[-2]
    bias = None
    if is_causal:
        bias = xp.where(xp.tri(L, S, dtype=bool), 0, -xp.inf).astype(dtype)
    elif attn_mask is not None:
        if attn_mask._data.dtype.kind == "b":
            bias = xp.where(attn_mask._data, 0, -xp.inf).astype(dtype)
        elif attn_mask.requires_grad:
            bias = attn_mask.to(query.dtype)
        else:
            bias = attn_mask._data.astype(dtype, copy=False)
    shape = None
    if dropout_p > 0.0:
        shape = np.broadcast_shapes(tuple(query.shape[:-2]) + (L, S), tuple(key.shape[:-2]) + (L, S),
                                    tuple(bias.shape) if bias is not None else ())
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    return apply(Attention(scale, causal=is_causal and dropout_p == 0.0, dropout_p=dropout_p, drop_shape=shape),
                 query, key, value, bias)

