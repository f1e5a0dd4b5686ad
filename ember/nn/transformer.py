"""Transformer layers, following torch.nn.Transformer*: same submodule names (so state_dicts load either way),
masks, is_causal hints, norm_first and batch_first."""
import copy

from ..ops import activation as _A
from ..ops import unary as _unary
from ..ops.creation import full
from ..ops.rearrange import triu
from .activation import GELU, ReLU
from .attention import MultiheadAttention, _canonical_mask, _none_or_dtype
from .containers import ModuleList
from .dropout import Dropout
from . import init
from .linear import Linear
from .module import Module
from .normalization import LayerNorm

__all__ = ["Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer",
           "TransformerDecoderLayer"]


def _generate_square_subsequent_mask(sz, device=None, dtype=None):
    """An (sz, sz) float mask: -inf above the diagonal (future positions), 0 elsewhere."""
    return triu(full((sz, sz), float("-inf"), dtype=dtype, device=device), diagonal=1)


def _get_seq_len(src, batch_first):
    if src.dim() == 2:
        return src.shape[0]
    return src.shape[1 if batch_first else 0]


def _detect_is_causal_mask(mask, is_causal=None, size=None):
    """is_causal if given; otherwise whether mask equals the square subsequent mask of the sequence length."""
    if is_causal is not None or mask is None:
        return is_causal is True
    sz = size if size is not None else mask.shape[-2]
    causal = _generate_square_subsequent_mask(sz, device=mask.device, dtype=mask.dtype)
    if tuple(mask.shape) != tuple(causal.shape):
        return False
    return bool((mask == causal).all())


def _get_clones(module, n):
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


def _get_activation_fn(activation):
    if activation == "relu":
        return _A.relu
    if activation == "gelu":
        return _A.gelu
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


def _relu_or_gelu(activation):
    """1 for relu, 2 for gelu, 0 for anything else (PyTorch's activation_relu_or_gelu attribute)."""
    if activation is _A.relu or activation is _unary.relu or isinstance(activation, ReLU):
        return 1
    if activation is _A.gelu or isinstance(activation, GELU):
        return 2
    return 0


class TransformerEncoderLayer(Module):
    """A Transformer encoder block: self-attention then a feed-forward network, each with a residual connection.

    Each block is followed by dropout and wrapped as ``norm(x + block(x))`` (or ``x + block(norm(x))`` with
    ``norm_first``). ``forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)``; bool masks are True
    where attention is not allowed, float masks are added to the scores. The submodules have PyTorch's names
    (self_attn, linear1, linear2, norm1, norm2, ...), so state_dicts load either way.

    Args:
        d_model (int): E, the size of each position's features.
        nhead (int): the number of attention heads; it must divide ``d_model``.
        dim_feedforward (int): the hidden size of the feed-forward block. Default: 2048.
        dropout (float): the dropout probability after attention, inside and after the feed-forward block.
            Default: 0.1.
        activation (str or callable): the feed-forward block's activation: ``'relu'``, ``'gelu'`` or a function or
            module of one tensor. Default: ``F.relu``.
        layer_norm_eps (float): the LayerNorms' eps. Default: 1e-05.
        batch_first (bool): inputs and outputs are (N, S, E) rather than (S, N, E). Default: False.
        norm_first (bool): apply each LayerNorm before its block (pre-norm) rather than after the residual addition.
            Default: False.
        bias (bool): learn the biases of the linear maps and LayerNorms. Default: True.
        device (str or ember.device, optional): where the parameters live. Default: the CPU.
        dtype (ember.dtype, optional): the parameters' dtype. Default: ``ember.get_default_dtype()``.

    Shape:
        - Src: (S, N, E), (N, S, E) with ``batch_first``, or (S, E).
        - Src_mask: (S, S) or (N * nhead, S, S).
        - Src_key_padding_mask: (N, S) or (S,).
        - Output: the shape of ``src``.

    PyTorch:
        ``torch.nn.TransformerEncoderLayer``; same parameters, state_dict keys and semantics (no fast path: the
        results are the same).

    Example:
        >>> layer = nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, batch_first=True)
        >>> layer(ember.randn(3, 5, 8)).shape
        ember.Size([3, 5, 8])
    """

    __constants__ = ["norm_first"]

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=_A.relu, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        fk = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **fk)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **fk)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **fk)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if isinstance(activation, str):
            activation = _get_activation_fn(activation)
        self.activation_relu_or_gelu = _relu_or_gelu(activation)
        self.activation = activation

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        """src: (S, N, E), (N, S, E) with batch_first, or (S, E); src_mask (S, S) or (N*nhead, S, S);
        src_key_padding_mask (N, S) or (S); bool masks are True where attention is not allowed."""
        src_key_padding_mask = _canonical_mask(src_key_padding_mask, "src_key_padding_mask",
                                               _none_or_dtype(src_mask), "src_mask", src.dtype)
        src_mask = _canonical_mask(src_mask, "src_mask", None, "", src.dtype, check_other=False)
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal=False):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


class TransformerDecoderLayer(Module):
    """A Transformer decoder block: self-attention, attention over the encoder's memory, then a feed-forward network.

    Each of the three blocks is followed by dropout and wrapped as ``norm(x + block(x))`` (or ``x + block(norm(x))``
    with ``norm_first``). ``forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)``; bool masks are True where attention
    is not allowed. The submodules have PyTorch's names (self_attn, multihead_attn, linear1, norm1, ...).

    Args:
        d_model (int): E, the size of each position's features.
        nhead (int): the number of attention heads; it must divide ``d_model``.
        dim_feedforward (int): the hidden size of the feed-forward block. Default: 2048.
        dropout (float): the dropout probability after attention, inside and after the feed-forward block.
            Default: 0.1.
        activation (str or callable): the feed-forward block's activation: ``'relu'``, ``'gelu'`` or a function or
            module of one tensor. Default: ``F.relu``.
        layer_norm_eps (float): the LayerNorms' eps. Default: 1e-05.
        batch_first (bool): inputs and outputs are (N, S, E) rather than (S, N, E). Default: False.
        norm_first (bool): apply each LayerNorm before its block (pre-norm) rather than after the residual addition.
            Default: False.
        bias (bool): learn the biases of the linear maps and LayerNorms. Default: True.
        device (str or ember.device, optional): where the parameters live. Default: the CPU.
        dtype (ember.dtype, optional): the parameters' dtype. Default: ``ember.get_default_dtype()``.

    Shape:
        - Tgt: (T, N, E), (N, T, E) with ``batch_first``, or (T, E).
        - Memory: (S, N, E), (N, S, E) with ``batch_first``, or (S, E).
        - Tgt_mask: (T, T); Memory_mask: (T, S); key padding masks: (N, T) and (N, S).
        - Output: the shape of ``tgt``.

    PyTorch:
        ``torch.nn.TransformerDecoderLayer``; same parameters, state_dict keys and semantics.

    Example:
        >>> layer = nn.TransformerDecoderLayer(d_model=8, nhead=2, dim_feedforward=16)
        >>> layer(ember.randn(4, 3, 8), ember.randn(6, 3, 8)).shape
        ember.Size([4, 3, 8])
    """

    __constants__ = ["norm_first"]

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=_A.relu, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        fk = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=batch_first, bias=bias, **fk)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=batch_first, bias=bias,
                                                 **fk)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **fk)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **fk)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _get_activation_fn(activation) if isinstance(activation, str) else activation

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        """tgt: (T, N, E) (or batch_first / unbatched), memory: (S, N, E); tgt_mask (T, T), memory_mask (T, S),
        key padding masks (N, T) and (N, S)."""
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal=False):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, is_causal=is_causal,
                           need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal=False):
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                is_causal=is_causal, need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout3(x)


class TransformerEncoder(Module):
    """A stack of ``num_layers`` copies of an encoder layer, then an optional final norm.

    The layers are deep copies of ``encoder_layer`` (as ``layers.0``, ``layers.1``, ...), so they do not share
    weights. ``forward(src, mask=None, src_key_padding_mask=None, is_causal=None)`` runs ``src`` through every layer
    with the same masks; ``is_causal=None`` detects whether ``mask`` is the causal mask.

    Args:
        encoder_layer (TransformerEncoderLayer): the layer to copy.
        num_layers (int): the number of copies.
        norm (Module, optional): applied to the last layer's output (usually a LayerNorm). Default: None.
        enable_nested_tensor (bool): accepted for compatibility; ember has no nested tensors, so padding is always
            handled by the masks (``use_nested_tensor`` is False). Default: True.
        mask_check (bool): stored, as in PyTorch; it only matters to PyTorch's nested-tensor path. Default: True.

    Shape:
        - Src: (S, N, E), (N, S, E) when the layer is ``batch_first``, or (S, E).
        - Mask: (S, S) or (N * nhead, S, S); Src_key_padding_mask: (N, S) or (S,).
        - Output: the shape of ``src``.

    PyTorch:
        ``torch.nn.TransformerEncoder``; same parameters, state_dict keys and semantics (without the nested-tensor
        fast path; the results are the same).

    Example:
        >>> layer = nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16)
        >>> encoder = nn.TransformerEncoder(layer, num_layers=2, norm=nn.LayerNorm(8))
        >>> encoder(ember.randn(5, 3, 8)).shape
        ember.Size([5, 3, 8])
    """

    __constants__ = ["norm"]

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        self.layers = _get_clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.use_nested_tensor = False  # ember has no nested tensors: padding is always handled by masks
        self.mask_check = mask_check

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        """Runs src through every layer with the same masks; is_causal=None detects a causal mask."""
        src_key_padding_mask = _canonical_mask(src_key_padding_mask, "src_key_padding_mask", _none_or_dtype(mask),
                                               "mask", src.dtype)
        mask = _canonical_mask(mask, "mask", None, "", src.dtype, check_other=False)
        seq_len = _get_seq_len(src, self.layers[0].self_attn.batch_first)
        is_causal = _detect_is_causal_mask(mask, is_causal, seq_len)
        output = src
        for mod in self.layers:
            output = mod(output, src_mask=mask, is_causal=is_causal, src_key_padding_mask=src_key_padding_mask)
        if self.norm is not None:
            output = self.norm(output)
        return output


class TransformerDecoder(Module):
    """A stack of ``num_layers`` copies of a decoder layer, then an optional final norm.

    The layers are deep copies of ``decoder_layer`` (as ``layers.0``, ``layers.1``, ...).
    ``forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None,
    tgt_is_causal=None, memory_is_causal=False)`` runs ``tgt`` through every layer, each attending to ``memory``;
    ``tgt_is_causal=None`` detects whether ``tgt_mask`` is the causal mask.

    Args:
        decoder_layer (TransformerDecoderLayer): the layer to copy.
        num_layers (int): the number of copies.
        norm (Module, optional): applied to the last layer's output (usually a LayerNorm). Default: None.

    Shape:
        - Tgt: (T, N, E), (N, T, E) when the layer is ``batch_first``, or (T, E).
        - Memory: (S, N, E), (N, S, E) when ``batch_first``, or (S, E).
        - Output: the shape of ``tgt``.

    PyTorch:
        ``torch.nn.TransformerDecoder``; same parameters, state_dict keys and semantics.

    Example:
        >>> layer = nn.TransformerDecoderLayer(d_model=8, nhead=2, dim_feedforward=16)
        >>> decoder = nn.TransformerDecoder(layer, num_layers=2)
        >>> decoder(ember.randn(4, 3, 8), ember.randn(6, 3, 8)).shape
        ember.Size([4, 3, 8])
    """

    __constants__ = ["norm"]

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _get_clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        """Runs tgt through every layer, each attending to memory; tgt_is_causal=None detects a causal tgt_mask."""
        seq_len = _get_seq_len(tgt, self.layers[0].self_attn.batch_first)
        tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal, seq_len)
        output = tgt
        for mod in self.layers:
            output = mod(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                         tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                         tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        if self.norm is not None:
            output = self.norm(output)
        return output


class Transformer(Module):
    """The encoder-decoder Transformer of "Attention Is All You Need": an encoder stack and a decoder stack.

    Each stack ends in a LayerNorm, and every weight matrix is re-drawn with ``xavier_uniform_``, as in PyTorch.
    ``forward(src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
    tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
    memory_is_causal=False)`` encodes ``src`` and decodes ``tgt`` attending to the encoding;
    ``Transformer.generate_square_subsequent_mask(sz)`` gives the causal ``tgt_mask``.

    Args:
        d_model (int): E, the size of each position's features. Default: 512.
        nhead (int): the number of attention heads; it must divide ``d_model``. Default: 8.
        num_encoder_layers (int): the encoder's depth. Default: 6.
        num_decoder_layers (int): the decoder's depth. Default: 6.
        dim_feedforward (int): the hidden size of the feed-forward blocks. Default: 2048.
        dropout (float): the dropout probability. Default: 0.1.
        activation (str or callable): the feed-forward activation: ``'relu'``, ``'gelu'`` or a function.
            Default: ``F.relu``.
        custom_encoder (Module, optional): use this encoder instead of building one. Default: None.
        custom_decoder (Module, optional): use this decoder instead of building one. Default: None.
        layer_norm_eps (float): the LayerNorms' eps. Default: 1e-05.
        batch_first (bool): inputs and outputs are (N, S, E) rather than (S, N, E). Default: False.
        norm_first (bool): pre-norm blocks. Default: False.
        bias (bool): learn the biases of the linear maps and LayerNorms. Default: True.
        device (str or ember.device, optional): where the parameters live. Default: the CPU.
        dtype (ember.dtype, optional): the parameters' dtype. Default: ``ember.get_default_dtype()``.

    Shape:
        - Src: (S, N, E), (N, S, E) with ``batch_first``, or (S, E); E must be ``d_model`` (else RuntimeError).
        - Tgt: (T, N, E), (N, T, E) with ``batch_first``, or (T, E); the same N as ``src``.
        - Src_mask: (S, S); Tgt_mask: (T, T); Memory_mask: (T, S).
        - Output: (T, N, E), (N, T, E) with ``batch_first``, or (T, E).

    PyTorch:
        ``torch.nn.Transformer``; same parameters, initialisation, state_dict keys and semantics.

    Example:
        >>> model = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16)
        >>> model(ember.randn(5, 3, 8), ember.randn(4, 3, 8)).shape
        ember.Size([4, 3, 8])
        >>> nn.Transformer.generate_square_subsequent_mask(3)
        tensor([[0., -inf, -inf],
                [0., 0., -inf],
                [0., 0., 0.]])
    """

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6, dim_feedforward=2048,
                 dropout=0.1, activation=_A.relu, custom_encoder=None, custom_decoder=None, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        fk = {"device": device, "dtype": dtype}
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                                            batch_first, norm_first, bias, **fk)
            self.encoder = TransformerEncoder(layer, num_encoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                                            batch_first, norm_first, bias, **fk)
            self.decoder = TransformerDecoder(layer, num_decoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk))
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        """Encodes src, then decodes tgt attending to the encoding; returns (T, N, E) (or batch_first/unbatched)."""
        is_batched = src.dim() == 3
        bdim = 0 if self.batch_first else 1
        if is_batched and src.shape[bdim] != tgt.shape[bdim]:
            raise RuntimeError(f"the batch number of src and tgt must be equal (src {tuple(src.shape)}, tgt "
                               f"{tuple(tgt.shape)})")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError(f"the feature number of src and tgt must be equal to d_model ({self.d_model}), got src "
                               f"{tuple(src.shape)} and tgt {tuple(tgt.shape)}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """An (sz, sz) float mask with -inf above the diagonal and 0 elsewhere (for causal attention)."""
        return _generate_square_subsequent_mask(sz, device=device, dtype=dtype)

    def _reset_parameters(self):
        for p in self.parameters():
            if p.dim() > 1:
                init.xavier_uniform_(p)
