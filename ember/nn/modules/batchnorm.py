"""torch.nn.modules.batchnorm: ember's classes under PyTorch's module path."""
from ..normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d  # noqa: F401
from ..lazy import LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d  # noqa: F401
