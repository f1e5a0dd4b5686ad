"""torch.nn.modules.sparse: ember's classes under PyTorch's module path."""
from ..sparse import Embedding  # noqa: F401
