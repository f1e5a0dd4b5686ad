"""torch.nn.modules.instancenorm: ember's classes under PyTorch's module path."""
from ..normalization import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d  # noqa: F401
from ..lazy import LazyInstanceNorm1d, LazyInstanceNorm2d, LazyInstanceNorm3d  # noqa: F401
