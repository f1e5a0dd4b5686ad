"""A GPT language model in nanoGPT's layout (transformer.wte/wpe/drop/h.N/ln_f, lm_head tied to wte).

Parameter names match nanoGPT's ``model.py`` so its checkpoints load with ``load_state_dict``.
"""
import math

from .. import nn
from ..autograd import no_grad
from ..device import get_array_module
from ..nn import functional as F
from ..ops.creation import arange
from ..ops.random import multinomial
from ..ops.join import cat
from ..tensor import Tensor
from ._checkpoint import run_checkpointed, segments_for
from ._weights import takes_weights

__all__ = ["CausalSelfAttention", "MLP", "Block", "GPT", "gpt"]


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention: one c_attn projection to q, k, v and a c_proj output projection."""

    def __init__(self, n_embd, n_head, dropout=0.0, bias=True):
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"CausalSelfAttention: n_embd ({n_embd}) must be divisible by n_head ({n_head})")
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.attn_dropout = nn.Dropout(dropout)  # kept for nanoGPT's module layout; sdpa applies the dropout
        self.resid_dropout = nn.Dropout(dropout)
        self.n_head, self.n_embd, self.dropout = n_head, n_embd, dropout

    def forward(self, x):
        B, T, C = x.shape
        hs = C // self.n_head
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=True)
        y = y.transpose(1, 2).reshape(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    """c_fc (n_embd -> 4 n_embd), exact GELU, c_proj back, dropout."""

    def __init__(self, n_embd, dropout=0.0, bias=True):
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    def __init__(self, n_embd, n_head, dropout=0.0, bias=True):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd, bias=bias)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout, bias)
        self.ln_2 = nn.LayerNorm(n_embd, bias=bias)
        self.mlp = MLP(n_embd, dropout, bias)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """A decoder-only transformer language model in nanoGPT's layout.

    Token and position embeddings, n_layer pre-norm blocks of causal self-attention and MLP, a final LayerNorm and
    an ``lm_head`` whose weight is ``transformer.wte.weight`` (tied: one Parameter under two names). Weights start
    from N(0, 0.02), the residual projections from N(0, 0.02 / sqrt(2 n_layer)), as nanoGPT's.
    ``forward(idx, targets=None)`` returns (logits, loss); ``generate(idx, max_new_tokens)`` samples tokens.

    Args:
        vocab_size (int): the number of token ids.
        block_size (int): the longest sequence (the position embedding's size). Default: 64.
        n_layer (int): the number of transformer blocks. Default: 2.
        n_head (int): the attention heads; n_embd must be divisible by it. Default: 4.
        n_embd (int): the width of the embeddings and blocks. Default: 128.
        dropout (float): the dropout probability (embeddings, attention, residual branches). Default: 0.0.
        bias (bool): biases in the Linear and LayerNorm layers. Default: True.
        checkpoint (bool or int): recompute the blocks' activations in backward instead of keeping them
            (``ember.utils.checkpoint.checkpoint_sequential``, dropout replayed): True for round(sqrt(n_layer))
            segments (at least 2), an int for that many segments, False or 0 for none. Default: False.

    Shape:
        - Input: (B, T) token ids (int64), T <= block_size; targets, when given, (B, T) (-1 ignored).
        - Output: logits (B, T, vocab_size), and the loss (a scalar: mean cross-entropy) or None.

    PyTorch:
        No PyTorch counterpart: ember's own, with the module names of nanoGPT's ``model.py`` (its checkpoints load
        with ``load_state_dict``).

    Example:
        >>> model = ember.zoo.GPT(vocab_size=16, block_size=8, n_layer=1, n_head=2, n_embd=8)
        >>> logits, loss = model(ember.zeros(2, 5, dtype=ember.int64))
        >>> logits.shape, loss
        (ember.Size([2, 5, 16]), None)
    """

    def __init__(self, vocab_size, block_size=64, n_layer=2, n_head=4, n_embd=128, dropout=0.0, bias=True,
                 checkpoint=False):
        super().__init__()
        self.vocab_size, self.block_size, self.n_layer = vocab_size, block_size, n_layer
        self.checkpoint_segments = segments_for(checkpoint, n_layer)  # 0: every activation kept for backward
        self.n_head, self.n_embd, self.dropout, self.bias = n_head, n_embd, dropout, bias
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocab_size, n_embd),
            wpe=nn.Embedding(block_size, n_embd),
            drop=nn.Dropout(dropout),
            h=nn.ModuleList([Block(n_embd, n_head, dropout, bias) for _ in range(n_layer)]),
            ln_f=nn.LayerNorm(n_embd, bias=bias),
        ))
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying: one Parameter, two names
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):  # scaled init of the residual projections (GPT-2 paper)
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def get_num_params(self, non_embedding=True):
        """Number of parameters (the tied embedding counted once); without the position embedding by default."""
        n = sum(p.numel() for p in self.parameters())
        return n - self.transformer.wpe.weight.numel() if non_embedding else n

    def _hidden(self, idx):
        if idx.ndim != 2:
            raise ValueError(f"GPT: expected (batch, seq_len) token ids, got shape {tuple(idx.shape)}")
        t = idx.shape[1]
        if t > self.block_size:
            raise ValueError(f"GPT: cannot forward a sequence of length {t}, block size is only {self.block_size}")
        pos = arange(0, t, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        x = run_checkpointed(list(self.transformer.h), self.checkpoint_segments, x, self.training)
        return self.transformer.ln_f(x)

    def forward(self, idx, targets=None):
        """(logits (B, T, vocab_size), loss): loss is the mean cross-entropy against targets (B, T) (-1 ignored),
        or None without targets."""
        logits = self.lm_head(self._hidden(idx))
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-1)
        return logits, loss

    def configure_optimizers(self, weight_decay=0.1, learning_rate=6e-4, betas=(0.9, 0.95), device_type=None):
        """AdamW with weight decay on matrices (dim >= 2) only, as nanoGPT does."""
        from ..optim import AdamW
        params = list(self.parameters())
        decay = [p for p in params if p.dim() >= 2]
        no_decay = [p for p in params if p.dim() < 2]
        return AdamW([{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
                     lr=learning_rate, betas=betas)

    @no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
        """Append max_new_tokens sampled tokens to idx (B, T), feeding the last block_size tokens each step.
        temperature=0 picks the most likely token; top_k keeps only the k most likely tokens before sampling."""
        if temperature < 0:
            raise ValueError(f"generate: temperature must be >= 0, got {temperature}")
        for _ in range(max_new_tokens):
            idx_cond = idx if idx.shape[1] <= self.block_size else idx[:, -self.block_size:]
            logits = self.lm_head(self._hidden(idx_cond)[:, -1, :])
            if temperature == 0:
                idx_next = logits.argmax(dim=-1, keepdim=True)
            else:
                logits = logits / temperature
                if top_k is not None:
                    logits = _top_k_filter(logits, min(top_k, logits.shape[-1]))
                idx_next = multinomial(F.softmax(logits, dim=-1), num_samples=1)
            idx = cat((idx, idx_next), dim=1)
        return idx


def _top_k_filter(logits, k):
    """Set every logit below the row's k-th largest to -inf."""
    xp = get_array_module(logits._data)
    kth = Tensor._wrap(xp.sort(logits._data, axis=-1)[..., -k, None])
    return logits.masked_fill(logits < kth, float("-inf"))


@takes_weights
def gpt(vocab_size, block_size=64, n_layer=2, n_head=4, n_embd=128, dropout=0.0, bias=True, checkpoint=False):
    """Build a nanoGPT-style GPT (defaults: 2 layers, 4 heads, 128 wide, context 64).

    Args:
        vocab_size (int): the number of token ids.
        block_size (int): the longest sequence (the position embedding's size). Default: 64.
        n_layer (int): the number of transformer blocks. Default: 2.
        n_head (int): the attention heads; n_embd must be divisible by it. Default: 4.
        n_embd (int): the width of the embeddings and blocks. Default: 128.
        dropout (float): the dropout probability (embeddings, attention, residual branches). Default: 0.0.
        bias (bool): biases in the Linear and LayerNorm layers. Default: True.
        checkpoint (bool or int): recompute the blocks' activations in backward instead of keeping them
            (``ember.utils.checkpoint.checkpoint_sequential``, dropout replayed): True for round(sqrt(n_layer))
            segments (at least 2), an int for that many segments, False or 0 for none. Default: False.

    Returns:
        GPT: the model.

    PyTorch:
        No PyTorch counterpart: ember's own (nanoGPT's layout).

    Example:
        >>> model = ember.zoo.gpt(vocab_size=16, block_size=8, n_layer=1, n_head=2, n_embd=8)
        >>> model.generate(ember.zeros(1, 1, dtype=ember.int64), max_new_tokens=4).shape
        ember.Size([1, 5])
    """
    return GPT(vocab_size, block_size, n_layer, n_head, n_embd, dropout, bias, checkpoint)
