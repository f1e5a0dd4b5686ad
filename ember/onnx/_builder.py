"""The ONNX graph under construction, as the op rules see it (``g`` in every rule, as torch.onnx's symbolic
functions see their ``GraphContext``).

A rule is called as ``rule(g, node, *args)``: ``node`` is the registered op's node as traced (its attributes:
dims, shapes, kernel geometry), ``args`` its arguments, where every tensor is a ``Var`` (an ONNX value name with
the shape and dtype it had when traced) and numbers, None and arrays are passed as they are. The rule adds ONNX
nodes with ``g.op(...)`` and returns the Var (or tuple of Vars, one per output) of the op's result.

Rules never see the batch size as a number they may bake in: what depends on a dynamic axis (``dynamic_axes``)
is known from a second trace at another size, ``g.twin`` (the op's node in that trace). ``g.sizes(a, b)`` turns
a shape read from the node (``a``) and from its twin (``b``) into an int64 tensor computed from the input's
shape where they differ.
"""
import numpy as np

__all__ = ["Var", "GraphBuilder", "OnnxExporterError", "UnsupportedOperatorError"]

# ONNX TensorProto data types by NumPy dtype
_ONNX_DTYPES = {"float32": 1, "uint8": 2, "int8": 3, "uint16": 4, "int16": 5, "int32": 6, "int64": 7, "bool": 9,
                "float16": 10, "float64": 11, "uint32": 12, "uint64": 13, "complex64": 14, "complex128": 15,
                "bfloat16": 16}


class OnnxExporterError(RuntimeError):
    """An ONNX export failed: the base of ember.onnx.export's errors.

    PyTorch:
        ``torch.onnx.OnnxExporterError``; same use.
    """


class UnsupportedOperatorError(OnnxExporterError):
    """An op of the exported model has no ONNX rule, or none for this use of it; the message names it.

    PyTorch:
        ``torch.onnx.errors.UnsupportedOperatorError``; same use.
    """


def onnx_dtype(dtype):
    """The ONNX TensorProto data type of a NumPy dtype."""
    try:
        return _ONNX_DTYPES[np.dtype(dtype).name]
    except KeyError:
        raise OnnxExporterError(f"ember.onnx.export: dtype {np.dtype(dtype)} has no ONNX type") from None


class Var:
    """One value of the ONNX graph: its name; the shape and dtype it had when traced (None where a rule made it
    and nobody needs them); ``array``: its values when it is a constant the traced function made."""

    __slots__ = ("name", "shape", "dtype", "array", "pending")

    def __init__(self, name, shape=None, dtype=None, array=None, pending=None):
        self.name, self.shape, self.dtype, self.array = name, shape, dtype, array
        self.pending = pending  # a function giving the name, called when the value is first used (see name_of)

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"Var({self.name!r}, {self.shape}, {self.dtype})"


class GraphBuilder:
    """Nodes and initializers of the graph being exported (see the module docstring)."""

    def __init__(self, opset, symbols):
        """symbols: {name: (input name, axis, size in the first trace, size in the second)} of the dynamic axes."""
        self.opset = opset
        self.symbols = symbols
        self.nodes = []          # (op_type, input names, output names, attributes)
        self.initializers = {}   # name -> array
        self.twin = None  # the node of the op being converted in the second trace (the node itself without one)
        self.op_name = ""  # the name of the op being converted (for errors)
        self._count = 0
        self._symbol_sizes = {}  # symbol -> Var of its size (int64 [1])
        self.known = {}  # id(array) -> name: the arrays of parameters and buffers, as initializers of that name
        self.outputs = []  # Vars (shape and dtype) of the traced outputs of the op being converted

    # --- names ----------------------------------------------------------------------------------------------------
    def fresh(self, hint):
        self._count += 1
        return f"{hint}_{self._count}"

    def name_of(self, x):
        """The value name of a rule's operand: a Var, None (an omitted optional input) or an array (a constant)."""
        if x is None:
            return ""
        if isinstance(x, str):
            return x
        if isinstance(x, Var):
            if x.pending is not None:
                make, x.pending = x.pending, None
                x.name = make()
            return x.name
        if isinstance(x, np.ndarray):
            return self.const(x).name
        raise OnnxExporterError(f"ember.onnx.export: {self.op_name}: cannot pass {type(x).__name__} {x!r} as an "
                                "ONNX input (numbers must become constants of a dtype: g.const)")

    # --- nodes ----------------------------------------------------------------------------------------------------
    def op(self, op_type, *inputs, outputs=1, **attrs):
        """Add an ONNX node; returns its output Var (a tuple of Vars when outputs > 1). Attributes are keyword
        arguments (None ones are left out)."""
        names = [self.name_of(x) for x in inputs]
        while names and names[-1] == "":
            names.pop()
        outs = [self.fresh(op_type) for _ in range(outputs)]
        self.nodes.append((op_type, names, outs, {k: v for k, v in attrs.items() if v is not None}))
        vs = tuple(Var(n) for n in outs)
        return vs[0] if outputs == 1 else vs

    def const(self, value, dtype=None):
        """An initializer holding value (an array, or a number or list with dtype)."""
        if isinstance(value, np.ndarray) and id(value) in self.known and dtype in (None, value.dtype):
            name = self.known[id(value)]
            self.initializers.setdefault(name, np.asarray(value))
            return Var(name, value.shape, value.dtype, value)
        arr = np.asarray(value, dtype=dtype)
        if arr.dtype == np.float64 and dtype is None and not isinstance(value, np.ndarray):
            raise OnnxExporterError("ember.onnx.export: a constant made from Python floats needs a dtype")
        name = self.fresh("const")
        self.initializers[name] = np.asarray(arr)
        return Var(name, arr.shape, arr.dtype, arr)

    def ints(self, values):
        """An int64 1-D constant."""
        return self.const(np.asarray(values, dtype=np.int64).reshape(-1))

    def scalar(self, value, like):
        """A 0-d constant of the dtype of like (a Var as traced, or a dtype): a number operand of an elementwise
        op."""
        dtype = like.dtype if isinstance(like, Var) else like
        if dtype is None:
            raise OnnxExporterError(f"ember.onnx.export: {self.op_name}: a number needs the dtype of a traced value")
        return self.const(np.asarray(value, dtype=dtype))

    # --- dynamic axes ---------------------------------------------------------------------------------------------
    def sizes(self, a, b=None):
        """An int64 1-D tensor of the sizes a (read from the traced node); b: the same sizes read from the twin
        node (the trace at other dynamic sizes). Where they differ the entry is k * (a dynamic axis's size),
        computed from the input's shape when the graph runs."""
        a = [int(v) for v in a]
        b = a if b is None else [int(v) for v in b]
        if a == b:
            return self.ints(a)
        if len(a) != len(b):
            raise self.dynamic_error(f"a shape of rank {len(a)} in one trace and {len(b)} in the other")
        parts, run = [], []
        for x, y in zip(a, b):
            if x == y:
                run.append(x)
                continue
            if run:
                parts.append(self.ints(run))
                run = []
            parts.append(self._scaled_symbol(x, y))
        if run:
            parts.append(self.ints(run))
        return parts[0] if len(parts) == 1 else self.op("Concat", *parts, axis=0)

    def _scaled_symbol(self, x, y):
        for sym, (_, _, s1, s2) in self.symbols.items():
            if s1 and x % s1 == 0 and x // s1 * s2 == y:
                size = self.symbol_size(sym)
                k = x // s1
                return size if k == 1 else self.op("Mul", size, self.ints([k]))
        raise self.dynamic_error(f"a size {x} (and {y} at the other size) that is no multiple of one dynamic axis")

    def symbol_size(self, sym):
        """The size of dynamic axis sym when the graph runs (int64 [1]), read from the input's shape once."""
        if sym not in self._symbol_sizes:
            name, axis = self.symbols[sym][:2]
            self._symbol_sizes[sym] = self.op("Shape", Var(name), start=axis, end=axis + 1)
        return self._symbol_sizes[sym]

    def dynamic_error(self, what):
        return UnsupportedOperatorError(
            f"ember.onnx.export: {self.op_name} depends on the dynamic axes ({what}); its ONNX rule cannot follow "
            f"them (export without dynamic_axes, or at opset {self.opset} this op is static only)")

    # --- errors ---------------------------------------------------------------------------------------------------
    def unsupported(self, what):
        """The error for a use of the op that its rule does not cover."""
        return UnsupportedOperatorError(f"ember.onnx.export: {self.op_name} {what} has no ONNX form "
                                        f"(opset {self.opset})")
