"""ember.zoo: every model builds, runs forward/backward with the right shapes, has torchvision's / nanoGPT's
state_dict keys, and computes the same outputs as a PyTorch model of the same layout loaded with the same weights.

torchvision does not import beside the installed torch, so the PyTorch references are written here by hand with
torchvision's module names (an independent implementation: a naming or wiring mistake on either side fails)."""
import math
from collections import OrderedDict

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember import zoo


# ---------------------------------------------------------------------------------------------------------------
# helpers

def _keys(model):
    return list(model.state_dict().keys())


def _count(model):
    return sum(p.numel() for p in model.parameters())


def _to_ember_sd(tmodel):
    return {k: ember.tensor(v.detach().numpy().copy()) for k, v in tmodel.state_dict().items()}


def _randomise_bn(torch, tmodel):
    """Non-trivial BN statistics and affine parameters, so eval-mode comparisons test them."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in tmodel.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)


def _assert_close(a, b, tol=1e-4):
    a = a.detach().numpy() if isinstance(a, ember.Tensor) else a
    b = b.detach().numpy() if hasattr(b, "detach") else b
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = max(1.0, float(np.abs(b).max()))
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * scale)


def _eval_outputs(torch, m, ref, seed, shape):
    """m (switched to eval mode) and ref on the same random float32 input, without autograd."""
    m.eval()
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    with ember.no_grad():
        out = m(ember.tensor(x))
    with torch.no_grad():
        expected = ref(torch.tensor(x))
    return out, expected


def _backward_reaches_all(model, out):
    """Backward from out reaches every parameter."""
    out.pow(2).mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, missing


# ---------------------------------------------------------------------------------------------------------------
# PyTorch references with torchvision's / nanoGPT's names

def _torch_resnet(torch, kind, layers, num_classes=1000):
    """torchvision.models.ResNet (kind 'basic' or 'bottleneck'), or a CIFAR ResNet (kind 'cifar')."""
    tnn = torch.nn

    class Basic(tnn.Module):
        expansion = 1

        def __init__(self, inp, planes, stride, down):
            super().__init__()
            self.conv1 = tnn.Conv2d(inp, planes, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(planes)
            self.relu = tnn.ReLU(inplace=True)
            self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(planes)
            self.downsample = down

        def forward(self, x):
            out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            return self.relu(out + (x if self.downsample is None else self.downsample(x)))

    class Bottle(tnn.Module):
        expansion = 4

        def __init__(self, inp, planes, stride, down):
            super().__init__()
            self.conv1 = tnn.Conv2d(inp, planes, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(planes)
            self.conv2 = tnn.Conv2d(planes, planes, 3, stride, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(planes)
            self.conv3 = tnn.Conv2d(planes, planes * 4, 1, bias=False)
            self.bn3 = tnn.BatchNorm2d(planes * 4)
            self.relu = tnn.ReLU(inplace=True)
            self.downsample = down

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn3(self.conv3(self.relu(self.bn2(self.conv2(out)))))
            return self.relu(out + (x if self.downsample is None else self.downsample(x)))

    block = Bottle if kind == "bottleneck" else Basic
    widths = (16, 32, 64) if kind == "cifar" else (64, 128, 256, 512)

    class Net(tnn.Module):
        def __init__(self):
            super().__init__()
            self.inplanes = widths[0]
            if kind == "cifar":
                self.conv1 = tnn.Conv2d(3, 16, 3, 1, 1, bias=False)
            else:
                self.conv1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = tnn.BatchNorm2d(widths[0])
            self.relu = tnn.ReLU(inplace=True)
            if kind != "cifar":
                self.maxpool = tnn.MaxPool2d(3, 2, 1)
            for i, (w, n) in enumerate(zip(widths, layers)):
                setattr(self, f"layer{i + 1}", self._layer(w, n, 1 if i == 0 else 2))
            self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
            self.fc = tnn.Linear(widths[-1] * block.expansion, num_classes)

        def _layer(self, planes, n, stride):
            down = None
            if stride != 1 or self.inplanes != planes * block.expansion:
                down = tnn.Sequential(tnn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                                      tnn.BatchNorm2d(planes * block.expansion))
            blocks = [block(self.inplanes, planes, stride, down)]
            self.inplanes = planes * block.expansion
            blocks += [block(self.inplanes, planes, 1, None) for _ in range(1, n)]
            return tnn.Sequential(*blocks)

        def forward(self, x):
            x = self.relu(self.bn1(self.conv1(x)))
            if kind != "cifar":
                x = self.maxpool(x)
            for i in range(len(widths)):
                x = getattr(self, f"layer{i + 1}")(x)
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return Net()


def _torch_mobilenet_v2(torch, num_classes=1000):
    """torchvision.models.MobileNetV2 (width 1.0)."""
    tnn = torch.nn

    def cbr(i, o, k=3, s=1, g=1):
        return tnn.Sequential(tnn.Conv2d(i, o, k, s, (k - 1) // 2, groups=g, bias=False), tnn.BatchNorm2d(o),
                              tnn.ReLU6(inplace=True))

    class IR(tnn.Module):
        def __init__(self, i, o, s, t):
            super().__init__()
            h = i * t
            layers = ([cbr(i, h, 1)] if t != 1 else []) + [cbr(h, h, 3, s, h), tnn.Conv2d(h, o, 1, bias=False),
                                                           tnn.BatchNorm2d(o)]
            self.conv = tnn.Sequential(*layers)
            self.res = s == 1 and i == o

        def forward(self, x):
            return x + self.conv(x) if self.res else self.conv(x)

    class Net(tnn.Module):
        def __init__(self):
            super().__init__()
            feats, c_in = [cbr(3, 32, 3, 2)], 32
            for t, c, n, s in [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1],
                               [6, 160, 3, 2], [6, 320, 1, 1]]:
                for i in range(n):
                    feats.append(IR(c_in, c, s if i == 0 else 1, t))
                    c_in = c
            feats.append(cbr(c_in, 1280, 1))
            self.features = tnn.Sequential(*feats)
            self.classifier = tnn.Sequential(tnn.Dropout(0.2), tnn.Linear(1280, num_classes))

        def forward(self, x):
            x = torch.nn.functional.adaptive_avg_pool2d(self.features(x), (1, 1))
            return self.classifier(torch.flatten(x, 1))

    return Net()


def _torch_gpt(torch, vocab, block_size, n_layer, n_head, n_embd):
    """nanoGPT's GPT (no dropout, bias=True)."""
    tnn, F = torch.nn, torch.nn.functional

    class Attn(tnn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = tnn.Linear(n_embd, 3 * n_embd)
            self.c_proj = tnn.Linear(n_embd, n_embd)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = (t.view(B, T, n_head, C // n_head).transpose(1, 2) for t in self.c_attn(x).split(n_embd, 2))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))

    class MLP(tnn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc = tnn.Linear(n_embd, 4 * n_embd)
            self.gelu = tnn.GELU()
            self.c_proj = tnn.Linear(4 * n_embd, n_embd)

        def forward(self, x):
            return self.c_proj(self.gelu(self.c_fc(x)))

    class Block(tnn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.attn, self.ln_2, self.mlp = tnn.LayerNorm(n_embd), Attn(), tnn.LayerNorm(n_embd), MLP()

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(tnn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = tnn.ModuleDict(dict(
                wte=tnn.Embedding(vocab, n_embd), wpe=tnn.Embedding(block_size, n_embd), drop=tnn.Dropout(0.0),
                h=tnn.ModuleList([Block() for _ in range(n_layer)]), ln_f=tnn.LayerNorm(n_embd)))
            self.lm_head = tnn.Linear(n_embd, vocab, bias=False)
            self.transformer.wte.weight = self.lm_head.weight

        def forward(self, idx, targets):
            pos = torch.arange(idx.shape[1])
            x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
            for b in self.transformer.h:
                x = b(x)
            logits = self.lm_head(self.transformer.ln_f(x))
            return logits, F.cross_entropy(logits.view(-1, vocab), targets.view(-1), ignore_index=-1)

    return GPT()


def _torch_vit(torch, image_size, patch, layers, heads, dim, mlp_dim, num_classes, in_channels=3):
    """torchvision.models.VisionTransformer's module layout and forward."""
    tnn = torch.nn

    class Block(tnn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = tnn.LayerNorm(dim, eps=1e-6)
            self.self_attention = tnn.MultiheadAttention(dim, heads, batch_first=True)
            self.dropout = tnn.Dropout(0.0)
            self.ln_2 = tnn.LayerNorm(dim, eps=1e-6)
            self.mlp = tnn.Sequential(tnn.Linear(dim, mlp_dim), tnn.GELU(), tnn.Dropout(0.0), tnn.Linear(mlp_dim, dim),
                                      tnn.Dropout(0.0))

        def forward(self, inp):
            x = self.ln_1(inp)
            x, _ = self.self_attention(x, x, x, need_weights=False)
            x = self.dropout(x) + inp
            return x + self.mlp(self.ln_2(x))

    class Enc(tnn.Module):
        def __init__(self, seq):
            super().__init__()
            self.pos_embedding = tnn.Parameter(torch.randn(1, seq, dim) * 0.02)
            self.dropout = tnn.Dropout(0.0)
            self.layers = tnn.Sequential(OrderedDict((f"encoder_layer_{i}", Block()) for i in range(layers)))
            self.ln = tnn.LayerNorm(dim, eps=1e-6)

        def forward(self, x):
            return self.ln(self.layers(self.dropout(x + self.pos_embedding)))

    class ViT(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv_proj = tnn.Conv2d(in_channels, dim, patch, patch)
            self.class_token = tnn.Parameter(torch.randn(1, 1, dim))
            self.encoder = Enc((image_size // patch) ** 2 + 1)
            self.heads = tnn.Sequential(OrderedDict(head=tnn.Linear(dim, num_classes)))

        def forward(self, x):
            n = x.shape[0]
            x = self.conv_proj(x).reshape(n, dim, -1).permute(0, 2, 1)
            x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1)
            return self.heads(self.encoder(x)[:, 0])

    return ViT()


# ---------------------------------------------------------------------------------------------------------------
# registry

def test_registry_lists_and_builds_models():
    names = zoo.list_models()
    assert names == sorted(names)
    for n in ["mlp", "lenet5", "resnet18", "resnet20", "resnet34", "resnet50", "vgg11_bn", "mobilenet_v2",
              "lstm_classifier", "gpt", "vit"]:
        assert n in names
    m = zoo.get_model("MLP", hidden=(8,), in_features=4, num_classes=3)
    assert isinstance(m, nn.Sequential) and m(ember.randn(2, 4)).shape == (2, 3)
    with pytest.raises(ValueError, match="get_model: unknown model 'resnet9000'.*resnet18"):
        zoo.get_model("resnet9000")


def test_every_builder_takes_torchvision_weights_none_and_refuses_pretrained():
    import inspect
    for name in zoo.list_models():
        params = inspect.signature(getattr(zoo, name)).parameters
        assert params["weights"].default is None and params["weights"].kind is inspect.Parameter.KEYWORD_ONLY
        assert params["progress"].default is True
    m = zoo.resnet18(weights=None, progress=False, num_classes=3)
    assert m.fc.out_features == 3
    assert zoo.get_model("lenet5", weights=None)(ember.randn(1, 1, 28, 28)).shape == (1, 10)
    for weights in ["DEFAULT", "IMAGENET1K_V1", True]:
        with pytest.raises(ValueError, match=r"resnet50: ember has no pretrained weights \(got weights="
                                             + repr(weights).replace("'", ".") + r"\); build with weights=None"):
            zoo.get_model("resnet50", weights=weights)


def test_register_model_rejects_a_clashing_name():
    with pytest.raises(ValueError, match="already registered"):
        zoo.register_model("mlp")(lambda: None)


# ---------------------------------------------------------------------------------------------------------------
# MLP and LeNet-5

def test_mlp_layout_shapes_and_backward():
    m = zoo.mlp(in_features=20, hidden=(16, 8), num_classes=5, dropout=0.1)
    assert _keys(m) == ["1.weight", "1.bias", "4.weight", "4.bias", "7.weight", "7.bias"]
    assert _count(m) == (20 * 16 + 16) + (16 * 8 + 8) + (8 * 5 + 5)
    out = m(ember.randn(3, 4, 5))  # flattened to (3, 20)
    assert out.shape == (3, 5)
    _backward_reaches_all(m, out)
    assert zoo.mlp().state_dict()["1.weight"].shape == (512, 784)


def test_lenet5_matches_torch(torch):
    tnn = torch.nn
    ref = tnn.ModuleDict(dict(
        features=tnn.Sequential(tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Conv2d(6, 16, 5),
                                tnn.ReLU(), tnn.MaxPool2d(2)),
        classifier=tnn.Sequential(tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(),
                                  tnn.Linear(84, 10))))
    m = zoo.lenet5()
    assert _keys(m) == list(ref.state_dict().keys())
    m.load_state_dict(_to_ember_sd(ref))
    x = np.random.default_rng(0).standard_normal((4, 1, 28, 28)).astype(np.float32)
    out = m(ember.tensor(x))
    expected = ref["classifier"](torch.flatten(ref["features"](torch.tensor(x)), 1))
    _assert_close(out, expected, 1e-5)
    _backward_reaches_all(m, out)
    assert zoo.lenet5(num_classes=3, in_channels=3)(ember.randn(2, 3, 28, 28)).shape == (2, 3)


# ---------------------------------------------------------------------------------------------------------------
# ResNets

def test_resnet18_loads_torch_safetensors_and_matches_logits(tmp_path, torch):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    torch.manual_seed(0)
    ref = _torch_resnet(torch, "basic", [2, 2, 2, 2]).eval()
    _randomise_bn(torch, ref)
    m = zoo.resnet18()
    assert _keys(m) == list(ref.state_dict().keys())
    assert [tuple(v.shape) for v in m.state_dict().values()] == [tuple(v.shape) for v in ref.state_dict().values()]
    assert _count(m) == sum(p.numel() for p in ref.parameters()) == 11689512
    path = tmp_path / "resnet18.safetensors"
    safetensors_torch.save_file(ref.state_dict(), str(path))
    result = m.load_state_dict(ember.load(path))
    assert not result.missing_keys and not result.unexpected_keys
    out, expected = _eval_outputs(torch, m, ref, 1, (2, 3, 32, 32))
    assert out.shape == (2, 1000)
    _assert_close(out, expected, 1e-4)


def test_resnet18_training_step_matches_torch(torch):
    torch.manual_seed(0)
    # float64: in training mode layer4's BatchNorm sees only 2 values per channel, which amplifies float32 rounding
    ref = _torch_resnet(torch, "basic", [2, 2, 2, 2], num_classes=10).double()
    m = zoo.resnet18(num_classes=10).double()
    m.load_state_dict(_to_ember_sd(ref))
    x = np.random.default_rng(2).standard_normal((2, 3, 32, 32))
    y = np.array([3, 7])
    out = m(ember.tensor(x))
    loss = nn.functional.cross_entropy(out, ember.tensor(y))
    loss.backward()
    t_out = ref(torch.tensor(x))
    t_loss = torch.nn.functional.cross_entropy(t_out, torch.tensor(y))
    t_loss.backward()
    _assert_close(out, t_out, 1e-7)
    for name in ["conv1.weight", "layer2.0.downsample.0.weight", "layer4.1.bn2.weight", "fc.weight"]:
        _assert_close(dict(m.named_parameters())[name].grad, dict(ref.named_parameters())[name].grad, 1e-6)
    _assert_close(m.layer1[0].bn1.running_var, ref.layer1[0].bn1.running_var, 1e-7)
    assert int(m.bn1.num_batches_tracked.item()) == 1


def test_resnet50_matches_torch_in_eval_mode(torch):
    torch.manual_seed(0)
    ref = _torch_resnet(torch, "bottleneck", [3, 4, 6, 3]).eval()
    _randomise_bn(torch, ref)
    m = zoo.resnet50()
    assert _keys(m) == list(ref.state_dict().keys())
    assert _count(m) == sum(p.numel() for p in ref.parameters()) == 25557032
    m.load_state_dict(_to_ember_sd(ref))
    out, expected = _eval_outputs(torch, m, ref, 3, (1, 3, 32, 32))
    _assert_close(out, expected, 1e-4)


def test_resnet_keys_follow_torchvision_naming():
    """Spot checks written from torchvision's layout, independent of any reference model."""
    keys50 = set(_keys(zoo.ResNet(zoo.Bottleneck, [1, 1, 1, 1], num_classes=7)))
    for k in ["conv1.weight", "bn1.running_mean", "bn1.num_batches_tracked", "layer1.0.conv3.weight",
              "layer1.0.bn3.bias", "layer1.0.downsample.0.weight", "layer1.0.downsample.1.running_var",
              "layer4.0.downsample.1.weight", "fc.weight", "fc.bias"]:
        assert k in keys50
    keys18 = set(_keys(zoo.resnet18(num_classes=7)))
    assert "layer1.0.downsample.0.weight" not in keys18 and "layer2.0.downsample.0.weight" in keys18
    assert not any("conv3" in k for k in keys18)


def test_resnet_init_and_zero_init_residual():
    m = zoo.ResNet(zoo.Bottleneck, [1, 1, 1, 1], num_classes=4, zero_init_residual=True)
    w = m.layer4[0].conv2.weight.detach().numpy()  # (512, 512, 3, 3): fan_out = 512 * 9
    assert abs(w.std() - math.sqrt(2 / (512 * 9))) < 0.02 * math.sqrt(2 / (512 * 9))
    assert abs(w.mean()) < 1e-3
    assert np.all(m.bn1.weight.detach().numpy() == 1) and np.all(m.bn1.bias.detach().numpy() == 0)
    assert np.all(m.layer2[0].bn3.weight.detach().numpy() == 0) and np.all(m.layer2[0].bn2.weight.detach().numpy() == 1)
    b = zoo.resnet20(zero_init_residual=True)
    assert np.all(b.layer1[0].bn2.weight.detach().numpy() == 0) and np.all(b.layer1[0].bn1.weight.detach().numpy() == 1)
    assert np.all(zoo.resnet20().layer1[0].bn2.weight.detach().numpy() == 1)


def test_resnet20_cifar_layout_backward_and_torch_match(torch):
    m = zoo.resnet20()
    keys = _keys(m)
    assert sum(k.endswith("conv2.weight") for k in keys) == 9  # 3 stages x 3 BasicBlocks
    assert "maxpool" not in str(m) and "layer4" not in str(keys)
    # the classic option-A ResNet-20 has 269,722 parameters; option B adds two 1x1 conv + BN shortcuts
    assert _count(m) == 269722 + (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)
    ref = _torch_resnet(torch, "cifar", [3, 3, 3], num_classes=10)
    assert keys == list(ref.state_dict().keys())
    m.load_state_dict(_to_ember_sd(ref))
    x = np.random.default_rng(4).standard_normal((2, 3, 32, 32)).astype(np.float32)
    out = m(ember.tensor(x))
    assert out.shape == (2, 10)
    _assert_close(out, ref(torch.tensor(x)), 1e-4)
    _backward_reaches_all(m, out)


def test_cifar_resnet_depth_is_checked():
    with pytest.raises(ValueError, match="depth must be 6n\\+2"):
        zoo.CifarResNet(depth=21)
    assert zoo.resnet8()(ember.randn(2, 3, 32, 32)).shape == (2, 10)


# ---------------------------------------------------------------------------------------------------------------
# VGG and MobileNetV2

def _vgg11_bn_keys():
    """torchvision's vgg11_bn state_dict keys (conv/bn pairs at these `features` indices; classifier 0, 3, 6)."""
    keys = []
    for conv in [0, 4, 8, 11, 15, 18, 22, 25]:
        keys += [f"features.{conv}.weight", f"features.{conv}.bias"]
        keys += [f"features.{conv + 1}.{s}" for s in ("weight", "bias", "running_mean", "running_var",
                                                      "num_batches_tracked")]
    return keys + [f"classifier.{i}.{s}" for i in (0, 3, 6) for s in ("weight", "bias")]


def test_vgg11_bn_layout_forward_and_backward():
    m = zoo.vgg11_bn(init_weights=False)  # (the 133M-parameter model takes seconds to initialise)
    assert _keys(m) == _vgg11_bn_keys()
    assert _count(m) == 132868840  # torchvision's documented count
    assert isinstance(m.features[28], nn.MaxPool2d) and len(m.features) == 29
    assert m.avgpool.output_size == (7, 7) and m.classifier[6].weight.shape == (1000, 4096)
    m.eval()
    out = m(ember.randn(1, 3, 32, 32))
    assert out.shape == (1, 1000) and np.isfinite(out.detach().numpy()).all()
    _backward_reaches_all(m, out)


def test_vgg_features_without_batch_norm():
    features = zoo.vgg.make_layers(zoo.vgg.CFGS["A"], batch_norm=False)
    convs = [0, 3, 6, 8, 11, 13, 16, 18]  # torchvision's vgg11 conv indices
    assert _keys(features) == [f"{i}.{s}" for i in convs for s in ("weight", "bias")]
    assert features(ember.randn(1, 3, 32, 32)).shape == (1, 512, 1, 1)


def _mobilenet_v2_keys():
    """torchvision's mobilenet_v2 state_dict keys."""
    bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    keys = ["features.0.0.weight"] + [f"features.0.1.{s}" for s in bn]
    keys += ["features.1.conv.0.0.weight"] + [f"features.1.conv.0.1.{s}" for s in bn]
    keys += ["features.1.conv.1.weight"] + [f"features.1.conv.2.{s}" for s in bn]
    for i in range(2, 18):
        p = f"features.{i}.conv"
        keys += [f"{p}.0.0.weight"] + [f"{p}.0.1.{s}" for s in bn]
        keys += [f"{p}.1.0.weight"] + [f"{p}.1.1.{s}" for s in bn]
        keys += [f"{p}.2.weight"] + [f"{p}.3.{s}" for s in bn]
    keys += ["features.18.0.weight"] + [f"features.18.1.{s}" for s in bn]
    return keys + ["classifier.1.weight", "classifier.1.bias"]


def test_mobilenet_v2_layout_and_torch_match(torch):
    m = zoo.mobilenet_v2()
    assert _keys(m) == _mobilenet_v2_keys()
    assert _count(m) == 3504872  # torchvision's documented count
    torch.manual_seed(0)
    ref = _torch_mobilenet_v2(torch).eval()
    _randomise_bn(torch, ref)
    assert _keys(m) == list(ref.state_dict().keys())
    m.load_state_dict(_to_ember_sd(ref))
    out, expected = _eval_outputs(torch, m, ref, 5, (2, 3, 32, 32))
    _assert_close(out, expected, 1e-4)


def test_mobilenet_v2_backward_and_width_mult():
    m = zoo.mobilenet_v2(num_classes=5, width_mult=0.5)
    assert m.features[0][0].out_channels == 16 and m.last_channel == 1280
    out = m(ember.randn(2, 3, 32, 32))
    assert out.shape == (2, 5)
    _backward_reaches_all(m, out)


# ---------------------------------------------------------------------------------------------------------------
# LSTM classifier

@pytest.mark.parametrize("bidirectional,num_layers", [(False, 1), (True, 2)])
def test_lstm_classifier_matches_torch(bidirectional, num_layers, torch):
    m = zoo.lstm_classifier(50, embed_dim=8, hidden_size=12, num_layers=num_layers, num_classes=3,
                            bidirectional=bidirectional)
    emb, lstm = torch.nn.Embedding(50, 8), torch.nn.LSTM(8, 12, num_layers, batch_first=True,
                                                         bidirectional=bidirectional)
    fc = torch.nn.Linear(12 * (2 if bidirectional else 1), 3)
    ref = torch.nn.ModuleDict(dict(embedding=emb, lstm=lstm, fc=fc))
    assert set(_keys(m)) == set(ref.state_dict().keys())
    m.load_state_dict(_to_ember_sd(ref))
    tokens = np.random.default_rng(6).integers(0, 50, size=(4, 7))
    out = m(ember.tensor(tokens))
    _, (h, _) = lstm(emb(torch.tensor(tokens)))
    expected = fc(torch.cat([h[-2], h[-1]], 1) if bidirectional else h[-1])
    assert out.shape == (4, 3)
    _assert_close(out, expected, 1e-5)
    _backward_reaches_all(m, out)


def test_lstm_classifier_rejects_bad_input():
    with pytest.raises(ValueError, match="LSTMClassifier: expected \\(batch, seq_len\\).*\\(3,\\)"):
        zoo.lstm_classifier(10)(ember.tensor([1, 2, 3]))


# ---------------------------------------------------------------------------------------------------------------
# GPT

def _small_gpt(**kw):
    args = dict(vocab_size=37, block_size=16, n_layer=2, n_head=4, n_embd=32)
    args.update(kw)
    return zoo.gpt(**args)


def test_gpt_matches_nanogpt_logits_loss_and_grads(torch):
    torch.manual_seed(0)
    ref = _torch_gpt(torch, 37, 16, 2, 4, 32)
    m = _small_gpt()
    assert _keys(m) == list(ref.state_dict().keys())
    assert _count(m) == sum(p.numel() for p in ref.parameters())
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in ref.named_parameters()]
    m.load_state_dict(_to_ember_sd(ref))
    rng = np.random.default_rng(7)
    idx, targets = rng.integers(0, 37, size=(3, 10)), rng.integers(0, 37, size=(3, 10))
    targets[0, :4] = -1  # ignored positions
    logits, loss = m(ember.tensor(idx), ember.tensor(targets))
    t_logits, t_loss = ref(torch.tensor(idx), torch.tensor(targets))
    assert logits.shape == (3, 10, 37) and loss.shape == ()
    _assert_close(logits, t_logits, 1e-4)
    _assert_close(loss, t_loss, 1e-4)
    loss.backward()
    t_loss.backward()
    for name in ["transformer.wte.weight", "transformer.wpe.weight", "transformer.h.0.attn.c_attn.weight",
                 "transformer.h.1.mlp.c_proj.bias", "transformer.ln_f.weight"]:
        _assert_close(dict(m.named_parameters())[name].grad, dict(ref.named_parameters())[name].grad, 1e-3)
    logits, none = m(ember.tensor(idx))
    assert none is None and logits.shape == (3, 10, 37)


def test_gpt_init_follows_nanogpt():
    m = zoo.gpt(vocab_size=500, block_size=64, n_layer=4, n_head=4, n_embd=128)
    std = lambda t: float(t.detach().numpy().std())  # noqa: E731
    assert abs(std(m.transformer.wte.weight) - 0.02) < 0.002
    assert abs(std(m.transformer.h[0].attn.c_attn.weight) - 0.02) < 0.002
    assert abs(std(m.transformer.h[0].mlp.c_proj.weight) - 0.02 / math.sqrt(8)) < 0.001
    assert abs(std(m.transformer.h[3].attn.c_proj.weight) - 0.02 / math.sqrt(8)) < 0.001
    assert np.all(m.transformer.h[0].attn.c_attn.bias.detach().numpy() == 0)
    assert m.get_num_params() == _count(m) - 64 * 128
    assert math.isclose(float(m(ember.randint(0, 500, (2, 8)), ember.randint(0, 500, (2, 8)))[1].item()),
                        math.log(500), rel_tol=0.05)  # near-uniform predictions at init


def test_gpt_weight_tying_survives_state_dict_round_trip(tmp_path):
    m = _small_gpt()
    assert m.lm_head.weight is m.transformer.wte.weight
    params = list(m.parameters())
    assert sum(p is m.lm_head.weight for p in params) == 1
    assert len(params) == len({id(p) for p in params})
    sd = m.state_dict()
    assert "lm_head.weight" in sd and "transformer.wte.weight" in sd
    other = _small_gpt()
    path = tmp_path / "gpt.safetensors"
    ember.save(sd, path)
    other.load_state_dict(ember.load(path))
    assert other.lm_head.weight is other.transformer.wte.weight
    np.testing.assert_array_equal(other.lm_head.weight.detach().numpy(), m.lm_head.weight.detach().numpy())
    idx = ember.randint(0, 37, (2, 5))
    _assert_close(other(idx)[0], m(idx)[0].detach().numpy(), 1e-6)
    # the tie is one parameter: an update through one name is seen through the other
    with ember.no_grad():
        other.lm_head.weight.mul_(2)
    np.testing.assert_array_equal(other.transformer.wte.weight.detach().numpy(), 2 * m.lm_head.weight.detach().numpy())


def test_gpt_generate_produces_valid_tokens_and_crops_context():
    m = _small_gpt(block_size=8).eval()
    prompt = ember.randint(0, 37, (2, 3))
    out = m.generate(prompt, max_new_tokens=12)  # runs past block_size: the context is cropped
    assert out.shape == (2, 15) and out.dtype == ember.int64 and not out.requires_grad
    ids = out.numpy()
    assert ids.min() >= 0 and ids.max() < 37
    np.testing.assert_array_equal(ids[:, :3], prompt.numpy())
    greedy = m.generate(prompt, 6, temperature=0)
    np.testing.assert_array_equal(m.generate(prompt, 6, top_k=1).numpy(), greedy.numpy())
    # greedy decoding picks each step's argmax of the forward logits
    logits, _ = m(greedy[:, :-1])
    np.testing.assert_array_equal(logits.detach().numpy()[:, -1].argmax(-1), greedy.numpy()[:, -1])
    sampled = m.generate(prompt, 20, temperature=1.5, top_k=5).numpy()
    assert sampled.min() >= 0 and sampled.max() < 37


def test_gpt_errors():
    m = _small_gpt(block_size=4)
    with pytest.raises(ValueError, match="GPT: cannot forward a sequence of length 5, block size is only 4"):
        m(ember.randint(0, 37, (1, 5)))
    with pytest.raises(ValueError, match="n_embd \\(30\\) must be divisible by n_head \\(4\\)"):
        zoo.gpt(10, n_embd=30, n_head=4)
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        m.generate(ember.randint(0, 37, (1, 2)), 1, temperature=-1.0)


def test_gpt_without_bias_and_with_dropout_trains():
    m = _small_gpt(bias=False, dropout=0.1)
    assert m.transformer.ln_f.bias is None and m.transformer.h[0].attn.c_attn.bias is None
    idx = ember.randint(0, 37, (2, 16))
    _, loss = m(idx, idx)
    loss.backward()
    assert all(p.grad is not None for p in m.parameters())
    opt = m.configure_optimizers(weight_decay=0.1, learning_rate=1e-3)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.0]
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(m.parameters()))


# ---------------------------------------------------------------------------------------------------------------
# ViT

def test_vit_matches_torchvision_layout_and_torch_outputs(torch):
    torch.manual_seed(0)
    ref = _torch_vit(torch, 32, 4, 2, 4, 64, 128, 10)
    m = zoo.vit()
    assert _keys(m) == list(ref.state_dict().keys())
    assert "encoder.layers.encoder_layer_1.self_attention.in_proj_weight" in _keys(m)
    assert _count(m) == sum(p.numel() for p in ref.parameters())
    m.load_state_dict(_to_ember_sd(ref))
    x = np.random.default_rng(8).standard_normal((2, 3, 32, 32)).astype(np.float32)
    out = m(ember.tensor(x))
    expected = ref(torch.tensor(x))
    assert out.shape == (2, 10)
    _assert_close(out, expected, 1e-4)
    out.sum().backward()
    expected.sum().backward()
    for name in ["class_token", "encoder.pos_embedding", "conv_proj.weight",
                 "encoder.layers.encoder_layer_0.self_attention.in_proj_weight"]:
        _assert_close(dict(m.named_parameters())[name].grad, dict(ref.named_parameters())[name].grad, 1e-3)


def test_vit_init_and_errors():
    m = zoo.vit(num_classes=5, dim=32, heads=2, mlp_dim=64)
    assert np.all(m.heads.head.weight.detach().numpy() == 0) and np.all(m.class_token.detach().numpy() == 0)
    assert m.encoder.pos_embedding.shape == (1, 65, 32)
    out = m(ember.randn(2, 3, 32, 32))
    assert out.shape == (2, 5)
    _backward_reaches_all(m, out)
    with pytest.raises(ValueError, match="expected 32x32 images, got 28x28"):
        m(ember.randn(1, 3, 28, 28))
    with pytest.raises(ValueError, match="image_size \\(30\\) must be divisible by patch_size \\(4\\)"):
        zoo.vit(image_size=30)
