"""autograd.Function: user-defined ops written in Python with their own gradient rule (as PyTorch's)."""
from ..device import get_array_module
from ..tensor import Tensor
from .graph import FREED, Node, check_version, record
from .grad_mode import is_grad_enabled, no_grad

__all__ = ["Function", "FunctionCtx"]


class FunctionCtx:
    """The ``ctx`` of an ``autograd.Function``: save tensors for backward and read which inputs need grads."""

    def save_for_backward(self, *tensors):
        """Keep tensors (or None) for backward; modifying them in place afterwards makes backward raise."""
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save variables, but argument {tensors.index(t)} is "
                                f"of type {type(t).__name__}")
        self._saved = tensors
        self._saved_versions = [(t._vbox, t._vbox[0]) if t is not None else None for t in tensors]

    @property
    def saved_tensors(self):
        if getattr(self, "_freed", False):
            raise RuntimeError(FREED)
        for i, sv in enumerate(getattr(self, "_saved_versions", ())):
            if sv is not None:
                check_version(self._node, i, sv[0], sv[1])
        return getattr(self, "_saved", ())

    def mark_non_differentiable(self, *tensors):
        self._non_diff = {id(t) for t in tensors}

    def set_materialize_grads(self, value):
        self._materialize = bool(value)

    def mark_dirty(self, *tensors):
        self._dirty = tensors


class _FunctionNode(Node):
    saves = ()           # backward reads what ctx saved, not the inputs
    fresh_grads = False  # user code may return tensors it keeps elsewhere

    def __init__(self, fn_cls, ctx, n_outputs):
        self.fn_cls, self.ctx, self._n = fn_cls, ctx, n_outputs

    @property
    def n_outputs(self):
        return self._n

    @property
    def name(self):
        return self.fn_cls.__name__

    def __repr__(self):
        return f"<{self.name}Backward>"

    def release(self):
        self.inputs = None
        self.ctx._saved = None
        self.ctx._freed = True

    def backward(self, *grads):
        ctx = self.ctx
        if getattr(ctx, "_materialize", True):
            grads = [g if g is not None else _zeros(meta) for g, meta in zip(grads, ctx._outputs_meta)]
        result = self.fn_cls.backward(ctx, *grads)
        if not isinstance(result, tuple):
            result = (result,)
        n = len(self.edges)
        if len(result) < n or any(r is not None for r in result[n:]):
            raise RuntimeError(f"function {self.name}Backward returned an incorrect number of gradients "
                               f"(expected {n}, got {len(result)})")
        for i, r in enumerate(result[:n]):
            if r is not None and not isinstance(r, Tensor):
                raise TypeError(f"function {self.name}Backward returned a gradient of type {type(r).__name__} at "
                                f"index {i}; expected a Tensor or None")
        return result[:n]


def _zeros(meta):
    shape, np_dtype, xp = meta
    return Tensor._wrap(xp.zeros(shape, dtype=np_dtype))


class Function:
    """Base class for ops written in Python with their own gradient rule (PyTorch's autograd.Function).

    Subclasses define ``@staticmethod forward(ctx, *args)`` and ``@staticmethod backward(ctx, *grads)`` (or
    ``forward(*args)`` plus ``setup_context(ctx, inputs, output)``) and are called with ``MyFunction.apply(*args)``.
    ``backward`` returns one gradient (a Tensor or None) per argument of forward.

    >>> class Square(ember.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x * x
    ...     @staticmethod
    ...     def backward(ctx, grad):
    ...         (x,) = ctx.saved_tensors
    ...         return 2 * x * grad
    >>> x = ember.tensor([3.0], requires_grad=True)
    >>> Square.apply(x).backward()
    >>> x.grad
    tensor([6.])
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args):
        ctx = FunctionCtx()
        recording = is_grad_enabled()
        ctx.needs_input_grad = tuple(recording and isinstance(a, Tensor) and a.requires_grad for a in args)
        new_style = cls.setup_context is not Function.setup_context
        with no_grad():
            out = cls.forward(*args) if new_style else cls.forward(ctx, *args)
            if new_style:
                cls.setup_context(ctx, args, out)
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        if not any(ctx.needs_input_grad):
            return out
        node = _FunctionNode(cls, ctx, len(outs))
        ctx._node = node
        non_diff = getattr(ctx, "_non_diff", set())
        wrapped, attached, meta = [], [], []
        for o in outs:
            diff = None
            if isinstance(o, Tensor):
                meta.append((o._data.shape, o._data.dtype, get_array_module(o._data)))
                if id(o) not in non_diff and o.is_floating_point():
                    if any(o is a for a in args):  # returning an input: give the output its own identity
                        src, o = o, Tensor._wrap(o._data)
                        o._vbox = src._vbox
                    diff = o
            else:
                meta.append(None)
            wrapped.append(o)
            attached.append(diff)
        record(node, args, attached)
        ctx._outputs_meta = meta
        return wrapped[0] if single else tuple(wrapped)
