"""Optimizers and learning-rate schedulers (PyTorch's torch.optim)."""
from .optimizer import Optimizer  # noqa: F401
from .sgd import SGD  # noqa: F401
from .adam import Adam, AdamW, SparseAdam, Adamax, NAdam, RAdam  # noqa: F401
from .others import RMSprop, Adagrad, Adadelta, Rprop, ASGD, Lion  # noqa: F401
from .lbfgs import LBFGS  # noqa: F401
from . import lr_scheduler, swa_utils  # noqa: F401
