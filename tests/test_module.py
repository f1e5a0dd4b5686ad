"""nn.Module, Parameter, containers, Linear/Bilinear: registration, state_dict, hooks, repr, PyTorch parity."""
import copy
import math
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.autograd import gradcheck, gradgradcheck
from ember.ops.linear import bilinear, linear
from helpers import assert_close, rand64, second_derivatives


# --- models built the same way in ember and in torch -------------------------------------------------------------

def make_model(nn_mod):
    """A nested model using attributes, Sequential, ModuleList, ModuleDict and buffers."""

    class Block(nn_mod.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn_mod.Linear(4, 5)
            self.register_buffer("running", ember_or_torch_zeros(nn_mod, 5))
            self.register_buffer("scratch", ember_or_torch_zeros(nn_mod, 2), persistent=False)

        def forward(self, x):
            return self.fc(x)

    class Net(nn_mod.Module):
        def __init__(self):
            super().__init__()
            self.block = Block()
            self.seq = nn_mod.Sequential(nn_mod.Linear(5, 6), nn_mod.Identity(), nn_mod.Linear(6, 3, bias=False))
            self.heads = nn_mod.ModuleList([nn_mod.Linear(3, 2) for _ in range(2)])
            self.named = nn_mod.ModuleDict({"b": nn_mod.Linear(2, 2), "a": nn_mod.Linear(2, 1)})
            self.scale = nn_mod.Parameter(ember_or_torch_zeros(nn_mod, 1) + 1)

        def forward(self, x):
            h = self.seq(self.block(x))
            h = self.heads[0](h) + self.heads[1](h)
            return self.named["a"](self.named["b"](h)) * self.scale

    return Net()


def ember_or_torch_zeros(nn_mod, n):
    if nn_mod is nn:
        return ember.zeros(n)
    import torch
    return torch.zeros(n)


def copy_into_torch(model, tmodel, torch):
    """Load an ember model's state_dict into a torch model by key."""
    sd = {k: torch.tensor(np.array(v.numpy())) for k, v in model.state_dict().items()}
    tmodel.load_state_dict(sd)


# --- registration and naming --------------------------------------------------------------------------------------

def test_names_and_state_dict_keys_match_torch(torch):
    model, tmodel = make_model(nn), make_model(torch.nn)
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in tmodel.named_parameters()]
    assert [n for n, _ in model.named_buffers()] == [n for n, _ in tmodel.named_buffers()]
    assert list(model.state_dict()) == list(tmodel.state_dict())
    assert [n for n, _ in model.named_modules()] == [n for n, _ in tmodel.named_modules()]
    assert [n for n, _ in model.named_children()] == [n for n, _ in tmodel.named_children()]
    for (n, p), (_, tp) in zip(model.named_parameters(), tmodel.named_parameters()):
        assert tuple(p.shape) == tuple(tp.shape), n


def test_model_forward_backward_matches_torch(torch):
    model, tmodel = make_model(nn), make_model(torch.nn)
    copy_into_torch(model, tmodel, torch)
    x = ember.randn(7, 4)
    tx = torch.tensor(x.numpy())
    y, ty = model(x), tmodel(tx)
    assert_close(y, ty, rtol=1e-5, atol=1e-6)
    y.sum().backward()
    ty.sum().backward()
    for (n, p), (_, tp) in zip(model.named_parameters(), tmodel.named_parameters()):
        assert_close(p.grad, tp.grad, rtol=1e-4, atol=1e-5)


def test_shared_parameters_are_listed_once():
    a = nn.Linear(3, 3)
    model = nn.Sequential(a, a)
    assert len(list(model.parameters())) == 2
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(model.named_parameters(remove_duplicate=False))) == 4
    assert len(list(model.modules())) == 2
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_prefix_and_recurse():
    model = nn.Sequential(nn.Linear(2, 2))
    assert [n for n, _ in model.named_parameters(prefix="net")] == ["net.0.weight", "net.0.bias"]
    assert list(model.parameters(recurse=False)) == []
    assert [n for n, _ in model.named_modules(prefix="m")] == ["m", "m.0"]


def test_setattr_registers_and_replaces():
    m = nn.Module()
    m.w = nn.Parameter(ember.ones(2))
    m.sub = nn.Linear(2, 2)
    m.register_buffer("buf", ember.zeros(2))
    assert list(m._parameters) == ["w"] and list(m._modules) == ["sub"] and list(m._buffers) == ["buf"]
    m.buf = ember.ones(2)  # assigning a tensor to a buffer name replaces the buffer
    assert m._buffers["buf"].tolist() == [1.0, 1.0]
    m.w = None
    assert m.w is None and "w" in m._parameters
    assert list(m.parameters()) == list(m.sub.parameters())
    m.sub = nn.Parameter(ember.zeros(1))  # a parameter replaces a module of the same name
    assert "sub" not in m._modules and "sub" in m._parameters
    del m.sub
    assert not hasattr(m, "sub")
    m.plain = 3
    assert m.plain == 3 and "plain" in m.__dict__
    m.b2 = nn.Buffer(ember.ones(1), persistent=False)
    assert "b2" in m._buffers and "b2" not in m.state_dict()


def test_setattr_errors():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign 'ember.Tensor' as parameter 'weight'"):
        m.weight = ember.ones(2, 2)
    with pytest.raises(KeyError, match="attribute 'in_features' already exists"):
        m.register_buffer("in_features", ember.ones(1))
    with pytest.raises(KeyError, match="contain"):
        m.register_parameter("a.b", nn.Parameter(ember.ones(1)))
    with pytest.raises(TypeError, match="cannot assign 'ember.Tensor' object to parameter 'p'"):
        m.register_parameter("p", ember.ones(1))
    nonleaf = nn.Parameter(ember.ones(1)) * 2
    with pytest.raises(TypeError):
        m.register_parameter("q", nonleaf)
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'nope'"):
        m.nope

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(ember.ones(1))

    with pytest.raises(AttributeError, match="cannot assign parameters before Module.__init__"):
        Early()


def test_get_submodule_and_parameter():
    model = nn.Sequential(OrderedDict(enc=nn.Sequential(nn.Linear(2, 3)), out=nn.Linear(3, 1)))
    assert model.get_submodule("enc.0") is model.enc[0]
    assert model.get_submodule("") is model
    assert model.get_parameter("enc.0.weight") is model.enc[0].weight
    with pytest.raises(AttributeError, match="has no attribute `zz`"):
        model.get_submodule("enc.zz")
    with pytest.raises(AttributeError, match="is not an nn.Parameter"):
        model.get_parameter("enc.0.in_features")
    model.set_submodule("out", nn.Identity())
    assert isinstance(model.out, nn.Identity)


def test_train_eval_apply_requires_grad():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2)))
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    with pytest.raises(ValueError, match="boolean"):
        model.train("yes")
    seen = []
    model.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "Linear", "Sequential", "Sequential"]
    model.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())


def test_zero_grad():
    m = nn.Linear(3, 2)
    m(ember.randn(4, 3)).sum().backward()
    m.zero_grad(set_to_none=False)
    assert m.weight.grad is not None and not m.weight.grad.numpy().any()
    m.zero_grad()
    assert m.weight.grad is None and m.bias.grad is None


def test_to_dtype_keeps_parameter_identity_and_int_buffers():
    m = nn.Linear(3, 2)
    m.register_buffer("count", ember.zeros(1, dtype=ember.int64))
    m.register_buffer("stat", ember.zeros(2))
    w = m.weight
    m(ember.randn(1, 3)).sum().backward()
    assert m.to(ember.float64) is m
    assert m.weight is w and isinstance(m.weight, nn.Parameter)
    assert m.weight.dtype is ember.float64 and m.weight.grad.dtype is ember.float64
    assert m.count.dtype is ember.int64 and m.stat.dtype is ember.float64
    m.float()
    assert m.weight.dtype is ember.float32 and m.weight is w
    m.half()
    assert m.bias.dtype is ember.float16 and m.count.dtype is ember.int64
    m.to("cpu").cpu()
    assert m.weight.device.type == "cpu"
    m.to(ember.zeros(1, dtype=ember.float64))
    assert m.weight.dtype is ember.float64
    with pytest.raises(TypeError, match="only accepts floating point"):
        m.to(ember.int32)


# --- state_dict -------------------------------------------------------------------------------------------------

def test_state_dict_is_detached_and_shares_memory():
    m = nn.Linear(2, 2)
    sd = m.state_dict()
    assert isinstance(sd, OrderedDict)
    assert not sd["weight"].requires_grad and not isinstance(sd["weight"], nn.Parameter)
    assert np.shares_memory(sd["weight"].numpy(), m.weight._data)
    assert m.state_dict(keep_vars=True)["weight"] is m.weight
    assert list(m.state_dict(prefix="fc.")) == ["fc.weight", "fc.bias"]


def test_load_state_dict_roundtrip_in_place():
    a, b = make_model(nn), make_model(nn)
    w = b.block.fc.weight
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    assert b.block.fc.weight is w
    for (n, p), (_, q) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    x = ember.randn(3, 4)
    assert_close(a(x), b(x).detach())


def test_load_state_dict_error_messages():
    model = nn.Sequential(OrderedDict(fc=nn.Linear(4, 10), out=nn.Linear(10, 2)))
    sd = model.state_dict()
    sd["fc.weight"] = ember.zeros(10, 5)
    del sd["out.bias"]
    sd["extra"] = ember.zeros(1)
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(sd)
    assert str(info.value) == (
        "Error(s) in loading state_dict for Sequential:\n"
        '\tMissing key(s) in state_dict: "out.bias". \n'
        '\tUnexpected key(s) in state_dict: "extra". \n'
        "\tsize mismatch for fc.weight: copying a param with shape (10, 5) from checkpoint, the shape in current "
        "model is (10, 4).")


def test_load_state_dict_messages_like_torch(torch):
    model, tmodel = make_model(nn), make_model(torch.nn)
    sd = {k: v for k, v in model.state_dict().items() if not k.startswith("heads.1")}
    sd["seq.9.weight"] = ember.zeros(1)
    tsd = {k: torch.tensor(np.array(v.numpy())) for k, v in sd.items()}
    with pytest.raises(RuntimeError) as mine:
        model.load_state_dict(sd)
    with pytest.raises(RuntimeError) as theirs:
        tmodel.load_state_dict(tsd)
    assert str(mine.value) == str(theirs.value)
    res = model.load_state_dict(sd, strict=False)
    tres = tmodel.load_state_dict(tsd, strict=False)
    assert res.missing_keys == tres.missing_keys and res.unexpected_keys == tres.unexpected_keys


def test_load_state_dict_non_strict_still_checks_shapes():
    m = nn.Linear(2, 2)
    res = m.load_state_dict({"weight": ember.ones(2, 2)}, strict=False)
    assert res.missing_keys == ["bias"] and res.unexpected_keys == []
    assert m.weight.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    with pytest.raises(RuntimeError, match="size mismatch for weight"):
        m.load_state_dict({"weight": ember.ones(3, 2)}, strict=False)
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        m.load_state_dict([1, 2])


def test_load_state_dict_casts_and_assign():
    m = nn.Linear(2, 2)
    m.load_state_dict({"weight": ember.ones(2, 2, dtype=ember.float64), "bias": ember.zeros(2)})
    assert m.weight.dtype is ember.float32 and m.weight.requires_grad
    new_w = ember.full((2, 2), 3.0)
    m.load_state_dict({"weight": new_w, "bias": ember.zeros(2)}, assign=True)
    assert isinstance(m.weight, nn.Parameter) and m.weight.requires_grad
    assert np.shares_memory(m.weight._data, new_w._data)


def test_load_state_dict_leaves_parameters_as_leaves():
    m = nn.Linear(2, 2)
    version = m.weight._version
    m.load_state_dict(nn.Linear(2, 2).state_dict())
    assert m.weight.grad_fn is None and m.weight.is_leaf and m.weight.requires_grad
    assert m.weight._version > version  # copied in place


# --- hooks ------------------------------------------------------------------------------------------------------

def test_forward_pre_hook_and_forward_hook():
    m = nn.Linear(2, 2)
    calls = []

    def pre(mod, args):
        calls.append("pre")
        return (args[0] * 0,)

    def post(mod, args, out):
        calls.append("post")
        return out + 1

    h1 = m.register_forward_pre_hook(pre)
    h2 = m.register_forward_hook(post)
    y = m(ember.randn(3, 2))
    assert calls == ["pre", "post"]
    assert_close(y, (m.bias + 1).detach().reshape(1, 2).numpy().repeat(3, 0))
    h1.remove()
    h2.remove()
    x = ember.randn(3, 2)
    assert_close(m(x), linear(x, m.weight, m.bias).detach())
    assert calls == ["pre", "post"]


def test_hooks_with_kwargs_and_prepend():
    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    m = Scale()
    order = []
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"factor": 3.0}), with_kwargs=True)
    m.register_forward_hook(lambda mod, args, kwargs, out: order.append(("kw", kwargs["factor"])), with_kwargs=True)
    m.register_forward_hook(lambda mod, args, out: order.append("first"), prepend=True)
    y = m(ember.ones(2))
    assert y.tolist() == [3.0, 3.0]
    assert order == ["first", ("kw", 3.0)]


def test_full_backward_hook_matches_torch(torch):
    m, tm = nn.Linear(3, 4), torch.nn.Linear(3, 4)
    copy_into_torch(m, tm, torch)
    got, tgot = {}, {}
    m.register_full_backward_hook(lambda mod, gi, go: got.update(gi=gi, go=go))
    tm.register_full_backward_hook(lambda mod, gi, go: tgot.update(gi=gi, go=go))
    x = ember.randn(5, 3, requires_grad=True)
    tx = torch.tensor(x.detach().numpy(), requires_grad=True)
    (m(x) ** 2).sum().backward()
    (tm(tx) ** 2).sum().backward()
    assert len(got["gi"]) == 1 and len(got["go"]) == 1
    assert_close(got["gi"][0], tgot["gi"][0], rtol=1e-5, atol=1e-6)
    assert_close(got["go"][0], tgot["go"][0], rtol=1e-5, atol=1e-6)
    assert_close(x.grad, tx.grad, rtol=1e-5, atol=1e-6)
    assert_close(m.weight.grad, tm.weight.grad, rtol=1e-5, atol=1e-6)


def test_full_backward_hook_can_replace_grad_input_and_pre_hook_grad_output():
    m = nn.Linear(2, 2)
    m.register_full_backward_pre_hook(lambda mod, go: (go[0] * 0,))
    h = m.register_full_backward_hook(lambda mod, gi, go: (gi[0] + 5,))
    x = ember.randn(3, 2, requires_grad=True)
    m(x).sum().backward()
    assert x.grad.tolist() == [[5.0, 5.0]] * 3
    assert not m.weight.grad.numpy().any()  # the pre-hook zeroed grad_output before it reached the weight
    h.remove()
    with pytest.raises(RuntimeError, match="invalid number of grad_input"):
        m.register_full_backward_hook(lambda mod, gi, go: (gi[0], gi[0]))
        m(ember.randn(3, 2, requires_grad=True)).sum().backward()


def test_full_backward_hook_with_several_inputs_and_no_input_grad():
    class Add(nn.Module):
        def forward(self, a, b, scale):
            return a * scale + b

    m = Add()
    got = {}
    m.register_full_backward_hook(lambda mod, gi, go: got.update(gi=gi, go=go))
    a = ember.randn(2, requires_grad=True)
    b = ember.randn(2)
    m(a, b, 3.0).sum().backward()
    assert len(got["gi"]) == 3 and got["gi"][1] is None and got["gi"][2] is None
    assert got["gi"][0].tolist() == [3.0, 3.0] and got["go"][0].tolist() == [1.0, 1.0]

    lin = nn.Linear(2, 2)
    seen = {}
    lin.register_full_backward_hook(lambda mod, gi, go: seen.update(gi=gi, go=go))
    lin(ember.randn(1, 2)).sum().backward()  # only the weights need gradients: fires with grad_input (None,)
    assert seen["gi"] == (None,) and seen["go"][0].tolist() == [[1.0, 1.0]]


def test_global_forward_hook():
    from ember.nn.module import register_module_forward_hook
    names = []
    h = register_module_forward_hook(lambda mod, args, out: names.append(type(mod).__name__))
    try:
        nn.Sequential(nn.Linear(2, 2), nn.Identity())(ember.ones(1, 2))
    finally:
        h.remove()
    nn.Linear(2, 2)(ember.ones(1, 2))
    assert names == ["Linear", "Identity", "Sequential"]


# --- repr -------------------------------------------------------------------------------------------------------

def test_repr_matches_torch(torch):

    def build(n):
        return n.Sequential(n.Linear(4, 3), n.Flatten(), n.Identity(), n.Unflatten(1, (3, 1)),
                            n.Sequential(n.Linear(3, 3, bias=False), n.Flatten(0, -1)),
                            n.ModuleList([n.Linear(2, 2), n.Linear(2, 2), n.Identity()]),
                            n.ModuleDict({"x": n.Linear(1, 1)}), n.Bilinear(2, 3, 4))

    assert repr(build(nn)) == repr(build(torch.nn))
    assert repr(nn.Linear(2, 3)) == "Linear(in_features=2, out_features=3, bias=True)"
    assert repr(nn.ModuleList()) == "ModuleList()"


def test_parameter_repr_copy_pickle():
    p = nn.Parameter(ember.tensor([1.0, 2.0]))
    assert repr(p) == "Parameter containing:\n" + repr(ember.tensor([1.0, 2.0], requires_grad=True))
    assert p.requires_grad and p.is_leaf
    assert not nn.Parameter(ember.ones(1), requires_grad=False).requires_grad
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.requires_grad and not np.shares_memory(q._data, p._data)
    r = pickle.loads(pickle.dumps(p))
    assert isinstance(r, nn.Parameter) and r.tolist() == [1.0, 2.0]
    t = ember.ones(2)
    assert np.shares_memory(nn.Parameter(t)._data, t._data)
    m = copy.deepcopy(nn.Linear(2, 2))
    assert isinstance(m.weight, nn.Parameter)
    assert len(nn.Parameter().shape) == 1


# --- containers -------------------------------------------------------------------------------------------------

def test_sequential_indexing_slicing_and_growth():
    a, b, c = nn.Linear(2, 2), nn.Identity(), nn.Linear(2, 1)
    s = nn.Sequential(a, b, c)
    assert len(s) == 3 and s[0] is a and s[-1] is c
    assert list(s) == [a, b, c]
    sub = s[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == [b, c] and list(sub._modules) == ["1", "2"]
    with pytest.raises(IndexError):
        s[3]
    s.append(nn.Identity())
    assert len(s) == 4 and list(s._modules) == ["0", "1", "2", "3"]
    del s[1]
    assert list(s._modules) == ["0", "1", "2"] and s[1] is c
    s.insert(0, b)
    assert s[0] is b
    s[0] = nn.Flatten()
    assert isinstance(s[0], nn.Flatten)
    named = nn.Sequential(OrderedDict(first=nn.Linear(2, 3), second=nn.Identity()))
    assert list(named.state_dict()) == ["first.weight", "first.bias"]
    assert named.first is named[0]
    assert tuple(named(ember.ones(5, 2)).shape) == (5, 3)
    assert len(nn.Sequential(a) + nn.Sequential(b, c)) == 3


def test_module_list_and_dict():
    layers = nn.ModuleList([nn.Linear(1, 1)])
    layers.append(nn.Linear(1, 2))
    layers.extend([nn.Identity(), nn.Identity()])
    layers.insert(1, nn.Flatten())
    assert len(layers) == 5 and isinstance(layers[1], nn.Flatten) and isinstance(layers[2], nn.Linear)
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    assert [n for n, _ in layers.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    del layers[0]
    assert isinstance(layers[0], nn.Flatten)
    with pytest.raises(TypeError, match="iterable"):
        layers.extend(3)
    d = nn.ModuleDict({"b": nn.Linear(1, 1)})
    d["a"] = nn.Identity()
    d.update([("c", nn.Linear(2, 2))])
    assert list(d.keys()) == ["b", "a", "c"] and "a" in d and len(d) == 3
    assert isinstance(d.pop("a"), nn.Identity) and "a" not in d


def test_parameter_list_and_dict():
    pl = nn.ParameterList([ember.ones(2), nn.Parameter(ember.zeros(3))])
    assert all(isinstance(p, nn.Parameter) for p in pl) and len(pl) == 2
    pl.append(ember.ones(1))
    assert [n for n, _ in pl.named_parameters()] == ["0", "1", "2"]
    assert isinstance(pl[-1], nn.Parameter)
    pd = nn.ParameterDict({"w": ember.ones(2)})
    pd["b"] = ember.zeros(1)
    assert list(pd.keys()) == ["w", "b"] and isinstance(pd["b"], nn.Parameter)
    assert [n for n, _ in pd.named_parameters()] == ["w", "b"]
    with pytest.raises(RuntimeError, match="should not be called"):
        pl(1)


def test_flatten_unflatten_match_torch(torch):
    x = ember.randn(2, 3, 4, 5)
    tx = torch.tensor(x.numpy())
    for args in [(), (0, -1), (1, 2), (2, 3), (-3, -2), (1, 1)]:
        assert tuple(nn.Flatten(*args)(x).shape) == tuple(torch.nn.Flatten(*args)(tx).shape)
    for dim, sizes in [(1, (3, 1)), (-1, (5, 1)), (2, (2, -1)), (0, (1, 2))]:
        assert tuple(nn.Unflatten(dim, sizes)(x).shape) == tuple(torch.nn.Unflatten(dim, sizes)(tx).shape)
    with pytest.raises(RuntimeError, match="don't multiply up"):
        nn.Unflatten(1, (2, 2))(x)
    with pytest.raises(TypeError, match="tuple of ints"):
        nn.Unflatten(1, 3)
    y = nn.Flatten()(ember.randn(2, 3, 4, requires_grad=True))
    y.sum().backward()


# --- Linear and Bilinear ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (4,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(shape, bias, torch):
    m, tm = nn.Linear(4, 3, bias=bias), torch.nn.Linear(4, 3, bias=bias)
    copy_into_torch(m, tm, torch)
    x = ember.randn(*shape, requires_grad=True)
    tx = torch.tensor(x.detach().numpy(), requires_grad=True)
    y, ty = m(x), tm(tx)
    assert_close(y, ty)
    g = ember.randn(*y.shape)
    y.backward(g)
    ty.backward(torch.tensor(g.numpy()))
    assert_close(x.grad, tx.grad, rtol=1e-5, atol=1e-5)
    assert_close(m.weight.grad, tm.weight.grad, rtol=1e-5, atol=1e-5)
    if bias:
        assert_close(m.bias.grad, tm.bias.grad, rtol=1e-5, atol=1e-5)


def test_bilinear_matches_torch(torch):
    m, tm = nn.Bilinear(3, 4, 5), torch.nn.Bilinear(3, 4, 5)
    copy_into_torch(m, tm, torch)
    x1, x2 = ember.randn(2, 6, 3, requires_grad=True), ember.randn(2, 6, 4, requires_grad=True)
    t1 = torch.tensor(x1.detach().numpy(), requires_grad=True)
    t2 = torch.tensor(x2.detach().numpy(), requires_grad=True)
    y, ty = m(x1, x2), tm(t1, t2)
    assert_close(y, ty, rtol=1e-5, atol=1e-5)
    y.sum().backward()
    ty.sum().backward()
    for a, b in [(x1.grad, t1.grad), (x2.grad, t2.grad), (m.weight.grad, tm.weight.grad), (m.bias.grad, tm.bias.grad)]:
        assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(3, 4), (2, 2, 4), (4,)])
def test_linear_gradcheck(shape):
    x, w, b = rand64(*shape), rand64(3, 4, seed=1), rand64(3, seed=2)
    assert gradcheck(linear, (x, w, b))
    assert gradcheck(lambda x, w: linear(x, w), (x, w))
    assert gradgradcheck(linear, (x, w, b))


def test_linear_gradcheck_partial_requires_grad():
    x, w, b = rand64(3, 4, requires_grad=False), rand64(2, 4, seed=1), rand64(2, seed=2, requires_grad=False)
    assert gradcheck(linear, (x, w, b))
    x, w = rand64(3, 4), rand64(2, 4, seed=1, requires_grad=False)
    assert gradcheck(linear, (x, w, b))


@pytest.mark.parametrize("shape", [(3, 4), (2, 2, 4), (4,)])
@pytest.mark.parametrize("grads_on", [(True, True, True), (True, False, False), (False, True, True),
                                      (True, True, False)])
def test_linear_double_backward_vs_torch(shape, grads_on, torch):
    """LinearGrad's backward (the second derivative) against PyTorch's double backward: the gradient of
    <r, d linear / d inputs> with respect to the inputs and to the incoming gradient g."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(shape), rng.standard_normal((3, 4)), rng.standard_normal(3)]
    ours = second_derivatives(ember, linear, arrays, grads_on)
    theirs = second_derivatives(torch, torch.nn.functional.linear, arrays, grads_on)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_linear_third_derivative():
    """LinearGrad's backward applies LinearGrad again, so every order of derivative works."""
    x, w, b = rand64(3, 4), rand64(2, 4, seed=1), rand64(2, seed=2)
    go = rand64(3, 2, seed=3)

    def first(x, w, b, go):
        return ember.autograd.grad([linear(x, w, b)], [x, w, b], [go], create_graph=True)

    assert gradgradcheck(first, (x, w, b, go))


def test_linear_keeps_bfloat16():
    pytest.importorskip("ml_dtypes")
    x = ember.ones(2, 3, dtype=ember.bfloat16, requires_grad=True)
    w = ember.ones(4, 3, dtype=ember.bfloat16, requires_grad=True)
    y = linear(x, w, ember.ones(4, dtype=ember.bfloat16))
    assert y.dtype is ember.bfloat16
    np.testing.assert_array_equal(y.float().detach().numpy(), np.full((2, 4), 4.0))
    y.sum().backward()
    assert x.grad.dtype is ember.bfloat16 and w.grad.dtype is ember.bfloat16
    np.testing.assert_array_equal(x.grad.float().numpy(), np.full((2, 3), 4.0))


def test_bilinear_gradcheck():
    x1, x2, w, b = rand64(3, 2), rand64(3, 4, seed=1), rand64(2, 2, 4, seed=2), rand64(2, seed=3)
    assert gradcheck(bilinear, (x1, x2, w, b))
    assert gradcheck(lambda a, c, w: bilinear(a, c, w), (x1, x2, w))
    assert gradgradcheck(bilinear, (x1, x2, w, b))


def test_linear_errors():
    w = ember.randn(3, 4)
    with pytest.raises(RuntimeError, match=r"linear: input of shape \(2, 5\) and weight of shape \(3, 4\) cannot be "
                                           r"multiplied \(5 != 4\)"):
        linear(ember.randn(2, 5), w)
    with pytest.raises(RuntimeError, match="linear: input and weight must have the same dtype, but got "
                                           "ember.float64 and ember.float32"):
        linear(ember.randn(2, 4, dtype=ember.float64), w)
    with pytest.raises(RuntimeError, match=r"bias of shape \(4,\) does not match out_features 3"):
        linear(ember.randn(2, 4), w, ember.randn(4))
    with pytest.raises(TypeError, match="argument 'input' must be Tensor, not list"):
        linear([1.0, 2.0], w)
    with pytest.raises(RuntimeError, match=r"bilinear\(\): input1 size does not match weight size"):
        bilinear(ember.randn(2, 3), ember.randn(2, 4), ember.randn(5, 2, 4))
    with pytest.raises(RuntimeError, match="batch dimensions do not match"):
        bilinear(ember.randn(2, 3), ember.randn(3, 4), ember.randn(5, 3, 4))


def test_linear_default_init_and_seed():
    ember.manual_seed(3)
    a = nn.Linear(50, 40)
    ember.manual_seed(3)
    b = nn.Linear(50, 40)
    np.testing.assert_array_equal(a.weight.numpy(force=True), b.weight.numpy(force=True))
    bound = 1 / math.sqrt(50)  # kaiming_uniform_(a=sqrt(5)) gives the same bound as the bias
    w = a.weight.numpy(force=True)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound
    assert np.abs(a.bias.numpy(force=True)).max() <= bound
    assert a.weight.dtype is ember.float32
    assert nn.Linear(2, 2, dtype=ember.float64).weight.dtype is ember.float64


def test_backward_hook_gradients_are_not_modified_by_accumulation():
    class Mul(nn.Module):
        def forward(self, a, b):
            return a * b

    m = Mul()
    got = {}
    m.register_full_backward_hook(lambda mod, gi, go: got.update(gi=gi))
    y = ember.tensor([1.0, 2.0], requires_grad=True)
    m(y, y).sum().backward()  # y receives two gradients, accumulated into y.grad
    assert got["gi"][0].tolist() == [1.0, 2.0] and got["gi"][1].tolist() == [1.0, 2.0]
    assert y.grad.tolist() == [2.0, 4.0]


def test_always_call_forward_hook_runs_when_forward_raises():
    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    m = Boom()
    calls = []
    m.register_forward_hook(lambda mod, args, out: calls.append(out), always_call=True)
    m.register_forward_hook(lambda mod, args, out: calls.append("never"))
    with pytest.raises(ValueError, match="boom"):
        m(ember.ones(1))
    assert calls == [None]


def test_module_init_rejects_arguments_and_missing_forward():
    with pytest.raises(TypeError, match="unexpected keyword argument 'foo'"):
        nn.Module(foo=1)
    with pytest.raises(NotImplementedError, match='missing the required "forward" function'):
        nn.Module()(ember.ones(1))


def test_linear_scalar_bias_matches_torch(torch):
    import torch.nn.functional as F
    x, w, b = rand64(3, 4), rand64(2, 4, seed=1), rand64(seed=2)
    assert gradcheck(linear, (x, w, b))
    tx, tw, tb = (torch.tensor(t.detach().numpy(), requires_grad=True) for t in (x, w, b))
    y, ty = linear(x, w, b), F.linear(tx, tw, tb)
    assert_close(y, ty, rtol=1e-12, atol=1e-12)
    y.sum().backward()
    ty.sum().backward()
    assert_close(b.grad, tb.grad, rtol=1e-12, atol=1e-12)
