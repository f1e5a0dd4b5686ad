"""A Vision Transformer in torchvision's layout (conv_proj, class_token, encoder.pos_embedding,
encoder.layers.encoder_layer_N.{ln_1, self_attention, ln_2, mlp.0/3}, encoder.ln, heads.head)."""
import math
from collections import OrderedDict

from .. import nn
from ..ops.creation import zeros
from ..ops.join import cat
from ._weights import takes_weights

__all__ = ["MLPBlock", "EncoderBlock", "Encoder", "VisionTransformer", "vit"]


def _layer_norm(dim):
    return nn.LayerNorm(dim, eps=1e-6)


class MLPBlock(nn.Sequential):
    """Linear -> GELU -> Dropout -> Linear -> Dropout (xavier_uniform_ weights, N(0, 1e-6) biases)."""

    def __init__(self, in_dim, mlp_dim, dropout):
        super().__init__(nn.Linear(in_dim, mlp_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(mlp_dim, in_dim),
                         nn.Dropout(dropout))
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.normal_(m.bias, std=1e-6)


class EncoderBlock(nn.Module):
    """Pre-norm block: x + dropout(attention(ln_1(x))), then x + mlp(ln_2(x))."""

    def __init__(self, num_heads, hidden_dim, mlp_dim, dropout=0.0, attention_dropout=0.0):
        super().__init__()
        self.num_heads = num_heads
        self.ln_1 = _layer_norm(hidden_dim)
        self.self_attention = nn.MultiheadAttention(hidden_dim, num_heads, dropout=attention_dropout, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = _layer_norm(hidden_dim)
        self.mlp = MLPBlock(hidden_dim, mlp_dim, dropout)

    def forward(self, input):
        x = self.ln_1(input)
        x, _ = self.self_attention(x, x, x, need_weights=False)
        x = self.dropout(x) + input
        return x + self.mlp(self.ln_2(x))


class Encoder(nn.Module):
    """Learned position embedding, dropout, `num_layers` EncoderBlocks, final LayerNorm."""

    def __init__(self, seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout=0.0, attention_dropout=0.0):
        super().__init__()
        self.pos_embedding = nn.Parameter(zeros(1, seq_length, hidden_dim))
        nn.init.normal_(self.pos_embedding, std=0.02)
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.Sequential(OrderedDict(
            (f"encoder_layer_{i}", EncoderBlock(num_heads, hidden_dim, mlp_dim, dropout, attention_dropout))
            for i in range(num_layers)))
        self.ln = _layer_norm(hidden_dim)

    def forward(self, input):
        if input.ndim != 3:
            raise ValueError(f"Encoder: expected (batch, seq_length, hidden_dim), got shape {tuple(input.shape)}")
        return self.ln(self.layers(self.dropout(input + self.pos_embedding)))


class VisionTransformer(nn.Module):
    """A Vision Transformer (Dosovitskiy et al. 2020) in torchvision's layout.

    The image is cut into patches by a strided convolution (``conv_proj``), a class token is prepended, a
    transformer ``encoder`` (learned position embedding, pre-norm blocks) runs over the sequence, and ``heads``
    classify the class token's output (the head starts at zero, as torchvision's).

    Args:
        image_size (int): the side of the square input images; a multiple of patch_size.
        patch_size (int): the side of the square patches.
        num_layers (int): the number of encoder blocks.
        num_heads (int): the attention heads of each block.
        hidden_dim (int): the width of the tokens; divisible by num_heads.
        mlp_dim (int): the hidden width of each block's MLP.
        dropout (float): the dropout of the embeddings and MLPs. Default: 0.0.
        attention_dropout (float): the dropout of the attention weights. Default: 0.0.
        num_classes (int): the number of classes. Default: 1000.
        representation_size (int, optional): a Linear-tanh layer of that width before the head. Default: None.
        in_channels (int): the input's channels. Default: 3.

    Shape:
        - Input: (N, in_channels, image_size, image_size); other sizes raise ValueError.
        - Output: (N, num_classes).

    PyTorch:
        ``torchvision.models.VisionTransformer``; same modules, state_dict keys and initialization, plus
        ``in_channels``; no ``norm_layer`` or ``conv_stem_configs`` argument.

    Example:
        >>> model = ember.zoo.VisionTransformer(image_size=16, patch_size=4, num_layers=1, num_heads=2,
        ...                                     hidden_dim=8, mlp_dim=16, num_classes=10)
        >>> model(ember.randn(2, 3, 16, 16)).shape
        ember.Size([2, 10])
    """

    def __init__(self, image_size, patch_size, num_layers, num_heads, hidden_dim, mlp_dim, dropout=0.0,
                 attention_dropout=0.0, num_classes=1000, representation_size=None, in_channels=3):
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"VisionTransformer: image_size ({image_size}) must be divisible by patch_size "
                             f"({patch_size})")
        self.image_size, self.patch_size, self.hidden_dim = image_size, patch_size, hidden_dim
        self.mlp_dim, self.num_classes, self.representation_size = mlp_dim, num_classes, representation_size
        self.conv_proj = nn.Conv2d(in_channels, hidden_dim, kernel_size=patch_size, stride=patch_size)
        seq_length = (image_size // patch_size) ** 2 + 1
        self.class_token = nn.Parameter(zeros(1, 1, hidden_dim))
        self.encoder = Encoder(seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout, attention_dropout)
        self.seq_length = seq_length
        heads = OrderedDict()
        if representation_size is None:
            heads["head"] = nn.Linear(hidden_dim, num_classes)
        else:
            heads["pre_logits"] = nn.Linear(hidden_dim, representation_size)
            heads["act"] = nn.Tanh()
            heads["head"] = nn.Linear(representation_size, num_classes)
        self.heads = nn.Sequential(heads)
        self._init_weights(in_channels)

    def _init_weights(self, in_channels):
        fan_in = in_channels * self.patch_size ** 2
        nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1 / fan_in))
        nn.init.zeros_(self.conv_proj.bias)
        if hasattr(self.heads, "pre_logits"):
            nn.init.trunc_normal_(self.heads.pre_logits.weight, std=math.sqrt(1 / self.heads.pre_logits.in_features))
            nn.init.zeros_(self.heads.pre_logits.bias)
        nn.init.zeros_(self.heads.head.weight)
        nn.init.zeros_(self.heads.head.bias)

    def _process_input(self, x):
        if x.ndim != 4:
            raise ValueError(f"VisionTransformer: expected (N, C, H, W) images, got shape {tuple(x.shape)}")
        n, _, h, w = x.shape
        if h != self.image_size or w != self.image_size:
            raise ValueError(f"VisionTransformer: expected {self.image_size}x{self.image_size} images, got {h}x{w}")
        x = self.conv_proj(x)  # (n, hidden_dim, h/p, w/p)
        return x.reshape(n, self.hidden_dim, -1).permute(0, 2, 1)

    def forward(self, x):
        x = self._process_input(x)
        cls = self.class_token.expand(x.shape[0], -1, -1)
        x = self.encoder(cat([cls, x], dim=1))
        return self.heads(x[:, 0])


@takes_weights
def vit(image_size=32, patch_size=4, in_channels=3, num_classes=10, dim=64, depth=2, heads=4, mlp_dim=128,
        dropout=0.0, attention_dropout=0.0):
    """Build a small Vision Transformer for 32x32 images (torchvision's VisionTransformer layout).

    Args:
        image_size (int): the side of the square input images. Default: 32.
        patch_size (int): the side of the square patches. Default: 4.
        in_channels (int): the input's channels. Default: 3.
        num_classes (int): the number of classes. Default: 10.
        dim (int): the width of the tokens (``hidden_dim``). Default: 64.
        depth (int): the number of encoder blocks (``num_layers``). Default: 2.
        heads (int): the attention heads (``num_heads``). Default: 4.
        mlp_dim (int): the hidden width of each block's MLP. Default: 128.
        dropout (float): the dropout of the embeddings and MLPs. Default: 0.0.
        attention_dropout (float): the dropout of the attention weights. Default: 0.0.

    Returns:
        VisionTransformer: the model.

    PyTorch:
        No PyTorch counterpart: ember's own small configuration (torchvision's builders are the large vit_b_16,
        vit_l_16, ...), in the layout of ``torchvision.models.VisionTransformer``.

    Example:
        >>> model = ember.zoo.vit()
        >>> model(ember.randn(2, 3, 32, 32)).shape
        ember.Size([2, 10])
    """
    return VisionTransformer(image_size, patch_size, depth, heads, dim, mlp_dim, dropout, attention_dropout,
                             num_classes, in_channels=in_channels)
