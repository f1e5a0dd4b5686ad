"""torch.nn.modules.normalization: ember's classes under PyTorch's module path."""
from ..normalization import GroupNorm, LayerNorm, RMSNorm  # noqa: F401
