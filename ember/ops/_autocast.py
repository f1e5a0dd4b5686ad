"""Autocast's state, per thread, and the cast that the matmul-like ops run at their entry (PyTorch's autocast).

``ember.autocast(device_type, dtype)`` (ember/amp) sets this state; the ops PyTorch runs in lower precision under
CPU autocast (linear, matmul, mm, bmm, addmm, baddbmm, einsum, prelu, scaled_dot_product_attention) call ``cast``
first::

    if _autocast.active:
        input, weight, bias = _autocast.cast(input, weight, bias)

ember's convolutions have no bfloat16 kernel, so conv1d/2d and conv_transpose1d/2d call ``in_float32`` instead,
which computes what PyTorch's CPU kernels compute in low precision: inputs rounded to the autocast dtype, products
accumulated in float32, the output rounded to the autocast dtype::

    if _autocast.active and _autocast.on(input):
        return _autocast.in_float32(_conv, op, nd, input, weight, bias, ...)

``cast`` converts each floating-point tensor (float64 excepted, as in PyTorch) on a device whose autocast is on to
that device's autocast dtype, with a differentiable ``Tensor.to``: gradients reach float32 weights in float32.
Casts of leaf tensors that require grad (the weights) are cached until the outermost autocast region exits, so an
RNN's weights are cast once per forward, not once per time step.

The ops that PyTorch runs in float32 under CPU autocast (its "fp32 list": the losses, prod, cdist, replicate and
1-2-D reflect padding) call ``to_float32`` first, which casts their bfloat16/float16 tensors up::

    if _autocast.active:
        input, target, weight = _autocast.to_float32(input, target, weight)

``active`` counts the threads inside an enabled region: while it is 0 (autocast unused) the ops pay one global read.
"""
import threading

from .. import dtypes as _dt
from ..autograd import is_grad_enabled
from ..tensor import Tensor

DEVICE_TYPES = ("cpu", "cuda")
active = 0
_count_lock = threading.Lock()


class _State(threading.local):
    def __init__(self):
        self.enabled = {"cpu": False, "cuda": False}
        self.dtype = {"cpu": _dt.bfloat16, "cuda": _dt.float16}  # bfloat16 is None without ml_dtypes
        self.cache_enabled = True
        self.nesting = 0
        self.cache = {}


_state = _State()


def _check_device_type(device_type):
    if device_type not in DEVICE_TYPES:
        raise RuntimeError(f"autocast: unsupported device type {device_type!r}: ember runs on 'cpu' and 'cuda'")
    return device_type


def state_key():
    """This thread's autocast settings as a hashable value (what a compiled graph was traced under)."""
    return tuple(_state.enabled.items()), tuple((k, str(v)) for k, v in _state.dtype.items())


def is_enabled(device_type="cuda"):
    return _state.enabled[_check_device_type(device_type)]


def set_enabled(device_type, enabled):
    """Switch autocast on or off for a device type in this thread."""
    global active
    state = _state.enabled
    was = any(state.values())
    state[_check_device_type(device_type)] = bool(enabled)
    now = any(state.values())
    if was != now:
        with _count_lock:
            active += 1 if now else -1


def get_dtype(device_type):
    return _state.dtype[_check_device_type(device_type)]


def set_dtype(device_type, dtype):
    _state.dtype[_check_device_type(device_type)] = dtype


def is_cache_enabled():
    return _state.cache_enabled


def set_cache_enabled(enabled):
    _state.cache_enabled = bool(enabled)


def increment_nesting():
    _state.nesting += 1
    return _state.nesting


def decrement_nesting():
    _state.nesting -= 1
    return _state.nesting


def clear_cache():
    _state.cache.clear()


def _cast_one(t, enabled, dtypes, state):
    if t.__class__ is not Tensor and not isinstance(t, Tensor):
        return t
    device_type = t.device.type
    if not enabled[device_type]:
        return t
    d, to = t.dtype, dtypes[device_type]
    if d is to or d.category != _dt._FLOAT or d is _dt.float64:
        return t
    if to is None:
        raise RuntimeError("autocast: the autocast dtype bfloat16 needs the ml_dtypes package "
                           "(pip install ember[bf16])")
    if not (state.cache_enabled and t.requires_grad and t.grad_fn is None and d is _dt.float32):
        return t.to(to)
    key = (id(t), to, is_grad_enabled())
    hit = state.cache.get(key)
    if hit is None or hit[0] is not t:  # the cache holds the source too, so its id cannot be reused meanwhile
        hit = state.cache[key] = (t, t.to(to))
    return hit[1]


def cast(*tensors):
    """The arguments with every tensor eligible for autocast cast to its device's autocast dtype (others as they
    are, None included): the tuple of all of them, in order."""
    state = _state
    enabled, dtypes = state.enabled, state.dtype
    if not any(enabled.values()):  # another thread is in an autocast region, not this one
        return tensors
    return tuple(_cast_one(t, enabled, dtypes, state) for t in tensors)


def to_float32(*tensors):
    """PyTorch's float32 policy (its "fp32 list": the losses), which those ops run at their entry: the arguments
    with every floating-point tensor of lower precision on a device whose autocast is on cast to float32 (others as
    they are), so the op computes and returns float32."""
    enabled = _state.enabled
    if not any(enabled.values()):
        return tensors
    return tuple(t.to(_dt.float32) if isinstance(t, Tensor) and enabled.get(t.device.type, False)
                 and t.dtype.category == _dt._FLOAT and t.dtype.itemsize < 4 else t for t in tensors)


def on(t):
    """Whether this thread autocasts on t's device (False when t is not a Tensor)."""
    return isinstance(t, Tensor) and _state.enabled.get(t.device.type, False)


def in_float32(fn, *args):
    """fn(*args), an op without kernels in the autocast dtype, run as PyTorch's low-precision kernels compute: the
    eligible tensors rounded to the autocast dtype and run in float32 with autocast off, the output rounded to the
    autocast dtype (all differentiable). Without an eligible tensor (float64 inputs) fn just runs, autocast off."""
    device_type = next(a.device.type for a in args if isinstance(a, Tensor) and on(a))
    dtype = _state.dtype[device_type]
    rounded = [a.to(_dt.float32) if isinstance(a, Tensor) and a.dtype is dtype else a for a in cast(*args)]
    low = any(r is not a for r, a in zip(rounded, args))  # some input was (or is now) in the autocast dtype
    set_enabled(device_type, False)
    try:
        out = fn(*rounded)
    finally:
        set_enabled(device_type, True)
    return out.to(dtype) if low else out
