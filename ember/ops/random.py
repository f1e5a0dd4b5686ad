"""Random numbers: Generator, manual_seed, rand/randn/randint/normal, and the in-place uniform_/normal_."""
from __future__ import annotations

import json
from typing import overload

import numpy as np

from .. import _tracing, dtypes as _dt
from ..autograd.inplace import inplace
from ..device import CPU, move, to_device
from ..dtypes import dtype as _dtype
from ..tensor import Tensor
from ..types import Device, _size
from ._util import as_shape
from .registry import export


@export(ember=True)
class Generator:
    """A source of random numbers (NumPy's PCG64), seeded with manual_seed like torch.Generator."""

    def __init__(self, device: Device = "cpu") -> None:
        self.device = to_device(device)
        self._seed = 67280421310721
        self.rng = np.random.default_rng(self._seed)

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed)
        self.rng = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        s = int(np.random.SeedSequence().entropy % (2 ** 63))  # type: ignore[operator]  # a fresh one's is an int
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> Tensor:
        """The generator state as a uint8 tensor (JSON-serialisable bytes of the bit generator state)."""
        state = json.dumps(self.rng.bit_generator.state).encode()
        return Tensor._wrap(np.frombuffer(state, dtype=np.uint8).copy())

    def set_state(self, state: Tensor) -> None:
        arr = state.numpy() if isinstance(state, Tensor) else np.asarray(state, dtype=np.uint8)
        self.rng.bit_generator.state = json.loads(bytes(arr.tobytes()).decode())


default_generator = export(ember="default_generator")(Generator())


@export(ember=True)
def manual_seed(seed: int) -> Generator:
    """Seed the default generator (and return it).

    >>> _ = ember.manual_seed(42); a = ember.rand(2)
    >>> _ = ember.manual_seed(42); b = ember.rand(2)
    >>> bool((a == b).all())
    True
    """
    return default_generator.manual_seed(seed)


@export(ember=True)
def seed() -> int:
    """Seed the default generator from the operating system's entropy; returns the seed."""
    return default_generator.seed()


@export(ember=True)
def initial_seed() -> int:
    """The seed the default generator was last seeded with."""
    return default_generator.initial_seed()


@export(ember=True)
def get_rng_state() -> Tensor:
    """The default generator's state, as a uint8 tensor for set_rng_state."""
    return default_generator.get_state()


@export(ember=True)
def set_rng_state(state: Tensor) -> None:
    """Restore the default generator's state from get_rng_state()."""
    default_generator.set_state(state)


def _rng(generator, device=None):
    if device is not None:  # a device that cannot be used fails before the generator's state moves on
        to_device(device).xp
    if _tracing.active[0]:
        _tracing.untraceable("a random factory (its draws are not ops of the graph)")
    return (generator or default_generator).rng


def _finish(arr, dtype, device, requires_grad):
    dtype = _dt.to_dtype(dtype) or _dt.get_default_dtype()
    arr = arr.astype(dtype.np, copy=False)
    dev = to_device(device)
    if dev is not None and dev != CPU:
        arr = move(arr, dev)
    t = Tensor._wrap(arr)
    return t.requires_grad_(True) if requires_grad else t


def _float_dtype(dtype, op):
    dtype = _dt.to_dtype(dtype) or _dt.get_default_dtype()
    if not dtype.is_floating_point:
        raise RuntimeError(f"{op}: expected a floating-point dtype, got {dtype}")
    return dtype


@export(ember=True)
def rand(*size: int | _size, generator: Generator | None = None, dtype: _dtype | None = None, device: Device = None,
         requires_grad: bool = False) -> Tensor:
    """Uniform samples from [0, 1)."""
    dtype = _float_dtype(dtype, "rand")
    return _finish(_rng(generator, device).random(as_shape(size, "rand")), dtype, device, requires_grad)


@export(ember=True)
def randn(*size: int | _size, generator: Generator | None = None, dtype: _dtype | None = None,
          device: Device = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples.

    >>> ember.randn(2, 3).shape
    ember.Size([2, 3])
    """
    dtype = _float_dtype(dtype, "randn")
    return _finish(_rng(generator, device).standard_normal(as_shape(size, "randn")), dtype, device, requires_grad)


@overload
def randint(high: int, size: _size, /, *, generator: Generator | None = None, dtype: _dtype | None = None,
            device: Device = None, requires_grad: bool = False) -> Tensor: ...
@overload
def randint(high: int, /, *, size: _size, generator: Generator | None = None, dtype: _dtype | None = None,
            device: Device = None, requires_grad: bool = False) -> Tensor: ...
@overload
def randint(low: int, high: int, size: _size, generator: Generator | None = None, dtype: _dtype | None = None,
            device: Device = None, requires_grad: bool = False) -> Tensor: ...


@export(ember=True)
def randint(low: int, high: int | _size | None = None, size: _size | None = None, generator: Generator | None = None,
            dtype: _dtype | None = None, device: Device = None, requires_grad: bool = False) -> Tensor:
    """Integers uniform in [low, high) (int64 by default): ``randint(low, high, size)`` or ``randint(high, size)``."""
    if isinstance(high, (tuple, list)):  # randint(high, size)
        if size is not None:
            raise TypeError(f"randint(): argument 'high' must be an int, not {type(high).__name__}")
        size = high
        low, high = 0, low
    elif high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    if low >= high:
        raise RuntimeError(f"randint: expected low < high, got low={low}, high={high}")
    arr = _rng(generator, device).integers(low, high, size=as_shape((size,), "randint"))
    return _finish(arr, dtype or _dt.int64, device, requires_grad)


@export(ember=True)
def normal(mean: float | Tensor = 0.0, std: float | Tensor = 1.0, size: _size | None = None,
           generator: Generator | None = None, dtype: _dtype | None = None, device: Device = None,
           requires_grad: bool = False) -> Tensor:
    """Normal samples: normal(mean, std, size) with numbers, or elementwise with tensor mean/std."""
    m = mean._data if isinstance(mean, Tensor) else mean
    s = std._data if isinstance(std, Tensor) else std
    if size is None:
        size = np.broadcast_shapes(np.shape(m), np.shape(s))
    if dtype is None:
        for x in (mean, std):
            if isinstance(x, Tensor):
                dtype = x.dtype
    arr = _rng(generator, device).normal(np.asarray(m, dtype=np.float64), np.asarray(s, dtype=np.float64),
                                 size=as_shape((size,), "normal"))
    return _finish(arr, dtype, device, requires_grad)


@export(ember=True)
def rand_like(input: Tensor, dtype: _dtype | None = None, device: Device = None,
              requires_grad: bool = False) -> Tensor:
    """Uniform samples from [0, 1) with the shape (and by default the dtype and device) of input."""
    return rand(input.shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)


@export(ember=True)
def randn_like(input: Tensor, dtype: _dtype | None = None, device: Device = None,
               requires_grad: bool = False) -> Tensor:
    """Standard normal samples with the shape (and by default the dtype and device) of input."""
    return randn(input.shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)


@export(ember=True)
def randint_like(input: Tensor, low: int, high: int | None = None, dtype: _dtype | None = None,
                 device: Device = None) -> Tensor:
    """Integers uniform in [low, high) with the shape (and by default the dtype and device) of input."""
    if high is None:
        low, high = 0, low
    return randint(low, high, input.shape, dtype=dtype or input.dtype, device=device or input.device)


@export(ember=True)
def randperm(n: int, generator: Generator | None = None, dtype: _dtype | None = None,
             device: Device = None) -> Tensor:
    """A random permutation of 0..n-1 (int64)."""
    return _finish(_rng(generator, device).permutation(n), dtype or _dt.int64, device, False)


@export(ember=True)
def bernoulli(input: Tensor, p: float | None = None, generator: Generator | None = None) -> Tensor:
    """1 with probability input (or p), else 0, in input's dtype."""
    prob = input._data if p is None else p
    arr = (_rng(generator).random(input.shape) < _host(prob)).astype(input._data.dtype)
    return _finish(arr, input.dtype, input.device, False)


def _host(x):
    return move(x, CPU) if hasattr(x, "shape") else x


@export(ember=True)
def multinomial(input: Tensor, num_samples: int, replacement: bool = False,
                generator: Generator | None = None) -> Tensor:
    """Sample category indices from the rows of input (non-negative weights)."""
    probs = np.asarray(_host(input._data), dtype=np.float64)
    rows = probs.reshape(-1, probs.shape[-1])
    if (rows < 0).any() or not np.isfinite(rows).all():
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or element < 0")
    if not replacement and num_samples > rows.shape[1]:
        raise RuntimeError(f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples without replacement "
                           f"({num_samples} > {rows.shape[1]})")
    rng = _rng(generator)
    out = np.stack([rng.choice(rows.shape[1], size=num_samples, replace=replacement, p=r / r.sum()) for r in rows])
    return _finish(out.reshape(probs.shape[:-1] + (num_samples,)), _dt.int64, input.device, False)


@export(ember=False, methods=("uniform_",))
def _uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Fill with uniform samples from [a, b) in place."""
    vals = _rng(generator).random(size=self._data.shape, dtype=_sample_dtype(self))
    vals *= b - a
    vals += a
    return inplace(self, "uniform_", lambda s: Tensor._wrap(_move_like(vals.astype(self._data.dtype, copy=False), self)))


@export(ember=False, methods=("normal_",))
def _normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Fill with normal samples in place."""
    vals = _rng(generator).standard_normal(size=self._data.shape, dtype=_sample_dtype(self))
    vals *= std
    vals += mean
    return inplace(self, "normal_", lambda s: Tensor._wrap(_move_like(vals.astype(self._data.dtype, copy=False), self)))


def _sample_dtype(t):
    """Draw float32 samples for float32 (and narrower) tensors, so initialising big layers stays cheap."""
    return np.float64 if t._data.dtype == np.float64 else np.float32


def _move_like(arr, t):
    return move(arr, t.device)

