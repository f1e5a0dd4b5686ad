"""torch.nn.modules.pixelshuffle: ember's classes under PyTorch's module path."""
from ..pixelshuffle import PixelShuffle, PixelUnshuffle  # noqa: F401
