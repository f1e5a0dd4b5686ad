"""torch.nn.modules.padding: ember's classes under PyTorch's module path."""
from ..padding import *  # noqa: F401,F403
