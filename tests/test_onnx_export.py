"""ember.onnx.export: every zoo model passes onnx's checker (full_check) and onnxruntime gives ember's outputs
(1e-4) at the traced batch size and another one (dynamic batch axis); the op rules beyond the zoo; the errors;
`ember export`."""
import io
import os

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn, zoo
from ember.ops import registry

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

TOL = 1e-4


def _randomize(model, seed=0):
    """Weights a check can see: normalisation parameters and statistics, biases and zero-initialised layers (a
    head, a last BatchNorm's weight) drawn at random, so that no output is zero or the same for every input."""
    rng = np.random.default_rng(seed)
    with ember.no_grad():
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            a = t._data
            if a.dtype.kind != "f":
                continue
            if name.endswith("running_var"):
                a[...] = rng.uniform(0.5, 1.5, a.shape)
            elif name.endswith("running_mean") or not a.any() or (a == 1).all():
                a[...] = (a + rng.uniform(-0.5, 0.5, a.shape)).astype(a.dtype)
    return model


def _session(data):
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def _exported(model, args, **kw):
    """(ModelProto, session) of model exported to memory, after onnx.checker with full_check."""
    buf = io.BytesIO()
    ember.onnx.export(model, args, buf, **kw)
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    return proto, _session(buf.getvalue())


def _outputs(model, *args):
    with ember.no_grad():
        y = model(*args)
    return [t.numpy() for t in (y if isinstance(y, tuple) else (y,)) if t is not None]


class _NarrowHead:
    """ember.nn with Linear layers of 4096 features narrowed to 32, for building vgg11_bn: the zoo's 25088-4096-4096
    head holds 120M parameters (6 s to build here); the layers, names and ops stay those of vgg11_bn."""

    def __getattr__(self, name):
        return getattr(nn, name)

    class Linear(nn.Linear):
        def __init__(self, n_in, n_out, *args, **kwargs):
            super().__init__(32 if n_in == 4096 else n_in, 32 if n_out == 4096 else n_out, *args, **kwargs)


def _small_vgg11_bn():
    from ember.zoo import vgg
    saved, vgg.nn = vgg.nn, _NarrowHead()
    try:
        return zoo.vgg11_bn(num_classes=10)
    finally:
        vgg.nn = saved


def _image(n, size=16):
    return ember.randn(n, 3, size, size)


# name -> (builder, example input of batch n)
ZOO = {
    "mlp": (lambda: zoo.mlp(in_features=20, hidden=(16, 16)), lambda n: ember.randn(n, 20)),
    "lenet5": (zoo.lenet5, lambda n: ember.randn(n, 1, 28, 28)),
    "resnet18": (lambda: zoo.resnet18(num_classes=10), _image),
    "resnet20": (zoo.resnet20, _image),
    "vgg11_bn": (_small_vgg11_bn, lambda n: _image(n, 32)),
    "mobilenet_v2": (lambda: zoo.mobilenet_v2(num_classes=10), _image),
    "lstm_classifier": (lambda: zoo.lstm_classifier(vocab_size=50, embed_dim=16, hidden_size=24),
                        lambda n: ember.randint(0, 50, (n, 7))),
    "gpt": (lambda: zoo.gpt(vocab_size=50, block_size=16, n_embd=32), lambda n: ember.randint(0, 50, (n, 9))),
    "vit": (lambda: zoo.vit(image_size=16, dim=32, heads=4, mlp_dim=64), _image),
}


@pytest.mark.parametrize("name", list(ZOO))
def test_zoo_model_exports_and_onnxruntime_matches_ember(name):
    ember.manual_seed(0)
    build, example = ZOO[name]
    model = _randomize(build()).eval()
    proto, sess = _exported(model, (example(2),), input_names=["x"], output_names=["y"],
                            dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    for n in (2, 3):  # the traced batch size and another one
        x = example(n)
        want = _outputs(model, x)[0]
        got = sess.run(None, {"x": x.numpy()})[0]
        assert got.shape == want.shape and np.abs(want).max() > 1e-3
        np.testing.assert_allclose(got, want, rtol=0, atol=TOL * max(1.0, np.abs(want).max()))


def test_parameters_are_initializers_named_as_in_the_state_dict_and_training_mode_is_restored():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    proto, _ = _exported(model, (ember.randn(2, 3),))
    assert model.training and all(m.training for m in model.modules())
    names = {i.name for i in proto.graph.initializer}
    assert {"0.weight", "0.bias", "1.running_mean", "1.running_var", "3.weight"} <= names
    assert [i.name for i in proto.graph.input] == ["input"] and proto.opset_import[0].version == 17


class _Ops(nn.Module):
    """The op rules the zoo does not reach: norms, pooling, resampling, padding, recurrent layers, activations,
    indexing, reductions."""

    def __init__(self):
        super().__init__()
        self.gn, self.inorm = nn.GroupNorm(2, 4), nn.InstanceNorm2d(4, affine=True)
        self.gru = nn.GRU(6, 5, batch_first=True)
        self.rnn = nn.RNN(6, 5, nonlinearity="relu")
        self.lstm = nn.LSTM(6, 5, bidirectional=True, num_layers=2)
        self.up = nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1, groups=1)
        self.up1d = nn.ConvTranspose1d(7, 4, 2, stride=2, groups=1)
        self.conv1d = nn.Conv1d(7, 3, 3, padding=2, dilation=2, groups=1)

    def forward(self, x, seq):
        a = self.inorm(self.gn(x))
        a = F.avg_pool2d(a, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
        b = F.adaptive_avg_pool2d(x, (3, 2)) + F.adaptive_max_pool2d(x, 1)
        c = F.interpolate(x, scale_factor=2, mode="bilinear") + F.interpolate(x, scale_factor=2, mode="nearest")
        d = F.pad(x, (1, 2, 0, 1), mode="reflect").flip(-1)[:, 1:3, ::2, -4:]
        e = F.rms_norm(x, (5,)) * F.silu(x) - F.elu(x) + F.leaky_relu(x, 0.1) + F.hardswish(x) + F.softplus(x)
        f = F.log_softmax(x, dim=1).mean((2, 3)) + F.softmax(x, -1).amax(-1).sum(-1) + x.std(-1).logsumexp(-1)
        g = F.gelu(x, approximate="tanh").clamp(-0.5, 0.5) + ember.where(x > 0, x, x.exp() - 1) / (x.abs() + 2)
        r = self.gru(seq)[0].sum(1) + self.rnn(seq.transpose(0, 1))[1][0] + self.lstm(seq.transpose(0, 1))[0][-1, :, :5]
        h = self.up(x).mean((2, 3)) + F.max_pool1d(self.conv1d(seq), 2, ceil_mode=True).sum(-1)[:, :3]
        u = F.avg_pool1d(self.up1d(seq), 3, stride=2, padding=1)
        return a, b, c, d, e, f, g, r, h, u, F.max_pool2d(x, 2, padding=1), x[:, 0, None, 1:, 2]


@pytest.mark.parametrize("opset", [17, 18])
def test_rules_beyond_the_zoo_match_onnxruntime_with_a_dynamic_batch(opset):
    ember.manual_seed(1)
    model = _randomize(_Ops())
    inputs = lambda n: (ember.randn(n, 4, 6, 5), ember.randn(n, 7, 6))  # noqa: E731
    proto, sess = _exported(model, inputs(2), input_names=["x", "seq"], opset_version=opset,
                            dynamic_axes={"x": [0], "seq": {0: "x_dynamic_axes_1"}})
    assert proto.opset_import[0].version == opset
    for n in (2, 3):
        args = inputs(n)
        got, want = sess.run(None, {"x": args[0].numpy(), "seq": args[1].numpy()}), _outputs(model.eval(), *args)
        assert len(got) == len(want) == 12
        for g, w in zip(got, want):
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=0, atol=TOL * max(1.0, np.abs(w).max()))


# (id, function of x and y (float32 (2, 3, 4), y positive), the domain of x: "any", "pos" or "unit")
ELEMENTWISE = [
    ("neg_abs_sign", lambda x, y: -x + x.abs() * x.sign(), "any"),
    ("exp_expm1", lambda x, y: x.exp() + x.expm1(), "any"),
    ("logs", lambda x, y: x.log() + x.log2() + x.log10() + x.log1p(), "pos"),
    ("roots", lambda x, y: x.sqrt() + x.rsqrt() + x.reciprocal() + x.square(), "pos"),
    ("trig", lambda x, y: x.sin() + x.cos() + x.tan() + x.asin() + x.acos() + x.atan(), "unit"),
    ("hyperbolic", lambda x, y: x.sinh() + x.cosh() + x.tanh() + ember.erf(x) + x.sigmoid(), "any"),
    ("rounding", lambda x, y: (x * 3).floor() + (x * 3).ceil() + (x * 3).trunc() + (x * 3).round() +
     x.round(decimals=1), "any"),
    ("activations", lambda x, y: F.relu(x) + F.logsigmoid(x) + F.hardsigmoid(x) + F.selu(x) + F.celu(x, 0.5) +
     F.softplus(x, beta=2, threshold=1) + F.gelu(x) + F.relu6(x * 4), "any"),
    ("arith_numbers", lambda x, y: (x + 1) * 2 - 3 / y + 2 / y - (1 - x) + x ** 2 + y ** 0.7, "any"),
    ("arith_tensors", lambda x, y: x * y - x / y + y ** x + ember.maximum(x, y) - ember.minimum(x, -y), "any"),
    ("remainders", lambda x, y: ember.remainder(x * 3, y) + ember.fmod(x * 3, y) + (x * 4) % 1.5, "any"),
    ("comparisons", lambda x, y: ((x > 0) & (x <= y) | (x == x) ^ (x != y) | ~(x < -y) | (x >= 0.5)).to(
        ember.float32) + ember.isnan(x.log()).to(ember.float32), "any"),
    ("where_clamp", lambda x, y: ember.where(x > 0, x, y) + x.clamp(min=-0.5) + x.clamp(-y, y) +
     x.clamp(max=0.1), "any"),
    ("casts", lambda x, y: x.double().sum() + x.clone() + x.contiguous() + x.to(ember.int64).float(), "any"),
    ("reductions", lambda x, y: x.sum(1, keepdim=True) + x.mean((0, 2), keepdim=True) + x.amax(-1, True) +
     x.amin(0) + x.var(1, correction=0, keepdim=True) + x.std(-1, keepdim=True) + x.logsumexp(0), "any"),
    ("shapes", lambda x, y: (x.narrow(1, 1, 2).sum() + ember.stack(x.unbind(2), 2) +
     ember.cat(x.chunk(2, 2)[::-1], 2) + x[..., None, ::2].sum(-2).repeat_interleave(2, -1) +
     x.permute(0, 2, 1).mT + x[:, -1:, 1:].expand(2, 3, 3).sum(-1, keepdim=True) + x.flip((0, 2))), "any"),
    ("matmul", lambda x, y: x @ y.mT @ x + ember.matmul(x[0], y[0].mT) @ x[1], "any"),
]


@pytest.mark.parametrize("fn, domain", [pytest.param(f, d, id=i) for i, f, d in ELEMENTWISE])
def test_elementwise_shape_and_reduction_rules_match_onnxruntime(fn, domain):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 4))
    x = {"any": x, "pos": np.abs(x) + 0.1, "unit": np.tanh(x) * 0.9}[domain]
    x, y = ember.tensor(x.astype(np.float32)), ember.tensor(rng.uniform(0.5, 2, (2, 3, 4)).astype(np.float32))
    _, sess = _exported(fn, (x, y))
    want = fn(x, y).numpy()
    got = sess.run(None, {"x": x.numpy(), "y": y.numpy()})[0]
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_an_op_without_a_rule_is_named_with_the_opset(monkeypatch):
    monkeypatch.setattr(registry.get("Cumsum"), "onnx_rule", None)
    with pytest.raises(ember.onnx.UnsupportedOperatorError, match=r"op Cumsum has no ONNX rule \(opset 17\).*cumsum"):
        ember.onnx.export(lambda x: x.cumsum(0), (ember.randn(3),), io.BytesIO())


def test_a_size_that_follows_a_dynamic_axis_but_cannot_be_computed_is_an_error():
    model = zoo.gpt(vocab_size=20, block_size=16, n_embd=16, n_layer=1)  # positions: arange(seq_len), a constant
    with pytest.raises(ember.onnx.UnsupportedOperatorError, match="depends on the dynamic axes"):
        ember.onnx.export(model, (ember.randint(0, 20, (2, 5)),), io.BytesIO(), input_names=["idx"],
                          dynamic_axes={"idx": {1: "seq"}})


def test_without_dynamic_axes_the_shapes_are_fixed_and_file_objects_and_paths_are_written(tmp_path):
    model = zoo.mlp(in_features=6, hidden=(5,))
    path = tmp_path / "m.onnx"
    assert ember.onnx.export(model, ember.randn(2, 6), str(path)) is None
    with open(tmp_path / "f.onnx", "wb") as f:
        ember.onnx.export(model, (ember.randn(2, 6),), f)
    a, b = onnx.load(str(path)), onnx.load(str(tmp_path / "f.onnx"))
    assert a.graph.SerializeToString() == b.graph.SerializeToString()
    assert [d.dim_value for d in a.graph.input[0].type.tensor_type.shape.dim] == [2, 6]


def test_is_in_onnx_export_during_an_export_only_and_keyword_arguments():
    seen = []

    def fn(x, *, scale):
        seen.append(ember.onnx.is_in_onnx_export())
        return x * scale

    assert not ember.onnx.is_in_onnx_export()
    _, sess = _exported(fn, (ember.randn(2), {"scale": ember.tensor([3.0, 4.0])}))
    assert seen == [True] and not ember.onnx.is_in_onnx_export()
    assert [i.name for i in sess.get_inputs()] == ["x", "scale"]
    np.testing.assert_allclose(sess.run(None, {"x": np.ones(2, np.float32), "scale": np.full(2, 2, np.float32)})[0],
                               [2.0, 2.0])


def test_bad_arguments_are_refused():
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="opset_version must be an int from 17"):
        ember.onnx.export(model, (ember.randn(1, 2),), io.BytesIO(), opset_version=13)
    with pytest.raises(ValueError, match="dynamic_axes names 'z'"):
        ember.onnx.export(model, (ember.randn(1, 2),), io.BytesIO(), dynamic_axes={"z": [0]})


# --- ember export -------------------------------------------------------------------------------------------------
def test_cli_exports_a_zoo_model_and_a_trained_run(tmp_path):
    from test_cli import ok
    from ember import cli, config

    out = ok("export", "resnet20", "--input-shape", "3,16,16", "-o", tmp_path / "r.onnx")
    assert "exported zoo model resnet20 (initial weights)" in out
    onnx.checker.check_model(str(tmp_path / "r.onnx"), full_check=True)
    x = np.random.default_rng(0).standard_normal((3, 3, 16, 16)).astype(np.float32)
    assert _session(str(tmp_path / "r.onnx")).run(None, {"input": x})[0].shape == (3, 10)

    run_dir = tmp_path / "run"
    ok("train", "--set", "epochs=1", "--set", "data.limit=64", "--out", run_dir, "--quiet", "--no-plot")
    out = ok("export", run_dir, "--format", "onnx", "-o", tmp_path / "m.onnx")
    assert f"({run_dir / 'best.safetensors'}: best weights, epoch 1" in out
    cfg, src = cli._config(str(run_dir), [])
    model, _ = config.build_model(cfg, config.data_info(cfg), src)
    model.load_state_dict(ember.load(str(run_dir / "best.safetensors"))["model"])
    x = ember.randn(5, *config.data_info(cfg)["input_shape"])
    got = _session(str(tmp_path / "m.onnx")).run(None, {"input": x.numpy()})[0]
    np.testing.assert_allclose(got, _outputs(model.eval(), x)[0], rtol=0, atol=TOL)
    assert not os.path.exists(tmp_path / "bad.onnx")
    from test_cli import run
    rc, _, err = run("export", "resnet20", "--opset", "9", "-o", tmp_path / "bad.onnx")
    assert rc == 1 and "opset_version must be an int from 17" in err
