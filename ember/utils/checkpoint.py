"""Activation checkpointing (torch.utils.checkpoint): trade compute for memory.

``checkpoint(function, *args, use_reentrant=False)`` returns what ``function(*args)`` returns, but the activations
computed inside it are not kept for backward: backward runs the function again (with the random state of the
forward restored, so dropout draws the same mask, and the same autocast state) and back-propagates through that
recomputation. Gradients are those of the plain call, bit for bit (the same ops on the same values; only where a
tensor is used both inside and outside the function may its contributions be summed in another order).

The two variants of PyTorch, chosen by ``use_reentrant``:

- ``use_reentrant=False`` (recommended): the forward is recorded, then its graph is cut out and replaced by one
  ``Checkpoint`` node whose inputs are the tensors the function's graph reached from outside (its tensor
  arguments, the parameters it used, tensors it captured); so gradients reach all of them, ``autograd.grad`` works,
  and so do keyword arguments, nested outputs and double backward. The activations live only while the function
  runs (as they would during its recomputation), and are freed when it returns.
- ``use_reentrant=True`` (PyTorch's default when the flag is not passed, with a warning): an ``autograd.Function``
  whose forward runs under no_grad and whose backward recomputes and calls ``autograd.backward`` (parameters get
  their ``.grad`` from that inner backward). As in PyTorch, it needs an input that requires grad (otherwise
  nothing inside gets a gradient, with a warning), takes no keyword arguments, and is for ``.backward()``.
"""
from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, TypeAlias, TypeVar

import numpy as np

from ..amp.autocast_mode import autocast
from ..autograd import Function, enable_grad, graph, is_grad_enabled
from ..autograd import backward as autograd_backward, grad as autograd_grad
from .._storage import root_of
from ..autograd.graph import Node, check_version, on_apply, record
from ..nn import Sequential
from ..ops import _autocast
from ..ops.random import get_rng_state, set_rng_state
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointError", "CheckpointFunction", "noop_context_fn",
           "set_checkpoint_debug_enabled", "set_checkpoint_early_stop", "detach_variable",
           "check_backward_validity"]

_DETERMINISM_CHECKS = ("default", "none")
_T = TypeVar("_T")  # what the checkpointed function returns, and so checkpoint
# checkpoint's context_fn: two context managers, for the forward and for the recomputation
ContextFn: TypeAlias = Callable[[], tuple[AbstractContextManager[Any], AbstractContextManager[Any]]]
_debug_enabled = None  # set_checkpoint_debug_enabled's override of ``debug``


class CheckpointError(RuntimeError):
    """Raised in backward when the recomputation did not reproduce the forward: another number of outputs that
    require grad, or (``determinism_check="default"``) outputs of another shape, dtype or device.

    PyTorch:
        ``torch.utils.checkpoint.CheckpointError``; a RuntimeError, as there.
    """


def noop_context_fn() -> tuple[AbstractContextManager[Any], AbstractContextManager[Any]]:
    """The default ``context_fn`` of checkpoint: no context around the forward or the recomputation.

    Returns:
        tuple: two ``contextlib.nullcontext()``, for the forward and for the recomputation.

    PyTorch:
        ``torch.utils.checkpoint.noop_context_fn``; same semantics.

    Example:
        >>> forward_context, recompute_context = ember.utils.checkpoint.noop_context_fn()
        >>> type(forward_context).__name__
        'nullcontext'
    """
    return contextlib.nullcontext(), contextlib.nullcontext()


@contextlib.contextmanager
def set_checkpoint_debug_enabled(enabled: bool | None) -> Iterator[None]:
    """Within the block, ``debug`` is ``enabled`` for every checkpoint call (None: each call's own ``debug``).

    With debug on, a CheckpointError raised in backward also lists the ops of the forward and of the
    recomputation (use_reentrant=False).

    Args:
        enabled (bool or None): the debug setting to impose; None leaves it to each call.

    Returns:
        a context manager (the previous setting comes back when the block ends).

    PyTorch:
        ``torch.utils.checkpoint.set_checkpoint_debug_enabled``; same semantics (the op lists are ember's).

    Example:
        >>> x = ember.randn(2, 4, requires_grad=True)
        >>> with ember.utils.checkpoint.set_checkpoint_debug_enabled(True):
        ...     y = ember.utils.checkpoint.checkpoint(nn.Linear(4, 4), x, use_reentrant=False)
        >>> y.sum().backward(); x.grad.shape
        ember.Size([2, 4])
    """
    global _debug_enabled
    prev, _debug_enabled = _debug_enabled, enabled
    try:
        yield
    finally:
        _debug_enabled = prev


@contextlib.contextmanager
def set_checkpoint_early_stop(enable: bool) -> Iterator[None]:
    """Set checkpoint's ``early_stop`` within the block: accepted for PyTorch programs, with no effect.

    PyTorch's early stop ends a recomputation once the tensors backward needs exist; ember's recomputation always
    runs the whole function (early_stop=False), whatever this says.

    Args:
        enable (bool): the early_stop setting to impose (ignored).

    Returns:
        a context manager that changes nothing.

    PyTorch:
        ``torch.utils.checkpoint.set_checkpoint_early_stop``; accepted but without effect (see above).

    Example:
        >>> x = ember.randn(2, 4, requires_grad=True)
        >>> with ember.utils.checkpoint.set_checkpoint_early_stop(False):
        ...     y = ember.utils.checkpoint.checkpoint(nn.Linear(4, 4), x, use_reentrant=False)
        >>> y.shape
        ember.Size([2, 4])
    """
    yield


def detach_variable(inputs: tuple[Any, ...]) -> tuple[Any, ...]:
    """Detach the tensors of a tuple from their graph, keeping their requires_grad (other values as they are).

    The reentrant checkpoint's backward runs the function again on such detached inputs.

    Args:
        inputs (tuple): the values; anything but a tuple raises RuntimeError.

    Returns:
        tuple: the values, each tensor replaced by a new leaf that shares its data.

    PyTorch:
        ``torch.utils.checkpoint.detach_variable``; same semantics.

    Example:
        >>> y = ember.ones(2, requires_grad=True) * 2
        >>> z, n = ember.utils.checkpoint.detach_variable((y, 3))
        >>> z.is_leaf, z.requires_grad, n
        (True, True, 3)
    """
    if not isinstance(inputs, tuple):
        raise RuntimeError(f"Only tuple of tensors is supported. Got Unsupported input type: "
                           f"{type(inputs).__name__}")
    return tuple(a.detach().requires_grad_(a.requires_grad) if isinstance(a, Tensor) else a for a in inputs)


def check_backward_validity(inputs: Iterable[Any]) -> None:
    """Warn, as PyTorch's reentrant checkpoint does, when no tensor input requires grad (nothing inside the
    checkpointed function would then get a gradient).

    Args:
        inputs (iterable): the function's arguments (values that are not tensors are skipped).

    PyTorch:
        ``torch.utils.checkpoint.check_backward_validity``; the same UserWarning.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     ember.utils.checkpoint.check_backward_validity([ember.ones(2), 3])
        >>> str(caught[0].message)
        'None of the inputs have requires_grad=True. Gradients will be None'
    """
    if not any(a.requires_grad for a in inputs if isinstance(a, Tensor)):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", stacklevel=2)


# --- the state the recomputation restores --------------------------------------------------------------------------

class _ForwardState:
    """What the forward ran under and the recomputation must run under again: the random state (ember has one
    generator for every device) when preserve_rng_state, and the autocast state of each device type."""

    def __init__(self, preserve_rng_state):
        self.rng = get_rng_state() if preserve_rng_state else None
        self.autocast = [(d, _autocast.is_enabled(d), _autocast.get_dtype(d)) for d in _autocast.DEVICE_TYPES]
        self.autocast_cache = _autocast.is_cache_enabled()

    @contextlib.contextmanager
    def restored(self, extra_context=None):
        """Grad mode on, the forward's random and autocast state, then extra_context; the caller's random state
        comes back afterwards (torch.random.fork_rng)."""
        outer_rng = None
        if self.rng is not None:
            outer_rng = get_rng_state()
            set_rng_state(self.rng)
        try:
            with contextlib.ExitStack() as stack:
                stack.enter_context(enable_grad())
                for device_type, enabled, dtype in self.autocast:
                    stack.enter_context(autocast(device_type, dtype=dtype, enabled=enabled,
                                                 cache_enabled=self.autocast_cache))
                if extra_context is not None:
                    stack.enter_context(extra_context)
                yield
        finally:
            if outer_rng is not None:
                set_rng_state(outer_rng)


# --- use_reentrant=True: PyTorch's CheckpointFunction ---------------------------------------------------------------

class CheckpointFunction(Function):
    """The reentrant checkpoint (``checkpoint(..., use_reentrant=True)``): an autograd Function whose forward runs
    under no_grad and whose backward recomputes the function and runs a backward of its own.

    ``CheckpointFunction.apply(run_function, preserve_rng_state, *args)``: positional arguments only (no keyword
    arguments), at least one of them a tensor that requires grad (a warning otherwise).

    PyTorch:
        ``torch.utils.checkpoint.CheckpointFunction``; same semantics.

    Example:
        >>> x = ember.randn(2, 4, requires_grad=True)
        >>> y = ember.utils.checkpoint.CheckpointFunction.apply(nn.Linear(4, 4), True, x)
        >>> y.sum().backward(); x.grad.shape
        ember.Size([2, 4])
    """

    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, *args):
        check_backward_validity(args)
        ctx.run_function = run_function
        ctx.state = _ForwardState(preserve_rng_state)
        ctx.inputs = [None if isinstance(a, Tensor) else a for a in args]
        ctx.tensor_indices = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx.save_for_backward(*(a for a in args if isinstance(a, Tensor)))
        return run_function(*args)  # Function.apply runs forward under no_grad

    @staticmethod
    def backward(ctx, *grads):
        inputs = list(ctx.inputs)
        for i, t in zip(ctx.tensor_indices, ctx.saved_tensors):
            inputs[i] = t
        with ctx.state.restored():
            detached = detach_variable(tuple(inputs))
            outputs = ctx.run_function(*detached)
        if isinstance(outputs, Tensor):
            outputs = (outputs,)
        pairs = [(o, g) for o, g in zip(outputs, grads) if isinstance(o, Tensor) and o.requires_grad]
        if not pairs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not necessary")
        autograd_backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None) + tuple(a.grad if isinstance(a, Tensor) else None for a in detached)


# --- use_reentrant=False: the recorded graph replaced by one node ---------------------------------------------------
#
# Nodes are numbered in creation order (``_seq``, the engine's order), so the nodes recorded while the function ran
# are those numbered from the clock's value before it ran: its region of the graph. The edges that leave the region
# (to leaves, and to nodes recorded before) are where its gradients go.

def _clock():
    """A number no node recorded so far has reached (graph's node counter)."""
    return graph._next_seq()


def _map_tensors(value, fn):
    """value with fn applied to every tensor in it (through tuples, named tuples, lists and dicts)."""
    if isinstance(value, Tensor):
        return fn(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_map_tensors(v, fn) for v in value))
    if isinstance(value, (tuple, list)):
        return type(value)(_map_tensors(v, fn) for v in value)
    if isinstance(value, dict):
        return type(value)((k, _map_tensors(v, fn)) for k, v in value.items())
    return value


def _differentiable_outputs(value):
    """The distinct tensors in value that require grad, in order."""
    found = {}
    _map_tensors(value, lambda t: found.setdefault(id(t), t) if t.requires_grad else None)
    return list(found.values())


def _metadata(t):
    return {"shape": tuple(t.shape), "dtype": t.dtype, "device": t.device}


def _inside(t, start):
    """Whether t was computed by the region (its node was recorded from start on)."""
    return t.grad_fn is not None and t.grad_fn._seq >= start


def _key(edge):
    """A graph edge's identity: the leaf, or (node, output index)."""
    return (id(edge[0]), edge[1]) if edge.__class__ is tuple else id(edge)


def _tensor_key(t):
    return (id(t.grad_fn), t._out_index) if t.grad_fn is not None else id(t)


def _leaving_edges(outputs, start):
    """(node, input index, edge) for every edge from the region that outputs reach to a leaf or an older node."""
    stack = list({id(t.grad_fn): t.grad_fn for t in outputs if _inside(t, start)}.values())
    seen = {id(n) for n in stack}
    found = []
    while stack:
        node = stack.pop()
        for i, e in enumerate(node.edges):
            if e is None:
                continue
            if e.__class__ is tuple and e[0]._seq >= start:
                if id(e[0]) not in seen:
                    seen.add(id(e[0]))
                    stack.append(e[0])
            else:
                found.append((node, i, e))
    return found


def _placeholder(meta, node=None, index=0):
    """A tensor with the shape and dtype of meta and no storage of its own: the leaf at a cut edge (node None),
    or the stand-in for output ``index`` of an older node reached through a captured tensor. record and grad read
    only that (and the node)."""
    shape, np_dtype = meta
    t = Tensor._wrap(np.broadcast_to(np.zeros((), np_dtype), shape), True, node)
    t._out_index = index
    return t


def _boundary(outputs, args, kwargs, start):
    """The tensors outside the region whose gradients the region gives: {edge key: tensor}. They are the
    arguments, the leaves (parameters) and, for tensors the function captured, stand-ins of their nodes."""
    known = {_tensor_key(a): a for a in (*args, *kwargs.values()) if isinstance(a, Tensor) and a.requires_grad}
    found = {}
    for t in outputs:
        if not _inside(t, start):  # the function returned an outside tensor as it is
            found.setdefault(_tensor_key(t), t)
    for node, i, e in _leaving_edges(outputs, start):
        key = _key(e)
        if key not in found:
            if e.__class__ is not tuple:
                found[key] = e
            else:
                found[key] = known[key] if key in known else _placeholder(node.input_meta[i], e[0], e[1])
    return found


def _cut(outputs, start):
    """Make every edge from the region (a recomputation) to an older node point to a new leaf instead, so that a
    gradient taken in the region stops at its border: {edge key: that leaf}. The region's nodes still read the
    outside tensors themselves, so a gradient recorded under create_graph still depends on them."""
    leaves = {}
    for node, i, e in _leaving_edges(outputs, start):
        if e.__class__ is tuple:
            key = _key(e)
            if key not in leaves:
                leaves[key] = _placeholder(node.input_meta[i])
            edges = list(node.edges)
            edges[i] = leaves[key]
            node.edges = tuple(edges)
    return leaves


class Checkpoint(Node):
    """The node that stands for a checkpointed call: backward recomputes the call and differentiates it."""

    saves = ()           # the arguments are kept on the node for the recomputation, not as saved inputs
    fresh_grads = True   # backward copies a gradient that shares memory with one it was given (see _own)

    def __init__(self, function, args, kwargs, state, recompute_context, outputs, boundary, check, on_error):
        self.function, self.args, self.kwargs = function, args, kwargs
        self.state, self.recompute_context = state, recompute_context
        self.n_outputs = len(outputs)
        self.metadata = [_metadata(t) for t in outputs] if check else None
        self.boundary = boundary
        self.on_error = on_error
        tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, Tensor)]
        self.versions = [(i, a._vbox, a._vbox[0]) for i, a in enumerate(tensors)]

    def release(self):
        n = self.n_outputs
        super().release()
        self.n_outputs = n

    def backward(self, *grads):
        for i, vbox, version in self.versions:
            check_version(self, i, vbox, version)
        create_graph = is_grad_enabled()  # the engine records the backward only for create_graph
        start = _clock()
        with self.state.restored(self.recompute_context):
            outputs = _differentiable_outputs(self.function(*self.args, **self.kwargs))
        self._check(outputs)
        cut = _cut(outputs, start)
        keys = list(self.boundary)
        inputs = [cut.get(k, t) for k, t in self.boundary.items()]
        result = [None] * len(keys)
        inner, inner_grads = [], []
        for o, g in zip(outputs, grads):
            if g is None:
                continue
            if _inside(o, start):
                inner.append(o)
                inner_grads.append(g)
            else:  # an outside tensor returned as it is: its gradient is g
                i = keys.index(_tensor_key(o))
                result[i] = g if result[i] is None else result[i] + g
        if inner:
            got = autograd_grad(inner, inputs, inner_grads, retain_graph=create_graph, create_graph=create_graph,
                                allow_unused=True)
            result = [a if b is None else b if a is None else a + b for a, b in zip(result, got)]
        return _own(result, grads)

    def _check(self, outputs):
        if len(outputs) != self.n_outputs:
            self._fail(CheckpointError(
                "checkpoint: A different number of tensors that require grad was returned during the original "
                f"forward and recomputation.\nNumber of tensors in the forward: {self.n_outputs}\nNumber of "
                f"tensors in the recomputation: {len(outputs)}.\n{_DEBUG_TIP}"))
        if self.metadata is None:
            return
        different = [(i, m, _metadata(t)) for i, (m, t) in enumerate(zip(self.metadata, outputs))
                     if m != _metadata(t)]
        if different:
            lines = "".join(f"tensor at position {i}:\nsaved metadata: {m}\nrecomputed metadata: {r}\n"
                            for i, m, r in different)
            self._fail(CheckpointError("checkpoint: Recomputed values for the following tensors have different "
                                       f"metadata than during the forward pass.\n{lines}.\n{_DEBUG_TIP}"))

    def _fail(self, error):
        if self.on_error is not None:
            self.on_error(error)
        raise error


def _own(result, given):
    """result with a copy of each gradient that shares memory with a gradient in given: the rest are new arrays
    of the recomputation's backward, which a parameter may adopt as its .grad without a copy (fresh_grads)."""
    roots = {id(root_of(g._data)) for g in given if g is not None}
    return tuple(r.clone() if r is not None and id(root_of(r._data)) in roots else r for r in result)


_DEBUG_TIP = ("Tip: To see a more detailed error message, either pass `debug=True` to "
              "`ember.utils.checkpoint.checkpoint(...)` or wrap the code block with "
              "`with ember.utils.checkpoint.set_checkpoint_debug_enabled(True):` to enable checkpoint-debug mode "
              "globally.")


def _debug_context_fn():
    """debug=True: a context_fn that logs the ops of the forward and of the recomputation, and the callback that
    puts both logs into a CheckpointError."""
    logs = {"forward": [], "recomputation": []}

    def logging(name):
        def log(node, args, out):
            shapes = ", ".join(str(tuple(a.shape)) if isinstance(a, Tensor) else repr(a) for a in args)
            logs[name].append(f"{node.name}({shapes})")
        logs[name].clear()
        return on_apply(log)

    def context_fn():
        return logging("forward"), logging("recomputation")

    def on_error(error):
        forward, recomputed = ("\n".join(logs[k]) for k in ("forward", "recomputation"))
        raise CheckpointError(f"{error}\n\nOperations executed during the original forward:\n\n{forward}\n\n"
                              f"Operations executed during recomputation:\n\n{recomputed}\n\nERROR: Detected "
                              "non-determinism while running activation checkpointing (debug=True).") from error

    return context_fn, on_error


def _checkpoint_without_reentrant(function, preserve_rng_state, context_fn, determinism_check, debug, args,
                                  kwargs):
    on_error = None
    if _debug_enabled if _debug_enabled is not None else debug:
        if context_fn is not noop_context_fn:
            raise ValueError("debug=True is incompatible with non-default context_fn")
        context_fn, on_error = _debug_context_fn()
    if determinism_check not in _DETERMINISM_CHECKS:
        raise ValueError(f"determinism_check should be one of {list(_DETERMINISM_CHECKS)}, but got "
                         f"{determinism_check}")
    forward_context, recompute_context = context_fn()
    if not is_grad_enabled():
        return function(*args, **kwargs)
    state = _ForwardState(preserve_rng_state)
    start = _clock()
    suppressed = True
    with forward_context:
        result = function(*args, **kwargs)
        suppressed = False
    if suppressed:
        raise RuntimeError("checkpoint: the forward context provided by context_fn suppressed an exception raised "
                           "during the checkpointed forward. This is not supported because checkpoint cannot return "
                           "a value for a failed forward.")
    outputs = _differentiable_outputs(result)
    if not outputs:
        return result
    boundary = _boundary(outputs, args, kwargs, start)
    node = Checkpoint(function, args, kwargs, state, recompute_context, outputs, boundary,
                      determinism_check == "default", on_error)
    replaced = {id(t): _detached_alias(t, start) for t in outputs}
    record(node, tuple(boundary.values()), tuple(replaced.values()))
    # The region's graph goes with the function's own output tensors, and its activations with it.
    return _map_tensors(result, lambda t: replaced.get(id(t), t))


def _detached_alias(t, start):
    """A new tensor for output t: its data, version counter and base (unless the base is an activation of the
    region, which must not stay alive), without its history."""
    a = Tensor._wrap(t._data)
    a._vbox = t._vbox
    if t._base is not None and not _inside(t._base, start):
        a._base = t._base
    return a


# --- the public functions -----------------------------------------------------------------------------------------

def checkpoint(function: Callable[..., _T], *args: Any, use_reentrant: bool | None = None,
               context_fn: ContextFn = noop_context_fn, determinism_check: str = "default", debug: bool = False,
               early_stop: bool = True, **kwargs: Any) -> _T:
    """Run ``function(*args, **kwargs)`` without keeping its activations; backward recomputes them.

    The recomputation runs with the forward's random state (dropout draws the same mask) and autocast state, so
    the gradients are those of the plain call. Under no_grad the function just runs.

    Args:
        function (callable): the function or module to run.
        *args: its positional arguments.
        use_reentrant (bool, optional): which variant (see the module's documentation); pass it explicitly (False
            is recommended): without it ember warns and uses True, as PyTorch does. Default: None.
        context_fn (callable): returns two context managers, for the forward and for the recomputation
            (use_reentrant=False). Default: ``noop_context_fn``.
        determinism_check (str): ``"default"`` compares the shape, dtype and device of the recomputed outputs with
            the forward's (a ``CheckpointError`` when they differ), ``"none"`` does not (use_reentrant=False).
            Default: ``"default"``.
        debug (bool): a CheckpointError also lists the ops of the forward and of the recomputation
            (use_reentrant=False). Default: False.
        early_stop (bool): accepted; ember's recomputation always runs the whole function. Default: True.
        **kwargs: ``preserve_rng_state`` (bool, default True: restore the forward's random state for the
            recomputation); the others go to ``function`` (use_reentrant=False only).

    Returns:
        what ``function`` returns, its tensors attached to one checkpoint node of the graph.

    PyTorch:
        ``torch.utils.checkpoint.checkpoint``; same arguments and semantics, but ``early_stop`` has no effect
        (the recomputation is never cut short).

    Example:
        >>> block = nn.Sequential(nn.Linear(4, 4), nn.Tanh())
        >>> x = ember.randn(2, 4, requires_grad=True)
        >>> y = ember.utils.checkpoint.checkpoint(block, x, use_reentrant=False)
        >>> y.sum().backward()
        >>> x.grad.shape
        ember.Size([2, 4])
    """
    if use_reentrant is None:
        warnings.warn("ember.utils.checkpoint: the use_reentrant parameter should be passed explicitly. Starting "
                      "in PyTorch 2.9, calling checkpoint without use_reentrant will raise an exception. "
                      "use_reentrant=False is recommended, but if you need to preserve the current default "
                      "behavior, you can pass use_reentrant=True. Refer to docs for more details on the "
                      "differences between the two variants.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    if use_reentrant:
        if context_fn is not noop_context_fn or debug is not False:
            raise ValueError("Passing `context_fn` or `debug` is only supported when use_reentrant=False.")
        return CheckpointFunction.apply(function, preserve, *args)
    return _checkpoint_without_reentrant(function, preserve, context_fn, determinism_check, debug, args, kwargs)


def checkpoint_sequential(functions: Sequential | Sequence[Callable[[Any], Any]], segments: int, input: Any,
                          use_reentrant: bool | None = None, **kwargs: Any) -> Any:
    """Run ``functions`` (an ``nn.Sequential`` or a list of modules or functions) one after the other on
    ``input``, in ``segments`` chunks: every chunk but the last is checkpointed (its inner activations recomputed
    in backward).

    Args:
        functions (nn.Sequential or list): the modules or functions, each taking the output of the one before.
        segments (int): the number of chunks.
        input (Tensor): the input of the first function.
        use_reentrant (bool, optional): as checkpoint's; pass it (without it, a warning and True). Default: None.
        **kwargs: ``preserve_rng_state`` (bool, default True), as checkpoint's; no other.

    Returns:
        the output of the last function.

    PyTorch:
        ``torch.utils.checkpoint.checkpoint_sequential``; same semantics.

    Example:
        >>> model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4), nn.ReLU())
        >>> x = ember.randn(2, 4, requires_grad=True)
        >>> y = ember.utils.checkpoint.checkpoint_sequential(model, 2, x, use_reentrant=False)
        >>> y.sum().backward(); x.grad.shape
        ember.Size([2, 4])
    """
    if use_reentrant is None:
        warnings.warn("ember.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be passed "
                      "explicitly. In version 2.9 we will raise an exception if use_reentrant is not passed. "
                      "use_reentrant=False is recommended, but if you need to preserve the current default "
                      "behavior, you can pass use_reentrant=True. Refer to docs for more details on the "
                      "differences between the two variants.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))

    def run_function(start, end, functions):
        def forward(input):
            for j in range(start, end + 1):
                input = functions[j](input)
            return input
        return forward

    if isinstance(functions, Sequential):
        functions = list(functions.children())
    segment_size = len(functions) // segments
    end = -1
    for start in range(0, segment_size * (segments - 1), segment_size):
        end = start + segment_size - 1
        input = checkpoint(run_function(start, end, functions), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run_function(end + 1, len(functions) - 1, functions)(input)
