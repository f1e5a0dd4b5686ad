"""ember.compile: trace a function or Module into a graph, optimize it, and run the graph (torch.compile's API).

    @ember.compile
    def predict(x):
        return model(x).softmax(-1)

The first call with new guards (see ``Guards``) runs the function eagerly while ``capture.trace`` records its ops
(for the c backend, its convolutions on the C the graph will run, where the cache holds it:
``c_backend.convolutions_in_c``); the graph goes through the passes (``passes``) and becomes a Program
(``interpret``). Later calls with the same guards run the Program. A backward and an optimizer step inside the
function are part of its graph; a function whose outputs need gradients is traced with their backward after it (a
joint graph, see ``joint``), which a backward from the outputs runs. What a graph cannot hold (``.item()`` in the
middle, ``.numpy()``, a post-accumulate-grad hook) is a graph break: the function then always runs eagerly, after
one warning naming the cause and the line (``fullgraph=True`` raises instead). Backends: "c" (elementwise chains
fused into generated C, see ``c_backend``; the rest as "numpy"), "numpy" (the interpreter) and "eager" (no graph
at all).
"""
import contextlib
import os
import shutil
import subprocess
import warnings
from collections import OrderedDict

from .. import _tracing
from ..autograd import grad_mode
from ..nn.module import Module, structure_version
from ..ops import _autocast
from . import c_backend
from .capture import GraphBreak, first_difference, flatten, trace, unflatten
from .interpret import Program
from .joint import JointProgram, run_joint
from .ir import Value
from .passes import optimize

__all__ = ["compile", "CompiledFunction", "OptimizedModule", "GraphBreak"]

BACKENDS = ("c", "numpy", "eager")
CACHE_SIZE = 8  # guard keys kept per function (torch's cache_size_limit): the least recently used goes first
ENTRIES_PER_KEY = 4  # graphs kept for one key (traced under different states of what they read by reference)


def compile(model=None, *, fullgraph=False, dynamic=None, backend="c", mode=None, options=None,
            disable=False, memory=None):
    """Compile a function or Module: trace it into a graph, optimize the graph, and run it on later calls.

    Usable as a decorator, with or without arguments. The first call with new guards (the arguments' shapes, dtypes,
    requires_grad, grad mode...) runs eagerly while the ops are recorded, the second runs eagerly once more to check
    the record (an op holding values computed from the data outside the graph would differ: the function then stays
    eager); later calls with the same guards run the optimized graph: a backward and an optimizer step inside the
    function are in the graph, and where the outputs need gradients (a compiled model whose loss's backward runs
    outside) the graph holds their backward too, which a backward from the outputs runs (AOTAutograd's joint graph).
    What a graph cannot hold (``.item()`` in the middle, ``.numpy()``) is a graph break: the function then always
    runs eagerly, after one warning naming the cause and the line. A Module becomes an OptimizedModule that holds it
    as ``_orig_mod`` (its state_dict keys get that prefix, as PyTorch's).

    Args:
        model (callable or Module, optional): the function or Module; None: return a decorator with these options
            (a non-callable raises TypeError). Default: None.
        fullgraph (bool): raise a RuntimeError at a graph break instead of running eagerly. Default: False.
        dynamic (bool, optional): accepted and unused: a graph is traced per input shape either way.
            Default: None.
        backend (str): ``"c"`` (elementwise chains fused into C compiled by the system's compiler, cached on
            disk; the eager calls that record and check the graph run their convolutions on that C where the cache
            holds it; without a compiler the "numpy" backend, after one warning), ``"numpy"`` (the graph run by NumPy:
            the same array code as eager, the same bits) or ``"eager"`` (no graph); another raises ValueError.
            Default: ``"c"``.
        mode (str, optional): accepted and unused. Default: None.
        options (dict, optional): accepted and unused. Default: None.
        disable (bool): return a wrapper that always calls the function eagerly. Default: False.
        memory (str, optional): ``"min"`` trades time for memory in a training step: its backward recomputes the
            forward's values from checkpoints kept every ~sqrt(n) ops instead of keeping them all; None keeps
            them (another value raises ValueError). Default: None.

    Returns:
        CompiledFunction or OptimizedModule: the compiled function or Module (a decorator when model is None).

    PyTorch:
        ``torch.compile``; same use, with ember's backends (PyTorch's default is "inductor"), ``mode`` and
        ``options`` without effect, and ``memory`` of ember's own.

    Example:
        >>> @ember.compile(backend="numpy")
        ... def f(x):
        ...     return (x * 2).relu().sum()
        >>> f(ember.tensor([-1.0, 3.0]))
        tensor(6.)
        >>> len(f.graph.ops) > 0
        True
    """
    if backend not in BACKENDS:
        raise ValueError(f"ember.compile: unknown backend {backend!r} (available: {', '.join(BACKENDS)})")
    if memory not in (None, "min"):
        raise ValueError(f"ember.compile: memory must be None or 'min', got {memory!r}")
    if model is None:
        return lambda m: compile(m, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
                                 options=options, disable=disable, memory=memory)
    if not callable(model):
        raise TypeError(f"ember.compile: expected a function or a Module, got {type(model).__name__}")
    if isinstance(model, Module):
        return OptimizedModule(model, fullgraph=fullgraph, backend=backend, disable=disable, memory=memory)
    return CompiledFunction(model, fullgraph=fullgraph, backend=backend, disable=disable, memory=memory)


class _Entry:
    """One traced graph: the optimized graph and its program, or the graph break that made it eager."""

    __slots__ = ("graph", "program", "captured", "modules", "grad_entry", "checked", "broken", "signature",
                 "verified", "joint")

    def __init__(self, graph=None, broken=None, backend="numpy", name="graph", joint=None):
        self.graph, self.broken = graph, broken
        self.signature = graph.signature if graph is not None else None
        self.verified = False  # see CompiledFunction._verify
        self.program = self.joint = None
        if graph is not None and backend == "c":  # the graph shown is the one with its fused kernels
            self.program, self.graph = c_backend.program(graph, name, phases=joint is not None)
        elif graph is not None:
            self.program = Program(graph)
        if joint is not None:
            self.joint = JointProgram.of(self.program, joint)
        sources = self.program.sources if graph is not None else ()
        self.captured = [(v.tensor, v.shape, v.dtype, v.tensor.requires_grad) for v in sources
                         if v.kind == "captured"]
        self.modules = [(m, _module_state(m)) for m in (graph.modules if graph is not None else ())]
        self.grad_entry = [(self.program.sources.index(v), g) for v, g in graph.grad_entry] if graph else []
        self.checked = structure_version[0]

    def valid(self, inputs):
        """Whether what the graph read by reference is as when it was traced: the captured tensors' shapes, dtypes
        and requires_grad, the .grad objects of the leaves whose gradients it delivers, and (rechecked only when
        some module changed) the called modules' training flags and their parameter, buffer and submodule
        objects."""
        for t, shape, dtype, requires_grad in self.captured:
            d = t._data
            if d.shape != shape or d.dtype != dtype or t.requires_grad != requires_grad:
                return False
        if self.grad_entry:
            sources = self.program.sources
            for i, grad in self.grad_entry:
                v = sources[i]
                held = (inputs[v.index] if v.kind == "input" else v.tensor).grad
                if not isinstance(grad, Value):  # None, or the very tensor
                    if held is not grad:
                        return False
                elif held is None or held._data.shape != grad.shape or held._data.dtype != grad.dtype:
                    return False  # the graph adds into the .grad the leaf holds: any tensor of that shape
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
    """A compiled function, as ember.compile returns it: calls run its traced graphs (see ember.compile).

    It keeps up to 8 guard keys (the least recently used go first), each with its graphs. ``graph`` is the
    latest optimized graph, ``explain()`` describes every graph and graph break, ``reset()`` forgets them.

    Args:
        fn (callable): the function.
        fullgraph (bool): raise a RuntimeError at a graph break instead of running eagerly. Default: False.
        backend (str): ``"c"``, ``"numpy"`` or ``"eager"`` (see ember.compile). Default: ``"c"``.
        disable (bool): always call fn eagerly. Default: False.
        memory (str, optional): ``"min"``: recompute the forward's values in backward (see ember.compile).
            Default: None.

    PyTorch:
        No public class in PyTorch: torch.compile returns a plain wrapper function; ``explain``, ``graph``,
        ``save_graph`` and ``reset`` are ember's (``torch._dynamo.explain`` and ``torch._dynamo.reset`` are
        PyTorch's nearest).

    Example:
        >>> f = ember.compile(lambda x: x.exp().sum(), backend="numpy")
        >>> f(ember.zeros(3))
        tensor(3.)
        >>> print(f.explain().splitlines()[0])
        # 0: 2 ops
    """

    def __init__(self, fn, *, fullgraph=False, backend="c", disable=False, memory=None):
        self.fn, self.fullgraph, self.backend, self.disable, self.memory = fn, fullgraph, backend, disable, memory
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
        entry = next((e for e in self.cache.get(key, ()) if e.valid(tensors)), None)
        if entry is not None:
            self.cache.move_to_end(key)
            if entry.broken is not None:
                return self.fn(*args, **kwargs)
            if not entry.verified:
                return self._verify(key, entry, args, kwargs)
            outs = run_joint(entry.joint, tensors) if entry.joint is not None else entry.program.run(tensors)
            return unflatten(entry.graph.output_spec, outs)
        return self._trace(key, args, kwargs)

    def _traced(self, args, kwargs):
        """trace() of the function on these arguments (its convolutions in the C they will run on, for the c
        backend)."""
        with c_backend.convolutions_in_c() if self.backend == "c" else contextlib.nullcontext():
            return trace(self.fn, args, kwargs, joint=self.memory is None)

    def _trace(self, key, args, kwargs):
        graph, result = self._traced(args, kwargs)
        if isinstance(graph, GraphBreak):
            self._broken(key, graph)
        else:
            entry = _Entry(optimize(graph, self.__name__, self.memory), backend=self.backend, name=self.__name__,
                           joint=graph.joint)
            self.graph = entry.graph
            self._keep(key, entry)
        self.cache.move_to_end(key)
        while len(self.cache) > CACHE_SIZE:
            self.cache.popitem(last=False)
        return result

    def _verify(self, key, entry, args, kwargs):
        """The second call with a graph's guards traces again (running eagerly) and compares the two traces' ops:
        an op holding arrays or numbers that differ between them computed them from the tensors' data outside the
        graph (its replays would reuse the first call's values), so the function runs eagerly from then on."""
        graph, result = self._traced(args, kwargs)
        if isinstance(graph, GraphBreak):
            self._broken(key, graph)
            return result
        where = first_difference(entry.signature, graph.signature)
        if where is None:
            entry.verified = True
        else:
            self._broken(key, GraphBreak(f"{where} is computed from the tensors' values outside the graph's ops "
                                         "(a second trace on other data differs there)", ""))
        return result

    def _broken(self, key, why):
        if self.fullgraph:
            raise RuntimeError(f"ember.compile(fullgraph=True): {self.__name__} cannot be captured whole: {why}") \
                from None
        warnings.warn(f"ember.compile: a graph break in {self.__name__}: {why}; it runs eagerly", stacklevel=4)
        self.cache[key] = [_Entry(broken=why)]

    def _keep(self, key, entry):
        """Add entry to the graphs of key (several: the state they read by reference differs, e.g. a .grad there
        or not); at most ENTRIES_PER_KEY, the oldest go."""
        self.cache[key] = [e for e in self.cache.get(key, ()) if e.broken is None][-(ENTRIES_PER_KEY - 1):] + [entry]

    def explain(self):
        """Describe every cached graph: its ops as text, or the graph break that makes its calls eager.

        Returns:
            str: one ``# i: N ops`` part per graph followed by its ops, or ``# i: graph break: why, at
            file:line``; a line saying so before the first call.

        PyTorch:
            No PyTorch counterpart on the compiled function: ``torch._dynamo.explain(fn)(*args)`` is the nearest.

        Example:
            >>> f = ember.compile(lambda x: x.exp().sum(), backend="numpy")
            >>> _ = f(ember.zeros(3))
            >>> print(f.explain())
            # 0: 2 ops
            <lambda>(%in0: f32[3]):
                %0 = Exp(%in0)  # f32[3]
                %1 = Sum(%0) {dims=(0,), keepdim=False}  # f32[]
                return (%1)
        """
        parts = []
        for i, entry in enumerate(e for entries in self.cache.values() for e in entries):
            if entry.broken is not None:
                parts.append(f"# {i}: graph break: {entry.broken}")
            else:
                parts.append(f"# {i}: {len(entry.graph.ops)} ops\n{entry.graph.format(self.__name__)}")
        return "\n".join(parts) if parts else f"# {self.__name__}: not traced yet (call it first)"

    def save_graph(self, path) -> None:
        """Write the latest optimized graph to a file: Graphviz's DOT text, or a drawing of it.

        Before the first call (no graph yet) it raises RuntimeError.

        Args:
            path (str or PathLike): the file; ``.dot`` (or ``.gv``, or no suffix) for DOT text, ``.svg``,
                ``.png`` or ``.pdf`` for a drawing made by Graphviz's ``dot`` program (RuntimeError where it is not
                installed); another suffix raises ValueError.

        PyTorch:
            No PyTorch counterpart: ember's own (PyTorch's graphs are drawn through ``TORCH_LOGS`` or
            ``torch.fx`` passes).

        Example:
            >>> f = ember.compile(lambda x: x.exp().sum(), backend="numpy")
            >>> _ = f(ember.zeros(3))
            >>> f.save_graph("graph.dot")
            >>> open("graph.dot").readline().strip()
            'digraph "<lambda>" {'
        """
        if self.graph is None:
            raise RuntimeError(f"ember.compile: {self.__name__} has no graph yet (call it first)")
        path = os.fspath(path)
        dot, suffix = self.graph.to_dot(self.__name__), os.path.splitext(path)[1].lstrip(".").lower()
        if suffix in ("dot", "gv", ""):
            with open(path, "w") as f:
                f.write(dot + "\n")
            return
        if suffix not in ("svg", "png", "pdf"):
            raise ValueError(f"save_graph: unknown format {suffix!r} (use .dot, .svg, .png or .pdf)")
        program = shutil.which("dot")
        if program is None:
            raise RuntimeError("save_graph: drawing a graph needs Graphviz's 'dot' program (install graphviz), or "
                               "save it as .dot")
        subprocess.run([program, f"-T{suffix}", "-o", path], input=dot.encode(), check=True, capture_output=True)

    def reset(self) -> None:
        """Forget every graph and graph break: the next call traces again.

        PyTorch:
            ``torch._dynamo.reset()`` (which forgets every compiled function's graphs); here one function's.

        Example:
            >>> f = ember.compile(lambda x: x.exp().sum(), backend="numpy")
            >>> _ = f(ember.zeros(3))
            >>> f.reset()
            >>> f.graph is None
            True
        """
        self.cache.clear()
        self.graph = None


class OptimizedModule(Module):
    """A compiled Module, as ember.compile returns it: calls run the compiled ``_orig_mod``.

    Its parameters, buffers and train/eval mode are those of ``_orig_mod`` (state_dict keys start with
    ``_orig_mod.``); attributes it lacks are looked up on ``_orig_mod``.

    Args:
        mod (Module): the Module to compile.
        fullgraph (bool): raise a RuntimeError at a graph break instead of running eagerly. Default: False.
        backend (str): ``"c"``, ``"numpy"`` or ``"eager"`` (see ember.compile). Default: ``"c"``.
        disable (bool): always call the module eagerly. Default: False.
        memory (str, optional): ``"min"``: recompute the forward's values in backward (see ember.compile).
            Default: None.

    Shape:
        - Input: what ``mod`` takes.
        - Output: what ``mod`` returns.

    PyTorch:
        ``torch._dynamo.eval_frame.OptimizedModule``; same ``_orig_mod`` and state_dict keys, plus ember's
        ``graph``, ``explain()`` and ``save_graph()``.

    Example:
        >>> model = ember.compile(nn.Linear(3, 2), backend="numpy")
        >>> model(ember.ones(4, 3)).shape
        ember.Size([4, 2])
        >>> list(model.state_dict())
        ['_orig_mod.weight', '_orig_mod.bias']
    """

    def __init__(self, mod, *, fullgraph=False, backend="c", disable=False, memory=None):
        super().__init__()
        self._orig_mod = mod
        self.__dict__["_compiled"] = CompiledFunction(mod, fullgraph=fullgraph, backend=backend, disable=disable,
                                                      memory=memory)

    def forward(self, *args, **kwargs):
        """Call the compiled module: the optimized graph of these guards, or ``_orig_mod`` eagerly while tracing.

        Args:
            *args: the module's positional arguments.
            **kwargs: the module's keyword arguments.

        Returns:
            Any: what ``_orig_mod`` returns.

        PyTorch:
            ``OptimizedModule.forward``; same semantics.

        Example:
            >>> model = ember.compile(nn.Linear(3, 2), backend="numpy")
            >>> model(ember.ones(4, 3)).shape  # __call__ runs forward
            ember.Size([4, 2])
        """
        return self._compiled(*args, **kwargs)

    @property
    def graph(self):
        """The latest optimized graph of the compiled module (None before the first call). Called where its
        parameters require grad, the graph holds the forward and then its backward (the joint graph: a backward
        from the outputs runs that part).

        PyTorch:
            No PyTorch counterpart: ember's own.

        Example:
            >>> model = ember.compile(nn.Linear(3, 2), backend="numpy")
            >>> _ = model(ember.ones(4, 3))
            >>> [op.name for op in model.graph.ops]
            ['Linear', 'LinearGrad']
            >>> with ember.no_grad():
            ...     _ = model(ember.ones(4, 3))
            >>> [op.name for op in model.graph.ops]
            ['Linear']
        """
        return self._compiled.graph

    def explain(self):
        """Describe every cached graph of the compiled module (see CompiledFunction.explain).

        Returns:
            str: each graph's ops as text, or the graph break that makes its calls eager.

        PyTorch:
            No PyTorch counterpart on the module: ``torch._dynamo.explain(model)(*args)`` is the nearest.

        Example:
            >>> model = ember.compile(nn.Linear(3, 2), backend="numpy")
            >>> _ = model(ember.ones(4, 3))
            >>> model.explain().splitlines()[0]  # the forward and its backward
            '# 0: 2 ops'
        """
        return self._compiled.explain()

    def save_graph(self, path) -> None:
        """Write the latest optimized graph to a file (see CompiledFunction.save_graph).

        Args:
            path (str or PathLike): ``.dot`` for Graphviz's DOT text; ``.svg``, ``.png`` or ``.pdf`` for a drawing
                (needs Graphviz's ``dot`` program).

        PyTorch:
            No PyTorch counterpart: ember's own.

        Example:
            >>> model = ember.compile(nn.Linear(3, 2), backend="numpy")
            >>> _ = model(ember.ones(4, 3))
            >>> model.save_graph("linear.dot")
        """
        return self._compiled.save_graph(path)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.__dict__["_modules"]["_orig_mod"], name)
