"""torch.nn.modules.channelshuffle: ember's class under PyTorch's module path."""
from ..pixelshuffle import ChannelShuffle  # noqa: F401
