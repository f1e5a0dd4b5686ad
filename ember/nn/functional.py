"""ember.nn.functional: the functional forms of every layer (PyTorch's torch.nn.functional).

Each name is defined once in ember/ops; this module only gathers them."""
from ..ops import elementwise as _E
from ..ops.activation import *  # noqa: F401,F403
from ..ops.loss import *  # noqa: F401,F403
from ..ops.ctc import *  # noqa: F401,F403
from ..ops.nnops import *  # noqa: F401,F403
from ..ops.attention import *  # noqa: F401,F403
from ..ops.conv import *  # noqa: F401,F403
from ..ops.norm import *  # noqa: F401,F403
from ..ops.conv import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, interpolate, pad  # noqa: F401


def relu(input, inplace=False):
    """max(x, 0)."""
    return input.relu_() if inplace else _E.relu(input)


def sigmoid(input):
    """1 / (1 + exp(-x))."""
    return _E.sigmoid(input)


def tanh(input):
    """Hyperbolic tangent."""
    return _E.tanh(input)
