"""torch.nn.modules.flatten: ember's classes under PyTorch's module path."""
from ..containers import Flatten, Unflatten  # noqa: F401
