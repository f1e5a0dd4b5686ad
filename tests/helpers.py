"""Shared test helpers: float64 inputs for gradcheck, and comparisons against PyTorch."""
import numpy as np

import ember


def rand64(*shape, low=-1.0, high=1.0, requires_grad=True, seed=None):
    """A float64 tensor of uniform values (for gradcheck)."""
    rng = np.random.default_rng(seed if seed is not None else sum(shape) + len(shape))
    return ember.tensor(rng.uniform(low, high, size=shape), dtype=ember.float64, requires_grad=requires_grad)


def to_torch(t, torch):
    """A torch tensor with the same values and requires_grad as an ember tensor."""
    return torch.tensor(np.array(t.detach().numpy()), requires_grad=t.requires_grad)


def assert_close(ember_t, ref, rtol=1e-5, atol=1e-6):
    """Compare an ember tensor with a torch tensor or an array."""
    a = np.asarray(ember_t.detach().numpy() if isinstance(ember_t, ember.Tensor) else ember_t)
    b = ref.detach().numpy() if hasattr(ref, "detach") else np.asarray(ref)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def second_derivatives(lib, fn, arrays, grads_on, seed=1):
    """The gradient of <r, d fn / d inputs> (r random) with respect to the inputs and to the output gradient g,
    where d fn / d inputs is taken with create_graph at a random g: the double backward, both arguments of it."""
    rng = np.random.default_rng(seed)
    xs = [lib.tensor(a, requires_grad=on) for a, on in zip(arrays, grads_on)]
    out = fn(*xs)
    g = lib.tensor(rng.standard_normal(tuple(out.shape)), requires_grad=True)
    wrt = [x for x in xs if x.requires_grad]
    firsts = lib.autograd.grad([out], wrt, [g], create_graph=True)
    total = sum((f * lib.tensor(rng.standard_normal(tuple(f.shape)))).sum() for f in firsts)
    found = lib.autograd.grad([total], wrt + [g], allow_unused=True)  # nll_loss's gradient does not depend on x
    return [np.zeros(tuple(t.shape)) if d is None else d.detach().numpy() for d, t in zip(found, wrt + [g])]


def classification_step(model, optimizer):
    """A training step step(x, y): zero_grad, cross-entropy of model(x) against y, backward, optimizer.step();
    returns the loss (what the compile tests trace)."""
    def step(x, y):
        optimizer.zero_grad()
        loss = ember.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss
    return step


# optional packages an example may import, and the extra that installs them
OPTIONAL_EXTRAS = {"onnx": "onnx", "onnxruntime": "onnx", "mpi4py": "mpi"}


def skip_without_optional_imports(code):
    """Skip the calling test when code imports an optional package that is not installed (as importorskip)."""
    import importlib.util
    import re

    import pytest
    for name in re.findall(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", code, re.M):
        if name in OPTIONAL_EXTRAS and importlib.util.find_spec(name) is None:
            pytest.skip(f"needs {name}: pip install 'ember[{OPTIONAL_EXTRAS[name]}]'")


def assert_compiles_strictly(texts, tmp_path, march="native"):
    """Each C source of texts compiles with ember's flags (for the machine ``-march=`` names) and -Wall -Wextra
    -Werror (its errors in the message)."""
    import subprocess

    from ember.compiler import cache
    flags = [f"-march={march}" if f == "-march=native" else f for f in cache.FLAGS]
    for i, text in enumerate(texts):
        src = tmp_path / f"strict{i}.c"
        src.write_text(text)
        result = subprocess.run(cache.find_compiler() + flags + ["-Wall", "-Wextra", "-Werror", str(src),
                                                                 "-o", str(tmp_path / f"strict{i}.so"), "-lm"],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
