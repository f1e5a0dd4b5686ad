"""MultiheadAttention (torch.nn.MultiheadAttention) and its functional form, multi_head_attention_forward.

Heads are laid out as (batch, heads, seq, head_dim) straight from the projections, whatever the input layout, so
batch_first costs no transposes. need_weights=False goes through the fused scaled_dot_product_attention; with
need_weights=True the weights are computed explicitly (softmax(q k^T / sqrt(d) + mask)), since they are returned.
"""
from __future__ import annotations

import math
import warnings
from typing import Any

from .. import dtypes as _dt
from ..dtypes import dtype as _dtype
from ..ops.activation import softmax
from ..ops.dropout import dropout as _dropout
from ..ops.attention import scaled_dot_product_attention
from ..ops.creation import empty, zeros
from ..ops.linear import linear
from ..ops.join import cat
from ..tensor import Tensor
from ..types import Device
from . import init
from .linear import Linear
from .module import Module
from .parameter import Parameter

__all__ = ["MultiheadAttention", "multi_head_attention_forward"]


class NonDynamicallyQuantizableLinear(Linear):
    """The Linear of MultiheadAttention.out_proj (named as in PyTorch, so reprs match)."""


# --- masks ----------------------------------------------------------------------------------------------------

def _none_or_dtype(t):
    if t is None:
        return None
    if isinstance(t, Tensor):
        return t.dtype
    raise RuntimeError("input to _none_or_dtype() must be None or ember.Tensor")


def _canonical_mask(mask, mask_name, other_type, other_name, target_type, check_other=True):
    """A float additive mask: a bool mask becomes -inf where True (= position ignored) and 0 elsewhere."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        raise TypeError(f"{mask_name} must be an ember Tensor or None, not {type(mask).__name__}")
    is_float = mask.is_floating_point()
    if mask.dtype is not _dt.bool and not is_float:
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype is not other_type:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. Use same type for both "
                      "instead.", stacklevel=3)
    if is_float:
        return mask
    xp = mask.device.xp
    return Tensor._wrap(xp.where(mask._data, -xp.inf, 0.0).astype(target_type.np))


def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads):
    """Whether the input is batched (3-D query) or not (2-D); AssertionError for inconsistent ranks."""
    qd = query.dim()
    if qd not in (2, 3):
        raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {qd}-D query tensor")
    kind = "batched (3-D)" if qd == 3 else "unbatched (2-D)"
    if key.dim() != qd or value.dim() != qd:
        raise AssertionError(f"For {kind} `query`, expected `key` and `value` to be {qd}-D but found {key.dim()}-D "
                             f"and {value.dim()}-D tensors respectively")
    if key_padding_mask is not None and key_padding_mask.dim() != qd - 1:
        raise AssertionError(f"For {kind} `query`, expected `key_padding_mask` to be `None` or {qd - 1}-D but found "
                             f"{key_padding_mask.dim()}-D tensor instead")
    if attn_mask is not None:
        if attn_mask.dim() not in (2, 3):
            raise AssertionError(f"For {kind} `query`, expected `attn_mask` to be `None`, 2-D or 3-D but found "
                                 f"{attn_mask.dim()}-D tensor instead")
        if qd == 2 and attn_mask.dim() == 3:
            expected = (num_heads, query.shape[0], key.shape[0])
            if tuple(attn_mask.shape) != expected:
                raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got {tuple(attn_mask.shape)}")
    return qd == 3


def _pad_last(mask):
    """mask with one more zero (= attend) column at the end of its last dim."""
    return cat([mask, zeros(tuple(mask.shape[:-1]) + (1,), dtype=mask.dtype, device=mask.device)], -1)


# --- projections ----------------------------------------------------------------------------------------------

def _heads(x, batch_first, parts, num_heads, head_dim):
    """(B, S, parts*E) or (S, B, parts*E) -> `parts` tensors of shape (B, H, S, D)."""
    a, b = x.shape[0], x.shape[1]
    if parts == 1:
        x = x.reshape(a, b, num_heads, head_dim)
        return (x.permute(0, 2, 1, 3) if batch_first else x.permute(1, 2, 0, 3),)
    x = x.reshape(a, b, parts, num_heads, head_dim)
    return x.permute(2, 0, 3, 1, 4).unbind(0) if batch_first else x.permute(2, 1, 3, 0, 4).unbind(0)


def _project(query, key, value, w, b, bf, H, D):
    """q, k, v as (B, H, S, D) from the packed in_proj weight (one GEMM for self-attention, as PyTorch)."""
    E = H * D
    if key is value:
        if query is key:
            return _heads(linear(query, w, b), bf, 3, H, D)
        w_q, w_kv = w.split([E, 2 * E])
        b_q, b_kv = (None, None) if b is None else b.split([E, 2 * E])
        q, = _heads(linear(query, w_q, b_q), bf, 1, H, D)
        k, v = _heads(linear(key, w_kv, b_kv), bf, 2, H, D)
        return q, k, v
    w_q, w_k, w_v = w.chunk(3)
    b_q, b_k, b_v = (None, None, None) if b is None else b.chunk(3)
    return _project_separate(query, key, value, w_q, w_k, w_v, b_q, b_k, b_v, bf, H, D)


def _project_separate(query, key, value, w_q, w_k, w_v, b_q, b_k, b_v, bf, H, D):
    q, = _heads(linear(query, w_q, b_q), bf, 1, H, D)
    k, = _heads(linear(key, w_k, b_k), bf, 1, H, D)
    v, = _heads(linear(value, w_v, b_v), bf, 1, H, D)
    return q, k, v


# --- attention ------------------------------------------------------------------------------------------------

def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    """Multi-head attention on (L, N, E) query and (S, N, E) key/value (or unbatched (L, E), (S, E)), as
    torch.nn.functional.multi_head_attention_forward. Returns (attn_output, attn_weights or None)."""
    return _mha_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias, bias_k,
                        bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias, training, key_padding_mask,
                        need_weights, attn_mask, use_separate_proj_weight, q_proj_weight, k_proj_weight,
                        v_proj_weight, static_k, static_v, average_attn_weights, is_causal, False)


def _unsqueeze_same(query, key, value):
    """query, key, value with a leading batch dim of one, keeping which of them are the same tensor (so that
    self-attention still takes the one-GEMM projection)."""
    q = query.unsqueeze(0)
    k = q if key is query else key.unsqueeze(0)
    v = k if value is key else (q if value is query else value.unsqueeze(0))
    return q, k, v


def _static(t, name, bsz, H, D):
    if t.shape[0] != bsz * H:
        raise AssertionError(f"expecting {name}.size(0) of {bsz * H}, but got {t.shape[0]}")
    if t.shape[2] != D:
        raise AssertionError(f"expecting {name}.size(2) of {D}, but got {t.shape[2]}")
    return t.reshape(bsz, H, t.shape[1], D)


def _mha_forward(query, key, value, embed_dim_to_check, H, in_proj_weight, in_proj_bias, bias_k, bias_v,
                 add_zero_attn, dropout_p, out_proj_weight, out_proj_bias, training, key_padding_mask, need_weights,
                 attn_mask, use_separate_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight, static_k, static_v,
                 average_attn_weights, is_causal, bf):
    """The body of multi_head_attention_forward; bf says whether batched inputs are (N, L, E)."""
    is_batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, H)
    if not is_batched:  # a batch of one, laid out batch-first
        query, key, value = _unsqueeze_same(query, key, value)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
        bf = True
    if bf:
        bsz, tgt_len, embed_dim = query.shape
        src_len = key.shape[1]
    else:
        tgt_len, bsz, embed_dim = query.shape
        src_len = key.shape[0]

    dtype = query.dtype
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", _none_or_dtype(attn_mask), "attn_mask",
                                       dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # the fused kernel applies the causal mask itself
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", dtype, check_other=False)
        if key_padding_mask is not None:
            is_causal = False

    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    D = embed_dim // H
    if D * H != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {H}")
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(f"key's sequence and batch dims {tuple(key.shape[:2])} do not match value's "
                                 f"{tuple(value.shape[:2])}")
    elif tuple(key.shape) != tuple(value.shape):
        raise AssertionError(f"key shape {tuple(key.shape)} does not match value shape {tuple(value.shape)}")

    if not use_separate_proj_weight:
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        q, k, v = _project(query, key, value, in_proj_weight, in_proj_bias, bf, H, D)
    else:
        for name, w in (("q_proj_weight", q_proj_weight), ("k_proj_weight", k_proj_weight),
                        ("v_proj_weight", v_proj_weight)):
            if w is None:
                raise AssertionError(f"use_separate_proj_weight is True but {name} is None")
        b_q, b_k, b_v = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
        q, k, v = _project_separate(query, key, value, q_proj_weight, k_proj_weight, v_proj_weight, b_q, b_k, b_v,
                                    bf, H, D)

    if attn_mask is not None:
        shape = tuple(attn_mask.shape)
        if attn_mask.dim() == 2:
            if shape != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {shape}, but should be {(tgt_len, src_len)}.")
        else:
            if shape != (bsz * H, tgt_len, src_len):
                raise RuntimeError(f"The shape of the 3D attn_mask is {shape}, but should be "
                                   f"{(bsz * H, tgt_len, src_len)}.")
            attn_mask = attn_mask.reshape(bsz, H, tgt_len, src_len)

    if bias_k is not None and bias_v is not None:
        if static_k is not None:
            raise AssertionError("bias cannot be added to static key.")
        if static_v is not None:
            raise AssertionError("bias cannot be added to static value.")
        k = cat([k, bias_k.reshape(1, H, 1, D).expand(bsz, H, 1, D)], 2)
        v = cat([v, bias_v.reshape(1, H, 1, D).expand(bsz, H, 1, D)], 2)
        attn_mask = None if attn_mask is None else _pad_last(attn_mask)
        key_padding_mask = None if key_padding_mask is None else _pad_last(key_padding_mask)
    elif bias_k is not None:
        raise AssertionError("bias_k is set but bias_v is None")
    elif bias_v is not None:
        raise AssertionError("bias_v is set but bias_k is None")
    if static_k is not None:
        k = _static(static_k, "static_k", bsz, H, D)
    if static_v is not None:
        v = _static(static_v, "static_v", bsz, H, D)

    if add_zero_attn:
        z = zeros((bsz, H, 1, D), dtype=k.dtype, device=k.device)
        k, v = cat([k, z], 2), cat([v, z], 2)
        attn_mask = None if attn_mask is None else _pad_last(attn_mask)
        key_padding_mask = None if key_padding_mask is None else _pad_last(key_padding_mask)
    src_len = k.shape[2]

    if key_padding_mask is not None:
        kshape = tuple(key_padding_mask.shape)
        if kshape[0] != bsz:
            raise AssertionError(f"Expected key_padded_mask.shape[0] to be {bsz}, but got {kshape[0]}")
        if kshape[1] != src_len:
            raise AssertionError(f"Expected key_padded_mask.shape[1] to be {src_len}, but got {kshape[1]}")
        kpm = key_padding_mask.reshape(bsz, 1, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    if not training:
        dropout_p = 0.0

    out, weights = _attend(q, k, v, attn_mask, dropout_p, is_causal, need_weights)
    # (B, H, L, D) -> the input's layout, heads concatenated, then the output projection
    out = out.permute(0, 2, 1, 3).reshape(bsz, tgt_len, embed_dim) if bf else \
        out.permute(2, 0, 1, 3).reshape(tgt_len, bsz, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias)
    if weights is not None and average_attn_weights:
        weights = weights.mean(1)
    if not is_batched:
        out = out.squeeze(0)
        weights = None if weights is None else weights.squeeze(0)
    return out, weights


def _attend(q, k, v, mask, dropout_p, is_causal, need_weights):
    """softmax(q k^T / sqrt(d) + mask) v on (B, H, S, D) heads; returns (output, weights or None)."""
    if not need_weights:
        return scaled_dot_product_attention(q, k, v, mask, dropout_p, is_causal), None
    s = (q * math.sqrt(1.0 / q.shape[-1])) @ k.mT
    if mask is not None:
        s = s + mask
    elif is_causal:
        raise AssertionError("is_causal needs an explicit attn_mask when the attention weights are computed")
    p = softmax(s, -1)
    if dropout_p > 0.0:
        p = _dropout(p, dropout_p)
    return p @ v, (p if need_weights else None)


class MultiheadAttention(Module):
    """Attention over ``num_heads`` subspaces of the embedding: project, attend per head, concatenate, project.

    ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None, average_attn_weights=True,
    is_causal=False)`` returns ``(attn_output, attn_weights)``: the weights are averaged over the heads, per head with
    ``average_attn_weights=False``, or None without ``need_weights``. Bool masks are True where attention is not
    allowed; float masks are added to the scores. Parameters: ``in_proj_weight`` (3E, E) and ``in_proj_bias`` (3E,)
    (or ``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight`` when ``kdim`` or ``vdim`` differ from ``embed_dim``),
    ``out_proj`` (a Linear) and, with ``add_bias_kv``, ``bias_k`` and ``bias_v``; initialised as PyTorch's.

    Args:
        embed_dim (int): E, the model's embedding size; positive.
        num_heads (int): the number of heads; it must divide ``embed_dim`` (else AssertionError).
        dropout (float): the dropout probability of the attention weights (training only). Default: 0.0.
        bias (bool): learn the input and output projections' biases. Default: True.
        add_bias_kv (bool): append a learnt bias position to the keys and values. Default: False.
        add_zero_attn (bool): append a zero position to the keys and values. Default: False.
        kdim (int, optional): the keys' feature size. Default: ``embed_dim``.
        vdim (int, optional): the values' feature size. Default: ``embed_dim``.
        batch_first (bool): inputs and outputs are (N, L, E) rather than (L, N, E). Default: False.
        device (str or ember.device, optional): where the parameters live. Default: the CPU.
        dtype (ember.dtype, optional): the parameters' dtype. Default: ``ember.get_default_dtype()``.

    Shape:
        - Query: (L, N, E), (N, L, E) with ``batch_first``, or (L, E) unbatched.
        - Key: (S, N, kdim); Value: (S, N, vdim) (batch first or unbatched likewise).
        - Key_padding_mask: (N, S) or (S,); Attn_mask: (L, S) or (N * num_heads, L, S).
        - Output: attn_output of the query's shape; attn_weights (N, L, S), (N, num_heads, L, S) with
          ``average_attn_weights=False``, or (L, S) unbatched.

    PyTorch:
        ``torch.nn.MultiheadAttention``; same parameters, names, initialisation, masks and output shapes.

    Example:
        >>> mha = nn.MultiheadAttention(embed_dim=8, num_heads=2, batch_first=True)
        >>> x = ember.randn(3, 5, 8)
        >>> out, weights = mha(x, x, x)
        >>> out.shape, weights.shape
        (ember.Size([3, 5, 8]), ember.Size([3, 5, 5]))
    """

    __constants__ = ["batch_first"]
    bias_k: Parameter | None
    bias_v: Parameter | None

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device: Device = None,
                 dtype: _dtype | None = None) -> None:
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} and "
                             f"num_heads={num_heads} instead")
        super().__init__()
        fk: dict[str, Any] = {"device": device, "dtype": dtype}
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise AssertionError("embed_dim must be divisible by num_heads")
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(empty((embed_dim, embed_dim), **fk))
            self.k_proj_weight = Parameter(empty((embed_dim, self.kdim), **fk))
            self.v_proj_weight = Parameter(empty((embed_dim, self.vdim), **fk))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(empty((3 * embed_dim, embed_dim), **fk))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty(3 * embed_dim, **fk))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, **fk)
        if add_bias_kv:
            self.bias_k = Parameter(empty((1, 1, embed_dim), **fk))
            self.bias_v = Parameter(empty((1, 1, embed_dim), **fk))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        """xavier_uniform_ projections, zero biases, xavier_normal_ bias_k/bias_v (PyTorch's initialisation)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
                need_weights: bool = True, attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """(attn_output, attn_weights): output (L, N, E), (N, L, E) with batch_first, or (L, E) unbatched;
        weights (N, L, S) averaged over heads, (N, H, L, S) with average_attn_weights=False, None without
        need_weights. Masks: key_padding_mask (N, S) and attn_mask (L, S) or (N*H, L, S), bool (True = ignore)
        or float (added to the scores)."""
        sep = not self._qkv_same_embed_dim
        return _mha_forward(query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight,
                            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn, self.dropout,
                            self.out_proj.weight, self.out_proj.bias, self.training, key_padding_mask, need_weights,
                            attn_mask, sep, self.q_proj_weight if sep else None,
                            self.k_proj_weight if sep else None, self.v_proj_weight if sep else None, None, None,
                            average_attn_weights, is_causal, self.batch_first)
