"""Data loading: datasets, samplers and the DataLoader (PyTorch's torch.utils.data)."""
from .dataset import *  # noqa: F401,F403
from .sampler import *  # noqa: F401,F403
from .dataloader import *  # noqa: F401,F403
from .distributed import *  # noqa: F401,F403
from . import datasets, transforms  # noqa: F401
