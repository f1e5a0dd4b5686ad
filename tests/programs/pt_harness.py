"""Runs a pt_* program of this folder on ember as written, or on PyTorch with its import lines rewritten
(``import ember as torch`` -> ``import torch as torch``): the same program text on both frameworks.

``run(name, lib, argv, cwd)`` executes a program as ``__main__`` (its pt_* siblings loaded with the same
framework) and returns what it printed and its globals. ``same_randomness(lib, seed)`` makes a run reproducible
across the two frameworks: random tensors (randn, rand, randint, randperm, multinomial, the nn.init fillers) and
the DataLoader's shuffling come from one NumPy stream, Python's random module is seeded, and dropout is switched off
(PyTorch draws some of its masks in C++, where no stream can be shared). Everything else is the framework's own.
"""
import contextlib
import io
import math
import os
import random
import re
import sys
import types
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
_SIBLING = re.compile(r"^\s*(?:from|import)\s+(pt_\w+)", re.M)
_EMBER_IMPORT = re.compile(r"^(\s*)(from|import) ember\b", re.M)


def source(name, lib="ember"):
    """The program's text, its ember imports rewritten to torch imports when lib is 'torch'."""
    text = (HERE / f"{name}.py").read_text()
    return _EMBER_IMPORT.sub(r"\1\2 torch", text) if lib == "torch" else text


def _execute(name, lib, module_name):
    module = types.ModuleType(module_name)
    module.__file__ = str(HERE / f"{name}.py")
    if module_name != "__main__":
        sys.modules[module_name] = module
    exec(compile(source(name, lib), module.__file__, "exec"), module.__dict__)
    return module


def _load_siblings(text, lib, seen):
    for sibling in _SIBLING.findall(text):
        if sibling in seen:
            continue
        seen.add(sibling)
        sibling_text = source(sibling, lib)
        _load_siblings(sibling_text, lib, seen)
        _execute(sibling, lib, sibling)


def _ours(module_name):
    return module_name.startswith("pt_")


@contextlib.contextmanager
def loaded(name, lib="ember", argv=(), cwd=None, main=False):
    """The program executed as a fresh module (as '__main__' when main) with sys.argv = [name, *argv], in cwd.
    Every pt_* module it imports (siblings with the same framework, pt_vision, ...) is a fresh one, in sys.modules
    until the block ends; then the pt_* modules that were there before are put back."""
    saved_path, saved_argv, saved_cwd = list(sys.path), sys.argv, os.getcwd()
    saved_ours = {k: sys.modules.pop(k) for k in [k for k in sys.modules if _ours(k)]}
    sys.path.insert(0, str(HERE))
    sys.argv = [f"{name}.py", *map(str, argv)]
    try:
        if cwd is not None:
            os.chdir(cwd)
        _load_siblings(source(name, lib), lib, set())
        yield _execute(name, lib, "__main__" if main else name)
    finally:
        os.chdir(saved_cwd)
        sys.argv, sys.path[:] = saved_argv, saved_path
        for key in [k for k in sys.modules if _ours(k)]:
            del sys.modules[key]
        sys.modules.update(saved_ours)


def run(name, lib="ember", argv=(), cwd=None):
    """Runs the program as a script; returns its standard output and its module (the script's globals)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), loaded(name, lib, argv, cwd, main=True) as module:
        pass
    return out.getvalue(), module


def numbers(pattern, text):
    """Every float that the regular expression's first group matches in text."""
    return [float(x) for x in re.findall(pattern, text)]


# ---- randomness shared between the frameworks --------------------------------------------------------------------

def _fill(lib, tensor, array):
    with lib.no_grad():
        tensor.copy_(lib.from_numpy(np.ascontiguousarray(array)).to(tensor.dtype))
    return tensor


def _shape(size):
    return tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)


def _random_functions(lib, rng):
    init = lib.nn.init
    fans, gain_of = init._calculate_fan_in_and_fan_out, init.calculate_gain

    def make(array, dtype, device, requires_grad):
        t = lib.from_numpy(np.ascontiguousarray(array)).to(dtype or lib.get_default_dtype())
        t = t.to(device) if device is not None else t
        return t.requires_grad_(requires_grad)

    def randn(*size, dtype=None, device=None, requires_grad=False, **_):
        return make(rng.standard_normal(_shape(size)), dtype, device, requires_grad)

    def rand(*size, dtype=None, device=None, requires_grad=False, **_):
        return make(rng.random(_shape(size)), dtype, device, requires_grad)

    def randn_like(t, dtype=None, **_):
        return make(rng.standard_normal(tuple(t.shape)), dtype or t.dtype, None, False)

    def rand_like(t, dtype=None, **_):
        return make(rng.random(tuple(t.shape)), dtype or t.dtype, None, False)

    def randperm(n, dtype=None, device=None, **_):
        return make(rng.permutation(n), dtype or lib.int64, device, False)

    def randint(*args, size=None, dtype=None, device=None, **_):
        args = list(args) + ([size] if size is not None else [])
        low, high, shape = (0, *args) if len(args) == 2 else args
        return make(rng.integers(low, high, tuple(shape)), dtype or lib.int64, device, False)

    def multinomial(input, num_samples, replacement=False, **_):
        weights = np.asarray(input.detach().cpu().numpy(), dtype=np.float64)
        rows = weights.reshape(-1, weights.shape[-1])
        drawn = [rng.choice(row.size, num_samples, replace=replacement, p=row / row.sum()) for row in rows]
        return make(np.stack(drawn).reshape(*weights.shape[:-1], num_samples), lib.int64, None, False)

    def uniform_(t, a=0.0, b=1.0, **_):
        return _fill(lib, t, rng.uniform(a, b, tuple(t.shape)))

    def normal_(t, mean=0.0, std=1.0, **_):
        return _fill(lib, t, rng.normal(mean, std, tuple(t.shape)))

    def trunc_normal_(t, mean=0.0, std=1.0, a=-2.0, b=2.0, **_):
        values = rng.normal(mean, std, tuple(t.shape))
        while ((values < a) | (values > b)).any():
            bad = (values < a) | (values > b)
            values[bad] = rng.normal(mean, std, int(bad.sum()))
        return _fill(lib, t, values)

    def kaiming_std(t, a, mode, nonlinearity):
        fan_in, fan_out = fans(t)
        return gain_of(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)

    def kaiming_uniform_(t, a=0, mode="fan_in", nonlinearity="leaky_relu", **_):
        bound = math.sqrt(3.0) * kaiming_std(t, a, mode, nonlinearity)
        return uniform_(t, -bound, bound)

    def kaiming_normal_(t, a=0, mode="fan_in", nonlinearity="leaky_relu", **_):
        return normal_(t, 0.0, kaiming_std(t, a, mode, nonlinearity))

    def xavier_uniform_(t, gain=1.0, **_):
        fan_in, fan_out = fans(t)
        bound = math.sqrt(3.0) * gain * math.sqrt(2.0 / (fan_in + fan_out))
        return uniform_(t, -bound, bound)

    def xavier_normal_(t, gain=1.0, **_):
        fan_in, fan_out = fans(t)
        return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))

    def orthogonal_(t, gain=1, **_):
        rows = t.shape[0]
        cols = int(np.prod(t.shape)) // rows
        flat = rng.standard_normal((rows, cols))
        q, r = np.linalg.qr(flat.T if rows < cols else flat)
        q = q * np.sign(np.diag(r))
        return _fill(lib, t, (q.T if rows < cols else q).reshape(tuple(t.shape)) * gain)

    top = dict(randn=randn, rand=rand, randn_like=randn_like, rand_like=rand_like, randperm=randperm,
               randint=randint, multinomial=multinomial)
    fillers = dict(uniform_=uniform_, normal_=normal_, trunc_normal_=trunc_normal_, kaiming_uniform_=kaiming_uniform_,
                   kaiming_normal_=kaiming_normal_, xavier_uniform_=xavier_uniform_, xavier_normal_=xavier_normal_,
                   orthogonal_=orthogonal_)
    return [(lib, top), (init, fillers)]


def _no_dropout(lib):
    F = lib.nn.functional
    attention = F.scaled_dot_product_attention

    def identity(input, p=0.5, training=True, inplace=False):
        return input

    def attention_without_dropout(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, **kwargs):
        return attention(query, key, value, attn_mask, 0.0, is_causal, **kwargs)

    functions = {name: identity for name in ("dropout", "dropout1d", "dropout2d", "dropout3d")}
    return [(F, {**functions, "scaled_dot_product_attention": attention_without_dropout})]


@contextlib.contextmanager
def same_randomness(lib, seed=0):
    """Within the block, lib's random tensors and shuffles come from NumPy's generator seeded with seed, Python's
    random module is seeded with seed, and dropout is off, wherever lib's modules refer to these functions (module
    globals, dropout modules, RandomSampler). Two runs of a program, one per framework, then start from the same
    weights and see the same noise."""
    rng = np.random.default_rng(seed)
    python_state = random.getstate()
    random.seed(seed)
    groups = _random_functions(lib, rng) + _no_dropout(lib)
    by_original = {}
    for owner, functions in groups:
        for name, replacement in functions.items():
            by_original[id(getattr(owner, name))] = (getattr(owner, name), replacement)
    patched = []
    prefix = lib.__name__ + "."
    for module_name, module in list(sys.modules.items()):
        if module is None or not (module_name == lib.__name__ or module_name.startswith(prefix)):
            continue
        for attr, value in list(vars(module).items()):
            hit = by_original.get(id(value))
            if hit is not None and hit[0] is value:
                patched.append((module, attr, value))
                setattr(module, attr, hit[1])
    for cls in _dropout_modules(lib):
        patched.append((cls, "forward", cls.__dict__.get("forward")))
        cls.forward = lambda self, input: input
    sampler = lib.utils.data.RandomSampler
    patched.append((sampler, "__iter__", sampler.__dict__.get("__iter__")))
    sampler.__iter__ = lambda self: iter(rng.permutation(len(self.data_source)).tolist())
    try:
        yield rng
    finally:
        random.setstate(python_state)
        for owner, attr, value in reversed(patched):
            if value is None:
                delattr(owner, attr)
            else:
                setattr(owner, attr, value)


def _dropout_modules(lib):
    return [getattr(lib.nn, name) for name in ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d")]


def state_arrays(module):
    """A module's state_dict as NumPy arrays (to move weights between the frameworks)."""
    return {k: np.array(v.detach().cpu().numpy()) for k, v in module.state_dict().items()}
