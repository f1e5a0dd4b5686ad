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
    """A source of random numbers, seeded with ``manual_seed``.

    The random functions take one as ``generator=``; without it they draw from ``ember.default_generator`` (the
    one ``ember.manual_seed`` seeds). Its methods are PyTorch's: ``manual_seed(seed)`` (returns the generator),
    ``seed()``, ``initial_seed()``, ``get_state()`` and ``set_state(state)``.

    Args:
        device (ember.device or str): the device the generator is for. Default: "cpu".

    PyTorch:
        ``torch.Generator``; same methods, but ``get_state`` returns another byte string (states are not
        interchangeable with PyTorch's).
        The same seed gives other numbers than in PyTorch (NumPy's PCG64 generator, not a Mersenne Twister).

    Example:
        >>> g = ember.Generator().manual_seed(0)
        >>> a = ember.rand(3, generator=g)
        >>> bool((a == ember.rand(3, generator=ember.Generator().manual_seed(0))).all())
        True
    """

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
    """Seed the default generator, so that the random numbers that follow repeat from run to run.

    Args:
        seed (int): the seed.

    Returns:
        Generator: the default generator (``ember.default_generator``).

    PyTorch:
        ``torch.manual_seed``; same semantics.
        The same seed gives other numbers than in PyTorch (NumPy's PCG64 generator, not a Mersenne Twister).

    Example:
        >>> _ = ember.manual_seed(42); a = ember.rand(2)
        >>> _ = ember.manual_seed(42); b = ember.rand(2)
        >>> bool((a == b).all())
        True
    """
    return default_generator.manual_seed(seed)


@export(ember=True)
def seed() -> int:
    """Seed the default generator from the operating system's entropy.

    Returns:
        int: the new seed (below 2**63), which ``initial_seed()`` then returns.

    PyTorch:
        ``torch.seed``; same semantics.
        The same seed gives other numbers than in PyTorch (NumPy's PCG64 generator, not a Mersenne Twister).

    Example:
        >>> s = ember.seed()
        >>> ember.initial_seed() == s
        True
    """
    return default_generator.seed()


@export(ember=True)
def initial_seed() -> int:
    """Return the seed the default generator was last seeded with.

    Returns:
        int: the seed given to the last ``manual_seed`` (or drawn by ``seed``).

    PyTorch:
        ``torch.initial_seed``; same semantics.

    Example:
        >>> _ = ember.manual_seed(7)
        >>> ember.initial_seed()
        7
    """
    return default_generator.initial_seed()


@export(ember=True)
def get_rng_state() -> Tensor:
    """Return the default generator's state, to restore later with ``set_rng_state``.

    Returns:
        Tensor: a uint8 tensor (the JSON text of the NumPy bit generator's state).

    PyTorch:
        ``torch.get_rng_state``; same use, but the bytes are ember's own (not PyTorch's 5056-byte Mersenne
        Twister state): a state saved by one cannot be set in the other.

    Example:
        >>> state = ember.get_rng_state()
        >>> a = ember.rand(2)
        >>> ember.set_rng_state(state)
        >>> bool((ember.rand(2) == a).all())
        True
    """
    return default_generator.get_state()


@export(ember=True)
def set_rng_state(state: Tensor) -> None:
    """Restore the default generator's state from what ``get_rng_state`` returned.

    Args:
        state (Tensor): a uint8 tensor from ``get_rng_state`` (a uint8 array works too).

    PyTorch:
        ``torch.set_rng_state``; same use, but it accepts only ember's states (see ``get_rng_state``).

    Example:
        >>> state = ember.get_rng_state()
        >>> a = ember.randn(3)
        >>> ember.set_rng_state(state)
        >>> bool((ember.randn(3) == a).all())
        True
    """
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
    """Return samples drawn uniformly from [0, 1).

    Args:
        *size (int or tuple of ints): the shape, as separate ints or one tuple/list/Size.
        generator (Generator, optional): the generator to draw from; the default one when None. Default: None.
        dtype (ember.dtype, optional): a floating-point element type; the default float dtype when None. Default: None.
        device (ember.device or str, optional): where the tensor lives; the CPU when None. Default: None.
        requires_grad (bool): whether autograd records operations on the result. Default: False.

    Returns:
        Tensor: a new tensor of that shape.

    PyTorch:
        ``torch.rand``; same semantics (no ``out``, ``layout`` or ``pin_memory``).
        The same seed gives other numbers than in PyTorch (NumPy's PCG64 generator, not a Mersenne Twister).

    Example:
        >>> x = ember.rand(2, 3)
        >>> x.shape, bool(((x >= 0) & (x < 1)).all())
        (ember.Size([2, 3]), True)
    """
    dtype = _float_dtype(dtype, "rand")
    return _finish(_rng(generator, device).random(as_shape(size, "rand")), dtype, device, requires_grad)


@export(ember=True)
def randn(*size: int | _size, generator: Generator | None = None, dtype: _dtype | None = None,
          device: Device = None, requires_grad: bool = False) -> Tensor:
    """Return samples drawn from the standard normal distribution (mean 0, variance 1).

    Args:
        *size (int or tuple of ints): the shape, as separate ints or one tuple/list/Size.
        generator (Generator, optional): the generator to draw from; the default one when None. Default: None.
        dtype (ember.dtype, optional): a floating-point element type; the default float dtype when None. Default: None.
        device (ember.device or str, optional): where the tensor lives; the CPU when None. Default: None.
        requires_grad (bool): whether autograd records operations on the result. Default: False.

    Returns:
        Tensor: a new tensor of that shape.

    PyTorch:
        ``torch.randn``; same semantics (no ``out``, ``layout`` or ``pin_memory``).
        The same seed gives other numbers than in PyTorch (NumPy's PCG64 generator, not a Mersenne Twister).

    Example:
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
    """Return integers drawn uniformly from [low, high): ``randint(low, high, size)`` or ``randint(high, size)``.

    Args:
        low (int): the lowest value (or ``high``, with low 0, when ``high`` is None or is the size).
        high (int or tuple of ints, optional): one above the highest value. Default: None.
        size (tuple of ints): the shape (required).
        generator (Generator, optional): the generator to draw from; the default one when None. Default: None.
        dtype (ember.dtype, optional): the element type; int64 when None. Default: None.
        device (ember.device or str, optional): where the tensor lives; the CPU when None. Default: None.
        requires_grad (bool): whether autograd records operations on the result. Default: False.

    Returns:
        Tensor: a new tensor of shape ``size``.

    PyTorch:
        ``torch.randint``; same semantics (no ``out``, ``layout`` or ``pin_memory``).
        The same seed gives other numbers than in PyTorch (NumPy's PCG64 generator, not a Mersenne Twister).

    Example:
        >>> x = ember.randint(0, 10, (2, 3))
        >>> x.dtype, bool(((x >= 0) & (x < 10)).all())
        (ember.int64, True)
    """
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
    """Return samples from normal distributions: ``normal(mean, std, size)`` with numbers, or elementwise
    with tensor ``mean``/``std``.

    With a tensor mean or std the shape is their broadcast shape (unless ``size`` is given) and the dtype theirs.

    Args:
        mean (float or Tensor): the mean(s). Default: 0.0.
        std (float or Tensor): the standard deviation(s). Default: 1.0.
        size (tuple of ints, optional): the shape; the broadcast shape of mean and std when None. Default: None.
        generator (Generator, optional): the generator to draw from; the default one when None. Default: None.
        dtype (ember.dtype, optional): the element type; a tensor argument's, else the default float dtype, when
            None. Default: None.
        device (ember.device or str, optional): where the tensor lives; the CPU when None. Default: None.
        requires_grad (bool): whether autograd records operations on the result. Default: False.

    Returns:
        Tensor: a new tensor of samples.

    PyTorch:
        ``torch.normal``; same semantics, but the result is not differentiable with respect to a
        tensor ``mean``/``std`` (PyTorch's is), and ``normal(2.0, 3.0)`` without a size gives a 0-d tensor (a
        TypeError in PyTorch).
        The same seed gives other numbers than in PyTorch (NumPy's PCG64 generator, not a Mersenne Twister).

    Example:
        >>> ember.normal(0.0, 1.0, (2, 3)).shape
        ember.Size([2, 3])
        >>> ember.normal(ember.zeros(4), ember.ones(4)).shape
        ember.Size([4])
    """
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
    """Return samples drawn uniformly from [0, 1) with the shape (and by default the dtype and device) of input.

    Args:
        input (Tensor): the tensor whose shape (and by default dtype and device) the result takes.
        dtype (ember.dtype, optional): the element type; input's when None. Default: None.
        device (ember.device or str, optional): where the result lives; input's device when None. Default: None.
        requires_grad (bool): whether autograd records operations on the result. Default: False.

    Returns:
        Tensor: a new tensor of input's shape.

    PyTorch:
        ``torch.rand_like``; same semantics.
        The same seed gives other numbers than in PyTorch (NumPy's PCG64 generator, not a Mersenne Twister).

    Example:
        >>> ember.rand_like(ember.zeros(2, 2)).shape
        ember.Size([2, 2])
    """
    return rand(input.shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)


@export(ember=True)
def randn_like(input: Tensor, dtype: _dtype | None = None, device: Device = None,
               requires_grad: bool = False) -> Tensor:
    """Return standard normal samples with the shape (and by default the dtype and device) of input.

    Args:
        input (Tensor): the tensor whose shape (and by default dtype and device) the result takes.
        dtype (ember.dtype, optional): the element type; input's when None. Default: None.
        device (ember.device or str, optional): where the result lives; input's device when None. Default: None.
        requires_grad (bool): whether autograd records operations on the result. Default: False.

    Returns:
        Tensor: a new tensor of input's shape.

    PyTorch:
        ``torch.randn_like``; same semantics.
        The same seed gives other numbers than in PyTorch (NumPy's PCG64 generator, not a Mersenne Twister).

    Example:
        >>> ember.randn_like(ember.zeros(3, dtype=ember.float64)).dtype
        ember.float64
    """
    return randn(input.shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)


@export(ember=True)
def randint_like(input: Tensor, low: int, high: int | None = None, dtype: _dtype | None = None,
                 device: Device = None) -> Tensor:
    """Return integers drawn uniformly from [low, high) with the shape (and by default the dtype and
    device) of input: ``randint_like(input, high)`` or ``randint_like(input, low, high)``.

    Args:
        input (Tensor): the tensor whose shape (and by default dtype and device) the result takes.
        low (int): the lowest value (or ``high``, with low 0, when ``high`` is None).
        high (int, optional): one above the highest value. Default: None.
        dtype (ember.dtype, optional): the element type; input's when None. Default: None.
        device (ember.device or str, optional): where the result lives; input's device when None. Default: None.

    Returns:
        Tensor: a new tensor of input's shape.

    PyTorch:
        ``torch.randint_like``; same semantics (no ``requires_grad`` or ``memory_format``).
        The same seed gives other numbers than in PyTorch (NumPy's PCG64 generator, not a Mersenne Twister).

    Example:
        >>> x = ember.randint_like(ember.zeros(4, dtype=ember.int64), 3)
        >>> x.shape, bool((x < 3).all())
        (ember.Size([4]), True)
    """
    if high is None:
        low, high = 0, low
    return randint(low, high, input.shape, dtype=dtype or input.dtype, device=device or input.device)


@export(ember=True)
def randperm(n: int, generator: Generator | None = None, dtype: _dtype | None = None,
             device: Device = None) -> Tensor:
    """Return a random permutation of the integers 0 to n - 1.

    Args:
        n (int): how many integers.
        generator (Generator, optional): the generator to draw from; the default one when None. Default: None.
        dtype (ember.dtype, optional): the element type; int64 when None. Default: None.
        device (ember.device or str, optional): where the tensor lives; the CPU when None. Default: None.

    Returns:
        Tensor: a 1-D tensor of n values.

    PyTorch:
        ``torch.randperm``; same semantics (no ``requires_grad``, ``out``, ``layout`` or
        ``pin_memory``).
        The same seed gives other numbers than in PyTorch (NumPy's PCG64 generator, not a Mersenne Twister).

    Example:
        >>> ember.randperm(5).sort().values
        tensor([0, 1, 2, 3, 4])
    """
    return _finish(_rng(generator, device).permutation(n), dtype or _dt.int64, device, False)


@export(ember=True)
def bernoulli(input: Tensor, p: float | None = None, generator: Generator | None = None) -> Tensor:
    """Return 1 with probability ``input`` (elementwise), or ``p`` when given, and 0 otherwise.

    Args:
        input (Tensor): the probabilities (in [0, 1]); also gives the shape, dtype and device of the result.
        p (float, optional): one probability for every element instead of input's values. Default: None.
        generator (Generator, optional): the generator to draw from; the default one when None. Default: None.

    Returns:
        Tensor: zeros and ones of input's shape and dtype (not differentiable).

    PyTorch:
        ``torch.bernoulli``; same semantics (no ``out``).
        The same seed gives other numbers than in PyTorch (NumPy's PCG64 generator, not a Mersenne Twister).

    Example:
        >>> ember.bernoulli(ember.tensor([0.0, 1.0, 1.0]))
        tensor([0., 1., 1.])
    """
    prob = input._data if p is None else p
    arr = (_rng(generator).random(input.shape) < _host(prob)).astype(input._data.dtype)
    return _finish(arr, input.dtype, input.device, False)


def _host(x):
    return move(x, CPU) if hasattr(x, "shape") else x


@export(ember=True)
def multinomial(input: Tensor, num_samples: int, replacement: bool = False,
                generator: Generator | None = None) -> Tensor:
    """Sample category indices from the rows of input, whose non-negative values weigh the categories.

    Each row (the last dimension) is normalised to probabilities. Without replacement a category is drawn at most
    once per row, so ``num_samples`` must not exceed the number of categories.

    Args:
        input (Tensor): the weights, shape (C,) or (N, C): non-negative and finite.
        num_samples (int): how many indices to draw per row.
        replacement (bool): whether an index may be drawn more than once. Default: False.
        generator (Generator, optional): the generator to draw from; the default one when None. Default: None.

    Returns:
        Tensor: int64 indices of shape (num_samples,) or (N, num_samples).

    PyTorch:
        ``torch.multinomial``; same semantics, but ember also accepts inputs of more than 2 dimensions
        (PyTorch raises); no ``out``.
        The same seed gives other numbers than in PyTorch (NumPy's PCG64 generator, not a Mersenne Twister).

    Example:
        >>> ember.multinomial(ember.tensor([0.0, 1.0, 0.0]), 2, replacement=True)
        tensor([1, 1])
    """
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
    """Fill self in place with samples drawn uniformly from [a, b).

    Args:
        a (float): the lower bound. Default: 0.0.
        b (float): the upper bound. Default: 1.0.
        generator (Generator, optional): the generator to draw from; the default one when None. Default: None.

    Returns:
        Tensor: self.

    PyTorch:
        ``Tensor.uniform_``; same semantics, but PyTorch names the bounds ``from`` and ``to`` (the same
        when passed by position).
        The same seed gives other numbers than in PyTorch (NumPy's PCG64 generator, not a Mersenne Twister).

    Example:
        >>> x = ember.zeros(3).uniform_(2.0, 3.0)
        >>> bool(((x >= 2) & (x < 3)).all())
        True
    """
    vals = _rng(generator).random(size=self._data.shape, dtype=_sample_dtype(self))
    vals *= b - a
    vals += a
    return inplace(self, "uniform_", lambda s: Tensor._wrap(_move_like(vals.astype(self._data.dtype, copy=False), self)))


@export(ember=False, methods=("normal_",))
def _normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Fill self in place with samples from the normal distribution of the given mean and std.

    Args:
        mean (float): the mean. Default: 0.0.
        std (float): the standard deviation. Default: 1.0.
        generator (Generator, optional): the generator to draw from; the default one when None. Default: None.

    Returns:
        Tensor: self.

    PyTorch:
        ``Tensor.normal_``; same semantics.
        The same seed gives other numbers than in PyTorch (NumPy's PCG64 generator, not a Mersenne Twister).

    Example:
        >>> ember.empty(2, 3).normal_(0.0, 0.02).shape
        ember.Size([2, 3])
    """
    vals = _rng(generator).standard_normal(size=self._data.shape, dtype=_sample_dtype(self))
    vals *= std
    vals += mean
    return inplace(self, "normal_", lambda s: Tensor._wrap(_move_like(vals.astype(self._data.dtype, copy=False), self)))


def _sample_dtype(t):
    """Draw float32 samples for float32 (and narrower) tensors, so initialising big layers stays cheap."""
    return np.float64 if t._data.dtype == np.float64 else np.float32


def _move_like(arr, t):
    return move(arr, t.device)



def _fill(self, op, draw):
    """Fill self in place with draw(generator-backed rng) (an array of self's shape), as op."""
    return inplace(self, op, lambda s: Tensor._wrap(_move_like(draw.astype(self._data.dtype, copy=False), self)))


@export(ember=False, methods=("exponential_",))
def _exponential_(self: Tensor, lambd: float = 1.0, *, generator: Generator | None = None) -> Tensor:
    """Fill self in place with samples from the exponential distribution of rate ``lambd`` (mean 1 / lambd).

    Args:
        lambd (float): the rate, > 0 (else RuntimeError). Default: 1.0.
        generator (Generator, optional): the generator to draw from; the default one when None. Default: None.

    Returns:
        Tensor: self.

    PyTorch:
        ``Tensor.exponential_``; same semantics (ember's random stream is its own).

    Example:
        >>> bool((ember.empty(100).exponential_(2.0) >= 0).all())
        True
    """
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    return _fill(self, "exponential_", _rng(generator).exponential(1.0 / lambd, size=self._data.shape))


@export(ember=False, methods=("geometric_",))
def _geometric_(self: Tensor, p: float, *, generator: Generator | None = None) -> Tensor:
    """Fill self in place with samples from the geometric distribution: the number of Bernoulli(p) trials up to
    and including the first success (1, 2, ...).

    Args:
        p (float): the success probability, in (0, 1) (else RuntimeError).
        generator (Generator, optional): the generator to draw from; the default one when None. Default: None.

    Returns:
        Tensor: self.

    PyTorch:
        ``Tensor.geometric_``; same semantics (ember's random stream is its own).

    Example:
        >>> bool((ember.empty(100).geometric_(0.3) >= 1).all())
        True
    """
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    return _fill(self, "geometric_", _rng(generator).geometric(p, size=self._data.shape))


@export(ember=False, methods=("log_normal_",))
def _log_normal_(self: Tensor, mean: float = 1.0, std: float = 2.0, *, generator: Generator | None = None) -> Tensor:
    """Fill self in place with samples exp(N(mean, std)): the log-normal distribution whose logarithm has this
    mean and standard deviation.

    Args:
        mean (float): the mean of the logarithm. Default: 1.0.
        std (float): the standard deviation of the logarithm, > 0 (else RuntimeError). Default: 2.0.
        generator (Generator, optional): the generator to draw from; the default one when None. Default: None.

    Returns:
        Tensor: self.

    PyTorch:
        ``Tensor.log_normal_``; same semantics (ember's random stream is its own).

    Example:
        >>> bool((ember.empty(100).log_normal_() > 0).all())
        True
    """
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    return _fill(self, "log_normal_", _rng(generator).lognormal(mean, std, size=self._data.shape))


@export(ember=False, methods=("cauchy_",))
def _cauchy_(self: Tensor, median: float = 0.0, sigma: float = 1.0, *, generator: Generator | None = None) -> Tensor:
    """Fill self in place with samples from the Cauchy distribution of this median and scale.

    Args:
        median (float): the median. Default: 0.0.
        sigma (float): the scale (half the interquartile range), > 0 (else RuntimeError). Default: 1.0.
        generator (Generator, optional): the generator to draw from; the default one when None. Default: None.

    Returns:
        Tensor: self.

    PyTorch:
        ``Tensor.cauchy_``; same semantics (ember's random stream is its own).

    Example:
        >>> ember.empty(2, 3).cauchy_().shape
        ember.Size([2, 3])
    """
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    return _fill(self, "cauchy_", median + sigma * _rng(generator).standard_cauchy(size=self._data.shape))


@export(ember=False, methods=("random_",))
def _random_(self: Tensor, from_: int = 0, to: int | None = None, *, generator: Generator | None = None,
             **kwargs: int) -> Tensor:
    """Fill self in place with integers drawn uniformly from [from, to): ``random_(to)`` draws from [0, to), and
    ``random_()`` from [0, 2^mantissa] for floats or over the type's non-negative range for integers.

    Args:
        from_ (int): the lowest value (PyTorch's ``from``, also accepted by that keyword); alone, it is ``to``.
            Default: 0.
        to (int, optional): one past the highest value. Default: None.
        generator (Generator, optional): the generator to draw from; the default one when None. Default: None.
        **kwargs: ``from`` (a Python keyword), as PyTorch names it.

    Returns:
        Tensor: self.

    PyTorch:
        ``Tensor.random_``; same semantics (ember's random stream is its own).

    Example:
        >>> x = ember.empty(100, dtype=ember.int64).random_(3, 7)
        >>> int(x.min()) >= 3 and int(x.max()) < 7
        True
    """
    if "from" in kwargs:
        from_ = kwargs.pop("from")
    if kwargs:
        raise TypeError(f"random_() got an unexpected keyword argument {next(iter(kwargs))!r}")
    dtype = self._data.dtype
    if to is None and from_ == 0:  # the whole range PyTorch draws from
        to = (2 ** (np.finfo(dtype).nmant + 1) + 1) if dtype.kind == "f" else int(np.iinfo(dtype).max) + 1 \
            if dtype.kind in "iu" else 2
    elif to is None:
        from_, to = 0, from_
    if from_ >= to:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={from_} >= to={to}")
    return _fill(self, "random_", _rng(generator).integers(from_, to, size=self._data.shape))


@export(ember=False, methods=("bernoulli_",))
def _bernoulli_(self: Tensor, p: float | Tensor = 0.5, *, generator: Generator | None = None) -> Tensor:
    """Fill self in place with 1 with probability ``p`` (a number, or a tensor broadcasting to self), else 0.

    Args:
        p (float or Tensor): the probability of a 1. Default: 0.5.
        generator (Generator, optional): the generator to draw from; the default one when None. Default: None.

    Returns:
        Tensor: self.

    PyTorch:
        ``Tensor.bernoulli_``; same semantics (ember's random stream is its own).

    Example:
        >>> ember.empty(4).bernoulli_(1.0)
        tensor([1., 1., 1., 1.])
    """
    prob = _host(p._data) if isinstance(p, Tensor) else p
    return _fill(self, "bernoulli_", _rng(generator).random(self._data.shape) < prob)


@export(ember=True)
def poisson(input: Tensor, generator: Generator | None = None) -> Tensor:
    """Samples of the Poisson distributions whose rates are input's elements.

    Args:
        input (Tensor): the rates, >= 0.
        generator (Generator, optional): the generator to draw from; the default one when None. Default: None.

    Returns:
        Tensor: counts of input's shape and dtype (not differentiable).

    PyTorch:
        ``torch.poisson``; same semantics (ember's random stream is its own).

    Example:
        >>> ember.poisson(ember.tensor([0.0, 0.0]))
        tensor([0., 0.])
    """
    arr = _rng(generator).poisson(np.asarray(_host(input._data), dtype=np.float64))
    return _finish(arr.astype(input._data.dtype), input.dtype, input.device, False)


@export(ember=True)
def binomial(count: Tensor, prob: Tensor, generator: Generator | None = None) -> Tensor:
    """Samples of the binomial distributions of ``count`` trials of success probability ``prob`` (elementwise,
    broadcast).

    Args:
        count (Tensor): the numbers of trials (floating point, as PyTorch's).
        prob (Tensor): the success probabilities, in [0, 1].
        generator (Generator, optional): the generator to draw from; the default one when None. Default: None.

    Returns:
        Tensor: the numbers of successes, of count's dtype (not differentiable).

    PyTorch:
        ``torch.binomial``; same semantics (ember's random stream is its own).

    Example:
        >>> ember.binomial(ember.tensor([10.0, 4.0]), ember.tensor([1.0, 0.0]))
        tensor([10.,  0.])
    """
    n = np.asarray(_host(count._data)).astype(np.int64)
    arr = _rng(generator).binomial(n, np.asarray(_host(prob._data), dtype=np.float64))
    return _finish(arr.astype(count._data.dtype), count.dtype, count.device, False)


@export(ember=False, methods=("bernoulli",))
def _bernoulli_method(self: Tensor, p: float | None = None, *, generator: Generator | None = None) -> Tensor:
    """``ember.bernoulli(self, p)``: 1 with probability self's elements (or ``p``), else 0.

    Args:
        p (float, optional): one probability for every element instead of self's values. Default: None.
        generator (Generator, optional): the generator to draw from; the default one when None. Default: None.

    Returns:
        Tensor: zeros and ones of self's shape and dtype.

    PyTorch:
        ``Tensor.bernoulli``; same semantics (ember's random stream is its own).

    Example:
        >>> ember.tensor([0.0, 1.0]).bernoulli()
        tensor([0., 1.])
    """
    return bernoulli(self, p, generator)


@export(ember=False, methods=("multinomial",))
def _multinomial_method(self: Tensor, num_samples: int, replacement: bool = False, *,
                        generator: Generator | None = None) -> Tensor:
    """``ember.multinomial(self, num_samples, replacement)``: category indices drawn from self's weights.

    Args:
        num_samples (int): how many indices to draw per row.
        replacement (bool): whether an index may be drawn more than once. Default: False.
        generator (Generator, optional): the generator to draw from; the default one when None. Default: None.

    Returns:
        Tensor: int64 indices.

    PyTorch:
        ``Tensor.multinomial``; same semantics (ember's random stream is its own).

    Example:
        >>> ember.tensor([0.0, 1.0, 0.0]).multinomial(2, replacement=True)
        tensor([1, 1])
    """
    return multinomial(self, num_samples, replacement, generator)
