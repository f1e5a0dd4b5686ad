"""torch.nn.modules.upsampling: ember's classes under PyTorch's module path."""
from ..pooling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d  # noqa: F401
