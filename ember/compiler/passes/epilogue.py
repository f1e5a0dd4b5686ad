"""Matmul epilogues: a Linear whose output only elementwise ops read becomes the GEMM alone and an Add of the
bias, which elementwise fusion then merges with the ops after it (bias + activation in one pass, written over
the GEMM's output: see ``interpret``), instead of NumPy adding the bias in a pass of its own.

Run before ``fuse_elementwise`` by a backend that fuses; returns a new Graph (the graph it was given stays as it
was: the interpreter runs that one when autograd records the ops)."""
from ...ops.arith import Add
from ...ops.linear import Linear
from ..ir import Graph, Op, Value
from ..rules import supports

__all__ = ["split_linear_bias"]


def _splittable(op, ops, readers, external, linked):
    if op.name != "Linear" or len(op.args) != 3 or not isinstance(op.args[2], Value) or op.links or op.raw:
        return False
    out = op.outputs[0]
    if id(out) in external or id(op) in linked or len(out.shape) < 1 or op.args[2].dtype != out.dtype:
        return False
    after = [ops[i] for i in readers.get(id(out), ())]
    return bool(after) and all(supports(r) and r.outputs[0].shape == out.shape for r in after)


def split_linear_bias(graph):
    readers = graph.readers()
    linked, external = graph.link_sources(), graph.handed_out()
    ops = []
    for op in graph.ops:
        if not _splittable(op, graph.ops, readers, external, linked):
            ops.append(op)
            continue
        x, w, b = op.args
        out = op.outputs[0]
        gemm = Op(Linear(), [x, w], [])
        gemm.outputs.append(Value(out.shape, out.dtype, "op", op=gemm))
        add = Op(Add(), [gemm.outputs[0], b], [out])
        gemm.backward = add.backward = op.backward
        ops += [gemm, add]
    if len(ops) == len(graph.ops):
        return graph
    new = Graph(graph.inputs, ops, graph.outputs, graph.writes, graph.output_spec)
    new.modules, new.grad_entry, new.grads = graph.modules, graph.grad_entry, graph.grads
    return new
