"""torch.nn.modules.transformer: ember's classes under PyTorch's module path."""
from ..transformer import (  # noqa: F401
    Transformer, TransformerDecoder, TransformerDecoderLayer, TransformerEncoder, TransformerEncoderLayer,
)
