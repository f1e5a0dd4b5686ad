"""Reverse-mode automatic differentiation: graph nodes, the backward engine, grad modes, Function, gradcheck.

Every op is a ``Node`` subclass in ``ember/ops``: ``forward(xp, *arrays)`` computes on arrays (NumPy or CuPy),
``backward(grad)`` returns the input gradients written with ember ops, so that gradients of gradients work.
"""
import contextlib
import functools
import weakref

__all__ = [
    "Node", "Function", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
    "is_grad_enabled", "gradcheck", "gradgradcheck",
]


class _GradMode:
    __slots__ = ("enabled",)

    def __init__(self):
        self.enabled = True


_mode = _GradMode()


def is_grad_enabled():
    """True when operations are being recorded for autograd."""
    return _mode.enabled


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
        mode = self.mode
        _mode.enabled = self.prev  # used as a decorator: the constructor must not have changed the mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper


class _ModeContext:
    """Base of no_grad/enable_grad: a context manager and a decorator (with or without parentheses)."""

    mode = True

    def __new__(cls, fn=None):
        self = super().__new__(cls)
        if fn is not None and callable(fn):
            return self(fn)
        return self

    def __init__(self, fn=None):
        self.prev = None

    def __enter__(self):
        self.prev = _mode.enabled
        _mode.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _mode.enabled = self.prev

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_ModeContext):
    """Context manager and decorator that disables gradient recording."""

    mode = False


class enable_grad(_ModeContext):
    """Context manager and decorator that enables gradient recording (inside no_grad)."""

    mode = True


class inference_mode(_ModeContext):
    """Like no_grad (ember has no separate inference tensors); ``inference_mode(False)`` is a no-op."""

    def __new__(cls, mode=True):
        if callable(mode):
            return no_grad(mode)
        self = object.__new__(cls)
        self.mode = not mode if isinstance(mode, bool) else False
        self.prev = None
        return self

    def __init__(self, mode=True):
        pass

    def __enter__(self):
        self.prev = _mode.enabled
        if not self.mode:
            _mode.enabled = False
        return self


class Node:
    """One recorded operation in the autograd graph.

    Subclasses set ``saves`` (indices of inputs the backward reads; None means all) and implement
    ``forward(xp, *arrays)`` and ``backward(grad)``. Array-valued state for backward is stored on ``self``
    in ``forward``; it is released after backward unless the graph is retained.
    """

    __slots__ = ("inputs", "edges", "needs_input_grad", "_versions", "_pre_hooks", "__dict__", "__weakref__")
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
        from .tensor import Tensor
        return Tensor._wrap(self.out, True, self) if _mode.enabled else Tensor._wrap(self.out)

    # PyTorch-compatible introspection
    @property
    def next_functions(self):
        return tuple((e[0] if isinstance(e, tuple) else (_AccumulateGrad(e) if e is not None else None), 0)
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


def _collect(root_nodes):
    """Count, for every node reachable from the roots, how many edges point at it (iteratively)."""
    deps = {}
    seen = set(root_nodes)
    stack = list(root_nodes)
    while stack:
        node = stack.pop()
        edges = node.edges
        if edges is None:
            raise RuntimeError(_FREED)
        for e in edges:
            if e.__class__ is tuple:
                nxt = e[0]
                deps[nxt] = deps.get(nxt, 0) + 1
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
    return deps


def _run(roots, root_grads, retain_graph, create_graph, capture=None):
    """Back-propagate root_grads from roots. With capture (a dict of (node-or-tensor, index) -> slot),
    gradients of those inputs are returned in a list instead of being accumulated into .grad."""
    from .tensor import Tensor

    captured = [None] * len(capture) if capture is not None else None
    buffers = {}
    root_nodes = []
    for t, g in zip(roots, root_grads):
        fn = t.grad_fn
        if fn is None:  # a leaf: its gradient is the root gradient itself
            _deliver_leaf(t, g, captured, capture, create_graph, set())
            continue
        buf = buffers.get(fn)
        if buf is None:
            buf = buffers[fn] = [None] * fn.n_outputs
            root_nodes.append(fn)
        i = t._out_index
        buf[i] = g if buf[i] is None else buf[i] + g
    deps = _collect(root_nodes)
    ready = [n for n in root_nodes if deps.get(n, 0) == 0]
    handed_out = {id(g.data) for g in root_grads}
    prev_mode = _mode.enabled
    _mode.enabled = create_graph
    try:
        while ready:
            node = ready.pop()
            grads = buffers.pop(node)
            if node._pre_hooks:
                for i, hooks in node._pre_hooks.items():
                    for h in hooks:
                        if grads[i] is not None:
                            r = h(grads[i])
                            if r is not None:
                                grads[i] = r
            if capture is not None:
                for i in range(node.n_outputs):
                    slot = capture.get((node, i))
                    if slot is not None:
                        captured[slot] = grads[i]
            if node.inputs is None:
                raise RuntimeError(_FREED)
            if node._versions:
                for i, vbox, v in node._versions:
                    check_version(node, i, vbox, v)
            if node.n_outputs == 1:
                in_grads = node.backward(grads[0])
            else:
                in_grads = node.backward(*grads)
            edges = node.edges
            if not retain_graph:
                node.inputs = None
                node._versions = None
                node.__dict__.clear()
            for e, g in zip(edges, in_grads):
                if e is None or g is None:
                    continue
                if e.__class__ is tuple:
                    nxt, idx = e
                    buf = buffers.get(nxt)
                    if buf is None:
                        buf = buffers[nxt] = [None] * nxt.n_outputs
                    buf[idx] = g if buf[idx] is None else buf[idx] + g
                    d = deps[nxt] - 1
                    deps[nxt] = d
                    if d == 0:
                        ready.append(nxt)
                else:
                    _deliver_leaf(e, g, captured, capture, create_graph, handed_out)
    finally:
        _mode.enabled = prev_mode
    return captured


def _deliver_leaf(t, g, captured, capture, create_graph, handed_out):
    if t._hooks:
        for h in t._hooks:
            r = h(g)
            if r is not None:
                g = r
    if capture is not None:
        slot = capture.get((t, 0))
        if slot is not None:
            captured[slot] = g if captured[slot] is None else captured[slot] + g
        return
    if g.shape != t.shape:
        raise RuntimeError(f"backward: gradient of shape {tuple(g.shape)} does not match the leaf's shape {tuple(t.shape)}")
    if t.grad is None:
        if not create_graph:
            data = g.data
            # The grad becomes the leaf's own buffer, so it must not be shared with anything else.
            if data.base is not None or id(data) in handed_out or not data.flags.writeable:
                data = data.copy()
            handed_out.add(id(data))
            g = g.__class__._wrap(data)
        t.grad = g
    else:
        t.grad = t.grad + g if create_graph else t.grad.__class__._wrap(t.grad.data + g.data)


def _make_root_grads(outputs, grad_outputs, who):
    from .tensor import Tensor
    from .ops.creation import ones_like

    grads = []
    for i, (t, g) in enumerate(zip(outputs, grad_outputs)):
        if not t.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        if g is None:
            if t.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            g = ones_like(t)
        elif not isinstance(g, Tensor):
            g = Tensor(g, dtype=t.dtype)
        if g.shape != t.shape:
            raise RuntimeError(f"{who}: Mismatch in shape: grad_output[{i}] has a shape of {tuple(g.shape)} and "
                               f"output[{i}] has a shape of {tuple(t.shape)}.")
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
    if retain_graph is None:
        retain_graph = create_graph
    root_grads = _make_root_grads(tensors, grads, "backward")
    if inputs is not None:
        inputs = _as_list(inputs)
        got = grad(tensors, inputs, root_grads, retain_graph=retain_graph, create_graph=create_graph,
                   allow_unused=True)
        for t, g in zip(inputs, got):
            if g is not None:
                t.grad = g if t.grad is None else t.grad + g
        return
    _run(tensors, root_grads, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=None,
         materialize_grads=False):
    """Return the gradients of outputs with respect to inputs, without touching any .grad."""
    from .ops.creation import zeros_like

    single = not isinstance(inputs, (list, tuple))
    outputs, inputs = _as_list(outputs), _as_list(inputs)
    grads = _as_list(grad_outputs) or [None] * len(outputs)
    if retain_graph is None:
        retain_graph = create_graph
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    root_grads = _make_root_grads(outputs, grads, "grad")
    capture = {}
    for i, t in enumerate(inputs):
        key = (t.grad_fn, t._out_index) if t.grad_fn is not None else (t, 0)
        capture[key] = i
    result = _run(outputs, root_grads, retain_graph, create_graph, capture)
    for i, (t, g) in enumerate(zip(inputs, result)):
        if g is None:
            if materialize_grads:
                result[i] = zeros_like(t)
            elif not allow_unused:
                raise RuntimeError(f"grad: input {i} of shape {tuple(t.shape)} was not used in the graph; "
                                   "set allow_unused=True if this is the desired behavior.")
    return tuple(result)


# ---------------------------------------------------------------------------------------------------------------
# Function: user-defined ops in Python


class FunctionCtx:
    """The ``ctx`` of an ``autograd.Function``: save tensors for backward and read which inputs need grads."""

    def save_for_backward(self, *tensors):
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

    def backward(self, *grads):
        from .ops.creation import zeros_like

        ctx = self.ctx
        if getattr(ctx, "_materialize", True):
            grads = [g if g is not None else zeros_like(o) for g, o in zip(grads, ctx._outputs_meta)]
        result = self.fn_cls.backward(ctx, *grads)
        if not isinstance(result, tuple):
            result = (result,)
        ctx._freed = True
        n = len(self.edges)
        if len(result) < n:
            raise RuntimeError(f"function {self.name}Backward returned an incorrect number of gradients "
                               f"(expected {n}, got {len(result)})")
        return result[:n]


class Function:
    """Base class for ops written in Python with their own gradient rule (PyTorch's autograd.Function).

    Subclasses define ``@staticmethod forward(ctx, *args)`` and ``@staticmethod backward(ctx, *grads)`` and are
    called with ``MyFunction.apply(*args)``.
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args):
        from .tensor import Tensor

        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            out = cls.forward(ctx, *args)
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        if not (_mode.enabled and any(ctx.needs_input_grad)):
            return out
        node = _FunctionNode(cls, ctx, len(outs))
        ctx._node = node
        _record(node, args)
        non_diff = getattr(ctx, "_non_diff", set())
        wrapped = []
        for i, o in enumerate(outs):
            if isinstance(o, Tensor) and id(o) not in non_diff:
                if any(o is a for a in args):  # returning an input: give the output its own identity
                    o = Tensor._wrap(o.data)
                o.requires_grad, o.grad_fn, o._out_index = o.data.dtype.kind in "fc", node, i
            wrapped.append(o)
        ctx._outputs_meta = wrapped
        return wrapped[0] if single else tuple(wrapped)


def _record(node, args):
    """Attach a node to its input tensors (edges, saved versions)."""
    from .tensor import Tensor

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


# ---------------------------------------------------------------------------------------------------------------
# gradcheck


def _numeric_jacobian_column(fn, inputs, i, j, eps):
    x = inputs[i]
    flat = x.data.reshape(-1)
    orig = flat[j].item()
    flat[j] = orig + eps
    plus = [o.data.copy() for o in _outputs(fn, inputs)]
    flat[j] = orig - eps
    minus = [o.data.copy() for o in _outputs(fn, inputs)]
    flat[j] = orig
    return [(p - m).reshape(-1) / (2 * eps) for p, m in zip(plus, minus)]


def _outputs(fn, inputs):
    from .tensor import Tensor

    with no_grad():
        out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, Tensor) and o.dtype.is_floating_point]


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, check_grad_dtypes=False,
              nondet_tol=0.0):
    """Compare autograd's gradients of fn at inputs with central finite differences (use float64 inputs).

    Returns True, or raises (or returns False with raise_exception=False) naming the input and the largest error.
    """
    import numpy as np
    from .tensor import Tensor

    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    diff_idx = [k for k, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    for k in diff_idx:
        if inputs[k].dtype.name != "float64":
            import warnings
            warnings.warn(f"gradcheck: input {k} is {inputs[k].dtype}, not float64; the check may fail for "
                          "precision reasons", stacklevel=2)
    with enable_grad():
        outs = fn(*inputs)
    outs = outs if isinstance(outs, (tuple, list)) else (outs,)
    outs = [o for o in outs if isinstance(o, Tensor) and o.dtype.is_floating_point]
    for oi, out in enumerate(outs):
        n_out = out.numel()
        for k in diff_idx:
            x = inputs[k]
            numeric = np.zeros((x.numel(), n_out))
            for j in range(x.numel()):
                numeric[j] = _numeric_jacobian_column(fn, inputs, k, j, eps)[oi]
            analytic = np.zeros((x.numel(), n_out))
            if out.requires_grad:
                for r in range(n_out):
                    go = np.zeros(n_out, dtype=out.data.dtype)
                    go[r] = 1
                    g = grad([out], [x], [Tensor(go.reshape(out.shape))], retain_graph=True, allow_unused=True)[0]
                    if g is not None:
                        if tuple(g.shape) != tuple(x.shape):
                            raise RuntimeError(f"gradcheck: gradient of input {k} has shape {tuple(g.shape)}, "
                                               f"expected {tuple(x.shape)}")
                        analytic[:, r] = np.asarray(g.data, dtype=np.float64).reshape(-1)
            if not np.allclose(analytic, numeric, atol=atol, rtol=rtol):
                err = np.abs(analytic - numeric).max()
                msg = (f"gradcheck: Jacobian mismatch for output {oi} with respect to input {k} (max abs error "
                       f"{err:.3g}).\nnumerical:\n{numeric}\nanalytical:\n{analytic}")
                if raise_exception:
                    raise RuntimeError(msg)
                return False
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """gradcheck of the first derivatives of fn (so second derivatives are checked)."""
    import numpy as np
    from .tensor import Tensor

    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    diff = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    with enable_grad():
        outs = fn(*inputs)
    outs = outs if isinstance(outs, (tuple, list)) else (outs,)
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = [Tensor(rng.standard_normal(o.shape), dtype=o.dtype, requires_grad=True) for o in outs]
    n_in = len(inputs)

    def first_derivatives(*args):
        xs, gos = args[:n_in], args[n_in:]
        with enable_grad():
            o = fn(*xs)
            o = o if isinstance(o, (tuple, list)) else (o,)
            d = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
            gs = grad(list(o), d, list(gos), create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    del diff
    return gradcheck(first_derivatives, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
