"""autograd.Function: user-defined ops written in Python with their own gradient rule (as PyTorch's)."""
import functools
import inspect

from ..device import get_array_module
from ..tensor import Tensor
from .graph import FREED, Node, check_version, increment_version, record
from .inplace import check_inplace
from .grad_mode import is_grad_enabled, no_grad

__all__ = ["Function", "FunctionCtx"]


class FunctionCtx:
    """The ``ctx`` of an ``autograd.Function``: what forward hands to backward.

    ``save_for_backward(*tensors)`` keeps tensors (or None) for backward, read back as ``ctx.saved_tensors``
    (modifying one in place afterwards makes that read raise); ``needs_input_grad`` tells, per argument of
    forward, whether it needs a gradient; ``mark_non_differentiable(*outputs)`` and ``set_materialize_grads(value)``
    (False: backward gets None rather than zeros for outputs without a gradient) work as in PyTorch. Any other
    attribute can be set on it to pass non-tensor values.

    PyTorch:
        ``torch.autograd.function.FunctionCtx``; same methods, but ``mark_dirty`` changes nothing: an output that
        is an input modified in place comes back as a new tensor sharing its memory (PyTorch returns the input
        itself, with the Function as its grad_fn).

    Example:
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
        """Declare the inputs forward changed in place (and returns): apply returns those very tensors, this op
        now their history; a leaf that requires grad raises, as any in-place op on one."""
        self._dirty = tensors


@functools.lru_cache(maxsize=None)
def _n_parameters(forward):
    return len(inspect.signature(forward).parameters)


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
        """Free what ctx saved: reading ``ctx.saved_tensors`` raises from now on, but a backward that reads none
        runs again, as in PyTorch."""
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
    """Base class for ops written in Python with their own gradient rule.

    Subclasses define ``@staticmethod forward(ctx, *args)`` and ``@staticmethod backward(ctx, *grads)`` (or
    ``forward(*args)`` plus ``setup_context(ctx, inputs, output)``) and are called with ``MyFunction.apply(*args)``.
    ``backward`` returns one gradient (a Tensor or None) per argument of forward. Forward runs without recording,
    so its own operations are not differentiated; gradients of gradients work when backward is written with ember
    ops and the graph is created (``create_graph=True``).

    PyTorch:
        ``torch.autograd.Function``; same semantics, but ``apply`` takes positional arguments only, and there is no
        ``jvp``/``vmap`` (forward-mode AD and ``generate_vmap_rule`` are not supported).

    Example:
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
        """Compute the outputs of the op (to be overridden by a subclass as a staticmethod).

        It runs without gradient recording. In the style with ``setup_context`` it takes no ``ctx``.

        Args:
            ctx (FunctionCtx): the context to save what backward needs on.
            *args (object): the arguments given to ``apply``.
            **kwargs (object): keyword arguments (``apply`` passes none).

        Returns:
            Tensor or tuple of Tensor: the outputs (non-tensor outputs are allowed and get no gradient).

        PyTorch:
            ``torch.autograd.Function.forward``; same semantics.

        Example:
            >>> class Double(ember.autograd.Function):
            ...     @staticmethod
            ...     def forward(ctx, x):
            ...         return x * 2
            ...     @staticmethod
            ...     def backward(ctx, grad):
            ...         return grad * 2
            >>> x = ember.tensor([1.0, 2.0], requires_grad=True)
            >>> Double.apply(x)
            tensor([2., 4.], grad_fn=<DoubleBackward>)
        """
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):
        """Compute the gradients of forward's arguments from those of its outputs (to be overridden
        by a subclass as a staticmethod).

        Args:
            ctx (FunctionCtx): the context forward (or setup_context) saved on.
            *grads (Tensor): one gradient per output of forward (zeros where an output got none, unless
                ``ctx.set_materialize_grads(False)``: then None).

        Returns:
            Tensor or tuple of Tensor: one gradient per argument of forward (None for those that need none).

        PyTorch:
            ``torch.autograd.Function.backward``; same semantics.

        Example:
            >>> class Double(ember.autograd.Function):
            ...     @staticmethod
            ...     def forward(ctx, x):
            ...         return x * 2
            ...     @staticmethod
            ...     def backward(ctx, grad):
            ...         return grad * 2
            >>> x = ember.tensor([1.0, 2.0], requires_grad=True)
            >>> Double.apply(x).sum().backward()
            >>> x.grad
            tensor([2., 2.])
        """
        raise NotImplementedError

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        """Save what backward needs, in the style where forward takes no ``ctx`` (to be
        overridden by a subclass as a staticmethod; optional).

        Args:
            ctx (FunctionCtx): the context to save on.
            inputs (tuple): the arguments given to ``apply``.
            output (Tensor or tuple): what forward returned.

        PyTorch:
            ``torch.autograd.Function.setup_context``; same semantics.

        Example:
            >>> class Cube(ember.autograd.Function):
            ...     @staticmethod
            ...     def forward(x):
            ...         return x ** 3
            ...     @staticmethod
            ...     def setup_context(ctx, inputs, output):
            ...         ctx.save_for_backward(inputs[0])
            ...     @staticmethod
            ...     def backward(ctx, grad):
            ...         (x,) = ctx.saved_tensors
            ...         return 3 * x ** 2 * grad
            >>> x = ember.tensor([2.0], requires_grad=True)
            >>> Cube.apply(x).backward()
            >>> x.grad
            tensor([12.])
        """
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run the op: call forward and, when an argument requires grad, record it in the autograd
        graph so that backward is called for its gradients.

        Floating-point tensor outputs get the Function as their ``grad_fn`` (unless marked non-differentiable); an
        output that is one of the inputs comes back as a new tensor sharing its memory. With a ``setup_context``,
        keyword arguments (and forward's defaults) are bound into positional ones, each an input that backward
        returns a gradient for; else they go to forward as they are and get none.

        Args:
            *args (object): the arguments of forward (tensors and anything else).
            **kwargs (object): forward's keyword arguments.

        Returns:
            Tensor or tuple of Tensor: forward's outputs.

        PyTorch:
            ``torch.autograd.Function.apply``; same semantics.

        Example:
            >>> class Double(ember.autograd.Function):
            ...     @staticmethod
            ...     def forward(ctx, x):
            ...         return x * 2
            ...     @staticmethod
            ...     def backward(ctx, grad):
            ...         return grad * 2
            >>> x = ember.tensor([1.0, 2.0], requires_grad=True)
            >>> Double.apply(x).requires_grad
            True
        """
        ctx = FunctionCtx()
        recording = is_grad_enabled()
        new_style = cls.setup_context is not Function.setup_context
        if new_style and (kwargs or len(args) < _n_parameters(cls.forward)):  # PyTorch's bind_default_args
            bound = inspect.signature(cls.forward).bind(*args, **kwargs)
            bound.apply_defaults()
            args, kwargs = bound.args, {}
        ctx.needs_input_grad = tuple(recording and isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            out = cls.forward(*args, **kwargs) if new_style else cls.forward(ctx, *args, **kwargs)
            if new_style:
                cls.setup_context(ctx, args, out)
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        dirty = getattr(ctx, "_dirty", ())
        for d in dirty:  # inputs forward changed in place: returned as they are, this node their history now
            if not any(d is o for o in outs):
                raise RuntimeError(f"{cls.__name__}.forward: some elements marked as dirty during the forward "
                                   f"method were not returned as output")
            check_inplace(d, f"{cls.__name__}.apply")
            increment_version(d)
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
                    if any(o is a for a in args) and not any(o is d for d in dirty):  # an input: its own identity
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
