"""torch.utils's paths for ember: ``utils.data`` (ember.data under PyTorch's module path, ``from
ember.utils.data import DataLoader``) and ``utils.tensorboard`` (``SummaryWriter``)."""
from . import data, tensorboard  # noqa: F401
