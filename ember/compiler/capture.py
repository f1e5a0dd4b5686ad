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
import weakref

import numpy as np

from .. import _tracing
from ..autograd import graph as _graph
from ..device import get_array_module
from ..tensor import Tensor
from .ir import Graph, Op, Value

__all__ = ["GraphBreak", "Joint", "trace", "flatten", "unflatten"]

_EMBER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


_ANY = object()  # a .grad cleared before the graph reads it: whatever it was when the graph starts


class _ItemRef(weakref.ref):
    """A weak reference to an item of a kept tuple or list (see _Tracer.kept_in)."""

    __slots__ = ()


def _item_ref(x):
    try:
        return _ItemRef(x)
    except TypeError:
        return x  # a number, None, a string: held


def _is_item(ref, x):
    return (ref() if isinstance(ref, _ItemRef) else ref) is x


class GraphBreak(RuntimeError):
    """A graph break: the traced function ran something a graph cannot hold.

    ``what`` names it and ``where`` is the user's line (``file:line``). ember.compile does not raise it: the
    function then runs eagerly after a warning with this text, or ``fullgraph=True`` raises a RuntimeError with it.

    PyTorch:
        ``torch._dynamo.exc.Unsupported`` is the nearest (what a graph break records in PyTorch).
    """

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
    """The on_apply callback and the _tracing listener while one function is traced.

    It knows tensors and arrays by id and holds none of them (an eager step frees its temporaries and its
    backward's used saved arrays, and a trace holding them all touched 2.4x the new memory: 24 against 10
    thousand page faults on resnet_small's first step): each is watched, and what the tracer noted under its id
    goes when it dies, before another object can take that id (``_forget``)."""

    wants_live_node = True  # on_apply passes the node that ran: what its forward kept is linked (see Op.links)

    def __init__(self, inputs):
        self.values = {}   # id(tensor) -> its current Value
        self.by_array = {}  # id(array) -> the Value it holds: a new tensor around a known array is that value
        self.watched = {}  # id(tensor or array) -> a weak reference whose callback forgets that id
        self.alive = []    # what cannot be watched (no weak references), and leaves whose gradients it saw
        self.ops = []
        self.in_backward = False  # a backward has begun: the ops from then on are gradients (Op.backward)
        self.writes = {}   # id(source Value) -> (source Value, written Value), for tensors that outlive the call
        self.origin = {}   # id(tensor) -> the source Value it started as (input or captured)
        self.views = {}    # id(tensor) -> ids of the view tensors taken of it
        self.made = set()  # ids of the tensors made while tracing
        self.kept = {}     # id(array) -> (Op, attribute, index in the tuple or None): what a traced op's forward
        #                    kept on its node (arrays, and the arrays in tuples or lists it kept)
        self.kept_in = {}  # id(tuple or list) -> ((Op, attribute, None), its items): the tuples and lists kept
        #                    (not weakly referable: a later one with that id is the same only with the same items)
        self.expected = set()  # ids of tensors whose version bump an in-place op announced
        self.broken = None
        self.modules = {}  # id(module) -> module, every Module called while tracing
        self.grad_entry = {}  # id(leaf) -> (leaf Value, the .grad object it must have when the graph starts)
        # id(leaf) -> (leaf Value, the .grad tensor the graph leaves, or None): its value at the trace's end (a
        # later backward or the function may add into it in place)
        self.grad_final = {}
        self.inputs = []
        for i, t in enumerate(inputs):
            v = _value_of_tensor(t, "input", index=i)
            self.inputs.append(v)
            self._bind(t, v)
            self.origin[id(t)] = v

    def _bind(self, t, v):
        self.values[id(t)] = v
        self.by_array[id(t._data)] = v
        self._watch(t)
        self._watch(t._data)

    def _watch(self, obj):
        key = id(obj)
        if key in self.watched:
            return
        try:
            self.watched[key] = weakref.ref(obj, lambda _, key=key: self._forget(key))
        except TypeError:
            self.alive.append(obj)

    def _forget(self, key):
        """obj with this id died: nothing the tracer noted under its id may be read for an object made later."""
        for notes in (self.values, self.by_array, self.origin, self.views, self.kept, self.watched):
            notes.pop(key, None)
        self.made.discard(key)
        self.expected.discard(key)

    def close(self):
        """Stop watching (the trace is over: the callbacks need not run)."""
        self.watched = {}

    def value_of(self, t):
        v = self.values.get(id(t))
        if v is None:
            v = self.by_array.get(id(t._data))  # e.g. a backward's saved_output(): the output, wrapped again
            if v is not None:
                self._bind(t, v)
                return v
            if id(t) in self.made:  # made during the trace, but by no op or factory: arrays computed outside ops
                self.untraceable(f"a tensor computed outside ops (its {tuple(t.shape)} values would be frozen)")
            # read by reference: a parameter, a buffer, a global
            v = _value_of_tensor(t, "captured", tensor=t)
            self._bind(t, v)
            self.origin[id(t)] = v
        return v

    # --- on_apply -----------------------------------------------------------------------------------------------
    def __call__(self, node, args, result, live=None):
        if self.broken:
            return
        links = self._links(node)
        if links is None:
            return self.untraceable(f"{type(node).__name__} holds arrays made outside the graph")
        op = Op(node, [self._arg(a) for a in args], [], links)
        op.raw = frozenset(i for i, a in enumerate(args) if not isinstance(a, Tensor) and id(a) in self.by_array)
        op.backward = self.in_backward
        self._keep(op, node, live)
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

    def _arg(self, a):
        """An op argument as the graph holds it: a tensor's Value; an array that is a known value's array (an op
        given a tensor's data, as embedding's indices) that Value too (passed as an array, see Op.raw); else the
        argument itself (numbers, None, arrays made from Python values)."""
        if isinstance(a, Tensor):
            return self.value_of(a)
        v = self.by_array.get(id(a))
        return a if v is None else v

    def _links(self, node):
        """The node's attributes that an earlier op's forward made, as {attribute: (Op, attribute, index)}; None
        when it holds a new tuple mixing such arrays with others (not linkable)."""
        links = {}
        for k, v in vars(node).items():
            if isinstance(v, (tuple, list)):
                src, items = self.kept_in.get(id(v), (None, None))
                if src is not None and len(items) == len(v) and all(map(_is_item, items, v)):
                    links[k] = src
                elif any(id(x) in self.kept for x in _arrays_in(v)):
                    return None
            elif id(v) in self.kept:
                links[k] = self.kept[id(v)]
        return links

    def _keep(self, op, pristine, live):
        """Index what live's forward stored on it (attributes the pristine copy did not have or had otherwise):
        arrays, and tuples or lists holding arrays (and their arrays), so that a later node holding one of them
        is linked to this op."""
        if live is None:
            return
        before = vars(pristine)
        for k, v in vars(live).items():
            if before.get(k) is v:
                continue
            if hasattr(v, "shape"):
                self.kept[id(v)] = (op, k, None)
                self._watch(v)
            elif isinstance(v, (tuple, list)) and _arrays_in(v):
                self.kept_in[id(v)] = ((op, k, None), tuple(map(_item_ref, v)))
                for j, x in enumerate(v):
                    if hasattr(x, "shape"):
                        self.kept[id(x)] = (op, k, j)
                for x in _arrays_in(v):  # deeper ones: found when a node holds them apart (not linkable)
                    self.kept.setdefault(id(x), (op, k, None))
                    self._watch(x)

    # --- ember._tracing -----------------------------------------------------------------------------------------
    def _inside_op(self):
        return not _graph._observers.stack  # an op's own forward is running (its inner work is not traced)

    def untraceable(self, what):
        if self.broken is None and not self._inside_op():
            self.broken = (what, _user_frame())

    def backward_begins(self):
        self.in_backward = True

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
        self.by_array[id(t._data)] = value
        if source is not None:
            self.writes[id(source)] = (source, value)
        self.expected.add(id(t))

    def aliased(self, alias, t):
        self._bind(alias, self.value_of(t))
        if id(t) in self.origin:
            self.origin[id(alias)] = self.origin[id(t)]

    def born(self, t):
        self.made.add(id(t))
        self._watch(t)

    def grad_seen(self, t):
        """The engine is about to deliver leaf t's gradient. An existing .grad is read when the graph runs (a
        "grad" value: whatever tensor the leaf holds then, as gradient accumulation over calls needs)."""
        if self._inside_op() or id(t) in self.grad_entry:
            return
        leaf, grad = self.value_of(t), t.grad
        self.alive.append(t)  # noted by id in grad_entry and grad_final: held
        if grad is not None:
            v = self.values.get(id(grad))
            if v is None or v.kind == "captured":
                v = v or _value_of_tensor(grad, "grad")
                v.kind, v.tensor = "grad", leaf
                self._bind(grad, v)
                self.origin[id(grad)] = v
            grad = v if v.kind == "grad" else grad
        self.grad_entry[id(t)] = (leaf, grad)

    def grad_cleared(self, t):
        if not self._inside_op():
            self.alive.append(t)
            self.grad_entry.setdefault(id(t), (self.value_of(t), _ANY))
            self.grad_final[id(t)] = (self.value_of(t), None)

    def grad_assigned(self, t, value):
        """t's .grad became the tensor value (a backward's delivery, after grad_seen, or the function's own
        assignment): the graph leaves it what value is at the trace's end (a leaf the graph reads; a tensor made
        inside the function would have to be an output: a graph break)."""
        if self._inside_op():
            return
        if id(t) in self.made:
            return self.untraceable("a .grad assigned to a tensor made inside the function")
        self.alive.append(t)
        self.grad_entry.setdefault(id(t), (self.value_of(t), _ANY))
        self.grad_final[id(t)] = (self.value_of(t), value)

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


def _arrays_in(v):
    """The arrays inside nested tuples and lists."""
    found = []
    for x in v:
        if hasattr(x, "shape") and hasattr(x, "dtype"):
            found.append(x)
        elif isinstance(x, (tuple, list)):
            found.extend(_arrays_in(x))
    return found


def _data_like(v):
    """The part of a node attribute that could have been computed from tensor values: arrays and floats (in
    tuples too); None for anything else (tensors are references, read when the op runs)."""
    if isinstance(v, Tensor):
        return None
    if hasattr(v, "shape") and hasattr(v, "dtype"):
        return v
    if isinstance(v, float):
        return v
    if isinstance(v, (tuple, list)):
        parts = tuple(_data_like(x) for x in v)
        return parts if any(p is not None for p in parts) else None
    return None


def signature(graph):
    """Each op's class and its data-like attributes (not the linked ones): two traces of a function on different
    data that differ here mean an op holds values computed from the data outside the graph."""
    sig = []
    for op in graph.ops:
        attrs = {k: _data_like(v) for k, v in vars(op.node).items() if k not in op.links}
        sig.append((type(op.node), {k: v for k, v in attrs.items() if v is not None}))
    return sig


def _same(a, b):
    if a is b:
        return True
    if isinstance(a, tuple) or isinstance(b, tuple):
        return isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b) and all(map(_same, a, b))
    if hasattr(a, "shape") or hasattr(b, "shape"):
        try:
            same = a.shape == b.shape and a.dtype == b.dtype
            return same and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
        except (AttributeError, TypeError):
            return False
    return a == b or (a != a and b != b)  # floats, NaN equal to NaN


def first_difference(first, second):
    """'Op.attribute' where two signatures differ (a different op sequence: 'the sequence of ops'); None when
    they agree."""
    if len(first) != len(second) or any(a[0] is not b[0] for a, b in zip(first, second)):
        return "the sequence of ops"
    for (cls, a), (_, b) in zip(first, second):
        for k in a.keys() | b.keys():
            if not _same(a.get(k), b.get(k)):
                return f"{cls.__name__}.{k}"
    return None


class Joint:
    """How a joint graph (a forward and, after it, the gradient of its outputs: see ``trace(joint=True)``) splits:
    ``n_outputs`` of its outputs are the function's; the inputs from ``n_inputs`` on are the gradients of the
    outputs at ``differentiable`` (placeholders, given when the backward runs); ``sources`` are the inputs and
    captured tensors (Values) that require grad, and ``grads`` for each the position of its gradient among the
    graph's outputs (None where it got none)."""

    def __init__(self, n_outputs, n_inputs, differentiable, sources, grads):
        self.n_outputs, self.n_inputs, self.differentiable = n_outputs, n_inputs, differentiable
        self.sources, self.grads = sources, grads


def _differentiate(tracer, outs, inputs):
    """After a traced forward: the gradients of its floating outputs that require grad with respect to the inputs
    and captured tensors that require grad, traced as ops after the forward's (``autograd.grad`` from placeholder
    output gradients, which become inputs); a Joint, or None (and the trace as it was) where there is nothing to
    differentiate or the gradients cannot be traced."""
    from ..autograd import grad as _grad, grad_mode
    differentiable = [i for i, t in enumerate(outs) if t.requires_grad and t._data.dtype.kind == "f"]
    if not differentiable or not grad_mode.state.enabled or tracer.in_backward or tracer.grad_final:
        return None
    sources, seen = [], set()
    for op in tracer.ops:
        for v in op.args:
            if isinstance(v, Value) and v.kind in ("input", "captured") and id(v) not in seen:
                seen.add(id(v))
                t = inputs[v.index] if v.kind == "input" else v.tensor
                if t.requires_grad:
                    sources.append((v, t))
    if not sources or any(t._hooks for _, t in sources):  # a source's hooks run when autograd delivers its
        return None  # gradient: inside the joint backward too, they would run twice
    n_ops, n_inputs = len(tracer.ops), len(tracer.inputs)
    placeholders = []
    for i in differentiable:
        g = Tensor._wrap(get_array_module(outs[i]._data).zeros_like(outs[i]._data))
        v = _value_of_tensor(g, "input", index=len(tracer.inputs))
        tracer.inputs.append(v)
        tracer._bind(g, v)
        placeholders.append(g)
    try:
        grads = _grad([outs[i] for i in differentiable], [t for _, t in sources], grad_outputs=placeholders,
                      retain_graph=True, allow_unused=True)
    except Exception:  # noqa: BLE001 -- a forward that cannot be differentiated so: the forward graph alone
        grads = None
    if grads is None or tracer.broken:
        del tracer.ops[n_ops:], tracer.inputs[n_inputs:]
        tracer.broken, tracer.in_backward = None, False
        return None
    positions, n = [], len(outs)
    for g in grads:
        positions.append(None if g is None else n)
        n += g is not None
    return Joint(len(outs), n_inputs, differentiable, [v for v, _ in sources], positions), \
        [tracer.value_of(g) for g in grads if g is not None]


def trace(fn, args, kwargs, joint=False):
    """Run fn(*args, **kwargs) once, recording its ops; returns (graph, result). The graph's inputs are the
    tensors among args and kwargs, in flatten's order. When fn ran something a graph cannot hold, the graph is a
    GraphBreak naming it (fn still ran to the end, eagerly: result is its result). With joint, a forward whose
    outputs require grad is followed by the ops of its gradients (``graph.joint``, see Joint; None where there
    are none), as AOTAutograd's joint graph."""
    inputs = []
    flatten((args, kwargs), inputs)
    tracer = _Tracer(inputs)
    _tracing.state.tracers.append(tracer)
    _tracing.active[0] += 1
    try:
        with _graph.on_apply(tracer):
            result = fn(*args, **kwargs)
            outs = []
            spec = flatten(result, outs)
            gradients = _differentiate(tracer, outs, inputs) if joint and not tracer.broken else None
            gradients, extra = gradients or (None, [])
    finally:
        _tracing.active[0] -= 1
        _tracing.state.tracers.pop()
        tracer.close()
    if tracer.broken:
        return GraphBreak(*tracer.broken), result
    grads = [(leaf, None if g is None else tracer.value_of(g)) for leaf, g in tracer.grad_final.values()]
    graph = Graph(tracer.inputs, tracer.ops, [tracer.value_of(t) for t in outs] + extra, tracer.writes.values(),
                  spec)
    graph.modules = list(tracer.modules.values())
    graph.signature = signature(graph)
    graph.grad_entry = [(v, g) for v, g in tracer.grad_entry.values() if g is not _ANY]
    graph.grads = grads
    graph.joint = gradients
    return graph, result
