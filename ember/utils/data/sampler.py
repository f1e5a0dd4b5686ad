"""torch.utils.data.sampler's path for ember.data.sampler (the same objects)."""
from ...data.sampler import *  # noqa: F401,F403
from ...data.sampler import __all__  # noqa: F401
