"""Model summaries (Keras' ``model.summary()``) and per-layer timing (``caffe time``): ember summary, ember time.

Both run the model once on example inputs with forward hooks on every module. The summary lists the modules that
do the work -- the leaves that are called, plus any module that owns parameters directly -- with output shapes and
parameter counts. Timing then runs the whole model forward and backward (from a random output gradient), averaged
over iterations, and clocks each called leaf inside those passes: its forward between hooks, its backward as the
graph nodes its forward created. So the time spent outside leaf layers (residual additions, attention arithmetic)
is the difference between the whole and the sum, never negative. A compiled step (``time_step``, ``ember time
--compile``) is timed as a whole: its layers run inside one graph, where per-layer hooks see nothing.
"""
import contextlib
import inspect
import time


__all__ = ["InputSpec", "zoo_input_spec", "make_inputs", "summary", "summarize", "time_layers", "format_times",
           "time_step", "format_step_times", "parse_shape"]


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
    """A copy of a recorded input: a non-leaf that requires grad where the original did (so a model that works
    in place on its input still runs), a plain copy otherwise."""
    from .tensor import Tensor
    if not isinstance(arg, Tensor):
        return arg
    x = arg.detach().clone()
    if arg.requires_grad:
        x.requires_grad_(True)
        x = x.clone()
    return x


class _LayerClock:
    """Times the called leaves inside whole-model iterations: a leaf's forward from its pre-hook to its hook, its
    backward as the time of the graph nodes its forward created (each node's backward wrapped with a clock).

    The leaves' intervals are disjoint parts of the whole pass, so their sum never exceeds the whole model's time;
    what is left is the work outside leaf layers (residual additions, attention arithmetic) plus the hooks' own
    small cost. Times add up in rows[i]["forward"] / ["backward"] (seconds) while `timing` is on. While `weighing`
    is a set (the storages alive before the forward), wrap_backward also sets rows[i]["memory"]: the bytes of the
    storages the leaf's graph nodes keep for backward (see _kept), each counted once, for the first leaf that keeps
    it, and none of those alive before the forward (parameters, the input)."""

    def __init__(self, rows_by_module):
        self.rows, self.timing, self.calls, self.open, self.handles = rows_by_module, False, [], {}, []
        self.weighing = None
        for module in {id(m): m for m, _ in rows_by_module.values()}.values():
            self.handles.append(module.register_forward_pre_hook(self._pre, with_kwargs=True))
            self.handles.append(module.register_forward_hook(self._post, with_kwargs=True))

    def remove(self):
        for h in self.handles:
            h.remove()

    def _pre(self, module, args, kwargs):
        inputs = _tensors(list(args) + list(kwargs.values()))
        stop = {t.grad_fn for t in inputs if t.grad_fn is not None}  # the nodes made before this call
        _sync(inputs)
        self.open.setdefault(id(module), []).append((stop, time.perf_counter()))

    def _post(self, module, args, kwargs, output):
        outputs = _tensors(output)
        _sync(outputs)
        end = time.perf_counter()
        stop, start = self.open[id(module)].pop()
        row = self.rows[id(module)][1]
        if self.timing:
            row["forward"] += end - start
        self.calls.append((row, [t.grad_fn for t in outputs if t.grad_fn is not None], stop))

    def wrap_backward(self):
        """Give every node that a leaf call created a clock on its backward (untimed work, between the passes)."""
        from .autograd.graph import Node
        claimed = set()
        weighed = self.weighing
        for row, roots, stop in self.calls:
            todo = [n for n in roots if n not in stop and n not in claimed]
            claimed.update(todo)
            while todo:
                node = todo.pop()
                row["has_backward"] = True
                if weighed is not None:
                    row["memory"] += _kept(node, weighed)
                node.backward = self._clocked(node.backward, row)
                for nxt, _ in node.next_functions:
                    if isinstance(nxt, Node) and nxt not in stop and nxt not in claimed:
                        claimed.add(nxt)
                        todo.append(nxt)
        self.calls = []

    def _clocked(self, backward, row):
        def timed(*grads):
            start = time.perf_counter()
            result = backward(*grads)
            _sync(_tensors(result))
            if self.timing:
                row["backward"] += time.perf_counter() - start
            return result
        return timed


def _kept(node, seen):
    """The bytes of the counted storages (ember.memory) that node keeps for its backward (its saved inputs, the
    arrays on it) and that are not in seen, which then gets them."""
    from . import _storage
    from .tensor import Tensor
    arrays = [a._data for a in node.inputs or () if isinstance(a, Tensor)]
    for v in node.__dict__.values():
        arrays.extend(v if v.__class__ in (tuple, list) else (v,))
    total = 0
    for a in arrays:
        key = id(_storage.root_of(a)) if _storage.is_array(a) else None
        ref = _storage.owners.get(key)
        if ref is not None and key not in seen:
            seen.add(key)
            total += ref.nbytes
    return total


def _held(peak=False):
    """The bytes of tensor memory on every device, or the sum of their peaks (ember.memory's counters)."""
    from . import _storage
    return sum(st[1 if peak else 0] for st in _storage.stats.values())


def time_layers(model, inputs, iterations=10, warmup=1, progress=None, memory=False):
    """Per-layer and whole-model (forward ms, backward ms) per iteration, in training mode, as caffe time reports.

    Each iteration runs the whole model forward and backward (from a fixed random output gradient); the called
    leaf layers are timed inside it (see _LayerClock), so "whole - sum of layers" is the time spent outside them and
    is never negative. progress(done, total), when given, is called after every iteration (warm-up included).

    With memory, one more iteration before the timed ones measures tensor memory (ember.memory, counting for that
    iteration only, as counting costs time): each layer's activation memory (what the graph nodes of its calls keep for backward, a storage
    kept by several layers counted for the first), the whole forward's (everything it left held, its output
    included) and the peak of the whole step above what was live before it.

    Returns (rows, total): rows hold name, type, output shape, calls, forward and backward ms per iteration (the
    sum over the layer's calls; backward None for a layer without gradient work) and, with memory, "memory"
    bytes; total holds the whole model's forward and backward ms and, with memory, "memory" (the forward's
    activations) and "peak" bytes."""
    from .autograd import backward
    from .ops.random import randn
    was_training = model.training
    model.train()
    clock = None
    try:
        calls, _ = _record(model, inputs, grad=True)
        rows, by_module = [], {}
        for c in _called_leaves(model, calls):
            if id(c.module) not in by_module:
                row = {"name": c.name or "(model)", "type": _type_name(c.module), "shape": _shape_str(c.output),
                       "calls": 0, "forward": 0.0, "backward": 0.0, "has_backward": False, "memory": 0}
                by_module[id(c.module)] = (c.module, row)
                rows.append(row)
            by_module[id(c.module)][1]["calls"] += 1
        del calls
        clock = _LayerClock(by_module)
        counting = contextlib.ExitStack()
        fwd = bwd = 0.0
        grads = None
        weighed = {}
        if memory:
            from . import _storage, memory as _memory
        for it in range(warmup + 1 + iterations if memory else warmup + iterations):
            weighing = memory and it == warmup  # an untimed iteration: counting costs time
            clock.timing = it >= warmup + memory
            xs = [_fresh(x) for x in inputs]
            _sync(_tensors(xs))
            clock.weighing = None
            if weighing:
                counting.enter_context(_memory.counting())  # for this iteration only: it costs time
                model.zero_grad(set_to_none=True)
                clock.weighing = set(_storage.owners)
                held = _held()
                _memory.reset_peak("all")
            t0 = time.perf_counter()
            out = model(*xs)
            outs = [t for t in _tensors(out) if t.requires_grad and t.dtype.is_floating_point]
            _sync(outs)
            t1 = time.perf_counter()
            if weighing:
                weighed["memory"] = _held() - held
            clock.wrap_backward()
            if grads is None:
                grads = [randn(*t.shape, dtype=t.dtype, device=t.device) for t in outs]
            t2 = time.perf_counter()
            if outs:
                backward(outs, grads)
                _sync([p.grad for p in model.parameters() if p.grad is not None][:1] or outs)
            t3 = time.perf_counter()
            if weighing:
                weighed["peak"] = _held(peak=True) - held
                counting.close()
            del out, outs
            model.zero_grad(set_to_none=True)
            if clock.timing:
                fwd, bwd = fwd + t1 - t0, bwd + t3 - t2
            if progress is not None:
                progress(it + 1, warmup + iterations + memory)
    finally:
        if clock is not None:
            clock.remove()
            counting.close()
        model.train(was_training)
    for row in rows:
        row["forward"] *= 1e3 / iterations
        row["backward"] = row["backward"] * 1e3 / iterations if row.pop("has_backward") else None
        if not memory:
            del row["memory"]
    return rows, {"forward": fwd * 1e3 / iterations, "backward": bwd * 1e3 / iterations, **weighed}



def time_step(model, inputs, iterations=10, warmup=1, progress=None):
    """The whole training-mode step that time_layers runs (forward, then backward from a fixed random output
    gradient), compiled by ember.compile and eagerly, in ms per iteration.

    Returns {"compiled": ms, "eager": ms, "first_call": ms of the first compiled call (it traces and compiles),
    "ops": ops in the compiled graph (None after a graph break, when the "compiled" step ran eagerly)}. Layers
    are not timed one by one: inside a graph there are no layer calls for hooks to see. progress(done, total),
    when given, is called after every iteration (both runs, warm-up included)."""
    from .autograd import backward
    from .compiler import compile as _compile
    from .ops.random import randn
    was_training = model.training
    model.train()
    try:
        outs = _grad_outputs(model(*[_fresh(x) for x in inputs]))
        grads = [randn(*t.shape, dtype=t.dtype, device=t.device) for t in outs]  # made outside the graph
        del outs
        model.zero_grad(set_to_none=True)

        def step(*xs):
            outs = _grad_outputs(model(*xs))
            if outs:
                backward(outs, grads)
            return outs

        compiled = _compile(step)
        total, done = 2 * (warmup + iterations) + 1, [0]

        def tick():
            done[0] += 1
            if progress is not None:
                progress(done[0], total)

        first = _clock_step(model, compiled, inputs, 1, 0, tick)
        times = {name: _clock_step(model, fn, inputs, iterations, warmup, tick)
                 for name, fn in (("compiled", compiled), ("eager", step))}
    finally:
        model.train(was_training)
    graph = compiled.graph
    return {**times, "first_call": first, "ops": None if graph is None else len(graph.ops)}


def _grad_outputs(out):
    return [t for t in _tensors(out) if t.requires_grad and t.dtype.is_floating_point]


def _clock_step(model, fn, inputs, iterations, warmup, tick):
    """ms per iteration of fn(*fresh inputs), gradients cleared after each (untimed)."""
    elapsed = 0.0
    for it in range(warmup + iterations):
        xs = [_fresh(x) for x in inputs]
        _sync(_tensors(xs))
        t0 = time.perf_counter()
        outs = fn(*xs)
        _sync([p.grad for p in model.parameters() if p.grad is not None][:1] or outs)
        if it >= warmup:
            elapsed += time.perf_counter() - t0
        del outs
        model.zero_grad(set_to_none=True)
        tick()
    return elapsed * 1e3 / iterations


def format_step_times(times, title=None, iterations=None):
    """What `ember time --compile` prints: the whole step compiled and eager, and why there are no layer rows."""
    ops = f"one graph of {times['ops']} ops" if times["ops"] is not None else "a graph break: it ran eagerly"
    lines = [title] if title else []
    lines += [f"Whole step (forward + backward), compiled: {times['compiled']:.3f} ms per iteration ({ops}; the "
              f"first call, which traces and compiles, took {times['first_call']:.1f} ms)",
              f"Whole step (forward + backward), eager:    {times['eager']:.3f} ms per iteration (compiled / eager "
              f"{times['compiled'] / times['eager']:.2f})" + (f", averaged over {iterations} iterations"
                                                               if iterations else ""),
              "No per-layer times: a compiled step runs its layers inside one graph, where the per-layer hooks of "
              "`ember time` see nothing; run without --compile for the layer table (eager)."]
    return "\n".join(lines)


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
    weighed = "memory" in total
    if weighed:  # a column of activation memory: each layer's, their sum, the whole forward's, the difference
        from .memory import format_bytes
        head += ("Activations",)
        cells = [c + (format_bytes(r["memory"]),) for c, r in zip(cells, rows)]
        sum_m = sum(r["memory"] for r in rows)
        tail = [c + (format_bytes(m),) for c, m in zip(tail, (sum_m, total["memory"], total["memory"] - sum_m))]
    n = len(head)
    w = [max([len(head[i])] + [len(c[i]) for c in cells + tail]) for i in range(n)]
    width = sum(w) + 3 * (n - 1)

    def line(c):
        return "   ".join(f"{v:<{w[i]}}" if i < 2 else f"{v:>{w[i]}}" for i, v in enumerate(c))

    lines = [title] if title else []
    lines += ["=" * width, line(head), "=" * width] + [line(c) for c in cells] + ["=" * width]
    lines += [line(c) for c in tail]
    lines.append(f"Forward-backward (whole model): {total['forward'] + total['backward']:.3f} ms per iteration"
                 + (f", averaged over {iterations} iterations" if iterations else ""))
    if weighed:
        lines.append(f"Activations: the tensor memory a layer's graph keeps for backward (whole model: all the "
                     f"forward leaves held); peak of a step (forward + backward) above the model and its input: "
                     f"{format_bytes(total['peak'])}")
    lines.append("=" * width)
    return "\n".join(lines)
