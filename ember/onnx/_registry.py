"""The table ONNX op -> ember implementation, with opset versions.

Each importer module registers its functions with ``@onnx_op("Name", since=(1, 13))``: the function handles every
opset of the op from the lowest version given (the highest version <= the model's opset is chosen, as ONNX picks an
op's schema). An importer is ``fn(ctx, inputs, attrs) -> output or tuple of outputs``: ``inputs`` are ember tensors
(or NumPy arrays for dtypes ember lacks, lists for sequences, None for absent optional inputs), ``attrs`` a dict of
Python values, ``ctx`` a :class:`NodeContext` (the opset in force, the node, subgraph execution, training mode).
"""
import bisect
from dataclasses import dataclass

__all__ = ["UnsupportedOnnxOp", "onnx_op", "lookup", "claimed_ops", "family_of"]

_TABLE = {}   # (domain, op_type) -> sorted list of (since_version, fn)
_FAMILY = {}  # (domain, op_type) -> family name (the importer module)


class UnsupportedOnnxOp(NotImplementedError):
    """An ONNX op (or one of its opset versions) that ember.onnx.load cannot import: ember does not implement it.

    ``op_type``, ``opset`` and ``domain`` name it. A NotImplementedError.

    PyTorch:
        No PyTorch counterpart: PyTorch does not import ONNX.
    """

    def __init__(self, op_type, opset, domain=""):
        where = f"{domain}::" if domain not in ("", "ai.onnx") else ""
        super().__init__(f"unsupported ONNX op {where}{op_type} (opset {opset})")
        self.op_type, self.opset, self.domain = op_type, opset, domain


def _norm_domain(domain):
    return "" if domain == "ai.onnx" else domain


def onnx_op(op_type, since=(1,), domain="", family=None):
    """Register the decorated importer for ``op_type`` at the given opset versions (a version or a tuple)."""
    versions = (since,) if isinstance(since, int) else tuple(since)

    def deco(fn):
        key = (_norm_domain(domain), op_type)
        entries = _TABLE.setdefault(key, [])
        for v in versions:
            bisect.insort(entries, (v, fn), key=lambda e: e[0])
        _FAMILY[key] = family or fn.__module__.rsplit(".", 1)[-1]
        return fn
    return deco


def lookup(op_type, opset, domain=""):
    """The importer for ``op_type`` at ``opset``, or UnsupportedOnnxOp naming the op and the opset."""
    entries = _TABLE.get((_norm_domain(domain), op_type))
    if entries:
        i = bisect.bisect_right([v for v, _ in entries], opset)
        if i:
            return entries[i - 1][1]
    raise UnsupportedOnnxOp(op_type, opset, _norm_domain(domain))


def claimed_ops():
    """{(domain, op_type): lowest opset supported} for every op ember imports."""
    return {key: entries[0][0] for key, entries in _TABLE.items()}


def family_of(op_type, domain=""):
    """The importer family ('elementwise', 'nn', ...) of a claimed op, or None."""
    return _FAMILY.get((_norm_domain(domain), op_type))


@dataclass
class NodeContext:
    """What an importer may need beyond its inputs and attributes."""

    node: object          # the onnx NodeProto
    opset: int            # the model's opset for the node's domain
    run_graph: object     # run_graph(graph_proto, inputs: dict, outer: dict) -> list of outputs
    scope: dict           # the values visible to the node (subgraphs read outer names)
    graph: object = None  # the GraphProto the node belongs to
    memo: dict = None     # a per-model cache importers may keep derived constants in
