"""torch.nn.modules.upsampling: ember's classes under PyTorch's module path."""
from ..pooling import Upsample  # noqa: F401
