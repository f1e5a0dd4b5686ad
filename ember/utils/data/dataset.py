"""torch.utils.data.dataset's path for ember.data.dataset (the same objects)."""
from ...data.dataset import *  # noqa: F401,F403
from ...data.dataset import __all__  # noqa: F401
