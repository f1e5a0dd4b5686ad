"""ember.nn.functional: the functional forms of every layer (PyTorch's torch.nn.functional).

Each name is defined once in ember/ops; this module only gathers them."""
from ..ops import unary as _unary
from ..ops.activation import *  # noqa: F401,F403
from ..ops.dropout import *  # noqa: F401,F403
from ..ops.embedding import *  # noqa: F401,F403
from ..ops.distance import *  # noqa: F401,F403
from ..ops.loss import *  # noqa: F401,F403
from ..ops.ctc import *  # noqa: F401,F403
from ..ops.linear import *  # noqa: F401,F403
from ..ops.attention import *  # noqa: F401,F403
from ..ops.conv import *  # noqa: F401,F403
from ..ops.norm import *  # noqa: F401,F403
from ..ops.pooling import *  # noqa: F401,F403
from ..ops.pooling import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d  # noqa: F401
from ..ops.resample import interpolate  # noqa: F401
from ..ops.padding import pad  # noqa: F401


def relu(input, inplace=False):
    """max(x, 0)."""
    return input.relu_() if inplace else _unary.relu(input)


def sigmoid(input):
    """1 / (1 + exp(-x))."""
    return _unary.sigmoid(input)


def tanh(input):
    """Hyperbolic tangent."""
    return _unary.tanh(input)
