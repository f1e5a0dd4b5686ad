"""torch.utils.tensorboard for ember: ``SummaryWriter`` (ember.train.loggers' writer, with PyTorch's API), which
writes event files TensorBoard reads; no tensorboard package is needed to write them."""
from ...train.loggers import SummaryWriter  # noqa: F401

__all__ = ["SummaryWriter"]
