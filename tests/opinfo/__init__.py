"""OpInfo: test data declared once per op (PyTorch's OpInfo, tinygrad's helper_test_op, Chainer's FunctionTestCase).

An entry names the registered ops it covers, the ember function that runs them, the PyTorch reference, and sample
inputs (shapes including 0-size and broadcast cases, an input domain); tests/test_opinfo.py runs the same generic
tests on every entry: values and gradients against PyTorch, gradcheck and gradgradcheck in float64, every op's shape
rule against the real forward (and backward), and the Tensor method against the function. An entry covers its ops
when they run while its function and its backward run: a gradient op (SumTo, LinearGrad, ...) is covered by the
entry of the op whose backward applies it. A registered op that no entry covers fails the suite.

The entries live beside this module, one file per op family, and are gathered into ``ENTRIES``.
"""
import dataclasses
import importlib
import pkgutil

import numpy as np

import ember

__all__ = ["OpInfo", "T", "Idx", "Mask", "Sample", "ENTRIES", "materialize"]


@dataclasses.dataclass(frozen=True)
class T:
    """A random floating-point tensor argument of this shape (values uniform in the domain: the entry's unless
    given); grad=False for one that does not require gradients."""

    shape: tuple
    domain: tuple = None
    grad: bool = True


@dataclasses.dataclass(frozen=True)
class Idx:
    """A random int64 tensor argument of this shape with values in [low, high)."""

    shape: tuple
    high: int
    low: int = 0


@dataclasses.dataclass(frozen=True)
class Mask:
    """A random bool tensor argument of this shape."""

    shape: tuple


class Sample:
    """The arguments of one call: specs (T, Idx, Mask, or lists of them) and plain values, positional and keyword."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs

    def __repr__(self):
        parts = [_describe(a) for a in self.args] + [f"{k}={_describe(v)}" for k, v in self.kwargs.items()]
        return ", ".join(parts)


def _describe(a):
    if isinstance(a, T):
        return "x".join(map(str, a.shape)) or "0d"
    if isinstance(a, Idx):
        return "idx" + "x".join(map(str, a.shape))
    if isinstance(a, Mask):
        return "mask" + "x".join(map(str, a.shape))
    if isinstance(a, (list, tuple)) and any(isinstance(x, (T, Idx, Mask)) for x in a):
        return "[" + ",".join(_describe(x) for x in a) + "]"
    return repr(a)


@dataclasses.dataclass
class OpInfo:
    """Everything the generic tests need to know about one op (or a few that run together)."""

    ops: tuple               # the registered op names this entry covers
    fn: object               # the ember function: fn(*args, **kwargs)
    samples: list
    ref: object = None       # the PyTorch reference: ref(torch, *args, **kwargs); None when PyTorch has none
    method: str = None       # Tensor method equal to fn: args[0].<method>(*args[1:], **kwargs)
    grad: bool = True        # differentiable with respect to its floating-point T arguments
    gradgrad: bool = True    # twice differentiable (gradgradcheck)
    dtypes: tuple = ("float64", "float32")
    domain: tuple = (-2.0, 2.0)
    rtol: float = 1e-5       # tolerances of the comparisons with PyTorch in float32 (float64: 1e-10 relative)
    atol: float = 1e-5
    name: str = None

    def __post_init__(self):
        if isinstance(self.ops, str):
            self.ops = (self.ops,)
        if self.name is None:
            self.name = self.ops[0]


def materialize(info, sample, dtype, seed=0):
    """(args, kwargs) of a sample, as ember tensors of random values (the same for every call with the same seed).
    Floating-point T arguments require gradients when the entry is differentiable and the T says so."""
    rng = np.random.default_rng(seed)

    def make(spec):
        if isinstance(spec, T):
            lo, hi = spec.domain or info.domain
            arr = rng.uniform(lo, hi, size=spec.shape).astype(dtype)
            return ember.tensor(arr, requires_grad=info.grad and spec.grad)
        if isinstance(spec, Idx):
            return ember.tensor(rng.integers(spec.low, spec.high, size=spec.shape).astype(np.int64))
        if isinstance(spec, Mask):
            return ember.tensor(rng.random(spec.shape) < 0.5)
        if isinstance(spec, (list, tuple)) and any(isinstance(x, (T, Idx, Mask)) for x in spec):
            return type(spec)(make(x) for x in spec)
        return spec

    return [make(a) for a in sample.args], {k: make(v) for k, v in sample.kwargs.items()}


def _gather():
    entries = []
    for module in pkgutil.iter_modules(__path__):
        entries += importlib.import_module(f"{__name__}.{module.name}").ENTRIES
    names = [e.name for e in entries]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(f"OpInfo entries with the same name: {sorted(dup)}")
    return entries


ENTRIES = _gather()
