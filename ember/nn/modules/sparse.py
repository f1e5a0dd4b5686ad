"""torch.nn.modules.sparse: ember's classes under PyTorch's module path."""
from ..sparse import Embedding, EmbeddingBag

__all__ = ["Embedding", "EmbeddingBag"]
