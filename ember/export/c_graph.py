"""The inference graph a standalone C model is generated from: the model's forward traced by the compiler
(``ember.compiler.capture``), cleaned by its passes (dead code, common subexpressions), with every op that
depends on no input computed once here (constant folding: position embeddings of a fixed length, weights
reshaped in the forward...), and elementwise chains fused into kernels (the compiler's ``fuse_elementwise``).
"""
import numpy as np

from ..autograd import no_grad
from ..compiler.capture import GraphBreak, trace
from ..compiler.ir import Graph, Op, Value
from ..compiler.passes import optimize
from ..compiler.passes.dce import eliminate_dead_code
from ..compiler.passes.fuse import fuse_elementwise

__all__ = ["ExportError", "inference_graph", "constant_array"]


class ExportError(RuntimeError):
    """A model that cannot become standalone C (an op without a C form, a forward that cannot be traced...), or
    a C program that fails to build or run (build_c, run_c); the message says which.

    PyTorch:
        No PyTorch counterpart: ember's own (``torch.export`` raises its own errors for untraceable code).
    """


def inference_graph(model, args):
    """The optimized graph of ``model(*args)`` in evaluation mode, without autograd (see the module docstring).
    The model's training flags are restored afterwards."""
    modes = [(m, m.training) for m in model.modules()] if hasattr(model, "modules") else []
    if hasattr(model, "eval"):
        model.eval()
    try:
        with no_grad():
            graph, _ = trace(lambda *a: model(*a), tuple(args), {})
    finally:
        for m, training in modes:
            m.training = training
    if isinstance(graph, GraphBreak):
        raise ExportError(f"export c: the model's forward cannot be captured as a graph: {graph}")
    if not graph.outputs:
        raise ExportError("export c: the model returns no tensor")
    graph = optimize(graph, "export")
    graph = eliminate_dead_code(fold_constants(graph))
    return fuse_elementwise(graph, single=True)


def constant_array(v):
    """The array of a source Value the graph reads as data (a parameter, a buffer, a constant); None for an input
    or a computed value."""
    if v.kind == "captured":
        return v.tensor._data
    if v.kind == "constant":
        return v.array
    return None


def _clone(node):
    fresh = object.__new__(type(node))
    fresh.__dict__.update(vars(node))
    return fresh


def fold_constants(graph):
    """The graph with every op whose tensor arguments are all constants (no input reaches them) replaced by a
    constant Value of its result, computed now by the op's own forward (a new Graph)."""
    known, replaced, ops = {}, {}, []

    def array_of(v):
        return known.get(id(v)) if v.kind == "op" else constant_array(v)

    for op in graph.ops:
        node = op.node
        foldable = not (node.random or node.has_effects() or op.links) and \
            all(array_of(v) is not None for v in op.values())
        if not foldable:
            args = [replaced.get(id(a), a) if isinstance(a, Value) else a for a in op.args]
            new = Op(node, args, op.outputs, op.links)
            new.raw = op.raw
            ops.append(new)
            continue
        out = _clone(node).forward(np, *[array_of(a) if isinstance(a, Value) else a for a in op.args])
        for value, array in zip(op.outputs, out if isinstance(out, tuple) else (out,)):
            if value is None:
                continue
            array = np.array(array, dtype=value.dtype, copy=True).reshape(value.shape)
            known[id(value)] = array
            replaced[id(value)] = Value(value.shape, value.dtype, "constant", array=array)
    outputs = [replaced.get(id(v), v) for v in graph.outputs]
    out = Graph(graph.inputs, ops, outputs, graph.writes, graph.output_spec)
    out.modules = graph.modules
    return out
