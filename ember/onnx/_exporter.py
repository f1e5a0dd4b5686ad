"""ember.onnx.export: trace the model with the compiler's graph capture (the registry ops it runs), convert each op
with its ONNX rule (``symbolic``), and write the ModelProto.

Parameters and buffers become initializers named as in the state_dict; constants the model made become
initializers too. A dynamic axis (``dynamic_axes``) is found by tracing the model a second time with the inputs
grown along it: the ops must be the same, and every size that differs between the two traces is computed from
the input's shape in the exported graph (``_builder.GraphBuilder.sizes``), never baked in.
"""
import contextlib
import inspect

import numpy as np

from ..autograd import no_grad
from ..compiler.capture import GraphBreak, flatten, trace, unflatten
from ..compiler.ir import Value
from ..ops import registry
from ..tensor import Tensor
from ._builder import GraphBuilder, OnnxExporterError, UnsupportedOperatorError, Var, onnx_dtype

__all__ = ["export", "exporting", "MIN_OPSET"]

MIN_OPSET = 17  # LayerNormalization; the rules are written for opsets 17 and later

_active = [False]


def exporting():
    """Whether an export is running (torch.onnx.is_in_onnx_export)."""
    return _active[0]


def export(model, args, f, input_names=None, output_names=None, dynamic_axes=None, opset_version=17) -> None:
    """Export a Module or a function of tensors to an ONNX file.

    The model is traced on the example inputs with the compiler's graph capture, and each op becomes ONNX nodes.
    Parameters and buffers become initializers named as in the state_dict. An op without an ONNX rule raises
    UnsupportedOperatorError naming it. Needs the onnx package (``pip install 'ember[onnx]'``; ImportError
    without it).

    Args:
        model (Module or callable): the Module (exported in evaluation mode, its mode restored afterwards) or
            function.
        args (tuple or Tensor): the example inputs: a tuple of positional arguments (a last element that is a
            dict: keyword arguments), or one Tensor.
        f (str, PathLike or file object): where to write the model: a path or a binary file object.
        input_names (list of str, optional): the names of the graph's inputs (the tensors among args, in order);
            those not named get the forward's parameter name, else ``input_<i>``. Default: None.
        output_names (list of str, optional): the names of the graph's outputs; those not named are ``output``
            (one output) or ``output_<i>``. Default: None.
        dynamic_axes (dict, optional): {input or output name: {axis: name} or [axes]}: the axes whose size may
            differ when the graph runs (typically the batch axis 0). Default: None (every size fixed).
        opset_version (int): the ONNX opset, from 17 to the installed onnx's latest (ValueError otherwise).
            Default: 17.

    PyTorch:
        ``torch.onnx.export`` with ``dynamo=False`` (the TorchScript exporter's ``dynamic_axes``); it also
        exports a function; the names after ``f`` may be positional; it returns None (PyTorch's default dynamo
        exporter returns an ONNXProgram), and has none of PyTorch's other options (``dynamic_shapes``,
        ``export_params``, ``do_constant_folding``...). PyTorch's default opset is 18.

    Example:
        >>> import onnx  # ember.onnx.export needs the onnx package
        >>> ember.onnx.export(nn.Linear(3, 2), (ember.zeros(1, 3),), "linear.onnx", input_names=["x"],
        ...                   output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
        >>> graph = onnx.load("linear.onnx").graph
        >>> [n.op_type for n in graph.node], graph.input[0].type.tensor_type.shape.dim[0].dim_param
        (['Gemm'], 'batch')
    """
    onnx = _import_onnx()
    if not isinstance(opset_version, int) or not MIN_OPSET <= opset_version <= onnx.defs.onnx_opset_version():
        raise ValueError(f"ember.onnx.export: opset_version must be an int from {MIN_OPSET} to "
                         f"{onnx.defs.onnx_opset_version()}, got {opset_version!r}")
    args, kwargs = _split_args(args)
    with _export_mode(model):
        graph, result = _trace(model, args, kwargs)
        tensors = []
        spec = flatten((args, kwargs), tensors)
        names = _input_names(model, args, kwargs, input_names, len(tensors))
        axes = _dynamic_axes(dynamic_axes, names, output_names)
        symbols, twin = {}, graph
        if any(n in axes for n in names):
            grown, symbols = _grow(tensors, names, axes)
            twin, _ = _trace(model, *unflatten(spec, grown))
            _check_same_ops(graph, twin, symbols)
        proto = _build(onnx, graph, twin, names, output_names, axes, symbols, opset_version, model)
    onnx.save_model(proto, f)


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("ember.onnx.export needs the onnx package: pip install 'ember[onnx]'") from None
    return onnx


@contextlib.contextmanager
def _export_mode(model):
    """Evaluation mode for a Module (restored after), and is_in_onnx_export() True."""
    modes = [(m, m.training) for m in model.modules()] if hasattr(model, "modules") else []
    if hasattr(model, "eval"):
        model.eval()
    _active[0] = True
    try:
        yield
    finally:
        _active[0] = False
        for m, training in modes:
            m.training = training


def _split_args(args):
    if isinstance(args, Tensor):
        return (args,), {}
    if not isinstance(args, (tuple, list)):
        raise TypeError(f"ember.onnx.export: args must be a tuple of inputs or a Tensor, got {type(args).__name__}")
    args = tuple(args)
    if args and isinstance(args[-1], dict):
        return args[:-1], dict(args[-1])
    return args, {}


def _trace(model, args, kwargs):
    with no_grad():
        graph, result = trace(model, args, kwargs)
    if isinstance(graph, GraphBreak):
        raise OnnxExporterError(f"ember.onnx.export: the model cannot be captured as one graph: {graph}")
    if graph.writes:
        raise OnnxExporterError(f"ember.onnx.export: the model changes {len(graph.writes)} tensor(s) that outlive "
                                "it in place (an input, a parameter or a buffer); an ONNX graph cannot")
    return graph, result


def _input_names(model, args, kwargs, given, n):
    """The given names, then each tensor's parameter name in the forward's signature (a keyword argument's key;
    name_<j> for the j-th tensor inside a list or tuple), else input_<i>."""
    names = list(given or [])
    if len(names) > n:
        raise ValueError(f"ember.onnx.export: {len(names)} input_names for {n} input tensors")
    try:
        fn = model.forward if hasattr(model, "forward") else model
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    found = []
    for key, value in [(params[i] if i < len(params) else None, a) for i, a in enumerate(args)] + list(kwargs.items()):
        inner = []
        flatten(value, inner)
        found += [key if isinstance(value, Tensor) else f"{key}_{j}" if key else None for j in range(len(inner))]
    for i in range(len(names), n):
        name = found[i] if i < len(found) else None
        names.append(name if name and name not in names and name not in found[:i] else f"input_{i}")
    return names


def _dynamic_axes(dynamic_axes, input_names, output_names):
    """{name: {axis: symbol}} from torch's two forms ({axis: name} or a list of axes: named <name>_dynamic_axes_<k>)."""
    out = {}
    known = set(input_names) | set(output_names or ())
    for name, spec in (dynamic_axes or {}).items():
        if name not in known:
            raise ValueError(f"ember.onnx.export: dynamic_axes names {name!r}, which is no input or output name "
                             f"(inputs {input_names}, outputs {list(output_names or [])})")
        if isinstance(spec, dict):
            out[name] = {int(a): str(s) for a, s in spec.items()}
        else:
            out[name] = {int(a): f"{name}_dynamic_axes_{k + 1}" for k, a in enumerate(spec)}
    return out


def _grow(tensors, names, axes):
    """The input tensors grown along their dynamic axes (each symbol by its own amount: 1, 2, 3...), for the second
    trace; and {symbol: (input name, axis, size, grown size)}."""
    symbols, growth = {}, {}
    grown = []
    for t, name in zip(tensors, names):
        data = t._data
        for axis, sym in sorted(axes.get(name, {}).items()):
            axis = axis % data.ndim if data.ndim else axis
            if not 0 <= axis < data.ndim or data.shape[axis] == 0:
                raise ValueError(f"ember.onnx.export: dynamic axis {axis} of input {name!r} (shape "
                                 f"{tuple(data.shape)}) must be an axis of nonzero size")
            size = data.shape[axis]
            if sym not in growth:
                growth[sym] = len(growth) + 1
                symbols[sym] = (name, axis, size, size + growth[sym])
            elif symbols[sym][2] != size:
                raise ValueError(f"ember.onnx.export: dynamic axis {sym!r} has size {symbols[sym][2]} in input "
                                 f"{symbols[sym][0]!r} and {size} in {name!r}")
            data = np.take(data, np.arange(size + growth[sym]) % size, axis=axis)
        grown.append(Tensor._wrap(data) if data is not t._data else t)
    return grown, symbols


def _check_same_ops(graph, twin, symbols):
    a, b = [op.name for op in graph.ops], [op.name for op in twin.ops]
    if a != b:
        first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        raise OnnxExporterError(
            f"ember.onnx.export: the model runs different ops when the dynamic axes ({', '.join(symbols)}) change "
            f"size ({len(a)} and {len(b)} ops, first difference at op {first}); it cannot be exported with them")


def _same(a, b, depth=0):
    """Whether two node attributes (from the two traces) hold the same values."""
    if a is b:
        return True
    if type(a) is not type(b) or depth > 6:
        return False
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y, depth + 1) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], depth + 1) for k in a)
    if isinstance(a, (int, float, complex, str, bytes, np.generic)) or a is None:
        return bool(a == b) or (a != a and b != b)
    fields = getattr(type(a), "__slots__", None)
    if fields is not None or hasattr(a, "__dict__"):
        va = vars(a) if hasattr(a, "__dict__") else {}
        vb = vars(b) if hasattr(b, "__dict__") else {}
        slots = [s for s in (fields or ()) if hasattr(a, s) or hasattr(b, s)]
        return _same(va, vb, depth + 1) and all(_same(getattr(a, s, None), getattr(b, s, None), depth + 1)
                                                for s in slots)
    return a == b


class _Converter:
    """Walks the traced ops and fills a GraphBuilder."""

    def __init__(self, graph, twin, names, symbols, opset, model):
        self.graph, self.g = graph, GraphBuilder(opset, symbols)
        self.twin = self._pair(graph, twin)
        self.vars = {}  # id(Value) -> Var
        self.param_names = _state_names(model)
        self.g.known = {id(t._data): n for n, t in self.param_names.values()}
        for v, name in zip(graph.inputs, names):
            self.vars[id(v)] = Var(name, v.shape, v.dtype)

    @staticmethod
    def _pair(graph, twin):
        """{id(Value or node) of graph: its counterpart in twin}."""
        pairs = {}
        for v, w in zip(graph.inputs, twin.inputs):
            pairs[id(v)] = w
        for op, top in zip(graph.ops, twin.ops):
            pairs[id(op.node)] = top
            for a, b in zip(op.args, top.args):
                if isinstance(a, Value) and isinstance(b, Value):
                    pairs.setdefault(id(a), b)
            for a, b in zip(op.outputs, top.outputs):
                if a is not None and b is not None:
                    pairs[id(a)] = b
        for a, b in zip(graph.outputs, twin.outputs):
            pairs.setdefault(id(a), b)
        return pairs

    def var(self, v):
        """The Var of a Value, made on first use for parameters, buffers and constants."""
        got = self.vars.get(id(v))
        if got is not None:
            return got
        if v.kind == "captured":
            entry = self.param_names.get(id(v.tensor))
            name = entry[0] if entry else self.g.fresh("captured")
            got = Var(name, v.shape, v.dtype)
            self.g.initializers[name] = np.asarray(v.tensor._data)
        elif v.kind == "constant":
            got = self._constant(v)
        else:
            raise OnnxExporterError(f"ember.onnx.export: a {v.kind} value cannot be exported")
        self.vars[id(v)] = got
        return got

    def _constant(self, v):
        """A constant the function made: an initializer; one whose shape follows a dynamic axis must be filled
        with one value (zeros of (batch, hidden)) and becomes ConstantOfShape."""
        other = self.twin.get(id(v))
        arr = v.array
        if other is None or other.shape == v.shape:
            name = self.g.fresh("const")
            self.g.initializers[name] = np.asarray(arr)
            return Var(name, v.shape, v.dtype, arr)
        flat = arr.reshape(-1)
        if flat.size == 0 or not (flat == flat[0]).all():
            raise self.g.dynamic_error(f"a constant of shape {v.shape} made by the model, not filled with one value")
        fill = np.asarray([flat[0]], dtype=arr.dtype)

        def make():  # only where a rule uses it (an LSTM leaves its zero initial state out)
            return self.g.op("ConstantOfShape", self.g.sizes(v.shape, other.shape), value=fill).name
        return Var(None, v.shape, v.dtype, arr, pending=make)

    def convert(self):
        g = self.g
        for op in self.graph.ops:
            top = self.twin.get(id(op.node))
            g.op_name = op.name
            g.twin = top.node if top is not None else op.node
            d = registry.get(type(op.node))
            if d.onnx_rule is None:
                raise UnsupportedOperatorError(
                    f"ember.onnx.export: op {op.name} has no ONNX rule (opset {g.opset}); it is run by "
                    f"{', '.join(d.functions + [f'Tensor.{m}' for m in d.methods]) or 'no public function'}")
            if top is not None and top is not op:
                self._check_static(op, top, d.onnx_rule.dynamic)
            args = [self.var(a) if isinstance(a, Value) else a for a in op.args]
            g.outputs = [Var(None, o.shape, o.dtype) if o is not None else None for o in op.outputs]
            res = d.onnx_rule(g, op.node, *args)
            res = res if isinstance(res, tuple) else (res,)
            for o, r in zip(op.outputs, res):
                if o is not None:
                    self.vars[id(o)] = Var(g.name_of(r), o.shape, o.dtype)
        return g

    def _check_static(self, op, top, allowed):
        for k, a in vars(op.node).items():
            if k not in allowed and not _same(a, vars(top.node).get(k)):
                raise self.g.dynamic_error(f"its attribute {k!r}")
        for i, (a, b) in enumerate(zip(op.args, top.args)):
            if not isinstance(a, Value) and not _same(a, b):
                raise self.g.dynamic_error(f"its argument {i}")


def _state_names(model):
    """{id(tensor): (state_dict name, tensor)} of a Module's parameters and buffers (a tied one by its first name)."""
    names = {}
    if hasattr(model, "named_parameters"):
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            names.setdefault(id(t), (name, t))
    return names


def _dims(v, other, symbols, given):
    """A Value's dims for its ValueInfo: ints, or names where it follows a dynamic axis."""
    dims = []
    for i, n in enumerate(v.shape):
        m = other.shape[i] if other is not None and len(other.shape) == len(v.shape) else n
        if i in given:
            dims.append(given[i])
        elif m == n:
            dims.append(int(n))
        else:
            sym = next((s for s, (_, _, a, b) in symbols.items() if n == a and m == b), None)
            dims.append(sym or f"{next(iter(symbols), 'dim')}_{i}")
    return dims


def _build(onnx, graph, twin, names, output_names, axes, symbols, opset, model):
    from onnx import helper, numpy_helper
    conv = _Converter(graph, twin, names, symbols, opset, model)
    g = conv.convert()
    nodes = g.nodes
    out_names = list(output_names or [])
    if len(out_names) > len(graph.outputs):
        raise ValueError(f"ember.onnx.export: {len(out_names)} output_names for {len(graph.outputs)} outputs")
    n_out = len(graph.outputs)
    for i in range(len(out_names), n_out):
        out_names.append("output" if n_out == 1 else f"output_{i}")
    produced = {o for _, _, outs, _ in nodes for o in outs}
    renamed, outputs = {}, []
    for v, name in zip(graph.outputs, out_names):
        var = conv.var(v)
        g.name_of(var)
        if var.name in produced and var.name not in renamed and var.name not in names:
            renamed[var.name] = name
        else:
            nodes.append(("Identity", [renamed.get(var.name, var.name)], [name], {}))
        outputs.append(helper.make_tensor_value_info(name, onnx_dtype(v.dtype),
                                                     _dims(v, conv.twin.get(id(v)), symbols, axes.get(name, {}))))
    protos = []
    for i, (op_type, ins, outs, attrs) in enumerate(nodes):
        ins = [renamed.get(n, n) for n in ins]
        outs = [renamed.get(n, n) for n in outs]
        protos.append(helper.make_node(op_type, ins, outs, name=f"{op_type}_{i}", **_plain(attrs)))
    inputs = [helper.make_tensor_value_info(name, onnx_dtype(v.dtype),
                                            _dims(v, conv.twin.get(id(v)), symbols, axes.get(name, {})))
              for v, name in zip(graph.inputs, names)]
    inits = [numpy_helper.from_array(arr, name) for name, arr in g.initializers.items()]
    title = type(model).__name__ if hasattr(model, "forward") else getattr(model, "__name__", "model")
    proto = helper.make_graph(protos, title, inputs, outputs, initializer=inits)
    opsets = [helper.make_opsetid("", opset)]
    from .. import __version__
    model_proto = helper.make_model(proto, opset_imports=opsets, producer_name="ember", producer_version=__version__)
    model_proto.ir_version = helper.find_min_ir_version_for(opsets)
    return model_proto


def _plain(attrs):
    """Attributes as the Python types onnx.helper takes (NumPy numbers to int/float, 1-element value arrays as
    tensors)."""
    from onnx import numpy_helper
    out = {}
    for k, v in attrs.items():
        if isinstance(v, np.ndarray):
            v = numpy_helper.from_array(v)
        elif isinstance(v, np.integer):
            v = int(v)
        elif isinstance(v, np.floating):
            v = float(v)
        elif isinstance(v, (list, tuple)):
            v = [int(x) if isinstance(x, np.integer) else float(x) if isinstance(x, np.floating) else x for x in v]
        out[k] = v
    return out
