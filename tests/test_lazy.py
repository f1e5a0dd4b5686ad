"""Lazy modules (nn.LazyLinear, nn.LazyConv*d, nn.LazyConvTranspose*d, nn.LazyBatchNorm*d, nn.LazyInstanceNorm*d) and
UninitializedParameter/UninitializedBuffer: shapes from the first input, the class they become, the initialisation
and outputs of that class, optimizers built before the first forward, state_dict round trips, and PyTorch's errors and
reprs."""
import copy
import pickle

import numpy as np
import pytest

import ember
from ember import nn
from ember.nn.parameter import is_lazy

# (lazy constructor, the regular constructor given in_features/in_channels/num_features, input shape)
CASES = {
    "Linear": (lambda: nn.LazyLinear(4), lambda c: nn.Linear(c, 4), (5, 3)),
    "Linear-nobias-3d": (lambda: nn.LazyLinear(2, bias=False), lambda c: nn.Linear(c, 2, bias=False), (2, 5, 6)),
    "Conv1d": (lambda: nn.LazyConv1d(4, 3, stride=2), lambda c: nn.Conv1d(c, 4, 3, stride=2), (2, 3, 9)),
    "Conv1d-unbatched": (lambda: nn.LazyConv1d(4, 3), lambda c: nn.Conv1d(c, 4, 3), (3, 9)),
    "Conv2d": (lambda: nn.LazyConv2d(6, 3, padding=1, groups=2), lambda c: nn.Conv2d(c, 6, 3, padding=1, groups=2),
               (2, 4, 6, 6)),
    "Conv3d": (lambda: nn.LazyConv3d(2, 2, bias=False), lambda c: nn.Conv3d(c, 2, 2, bias=False), (1, 3, 3, 4, 4)),
    "ConvTranspose1d": (lambda: nn.LazyConvTranspose1d(2, 3, stride=2), lambda c: nn.ConvTranspose1d(c, 2, 3, stride=2),
                        (2, 4, 5)),
    "ConvTranspose2d": (lambda: nn.LazyConvTranspose2d(4, 3, stride=2, padding=1, output_padding=1, groups=2),
                        lambda c: nn.ConvTranspose2d(c, 4, 3, stride=2, padding=1, output_padding=1, groups=2),
                        (2, 6, 4, 4)),
    "ConvTranspose3d": (lambda: nn.LazyConvTranspose3d(2, 2), lambda c: nn.ConvTranspose3d(c, 2, 2), (1, 3, 2, 3, 3)),
    "BatchNorm1d": (lambda: nn.LazyBatchNorm1d(), lambda c: nn.BatchNorm1d(c), (8, 3)),
    "BatchNorm1d-3d": (lambda: nn.LazyBatchNorm1d(momentum=None), lambda c: nn.BatchNorm1d(c, momentum=None),
                       (8, 3, 5)),
    "BatchNorm2d": (lambda: nn.LazyBatchNorm2d(affine=False), lambda c: nn.BatchNorm2d(c, affine=False),
                    (4, 3, 5, 5)),
    "BatchNorm3d": (lambda: nn.LazyBatchNorm3d(), lambda c: nn.BatchNorm3d(c), (2, 3, 2, 4, 4)),
    "InstanceNorm1d": (lambda: nn.LazyInstanceNorm1d(),
                       lambda c: nn.InstanceNorm1d(c, affine=True, track_running_stats=True), (2, 3, 6)),
    "InstanceNorm2d": (lambda: nn.LazyInstanceNorm2d(track_running_stats=False),
                       lambda c: nn.InstanceNorm2d(c, affine=True), (2, 3, 4, 4)),
    "InstanceNorm3d": (lambda: nn.LazyInstanceNorm3d(bias=False),
                       lambda c: nn.InstanceNorm3d(c, affine=True, track_running_stats=True, bias=False),
                       (2, 3, 2, 3, 3)),
}


def _in_size(name, shape):
    return shape[-1] if name.startswith("Linear") else shape[0] if "unbatched" in name else shape[1]


def _randomize(module):
    """Give every floating-point parameter and buffer random values (positive ones for running_var)."""
    with ember.no_grad():
        for name, t in list(module.named_parameters()) + list(module.named_buffers()):
            if t.is_floating_point():
                t.copy_(ember.rand(*t.shape) + 0.5 if "var" in name else ember.randn(*t.shape))


@pytest.mark.parametrize("name", CASES)
def test_lazy_layer_materializes_and_becomes_its_class(name):
    make_lazy, make, shape = CASES[name]
    x = ember.randn(*shape)
    lazy = make_lazy()
    assert lazy.has_uninitialized_params() or not list(lazy.parameters())
    assert all(is_lazy(p) for p in lazy.parameters())
    ember.manual_seed(1)
    out = lazy.eval()(x)  # eval: the running statistics stay as initialised
    lazy.train()
    ember.manual_seed(1)
    ref = make(_in_size(name, shape))  # initialised from the same random draws as the lazy layer's first forward
    assert type(lazy) is type(ref)
    assert not lazy._forward_pre_hooks and not lazy._load_state_dict_pre_hooks
    assert not hasattr(lazy, "_initialize_hook") and not hasattr(lazy, "_load_hook")
    assert repr(lazy) == repr(ref)
    ours, theirs = lazy.state_dict(), ref.state_dict()
    assert list(ours) == list(theirs)
    for key in theirs:
        assert type(ours[key]) is type(theirs[key]) and ours[key].dtype == theirs[key].dtype, key
        np.testing.assert_array_equal(ours[key].numpy(), theirs[key].numpy(), err_msg=key)
    # with the same parameters (random ones) the outputs are the regular layer's, in training and eval mode
    _randomize(lazy)
    ref.load_state_dict(lazy.state_dict())
    np.testing.assert_allclose(lazy(x).detach().numpy(), ref(x).detach().numpy(), rtol=1e-6, atol=1e-6)
    lazy.eval(), ref.eval()
    np.testing.assert_allclose(lazy(x).detach().numpy(), ref(x).detach().numpy(), rtol=1e-6, atol=1e-6)
    assert out.shape == ref(x).shape


@pytest.mark.parametrize("name", CASES)
def test_lazy_layer_shapes_and_reprs_match_pytorch(name):
    torch = pytest.importorskip("torch")
    make_lazy, _, shape = CASES[name]
    lazy = make_lazy()
    theirs = eval("torch." + _source(make_lazy), {"torch": torch})  # the same constructor call in PyTorch
    assert repr(lazy) == repr(theirs)
    assert repr(lazy.state_dict()) == repr(theirs.state_dict())
    lazy(ember.randn(*shape))
    theirs(torch.randn(*shape))
    assert repr(lazy) == repr(theirs)
    assert {k: tuple(v.shape) for k, v in lazy.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in theirs.state_dict().items()}


def _source(fn):
    """'nn.LazyLinear(4)' from the lambda of CASES (the text after 'lambda: ')."""
    import inspect
    line = inspect.getsource(fn)
    start = line.index("lambda: ") + len("lambda: ")
    depth, i = 0, start
    while True:
        depth += {"(": 1, ")": -1}.get(line[i], 0)
        i += 1
        if depth == 0 and line[i - 1] == ")":
            return line[start:i]


def test_the_parameter_objects_keep_their_identity():
    p = nn.UninitializedParameter()
    same = p
    p.materialize((2, 3))
    assert same is p and type(p) is nn.Parameter and p.shape == (2, 3) and p.requires_grad and p.is_leaf
    layer = nn.LazyLinear(3)
    weight, bias = layer.weight, layer.bias
    layer(ember.ones(2, 5))
    assert layer.weight is weight and layer.bias is bias
    assert [p for p in layer.parameters()] == [weight, bias]


def _blobs(n=256, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[2.0, 0.0, -1.0, 1.0], [-2.0, 1.0, 1.0, 0.0], [0.0, -2.0, 0.0, -1.0]])
    x = centres[y] + 0.7 * rng.standard_normal((n, 4))
    return ember.tensor(x.astype(np.float32)), ember.tensor(y)


@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_an_optimizer_built_before_the_first_forward_trains_the_model(opt_name):
    ember.manual_seed(0)
    model = nn.Sequential(nn.LazyLinear(16), nn.LazyBatchNorm1d(), nn.ReLU(), nn.LazyLinear(3))
    params = list(model.parameters())
    assert all(is_lazy(p) for p in params)
    opt = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if opt_name == "SGD" \
        else ember.optim.Adam(model.parameters(), lr=0.02)
    x, y = _blobs()
    first = None
    for _ in range(60):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert [type(m).__name__ for m in model] == ["Linear", "BatchNorm1d", "ReLU", "Linear"]
    assert all(a is b for a, b in zip(params, model.parameters()))
    assert all(p.grad is not None for p in params)
    model.eval()
    x_test, y_test = _blobs(seed=1)
    accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    assert loss.item() < first / 4 and accuracy > 0.9, (first, loss.item(), accuracy)


def test_a_conv_model_with_lazy_layers_trains():
    ember.manual_seed(0)
    rng = np.random.default_rng(0)
    # class 1: a bump at the start of the sequence, class 0: at the end
    y = rng.integers(0, 2, 128)
    x = 0.3 * rng.standard_normal((128, 2, 12)).astype(np.float32)
    x[y == 1, :, 1:4] += 1.5
    x[y == 0, :, 8:11] += 1.5
    x, y = ember.tensor(x), ember.tensor(y)
    model = nn.Sequential(nn.LazyConv1d(4, 3), nn.LazyBatchNorm1d(), nn.ReLU(), nn.LazyConvTranspose1d(2, 3),
                          nn.LazyInstanceNorm1d(), nn.Flatten(), nn.LazyLinear(2))
    opt = ember.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(40):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    accuracy = (model(x).argmax(1) == y).float().mean().item()
    assert accuracy > 0.95 and type(model[3]) is nn.ConvTranspose1d and model[3].weight.shape == (4, 2, 3)


@pytest.mark.parametrize("name", CASES)
def test_state_dict_of_an_initialized_module_loads_into_an_uninitialized_one(name):
    make_lazy, make, shape = CASES[name]
    source = make(_in_size(name, shape))
    _randomize(source)
    lazy = make_lazy()
    lazy.load_state_dict(source.state_dict())
    assert not lazy.has_uninitialized_params() and type(lazy).__name__.startswith("Lazy")
    for key, value in source.state_dict().items():
        np.testing.assert_array_equal(lazy.state_dict()[key].numpy(), value.numpy(), err_msg=key)
    x = ember.randn(*shape)
    if name.startswith("InstanceNorm"):  # num_features stays 0 after a load, as in PyTorch, and affine checks it
        with pytest.raises(ValueError, match=r"to match num_features \(0\)"):
            lazy(x)
    else:
        np.testing.assert_allclose(lazy(x).detach().numpy(), source(x).detach().numpy(), rtol=1e-6, atol=1e-6)
    assert type(lazy) is type(source)


def test_state_dict_round_trips_through_lazy_modules():
    model = nn.Sequential(nn.LazyLinear(3), nn.LazyBatchNorm1d())
    model(ember.randn(4, 5))
    loaded = nn.Sequential(nn.LazyLinear(3), nn.LazyBatchNorm1d())
    result = loaded.load_state_dict(model.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert loaded[0].weight.shape == (3, 5) and loaded[1].running_var.shape == (3,)
    assert loaded[0].in_features == 0  # set by the first forward, as in PyTorch
    loaded(ember.randn(2, 5))
    assert loaded[0].in_features == 5 and type(loaded[0]) is nn.Linear
    # uninitialized into uninitialized: nothing to load, and no error
    fresh = nn.LazyLinear(3)
    assert fresh.load_state_dict(nn.LazyLinear(3).state_dict()).missing_keys == []
    assert fresh.has_uninitialized_params()
    with pytest.raises(RuntimeError, match="Missing key"):
        nn.LazyLinear(3).load_state_dict({})
    odd = nn.LazyLinear(3)
    odd.load_state_dict({"weight": ember.ones(3, 2), "bias": ember.ones(4)})  # each takes the saved shape (PyTorch)
    assert odd.weight.shape == (3, 2) and odd.bias.shape == (4,)


def test_load_then_forward_with_another_input_size_raises_pytorchs_error():
    layer = nn.LazyLinear(3)
    layer.load_state_dict(nn.Linear(2, 3).state_dict())
    with pytest.raises(AssertionError, match="The in_features inferred from input: 4 is not equal to in_features from "
                                             "self.weight: 2"):
        layer(ember.ones(5, 4))


def test_conversions_before_the_first_forward():
    model = nn.Sequential(nn.LazyLinear(3), nn.LazyBatchNorm1d()).double()
    assert model[0].weight.dtype == ember.float64 and is_lazy(model[0].weight)
    assert type(model[1].running_mean) is nn.UninitializedBuffer and model[1].running_mean.dtype == ember.float64
    model(ember.randn(4, 2, dtype=ember.float64))
    assert all(t.dtype == ember.float64 for t in model.state_dict().values() if t.is_floating_point())
    layer = nn.LazyLinear(2, dtype=ember.float64)
    assert layer.weight.dtype == ember.float64
    layer(ember.ones(1, 3, dtype=ember.float64))
    assert layer.weight.dtype == ember.float64


def test_copies_and_pickles_of_lazy_modules():
    layer = nn.LazyLinear(3)
    twin = copy.deepcopy(layer)
    twin(ember.ones(1, 2))
    assert type(twin) is nn.Linear and type(layer) is nn.LazyLinear and layer.has_uninitialized_params()
    layer(ember.ones(1, 4))
    assert layer.weight.shape == (3, 4) and twin.weight.shape == (3, 2)
    restored = pickle.loads(pickle.dumps(nn.LazyConv2d(2, 3)))
    restored(ember.ones(1, 5, 4, 4))
    assert type(restored) is nn.Conv2d and restored.in_channels == 5


def test_hooks_registered_after_the_lazy_hook_still_run():
    layer = nn.LazyLinear(2)
    seen = []
    layer.register_forward_pre_hook(lambda m, args: seen.append(type(m).__name__))
    layer(ember.ones(1, 3))
    layer(ember.ones(1, 3))
    assert seen == ["Linear", "Linear"] and len(layer._forward_pre_hooks) == 1


def test_modules_without_lazy_tensors():
    norm = nn.LazyInstanceNorm1d(affine=False, track_running_stats=False)
    assert not norm.has_uninitialized_params()
    with pytest.warns(UserWarning, match="does not match num_features"):
        norm(ember.randn(2, 3, 4))
    assert type(norm) is nn.InstanceNorm1d and norm.num_features == 0  # nothing to infer, as in PyTorch


# --- errors, against PyTorch's ----------------------------------------------------------------------------------

def _error(fn):
    with pytest.raises(Exception) as info:
        fn()
    return type(info.value).__name__, str(info.value)


def test_uninitialized_errors_match_pytorch():
    torch = pytest.importorskip("torch")
    for lib, p, b in ((ember, nn.UninitializedParameter(), nn.UninitializedBuffer()),
                      (torch, torch.nn.UninitializedParameter(), torch.nn.UninitializedBuffer())):
        lib.p, lib.b = p, b
    for fn in ("p.shape", "b.shape", "p.share_memory_()", "repr(p)", "str(b)", "p.size()", "p.dtype", "p.ndim",
               "p.requires_grad", "b.requires_grad", "p.is_leaf", "p.is_floating_point()", "b.persistent",
               "type(p.double()).__name__", "type(b.double()).__name__", "p.float() is p", "type(p).__name__"):
        ours, theirs = (_outcome(lambda: eval(fn, {"p": lib.p, "b": lib.b})) for lib in (ember, torch))
        assert ours == tuple(s.replace("torch", "ember") for s in theirs), fn
    for fn in ("p + 1", "p.sum()", "p.numel()", "p.detach()", "F.linear(lib.ones(2, 2), p)", "b * 2"):
        ours, theirs = (_outcome(lambda: eval(fn, {"p": lib.p, "b": lib.b, "lib": lib,
                                                   "F": lib.nn.functional})) for lib in (ember, torch))
        prefix = "Attempted to use an uninitialized parameter in "
        assert ours[0] == theirs[0] == "ValueError" and ours[1].startswith(prefix) and theirs[1].startswith(prefix)
        assert ours[1].split(". ", 1)[1] == theirs[1].split(". ", 1)[1].replace("torch", "ember"), fn
    del ember.p, ember.b


def _outcome(fn):
    try:
        return ("ok", repr(fn()))
    except Exception as e:
        return (type(e).__name__, str(e))


@pytest.mark.parametrize("make, shape", [
    ("nn.LazyConv2d(4, 3)", (4, 3)),
    ("nn.LazyConv1d(4, 3)", (1, 2, 3, 4)),
    ("nn.LazyConvTranspose3d(4, 3)", (1, 2, 3)),
    ("nn.LazyConv2d(4, 3, groups=2)", (1, 3, 5, 5)),
    ("nn.LazyLinear(3)", ()),
    ("nn.LazyBatchNorm1d()", (4,)),
    ("nn.LazyConvTranspose2d(4, 3, padding_mode='reflect')", None),
])
def test_wrong_inputs_raise_pytorchs_errors(make, shape):
    torch = pytest.importorskip("torch")
    outcomes = []
    for lib in (ember, torch):
        def run():
            layer = eval(make, {"nn": lib.nn})
            layer(lib.randn(*shape) if shape else lib.tensor(1.0))
        outcomes.append(_outcome(run))
    (ours, our_msg), (theirs, their_msg) = outcomes
    assert ours == theirs and our_msg == their_msg.replace("torch.Size", "ember.Size"), outcomes


def test_loading_an_uninitialized_state_into_an_initialized_module_raises_pytorchs_error():
    torch = pytest.importorskip("torch")
    ours = _outcome(lambda: nn.Linear(3, 4).load_state_dict(nn.LazyLinear(4).state_dict()))
    theirs = _outcome(lambda: torch.nn.Linear(3, 4).load_state_dict(torch.nn.LazyLinear(4).state_dict()))
    assert ours == theirs and ours[0] == "RuntimeError"


def test_module_paths():
    from ember.nn.modules import batchnorm, conv, instancenorm, lazy, linear
    assert lazy.LazyModuleMixin is ember.nn.lazy.LazyModuleMixin and linear.LazyLinear is nn.LazyLinear
    assert conv.LazyConvTranspose3d is nn.LazyConvTranspose3d and batchnorm.LazyBatchNorm2d is nn.LazyBatchNorm2d
    assert instancenorm.LazyInstanceNorm3d is nn.LazyInstanceNorm3d
    assert issubclass(nn.LazyLinear, lazy.LazyModuleMixin) and nn.LazyLinear.cls_to_become is nn.Linear
