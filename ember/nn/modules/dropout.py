"""torch.nn.modules.dropout: ember's classes under PyTorch's module path."""
from ..dropout import AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d, FeatureAlphaDropout  # noqa: F401
