"""Run a public PyTorch program of this folder (the gh_* files) on ember or on PyTorch, and watch it run.

A program file holds the upstream text with ember imports. `run_program` executes it as ``__main__`` in a working
directory (by default a fresh temporary one) into which `prepare` writes the synthetic data files the program reads
(in the program's own formats, see gh_data), with ``sys.argv`` set, sibling program files installed under the
module names the program imports (``model``, ``mingpt.trainer``, ...) and a torchvision stand-in (``pt_vision``).
On PyTorch the lines ``import ember...`` / ``from ember...`` read ``torch`` instead: nothing else of the text
changes. Framework-wide settings a program changes (TF32, the default dtype) are put back afterwards.

While it runs, the harness records every scalar ``.backward()`` (the training losses) and, at the first call of
each top-level module, the module's state: recorded on ember, loaded on PyTorch from an ember run
(``weights=ember_run.weights``), so that both frameworks start from the same weights. With
``same_randomness=True`` the program's own random draws (randint, randn, rand, randperm, multinomial and the
``_like`` forms), RandomSampler orders and nn.Dropout masks come from NumPy generators seeded alike in both runs,
so that a program is deterministic given its weights and both runs can be compared step by step.
"""
import contextlib
import importlib
import io
import os
import random
import re
import sys
import tempfile
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
_EMBER_IMPORT = re.compile(r"^(\s*(?:import|from)\s+)ember\b", re.M)


def program_text(name, framework):
    """The program's text for `framework` ("ember" or "torch")."""
    text = (HERE / f"{name}.py").read_text()
    return text if framework == "ember" else _EMBER_IMPORT.sub(r"\1torch", text)


@dataclass
class Run:
    """What a program run left: its globals, its printed output, the losses it called backward() on, the
    initial state of each top-level module (weights) and that state at the end (final)."""
    namespace: dict
    stdout: str
    losses: list = field(default_factory=list)
    weights: list = field(default_factory=list)
    final: list = field(default_factory=list)


def _numpy(t):
    return t.detach().cpu().numpy().copy()


class _Watch:
    """The patches of one run: loss recording, weight sync at first top-level calls, and optionally the
    framework's random draws made by program code replaced by NumPy ones."""

    def __init__(self, fw, program_modules, weights, same_randomness, seed):
        self.fw, self.program_modules = fw, program_modules
        self.replay = weights
        self.same_randomness = same_randomness
        self.losses, self.weights, self.roots, self.seen = [], [], [], set()
        self.draws = np.random.default_rng(seed)
        self.masks = np.random.default_rng(seed + 1)
        self.sampler_seeds = np.random.default_rng(seed + 2)
        self._undo = []

    def _patch(self, owner, name, value):
        old = owner.__dict__[name] if name in owner.__dict__ else getattr(owner, name)
        self._undo.append((owner, name, old))
        setattr(owner, name, value)

    def __enter__(self):
        fw, watch = self.fw, self
        backward, call = fw.Tensor.backward, fw.nn.Module.__call__

        def recording_backward(tensor, *args, **kwargs):
            if tensor.numel() == 1:
                watch.losses.append(float(tensor.detach().reshape(())))
            return backward(tensor, *args, **kwargs)

        def syncing_call(module, *args, **kwargs):
            if id(module) not in watch.seen:
                watch._first_call(module)
            return call(module, *args, **kwargs)

        self._patch(fw.Tensor, "backward", recording_backward)
        self._patch(fw.nn.Module, "__call__", syncing_call)
        if self.same_randomness:
            self._patch_randomness()
        return self

    def __exit__(self, *exc):
        for owner, name, old in reversed(self._undo):
            setattr(owner, name, old)

    def _first_call(self, module):
        for m in module.modules():  # its submodules are synced with it
            self.seen.add(id(m))
        self.roots.append(module)  # keeps the module (and so its id) alive during the run
        index = len(self.roots) - 1
        state = module.state_dict()
        if self.replay is None:
            self.weights.append((type(module).__name__, {k: _numpy(v) for k, v in state.items()}))
            return
        name, arrays = self.replay[index]
        if name != type(module).__name__ or set(arrays) != set(state):
            raise AssertionError(f"top-level module #{index}: {type(module).__name__} {sorted(state)} does not match "
                                 f"the recorded {name} {sorted(arrays)}")
        with self.fw.no_grad():
            for key, tensor in state.items():
                tensor.copy_(self.fw.from_numpy(arrays[key]))

    # -- the same randomness in both frameworks ------------------------------------------------------------------

    def _from_program(self):
        return sys._getframe(2).f_globals.get("__name__") in self.program_modules

    def _tensor(self, array, dtype):
        return self.fw.from_numpy(np.ascontiguousarray(array)).to(dtype)

    def _patch_randomness(self):
        fw, watch, rng = self.fw, self, self.draws
        originals = {name: getattr(fw, name) for name in
                     ("randint", "randn", "rand", "randperm", "multinomial", "randn_like", "rand_like")}

        def sizes(args, size):
            if size is not None:
                return tuple(size)
            return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else tuple(args)

        def float_dtype(dtype):
            return dtype if dtype is not None else fw.get_default_dtype()

        def make(name, numpy_draw):
            def draw(*args, **kwargs):
                if not watch._from_program():
                    return originals[name](*args, **kwargs)
                return numpy_draw(*args, **kwargs)
            return draw

        def randint(*args, size=None, generator=None, dtype=None, **_):
            args = list(args)
            if size is None:
                size = args.pop()
            low, high = (0, args[0]) if len(args) == 1 else args
            return watch._tensor(rng.integers(low, high, size=tuple(size)), dtype or fw.int64)

        def randn(*args, size=None, generator=None, dtype=None, **_):
            return watch._tensor(rng.standard_normal(sizes(args, size)), float_dtype(dtype))

        def rand(*args, size=None, generator=None, dtype=None, **_):
            return watch._tensor(rng.random(sizes(args, size)), float_dtype(dtype))

        def randperm(n, generator=None, dtype=None, **_):
            return watch._tensor(rng.permutation(n), dtype or fw.int64)

        def multinomial(probs, num_samples, replacement=False, generator=None, **_):
            p = probs.detach().cpu().numpy().astype(np.float64)
            rows = p.reshape(-1, p.shape[-1])
            out = np.stack([rng.choice(len(r), size=num_samples, replace=replacement, p=r / r.sum()) for r in rows])
            return watch._tensor(out.reshape(p.shape[:-1] + (num_samples,)), fw.int64)

        def randn_like(t, dtype=None, **_):
            return watch._tensor(rng.standard_normal(tuple(t.shape)), dtype or t.dtype)

        def rand_like(t, dtype=None, **_):
            return watch._tensor(rng.random(tuple(t.shape)), dtype or t.dtype)

        for name, numpy_draw in [("randint", randint), ("randn", randn), ("rand", rand), ("randperm", randperm),
                                 ("multinomial", multinomial), ("randn_like", randn_like),
                                 ("rand_like", rand_like)]:
            self._patch(fw, name, make(name, numpy_draw))

        def sampler_iter(sampler):
            if "_gh_rng" not in sampler.__dict__:  # one stream per sampler, in the order they are first iterated
                sampler._gh_rng = np.random.default_rng(int(watch.sampler_seeds.integers(2 ** 62)))
            n, count, stream = len(sampler.data_source), sampler.num_samples, sampler._gh_rng
            if sampler.replacement:
                return (int(stream.integers(n)) for _ in range(count))
            return (int(i) for _, i in zip(range(count), _permutations(stream, n)))

        def dropout_forward(module, input):
            if not module.training or module.p == 0:
                return input
            keep = watch.masks.random(tuple(input.shape)) >= module.p
            return input * watch._tensor(keep / (1 - module.p), input.dtype)

        self._patch(fw.utils.data.RandomSampler, "__iter__", sampler_iter)
        self._patch(fw.nn.Dropout, "forward", dropout_forward)


def _permutations(stream, n):
    while True:
        yield from stream.permutation(n)


def _load(name, framework, as_name):
    module = types.ModuleType(as_name)
    module.__file__ = str(HERE / f"{name}.py")
    sys.modules[as_name] = module
    exec(compile(program_text(name, framework), module.__file__, "exec"), module.__dict__)
    return module


@contextlib.contextmanager
def _saved_modules(names):
    saved = {n: sys.modules.get(n) for n in names}
    try:
        yield
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m


@contextlib.contextmanager
def _kept_settings(fw):
    """The framework-wide settings programs change (nanoGPT turns TF32 on) are put back after the run."""
    precision, cudnn_tf32, dtype = fw.get_float32_matmul_precision(), fw.backends.cudnn.allow_tf32, \
        fw.get_default_dtype()
    try:
        yield
    finally:
        fw.set_float32_matmul_precision(precision)
        fw.backends.cudnn.allow_tf32 = cudnn_tf32
        fw.set_default_dtype(dtype)


@contextlib.contextmanager
def _single_threaded(fw):
    """PyTorch's intra-op pool, spinning on a loaded two-core machine, makes these tiny steps 10-30x slower."""
    if fw.__name__ != "torch":
        yield
        return
    threads = fw.get_num_threads()
    fw.set_num_threads(1)
    try:
        yield
    finally:
        fw.set_num_threads(threads)


def _torchvision(fw):
    sys.path.insert(0, str(HERE))
    try:
        from pt_vision import torchvision_for
    finally:
        sys.path.remove(str(HERE))
    tv = torchvision_for(fw)
    package = types.ModuleType("torchvision")
    modules = {"torchvision": package}
    for sub in ("datasets", "transforms", "utils", "models"):
        module = types.ModuleType(f"torchvision.{sub}")
        module.__dict__.update(vars(getattr(tv, sub)))
        setattr(package, sub, module)
        modules[f"torchvision.{sub}"] = module
    return modules


def run_program(name, framework="ember", argv=(), modules=None, prepare=None, weights=None,
                same_randomness=False, seed=0, files=(), workdir=None, stand_ins=None):
    """Run program `name` as a script; return a Run.

    argv: its command-line arguments. modules: {import name: program file} for the sibling modules it imports, in
    the order they import each other (packages such as ``mingpt`` are made for dotted names). stand_ins: {import
    name: module object} for other imports (torchvision is always there). workdir: the working directory (default: a
    temporary one, removed afterwards). prepare(directory): writes its input files there. files: program files
    copied there under another name, {name: program file}. weights: an ember run's `weights`, loaded into the
    top-level modules at their first call. seed: Python's, NumPy's and the framework's seed before the run.
    """
    fw = importlib.import_module(framework)
    modules = dict(modules or {})
    installed = {**_torchvision(fw), **(stand_ins or {})}
    packages = {n.rsplit(".", 1)[0] for n in modules if "." in n}
    out = io.StringIO()
    with contextlib.ExitStack() as stack:
        directory = Path(workdir if workdir is not None else stack.enter_context(tempfile.TemporaryDirectory()))
        stack.enter_context(_saved_modules([*modules, *packages, *installed, "__main__"]))
        stack.enter_context(_in_directory(directory, [f"{name}.py", *argv]))
        if prepare is not None:
            prepare(directory)
        for dest, source in dict(files).items():
            (directory / dest).write_text((HERE / f"{source}.py").read_text())
        sys.modules.update(installed)
        for package in packages:
            sys.modules[package] = types.ModuleType(package)
            sys.modules[package].__path__ = []
        random.seed(seed)
        np.random.seed(seed)
        fw.manual_seed(seed)
        stack.enter_context(_kept_settings(fw))
        stack.enter_context(_single_threaded(fw))
        stack.enter_context(contextlib.redirect_stdout(out))
        watch = stack.enter_context(_Watch(fw, {"__main__", *modules}, weights, same_randomness, seed))
        for import_name, source in modules.items():
            module = _load(source, framework, import_name)
            if "." in import_name:
                package, leaf = import_name.rsplit(".", 1)
                setattr(sys.modules[package], leaf, module)
        main = _load(name, framework, "__main__")
        final = [{k: _numpy(v) for k, v in m.state_dict().items()} for m in watch.roots]
    return Run(main.__dict__, out.getvalue(), watch.losses, watch.weights, final)


@contextlib.contextmanager
def _in_directory(directory, argv):
    """Runs in `directory` with `argv` as sys.argv; closes the tutorials' matplotlib figures afterwards."""
    cwd, old_argv = os.getcwd(), sys.argv
    os.chdir(directory)
    sys.argv = argv
    try:
        yield
    finally:
        sys.argv = old_argv
        os.chdir(cwd)
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")
