"""ember.compile(..., memory="min"): a training step's backward recomputes forward values from sqrt(n)
checkpoints (Chen et al. 2016). Results equal the plain compiled step's bit for bit (the same array code on the
same inputs); the peak of NumPy's allocations during a step (tracemalloc) falls."""
import tracemalloc

import numpy as np
import pytest

import ember
import ember.nn as nn
from helpers import classification_step


def _deep_mlp(depth=16, width=64):
    ember.manual_seed(0)
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.Tanh()]
    return nn.Sequential(*layers, nn.Linear(width, 4))


def _run(memory, backend="numpy", steps=3, mode=None):
    model = _deep_mlp()
    opt = ember.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    ember.manual_seed(1)
    x, y = ember.randn(512, 64), ember.randint(0, 4, (512,))

    step = classification_step(model, opt)

    run = step if mode == "eager" else ember.compile(step, backend=backend, memory=memory, fullgraph=True)
    losses = [run(x, y).item() for _ in range(steps)]
    tracemalloc.start()
    run(x, y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return losses, [p.detach().numpy().copy() for p in model.parameters()], peak, run


def test_recomputation_keeps_the_results_and_lowers_the_peak():
    eager_losses, eager_params, eager_peak, _ = _run(None, mode="eager")
    losses, params, peak, plain = _run(None)
    min_losses, min_params, min_peak, small = _run("min")
    assert min_losses == losses == eager_losses
    for a, b, c in zip(min_params, params, eager_params):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(b, c)
    # 16 tanh layers of 512 x 64 float32 (128 KiB each): plain keeps every activation, min about sqrt(n) of them
    assert peak <= eager_peak
    assert min_peak < 0.6 * peak, (min_peak, peak)
    recomputed = len(small.graph.ops) - len(plain.graph.ops)
    assert 16 <= recomputed <= 2 * 33  # about one more forward (33 ops), not more


def test_recomputation_with_the_c_backend_equals_eager():
    from ember.compiler import cache
    if cache.find_compiler() is None:
        pytest.skip("no C compiler")
    eager_losses, eager_params, _, _ = _run(None, mode="eager")
    losses, params, _, _ = _run("min", backend="c")
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)
    for a, b in zip(params, eager_params):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_random_ops_are_kept_not_redrawn():
    """Dropout's mask must be the forward's: its output is a checkpoint, never recomputed."""
    def run(memory):
        ember.manual_seed(0)
        model = nn.Sequential(*[m for _ in range(6) for m in (nn.Linear(8, 8), nn.ReLU(), nn.Dropout(0.3))])
        opt = ember.optim.SGD(model.parameters(), lr=0.1)

        def step(x):
            opt.zero_grad()
            loss = model(x).square().mean()
            loss.backward()
            opt.step()
            return loss
        f = step if memory == "eager" else ember.compile(step, backend="numpy", memory=memory)
        ember.manual_seed(1)
        x = ember.randn(16, 8)
        return [f(x).item() for _ in range(4)], [p.detach().numpy().copy() for p in model.parameters()], f

    want, want_params, _ = run("eager")
    got, params, f = run("min")
    assert got == want
    for a, b in zip(params, want_params):
        np.testing.assert_array_equal(a, b)
    _, _, plain = run(None)
    dropouts = [sum(op.name == "Dropout" for op in g.graph.ops) for g in (f, plain)]
    assert dropouts[0] == dropouts[1] and len(f.graph.ops) > len(plain.graph.ops)  # others were recomputed


def test_memory_must_be_none_or_min():
    with pytest.raises(ValueError, match="memory must be None or 'min'"):
        ember.compile(lambda x: x, memory="low")
