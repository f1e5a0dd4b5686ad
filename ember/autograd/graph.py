"""The autograd graph: nodes, how an op runs and is recorded (``apply``, ``record``), and version counters.

Every operation is a ``Node`` subclass (registered in ``ember/ops``): ``forward(xp, *arrays)`` computes on arrays
(NumPy or CuPy) and ``backward(*grads)`` returns the input gradients written with ops (or with a gradient node, an
op of its own), so that gradients of gradients work. ``apply(node, *args)`` runs the forward on the arrays of its
tensor arguments and, when a gradient is wanted, ``record`` makes the node the ``grad_fn`` of the outputs.
"""
import contextlib
import copy
import itertools
import threading

import numpy as np

from .. import _storage, _tracing
from ..device import get_array_module
from ..tensor import Tensor, init_tensor
from .grad_mode import is_grad_enabled, state as grad_mode

__all__ = ["Node", "apply", "record", "alias", "increment_version", "check_version", "on_apply"]

_next_seq = itertools.count().__next__  # creation order of nodes: the engine's topological order
_ndarray = np.ndarray
_new = object.__new__
_counting = _storage.on
_FLOAT_KINDS = "fV"  # "V": bfloat16 from ml_dtypes; of several outputs, only the floating-point ones get gradients


class Node:
    """One recorded operation in the autograd graph: the ``grad_fn`` of the tensors it made.

    Subclasses set ``saves`` (indices of inputs the backward reads; None means all) and implement
    ``forward(xp, *arrays)`` and ``backward(*grads)`` (one gradient per output; None where an output got none).
    When a node is recorded, the tensor inputs not in ``saves`` are replaced by None in ``self.inputs`` (numbers
    stay), so that activations no backward needs are freed as soon as the user drops them: a backward reads only
    the inputs in ``saves`` (a property may choose them from ``needs_input_grad``) and keeps any other array-valued
    state on ``self`` in ``forward``. All of it is released after backward unless the graph is retained.

    A backward returns one gradient per input (None for inputs that need none); a gradient with the shape of a
    broadcast of its input is summed back to the input's shape by the engine.

    PyTorch:
        ``torch.autograd.graph.Node``, the type of ``grad_fn``: it has ``next_functions`` and
        ``register_hook``, but ``name`` is a property holding the op's class name (``"Sum"``; PyTorch's
        ``name()`` is a method returning ``"SumBackward0"``). Writing ops as Node subclasses is ember's own
        (PyTorch's are C++).

    Example:
        >>> y = (ember.ones(2, requires_grad=True) * 2).sum()
        >>> y.grad_fn, isinstance(y.grad_fn, ember.autograd.Node)
        (<SumBackward0>, True)
        >>> y.grad_fn.next_functions
        ((<MulBackward0>, 0),)
    """

    __slots__ = ("inputs", "edges", "needs_input_grad", "input_meta", "_versions", "_pre_hooks", "_seq",
                 "__dict__", "__weakref__")
    saves = None          # indices of the inputs that backward reads (None: all of them)
    saves_output = False  # True when backward reads the output (so modifying it in place is an error)
    is_view = False       # True when the outputs share memory with input 0
    differentiable = True
    fresh_grads = True    # the gradients backward returns are new arrays held nowhere else (a leaf may adopt them)
    n_outputs = 1
    random = False        # forward draws random numbers (a compiled graph never merges two such ops)

    def has_effects(self):
        """Whether forward changes state beyond its outputs (batch norm's running statistics): a compiled graph
        keeps such an op even when nothing reads its outputs."""
        return False

    @property
    def name(self):
        return type(self).__name__

    def forward(self, xp, *args):
        raise NotImplementedError

    def backward(self, *grads):
        raise NotImplementedError

    def infer(self, *args):
        """The shape/dtype rule: the output's TensorMeta (a tuple of them for several outputs) from the arguments
        (a TensorMeta for each tensor, numbers and None as they are), computed without data."""
        raise NotImplementedError(f"{self.name}: no shape rule")

    def saved_output(self):
        """The output array stored as ``self.out`` in forward, as a tensor (part of the graph when recording)."""
        return Tensor._wrap(self.out, True, self) if is_grad_enabled() else Tensor._wrap(self.out)

    def release(self):
        """Drop what backward needed (saved inputs, arrays on self) once the graph is not retained. A node that
        keeps neither (a clone, a sum, a view) keeps its state, so that a second backward runs through it, as
        through PyTorch's nodes that saved no tensor."""
        if not _holds_arrays(self.inputs or ()) and not _holds_arrays(self.__dict__.values()):
            return
        self.inputs = None
        self._versions = None
        self.__dict__.clear()

    # PyTorch-compatible introspection
    @property
    def next_functions(self):
        return tuple(e if e.__class__ is tuple else ((AccumulateGrad(e) if e is not None else None), 0)
                     for e in (self.edges or ()))

    def register_hook(self, fn):
        """Not supported on nodes; use Tensor.register_hook."""
        raise NotImplementedError("Node.register_hook: use Tensor.register_hook")

    def __repr__(self):
        return f"<{self.name}Backward0>"


class AccumulateGrad:
    """What ``next_functions`` shows for a leaf (PyTorch's AccumulateGrad node)."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        self.variable = variable

    def __repr__(self):
        return "<AccumulateGrad>"


def _holds_arrays(values):
    """Whether values (a node's inputs or attributes) hold a tensor or an array, also inside tuples and lists."""
    for v in values:
        c = v.__class__
        if c in _PLAIN:
            continue
        if c is np.ndarray or isinstance(v, Tensor):
            return True
        if c is tuple or c is list:
            if _holds_arrays(v):
                return True
        elif hasattr(v, "shape") and hasattr(v, "dtype"):  # CuPy's arrays, NumPy's scalars
            return True
    return False


_PLAIN = frozenset((type(None), bool, int, float, str, slice))


FREED = ("Trying to backward through the graph a second time (or directly access saved tensors after they have "
         "already been freed). Saved intermediate values of the graph are freed when you call .backward() or "
         "autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or "
         "if you need to access saved tensors after calling backward.")


def increment_version(tensor):
    """Mark tensor as modified in place: nodes that saved it for backward will refuse to use it."""
    tensor._vbox[0] += 1
    if _tracing.active[0]:
        _tracing.bumped(tensor)


def alias(t):
    """A second tensor object for t's data and history, sharing its version counter (and view base)."""
    a = Tensor._wrap(t._data, t.requires_grad, t.grad_fn)
    a._vbox, a._out_index, a._base = t._vbox, t._out_index, t._base
    if _tracing.active[0]:
        _tracing.aliased(a, t)
    return a


def check_version(node, i, vbox, version):
    """Raise PyTorch's error when a tensor saved for backward was modified in place after it was saved."""
    if vbox[0] != version:
        what = "output 0" if i < 0 else f"input {i}"
        raise RuntimeError(
            "one of the variables needed for gradient computation has been modified by an inplace operation: "
            f"the tensor which is {what} of {node.name}Backward0 is at version {vbox[0]}; expected version "
            f"{version} instead. Hint: replace the inplace operation by an out-of-place one.")


def _edge(a):
    """Where the gradient of input a goes: its node and output index, the leaf itself, or nowhere (None)."""
    if isinstance(a, Tensor) and a.requires_grad:
        fn = a.grad_fn
        return a if fn is None else (fn, a._out_index)
    return None


def _meta(a):
    """(shape, dtype) of a tensor input, which the engine reduces and casts its gradient to; None for numbers."""
    if isinstance(a, Tensor):
        d = a._data
        return d.shape, d.dtype
    return None


def record(node, inputs, outputs):
    """Make node the grad_fn of outputs (a tensor, or a sequence of them: None and integer outputs are not attached),
    connected to the history of inputs.

    The node keeps only the tensor inputs its backward reads (``node.saves``; numbers stay), so that the memory of
    the others can go before backward runs; those it keeps are version-checked, and so is output 0 when the node
    saves its output. The one- and two-input cases are spelled out: this runs for every recorded op.
    """
    n = len(inputs)
    if n == 1:
        a = inputs[0]
        ea = None
        if a.requires_grad:
            fn = a.grad_fn
            ea = a if fn is None else (fn, a._out_index)
        node.edges = (ea,)
        node.needs_input_grad = (ea is not None,)
        d = a._data
        node.input_meta = ((d.shape, d.dtype),)
    elif n == 2:
        a, b = inputs
        ea = eb = ma = mb = None
        if isinstance(a, Tensor):
            if a.requires_grad:
                fn = a.grad_fn
                ea = a if fn is None else (fn, a._out_index)
            d = a._data
            ma = (d.shape, d.dtype)
        if isinstance(b, Tensor):
            if b.requires_grad:
                fn = b.grad_fn
                eb = b if fn is None else (fn, b._out_index)
            d = b._data
            mb = (d.shape, d.dtype)
        node.edges = (ea, eb)
        node.needs_input_grad = (ea is not None, eb is not None)
        node.input_meta = (ma, mb)
    else:
        edges = node.edges = tuple([_edge(a) for a in inputs])
        node.needs_input_grad = tuple([e is not None for e in edges])
        node.input_meta = tuple([_meta(a) for a in inputs])
    node._pre_hooks = None
    node._seq = _next_seq()
    saves = node.saves
    versions = None
    if saves is None:
        node.inputs = inputs
        versions = [(i, a._vbox, a._vbox[0]) for i, a in enumerate(inputs) if isinstance(a, Tensor)]
    else:
        if n == 1:
            node.inputs = inputs if saves else (None,)
        elif n == 2:
            node.inputs = (a if 0 in saves or ma is None else None, b if 1 in saves or mb is None else None)
        else:
            node.inputs = tuple([a if i in saves or not isinstance(a, Tensor) else None
                                 for i, a in enumerate(inputs)])
        for i in saves:
            a = inputs[i]
            if isinstance(a, Tensor):
                if versions is None:
                    versions = []
                vbox = a._vbox
                versions.append((i, vbox, vbox[0]))
    if outputs.__class__ is Tensor:
        outputs.requires_grad = True
        outputs.grad_fn = node
        first = outputs
    else:
        first = outputs[0]
        for i, t in enumerate(outputs):
            if t is not None and t._data.dtype.kind in _FLOAT_KINDS:
                t.requires_grad, t.grad_fn, t._out_index = True, node, i
    if node.saves_output:
        if versions is None:
            versions = []
        versions.append((-1, first._vbox, first._vbox[0]))
    node._versions = versions


class _Observers(threading.local):
    def __init__(self):
        self.stack = []


_observers = _Observers()
_observing = [0]  # how many on_apply contexts are open in any thread: apply looks at its thread's only then


@contextlib.contextmanager
def on_apply(callback):
    """While active, callback(node, args, outputs) is called in this thread after every op that runs, with a copy
    of the node as it was before its forward, the arguments as given, and the output tensor or tuple of tensors:
    how a graph is captured by tracing. A callback with a true ``wants_live_node`` attribute also gets the node
    that ran (holding what its forward kept for backward) as a fourth argument."""
    _observers.stack.append(callback)
    _observing[0] += 1
    try:
        yield
    finally:
        _observing[0] -= 1
        _observers.stack.pop()


def apply(node, *args):
    """Run node.forward on the arrays of args (tensors or Python scalars) and record node when grads are needed.

    A forward returns an array, or a tuple of arrays for a node with several outputs (None for an output it does not
    compute, e.g. a gradient node's gradient that no input needs). This is the hot path of every op (and of every
    gradient op in a backward), so the common cases are spelled out.
    """
    if _observing[0] and _observers.stack:
        return _apply_observed(_observers.stack[-1], node, args)
    n = len(args)
    if n == 1 and isinstance(args[0], Tensor):
        a = args[0]
        x = a._data
        grad = a.requires_grad
        out = node.forward(np if x.__class__ is _ndarray else get_array_module(x), x)
    elif n == 2:
        a, b = args
        if isinstance(a, Tensor):
            x = a._data
            grad = a.requires_grad
        else:
            x = a
            grad = False
        if isinstance(b, Tensor):
            y = b._data
            if b.requires_grad:
                grad = True
        else:
            y = b
        out = node.forward(np if x.__class__ is _ndarray else _xp_of((x, y)), x, y)
    else:
        arrays = []
        grad = False
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a._data)
                if a.requires_grad:
                    grad = True
            else:
                arrays.append(a)
        out = node.forward(np if arrays and arrays[0].__class__ is _ndarray else _xp_of(arrays), *arrays)
    if out.__class__ is _ndarray:
        result = _new(Tensor)
        init_tensor(result, out)
        if node.is_view:
            _share_version(result, args[0])
    else:
        result = _outputs(node, out, args)
    if grad and node.differentiable and grad_mode.enabled:
        record(node, args, result)
        if _counting[0] and node.__dict__:
            _storage.count_state(node)  # what forward kept on the node for backward (ember.memory)
    return result


def _apply_observed(callback, node, args):
    """apply, then callback(a copy of the node as it was before its forward, args, the result)."""
    pristine = copy.copy(node)
    observers = _observers.stack
    _observers.stack = []  # the ops this op runs inside its own forward are its business, not the trace's
    try:
        result = apply(node, *args)
    finally:
        _observers.stack = observers
    if getattr(callback, "wants_live_node", False):
        callback(pristine, args, result, node)
    else:
        callback(pristine, args, result)
    return result


def _outputs(node, out, args):
    """The output tensor(s) of an op whose forward returned something else than one NumPy array: a tuple of arrays
    (None for outputs not computed), a NumPy scalar (a 0-d result) or another array module's array."""
    if out.__class__ is tuple:
        return tuple([None if o is None else _outputs(node, o, args) for o in out])
    if isinstance(out, np.generic):
        out = np.asarray(out)
    elif out.__class__ is not _ndarray:
        xp = _xp_of([a._data if isinstance(a, Tensor) else a for a in args])
        out = out if isinstance(out, xp.ndarray) else xp.asarray(out)
    t = _new(Tensor)
    init_tensor(t, out)
    if node.is_view:
        _share_version(t, args[0])
    return t


def _share_version(view, src):
    """A view of input src shares its version counter (and its base), so in-place changes reach saved copies."""
    if isinstance(src, Tensor):
        view._vbox = src._vbox
        view._base = src if src._base is None else src._base


def _xp_of(arrays):
    for a in arrays:
        if hasattr(a, "__array_namespace__") or isinstance(a, np.ndarray):
            return get_array_module(a)
    return np
