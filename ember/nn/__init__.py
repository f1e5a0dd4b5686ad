"""Neural-network layers, following torch.nn: Module, Parameter, containers, layers, init, utils."""
from .parameter import Buffer, Parameter  # noqa: F401
from .module import Module  # noqa: F401
from .containers import Flatten, ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential, Unflatten  # noqa
from .linear import Bilinear, Identity, Linear  # noqa: F401
from .activation import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .sparse import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .pixelshuffle import *  # noqa: F401,F403
from .padding import *  # noqa: F401,F403
from .distance import *  # noqa: F401,F403
from .fold import *  # noqa: F401,F403
from .adaptive import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .attention import MultiheadAttention  # noqa: F401,E402
from .transformer import *  # noqa: F401,F403,E402
from .lazy import *  # noqa: F401,F403,E402
from . import init, utils, functional, modules  # noqa: F401,E402
from .parallel import DataParallel  # noqa: F401,E402  (binds nn.parallel too: DistributedDataParallel)
