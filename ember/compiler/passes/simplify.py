"""Algebraic simplification (Theano's canonicalize and stabilize rewrites): ops that compute one of their inputs
(x * 1, x / 1, x + 0, x - 0, neg(neg(x)), log(exp(x)), a permutation undone, a reshape to the same shape) are
dropped; chains become one op (permute of permute, reshape of reshape); and unstable forms become stable ones
(log(softmax(x)) -> log_softmax(x), log(1 + x) -> log1p(x)).

A rewrite keeps each op's output value: either a new op computes it, or its readers read the input instead; the
latter only where the value is not handed out (an output, a write, a ``.grad``), whose identity the caller sees,
and only where shape and dtype are the same (``x * ones(3, 4)`` broadcasts a (4,) x, and ``int * 1.0`` promotes).
Ops with effects, random ops and ops that hold or hand out kept arrays (``Op.links``) are left as they are.
Dead producers are left to dead-code elimination."""
import numpy as np

from ...ops.activation import LogSoftmax
from ...ops.unary import Log1p
from ...ops.shape import Permute, Reshape
from ..ir import Op, Value

__all__ = ["simplify_algebra"]

_IDENTITY_RIGHT = {"Mul": 1, "Div": 1, "Add": 0, "Sub": 0}
_IDENTITY_LEFT = {"Mul": 1, "Add": 0}


def _equals(arg, number):
    """Whether arg is the number, or a constant tensor whose every element is it."""
    if isinstance(arg, Value):
        return arg.kind == "constant" and arg.array is not None and bool(np.all(arg.array == number))
    return isinstance(arg, (int, float)) and not isinstance(arg, bool) and arg == number


def _same_type(a, b):
    return isinstance(a, Value) and a.shape == b.shape and a.dtype == b.dtype


class _Rewriter:
    def __init__(self, graph):
        self.producer = {id(o): op for op in graph.ops for o in op.outputs if o is not None}
        self.linked, self.external = graph.link_sources(), graph.handed_out()

    def made_by(self, value, name):
        """The op named name that computes value (a plain one: no links, no effects), or None."""
        op = self.producer.get(id(value)) if isinstance(value, Value) else None
        if op is None or op.name != name or op.links or id(op) in self.linked:
            return None
        return op

    def rewrite(self, op):
        """A Value the op's output equals, a new Op computing the same output, or None."""
        name, args, out = op.name, op.args, op.outputs[0]
        if name in _IDENTITY_RIGHT and len(args) == 2 and _equals(args[1], _IDENTITY_RIGHT[name]):
            return args[0]
        if name in _IDENTITY_LEFT and len(args) == 2 and _equals(args[0], _IDENTITY_LEFT[name]):
            return args[1]
        if name == "Neg":
            inner = self.made_by(args[0], "Neg")
            return inner.args[0] if inner else None
        if name == "Log":
            return self._log(op, args[0], out)
        if name == "Permute":
            return self._permute(op, args[0], out)
        if name in ("Reshape", "View"):
            if _same_type(args[0], out):
                return args[0]
            inner = self.made_by(args[0], "Reshape") or self.made_by(args[0], "View")
            return Op(Reshape(out.shape), [inner.args[0]], [out]) if inner else None
        return None

    def _log(self, op, x, out):
        inner = self.made_by(x, "Exp")
        if inner:
            return inner.args[0]
        inner = self.made_by(x, "Softmax")
        if inner:
            return Op(LogSoftmax(inner.node.dim), [inner.args[0]], [out])
        inner = self.made_by(x, "Add")
        if inner:
            a, b = inner.args
            other = a if _equals(b, 1) else b if _equals(a, 1) else None
            if _same_type(other, out):
                return Op(Log1p(), [other], [out])
        return None

    def _permute(self, op, x, out):
        dims = op.node.dims
        inner = self.made_by(x, "Permute")
        if inner:
            x, dims = inner.args[0], tuple(inner.node.dims[d] for d in dims)
        if dims == tuple(range(len(dims))) and _same_type(x, out):
            return x
        return Op(Permute(dims), [x], [out]) if inner else None


def simplify_algebra(graph):
    rewriter = _Rewriter(graph)
    replace, kept = {}, []

    def current(a):
        return replace.get(id(a), a) if isinstance(a, Value) else a

    for op in graph.ops:
        op.args = [current(a) for a in op.args]
        node = op.node
        result = None
        if len(op.outputs) == 1 and not (node.random or node.has_effects() or op.links or op.raw
                                         or id(op) in rewriter.linked):
            result = rewriter.rewrite(op)
        if isinstance(result, Value):
            out = op.outputs[0]
            if id(out) not in rewriter.external and _same_type(result, out):
                replace[id(out)] = result
                continue
            result = None
        if isinstance(result, Op):
            rewriter.producer[id(result.outputs[0])] = result
            result.backward = op.backward
            op = result
        kept.append(op)
    graph.ops = kept
    graph.outputs = [current(v) for v in graph.outputs]
    graph.writes = [(t, current(v)) for t, v in graph.writes]
    graph.grads = [(leaf, current(g)) for leaf, g in graph.grads]
    return graph
