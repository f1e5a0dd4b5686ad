"""torch.nn.modules.normalization: ember's classes under PyTorch's module path."""
from ..normalization import GroupNorm, LayerNorm, LocalResponseNorm, RMSNorm  # noqa: F401
