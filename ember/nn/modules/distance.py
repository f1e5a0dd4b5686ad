"""torch.nn.modules.distance: ember's classes under PyTorch's module path."""
from ..distance import CosineSimilarity, PairwiseDistance  # noqa: F401
