"""torch.nn.modules.adaptive: ember's class under PyTorch's module path."""
from ..adaptive import AdaptiveLogSoftmaxWithLoss  # noqa: F401
