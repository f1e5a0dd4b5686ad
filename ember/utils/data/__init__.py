"""torch.utils.data for ember: the very objects of ember.data (``ember.utils.data.DataLoader is
ember.data.DataLoader``): datasets, samplers, the DataLoader, default_collate, get_worker_info; and its submodules
``dataloader``, ``dataset``, ``sampler`` and ``distributed``."""
from . import dataloader, dataset, distributed, sampler  # noqa: F401
from .dataloader import *  # noqa: F401,F403
from .dataset import *  # noqa: F401,F403
from .sampler import *  # noqa: F401,F403
from .distributed import *  # noqa: F401,F403

__all__ = [*dataset.__all__, *sampler.__all__, *dataloader.__all__, *distributed.__all__]
