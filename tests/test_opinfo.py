"""The generic op tests, run on every OpInfo entry (tests/opinfo): values and gradients against PyTorch, gradcheck
and gradgradcheck in float64, shape rules against the real forward and backward, Tensor methods against functions."""
import numpy as np
import pytest

import ember
from ember.autograd import grad, gradcheck, gradgradcheck
from ember.autograd.graph import on_apply
from ember.ops import registry
from ember.ops.meta import TensorMeta, meta_of

from opinfo import ENTRIES, materialize

_REGISTERED = {d.node for d in registry.ops()}
CASES = [(e, i) for e in ENTRIES for i in range(len(e.samples))]
IDS = [f"{e.name}-{i}" for e, i in CASES]


def _outputs(out):
    """The tensors of a result (a tensor, or a tuple/list of them), as a list."""
    if isinstance(out, ember.Tensor):
        return [out]
    return [o for o in out if isinstance(o, ember.Tensor)]


def _flat_tensors(args):
    """The tensors among args (looking into lists), in order."""
    found = []
    for a in args:
        if isinstance(a, ember.Tensor):
            found.append(a)
        elif isinstance(a, (list, tuple)):
            found += _flat_tensors(a)
    return found


def _grad_inputs(args, kwargs):
    return [t for t in _flat_tensors(list(args) + list(kwargs.values())) if t.requires_grad]


def _to_torch(value, torch):
    """An ember argument as PyTorch's: a tensor with the same values and requires_grad, lists looked into."""
    if isinstance(value, ember.Tensor):
        return torch.from_numpy(value.detach().numpy().copy()).requires_grad_(value.requires_grad)
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, (list, tuple)) and any(isinstance(v, (ember.Tensor, np.ndarray)) for v in value):
        return type(value)(_to_torch(v, torch) for v in value)
    return value


def _run_torch(info, args, kwargs, torch):
    targs = [_to_torch(a, torch) for a in args]
    tkwargs = {k: _to_torch(v, torch) for k, v in kwargs.items()}
    return info.ref(torch, *targs, **tkwargs), targs, tkwargs


def _tolerances(info, dtype):
    return (1e-7, 1e-9) if dtype == "float64" else (info.rtol, info.atol)


def _compare(ours, theirs, rtol, atol, what):
    ours, theirs = _outputs(ours), [t for t in (theirs if isinstance(theirs, (tuple, list)) else [theirs])]
    assert len(ours) == len(theirs), f"{what}: {len(ours)} outputs, PyTorch gives {len(theirs)}"
    for k, (a, b) in enumerate(zip(ours, theirs)):
        b = b.detach()
        assert tuple(a.shape) == tuple(b.shape), f"{what} output {k}: shape {tuple(a.shape)} != {tuple(b.shape)}"
        assert a.dtype.name == str(b.dtype).replace("torch.", ""), f"{what} output {k}: {a.dtype} != {b.dtype}"
        np.testing.assert_allclose(np.asarray(a.detach().numpy(), dtype=np.float64),
                                   b.double().numpy() if b.is_floating_point() else b.numpy(),
                                   rtol=rtol, atol=atol, err_msg=f"{what} output {k}")


def test_every_registered_op_has_an_entry():
    covered = {op for e in ENTRIES for op in e.ops}
    registered = {d.name for d in registry.ops()}
    assert not covered - registered, f"entries name ops that are not registered: {sorted(covered - registered)}"
    assert not registered - covered, f"registered ops without an OpInfo entry: {sorted(registered - covered)}"


@pytest.mark.parametrize("info,k", CASES, ids=IDS)
def test_values_match_pytorch(info, k, torch):
    if info.ref is None:
        pytest.skip(f"{info.name} has no PyTorch reference")
    for dtype in info.dtypes:
        args, kwargs = materialize(info, info.samples[k], dtype)
        with ember.no_grad():
            ours = info.fn(*args, **kwargs)
        with torch.no_grad():
            theirs, _, _ = _run_torch(info, args, kwargs, torch)
        _compare(ours, theirs, *_tolerances(info, dtype), f"{info.name}({info.samples[k]}) {dtype}")


def _random_like(outs, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(tuple(o.shape)).astype(o._data.dtype) for o in outs]


@pytest.mark.parametrize("info,k", CASES, ids=IDS)
def test_gradients_match_pytorch(info, k, torch):
    if info.ref is None or not info.grad:
        pytest.skip(f"{info.name}: no PyTorch reference or not differentiable")
    args, kwargs = materialize(info, info.samples[k], "float64")
    inputs = _grad_inputs(args, kwargs)
    outs = [o for o in _outputs(info.fn(*args, **kwargs)) if o.requires_grad]
    if not inputs or not outs:
        pytest.skip("nothing to differentiate")
    theirs, targs, tkwargs = _run_torch(info, args, kwargs, torch)
    tinputs = [t for t in _flat_torch(list(targs) + list(tkwargs.values()), torch) if t.requires_grad]
    touts = [o for o in (theirs if isinstance(theirs, (tuple, list)) else [theirs]) if o.requires_grad]
    gos = _random_like(outs)
    ours = grad(outs, inputs, [ember.tensor(g) for g in gos], allow_unused=True)
    ref = torch.autograd.grad(touts, tinputs, [torch.from_numpy(g) for g in gos], allow_unused=True)
    for j, (a, b) in enumerate(zip(ours, ref)):
        if b is None:
            assert a is None or not a.numpy().any(), f"input {j}: PyTorch gives no gradient"
            continue
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-7, atol=1e-9, err_msg=f"gradient of input {j}")


def _flat_torch(args, torch):
    found = []
    for a in args:
        if isinstance(a, torch.Tensor):
            found.append(a)
        elif isinstance(a, (list, tuple)):
            found += _flat_torch(a, torch)
    return found


def _as_function_of_inputs(info, args, kwargs):
    """fn as a function of its differentiable tensors only (the other arguments fixed), and those tensors."""
    inputs = _grad_inputs(args, kwargs)
    ids = {id(t): i for i, t in enumerate(inputs)}

    def swap(a, new):
        if isinstance(a, ember.Tensor) and id(a) in ids:
            return new[ids[id(a)]]
        if isinstance(a, (list, tuple)):
            return type(a)(swap(x, new) for x in a)
        return a

    def f(*new):
        return info.fn(*[swap(a, new) for a in args], **{key: swap(v, new) for key, v in kwargs.items()})

    return f, inputs


@pytest.mark.parametrize("order", [1, 2], ids=["gradcheck", "gradgradcheck"])
@pytest.mark.parametrize("info,k", CASES, ids=IDS)
def test_gradients_match_finite_differences(info, k, order):
    """gradcheck (order 1) and gradgradcheck (order 2) in float64."""
    if not info.grad or (order == 2 and not info.gradgrad):
        pytest.skip(f"{info.name} is not differentiable{' twice' if order == 2 else ''}")
    args, kwargs = materialize(info, info.samples[k], "float64")
    f, inputs = _as_function_of_inputs(info, args, kwargs)
    if not inputs or not any(t.numel() for t in inputs):
        pytest.skip("nothing to differentiate")
    assert (gradcheck if order == 1 else gradgradcheck)(f, inputs)


def _matches(inferred, real):
    """inferred equals real, where None in an inferred shape (a size that depends on data) matches any size."""
    if isinstance(real, tuple) and not isinstance(real, TensorMeta):  # several outputs
        return (isinstance(inferred, tuple) and len(inferred) == len(real)
                and all(_matches(i, r) for i, r in zip(inferred, real)))
    if not isinstance(real, TensorMeta) or not isinstance(inferred, TensorMeta):
        return inferred == real
    return (inferred.dtype == real.dtype and len(inferred.shape) == len(real.shape)
            and all(i is None or i == r for i, r in zip(inferred.shape, real.shape)))


def _check_rules(calls, where):
    for node, args, result in calls:
        assert type(node) in _REGISTERED, f"{where}: {node.name} ran but is not a registered op"
        inferred = node.infer(*[meta_of(a) for a in args])
        real = tuple(meta_of(r) for r in result) if isinstance(result, tuple) else meta_of(result)
        assert _matches(inferred, real), (f"{where}: the shape rule of {node.name} gives {inferred}, its forward "
                                  f"{real} (arguments {[meta_of(a) for a in args]})")


@pytest.mark.parametrize("info,k", CASES, ids=IDS)
def test_shape_rules_match_the_real_ops(info, k):
    """Every op that runs in forward, backward and double backward: its shape rule gives its outputs' metas; and
    the entry's ops are among them."""
    seen = set()
    for dtype in info.dtypes:
        args, kwargs = materialize(info, info.samples[k], dtype)
        calls = []
        with on_apply(lambda *c: calls.append(c)):
            out = info.fn(*args, **kwargs)
            inputs = _grad_inputs(args, kwargs)
            outs = [o for o in _outputs(out) if o.requires_grad]
            if info.grad and inputs and outs:
                gos = [ember.tensor(g, requires_grad=info.gradgrad) for g in _random_like(outs)]
                gs = grad(outs, inputs, gos, allow_unused=True, create_graph=info.gradgrad)
                gs = [g for g in gs if g is not None and g.requires_grad]
                if gs:
                    grad(gs, inputs + gos, [ember.ones_like(g) for g in gs], allow_unused=True)
        _check_rules(calls, f"{info.name}({info.samples[k]}) {dtype}")
        seen |= {node.name for node, _, _ in calls}
    missing = set(info.ops) - seen
    assert not missing, f"{info.name} covers {sorted(missing)}, which did not run"


@pytest.mark.parametrize("info,k", [c for c in CASES if c[0].method], ids=[i for c, i in zip(CASES, IDS)
                                                                           if c[0].method])
def test_method_equals_function(info, k):
    args, kwargs = materialize(info, info.samples[k], info.dtypes[0])
    with ember.no_grad():
        by_function = _outputs(info.fn(*args, **kwargs))
        by_method = _outputs(getattr(args[0], info.method)(*args[1:], **kwargs))
    assert len(by_function) == len(by_method)
    for a, b in zip(by_function, by_method):
        assert a.dtype is b.dtype and tuple(a.shape) == tuple(b.shape)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
