"""torch.nn.modules.conv: ember's classes under PyTorch's module path."""
from ..conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d  # noqa: F401
