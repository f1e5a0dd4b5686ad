"""pad: constant padding (or cropping, for negative amounts) is the op ConstantPad; reflect, replicate and circular
padding are gathers along the padded axes (resampling maps, see resample)."""
import numpy as np  # host-side index tables only; device math goes through xp

from ..autograd.graph import apply
from . import _autocast
from ._checks import check_tensor
from .registry import export
from .resample import AxisMap, ConstantPad, Resample, resample


def _pad_index(n, a, b, mode):
    j = np.arange(-a, n + b)
    if mode == "reflect":
        j = np.abs(j)
        return np.where(j >= n, 2 * (n - 1) - j, j)
    if mode == "replicate":
        return np.clip(j, 0, n - 1)
    return j % n  # circular


@export(ConstantPad, Resample, ember=False, functional=True)
def pad(input, pad, mode="constant", value=None):
    """Pad the trailing dimensions of ``input``; ``pad`` lists (before, after) amounts from the last dimension back.

    ``pad = (left, right)`` pads the last dimension, ``(left, right, top, bottom)`` the last two, and so on. In
    ``'constant'`` mode any number of dimensions may be padded and negative amounts crop. ``'reflect'`` (mirror without
    repeating the edge, amounts below the size), ``'replicate'`` (repeat the edge) and ``'circular'`` (wrap around,
    amounts at most the size) pad the last 1 to 3 dimensions of an input with 1 or 2 more dimensions.

    Args:
        input (Tensor): the tensor to pad.
        pad (tuple of int): an even number of amounts, at most two per dimension of ``input``.
        mode (str): ``'constant'``, ``'reflect'``, ``'replicate'`` or ``'circular'``. Default: ``'constant'``.
        value (float, optional): the fill of ``'constant'`` mode; None means 0. Default: None.

    Returns:
        Tensor: a new padded tensor, of ``input``'s dtype.

    Shape:
        - Input: (*, d_k, ..., d_1), the padded dimensions last.
        - Output: (*, d_k + pad[2k-2] + pad[2k-1], ..., d_1 + pad[0] + pad[1]).

    PyTorch:
        ``torch.nn.functional.pad``; same semantics.

    Example:
        >>> F.pad(ember.tensor([[1, 2]]), (1, 2))
        tensor([[0, 1, 2, 0, 0]])
        >>> F.pad(ember.tensor([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect")
        tensor([[3., 2., 1., 2., 3., 2.]])
        >>> F.pad(ember.ones(2, 3), (0, 0, 1, 0), value=5.0)
        tensor([[5., 5., 5.],
                [1., 1., 1.],
                [1., 1., 1.]])
    """
    op = "pad"
    check_tensor(input, op)
    try:
        amounts = tuple(int(p) for p in pad)
    except TypeError:
        raise TypeError(f"{op}: pad must be a sequence of ints, got {pad!r}") from None
    ndim, shape = input._data.ndim, tuple(input._data.shape)
    if len(amounts) % 2:
        raise RuntimeError(f"{op}: padding length must be divisible by 2, got pad={amounts}")
    k = len(amounts) // 2
    if k > ndim:
        raise RuntimeError(f"{op}: padding length {len(amounts)} is too large for an input of shape {shape} "
                           f"(at most 2 * {ndim})")
    pairs = [(amounts[2 * i], amounts[2 * i + 1]) for i in range(k)][::-1]  # first padded dim first
    if mode == "constant":
        full = ((0, 0),) * (ndim - k) + tuple(pairs)
        for d, ((a, b), n) in enumerate(zip(full, shape)):
            if n + a + b < 0:
                raise RuntimeError(f"{op}: the input size {n} plus padding ({a}, {b}) is negative in dimension {d} "
                                   f"of input shape {shape}")
        return apply(ConstantPad(full, 0.0 if value is None else value), input)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"{op}: unrecognised padding mode {mode!r} (use 'constant', 'reflect', "
                                  "'replicate' or 'circular')")
    if value is not None and value != 0:
        raise RuntimeError(f'{op}: padding mode "{mode}" doesn\'t take in value argument')
    if k > 3 or ndim not in (k + 1, k + 2):
        raise NotImplementedError(f"{op}: padding size {len(amounts)} is not supported for {ndim}-D input with mode "
                                  f"{mode!r}: pad the last 1, 2 or 3 dimensions of an input with 1 or 2 more dims")
    maps = []
    for i, (a, b) in enumerate(pairs):
        axis = -k + i
        n = shape[axis]
        if mode == "reflect" and (a >= n or b >= n):
            raise RuntimeError(f"{op}: padding ({a}, {b}) should be less than the input size {n} in dimension "
                               f"{ndim + axis} of input shape {shape} for mode 'reflect'")
        if mode == "circular" and (a > n or b > n):
            raise RuntimeError(f"{op}: padding ({a}, {b}) should be at most the input size {n} in dimension "
                               f"{ndim + axis} of input shape {shape} for mode 'circular'")
        if n == 0 or n + a + b < 0:
            raise RuntimeError(f"{op}: can't pad dimension {ndim + axis} of size {n} with ({a}, {b}) in mode {mode!r}")
        maps.append(AxisMap(axis, n, _pad_index(n, a, b, mode).reshape(-1, 1)))
    if _autocast.active and (mode == "replicate" or (mode == "reflect" and k < 3)):
        input, = _autocast.to_float32(input)  # PyTorch's autocast runs these pads in float32 (not reflect 3-D)
    return resample(input, maps)
