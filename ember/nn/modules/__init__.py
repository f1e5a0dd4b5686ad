"""torch.nn.modules for ember: PyTorch's submodule paths (``torch.nn.modules.linear.Linear``, as programs name
classes in safe_globals lists and isinstance checks) holding ember.nn's very classes."""
from . import activation, batchnorm, container, conv, dropout, flatten, instancenorm, linear  # noqa: F401
from . import loss, module, normalization, pixelshuffle, pooling, rnn, sparse, transformer, upsampling  # noqa: F401
from . import adaptive, channelshuffle, distance, fold, padding  # noqa: F401
from .module import Module  # noqa: F401
