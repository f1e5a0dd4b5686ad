"""ember.compile: trace a function or Module into a graph, optimize it, and run the graph (torch.compile's API).

    @ember.compile
    def predict(x):
        return model(x).softmax(-1)

The first call with new guards (see ``Guards``) runs the function eagerly while ``capture.trace`` records its ops;
the graph goes through the passes (``passes``) and becomes a Program (``interpret``). Later calls with the same
guards run the Program. What a graph cannot hold (``.item()``, a random factory, a backward, an optimizer step)
is a graph break: the function then always runs eagerly, after one warning naming the cause and the line
(``fullgraph=True`` raises instead). Backends: "numpy" (the interpreter) and "eager" (no graph at all).
"""
import warnings
from collections import OrderedDict

from .. import _tracing
from ..autograd import grad_mode
from ..nn.module import Module, structure_version
from ..ops import _autocast
from .capture import GraphBreak, flatten, trace, unflatten
from .interpret import Program
from .passes import optimize

__all__ = ["compile", "CompiledFunction", "OptimizedModule", "GraphBreak"]

BACKENDS = ("numpy", "eager")
CACHE_SIZE = 8  # graphs kept per function (torch's cache_size_limit): the least recently used goes first


def compile(model=None, *, fullgraph=False, dynamic=None, backend="numpy", mode=None, options=None,
            disable=False):
    """Compile a function or Module, as torch.compile (usable as a decorator, with or without arguments).

    A Module becomes an OptimizedModule that holds it as ``_orig_mod`` (its state_dict keys get that prefix, as
    PyTorch's). ``dynamic`` is accepted: a graph is traced per input shape either way. ``mode`` and ``options`` are
    accepted and have no effect yet."""
    if backend not in BACKENDS:
        raise ValueError(f"ember.compile: unknown backend {backend!r} (available: {', '.join(BACKENDS)})")
    if model is None:
        return lambda m: compile(m, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
                                 options=options, disable=disable)
    if not callable(model):
        raise TypeError(f"ember.compile: expected a function or a Module, got {type(model).__name__}")
    if isinstance(model, Module):
        return OptimizedModule(model, fullgraph=fullgraph, backend=backend, disable=disable)
    return CompiledFunction(model, fullgraph=fullgraph, backend=backend, disable=disable)


class _Entry:
    """One traced graph: the optimized graph and its program, or the graph break that made it eager."""

    __slots__ = ("graph", "program", "captured", "modules", "checked", "broken")

    def __init__(self, graph=None, broken=None):
        self.graph, self.broken = graph, broken
        self.program = Program(graph) if graph is not None else None
        sources = self.program.sources if graph is not None else ()
        self.captured = [(v.tensor, v.shape, v.dtype) for v in sources if v.kind == "captured"]
        self.modules = [(m, _module_state(m)) for m in (graph.modules if graph is not None else ())]
        self.checked = structure_version[0]

    def valid(self):
        """Whether what the graph read by reference is as when it was traced: the captured tensors' shapes and
        dtypes, and (rechecked only when some module changed) the called modules' training flags and their
        parameter, buffer and submodule objects."""
        for t, shape, dtype in self.captured:
            d = t._data
            if d.shape != shape or d.dtype != dtype:
                return False
        if self.checked != structure_version[0]:
            if any(_module_state(m) != state for m, state in self.modules):
                return False
            self.checked = structure_version[0]
        return True


def _module_state(module):
    d = module.__dict__
    return (module.training, tuple(map(id, d["_parameters"].values())), tuple(map(id, d["_buffers"].values())),
            tuple(map(id, d["_modules"].values())))


def _guard_key(spec, tensors):
    """What must be equal for a graph to be reused: the arguments' nesting and non-tensor values, each tensor's
    shape, dtype, device and requires_grad, grad mode and autocast."""
    metas = tuple((t._data.shape, t._data.dtype, t._data.__class__, t.requires_grad) for t in tensors)
    return _hashable(spec), metas, grad_mode.state.enabled, _autocast.state_key()


def _hashable(spec):
    kind, body = spec
    if kind == "tensor":
        return ("t",)
    if kind == "leaf":
        try:
            hash(body)
            return ("v", type(body), body)
        except TypeError:
            return ("id", id(body))
    if kind is dict:
        return (dict, tuple((k, _hashable(s)) for k, s in body))
    return (kind, tuple(_hashable(s) for s in body))


class CompiledFunction:
    """A function with its traced graphs (see the module docstring). ``graph`` is the latest optimized graph,
    ``explain()`` describes every graph and graph break."""

    def __init__(self, fn, *, fullgraph=False, backend="numpy", disable=False):
        self.fn, self.fullgraph, self.backend, self.disable = fn, fullgraph, backend, disable
        self.cache = OrderedDict()
        self.graph = None
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__wrapped__ = fn

    def __call__(self, *args, **kwargs):
        if self.disable or self.backend == "eager" or _tracing.active[0]:
            return self.fn(*args, **kwargs)  # inside another trace: its ops are that trace's
        tensors = []
        key = _guard_key(flatten((args, kwargs), tensors), tensors)
        entry = self.cache.get(key)
        if entry is not None and entry.valid():
            self.cache.move_to_end(key)
            if entry.broken is not None:
                return self.fn(*args, **kwargs)
            outs = entry.program.run(tensors)
            return unflatten(entry.graph.output_spec, outs)
        return self._trace(key, args, kwargs)

    def _trace(self, key, args, kwargs):
        graph, result = trace(self.fn, args, kwargs)
        if isinstance(graph, GraphBreak):
            if self.fullgraph:
                raise RuntimeError(f"ember.compile(fullgraph=True): {self.__name__} cannot be captured whole: "
                                   f"{graph}") from None
            warnings.warn(f"ember.compile: a graph break in {self.__name__}: {graph}; it runs eagerly",
                          stacklevel=3)
            entry = _Entry(broken=graph)
        else:
            entry = _Entry(optimize(graph, self.__name__))
            self.graph = entry.graph
        self.cache[key] = entry
        self.cache.move_to_end(key)
        while len(self.cache) > CACHE_SIZE:
            self.cache.popitem(last=False)
        return result

    def explain(self):
        """Every cached graph as text (or the graph break that made a call eager)."""
        parts = []
        for i, entry in enumerate(self.cache.values()):
            if entry.broken is not None:
                parts.append(f"# {i}: graph break: {entry.broken}")
            else:
                parts.append(f"# {i}: {len(entry.graph.ops)} ops\n{entry.graph.format(self.__name__)}")
        return "\n".join(parts) if parts else f"# {self.__name__}: not traced yet (call it first)"

    def reset(self):
        """Forget every graph: the next call traces again."""
        self.cache.clear()
        self.graph = None


class OptimizedModule(Module):
    """A compiled Module (torch's OptimizedModule): calls run the compiled ``_orig_mod``, whose parameters,
    buffers and train/eval mode are this module's (state_dict keys start with ``_orig_mod.``)."""

    def __init__(self, mod, *, fullgraph=False, backend="numpy", disable=False):
        super().__init__()
        self._orig_mod = mod
        self.__dict__["_compiled"] = CompiledFunction(mod, fullgraph=fullgraph, backend=backend, disable=disable)

    def forward(self, *args, **kwargs):
        return self._compiled(*args, **kwargs)

    @property
    def graph(self):
        return self._compiled.graph

    def explain(self):
        return self._compiled.explain()

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.__dict__["_modules"]["_orig_mod"], name)
