"""torch.utils's paths for ember: ``utils.data`` (ember.data under PyTorch's module path, ``from
ember.utils.data import DataLoader``), ``utils.tensorboard`` (``SummaryWriter``) and ``utils.checkpoint``
(activation checkpointing)."""
from . import checkpoint, data, tensorboard  # noqa: F401
