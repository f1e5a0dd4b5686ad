"""Standalone C export (ember.export.export_c, `ember export --format c`): the generated model.c/main.c compile
with -std=c99 -Wall -Werror, and the built program's outputs equal ember's (1e-4) for the zoo's mlp, lenet5,
resnet20 (batch norm with non-trivial statistics, folded into the convolutions) and gpt, in eval mode. Each model
is exported and compiled once (-O1), at batch 2."""
import os
import shutil
import subprocess

import numpy as np
import pytest

import ember
from ember import cli, nn, zoo
from ember.nn import functional as F
from ember.export import ExportError, build_c, export_c, run_c

pytestmark = pytest.mark.skipif(shutil.which("cc") is None or shutil.which("make") is None,
                                reason="needs a C compiler (cc) and make")

STRICT = "-O1 -std=c99 -Wall -Werror"


def _randomise_bn(model):
    """Batch norms with running statistics and affine parameters far from the defaults (so folding is tested)."""
    rng = np.random.default_rng(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean._data[...] = rng.standard_normal(c) * 0.1
            m.running_var._data[...] = rng.random(c) + 0.5
            m.weight._data[...] = rng.random(c) + 0.5
            m.bias._data[...] = rng.standard_normal(c) * 0.1


def _model_and_input(name):
    ember.manual_seed(0)
    rng = np.random.default_rng(0)
    if name == "gpt":  # the default gpt (2 layers, 4 heads, 128 wide) on 16 of its 64 positions
        return zoo.gpt(vocab_size=50), rng.integers(0, 50, (2, 16))
    model = zoo.get_model(name)
    if name == "resnet20":
        _randomise_bn(model)
    shape = (2, 3, 16, 16) if name == "resnet20" else (2, 1, 28, 28)  # resnet20 pools globally: any size works
    return model, rng.standard_normal(shape).astype(np.float32)


_BUILT = {}


def _built(name, tmp_path_factory):
    """(model, input array, CExport, build seconds) of a zoo model, exported and compiled once per session."""
    if name not in _BUILT:
        model, x = _model_and_input(name)
        directory = str(tmp_path_factory.mktemp(f"c_{name}"))
        result = export_c(model, ember.tensor(x), directory, description=name)
        _BUILT[name] = (model, x, result, build_c(directory, cflags=STRICT))
    return _BUILT[name]


@pytest.mark.parametrize("name", ["mlp", "lenet5", "resnet20", "gpt"])
def test_c_model_matches_ember(name, tmp_path_factory):
    model, x, result, _ = _built(name, tmp_path_factory)
    out, _ = run_c(result.directory, x)
    model.eval()
    with ember.no_grad():
        expected = model(ember.tensor(x))
    expected = (expected[0] if isinstance(expected, tuple) else expected).numpy()
    out = out.reshape(expected.shape)
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4 * scale)
    assert model.training is False  # left as it was (eval() above)
    assert result.arena <= result.intermediates
    assert set(result.files) <= set(os.listdir(result.directory))


def test_training_flags_are_restored_and_batch_norm_is_folded(tmp_path):
    model = zoo.resnet8()
    _randomise_bn(model)
    model.train()
    result = export_c(model, ember.randn(1, 3, 16, 16), str(tmp_path))
    assert model.training and all(m.training for m in model.modules())
    source = (tmp_path / "model.c").read_text()
    assert "em_channel_affine(" not in source  # every batch norm went into its convolution
    assert source.count("em_conv2d(") - 1 == 9  # the helper's definition, then one call per convolution
    assert result.arena < result.intermediates


def test_memory_plan_reuses_dead_arrays(tmp_path_factory):
    _, _, result, _ = _built("resnet20", tmp_path_factory)
    # resnet20 at batch 2: the largest array is 16x16x16 per image, and no step needs more than a few at once
    largest = 2 * 16 * 16 * 16
    assert largest <= result.arena <= 8 * largest
    assert result.intermediates > 5 * result.arena


def test_token_ids_outside_the_vocabulary_are_refused(tmp_path_factory):
    _, x, result, _ = _built("gpt", tmp_path_factory)
    bad = x.copy()
    bad[1, 3] = 50
    with pytest.raises(ExportError, match="outside the vocabulary"):
        run_c(result.directory, bad)
    with pytest.raises(ExportError, match="expected 32 float32 values"):
        run_c(result.directory, x[:1])


class _Mixed(nn.Module):
    """The ops the zoo models do not cover: a batch norm after pooling (not folded), padded max pooling,
    adaptive average pooling to 2x3, permute, a split along the last dim, layer norm, softmax and log_softmax."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.avg = nn.AdaptiveAvgPool2d((2, 3))
        self.fc = nn.Linear(12, 8)
        self.ln = nn.LayerNorm(8)

    def forward(self, x):
        h = self.avg(self.bn(self.pool(self.conv(x).relu())))  # (N, 4, 2, 3)
        a, b = h.permute(0, 2, 3, 1).split(2, dim=-1)            # (N, 2, 3, 2) each
        h = self.ln(self.fc((a * b.sigmoid()).flatten(1)))
        return h.log_softmax(-1) + h.softmax(-1)


def test_c_model_of_mixed_ops_matches_ember(tmp_path):
    model = _Mixed()
    _randomise_bn(model)
    x = np.random.default_rng(3).standard_normal((2, 3, 11, 9)).astype(np.float32)
    export_c(model, ember.tensor(x), str(tmp_path))
    assert "em_channel_affine(" in (tmp_path / "model.c").read_text()
    build_c(str(tmp_path), cflags=STRICT)
    out, _ = run_c(str(tmp_path), x)
    with ember.no_grad():
        expected = model.eval()(ember.tensor(x)).numpy()
    np.testing.assert_allclose(out.reshape(expected.shape), expected, rtol=1e-4, atol=1e-4)


class _Attention(nn.Module):
    """Attention the way gpt does not call it: with a boolean mask per batch element (one bias per group), a row
    masked out entirely (zeros, as PyTorch), 3-d heads, and a causal one whose queries are fewer than its keys."""

    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(8, 24)
        mask = np.ones((2, 1, 5, 5), bool)
        mask[0, 0, :, 3:] = False
        mask[1, 0, 2, :] = False
        self.register_buffer("mask", ember.tensor(mask))

    def forward(self, x):  # (2, 5, 8)
        q, k, v = self.qkv(x).split(8, dim=-1)
        q4, k4, v4 = (t.view(2, 5, 2, 4).transpose(1, 2) for t in (q, k, v))
        a = F.scaled_dot_product_attention(q4, k4, v4, attn_mask=self.mask).transpose(1, 2).reshape(2, 5, 8)
        b = F.scaled_dot_product_attention(q[:, :3], k, v, is_causal=True)  # (2, 3, 8), top-left aligned
        return a[:, :3] + b


def test_c_attention_masks_match_ember(tmp_path):
    model = _Attention()
    x = np.random.default_rng(4).standard_normal((2, 5, 8)).astype(np.float32)
    export_c(model, ember.tensor(x), str(tmp_path))
    build_c(str(tmp_path), cflags=STRICT)
    out, _ = run_c(str(tmp_path), x)
    with ember.no_grad():
        expected = model.eval()(ember.tensor(x)).numpy()
    assert np.abs(expected[1, 2]).max() > 0  # the fully masked row of a: zeros, b still adds to it
    np.testing.assert_allclose(out.reshape(expected.shape), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape, features, folded", [((3, 6), 5, True), ((2, 4, 6), 4, False)])
def test_batch_norm_after_linear_is_folded_only_over_its_features(tmp_path, shape, features, folded):
    model = nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(features))
    rng = np.random.default_rng(7)
    model[1].running_mean._data[...] = rng.standard_normal(features)
    model[1].running_var._data[...] = rng.random(features) + 0.5
    x = rng.standard_normal(shape).astype(np.float32)
    export_c(model, ember.tensor(x), str(tmp_path))
    assert ("\n    em_channel_affine(" in (tmp_path / "model.c").read_text()) != folded  # a call, not the helper
    build_c(str(tmp_path), cflags=STRICT)
    with ember.no_grad():
        expected = model.eval()(ember.tensor(x)).numpy()
    np.testing.assert_allclose(run_c(str(tmp_path), x)[0].reshape(expected.shape), expected, rtol=1e-4, atol=1e-5)


def test_op_without_a_c_form_is_named(tmp_path):
    model = nn.Sequential(nn.Linear(4, 4), nn.Softplus())
    with pytest.raises(ExportError, match="Softplus"):
        export_c(model, ember.randn(2, 4), str(tmp_path))


def test_cli_export_c_builds_with_the_makefile(tmp_path, capsys):
    out = tmp_path / "lenet"
    ember.manual_seed(5)
    assert cli.main(["export", "lenet5", "--format", "c", "-o", str(out), "--batch", "3"]) == 0
    assert "arena" in capsys.readouterr().out
    assert {"model.c", "model.h", "main.c", "Makefile", "weights.bin"} <= set(os.listdir(out))
    subprocess.run(["make", "-s", "-C", str(out), "OPT=-O1"], check=True, capture_output=True)
    x = np.random.default_rng(2).standard_normal((3, 1, 28, 28)).astype(np.float32)
    y, _ = run_c(str(out), x)
    ember.manual_seed(5)  # the same weights as the command's model
    with ember.no_grad():
        expected = zoo.lenet5().eval()(ember.tensor(x)).numpy()
    np.testing.assert_allclose(y.reshape(3, 10), expected, rtol=1e-4, atol=1e-4)
    header = (out / "model.h").read_text()
    assert "#define MODEL_IN_SIZE 2352" in header and "#define MODEL_OUT_SIZE 30" in header


def test_reshape_of_strided_views_follows_numpy():
    """A reshape of a permuted or sliced array is a view exactly when NumPy's is, with NumPy's strides."""
    from ember.export.c_lower import reshaped_strides
    rng = np.random.default_rng(5)
    base = np.arange(2 * 3 * 4 * 6, dtype=np.float32).reshape(2, 3, 4, 6)
    views = 0
    for _ in range(300):
        a = base.transpose(rng.permutation(4))
        if rng.random() < 0.5:  # a slice of it
            a = a[tuple(slice(0, int(rng.integers(1, n + 1))) for n in a.shape)]
        new = [d for n in a.shape for d in ([n] if rng.random() < 0.7 else [1, n])]
        if len(new) > 1 and rng.random() < 0.7:  # two neighbours merged
            i = int(rng.integers(0, len(new) - 1))
            new[i:i + 2] = [new[i] * new[i + 1]]
        if rng.random() < 0.2:
            new = rng.permutation(new).tolist()
        try:
            expected = np.reshape(a, new, copy=False)
        except ValueError:
            expected = None
        got = reshaped_strides(a.shape, [s // 4 for s in a.strides], new)
        if expected is None:
            assert got is None
        else:
            assert got is not None
            assert all(n == 1 or g * 4 == s for n, g, s in zip(new, got, expected.strides)), (a.shape, a.strides, new)
            views += not a.flags.c_contiguous
    assert views > 20  # strided arrays that reshape without a copy were tried


def test_cli_export_of_a_run_directory_uses_its_best_weights(tmp_path, capsys):
    run, out = tmp_path / "run", tmp_path / "c"
    assert cli.main(["train", "--set", "epochs=1", "--out", str(run), "--quiet", "--no-plot"]) == 0
    assert cli.main(["export", str(run), "--format", "c", "-o", str(out), "--batch", "2"]) == 0
    build_c(str(out), cflags=STRICT)
    x = np.random.default_rng(6).random((2, 1, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    assert cli.main(["predict", str(run), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")]) == 0
    y, _ = run_c(str(out), x)
    np.testing.assert_allclose(y.reshape(2, -1), np.load(tmp_path / "y.npy"), rtol=1e-4, atol=1e-4)
