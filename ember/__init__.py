"""ember: a deep-learning framework you can read end to end (PyTorch's API on NumPy, with more to come)."""
__version__ = "0.1.0"

from . import dtypes  # noqa: F401
from .dtypes import (  # noqa: F401
    bfloat16, bool, double, dtype, finfo, float, float16, float32, float64, get_default_dtype, half, iinfo, int,
    int8, int16, int32, int64, long, promote_types, result_type, set_default_dtype, short, uint8, can_cast,
)
from .device import device, cuda_available  # noqa: F401
from . import autograd  # noqa: F401  (before tensor: the autograd graph is built on Tensor, and Tensor.backward runs it)
from .tensor import Tensor, Size, tensor, as_tensor, from_numpy, is_tensor  # noqa: F401
from .tensor import (  # noqa: F401  (PyTorch's legacy constructors)
    BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, HalfTensor, IntTensor, LongTensor, ShortTensor,
)
from .autograd import no_grad, enable_grad, set_grad_enabled, inference_mode, is_grad_enabled  # noqa: F401
from . import ops  # noqa: F401  (every op module: fills the registry and gives Tensor its methods)
from .ops.registry import namespace as _namespace

globals().update(_namespace("ember"))  # ember.add, ember.sum, ember.zeros, ...: every public function of the ops
import typing as _typing  # noqa: E402

if _typing.TYPE_CHECKING:  # what type checkers see of that namespace: the annotated factories, the rest as Any
    from .ops.creation import (  # noqa: F401
        arange, empty, empty_like, eye, full, full_like, linspace, logspace, ones, ones_like, zeros, zeros_like,
    )
    from .ops.random import (  # noqa: F401
        Generator, bernoulli, default_generator, get_rng_state, initial_seed, manual_seed, multinomial, normal, rand,
        rand_like, randint, randint_like, randn, randn_like, randperm, seed, set_rng_state,
    )

    def __getattr__(name: str) -> _typing.Any: ...

from ._sparse import layout, sparse_coo, strided  # noqa: E402,F401  (torch.layout and its values)
from . import sparse  # noqa: E402,F401  (torch.sparse: sparse.mm, sparse.sum)


def is_floating_point(t):
    """Return whether the tensor's dtype is a floating-point type (float16, bfloat16, float32, float64).

    Args:
        t (Tensor): the tensor.

    Returns:
        bool: True for a floating-point dtype.

    PyTorch:
        ``torch.is_floating_point`` and ``Tensor.is_floating_point``; same semantics, but the argument is named
        ``t`` (PyTorch's ``input``).

    Example:
        >>> ember.is_floating_point(ember.tensor([1.0])), ember.is_floating_point(ember.tensor([1]))
        (True, False)
    """
    return t.is_floating_point()


def numel(t):
    """Return the number of elements of the tensor.

    Args:
        t (Tensor): the tensor.

    Returns:
        int: the product of its sizes (1 for a 0-d tensor).

    PyTorch:
        ``torch.numel`` and ``Tensor.numel``; same semantics, but the argument is named ``t`` (PyTorch's
        ``input``).

    Example:
        >>> ember.numel(ember.zeros(2, 3))
        6
    """
    return t.numel()


from .io import save, load  # noqa: E402,F401
from . import nn, optim, data, train, zoo  # noqa: E402,F401
# PyTorch's module paths: torch.utils.data, torch.utils.tensorboard, torch.cuda, torch.backends, torch.amp, ...
from . import utils, amp, cuda, backends, accelerator  # noqa: E402,F401
from . import memory  # noqa: E402,F401  (tensor memory accounting)
from .autograd import is_anomaly_enabled, is_anomaly_check_nan_enabled  # noqa: E402,F401  (torch's names)
from . import func  # noqa: E402,F401  (torch.func: grad, vmap, jacrev, functional_call, ...)
from . import distributions  # noqa: E402,F401  (torch.distributions)
from . import linalg  # noqa: E402,F401  (torch.linalg)
from . import special  # noqa: E402,F401  (torch.special)
from .amp import (  # noqa: E402,F401  (torch.autocast and its state functions)
    autocast, clear_autocast_cache, get_autocast_dtype, is_autocast_cache_enabled, is_autocast_enabled,
    set_autocast_cache_enabled, set_autocast_dtype, set_autocast_enabled,
)
from .backends import (  # noqa: E402,F401  (torch's top-level settings; stored, see ember.backends)
    are_deterministic_algorithms_enabled, get_float32_matmul_precision, is_deterministic_algorithms_warn_only_enabled,
    set_float32_matmul_precision, use_deterministic_algorithms,
)
from . import distributed, multiprocessing, onnx, serialization  # noqa: E402,F401  (as torch's: programs name them at the top)
from .compiler import compile  # noqa: E402,F401  (torch.compile: trace, optimize and run graphs)
