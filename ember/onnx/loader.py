"""ember.onnx.load: an ONNX model as an nn.Module whose forward runs the graph with ember ops."""
import os
from collections import ChainMap

import onnx

from .. import nn
from ..tensor import Tensor
from . import importers  # noqa: F401  (registers every importer in the op table)
from ._registry import NodeContext, lookup
from ._values import is_float, to_value

__all__ = ["load", "OnnxModule", "check_supported"]


def _model_proto(f):
    if isinstance(f, onnx.ModelProto):
        return f
    if isinstance(f, (bytes, bytearray, memoryview)):
        return onnx.load_model_from_string(bytes(f))
    if isinstance(f, (str, os.PathLike)) or hasattr(f, "read"):
        return onnx.load(f)
    raise TypeError(f"ember.onnx.load: expected a path, bytes or an onnx.ModelProto, got {type(f).__name__}")


def _attr_value(attr):
    value = onnx.helper.get_attribute_value(attr)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, onnx.TensorProto):
        return to_value(onnx.numpy_helper.to_array(value))
    if isinstance(value, list) and value and isinstance(value[0], bytes):
        return [v.decode("utf-8") for v in value]
    if isinstance(value, list) and value and isinstance(value[0], onnx.TensorProto):
        return [to_value(onnx.numpy_helper.to_array(v)) for v in value]
    return value


def _opsets(model):
    return {("" if o.domain == "ai.onnx" else o.domain): o.version for o in model.opset_import}


class _Step:
    """One node of a graph, its importer and its parsed attributes."""

    __slots__ = ("node", "fn", "attrs", "opset")

    def __init__(self, node, opsets):
        domain = "" if node.domain == "ai.onnx" else node.domain
        self.node = node
        self.opset = opsets.get(domain, 1)
        self.fn = lookup(node.op_type, self.opset, domain)
        self.attrs = {a.name: _attr_value(a) for a in node.attribute}


class GraphRunner:
    """Runs an ONNX GraphProto (and its subgraphs) on ember values."""

    def __init__(self, opsets):
        self.opsets = opsets
        self._steps = {}
        self._memo = {}

    def steps(self, graph):
        key = id(graph)
        if key not in self._steps:
            self._steps[key] = (graph, [_Step(node, self.opsets) for node in graph.node])
            for step in self._steps[key][1]:
                for sub in step.attrs.values():
                    for g in (sub if isinstance(sub, list) else [sub]):
                        if isinstance(g, onnx.GraphProto):
                            self.steps(g)
        return self._steps[key][1]

    def run(self, graph, inputs, outer=None):
        """Run ``graph`` with ``inputs`` ({name: value}) seeing ``outer`` names; returns its outputs in order."""
        scope = ChainMap(dict(inputs), *([outer] if outer is not None else []))
        for init in graph.initializer:  # a subgraph's own constants
            if init.name not in scope:
                scope[init.name] = to_value(onnx.numpy_helper.to_array(init))
        for step in self.steps(graph):
            node = step.node
            args = [scope[name] if name else None for name in node.input]
            ctx = NodeContext(node, step.opset, self.run, scope, graph, self._memo)
            try:
                out = step.fn(ctx, args, step.attrs)
            except Exception as e:
                if not getattr(e, "_ember_onnx_node", False):
                    e.args = (f"{node.op_type} node {node.name or node.output[0]!r}: {e.args[0] if e.args else e}",
                              *e.args[1:])
                    e._ember_onnx_node = True
                raise
            outs = out if isinstance(out, tuple) else (out,)
            for name, value in zip(node.output, outs):
                if name:
                    scope[name] = value
        return [scope[o.name] for o in graph.output]


def check_supported(model):
    """Raise UnsupportedOnnxOp for the first node (subgraphs included) whose op ember does not import."""
    GraphRunner(_opsets(model)).steps(model.graph)


def _owner(module, dotted):
    """The submodule that will own a parameter named ``dotted`` (created on the way) and its attribute name."""
    *path, leaf = dotted.split(".")
    if not path or not all(path) or not leaf:
        return module, dotted.replace(".", "_")
    owner = module
    for part in path:
        child = owner._modules.get(part)
        if child is None:
            if part in owner.__dict__ or part in owner._parameters or part in owner._buffers:
                return module, dotted.replace(".", "_")
            child = nn.Module()
            owner.add_module(part, child)
        owner = child
    return owner, leaf


class OnnxModule(nn.Module):
    """An imported ONNX model: its initializers are parameters (floating point, trainable) and buffers, and its
    forward runs the graph's nodes with ember ops, so autograd flows through it.

    Parameter names follow the initializer names (``layer1.0.conv1.weight`` becomes that state_dict key).
    """

    def __init__(self, model):
        super().__init__()
        self.model_proto = model
        self._runner = GraphRunner(_opsets(model))
        self._runner.steps(model.graph)  # fails early with "unsupported ONNX op X (opset N)"
        self._init_slots = {}
        self._raw_consts = {}
        for init in model.graph.initializer:
            value = to_value(onnx.numpy_helper.to_array(init))
            if not isinstance(value, Tensor):
                self._raw_consts[init.name] = value
                continue
            owner, attr = _owner(self, init.name)
            if attr in owner._parameters or attr in owner._buffers or attr in owner._modules:
                owner, attr = self, f"_init_{len(self._init_slots)}"
            if is_float(value):
                owner.register_parameter(attr, nn.Parameter(value))
            else:
                owner.register_buffer(attr, value)
            self._init_slots[init.name] = (owner, attr)
        inits = {i.name for i in model.graph.initializer}
        self.input_names = [i.name for i in model.graph.input if i.name not in inits]
        self.output_names = [o.name for o in model.graph.output]

    def extra_repr(self):
        graph = self.model_proto.graph
        opsets = ", ".join(f"{d or 'ai.onnx'} {v}" for d, v in sorted(_opsets(self.model_proto).items()))
        return (f"graph={graph.name!r}, opset=({opsets}), nodes={len(graph.node)}, inputs={self.input_names}, "
                f"outputs={self.output_names}")

    def _initializers(self):
        values = dict(self._raw_consts)
        for name, (owner, attr) in self._init_slots.items():
            values[name] = getattr(owner, attr)
        return values

    def forward(self, *args, **kwargs):
        """Run the graph on the inputs (positional in the graph's order, or by name); returns the output, or a
        tuple of outputs when the graph has several."""
        graph = self.model_proto.graph
        names = self.input_names
        if len(args) > len(names):  # models that list initializers among the inputs may feed them too
            names = [i.name for i in graph.input]
        if len(args) > len(names):
            raise TypeError(f"ember.onnx model: expected at most {len(names)} inputs ({names}), got {len(args)}")
        feeds = self._initializers()
        feeds.update({name: to_value(a) for name, a in zip(names, args)})
        for name, a in kwargs.items():
            if name not in self.input_names:
                raise TypeError(f"ember.onnx model: no input named {name!r} (inputs: {self.input_names})")
            feeds[name] = to_value(a)
        missing = [n for n in self.input_names if n not in feeds]
        if missing:
            raise TypeError(f"ember.onnx model: missing inputs {missing}")
        outs = self._runner.run(graph, feeds)
        return outs[0] if len(outs) == 1 else tuple(outs)


def load(f):
    """Import an ONNX model (a path, a file object, serialized bytes or an onnx.ModelProto) as an nn.Module.

    Floating-point initializers become trainable ``nn.Parameter``s named after the initializers, the others
    buffers; ``forward`` runs the graph with ember ops. Raises ``UnsupportedOnnxOp`` ("unsupported ONNX op X
    (opset N)") for an op ember does not implement. ember's counterpart of ``onnx2torch.convert``.
    """
    return OnnxModule(_model_proto(f))
