"""ember.onnx.load: parameters from the initializers, a forward that runs the graph with ember ops (values equal
onnxruntime's, gradients equal finite differences and PyTorch's), fine-tuning, clear errors; ember.onnx.backend."""
import numpy as np
import pytest

import ember
from ember import nn

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

RNG = np.random.default_rng(0)


def _init(rng, name, shape, dtype=np.float32):
    return numpy_helper.from_array((rng.standard_normal(shape) * 0.5).astype(dtype), name)


def mlp_model(dtype=np.float32):
    """x (N, 4) -> Gemm(fc1) -> Relu -> Gemm(fc2) -> (N, 3), initializers named as a PyTorch state_dict."""
    rng = np.random.default_rng(1)
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    nodes = [helper.make_node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["h"], transB=1),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "fc2.weight", "fc2.bias"], ["y"], transB=1)]
    inits = [_init(rng, "fc1.weight", (8, 4), dtype), _init(rng, "fc1.bias", (8,), dtype),
             _init(rng, "fc2.weight", (3, 8), dtype), _init(rng, "fc2.bias", (3,), dtype)]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", elem, ["N", 4])],
                              [helper.make_tensor_value_info("y", elem, ["N", 3])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def conv_model():
    """Conv -> BatchNormalization -> Relu -> MaxPool -> Flatten -> Gemm on (N, 2, 6, 6) inputs."""
    rng = np.random.default_rng(2)
    nodes = [helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "bn.weight", "bn.bias", "bn.running_mean",
                                                     "bn.running_var"], ["b"]),
             helper.make_node("Relu", ["b"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["y"], transB=1)]
    var = numpy_helper.from_array(rng.uniform(0.5, 1.5, 3).astype(np.float32), "bn.running_var")
    inits = [_init(rng, "conv.weight", (3, 2, 3, 3)), _init(rng, "conv.bias", (3,)), _init(rng, "bn.weight", (3,)),
             _init(rng, "bn.bias", (3,)), _init(rng, "bn.running_mean", (3,)), var,
             _init(rng, "fc.weight", (5, 27)), _init(rng, "fc.bias", (5,))]
    graph = helper.make_graph(nodes, "convnet", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                               ["N", 2, 6, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _onnxruntime(model, x):
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


def test_load_from_path_bytes_and_proto_gives_the_same_module(tmp_path):
    model = mlp_model()
    path = tmp_path / "mlp.onnx"
    onnx.save(model, str(path))
    x = RNG.standard_normal((5, 4)).astype(np.float32)
    outs = [ember.onnx.load(src)(ember.tensor(x)).detach().numpy() for src in (str(path), path, model.SerializeToString(),
                                                                      model)]
    for out in outs[1:]:
        np.testing.assert_array_equal(out, outs[0])


def test_initializers_become_named_trainable_parameters():
    m = ember.onnx.load(mlp_model())
    assert isinstance(m, nn.Module)
    names = dict(m.named_parameters())
    assert sorted(names) == ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in names.values())
    assert sorted(m.state_dict()) == sorted(names)
    init = {i.name: numpy_helper.to_array(i) for i in mlp_model().graph.initializer}
    np.testing.assert_array_equal(names["fc1.weight"].detach().numpy(), init["fc1.weight"])
    bn = ember.onnx.load(conv_model())
    assert "bn.running_var" in dict(bn.named_parameters())  # floating point initializers are all parameters


@pytest.mark.parametrize("build,shape", [(mlp_model, (5, 4)), (conv_model, (2, 2, 6, 6))])
def test_forward_equals_onnxruntime(build, shape):
    model = build()
    x = RNG.standard_normal(shape).astype(np.float32)
    y = ember.onnx.load(model)(ember.tensor(x))
    np.testing.assert_allclose(y.detach().numpy(), _onnxruntime(model, x), rtol=1e-5, atol=1e-5)


def test_input_gradient_matches_finite_differences():
    m = ember.onnx.load(conv_model())
    m.double()
    x = ember.tensor(RNG.standard_normal((2, 2, 6, 6)), dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(lambda t: m(t), (x,))
    mlp = ember.onnx.load(mlp_model(np.float64))
    x = ember.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    assert ember.autograd.gradcheck(lambda t: mlp(t), (x,))


def test_parameter_gradients_match_pytorch(torch):
    model = conv_model()
    m = ember.onnx.load(model)
    x = RNG.standard_normal((2, 2, 6, 6)).astype(np.float32)
    target = RNG.standard_normal((2, 5)).astype(np.float32)
    loss = ((m(ember.tensor(x)) - ember.tensor(target)) ** 2).mean()
    loss.backward()
    w = {i.name: torch.tensor(numpy_helper.to_array(i), requires_grad=True) for i in model.graph.initializer}
    tf = torch.nn.functional
    c = tf.conv2d(torch.tensor(x), w["conv.weight"], w["conv.bias"], padding=1)
    b = (c - w["bn.running_mean"][:, None, None]) / torch.sqrt(w["bn.running_var"][:, None, None] + 1e-5)
    b = b * w["bn.weight"][:, None, None] + w["bn.bias"][:, None, None]
    p = tf.max_pool2d(torch.relu(b), 2)
    y = tf.linear(p.flatten(1), w["fc.weight"], w["fc.bias"])
    ref = ((y - torch.tensor(target)) ** 2).mean()
    ref.backward()
    assert abs(loss.item() - ref.item()) < 1e-5
    for name, p_ in m.named_parameters():
        np.testing.assert_allclose(p_.grad.numpy(), w[name].grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=name)


def test_fine_tuning_an_imported_model_reduces_the_loss():
    m = ember.onnx.load(mlp_model())
    x = ember.tensor(RNG.standard_normal((16, 4)).astype(np.float32))
    target = ember.tensor(RNG.standard_normal((16, 3)).astype(np.float32))
    opt = ember.optim.SGD(m.parameters(), lr=0.05)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = nn.functional.mse_loss(m(x), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]
    # the trained weights are what the graph reads: a state_dict round trip gives the same outputs
    fresh = ember.onnx.load(mlp_model())
    fresh.load_state_dict(m.state_dict())
    np.testing.assert_array_equal(fresh(x).detach().numpy(), m(x).detach().numpy())


@pytest.mark.parametrize("op,domain,opset,message", [
    ("Bernoulli", "", 20, "unsupported ONNX op Bernoulli (opset 20)"),
    ("Gelu", "", 17, "unsupported ONNX op Gelu (opset 17)"),  # Gelu exists from opset 20 on
    ("MyOp", "com.example", 1, "unsupported ONNX op com.example::MyOp (opset 1)"),
])
def test_an_op_ember_lacks_is_named_with_its_opset(op, domain, opset, message):
    node = helper.make_node(op, ["x"], ["y"], domain=domain)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    opsets = [helper.make_opsetid("", 20 if domain else opset)] + ([helper.make_opsetid(domain, opset)] if domain
                                                                    else [])
    with pytest.raises(ember.onnx.UnsupportedOnnxOp) as caught:
        ember.onnx.load(helper.make_model(graph, opset_imports=opsets))
    assert str(caught.value) == message


def test_inputs_by_name_and_wrong_inputs_are_reported():
    m = ember.onnx.load(mlp_model())
    x = RNG.standard_normal((2, 4)).astype(np.float32)
    np.testing.assert_array_equal(m(x=x).detach().numpy(), m(x).detach().numpy())
    with pytest.raises(TypeError, match="no input named 'z'"):
        m(z=x)
    with pytest.raises(TypeError, match="missing inputs"):
        m()


def test_backend_module_functions():
    backend = ember.onnx.backend
    assert backend.supports_device("CPU") and not backend.supports_device("CUDA")
    a, b = np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(3, dtype=np.float32)
    (out,) = backend.run_node(helper.make_node("Add", ["a", "b"], ["c"]), [a, b])
    np.testing.assert_array_equal(out, a + b)
    x = RNG.standard_normal((2, 4)).astype(np.float32)
    rep = backend.prepare(mlp_model(), "CPU")
    np.testing.assert_allclose(rep.run([x])[0], backend.run_model(mlp_model(), [x])[0])
    np.testing.assert_allclose(rep.run([x])[0], _onnxruntime(mlp_model(), x), rtol=1e-5, atol=1e-6)


def test_a_model_exported_by_pytorch_matches_pytorch_in_values_and_gradients(torch):
    """Conv, BatchNorm, a transformer encoder layer, a bidirectional LSTM and Linear, exported by torch.onnx's
    TorchScript exporter: ember's outputs and gradients equal PyTorch's, under PyTorch's parameter names."""
    import io
    import warnings

    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
            self.bn = torch.nn.BatchNorm2d(8)
            self.enc = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
            self.lstm = torch.nn.LSTM(8, 6, batch_first=True, bidirectional=True)
            self.fc = torch.nn.Linear(12, 3)

        def forward(self, x):
            h = torch.nn.functional.max_pool2d(torch.relu(self.bn(self.conv(x))), 2)
            out, _ = self.lstm(self.enc(h.flatten(2).transpose(1, 2)))
            return self.fc(out.mean(1))

    net = Net().eval()
    with torch.no_grad():  # no two equal tensors: the exporter would merge them into one initializer
        for t in list(net.parameters()) + [net.bn.running_mean]:
            t.add_(torch.randn_like(t) * 0.1)
        net.bn.running_var.uniform_(0.5, 1.5)
    x = torch.randn(2, 3, 4, 4)
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), f, dynamo=False, input_names=["x"], opset_version=17,
                          do_constant_folding=False)
    m = ember.onnx.load(f.getvalue())
    xe = ember.tensor(x.numpy(), requires_grad=True)
    y = m(xe)
    xt = x.clone().requires_grad_(True)
    yt = net(xt)
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    (y ** 2).sum().backward()
    (yt ** 2).sum().backward()
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    params = dict(m.named_parameters())
    for name in ("conv.weight", "bn.weight", "enc.linear1.weight", "fc.weight", "fc.bias"):
        np.testing.assert_allclose(params[name].grad.numpy(), net.get_parameter(name).grad.numpy(),
                                   rtol=1e-4, atol=1e-5, err_msg=name)
