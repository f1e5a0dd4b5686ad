"""Model summaries (Keras' ``model.summary()``) and per-layer timing (``caffe time``): ember summary, ember time.

Both run the model once on example inputs with forward hooks on every module. The summary lists the modules that
do the work -- the leaves that are called, plus any module that owns parameters directly -- with output shapes and
parameter counts. Timing then runs each called leaf on its own, on the very inputs it received in that pass:
forward, and backward from a random output gradient, averaged over iterations. The whole model is timed the same
way, so the time spent outside leaf layers (residual additions, attention arithmetic) shows as the difference.
"""
import inspect
import time


__all__ = ["InputSpec", "zoo_input_spec", "make_inputs", "summary", "summarize", "time_layers", "format_times",
           "parse_shape"]


class InputSpec:
    """The shape of one sample (no batch dimension), its dtype ('float32' or 'int64') and, for token ids, the
    vocabulary size they are drawn from."""

    def __init__(self, shape, dtype="float32", high=None):
        self.shape, self.dtype, self.high = tuple(int(s) for s in shape), dtype, high

    def __repr__(self):
        return f"InputSpec({self.shape}, {self.dtype}" + (f", vocab {self.high})" if self.high else ")")


# Zoo models that need an argument to be built at all get these when the user gives none.
ZOO_DEFAULT_KWARGS = {"vocab_size": 256}
_IMAGENET = (3, 224, 224)
_ZOO_SHAPES = {"mlp": (1, 28, 28), "lenet5": (1, 28, 28), "vit": (3, 32, 32),
               "resnet8": (3, 32, 32), "resnet20": (3, 32, 32), "resnet32": (3, 32, 32), "resnet44": (3, 32, 32),
               "resnet56": (3, 32, 32), "lstm_classifier": (32,)}


def parse_shape(text):
    """'3,32,32' or '3x32x32' -> (3, 32, 32)."""
    parts = [p for p in text.replace("x", ",").replace(" ", "").split(",") if p]
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        shape = ()
    if not shape or any(s <= 0 for s in shape):
        raise ValueError(f"--input-shape {text!r}: expected positive integers such as 3,32,32")
    return shape


def zoo_kwargs(name, given=None):
    """Builder arguments for a zoo model: the given ones, plus defaults for required ones (vocab_size)."""
    from . import zoo
    kwargs = dict(given or {})
    builder = zoo._MODELS[name.lower()]
    for pname, p in inspect.signature(builder).parameters.items():
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and pname not in kwargs:
            if pname not in ZOO_DEFAULT_KWARGS:
                raise ValueError(f"zoo model {name!r} needs the argument {pname!r} (give it with --arg {pname}=...)")
            kwargs[pname] = ZOO_DEFAULT_KWARGS[pname]
    return kwargs


def zoo_input_spec(name, kwargs, shape=None):
    """A sensible example input for a zoo model: 3x224x224 for the ImageNet models, 3x32x32 for the CIFAR ones,
    1x28x28 for mlp/lenet5, token ids for the language models; `shape` overrides the sample shape."""
    key = name.lower()
    vocab = kwargs.get("vocab_size")
    if vocab is not None:
        default = (kwargs.get("block_size", 64),) if key == "gpt" else _ZOO_SHAPES.get(key, (32,))
        return InputSpec(shape or default, "int64", vocab)
    if key == "mlp" and shape is None and "in_features" in kwargs:
        return InputSpec((kwargs["in_features"],))
    if key == "vit" and shape is None:
        size = kwargs.get("image_size", 32)
        return InputSpec((kwargs.get("in_channels", 3), size, size))
    default = _ZOO_SHAPES.get(key, _IMAGENET)
    if len(default) == 3 and "in_channels" in kwargs:
        default = (kwargs["in_channels"],) + default[1:]
    return InputSpec(shape or default)


def make_inputs(spec, batch=1, device=None):
    """A random batch for spec: normal floats, or token ids in [0, vocab)."""
    from .ops.random import randint, randn
    shape = (batch,) + spec.shape
    if spec.dtype == "int64":
        x = randint(0, spec.high or 2, shape)
    else:
        x = randn(*shape)
    return x.to(device) if device is not None else x


# --- recording one forward pass -------------------------------------------------------------------------------
class _Call:
    __slots__ = ("name", "module", "args", "kwargs", "output", "order")

    def __init__(self, name, module, args, kwargs, order):
        self.name, self.module, self.args, self.kwargs, self.order = name, module, args, kwargs, order
        self.output = None


def _record(model, inputs, grad=True):
    """Run model(*inputs) with hooks on every module; returns (calls in the order they started, output)."""
    from .autograd import set_grad_enabled
    names = {id(m): n for n, m in model.named_modules()}
    calls, handles, stack = [], [], []

    def pre(module, args, kwargs):
        call = _Call(names.get(id(module), "?"), module, args, dict(kwargs), len(calls))
        calls.append(call)
        stack.append(call)

    def post(module, args, kwargs, output):
        stack.pop().output = output

    for _, m in model.named_modules():
        handles.append(m.register_forward_pre_hook(pre, with_kwargs=True))
        handles.append(m.register_forward_hook(post, with_kwargs=True, always_call=True))
    try:
        with set_grad_enabled(grad):
            out = model(*inputs)
    finally:
        for h in handles:
            h.remove()
    return calls, out


def _called_leaves(model, calls):
    """Calls of modules none of whose submodules were called (so they do the work themselves)."""
    called = {id(c.module) for c in calls}
    leaves = []
    for c in calls:
        if c.module is model and len(calls) > 1:
            continue
        subs = [m for m in c.module.modules() if m is not c.module]
        if not any(id(m) in called for m in subs):
            leaves.append(c)
    return leaves


def _tensors(obj):
    """The tensors in a (nested) output."""
    from .tensor import Tensor
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in _tensors(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _tensors(o)]
    return []


def _shape_str(obj):
    from .tensor import Tensor
    if isinstance(obj, Tensor):
        return str(tuple(obj.shape))
    if isinstance(obj, (tuple, list)):
        inner = [_shape_str(o) for o in obj if _tensors(o)]
        return "[" + ", ".join(inner) + "]" if len(inner) != 1 else inner[0]
    return "-"


def _type_name(module):
    return type(module).__name__


# --- summary --------------------------------------------------------------------------------------------------
def summarize(model, inputs):
    """Rows (name, type, output shape, own parameter count, calls) and totals of a model, from one forward pass."""
    was_training = model.training
    model.eval()
    try:
        calls, _ = _record(model, inputs, grad=False)
    finally:
        model.train(was_training)
    leaves = {id(c.module) for c in _called_leaves(model, calls)}
    owner, rows, index = {}, [], {}  # owner: id(parameter) -> the row name that counted it

    def add(name, module, shape, calls):
        direct = list(module.parameters(recurse=False))
        own = [p for p in direct if id(p) not in owner]
        shared = sorted({owner[id(p)] for p in direct if id(p) in owner})
        for p in own:
            owner[id(p)] = name
        row = {"name": name, "type": _type_name(module), "shape": shape, "params": sum(p.numel() for p in own),
               "shared": shared, "calls": calls}
        rows.append(row)
        return row

    for c in calls:
        if id(c.module) in index:  # called again (a shared activation): count the calls, keep the first shape
            index[id(c.module)]["calls"] += 1
        elif id(c.module) in leaves or any(True for _ in c.module.parameters(recurse=False)):
            index[id(c.module)] = add(c.name or "(model)", c.module, _shape_str(c.output), 1)
    called = {id(c.module) for c in calls}
    for name, m in model.named_modules():
        if id(m) not in called and any(id(p) not in owner for p in m.parameters(recurse=False)):
            add(name, m, "(not called)", 0)
    params = list(model.parameters())
    trainable = sum(p.numel() for p in params if p.requires_grad)
    total = sum(p.numel() for p in params)
    buffers = list(model.buffers())
    nbytes = sum(p.numel() * p.dtype.itemsize for p in params) + sum(b.numel() * b.dtype.itemsize for b in buffers)
    return rows, {"total": total, "trainable": trainable, "non_trainable": total - trainable,
                  "buffers": sum(b.numel() for b in buffers), "bytes": nbytes}


def summary(model, inputs, title=None):
    """A Keras-style table of the layers, their output shapes and parameter counts, and the totals."""
    rows, totals = summarize(model, inputs)
    head = ("Layer (type)", "Output shape", "Param #")
    cells = [(f"{r['name']} ({r['type']})" + (f" x{r['calls']}" if r["calls"] > 1 else ""), r["shape"],
              f"{r['params']:,}" + (f" (shares {', '.join(r['shared'])})" if r["shared"] else "")) for r in rows]
    w = [max([len(head[i])] + [len(c[i]) for c in cells]) for i in range(3)]
    width = w[0] + w[1] + w[2] + 6
    lines = []
    if title:
        lines.append(title)
    lines += ["=" * width, f"{head[0]:<{w[0]}}   {head[1]:<{w[1]}}   {head[2]:>{w[2]}}", "=" * width]
    lines += [f"{a:<{w[0]}}   {b:<{w[1]}}   {c:>{w[2]}}" for a, b, c in cells]
    lines += ["=" * width,
              f"Total params: {totals['total']:,}",
              f"Trainable params: {totals['trainable']:,}",
              f"Non-trainable params: {totals['non_trainable']:,}",
              f"Buffers (e.g. running statistics): {totals['buffers']:,}",
              f"Size of parameters and buffers: {totals['bytes'] / 2 ** 20:.2f} MB",
              "=" * width]
    return "\n".join(lines)


# --- timing ---------------------------------------------------------------------------------------------------
def _sync(tensors):
    """Wait for the device (a no-op on the CPU) so the clock measures finished work."""
    for t in tensors:
        if type(t._data).__module__.startswith("cupy"):
            import cupy
            cupy.cuda.Device().synchronize()
            return


def _fresh(arg):
    """A copy of a recorded input: a non-leaf that requires grad where the original did (so in-place layers
    such as ReLU(inplace=True) work), a plain copy otherwise."""
    from .tensor import Tensor
    if not isinstance(arg, Tensor):
        return arg
    x = arg.detach().clone()
    if arg.requires_grad:
        x.requires_grad_(True)
        x = x.clone()
    return x


def _time_call(module, args, kwargs, iterations, warmup):
    """Mean (forward ms, backward ms or None) of module(*args, **kwargs) over iterations."""
    from .autograd import backward
    from .ops.random import randn
    fwd = bwd = 0.0
    grads = None
    has_backward = True
    for it in range(warmup + iterations):
        xs = [_fresh(a) for a in args]
        kw = {k: _fresh(v) for k, v in kwargs.items()}
        _sync(_tensors(xs))
        t0 = time.perf_counter()
        out = module(*xs, **kw)
        outs = [t for t in _tensors(out) if t.requires_grad and t.dtype.is_floating_point]
        _sync(outs)
        t1 = time.perf_counter()
        if grads is None:
            grads = [randn(*t.shape, dtype=t.dtype, device=t.device) for t in outs]
            has_backward = bool(outs)
        if has_backward:
            backward(outs, grads)
            _sync([p.grad for p in module.parameters() if p.grad is not None][:1] or outs)
        t2 = time.perf_counter()
        module.zero_grad(set_to_none=True)
        if it >= warmup:
            fwd += t1 - t0
            bwd += t2 - t1
    return fwd * 1e3 / iterations, (bwd * 1e3 / iterations if has_backward else None)


def time_layers(model, inputs, iterations=10, warmup=1):
    """Per-layer and whole-model (forward ms, backward ms), as caffe time measures them, in training mode.

    Returns (rows, total): rows hold name, type, output shape, calls, forward and backward ms per iteration (the
    sum over the layer's calls); total holds the whole model's forward and backward ms."""
    was_training = model.training
    model.train()
    try:
        calls, _ = _record(model, inputs, grad=True)
        rows, index = [], {}
        for c in _called_leaves(model, calls):
            f, b = _time_call(c.module, c.args, c.kwargs, iterations, warmup)
            row = index.get(id(c.module))
            if row is None:
                row = index[id(c.module)] = {"name": c.name or "(model)", "type": _type_name(c.module),
                                             "shape": _shape_str(c.output), "calls": 0, "forward": 0.0,
                                             "backward": None}
                rows.append(row)
            row["calls"] += 1
            row["forward"] += f
            if b is not None:
                row["backward"] = (row["backward"] or 0.0) + b
        del calls
        f, b = _time_call(model, [_fresh(x) for x in inputs], {}, iterations, warmup)
    finally:
        model.train(was_training)
    return rows, {"forward": f, "backward": b or 0.0}


def format_times(rows, total, title=None, iterations=None):
    """The table `ember time` prints."""
    def ms(v):
        return "-" if v is None else f"{v:.3f}"

    head = ("Layer (type)", "Output shape", "Forward ms", "Backward ms")
    cells = [(f"{r['name']} ({r['type']})" + (f" x{r['calls']}" if r["calls"] > 1 else ""), r["shape"],
              ms(r["forward"]), ms(r["backward"])) for r in rows]
    sum_f = sum(r["forward"] for r in rows)
    sum_b = sum(r["backward"] or 0.0 for r in rows)
    tail = [("Sum of layers", "", ms(sum_f), ms(sum_b)),
            ("Whole model", "", ms(total["forward"]), ms(total["backward"])),
            ("Outside layers (whole - sum)", "", ms(total["forward"] - sum_f), ms(total["backward"] - sum_b))]
    w = [max([len(head[i])] + [len(c[i]) for c in cells + tail]) for i in range(4)]
    width = sum(w) + 9

    def line(c):
        return f"{c[0]:<{w[0]}}   {c[1]:<{w[1]}}   {c[2]:>{w[2]}}   {c[3]:>{w[3]}}"

    lines = [title] if title else []
    lines += ["=" * width, line(head), "=" * width] + [line(c) for c in cells] + ["=" * width]
    lines += [line(c) for c in tail]
    lines.append(f"Forward-backward (whole model): {total['forward'] + total['backward']:.3f} ms per iteration"
                 + (f", averaged over {iterations} iterations" if iterations else ""))
    lines.append("=" * width)
    return "\n".join(lines)
