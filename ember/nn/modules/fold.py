"""torch.nn.modules.fold: ember's classes under PyTorch's module path."""
from ..fold import Fold, Unfold  # noqa: F401
