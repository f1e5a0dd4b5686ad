"""Ops of three operands: where, lerp, and clamp/clip with number or tensor bounds (and clamp_)."""
from .. import dtypes as _dt
from ..autograd import Node
from ..autograd.graph import apply
from ..autograd.inplace import inplace
from ..device import get_array_module
from ..tensor import Tensor
from ._checks import check_tensor, not_tensor, same_device, scalar
from ._promotion import as_float, broadcast3_error, promote
from ._util import shape_of
from .copy import to_copy
from .index import nonzero
from .meta import TensorMeta, broadcast, same_as
from .registry import export, register


# --- clamp ----------------------------------------------------------------------------------------------------

@register
class Clamp(Node):
    """clamp with number bounds; the gradient passes where lo <= x <= hi (inclusive, as in PyTorch)."""

    saves = (0,)

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def infer(self, a):
        return same_as(a)

    def forward(self, xp, a):
        return xp.clip(a, self.lo, self.hi).astype(a.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0]
        if self.lo is None:
            mask = x <= self.hi
        elif self.hi is None:
            mask = x >= self.lo
        else:
            mask = (x >= self.lo) & (x <= self.hi)
        return (apply(Where(), mask, g, 0.0),)


@register
class ClampTensor(Node):
    """clamp with tensor bounds (broadcast; either may be None or a number); gradients follow PyTorch's
    clamp_backward_min_max."""

    saves = None

    def infer(self, a, lo, hi):
        return broadcast(a, lo, hi, dtype=a.dtype)

    def forward(self, xp, a, lo, hi):
        out = a if lo is None else xp.maximum(a, lo)
        return out if hi is None else xp.minimum(out, hi)

    def backward(self, g):
        x, lo, hi = self.inputs
        nx, nlo, nhi = self.needs_input_grad
        if lo is None:
            keep, to_lo, to_hi = x <= hi, None, x > hi
        elif hi is None:
            keep, to_lo, to_hi = x >= lo, x < lo, None
        else:
            keep = (x >= lo) & (x <= hi)
            to_lo = (x < lo) & (lo < hi)
            to_hi = (x > hi) | (hi < lo)
        return (apply(Where(), keep, g, 0.0) if nx else None,
                apply(Where(), to_lo, g, 0.0) if nlo else None,
                apply(Where(), to_hi, g, 0.0) if nhi else None)


@export(Clamp, ClampTensor, methods=("clamp", "clip"), ember=("clamp", "clip"))
def clamp(input, min=None, max=None):
    """Limit each element of input to the range [min, max].

    Either bound may be None (no limit on that side), but not both. With number bounds the result keeps input's
    dtype (an integer input with a float bound becomes floating-point); with tensor bounds the shapes broadcast and
    the dtypes promote. Where min > max every element becomes max. The gradient passes where min <= x <= max.

    Args:
        input (Tensor): the input tensor.
        min (Tensor or number, optional): the lower bound. Default: None.
        max (Tensor or number, optional): the upper bound. Default: None.

    Returns:
        Tensor: the clamped values, of input's shape (the broadcast shape with tensor bounds).

    PyTorch:
        ``torch.clamp``, ``torch.clip``, ``Tensor.clamp`` and ``Tensor.clip``; same semantics (no ``out=``
        argument).

    Example:
        >>> ember.clamp(ember.tensor([-2.0, 0.5, 3.0]), min=-1.0, max=1.0)
        tensor([-1.0000,  0.5000,  1.0000])
        >>> ember.clamp(ember.tensor([1, 5, 9]), min=ember.tensor([2, 2, 10]))
        tensor([ 2,  5, 10])
    """
    if not isinstance(input, Tensor):
        raise not_tensor(input, "clamp", pos=1)
    if min is None and max is None:
        raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        return _clamp_tensor(input, min, max)
    if input._data.dtype.kind in "biu" and (isinstance(min, float) or isinstance(max, float)):
        input = as_float(input)
    return apply(Clamp(scalar(min, "clamp") if min is not None else None,
                       scalar(max, "clamp") if max is not None else None), input)


def _clamp_tensor(input, lo, hi):
    lo, hi = [x if x is None or isinstance(x, Tensor) else scalar(x, "clamp") for x in (lo, hi)]
    operands = [x for x in (input, lo, hi) if x is not None]
    for x in operands:
        if isinstance(x, Tensor):
            same_device(input, x, "clamp")
    rt = _dt.result_type(*operands)
    lo, hi = [x if x is None or not isinstance(x, Tensor) or x.dtype is rt else to_copy(x, dtype=rt)
              for x in (lo, hi)]
    if input.dtype is not rt:
        input = to_copy(input, dtype=rt)
    try:
        return apply(ClampTensor(), input, lo, hi)
    except ValueError:
        raise RuntimeError(f"clamp: shapes {tuple(input.shape)}, {tuple(shape_of(lo))} and {tuple(shape_of(hi))} are "
                           "not broadcastable") from None


clip = clamp


# --- where, lerp ----------------------------------------------------------------------------------------------

_NUMBERS = (int, float, bool)


@register
class Where(Node):
    """a where cond is true, else b (broadcast); a or b may be a number, the other then gives the dtype."""

    saves = (0,)

    def infer(self, cond, a, b):
        return broadcast(cond, a, b, dtype=(a if isinstance(a, TensorMeta) else b).dtype)

    def forward(self, xp, cond, a, b):
        out = xp.where(cond, a, b)
        dtype = (b if a.__class__ in _NUMBERS else a).dtype
        return out if out.dtype == dtype else out.astype(dtype)  # bfloat16 with a float first would give float32

    def backward(self, g):
        cond = self.inputs[0]
        _, na, nb = self.needs_input_grad
        return (None, apply(Where(), cond, g, 0.0) if na else None, apply(Where(), cond, 0.0, g) if nb else None)


@export(Where)
def where(condition, input=None, other=None):
    """Choose, at each position, the element of input where condition is true and that of other elsewhere.

    condition, input and other broadcast; input and other promote as in ``ember.add`` (either may be a number).
    The gradient goes to input where condition is true and to other elsewhere. ``where(condition)`` alone is
    ``nonzero(condition, as_tuple=True)``.

    Args:
        condition (Tensor): a bool tensor.
        input (Tensor or number, optional): the values where condition is true. Default: None.
        other (Tensor or number, optional): the values where condition is false. Default: None.

    Returns:
        Tensor: of the broadcast shape and the promoted dtype; or, for ``where(condition)``, a tuple of int64
        index tensors, one per dimension.

    PyTorch:
        ``torch.where``; same semantics (no ``out=`` argument). ``Tensor.where`` is ``where(condition, self,
        other)``.

    Example:
        >>> x = ember.tensor([-1.0, 2.0])
        >>> ember.where(x > 0, x, ember.zeros(2))
        tensor([0., 2.])
        >>> ember.where(x > 0, 1, 0.5)
        tensor([0.5000, 1.0000])
    """
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    if not isinstance(condition, Tensor):
        raise not_tensor(condition, "where", "condition")
    if condition._data.dtype.kind != "b":
        raise RuntimeError(f"where: expected condition to be a bool tensor, got {condition.dtype}")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):  # two numbers: a 0-dim tensor on cond's device
        dt = _dt.result_type(scalar(input, "where"), scalar(other, "where"))
        input = Tensor._wrap(get_array_module(condition._data).asarray(input, dtype=dt.np))
    a, b = promote(input, other, "where")
    for x in (a, b):
        if isinstance(x, Tensor):
            same_device(condition, x, "where")
    try:
        return apply(Where(), condition, a, b)
    except ValueError:
        raise broadcast3_error("where", condition, a, b) from None


@export(Where, ember=False, methods=("where",))
def where_method(self, condition, other):
    """Choose self's element where condition is true and other's elsewhere: ``ember.where(condition, self, other)``.

    Args:
        condition (Tensor): a bool tensor; it broadcasts with self and other.
        other (Tensor or number): the values where condition is false.

    Returns:
        Tensor: of the broadcast shape and the promoted dtype.

    PyTorch:
        ``Tensor.where``; same semantics.

    Example:
        >>> ember.tensor([1.0, 2.0]).where(ember.tensor([True, False]), 0.0)
        tensor([1., 0.])
    """
    return where(condition, self, other)


@register
class Lerp(Node):
    """start + weight * (end - start), computed as PyTorch does (exact at weight 0 and 1)."""

    @property
    def saves(self):  # the weight is read for the gradients of start and end; start and end for the weight's
        na, nb, nw = self.needs_input_grad
        return (0, 1) * nw + (2,) * (na or nb)

    def infer(self, a, b, w):
        return broadcast(a, b, w, dtype=a.dtype)

    def forward(self, xp, a, b, w):
        d = b - a
        if isinstance(w, (int, float)):
            out = a + w * d if -0.5 < w < 0.5 else b - d * (1 - w)
        else:
            out = xp.where(xp.abs(w) < 0.5, a + w * d, b - d * (1 - w))
        return out.astype(d.dtype, copy=False)

    def backward(self, g):
        a, b, w = self.inputs
        na, nb, nw = self.needs_input_grad
        return (g * (1 - w) if na else None, g * w if nb else None, g * (b - a) if nw else None)


@export(Lerp, methods=("lerp",))
def lerp(input, end, weight):
    """Linear interpolation ``input + weight * (end - input)`` between input (weight 0) and end (weight 1).

    The shapes broadcast; the result is exact at weight 0 and 1 (it is computed from the nearer end, as PyTorch
    does). The dtypes promote to a floating-point one (integer tensors with a float weight are accepted).

    Args:
        input (Tensor): the start points.
        end (Tensor): the end points.
        weight (Tensor or number): the interpolation weight.

    Returns:
        Tensor: floating-point, of the broadcast shape.

    PyTorch:
        ``torch.lerp`` and ``Tensor.lerp``; same values, except that ember promotes mixed dtypes and integer
        tensors (PyTorch requires input, end and a tensor weight of one floating-point dtype). No ``out=``.

    Example:
        >>> ember.lerp(ember.tensor([0.0, 10.0]), ember.tensor([10.0, 20.0]), 0.5)
        tensor([ 5., 15.])
    """
    check_tensor(input, "lerp", pos=1)
    check_tensor(end, "lerp", "end", 2)
    same_device(input, end, "lerp")
    weight = scalar(weight, "lerp") if not isinstance(weight, Tensor) else weight
    rt = _dt.result_type(input, end, weight)
    if not rt.is_floating_point:
        raise RuntimeError(f"lerp: expected floating-point inputs, got {input.dtype} and {end.dtype}")
    input, end = [x if x.dtype is rt else to_copy(x, dtype=rt) for x in (input, end)]
    if isinstance(weight, Tensor):
        same_device(input, weight, "lerp")
        if weight.dtype is not rt:
            weight = to_copy(weight, dtype=rt)
    try:
        return apply(Lerp(), input, end, weight)
    except ValueError:
        raise broadcast3_error("lerp", input, end, weight) from None


@export(Clamp, ClampTensor, ember=False, methods=("clamp_", "clip_"))
def clamp_(self, min=None, max=None):
    """Limit self's elements to [min, max] in place (see ``ember.clamp``) and return self.

    Tensor bounds must broadcast to self's shape, and the result dtype must be self's (a float bound on an integer
    tensor raises).

    Args:
        min (Tensor or number, optional): the lower bound. Default: None.
        max (Tensor or number, optional): the upper bound. Default: None.

    Returns:
        Tensor: self, modified.

    PyTorch:
        ``Tensor.clamp_`` and ``Tensor.clip_``; same semantics.

    Example:
        >>> x = ember.tensor([-2.0, 3.0])
        >>> x.clamp_(max=1.0)
        tensor([-2.,  1.])
    """
    return inplace(self, "clamp_", lambda s: clamp(s, min, max))


def _one_bound(side):
    """clamp with one bound (torch.clamp_min / clamp_max), its method and in-place method."""
    def op(input, bound):
        return clamp(input, **{side: bound})

    def op_(self, bound):
        return clamp_(self, **{side: bound})

    name = f"clamp_{side}"
    words = "below" if side == "min" else "above"
    for fn, fname, what in ((op, name, "A copy of input"), (op_, name + "_", "self, in place,")):
        fn.__name__ = fn.__qualname__ = fname
        fn.__doc__ = f"""{what} limited {words} by ``bound``: ``clamp({side}=bound)``.

    Args:
        {"input (Tensor): the tensor." if fn is op else "self (Tensor): the tensor to modify."}
        bound (Tensor or number): the {side}imum allowed.

    Returns:
        Tensor: {"the limited tensor" if fn is op else "self"}.

    PyTorch:
        ``{"torch." + fname + "`` and ``" if fn is op else ""}Tensor.{fname}``; same semantics.

    Example:
        >>> ember.tensor([-1.0, 2.0]).{fname}(0.5)
        tensor([{"0.5000, 2.0000" if side == "min" else "-1.0000,  0.5000"}])
    """
    export(Clamp, ClampTensor, methods=(name,))(op)
    export(Clamp, ClampTensor, ember=False, methods=(name + "_",))(op_)
    return op, op_


clamp_min, clamp_min_ = _one_bound("min")
clamp_max, clamp_max_ = _one_bound("max")
