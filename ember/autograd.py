"""Reverse-mode automatic differentiation: graph nodes, the backward engine, grad modes, Function, gradcheck.

Every op is a ``Node`` subclass in ``ember/ops``: ``forward(xp, *arrays)`` computes on arrays (NumPy or CuPy),
``backward(grad)`` returns the input gradients written with ember ops, so that gradients of gradients work.

The engine runs nodes in decreasing creation order (a node is always created after the nodes whose outputs it
consumes), from a heap: no recursion and no separate dependency-counting pass, so a chain of a million ops
back-propagates in linear time.
"""
import functools
import heapq
import inspect
import itertools
import threading

from .device import get_array_module

__all__ = [
    "Node", "Function", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
    "is_grad_enabled", "is_inference_mode_enabled", "gradcheck", "gradgradcheck", "GradcheckError",
]

Tensor = None  # set by ember.tensor once the class exists (autograd is imported first)


class _GradMode(threading.local):
    """The grad mode, per thread as in PyTorch (every new thread starts with recording enabled)."""

    def __init__(self):
        self.enabled = True
        self.inference = False


_mode = _GradMode()
_next_seq = itertools.count().__next__  # creation order of nodes: the engine's topological order


def is_grad_enabled():
    """True when operations are being recorded for autograd."""
    return _mode.enabled


def is_inference_mode_enabled():
    """True inside inference_mode()."""
    return _mode.inference


def _decorate(fn, enter, leave):
    """Wrap fn (a function or a generator function) so that it runs between enter() and leave(state)."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            gen = fn(*args, **kwargs)
            state = enter()
            try:
                value = gen.send(None)
            finally:
                leave(state)
            while True:
                try:
                    sent = yield value
                except GeneratorExit:
                    gen.close()
                    raise
                except BaseException as exc:  # forward throw() into the generator
                    state = enter()
                    try:
                        value = gen.throw(exc)
                    finally:
                        leave(state)
                else:
                    state = enter()
                    try:
                        value = gen.send(sent)
                    except StopIteration as stop:
                        return stop.value
                    finally:
                        leave(state)

        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        state = enter()
        try:
            return fn(*args, **kwargs)
        finally:
            leave(state)

    return wrapper


def _setter(enabled):
    def enter():
        prev = _mode.enabled
        _mode.enabled = enabled
        return prev

    def leave(prev):
        _mode.enabled = prev

    return enter, leave


class set_grad_enabled:
    """Turn gradient recording on or off; works as a function call, a context manager and a decorator."""

    def __init__(self, mode=True):
        self.prev = _mode.enabled
        self.mode = bool(mode)
        _mode.enabled = self.mode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _mode.enabled = self.prev

    def __call__(self, fn):
        _mode.enabled = self.prev  # used as a decorator: the constructor must not have changed the mode
        return _decorate(fn, *_setter(self.mode))


class _ModeContext:
    """Base of no_grad/enable_grad: a context manager and a decorator (with or without parentheses)."""

    mode = True

    def __new__(cls, fn=None):
        self = super().__new__(cls)
        if fn is not None and callable(fn):  # @no_grad without parentheses
            return self(fn)
        return self

    def __init__(self, fn=None):
        self.prev = []

    def __enter__(self):
        self.prev.append(_mode.enabled)
        _mode.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _mode.enabled = self.prev.pop()

    def __call__(self, fn):
        return _decorate(fn, *_setter(self.mode))


class no_grad(_ModeContext):
    """Context manager and decorator that disables gradient recording."""

    mode = False


class enable_grad(_ModeContext):
    """Context manager and decorator that enables gradient recording (inside no_grad)."""

    mode = True


class inference_mode:
    """Like no_grad (ember has no separate inference tensors); ``inference_mode(False)`` changes nothing.

    Works as a context manager and as a decorator, with or without parentheses.
    """

    def __new__(cls, mode=True):
        self = super().__new__(cls)
        if callable(mode) and not isinstance(mode, bool):  # @inference_mode without parentheses
            self.__init__(True)
            return self(mode)
        return self

    def __init__(self, mode=True):
        self.enabled = bool(mode)
        self.prev = []

    def _enter(self):
        prev = (_mode.enabled, _mode.inference)
        if self.enabled:
            _mode.enabled, _mode.inference = False, True
        return prev

    @staticmethod
    def _leave(prev):
        _mode.enabled, _mode.inference = prev

    def __enter__(self):
        self.prev.append(self._enter())
        return self

    def __exit__(self, *exc):
        self._leave(self.prev.pop())

    def __call__(self, fn):
        return _decorate(fn, self._enter, self._leave)


# ---------------------------------------------------------------------------------------------------------------
# graph nodes


class Node:
    """One recorded operation in the autograd graph.

    Subclasses set ``saves`` (indices of inputs the backward reads; None means all) and implement
    ``forward(xp, *arrays)`` and ``backward(grad)``. When a node is recorded, the tensor inputs not in ``saves``
    are replaced by None in ``self.inputs`` (numbers stay), so that activations no backward needs are freed as
    soon as the user drops them: a backward must read only the inputs in ``saves`` (a property may choose them
    from ``needs_input_grad``) and keep any shapes, dtypes or devices it needs on ``self``, together with other
    array-valued state, in ``forward``. All of it is released after backward unless the graph is retained.
    """

    __slots__ = ("inputs", "edges", "needs_input_grad", "_versions", "_pre_hooks", "_seq", "__dict__",
                 "__weakref__")
    saves = None          # indices of the inputs that backward reads (None: all of them)
    saves_output = False  # True when backward reads the output (so modifying it in place is an error)
    is_view = False       # True when the output shares memory with input 0
    differentiable = True
    n_outputs = 1

    @property
    def name(self):
        return type(self).__name__

    def forward(self, xp, *args):
        raise NotImplementedError

    def backward(self, grad):
        raise NotImplementedError

    def saved_output(self):
        """The output array stored as ``self.out`` in forward, as a tensor (part of the graph under create_graph)."""
        return Tensor._wrap(self.out, True, self) if _mode.enabled else Tensor._wrap(self.out)

    def _release(self):
        """Drop what backward needed (saved inputs, arrays on self) once the graph is not retained."""
        self.inputs = None
        self._versions = None
        self.__dict__.clear()

    # PyTorch-compatible introspection
    @property
    def next_functions(self):
        return tuple(e if e.__class__ is tuple else ((_AccumulateGrad(e) if e is not None else None), 0)
                     for e in (self.edges or ()))

    def register_hook(self, fn):
        """Not supported on nodes; use Tensor.register_hook."""
        raise NotImplementedError("Node.register_hook: use Tensor.register_hook")

    def __repr__(self):
        return f"<{self.name}Backward0>"


class _AccumulateGrad:
    __slots__ = ("variable",)

    def __init__(self, variable):
        self.variable = variable

    def __repr__(self):
        return "<AccumulateGrad>"


def check_version(node, i, vbox, version):
    """Raise PyTorch's error when a tensor saved for backward was modified in place after it was saved."""
    if vbox[0] != version:
        what = "output 0" if i < 0 else f"input {i}"
        raise RuntimeError(
            "one of the variables needed for gradient computation has been modified by an inplace operation: "
            f"the tensor which is {what} of {node.name}Backward0 is at version {vbox[0]}; expected version "
            f"{version} instead. Hint: replace the inplace operation by an out-of-place one.")


_FREED = ("Trying to backward through the graph a second time (or directly access saved tensors after they have "
          "already been freed). Saved intermediate values of the graph are freed when you call .backward() or "
          "autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or "
          "if you need to access saved tensors after calling backward.")


def _record(node, args):
    """Attach a node to its inputs: edges to their nodes (or leaves), which need grads, creation order."""
    edges = []
    needs = []
    for a in args:
        if isinstance(a, Tensor) and a.requires_grad:
            fn = a.grad_fn
            edges.append((fn, a._out_index) if fn is not None else a)
            needs.append(True)
        else:
            edges.append(None)
            needs.append(False)
    node.edges = tuple(edges)
    node.needs_input_grad = tuple(needs)
    node.inputs = args
    node._pre_hooks = None
    node._versions = None
    node._seq = _next_seq()


# ---------------------------------------------------------------------------------------------------------------
# the engine


def _run(roots, root_grads, retain_graph, create_graph, capture=None):
    """Back-propagate root_grads from roots.

    Without capture, gradients reaching leaves are accumulated into their .grad. With capture (a dict
    {(id(node or leaf), output index): slot}), the gradients of those tensors are returned in a list and no .grad
    is touched; only the part of the graph that leads to them runs.
    """
    prev_mode = _mode.enabled
    _mode.enabled = create_graph
    try:
        return _engine(roots, root_grads, retain_graph, create_graph, capture)
    finally:
        _mode.enabled = prev_mode


def _engine(roots, root_grads, retain_graph, create_graph, capture):
    captured = [None] * len(capture) if capture is not None else None
    # Arrays the user can see (root grads, hook results): a leaf must copy them rather than adopt them as .grad.
    shared = {id(g.data) for g in root_grads}
    buffers = {}
    heap = []
    # Leaf gradients are summed here and delivered once at the end (so a leaf's hooks see the total, as in
    # PyTorch, and a leaf never writes into an array that a node has yet to read): see _add_to_leaf.
    leaves = {}
    for t, g in zip(roots, root_grads):
        fn = t.grad_fn
        if fn is None:  # a leaf: its gradient is the root gradient itself
            _add_to_leaf(leaves, t, g, False, create_graph)
        else:
            _add_to_buffer(buffers, heap, fn, t._out_index, g, create_graph)
    visit, run = _wanted_nodes(buffers, capture) if capture is not None else (None, None)

    heappop, heappush = heapq.heappop, heapq.heappush
    while heap:
        node = heappop(heap)[1]
        g = buffers.pop(node)
        multi = g.__class__ is list
        if node._pre_hooks:
            g = _run_pre_hooks(node, g, multi, shared)
        if capture is not None:
            _capture_node(node, g, multi, capture, captured)
            if node not in run:
                continue
        inputs = node.inputs
        if inputs is None:
            raise RuntimeError(_FREED)
        versions = node._versions
        if versions:
            for i, vbox, v in versions:
                if vbox[0] != v:
                    check_version(node, i, vbox, v)
        in_grads = node.backward(*g) if multi else node.backward(g)
        if in_grads.__class__ is not tuple:
            in_grads = (in_grads,) if isinstance(in_grads, Tensor) else tuple(in_grads)
        if len(in_grads) < len(inputs):  # extra trailing gradients are ignored (for ops with optional inputs)
            raise RuntimeError(f"function {node.name}Backward0 returned an incorrect number of gradients (expected "
                               f"{len(inputs)}, got {len(in_grads)})")
        own = node.__class__ is not _FunctionNode  # user code may return tensors it keeps elsewhere
        for e, g, inp in zip(node.edges, in_grads, inputs):
            if e is None or g is None:
                continue
            if inp is not None:  # inputs the backward does not read were released at record time
                gd, idata = g.data, inp.data
                if gd.shape != idata.shape or gd.dtype is not idata.dtype:
                    g = _conform(g, inp, node, inputs)
            if e.__class__ is tuple:
                nxt = e[0]
                if visit is not None and nxt not in visit:
                    continue
                if nxt.n_outputs != 1:
                    _add_to_buffer(buffers, heap, nxt, e[1], g, create_graph)
                elif nxt in buffers:
                    buffers[nxt] = _sum(buffers[nxt], g, create_graph)
                else:
                    buffers[nxt] = g
                    heappush(heap, (-nxt._seq, nxt))
            elif capture is None or (id(e), 0) in capture:
                _add_to_leaf(leaves, e, g, own, create_graph)
        if not retain_graph:
            node._release()
    for t, g, own, _ in leaves.values():
        _deliver_leaf(t, g, captured, capture, create_graph, shared, own)
    return captured


def _add_to_leaf(leaves, t, g, own, create_graph):
    """Sum g into leaf t's pending gradient: leaves[id(t)] = [t, grad, own (see _deliver_leaf), made here]."""
    entry = leaves.get(id(t))
    if entry is None:
        leaves[id(t)] = [t, g, own, False]
    elif entry[3] and not create_graph and entry[1].data.dtype == g.data.dtype:
        entry[1].data += g.data  # a sum made here before: nobody else has seen it
    else:
        entry[1] = _sum(entry[1], g, create_graph)
        entry[2] = entry[3] = True


def _add_to_buffer(buffers, heap, node, idx, g, create_graph):
    """Sum g into the gradient buffer of output idx of node (pushing the node on the heap on first use)."""
    buf = buffers.get(node)
    if node.n_outputs == 1:
        if buf is None:
            buffers[node] = g
            heapq.heappush(heap, (-node._seq, node))
        else:
            buffers[node] = _sum(buf, g, create_graph)
        return
    if buf is None:
        buf = buffers[node] = [None] * node.n_outputs
        heapq.heappush(heap, (-node._seq, node))
    buf[idx] = g if buf[idx] is None else _sum(buf[idx], g, create_graph)


def _sum(a, b, create_graph):
    if create_graph:
        return a + b
    return Tensor._wrap(a.data + b.data)


def _conform(g, inp, node, inputs):
    """Reduce a broadcast gradient to the input's shape and cast it to its dtype, as PyTorch's engine does."""
    from .ops._broadcast import sum_to

    i = next(k for k, x in enumerate(inputs) if x is inp)
    shape = tuple(inp.data.shape)
    if tuple(g.data.shape) != shape:
        if not _expandable(shape, tuple(g.data.shape)):
            raise RuntimeError(f"Function {node.name}Backward0 returned an invalid gradient at index {i} - got "
                               f"{list(g.data.shape)} but expected shape compatible with {list(shape)}")
        g = sum_to(g, shape)
    if g.data.dtype != inp.data.dtype:
        g = g.to(inp.dtype)
    return g


def _expandable(shape, target):
    if len(shape) > len(target):
        return False
    for s, t in zip(reversed(shape), reversed(target)):
        if s != t and s != 1:
            return False
    return True


def _run_pre_hooks(node, g, multi, shared):
    grads = g if multi else [g]
    for i, hooks in node._pre_hooks.items():
        for h in list(hooks):
            if grads[i] is not None:
                r = h(grads[i])
                if r is not None:
                    grads[i] = r
        if grads[i] is not None:
            shared.add(id(grads[i].data))  # a hook may have kept it (retain_grad does)
    return grads if multi else grads[0]


def _capture_node(node, g, multi, capture, captured):
    for i in range(node.n_outputs):
        slot = capture.get((id(node), i))
        if slot is not None:
            captured[slot] = g[i] if multi else g


def _wanted_nodes(buffers, capture):
    """For grad(): (nodes to visit, nodes to run). Only the part of the graph that leads to a captured tensor
    runs; a captured non-leaf's own node is visited (to take its gradient) but runs only if it leads further."""
    order = []
    seen = set(buffers)
    stack = list(buffers)
    while stack:
        node = stack.pop()
        order.append(node)
        for e in node.edges or ():
            if e.__class__ is tuple and e[0] not in seen:
                seen.add(e[0])
                stack.append(e[0])
    order.sort(key=lambda n: n._seq)  # inputs' nodes come before their consumers
    run, visit = set(), set()
    for node in order:
        for e in node.edges or ():
            if e is None:
                continue
            if e[0] in visit if e.__class__ is tuple else (id(e), 0) in capture:
                run.add(node)
                visit.add(node)
                break
        if node not in visit and any((id(node), i) in capture for i in range(node.n_outputs)):
            visit.add(node)
    return visit, run


def _deliver_leaf(t, g, captured, capture, create_graph, shared, own):
    """Give a leaf its total gradient: run its hooks, then capture it (grad()) or accumulate it into .grad.

    own says that g's array was made by the engine or a built-in op and is seen nowhere else, so it can become
    the leaf's .grad without a copy.
    """
    if t._hooks:
        own = False  # a hook may keep the gradient it is given
        for h in list(t._hooks):
            r = h(g)
            if r is not None:
                g = r
    if capture is not None:
        slot = capture.get((id(t), 0))
        if slot is not None:
            captured[slot] = g
        return
    gd = g.data
    if gd.shape != t.data.shape:
        raise RuntimeError(f"backward: gradient of shape {tuple(gd.shape)} does not match the leaf's shape "
                           f"{tuple(t.data.shape)}")
    if gd.dtype != t.data.dtype:
        g = g.to(t.dtype)
        gd = g.data
    old = t.grad
    if old is None:
        if create_graph:
            t.grad = g
            return
        # The grad becomes the leaf's own buffer (later accumulated in place), so it must not be seen elsewhere.
        key = id(gd)
        if not own or key in shared or gd.base is not None or not gd.flags.writeable:
            gd = gd.copy()
            key = id(gd)
        shared.add(key)
        t.grad = Tensor._wrap(gd)
    elif create_graph or old.requires_grad:
        t.grad = old + g
    else:
        od = old.data
        if od.shape == gd.shape and od.flags.writeable and od.dtype == gd.dtype:
            od += gd  # in place, like PyTorch's AccumulateGrad
            old._vbox[0] += 1
        else:
            t.grad = Tensor._wrap(od + gd)


# ---------------------------------------------------------------------------------------------------------------
# public entry points


def _make_root_grads(outputs, grad_outputs, who):
    grads = []
    for i, (t, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{who}: expected tensors as outputs, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        td = t.data
        if g is None:
            if td.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            grads.append(Tensor._wrap(get_array_module(td).ones(td.shape, td.dtype)))
            continue
        if not isinstance(g, Tensor):
            g = Tensor(g, dtype=t.dtype, device=t.device)
        if g.data.shape != td.shape:
            raise RuntimeError(f"{who}: Mismatch in shape: grad_output[{i}] has a shape of {tuple(g.shape)} and "
                               f"output[{i}] has a shape of {tuple(t.shape)}.")
        if g.data.dtype != t.data.dtype:
            g = g.detach().to(t.dtype)
        grads.append(g)
    return grads


def _as_list(x):
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate gradients of tensors into the .grad of the leaves they depend on."""
    tensors = _as_list(tensors)
    grads = _as_list(grad_tensors) or [None] * len(tensors)
    if len(grads) != len(tensors):
        raise RuntimeError(f"backward: got {len(tensors)} tensors and {len(grads)} gradients")
    if retain_graph is None:
        retain_graph = create_graph
    root_grads = _make_root_grads(tensors, grads, "backward")
    if inputs is not None:
        inputs = _as_list(inputs)
        got = grad(tensors, inputs, root_grads, retain_graph=retain_graph, create_graph=create_graph,
                   allow_unused=True)
        for t, g in zip(inputs, got):
            if g is not None:
                if t.grad is not None:
                    t.grad = t.grad + g
                else:
                    t.grad = g if create_graph else Tensor._wrap(g.data.copy())
        return
    _run(tensors, root_grads, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=None,
         materialize_grads=False):
    """Return the gradients of outputs with respect to inputs (a tuple), without touching any .grad."""
    from .ops.creation import zeros_like

    outputs, inputs = _as_list(outputs), _as_list(inputs)
    grads = _as_list(grad_outputs) or [None] * len(outputs)
    if len(grads) != len(outputs):
        raise RuntimeError(f"grad: got {len(outputs)} outputs and {len(grads)} grad_outputs")
    if retain_graph is None:
        retain_graph = create_graph
    for t in inputs:
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    root_grads = _make_root_grads(outputs, grads, "grad")
    keys = [(id(t.grad_fn), t._out_index) if t.grad_fn is not None else (id(t), 0) for t in inputs]
    capture = {}
    for key in keys:
        capture.setdefault(key, len(capture))
    captured = _run(outputs, root_grads, retain_graph, create_graph, capture)
    result = [captured[capture[key]] for key in keys]  # the same tensor given twice gets its gradient twice
    for i, (t, g) in enumerate(zip(inputs, result)):
        if g is None:
            if materialize_grads:
                result[i] = zeros_like(t)
            elif not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been used in the graph. "
                                   "Set allow_unused=True if this is the desired behavior.")
    return tuple(result)


# ---------------------------------------------------------------------------------------------------------------
# Function: user-defined ops in Python


class FunctionCtx:
    """The ``ctx`` of an ``autograd.Function``: save tensors for backward and read which inputs need grads."""

    def save_for_backward(self, *tensors):
        """Keep tensors (or None) for backward; modifying them in place afterwards makes backward raise."""
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save variables, but argument {tensors.index(t)} is "
                                f"of type {type(t).__name__}")
        self._saved = tensors
        self._saved_versions = [(t._vbox, t._vbox[0]) if t is not None else None for t in tensors]

    @property
    def saved_tensors(self):
        if getattr(self, "_freed", False):
            raise RuntimeError(_FREED)
        for i, sv in enumerate(getattr(self, "_saved_versions", ())):
            if sv is not None:
                check_version(self._node, i, sv[0], sv[1])
        return getattr(self, "_saved", ())

    def mark_non_differentiable(self, *tensors):
        self._non_diff = {id(t) for t in tensors}

    def set_materialize_grads(self, value):
        self._materialize = bool(value)

    def mark_dirty(self, *tensors):
        self._dirty = tensors


class _FunctionNode(Node):
    def __init__(self, fn_cls, ctx, n_outputs):
        self.fn_cls, self.ctx, self._n = fn_cls, ctx, n_outputs

    @property
    def n_outputs(self):
        return self._n

    @property
    def name(self):
        return self.fn_cls.__name__

    def __repr__(self):
        return f"<{self.name}Backward>"

    def _release(self):
        self.inputs = None
        self.ctx._saved = None
        self.ctx._freed = True

    def backward(self, *grads):
        ctx = self.ctx
        if getattr(ctx, "_materialize", True):
            grads = [g if g is not None else _zeros(meta) for g, meta in zip(grads, ctx._outputs_meta)]
        result = self.fn_cls.backward(ctx, *grads)
        if not isinstance(result, tuple):
            result = (result,)
        n = len(self.edges)
        if len(result) < n or any(r is not None for r in result[n:]):
            raise RuntimeError(f"function {self.name}Backward returned an incorrect number of gradients "
                               f"(expected {n}, got {len(result)})")
        for i, r in enumerate(result[:n]):
            if r is not None and not isinstance(r, Tensor):
                raise TypeError(f"function {self.name}Backward returned a gradient of type {type(r).__name__} at "
                                f"index {i}; expected a Tensor or None")
        return result[:n]


def _zeros(meta):
    shape, np_dtype, xp = meta
    return Tensor._wrap(xp.zeros(shape, dtype=np_dtype))


class Function:
    """Base class for ops written in Python with their own gradient rule (PyTorch's autograd.Function).

    Subclasses define ``@staticmethod forward(ctx, *args)`` and ``@staticmethod backward(ctx, *grads)`` (or
    ``forward(*args)`` plus ``setup_context(ctx, inputs, output)``) and are called with ``MyFunction.apply(*args)``.
    ``backward`` returns one gradient (a Tensor or None) per argument of forward.
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args):
        ctx = FunctionCtx()
        recording = _mode.enabled
        ctx.needs_input_grad = tuple(recording and isinstance(a, Tensor) and a.requires_grad for a in args)
        new_style = cls.setup_context is not Function.setup_context
        with no_grad():
            out = cls.forward(*args) if new_style else cls.forward(ctx, *args)
            if new_style:
                cls.setup_context(ctx, args, out)
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        if not any(ctx.needs_input_grad):
            return out
        node = _FunctionNode(cls, ctx, len(outs))
        ctx._node = node
        _record(node, args)
        non_diff = getattr(ctx, "_non_diff", set())
        wrapped = []
        meta = []
        for i, o in enumerate(outs):
            if isinstance(o, Tensor):
                meta.append((o.data.shape, o.data.dtype, get_array_module(o.data)))
                if id(o) not in non_diff and o.is_floating_point():
                    if any(o is a for a in args):  # returning an input: give the output its own identity
                        src, o = o, Tensor._wrap(o.data)
                        o._vbox = src._vbox
                    o.requires_grad, o.grad_fn, o._out_index = True, node, i
            else:
                meta.append(None)
            wrapped.append(o)
        ctx._outputs_meta = meta
        return wrapped[0] if single else tuple(wrapped)


# ---------------------------------------------------------------------------------------------------------------
# gradcheck


class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytical and numerical gradients differ."""


def _float_outputs(out):
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, Tensor) and o.is_floating_point()]


def _evaluate(fn, inputs):
    import numpy as np
    from .device import CPU, move

    with no_grad():
        return [np.array(move(o.data, CPU), dtype=np.float64) for o in _float_outputs(fn(*inputs))]


def _numerical_jacobians(fn, inputs, k, n_outs, eps):
    """d(output o)/d(input k) by central differences: one (numel(input), numel(output)) array per output."""
    import numpy as np

    x = inputs[k].data
    cols = [[] for _ in range(n_outs)]
    for j in range(x.size):
        idx = np.unravel_index(j, x.shape)
        orig = x[idx].item()
        x[idx] = orig + eps
        plus = _evaluate(fn, inputs)
        x[idx] = orig - eps
        minus = _evaluate(fn, inputs)
        x[idx] = orig
        for o in range(n_outs):
            cols[o].append((plus[o] - minus[o]).reshape(-1) / (2 * eps))
    return [np.stack(c) if c else np.zeros((0, 0)) for c in cols]


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, check_grad_dtypes=False,
              nondet_tol=0.0):
    """Compare autograd's gradients of fn at inputs with central finite differences (use float64 inputs).

    Returns True, or raises GradcheckError (or returns False with raise_exception=False) naming the output, the
    input and the largest error.
    """
    import warnings

    import numpy as np
    from .device import move, CPU

    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    diff_idx = [k for k, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad and x.numel()]
    for k in diff_idx:
        if inputs[k].dtype.name != "float64":
            warnings.warn(f"gradcheck: input {k} is {inputs[k].dtype}, not float64; the check may fail for "
                          "precision reasons", stacklevel=2)
    with enable_grad():
        outs = _float_outputs(fn(*inputs))
    numeric = {k: _numerical_jacobians(fn, inputs, k, len(outs), eps) for k in diff_idx}
    for oi, out in enumerate(outs):
        n_out = out.numel()
        analytic = {k: np.zeros((inputs[k].numel(), n_out)) for k in diff_idx}
        if out.requires_grad and diff_idx:
            targets = [inputs[k] for k in diff_idx]
            for r in range(n_out):
                go = np.zeros(n_out, dtype=out.data.dtype)
                go[r] = 1
                go = move(go.reshape(out.data.shape), out.device)
                gs = grad([out], targets, [Tensor._wrap(go)], retain_graph=True, allow_unused=True)
                for k, g in zip(diff_idx, gs):
                    if g is None:
                        continue
                    if tuple(g.shape) != tuple(inputs[k].shape):
                        raise GradcheckError(f"gradcheck: gradient of input {k} has shape {tuple(g.shape)}, "
                                             f"expected {tuple(inputs[k].shape)}")
                    if check_grad_dtypes and g.dtype is not inputs[k].dtype:
                        raise GradcheckError(f"gradcheck: gradient of input {k} is {g.dtype}, expected "
                                             f"{inputs[k].dtype}")
                    analytic[k][:, r] = np.asarray(move(g.data, CPU), dtype=np.float64).reshape(-1)
        for k in diff_idx:
            num = numeric[k][oi]
            if not np.allclose(analytic[k], num, atol=atol, rtol=rtol):
                err = np.abs(analytic[k] - num).max()
                msg = (f"gradcheck: Jacobian mismatch for output {oi} with respect to input {k} (max abs error "
                       f"{err:.3g}).\nnumerical:\n{num}\nanalytical:\n{analytic[k]}")
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """gradcheck of the first derivatives of fn (so second derivatives are checked)."""
    import numpy as np

    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    with enable_grad():
        outs = _float_outputs(fn(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = [Tensor(rng.standard_normal(o.shape), dtype=o.dtype, device=o.device, requires_grad=True)
                        for o in outs]
    grad_outputs = list(grad_outputs) if isinstance(grad_outputs, (tuple, list)) else [grad_outputs]
    n_in = len(inputs)

    def first_derivatives(*args):
        xs, gos = args[:n_in], args[n_in:]
        with enable_grad():
            o = _float_outputs(fn(*xs))
            d = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
            pairs = [(oo, go) for oo, go in zip(o, gos) if oo.requires_grad]
            if not pairs:
                return ()
            gs = grad([p[0] for p in pairs], d, [p[1] for p in pairs], create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_derivatives, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
