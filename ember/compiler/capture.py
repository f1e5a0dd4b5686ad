"""Tracing: run a function once, eagerly, and record the ops it runs as a Graph.

Every op runs through ``autograd.graph.apply``; ``on_apply`` hands the tracer each one with its arguments and
outputs, and the tracer maps each tensor object it sees to a graph Value (see ir). What does not run through an op
tells the tracer through ``ember._tracing``: a factory's new tensor becomes a constant, an in-place op's write is
followed (later reads see the written value; a write to a tensor that outlives the function is replayed), and
anything the graph cannot hold (``.item()``, ``.numpy()``, a random factory, ``backward``, an optimizer's step, an
in-place change outside an op) is a graph break: ``trace`` raises GraphBreak naming it and the user's line.
"""
import os
import sys

from .. import _tracing
from ..autograd import graph as _graph
from ..tensor import Tensor
from .ir import Graph, Op, Value

__all__ = ["GraphBreak", "trace", "flatten", "unflatten"]

_EMBER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class GraphBreak(RuntimeError):
    """The function ran something a graph cannot hold; ``what`` names it and ``where`` is the user's line."""

    def __init__(self, what, where):
        super().__init__(f"{what}, at {where}" if where else what)
        self.what, self.where = what, where


def _user_frame():
    """'file:line' of the innermost frame outside ember (the user's code that led to the break)."""
    f = sys._getframe(1)
    while f is not None and os.path.abspath(f.f_code.co_filename).startswith(_EMBER_DIR):
        f = f.f_back
    return f"{f.f_code.co_filename}:{f.f_lineno}" if f is not None else ""


def _value_of_tensor(t, kind, **kw):
    return Value(t._data.shape, t._data.dtype, kind, **kw)


class _Tracer:
    """The on_apply callback and the _tracing listener while one function is traced."""

    def __init__(self, inputs):
        self.values = {}   # id(tensor) -> its current Value
        self.alive = []    # every tensor seen, so that ids stay unique while tracing
        self.ops = []
        self.writes = {}   # id(source Value) -> (source Value, written Value), for tensors that outlive the call
        self.origin = {}   # id(tensor) -> the source Value it started as (input or captured)
        self.views = {}    # id(tensor) -> ids of the view tensors taken of it
        self.expected = set()  # ids of tensors whose version bump an in-place op announced
        self.broken = None
        self.modules = {}  # id(module) -> module, every Module called while tracing
        self.inputs = []
        for i, t in enumerate(inputs):
            v = _value_of_tensor(t, "input", index=i)
            self.inputs.append(v)
            self._bind(t, v)
            self.origin[id(t)] = v

    def _bind(self, t, v):
        self.values[id(t)] = v
        self.alive.append(t)

    def value_of(self, t):
        v = self.values.get(id(t))
        if v is None:  # read by reference: a parameter, a buffer, a global
            v = _value_of_tensor(t, "captured", tensor=t)
            self._bind(t, v)
            self.origin[id(t)] = v
        return v

    # --- on_apply -----------------------------------------------------------------------------------------------
    def __call__(self, node, args, result):
        if self.broken:
            return
        op = Op(node, [self.value_of(a) if isinstance(a, Tensor) else a for a in args], [])
        outs = result if result.__class__ is tuple else (result,)
        for i, t in enumerate(outs):
            if t is None:
                op.outputs.append(None)
                continue
            v = _value_of_tensor(t, "op", op=op, out_index=i)
            op.outputs.append(v)
            self._bind(t, v)
        if node.is_view and isinstance(args[0], Tensor):
            base = args[0] if args[0]._base is None else args[0]._base
            self.views.setdefault(id(base), set()).update(id(t) for t in outs if t is not None)
        self.ops.append(op)

    # --- ember._tracing -----------------------------------------------------------------------------------------
    def _inside_op(self):
        return not _graph._observers.stack  # an op's own forward is running (its inner work is not traced)

    def untraceable(self, what):
        if self.broken is None and not self._inside_op():
            self.broken = (what, _user_frame())

    def created(self, t):
        if not self._inside_op():
            self._bind(t, _value_of_tensor(t, "constant", array=t._data.copy()))

    def wrote(self, t, result):
        if self.broken or self._inside_op():
            return
        if t._base is not None or self.views.get(id(t)):
            return self.untraceable("an in-place change of a tensor that has views (or is one)")
        value = self.value_of(result)
        self.value_of(t)  # a tensor never read before is captured (written without being read)
        source = self.origin.get(id(t))  # None for a tensor made inside the function
        self.values[id(t)] = value
        if source is not None:
            self.writes[id(source)] = (source, value)
        self.expected.add(id(t))

    def aliased(self, alias, t):
        self._bind(alias, self.value_of(t))
        if id(t) in self.origin:
            self.origin[id(alias)] = self.origin[id(t)]

    def called(self, module):
        self.modules[id(module)] = module

    def bumped(self, t):
        if self._inside_op():
            return
        if id(t) in self.expected:
            self.expected.discard(id(t))
        else:
            self.untraceable("an in-place change outside an op (setitem, copy_, fill_, an optimizer's update)")


def flatten(obj, tensors):
    """A spec of obj's nesting (tuples, lists, dicts) with its tensors appended to tensors, in order."""
    if isinstance(obj, Tensor):
        tensors.append(obj)
        return ("tensor", len(tensors) - 1)
    if isinstance(obj, (tuple, list)):
        return (type(obj), [flatten(x, tensors) for x in obj])
    if isinstance(obj, dict):
        return (dict, [(k, flatten(v, tensors)) for k, v in obj.items()])
    return ("leaf", obj)


def unflatten(spec, tensors):
    """The object spec describes, with its tensors taken from tensors."""
    kind, body = spec
    if kind == "tensor":
        return tensors[body]
    if kind == "leaf":
        return body
    if kind is dict:
        return {k: unflatten(s, tensors) for k, s in body}
    items = [unflatten(s, tensors) for s in body]
    return kind(items) if kind is not tuple or not hasattr(kind, "_fields") else kind(*items)


def trace(fn, args, kwargs):
    """Run fn(*args, **kwargs) once, recording its ops; returns (graph, result). The graph's inputs are the
    tensors among args and kwargs, in flatten's order. When fn ran something a graph cannot hold, the graph is a
    GraphBreak naming it (fn still ran to the end, eagerly: result is its result)."""
    inputs = []
    flatten((args, kwargs), inputs)
    tracer = _Tracer(inputs)
    _tracing.state.tracers.append(tracer)
    _tracing.active[0] += 1
    try:
        with _graph.on_apply(tracer):
            result = fn(*args, **kwargs)
    finally:
        _tracing.active[0] -= 1
        _tracing.state.tracers.pop()
    if tracer.broken:
        return GraphBreak(*tracer.broken), result
    outs = []
    spec = flatten(result, outs)
    graph = Graph(tracer.inputs, tracer.ops, [tracer.value_of(t) for t in outs], tracer.writes.values(), spec)
    graph.modules = list(tracer.modules.values())
    return graph, result
