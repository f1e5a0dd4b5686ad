"""torch.utils.data.distributed's path for ember.data.distributed (the same objects)."""
from ...data.distributed import *  # noqa: F401,F403
from ...data.distributed import __all__  # noqa: F401
