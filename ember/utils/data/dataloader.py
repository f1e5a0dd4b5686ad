"""torch.utils.data.dataloader's path for ember.data.dataloader (the same objects)."""
from ...data.dataloader import *  # noqa: F401,F403
from ...data.dataloader import __all__  # noqa: F401
